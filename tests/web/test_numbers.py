"""Numbers a client sends that no file size or date can hold: the server answers
them, as nginx does, and keeps serving the requests pipelined after them.

Python's ``int()`` refuses text of more than 4,300 digits (ValueError) and the
date functions overflow on a year of 20 digits (OverflowError): neither may
reach the connection, which would close with no response and lose what the
client had pipelined.
"""

from __future__ import annotations

import re
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from peers.nginx import nginx_server
from support import RunningWebServer, webtrip_web_server

BODY = b"0123456789" * 10  # 100 bytes
HUGE = "9" * 5000  # over Python's 4,300-digit int() limit
LONG = "9" * 25  # past 2**64: fits no file size


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("numbers-site")
    (root / "a.bin").write_bytes(BODY)
    return root


@pytest.fixture(scope="module")
def server(site: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningWebServer]:
    with webtrip_web_server(site, log_dir=tmp_path_factory.mktemp("logs")) as running:
        yield running


def _curl(url: str, *headers: str) -> tuple[int, bytes]:
    args = ["curl", "-s", "--max-time", "5", "-w", "\n%{http_code}"]
    for header in headers:
        args += ["-H", header]
    out = subprocess.run([*args, url], capture_output=True, check=False).stdout
    body, _, status = out.rpartition(b"\n")
    return int(status), body


RANGES = [
    pytest.param(f"bytes={HUGE}-", id="huge-first"),
    pytest.param(f"bytes=0-{HUGE}", id="huge-last"),
    pytest.param(f"bytes=-{HUGE}", id="huge-suffix"),
    pytest.param(f"bytes={LONG}-", id="long-first"),
    pytest.param(f"bytes=0-{LONG}", id="long-last"),
    pytest.param(f"bytes=-{LONG}", id="long-suffix"),
]


def _pipelined(port: int, first_headers: bytes) -> bytes:
    """Two GETs sent at once, the first with ``first_headers``; all the server sent."""
    request = b"GET /a.bin HTTP/1.1\r\nHost: x\r\n"
    data = request + first_headers + b"\r\n" + request + b"Connection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


@pytest.mark.peer("curl")
@pytest.mark.parametrize("value", RANGES)
def test_a_range_past_2_63_gets_416_as_from_nginx(server: RunningWebServer, value: str) -> None:
    """nginx 1.x answers 416 to every one of these ranges (its positions stop at
    2**63 - 1, an off_t): measured with curl in test_nginx_gives_416_to_the_same_ranges."""
    status, _ = _curl(f"{server.url}/a.bin", f"Range: {value}")
    assert status == 416


@pytest.mark.peer("nginx")
def test_nginx_gives_416_to_the_same_ranges(site: Path) -> None:
    with nginx_server(site) as nginx:
        statuses = [_curl(f"{nginx.url}/a.bin", f"Range: {p.values[0]}")[0] for p in RANGES]
        largest, _ = _curl(f"{nginx.url}/a.bin", "Range: bytes=0-9223372036854775807")
    assert statuses == [416] * len(RANGES)
    assert largest == 206


@pytest.mark.peer("curl")
def test_the_largest_position_is_still_a_range(server: RunningWebServer) -> None:
    status, body = _curl(f"{server.url}/a.bin", "Range: bytes=0-9223372036854775807")
    assert (status, body) == (206, BODY)
    status, body = _curl(f"{server.url}/a.bin", "Range: bytes=-9223372036854775807")
    assert (status, body) == (206, BODY)


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(f"Range: bytes={HUGE}-".encode(), id="range"),
        pytest.param(f"Range: bytes=-{HUGE}".encode(), id="suffix-range"),
        pytest.param(b"If-Modified-Since: Sat, 01 Jan " + LONG.encode() + b" 00:00:00 GMT",
                     id="if-modified-since-year"),
        pytest.param(b"If-Unmodified-Since: Sat, 01 Jan 2020 00:00:00 +" + LONG.encode(),
                     id="if-unmodified-since-zone"),
        pytest.param(b"Content-Length: " + HUGE.encode(), id="content-length"),
    ],
)  # fmt: skip
def test_the_request_pipelined_after_a_huge_number_is_served(
    server: RunningWebServer, header: bytes
) -> None:
    received = _pipelined(server.port, header + b"\r\n")
    statuses = re.findall(rb"HTTP/1\.1 ([0-9]{3}) ", received)
    assert statuses, "the connection closed with no response"
    assert statuses[0] in (b"200", b"206", b"400", b"412", b"413", b"416")
    if statuses[0] not in (b"400", b"413"):  # a framing error ends the connection (RFC 9112)
        assert statuses[1:] == [b"200"]
        assert received.endswith(BODY)
