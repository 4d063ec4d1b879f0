"""The :class:`Network` interface: everything an actor may ask of the network.

It is deliberately small — the socket calls a browser or a server really
needs — so that two very different worlds can provide it: the real one
(asyncio over the kernel's sockets) and the simulated one (hosts, links and a
TCP/IP stack of our own on a virtual clock). Timeouts are ordinary asyncio
(``asyncio.timeout``): both worlds run on an asyncio event loop whose clock is
the world's clock.
"""

from __future__ import annotations

import abc
import asyncio
import ipaddress
import ssl
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol, TypeVar

T = TypeVar("T")

Address = tuple[str, int]
"""A transport address: (IP address as text, port)."""

DatagramHandler = Callable[[bytes, Address], None]
StreamHandler = Callable[["Stream"], Coroutine[Any, Any, None]]


class Stream(abc.ABC):
    """One TCP connection, as a byte stream in both directions."""

    local_address: Address
    peer_address: Address

    @abc.abstractmethod
    async def receive_some(self, max_bytes: int = 65536) -> bytes:
        """Wait for and return at least one byte, at most ``max_bytes``.

        Returns ``b""`` once the peer has closed its side (end of stream).
        Raises ConnectionError if the connection was reset.
        """

    @abc.abstractmethod
    async def send_all(self, data: bytes) -> None:
        """Send all of ``data``, waiting while the peer is not reading.

        Raises ConnectionError if the connection is gone.
        """

    async def send_file(self, file: BinaryIO, offset: int, count: int) -> None:
        """Send ``count`` bytes of ``file`` from ``offset``; worlds may do it faster.

        Raise :class:`FileEnded` if the file ends first (it shrank meanwhile),
        once every byte it still had has been sent.
        """
        file.seek(offset)
        remaining = count
        while remaining > 0:
            chunk = file.read(min(remaining, 256 * 1024))
            if not chunk:
                raise FileEnded(count - remaining, count)
            await self.send_all(chunk)
            remaining -= len(chunk)

    async def start_tls(self, context: ssl.SSLContext, server_hostname: str) -> TlsInfo:
        """Run a TLS handshake over this connection and encrypt from now on.

        Raises ssl.SSLError (e.g. a certificate that does not verify) or
        ConnectionError. Worlds without TLS raise NotImplementedError.
        """
        raise NotImplementedError("this network has no TLS")

    def tcp_info(self) -> TcpInfo | None:
        """The kernel's (or the simulator's) counters for this connection, if known."""
        return None

    async def close_write(self) -> None:
        """Send FIN once queued data is sent, and keep receiving (a half-close).

        Worlds that cannot half-close do nothing: the connection stays open both ways.
        """
        return None

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Close the connection gracefully (FIN) once queued data is sent."""

    @abc.abstractmethod
    def abort(self) -> None:
        """Close the connection at once, dropping unsent data (RST)."""


class FileEnded(Exception):
    """A file ended before the bytes promised from it were sent: it shrank meanwhile.

    The connection is still sound, but the other end expects ``count - sent`` more
    bytes that will never come: the only honest end is to close it.
    """

    def __init__(self, sent: int, count: int) -> None:
        super().__init__(f"the file ended after {sent} of {count} bytes")
        self.sent = sent
        self.count = count


@dataclass(frozen=True, slots=True)
class TlsInfo:
    """What a TLS handshake agreed on, and who the server proved to be."""

    version: str
    cipher: str
    subject: str
    issuer: str
    not_after: str
    alpn: str | None = None


@dataclass(frozen=True, slots=True)
class TcpInfo:
    """A TCP connection's counters (Linux TCP_INFO names; times in seconds)."""

    segments_out: int
    segments_in: int
    data_segments_out: int
    data_segments_in: int
    retransmissions: int
    rtt: float
    rtt_variance: float
    mss_out: int
    mss_in: int
    congestion_window: int
    bytes_acked: int
    bytes_received: int


class TcpListener(abc.ABC):
    """A listening TCP socket that hands each accepted connection to a handler."""

    addresses: list[Address]

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Stop accepting connections (connections already open go on)."""

    def limit_send_buffer(self, size: int) -> None:
        """Give connections accepted from now on a kernel send buffer of about ``size`` bytes.

        A small one makes a peer that does not read stall its sender within
        a few answers, instead of after the megabytes a loopback socket takes
        by default. Where there is no kernel buffer (the simulated world), nothing.
        """
        return None

    def gate(self, admit: Callable[[int], bool]) -> bool:
        """Ask ``admit(arriving)`` before taking each waiting connection; False where unsupported.

        ``arriving``: connections taken but not yet given to the handler. When
        ``admit`` says no, the listener stops taking connections — they wait in
        the kernel's listen queue — and asks again after :meth:`resume`, or
        after a short while. A listener that cannot leave connections waiting
        (the simulated world's) returns False, and its server must refuse.
        """
        return False

    def resume(self) -> None:
        """Room was made: ask ``admit`` again now rather than after a while."""
        return None


class DatagramEndpoint(abc.ABC):
    """A UDP socket bound to a local address."""

    local_address: Address

    @abc.abstractmethod
    def send(self, data: bytes, to: Address) -> None:
        """Send one datagram to ``to`` (UDP: no delivery guarantee)."""

    @abc.abstractmethod
    async def receive(self) -> tuple[bytes, Address]:
        """Wait for the next datagram and return it with its sender's address."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the socket."""


class RandomSource(Protocol):
    """Where an actor draws random numbers (DNS query IDs): ``random.Random``'s interface."""

    def getrandbits(self, k: int, /) -> int: ...


class Network(abc.ABC):
    """The network an actor lives in.

    ``random`` is the world's source of randomness for actors: the operating
    system's in the real world (IDs an attacker cannot guess), the run's
    seeded generator in the simulated one (runs that repeat exactly).
    """

    name: str
    random: RandomSource

    @abc.abstractmethod
    def now(self) -> float:
        """The world's clock in seconds (real or virtual), for timestamps."""

    @abc.abstractmethod
    def wall_time(self) -> float:
        """The world's calendar time (Unix seconds), for Date headers and logs.

        Actors never read the host's clock directly: in the simulated world
        calendar time is virtual too, so runs stay reproducible.
        """

    async def run_blocking(self, work: Callable[[], T]) -> T:
        """Run ``work`` (CPU-heavy, such as compressing a big file) and return its result.

        The real world runs it in a worker thread, so the event loop keeps serving
        other connections meanwhile. A simulated world runs it at once: its clock
        is virtual, so no simulated time passes while it runs either way, and a
        thread's timing would make runs differ.
        """
        return await asyncio.to_thread(work)

    @abc.abstractmethod
    async def open_tcp_stream(
        self, host: str, port: int, *, local_host: str | None = None
    ) -> Stream:
        """Connect to ``host:port`` (an IP address) and return the stream.

        Raises ConnectionRefusedError, or OSError for other failures.
        """

    @abc.abstractmethod
    async def start_tcp_server(
        self, handler: StreamHandler, host: str, port: int, *, backlog: int = 128
    ) -> TcpListener:
        """Listen on ``host:port`` and run ``handler(stream)`` for each connection.

        Raises OSError (e.g. address in use) if the address cannot be bound.
        """

    @abc.abstractmethod
    async def open_udp_endpoint(
        self,
        host: str,
        port: int = 0,
        *,
        on_datagram: DatagramHandler | None = None,
    ) -> DatagramEndpoint:
        """Bind a UDP socket to ``host:port`` (port 0: any free port).

        With ``on_datagram`` each arriving datagram is given to it at once (the
        fast path servers use); without, datagrams queue for ``receive()``.
        """


def parse_address(text: str, default_port: int) -> Address:
    """Parse ``ADDR``, ``ADDR:PORT``, ``[V6]`` or ``[V6]:PORT`` into (addr, port).

    Raises ValueError with a one-sentence reason for anything else.
    """
    text = text.strip()
    host, port_text = text, ""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(f"'{text}' has '[' without a closing ']'")
        host, rest = text[1:end], text[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"'{text}' must be [IPv6]:PORT")
            port_text = rest[1:]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"'{host}' is not an IP address") from None
    port = default_port
    if text.endswith(":") and (text.startswith("[") or text.count(":") == 1):
        raise ValueError(f"'{text}' ends with ':' but gives no port: add it or leave out ':'")
    if port_text:
        if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
            raise ValueError(f"'{port_text}' is not a port number (0 to 65535)")
        port = int(port_text)
    return host, port


def format_address(address: Address) -> str:
    """``127.0.0.1:53`` or ``[::1]:53``."""
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
