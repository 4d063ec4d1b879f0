"""The TCP state machine: opening, closing, resetting — segment by segment, as in RFC 9293.

And the table itself (:data:`webtrip.netsim.tcp_state.TRANSITIONS`), checked against RFC
9293's diagram.
"""

from __future__ import annotations

import pytest

from support.tcp_world import (
    CLIENT_PORT,
    SERVER_PORT,
    Conditions,
    Recorder,
    Sender,
    World,
    app_of,
    flag_names,
)
from webtrip.netsim.tcp import (
    CloseReason,
    TcpConfig,
    TcpConnection,
    TcpError,
    TcpListener,
    reset_for,
)
from webtrip.netsim.tcp_state import TRANSITIONS, Event, State
from webtrip.packets.tcp_segment import Flags, TcpSegment

S = State


def established() -> tuple[World, TcpConnection, TcpConnection]:
    world = World()
    client, accepted = world.connect()
    world.run(until=1)
    assert client.state is S.ESTABLISHED
    return world, client, accepted[0]


def sent_since(world: World, host: str, count: int) -> list[TcpSegment]:
    log = world.a.log if host == "A" else world.b.log
    return [r.segment for r in log if r.direction == "out"][count:]


def sent_count(world: World, host: str) -> int:
    return len(sent_since(world, host, 0))


def segment_to(connection: TcpConnection, flags: Flags, *, seq_offset: int = 0, **fields: int):
    """A segment from the peer to ``connection``, numbered from what it expects next."""
    return TcpSegment(
        src_port=connection.remote_port,
        dst_port=connection.local_port,
        seq=(connection.rcv_nxt + seq_offset) % 2**32,
        ack=fields.pop("ack", connection.snd_nxt % 2**32),
        flags=flags,
        window=fields.pop("window", 1000),
        **fields,  # type: ignore[arg-type]
    )


# --- opening ------------------------------------------------------------------------


def test_three_way_handshake_is_syn_then_syn_ack_then_ack():
    world = World()
    client, accepted = world.connect()
    world.run(until=1)
    assert world.trace() == [("A", "SYN"), ("B", "SYN,ACK"), ("A", "ACK")]
    syn, ack = sent_since(world, "A", 0)
    (syn_ack,) = sent_since(world, "B", 0)
    assert syn_ack.ack == (syn.seq + 1) % 2**32  # "I got your SYN, x"
    assert ack.seq == (syn.seq + 1) % 2**32
    assert ack.ack == (syn_ack.seq + 1) % 2**32  # "I got yours, y"
    server = accepted[0]
    assert app_of(client).states == [S.SYN_SENT, S.ESTABLISHED]
    assert app_of(server).states == [S.LISTEN, S.SYN_RECEIVED, S.ESTABLISHED]
    assert app_of(client).events == app_of(server).events == ["established"]


def test_syn_and_syn_ack_carry_the_mss_and_window_scale_options():
    world = World(config=TcpConfig(mss=1400, receive_buffer=256 * 1024))
    world.connect()
    world.run(until=1)
    syn = sent_since(world, "A", 0)[0]
    syn_ack = sent_since(world, "B", 0)[0]
    assert (syn.mss, syn.window_scale) == (1400, 3)
    assert (syn_ack.mss, syn_ack.window_scale) == (1400, 3)
    assert sent_since(world, "A", 1)[0].mss is None  # options belong to SYNs only


def test_window_scale_is_not_answered_when_the_syn_did_not_offer_it():
    world = World()
    world.connect(client_config=TcpConfig(window_scaling=False))
    world.run(until=1)
    assert sent_since(world, "A", 0)[0].window_scale is None
    assert sent_since(world, "B", 0)[0].window_scale is None


def test_initial_sequence_numbers_come_from_the_seeded_generator():
    def isns(seed: int) -> tuple[int, int]:
        world = World(seed=seed)
        world.connect()
        world.run(until=1)
        return sent_since(world, "A", 0)[0].seq, sent_since(world, "B", 0)[0].seq

    assert isns(1) == isns(1)
    assert isns(1) != isns(2)


def test_simultaneous_open_goes_through_syn_received_on_both_sides():
    world = World()
    a = world.a.open(CLIENT_PORT, SERVER_PORT, Recorder())
    b = world.b.open(SERVER_PORT, CLIENT_PORT, Recorder())
    a.connect()
    b.connect()
    world.run(until=1)
    for connection in (a, b):
        assert app_of(connection).states == [S.SYN_SENT, S.SYN_RECEIVED, S.ESTABLISHED]
    assert world.trace()[:4] == [("A", "SYN"), ("B", "SYN"), ("A", "SYN,ACK"), ("B", "SYN,ACK")]


def test_a_lost_syn_ack_is_sent_again_by_the_server():
    # The client's timer is the slower one here: the server's own timer resends.
    # (When the client's SYN comes again first, that SYN is answered at once: below.)
    world = World(b_to_a=Conditions(drop=[0]))
    client, _ = world.connect(client_config=TcpConfig(initial_rto=3.0))
    world.run(until=5)
    assert client.state is S.ESTABLISHED
    assert [flags for who, flags in world.trace() if who == "B"].count("SYN,ACK") == 2
    assert [flags for who, flags in world.trace() if who == "A"].count("SYN") == 1


def test_a_syn_sent_again_is_answered_with_the_same_syn_ack_at_once():
    # The SYN,ACK is lost; the client's timer (1 s) fires long before the
    # server's (3 s). Its SYN again means "I never got your SYN,ACK": the
    # server resends it, as Linux does (tcp_check_req), not a bare ACK that
    # a client in SYN-SENT drops.
    world = World(b_to_a=Conditions(drop=[0]))
    client, accepted = world.connect(server_config=TcpConfig(initial_rto=3.0))
    world.run(until=1.2)
    assert client.state is S.ESTABLISHED
    assert world.trace() == [
        ("A", "SYN"), ("B", "SYN,ACK"), ("A", "SYN"), ("B", "SYN,ACK"), ("A", "ACK")
    ]  # fmt: skip
    first, again = sent_since(world, "B", 0)
    assert (again.seq, again.ack, again.mss, again.window_scale) == (
        first.seq, first.ack, first.mss, first.window_scale
    )  # fmt: skip
    assert accepted[0].state is S.ESTABLISHED
    assert accepted[0].counters.retransmissions == 1


def test_copies_of_a_syn_get_at_most_one_syn_ack_every_half_second():
    # Every SYN,ACK is lost and the same SYN arrives ten times in 0.3 s (a replay, or a
    # duplicating path): one SYN,ACK answers them, as Linux's tcp_oow_rate_limited allows.
    world = World(b_to_a=Conditions(drop_if=lambda segment: True))
    _, accepted = world.connect(server_config=TcpConfig(initial_rto=3.0))
    world.run(until=0.1)
    (syn,) = [r.segment for r in world.b.log if r.direction == "in"]
    for i in range(10):
        world.scheduler.call_later(0.03 * i, lambda: world.b.receive(syn))
    world.run(until=0.45)
    assert [flags for who, flags in world.trace() if who == "B"] == ["SYN,ACK", "SYN,ACK"]
    world.scheduler.call_later(0.2, lambda: world.b.receive(syn))  # 0.5 s after the last
    world.run(until=0.7)
    assert [flags for who, flags in world.trace() if who == "B"].count("SYN,ACK") == 3
    assert accepted[0].state is S.SYN_RECEIVED


def test_closing_in_syn_sent_sends_no_fin_and_a_late_syn_ack_is_reset():
    world = World(b_to_a=Conditions(drop=[0]))
    client, accepted = world.connect()
    world.run(until=0.5)
    client.close()
    assert client.state is S.CLOSED
    assert app_of(client).reason is CloseReason.CLOSED
    world.run(until=10)
    assert world.trace() == [("A", "SYN"), ("B", "SYN,ACK"), ("B", "SYN,ACK"), ("A", "RST")]
    assert accepted[0].close_reason is CloseReason.RESET


def test_a_connection_closed_during_syn_received_sends_its_fin_after_the_handshake():
    world = World(a_to_b=Conditions(drop=[1]))  # the client's ACK of the SYN,ACK
    client, accepted = world.connect(client=Sender(b"", close_when_sent=False))
    world.run(until=0.2)
    server = accepted[0]
    assert server.state is S.SYN_RECEIVED
    server.close()
    assert server.state is S.FIN_WAIT_1
    world.run()
    assert [flags for who, flags in world.trace() if who == "B"][:3] == [
        "SYN,ACK",
        "SYN,ACK",
        "FIN,ACK",
    ]
    assert client.close_reason is server.close_reason is CloseReason.CLOSED


# --- closing ------------------------------------------------------------------------


def test_orderly_close_is_fin_ack_then_fin_ack():
    world, client, server = established()
    client.close()
    world.run(until=2)
    assert (client.state, server.state) == (S.FIN_WAIT_2, S.CLOSE_WAIT)
    server.close()
    world.run(until=3)
    assert world.trace()[3:] == [("A", "FIN,ACK"), ("B", "ACK"), ("B", "FIN,ACK"), ("A", "ACK")]
    assert (client.state, server.state) == (S.TIME_WAIT, S.CLOSED)
    assert app_of(client).states[1:] == [S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.TIME_WAIT]
    assert app_of(server).states[2:] == [S.ESTABLISHED, S.CLOSE_WAIT, S.LAST_ACK, S.CLOSED]
    assert app_of(server).events == ["established", "eof", "closed: closed"]


def test_time_wait_lasts_two_maximum_segment_lifetimes():
    world = World(config=TcpConfig(msl=10))
    client, accepted = world.connect()
    world.run(until=1)
    client.close()
    accepted[0].close()
    world.run(until=1.2)
    assert client.state is S.TIME_WAIT
    entered = max(r.time for r in world.a.log)
    world.run(until=entered + 19.99)
    assert client.state is S.TIME_WAIT
    world.run(until=entered + 20.01)
    assert client.state is S.CLOSED
    assert app_of(client).reason is CloseReason.CLOSED


def test_the_side_that_closed_first_still_receives_data():
    world, client, server = established()
    client.close()
    world.run(until=2)
    server.send(b"still talking")
    server.close()
    world.run()
    assert bytes(app_of(client).received) == b"still talking"
    assert app_of(client).events[-2:] == ["eof", "closed: closed"]


def test_simultaneous_close_passes_through_closing():
    world, client, server = established()
    client.close()
    server.close()
    world.run(until=2)
    assert world.trace()[3:] == [("A", "FIN,ACK"), ("B", "FIN,ACK"), ("A", "ACK"), ("B", "ACK")]
    for connection in (client, server):
        assert app_of(connection).states[-3:] == [S.FIN_WAIT_1, S.CLOSING, S.TIME_WAIT]
    world.run()
    assert client.close_reason is server.close_reason is CloseReason.CLOSED


def test_a_lost_last_ack_is_sent_again_from_time_wait():
    world = World(a_to_b=Conditions(drop=[3]))  # SYN, ACK, FIN, then the last ACK
    client, accepted = world.connect()
    world.run(until=1)
    client.close()
    world.run(until=2)
    accepted[0].close()
    world.run()
    assert [flags for who, flags in world.trace() if who == "B"] == [
        "SYN,ACK",
        "ACK",
        "FIN,ACK",
        "FIN,ACK",
    ]
    assert [flags for who, flags in world.trace() if who == "A"][-2:] == ["ACK", "ACK"]
    assert client.close_reason is accepted[0].close_reason is CloseReason.CLOSED


def test_closing_twice_does_nothing_more():
    world, client, _ = established()
    client.close()
    client.close()
    world.run(until=2)
    assert [flags for who, flags in world.trace() if who == "A"].count("FIN,ACK") == 1


def test_send_after_close_is_refused():
    _, client, _ = established()
    client.close()
    with pytest.raises(TcpError, match="closing"):
        client.send(b"too late")


def test_a_connection_is_opened_only_once():
    _, client, _ = established()
    with pytest.raises(TcpError, match="opened before"):
        client.connect()


# --- resets -------------------------------------------------------------------------


def test_connecting_to_a_closed_port_is_refused_with_rst_ack():
    world = World()
    client = world.a.open(CLIENT_PORT, 81, Recorder())
    client.connect()
    world.run()
    assert world.trace() == [("A", "SYN"), ("B", "RST,ACK")]
    (syn,) = sent_since(world, "A", 0)
    (rst,) = sent_since(world, "B", 0)
    assert (rst.seq, rst.ack) == (0, (syn.seq + 1) % 2**32)
    assert client.state is S.CLOSED
    assert app_of(client).reason is CloseReason.REFUSED
    with pytest.raises(TcpError, match="connection refused"):
        client.send(b"x")


def test_a_closed_port_answers_an_ack_with_a_rst_numbered_by_that_ack():
    stray = TcpSegment(5000, 81, seq=10, ack=777, flags=Flags.ACK, window=100)
    reply = reset_for(stray)
    assert reply is not None
    assert (reply.src_port, reply.dst_port) == (81, 5000)
    assert (reply.seq, reply.flags) == (777, Flags.RST)


def test_a_rst_is_never_answered():
    rst = TcpSegment(5000, 81, seq=10, ack=0, flags=Flags.RST, window=0)
    assert reset_for(rst) is None
    listener = TcpListener(81, lambda syn: pytest.fail("a RST spawned a connection"))
    assert listener.segment_received(rst) is None


def test_a_listening_port_answers_a_stray_ack_with_a_rst():
    listener = TcpListener(80, lambda syn: pytest.fail("an ACK spawned a connection"))
    reply = listener.segment_received(TcpSegment(5000, 80, 1, 4242, Flags.ACK, 100))
    assert reply is not None
    assert (reply.seq, reply.flags) == (4242, Flags.RST)


def test_a_peer_that_forgot_the_connection_resets_it():
    world, client, _ = established()
    del world.b.connections[SERVER_PORT, CLIENT_PORT]  # the server host rebooted
    client.send(b"anyone there?")
    world.run()
    assert [flags for who, flags in world.trace() if who == "B"][-1] == "RST"
    assert client.close_reason is CloseReason.RESET


def test_abort_sends_a_rst_and_the_peer_sees_a_reset():
    world, client, server = established()
    client.abort()
    world.run()
    assert world.trace()[-1] == ("A", "RST")
    assert client.close_reason is CloseReason.ABORTED
    assert server.close_reason is CloseReason.RESET
    assert app_of(server).events[-1] == "closed: connection reset by peer"


def test_a_rst_with_the_wrong_sequence_number_gets_a_challenge_ack():
    world, client, _ = established()
    before = sent_count(world, "A")
    client.segment_received(segment_to(client, Flags.RST, seq_offset=100))
    assert client.state is S.ESTABLISHED
    assert [flag_names(s) for s in sent_since(world, "A", before)] == ["ACK"]
    client.segment_received(segment_to(client, Flags.RST))
    assert client.close_reason is CloseReason.RESET


def test_a_syn_inside_an_established_connection_gets_a_challenge_ack():
    world, client, _ = established()
    before = sent_count(world, "A")
    client.segment_received(segment_to(client, Flags.SYN, mss=1460))
    assert client.state is S.ESTABLISHED
    assert [flag_names(s) for s in sent_since(world, "A", before)] == ["ACK"]


def test_syn_sent_resets_an_ack_for_something_it_never_sent():
    world = World()
    client = world.a.open(CLIENT_PORT, SERVER_PORT, Recorder())
    client.connect()
    bogus_ack = (client.iss + 1000) % 2**32
    client.segment_received(
        TcpSegment(SERVER_PORT, CLIENT_PORT, 5, bogus_ack, Flags.SYN | Flags.ACK, 100)
    )
    assert client.state is S.SYN_SENT
    rst = sent_since(world, "A", 1)[0]
    assert (rst.flags, rst.seq) == (Flags.RST, bogus_ack)


def test_a_segment_outside_the_window_is_answered_with_an_ack_and_dropped():
    world, client, _ = established()
    before = sent_count(world, "A")
    far = segment_to(client, Flags.ACK | Flags.PSH, seq_offset=10**6, payload=b"from the future")
    client.segment_received(far)
    assert app_of(client).received == b""
    (ack,) = sent_since(world, "A", before)
    assert ack.flags == Flags.ACK
    assert ack.ack == client.rcv_nxt % 2**32


# --- the table ------------------------------------------------------------------------


def test_the_table_is_rfc_9293s_diagram_plus_the_abrupt_endings():
    diagram = {
        (S.CLOSED, Event.PASSIVE_OPEN): S.LISTEN,
        (S.CLOSED, Event.ACTIVE_OPEN): S.SYN_SENT,
        (S.LISTEN, Event.RCV_SYN): S.SYN_RECEIVED,
        (S.LISTEN, Event.CLOSE): S.CLOSED,
        (S.SYN_SENT, Event.RCV_SYN_ACK): S.ESTABLISHED,
        (S.SYN_SENT, Event.RCV_SYN): S.SYN_RECEIVED,
        (S.SYN_SENT, Event.CLOSE): S.CLOSED,
        (S.SYN_RECEIVED, Event.RCV_ACK_OF_SYN): S.ESTABLISHED,
        (S.SYN_RECEIVED, Event.CLOSE): S.FIN_WAIT_1,
        (S.ESTABLISHED, Event.CLOSE): S.FIN_WAIT_1,
        (S.ESTABLISHED, Event.RCV_FIN): S.CLOSE_WAIT,
        (S.FIN_WAIT_1, Event.RCV_ACK_OF_FIN): S.FIN_WAIT_2,
        (S.FIN_WAIT_1, Event.RCV_FIN): S.CLOSING,
        (S.FIN_WAIT_2, Event.RCV_FIN): S.TIME_WAIT,
        (S.CLOSE_WAIT, Event.CLOSE): S.LAST_ACK,
        (S.CLOSING, Event.RCV_ACK_OF_FIN): S.TIME_WAIT,
        (S.LAST_ACK, Event.RCV_ACK_OF_FIN): S.CLOSED,
        (S.TIME_WAIT, Event.TIME_WAIT_TIMEOUT): S.CLOSED,
    }
    abrupt = {Event.RCV_RST, Event.ABORT, Event.GIVE_UP, Event.RCV_ICMP_UNREACHABLE}
    assert {key: state for key, state in TRANSITIONS.items() if key[1] not in abrupt} == diagram
    assert all(TRANSITIONS[key] is S.CLOSED for key in TRANSITIONS if key[1] in abrupt)
    assert {state for state, _ in TRANSITIONS} == set(State)


def test_every_state_change_follows_the_table():
    world = World(config=TcpConfig(msl=1))
    client, accepted = world.connect(
        client=Sender(bytes(5000)), server=lambda: Sender(bytes(3000), close_when_sent=False)
    )
    world.run()
    changes = app_of(client).changes + app_of(accepted[0]).changes
    assert all(TRANSITIONS[old, event] is new for old, new, event in changes)
    assert app_of(client).changes[-1] == (S.TIME_WAIT, S.CLOSED, Event.TIME_WAIT_TIMEOUT)
    assert app_of(accepted[0]).changes[-1] == (S.LAST_ACK, S.CLOSED, Event.RCV_ACK_OF_FIN)
