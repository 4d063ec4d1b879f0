"""DNS over TCP against hostile clients (issue 14): bounded memory, send timeout, reclaim.

A client that pipelines queries and never reads its answers must cost the
server a bounded amount of memory and lose its connection after the send
timeout; a server whose connection cap is filled by idle connections must
still answer an honest ``dig +tcp``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import dns.message
import pytest

from support import ZONES, require_program, webtrip_dns_server
from webtrip.dns import server as server_module
from webtrip.dns.authority import Authority
from webtrip.dns.server import DnsServer
from webtrip.dns.zones import ZoneSet, load_zone
from webtrip.net import RealNetwork
from webtrip.report.event_text import describe
from webtrip.trace import TcpConnectionClosed, TcpConnectionOpened, Trace

ZONE = ZONES / "example.test.zone"


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _big_queries(count: int) -> bytes:
    wire = dns.message.make_query("big.example.test", "TXT").to_wire()  # ~1.5 KB answer
    return (struct.pack("!H", len(wire)) + wire) * count


def _closed_by_server(sock: socket.socket, within: float) -> bool:
    """Read (and throw away) what the server sent until it closes, for up to ``within`` s."""
    sock.setblocking(True)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            if not sock.recv(1 << 20):
                return True
        except TimeoutError:
            return False
        except OSError:
            return True  # reset
    return False


def test_non_reading_pipeliners_get_bounded_memory_and_are_closed_after_the_send_timeout():
    connections, per_connection = 16, 2_000_000  # bytes of queries each, ~80 MB of answers
    with webtrip_dns_server([ZONE], extra=["--tcp-send-timeout", "1"]) as server:
        pid = server.process.pid
        before = _rss_mb(pid)
        blob = _big_queries(20_000)
        socks = []
        for _ in range(connections):
            sock = socket.create_connection((server.host, server.port), timeout=5)
            sock.setblocking(False)
            socks.append([sock, 0])
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:  # send what the kernel takes; never read
            progress = False
            for entry in socks:
                if entry[1] < per_connection:
                    try:
                        entry[1] += entry[0].send(blob[: per_connection - entry[1]])
                        progress = True
                    except (BlockingIOError, OSError):
                        pass
            if not progress:
                time.sleep(0.05)
        time.sleep(0.5)
        grown = _rss_mb(pid) - before
        # Nobody reads for a while longer, so every send timeout (1 s) fires: reading
        # now, before it had, would drain the answers and let the server go on.
        time.sleep(2.5)
        closed = sum(_closed_by_server(sock, 6) for sock, _ in socks)
        for sock, _ in socks:
            sock.close()
    # Today about 1 MB per connection at most (unsent answers, unread queries,
    # asyncio's buffers); without back-pressure each took ~6 MB here.
    assert grown < connections * 1.5, f"the server grew by {grown:.0f} MB"
    assert closed == connections


def _start(**limits: float) -> tuple[DnsServer, Trace]:
    network = RealNetwork()
    trace = Trace(network.now)
    server = DnsServer(network, Authority(ZoneSet([load_zone(ZONE)])), trace, **limits)  # type: ignore[arg-type]
    return server, trace


@pytest.mark.peer("dig")
def test_with_the_cap_filled_by_idle_connections_an_honest_dig_tcp_is_answered():
    dig = require_program("dig")

    async def scenario() -> tuple[list[str], Trace]:
        server, trace = _start(max_tcp_connections=4, tcp_idle_timeout=30)
        await server.start([("127.0.0.1", 0)])
        host, port = server.addresses[0]
        try:
            idle = [await asyncio.open_connection(host, port) for _ in range(8)]
            await asyncio.sleep(0.2)
            answers = []
            for _ in range(3):
                process = await asyncio.create_subprocess_exec(
                    dig, "+tcp", "+time=2", "+tries=1", "+short", "-p", str(port),
                    f"@{host}", "www.example.test", "A",
                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                )  # fmt: skip
                out, _ = await process.communicate()
                answers.append(out.decode().strip())
            for _reader, writer in idle:
                writer.close()
        finally:
            await server.aclose()
        return answers, trace

    answers, trace = asyncio.run(scenario())
    assert answers == ["192.0.2.10"] * 3
    reasons = [event.reason for event in trace.of_type(TcpConnectionClosed)]
    assert "reclaimed: idle" in reasons and "connection limit" not in reasons


def test_a_connection_waiting_for_an_answer_is_not_reclaimed_and_the_next_one_waits_its_turn(
    monkeypatch,
):
    """At the cap with every connection busy, a new client waits in the listen queue.

    It is not accepted only to be closed ("connection limit"): it is taken as
    soon as the busy one has its answer, and answered. (Busy: a query
    half-received within its grace time, here made long.)
    """
    monkeypatch.setattr(server_module, "TCP_SLOW_GRACE", 30.0)

    async def scenario() -> tuple[bytes, bytes, list[str], int]:
        server, trace = _start(max_tcp_connections=1, tcp_message_timeout=5)
        await server.start([("127.0.0.1", 0)])
        wire = dns.message.make_query("www.example.test", "A").to_wire()
        framed = struct.pack("!H", len(wire)) + wire
        try:
            reader, writer = await asyncio.open_connection(*server.addresses[0])
            writer.write(framed[:5])  # a query half-received: busy, not idle
            await writer.drain()
            await asyncio.sleep(0.1)
            r2, w2 = await asyncio.open_connection(*server.addresses[0])  # in the listen queue
            w2.write(framed)
            await asyncio.sleep(0.3)
            opened_meanwhile = len(trace.of_type(TcpConnectionOpened))
            writer.write(framed[5:])
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            answer = await reader.readexactly(length)
            writer.close()  # room: the waiting client is taken and answered
            (length,) = struct.unpack("!H", await asyncio.wait_for(r2.readexactly(2), 3))
            second = await r2.readexactly(length)
            w2.close()
            await asyncio.sleep(0.1)
        finally:
            await server.aclose()
        reasons = [event.reason for event in trace.of_type(TcpConnectionClosed)]
        return answer, second, reasons, opened_meanwhile

    answer, second, reasons, opened_meanwhile = asyncio.run(scenario())
    assert dns.message.from_wire(answer).answer
    assert dns.message.from_wire(second).answer
    assert opened_meanwhile == 1
    # (Once answered, the first one is idle and may be reclaimed for the waiting one.)
    assert "connection limit" not in reasons


# A DNS server in its own process (as `webtrip dns serve` runs) that prints why
# each TCP connection closed: a failing test then says which path closed it.
_TRACED_SERVER = """
import asyncio, sys
from webtrip.dns.authority import Authority
from webtrip.dns import server as server_module
from webtrip.dns.server import DnsServer
from webtrip.dns.zones import ZoneSet, load_zone
from webtrip.net import RealNetwork
from webtrip.trace import TcpConnectionClosed, Trace

async def main():
    network = RealNetwork()
    trace = Trace(network.now, keep=False)
    def show(event):
        if isinstance(event, TcpConnectionClosed):
            print("closed", event.peer[1], event.reason, flush=True)
    trace.subscribe(show)
    zones = ZoneSet([load_zone(sys.argv[1])])
    server = DnsServer(network, Authority(zones), trace, max_tcp_connections=int(sys.argv[2]))
    await server.start([("127.0.0.1", 0)])
    print("port", server.addresses[0][1], flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


@contextlib.contextmanager
def _traced_server(cap: int) -> Iterator[tuple[int, dict[int, str]]]:
    """Run the traced server; yield its port and {client port: why its connection closed}."""
    process = subprocess.Popen(
        [sys.executable, "-c", _TRACED_SERVER, str(ZONE), str(cap)],
        stdout=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
    )  # fmt: skip
    assert process.stdout is not None
    closed: dict[int, str] = {}
    try:
        first = process.stdout.readline().split()
        assert first[:1] == ["port"], first
        port = int(first[1])

        def collect() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                _word, client, reason = line.rstrip("\n").split(" ", 2)
                closed[int(client)] = reason

        reader = threading.Thread(target=collect, daemon=True)
        reader.start()
        yield port, closed
    finally:
        process.terminate()
        process.wait(10)


def _dig_tcp(dig: str, port: int, timeout: int) -> tuple[str, float]:
    started = time.monotonic()
    done = subprocess.run(
        [dig, "+tcp", f"+time={timeout}", "+tries=1", "+short", "-p", str(port),
         "@127.0.0.1", "www.example.test", "A"],
        capture_output=True, text=True, timeout=timeout + 5,
    )  # fmt: skip
    return done.stdout.strip(), time.monotonic() - started


@pytest.mark.peer("dig")
def test_with_the_cap_filled_by_non_reading_pipeliners_an_honest_dig_tcp_is_answered():
    """128 clients pipeline queries and never read, at a cap of 128: dig +tcp still gets its answer.

    Each non-reader stalls the server's sending within a batch or two (a small
    send buffer); once its answers have waited half the send timeout unread it
    is reclaimable, and until then the honest client waits in the listen
    queue. The honest one, just accepted and its query not yet read, is
    never taken for idle (a grace time), which is what once reset it under load.
    """
    dig = require_program("dig")
    cap = 128
    blob = _big_queries(2_000)
    with _traced_server(cap) as (port, closed):
        socks = []
        for _ in range(cap):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.setblocking(False)
            socks.append(sock)
        ours = {sock.getsockname()[1] for sock in socks}

        def flood(seconds: float) -> None:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                for sock in socks:
                    with contextlib.suppress(OSError):
                        sock.send(blob)
                time.sleep(0.01)

        flood(1.0)
        answers, took = [], []
        for _ in range(3):
            answer, seconds = _dig_tcp(dig, port, 5)
            answers.append(answer)
            took.append(round(seconds, 2))
            flood(0.2)
        for sock in socks:
            sock.close()
        time.sleep(0.2)
        honest = {client: why for client, why in closed.items() if client not in ours}
    # Within a few seconds even on a busy machine (the server first answers what
    # it has already read); before, every one was reset.
    assert answers == ["192.0.2.10"] * 3, (answers, took, honest)
    assert max(took) < 5, (took, honest)
    assert set(honest.values()) <= {"client closed"}, honest


@pytest.mark.peer("dig")
def test_slowloris_clients_at_the_cap_are_reclaimed_and_dig_tcp_is_answered():
    """300 clients each send one byte of a length prefix and nothing more (cap 128).

    Each waits for the server to close it and then connects again. A
    half-received message is not idle, so before this fix none could be
    reclaimed and honest dig +tcp mostly failed (4 of 12 answered); the one
    whose message started longest ago is now taken ("reclaimed: slow message").
    """
    dig = require_program("dig")
    attackers, cap = 300, 128
    stop = time.monotonic() + 8

    def attacker() -> None:
        while time.monotonic() < stop:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=2)
            except OSError:
                time.sleep(0.01)
                continue
            with sock, contextlib.suppress(OSError):
                sock.sendall(b"\x00")  # the first byte of a length, then nothing
                sock.settimeout(max(0.1, stop - time.monotonic()))
                sock.recv(1)  # until the server closes it

    with _traced_server(cap) as (port, closed):
        threads = [threading.Thread(target=attacker, daemon=True) for _ in range(attackers)]
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        results = [_dig_tcp(dig, port, 2) for _ in range(5)]
        reasons = collections.Counter(closed.values())
        for thread in threads:
            thread.join(10)
    answers = [answer for answer, _ in results]
    assert answers == ["192.0.2.10"] * 5, (results, reasons)
    assert reasons["reclaimed: slow message"] > 0, reasons


def test_a_reclaimed_connection_is_told_why_in_english_and_spanish():
    """At a cap of 1: a non-reader gives its place (its answers unread), then an idle one."""

    async def scenario() -> Trace:
        # Unread is reclaimable after half the send timeout (1.5 s), idle after 0.5 s.
        server, trace = _start(max_tcp_connections=1, tcp_send_timeout=3, tcp_idle_timeout=30)

        async def closed_for(reason: str) -> None:
            async with asyncio.timeout(5):
                while reason not in [e.reason for e in trace.of_type(TcpConnectionClosed)]:
                    await asyncio.sleep(0.05)

        await server.start([("127.0.0.1", 0)])
        loop = asyncio.get_running_loop()
        try:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills at once
            sock.setblocking(False)
            await loop.sock_connect(sock, server.addresses[0])
            _r1, w1 = await asyncio.open_connection(sock=sock)
            w1.write(_big_queries(2_000))  # never read: the server's sending stalls
            await asyncio.sleep(0.5)
            _r2, w2 = await asyncio.open_connection(*server.addresses[0])  # takes its place
            await closed_for("reclaimed: unread")
            _r3, w3 = await asyncio.open_connection(*server.addresses[0])  # takes the idle one's
            await closed_for("reclaimed: idle")
            for writer in (w1, w2, w3):
                writer.transport.abort()
        finally:
            await server.aclose()
        return trace

    trace = asyncio.run(scenario())
    closed = {event.reason: event for event in trace.of_type(TcpConnectionClosed)}
    unread, idle = closed["reclaimed: unread"], closed["reclaimed: idle"]
    assert describe(unread, "en").endswith(
        "as it was the one whose answers had waited longest for the client to read them."
    )
    assert describe(unread, "es").endswith(
        "porque era la que tenía respuestas esperando desde hacía más tiempo a que el cliente "
        "las leyera."
    )
    assert describe(idle, "en").endswith("as it was the one left unused the longest.")
    assert describe(idle, "es").endswith("porque era la que llevaba más tiempo sin usarse.")


@pytest.mark.peer("dig")
def test_an_idle_tcp_flood_far_beyond_the_cap_leaves_honest_dig_tcp_answered():
    """Issue 14 item 4, scaled down: 1,000 idle connections (cap 64), then 20 dig +tcp.

    Before reclaiming, nearly every honest query failed (85 of 87 at 3,000
    idle connections); each arriving one now takes the place of the idle longest.
    """
    import resource
    from concurrent.futures import ThreadPoolExecutor

    dig = require_program("dig")
    idle_count, honest = 1_000, 20
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = idle_count + 200
    if soft < wanted:
        if hard != resource.RLIM_INFINITY and hard < wanted:
            pytest.skip(f"needs {wanted} file descriptors (ulimit -Hn is {hard})")
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    try:
        with webtrip_dns_server([ZONE], extra=["--max-tcp-connections", "64"]) as server:
            idle = []
            for _ in range(idle_count):
                sock = socket.socket()
                sock.setblocking(False)
                sock.connect_ex((server.host, server.port))
                idle.append(sock)
            time.sleep(0.5)

            def ask(_: int) -> str:
                done = subprocess.run(
                    [dig, "+tcp", "+time=3", "+tries=1", "+short", "-p", str(server.port),
                     f"@{server.host}", "www.example.test", "A"],
                    capture_output=True, text=True, timeout=10,
                )  # fmt: skip
                return done.stdout.strip()

            with ThreadPoolExecutor(4) as pool:
                answers = list(pool.map(ask, range(honest)))
            for sock in idle:
                sock.close()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert answers == ["192.0.2.10"] * honest
