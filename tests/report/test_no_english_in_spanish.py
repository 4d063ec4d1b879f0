"""A run in Spanish shows no English: its help, its mistakes, its narration and its views.

Each command is run in Spanish (``--lang es``, or a Spanish LANG) and what it
shows is read as a learner reads it. What is not language is taken out first —
URLs, host and file names, numbers, protocol words (DNS, SYN, GET, ``200 OK``:
the protocol's own bytes), option names, the page's own title — and the words
left are checked against a list of English words that Spanish never uses. A
word found names the sentence it was in, so that the fix is easy to find.

Exempt, because they are data rather than sentences: the HAR file, the pcap,
the packet lists' Wireshark columns (tshark's own format, not localised) and
the page's own text (``--no-render``).
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from webtrip.cli import cli
from webtrip.report.html import embedded_data

# English words a Spanish sentence never contains (none is also a Spanish word: no
# "a", "no", "me", "has", "error", "resolver"), common enough to catch English left over.
ENGLISH = frozenset([
    "the", "and", "of", "to", "is", "are", "was", "were", "be", "been", "being", "it", "its",
    "this", "that", "these", "those", "which", "who", "what", "when", "where", "why", "how",
    "with", "from", "by", "for", "on", "at", "in", "into", "onto", "over", "under", "after",
    "before", "than", "then", "there", "their", "they", "them", "he", "she", "his", "her",
    "you", "your", "we", "our", "not", "or", "but", "if", "so", "as", "an", "do", "does",
    "did", "done", "has", "had", "have", "having", "will", "would", "can", "could", "should",
    "may", "might", "must", "shall", "about", "only", "also", "each", "every", "some", "any",
    "all", "more", "most", "other", "such", "same", "very", "just", "because", "while",
    "until", "again", "once", "here", "both", "either", "neither", "nor", "own", "too", "page",
    "pages", "request", "requests", "answer", "answers", "answered", "server", "servers",
    "connection", "connections", "loaded", "load", "sent", "send", "received", "receive",
    "packets", "packet", "seconds", "second", "file", "files", "name", "names", "address",
    "addresses", "question", "questions", "browser", "lookup", "failed", "failure", "found",
    "could", "cannot", "took", "time", "round", "trip", "segment", "segments", "show", "shows",
    "print", "write", "help", "usage", "options", "commands", "missing", "invalid", "value",
    "try", "mean",
])  # fmt: skip

REMOVED = [
    re.compile(r"\w+://\S+"),  # URLs
    re.compile(r"«[^»]*»|“[^”]*”|\"[^\"]*\""),  # the page's own title, quoted text
    re.compile(r"'[^']*'"),  # what the user typed, as click quotes it
    re.compile(r"\((?:blocked|dns|connect|ssl|send|wait|receive)\)"),  # HAR's phase names
    re.compile(r"\b[1-5]\d\d(?: [A-Z][\w-]*)+"),  # a status and its reason: 404 Not Found
    re.compile(r"\b[A-Z][a-z]*(?:-[A-Z][a-z]*)+\b"),  # header names: If-None-Match, Accept-Language
    re.compile(r"--?[\w-]+"),  # option names
    re.compile(r"\S*[./:@=_#]\S*"),  # host names, file names, addresses, paths, examples
    re.compile(r"\b[A-Z0-9][A-Z0-9-]+\b"),  # protocol words, record types, metavars
    re.compile(r"\d+"),
]


def english_in(text: str) -> list[str]:
    """The English words left in ``text`` once what is not language is taken out, each
    with the line it was found in."""
    found = []
    for line in text.splitlines():
        cleaned = line
        for pattern in REMOVED:
            cleaned = pattern.sub(" ", cleaned)
        words = {w.lower() for w in re.findall(r"[^\W\d_]+", cleaned)}
        found += [f"{word}: {line.strip()}" for word in sorted(words & ENGLISH)]
    return found


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    environment = {"NO_COLOR": "1", "COLUMNS": "120", "LANG": "C.UTF-8", "LANGUAGE": ""}
    result = CliRunner().invoke(cli, list(args), env=environment | (env or {}), prog_name="webtrip")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def narration_and_views(output: str) -> str:
    """What a run printed, without the packet list's rows (Wireshark's columns); the
    list's title is kept."""
    kept = []
    for line in output.splitlines():
        kept.append(line)
        if line.startswith("Paquetes en "):
            break
    return "\n".join(kept)


def test_the_detector_finds_english_and_lets_spanish_and_protocol_words_through():
    assert english_in("The browser asked the DNS server") != []
    spanish = (
        "El navegador ha preguntado al servidor DNS 10.0.0.53:53 por www.webtrip.test: "
        "ha respondido 404 Not Found al cabo de 43 ms (GET /, SYN, ACK) «How the web works», "
        "con las cabeceras If-None-Match e If-Modified-Since"
    )
    assert english_in(spanish) == []
    assert "if: it asked if it had changed" in english_in("it asked if it had changed")


COMMANDS = [
    [], ["demo"], ["browse"], ["sim"], ["report"], ["dns"], ["dns", "serve"],
    ["dns", "resolver"], ["dns", "query"], ["web"], ["web", "serve"],
]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "webtrip")
def test_every_help_is_in_spanish(command):
    done = run(*command, "--help", "--lang", "es")
    assert done.exit_code == 0, done.output
    assert english_in(done.output) == []


def test_the_help_follows_a_spanish_lang_too():
    done = run("sim", "--help", env={"LANG": "es_ES.UTF-8"})
    assert "Uso: webtrip sim [OPCIONES]" in done.output
    assert english_in(done.output) == []


@pytest.mark.parametrize(
    "mistake",
    [
        ["sim", "--nope"],
        ["sim", "--seed"],
        ["sim", "--loss", "abc"],
        ["sim", "--loss", "100"],
        ["sim", "--bandwidth", "0"],
        ["sim", "--latency", "soon"],
        ["report", "missing-trace.json"],
        ["dns", "query"],
        ["no-such-command"],
    ],
    ids=lambda m: " ".join(m),
)
def test_a_mistake_is_told_in_spanish(mistake):
    done = run(*mistake, env={"LANG": "es_ES.UTF-8"})
    assert done.exit_code != 0
    assert "Traceback" not in done.output
    assert english_in(done.output) == []


@pytest.mark.parametrize(
    "options",
    [
        [],
        ["--drop", "synack"],
        ["--reload"],
        ["--at", "resolver"],
        ["http://nowhere.webtrip.test/"],
        ["--dns-silent"],
        ["http://www.webtrip.test:81/"],
    ],
    ids=lambda o: " ".join(o) or "plain",
)
def test_a_simulated_run_is_narrated_in_spanish(options):
    done = run("sim", "--lang", "es", "--no-render", *options)
    shown = narration_and_views(done.output)
    assert "Paso 1 — DNS" in shown, done.output
    assert english_in(shown) == []


@pytest.fixture(scope="module")
def views(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The HTML report and the mermaid diagram of a Spanish run that lost a SYN-ACK."""
    folder = tmp_path_factory.mktemp("views")
    page, diagram = folder / "run.html", folder / "run.mmd"
    done = run("sim", "--lang", "es", "--no-render", "--no-packets", "--drop", "synack",
               "--report", str(page), "--mermaid", str(diagram))  # fmt: skip
    assert done.exit_code == 0, done.output
    return page, diagram


def test_the_html_report_is_in_spanish(views):
    text = re.sub(r"<script.*?</script>|<style.*?</style>|<[^>]+>", " ",
                  views[0].read_text(), flags=re.S)  # fmt: skip
    assert english_in(html.unescape(text)) == []


def replay_data(page: Path) -> dict[str, Any]:
    data = embedded_data(page.read_text())
    assert data is not None
    return data


def test_the_html_replays_labels_are_in_spanish(views):
    labels = replay_data(views[0])["words"]["es"]
    text = "\n".join(str(value) for value in labels.values())
    assert english_in(re.sub(r"\{\w+\}", " ", text)) == []  # placeholders are no words


def test_the_html_replays_actors_and_events_are_in_spanish(views):
    """The lanes' headers are the actors' names in Spanish, and every event (packets
    too) is a Spanish sentence; the raw names and fields stay in the data for developers."""
    data = replay_data(views[0])
    shown = [
        *(actor["name"]["es"] for actor in data["actors"]),
        *(event["text"]["es"] for event in data["events"]),
    ]
    assert english_in("\n".join(shown)) == []


# Mermaid's own syntax, which is not language: declarations, notes' places, parallel blocks.
MERMAID_SYNTAX = re.compile(
    r"^\s*(?:participant \S+ as|Note (?:over|left of|right of) [^:]+:|sequenceDiagram|"
    r"flowchart \w+|par\b|and\b|end\b|rect\b.*|autonumber)",
    flags=re.M,
)


@pytest.mark.parametrize("style", ["sequence", "flowchart"])
@pytest.mark.parametrize("options", [["--drop", "synack"], ["--dns-silent"], ["--reload"]])
def test_the_mermaid_diagram_is_in_spanish(tmp_path, options, style):
    diagram = tmp_path / "run.mmd"
    done = run("sim", "--lang", "es", "--no-render", "--no-packets", *options,
               "--mermaid", str(diagram), "--mermaid-style", style)  # fmt: skip
    assert diagram.exists(), done.output  # written whether the page loaded or not
    text = diagram.read_text()
    assert "Navegador" in text
    assert english_in(MERMAID_SYNTAX.sub(" ", text)) == []


def test_the_demo_on_loopback_is_narrated_in_spanish():
    done = run("demo", "--no-render", env={"LANG": "es_ES.UTF-8"})
    assert done.exit_code == 0, done.output
    assert "Paso 1 — DNS" in done.output
    assert english_in(done.output) == []


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_sim_help_lists_every_network_profile_with_its_values(language):
    from webtrip.i18n import milliseconds, translation
    from webtrip.lab.profiles import PROFILES

    done = run("sim", "--help", "--lang", language)
    _ = translation(language).gettext
    heading = _("Network profiles (--network NAME; round trip, download speed):")
    assert heading in done.output
    listed = done.output.partition(heading)[2].splitlines()
    for profile in PROFILES.values():
        line = next(line for line in listed if line.split()[:1] == [profile.name])
        assert line.split(maxsplit=1)[1].startswith(milliseconds(profile.rtt * 1000, language))
        assert f"({_(profile.source)})" in line
