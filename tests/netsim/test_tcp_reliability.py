"""Reliable delivery: segmentation, windows, retransmission, fast retransmit, congestion window."""

from __future__ import annotations

import asyncio
import functools
import itertools
import random
from collections.abc import Callable

import pytest

from support.tcp_world import (
    CLIENT_PORT,
    Conditions,
    Recorder,
    Sender,
    World,
    app_of,
)
from webtrip.netsim.congestion import NewReno
from webtrip.netsim.stream import LoopTimers
from webtrip.netsim.tcp import CloseReason, TcpConfig, TcpConnection, TcpListener, Timer
from webtrip.netsim.tcp_reassembly import ReassemblyQueue
from webtrip.netsim.tcp_rtt import RttEstimator
from webtrip.netsim.tcp_state import State
from webtrip.packets.tcp_segment import Flags, TcpSegment

MSS = 1460


def data_sent(world: World, host: str = "A") -> list[tuple[float, TcpSegment]]:
    log = world.a.log if host == "A" else world.b.log
    return [(r.time, r.segment) for r in log if r.direction == "out" and r.segment.payload]


def pattern(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


class PausedReader(Recorder):
    """Reads nothing until told to: its receive buffer fills and its window closes."""

    def on_established(self) -> None:
        super().on_established()
        assert self.connection is not None
        self.connection.pause_reading()


# --- segmentation -----------------------------------------------------------------------


def test_data_is_cut_into_segments_of_the_smaller_of_the_two_mss():
    world = World()
    client, _ = world.connect(
        client_config=TcpConfig(mss=1000),
        server=lambda: Sender(pattern(4500), close_when_sent=False),
    )
    world.run(until=2)
    sizes = [len(segment.payload) for _, segment in data_sent(world, "B")]
    assert sizes == [1000, 1000, 1000, 1000, 500]
    flags = [segment.flags for _, segment in data_sent(world, "B")]
    assert [Flags.PSH in f for f in flags] == [False, False, False, False, True]
    assert app_of(client).received == pattern(4500)


class NoTimers:
    """Timers that never fire: for a connection driven by hand."""

    def set_timer(self, name: Timer, delay: float, expired: Callable[[], None]) -> None:
        pass

    def cancel_timer(self, name: Timer) -> None:
        pass


def test_a_peer_without_the_mss_option_gets_536_byte_segments():
    emitted: list[TcpSegment] = []
    spawned: list[TcpConnection] = []

    def spawn(syn: TcpSegment) -> TcpConnection:
        connection = TcpConnection(
            80,
            syn.src_port,
            emit=emitted.append,
            timers=NoTimers(),
            clock=lambda: 0.0,
            rng=random.Random(1),
        )
        spawned.append(connection)
        return connection

    listener = TcpListener(80, spawn)
    assert listener.segment_received(TcpSegment(40000, 80, 100, 0, Flags.SYN, 8192)) is None
    (server,) = spawned
    (syn_ack,) = emitted
    assert syn_ack.window_scale is None  # the SYN did not offer it
    server.segment_received(TcpSegment(40000, 80, 101, (syn_ack.seq + 1) % 2**32, Flags.ACK, 8192))
    assert server.state is State.ESTABLISHED
    server.send(bytes(2000))
    assert [len(segment.payload) for segment in emitted if segment.payload] == [536, 536, 536, 392]


def test_cumulative_acks_acknowledge_everything_before_them():
    world = World(b_to_a=Conditions(drop=[2, 3, 4]))  # lose most ACKs of the data
    client, _ = world.connect(client=Sender(pattern(6 * MSS), close_when_sent=False))
    world.run(until=0.5)
    assert client.snd_una == client.snd_max  # the last ACK covered all the lost ones
    assert client.counters.retransmissions == 0


# --- windows ----------------------------------------------------------------------------


def test_the_receiver_advertises_its_free_buffer_and_the_sender_stays_inside():
    world = World()
    data = pattern(20_000)
    client, accepted = world.connect(
        client=Sender(data), server=PausedReader, server_config=TcpConfig(receive_buffer=4096)
    )
    world.run(until=20)
    server = accepted[0]
    windows = [r.segment.window for r in world.b.log if r.direction == "out"]
    assert windows[0] == 4096 and windows[-1] == 0
    assert app_of(server).received == b""
    right_edge = 0
    for record in world.a.log:
        relative_ack = (record.segment.ack - client.iss) % 2**32
        if record.direction == "in" and Flags.ACK in record.segment.flags:
            right_edge = max(right_edge, relative_ack + record.segment.window)
        elif record.segment.payload and len(record.segment.payload) > 1:  # not a window probe
            end = (record.segment.seq - client.iss) % 2**32 + len(record.segment.payload)
            assert end <= right_edge
    server.resume_reading()
    world.run()
    assert app_of(server).received == data


def test_a_zero_window_is_probed_at_growing_intervals_until_it_opens():
    world = World()
    client, _ = world.connect(
        client=Sender(pattern(20_000), close_when_sent=False),
        server=PausedReader,
        server_config=TcpConfig(receive_buffer=4096),
    )
    world.run(until=30)
    probes = [t for t, segment in data_sent(world) if len(segment.payload) == 1]
    gaps = [round(later - earlier, 6) for earlier, later in itertools.pairwise(probes)]
    assert gaps == [2.0, 4.0, 8.0]
    assert client.state is State.ESTABLISHED  # a shut window is no reason to give up


def test_a_lost_window_update_is_recovered_by_the_next_probe():
    world = World()
    data = pattern(20_000)
    _, accepted = world.connect(
        client=Sender(data), server=PausedReader, server_config=TcpConfig(receive_buffer=4096)
    )
    world.run(until=30)
    assert world.b.pipe_out is not None
    world.b_to_a.drop = [world.b.pipe_out.sent]  # the window update about to be sent
    accepted[0].resume_reading()
    world.run()
    assert app_of(accepted[0]).received == data


def test_paused_reading_holds_the_data_and_the_end_of_stream_until_resumed():
    world = World()
    _, accepted = world.connect(client=Sender(b"hello"), server=PausedReader)
    world.run(until=5)
    server = accepted[0]
    assert app_of(server).events == ["established"]
    server.resume_reading()
    assert app_of(server).events == ["established", "data 5", "eof"]


def test_send_takes_what_fits_in_the_buffer_and_on_writable_asks_for_more():
    world = World(config=TcpConfig(send_buffer=10_000))
    client, _ = world.connect()
    assert client.send(bytes(30_000)) == 10_000
    assert client.send(b"more") == 0
    world.run(until=1)
    assert "writable" in app_of(client).events
    assert client.send_space > 0


# --- out of order, duplicates, wrap-around ------------------------------------------------


def test_out_of_order_segments_are_delivered_in_order():
    world = World(a_to_b=Conditions(reorder=0.5), seed=3)
    data = pattern(100_000)
    _, accepted = world.connect(client=Sender(data))
    world.run()
    arrivals = [r.segment.seq for r in world.b.log if r.direction == "in" and r.segment.payload]
    assert arrivals != sorted(arrivals)  # the network did reorder them
    assert app_of(accepted[0]).received == data


def test_duplicated_segments_are_delivered_once():
    world = World(a_to_b=Conditions(duplicate=1.0), b_to_a=Conditions(duplicate=1.0))
    data = pattern(50_000)
    _, accepted = world.connect(client=Sender(data))
    world.run()
    assert app_of(accepted[0]).received == data
    assert app_of(accepted[0]).events.count("eof") == 1


def test_sequence_numbers_wrap_around_2_to_the_32():
    class IsnNearTheEnd(random.Random):
        def getrandbits(self, k: int) -> int:
            return 2**32 - 3000

    world = World()
    world.rng = IsnNearTheEnd()
    data = pattern(50_000)
    client, accepted = world.connect(
        client=Sender(data), server=lambda: Sender(data[::-1], close_when_sent=False)
    )
    world.run()
    assert any(segment.seq < 3000 for _, segment in data_sent(world))  # it did wrap
    assert app_of(accepted[0]).received == data
    assert app_of(client).received == data[::-1]
    assert client.close_reason is accepted[0].close_reason is CloseReason.CLOSED


def test_reassembly_queue_joins_pieces_and_drops_what_was_already_received():
    queue = ReassemblyQueue()
    queue.add(110, b"klmno")
    queue.add(105, b"fghij")
    queue.add(120, b"uvw")
    queue.add(103, b"de")
    assert queue.take_from(100) == b""  # 100..102 are still missing
    assert queue.take_from(103) == b"defghijklmno"
    assert len(queue) == 1
    assert queue.take_from(121) == b"vw"
    assert len(queue) == 0


# --- retransmission timer (RFC 6298) ----------------------------------------------------


def test_rto_follows_rfc_6298_from_the_samples():
    estimator = RttEstimator(TcpConfig(min_rto=0.1, initial_rto=1.0))
    assert estimator.rto == 1.0
    estimator.sample(0.2)
    assert (estimator.srtt, estimator.rttvar) == (0.2, 0.1)
    assert estimator.rto == pytest.approx(0.2 + 4 * 0.1)
    estimator.sample(0.4)
    assert estimator.rttvar == pytest.approx(0.75 * 0.1 + 0.25 * 0.2)
    assert estimator.srtt == pytest.approx(0.875 * 0.2 + 0.125 * 0.4)
    assert estimator.rto == pytest.approx(estimator.srtt + 4 * estimator.rttvar)


def test_rto_never_goes_below_the_minimum_or_above_the_maximum():
    estimator = RttEstimator(TcpConfig())
    estimator.sample(0.01)
    assert estimator.rto == 1.0
    for _ in range(10):
        estimator.back_off()
    assert estimator.rto == 60.0


def test_round_trips_are_measured_on_the_connection():
    world = World(config=TcpConfig(min_rto=0.01))
    client, _ = world.connect(client=Sender(pattern(50_000)))
    world.run()
    assert client.rtt.srtt == pytest.approx(0.1)
    assert client.rtt.rto < 1.0


def test_a_retransmitted_syn_gives_no_rtt_sample_and_data_starts_with_a_3_second_rto():
    world = World(a_to_b=Conditions(drop=[0]))
    client, _ = world.connect()
    world.run(until=1.5)
    assert client.state is State.ESTABLISHED
    assert client.rtt.srtt is None  # Karn: which SYN did the SYN,ACK answer?
    assert client.rtt.rto == 3.0


def test_the_retransmission_timeout_doubles_each_time_until_the_connection_gives_up():
    world = World(
        a_to_b=Conditions(drop_if=lambda segment: bool(segment.payload)),
        config=TcpConfig(max_retransmissions=6),
    )
    client, _ = world.connect(client=Sender(b"into the void", close_when_sent=False))
    world.run()
    times = [t for t, _ in data_sent(world)]
    gaps = [round(later - earlier, 6) for earlier, later in itertools.pairwise(times)]
    assert gaps == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]
    assert app_of(client).reason is CloseReason.TIMEOUT
    assert world.scheduler.now == pytest.approx(times[-1] + 60.0)  # 64 s, capped at max_rto


def test_a_lost_syn_is_sent_again_after_1_then_2_then_4_seconds():
    world = World(a_to_b=Conditions(drop=[0, 1, 2]))
    client, _ = world.connect()
    world.run(until=10)
    syns = [r.time for r in world.a.log if r.direction == "out" and Flags.SYN in r.segment.flags]
    assert syns == [0.0, 1.0, 3.0, 7.0]
    assert client.state is State.ESTABLISHED


def test_loop_timers_run_on_an_asyncio_event_loop():
    fired: list[Timer] = []

    async def main() -> None:
        timers = LoopTimers(asyncio.get_running_loop())
        timers.set_timer(Timer.PERSIST, 0.01, lambda: fired.append(Timer.PERSIST))
        timers.set_timer(Timer.RETRANSMISSION, 0.0, lambda: fired.append(Timer.RETRANSMISSION))
        timers.set_timer(Timer.RETRANSMISSION, 0.02, lambda: fired.append(Timer.RETRANSMISSION))
        timers.set_timer(Timer.TIME_WAIT, 0.0, lambda: fired.append(Timer.TIME_WAIT))
        timers.cancel_timer(Timer.TIME_WAIT)
        await asyncio.sleep(0.05)

    asyncio.run(main())
    assert fired == [Timer.PERSIST, Timer.RETRANSMISSION]  # re-arming replaced the first


# --- fast retransmit and fast recovery --------------------------------------------------


def acks_before_retransmission(world: World, lost: TcpSegment) -> int:
    """How many ACKs asking for ``lost`` arrived before it was sent again."""
    count = 0
    sent = 0
    for record in world.a.log:
        if record.direction == "out" and record.segment.seq == lost.seq and lost.payload:
            sent += 1
            if sent == 2:
                return count
        elif record.direction == "in" and record.segment.ack == lost.seq:
            count += 1
    raise AssertionError("the lost segment was never sent again")


def test_fast_retransmit_fires_on_the_third_duplicate_ack():
    # A→B: 0 SYN, 1 ACK, 2 the first data segment, 3 the second: lost.
    world = World(a_to_b=Conditions(drop=[3]))
    client, _ = world.connect(client=Sender(pattern(10 * MSS), close_when_sent=False))
    world.run(until=0.9)
    assert world.a.pipe_out is not None
    (lost,) = world.a.pipe_out.lost
    assert acks_before_retransmission(world, lost) == 1 + 3  # the ACK that stopped, 3 duplicates
    assert client.snd_una == client.snd_max  # recovered before any timeout (RTO = 1 s)


def test_two_duplicate_acks_are_not_enough():
    world = World(a_to_b=Conditions(drop=[3]))
    client, _ = world.connect(client=Sender(pattern(4 * MSS), close_when_sent=False))
    world.run(until=0.9)
    assert client.snd_una < client.snd_max  # still waiting: only 2 duplicates came
    world.run(until=2)
    assert client.snd_una == client.snd_max
    (resent,) = [t for t, s in data_sent(world) if t > 0.1]
    # The retransmission timer did it: 1 s after it was restarted by the last new ACK.
    assert resent == pytest.approx(0.2 + 1.0)


def test_a_partial_ack_in_fast_recovery_resends_the_next_hole_at_once():
    world = World(a_to_b=Conditions(drop=[3, 5]))  # the 2nd and 4th data segments
    client, _ = world.connect(client=Sender(pattern(10 * MSS), close_when_sent=False))
    world.run(until=0.9)
    assert world.a.pipe_out is not None
    first, second = world.a.pipe_out.lost
    resent = [t for t, s in data_sent(world) if s.seq in (first.seq, second.seq)]
    assert resent == pytest.approx([0.1, 0.1, 0.2, 0.3])  # one round trip apart, no timeout
    assert client.snd_una == client.snd_max


# --- the congestion window ---------------------------------------------------------------


def test_cwnd_grows_exponentially_in_slow_start_then_linearly():
    world = World(
        config=TcpConfig(
            congestion=functools.partial(NewReno, initial_ssthresh=40 * MSS),
            send_buffer=1 << 20,
            receive_buffer=1 << 20,
        )
    )
    client, _ = world.connect(client=Sender(pattern(1 << 20)))
    windows: list[int] = []

    def sample() -> None:  # once per round trip, between two flights
        windows.append(client.congestion.cwnd // MSS)
        if len(windows) < 7:
            world.scheduler.call_later(0.1, sample)

    world.scheduler.call_later(0.15, sample)
    world.run()
    assert windows == [10, 20, 40, 41, 42, 43, 44]


def test_a_loss_halves_the_congestion_window():
    losses: list[tuple[int, int, int]] = []

    class WatchedNewReno(NewReno):
        def on_duplicate_ack(self, *, ack: int, flight_size: int, high_sent: int) -> bool:
            fast_retransmit = super().on_duplicate_ack(
                ack=ack, flight_size=flight_size, high_sent=high_sent
            )
            if fast_retransmit:
                losses.append((flight_size, self.ssthresh, self.cwnd))
            return fast_retransmit

    world = World(a_to_b=Conditions(drop=[30]), config=TcpConfig(congestion=WatchedNewReno))
    client, accepted = world.connect(client=Sender(pattern(200 * MSS)))
    world.run()
    ((flight_size, ssthresh, cwnd),) = losses
    assert ssthresh == flight_size // 2
    assert cwnd == ssthresh + 3 * MSS
    assert client.counters.retransmissions == 1
    assert app_of(accepted[0]).received == pattern(200 * MSS)


def test_connections_from_the_same_port_pair_are_independent_after_close():
    world = World(config=TcpConfig(msl=1))
    first, accepted = world.connect(
        client=Sender(b"one"), server=lambda: Sender(b"", close_when_sent=False)
    )
    world.run()
    assert first.close_reason is CloseReason.CLOSED
    second = world.a.open(CLIENT_PORT, 80, Sender(b"two"))
    second.connect()
    world.run()
    assert [bytes(app_of(c).received) for c in accepted] == [b"one", b"two"]


def test_a_backed_off_rto_is_kept_for_the_next_loss_until_a_new_round_trip_is_measured():
    # RFC 6298 §5.5 and the note after §5.7, from Karn's algorithm: after a timeout the
    # doubled RTO stays, although the resent segment is acknowledged, until an RTT sample
    # — which only a segment sent once can give. So a second loss waits 2 s, not 1 s.
    # A→B: 0 SYN, 1 ACK, 2 the first data (lost), 3 it again, 4 the second data (lost).
    world = World(a_to_b=Conditions(drop=[2, 4]))
    client, _ = world.connect(client=Sender(pattern(MSS), close_when_sent=False))
    world.run(until=2)
    assert client.snd_una == client.snd_max  # the first segment is acknowledged...
    assert client.rtt.rto == 2.0  # ...and the RTO it was resent with is kept
    client.send(pattern(MSS, seed=1))
    world.run(until=7)
    client.send(pattern(MSS, seed=2))  # sent once, acknowledged: a round trip measured
    world.run(until=9)
    times = [round(t, 6) for t, _ in data_sent(world)]
    assert times == [0.1, 1.1, 2.0, 4.0, 7.0]  # 1 s, then the kept 2 s
    assert client.rtt.rto == 1.0  # collapsed back to srtt + 4·rttvar, at least min_rto
