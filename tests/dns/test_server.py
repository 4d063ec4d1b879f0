"""The server actor over real loopback sockets: UDP, TCP framing and limits, the trace."""

from __future__ import annotations

import asyncio
import socket
import struct
import time

import dns.message
import dns.rcode
import pytest

from support import ZONES
from support.netsim import SERVER_IP, connect_pair
from webtrip.dns import server as server_module
from webtrip.dns.authority import Authority
from webtrip.dns.client import make_query, query
from webtrip.dns.server import DnsServer
from webtrip.dns.zones import ZoneSet, load_zone
from webtrip.net import RealNetwork, Stream
from webtrip.netsim.world import SimWorld
from webtrip.trace import (
    DnsMessageDropped,
    DnsMessageReceived,
    DnsMessageSent,
    TcpConnectionClosed,
    TcpConnectionOpened,
    Trace,
)

ZONESET = ZoneSet([load_zone(ZONES / "example.test.zone")])


async def start_server(host: str = "127.0.0.1", **limits) -> tuple[DnsServer, Trace]:
    network = RealNetwork()
    trace = Trace(network.now)
    server = DnsServer(network, Authority(ZONESET), trace, **limits)
    await server.start([(host, 0)])
    return server, trace


def framed(message: dns.message.Message) -> bytes:
    wire = message.to_wire()
    return struct.pack("!H", len(wire)) + wire


async def read_framed(reader: asyncio.StreamReader) -> dns.message.Message:
    (length,) = struct.unpack("!H", await reader.readexactly(2))
    return dns.message.from_wire(await reader.readexactly(length))


def test_udp_query_is_answered_and_both_messages_are_traced():
    async def scenario():
        server, trace = await start_server()
        try:
            result = await query(
                RealNetwork(), server.addresses[0], make_query("www.example.test", "A")
            )
        finally:
            await server.aclose()
        return result, trace

    result, trace = asyncio.run(scenario())
    assert result.response.answer[0].to_text() == "www.example.test. 300 IN A 192.0.2.10"
    received, sent = trace.of_type(DnsMessageReceived), trace.of_type(DnsMessageSent)
    assert len(received) == 1 and len(sent) == 1
    assert received[0].wire == result.query.to_wire()
    assert sent[0].wire == result.response_wire
    assert sent[0].responds_to == received[0].t <= sent[0].t


def test_ipv6_loopback_is_served():
    if not socket.has_ipv6:
        pytest.skip("this machine has no IPv6")

    async def scenario():
        server, _ = await start_server("::1")
        try:
            return await query(RealNetwork(), server.addresses[0], make_query("www.example.test"))
        finally:
            await server.aclose()

    assert asyncio.run(scenario()).response.rcode() == dns.rcode.NOERROR


def test_tcp_pipelined_queries_are_answered_in_order_on_one_connection():
    names = ["www.example.test", "mail.example.test", "nope.example.test", "example.test"]

    async def scenario():
        server, _trace = await start_server()
        try:
            reader, writer = await asyncio.open_connection(*server.addresses[0])
            queries = [make_query(name) for name in names]
            writer.write(b"".join(framed(q) for q in queries))  # all before any answer
            responses = [await read_framed(reader) for _ in queries]
            writer.close()
            return queries, responses
        finally:
            await server.aclose()

    queries, responses = asyncio.run(scenario())
    assert [r.id for r in responses] == [q.id for q in queries]
    assert [r.rcode() for r in responses] == [0, 0, dns.rcode.NXDOMAIN, 0]


def test_tcp_message_split_across_writes_is_reassembled():
    async def scenario():
        server, _ = await start_server()
        try:
            reader, writer = await asyncio.open_connection(*server.addresses[0])
            data = framed(make_query("www.example.test"))
            for i in range(len(data)):
                writer.write(data[i : i + 1])
                await writer.drain()
            response = await read_framed(reader)
            writer.close()
            return response
        finally:
            await server.aclose()

    assert asyncio.run(scenario()).answer


def test_idle_tcp_connection_is_closed_after_the_timeout():
    async def scenario():
        server, trace = await start_server(tcp_idle_timeout=0.2)
        try:
            reader, _writer = await asyncio.open_connection(*server.addresses[0])
            started = time.monotonic()
            data = await asyncio.wait_for(reader.read(), 5)
            return data, time.monotonic() - started, trace
        finally:
            await server.aclose()

    data, waited, trace = asyncio.run(scenario())
    assert data == b""
    assert 0.15 < waited < 2
    assert trace.of_type(TcpConnectionClosed)[0].reason == "idle timeout"


def test_slow_partial_message_is_cut_off():
    async def scenario():
        server, trace = await start_server(tcp_idle_timeout=5, tcp_message_timeout=0.2)
        try:
            reader, writer = await asyncio.open_connection(*server.addresses[0])
            writer.write(framed(make_query("www.example.test"))[:5])  # and then nothing
            data = await asyncio.wait_for(reader.read(), 5)
            return data, trace
        finally:
            await server.aclose()

    data, trace = asyncio.run(scenario())
    assert data == b""
    assert trace.of_type(TcpConnectionClosed)[0].reason == "message timeout"


def test_connections_beyond_the_cap_wait_while_busy_others_are_served(monkeypatch):
    # Busy (a query half-received, within its grace time), so none can be
    # reclaimed for the new one: the new client waits in the kernel's listen
    # queue, then is served.
    monkeypatch.setattr(server_module, "TCP_SLOW_GRACE", 30.0)

    async def scenario():
        server, trace = await start_server(max_tcp_connections=2)
        try:
            held = [await asyncio.open_connection(*server.addresses[0]) for _ in range(2)]
            query = framed(make_query("www.example.test"))
            for _reader, held_writer in held:
                held_writer.write(query[:3])
            await asyncio.sleep(0.05)
            extra_reader, extra_writer = await asyncio.open_connection(*server.addresses[0])
            extra_writer.write(query)
            await asyncio.sleep(0.3)
            waited = not extra_reader.at_eof() and len(trace.of_type(TcpConnectionOpened)) == 2
            reader, writer = held[0]
            writer.write(query[3:])
            answered = await read_framed(reader)
            writer.close()
            extra = await asyncio.wait_for(read_framed(extra_reader), 5)
            return waited, extra, answered, trace
        finally:
            await server.aclose()

    waited, extra, answered, trace = asyncio.run(scenario())
    assert waited
    assert answered.answer and extra.answer
    assert not any(e.reason == "connection limit" for e in trace.of_type(TcpConnectionClosed))


def test_in_the_simulated_world_connections_beyond_the_cap_are_closed_while_others_are_busy():
    # The simulated listener cannot leave a client waiting: the new one is closed.
    world = SimWorld(seed=1)
    client, server_host, _link = connect_pair(world)

    async def scenario():
        server = DnsServer(
            world.network(server_host), Authority(ZONESET), world.trace, max_tcp_connections=2
        )
        await server.start([(SERVER_IP, 53)])
        network = world.network(client)
        try:
            query = framed(make_query("www.example.test"))
            held = [await network.open_tcp_stream(SERVER_IP, 53) for _ in range(2)]
            for stream in held:
                await stream.send_all(query[:3])
            await asyncio.sleep(0.05)
            extra = await network.open_tcp_stream(SERVER_IP, 53)
            extra_data = await asyncio.wait_for(extra.receive_some(), 5)
            await held[0].send_all(query[3:])
            (length,) = struct.unpack("!H", await _receive_exactly(held[0], 2))
            answered = dns.message.from_wire(await _receive_exactly(held[0], length))
            for stream in (*held, extra):
                await stream.aclose()
            return extra_data, answered
        finally:
            await server.aclose()

    extra_data, answered = world.run(scenario())
    world.close()
    assert extra_data == b""
    assert answered.answer
    reasons = [e.reason for e in world.trace.of_type(TcpConnectionClosed)]
    assert "connection limit" in reasons


async def _receive_exactly(stream: Stream, count: int) -> bytes:
    data = b""
    while len(data) < count:
        more = await stream.receive_some(count - len(data))
        assert more, "the connection closed early"
        data += more
    return data


def test_zero_length_tcp_message_closes_the_connection():
    async def scenario():
        server, _ = await start_server()
        try:
            reader, writer = await asyncio.open_connection(*server.addresses[0])
            writer.write(b"\x00\x00")
            return await asyncio.wait_for(reader.read(), 5)
        finally:
            await server.aclose()

    assert asyncio.run(scenario()) == b""


def test_malformed_tcp_query_gets_formerr_and_the_connection_goes_on():
    async def scenario():
        server, _ = await start_server()
        try:
            reader, writer = await asyncio.open_connection(*server.addresses[0])
            garbage = struct.pack("!HHHHHH", 7, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c\x00\x01\x00\x01"
            writer.write(struct.pack("!H", len(garbage)) + garbage)
            writer.write(framed(make_query("www.example.test")))
            return await read_framed(reader), await read_framed(reader)
        finally:
            await server.aclose()

    formerr, good = asyncio.run(scenario())
    assert formerr.id == 7 and formerr.rcode() == dns.rcode.FORMERR
    assert good.answer


def test_hostile_udp_packets_are_answered_or_dropped_and_serving_goes_on():
    packets = [
        b"",
        b"\x00",
        b"\xff" * 11,
        struct.pack("!HHHHHH", 1, 0x8000, 1, 0, 0, 0),  # a response
        struct.pack("!HHHHHH", 2, 0x0100, 65535, 65535, 65535, 65535),
        struct.pack("!HHHHHH", 3, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c" * 200,
        struct.pack("!HHHHHH", 4, 0x0100, 1, 0, 0, 0) + b"\x3f" + b"a" * 2000,
        bytes(range(256)) * 200,  # 51,200 bytes
    ]

    async def scenario():
        server, trace = await start_server()
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setblocking(False)
            started = time.monotonic()
            for packet in packets:
                sock.sendto(packet, server.addresses[0])
            sock.close()
            result = await query(RealNetwork(), server.addresses[0], make_query("www.example.test"))
            return result, time.monotonic() - started, trace
        finally:
            await server.aclose()

    result, elapsed, trace = asyncio.run(scenario())
    assert result.response.answer
    assert elapsed < 2
    dropped = trace.of_type(DnsMessageDropped)
    assert {e.reason for e in dropped} == {"shorter than a DNS header", "a response, not a query"}


def test_a_busy_address_is_reported_and_nothing_is_left_listening():
    async def scenario():
        first, _ = await start_server()
        try:
            second = DnsServer(RealNetwork(), Authority(ZONESET))
            with pytest.raises(OSError, match=r"cannot listen on 127\.0\.0\.1:"):
                await second.start([first.addresses[0]])
            assert second.addresses == []
        finally:
            await first.aclose()

    asyncio.run(scenario())
