"""The mermaid view: a sequence diagram whose every line mermaid's grammar accepts.

The validator below checks each line against the statements of mermaid's
sequence-diagram grammar that the view uses (participant, message arrows,
notes, par/and/loop/alt/else/end blocks), that text has no raw ``;`` or
``#`` (mermaid reads them as statement end and entity start), that every
participant is declared before use and that blocks are balanced.
"""

from __future__ import annotations

import asyncio
import re

import pytest

from support import run_webtrip as webtrip
from webtrip.report.mermaid import escape, mermaid_from_trace
from webtrip.trace import HttpRequestSent, NameResolved, ResolverStep, Trace

ID = r"[A-Za-z][A-Za-z0-9_]*"
TEXT = r"(?:[^#;\n]|#\w+;)+"  # no raw '#' or ';': only entity codes like #59;
ARROW = r"(?:->>|-->>|->|-->|-x|--x|-\)|--\))"
PARTICIPANT = re.compile(rf"participant ({ID})(?: as ({TEXT}))?")
MESSAGE = re.compile(rf"({ID}){ARROW}[+-]?({ID}): ?({TEXT})")
NOTE = re.compile(rf"Note (?:over ({ID})(?:,({ID}))?|left of ({ID})|right of ({ID})): ?({TEXT})")
OPEN = re.compile(rf"(par|loop|alt|opt|critical|rect)(?: ({TEXT}))?")
MIDDLE = re.compile(rf"(and|else|option)(?: ({TEXT}))?")


def validate(diagram: str) -> list[str]:
    """Problems with ``diagram`` as a mermaid sequence diagram ([] when it is valid)."""
    problems: list[str] = []
    lines = diagram.splitlines()
    if not lines or lines[0] != "sequenceDiagram":
        return ["the first line must be 'sequenceDiagram'"]
    declared: set[str] = set()
    blocks: list[str] = []
    for number, raw in enumerate(lines[1:], 2):
        line = raw.strip()
        if not line or line.startswith("%%"):
            continue
        if not raw.startswith(" "):
            problems.append(f"line {number}: statements are indented: {raw!r}")
        if match := PARTICIPANT.fullmatch(line):
            declared.add(match.group(1))
            continue
        used: tuple[str | None, ...]
        if match := MESSAGE.fullmatch(line):
            used = (match.group(1), match.group(2))
        elif match := NOTE.fullmatch(line):
            used = match.groups()[:4]
        elif match := OPEN.fullmatch(line):
            blocks.append(match.group(1))
            continue
        elif match := MIDDLE.fullmatch(line):
            expected = {"and": "par", "else": "alt", "option": "critical"}[match.group(1)]
            if not blocks or blocks[-1] != expected:
                problems.append(f"line {number}: {match.group(1)!r} outside a {expected} block")
            continue
        elif line == "end":
            if not blocks:
                problems.append(f"line {number}: 'end' closes nothing")
            else:
                blocks.pop()
            continue
        else:
            problems.append(f"line {number}: not a sequence-diagram statement: {raw!r}")
            continue
        for ident in used:
            if ident is not None and ident not in declared:
                problems.append(f"line {number}: {ident} is not a declared participant")
    if blocks:
        problems.append(f"unclosed blocks: {blocks}")
    return problems


def test_the_validator_catches_what_mermaid_rejects():
    assert validate("graph TD\n") != []
    good = "sequenceDiagram\n    participant B as Browser\n    Note over B: hello\n"
    assert validate(good) == []
    assert validate(good + "    B->>X: who?\n") != []  # undeclared
    assert validate(good + "    Note over B: a; b\n") != []  # raw ';'
    assert validate(good + "    par one\n    Note over B: x\n") != []  # unclosed
    assert validate(good + "    and two\n") != []
    assert validate(good + "    B->>B: fine #59; really\n") == []


def test_escape_keeps_text_inside_one_statement():
    assert escape("a;b#c") == "a#59;b#35;c"
    assert escape("two\nlines") == "two lines"
    assert re.fullmatch(TEXT, escape("Accept: text/html;q=0.9, #frag"))


@pytest.fixture(scope="module")
def demo_trace() -> Trace:
    from webtrip.cli.demo import run_demo

    trace, (load,) = asyncio.run(run_demo("en"))
    assert load.error is None
    return trace


@pytest.fixture(scope="module")
def sim_trace() -> Trace:
    done = webtrip("sim", "--json")
    assert done.returncode == 0, done.stderr
    return Trace.from_json(done.stdout)


@pytest.fixture(scope="module")
def failed_trace() -> Trace:
    done = webtrip("sim", "--dns-silent", "--json")
    return Trace.from_json(done.stdout)


@pytest.fixture(params=["demo_trace", "sim_trace", "failed_trace"])
def trace(request: pytest.FixtureRequest) -> Trace:
    return request.getfixturevalue(request.param)


def test_the_diagram_is_valid_mermaid(trace):
    diagram = mermaid_from_trace(trace)
    assert diagram.startswith("sequenceDiagram\n") and diagram.endswith("\n")
    assert validate(diagram) == []
    assert "```" not in diagram  # safe inside a fenced block


def _participants(diagram: str) -> dict[str, str]:
    found = {}
    for line in diagram.splitlines():
        if match := PARTICIPANT.fullmatch(line.strip()):
            found[match.group(1)] = match.group(2) or match.group(1)
    return found


def test_dns_and_http_arrows_and_the_handshake(trace):
    diagram = mermaid_from_trace(trace)
    people = _participants(diagram)
    asked = [
        i
        for i, label in people.items()
        if label.startswith(("Resolver", "Root server", "DNS server"))
    ]
    assert asked and people["B"] == "Browser"
    assert re.search(rf"^ +B->>{asked[0]}: query A www\.webtrip\.test\?", diagram, re.M)
    if trace.of_type(ResolverStep):
        # The resolver's walk under the browser's question: root, .test, webtrip.test.
        resolver, root, tld, site = asked[:4]
        assert people[resolver].startswith("Resolver ") and people[root].startswith("Root server")
        assert people[tld].startswith("DNS server of .test")
        assert people[site].startswith("DNS server of webtrip.test")
        for server in (root, tld, site):
            assert re.search(
                rf"^ +{resolver}->>{server}: query A www\.webtrip\.test\?", diagram, re.M
            )
        assert re.search(
            rf"^ +{root}-->>{resolver}: referral for www\.webtrip\.test: ask test\.", diagram, re.M
        )
        assert re.search(rf"^ +{site}-->>{resolver}: answer A www\.webtrip\.test = ", diagram, re.M)
    if trace.of_type(NameResolved):
        assert re.search(r"-->>B: answer A www\.webtrip\.test = \S+ \(NOERROR", diagram)
    sent = [e for e in trace.of_type(HttpRequestSent) if e.actor == "browser"]
    requests = re.findall(r"^ +B->>W\d+: GET (\S+) HTTP/1\.1", diagram, re.M)
    assert len(requests) == len(sent)
    responses = re.findall(r"^ +W\d+-->>B: (\d{3}) ", diagram, re.M)
    assert len(responses) == len(sent)
    new = sum(1 for e in sent if not e.reused)
    assert len(re.findall(r"->>W\d+: SYN to port", diagram)) == new
    assert len(re.findall(r"W\d+-->>B: SYN-ACK$", diagram, re.M)) == new


def test_parallel_requests_on_different_connections_are_in_a_par_block(trace):
    diagram = mermaid_from_trace(trace)
    sent = [e for e in trace.of_type(HttpRequestSent) if e.actor == "browser"]
    if len({e.connection for e in sent}) < 2:
        assert "par " not in diagram
        return
    lines = [line.strip() for line in diagram.splitlines()]
    start = lines.index(next(line for line in lines if line.startswith("par ")))
    stop = lines.index("end", start)
    block = lines[start:stop]
    branches = [line for line in block if line.startswith(("par ", "and "))]
    assert len(branches) >= 2
    assert sum(1 for line in block if re.match(r"B->>W\d+: GET ", line)) >= 2


def test_packets_are_summarised(sim_trace):
    diagram = mermaid_from_trace(sim_trace)
    assert re.search(r"Note over B,W1: \d+ packets, \d+ bytes between the browser", diagram)
    assert re.search(r"Note over B,W1: connection 1: \d+ segments out", diagram)


def test_the_mermaid_file_is_the_view_of_the_saved_trace(tmp_path):
    done = webtrip("sim", "--json", "--no-packets", "--mermaid", "m.mmd", cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "m.mmd").read_text() == mermaid_from_trace(Trace.from_json(done.stdout))
