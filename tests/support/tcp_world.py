"""A tiny deterministic world for the TCP tests.

Two hosts, A (10.0.0.1, the client) and B (10.0.0.2, the server), joined by
two one-way pipes. Time is virtual: a discrete-event :class:`Scheduler` jumps
from one event to the next. Each pipe has a delay, and can lose segments (by
index, or at random with a seeded generator), duplicate them and reorder them
(a random extra delay). Segments cross the pipe as bytes — encoded with the
checksum and decoded again — so the codec is exercised by every test. Each
host keeps a log of what it sent and received, for the tests to read.

The TCP test modules import it as ``support.tcp_world``; its own tests are in
``tests/netsim/test_tcp_world.py``.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from webtrip.netsim.stream import LoopTimers
from webtrip.netsim.tcp import (
    CloseReason,
    TcpApplication,
    TcpConfig,
    TcpConnection,
    TcpListener,
    reset_for,
)
from webtrip.netsim.tcp_state import Event, State
from webtrip.packets.tcp_segment import Flags, TcpSegment

A_IP = "10.0.0.1"
B_IP = "10.0.0.2"
CLIENT_PORT = 40000
SERVER_PORT = 80


class Handle:
    """A scheduled callback that may still be cancelled."""

    def __init__(self, callback: Callable[[], object]) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Scheduler:
    """Discrete events on a virtual clock; equal times run in the order they were set."""

    def __init__(self) -> None:
        self.now = 0.0
        self._queue: list[tuple[float, int, Handle]] = []
        self._numbers = itertools.count()

    def call_later(self, delay: float, callback: Callable[[], object]) -> Handle:
        handle = Handle(callback)
        heapq.heappush(self._queue, (self.now + delay, next(self._numbers), handle))
        return handle

    def run(self, until: float = float("inf"), max_events: int = 1_000_000) -> None:
        """Run events in time order until none is left or the next is after ``until``."""
        for _ in range(max_events):
            if not self._queue or self._queue[0][0] > until:
                if until != float("inf"):
                    self.now = max(self.now, until)
                return
            when, _, handle = heapq.heappop(self._queue)
            if not handle.cancelled:
                self.now = when
                handle.callback()
        raise AssertionError(f"more than {max_events} events: a loop that never ends?")


@dataclass
class Conditions:
    """What one direction of the path does to segments."""

    delay: float = 0.05
    loss: float = 0.0
    drop: Iterable[int] = ()
    """Indices (0 = the first segment sent this way) of segments to lose."""
    drop_if: Callable[[TcpSegment], bool] | None = None
    """Lose every segment for which this is true (a black hole, say)."""
    duplicate: float = 0.0
    reorder: float = 0.0
    """The chance that a segment is held up by a random extra delay of up to 2·delay."""


@dataclass(frozen=True)
class Record:
    """One segment in a host's log."""

    time: float
    direction: str  # "out" or "in"
    segment: TcpSegment

    @property
    def flags(self) -> str:
        return flag_names(self.segment)


def flag_names(segment: TcpSegment) -> str:
    """The control flags as RFC 9293 writes them: "SYN,ACK", "FIN,ACK", "ACK"..."""
    order = [Flags.SYN, Flags.FIN, Flags.RST, Flags.PSH, Flags.ACK]
    return ",".join(str(flag.name) for flag in order if flag in segment.flags)


class Pipe:
    """One direction of the path: segments go in as bytes and come out later, or not at all."""

    def __init__(
        self,
        scheduler: Scheduler,
        src_ip: str,
        dst_ip: str,
        conditions: Conditions,
        rng: random.Random,
        deliver: Callable[[TcpSegment], None],
    ) -> None:
        self.scheduler = scheduler
        self.src_ip = src_ip
        self.dst_ip = dst_ip
        self.conditions = conditions
        self.rng = rng
        self.deliver = deliver
        self.sent = 0
        self.lost: list[TcpSegment] = []

    def send(self, segment: TcpSegment) -> None:
        index = self.sent
        self.sent += 1
        wire = segment.encode(self.src_ip, self.dst_ip)
        c = self.conditions
        lost = self.rng.random() < c.loss
        if index in set(c.drop) or (c.drop_if is not None and c.drop_if(segment)) or lost:
            self.lost.append(segment)
            return
        copies = 2 if self.rng.random() < c.duplicate else 1
        for _ in range(copies):
            extra = self.rng.uniform(0, 2 * c.delay) if self.rng.random() < c.reorder else 0.0
            self.scheduler.call_later(c.delay + extra, lambda wire=wire: self._arrive(wire))

    def _arrive(self, wire: bytes) -> None:
        self.deliver(TcpSegment.decode(wire, self.src_ip, self.dst_ip))


class Recorder(TcpApplication):
    """An application that remembers everything the connection told it."""

    def __init__(self) -> None:
        self.connection: TcpConnection | None = None
        self.received = bytearray()
        self.events: list[str] = []
        self.changes: list[tuple[State, State, Event]] = []
        self.reason: CloseReason | None = None

    def on_established(self) -> None:
        self.events.append("established")

    def on_data(self, data: bytes) -> None:
        self.received += data
        self.events.append(f"data {len(data)}")

    def on_eof(self) -> None:
        self.events.append("eof")

    def on_writable(self) -> None:
        self.events.append("writable")

    def on_closed(self, reason: CloseReason) -> None:
        self.events.append(f"closed: {reason}")
        self.reason = reason

    def on_state_change(self, old: State, new: State, event: Event) -> None:
        self.changes.append((old, new, event))

    @property
    def states(self) -> list[State]:
        """The states the connection entered, in order."""
        return [new for _, new, _ in self.changes]


class Sender(Recorder):
    """Sends ``data`` as fast as the send buffer takes it, then closes — at once, or once
    the peer has closed (``close_when_sent=False``)."""

    def __init__(self, data: bytes, *, close_when_sent: bool = True) -> None:
        super().__init__()
        self.data = data
        self.offset = 0
        self.close_when_sent = close_when_sent
        self.peer_closed = False

    def on_established(self) -> None:
        super().on_established()
        self.push()

    def on_writable(self) -> None:
        super().on_writable()
        self.push()

    def on_eof(self) -> None:
        super().on_eof()
        self.peer_closed = True
        self.push()

    def push(self) -> None:
        assert self.connection is not None
        while self.offset < len(self.data):
            accepted = self.connection.send(self.data[self.offset : self.offset + 65536])
            self.offset += accepted
            if accepted == 0:
                return
        if self.close_when_sent or self.peer_closed:
            self.connection.close()


class Host:
    """A host's TCP demultiplexer: open connections by port pair, listeners by port, else RST."""

    def __init__(self, world: World, ip: str) -> None:
        self.world = world
        self.ip = ip
        self.connections: dict[tuple[int, int], TcpConnection] = {}
        self.listeners: dict[int, TcpListener] = {}
        self.log: list[Record] = []
        self.pipe_out: Pipe | None = None

    def emit(self, segment: TcpSegment) -> None:
        assert self.pipe_out is not None
        self.log.append(Record(self.world.scheduler.now, "out", segment))
        self.pipe_out.send(segment)

    def receive(self, segment: TcpSegment) -> None:
        self.log.append(Record(self.world.scheduler.now, "in", segment))
        connection = self.connections.get((segment.dst_port, segment.src_port))
        if connection is not None and connection.state is not State.CLOSED:
            connection.segment_received(segment)
            return
        listener = self.listeners.get(segment.dst_port)
        reply = listener.segment_received(segment) if listener else reset_for(segment)
        if reply is not None:
            self.emit(reply)

    def open(
        self,
        local_port: int,
        remote_port: int,
        app: TcpApplication,
        config: TcpConfig | None = None,
    ) -> TcpConnection:
        """A new connection, registered here under its port pair."""
        connection = TcpConnection(
            local_port,
            remote_port,
            emit=self.emit,
            timers=LoopTimers(self.world.scheduler),
            clock=lambda: self.world.scheduler.now,
            rng=self.world.rng,
            app=app,
            config=config or self.world.config,
        )
        if isinstance(app, Recorder):
            app.connection = connection
        self.connections[local_port, remote_port] = connection
        return connection

    def listen(
        self, port: int, make_app: Callable[[], TcpApplication], config: TcpConfig | None = None
    ) -> list[TcpConnection]:
        """Listen on ``port``; returns the list that accepted connections are added to."""
        accepted: list[TcpConnection] = []

        def spawn(syn: TcpSegment) -> TcpConnection:
            connection = self.open(port, syn.src_port, make_app(), config)
            accepted.append(connection)
            return connection

        self.listeners[port] = TcpListener(port, spawn)
        return accepted


@dataclass
class World:
    """Two hosts and the path between them, on one virtual clock, from one seed."""

    a_to_b: Conditions = field(default_factory=Conditions)
    b_to_a: Conditions = field(default_factory=Conditions)
    seed: int = 0
    config: TcpConfig = field(default_factory=TcpConfig)

    def __post_init__(self) -> None:
        self.scheduler = Scheduler()
        self.rng = random.Random(self.seed)
        self.a = Host(self, A_IP)
        self.b = Host(self, B_IP)
        self.a.pipe_out = Pipe(self.scheduler, A_IP, B_IP, self.a_to_b, self.rng, self.b.receive)
        self.b.pipe_out = Pipe(self.scheduler, B_IP, A_IP, self.b_to_a, self.rng, self.a.receive)

    def run(self, until: float = float("inf")) -> None:
        self.scheduler.run(until)

    def connect(
        self,
        client: TcpApplication | None = None,
        server: Callable[[], TcpApplication] | None = None,
        *,
        client_config: TcpConfig | None = None,
        server_config: TcpConfig | None = None,
    ) -> tuple[TcpConnection, list[TcpConnection]]:
        """B listens, A connects; returns A's connection and the list of B's accepted ones."""
        accepted = self.b.listen(SERVER_PORT, server or Recorder, server_config)
        connection = self.a.open(CLIENT_PORT, SERVER_PORT, client or Recorder(), client_config)
        connection.connect()
        return connection, accepted

    def trace(self) -> list[tuple[str, str]]:
        """Every segment as (who sent it, its flags), in the order they were sent."""
        records = [("A", r) for r in self.a.log if r.direction == "out"]
        records += [("B", r) for r in self.b.log if r.direction == "out"]
        records.sort(key=lambda item: item[1].time)
        return [(who, record.flags) for who, record in records]


def app_of(connection: TcpConnection) -> Recorder:
    assert isinstance(connection.app, Recorder)
    return connection.app
