"""IPv4 datagrams (RFC 791): the envelope every packet travels in.

Steps 1 to 3 of loading a page — the DNS question, the TCP connection, the
HTTP answer — all travel as IPv4 datagrams. A datagram is a 20-byte header
(more with options) followed by its payload: a UDP datagram, a TCP segment
or an ICMP message, named by the header's *protocol* number. The header says
where the datagram comes from and goes to, how many more routers it may cross
(*time to live*, TTL), whether it may be cut into fragments on the way (the
*don't fragment* flag, DF) and carries a checksum of the header itself.

The checksum is the *Internet checksum* of RFC 1071: the ones'-complement of
the ones'-complement sum of the 16-bit words. UDP and TCP use the same sum
over their own bytes plus a *pseudo-header* (source, destination, protocol,
length) borrowed from IP, so that a segment delivered to the wrong address is
caught too; :func:`tcp_checksum` and :func:`pseudo_header` serve them.

Decoding is strict: bytes that are not exactly one valid datagram raise
:class:`PacketError` saying what is wrong. The simulation never fragments
(TCP never relies on it), but the fragment fields are decoded faithfully.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

PROTOCOL_ICMP = 1
PROTOCOL_TCP = 6
PROTOCOL_UDP = 17
PROTOCOL_NAMES = {PROTOCOL_ICMP: "icmp", PROTOCOL_TCP: "tcp", PROTOCOL_UDP: "udp"}

HEADER_SIZE = 20
"""The size of a header without options, in bytes."""
DEFAULT_TTL = 64
"""The initial TTL Linux uses (RFC 1700 recommended 64 too)."""
MAX_DATAGRAM = 65535

_HEADER = struct.Struct("!BBHHHBBH4s4s")
_PSEUDO_TAIL = struct.Struct("!xBH")
_CHECKSUM = struct.Struct("!H")
_FLAG_DF = 0x4000
_FLAG_MF = 0x2000
_FLAG_RESERVED = 0x8000
_OFFSET_MASK = 0x1FFF


class PacketError(ValueError):
    """Bytes that are not a valid packet; the message says, in one sentence, why."""


def internet_checksum(data: bytes | bytearray) -> int:
    """The Internet checksum of ``data`` (RFC 1071).

    Sum the data as big-endian 16-bit words (an odd last byte is padded with
    a zero), fold the carries back into the low 16 bits, and complement. Over
    bytes that already contain a correct checksum the result is 0, which is
    how a receiver verifies it.

    Computed in one step: read as one big-endian integer, the data is
    ``sum(word * 2**(16 * k))``, and ``2**16 = 1 (mod 0xFFFF)``, so it leaves
    the same remainder modulo 0xFFFF as the sum of its words — which is what
    folding the carries keeps. The folded sum is 0 only for all-zero data,
    and 0xFFFF (not 0) for any other multiple of 0xFFFF.
    """
    if len(data) % 2:
        data += b"\x00"
    number = int.from_bytes(data, "big")
    folded = (number - 1) % 0xFFFF + 1 if number else 0
    return ~folded & 0xFFFF


_PACKED: dict[str, bytes] = {}
_TEXT: dict[bytes, str] = {}
_CACHE_LIMIT = 65536  # addresses remembered (a simulation uses few)


def pack_address(address: str) -> bytes:
    """The four bytes of a dotted-quad IPv4 address.

    Raises PacketError if ``address`` is not an IPv4 address.
    """
    try:
        packed = _PACKED.get(address)
    except TypeError:  # unhashable: not an address; IPv4Address says so below
        packed = None
    if packed is None:
        try:
            packed = ipaddress.IPv4Address(address).packed
        except ValueError:
            raise PacketError(f"'{address}' is not an IPv4 address") from None
        if type(address) is str and len(_PACKED) < _CACHE_LIMIT:
            _PACKED[address] = packed
    return packed


def address_text(packed: bytes) -> str:
    """The dotted-quad text of four address bytes (as ``str(IPv4Address(packed))``)."""
    text = _TEXT.get(packed)
    if text is None:
        text = str(ipaddress.IPv4Address(packed))
        if len(_TEXT) < _CACHE_LIMIT:
            _TEXT[packed] = text
    return text


def addresses(data: bytes) -> tuple[str, str] | None:
    """Who sent the datagram ``data`` to whom: its source and destination addresses.

    Read straight from the header (bytes 12–19) without decoding the rest, so
    a view can sort thousands of captured packets by their ends cheaply. None
    if ``data`` does not start with an IPv4 header.
    """
    if len(data) < HEADER_SIZE or data[0] >> 4 != 4:
        return None
    return address_text(data[12:16]), address_text(data[16:20])


def pseudo_header(source: str, destination: str, protocol: int, length: int) -> bytes:
    """The 12-byte IPv4 pseudo-header UDP and TCP include in their checksums.

    Source and destination addresses, a zero byte, the protocol number and
    the length of the UDP datagram or TCP segment (RFC 768, RFC 9293 §3.1).
    """
    return pack_address(source) + pack_address(destination) + _PSEUDO_TAIL.pack(protocol, length)


_ADDRESS_VALUE: dict[str, int] = {}


def pseudo_header_sum(source: str, destination: str, protocol: int, length: int) -> int:
    """A number congruent to ``int.from_bytes(pseudo_header(...), "big")`` modulo 0xFFFF.

    The Internet checksum only needs its bytes' value modulo 0xFFFF, and in that
    sum each 16-bit-aligned piece counts as its own value (``2**16 = 1``): the two
    addresses, the protocol and the length. Raises PacketError as pack_address does.
    """
    value = _ADDRESS_VALUE.get(source)
    if value is None:
        value = int.from_bytes(pack_address(source), "big")
        if len(_ADDRESS_VALUE) < _CACHE_LIMIT:
            _ADDRESS_VALUE[source] = value
    other = _ADDRESS_VALUE.get(destination)
    if other is None:
        other = int.from_bytes(pack_address(destination), "big")
        if len(_ADDRESS_VALUE) < _CACHE_LIMIT:
            _ADDRESS_VALUE[destination] = other
    return value + other + protocol + length


def tcp_checksum(src_ip: str, dst_ip: str, segment_bytes: bytes) -> int:
    """The TCP checksum of ``segment_bytes`` sent from ``src_ip`` to ``dst_ip`` (RFC 9293 §3.1).

    To *compute* it, pass the segment with its checksum field (bytes 16–17)
    set to zero and store the result there. To *verify* a received segment,
    pass it as it is: the result is 0 exactly when its checksum is right.
    """
    return internet_checksum(
        pseudo_header(src_ip, dst_ip, PROTOCOL_TCP, len(segment_bytes)) + segment_bytes
    )


@dataclass(frozen=True, slots=True)
class IPv4Packet:
    """One IPv4 datagram: its header fields and its payload.

    ``total_length`` and the header checksum are not fields: :meth:`encode`
    computes them, and :meth:`decode` checks them.
    """

    source: str
    destination: str
    protocol: int
    payload: bytes
    ttl: int = DEFAULT_TTL
    identification: int = 0
    dont_fragment: bool = True
    more_fragments: bool = False
    fragment_offset: int = 0  # in units of 8 bytes
    tos: int = 0  # DSCP and ECN bits (RFC 2474, RFC 3168)
    options: bytes = b""

    @property
    def header_size(self) -> int:
        return HEADER_SIZE + len(self.options)

    @property
    def total_length(self) -> int:
        """The size of the whole datagram, header and payload, in bytes."""
        return self.header_size + len(self.payload)

    @property
    def protocol_name(self) -> str:
        """ "udp", "tcp", "icmp", or the protocol number as text."""
        return PROTOCOL_NAMES.get(self.protocol, str(self.protocol))

    def encode(self) -> bytes:
        """The datagram's bytes, with total length and header checksum filled in.

        Raises PacketError if a field is out of range.
        """
        if len(self.options) % 4 or len(self.options) > 40:
            raise PacketError("IPv4 options must be a multiple of 4 bytes, at most 40")
        if self.total_length > MAX_DATAGRAM:
            raise PacketError(f"an IPv4 datagram holds at most {MAX_DATAGRAM} bytes")
        ttl, protocol, identification = self.ttl, self.protocol, self.identification
        fragment_offset, tos = self.fragment_offset, self.tos
        if not (
            0 <= ttl <= 0xFF
            and 0 <= protocol <= 0xFF
            and 0 <= identification <= 0xFFFF
            and 0 <= fragment_offset <= _OFFSET_MASK
            and 0 <= tos <= 0xFF
        ):
            for name, value, limit in (
                ("TTL", ttl, 0xFF),
                ("protocol", protocol, 0xFF),
                ("identification", identification, 0xFFFF),
                ("fragment offset", fragment_offset, _OFFSET_MASK),
                ("TOS", tos, 0xFF),
            ):
                if not 0 <= value <= limit:
                    raise PacketError(f"the IPv4 {name} must be between 0 and {limit}, not {value}")
        flags = (_FLAG_DF if self.dont_fragment else 0) | (_FLAG_MF if self.more_fragments else 0)
        header = (
            _HEADER.pack(
                (4 << 4) | (self.header_size // 4),
                tos,
                self.total_length,
                identification,
                flags | fragment_offset,
                ttl,
                protocol,
                0,
                pack_address(self.source),
                pack_address(self.destination),
            )
            + self.options
        )
        checksum = _CHECKSUM.pack(internet_checksum(header))
        return header[:10] + checksum + header[12:] + self.payload

    @classmethod
    def decode(cls, data: bytes) -> IPv4Packet:
        """The datagram in ``data``, which must hold exactly one.

        Raises PacketError if ``data`` is not a well-formed IPv4 datagram:
        too short, another IP version, a bad header length, a total length
        that disagrees with the bytes given, a reserved flag set, or a wrong
        header checksum.
        """
        if len(data) < HEADER_SIZE:
            raise PacketError(
                f"{len(data)} bytes are too few for an IPv4 header ({HEADER_SIZE} at least)"
            )
        (
            version_ihl,
            tos,
            total_length,
            identification,
            flags_offset,
            ttl,
            protocol,
            _checksum,
            source,
            destination,
        ) = _HEADER.unpack_from(data)
        version, header_size = version_ihl >> 4, (version_ihl & 0x0F) * 4
        if version != 4:
            raise PacketError(f"the IP version is {version}, not 4")
        if header_size < HEADER_SIZE:
            raise PacketError(f"the IPv4 header length is {header_size} bytes, less than 20")
        if header_size > len(data) or total_length < header_size:
            raise PacketError(
                f"the IPv4 header length ({header_size}) does not fit the datagram "
                f"({total_length} bytes)"
            )
        if total_length != len(data):
            raise PacketError(
                f"the IPv4 total length says {total_length} bytes but {len(data)} were given"
            )
        if flags_offset & _FLAG_RESERVED:
            raise PacketError("the reserved IPv4 flag bit is set")
        if internet_checksum(data[:header_size]) != 0:
            raise PacketError("the IPv4 header checksum is wrong")
        if cls is IPv4Packet:
            # The same packet as cls(...) below, with its slots set directly: a frozen
            # dataclass's __init__ goes through object.__setattr__, field by field, and
            # every datagram that arrives anywhere is decoded here.
            payload = data[header_size:]
            options = data[HEADER_SIZE:header_size]
            packet = _new(IPv4Packet)
            (
                set_source,
                set_destination,
                set_protocol,
                set_payload,
                set_ttl,
                set_identification,
                set_dont_fragment,
                set_more_fragments,
                set_fragment_offset,
                set_tos,
                set_options,
            ) = _SET_FIELDS
            set_source(packet, address_text(source))
            set_destination(packet, address_text(destination))
            set_protocol(packet, protocol)
            set_payload(packet, payload if type(payload) is bytes else bytes(payload))
            set_ttl(packet, ttl)
            set_identification(packet, identification)
            set_dont_fragment(packet, bool(flags_offset & _FLAG_DF))
            set_more_fragments(packet, bool(flags_offset & _FLAG_MF))
            set_fragment_offset(packet, flags_offset & _OFFSET_MASK)
            set_tos(packet, tos)
            set_options(packet, options if type(options) is bytes else bytes(options))
            return packet
        return cls(
            source=address_text(source),
            destination=address_text(destination),
            protocol=protocol,
            payload=bytes(data[header_size:]),
            ttl=ttl,
            identification=identification,
            dont_fragment=bool(flags_offset & _FLAG_DF),
            more_fragments=bool(flags_offset & _FLAG_MF),
            fragment_offset=flags_offset & _OFFSET_MASK,
            tos=tos,
            options=bytes(data[HEADER_SIZE:header_size]),
        )


_new = object.__new__
_SET_FIELDS = tuple(
    getattr(IPv4Packet, field).__set__
    for field in (
        "source",
        "destination",
        "protocol",
        "payload",
        "ttl",
        "identification",
        "dont_fragment",
        "more_fragments",
        "fragment_offset",
        "tos",
        "options",
    )
)


def encode_datagram(
    source: str,
    destination: str,
    protocol: int,
    payload: bytes,
    ttl: int,
    identification: int,
    dont_fragment: bool,
) -> bytes:
    """``IPv4Packet(source, destination, protocol, payload, ttl=..., identification=...,
    dont_fragment=...).encode()``: the same bytes, without making the packet object.

    For what every host sends (no options, no fragment); anything out of range goes
    through :meth:`IPv4Packet.encode`, which raises the same PacketError as before.
    """
    total_length = HEADER_SIZE + len(payload)
    if not (
        total_length <= MAX_DATAGRAM
        and 0 <= ttl <= 0xFF
        and 0 <= protocol <= 0xFF
        and 0 <= identification <= 0xFFFF
    ):
        return IPv4Packet(
            source,
            destination,
            protocol,
            payload,
            ttl=ttl,
            identification=identification,
            dont_fragment=dont_fragment,
        ).encode()
    header = _HEADER.pack(
        0x45,
        0,
        total_length,
        identification,
        _FLAG_DF if dont_fragment else 0,
        ttl,
        protocol,
        0,
        pack_address(source),
        pack_address(destination),
    )
    return header[:10] + _CHECKSUM.pack(internet_checksum(header)) + header[12:] + payload
