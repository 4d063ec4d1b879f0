"""The packet list, as Wireshark shows it: No., Time, Source, Destination, Protocol, Length, Info.

A pure function of captured packets (raw IPv4 bytes with their times): each is
decoded again from its bytes, the way a capture tool would, and summarised —
DNS questions and answers, TCP segments with relative sequence numbers,
HTTP request and status lines.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

import dns.message
import dns.rcode
import dns.rdatatype
from rich.table import Table

from webtrip.netsim.packets import dissect
from webtrip.netsim.tcp_segment import Flags, TcpSegment

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
    flows = _TcpAnalysis()
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
            protocol, info = flows.info(ip.source, ip.destination, ip.payload, number, time, link)
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


_Flow = tuple[str, str, int, str, int]  # link, source address and port, destination's


class _TcpAnalysis:
    """What Wireshark works out across a TCP conversation's segments, from the capture
    alone: relative sequence numbers, the window scaled as both SYNs agreed,
    retransmissions (data, SYN or FIN that does not go past what was already sent;
    spurious if the peer had acknowledged it, fast if it answers duplicate ACKs), a
    segment that starts past it (the previous one not captured), duplicate ACKs (a
    pure ACK at the sender's next sequence number repeating the ACK and window before
    it), keep-alives (a byte before what was sent) and the ACKs that answer them."""

    def __init__(self) -> None:
        self.isn: dict[_Flow, int] = {}
        self.scale: dict[_Flow, int] = {}
        self.sent_up_to: dict[_Flow, int] = {}
        self.acked_up_to: dict[_Flow, int] = {}  # by the other side
        self.last_ack: dict[_Flow, tuple[int, int, int, int]] = {}
        self.dup_ack_at: dict[_Flow, float] = {}  # the last one's time
        self.last_was_keepalive: dict[_Flow, bool] = {}

    def info(
        self,
        source: str,
        destination: str,
        payload: bytes,
        number: int | None,
        time: float,
        link: str = "",
    ) -> tuple[str, str]:
        segment = TcpSegment.decode(payload, source, destination)
        flags = [flag.name for flag in _SHOWN_FLAGS if segment.flags & flag]
        # Per link: a router's capture, or one of every link, holds a segment once on
        # each link it crosses — a copy, not a retransmission.
        forward = (link, source, segment.src_port, destination, segment.dst_port)
        backward = (link, destination, segment.dst_port, source, segment.src_port)
        syn, fin = segment.flags & Flags.SYN, segment.flags & Flags.FIN
        if syn and number is not None:
            self.isn[forward] = segment.seq
            if segment.window_scale is not None:
                self.scale[forward] = segment.window_scale
        isn = self.isn.get(forward, segment.seq)
        relative_seq = (segment.seq - isn) % 2**32
        body = segment.payload
        ack = ""
        if "ACK" in flags and backward in self.isn:
            relative_ack = (segment.ack - self.isn[backward]) % 2**32
            ack = f" Ack={relative_ack}"
            if number is not None:
                self.acked_up_to[backward] = max(relative_ack, self.acked_up_to.get(backward, 0))
        window = segment.window
        if not syn and forward in self.scale and backward in self.scale:
            window <<= self.scale[forward]  # RFC 7323: never scaled in a SYN
        mark = self._mark(forward, segment, relative_seq, len(body), bool(syn or fin), number)
        if number is not None:
            self.last_was_keepalive[forward] = mark == "[TCP Keep-Alive] "
        if mark == "[TCP Retransmission] " and self._fast(backward, segment.seq, time):
            mark = "[TCP Fast Retransmission] "
        if number is not None and mark.startswith("[TCP Dup ACK"):
            self.dup_ack_at[forward] = time
        if body.startswith(_HTTP_METHODS) or body.startswith(b"HTTP/1."):
            return "HTTP", mark + body.split(b"\r\n", 1)[0].decode("latin-1")
        options = f" MSS={segment.mss}" if segment.mss else ""
        if segment.window_scale is not None:
            options += f" WS={2**segment.window_scale}"
        return "TCP", (
            f"{mark}{segment.src_port} → {segment.dst_port} [{', '.join(flags)}] "
            f"Seq={relative_seq}{ack} Win={window} Len={len(body)}{options}"
        )

    def _fast(self, reverse: _Flow, seq: int, time: float) -> bool:
        """Is a retransmission at ``seq`` the answer to duplicate ACKs (two or more, the
        last within 20 ms, asking for ``seq``), as Wireshark decides a fast one?"""
        last = self.last_ack.get(reverse)
        at = self.dup_ack_at.get(reverse)
        return (
            last is not None
            and at is not None
            and last[3] >= 2
            and last[0] == seq
            and time - at < 0.02
        )

    def _mark(
        self,
        flow: _Flow,
        segment: TcpSegment,
        seq: int,
        length: int,
        syn_or_fin: bool,
        number: int | None,
    ) -> str:
        if number is None:  # a dropped packet: not in the capture, not in its analysis
            return ""
        end = seq + length + syn_or_fin
        before = self.sent_up_to.get(flow)
        self.sent_up_to[flow] = max(end, before or 0)
        # A duplicate ACK repeats the ACK and window of the segments before it and sends
        # nothing new; it points at the frame that first had them (as Wireshark's).
        last = self.last_ack.get(flow)
        repeats = last is not None and (last[0], last[1]) == (segment.ack, segment.window)
        bare = segment.flags & (Flags.ACK | Flags.RST) == Flags.ACK
        if (
            before is not None
            and length <= 1
            and seq == before - 1
            and not segment.flags & (Flags.SYN | Flags.FIN | Flags.RST)
        ):
            return "[TCP Keep-Alive] "  # one byte before what was sent: Wireshark's rule
        link, source, source_port, destination, destination_port = flow
        reverse = (link, destination, destination_port, source, source_port)
        if bare and repeats and not (length or syn_or_fin) and seq == before:
            assert last is not None
            if self.last_was_keepalive.get(reverse):  # the answer to a keep-alive
                self.last_ack[flow] = (segment.ack, segment.window, last[2], 0)  # count anew
                return "[TCP Keep-Alive ACK] "
            self.last_ack[flow] = (segment.ack, segment.window, last[2], last[3] + 1)
            return f"[TCP Dup ACK {last[2]}#{last[3] + 1}] "
        if not repeats:
            self.last_ack[flow] = (segment.ack, segment.window, number, 0)
        if before is not None and seq > before:
            return "[TCP Previous segment not captured] "
        if (length or syn_or_fin) and before is not None and end <= before:
            if length and end <= self.acked_up_to.get(flow, -1):  # the peer had the data
                return "[TCP Spurious Retransmission] "
            return "[TCP Retransmission] "
        return ""


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
