"""HTTP/1.1 message framing on the server side (RFC 9112), and its safety rules.

Parsing is done by llhttp — Node.js's parser — through httptools: strict by
default, it already refuses the classic request-smuggling shapes (both
Content-Length and Transfer-Encoding, duplicate Content-Length, obs-fold, a
bare CR or LF in the head or in chunk lines). Around it, :class:`RequestParser`
adds what a parser cannot decide alone: size limits (414 for a long request
line, 431 for too many or too large headers, 413 for a body), refusal of
HTTP versions other than 1.0 and 1.1 (505; the HTTP/2 preface ``PRI *`` is
already a malformed request to llhttp, 400), of transfer codings we do not
implement (501), and of requests without exactly one Host (RFC 9112 §3.2).
A request announcing a body with ``Expect: 100-continue`` is exposed as soon
as its head is complete, so the server can answer before the body comes.

It is sans-I/O: bytes go in with :meth:`RequestParser.feed`, complete
:class:`Request` objects come out, and errors are :class:`HttpError` with the
status code to answer before closing the connection.
"""

from __future__ import annotations

import collections
import http
import re
from dataclasses import dataclass, field

import httptools

# Bytes are fed to llhttp in slices of this size, so that limits are checked
# at least this often and memory stays bounded whatever a client sends.
_SLICE = 4096
# RFC 9110 §7.2 / RFC 3986 §3.2.2: uri-host [ ":" port ] — a reg-name or an IP literal.
_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(:[0-9]*)?")


class HttpError(Exception):
    """A request we must refuse: answer ``status`` with ``message``, then close."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(slots=True)
class Request:
    """One parsed request head (bodies are counted and discarded: we serve files)."""

    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]  # names lower-cased, values as sent
    keep_alive: bool
    body_size: int = 0
    upgrade: bool = False  # the client asked to switch protocols; we do not

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (lower case), or None."""
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def header_count(self, name: str) -> int:
        return sum(1 for key, _ in self.headers if key == name)


@dataclass
class Limits:
    """Sizes beyond which a request is refused."""

    request_line: int = 8 * 1024  # 414 URI Too Long
    header_bytes: int = 16 * 1024  # 431 Request Header Fields Too Large
    header_count: int = 100  # 431
    body: int = 1024 * 1024  # 413 Content Too Large


@dataclass
class _Message:
    url: bytearray = field(default_factory=bytearray)
    headers: list[tuple[str, str]] = field(default_factory=list)
    header_bytes: int = 0
    body_size: int = 0
    head_done: bool = False


class RequestParser:
    """Bytes of one connection in, requests out, in order (pipelining)."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.requests: collections.deque[Request] = collections.deque()
        # The head of a request that announced a body with "Expect: 100-continue"
        # and waits for our go-ahead (RFC 9110 §10.1.1); taken by the server.
        self.expecting_continue: Request | None = None
        # A refusal found after complete requests: those are answered first.
        self.error: HttpError | None = None
        self._parser = httptools.HttpRequestParser(self)
        self._message: _Message | None = None
        self._fed = 0
        self._message_start = 0
        self._upgraded = False

    @property
    def in_message(self) -> bool:
        """True while a request has started arriving but is not complete."""
        return self._message is not None

    def feed(self, data: bytes) -> None:
        """Parse ``data``; complete requests are appended to ``requests``.

        Raises HttpError for anything that must be refused — unless complete
        requests came before it in the stream: then they stay in ``requests``
        to be answered first, and the refusal waits in ``error``. After an
        upgrade request or a refusal, further bytes are ignored.
        """
        if self._upgraded or self.error is not None:
            return
        try:
            self._feed(data)
        except HttpError as exc:
            if not self.requests:
                raise
            self.error = exc

    def _feed(self, data: bytes) -> None:
        view = memoryview(data)
        for start in range(0, len(view), _SLICE):
            chunk = view[start : start + _SLICE]
            try:
                self._parser.feed_data(chunk)
            except httptools.HttpParserUpgrade:
                self._upgraded = True
                return
            except httptools.HttpParserCallbackError as exc:
                cause = exc.__context__
                if isinstance(cause, HttpError):
                    raise cause from None
                raise
            except httptools.HttpParserInvalidMethodError:
                raise HttpError(501, "the request method is not one this server knows") from None
            except httptools.HttpParserError as exc:
                raise HttpError(400, f"malformed request: {exc}") from None
            self._fed += len(chunk)
            message = self._message
            if message is not None and not message.head_done:
                head = self._fed - self._message_start
                if head > self.limits.request_line + self.limits.header_bytes + _SLICE:
                    raise HttpError(431, "the request head is too large")

    # --- llhttp callbacks -----------------------------------------------------------

    def on_message_begin(self) -> None:
        self._message = _Message()
        self._message_start = self._fed

    def on_url(self, url: bytes) -> None:
        assert self._message is not None
        self._message.url += url
        if len(self._message.url) > self.limits.request_line:
            raise HttpError(414, "the request target is too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        message = self._message
        assert message is not None
        message.headers.append((name.decode("latin-1").lower(), value.decode("latin-1")))
        message.header_bytes += len(name) + len(value) + 4
        if message.header_bytes > self.limits.header_bytes:
            raise HttpError(431, "the request headers are too large")
        if len(message.headers) > self.limits.header_count:
            raise HttpError(431, "the request has too many headers")

    def on_headers_complete(self) -> None:
        message = self._message
        assert message is not None
        message.head_done = True
        version = self._parser.get_http_version()
        if version not in ("1.1", "1.0"):
            raise HttpError(505, f"HTTP/{version} is not supported; use HTTP/1.1")
        for key, value in message.headers:
            if key == "transfer-encoding":
                if version == "1.0":
                    # RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means faulty framing.
                    raise HttpError(400, "HTTP/1.0 has no Transfer-Encoding")
                if value.strip().lower() != "chunked":
                    raise HttpError(501, f"the transfer coding '{value}' is not implemented")
        hosts = [value for key, value in message.headers if key == "host"]
        if len(hosts) > 1 or (not hosts and version == "1.1"):
            raise HttpError(400, "an HTTP/1.1 request needs exactly one Host header")
        if hosts and not _HOST.fullmatch(hosts[0].strip()):
            raise HttpError(400, "the Host header is not a host name or address")
        declared = next((v for k, v in message.headers if k == "content-length"), None)
        if declared is not None and _too_long(declared.strip(), self.limits.body):
            raise HttpError(413, "the request body is too large")  # refused before it is sent
        expect = next((v for k, v in message.headers if k == "expect"), None)
        announces_body = any(
            k == "transfer-encoding" or (k == "content-length" and v.strip() != "0")
            for k, v in message.headers
        )
        if expect is not None and expect.strip().lower() == "100-continue" and announces_body:
            self.expecting_continue = self._request(message)

    def on_body(self, body: bytes) -> None:
        message = self._message
        assert message is not None
        message.body_size += len(body)
        if message.body_size > self.limits.body:
            raise HttpError(413, "the request body is too large")

    def on_message_complete(self) -> None:
        message = self._message
        assert message is not None
        self.requests.append(self._request(message))
        self.expecting_continue = None
        self._message = None

    def _request(self, message: _Message) -> Request:
        parser = self._parser
        return Request(
            method=parser.get_method().decode("ascii"),
            target=message.url.decode("latin-1"),
            version=parser.get_http_version(),
            headers=message.headers,
            keep_alive=parser.should_keep_alive(),
            body_size=message.body_size,
            upgrade=parser.should_upgrade(),
        )


def response_head(status: int, headers: list[tuple[str, str]]) -> bytes:
    """The status line and header fields of a response, ready to send."""
    lines = [f"HTTP/1.1 {status} {reason(status)}"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


_REASONS = {status.value: status.phrase for status in http.HTTPStatus}


def reason(status: int) -> str:
    """The standard reason phrase (RFC 9110 §15) for ``status``."""
    return _REASONS.get(status, "Unknown")


def _too_long(declared: str, limit: int) -> bool:
    """True if a Content-Length of ASCII digits is over ``limit`` bytes.

    Compared by length first, so that ``int()`` never reads thousands of
    digits (it refuses more than 4,300 with a ValueError).
    """
    if not (declared.isascii() and declared.isdigit()):
        return False  # not a length: the parser refuses it with 400
    digits = declared.lstrip("0")
    return len(digits) > len(str(limit)) or int(digits or "0") > limit
