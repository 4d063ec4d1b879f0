"""Named network profiles: a real kind of connection for the browser's link, in one word.

Browser developers test pages on slow networks with the presets of Chrome
DevTools' Network panel ("3G", "Slow 4G", "Fast 4G") and Lighthouse; a
learner can do the same with ``webtrip sim --network 3g``. Each profile sets
the browser's link (:class:`~webtrip.lab.sim.LinkConditions`): its one-way
latency is half the profile's round-trip time, its bandwidth the download
speed. Explicit flags (``--latency``, ``--bandwidth``, ``--loss``...) win
over a profile's values.

DevTools throttles whole requests, not packets, so it multiplies its target
round-trip time by an adjustment factor (×5 for 3G, ×3.75, ×2.75) and its
speeds by 0.8 or 0.9 to look like a real network. The simulated network
works packet by packet, so a profile takes DevTools' *targets* — the
``targetLatency`` and the nominal speed its comments give — as Lighthouse's
simulated throttling does (``rttMs``, ``throughputKbps``). Sources, with the
exact numbers: docs/network-profiles.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from webtrip.outcomes import N_

__all__ = ["PROFILES", "NetworkProfile"]


@dataclass(frozen=True)
class NetworkProfile:
    """A kind of connection: its round-trip time, download speed and loss, and its source."""

    name: str
    title: str  # English, marked for the catalog: translated where shown
    rtt: float  # seconds, browser ⇄ the lab's router and back
    bandwidth: float | None  # bits per second; None: the lab's own
    loss: float  # a share, 0–1
    source: str  # English, marked for the catalog: translated where shown

    @property
    def latency(self) -> float:
        """The one-way delay of the browser's link: half the round trip."""
        return self.rtt / 2


PROFILES: dict[str, NetworkProfile] = {
    profile.name: profile
    for profile in (
        NetworkProfile(
            "fast-4g", N_("Fast 4G: a good mobile connection"), 0.060, 9e6, 0.0,
            N_("Chrome DevTools, Fast4GConditions (NetworkManager.ts)"),
        ),
        NetworkProfile(
            "slow-4g", N_("Slow 4G: a weak mobile connection (DevTools' old \"Fast 3G\")"),
            0.150, 1.6e6, 0.0,
            N_("Chrome DevTools, Slow4GConditions; Lighthouse, mobileSlow4G (its default)"),
        ),
        NetworkProfile(
            "3g", N_("3G: an old mobile network (DevTools' old \"Slow 3G\")"), 0.400, 500e3, 0.0,
            N_("Chrome DevTools, Slow3GConditions (NetworkManager.ts)"),
        ),
        NetworkProfile(
            "broadband", N_("Broadband: a home connection by cable or fibre"), 0.040, 10e6, 0.0,
            N_("Lighthouse, desktopDense4G (its desktop preset)"),
        ),
        NetworkProfile(
            "satellite", N_("Satellite: a geostationary satellite, 35,786 km up"), 0.600, None,
            0.0, N_("GEO round trip ~600 ms: 4 × 35,786 km at the speed of light, plus processing"),
        ),
    )
}  # fmt: skip
"""The profiles by name, in the order ``--network list`` shows them."""
