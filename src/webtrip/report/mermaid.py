"""A trace as a mermaid sequence diagram: who said what to whom, in order.

:func:`mermaid_from_trace` draws the browser's side of a page load: the DNS
questions and answers, each connection's TCP handshake, each HTTP request
and its answer, with notes giving how long each step took. Requests that ran
at the same time on different connections are drawn inside a ``par`` block,
and packets are summarised in notes. The text can be pasted in a Markdown
file as a fenced ``mermaid`` block.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field

import dns.flags
import dns.rcode
import dns.rdatatype

from webtrip.report.timings import request_timings
from webtrip.trace import (
    DnsMessageReceived,
    DnsMessageSent,
    HttpRequestFailed,
    HttpRequestSent,
    HttpResponseCompleted,
    HttpResponseStarted,
    NameLookupFailed,
    NameLookupStarted,
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
from webtrip.trace.events import Address, Event

BROWSER = "B"
_ESCAPES = {"#": "#35;", ";": "#59;", "\n": " ", "\r": " "}


def escape(text: str) -> str:
    """Text safe in a mermaid message or note: ``#`` and ``;`` as entity codes."""
    return "".join(_ESCAPES.get(char, char) for char in text)


def _label(text: str) -> str:
    """A participant's label: also without ``:`` (written as an entity code)."""
    return escape(text).replace(":", "#58;")


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


@dataclass
class _Story:
    """Lines about one request (or one stray DNS exchange), and when they happened."""

    start: float
    end: float
    branch: str
    title: str
    lines: list[str] = field(default_factory=list)


class _Participants:
    def __init__(self) -> None:
        self.lines = [f"    participant {BROWSER} as Browser"]
        self._ids: dict[tuple[str, str], str] = {}

    def get(self, kind: str, address: Address | str, what: str | None = None) -> str:
        host = address if isinstance(address, str) else address[0]
        key = (kind, host)
        if key not in self._ids:
            prefix = "D" if kind == "dns" else "W"
            ident = f"{prefix}{sum(1 for k in self._ids if k[0] == kind) + 1}"
            self._ids[key] = ident
            what = what or ("DNS server" if kind == "dns" else "Web server")
            self.lines.append(f"    participant {ident} as {_label(f'{what} {host}')}")
        return self._ids[key]

    def known(self, host: str) -> str | None:
        return self._ids.get(("web", host)) or self._ids.get(("dns", host))


def _dns_text(event: DnsMessageSent | DnsMessageReceived) -> tuple[str, str | None]:
    """(arrow text, question name) of a DNS message."""
    message = event.message
    if message is None or not message.question:
        return f"malformed DNS message ({event.size} bytes)", None
    question = message.question[0]
    name = question.name.to_text(omit_final_dot=True)
    rtype = dns.rdatatype.to_text(question.rdtype)
    if not message.flags & dns.flags.QR:
        return f"query {rtype} {name}? ({event.transport}, {event.size} bytes)", name
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
        return f"referral for {name}: ask {child} NS {servers} ({event.size} bytes)", name
    result = ", ".join(answers) if answers else "no address"
    return f"answer {rtype} {name} = {result} ({rcode}, {event.size} bytes)", name


def _resolver_query(event: Event, resolvers: set[str]) -> bool:
    """A question a recursive resolver (in ``resolvers``) asked, or the answer it got."""
    if event.actor not in resolvers or not isinstance(event, DnsMessageSent | DnsMessageReceived):
        return False
    outgoing = isinstance(event, DnsMessageSent)
    is_response = len(event.wire) > 2 and bool(event.wire[2] & 0x80)
    return is_response != outgoing  # a query it sent, or a response it received


def _packet_peers(trace: Trace, actor: str) -> dict[str, list[int]]:
    """For each peer address: [packets, bytes] the browser's node exchanged with it."""
    totals: dict[str, list[int]] = {}
    for event in trace.of_type(PacketCaptured):
        if event.actor != actor or event.direction not in ("in", "out") or event.interface == "lo":
            continue
        data = event.data
        if len(data) < 20 or data[0] >> 4 != 4:
            continue
        source, destination = data[12:16], data[16:20]
        peer = destination if event.direction == "out" else source
        address = ".".join(str(b) for b in peer)
        total = totals.setdefault(address, [0, 0])
        total[0] += 1
        total[1] += len(data)
    return totals


def mermaid_from_trace(trace: Trace, actor: str = "browser") -> str:
    """The mermaid ``sequenceDiagram`` of the page loads ``actor`` made (ends with a newline)."""
    people = _Participants()
    # A recursive resolver in the same trace: its walk is drawn under the browser's question.
    resolvers = {e.actor for e in trace.events if isinstance(e, ResolverAnswered)}
    zones = {e.server[0]: e.zone for e in trace.events
             if isinstance(e, ResolverStep) and e.server is not None}  # fmt: skip
    asked: str | None = None  # the resolver participant the browser asked last
    events = [e for e in trace.events if e.actor == actor or _resolver_query(e, resolvers)]
    timings = {t.request: t for t in request_timings(trace, actor)}
    lookups: dict[int, tuple[float, float | None, set[str]]] = {}
    for event in events:
        if isinstance(event, NameLookupStarted):
            lookups.setdefault(event.request, (event.t, None, {event.name.rstrip(".")}))
        elif isinstance(event, NameResolved | NameLookupFailed) and event.request in lookups:
            start, _end, names = lookups[event.request]
            if isinstance(event, NameResolved):
                names |= {n.rstrip(".") for n in (*event.chain, event.canonical)}
            lookups[event.request] = (start, event.t, names)

    stories: dict[int, _Story] = {}
    for request, timing in timings.items():
        branch = f"connection {timing.connection}" if timing.connection else f"request {request}"
        stories[request] = _Story(timing.started, timing.started, branch, timing.url)
    strays: list[_Story] = []
    connection_request: dict[int, int] = {}
    connection_peer: dict[int, str] = {}
    connect_start: dict[int, float] = {}
    reads: dict[int, list[int]] = {}
    head: dict[int, HttpResponseStarted] = {}
    intro: list[str] = []
    outro: list[str] = []
    page_start: float | None = None

    def story_of(request: int, t: float) -> _Story | None:
        story = stories.get(request)
        if story is not None:
            story.end = max(story.end, t)
        return story

    def dns_story(event: Event, name: str | None) -> _Story:
        for request, (start, end, names) in lookups.items():
            if start <= event.t and (end is None or event.t <= end) and name in names:
                found = story_of(request, event.t)
                if found is not None:
                    return found
        stray = _Story(event.t, event.t, "dns", "DNS")
        strays.append(stray)
        return stray

    for event in events:
        if isinstance(event, PageLoadStarted):
            page_start = event.t
            intro.append(f"    Note over {BROWSER}: {escape('load ' + event.url)}")
        elif isinstance(event, PageLoadFinished):
            took = "" if page_start is None else f" in {_ms(event.t - page_start)}"
            what = f"failed ({event.failed}){took}" if event.failed else f"loaded{took}"
            title = f": {event.title}" if event.title else ""
            outro.append(f"    Note over {BROWSER}: {escape(f'page {what}{title}')}")
        elif isinstance(event, DnsMessageSent | DnsMessageReceived) and event.actor != actor:
            if asked is None:
                continue
            text, name = _dns_text(event)
            zone = zones.get(event.peer[0], "")
            label = zone.rstrip(".")
            label = "." + label if "." not in label else label  # a TLD: ".test"
            role = "Root server" if zone == "." else f"DNS server of {label}"
            server = people.get("dns", event.peer, role if zone else None)
            sent = isinstance(event, DnsMessageSent)
            arrow = f"{asked}->>{server}" if sent else f"{server}-->>{asked}"
            dns_story(event, name).lines.append(f"{arrow}: {escape(text)}")
        elif isinstance(event, DnsMessageSent | DnsMessageReceived):
            text, name = _dns_text(event)
            server = people.get("dns", event.peer, "Resolver" if resolvers else None)
            asked = server
            sent = isinstance(event, DnsMessageSent)
            arrow = f"{BROWSER}->>{server}" if sent else f"{server}-->>{BROWSER}"
            dns_story(event, name).lines.append(f"{arrow}: {escape(text)}")
        elif isinstance(event, NameResolved | NameLookupFailed):
            story = story_of(event.request, event.t)
            if story is None or event.request not in lookups:
                continue
            took = _ms(event.t - lookups[event.request][0])
            if isinstance(event, NameResolved):
                where = ", ".join(event.addresses)
                text = f"{event.name} is {where} ({event.source}, {took})"
            else:
                text = f"{event.name}: {event.kind} ({took})"
            story.lines.append(f"Note over {BROWSER}: {escape(text)}")
        elif isinstance(event, TcpConnectStarted):
            connection_request[event.connection] = event.request
            connection_peer[event.connection] = event.peer[0]
            connect_start[event.connection] = event.t
            story = story_of(event.request, event.t)
            if story is not None:
                server = people.get("web", event.peer)
                port = event.peer[1]
                text = f"SYN to port {port} (connection {event.connection})"
                story.lines.append(f"{BROWSER}->>{server}: {escape(text)}")
        elif isinstance(event, TcpConnectionOpened | TcpConnectFailed):
            request = connection_request.get(event.connection)
            story = story_of(request, event.t) if request is not None else None
            if story is None:
                continue
            server = people.get("web", event.peer)
            took = _ms(event.t - connect_start.get(event.connection, event.t))
            if isinstance(event, TcpConnectionOpened):
                story.lines.append(f"{server}-->>{BROWSER}: SYN-ACK")
                story.lines.append(f"{BROWSER}->>{server}: ACK")
                text = f"connection {event.connection} open in {took}"
            else:
                story.lines.append(f"{server}--x{BROWSER}: {escape(event.kind)}")
                text = f"connection {event.connection} failed after {took}: {event.message}"
            story.lines.append(f"Note over {BROWSER},{server}: {escape(text)}")
        elif isinstance(event, TlsHandshakeCompleted):
            request = connection_request.get(event.connection)
            story = story_of(request, event.t) if request is not None else None
            if story is not None and event.connection in connection_peer:
                server = people.get("web", connection_peer[event.connection])
                text = f"TLS {event.version} with {event.server_name}, {event.cipher}"
                story.lines.append(f"Note over {BROWSER},{server}: {escape(text)}")
        elif isinstance(event, HttpRequestSent):
            story = story_of(event.request, event.t)
            timing = timings.get(event.request)
            if story is None or timing is None:
                continue
            server = people.get("web", connection_peer.get(event.connection, "?"))
            parts = urllib.parse.urlsplit(timing.url)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            how = "reused" if event.reused else "new"
            text = f"GET {target} HTTP/1.1 ({how} connection {event.connection}, "
            text += f"{event.size} bytes)"
            story.lines.append(f"{BROWSER}->>{server}: {escape(text)}")
            reads[event.connection] = [0, 0]
        elif isinstance(event, StreamRead):
            count = reads.setdefault(event.connection, [0, 0])
            count[0] += 1
            count[1] += event.size
        elif isinstance(event, HttpResponseStarted):
            head[event.request] = event
            story_of(event.request, event.t)
        elif isinstance(event, HttpResponseCompleted):
            story = story_of(event.request, event.t)
            timing = timings.get(event.request)
            if story is None or timing is None:
                continue
            server = people.get("web", connection_peer.get(event.connection, "?"))
            started = head.get(event.request)
            reason = f" {started.reason}" if started is not None and started.reason else ""
            size = f"{event.wire_size} bytes"
            if event.size != event.wire_size:
                size += f" ({event.size} decoded)"
            text = f"{event.status}{reason}, {event.content_type or 'no type'}, {size}"
            story.lines.append(f"{server}-->>{BROWSER}: {escape(text)}")
            got = reads.get(event.connection, [0, 0])
            note = (
                f"wait {timing.wait:.1f} ms, receive {timing.receive:.1f} ms, "
                f"{got[0]} reads, {got[1]} bytes"
            )
            story.lines.append(f"Note over {BROWSER},{server}: {escape(note)}")
        elif isinstance(event, HttpRequestFailed):
            story = story_of(event.request, event.t)
            if story is not None:
                text = f"request {event.request} failed ({event.kind}): {event.message}"
                story.lines.append(f"Note over {BROWSER}: {escape(text)}")
        elif isinstance(event, TcpInfoRead):
            peer = connection_peer.get(event.connection)
            if peer is not None:
                server = people.get("web", peer)
                text = (
                    f"connection {event.connection}: {event.segments_out} segments out, "
                    f"{event.segments_in} in, {event.retransmissions} retransmitted"
                )
                outro.append(f"    Note over {BROWSER},{server}: {escape(text)}")

    for address, (packets, size) in sorted(_packet_peers(trace, actor).items()):
        other = people.known(address)
        if other is not None:
            text = f"{packets} packets, {size} bytes between the browser and {address}"
            outro.append(f"    Note over {BROWSER},{other}: {escape(text)}")

    body = _arrange([*stories.values(), *strays])
    return "\n".join(["sequenceDiagram", *people.lines, *intro, *body, *outro]) + "\n"


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
