"""Property-based tests: random and mutated packets never break the server.

For any bytes at all, the server either drops them or answers with a valid
DNS response carrying the same ID, quickly — and a normal query is still
answered correctly afterwards.
"""

from __future__ import annotations

import socket
import time

import dns.flags
import dns.message
import dns.query
import dns.rcode
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support import ZONES, mutate_dns_message, webtrip_dns_server
from webtrip.dns.authority import Authority
from webtrip.dns.protocol import TCP, UDP
from webtrip.dns.zones import ZoneSet, load_zone

AUTHORITY = Authority(ZoneSet([load_zone(ZONES / "example.test.zone")]))
NAMES = ["www.example.test", "alias.example.test", "a.wild.example.test", "x.child.example.test"]
TYPES = ["A", "AAAA", "MX", "TXT", "ANY", "SOA", "NS", "CNAME", "DS"]


@st.composite
def valid_queries(draw) -> bytes:
    query = dns.message.make_query(
        draw(st.sampled_from(NAMES)),
        draw(st.sampled_from(TYPES)),
        use_edns=draw(st.sampled_from([False, 0])),
        payload=draw(st.integers(0, 65535)),
    )
    query.id = draw(st.integers(0, 65535))
    return query.to_wire()


@st.composite
def mutated_queries(draw) -> bytes:
    """A valid query with bytes flipped, cut, inserted or header counts changed."""
    return mutate_dns_message(draw, draw(valid_queries()), steps=(1, 6), max_insert=40)


any_packet = st.one_of(st.binary(max_size=600), mutated_queries(), valid_queries())


def check_response(packet: bytes, response: bytes | None, transport: str) -> None:
    if response is None:
        assert len(packet) < 12 or packet[2] & 0x80  # only runts and responses are dropped
        return
    assert response[:2] == packet[:2]  # the ID is echoed
    parsed = dns.message.from_wire(response)  # a valid DNS message
    assert parsed.flags & dns.flags.QR
    if transport == UDP:
        assert len(response) <= max(512, 1232)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(packet=any_packet, transport=st.sampled_from([UDP, TCP]))
def test_any_packet_is_dropped_or_answered_with_a_valid_response(packet, transport):
    started = time.perf_counter()
    response = AUTHORITY.respond(packet, transport)
    assert time.perf_counter() - started < 0.5  # bounded work for any input
    check_response(packet, response, transport)


@settings(max_examples=500, deadline=None)
@given(packet=valid_queries())
def test_valid_queries_over_udp_fit_the_advertised_size(packet):
    query = dns.message.from_wire(packet)
    response = AUTHORITY.respond(packet, UDP)
    limit = 512 if query.edns < 0 else max(512, min(query.payload, 1232))
    assert len(response) <= limit


@pytest.fixture(scope="module")
def live_server():
    with webtrip_dns_server([ZONES / "example.test.zone"]) as running:
        yield running


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(packets=st.lists(any_packet, min_size=1, max_size=5))
def test_the_live_server_still_answers_after_hostile_packets(live_server, packets):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for packet in packets:
            sock.sendto(packet, (live_server.host, live_server.port))
    query = dns.message.make_query("www.example.test", "A")
    response = dns.query.udp(query, live_server.host, port=live_server.port, timeout=2)
    assert response.rcode() == dns.rcode.NOERROR
    assert response.answer[0].to_text() == "www.example.test. 300 IN A 192.0.2.10"
    assert live_server.process.poll() is None
