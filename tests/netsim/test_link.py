"""Links: latency, bandwidth and queues, the MTU, random and targeted faults."""

from __future__ import annotations

import asyncio

import pytest

from support.netsim import CLIENT_IP, SERVER_IP, connect_pair
from webtrip.netsim.link import Link
from webtrip.netsim.world import SimWorld
from webtrip.packets import icmp
from webtrip.packets.dissect import Match, dissect
from webtrip.packets.ipv4 import PROTOCOL_UDP
from webtrip.trace.events import DROP, IN

PORT = 9000


def arrivals(world: SimWorld, host) -> list[tuple[float, bytes]]:
    """Bind a UDP socket on ``host`` at PORT; what it receives lands in the returned list."""
    got: list[tuple[float, bytes]] = []
    host.bind_udp("0.0.0.0", PORT, lambda data, _peer: got.append((world.now(), data)))
    return got


def send_all(
    world: SimWorld, host, payloads: list[bytes], spacing: float = 0.0, to: str = SERVER_IP
) -> None:
    """Send each payload from ``host`` to PORT at ``to``, ``spacing`` seconds apart."""
    sock = host.bind_udp("0.0.0.0", 0)

    async def sender() -> None:
        for payload in payloads:
            sock.send(payload, (to, PORT))
            if spacing:
                await asyncio.sleep(spacing)
        await asyncio.sleep(10)  # let everything arrive

    world.run(sender())


def numbered(count: int, size: int = 10) -> list[bytes]:
    return [n.to_bytes(2, "big") + bytes(size - 2) for n in range(count)]


def order(got: list[tuple[float, bytes]]) -> list[int]:
    return [int.from_bytes(data[:2], "big") for _, data in got]


def test_a_datagram_arrives_after_the_latency(world, pair):
    client, server, _ = pair(latency=0.020)
    got = arrivals(world, server)
    send_all(world, client, [b"x"])
    assert [t for t, _ in got] == [0.020]


def test_bandwidth_adds_serialization_delay(world, pair):
    client, server, _ = pair(latency=0.010, bandwidth=1_000_000)
    got = arrivals(world, server)
    send_all(world, client, [bytes(972)])  # 1000 bytes with the IP and UDP headers
    assert got[0][0] == pytest.approx(0.010 + 1000 * 8 / 1_000_000)


def test_back_to_back_packets_wait_for_the_wire(world, pair):
    client, server, _ = pair(latency=0.010, bandwidth=1_000_000)
    got = arrivals(world, server)
    send_all(world, client, [bytes(972)] * 3)
    assert [t for t, _ in got] == pytest.approx([0.018, 0.026, 0.034])


def test_a_full_queue_drops_the_newest_packets(world, pair):
    client, server, _ = pair(bandwidth=1_000_000, queue_packets=2)
    got = arrivals(world, server)
    send_all(world, client, numbered(5))
    assert order(got) == [0, 1]
    drops = world.packets.drops()
    assert len(drops) == 3
    assert all("queue full" in d.reason for d in drops)


def test_a_queue_in_bytes_holds_what_fits(world, pair):
    client, server, _ = pair(bandwidth=1_000_000, queue_bytes=2500)
    got = arrivals(world, server)
    send_all(world, client, numbered(4, size=972))  # 1000 bytes each
    assert order(got) == [0, 1]


def test_the_queue_empties_as_the_wire_sends(world, pair):
    client, server, _ = pair(bandwidth=1_000_000, queue_packets=1)
    got = arrivals(world, server)
    send_all(world, client, numbered(3, size=97), spacing=0.001)  # 125 bytes: 1 ms on the wire
    assert order(got) == [0, 1, 2]


def test_a_host_does_not_send_a_datagram_larger_than_the_mtu(world, pair):
    client, server, _ = pair(mtu=576)
    got = arrivals(world, server)
    send_all(world, client, [bytes(600)])
    assert got == []
    assert "exceed the link's MTU of 576" in world.packets.drops()[0].reason


def test_a_router_answers_an_oversized_dont_fragment_datagram_with_fragmentation_needed():
    with SimWorld(seed=1) as world:
        client, server = world.add_host("client"), world.add_host("server")
        router = world.add_router("router")
        world.connect(client, "10.0.1.2/24", router, "10.0.1.1/24", mtu=1500)
        world.connect(router, "10.0.2.1/24", server, "10.0.2.2/24", mtu=576)
        sock = client.bind_udp("0.0.0.0", 0)

        async def send() -> None:
            sock.send(bytes(1000), ("10.0.2.2", PORT))
            await asyncio.sleep(1)

        world.run(send())
        received = [dissect(r.data) for r in world.packets.seen_at("client") if r.direction == IN]
        assert len(received) == 1
        error = received[0].icmp
        assert error is not None
        assert (error.type, error.code) == (icmp.DESTINATION_UNREACHABLE, icmp.FRAGMENTATION_NEEDED)
        assert error.next_hop_mtu == 576
        assert received[0].ip.source == "10.0.1.1"  # the router's address on the client's side


def test_random_loss_loses_some_packets_and_the_seed_decides_which():
    def lost_with(seed: int) -> list[int]:
        with SimWorld(seed=seed) as world:
            client, server, _ = connect_pair(world, loss=0.5)
            got = arrivals(world, server)
            send_all(world, client, numbered(100))
            return sorted(set(range(100)) - set(order(got)))

    lost = lost_with(1)
    assert 30 < len(lost) < 70
    assert lost_with(1) == lost
    assert lost_with(2) != lost


def test_certain_loss_loses_everything_and_says_so(world, pair):
    client, server, _ = pair(loss=1.0)
    got = arrivals(world, server)
    send_all(world, client, numbered(3))
    assert got == []
    assert [d.reason for d in world.packets.drops()] == ["lost on the link"] * 3


def test_duplication_delivers_a_packet_twice(world, pair):
    client, server, _ = pair(latency=0.005, duplicate=1.0)
    got = arrivals(world, server)
    send_all(world, client, numbered(2))
    assert order(got) == [0, 0, 1, 1]


def test_reordering_lets_later_packets_overtake(world, pair):
    client, server, _ = pair(latency=0.010, reorder=0.3, reorder_delay=0.050)
    got = arrivals(world, server)
    send_all(world, client, numbered(20), spacing=0.005)
    assert sorted(order(got)) == list(range(20))
    assert order(got) != list(range(20))


def test_a_targeted_fault_drops_the_nth_matching_packet(world, pair):
    client, server, link = pair()
    got = arrivals(world, server)
    link.drop(Match(protocol="udp", destination_port=PORT), nth=2)
    send_all(world, client, numbered(4))
    assert order(got) == [0, 2, 3]
    assert "targeted fault" in world.packets.drops()[0].reason


def test_a_targeted_fault_ignores_the_other_direction(world, pair):
    client, server, link = pair()
    got = arrivals(world, client)  # the client receives this time
    link.drop(Match(protocol="udp"), sender=link.ends[0])  # only what the client sends
    send_all(world, server, numbered(1), to=CLIENT_IP)
    assert order(got) == [0]
    assert world.packets.drops() == []


def test_a_targeted_fault_delays_one_packet(world, pair):
    client, server, link = pair(latency=0.010)
    got = arrivals(world, server)
    link.delay(Match(protocol="udp"), extra=1.0, nth=1)
    send_all(world, client, numbered(2))
    assert order(got) == [1, 0]
    assert got[1][0] == pytest.approx(1.010)


def test_a_link_refuses_impossible_settings(world):
    with pytest.raises(ValueError, match="probability"):
        Link(loop=world.loop, rng=world.rng, log=world.packets, loss=1.5)
    with pytest.raises(ValueError, match="MTU"):
        Link(loop=world.loop, rng=world.rng, log=world.packets, mtu=20)
    with pytest.raises(ValueError, match="negative"):
        Link(loop=world.loop, rng=world.rng, log=world.packets, latency=-1)


def test_every_drop_is_in_the_packet_log_with_its_bytes(world, pair):
    client, _, _ = pair(loss=1.0)
    send_all(world, client, [b"lost"])
    (drop,) = world.packets.drops()
    assert drop.direction == DROP
    packet = dissect(drop.data)
    assert (packet.ip.source, packet.ip.protocol, packet.udp.payload) == (
        CLIENT_IP,
        PROTOCOL_UDP,
        b"lost",
    )
