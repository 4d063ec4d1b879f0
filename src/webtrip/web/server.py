"""The web server actor: HTTP/1.1 over a :class:`~webtrip.net.Network`, serving folders.

One task per connection runs a simple loop — wait for a request, answer it,
repeat while the connection is persistent. Requests that arrive together
(pipelining) are answered in order. Two timers protect the server from clients
that hold a connection without using it (slowloris): an idle timer between
requests and a header timer from a request's first byte to the end of its
head (a total deadline, like nginx's client_header_timeout). A cap on open
connections bounds the rest. When the cap is reached, a new connection takes
the place of one that is using nothing — the connection idle the longest
between requests (or waiting for its first), else the one that has been
sending a request head the longest (slowloris) — and only when every
connection is busy sending an answer does the new one get ``503``.

A refusal (413, 431...) is followed by a lingering close, as nginx does: the
reply is sent, the server's side is shut for writing, and what the client
still sends is read and dropped for a moment, so the client reads the error
page instead of a reset.

Every request and response is recorded in the trace; the server prints
nothing. With tracing off the trace costs nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import itertools
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from webtrip import __version__
from webtrip.net import Address, FileEnded, Network, Stream, TcpListener
from webtrip.net.deadline import Deadline
from webtrip.trace import (
    NULL_TRACE,
    HttpBodySent,
    HttpExchangeCompleted,
    HttpRequestReceived,
    HttpResponseHeadSent,
    TcpConnectionClosed,
    TcpConnectionOpened,
    Trace,
)
from webtrip.web import files
from webtrip.web.files import FileCache, Representation
from webtrip.web.http1 import HttpError, Limits, Request, RequestParser, response_head
from webtrip.web.languages import accepted_languages, choose_language, language_folders
from webtrip.web.pages import error_page, listing_page
from webtrip.web.sites import (
    CachedResolver,
    Found,
    Listing,
    Redirect,
    Refused,
    Site,
    SiteMap,
    open_inside,
    split_target,
)

ALLOWED = "GET, HEAD, OPTIONS"
SEND_SLICE = 64 * 1024  # a body held in memory is sent this much at a time


@dataclass
class WebServerOptions:
    """Limits, timeouts and switches; the defaults suit a public server."""

    limits: Limits = field(default_factory=Limits)
    header_timeout: float = 10.0  # from a request's first byte to the end of its head
    # From accepting a connection to its first request's first byte: nginx's
    # client_header_timeout (60 s), longer than the wait between requests, as a
    # request on a lossy path may take several retransmission timeouts to arrive.
    first_request_timeout: float = 60.0
    keepalive_timeout: float = 15.0  # idle time allowed between requests
    send_timeout: float = 60.0  # time to send one response to a client that reads slowly
    max_connections: int = 512
    list_folders: bool = False
    server_name: str = f"webtrip/{__version__}"
    # When every file was last modified, for Last-Modified and ETag (None: each file's
    # mtime). A simulated world sets one, so its validators are the same on any machine.
    files_modified: float | None = None
    # The language of a site's own files; translations are in folders named
    # by language (es/...), chosen by Accept-Language (web/languages.py).
    default_language: str = "en"


@dataclass(frozen=True)
class _Language:
    """What language negotiation decided for a file: its language, and how it was chosen."""

    language: str
    negotiated: bool  # chosen from Accept-Language: the answer varies with it
    location: str | None = None  # the chosen translation's own URL (Content-Location)


@dataclass
class _Reply:
    """A response about to be sent: status, headers, and a body as bytes or a file range."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    file: Representation | None = None
    handle: BinaryIO | None = None  # the file, open, when the body is sent from it
    offset: int = 0
    count: int = 0
    close: bool = False
    # The body is this file's gzip form, made (or taken from the cache) when it is sent.
    gzip: Representation | None = None
    # A HEAD for a gzip form not made yet: its length is known only by making it, so
    # Content-Length is left out (RFC 9110 §9.3.2 allows it) rather than compress for HEAD.
    length_unknown: bool = False


@dataclass(eq=False)
class _Connection:
    """An open connection, as the cap sees it: what it is doing, and whether it was reclaimed."""

    number: int
    stream: Stream
    task: asyncio.Task[None] | None
    reclaimed: str | None = None  # why, once its place was given to a new connection
    since: float = 0.0  # when it began waiting as it is (idle, or part-way through a head)


# Lingering close after a refusal (nginx: lingering_time 30 s, lingering_timeout 5 s):
# long enough for a client's in-flight bytes, bounded in time and bytes.
LINGER_SECONDS = 2.0
IDLE_GRACE = 1.0
"""Seconds a connection must have been idle before it gives its place ahead of a slow
header sender (a client between two requests is not idle in any useful sense sooner)."""
LINGER_BYTES = 64 * 1024


class _Truncated(Exception):
    """A response's body ended early (its file shrank): the connection must close."""


class WebServer:
    """A static web server with virtual hosts."""

    def __init__(
        self,
        network: Network,
        sites: SiteMap,
        trace: Trace = NULL_TRACE,
        *,
        actor: str = "web-server",
        options: WebServerOptions | None = None,
    ) -> None:
        self.network = network
        self.sites = sites
        self.trace = trace
        self.actor = actor
        self.options = options or WebServerOptions()
        self.cache = FileCache()
        # Big files being compressed (off the event loop): every request for the same
        # file version waits for the one compression, and at most two run at once.
        self._compressing: dict[tuple[str, int, float], asyncio.Task[bytes | None]] = {}
        self._compressors = asyncio.Semaphore(2)
        self.resolver = CachedResolver(network.now)
        self._languages: dict[Site, tuple[float, tuple[str, ...]]] = {}
        self.listeners: list[TcpListener] = []
        self._open = 0
        # Connections that could give their place to a new one, oldest first
        # (a dict keeps the order in which they were put in).
        self._idle: dict[int, _Connection] = {}
        self._in_header: dict[int, _Connection] = {}
        self._ids = itertools.count(1)
        self._date_second = -1
        self._date = ""

    @property
    def addresses(self) -> list[Address]:
        return [address for listener in self.listeners for address in listener.addresses]

    async def start(self, addresses: Sequence[Address]) -> None:
        """Listen on each address; raise OSError naming the one that cannot be bound."""
        chosen = 0
        for host, port in addresses:
            try:
                # Port 0 means "any free port": every address then shares the first one chosen.
                listener = await self.network.start_tcp_server(self._serve, host, port or chosen)
                self.listeners.append(listener)
                chosen = chosen or listener.addresses[0][1]
            except OSError as exc:
                await self.aclose()
                where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
                raise OSError(
                    exc.errno, f"cannot listen on {where}: {exc.strerror or exc}"
                ) from exc

    async def aclose(self) -> None:
        for listener in self.listeners:
            await listener.aclose()
        self.listeners.clear()

    # --- one connection ---------------------------------------------------------------

    async def _serve(self, stream: Stream) -> None:
        trace, actor = self.trace, self.actor
        connection = next(self._ids)
        local, peer = stream.local_address, stream.peer_address
        trace.record(TcpConnectionOpened(trace.now(), actor, local, peer, connection))
        if self._open >= self.options.max_connections and not self._reclaim():
            reason = "connection limit"
            reply = self._error(503, "the server is busy; try again shortly", close=True)
            reply.headers.append(("Retry-After", "1"))
            with contextlib.suppress(ConnectionError):
                await self._send(stream, connection, None, reply)
            await stream.aclose()
            trace.record(TcpConnectionClosed(trace.now(), actor, local, peer, connection, reason))
            return
        self._open += 1
        conn = _Connection(connection, stream, asyncio.current_task())
        reason = "server error"
        try:
            reason = await self._requests(stream, conn)
            if reason.startswith("refused"):
                await self._linger(stream)
        except _Truncated:
            # Fewer bytes than Content-Length said: whatever came next would be
            # read as the rest of this body. Close after the bytes sent (nginx
            # logs it as "truncated" and closes too).
            reason = "file shrank"
        except ConnectionError:
            reason = "connection reset"
        except asyncio.CancelledError:
            reason = "server stopped"  # shut down while the connection was still open
            raise
        except Exception as exc:  # a bug must cost one connection, never the server
            reason = f"server error: {type(exc).__name__}: {exc}"
            stream.abort()
        finally:
            self._idle.pop(connection, None)
            self._in_header.pop(connection, None)
            if conn.reclaimed is None:  # a reclaimed one was counted out already
                self._open -= 1
            if reason == "connection reset":
                stream.abort()
            else:
                await stream.aclose()
            trace.record(TcpConnectionClosed(trace.now(), actor, local, peer, connection, reason))

    def _reclaim(self) -> bool:
        """Close the connection that is using its place least; False if every one is busy.

        First a connection idle (waiting for a first or next request) for at least
        :data:`IDLE_GRACE`, the longest idle first; then the one part-way through a
        request head the longest (a slow or slowloris sender); then any idle one. So an
        honest client between two requests for a millisecond is not closed while a head
        has been trickling in for seconds."""
        now = self.network.now()
        idle = next(iter(self._idle.values()), None)
        if idle is not None and now - idle.since >= IDLE_GRACE:
            victim, why = self._idle.pop(idle.number), "reclaimed: idle"
        elif self._in_header:
            victim, why = self._in_header.pop(next(iter(self._in_header))), "reclaimed: slow"
        elif idle is not None:
            victim, why = self._idle.pop(idle.number), "reclaimed: idle"
        else:
            return False
        victim.reclaimed = why
        self._open -= 1
        if victim.task is not None:
            victim.task.cancel()  # its _requests returns ``why``; _serve closes it
        return True

    async def _linger(self, stream: Stream) -> None:
        """After a refusal: shut writing, read and drop what still comes, for a moment."""
        dropped = 0
        with contextlib.suppress(ConnectionError, TimeoutError):
            await stream.close_write()
            async with asyncio.timeout(LINGER_SECONDS):
                while dropped < LINGER_BYTES:
                    data = await stream.receive_some(LINGER_BYTES - dropped)
                    if not data:
                        break
                    dropped += len(data)

    async def _requests(self, stream: Stream, conn: _Connection) -> str:
        """Answer requests until the connection should end; return why it ended."""
        options = self.options
        connection = conn.number
        parser = RequestParser(options.limits)
        deadline = Deadline(options.first_request_timeout)
        state = "idle"
        conn.since = self.network.now()
        self._idle[connection] = conn
        try:
            while True:
                while not parser.requests:
                    if parser.error is not None:
                        # Found after earlier requests, which have now been answered.
                        error = parser.error
                        reply = self._error(error.status, error.message, close=True)
                        await self._send(stream, connection, None, reply)
                        return f"refused: {error.status}"
                    waiting = parser.expecting_continue
                    if waiting is not None:
                        parser.expecting_continue = None
                        if waiting.method not in ("GET", "HEAD", "OPTIONS"):
                            # The final answer needs no body: give it now and close,
                            # rather than make the client send a body we would drop.
                            received = self._record_request(stream, connection, waiting)
                            reply = self._respond(waiting)
                            reply.close = True
                            await self._send(stream, connection, waiting, reply, received)
                            return "closed after response"
                        await stream.send_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                    data = await stream.receive_some(65536)
                    if not data:
                        return "client closed"
                    try:
                        parser.feed(data)
                    except HttpError as exc:
                        reply = self._error(exc.status, exc.message, close=True)
                        await self._send(stream, connection, None, reply)
                        return f"refused: {exc.status}"
                    if parser.in_message and state == "idle":
                        # A request has begun but is not complete: from now on
                        # its head must arrive within the header timeout.
                        state = "header"
                        deadline.extend(options.header_timeout)
                        self._idle.pop(connection, None)
                        conn.since = self.network.now()
                        self._in_header[connection] = conn
                state = "sending"
                self._idle.pop(connection, None)
                self._in_header.pop(connection, None)
                request = parser.requests.popleft()
                received = self._record_request(stream, connection, request)
                reply = self._respond(request)
                if not request.keep_alive or request.upgrade:
                    reply.close = True
                deadline.extend(options.send_timeout)
                await self._send(stream, connection, request, reply, received)
                if reply.close:
                    return "closed after response"
                state = "idle"
                deadline.extend(options.keepalive_timeout)
                conn.since = self.network.now()
                self._idle[connection] = conn
        except asyncio.CancelledError:
            if conn.reclaimed is not None and conn.task is not None:
                conn.task.uncancel()
                return conn.reclaimed
            if not deadline.expired():
                raise
            if state == "header":
                reply = self._error(408, "the request took too long to arrive", close=True)
                with contextlib.suppress(ConnectionError):
                    await self._send(stream, connection, None, reply)
                return "header timeout"
            return "idle timeout" if state == "idle" else "send timeout"
        finally:
            deadline.cancel()

    def _record_request(self, stream: Stream, connection: int, request: Request) -> float:
        """Record the request; return its time (0.0 with tracing off)."""
        trace = self.trace
        if not trace.enabled:
            return 0.0
        received = trace.now()
        trace.record(
            HttpRequestReceived(
                received,
                self.actor,
                connection,
                stream.local_address,
                stream.peer_address,
                request.method,
                request.target,
                request.version,
                tuple(request.headers),
            )
        )
        return received

    # --- deciding the response --------------------------------------------------------

    def _respond(self, request: Request) -> _Reply:
        method = request.method
        if method == "OPTIONS":
            return _Reply(204, [("Allow", ALLOWED)])
        if method not in ("GET", "HEAD"):
            reply = self._error(405, f"{method} is not allowed here; this server only reads")
            reply.headers.append(("Allow", ALLOWED))
            return reply
        path, query, absolute_host = split_target(request.target)
        host = absolute_host or request.header("host")
        site = self.sites.for_host(host)
        if site is None:
            return self._error(404, f"this server has no site named '{host or ''}'")
        found = self.resolver.resolve(site, path, query)
        language = None
        if isinstance(found, Found | Refused):
            found, language = self._language_of(request, site, path, query, found)
        if isinstance(found, Refused):
            return self._error(found.status, found.reason)
        if isinstance(found, Redirect):
            reply = self._error(301, "this folder's address ends with a slash")
            reply.headers.append(("Location", found.location))
            return reply
        if isinstance(found, Listing):
            if not self.options.list_folders:
                return self._error(403, "this folder has no index.html and listing is off")
            body = listing_page(found.path, found.url_path, self.options.server_name)
            return _Reply(200, [("Content-Type", "text/html; charset=utf-8")], body)
        assert isinstance(found, Found)
        # The resolution may be a second old: what is sent is the file opened now,
        # checked to be inside the site (a file swapped for a symlink is refused).
        opened = open_inside(site.root, found.path)
        if isinstance(opened, Refused):
            return self._error(opened.status, opened.reason)
        handle, info = opened
        kept = False
        try:
            modified = self.options.files_modified
            rep = Representation.of(found.path, info, modified)
            answer = self._file_reply(request, rep, handle, language)
            kept = answer.handle is handle  # then closed once sent
        finally:
            if not kept:
                handle.close()
        return answer

    # --- language negotiation (web/languages.py) -------------------------------------

    def _language_of(
        self, request: Request, site: Site, path: str, query: str, found: Found | Refused
    ) -> tuple[Found | Refused, _Language | None]:
        """The file to send for ``path`` and its language, when the site has translations.

        ``/es/...`` names its language; ``/en/...`` (the default language, with no
        ``en/`` folder) is the site's own file; any other path is negotiated
        between the site's own file and its translations that exist.
        """
        languages = self._site_languages(site)
        if not languages:
            return found, None
        default = self.options.default_language
        first, _, rest = path[1:].partition("/")
        first = first.lower()
        if first in languages:
            return found, _Language(first, negotiated=False)
        if first == default and path.startswith(f"/{first}/"):
            own = self.resolver.resolve(site, "/" + rest, query)
            if isinstance(own, Found):
                return own, _Language(default, negotiated=False)
            return found, None
        if not isinstance(found, Found):
            return found, None
        translations: dict[str, Found] = {}
        for language in languages:
            translated = self.resolver.resolve(site, f"/{language}{path}", query)
            if isinstance(translated, Found):
                translations[language] = translated
        if not translations:
            return found, None
        wanted = accepted_languages(request.header("accept-language"))
        chosen = choose_language(wanted, [default, *translations], default)
        if chosen == default:
            return found, _Language(default, negotiated=True)
        location = f"/{chosen}{path}" + (f"?{query}" if query else "")
        return translations[chosen], _Language(chosen, negotiated=True, location=location)

    def _site_languages(self, site: Site) -> tuple[str, ...]:
        """The site's translation folders, looked at again after a second of the world's clock."""
        now = self.network.now()
        known = self._languages.get(site)
        if known is not None and now - known[0] < 1.0:
            return known[1]
        try:
            with os.scandir(site.root) as entries:
                names = [entry.name for entry in entries if entry.is_dir()]
        except OSError:
            names = []
        languages = language_folders(names)
        self._languages[site] = (now, languages)
        return languages

    def _file_reply(
        self,
        request: Request,
        rep: Representation,
        handle: BinaryIO,
        language: _Language | None = None,
    ) -> _Reply:
        """The reply for a file open as ``handle``; the reply keeps it if it sends from it.

        Whether the answer is the gzip form is decided without compressing
        (:func:`files.gzip_applies`); the compression itself, if the form is not
        cached yet, happens when a GET's body is about to be sent — never for HEAD
        or for a 304.
        """
        gzipped = files.gzip_applies(rep, request)
        etag = rep.etag
        if language is not None and language.negotiated:
            # Each language of one URL is its own representation: its own ETag.
            etag = etag[:-1] + f'-{language.language}"'
        if gzipped:
            etag = etag[:-1] + '-gzip"'
        headers = [
            ("Content-Type", rep.content_type),
            ("Last-Modified", rep.last_modified),
            ("ETag", etag),
            ("Accept-Ranges", "bytes"),
        ]
        varies = ["Accept-Encoding"] if rep.compressible else []
        if language is not None:
            headers.append(("Content-Language", language.language))
            if language.negotiated:
                varies.append("Accept-Language")
            if language.location is not None:
                headers.append(("Content-Location", language.location))
        if varies:
            headers.append(("Vary", ", ".join(varies)))
        status = files.precondition(request, etag, rep.mtime)
        if status == 304:
            return _Reply(304, headers)
        if status == 412:
            return self._error(412, "the file has changed since the client last saw it")
        if gzipped:
            headers.append(("Content-Encoding", "gzip"))
            made = self.cache.gzipped(rep)
            if made is not None:
                return _Reply(200, headers, made)
            if request.method == "HEAD":
                return _Reply(200, headers, length_unknown=True)
            return _Reply(200, headers, gzip=rep, handle=handle)
        wanted = files.byte_range(request, rep.size, etag, rep.last_modified)
        if wanted == "unsatisfiable":
            reply = self._error(416, "the requested range is beyond the end of the file")
            reply.headers.append(("Content-Range", f"bytes */{rep.size}"))
            return reply
        first, last, status = 0, rep.size - 1, 200
        if isinstance(wanted, tuple):
            first, last, status = wanted[0], wanted[1], 206
            headers.append(("Content-Range", f"bytes {first}-{last}/{rep.size}"))
        count = last - first + 1
        if request.method == "HEAD":
            return _Reply(status, headers, file=rep, offset=first, count=count)
        content = self.cache.content(rep, handle)
        if content is not None:
            return _Reply(status, headers, content[first : last + 1])
        return _Reply(status, headers, file=rep, handle=handle, offset=first, count=count)

    def _error(self, status: int, message: str, *, close: bool = False) -> _Reply:
        body = error_page(status, message, self.options.server_name)
        return _Reply(status, [("Content-Type", "text/html; charset=utf-8")], body, close=close)

    # --- sending ----------------------------------------------------------------------

    def _date_header(self) -> str:
        now = self.network.wall_time()
        second = int(now)
        if second != self._date_second:
            self._date_second = second
            self._date = email.utils.formatdate(second, usegmt=True)
        return self._date

    async def _send(
        self,
        stream: Stream,
        connection: int,
        request: Request | None,
        reply: _Reply,
        received: float = 0.0,
    ) -> None:
        """Send ``reply``: head, then the body unless HEAD or 1xx/204/304.

        Raise :class:`_Truncated` if the body's file shrank, once what it had is
        sent and recorded.
        """
        try:
            if reply.gzip is not None and reply.handle is not None:
                await self._make_gzip_body(reply, reply.gzip, reply.handle)
            await self._send_reply(stream, connection, request, reply, received)
        finally:
            if reply.handle is not None:
                reply.handle.close()

    async def _make_gzip_body(self, reply: _Reply, rep: Representation, handle: BinaryIO) -> None:
        """Make ``reply``'s body the gzip form of ``rep`` (compressing it once, if not cached).

        If the file changed while it was read, the reply becomes the file as it is
        (its own ETag, no Content-Encoding), sent from ``handle``.
        """
        made = self.cache.gzipped(rep)
        if made is None:
            if rep.size <= files.COMPRESS_INLINE:
                made = self.cache.compress(rep, handle.fileno())
                if made is not None:
                    self.cache.keep_gzipped(rep, made)
            else:
                key = (str(rep.path), rep.size, rep.mtime)
                task = self._compressing.get(key)
                if task is None:
                    # The task owns its own descriptor: this connection's may be
                    # closed (a timeout, a reset) before the compression ends.
                    task = asyncio.ensure_future(self._compress(rep, os.dup(handle.fileno())))
                    self._compressing[key] = task
                    task.add_done_callback(lambda _: self._compressing.pop(key, None))
                made = await asyncio.shield(task)
        if made is not None:
            reply.body = made
            return
        reply.headers = [
            (name, value.replace('-gzip"', '"') if name == "ETag" else value)
            for name, value in reply.headers
            if name != "Content-Encoding"
        ]
        reply.file, reply.offset, reply.count = rep, 0, rep.size

    async def _compress(self, rep: Representation, fd: int) -> bytes | None:
        """Compress the file open as ``fd`` in the world's worker (a thread), then keep it."""

        started = False

        def work() -> bytes | None:
            nonlocal started
            started = True
            try:
                return self.cache.compress(rep, fd)
            finally:
                os.close(fd)

        try:
            async with self._compressors:
                made = await self.network.run_blocking(work)
        finally:
            if not started:  # stopped before the work began (the server shut down)
                os.close(fd)
        if made is not None:
            self.cache.keep_gzipped(rep, made)
        return made

    async def _send_reply(
        self,
        stream: Stream,
        connection: int,
        request: Request | None,
        reply: _Reply,
        received: float,
    ) -> None:
        head_only = request is not None and request.method == "HEAD"
        no_body = reply.status in (204, 304) or reply.status < 200
        length = reply.count if reply.file is not None else len(reply.body)
        headers = [("Server", self.options.server_name), ("Date", self._date_header())]
        headers += reply.headers
        if reply.status not in (204, 304) and not reply.length_unknown:
            headers.append(("Content-Length", str(length)))
        if reply.close:
            headers.append(("Connection", "close"))
        elif request is not None and request.version == "1.0":
            headers.append(("Connection", "keep-alive"))
        head = response_head(reply.status, headers)
        send_body = not (head_only or no_body)

        trace = self.trace
        body_sent = 0
        truncated = None
        if reply.file is None or reply.handle is None or not send_body:
            body = reply.body if send_body else b""
            # A big body (a cached gzip form, shared by every connection) goes out in
            # slices: a client that does not read holds one slice, never a copy of it.
            await stream.send_all(head + body[:SEND_SLICE])
            for start in range(SEND_SLICE, len(body), SEND_SLICE):
                await stream.send_all(body[start : start + SEND_SLICE])
            body_sent = len(body)
        else:
            await stream.send_all(head)
            try:
                await stream.send_file(reply.handle, reply.offset, reply.count)
                body_sent = reply.count
            except FileEnded as exc:
                # The file shrank since its size was promised in Content-Length.
                body_sent, truncated = exc.sent, exc
            except OSError as exc:  # the file could no longer be read: nothing more to send
                raise ConnectionError(f"could not send {reply.file}: {exc}") from exc
        if trace.enabled:
            now = trace.now()
            trace.record(
                HttpResponseHeadSent(now, self.actor, connection, reply.status, tuple(headers))
            )
            if body_sent:
                trace.record(HttpBodySent(now, self.actor, connection, body_sent))
            if request is not None:
                trace.record(
                    HttpExchangeCompleted(
                        now,
                        self.actor,
                        connection,
                        stream.peer_address,
                        request.method,
                        request.target,
                        request.version,
                        reply.status,
                        body_sent,
                        received,
                    )
                )
        if truncated is not None:
            raise _Truncated(str(truncated)) from truncated
