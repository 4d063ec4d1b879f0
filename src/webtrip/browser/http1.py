"""Steps 2 and 3 on the client: one HTTP/1.1 connection, and the answer in pieces.

A :class:`HttpConnection` is one TCP (or TLS) stream to an origin, with an h11
state machine doing the framing: the request is written as h11 serialises it,
and the answer is fed to h11 as it arrives, one read at a time — each read is
recorded, because each is a piece of the page arriving over the network.
Chunked transfer coding is undone by h11; gzip and deflate content coding
by zlib, a bounded piece at a time, so that a small "zip bomb" cannot make
the browser allocate more than one piece at once.

Only the files the browser must read keep their bytes: HTML, CSS and
JavaScript, up to ``Limits.max_kept_bytes`` (8 MB) once decoded — a file past
it is not read, so a small gzip "bomb" cannot make the parsers work for
minutes on hundreds of megabytes. Any other file — an image, a script, a font —
streams through: its bytes are counted and hashed (SHA-256) as they are
decoded, then dropped, as a browser hands them to a decoder it does not keep.
Every decoded byte of every file counts against the page's budget
(:class:`PageBudget`, ``Limits.max_page_bytes``): a page whose files pass it
is stopped (:class:`PageTooLarge`). A connection whose response ended cleanly, with neither side
asking to close, is kept for the next request (HTTP persistent connections).

A connection that closes, or is reset, before any byte of the answer arrived
raises :class:`NoResponse`: nothing of the request was processed as far as
the browser can tell, so the loader may send an idempotent request again on
a new connection (RFC 9112 §9.3.1).
"""

from __future__ import annotations

import asyncio
import hashlib
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import h11

from webtrip.browser.errors import ProtocolFailure, Timeout, failure_sentence, system_reason
from webtrip.net import Stream
from webtrip.outcomes import N_
from webtrip.trace import (
    NULL_TRACE,
    HttpRequestSent,
    HttpResponseCompleted,
    HttpResponseStarted,
    StreamRead,
    TcpInfoRead,
    Trace,
)


class NoResponse(ConnectionError):
    """The connection closed or was reset before any byte of the response arrived.

    Like a :class:`~webtrip.browser.errors.LoadError` it keeps its sentence's English
    ``template`` and ``values``, for the failure the loader makes of it.
    """

    def __init__(self, template: str, /, **values: object) -> None:
        self.template = template
        self.values = tuple((name, str(value)) for name, value in values.items())
        super().__init__(failure_sentence(template, self.values))


@dataclass
class Limits:
    """What a hostile or broken server may not make the browser do."""

    max_header_bytes: int = 64 * 1024
    max_body_bytes: int = 50 * 1024 * 1024  # as sent and once decoded
    # All the decoded bytes of a page's files together (Chromium has no such limit of its
    # own, it runs out of memory; a learner's machine should not): 64 MB by default.
    max_page_bytes: int = 64 * 1024 * 1024
    # The most of one HTML, CSS or JavaScript file the browser keeps to read, once decoded
    # (or max_body_bytes if smaller): the parsers' work is bounded by it. Real pages' files
    # are far smaller; 8 MB of HTML is already some 400,000 elements.
    max_kept_bytes: int = 8 * 1024 * 1024
    # Silence allowed while waiting for the answer: Firefox waits 300 s for a response
    # (network.http.response.timeout); Chromium has no limit of its own, TCP decides.
    read_timeout: float = 300.0


PIECE = 256 * 1024
"""The most a decoder produces at once: a gzip bomb is undone a piece at a time."""

KEPT_TYPES = frozenset({
    "text/html", "application/xhtml+xml", "text/css", "", "text/javascript",
    "application/javascript",
})  # fmt: skip
"""Content types whose bytes the browser keeps, because it reads them (HTML, CSS, and
JavaScript for a module's imports; a document with no type is read as HTML)."""


class PageTooLarge(ProtocolFailure):
    """The page's files, decoded, passed the page's budget: the load is stopped."""


class PageBudget:
    """The decoded bytes a whole page may hold, spent by every response of the load."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.spent = 0

    def spend(self, size: int) -> None:
        """Count ``size`` more decoded bytes; PageTooLarge once past the limit."""
        self.spent += size
        if self.spent > self.limit:
            raise PageTooLarge(
                N_("the browser stopped: the page's files passed {megabytes} MB once decoded"),
                megabytes=self.limit // (1024 * 1024),
            )


@dataclass
class Response:
    """An answer as the browser holds it. ``body`` is kept only for what the browser
    parses (``kept``); every body's decoded size and SHA-256 are kept either way. Bodies
    are left out of ``repr``: a page's files may be many megabytes."""

    status: int
    reason: str
    http_version: str
    headers: list[tuple[str, str]]
    body: bytes = field(repr=False)
    wire_size: int
    encoding: str | None
    reads: int = 0
    decoded_size: int = -1
    sha256: str = field(default="", repr=False)
    kept: bool = True

    def __post_init__(self) -> None:
        if self.decoded_size < 0:
            self.decoded_size = len(self.body)

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()


@dataclass
class HttpConnection:
    """One persistent HTTP/1.1 connection to an origin."""

    stream: Stream
    id: int
    origin: tuple[str, str, int]
    trace: Trace = NULL_TRACE
    actor: str = "browser"
    limits: Limits = field(default_factory=Limits)
    requests: int = 0

    def __post_init__(self) -> None:
        self._h11 = h11.Connection(
            h11.CLIENT, max_incomplete_event_size=self.limits.max_header_bytes
        )

    @property
    def reusable(self) -> bool:
        return self._h11.our_state is h11.IDLE and self._h11.their_state is h11.IDLE

    async def fetch(
        self,
        request_id: int,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        budget: PageBudget | None = None,
    ) -> Response:
        """Send one request and read its whole response (its decoded bytes spent from
        ``budget``, the page's, when given).

        Raises ProtocolFailure (the server broke HTTP or a limit), Timeout,
        NoResponse (the connection closed or was reset before any byte of the
        answer: a fresh connection may succeed) or ConnectionError (the
        connection died while the answer was arriving).
        """
        trace, actor = self.trace, self.actor
        reused = self.requests > 0
        self.requests += 1
        data = self._h11.send(h11.Request(method=method, target=target, headers=headers))
        data += self._h11.send(h11.EndOfMessage())
        started = trace.now()
        try:
            await self.stream.send_all(data)
        except ConnectionError as exc:
            raise NoResponse(
                N_("the connection was lost while sending the request ({reason})"),
                reason=system_reason(exc),
            ) from None
        trace.record(
            HttpRequestSent(
                trace.now(), actor, request_id, self.id, reused, started, len(data), tuple(headers)
            )
        )
        head: h11.Response | None = None
        decoder: _Decoder | None = None
        body = bytearray()
        digest = hashlib.sha256()
        kept = True
        decoded = 0
        wire_size = 0
        reads = 0
        received = 0  # bytes of the answer, as they came off the connection
        while True:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError as exc:
                raise ProtocolFailure(
                    N_('the server broke HTTP/1.1 ("{detail}")'), detail=exc
                ) from None
            if event is h11.NEED_DATA:
                try:
                    async with asyncio.timeout(self.limits.read_timeout):
                        chunk = await self.stream.receive_some(65536)
                except TimeoutError:
                    raise Timeout(
                        N_("the server sent nothing for {timeout}"),
                        timeout=float(self.limits.read_timeout),
                    ) from None
                except ConnectionError as exc:
                    if received == 0:
                        raise NoResponse(
                            N_("the connection was lost before the server answered ({reason})"),
                            reason=system_reason(exc),
                        ) from None
                    raise
                reads += 1
                trace.record(StreamRead(trace.now(), actor, self.id, len(chunk)))
                if not chunk and received == 0:
                    # A close before the answer's first byte is not a broken answer: there
                    # is none (h11 would call it a protocol error in state SEND_RESPONSE).
                    raise NoResponse(N_("the server closed the connection before answering"))
                received += len(chunk)
                self._h11.receive_data(chunk)
                continue
            if isinstance(event, h11.InformationalResponse):
                continue  # 100 Continue and the like: the real answer follows
            if isinstance(event, h11.Response):
                head = event
                headers_out = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers]
                encoding = _content_encoding(headers_out)
                kept = _content_type(headers_out) in KEPT_TYPES
                decoder = _Decoder(encoding, self.limits.max_body_bytes, self.limits.max_kept_bytes)
                trace.record(
                    HttpResponseStarted(
                        trace.now(),
                        actor,
                        request_id,
                        self.id,
                        event.status_code,
                        event.reason.decode("latin-1"),
                        event.http_version.decode("ascii"),
                        tuple(headers_out),
                    )
                )
                continue
            if isinstance(event, h11.Data):
                assert decoder is not None
                wire_size += len(event.data)
                if wire_size > self.limits.max_body_bytes:
                    limit = self.limits.max_body_bytes
                    raise ProtocolFailure(
                        N_("the response is larger than the limit of {limit} bytes"), limit=limit
                    )
                for piece in decoder.feed(bytes(event.data), counted=kept):
                    decoded += len(piece)
                    digest.update(piece)
                    if budget is not None:
                        budget.spend(len(piece))
                    if kept:
                        body += piece
                continue
            if isinstance(event, h11.EndOfMessage):
                assert head is not None and decoder is not None
                for piece in decoder.finish(counted=kept):
                    decoded += len(piece)
                    digest.update(piece)
                    if budget is not None:
                        budget.spend(len(piece))
                    if kept:
                        body += piece
                break
            if isinstance(event, h11.ConnectionClosed):  # h11 raises first, in fact
                raise ProtocolFailure(
                    N_("the server closed the connection in the middle of an answer")
                )
        headers_list = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in head.headers]
        response = Response(
            head.status_code,
            head.reason.decode("latin-1"),
            head.http_version.decode("ascii"),
            headers_list,
            bytes(body),
            wire_size,
            decoder.encoding,
            reads,
            decoded,
            digest.hexdigest(),
            kept,
        )
        trace.record(
            HttpResponseCompleted(
                trace.now(),
                actor,
                request_id,
                self.id,
                response.status,
                wire_size,
                decoded,
                response.content_type,
                decoder.encoding,
            )
        )
        if self._h11.our_state is h11.DONE and self._h11.their_state is h11.DONE:
            self._h11.start_next_cycle()
        return response

    async def close(self) -> None:
        """Read the kernel's counters for the record (when tracing), then close."""
        info = self.stream.tcp_info() if self.trace.enabled else None
        if info is not None:
            self.trace.record(
                TcpInfoRead(
                    self.trace.now(),
                    self.actor,
                    self.id,
                    info.segments_out,
                    info.segments_in,
                    info.data_segments_out,
                    info.data_segments_in,
                    info.retransmissions,
                    info.rtt,
                    info.mss_in,
                )
            )
        await self.stream.aclose()


def _content_type(headers: list[tuple[str, str]]) -> str:
    for key, value in headers:
        if key.lower() == "content-type":
            return value.split(";")[0].strip().lower()
    return ""


def _content_encoding(headers: list[tuple[str, str]]) -> str | None:
    for key, value in headers:
        if key.lower() == "content-encoding":
            value = value.strip().lower()
            return None if value in ("", "identity") else value
    return None


class _Decoder:
    """Undo gzip or deflate content coding, one piece of at most :data:`PIECE` bytes at a
    time. A kept body (``counted``) may not decode to more than ``kept_limit`` bytes (the
    smaller of the two limits); one that streams through is bounded by the page's budget
    instead."""

    def __init__(self, encoding: str | None, limit: int, kept_limit: int | None = None) -> None:
        self.encoding = encoding
        self.limit = limit
        self.kept_limit = limit if kept_limit is None else min(limit, kept_limit)
        self.produced = 0
        self._zlib: zlib._Decompress | None = None
        if encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(wbits=31)
        elif encoding == "deflate":
            self._zlib = None  # zlib or raw deflate: decided by the first bytes
        elif encoding is not None:
            raise ProtocolFailure(
                N_("the server used a content coding the browser did not ask for: {coding}"),
                coding=encoding,
            )

    def feed(self, data: bytes, *, counted: bool = True) -> Iterator[bytes]:
        if self.encoding is None:
            yield self._count(data, counted)
            return
        if self._zlib is None:  # deflate: RFC 9110 says zlib format; some send raw deflate
            looks_zlib = (
                len(data) >= 2 and (data[0] & 0x0F) == 8 and (data[0] << 8 | data[1]) % 31 == 0
            )
            self._zlib = zlib.decompressobj(wbits=15 if looks_zlib else -15)
        while data:
            try:
                out = self._zlib.decompress(data, PIECE)
            except zlib.error as exc:
                raise ProtocolFailure(
                    N_('the {coding} body is corrupt ("{detail}")'),
                    coding=self.encoding,
                    detail=exc,
                ) from None
            data = self._zlib.unconsumed_tail
            if out:
                yield self._count(out, counted)

    def finish(self, *, counted: bool = True) -> Iterator[bytes]:
        if self._zlib is None:
            return
        try:
            out = self._zlib.flush(PIECE)
        except zlib.error as exc:
            raise ProtocolFailure(
                N_('the {coding} body is corrupt ("{detail}")'), coding=self.encoding, detail=exc
            ) from None
        if out:
            yield self._count(out, counted)

    def _count(self, data: bytes, counted: bool) -> bytes:
        self.produced += len(data)
        if counted and self.produced > self.kept_limit:
            if self.kept_limit < self.limit:
                raise ProtocolFailure(
                    N_("the browser reads at most {megabytes} MB of an HTML, CSS or JavaScript "
                       "file once decoded, and this one is larger"),
                    megabytes=self.kept_limit // (1024 * 1024),
                )  # fmt: skip
            raise ProtocolFailure(
                N_("the decoded body is larger than the limit of {limit} bytes"), limit=self.limit
            )
        return data
