"""A host: a machine that runs programs — a browser, a DNS server, a web server.

A host is a :class:`Node` (IPv4 and ICMP) with transport protocols on top.
Here it has UDP (RFC 768): a datagram for one of the host's addresses is
handed, by its destination port, to the socket bound there; if none is, the
host answers with ICMP *port unreachable*. The UDP sockets here are never
*connected*, and, as on Linux, an unconnected socket is not told of ICMP
errors: a DNS client whose server is gone waits for its timeout (the
error is in the packet log).

And TCP (RFC 9293). Each connection is a
:class:`~webtrip.netsim.tcp.TcpConnection` wrapped in the
:class:`~webtrip.netsim.stream.SimStream` that a program holds. An arriving
segment goes, in this order (RFC 9293 §3.10.7), to

1. the connection with its *four-tuple* — its source and destination
   addresses and ports — if there is one;
2. else the socket listening on its destination address and port: a SYN
   there starts a new connection (:class:`~webtrip.netsim.tcp.TcpListener`);
3. else nothing: the host answers with a RST (:func:`~webtrip.netsim.tcp.reset_for`),
   which the sender's TCP reports as "connection refused".

A connection's segment size comes from the MTU of the link its route takes:
the MTU less 20 bytes of IPv4 header and 20 of TCP header. Its initial
sequence number and, for a connection we open, the ephemeral port, come
from the world's seeded generator; its timers run on the world's loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import random
import struct

from webtrip.net import Address, DatagramHandler, StreamHandler
from webtrip.netsim.capture import PacketLog
from webtrip.netsim.node import Node
from webtrip.netsim.sockets import (
    WILDCARD,
    PortTable,
    TcpListeningSocket,
    UdpSocket,
    check_bind_address,
)
from webtrip.netsim.stream import SimStream
from webtrip.netsim.tcp import TcpConfig, TcpConnection, TcpListener, reset_for
from webtrip.packets import icmp
from webtrip.packets.ipv4 import (
    HEADER_SIZE,
    PROTOCOL_TCP,
    PROTOCOL_UDP,
    IPv4Packet,
    PacketError,
    address_text,
    internet_checksum,
    pack_address,
)
from webtrip.packets.tcp_segment import SegmentError, TcpSegment
from webtrip.packets.udp import UdpDatagram
from webtrip.trace.events import DROP, INSIDE

# Total length, flags and fragment offset, protocol, source, destination.
_DELIVERY_FIELDS = struct.Struct("!2xH2xHxB2x4s4s")
_NOT_DELIVERED_AS_IS = 0x8000 | 0x2000 | 0x1FFF  # reserved flag, more fragments, offset

IP_AND_TCP_HEADERS = 40
"""An IPv4 header and a TCP header without options: the MSS is the MTU less these."""
LOOPBACK_MTU = 65535
"""The MTU of the loopback interface (the largest IPv4 datagram)."""
MIN_PATH_MTU = 68
"""The smallest path MTU that "fragmentation needed" may teach (RFC 791, RFC 1191 §3).

Linux goes no lower than 552 (``min_pmtu``), and below that sends without
"don't fragment" for routers to fragment; nothing fragments here, so the
floor is IPv4's own minimum, which every link of the simulation allows.
"""
PATH_MTU_EXPIRES = 600.0
"""Seconds a path MTU learnt from ICMP is remembered for new connections (Linux's
``mtu_expires``, 10 minutes); a connection keeps what it learnt for its life."""
_PORTS_AND_SEQUENCE = struct.Struct("!HHI")

TcpKey = tuple[str, int, str, int]
"""A connection's four-tuple: local address, local port, peer address, peer port."""


class Host(Node):
    """An end host: an IPv4 node with UDP and TCP sockets.

    :attr:`tcp_config` holds the TCP knobs of the host's connections (a lab
    may lower ``min_rto``, say); the MSS is set per connection from the MTU.
    """

    def __init__(
        self, name: str, *, loop: asyncio.AbstractEventLoop, rng: random.Random, log: PacketLog
    ) -> None:
        super().__init__(name, loop=loop, rng=rng, log=log)
        self.udp_ports: PortTable[UdpSocket] = PortTable("UDP", rng)
        self.tcp_ports: PortTable[TcpListeningSocket | SimStream] = PortTable("TCP", rng)
        self.tcp_connections: dict[TcpKey, SimStream] = {}
        self.tcp_config = TcpConfig()
        self._tcp_config_base: TcpConfig | None = None
        self._tcp_configs: dict[int, TcpConfig] = {}
        self._path_mtus: dict[str, tuple[int, float]] = {}  # peer → (path MTU, until when)
        self.protocols[PROTOCOL_UDP] = self._udp_received
        self._tcp_handler = self._tcp_received
        self.protocols[PROTOCOL_TCP] = self._tcp_handler

    # --- receiving ------------------------------------------------------------------

    def _accept(self, data: bytes, interface_name: str) -> None:
        """Hand a segment of an open TCP connection to it without decoding the datagram.

        The common case: a 20-byte header, well-formed, with a right checksum, not a
        fragment, TCP, for this host, a valid segment of a connection it has. These
        are the checks Node._accept, deliver and _tcp_received make, in their order,
        on the same bytes; when one fails (or a subclass or a new TCP handler changes
        delivery) the general path makes them again and logs what it finds.
        """
        if (
            type(data) is bytes
            and len(data) >= HEADER_SIZE
            and data[0] == 0x45
            and self.protocols.get(PROTOCOL_TCP) is self._tcp_handler
            and type(self).deliver is Node.deliver
            and type(self)._tcp_received is Host._tcp_received
        ):
            total_length, flags_offset, protocol, source_bytes, destination_bytes = (
                _DELIVERY_FIELDS.unpack_from(data)
            )
            if (
                total_length == len(data)
                and not flags_offset & _NOT_DELIVERED_AS_IS
                and protocol == PROTOCOL_TCP
                and internet_checksum(data[:HEADER_SIZE]) == 0
            ):
                destination = address_text(destination_bytes)
                if self.owns(destination):
                    source = address_text(source_bytes)
                    try:
                        segment = TcpSegment.decode(data[HEADER_SIZE:], source, destination)
                    except SegmentError:
                        segment = None
                    if segment is not None:
                        key = (destination, segment.dst_port, source, segment.src_port)
                        stream = self.tcp_connections.get(key)
                        if stream is not None:
                            stream.connection.segment_received(segment)
                            return
        super()._accept(data, interface_name)

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
        # The datagram's bytes (packet.encode()) are needed only to log a drop.
        try:
            datagram = UdpDatagram.decode(packet.payload, packet.source, packet.destination)
        except PacketError as exc:
            self.log.record(DROP, self.name, INSIDE, packet.encode(), f"malformed: {exc}")
            return
        sock = self.udp_ports.lookup(packet.destination, datagram.destination_port)
        if sock is None:
            data = packet.encode()
            reason = f"no socket on UDP port {datagram.destination_port} (port unreachable)"
            self.log.record(DROP, self.name, INSIDE, data, reason)
            self.send_icmp_error(packet, icmp.destination_unreachable(icmp.PORT_UNREACHABLE, data))
            return
        if not sock.deliver(datagram.payload, (packet.source, datagram.source_port)):
            reason = "the socket's receive queue is full"
            self.log.record(DROP, self.name, INSIDE, packet.encode(), reason)

    # --- ICMP errors ----------------------------------------------------------------

    def icmp_error_received(self, packet: IPv4Packet, message: icmp.IcmpMessage) -> None:
        """Tell the TCP connection an ICMP error is about (Linux's tcp_v4_err).

        The error quotes the start of our datagram: its addresses and ports name
        the connection, its sequence number a segment of it, which the
        connection checks before it believes the error (RFC 5927). "Fragmentation
        needed" teaches the connection the path MTU (RFC 1191); the other
        errors may end an attempt to connect (see TcpConnection.icmp_error).
        UDP sockets are not told, as Linux does not tell unconnected ones.
        """
        quote = icmp.Quote.of(message)
        if quote is None or quote.protocol != PROTOCOL_TCP:
            return
        source_port, destination_port, seq = _PORTS_AND_SEQUENCE.unpack(quote.transport)
        key = (
            address_text(quote.source),
            source_port,
            address_text(quote.destination),
            destination_port,
        )
        stream = self.tcp_connections.get(key)
        if stream is None:
            return
        detail = f"ICMP {message.description} from {packet.source}"
        unreachable = message.type == icmp.DESTINATION_UNREACHABLE
        if unreachable and message.code == icmp.FRAGMENTATION_NEEDED:
            mtu = message.next_hop_mtu
            # 0: a router older than RFC 1191, whose MTU is not guessed here.
            if mtu < MIN_PATH_MTU:
                return
            if stream.mtu_reduced(seq, mtu - IP_AND_TCP_HEADERS, f"{detail}, MTU {mtu}"):
                self._learn_path_mtu(stream, mtu)
            return
        error = message.socket_error
        if error is not None:
            stream.icmp_error(seq, error, detail, ends_half_open=message.ends_half_open)

    def path_mtu(self, peer: str) -> int | None:
        """The path MTU to ``peer`` that ICMP taught, if it is still remembered."""
        learnt = self._path_mtus.get(peer)
        if learnt is None:
            return None
        mtu, until = learnt
        if self.loop.time() >= until:
            del self._path_mtus[peer]
            return None
        return mtu

    def _learn_path_mtu(self, stream: SimStream, mtu: int) -> None:
        """Remember ``mtu`` for the path to ``stream``'s peer, as Linux does in the route:
        the other connections to that peer send no larger segment from now on, and
        new ones start with it."""
        peer = stream.peer_address[0]
        known = self.path_mtu(peer)
        if known is None or mtu < known:
            self._path_mtus[peer] = (mtu, self.loop.time() + PATH_MTU_EXPIRES)
        for other in self.tcp_connections.values():
            if other is not stream and other.peer_address[0] == peer:
                other.connection.limit_segment_size(mtu - IP_AND_TCP_HEADERS)

    def _use_path_mtu(self, stream: SimStream) -> None:
        """A new connection sends no segment larger than the path MTU learnt before."""
        mtu = self.path_mtu(stream.peer_address[0])
        if mtu is not None:
            stream.connection.limit_segment_size(mtu - IP_AND_TCP_HEADERS)

    # --- TCP ----------------------------------------------------------------------

    def listen_tcp(
        self, handler: StreamHandler, address: str, port: int, backlog: int
    ) -> TcpListeningSocket:
        """Listen on ``address:port`` (port 0: an ephemeral one); ``handler`` serves each stream.

        Raises OSError if the address is not this host's or the port is taken.
        """
        address = check_bind_address(self, address)
        listener = self.tcp_ports.bind(
            address, port, lambda local: TcpListeningSocket(self, local, handler, backlog)
        )
        assert isinstance(listener, TcpListeningSocket)
        return listener

    def open_tcp(self, address: str, port: int, local_address: str | None = None) -> SimStream:
        """A new connection to ``address:port`` from an ephemeral port, not yet opened.

        ``await stream.connect()`` sends the SYN. Raises OSError for an
        address that is not IPv4, or a destination without a route.
        """
        try:
            pack_address(address)
        except PacketError:
            raise OSError(errno.EAFNOSUPPORT, f"'{address}' is not an IPv4 address") from None
        if local_address is None or local_address == WILDCARD:
            source = self.source_address_for(address)
            if source is None:
                raise OSError(errno.ENETUNREACH, f"{self.name} has no route to {address}")
        else:
            source = check_bind_address(self, local_address)
        config = self.tcp_config_for(address)
        stream = self.tcp_ports.bind(
            source, 0, lambda local: SimStream(self, local, (address, port), config)
        )
        assert isinstance(stream, SimStream)
        self.tcp_connections[stream.key] = stream
        self._use_path_mtu(stream)
        return stream

    def tcp_config_for(self, peer: str) -> TcpConfig:
        """The host's TCP configuration, with the MSS that the route to ``peer`` allows."""
        mtu = LOOPBACK_MTU
        if not self.owns(peer):
            interface = self.route(peer)
            if interface is not None and interface.link is not None:
                mtu = interface.link.mtu
        # One frozen TcpConfig per MTU, made again if tcp_config is replaced.
        base = self.tcp_config
        if self._tcp_config_base is not base:
            self._tcp_configs.clear()
            self._tcp_config_base = base
        config = self._tcp_configs.get(mtu)
        if config is None:
            config = dataclasses.replace(base, mss=mtu - IP_AND_TCP_HEADERS)
            self._tcp_configs[mtu] = config
        return config

    def tcp_closed(self, stream: SimStream) -> None:
        """``stream``'s connection reached CLOSED: forget it and free its port."""
        if self.tcp_connections.get(stream.key) is stream:
            del self.tcp_connections[stream.key]
        if stream.listener is None:
            self.tcp_ports.release(stream.local_address, stream)
        elif not stream.established:
            stream.listener.half_open -= 1  # it never made it out of the backlog

    def _tcp_received(self, packet: IPv4Packet) -> None:
        try:
            segment = TcpSegment.decode(packet.payload, packet.source, packet.destination)
        except SegmentError as exc:
            self.log.record(DROP, self.name, INSIDE, packet.encode(), f"malformed: {exc}")
            return
        key = (packet.destination, segment.dst_port, packet.source, segment.src_port)
        stream = self.tcp_connections.get(key)
        if stream is not None:
            stream.connection.segment_received(segment)
            return
        sock = self.tcp_ports.lookup(packet.destination, segment.dst_port)
        if isinstance(sock, TcpListeningSocket) and not sock.closed:

            def spawn(syn: TcpSegment) -> TcpConnection | None:
                if sock.half_open >= sock.backlog:
                    return None  # the backlog is full: the SYN is ignored
                accepted = SimStream(
                    self,
                    (packet.destination, segment.dst_port),
                    (packet.source, segment.src_port),
                    self.tcp_config_for(packet.source),
                    listener=sock,
                )
                self.tcp_connections[key] = accepted
                self._use_path_mtu(accepted)
                sock.half_open += 1
                return accepted.connection

            reply = TcpListener(segment.dst_port, spawn).segment_received(segment)
        else:
            reason = f"no connection or listener on TCP port {segment.dst_port} (reset)"
            self.log.record(DROP, self.name, INSIDE, packet.encode(), reason)
            reply = reset_for(segment)
        if reply is not None:
            data = reply.encode(packet.destination, packet.source)
            self.send_ip(packet.destination, packet.source, PROTOCOL_TCP, data)
