"""Putting the stream back in order: data that arrives after a gap waits for the gap to fill.

Step 4 of a page load: the client puts the packets back together. The network
may reorder segments, or lose one and deliver those after it; TCP hands the
application its peer's bytes in order, each exactly once. A segment that
starts at the next expected sequence number (RCV.NXT) is delivered at once;
one that starts further on is kept in a :class:`ReassemblyQueue` (RFC 9293
§3.10.7.4: such segments "SHOULD be held for later processing"). When the
missing segment comes — often resent by the peer — it fills the gap, and the
pieces kept behind it that now follow without a gap are delivered with it.
Copies and overlaps are harmless: a piece is cut to what is new.
"""

from __future__ import annotations


class ReassemblyQueue:
    """Data that arrived after a gap, kept until the gap is filled."""

    def __init__(self) -> None:
        self._pieces: dict[int, bytes] = {}

    def add(self, seq: int, data: bytes) -> None:
        """Keep ``data``, which starts at sequence number ``seq``."""
        if len(data) > len(self._pieces.get(seq, b"")):
            self._pieces[seq] = data

    def take_from(self, rcv_nxt: int) -> bytes:
        """Remove and return the bytes that continue the stream at ``rcv_nxt`` without a gap."""
        joined = bytearray()
        next_seq = rcv_nxt
        for start in sorted(self._pieces):
            if start > next_seq:
                break
            piece = self._pieces.pop(start)
            if start + len(piece) > next_seq:
                joined += piece[next_seq - start :]
                next_seq = start + len(piece)
        return bytes(joined)

    def __len__(self) -> int:
        return len(self._pieces)

    def __bool__(self) -> bool:
        return bool(self._pieces)
