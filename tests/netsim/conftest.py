"""Fixtures for the simulated network: a fresh world, and two hosts on a link."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from support.netsim import connect_pair
from webtrip.netsim.host import Host
from webtrip.netsim.link import Link
from webtrip.netsim.world import SimWorld

Pair = Callable[..., tuple[Host, Host, Link]]


@pytest.fixture
def world() -> Iterator[SimWorld]:
    with SimWorld(seed=1) as world:
        yield world


@pytest.fixture
def pair(world: SimWorld) -> Pair:
    """Make a client and a server joined by a link: ``pair(latency=0.02, ...)``."""
    return lambda **link_options: connect_pair(world, **link_options)
