"""The packet list, as Wireshark shows it: No., Time, Source, Destination, Protocol, Length, Info.

A pure function of captured packets (raw IPv4 bytes with their times): each is
decoded again from its bytes, the way a capture tool would, and summarised —
DNS questions and answers, TCP segments with relative sequence numbers,
HTTP request and status lines.

A row keeps apart two things Wireshark writes in the Info column: TCP's
*mark* (its expert analysis: ``[TCP Retransmission]``, ``[TCP Dup ACK 7#1]``,
see :mod:`webtrip.packets.tcp_analysis`) and the *label* of a segment that
carries part of a longer HTTP message, ``[TCP segment of a reassembled PDU]``
— not a fault, only a piece (see :mod:`webtrip.report.reassembly`). The
segment that completes the message carries its HTTP line,
``HTTP/1.1 200 OK (text/html)``.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable
from dataclasses import dataclass

import dns.message
import dns.rcode
import dns.rdatatype
from rich.table import Table

from webtrip.i18n import actor_name, translation
from webtrip.packets.dissect import dissect
from webtrip.packets.tcp_analysis import SegmentAnalysis, TcpAnalysis
from webtrip.packets.tcp_segment import Flags
from webtrip.report.event_text import drop_reason
from webtrip.report.reassembly import (
    CONTINUATION,
    SEGMENT_OF_A_MESSAGE,
    HttpPiece,
    HttpReassembly,
)

_SHOWN_FLAGS = (Flags.SYN, Flags.FIN, Flags.RST, Flags.PSH, Flags.ACK)


@dataclass(frozen=True, slots=True)
class PacketRow:
    """One line of the packet list. A dropped packet has no number (a capture
    does not hold it: the numbers stay those of the pcap, as Wireshark shows
    them) and says where and why it was thrown away."""

    number: int | None
    time: float
    source: str
    destination: str
    protocol: str
    length: int
    info: str
    dropped: bool = False
    drop_note: str = ""
    mark: str = ""  # TCP's analysis of it, as the Info column begins: "[TCP Retransmission]"
    of_a_message: bool = False  # labelled "[TCP segment of a reassembled PDU]": a piece


def packet_rows(
    packets: Iterable[tuple[float, bytes, str | None] | tuple[float, bytes, str | None, str]],
) -> list[PacketRow]:
    """Rows for ``(time, IPv4 bytes, drop note[, interface])`` in capture order; the note
    is None for a captured packet, else where and why it was dropped (:func:`drop_note`).
    With the interface a node captured it on, TCP's analysis is per interface: a
    router's capture holds each segment it forwards twice, in and out, which is not a
    retransmission."""
    rows: list[PacketRow] = []
    flows = TcpAnalysis()
    messages = HttpReassembly()
    numbers = itertools.count(1)
    for time, data, note, *where in packets:
        dropped = note is not None
        number = None if dropped else next(numbers)
        try:
            packet = dissect(data)
        except ValueError as exc:
            info, note = f"malformed: {exc}", note or ""
            rows.append(PacketRow(number, time, "?", "?", "?", len(data), info, dropped, note))
            continue
        ip = packet.ip
        protocol, info, mark, piece = packet.protocol.upper(), "", "", HttpPiece()
        if packet.udp is not None:
            udp = packet.udp
            info = f"{udp.source_port} → {udp.destination_port} Len={len(udp.payload)}"
            if 53 in (udp.source_port, udp.destination_port):
                protocol, info = "DNS", _dns_info(udp.payload) or info
        elif packet.tcp is not None:
            link = where[0] if where else ""
            analysis = flows.segment(ip.source, ip.destination, ip.payload, number, time, link)
            if not dropped:
                piece = messages.segment(link, ip.source, ip.destination, analysis)
            protocol, info = _tcp_info(analysis, piece)
            mark = analysis.label.strip()
        elif packet.icmp is not None:
            info = _icmp_info(packet.icmp.type, packet.icmp.code)
        rows.append(
            PacketRow(
                number,
                time,
                ip.source,
                ip.destination,
                protocol,
                len(data),
                info,
                dropped,
                note or "",
                mark,
                piece.of_a_message,
            )
        )
    return rows


def _tcp_info(analysis: SegmentAnalysis, piece: HttpPiece) -> tuple[str, str]:
    """The Protocol and Info columns of a TCP segment: the HTTP message it completes,
    HTTP data it continues, or the TCP header (with its label if it carries part of a
    message; a message's first piece shows its first line instead, as Wireshark's)."""
    segment = analysis.segment
    mark, body = analysis.label, segment.payload
    if piece.completes:
        return "HTTP", mark + piece.completes
    if piece.continuation:
        return "HTTP", mark + CONTINUATION
    if piece.of_a_message and piece.begins:
        return "TCP", f"{mark}{piece.begins} {SEGMENT_OF_A_MESSAGE}"
    flags = ", ".join(flag.name or "" for flag in _SHOWN_FLAGS if segment.flags & flag)
    ack = "" if analysis.relative_ack is None else f" Ack={analysis.relative_ack}"
    options = f" MSS={segment.mss}" if segment.mss else ""
    if segment.window_scale is not None:
        options += f" WS={2**segment.window_scale}"
    part = f" {SEGMENT_OF_A_MESSAGE}" if piece.of_a_message else ""
    return "TCP", (
        f"{mark}{segment.src_port} → {segment.dst_port} [{flags}] "
        f"Seq={analysis.relative_seq}{ack} Win={analysis.window} Len={len(body)}{options}{part}"
    )


def drop_note(node: str, reason: str, language: str = "en") -> str:
    """Where and why a packet was dropped, for the packet list: ``queue full, at router``
    (in another language, the reason and the node in its words)."""
    if language == "en":
        return f"{reason}, at {node}"
    why = drop_reason(reason, language) or reason
    place = actor_name(node, language)
    _ = translation(language).gettext
    return _("{why}, at {node}").format(why=why, node=place)


@functools.lru_cache(maxsize=4096)
def _dns_info(payload: bytes) -> str:
    """The Info column of a DNS message (one parse per distinct message: the same bytes
    are in the capture of every node they cross)."""
    try:
        message = dns.message.from_wire(payload)
    except Exception:
        return ""
    if not message.question:
        return f"0x{message.id:04x}"
    question = message.question[0]
    asked = f"{dns.rdatatype.to_text(question.rdtype)} {question.name.to_text(True)}"
    if not message.flags & 0x8000:
        return f"Standard query 0x{message.id:04x} {asked}"
    answers = " ".join(
        f"{dns.rdatatype.to_text(rrset.rdtype)} {rdata}"
        for rrset in message.answer
        for rdata in rrset
    )
    rcode = dns.rcode.to_text(message.rcode())
    status = "" if rcode == "NOERROR" else f" {rcode}"
    return f"Standard query response 0x{message.id:04x}{status} {asked} {answers}".rstrip()


_ICMP_TYPES = {0: "Echo (ping) reply", 3: "Destination unreachable", 8: "Echo (ping) request",
               11: "Time-to-live exceeded"}  # fmt: skip
_ICMP_CODES = {
    (3, 0): "Network unreachable", (3, 1): "Host unreachable", (3, 2): "Protocol unreachable",
    (3, 3): "Port unreachable", (3, 4): "Fragmentation needed", (3, 13): "Communication "
    "administratively filtered", (11, 0): "Time to live exceeded in transit",
    (11, 1): "Fragment reassembly time exceeded",
}  # fmt: skip


def _icmp_info(kind: int, code: int) -> str:
    """Wireshark's words for an ICMP message: ``Destination unreachable (Port unreachable)``."""
    name = _ICMP_TYPES.get(kind, f"Type {kind}")
    detail = _ICMP_CODES.get((kind, code))
    return f"{name} ({detail})" if detail else f"{name} (code {code})"


def packet_table(
    rows: list[PacketRow], title: str = "", places: list[str] | None = None, language: str = "en"
) -> Table:
    """A rich table with Wireshark's columns (their names in ``language``); dropped
    packets are struck through. With ``places`` (:func:`~webtrip.report.pcap.where_captured`
    of a node with several links), an Interface column after Time: ``eth0 in``."""
    _ = translation(language).gettext
    places = places if places and any(places) else None  # one link: nothing to say
    table = Table(title=title or None, box=None, pad_edge=False, show_edge=False)
    columns = [(_("No."), "right"), (_("Time"), "right"), (_("Source"), "left"),
               (_("Destination"), "left"), (_("Protocol"), "left"), (_("Length"), "right"),
               (_("Info"), "left")]  # fmt: skip
    if places:
        columns.insert(2, (_("Interface"), "left"))
    for index, (column, justify) in enumerate(columns):
        last = index == len(columns) - 1  # Info: the one that wraps
        table.add_column(column, justify=justify, no_wrap=not last)  # type: ignore[arg-type]
    for index, row in enumerate(rows):
        style = "strike dim" if row.dropped else {"DNS": "cyan", "HTTP": "green"}.get(row.protocol)
        cells = [
            "" if row.number is None else str(row.number),
            f"{row.time:.6f}",
            row.source,
            row.destination,
            row.protocol,
            str(row.length),
            row.info
            + (" " + _("(dropped: {note})").format(note=row.drop_note) if row.dropped else ""),
        ]
        if places:
            cells.insert(2, places[index])
        table.add_row(*cells, style=style)
    return table
