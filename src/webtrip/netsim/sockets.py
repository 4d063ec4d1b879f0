"""Sockets: how a program on a simulated host owns a port and sends and receives through it.

A transport address is an IP address and a port. A program *binds* a socket
to one — a specific address of the host, or the wildcard ``0.0.0.0`` meaning
"all of them" — and the host's transport layer then hands it every datagram
for that address. Port 0 asks the host to choose a free *ephemeral* port;
like Linux, it picks one at random (here from the world's seeded generator)
in the dynamic range of RFC 6335, which makes a reply harder to forge.

:class:`UdpSocket` is a UDP socket as an actor sees it: it implements
:class:`webtrip.net.DatagramEndpoint`, the same interface as a real UDP
socket, so the DNS server and client run unchanged on a simulated host.
:class:`TcpListeningSocket` is a listening TCP port, to which the host's TCP
layer hands the connections it accepts; a connected TCP socket is a
:class:`~webtrip.netsim.stream.SimStream`.
"""

from __future__ import annotations

import asyncio
import collections
import errno
import ipaddress
import random
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from webtrip.net import (
    Address,
    DatagramEndpoint,
    DatagramHandler,
    Stream,
    StreamHandler,
    TcpListener,
)

EPHEMERAL_PORTS = range(49152, 65536)
"""The dynamic (private) ports of RFC 6335, from which port 0 picks."""
WILDCARD = "0.0.0.0"
RECEIVE_QUEUE = 1024
"""Datagrams that may wait for ``receive()``; more are dropped, as a kernel buffer would."""

S = TypeVar("S")


class PortTable(Generic[S]):
    """Which socket owns which (address, port) of one transport protocol on a host."""

    def __init__(self, protocol: str, rng: random.Random) -> None:
        self.protocol = protocol
        self._rng = rng
        self._sockets: dict[Address, S] = {}

    def bind(self, address: str, port: int, make: Callable[[Address], S]) -> S:
        """Reserve ``address:port`` (port 0: an ephemeral one) for ``make(local_address)``.

        Raises OSError EADDRINUSE if the port is taken on that address or by
        the wildcard (or, binding the wildcard, on any address).
        """
        if port == 0:
            port = self._ephemeral_port(address)
        elif not self._is_free(address, port):
            raise OSError(
                errno.EADDRINUSE, f"{self.protocol} port {port} on {address} is already in use"
            )
        local = (address, port)
        sock = make(local)
        self._sockets[local] = sock
        return sock

    def release(self, local: Address, sock: S | None = None) -> None:
        """Free ``local`` (only if ``sock`` still holds it, when ``sock`` is given)."""
        if sock is None or self._sockets.get(local) is sock:
            self._sockets.pop(local, None)

    def lookup(self, address: str, port: int) -> S | None:
        """The socket for ``address:port``: the one bound to that address, else the wildcard's."""
        found = self._sockets.get((address, port))
        return found if found is not None else self._sockets.get((WILDCARD, port))

    def _is_free(self, address: str, port: int) -> bool:
        if address == WILDCARD:
            return all(p != port for _, p in self._sockets)
        return (address, port) not in self._sockets and (WILDCARD, port) not in self._sockets

    def _ephemeral_port(self, address: str) -> int:
        # Random tries first (as Linux does); if the range is crowded, walk it in order.
        for _ in range(64):
            port = self._rng.choice(EPHEMERAL_PORTS)
            if self._is_free(address, port):
                return port
        start = self._rng.choice(EPHEMERAL_PORTS)
        for offset in range(len(EPHEMERAL_PORTS)):
            port = EPHEMERAL_PORTS[(start - EPHEMERAL_PORTS[0] + offset) % len(EPHEMERAL_PORTS)]
            if self._is_free(address, port):
                return port
        raise OSError(errno.EADDRINUSE, f"no ephemeral {self.protocol} port is free on {address}")


_CANONICAL_IPV4: dict[str, str] = {}
"""IPv4 addresses as given and in canonical form (a stub resolver binds for each query)."""


class SocketHost(Protocol):
    """What a socket needs of the host it is on (a :class:`~webtrip.netsim.host.Host`)."""

    name: str
    loop: asyncio.AbstractEventLoop

    @property
    def udp_ports(self) -> PortTable[UdpSocket]: ...
    @property
    def tcp_ports(self) -> PortTable[Any]: ...
    def owns(self, address: str) -> bool: ...
    def send_udp(self, local: Address, to: Address, payload: bytes) -> None: ...


def check_bind_address(host: SocketHost, address: str) -> str:
    """``address`` in canonical form if a socket on ``host`` may bind it.

    Raises OSError: EAFNOSUPPORT for IPv6 (the simulated network is IPv4
    only), EADDRNOTAVAIL for an address that is not the host's.
    """
    text = _CANONICAL_IPV4.get(address) if type(address) is str else None
    if text is None:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            raise OSError(errno.EINVAL, f"'{address}' is not an IP address") from None
        if ip.version != 4:
            raise OSError(errno.EAFNOSUPPORT, "the simulated network speaks IPv4 only")
        text = str(ip)
        if type(address) is str and len(_CANONICAL_IPV4) < 65536:
            _CANONICAL_IPV4[address] = text
    if text != WILDCARD and not host.owns(text):
        raise OSError(errno.EADDRNOTAVAIL, f"{text} is not an address of {host.name}")
    return text


class UdpSocket(DatagramEndpoint):
    """A UDP socket on a simulated host, bound to ``local_address``.

    With ``on_datagram`` each arriving datagram is given to it at once;
    without, datagrams queue for :meth:`receive`.
    """

    def __init__(
        self, host: SocketHost, local_address: Address, on_datagram: DatagramHandler | None
    ) -> None:
        self.host = host
        self.local_address = local_address
        self._on_datagram = on_datagram
        self._queue: collections.deque[tuple[bytes, Address]] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self.closed = False

    def send(self, data: bytes, to: Address) -> None:
        """Send one datagram to ``to``; like UDP itself, failures are silent (and logged)."""
        if not self.closed:
            self.host.send_udp(self.local_address, to, data)

    def deliver(self, data: bytes, source: Address) -> bool:
        """A datagram arrived for this socket; False if there was no room for it."""
        if self.closed:
            return False
        if self._on_datagram is not None:
            self._on_datagram(data, source)
            return True
        if len(self._queue) >= RECEIVE_QUEUE:
            return False
        self._queue.append((data, source))
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        return True

    async def receive(self) -> tuple[bytes, Address]:
        while not self._queue:
            if self.closed:
                raise ConnectionError("the endpoint is closed")
            self._waiter = self.host.loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._queue.popleft()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.host.udp_ports.release(self.local_address)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class TcpListeningSocket(TcpListener):
    """A TCP port in the LISTEN state on a simulated host.

    The host keeps it in :attr:`Host.tcp_ports`, where the TCP layer looks up
    the destination of an arriving SYN (RFC 9293 §3.10.7.2) and starts a
    connection for it. Once the handshake is done, the connection is
    *accepted*: ``handler(stream)`` runs in a task of its own, as a real
    server's does. At most ``backlog`` connections may be half-open at once;
    further SYNs are ignored (their senders will try again).
    """

    def __init__(
        self, host: SocketHost, local_address: Address, handler: StreamHandler, backlog: int
    ) -> None:
        self.host = host
        self.addresses = [local_address]
        self.handler = handler
        self.backlog = backlog
        self.closed = False
        self.half_open = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def accepted(self, stream: Stream) -> None:
        """The handshake of a connection to this port is done: run the handler for it."""
        self.half_open -= 1
        task = self.host.loop.create_task(self.handler(stream))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        """Stop accepting connections (those accepted go on, as with a real socket)."""
        if not self.closed:
            self.closed = True
            self.host.tcp_ports.release(self.addresses[0])
