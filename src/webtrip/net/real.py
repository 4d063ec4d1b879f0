"""The real world: :class:`Network` over the kernel's sockets with asyncio.

Streams are built on asyncio's low-level Protocol/Transport API rather than
StreamReader/StreamWriter: one small buffer, explicit flow control in both
directions, and nothing an actor does not ask for. asyncio already turns
Nagle's algorithm off (TCP_NODELAY) on every TCP transport it creates.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import errno
import os
import secrets
import socket
import ssl
import struct
import time
from collections.abc import Callable
from typing import Any, BinaryIO

from webtrip.net.base import (
    Address,
    DatagramEndpoint,
    DatagramHandler,
    FileEnded,
    Network,
    Stream,
    StreamHandler,
    TcpInfo,
    TcpListener,
    TlsInfo,
)

# Stop reading from the socket when this much received data waits for the
# actor; the peer's TCP then sees a closing window (back-pressure).
_RECEIVE_HIGH_WATER = 256 * 1024
# accept() errors that mean "no descriptor (or memory) left", not a bad peer.
_OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
_ACCEPT_BATCH = 32  # connections accepted per wake-up, at most (within limits.RESERVE)
_ACCEPT_RETRY = 0.1  # seconds to wait before accepting again when out of descriptors
_EXHAUSTED_REPORT_EVERY = 10.0  # seconds between two reports of it
# At most this many datagrams wait for receive(); more are dropped, as a
# kernel socket buffer would.
_DATAGRAM_QUEUE = 1024


def _address(sockaddr: tuple[Any, ...]) -> Address:
    return (sockaddr[0], sockaddr[1])


class _StreamProtocol(asyncio.Protocol):
    """Buffers what arrives and wakes the one reader waiting for it."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        self.error: Exception | None = None
        self._read_waiter: asyncio.Future[None] | None = None
        self._drain_waiter: asyncio.Future[None] | None = None
        self._paused_writing = False
        self._reading_paused = False
        self.tls = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > _RECEIVE_HIGH_WATER and not self._reading_paused:
            assert self.transport is not None
            self.transport.pause_reading()
            self._reading_paused = True
        self._wake_reader()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake_reader()
        # Keep our side open (the actor decides when to close) — except over
        # TLS, where a half-closed connection is not possible.
        return not self.tls

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        if exc is not None:
            self.error = exc
        self._wake_reader()
        self._wake_writer(exc)

    def pause_writing(self) -> None:
        self._paused_writing = True

    def resume_writing(self) -> None:
        self._paused_writing = False
        self._wake_writer(None)

    def _wake_reader(self) -> None:
        waiter = self._read_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _wake_writer(self, exc: Exception | None) -> None:
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            if exc is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(ConnectionError(str(exc)))

    async def wait_readable(self) -> None:
        self._read_waiter = asyncio.get_running_loop().create_future()
        try:
            await self._read_waiter
        finally:
            self._read_waiter = None

    async def drain(self) -> None:
        if not self._paused_writing:
            return
        self._drain_waiter = asyncio.get_running_loop().create_future()
        try:
            await self._drain_waiter
        finally:
            self._drain_waiter = None

    def take(self, max_bytes: int) -> bytes:
        data = bytes(self.buffer[:max_bytes])
        del self.buffer[:max_bytes]
        if self._reading_paused and len(self.buffer) <= _RECEIVE_HIGH_WATER // 2:
            assert self.transport is not None
            self.transport.resume_reading()
            self._reading_paused = False
        return data


class RealStream(Stream):
    """A kernel TCP connection."""

    def __init__(self, transport: asyncio.Transport, protocol: _StreamProtocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self.local_address = _address(transport.get_extra_info("sockname"))
        self.peer_address = _address(transport.get_extra_info("peername"))
        self._raw_socket: socket.socket | None = None

    @property
    def socket(self) -> socket.socket | None:
        """The kernel socket (for TCP_INFO and the like)."""
        sock: socket.socket | None = self._transport.get_extra_info("socket")
        return sock

    async def receive_some(self, max_bytes: int = 65536) -> bytes:
        protocol = self._protocol
        while not protocol.buffer:
            if protocol.error is not None:
                raise ConnectionError(str(protocol.error))
            if protocol.eof:
                return b""
            await protocol.wait_readable()
        return protocol.take(max_bytes)

    async def send_all(self, data: bytes) -> None:
        if self._transport.is_closing():
            raise ConnectionError("the connection is closed")
        self._transport.write(data)
        await self._protocol.drain()

    async def send_file(self, file: BinaryIO, offset: int, count: int) -> None:
        if self._transport.is_closing():
            raise ConnectionError("the connection is closed")
        await self._protocol.drain()
        loop = asyncio.get_running_loop()
        try:
            # Zero-copy when possible. At the file's end it stops early and says so
            # only in the count it returns.
            sent = await loop.sendfile(self._transport, file, offset, count)
        except NotImplementedError:  # an event loop without sendfile
            await super().send_file(file, offset, count)
            return
        except (ConnectionError, OSError) as exc:
            raise ConnectionError(str(exc)) from exc
        if sent < count:
            raise FileEnded(sent, count)

    async def start_tls(self, context: ssl.SSLContext, server_hostname: str) -> TlsInfo:
        loop = asyncio.get_running_loop()
        raw_socket = self.socket
        transport = await loop.start_tls(
            self._transport, self._protocol, context, server_hostname=server_hostname
        )
        if transport is None:
            raise ConnectionError("the connection closed during the TLS handshake")
        self._transport = transport
        self._protocol.transport = transport
        self._protocol.tls = True
        self._raw_socket = raw_socket
        ssl_object = transport.get_extra_info("ssl_object")
        cert = ssl_object.getpeercert() or {}
        return TlsInfo(
            version=ssl_object.version() or "",
            cipher=(ssl_object.cipher() or ("",))[0],
            subject=_dn(cert.get("subject", ())),
            issuer=_dn(cert.get("issuer", ())),
            not_after=cert.get("notAfter", ""),
            alpn=ssl_object.selected_alpn_protocol(),
        )

    def tcp_info(self) -> TcpInfo | None:
        sock = self._raw_socket or self.socket
        return read_tcp_info(sock) if sock is not None else None

    async def close_write(self) -> None:
        transport = self._transport
        if not transport.is_closing() and transport.can_write_eof():
            transport.write_eof()

    async def aclose(self) -> None:
        if not self._transport.is_closing():
            self._transport.close()

    def abort(self) -> None:
        self._transport.abort()


def _dn(name: tuple[Any, ...]) -> str:
    """An X.509 distinguished name from ssl's nested tuples: ``CN=example.com, O=...``."""
    return ", ".join(f"{key}={value}" for rdn in name for key, value in rdn)


# struct tcp_info (linux/tcp.h): 8 one-byte fields, 24 u32, 4 u64, then u32s.
_TCP_INFO = struct.Struct("=8B24I4Q6I")


def read_tcp_info(sock: socket.socket) -> TcpInfo | None:
    """The kernel's TCP_INFO for ``sock`` (Linux), or None where it is missing."""
    option = getattr(socket, "TCP_INFO", None)
    if option is None:
        return None
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, option, 256)
    except OSError:
        return None
    if len(raw) < _TCP_INFO.size:
        return None
    fields = _TCP_INFO.unpack_from(raw)
    u32 = fields[8:32]
    u64 = fields[32:36]
    tail = fields[36:42]
    return TcpInfo(
        segments_out=tail[0],
        segments_in=tail[1],
        data_segments_out=tail[5],
        data_segments_in=tail[4],
        retransmissions=u32[23],
        rtt=u32[15] / 1e6,
        rtt_variance=u32[16] / 1e6,
        mss_out=u32[2],
        mss_in=u32[3],
        congestion_window=u32[18],
        bytes_acked=u64[2],
        bytes_received=u64[3],
    )


class _RealTcpListener(TcpListener):
    """Listening sockets, accepted from by hand rather than by ``loop.create_server``.

    asyncio's accept loop, when ``accept()`` fails for want of descriptors
    (EMFILE, ENFILE), logs a traceback and schedules a retry for each of the
    up to ``backlog`` attempts of one wake-up (Python 3.11): a server at its
    descriptor limit then prints tens of thousands of tracebacks a second.
    Here such a failure stops accepting for a moment, is counted, and is told
    at most once every few seconds through ``on_exhausted`` (one line, no
    traceback); the waiting clients stay in the kernel's accept queue.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sockets: list[socket.socket],
        on_stream: Callable[[socket.socket], None],
        on_exhausted: Callable[[int], None] | None,
    ) -> None:
        self._loop = loop
        self._sockets = sockets
        self._on_stream = on_stream
        self._on_exhausted = on_exhausted
        self._admit: Callable[[int], bool] | None = None
        self.arriving = 0  # taken from the kernel, not yet given to the handler
        self._failures = 0
        self._told = -_EXHAUSTED_REPORT_EVERY
        self._retry: asyncio.TimerHandle | None = None
        self._closed = False
        self.addresses = [_address(s.getsockname()) for s in sockets]
        self._watch()

    def _watch(self) -> None:
        self._retry = None
        if self._closed:
            return
        for sock in self._sockets:
            self._loop.add_reader(sock.fileno(), self._accept, sock)

    def limit_send_buffer(self, size: int) -> None:
        # Linux gives each accepted socket a copy of the listening socket's buffer sizes.
        # A kernel that will not keeps its default, larger buffer.
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)

    def gate(self, admit: Callable[[int], bool]) -> bool:
        self._admit = admit
        return True

    def resume(self) -> None:
        if self._retry is not None and not self._closed:
            self._retry.cancel()
            self._watch()

    def _pause(self) -> None:
        # No room: leave the waiting clients in the kernel's listen queue (as
        # NSD does) instead of taking them only to close them; look again soon.
        for sock in self._sockets:
            self._loop.remove_reader(sock.fileno())
        if self._retry is None:
            self._retry = self._loop.call_later(_ACCEPT_RETRY, self._watch)

    def _accept(self, sock: socket.socket) -> None:
        for _ in range(_ACCEPT_BATCH):
            if self._admit is not None and not self._admit(self.arriving):
                self._pause()
                return
            try:
                conn, _peer = sock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as exc:
                if exc.errno not in _OUT_OF_RESOURCES:
                    return  # the peer's trouble (ECONNABORTED, EPROTO...): the next one
                self._exhausted()
                return
            conn.setblocking(False)
            self.arriving += 1
            self._on_stream(conn)

    def _exhausted(self) -> None:
        # Out of descriptors (or kernel memory): stop looking at the sockets for
        # a moment (Linux keeps reporting them readable), then try again.
        self._failures += 1
        self._pause()
        now = self._loop.time()
        if self._on_exhausted is not None and now - self._told >= _EXHAUSTED_REPORT_EVERY:
            self._told = now
            failures, self._failures = self._failures, 0
            self._on_exhausted(failures)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        for sock in self._sockets:
            self._loop.remove_reader(sock.fileno())
            sock.close()


class RealDatagramEndpoint(DatagramEndpoint):
    """A kernel UDP socket, read straight from the event loop's selector.

    When the socket becomes readable, every datagram already queued in the
    kernel is read (up to a batch), not just one: a busy server then pays for
    one wake-up per batch rather than per datagram. Sends go straight to the
    kernel; if its buffer is full they wait in a bounded queue.
    """

    _BATCH = 64
    _SEND_QUEUE = 1024

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        on_datagram: DatagramHandler | None,
    ) -> None:
        self._loop = loop
        self._sock = sock
        self._on_datagram = on_datagram
        self._queue: collections.deque[tuple[bytes, Address]] = collections.deque(
            maxlen=_DATAGRAM_QUEUE
        )
        self._waiter: asyncio.Future[None] | None = None
        self._unsent: collections.deque[tuple[bytes, Address]] = collections.deque()
        self._closed = False
        self.local_address = _address(sock.getsockname())
        loop.add_reader(sock.fileno(), self._on_readable)

    def _on_readable(self) -> None:
        recvfrom = self._sock.recvfrom
        for _ in range(self._BATCH):
            try:
                data, sockaddr = recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                # An ICMP error for an earlier send (port unreachable...): UDP ignores it.
                continue
            peer = (sockaddr[0], sockaddr[1])
            if self._on_datagram is not None:
                self._on_datagram(data, peer)
                if self._closed:
                    return
            else:
                self._queue.append((data, peer))
        waiter = self._waiter
        if self._queue and waiter is not None and not waiter.done():
            waiter.set_result(None)

    def send(self, data: bytes, to: Address) -> None:
        if self._closed:
            return
        if not self._unsent:
            try:
                self._sock.sendto(data, to)
                return
            except (BlockingIOError, InterruptedError):
                self._loop.add_writer(self._sock.fileno(), self._on_writable)
            except OSError:
                return  # unreachable destination and the like: a lost datagram
        if len(self._unsent) < self._SEND_QUEUE:
            self._unsent.append((data, to))

    def _on_writable(self) -> None:
        while self._unsent:
            data, to = self._unsent[0]
            try:
                self._sock.sendto(data, to)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                pass
            self._unsent.popleft()
        self._loop.remove_writer(self._sock.fileno())

    async def receive(self) -> tuple[bytes, Address]:
        while not self._queue:
            if self._closed:
                raise ConnectionError("the endpoint is closed")
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._queue.popleft()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._loop.remove_reader(self._sock.fileno())
        if self._unsent:
            self._loop.remove_writer(self._sock.fileno())
        self._sock.close()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class RealNetwork(Network):
    """The host's real network stack, through asyncio.

    ``mtu``: the MTU of the path this machine stands for. Loopback's MTU is
    65,536 bytes, so a whole 50 KB file would cross it in one TCP segment; with
    ``mtu=1500`` every TCP listener's sockets take an Ethernet path's maximum
    segment size (TCP_MAXSEG: 1,460 bytes over IPv4, 1,440 over IPv6), which
    their SYN-ACK announces, so both ends send segments no bigger.
    """

    name = "real"
    # DNS query IDs and the like: the secrets module's generator, the
    # operating system's entropy (os.urandom) — unpredictable to a spoofer.
    random = secrets.SystemRandom()

    def __init__(
        self, *, mtu: int | None = None, on_exhausted: Callable[[int], None] | None = None
    ) -> None:
        self.mtu = mtu
        # Told (at most every few seconds) how many accept() calls failed for
        # want of descriptors since it was last told; None: nobody is told.
        self.on_exhausted = on_exhausted

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def wall_time(self) -> float:
        return time.time()

    async def open_tcp_stream(
        self, host: str, port: int, *, local_host: str | None = None
    ) -> Stream:
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.create_connection(
            _StreamProtocol, host, port, local_addr=(local_host, 0) if local_host else None
        )
        return RealStream(transport, protocol)

    async def start_tcp_server(
        self, handler: StreamHandler, host: str, port: int, *, backlog: int = 128
    ) -> TcpListener:
        loop = asyncio.get_running_loop()
        tasks: set[asyncio.Task[None]] = set()
        sockets = await self._listening_sockets(host, port, backlog)
        listener: _RealTcpListener | None = None

        async def serve(conn: socket.socket) -> None:
            assert listener is not None
            try:
                transport, protocol = await loop.connect_accepted_socket(_StreamProtocol, conn)
            except OSError:  # gone before it could be set up (reset at once)
                conn.close()
                return
            finally:
                listener.arriving -= 1
            await handler(RealStream(transport, protocol))

        def on_stream(conn: socket.socket) -> None:
            task = loop.create_task(serve(conn))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        listener = _RealTcpListener(loop, sockets, on_stream, self.on_exhausted)
        return listener

    async def _listening_sockets(self, host: str, port: int, backlog: int) -> list[socket.socket]:
        """One listening socket per address ``host`` stands for, like ``loop.create_server``."""
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        sockets: list[socket.socket] = []
        seen = set()
        try:
            for family, kind, proto, _name, sockaddr in infos:
                if (family, sockaddr) in seen:
                    continue
                seen.add((family, sockaddr))
                sock = socket.socket(family, kind, proto)
                sockets.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6 and hasattr(socket, "IPPROTO_IPV6"):
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind(sockaddr)
                maxseg = getattr(socket, "TCP_MAXSEG", None)
                if self.mtu is not None and maxseg is not None:
                    headers = 60 if family == socket.AF_INET6 else 40  # IP + TCP headers
                    sock.setsockopt(socket.IPPROTO_TCP, maxseg, self.mtu - headers)
                sock.listen(backlog)
                sock.setblocking(False)
        except BaseException:
            for sock in sockets:
                sock.close()
            raise
        return sockets

    async def open_udp_endpoint(
        self,
        host: str,
        port: int = 0,
        *,
        on_datagram: DatagramHandler | None = None,
    ) -> DatagramEndpoint:
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            if port and os.name == "posix":
                # Room for bursts: a server's receive queue should not overflow first.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            sock.bind((host, port))
        except OSError:
            sock.close()
            raise
        return RealDatagramEndpoint(loop, sock, on_datagram)
