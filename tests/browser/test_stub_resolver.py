"""Step 1 on the client: the stub resolver, against real DNS servers on loopback.

Specification, checked with :class:`~webtrip.browser.stub_resolver.StubResolver`
over real sockets (``RealNetwork``), against a live ``webtrip dns serve`` or
a scripted UDP server running in a thread of the test:

* **A and AAAA at once.** A name is asked twice — A and AAAA — as two DNS
  messages with different IDs from different source ports; the addresses of
  both answers are returned, IPv6 first.
* **Aliases.** A CNAME chain inside one answer is followed to its end (the
  chain, the canonical name and the smallest TTL are reported); when the
  server stops at an alias whose target it does not hold, the target is
  asked about with a new question; a CNAME loop ends in DnsFailure.
* **Failures are typed.** NXDOMAIN → NameNotFound; a name with no A or AAAA
  → NoAddress; a server that never answers → DnsFailure, after the
  configured tries, within the timeout bound; a REFUSED answer → DnsFailure.
* **Tries.** By default glibc's: 2 tries, 5 s apart. A new try (new ID, new
  port) does not give up on the earlier ones: a late answer to the first
  try, arriving after the second went out, is still taken (Chromium keeps
  its earlier attempts open; glibc keeps its socket).
* **No DNS when none is needed.** A name in the hosts table is answered
  from it (case and final dot ignored); an IP literal is its own address.
  Neither sends a single DNS message.
* **Spoofing.** A reply with the wrong ID, from another port, from another
  address or for another question is ignored: only the real answer counts.
* **Unpredictable queries.** Over 200 queries, IDs and source ports are
  neither sequential nor clustered.

Every server listens on loopback only and is stopped at the end of its test.
"""

from __future__ import annotations

import asyncio
import itertools
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from support import ZONES, RunningServer, free_port, webtrip_dns_server
from webtrip.browser.errors import DnsFailure, LoadError, NameNotFound, NoAddress
from webtrip.browser.stub_resolver import ResolvedName, StubResolver
from webtrip.net import Address, RealNetwork
from webtrip.trace import DnsMessageReceived, DnsMessageSent, Trace

LAB_ZONE = ZONES / "lab.test.zone"
LAB2_ZONE = """\
$ORIGIN lab2.test.
$TTL 300
@    IN SOA ns.lab2.test. hostmaster.lab2.test. 1 3600 600 86400 60
     IN NS  ns.lab2.test.
ns   IN A   127.0.0.1
www  IN A   192.0.2.20
"""

DUAL = ("2001:db8::10", "192.0.2.10")  # dual.lab.test: AAAA first, then A


# --- helpers --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dns_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """``webtrip dns serve`` with lab.test and a second zone, lab2.test."""
    lab2 = tmp_path_factory.mktemp("zones") / "lab2.test.zone"
    lab2.write_text(LAB2_ZONE)
    with webtrip_dns_server([LAB_ZONE, lab2]) as running:
        yield running


def address_of(server: RunningServer) -> Address:
    return (server.host, server.port)


def resolve(
    name: str,
    nameserver: Address,
    *,
    hosts: dict[str, list[str]] | None = None,
    timeout: float = 2.0,
    attempts: int = 2,
) -> tuple[ResolvedName | LoadError, Trace, float]:
    """Resolve ``name`` once: (the ResolvedName or the LoadError raised, the trace, seconds)."""

    async def main() -> tuple[ResolvedName | LoadError, Trace, float]:
        network = RealNetwork()
        trace = Trace(network.now)
        resolver = StubResolver(
            network,
            trace,
            nameserver=nameserver,
            hosts={} if hosts is None else hosts,
            timeout=timeout,
            attempts=attempts,
        )
        started = time.monotonic()
        try:
            outcome: ResolvedName | LoadError = await resolver.resolve(name)
        except LoadError as exc:
            outcome = exc
        return outcome, trace, time.monotonic() - started

    return asyncio.run(main())


def questions(trace: Trace) -> list[tuple[str, str]]:
    """(name, type) of every DNS query the resolver sent, in order."""
    found = []
    for event in trace.of_type(DnsMessageSent):
        message = event.message
        assert message is not None, "the resolver sent bytes that are not a DNS message"
        question = message.question[0]
        found.append((question.name.to_text(True), dns.rdatatype.to_text(question.rdtype)))
    return found


Script = Callable[[dns.message.Message, Address, "ScriptedDnsServer"], None]


class ScriptedDnsServer:
    """A UDP "DNS server" on 127.0.0.1 whose every reply the test writes.

    ``script(query, client, server)`` runs for each query received and sends
    whatever it likes: from the server's socket (``sock``), from another port
    of the same address (``other_port``) or from the same port of another
    loopback address, 127.0.0.2 (``other_host``). A server with no script
    reads every query and never answers. It runs in a thread until the
    ``with`` block ends; an exception in the script fails the test there.
    """

    def __init__(self, script: Script | None = None) -> None:
        self.script = script
        self.sock = _udp_socket("127.0.0.1", 0)
        self.address: Address = self.sock.getsockname()
        self.other_port = _udp_socket("127.0.0.1", 0)
        self.other_host = _udp_socket("127.0.0.2", self.address[1])
        self.forgers: set[Address] = {
            self.other_port.getsockname(),
            self.other_host.getsockname(),
        }
        self.queries: list[dns.message.Message] = []
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> ScriptedDnsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for sock in (self.sock, self.other_port, self.other_host):
            sock.close()
        assert not self._thread.is_alive(), "the scripted DNS server did not stop"
        if self.errors and exc_info[0] is None:
            raise self.errors[0]

    def _serve(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.sock], [], [], 0.05)
            if not ready:
                continue
            data, client = self.sock.recvfrom(65535)
            try:
                query = dns.message.from_wire(data)
            except Exception:  # not a DNS message: a real server would drop it too
                continue
            self.queries.append(query)
            if self.script is None:
                continue
            try:
                self.script(query, client, self)
            except Exception as exc:
                self.errors.append(exc)


def _udp_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, port))
    return sock


def reply(query: dns.message.Message, *records: tuple[str, str, str]) -> dns.message.Message:
    """An authoritative answer to ``query`` holding ``(name, type, value)`` records."""
    response = dns.message.make_response(query)
    for name, rdtype, value in records:
        response.answer.append(dns.rrset.from_text(name, 60, "IN", rdtype, value))
    return response


def qtype_of(query: dns.message.Message) -> str:
    return dns.rdatatype.to_text(query.question[0].rdtype)


# --- A and AAAA, and aliases ----------------------------------------------------------


def test_a_and_aaaa_are_asked_at_once_with_different_ids_and_ports(dns_server):
    outcome, trace, _ = resolve("dual.lab.test", address_of(dns_server))

    assert isinstance(outcome, ResolvedName)
    assert outcome.addresses == DUAL
    assert outcome.source == "dns"
    assert outcome.server == address_of(dns_server)
    assert outcome.ttl == 120
    sent = trace.of_type(DnsMessageSent)
    assert sorted(questions(trace)) == [("dual.lab.test", "A"), ("dual.lab.test", "AAAA")]
    assert len({event.message.id for event in sent}) == 2, "each query has its own ID"
    assert len({event.local[1] for event in sent}) == 2, "each query leaves from its own port"
    assert all(event.peer == address_of(dns_server) for event in sent)
    # Both were sent before either answer arrived: asked at once, not one after the other.
    first_answer = min(event.t for event in trace.of_type(DnsMessageReceived))
    assert all(event.t <= first_answer for event in sent)


@pytest.mark.parametrize(
    ("name", "chain"),
    [
        ("alias.lab.test", ("dual.lab.test",)),
        ("chain1.lab.test", ("chain2.lab.test", "dual.lab.test")),
    ],
)
def test_a_cname_chain_in_the_answer_is_followed_without_new_questions(dns_server, name, chain):
    outcome, trace, _ = resolve(name, address_of(dns_server))

    assert isinstance(outcome, ResolvedName)
    assert outcome.addresses == DUAL
    assert outcome.chain == chain
    assert outcome.canonical == "dual.lab.test"
    assert outcome.ttl == 120, "the smallest TTL along the chain"
    assert sorted(questions(trace)) == [(name, "A"), (name, "AAAA")]


def test_a_cname_into_another_zone_of_the_same_server_comes_in_one_answer(dns_server):
    outcome, trace, _ = resolve("across.lab.test", address_of(dns_server))

    assert isinstance(outcome, ResolvedName)
    assert outcome.addresses == ("192.0.2.20",)
    assert outcome.chain == ("www.lab2.test",)
    assert outcome.canonical == "www.lab2.test"
    assert len(questions(trace)) == 2, "the server followed the alias itself"


def test_a_cname_to_a_name_the_server_does_not_hold_is_asked_again(dns_server):
    # Our authoritative server stops at www.elsewhere.invalid; the resolver
    # asks that name next — and, since the server holds no such zone, is refused.
    outcome, trace, _ = resolve("outside.lab.test", address_of(dns_server))

    asked = questions(trace)
    assert sorted(asked[:2]) == [("outside.lab.test", "A"), ("outside.lab.test", "AAAA")]
    assert sorted(asked[2:]) == [("www.elsewhere.invalid", "A"), ("www.elsewhere.invalid", "AAAA")]
    assert isinstance(outcome, DnsFailure)
    assert "REFUSED" in str(outcome)


def test_the_target_of_an_alias_is_resolved_with_a_new_question():
    def script(query: dns.message.Message, client: Address, server: ScriptedDnsServer) -> None:
        name = query.question[0].name.to_text(True)
        if name == "start.test":  # only the alias: the target is "not ours"
            response = reply(query, ("start.test.", "CNAME", "target.test."))
        elif name == "target.test" and qtype_of(query) == "A":
            response = reply(query, ("target.test.", "A", "192.0.2.77"))
        else:
            response = reply(query)  # NODATA
        server.sock.sendto(response.to_wire(), client)

    with ScriptedDnsServer(script) as server:
        outcome, trace, _ = resolve("start.test", server.address)

    assert isinstance(outcome, ResolvedName)
    assert outcome.addresses == ("192.0.2.77",)
    assert outcome.chain == ("target.test",)
    assert outcome.canonical == "target.test"
    asked = questions(trace)
    assert sorted(asked[:2]) == [("start.test", "A"), ("start.test", "AAAA")]
    assert sorted(asked[2:]) == [("target.test", "A"), ("target.test", "AAAA")]


@pytest.mark.parametrize("failing", ["AAAA", "A"])
def test_one_family_failing_does_not_stop_the_other(failing):
    """SERVFAIL for one of A/AAAA: the other family's addresses are used, as browsers do."""

    def script(query: dns.message.Message, client: Address, server: ScriptedDnsServer) -> None:
        if qtype_of(query) == failing:
            response = reply(query)
            response.set_rcode(dns.rcode.SERVFAIL)
        elif qtype_of(query) == "A":
            response = reply(query, ("half.test.", "A", "192.0.2.5"))
        else:
            response = reply(query, ("half.test.", "AAAA", "2001:db8::5"))
        server.sock.sendto(response.to_wire(), client)

    with ScriptedDnsServer(script) as server:
        outcome, _, _ = resolve("half.test", server.address)
    assert isinstance(outcome, ResolvedName)
    assert outcome.addresses == (("2001:db8::5",) if failing == "A" else ("192.0.2.5",))


def test_the_default_tries_are_glibcs():
    resolver = StubResolver(RealNetwork(), hosts={})
    assert (resolver.attempts, resolver.timeout) == (2, 5.0)


def test_a_late_answer_to_an_earlier_try_is_still_taken():
    """Each question's first try is answered 0.45 s late, after the second try (0.3 s)
    went out; later tries are never answered."""
    answered: set[str] = set()
    timers: list[threading.Timer] = []

    def late(query: dns.message.Message, client: Address, server: ScriptedDnsServer) -> None:
        qtype = qtype_of(query)
        if qtype in answered:
            return
        answered.add(qtype)
        records = [("late.test.", "A", "192.0.2.9")] if qtype == "A" else []
        wire = reply(query, *records).to_wire()
        timers.append(threading.Timer(0.45, server.sock.sendto, (wire, client)))
        timers[-1].start()

    with ScriptedDnsServer(late) as server:
        outcome, _, seconds = resolve("late.test", server.address, timeout=0.3)
        for timer in timers:
            timer.join()
        asked = len(server.queries)
    assert isinstance(outcome, ResolvedName), outcome
    assert outcome.addresses == ("192.0.2.9",)
    assert asked == 4 and 0.4 < seconds < 0.6


def test_both_families_failing_is_a_dns_failure():
    def script(query: dns.message.Message, client: Address, server: ScriptedDnsServer) -> None:
        response = reply(query)
        response.set_rcode(dns.rcode.SERVFAIL)
        server.sock.sendto(response.to_wire(), client)

    with ScriptedDnsServer(script) as server:
        outcome, _, _ = resolve("broken.test", server.address)
    assert isinstance(outcome, DnsFailure) and "SERVFAIL" in str(outcome)


def test_a_cname_loop_ends_in_a_dns_failure(dns_server):
    outcome, trace, elapsed = resolve("loop1.lab.test", address_of(dns_server))

    assert isinstance(outcome, DnsFailure)
    assert "aliases" in str(outcome)
    assert len(questions(trace)) <= 2 * 8, "a bounded number of questions"
    assert elapsed < 2


# --- failures ---------------------------------------------------------------------------


def test_nxdomain_is_name_not_found(dns_server):
    outcome, _, _ = resolve("missing.lab.test", address_of(dns_server))

    assert isinstance(outcome, NameNotFound)
    assert outcome.exit_code == 10
    assert "missing.lab.test" in str(outcome)


def test_a_name_without_an_address_is_no_address(dns_server):
    outcome, trace, _ = resolve("noaddr.lab.test", address_of(dns_server))

    assert isinstance(outcome, NoAddress)
    assert outcome.exit_code == 11
    assert len(questions(trace)) == 2


def test_a_refused_question_is_a_dns_failure(dns_server):
    outcome, _, _ = resolve("www.not-served.invalid", address_of(dns_server))

    assert isinstance(outcome, DnsFailure)
    assert outcome.exit_code == 12
    assert "REFUSED" in str(outcome)


def test_a_server_that_never_answers_is_a_dns_failure_within_the_timeout():
    with ScriptedDnsServer(script=None) as silent:
        outcome, trace, elapsed = resolve("dual.lab.test", silent.address, timeout=0.3, attempts=2)
        received = len(silent.queries)

    assert isinstance(outcome, DnsFailure)
    assert outcome.exit_code == 12
    assert "did not answer" in str(outcome)
    # Two tries of 0.3 s each, A and AAAA in parallel: 0.6 s, not much more.
    assert 0.55 <= elapsed < 1.5
    sent = trace.of_type(DnsMessageSent)
    assert len(sent) == 4 and received == 4
    assert len({event.message.id for event in sent}) == 4, "a retry has a new ID"


# --- no DNS when none is needed ------------------------------------------------------------


@pytest.mark.parametrize("name", ["myhost.lab.test", "MyHost.Lab.Test."])
def test_a_name_in_the_hosts_table_is_answered_from_it(name):
    hosts = {"myhost.lab.test": ["127.0.0.5", "::5"]}
    nowhere = ("127.0.0.1", free_port())  # would time out if asked
    outcome, trace, _ = resolve(name, nowhere, hosts=hosts, timeout=0.2, attempts=1)

    assert isinstance(outcome, ResolvedName)
    assert outcome.source == "hosts"
    assert outcome.addresses == ("127.0.0.5", "::5")
    assert trace.of_type(DnsMessageSent) == []


@pytest.mark.parametrize(
    ("literal", "address"),
    [("127.0.0.1", "127.0.0.1"), ("::1", "::1"), ("[::1]", "::1"), ("192.0.2.1", "192.0.2.1")],
)
def test_an_ip_literal_needs_no_dns(literal, address):
    nowhere = ("127.0.0.1", free_port())
    outcome, trace, _ = resolve(literal, nowhere, hosts={"192.0.2.1": ["10.9.9.9"]}, timeout=0.2)

    assert isinstance(outcome, ResolvedName)
    assert outcome.source == "literal"
    assert outcome.addresses == (address,)
    assert trace.of_type(DnsMessageSent) == []


# --- spoofing -----------------------------------------------------------------------------

FORGED = {"A": "203.0.113.66", "AAAA": "2001:db8::bad"}
TRUE = {"A": "192.0.2.10", "AAAA": "2001:db8::10"}


def spoofer(query: dns.message.Message, client: Address, server: ScriptedDnsServer) -> None:
    """Four forged replies, then — a little later — the real one."""
    qtype = qtype_of(query)
    owner = query.question[0].name.to_text()
    forged = reply(query, (owner, qtype, FORGED[qtype]))

    wrong_id = reply(query, (owner, qtype, FORGED[qtype]))
    wrong_id.id = (query.id + 1) % 65536
    server.sock.sendto(wrong_id.to_wire(), client)  # 1. the right source, the wrong ID
    server.other_port.sendto(forged.to_wire(), client)  # 2. the right ID, another port
    server.other_host.sendto(forged.to_wire(), client)  # 3. the right ID, another address
    other = dns.message.make_query("www.evil.test", qtype)
    other.id = query.id
    other_reply = reply(other, ("www.evil.test.", qtype, FORGED[qtype]))
    server.sock.sendto(other_reply.to_wire(), client)  # 4. the right ID, another question
    time.sleep(0.05)  # let the forgeries arrive first
    server.sock.sendto(reply(query, (owner, qtype, TRUE[qtype])).to_wire(), client)


def test_forged_replies_are_ignored_and_the_real_answer_is_used():
    with ScriptedDnsServer(spoofer) as server:
        outcome, trace, _ = resolve("dual.lab.test", server.address)

    assert isinstance(outcome, ResolvedName)
    assert outcome.addresses == DUAL
    assert not set(FORGED.values()) & set(outcome.addresses)
    # The resolver did receive every forgery — and took none of them.
    received = trace.of_type(DnsMessageReceived)
    assert len(received) == 2 * 5
    sources = {event.peer for event in received}
    assert sources == {server.address, *server.forgers}


# --- unpredictable IDs and ports ---------------------------------------------------------


def ephemeral_port_span() -> int:
    """How many ports the kernel picks "any free port" from (Linux's default if unknown)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    except (OSError, ValueError):
        return 60999 - 32768
    return int(high) - int(low)


def test_query_ids_and_source_ports_are_random(dns_server):
    async def main() -> Trace:
        network = RealNetwork()
        trace = Trace(network.now)
        resolver = StubResolver(network, trace, nameserver=address_of(dns_server), hosts={})
        for _ in range(100):  # A and AAAA each time: 200 queries
            await resolver.resolve("dual.lab.test")
        return trace

    trace = asyncio.run(main())
    sent = trace.of_type(DnsMessageSent)
    assert len(sent) == 200
    ids = [event.message.id for event in sent]
    ports = [event.local[1] for event in sent]

    assert len(set(ids)) > 190
    assert len(set(ports)) > 150
    for values, span in ((ids, 65536), (ports, ephemeral_port_span())):
        steps = [b - a for a, b in itertools.pairwise(values)]
        assert sum(1 for step in steps if 0 < abs(step) <= 2) < 10, "not a counter"
        assert max(values) - min(values) > span // 2, "spread over the range"
