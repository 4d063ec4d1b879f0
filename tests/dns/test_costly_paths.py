"""The DNS server's costly paths (issue 14, item 6): 0x20 questions, junk, and floods.

Resolvers vary the letter case of their questions (DNS 0x20) to make spoofing
harder; such a question must still be answered from the packet cache or the
fast path, with the case echoed exactly. Malformed packets are refused before
any parsing; response-rate limiting (RRL) bounds what one source can get.
"""

from __future__ import annotations

import asyncio
import random
import socket
import subprocess
import time

import dns.flags
import dns.message
import dns.query
import dns.rcode
import pytest

from peers.nsd import nsd_server
from support import ZONES, require_program
from webtrip.dns.authority import Authority
from webtrip.dns.rrl import RateLimiter
from webtrip.dns.server import DnsServer
from webtrip.dns.zones import ZoneSet, load_zone
from webtrip.net import RealNetwork

ZONE = ZONES / "example.test.zone"
NAMES = ("chain1.example.test.", "www.example.test.", "alias.example.test.", "x.wild.example.test.")


def zero_x20(name: str, rng: random.Random) -> str:
    """``name`` with each letter in a random case, as a 0x20-aware resolver sends it."""
    return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in name)


def authority() -> Authority:
    return Authority(ZoneSet([load_zone(ZONE)]))


def test_a_case_varied_cname_chain_is_answered_from_the_cache_with_its_case_echoed():
    server = authority()
    rng = random.Random(14)
    server.respond(dns.message.make_query("chain1.example.test", "A").to_wire())
    assert server.stats.general == 1
    for _ in range(50):
        name = zero_x20("chain1.example.test.", rng)
        query = dns.message.make_query(name, "A")
        wire = server.respond(query.to_wire())
        assert wire is not None
        response = dns.message.from_wire(wire)
        assert response.id == query.id
        assert response.question[0].name.to_text() == name  # the exact case, not folded
        assert [rrset.name.to_text().lower() for rrset in response.answer] == [
            "chain1.example.test.", "chain2.example.test.", "chain3.example.test.",
            "www.example.test.",
        ]  # fmt: skip
        # The answer's owner is a pointer into the question: it carries its case too.
        assert response.answer[0].name.to_text() == name
    assert server.stats.general == 1  # every variant came from the packet cache
    assert server.stats.cached == 50


def test_a_case_varied_answer_is_the_same_bytes_as_the_lower_case_one_but_the_question():
    rng = random.Random(6)
    for name in NAMES:
        for rdtype in ("A", "AAAA", "TXT"):
            varied = zero_x20(name, rng)
            lower = dns.message.make_query(name, rdtype, use_edns=0).to_wire()
            upper = dns.message.make_query(varied, rdtype, use_edns=0).to_wire()
            upper = lower[:2] + upper[2:]  # the same ID
            warm, cold = authority(), authority()
            warm.respond(lower)
            from_cache = warm.respond(upper)
            computed = cold.respond(upper)  # no cache: the fast or general path
            assert from_cache == computed, (name, rdtype)
            assert warm.stats.cached == 1


def test_the_cache_does_not_replay_a_dname_synthesis_for_another_case(tmp_path):
    zone = tmp_path / "d.test.zone"
    zone.write_text(
        "$ORIGIN d.test.\n$TTL 60\n@ SOA ns hostmaster 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n"
        "old DNAME new.d.test.\nx.new A 192.0.2.2\n"
    )
    server = Authority(ZoneSet([load_zone(zone)]))
    server.respond(dns.message.make_query("x.old.d.test", "A").to_wire())
    wire = server.respond(dns.message.make_query("X.old.d.test", "A").to_wire())
    assert wire is not None
    cname = [r for r in dns.message.from_wire(wire).answer if r.rdtype == dns.rdatatype.CNAME]
    # The synthesised CNAME repeats the query's own letters (RFC 6672 §3.2).
    assert cname[0].name.labels[0] == b"X"
    assert cname[0][0].target.labels[0] == b"X"


@pytest.mark.parametrize(
    "junk",
    [
        b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01\x00\x01",  # pointer
        b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www",  # cut inside the name
        b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + b"\x3fa" + b"x" * 62,
        b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + b"\x3f" + b"x" * 63 * 5,
        b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00",  # no type and class
    ],
)
def test_a_malformed_question_gets_formerr_without_being_parsed(junk):
    server = authority()
    wire = server.respond(junk)
    assert wire is not None
    assert dns.message.from_wire(wire).rcode() == dns.rcode.FORMERR
    assert wire[:2] == junk[:2]
    assert (server.stats.malformed, server.stats.general, server.stats.fast) == (1, 0, 0)


def test_short_packets_and_responses_are_dropped_at_the_header():
    server = authority()
    response = server.respond(dns.message.make_query("www.example.test", "A").to_wire())
    assert response is not None
    assert server.respond(b"\x00" * 11) is None
    assert server.respond(response) is None
    assert server.stats.dropped == 2


@pytest.mark.peer("nsd")
def test_a_case_varied_answer_is_byte_for_byte_nsds_but_the_id():
    rng = random.Random(20)
    server = authority()
    with nsd_server([ZONE], extra_server_options=["minimal-responses: yes"]) as nsd:
        for name in ("chain1.example.test.", "www.example.test."):
            for _ in range(3):
                query = dns.message.make_query(zero_x20(name, rng), "A", use_edns=False)
                ours = server.respond(query.to_wire())
                theirs = dns.query.udp(query, nsd.host, port=nsd.port, timeout=2).to_wire()
                assert ours is not None
                assert ours[2:] == theirs[2:], name


@pytest.mark.peer("dig")
def test_dig_accepts_a_case_varied_cached_answer(tmp_path):
    from support import webtrip_dns_server

    dig = require_program("dig")
    with webtrip_dns_server([ZONE]) as running:
        for name in ("chain1.example.test", "cHaIn1.ExAmPlE.tEsT", "CHAIN1.EXAMPLE.TEST"):
            out = subprocess.run(
                [dig, "@" + running.host, "-p", str(running.port), name, "A", "+norec",
                 "+tries=1", "+time=2"],
                capture_output=True, text=True, timeout=10, check=True,
            ).stdout  # fmt: skip
            assert "status: NOERROR" in out
            assert f";{name}.\t" in out  # the question as sent
            assert "192.0.2.10" in out
            assert "WARNING" not in out


# --------------------------------------------------------------------------- RRL


def a_query(name: str = "www.example.test") -> bytes:
    return dns.message.make_query(name, "A").to_wire()


def test_a_token_bucket_refills_at_its_rate_and_slips_every_nth():
    limiter = RateLimiter(10, slip=3)
    response = authority().respond(a_query())
    assert response is not None
    sent = [limiter.check(response, "192.0.2.7", 0.0) for _ in range(16)]
    assert sent[:10] == [response] * 10  # a second's burst
    held = sent[10:]
    assert [r is None for r in held] == [True, True, False, True, True, False]
    slip = dns.message.from_wire(held[2])
    assert slip.flags & dns.flags.TC and not slip.answer
    assert slip.question == dns.message.from_wire(response).question
    # A tenth of a second later, one token has come back.
    assert limiter.check(response, "192.0.2.7", 0.1) == response
    assert limiter.check(response, "192.0.2.7", 0.1) is None


def test_buckets_are_per_prefix_and_per_answer_kind():
    server = authority()
    limiter = RateLimiter(2, slip=0)
    answer = server.respond(a_query())
    nxdomain = server.respond(a_query("nope.example.test"))
    assert answer is not None and nxdomain is not None
    for _ in range(2):
        assert limiter.check(nxdomain, "192.0.2.7", 0.0) is not None
    assert limiter.check(nxdomain, "192.0.2.200", 0.0) is None  # the same /24
    assert limiter.check(answer, "192.0.2.7", 0.0) == answer  # another kind
    assert limiter.check(nxdomain, "198.51.100.7", 0.0) == nxdomain  # another /24
    assert limiter.check(nxdomain, "2001:db8:0:ff::1", 0.0) == nxdomain
    assert limiter.check(nxdomain, "2001:db8:0:ff::2", 0.0) == nxdomain
    assert limiter.check(nxdomain, "2001:db8:0:1::3", 0.0) is None  # the same /56


def test_the_bucket_table_is_bounded():
    limiter = RateLimiter(1, max_buckets=100)
    response = authority().respond(a_query())
    assert response is not None
    for i in range(1000):
        limiter.check(response, f"10.{i >> 8}.{i & 255}.1", 0.0)
    assert len(limiter._buckets) == 100


def test_loopback_listeners_are_not_limited_unless_asked():
    network = RealNetwork()
    limiter = RateLimiter(5)
    by_default = DnsServer(network, authority(), rate_limiter=limiter)
    assert by_default._limiter_for("127.0.0.1") is None
    assert by_default._limiter_for("::1") is None
    assert by_default._limiter_for("192.0.2.53") is limiter
    asked = DnsServer(network, authority(), rate_limiter=limiter, limit_loopback=True)
    assert asked._limiter_for("127.0.0.1") is limiter


def _socket_from(host: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    sock.setblocking(False)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    return sock


def _drain(sock: socket.socket) -> list[bytes]:
    out = []
    while True:
        try:
            out.append(sock.recv(4096))
        except BlockingIOError:
            return out


def test_a_flood_from_one_source_is_limited_while_another_source_is_answered():
    rate, flood = 50, 600

    async def scenario() -> tuple[list[bytes], list[bytes], int]:
        server = DnsServer(
            RealNetwork(), authority(), rate_limiter=RateLimiter(rate, ipv4_prefix=32),
            limit_loopback=True,
        )  # fmt: skip
        await server.start([("127.0.0.1", 0)])
        address = server.addresses[0]
        flooder, honest = _socket_from("127.0.0.2"), _socket_from("127.0.0.3")
        honest_answers: list[bytes] = []
        flood_answers: list[bytes] = []
        try:
            started = time.monotonic()
            for i in range(flood):  # bounded: 600 datagrams, in bursts of 50
                flooder.sendto(a_query(f"n{i}.example.test"), address)
                if i % 50 == 49:
                    await asyncio.sleep(0.005)
                    flood_answers += _drain(flooder)
                    honest.sendto(a_query(), address)
                    await asyncio.sleep(0.005)
                    honest_answers += _drain(honest)
            await asyncio.sleep(0.2)
            flood_answers += _drain(flooder)
            honest_answers += _drain(honest)
            elapsed = time.monotonic() - started
        finally:
            flooder.close()
            honest.close()
            await server.aclose()
        return flood_answers, honest_answers, int(elapsed) + 1

    flood_answers, honest_answers, seconds = asyncio.run(scenario())
    whole = [w for w in flood_answers if not dns.message.from_wire(w).flags & dns.flags.TC]
    slips = [w for w in flood_answers if dns.message.from_wire(w).flags & dns.flags.TC]
    assert len(whole) <= rate * (1 + seconds)  # the burst, plus what refilled meanwhile
    assert slips  # every 2nd held-back answer tells a real client to retry over TCP
    assert len(whole) + len(slips) < flood * 0.75
    assert len(honest_answers) == flood // 50  # every honest question answered
    assert all(dns.message.from_wire(w).answer for w in honest_answers)


@pytest.mark.peer("unbound")
def test_unbound_with_0x20_accepts_our_answers():
    """Unbound (use-caps-for-id: yes) varies the case of what it asks us and
    checks the echo; it must accept every answer, cached ones included."""
    from peers.unbound import unbound_server
    from support import webtrip_dns_server

    with webtrip_dns_server([ZONE], extra=["--log"]) as ours:
        with unbound_server(
            forward=[(ours.host, ours.port)],
            extra_server_options=["use-caps-for-id: yes", "cache-max-ttl: 0"],
        ) as unbound:
            for _ in range(3):  # asked again: our packet cache answers the new case
                for name in ("chain1.example.test.", "www.example.test."):
                    query = dns.message.make_query(name, "A")
                    got = dns.query.udp(query, unbound.host, port=unbound.port, timeout=5)
                    assert got.rcode() == dns.rcode.NOERROR, unbound.log()
                    assert "192.0.2.10" in got.to_text(), unbound.log()
        ours.process.terminate()
        log, _ = ours.process.communicate(timeout=10)
    asked = [line.split()[3] for line in log.splitlines() if " udp " in line]
    assert any(name != name.lower() for name in asked), log  # 0x20 was on


def test_dns_serve_documents_rrl_and_refuses_a_bad_rate():
    from click.testing import CliRunner

    from webtrip.cli import cli

    runner = CliRunner()
    shown = runner.invoke(cli, ["dns", "serve", "--help"])
    assert shown.exit_code == 0
    text = " ".join(shown.output.split())
    assert "--rrl N" in text and "off on loopback" in text and "--rrl-slip N" in text
    bad = runner.invoke(cli, ["dns", "serve", "--zone", str(ZONE), "--rrl", "-5"])
    assert bad.exit_code == 2
    assert "Traceback" not in bad.output
