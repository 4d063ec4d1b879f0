"""HTTP messages put back together from TCP segments, as Wireshark's list shows them.

An HTTP message larger than a segment travels as several. Wireshark reads a
capture once, in order, and puts each message back together the way its TCP
*desegmentation* does (tshark's defaults), which this module follows so that
a learner's list says what Wireshark says of the same capture:

1. A segment that begins a message is read as HTTP. If the message is all
   there, the segment is an HTTP row (``HTTP/1.1 200 OK (text/html)``). If not,
   HTTP says how much more it needs — from ``Content-Length``, the rest of the
   body; while the headers (or a chunked body) are not all in, "one more
   segment" — and TCP keeps a *multisegment PDU*: the stretch of sequence
   numbers the message takes.
2. A later segment that falls inside such a stretch is a piece of that message:
   ``[TCP segment of a reassembled PDU]``, whether or not the segments before it
   were captured (the stretch's length is known). The one after which every
   byte of the message is in completes it and becomes its HTTP row.
3. A segment that TCP's analysis marks as a retransmission (plain or spurious)
   is not read at all (Wireshark's ``tcp.no_subdissector_on_error``): it stays
   a plain TCP row, even when it fills the last hole — that message then never
   gets its HTTP row. A segment sent again at the very start of a stretch is not
   read either. A *fast* retransmission is read: it may complete the message.
   A segment out of order is kept as a piece of its stretch, but not handed to
   HTTP: outside a stretch, or when it completes one, it is a plain TCP row.
4. Data that begins no message and falls in no stretch — after a hole, when the
   message's length was not known — is HTTP ``Continuation``.

Per direction of each connection, on each link (a router captures a segment
once on each side).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import h11

from webtrip.packets.tcp_analysis import Mark, SegmentAnalysis

__all__ = ["CONTINUATION", "SEGMENT_OF_A_MESSAGE", "HttpPiece", "HttpReassembly"]

SEGMENT_OF_A_MESSAGE = "[TCP segment of a reassembled PDU]"
"""Wireshark's label for a segment that carries part of an HTTP message, not its end.
A label of the list, not one of TCP's analysis marks."""

CONTINUATION = "Continuation"
"""Wireshark's words for HTTP data whose message's beginning it has not seen."""

_HTTP_METHODS = (b"GET ", b"HEAD ", b"POST ", b"PUT ", b"DELETE ", b"OPTIONS ", b"PATCH ")
_NOT_READ = frozenset({Mark.RETRANSMISSION, Mark.SPURIOUS_RETRANSMISSION})
"""Segments Wireshark does not hand to HTTP (``tcp.no_subdissector_on_error``)."""


@dataclass(frozen=True, slots=True)
class HttpPiece:
    """What one segment is to HTTP, as Wireshark's list shows it."""

    completes: str = ""  # the HTTP message it completes, or carries whole: ``GET / HTTP/1.1``
    of_a_message: bool = False  # it carries part of a message still being put together
    begins: str = ""  # ... and that message's first line, when it begins it
    continuation: bool = False  # HTTP data that begins no message Wireshark knows


@dataclass(slots=True)
class _Stretch:
    """Wireshark's multisegment PDU: the sequence numbers one message takes, and the
    pieces of it captured so far (by their offset from its start)."""

    start: int
    end: int  # the first sequence number after it, as far as HTTP said
    whole_segments: bool  # "one more segment": take the next segment whole
    pieces: dict[int, bytes] = field(default_factory=dict)
    last_seen: bool = False  # the piece that reaches its end was captured
    done: bool = False

    def add(self, offset: int, data: bytes, last: bool) -> bool:
        """Keep a piece; True if, with it, every byte of the message is in (for the first time)."""
        self.pieces.setdefault(offset, data)
        self.last_seen = self.last_seen or last
        if self.done or not self.last_seen:
            return False
        reach = 0
        for at in sorted(self.pieces):
            if at > reach:
                return False  # a hole
            reach = max(reach, at + len(self.pieces[at]))
        self.done = reach >= self.end - self.start
        return self.done

    def data(self) -> bytes:
        joined = bytearray()
        for at in sorted(self.pieces):
            piece = self.pieces[at]
            joined += piece[len(joined) - at :] if at < len(joined) else piece
        return bytes(joined[: self.end - self.start])


_Flow = tuple[str, str, int, int]  # link, source address, source port, destination port


class HttpReassembly:
    """HTTP messages put back together from their segments, in capture order."""

    def __init__(self) -> None:
        self.stretches: dict[_Flow, dict[int, _Stretch]] = {}
        self.starts: dict[_Flow, list[int]] = {}  # the stretches' starts, in order
        self.http: set[tuple[str, frozenset[tuple[str, int]]]] = set()  # connections seen

    def segment(
        self, link: str, source: str, destination: str, analysis: SegmentAnalysis
    ) -> HttpPiece:
        """What ``analysis``'s captured segment is to HTTP."""
        segment, body = analysis.segment, analysis.segment.payload
        if not body or analysis.mark in _NOT_READ:
            return HttpPiece()
        flow = (link, source, segment.src_port, segment.dst_port)
        ends = frozenset({(source, segment.src_port), (destination, segment.dst_port)})
        connection = (link, ends)
        stretches = self.stretches.setdefault(flow, {})
        starts = self.starts.setdefault(flow, [])
        seq, after = analysis.relative_seq, analysis.relative_seq + len(body)
        if seq in stretches:  # sent again at a message's start: not read again
            return HttpPiece()
        at = bisect.bisect_right(starts, seq - 1) - 1
        stretch = stretches[starts[at]] if at >= 0 else None
        if stretch is None or seq >= stretch.end:
            if analysis.mark is Mark.OUT_OF_ORDER:
                return HttpPiece()  # not handed to HTTP
            return self._begin(flow, connection, seq, body)
        end = stretch.end
        size = len(body) if stretch.whole_segments else min(after, end) - seq
        if stretch.whole_segments:
            stretch.end, stretch.whole_segments = max(end, after), False
        if not stretch.add(seq - stretch.start, body[:size], last=after >= end):
            return HttpPiece(of_a_message=True)
        if analysis.mark is Mark.OUT_OF_ORDER:
            return HttpPiece()  # it completes the message, which is not handed to HTTP
        line, media, needed, _ = _read_http(stretch.data())
        if needed == 0:
            rest = body[size:]
            if rest:  # the next message begins in the same segment
                self._begin(flow, connection, seq + size, rest)
            return HttpPiece(completes=_shown(line, media))
        stretch.done, stretch.last_seen = False, False  # HTTP wants more: the stretch grows
        stretch.whole_segments = needed is None
        stretch.end = after + 1 if needed is None else stretch.start + len(stretch.data()) + needed
        return HttpPiece(of_a_message=True)

    def _begin(
        self,
        flow: _Flow,
        connection: tuple[str, frozenset[tuple[str, int]]],
        seq: int,
        data: bytes,
    ) -> HttpPiece:
        """Read ``data``, in no stretch, as HTTP: the message it begins (or carries whole)."""
        if not data.startswith((*_HTTP_METHODS, b"HTTP/1.")):
            return HttpPiece(continuation=connection in self.http)
        self.http.add(connection)
        line, media, needed, used = _read_http(data)
        if needed == 0:
            if used < len(data):  # another message follows in the same segment
                self._begin(flow, connection, seq + used, data[used:])
            return HttpPiece(completes=_shown(line, media))
        whole = needed is None
        end = seq + len(data) + (1 if needed is None else needed)
        stretch = _Stretch(seq, end, whole, {0: data})
        self.stretches[flow][seq] = stretch
        bisect.insort(self.starts[flow], seq)
        return HttpPiece(of_a_message=True, begins=line)


def _shown(line: str, media: str) -> str:
    """A message as Wireshark's Info column shows it: ``HTTP/1.1 200 OK (text/html)``."""
    return f"{line} ({media})" if media else line


def _read_http(data: bytes) -> tuple[str, str, int | None, int]:
    """Read the HTTP message at the start of ``data`` (h11 reads its framing): its first
    line (once its headers are in) and its media type (a response's), the bytes it still
    needs (0: it is all there; None: one more segment, its length is not known yet),
    and how many bytes of ``data`` it takes."""
    if data.startswith(b"HTTP/1."):
        parser = h11.Connection(h11.CLIENT)  # it reads the answer to a request sent
        parser.send(h11.Request(method="GET", target="/", headers=[("Host", "-")]))
        parser.send(h11.EndOfMessage())
    else:
        parser = h11.Connection(h11.SERVER)
    parser.receive_data(data)
    line, length, media = "", None, ""
    try:
        while (event := parser.next_event()) is not h11.NEED_DATA:
            if isinstance(event, h11.Request | h11.Response):
                line = data.split(b"\r\n", 1)[0].decode("latin-1")
                headers = dict(event.headers)
                if b"content-length" in headers and b"transfer-encoding" not in headers:
                    length = data.index(b"\r\n\r\n") + 4 + int(headers[b"content-length"])
                if isinstance(event, h11.Response):
                    kind = headers.get(b"content-type", b"").split(b";")[0].strip()
                    media = kind.decode("latin-1")
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                return line, media, 0, len(data) - len(parser.trailing_data[0])
    except h11.RemoteProtocolError:  # not HTTP after all: its first line, as it is
        return data.split(b"\r\n", 1)[0].decode("latin-1"), "", 0, len(data)
    if length is None:
        return line, media, None, len(data)
    return line, media, max(length - len(data), 1), len(data)
