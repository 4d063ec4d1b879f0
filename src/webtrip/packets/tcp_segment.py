"""The TCP segment: its header fields and their exact bytes on the wire (RFC 9293 §3.1).

Step 2 of a page load — "open a TCP connection and send the request" — travels
as TCP segments inside IPv4 packets. This module only turns a segment into
bytes and bytes back into a segment; what the fields *mean* to a connection is
the business of :mod:`webtrip.netsim.tcp`. The layout, 32 bits a row::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |          Source Port          |       Destination Port        |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                        Sequence Number                        |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                    Acknowledgment Number                      |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |  Data |       |C|E|U|A|P|R|S|F|                               |
    | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
    |       |       |R|E|G|K|H|T|N|N|                               |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |           Checksum            |         Urgent Pointer        |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                    Options (MSS, window scale, ...)           |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                             Data                              |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

The checksum covers a *pseudo-header* too — source and destination IPv4
addresses, the protocol number 6 and the segment's length — so a segment
delivered to the wrong host fails it. That is why :meth:`TcpSegment.encode` and
:meth:`TcpSegment.decode` take the two addresses. (The same 10-line checksum
lives in :mod:`webtrip.packets.ipv4`; it is repeated here so that the TCP layer
can be read, and tested, on its own.)
"""

from __future__ import annotations

import enum
import ipaddress
import struct
from dataclasses import dataclass
from typing import Final

from webtrip.packets import ipv4

IPv4 = str | ipaddress.IPv4Address
"""An IPv4 address, as text ("10.0.0.1") or as an :class:`ipaddress.IPv4Address`."""

PROTOCOL_TCP: Final = 6
MIN_HEADER_SIZE: Final = 20
MAX_HEADER_SIZE: Final = 60  # the data offset is 4 bits, counting 32-bit words
MAX_WINDOW_SCALE: Final = 14  # RFC 7323 §2.3: larger shifts are read as 14

OPTION_END: Final = 0  # End of Option List
OPTION_NOP: Final = 1  # No-Operation: padding between options
OPTION_MSS: Final = 2  # Maximum Segment Size (RFC 9293 §3.7.1), only in SYNs
OPTION_WINDOW_SCALE: Final = 3  # Window Scale (RFC 7323 §2), only in SYNs

_HEADER: Final = struct.Struct("!HHIIBBHHH")
_CHECKSUM: Final = struct.Struct("!H")


class Flags(enum.IntFlag):
    """The control bits, in their on-the-wire positions."""

    FIN = 0x01  # no more data from the sender
    SYN = 0x02  # synchronize sequence numbers (opens a connection)
    RST = 0x04  # reset the connection
    PSH = 0x08  # push: hand the data to the application now
    ACK = 0x10  # the acknowledgment number is significant
    URG = 0x20  # the urgent pointer is significant
    ECE = 0x40  # ECN echo (RFC 3168)
    CWR = 0x80  # congestion window reduced (RFC 3168)


class SegmentError(ValueError):
    """The bytes are not a well-formed TCP segment; the message says which rule they break."""


@dataclass(frozen=True, slots=True)
class TcpSegment:
    """One TCP segment: header fields, the options we know, and the data it carries.

    ``seq`` and ``ack`` are the 32-bit numbers exactly as on the wire. ``window``
    is the raw 16-bit field: once window scaling is agreed, the receiver
    multiplies it by ``2**shift`` (the connection does that, not the codec).
    """

    src_port: int
    dst_port: int
    seq: int
    ack: int
    flags: Flags
    window: int
    payload: bytes = b""
    mss: int | None = None
    window_scale: int | None = None
    urgent: int = 0

    def __post_init__(self) -> None:
        if (
            0 <= self.src_port <= 0xFFFF
            and 0 <= self.dst_port <= 0xFFFF
            and 0 <= self.seq <= 0xFFFFFFFF
            and 0 <= self.ack <= 0xFFFFFFFF
            and 0 <= self.window <= 0xFFFF
            and 0 <= self.urgent <= 0xFFFF
            and 0 <= int(self.flags) <= 0xFF
            and (self.mss is None or 0 <= self.mss <= 0xFFFF)
            and (self.window_scale is None or 0 <= self.window_scale <= MAX_WINDOW_SCALE)
        ):
            return  # all in range (the checks below say which field is not)
        _check_range("source port", self.src_port, 0xFFFF)
        _check_range("destination port", self.dst_port, 0xFFFF)
        _check_range("sequence number", self.seq, 0xFFFFFFFF)
        _check_range("acknowledgment number", self.ack, 0xFFFFFFFF)
        _check_range("window", self.window, 0xFFFF)
        _check_range("urgent pointer", self.urgent, 0xFFFF)
        _check_range("flags", int(self.flags), 0xFF)
        if self.mss is not None:
            _check_range("MSS option", self.mss, 0xFFFF)
        if self.window_scale is not None:
            _check_range("window scale option", self.window_scale, MAX_WINDOW_SCALE)

    @property
    def seg_len(self) -> int:
        """SEG.LEN: the sequence numbers the segment takes: its data, plus one each for SYN, FIN."""
        return len(self.payload) + (Flags.SYN in self.flags) + (Flags.FIN in self.flags)

    def encode(self, src_ip: IPv4, dst_ip: IPv4) -> bytes:
        """The segment's bytes, with the checksum computed for these IPv4 addresses."""
        options = self._encode_options()
        header_size = MIN_HEADER_SIZE + len(options)
        header = _HEADER.pack(
            self.src_port,
            self.dst_port,
            self.seq,
            self.ack,
            (header_size // 4) << 4,
            int(self.flags),
            self.window,
            0,  # checksum: computed over the segment with this field zero
            self.urgent,
        )
        header += options
        payload = self.payload
        # tcp_checksum(src_ip, dst_ip, header + payload), summed piece by piece (see
        # _checksum_of_received): the header's length is a multiple of 4, so each piece
        # counts as its own number; no copy of the segment is made to sum it.
        total = (
            ipv4.pseudo_header_sum(
                str(src_ip), str(dst_ip), PROTOCOL_TCP, header_size + len(payload)
            )
            + int.from_bytes(header, "big")
            + int.from_bytes(payload + b"\x00" if len(payload) % 2 else payload, "big")
        )
        checksum = _CHECKSUM.pack(~((total - 1) % 0xFFFF + 1) & 0xFFFF)
        return header[:16] + checksum + header[18:] + payload

    @classmethod
    def decode(cls, data: bytes, src_ip: IPv4, dst_ip: IPv4) -> TcpSegment:
        """Parse a segment that travelled from ``src_ip`` to ``dst_ip``.

        Raises SegmentError if the header is truncated, the data offset is
        impossible, the checksum does not match or an option is malformed.
        Unknown options are skipped, as RFC 9293 §3.1 requires; reserved bits
        are ignored.
        """
        if len(data) < MIN_HEADER_SIZE:
            raise SegmentError(
                f"a TCP header is at least {MIN_HEADER_SIZE} bytes, but the segment has {len(data)}"
            )
        src_port, dst_port, seq, ack, offset_byte, flags, window, checksum, urgent = (
            _HEADER.unpack_from(data)
        )
        header_size = (offset_byte >> 4) * 4
        if header_size < MIN_HEADER_SIZE:
            raise SegmentError(
                f"the data offset says the header is {header_size} bytes, "
                f"less than the {MIN_HEADER_SIZE}-byte minimum"
            )
        if header_size > len(data):
            raise SegmentError(
                f"the data offset says the header is {header_size} bytes, "
                f"but the segment has only {len(data)}"
            )
        expected = _checksum_of_received(src_ip, dst_ip, data, checksum)
        if checksum != expected:
            raise SegmentError(
                f"checksum {checksum:#06x} does not match {expected:#06x} computed "
                f"for {src_ip} → {dst_ip} (corrupted, or sent to another address)"
            )
        mss, window_scale = (
            _decode_options(data[MIN_HEADER_SIZE:header_size])
            if header_size > MIN_HEADER_SIZE
            else (None, None)
        )
        if cls is TcpSegment:
            # The same segment as cls(...) below, its slots set directly (a frozen
            # dataclass's __init__ sets field by field through object.__setattr__;
            # the values are in range by construction, as __post_init__ would find).
            payload = data[header_size:]
            return segment_in_range(
                src_port, dst_port, seq, ack, _FLAGS[flags], window,
                payload if type(payload) is bytes else bytes(payload), mss, window_scale, urgent,
            )  # fmt: skip
        return cls(
            src_port=src_port,
            dst_port=dst_port,
            seq=seq,
            ack=ack,
            flags=Flags(flags),
            window=window,
            payload=bytes(data[header_size:]),
            mss=mss,
            window_scale=window_scale,
            urgent=urgent,
        )

    def summary(self) -> str:
        """One line in the manner of tcpdump: ports, flags, numbers, window, options, length."""
        names = [flag.name for flag in Flags if flag in self.flags and flag.name is not None]
        parts = [f"{self.src_port} → {self.dst_port} [{','.join(names) or 'none'}]"]
        parts.append(f"seq={self.seq}")
        if Flags.ACK in self.flags:
            parts.append(f"ack={self.ack}")
        parts.append(f"win={self.window}")
        options = []
        if self.mss is not None:
            options.append(f"mss {self.mss}")
        if self.window_scale is not None:
            options.append(f"wscale {self.window_scale}")
        if options:
            parts.append(f"<{','.join(options)}>")
        parts.append(f"len={len(self.payload)}")
        return " ".join(parts)

    def _encode_options(self) -> bytes:
        if self.mss is None and self.window_scale is None:
            return b""
        options = b""
        if self.mss is not None:
            options += struct.pack("!BBH", OPTION_MSS, 4, self.mss)
        if self.window_scale is not None:
            options += struct.pack("!BBBB", OPTION_NOP, OPTION_WINDOW_SCALE, 3, self.window_scale)
        return options + b"\0" * (-len(options) % 4)  # End of Option List pads to 32 bits


def _decode_options(options: bytes) -> tuple[int | None, int | None]:
    """The MSS and window scale found in the options area (RFC 9293 §3.2, RFC 7323 §2.2)."""
    mss: int | None = None
    window_scale: int | None = None
    position = 0
    while position < len(options):
        kind = options[position]
        if kind == OPTION_END:
            break
        if kind == OPTION_NOP:
            position += 1
            continue
        if position + 1 >= len(options):
            raise SegmentError(f"option kind {kind} at the end of the header has no length byte")
        length = options[position + 1]
        if length < 2:
            raise SegmentError(f"option kind {kind} has length {length}; the least is 2")
        if position + length > len(options):
            raise SegmentError(f"option kind {kind} of length {length} runs past the header")
        body = options[position + 2 : position + length]
        if kind == OPTION_MSS:
            if length != 4:
                raise SegmentError(f"the MSS option is 4 bytes long, not {length}")
            if mss is not None:
                raise SegmentError("the MSS option appears twice")
            mss = struct.unpack("!H", body)[0]
        elif kind == OPTION_WINDOW_SCALE:
            if length != 3:
                raise SegmentError(f"the window scale option is 3 bytes long, not {length}")
            if window_scale is not None:
                raise SegmentError("the window scale option appears twice")
            window_scale = min(body[0], MAX_WINDOW_SCALE)
        position += length
    return mss, window_scale


def tcp_checksum(src_ip: IPv4, dst_ip: IPv4, segment: bytes) -> int:
    """The TCP checksum of ``segment`` (its checksum field zero) between two IPv4 addresses.

    RFC 9293 §3.1: the one's complement sum over the pseudo-header and the
    segment — computed by the IP layer's :func:`webtrip.packets.ipv4.tcp_checksum`.
    """
    return ipv4.tcp_checksum(str(src_ip), str(dst_ip), segment)


def segment_in_range(
    src_port: int,
    dst_port: int,
    seq: int,
    ack: int,
    flags: Flags,
    window: int,
    payload: bytes,
    mss: int | None,
    window_scale: int | None,
    urgent: int = 0,
) -> TcpSegment:
    """``TcpSegment(...)`` without the range checks of ``__post_init__``, for a caller
    whose fields are in range by construction (a connection's own segments: its ports
    checked once, sequence numbers reduced modulo 2**32, a window field at most 0xFFFF;
    or a segment just decoded, each field read from a header field of its width).
    """
    segment = _new(TcpSegment)
    (
        set_src_port,
        set_dst_port,
        set_seq,
        set_ack,
        set_flags,
        set_window,
        set_payload,
        set_mss,
        set_window_scale,
        set_urgent,
    ) = _SET_FIELDS
    set_src_port(segment, src_port)
    set_dst_port(segment, dst_port)
    set_seq(segment, seq)
    set_ack(segment, ack)
    set_flags(segment, flags)
    set_window(segment, window)
    set_payload(segment, payload)
    set_mss(segment, mss)
    set_window_scale(segment, window_scale)
    set_urgent(segment, urgent)
    return segment


def _checksum_of_received(src_ip: IPv4, dst_ip: IPv4, data: bytes, checksum: int) -> int:
    """``tcp_checksum(src_ip, dst_ip, data)`` with ``data``'s checksum field (``checksum``,
    bytes 16–17) taken as zero, without copying the segment to zero it.

    The Internet checksum is a sum modulo 0xFFFF of the bytes read as one big number
    (see :func:`webtrip.packets.ipv4.internet_checksum`), in which a 16-bit word at an
    even offset from the end counts as itself: zeroing the field takes ``checksum`` off.
    The pseudo-header is never all zeros, so the sum is never the zero special case.
    """
    pseudo = ipv4.pseudo_header_sum(str(src_ip), str(dst_ip), PROTOCOL_TCP, len(data))
    if len(data) % 2:
        data += b"\x00"
    total = pseudo + int.from_bytes(data, "big") - checksum
    return ~((total - 1) % 0xFFFF + 1) & 0xFFFF


_new = object.__new__
_SET_FIELDS = tuple(
    getattr(TcpSegment, field).__set__
    for field in (
        "src_port",
        "dst_port",
        "seq",
        "ack",
        "flags",
        "window",
        "payload",
        "mss",
        "window_scale",
        "urgent",
    )
)
_FLAGS = tuple(Flags(bits) for bits in range(256))
"""Flags(bits) for every byte: the same members, without the enum's lookup."""


def _check_range(name: str, value: int, maximum: int) -> None:
    if not 0 <= value <= maximum:
        raise ValueError(f"the {name} must be between 0 and {maximum}, not {value}")
