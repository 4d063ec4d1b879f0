"""Event types: what actors and worlds record, one small frozen dataclass each.

Times are seconds from the start of the run (``Trace.now()``), so a real run
and a simulated run read the same way. Addresses are ``(host, port)`` pairs.
DNS events keep the message's exact bytes (``wire``) — the truth that a
packet capture would show, malformed or not — and decode it on demand.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Annotated

import dns.exception
import dns.message

Address = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Bounds:
    """The range of a number field that is not seconds (``Annotated[float, Bounds(0, 1)]``):
    what a saved trace may hold there (:mod:`webtrip.trace.schema`)."""

    low: float
    high: float


Share = Annotated[float, Bounds(0.0, 1.0)]
"""A share of something, from 0 (none) to 1 (all)."""
BitsPerSecond = Annotated[float, Bounds(1.0, 1e12)]
"""A rate in bits per second (up to a terabit)."""


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened at time ``t`` (seconds from the run's start) to ``actor``."""

    t: float
    actor: str


@dataclass(frozen=True, slots=True)
class _DnsWire(Event):
    transport: str  # "udp" or "tcp"
    local: Address
    peer: Address
    wire: bytes

    @property
    def size(self) -> int:
        """The DNS message's size in bytes (without TCP's two-byte length prefix)."""
        return len(self.wire)

    @property
    def message(self) -> dns.message.Message | None:
        """The decoded DNS message, or None if its bytes are not a valid message (decoded
        once per distinct message: read it, do not change it)."""
        return _decoded(self.wire)


@functools.lru_cache(maxsize=4096)
def _decoded(wire: bytes) -> dns.message.Message | None:
    try:
        return dns.message.from_wire(wire)
    except (dns.exception.DNSException, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class DnsMessageReceived(_DnsWire):
    """A DNS message (query or response) arrived from ``peer``."""


@dataclass(frozen=True, slots=True)
class DnsMessageSent(_DnsWire):
    """A DNS message was sent to ``peer``.

    ``responds_to`` is the time of the received query this message answers
    (None for a client's own query), so ``t - responds_to`` is how long the
    server took.
    """

    responds_to: float | None = None


@dataclass(frozen=True, slots=True)
class DnsMessageDropped(_DnsWire):
    """A received DNS message was dropped without an answer, and why."""

    reason: str = ""


@dataclass(frozen=True, slots=True)
class ResolverStep(Event):
    """One step of a recursive resolver's walk while it answers ``question``.

    ``question`` is the client's question ("www.example.test. A") this step
    serves; ``server`` the name server asked, as an authority for ``zone``
    (None: the resolver's cache, or nobody); ``qname``/``qtype`` what it was
    asked (a name server's own address, at ``depth`` 1 or more); ``outcome``
    what came of it (referral, answer, cname, nxdomain, nodata, cache, lame,
    no answer, skipped, forwarded) and ``detail`` the records or the reason.
    """

    question: str
    server: Address | None
    zone: str
    qname: str
    qtype: str
    outcome: str
    detail: str
    depth: int


@dataclass(frozen=True, slots=True)
class ResolverAnswered(Event):
    """A recursive resolver answered ``client``'s ``question`` with ``rcode``.

    ``from_cache``: without asking any server; ``queries``: how many it sent
    to find the answer; ``started``: when the question arrived.
    """

    client: Address
    question: str
    rcode: str
    answer: tuple[str, ...]  # the answer section, one record per text
    from_cache: bool
    queries: int
    started: float
    reason: str = ""  # why SERVFAIL or REFUSED


@dataclass(frozen=True, slots=True)
class TcpConnectionOpened(Event):
    """A TCP connection between ``local`` and ``peer`` was established."""

    local: Address
    peer: Address
    connection: int


@dataclass(frozen=True, slots=True)
class TcpConnectionClosed(Event):
    """A TCP connection ended; ``reason`` says who or what closed it."""

    local: Address
    peer: Address
    connection: int
    reason: str


Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class HttpRequestReceived(Event):
    """A complete HTTP request head arrived on ``connection``."""

    connection: int
    local: Address
    peer: Address
    method: str
    target: str
    version: str
    headers: Headers


@dataclass(frozen=True, slots=True)
class HttpResponseHeadSent(Event):
    """The status line and headers of a response were sent."""

    connection: int
    status: int
    headers: Headers


@dataclass(frozen=True, slots=True)
class HttpBodySent(Event):
    """``size`` bytes of a response body were handed to the network."""

    connection: int
    size: int


@dataclass(frozen=True, slots=True)
class HttpExchangeCompleted(Event):
    """A request was answered in full: the facts an access log line needs.

    ``started`` is when the request head was complete; ``body_size`` counts
    the body bytes sent (0 for HEAD and 304).
    """

    connection: int
    peer: Address
    method: str
    target: str
    version: str
    status: int
    body_size: int
    started: float


# --- the browser's side ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NameLookupStarted(Event):
    """The browser needs the address of ``name`` (step 1 begins)."""

    name: str
    request: int  # the request that needed it


@dataclass(frozen=True, slots=True)
class NameResolved(Event):
    """``name`` has addresses; ``source`` is "dns", "hosts" or "literal"."""

    name: str
    addresses: tuple[str, ...]
    source: str
    canonical: str
    chain: tuple[str, ...]  # CNAME names followed, in order
    ttl: int | None
    server: Address | None
    request: int


@dataclass(frozen=True, slots=True)
class NameLookupFailed(Event):
    """Looking ``name`` up failed: ``kind`` and ``message`` as :class:`PageLoadFinished`
    has them, with the sentence's ``message_id`` and ``message_values``."""

    name: str
    kind: str
    message: str
    request: int
    message_id: str = ""
    message_values: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class TcpConnectStarted(Event):
    """The browser sent a SYN to ``peer`` for ``request``."""

    connection: int
    peer: Address
    request: int


@dataclass(frozen=True, slots=True)
class TcpConnectFailed(Event):
    """Connecting to ``peer`` failed: ``kind`` (timeout, refused, unreachable, error) and
    ``message``, why in a few English words; ``reason`` is why as the system said it,
    its errno name ("ECONNREFUSED") or its own words (older traces: "")."""

    connection: int
    peer: Address
    kind: str
    message: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class TlsHandshakeCompleted(Event):
    """TLS is set up on ``connection``: what was agreed, and the server's certificate."""

    connection: int
    server_name: str
    version: str
    cipher: str
    subject: str
    issuer: str
    not_after: str


@dataclass(frozen=True, slots=True)
class HttpRequestQueued(Event):
    """The browser wants ``url``; ``initiator`` is the URL of what asked for it."""

    request: int
    method: str
    url: str
    initiator: str | None
    kind: str = "other"  # document, stylesheet, script, module, image, font, frame, import…
    why: str = ""  # why the browser chose it: an English template ("srcset {density}x …")
    why_values: tuple[tuple[str, str], ...] = ()  # the template's values


@dataclass(frozen=True, slots=True)
class HttpRequestSent(Event):
    """The request left the browser on ``connection`` (``started``: when sending began)."""

    request: int
    connection: int
    reused: bool
    started: float
    size: int
    headers: Headers


@dataclass(frozen=True, slots=True)
class StreamRead(Event):
    """One read from a connection returned ``size`` bytes: how the answer arrives."""

    connection: int
    size: int


@dataclass(frozen=True, slots=True)
class HttpResponseStarted(Event):
    """The response's status line and headers arrived for ``request``."""

    request: int
    connection: int
    status: int
    reason: str
    http_version: str
    headers: Headers


@dataclass(frozen=True, slots=True)
class HttpResponseCompleted(Event):
    """The whole body arrived: ``wire_size`` as sent, ``size`` once decoded."""

    request: int
    connection: int
    status: int
    wire_size: int
    size: int
    content_type: str
    encoding: str | None


@dataclass(frozen=True, slots=True)
class HttpRequestFailed(Event):
    """``request`` failed: ``kind`` and ``message`` as :class:`PageLoadFinished` has them,
    with the sentence's ``message_id`` and ``message_values``."""

    request: int
    kind: str
    message: str
    message_id: str = ""
    message_values: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class HttpRequestRetried(Event):
    """``request`` goes out again on a new connection: ``connection`` closed or was reset
    before any byte of the answer (``message`` says which)."""

    request: int
    connection: int
    message: str


@dataclass(frozen=True, slots=True)
class HttpCacheLookup(Event):
    """The browser looked for ``url`` in its HTTP cache before asking the network (RFC 9111).

    ``outcome`` is what it decided: "miss" (nothing stored: a plain request),
    "fresh" (a stored response still fresh: used at once, no request sent),
    "stale" (stored but no longer fresh: a conditional request asks whether it
    changed), or "validate" (fresh, but the page is being reloaded: Chromium's
    reload asks about the page itself all the same). ``age`` and ``lifetime``
    are the stored response's age and freshness lifetime in seconds, and
    ``freshness`` where the lifetime came from ("max-age", "expires",
    "heuristic" — a tenth of the time since Last-Modified — or "none").
    ``status`` and ``wire_size`` are those of the stored response (the bytes its
    body took on the network when it was fetched), ``conditions`` the
    If-None-Match / If-Modified-Since headers the request carries.
    """

    request: int
    url: str
    outcome: str
    age: float = 0.0
    lifetime: float = 0.0
    freshness: str = "none"
    status: int = 0
    wire_size: int = 0
    conditions: Headers = ()


@dataclass(frozen=True, slots=True)
class HttpCacheStored(Event):
    """What the browser's HTTP cache did with the response to ``request``.

    ``outcome``: "stored" (kept for next time), "updated" (a 304 Not Modified:
    the stored response is fresh again, with the new headers), or "not-stored"
    with ``reason``: "no-store" (Cache-Control said so), "vary" (Vary: *),
    "status" (a status that may not be kept without explicit freshness),
    "partial" (206), "method" (not a GET). ``lifetime`` and ``freshness`` as in
    :class:`HttpCacheLookup`.
    """

    request: int
    url: str
    outcome: str
    reason: str = ""
    lifetime: float = 0.0
    freshness: str = "none"


@dataclass(frozen=True, slots=True)
class TcpInfoRead(Event):
    """The kernel's counters for ``connection`` (Linux TCP_INFO), read before closing."""

    connection: int
    segments_out: int
    segments_in: int
    data_segments_out: int
    data_segments_in: int
    retransmissions: int
    rtt: float
    mss_in: int


@dataclass(frozen=True, slots=True)
class PageLoadStarted(Event):
    url: str


@dataclass(frozen=True, slots=True)
class PageLoadFinished(Event):
    """The page and its sub-resources are done (``failed`` names the failure kind, if any).

    ``message`` is why, one English sentence; ``message_id`` is that sentence's
    template in the catalog (English, with ``{named}`` places) and ``message_values``
    the run's values for them, so that a view says it in its reader's language
    (``webtrip.browser.failure_sentence``). Traces older than these two have "" and ().
    """

    url: str
    final_url: str
    status: int | None
    title: str
    failed: str | None
    message: str
    message_id: str = ""
    message_values: tuple[tuple[str, str], ...] = ()


# --- the conditions and faults a learner set ------------------------------------------


@dataclass(frozen=True, slots=True)
class LinkConditionsSet(Event):
    """The browser's link as the run built it (``actor``: the world): one-way ``latency``
    (s), ``bandwidth`` (bit/s, None: no limit), the share of packets ``loss`` loses at
    random, and the ``mtu`` (bytes). Recorded at the start of a simulated run."""

    ends: tuple[str, str]  # the two nodes it joins, the browser's first
    latency: float
    bandwidth: BitsPerSecond | None
    loss: Share
    mtu: int


NodeDescription = tuple[str, str, tuple[str, ...]]
"""A node of a simulated network: its name, its role (browser, router, resolver, root,
tld, authoritative, web, other) and its addresses (with their interfaces' names:
``eth0 10.0.0.1``)."""

LinkDescription = tuple[str, str, str, float, float | None, float, int]
"""A link of a simulated network: its name (``link1``...), its two nodes, one-way
latency (s), bandwidth (bit/s, None: no limit), loss (share 0–1) and MTU (bytes)."""


@dataclass(frozen=True, slots=True)
class NetworkDescribed(Event):
    """The simulated network a run was built on, recorded once at its start (``actor``:
    the world): every node with its role and addresses, every link with its conditions.
    What a view draws as the network — never guessed from the packets. ``seed`` is the
    seed the run was made with (the same seed and settings give the same packets), None
    when it is not known (a trace recorded before it was kept)."""

    nodes: tuple[NodeDescription, ...]
    links: tuple[LinkDescription, ...]
    seed: int | None = None


@dataclass(frozen=True, slots=True)
class FaultOutcome(Event):
    """What a targeted fault (``--drop``/``--delay``) did, recorded when the run ends.

    ``text`` is the filter as the user wrote it; the fault acts on the ``nth``
    matching packet; ``matched`` counts the packets that matched on the browser's
    link; ``fired`` is False when there was no ``nth`` one, so it did nothing.
    """

    action: str  # "drop" or "delay"
    text: str
    nth: int
    extra: float  # the delay, s (0 for a drop)
    matched: int
    fired: bool


# --- the simulated network's packets --------------------------------------------------


OUT = "out"
"""A :class:`PacketCaptured` direction: the packet entered the link (a link's queue took it)."""
IN = "in"
"""A :class:`PacketCaptured` direction: the packet arrived from the link."""
DROP = "drop"
"""A :class:`PacketCaptured` direction: the packet was thrown away, with a ``reason``."""
LOOPBACK = "lo"
"""The name of the interface a host uses to send packets to itself."""
INSIDE = "-"
"""The interface of a drop that happens inside a node (no route, no socket...)."""


@dataclass(frozen=True, slots=True)
class PacketCaptured(Event):
    """A packet at one interface of the simulated node ``actor``: its exact IPv4 bytes.

    ``direction`` is :data:`OUT` (it entered the link), :data:`IN` (it arrived
    from the link) or :data:`DROP` (thrown away here or on the link it was sent
    on, with ``reason``); ``interface`` is ``eth0``..., :data:`LOOPBACK`, or
    :data:`INSIDE` (inside the node). A pcap file is a view of these events.
    """

    interface: str
    direction: str
    data: bytes
    reason: str = ""

    @property
    def node(self) -> str:
        """The node's name (``actor``): the event is also the world's packet-log record."""
        return self.actor


def event_types() -> dict[str, type[Event]]:
    """Every concrete event type by class name (for loading saved traces)."""
    found: dict[str, type[Event]] = {}
    pending: list[type[Event]] = [Event]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            pending.append(sub)
            if not sub.__name__.startswith("_"):
                found[sub.__name__] = sub
    return found


__all__ = [
    "DROP",
    "IN",
    "INSIDE",
    "LOOPBACK",
    "OUT",
    "Address",
    "BitsPerSecond",
    "Bounds",
    "DnsMessageDropped",
    "DnsMessageReceived",
    "DnsMessageSent",
    "Event",
    "FaultOutcome",
    "Headers",
    "HttpBodySent",
    "HttpExchangeCompleted",
    "HttpRequestFailed",
    "HttpRequestQueued",
    "HttpRequestReceived",
    "HttpRequestRetried",
    "HttpRequestSent",
    "HttpResponseCompleted",
    "HttpResponseHeadSent",
    "HttpResponseStarted",
    "LinkConditionsSet",
    "LinkDescription",
    "NameLookupFailed",
    "NameLookupStarted",
    "NameResolved",
    "NetworkDescribed",
    "NodeDescription",
    "PacketCaptured",
    "PageLoadFinished",
    "PageLoadStarted",
    "ResolverAnswered",
    "ResolverStep",
    "Share",
    "StreamRead",
    "TcpConnectFailed",
    "TcpConnectStarted",
    "TcpConnectionClosed",
    "TcpConnectionOpened",
    "TcpInfoRead",
    "TlsHandshakeCompleted",
    "event_types",
]
