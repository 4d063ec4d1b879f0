"""Two runs side by side: a trace difference engine, aligned by meaning, not by position.

Two traces of a page load (two seeds, two link settings, a run and its what-if
branch) cannot be compared line by line: one lost packet shifts every line
after it, and the random parts of a run — DNS message IDs, ephemeral ports,
TCP's initial sequence numbers — differ whenever the random draws do. So each
trace is first turned into *items with a meaning*, and items are matched by
that meaning:

- a DNS question: who asked, the name, the type, the server asked — and the
  n-th time that same question was asked (a retry is the 2nd);
- a name lookup by the browser: the name, the n-th time;
- a connection: its peer (address and port) and the file it was opened for;
- a request: its method and URL (the n-th time: a reload asks again);
- a packet at the browser: its flow (the peer, the n-th connection to it, or
  the DNS question it carries), who sent it, its flags and its *relative*
  sequence and acknowledgment numbers (as Wireshark shows them), and the n-th
  time that same segment went by (a retransmission is the 2nd).

Times are counted from each trace's first page load (so the second load of a
reload lines up with a first load). An item only one trace has is reported as
such; one both have is compared field by field (timing, sizes, counts,
status); and the differences are summed up per step of the four (DNS;
connection; request and packets; page built).

:func:`compare` gives a :class:`Comparison` (``to_json()``, documented in
docs/compare.md); :func:`story` tells its first divergence and what followed
from it, in English or Spanish, with the runs' own values; :func:`show` prints
both at a terminal with rich.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype
from rich.console import Console
from rich.table import Table

from webtrip.i18n import actor_name, milliseconds, number, translation
from webtrip.outcomes import failure
from webtrip.packets.dissect import PacketError, dissect
from webtrip.trace import (
    DnsMessageReceived,
    DnsMessageSent,
    FaultOutcome,
    HttpRequestFailed,
    HttpRequestQueued,
    LinkConditionsSet,
    NameLookupFailed,
    NameResolved,
    NetworkDescribed,
    PageLoadFinished,
    PageLoadStarted,
    ResolverAnswered,
    TcpConnectFailed,
    TcpConnectionOpened,
    TcpConnectStarted,
    Trace,
)
from webtrip.trace.events import DROP, IN, OUT, PacketCaptured

from .facts import LINK_DROPS
from .timings import request_timings

__all__ = [
    "STEPS",
    "Comparison",
    "Difference",
    "Item",
    "StepSummary",
    "compare",
    "items_of",
    "show",
    "story",
]


def N_(text: str) -> str:
    """Mark ``text`` for translation where it is written; it is translated where shown."""
    return text


STEPS = ("dns", "connection", "request", "page")
"""The four steps, as the comparison names them: DNS; connection; request and packets;
page built."""

TIME_TOLERANCE = 1e-6
"""Two times closer than a microsecond are the same time (the runs' clocks are exact;
this only absorbs the rounding of a trace saved as JSON)."""

Value = str | int | float | None


@dataclass(frozen=True)
class Item:
    """One thing a trace holds, with the key that says what it means.

    ``kind`` is "question", "lookup", "connection", "request" or "packet";
    ``key`` is the meaning (equal keys in two traces are the same thing);
    ``t`` is when it happened (seconds from the first page load); ``fields``
    are the values compared (times among them, named ``…_t`` or ``…_ms``).
    """

    step: str
    kind: str
    key: tuple[str, ...]
    t: float
    fields: dict[str, Value] = field(default_factory=dict)


@dataclass(frozen=True)
class Difference:
    """One difference: an item only one trace has (``change`` "only_a"/"only_b"), or one
    field of an item both have (``change`` "timing" for a time, "changed" otherwise)."""

    step: str
    kind: str
    key: tuple[str, ...]
    change: str
    field: str | None
    a: Value
    b: Value
    t: float  # the earliest time it shows (seconds from the first page load)

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "kind": self.kind,
            "key": list(self.key),
            "change": self.change,
            "field": self.field,
            "a": self.a,
            "b": self.b,
            "t": round(self.t, 6),
        }


@dataclass(frozen=True)
class StepSummary:
    """One measure of one step in both runs, e.g. ("page", "built_t", 0.31, 1.31)."""

    step: str
    measure: str
    a: Value
    b: Value

    @property
    def same(self) -> bool:
        return _same(self.a, self.b)


@dataclass
class Comparison:
    """What two traces have in common and where they differ."""

    a: list[Item]
    b: list[Item]
    differences: list[Difference]
    summary: list[StepSummary]
    settings: list[tuple[str, Value, Value]]  # the browser's link and the faults, A and B
    branch: dict[str, Value] | None = None  # where a what-if branch began, when it is one
    nodes: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Each node's address → (name, role), as the traces' NetworkDescribed give them."""
    counts: tuple[dict[str, dict[str, int]], dict[str, dict[str, int]]] = ({}, {})
    """Each node's own capture, counted (sent, received, dropped), in A and in B."""

    @property
    def identical(self) -> bool:
        return not self.differences and not self.settings

    @property
    def first(self) -> Difference | None:
        """The first divergence: the earliest difference seen at an exact moment — a DNS
        question, a packet, a time — or, without one, the earliest of all (a count or a
        status belongs to a whole connection or request, not to one moment)."""
        exact = [
            d
            for d in self.differences
            if d.kind in ("question", "packet", "node_packet") or d.change == "timing"
        ]
        return min(exact or self.differences, key=lambda d: (d.t, _ORDER[d.kind]), default=None)

    def item(self, side: str, key: tuple[str, ...], kind: str) -> Item | None:
        items = self.a if side == "a" else self.b
        return next((i for i in items if i.key == key and i.kind == kind), None)

    def per_node(self) -> list[dict[str, Any]]:
        """Each node's own capture in both runs: packets sent, received, dropped (None: a
        node the run's capture does not have), and how many of its packets differ."""
        a, b = self.counts
        roles = {name: role for name, role in self.nodes.values()}
        differing: Counter[str] = Counter(
            d.key[0] for d in self.differences if d.kind == "node_packet"
        )
        differing["browser"] = sum(1 for d in self.differences if d.kind == "packet")
        return [
            {
                "node": node,
                "role": roles.get(node),
                "a": a.get(node),
                "b": b.get(node),
                "differences": differing.get(node, 0),
            }
            for node in dict.fromkeys([*a, *b])
        ]

    def to_json(self, language: str = "en") -> dict[str, Any]:
        first = self.first
        return {
            "webtrip_comparison": 1,
            "identical": self.identical,
            "branch": self.branch,
            "settings": [{"setting": s, "a": a, "b": b} for s, a, b in self.settings],
            "summary": [
                {"step": s.step, "measure": s.measure, "a": s.a, "b": s.b, "same": s.same}
                for s in self.summary
            ],
            "first_divergence": first.to_json() if first is not None else None,
            "differences": [d.to_json() for d in self.differences],
            "nodes": self.per_node(),
            "story": story(self, language),
        }


_ORDER = {
    "question": 0, "packet": 1, "node_packet": 2, "resolution": 2, "lookup": 2,
    "connection": 3, "request": 4, "page": 5,
}  # fmt: skip
"""At one instant, the most concrete difference first: a message or packet on the wire."""


# --- turning a trace into items ------------------------------------------------------


def _start(trace: Trace) -> float:
    """When the trace's first page load began (0 without one)."""
    return next((e.t for e in trace.events if isinstance(e, PageLoadStarted)), 0.0)


def _numbered(keys: Iterable[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """Each key with its occurrence appended: the 1st, 2nd... time it was seen."""
    seen: Counter[tuple[str, ...]] = Counter()
    numbered = []
    for key in keys:
        seen[key] += 1
        numbered.append((*key, f"#{seen[key]}"))
    return numbered


def _question(wire: bytes) -> tuple[str, str, bool, int] | None:
    """(name, type, is a response, id) of a DNS message, None if it cannot be read."""
    try:
        message = dns.message.from_wire(wire, ignore_trailing=True)
    except (dns.exception.DNSException, ValueError):
        return None
    if not message.question:
        return None
    q = message.question[0]
    is_response = bool(message.flags & 0x8000)
    return q.name.to_text().lower(), dns.rdatatype.to_text(q.rdtype), is_response, message.id


def _answer(wire: bytes) -> str:
    """A DNS response in short: its rcode and its answer records, sorted."""
    try:
        message = dns.message.from_wire(wire, ignore_trailing=True)
    except (dns.exception.DNSException, ValueError):
        return "?"
    records = sorted(
        f"{rrset.name.to_text().lower()} {dns.rdatatype.to_text(rrset.rdtype)} {rdata.to_text()}"
        for rrset in message.answer
        for rdata in rrset
    )
    return " ".join([dns.rcode.to_text(message.rcode()), *records])


def _addr(address: tuple[str, int] | None) -> str:
    return f"{address[0]}:{address[1]}" if address is not None else ""


def _dns_items(trace: Trace, start: float) -> list[Item]:
    """Every DNS question any actor asked, with its answer (matched by server and ID)."""
    answers: dict[tuple[str, str, int], list[DnsMessageReceived]] = defaultdict(list)
    questions = []
    for event in trace.events:
        if isinstance(event, DnsMessageReceived):
            parsed = _question(event.wire)
            if parsed is not None and parsed[2]:
                answers[(event.actor, _addr(event.peer), parsed[3])].append(event)
        elif isinstance(event, DnsMessageSent) and event.responds_to is None:
            parsed = _question(event.wire)
            if parsed is not None and not parsed[2]:
                questions.append((event, parsed))
    keys = _numbered(
        (e.actor, name, rtype, _addr(e.peer)) for e, (name, rtype, _r, _i) in questions
    )
    items = []
    for key, (event, (_name, _type, _r, message_id)) in zip(keys, questions, strict=True):
        fields: dict[str, Value] = {"asked_t": event.t - start, "transport": event.transport}
        reply = next(
            (r for r in answers[(event.actor, _addr(event.peer), message_id)] if r.t >= event.t),
            None,
        )
        fields["answer"] = _answer(reply.wire) if reply is not None else None
        fields["answered_t"] = reply.t - start if reply is not None else None
        items.append(Item("dns", "question", key, event.t - start, fields))
    return items


def _question_text(question: str) -> str:
    """The question as a DNS question item has it: "www.example.test. A"."""
    name, _space, rtype = question.rpartition(" ")
    return f"{name.lower()} {rtype.upper()}"


def _resolution_items(trace: Trace, start: float) -> list[Item]:
    """Every answer a recursive resolver gave: the question, the n-th time answered; from
    its cache or not, and how many questions it asked to find it (the walk)."""
    answered = trace.of_type(ResolverAnswered)
    keys = _numbered((e.actor, _question_text(e.question)) for e in answered)
    return [
        Item(
            "dns",
            "resolution",
            key,
            event.started - start,
            {
                "answered_t": event.t - start,
                "rcode": event.rcode,
                "from_cache": "yes" if event.from_cache else "no",
                "queries": event.queries,
            },
        )
        for key, event in zip(keys, answered, strict=True)
    ]


def _lookup_items(trace: Trace, start: float) -> list[Item]:
    """The browser's name lookups: the name, where the answer came from, the addresses."""
    done = [e for e in trace.events if isinstance(e, NameResolved | NameLookupFailed)]
    items = []
    for key, event in zip(_numbered((e.name.lower(),) for e in done), done, strict=True):
        if isinstance(event, NameResolved):
            fields: dict[str, Value] = {
                "known_t": event.t - start,
                "addresses": " ".join(event.addresses),
                "source": event.source,
                "failed": None,
            }
        else:
            fields = {
                "known_t": event.t - start,
                "addresses": None,
                "source": None,
                "failed": event.kind,
            }
        items.append(Item("dns", "lookup", key, event.t - start, fields))
    return items


@dataclass
class _Flows:
    """The browser's packets, each with the meaning of its flow (see the module's text)."""

    items: list[Item]
    by_port: dict[int, str]  # the browser's local TCP port → its flow's name
    syns: Counter[str]  # SYNs the browser sent, per flow


def _browser_name(trace: Trace) -> str:
    """The browser's node: the first end of the browser's link as recorded."""
    conditions = next(iter(trace.of_type(LinkConditionsSet)), None)
    return conditions.ends[0] if conditions is not None else "browser"


def _packet_items(trace: Trace, start: float) -> _Flows:
    """The browser's packets: those it sent and received, and those lost on its link
    either way, keyed by flow, sender, flags and relative sequence numbers."""
    conditions = next(iter(trace.of_type(LinkConditionsSet)), None)
    browser = conditions.ends[0] if conditions is not None else "browser"
    other = conditions.ends[1] if conditions is not None else ""
    captured = trace.of_type(PacketCaptured)
    mine = {
        e.data[12:16] for e in captured if e.actor == browser and e.direction == OUT
    }  # the browser's own addresses, as bytes
    rows: list[tuple[PacketCaptured, str]] = []  # (event, fate)
    sent_by_browser: dict[bytes, list[int]] = defaultdict(list)
    for event in captured:
        if event.actor == browser and event.direction == OUT:
            sent_by_browser[event.data].append(len(rows))
            rows.append((event, "sent"))
        elif event.actor == browser and event.direction == IN:
            rows.append((event, "arrived"))
        elif event.direction == DROP and event.reason.startswith(LINK_DROPS):
            if event.actor == browser and sent_by_browser.get(event.data):
                index = sent_by_browser[event.data].pop()
                rows[index] = (rows[index][0], "lost")
            elif event.actor == other and event.data[16:20] in mine:
                rows.append((event, "lost"))
    ordinal: dict[tuple[str, int], int] = {}  # (peer, local port) → n-th flow to that peer
    before: set[tuple[str, int]] = set()  # connections whose SYN is not in the trace
    per_peer: Counter[str] = Counter()
    isn: dict[tuple[str, bool], int] = {}
    by_port: dict[int, str] = {}
    syns: Counter[str] = Counter()
    keys, kept = [], []
    for event, fate in rows:
        try:
            packet = dissect(event.data)
        except PacketError:
            continue
        from_browser = event.data[12:16] in mine
        peer_ip = packet.ip.destination if from_browser else packet.ip.source
        peer_port = packet.destination_port if from_browser else packet.source_port
        local_port = packet.source_port if from_browser else packet.destination_port
        peer = f"{peer_ip}:{peer_port}" if peer_port is not None else peer_ip
        tcp = packet.tcp
        if tcp is not None and local_port is not None:
            if (peer, local_port) not in ordinal:
                if "SYN" not in tcp.flags or (peer, local_port) in before:
                    before.add((peer, local_port))  # begun before this trace: not aligned
                    continue
                per_peer[peer] += 1
                ordinal[(peer, local_port)] = per_peer[peer]
            flow = f"tcp {peer} #{ordinal[(peer, local_port)]}"
            by_port[local_port] = flow
            isn.setdefault((flow, from_browser), tcp.sequence)
            sequence = (tcp.sequence - isn[(flow, from_browser)]) % 2**32
            ack = ""
            if "ACK" in tcp.flags and (flow, not from_browser) in isn:
                ack = f" ack={(tcp.acknowledgment - isn[(flow, not from_browser)]) % 2**32}"
            what = f"{','.join(tcp.flags)} seq={sequence}{ack} len={tcp.payload_size}"
            if from_browser and "SYN" in tcp.flags:
                syns[flow] += 1
        elif packet.udp is not None:
            question = _question(packet.udp.payload)
            flow = f"udp {peer}" + (f" {question[0]} {question[1]}" if question else "")
            kind = "response" if question and question[2] else "query"
            what = f"dns-{kind} len={packet.payload_size}"
        else:
            flow, what = f"{packet.protocol} {peer}", f"len={packet.payload_size}"
        keys.append((flow, "browser" if from_browser else "peer", what))
        kept.append((event, fate))
    items = [
        Item(
            "request",
            "packet",
            key,
            event.t - start,
            {"t": event.t - start, "fate": fate, "size": len(event.data)},
        )
        for key, (event, fate) in zip(_numbered(keys), kept, strict=True)
    ]
    return _Flows(items, by_port, syns)


def _node_counts(trace: Trace) -> dict[str, dict[str, int]]:
    """Each node's own capture, counted: the packets it sent, received and dropped (the
    browser's, each server's, each router's), in the order the nodes first captured."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for event in trace.of_type(PacketCaptured):
        fate = {OUT: "sent", IN: "received", DROP: "dropped"}.get(event.direction, "")
        counts[event.actor][fate] += 1
    return {
        node: {fate: found[fate] for fate in ("sent", "received", "dropped")}
        for node, found in counts.items()
    }


_FATES = {OUT: "sent", IN: "received", DROP: "dropped"}


def _capture_items(trace: Trace, start: float, browser: str) -> list[Item]:
    """Every other node's own packets — servers' and routers' — aligned as the browser's
    are, by meaning: the node, the flow (TCP: client, server and the n-th connection
    between them; UDP: the DNS question it carries), who sent it (client or server),
    flags, relative sequence and acknowledgment numbers, size, and the n-th time that
    same packet went by the node. A packet a node sent and its link then lost is one
    item, "lost"; one a router received and the same one it sent on are two ("in",
    "out"); ports, IDs and initial sequence numbers never count."""
    rows: list[tuple[PacketCaptured, str]] = []
    sent: dict[tuple[str, bytes], list[int]] = defaultdict(list)
    for event in trace.of_type(PacketCaptured):
        if event.actor == browser or event.direction not in _FATES:
            continue
        if event.direction == DROP and sent.get((event.actor, event.data)):
            index = sent[(event.actor, event.data)].pop()
            rows[index] = (rows[index][0], "lost")
            continue
        if event.direction == OUT:
            sent[(event.actor, event.data)].append(len(rows))
        rows.append((event, _FATES[event.direction]))
    connections: dict[tuple[str, frozenset[tuple[str, int]]], tuple[str, tuple[str, int]]] = {}
    ordinal: Counter[tuple[str, str, str]] = Counter()
    isn: dict[tuple[str, str], int] = {}
    keys, kept = [], []
    for event, fate in rows:
        try:
            packet = dissect(event.data)
        except PacketError:
            continue
        source = (packet.ip.source, packet.source_port or 0)
        destination = (packet.ip.destination, packet.destination_port or 0)
        tcp = packet.tcp
        if tcp is not None:
            ends = (event.actor, frozenset((source, destination)))
            if ends not in connections:
                if tcp.flags != ("SYN",):
                    continue  # begun before this trace (or its SYN was not seen): not aligned
                server = f"{destination[0]}:{destination[1]}"
                ordinal[(event.actor, source[0], server)] += 1
                number_ = ordinal[(event.actor, source[0], server)]
                connections[ends] = (f"tcp {source[0]} → {server} #{number_}", source)
            flow, client = connections[ends]
            sender = "client" if source == client else "server"
            isn.setdefault((flow, sender), tcp.sequence)
            sequence = (tcp.sequence - isn[(flow, sender)]) % 2**32
            other = "server" if sender == "client" else "client"
            ack = ""
            if "ACK" in tcp.flags and (flow, other) in isn:
                ack = f" ack={(tcp.acknowledgment - isn[(flow, other)]) % 2**32}"
            what = f"{','.join(tcp.flags)} seq={sequence}{ack} len={tcp.payload_size}"
        elif packet.udp is not None:
            question = _question(packet.udp.payload)
            is_response = bool(question and question[2])
            client_end, server_end = (destination, source) if is_response else (source, destination)
            asked = f" {question[0]} {question[1]}" if question else ""
            flow = f"udp {client_end[0]} → {server_end[0]}:{server_end[1]}{asked}"
            sender = "server" if is_response else "client"
            what = f"dns-{'response' if is_response else 'query'} len={packet.payload_size}"
        else:
            flow = f"{packet.protocol} {source[0]} → {destination[0]}"
            sender, what = "", f"len={packet.payload_size}"
        way = "in" if event.direction == IN or fate == "dropped" else "out"
        keys.append((event.actor, way, flow, sender, what))
        kept.append((event, fate))
    return [
        Item("request", "node_packet", key, event.t - start, {"t": event.t - start, "fate": fate})
        for key, (event, fate) in zip(_numbered(keys), kept, strict=True)
    ]


def _connection_flows(trace: Trace) -> dict[int, str]:
    """Each browser connection's flow name, ``tcp PEER #n``: the n-th connection begun
    to that peer — the same order in which its packets first appear, since a
    connection's first SYN leaves when it begins."""
    per_peer: Counter[str] = Counter()
    flows = {}
    for event in trace.of_type(TcpConnectStarted):
        peer = _addr(event.peer)
        per_peer[peer] += 1
        flows[event.connection] = f"tcp {peer} #{per_peer[peer]}"
    return flows


def _connection_items(
    trace: Trace, start: float, flows: _Flows, queued: dict[int, HttpRequestQueued]
) -> list[Item]:
    """The browser's connections: peer and the file each was opened for."""
    begun = trace.of_type(TcpConnectStarted)
    opened = {e.connection: e for e in trace.of_type(TcpConnectionOpened) if e.actor == "browser"}
    failed = {e.connection: e for e in trace.of_type(TcpConnectFailed)}
    names = _connection_flows(trace)
    urls = {number: event.url for number, event in queued.items()}
    keys = _numbered((_addr(e.peer), urls.get(e.request, "")) for e in begun)
    items = []
    for key, event in zip(keys, begun, strict=True):
        done = opened.get(event.connection)
        fields: dict[str, Value] = {
            "started_t": event.t - start,
            "opened_t": done.t - start if done is not None else None,
            "handshake_ms": round((done.t - event.t) * 1000, 3) if done is not None else None,
            "failed": failed[event.connection].kind if event.connection in failed else None,
            "syns": flows.syns.get(names[event.connection], 0),
        }
        items.append(Item("connection", "connection", key, event.t - start, fields))
    return items


def _request_items(
    trace: Trace, start: float, flows: _Flows, queued: dict[int, HttpRequestQueued]
) -> list[Item]:
    """The browser's requests and the files they brought: status, sizes, segments, times.

    Segments are counted per connection (the data segments that reached the browser on
    it): a connection that carried several files one after the other shares its count.
    """
    names = _connection_flows(trace)
    segments: Counter[str] = Counter()
    for item in flows.items:
        if (
            item.key[1] == "peer"
            and item.fields["fate"] == "arrived"
            and "len=0" not in item.key[2]
        ):
            segments[item.key[0]] += 1
    arrived = [
        (item.key[0], item.t) for item in flows.items
        if item.key[1] == "peer" and item.fields["fate"] == "arrived" and "len=0" not in item.key[2]
    ]  # fmt: skip
    timings = request_timings(trace)
    failures = {e.request: e.kind for e in trace.of_type(HttpRequestFailed) if e.actor == "browser"}
    methods = [queued[t.request].method if t.request in queued else "GET" for t in timings]
    keys = _numbered((method, t.url) for method, t in zip(methods, timings, strict=True))
    items = []
    for key, timing in zip(keys, timings, strict=True):
        started = timing.started - start
        flow = names.get(timing.connection) if timing.connection is not None else None
        fields: dict[str, Value] = {
            "queued_t": started,
            "done_t": started + timing.total / 1000 if timing.total >= 0 else None,
            "total_ms": timing.total,
            "status": timing.status,
            "size": timing.size,
            "wire_size": timing.wire_size,
            "cache": timing.cache or "network",
            "error": failures.get(timing.request) if timing.error else None,
            "reused": "yes" if timing.reused else "no",
            "segments_on_connection": segments.get(flow, 0) if flow is not None else 0,
            "segments": _file_segments(arrived, flow, started, timing.total),
        }
        items.append(Item("request", "request", key, started, fields))
    return items


def _file_segments(
    arrived: list[tuple[str, float]], flow: str | None, started: float, total_ms: float
) -> int:
    """The data segments that reached the browser on ``flow`` while this file was being
    fetched (after it was asked for, up to its last byte): its own, since a connection
    carries one file at a time (HTTP/1.1, no pipelining) — the next file on it is asked
    for in the instant the last one's last segment arrives, so that segment is not its."""
    if flow is None or total_ms < 0:
        return 0
    done = started + total_ms / 1000
    return sum(
        1 for name, t in arrived
        if name == flow and started + TIME_TOLERANCE < t <= done + TIME_TOLERANCE
    )  # fmt: skip


def _page_items(trace: Trace, start: float) -> list[Item]:
    finished = [e for e in trace.events if isinstance(e, PageLoadFinished)]
    return [
        Item(
            "page",
            "page",
            key,
            e.t - start,
            {"built_t": e.t - start, "status": e.status, "failed": e.failed, "title": e.title},
        )
        for key, e in zip(_numbered((e.url,) for e in finished), finished, strict=True)
    ]


def items_of(trace: Trace) -> list[Item]:
    """Everything :func:`compare` aligns in ``trace``, in the order of the four steps."""
    start = _start(trace)
    queued = {e.request: e for e in trace.of_type(HttpRequestQueued) if e.actor == "browser"}
    flows = _packet_items(trace, start)
    return [
        *_dns_items(trace, start),
        *_resolution_items(trace, start),
        *_lookup_items(trace, start),
        *_connection_items(trace, start, flows, queued),
        *_request_items(trace, start, flows, queued),
        *flows.items,
        *_capture_items(trace, start, _browser_name(trace)),
        *_page_items(trace, start),
    ]


# --- comparing ------------------------------------------------------------------------


def _end(item: Item) -> float | None:
    """When an item's outcome was known: a request complete, a connection open."""
    for name in ("done_t", "opened_t", "answered_t"):
        value = item.fields.get(name)
        if isinstance(value, float):
            return value
    return None


def _same(a: Value, b: Value) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= TIME_TOLERANCE
    return a == b


def _is_time(name: str) -> bool:
    return name.endswith(("_t", "_ms")) or name == "t"


def _settings(a: Trace, b: Trace) -> list[tuple[str, Value, Value]]:
    """How the two runs were set up differently: the browser's link and the faults."""
    found: list[tuple[str, Value, Value]] = []
    link_a = next(iter(a.of_type(LinkConditionsSet)), None)
    link_b = next(iter(b.of_type(LinkConditionsSet)), None)
    for name in ("latency", "bandwidth", "loss", "mtu"):
        if link_a is None or link_b is None:
            break  # a trace without its link's record (a part of a run, a real run): unknown
        value_a, value_b = getattr(link_a, name), getattr(link_b, name)
        if not _same(value_a, value_b):
            found.append((name, value_a, value_b))
    faults_a = sorted(f"{f.action} {f.text}" for f in a.of_type(FaultOutcome))
    faults_b = sorted(f"{f.action} {f.text}" for f in b.of_type(FaultOutcome))
    if faults_a != faults_b:
        found.append(("faults", ", ".join(faults_a) or None, ", ".join(faults_b) or None))
    return found


def compare(a: Trace, b: Trace, *, branch: dict[str, Value] | None = None) -> Comparison:
    """Align ``a`` and ``b`` by meaning and list every difference (see the module's text).

    ``branch`` says where a what-if branch began (``at_t``, ``at_event``, ``change``),
    when ``b`` is one of ``a``: the story then starts from it.
    """
    items_a, items_b = items_of(a), items_of(b)
    index_b = {(i.kind, i.key): i for i in items_b}
    index_a = {(i.kind, i.key): i for i in items_a}
    differences = []
    for item in items_a:
        other = index_b.get((item.kind, item.key))
        if other is None:
            differences.append(
                Difference(item.step, item.kind, item.key, "only_a", None, None, None, item.t)
            )
            continue
        fates_differ = item.fields.get("fate") != other.fields.get("fate")
        for name, value in item.fields.items():
            theirs = other.fields.get(name)
            if _same(value, theirs) or (name == "t" and fates_differ):
                continue  # a lost packet's time is its sending, an arrived one's its arrival
            if name == "size" and item.fields.get("cache") != other.fields.get("cache"):
                continue  # a file from the cache has no body in the trace: not comparable
            change = "timing" if _is_time(name) else "changed"
            when = min(item.t, other.t)
            if change == "changed":
                ends = [e for e in (_end(item), _end(other)) if e is not None]
                when = min(ends, default=when)
            moments = [v for v in (value, theirs) if isinstance(v, float)]
            if name.endswith("_t") and moments:
                when = min(moments)  # a moment one run never reached: the other's
            elif name.endswith("_ms") and moments:
                when = min(item.t, other.t) + min(moments) / 1000  # when the shorter one ends
            differences.append(
                Difference(item.step, item.kind, item.key, change, name, value, theirs, when)
            )
    for item in items_b:
        if (item.kind, item.key) not in index_a:
            differences.append(
                Difference(item.step, item.kind, item.key, "only_b", None, None, None, item.t)
            )
    differences.sort(key=lambda d: (d.t, _ORDER[d.kind]))
    return Comparison(
        items_a,
        items_b,
        differences,
        _summary(items_a, items_b),
        _settings(a, b),
        branch,
        {**_nodes(b), **_nodes(a)},
        (_node_counts(a), _node_counts(b)),
    )


def _nodes(trace: Trace) -> dict[str, tuple[str, str]]:
    """Each address of the network the trace describes → (node's name, its role)."""
    found: dict[str, tuple[str, str]] = {}
    for described in trace.of_type(NetworkDescribed):
        for name, role, addresses in described.nodes:
            for address in addresses:
                found[address.split()[-1]] = (name, role)
    return found


def _summary(a: list[Item], b: list[Item]) -> list[StepSummary]:
    """A few numbers per step, in both runs."""

    def measures(items: list[Item]) -> dict[str, dict[str, Value]]:
        def of(kind: str) -> list[Item]:
            return [i for i in items if i.kind == kind]

        lookups, connections = of("lookup"), of("connection")
        requests, packets, pages = of("request"), of("packet"), of("page")
        known = [i.fields["known_t"] for i in lookups if isinstance(i.fields["known_t"], float)]
        opened = [
            i.fields["opened_t"] for i in connections if isinstance(i.fields["opened_t"], float)
        ]
        return {
            "dns": {
                "questions": len(of("question")),
                "lookups": len(lookups),
                "name_known_t": round(max(known), 6) if known else None,
            },
            "connection": {
                "connections": len(connections),
                "syns": sum(int(i.fields["syns"] or 0) for i in connections),
                "first_open_t": round(min(opened), 6) if opened else None,
            },
            "request": {
                "requests": len(requests),
                "from_network": sum(1 for i in requests if i.fields["cache"] == "network"),
                "bytes": sum(int(i.fields["wire_size"] or 0) for i in requests),
                "packets": len(packets),
                "lost": sum(1 for i in packets if i.fields["fate"] == "lost"),
                "sent_again": sum(1 for i in packets if i.key[-1] != "#1"),
            },
            "page": {
                "built_t": round(float(pages[-1].fields["built_t"] or 0.0), 6) if pages else None,
                "status": pages[-1].fields["status"] if pages else None,
                "failed": pages[-1].fields["failed"] if pages else None,
            },
        }

    ma, mb = measures(a), measures(b)
    return [
        StepSummary(step, name, value, mb[step][name])
        for step in STEPS
        for name, value in ma[step].items()
    ]


# --- telling it -----------------------------------------------------------------------


def _packet_words(item: Item, language: str) -> str:
    """A packet of a comparison in words: "the browser's SYN", "a segment of 1448 bytes"."""
    _ = translation(language).gettext
    flow, sender, what = item.key[0], item.key[1], item.key[2]
    peer = flow.split()[1] if " " in flow else flow
    flags = what.split()[0]
    size = int(what.rsplit("len=", 1)[1]) if "len=" in what else 0
    if flow.startswith("udp"):
        question = " ".join(flow.split()[2:]) or "?"
        if sender == "browser":
            return _("the browser's DNS question {question} to {peer}").format(
                question=question, peer=peer
            )
        return _("the DNS answer to {question} from {peer}").format(question=question, peer=peer)
    if flags == "SYN":
        return _("the browser's SYN to {peer}").format(peer=peer)
    if flags == "SYN,ACK":
        return _("the SYN-ACK from {peer}").format(peer=peer)
    if size:
        if sender == "browser":
            return _("a segment of {size} bytes from the browser to {peer}").format(
                size=number(size, language), peer=peer
            )
        return _("a segment of {size} bytes from {peer} to the browser").format(
            size=number(size, language), peer=peer
        )
    if "FIN" in flags:
        return _("a FIN between the browser and {peer}").format(peer=peer)
    if sender == "browser":
        return _("an ACK from the browser to {peer}").format(peer=peer)
    return _("an ACK from {peer} to the browser").format(peer=peer)


def _node_packet_words(item: Item, language: str) -> str:
    """A packet at a server or router in words: "at the router, a DNS question
    www.webtrip.test. A from 10.0.0.53 to 192.0.2.1:53"."""
    _ = translation(language).gettext
    node, flow, sender, what = item.key[0], item.key[2], item.key[3], item.key[4]
    parts = flow.split()
    where = actor_name(node, language)
    if flow.startswith("udp") and len(parts) >= 4:
        question = " ".join(parts[4:]) or "?"
        if sender == "client":
            return _("at the {node}, the DNS question {question} from {client} to {server}").format(
                node=where, question=question, client=parts[1], server=parts[3]
            )
        return _("at the {node}, the DNS answer to {question} from {server} to {client}").format(
            node=where, question=question, client=parts[1], server=parts[3]
        )
    if flow.startswith("tcp") and len(parts) >= 4:
        flags = what.split()[0]
        size = int(what.rsplit("len=", 1)[1]) if "len=" in what else 0
        source, destination = (parts[1], parts[3]) if sender == "client" else (parts[3], parts[1])
        if size:
            return _(
                "at the {node}, a segment of {size} bytes from {source} to {destination}"
            ).format(
                node=where, size=number(size, language), source=source, destination=destination
            )
        return _("at the {node}, a {flags} from {source} to {destination}").format(
            node=where, flags=flags.replace(",", "-"), source=source, destination=destination
        )
    return _("at the {node}, a packet {flow}").format(node=where, flow=flow)


def _item_words(item: Item, language: str) -> str:
    _ = translation(language).gettext
    if item.kind == "packet":
        return _packet_words(item, language)
    if item.kind == "question":
        return _("the DNS question {name} {type} to {server} (asked by {actor})").format(
            actor=actor_name(item.key[0], language),
            name=item.key[1],
            type=item.key[2],
            server=item.key[3],
        )
    if item.kind == "lookup":
        return _("the browser's lookup of {name}").format(name=item.key[0])
    if item.kind == "node_packet":
        return _node_packet_words(item, language)
    if item.kind == "resolution":
        return _("the {actor}'s answer to {question}").format(
            actor=actor_name(item.key[0], language), question=item.key[1]
        )
    if item.kind == "connection":
        return _("the connection to {peer}").format(peer=item.key[0])
    if item.kind == "request":
        return _("the request for {url}").format(url=item.key[1])
    return _("the page {url}").format(url=item.key[0])


def _at(value: float, language: str, *, fine: bool = False) -> str:
    """A moment of a run, to the millisecond: "1.132 s" ("1,132 s"); ``fine``: to the
    microsecond, for two moments less than a millisecond apart."""
    return number(value, language, 6 if fine else 3) + " s"


def _first_sentence(comparison: Comparison, first: Difference, language: str) -> str:
    _ = translation(language).gettext
    a = comparison.item("a", first.key, first.kind)
    b = comparison.item("b", first.key, first.kind)
    if a is not None and b is not None and first.field == "fate" and first.kind == "node_packet":
        lost = b if first.b in ("lost", "dropped") else a
        run_lost, run_kept = ("B", "A") if lost is b else ("A", "B")
        return _(
            "The first difference: at {t}, in run {lost_run}, {packet} was lost on the "
            "link it was sent on; in run {kept_run} it went through."
        ).format(
            t=_at(lost.t, language),
            lost_run=run_lost,
            packet=_node_packet_words(lost, language),
            kept_run=run_kept,
        )
    if a is not None and b is not None and first.field == "fate":
        lost = b if first.b == "lost" else a
        run_lost, run_kept = ("B", "A") if lost is b else ("A", "B")
        return _(
            "The first difference: at {t}, in run {lost_run}, {packet} was lost on the "
            "browser's link; in run {kept_run} it went through."
        ).format(
            t=_at(lost.t, language),
            lost_run=run_lost,
            packet=_packet_words(lost, language),
            kept_run=run_kept,
        )
    if first.change in ("only_a", "only_b"):
        only = a or b
        assert only is not None
        return _("The first difference: at {t}, only run {run} has {what}.").format(
            t=_at(only.t, language),
            run="A" if first.change == "only_a" else "B",
            what=_item_words(only, language),
        )
    assert a is not None
    if first.change == "timing" and isinstance(first.a, float) and isinstance(first.b, float):
        shift = first.b - first.a
        if first.field is not None and first.field.endswith("_ms"):
            return _(
                "The first difference is in time: {what} took {b} in run B and {a} in run A."
            ).format(
                what=_item_words(a, language),
                a=milliseconds(first.a, language),
                b=milliseconds(first.b, language),
            )
        text = (
            _(
                "The first difference is in time: {what} came at {b} in run B instead of "
                "{a} in run A, {shift} later."
            )
            if shift > 0
            else _(
                "The first difference is in time: {what} came at {b} in run B instead of "
                "{a} in run A, {shift} sooner."
            )
        )
        return text.format(
            what=_item_words(a, language),
            a=_at(first.a, language, fine=abs(shift) < 0.001),
            b=_at(first.b, language, fine=abs(shift) < 0.001),
            shift=milliseconds(abs(shift) * 1000, language),
        )
    return _("The first difference: {what} has {field} {a} in run A and {b} in run B.").format(
        what=_item_words(a, language),
        field=_field_name(first.field, language),
        a=_value(first.field, first.a, language),
        b=_value(first.field, first.b, language),
    )


def _resends(comparison: Comparison, after: float, language: str) -> list[str]:
    """What was sent again in one run only, after the divergence: each with its wait, and
    the timer named only when the trace shows it (nothing arrived at that instant)."""
    _ = translation(language).gettext
    sentences = []
    for run, items, others in (
        ("B", comparison.b, comparison.a),
        ("A", comparison.a, comparison.b),
    ):
        keys = {(i.kind, i.key) for i in others}
        arrivals = {
            round(i.t, 9) for i in items if i.kind == "packet" and i.fields["fate"] == "arrived"
        }
        firsts = {i.key[:-1]: i for i in items if i.kind == "packet" and i.key[-1] == "#1"}
        for item in items:
            if item.kind != "packet" or item.key[-1] == "#1" or (item.kind, item.key) in keys:
                continue
            if item.t < after - TIME_TOLERANCE:
                continue
            first = firsts.get(item.key[:-1])
            if first is None:
                continue
            wait = milliseconds((item.t - first.t) * 1000, language)
            words = _packet_words(item, language)
            # Did anything come back on that flow while the sender waited?
            answered = any(
                i.kind == "packet" and i.key[0] == item.key[0] and i.key[1] != item.key[1]
                and i.fields["fate"] == "arrived" and first.t < i.t < item.t
                for i in items
            )  # fmt: skip
            if item.key[1] != "browser":  # seen arriving: why its sender sent it is not shown
                text = _("In run {run}, {packet} arrived again at {t}.")
            elif item.key[0].startswith("udp") and not answered:
                text = _(
                    "In run {run}, no answer had come, so at {t} the browser asked again: "
                    "{packet}, {wait} after the first time."
                )
            elif round(item.t, 9) in arrivals or item.key[0].startswith("udp"):
                text = _(
                    "In run {run}, {packet} was sent again at {t}, {wait} after the first time."
                )
            elif not answered:
                text = _(
                    "In run {run}, nothing had come back on that connection, so at {t} "
                    "{packet} was sent again when its retransmission timer ran out, {wait} "
                    "after the first time."
                )
            else:  # nothing arrived at that instant: no ACK made it go (see facts.by_ack)
                text = _(
                    "In run {run}, at {t} {packet} was sent again when its retransmission "
                    "timer ran out, {wait} after the first time."
                )
            sentences.append(text.format(run=run, packet=words, t=_at(item.t, language), wait=wait))
            if len(sentences) >= 4:
                return sentences
    return sentences


def story(comparison: Comparison, language: str = "en") -> list[str]:
    """The first divergence and what followed from it, sentence by sentence, with the runs'
    own values; nothing is said that the two traces do not show."""
    catalog = translation(language)
    _: Callable[[str], str] = catalog.gettext
    branch = comparison.branch
    if comparison.identical and branch is None:
        return [
            _(
                "The two runs are the same: every DNS question, connection, request and "
                "packet matches, at the same times."
            )
        ]
    sentences = []
    if branch is not None:
        sentences.append(
            _(
                "Run B is run A branched at {t}: {change}. Up to that moment the "
                "two runs are the same, event for event."
            ).format(
                t=_at(float(branch.get("at_t") or 0.0), language),
                change=_change_words(str(branch.get("change") or ""), language),
            )
        )
    for setting, a, b in comparison.settings:
        sentences.append(
            _("The runs were set up differently: {setting} {a} in run A, {b} in run B.").format(
                setting=_setting_name(setting, language),
                a=_setting_value(setting, a, language),
                b=_setting_value(setting, b, language),
            )
        )
    first = comparison.first
    if first is None and comparison.identical:
        sentences.append(
            _(
                "The change made no difference: every DNS question, connection, request "
                "and packet matches, at the same times."
            )
        )
        return sentences
    if first is None:
        sentences.append(
            _(
                "Apart from that, every DNS question, connection, request and packet "
                "matches, at the same times."
            )
        )
        return sentences
    sentences.append(_first_sentence(comparison, first, language))
    sentences.extend(_walks(comparison, language))
    sentences.extend(_resends(comparison, first.t, language))
    sentences.extend(_consequences(comparison, language))
    return sentences


def _change_words(change: str, language: str) -> str:
    """A what-if's change as the story names it: its text, with what it did for a change
    whose text a learner may not read (``flush-dns``)."""
    _ = translation(language).gettext
    if change.lower() in ("flush-dns", "empty-dns-cache"):
        return _("the resolver's cache and the browser's DNS cache were emptied ({change})").format(
            change=change
        )
    return change


def _server_words(comparison: Comparison, server: str, language: str) -> str:
    """A DNS server a resolver asked, by its role: "the root server 192.0.2.1:53"."""
    pgettext = translation(language).pgettext
    _name, role = comparison.nodes.get(server.rsplit(":", 1)[0], ("", ""))
    text = {
        "root": pgettext("asked", "the root server {server}"),
        "tld": pgettext("asked", "the top-level domain's server {server}"),
        "authoritative": pgettext("asked", "the authoritative server {server}"),
    }.get(role, pgettext("asked", "{server}"))
    return text.format(server=server)


def _listed(items: list[str], _: Callable[[str], str]) -> str:
    """ "a", "a and b", "a, b and c" (in the language of ``_``)."""
    if len(items) < 2:
        return "".join(items)
    return _("{items} and {last}").format(items=", ".join(items[:-1]), last=items[-1])


def _walks(comparison: Comparison, language: str) -> list[str]:
    """A resolver that answered from its cache in one run and had to ask in the other: the
    servers it asked (from its own questions in the trace) and when it answered."""
    catalog = translation(language)
    _ = catalog.gettext
    sentences = []
    for difference in comparison.differences:
        if difference.kind != "resolution" or difference.field != "from_cache":
            continue
        a = comparison.item("a", difference.key, difference.kind)
        b = comparison.item("b", difference.key, difference.kind)
        assert a is not None and b is not None
        asked, cached, run, other = (b, a, "B", "A") if difference.b == "no" else (a, b, "A", "B")
        items = comparison.b if asked is b else comparison.a
        done = asked.fields["answered_t"]
        assert isinstance(done, float)
        questions = [
            i for i in items if i.kind == "question" and i.key[0] == asked.key[0]
            and f"{i.key[1]} {i.key[2]}" == asked.key[1]
            and asked.t - TIME_TOLERANCE <= i.t <= done + TIME_TOLERANCE
        ]  # fmt: skip
        if not questions:
            continue
        servers = list(dict.fromkeys(i.key[3] for i in questions))
        when = cached.fields["answered_t"]
        assert isinstance(when, float)
        queries = int(asked.fields["queries"] or 0)
        sentences.append(
            _(
                "In run {run}, the {actor} had to find {question} itself: it asked "
                "{servers} ({count}) before answering at {t}; in run {other} it "
                "answered at {t_other} from its cache, asking no one."
            ).format(
                run=run,
                actor=actor_name(asked.key[0], language),
                question=asked.key[1],
                servers=_listed([_server_words(comparison, x, language) for x in servers], _),
                count=catalog.ngettext("{count} question", "{count} questions", queries).format(
                    count=number(queries, language)
                ),
                t=_at(done, language),
                other=other,
                t_other=_at(when, language),
            )
        )
    return sentences


def _setting_name(setting: str, language: str) -> str:
    _ = translation(language).gettext
    return {
        "latency": _("the browser's link had a one-way latency of"),
        "bandwidth": _("the browser's link carried"),
        "loss": _("the browser's link lost at random a share of"),
        "mtu": _("the browser's link had an MTU of"),
        "faults": _("the faults asked were"),
    }.get(setting, setting)


def _setting_value(setting: str, value: Value, language: str) -> str:
    _ = translation(language).gettext
    if value is None:
        return _("none") if setting == "faults" else _("no limit")
    if setting == "latency" and isinstance(value, float):
        return milliseconds(value * 1000, language)
    if setting == "bandwidth" and isinstance(value, float):
        mbits = value / 1e6
        return number(mbits, language, 0 if mbits == int(mbits) else 1) + " Mbit/s"
    if setting == "loss" and isinstance(value, float):
        return number(value * 100, language, 1) + " %"
    if isinstance(value, float):
        return number(value, language)
    return str(value)


def _consequences(comparison: Comparison, language: str) -> list[str]:
    """What came after it, in time order: each connection open, each file complete, the
    page built — each with its time in both runs — then what differs in kind (a status,
    where a file came from, a failure)."""
    _ = translation(language).gettext
    timed = []
    for difference in comparison.differences:
        a, b = difference.a, difference.b
        if difference.change != "timing" or not isinstance(a, float) or not isinstance(b, float):
            continue
        later = b > a
        values = {
            "a": _at(a, language),
            "b": _at(b, language),
            "shift": milliseconds(abs(b - a) * 1000, language),
        }
        if difference.kind == "connection" and difference.field == "opened_t":
            text = (
                _(
                    "The connection to {peer} for {url} was open at {b} instead of {a}: "
                    "{shift} later."
                )
                if later
                else _(
                    "The connection to {peer} for {url} was open at {b} instead of {a}: "
                    "{shift} sooner."
                )
            )
            values |= {"peer": difference.key[0], "url": difference.key[1]}
        elif difference.kind == "request" and difference.field == "done_t":
            text = (
                _("{url} was complete at {b} instead of {a}: {shift} later.")
                if later
                else _("{url} was complete at {b} instead of {a}: {shift} sooner.")
            )
            values |= {"url": difference.key[1]}
        elif difference.kind == "page" and difference.field == "built_t":
            text = (
                _("The page was built at {b} instead of {a}: {shift} later.")
                if later
                else _("The page was built at {b} instead of {a}: {shift} sooner.")
            )
        else:
            continue
        timed.append((b, text.format(**values)))
    sentences = [text for _t, text in sorted(timed, key=lambda pair: pair[0])]
    for difference in comparison.differences:
        if difference.change != "changed" or difference.kind not in ("request", "page", "lookup"):
            continue
        item = comparison.item("a", difference.key, difference.kind)
        assert item is not None
        failed = difference.field in ("failed", "error")
        if failed and (difference.a is None) != (difference.b is None):
            run, kind = ("B", difference.b) if difference.a is None else ("A", difference.a)
            sentences.append(
                _("In run {run}, {what} failed: {why}").format(
                    run=run,
                    what=_item_words(item, language),
                    why=_value(difference.field, kind, language),
                )
            )
        elif difference.field in ("status", "cache", "failed", "addresses", "error", "size"):
            sentences.append(
                _("{what}: {field} {a} in run A, {b} in run B.").format(
                    what=_item_words(item, language),
                    field=_field_name(difference.field, language),
                    a=_value(difference.field, difference.a, language),
                    b=_value(difference.field, difference.b, language),
                )
            )
    return sentences


_FIELDS = {
    "asked_t": N_("asked at"),
    "transport": N_("over"),
    "answer": N_("answer"),
    "answered_t": N_("answered at"),
    "known_t": N_("known at"),
    "addresses": N_("addresses"),
    "source": N_("answered by"),
    "failed": N_("failure"),
    "started_t": N_("started at"),
    "opened_t": N_("open at"),
    "handshake_ms": N_("handshake"),
    "syns": N_("SYNs sent"),
    "queued_t": N_("asked for at"),
    "done_t": N_("complete at"),
    "total_ms": N_("total time"),
    "status": N_("status"),
    "size": N_("size (bytes)"),
    "wire_size": N_("bytes received"),
    "cache": N_("answered from"),
    "error": N_("error"),
    "reused": N_("connection reused"),
    "rcode": N_("result"),
    "from_cache": N_("from its cache"),
    "queries": N_("questions it asked"),
    "segments_on_connection": N_("segments on its connection"),
    "segments": N_("its segments"),
    "sent": N_("packets sent"),
    "received": N_("packets received"),
    "dropped": N_("packets dropped"),
    "t": N_("at"),
    "fate": N_("outcome"),
    "built_t": N_("built at"),
    "title": N_("title"),
}
"""The compared fields, as a learner reads them."""

_VALUES = {
    "sent": N_("sent"),
    "arrived": N_("arrived"),
    "lost": N_("lost"),
    "yes": N_("yes"),
    "no": N_("no"),
}


def _field_name(name: str | None, language: str) -> str:
    _ = translation(language).gettext
    return _(_FIELDS[name]) if name in _FIELDS else name or ""


def _value(field: str | None, value: Value, language: str) -> str:
    """A compared field's value in words: a failure's kind as the narration tells it."""
    if field in ("error", "failed") and isinstance(value, str):
        known = failure(value)
        if known is not None:
            return translation(language).gettext(known.explanation)
    return _shown(value, language)


def _shown(value: Value, language: str) -> str:
    _ = translation(language).gettext
    if value is None:
        return _("none")
    if value == "network":
        return _("the network")
    if value == "fresh":
        return _("the browser's HTTP cache")
    if value == "revalidated":
        return _("the browser's HTTP cache, after asking the server (304)")
    if isinstance(value, str) and value in _VALUES:
        return _(_VALUES[value])
    if isinstance(value, float):
        return number(value, language, 3)
    if isinstance(value, int):
        return number(value, language)
    return str(value)


_MEASURES = {
    "questions": N_("DNS questions sent"),
    "lookups": N_("names looked up"),
    "name_known_t": N_("last name known at"),
    "connections": N_("connections"),
    "syns": N_("SYNs the browser sent"),
    "first_open_t": N_("first connection open at"),
    "requests": N_("requests"),
    "from_network": N_("files from the network"),
    "bytes": N_("bytes received"),
    "packets": N_("packets at the browser"),
    "lost": N_("packets lost"),
    "sent_again": N_("packets sent again"),
    "built_t": N_("page built at"),
    "status": N_("status"),
    "failed": N_("failure"),
}
_STEP_TITLES = {
    "dns": N_("1 DNS"),
    "connection": N_("2 Connection"),
    "request": N_("3 Request and packets"),
    "page": N_("4 Page built"),
}


def _measure_value(measure: str, value: Value, language: str) -> str:
    if measure.endswith("_t") and isinstance(value, float):
        return _at(value, language)
    return _shown(value, language) if value is not None else "—"


def show(console: Console, comparison: Comparison, language: str, limit: int = 40) -> None:
    """The comparison at a terminal: the steps side by side, the differences, the story."""
    _ = translation(language).gettext
    table = Table(title=_("Two runs side by side"), title_justify="left")
    table.add_column(_("step"))
    table.add_column(_("measure"))
    table.add_column(_("run A"), justify="right")
    table.add_column(_("run B"), justify="right")
    table.add_column("")
    for row in comparison.summary:
        table.add_row(
            _(_STEP_TITLES[row.step]),
            _(_MEASURES[row.measure]),
            _measure_value(row.measure, row.a, language),
            _measure_value(row.measure, row.b, language),
            "" if row.same else "≠",
        )
    console.print(table)
    console.print()
    nodes = Table(title=_("Packets per node (each node's own capture)"), title_justify="left")
    nodes.add_column(_("node"))
    for heading in (_("sent (A → B)"), _("received (A → B)"), _("dropped (A → B)")):
        nodes.add_column(heading, justify="right")
    nodes.add_column(_("packets that differ"), justify="right")
    for node_row in comparison.per_node():
        cells = []
        for fate in ("sent", "received", "dropped"):
            pair = [(node_row[side] or {}).get(fate) for side in ("a", "b")]
            a, b = (_shown(value, language) if value is not None else "—" for value in pair)
            cells.append(a if a == b else f"{a} → {b}")
        differ = number(node_row["differences"], language) if node_row["differences"] else ""
        nodes.add_row(actor_name(node_row["node"], language), *cells, differ)
    console.print(nodes)
    console.print()
    differences = comparison.differences
    if differences:
        console.print(
            _("Differences ({count}), the earliest first:").format(
                count=number(len(differences), language)
            ),
            highlight=False,
        )
        kinds = [d for d in differences if d.change != "timing" and d.kind != "node_packet"]
        for difference in kinds[:limit]:
            console.print(
                "  " + _difference_line(comparison, difference, language),
                highlight=False,
                markup=False,
            )
        if len(kinds) > limit:
            console.print(
                "  "
                + _("… and {count} more (all of them with --json)").format(
                    count=number(len(kinds) - limit, language)
                ),
                highlight=False,
            )
        for line in _timing_lines(differences, language):
            console.print("  " + line, highlight=False, markup=False)
        console.print()
    for sentence in story(comparison, language):
        console.print(sentence, highlight=False, markup=False)


def _shift(value: float, language: str) -> str:
    """A shift in milliseconds: as :func:`milliseconds` writes it, to the microsecond
    below a hundredth of a millisecond (so that a tiny shift is not "0.00 ms")."""
    if value < 0.01:
        return number(value, language, 3) + " ms"
    return milliseconds(value, language)


def _timing_lines(differences: list[Difference], language: str) -> list[str]:
    """The differences in time, summed up: how many moments of each kind moved by how
    much, and from when (one line per kind and shift; every one is in --json)."""
    _ = translation(language).gettext
    groups: dict[tuple[str, str, bool], list[Difference]] = defaultdict(list)
    for d in differences:
        timed = d.change == "timing" and d.field is not None and not d.field.endswith("_ms")
        if timed and isinstance(d.a, float) and isinstance(d.b, float):
            shift = (d.b - d.a) * 1000  # grouped as shown: 47.998 and 48.002 ms are "48 ms"
            groups[(d.kind, _shift(abs(shift), language), shift > 0)].append(d)
    lines = []
    for (kind, shown, later), found in sorted(groups.items(), key=lambda g: min(d.t for d in g[1])):
        text = (
            _("{t}  from here on, {shift} later: {what} ({count})")
            if later
            else _("{t}  from here on, {shift} sooner: {what} ({count})")
        )
        lines.append(
            text.format(
                t=_at(min(d.t for d in found), language),
                count=number(len(found), language),
                what=_(_KINDS[kind]),
                shift=shown,
            )
        )
    return lines


_KINDS = {
    "question": N_("DNS questions"),
    "lookup": N_("name lookups"),
    "resolution": N_("the resolver's answers"),
    "connection": N_("connections"),
    "request": N_("requests"),
    "packet": N_("packets at the browser"),
    "node_packet": N_("packets at the other nodes"),
    "page": N_("the page"),
}


def _difference_line(comparison: Comparison, difference: Difference, language: str) -> str:
    _ = translation(language).gettext
    side = "a" if difference.change != "only_b" else "b"
    item = comparison.item(side, difference.key, difference.kind)
    assert item is not None
    what = _item_words(item, language)
    occurrence = difference.key[-1]
    if occurrence.startswith("#") and occurrence != "#1":
        what += " " + _("(time {n})").format(n=occurrence[1:])
    t = _at(difference.t, language)
    if difference.change == "only_a":
        return _("{t}  only in A: {what}").format(t=t, what=what)
    if difference.change == "only_b":
        return _("{t}  only in B: {what}").format(t=t, what=what)
    if (
        difference.field is not None
        and _is_time(difference.field)
        and not difference.field.endswith("_ms")
    ):
        a, b = difference.a, difference.b
        shown_a = _at(a, language) if isinstance(a, float) else _shown(a, language)
        shown_b = _at(b, language) if isinstance(b, float) else _shown(b, language)
    elif difference.field is not None and difference.field.endswith("_ms"):
        shown_a, shown_b = (
            milliseconds(value, language) if isinstance(value, float) else _shown(value, language)
            for value in (difference.a, difference.b)
        )
    else:
        shown_a = _value(difference.field, difference.a, language)
        shown_b = _value(difference.field, difference.b, language)
    return _("{t}  {what}: {field} {a} → {b}").format(
        t=t, what=what, field=_field_name(difference.field, language), a=shown_a, b=shown_b
    )
