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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import dns.flags
import dns.rcode
import dns.rdatatype

from webtrip.report.facts import packets_by_peer, page_load_facts
from webtrip.trace import (
    DnsMessageReceived,
    DnsMessageSent,
    HttpRequestFailed,
    HttpRequestSent,
    HttpResponseCompleted,
    HttpResponseStarted,
    NameLookupFailed,
    NameResolved,
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


def mermaid_from_trace(trace: Trace, actor: str = "browser") -> str:
    """The mermaid ``sequenceDiagram`` of the page loads ``actor`` made (ends with a newline)."""
    diagram = _Diagram(trace, actor)
    for event in diagram.events:
        draw = _DRAW.get(type(event))
        if draw is not None:
            draw(diagram, event)
    return diagram.text()


class _Diagram:
    """The diagram being drawn: its participants, one story per request, and what was seen."""

    def __init__(self, trace: Trace, actor: str) -> None:
        facts = page_load_facts(trace, actor)
        self.trace, self.actor = trace, actor
        self.people = _Participants()
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
                f"connection {timing.connection}" if timing.connection else f"request {request}"
            )
            self.stories[request] = _Story(timing.started, timing.started, branch, timing.url)
        self.strays: list[_Story] = []
        self.connection_request: dict[int, int] = {}
        self.connection_peer: dict[int, str] = {}
        self.connect_start: dict[int, float] = {}
        self.reads: dict[int, list[int]] = {}
        self.head: dict[int, HttpResponseStarted] = {}
        self.intro: list[str] = []
        self.outro: list[str] = []
        self.page_start: float | None = None

    def story_of(self, request: int | None, t: float) -> _Story | None:
        """The story of ``request``, stretched to ``t``."""
        story = self.stories.get(request) if request is not None else None
        if story is not None:
            story.end = max(story.end, t)
        return story

    def dns_story(self, event: Event, name: str | None) -> _Story:
        """The story of the request whose lookup asked about ``name`` then, or a stray one."""
        for lookup in self.lookups:
            start, end = lookup.started, lookup.ended
            if start is None or start > event.t or (end is not None and event.t > end):
                continue
            if name in lookup.names:
                found = self.story_of(lookup.request, event.t)
                if found is not None:
                    return found
        stray = _Story(event.t, event.t, "dns", "DNS")
        self.strays.append(stray)
        return stray

    def web(self, connection: int) -> str:
        """The participant of the web server ``connection`` went to."""
        return self.people.get("web", self.connection_peer.get(connection, "?"))

    def text(self) -> str:
        for address, (packets, size) in sorted(packets_by_peer(self.trace, self.actor).items()):
            other = self.people.known(address)
            if other is not None:
                text = f"{packets} packets, {size} bytes between the browser and {address}"
                self.outro.append(f"    Note over {BROWSER},{other}: {escape(text)}")
        body = _arrange([*self.stories.values(), *self.strays])
        lines = ["sequenceDiagram", *self.people.lines, *self.intro, *body, *self.outro]
        return "\n".join(lines) + "\n"


# --- what each kind of event draws ------------------------------------------------------


def _page_started(d: _Diagram, event: PageLoadStarted) -> None:
    d.page_start = event.t
    d.intro.append(f"    Note over {BROWSER}: {escape('load ' + event.url)}")


def _page_finished(d: _Diagram, event: PageLoadFinished) -> None:
    took = "" if d.page_start is None else f" in {_ms(event.t - d.page_start)}"
    what = f"failed ({event.failed}){took}" if event.failed else f"loaded{took}"
    title = f": {event.title}" if event.title else ""
    d.outro.append(f"    Note over {BROWSER}: {escape(f'page {what}{title}')}")


def _dns_message(d: _Diagram, event: DnsMessageSent | DnsMessageReceived) -> None:
    """A DNS message: the browser's with its resolver, or the resolver's with a server."""
    sent = isinstance(event, DnsMessageSent)
    text, name = _dns_text(event)
    if event.actor != d.actor:  # the resolver's walk, drawn under the browser's question
        if d.asked is None:
            return
        zone = d.zones.get(event.peer[0], "")
        label = zone.rstrip(".")
        label = "." + label if "." not in label else label  # a TLD: ".test"
        role = "Root server" if zone == "." else f"DNS server of {label}"
        server = d.people.get("dns", event.peer, role if zone else None)
        arrow = f"{d.asked}->>{server}" if sent else f"{server}-->>{d.asked}"
    else:
        server = d.people.get("dns", event.peer, "Resolver" if d.resolvers else None)
        d.asked = server
        arrow = f"{BROWSER}->>{server}" if sent else f"{server}-->>{BROWSER}"
    d.dns_story(event, name).lines.append(f"{arrow}: {escape(text)}")


def _lookup_ended(d: _Diagram, event: NameResolved | NameLookupFailed) -> None:
    story = d.story_of(event.request, event.t)
    start = next((k.started for k in d.lookups if k.request == event.request), None)
    if story is None or start is None:
        return
    took = _ms(event.t - start)
    if isinstance(event, NameResolved):
        where = ", ".join(event.addresses)
        text = f"{event.name} is {where} ({event.source}, {took})"
    else:
        text = f"{event.name}: {event.kind} ({took})"
    story.lines.append(f"Note over {BROWSER}: {escape(text)}")


def _connect_started(d: _Diagram, event: TcpConnectStarted) -> None:
    d.connection_request[event.connection] = event.request
    d.connection_peer[event.connection] = event.peer[0]
    d.connect_start[event.connection] = event.t
    story = d.story_of(event.request, event.t)
    if story is not None:
        server = d.people.get("web", event.peer)
        text = f"SYN to port {event.peer[1]} (connection {event.connection})"
        story.lines.append(f"{BROWSER}->>{server}: {escape(text)}")


def _connect_ended(d: _Diagram, event: TcpConnectionOpened | TcpConnectFailed) -> None:
    story = d.story_of(d.connection_request.get(event.connection), event.t)
    if story is None:
        return
    server = d.people.get("web", event.peer)
    took = _ms(event.t - d.connect_start.get(event.connection, event.t))
    if isinstance(event, TcpConnectionOpened):
        story.lines.append(f"{server}-->>{BROWSER}: SYN-ACK")
        story.lines.append(f"{BROWSER}->>{server}: ACK")
        text = f"connection {event.connection} open in {took}"
    else:
        story.lines.append(f"{server}--x{BROWSER}: {escape(event.kind)}")
        text = f"connection {event.connection} failed after {took}: {event.message}"
    story.lines.append(f"Note over {BROWSER},{server}: {escape(text)}")


def _tls_done(d: _Diagram, event: TlsHandshakeCompleted) -> None:
    story = d.story_of(d.connection_request.get(event.connection), event.t)
    if story is not None and event.connection in d.connection_peer:
        server = d.web(event.connection)
        text = f"TLS {event.version} with {event.server_name}, {event.cipher}"
        story.lines.append(f"Note over {BROWSER},{server}: {escape(text)}")


def _request_sent(d: _Diagram, event: HttpRequestSent) -> None:
    story = d.story_of(event.request, event.t)
    timing = d.timings.get(event.request)
    if story is None or timing is None:
        return
    parts = urllib.parse.urlsplit(timing.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    how = "reused" if event.reused else "new"
    text = f"GET {target} HTTP/1.1 ({how} connection {event.connection}, {event.size} bytes)"
    story.lines.append(f"{BROWSER}->>{d.web(event.connection)}: {escape(text)}")
    d.reads[event.connection] = [0, 0]


def _read(d: _Diagram, event: StreamRead) -> None:
    count = d.reads.setdefault(event.connection, [0, 0])
    count[0] += 1
    count[1] += event.size


def _response_started(d: _Diagram, event: HttpResponseStarted) -> None:
    d.head[event.request] = event
    d.story_of(event.request, event.t)


def _response_completed(d: _Diagram, event: HttpResponseCompleted) -> None:
    story = d.story_of(event.request, event.t)
    timing = d.timings.get(event.request)
    if story is None or timing is None:
        return
    server = d.web(event.connection)
    started = d.head.get(event.request)
    reason = f" {started.reason}" if started is not None and started.reason else ""
    size = f"{event.wire_size} bytes"
    if event.size != event.wire_size:
        size += f" ({event.size} decoded)"
    text = f"{event.status}{reason}, {event.content_type or 'no type'}, {size}"
    story.lines.append(f"{server}-->>{BROWSER}: {escape(text)}")
    got = d.reads.get(event.connection, [0, 0])
    note = (
        f"wait {timing.wait:.1f} ms, receive {timing.receive:.1f} ms, "
        f"{got[0]} reads, {got[1]} bytes"
    )
    story.lines.append(f"Note over {BROWSER},{server}: {escape(note)}")


def _request_failed(d: _Diagram, event: HttpRequestFailed) -> None:
    story = d.story_of(event.request, event.t)
    if story is not None:
        text = f"request {event.request} failed ({event.kind}): {event.message}"
        story.lines.append(f"Note over {BROWSER}: {escape(text)}")


def _tcp_info(d: _Diagram, event: TcpInfoRead) -> None:
    if event.connection in d.connection_peer:
        text = (
            f"connection {event.connection}: {event.segments_out} segments out, "
            f"{event.segments_in} in, {event.retransmissions} retransmitted"
        )
        d.outro.append(f"    Note over {BROWSER},{d.web(event.connection)}: {escape(text)}")


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
