"""Hosts, routers and UDP sockets — and our DNS server and client, unchanged, in the simulation."""

from __future__ import annotations

import asyncio
import errno
import time

import pytest

from support.netsim import CLIENT_IP, SERVER_IP, dns_exchange
from webtrip.dns.client import DnsTimeout
from webtrip.netsim.sockets import EPHEMERAL_PORTS
from webtrip.netsim.world import EPOCH, SimWorld
from webtrip.packets import icmp
from webtrip.packets.dissect import Match, dissect
from webtrip.packets.ipv4 import PROTOCOL_ICMP, PROTOCOL_TCP
from webtrip.trace import DnsMessageReceived, DnsMessageSent
from webtrip.trace.events import IN, LOOPBACK

PROTOCOL_SCTP = 132


def received_by(world: SimWorld, node: str):
    return [dissect(r.data) for r in world.packets.seen_at(node) if r.direction == IN]


async def pause(seconds: float = 1.0) -> None:
    await asyncio.sleep(seconds)


# --- our DNS server and client in the simulated world ---------------------------------


def test_dns_answer_arrives_after_one_round_trip_of_virtual_time(world, pair):
    client, server, _ = pair(latency=0.020)
    result = world.run(dns_exchange(world, client, server))
    assert [rr.to_text() for rr in result.response.answer[0]] == ["192.0.2.10"]
    assert result.elapsed == pytest.approx(0.040)
    assert world.now() == pytest.approx(0.040)


def test_dns_messages_are_traced_at_their_virtual_times(world, pair):
    client, server, _ = pair(latency=0.020)
    world.run(dns_exchange(world, client, server))
    sent = [(e.actor, e.t) for e in world.trace.of_type(DnsMessageSent)]
    received = [(e.actor, e.t) for e in world.trace.of_type(DnsMessageReceived)]
    assert sent == [("client", 0.0), ("dns-server", pytest.approx(0.020))]
    assert received == [("dns-server", pytest.approx(0.020)), ("client", pytest.approx(0.040))]


def test_dns_query_on_a_lossy_link_times_out_in_virtual_time(world, pair):
    client, server, _ = pair(latency=0.020, loss=1.0)
    started = time.monotonic()
    with pytest.raises(DnsTimeout, match="within 2 s"):
        world.run(dns_exchange(world, client, server, timeout=2.0))
    assert world.now() == pytest.approx(2.0)
    assert time.monotonic() - started < 1.0


def test_dns_query_times_out_when_the_answer_is_dropped(world, pair):
    client, server, link = pair(latency=0.020)
    link.drop(Match(protocol="udp", source_port=53))
    with pytest.raises(DnsTimeout):
        world.run(dns_exchange(world, client, server))
    assert world.now() == pytest.approx(3.0)


# --- UDP sockets ----------------------------------------------------------------------


def test_port_zero_picks_an_ephemeral_port_from_the_worlds_seed():
    def first_port(seed: int) -> int:
        with SimWorld(seed=seed) as world:
            host = world.add_host("h")
            host.add_interface("10.0.0.1/24")
            return host.bind_udp("0.0.0.0", 0).local_address[1]

    port = first_port(5)
    assert port in EPHEMERAL_PORTS
    assert first_port(5) == port
    assert len({first_port(seed) for seed in range(5)}) > 1


def test_a_taken_port_cannot_be_bound_again(world, pair):
    client, _, _ = pair()
    client.bind_udp(CLIENT_IP, 5000)
    with pytest.raises(OSError) as caught:
        client.bind_udp("0.0.0.0", 5000)
    assert caught.value.errno == errno.EADDRINUSE


def test_a_closed_socket_frees_its_port(world, pair):
    client, _, _ = pair()
    client.bind_udp("0.0.0.0", 5000).close()
    assert client.bind_udp("0.0.0.0", 5000).local_address == ("0.0.0.0", 5000)


def test_only_the_hosts_own_ipv4_addresses_can_be_bound(world, pair):
    client, _, _ = pair()
    with pytest.raises(OSError) as not_ours:
        client.bind_udp(SERVER_IP, 5000)
    with pytest.raises(OSError) as ipv6:
        client.bind_udp("::", 5000)
    assert (not_ours.value.errno, ipv6.value.errno) == (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT)


def test_a_socket_receives_with_the_senders_address(world, pair):
    client, server, _ = pair(latency=0.001)
    listener = server.bind_udp("0.0.0.0", 7000)
    sender = client.bind_udp("0.0.0.0", 0)

    async def exchange():
        sender.send(b"hello", (SERVER_IP, 7000))
        return await listener.receive()

    assert world.run(exchange()) == (b"hello", (CLIENT_IP, sender.local_address[1]))


def test_closing_a_socket_wakes_its_reader(world, pair):
    client, _, _ = pair()
    sock = client.bind_udp("0.0.0.0", 0)

    async def read_then_close():
        reader = asyncio.ensure_future(sock.receive())
        await pause(0.1)
        sock.close()
        with pytest.raises(ConnectionError):
            await reader

    world.run(read_then_close())


def test_a_datagram_to_a_closed_port_earns_icmp_port_unreachable(world, pair):
    client, _, _ = pair(latency=0.005)
    client.bind_udp("0.0.0.0", 0).send(b"anyone?", (SERVER_IP, 9))
    world.run(pause())
    (reply,) = received_by(world, "client")
    assert (reply.icmp.type, reply.icmp.code) == (
        icmp.DESTINATION_UNREACHABLE,
        icmp.PORT_UNREACHABLE,
    )
    quoted = dissect(reply.icmp.body)
    assert quoted.udp.payload == b"anyone?"


def test_a_host_sends_to_itself_without_a_link(world, pair):
    client, _, _ = pair(latency=1.0)
    listener = client.bind_udp("127.0.0.1", 7000)
    client.bind_udp("0.0.0.0", 0).send(b"self", ("127.0.0.1", 7000))
    assert world.run(listener.receive())[0] == b"self"
    assert world.now() == 0.0
    assert {r.interface for r in world.packets} == {LOOPBACK}


def test_a_protocol_the_host_does_not_speak_earns_protocol_unreachable(world, pair):
    client, _, _ = pair()
    client.send_ip(CLIENT_IP, SERVER_IP, PROTOCOL_SCTP, bytes(20))
    world.run(pause())
    (reply,) = received_by(world, "client")
    assert reply.icmp.code == icmp.PROTOCOL_UNREACHABLE


def test_a_malformed_tcp_segment_is_dropped_without_an_answer(world, pair):
    client, _, _ = pair()
    client.send_ip(CLIENT_IP, SERVER_IP, PROTOCOL_TCP, bytes(20))  # data offset 0
    world.run(pause())
    assert received_by(world, "client") == []
    (drop,) = world.packets.drops()
    assert drop.node == "server" and drop.reason.startswith("malformed")


# --- routers and ICMP -----------------------------------------------------------------


def routed_world(world: SimWorld):
    """client 10.0.1.2 — router — 10.0.2.2 server, 10 ms a hop."""
    client, server = world.add_host("client"), world.add_host("server")
    router = world.add_router("router")
    world.connect(client, "10.0.1.2/24", router, "10.0.1.1/24", latency=0.010)
    world.connect(router, "10.0.2.1/24", server, "10.0.2.2/24", latency=0.010)
    return client, router, server


def test_a_router_forwards_and_decrements_the_ttl(world):
    client, _, server = routed_world(world)
    listener = server.bind_udp("0.0.0.0", 7000)
    client.bind_udp("0.0.0.0", 0).send(b"via", ("10.0.2.2", 7000))
    assert world.run(listener.receive())[0] == b"via"
    assert world.now() == pytest.approx(0.020)
    (arrived,) = received_by(world, "server")
    assert arrived.ip.ttl == 63


def test_a_datagram_out_of_ttl_earns_time_exceeded_from_the_router(world):
    client, _, _ = routed_world(world)
    client.send_ip("10.0.1.2", "10.0.2.2", PROTOCOL_ICMP, icmp.echo_request(1, 1).encode(), ttl=1)
    world.run(pause())
    (reply,) = received_by(world, "client")
    assert (reply.ip.source, reply.icmp.type) == ("10.0.1.1", icmp.TIME_EXCEEDED)


def test_a_destination_without_a_route_earns_net_unreachable(world):
    client, _, _ = routed_world(world)
    client.bind_udp("0.0.0.0", 0).send(b"?", ("192.0.2.1", 7000))
    world.run(pause())
    (reply,) = received_by(world, "client")
    assert (reply.icmp.type, reply.icmp.code) == (
        icmp.DESTINATION_UNREACHABLE,
        icmp.NET_UNREACHABLE,
    )


def test_a_host_answers_a_ping_across_a_router(world):
    client, _, _ = routed_world(world)
    ping = icmp.echo_request(0x1234, 7, b"payload")
    client.send_ip("10.0.1.2", "10.0.2.2", PROTOCOL_ICMP, ping.encode())
    world.run(pause())
    (reply,) = received_by(world, "client")
    assert (reply.icmp.type, reply.icmp.identifier, reply.icmp.sequence) == (0, 0x1234, 7)
    assert reply.icmp.body == b"payload"


def test_no_icmp_error_is_sent_about_an_icmp_error(world):
    client, _, _ = routed_world(world)
    error = icmp.destination_unreachable(icmp.PORT_UNREACHABLE, bytes(28))
    client.send_ip("10.0.1.2", "10.0.2.2", PROTOCOL_ICMP, error.encode(), ttl=1)
    world.run(pause())
    assert received_by(world, "client") == []


# --- the Network an actor sees ----------------------------------------------------------


def test_the_calendar_is_a_fixed_epoch_plus_virtual_time(world, pair):
    client, _, _ = pair()
    network = world.network(client)
    world.run(pause(2.5))
    assert network.wall_time() == EPOCH + 2.5
    assert network.now() == 2.5


def test_a_tcp_listener_reserves_its_port(world, pair):
    _, server, _ = pair()
    network = world.network(server)

    async def handler(stream) -> None:
        await stream.aclose()

    async def listen_twice() -> None:
        listener = await network.start_tcp_server(handler, SERVER_IP, 80)
        assert listener.addresses == [(SERVER_IP, 80)]
        with pytest.raises(OSError) as caught:
            await network.start_tcp_server(handler, "0.0.0.0", 80)
        assert caught.value.errno == errno.EADDRINUSE
        await listener.aclose()
        await network.start_tcp_server(handler, "0.0.0.0", 80)

    world.run(listen_twice())


def test_nothing_in_a_simulated_run_reads_the_wall_clock(world, pair, monkeypatch):
    client, server, _ = pair(latency=0.020)

    def wall_clock() -> float:
        raise AssertionError("the simulation read the wall clock")

    async def without_a_wall_clock():
        for name in ("time", "monotonic", "perf_counter", "time_ns", "monotonic_ns"):
            monkeypatch.setattr(time, name, wall_clock)
        try:
            return await dns_exchange(world, client, server)
        finally:
            monkeypatch.undo()

    assert world.run(without_a_wall_clock()).elapsed == pytest.approx(0.040)


def test_an_address_of_a_connected_network_where_no_host_is_earns_host_unreachable(world):
    # As the labs build a LAN: the router has an address of 10.0.0.0/24 on each
    # point-to-point link, and a route to each host. 10.0.0.99 is nobody's.
    client, server = world.add_host("client"), world.add_host("server")
    router = world.add_router("router")
    world.connect(client, "10.0.0.1/24", router, "10.0.0.254/24", latency=0.010)
    world.connect(server, "10.0.0.3/24", router, "10.0.0.253/24", latency=0.010)
    router.add_route("10.0.0.3/32", router.interfaces[1])
    listener = server.bind_udp("0.0.0.0", 7000)
    sock = client.bind_udp("0.0.0.0", 0)
    for _ in range(2):  # the second time through the router's cached answers
        sock.send(b"?", ("10.0.0.99", 7000))
        sock.send(b"here", ("10.0.0.3", 7000))
        assert world.run(listener.receive())[0] == b"here"
    world.run(pause())
    replies = received_by(world, "client")
    assert [(r.ip.source, r.icmp.type, r.icmp.code) for r in replies] == 2 * [
        ("10.0.0.254", icmp.DESTINATION_UNREACHABLE, icmp.HOST_UNREACHABLE)
    ]
    assert all(r.protocol == "icmp" for r in replies)  # nothing sent back out as it came
    drops = [d.reason for d in world.packets.drops() if d.node == "router"]
    assert len(drops) == 2 and all("(host unreachable)" in reason for reason in drops)


def test_a_free_address_next_to_a_routers_neighbour_earns_host_unreachable(world):
    client, _, _ = routed_world(world)
    client.bind_udp("0.0.0.0", 0).send(b"?", ("10.0.2.9", 7000))  # the server is 10.0.2.2
    world.run(pause())
    (reply,) = received_by(world, "client")
    assert (reply.icmp.type, reply.icmp.code) == (
        icmp.DESTINATION_UNREACHABLE,
        icmp.HOST_UNREACHABLE,
    )
