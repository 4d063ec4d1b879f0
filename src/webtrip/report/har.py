"""A trace as a HAR 1.2 file: what browser developer tools import and show.

HAR (HTTP Archive) is the JSON format Chrome, Firefox and many tools read
and write. :func:`har_from_trace` turns the browser's side of a trace into
one: a page per page load, an entry per request, with the timing phases of
:mod:`webtrip.report.timings` (``connect`` includes ``ssl``, as HAR 1.2 says;
-1 for a phase that did not happen). Requests that failed are kept, with
status 0 and the reason in ``_error`` (HAR allows custom fields that start
with ``_``). The browser's HTTP cache shows as Chromium's HAR shows it: a file
used fresh from the cache, with no request, is an entry with the stored
status, ``_fromCache: "disk"`` (Chromium's name for its HTTP cache, as
opposed to a page's own memory cache) and no timings; a file the server said
had not changed is a 304 entry whose ``cache.beforeRequest`` holds the
validator the request carried (HAR 1.2's ``eTag``).
"""

from __future__ import annotations

import datetime
import urllib.parse
from typing import Any

from webtrip import __version__
from webtrip.report.timings import RequestTiming, request_timings
from webtrip.trace import (
    HttpCacheLookup,
    HttpRequestQueued,
    HttpRequestSent,
    HttpResponseStarted,
    PageLoadFinished,
    PageLoadStarted,
    TcpConnectionOpened,
    TcpConnectStarted,
    Trace,
)
from webtrip.trace.events import Headers

# webtrip's request kinds → the resource types Chrome's importer knows (``_resourceType``).
_RESOURCE_TYPES = {
    "document": "document",
    "stylesheet": "stylesheet",
    "import": "stylesheet",
    "script": "script",
    "image": "image",
    "icon": "image",
    "css-url": "image",
    "font": "font",
    "module": "script",
    "frame": "document",
    "object": "other",
    "manifest": "manifest",
    "prefetch": "other",
    "fetch": "fetch",
}


def iso_time(wall_start: float, t: float) -> str:
    """``wall_start + t`` (Unix seconds) as ISO 8601 in UTC with milliseconds."""
    when = datetime.datetime.fromtimestamp(wall_start + t, tz=datetime.UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _headers(headers: Headers) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in headers]


def _header(headers: Headers, wanted: str) -> str | None:
    for name, value in headers:
        if name.lower() == wanted:
            return value
    return None


def _query_string(url: str) -> list[dict[str, str]]:
    query = urllib.parse.urlsplit(url).query
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    return [{"name": name, "value": value} for name, value in pairs]


def _http_version(version: str) -> str:
    return version if version.upper().startswith("HTTP/") else f"HTTP/{version}"


def _pages(trace: Trace, actor: str) -> list[tuple[PageLoadStarted, PageLoadFinished | None]]:
    pages: list[tuple[PageLoadStarted, PageLoadFinished | None]] = []
    for event in trace.events:
        if event.actor != actor:
            continue
        if isinstance(event, PageLoadStarted):
            pages.append((event, None))
        elif isinstance(event, PageLoadFinished) and pages and pages[-1][1] is None:
            pages[-1] = (pages[-1][0], event)
    return pages


def _timings(timing: RequestTiming) -> dict[str, float]:
    # send, wait and receive must not be -1 in HAR 1.2: a phase that never came is 0 long.
    return {
        "blocked": timing.blocked,
        "dns": timing.dns,
        "connect": timing.connect,
        "send": max(0.0, timing.send),
        "wait": max(0.0, timing.wait),
        "receive": max(0.0, timing.receive),
        "ssl": timing.ssl,
    }


def har_from_trace(trace: Trace, actor: str = "browser") -> dict[str, Any]:
    """The HAR 1.2 document (a JSON-ready dict) of the requests ``actor`` made."""
    sent: dict[int, HttpRequestSent] = {}
    heads: dict[int, HttpResponseStarted] = {}
    peers: dict[int, str] = {}
    methods: dict[int, str] = {}
    lookups: dict[int, HttpCacheLookup] = {}
    for event in trace.events:
        if event.actor != actor:
            continue
        if isinstance(event, HttpCacheLookup):
            lookups[event.request] = event
        elif isinstance(event, HttpRequestQueued):
            methods[event.request] = event.method
        elif isinstance(event, HttpRequestSent):
            sent[event.request] = event
        elif isinstance(event, HttpResponseStarted):
            heads[event.request] = event
        elif isinstance(event, TcpConnectStarted | TcpConnectionOpened):
            peers[event.connection] = event.peer[0]

    pages = _pages(trace, actor)
    har_pages = []
    for index, (start, finish) in enumerate(pages, 1):
        on_load = -1.0
        if finish is not None:
            on_load = round(max(0.0, finish.t - start.t) * 1000, 3)
        title = finish.title if finish is not None and finish.title else start.url
        har_pages.append(
            {
                "startedDateTime": iso_time(trace.wall_start, start.t),
                "id": f"page_{index}",
                "title": title,
                "pageTimings": {"onContentLoad": -1, "onLoad": on_load},
            }
        )

    entries = []
    for timing in request_timings(trace, actor):
        entry: dict[str, Any] = {}
        page = 0
        for index, (start, _finish) in enumerate(pages, 1):
            if start.t <= timing.started:
                page = index
        if page:
            entry["pageref"] = f"page_{page}"
        timings = _timings(timing)
        total = sum(value for name, value in timings.items() if name != "ssl" and value > 0)
        entry["startedDateTime"] = iso_time(trace.wall_start, timing.started)
        entry["time"] = round(total, 3)
        method = methods.get(timing.request, "GET")
        entry["request"] = _request(timing, method, sent.get(timing.request))
        entry["response"] = _response(timing, heads.get(timing.request))
        entry["cache"] = _cache(trace, lookups.get(timing.request))
        if timing.cache == "fresh":
            entry["response"]["status"] = timing.status or 0
            entry["response"]["bodySize"] = 0
            entry["response"]["content"]["size"] = timing.cached_size
            entry["_fromCache"] = "disk"
        entry["timings"] = timings
        if timing.connection is not None:
            if timing.connection in peers:
                entry["serverIPAddress"] = peers[timing.connection]
            entry["connection"] = str(timing.connection)
        entry["_resourceType"] = _RESOURCE_TYPES.get(timing.kind, "other")
        if timing.initiator:
            # Chrome's own HAR field: what asked for the file (the page, a stylesheet,
            # a frame, a module); webtrip's: why this file and no other.
            entry["_initiator"] = {"type": "parser", "url": timing.initiator}
        else:
            entry["_initiator"] = {"type": "other"}
        if timing.why:
            entry["_why"] = timing.reason()
        if timing.error is not None:
            entry["_error"] = timing.error
        entries.append(entry)

    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "webtrip", "version": __version__},
            "pages": har_pages,
            "entries": entries,
        }
    }


def _cache(trace: Trace, lookup: HttpCacheLookup | None) -> dict[str, Any]:
    """HAR 1.2's ``cache``: the stored response the browser had before the request."""
    if lookup is None or lookup.outcome == "miss":
        return {}
    etag = next((value for name, value in lookup.conditions if name == "If-None-Match"), "")
    before = {
        "lastAccess": iso_time(trace.wall_start, lookup.t),
        "eTag": etag,
        "hitCount": 1,
    }
    return {"beforeRequest": before}


def _request(timing: RequestTiming, method: str, sent: HttpRequestSent | None) -> dict[str, Any]:
    return {
        "method": method,
        "url": timing.url,
        "httpVersion": "HTTP/1.1" if sent is not None else "",
        "cookies": [],
        "headers": _headers(sent.headers) if sent is not None else [],
        "queryString": _query_string(timing.url),
        "headersSize": sent.size if sent is not None else -1,
        "bodySize": 0,
    }


def _response(timing: RequestTiming, head: HttpResponseStarted | None) -> dict[str, Any]:
    if head is None:
        return {
            "status": 0,
            "statusText": "",
            "httpVersion": "",
            "cookies": [],
            "headers": [],
            "content": {"size": 0, "mimeType": "x-unknown"},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": -1,
        }
    content: dict[str, Any] = {"size": timing.size}
    if timing.size - timing.wire_size >= 0:
        content["compression"] = timing.size - timing.wire_size
    mime = _header(head.headers, "content-type") or timing.content_type or "x-unknown"
    content["mimeType"] = mime
    location = _header(head.headers, "location")
    return {
        "status": head.status,
        "statusText": head.reason,
        "httpVersion": _http_version(head.http_version),
        "cookies": [],
        "headers": _headers(head.headers),
        "content": content,
        "redirectURL": urllib.parse.urljoin(timing.url, location) if location else "",
        "headersSize": -1,
        "bodySize": timing.wire_size if timing.error is None else -1,
    }
