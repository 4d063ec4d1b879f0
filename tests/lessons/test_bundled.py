"""Every bundled lesson, run for several students, each answer found again another way.

The engine answers a question with a fact of the vocabulary. Here each answer
is worked out without it: from what tshark reads in the run's pcap files (an
independent dissector: frames, flags, HTTP status codes, DNS flags), from the
site's own files on disk, or from the raw events of the trace. A question
whose fact has no independent check here fails the test, so a new lesson
cannot slip in unchecked.
"""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

import pytest

from support import require_program
from webtrip.labs import demo_path
from webtrip.lessons import bundled_lessons, find_lesson
from webtrip.lessons.engine import StudentRun, student_run
from webtrip.lessons.format import Question
from webtrip.lessons.vocabulary import RunFacts, moment_index
from webtrip.report.pcap import capture_files
from webtrip.trace import (
    HttpCacheLookup,
    HttpRequestQueued,
    HttpRequestSent,
    HttpResponseCompleted,
    HttpResponseStarted,
    NameLookupFailed,
    NameLookupStarted,
    NameResolved,
    PacketCaptured,
    PageLoadFinished,
    PageLoadStarted,
    TcpConnectionOpened,
    TcpConnectStarted,
)

STUDENTS = ["ana-3b", "Luis G.", "t07"]
WEB = "10.0.0.3"
SITES = {"demo": demo_path("site")}


@cache
def lesson_run(lesson: str, student: str) -> StudentRun:
    return student_run(find_lesson(lesson), student)


FIELDS = ("frame.time_relative", "ip.src", "ip.dst", "tcp.stream", "tcp.srcport", "tcp.seq",
          "tcp.len", "tcp.flags.syn", "tcp.flags.ack", "tcp.flags.fin", "tcp.flags.reset",
          "dns.flags.response", "dns.flags.authoritative",
          "dns.count.answers", "dns.resp.name", "http.request", "http.request.uri",
          "http.response", "http.response.code", "http.response_for.uri")  # fmt: skip


class Wire:
    """tshark's reading of one run's pcap files: one tshark per node, every frame's fields."""

    def __init__(self, run: StudentRun, folder: Path) -> None:
        self.run, self.folder = run, folder
        self.program = require_program("tshark")
        self.tables: dict[str, list[dict[str, str]]] = {}

    def frames(self, node: str = "browser") -> list[dict[str, str]]:
        """Every frame at ``node``, in capture order: field → value ("" when absent)."""
        if node not in self.tables:
            path = self.folder / f"{node}.pcap"
            files = capture_files(self.run.trace, node, str(path))
            assert list(files) == [str(path)]
            path.write_bytes(files[str(path)])
            args = [self.program, "-n", "-o", "tcp.relative_sequence_numbers:FALSE", "-r",
                    str(path), "-T", "fields", *[x for f in FIELDS for x in ("-e", f)]]  # fmt: skip
            done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True)
            start = next(e.t for e in self.run.trace.of_type(PacketCaptured)
                         if e.actor == node and e.direction in ("in", "out"))  # fmt: skip
            self.tables[node] = [{**dict(zip(FIELDS, line.split("\t"), strict=True)),
                                  "node.start": str(start)}
                                 for line in done.stdout.splitlines()]  # fmt: skip
        return self.tables[node]

    def time(self, frame: dict[str, str]) -> float:
        """The frame's time on the trace's clock (pcap times count from the node's first frame)."""
        return float(frame["frame.time_relative"]) + float(frame["node.start"])


def _on(value: str) -> bool:
    return value in ("1", "True")


def _kind(frame: dict[str, str], earlier: dict[tuple[str, str], str]) -> str:
    """A frame's kind in the replay's words, read from tshark's fields; a TCP segment sent
    again is the kind of its first copy (``earlier``: (stream, sequence) → kind)."""
    if frame["dns.flags.response"]:
        if not _on(frame["dns.flags.response"]):
            return "dns-query"
        return "dns-answer" if frame["dns.count.answers"] not in ("", "0") else "dns-referral"
    if _on(frame["tcp.flags.syn"]):
        return "syn-ack" if _on(frame["tcp.flags.ack"]) else "syn"
    if _on(frame["tcp.flags.reset"]):
        return "rst"
    if _on(frame["tcp.flags.fin"]):
        return "fin"
    if frame["http.request"]:
        return "request"
    if frame["http.response"]:
        return "response"
    if frame["tcp.len"] not in ("", "0"):
        return earlier.get((frame["tcp.stream"], frame["tcp.seq"]), "data")
    return "ack"


def _loads(run: StudentRun) -> list[float]:
    return [e.t for e in run.trace.of_type(PageLoadStarted)]


def _in_load(run: StudentRun, t: float, load: int) -> bool:
    starts = [*_loads(run), float("inf")]
    return starts[load - 1] - 1e-6 <= t < starts[load] - 1e-6


def _requests(wire: Wire, load: int | None = None) -> list[dict[str, str]]:
    return [f for f in wire.frames() if f["http.request"] and f["ip.src"] != WEB
            and (load is None or _in_load(wire.run, wire.time(f), load))]  # fmt: skip


def _path(uri: str) -> str:
    return uri.split("webtrip.test", 1)[-1] or "/"


def _handshake(wire: Wire, stream: str) -> float:
    syns = [wire.time(f) for f in wire.frames()
            if f["tcp.stream"] == stream and _on(f["tcp.flags.syn"])]  # fmt: skip
    return syns[1] - syns[0]


def _exchange(wire: Wire, file: str, load: int) -> tuple[str, float, list[dict[str, str]]]:
    """A file's TCP stream (tshark's, found by the browser's port of its connection), when
    its request left, and the server's segments carrying bytes on that stream since."""
    run = wire.run
    url = "http://www.webtrip.test" + file
    request = next(e.request for e in run.trace.of_type(HttpRequestQueued)
                   if e.actor == "browser" and e.url == url
                   and _in_load(run, e.t, load))  # fmt: skip
    sent = next(e for e in run.trace.of_type(HttpRequestSent)
                if e.actor == "browser" and e.request == request)  # fmt: skip
    port = next(str(e.local[1]) for e in run.trace.of_type(TcpConnectionOpened)
                if e.actor == "browser" and e.connection == sent.connection)  # fmt: skip
    stream = next(f["tcp.stream"] for f in wire.frames() if f["tcp.srcport"] == port)
    rows = [f for f in wire.frames() if f["tcp.stream"] == stream and f["ip.src"] == WEB
            and f["tcp.len"] not in ("", "0") and wire.time(f) >= sent.started - 1e-6]  # fmt: skip
    return stream, sent.started, rows


def _moment_order(run: StudentRun, moment: str) -> int:
    """Where ``moment`` is in the trace, found from the raw events (not the vocabulary)."""
    name, _colon, argument = moment.partition(":")
    number = int(argument) if argument.isdigit() else 1
    events = list(enumerate(run.trace.events))

    def first(test: object) -> int:
        return next(i for i, e in events if getattr(e, "actor", "") == "browser" and test(e))  # type: ignore[operator]

    if name == "name-resolved":
        return first(lambda e: isinstance(e, NameResolved))
    if name == "lookup-start":
        return first(lambda e: isinstance(e, NameLookupStarted))
    if name == "syn":
        return first(lambda e: isinstance(e, TcpConnectStarted) and e.connection == number)
    if name == "connection-open":
        return first(lambda e: isinstance(e, TcpConnectionOpened) and e.connection == number)
    if name == "page-loaded":
        return first(lambda e: isinstance(e, PageLoadFinished))
    if name == "asked":
        address = RunFacts(run.trace).address_of(argument)
        return next(i for i, e in events if isinstance(e, PacketCaptured) and e.actor == argument
                    and e.direction == "in" and _is_dns_query(e.data, address))  # fmt: skip
    wanted = "http://www.webtrip.test" + argument
    request = next(e.request for _i, e in events
                   if isinstance(e, HttpRequestQueued) and e.url == wanted)  # fmt: skip
    kind = {"request": HttpRequestSent, "response": HttpResponseStarted,
            "complete": HttpResponseCompleted}[name]  # fmt: skip
    return first(lambda e: isinstance(e, kind) and e.request == request)


def _is_dns_query(data: bytes, address: str) -> bool:
    from webtrip.packets.dissect import dissect

    packet = dissect(data)
    return packet.udp is not None and packet.destination_port == 53


def independent(run: StudentRun, question: Question, wire: Wire) -> object:
    """The answer to ``question`` in ``run``, worked out without the vocabulary."""
    p = question.params
    file, load = str(p.get("file", "/")), int(p.get("load", 1))
    name = question.answer if question.type != "ordering" else "ordering"
    frames = wire.frames()
    if name == "status":
        # Read where the server sent it: a lost first copy never reached the browser.
        return next(f["http.response.code"] for f in wire.frames("web") if f["http.response"]
                    and _path(f["http.response_for.uri"]) == file
                    and _in_load(run, wire.time(f), load))  # fmt: skip
    if name == "handshake_ms":
        streams = sorted({int(f["tcp.stream"]) for f in frames if _on(f["tcp.flags.syn"])})
        return _handshake(wire, str(streams[int(p.get("connection", 1)) - 1])) * 1000
    if name == "connections":
        return len({f["tcp.stream"] for f in frames
                    if _on(f["tcp.flags.syn"]) and _on(f["tcp.flags.ack"])})  # fmt: skip
    if name == "requests":
        return len(_requests(wire))
    if name == "network_requests":
        return len(_requests(wire, load))
    if name == "dns_questions":
        node = str(p.get("server") or "browser")
        return sum(1 for f in wire.frames(node) if f["dns.flags.response"]
                   and not _on(f["dns.flags.response"])
                   and (node != "browser" or f["ip.src"] == "10.0.0.1"))  # fmt: skip
    if name == "lookup_ms":
        started = run.trace.of_type(NameLookupStarted)[0].t
        ended = [e.t for e in run.trace.events if isinstance(e, NameResolved | NameLookupFailed)
                 and e.actor == "browser"]  # fmt: skip
        return (ended[0] - started) * 1000
    if name == "page_load_ms":
        return (run.trace.of_type(PageLoadFinished)[load - 1].t - _loads(run)[load - 1]) * 1000
    if name == "file_size":
        site = SITES.get(run.lesson.world.lab_name, run.lesson.source.parent / "site")
        return (Path(site) / file.lstrip("/")).stat().st_size
    if name in ("segments", "largest_segment", "round_trips"):
        stream, since, rows = _exchange(wire, file, load)
        if name == "segments":
            return len(rows)
        if name == "largest_segment":
            return max(int(f["tcp.len"]) for f in rows)
        return max(1, round((wire.time(rows[-1]) - since) / _handshake(wire, stream)))
    if name == "cache_outcome":
        asked = [f["http.request.uri"] for f in _requests(wire, load)]
        stored = {e.outcome for e in run.trace.of_type(HttpCacheLookup)
                  if e.url.endswith(file) and _in_load(run, e.t, load)}  # fmt: skip
        assert len(stored) == 1
        outcome = stored.pop()
        assert (file in asked) == (outcome != "fresh"), (file, asked, outcome)
        return outcome
    if name == "ordering":
        return sorted(question.items, key=lambda item: _moment_order(run, item))
    if name == "next_packet":
        moment = moment_index(RunFacts(run.trace), str(p["after"]))
        before = sum(1 for e in run.trace.events[: moment + 1]
                     if isinstance(e, PacketCaptured) and e.actor == "browser"
                     and e.direction in ("in", "out"))  # fmt: skip
        earlier: dict[tuple[str, str], str] = {}
        for frame in frames[:before]:
            if frame["tcp.len"] not in ("", "0"):
                earlier.setdefault((frame["tcp.stream"], frame["tcp.seq"]), _kind(frame, {}))
        return _kind(frames[before], earlier)
    if name == "lost_packets":
        return sum(1 for e in run.trace.of_type(PacketCaptured)
                   if e.direction == "drop"
                   and e.reason.startswith("lost on the link"))  # fmt: skip
    if name == "retransmissions":
        # A segment leaving the web server with a sequence number it already sent (bytes,
        # SYN or FIN), as tshark reads the server's own capture.
        finished = run.trace.of_type(PageLoadFinished)[0].t
        seen: set[tuple[str, str]] = set()
        again = 0
        for f in wire.frames("web"):
            if f["ip.src"] != WEB or not (f["tcp.len"] not in ("", "0") or _on(f["tcp.flags.syn"])
                                          or _on(f["tcp.flags.fin"])):  # fmt: skip
                continue
            key = (f["tcp.stream"], f["tcp.seq"])
            again += key in seen and wire.time(f) <= finished
            seen.add(key)
        return again
    if name == "referral_to":
        zone = str(p["zone"]).rstrip(".")
        sender = next(f["ip.src"] for f in wire.frames("resolver")
                      if _on(f["dns.flags.response"]) and not _on(f["dns.flags.authoritative"])
                      and zone in f["dns.resp.name"].split(","))  # fmt: skip
        return RunFacts(run.trace).host_of(sender)
    raise AssertionError(f"no independent check for {name}: add one")


LESSONS = sorted(bundled_lessons())


def test_at_least_eight_lessons_come_with_webtrip_in_english_and_spanish():
    assert len(LESSONS) >= 8
    for name in LESSONS:
        lesson = find_lesson(name)
        assert lesson.languages == ("en", "es"), name
        kinds = {q.type for q in lesson.questions}
        assert len(kinds) >= 2, f"{name}: one kind of question only"


@pytest.mark.peer("tshark")
@pytest.mark.parametrize("student", STUDENTS)
@pytest.mark.parametrize("name", LESSONS)
def test_each_answer_is_the_one_the_trace_shows_another_way(name, student, tmp_path):
    run = lesson_run(name, student)
    wire = Wire(run, tmp_path)
    for question in run.lesson.questions:
        got = run.answers[question.id]
        other = independent(run, question, wire)
        if isinstance(got, float):
            # pcap times keep microseconds; the trace keeps more.
            assert got == pytest.approx(float(other), abs=0.01), question.id  # type: ignore[arg-type]
        else:
            assert got == other, f"{name}/{student}: {question.id}: {got!r} ≠ {other!r}"
