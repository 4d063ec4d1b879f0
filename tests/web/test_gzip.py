"""gzip at the web server: decided without compressing, made once per file version, shared.

Specification (issue 14, item 3):

* A HEAD never compresses: its headers are those of the GET (Content-Encoding,
  the gzip ETag), with the gzip form's Content-Length once it has been made and
  without one before (RFC 9110 §9.3.2).
* A file version is compressed once, however many clients ask at once.
* Clients that ask for a big gzip body and never read hold no copy of it: the
  server's memory stays bounded (its RSS, read from /proc).
* Compressing big files happens off the event loop: an honest client keeps
  being answered meanwhile.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import gzip
import random
import socket
import time
from pathlib import Path

import pytest

from support import RunningWebServer, webtrip_web_server
from webtrip.net import RealNetwork
from webtrip.trace import Trace
from webtrip.web.server import WebServer
from webtrip.web.sites import Site, SiteMap

MIB = 1024 * 1024


def text_file(path: Path, size: int, seed: int = 1) -> bytes:
    """A text file that gzip shrinks by only a quarter (base64 of random bytes)."""
    data = base64.b64encode(random.Random(seed).randbytes(size))[:size]
    path.write_bytes(data)
    return data


async def start(root: Path) -> WebServer:
    network = RealNetwork()
    server = WebServer(network, SiteMap([Site.from_folder("", root)]), Trace(network.now))
    await server.start([("127.0.0.1", 0)])
    return server


async def exchange(server: WebServer, method: str, path: str) -> tuple[dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection(*server.addresses[0])
    try:
        writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n".encode()
        )
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        headers = {}
        for line in head[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        body = await reader.readexactly(length) if method == "GET" else b""
        return headers, body
    finally:
        writer.close()


def test_head_on_a_large_compressible_file_does_not_compress(tmp_path: Path) -> None:
    text_file(tmp_path / "big.txt", 2 * MIB)

    async def scenario():
        server = await start(tmp_path)
        try:
            head_before, _ = await exchange(server, "HEAD", "/big.txt")
            made_by_head = server.cache.compressions
            got, body = await exchange(server, "GET", "/big.txt")
            head_after, _ = await exchange(server, "HEAD", "/big.txt")
            return head_before, made_by_head, got, body, head_after, server.cache.compressions
        finally:
            await server.aclose()

    head_before, made_by_head, got, body, head_after, made = asyncio.run(
        asyncio.wait_for(scenario(), 30)
    )
    assert made_by_head == 0
    assert head_before["content-encoding"] == got["content-encoding"] == "gzip"
    assert head_before["etag"] == got["etag"] == head_after["etag"]
    assert "content-length" not in head_before  # known only by compressing
    assert head_after["content-length"] == got["content-length"] == str(len(body))
    assert gzip.decompress(body) == (tmp_path / "big.txt").read_bytes()
    assert made == 1


def test_clients_asking_at_once_share_one_compression(tmp_path: Path) -> None:
    data = text_file(tmp_path / "big.txt", 2 * MIB)

    async def scenario():
        server = await start(tmp_path)
        try:
            answers = await asyncio.gather(*(exchange(server, "GET", "/big.txt") for _ in range(8)))
            return answers, server.cache.compressions
        finally:
            await server.aclose()

    answers, made = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert made == 1
    assert {body for _, body in answers} == {answers[0][1]}
    assert gzip.decompress(answers[0][1]) == data


@pytest.fixture
def big_text_server(tmp_path: Path) -> RunningWebServer:
    root = tmp_path / "site"
    root.mkdir()
    (root / "index.html").write_text("<p>hello</p>\n")
    for n in range(4):
        text_file(root / f"big{n}.txt", 7 * MIB, seed=n)
    with webtrip_web_server(root, log_dir=tmp_path) as running:
        yield running


def _memory_mib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    raise AssertionError("no VmRSS")


def _ask(server: RunningWebServer, path: str) -> socket.socket:
    """Ask for ``path`` with gzip, with a tiny receive window, and read nothing."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(5)
    sock.connect((server.host, server.port))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n".encode())
    return sock


def _get_index(server: RunningWebServer) -> float:
    """Seconds for one honest GET of the small index page."""
    started = time.perf_counter()
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(b"GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        while sock.recv(65536):
            pass
    return time.perf_counter() - started


def test_gzip_clients_that_never_read_keep_server_memory_bounded(
    big_text_server: RunningWebServer,
) -> None:
    """40 clients, each asking for a 5.5 MB gzip body (more than the kernel's socket
    buffers hold): on the code before this test each held a copy (48 → 526 MB for 60)."""
    pid = big_text_server.process.pid
    _get_index(big_text_server)
    before = _memory_mib(pid)
    sockets = [_ask(big_text_server, "/big0.txt") for _ in range(40)]
    try:
        time.sleep(2.0)
        grown = _memory_mib(pid) - before
    finally:
        for sock in sockets:
            sock.close()
    assert _get_index(big_text_server) < 5
    assert grown < 60  # the one shared gzip form (5.5 MB) and a slice per connection


def test_an_honest_client_is_served_while_big_files_are_compressed(
    big_text_server: RunningWebServer,
) -> None:
    """Four 7 MiB text files compressed at once (a quarter of a second each): the small
    page keeps coming back in a fraction of that (before: it waited for each one). The
    yardstick is one such compression timed here, on the same (maybe busy) machine."""
    sample = base64.b64encode(random.Random(0).randbytes(7 * MIB))[: 7 * MIB]  # as big0.txt
    started = time.monotonic()
    gzip.compress(sample, compresslevel=6, mtime=0)
    one_compression = time.monotonic() - started
    _get_index(big_text_server)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        asked = [pool.submit(_ask, big_text_server, f"/big{n}.txt") for n in range(4)]
        waits = []
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            waits.append(_get_index(big_text_server))
        for future in asked:
            future.result().close()
    assert max(waits) < one_compression / 2, (max(waits), one_compression)
