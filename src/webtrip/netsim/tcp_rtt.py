"""How long to wait before resending: RFC 6298's round-trip estimator and retransmission timeout.

Step 3 of a page load: the answer comes back cut into segments, and the
network may lose some. A sender learns of a loss only by silence — no
acknowledgment comes — so it must decide how long silence may last before it
sends again: the retransmission timeout (RTO). Too short, and it resends
segments that were only slow; too long, and a lost segment stalls the page.

So TCP measures round trips (a segment sent, its acknowledgment back) and
keeps two running figures: SRTT, the smoothed round-trip time, and RTTVAR,
how much the round trips vary. The first sample sets them (SRTT = R,
RTTVAR = R/2); each later one moves them a little, by the gains ALPHA = 1/8
and BETA = 1/4. The RTO is SRTT + 4·RTTVAR — room for a round trip a good
deal slower than usual — kept within ``min_rto`` and ``max_rto`` of
:class:`~webtrip.netsim.tcp.TcpConfig`. The connection feeds the samples (it
never times a resent segment, whose acknowledgment could answer either copy:
Karn's algorithm) and asks for the RTO to double after each timeout, backing
off until the network answers again.
"""

from __future__ import annotations

from typing import Final, Protocol


class RtoSettings(Protocol):
    """What the estimator reads of a connection's configuration (a ``TcpConfig`` has it)."""

    @property
    def initial_rto(self) -> float: ...
    @property
    def min_rto(self) -> float: ...
    @property
    def max_rto(self) -> float: ...
    @property
    def clock_granularity(self) -> float: ...


class RttEstimator:
    """RFC 6298: the smoothed round-trip time, its variation, and the retransmission timeout."""

    ALPHA: Final = 1 / 8
    BETA: Final = 1 / 4
    K: Final = 4

    def __init__(self, config: RtoSettings) -> None:
        self._config = config
        self.srtt: float | None = None
        self.rttvar: float | None = None
        self.rto = config.initial_rto

    def sample(self, rtt: float) -> None:
        """Take one measured round trip into account (RFC 6298 §2.2, §2.3)."""
        if self.srtt is None or self.rttvar is None:
            self.srtt = rtt
            self.rttvar = rtt / 2
        else:
            self.rttvar = (1 - self.BETA) * self.rttvar + self.BETA * abs(self.srtt - rtt)
            self.srtt = (1 - self.ALPHA) * self.srtt + self.ALPHA * rtt
        variation = max(self._config.clock_granularity, self.K * self.rttvar)
        self.rto = self._bounded(self.srtt + variation)

    def back_off(self) -> None:
        """Double the RTO after a timeout (RFC 6298 §5.5); it stays so until the next sample."""
        self.rto = self._bounded(self.rto * 2)

    def after_lost_syn(self) -> None:
        """RFC 6298 §5.7: if a SYN had to be resent, data starts with an RTO of 3 s."""
        if self.srtt is None:
            self.rto = self._bounded(3.0)

    def _bounded(self, rto: float) -> float:
        return min(max(rto, self._config.min_rto), self._config.max_rto)
