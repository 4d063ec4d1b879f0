"""The trace: events are recorded with the run's clock and survive a JSON round trip."""

from __future__ import annotations

import pytest

from webtrip.trace import (
    NULL_TRACE,
    DnsMessageReceived,
    DnsMessageSent,
    TcpConnectionClosed,
    Trace,
)

QUERY = bytes.fromhex(
    "12340100000100000000000003777777076578616d706c65047465737400000100 01".replace(" ", "")
)


def test_now_is_relative_to_the_start_on_the_given_clock():
    ticks = iter([100.0, 100.25])
    trace = Trace(clock=lambda: next(ticks))
    assert trace.now() == 0.25


def test_listeners_see_events_even_when_not_kept():
    trace = Trace(keep=False)
    seen = []
    trace.subscribe(seen.append)
    event = TcpConnectionClosed(0.5, "srv", ("127.0.0.1", 53), ("127.0.0.1", 4000), 1, "idle")
    trace.record(event)
    assert seen == [event] and len(trace) == 0


def test_the_null_trace_records_nothing():
    NULL_TRACE.record(TcpConnectionClosed(0.0, "x", ("::1", 1), ("::1", 2), 1, "done"))
    assert len(NULL_TRACE) == 0


def test_dns_events_decode_their_message():
    event = DnsMessageReceived(0.1, "srv", "udp", ("127.0.0.1", 53), ("127.0.0.1", 5000), QUERY)
    assert event.message.question[0].name.to_text() == "www.example.test."
    assert event.size == len(QUERY)


def test_a_malformed_message_is_kept_and_decodes_to_none():
    event = DnsMessageReceived(0.1, "srv", "udp", ("127.0.0.1", 53), ("127.0.0.1", 5000), b"\x00")
    assert event.message is None and event.wire == b"\x00"


def test_json_round_trip_keeps_every_event_exactly():
    trace = Trace(clock=lambda: 0.0, wall_start=1_700_000_000.0)
    trace.record(DnsMessageReceived(0.1, "srv", "udp", ("127.0.0.1", 53), ("::1", 5000), QUERY))
    trace.record(DnsMessageSent(0.2, "srv", "tcp", ("127.0.0.1", 53), ("::1", 5000), QUERY, 0.1))
    trace.record(TcpConnectionClosed(0.3, "srv", ("127.0.0.1", 53), ("::1", 5000), 7, "idle"))
    loaded = Trace.from_json(trace.to_json())
    assert loaded.events == trace.events
    assert loaded.wall_start == trace.wall_start


@pytest.mark.parametrize(
    "text",
    ["not json", "[]", '{"webtrip_trace": 99}', '{"webtrip_trace": 1, "events": [{"type": "X"}]}'],
)
def test_loading_something_else_raises_one_clear_value_error(text):
    with pytest.raises(ValueError):
        Trace.from_json(text)


def test_the_trace_package_exports_every_event_type_by_name():
    """Event types are the trace's API: each is importable from webtrip.trace, by name."""
    import webtrip.trace
    from webtrip.trace.events import event_types

    assert set(event_types()) <= set(webtrip.trace.__all__)
    assert all(getattr(webtrip.trace, name) is kind for name, kind in event_types().items())
