"""The DNS server actor: UDP and TCP transport around a :class:`Responder`.

The responder decides what to answer: :class:`~webtrip.dns.authority.Authority`
for an authoritative server (``webtrip dns serve``), or
:class:`~webtrip.dns.resolver_service.ResolverService` for a recursive resolver
(``webtrip dns resolver``). Given a query's bytes it returns the response's
bytes at once, None (drop it), or an awaitable of either when the answer
must first be found elsewhere.

UDP: one datagram in, at most one datagram out — an answer known at once is
sent from the datagram callback, the fastest path asyncio offers; one that
must be awaited is sent by a task when it is ready.

TCP (RFC 7766): each message is preceded by its two-byte length; a client may
send several queries on one connection, even before the first answer arrives
(pipelining), and gets the answers in order. No client can hold the
server's memory or its connection slots:

- back-pressure: answers go to the socket in batches of at most
  :data:`TCP_BATCH_BYTES`, and each batch waits until the kernel has taken the
  previous one (asyncio's write buffer stays under its 64 KB high-water mark);
  while a connection's answers wait, its further queries are not read, so a
  client that pipelines queries and never reads costs a bounded amount
  (about 64 KB of unsent answers, 256 KB of unread queries, and at most
  :data:`MAX_TCP_PENDING` answers still being found);
- a send timeout (``tcp_send_timeout``, 5 s by default, like NSD's and
  Unbound's TCP timeouts): a connection whose answers do not drain in that
  time is reset, its unsent answers dropped;
- an idle timeout (10 s by default; RFC 7766 §6.2.3 asks for seconds, not
  minutes) and a deadline for a message once started;
- a small kernel send buffer (:data:`TCP_SEND_BUFFER`) on each accepted
  connection, so that a client that does not read stalls the server's
  sending within a batch or two — and becomes reclaimable — instead of after
  the megabytes a loopback socket would otherwise take;
- a cap on connections; when it is reached, one is closed to make room —
  reclaimed, as NSD and nginx do under load: the one idle longest (nothing
  half-received, nothing being found or sent); failing that, the one whose
  half-received message started longest ago (a client that sends a byte of
  a length and then nothing: slowloris); failing that, the one whose answers
  have waited longest unread. A connection is idle only after
  :data:`TCP_IDLE_GRACE`, slow after :data:`TCP_SLOW_GRACE`, and unread after
  :data:`TCP_UNREAD_GRACE` (at most half the send timeout), so that an honest
  client just accepted — its query not yet read — or briefly slow to read is
  never the one taken. When every open one is
  busy, new clients wait in the kernel's listen queue (as with NSD) until
  room is made; a listener that cannot leave them waiting (the simulated
  world's) has the new connection closed instead ("connection limit").

Everything the server does is recorded in the trace; the server itself
prints nothing.
"""

from __future__ import annotations

import asyncio
import errno
import inspect
import ipaddress
import itertools
import struct
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Protocol

from webtrip.dns.protocol import TCP, UDP
from webtrip.dns.rrl import RateLimiter
from webtrip.net import Address, DatagramEndpoint, Network, Stream, TcpListener
from webtrip.trace import (
    NULL_TRACE,
    DnsMessageDropped,
    DnsMessageReceived,
    DnsMessageSent,
    TcpConnectionClosed,
    TcpConnectionOpened,
    Trace,
)

_LENGTH = struct.Struct("!H")
MAX_TCP_PENDING = 16  # answers being found at once for one TCP connection
TCP_BATCH_BYTES = 16 * 1024  # answers gathered before they are handed to the socket...
TCP_BATCH_MESSAGES = 64  # ...or this many, before other connections get their turn
TCP_SEND_BUFFER = 64 * 1024  # SO_SNDBUF asked for each accepted connection (Linux doubles it)
# Connections the kernel may hold waiting to be accepted (Linux caps it at
# net.core.somaxconn). When the cap is full of slow clients, an honest one waits
# here for its turn; a short queue would drop its SYN instead, and a client
# retries a SYN only after a second or more. (nginx listens with 511, NSD 256.)
TCP_LISTEN_BACKLOG = 1024
# Seconds a connection must have been idle before it can be reclaimed: a
# just-accepted client whose query is on its way is not idle. Short, because the
# clients waiting in the listen queue are taken one per reclaim: with 128 places,
# a queue of a thousand idle connections drains in about a second.
TCP_IDLE_GRACE = 0.1
# Seconds a message must have been half-received before its connection can be
# reclaimed as slow: an honest client's query arrives in one segment or two.
TCP_SLOW_GRACE = 0.5
# Seconds a connection's answers must have waited unread (at most half the send
# timeout) before it can be reclaimed: a reader that is only briefly slow keeps its place.
TCP_UNREAD_GRACE = 1.0

Reply = bytes | None


class Responder(Protocol):
    """What a DNS server answers: bytes in, bytes (or None: drop) out, now or later."""

    def respond(self, wire: bytes, transport: str, peer: Address) -> Reply | Awaitable[Reply]:
        """The response to the message ``wire`` from ``peer``; never raises.

        A responder may also have ``async aclose()``, called when the server closes.
        """
        ...


class DnsServer:
    """A DNS server whose answers come from ``responder`` (an Authority, a resolver...)."""

    def __init__(
        self,
        network: Network,
        responder: Responder,
        trace: Trace = NULL_TRACE,
        *,
        actor: str = "dns-server",
        tcp_idle_timeout: float = 10.0,
        tcp_message_timeout: float = 5.0,
        tcp_send_timeout: float = 5.0,
        max_tcp_connections: int = 128,
        rate_limiter: RateLimiter | None = None,
        limit_loopback: bool = False,
    ) -> None:
        self.network = network
        self.responder = responder
        self.trace = trace
        self.actor = actor
        self.tcp_idle_timeout = tcp_idle_timeout
        self.tcp_message_timeout = tcp_message_timeout
        self.tcp_send_timeout = tcp_send_timeout
        self.max_tcp_connections = max_tcp_connections
        # Response-rate limiting of UDP answers (see webtrip.dns.rrl): on
        # listeners other than loopback, and on loopback too if asked.
        self.rate_limiter = rate_limiter
        self.limit_loopback = limit_loopback
        self.udp_endpoints: list[DatagramEndpoint] = []
        self.tcp_listeners: list[TcpListener] = []
        self._tcp_connections: dict[int, _Later] = {}  # the open ones, by number
        self._connection_ids = itertools.count(1)
        self._pending: set[asyncio.Task[None]] = set()  # answers still being found
        self._gated = False  # new clients wait in the listen queue when there is no room

    @property
    def addresses(self) -> list[Address]:
        """The addresses the server listens on (UDP and TCP alike)."""
        return [endpoint.local_address for endpoint in self.udp_endpoints]

    async def start(self, addresses: Sequence[Address]) -> None:
        """Listen on UDP and TCP at each address.

        Raises OSError naming the address when one cannot be bound; nothing is
        left listening in that case.
        """
        try:
            for host, port in addresses:
                await self._listen(host, port)
        except OSError as exc:
            await self.aclose()
            where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            raise OSError(exc.errno, f"cannot listen on {where}: {exc.strerror or exc}") from exc

    async def _listen(self, host: str, port: int) -> None:
        """UDP and TCP on one address; port 0 picks a port free for both."""
        for _ in range(1 if port else 20):
            endpoint = await self._open_udp(host, port)
            try:
                listener = await self.network.start_tcp_server(
                    self._serve_tcp, host, endpoint.local_address[1], backlog=TCP_LISTEN_BACKLOG
                )
            except OSError as exc:
                self.udp_endpoints.remove(endpoint)
                endpoint.close()
                if port or exc.errno != errno.EADDRINUSE:
                    raise
                continue  # that UDP port's TCP twin is taken: try another
            listener.limit_send_buffer(TCP_SEND_BUFFER)
            self._gated = listener.gate(self._admit)
            self.tcp_listeners.append(listener)
            return
        raise OSError(errno.EADDRINUSE, "no port was free for both UDP and TCP")

    async def aclose(self) -> None:
        """Stop listening, and give up the answers still being found."""
        for endpoint in self.udp_endpoints:
            endpoint.close()
        for listener in self.tcp_listeners:
            await listener.aclose()
        self.udp_endpoints.clear()
        self.tcp_listeners.clear()
        for task in list(self._pending):
            task.cancel()
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        closer = getattr(self.responder, "aclose", None)
        if closer is not None:
            await closer()  # a resolver gives up its resolutions too

    # --- UDP ----------------------------------------------------------------------

    def _limiter_for(self, host: str) -> RateLimiter | None:
        """The rate limiter of a UDP listener on ``host``, if its answers are limited.

        Loopback is left alone unless asked: every local client shares
        127.0.0.0/24, so one busy tool would starve the others, and no forged
        source address can reach a loopback listener from outside the machine.
        """
        if self.rate_limiter is None or self.limit_loopback:
            return self.rate_limiter
        try:
            loopback = ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
        except ValueError:
            loopback = host == "localhost"
        return None if loopback else self.rate_limiter

    async def _open_udp(self, host: str, port: int) -> DatagramEndpoint:
        endpoint: DatagramEndpoint | None = None
        respond, trace, now = self.responder.respond, self.trace, self.network.now
        limiter = self._limiter_for(host)

        def on_datagram(data: bytes, peer: Address) -> None:
            assert endpoint is not None
            if not trace.enabled:
                response = respond(data, UDP, peer)
                if type(response) is bytes:
                    if limiter is not None:
                        response = limiter.check(response, peer[0], now())
                        if response is None:
                            return
                    endpoint.send(response, peer)
                elif response is not None:
                    self._later(response, endpoint, data, peer, 0.0, limiter)  # type: ignore[arg-type]
                return
            received = trace.now()
            trace.record(
                DnsMessageReceived(received, self.actor, UDP, endpoint.local_address, peer, data)
            )
            response = respond(data, UDP, peer)
            if response is None or type(response) is bytes:
                self._send_udp(endpoint, data, peer, response, received, limiter)
            else:
                self._later(response, endpoint, data, peer, received, limiter)  # type: ignore[arg-type]

        endpoint = await self.network.open_udp_endpoint(host, port, on_datagram=on_datagram)
        self.udp_endpoints.append(endpoint)
        return endpoint

    def _send_udp(
        self,
        endpoint: DatagramEndpoint,
        query: bytes,
        peer: Address,
        response: bytes | None,
        received: float,
        limiter: RateLimiter | None = None,
    ) -> None:
        trace, local = self.trace, endpoint.local_address
        reason = ""
        if response is None:
            reason = _drop_reason(query)
        elif limiter is not None:
            response = limiter.check(response, peer[0], self.network.now())
            reason = "rate limited" if response is None else ""
        if response is None:
            dropped = DnsMessageDropped(trace.now(), self.actor, UDP, local, peer, query, reason)
            trace.record(dropped)
            return
        endpoint.send(response, peer)
        trace.record(DnsMessageSent(trace.now(), self.actor, UDP, local, peer, response, received))

    def _later(
        self,
        pending: Awaitable[Reply],
        endpoint: DatagramEndpoint,
        query: bytes,
        peer: Address,
        received: float,
        limiter: RateLimiter | None = None,
    ) -> None:
        """Send the answer to a UDP query when the responder has found it."""

        async def finish() -> None:
            response = await pending
            if endpoint in self.udp_endpoints:  # still serving
                self._send_udp(endpoint, query, peer, response, received, limiter)

        task = asyncio.ensure_future(finish())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    # --- TCP ----------------------------------------------------------------------

    async def _serve_tcp(self, stream: Stream) -> None:
        trace, actor = self.trace, self.actor
        local, peer = stream.local_address, stream.peer_address
        connection = next(self._connection_ids)
        connections = self._tcp_connections
        if len(connections) >= self.max_tcp_connections and not self._reclaim_idlest():
            trace.record(TcpConnectionOpened(trace.now(), actor, local, peer, connection))
            await stream.aclose()
            trace.record(
                TcpConnectionClosed(trace.now(), actor, local, peer, connection, "connection limit")
            )
            return
        later = _Later(stream, self.tcp_send_timeout, self.network.now)
        connections[connection] = later
        trace.record(TcpConnectionOpened(trace.now(), actor, local, peer, connection))
        reason = "server error"
        try:
            reason = await self._tcp_messages(stream, later)
            reason = later.ended or reason  # closed by the server itself (send timeout, reclaimed)
        except ConnectionError:
            reason = later.ended or "connection reset"
        except asyncio.CancelledError:
            reason = "server stopped"  # shut down while the connection was still open
            raise
        finally:
            # Answers still being found: delivered if the client only stopped
            # asking (within the idle timeout), given up otherwise.
            if later.tasks and reason in ("client closed", "idle timeout"):
                await asyncio.wait(later.tasks, timeout=self.tcp_idle_timeout)
            await later.cancel()
            if connections.get(connection) is later:
                del connections[connection]
                if self._gated:
                    self._room_made()
            if reason in ("connection reset", "send timeout") or later.sending:
                stream.abort()  # what was not sent is dropped
            else:
                await stream.aclose()
            trace.record(TcpConnectionClosed(trace.now(), actor, local, peer, connection, reason))

    def _admit(self, arriving: int) -> bool:
        """Room for one more connection besides the ``arriving`` ones, reclaiming if need be."""
        # The room is made now, as the connection is taken: counting reclaimable
        # ones here and reclaiming later would find them busy again by then, and
        # the new client, taken, would be closed ("connection limit").
        while len(self._tcp_connections) + arriving + 1 > self.max_tcp_connections:
            if not self._reclaim_idlest():
                return False
        return True

    def _room_made(self) -> None:
        for listener in self.tcp_listeners:
            listener.resume()

    def _reclaim_idlest(self) -> bool:
        """Make room for a new connection; False if every open one is busy.

        The victim is the connection idle longest; failing that, the one whose
        half-received message started longest ago (a slow sender); failing
        that, the one whose answers have waited longest for the client to
        read them (a client that does not read). One finding an answer, or
        within its grace time, is never taken.
        """
        now = self.network.now()
        victim: tuple[int, float, int] | None = None
        for number, later in self._tcp_connections.items():
            rank = later.reclaimable(now)
            if rank is not None and (victim is None or rank < victim[:2]):
                victim = (*rank, number)
        if victim is None:
            return False
        self._tcp_connections.pop(victim[2]).end(_RECLAIMED[victim[0]])
        return True

    async def _tcp_messages(self, stream: Stream, later: _Later) -> str:
        """Answer length-prefixed queries until the connection should end; say why it ended."""
        trace, actor = self.trace, self.actor
        local, peer = stream.local_address, stream.peer_address
        buffer = bytearray()
        while True:
            # Wait for the next message: the idle timeout runs while nothing has
            # arrived, a (shorter) deadline once a message has started.
            loop = asyncio.get_running_loop()
            timeout = self.tcp_message_timeout if buffer else self.tcp_idle_timeout
            started = bool(buffer)
            try:
                async with asyncio.timeout(timeout) as deadline:
                    while True:
                        if len(buffer) >= 2:
                            (length,) = _LENGTH.unpack_from(buffer)
                            if length == 0:
                                return "empty message"
                            if len(buffer) >= 2 + length:
                                break
                        data = await stream.receive_some(65537)
                        if not data:
                            return "client closed" if not buffer else "client closed mid-message"
                        if not buffer:
                            later.partial_since = later.clock()  # a message has started
                        buffer += data
                        later.receiving = True
                        if not started:
                            started = True
                            deadline.reschedule(loop.time() + self.tcp_message_timeout)
            except TimeoutError:
                if later.tasks and not buffer:
                    continue  # not idle: answers are still being found
                return "idle timeout" if not buffer else "message timeout"
            # Answer every complete message already received (pipelining). An
            # answer known at once goes out with the others of this batch; one
            # that must be found (a resolver's) is sent by a task when ready —
            # out of order, as RFC 7766 §6.2.1.1 allows, so that a slow question
            # does not hold back the rest.
            replies, batch = bytearray(), 0
            while len(buffer) >= 2:
                (length,) = _LENGTH.unpack_from(buffer)
                if length == 0 or len(buffer) < 2 + length:
                    break
                message = bytes(buffer[2 : 2 + length])
                del buffer[: 2 + length]
                later.last_active = later.partial_since = later.clock()
                received = trace.now()
                trace.record(DnsMessageReceived(received, actor, TCP, local, peer, message))
                response = self.responder.respond(message, TCP, peer)
                if inspect.isawaitable(response):
                    if len(later.tasks) >= MAX_TCP_PENDING:
                        await later.send(bytes(replies))
                        replies.clear()
                        await asyncio.wait(later.tasks, return_when=asyncio.FIRST_COMPLETED)
                    later.start(self._tcp_later(later, response, message, received))
                    continue
                if response is None:
                    trace.record(
                        DnsMessageDropped(
                            trace.now(), actor, TCP, local, peer, message, _drop_reason(message)
                        )
                    )
                    await later.send(bytes(replies))
                    return "unanswerable message"
                replies += _LENGTH.pack(len(response)) + response
                trace.record(
                    DnsMessageSent(trace.now(), actor, TCP, local, peer, response, received)
                )
                batch += 1
                if len(replies) >= TCP_BATCH_BYTES or batch >= TCP_BATCH_MESSAGES:
                    # Back-pressure: this waits while the client is not reading,
                    # and meanwhile no more of its queries are read. Then the
                    # other connections get their turn (fairness).
                    await later.send(bytes(replies))
                    replies.clear()
                    batch = 0
                    await asyncio.sleep(0)
            later.receiving = bool(buffer)
            await later.send(bytes(replies))

    async def _tcp_later(
        self, later: _Later, pending: Awaitable[Reply], message: bytes, received: float
    ) -> None:
        """Send one answer on a TCP connection when the responder has found it."""
        trace, actor, stream = self.trace, self.actor, later.stream
        local, peer = stream.local_address, stream.peer_address
        response = await pending
        if response is None:
            reason = _drop_reason(message)
            trace.record(DnsMessageDropped(trace.now(), actor, TCP, local, peer, message, reason))
            return
        try:
            await later.send(_LENGTH.pack(len(response)) + response)
        except ConnectionError:
            return  # the client has gone; the connection's own loop will see it too
        trace.record(DnsMessageSent(trace.now(), actor, TCP, local, peer, response, received))


class _Later:
    """A TCP connection's state: answers still being found, writes kept whole and timed."""

    def __init__(self, stream: Stream, send_timeout: float, clock: Callable[[], float]) -> None:
        self.stream = stream
        self.send_timeout = send_timeout
        self.clock = clock
        self.tasks: set[asyncio.Task[None]] = set()
        self.last_active = clock()  # when a query last arrived or an answer left
        self.receiving = False  # part of a message has arrived
        self.partial_since = self.last_active  # when the message being received started
        self.stalled_since = self.last_active  # when the oldest write under way began
        self.sending = 0  # writes under way or waiting for their turn
        self.ended: str | None = None  # why the server ended it from outside its loop
        self._closing: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    @property
    def idle(self) -> bool:
        """Nothing half-received, being found or being sent: closing it loses nothing."""
        return not (self.tasks or self.receiving or self.sending or self.ended)

    def reclaimable(self, now: float) -> tuple[int, float] | None:
        """Whether closing this connection for a new one is fair: (rank, since) or None.

        Rank 0: idle for :data:`TCP_IDLE_GRACE`; 1: a message half-received
        and started :data:`TCP_SLOW_GRACE` ago, nothing being found or sent; 2: its
        answers unread for :data:`TCP_UNREAD_GRACE` (at most half the send
        timeout). ``since``: how long
        it has been so — the lowest rank, then the oldest, is taken first.
        """
        if self.ended or self.tasks:
            return None
        if self.sending:
            stalled = self.stalled_since
            unread = min(TCP_UNREAD_GRACE, self.send_timeout / 2)
            return (2, stalled) if now - stalled >= unread else None
        if not self.receiving:
            idle = self.last_active
            return (0, idle) if now - idle >= TCP_IDLE_GRACE else None
        started = self.partial_since
        return (1, started) if now - started >= TCP_SLOW_GRACE else None

    def start(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def send(self, data: bytes) -> None:
        """Hand ``data`` to the socket; ConnectionError if it does not drain in time."""
        if not data:
            return
        if not self.sending:
            self.stalled_since = self.clock()
        self.sending += 1
        try:
            async with self._lock:
                if self.ended:
                    raise ConnectionError(self.ended)
                try:
                    async with asyncio.timeout(self.send_timeout):
                        await self.stream.send_all(data)
                except TimeoutError:
                    self.end("send timeout")
                    raise ConnectionError("send timeout") from None
        finally:
            self.sending -= 1
            if self.sending:  # the next write waiting for its turn starts its own wait
                self.stalled_since = self.clock()
        self.last_active = self.clock()

    def end(self, reason: str) -> None:
        """End the connection from outside its loop, which then sees it closed."""
        if self.ended:
            return
        self.ended = reason
        if self.sending:  # answers the client does not read: dropped
            self.stream.abort()
        else:
            self._closing = asyncio.ensure_future(self.stream.aclose())

    async def cancel(self) -> None:
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


_RECLAIMED = ("reclaimed: idle", "reclaimed: slow message", "reclaimed: unread")


def _drop_reason(data: bytes) -> str:
    if len(data) < 12:
        return "shorter than a DNS header"
    if data[2] & 0x80:
        return "a response, not a query"
    return "not answerable"
