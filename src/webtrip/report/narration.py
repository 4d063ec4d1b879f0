"""Narration: the four steps of a page load told in plain words, with the run's real values.

A pure function of a trace: it reads what the browser (and, when they ran
in the same process, the servers) recorded and says what happened — which
DNS server was asked and what it answered, which address the connection went
to and how long the handshake took, how the answer arrived in pieces, and
what the page turned out to need. Every sentence goes through gettext, so
each exists in English and Spanish.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass
from ipaddress import ip_address

from webtrip.i18n import translation
from webtrip.net import Address, format_address
from webtrip.report.packets import packet_rows
from webtrip.report.pcap import captured_packets
from webtrip.report.timings import RequestTiming, request_timings
from webtrip.trace import (
    DnsMessageReceived,
    DnsMessageSent,
    HttpRequestRetried,
    HttpRequestSent,
    HttpResponseCompleted,
    HttpResponseStarted,
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
    TcpInfoRead,
    TlsHandshakeCompleted,
    Trace,
)
from webtrip.trace.events import IN, OUT, Event


def _sent_again_to(trace: Trace, events: list[Event], start: float, end: float) -> int:
    """How many segments the servers sent the browser again between ``start`` and ``end``:
    what a capture at each server marks "TCP Retransmission", as Wireshark would. Only a
    simulated run's trace has the packets; 0 without them."""
    captures = trace.of_type(PacketCaptured)
    opened = [e for e in events if isinstance(e, TcpConnectionOpened)]
    if not captures or not opened:
        return 0
    mine = {ip_address(e.local[0]).packed for e in opened}
    theirs = {ip_address(e.peer[0]).packed for e in opened}
    # The servers' own hosts: they send packets from those addresses but (unlike the
    # routers on the way) never receive one.
    sending = {p.actor for p in captures if p.direction == OUT and p.data[12:16] in theirs}
    forwarding = {p.actor for p in captures if p.direction == IN and p.data[12:16] in theirs}
    nodes = sending - forwarding
    count = 0
    for node in sorted(nodes):
        packets = captured_packets(trace, node)
        rows = packet_rows((p.t, p.data, None) for p in packets)
        count += sum(
            1
            for packet, row in zip(packets, rows, strict=True)
            if start <= packet.t <= end
            and packet.direction == OUT
            and packet.data[12:16] in theirs
            and packet.data[16:20] in mine
            and row.info.startswith("[TCP Retransmission]")
        )
    return count


@dataclass(frozen=True, slots=True)
class Paragraph:
    """One step of the story: a heading and its sentences."""

    heading: str
    text: str


def narrate(trace: Trace, language: str = "en", actor: str = "browser") -> list[Paragraph]:
    """The story of the page load in ``trace``, in ``language``."""
    catalog = translation(language)
    _ = catalog.gettext
    ngettext = catalog.ngettext
    ms = _milliseconds
    events = [e for e in trace.events if e.actor == actor]
    timings = request_timings(trace, actor)
    finished = next((e for e in reversed(events) if isinstance(e, PageLoadFinished)), None)
    paragraphs: list[Paragraph] = []
    if not timings:
        return paragraphs
    first = timings[0]

    # Step 1 — DNS ------------------------------------------------------------------------
    resolved = [e for e in events if isinstance(e, NameResolved)]
    lookup_failed = [e for e in events if isinstance(e, NameLookupFailed)]
    sentences: list[str] = []
    for name in resolved:
        addresses = ", ".join(name.addresses)
        if name.source == "literal":
            sentences.append(
                _("{name} is already an IP address, so no DNS lookup was needed.").format(
                    name=name.name
                )
            )
            continue
        if name.source == "hosts":
            sentences.append(
                _(
                    "{name} is listed in /etc/hosts, so the browser asked no DNS server: "
                    "{addresses}."
                ).format(name=name.name, addresses=addresses)
            )
            continue
        asked = [e for e in events if isinstance(e, DnsMessageSent) and e.t <= name.t]
        answers = [e for e in events if isinstance(e, DnsMessageReceived) and e.t <= name.t]
        server = format_address(name.server) if name.server else "?"
        sizes = sorted({e.size for e in asked})
        # A question asked again (a retry: the same question, a new ID) is not a new one.
        opening = list({e.wire[2:]: e for e in reversed(asked)}.values())
        sentences.append(
            ngettext(
                "The browser asked the DNS server at {server} for the address of {name}: "
                "{count} question (a UDP datagram of {size} bytes).",
                "The browser asked the DNS server at {server} for the address of {name}: "
                "{count} questions at once, A for IPv4 and AAAA for IPv6 "
                "(UDP datagrams of {size} bytes), each from a new random port with a "
                "random ID.",
                len(opening),
            ).format(
                server=server,
                name=name.name,
                count=len(opening),
                size="/".join(str(s) for s in sizes),
            )
        )
        if again := len(asked) - len(opening):
            sentences.append(
                ngettext(
                    "It had to ask {count} more time: an answer had not come back in time.",
                    "It had to ask {count} more times: answers had not come back in time.",
                    again,
                ).format(count=again)
            )
        lookup = next((t for t in timings if t.request == name.request and t.dns >= 0), None)
        sentences.append(
            _("The answers ({size} bytes) came back in {ms}: {addresses}.").format(
                size="/".join(str(s) for s in sorted({e.size for e in answers})),
                ms=ms(lookup.dns if lookup else -1),
                addresses=addresses,
            )
        )
        sentences.extend(_resolver_story(trace, name.name, name.t, name.server, events, catalog))
        if name.chain:
            sentences.append(
                _("{name} is an alias (CNAME) of {canonical}.").format(
                    name=name.name, canonical=name.canonical
                )
            )
        if name.ttl is not None:
            sentences.append(
                _("The answer may be remembered for {ttl} seconds (its TTL).").format(ttl=name.ttl)
            )
    for failure in lookup_failed:
        # The error's own words are English; in another language, what kind of failure.
        why = failure.message if language == "en" else _lookup_failure(failure.kind, _)
        sentences.append(_("The lookup failed: {message}.").format(message=why))
        asked = [e for e in events if isinstance(e, DnsMessageSent) and e.t <= failure.t]
        server = asked[-1].peer if asked else None
        sentences.extend(_resolver_story(trace, failure.name, failure.t, server, events, catalog))
    if not resolved and not lookup_failed:
        sentences.append(_("The browser was still waiting for the DNS answer when time ran out."))
    paragraphs.append(Paragraph(_("Step 1 — DNS: the name's address"), " ".join(sentences)))
    if not resolved:
        paragraphs.append(_ending(finished, _))
        return paragraphs

    # Step 2 — TCP/IP and HTTP ---------------------------------------------------------
    sentences = []
    failed_connects = [e for e in events if isinstance(e, TcpConnectFailed)]
    first_sent = next(
        (e for e in events if isinstance(e, HttpRequestSent) and e.request == first.request),
        None,
    )
    for failure in failed_connects:
        if failure.t <= (first_sent.t if first_sent else failure.t):
            address = format_address(failure.peer)
            message = failure.message if language == "en" else _connect_failure(failure.kind, _)
            sentences.append(
                _("First it tried {address}: {message}.").format(address=address, message=message)
            )
    if first_sent is not None and first.connection is not None:
        peer = next(
            (e.peer for e in events if getattr(e, "connection", None) == first.connection
             and type(e).__name__ == "TcpConnectionOpened"),
            None,
        )  # fmt: skip
        sentences.append(
            _(
                "The browser opened a TCP connection to {address} — the three-way "
                "handshake (SYN, SYN-ACK, ACK) took {ms}."
            ).format(
                address=format_address(peer) if peer else "?",
                ms=ms(first.connect - max(first.ssl, 0) if first.connect >= 0 else -1),
            )
        )
        handshake = next(
            (e for e in events if isinstance(e, TlsHandshakeCompleted)
             and e.connection == first.connection),
            None,
        )  # fmt: skip
        if handshake is not None:
            sentences.append(
                _(
                    "Then it set up TLS ({version}, {cipher}) in {ms}: the server proved it "
                    "is {subject}, vouched for by {issuer}, valid until {until}."
                ).format(
                    version=handshake.version,
                    cipher=handshake.cipher,
                    ms=ms(first.ssl),
                    subject=handshake.subject or "?",
                    issuer=handshake.issuer or "?",
                    until=handshake.not_after or "?",
                )
            )
        path = first.url.split("/", 3)[3] if first.url.count("/") >= 3 else ""
        sentences.append(
            _("Over it, it sent an HTTP/1.1 request of {size} bytes: GET /{path}").format(
                size=first_sent.size, path=path
            )
            + "."
        )
    if first_sent is None and not failed_connects:
        sentences.append(_("No connection was made before the load ended."))
    paragraphs.append(
        Paragraph(
            _("Step 2 — TCP/IP and HTTP: the connection and the request"), " ".join(sentences)
        )
    )
    first_head_seen = any(
        isinstance(e, HttpResponseStarted) and e.request == first.request for e in events
    )
    if not first_head_seen:
        paragraphs.append(_ending(finished, _))
        return paragraphs

    # Step 3 — packets -------------------------------------------------------------------
    sentences = []
    first_head = next(
        (e for e in events if isinstance(e, HttpResponseStarted) and e.request == first.request),
        None,
    )
    first_done = next(
        (e for e in events if isinstance(e, HttpResponseCompleted) and e.request == first.request),
        None,
    )
    reads_by_connection: dict[int, int] = defaultdict(int)
    for event in events:
        if isinstance(event, StreamRead):
            reads_by_connection[event.connection] += 1
    if first_head is not None:
        sentences.append(
            _("The server answered {status} {reason} after {ms} (time to first byte).").format(
                status=first_head.status, reason=first_head.reason, ms=ms(first.wait)
            )
        )
    hops = [t for t in timings if t.kind == "document"]
    for hop, following in itertools.pairwise(hops):
        sentences.append(
            _("It was sent elsewhere ({status}): the browser followed to {url}.").format(
                status=hop.status, url=following.url
            )
        )
    if first_done is not None:
        reads = sum(1 for e in events if isinstance(e, StreamRead)
                    and e.connection == first.connection and e.t <= first_done.t)  # fmt: skip
        sentences.append(
            ngettext(
                "The page's {size} bytes arrived in {reads} piece.",
                "The page's {size} bytes arrived in {reads} pieces: the browser read them "
                "as they came.",
                reads,
            ).format(size=first_done.wire_size, reads=reads)
        )
    infos = [e for e in events if isinstance(e, TcpInfoRead)]
    if infos:
        retransmissions = sum(i.retransmissions for i in infos)
        sentences.append(
            ngettext(
                "TCP's own counters show {segments_in} segments in and {segments_out} out on "
                "{connections} connection, and a round-trip time of {rtt}.",
                "TCP's own counters show {segments_in} segments in and {segments_out} out on "
                "{connections} connections, and a round-trip time of {rtt}.",
                len(infos),
            ).format(
                segments_in=sum(i.segments_in for i in infos),
                segments_out=sum(i.segments_out for i in infos),
                connections=len(infos),
                # The shortest round trip measured (a connection without a sample says 0).
                rtt=ms(min((i.rtt for i in infos if i.rtt > 0), default=-0.001) * 1000),
            )
        )
        sentences.append(
            ngettext(
                "The browser had to send {count} segment again.",
                "The browser had to send {count} segments again.",
                retransmissions,
            ).format(count=retransmissions)
        )
        end = finished.t if finished is not None else float("inf")
        if again := _sent_again_to(trace, events, events[0].t, end):
            sentences.append(
                ngettext(
                    "The server had to send {count} segment again.",
                    "The server had to send {count} segments again.",
                    again,
                ).format(count=again)
            )
    else:
        sentences.append(_("The kernel's packet counters (TCP_INFO) are not available here."))
    if retried := [e for e in events if isinstance(e, HttpRequestRetried)]:
        sentences.append(
            ngettext(
                "{count} request went out a second time, on a new connection: the "
                "server had closed the one it was sent on without answering.",
                "{count} requests went out a second time, on new connections: the "
                "server had closed the ones they were sent on without answering.",
                len(retried),
            ).format(count=len(retried))
        )
    paragraphs.append(
        Paragraph(_("Step 3 — Packets: the answer arrives in pieces"), " ".join(sentences))
    )

    # Step 4 — the page ---------------------------------------------------------------------
    sentences = []
    if first_done is not None and first_done.encoding:
        sentences.append(
            _(
                "The browser put the pieces back together and undid the {encoding} "
                "compression: {wire} bytes became {size}."
            ).format(encoding=first_done.encoding, wire=first_done.wire_size, size=first_done.size)
        )
    else:
        sentences.append(_("The browser put the pieces back together."))
    sub = [t for t in timings if t.kind != "document"]
    if sub:
        names = ", ".join(_short(t.url) for t in sub)
        connections = {t.connection for t in timings if t.connection is not None}
        reused = sum(1 for t in timings if t.reused)
        sentences.append(
            ngettext(
                "It parsed the HTML and found {count} more file it needs: {names}.",
                "It parsed the HTML and found {count} more files it needs: {names}.",
                len(sub),
            ).format(count=len(sub), names=names)
        )
        sentences.append(
            ngettext(
                "It fetched them over {connections} connection",
                "It fetched them over {connections} connections at once",
                len(connections),
            ).format(connections=len(connections))
            + ngettext(
                " ({reused} request reused a connection already open).",
                " ({reused} requests reused a connection already open).",
                reused,
            ).format(reused=reused)
        )
        failures = [t for t in sub if t.error or (t.status or 0) >= 400]
        if failures:
            sentences.append(
                ngettext(
                    "{count} file could not be loaded: {names}.",
                    "{count} files could not be loaded: {names}.",
                    len(failures),
                ).format(count=len(failures), names=", ".join(_short(t.url) for t in failures))
            )
    total_bytes = sum(t.wire_size for t in timings)
    if finished is not None and finished.title:
        sentences.append(
            ngettext(
                "Then it built the page “{title}”: {files} file, {bytes} bytes, in {ms}.",
                "Then it built the page “{title}”: {files} files, {bytes} bytes, in {ms}.",
                len(timings),
            ).format(
                title=finished.title,
                files=len(timings),
                bytes=total_bytes,
                ms=ms(_span(timings)),
            )
        )
    paragraphs.append(
        Paragraph(_("Step 4 — The page: reassembled, parsed and shown"), " ".join(sentences))
    )
    if finished is not None and finished.failed:
        paragraphs.append(_ending(finished, catalog.gettext))
    return paragraphs


def _resolver_story(  # type: ignore[no-untyped-def]
    trace: Trace, name: str, until: float, server_address: Address | None, events: list, catalog
) -> list[str]:
    """What the recursive resolver the browser asked did, if it ran in this trace."""
    _, ngettext = catalog.gettext, catalog.ngettext
    started = next(
        (e.t for e in events if isinstance(e, NameLookupStarted) and e.name == name
         and e.t <= until),
        None,
    )  # fmt: skip
    if started is None or server_address is None:
        return []
    fqdn = name.rstrip(".").lower() + "."
    answered = [
        e for e in trace.events
        if isinstance(e, ResolverAnswered) and started <= e.t <= until
        and e.question.split(" ")[0].lower() == fqdn
    ]  # fmt: skip
    if not answered:
        return []
    server = format_address(server_address)
    # One answer per question: a stub that asked again was answered by the same walk.
    by_question: dict[str, ResolverAnswered] = {}
    for event in answered:
        kept = by_question.get(event.question)
        if kept is None or (kept.from_cache and not event.from_cache):
            by_question[event.question] = event
    answered = list(by_question.values())
    if all(e.rcode == "REFUSED" for e in answered):
        return [
            _(
                "The DNS server at {server} is a recursive resolver, and it refused the question: "
                "{reason}."
            ).format(server=server, reason=answered[0].reason)
        ]
    if all(e.from_cache for e in answered):
        return [
            _(
                "The DNS server at {server} is a recursive resolver, and it already knew the "
                "answer from an earlier question: it answered from its cache at once, without "
                "asking any other server."
            ).format(server=server)
        ]
    steps = [
        e for e in trace.events
        if isinstance(e, ResolverStep) and started <= e.t <= until and e.question in by_question
    ]  # fmt: skip
    walked = [e for e in answered if not e.from_cache]
    first = next((e for e in walked if e.question.endswith(" A")), walked[0])
    took = _milliseconds((first.t - first.started) * 1000)
    if first.rcode == "SERVFAIL":
        sentences = [
            ngettext(
                "The DNS server at {server} is a recursive resolver: it did not know the "
                "answer and tried to find it by walking down the DNS tree, with {count} "
                "question to other servers in {ms}, but failed: {reason}.",
                "The DNS server at {server} is a recursive resolver: it did not know the "
                "answer and tried to find it by walking down the DNS tree, with {count} "
                "questions to other servers in {ms}, but failed: {reason}.",
                first.queries,
            ).format(server=server, count=first.queries, ms=took, reason=first.reason)
        ]
    else:
        sentences = [
            ngettext(
                "The DNS server at {server} is a recursive resolver: it did not know the "
                "answer, so it found it by walking down the DNS tree, with {count} question "
                "to other servers in {ms}.",
                "The DNS server at {server} is a recursive resolver: it did not know the "
                "answer, so it found it by walking down the DNS tree, with {count} questions "
                "to other servers in {ms}.",
                first.queries,
            ).format(server=server, count=first.queries, ms=took)
        ]
    told: list[str] = []
    mine = [step for step in steps if step.question == first.question and step.server]
    for _key, group in itertools.groupby(mine, key=lambda step: (step.server, step.outcome)):
        repeats = list(group)
        sentence = _step_sentence(repeats[0], catalog)
        if len(repeats) > 1:
            sentence += _(" ({count} times)").format(count=len(repeats))
        told.append(sentence)
    if told:
        sentences.append(_("First {steps}.").format(steps=_("; then ").join(told)))
    for other in answered:
        if other.question == first.question:
            continue
        qtype = other.question.split(" ")[-1]
        if other.from_cache:
            sentences.append(_("The {qtype} answer came from its cache.").format(qtype=qtype))
        else:
            sentences.append(
                ngettext(
                    "The {qtype} question took {count} question of its own.",
                    "The {qtype} question took {count} questions of its own.",
                    other.queries,
                ).format(qtype=qtype, count=other.queries)
            )
    if first.rcode in ("NOERROR", "NXDOMAIN"):
        sentences.append(
            _(
                "It remembers what it learnt — the servers of each zone and the answer — for "
                "their TTLs: the next question for this name, or for any name in the same "
                "zones, is answered sooner."
            )
        )
    return sentences


def _step_sentence(step: ResolverStep, catalog) -> str:  # type: ignore[no-untyped-def]
    _ = catalog.gettext
    if step.server is None:
        return ""
    server = step.server[0]
    role = (
        _("a root server")
        if step.zone == "."
        else _("a server of {zone}").format(zone=_zone_name(step.zone))
    )
    if step.outcome == "referral":
        child = _zone_name(step.detail.split(" ")[0])
        text = _("it asked {server}, {role}, which did not know but sent it on to the servers "
                 "of {child}")  # fmt: skip
        return text.format(server=server, role=role, child=child)
    if step.outcome == "answer":
        text = _("it asked {server}, {role}, which answered: {detail}")
        return text.format(server=server, role=role, detail=step.detail)
    if step.outcome == "cname":
        text = _("it asked {server}, {role}, which said the name is an alias: {detail}")
        return text.format(server=server, role=role, detail=step.detail)
    if step.outcome == "nxdomain":
        text = _("it asked {server}, {role}, which said the name does not exist")
        return text.format(server=server, role=role)
    if step.outcome == "nodata":
        text = _("it asked {server}, {role}, which said the name has no record of that type")
        return text.format(server=server, role=role)
    if step.outcome == "no answer":
        return _("it asked {server}, which did not answer").format(server=server)
    return _("it asked {server}, which gave no usable answer ({detail})").format(
        server=server, detail=step.detail
    )


def _zone_name(zone: str) -> str:
    """How a person writes a zone: ".test" for a top-level domain, "webtrip.test" below."""
    name = zone.rstrip(".")
    return "." + name if name and "." not in name else name or "."


def _ending(finished: PageLoadFinished | None, _) -> Paragraph:  # type: ignore[no-untyped-def]
    """Why the load failed: a sentence per kind of failure, then the details."""
    if finished is None or not finished.failed:
        return Paragraph(_("What went wrong"), "")
    explanations = {
        "nxdomain": _("The DNS says this name does not exist (NXDOMAIN): check its spelling."),
        "no-address": _("The name exists, but the DNS has no IPv4 or IPv6 address for it."),
        "dns-failure": _("The DNS server could not be asked, or could not answer."),
        "connection-refused": _(
            "The server's computer answered, but no program accepts connections on that port."
        ),
        "timeout": _("Something took too long: the network or the server did not answer in time."),
        "tls-failure": _("The secure connection (TLS) could not be set up safely."),
        "protocol-failure": _("The server's answer did not follow the HTTP rules, or was too big."),
        "http-error": _("The server answered, but with an error status instead of the page."),
        "too-many-redirects": _(
            "The server kept sending the browser elsewhere (too many redirects)."
        ),
        "connection-failed": _("The connection to the server failed."),
        "unreachable": _(
            "A router on the way answered that the server's address cannot be reached "
            "(an ICMP message): there is no route to it."
        ),
        "bad-url": _("The address is not a valid web address."),
    }
    text = explanations.get(finished.failed, _("The page could not be loaded."))
    return Paragraph(_("What went wrong"), f"{text} ({finished.message})")


def _lookup_failure(kind: str, _) -> str:  # type: ignore[no-untyped-def]
    """A failed lookup's kind, in the narration's language."""
    return {
        "nxdomain": _("the name does not exist (NXDOMAIN)"),
        "no-address": _("the name has no address"),
        "dns-failure": _("the DNS server did not answer, or could not"),
    }.get(kind, _("the DNS could not be asked"))


def _connect_failure(kind: str, _) -> str:  # type: ignore[no-untyped-def]
    """A failed connection attempt's kind (TcpConnectFailed), in the narration's language."""
    return {
        "refused": _("the connection was refused: no program listens on that port"),
        "timeout": _("no answer"),
        "unreachable": _("a router answered that it cannot be reached (ICMP)"),
    }.get(kind, _("the connection failed"))


def _short(url: str) -> str:
    parts = url.split("/", 3)
    return "/" + parts[3] if len(parts) > 3 else url


def _span(timings: list[RequestTiming]) -> float:
    start = min(t.started for t in timings)
    end = max(t.started + max(t.total, 0) / 1000 for t in timings)
    return (end - start) * 1000


def _milliseconds(value: float) -> str:
    if value < 0:
        return "–"
    if value < 10:
        return f"{value:.2f} ms"
    return f"{value:.0f} ms"
