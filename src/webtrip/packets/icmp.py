"""ICMP messages (RFC 792): how the network tells a sender what went wrong.

IP itself never reports errors; ICMP, carried inside IP (protocol 1), does.
A router whose packet has used up its TTL sends *time exceeded* (that is how
``traceroute`` maps a path); a host with no program on a UDP port sends
*destination unreachable / port unreachable*; a router that must forward a
packet too large for the next link, marked "don't fragment", sends
*destination unreachable / fragmentation needed* with the next link's MTU
(RFC 1191: how TCP learns the path MTU). *Echo request* and *echo reply* are
``ping``.

Every message is a type, a code, a checksum over the message (RFC 1071), four
bytes whose meaning depends on the type, and a body. An error's body quotes
the start of the datagram that caused it — its IP header and at least the
first 8 bytes of its payload (RFC 792), here as much as fits in 576 bytes
(RFC 1812 §4.3.2.3) — so that the sender can tell which of its packets, and
which socket, the error is about.
"""

from __future__ import annotations

import errno
import struct
from dataclasses import dataclass

from webtrip.packets.ipv4 import PacketError, internet_checksum

ECHO_REPLY = 0
DESTINATION_UNREACHABLE = 3
ECHO_REQUEST = 8
TIME_EXCEEDED = 11

# Codes of DESTINATION_UNREACHABLE.
NET_UNREACHABLE = 0
HOST_UNREACHABLE = 1
PROTOCOL_UNREACHABLE = 2
PORT_UNREACHABLE = 3
FRAGMENTATION_NEEDED = 4
NET_PROHIBITED = 9  # RFC 1122: communication with the network administratively prohibited
HOST_PROHIBITED = 10
COMMUNICATION_PROHIBITED = 13  # RFC 1812: a filter ("admin prohibited")
# Code of TIME_EXCEEDED.
TTL_EXCEEDED_IN_TRANSIT = 0

ERROR_TYPES = frozenset({DESTINATION_UNREACHABLE, TIME_EXCEEDED})
"""Types that report an error; no error is ever sent about one of these (RFC 1122 §3.2.2)."""

_UNREACHABLE = {
    # code: (what it says, the errno a socket reports) — Linux's icmp_err_convert.
    NET_UNREACHABLE: ("net unreachable", errno.ENETUNREACH),
    HOST_UNREACHABLE: ("host unreachable", errno.EHOSTUNREACH),
    PROTOCOL_UNREACHABLE: ("protocol unreachable", errno.ENOPROTOOPT),
    PORT_UNREACHABLE: ("port unreachable", errno.ECONNREFUSED),
    FRAGMENTATION_NEEDED: ("fragmentation needed", errno.EMSGSIZE),
    5: ("source route failed", errno.EOPNOTSUPP),
    6: ("destination network unknown", errno.ENETUNREACH),
    7: ("destination host unknown", errno.EHOSTDOWN),
    8: ("source host isolated", errno.ENONET),
    NET_PROHIBITED: ("network administratively prohibited", errno.ENETUNREACH),
    HOST_PROHIBITED: ("host administratively prohibited", errno.EHOSTUNREACH),
    11: ("net unreachable for TOS", errno.ENETUNREACH),
    12: ("host unreachable for TOS", errno.EHOSTUNREACH),
    COMMUNICATION_PROHIBITED: ("communication administratively prohibited", errno.EHOSTUNREACH),
    14: ("host precedence violation", errno.EHOSTUNREACH),
    15: ("precedence cutoff in effect", errno.EHOSTUNREACH),
}

HEADER_SIZE = 8
_HEADER = struct.Struct("!BBH4s")
# An ICMP error, with its IP header, fits in the 576 bytes every host accepts.
_MAX_QUOTE = 576 - 20 - HEADER_SIZE
_MIN_QUOTE = 20 + 8


@dataclass(frozen=True, slots=True)
class IcmpMessage:
    """One ICMP message. ``rest`` is the 4 bytes after the checksum."""

    type: int
    code: int
    rest: bytes = bytes(4)
    body: bytes = b""

    @property
    def is_error(self) -> bool:
        return self.type in ERROR_TYPES

    @property
    def identifier(self) -> int:
        """An echo's identifier (the first half of ``rest``)."""
        return int.from_bytes(self.rest[:2], "big")

    @property
    def sequence(self) -> int:
        """An echo's sequence number (the second half of ``rest``)."""
        return int.from_bytes(self.rest[2:], "big")

    @property
    def description(self) -> str:
        """What an error says, in words: "net unreachable", "time exceeded"..."""
        if self.type == DESTINATION_UNREACHABLE:
            known = _UNREACHABLE.get(self.code)
            return known[0] if known else f"destination unreachable (code {self.code})"
        if self.type == TIME_EXCEEDED:
            return "time exceeded"
        return f"type {self.type} code {self.code}"

    @property
    def socket_error(self) -> int | None:
        """The errno a socket reports for this error, as Linux's (None: not an error it knows).

        Time exceeded is EHOSTUNREACH, as Linux's tcp_v4_err makes it.
        """
        if self.type == DESTINATION_UNREACHABLE:
            known = _UNREACHABLE.get(self.code)
            return known[1] if known else None
        if self.type == TIME_EXCEEDED:
            return errno.EHOSTUNREACH
        return None

    @property
    def ends_half_open(self) -> bool:
        """Does this error end a half-open passive connection (a SYN answered, no ACK
        yet)? As Linux's tcp_req_err is told: net or host unreachable, time exceeded —
        not an administrative filter, nor an unknown network or host."""
        if self.type == DESTINATION_UNREACHABLE:
            return self.code in (NET_UNREACHABLE, HOST_UNREACHABLE)
        return self.type == TIME_EXCEEDED

    @property
    def next_hop_mtu(self) -> int:
        """The MTU a "fragmentation needed" message reports (RFC 1191)."""
        return int.from_bytes(self.rest[2:], "big")

    def encode(self) -> bytes:
        """The message's bytes with the checksum filled in.

        Raises PacketError if a field is out of range.
        """
        if not (0 <= self.type <= 0xFF and 0 <= self.code <= 0xFF):
            raise PacketError("an ICMP type and code are each one byte")
        if len(self.rest) != 4:
            raise PacketError("the ICMP rest-of-header is exactly 4 bytes")
        unsummed = _HEADER.pack(self.type, self.code, 0, self.rest) + self.body
        checksum = internet_checksum(unsummed)
        return _HEADER.pack(self.type, self.code, checksum, self.rest) + self.body

    @classmethod
    def decode(cls, data: bytes) -> IcmpMessage:
        """The message in ``data``.

        Raises PacketError if it is shorter than the 8-byte header, its
        checksum is wrong, or an error message quotes less than an IP header
        and 8 bytes.
        """
        if len(data) < HEADER_SIZE:
            raise PacketError(f"{len(data)} bytes are too few for an ICMP header (8)")
        if internet_checksum(data) != 0:
            raise PacketError("the ICMP checksum is wrong")
        type_, code, _checksum, rest = _HEADER.unpack_from(data)
        body = bytes(data[HEADER_SIZE:])
        if type_ in ERROR_TYPES and len(body) < _MIN_QUOTE:
            raise PacketError(
                f"an ICMP error must quote an IP header and 8 bytes, not {len(body)} bytes"
            )
        return cls(type_, code, rest, body)


@dataclass(frozen=True, slots=True)
class Quote:
    """What an ICMP error quotes of the datagram it is about: who sent it, to whom, and
    the first 8 bytes of its transport header (ports, and TCP's sequence number)."""

    protocol: int
    source: bytes
    destination: bytes
    transport: bytes

    @classmethod
    def of(cls, message: IcmpMessage) -> Quote | None:
        """The quote in an error ``message``; None if it is not an IPv4 header and 8 bytes."""
        body = message.body
        if not message.is_error or len(body) < _MIN_QUOTE or body[0] >> 4 != 4:
            return None
        header_size = (body[0] & 0x0F) * 4
        if header_size < 20 or len(body) < header_size + 8:
            return None
        return cls(body[9], body[12:16], body[16:20], body[header_size : header_size + 8])


def quote(original: bytes) -> bytes:
    """The part of ``original`` (a whole IPv4 datagram) an ICMP error carries."""
    return original[:_MAX_QUOTE]


def echo_request(identifier: int, sequence: int, data: bytes = b"") -> IcmpMessage:
    """A ping."""
    return IcmpMessage(ECHO_REQUEST, 0, struct.pack("!HH", identifier, sequence), data)


def echo_reply(request: IcmpMessage) -> IcmpMessage:
    """The answer to ``request``: the same identifier, sequence and data."""
    return IcmpMessage(ECHO_REPLY, 0, request.rest, request.body)


def destination_unreachable(code: int, original: bytes, next_hop_mtu: int = 0) -> IcmpMessage:
    """ "Cannot deliver ``original``": which of the codes above says why.

    ``next_hop_mtu`` goes with FRAGMENTATION_NEEDED (RFC 1191).
    """
    return IcmpMessage(
        DESTINATION_UNREACHABLE, code, struct.pack("!HH", 0, next_hop_mtu), quote(original)
    )


def time_exceeded(original: bytes) -> IcmpMessage:
    """ "``original`` ran out of TTL on the way" (what ``traceroute`` listens for)."""
    return IcmpMessage(TIME_EXCEEDED, TTL_EXCEEDED_IN_TRANSIT, bytes(4), quote(original))
