"""The browser's HTTP cache against RFC 9111's rules, one table per rule."""

from __future__ import annotations

import email.utils

import pytest

from webtrip.browser.cache import (
    HttpCache,
    StoredResponse,
    freshness_lifetime,
    not_storable_reason,
)

NOW = 1_767_225_600.0  # the simulated world's epoch: 2026-01-01
DAY = 86400.0


def date(seconds: float) -> str:
    return email.utils.formatdate(seconds, usegmt=True)


@pytest.mark.parametrize(
    ("headers", "status", "lifetime", "source"),
    [
        ((("Cache-Control", "max-age=60"),), 200, 60.0, "max-age"),
        # max-age wins over Expires (§4.2.1)
        ((("Cache-Control", "max-age=60"), ("Expires", date(NOW + 3600))), 200, 60.0, "max-age"),
        ((("Date", date(NOW)), ("Expires", date(NOW + 3600))), 200, 3600.0, "expires"),
        # an invalid Expires means already expired (§5.3)
        ((("Date", date(NOW)), ("Expires", "0")), 200, 0.0, "expires"),
        # the heuristic: a tenth of the time since Last-Modified (§4.2.2)
        ((("Date", date(NOW)), ("Last-Modified", date(NOW - 10 * DAY))), 200, DAY, "heuristic"),
        # ... but only for a heuristically cacheable status
        ((("Date", date(NOW)), ("Last-Modified", date(NOW - 10 * DAY))), 302, 0.0, "none"),
        # no-cache: stored, but asked about every time
        ((("Cache-Control", "no-cache, max-age=60"),), 200, 0.0, "none"),
        # nothing at all
        ((("Date", date(NOW)),), 200, 0.0, "none"),
        # a Last-Modified in the future gives no freshness
        ((("Date", date(NOW)), ("Last-Modified", date(NOW + 60))), 200, 0.0, "none"),
    ],
)
def test_the_freshness_lifetime_comes_from_max_age_then_expires_then_the_heuristic(
    headers, status, lifetime, source
):
    assert freshness_lifetime(headers, status, NOW) == (lifetime, source)


@pytest.mark.parametrize(
    ("method", "status", "headers", "reason"),
    [
        ("GET", 200, (), None),
        ("GET", 404, (), None),
        ("POST", 200, (), "method"),
        ("GET", 200, (("Cache-Control", "no-store"),), "no-store"),
        ("GET", 200, (("Vary", "*"),), "vary"),
        ("GET", 200, (("Vary", "Accept-Encoding"),), None),
        ("GET", 206, (), "partial"),
        ("GET", 302, (), "status"),
        ("GET", 302, (("Cache-Control", "max-age=60"),), None),
        ("GET", 304, (), "status"),
    ],
)
def test_what_may_be_stored(method, status, headers, reason):
    assert not_storable_reason(method, status, headers) == reason


def response(headers, *, at=NOW, status=200, body=b"<p>hi</p>") -> StoredResponse:
    return StoredResponse(
        "http://a.test/", status, "OK", tuple(headers), body, len(body), None, at, at
    )


VALIDATED = (("Date", date(NOW)), ("ETag", '"1-9"'), ("Last-Modified", date(NOW - 10 * DAY)))


@pytest.mark.parametrize(
    ("later", "validate", "outcome"),
    [
        (60.0, False, "fresh"),  # 60 s old, fresh for a day
        (60.0, True, "validate"),  # a reload asks about the page all the same
        (2 * DAY, False, "stale"),  # past its lifetime: a conditional request
    ],
)
def test_a_lookup_is_fresh_then_stale_and_a_reload_validates(later, validate, outcome):
    cache = HttpCache()
    assert cache.store("http://a.test/", (), response(VALIDATED)) is None
    decision = cache.lookup("http://a.test/", (), NOW + later, validate=validate)
    assert decision.outcome == outcome
    assert decision.freshness == "heuristic" and decision.lifetime == DAY
    expected = () if outcome == "fresh" else (
        ("If-None-Match", '"1-9"'), ("If-Modified-Since", date(NOW - 10 * DAY))
    )  # fmt: skip
    assert decision.conditions == expected


def test_nothing_stored_is_a_miss_and_a_stale_response_without_validators_too():
    cache = HttpCache()
    assert cache.lookup("http://a.test/", (), NOW).outcome == "miss"
    cache.store("http://a.test/", (), response((("Cache-Control", "max-age=10"),)))
    assert cache.lookup("http://a.test/", (), NOW + 5).outcome == "fresh"
    assert cache.lookup("http://a.test/", (), NOW + 20).outcome == "miss"


def test_the_age_counts_the_age_header_and_the_time_kept():
    stored = response((("Date", date(NOW)), ("Age", "30")))
    assert stored.age(NOW + 10) == 40.0
    # a response that was late by its Date: apparent age
    late = StoredResponse("u", 200, "OK", (("Date", date(NOW - 5)),), b"", 0, None, NOW, NOW)
    assert late.age(NOW) == 5.0


def test_a_304_freshens_the_stored_response_and_keeps_its_body():
    cache = HttpCache()
    cache.store("http://a.test/", (), response((*VALIDATED, ("Content-Length", "9"))))
    not_modified = (("Date", date(NOW + 3 * DAY)), ("ETag", '"1-9"'), ("Content-Length", "0"))
    fresh = cache.freshen("http://a.test/", not_modified, NOW + 3 * DAY, NOW + 3 * DAY)
    assert fresh is not None and fresh.body == b"<p>hi</p>"
    assert ("Date", date(NOW + 3 * DAY)) in fresh.headers
    assert ("Content-Length", "9") in fresh.headers  # describes the stored body, kept
    assert cache.lookup("http://a.test/", (), NOW + 3 * DAY + 1).outcome == "fresh"


def test_a_304_for_another_etag_updates_nothing():
    cache = HttpCache()
    cache.store("http://a.test/", (), response(VALIDATED))
    assert cache.freshen("http://a.test/", (("ETag", '"2-9"'),), NOW, NOW) is None


def test_vary_keeps_a_response_for_requests_with_the_same_header():
    cache = HttpCache()
    headers = (*VALIDATED, ("Vary", "Accept-Encoding"))
    cache.store("http://a.test/", (("Accept-Encoding", "gzip"),), response(headers))
    assert cache.lookup("http://a.test/", (("Accept-Encoding", "gzip"),), NOW).outcome == "fresh"
    assert cache.lookup("http://a.test/", (("Accept-Encoding", "br"),), NOW).outcome == "miss"


def test_no_store_removes_what_was_stored():
    cache = HttpCache()
    cache.store("http://a.test/", (), response(VALIDATED))
    no_store = response((("Cache-Control", "no-store"),))
    assert cache.store("http://a.test/", (), no_store) == "no-store"
    assert len(cache) == 0


def test_the_least_recently_used_goes_first():
    cache = HttpCache(max_entries=2)
    for url in ("http://a.test/1", "http://a.test/2"):
        cache.store(url, (), response(VALIDATED))
    cache.lookup("http://a.test/1", (), NOW)
    cache.store("http://a.test/3", (), response(VALIDATED))
    assert cache.lookup("http://a.test/2", (), NOW).outcome == "miss"
    assert cache.lookup("http://a.test/1", (), NOW).outcome == "fresh"
