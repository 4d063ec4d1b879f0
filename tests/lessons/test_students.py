"""Each student's own numbers: the same code gives the same run, another code another."""

from __future__ import annotations

from webtrip.lessons import find_lesson
from webtrip.lessons.engine import normalized_code, student_run, student_world
from webtrip.report.pcap import capture_files


def pcap_of(lesson: str, student: str) -> bytes:
    run = student_run(find_lesson(lesson), student)
    return capture_files(run.trace, "browser", "x.pcap")["x.pcap"]


def test_a_students_code_gives_the_same_trace_bytes_every_time():
    lesson = find_lesson("lossy-cafe")
    first, again = student_run(lesson, "ana-3b"), student_run(lesson, "ana-3b")
    assert first.trace.to_json() == again.trace.to_json()
    assert pcap_of("lossy-cafe", "ana-3b") == pcap_of("lossy-cafe", "ana-3b")


def test_the_code_is_read_as_a_teacher_types_it():
    lesson = find_lesson("walk-from-root")
    assert normalized_code("  Ana-3B ") == normalized_code("ana-3b")
    assert student_world(lesson, " Ana-3B") == student_world(lesson, "ana-3b")


def test_two_students_get_different_numbers():
    lesson = find_lesson("walk-from-root")
    worlds = {student_world(lesson, f"s{n:02}") for n in range(20)}
    latencies = {w.conditions.latency for w in worlds}
    assert len({w.seed for w in worlds}) == 20
    assert len(latencies) > 10
    assert all(latency is not None and 0.010 <= latency <= 0.060 for latency in latencies)
    ana, bob = student_run(lesson, "ana"), student_run(lesson, "bob")
    assert ana.answers["handshake"] != bob.answers["handshake"]


def test_the_varied_loss_stays_within_the_lessons_range():
    lesson = find_lesson("lossy-cafe")
    for n in range(30):
        world = student_world(lesson, f"student-{n}")
        assert world.conditions.loss is not None and 0.03 <= world.conditions.loss <= 0.08
        assert world.conditions.latency == 0.030  # fixed by the lesson


def test_a_new_version_of_the_lesson_deals_new_numbers():
    from dataclasses import replace

    lesson = find_lesson("walk-from-root")
    newer = replace(lesson, version=lesson.version + 1)
    assert student_world(lesson, "ana").seed != student_world(newer, "ana").seed
