"""A reload: the same page loaded again by the same browser, and what the caches saved.

A run with ``--reload`` holds two page loads in one trace. Each is told on
its own — :func:`load_parts` cuts the trace after each load the browser
finished — and the second is then compared with the first
(:func:`reload_comparison`): how much sooner the page was there, how many
fewer questions the recursive resolver asked (its DNS cache), how many files
the browser did not ask for at all or was told had not changed (its HTTP
cache, RFC 9111), and the bytes and TCP segments that did not cross the
network. Every number is the run's own, read from the two parts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from gettext import NullTranslations

from webtrip.i18n import milliseconds, number, translation
from webtrip.report.facts import page_load_facts
from webtrip.report.timings import RequestTiming
from webtrip.trace import HttpCacheLookup, PageLoadFinished, PageLoadStarted, Trace

__all__ = ["LoadSummary", "load_parts", "load_summary", "reload_comparison"]


def load_parts(trace: Trace, actor: str = "browser") -> list[Trace]:
    """The trace cut after each page load ``actor`` finished: one part per load (what
    follows the last load — connections closing — belongs to it)."""
    cuts = [
        index + 1
        for index, event in enumerate(trace.events)
        if isinstance(event, PageLoadFinished) and event.actor == actor
    ]
    if len(cuts) <= 1:
        return [trace]
    starts = [0, *cuts[:-1]]
    stops: list[int | None] = [*cuts[:-1], None]
    return [trace.part(start, stop) for start, stop in zip(starts, stops, strict=True)]


@dataclass(frozen=True)
class LoadSummary:
    """One load's totals, for comparing it with another."""

    duration: float  # ms, from the load's start to its end
    resolver_queries: int | None  # questions the resolver sent to other servers (None: not here)
    requests: int  # requests that went out on the network
    fresh: list[RequestTiming]  # files used from the HTTP cache without a request
    revalidated: list[RequestTiming]  # files the server said had not changed (304)
    conditions: list[str]  # the conditional headers those requests carried (If-None-Match…)
    received: int  # body bytes that came over the network
    segments: int | None  # TCP segments in and out (TCP_INFO), None where unknown
    connections: int


def load_summary(part: Trace, actor: str = "browser") -> LoadSummary:
    """The totals of the one load in ``part``."""
    facts = page_load_facts(part, actor)
    started = next((e.t for e in part.events
                    if isinstance(e, PageLoadStarted) and e.actor == actor), 0.0)  # fmt: skip
    ended = facts.finished.t if facts.finished is not None else started
    walks = [lookup.resolver for lookup in facts.lookups if lookup.resolver is not None]
    queries = sum(a.queries for walk in walks for a in walk.answers) if walks else None
    infos = facts.tcp_infos
    timings = facts.timings
    revalidated = [t for t in timings if t.cache == "revalidated"]
    asked = {t.request for t in revalidated}
    headers = {
        name
        for e in part.of_type(HttpCacheLookup)
        if e.actor == actor and e.request in asked
        for name, _value in e.conditions
    }
    return LoadSummary(
        duration=(ended - started) * 1000,
        resolver_queries=queries,
        requests=sum(1 for t in timings if t.cache != "fresh" and facts.sent(t.request)),
        fresh=[t for t in timings if t.cache == "fresh"],
        revalidated=revalidated,
        # If-None-Match first, as browsers send them.
        conditions=sorted(headers, key=lambda name: name.lower() != "if-none-match"),
        received=sum(t.wire_size for t in timings),
        segments=sum(i.segments_in + i.segments_out for i in infos) if infos else None,
        connections=len({t.connection for t in timings if t.connection is not None}),
    )


def reload_comparison(first: Trace, again: Trace, language: str = "en") -> tuple[str, str]:
    """The heading and text comparing the load in ``again`` with the one in ``first``."""
    catalog = translation(language)
    _: Callable[[str], str] = catalog.gettext
    ngettext: Callable[[str, str, int], str] = catalog.ngettext
    before, after = load_summary(first), load_summary(again)
    sentences = []
    if after.duration <= before.duration:
        text = _("This time the page was there in {now} instead of {then}: {saved} sooner.")
        saved = before.duration - after.duration
    else:
        text = _("This time the page took {now} instead of {then}: {saved} longer.")
        saved = after.duration - before.duration
    sentences.append(
        text.format(
            now=milliseconds(after.duration, language),
            then=milliseconds(before.duration, language),
            saved=milliseconds(saved, language),
        )
    )
    if before.resolver_queries and after.resolver_queries == 0:
        sentences.append(
            ngettext(
                "The recursive resolver's DNS cache: the first time it asked {count} other "
                "server to find the address; this time it already knew it and asked none.",
                "The recursive resolver's DNS cache: the first time it asked {count} other "
                "servers to find the address; this time it already knew it and asked none.",
                before.resolver_queries,
            ).format(count=number(before.resolver_queries, language))
        )
    if after.fresh:
        sentences.append(
            ngettext(
                "The browser's HTTP cache: {count} file was still fresh, so the browser used "
                "the copy it kept and did not ask for it at all: {names}.",
                "The browser's HTTP cache: {count} files were still fresh, so the browser used "
                "the copies it kept and did not ask for them at all: {names}.",
                len(after.fresh),
            ).format(count=number(len(after.fresh), language), names=_names(after.fresh))
        )
    if after.revalidated:
        sentences.append(
            ngettext(
                "For {count} file ({names}) it asked the server whether it had changed, "
                "with {headers} in its request, and the server answered 304 Not Modified: "
                "headers only, no file.",
                "For {count} files ({names}) it asked the server whether they had changed, "
                "with {headers} in its requests, and the server answered 304 Not Modified: "
                "headers only, no files.",
                len(after.revalidated),
            ).format(
                count=number(len(after.revalidated), language),
                names=_names(after.revalidated),
                headers=_both(after.conditions, catalog),
            )
        )
    if after.fresh or after.revalidated:
        kept = sum(t.cached_size for t in [*after.fresh, *after.revalidated])
        sentences.append(
            _(
                "Files received: {now} bytes instead of {then}; the {kept} bytes of the kept "
                "copies did not cross the network again. Requests sent: {requests_now} "
                "instead of {requests_then}."
            ).format(
                now=number(after.received, language),
                then=number(before.received, language),
                kept=number(kept, language),
                requests_now=number(after.requests, language),
                requests_then=number(before.requests, language),
            )
        )
    if before.segments is not None and after.segments is not None:
        sentences.append(
            ngettext(
                "TCP segments in and out: {now} over {connections} connection, instead of {then}.",
                "TCP segments in and out: {now} over {connections} connections, instead of {then}.",
                after.connections,
            ).format(
                now=number(after.segments, language),
                then=number(before.segments, language),
                connections=number(after.connections, language),
            )
        )
    return _("What the caches saved"), " ".join(sentences)


def _names(timings: list[RequestTiming]) -> str:
    return ", ".join(_path(t.url) for t in timings)


def _path(url: str) -> str:
    parts = url.split("/", 3)
    return "/" + parts[3] if len(parts) > 3 else url


def _both(names: list[str], catalog: NullTranslations) -> str:
    """ "If-None-Match", or "If-None-Match and If-Modified-Since" (in Spanish "e" before
    the sound i, as in "If-…")."""
    _, pgettext = catalog.gettext, catalog.pgettext
    if len(names) < 2:
        return names[0] if names else _("a conditional header")
    first, second = ", ".join(names[:-1]), names[-1]
    if second[:1].lower() == "i" or second[:2].lower() == "hi":
        text = pgettext("before the sound i", "{first} and {second}")
    else:
        text = _("{first} and {second}")
    return text.format(first=first, second=second)
