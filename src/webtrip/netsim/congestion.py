"""Congestion control: how much a TCP sender may have in flight before the network chokes.

The receiver's window protects the *receiver*; the congestion window
(``cwnd``) protects the *network* between the two. A sender keeps at most
``min(cwnd, peer's window)`` bytes unacknowledged. No one tells it how big the
network's share is, so it probes: it grows ``cwnd`` while data is acknowledged
and shrinks it when a loss says it went too far. Like ns-3, we keep this policy
apart from the TCP connection (:mod:`webtrip.netsim.tcp`): the connection
reports what happened — new data acknowledged, a duplicate acknowledgment, a
retransmission timeout — and the policy answers with ``cwnd``.

:class:`NewReno` is the classic policy, as RFC 5681 and RFC 6582 describe it:

* **Slow start** (``cwnd < ssthresh``): each ACK grows ``cwnd`` by the bytes it
  acknowledges, at most one MSS — so ``cwnd`` doubles every round trip.
  It starts at the initial window of RFC 6928, ten segments.
* **Congestion avoidance** (``cwnd >= ssthresh``): ``cwnd`` grows by one MSS
  per round trip (per ``cwnd`` bytes acknowledged) — linear growth.
* **Fast retransmit** (RFC 5681 §3.2): the receiver answers a segment that
  arrives after a gap with a *duplicate* ACK. The third one means "a segment
  was lost, later ones arrived": resend it at once, without waiting for the
  timer. ``ssthresh`` becomes half of what was in flight.
* **Fast recovery** (RFC 6582): until everything that was in flight at the loss
  is acknowledged, each further duplicate ACK means one segment left the
  network, so ``cwnd`` is inflated by one MSS to send another. An ACK that
  covers only part of it (a *partial* ACK) reveals the next lost segment,
  which is resent at once — NewReno's improvement over Reno, which would wait
  for three more duplicates or a timeout.
* **Timeout**: the network went silent; ``cwnd`` falls to one segment (the
  loss window) and slow start begins again.
"""

from __future__ import annotations

import abc
from typing import Final

DUPLICATE_ACK_THRESHOLD: Final = 3
"""RFC 5681 §3.2: the third duplicate ACK (not the first or second) signals a loss."""

UNLIMITED_SSTHRESH: Final = 2**30
"""RFC 5681 §3.1: ssthresh starts "arbitrarily high" — slow start runs until a loss."""


def rfc6928_initial_window(mss: int) -> int:
    """RFC 6928's initial window: min(10·MSS, max(2·MSS, 14600)) bytes."""
    return min(10 * mss, max(2 * mss, 14600))


class CongestionControl(abc.ABC):
    """A congestion-control policy: the TCP connection reports, the policy sets ``cwnd``.

    Sequence numbers passed in (``ack``, ``high_sent``) are the connection's
    unwrapped ones: plain growing integers, no 2**32 wrap-around.
    """

    mss: int
    cwnd: int
    """The congestion window, in bytes."""
    ssthresh: int
    """The slow start threshold, in bytes: below it, slow start; above, congestion avoidance."""

    @abc.abstractmethod
    def on_ack(self, newly_acked: int, rtt: float | None, *, ack: int, flight_size: int) -> bool:
        """An ACK acknowledged ``newly_acked`` new bytes, up to sequence number ``ack``.

        ``rtt`` is the round-trip time measured with it, if any (Karn's rule
        leaves out retransmitted segments); ``flight_size`` is what is still
        unacknowledged. Returns True if the first unacknowledged segment must be
        retransmitted now (a partial ACK during fast recovery).
        """

    @abc.abstractmethod
    def on_duplicate_ack(self, *, ack: int, flight_size: int, high_sent: int) -> bool:
        """A duplicate ACK arrived (RFC 5681 §2's definition) for ``ack``.

        ``high_sent`` is one past the highest sequence number sent so far.
        Returns True if the first unacknowledged segment must be retransmitted
        now (fast retransmit).
        """

    @abc.abstractmethod
    def on_timeout(self, *, flight_size: int, high_sent: int, repeated: bool) -> None:
        """The retransmission timer expired; ``repeated`` if it already had for this segment."""


class NewReno(CongestionControl):
    """Slow start, congestion avoidance, fast retransmit and NewReno fast recovery.

    ``initial_window`` defaults to RFC 6928's ten segments; ``initial_ssthresh``
    to "arbitrarily high". Both are bytes.
    """

    def __init__(
        self,
        mss: int,
        *,
        initial_window: int | None = None,
        initial_ssthresh: int = UNLIMITED_SSTHRESH,
    ) -> None:
        if mss <= 0:
            raise ValueError(f"the MSS must be positive, not {mss}")
        self.mss = mss
        self.cwnd = rfc6928_initial_window(mss) if initial_window is None else initial_window
        self.ssthresh = initial_ssthresh
        self.duplicate_acks = 0
        self.in_fast_recovery = False
        self.recover: int | None = None
        """RFC 6582's "recover": one past the highest byte sent when the last loss was seen."""
        self._acked_in_avoidance = 0

    @property
    def in_slow_start(self) -> bool:
        return self.cwnd < self.ssthresh

    def on_ack(self, newly_acked: int, rtt: float | None, *, ack: int, flight_size: int) -> bool:
        self.duplicate_acks = 0
        if self.in_fast_recovery:
            assert self.recover is not None
            if ack >= self.recover:
                # A full ACK: everything in flight at the loss has arrived. Deflate
                # the window to ssthresh, but not into a burst (RFC 6582 §3.2, 3.1).
                self.in_fast_recovery = False
                self.cwnd = min(self.ssthresh, max(flight_size, self.mss) + self.mss)
                return False
            # A partial ACK: the next segment after it is lost too. Deflate by what
            # was acknowledged, add back one MSS, and resend it (RFC 6582 §3.2, 3.2).
            self.cwnd -= newly_acked
            if newly_acked >= self.mss:
                self.cwnd += self.mss
            self.cwnd = max(self.cwnd, self.mss)
            return True
        if self.in_slow_start:
            self.cwnd += min(newly_acked, self.mss)  # RFC 5681 equation (2)
        else:
            # One MSS per window's worth of acknowledged bytes (RFC 5681 §3.1).
            self._acked_in_avoidance += newly_acked
            if self._acked_in_avoidance >= self.cwnd:
                self._acked_in_avoidance -= self.cwnd
                self.cwnd += self.mss
        return False

    def on_duplicate_ack(self, *, ack: int, flight_size: int, high_sent: int) -> bool:
        if self.in_fast_recovery:
            self.cwnd += self.mss  # one more segment has left the network
            return False
        self.duplicate_acks += 1
        if self.duplicate_acks != DUPLICATE_ACK_THRESHOLD:
            return False
        if self.recover is not None and ack < self.recover:
            # These duplicates echo data sent before the last loss was handled:
            # no new loss, so no new reduction (RFC 6582 §3.2, step 2).
            return False
        self.ssthresh = max(flight_size // 2, 2 * self.mss)  # RFC 5681 equation (4)
        self.cwnd = self.ssthresh + DUPLICATE_ACK_THRESHOLD * self.mss
        self.recover = high_sent
        self.in_fast_recovery = True
        return True

    def on_timeout(self, *, flight_size: int, high_sent: int, repeated: bool) -> None:
        if not repeated:  # a retransmission lost again leaves ssthresh alone (RFC 5681 §3.1)
            self.ssthresh = max(flight_size // 2, 2 * self.mss)
        self.cwnd = self.mss  # the loss window
        self.recover = high_sent
        self.in_fast_recovery = False
        self.duplicate_acks = 0
        self._acked_in_avoidance = 0

    def __repr__(self) -> str:
        phase = "fast recovery" if self.in_fast_recovery else "slow start"
        if not self.in_fast_recovery and not self.in_slow_start:
            phase = "congestion avoidance"
        return f"<NewReno cwnd={self.cwnd} ssthresh={self.ssthresh} {phase}>"
