"""Capturing real packets as ``tcpdump`` does: an AF_PACKET socket, a kernel filter, a bound.

On Linux a *packet socket* (``AF_PACKET``) receives a copy of every frame an
interface sends or receives — the same copies tcpdump and tshark read. Opened
as ``SOCK_DGRAM``, each copy arrives without its link-layer header: the bare
IPv4 datagram, which is what the simulated world records too, so a real
capture and a simulated one read the same way. Opening one needs
CAP_NET_RAW (root has it).

A machine's interfaces carry everybody's packets, so two filters keep only
those of one page load:

- in the kernel, a classic BPF program (the bytecode ``tcpdump -d`` prints)
  lets through IPv4 TCP and UDP with a chosen port at either end: the DNS
  server's, the web servers'. Ports can be added while the capture runs
  (:meth:`PacketCapture.watch_port`): the program is replaced at once, before
  the browser's SYN to a new port leaves;
- after the load, the caller keeps only the flows the load's own trace says
  it opened (``webtrip.lab.capture``).

The loopback interface hands a packet socket each packet twice, once as it is
sent (``PACKET_OUTGOING``) and once as it is received; like libpcap, only the
received copy is kept there, so each packet is in the capture once.

Everything is bounded: at most ``max_packets`` packets and ``max_bytes``
bytes are kept (the rest are counted, not kept), and the kernel's own count
of what it could not queue for us is read at the end (``PACKET_STATISTICS``).
"""

from __future__ import annotations

import ctypes
import errno
import os
import select
import socket
import struct
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "CaptureError",
    "CapturedFrame",
    "PacketCapture",
    "port_filter",
]

ETH_P_IP = 0x0800
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
"""The packet type (``sll_pkttype``) of a copy of a packet this machine sends."""
SOL_PACKET = 263
PACKET_STATISTICS = 6
PACKET_AUXDATA = 8
TP_STATUS_CSUMNOTREADY = 1 << 3
SO_ATTACH_FILTER = 26
SO_DETACH_FILTER = 27
SO_TIMESTAMPNS = 35
SO_RCVBUFFORCE = 33
RECEIVE_BUFFER = 32 * 1024 * 1024
"""Kernel queue for the capture socket: a burst of a page's files must fit while we read."""
SNAPLEN = 262144
LARGEST = 65535
"""The largest IPv4 datagram; the loopback's segments (GSO) may be as large."""

# Classic BPF opcodes (linux/filter.h): class | size | mode.
_LDB_ABS = 0x30  # A = packet[k] (byte)
_LDH_ABS = 0x28  # A = packet[k:k+2] (half word)
_LDH_IND = 0x48  # A = packet[X+k:X+k+2]
_LDXB_MSH = 0xB1  # X = 4 * (packet[k] & 0x0f): the IPv4 header's length
_AND_K = 0x54
_JEQ_K = 0x15
_JSET_K = 0x45
_RET_K = 0x06
_SKF_AD_PROTOCOL = 0xFFFFF000  # SKF_AD_OFF + SKF_AD_PROTOCOL: skb->protocol, not a packet byte


class CaptureError(OSError):
    """A capture that cannot start; ``reason`` is ``permission`` (no CAP_NET_RAW),
    ``unsupported`` (no packet sockets here) or ``interface`` (no such interface)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class CapturedFrame:
    """One captured IPv4 datagram: when the kernel saw it (Unix seconds), where, its bytes."""

    timestamp: float
    interface: str
    outgoing: bool
    data: bytes
    checksum_pending: bool = False
    """The kernel had not filled in the TCP or UDP checksum (``TP_STATUS_CSUMNOTREADY``):
    the hardware, or nobody on loopback, computes it later. The field holds only the
    pseudo-header's partial sum, which Wireshark shows as "incorrect"."""


def port_filter(ports: Iterable[int]) -> list[tuple[int, int, int, int]]:
    """A classic BPF program (``(code, jt, jf, k)`` instructions) that accepts IPv4 TCP
    and UDP datagrams with one of ``ports`` as source or destination port, and first
    fragments only (later fragments carry no ports); everything else is rejected.

    The program starts at the IPv4 header, as the kernel runs it on a
    ``SOCK_DGRAM`` packet socket. It is ``tcpdump -dd 'ip and (tcp or udp) and
    port P'`` written out.
    """
    chosen = sorted(set(ports))
    if not 0 < len(chosen) <= 60:
        raise ValueError("a port filter needs from 1 to 60 ports")
    reject, accept, ports_at = "reject", "accept", "ports"
    body: list[_Step] = [
        _Step(_LDH_ABS, _SKF_AD_PROTOCOL),  # the frame's EtherType, as the kernel read it
        _Step(_JEQ_K, ETH_P_IP, false=reject),
        _Step(_LDB_ABS, 0),  # the version and header length
        _Step(_AND_K, 0xF0),
        _Step(_JEQ_K, 0x40, false=reject),  # IPv4
        _Step(_LDB_ABS, 9),  # the protocol
        _Step(_JEQ_K, 6, true=ports_at),  # TCP
        _Step(_JEQ_K, 17, false=reject),  # UDP
        _Step(_LDH_ABS, 6, label=ports_at),  # flags and fragment offset
        _Step(_JSET_K, 0x1FFF, true=reject),  # not the first fragment
        _Step(_LDXB_MSH, 0),  # X = the IPv4 header's length
    ]
    for offset in (0, 2):  # the source port, then the destination port
        body.append(_Step(_LDH_IND, offset))
        body.extend(_Step(_JEQ_K, port, true=accept) for port in chosen)
    body += [_Step(_RET_K, 0, label=reject), _Step(_RET_K, SNAPLEN, label=accept)]
    where = {step.label: index for index, step in enumerate(body) if step.label}

    def jump(index: int, target: str) -> int:
        return where[target] - index - 1 if target else 0

    return [
        (step.code, jump(index, step.true), jump(index, step.false), step.k)
        for index, step in enumerate(body)
    ]


@dataclass(frozen=True)
class _Step:
    """One BPF instruction, its jumps named by label (``""``: the next instruction)."""

    code: int
    k: int
    true: str = ""
    false: str = ""
    label: str = ""


class _SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_ushort),
        ("jt", ctypes.c_ubyte),
        ("jf", ctypes.c_ubyte),
        ("k", ctypes.c_uint32),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


class PacketCapture:
    """A running capture of the IPv4 TCP and UDP packets to or from ``ports``.

    ``interface`` names the one interface to listen on (``lo``); None listens on
    all of them. Use as a context manager, or :meth:`start` then :meth:`stop`,
    which returns the frames in the order the kernel saw them. Raises
    :class:`CaptureError` if the capture cannot start.
    """

    def __init__(
        self,
        ports: Iterable[int],
        *,
        interface: str | None = None,
        max_packets: int = 100_000,
        max_bytes: int = 256 * 1024 * 1024,
    ) -> None:
        self.ports = set(ports)
        self.interface = interface
        self.max_packets = max_packets
        self.max_bytes = max_bytes
        self.frames: list[CapturedFrame] = []
        self.kept_bytes = 0
        self.over_limit = 0
        """Packets that passed the filters but were not kept: the bounds were reached."""
        self.kernel_drops = 0
        """Packets the kernel could not queue for us (its ``tp_drops``)."""
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = -1, -1
        self._stopping = False
        self._last_packet = 0.0
        self._lock = threading.Lock()

    def __enter__(self) -> PacketCapture:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop(quiet=0.0)

    def start(self) -> None:
        try:
            # ETH_P_ALL, not ETH_P_IP: only a socket for every protocol is handed the
            # packets the machine sends (the kernel's taps); the filter keeps IPv4.
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
        except PermissionError as exc:
            raise CaptureError("permission", str(exc)) from None
        except (AttributeError, OSError) as exc:  # no AF_PACKET: not Linux
            raise CaptureError("unsupported", str(exc)) from None
        try:
            try:
                sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER)
            except OSError:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
            self._attach(sock)
            if self.interface is not None:
                try:
                    sock.bind((self.interface, ETH_P_ALL))
                except OSError as exc:
                    if exc.errno in (errno.ENODEV, errno.ENXIO):
                        raise CaptureError("interface", str(exc)) from None
                    raise
            # Whatever was queued before the filter was attached is thrown away.
            sock.setblocking(False)
            while True:
                try:
                    sock.recv(LARGEST)
                except BlockingIOError:
                    break
            self._read_statistics(sock)
            self.kernel_drops = 0
        except BaseException:
            sock.close()
            raise
        self._socket = sock
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._read, name="webtrip-capture", daemon=True)
        self._thread.start()

    def watch_port(self, port: int) -> None:
        """Capture ``port`` too, from now on (the kernel filter is replaced at once)."""
        with self._lock:
            if port in self.ports:
                return
            self.ports.add(port)
            if self._socket is not None and len(self.ports) <= 60:
                self._attach(self._socket)

    def _attach(self, sock: socket.socket) -> None:
        if len(self.ports) > 60:  # too many for one small program: the trace's flows only
            sock.setsockopt(socket.SOL_SOCKET, SO_DETACH_FILTER, 0)
            return
        program = port_filter(self.ports)
        instructions = (_SockFilter * len(program))(*(_SockFilter(*i) for i in program))
        fprog = _SockFprog(len(program), instructions)
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, bytes(fprog))

    def _read(self) -> None:
        sock = self._socket
        assert sock is not None
        ancillary = socket.CMSG_SPACE(16) + socket.CMSG_SPACE(20)
        while True:
            ready, _, _ = select.select([sock.fileno(), self._wake_r], [], [])
            if sock.fileno() not in ready:
                if self._stopping:
                    return
                continue
            while True:
                try:
                    data, cmsgs, _flags, address = sock.recvmsg(LARGEST + 1, ancillary)
                except BlockingIOError:
                    break
                except OSError:
                    return
                stamp, pending = time.time(), False
                for level, kind, value in cmsgs:
                    if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= 16:
                        seconds, nanos = struct.unpack("qq", value[:16])
                        stamp = seconds + nanos / 1e9
                    elif level == SOL_PACKET and kind == PACKET_AUXDATA and len(value) >= 4:
                        pending = bool(struct.unpack("I", value[:4])[0] & TP_STATUS_CSUMNOTREADY)
                self._keep(stamp, address, data, pending)

    def _keep(self, stamp: float, address: tuple[object, ...], data: bytes, pending: bool) -> None:
        interface, packet_type = str(address[0]), int(address[2])  # type: ignore[call-overload]
        if address[1] != ETH_P_IP:
            return  # not IPv4 (ARP, IPv6...): a filter with too many ports to hold lets it by
        if interface == "lo" and packet_type == PACKET_OUTGOING:
            return  # loopback: the copy that is received is the one kept (as libpcap)
        self._last_packet = time.monotonic()
        if len(self.frames) >= self.max_packets or self.kept_bytes + len(data) > self.max_bytes:
            self.over_limit += 1
            return
        self.kept_bytes += len(data)
        outgoing = packet_type == PACKET_OUTGOING
        self.frames.append(CapturedFrame(stamp, interface, outgoing, data, pending))

    def stop(self, *, quiet: float = 0.2, longest: float = 2.0) -> list[CapturedFrame]:
        """Stop once no packet has come for ``quiet`` seconds (at most ``longest``): the
        last ACKs of a connection's teardown come just after the load. The frames kept."""
        if self._socket is None:
            return self.frames
        started = time.monotonic()
        while time.monotonic() - started < longest:
            if time.monotonic() - max(self._last_packet, started) >= quiet:
                break
            time.sleep(min(quiet, 0.02) or 0.001)
        self._stopping = True
        os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._read_statistics(self._socket)
        self._socket.close()
        self._socket = None
        os.close(self._wake_r)
        os.close(self._wake_w)
        return self.frames

    def _read_statistics(self, sock: socket.socket) -> None:
        """Add the kernel's drops since last read (reading the counters resets them)."""
        try:
            raw = sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
        except OSError:
            return
        _packets, drops = struct.unpack("II", raw)
        self.kernel_drops += drops
