"""The :class:`webtrip.net.Network` an actor sees when it runs on a simulated host.

This is the seam between the actors and the simulation. The DNS server, the
web server and the browser ask a ``Network`` for the time, for UDP sockets
and for TCP streams; on a real machine :class:`webtrip.net.RealNetwork`
answers with the kernel's sockets, here :class:`SimNetwork` answers with the
simulated host's. The actor's code is the same in both worlds.

The clock is the world's virtual clock, and the calendar time a fixed epoch
plus it, so that a ``Date`` header is the same in every run.

TCP streams are not here yet. The simulated TCP (``netsim/tcp.py``) is a
sans-I/O state machine being integrated: it will register its segment
handler in ``host.protocols[PROTOCOL_TCP]``, send with ``host.send_ip`` and
the TCP checksum of :func:`webtrip.netsim.ipv4.tcp_checksum`, time out on
``world.loop``, and accept connections for the listening sockets that
:meth:`SimNetwork.start_tcp_server` already reserves in ``host.tcp_ports``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from webtrip.net import DatagramEndpoint, DatagramHandler, Network, Stream, StreamHandler
from webtrip.net.base import TcpListener

if TYPE_CHECKING:
    from webtrip.netsim.host import Host
    from webtrip.netsim.world import SimWorld

_TCP_PENDING = (
    "the simulated network has no TCP streams yet: the TCP layer (netsim/tcp.py) is "
    "being integrated"
)


class SimNetwork(Network):
    """The network as seen from ``host`` in ``world``."""

    name = "sim"

    def __init__(self, world: SimWorld, host: Host) -> None:
        self.world = world
        self.host = host

    def now(self) -> float:
        return self.world.now()

    def wall_time(self) -> float:
        return self.world.wall_time()

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
        raise NotImplementedError(_TCP_PENDING)

    async def start_tcp_server(
        self, handler: StreamHandler, host: str, port: int, *, backlog: int = 128
    ) -> TcpListener:
        """Reserve ``host:port`` for TCP; connections arrive once the TCP layer is wired in."""
        return self.host.listen_tcp(handler, host, port, backlog)
