"""The simulator's fast paths give what the general ones give, byte for byte and in order.

Each shortcut taken for speed (the loop's own timers, datagrams encoded without a
packet object, checksums summed piece by piece, a router forwarding without
decoding) is checked here against the general code it stands for.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import random
import struct

import pytest

from webtrip.netsim.clock import SimulationStalled, VirtualClockLoop, run
from webtrip.netsim.host import Host
from webtrip.netsim.router import Router
from webtrip.netsim.world import SimWorld
from webtrip.packets import ipv4
from webtrip.packets.ipv4 import IPv4Packet, PacketError, encode_datagram
from webtrip.packets.tcp_segment import Flags, SegmentError, TcpSegment

# --- the loop's own timers --------------------------------------------------------------


def test_fast_timers_keep_their_place_among_asyncio_timers_at_equal_times():
    async def schedule() -> list[int]:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, VirtualClockLoop)
        order: list[int] = []
        for n in range(30):
            if n % 3 == 0:
                loop.call_later(1.0, order.append, n)
            elif n % 3 == 1:
                loop.call_at_fast(loop.time() + 1.0, order.append, n)
            else:
                loop.call_later_fast(1.0, order.append, n)
        await asyncio.sleep(2)
        return order

    assert run(schedule()) == list(range(30))


def test_a_cancelled_fast_timer_neither_runs_nor_moves_the_clock():
    loop = VirtualClockLoop()
    fired: list[float] = []
    timer = loop.call_later_fast(5.0, lambda _: fired.append(loop.time()), None)
    loop.call_later_fast(1.0, lambda _: timer.cancel(), None)
    with pytest.raises(SimulationStalled):
        loop.run_until_complete(loop.create_future())
    assert fired == []
    assert loop.time() == 1.0  # it stalled at once, not after waiting for the cancelled timer
    loop.close()


def test_fast_timers_are_refused_by_a_closed_loop_as_asyncio_timers_are():
    loop = VirtualClockLoop()
    loop.close()
    for schedule in (
        lambda: loop.call_at(1.0, print),
        lambda: loop.call_at_fast(1.0, print, None),
        lambda: loop.call_later_fast(1.0, print, None),
        lambda: loop.call_soon(print),
    ):
        with pytest.raises(RuntimeError, match="closed"):
            schedule()


def test_call_soon_runs_callbacks_first_in_first_out():
    async def schedule() -> list[int]:
        loop = asyncio.get_running_loop()
        order: list[int] = []
        handles = [loop.call_soon(order.append, n) for n in range(10)]
        handles[3].cancel()
        await asyncio.sleep(0)
        return order

    assert run(schedule()) == [0, 1, 2, 4, 5, 6, 7, 8, 9]


# --- codecs -------------------------------------------------------------------------


def test_encode_datagram_gives_the_bytes_of_ipv4packet_encode():
    rng = random.Random(1)
    for _ in range(2000):
        fields = (
            f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}",
            f"192.168.{rng.randrange(256)}.{rng.randrange(256)}",
            rng.choice((1, 6, 17, 200)),
            rng.randbytes(rng.randrange(0, 1500)),
            rng.randrange(256),
            rng.randrange(0x10000),
            rng.random() < 0.5,
        )
        source, destination, protocol, payload, ttl, identification, df = fields
        packet = IPv4Packet(
            source,
            destination,
            protocol,
            payload,
            ttl=ttl,
            identification=identification,
            dont_fragment=df,
        )
        data = encode_datagram(*fields)
        assert data == packet.encode()
        decoded = IPv4Packet.decode(data)
        assert decoded == packet
        assert dataclasses.astuple(decoded) == dataclasses.astuple(packet)


def test_encode_datagram_refuses_what_ipv4packet_refuses():
    with pytest.raises(PacketError, match="at most 65535"):
        encode_datagram("10.0.0.1", "10.0.0.2", 17, bytes(65516), 64, 0, True)
    with pytest.raises(PacketError, match="TTL"):
        encode_datagram("10.0.0.1", "10.0.0.2", 17, b"", 256, 0, True)


def _old_encode(segment: TcpSegment, source: str, destination: str) -> bytes:
    """TcpSegment.encode as it was: the segment copied whole, checksummed, patched."""
    options = segment._encode_options()
    header_size = 20 + len(options)
    header = struct.pack(
        "!HHIIBBHHH",
        segment.src_port,
        segment.dst_port,
        segment.seq,
        segment.ack,
        (header_size // 4) << 4,
        int(segment.flags),
        segment.window,
        0,
        segment.urgent,
    )
    whole = header + options + segment.payload
    checksum = struct.pack("!H", ipv4.tcp_checksum(source, destination, whole))
    return whole[:16] + checksum + whole[18:]


def test_tcp_segments_encode_and_decode_as_the_general_code_does():
    rng = random.Random(2)
    for _ in range(2000):
        segment = TcpSegment(
            rng.randrange(0x10000),
            rng.randrange(0x10000),
            rng.randrange(2**32),
            rng.randrange(2**32),
            Flags(rng.randrange(256)),
            rng.randrange(0x10000),
            rng.randbytes(rng.randrange(0, 1461)),
            mss=rng.choice((None, rng.randrange(0x10000))),
            window_scale=rng.choice((None, rng.randrange(15))),
            urgent=rng.randrange(0x10000),
        )
        data = segment.encode("10.0.0.1", "10.0.0.3")
        assert data == _old_encode(segment, "10.0.0.1", "10.0.0.3")
        decoded = TcpSegment.decode(data, "10.0.0.1", "10.0.0.3")
        assert decoded == segment
        assert type(decoded.flags) is Flags
        assert dataclasses.astuple(decoded) == dataclasses.astuple(segment)


def test_a_segment_with_a_wrong_checksum_names_the_expected_one():
    segment = TcpSegment(1234, 80, 1, 0, Flags.SYN, 1000, b"odd")
    data = bytearray(segment.encode("10.0.0.1", "10.0.0.3"))
    right = int.from_bytes(data[16:18], "big")
    data[16:18] = b"\x12\x34"
    with pytest.raises(SegmentError, match=f"does not match {right:#06x}"):
        TcpSegment.decode(bytes(data), "10.0.0.1", "10.0.0.3")


# --- forwarding -----------------------------------------------------------------------


class GeneralRouter(Router):
    """A router that always takes the general path (overriding forward turns it off)."""

    def forward(self, packet: IPv4Packet, data: bytes, interface_name: str) -> None:
        super().forward(packet, data, interface_name)


class GeneralHost(Host):
    """A host that always takes the general path (overriding deliver turns it off)."""

    def deliver(self, packet: IPv4Packet, data: bytes, interface_name: str) -> None:
        super().deliver(packet, data, interface_name)


def _transfer_log(router_class: type[Router], host_class: type[Host], seed: int) -> str:
    """A lossy, reordering TCP transfer across a router (plus a ping with TTL 1, a
    datagram without a route, a SYN to a closed port): the SHA-256 of the packet log."""
    world = SimWorld(seed=seed)
    options = {"loop": world.loop, "rng": world.rng, "log": world.packets}
    router = world._add(router_class("router", **options))
    client = world._add(host_class("client", **options))
    server = world._add(host_class("server", **options))
    world.connect(client, "10.0.1.1/24", router, "10.0.1.254/24", latency=0.01, bandwidth=5e6)
    world.connect(
        server,
        "10.0.2.1/24",
        router,
        "10.0.2.254/24",
        latency=0.002,
        loss=0.05,
        reorder=0.05,
        mtu=1000,
    )
    payload = bytes(range(256)) * 400

    async def handler(stream) -> None:
        await stream.send_all(payload)
        await stream.aclose()

    async def main() -> int:
        await world.network(server).start_tcp_server(handler, "10.0.2.1", 80)
        client.send_ip("10.0.1.1", "10.0.2.1", 1, b"\x08\x00\xf7\xff\x00\x00\x00\x00", ttl=1)
        client.send_ip("10.0.1.1", "10.9.9.9", 17, b"no route")
        with pytest.raises(ConnectionRefusedError):
            await world.network(client).open_tcp_stream("10.0.2.1", 81)
        stream = await world.network(client).open_tcp_stream("10.0.2.1", 80)
        received = 0
        while data := await stream.receive_some():
            received += len(data)
        await stream.aclose()
        return received

    assert world.run(main()) == len(payload)
    world.close()
    digest = hashlib.sha256()
    for r in world.packets:
        digest.update(repr((r.t, r.node, r.interface, r.direction, r.reason)).encode() + r.data)
    return digest.hexdigest()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_routers_and_hosts_make_the_same_packets_with_or_without_their_fast_paths(seed):
    fast = _transfer_log(Router, Host, seed)
    assert fast == _transfer_log(GeneralRouter, Host, seed)
    assert fast == _transfer_log(Router, GeneralHost, seed)
