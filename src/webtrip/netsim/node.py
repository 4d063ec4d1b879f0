"""A node of the network: interfaces with IPv4 addresses, a routing table, and IP itself.

Hosts and routers share this layer (RFC 791, RFC 1122). A node has
*interfaces*, each with an address and prefix (``10.0.0.1/24``) and plugged
into a link. To send a datagram it looks the destination up in its *routing
table* — the most specific matching route wins (longest prefix match) — and
hands the bytes to that route's interface. On a point-to-point link there is
no need for ARP: whatever goes out of an interface reaches the one peer.

A datagram arriving for one of the node's addresses is *delivered locally*:
to the handler registered for its protocol number (UDP, TCP) in
:attr:`Node.protocols`, or to ICMP, which every node speaks (it answers
pings). One for nobody is *forwarded* if the node is a router
(:mod:`router`), otherwise dropped. When something fails, the node tells the
sender with an ICMP error (:mod:`icmp`) — never about an ICMP error itself.

A datagram larger than the outgoing link's MTU is not fragmented here:
TCP never relies on fragmentation, and "don't fragment" is set on all that
we send. It is dropped, and a router tells the sender "fragmentation needed"
with the MTU to use (RFC 1191).
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from webtrip.netsim.capture import PacketLog
from webtrip.netsim.link import Link
from webtrip.packets import icmp
from webtrip.packets.ipv4 import (
    DEFAULT_TTL,
    PROTOCOL_ICMP,
    IPv4Packet,
    PacketError,
    encode_datagram,
    pack_address,
)
from webtrip.trace.events import DROP, IN, INSIDE, LOOPBACK, OUT

ProtocolHandler = Callable[[IPv4Packet], None]
"""Takes a datagram delivered to this node (UDP, TCP...): the transport layer's entry."""

_NETMASKS = [(0xFFFFFFFF << (32 - length)) & 0xFFFFFFFF for length in range(33)]
"""The netmask of each prefix length, as a number."""


def _address_value(address: str) -> int:
    """The number an IPv4 address stands for; ValueError if it is not one.

    ``int(ipaddress.IPv4Address(address))``, through :func:`pack_address`'s cache;
    its PacketError is a ValueError, as IPv4Address's AddressValueError is.
    """
    if type(address) is not str:
        return int(ipaddress.IPv4Address(address))
    return int.from_bytes(pack_address(address), "big")


_UNKNOWN: Any = object()  # not in a cache yet


class Interface:
    """A node's network interface: a name, an IPv4 address with prefix, and a link."""

    def __init__(self, node: Node, name: str, address: str) -> None:
        self.node = node
        self.name = name
        try:
            self.address = ipaddress.IPv4Interface(address)
        except ValueError:
            raise ValueError(f"'{address}' is not an IPv4 address with a prefix") from None
        self.link: Link | None = None
        self._ip_of: ipaddress.IPv4Interface | None = None
        self._ip_text = ""

    @property
    def node_name(self) -> str:
        return self.node.name

    @property
    def ip(self) -> str:
        """The interface's address as text, without the prefix."""
        address = self.address
        if self._ip_of is not address:  # computed once per address
            self._ip_text = str(address.ip)
            self._ip_of = address
        return self._ip_text

    def receive(self, data: bytes) -> None:
        """A datagram arrived from the link."""
        self.node.receive(data, self)

    def __repr__(self) -> str:
        return f"<Interface {self.node.name}/{self.name} {self.address}>"


@dataclass(frozen=True, slots=True)
class Route:
    """Datagrams for ``network`` leave through ``interface``."""

    network: ipaddress.IPv4Network
    interface: Interface


class Node:
    """A machine on the simulated network that speaks IPv4 and ICMP.

    ``loop``, ``rng`` and ``log`` are the world's: its virtual-time loop, its
    one random generator, and its packet log.
    """

    forwarding = False
    """Whether datagrams for other addresses are passed on (a router) or dropped (a host)."""

    def __init__(
        self, name: str, *, loop: asyncio.AbstractEventLoop, rng: random.Random, log: PacketLog
    ) -> None:
        self.name = name
        self.loop = loop
        self.rng = rng
        self.log = log
        self.interfaces: list[Interface] = []
        self.routes: list[Route] = []
        self.protocols: dict[int, ProtocolHandler] = {}
        self._next_identification = rng.randrange(0x10000)
        # Answers of owns() and route() by address text, for the datagrams to come
        # (a router would otherwise scan its routes for every one): forgotten
        # whenever the number of interfaces or routes changes. Add them with
        # add_interface and add_route (or append to the lists); do not edit them.
        self._owns_cache: dict[str, bool] = {}
        self._route_cache: dict[str, Interface | None] = {}
        self._own_ips: set[int] = set()
        self._route_table: list[tuple[int, dict[int, Interface]]] = []
        self._cached_interfaces = self._cached_routes = -1

    # --- configuration --------------------------------------------------------------

    def add_interface(self, address: str) -> Interface:
        """A new interface (``eth0``, ``eth1``...) with ``address`` (``"10.0.0.1/24"``).

        Its network becomes a connected route. The first interface of a node
        that does not forward also becomes its default route.
        """
        interface = Interface(self, f"eth{len(self.interfaces)}", address)
        self.interfaces.append(interface)
        self.routes.append(Route(interface.address.network, interface))
        if not self.forwarding and len(self.interfaces) == 1:
            self.routes.append(Route(ipaddress.IPv4Network("0.0.0.0/0"), interface))
        return interface

    def add_route(self, network: str, interface: Interface) -> None:
        """Send datagrams for ``network`` (``"10.0.2.0/24"``, ``"0.0.0.0/0"``) via ``interface``."""
        if interface.node is not self:
            raise ValueError(f"{interface!r} is not an interface of {self.name}")
        self.routes.append(Route(ipaddress.IPv4Network(network), interface))

    @property
    def addresses(self) -> list[str]:
        return [interface.ip for interface in self.interfaces]

    def _check_caches(self) -> None:
        """Forget the cached answers if interfaces or routes were added since."""
        if (
            len(self.interfaces) != self._cached_interfaces
            or len(self.routes) != self._cached_routes
        ):
            self._owns_cache.clear()
            self._route_cache.clear()
            self._own_ips = {int(interface.address.ip) for interface in self.interfaces}
            # Routes by prefix length, longest first; at equal length the first added wins.
            table: dict[int, dict[int, Interface]] = {}
            for route in self.routes:
                network = route.network
                by_network = table.setdefault(network.prefixlen, {})
                by_network.setdefault(int(network.network_address), route.interface)
            self._route_table = [
                (_NETMASKS[length], table[length]) for length in sorted(table, reverse=True)
            ]
            self._cached_interfaces = len(self.interfaces)
            self._cached_routes = len(self.routes)

    def owns(self, address: str) -> bool:
        """True if ``address`` is one of this node's, loopback included."""
        self._check_caches()
        owned = self._owns_cache.get(address)
        if owned is None:
            ip = _address_value(address)
            owned = ip >> 24 == 127 or ip in self._own_ips  # 127.0.0.0/8: loopback
            self._owns_cache[address] = owned
        return owned

    def route(self, destination: str) -> Interface | None:
        """The interface to send towards ``destination`` (longest prefix match), or None.

        Among routes of the same length that match, the first added wins.
        """
        self._check_caches()
        try:
            return self._route_cache[destination]
        except KeyError:
            pass
        ip = _address_value(destination)
        interface = None
        for mask, by_network in self._route_table:
            interface = by_network.get(ip & mask)
            if interface is not None:
                break
        self._route_cache[destination] = interface
        return interface

    def source_address_for(self, destination: str) -> str | None:
        """The address this node sends from towards ``destination`` (None: no route).

        UDP and TCP need it before they can compute their checksums.
        """
        if self.owns(destination):  # loopback addresses included
            return destination
        interface = self.route(destination)
        return interface.ip if interface is not None else None

    # --- sending --------------------------------------------------------------------

    def send_ip(
        self,
        source: str,
        destination: str,
        protocol: int,
        payload: bytes,
        *,
        ttl: int = DEFAULT_TTL,
        dont_fragment: bool = True,
    ) -> None:
        """Wrap ``payload`` in an IPv4 header and send it on its way.

        Like a real IP layer this never fails loudly: a datagram that cannot
        be sent (no route, larger than the MTU) is dropped and logged.
        """
        identification = self._next_identification
        self._next_identification = (identification + 1) & 0xFFFF
        # The bytes of IPv4Packet(...).encode(), without making the packet.
        data = encode_datagram(
            source, destination, protocol, payload, ttl, identification, dont_fragment
        )
        self._check_caches()
        owned = self._owns_cache.get(destination)
        if owned is None:
            owned = self.owns(destination)
        if owned:
            self.log.record(OUT, self.name, LOOPBACK, data)
            self.loop.call_soon(self._receive_from_loopback, data)
            return
        interface = self._route_cache.get(destination, _UNKNOWN)
        if interface is _UNKNOWN:
            interface = self.route(destination)
        if interface is None:
            self.log.record(DROP, self.name, INSIDE, data, f"no route to {destination}")
            return
        self.transmit(data, interface)

    def transmit(
        self, data: bytes, interface: Interface, *, forwarded: IPv4Packet | None = None
    ) -> None:
        """Put the datagram ``data`` on ``interface``'s link, if it fits its MTU.

        ``forwarded`` is the datagram as it arrived, when this node is a router
        passing it on: an oversized one then earns its sender an ICMP error.
        """
        link = interface.link
        if link is None:
            self.log.record(DROP, self.name, interface.name, data, "the interface has no link")
            return
        if len(data) > link.mtu:
            reason = f"{len(data)} bytes exceed the link's MTU of {link.mtu}"
            self.log.record(DROP, self.name, interface.name, data, reason)
            if forwarded is not None and forwarded.dont_fragment:
                self.send_icmp_error(
                    forwarded,
                    icmp.destination_unreachable(
                        icmp.FRAGMENTATION_NEEDED, forwarded.encode(), next_hop_mtu=link.mtu
                    ),
                )
            return
        link.transmit(interface, data)

    def send_icmp_error(self, original: IPv4Packet, message: icmp.IcmpMessage) -> None:
        """Tell ``original``'s sender what went wrong — unless it was itself an ICMP error."""
        if (
            original.protocol == PROTOCOL_ICMP
            and original.payload[:1]
            and (original.payload[0] in icmp.ERROR_TYPES)
        ):
            return
        source = self.source_address_for(original.source)
        if source is None:
            return
        self.send_ip(source, original.source, PROTOCOL_ICMP, message.encode())

    # --- receiving ------------------------------------------------------------------

    def _receive_from_loopback(self, data: bytes) -> None:
        self.log.record(IN, self.name, LOOPBACK, data)
        self._accept(data, LOOPBACK)

    def receive(self, data: bytes, interface: Interface) -> None:
        """A datagram arrived on ``interface``: deliver it here, forward it, or drop it."""
        self.log.record(IN, self.name, interface.name, data)
        self._accept(data, interface.name)

    def _accept(self, data: bytes, interface_name: str) -> None:
        try:
            packet = IPv4Packet.decode(data)
        except PacketError as exc:
            self.log.record(DROP, self.name, interface_name, data, f"malformed: {exc}")
            return
        if packet.more_fragments or packet.fragment_offset:
            self.log.record(DROP, self.name, interface_name, data, "fragments are not reassembled")
            return
        if self.owns(packet.destination):
            self.deliver(packet, data, interface_name)
        elif self.forwarding:
            self.forward(packet, data, interface_name)
        else:
            reason = f"addressed to {packet.destination}, not to this host"
            self.log.record(DROP, self.name, interface_name, data, reason)

    def deliver(self, packet: IPv4Packet, data: bytes, interface_name: str) -> None:
        """Hand a datagram addressed to this node to ICMP or its transport protocol."""
        if packet.protocol == PROTOCOL_ICMP:
            self._icmp_received(packet, data, interface_name)
            return
        handler = self.protocols.get(packet.protocol)
        if handler is None:
            reason = f"no {packet.protocol_name} on this node (protocol unreachable)"
            self.log.record(DROP, self.name, interface_name, data, reason)
            self.send_icmp_error(
                packet, icmp.destination_unreachable(icmp.PROTOCOL_UNREACHABLE, data)
            )
            return
        handler(packet)

    def forward(self, packet: IPv4Packet, data: bytes, interface_name: str) -> None:
        """Pass on a datagram for another node; a plain node only drops it."""
        self.log.record(DROP, self.name, interface_name, data, "not a router")

    def _icmp_received(self, packet: IPv4Packet, data: bytes, interface_name: str) -> None:
        try:
            message = icmp.IcmpMessage.decode(packet.payload)
        except PacketError as exc:
            self.log.record(DROP, self.name, interface_name, data, f"malformed: {exc}")
            return
        if message.type == icmp.ECHO_REQUEST:
            reply = icmp.echo_reply(message)
            self.send_ip(packet.destination, packet.source, PROTOCOL_ICMP, reply.encode())
        elif message.is_error:
            self.icmp_error_received(packet, message)
        # Echo replies end here: they are in the packet log.

    def icmp_error_received(self, packet: IPv4Packet, message: icmp.IcmpMessage) -> None:
        """An ICMP error came back about a datagram we sent: tell its socket, if it cares.

        A plain node or a router has no sockets: the error is only in the packet log.
        """

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {' '.join(self.addresses)}>"
