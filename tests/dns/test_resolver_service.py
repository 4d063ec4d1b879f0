"""The resolver service (``webtrip dns resolver``): what its clients see.

In the simulated world (virtual time, so TTLs can be checked to the second):
the message cache and its TTLs, negative caching, REFUSED for a stranger,
one walk for many identical questions, the bound on questions in flight,
hostile input. On loopback, with real processes: dig and kdig resolving
through the hierarchy, the cache seen from the authorities' logs, --allow,
and a corpus of malformed messages sent to the running resolver.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import struct
import subprocess
import time
from collections.abc import Iterator

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support import mutate_dns_message, require_program
from support.hierarchy import (
    RESOLVER,
    SimHierarchy,
    loopback_hierarchy,
    rrsets_text,
    webtrip_resolver,
)
from webtrip.dns.client import make_query, query
from webtrip.dns.protocol import UDP
from webtrip.trace import ResolverAnswered

CLIENT, STRANGER = "10.0.0.20", "192.0.2.66"


# --- in the simulated world ----------------------------------------------------------------


class World(SimHierarchy):
    """The hierarchy, the resolver service on 10.0.0.10:53, a client and a stranger."""

    def __init__(self, **options) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        self.service = self.start_service(**options)
        self.add_host(CLIENT)
        self.add_host(STRANGER)

    def ask(self, name: str, rdtype: str = "A", client: str = CLIENT) -> dns.message.Message:
        return self.world.run(self._ask(name, rdtype, client))

    async def _ask(self, name: str, rdtype: str, client: str) -> dns.message.Message:
        network = self.world.network(self.hosts[client])
        message = make_query(name, rdtype, rng=network.random)
        result = await query(network, (RESOLVER, 53), message, timeout=5)
        return result.response

    def ask_many(self, questions: list[tuple[str, str]]) -> list[dns.message.Message]:
        async def all_at_once() -> list[dns.message.Message]:
            return list(await asyncio.gather(*(self._ask(n, t, CLIENT) for n, t in questions)))

        return self.world.run(all_at_once())

    def answered(self) -> list[ResolverAnswered]:
        return self.world.trace.of_type(ResolverAnswered)


@pytest.fixture
def world() -> Iterator[World]:
    built = World()
    yield built
    built.close()


def ttls(message: dns.message.Message, section: str = "answer") -> list[int]:
    return [rrset.ttl for rrset in getattr(message, section)]


def test_a_cached_answer_has_its_ttl_counted_down_by_exactly_the_seconds_kept(world):
    first = world.ask("www.webtrip.test")
    assert first.rcode() == dns.rcode.NOERROR and ttls(first) == [300]
    stored = world.answered()[-1].t  # when the resolver answered, and kept, the message
    asked = world.authority_queries()
    world.sleep(100)
    second = world.ask("www.webtrip.test")
    answered = world.answered()[-1]
    assert answered.from_cache and answered.queries == 0
    assert world.authority_queries() == asked  # not a packet to any authority
    elapsed = int(answered.t - stored)
    assert elapsed == 100
    assert ttls(second) == [300 - elapsed]
    assert rrsets_text(second) == rrsets_text(first)
    world.sleep(137.4)
    third = world.ask("www.webtrip.test")
    assert ttls(third) == [300 - int(world.answered()[-1].t - stored)] == [63]


def test_an_expired_answer_is_asked_again_of_the_zones_server_only(world):
    world.ask("www.webtrip.test")
    world.sleep(300)
    asked = world.authority_queries()
    again = world.ask("www.webtrip.test")
    assert ttls(again) == [300]  # fresh from the server
    assert world.authority_queries() == asked + 1  # the delegations are still cached
    assert not world.answered()[-1].from_cache


def test_nxdomain_is_cached_with_its_soa_counting_down(world):
    first = world.ask("nothing.webtrip.test")
    assert first.rcode() == dns.rcode.NXDOMAIN and not first.answer
    assert ttls(first, "authority") == [60]  # the SOA minimum
    asked = world.authority_queries()
    world.sleep(20)
    second = world.ask("nothing.webtrip.test")
    assert second.rcode() == dns.rcode.NXDOMAIN
    assert ttls(second, "authority") == [40]
    # The other types of a name that does not exist: from the resolver's own cache.
    assert world.ask("nothing.webtrip.test", "MX").rcode() == dns.rcode.NXDOMAIN
    assert world.authority_queries() == asked
    world.sleep(41)
    assert world.ask("nothing.webtrip.test").rcode() == dns.rcode.NXDOMAIN
    assert world.authority_queries() == asked + 1


def test_nodata_is_cached_for_its_type_only(world):
    first = world.ask("www.webtrip.test", "TXT")
    assert first.rcode() == dns.rcode.NOERROR and not first.answer
    assert [r.rdtype for r in first.authority] == [dns.rdatatype.SOA]
    asked = world.authority_queries()
    world.sleep(10)
    second = world.ask("www.webtrip.test", "TXT")
    assert second.rcode() == dns.rcode.NOERROR and not second.answer
    assert ttls(second, "authority") == [50]
    assert world.authority_queries() == asked
    assert world.ask("www.webtrip.test", "AAAA").answer[0][0].address == "2001:db8::80"
    assert world.authority_queries() == asked + 1


def test_a_client_outside_allow_is_refused_and_causes_no_walk(world):
    refused = world.ask("www.webtrip.test", client=STRANGER)
    assert refused.rcode() == dns.rcode.REFUSED
    assert not refused.answer and refused.question[0].name.to_text() == "www.webtrip.test."
    assert world.authority_queries() == 0
    assert "not a client" in world.answered()[-1].reason
    # The same question from a client: answered (nothing was cached for the stranger).
    assert world.ask("www.webtrip.test").rcode() == dns.rcode.NOERROR
    assert world.authority_queries() == 3


def test_identical_questions_in_flight_share_one_walk(world):
    answers = world.ask_many([("www.webtrip.test", "A")] * 25)
    assert {a.answer[0][0].address for a in answers} == {"10.0.0.80"}
    assert len({a.id for a in answers}) > 1  # 25 clients' own IDs, copied back
    assert world.authority_queries() == 3  # root, test., webtrip.test: once
    events = world.answered()
    assert len(events) == 25
    assert {e.queries for e in events} == {3}  # every client got the one walk's answer


def test_questions_beyond_max_pending_get_servfail_at_once():
    world = World(max_pending=2)
    try:
        names = ["www.webtrip.test", "mail.webtrip.test", "alias.webtrip.test", "www.shop.test"]
        started = world.world.now()
        answers = world.ask_many([(name, "A") for name in names])
        rcodes = [a.rcode() for a in answers]
        assert rcodes[:2] == [dns.rcode.NOERROR] * 2
        assert rcodes[2:] == [dns.rcode.SERVFAIL] * 2
        refused = [e for e in world.answered() if e.rcode == "SERVFAIL"]
        assert {e.reason for e in refused} == {"2 questions are being resolved already"}
        assert all(e.t - e.started < 0.001 for e in refused)  # at once, not queued
        assert world.world.now() - started < 1
        # Once the two are done, the slots are free again (and SERVFAIL was not cached
        # for a question that was never resolved).
        assert world.ask("alias.webtrip.test").rcode() == dns.rcode.NOERROR
        assert world.service._pending == {}
    finally:
        world.close()


# --- hostile and odd input -------------------------------------------------------------------


def _header(qid: int, flags: int, qd: int = 1, an: int = 0, ns: int = 0, ar: int = 0) -> bytes:
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


QUESTION = b"\x03www\x07webtrip\x04test\x00\x00\x01\x00\x01"
Q = _header(0x4242, 0x0100)  # a query's header, one question
TYPE_A = b"\x00\x00\x01\x00\x01"  # the root label, type A, class IN
LONG_NAME = b"".join(bytes([63]) + letter * 63 for letter in (b"a", b"b", b"c", b"d"))


def _with_edns(version: int) -> bytes:
    message = dns.message.make_query("www.webtrip.test", "A", use_edns=version)
    message.id = 0x4242
    return message.to_wire()


def _rdtype(rdtype: str, rdclass: str = "IN") -> bytes:
    message = dns.message.make_query("webtrip.test", rdtype, rdclass=rdclass)
    message.id = 0x4242
    return message.to_wire()


# (what, message, expected rcode or None for no answer at all)
CORPUS: list[tuple[str, bytes, int | None]] = [
    ("empty", b"", None),
    ("one byte", b"\x00", None),
    ("eleven bytes", b"\x42" * 11, None),
    ("a response", _header(0x4242, 0x8180) + QUESTION, None),
    ("a response without question", _header(0x4242, 0x8000, qd=0), None),
    ("header only", _header(0x4242, 0x0100, qd=0), dns.rcode.FORMERR),
    ("opcode IQUERY", _header(0x4242, 0x0900) + QUESTION, dns.rcode.NOTIMP),
    ("opcode STATUS", _header(0x4242, 0x1100) + QUESTION, dns.rcode.NOTIMP),
    ("opcode NOTIFY", _header(0x4242, 0x2100) + QUESTION, dns.rcode.NOTIMP),
    ("opcode UPDATE", _header(0x4242, 0x2900) + QUESTION, dns.rcode.NOTIMP),
    ("opcode 15", _header(0x4242, 0x7900) + QUESTION, dns.rcode.NOTIMP),
    ("two questions", _header(0x4242, 0x0100, qd=2) + QUESTION * 2, dns.rcode.FORMERR),
    ("question cut short", _header(0x4242, 0x0100) + QUESTION[:-3], dns.rcode.FORMERR),
    ("count larger than the message", _header(0x4242, 0x0100, an=5) + QUESTION, dns.rcode.FORMERR),
    ("label longer than 63", Q + b"\x50" + b"a" * 80 + TYPE_A, dns.rcode.FORMERR),
    ("pointer to itself", Q + b"\xc0\x0c" + TYPE_A, dns.rcode.FORMERR),
    ("pointer loop of two", Q + b"\x01a\xc0\x10\x01b\xc0\x0c" + TYPE_A, dns.rcode.FORMERR),
    ("pointer forward", Q + b"\xc0\x20" + TYPE_A, dns.rcode.FORMERR),
    ("name longer than 255", Q + LONG_NAME + TYPE_A, dns.rcode.FORMERR),
    ("rcode set in a query", _header(0x4242, 0x0103) + QUESTION, dns.rcode.FORMERR),
    ("EDNS version 1", _with_edns(1), dns.rcode.BADVERS),
    ("EDNS version 255", _with_edns(255), dns.rcode.BADVERS),
    ("AXFR", _rdtype("AXFR"), dns.rcode.REFUSED),
    ("IXFR", _rdtype("IXFR"), dns.rcode.REFUSED),
    ("class CH", _rdtype("TXT", "CH"), dns.rcode.REFUSED),
    ("class ANY", _rdtype("A", "ANY"), dns.rcode.REFUSED),
    ("MAILB", _rdtype("MAILB"), dns.rcode.REFUSED),
    ("RD clear (cache snooping)", _header(0x4242, 0x0000) + QUESTION, dns.rcode.REFUSED),
]


def _rcode_of(response: bytes) -> int:
    message = dns.message.from_wire(response)
    return message.rcode()


@pytest.mark.parametrize(("what", "wire", "expected"), CORPUS, ids=[c[0] for c in CORPUS])
def test_odd_messages_get_the_right_error_in_the_simulated_world(world, what, wire, expected):
    async def respond() -> bytes | None:  # as the server calls it: inside the world's loop
        response = world.service.respond(wire, UDP, (CLIENT, 4000))
        if response is not None and not isinstance(response, bytes):
            response = await response
        return response

    response = world.world.run(respond())
    if expected is None:
        assert response is None
        return
    assert response is not None, what
    assert response[:2] == wire[:2]  # the ID is echoed
    assert response[2] & 0x80  # QR
    assert response[3] & 0x80  # RA: a resolver says it recurses, in its errors too
    assert _rcode_of(response) == expected, what
    assert world.authority_queries() == 0  # nothing odd is passed on
    # Every answer is in the trace (what --log prints), errors included.
    (answered,) = world.answered()
    assert answered.rcode == dns.rcode.to_text(expected) and answered.client == (CLIENT, 4000)


@st.composite
def mutated_queries(draw) -> bytes:  # type: ignore[no-untyped-def]
    """A valid question with bytes flipped, cut, inserted, or counts and pointers set."""
    message = dns.message.make_query(
        draw(st.sampled_from(["www.webtrip.test", "alias.webtrip.test", "x.shop.test", "."])),
        draw(st.sampled_from(["A", "AAAA", "MX", "TXT", "NS", "SOA", "ANY"])),
        use_edns=draw(st.sampled_from([False, 0, 1])),
    )
    return mutate_dns_message(draw, message.to_wire(), steps=(0, 5), max_insert=30)


hostile = st.one_of(st.binary(max_size=300), mutated_queries())


@pytest.fixture(scope="module")
def shared_world() -> Iterator[World]:
    built = World()
    yield built
    built.close()


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(packet=hostile)
def test_any_message_is_dropped_or_answered_validly_in_the_simulated_world(shared_world, packet):
    async def respond() -> bytes | None:  # as the server calls it: inside the world's loop
        response = shared_world.service.respond(packet, UDP, (CLIENT, 4000))
        if response is not None and not isinstance(response, bytes):
            response = await asyncio.wait_for(response, 30)
        return response

    response = shared_world.world.run(respond())
    if response is None:
        assert len(packet) < 12 or packet[2] & 0x80
        return
    assert response[:2] == packet[:2]
    parsed = dns.message.from_wire(response)
    assert parsed.flags & dns.flags.QR
    assert len(response) <= 1232


# --- on loopback, with real processes ------------------------------------------------------


@pytest.fixture(scope="module")
def lab():
    with loopback_hierarchy() as running:
        yield running


@pytest.fixture(scope="module")
def resolver(lab):
    with webtrip_resolver(lab, 10) as running:
        yield running


@pytest.fixture(scope="module")
def picky_resolver(lab):
    with webtrip_resolver(lab, 11, ["--allow", "127.0.0.2/32"]) as running:
        yield running


def run_dig(
    tool: str, server, name: str, rdtype: str = "A", *extra: str
) -> tuple[str, set[str], dict[str, set[tuple[str, int, str, str]]]]:
    """Ask with dig or kdig; return (status, header flags, records by section with TTLs)."""
    args = [require_program(tool), f"@{server.host}", "-p", str(server.port)]
    args += ["+tries=1" if tool == "dig" else "+retry=0", "+time=3", *extra, name, rdtype]
    done = subprocess.run(args, capture_output=True, text=True, timeout=20)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    status = re.search(r"status: ([A-Z]+)", output)
    flags = re.search(r";; flags: ([a-z ]*);", output, re.IGNORECASE)
    assert status and flags, output
    sections: dict[str, set[tuple[str, int, str, str]]] = {"answer": set(), "authority": set()}
    current = None
    for line in output.splitlines():
        title = re.match(r";; (ANSWER|AUTHORITY|ADDITIONAL) SECTION:", line)
        if title:
            current = title.group(1).lower()
            continue
        if not line.strip():
            current = None
        if current in sections and not line.startswith(";"):
            owner, ttl, _class, rdtype_text, rdata = line.split(None, 4)
            sections[current].add((owner.lower(), int(ttl), rdtype_text, rdata.strip()))
    return status.group(1), set(flags.group(1).split()), sections


def records(sections: dict[str, set[tuple[str, int, str, str]]], section: str) -> set[tuple]:
    return {(owner, rdtype, rdata) for owner, _ttl, rdtype, rdata in sections[section]}


@pytest.mark.parametrize("transport", ["udp", "tcp"])
@pytest.mark.parametrize(
    "tool", [pytest.param(t, marks=pytest.mark.peer(t)) for t in ("dig", "kdig")]
)
def test_dig_and_kdig_get_answers_through_the_hierarchy(lab, resolver, tool, transport):
    p = lab.prefix
    tcp = ("+tcp",) if transport == "tcp" else ()
    status, flags, sections = run_dig(tool, resolver, "far.webtrip.test", "A", *tcp)
    assert status == "NOERROR"
    assert {"qr", "rd", "ra"} <= flags and "aa" not in flags
    assert records(sections, "answer") == {
        ("far.webtrip.test.", "CNAME", "alias.shop.test."),
        ("alias.shop.test.", "CNAME", "www.shop.test."),
        ("www.shop.test.", "A", f"{p}.81"),
    }
    status, flags, sections = run_dig(tool, resolver, "webtrip.test", "MX", *tcp)
    assert status == "NOERROR" and "aa" not in flags
    assert records(sections, "answer") == {("webtrip.test.", "MX", "10 mail.webtrip.test.")}
    status, flags, sections = run_dig(tool, resolver, f"nope-{tool}.webtrip.test", "A", *tcp)
    assert status == "NXDOMAIN" and {"rd", "ra"} <= flags and "aa" not in flags
    assert [r[1] for r in records(sections, "authority")] == ["SOA"]


@pytest.mark.peer("dig")
def test_a_repeated_question_is_answered_from_the_cache_without_a_packet(lab, resolver):
    before = lab.wait_quiet()
    status, _, first = run_dig("dig", resolver, "mail.webtrip.test")
    assert status == "NOERROR"
    asked = lab.wait_quiet()
    assert asked > before  # the first time, the authorities were asked (and logged it)
    time.sleep(1.1)
    status, _, second = run_dig("dig", resolver, "MAIL.WebTrip.TEST")
    assert status == "NOERROR"
    assert lab.wait_quiet() == asked  # no authority answered anything
    assert records(second, "answer") == records(first, "answer")
    (before,), (after,) = first["answer"], second["answer"]
    assert 1 <= before[1] - after[1] <= 3  # counted down in real seconds
    log = resolver.log_text()
    assert re.search(r"mail\.webtrip\.test\. A NOERROR \d+ queries", log), log
    assert re.search(r"MAIL\.WebTrip\.TEST\. A NOERROR cache", log, re.I), log


@pytest.mark.peer("dig")
@pytest.mark.parametrize(
    ("name", "rdtype", "status"),
    [("nothing.shop.test", "A", "NXDOMAIN"), ("www.shop.test", "TXT", "NOERROR")],
    ids=["nxdomain", "nodata"],
)
def test_negative_answers_are_cached(lab, resolver, name, rdtype, status):
    before = lab.wait_quiet()
    got, _, first = run_dig("dig", resolver, name, rdtype)
    assert got == status and not first["answer"]
    assert [r[1] for r in records(first, "authority")] == ["SOA"]
    asked = lab.wait_quiet()
    assert asked > before
    got, _, second = run_dig("dig", resolver, name, rdtype)
    assert got == status and records(second, "authority") == records(first, "authority")
    assert lab.wait_quiet() == asked


@pytest.mark.peer("dig")
def test_a_client_outside_allow_is_refused(lab, picky_resolver):
    asked = lab.wait_quiet()
    status, _, sections = run_dig("dig", picky_resolver, "www.webtrip.test", "A", "-b", "127.0.0.1")
    assert status == "REFUSED" and not sections["answer"]
    assert lab.wait_quiet() == asked  # a refusal costs the authorities nothing
    status, _, sections = run_dig("dig", picky_resolver, "www.webtrip.test", "A", "-b", "127.0.0.2")
    assert status == "NOERROR"
    assert records(sections, "answer") == {("www.webtrip.test.", "A", f"{lab.prefix}.80")}


def _exchange(sock: socket.socket, wire: bytes, timeout: float) -> bytes | None:
    sock.settimeout(timeout)
    sock.send(wire)
    try:
        return sock.recv(65535)
    except TimeoutError:
        return None


def test_the_running_resolver_answers_the_odd_corpus_and_keeps_serving(resolver):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect((resolver.host, resolver.port))
        silent = [wire for _what, wire, expected in CORPUS if expected is None]
        for wire in silent:
            sock.send(wire)
        for what, wire, expected in CORPUS:
            if expected is None:
                continue
            response = _exchange(sock, wire, 2.0)
            assert response is not None, what
            assert response[:2] == wire[:2] and _rcode_of(response) == expected, what
        # Nothing came back for the runts and responses (their answers would be first).
        sock.settimeout(0.2)
        with pytest.raises(TimeoutError):
            sock.recv(65535)
    message = dns.message.make_query("www.webtrip.test", "A")
    answer = dns.query.udp(message, resolver.host, port=resolver.port, timeout=3)
    assert answer.rcode() == dns.rcode.NOERROR
    assert resolver.process.poll() is None
    log = resolver.log_text()  # --log shows the errors too, with why
    assert re.search(r" BADVERS 0 queries [\d.]+ms \(EDNS version 1;", log), log
    assert re.search(r" NOTIMP 0 queries [\d.]+ms \(opcode NOTIFY is not supported", log), log
    assert re.search(r" \? FORMERR 0 queries [\d.]+ms \(a malformed query", log), log


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(packets=st.lists(hostile, min_size=1, max_size=5))
def test_the_running_resolver_still_answers_after_hostile_packets(resolver, packets):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for packet in packets:
            sock.sendto(packet, (resolver.host, resolver.port))
    message = dns.message.make_query("www.webtrip.test", "A")
    answer = dns.query.udp(message, resolver.host, port=resolver.port, timeout=3)
    assert answer.rcode() == dns.rcode.NOERROR and answer.answer
    assert resolver.process.poll() is None


# --- found in review: each was a real defect, each has its test --------------------------


def test_a_type0_question_is_refused_and_cannot_make_a_name_vanish(world):
    """TYPE0 once shared its cache key with "no such name": a NODATA for it read as NXDOMAIN."""
    assert world.ask("mail.webtrip.test", "A").answer
    attack = world.ask("mail.webtrip.test", "TYPE0")
    assert attack.rcode() == dns.rcode.REFUSED
    after = world.ask("mail.webtrip.test", "A")
    assert after.rcode() == dns.rcode.NOERROR and after.answer
    # The engine's own cache keeps NXDOMAIN under a key that no type can take.
    world.resolve("mail.webtrip.test", 0)
    assert world.resolve("mail.webtrip.test", "AAAA").rcode != dns.rcode.NXDOMAIN


def test_the_message_cache_key_keeps_the_types_letter_case():
    """Only the name is case-insensitive: 0x41 (HTTPS) and 0x61 (type 97) are two types."""
    from webtrip.dns.resolver_service import _question

    def key(name: str, rdtype: int) -> bytes:
        question = _question(make_query(name, rdtype).to_wire())
        assert question is not None
        return question.key

    assert key("WWW.Webtrip.TEST", 1) == key("www.webtrip.test", 1)
    assert key("www.webtrip.test", 65) != key("www.webtrip.test", 97)
    assert key("www.webtrip.test", 67) != key("www.webtrip.test", 99)


def test_over_tcp_a_slow_question_does_not_hold_back_a_quick_one(world):
    """RFC 7766 §6.2.1.1: pipelined answers may go out of order, and should."""
    world.ask("www.webtrip.test", "A")  # now in the message cache
    network = world.world.network(world.hosts[CLIENT])

    async def pipeline() -> list[tuple[float, str]]:
        stream = await network.open_tcp_stream(RESOLVER, 53)
        slow = make_query("x.evil.test", "A", rng=network.random).to_wire()  # a silent zone
        quick = make_query("www.webtrip.test", "A", rng=network.random).to_wire()
        started = network.now()
        await stream.send_all(b"".join(struct.pack("!H", len(m)) + m for m in (slow, quick)))
        buffer, got = b"", []
        while len(got) < 2:
            data = await stream.receive_some()
            assert data, "the resolver closed the connection"
            buffer += data
            while len(buffer) >= 2 and len(buffer) >= 2 + struct.unpack("!H", buffer[:2])[0]:
                size = struct.unpack("!H", buffer[:2])[0]
                message = dns.message.from_wire(buffer[2 : 2 + size])
                buffer = buffer[2 + size :]
                got.append((network.now() - started, message.question[0].name.to_text()))
        await stream.aclose()
        return got

    (first_at, first), (last_at, last) = world.world.run(pipeline())
    assert (first, last) == ("www.webtrip.test.", "x.evil.test.")
    assert first_at < 0.1 and last_at > 5  # the quick one at once, the slow one after retries


def test_waiting_clients_are_bounded_not_just_distinct_questions():
    world = World(max_pending=10, max_waiting=50)
    network = world.world.network(world.hosts[CLIENT])

    async def flood() -> list[int]:
        endpoint = await network.open_udp_endpoint("0.0.0.0", 0)
        wire = make_query("x.evil.test", "A", rng=network.random).to_wire()
        for _ in range(200):
            endpoint.send(wire, (RESOLVER, 53))
        rcodes = []
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.5):
                while True:
                    data, _source = await endpoint.receive()
                    rcodes.append(dns.message.from_wire(data).rcode())
        endpoint.close()
        return rcodes

    try:
        rcodes = world.world.run(flood())
        # Beyond 50 waiting clients the answer is SERVFAIL at once, not one more task each.
        assert rcodes.count(dns.rcode.SERVFAIL) >= 150
        assert world.service._waiting <= 50
        reasons = {e.reason for e in world.answered() if e.rcode == "SERVFAIL"}
        assert "50 clients are waiting for answers already" in reasons
    finally:
        world.close()


class _ChaosGlue:
    """An authority for sub.evil.test that gives class-CH "glue" with its referral."""

    def respond(self, wire: bytes, transport: str, peer: tuple[str, int]) -> bytes:
        query_message = dns.message.from_wire(wire)
        response = dns.message.make_response(query_message)
        name = query_message.question[0].name
        if name.is_subdomain(dns.name.from_text("sub.evil.test.")):
            response.authority.append(
                dns.rrset.from_text("sub.evil.test.", 3600, "IN", "NS", "ns.sub.evil.test.")
            )
            response.additional.append(
                dns.rrset.from_text("ns.sub.evil.test.", 3600, "CH", "A", "ch.example. 1234")
            )
        else:
            response.flags |= dns.flags.AA
        return response.to_wire()


def test_glue_of_another_class_is_not_kept(world):
    world.add_host("10.0.0.5")
    world.serve("10.0.0.5", _ChaosGlue())
    for name in ("x.sub.evil.test", "ns.sub.evil.test"):
        assert world.ask(name, "A").rcode() == dns.rcode.SERVFAIL  # no way to reach sub.evil
    reasons = [e.reason for e in world.answered()]
    assert not any("internal error" in reason for reason in reasons), reasons
    assert all(rrset.rdclass == dns.rdataclass.IN for rrset in world.ask("ns.sub.evil.test").answer)


def test_closing_the_server_stops_the_resolutions_behind_it(world):
    network = world.world.network(world.hosts[CLIENT])

    async def ask_then_close() -> int:
        endpoint = await network.open_udp_endpoint("0.0.0.0", 0)
        endpoint.send(make_query("x.evil.test", "A", rng=network.random).to_wire(), (RESOLVER, 53))
        await asyncio.sleep(0.5)
        assert world.service._pending  # a walk is under way
        await world.servers[-1].aclose()
        before = world.packets()
        await asyncio.sleep(30)
        endpoint.close()
        return world.packets() - before

    assert world.world.run(ask_then_close()) == 0
    assert not world.service._pending
