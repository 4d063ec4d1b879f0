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
from collections.abc import Callable
from dataclasses import dataclass
from gettext import GNUTranslations, NullTranslations

from webtrip.browser import failure_sentence
from webtrip.i18n import milliseconds, number, seconds, translation
from webtrip.net import format_address
from webtrip.outcomes import failure
from webtrip.packets.dissect import dissect
from webtrip.report.facts import (
    Lookup,
    PageLoadFacts,
    ResolverWalk,
    packet_kind,
    page_load_facts,
)
from webtrip.report.reload import load_parts, reload_comparison
from webtrip.report.timings import RequestTiming
from webtrip.trace import FaultOutcome, NameLookupFailed, PageLoadFinished, ResolverStep, Trace

_Row = tuple[float, str, int, int, tuple[str, ...]]
"""A TCP packet at the browser: time, "in"/"out", sequence number, payload size, flags."""


@dataclass(frozen=True, slots=True)
class Paragraph:
    """One step of the story: a heading and its sentences.

    ``text`` is the sentences joined; ``sentences`` the same sentences one by one, each
    with the moment of the run it tells (seconds from the trace's start): the time of
    the fact it is about, never before the sentence before it, so that a replay can
    highlight the sentence of the moment and jump to the moment of a sentence. Every
    language anchors the same sentences to the same moments.
    """

    heading: str
    text: str
    sentences: tuple[tuple[str, float], ...] = ()


class _Said(str):
    """A sentence that knows the moment it tells (``t``, seconds from the run's start)."""

    t: float


def _at(t: float | None, sentence: str) -> str:
    """``sentence`` anchored at ``t`` (None: the moment of the sentence before it)."""
    if t is None:
        return sentence
    said = _Said(sentence)
    said.t = t
    return said


def _paragraph(heading: str, sentences: list[str], start: float) -> Paragraph:
    """A paragraph of ``sentences``, each anchored where :func:`_at` put it, or at the
    moment of the one before it (the first: ``start``); never earlier than that."""
    anchored = []
    last = start
    for sentence in sentences:
        last = max(last, getattr(sentence, "t", last))
        anchored.append((str(sentence), last))
    return Paragraph(heading, " ".join(str(s) for s in sentences), tuple(anchored))


def _anchored(paragraphs: list[Paragraph], start: float) -> list[Paragraph]:
    """``paragraphs`` with every sentence anchored, in order through the run: a paragraph
    without anchors (a heading's, a comparison's) is one sentence at the last moment."""
    done = []
    last = start
    for paragraph in paragraphs:
        if not paragraph.sentences:
            sentences = ((paragraph.text, last),) if paragraph.text else ()
            done.append(Paragraph(paragraph.heading, paragraph.text, sentences))
            continue
        moved = tuple((text, max(t, last)) for text, t in paragraph.sentences)
        last = moved[-1][1]
        done.append(Paragraph(paragraph.heading, paragraph.text, moved))
    return done


class _Words:
    """The narration's language: gettext's ``_`` and ``ngettext``, and its code."""

    def __init__(self, language: str) -> None:
        catalog: GNUTranslations | NullTranslations = translation(language)
        self.language = language
        self._: Callable[[str], str] = catalog.gettext
        self.ngettext: Callable[[str, str, int], str] = catalog.ngettext

    def ms(self, value: float) -> str:
        """A duration in milliseconds, as the language writes it ("–" if unknown)."""
        return milliseconds(value, self.language)

    def duration(self, ms: float) -> str:
        """Milliseconds below a second, seconds from one on ("420 ms", "2 s")."""
        return self.ms(ms) if ms < 1000 else self.s(ms / 1000)

    def s(self, value: float) -> str:
        return seconds(value, self.language)

    def n(self, value: float, decimals: int = 0) -> str:
        return number(value, self.language, decimals)


def narrate(trace: Trace, language: str = "en", actor: str = "browser") -> list[Paragraph]:
    """The story of the page load in ``trace``, in ``language``: a paragraph per step.

    A trace of several loads (``--reload``) tells each on its own, under its own
    heading, and after each later load what the caches saved compared with the first.
    """
    parts = load_parts(trace, actor)
    start = trace.events[0].t if trace.events else 0.0
    if len(parts) == 1:
        return narrate_load(trace, language, actor)
    _ = _Words(language)._
    paragraphs: list[Paragraph] = []
    for index, part in enumerate(parts, 1):
        if index == 1:
            heading = _("Load 1: the page, the first time")
        else:
            heading = _("Load {number}: the same page again, reloaded in the same browser")
        paragraphs.append(Paragraph(heading.format(number=index), ""))
        paragraphs.extend(narrate_load(part, language, actor))
        if index > 1:
            paragraphs.append(Paragraph(*reload_comparison(parts[0], part, language)))
    return _anchored(paragraphs, start)


def narrate_load(trace: Trace, language: str = "en", actor: str = "browser") -> list[Paragraph]:
    """The story of the one page load in ``trace``: a paragraph per step."""
    facts = page_load_facts(trace, actor)
    words = _Words(language)
    if facts.first is None:
        return []
    start = trace.events[0].t if trace.events else 0.0
    paragraphs = [_step1_dns(facts, words)]
    if not any(lookup.resolved for lookup in facts.lookups):
        return _anchored([*paragraphs, _ending(facts.finished, words)], start)
    paragraphs.append(_step2_connection(facts, facts.first, words))
    if facts.head(facts.first.request) is None:
        return _anchored([*paragraphs, _ending(facts.finished, words)], start)
    paragraphs.append(_step3_packets(facts, facts.first, words))
    paragraphs.append(_step4_page(facts, words))
    if facts.finished is not None and facts.finished.failed:
        paragraphs.append(_ending(facts.finished, words))
    return _anchored(paragraphs, start)


def _step1_dns(facts: PageLoadFacts, words: _Words) -> Paragraph:
    """Step 1: each name the browser looked up — where it asked, what came back, and what
    the recursive resolver behind it did."""
    _ = words._
    sentences: list[str] = [*_link_story(facts, words), *_fault_notes(facts, words)]
    ended = sorted((lookup for lookup in facts.lookups if lookup.outcome is not None),
                   key=lambda lookup: lookup.outcome.t if lookup.outcome else 0)  # fmt: skip
    resolved = [lookup for lookup in ended if lookup.resolved is not None]
    failed = [lookup for lookup in ended if lookup.failed is not None]
    for lookup in resolved:
        told = _resolved(facts, lookup, words)
        sentences.extend([_at(lookup.ended, told[0]), *told[1:]] if told else [])
    for lookup in failed:
        assert lookup.failed is not None
        # The error's own words are English; in another language, what kind of failure.
        told = _failed_lookup(lookup, words)
        sentences.extend([_at(lookup.ended, told[0]), *told[1:]] if told else [])
    if not resolved and not failed:
        sentences.append(_("The browser was still waiting for the DNS answer when time ran out."))
    begun = min((lookup.started for lookup in facts.lookups if lookup.started is not None),
                default=0.0)  # fmt: skip
    return _paragraph(_("Step 1 — DNS: the name's address"), sentences, begun)


def _resolved(facts: PageLoadFacts, lookup: Lookup, words: _Words) -> list[str]:
    """The sentences of a lookup that found the name's addresses."""
    _, ngettext = words._, words.ngettext
    name = lookup.resolved
    assert name is not None
    addresses = ", ".join(name.addresses)
    if name.source == "literal":
        text = _("{name} is already an IP address, so no DNS lookup was needed.")
        return [text.format(name=name.name)]
    if name.source == "hosts":
        text = _("{name} is listed in /etc/hosts, so the browser asked no DNS server: {addresses}.")
        return [text.format(name=name.name, addresses=addresses)]
    server = format_address(name.server) if name.server else "?"
    questions = lookup.questions
    sentences = [
        ngettext(
            "The browser asked the DNS server at {server} for the address of {name}: "
            "{count} question (a UDP datagram of {size} bytes).",
            "The browser asked the DNS server at {server} for the address of {name}: "
            "{count} questions at once, A for IPv4 and AAAA for IPv6 "
            "(UDP datagrams of {size} bytes), each from a new random port with a "
            "random ID.",
            len(questions),
        ).format(
            server=server,
            name=name.name,
            count=len(questions),
            size="/".join(str(s) for s in sorted({e.size for e in lookup.queries})),
        )
    ]
    if lookup.started is not None and lookup.ended is not None:
        sentences.extend(_dns_losses(facts, lookup.started, lookup.ended, words))
    if again := lookup.retries:
        sentences.append(
            ngettext(
                "It had to ask {count} more time: an answer had not come back in time.",
                "It had to ask {count} more times: answers had not come back in time.",
                again,
            ).format(count=again)
        )
    timing = next((t for t in facts.timings if t.request == name.request and t.dns >= 0), None)
    sentences.append(
        _("The answers ({size} bytes) came back in {ms}: {addresses}.").format(
            size="/".join(str(s) for s in sorted({e.size for e in lookup.answers})),
            ms=words.ms(timing.dns if timing else -1),
            addresses=addresses,
        )
    )
    sentences.extend(_resolver_story(lookup.resolver, words))
    if name.chain:
        text = _("{name} is an alias (CNAME) of {canonical}.")
        sentences.append(text.format(name=name.name, canonical=name.canonical))
    if name.ttl is not None:
        text = _("The answer may be remembered for {ttl} seconds (its TTL).")
        sentences.append(text.format(ttl=name.ttl))
    return sentences


def _failed_lookup(lookup: Lookup, words: _Words) -> list[str]:
    """A lookup that failed: who gave up, after how many tries of how long, and — if the
    resolver found the answer after all — why it came too late."""
    _, ngettext = words._, words.ngettext
    failed = lookup.failed
    assert failed is not None
    questions = max(len(lookup.questions), 1)
    tries = len(lookup.queries) // questions
    walk = lookup.resolver
    found = walk is not None and not walk.refused and walk.first_walked.rcode == "NOERROR"
    if failed.kind != "dns-failure" or not tries or lookup.answers or lookup.started is None:
        kind = failed.kind
        why = _failure_message(failed, words) or (
            failed.message if words.language == "en" else _lookup_failure(kind, _)
        )
        return [_("The lookup failed: {message}.").format(message=why),
                *_resolver_story(walk, words)]  # fmt: skip
    waited = failed.t - lookup.started
    server = format_address(lookup.server) if lookup.server else "?"
    sentences = [
        ngettext(
            "The browser asked the DNS server at {server} for the address of {name} and "
            "waited {each} for an answer; none came, so after {total} its stub resolver "
            "gave up.",
            "The browser asked the DNS server at {server} for the address of {name} {tries} "
            "times, waiting {each} for an answer each time; none came, so after {total} its "
            "stub resolver gave up.",
            tries,
        ).format(
            server=server,
            name=lookup.name,
            tries=tries,
            each=words.s(waited / tries),
            total=words.s(waited),
        )
    ]
    if found and walk is not None:
        first = walk.first_walked
        sentences.append(
            _(
                "Yet the resolver did find the answer: the first question reached it "
                "{arrived} after the browser sent it, it walked down the DNS tree in {walk}, "
                "and sent its answer back — but that answer had not reached the browser "
                "when it stopped waiting."
            ).format(
                arrived=words.s(first.started - lookup.started),
                walk=words.ms((first.t - first.started) * 1000),
            )
        )
        sentences.extend(_resolver_story(walk, words))
    return sentences


def _link_story(facts: PageLoadFacts, words: _Words) -> list[str]:
    """The browser's link as the run set it (a simulated run only): the round trip its
    delay makes, its speed and its losses."""
    link = facts.conditions
    if link is None:
        return []
    _ = words._
    sentences = [
        _(
            "In this simulated network the browser's link delays every packet by {latency} "
            "each way, so a question and its answer (a round trip) take at least {rtt}."
        ).format(latency=words.ms(link.latency * 1000), rtt=words.ms(link.latency * 2000))
    ]
    if link.bandwidth is not None:
        sentences.append(
            _(
                "It carries {rate}: a full packet of {mtu} bytes takes {wire} to put on the wire."
            ).format(
                rate=_rate(link.bandwidth, words),
                mtu=words.n(link.mtu),
                wire=words.ms(link.mtu * 8 / link.bandwidth * 1000),
            )
        )
    if link.loss:
        sentences.append(
            _("It loses {share} % of the packets at random.").format(
                share=words.n(link.loss * 100, 0 if (link.loss * 100).is_integer() else 1)
            )
        )
    return sentences


def _fault_notes(facts: PageLoadFacts, words: _Words) -> list[str]:
    notes = [fault_note(o, words.language) for o in facts.fault_outcomes if not o.fired]
    return notes + [_delay_note(o, words) for o in facts.fault_outcomes
                    if o.fired and o.action == "delay"]  # fmt: skip


def _delay_note(outcome: FaultOutcome, words: _Words) -> str:
    """A ``--delay`` that held a packet back: which one, and for how long."""
    _ = words._
    name = outcome.text.split("#")[0].split("=")[0].strip().lower()
    nouns = {
        "syn": _("the browser's SYN"),
        "synack": _("the server's SYN-ACK"),
        "fin": _("a FIN"),
        "rst": _("an RST"),
        "dns": _("a DNS message"),
        "dns-query": _("a DNS question"),
        "dns-response": _("a DNS answer"),
        "udp": _("a UDP datagram"),
    }
    noun = nouns.get(name, _("a matching packet"))
    if outcome.nth > 1:
        text = _("--{action} {option} held back {packet} (number {nth} of the {count} that "
                 "matched) for {time} on the browser's link.")  # fmt: skip
    else:
        text = _(
            "--{action} {option} held back {packet} (the first that matched) for {time} "
            "on the browser's link."
        )
    return text.format(action=outcome.action, option=outcome.text, packet=noun,
                       nth=words.n(outcome.nth), count=words.n(outcome.matched),
                       time=words.duration(outcome.extra * 1000))  # fmt: skip


def fault_note(outcome: FaultOutcome, language: str) -> str:
    """The sentence for a ``--drop``/``--delay`` that matched no packet, in ``language``:
    how many packets it could have acted on, so the learner sees why."""
    words = _Words(language)
    _, ngettext = words._, words.ngettext
    option = f"--{outcome.action} {outcome.text}"
    name = outcome.text.split("#")[0].split("=")[0].strip().lower()
    matched = outcome.matched
    nouns = {
        "syn": ngettext("SYN", "SYNs", matched),
        "synack": ngettext("SYN-ACK", "SYN-ACKs", matched),
        "fin": ngettext("FIN", "FINs", matched),
        "rst": ngettext("RST", "RSTs", matched),
        "dns": ngettext("DNS message", "DNS messages", matched),
        "dns-query": ngettext("DNS question", "DNS questions", matched),
        "dns-response": ngettext("DNS answer", "DNS answers", matched),
        "udp": ngettext("UDP datagram", "UDP datagrams", matched),
    }
    noun = nouns.get(name, ngettext("matching packet", "matching packets", matched))
    if outcome.action == "drop":
        text = _("{option} matched no packet: the run had {count} {noun}, so nothing was "
                 "dropped.")  # fmt: skip
    else:
        text = _("{option} matched no packet: the run had {count} {noun}, so nothing was "
                 "held back.")  # fmt: skip
    return text.format(option=option, count=words.n(matched), noun=noun)


def _dns_losses(facts: PageLoadFacts, start: float, end: float, words: _Words) -> list[str]:
    """The browser's DNS questions and answers lost on its link during a lookup."""
    ngettext = words.ngettext
    window = [e for e in facts.drops if start <= e.t <= end]
    questions = sum(1 for e in window if packet_kind(e.data) == "dns-query")
    answers = sum(1 for e in window if packet_kind(e.data) == "dns-response")
    sentences = []
    if questions:
        sentences.append(
            ngettext(
                "{count} of its questions was lost on the browser's link.",
                "{count} of its questions were lost on the browser's link.",
                questions,
            ).format(count=words.n(questions))
        )
    if answers:
        sentences.append(
            ngettext(
                "{count} answer was lost on the browser's link on its way back.",
                "{count} answers were lost on the browser's link on their way back.",
                answers,
            ).format(count=words.n(answers))
        )
    return sentences


def _other_handshakes(facts: PageLoadFacts, first: int | None, words: _Words) -> list[str]:
    """The page's other connections whose handshake lost a SYN or SYN-ACK, and the wait."""
    ngettext = words.ngettext
    waits = []
    for connection in facts.connections:
        if connection == first:
            continue
        rows = facts.browser_packets(connection)
        syns = [r[0] for r in rows if r[1] == "out" and r[4] == ("SYN",)]
        if len(syns) > 1:
            waits.append(syns[-1] - syns[0])
    if not waits:
        return []
    return [
        ngettext(
            "On {count} other connection a SYN or its SYN-ACK was lost: the browser waited "
            "{wait} before sending its SYN again, and that file came that much later.",
            "On {count} other connections a SYN or its SYN-ACK was lost: each waited its "
            "retransmission timeout ({wait} the longest) before sending its SYN again, and "
            "those files came that much later.",
            len(waits),
        ).format(count=words.n(len(waits)), wait=words.s(max(waits)))
    ]


def _step2_connection(facts: PageLoadFacts, first: RequestTiming, words: _Words) -> Paragraph:
    """Step 2: the connection the page's request went over, and the request."""
    _ = words._
    sentences = []
    first_sent = facts.sent(first.request)
    for attempt in facts.connections.values():
        failure = attempt.failed
        if failure is not None and failure.t <= (first_sent.t if first_sent else failure.t):
            kind = failure.kind
            message = failure.message if words.language == "en" else _connect_failure(kind, _)
            text = _("First it tried {address}: {message}.")
            sentences.append(_at(failure.t, text.format(address=format_address(failure.peer),
                                                        message=message)))  # fmt: skip
    if first_sent is not None and first.connection is not None:
        connection = facts.connections.get(first.connection)
        opened = connection.opened if connection is not None else None
        address = format_address(opened.peer) if opened else "?"
        losses = _handshake_losses(facts, first.connection, words)
        if losses:  # they say how long it took, and why
            text = _("The browser opened a TCP connection to {address} with the three-way "
                     "handshake (SYN, SYN-ACK, ACK).")  # fmt: skip
            sentences.append(_at(opened.t if opened else None, text.format(address=address)))
        else:
            sentences.append(
                _at(
                    opened.t if opened else None,
                    _(
                        "The browser opened a TCP connection to {address} — the three-way "
                        "handshake (SYN, SYN-ACK, ACK) took {ms}."
                    ).format(
                        address=address,
                        ms=words.ms(
                            first.connect - max(first.ssl, 0) if first.connect >= 0 else -1
                        ),
                    ),
                )
            )
        sentences.extend(_address_choice(facts, first.request, opened.peer[0] if opened else "",
                                         words))  # fmt: skip
        sentences.extend(losses)
        held = [o for o in facts.fault_outcomes if o.fired and o.action == "delay" and o.nth == 1
                and o.text.split("=")[0].strip().lower() in ("syn", "synack")]  # fmt: skip
        if held and not losses and facts.connections and min(facts.connections) == first.connection:
            text = _("{time} of it was the --delay holding a packet of the handshake back.")
            sentences.append(text.format(time=words.duration(held[0].extra * 1000)))
        sentences.extend(_other_handshakes(facts, first.connection, words))
        handshake = connection.tls if connection is not None else None
        if handshake is not None:
            sentences.append(
                _(
                    "Then it set up TLS ({version}, {cipher}) in {ms}: the server proved it "
                    "is {subject}, vouched for by {issuer}, valid until {until}."
                ).format(
                    version=handshake.version,
                    cipher=handshake.cipher,
                    ms=words.ms(first.ssl),
                    subject=handshake.subject or "?",
                    issuer=handshake.issuer or "?",
                    until=handshake.not_after or "?",
                )
            )
        path = first.url.split("/", 3)[3] if first.url.count("/") >= 3 else ""
        sentences.append(
            _at(
                first_sent.t,
                _("Over it, it sent an HTTP/1.1 request of {size} bytes: GET /{path}").format(
                    size=first_sent.size, path=path
                )
                + ".",
            )
        )
    if first_sent is None and not any(c.failed for c in facts.connections.values()):
        sentences.append(_("No connection was made before the load ended."))
    return _paragraph(
        _("Step 2 — TCP/IP and HTTP: the connection and the request"), sentences, first.started
    )


def _address_choice(facts: PageLoadFacts, request: int, used: str, words: _Words) -> list[str]:
    """Why the connection went to that address, when the name has more than one."""
    _ = words._
    resolved = next(
        (
            lk.resolved
            for lk in facts.lookups
            if lk.resolved is not None and lk.resolved.request == request
        ),
        None,
    )
    if resolved is None or len(resolved.addresses) < 2 or used not in resolved.addresses:
        return []
    first = resolved.addresses[0]
    if used == first and ":" in first and any(":" not in a for a in resolved.addresses):
        return [
            _(
                "The name has an IPv6 and an IPv4 address; the browser tries them in order, "
                "IPv6 first as browsers prefer (RFC 6724, RFC 8305), and {address} answered, "
                "so it used that one."
            ).format(address=used)
        ]
    if used != first:
        return [
            _(
                "It tried the name's addresses in order, and {address} was the one that answered."
            ).format(address=used)
        ]
    return []


def _handshake_losses(facts: PageLoadFacts, connection: int | None, words: _Words) -> list[str]:
    """A SYN or SYN-ACK of ``connection`` lost on the link: what the browser did about it."""
    if connection is None:
        return []
    _, ngettext = words._, words.ngettext
    packets = facts.browser_packets(connection)
    syns = [row[0] for row in packets if row[1] == "out" and row[4] == ("SYN",)]
    if len(syns) < 2:
        return []
    lost = {packet_kind(e.data) for e in facts.drops if syns[0] <= e.t < syns[-1]}
    synack = next((row[0] for row in packets if row[1] == "in" and "SYN" in row[4]), syns[-1])
    sentences = []
    if "synack" in lost:
        sentences.append(_("The server's SYN-ACK was lost on the browser's link: the browser "
                           "heard nothing back."))  # fmt: skip
    elif "syn" in lost:
        sentences.append(_("The browser's SYN was lost on its link: the server never heard "
                           "it."))  # fmt: skip
    sentences.append(
        ngettext(
            "The browser waited its retransmission timeout ({rto}) and sent its SYN again; "
            "so the handshake took {took} instead of {rtt}.",
            "The browser sent its SYN again {count} times, each after waiting its "
            "retransmission timeout ({rto} the first time, then twice as long); so the "
            "handshake took {took} instead of {rtt}.",
            len(syns) - 1,
        ).format(
            count=len(syns) - 1,
            rto=words.s(syns[1] - syns[0]),
            took=words.ms((synack - syns[0]) * 1000),
            rtt=words.ms((synack - syns[-1]) * 1000),
        )
    )
    return sentences


def _step3_packets(facts: PageLoadFacts, first: RequestTiming, words: _Words) -> Paragraph:
    """Step 3: the answer — its status, the pieces it came in, and what TCP saw."""
    _, ngettext = words._, words.ngettext
    sentences = []
    head, done = facts.head(first.request), facts.done(first.request)
    if head is not None:
        sentences.append(
            _at(
                head.t,
                _("The server answered {status} {reason} after {ms} (time to first byte).").format(
                    status=head.status, reason=head.reason, ms=words.ms(first.wait)
                ),
            )
        )
    hops = [t for t in facts.timings if t.kind == "document"]
    for hop, following in itertools.pairwise(hops):
        sentences.append(
            _("It was sent elsewhere ({status}): the browser followed to {url}.").format(
                status=hop.status, url=following.url
            )
        )
    if first.cache == "revalidated":
        sentences.append(
            _(
                "The page had not changed since the browser kept it: the answer was headers "
                "only, and the browser used the copy in its HTTP cache."
            )
        )
    elif pieces := _pieces(facts, words):
        sentences.extend(pieces)
        sentences.extend(_path_mtu(facts, words))
    elif done is not None:
        reads = facts.reads(first.connection, done.t)
        sentences.append(
            ngettext(
                "The page's {size} bytes arrived in {reads} piece.",
                "The page's {size} bytes arrived in {reads} pieces: the browser read them "
                "as they came.",
                reads,
            ).format(size=words.n(done.wire_size), reads=words.n(reads))
        )
        sentences.extend(_real_pieces(facts, words))
    if infos := facts.tcp_infos:
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
                rtt=words.ms(min((i.rtt for i in infos if i.rtt > 0), default=-0.001) * 1000),
            )
        )
        again = facts.server_resends
        if retransmissions and again:
            sentences.append(
                ngettext(
                    "TCP sent {count} segment again: {browser} from the browser and {server} "
                    "from the server.",
                    "TCP sent {count} segments again: {browser} from the browser and {server} "
                    "from the server.",
                    retransmissions + again,
                ).format(
                    count=words.n(retransmissions + again),
                    browser=words.n(retransmissions),
                    server=words.n(again),
                )
            )
        elif retransmissions:
            sentences.append(
                ngettext(
                    "The browser had to send {count} segment again.",
                    "The browser had to send {count} segments again.",
                    retransmissions,
                ).format(count=retransmissions)
            )
        elif again:
            sentences.append(_("The browser did not have to send any segment again."))
            sentences.append(
                ngettext(
                    "The server had to send {count} segment again.",
                    "The server had to send {count} segments again.",
                    again,
                ).format(count=again)
            )
        else:
            sentences.append(_("The browser did not have to send any segment again."))
        if retransmissions or again:
            sentences.extend(_why_resent(facts, words))
            sentences.extend(_segment_losses(facts, words))
            sentences.extend(_resent_not_lost(facts, again, words))
        if facts.conditions is None and (loopback := _loopback_story(facts, words)):
            sentences.append(loopback)
    else:
        sentences.append(_("The kernel's packet counters (TCP_INFO) are not available here."))
    if retried := facts.retried:
        sentences.append(
            ngettext(
                "{count} request went out a second time, on a new connection: the "
                "server had closed the one it was sent on without answering.",
                "{count} requests went out a second time, on new connections: the "
                "server had closed the ones they were sent on without answering.",
                len(retried),
            ).format(count=len(retried))
        )
    if done is not None and len(sentences) > 1:  # the pieces, TCP's counters: all in by then
        sentences[1] = _at(done.t, sentences[1])
    return _paragraph(_("Step 3 — Packets: the answer arrives in pieces"), sentences,
                      head.t if head is not None else first.started)  # fmt: skip


def _resent_not_lost(facts: PageLoadFacts, again: int, words: _Words) -> list[str]:
    """When the server sent again more segments than the link lost on their way to the
    browser: the others had arrived, or were still on the way (a simulated run)."""
    if facts.conditions is None:
        return []
    end = facts.finished.t if facts.finished is not None else float("inf")
    servers = {c.opened.peer[0] for c in facts.connections.values() if c.opened is not None}
    lost = 0  # the servers' segments lost on their way to the browser, each time
    for drop in facts.drops:
        if drop.t <= end and packet_kind(drop.data) in ("data", "synack"):
            lost += dissect(drop.data).ip.source in servers
    extra = again - lost
    if extra <= 0:
        return []
    delayed = any(o.action == "delay" and o.fired for o in facts.fault_outcomes)
    if not facts.drops and not delayed:
        # Nothing was lost or held back: only duplicate ACKs can have set these off.
        return [
            words.ngettext(
                "None of them had been lost: segments that arrived out of order or twice made "
                "the browser send duplicate ACKs, and the server took them for a loss (a "
                "spurious retransmission).",
                "None of them had been lost: segments that arrived out of order or twice made "
                "the browser send duplicate ACKs, and the server took them for losses "
                "(spurious retransmissions).",
                extra,
            )
        ]
    # Said only when the server's timer fired: that is when TCP sends again everything
    # not yet acknowledged (otherwise a resend has other causes).
    timer = any(loss.to_browser and not loss.by_ack for loss in facts.segment_losses)
    if not timer:
        return []
    return [
        words.ngettext(
            "{count} of the server's resends was of a segment that had not been lost: the "
            "browser's ACKs only say how far everything has arrived in order, so after a gap "
            "the server cannot tell what came after it, and when its timer fired it sent all "
            "of that again.",
            "{count} of the server's resends were of segments that had not been lost: the "
            "browser's ACKs only say how far everything has arrived in order, so after a gap "
            "the server cannot tell what came after it, and when its timer fired it sent all "
            "of that again.",
            extra,
        ).format(count=words.n(extra))
    ]


def _why_resent(facts: PageLoadFacts, words: _Words) -> list[str]:
    """What was lost on the browser's link that TCP had to send again (a simulated run)."""
    end = facts.finished.t if facts.finished is not None else float("inf")
    kinds = [packet_kind(e.data) for e in facts.drops if e.t <= end]
    ngettext = words.ngettext
    what = []
    if count := kinds.count("syn"):
        what.append(ngettext("{count} SYN", "{count} SYNs", count).format(count=words.n(count)))
    if count := kinds.count("synack"):
        what.append(
            ngettext("{count} SYN-ACK", "{count} SYN-ACKs", count).format(count=words.n(count))
        )
    if count := kinds.count("data"):
        what.append(
            ngettext("{count} data segment", "{count} data segments", count).format(
                count=words.n(count)
            )
        )
    if not what:
        return []
    return [words._("What was lost on the browser's link: {what}.").format(what=", ".join(what))]


def _largest(facts: PageLoadFacts) -> RequestTiming | None:
    """The page's largest file that arrived (the first one, if several are as large)."""
    arrived = [t for t in facts.timings if t.cache is None and facts.done(t.request) is not None]
    return max(arrived, key=lambda t: t.wire_size, default=None)


def _arrivals(facts: PageLoadFacts, timing: RequestTiming) -> list[_Row]:
    """The data segments of ``timing``'s answer as they reached the browser's node, copies
    included (a simulated run; empty on real sockets)."""
    if timing.connection is None:
        return []
    sent, done = facts.sent(timing.request), facts.done(timing.request)
    if sent is None or done is None:
        return []
    return [row for row in facts.browser_packets(timing.connection)
            if row[1] == "in" and row[3] > 0 and sent.t <= row[0] <= done.t]  # fmt: skip


def _flights(facts: PageLoadFacts, timing: RequestTiming) -> list[int]:
    """How many segments of ``timing``'s answer came in each burst, when they came in
    bursts a round trip apart — the server waiting for the browser's ACKs before sending
    more (slow start) — and nothing was lost, copied or reordered; else empty."""
    link = facts.conditions
    arrived = _arrivals(facts, timing)
    if link is None or len(arrived) < 2 or timing.connection is None:
        return []
    if _lost_sequences(facts, timing.connection):
        return []
    sequences = [row[2] for row in arrived]
    if len(set(sequences)) < len(sequences) or sequences != sorted(sequences):
        return []
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(arrived)]
    spacing = sorted(gaps)[len(gaps) // 2]  # a packet's time on the wire
    flights = [1]
    for gap in gaps:
        if gap > link.latency and gap > 3 * spacing:  # a wait for ACKs, not the wire
            flights.append(1)
        else:
            flights[-1] += 1
    return flights if len(flights) > 1 else []


def _page_pieces(facts: PageLoadFacts, first: RequestTiming, largest: RequestTiming | None,
                 words: _Words) -> list[str]:  # fmt: skip
    """How the page itself came, when step 3 goes on to tell a larger file's pieces."""
    if largest is None or largest.request == first.request:
        return []
    arrived = _arrivals(facts, first)
    if not arrived:
        return []
    count = len({row[2] for row in arrived})
    return [
        words.ngettext(
            "The page itself, / ({size} bytes and its headers), came in {count} TCP segment.",
            "The page itself, / ({size} bytes and its headers), came in {count} TCP segments.",
            count,
        ).format(size=words.n(first.wire_size), count=words.n(count))
    ]


def _pieces(facts: PageLoadFacts, words: _Words) -> list[str]:
    """How the page and its largest file travelled on a simulated run: the segments
    they came in, their size and why (the MSS from the MTU), the bursts slow start made,
    the time they took on the wire, arrivals out of order or twice, and the lost ones
    TCP sent again."""
    link = facts.conditions
    timing = _largest(facts)
    if link is None or timing is None or timing.connection is None or facts.first is None:
        return []
    arrived = _arrivals(facts, timing)
    if not arrived:
        return []
    _, ngettext = words._, words.ngettext
    sizes = [row[3] for row in arrived]
    seen: set[int] = set()
    resent = _lost_sequences(facts, timing.connection)  # they come late, sent again
    highest, twice, out_of_order = -1, 0, 0
    for _t, _direction, sequence, size, _flags in arrived:
        if sequence in seen:
            twice += 1
        elif sequence < highest and sequence not in resent:
            out_of_order += 1
        seen.add(sequence)
        highest = max(highest, sequence + size)
    pieces = len(seen)
    name, count, largest = _short(timing.url), words.n(pieces), words.n(max(sizes))
    mss = link.mtu - 40
    sentences = _page_pieces(facts, facts.first, timing, words)
    if pieces == 1:
        sentences.append(
            _(
                "The largest file, {name} ({size} bytes and its headers), came in 1 TCP segment "
                "of {largest} bytes."
            ).format(name=name, size=words.n(timing.wire_size), largest=largest)
        )
    elif max(sizes) == mss:
        text = _(
            "The largest file, {name} ({size} bytes and its headers), came in {count} TCP "
            "segments of up to {largest} bytes (the MSS: the link's MTU of {mtu} bytes less "
            "40 bytes of IPv4 and TCP headers)."
        )
        sentences.append(text.format(name=name, size=words.n(timing.wire_size), count=count,
                                     largest=largest, mtu=words.n(link.mtu)))  # fmt: skip
    else:
        text = _(
            "The largest file, {name} ({size} bytes and its headers), came in {count} TCP "
            "segments of up to {largest} bytes."
        )
        sentences.append(text.format(name=name, size=words.n(timing.wire_size), count=count,
                                     largest=largest))  # fmt: skip
    if flights := _flights(facts, timing):
        sentences.append(
            _(
                "They came in {count} bursts, one round trip apart ({sizes} segments): the "
                "server sends a few segments, then waits for the browser's ACKs before it "
                "sends more, and more each time (TCP's slow start)."
            ).format(
                count=words.n(len(flights)),
                sizes=_listed([words.n(flight) for flight in flights], words),
            )
        )
    sentences.extend(_wire_time(facts, timing, [size + 40 for size in sizes], words))
    if lost := resent & seen:
        sentences.append(
            ngettext(
                "{count} of them was lost on the way: it came only when the server sent it again.",
                "{count} of them were lost on the way: they came only when the server sent "
                "them again.",
                len(lost),
            ).format(count=words.n(len(lost)))
        )
    if out_of_order:
        sentences.append(
            ngettext(
                "{count} segment arrived after one that came later in the file.",
                "{count} segments arrived after ones that came later in the file.",
                out_of_order,
            ).format(count=words.n(out_of_order))
        )
    if twice:
        sentences.append(
            ngettext(
                "{count} segment arrived twice; TCP kept one copy.",
                "{count} segments arrived twice; TCP kept one copy of each.",
                twice,
            ).format(count=words.n(twice))
        )
    if pieces > 1:
        sentences.append(
            _("TCP put them back in order by their sequence numbers before the browser used them.")
        )
    return sentences


def _listed(items: list[str], words: _Words) -> str:
    """Items as a sentence lists them: "10, 20 and 7"."""
    if len(items) < 2:
        return "".join(items)
    return words._("{items} and {last}").format(items=", ".join(items[:-1]), last=items[-1])


def _real_pieces(facts: PageLoadFacts, words: _Words) -> list[str]:
    """A real run: the largest file's pieces as the kernel counted them (TCP_INFO), when
    its connection carried that file alone — no packet capture tells more."""
    timing = _largest(facts)
    if timing is None or timing.connection is None or facts.conditions is not None:
        return []
    if sum(1 for t in facts.timings if t.connection == timing.connection) != 1:
        return []
    info = next((i for i in facts.tcp_infos if i.connection == timing.connection), None)
    if info is None or info.data_segments_in < 2 or info.mss_in <= 0:
        return []
    return [
        words._(
            "The largest file, {name} ({size} bytes and its headers), had a connection of "
            "its own: the kernel counted {count} segments with data coming in on it, of "
            "about {mss} bytes each (the segment size it measured). TCP handed them to the "
            "browser in order, as one stream of bytes."
        ).format(
            name=_short(timing.url),
            size=words.n(timing.wire_size),
            count=words.n(info.data_segments_in),
            mss=words.n(info.mss_in),
        )
    ]


def _path_mtu(facts: PageLoadFacts, words: _Words) -> list[str]:
    """Path MTU discovery, when a router's ICMP "fragmentation needed" is in the trace:
    which packets it could not pass on, why, and what their sender did."""
    browser = {c.opened.local[0] for c in facts.connections.values() if c.opened is not None}
    sentences = []
    for (router, to_browser, mtu), errors in itertools.groupby(
        facts.path_mtu_errors, key=lambda e: (e.router, e.to in browser, e.mtu)
    ):
        told = list(errors)
        values = {
            "router": router,
            "count": words.n(len(told)),
            "size": words.n(max(e.size for e in told)),
            "mtu": words.n(mtu),
            "mss": words.n(mtu - 40),
        }
        if to_browser:
            text = words.ngettext(
                "On the way, the router at {router} could not pass on {count} packet of the "
                "browser's ({size} bytes, marked “don't fragment”): its next link carries at "
                "most {mtu} bytes. It told the browser with ICMP “fragmentation needed” (type "
                "3, code 4), and the browser sent the data again in segments of {mss} bytes "
                "(path MTU discovery).",
                "On the way, the router at {router} could not pass on {count} packets of the "
                "browser's (up to {size} bytes, marked “don't fragment”): its next link "
                "carries at most {mtu} bytes. It told the browser with ICMP “fragmentation "
                "needed” (type 3, code 4) for each, and the browser sent the data again in "
                "segments of {mss} bytes (path MTU discovery).",
                len(told),
            )
        else:
            text = words.ngettext(
                "On the way, the router at {router} could not pass on {count} packet of the "
                "server's ({size} bytes, marked “don't fragment”): its next link carries at "
                "most {mtu} bytes. It told the server with ICMP “fragmentation needed” (type "
                "3, code 4), and the server sent the data again in segments of {mss} bytes "
                "(path MTU discovery).",
                "On the way, the router at {router} could not pass on {count} packets of the "
                "server's (up to {size} bytes, marked “don't fragment”): its next link "
                "carries at most {mtu} bytes. It told the server with ICMP “fragmentation "
                "needed” (type 3, code 4) for each, and the server sent the data again in "
                "segments of {mss} bytes (path MTU discovery).",
                len(told),
            )
        sentences.append(text.format(**values))
    return sentences


def _lost_sequences(facts: PageLoadFacts, connection: int) -> set[int]:
    """The sequence numbers of the data segments to the browser's ``connection`` that
    were lost on its link (their copies sent again arrive late, but not reordered)."""
    opened = facts.connections[connection].opened
    if opened is None:
        return set()
    lost = set()
    for event in facts.drops:
        if packet_kind(event.data) != "data":
            continue
        packet = dissect(event.data)
        if packet.tcp is not None and packet.destination_port == opened.local[1]:
            lost.add(packet.tcp.sequence)
    return lost


def _rate(bits: float, words: _Words) -> str:
    """A link speed as people write it: "256 kbit/s", "10 Mbit/s"."""
    if bits < 1e6:
        return words.n(bits / 1e3, 0 if (bits / 1e3).is_integer() else 1) + " kbit/s"
    return words.n(bits / 1e6, 0 if (bits / 1e6).is_integer() else 1) + " Mbit/s"


def _wire_time(
    facts: PageLoadFacts, timing: RequestTiming, packets: list[int], words: _Words
) -> list[str]:
    """A slow link: how long the file's packets (``packets``: their sizes) took to cross
    it, and where the timeline shows that time — the first one's inside the wait for the
    first byte, the others' as the receive time."""
    link = facts.conditions
    if link is None or link.bandwidth is None:
        return []
    wire = sum(packets) * 8 / link.bandwidth * 1000
    rest = sum(packets[1:]) * 8 / link.bandwidth * 1000
    if wire < 10:  # too short to see next to the link's delay
        return []
    _ = words._
    if rest >= 10 and abs(rest - timing.receive) <= max(0.25 * rest, 5):
        text = _("At {rate}, its {size} bytes of packets took about {wire} to cross the link "
                 "(bytes × 8 ÷ speed). The first packet's part is in the wait for the first "
                 "byte (░); the rest, about {rest}, is the receive time (█) in the timeline, "
                 "not time the server spent.")  # fmt: skip
    elif rest < 10:
        text = _("At {rate}, its {size} bytes of packets took about {wire} to cross the link "
                 "(bytes × 8 ÷ speed); they came in one go, so that time is part of the wait "
                 "for the first byte (░).")  # fmt: skip
    else:
        text = _("At {rate}, its {size} bytes of packets took about {wire} to cross the link "
                 "(bytes × 8 ÷ speed).")  # fmt: skip
    return [text.format(rate=_rate(link.bandwidth, words), size=words.n(sum(packets)),
                        wire=words.ms(wire), rest=words.ms(rest))]  # fmt: skip


def _segment_losses(facts: PageLoadFacts, words: _Words) -> list[str]:
    """The data segments lost on the browser's link: who sent them again, what made it
    (duplicate ACKs, an ACK during recovery, or the timer) and how long that took — alike
    ones told together, with the range of their delays."""
    groups: dict[tuple[bool, str], list[float]] = {}
    for loss in facts.segment_losses:
        if loss.resent is None:
            continue
        if loss.times > 1:
            kind = "repeated"
        elif loss.fast:
            kind = "fast"
        elif loss.recovery:
            kind = "recovery"
        else:
            kind = "timeout"
        groups.setdefault((loss.to_browser, kind), []).append(loss.cost)
    sentences = []
    for (to_browser, kind), costs in groups.items():
        count = len(costs)
        sentence = _loss_sentence(kind, to_browser, count, words)
        sentences.append(sentence.format(count=words.n(count), cost=_delays(costs, words)))
    return sentences


def _delays(costs: list[float], words: _Words) -> str:
    """ "1 s", or "between 45 ms and 89 ms" when alike losses took different times."""

    def one(cost: float) -> str:
        return words.ms(cost * 1000) if cost < 1 else words.s(cost)

    low, high = one(min(costs)), one(max(costs))
    if low == high:
        return low
    return words._("between {low} and {high}").format(low=low, high=high)


def _loss_sentence(kind: str, to_browser: bool, count: int, words: _Words) -> str:
    """How ``count`` alike lost segments were sent again, for the server's segments
    (``to_browser``) or the browser's; {count} and {cost} are left to fill."""
    ngettext = words.ngettext
    if kind == "fast" and to_browser:
        return ngettext(
            "{count} data segment from the server was lost; the browser's duplicate ACKs "
            "told the server, which sent it again {cost} later (a fast retransmit).",
            "{count} data segments from the server were lost; the browser's duplicate ACKs "
            "told the server, which sent each again {cost} later (a fast retransmit).",
            count,
        )
    elif kind == "fast":
        return ngettext(
            "{count} data segment from the browser was lost; the server's duplicate ACKs "
            "told the browser, which sent it again {cost} later (a fast retransmit).",
            "{count} data segments from the browser were lost; the server's duplicate ACKs "
            "told the browser, which sent each again {cost} later (a fast retransmit).",
            count,
        )
    elif kind == "recovery" and to_browser:
        return ngettext(
            "{count} data segment from the server was lost while TCP was already recovering "
            "from an earlier loss; the browser's next ACK showed it was still missing, so the "
            "server sent it again {cost} later.",
            "{count} data segments from the server were lost while TCP was already recovering "
            "from an earlier loss; the browser's next ACKs showed them still missing, so the "
            "server sent each again {cost} later.",
            count,
        )
    elif kind == "recovery":
        return ngettext(
            "{count} data segment from the browser was lost while TCP was already recovering "
            "from an earlier loss; the server's next ACK showed it was still missing, so the "
            "browser sent it again {cost} later.",
            "{count} data segments from the browser were lost while TCP was already "
            "recovering from an earlier loss; the server's next ACKs showed them still "
            "missing, so the browser sent each again {cost} later.",
            count,
        )
    elif kind == "timeout" and to_browser:
        return ngettext(
            "{count} data segment from the server was lost; too few duplicate ACKs came back "
            "to tell, so the server waited for its retransmission timeout and sent it again "
            "{cost} later.",
            "{count} data segments from the server were lost; too few duplicate ACKs came "
            "back to tell, so the server waited for its retransmission timeout and sent each "
            "again {cost} later.",
            count,
        )
    elif kind == "timeout":
        return ngettext(
            "{count} data segment from the browser was lost; too few duplicate ACKs came back "
            "to tell, so the browser waited for its retransmission timeout and sent it again "
            "{cost} later.",
            "{count} data segments from the browser were lost; too few duplicate ACKs came "
            "back to tell, so the browser waited for its retransmission timeout and sent each "
            "again {cost} later.",
            count,
        )
    elif kind == "repeated" and to_browser:
        return ngettext(
            "{count} data segment from the server was lost more than once in a row; it got "
            "through {cost} after it was first sent.",
            "{count} data segments from the server were lost more than once in a row; each "
            "got through {cost} after it was first sent.",
            count,
        )
    elif kind == "repeated":
        return ngettext(
            "{count} data segment from the browser was lost more than once in a row; it got "
            "through {cost} after it was first sent.",
            "{count} data segments from the browser were lost more than once in a row; each "
            "got through {cost} after it was first sent.",
            count,
        )
    raise ValueError(kind)


def _loopback_story(facts: PageLoadFacts, words: _Words) -> str:
    """On a real run over loopback: why the round trip is so short, and why the kernel
    counts many segments while the page came in few."""
    first = facts.first
    connection = facts.connections.get(first.connection or -1) if first else None
    if connection is None or connection.opened is None:
        return ""
    peer = connection.opened.peer[0]
    if not (peer == "::1" or peer.startswith("127.")):
        return ""
    _ = words._
    return _(
        "The server is on this same computer ({address}, loopback): a round trip is one "
        "computer talking to itself, which is why it is so short. The kernel counts every "
        "segment of the {connections} connections — each one's handshake, its requests, "
        "the answers, the ACKs and the closing FINs — not only the pieces of the page."
    ).format(address=peer, connections=words.n(len(facts.tcp_infos)))


def _step4_page(facts: PageLoadFacts, words: _Words) -> Paragraph:
    """Step 4: the page put back together, the files it needed, and the whole load."""
    _, ngettext = words._, words.ngettext
    timings = facts.timings
    sentences = []
    done = facts.done(timings[0].request)
    if done is not None and done.encoding:
        sentences.append(
            _(
                "The browser put the pieces back together and undid the {encoding} "
                "compression: {wire} bytes became {size}."
            ).format(encoding=done.encoding, wire=words.n(done.wire_size), size=words.n(done.size))
        )
    else:
        sentences.append(_("The browser put the pieces back together."))
    if sub := [t for t in timings if t.kind != "document"]:
        names = ", ".join(_short(t.url) for t in sub)
        kept = [t for t in sub if t.cache == "fresh"]
        connections = {t.connection for t in timings if t.connection is not None}
        reused = sum(1 for t in timings if t.reused)
        sentences.append(
            ngettext(
                "It parsed the HTML and found {count} more file it needs: {names}.",
                "It parsed the HTML and found {count} more files it needs: {names}.",
                len(sub),
            ).format(count=words.n(len(sub)), names=names)
        )
        if kept:
            sentences.append(_cache_hits(kept, len(sub), words))
        if len(kept) < len(sub):
            sentences.append(
                ngettext(
                    "It fetched them over {connections} connection",
                    "It fetched them over {connections} connections at once",
                    len(connections),
                ).format(connections=words.n(len(connections)))
                + ngettext(
                    " ({reused} request reused a connection already open).",
                    " ({reused} requests reused a connection already open).",
                    reused,
                ).format(reused=words.n(reused))
            )
        if failures := [t for t in sub if t.error or (t.status or 0) >= 400]:
            sentences.append(
                ngettext(
                    "{count} file could not be loaded: {names}.",
                    "{count} files could not be loaded: {names}.",
                    len(failures),
                ).format(
                    count=words.n(len(failures)), names=", ".join(_short(t.url) for t in failures)
                )
            )
    finished = facts.finished
    if finished is not None and finished.title:
        sentences.append(
            ngettext(
                "Then it built the page “{title}”: {files} file, {bytes} bytes, in {ms}.",
                "Then it built the page “{title}”: {files} files, {bytes} bytes, in {ms}.",
                len(timings),
            ).format(
                title=finished.title,
                files=words.n(len(timings)),
                bytes=words.n(sum(t.cached_size if t.cache else t.wire_size for t in timings)),
                ms=words.ms(_span(timings)),
            )
        )
    sentences.extend(_round_trips(facts, words))
    if finished is not None and finished.title and len(sentences) > 1:
        built = next(i for i, s in enumerate(sentences) if finished.title in s)
        sentences[built] = _at(finished.t, sentences[built])
    return _paragraph(_("Step 4 — The page: reassembled, parsed and shown"), sentences,
                      done.t if done is not None else timings[0].started)  # fmt: skip


def _round_trips(facts: PageLoadFacts, words: _Words) -> list[str]:
    """A simulated run: the round trips over the browser's link that had to wait for
    each other — the page's lookup, handshake and request, then the last file's — and
    the share of the load's time the link's delay alone made."""
    link = facts.conditions
    timings = facts.timings
    if link is None or not timings or link.latency <= 0:
        return []
    page = timings[0]
    if facts.done(page.request) is None:
        return []
    chain = [page]
    asked = [t for t in timings[1:] if t.cache != "fresh"]  # a fresh copy crossed nothing
    last = max(asked, key=lambda t: t.started + max(t.total, 0) / 1000, default=None)
    if last is not None and facts.done(last.request) is not None:
        chain.append(last)
    # Each lookup, handshake and request-and-answer crossed the link and back at least once.
    count = sum((t.dns > 0) + (t.connect > 0) + 1 for t in chain)
    # A large answer's later bursts each waited a round trip for the ACKs of the one before.
    bursts = len(_flights(facts, chain[-1])) - 1 if len(chain) > 1 else 0
    count += max(bursts, 0)
    rtt = link.latency * 2 * 1000
    span = _span(timings)
    if count * rtt > span:
        return []
    if bursts > 0:
        text = words.ngettext(
            "The page needed {count} round trip over the browser's link that could not "
            "overlap (the lookup, each handshake, each request and each burst of {name} "
            "waits for the one before): at {rtt} each, {total} of that time went on the "
            "link's delay alone.",
            "The page needed {count} round trips over the browser's link that could not "
            "overlap (the lookup, each handshake, each request and each burst of {name} "
            "waits for the one before): at {rtt} each, {total} of that time went on the "
            "link's delay alone.",
            count,
        )
        total = words.duration(count * rtt)
        return [text.format(count=words.n(count), rtt=words.duration(rtt), total=total,
                            name=_short(chain[-1].url))]  # fmt: skip
    text = words.ngettext(
        "The page needed {count} round trip over the browser's link that could not overlap "
        "(the lookup, each handshake and each request waits for the answer before it): at "
        "{rtt} each, {total} of that time went on the link's delay alone.",
        "The page needed {count} round trips over the browser's link that could not overlap "
        "(the lookup, each handshake and each request waits for the answer before it): at "
        "{rtt} each, {total} of that time went on the link's delay alone.",
        count,
    )
    return [text.format(count=words.n(count), rtt=words.duration(rtt),
                        total=words.duration(count * rtt))]  # fmt: skip


def _cache_hits(kept: list[RequestTiming], needed: int, words: _Words) -> str:
    """The files the browser's HTTP cache held fresh: used without a request."""
    if len(kept) == needed:
        return words.ngettext(
            "It had it in its HTTP cache, still fresh, so it did not ask for it again.",
            "It had all of them in its HTTP cache, still fresh, so it did not ask for them again.",
            needed,
        )
    return words.ngettext(
        "{count} of them was in its HTTP cache, still fresh, so it did not ask for it "
        "again: {names}.",
        "{count} of them were in its HTTP cache, still fresh, so it did not ask for them "
        "again: {names}.",
        len(kept),
    ).format(count=len(kept), names=", ".join(_short(t.url) for t in kept))


def _resolver_story(walk: ResolverWalk | None, words: _Words) -> list[str]:
    """What the recursive resolver the browser asked did, if it ran in this trace."""
    if walk is None:
        return []
    _, ngettext = words._, words.ngettext
    server = format_address(walk.server)
    if walk.refused:
        return [
            _(
                "The DNS server at {server} is a recursive resolver, and it refused the question: "
                "{reason}."
            ).format(server=server, reason=walk.answers[0].reason)
        ]
    if walk.from_cache:
        return [
            _(
                "The DNS server at {server} is a recursive resolver, and it already knew the "
                "answer from an earlier question: it answered from its cache at once, without "
                "asking any other server."
            ).format(server=server)
        ]
    first = walk.first_walked
    took = words.ms((first.t - first.started) * 1000)
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
    mine = [step for step in walk.steps if step.question == first.question and step.server]
    for _key, group in itertools.groupby(mine, key=lambda step: (step.server, step.outcome)):
        repeats = list(group)
        sentence = _step_sentence(repeats[0], words)
        if len(repeats) > 1:
            sentence += _(" ({count} times)").format(count=len(repeats))
        told.append(sentence)
    if told:
        sentences.append(_("First {steps}.").format(steps=_("; then ").join(told)))
    for other in walk.answers:
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


def _step_sentence(step: ResolverStep, words: _Words) -> str:
    _ = words._
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


def _ending(finished: PageLoadFinished | None, words: _Words) -> Paragraph:
    """Why the load failed: its kind's sentence (:data:`webtrip.outcomes.FAILURES`), then
    the details."""
    _ = words._
    if finished is None or not finished.failed:
        return Paragraph(_("What went wrong"), "", ())
    row = failure(finished.failed)
    text = _(row.explanation) if row is not None else _("The page could not be loaded.")
    details = _failure_message(finished, words) or finished.message
    return _paragraph(_("What went wrong"), [_at(finished.t, f"{text} ({details})")],
                      finished.t)  # fmt: skip


def _lookup_failure(kind: str, _: Callable[[str], str]) -> str:
    """A failed lookup's kind, in the narration's language."""
    return {
        "nxdomain": _("the name does not exist (NXDOMAIN)"),
        "no-address": _("the name has no address"),
        "dns-failure": _("the DNS server did not answer, or could not"),
    }.get(kind, _("the DNS could not be asked"))


def _failure_message(event: PageLoadFinished | NameLookupFailed, words: _Words) -> str:
    """A failure's sentence in the narration's language, with the run's values ("" for a
    trace older than its ``message_id``)."""
    if not event.message_id:
        return ""
    return failure_sentence(event.message_id, event.message_values, words._, words.s, words.n)


def _connect_failure(kind: str, _: Callable[[str], str]) -> str:
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
