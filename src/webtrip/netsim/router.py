"""A router: the node that joins networks and passes datagrams on (RFC 1812).

Between the browser and the web server there are routers. Each one that
receives a datagram not addressed to itself looks up the destination in its
routing table and sends it out of the interface that leads there, after
decrementing its *time to live*. A datagram whose TTL would reach zero is
dropped and its sender told with ICMP *time exceeded* — so a routing loop
cannot keep a packet alive forever, and ``traceroute`` can find each hop by
sending with TTL 1, 2, 3... A destination with no route earns an ICMP
*destination unreachable / net unreachable*; one too large for the next
link, *fragmentation needed* (see :mod:`node`).

A route may be a *connected* one: the network of one of the router's own
interfaces, whose hosts the router reaches directly. Its links are
point-to-point, so the only host there is the one at the other end: a
datagram for another address of that network has nowhere to go, and its
sender is told *host unreachable* at once (RFC 1812 §5.2.7.1) — where a
router on an Ethernet would first ask ARP, and answer so after its
questions go unanswered (Linux: some 3 seconds).
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import struct

from webtrip.netsim.capture import PacketLog
from webtrip.netsim.node import Interface, Node
from webtrip.packets import icmp
from webtrip.packets.ipv4 import HEADER_SIZE, IPv4Packet, address_text, internet_checksum
from webtrip.trace.events import DROP

# Total length, flags and fragment offset, TTL, protocol, checksum, destination: what
# forwarding reads; and TTL, protocol, checksum again, as forwarding writes them.
_FORWARDING_FIELDS = struct.Struct("!2xH2xHBBH4x4s")
_TTL_PROTOCOL_CHECKSUM = struct.Struct("!BBH")
_NOT_FORWARDED_AS_IS = 0x8000 | 0x2000 | 0x1FFF  # reserved flag, more fragments, offset


class Router(Node):
    """A node that forwards datagrams between its interfaces.

    Routers get no default route of their own: give them routes for the
    networks that are not directly connected with :meth:`Node.add_route`.
    """

    forwarding = True

    def __init__(
        self, name: str, *, loop: asyncio.AbstractEventLoop, rng: random.Random, log: PacketLog
    ) -> None:
        super().__init__(name, loop=loop, rng=rng, log=log)
        # nobody_there's answers by address, forgotten with route()'s.
        self._nobody_cache: dict[str, bool] = {}

    def _check_caches(self) -> None:
        if (
            len(self.interfaces) != self._cached_interfaces
            or len(self.routes) != self._cached_routes
        ):
            self._nobody_cache.clear()
        super()._check_caches()

    def nobody_there(self, destination: str, out: Interface) -> bool:
        """True if ``destination``'s route is ``out``'s connected network, and the one
        host at the other end of its point-to-point link does not have that address."""
        nobody = self._nobody_cache.get(destination)
        if nobody is None:
            nobody = False
            address = ipaddress.IPv4Address(destination)
            matching = [route for route in self.routes if address in route.network]
            # The longest prefix; at equal length, the first added (as route() chooses).
            best = max(matching, key=lambda route: route.network.prefixlen, default=None)
            link = out.link
            if (
                best is not None
                and best.interface is out
                and best.network == out.address.network
                and link is not None
                and len(link.ends) == 2
            ):
                peer = getattr(link.peer_of(out), "node", None)
                nobody = isinstance(peer, Node) and not peer.owns(destination)
            self._nobody_cache[destination] = nobody
        return nobody

    def _accept(self, data: bytes, interface_name: str) -> None:
        """Forward a datagram in the common case without decoding it, else as any node.

        The common case: a 20-byte header, well-formed, with a right checksum, not a
        fragment, for another node, TTL left, a route whose link takes its size. These
        are the checks Node._accept, forward and transmit make, in their order; when
        one fails (or a subclass changes forwarding) the general path makes them again
        and logs what it finds.
        """
        if (
            type(data) is bytes
            and len(data) >= HEADER_SIZE
            and data[0] == 0x45
            and type(self).forward is Router.forward
            and type(self).transmit is Node.transmit
        ):
            (total_length, flags_offset, ttl, protocol, checksum, destination_bytes) = (
                _FORWARDING_FIELDS.unpack_from(data)
            )
            if (
                total_length == len(data)
                and not flags_offset & _NOT_FORWARDED_AS_IS
                and ttl > 1
                and internet_checksum(data[:HEADER_SIZE]) == 0
            ):
                destination = address_text(destination_bytes)
                if not self.owns(destination):
                    out = self.route(destination)
                    link = out.link if out is not None else None
                    if (
                        link is not None
                        and total_length <= link.mtu
                        and not self._nobody_cache.get(destination, True)
                    ):
                        # decrement_ttl(data, 20), with the checksum updated rather than
                        # redone (RFC 1624): the header's words sum to -checksum modulo
                        # 0xFFFF, and the TTL's word loses 0x0100. The same bytes.
                        words = 0xFFFF - checksum - 0x0100
                        checksum = ~((words - 1) % 0xFFFF + 1) & 0xFFFF
                        fields = _TTL_PROTOCOL_CHECKSUM.pack(ttl - 1, protocol, checksum)
                        assert out is not None  # it has a link
                        link.transmit(out, data[:8] + fields + data[12:])
                        return
        super()._accept(data, interface_name)

    def forward(self, packet: IPv4Packet, data: bytes, interface_name: str) -> None:
        if packet.ttl <= 1:
            self.log.record(DROP, self.name, interface_name, data, "TTL expired in transit")
            self.send_icmp_error(packet, icmp.time_exceeded(data))
            return
        out = self.route(packet.destination)
        if out is None:
            reason = f"no route to {packet.destination}"
            self.log.record(DROP, self.name, interface_name, data, reason)
            self.send_icmp_error(packet, icmp.destination_unreachable(icmp.NET_UNREACHABLE, data))
            return
        if self.nobody_there(packet.destination, out):
            reason = f"no host {packet.destination} on the network of {out.name} (host unreachable)"
            self.log.record(DROP, self.name, interface_name, data, reason)
            self.send_icmp_error(packet, icmp.destination_unreachable(icmp.HOST_UNREACHABLE, data))
            return
        self.transmit(decrement_ttl(data, packet.header_size), out, forwarded=packet)


def decrement_ttl(data: bytes, header_size: int) -> bytes:
    """``data``, a valid datagram, with its TTL one less and its header checksum redone.

    The same bytes as re-encoding the decoded datagram with ``ttl - 1``, without
    decoding and encoding it: only the TTL byte and the checksum change.
    """
    header = bytearray(data[:header_size])
    header[8] -= 1
    header[10:12] = b"\0\0"
    struct.pack_into("!H", header, 10, internet_checksum(header))
    return bytes(header) + data[header_size:]
