"""Each fact of the lessons' vocabulary, checked against the trace another way.

Where a fact is about packets, tshark reads the run's pcap files (an independent
dissector); where it is about what an actor did, the raw events are read
directly. The runs are the bundled lessons' worlds for a few students, so the
facts are checked on the numbers students really get.
"""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

import pytest

from support import require_program
from webtrip.lessons import find_lesson
from webtrip.lessons.engine import StudentRun, student_run
from webtrip.lessons.vocabulary import (
    FACTS,
    FactError,
    RunFacts,
    facts_table,
    moment_index,
    moments_table,
)
from webtrip.packets.dissect import dissect
from webtrip.report.pcap import capture_files
from webtrip.trace import (
    HttpCacheLookup,
    NameLookupStarted,
    NameResolved,
    PacketCaptured,
    PageLoadFinished,
    PageLoadStarted,
    TcpConnectStarted,
)

DOCS = Path(__file__).parents[2] / "docs"
WEB, ROOT = "10.0.0.3", "192.0.2.1"
PHOTO = "/img/astronaut.jpg"


@cache
def lesson_run(lesson: str, student: str) -> StudentRun:
    return student_run(find_lesson(lesson), student)


def tshark(run: StudentRun, node: str, tmp_path: Path, *args: str) -> list[str]:
    program = require_program("tshark")
    path = tmp_path / f"{node}.pcap"
    files = capture_files(run.trace, node, str(path))
    assert list(files) == [str(path)]
    path.write_bytes(files[str(path)])
    done = subprocess.run([program, "-n", "-r", str(path), *args], capture_output=True,
                          text=True, timeout=60, check=True)  # fmt: skip
    return done.stdout.splitlines()


def fact(run: StudentRun, name: str, **params: str | int) -> object:
    return FACTS[name](RunFacts(run.trace), **params)


STUDENTS = ["ana-3b", "Luis G.", "t07"]


@pytest.mark.peer("tshark")
@pytest.mark.parametrize("student", STUDENTS)
def test_handshake_ms_is_the_syn_to_syn_ack_time_tshark_sees(student, tmp_path):
    run = lesson_run("walk-from-root", student)
    lines = tshark(run, "browser", tmp_path, "-Y", "tcp.flags.syn == 1 && tcp.stream == 0",
                   "-T", "fields", "-e", "frame.time_relative")  # fmt: skip
    syn, syn_ack = (float(x) for x in lines[:2])
    assert fact(run, "handshake_ms", connection=1) == pytest.approx(
        (syn_ack - syn) * 1000, abs=1e-3
    )


@pytest.mark.peer("tshark")
@pytest.mark.parametrize("student", STUDENTS)
def test_dns_questions_to_the_root_are_the_queries_in_the_roots_capture(student, tmp_path):
    run = lesson_run("walk-from-root", student)
    queries = tshark(run, "root", tmp_path, "-Y", "dns.flags.response == 0")
    assert fact(run, "dns_questions", server="root") == len(queries) > 0


@pytest.mark.peer("tshark")
def test_referral_to_test_comes_from_the_address_tshark_sees_sending_it(tmp_path):
    run = lesson_run("walk-from-root", "ana-3b")
    lines = tshark(run, "resolver", tmp_path, "-Y",
                   'dns.flags.response == 1 && dns.flags.authoritative == 0 && dns.ns && '
                   'dns.resp.name == "test"', "-T", "fields", "-e", "ip.src")  # fmt: skip
    assert lines and set(lines) == {ROOT}
    assert fact(run, "referral_to", zone="test.") == "root"
    assert fact(run, "referral_from", server="root") == "test."


@pytest.mark.peer("tshark")
@pytest.mark.parametrize("student", STUDENTS)
def test_segments_of_the_photo_are_the_data_segments_on_its_connection(student, tmp_path):
    run = lesson_run("lossy-cafe", student)
    stream = tshark(run, "browser", tmp_path, "-Y", f'http.request.uri == "{PHOTO}"',
                    "-T", "fields", "-e", "tcp.stream")  # fmt: skip
    segments = tshark(run, "browser", tmp_path, "-Y",
                      f"tcp.stream == {stream[0]} && ip.src == {WEB} && tcp.len > 0")  # fmt: skip
    assert fact(run, "segments", file=PHOTO, sender="server", load=1) == len(segments)


@pytest.mark.peer("tshark")
def test_file_size_as_sent_is_the_content_length_tshark_reads(tmp_path):
    run = lesson_run("lossy-cafe", "ana-3b")
    lengths = tshark(run, "browser", tmp_path, "-Y", "http.response", "-T", "fields",
                     "-e", "http.response_for.uri", "-e", "http.content_length",
                     "-e", "http.response.code")  # fmt: skip
    photo = next(line.split("\t") for line in lengths if line.split("\t")[0].endswith(PHOTO))
    assert fact(run, "file_size", file=PHOTO, as_sent=1, load=1) == int(photo[1])
    assert fact(run, "status", file=PHOTO, load=1) == int(photo[2])


@pytest.mark.parametrize("student", STUDENTS)
def test_lost_packets_are_the_drops_the_lossy_link_made(student):
    run = lesson_run("lossy-cafe", student)
    drops = [e for e in run.trace.of_type(PacketCaptured)
             if e.direction == "drop" and e.reason.startswith("lost on the link")]  # fmt: skip
    assert fact(run, "lost_packets", kind="") == len(drops)


@pytest.mark.parametrize("student", STUDENTS)
def test_retransmissions_by_the_server_are_sequence_numbers_it_sent_twice(student):
    run = lesson_run("lossy-cafe", student)
    web = run.lesson.world.lab.web_host
    finished = run.trace.of_type(PageLoadFinished)[0].t
    seen: set[tuple[int, int, int]] = set()
    again = 0
    for event in run.trace.of_type(PacketCaptured):
        if event.actor == web and event.direction == "out":
            tcp = dissect(event.data).tcp
            if tcp is not None and (tcp.payload_size or {"SYN", "FIN"} & set(tcp.flags)):
                key = (tcp.source_port, tcp.destination_port, tcp.sequence)
                again += key in seen and event.t <= finished
                seen.add(key)
    assert fact(run, "retransmissions", sender="server") == again


def test_page_load_ms_is_from_the_load_starting_to_it_finishing():
    run = lesson_run("lossy-cafe", "t07")
    start = run.trace.of_type(PageLoadStarted)[0].t
    end = run.trace.of_type(PageLoadFinished)[0].t
    assert fact(run, "page_load_ms") == pytest.approx((end - start) * 1000, abs=1e-3)


def test_the_walk_is_ordered_as_the_events_happened():
    run = lesson_run("walk-from-root", "ana-3b")
    order = run.answers["walk_order"]
    facts = RunFacts(run.trace)
    times = [run.trace.events[moment_index(facts, item)].t for item in order]
    assert times == sorted(times)
    lookup = run.trace.of_type(NameLookupStarted)[0].t
    syn = run.trace.of_type(TcpConnectStarted)[0].t
    assert times[0] == lookup and times[-1] == syn


@pytest.mark.peer("tshark")
def test_the_packet_after_the_address_arrives_is_the_first_syn(tmp_path):
    run = lesson_run("walk-from-root", "ana-3b")
    resolved = run.trace.of_type(NameResolved)[0].t
    assert run.answers["after_address"] == "syn"
    first = next(e.t for e in run.trace.of_type(PacketCaptured) if e.actor == "browser")
    lines = tshark(run, "browser", tmp_path, "-T", "fields", "-e", "frame.time_relative",
                   "-e", "tcp.flags.syn", "-e", "dns.flags.response")  # fmt: skip
    frames = [line.split("\t") for line in lines]
    # The address arrives with the last DNS answer up to that instant (pcap keeps µs).
    answer = max(i for i, f in enumerate(frames)
                 if f[2] == "1" and float(f[0]) <= resolved - first + 2e-6)  # fmt: skip
    assert frames[answer + 1][1] == "1"  # the next frame is a SYN


def test_cache_outcome_reads_the_browsers_decision():
    from dataclasses import replace

    lesson = find_lesson("walk-from-root")
    reloaded = replace(lesson, world=replace(lesson.world, reload=True), questions=())
    run = student_run(reloaded, "ana-3b")
    lookups = {(e.request, e.outcome) for e in run.trace.of_type(HttpCacheLookup)}
    facts = RunFacts(run.trace)
    second = FACTS["cache_outcome"](facts, file="/style.css", load=2)
    request = facts.request_of("/style.css", 2)
    assert (request, second) in lookups
    assert FACTS["cache_outcome"](facts, file="/style.css", load=1) == "miss"


def test_a_fact_the_run_cannot_give_says_why():
    run = lesson_run("walk-from-root", "ana-3b")
    with pytest.raises(FactError, match=r"never asked for /nothing\.png"):
        fact(run, "status", file="/nothing.png", load=1)
    with pytest.raises(FactError, match=r"no host named 'mars'"):
        fact(run, "dns_questions", server="mars")


def test_every_fact_has_a_definition_and_the_docs_print_the_generated_tables():
    for item in FACTS.values():
        assert item.definition, item.name
    for page in ("lessons.md", "lessons-es.md"):
        text = (DOCS / page).read_text(encoding="utf-8")
        assert facts_table() in text, page
        assert moments_table() in text, page
