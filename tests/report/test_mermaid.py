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
from webtrip.i18n import milliseconds
from webtrip.i18n import number as in_language
from webtrip.packets.ipv4 import addresses
from webtrip.report.mermaid import escape, mermaid_flowchart, mermaid_from_trace
from webtrip.trace import (
    DnsMessageDropped,
    HttpRequestSent,
    HttpResponseCompleted,
    NameResolved,
    PacketCaptured,
    ResolverStep,
    TcpConnectionOpened,
    Trace,
)
from webtrip.trace.events import DROP

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


@pytest.fixture(scope="module")
def synack_trace() -> Trace:
    done = webtrip("sim", "--drop", "synack", "--json")
    assert done.returncode == 0, done.stderr
    return Trace.from_json(done.stdout)


LOSS = ("--loss", "10%", "--seed", "3")  # loses a SYN, a data segment, FINs and an ACK


@pytest.fixture(scope="module")
def loss_trace() -> Trace:
    done = webtrip("sim", *LOSS, "--json")
    assert done.returncode == 0, done.stderr
    return Trace.from_json(done.stdout)


TRACES = ["demo_trace", "sim_trace", "failed_trace", "synack_trace", "loss_trace"]


@pytest.fixture(params=TRACES)
def trace(request: pytest.FixtureRequest) -> Trace:
    return request.getfixturevalue(request.param)


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_diagram_is_valid_mermaid(trace, language):
    diagram = mermaid_from_trace(trace, language=language)
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
    assert re.search(rf"^ +B-(?:>>|x){asked[0]}: query A www\.webtrip\.test\?", diagram, re.M)
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
    assert re.search(r"Note over B,W1: [\d,]+ packets, [\d,]+ bytes between the browser", diagram)
    assert re.search(r"Note over B,W1: connection 1: \d+ segments out", diagram)


def test_the_mermaid_file_is_the_view_of_the_saved_trace(tmp_path):
    done = webtrip("sim", "--json", "--no-packets", "--mermaid", "m.mmd", cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "m.mmd").read_text() == mermaid_from_trace(Trace.from_json(done.stdout))


# --- the router, and the faults drawn where the trace has them ----------------------------

CROSSED = re.compile(r"^ +(\w+)-x(\w+): (.*)$", re.M)


def _browser(trace: Trace) -> set[str]:
    return {e.data and addresses(e.data)[0] for e in trace.of_type(PacketCaptured)
            if e.actor == "browser" and e.direction == "out"}  # fmt: skip


def _drops(trace: Trace) -> list[PacketCaptured]:
    """The packets to or from the browser that the simulated network threw away."""
    browser = _browser(trace)
    return [
        e for e in trace.of_type(PacketCaptured)
        if e.direction == DROP and browser & set(addresses(e.data) or ())
    ]  # fmt: skip


def test_crossed_arrows_are_exactly_the_trace_s_losses_and_unanswered_questions(trace):
    diagram = mermaid_from_trace(trace)
    unanswered = [e for e in trace.of_type(DnsMessageDropped) if e.peer[0] in _browser(trace)]
    assert len(CROSSED.findall(diagram)) == len(_drops(trace)) + len(unanswered)


def test_a_clean_run_has_no_crossed_arrow_and_no_retransmission(sim_trace):
    diagram = mermaid_from_trace(sim_trace)
    assert not CROSSED.search(diagram)
    assert "sent again" not in diagram and "retransmission" not in diagram


def test_the_router_is_drawn_between_the_browser_and_the_servers_in_a_simulated_run(sim_trace):
    diagram = mermaid_from_trace(sim_trace)
    people = list(_participants(diagram).items())
    assert people[0] == ("B", "Browser") and people[1] == ("R", "Internet (router)")
    forwarded = re.search(r"Note over R: the router passed on (\d+) packets", diagram)
    assert forwarded and int(forwarded.group(1)) > 0


def test_a_real_world_run_has_no_router_and_no_crossed_arrow(demo_trace):
    diagram = mermaid_from_trace(demo_trace)
    assert "R" not in _participants(diagram) and "Internet" not in diagram
    assert not CROSSED.search(diagram)


def test_a_dropped_synack_is_crossed_where_it_was_lost_and_the_syn_is_sent_again(synack_trace):
    diagram = mermaid_from_trace(synack_trace)
    (drop,) = _drops(synack_trace)
    assert drop.actor == "router"  # lost on the link from the router to the browser
    lost = milliseconds(drop.t * 1000, "en")
    (crossed,) = CROSSED.findall(diagram)
    assert crossed == (
        "R", "B", f"SYN-ACK lost at {lost}: dropped on purpose by the --drop fault"
    )  # fmt: skip
    again = re.search(
        r"^ +B->>W1: SYN sent again at ([\d,]+ ms), retransmission after a timeout: "
        r"no acknowledgement ([\d,]+ ms) after the first$",
        diagram,
        re.M,
    )
    assert again and again.group(2) == "1,000 ms"
    # In order: the SYN, its SYN-ACK lost, the SYN again, then the handshake ends.
    lines = diagram.splitlines()
    order = [
        next(i for i, line in enumerate(lines) if text in line)
        for text in ("B->>W1: SYN to port 80 (connection 1)", "R-xB: SYN-ACK", "SYN sent again",
                     "connection 1 open in")
    ]  # fmt: skip
    assert order == sorted(order)


def test_random_losses_say_where_and_that_a_retransmission_followed(loss_trace):
    diagram = mermaid_from_trace(loss_trace)
    crossed = CROSSED.findall(diagram)
    drops = _drops(loss_trace)
    browser = _browser(loss_trace)
    # Lost leaving the browser: between it and the router; lost coming to it: after the router.
    expected = sorted(("B", "R") if addresses(d.data)[0] in browser else ("R", "B") for d in drops)
    assert sorted((here, there) for here, there, _text in crossed) == expected
    assert all("lost at random on the link (--loss)" in text for _h, _t, text in crossed)
    # The first data segment the server lost on the way is sent again, later in the diagram.
    lost = re.search(r"^ +R-xB: data segment \(([\d,]+) bytes\) lost at", diagram, re.M)
    assert lost, "the seed loses one of the server's data segments"
    again = re.compile(rf"^ +W1->>B: data segment \({lost.group(1)} bytes\) sent again at", re.M)
    assert again.search(diagram, lost.end())


def test_an_unanswered_dns_question_is_crossed(failed_trace):
    diagram = mermaid_from_trace(failed_trace)
    crossed = CROSSED.findall(diagram)
    assert crossed and all(here == "B" and there == "D1" for here, there, _ in crossed)
    assert all(
        re.fullmatch(r"query A+ www\.webtrip\.test\? \(udp, 45 bytes\) — no answer: .*", text)
        for _h, _t, text in crossed
    )


def test_the_spanish_diagram_has_spanish_labels_and_numbers(synack_trace):
    diagram = mermaid_from_trace(synack_trace, language="es")
    people = _participants(diagram)
    assert people["B"] == "Navegador" and people["W1"] == "Servidor web 10.0.0.3"
    assert people["D1"].startswith("Resolutor ") and people["D2"].startswith("Servidor raíz")
    assert "R-xB: SYN-ACK perdido a los 112 ms: descartado a propósito por el fallo --drop" in (
        diagram
    )
    assert "recepción 0,00 ms" in diagram  # Spain's decimal comma
    assert re.search(r"SYN reenviado a los \d{4} ms, retransmisión por tiempo de espera", diagram)
    for english in ("Browser", " lost ", "query ", "answer ", "packets", "bytes between",
                    "sent again", "connection ", "page loaded", "open in"):  # fmt: skip
        assert english not in diagram, english


# --- the four steps' picture ----------------------------------------------------------------

NODE = re.compile(r'(\w+)(?:\["(?P<box>[^"]*)"\]|\(\("(?P<circle>[^"]*)"\)\))')
EDGE = re.compile(r'(\w+) (-->|--x)(?:\|"([^"]*)"\|)? (\w+)')


def flowchart(diagram: str) -> tuple[dict[str, str], list[tuple[str, str, str, str]]]:
    """The nodes (id: label) and edges (from, arrow, label, to) of a flowchart; asserts that
    every line is one of the two and that labels hold no raw ``;`` or ``#``."""
    lines = diagram.splitlines()
    assert lines[0] == "flowchart LR" and diagram.endswith("\n")
    nodes: dict[str, str] = {}
    edges = []
    for line in lines[1:]:
        assert line.startswith("    "), line
        if match := NODE.fullmatch(line.strip()):
            nodes[match.group(1)] = match.group("box") or match.group("circle")
        elif match := EDGE.fullmatch(line.strip()):
            edges.append((match.group(1), match.group(2), match.group(3) or "", match.group(4)))
            assert {match.group(1), match.group(4)} <= set(nodes), line
        else:
            raise AssertionError(f"not a flowchart statement: {line!r}")
        assert not re.search(r"[#;]", re.sub(r"#\w+;", "", line)), line
    return nodes, edges


def _files(trace: Trace) -> tuple[int, int]:
    done = [e for e in trace.of_type(HttpResponseCompleted) if e.actor == "browser"]
    return len(done), sum(e.wire_size for e in done)


def _packets_each_way(trace: Trace) -> tuple[int, int]:
    server = {e.peer[0] for e in trace.of_type(TcpConnectionOpened) if e.actor == "browser"}
    out = back = 0
    for event in trace.of_type(PacketCaptured):
        ends = addresses(event.data)
        if event.actor == "browser" and ends is not None:
            out += event.direction == "out" and ends[1] in server
            back += event.direction == "in" and ends[0] in server
    return out, back


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", ("Client – Browser", "DNS server", "Internet (router)", "Web server",
                "1. where is www.webtrip.test?", "requests on {} connections", "files")),
        ("es", ("Cliente – Navegador", "Servidor DNS", "Internet (router)", "Servidor web",
                "1. ¿dónde está www.webtrip.test?", "peticiones en {} conexiones", "archivos")),
    ],
)  # fmt: skip
def test_the_flowchart_is_the_four_steps_with_the_run_s_values(sim_trace, language, words):
    nodes, edges = flowchart(mermaid_flowchart(sim_trace, language=language))
    (resolved,) = [e for e in sim_trace.of_type(NameResolved) if e.actor == "browser"]
    assert nodes["C"].endswith("<br/>10.0.0.1") and nodes["D"].endswith("<br/>10.0.0.53")
    assert nodes["S"].endswith("<br/>10.0.0.3")
    text = " ".join([*nodes.values(), *(label for _f, _a, label, _t in edges)])
    # The browser's own connections, as the trace has them (the demo page took 5 with its photo).
    connections = sum(1 for e in sim_trace.of_type(TcpConnectionOpened) if e.actor == "browser")
    for word in words:
        assert word.format(connections) in text, word
    assert [(f, t) for f, _a, _l, t in edges] == [
        ("C", "D"), ("D", "C"), ("C", "I"), ("I", "S"), ("S", "I"), ("I", "C")
    ]  # fmt: skip
    assert (
        f"www.webtrip.test {'is' if language == 'en' else 'es'} {resolved.addresses[0]}"
        in (edges[1][2])
    )
    count, size = _files(sim_trace)
    assert edges[4][2].startswith(f"4. {count} ") and in_language(size, language) in edges[4][2]
    out, back = _packets_each_way(sim_trace)
    packets = "packets" if language == "en" else "paquetes"
    assert f"{out} {packets}" in edges[2][2] and f"{back} {packets}" in edges[5][2]
    assert all(arrow == "-->" for _f, arrow, _l, _t in edges)  # nothing lost: nothing crossed


def test_the_flowchart_counts_what_was_lost_and_sent_again(loss_trace):
    nodes, edges = flowchart(mermaid_flowchart(loss_trace, language="es"))
    lost = len(_drops(loss_trace))
    assert f"{lost} paquetes perdidos" in nodes["I"]
    assert re.search(r"\d+ segmentos? reenviados?", nodes["I"])
    assert all(arrow == "-->" for _f, arrow, _l, _t in edges)


def test_the_flowchart_of_a_silent_dns_server_stops_at_the_unanswered_question(failed_trace):
    nodes, edges = flowchart(mermaid_flowchart(failed_trace))
    assert set(nodes) == {"C", "D"}
    ((source, arrow, label, target),) = edges
    asked = sum(1 for e in failed_trace.events if e.actor == "browser"
                and type(e).__name__ == "DnsMessageSent")  # fmt: skip
    assert (source, arrow, target) == ("C", "--x", "D")
    assert label.endswith(f"<br/>{asked} questions, no answer")


def test_a_real_world_flowchart_has_the_internet_but_no_router(demo_trace):
    nodes, edges = flowchart(mermaid_flowchart(demo_trace))
    assert nodes["I"] == "Internet"
    assert re.search(r"\d+ packets", edges[2][2])  # the kernel's counts (TCP_INFO)


def test_mermaid_style_flowchart_writes_the_picture_in_the_run_s_language(tmp_path):
    args = ("sim", *LOSS, "--json", "--no-packets", "--lang", "es", "--mermaid-style", "flowchart")
    first = webtrip(*args, "--mermaid", "a.mmd", cwd=str(tmp_path))
    second = webtrip(*args, "--mermaid", "b.mmd", cwd=str(tmp_path))
    assert first.returncode == second.returncode == 0, first.stderr
    written = (tmp_path / "a.mmd").read_text()
    assert written == mermaid_flowchart(Trace.from_json(first.stdout), language="es")
    assert written == (tmp_path / "b.mmd").read_text()  # same seed, same picture
    assert "Cliente – Navegador" in written


def test_an_unknown_mermaid_style_is_a_usage_error(tmp_path):
    done = webtrip("sim", "--mermaid", "m.mmd", "--mermaid-style", "pie", cwd=str(tmp_path))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "'pie' is not one of 'sequence', 'flowchart'" in done.stderr
    assert not (tmp_path / "m.mmd").exists()
