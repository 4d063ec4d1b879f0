"""What every DNS actor shares: transports, message sizes, and writing a response that fits.

The authoritative server, the recursive resolver's service and the stub
client all speak the same protocol (RFC 1035, RFC 6891's EDNS0), so the few
numbers it fixes — and the two ways of writing an answer every server needs —
are here, once.
"""

from __future__ import annotations

import struct

import dns.exception
import dns.flags
import dns.message

__all__ = [
    "CLASSIC_UDP_PAYLOAD",
    "EDNS_PAYLOAD",
    "TCP",
    "UDP",
    "header_only",
    "question_end",
    "render",
]

UDP = "udp"
"""A message that travels in a UDP datagram (at most 512 bytes, or EDNS0's payload)."""
TCP = "tcp"
"""A message that travels over TCP, after its 2-byte length (RFC 7766): up to 65535 bytes."""

# The EDNS0 UDP payload we advertise and accept at most: the DNS Flag Day
# 2020 value, which avoids IP fragmentation on almost every path.
EDNS_PAYLOAD = 1232
# Without EDNS0 a UDP answer may be at most 512 bytes (RFC 1035 §4.2.1).
CLASSIC_UDP_PAYLOAD = 512
_HEADER = struct.Struct("!HHHHHH")
_QR = 0x8000
_OPCODE_MASK = 0x7800
_RD = 0x0100


def render(
    query: dns.message.Message,
    response: dns.message.Message,
    transport: str,
    edns_payload: int = EDNS_PAYLOAD,
) -> bytes:
    """``response`` in bytes, as large as ``query``'s sender can take (TC=1 if it does not fit)."""
    if transport == TCP:
        limit = 65535
    elif query.edns >= 0:
        limit = max(CLASSIC_UDP_PAYLOAD, min(query.payload, edns_payload))
    else:
        limit = CLASSIC_UDP_PAYLOAD
    try:
        return response.to_wire(max_size=limit)
    except dns.exception.TooBig:
        pass
    # RFC 2181 §9: additional data is optional — leave it out before
    # truncating, unless it is glue the referral cannot work without.
    if response.additional and response.flags & dns.flags.AA:
        response.additional = []
        try:
            return response.to_wire(max_size=limit)
        except dns.exception.TooBig:
            pass
    response.answer, response.authority, response.additional = [], [], []
    response.flags |= dns.flags.TC
    return response.to_wire(max_size=limit)


def header_only(query_id: int, flags: int, rcode: int) -> bytes:
    """A response with only a header: for queries we cannot or will not parse."""
    response_flags = _QR | (flags & (_OPCODE_MASK | _RD)) | (rcode & 0xF)
    return _HEADER.pack(query_id, response_flags, 0, 0, 0, 0)


def question_end(wire: bytes) -> int:
    """Where the first question of ``wire`` ends, or -1 if it cannot be read.

    RFC 1035 §4.1.2/§3.1: labels of at most 63 bytes, a name of at most 255,
    no compression pointer (the first name of a message has nothing before it
    to point to), then the type and class.
    """
    pos, size = 12, len(wire)
    while pos < size:
        length = wire[pos]
        if not length:
            return pos + 5 if pos - 12 < 255 and pos + 5 <= size else -1
        if length > 63:
            return -1
        pos += length + 1
    return -1
