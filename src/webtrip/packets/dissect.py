"""Taking a packet apart, layer by layer — what Wireshark's dissectors do.

A packet on a simulated wire is only bytes: an IPv4 datagram whose payload is
a UDP datagram, a TCP segment or an ICMP message (see :mod:`ipv4`,
:mod:`udp`, :mod:`icmp`). :func:`dissect` decodes every layer at once into a
:class:`Packet`, checking every length and checksum, so that the rest of the
simulation can ask "is this a SYN to port 80?" without re-parsing.

:class:`Match` is the small language for such questions, used by a link's
targeted faults ("drop the 3rd TCP segment from port 80") and by tests; any
function from :class:`Packet` to bool works in its place.

Only the TCP header fields a filter needs are read by :func:`dissect`;
:func:`header_fields` lists every field of every layer, for a view's packet
details; :func:`field_layers` the same with each field's byte offsets, for a hex
view that highlights the bytes of the field chosen. TCP's behaviour lives in
:mod:`webtrip.netsim.tcp`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Collection
from dataclasses import dataclass

from webtrip.packets.icmp import IcmpMessage
from webtrip.packets.ipv4 import (
    PROTOCOL_ICMP,
    PROTOCOL_TCP,
    PROTOCOL_UDP,
    IPv4Packet,
    PacketError,
    tcp_checksum,
)
from webtrip.packets.tcp_segment import TcpSegment
from webtrip.packets.udp import UdpDatagram

__all__ = [
    "TCP_FLAG_NAMES",
    "FieldAt",
    "LayerAt",
    "Match",
    "Packet",
    "PacketError",
    "PacketFilter",
    "dissect",
    "field_layers",
    "header_fields",
    "tcp_checksum",
]

TCP_FLAG_NAMES = ("FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR")
"""TCP's flag bits, lowest first (RFC 9293 §3.1, RFC 3168)."""

_TCP_HEADER = struct.Struct("!HHIIBB")
_TCP_MIN_HEADER = 20


@dataclass(frozen=True, slots=True)
class TcpHeaderView:
    """The TCP header fields a filter or a log line needs (not the options)."""

    source_port: int
    destination_port: int
    sequence: int
    acknowledgment: int
    flags: tuple[str, ...]  # set flags, in TCP_FLAG_NAMES order
    payload_size: int


@dataclass(frozen=True, slots=True)
class Packet:
    """One IPv4 datagram, decoded through its transport layer."""

    ip: IPv4Packet
    udp: UdpDatagram | None = None
    tcp: TcpHeaderView | None = None
    icmp: IcmpMessage | None = None

    @property
    def protocol(self) -> str:
        """ "udp", "tcp", "icmp", or the IP protocol number as text."""
        return self.ip.protocol_name

    @property
    def source_port(self) -> int | None:
        transport = self.udp or self.tcp
        return transport.source_port if transport is not None else None

    @property
    def destination_port(self) -> int | None:
        transport = self.udp or self.tcp
        return transport.destination_port if transport is not None else None

    @property
    def tcp_flags(self) -> tuple[str, ...]:
        return self.tcp.flags if self.tcp is not None else ()

    @property
    def payload_size(self) -> int:
        """The application's bytes in a UDP datagram or TCP segment (0 otherwise)."""
        if self.udp is not None:
            return len(self.udp.payload)
        return self.tcp.payload_size if self.tcp is not None else 0

    @property
    def size(self) -> int:
        """The datagram's size on the wire, in bytes."""
        return self.ip.total_length

    def summary(self) -> str:
        """One line, like ``10.0.0.1:49152 > 10.0.0.2:53 udp 45 bytes``."""
        ip = self.ip
        if self.source_port is not None:
            where = f"{ip.source}:{self.source_port} > {ip.destination}:{self.destination_port}"
        else:
            where = f"{ip.source} > {ip.destination}"
        detail = ""
        if self.tcp is not None:
            detail = f" [{','.join(self.tcp.flags)}] seq={self.tcp.sequence}"
        elif self.icmp is not None:
            detail = f" type={self.icmp.type} code={self.icmp.code}"
        return f"{where} {self.protocol}{detail} {self.size} bytes"


def dissect(data: bytes) -> Packet:
    """Decode ``data`` as an IPv4 datagram and its UDP, TCP or ICMP payload.

    Raises PacketError (saying which layer is wrong and why) if any layer is
    malformed or fails its checksum. Other protocols are kept undecoded.
    """
    ip = IPv4Packet.decode(data)
    if ip.more_fragments or ip.fragment_offset:
        return Packet(ip)  # a fragment: its payload is not a whole transport message
    if ip.protocol == PROTOCOL_UDP:
        return Packet(ip, udp=UdpDatagram.decode(ip.payload, ip.source, ip.destination))
    if ip.protocol == PROTOCOL_TCP:
        return Packet(ip, tcp=_tcp_header(ip))
    if ip.protocol == PROTOCOL_ICMP:
        return Packet(ip, icmp=IcmpMessage.decode(ip.payload))
    return Packet(ip)


def _tcp_header(ip: IPv4Packet) -> TcpHeaderView:
    segment = ip.payload
    if len(segment) < _TCP_MIN_HEADER:
        raise PacketError(f"{len(segment)} bytes are too few for a TCP header (20)")
    source_port, destination_port, sequence, acknowledgment, offset, flag_bits = (
        _TCP_HEADER.unpack_from(segment)
    )
    header_size = (offset >> 4) * 4
    if not _TCP_MIN_HEADER <= header_size <= len(segment):
        raise PacketError(f"the TCP data offset ({header_size} bytes) does not fit the segment")
    if tcp_checksum(ip.source, ip.destination, segment) != 0:
        raise PacketError("the TCP checksum is wrong")
    flags = tuple(name for bit, name in enumerate(TCP_FLAG_NAMES) if flag_bits & (1 << bit))
    return TcpHeaderView(
        source_port, destination_port, sequence, acknowledgment, flags, len(segment) - header_size
    )


PacketFilter = Callable[[Packet], bool]
"""Anything that says yes or no to a packet; :class:`Match` is the usual one."""


@dataclass(frozen=True, slots=True)
class Match:
    """A packet filter: every field given must match (None matches anything).

    ``port`` matches either port; ``tcp_flags`` are flags that must all be
    set (``("SYN",)`` matches SYN and SYN-ACK); ``with_payload`` asks for
    UDP/TCP data (True) or none (False, e.g. a pure ACK).
    """

    protocol: str | None = None
    source: str | None = None
    destination: str | None = None
    source_port: int | None = None
    destination_port: int | None = None
    port: int | None = None
    tcp_flags: Collection[str] = ()
    with_payload: bool | None = None

    def __call__(self, packet: Packet) -> bool:
        checks = (
            (self.protocol, packet.protocol),
            (self.source, packet.ip.source),
            (self.destination, packet.ip.destination),
            (self.source_port, packet.source_port),
            (self.destination_port, packet.destination_port),
        )
        if any(wanted is not None and wanted != actual for wanted, actual in checks):
            return False
        if self.port is not None and self.port not in (
            packet.source_port,
            packet.destination_port,
        ):
            return False
        if not all(flag in packet.tcp_flags for flag in self.tcp_flags):
            return False
        return self.with_payload is None or (packet.payload_size > 0) == self.with_payload


def header_fields(data: bytes) -> list[tuple[str, str]]:
    """The header fields of every layer of ``data``, named, as a packet-details pane lists them.

    A layer that cannot be decoded ends the list with an ``error`` row saying why.
    """
    try:
        packet = dissect(data)
    except ValueError as exc:
        return [("error", str(exc))]
    ip = packet.ip
    fields = [
        ("IP version", "4"),
        ("IP header length", str(ip.header_size)),
        ("IP total length", str(len(data))),
        ("IP identification", f"0x{ip.identification:04x}"),
        ("IP don't fragment", str(ip.dont_fragment)),
        ("IP TTL", str(ip.ttl)),
        ("IP protocol", f"{ip.protocol} ({packet.protocol})"),
        ("IP source", ip.source),
        ("IP destination", ip.destination),
    ]
    if packet.udp is not None:
        udp = packet.udp
        fields += [
            ("UDP source port", str(udp.source_port)),
            ("UDP destination port", str(udp.destination_port)),
            ("UDP length", str(8 + len(udp.payload))),
        ]
    elif packet.tcp is not None:
        try:
            segment = TcpSegment.decode(ip.payload, ip.source, ip.destination)
        except ValueError as exc:
            return [*fields, ("TCP error", str(exc))]
        fields += [
            ("TCP source port", str(segment.src_port)),
            ("TCP destination port", str(segment.dst_port)),
            ("TCP sequence number", str(segment.seq)),
            ("TCP acknowledgment number", str(segment.ack)),
            ("TCP flags", ", ".join(packet.tcp.flags) or "-"),
            ("TCP window", str(segment.window)),
            ("TCP payload length", str(len(segment.payload))),
        ]
        if segment.mss:
            fields.append(("TCP MSS option", str(segment.mss)))
    elif packet.icmp is not None:
        fields += [("ICMP type", str(packet.icmp.type)), ("ICMP code", str(packet.icmp.code))]
    return fields


@dataclass(frozen=True, slots=True)
class FieldAt:
    """One header field with where its bytes are: ``data[start:end]`` (for a field of a
    few bits, the bytes that hold them). ``key`` is Wireshark's field name (``ip.ttl``)."""

    key: str
    value: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class LayerAt:
    """One layer of a packet (``IPv4``, ``UDP``, ``TCP``, ``ICMP``) and its fields."""

    name: str
    fields: tuple[FieldAt, ...]
    start: int
    end: int  # where its header ends: its payload starts there


def field_layers(data: bytes) -> list[LayerAt]:
    """The layers of ``data`` (an IPv4 datagram), each field with its byte offsets, as a
    packet-details pane highlights them in the hex. What :func:`dissect` cannot decode
    gives the layers decoded before it (none if the IP header itself is wrong)."""
    try:
        packet = dissect(data)
    except ValueError:
        return []
    ip = packet.ip
    size = ip.header_size
    frag = struct.unpack_from("!H", data, 6)[0]
    ip_fields = [
        FieldAt("ip.version", "4", 0, 1),
        FieldAt("ip.hdr_len", str(size), 0, 1),
        FieldAt("ip.dsfield", f"0x{data[1]:02x}", 1, 2),
        FieldAt("ip.len", str(ip.total_length), 2, 4),
        FieldAt("ip.id", f"0x{ip.identification:04x}", 4, 6),
        FieldAt("ip.flags.df", "1" if ip.dont_fragment else "0", 6, 7),
        FieldAt("ip.flags.mf", "1" if ip.more_fragments else "0", 6, 7),
        FieldAt("ip.frag_offset", str((frag & 0x1FFF) * 8), 6, 8),
        FieldAt("ip.ttl", str(ip.ttl), 8, 9),
        FieldAt("ip.proto", f"{ip.protocol} ({packet.protocol})", 9, 10),
        FieldAt("ip.checksum", f"0x{struct.unpack_from('!H', data, 10)[0]:04x}", 10, 12),
        FieldAt("ip.src", ip.source, 12, 16),
        FieldAt("ip.dst", ip.destination, 16, 20),
    ]
    layers = [LayerAt("IPv4", tuple(ip_fields), 0, size)]
    o = size
    if packet.udp is not None:
        udp = packet.udp
        layers.append(LayerAt("UDP", (
            FieldAt("udp.srcport", str(udp.source_port), o, o + 2),
            FieldAt("udp.dstport", str(udp.destination_port), o + 2, o + 4),
            FieldAt("udp.length", str(8 + len(udp.payload)), o + 4, o + 6),
            FieldAt("udp.checksum", f"0x{struct.unpack_from('!H', data, o + 6)[0]:04x}", o + 6,
                    o + 8),
        ), o, o + 8))  # fmt: skip
    elif packet.tcp is not None:
        tcp = packet.tcp
        header = (data[o + 12] >> 4) * 4
        window, checksum, urgent = struct.unpack_from("!HHH", data, o + 14)
        fields = [
            FieldAt("tcp.srcport", str(tcp.source_port), o, o + 2),
            FieldAt("tcp.dstport", str(tcp.destination_port), o + 2, o + 4),
            FieldAt("tcp.seq_raw", str(tcp.sequence), o + 4, o + 8),
            FieldAt("tcp.ack_raw", str(tcp.acknowledgment), o + 8, o + 12),
            FieldAt("tcp.hdr_len", str(header), o + 12, o + 13),
            FieldAt("tcp.flags", ", ".join(tcp.flags) or "-", o + 12, o + 14),
            FieldAt("tcp.window_size_value", str(window), o + 14, o + 16),
            FieldAt("tcp.checksum", f"0x{checksum:04x}", o + 16, o + 18),
            FieldAt("tcp.urgent_pointer", str(urgent), o + 18, o + 20),
        ]
        if header > _TCP_MIN_HEADER:
            fields.append(FieldAt("tcp.options", data[o + 20 : o + header].hex(" "), o + 20,
                                  o + header))  # fmt: skip
        fields.append(FieldAt("tcp.len", str(tcp.payload_size), o + header, len(data)))
        layers.append(LayerAt("TCP", tuple(fields), o, o + header))
    elif packet.icmp is not None:
        layers.append(LayerAt("ICMP", (
            FieldAt("icmp.type", str(packet.icmp.type), o, o + 1),
            FieldAt("icmp.code", str(packet.icmp.code), o + 1, o + 2),
            FieldAt("icmp.checksum", f"0x{struct.unpack_from('!H', data, o + 2)[0]:04x}", o + 2,
                    o + 4),
        ), o, o + 4))  # fmt: skip
    return layers
