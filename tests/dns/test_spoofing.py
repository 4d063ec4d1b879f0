"""Cache poisoning: what a spoofer must guess, and that a wrong guess is never believed.

In the simulated world an attacker host, closer to the resolver than the real
server, watches the resolver's queries go out and races a forged answer
(6.6.6.6) back from the real server's address — wrong in exactly one way:
the ID, the source port, the question, the letter case of a 0x20 question,
or sent to the wrong port. Each must be ignored and the true answer taken.
The control: a forgery right in every way *is* taken, so the race is real
(only an on-path attacker can see the ID and port; the others must guess).

A hostile authoritative server (evil.test.) answers with records about
names it does not own; none of them may be cached or used.

On real sockets, the ID and the source port of each query must be
unpredictable: 1000 queries from the Forwarder and 1000 from the
RecursiveResolver, caught by a UDP server on loopback, are checked for
uniformity (chi-square), bit balance, collisions and successive differences.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import struct
from collections.abc import Callable, Iterator
from pathlib import Path

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from support.hierarchy import RESOLVER, ROOT, TLD, WEBTRIP, SimHierarchy
from webtrip.dns.recursive_resolver import Forwarder, RecursiveResolver
from webtrip.net import RealNetwork
from webtrip.packets.ipv4 import PROTOCOL_UDP, IPv4Packet
from webtrip.packets.udp import UdpDatagram
from webtrip.trace import DnsMessageReceived, DnsMessageSent
from webtrip.trace.events import OUT, PacketCaptured

ATTACKER, EVIL = "10.0.0.50", "10.0.0.5"
FORGED = "6.6.6.6"
FORGED_BYTES = bytes([6, 6, 6, 6])


def forged_answer(query: dns.message.Message) -> dns.message.Message:
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    name = query.question[0].name
    response.answer.append(dns.rrset.from_text(name, 300, "IN", "A", FORGED))
    return response


def _swapcase(name: dns.name.Name) -> dns.name.Name:
    return dns.name.Name([label.swapcase() for label in name.labels])


# How each forgery differs from a perfect one: (response wire, source port, destination port)
Forgery = Callable[[dns.message.Message, int], tuple[bytes, int, int]]


def exact(query: dns.message.Message, port: int) -> tuple[bytes, int, int]:
    return forged_answer(query).to_wire(), 53, port


def wrong_id(query: dns.message.Message, port: int) -> tuple[bytes, int, int]:
    response = forged_answer(query)
    response.id = (query.id + 1) & 0xFFFF
    return response.to_wire(), 53, port


def wrong_source_port(query: dns.message.Message, port: int) -> tuple[bytes, int, int]:
    return forged_answer(query).to_wire(), 5353, port


def wrong_destination_port(query: dns.message.Message, port: int) -> tuple[bytes, int, int]:
    return forged_answer(query).to_wire(), 53, port + 1 if port < 65535 else port - 1


def wrong_question(query: dns.message.Message, port: int) -> tuple[bytes, int, int]:
    other = dns.message.make_query("mail.webtrip.test", "A")
    other.id = query.id
    return forged_answer(other).to_wire(), 53, port


def wrong_case(query: dns.message.Message, port: int) -> tuple[bytes, int, int]:
    twisted = dns.message.make_query(_swapcase(query.question[0].name), "A")
    twisted.id = query.id
    return forged_answer(twisted).to_wire(), 53, port


class Spoofer:
    """A host that sees the resolver's queries to ``target`` and races a forged answer."""

    def __init__(self, lab: SimHierarchy, target: str, forgery: Forgery) -> None:
        self.lab, self.target, self.forgery = lab, target, forgery
        self.host = lab.add_host(ATTACKER, latency=0.0005)
        self.sent = 0
        lab.world.trace.subscribe(self._saw)

    def _saw(self, event: object) -> None:
        if not isinstance(event, PacketCaptured):
            return
        if event.actor != RESOLVER or event.direction != OUT:
            return
        packet = IPv4Packet.decode(event.data)
        if packet.protocol != PROTOCOL_UDP or packet.destination != self.target:
            return
        datagram = UdpDatagram.decode(packet.payload, packet.source, packet.destination)
        if datagram.destination_port != 53:
            return
        query = dns.message.from_wire(datagram.payload)
        wire, source_port, port = self.forgery(query, datagram.source_port)
        forged = UdpDatagram(source_port, port, wire).encode(self.target, RESOLVER)
        # From the real server's address: nothing on the way checks a source address.
        self.lab.world.loop.call_soon(
            self.host.send_ip, self.target, RESOLVER, PROTOCOL_UDP, forged
        )
        self.sent += 1


@pytest.fixture
def lab() -> Iterator[SimHierarchy]:
    hierarchy = SimHierarchy()
    yield hierarchy
    hierarchy.close()


def addresses(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.address for rrset in result.answer if rrset.rdtype == dns.rdatatype.A for r in rrset]


def forged_arrivals(lab: SimHierarchy) -> list[float]:
    """When forged answers reached the resolver's query socket."""
    return [
        e.t
        for e in lab.world.trace.of_type(DnsMessageReceived)
        if e.actor == "resolver" and FORGED_BYTES in e.wire
    ]


def true_arrival(lab: SimHierarchy) -> float:
    return next(
        e.t
        for e in lab.world.trace.of_type(DnsMessageReceived)
        if e.actor == "resolver" and e.peer == (WEBTRIP, 53) and FORGED_BYTES not in e.wire
    )


def test_control_a_forgery_right_in_every_way_wins_the_race(lab):
    spoofer = Spoofer(lab, WEBTRIP, exact)
    result = lab.resolve("www.webtrip.test")
    assert spoofer.sent == 1
    assert addresses(result) == [FORGED]  # the attacker is faster: the race is real


@pytest.mark.parametrize(
    "forgery",
    [wrong_id, wrong_source_port, wrong_question],
    ids=lambda f: f.__name__,
)
def test_a_forged_answer_wrong_in_one_way_is_ignored(lab, forgery):
    spoofer = Spoofer(lab, WEBTRIP, forgery)
    result = lab.resolve("www.webtrip.test")
    assert spoofer.sent == 1
    arrivals = forged_arrivals(lab)
    assert len(arrivals) == 1 and arrivals[0] < true_arrival(lab)  # it came first...
    assert addresses(result) == ["10.0.0.80"]  # ...and was not believed
    cached = lab.resolver.cache.get(dns.name.from_text("www.webtrip.test."), dns.rdatatype.A)
    assert [r.address for r in cached.rrset] == ["10.0.0.80"]


def test_a_forged_answer_to_the_wrong_port_never_reaches_the_query(lab):
    spoofer = Spoofer(lab, WEBTRIP, wrong_destination_port)
    result = lab.resolve("www.webtrip.test")
    assert spoofer.sent == 1
    assert forged_arrivals(lab) == []
    dropped = [
        r
        for r in lab.world.packets.records
        if r.node == RESOLVER and "port unreachable" in r.reason
    ]
    assert len(dropped) == 1
    assert addresses(result) == ["10.0.0.80"]


def test_with_0x20_an_answer_in_the_wrong_letter_case_is_ignored():
    lab = SimHierarchy(case_randomization=True)
    try:
        spoofer = Spoofer(lab, WEBTRIP, wrong_case)
        result = lab.resolve("www.webtrip.test")
        assert spoofer.sent == 1
        assert len(forged_arrivals(lab)) == 1
        assert addresses(result) == ["10.0.0.80"]
    finally:
        lab.close()


def test_control_without_0x20_the_same_case_forgery_is_believed(lab):
    spoofer = Spoofer(lab, WEBTRIP, wrong_case)
    result = lab.resolve("www.webtrip.test")
    assert spoofer.sent == 1
    assert addresses(result) == [FORGED]  # 0x20 is what stopped it above


# --- a hostile authoritative server ----------------------------------------------------------


class Poisoner:
    """ns.evil.test: answers for evil.test., and adds lies about webtrip.test."""

    def respond(self, wire: bytes, transport: str, peer) -> bytes | None:  # type: ignore[no-untyped-def]
        query = dns.message.from_wire(wire)
        name = query.question[0].name
        response = dns.message.make_response(query)
        lie = [
            dns.rrset.from_text("www.webtrip.test.", 86400, "IN", "A", FORGED),
            dns.rrset.from_text("ns.webtrip.test.", 86400, "IN", "A", FORGED),
        ]
        if name.labels[-3:-1] == (b"sub", b"evil") or name.labels[-4:-2] == (b"sub", b"evil"):
            # A referral for sub.evil.test to ns.webtrip.test, with "glue" for it.
            response.authority.append(
                dns.rrset.from_text("sub.evil.test.", 86400, "IN", "NS", "ns.webtrip.test.")
            )
            response.additional.extend(lie)
            return response.to_wire()
        response.flags |= dns.flags.AA
        response.answer.append(dns.rrset.from_text(name, 300, "IN", "CNAME", "www.webtrip.test."))
        response.answer.append(lie[0])  # the target's "address", out of the zone
        response.authority.append(
            dns.rrset.from_text("webtrip.test.", 86400, "IN", "NS", "ns.evil.test.")
        )
        response.additional.extend(lie)
        return response.to_wire()


@pytest.fixture
def evil_lab(lab: SimHierarchy) -> SimHierarchy:
    lab.add_host(EVIL)
    lab.serve(EVIL, Poisoner())
    return lab


def cached_addresses(lab: SimHierarchy, name: str) -> list[str]:
    entry = lab.resolver.cache.get(dns.name.from_text(name), dns.rdatatype.A)
    return [] if entry is None or entry.rrset is None else [r.address for r in entry.rrset]


def test_records_about_names_outside_the_zone_are_not_believed(evil_lab):
    lab = evil_lab
    result = lab.resolve("www.evil.test")
    assert result.rcode == dns.rcode.NOERROR
    assert [(str(r.name), r.rdtype) for r in result.answer] == [
        ("www.evil.test.", dns.rdatatype.CNAME),
        ("www.webtrip.test.", dns.rdatatype.A),
    ]
    assert addresses(result) == ["10.0.0.80"]
    # The CNAME's target was asked of its own zone's server, found from the root down.
    walked = [(s.server[0], str(s.qname)) for s in result.walk if s.server is not None]
    assert walked == [
        (ROOT, "www.evil.test."),
        (TLD, "www.evil.test."),
        (EVIL, "www.evil.test."),
        (TLD, "www.webtrip.test."),  # test.'s delegation is cached: not the root again
        (WEBTRIP, "www.webtrip.test."),
    ]
    assert cached_addresses(lab, "www.webtrip.test.") == ["10.0.0.80"]
    assert cached_addresses(lab, "ns.webtrip.test.") == ["10.0.0.3"]
    ns = lab.resolver.cache.get(dns.name.from_text("webtrip.test."), dns.rdatatype.NS)
    assert [str(r.target) for r in ns.rrset] == ["ns.webtrip.test."]
    assert all(FORGED not in str(step.server) for step in result.walk)


def test_out_of_bailiwick_glue_is_not_cached_and_the_name_server_is_looked_up(evil_lab):
    lab = evil_lab
    result = lab.resolve("x.sub.evil.test")
    # ns.webtrip.test does not serve sub.evil.test: nobody can answer.
    assert result.rcode == dns.rcode.SERVFAIL
    assert cached_addresses(lab, "ns.webtrip.test.") == ["10.0.0.3"]
    assert all(step.server is None or step.server[0] != FORGED for step in result.walk)
    # Instead of the glue, the resolver asked for ns.webtrip.test's address itself.
    nested = [(str(s.qname), s.server[0]) for s in result.walk if s.depth == 1 and s.server]
    assert ("ns.webtrip.test.", WEBTRIP) in nested
    assert any(
        s.server == (WEBTRIP, 53) and str(s.qname) == "x.sub.evil.test." for s in result.walk
    )
    assert addresses(lab.resolve("www.webtrip.test")) == ["10.0.0.80"]


# --- randomness ------------------------------------------------------------------------------


def test_the_same_seed_asks_with_the_same_ids_and_ports_and_another_seed_does_not():
    def ids_and_ports(seed: int) -> list[tuple[int, int]]:
        lab = SimHierarchy(seed=seed)
        try:
            lab.resolve("far.webtrip.test")
            return [
                (int.from_bytes(e.wire[:2], "big"), e.local[1])
                for e in lab.world.trace.of_type(DnsMessageSent)
                if e.actor == "resolver"
            ]
        finally:
            lab.close()

    first, again, other = ids_and_ports(11), ids_and_ports(11), ids_and_ports(12)
    assert len(first) >= 5
    assert first == again
    assert [i for i, _ in first] != [i for i, _ in other]
    assert [p for _, p in first] != [p for _, p in other]


class Catcher(asyncio.DatagramProtocol):
    """A UDP server that records each query's (ID, source port) and answers it (AA, RA)."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, int]] = []

    def connection_made(self, transport) -> None:  # type: ignore[no-untyped-def]
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:  # type: ignore[no-untyped-def]
        self.seen.append((int.from_bytes(data[:2], "big"), addr[1]))
        end = 12
        while data[end]:
            end += data[end] + 1
        end += 5
        flags = struct.unpack_from("!H", data, 2)[0] & 0x0100 | 0x8480  # QR AA RA, the RD
        header = data[:2] + struct.pack("!HHHHH", flags, 1, 1, 0, 0)
        answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([192, 0, 2, 1])
        self.transport.sendto(header + data[12:end] + answer, addr)


QUERIES = 1000
CHI2_15_P1E6 = 56.49  # chi-square, 15 degrees of freedom: exceeded with probability 1e-6


def chi_square(values: list[int], bins: int = 16) -> float:
    counts = collections.Counter(values)
    expected = len(values) / bins
    return sum((counts.get(b, 0) - expected) ** 2 / expected for b in range(bins))


def colliding_pairs(values: list[int]) -> int:
    return sum(c * (c - 1) // 2 for c in collections.Counter(values).values())


def check_uniform(values: list[int], low: int, size: int, what: str) -> None:
    """``values`` look like independent uniform draws from [low, low + size).

    Each check fails a truly uniform source with probability below 1e-6
    (chi-square 56.49 at 15 degrees of freedom; a bit's count of ones 88 or
    more from 500: 2.9e-8 each; colliding pairs over 5 times the expected
    number plus 12: Poisson tail below 1e-9), so the whole test fails by
    chance with probability below 1e-4. A counter, a clock or a small pool
    fails the difference or collision checks at once.
    """
    assert all(low <= v < low + size for v in values), what
    offsets = [v - low for v in values]
    top = [o * 16 // size for o in offsets]
    bottom = [o % 16 for o in offsets]
    steps = [((b - a) % size) * 16 // size for a, b in itertools.pairwise(offsets)]
    for name, sample in (("high bits", top), ("low bits", bottom), ("differences", steps)):
        assert chi_square(sample) < CHI2_15_P1E6, (what, name, collections.Counter(sample))
    if size == 65536:
        for bit in range(16):
            ones = sum(o >> bit & 1 for o in offsets)
            assert abs(ones - len(offsets) / 2) < 88, (what, bit, ones)
    expected = len(values) * (len(values) - 1) / 2 / size
    assert colliding_pairs(values) <= 5 * expected + 12, (what, colliding_pairs(values))


def _port_range() -> tuple[int, int]:
    low, high = (int(w) for w in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    return low, high - low + 1


@pytest.mark.parametrize("engine", ["forwarder", "recursive"])
def test_query_ids_and_source_ports_are_unpredictable_on_real_sockets(engine):
    async def main() -> list[tuple[int, int]]:
        loop = asyncio.get_running_loop()
        transport, catcher = await loop.create_datagram_endpoint(
            Catcher, local_addr=("127.0.0.1", 0)
        )
        port = transport.get_extra_info("sockname")[1]
        network = RealNetwork()
        if engine == "forwarder":
            resolver = Forwarder(network, [("127.0.0.1", port)], timeout=2)
        else:
            resolver = RecursiveResolver(network, [("ns.root.", "127.0.0.1")], port=port, timeout=2)
        try:
            for n in range(QUERIES):
                result = await resolver.resolve(f"q{n}.random.test", "A")
                assert result.rcode == dns.rcode.NOERROR, result.reason
        finally:
            transport.close()
        return catcher.seen

    seen = asyncio.run(main())
    assert len(seen) == QUERIES
    check_uniform([i for i, _ in seen], 0, 65536, "query IDs")
    low, size = _port_range()
    check_uniform([p for _, p in seen], low, size, "source ports")
