"""TCP and ICMP errors: unreachable destinations and path MTU discovery (RFC 1122 §4.2.3.9,
RFC 1191, RFC 5927), as Linux's tcp_v4_err acts on them."""

from __future__ import annotations

import asyncio
import errno

import pytest

from support.tcp_world import Conditions, Recorder, Sender, World, app_of
from webtrip.net import Stream
from webtrip.netsim.tcp import CloseReason, TcpConfig
from webtrip.netsim.tcp_state import State
from webtrip.netsim.world import SimWorld
from webtrip.packets import icmp
from webtrip.packets.dissect import Match, dissect
from webtrip.packets.ipv4 import PROTOCOL_ICMP, PROTOCOL_TCP
from webtrip.trace.events import IN, OUT

S = State
SERVER = "10.0.2.2"


def routed_world(world: SimWorld):
    """client 10.0.1.2 — router — 10.0.2.2 server, 10 ms a hop."""
    client, server = world.add_host("client"), world.add_host("server")
    router = world.add_router("router")
    first = world.connect(client, "10.0.1.2/24", router, "10.0.1.1/24", latency=0.010)
    world.connect(router, "10.0.2.1/24", server, "10.0.2.2/24", latency=0.010)
    return client, router, server, first


def narrow_path(world: SimWorld):
    """client 10.0.1.2 — r1 —(MTU 576)— r2 — 10.0.2.2 server: both ends' links take 1500."""
    client, server = world.add_host("client"), world.add_host("server")
    r1, r2 = world.add_router("r1"), world.add_router("r2")
    world.connect(client, "10.0.1.2/24", r1, "10.0.1.1/24", latency=0.010)
    world.connect(r1, "10.0.9.1/24", r2, "10.0.9.2/24", latency=0.010, mtu=576)
    world.connect(r2, "10.0.2.1/24", server, "10.0.2.2/24", latency=0.010)
    r1.add_route("10.0.2.0/24", r1.interfaces[1])
    r2.add_route("10.0.1.0/24", r2.interfaces[0])
    return client, server


async def read_all(stream: Stream) -> bytes:
    received = bytearray()
    while data := await stream.receive_some():
        received += data
    return bytes(received)


def sent_by(world: SimWorld, node: str, protocol: str = "tcp"):
    packets = [dissect(r.data) for r in world.packets.seen_at(node) if r.direction == OUT]
    return [p for p in packets if p.protocol == protocol]


# --- the connection alone -----------------------------------------------------------------


def syn_sent() -> tuple[World, object]:
    world = World(a_to_b=Conditions(drop=[0]))  # the SYN is lost: no answer comes
    client, _ = world.connect()
    world.run(until=0.5)
    assert client.state is S.SYN_SENT
    return world, client


def test_an_unreachable_error_about_our_syn_ends_the_attempt_at_once():
    world, client = syn_sent()
    sent = len(world.a.log)
    client.icmp_error(client.iss, errno.EHOSTUNREACH, ends_half_open=True)
    assert client.state is S.CLOSED and client.close_reason is CloseReason.UNREACHABLE
    assert client.error == errno.EHOSTUNREACH
    assert app_of(client).events[-1] == "closed: destination unreachable"
    world.run(until=10)
    assert len(world.a.log) == sent  # no RST, no SYN again


@pytest.mark.parametrize("offset", [2, -1, 2**31, 12345])
def test_an_icmp_error_quoting_a_sequence_number_we_did_not_send_is_ignored(offset):
    world, client = syn_sent()
    # forged, or stale:
    client.icmp_error((client.iss + offset) % 2**32, errno.ECONNREFUSED, ends_half_open=False)
    assert client.state is S.SYN_SENT and client.error is None
    world.run(until=5)
    assert client.state is S.ESTABLISHED


def test_on_an_open_connection_an_unreachable_error_is_only_remembered():
    world = World(a_to_b=Conditions(drop_if=lambda segment: bool(segment.payload)))
    client, _ = world.connect(client=Sender(bytes(3000), close_when_sent=False))
    world.run(until=0.5)
    assert client.state is S.ESTABLISHED and client.snd_max > client.snd_una
    client.icmp_error(client.snd_una % 2**32, errno.ENETUNREACH, ends_half_open=True)
    assert client.state is S.ESTABLISHED and client.soft_error == errno.ENETUNREACH
    world.run()
    assert client.close_reason is CloseReason.TIMEOUT  # the soft error is told then


def test_a_half_open_passive_connection_is_dropped_quietly_only_if_the_host_is_unreachable():
    world = World(b_to_a=Conditions(drop_if=lambda segment: True))  # the SYN,ACK never arrives
    _, accepted = world.connect()
    world.run(until=0.5)
    (server,) = accepted
    assert server.state is S.SYN_RECEIVED
    server.icmp_error(server.iss, errno.ECONNREFUSED, ends_half_open=False)  # Linux ignores it
    assert server.state is S.SYN_RECEIVED
    # "Communication administratively prohibited" is EHOSTUNREACH too, but only a filter
    # on one path: Linux's tcp_req_err keeps the request.
    server.icmp_error(server.iss, errno.EHOSTUNREACH, ends_half_open=False)
    assert server.state is S.SYN_RECEIVED
    sent = len(world.b.log)
    server.icmp_error(server.iss, errno.EHOSTUNREACH, ends_half_open=True)
    assert server.state is S.CLOSED and server.close_reason is CloseReason.UNREACHABLE
    assert len(world.b.log) == sent  # no RST


def test_fragmentation_needed_shrinks_the_segments_and_resends_at_once():
    # A path that takes no segment of more than 500 bytes of data, and says so.
    world = World(b_to_a=Conditions(drop_if=lambda segment: len(segment.payload) > 500))
    client, accepted = world.connect(server=lambda: Sender(bytes(5000)))
    world.run(until=0.2)  # the handshake, and the server's first flight all lost
    (server,) = accepted
    assert server.snd_max - server.snd_una == 5001 and client.rcv_nxt == client.irs + 1
    retransmissions = server.counters.retransmissions
    server.mtu_reduced(server.snd_una % 2**32, 500)
    assert server.send_mss == 500 and server.soft_error == errno.EMSGSIZE
    sent = [r.segment for r in world.b.log if r.direction == "out"]
    assert server.counters.retransmissions > retransmissions  # at once, not at the RTO
    assert all(len(segment.payload) <= 500 for segment in sent[-3:])
    world.run()
    assert bytes(app_of(client).received) == bytes(5000)
    assert server.congestion.mss == 500


def test_fragmentation_needed_that_would_grow_the_segments_or_quotes_a_stranger_is_ignored():
    world = World(b_to_a=Conditions(drop_if=lambda segment: len(segment.payload) > 1000))
    _, accepted = world.connect(server=lambda: Sender(bytes(5000)))
    world.run(until=0.2)
    (server,) = accepted
    server.mtu_reduced((server.snd_max + 1) % 2**32, 300)  # not a number in flight
    server.mtu_reduced(server.snd_una % 2**32, 4000)  # more than the MSS in use
    assert server.send_mss == 1460 and server.soft_error is None
    assert isinstance(app_of(server), Recorder)


# --- in the simulated network -------------------------------------------------------------


def test_a_connection_to_an_unrouted_network_fails_at_the_routers_answer(world):
    client, _, _, _ = routed_world(world)
    with pytest.raises(OSError) as caught:
        world.run(world.network(client).open_tcp_stream("192.0.2.1", 80))
    assert caught.value.errno == errno.ENETUNREACH
    assert caught.value.strerror == "network is unreachable (ICMP net unreachable from 10.0.1.1)"
    assert world.now() == pytest.approx(0.020)  # one round trip to the router, not a timeout
    assert len(sent_by(world, "client")) == 1  # the SYN, once
    assert not client.tcp_connections


def icmp_about(datagram: bytes, code: int, *, seq_offset: int = 0) -> bytes:
    """An ICMP destination unreachable quoting ``datagram``, its sequence number moved."""
    quoted = bytearray(datagram)
    seq = int.from_bytes(quoted[24:28], "big")
    quoted[24:28] = ((seq + seq_offset) % 2**32).to_bytes(4, "big")
    return icmp.destination_unreachable(code, bytes(quoted)).encode()


def test_port_unreachable_refuses_the_connection_and_a_forged_one_is_ignored(world):
    client, router, server, first = routed_world(world)
    first.drop(Match(tcp_flags=("SYN",)), sender=first.ends[0])  # the server never sees it

    async def answer(seq_offset: int) -> None:
        await asyncio.sleep(0.005)
        (syn,) = [r.data for r in world.packets.seen_at("client") if r.direction == OUT][:1]
        error = icmp_about(syn, icmp.PORT_UNREACHABLE, seq_offset=seq_offset)
        router.send_ip("10.0.1.1", "10.0.1.2", PROTOCOL_ICMP, error)

    async def connect(seq_offset: int) -> Stream:
        network = world.network(client)
        asyncio.get_running_loop().create_task(answer(seq_offset))
        return await network.open_tcp_stream(SERVER, 80)

    async def listen_and_connect(seq_offset: int) -> Stream:
        await world.network(server).start_tcp_server(lambda stream: stream.aclose(), SERVER, 80)
        return await connect(seq_offset)

    with pytest.raises(ConnectionRefusedError) as caught:
        world.run(listen_and_connect(0))
    assert caught.value.errno == errno.ECONNREFUSED
    assert "ICMP port unreachable from 10.0.1.1" in caught.value.strerror
    assert world.now() == pytest.approx(0.015)

    first.drop(Match(tcp_flags=("SYN",)), sender=first.ends[0])
    stream = world.run(connect(7))  # a blind attacker's guess: a wrong sequence number
    assert stream.established and world.now() > 1.0  # the SYN was resent and answered


def test_a_host_without_tcp_answers_protocol_unreachable(world):
    client, _, server, _ = routed_world(world)
    del server.protocols[PROTOCOL_TCP]
    with pytest.raises(OSError) as caught:
        world.run(world.network(client).open_tcp_stream(SERVER, 80))
    assert caught.value.errno == errno.ENOPROTOOPT
    assert world.now() == pytest.approx(0.040)


def test_a_connection_that_times_out_after_icmp_errors_reports_the_last_one(world):
    client, router, server, _ = routed_world(world)
    client.tcp_config = TcpConfig(max_retransmissions=2)

    async def handler(stream: Stream) -> None:
        await stream.receive_some()

    async def main() -> None:
        await world.network(server).start_tcp_server(handler, SERVER, 80)
        stream = await world.network(client).open_tcp_stream(SERVER, 80)
        router.routes.remove(next(r for r in router.routes if str(r.network) == "10.0.2.0/24"))
        await stream.send_all(b"hello")
        await read_all(stream)

    with pytest.raises(ConnectionError) as caught:
        world.run(main())
    assert caught.value.errno == errno.ENETUNREACH
    assert "timed out" in caught.value.strerror and "ICMP net unreachable" in caught.value.strerror


def test_path_mtu_discovery_gets_a_transfer_through_a_smaller_link(world):
    client, server = narrow_path(world)
    payload = bytes(i % 251 for i in range(20000))
    served: list[Stream] = []

    async def handler(stream: Stream) -> None:
        served.append(stream)
        await stream.receive_some()
        await stream.send_all(payload)
        await stream.aclose()

    async def main() -> bytes:
        await world.network(server).start_tcp_server(handler, SERVER, 80)
        stream = await world.network(client).open_tcp_stream(SERVER, 80)
        await stream.send_all(b"GET")
        return await read_all(stream)

    assert world.run(main()) == payload
    assert world.now() < 0.5  # no retransmission timeout: the router's ICMP came at once
    errors = [
        p.icmp
        for p in (dissect(r.data) for r in world.packets.seen_at("server") if r.direction == IN)
        if p.protocol == "icmp"
    ]
    assert {(e.type, e.code, e.next_hop_mtu) for e in errors} == {
        (icmp.DESTINATION_UNREACHABLE, icmp.FRAGMENTATION_NEEDED, 576)
    }
    (stream,) = served
    info = stream.tcp_info()
    assert info.mss_out == 536 and info.retransmissions >= 1
    # The first flight (RFC 6928's ten segments) was too large, each one earning
    # an ICMP error; nothing after it.
    big = [p for p in sent_by(world, "server") if p.size > 576]
    assert len(big) == len(errors) == 10


def test_the_same_seed_gives_the_same_packets_with_path_mtu_discovery():
    def run() -> list[bytes]:
        with SimWorld(seed=3) as world:
            client, server = narrow_path(world)

            async def handler(stream: Stream) -> None:
                await stream.send_all(bytes(8000))
                await stream.aclose()

            async def main() -> bytes:
                await world.network(server).start_tcp_server(handler, SERVER, 80)
                return await read_all(await world.network(client).open_tcp_stream(SERVER, 80))

            world.run(main())
            return [r.data for r in world.capture()]

    assert run() == run()


def test_the_path_mtu_learnt_is_used_by_the_next_connections_to_that_peer(world):
    client, server = narrow_path(world)

    async def handler(stream: Stream) -> None:
        await stream.receive_some()
        await stream.send_all(bytes(8000))
        await stream.aclose()

    async def fetch() -> bytes:
        stream = await world.network(client).open_tcp_stream(SERVER, 80)
        await stream.send_all(b"GET")
        return await read_all(stream)

    async def main() -> None:
        await world.network(server).start_tcp_server(handler, SERVER, 80)
        assert await fetch() == bytes(8000)
        assert server.path_mtu("10.0.1.2") == 576
        assert await fetch() == bytes(8000)  # a new connection: smaller segments from the start

    world.run(main())
    big = [p for p in sent_by(world, "server") if p.size > 576]
    assert len(big) == 6  # the first connection's first flight (8000 bytes: 6 segments)
    assert server.path_mtu("10.0.1.2") == 576
    world.run(asyncio.sleep(600))
    assert server.path_mtu("10.0.1.2") is None  # forgotten after 10 minutes, as Linux does


def test_parallel_connections_each_resend_at_once_on_their_own_icmp(world):
    """Four downloads at once through the narrow path: the first ICMP teaches the host the
    path MTU, which limits the other connections' next segments — but their own large
    segments already in flight are lost too, and each resends them on its own ICMP at
    once (as Linux, whose sockets compare their icsk_pmtu_cookie), not after an RTO."""
    client, server = narrow_path(world)
    payload = bytes(i % 251 for i in range(20000))

    async def handler(stream: Stream) -> None:
        await stream.receive_some()
        await stream.send_all(payload)
        await stream.aclose()

    async def fetch() -> tuple[bytes, float]:
        stream = await world.network(client).open_tcp_stream(SERVER, 80)
        await stream.send_all(b"GET")
        return await read_all(stream), world.now()

    async def main() -> list[tuple[bytes, float]]:
        await world.network(server).start_tcp_server(handler, SERVER, 80)
        return await asyncio.gather(*(fetch() for _ in range(4)))

    results = world.run(main())
    assert all(data == payload for data, _ in results)
    assert max(done for _, done in results) < 0.5  # no retransmission timeout (1 s)


@pytest.mark.parametrize(
    ("kind", "code", "ends"),
    [
        (icmp.DESTINATION_UNREACHABLE, icmp.NET_UNREACHABLE, True),
        (icmp.DESTINATION_UNREACHABLE, icmp.HOST_UNREACHABLE, True),
        (icmp.TIME_EXCEEDED, icmp.TTL_EXCEEDED_IN_TRANSIT, True),
        (icmp.DESTINATION_UNREACHABLE, icmp.PORT_UNREACHABLE, False),
        (icmp.DESTINATION_UNREACHABLE, icmp.COMMUNICATION_PROHIBITED, False),
        (icmp.DESTINATION_UNREACHABLE, icmp.HOST_PROHIBITED, False),
        (icmp.DESTINATION_UNREACHABLE, 7, False),  # destination host unknown
    ],
)
def test_which_icmp_errors_end_a_half_open_connection_as_linux(kind, code, ends):
    message = icmp.IcmpMessage(kind, code, bytes(4), bytes(28))
    assert message.ends_half_open is ends
