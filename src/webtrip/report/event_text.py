"""Every trace event told as one short sentence, in English or Spain's Spanish.

The HTML replay steps through a run event by event; a learner reads each as a
sentence made of the event's own values — who did what, to whom, how much —
and nothing more: a packet thrown away is said to be thrown away, and a
retransmission is named only where the event itself counts one (the kernel's
counters in :class:`~webtrip.trace.events.TcpInfoRead`). Free text that an
actor wrote in English (an error's message, a drop's reason) is never shown as
it is: the known ones have their own words, and the others are left out.

``describe(event, language)`` is the one entry point; :data:`SENTENCES` has a
function for every event type of :mod:`webtrip.trace.events` (a test checks
that a new type gets one).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from gettext import GNUTranslations, NullTranslations
from typing import Any

import dns.rcode
import dns.rdatatype

from webtrip.i18n import LANGUAGES, actor_name, known_actor, milliseconds, number, seconds
from webtrip.i18n import translation as _catalog
from webtrip.net import format_address
from webtrip.outcomes import N_, failure
from webtrip.packets.dissect import Packet, PacketError, dissect
from webtrip.report.narration import fault_note
from webtrip.trace.events import (
    DROP,
    IN,
    INSIDE,
    OUT,
    Address,
    DnsMessageDropped,
    DnsMessageReceived,
    DnsMessageSent,
    Event,
    FaultOutcome,
    HttpBodySent,
    HttpCacheLookup,
    HttpCacheStored,
    HttpExchangeCompleted,
    HttpRequestFailed,
    HttpRequestQueued,
    HttpRequestReceived,
    HttpRequestRetried,
    HttpRequestSent,
    HttpResponseCompleted,
    HttpResponseHeadSent,
    HttpResponseStarted,
    LinkConditionsSet,
    NameLookupFailed,
    NameLookupStarted,
    NameResolved,
    NetworkDescribed,
    PacketCaptured,
    PageLoadFinished,
    PageLoadStarted,
    ResolverAnswered,
    ResolverStep,
    StreamRead,
    TcpConnectFailed,
    TcpConnectionClosed,
    TcpConnectionOpened,
    TcpConnectStarted,
    TcpInfoRead,
    TlsHandshakeCompleted,
    _DnsWire,
)

__all__ = ["SENTENCES", "describe"]


@cache
def _translation(language: str) -> GNUTranslations | NullTranslations:
    return _catalog(language)


class _W:
    """One sentence's words: gettext in ``language``, its numbers and its actors' names."""

    def __init__(self, language: str) -> None:
        self.language = language
        catalog = _translation(language)
        self._: Callable[[str], str] = catalog.gettext
        self.ngettext: Callable[[str, str, int], str] = catalog.ngettext
        self.pgettext: Callable[[str, str], str] = catalog.pgettext

    def n(self, value: float, decimals: int = 0) -> str:
        return number(value, self.language, decimals)

    def ms(self, value_s: float) -> str:
        return milliseconds(value_s * 1000, self.language)

    def s(self, value: float) -> str:
        return seconds(value, self.language)

    def name(self, actor: str) -> str:
        """An actor or node as the object of a sentence: "the browser", "el navegador";
        a name of the user's own as written."""
        if known_actor(actor):
            return self.pgettext("actor article", "the {actor}").format(
                actor=actor_name(actor, self.language)
            )
        return actor

    def who(self, actor: str) -> str:
        """An actor as a sentence's subject: "The browser", "El navegador"."""
        text = self.name(actor)
        return text[:1].upper() + text[1:] if known_actor(actor) else text

    def bytes(self, size: int) -> str:
        return self.ngettext("{count} byte", "{count} bytes", size).format(count=self.n(size))


def describe(event: Event, language: str = "en") -> str:
    """What ``event`` says happened, as one sentence in ``language``."""
    words = _W(language if language in LANGUAGES else "en")
    sentence = SENTENCES.get(type(event))
    if sentence is None:
        return words._("{who}: {event}.").format(
            who=words.who(event.actor), event=type(event).__name__
        )
    return sentence(event, words)


def _host(address: Address | None) -> str:
    return address[0] if address is not None else "?"


# --- DNS messages -------------------------------------------------------------------------


def _question(event: _DnsWire) -> tuple[str, str] | None:
    message = event.message
    if message is None or not message.question:
        return None
    question = message.question[0]
    return question.name.to_text(True), dns.rdatatype.to_text(question.rdtype)


def _is_response(event: _DnsWire) -> bool:
    message = event.message
    return message is not None and bool(message.flags & 0x8000)


def _asked(event: _DnsWire, w: _W) -> str:
    """ "the address of www.webtrip.test (A)" or "the NS records of test (NS)"."""
    found = _question(event)
    if found is None:
        return w._("a name")
    name, qtype = found
    if qtype in ("A", "AAAA"):
        return w._("the address of {name} ({qtype})").format(name=name, qtype=qtype)
    return w._("the {qtype} records of {name}").format(name=name, qtype=qtype)


def _dns_result(event: _DnsWire, w: _W) -> str:
    """What a DNS response says, from its own sections."""
    message = event.message
    if message is None:
        return ""
    rcode = dns.rcode.to_text(message.rcode())
    if rcode == "NXDOMAIN":
        return w._("the name does not exist (NXDOMAIN)")
    if rcode != "NOERROR":
        return w._("it could not answer ({rcode})").format(rcode=rcode)
    records = [rdata.to_text() for rrset in message.answer for rdata in rrset]
    if records:
        return ", ".join(records)
    referral = [rrset.name.to_text(True) for rrset in message.authority
                if rrset.rdtype == dns.rdatatype.NS]  # fmt: skip
    if referral:
        return w._("ask the servers of {zone}").format(zone=_zone(referral[0]))
    return w._("no record of that type")


def _dns_sent(event: DnsMessageSent, w: _W) -> str:
    who, peer = w.who(event.actor), _host(event.peer)
    if event.message is None:
        return w._("{who} sent {peer} a DNS message of {size} that is not valid DNS.").format(
            who=who, peer=peer, size=w.bytes(event.size)
        )
    if _is_response(event):
        return w._("{who} answered {peer} about {asked}: {result}.").format(
            who=who, peer=peer, asked=_asked(event, w), result=_dns_result(event, w)
        )
    return w._("{who} asked {peer} for {asked}.").format(who=who, peer=peer, asked=_asked(event, w))


def _dns_received(event: DnsMessageReceived, w: _W) -> str:
    who, peer = w.who(event.actor), _host(event.peer)
    if event.message is None:
        return w._("{who} received from {peer} {size} that are not a valid DNS message.").format(
            who=who, peer=peer, size=w.bytes(event.size)
        )
    if _is_response(event):
        return w._("{who} received the answer of {peer} about {asked}: {result}.").format(
            who=who, peer=peer, asked=_asked(event, w), result=_dns_result(event, w)
        )
    return w._("{who} received the question of {peer} for {asked}.").format(
        who=who, peer=peer, asked=_asked(event, w)
    )


def _dns_dropped(event: DnsMessageDropped, w: _W) -> str:
    who, peer = w.who(event.actor), _host(event.peer)
    if "--dns-silent" in event.reason:
        return w._("{who} did not answer the question of {peer}: it is silent (--dns-silent), "
                   "it never answers.").format(who=who, peer=peer)  # fmt: skip
    return w._("{who} threw away the DNS message of {peer} without answering.").format(
        who=who, peer=peer
    )


# --- the resolver ---------------------------------------------------------------------------


def _zone(zone: str) -> str:
    """How a person writes a zone: ".test" for a top-level domain, "webtrip.test" below."""
    name = zone.rstrip(".")
    return "." + name if name and "." not in name else name or "."


def _resolver_step(event: ResolverStep, w: _W) -> str:
    _ = w._
    who, asked = w.who(event.actor), f"{event.qname.rstrip('.')} ({event.qtype})"
    if event.server is None:
        if event.outcome == "cache":
            return _("{who} already had {asked} in its cache.").format(who=who, asked=asked)
        if event.outcome == "skipped":
            return _("{who} left out a name server of {zone}.").format(
                who=who, zone=_zone(event.zone)
            )
        return _("{who} took a step for {asked} without asking any server.").format(
            who=who, asked=asked
        )
    server = event.server[0]
    role = (
        _("a root server")
        if event.zone == "."
        else _("a server of {zone}").format(zone=_zone(event.zone))
    )
    values = {"who": who, "asked": asked, "server": server, "role": role}
    if event.outcome == "referral":
        values["child"] = _zone(event.detail.split(" ")[0])
        text = _("{who} asked {server}, {role}, for {asked}: it did not know, and sent it on to "
                 "the servers of {child}.")  # fmt: skip
    elif event.outcome == "answer":
        values["detail"] = event.detail
        text = _("{who} asked {server}, {role}, for {asked}: it answered {detail}.")
    elif event.outcome == "cname":
        values["detail"] = event.detail
        text = _("{who} asked {server}, {role}, for {asked}: the name is an alias ({detail}).")
    elif event.outcome == "nxdomain":
        text = _("{who} asked {server}, {role}, for {asked}: the name does not exist.")
    elif event.outcome == "nodata":
        text = _("{who} asked {server}, {role}, for {asked}: the name has no record of that "
                 "type.")  # fmt: skip
    elif event.outcome == "no answer":
        text = _("{who} asked {server} for {asked} and got no answer.")
    elif event.outcome == "forwarded":
        text = _("{who} passed the question for {asked} on to {server}.")
    else:
        text = _("{who} asked {server} for {asked}, but its answer was of no use.")
    return text.format(**values)


def _resolver_answered(event: ResolverAnswered, w: _W) -> str:
    _ = w._
    question = event.question.split(" ")
    asked = f"{question[0].rstrip('.')} ({' '.join(question[1:])})" if question else ""
    values = {"who": w.who(event.actor), "client": _host(event.client), "asked": asked}
    if event.rcode == "NOERROR":
        records = [r.split(None, 4)[-1] for r in event.answer]
        values["result"] = ", ".join(records) if records else _("no record of that type")
    elif event.rcode == "NXDOMAIN":
        values["result"] = _("the name does not exist (NXDOMAIN)")
    else:
        values["result"] = _("it could not answer ({rcode})").format(rcode=event.rcode)
    if event.from_cache:
        text = _("{who} answered {client} about {asked} from its cache: {result}.")
    else:
        values["count"] = w.n(event.queries)
        text = w.ngettext(
            "{who} answered {client} about {asked} after {count} question of its own: {result}.",
            "{who} answered {client} about {asked} after {count} questions of its own: {result}.",
            event.queries,
        )
    return text.format(**values)


# --- TCP, TLS and HTTP at both ends ----------------------------------------------------------


def _opened(event: TcpConnectionOpened, w: _W) -> str:
    return w._("{who} completed the three-way handshake with {peer}: connection {number} is "
               "open.").format(who=w.who(event.actor), peer=format_address(event.peer),
                               number=event.connection)  # fmt: skip


_CLOSE_REASONS = {
    "client closed": N_("the client closed it"),
    "closed after response": N_("it closed it after its answer"),
    "header timeout": N_("a request's headers took too long"),
    "idle timeout": N_("it stayed unused too long"),
    "send timeout": N_("sending took too long"),
    "server error": N_("the server had an error"),
    "connection reset": N_("it was reset (RST)"),
    "file shrank": N_(
        "the file got shorter while it was being sent, so its answer could not be completed"
    ),
    "server stopped": N_("the server stopped"),
    "connection limit": N_("the server had too many connections open"),
    "reclaimed: idle": N_(
        "the server was full and gave its place to a new connection, as it was the one "
        "left unused the longest"
    ),
    "reclaimed: slow": N_(
        "the server was full and gave its place to a new connection, as it was the one "
        "sending a request's headers the longest"
    ),
    "reclaimed: slow message": N_(
        "the server was full and gave its place to a new connection, as it was the one "
        "whose half-received message had started the longest ago"
    ),
    "reclaimed: unread": N_(
        "the server was full and gave its place to a new connection, as it was the one "
        "whose answers had waited longest for the client to read them"
    ),
    "reclaimed": N_("the server was full and gave its place to a new connection"),
}


def _closed(event: TcpConnectionClosed, w: _W) -> str:
    values = {"who": w.who(event.actor), "peer": format_address(event.peer),
              "number": event.connection}  # fmt: skip
    reason = _CLOSE_REASONS.get(event.reason)
    if reason is None:
        return w._("{who} ended connection {number} with {peer}.").format(**values)
    return w._("{who} ended connection {number} with {peer}: {why}.").format(
        why=w._(reason), **values
    )


def _request_received(event: HttpRequestReceived, w: _W) -> str:
    return w._("{who} received the request {method} {target} from {peer}.").format(
        who=w.who(event.actor), method=event.method, target=event.target,
        peer=format_address(event.peer),
    )  # fmt: skip


def _head_sent(event: HttpResponseHeadSent, w: _W) -> str:
    return w._("{who} sent the status line and the headers of its answer: {status}.").format(
        who=w.who(event.actor), status=event.status
    )


def _body_sent(event: HttpBodySent, w: _W) -> str:
    return w._("{who} handed {size} of the answer's body to the network.").format(
        who=w.who(event.actor), size=w.bytes(event.size)
    )


def _exchange(event: HttpExchangeCompleted, w: _W) -> str:
    return w._("{who} answered {method} {target} with {status} ({size} of body).").format(
        who=w.who(event.actor), method=event.method, target=event.target, status=event.status,
        size=w.bytes(event.body_size),
    )  # fmt: skip


def _lookup_started(event: NameLookupStarted, w: _W) -> str:
    return w._("{who} started looking for the address of {name}.").format(
        who=w.who(event.actor), name=event.name
    )


def _resolved(event: NameResolved, w: _W) -> str:
    values = {"who": w.who(event.actor), "name": event.name,
              "addresses": ", ".join(event.addresses)}  # fmt: skip
    if event.source == "hosts":
        text = w._("{who} found the address of {name} in its hosts file: {addresses}.")
    elif event.source == "literal":
        text = w._("{name} is already an address: {who} did not need the DNS.")
    else:
        values["server"] = _host(event.server)
        text = w._("{who} got the address of {name} from the DNS server {server}: {addresses}.")
    return text.format(**values)


def _explanation(kind: str | None, w: _W) -> str:
    """A failure kind's sentence (:data:`webtrip.outcomes.FAILURES`), translated."""
    found = failure(kind or "")
    return w._(found.explanation) if found is not None else w._("Something went wrong.")


def _lookup_failed(event: NameLookupFailed, w: _W) -> str:
    return w._("{who} did not find the address of {name}. {why}").format(
        who=w.who(event.actor), name=event.name, why=_explanation(event.kind, w)
    )


def _connect_started(event: TcpConnectStarted, w: _W) -> str:
    return w._("{who} sent a SYN to {peer} to open connection {number}.").format(
        who=w.who(event.actor), peer=format_address(event.peer), number=event.connection
    )


_CONNECT_FAILURES = {
    "timeout": N_("nobody answered in time"),
    "refused": N_("the server's computer refused the connection"),
    "unreachable": N_("a router answered that the address cannot be reached"),
}


def _connect_failed(event: TcpConnectFailed, w: _W) -> str:
    values = {"who": w.who(event.actor), "peer": format_address(event.peer),
              "number": event.connection}  # fmt: skip
    why = _CONNECT_FAILURES.get(event.kind)
    if why is None:
        return w._("{who} could not open connection {number} to {peer}.").format(**values)
    return w._("{who} could not open connection {number} to {peer}: {why}.").format(
        why=w._(why), **values
    )


def _tls(event: TlsHandshakeCompleted, w: _W) -> str:
    return w._("{who} completed the TLS handshake with {server} on connection {number}: "
               "{version}, {cipher}; the certificate of {subject} was issued by {issuer}.").format(
        who=w.who(event.actor), server=event.server_name, number=event.connection,
        version=event.version, cipher=event.cipher, subject=event.subject, issuer=event.issuer,
    )  # fmt: skip


_KINDS = {
    "document": N_("the page itself"),
    "stylesheet": N_("a stylesheet"),
    "script": N_("a script"),
    "image": N_("an image"),
    "icon": N_("an icon"),
    "import": N_("a stylesheet imported by another"),
    "css-url": N_("a file a stylesheet names"),
    "font": N_("a font"),
    "module": N_("a module script"),
    "frame": N_("a page inside the page (a frame)"),
    "object": N_("an embedded object"),
    "manifest": N_("the web app manifest"),
    "prefetch": N_("a file for later"),
    "fetch": N_("a file"),
}


def _queued(event: HttpRequestQueued, w: _W) -> str:
    kind = _KINDS.get(event.kind)
    values = {"who": w.who(event.actor), "url": event.url,
              "kind": w._(kind) if kind else w._("a file")}  # fmt: skip
    if event.initiator:
        values["initiator"] = event.initiator
        text = w._("{who} decided to ask for {url}, {kind}, named in {initiator}.")
    else:
        text = w._("{who} decided to ask for {url}, {kind}.")
    text = text.format(**values)
    if event.why:
        try:
            why = w._(event.why).format(**dict(event.why_values))
        except (KeyError, IndexError, ValueError):
            why = event.why
        text += " " + w._("Why: {why}.").format(why=why)
    return text


def _request_sent(event: HttpRequestSent, w: _W) -> str:
    values = {"who": w.who(event.actor), "request": event.request, "size": w.bytes(event.size),
              "number": event.connection}  # fmt: skip
    if event.reused:
        text = w._("{who} sent request {request} ({size}) on connection {number}, which was "
                   "already open.")  # fmt: skip
    else:
        text = w._("{who} sent request {request} ({size}) on connection {number}, just opened.")
    return text.format(**values)


def _read(event: StreamRead, w: _W) -> str:
    return w._("{who} read a piece of {size} from connection {number}.").format(
        who=w.who(event.actor), size=w.bytes(event.size), number=event.connection
    )


def _response_started(event: HttpResponseStarted, w: _W) -> str:
    return w._("{who} received the status line and the headers of the answer to request "
               "{request}: {status} {reason}.").format(
        who=w.who(event.actor), request=event.request, status=event.status, reason=event.reason
    )  # fmt: skip


def _response_completed(event: HttpResponseCompleted, w: _W) -> str:
    values = {"who": w.who(event.actor), "request": event.request,
              "wire": w.bytes(event.wire_size), "size": w.bytes(event.size),
              "encoding": event.encoding or ""}  # fmt: skip
    if event.encoding and event.size != event.wire_size:
        text = w._("{who} has the whole answer to request {request}: {wire} on the network, "
                   "{size} once unpacked ({encoding}).")  # fmt: skip
    else:
        text = w._("{who} has the whole answer to request {request}: {wire}.")
    return text.format(**values)


def _request_failed(event: HttpRequestFailed, w: _W) -> str:
    return w._("Request {request} failed. {why}").format(
        request=event.request, why=_explanation(event.kind, w)
    )


def _retried(event: HttpRequestRetried, w: _W) -> str:
    return w._("{who} will send request {request} again on a new connection: connection "
               "{number} closed or was reset before any byte of the answer.").format(
        who=w.who(event.actor), request=event.request, number=event.connection
    )  # fmt: skip


def _cache_lookup(event: HttpCacheLookup, w: _W) -> str:
    values = {"who": w.who(event.actor), "url": event.url, "age": w.s(event.age),
              "lifetime": w.s(event.lifetime)}  # fmt: skip
    if event.outcome == "fresh":
        text = w._("{who} found {url} in its cache, still fresh ({age} old, fresh for "
                   "{lifetime}): it uses it without asking the network.")  # fmt: skip
    elif event.outcome == "stale":
        text = w._("{who} found {url} in its cache, but no longer fresh ({age} old, fresh for "
                   "{lifetime}): it asks the server whether it changed.")  # fmt: skip
    elif event.outcome == "validate":
        text = w._("{who} found {url} in its cache, still fresh, but the page is being "
                   "reloaded: it asks the server whether it changed all the same.")  # fmt: skip
    else:
        text = w._("{who} looked for {url} in its cache and did not find it: it asks the "
                   "network.")  # fmt: skip
    return text.format(**values)


_NOT_STORED = {
    "no-store": N_("the server said not to (Cache-Control: no-store)"),
    "vary": N_("its Vary: * header forbids it"),
    "status": N_("its status may not be kept without a freshness lifetime"),
    "partial": N_("it is only part of the file (206)"),
    "method": N_("it did not answer a GET"),
}


def _cache_stored(event: HttpCacheStored, w: _W) -> str:
    values = {"who": w.who(event.actor), "url": event.url, "lifetime": w.s(event.lifetime)}
    if event.outcome == "stored":
        text = w._("{who} kept {url} in its cache, fresh for {lifetime}.")
    elif event.outcome == "updated":
        text = w._("{who} learnt that its copy of {url} has not changed (304): it is fresh "
                   "again for {lifetime}.")  # fmt: skip
    else:
        reason = _NOT_STORED.get(event.reason)
        if reason is None:
            text = w._("{who} did not keep {url} in its cache.")
        else:
            values["why"] = w._(reason)
            text = w._("{who} did not keep {url} in its cache: {why}.")
    return text.format(**values)


def _tcp_info(event: TcpInfoRead, w: _W) -> str:
    counted = w._("{who} counted on connection {number}: {sent} sent ({data_sent} with data) "
                  "and {received} received; round-trip time {rtt}.").format(
        number=event.connection, who=w.who(event.actor),
        sent=w.ngettext("{count} segment", "{count} segments", event.segments_out).format(
            count=w.n(event.segments_out)),
        data_sent=w.n(event.data_segments_out),
        received=w.n(event.segments_in),
        rtt=w.ms(event.rtt),
    )  # fmt: skip
    if event.retransmissions:
        counted += " " + w.ngettext(
            "It had to retransmit {count} segment.",
            "It had to retransmit {count} segments.",
            event.retransmissions,
        ).format(count=w.n(event.retransmissions))
    return counted


def _load_started(event: PageLoadStarted, w: _W) -> str:
    return w._("{who} started loading {url}.").format(who=w.who(event.actor), url=event.url)


def _load_finished(event: PageLoadFinished, w: _W) -> str:
    if event.failed:
        return w._("{who} could not load {url}. {why}").format(
            who=w.who(event.actor), url=event.url, why=_explanation(event.failed, w)
        )
    return w._("{who} finished loading {url}: {status}, «{title}».").format(
        who=w.who(event.actor), url=event.final_url, status=event.status, title=event.title
    )


# --- conditions and faults ------------------------------------------------------------------


def _link(event: LinkConditionsSet, w: _W) -> str:
    values = {"a": w.name(event.ends[0]), "b": w.name(event.ends[1]),
              "latency": w.ms(event.latency), "loss": w.n(event.loss * 100, 1 if
              event.loss * 100 % 1 else 0), "mtu": w.bytes(event.mtu)}  # fmt: skip
    if event.bandwidth is None:
        text = w._(
            "The run set up the link between {a} and {b}: {latency} each way, no "
            "bandwidth limit, {loss}% of packets lost at random, MTU of {mtu}."
        )
    else:
        values["bandwidth"] = w.n(event.bandwidth / 1e6, 0 if event.bandwidth % 1e6 == 0 else 2)
        text = w._(
            "The run set up the link between {a} and {b}: {latency} each way, "
            "{bandwidth} Mbit/s, {loss}% of packets lost at random, MTU of {mtu}."
        )
    return text.format(**values)


def _network(event: NetworkDescribed, w: _W) -> str:
    nodes, links = len(event.nodes), len(event.links)
    text = w.ngettext("The run built the network: {nodes} nodes joined by {links} link.",
                      "The run built the network: {nodes} nodes joined by {links} links.",
                      links)  # fmt: skip
    return text.format(nodes=w.n(nodes), links=w.n(links))


def _fault(event: FaultOutcome, w: _W) -> str:
    if not event.fired:
        return fault_note(event, w.language)
    values = {"option": f"--{event.action} {event.text}", "nth": w.n(event.nth),
              "matched": w.n(event.matched), "extra": w.ms(event.extra)}  # fmt: skip
    if event.action == "drop":
        text = w._("{option}: the link dropped matching packet number {nth} ({matched} matched "
                   "in all).")  # fmt: skip
    else:
        text = w._("{option}: the link held back matching packet number {nth} by {extra} "
                   "({matched} matched in all).")  # fmt: skip
    return text.format(**values)


# --- packets ------------------------------------------------------------------------------

_DROP_REASONS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"targeted fault: packet #(?P<n>\d+)"),
     N_("the fault you asked for took it (matching packet number {n})")),
    (re.compile(r"lost on the link$"), N_("the link lost it at random")),
    (re.compile(r"queue full"), N_("the link's queue was full")),
    (re.compile(r"no route to (?P<n>\S+)"), N_("there is no route to {n}")),
    (re.compile(r"the interface has no link"), N_("the interface has no link")),
    (re.compile(r"(?P<n>\d+) bytes exceed the link's MTU of (?P<m>\d+)"),
     N_("its {n} bytes do not fit in the link's MTU of {m}")),
    (re.compile(r"malformed"), N_("it was malformed")),
    (re.compile(r"fragments are not reassembled"), N_("fragments are not put back together here")),
    (re.compile(r"addressed to (?P<n>\S+), not to this host"),
     N_("it was for {n}, not for this host")),
    (re.compile(r"no (?P<n>\S+) on this node"), N_("this node does not speak {n}")),
    (re.compile(r"TTL expired"), N_("its TTL ran out on the way")),
    (re.compile(r"no host (?P<n>\S+) on the network"), N_("there is no host {n} on that network")),
    (re.compile(r"no socket on UDP port (?P<n>\d+)"), N_("no program listens on UDP port {n}")),
    (re.compile(r"receive queue is full"), N_("the socket's receive queue was full")),
    (re.compile(r"no connection or listener on TCP port (?P<n>\d+)"),
     N_("no connection or listening program on TCP port {n}")),
]  # fmt: skip


def _drop_reason(reason: str, w: _W) -> str:
    for pattern, text in _DROP_REASONS:
        found = pattern.search(reason)
        if found is not None:
            return w._(text).format(**found.groupdict())
    return ""


def drop_reason(reason: str, language: str) -> str:
    """Why a node or a link dropped a packet, in ``language`` ("" for a reason it
    does not know: the netsim's own English words are never shown in another language)."""
    return _drop_reason(reason, _W(language))


def _what(packet: Packet | None, w: _W) -> str:
    """ "a TCP segment [SYN, ACK]", "a UDP datagram (DNS)", "an ICMP message"."""
    if packet is None:
        return w._("a packet that cannot be read")
    if packet.tcp is not None:
        flags = ", ".join(packet.tcp.flags)
        if packet.tcp.payload_size:
            return w._("a TCP segment [{flags}] with {size} of data").format(
                flags=flags, size=w.bytes(packet.tcp.payload_size)
            )
        return w._("a TCP segment [{flags}]").format(flags=flags)
    if packet.udp is not None:
        if 53 in (packet.source_port, packet.destination_port):
            return w._("a UDP datagram (DNS)")
        return w._("a UDP datagram")
    if packet.icmp is not None:
        return w._("an ICMP message")
    return w._("an IP packet")


def _packet(event: PacketCaptured, w: _W) -> str:
    try:
        packet: Packet | None = dissect(event.data)
    except (PacketError, ValueError):
        packet = None
    values: dict[str, Any] = {
        "who": w.who(event.actor), "what": _what(packet, w),
        "source": packet.ip.source if packet else "?",
        "destination": packet.ip.destination if packet else "?",
        "interface": event.interface,
    }  # fmt: skip
    if event.direction == OUT:
        text = w._("{who} sent {what} from {source} to {destination} on {interface}.")
    elif event.direction == IN:
        text = w._("{who} received {what} from {source} for {destination} on {interface}.")
    elif event.direction == DROP:
        values["why"] = _drop_reason(event.reason, w)
        if event.interface == INSIDE:
            text = w._("{who} threw away {what} from {source} to {destination}")
        else:
            text = w._("{what} from {source} to {destination}, sent by {node} on {interface}, "
                       "was lost on the link")  # fmt: skip
            values["node"] = w.name(event.actor)
            if "link" not in event.reason and "fault" not in event.reason:
                text = w._("{who} threw away {what} from {source} to {destination} on "
                           "{interface}")  # fmt: skip
        text = text + (": {why}." if values["why"] else ".")
    else:
        text = w._("{who} saw {what} from {source} to {destination} on {interface}.")
    sentence = text.format(**values)
    return sentence[:1].upper() + sentence[1:]


SENTENCES: dict[type[Any], Callable[[Any, _W], str]] = {
    DnsMessageSent: _dns_sent,
    DnsMessageReceived: _dns_received,
    DnsMessageDropped: _dns_dropped,
    ResolverStep: _resolver_step,
    ResolverAnswered: _resolver_answered,
    TcpConnectionOpened: _opened,
    TcpConnectionClosed: _closed,
    HttpRequestReceived: _request_received,
    HttpResponseHeadSent: _head_sent,
    HttpBodySent: _body_sent,
    HttpExchangeCompleted: _exchange,
    NameLookupStarted: _lookup_started,
    NameResolved: _resolved,
    NameLookupFailed: _lookup_failed,
    TcpConnectStarted: _connect_started,
    TcpConnectFailed: _connect_failed,
    TlsHandshakeCompleted: _tls,
    HttpRequestQueued: _queued,
    HttpRequestSent: _request_sent,
    StreamRead: _read,
    HttpResponseStarted: _response_started,
    HttpResponseCompleted: _response_completed,
    HttpRequestFailed: _request_failed,
    HttpRequestRetried: _retried,
    HttpCacheLookup: _cache_lookup,
    HttpCacheStored: _cache_stored,
    TcpInfoRead: _tcp_info,
    PageLoadStarted: _load_started,
    PageLoadFinished: _load_finished,
    LinkConditionsSet: _link,
    NetworkDescribed: _network,
    FaultOutcome: _fault,
    PacketCaptured: _packet,
}
"""Every event type's sentence: ``SENTENCES[type(event)](event, words)``."""
