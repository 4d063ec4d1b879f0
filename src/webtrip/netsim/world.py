"""The simulated world: hosts, routers and links on one virtual clock, from one seed.

A :class:`SimWorld` owns everything a run needs to be reproducible:

- the virtual-time event loop (:mod:`clock`) that every actor and every
  packet runs on;
- the one ``random.Random``, seeded, from which every random choice is drawn
  (ephemeral ports, IP identifications, lost and reordered packets);
- the nodes and the links between them;
- the packet log (:mod:`capture`), from which the pcap file is written;
- a :class:`~webtrip.trace.Trace` on the virtual clock for the actors, in
  which every packet of the log is recorded too (a
  :class:`~webtrip.trace.events.PacketCaptured` event, with its bytes), so
  that the packet table and the pcap file are views of the trace like the
  others (:mod:`webtrip.report.pcap`).

Build the network, then run the actors in it::

    world = SimWorld(seed=1)
    client, server = world.add_host("client"), world.add_host("server")
    world.connect(client, "10.0.0.1/24", server, "10.0.0.2/24", latency=0.020)
    answer = world.run(main(world.network(client), world.network(server)))
    world.write_pcap("run.pcap", at=client)

The same seed and the same program give the same packets, byte for byte.
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from webtrip.netsim.capture import PacketLog, PacketRecord, new_record
from webtrip.netsim.clock import SimulationStalled, VirtualClockLoop
from webtrip.netsim.host import Host
from webtrip.netsim.link import Link
from webtrip.netsim.network import SimNetwork
from webtrip.netsim.node import Node
from webtrip.netsim.router import Router
from webtrip.packets.pcap import pcap_bytes, write_pcap
from webtrip.trace import Trace

T = TypeVar("T")
N = TypeVar("N", bound=Node)

EPOCH = 1_767_225_600.0
"""2026-01-01T00:00:00Z: the calendar time at which every simulated run starts."""

GC_THRESHOLDS = (50_000, 20, 100)
"""The cyclic garbage collector's thresholds while a world runs (Python's are 700, 10, 10).

A run keeps every packet it makes (the log and the trace: two records a hop), so
most objects it allocates live to the end — the worst case for a generational
collector: each young collection walks and promotes them, and the full collections
that follow walk them all again, ever more of them (at 1000 browsers, 580,000
objects and 3 of 9 seconds). With these thresholds a young collection comes every
50,000 net allocations instead of 700, and a full one far more rarely; cyclic
garbage (finished tasks, exceptions) is still collected, young, as before.
"""


class TracedPacketLog(PacketLog):
    """The packet log that also records each packet in the run's trace, as it happens.

    The log's record and the trace's event are one object (a ``PacketCaptured``).
    """

    def __init__(self, clock: Callable[[], float], trace: Trace) -> None:
        super().__init__(clock)
        self.trace = trace

    def record(
        self, direction: str, node: str, interface: str, data: bytes, reason: str = ""
    ) -> None:
        record = new_record(self._clock(), node, interface, direction, data, reason)
        self.records.append(record)
        trace = self.trace
        # What trace.record(record) does, inline: this runs twice for every hop.
        if trace.enabled:
            if trace.keep:
                trace.events.append(record)
            for listener in trace._listeners:
                listener(record)


class SimWorld:
    """A simulated network and the clock, randomness and records of one run."""

    def __init__(self, seed: int = 0, *, epoch: float = EPOCH) -> None:
        self.seed = seed
        self.epoch = epoch
        self.rng = random.Random(seed)
        self.loop = VirtualClockLoop()
        self.trace = Trace(clock=self.loop.time, wall_start=epoch)
        self.packets: PacketLog = TracedPacketLog(self.loop.time, self.trace)
        self.nodes: dict[str, Node] = {}
        self.links: list[Link] = []

    # --- building the network -------------------------------------------------------

    def add_host(self, name: str) -> Host:
        """A new host named ``name`` (give it addresses with :meth:`connect`)."""
        return self._add(Host(name, loop=self.loop, rng=self.rng, log=self.packets))

    def add_router(self, name: str) -> Router:
        """A new router named ``name``."""
        return self._add(Router(name, loop=self.loop, rng=self.rng, log=self.packets))

    def _add(self, node: N) -> N:
        if node.name in self.nodes:
            raise ValueError(f"the world already has a node named '{node.name}'")
        self.nodes[node.name] = node
        return node

    def connect(
        self, a: Node, a_address: str, b: Node, b_address: str, **link_options: Any
    ) -> Link:
        """Join ``a`` and ``b`` with a new link, giving each a new interface and address.

        ``a_address`` and ``b_address`` carry their prefix (``"10.0.0.1/24"``);
        ``link_options`` are :class:`Link`'s (latency, bandwidth, mtu, loss...).
        """
        link = Link(loop=self.loop, rng=self.rng, log=self.packets, **link_options)
        for node, address in ((a, a_address), (b, b_address)):
            interface = node.add_interface(address)
            interface.link = link
            link.attach(interface)
        self.links.append(link)
        return link

    def network(self, host: Host) -> SimNetwork:
        """The :class:`webtrip.net.Network` that an actor on ``host`` lives in."""
        return SimNetwork(self, host)

    # --- time -----------------------------------------------------------------------

    def now(self) -> float:
        """Virtual seconds since the world began."""
        return self.loop.time()

    def wall_time(self) -> float:
        """The world's calendar time (Unix seconds): the epoch plus virtual time."""
        return self.epoch + self.loop.time()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` in the world until it finishes, and return its result.

        Other tasks (servers) pause when it finishes and go on at the next
        ``run``. Raises what ``coro`` raises, or SimulationStalled.

        While it runs, the garbage collector uses :data:`GC_THRESHOLDS` (or the
        process's own, where higher); they are put back afterwards.
        """
        old = gc.get_threshold()
        higher = (max(mine, theirs) for mine, theirs in zip(GC_THRESHOLDS, old, strict=True))
        gc.set_threshold(*higher)
        try:
            return self.loop.run_until_complete(coro)
        finally:
            gc.set_threshold(*old)

    def close(self) -> None:
        """Cancel the tasks still running and close the loop."""
        if self.loop.is_closed():
            return
        tasks = self.loop.unfinished_tasks()  # oldest first: the same order every run
        for task in tasks:
            task.cancel()
        try:
            if tasks:
                self.loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        except SimulationStalled:
            pass  # a task that ignores cancellation: nothing more can be done for it
        finally:
            self.loop.close()

    def __enter__(self) -> SimWorld:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- captures -------------------------------------------------------------------

    def capture(self, at: Node | None = None) -> list[PacketRecord]:
        """The packets a capture would show: at one node's interfaces, or on every link."""
        if at is None:
            return self.packets.sent_on_links()
        return self.packets.seen_at(at.name)

    def pcap(self, at: Node | None = None) -> bytes:
        """A pcap file of :meth:`capture` ``(at)``, stamped with the world's calendar time."""
        return pcap_bytes(((r.t, r.data) for r in self.capture(at)), epoch=self.epoch)

    def write_pcap(self, path: str | os.PathLike[str], at: Node | None = None) -> None:
        write_pcap(path, ((r.t, r.data) for r in self.capture(at)), epoch=self.epoch)
