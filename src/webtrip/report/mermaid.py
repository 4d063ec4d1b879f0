"""A trace as mermaid diagrams: who said what to whom, and the trip at a glance.

:func:`mermaid_from_trace` draws the browser's side of a page load as a
``sequenceDiagram``: the DNS questions and answers, each connection's TCP
handshake, each HTTP request and its answer, with notes giving how long each
step took. Requests that ran at the same time on different connections are
drawn inside a ``par`` block, and packets are summarised in notes. In a
simulated run, whose trace holds every packet, the router the packets pass
through is drawn between the browser and the servers, a packet that was lost
is a crossed arrow (``-x``) at the place it was lost, and a segment sent again
says that it is a retransmission and why (no acknowledgement in time, or
duplicate ACKs). A DNS question the server never answered is crossed too.
Nothing is drawn that the trace does not contain: a real-world run has no
packets, so it has no router and no crossed arrows.

:func:`mermaid_flowchart` draws the same load as the four steps' picture, a
``flowchart``: Client – Browser → DNS server (the address) → Internet → Web
server, and back, labelled with the run's own values.

Both are written in the run's language (gettext), numbers as that language
writes them, and can be pasted in a Markdown file as a fenced ``mermaid`` block.
"""

from __future__ import annotations

import heapq
import urllib.parse
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype

from webtrip.i18n import milliseconds, number, translation
from webtrip.packets.dissect import Packet, dissect
from webtrip.packets.ipv4 import addresses
from webtrip.packets.tcp_analysis import Mark, TcpAnalysis
from webtrip.report.facts import packets_by_peer, page_load_facts
from webtrip.trace import (
    DnsMessageDropped,
    DnsMessageReceived,
    DnsMessageSent,
    HttpRequestFailed,
    HttpRequestSent,
    HttpResponseCompleted,
    HttpResponseStarted,
    NameLookupFailed,
    NameResolved,
    PacketCaptured,
    PageLoadFinished,
    PageLoadStarted,
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
from webtrip.trace.events import DROP, IN, INSIDE, OUT, Address, Event

STYLES = ("sequence", "flowchart")
"""The diagrams ``--mermaid-style`` chooses from (the first is the default)."""

BROWSER = "B"
ROUTER = "R"
_ESCAPES = {"#": "#35;", ";": "#59;", "\n": " ", "\r": " "}


def escape(text: str) -> str:
    """Text safe in a mermaid message or note: ``#`` and ``;`` as entity codes."""
    return "".join(_ESCAPES.get(char, char) for char in text)


def _label(text: str) -> str:
    """A participant's label: also without ``:`` (written as an entity code)."""
    return escape(text).replace(":", "#58;")


class _Words:
    """The run's language: gettext's ``_`` and ``ngettext``, and numbers as it writes them."""

    def __init__(self, language: str) -> None:
        catalog = translation(language)
        self.language = language
        self._: Callable[[str], str] = catalog.gettext
        self.ngettext: Callable[[str, str, int], str] = catalog.ngettext

    def ms(self, seconds: float) -> str:
        return milliseconds(seconds * 1000, self.language)

    def n(self, value: float) -> str:
        return number(value, self.language)

    def bytes(self, size: int) -> str:
        return self.ngettext("{size} byte", "{size} bytes", size).format(size=self.n(size))


# --- the packets: where the router is, what was lost, what was sent again ------------------


@dataclass(frozen=True)
class PacketFault:
    """A packet of the browser's conversations that was lost, or a segment sent again.

    ``lost``: the drop (where, when and why), None for a retransmission that
    arrived; ``again``: Wireshark's mark when the sender had sent it before
    (at ``first_sent``), else None.
    """

    t: float
    source: str
    destination: str
    packet: Packet
    lost: PacketCaptured | None
    again: Mark | None
    first_sent: float | None


def forwarders(trace: Trace) -> list[str]:
    """The nodes that forward packets (routers): they send on what others sent them."""
    came_in: dict[str, set[bytes]] = defaultdict(set)
    forwarding: set[str] = set()
    for event in trace.of_type(PacketCaptured):
        key = event.data[12:20] + event.data[4:6]  # addresses and IP identification
        if event.direction == IN:
            came_in[event.actor].add(key)
        elif event.direction == OUT and key in came_in[event.actor]:
            forwarding.add(event.actor)
    return sorted(forwarding)


def _segment_key(packet: Packet) -> tuple[Any, ...] | None:
    tcp = packet.tcp
    if tcp is None:
        return None
    ip = packet.ip
    return (ip.source, tcp.source_port, ip.destination, tcp.destination_port,
            tcp.sequence, tcp.acknowledgment, tcp.flags, tcp.payload_size)  # fmt: skip


def sent_again(trace: Trace) -> dict[int, tuple[Mark, float]]:
    """The segments their sender had sent before: ``id(event)`` of each such ``out``
    capture → (Wireshark's mark, when that sequence number first went out).

    Each segment is judged in its sender's own capture, as Wireshark would on that
    node's pcap (:class:`TcpAnalysis`); routers are left out (their captures hold each
    forwarded segment twice, in and out). The mermaid diagram and the app's messages
    both read retransmissions from here.
    """
    captures = trace.of_type(PacketCaptured)
    routers = set(forwarders(trace))
    found: dict[int, tuple[Mark, float]] = {}
    for node in sorted({e.actor for e in captures} - routers):
        analysis = TcpAnalysis()
        first: dict[tuple[Any, ...], float] = {}
        frame = 0
        for event in captures:
            if event.actor != node or event.direction not in (IN, OUT):
                continue
            frame += 1
            try:
                packet = dissect(event.data)
            except ValueError:
                continue
            key = _segment_key(packet)
            if key is None:
                continue
            ip = packet.ip
            seen = analysis.segment(ip.source, ip.destination, ip.payload, frame, event.t)
            if event.direction == OUT:
                flow_seq = (*key[:5], key[6])
                first.setdefault(flow_seq, event.t)
                if seen.is_retransmission:
                    found[id(event)] = (seen.mark, first[flow_seq])
    return found


def packet_faults(trace: Trace, browser: set[str]) -> list[PacketFault]:
    """The lost packets and the retransmitted segments to or from ``browser``'s addresses.

    Each segment is judged in its sender's own capture (:func:`sent_again`); a drop
    is matched to the send it ends. Empty for a trace without packets (a real-world run).
    """
    captures = trace.of_type(PacketCaptured)
    resent = sent_again(trace)
    routers = set(forwarders(trace))
    sends: dict[tuple[Any, ...], list[tuple[float, Mark, float, Packet]]] = defaultdict(list)
    for event in captures:
        if event.direction != OUT or event.actor in routers:
            continue
        try:
            packet = dissect(event.data)
        except ValueError:
            continue
        key = _segment_key(packet)
        if key is None or not browser & {packet.ip.source, packet.ip.destination}:
            continue
        mark, first_sent = resent.get(id(event), (Mark.NONE, event.t))
        sends[key].append((event.t, mark, first_sent, packet))
    faults: list[PacketFault] = []
    lost_sends: set[tuple[tuple[Any, ...], float]] = set()
    for event in captures:
        if event.direction != DROP:
            continue
        try:
            packet = dissect(event.data)
        except ValueError:
            continue
        ip = packet.ip
        if not browser & {ip.source, ip.destination}:
            continue
        key = _segment_key(packet)
        sent = [s for s in sends.get(key, []) if s[0] <= event.t] if key is not None else []
        again: Mark | None = None
        since: float | None = None
        if key is not None and sent:
            lost_sends.add((key, sent[-1][0]))
            if sent[-1][1] is not Mark.NONE:
                again, since = sent[-1][1], sent[-1][2]
        faults.append(PacketFault(event.t, ip.source, ip.destination, packet, event, again, since))
    for key, records in sends.items():
        for t, mark, since, packet in records:
            if mark is not Mark.NONE and (key, t) not in lost_sends:
                faults.append(PacketFault(t, key[0], key[2], packet, None, mark, since))
    return sorted(faults, key=lambda f: f.t)


def _packet_name(packet: Packet, w: _Words) -> str:
    """What a packet is, in a few words: "SYN", "SYN-ACK", "a DNS answer"..."""
    _ = w._
    tcp = packet.tcp
    if tcp is not None:
        flags = set(tcp.flags)
        if "SYN" in flags:
            return "SYN-ACK" if "ACK" in flags else "SYN"
        if "RST" in flags:
            return "RST"
        if tcp.payload_size:
            return _("data segment ({size})").format(size=w.bytes(tcp.payload_size))
        return "FIN" if "FIN" in flags else "ACK"
    udp = packet.udp
    if udp is not None and 53 in (udp.source_port, udp.destination_port):
        return _("a DNS question") if udp.destination_port == 53 else _("a DNS answer")
    return _("a packet of {size}").format(size=w.bytes(packet.size))


def _loss_reason(event: PacketCaptured, w: _Words) -> str:
    """Why the simulator threw the packet away, in the run's language."""
    _ = w._
    reason = event.reason
    if reason.startswith("targeted fault"):
        return _("dropped on purpose by the --drop fault")
    if reason == "lost on the link":
        return _("lost at random on the link (--loss)")
    if reason.startswith("queue full"):
        return _("the link's queue was full")
    if event.interface == INSIDE:
        return _("thrown away by {node}").format(node=event.actor)
    return _("lost on the link")


def _why_again(fault: PacketFault, w: _Words) -> str:
    """A retransmission: that it is one, and why its sender sent it again."""
    _ = w._
    if fault.again is Mark.FAST_RETRANSMISSION:
        return _("fast retransmission: duplicate ACKs asked for it again")
    if fault.again is Mark.SPURIOUS_RETRANSMISSION:
        return _("spurious retransmission: the other side already had it")
    sent = fault.lost.t if fault.lost is not None else fault.t
    waited = w.ms(sent - fault.first_sent) if fault.first_sent is not None else "?"
    return _("retransmission after a timeout: no acknowledgement {waited} after the first").format(
        waited=waited
    )


def _dns_text(event: DnsMessageSent | DnsMessageReceived, w: _Words) -> tuple[str, str | None]:
    """(arrow text, question name) of a DNS message."""
    _ = w._
    message = event.message
    if message is None or not message.question:
        return _("malformed DNS message ({size})").format(size=w.bytes(event.size)), None
    question = message.question[0]
    name = question.name.to_text(omit_final_dot=True)
    rtype = dns.rdatatype.to_text(question.rdtype)
    size = w.bytes(event.size)
    if not message.flags & dns.flags.QR:
        text = _("query {type} {name}? ({transport}, {size})")
        return text.format(type=rtype, name=name, transport=event.transport, size=size), name
    answers = [
        rdata.to_text()
        for rrset in message.answer
        if rrset.rdtype == question.rdtype
        for rdata in rrset
    ]
    rcode = dns.rcode.to_text(message.rcode())
    referral = next((r for r in message.authority if r.rdtype == dns.rdatatype.NS), None)
    if not answers and referral is not None and not message.flags & dns.flags.AA:
        servers = ", ".join(rdata.to_text() for rdata in referral)
        child = referral.name.to_text()
        text = _("referral for {name}: ask {zone} NS {servers} ({size})")
        return text.format(name=name, zone=child, servers=servers, size=size), name
    result = ", ".join(answers) if answers else _("no address")
    text = _("answer {type} {name} = {result} ({rcode}, {size})")
    return text.format(type=rtype, name=name, result=result, rcode=rcode, size=size), name


def _dns_key(port: int, wire: bytes) -> tuple[int, bytes]:
    """A DNS question on the wire: the asker's port and the message ID."""
    return port, wire[:2]


def _resolver_query(event: Event, resolvers: set[str]) -> bool:
    """A question a recursive resolver (in ``resolvers``) asked, or the answer it got."""
    if event.actor not in resolvers or not isinstance(event, DnsMessageSent | DnsMessageReceived):
        return False
    outgoing = isinstance(event, DnsMessageSent)
    is_response = len(event.wire) > 2 and bool(event.wire[2] & 0x80)
    return is_response != outgoing  # a query it sent, or a response it received


def browser_addresses(trace: Trace, actor: str = "browser") -> set[str]:
    """The addresses ``actor`` used: its connections' and (simulated) its node's packets'."""
    found: set[str] = set()
    for event in trace.events:
        if event.actor != actor:
            continue
        if isinstance(event, TcpConnectionOpened):
            found.add(event.local[0])
        elif isinstance(event, PacketCaptured) and event.direction == OUT:
            ends = addresses(event.data)
            if ends is not None:
                found.add(ends[0])
    return found


def _when(item: Event | PacketFault) -> float:
    return item.t


def mermaid_from_trace(trace: Trace, actor: str = "browser", language: str = "en") -> str:
    """The mermaid ``sequenceDiagram`` of the page loads ``actor`` made (ends with a newline)."""
    diagram = _Diagram(trace, actor, _Words(language))
    events: list[Event | PacketFault] = list(diagram.events)
    faults: list[Event | PacketFault] = list(diagram.faults)
    for item in heapq.merge(events, faults, key=_when):
        if isinstance(item, PacketFault):
            _packet_fault(diagram, item)
            continue
        draw = _DRAW.get(type(item))
        if draw is not None:
            draw(diagram, item)
    return diagram.text()


@dataclass
class _Story:
    """Lines about one request (or one stray DNS exchange), and when they happened."""

    start: float
    end: float
    branch: str
    title: str
    lines: list[str] = field(default_factory=list)


class _Participants:
    def __init__(self, w: _Words) -> None:
        self.w = w
        browser = _label(w._("Browser"))
        self.lines = [f"    participant {BROWSER} as {browser}"]
        self._ids: dict[tuple[str, str], str] = {}

    def get(self, kind: str, address: Address | str, what: str | None = None) -> str:
        host = address if isinstance(address, str) else address[0]
        key = (kind, host)
        if key not in self._ids:
            prefix = "D" if kind == "dns" else "W"
            ident = f"{prefix}{sum(1 for k in self._ids if k[0] == kind) + 1}"
            self._ids[key] = ident
            _ = self.w._
            what = what or (_("DNS server") if kind == "dns" else _("Web server"))
            self.lines.append(f"    participant {ident} as {_label(f'{what} {host}')}")
        return self._ids[key]

    def known(self, host: str) -> str | None:
        return self._ids.get(("web", host)) or self._ids.get(("dns", host))


class _Diagram:
    """The diagram being drawn: its participants, one story per request, and what was seen."""

    def __init__(self, trace: Trace, actor: str, w: _Words) -> None:
        facts = page_load_facts(trace, actor)
        self.trace, self.actor, self.w = trace, actor, w
        self.people = _Participants(w)
        # A recursive resolver in the same trace: its walk is drawn under the browser's question.
        self.resolvers = {e.actor for e in trace.events if isinstance(e, ResolverAnswered)}
        self.zones = {e.server[0]: e.zone for e in trace.events
                      if isinstance(e, ResolverStep) and e.server is not None}  # fmt: skip
        self.asked: str | None = None  # the resolver participant the browser asked last
        self.events = [e for e in trace.events
                       if e.actor == actor or _resolver_query(e, self.resolvers)]  # fmt: skip
        self.timings = {t.request: t for t in facts.timings}
        self.lookups = facts.lookups
        self.stories: dict[int, _Story] = {}
        for request, timing in self.timings.items():
            branch = (
                w._("connection {number}").format(number=timing.connection)
                if timing.connection
                else w._("request {number}").format(number=request)
            )
            self.stories[request] = _Story(timing.started, timing.started, branch, timing.url)
        self.strays: list[_Story] = []
        self.connection_request: dict[int, int] = {}  # the request it was opened for
        self.connection_last: dict[int, int] = {}  # the last request sent on it
        self.connection_peer: dict[int, str] = {}
        self.connect_start: dict[int, float] = {}
        self.port_connection = {e.local[1]: e.connection for e in self.events
                                if isinstance(e, TcpConnectionOpened)}  # fmt: skip
        self.reads: dict[int, list[int]] = {}
        self.head: dict[int, HttpResponseStarted] = {}
        self.intro: list[str] = []
        self.outro: list[str] = []
        self.page_start: float | None = None
        # The packets, when the trace has them (a simulated run): the router, the faults.
        self.browser = browser_addresses(trace, actor)
        self.routers = _routers_of(trace, self.browser)
        if self.routers:
            label = w._("Internet ({routers})").format(routers=", ".join(self.routers))
            self.people.lines.append(f"    participant {ROUTER} as {_label(label)}")
        faults = packet_faults(trace, self.browser)
        # A DNS question lost on the way, or that its server kept without answering:
        # its own arrow is crossed (the fault is drawn there, not a second time).
        self.unanswered: dict[tuple[int, bytes], str] = {}
        for fault in faults:
            udp = fault.packet.udp
            if fault.lost is not None and udp is not None and udp.destination_port == 53:
                key = _dns_key(udp.source_port, udp.payload)
                self.unanswered[key] = _lost_text(fault, w)
        for event in trace.of_type(DnsMessageDropped):
            if event.peer[0] in self.browser:
                self.unanswered[_dns_key(event.peer[1], event.wire)] = w._(
                    "no answer: the server kept the question and never answered"
                )
        self.faults = [f for f in faults if not (
            f.lost is not None and f.packet.udp is not None
            and f.packet.udp.destination_port == 53)]  # fmt: skip

    def story_of(self, request: int | None, t: float) -> _Story | None:
        """The story of ``request``, stretched to ``t``."""
        story = self.stories.get(request) if request is not None else None
        if story is not None:
            story.end = max(story.end, t)
        return story

    def dns_story(self, t: float, name: str | None) -> _Story:
        """The story of the request whose lookup asked about ``name`` then, or a stray one."""
        for lookup in self.lookups:
            start, end = lookup.started, lookup.ended
            if start is None or start > t or (end is not None and t > end):
                continue
            if name in lookup.names:
                found = self.story_of(lookup.request, t)
                if found is not None:
                    return found
        stray = _Story(t, t, "dns", "DNS")
        self.strays.append(stray)
        return stray

    def web(self, connection: int) -> str:
        """The participant of the web server ``connection`` went to."""
        return self.people.get("web", self.connection_peer.get(connection, "?"))

    def text(self) -> str:
        w = self.w
        for address, (packets, size) in sorted(packets_by_peer(self.trace, self.actor).items()):
            other = self.people.known(address)
            if other is not None:
                text = w.ngettext(
                    "{count} packet, {size} between the browser and {address}",
                    "{count} packets, {size} between the browser and {address}",
                    packets,
                ).format(count=w.n(packets), size=w.bytes(size), address=address)
                self.outro.append(f"    Note over {BROWSER},{other}: {escape(text)}")
        if self.routers:
            forwarded = _forwarded(self.trace, self.routers, self.browser)
            text = w.ngettext(
                "the router passed on {count} packet of the browser's, to and fro",
                "the router passed on {count} packets of the browser's, to and fro",
                forwarded,
            ).format(count=w.n(forwarded))
            self.outro.append(f"    Note over {ROUTER}: {escape(text)}")
        body = _arrange([*self.stories.values(), *self.strays])
        lines = ["sequenceDiagram", *self.people.lines, *self.intro, *body, *self.outro]
        return "\n".join(lines) + "\n"


def _routers_of(trace: Trace, browser: set[str]) -> list[str]:
    """The routers that passed on the browser's packets (none in a real-world run)."""
    if not browser:
        return []
    return [r for r in forwarders(trace) if _forwarded(trace, [r], browser)]


def _forwarded(trace: Trace, routers: list[str], browser: set[str]) -> int:
    """How many of the browser's packets (to it or from it) ``routers`` sent on."""
    count = 0
    for event in trace.of_type(PacketCaptured):
        if event.actor in routers and event.direction == OUT:
            ends = addresses(event.data)
            count += ends is not None and bool(browser & set(ends))
    return count


def _lost_text(fault: PacketFault, w: _Words) -> str:
    assert fault.lost is not None
    text = w._("{packet} lost at {time}: {why}").format(
        packet=_packet_name(fault.packet, w),
        time=w.ms(fault.lost.t),
        why=_loss_reason(fault.lost, w),
    )
    if fault.again is not None:
        text += ", " + _why_again(fault, w)
    return text


# --- what each kind of event draws ------------------------------------------------------


def _page_started(d: _Diagram, event: PageLoadStarted) -> None:
    d.page_start = event.t
    text = d.w._("load {url}").format(url=event.url)
    d.intro.append(f"    Note over {BROWSER}: {escape(text)}")


def _page_finished(d: _Diagram, event: PageLoadFinished) -> None:
    _ = d.w._
    took = "" if d.page_start is None else d.w.ms(event.t - d.page_start)
    if event.failed:
        text = _("page failed ({why}) after {took}") if took else _("page failed ({why})")
    else:
        text = _("page loaded in {took}") if took else _("page loaded")
    text = text.format(why=event.failed, took=took)
    if event.title:
        text += f": {event.title}"
    d.outro.append(f"    Note over {BROWSER}: {escape(text)}")


def _dns_message(d: _Diagram, event: DnsMessageSent | DnsMessageReceived) -> None:
    """A DNS message: the browser's with its resolver, or the resolver's with a server."""
    _ = d.w._
    sent = isinstance(event, DnsMessageSent)
    text, name = _dns_text(event, d.w)
    if event.actor != d.actor:  # the resolver's walk, drawn under the browser's question
        if d.asked is None:
            return
        zone = d.zones.get(event.peer[0], "")
        label = zone.rstrip(".")
        label = "." + label if "." not in label else label  # a TLD: ".test"
        role = _("Root server") if zone == "." else _("DNS server of {zone}").format(zone=label)
        server = d.people.get("dns", event.peer, role if zone else None)
        arrow = f"{d.asked}->>{server}" if sent else f"{server}-->>{d.asked}"
    else:
        server = d.people.get("dns", event.peer, _("Resolver") if d.resolvers else None)
        d.asked = server
        arrow = f"{BROWSER}->>{server}" if sent else f"{server}-->>{BROWSER}"
        unanswered = d.unanswered.get(_dns_key(event.local[1], event.wire)) if sent else None
        if unanswered is not None:
            arrow = f"{BROWSER}-x{server}"
            text += f" — {unanswered}"
    d.dns_story(event.t, name).lines.append(f"{arrow}: {escape(text)}")


def _lookup_ended(d: _Diagram, event: NameResolved | NameLookupFailed) -> None:
    _ = d.w._
    story = d.story_of(event.request, event.t)
    start = next((k.started for k in d.lookups if k.request == event.request), None)
    if story is None or start is None:
        return
    took = d.w.ms(event.t - start)
    if isinstance(event, NameResolved):
        where = ", ".join(event.addresses)
        text = _("{name} is {addresses} ({source}, {took})").format(
            name=event.name, addresses=where, source=event.source, took=took
        )
    else:
        text = _("{name}: the lookup failed, {kind} ({took})").format(
            name=event.name, kind=event.kind, took=took
        )
    story.lines.append(f"Note over {BROWSER}: {escape(text)}")


def _connect_started(d: _Diagram, event: TcpConnectStarted) -> None:
    d.connection_request[event.connection] = event.request
    d.connection_last[event.connection] = event.request
    d.connection_peer[event.connection] = event.peer[0]
    d.connect_start[event.connection] = event.t
    story = d.story_of(event.request, event.t)
    if story is not None:
        server = d.people.get("web", event.peer)
        text = d.w._("SYN to port {port} (connection {number})").format(
            port=event.peer[1], number=event.connection
        )
        story.lines.append(f"{BROWSER}->>{server}: {escape(text)}")


def _connect_ended(d: _Diagram, event: TcpConnectionOpened | TcpConnectFailed) -> None:
    _ = d.w._
    story = d.story_of(d.connection_request.get(event.connection), event.t)
    if story is None:
        return
    server = d.people.get("web", event.peer)
    took = d.w.ms(event.t - d.connect_start.get(event.connection, event.t))
    if isinstance(event, TcpConnectionOpened):
        story.lines.append(f"{server}-->>{BROWSER}: SYN-ACK")
        story.lines.append(f"{BROWSER}->>{server}: ACK")
        text = _("connection {number} open in {took}").format(number=event.connection, took=took)
    else:
        # Not a crossed arrow: those are the packets the trace shows lost.
        text = _("connection {number} failed after {took}: {kind}").format(
            number=event.connection, took=took, kind=event.kind
        )
    story.lines.append(f"Note over {BROWSER},{server}: {escape(text)}")


def _tls_done(d: _Diagram, event: TlsHandshakeCompleted) -> None:
    story = d.story_of(d.connection_request.get(event.connection), event.t)
    if story is not None and event.connection in d.connection_peer:
        server = d.web(event.connection)
        text = d.w._("TLS {version} with {name}, {cipher}").format(
            version=event.version, name=event.server_name, cipher=event.cipher
        )
        story.lines.append(f"Note over {BROWSER},{server}: {escape(text)}")


def _request_sent(d: _Diagram, event: HttpRequestSent) -> None:
    _ = d.w._
    story = d.story_of(event.request, event.t)
    timing = d.timings.get(event.request)
    if story is None or timing is None:
        return
    parts = urllib.parse.urlsplit(timing.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    how = _("reused connection {number}") if event.reused else _("new connection {number}")
    how = how.format(number=event.connection)
    text = f"GET {target} HTTP/1.1 ({how}, {d.w.bytes(event.size)})"
    story.lines.append(f"{BROWSER}->>{d.web(event.connection)}: {escape(text)}")
    d.reads[event.connection] = [0, 0]
    d.connection_last[event.connection] = event.request


def _read(d: _Diagram, event: StreamRead) -> None:
    count = d.reads.setdefault(event.connection, [0, 0])
    count[0] += 1
    count[1] += event.size


def _response_started(d: _Diagram, event: HttpResponseStarted) -> None:
    d.head[event.request] = event
    d.story_of(event.request, event.t)


def _response_completed(d: _Diagram, event: HttpResponseCompleted) -> None:
    w = d.w
    story = d.story_of(event.request, event.t)
    timing = d.timings.get(event.request)
    if story is None or timing is None:
        return
    server = d.web(event.connection)
    started = d.head.get(event.request)
    reason = f" {started.reason}" if started is not None and started.reason else ""
    size = w.bytes(event.wire_size)
    if event.size != event.wire_size:
        size += " " + w._("({size} decoded)").format(size=w.n(event.size))
    kind = event.content_type or w._("no type")
    story.lines.append(
        f"{server}-->>{BROWSER}: {escape(f'{event.status}{reason}, {kind}, {size}')}"
    )
    got = d.reads.get(event.connection, [0, 0])
    reads = w.ngettext("{count} read", "{count} reads", got[0]).format(count=w.n(got[0]))
    note = w._("wait {wait}, receive {receive}, {reads}, {size}").format(
        wait=milliseconds(timing.wait, w.language),
        receive=milliseconds(timing.receive, w.language),
        reads=reads,
        size=w.bytes(got[1]),
    )
    story.lines.append(f"Note over {BROWSER},{server}: {escape(note)}")


def _request_failed(d: _Diagram, event: HttpRequestFailed) -> None:
    story = d.story_of(event.request, event.t)
    if story is not None:
        text = d.w._("request {number} failed ({kind})").format(
            number=event.request, kind=event.kind
        )
        story.lines.append(f"Note over {BROWSER}: {escape(text)}")


def _tcp_info(d: _Diagram, event: TcpInfoRead) -> None:
    if event.connection in d.connection_peer:
        w = d.w
        text = w._("connection {number}: {out} segments out, {in_} in, {again} retransmitted")
        text = text.format(
            number=event.connection,
            out=w.n(event.segments_out),
            in_=w.n(event.segments_in),
            again=w.n(event.retransmissions),
        )
        d.outro.append(f"    Note over {BROWSER},{d.web(event.connection)}: {escape(text)}")


def _packet_fault(d: _Diagram, fault: PacketFault) -> None:
    """A lost packet (a crossed arrow where it was lost) or a segment sent again."""
    w = d.w
    tcp, udp = fault.packet.tcp, fault.packet.udp
    outgoing = fault.source in d.browser
    far = fault.destination if outgoing else fault.source
    story: _Story | None = None
    if tcp is not None:
        port = tcp.source_port if outgoing else tcp.destination_port
        connection = d.port_connection.get(port)
        if connection is None:  # it never opened: the latest attempt to that server
            tries = [c for c, peer in d.connection_peer.items() if peer == far]
            connection = tries[-1] if tries else None
        story = d.story_of(d.connection_last.get(connection), fault.t) if connection else None
        other = d.people.get("web", far)
    else:
        name = None
        if udp is not None:
            try:
                question = dns.message.from_wire(udp.payload).question
                name = question[0].name.to_text(omit_final_dot=True) if question else None
            except (dns.exception.DNSException, ValueError):  # malformed: no name to file it under
                name = None
        story = d.dns_story(fault.t, name)
        other = d.people.get("dns", far)
    if story is None:
        story = _Story(fault.t, fault.t, "packets", "")
        d.strays.append(story)
    here, there = (BROWSER, other) if outgoing else (other, BROWSER)
    if fault.lost is None:
        text = w._("{packet} sent again at {time}, {why}").format(
            packet=_packet_name(fault.packet, w), time=w.ms(fault.t), why=_why_again(fault, w)
        )
        story.lines.append(f"{here}->>{there}: {escape(text)}")
        return
    if d.routers:  # lost on one side of the router or the other
        at_router = fault.lost.actor in d.routers
        if outgoing:
            here, there = (ROUTER, other) if at_router else (BROWSER, ROUTER)
        else:
            here, there = (ROUTER, BROWSER) if at_router else (other, ROUTER)
    story.lines.append(f"{here}-x{there}: {escape(_lost_text(fault, w))}")


_DRAW: dict[type[Event], Callable[[_Diagram, Any], None]] = {
    PageLoadStarted: _page_started,
    PageLoadFinished: _page_finished,
    DnsMessageSent: _dns_message,
    DnsMessageReceived: _dns_message,
    NameResolved: _lookup_ended,
    NameLookupFailed: _lookup_ended,
    TcpConnectStarted: _connect_started,
    TcpConnectionOpened: _connect_ended,
    TcpConnectFailed: _connect_ended,
    TlsHandshakeCompleted: _tls_done,
    HttpRequestSent: _request_sent,
    StreamRead: _read,
    HttpResponseStarted: _response_started,
    HttpResponseCompleted: _response_completed,
    HttpRequestFailed: _request_failed,
    TcpInfoRead: _tcp_info,
}
"""What each kind of event draws; other events draw nothing."""


def _arrange(stories: list[_Story]) -> list[str]:
    """The stories in time order; those that overlap on different branches inside ``par``."""
    stories = sorted((s for s in stories if s.lines), key=lambda s: (s.start, s.end))
    groups: list[list[_Story]] = []
    group_end = float("-inf")
    for story in stories:
        if groups and story.start < group_end:
            groups[-1].append(story)
        else:
            groups.append([story])
        group_end = max(group_end, story.end) if len(groups[-1]) > 1 else story.end
    lines: list[str] = []
    for group in groups:
        branches: dict[str, list[_Story]] = {}
        for story in group:
            branches.setdefault(story.branch, []).append(story)
        if len(branches) == 1:
            lines.extend(f"    {line}" for story in group for line in story.lines)
            continue
        for index, (branch, members) in enumerate(branches.items()):
            keyword = "par" if index == 0 else "and"
            lines.append(f"    {keyword} {escape(branch)}")
            lines.extend(f"        {line}" for story in members for line in story.lines)
        lines.append("    end")
    return lines


# --- the four steps' picture --------------------------------------------------------------


def _box(text: str) -> str:
    """Text inside a quoted flowchart label: no raw quote, ``#`` or ``;``."""
    return escape(text).replace('"', "#quot;")


def _lines(*parts: str) -> str:
    return "<br/>".join(_box(part) for part in parts if part)


def _node(ident: str, *parts: str) -> str:
    """A box of the picture: its name, then what it is (an address...) on the next line."""
    return f'    {ident}["{_lines(*parts)}"]'


def mermaid_flowchart(trace: Trace, actor: str = "browser", language: str = "en") -> str:
    """The page load as the four steps' picture, a mermaid ``flowchart`` (ends with a newline).

    Client – Browser asks the DNS server for the name's address (1) and gets it
    (2); its requests cross the Internet to the web server (3), whose files come
    back the same way (4). Each arrow carries the run's own values: the name
    and the address, the time each step took, the packets each way, the files
    and their bytes, and what was lost or sent again on the way.
    """
    w = _Words(language)
    _, ngettext = w._, w.ngettext
    facts = page_load_facts(trace, actor)
    browser = browser_addresses(trace, actor)
    lookup = facts.lookups[0] if facts.lookups else None
    dns_server = lookup.server[0] if lookup is not None and lookup.server else ""
    servers = sorted({c.peer[0] for c in facts.connections.values()})
    routers = _routers_of(trace, browser)
    lines = [
        "flowchart LR",
        _node("C", _("Client – Browser"), ", ".join(sorted(browser))),
    ]
    if lookup is not None:
        lines.append(_node("D", _("DNS server"), dns_server))
    if servers:
        internet = (
            _("Internet ({routers})").format(routers=", ".join(routers))
            if routers
            else _("Internet")
        )
        faults = packet_faults(trace, browser)
        lost = sum(1 for f in faults if f.lost is not None)
        again = sum(1 for f in faults if f.again is not None)
        trouble = []
        if lost:
            text = ngettext("{count} packet lost", "{count} packets lost", lost)
            trouble.append(text.format(count=w.n(lost)))
        if again:
            text = ngettext("{count} segment sent again", "{count} segments sent again", again)
            trouble.append(text.format(count=w.n(again)))
        lines.append(f'    I(("{_lines(internet, *trouble)}"))')
        lines.append(_node("S", _("Web server"), ", ".join(servers)))
    if lookup is not None:
        question = _("1. where is {name}?").format(name=lookup.name)
        if lookup.resolved is not None:
            lines.append(f'    C -->|"{_box(question)}"| D')
            answer = _("2. {name} is {addresses} ({took})").format(
                name=lookup.name,
                addresses=", ".join(lookup.resolved.addresses),
                took=w.ms(lookup.resolved.t - lookup.started)
                if lookup.started is not None
                else "?",
            )
            lines.append(f'    D -->|"{_box(answer)}"| C')
        else:
            asked = len(lookup.queries)
            unanswered = ngettext(
                "{count} question, no answer", "{count} questions, no answer", asked
            ).format(count=w.n(asked))
            lines.append(f'    C --x|"{_box(question)}<br/>{_box(unanswered)}"| D')
    if servers:
        lines.extend(_web_edges(trace, facts, browser, set(servers), w))
    return "\n".join(lines) + "\n"


def _web_edges(
    trace: Trace, facts: Any, browser: set[str], servers: set[str], w: _Words
) -> list[str]:
    """Steps 3 and 4 of the picture: the requests out, the files back, through the Internet."""
    _, ngettext = w._, w.ngettext
    out = [0, 0]
    back = [0, 0]
    for event in trace.of_type(PacketCaptured):
        if event.actor != facts.actor or event.direction not in (IN, OUT):
            continue
        ends = addresses(event.data)
        if ends is None:
            continue
        if event.direction == OUT and ends[0] in browser and ends[1] in servers:
            out[0], out[1] = out[0] + 1, out[1] + len(event.data)
        elif event.direction == IN and ends[0] in servers and ends[1] in browser:
            back[0], back[1] = back[0] + 1, back[1] + len(event.data)
    requests = len(facts.timings)
    connections = len(facts.connections)
    asked = ngettext("3. {count} request", "3. {count} requests", requests).format(
        count=w.n(requests)
    )
    asked += " " + ngettext("on {count} connection", "on {count} connections", connections).format(
        count=w.n(connections)
    )
    done = [e for e in facts.events if isinstance(e, HttpResponseCompleted)]
    files = ngettext("4. {count} file, {size}", "4. {count} files, {size}", len(done)).format(
        count=w.n(len(done)), size=w.bytes(sum(e.wire_size for e in done))
    )
    rtts = [i.rtt for i in facts.tcp_infos if i.rtt > 0]
    rtt = w._("round trip {time}").format(time=w.ms(min(rtts))) if rtts else ""
    going, coming = "", ""
    if out[0] or back[0]:  # a simulated run: the browser's own capture
        going, coming = (
            ngettext("{count} packet, {size}", "{count} packets, {size}", n).format(
                count=w.n(n), size=w.bytes(size)
            )
            for n, size in (out, back)
        )
    elif facts.tcp_infos:  # a real run: the kernel's counters (TCP_INFO)
        sent = sum(i.segments_out for i in facts.tcp_infos)
        got = sum(i.segments_in for i in facts.tcp_infos)
        going, coming = (
            ngettext("{count} packet", "{count} packets", n).format(count=w.n(n))
            for n in (sent, got)
        )
    return [
        f'    C -->|"{_lines(asked, going)}"| I',
        "    I --> S",
        f'    S -->|"{_lines(files)}"| I',
        f'    I -->|"{_lines(coming, rtt)}"| C',
    ]
