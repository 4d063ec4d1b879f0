"""Packet capture files: the simulated packets, as Wireshark and tcpdump read them.

The classic libpcap format is a 24-byte global header — a magic number that
also tells the byte order, the format version, the largest packet kept
(*snaplen*) and the *link type* — followed by one record per packet: a
16-byte header (timestamp in seconds and microseconds, bytes kept, original
length) and the packet's bytes. Our packets are bare IPv4 datagrams without
an Ethernet frame, so the link type is LINKTYPE_RAW (101, "raw IP").

Timestamps are the world's calendar time: a fixed epoch plus virtual time.
The file is written little-endian whatever the machine, so the same run
gives the same bytes everywhere.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable
from dataclasses import dataclass

LINKTYPE_RAW = 101
"""Raw IP: each packet starts with its IPv4 (or IPv6) header."""
SNAPLEN = 65535

_MAGIC = 0xA1B2C3D4  # microsecond timestamps
_GLOBAL_HEADER = struct.Struct("<IHHiIII")
_RECORD_HEADER = struct.Struct("<IIII")


class PcapError(ValueError):
    """Bytes that are not a pcap file this module reads; the message says why."""


@dataclass(frozen=True, slots=True)
class CapturedPacket:
    """A packet in a capture: its timestamp (Unix seconds) and its bytes."""

    timestamp: float
    data: bytes


def pcap_bytes(packets: Iterable[tuple[float, bytes]], *, epoch: float = 0.0) -> bytes:
    """A whole pcap file of ``packets``, each ``(virtual time, datagram bytes)``.

    The timestamp written is ``epoch + virtual time``, to the microsecond.
    """
    out = bytearray(_GLOBAL_HEADER.pack(_MAGIC, 2, 4, 0, 0, SNAPLEN, LINKTYPE_RAW))
    epoch_micros = round(epoch * 1_000_000)
    for t, data in packets:
        seconds, micros = divmod(epoch_micros + round(t * 1_000_000), 1_000_000)
        kept = data[:SNAPLEN]
        out += _RECORD_HEADER.pack(seconds, micros, len(kept), len(data))
        out += kept
    return bytes(out)


def write_pcap(
    path: str | os.PathLike[str], packets: Iterable[tuple[float, bytes]], *, epoch: float = 0.0
) -> None:
    """Write :func:`pcap_bytes` of ``packets`` to the file at ``path``."""
    with open(path, "wb") as file:
        file.write(pcap_bytes(packets, epoch=epoch))


def read_pcap(data: bytes) -> list[CapturedPacket]:
    """The packets of a little-endian, microsecond, raw-IP pcap file (as written here).

    Raises PcapError if ``data`` is not one, or is cut short.
    """
    if len(data) < _GLOBAL_HEADER.size:
        raise PcapError("too short for a pcap global header (24 bytes)")
    magic, major, minor, _zone, _sigfigs, _snaplen, linktype = _GLOBAL_HEADER.unpack_from(data)
    if magic != _MAGIC:
        raise PcapError(f"not a little-endian microsecond pcap file (magic {magic:#010x})")
    if (major, minor) != (2, 4):
        raise PcapError(f"pcap version {major}.{minor}, not 2.4")
    if linktype != LINKTYPE_RAW:
        raise PcapError(f"link type {linktype}, not raw IP ({LINKTYPE_RAW})")
    packets = []
    offset = _GLOBAL_HEADER.size
    while offset < len(data):
        if offset + _RECORD_HEADER.size > len(data):
            raise PcapError(f"a packet record header is cut short at byte {offset}")
        seconds, micros, kept, _original = _RECORD_HEADER.unpack_from(data, offset)
        offset += _RECORD_HEADER.size
        if offset + kept > len(data):
            raise PcapError(f"a packet of {kept} bytes is cut short at byte {offset}")
        packets.append(CapturedPacket(seconds + micros / 1_000_000, data[offset : offset + kept]))
        offset += kept
    return packets


# pcapng (draft-ietf-opsawg-pcapng): a capture of several interfaces in one file. Blocks
# are type, total length, body, total length again, each padded to 4 bytes. A section
# header block opens the file; one interface description block per interface (its
# link type and name); then one enhanced packet block per packet, which says on which
# interface (its index among the description blocks) it was seen, and in its flags
# whether it came in or went out.
_SHB, _IDB, _EPB = 0x0A0D0D0A, 0x00000001, 0x00000006
_BYTE_ORDER_MAGIC = 0x1A2B3C4D
_OPT_IF_NAME, _OPT_EPB_FLAGS, _OPT_END = 2, 2, 0
PCAPNG_INBOUND, PCAPNG_OUTBOUND = 1, 2
"""The direction bits of an enhanced packet block's flags (``epb_flags``)."""


def _padded(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + _padded(value)


def _block(kind: int, body: bytes) -> bytes:
    body = _padded(body)
    length = 12 + len(body)
    return struct.pack("<II", kind, length) + body + struct.pack("<I", length)


@dataclass(frozen=True, slots=True)
class InterfacePacket:
    """A packet seen on one interface of a node: when, its bytes, the interface's name and
    its direction (:data:`PCAPNG_INBOUND`, :data:`PCAPNG_OUTBOUND`, or 0 unknown)."""

    time: float
    data: bytes
    interface: str
    direction: int = 0


def pcapng_bytes(packets: Iterable[InterfacePacket], *, epoch: float = 0.0) -> bytes:
    """A whole pcapng file of ``packets``: one interface block per interface, in the
    order each first appears, and each packet on its own; timestamps as
    :func:`pcap_bytes`' (``epoch`` + virtual time, to the microsecond)."""
    section = struct.pack("<IHHq", _BYTE_ORDER_MAGIC, 1, 0, -1)
    out = bytearray(_block(_SHB, section))
    interfaces: dict[str, int] = {}
    records = bytearray()
    epoch_micros = round(epoch * 1_000_000)
    for packet in packets:
        if packet.interface not in interfaces:
            interfaces[packet.interface] = len(interfaces)
            name = _option(_OPT_IF_NAME, packet.interface.encode("utf-8"))
            options = name + _option(_OPT_END, b"")
            out += _block(_IDB, struct.pack("<HHI", LINKTYPE_RAW, 0, SNAPLEN) + options)
        micros = epoch_micros + round(packet.time * 1_000_000)
        kept = packet.data[:SNAPLEN]
        header = struct.pack(
            "<IIIII", interfaces[packet.interface], micros >> 32, micros & 0xFFFFFFFF,
            len(kept), len(packet.data),
        )  # fmt: skip
        options = b""
        if packet.direction:
            flags = struct.pack("<I", packet.direction)
            options = _option(_OPT_EPB_FLAGS, flags) + _option(_OPT_END, b"")
        records += _block(_EPB, header + _padded(kept) + options)
    # The interface blocks must come before the packets that name them: all of them
    # first, then the packets (their indexes are those of first appearance).
    return bytes(out + records)
