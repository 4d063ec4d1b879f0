"""A real load's own packets, picked from a capture by the flows its trace opened."""

from __future__ import annotations

from webtrip.lab.capture import captured_events, completed_checksum, flows_of, merge_packets
from webtrip.net.capture import CapturedFrame
from webtrip.packets.dissect import dissect
from webtrip.packets.ipv4 import encode_datagram
from webtrip.packets.tcp_segment import Flags, TcpSegment
from webtrip.packets.udp import UdpDatagram
from webtrip.trace import DnsMessageSent, TcpConnectionOpened, TcpConnectStarted, Trace
from webtrip.trace.events import IN, OUT, PacketCaptured

BROWSER, SERVER, RESOLVER, STRANGER = "10.0.0.2", "10.0.1.80", "10.0.1.53", "10.0.0.9"


def tcp(source, sport, destination, dport, flags=Flags.ACK):
    segment = TcpSegment(sport, dport, 1, 1, flags, 65535).encode(source, destination)
    return encode_datagram(source, destination, 6, segment, 64, 1, True)


def udp(source, sport, destination, dport):
    datagram = UdpDatagram(sport, dport, b"q").encode(source, destination)
    return encode_datagram(source, destination, 17, datagram, 64, 1, True)


def frame(trace, t, data):
    return CapturedFrame(trace.wall_start + t, "eth0", False, data)


def a_trace():
    trace = Trace(lambda: 0.0, wall_start=1000.0)
    trace.record(DnsMessageSent(0.01, "browser", "udp", ("0.0.0.0", 5000), (RESOLVER, 53), b""))
    trace.record(TcpConnectStarted(0.02, "browser", 1, (SERVER, 80), 1))
    trace.record(TcpConnectionOpened(0.03, "browser", (BROWSER, 40000), (SERVER, 80), 1))
    trace.record(DnsMessageSent(0.04, "resolver", "udp", ("0.0.0.0", 6000), ("1.2.3.4", 53), b""))
    return trace


def test_the_flows_are_the_connections_and_dns_messages_the_actor_opened():
    flows = flows_of(a_trace(), {"browser"})
    assert [(f.protocol, f.local_host, f.local_port, f.peer_host, f.peer_port) for f in flows] == [
        (17, "", 5000, RESOLVER, 53),
        (6, BROWSER, 40000, SERVER, 80),
    ]


def test_only_the_actors_flows_are_kept_each_with_its_direction():
    trace = a_trace()
    frames = [
        frame(trace, 0.011, udp(BROWSER, 5000, RESOLVER, 53)),
        frame(trace, 0.012, udp(RESOLVER, 53, BROWSER, 5000)),
        frame(trace, 0.021, tcp(BROWSER, 40000, SERVER, 80, Flags.SYN)),
        frame(trace, 0.022, tcp(STRANGER, 40000, SERVER, 80, Flags.SYN)),  # someone else's
        frame(trace, 0.023, tcp(BROWSER, 40001, SERVER, 80, Flags.SYN)),  # not in the trace
        frame(trace, 0.024, udp(BROWSER, 6000, "1.2.3.4", 53)),  # the resolver's
    ]
    events = captured_events(frames, trace, "browser", flows_of(trace, {"browser"}))
    assert [(round(e.t, 3), e.direction) for e in events] == [
        (0.011, OUT), (0.012, IN), (0.021, OUT),
    ]  # fmt: skip
    assert {e.actor for e in events} == {"browser"} and {e.interface for e in events} == {"eth0"}


def test_a_connection_that_never_opened_keeps_its_syns_and_the_answer():
    trace = Trace(lambda: 0.0, wall_start=1000.0)
    trace.record(TcpConnectStarted(0.5, "browser", 1, (SERVER, 81), 1))
    frames = [
        frame(trace, 0.4, tcp(BROWSER, 40002, SERVER, 81, Flags.SYN)),  # before the attempt
        frame(trace, 0.51, tcp(BROWSER, 40003, SERVER, 81, Flags.SYN)),
        frame(trace, 0.52, tcp(SERVER, 81, BROWSER, 40003, Flags.RST | Flags.ACK)),
    ]
    events = captured_events(frames, trace, "browser", flows_of(trace, {"browser"}))
    assert [(round(e.t, 2), e.direction) for e in events] == [(0.51, OUT), (0.52, IN)]


def test_a_checksum_left_to_the_card_is_completed_as_the_receiver_checks_it():
    for good in (tcp(BROWSER, 40000, SERVER, 80), udp(BROWSER, 5000, RESOLVER, 53)):
        at = 20 + (16 if good[9] == 6 else 6)
        partial = good[:at] + b"\x12\x34" + good[at + 2 :]
        assert completed_checksum(partial) == good
        dissect(completed_checksum(partial))  # the views' strict decoder takes it


def test_packets_are_merged_among_the_events_in_time_order():
    trace = a_trace()
    packet = PacketCaptured(0.025, "browser", "eth0", OUT, tcp(BROWSER, 40000, SERVER, 80))
    merge_packets(trace, [packet])
    assert [e.t for e in trace] == [0.01, 0.02, 0.025, 0.03, 0.04]
