"""UDP datagrams (RFC 768): how a DNS question and its answer travel (step 1).

UDP adds almost nothing to IP: two port numbers, so that a datagram reaches
one program on the destination host and the answer can find its way back; a
length; and a checksum over the datagram plus the IPv4 pseudo-header. There
is no connection, no retransmission and no ordering: a lost datagram is lost,
and it is the DNS client's timeout that notices.

A checksum that computes to 0 is sent as 0xFFFF (the same number in ones'
complement), because 0 in the field means "no checksum" (RFC 768).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from webtrip.packets.ipv4 import PROTOCOL_UDP, PacketError, internet_checksum, pseudo_header

HEADER_SIZE = 8

_HEADER = struct.Struct("!HHHH")


@dataclass(frozen=True, slots=True)
class UdpDatagram:
    """One UDP datagram: ports and payload (length and checksum are computed)."""

    source_port: int
    destination_port: int
    payload: bytes

    def encode(self, source_ip: str, destination_ip: str) -> bytes:
        """The datagram's bytes, checksummed for travel from ``source_ip`` to ``destination_ip``.

        Raises PacketError if a port is out of range or the payload too large.
        """
        for name, port in (("source", self.source_port), ("destination", self.destination_port)):
            if not 0 <= port <= 0xFFFF:
                raise PacketError(f"the UDP {name} port must be between 0 and 65535, not {port}")
        length = HEADER_SIZE + len(self.payload)
        if length > 0xFFFF:
            raise PacketError(f"a UDP payload holds at most {0xFFFF - HEADER_SIZE} bytes")
        header = _HEADER.pack(self.source_port, self.destination_port, length, 0)
        checksum = internet_checksum(
            pseudo_header(source_ip, destination_ip, PROTOCOL_UDP, length) + header + self.payload
        )
        header = _HEADER.pack(self.source_port, self.destination_port, length, checksum or 0xFFFF)
        return header + self.payload

    @classmethod
    def decode(cls, data: bytes, source_ip: str, destination_ip: str) -> UdpDatagram:
        """The datagram in ``data`` (an IPv4 payload from ``source_ip`` to ``destination_ip``).

        Raises PacketError if it is shorter than its header, its length field
        disagrees with the bytes given, or its checksum is wrong.
        """
        if len(data) < HEADER_SIZE:
            raise PacketError(f"{len(data)} bytes are too few for a UDP header (8)")
        source_port, destination_port, length, checksum = _HEADER.unpack_from(data)
        if length != len(data):
            raise PacketError(f"the UDP length says {length} bytes but {len(data)} were given")
        if checksum != 0:
            pseudo = pseudo_header(source_ip, destination_ip, PROTOCOL_UDP, length)
            if internet_checksum(pseudo + data) != 0:
                raise PacketError("the UDP checksum is wrong")
        return cls(source_port, destination_port, bytes(data[HEADER_SIZE:]))
