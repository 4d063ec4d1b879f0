"""What to send for a file: its type, its validators, and which bytes.

- **Type**: from the file name (``mimetypes``), with ``charset=utf-8`` for
  text, so a browser never has to guess (and sniff).
- **Validators** (RFC 9110 §8.8): ``Last-Modified`` from the file's mtime and
  a strong ``ETag`` built from mtime and size, as nginx does. A request with
  ``If-None-Match`` (or, without it, ``If-Modified-Since``) that still
  matches gets ``304 Not Modified`` and no body; ``If-Match`` /
  ``If-Unmodified-Since`` that fail get ``412``.
- **Ranges** (RFC 9110 §14): one byte range → ``206 Partial Content`` with
  ``Content-Range``; a range past the end → ``416``; several ranges are
  answered with the whole file (allowed, and simpler for everyone).
- **gzip**: text types from 256 bytes to 8 MiB, when the client accepts it
  (nginx's ``gzip_types``: the choice never depends on how well a file
  compresses, so it is made without compressing — a ``HEAD`` gets the same
  answer as a ``GET`` and never costs a compression). The compressed form is a
  different representation, so it has its own ETag, and every answer for a
  compressible type says ``Vary: Accept-Encoding``. A file is compressed once
  per version (size and mtime) and the result kept in a bounded LRU cache
  shared by every connection; larger text files are sent as they are, with
  ``sendfile`` (as a static site without ``gzip_static`` for them would).
"""

from __future__ import annotations

import collections
import email.utils
import gzip
import mimetypes
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from webtrip.web.http1 import Request

COMPRESS_MIN = 256  # smaller files gain nothing from gzip
COMPRESS_MAX = 8 * 1024 * 1024  # larger files are sent as they are (compressing 8 MiB: ~0.25 s)
COMPRESS_INLINE = 64 * 1024  # compressing up to this takes about a millisecond: no thread
SMALL_FILE = 256 * 1024  # files up to this size are kept in memory
_COMPRESSIBLE = re.compile(
    r"^(text/|application/(javascript|json|xml|xhtml\+xml|manifest\+json|wasm)|image/svg\+xml)"
)
_RANGE = re.compile(r"^bytes=([0-9]*)-([0-9]*)$", re.ASCII)

mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("text/javascript", ".mjs")
mimetypes.add_type("application/wasm", ".wasm")
mimetypes.add_type("image/webp", ".webp")
mimetypes.add_type("font/woff2", ".woff2")


def content_type(path: Path | str) -> str:
    """The Content-Type for a file name; text types carry ``charset=utf-8``."""
    guessed, encoding = mimetypes.guess_type(str(path), strict=False)
    if guessed is None or encoding is not None:
        return "application/octet-stream"
    if guessed.startswith("text/") or guessed in ("application/json", "image/svg+xml"):
        return guessed + "; charset=utf-8"
    return guessed


def is_compressible(mime: str) -> bool:
    return bool(_COMPRESSIBLE.match(mime))


@dataclass(frozen=True, slots=True)
class Representation:
    """The validators and type of a file as it is now."""

    path: Path
    size: int
    mtime: float
    etag: str
    last_modified: str
    content_type: str
    compressible: bool

    @classmethod
    def of(cls, path: Path, info: os.stat_result, modified: float | None = None) -> Representation:
        """The representation of ``path`` as ``info`` describes it (memoized).

        ``modified`` replaces the file's mtime in the validators (a simulated world
        gives every file the same one, so that its runs are the same on any machine).
        """
        key = (path, info.st_mtime_ns if modified is None else -1, info.st_size)
        rep = _REPRESENTATIONS.get(key) if modified is None else None
        if rep is None:
            if len(_REPRESENTATIONS) >= 4096:
                _REPRESENTATIONS.clear()
            rep = cls._make(path, info, info.st_mtime if modified is None else modified)
            if modified is None:
                _REPRESENTATIONS[key] = rep
        return rep

    @classmethod
    def _make(cls, path: Path, info: os.stat_result, mtime: float) -> Representation:
        mime = content_type(path)
        return cls(
            path=path,
            size=info.st_size,
            mtime=mtime,
            etag=f'"{int(mtime):x}-{info.st_size:x}"',
            last_modified=email.utils.formatdate(mtime, usegmt=True),
            content_type=mime,
            compressible=is_compressible(mime),
        )


_REPRESENTATIONS: dict[tuple[Path, int, int], Representation] = {}


def _etag_list(value: str) -> list[str]:
    return [tag.strip() for tag in value.split(",") if tag.strip()]


def _weak_match(a: str, b: str) -> bool:
    return a.removeprefix("W/") == b.removeprefix("W/")


def _http_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None  # also a year or a zone offset too big for a date
    try:
        return parsed.timestamp()
    except (ValueError, OverflowError):
        return None


def precondition(request: Request, etag: str, mtime: float) -> int | None:
    """The status a conditional request gets (304 or 412), or None to proceed.

    RFC 9110 §13.2.2 order: If-Match, If-Unmodified-Since, If-None-Match,
    If-Modified-Since (the latter only for GET/HEAD and without If-None-Match).
    """
    seconds = int(mtime)
    if_match = request.header("if-match")
    if if_match is not None:
        tags = _etag_list(if_match)
        if "*" not in tags and not any(t == etag and not t.startswith("W/") for t in tags):
            return 412
    else:
        since = _http_date(request.header("if-unmodified-since"))
        if since is not None and seconds > since:
            return 412
    if_none_match = request.header("if-none-match")
    if if_none_match is not None:
        tags = _etag_list(if_none_match)
        if "*" in tags or any(_weak_match(t, etag) for t in tags):
            return 304 if request.method in ("GET", "HEAD") else 412
        return None
    if request.method in ("GET", "HEAD"):
        since = _http_date(request.header("if-modified-since"))
        if since is not None and seconds <= since:
            return 304
    return None


def byte_range(
    request: Request, size: int, etag: str, last_modified: str
) -> tuple[int, int] | str | None:
    """The one range to send as (first, last) inclusive, "unsatisfiable", or None (send all)."""
    value = request.header("range")
    if value is None or request.method != "GET":
        return None
    if_range = request.header("if-range")
    if if_range is not None and if_range.strip() not in (etag, last_modified):
        return None  # the client's copy is outdated: it needs the whole file
    match = _RANGE.match(value.strip().replace(" ", ""))
    if match is None:
        return None  # several ranges or another unit: allowed to ignore (RFC 9110 §14.2)
    first_text, last_text = match.groups()
    if not first_text and not last_text:
        return None
    if not all(_fits(text) for text in (first_text, last_text) if text):
        return "unsatisfiable"  # as nginx: a position past 2**63 - 1 fits no file
    if not first_text:  # the last N bytes
        suffix = int(last_text)
        if suffix == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - suffix), size - 1
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if last_text and last < first:
        return None  # invalid: ignore the header
    if first >= size:
        return "unsatisfiable"
    return first, min(last, size - 1)


MAX_POSITION = 2**63 - 1
"""The largest byte position a Range may name (nginx's off_t): a larger one is
refused with 416 before ``int()`` is asked to read it (it refuses 4,300 digits)."""


def _fits(digits: str) -> bool:
    """True if the ASCII decimal ``digits`` name a byte position up to MAX_POSITION."""
    digits = digits.lstrip("0") or "0"
    return len(digits) <= len(str(MAX_POSITION)) and int(digits) <= MAX_POSITION


def accepts_gzip(request: Request) -> bool:
    """True if Accept-Encoding allows gzip (q > 0), per RFC 9110 §12.5.3."""
    value = request.header("accept-encoding")
    if not value:
        return False
    gzip_q = star_q = None
    for item in value.split(","):
        coding, _, params = item.strip().partition(";")
        coding = coding.strip().lower()
        quality = 1.0
        for param in params.split(";"):
            key, _, number = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(number)
                except ValueError:
                    quality = 0.0
        if coding in ("gzip", "x-gzip"):
            gzip_q = quality
        elif coding == "*":
            star_q = quality
    if gzip_q is not None:
        return gzip_q > 0
    return star_q is not None and star_q > 0


_Stamp = tuple[int, float]
"""A file's size and modification time: a cached copy is good while both are the same."""


class FileCache:
    """Bounded in-memory copies of small files and of gzip-compressed text files.

    Entries are keyed by path and checked against the file's current size and
    mtime on every use, so an edited file is never served stale.
    """

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._entries: collections.OrderedDict[tuple[str, bool], tuple[_Stamp, bytes]] = (
            collections.OrderedDict()
        )
        self._bytes = 0
        self.compressions = 0  # gzip forms made and kept: a HEAD never adds one

    def _get(self, key: tuple[str, bool], stamp: _Stamp) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] != stamp:
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def _put(self, key: tuple[str, bool], stamp: _Stamp, data: bytes) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= len(old[1])
        self._entries[key] = (stamp, data)
        self._bytes += len(data)
        while self._bytes > self.max_bytes and self._entries:
            _, (_, dropped) = self._entries.popitem(last=False)
            self._bytes -= len(dropped)

    def content(self, rep: Representation, file: BinaryIO) -> bytes | None:
        """The bytes of ``file`` (open, as ``rep`` describes it) if it is small, else None."""
        if rep.size > SMALL_FILE:
            return None
        key, stamp = (str(rep.path), False), (rep.size, rep.mtime)
        data = self._get(key, stamp)
        if data is None:
            data = _read(file, rep.size)
            if data is None:
                return None
            self._put(key, stamp, data)
        return data

    def gzipped(self, rep: Representation) -> bytes | None:
        """The gzip form of ``rep`` if it is already compressed, else None (never compresses)."""
        return self._get((str(rep.path), True), (rep.size, rep.mtime))

    def compress(self, rep: Representation, fd: int) -> bytes | None:
        """Read the file open as ``fd`` (as ``rep`` describes it), gzip it and keep the result.

        Returns None if the file changed while being read (it is then sent as it is).
        This is the slow part (about 25 ms a megabyte): a server runs it off its
        event loop. It reads with ``pread``, so it shares no file position with
        anyone, and it may run in another thread: the cache is only touched
        at the end, in one step.
        """
        try:
            raw = os.pread(fd, rep.size + 1, 0)
        except OSError:
            return None
        if len(raw) != rep.size:
            return None
        # mtime=0: the same file always compresses to the same bytes.
        return gzip.compress(raw, compresslevel=6, mtime=0)

    def keep_gzipped(self, rep: Representation, data: bytes) -> None:
        """Remember ``data`` as the gzip form of ``rep`` (called on the event loop)."""
        self._put((str(rep.path), True), (rep.size, rep.mtime), data)
        self.compressions += 1


def gzip_applies(rep: Representation, request: Request) -> bool:
    """True if the answer to ``request`` is ``rep``'s gzip form (decided without compressing).

    A compressible type of COMPRESS_MIN to COMPRESS_MAX bytes, asked for whole
    (a range is of the file as it is) by a client that accepts gzip.
    """
    return (
        rep.compressible
        and COMPRESS_MIN <= rep.size <= COMPRESS_MAX
        and request.header("range") is None
        and accepts_gzip(request)
    )


def _read(file: BinaryIO, size: int) -> bytes | None:
    try:
        file.seek(0)
        data = file.read(size + 1)
    except OSError:
        return None
    return data if len(data) == size else None  # changed while reading: stream it instead
