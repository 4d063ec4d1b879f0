"""Facts about a page load, computed once from its trace, for every view that tells it.

A trace is a long list of small events. What a person wants to hear is made
of facts that span many of them: *this lookup* asked these questions of that
server and got these answers, and the resolver behind it walked from the root;
*this connection* went to that address and took so long to open; the server
sent *that many* segments again. The narration, the sequence diagram and the
lessons all need the same facts, so they are worked out here, in one place,
and each view only words or draws them.

:func:`page_load_facts` gathers the facts of one actor's page load (the
browser's, by default): its requests' timings (:mod:`webtrip.report.timings`,
HAR's phases), its name lookups (:class:`Lookup`, with the recursive
resolver's walk when the resolver ran in the same trace), its connections
(:class:`Connection`), and, for a simulated run whose trace holds the packets,
what the servers sent again (Wireshark's TCP analysis of each server's own
capture) and how many packets went between the browser and each peer.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from typing import TypeVar

from webtrip.net import Address
from webtrip.packets.dissect import Packet, dissect
from webtrip.packets.ipv4 import addresses
from webtrip.report.pcap import captured_packets
from webtrip.report.timings import RequestTiming, request_timings
from webtrip.trace import (
    DnsMessageReceived,
    DnsMessageSent,
    FaultOutcome,
    HttpRequestRetried,
    HttpRequestSent,
    HttpResponseCompleted,
    HttpResponseStarted,
    LinkConditionsSet,
    NameLookupFailed,
    NameLookupStarted,
    NameResolved,
    PacketCaptured,
    PageLoadFinished,
    ResolverAnswered,
    ResolverStep,
    StreamRead,
    TcpConnectFailed,
    TcpConnectionOpened,
    TcpConnectStarted,
    TcpInfoRead,
    TlsHandshakeCompleted,
    Trace,
)
from webtrip.trace.events import DROP, IN, LOOPBACK, OUT, Event

DNS_PORT = 53

__all__ = [
    "Connection",
    "Lookup",
    "PageLoadFacts",
    "PathMtuError",
    "ResolverWalk",
    "SegmentLoss",
    "packet_kind",
    "packets_by_peer",
    "page_load_facts",
    "resolver_walk",
    "sent_again_to",
]


@dataclass(frozen=True)
class ResolverWalk:
    """What the recursive resolver the browser asked did for one lookup.

    ``answers``: one per question (a stub that asked again was answered by the
    same walk; a walked answer is kept over a cached one); ``steps``: the
    resolver's steps for those questions, in order.
    """

    server: Address
    answers: list[ResolverAnswered]
    steps: list[ResolverStep]

    @property
    def refused(self) -> bool:
        return all(e.rcode == "REFUSED" for e in self.answers)

    @property
    def from_cache(self) -> bool:
        return all(e.from_cache for e in self.answers)

    @property
    def first_walked(self) -> ResolverAnswered:
        """The answer that took a walk, the A question's if it did (there must be one)."""
        walked = [e for e in self.answers if not e.from_cache]
        return next((e for e in walked if e.question.endswith(" A")), walked[0])


@dataclass(frozen=True)
class Lookup:
    """Step 1 for one name: the browser's questions, their answers, and how it ended."""

    request: int
    name: str
    started: float | None  # None: no NameLookupStarted (the trace began later)
    outcome: NameResolved | NameLookupFailed | None  # None: still looking when the trace ended
    queries: list[DnsMessageSent] = field(default_factory=list)
    answers: list[DnsMessageReceived] = field(default_factory=list)
    resolver: ResolverWalk | None = None

    @property
    def ended(self) -> float | None:
        return self.outcome.t if self.outcome is not None else None

    @property
    def resolved(self) -> NameResolved | None:
        return self.outcome if isinstance(self.outcome, NameResolved) else None

    @property
    def failed(self) -> NameLookupFailed | None:
        return self.outcome if isinstance(self.outcome, NameLookupFailed) else None

    @property
    def server(self) -> Address | None:
        """The DNS server that answered (or, if the lookup failed, the last one asked)."""
        if isinstance(self.outcome, NameResolved):
            return self.outcome.server
        return self.queries[-1].peer if self.queries else None

    @property
    def questions(self) -> list[DnsMessageSent]:
        """The distinct questions asked: a retry (the same question, a new ID) is not one."""
        return list({e.wire[2:]: e for e in reversed(self.queries)}.values())

    @property
    def retries(self) -> int:
        return len(self.queries) - len(self.questions)

    @property
    def names(self) -> set[str]:
        """The name and, once resolved, its aliases and canonical name (no final dots)."""
        names = {self.name.rstrip(".")}
        if self.resolved is not None:
            names |= {n.rstrip(".") for n in (*self.resolved.chain, self.resolved.canonical)}
        return names


@dataclass(frozen=True)
class Connection:
    """Step 2 for one connection: where it went, for which request, and how it opened."""

    number: int
    request: int
    peer: Address
    started: float
    opened: TcpConnectionOpened | None = None
    failed: TcpConnectFailed | None = None
    tls: TlsHandshakeCompleted | None = None


@dataclass(frozen=True)
class SegmentLoss:
    """A data segment lost on the browser's link and how TCP got it through after all.

    ``sent``: when its sender first sent it; ``resent``: when it sent it again
    (None: never, within the trace); ``duplicate_acks``: the duplicate ACKs
    asking for it that reached the sender in between; ``by_ack``: the resend
    left at the very moment an ACK reached the sender, so that ACK caused it —
    after three duplicate ACKs a *fast retransmit* (RFC 5681 §3.2), after fewer
    a partial ACK of *fast recovery* (RFC 6582) — and otherwise the sender's
    *retransmission timeout* fired (RFC 6298); ``to_browser``: the server sent
    it (else the browser did).
    """

    sent: float
    resent: float | None
    duplicate_acks: int
    size: int
    to_browser: bool
    times: int = 1  # how many times it was lost
    by_ack: bool = False
    lost: float = -1.0  # when it was first dropped

    @property
    def fast(self) -> bool:
        """Sent again by a fast retransmit: three duplicate ACKs, then the resend."""
        return self.by_ack and self.duplicate_acks >= DUPLICATE_ACKS

    @property
    def recovery(self) -> bool:
        """Sent again during fast recovery: an ACK showed it still missing."""
        return self.by_ack and self.duplicate_acks < DUPLICATE_ACKS

    @property
    def timeout(self) -> bool:
        """Sent again when the sender's retransmission timeout fired."""
        return self.resent is not None and not self.by_ack

    @property
    def cost(self) -> float:
        """Seconds between the first sending and the second (-1 if never resent)."""
        return self.resent - self.sent if self.resent is not None else -1.0


@dataclass(frozen=True)
class PathMtuError:
    """An ICMP "fragmentation needed" (type 3, code 4) a router sent: ``router`` could not
    pass on a packet of ``size`` bytes marked "don't fragment" to ``to``, since its next
    link carries at most ``mtu`` (path MTU discovery, RFC 1191)."""

    t: float
    router: str
    to: str
    size: int
    mtu: int


DUPLICATE_ACKS = 3
"""RFC 5681 §3.2 (and netsim.congestion): the third duplicate ACK triggers a resend."""


_TcpRow = tuple[float, str, int, int, tuple[str, ...]]
"""A TCP packet at the browser: time, "in"/"out", sequence number, payload size, flags."""

_Exchange = TypeVar("_Exchange", HttpRequestSent, HttpResponseStarted, HttpResponseCompleted)


@dataclass
class PageLoadFacts:
    """The facts of the page loads ``actor`` made in ``trace``."""

    trace: Trace
    actor: str
    events: list[Event]
    timings: list[RequestTiming]

    @cached_property
    def finished(self) -> PageLoadFinished | None:
        """How the (last) load ended, if it did."""
        return next((e for e in reversed(self.events) if isinstance(e, PageLoadFinished)), None)

    @cached_property
    def first(self) -> RequestTiming | None:
        """The first request: the page's own document."""
        return self.timings[0] if self.timings else None

    @cached_property
    def lookups(self) -> list[Lookup]:
        """Every name lookup, in the order they began (one still going has no outcome)."""
        return _lookups(self.trace, self.events)

    @cached_property
    def connections(self) -> dict[int, Connection]:
        """Every connection attempt, by number."""
        return _connections(self.events)

    def sent(self, request: int) -> HttpRequestSent | None:
        return self._first_of(HttpRequestSent, request)

    def head(self, request: int) -> HttpResponseStarted | None:
        return self._first_of(HttpResponseStarted, request)

    def done(self, request: int) -> HttpResponseCompleted | None:
        return self._first_of(HttpResponseCompleted, request)

    def _first_of(self, kind: type[_Exchange], request: int) -> _Exchange | None:
        return next((e for e in self.events if isinstance(e, kind) and e.request == request), None)

    def reads(self, connection: int | None, until: float) -> int:
        """How many reads of ``connection`` returned bytes, up to ``until``."""
        return sum(
            1
            for e in self.events
            if isinstance(e, StreamRead) and e.connection == connection and e.t <= until
        )

    @cached_property
    def tcp_infos(self) -> list[TcpInfoRead]:
        """The kernel's counters of each connection, read before it closed."""
        return [e for e in self.events if isinstance(e, TcpInfoRead)]

    @cached_property
    def retried(self) -> list[HttpRequestRetried]:
        return [e for e in self.events if isinstance(e, HttpRequestRetried)]

    @cached_property
    def server_resends(self) -> int:
        """Segments the servers sent the browser again during the load (0 without packets)."""
        end = self.finished.t if self.finished is not None else float("inf")
        return sent_again_to(self.trace, self.events, self.events[0].t, end)

    # --- what the learner set: the link's conditions and the targeted faults -----------

    @cached_property
    def conditions(self) -> LinkConditionsSet | None:
        """The browser's link, when a simulated run recorded it (None on real sockets)."""
        return next(iter(self.trace.of_type(LinkConditionsSet)), None)

    @cached_property
    def fault_outcomes(self) -> list[FaultOutcome]:
        """What each ``--drop``/``--delay`` did (empty without faults)."""
        return self.trace.of_type(FaultOutcome)

    @cached_property
    def drops(self) -> list[PacketCaptured]:
        """The packets lost on the browser's link, at random or by a targeted fault, in
        either direction (a simulated run's; empty otherwise)."""
        conditions = self.conditions
        if conditions is None:
            return []
        browser = conditions.ends[0]
        captured = self.trace.of_type(PacketCaptured)
        mine = {ends[0] for e in captured if e.actor == browser and e.direction == OUT
                and (ends := addresses(e.data)) is not None}  # fmt: skip
        return [
            e for e in captured
            if e.direction == DROP and e.reason.startswith(LINK_DROPS)
            and (e.actor == browser or (e.actor == conditions.ends[1]
                                        and (addresses(e.data) or ("", ""))[1] in mine))
        ]  # fmt: skip

    def browser_packets(self, connection: int) -> list[_TcpRow]:
        """The TCP packets of the browser's ``connection`` at the browser's own node, in
        order: (time, "in"/"out", sequence number, payload size, flags). Empty without
        packets (a real run) or if the connection never opened."""
        conditions = self.conditions
        opened = self.connections.get(connection)
        if conditions is None or opened is None or opened.opened is None:
            return []
        port = opened.opened.local[1]
        rows = []
        for event in self.trace.of_type(PacketCaptured):
            if event.actor != conditions.ends[0] or event.direction not in (IN, OUT):
                continue
            try:
                packet = dissect(event.data)
            except ValueError:
                continue
            tcp = packet.tcp
            mine = packet.source_port if event.direction == OUT else packet.destination_port
            if tcp is not None and mine == port:
                rows.append((event.t, event.direction, tcp.sequence, tcp.payload_size, tcp.flags))
        return rows

    @cached_property
    def segment_losses(self) -> list[SegmentLoss]:
        """The data segments lost on the browser's link, each with how it was resent
        (a simulated run's; empty otherwise), one per segment, lost once or more."""
        lost = [e for e in self.drops if packet_kind(e.data) == "data"]
        if not lost:
            return []
        browser = self.conditions.ends[0] if self.conditions is not None else ""
        captured = [(e, p) for e in self.trace.of_type(PacketCaptured)
                    if e.direction in (IN, OUT) and (p := _tcp(e.data)) is not None]  # fmt: skip
        end = self.finished.t if self.finished is not None else float("inf")
        by_segment: dict[tuple[tuple[str, int, str, int], int], list[PacketCaptured]] = {}
        for drop in lost:
            packet = dissect(drop.data)
            if packet.tcp is not None and drop.t <= end:
                by_segment.setdefault((_flow(packet), packet.tcp.sequence), []).append(drop)
        losses = []
        for (flow, sequence), drops in by_segment.items():
            sends = [
                (e.t, e.actor, p.tcp.payload_size) for e, p in captured
                if e.direction == OUT and p.tcp is not None and p.tcp.sequence == sequence
                and p.tcp.payload_size and _flow(p) == flow
            ]  # fmt: skip
            if not sends:
                continue
            first, sender, size = min(sends)
            resent = next((t for t, actor, _size in sends if actor == sender and t > drops[-1].t),
                          None)  # fmt: skip
            back = (flow[2], flow[3], flow[0], flow[1])
            duplicates = sum(
                1 for e, p in captured
                if e.actor == sender and e.direction == IN and p.tcp is not None
                and not p.tcp.payload_size and p.tcp.flags == ("ACK",)
                and p.tcp.acknowledgment == sequence and _flow(p) == back
                and first < e.t < (resent if resent is not None else float("inf"))
            )  # fmt: skip
            # In the simulated world a segment goes out in the same instant as the ACK that
            # made its sender send it: a resend with no ACK arriving then was the timer's.
            by_ack = resent is not None and any(
                e.actor == sender and e.direction == IN and abs(e.t - resent) < 1e-9
                and p.tcp is not None and "ACK" in p.tcp.flags and _flow(p) == back
                for e, p in captured
            )  # fmt: skip
            losses.append(SegmentLoss(first, resent, duplicates, size, sender != browser,
                                      len(drops), by_ack, drops[0].t))  # fmt: skip
        return losses

    @cached_property
    def path_mtu_errors(self) -> list[PathMtuError]:
        """The "fragmentation needed" errors routers sent during the load, each once (a
        simulated run's; empty otherwise)."""
        end = self.finished.t if self.finished is not None else float("inf")
        errors: dict[tuple[str, str, bytes], PathMtuError] = {}
        for event in self.trace.of_type(PacketCaptured):
            if event.direction != OUT or event.t > end or len(event.data) < 24:
                continue
            if event.data[9] != ICMP_PROTOCOL or event.data[20:22] != FRAGMENTATION_NEEDED:
                continue
            try:
                packet = dissect(event.data)
            except ValueError:
                continue
            icmp = packet.icmp
            if icmp is None or len(icmp.body) < 4:
                continue
            key = (packet.ip.source, packet.ip.destination, icmp.body)
            size = int.from_bytes(icmp.body[2:4], "big")  # the quoted packet's total length
            error = PathMtuError(
                event.t, packet.ip.source, packet.ip.destination, size, icmp.next_hop_mtu
            )
            errors.setdefault(key, error)
        return sorted(errors.values(), key=lambda e: e.t)

    def dropped(self, kind: str) -> list[PacketCaptured]:
        """The dropped packets of one ``kind`` (see :func:`packet_kind`)."""
        return [e for e in self.drops if packet_kind(e.data) == kind]


def _tcp(data: bytes) -> Packet | None:
    """``data`` dissected, if it is a well-formed TCP segment."""
    try:
        packet = dissect(data)
    except ValueError:
        return None
    return packet if packet.tcp is not None else None


def _flow(packet: Packet) -> tuple[str, int, str, int]:
    """A TCP packet's ends: source address and port, destination address and port."""
    return (packet.ip.source, packet.source_port or 0, packet.ip.destination,
            packet.destination_port or 0)  # fmt: skip


ICMP_PROTOCOL = 1
FRAGMENTATION_NEEDED = bytes((3, 4))
"""ICMP's type and code for "fragmentation needed" (destination unreachable)."""


LINK_DROPS = ("lost on the link", "targeted fault")
"""How the simulated link words a drop it made (netsim.link): at random, or by a fault."""


def packet_kind(data: bytes) -> str:
    """What a packet is, in the words a loss is told with: "syn", "synack",
    "dns-query", "dns-response", "data" (a TCP segment carrying bytes), or "other"."""
    try:
        packet = dissect(data)
    except ValueError:
        return "other"
    if packet.tcp is not None:
        if "SYN" in packet.tcp.flags:
            return "synack" if "ACK" in packet.tcp.flags else "syn"
        return "data" if packet.tcp.payload_size else "other"
    if packet.udp is not None and DNS_PORT in (packet.source_port, packet.destination_port):
        return "dns-query" if packet.destination_port == DNS_PORT else "dns-response"
    return "other"


def page_load_facts(trace: Trace, actor: str = "browser") -> PageLoadFacts:
    """The facts of the page loads ``actor`` made in ``trace`` (computed as they are asked)."""
    events = [e for e in trace.events if e.actor == actor]
    return PageLoadFacts(trace, actor, events, request_timings(trace, actor))


def _lookups(trace: Trace, events: list[Event]) -> list[Lookup]:
    lookups: list[Lookup] = []
    going: dict[int, tuple[int, NameLookupStarted]] = {}  # request → (index, its start)
    for event in events:
        if isinstance(event, NameLookupStarted) and event.request not in going:
            going[event.request] = (len(lookups), event)
            lookups.append(Lookup(event.request, event.name, event.t, None))
        elif isinstance(event, NameResolved | NameLookupFailed):
            if event.request in going:
                index, begun = going.pop(event.request)
                lookups[index] = _lookup(trace, events, begun, event)
            else:
                lookups.append(_lookup(trace, events, None, event))
    return lookups


def _lookup(
    trace: Trace,
    events: list[Event],
    begun: NameLookupStarted | None,
    outcome: NameResolved | NameLookupFailed,
) -> Lookup:
    since = begun.t if begun is not None else float("-inf")
    queries = [e for e in events if isinstance(e, DnsMessageSent)
               and since <= e.t <= outcome.t]  # fmt: skip
    answers = [e for e in events if isinstance(e, DnsMessageReceived)
               and since <= e.t <= outcome.t]  # fmt: skip
    if isinstance(outcome, NameResolved):
        server = outcome.server
    else:
        server = queries[-1].peer if queries else None
    walk = None
    if begun is not None and begun.name == outcome.name and server is not None:
        walk = resolver_walk(trace, outcome.name, begun.t, outcome.t, server)
    start = begun.t if begun is not None else None
    return Lookup(outcome.request, outcome.name, start, outcome, queries, answers, walk)


def resolver_walk(
    trace: Trace, name: str, start: float, end: float, server: Address
) -> ResolverWalk | None:
    """What a recursive resolver in ``trace`` did for questions about ``name`` between
    ``start`` and ``end`` (None if none ran there, or it answered none of them)."""
    fqdn = name.rstrip(".").lower() + "."
    answered = [
        e for e in trace.events
        if isinstance(e, ResolverAnswered) and start <= e.t <= end
        and e.question.split(" ")[0].lower() == fqdn
    ]  # fmt: skip
    if not answered:
        return None
    by_question: dict[str, ResolverAnswered] = {}
    for event in answered:
        kept = by_question.get(event.question)
        if kept is None or (kept.from_cache and not event.from_cache):
            by_question[event.question] = event
    steps = [
        e for e in trace.events
        if isinstance(e, ResolverStep) and start <= e.t <= end and e.question in by_question
    ]  # fmt: skip
    return ResolverWalk(server, list(by_question.values()), steps)


def _connections(events: list[Event]) -> dict[int, Connection]:
    started = {e.connection: e for e in events if isinstance(e, TcpConnectStarted)}
    opened = {e.connection: e for e in events if isinstance(e, TcpConnectionOpened)}
    failed = {e.connection: e for e in events if isinstance(e, TcpConnectFailed)}
    tls = {e.connection: e for e in events if isinstance(e, TlsHandshakeCompleted)}
    return {
        number: Connection(
            number,
            start.request,
            start.peer,
            start.t,
            opened.get(number),
            failed.get(number),
            tls.get(number),
        )
        for number, start in started.items()
    }


def sent_again_to(trace: Trace, events: list[Event], start: float, end: float) -> int:
    """How many segments the servers sent the browser again between ``start`` and ``end``.

    Counted where the truth is, at each server's own host: a segment going out with
    a sequence number it had already sent (data, a SYN-ACK or a FIN) is sent again,
    whatever made it — a timer, duplicate ACKs, or reordering taken for a loss.
    (Wireshark's marks cannot count them all: a resend within a round trip of the
    highest segment is "Out-Of-Order" to it.) Only a simulated run's trace has the
    packets: 0 without them.
    """
    captures = trace.of_type(PacketCaptured)
    opened = [e for e in events if isinstance(e, TcpConnectionOpened)]
    if not captures or not opened:
        return 0
    browser = {e.local[0] for e in opened}
    servers = {e.peer[0] for e in opened}
    # The servers' own hosts send packets from those addresses but, unlike the routers
    # on the way, never receive one from them.
    sending, forwarding = set(), set()
    for event in captures:
        ends = addresses(event.data)
        if ends is not None and ends[0] in servers:
            if event.direction == OUT:
                sending.add(event.actor)
            elif event.direction == IN:
                forwarding.add(event.actor)
    count = 0
    for node in sorted(sending - forwarding):
        sent: set[tuple[str, str, int, int, int]] = set()
        for captured in captured_packets(trace, node):
            if captured.direction != OUT:
                continue
            try:
                packet = dissect(captured.data)
            except ValueError:
                continue
            ip, tcp = packet.ip, packet.tcp
            if tcp is None or ip.source not in servers or ip.destination not in browser:
                continue
            if not (tcp.payload_size or "SYN" in tcp.flags or "FIN" in tcp.flags):
                continue  # a bare ACK takes no sequence number: it is never "sent again"
            key = (ip.source, ip.destination, tcp.source_port, tcp.destination_port, tcp.sequence)
            if key in sent and start <= captured.t <= end:
                count += 1
            sent.add(key)
    return count


def packets_by_peer(trace: Trace, actor: str) -> dict[str, tuple[int, int]]:
    """For each address ``actor``'s node exchanged packets with: (packets, bytes).

    From the node's own capture (in and out, loopback left out); empty for a
    trace without packets.
    """
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for event in trace.of_type(PacketCaptured):
        if event.actor != actor or event.direction not in (IN, OUT) or event.interface == LOOPBACK:
            continue
        ends = addresses(event.data)
        if ends is None:
            continue
        total = totals[ends[1] if event.direction == OUT else ends[0]]
        total[0] += 1
        total[1] += len(event.data)
    return {address: (packets, size) for address, (packets, size) in totals.items()}
