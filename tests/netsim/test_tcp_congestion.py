"""NewReno congestion control on its own: RFC 5681, RFC 6582 and RFC 6928, by the numbers."""

from __future__ import annotations

import pytest

from webtrip.netsim.congestion import NewReno, rfc6928_initial_window

MSS = 1000


def ack_round(policy: NewReno, *, start: int) -> int:
    """Acknowledge a window's worth of segments, one ACK each; returns the next sequence number."""
    segments = policy.cwnd // MSS
    for i in range(1, segments + 1):
        policy.on_ack(MSS, 0.1, ack=start + i * MSS, flight_size=(segments - i) * MSS)
    return start + segments * MSS


@pytest.mark.parametrize(
    ("mss", "window"),
    [(1460, 14600), (536, 5360), (4000, 14600), (9000, 18000)],
)
def test_initial_window_is_rfc_6928s_ten_segments_within_14600_bytes(mss: int, window: int):
    assert rfc6928_initial_window(mss) == window
    assert NewReno(mss).cwnd == window


def test_initial_window_can_be_configured():
    assert NewReno(MSS, initial_window=2 * MSS).cwnd == 2 * MSS


def test_slow_start_doubles_cwnd_every_round_trip():
    policy = NewReno(MSS)
    sizes = [policy.cwnd // MSS]
    seq = 0
    for _ in range(4):
        seq = ack_round(policy, start=seq)
        sizes.append(policy.cwnd // MSS)
    assert sizes == [10, 20, 40, 80, 160]


def test_slow_start_grows_by_at_most_one_mss_per_ack():
    policy = NewReno(MSS)
    policy.on_ack(5 * MSS, None, ack=5 * MSS, flight_size=0)
    assert policy.cwnd == 11 * MSS


def test_congestion_avoidance_adds_one_mss_per_round_trip():
    policy = NewReno(MSS, initial_window=10 * MSS, initial_ssthresh=10 * MSS)
    sizes = []
    seq = 0
    for _ in range(4):
        seq = ack_round(policy, start=seq)
        sizes.append(policy.cwnd // MSS)
    assert sizes == [11, 12, 13, 14]


def test_slow_start_hands_over_to_congestion_avoidance_at_ssthresh():
    policy = NewReno(MSS, initial_ssthresh=30 * MSS)
    sizes = []
    seq = 0
    for _ in range(4):
        seq = ack_round(policy, start=seq)
        sizes.append(policy.cwnd // MSS)
    assert sizes == [20, 30, 31, 32]


def test_the_third_duplicate_ack_triggers_fast_retransmit_not_the_second():
    policy = NewReno(MSS)
    answers = [policy.on_duplicate_ack(ack=0, flight_size=10 * MSS, high_sent=10 * MSS)]
    answers.append(policy.on_duplicate_ack(ack=0, flight_size=10 * MSS, high_sent=10 * MSS))
    assert answers == [False, False]
    assert policy.on_duplicate_ack(ack=0, flight_size=10 * MSS, high_sent=10 * MSS)
    assert policy.in_fast_recovery


def test_fast_retransmit_halves_ssthresh_and_inflates_cwnd_by_three_segments():
    policy = NewReno(MSS)
    for _ in range(3):
        policy.on_duplicate_ack(ack=0, flight_size=10 * MSS, high_sent=10 * MSS)
    assert policy.ssthresh == 5 * MSS
    assert policy.cwnd == 8 * MSS


def test_each_further_duplicate_ack_inflates_cwnd_by_one_mss():
    policy = NewReno(MSS)
    for _ in range(3):
        policy.on_duplicate_ack(ack=0, flight_size=10 * MSS, high_sent=10 * MSS)
    inflated = policy.cwnd
    assert not policy.on_duplicate_ack(ack=0, flight_size=10 * MSS, high_sent=10 * MSS)
    assert not policy.on_duplicate_ack(ack=0, flight_size=10 * MSS, high_sent=10 * MSS)
    assert policy.cwnd == inflated + 2 * MSS


def test_ssthresh_is_never_set_below_two_segments():
    policy = NewReno(MSS)
    for _ in range(3):
        policy.on_duplicate_ack(ack=0, flight_size=MSS, high_sent=MSS)
    assert policy.ssthresh == 2 * MSS


def test_a_new_ack_resets_the_duplicate_count():
    policy = NewReno(MSS)
    policy.on_duplicate_ack(ack=0, flight_size=10 * MSS, high_sent=10 * MSS)
    policy.on_duplicate_ack(ack=0, flight_size=10 * MSS, high_sent=10 * MSS)
    policy.on_ack(MSS, None, ack=MSS, flight_size=9 * MSS)
    assert not policy.on_duplicate_ack(ack=MSS, flight_size=9 * MSS, high_sent=10 * MSS)
    assert policy.duplicate_acks == 1


def test_a_partial_ack_asks_for_the_next_hole_and_deflates_cwnd():
    policy = NewReno(MSS)
    for _ in range(3):
        policy.on_duplicate_ack(ack=0, flight_size=10 * MSS, high_sent=10 * MSS)
    cwnd = policy.cwnd
    assert policy.on_ack(3 * MSS, None, ack=3 * MSS, flight_size=7 * MSS)
    assert policy.in_fast_recovery
    assert policy.cwnd == cwnd - 3 * MSS + MSS


def test_a_full_ack_ends_fast_recovery_at_ssthresh():
    policy = NewReno(MSS)
    for _ in range(3):
        policy.on_duplicate_ack(ack=0, flight_size=10 * MSS, high_sent=10 * MSS)
    assert not policy.on_ack(10 * MSS, None, ack=10 * MSS, flight_size=6 * MSS)
    assert not policy.in_fast_recovery
    assert policy.cwnd == policy.ssthresh == 5 * MSS


def test_a_timeout_drops_cwnd_to_one_segment_and_halves_ssthresh():
    policy = NewReno(MSS)
    policy.on_timeout(flight_size=20 * MSS, high_sent=20 * MSS, repeated=False)
    assert policy.cwnd == MSS
    assert policy.ssthresh == 10 * MSS


def test_a_repeated_timeout_leaves_ssthresh_alone():
    policy = NewReno(MSS)
    policy.on_timeout(flight_size=20 * MSS, high_sent=20 * MSS, repeated=False)
    policy.on_timeout(flight_size=20 * MSS, high_sent=20 * MSS, repeated=True)
    assert policy.ssthresh == 10 * MSS
    assert policy.cwnd == MSS


def test_duplicate_acks_for_data_sent_before_a_timeout_do_not_trigger_fast_retransmit():
    policy = NewReno(MSS)
    policy.on_timeout(flight_size=20 * MSS, high_sent=20 * MSS, repeated=False)
    answers = [
        policy.on_duplicate_ack(ack=5 * MSS, flight_size=15 * MSS, high_sent=20 * MSS)
        for _ in range(3)
    ]
    assert answers == [False, False, False]
    assert not policy.in_fast_recovery
