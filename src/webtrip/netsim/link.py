"""A point-to-point link: the wire between two interfaces, and what it does to packets.

Three numbers decide how long a packet takes to cross a link:

- *serialization delay*: putting ``size`` bytes on a wire of ``bandwidth``
  bits per second takes ``size * 8 / bandwidth`` seconds, one packet after
  the other;
- *queueing delay*: a packet that arrives while the wire is busy waits in
  the sender's queue. The queue is *drop-tail*: when it already holds its
  limit (in packets or bytes, counting the packet being sent), a new packet
  is thrown away — the loss that TCP's congestion control reads as "slow
  down";
- *propagation delay* (``latency``): the time the last bit takes to reach
  the other end.

The link also carries the *MTU*, the largest datagram it can take; nodes
check it before sending (see :mod:`node`). Each direction is independent,
with its own queue.

Real paths also lose, duplicate and reorder packets. The link does so at
random with the probabilities it is given, drawing from the simulation's one
``random.Random`` — never the global one — so the same seed loses the same
packets. For tests and lessons it also takes *targeted faults*: "drop the
3rd packet matching this filter", "delay the 1st SYN by 2 seconds". Every
drop is written in the packet log with its reason.
"""

from __future__ import annotations

import asyncio
import collections
import random
from dataclasses import dataclass
from typing import Protocol

from webtrip.netsim.capture import PacketLog
from webtrip.packets.dissect import PacketError, PacketFilter, dissect
from webtrip.trace.events import DROP, OUT

ETHERNET_MTU = 1500
"""The MTU of Ethernet, and so of most of the Internet's paths."""


class LinkEnd(Protocol):
    """What a link needs from an interface attached to it."""

    name: str

    @property
    def node_name(self) -> str: ...

    def receive(self, data: bytes) -> None: ...


@dataclass(slots=True)
class Fault:
    """A targeted fault: act on the ``nth`` packet matching ``match``, once — or, with
    ``nth`` 0, on every packet matching it (a server gone silent, or slow).

    ``action`` is "drop" or "delay" (by ``extra`` seconds). ``sender`` limits
    it to the packets one end sends (None: either direction). ``seen``
    counts the matching packets so far; ``fired`` says whether it has acted.
    """

    match: PacketFilter
    nth: int
    action: str
    extra: float = 0.0
    sender: LinkEnd | None = None
    seen: int = 0
    fired: bool = False

    def applies(self, sender: LinkEnd, data: bytes) -> bool:
        """Count this packet if it matches; True if it is the one to act on."""
        if (self.fired and self.nth) or (self.sender is not None and self.sender is not sender):
            return False
        try:
            packet = dissect(data)
        except PacketError:
            return False
        if not self.match(packet):
            return False
        self.seen += 1
        if self.nth == 0:
            self.fired = True  # and stays armed: every matching packet
            return True
        if self.seen == self.nth:
            self.fired = True
            return True
        return False


class _Direction:
    """One direction of the link: its sender's queue and when the wire is free."""

    __slots__ = ("backlog", "backlog_bytes", "receiver", "wire_free_at")

    def __init__(self) -> None:
        self.receiver: LinkEnd | None = None  # the other end, once both are attached
        self.wire_free_at = 0.0
        # (time the packet is fully on the wire, its size) for packets not yet sent.
        self.backlog: collections.deque[tuple[float, int]] = collections.deque()
        self.backlog_bytes = 0

    def forget_sent(self, now: float) -> None:
        while self.backlog and self.backlog[0][0] <= now:
            _, size = self.backlog.popleft()
            self.backlog_bytes -= size


class Link:
    """A point-to-point link between two interfaces.

    ``latency`` is the one-way propagation delay in seconds; ``bandwidth`` is
    in bits per second (None: infinitely fast, no queue). ``queue_packets``
    and ``queue_bytes`` bound each direction's queue (None: unbounded).
    ``loss``, ``duplicate`` and ``reorder`` are per-packet probabilities; a
    reordered packet is held back ``reorder_delay`` seconds (default: the
    latency), so later packets overtake it.
    """

    def __init__(
        self,
        *,
        loop: asyncio.AbstractEventLoop,
        rng: random.Random,
        log: PacketLog,
        latency: float = 0.0,
        bandwidth: float | None = None,
        mtu: int = ETHERNET_MTU,
        queue_packets: int | None = None,
        queue_bytes: int | None = None,
        loss: float = 0.0,
        duplicate: float = 0.0,
        reorder: float = 0.0,
        reorder_delay: float | None = None,
    ) -> None:
        if latency < 0:
            raise ValueError(f"a link's latency cannot be negative ({latency})")
        if bandwidth is not None and bandwidth <= 0:
            raise ValueError(f"a link's bandwidth must be positive ({bandwidth})")
        if mtu < 68:
            raise ValueError(f"an IPv4 link's MTU is at least 68 bytes (RFC 791), not {mtu}")
        for name, probability in (("loss", loss), ("duplicate", duplicate), ("reorder", reorder)):
            if not 0.0 <= probability <= 1.0:
                raise ValueError(f"{name} is a probability between 0 and 1, not {probability}")
        self._loop = loop
        self._rng = rng
        self._log = log
        self.latency = latency
        self.bandwidth = bandwidth
        self.mtu = mtu
        self.queue_packets = queue_packets
        self.queue_bytes = queue_bytes
        self.loss = loss
        self.duplicate = duplicate
        self.reorder = reorder
        self.reorder_delay = latency if reorder_delay is None else reorder_delay
        self.ends: list[LinkEnd] = []
        self.faults: list[Fault] = []
        self._directions: dict[int, _Direction] = {}
        # The virtual-time loop's cheaper timers for arrivals, or asyncio's call_at.
        self._call_at = getattr(loop, "call_at_fast", None) or loop.call_at
        self.busy_until = 0.0  # when the last packet it carries arrives (held ones too)

    def attach(self, end: LinkEnd) -> None:
        """Plug an interface into one end of the link (a link has two)."""
        if len(self.ends) == 2:
            raise ValueError("a point-to-point link joins exactly two interfaces")
        self.ends.append(end)
        self._directions[id(end)] = _Direction()
        if len(self.ends) == 2:
            first, second = self.ends
            self._directions[id(first)].receiver = second
            self._directions[id(second)].receiver = first

    def peer_of(self, end: LinkEnd) -> LinkEnd:
        """The interface at the other end from ``end``."""
        if len(self.ends) != 2:
            raise ValueError("the link is not connected at both ends")
        return self.ends[1] if self.ends[0] is end else self.ends[0]

    # --- targeted faults ------------------------------------------------------------

    def drop(self, match: PacketFilter, nth: int = 1, *, sender: LinkEnd | None = None) -> Fault:
        """Drop the ``nth`` packet (counting from now) that matches ``match``."""
        return self._add_fault(Fault(match, nth, "drop", sender=sender))

    def delay(
        self, match: PacketFilter, extra: float, nth: int = 1, *, sender: LinkEnd | None = None
    ) -> Fault:
        """Deliver the ``nth`` packet matching ``match`` ``extra`` seconds late."""
        if extra < 0:
            raise ValueError(f"a delay cannot be negative ({extra})")
        return self._add_fault(Fault(match, nth, "delay", extra=extra, sender=sender))

    def drop_every(self, match: PacketFilter, *, sender: LinkEnd | None = None) -> Fault:
        """Drop every packet matching ``match`` from now on."""
        self.faults.append(fault := Fault(match, 0, "drop", sender=sender))
        return fault

    def delay_every(
        self, match: PacketFilter, extra: float, *, sender: LinkEnd | None = None
    ) -> Fault:
        """Deliver every packet matching ``match`` ``extra`` seconds late, from now on."""
        if extra < 0:
            raise ValueError(f"a delay cannot be negative ({extra})")
        self.faults.append(fault := Fault(match, 0, "delay", extra=extra, sender=sender))
        return fault

    def _add_fault(self, fault: Fault) -> Fault:
        if fault.nth < 1:
            raise ValueError(f"packets are counted from 1, not {fault.nth}")
        self.faults.append(fault)
        return fault

    # --- carrying packets -----------------------------------------------------------

    def transmit(self, sender: LinkEnd, data: bytes) -> None:
        """Carry ``data`` from ``sender`` to the other end, or drop it (and log why).

        A packet the queue accepts is logged as OUT at the sender; what
        happens to it on the wire (faults, loss) comes after.
        """
        direction = self._directions[id(sender)]
        receiver = direction.receiver
        if receiver is None:
            receiver = self.peer_of(sender)  # raises: the link is not connected at both ends
        now = self._loop.time()
        backlog = direction.backlog
        if backlog and backlog[0][0] <= now:
            direction.forget_sent(now)
        size = len(data)
        bandwidth = self.bandwidth
        node_name = sender.node_name
        if (self.queue_packets is not None or self.queue_bytes is not None) and self._queue_full(
            direction, size
        ):
            self._log.record(DROP, node_name, sender.name, data, "queue full (drop-tail)")
            return
        self._log.record(OUT, node_name, sender.name, data)
        on_wire = now
        if bandwidth is not None:
            start = max(now, direction.wire_free_at)
            on_wire = start + size * 8 / bandwidth
            direction.wire_free_at = on_wire
            backlog.append((on_wire, size))
            direction.backlog_bytes += size

        extra = 0.0
        if self.faults:
            for fault in self.faults:
                if fault.applies(sender, data):
                    if fault.action == "drop":
                        reason = (f"targeted fault: packet #{fault.nth} matching the filter"
                                  if fault.nth else "targeted fault: every packet matching the "
                                  "filter")  # fmt: skip
                        self._log.record(DROP, sender.node_name, sender.name, data, reason)
                        return
                    extra += fault.extra
        # Randomness is drawn only for the effects that are switched on, so a
        # link without them leaves the world's random sequence untouched.
        if self.loss and self._rng.random() < self.loss:
            self._log.record(DROP, sender.node_name, sender.name, data, "lost on the link")
            return
        arrival = on_wire + self.latency + extra
        if self.reorder and self._rng.random() < self.reorder:
            arrival += self.reorder_delay
        receive = receiver.receive
        self._call_at(arrival, receive, data)
        if arrival > self.busy_until:
            self.busy_until = arrival
        if self.duplicate and self._rng.random() < self.duplicate:
            self._call_at(arrival, receive, data)

    def _queue_full(self, direction: _Direction, size: int) -> bool:
        if self.bandwidth is None:
            return False  # an infinitely fast wire never queues
        if self.queue_packets is not None and len(direction.backlog) >= self.queue_packets:
            return True
        return self.queue_bytes is not None and direction.backlog_bytes + size > self.queue_bytes
