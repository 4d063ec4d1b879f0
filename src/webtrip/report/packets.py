"""The packet list, as Wireshark shows it: No., Time, Source, Destination, Protocol, Length, Info.

A pure function of captured packets (raw IPv4 bytes with their times): each is
decoded again from its bytes, the way a capture tool would, and summarised —
DNS questions and answers, TCP segments with relative sequence numbers,
HTTP request and status lines.

An HTTP message cut into several segments is put back together as
Wireshark does (its *desegmentation*, here with h11 reading the message's
framing): the segments before the last are ``[TCP segment of a reassembled
PDU]``, and the segment that completes the message carries its HTTP line,
``HTTP/1.1 200 OK (text/html)``. A segment sent again, or out of order, is
not part of it: it stays a TCP row with its mark, as in Wireshark. After a
hole (a segment the capture does not hold) the rest of a message is
``Continuation``, as Wireshark calls HTTP data whose beginning it has not seen.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

import dns.message
import dns.rcode
import dns.rdatatype
import h11
from rich.table import Table

from webtrip.packets.dissect import dissect
from webtrip.packets.tcp_analysis import RETRANSMISSIONS, Mark, SegmentAnalysis, TcpAnalysis
from webtrip.packets.tcp_segment import Flags

_SHOWN_FLAGS = (Flags.SYN, Flags.FIN, Flags.RST, Flags.PSH, Flags.ACK)
_HTTP_METHODS = (b"GET ", b"HEAD ", b"POST ", b"PUT ", b"DELETE ", b"OPTIONS ", b"PATCH ")


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
        protocol, info = packet.protocol.upper(), ""
        if packet.udp is not None:
            udp = packet.udp
            info = f"{udp.source_port} → {udp.destination_port} Len={len(udp.payload)}"
            if 53 in (udp.source_port, udp.destination_port):
                protocol, info = "DNS", _dns_info(udp.payload) or info
        elif packet.tcp is not None:
            link = where[0] if where else ""
            analysis = flows.segment(ip.source, ip.destination, ip.payload, number, time, link)
            message = None
            if not dropped:
                message = messages.segment(link, ip.source, ip.destination, analysis)
            protocol, info = _tcp_info(analysis, message)
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
            )
        )
    return rows


SEGMENT_OF_A_MESSAGE = "[TCP segment of a reassembled PDU]"
"""Wireshark's words for a segment that carries part of an HTTP message, not its end."""


CONTINUATION = "Continuation"
"""Wireshark's words for HTTP data whose message's beginning it has not seen."""


@dataclass(slots=True)
class _Message:
    """An HTTP message being read: h11's parser, fed its bytes, and its first line."""

    parser: h11.Connection
    line: str
    media: str = ""  # its Content-Type's media type, once the headers are in


class HttpReassembly:
    """HTTP messages put back together from their segments, per direction of each
    connection (and link), in capture order. Only new data in sequence is taken: a
    retransmission or a segment out of order is left out, and a hole (a segment not
    captured) abandons the message being read, as Wireshark's reassembly cannot
    finish it either."""

    def __init__(self) -> None:
        self.next_seq: dict[tuple[str, str, int, int], int] = {}
        self.reading: dict[tuple[str, str, int, int], _Message] = {}
        self.http: set[tuple[str, frozenset[tuple[str, int]]]] = set()  # connections seen

    def segment(
        self, link: str, source: str, destination: str, analysis: SegmentAnalysis
    ) -> str | None:
        """What ``analysis``'s segment is to HTTP: None (no HTTP message in it),
        :data:`SEGMENT_OF_A_MESSAGE`, :data:`CONTINUATION`, or the line of the message
        it completes."""
        segment, body = analysis.segment, analysis.segment.payload
        flow = (link, source, segment.src_port, segment.dst_port)
        if not body or analysis.mark in RETRANSMISSIONS or analysis.mark is Mark.OUT_OF_ORDER:
            return None
        expected = self.next_seq.get(flow)
        self.next_seq[flow] = analysis.relative_seq + len(body)
        if expected is not None and analysis.relative_seq != expected:
            self.reading.pop(flow, None)  # a hole: this message cannot be put together
        ends = frozenset({(source, segment.src_port), (destination, segment.dst_port)})
        connection = (link, ends)
        message = self.reading.get(flow) or self._start(body)
        if message is None:
            return CONTINUATION if connection in self.http else None
        self.http.add(connection)
        self.reading[flow] = message
        message.parser.receive_data(body)
        try:
            while (event := message.parser.next_event()) is not h11.NEED_DATA:
                if isinstance(event, h11.Response):
                    media = dict(event.headers).get(b"content-type", b"")
                    message.media = media.split(b";")[0].strip().decode("latin-1")
                elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                    del self.reading[flow]
                    return f"{message.line} ({message.media})" if message.media else message.line
        except h11.RemoteProtocolError:
            del self.reading[flow]  # not HTTP after all: its first line, as it is
            return message.line
        return SEGMENT_OF_A_MESSAGE

    @staticmethod
    def _start(body: bytes) -> _Message | None:
        """A new message if ``body`` begins one (a request line or a status line)."""
        if body.startswith(_HTTP_METHODS):
            parser = h11.Connection(h11.SERVER)
        elif body.startswith(b"HTTP/1."):
            parser = h11.Connection(h11.CLIENT)  # it reads the answer to a request sent
            parser.send(h11.Request(method="GET", target="/", headers=[("Host", "-")]))
            parser.send(h11.EndOfMessage())
        else:
            return None
        return _Message(parser, body.split(b"\r\n", 1)[0].decode("latin-1"))


def _tcp_info(analysis: SegmentAnalysis, message: str | None) -> tuple[str, str]:
    """The Protocol and Info columns of a TCP segment: the HTTP message it completes,
    or the TCP header (and whether it carries part of a message)."""
    segment = analysis.segment
    mark, body = analysis.label, segment.payload
    if message is not None and message != SEGMENT_OF_A_MESSAGE:
        return "HTTP", mark + message
    flags = ", ".join(flag.name or "" for flag in _SHOWN_FLAGS if segment.flags & flag)
    ack = "" if analysis.relative_ack is None else f" Ack={analysis.relative_ack}"
    options = f" MSS={segment.mss}" if segment.mss else ""
    if segment.window_scale is not None:
        options += f" WS={2**segment.window_scale}"
    part = f" {SEGMENT_OF_A_MESSAGE}" if message == SEGMENT_OF_A_MESSAGE else ""
    return "TCP", (
        f"{mark}{segment.src_port} → {segment.dst_port} [{flags}] "
        f"Seq={analysis.relative_seq}{ack} Win={analysis.window} Len={len(body)}{options}{part}"
    )


def drop_note(node: str, reason: str) -> str:
    """Where and why a packet was dropped, for the packet list: ``queue full, at router``."""
    return f"{reason}, at {node}"


def _dns_info(payload: bytes) -> str:
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


def packet_table(rows: list[PacketRow], title: str = "") -> Table:
    """A rich table with Wireshark's columns; dropped packets are struck through."""
    table = Table(title=title or None, box=None, pad_edge=False, show_edge=False)
    for column, justify in (("No.", "right"), ("Time", "right"), ("Source", "left"),
                            ("Destination", "left"), ("Protocol", "left"), ("Length", "right"),
                            ("Info", "left")):  # fmt: skip
        table.add_column(column, justify=justify, no_wrap=column != "Info")  # type: ignore[arg-type]
    for row in rows:
        style = "strike dim" if row.dropped else {"DNS": "cyan", "HTTP": "green"}.get(row.protocol)
        table.add_row(
            "" if row.number is None else str(row.number),
            f"{row.time:.6f}",
            row.source,
            row.destination,
            row.protocol,
            str(row.length),
            row.info + (f" (dropped: {row.drop_note})" if row.dropped else ""),
            style=style,
        )
    return table
