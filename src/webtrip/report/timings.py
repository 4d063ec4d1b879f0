"""Per-request timing phases, as HAR 1.2 and curl define them, computed from a trace.

For each request of a page load:

======== ============================================================ ============
phase    from → to                                                    curl
======== ============================================================ ============
blocked  queued → the first network step (waiting for a connection)
dns      name lookup started → resolved (-1: name already known)      time_namelookup
connect  first SYN → connection open, TLS included (-1: reused)       time_connect
ssl      TCP open → TLS handshake done (-1: no TLS or reused)         time_appconnect
send     first request byte handed over → last
wait     request sent → response head arrived (time to first byte)    time_starttransfer
receive  response head → last body byte                               time_total
======== ============================================================ ============

All values are milliseconds; -1 means the phase did not happen (HAR's rule).
A file the browser's HTTP cache held fresh needs no request: its ``cache`` is
"fresh", its status the stored one, and every phase -1. One the server said
had not changed (304 Not Modified) is ``cache`` "revalidated".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from webtrip.trace import (
    HttpCacheLookup,
    HttpCacheStored,
    HttpRequestFailed,
    HttpRequestQueued,
    HttpRequestSent,
    HttpResponseCompleted,
    HttpResponseStarted,
    NameLookupFailed,
    NameLookupStarted,
    NameResolved,
    TcpConnectionOpened,
    TcpConnectStarted,
    TlsHandshakeCompleted,
    Trace,
)


@dataclass(frozen=True, slots=True)
class RequestTiming:
    request: int
    url: str
    kind: str
    initiator: str | None
    started: float  # seconds from the run's start, when the request was queued
    connection: int | None
    reused: bool
    status: int | None
    size: int  # decoded body bytes
    wire_size: int
    content_type: str
    blocked: float
    dns: float
    connect: float
    ssl: float
    send: float
    wait: float
    receive: float
    total: float
    error: str | None
    cache: str | None = None  # "fresh" (no request: from the HTTP cache), "revalidated" (304)
    cached_size: int = 0  # the stored response's body bytes as once sent (0: none stored)
    why: str = ""  # why the browser chose it: an English template, with its values
    why_values: tuple[tuple[str, str], ...] = ()

    def reason(self, gettext: Callable[[str], str] | None = None) -> str:
        """Why the browser asked for this file, in words (translated with ``gettext``)."""
        if not self.why:
            return ""
        template = gettext(self.why) if gettext is not None else self.why
        try:
            return template.format(**dict(self.why_values))
        except (KeyError, IndexError, ValueError):
            return self.why

    @property
    def phases(self) -> list[tuple[str, float]]:
        """(name, ms) of the phases that happened, in order."""
        names = ("blocked", "dns", "connect", "send", "wait", "receive")
        values = [(name, getattr(self, name)) for name in names]
        if self.ssl >= 0:  # shown separately: connect without its TLS part, then ssl
            index = names.index("connect")
            values[index] = ("connect", self.connect - self.ssl)
            values.insert(index + 1, ("ssl", self.ssl))
        return [(name, value) for name, value in values if value >= 0]


def _ms(start: float | None, end: float | None) -> float:
    if start is None or end is None:
        return -1.0
    return round(max(0.0, end - start) * 1000, 3)


def request_timings(trace: Trace, actor: str = "browser") -> list[RequestTiming]:
    """One :class:`RequestTiming` per request the ``actor`` made, in request order."""
    queued: dict[int, HttpRequestQueued] = {}
    sent: dict[int, HttpRequestSent] = {}
    head: dict[int, HttpResponseStarted] = {}
    done: dict[int, HttpResponseCompleted] = {}
    failed: dict[int, HttpRequestFailed] = {}
    lookup_start: dict[int, float] = {}
    lookup_end: dict[int, float] = {}
    connect_start: dict[int, float] = {}
    opened: dict[int, float] = {}
    tls: dict[int, float] = {}
    looked_up: dict[int, HttpCacheLookup] = {}
    freshened: set[int] = set()
    for event in trace.events:
        if event.actor != actor:
            continue
        if isinstance(event, HttpRequestQueued):
            queued[event.request] = event
        elif isinstance(event, HttpRequestSent):
            sent[event.request] = event
        elif isinstance(event, HttpResponseStarted):
            head[event.request] = event
        elif isinstance(event, HttpResponseCompleted):
            done[event.request] = event
        elif isinstance(event, HttpRequestFailed):
            failed[event.request] = event
        elif isinstance(event, NameLookupStarted):
            lookup_start.setdefault(event.request, event.t)
        elif isinstance(event, NameResolved | NameLookupFailed):
            lookup_end[event.request] = event.t
        elif isinstance(event, TcpConnectStarted):
            connect_start.setdefault(event.request, event.t)
        elif isinstance(event, TcpConnectionOpened):
            opened[event.connection] = event.t
        elif isinstance(event, TlsHandshakeCompleted):
            tls[event.connection] = event.t
        elif isinstance(event, HttpCacheLookup):
            looked_up[event.request] = event
        elif isinstance(event, HttpCacheStored) and event.outcome == "updated":
            freshened.add(event.request)

    timings = []
    for request, q in sorted(queued.items()):
        s, h, d = sent.get(request), head.get(request), done.get(request)
        connection = s.connection if s else None
        reused = bool(s and s.reused)
        first_step = lookup_start.get(request)
        if first_step is None:
            first_step = connect_start.get(request)
        if first_step is None and s is not None:
            first_step = s.started
        dns = _ms(lookup_start.get(request), lookup_end.get(request))
        connect = ssl = -1.0
        if s is not None and not reused and request in connect_start:
            connect_end = tls.get(s.connection, opened.get(s.connection))
            connect = _ms(connect_start[request], connect_end)
            if s.connection in tls:
                ssl = _ms(opened.get(s.connection), tls[s.connection])
        end = d.t if d else (failed[request].t if request in failed else None)
        lookup = looked_up.get(request)
        cache = None
        if lookup is not None and lookup.outcome == "fresh":
            cache, end = "fresh", lookup.t
        elif request in freshened:
            cache = "revalidated"
        timings.append(
            RequestTiming(
                request=request,
                url=q.url,
                kind=q.kind,
                initiator=q.initiator,
                why=q.why,
                why_values=q.why_values,
                started=q.t,
                connection=connection,
                reused=reused,
                status=h.status if h else (lookup.status if cache == "fresh" and lookup else None),
                size=d.size if d else 0,
                wire_size=d.wire_size if d else 0,
                content_type=d.content_type if d else "",
                blocked=_ms(q.t, first_step),
                dns=dns,
                connect=connect,
                ssl=ssl,
                send=_ms(s.started, s.t) if s else -1.0,
                wait=_ms(s.t, h.t) if s and h else -1.0,
                receive=_ms(h.t, d.t) if h and d else -1.0,
                total=_ms(q.t, end),
                error=failed[request].message if request in failed else None,
                cache=cache,
                cached_size=lookup.wire_size if lookup else 0,
            )
        )
    return timings
