"""A real capture holds one node's packets only: what it received is still a message."""

from __future__ import annotations

from webtrip.packets.ipv4 import encode_datagram
from webtrip.packets.tcp_segment import Flags, TcpSegment
from webtrip.report.flights import flights_and_messages
from webtrip.trace import Trace
from webtrip.trace.events import IN, OUT, PacketCaptured

BROWSER, SERVER = "10.0.0.1", "10.0.0.3"


def tcp(source, sport, destination, dport, flags):
    segment = TcpSegment(sport, dport, 1, 1, flags, 65535).encode(source, destination)
    return encode_datagram(source, destination, 6, segment, 64, 1, True)


def test_a_packet_only_seen_arriving_is_a_message_from_its_sender_that_arrived_then():
    trace = Trace(lambda: 0.0, wall_start=0.0)
    syn = tcp(BROWSER, 40000, SERVER, 80, Flags.SYN)
    syn_ack = tcp(SERVER, 80, BROWSER, 40000, Flags.SYN | Flags.ACK)
    trace.record(PacketCaptured(0.1, "browser", "eth0", OUT, syn))
    trace.record(PacketCaptured(0.14, "browser", "eth0", IN, syn_ack))
    index_of = {id(e): i for i, e in enumerate(trace.events)}
    flights, messages = flights_and_messages(trace, index_of)
    assert [(m["from"], m["to"], m["kind"]) for m in messages] == [
        ("browser", SERVER, "syn"),
        (SERVER, "browser", "syn-ack"),
    ]
    answer = flights[messages[1]["flights"][0]]
    assert answer["arrived"] == answer["sent"] == 0.14 and answer["lost"] is None
