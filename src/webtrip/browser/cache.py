"""The browser's HTTP cache (RFC 9111): files kept from one load for the next.

Between steps 3 and 2 of the next load: what the server sent is kept, and
before the browser asks for a file again it looks here first. The rules are
RFC 9111's, for a private cache (one person's browser):

- **Storing** (§3): a GET's final response may be kept unless it says
  ``Cache-Control: no-store`` or ``Vary: *``; without explicit freshness
  (``max-age``, ``Expires``) only a status that is "heuristically cacheable"
  (RFC 9110 §15.1: 200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414,
  501) may be. A 206 (part of a file) is not kept here.
- **Freshness** (§4.2): a stored response is fresh while its age is below its
  freshness lifetime — ``max-age`` first, then ``Expires`` minus ``Date``,
  else a heuristic (§4.2.2): a tenth of the time between ``Last-Modified``
  and ``Date``, as Chromium and Firefox do. ``no-cache`` makes the lifetime 0:
  use it only after asking. The age (§4.2.3) counts the ``Age`` header, the
  time the response took to arrive, and how long it has been kept.
- **Validation** (§4.3): a stale response is not thrown away: the browser
  asks the server whether it changed with a conditional request —
  ``If-None-Match`` with its ``ETag``, ``If-Modified-Since`` with its
  ``Last-Modified`` — and a ``304 Not Modified`` (headers, no body) makes
  the stored one fresh again, its headers updated from the 304's (§4.3.4).
- **Vary** (§4.1): a response stored with ``Vary: Accept-Encoding`` is used
  only for a request that sends the same Accept-Encoding.

A reload (:meth:`HttpCache.lookup` with ``validate=True``) asks about a
stored response even when it is fresh: that is what Chromium's normal reload
does for the page itself ("LOAD_VALIDATE_CACHE" on the main resource, since
Chrome 54), while the files the page needs are looked up as on any load —
fresh ones are used without asking.

The cache is sans-I/O: times are the caller's calendar time (Unix seconds,
``Network.wall_time()``, virtual in the simulated world), and it records
nothing — the loader records its decisions as trace events.
"""

from __future__ import annotations

import email.utils
from collections import OrderedDict
from dataclasses import dataclass, replace

__all__ = [
    "CacheDecision",
    "HttpCache",
    "StoredResponse",
    "freshness_lifetime",
    "not_storable_reason",
]

Headers = tuple[tuple[str, str], ...]

HEURISTICALLY_CACHEABLE = frozenset({200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501})
"""RFC 9110 §15.1: statuses a cache may keep without explicit freshness."""

HEURISTIC_FRACTION = 0.1
"""RFC 9111 §4.2.2's "typical setting": a tenth of the time since Last-Modified."""

NOT_UPDATED = frozenset(
    {"content-length", "content-encoding", "transfer-encoding", "content-range"}
)
"""Header fields a 304 does not replace in the stored response (they describe its body)."""


def _header(headers: Headers, name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def _directives(headers: Headers) -> dict[str, str | None]:
    """Cache-Control's directives, lower-cased (``max-age`` → its value, ``no-store`` → None)."""
    found: dict[str, str | None] = {}
    for key, value in headers:
        if key.lower() != "cache-control":
            continue
        for part in value.split(","):
            name, _, argument = part.strip().partition("=")
            if name:
                found.setdefault(name.lower(), argument.strip().strip('"') or None)
    return found


def _date(value: str | None) -> float | None:
    """An HTTP date (RFC 9110 §5.6.7) as Unix seconds, or None if absent or invalid."""
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None


def _seconds(value: str | None) -> int | None:
    """A delta-seconds value (RFC 9111 §1.2.2), or None if it is not one."""
    if value is None or not value.isdigit():
        return None
    return int(value)


def freshness_lifetime(headers: Headers, status: int, received: float) -> tuple[float, str]:
    """How long a response stays fresh (seconds) and where that came from (RFC 9111 §4.2.1).

    ``received`` stands in for a missing ``Date``. The source is "max-age",
    "expires", "heuristic" or "none" (lifetime 0: ask every time).
    """
    directives = _directives(headers)
    if "no-cache" in directives:
        return 0.0, "none"
    max_age = _seconds(directives.get("max-age"))
    if max_age is not None:
        return float(max_age), "max-age"
    date = _date(_header(headers, "date"))
    if date is None:
        date = received
    expires_value = _header(headers, "expires")
    if expires_value is not None:
        expires = _date(expires_value)  # an invalid Expires means "already expired"
        return (max(0.0, expires - date) if expires is not None else 0.0), "expires"
    last_modified = _date(_header(headers, "last-modified"))
    if last_modified is not None and status in HEURISTICALLY_CACHEABLE and date > last_modified:
        return (date - last_modified) * HEURISTIC_FRACTION, "heuristic"
    return 0.0, "none"


def not_storable_reason(method: str, status: int, headers: Headers) -> str | None:
    """Why a response may not be stored (RFC 9111 §3), or None if it may be.

    The reasons: "method", "no-store", "vary", "partial", "status".
    """
    if method != "GET":
        return "method"
    directives = _directives(headers)
    if "no-store" in directives:
        return "no-store"
    vary = _header(headers, "vary")
    if vary is not None and "*" in (part.strip() for part in vary.split(",")):
        return "vary"
    if status == 206:
        return "partial"
    explicit = any(name in directives for name in ("max-age", "public", "private"))
    explicit = explicit or _header(headers, "expires") is not None
    if not explicit and status not in HEURISTICALLY_CACHEABLE:
        return "status"
    if status < 200 or status == 304:
        return "status"
    return None


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """A response kept in the cache, with what its age is computed from (RFC 9111 §4.2.3)."""

    url: str
    status: int
    reason: str
    headers: Headers
    body: bytes
    wire_size: int
    encoding: str | None
    request_time: float
    response_time: float
    varying: Headers = ()  # the request's values of the headers Vary names
    decoded_size: int = -1  # the body's size once decoded (-1: len(body))
    kept: bool = True  # False: the body streamed through, only its size was kept

    @property
    def etag(self) -> str | None:
        return _header(self.headers, "etag")

    @property
    def last_modified(self) -> str | None:
        return _header(self.headers, "last-modified")

    def lifetime(self) -> tuple[float, str]:
        return freshness_lifetime(self.headers, self.status, self.response_time)

    def age(self, now: float) -> float:
        """The current age (RFC 9111 §4.2.3), in seconds."""
        date = _date(_header(self.headers, "date"))
        apparent_age = max(0.0, self.response_time - date) if date is not None else 0.0
        age_value = _seconds((_header(self.headers, "age") or "").strip()) or 0
        response_delay = self.response_time - self.request_time
        corrected_initial_age = max(apparent_age, age_value + response_delay)
        return corrected_initial_age + max(0.0, now - self.response_time)

    def conditions(self) -> Headers:
        """The headers of a conditional request about this response (RFC 9110 §13.1)."""
        found: list[tuple[str, str]] = []
        if self.etag is not None:
            found.append(("If-None-Match", self.etag))
        if self.last_modified is not None:
            found.append(("If-Modified-Since", self.last_modified))
        return tuple(found)


@dataclass(frozen=True, slots=True)
class CacheDecision:
    """What the cache says before a request: its outcome, and the stored response if any.

    ``outcome``: "miss", "fresh" (use ``stored``, send nothing), "stale" or
    "validate" (send ``stored.conditions()``; a 304 means ``stored`` is good).
    A stored response without validators cannot be asked about: it is a miss.
    """

    outcome: str
    stored: StoredResponse | None = None
    age: float = 0.0
    lifetime: float = 0.0
    freshness: str = "none"

    @property
    def conditions(self) -> Headers:
        if self.outcome in ("stale", "validate") and self.stored is not None:
            return self.stored.conditions()
        return ()


def _varying(response_headers: Headers, request_headers: Headers) -> Headers:
    """The request's values of the header fields the response's Vary names."""
    vary = _header(response_headers, "vary") or ""
    names = sorted({part.strip().lower() for part in vary.split(",") if part.strip()})
    return tuple((name, _header(request_headers, name) or "") for name in names)


class HttpCache:
    """A private HTTP cache in memory: one stored response per URL, at most ``max_entries``
    (the least recently used goes first)."""

    def __init__(self, max_entries: int = 1000) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, StoredResponse] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(
        self, url: str, request_headers: Headers, now: float, *, validate: bool = False
    ) -> CacheDecision:
        """What to do about a GET of ``url`` at ``now`` (``validate``: a reload of it)."""
        stored = self._entries.get(url)
        if stored is None or stored.varying != _varying(stored.headers, request_headers):
            return CacheDecision("miss")
        self._entries.move_to_end(url)
        lifetime, source = stored.lifetime()
        age = stored.age(now)
        fresh = age < lifetime
        if fresh and not validate:
            outcome = "fresh"
        elif not stored.conditions():
            return CacheDecision("miss", None, age, lifetime, source)
        else:
            outcome = "validate" if fresh else "stale"
        return CacheDecision(outcome, stored, age, lifetime, source)

    def store(
        self,
        url: str,
        request_headers: Headers,
        response: StoredResponse,
        method: str = "GET",
    ) -> str | None:
        """Keep ``response`` for ``url``; return why it may not be kept (and drop any older
        one, RFC 9111 §4.4), or None once stored."""
        reason = not_storable_reason(method, response.status, response.headers)
        if reason is not None:
            self._entries.pop(url, None)
            return reason
        self._entries[url] = replace(response, varying=_varying(response.headers, request_headers))
        self._entries.move_to_end(url)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return None

    def freshen(
        self, url: str, not_modified: Headers, request_time: float, response_time: float
    ) -> StoredResponse | None:
        """A 304 Not Modified came for ``url``: update the stored response's headers from it
        and its times (RFC 9111 §4.3.4) and return it, or None if nothing matches."""
        stored = self._entries.get(url)
        if stored is None:
            return None
        etag = _header(not_modified, "etag")
        if etag is not None and stored.etag is not None and _weak(etag) != _weak(stored.etag):
            return None
        replaced = {name.lower() for name, _ in not_modified} - NOT_UPDATED
        kept = [(k, v) for k, v in stored.headers if k.lower() not in replaced]
        added = [(k, v) for k, v in not_modified if k.lower() in replaced]
        fresh = replace(
            stored,
            headers=(*kept, *added),
            request_time=request_time,
            response_time=response_time,
        )
        self._entries[url] = fresh
        return fresh


def _weak(etag: str) -> str:
    """An entity tag without its weakness mark: a 304 matches by weak comparison."""
    return etag.strip().removeprefix("W/")
