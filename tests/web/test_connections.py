"""Connections and descriptors: a full server makes room, and runs out of nothing loudly.

Specification (issue 14, items 4, 5 and 14's lingering close), against a live
``webtrip web serve`` on loopback, with real curl as the honest client:

* **Reclaiming.** When ``--max-connections`` connections are open and a new
  one arrives, the server closes the connection idle the longest (kept alive,
  or still waiting for its first request), else the one that has been sending
  a request head the longest (slowloris), and serves the new one: a flood of
  idle or slow connections at the cap does not shut out an honest client.
* **Descriptors.** The cap is lowered to what ``ulimit -n`` allows, and the
  startup says so in one line; a flood of connections beyond it never prints
  a traceback, and an honest client gets an answer (200 or 503), never hangs.
* **Lingering close.** A refused request (431 for headers too large, 413 for
  a body too large) gets its error page even while the client is still
  sending: the server shuts writing and drains before it closes, so curl
  sees the status, not "connection reset".

Every loop is bounded in count and time; all traffic is on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import DATA, require_program, webtrip_web_server
from support import RunningWebServer as Running
from webtrip.web.server import IDLE_GRACE

pytestmark = pytest.mark.peer("curl")

WWW = DATA / "sites" / "www"
CAP = 5


def curl_status(server: Running, *extra: str, timeout: float = 5.0) -> str:
    """The status curl got for ``/`` (with ``extra`` options), or its error."""
    done = subprocess.run(
        [
            *(require_program("curl"), "-sS", "-o", "/dev/null", "-w", "%{http_code}"),
            *("--max-time", str(timeout), *extra, server.url + "/"),
        ],
        capture_output=True,
        text=True,
        timeout=timeout + 5,
    )
    return done.stdout if done.returncode == 0 else f"curl {done.returncode}: {done.stderr}"


@contextlib.contextmanager
def connections(
    server: Running, count: int, first_bytes: bytes = b""
) -> Iterator[list[socket.socket]]:
    """``count`` connections to ``server`` that each send ``first_bytes`` and then nothing."""
    opened: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.create_connection((server.host, server.port), timeout=2)
            if first_bytes:
                sock.sendall(first_bytes)
            opened.append(sock)
        time.sleep(0.3)  # the server has accepted them all
        yield opened
    finally:
        for sock in opened:
            sock.close()


def closed_by_server(sock: socket.socket, wait: float = 1.0) -> bool:
    sock.settimeout(wait)
    try:
        return sock.recv(65536) == b""
    except TimeoutError:
        return False
    except ConnectionError:
        return True


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    logs = tmp_path_factory.mktemp("logs")
    with webtrip_web_server(WWW, log_dir=logs, extra=["--max-connections", str(CAP)]) as running:
        yield running


def test_idle_connections_at_the_cap_make_room_for_an_honest_client(capped: Running) -> None:
    with connections(capped, CAP) as idle:
        assert curl_status(capped) == "200"
        # The oldest idle connection gave its place; the others are still open.
        assert closed_by_server(idle[0])
        assert not closed_by_server(idle[-1], 0.2)


def test_kept_alive_connection_idle_the_longest_is_the_one_closed(capped: Running) -> None:
    with connections(capped, CAP) as idle:
        idle[0].sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # used: now idle the shortest
        idle[0].settimeout(2)
        assert idle[0].recv(65536).startswith(b"HTTP/1.1 200")
        assert curl_status(capped) == "200"
        assert closed_by_server(idle[1])
        assert not closed_by_server(idle[0], 0.2)


def test_slowloris_at_the_cap_makes_room_for_an_honest_client(capped: Running) -> None:
    with connections(capped, CAP, b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ") as slow:
        statuses = [curl_status(capped) for _ in range(3)]
        assert statuses == ["200"] * 3
        # The slowest gave its place (curl's own closed connection freed the next ones).
        assert closed_by_server(slow[0])
        assert not closed_by_server(slow[-1], 0.2)


def test_idle_connections_give_way_before_slow_ones(capped: Running) -> None:
    slow_head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "
    with connections(capped, CAP - 1, slow_head) as slow, connections(capped, 1) as idle:
        time.sleep(IDLE_GRACE)  # idle for longer than a pause between two requests
        assert curl_status(capped) == "200"
        assert closed_by_server(idle[0])
        assert not closed_by_server(slow[0], 0.2)


def test_a_client_between_two_requests_keeps_its_place_before_a_slow_sender(
    capped: Running,
) -> None:
    """The bench's case: slowloris senders fill the cap but one place, which an honest
    client keeps alive between its requests; a newcomer takes a slow sender's place, not
    the honest client's (before: the honest one, idle for a moment, was closed)."""
    slow_head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "
    with connections(capped, CAP - 1, slow_head) as slow, connections(capped, 1) as honest:
        honest[0].sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        honest[0].settimeout(2)
        assert honest[0].recv(65536).startswith(b"HTTP/1.1 200")
        assert curl_status(capped) == "200"  # came while the honest client was between requests
        assert closed_by_server(slow[0])
        honest[0].sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert honest[0].recv(65536).startswith(b"HTTP/1.1 200")


# --- descriptors ----------------------------------------------------------------------


def _limit_descriptors() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))


@pytest.fixture
def starved(tmp_path: Path) -> Iterator[tuple[Running, subprocess.Popen[str], Path]]:
    """A server allowed 256 descriptors and asked for 4,000 connections."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    errors = tmp_path / "stderr.txt"
    args = [sys.executable, "-m", "webtrip", "web", "serve", str(WWW)]
    args += ["--listen", f"127.0.0.1:{port}", "--max-connections", "4000"]
    with errors.open("w") as stderr:
        process = subprocess.Popen(
            args,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            text=True,
            env=dict(os.environ, NO_COLOR="1", COLUMNS="200"),
            preexec_fn=_limit_descriptors,
        )
    try:
        from support import wait_for_tcp

        wait_for_tcp("127.0.0.1", port)
        yield Running("127.0.0.1", port, process, tmp_path / "none.log"), process, errors
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_cap_is_sized_to_the_descriptor_limit_and_said(
    starved: tuple[Running, subprocess.Popen[str], Path],
) -> None:
    _, _, errors = starved
    first = errors.read_text().splitlines()[0]
    assert first.startswith("Only 256 file descriptors are allowed (ulimit -n): serving at most ")
    assert first.endswith(" connections at once, not 4,000.")
    chosen = int(first.split("at most ")[1].split()[0])
    assert 16 <= chosen < 128  # two descriptors a connection, and room for the rest


def test_a_flood_beyond_the_descriptors_prints_no_traceback_and_answers(
    starved: tuple[Running, subprocess.Popen[str], Path],
) -> None:
    server, process, errors = starved
    with connections(server, 400):
        statuses = [curl_status(server, timeout=5) for _ in range(3)]
    assert set(statuses) <= {"200", "503"}, statuses
    assert process.poll() is None
    text = errors.read_text()
    assert "Traceback" not in text
    assert len(text.splitlines()) <= 4, text


# --- lingering close ------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with webtrip_web_server(WWW, log_dir=tmp_path_factory.mktemp("logs")) as running:
        yield running


def test_curl_sees_431_for_headers_too_large(server: Running) -> None:
    # 24 KiB of header while the limit is 16 KiB: curl is still sending when refused.
    statuses = {curl_status(server, "-H", "X-Big: " + "a" * 24 * 1024) for _ in range(5)}
    assert statuses == {"431"}


def test_curl_sees_413_for_a_body_too_large(server: Running, tmp_path: Path) -> None:
    body = tmp_path / "body.bin"
    body.write_bytes(b"x" * (2 * 1024 * 1024))
    # No Expect: 100-continue: the body follows the head at once, as a form post does.
    extra = ("-X", "PUT", "-H", "Expect:", "--data-binary", f"@{body}")
    statuses = {curl_status(server, *extra) for _ in range(5)}
    assert statuses == {"413"}
