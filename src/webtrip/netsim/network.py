"""The :class:`webtrip.net.Network` an actor sees when it runs on a simulated host.

This is the seam between the actors and the simulation. The DNS server, the
web server and the browser ask a ``Network`` for the time, for UDP sockets
and for TCP streams; on a real machine :class:`webtrip.net.RealNetwork`
answers with the kernel's sockets, here :class:`SimNetwork` answers with the
simulated host's. The actor's code is the same in both worlds.

The clock is the world's virtual clock, and the calendar time a fixed epoch
plus it, so that a ``Date`` header is the same in every run. The random
source (DNS query IDs) is the world's seeded generator, so that the same
seed asks the same questions with the same IDs.

TCP streams are :class:`~webtrip.netsim.stream.SimStream`: the host's TCP
(:mod:`webtrip.netsim.host`, :mod:`webtrip.netsim.tcp`) behind the same
``Stream`` interface as the kernel's.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Protocol, TypeVar

from webtrip.net import DatagramEndpoint, DatagramHandler, Network, Stream, StreamHandler
from webtrip.net.base import TcpListener
from webtrip.netsim.stream import SimStream

T = TypeVar("T")


class WorldClock(Protocol):
    """What a network needs of its world (a :class:`~webtrip.netsim.world.SimWorld`)."""

    rng: random.Random

    def now(self) -> float: ...
    def wall_time(self) -> float: ...


class SocketsHost(Protocol):
    """What a network needs of its host (a :class:`~webtrip.netsim.host.Host`): its sockets."""

    def bind_udp(
        self, address: str, port: int, on_datagram: DatagramHandler | None = None
    ) -> DatagramEndpoint: ...
    def open_tcp(self, address: str, port: int, local_address: str | None = None) -> SimStream: ...
    def listen_tcp(
        self, handler: StreamHandler, address: str, port: int, backlog: int
    ) -> TcpListener: ...


class SimNetwork(Network):
    """The network as seen from ``host`` in ``world``."""

    name = "sim"

    def __init__(self, world: WorldClock, host: SocketsHost) -> None:
        self.world = world
        self.host = host
        self.random = world.rng

    def now(self) -> float:
        return self.world.now()

    def wall_time(self) -> float:
        return self.world.wall_time()

    async def run_blocking(self, work: Callable[[], T]) -> T:
        """Run ``work`` at once: no virtual time passes while it runs, and no thread is used."""
        return work()

    async def open_udp_endpoint(
        self,
        host: str,
        port: int = 0,
        *,
        on_datagram: DatagramHandler | None = None,
    ) -> DatagramEndpoint:
        return self.host.bind_udp(host, port, on_datagram)

    async def open_tcp_stream(
        self, host: str, port: int, *, local_host: str | None = None
    ) -> Stream:
        """Open a connection from the host to ``host:port``: a three-way handshake.

        Raises ConnectionRefusedError (a RST came back), TimeoutError (no
        answer, after the SYN's retransmissions) or OSError (no route).
        """
        stream = self.host.open_tcp(host, port, local_host)
        await stream.connect()
        return stream

    async def start_tcp_server(
        self, handler: StreamHandler, host: str, port: int, *, backlog: int = 128
    ) -> TcpListener:
        """Listen on ``host:port``; ``handler(stream)`` runs in a task for each connection."""
        return self.host.listen_tcp(handler, host, port, backlog)
