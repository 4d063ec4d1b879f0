"""What Wireshark works out across a capture's TCP segments, from the capture alone.

One segment says little; a capture of a conversation says much more. Reading
the segments in capture order, as Wireshark's ``tcp.analysis`` does, this
module keeps per flow (one direction of one connection, on one link) what was
already seen, and says of each segment:

- its *relative* sequence and acknowledgment numbers (from each side's SYN),
  and its window scaled as both SYNs agreed (RFC 7323: never in a SYN);
- its mark, Wireshark's expert information: a **retransmission** (data, SYN or
  FIN that does not go past what was already sent) — *spurious* if the peer
  had already acknowledged it, *fast* if it answers duplicate ACKs (two or
  more, the last within 20 ms, asking for it); **out-of-order** if instead
  it fills a hole soon after the highest segment seen (within the
  connection's first round trip, from its SYN to the ACK that ends the
  handshake, or 3 ms if the capture has none): a reordered segment, not one
  sent twice — it does not end where the highest one ended; **previous segment not
  captured** (it starts past what was sent); a **duplicate ACK** (a pure ACK
  at the sender's next sequence number repeating the ACK and window before it,
  counted from the frame that first had them); a **keep-alive** (one byte
  before what was sent) and the ACK that answers it.

A router's capture holds each segment it forwards twice, in and out: flows are
kept per link, so a forwarded copy is not a retransmission. Dropped packets
(not in the capture) are left out of the analysis, as a capture never saw them.
The tests check every mark frame by frame against tshark on the same pcap.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass

from webtrip.packets.tcp_segment import Flags, TcpSegment

__all__ = ["Mark", "SegmentAnalysis", "TcpAnalysis"]


class Mark(enum.Enum):
    """Wireshark's expert information about a TCP segment (its words, in the Info column)."""

    NONE = ""
    RETRANSMISSION = "TCP Retransmission"
    FAST_RETRANSMISSION = "TCP Fast Retransmission"
    SPURIOUS_RETRANSMISSION = "TCP Spurious Retransmission"
    OUT_OF_ORDER = "TCP Out-Of-Order"
    PREVIOUS_SEGMENT_NOT_CAPTURED = "TCP Previous segment not captured"
    DUP_ACK = "TCP Dup ACK"
    KEEP_ALIVE = "TCP Keep-Alive"
    KEEP_ALIVE_ACK = "TCP Keep-Alive ACK"


RETRANSMISSIONS = frozenset(
    {Mark.RETRANSMISSION, Mark.FAST_RETRANSMISSION, Mark.SPURIOUS_RETRANSMISSION}
)
"""The marks of a segment its sender had sent before (whether it needed to or not)."""


@dataclass(frozen=True, slots=True)
class SegmentAnalysis:
    """What the analysis says of one captured (or dropped) segment."""

    segment: TcpSegment
    relative_seq: int
    relative_ack: int | None  # None: no ACK flag, or the peer's SYN was not seen
    window: int  # scaled
    mark: Mark = Mark.NONE
    dup_ack_of: int = 0  # a duplicate ACK: the frame that first had this ACK and window
    dup_ack_count: int = 0  # ... and which repeat of it this is (1, 2, ...)

    @property
    def label(self) -> str:
        """The mark as Wireshark's Info column begins with it: ``[TCP Dup ACK 7#2] ``."""
        if self.mark is Mark.NONE:
            return ""
        if self.mark is Mark.DUP_ACK:
            return f"[TCP Dup ACK {self.dup_ack_of}#{self.dup_ack_count}] "
        return f"[{self.mark.value}] "

    @property
    def is_retransmission(self) -> bool:
        """Its sender had sent these bytes (or this SYN or FIN) before."""
        return self.mark in RETRANSMISSIONS


@functools.lru_cache(maxsize=16_384)
def _decode(payload: bytes, source: str, destination: str) -> TcpSegment:
    """A segment decoded once however many captures hold it (a segment is frozen:
    every node that saw the same bytes shares it). A bad segment raises each time."""
    return TcpSegment.decode(payload, source, destination)


_SYN, _FIN, _ACK, _RST = int(Flags.SYN), int(Flags.FIN), int(Flags.ACK), int(Flags.RST)

_Flow = tuple[str, str, int, str, int]  # link, source address and port, destination's


class TcpAnalysis:
    """The analysis of one capture: feed it every TCP segment in capture order."""

    def __init__(self) -> None:
        self.isn: dict[_Flow, int] = {}
        self.scale: dict[_Flow, int] = {}
        self.sent_up_to: dict[_Flow, int] = {}
        self.sent_up_to_at: dict[_Flow, float] = {}  # the time of the segment that went furthest
        self.syn_at: dict[_Flow, float] = {}  # the last SYN (without ACK), keyed by its flow
        self.first_rtt: dict[_Flow, float] = {}  # SYN to the ACK that ends the handshake
        self.acked_up_to: dict[_Flow, int] = {}  # by the other side
        self.last_ack: dict[_Flow, tuple[int, int, int, int]] = {}  # ack, window, frame, repeats
        self.dup_ack_at: dict[_Flow, float] = {}  # the last one's time
        self.last_was_keepalive: dict[_Flow, bool] = {}

    def segment(
        self,
        source: str,
        destination: str,
        payload: bytes,
        number: int | None,
        time: float,
        link: str = "",
    ) -> SegmentAnalysis:
        """Analyse the TCP segment ``payload`` sent from ``source`` to ``destination``.

        ``number`` is its frame number in the capture (None for a dropped packet,
        which is decoded but takes no part in the analysis), ``time`` its capture
        time, ``link`` the interface it was captured on (a router's, or one of
        every link's: a segment is on each link it crosses, and that is a copy,
        not a retransmission). Raises ValueError if ``payload`` is not a TCP segment.
        """
        segment = _decode(payload, source, destination)
        forward = (link, source, segment.src_port, destination, segment.dst_port)
        backward = (link, destination, segment.dst_port, source, segment.src_port)
        flags = int(segment.flags)  # plain int arithmetic: an IntFlag's & costs ten times more
        syn, fin = flags & _SYN, flags & _FIN
        if syn and number is not None:
            self.isn[forward] = segment.seq
            if segment.window_scale is not None:
                self.scale[forward] = segment.window_scale
        if number is not None:
            self._time_handshake(forward, backward, flags, time)
        isn = self.isn.get(forward, segment.seq)
        relative_seq = (segment.seq - isn) % 2**32
        relative_ack = None
        if flags & _ACK and backward in self.isn:
            relative_ack = (segment.ack - self.isn[backward]) % 2**32
            if number is not None:
                self.acked_up_to[backward] = max(relative_ack, self.acked_up_to.get(backward, 0))
        window = segment.window
        if not syn and forward in self.scale and backward in self.scale:
            window <<= self.scale[forward]  # RFC 7323: never scaled in a SYN
        length = len(segment.payload)
        mark, dup_of, dup_count = self._mark(
            forward, segment, relative_seq, length, bool(syn or fin), number, time
        )
        if number is not None:
            self.last_was_keepalive[forward] = mark is Mark.KEEP_ALIVE
        if number is not None and mark is Mark.DUP_ACK:
            self.dup_ack_at[forward] = time
        return SegmentAnalysis(segment, relative_seq, relative_ack, window, mark, dup_of, dup_count)

    def _time_handshake(self, forward: _Flow, backward: _Flow, flags: int, time: float) -> None:
        """Keep the connection's first round trip: from its last SYN to the first pure
        ACK after it (Wireshark's threshold for a segment out of order)."""
        connection = min(forward, backward)
        if flags & _SYN and not flags & _ACK:
            self.syn_at[connection] = time
        elif flags & (_SYN | _ACK) == _ACK and connection in self.syn_at:
            self.first_rtt.setdefault(connection, time - self.syn_at[connection])

    def _out_of_order(self, flow: _Flow, end: int, time: float) -> bool:
        """Does a segment below the highest one seen fill a hole rather than repeat it: it
        came within the first round trip of the highest (3 ms if unknown), and does not
        end where it ended?"""
        link, source, source_port, destination, destination_port = flow
        connection = min(flow, (link, destination, destination_port, source, source_port))
        threshold = self.first_rtt.get(connection) or 0.003
        return time - self.sent_up_to_at[flow] < threshold and end != self.sent_up_to[flow]

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
        time: float,
    ) -> tuple[Mark, int, int]:
        """The segment's mark, and for a duplicate ACK the frame it repeats and its count."""
        if number is None:  # a dropped packet: not in the capture, not in its analysis
            return Mark.NONE, 0, 0
        end = seq + length + syn_or_fin
        before = self.sent_up_to.get(flow)
        mark, dup_of, dup_count = self._classify(flow, segment, seq, length, syn_or_fin, number)
        if mark is Mark.RETRANSMISSION:
            link, source, source_port, destination, destination_port = flow
            reverse = (link, destination, destination_port, source, source_port)
            if self._fast(reverse, segment.seq, time):
                mark = Mark.FAST_RETRANSMISSION
            elif self._out_of_order(flow, end, time):
                mark = Mark.OUT_OF_ORDER
        if before is None or end > before:
            self.sent_up_to[flow], self.sent_up_to_at[flow] = end, time
        return mark, dup_of, dup_count

    def _classify(
        self,
        flow: _Flow,
        segment: TcpSegment,
        seq: int,
        length: int,
        syn_or_fin: bool,
        number: int,
    ) -> tuple[Mark, int, int]:
        """The mark before telling a retransmission's kind (plain, fast or out of order)."""
        end = seq + length + syn_or_fin
        before = self.sent_up_to.get(flow)
        # A duplicate ACK repeats the ACK and window of the segments before it and sends
        # nothing new; it points at the frame that first had them (as Wireshark's).
        last = self.last_ack.get(flow)
        repeats = last is not None and (last[0], last[1]) == (segment.ack, segment.window)
        flags = int(segment.flags)
        bare = flags & (_ACK | _RST) == _ACK
        if not repeats:  # (a keep-alive too: a later duplicate ACK points at it)
            self.last_ack[flow] = (segment.ack, segment.window, number, 0)
        if (
            before is not None
            and length <= 1
            and seq == before - 1
            and not flags & (_SYN | _FIN | _RST)
        ):
            return Mark.KEEP_ALIVE, 0, 0  # one byte before what was sent: Wireshark's rule
        link, source, source_port, destination, destination_port = flow
        reverse = (link, destination, destination_port, source, source_port)
        if bare and repeats and not (length or syn_or_fin) and seq == before:
            assert last is not None
            if self.last_was_keepalive.get(reverse):  # the answer to a keep-alive
                self.last_ack[flow] = (segment.ack, segment.window, last[2], 0)  # count anew
                return Mark.KEEP_ALIVE_ACK, 0, 0
            self.last_ack[flow] = (segment.ack, segment.window, last[2], last[3] + 1)
            return Mark.DUP_ACK, last[2], last[3] + 1
        if before is not None and seq > before:
            return Mark.PREVIOUS_SEGMENT_NOT_CAPTURED, 0, 0
        # Not advanced: it starts below what was sent (but more than one byte just below
        # it is new data after a window probe, as Wireshark reads it).
        behind = before is not None and seq < before and not (length > 1 and seq == before - 1)
        if (length or syn_or_fin) and behind:
            if length and end <= self.acked_up_to.get(flow, -1):  # the peer had the data
                return Mark.SPURIOUS_RETRANSMISSION, 0, 0
            return Mark.RETRANSMISSION, 0, 0
        return Mark.NONE, 0, 0
