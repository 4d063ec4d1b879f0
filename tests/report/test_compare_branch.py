"""What-if branches: the same world twice, equal up to the moment of the change.

A branch is only honest if run B is run A up to the change, byte for byte — random
draws included (one seeded ``random.Random`` serves every link, port and DNS ID), so
a change must not draw differently before its moment.
"""

from __future__ import annotations

import json

import pytest

from webtrip import branching, lab
from webtrip.lab import sim
from webtrip.lab.faults import parse_what_if
from webtrip.report.facts import packet_kind
from webtrip.trace import Trace
from webtrip.trace.events import IN, PacketCaptured


def events_json(trace: Trace) -> list[str]:
    return [json.dumps(e, sort_keys=True) for e in json.loads(trace.to_json())["events"]]


def assert_equal_up_to_the_change(result: branching.Branch) -> None:
    a, b = events_json(result.trace_a), events_json(result.trace_b)
    shared = result.shared_events
    assert 0 < shared < len(a)
    assert a[:shared] == b[:shared]
    assert a != b


@pytest.mark.parametrize(
    ("at", "change"),
    [
        ("40", "drop synack"),
        ("0.1s", "latency=60ms"),
        ("0.1s", "bandwidth=1mbit"),
        ("120", "loss=20%"),
        ("100", "silent web"),
        ("100", "slow web=200ms"),
        ("0.05s", "delay http-response=300ms"),
        ("0.1s", "flush-dns"),
    ],
)
def test_a_branch_is_the_run_byte_for_byte_up_to_its_moment(at, change):
    result = branching.branch(lab.demo_lab(), 1, at, change)
    assert_equal_up_to_the_change(result)
    assert result.comparison.branch is not None
    assert result.comparison.first is not None
    assert result.comparison.first.t >= result.at_t - 1e-9  # nothing differs before it


def test_a_change_at_an_event_is_made_right_after_that_event():
    result = branching.branch(lab.demo_lab(), 1, "40", "latency=100ms")
    moment = result.trace_a.events[40].t
    assert result.at_t == pytest.approx(moment)
    assert result.shared_events >= 41


def test_raising_the_loss_of_a_lossy_link_draws_nothing_differently_before_the_change():
    """The link already loses 5 % at random; from 0.2 s it loses 30 %. Every random draw
    before 0.2 s — losses, ports, DNS IDs, sequence numbers — stays as it was."""
    lossy = sim.LinkConditions(loss=0.05)
    result = branching.branch(lab.demo_lab(), 3, "0.2s", "loss=30%", lossy)
    assert_equal_up_to_the_change(result)
    before = [e for e in result.trace_b.events[: result.shared_events] if e.t < 0.2]
    assert len(before) == len([e for e in result.trace_a.events if e.t < 0.2])


@pytest.mark.parametrize(("at", "change", "loads"), [("60", "drop http-response", 1),
                                                     ("0.3s", "flush-dns", 2)])  # fmt: skip
def test_a_branch_is_deterministic(at, change, loads):
    first = branching.branch(lab.demo_lab(), 5, at, change, loads=loads)
    second = branching.branch(lab.demo_lab(), 5, at, change, loads=loads)
    assert first.trace_b.to_json() == second.trace_b.to_json()
    assert first.comparison.to_json() == second.comparison.to_json()


def test_a_reload_flushed_is_the_run_byte_for_byte_up_to_its_moment():
    assert_equal_up_to_the_change(branching.branch(lab.demo_lab(), 1, "0.3s", "flush-dns", loads=2))


def test_a_what_if_drop_counts_packets_from_its_moment():
    """ "drop synack" at a moment after the first SYN-ACK drops the next one, not the first."""
    plain = sim.run(lab.demo_lab(), 1).world.trace
    synacks = [e for e in plain.events if isinstance(e, PacketCaptured) and e.actor == "browser"
               and e.direction == IN and packet_kind(e.data) == "synack"]  # fmt: skip
    after_first = plain.events.index(synacks[0])
    result = branching.branch(lab.demo_lab(), 1, str(after_first), "drop synack")
    lost = [d for d in result.comparison.differences if d.field == "fate" and d.kind == "packet"]
    assert len(lost) == 1
    assert lost[0].t == pytest.approx(synacks[1].t - 0.020, abs=0.01)  # sent, one latency before


def test_the_story_of_a_branch_starts_at_its_moment():
    comparison = branching.branch(lab.demo_lab(), 1, "40", "drop synack").comparison
    sentences = comparison.to_json("en")["story"]
    assert sentences[0].startswith("Run B is run A branched at ")
    assert "drop synack" in sentences[0]
    spanish = comparison.to_json("es")["story"][0]
    assert spanish.startswith("La ejecución B es la A bifurcada a los ")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("drop synack", "write at=EVENT or at=TIME"),
        ("at=soon, drop synack", "neither an event's number nor a time"),
        ("at=3, drop nothing", "is not a packet filter"),
        ("at=3, louder web", "is not a change a what-if can make"),
        ("at=3, flush-dns now", "is not a change a what-if can make"),
        ("at=3, bandwidth=0", "a link's speed must be above 0"),
        ("at=3, loss=150%", "'loss=150%'"),
    ],
)
def test_a_what_if_that_cannot_be_read_says_why(text, words):
    with pytest.raises(ValueError) as raised:
        parse_what_if(text)
    assert words in str(raised.value)


def test_the_moment_must_be_inside_the_run():
    with pytest.raises(lab.LabError, match="the run has events 0 to"):
        branching.branch(lab.demo_lab(), 1, "100000", "drop syn")
    with pytest.raises(lab.LabError, match="is not a host of the lab"):
        branching.branch(lab.demo_lab(), 1, "10", "silent nowhere")


def test_a_lost_dns_answer_is_asked_again_and_told_with_the_wait():
    result = branching.branch(lab.demo_lab(), 1, "2", "drop dns-response")
    story = result.comparison.to_json("en")["story"]
    first = result.comparison.first
    assert first is not None and first.kind == "packet" and first.b == "lost"
    asked = [s for s in story if "no answer had come, so at" in s]
    assert len(asked) == 1
    again = [
        d for d in result.comparison.differences
        if d.change == "only_b" and d.kind == "packet" and d.key[1] == "browser"
    ]  # fmt: skip
    assert len(again) == 1 and f"at {again[0].t:.3f} s the browser asked again" in asked[0]


def test_a_silent_server_sends_nothing_the_browser_receives_after_the_moment():
    result = branching.branch(lab.demo_lab(), 1, "100", "silent web")
    web = lab.demo_lab().address_of("web").split("/")[0]
    late = [
        e for e in result.trace_b.events
        if isinstance(e, PacketCaptured) and e.actor == "browser" and e.direction == IN
        and e.t > result.at_t and e.data[12:16] == bytes(int(x) for x in web.split("."))
    ]  # fmt: skip
    assert late == []
    assert result.comparison.to_json()["summary"][-1]["b"] == "timeout"  # the page failed


def test_a_slow_server_sends_every_packet_that_much_later():
    result = branching.branch(lab.demo_lab(), 1, "100", "slow web=200ms")
    shifts = {
        round(float(d.b) - float(d.a), 3)  # type: ignore[arg-type]
        for d in result.comparison.differences
        if d.kind == "packet" and d.field == "t" and d.key[1] == "peer"
    }
    assert min(shifts) == 0.2  # the first of its packets after the change: 200 ms late
