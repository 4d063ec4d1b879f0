"""The facts a lesson's questions are answered with: a small, named vocabulary about a trace.

A question never holds its answer: it names a *fact* (``handshake_ms``,
``segments``, ``referral_to``...) with its parameters, and the fact is worked
out from the student's own run — so each student's answer is their trace's,
and a teacher can read what every answer means. Each fact is a function of a
:class:`RunFacts` (the trace, and the page-load facts the narration uses,
:mod:`webtrip.report.facts`), registered with :func:`fact`: its name, its
unit, its parameters and, as its docstring's first paragraph, the definition
the lesson docs print (``docs/lessons.md`` is generated from :data:`FACTS`).

*Moments* name instants of a run (``syn``, ``name-resolved``,
``request:/style.css``...): ordering questions put moments in order, and a
prediction question pauses the replay just after one and asks what the next
packet will be. A moment is an event of the trace, so it has a time and a
place in the trace's order (two things can happen in the same instant).
"""

from __future__ import annotations

import inspect
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TypeVar

from webtrip.i18n import translation
from webtrip.packets.dissect import dissect
from webtrip.report.facts import PageLoadFacts, page_load_facts
from webtrip.report.flights import packet_kind as message_kind
from webtrip.trace import (
    DnsMessageSent,
    HttpCacheLookup,
    HttpRequestQueued,
    HttpRequestSent,
    HttpResponseCompleted,
    HttpResponseStarted,
    NameLookupStarted,
    NameResolved,
    NetworkDescribed,
    PacketCaptured,
    PageLoadFinished,
    PageLoadStarted,
    ResolverStep,
    TcpConnectionOpened,
    TcpConnectStarted,
    Trace,
)
from webtrip.trace.events import IN, OUT, Event

__all__ = [
    "FACTS",
    "LOSS_KINDS",
    "MOMENTS",
    "PACKET_KINDS",
    "Fact",
    "FactError",
    "Moment",
    "Parameter",
    "RunFacts",
    "Value",
    "facts_table",
    "moments_table",
]

Value = int | float | str | list[str]
"""What a fact gives: a count, milliseconds, a name, or moments in order."""


class FactError(ValueError):
    """A fact cannot be worked out from this run (say, a file the page never asked for)."""


@dataclass(frozen=True)
class Parameter:
    """One parameter of a fact: its name, kind ("text" or "int"), default (None: required)."""

    name: str
    kind: str
    default: str | int | None
    meaning: str


@dataclass(frozen=True)
class Fact:
    """A named fact about a run: its unit, its parameters, and how it is worked out."""

    name: str
    unit: str
    parameters: tuple[Parameter, ...]
    compute: Callable[..., Value]

    @property
    def definition(self) -> str:
        """The docstring's first paragraph, on one line: what the docs print."""
        doc = inspect.getdoc(self.compute) or ""
        return " ".join(doc.split("\n\n")[0].split())

    @property
    def signature(self) -> str:
        names = [p.name if p.default is None else f"{p.name}={p.default!r}"
                 for p in self.parameters]  # fmt: skip
        return f"{self.name}({', '.join(names)})"

    def __call__(self, run: RunFacts, **params: str | int) -> Value:
        values = {p.name: params.get(p.name, p.default) for p in self.parameters}
        return self.compute(run, **values)


FACTS: dict[str, Fact] = {}
"""Every fact by name, in the order the docs list them."""

UNITS = {
    "ms": "milliseconds",
    "count": "a whole number",
    "bytes": "bytes",
    "status": "an HTTP status code",
    "host": "a host of the lab, by name",
    "zone": "a DNS zone, like test.",
    "outcome": "miss, fresh, stale or validate",
    "kind": "a packet kind (see below)",
}
"""What each unit means, for the docs and for the answers file's comments."""


_F = TypeVar("_F", bound=Callable[..., Value])


def fact(unit: str, *parameters: Parameter) -> Callable[[_F], _F]:
    """Register the decorated function as a fact of ``unit`` with ``parameters``."""

    def register(compute: _F) -> _F:
        FACTS[compute.__name__] = Fact(compute.__name__, unit, parameters, compute)
        return compute

    return register


FILE = Parameter("file", "text", None, "the file's path on the site (/img/astronaut.jpg) or URL")
SENDER = Parameter("sender", "text", "server", "who sent them: server or browser")
LOAD = Parameter("load", "int", 1, "which load of the page: 1, or 2 in a lesson with a reload")


# --- the run, as the facts see it -------------------------------------------------------


class RunFacts:
    """One run's trace, with what several facts need worked out once."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self.page: PageLoadFacts = page_load_facts(trace)

    @cached_property
    def hosts(self) -> dict[str, str]:
        """Each address of the lab's network → the name of its host or router."""
        found: dict[str, str] = {}
        for described in self.trace.of_type(NetworkDescribed):
            for name, _role, addresses in described.nodes:
                for text in addresses:
                    found[text.split(" ")[-1]] = name
        return found

    @cached_property
    def browser(self) -> str:
        conditions = self.page.conditions
        return conditions.ends[0] if conditions is not None else "browser"

    def host_of(self, address: str) -> str:
        return self.hosts.get(address, address)

    def address_of(self, host: str) -> str:
        found = [address for address, name in self.hosts.items() if name == host]
        if not found:
            known = ", ".join(sorted(set(self.hosts.values())))
            raise FactError(f"the lab has no host named {host!r} (it has: {known})")
        return found[0]

    def loads(self) -> list[tuple[int, int]]:
        """Each load's span of trace indices: [start, end)."""
        starts = [i for i, e in enumerate(self.trace.events) if isinstance(e, PageLoadStarted)]
        ends = [*starts[1:], len(self.trace.events)]
        return list(zip(starts, ends, strict=True))

    def request_of(self, file: str, load: int = 1) -> int:
        """The request number of ``file`` in the ``load``-th load (its first request)."""
        spans = self.loads()
        if not 1 <= load <= len(spans):
            raise FactError(f"the run loaded the page {len(spans)} time(s), not {load}")
        start, end = spans[load - 1]
        wanted = _path(file)
        for event in self.trace.events[start:end]:
            if (isinstance(event, HttpRequestQueued) and event.actor == self.browser
                    and (_path(event.url) == wanted or event.url == file)):  # fmt: skip
                return event.request
        raise FactError(f"the page never asked for {file}")

    def first(self, kind: type[Event], request: int) -> Event:
        for event in self.trace.events:
            if (isinstance(event, kind) and getattr(event, "request", None) == request
                    and event.actor == self.browser):  # fmt: skip
                return event
        raise FactError(f"request {request} has no {kind.__name__} in the trace")


def _path(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return parts.path or "/" if parts.scheme else url


# --- the facts ----------------------------------------------------------------------------


@fact("ms", LOAD)
def page_load_ms(run: RunFacts, load: int) -> float:
    """How long the page took to load: from the browser starting the load to the
    page and all its files being done (the first load, or with ``load = 2`` the reload)."""
    started = run.trace.of_type(PageLoadStarted)
    finished = run.trace.of_type(PageLoadFinished)
    if len(started) < load or len(finished) < load:
        raise FactError(f"the run loaded the page {len(finished)} time(s), not {load}")
    return round((finished[load - 1].t - started[load - 1].t) * 1000, 3)


@fact("ms")
def lookup_ms(run: RunFacts) -> float:
    """How long the browser's first lookup of the site's name took: from starting to look
    it up (step 1) to having the address, or to giving up when no answer came."""
    lookups = [item for item in run.page.lookups if item.started is not None]
    if not lookups or lookups[0].ended is None or lookups[0].started is None:
        raise FactError("the browser's lookup never ended")
    return round((lookups[0].ended - lookups[0].started) * 1000, 3)


@fact("count", Parameter("server", "text", "", "a DNS server's host; empty: the browser's own"))
def dns_questions(run: RunFacts, server: str) -> int:
    """How many DNS questions were sent: to the DNS server on host ``server`` (by anyone:
    the resolver walking from the root, or the browser), or, without ``server``, by
    the browser itself. A question asked again (a retry) counts again."""
    queries = [e for e in run.trace.of_type(DnsMessageSent) if e.responds_to is None]
    if server:
        address = run.address_of(server)
        return sum(1 for e in queries if e.peer[0] == address)
    return sum(1 for e in queries if e.actor == run.browser)


@fact("host", Parameter("zone", "text", None, "the zone referred to, like test."))
def referral_to(run: RunFacts, zone: str) -> str:
    """Which host's DNS server referred the resolver to the servers of ``zone``: the
    first referral of the walk whose records name ``zone``'s name servers."""
    wanted = zone.rstrip(".").lower() + "."
    for step in run.trace.of_type(ResolverStep):
        if (step.outcome == "referral" and step.server is not None
                and step.detail.split(" ")[0].lower() == wanted):  # fmt: skip
            return run.host_of(step.server[0])
    raise FactError(f"no DNS server referred the resolver to {wanted}")


@fact("zone", Parameter("server", "text", None, "a DNS server's host, like root"))
def referral_from(run: RunFacts, server: str) -> str:
    """Which zone the DNS server on host ``server`` referred the resolver down to (its
    first referral): the root's is the top-level domain, like ``test.``."""
    address = run.address_of(server)
    for step in run.trace.of_type(ResolverStep):
        if step.outcome == "referral" and step.server is not None and step.server[0] == address:
            return step.detail.split(" ")[0].lower()
    raise FactError(f"the DNS server on {server} sent no referral")


@fact("host")
def dns_answered_by(run: RunFacts) -> str:
    """Which host's DNS server gave the browser the address it used (the first lookup)."""
    for event in run.trace.of_type(NameResolved):
        if event.actor == run.browser and event.server is not None:
            return run.host_of(event.server[0])
    raise FactError("no DNS server answered the browser")


@fact("ms", Parameter("connection", "int", 1, "the browser's connection, counted from 1"))
def handshake_ms(run: RunFacts, connection: int) -> float:
    """How long the browser's TCP connection ``connection`` took to open: from its SYN
    leaving to the SYN-ACK arriving (one round trip, plus any SYN sent again)."""
    starts = {e.connection: e.t for e in run.trace.of_type(TcpConnectStarted)
              if e.actor == run.browser}  # fmt: skip
    opened = {e.connection: e.t for e in run.trace.of_type(TcpConnectionOpened)
              if e.actor == run.browser}  # fmt: skip
    if connection not in starts or connection not in opened:
        raise FactError(f"the browser's connection {connection} never opened")
    return round((opened[connection] - starts[connection]) * 1000, 3)


@fact("count")
def connections(run: RunFacts) -> int:
    """How many TCP connections the browser opened (attempts that opened)."""
    return sum(1 for e in run.trace.of_type(TcpConnectionOpened) if e.actor == run.browser)


@fact("count")
def requests(run: RunFacts) -> int:
    """How many files the browser asked for, the page itself included (every load)."""
    return sum(1 for e in run.trace.of_type(HttpRequestQueued) if e.actor == run.browser)


@fact("count", LOAD)
def network_requests(run: RunFacts, load: int) -> int:
    """How many HTTP requests the browser sent over the network in the ``load``-th load
    (a file its HTTP cache gave, still fresh, sends none; asking whether a kept
    file changed sends one)."""
    spans = run.loads()
    if not 1 <= load <= len(spans):
        raise FactError(f"the run loaded the page {len(spans)} time(s), not {load}")
    start, end = spans[load - 1]
    return sum(1 for e in run.trace.events[start:end]
               if isinstance(e, HttpRequestSent) and e.actor == run.browser)  # fmt: skip


@fact("count", FILE, SENDER, LOAD)
def segments(run: RunFacts, file: str, sender: str, load: int) -> int:
    """How many TCP segments carrying bytes of ``file``'s exchange reached the other end:
    from the server, the answer's (headers and body); from the browser, the
    request's. Counted at the browser's own node, between the request leaving and
    the answer's last byte arriving; a segment that arrived twice counts twice."""
    request = run.request_of(file, load)
    sent = run.first(HttpRequestSent, request)
    done = run.first(HttpResponseCompleted, request)
    assert isinstance(sent, HttpRequestSent) and isinstance(done, HttpResponseCompleted)
    direction = {"server": IN, "browser": OUT}.get(sender)
    if direction is None:
        raise FactError(f"sender is server or browser, not {sender!r}")
    return sum(
        1 for t, way, _sequence, size, _flags in run.page.browser_packets(sent.connection)
        if way == direction and size and sent.started <= t <= done.t
    )  # fmt: skip


@fact("bytes", FILE, SENDER, LOAD)
def largest_segment(run: RunFacts, file: str, sender: str, load: int) -> int:
    """The most bytes of ``file``'s exchange one TCP segment carried (from the server: the
    answer; from the browser: the request), counted as :func:`segments` counts:
    the link's MTU less the IP and TCP headers caps it (the MSS)."""
    request = run.request_of(file, load)
    sent = run.first(HttpRequestSent, request)
    done = run.first(HttpResponseCompleted, request)
    assert isinstance(sent, HttpRequestSent) and isinstance(done, HttpResponseCompleted)
    direction = {"server": IN, "browser": OUT}.get(sender)
    if direction is None:
        raise FactError(f"sender is server or browser, not {sender!r}")
    sizes = [size for t, way, _sequence, size, _flags in run.page.browser_packets(sent.connection)
             if way == direction and size and sent.started <= t <= done.t]  # fmt: skip
    if not sizes:
        raise FactError(f"no segment carried bytes of {file}")
    return max(sizes)


LOSS_KINDS = ("syn", "synack", "dns-query", "dns-response", "data", "other")
"""The kinds :func:`lost_packets` takes (webtrip.report.facts.packet_kind's)."""


@fact("count", Parameter("kind", "text", "", "one of " + ", ".join(LOSS_KINDS) + "; empty: all"))
def lost_packets(run: RunFacts, kind: str) -> int:
    """How many packets the browser's link lost (at random or by a fault), either way,
    of one ``kind``: syn, synack, dns-query, dns-response, data (a TCP segment carrying
    bytes), other; without ``kind``, all of them."""
    if kind and kind not in LOSS_KINDS:
        raise FactError(f"kind is one of {', '.join(LOSS_KINDS)}, not {kind!r}")
    return len(run.page.dropped(kind)) if kind else len(run.page.drops)


@fact("count", SENDER)
def retransmissions(run: RunFacts, sender: str) -> int:
    """How many TCP segments ``sender`` (server or browser) sent again during the page
    load: segments leaving its own host with a sequence number it had already sent
    (data, SYN or FIN), whatever made it resend."""
    if sender == "server":
        return run.page.server_resends
    if sender != "browser":
        raise FactError(f"sender is server or browser, not {sender!r}")
    seen: set[tuple[int, int, int]] = set()
    again = 0
    for event in run.trace.of_type(PacketCaptured):
        if event.actor != run.browser or event.direction != OUT:
            continue
        try:
            tcp = dissect(event.data).tcp
        except ValueError:
            continue
        if tcp is None or not (tcp.payload_size or {"SYN", "FIN"} & set(tcp.flags)):
            continue
        key = (tcp.source_port, tcp.destination_port, tcp.sequence)
        again += key in seen
        seen.add(key)
    return again


@fact("bytes", FILE, Parameter("as_sent", "int", 0, "1: the bytes as sent (compressed)"), LOAD)
def file_size(run: RunFacts, file: str, as_sent: int, load: int) -> int:
    """How big ``file`` is: its bytes once decoded, or with ``as_sent = 1`` the body's bytes
    as they travelled (gzip-compressed, when the server compressed it)."""
    done = run.first(HttpResponseCompleted, run.request_of(file, load))
    assert isinstance(done, HttpResponseCompleted)
    return done.wire_size if as_sent else done.size


@fact("status", FILE, LOAD)
def status(run: RunFacts, file: str, load: int) -> int:
    """The HTTP status code the server answered ``file`` with (200, 304, 404...)."""
    head = run.first(HttpResponseStarted, run.request_of(file, load))
    assert isinstance(head, HttpResponseStarted)
    return head.status


@fact("count", FILE, LOAD)
def round_trips(run: RunFacts, file: str, load: int) -> int:
    """How many round trips ``file`` took: the time from its request leaving to its last
    byte arriving, divided by its connection's handshake time (one round trip on
    that path), rounded to the nearest whole number (at least 1)."""
    request = run.request_of(file, load)
    sent = run.first(HttpRequestSent, request)
    done = run.first(HttpResponseCompleted, request)
    assert isinstance(sent, HttpRequestSent) and isinstance(done, HttpResponseCompleted)
    rtt = handshake_ms(run, sent.connection) / 1000
    return max(1, round((done.t - sent.started) / rtt)) if rtt > 0 else 1


@fact("outcome", FILE, LOAD)
def cache_outcome(run: RunFacts, file: str, load: int) -> str:
    """What the browser's HTTP cache decided for ``file`` before asking the network:
    miss (nothing stored), fresh (used without a request), stale or validate (asked
    the server whether it changed)."""
    request = run.request_of(file, load)
    for event in run.trace.of_type(HttpCacheLookup):
        if event.actor == run.browser and event.request == request:
            return event.outcome
    raise FactError(f"the browser did not look {file} up in its cache")


PACKET_KINDS = ("dns-query", "dns-referral", "dns-answer", "syn", "syn-ack", "ack",
                "request", "response", "data", "fin", "rst", "other")  # fmt: skip
"""The kinds of packet a prediction asks for: the replay's own words for a packet."""


def packet_kind_words(language: str) -> dict[str, str]:
    """What each of :data:`PACKET_KINDS` means, as a student reads it in ``language``
    (the codes stay what an answers file holds)."""
    catalog = translation(language)
    _ = catalog.gettext
    return {
        "dns-query": _("a DNS question"),
        "dns-referral": _("a DNS referral to other servers"),
        "dns-answer": _("a DNS answer"),
        "syn": _("SYN: the browser asks to connect"),
        "syn-ack": _("SYN-ACK: the server accepts the connection"),
        "ack": _("ACK: a receipt, with no data"),
        "request": _("the HTTP request"),
        "response": _("the first piece of the HTTP answer"),
        "data": _("more data (another segment)"),
        "fin": _("FIN: one side closes the connection"),
        "rst": _("RST: the connection is cut"),
        "other": _("something else"),
    }


@fact("kind", Parameter("after", "text", None, "a moment (see the moments)"))
def next_packet(run: RunFacts, after: str) -> str:
    """The kind of the next packet the browser's node sends or receives after the moment
    ``after`` (in the trace's order): dns-query, dns-referral, dns-answer, syn, syn-ack,
    ack, request (an HTTP request's first segment), response (an answer's first
    segment), data (more of a request or answer), fin, rst, other."""
    index = moment_index(run, after)
    for event in run.trace.events[index + 1 :]:
        if (isinstance(event, PacketCaptured) and event.actor == run.browser
                and event.direction in (IN, OUT)):  # fmt: skip
            try:
                return message_kind(dissect(event.data))[1]
            except ValueError:
                return "other"
    raise FactError(f"no packet came after {after}")


@fact("ms", Parameter("moment", "text", None, "a moment (see the moments)"))
def moment_ms(run: RunFacts, moment: str) -> float:
    """When ``moment`` happened, in milliseconds from the start of the run."""
    return round(run.trace.events[moment_index(run, moment)].t * 1000, 3)


# --- moments --------------------------------------------------------------------------


@dataclass(frozen=True)
class Moment:
    """A named instant of a run: ``name`` or ``name:argument``, and what it means."""

    name: str
    argument: str  # "" (none), "HOST", "FILE" or "N"
    meaning: str


MOMENTS = {
    m.name: m
    for m in (
        Moment("page-start", "", "the browser starts loading the page"),
        Moment("lookup-start", "", "the browser starts looking the site's name up (step 1)"),
        Moment("asked", "HOST", "the first DNS question sent to the DNS server on HOST"),
        Moment("name-resolved", "", "the browser has the site's address"),
        Moment("syn", "N", "the browser sends the SYN of connection N (1 if not given)"),
        Moment("connection-open", "N", "connection N is open: the SYN-ACK has arrived"),
        Moment("request", "FILE", "the browser sends its request for FILE"),
        Moment("response", "FILE", "the answer's status line and headers for FILE arrive"),
        Moment("complete", "FILE", "the last byte of FILE arrives"),
        Moment("loss", "N", "the Nth packet lost on the browser's link (1 if not given)"),
        Moment("page-loaded", "", "the page and all its files are done"),
    )
}
"""The moments ordering and prediction questions name, by name."""


def moment_index(run: RunFacts, text: str) -> int:
    """The index in the trace of the event ``text`` names (FactError if none)."""
    name, _colon, argument = text.partition(":")
    moment = MOMENTS.get(name)
    if moment is None:
        raise FactError(f"{text!r} is not a moment (known: {', '.join(MOMENTS)})")
    events = run.trace.events
    browser = run.browser

    def first(test: Callable[[Event], bool]) -> int:
        found = next((i for i, e in enumerate(events) if test(e)), None)
        if found is None:
            raise FactError(f"the run has no moment {text}")
        return found

    number = int(argument) if argument.isdigit() else 1
    if name == "page-start":
        return first(lambda e: isinstance(e, PageLoadStarted))
    if name == "lookup-start":
        return first(lambda e: isinstance(e, NameLookupStarted) and e.actor == browser)
    if name == "asked":
        address = run.address_of(argument)
        return first(lambda e: isinstance(e, DnsMessageSent) and e.responds_to is None
                     and e.peer[0] == address)  # fmt: skip
    if name == "name-resolved":
        return first(lambda e: isinstance(e, NameResolved) and e.actor == browser)
    if name == "syn":
        return first(lambda e: isinstance(e, TcpConnectStarted) and e.actor == browser
                     and e.connection == number)  # fmt: skip
    if name == "connection-open":
        return first(lambda e: isinstance(e, TcpConnectionOpened) and e.actor == browser
                     and e.connection == number)  # fmt: skip
    if name in ("request", "response", "complete"):
        kind = {"request": HttpRequestSent, "response": HttpResponseStarted,
                "complete": HttpResponseCompleted}[name]  # fmt: skip
        request = run.request_of(argument or "/")
        return events.index(run.first(kind, request))
    if name == "loss":
        drops = run.page.drops
        if len(drops) < number:
            raise FactError(f"the run has no moment {text}")
        return events.index(drops[number - 1])
    return first(lambda e: isinstance(e, PageLoadFinished))


def check_moment(text: str) -> str | None:
    """Why ``text`` is not a well-formed moment (None if it is)."""
    name, colon, argument = text.partition(":")
    moment = MOMENTS.get(name)
    if moment is None:
        return f"a moment ({', '.join(MOMENTS)})"
    if moment.argument in ("HOST", "FILE") and not argument:
        return f"{name}:{moment.argument}"
    if moment.argument == "" and colon:
        return f"{name} (without ':')"
    if moment.argument == "N" and argument and not argument.isdigit():
        return f"{name} or {name}:N with N a number"
    return None


# --- the docs' tables -----------------------------------------------------------------


def facts_table() -> str:
    """The Markdown table of every fact: the docs print it (a test keeps them equal)."""
    rows = ["| fact | unit | parameters | definition |", "| --- | --- | --- | --- |"]
    for item in FACTS.values():
        params = "; ".join(f"`{p.name}`" + (f" (default {p.default!r})" if p.default is not None
                                            else "") + f": {p.meaning}"
                           for p in item.parameters) or "—"  # fmt: skip
        rows.append(f"| `{item.signature}` | {UNITS[item.unit]} | {params} | {item.definition} |")
    return "\n".join(rows)


def moments_table() -> str:
    """The Markdown table of the moments."""
    rows = ["| moment | meaning |", "| --- | --- |"]
    for m in MOMENTS.values():
        name = f"{m.name}:{m.argument}" if m.argument else m.name
        rows.append(f"| `{name}` | {m.meaning} |")
    return "\n".join(rows)
