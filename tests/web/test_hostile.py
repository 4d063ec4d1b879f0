"""Hostile clients: the web server refuses what it must, closes, and keeps serving.

Specification, each part checked against a live ``webtrip web serve`` over
raw loopback sockets:

* **Request smuggling.** Every ambiguous framing (Content-Length with
  Transfer-Encoding, duplicate or malformed Content-Length, obs-fold, bare CR
  or LF, malformed chunk lines, transfer codings other than a final
  ``chunked``, whitespace before a colon, control characters) is refused with
  400 — 501 for a transfer coding the server does not implement, 505 for a
  request line of another HTTP version — and then the connection is closed,
  so a request pipelined behind the bad one is never answered.
* **Limits.** A request target over 8 KiB gets 414; a header over 16 KiB or
  more than 100 headers get 431; a body over 1 MiB gets 413; a header line
  that never ends gets 431 while the server's memory stays bounded. Exactly
  one Host is required of HTTP/1.1; unknown methods get 501, known methods
  other than GET/HEAD/OPTIONS get 405 with Allow.
* **Slow clients.** A request head trickled byte by byte is cut off after the
  header timeout while other clients are served; an idle connection is closed
  after the keep-alive timeout. Every slow client, and a connection reused
  within the keep-alive timeout, also against the same server in the simulated
  world, where the waits are virtual.
* **Connection cap.** Beyond ``--max-connections`` busy connections, a
  connection gets 503 with Retry-After and is closed; a released slot is
  served again (idle and slow ones make room instead: test_connections.py).
* **Resets and garbage.** A client that resets mid-response, and random or
  mutated requests, never break the server.

Every loop is bounded in count and in time, and all traffic stays on loopback
(or in the simulated world).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import re
import select
import shutil
import socket
import struct
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support import DATA, RunningWebServer, webtrip_web_server
from webtrip.net import Stream
from webtrip.netsim.world import SimWorld
from webtrip.web.server import WebServer, WebServerOptions
from webtrip.web.sites import Site, SiteMap

INDEX = (DATA / "sites" / "www" / "index.html").read_bytes()
GUIDE = (DATA / "sites" / "www" / "docs" / "guide.txt").read_bytes()
BIG_SIZE = 5 * 1024 * 1024

KIB = 1024
MIB = 1024 * 1024

T = TypeVar("T")


# --- servers --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the www test site with a 5 MB file added."""
    root = tmp_path_factory.mktemp("site") / "www"
    shutil.copytree(DATA / "sites" / "www", root)
    block = bytes(range(256)) * 4096  # 1 MiB, not compressible by the server's rules (.bin)
    (root / "big.bin").write_bytes(block * 5)
    return root


@pytest.fixture(scope="module")
def server(site: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningWebServer]:
    """The server with its default limits and timeouts."""
    with webtrip_web_server(site, log_dir=tmp_path_factory.mktemp("logs")) as running:
        yield running


@pytest.fixture(scope="module")
def impatient_server(
    site: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningWebServer]:
    """A server with a 0.5 s header timeout and 1 s for a first request and between requests."""
    extra = ["--header-timeout", "0.5", "--keepalive-timeout", "1", "--first-request-timeout", "1"]
    logs = tmp_path_factory.mktemp("logs")
    with webtrip_web_server(site, log_dir=logs, extra=extra) as running:
        yield running


HEADER_TIMEOUT = 0.5
KEEPALIVE_TIMEOUT = 1.0


@pytest.fixture(scope="module")
def capped_server(
    site: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningWebServer]:
    """A server that serves at most 3 connections at once."""
    logs = tmp_path_factory.mktemp("logs")
    with webtrip_web_server(site, log_dir=logs, extra=["--max-connections", "3"]) as running:
        yield running


# --- a raw HTTP/1.1 client ------------------------------------------------------------

_STATUS_LINE = re.compile(rb"HTTP/1\.1 ([1-5][0-9][0-9]) ([\t !-~\x80-\xff]*)")
_FIELD_LINE = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([\t !-~\x80-\xff]*?)[ \t]*")


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key == name.lower()]
        assert len(values) <= 1, f"{name} sent {len(values)} times"
        return values[0] if values else None


def parse_responses(data: bytes) -> tuple[list[Response], bytes]:
    """The complete final responses at the start of ``data``, and the bytes left after them.

    Interim 1xx responses are checked and skipped. Fails the test on anything
    that is not a well-formed HTTP/1.1 response with a Content-Length (the
    server always sends one; no response here is to HEAD).
    """
    responses = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        status_line, *field_lines = head.split(b"\r\n")
        match = _STATUS_LINE.fullmatch(status_line)
        assert match, f"malformed status line {status_line[:100]!r}"
        headers = []
        for line in field_lines:
            field = _FIELD_LINE.fullmatch(line)
            assert field, f"malformed header line {line[:100]!r}"
            headers.append((field[1].decode().lower(), field[2].decode("latin-1")))
        response = Response(int(match[1]), headers, b"")
        length = response.header("content-length")
        if response.status < 200:  # interim (100 Continue): no body, a final response follows
            assert length is None
            data = rest
            continue
        if response.status in (204, 304):
            assert length is None
            size = 0
        else:
            assert length is not None and length.isdigit(), f"Content-Length: {length!r}"
            size = int(length)
        if len(rest) < size:
            break
        response.body = rest[:size]
        responses.append(response)
        data = rest[size:]
    return responses, data


class Client:
    """One raw TCP connection to the server: bytes in, bytes and responses out."""

    def __init__(self, server: RunningWebServer, timeout: float = 3.0) -> None:
        self.sock = socket.create_connection((server.host, server.port), timeout=timeout)
        self.buffer = b""
        self.closed = False  # the server closed (or reset) the connection

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def send(self, data: bytes) -> bool:
        """Send ``data``; False if the server closed (or stopped reading) before taking it all."""
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            return False
        return True

    def receive_once(self, deadline: float) -> bool:
        """Receive once; False at the deadline or once the connection is closed."""
        remaining = deadline - time.monotonic()
        if self.closed or remaining <= 0:
            return False
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return False
        except ConnectionResetError:
            data = b""
        if not data:
            self.closed = True
            return False
        self.buffer += data
        return True

    def read_until_closed(self, timeout: float = 3.0) -> bytes:
        """Every byte until the server closes, or until ``timeout`` (check ``closed``)."""
        deadline = time.monotonic() + timeout
        while self.receive_once(deadline):
            pass
        return self.buffer

    def responses(self, count: int = 1, timeout: float = 3.0) -> list[Response]:
        """Read until ``count`` complete responses have arrived; fail if they do not."""
        deadline = time.monotonic() + timeout
        while True:
            responses, _ = parse_responses(self.buffer)
            if len(responses) >= count:
                return responses
            if not self.receive_once(deadline):
                pytest.fail(f"{len(responses)} of {count} responses: {self.buffer[:300]!r}")

    def refusal(self, data: bytes, timeout: float = 2.0) -> tuple[list[Response], bytes]:
        """Send ``data``, read to the close; return the responses and any bytes after them."""
        self.send(data)
        return parse_responses(self.read_until_closed(timeout))


def get(server: RunningWebServer, target: str = "/index.html") -> Response:
    """A normal request on a new connection."""
    with Client(server) as client:
        client.send(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        return client.responses(1)[0]


def assert_still_serving(server: RunningWebServer) -> None:
    assert server.process.poll() is None, "the server process has exited"
    response = get(server)
    assert response.status == 200
    assert response.body == INDEX


# --- request smuggling --------------------------------------------------------------------

HEAD = b"POST / HTTP/1.1\r\nHost: x\r\n"
CHUNKED = b"Transfer-Encoding: chunked\r\n"


def chunked_body(chunk_lines: bytes) -> bytes:
    """A request with a chunked body whose chunk lines are given as they are sent."""
    return HEAD + CHUNKED + b"\r\n" + chunk_lines


def refusal(request: bytes, status: int | set[int], id: str):
    statuses = {status} if isinstance(status, int) else status
    return pytest.param(request, statuses, id=id)


SMUGGLING = [
    # Content-Length and Transfer-Encoding together (RFC 9112 §6.1)
    refusal(HEAD + b"Content-Length: 6\r\n" + CHUNKED + b"\r\n0\r\n\r\nG", 400, "cl-then-te"),
    refusal(HEAD + CHUNKED + b"Content-Length: 6\r\n\r\n0\r\n\r\nG", 400, "te-then-cl"),
    refusal(HEAD + CHUNKED + b"Content-Length: 0\r\n\r\n0\r\n\r\n", 400, "te-with-cl-zero"),
    refusal(
        HEAD + b"Content-Length: 3\r\nTransfer-Encoding: identity\r\n\r\nabc",
        400,
        "cl-with-te-identity",
    ),
    # Content-Length: duplicated or not a plain decimal number
    refusal(HEAD + b"Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400, "cl-twice-same"),
    refusal(HEAD + b"Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400, "cl-twice-differ"),
    refusal(HEAD + b"Content-Length: 3, 3\r\n\r\nabc", 400, "cl-list"),
    refusal(HEAD + b"Content-Length: +3\r\n\r\nabc", 400, "cl-plus-sign"),
    refusal(HEAD + b"Content-Length: -1\r\n\r\nabc", 400, "cl-negative"),
    refusal(HEAD + b"Content-Length: 3 3\r\n\r\nabc", 400, "cl-two-numbers"),
    refusal(HEAD + b"Content-Length: 0x3\r\n\r\nabc", 400, "cl-hex"),
    refusal(HEAD + b"Content-Length:\r\n\r\n", 400, "cl-empty"),
    refusal(HEAD + b"Content-Length: 99999999999999999999999\r\n\r\n", 400, "cl-overflow"),
    # obs-fold (RFC 9112 §5.2)
    refusal(HEAD + b"X-Folded: a\r\n b\r\n\r\n", 400, "obs-fold"),
    refusal(HEAD + b"Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", 400, "obs-fold-te"),
    refusal(b"POST / HTTP/1.1\r\n Host: x\r\n\r\n", 400, "obs-fold-first-line"),
    # bare LF and bare CR in the head (RFC 9112 §2.2)
    refusal(b"POST / HTTP/1.1\nHost: x\r\n\r\n", 400, "bare-lf-after-request-line"),
    refusal(HEAD + b"X-A: a\nContent-Length: 3\r\n\r\nabc", 400, "bare-lf-between-headers"),
    refusal(HEAD + b"\n", 400, "bare-lf-ending-the-head"),
    refusal(b"POST / HTTP/1.1\rHost: x\r\n\r\n", 400, "bare-cr-after-request-line"),
    refusal(HEAD + b"X-A: a\rContent-Length: 3\r\n\r\nabc", 400, "bare-cr-in-header-value"),
    refusal(b"POST /\rx HTTP/1.1\r\nHost: x\r\n\r\n", 400, "bare-cr-in-request-target"),
    # chunk lines (RFC 9112 §7.1)
    refusal(chunked_body(b"3\nabc\r\n0\r\n\r\n"), 400, "chunk-size-bare-lf"),
    refusal(chunked_body(b"3\rabc\r\n0\r\n\r\n"), 400, "chunk-size-bare-cr"),
    refusal(chunked_body(b"3\r\nabc\n0\r\n\r\n"), 400, "chunk-data-bare-lf"),
    refusal(chunked_body(b"3\r\nabc\r\n0\n\r\n"), 400, "last-chunk-bare-lf"),
    refusal(chunked_body(b"3;ext\nabc\r\n0\r\n\r\n"), 400, "chunk-ext-bare-lf"),
    refusal(chunked_body(b"3;a=b\nxx\r\nabc\r\n0\r\n\r\n"), 400, "chunk-ext-bare-lf-then-junk"),
    refusal(chunked_body(b'3;x="a\nb"\r\nabc\r\n0\r\n\r\n'), 400, "chunk-ext-quoted-lf"),
    refusal(chunked_body(b"3 \r\nabc\r\n0\r\n\r\n"), 400, "chunk-size-trailing-space"),
    refusal(chunked_body(b"0x3\r\nabc\r\n0\r\n\r\n"), 400, "chunk-size-0x"),
    refusal(chunked_body(b"-3\r\nabc\r\n0\r\n\r\n"), 400, "chunk-size-negative"),
    refusal(chunked_body(b"ffffffffffffffffff\r\nabc\r\n0\r\n\r\n"), 400, "chunk-size-overflow"),
    refusal(chunked_body(b"3\r\nabcX0\r\n\r\n"), 400, "chunk-longer-than-its-size"),
    refusal(chunked_body(b"0\r\nX: y\nZ: w\r\n\r\n"), 400, "trailer-bare-lf"),
    # transfer codings other than a final chunked (RFC 9112 §6.1, §7)
    refusal(HEAD + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501, "te-gzip-chunked"),
    refusal(HEAD + b"Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 400, "te-chunked-gzip"),
    refusal(HEAD + b"Transfer-Encoding: identity\r\n\r\n", 501, "te-identity"),
    refusal(HEAD + b"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 501, "te-xchunked"),
    refusal(HEAD + CHUNKED + CHUNKED + b"\r\n0\r\n\r\n", 400, "te-chunked-twice"),
    refusal(
        HEAD + b"Transfer-Encoding: gzip\r\n" + CHUNKED + b"\r\n0\r\n\r\n",
        501,
        "te-gzip-line-then-chunked-line",
    ),
    refusal(HEAD + b"Transfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n", 400, "te-vertical-tab"),
    refusal(
        b"POST / HTTP/1.0\r\n" + CHUNKED + b"Content-Length: 5\r\n\r\n0\r\n\r\n",
        400,
        "http10-te-and-cl",
    ),
    refusal(b"POST / HTTP/1.0\r\n" + CHUNKED + b"\r\n0\r\n\r\n", 400, "http10-te"),
    refusal(
        b"POST / HTTP/1.0\r\nConnection: keep-alive\r\n" + CHUNKED + b"\r\n0\r\n\r\n",
        400,
        "http10-keep-alive-te",
    ),
    # whitespace before the colon (RFC 9112 §5.1)
    refusal(HEAD + b"Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400, "space-before-colon-te"),
    refusal(HEAD + b"Content-Length : 3\r\n\r\nabc", 400, "space-before-colon-cl"),
    refusal(HEAD + b"Content-Length\t: 3\r\n\r\nabc", 400, "tab-before-colon-cl"),
    # control characters in a header
    refusal(HEAD + b"X-A: a\x00b\r\n\r\n", 400, "nul-in-header-value"),
    refusal(HEAD + b"X\x00A: ab\r\n\r\n", 400, "nul-in-header-name"),
    refusal(HEAD + b"X-A: \x01\r\n\r\n", 400, "ctl-in-header-value"),
    refusal(HEAD + b"X-A: \x7f\r\n\r\n", 400, "del-in-header-value"),
    # other HTTP versions
    refusal(b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, "http-2.0-request-line"),
    refusal(b"GET / HTTP/0.9\r\nHost: x\r\n\r\n", 505, "http-0.9-request-line"),
    refusal(b"GET /\r\n\r\n", 505, "http-0.9-simple-request"),
    refusal(b"GET / HTTP/3.0\r\nHost: x\r\n\r\n", {400, 505}, "http-3.0-request-line"),
    refusal(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", {400, 505}, "http2-preface"),
    refusal(b"GET / http/1.1\r\nHost: x\r\n\r\n", 400, "lowercase-version"),
]

#: Sent right behind each smuggling attempt: it must never be answered.
PIPELINED = b"GET /docs/guide.txt HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.mark.parametrize(("request_bytes", "statuses"), SMUGGLING)
def test_smuggling_attempt_is_refused(
    server: RunningWebServer, request_bytes: bytes, statuses: set[int]
) -> None:
    with Client(server) as client:
        responses, _ = client.refusal(request_bytes)
    assert responses, "no response"
    assert responses[0].status in statuses


@pytest.mark.parametrize(("request_bytes", "statuses"), SMUGGLING)
def test_connection_is_closed_after_a_smuggling_attempt(
    server: RunningWebServer, request_bytes: bytes, statuses: set[int]
) -> None:
    with Client(server) as client:
        responses, _ = client.refusal(request_bytes)
        assert client.closed, "the connection was left open"
    assert responses[0].header("connection") == "close"


@pytest.mark.parametrize(("request_bytes", "statuses"), SMUGGLING)
def test_request_pipelined_after_a_smuggling_attempt_is_never_answered(
    server: RunningWebServer, request_bytes: bytes, statuses: set[int]
) -> None:
    with Client(server) as client:
        responses, rest = client.refusal(request_bytes + PIPELINED)
    assert len(responses) == 1
    assert rest == b""
    assert GUIDE not in client.buffer


def test_server_still_serves_after_the_smuggling_corpus(server: RunningWebServer) -> None:
    for param in SMUGGLING:
        with Client(server) as client:
            client.refusal(param.values[0] + PIPELINED, timeout=1.0)
    assert_still_serving(server)


GOOD = b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n"
EXPECTING_CONTINUE = HEAD + b"Expect: 100-continue\r\nContent-Length: 5\r\n\r\n"


def test_pipelined_requests_are_answered_in_order(server: RunningWebServer) -> None:
    with Client(server) as client:
        client.send(GOOD + PIPELINED + GOOD)
        responses = client.responses(3)
    assert [r.body for r in responses] == [INDEX, GUIDE, INDEX]


@pytest.mark.parametrize(
    ("trailing", "refused"),
    [
        pytest.param(b"GARBAGE\r\n\r\n", {400, 501}, id="then-garbage"),
        pytest.param(
            HEAD + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\n", {400}, id="then-dup-cl"
        ),
        pytest.param(EXPECTING_CONTINUE, {405}, id="then-post-expecting-100-continue"),
    ],
)
def test_request_pipelined_before_a_refused_one_is_answered_first(
    server: RunningWebServer, trailing: bytes, refused: set[int]
) -> None:
    """Responses come in request order: a good request that arrives in the same
    packet as one the server refuses still gets its own 200 first, then the
    refusal, then the close. Otherwise the client takes the refusal for the
    answer to its good request."""
    with Client(server) as client:
        responses, _ = client.refusal(GOOD + trailing)
    assert [r.status for r in responses][:1] == [200]
    assert responses[0].body == INDEX
    assert len(responses) == 2
    assert responses[1].status in refused


@pytest.mark.parametrize(
    "first",
    [
        pytest.param(b"GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", id="1.1"),
        pytest.param(b"GET /index.html HTTP/1.0\r\n\r\n", id="1.0"),
    ],
)
def test_request_asking_to_close_is_answered_and_what_follows_ignored(
    server: RunningWebServer, first: bytes
) -> None:
    """RFC 9112 §9.6: answer the request that says "close", then close without
    processing anything sent after it."""
    with Client(server) as client:
        responses, rest = client.refusal(first + PIPELINED)
        assert client.closed
    assert [r.status for r in responses] == [200]
    assert responses[0].body == INDEX
    assert rest == b""


# --- limits -------------------------------------------------------------------------------


def exchange(server: RunningWebServer, request: bytes) -> tuple[Response, bool]:
    """Send ``request``; return the first response and whether the server then closed."""
    with Client(server) as client:
        client.send(request)
        response = client.responses(1)[0]
        client.read_until_closed(timeout=0.3)
        return response, client.closed


def test_request_target_over_8_kib_gets_414(server: RunningWebServer) -> None:
    target = b"/index.html?" + b"a" * (8 * KIB)
    response, closed = exchange(server, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert response.status == 414
    assert closed


def test_request_target_of_8_kib_is_accepted(server: RunningWebServer) -> None:
    target = b"/index.html?" + b"a" * (8 * KIB - len(b"/index.html?"))
    response, _ = exchange(server, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert response.status == 200


def test_header_over_16_kib_gets_431(server: RunningWebServer) -> None:
    big = b"X-Big: " + b"a" * (16 * KIB + 1) + b"\r\n"
    response, closed = exchange(server, b"GET / HTTP/1.1\r\nHost: x\r\n" + big + b"\r\n")
    assert response.status == 431
    assert closed


def test_headers_of_15_kib_are_accepted(server: RunningWebServer) -> None:
    fields = b"".join(b"X-H%d: " % i + b"a" * 1000 + b"\r\n" for i in range(15))
    response, _ = exchange(server, b"GET / HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
    assert response.status == 200


def test_more_than_100_headers_get_431(server: RunningWebServer) -> None:
    fields = b"".join(b"X-H%d: a\r\n" % i for i in range(100))  # 101 with Host
    response, closed = exchange(server, b"GET / HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
    assert response.status == 431
    assert closed


def test_100_headers_are_accepted(server: RunningWebServer) -> None:
    fields = b"".join(b"X-H%d: a\r\n" % i for i in range(99))  # 100 with Host
    response, _ = exchange(server, b"GET / HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
    assert response.status == 200


def _chunked(body: bytes, size: int = 64 * KIB) -> bytes:
    chunks = [
        b"%x\r\n" % len(body[i : i + size]) + body[i : i + size] + b"\r\n"
        for i in range(0, len(body), size)
    ]
    return b"".join(chunks) + b"0\r\n\r\n"


def _with_body(body: bytes, framing: str) -> bytes:
    if framing == "content-length":
        return b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    return b"GET / HTTP/1.1\r\nHost: x\r\n" + CHUNKED + b"\r\n" + _chunked(body)


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_body_over_1_mib_gets_413(server: RunningWebServer, framing: str) -> None:
    with Client(server) as client:
        responses, _ = client.refusal(_with_body(b"a" * (MIB + 1), framing))
        assert client.closed
    assert responses[0].status == 413


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_body_of_1_mib_is_accepted(server: RunningWebServer, framing: str) -> None:
    response, _ = exchange(server, _with_body(b"a" * MIB, framing))
    assert response.status == 200


def _memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in KiB, from /proc."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(value.split()[0])
    return values


def _send_endless(server: RunningWebServer, head: bytes) -> tuple[list[Response], int]:
    """Send ``head`` then up to 64 MiB with no newline, until the server stops it.

    Returns the responses and how many bytes the server let through."""
    block = b"a" * MIB
    sent = 0
    with Client(server, timeout=5.0) as client:
        client.send(head)
        deadline = time.monotonic() + 10.0
        for _ in range(64):
            if time.monotonic() > deadline or not client.send(block):
                break
            sent += len(block)
        responses, _ = parse_responses(client.read_until_closed())
    return responses, sent


@pytest.mark.parametrize(
    ("head", "status"),
    [
        pytest.param(b"GET / HTTP/1.1\r\nHost: x\r\nX-Endless: ", 431, id="header-line"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: x\r\nX-Endless-Name", 431, id="header-name"),
        pytest.param(b"GET /", 414, id="request-line"),
    ],
)
def test_endless_line_is_refused(server: RunningWebServer, head: bytes, status: int) -> None:
    responses, _ = _send_endless(server, head)
    assert [r.status for r in responses] == [status]


def test_endless_header_line_keeps_server_memory_bounded(server: RunningWebServer) -> None:
    pid = server.process.pid
    get(server)  # warm up: imports, caches
    before = _memory_kib(pid)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Endless: "
        results = list(pool.map(lambda _: _send_endless(server, head), range(4)))
    after = _memory_kib(pid)
    assert all([r.status for r in responses] == [431] for responses, _ in results)
    assert after["VmHWM"] - before["VmHWM"] < 50 * 1024
    assert after["VmRSS"] - before["VmRSS"] < 50 * 1024


def test_http11_request_without_host_gets_400(server: RunningWebServer) -> None:
    response, closed = exchange(server, b"GET / HTTP/1.1\r\n\r\n")
    assert response.status == 400
    assert closed


def test_http10_request_without_host_is_accepted(server: RunningWebServer) -> None:
    response, _ = exchange(server, b"GET / HTTP/1.0\r\n\r\n")
    assert response.status == 200


def test_request_with_two_host_headers_gets_400(server: RunningWebServer) -> None:
    response, closed = exchange(server, b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n")
    assert response.status == 400
    assert closed


@pytest.mark.parametrize("host", [b"a b", b"a/b", b"user@x"], ids=["space", "slash", "userinfo"])
def test_host_header_with_an_invalid_value_gets_400(server: RunningWebServer, host: bytes) -> None:
    """RFC 9112 §3.2: a Host whose value is not a valid host[:port] gets 400."""
    response, _ = exchange(server, b"GET / HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
    assert response.status == 400


@pytest.mark.parametrize("method", [b"FOO", b"get", b"BREW"])
def test_unknown_method_gets_501(server: RunningWebServer, method: bytes) -> None:
    response, closed = exchange(server, method + b" / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert response.status == 501
    assert closed


@pytest.mark.parametrize("method", [b"POST", b"PUT", b"DELETE", b"PATCH"])
def test_method_that_writes_gets_405_with_allow(server: RunningWebServer, method: bytes) -> None:
    request = method + b" /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
    response, _ = exchange(server, request)
    assert response.status == 405
    assert response.header("allow") == "GET, HEAD, OPTIONS"


def test_server_still_serves_after_the_limits(server: RunningWebServer) -> None:
    assert_still_serving(server)


# --- slow clients -------------------------------------------------------------------------


@dataclass
class Trickled:
    seconds: float  # from the first byte until the server closed, or the time limit
    closed: bool
    received: bytes


def trickle(
    server: RunningWebServer, prefix: bytes, data: bytes, interval: float = 0.3, limit: float = 6.0
) -> Trickled:
    """Send ``prefix``, then ``data`` one byte every ``interval`` s until the server closes."""
    with Client(server) as client:
        start = time.monotonic()
        client.send(prefix)
        for byte in data:
            if time.monotonic() - start > limit or not client.send(bytes([byte])):
                break
            readable, _, _ = select.select([client.sock], [], [], interval)
            if readable:
                break
        client.read_until_closed(timeout=max(0.1, limit - (time.monotonic() - start)))
        return Trickled(time.monotonic() - start, client.closed, client.buffer)


SLOW_HEAD = b"GET /index.html HTTP/1.1\r\nHost: x\r\nUser-Agent: " + b"s" * 60 + b"\r\n\r\n"


def test_a_head_trickled_byte_by_byte_is_cut_off_after_the_header_timeout(
    impatient_server: RunningWebServer,
) -> None:
    result = trickle(impatient_server, b"", SLOW_HEAD)
    assert result.closed, f"still connected after {result.seconds:.1f}s"
    assert result.seconds < HEADER_TIMEOUT + 1.0
    responses, rest = parse_responses(result.received)
    assert rest == b""
    assert [r.status for r in responses] in ([], [408])


def test_other_clients_are_served_while_slow_clients_trickle(
    impatient_server: RunningWebServer,
) -> None:
    with concurrent.futures.ThreadPoolExecutor(5) as pool:
        slow = [pool.submit(trickle, impatient_server, b"", SLOW_HEAD) for _ in range(5)]
        served = []
        deadline = time.monotonic() + 5.0
        for _ in range(50):
            if time.monotonic() > deadline or (all(f.done() for f in slow) and len(served) >= 5):
                break
            started = time.monotonic()
            served.append((get(impatient_server).status, time.monotonic() - started))
            time.sleep(0.05)
        results = [future.result() for future in slow]
    assert len(served) >= 5
    assert all(status == 200 for status, _ in served)
    assert max(seconds for _, seconds in served) < 0.5
    assert all(r.closed for r in results)


def test_idle_keepalive_connection_is_closed_after_the_keepalive_timeout(
    impatient_server: RunningWebServer,
) -> None:
    with Client(impatient_server, timeout=5.0) as client:
        client.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert client.responses(1)[0].status == 200
        answered = time.monotonic()
        client.read_until_closed(timeout=KEEPALIVE_TIMEOUT + 2.0)
        idle = time.monotonic() - answered
    assert client.closed
    assert KEEPALIVE_TIMEOUT - 0.3 < idle < KEEPALIVE_TIMEOUT + 1.0


def test_connection_that_never_sends_is_closed_after_the_first_request_timeout(
    impatient_server: RunningWebServer,
) -> None:
    with Client(impatient_server, timeout=5.0) as client:
        opened = time.monotonic()
        client.read_until_closed(timeout=KEEPALIVE_TIMEOUT + 2.0)
        seconds = time.monotonic() - opened
    assert client.closed
    assert seconds < KEEPALIVE_TIMEOUT + 1.0


# --- slow clients, in virtual time ---------------------------------------------------------
#
# The same server, started as `webtrip web serve --header-timeout 1 --keepalive-timeout 2
# --first-request-timeout 2` starts it, on a simulated host; the client trickles from
# another. The bounds are those the real tests had with these timeouts, in virtual seconds.

SIM_CLIENT, SIM_SERVER = "10.9.0.1", "10.9.0.2"
SIM_OPTIONS = WebServerOptions(header_timeout=1.0, keepalive_timeout=2.0, first_request_timeout=2.0)


def sim_exchange(site: Path, client: Callable[[Stream], Awaitable[T]]) -> T:
    """Run ``client`` on a connection to our server (:data:`SIM_OPTIONS`) in a simulated world."""
    with SimWorld(seed=1) as world:
        near, far = world.add_host("client"), world.add_host("server")
        world.connect(near, f"{SIM_CLIENT}/24", far, f"{SIM_SERVER}/24", latency=0.001)
        sites = SiteMap([Site.from_folder("", site)])
        server = WebServer(world.network(far), sites, world.trace, options=SIM_OPTIONS)

        async def main() -> T:
            await server.start([(SIM_SERVER, 80)])
            stream = await world.network(near).open_tcp_stream(SIM_SERVER, 80)
            try:
                return await client(stream)
            finally:
                stream.abort()
                await server.aclose()

        return world.run(main())


def sim_trickle(
    site: Path, prefix: bytes, data: bytes, interval: float = 0.3, limit: float = 6.0
) -> Trickled:
    """:func:`trickle`, in the simulated world."""

    async def client(stream: Stream) -> Trickled:
        loop = asyncio.get_running_loop()
        received = bytearray()

        async def read_until_closed() -> None:
            with contextlib.suppress(ConnectionError):
                while chunk := await stream.receive_some():
                    received.extend(chunk)

        start = loop.time()
        reader = asyncio.create_task(read_until_closed())
        with contextlib.suppress(ConnectionError):
            await stream.send_all(prefix)
            for byte in data:
                if loop.time() - start > limit or received or reader.done():
                    break
                await stream.send_all(bytes([byte]))
                await asyncio.wait([reader], timeout=interval)
        await asyncio.wait([reader], timeout=max(0.1, limit - (loop.time() - start)))
        reader.cancel()
        closed = reader.done() and not reader.cancelled()
        return Trickled(loop.time() - start, closed, bytes(received))

    return sim_exchange(site, client)


SLOW_CLIENTS = [
    pytest.param(b"", SLOW_HEAD, SIM_OPTIONS.header_timeout, id="head-byte-by-byte"),
    pytest.param(
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n",
        b"b" * 50,
        SIM_OPTIONS.header_timeout,
        id="body-byte-by-byte",
    ),
    pytest.param(b"", b"\r\n" * 30, SIM_OPTIONS.keepalive_timeout, id="blank-lines-byte-by-byte"),
]


@pytest.mark.parametrize(("prefix", "data", "timeout"), SLOW_CLIENTS)
def test_slow_client_is_cut_off_after_its_timeout(
    site: Path, prefix: bytes, data: bytes, timeout: float
) -> None:
    result = sim_trickle(site, prefix, data)
    assert result.closed, f"still connected after {result.seconds:.1f}s"
    assert result.seconds < timeout + 1.0
    responses, rest = parse_responses(result.received)
    assert rest == b""
    assert [r.status for r in responses] in ([], [408])


def test_keepalive_connection_is_reused_within_the_timeout(site: Path) -> None:
    request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"

    async def client(stream: Stream) -> list[Response]:
        received = b""

        async def responses(count: int) -> list[Response]:
            nonlocal received
            while len(parse_responses(received)[0]) < count:
                data = await asyncio.wait_for(stream.receive_some(), timeout=3.0)
                assert data, "the server closed the connection"
                received += data
            return parse_responses(received)[0]

        await stream.send_all(request)
        await responses(1)
        await asyncio.sleep(SIM_OPTIONS.keepalive_timeout * 0.6)
        await stream.send_all(request)
        return await responses(2)

    responses = sim_exchange(site, client)
    assert [r.status for r in responses] == [200, 200]


# --- connection cap -------------------------------------------------------------------


def _connect_and_get(server: RunningWebServer) -> tuple[Client, Response]:
    client = Client(server)
    client.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    return client, client.responses(1)[0]


@pytest.fixture
def held(capped_server: RunningWebServer) -> Iterator[list[Client]]:
    """Three connections the capped server is busy serving."""
    clients: list[Client] = []
    try:
        for _ in range(3):
            for _ in range(30):  # the server may not have seen an earlier close yet
                client, response = _connect_and_get(capped_server)
                if response.status == 200:
                    # Busy: sending 10 MB to a client that does not read (a full
                    # server reclaims idle connections, never busy ones).
                    client.send(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n" * 2)
                    clients.append(client)
                    break
                client.sock.close()
                time.sleep(0.1)
            else:
                pytest.fail("the capped server never accepted a connection")
        yield clients
    finally:
        for client in clients:
            client.sock.close()


def test_connection_beyond_the_cap_gets_503_with_retry_after(
    capped_server: RunningWebServer, held: list[Client]
) -> None:
    with Client(capped_server) as fourth:
        responses, _ = parse_responses(fourth.read_until_closed())
    assert [r.status for r in responses] == [503]
    assert responses[0].header("retry-after") is not None
    assert responses[0].header("retry-after").isdigit()


def test_connection_beyond_the_cap_is_closed(
    capped_server: RunningWebServer, held: list[Client]
) -> None:
    with Client(capped_server) as fourth:
        fourth.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        fourth.read_until_closed()
    assert fourth.closed


def test_held_connections_are_still_served_at_the_cap(
    capped_server: RunningWebServer, held: list[Client]
) -> None:
    with Client(capped_server) as fourth:
        fourth.read_until_closed()
    for client in held:
        client.send(b"GET /docs/guide.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        assert client.responses(4, timeout=20)[3].body == GUIDE


def test_released_slot_is_served_again(capped_server: RunningWebServer, held: list[Client]) -> None:
    held.pop().sock.close()
    statuses = []
    for _ in range(30):  # bounded: the server notices the close within a moment
        client, response = _connect_and_get(capped_server)
        client.sock.close()
        statuses.append(response.status)
        if response.status == 200:
            break
        time.sleep(0.1)
    assert statuses[-1] == 200
    assert set(statuses) <= {200, 503}


# --- resets -------------------------------------------------------------------------------


def reset(client: Client) -> None:
    """Close with SO_LINGER 0: the kernel sends RST instead of FIN."""
    client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.sock.close()


RESETS = [
    pytest.param(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n", 64 * KIB, id="mid-response"),
    pytest.param(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n", 0, id="before-reading"),
    pytest.param(b"GET /big.bin HTTP/1.1\r\nHost: x\r\nX-Half: ", 0, id="mid-request-head"),
    pytest.param(_with_body(b"a" * 200 * KIB, "content-length")[: 100 * KIB], 0, id="mid-body"),
]


@pytest.mark.parametrize(("request_bytes", "read"), RESETS)
def test_client_reset_does_not_break_the_server(
    server: RunningWebServer, request_bytes: bytes, read: int
) -> None:
    for _ in range(5):
        client = Client(server)
        client.send(request_bytes)
        deadline = time.monotonic() + 3.0
        while len(client.buffer) < read and client.receive_once(deadline):
            pass
        assert len(client.buffer) >= read
        reset(client)
    assert_still_serving(server)


def test_big_file_is_sent_whole_after_resets(server: RunningWebServer) -> None:
    for _ in range(3):
        client = Client(server)
        client.send(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        client.receive_once(time.monotonic() + 3.0)
        reset(client)
    with Client(server, timeout=10.0) as client:
        client.send(b"GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        response = client.responses(1, timeout=10.0)[0]
    assert response.status == 200
    assert len(response.body) == BIG_SIZE
    assert response.body[:256] == bytes(range(256))


# --- random garbage ---------------------------------------------------------------------

VALID_REQUESTS = [
    b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /docs/guide.txt HTTP/1.1\r\nHost: www.example.test\r\nRange: bytes=0-3\r\n\r\n",
    b"GET /docs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b"GET /style.css HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n",
    b'GET / HTTP/1.1\r\nHost: x\r\nIf-None-Match: "x"\r\nIf-Match: "y"\r\n\r\n',
    b"GET / HTTP/1.0\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    b"POST / HTTP/1.1\r\nHost: x\r\n" + CHUNKED + b"\r\n5;e=1\r\nhello\r\n0\r\nT: 1\r\n\r\n",
]

NASTY_LINES = [
    b"Transfer-Encoding: chunked",
    b"Content-Length: 3",
    b"Content-Length: 99999999",
    b"Host: y",
    b"Connection: close",
    b"Connection: keep-alive, Upgrade",
    b"Upgrade: h2c",
    b"Expect: 100-continue",
    b"Range: bytes=-1,0-,5-2",
    b"X: \x00",
    b" folded",
]


@st.composite
def mutated_requests(draw) -> bytes:
    """A valid request with bytes flipped, cut, inserted, or lines changed."""
    data = bytearray(draw(st.sampled_from(VALID_REQUESTS)))
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["flip", "cut", "insert", "line", "newline", "repeat"]))
        if action == "flip" and data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[draw(st.integers(0, len(data))) :]
        elif action == "insert":
            at = draw(st.integers(0, len(data)))
            data[at:at] = draw(st.binary(min_size=1, max_size=40))
        elif action == "line":
            end = data.find(b"\r\n")
            if end >= 0:
                data[end + 2 : end + 2] = draw(st.sampled_from(NASTY_LINES)) + b"\r\n"
        elif action == "newline":
            data = bytearray(
                data.replace(b"\r\n", draw(st.sampled_from([b"\n", b"\r", b"\r\r\n"])), 1)
            )
        elif action == "repeat":
            data = bytearray(bytes(data) * 2)
    return bytes(data)


any_request = st.one_of(
    st.binary(max_size=1000),
    mutated_requests(),
    st.lists(mutated_requests(), min_size=2, max_size=3).map(b"".join),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=any_request)
def test_garbage_gets_a_valid_response_or_a_close_and_the_server_keeps_serving(
    server: RunningWebServer, data: bytes
) -> None:
    with Client(server, timeout=2.0) as client:
        client.send(data)
        client.sock.shutdown(socket.SHUT_WR)  # no more is coming: nothing left to wait for
        received = client.read_until_closed(timeout=2.0)
        assert client.closed, "the connection was neither answered to the end nor closed in 2 s"
    responses, rest = parse_responses(received)
    assert rest == b"", f"bytes that are not a complete response: {rest[:200]!r}"
    assert all(200 <= r.status <= 599 for r in responses)
    assert_still_serving(server)
