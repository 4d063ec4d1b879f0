"""What to send for a file: type, validators, conditional requests, ranges, gzip."""

from __future__ import annotations

import email.utils
import os
from pathlib import Path

import pytest

from webtrip.web.files import (
    FileCache,
    Representation,
    accepts_gzip,
    byte_range,
    content_type,
    gzip_applies,
    precondition,
)
from webtrip.web.http1 import Request

ETAG = '"65f00000-64"'
MTIME = 1_700_000_000.0
LAST_MODIFIED = email.utils.formatdate(MTIME, usegmt=True)


def request(method: str = "GET", **headers: str) -> Request:
    pairs = [(name.replace("_", "-"), value) for name, value in headers.items()]
    return Request(method, "/f", "1.1", [("host", "x"), *pairs], keep_alive=True)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("index.html", "text/html; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("data.json", "application/json; charset=utf-8"),
        ("logo.png", "image/png"),
        ("d.svg", "image/svg+xml; charset=utf-8"),
        ("archive.tar.gz", "application/octet-stream"),
        ("no-extension", "application/octet-stream"),
    ],
)
def test_content_type_comes_from_the_name_with_charset_for_text(name, expected):
    assert content_type(name) == expected


def test_if_none_match_with_the_current_etag_is_not_modified():
    assert precondition(request(if_none_match=ETAG), ETAG, MTIME) == 304


def test_if_none_match_matches_weakly_and_in_lists():
    assert precondition(request(if_none_match=f'"x", W/{ETAG}'), ETAG, MTIME) == 304


def test_if_none_match_with_another_etag_proceeds_even_if_the_date_would_match():
    req = request(if_none_match='"old"', if_modified_since=LAST_MODIFIED)
    assert precondition(req, ETAG, MTIME) is None


def test_if_modified_since_at_or_after_the_mtime_is_not_modified():
    assert precondition(request(if_modified_since=LAST_MODIFIED), ETAG, MTIME) == 304
    earlier = email.utils.formatdate(MTIME - 60, usegmt=True)
    assert precondition(request(if_modified_since=earlier), ETAG, MTIME) is None


def test_an_unparseable_date_is_ignored():
    assert precondition(request(if_modified_since="yesterday"), ETAG, MTIME) is None


def test_if_match_failing_is_precondition_failed():
    assert precondition(request(if_match='"other"'), ETAG, MTIME) == 412
    assert precondition(request(if_match=ETAG), ETAG, MTIME) is None
    assert precondition(request(if_match="*"), ETAG, MTIME) is None


def test_if_unmodified_since_before_the_mtime_is_precondition_failed():
    earlier = email.utils.formatdate(MTIME - 60, usegmt=True)
    assert precondition(request(if_unmodified_since=earlier), ETAG, MTIME) == 412


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-9", (0, 9)),
        ("bytes=90-", (90, 99)),
        ("bytes=-10", (90, 99)),
        ("bytes=50-1000", (50, 99)),
        ("bytes=-1000", (0, 99)),
        ("bytes=100-", "unsatisfiable"),
        ("bytes=-0", "unsatisfiable"),
        ("bytes=9-0", None),
        ("bytes=0-1,5-6", None),
        ("items=0-1", None),
        ("bytes=x-y", None),
    ],
)
def test_byte_ranges(header, expected):
    assert byte_range(request(range=header), 100, ETAG, LAST_MODIFIED) == expected


def test_range_is_ignored_for_head():
    assert byte_range(request("HEAD", range="bytes=0-9"), 100, ETAG, LAST_MODIFIED) is None


def test_if_range_with_an_old_validator_sends_the_whole_file():
    req = request(range="bytes=0-9", if_range='"old"')
    assert byte_range(req, 100, ETAG, LAST_MODIFIED) is None
    req = request(range="bytes=0-9", if_range=ETAG)
    assert byte_range(req, 100, ETAG, LAST_MODIFIED) == (0, 9)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("gzip", True),
        ("gzip, deflate, br", True),
        ("br;q=1.0, gzip;q=0.8", True),
        ("gzip;q=0", False),
        ("identity", False),
        ("*", True),
        ("*;q=0", False),
        ("*, gzip;q=0", False),
        ("", False),
    ],
)
def test_gzip_negotiation(header, expected):
    assert accepts_gzip(request(accept_encoding=header)) is expected


def content(cache: FileCache, path: Path) -> bytes | None:
    with path.open("rb") as file:
        return cache.content(Representation.of(path, os.fstat(file.fileno())), file)


def gzipped(cache: FileCache, path: Path) -> bytes | None:
    """The gzip form the server would send (made once, then taken from the cache)."""
    with path.open("rb") as file:
        rep = Representation.of(path, os.fstat(file.fileno()))
        made = cache.gzipped(rep)
        if made is None:
            made = cache.compress(rep, file.fileno())
            if made is not None:
                cache.keep_gzipped(rep, made)
        return made


def test_gzip_form_is_cached_and_refreshed_when_the_file_changes(tmp_path):
    path = tmp_path / "page.html"
    path.write_text("<p>hello</p>\n" * 100)
    cache = FileCache()
    first = gzipped(cache, path)
    assert first is not None and len(first) < 1300
    path.write_text("<p>changed</p>\n" * 100)
    os.utime(path, (MTIME, MTIME))
    second = gzipped(cache, path)
    assert second != first


def test_tiny_and_binary_files_are_not_gzipped(tmp_path):
    tiny = tmp_path / "tiny.css"
    tiny.write_text("a{}")
    png = tmp_path / "x.png"
    png.write_bytes(b"\x89PNG" + bytes(1000))
    asked = request(accept_encoding="gzip")
    for path in (tiny, png):
        assert not gzip_applies(Representation.of(path, path.stat()), asked)


def test_a_gzip_form_is_made_once_per_file_version(tmp_path):
    path = tmp_path / "page.html"
    path.write_text("<p>hello</p>\n" * 100)
    cache = FileCache()
    first = gzipped(cache, path)
    assert gzipped(cache, path) is first
    assert cache.compressions == 1


def test_small_files_are_kept_in_memory_and_large_ones_streamed(tmp_path):
    small = tmp_path / "small.txt"
    small.write_bytes(b"x" * 100)
    large = tmp_path / "large.bin"
    large.write_bytes(b"y" * (300 * 1024))
    cache = FileCache()
    assert content(cache, small) == b"x" * 100
    assert content(cache, large) is None


def test_the_cache_stays_within_its_byte_budget(tmp_path):
    cache = FileCache(max_bytes=1000)
    for i in range(10):
        path = tmp_path / f"f{i}.txt"
        path.write_bytes(bytes([65 + i]) * 300)
        content(cache, path)
    assert cache._bytes <= 1000
