"""The packet log: every packet the simulated world sends, receives or drops.

Running ``tcpdump`` on a real machine shows the packets one interface sees.
The simulated world keeps the same record for *every* interface at once: each
time a datagram leaves an interface onto its link (``out``), arrives from a
link (``in``) or is thrown away (``drop``, with the reason — lost on the wire,
a full queue, no route, TTL expired...), the exact bytes are written down
with the virtual time. The pcap file (:mod:`pcap`) and the run's trace are views of
this log; a packet that is not in it did not happen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from webtrip.trace.events import DROP, LOOPBACK, OUT, PacketCaptured

PacketRecord = PacketCaptured
"""One packet seen at one interface of one node, at virtual time ``t``.

The record *is* the trace's :class:`~webtrip.trace.events.PacketCaptured` event
(one object per packet, in the log and in the trace): ``node`` (the same as
``actor``) is the node's name; ``interface`` is the interface's name (``eth0``),
LOOPBACK, or INSIDE. ``direction`` is OUT (accepted by the link's queue), IN
(received from the link) or DROP (thrown away at this node or on the link it was
sent on, with ``reason``).
"""

_new = object.__new__
_SET_FIELDS = tuple(
    getattr(PacketCaptured, name).__set__
    for name in ("t", "actor", "interface", "direction", "data", "reason")
)


def new_record(
    t: float, node: str, interface: str, direction: str, data: bytes, reason: str
) -> PacketCaptured:
    """``PacketCaptured(t, node, interface, direction, data, reason)``, made in half the time.

    A frozen dataclass's ``__init__`` goes through ``object.__setattr__`` for each
    field; this sets the slots directly. Two records are made for every hop of
    every packet.
    """
    set_t, set_node, set_interface, set_direction, set_data, set_reason = _SET_FIELDS
    record = _new(PacketCaptured)
    set_t(record, t)
    set_node(record, node)
    set_interface(record, interface)
    set_direction(record, direction)
    set_data(record, data)
    set_reason(record, reason)
    return record


class PacketLog:
    """The world's packet log, in the order things happened."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.records: list[PacketRecord] = []

    def record(
        self, direction: str, node: str, interface: str, data: bytes, reason: str = ""
    ) -> None:
        self.records.append(new_record(self._clock(), node, interface, direction, data, reason))

    def seen_at(self, node: str, interface: str | None = None) -> list[PacketRecord]:
        """What a capture on ``node`` (one interface, or all) would show: its IN and OUT packets."""
        return [
            r
            for r in self.records
            if r.node == node
            and r.direction != DROP
            and (interface is None or r.interface == interface)
        ]

    def sent_on_links(self) -> list[PacketRecord]:
        """Every packet as it entered a link: each hop of each packet once."""
        return [r for r in self.records if r.direction == OUT and r.interface != LOOPBACK]

    def drops(self) -> list[PacketRecord]:
        return [r for r in self.records if r.direction == DROP]

    def __iter__(self) -> Iterator[PacketRecord]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)
