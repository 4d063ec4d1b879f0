"""The web server actor over real loopback sockets: persistence, pipelining, the trace."""

from __future__ import annotations

import asyncio
import os
import re
import socket

import pytest

from support import DATA
from webtrip.net import RealNetwork
from webtrip.trace import (
    HttpBodySent,
    HttpExchangeCompleted,
    HttpRequestReceived,
    HttpResponseHeadSent,
    TcpConnectionClosed,
    TcpConnectionOpened,
    Trace,
)
from webtrip.web.server import WebServer, WebServerOptions
from webtrip.web.sites import Site, SiteMap

SITES = DATA / "sites"


async def start(**options) -> tuple[WebServer, Trace]:
    network = RealNetwork()
    trace = Trace(network.now)
    sites = SiteMap(
        [
            Site.from_folder("www.example.test", SITES / "www"),
            Site.from_folder("static.example.test", SITES / "static"),
        ]
    )
    server = WebServer(network, sites, trace, options=WebServerOptions(**options))
    await server.start([("127.0.0.1", 0)])
    return server, trace


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return status, headers, body


def get(path: str, host: str = "www.example.test", extra: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode()


def run(scenario):
    return asyncio.run(asyncio.wait_for(scenario(), 20))


def test_pipelined_requests_are_answered_in_order_on_one_connection():
    async def scenario():
        server, trace = await start()
        try:
            reader, writer = await asyncio.open_connection(*server.addresses[0])
            paths = ["/style.css", "/index.html", "/missing", "/img/logo.png"]
            writer.write(b"".join(get(p) for p in paths))
            responses = [await read_response(reader) for _ in paths]
            writer.close()
            return responses, trace
        finally:
            await server.aclose()

    responses, trace = run(scenario)
    assert [status for status, _, _ in responses] == [200, 200, 404, 200]
    assert responses[0][2] == (SITES / "www" / "style.css").read_bytes()
    assert len(trace.of_type(TcpConnectionOpened)) == 1
    assert [e.target for e in trace.of_type(HttpRequestReceived)] == [
        "/style.css",
        "/index.html",
        "/missing",
        "/img/logo.png",
    ]


def test_every_exchange_is_traced_from_request_to_body():
    async def scenario():
        server, trace = await start()
        try:
            reader, writer = await asyncio.open_connection(*server.addresses[0])
            writer.write(get("/index.html", extra="Connection: close\r\n"))
            response = await read_response(reader)
            await reader.read()
            await asyncio.sleep(0.05)
            return response, trace
        finally:
            await server.aclose()

    (status, headers, body), trace = run(scenario)
    assert status == 200 and headers["connection"] == "close"
    kinds = [type(e).__name__ for e in trace.events]
    assert kinds == [
        "TcpConnectionOpened",
        "HttpRequestReceived",
        "HttpResponseHeadSent",
        "HttpBodySent",
        "HttpExchangeCompleted",
        "TcpConnectionClosed",
    ]
    (sent,) = trace.of_type(HttpBodySent)
    assert sent.size == len(body)
    (head,) = trace.of_type(HttpResponseHeadSent)
    assert ("Content-Length", str(len(body))) in head.headers
    (done,) = trace.of_type(HttpExchangeCompleted)
    assert (done.method, done.target, done.status, done.body_size) == (
        "GET",
        "/index.html",
        200,
        len(body),
    )
    assert trace.of_type(TcpConnectionClosed)[0].reason == "closed after response"


def test_virtual_hosts_do_not_share_files():
    async def scenario():
        server, _ = await start()
        try:
            reader, writer = await asyncio.open_connection(*server.addresses[0])
            writer.write(get("/style.css", host="static.example.test"))
            writer.write(get("/", host="STATIC.example.test.:80"))
            writer.write(get("/", host="unknown.example.test"))
            return [await read_response(reader) for _ in range(3)]
        finally:
            await server.aclose()

    missing, static_index, unknown = run(scenario)
    assert missing[0] == 404
    assert static_index[0] == 200 and b"The static site" in static_index[2]
    assert unknown[0] == 404 and b"no site named" in unknown[2]


def test_head_sends_the_headers_of_get_and_no_body():
    async def scenario():
        server, _ = await start()
        try:
            reader, writer = await asyncio.open_connection(*server.addresses[0])
            writer.write(b"HEAD /index.html HTTP/1.1\r\nHost: www.example.test\r\n\r\n")
            writer.write(get("/docs/guide.txt"))
            head = await reader.readuntil(b"\r\n\r\n")
            follow = await read_response(reader)
            return head, follow
        finally:
            await server.aclose()

    head, follow = run(scenario)
    size = (SITES / "www" / "index.html").stat().st_size
    assert f"Content-Length: {size}".encode() in head
    assert follow[2] == b"The guide, as plain text.\n"  # nothing of a body was in between


def test_http_1_0_is_closed_unless_keep_alive_is_asked():
    async def scenario():
        server, _ = await start()
        try:
            reader, writer = await asyncio.open_connection(*server.addresses[0])
            writer.write(b"GET / HTTP/1.0\r\nHost: www.example.test\r\n\r\n")
            first = await read_response(reader)
            eof = await reader.read()
            reader, writer = await asyncio.open_connection(*server.addresses[0])
            writer.write(
                b"GET / HTTP/1.0\r\nHost: www.example.test\r\nConnection: keep-alive\r\n\r\n"
            )
            kept = await read_response(reader)
            writer.write(b"GET /style.css HTTP/1.0\r\nHost: www.example.test\r\n\r\n")
            second = await read_response(reader)
            return first, eof, kept, second
        finally:
            await server.aclose()

    first, eof, kept, second = run(scenario)
    assert first[0] == 200 and eof == b""
    assert kept[1]["connection"] == "keep-alive" and second[0] == 200


def test_folder_listing_is_off_by_default_and_can_be_turned_on():
    async def scenario(list_folders: bool):
        server, _ = await start(list_folders=list_folders)
        try:
            reader, writer = await asyncio.open_connection(*server.addresses[0])
            writer.write(get("/img/"))
            return await read_response(reader)
        finally:
            await server.aclose()

    off = asyncio.run(scenario(False))
    on = asyncio.run(scenario(True))
    assert off[0] == 403
    assert on[0] == 200
    assert re.search(rb'href="logo.png"', on[2]) and b"diagram.svg" in on[2]


@pytest.mark.parametrize(
    ("target", "location"),
    [
        ("/docs", "/docs/"),
        ("/docs?x=1", "/docs/?x=1"),
        ("//docs", "/docs/"),
        ("/./docs", "/docs/"),
    ],
)
def test_folders_without_slash_redirect_within_the_site(target, location):
    async def scenario():
        server, _ = await start()
        try:
            reader, writer = await asyncio.open_connection(*server.addresses[0])
            writer.write(get(target))
            return await read_response(reader)
        finally:
            await server.aclose()

    status, headers, _ = run(scenario)
    assert status == 301 and headers["location"] == location


def test_a_file_that_shrinks_while_sent_ends_the_connection_after_the_bytes_it_had(tmp_path):
    """A big file truncated while a slow client reads it, with a second request
    pipelined behind: the server sends what the file still has, then closes. The
    second response never starts inside the first's declared body (which the
    client would take for file bytes), and the trace says why it closed."""
    size, kept = 24 * 1024 * 1024, 6 * 1024 * 1024
    site = tmp_path / "site"
    site.mkdir()
    big = site / "big.bin"
    pattern = bytes(range(256)) * 4096  # 1 MiB with no "HTTP/1.1" in it
    big.write_bytes(pattern * (size // len(pattern)))

    async def scenario():
        network = RealNetwork()
        trace = Trace(network.now)
        server = WebServer(network, SiteMap([Site.from_folder("", site)]), trace)
        await server.start([("127.0.0.1", 0)])
        try:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)  # a slow reader
            sock.connect(server.addresses[0])
            sock.setblocking(False)
            reader, writer = await asyncio.open_connection(sock=sock)
            writer.write(get("/big.bin") + get("/big.bin"))
            head = await reader.readuntil(b"\r\n\r\n")
            first = await reader.readexactly(256 * 1024)
            # Far less than 'kept' is in flight yet: the server is still sending.
            os.truncate(big, kept)
            rest = await reader.read()  # everything until the server closes
            writer.close()
            return head, first + rest, trace
        finally:
            await server.aclose()

    head, body, trace = run(scenario)
    assert f"Content-Length: {size}\r\n".encode() in head
    assert len(body) == kept  # exactly the bytes the file still had, then the end
    assert body == (pattern * (kept // len(pattern)))
    assert b"HTTP/1.1" not in body  # no second response inside the first's body
    [closed] = trace.of_type(TcpConnectionClosed)
    assert closed.reason == "file shrank"
    assert [e.size for e in trace.of_type(HttpBodySent)] == [kept]
    assert [e.body_size for e in trace.of_type(HttpExchangeCompleted)] == [kept]
