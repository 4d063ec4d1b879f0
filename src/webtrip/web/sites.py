"""Virtual hosts and safe paths: which folder answers, and which file a URL means.

A request names its site in the Host header (RFC 9110 §7.2); each site is a
folder, and one may be the default for any other name. Turning a URL path
into a file is where static servers are most often broken, so it is done in
one place, with one rule: **the answer is a file inside the site's folder, or
no file at all**. The path is percent-decoded once; encoded slashes and
backslashes, NUL, and ``..`` segments are refused (any other bytes,
UTF-8 or not, name the same bytes on disk); hidden names (a leading
dot, except ``/.well-known/``) are not served; and the real path, after
following every symlink, must still be inside the folder — compared as paths
(``is_relative_to``), never as string prefixes (the CVE-2023-29159 mistake).
"""

from __future__ import annotations

import errno
import os
import stat
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO


class SiteError(Exception):
    """A site folder cannot be served; the message is one sentence for the user."""


@dataclass(frozen=True, slots=True)
class Site:
    """A folder served under a host name ("" for the default site)."""

    name: str
    root: Path  # absolute, symlinks resolved

    @classmethod
    def from_folder(cls, name: str, folder: str | os.PathLike[str]) -> Site:
        """Raise SiteError if ``folder`` is not a readable directory."""
        path = Path(folder)
        if not path.is_dir():
            raise SiteError(f"{path}: not a folder, so it cannot be served as a site")
        if not os.access(path, os.R_OK | os.X_OK):
            raise SiteError(f"{path}: the folder cannot be read")
        return cls(normalize_host(name) if name else "", Path(os.path.realpath(path)))


class SiteMap:
    """Sites by host name, and an optional default site for any other name."""

    def __init__(self, sites: list[Site]) -> None:
        self.default: Site | None = None
        self.by_name: dict[str, Site] = {}
        for site in sites:
            if not site.name:
                self.default = site
            else:
                self.by_name[site.name] = site

    def for_host(self, host: str | None) -> Site | None:
        """The site for a Host header value (the default site if none matches)."""
        if host is not None:
            site = self.by_name.get(normalize_host(host))
            if site is not None:
                return site
        return self.default


def normalize_host(value: str) -> str:
    """``WWW.Example.test.:8080`` → ``www.example.test``; ``[::1]:80`` → ``[::1]``."""
    host = value.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        return host[: end + 1] if end > 0 else host
    host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return host.rstrip(".")


@dataclass(frozen=True, slots=True)
class Found:
    """A regular file to serve."""

    path: Path
    stat: os.stat_result


@dataclass(frozen=True, slots=True)
class Listing:
    """A folder without index.html, to list (if listing is on)."""

    path: Path
    url_path: str


@dataclass(frozen=True, slots=True)
class Redirect:
    """The URL names a folder without the final slash: send the client there."""

    location: str


@dataclass(frozen=True, slots=True)
class Refused:
    """No file: ``status`` (400 or 404 or 403) and why, for the error page."""

    status: int
    reason: str


Resolution = Found | Listing | Redirect | Refused

_HIDDEN_ALLOWED = {".well-known"}


def split_target(target: str) -> tuple[str, str, str | None]:
    """Split a request-target into (path, query, host-from-absolute-form)."""
    host = None
    if not target.startswith("/"):
        parts = urllib.parse.urlsplit(target)
        if parts.scheme.lower() in ("http", "https") and parts.netloc:
            host = parts.netloc
            target = parts.path or "/"
            if parts.query:
                target += "?" + parts.query
    path, _, query = target.partition("?")
    return path, query, host


def resolve(site: Site, url_path: str, query: str = "", *, index: str = "index.html") -> Resolution:
    """The file (or redirect, or refusal) that ``url_path`` names in ``site``."""
    if not url_path.startswith("/"):
        return Refused(400, "the path must start with /")
    raw_segments = url_path.split("/")
    segments: list[str] = []
    for raw in raw_segments:
        lowered = raw.lower()
        if "%2f" in lowered or "%5c" in lowered or "%00" in lowered:
            return Refused(400, "encoded slashes, backslashes and NUL are not allowed in a path")
        # Percent-encoded bytes name the bytes on disk, UTF-8 or not (as nginx):
        # b"caf\xe9.txt" is /caf%E9.txt, held as the str os.fsdecode gives it.
        segment = os.fsdecode(urllib.parse.unquote_to_bytes(raw))
        if "\\" in segment or "\x00" in segment:
            return Refused(400, "backslashes and NUL are not allowed in a path")
        if segment == "..":
            return Refused(400, "'..' is not allowed in a path")
        if segment in ("", "."):
            continue
        if segment.startswith(".") and segment not in _HIDDEN_ALLOWED:
            return Refused(404, "hidden files are not served")
        segments.append(segment)

    candidate = os.path.join(site.root, *segments)
    real = os.path.realpath(candidate)
    if real != str(site.root) and not Path(real).is_relative_to(site.root):
        return Refused(404, "not found")  # a symlink leads out of the site: say nothing more
    try:
        info = os.stat(real)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG):
            return Refused(404, "not found")
        return Refused(403, "this file cannot be read")

    if stat.S_ISDIR(info.st_mode):
        clean = "/" + "/".join(urllib.parse.quote(os.fsencode(s)) for s in segments)
        if not url_path.endswith("/"):
            # Built from the clean segments: never "//host/...", so never an
            # open redirect to another site (CVE-2021-28861).
            location = clean.rstrip("/") + "/" + ("?" + query if query else "")
            return Redirect(location)
        index_path = os.path.realpath(os.path.join(real, index))
        try:
            index_info = os.stat(index_path)
        except OSError:
            return Listing(Path(real), clean.rstrip("/") + "/")
        if stat.S_ISREG(index_info.st_mode) and Path(index_path).is_relative_to(site.root):
            return Found(Path(index_path), index_info)
        return Listing(Path(real), clean.rstrip("/") + "/")
    if not stat.S_ISREG(info.st_mode):
        return Refused(404, "not found")  # devices, sockets, FIFOs are not files to serve
    if url_path.endswith("/"):
        return Refused(404, "not found")
    return Found(Path(real), info)


_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    # A FIFO swapped in must not block the server in open(); on a regular file
    # O_NONBLOCK changes nothing.
    | getattr(os, "O_NONBLOCK", 0)
)


def open_inside(root: Path, path: Path) -> tuple[BinaryIO, os.stat_result] | Refused:
    """Open ``path`` if the file opened is a regular file inside ``root``.

    A path found a moment ago may have been replaced since by a symlink to a
    file outside (a cached resolution, or a race with :func:`resolve`), so the
    check is made on the open file itself: where the kernel says that file is
    (``/proc/self/fd/N``), and what it is (``fstat``). The caller closes the file.
    """
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG, errno.ELOOP):
            return Refused(404, "not found")
        return Refused(403, "this file cannot be read")
    try:
        info = os.fstat(fd)
        real = _where_open(fd, path, info)
        inside = real is not None and (real == root or real.is_relative_to(root))
        if not inside or not stat.S_ISREG(info.st_mode):
            os.close(fd)
            return Refused(404, "not found")  # swapped for a way out, or for a non-file
        return os.fdopen(fd, "rb"), info
    except BaseException:
        os.close(fd)
        raise


def _where_open(fd: int, path: Path, info: os.stat_result) -> Path | None:
    """The real path of the file open as ``fd``, or None if it cannot be told."""
    try:
        link = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        link = None
    if link is not None and link.startswith("/"):
        return Path(link.removesuffix(" (deleted)"))
    # No /proc (not Linux): the path's real path, if it still names the same file.
    real = os.path.realpath(path)
    try:
        now = os.stat(real)
    except OSError:
        return None
    return Path(real) if (now.st_dev, now.st_ino) == (info.st_dev, info.st_ino) else None


class CachedResolver:
    """:func:`resolve` with a short memory, for busy servers.

    Walking a path through the file system (every component ``lstat``-ed to
    follow symlinks) costs more than the rest of a small request. Results are
    kept for ``ttl`` seconds of the given clock — a symlink changed in the
    meantime is seen after at most that long, like nginx's open_file_cache.
    A found file is still ``stat``-ed on every use, so its existence is
    always current. A cached answer is never trusted for what is sent: the
    server opens the file with :func:`open_inside`, which checks the file
    actually opened (a file replaced by a symlink leading outside is refused
    at once, not a second later).
    """

    def __init__(self, clock: Callable[[], float], ttl: float = 1.0, size: int = 4096) -> None:
        self.clock = clock
        self.ttl = ttl
        self.size = size
        self._entries: dict[tuple[Path, str, str], tuple[float, Resolution]] = {}

    def resolve(self, site: Site, url_path: str, query: str = "") -> Resolution:
        key = (site.root, url_path, query)
        now = self.clock()
        entry = self._entries.get(key)
        if entry is not None and now - entry[0] < self.ttl:
            found = entry[1]
            if not isinstance(found, Found):
                return found
            try:
                info = os.stat(found.path)
            except OSError:
                info = None
            if info is not None and stat.S_ISREG(info.st_mode):
                return Found(found.path, info)
        found = resolve(site, url_path, query)
        if len(self._entries) >= self.size:
            self._entries.clear()
        self._entries[key] = (now, found)
        return found
