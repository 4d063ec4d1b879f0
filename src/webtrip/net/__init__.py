"""The network as actors see it, and its real-world implementation.

Actors (DNS server, web server, browser) are asyncio code written against
:class:`Network`: open a TCP stream, serve TCP, open a UDP endpoint, read the
clock. :class:`RealNetwork` implements it with the operating system's sockets;
the simulated world implements the same interface with simulated hosts, so an
actor never knows which world it runs in.

- :mod:`base` — the interface: :class:`Network`, :class:`Stream`, datagram
  endpoints, listeners, addresses;
- :mod:`real` — :class:`RealNetwork`, on asyncio's transports and the kernel's
  sockets (TCP_INFO, sendfile, TLS);
- :mod:`deadline` — a per-connection timeout that is cheap to move later.
"""

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
    format_address,
    parse_address,
)
from webtrip.net.real import RealNetwork

__all__ = [
    "Address",
    "DatagramEndpoint",
    "DatagramHandler",
    "FileEnded",
    "Network",
    "RealNetwork",
    "Stream",
    "StreamHandler",
    "TcpInfo",
    "TcpListener",
    "TlsInfo",
    "format_address",
    "parse_address",
]
