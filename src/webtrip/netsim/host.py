"""A host: a machine that runs programs — a browser, a DNS server, a web server.

A host is a :class:`Node` (IPv4 and ICMP) with transport protocols on top.
Here it has UDP (RFC 768): a datagram for one of the host's addresses is
handed, by its destination port, to the socket bound there; if none is, the
host answers with ICMP *port unreachable* — which is how a DNS client can
tell at once that no server listens, instead of waiting for its timeout.

TCP plugs in the same way: the TCP layer registers its segment handler in
``host.protocols[PROTOCOL_TCP]`` and accepts connections for the listening
sockets in :attr:`Host.tcp_ports`. Until it does, a TCP segment sent to a
host earns an ICMP *protocol unreachable*.
"""

from __future__ import annotations

import asyncio
import random

from webtrip.net import Address, DatagramHandler, StreamHandler
from webtrip.netsim import icmp
from webtrip.netsim.capture import DROP, INSIDE, PacketLog
from webtrip.netsim.ipv4 import PROTOCOL_UDP, IPv4Packet, PacketError, pack_address
from webtrip.netsim.node import Node
from webtrip.netsim.sockets import (
    WILDCARD,
    PortTable,
    TcpListeningSocket,
    UdpSocket,
    check_bind_address,
)
from webtrip.netsim.udp import UdpDatagram


class Host(Node):
    """An end host: an IPv4 node with UDP sockets (and, once wired in, TCP)."""

    def __init__(
        self, name: str, *, loop: asyncio.AbstractEventLoop, rng: random.Random, log: PacketLog
    ) -> None:
        super().__init__(name, loop=loop, rng=rng, log=log)
        self.udp_ports: PortTable[UdpSocket] = PortTable("UDP", rng)
        self.tcp_ports: PortTable[TcpListeningSocket] = PortTable("TCP", rng)
        self.protocols[PROTOCOL_UDP] = self._udp_received

    # --- UDP ------------------------------------------------------------------------

    def bind_udp(
        self, address: str, port: int = 0, on_datagram: DatagramHandler | None = None
    ) -> UdpSocket:
        """A UDP socket bound to ``address:port`` (port 0: an ephemeral port).

        Raises OSError if the address is not this host's or the port is taken.
        """
        address = check_bind_address(self, address)
        return self.udp_ports.bind(address, port, lambda local: UdpSocket(self, local, on_datagram))

    def send_udp(self, local: Address, to: Address, payload: bytes) -> None:
        """Send ``payload`` from the socket at ``local`` to ``to``.

        A destination that cannot be reached, or that is not an IPv4
        address, loses the datagram, as UDP may.
        """
        destination, port = to
        try:
            pack_address(destination)
        except PacketError:
            return
        source = local[0]
        if source == WILDCARD:
            # Without a route the datagram leaves from 0.0.0.0 and send_ip drops it.
            source = self.source_address_for(destination) or WILDCARD
        datagram = UdpDatagram(local[1], port, payload).encode(source, destination)
        self.send_ip(source, destination, PROTOCOL_UDP, datagram)

    def _udp_received(self, packet: IPv4Packet) -> None:
        data = packet.encode()
        try:
            datagram = UdpDatagram.decode(packet.payload, packet.source, packet.destination)
        except PacketError as exc:
            self.log.record(DROP, self.name, INSIDE, data, f"malformed: {exc}")
            return
        sock = self.udp_ports.lookup(packet.destination, datagram.destination_port)
        if sock is None:
            reason = f"no socket on UDP port {datagram.destination_port} (port unreachable)"
            self.log.record(DROP, self.name, INSIDE, data, reason)
            self.send_icmp_error(packet, icmp.destination_unreachable(icmp.PORT_UNREACHABLE, data))
            return
        if not sock.deliver(datagram.payload, (packet.source, datagram.source_port)):
            self.log.record(DROP, self.name, INSIDE, data, "the socket's receive queue is full")

    # --- TCP (the listening half of the seam) ---------------------------------------

    def listen_tcp(
        self, handler: StreamHandler, address: str, port: int, backlog: int
    ) -> TcpListeningSocket:
        """Reserve ``address:port`` as a listening TCP socket (port 0: an ephemeral port).

        Raises OSError if the address is not this host's or the port is taken.
        """
        address = check_bind_address(self, address)
        return self.tcp_ports.bind(
            address, port, lambda local: TcpListeningSocket(self, local, handler, backlog)
        )
