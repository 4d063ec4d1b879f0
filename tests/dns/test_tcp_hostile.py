"""DNS over TCP against hostile clients (issue 14): bounded memory, send timeout, reclaim.

A client that pipelines queries and never reads its answers must cost the
server a bounded amount of memory and lose its connection after the send
timeout; a server whose connection cap is filled by idle connections must
still answer an honest ``dig +tcp``.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import subprocess
import time

import dns.message
import pytest

from support import ZONES, require_program, webtrip_dns_server
from webtrip.dns.authority import Authority
from webtrip.dns.server import DnsServer
from webtrip.dns.zones import ZoneSet, load_zone
from webtrip.net import RealNetwork
from webtrip.trace import TcpConnectionClosed, Trace

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
    assert "reclaimed" in reasons and "connection limit" not in reasons


def test_a_connection_waiting_for_an_answer_is_not_reclaimed():
    async def scenario() -> tuple[bytes, list[str]]:
        server, trace = _start(max_tcp_connections=1, tcp_message_timeout=5)
        await server.start([("127.0.0.1", 0)])
        try:
            reader, writer = await asyncio.open_connection(*server.addresses[0])
            wire = dns.message.make_query("www.example.test", "A").to_wire()
            framed = struct.pack("!H", len(wire)) + wire
            writer.write(framed[:5])  # a query half-received: busy, not idle
            await writer.drain()
            await asyncio.sleep(0.1)
            _r2, w2 = await asyncio.open_connection(*server.addresses[0])  # refused
            await asyncio.sleep(0.1)
            writer.write(framed[5:])
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            answer = await reader.readexactly(length)
            writer.close()
            w2.close()
        finally:
            await server.aclose()
        return answer, [event.reason for event in trace.of_type(TcpConnectionClosed)]

    answer, reasons = asyncio.run(scenario())
    assert dns.message.from_wire(answer).answer
    assert reasons[0] == "connection limit"
