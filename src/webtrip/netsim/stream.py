"""A TCP connection as an actor holds it: :class:`SimStream`, the simulated world's socket.

The browser and the web server read and write byte streams through
:class:`webtrip.net.Stream`. On a real machine the kernel's TCP is behind it
(:class:`webtrip.net.real.RealStream`); here it is a
:class:`~webtrip.netsim.tcp.TcpConnection`, and :class:`SimStream` is the
application that the connection talks to. It behaves as RealStream does:

- what arrives waits in a buffer for ``receive_some``; when too much waits,
  the stream stops taking data from the connection (``pause_reading``), so
  the connection's receive buffer fills and the window it announces closes —
  the peer slows down to the pace of the reader (back-pressure);
- ``receive_some`` returns ``b""`` once the peer has sent its FIN and
  everything before it has been read;
- ``send_all`` hands the bytes to the connection's send buffer, waiting for
  room (``on_writable``) when the peer or the network is slow;
- ``aclose`` sends a FIN after the queued data (a graceful close); ``abort``
  sends a RST;
- a refused connection raises ConnectionRefusedError, a SYN never answered
  TimeoutError; on an open connection a reset raises ConnectionResetError,
  and retransmissions given up a ConnectionError (errno ETIMEDOUT, or the
  last ICMP error the connection had, as Linux's ``sk_err_soft``);
- an ICMP error that answers the SYN ends ``connect`` at once with an
  OSError of Linux's errno: ENETUNREACH (net unreachable), EHOSTUNREACH
  (host unreachable, administratively prohibited, time exceeded),
  ECONNREFUSED (port unreachable: a ConnectionRefusedError)...

The connection's timers (retransmission, persist, TIME-WAIT) run on the
host's event loop through :class:`LoopTimers`.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import random
from collections.abc import Callable
from typing import Protocol

from webtrip.net import Address, Stream, TcpInfo, format_address
from webtrip.netsim.tcp import (
    CloseReason,
    TcpApplication,
    TcpConfig,
    TcpConnection,
    Timer,
)
from webtrip.packets.ipv4 import PROTOCOL_TCP
from webtrip.packets.tcp_segment import TcpSegment

RECEIVE_HIGH_WATER = 64 * 1024
"""Received bytes that may wait for the reader before the stream stops taking more."""


class StreamHost(Protocol):
    """What a stream needs of the host it is on (a :class:`~webtrip.netsim.host.Host`)."""

    loop: asyncio.AbstractEventLoop
    rng: random.Random

    def send_ip(self, source: str, destination: str, protocol: int, payload: bytes) -> None: ...
    def tcp_closed(self, stream: SimStream) -> None: ...


class Acceptor(Protocol):
    """The listening socket that accepted a stream (a ``TcpListeningSocket``)."""

    half_open: int  # handshakes begun and not yet done

    def accepted(self, stream: SimStream) -> None: ...


class SimStream(Stream, TcpApplication):
    """One TCP connection of a simulated host, as a :class:`webtrip.net.Stream`.

    ``listener`` is the listening socket that accepted it (None: we connected).
    """

    def __init__(
        self,
        host: StreamHost,
        local_address: Address,
        peer_address: Address,
        config: TcpConfig,
        *,
        listener: Acceptor | None = None,
    ) -> None:
        self.host = host
        self.local_address = local_address
        self.peer_address = peer_address
        self.listener = listener
        self.connection = TcpConnection(
            local_address[1],
            peer_address[1],
            emit=self._emit,
            timers=LoopTimers(host.loop),
            clock=host.loop.time,
            rng=host.rng,
            app=self,
            config=config,
        )
        self._buffer = bytearray()
        self._reading_paused = False
        self._eof = False
        self._closing = False  # aclose() was called: what arrives now is thrown away
        self._closed = False
        self.established = False
        self._error: OSError | None = None
        self._icmp_detail = ""  # which ICMP error, from where: for the error's message
        self._connected: asyncio.Future[None] | None = None
        self._read_waiter: asyncio.Future[None] | None = None
        self._write_waiter: asyncio.Future[None] | None = None

    @property
    def key(self) -> tuple[str, int, str, int]:
        """The connection's address pair: (local address, local port, peer address, peer port)."""
        return (*self.local_address, *self.peer_address)

    def __repr__(self) -> str:
        local, peer = format_address(self.local_address), format_address(self.peer_address)
        return f"<SimStream {local} → {peer} {self.connection.state}>"

    # --- opening (active) -----------------------------------------------------------

    async def connect(self) -> None:
        """Send the SYN and wait for the handshake to finish.

        Raises ConnectionRefusedError or TimeoutError. If the caller gives up
        (cancellation, an ``asyncio.timeout``), the attempt is aborted.
        """
        self._connected = self.host.loop.create_future()
        self.connection.connect()
        try:
            await self._connected
        except asyncio.CancelledError:
            self.connection.abort()
            raise

    def icmp_error(self, seq: int, error: int, detail: str, *, ends_half_open: bool) -> None:
        """An ICMP error about our segment ``seq``, as errno ``error``; ``detail`` says which
        (``ends_half_open``: see :meth:`TcpConnection.icmp_error`)."""
        believed_before = self._icmp_detail
        self._icmp_detail = detail  # before the call: it may close the connection
        if not self.connection.icmp_error(seq, error, ends_half_open=ends_half_open):
            self._icmp_detail = believed_before  # a forged or stale one says nothing

    def mtu_reduced(self, seq: int, mss: int, detail: str) -> bool:
        """ICMP "fragmentation needed" about our segment ``seq``: segments of ``mss`` at most.

        Returns whether the connection believed it.
        """
        believed = self.connection.mtu_reduced(seq, mss)
        if believed:
            self._icmp_detail = detail
        return believed

    # --- the Stream interface -------------------------------------------------------

    async def receive_some(self, max_bytes: int = 65536) -> bytes:
        while not self._buffer:
            if self._error is not None:
                raise _copy(self._error)
            if self._eof or self._closing:
                return b""
            self._read_waiter = self.host.loop.create_future()
            try:
                await self._read_waiter
            finally:
                self._read_waiter = None
        data = bytes(self._buffer[:max_bytes])
        del self._buffer[:max_bytes]
        if self._reading_paused and len(self._buffer) <= RECEIVE_HIGH_WATER // 2:
            self._reading_paused = False
            self.connection.resume_reading()
        return data

    async def send_all(self, data: bytes) -> None:
        sent = 0
        view = memoryview(data)  # slices of it are not copies
        while True:
            self._check_can_send()
            sent += self.connection.send(view[sent:])  # type: ignore[arg-type]
            if sent >= len(data):
                return
            self._write_waiter = self.host.loop.create_future()
            try:
                await self._write_waiter
            finally:
                self._write_waiter = None

    def _check_can_send(self) -> None:
        if self._error is not None:
            raise _copy(self._error)
        if self._closed or self._closing:
            raise ConnectionError("the connection is closed")

    def tcp_info(self) -> TcpInfo:
        """The connection's counters, as Linux's TCP_INFO gives them (cwnd in segments)."""
        connection = self.connection
        counters = connection.counters
        rtt = connection.rtt
        return TcpInfo(
            segments_out=counters.segments_out,
            segments_in=counters.segments_in,
            data_segments_out=counters.data_segments_out,
            data_segments_in=counters.data_segments_in,
            retransmissions=counters.retransmissions,
            rtt=rtt.srtt or 0.0,
            rtt_variance=rtt.rttvar or 0.0,
            mss_out=connection.send_mss,
            mss_in=connection.config.mss,
            congestion_window=connection.congestion.cwnd // max(connection.send_mss, 1),
            bytes_acked=counters.bytes_acked,
            bytes_received=counters.bytes_received,
        )

    async def aclose(self) -> None:
        """Send a FIN after the queued data. Like closing a socket, it does not wait."""
        if self._closing or self._closed:
            return
        self._closing = True
        self._buffer.clear()
        if self._reading_paused:  # let the peer's FIN in: what comes before it is dropped
            self._reading_paused = False
            self.connection.resume_reading()
        self.connection.close()
        self._wake_all()

    def abort(self) -> None:
        """Send a RST and forget the connection at once."""
        self._closing = True
        self.connection.abort()
        self._wake_all()

    # --- what the connection tells us (TcpApplication) ------------------------------

    def on_established(self) -> None:
        self.established = True
        if self._connected is not None and not self._connected.done():
            self._connected.set_result(None)
        if self.listener is not None:
            self.listener.accepted(self)

    def on_data(self, data: bytes) -> None:
        if self._closing:
            return
        self._buffer += data
        if len(self._buffer) > RECEIVE_HIGH_WATER and not self._reading_paused:
            self._reading_paused = True
            self.connection.pause_reading()
        _wake(self._read_waiter)

    def on_eof(self) -> None:
        self._eof = True
        _wake(self._read_waiter)

    def on_writable(self) -> None:
        _wake(self._write_waiter)

    def on_closed(self, reason: CloseReason) -> None:
        self._closed = True
        self._eof = True
        peer = format_address(self.peer_address)
        if reason is CloseReason.REFUSED:
            self._error = ConnectionRefusedError(
                errno.ECONNREFUSED, f"{peer} refused the connection (nothing listens there)"
            )
        elif reason is CloseReason.RESET:
            self._error = ConnectionResetError(errno.ECONNRESET, f"{peer} reset the connection")
        elif reason is CloseReason.TIMEOUT:
            # ConnectionError, as RealStream reports a failure on an open connection;
            # with the last ICMP error if there was one, as Linux reports sk_err_soft.
            soft = self.connection.soft_error
            if soft is None:
                message = f"{peer} stopped answering (timed out)"
            else:
                message = f"{peer} stopped answering (timed out): {_error_text(soft)}"
                if self._icmp_detail:
                    message += f" ({self._icmp_detail})"
            self._error = ConnectionError(soft or errno.ETIMEDOUT, message)
        elif reason is CloseReason.UNREACHABLE:
            error = self.connection.error or errno.EHOSTUNREACH
            self._error = OSError(error, f"{_error_text(error)} ({self._icmp_detail})")
        connected = self._connected
        if connected is not None and not connected.done():
            if reason is CloseReason.TIMEOUT:  # as connect() does: the SYN was never answered
                message = f"{peer} did not answer"
                if self.connection.soft_error is not None:
                    message += f" ({_error_text(self.connection.soft_error)})"
                connected.set_exception(TimeoutError(errno.ETIMEDOUT, message))
            elif self._error is not None:
                connected.set_exception(_copy(self._error))
            else:
                connected.set_exception(ConnectionError("the connection closed while opening"))
        self._wake_all()
        self.host.tcp_closed(self)

    # --- plumbing -------------------------------------------------------------------

    def _emit(self, segment: TcpSegment) -> None:
        source, destination = self.local_address[0], self.peer_address[0]
        self.host.send_ip(source, destination, PROTOCOL_TCP, segment.encode(source, destination))

    def _wake_all(self) -> None:
        _wake(self._read_waiter)
        _wake(self._write_waiter)


# --- the connection's timers, on the host's event loop ---------------------------------


class _Cancellable(Protocol):
    def cancel(self) -> None: ...


class _CallLater(Protocol):
    def call_later(self, delay: float, callback: Callable[[], object], /) -> _Cancellable: ...


class LoopTimers:
    """:class:`~webtrip.netsim.tcp.Timers` on an event loop's ``call_later`` (asyncio's, or
    the virtual-time loop's).

    A :class:`~webtrip.netsim.tcp.TcpConnection` knows no clock: it asks for a timer by
    name and is called back when it fires. This keeps one loop handle per name, so that
    setting a timer again replaces it and cancelling it stops it.
    """

    def __init__(self, loop: _CallLater) -> None:
        self._loop = loop
        self._pending: dict[Timer, _Cancellable] = {}
        # The virtual-time loop's cheaper timers (same times, same order), if it is one.
        self._call_later_fast = getattr(loop, "call_later_fast", None)

    def set_timer(self, name: Timer, delay: float, expired: Callable[[], None]) -> None:
        self.cancel_timer(name)
        if self._call_later_fast is not None:
            self._pending[name] = self._call_later_fast(delay, self._fire_fast, (name, expired))
            return
        fire = functools.partial(self._fire, name, expired)
        self._pending[name] = self._loop.call_later(delay, fire)

    def cancel_timer(self, name: Timer) -> None:
        handle = self._pending.pop(name, None)
        if handle is not None:
            handle.cancel()

    def _fire(self, name: Timer, expired: Callable[[], None]) -> None:
        del self._pending[name]
        expired()

    def _fire_fast(self, timer: tuple[Timer, Callable[[], None]]) -> None:
        name, expired = timer
        del self._pending[name]
        expired()


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


_ERROR_TEXTS = {
    errno.ENETUNREACH: "network is unreachable",
    errno.EHOSTUNREACH: "no route to host",
    errno.ECONNREFUSED: "connection refused",
    errno.ENOPROTOOPT: "protocol not available",
    errno.EMSGSIZE: "message too long for the path",
    errno.EHOSTDOWN: "host is down",
}


def _error_text(error: int) -> str:
    """An errno in words, the same on every platform (the C library's words vary)."""
    return _ERROR_TEXTS.get(error) or f"error {errno.errorcode.get(error, error)}"


def _copy(error: OSError) -> OSError:
    """A fresh exception like ``error`` (raising one object twice chains its tracebacks)."""
    return type(error)(*error.args)
