"""A real load's own packets, taken from a capture into its trace.

:class:`webtrip.net.capture.PacketCapture` copies what crosses an interface
— everybody's packets on the ports a load uses. This module keeps those of
the load itself and records them as the simulated world records its packets
(:class:`~webtrip.trace.events.PacketCaptured`, the actor's name as the node),
so the packet list, the pcap file, the replay and the comparison read a real
load and a simulated one the same way.

A packet is the load's if it belongs to a *flow* the trace says the actor
opened: each TCP connection it established (its ``local`` and ``peer``
addresses and ports) and each DNS message it sent (from the port it was sent
from to the server asked). A connection that never opened (no answer to the
SYN, or a reset) has no local port in the trace: its packets are those to and
from the server's address and port that begin with a SYN sent after the
attempt began.

On loopback (and wherever the network card computes checksums) the kernel
hands a capture a TCP or UDP segment whose checksum is not filled in yet —
only the pseudo-header's partial sum is there, and Wireshark calls it
incorrect. The kernel says so for each packet; for those, the trace keeps the
datagram with the checksum its receiver checks (:func:`completed_checksum`),
as it would be on a wire, so that the views, which check every checksum as a
receiver does, read it. Every other byte is as captured.

Every packet's time is the kernel's timestamp on the trace's clock, so it
sits among the trace's other events where it happened.
"""

from __future__ import annotations

import heapq
import struct
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from ipaddress import ip_address

from webtrip.net.capture import CapturedFrame
from webtrip.packets.ipv4 import internet_checksum, pseudo_header
from webtrip.trace import Trace
from webtrip.trace.events import (
    IN,
    OUT,
    DnsMessageSent,
    Event,
    PacketCaptured,
    TcpConnectionOpened,
    TcpConnectStarted,
)

__all__ = ["Flow", "captured_events", "completed_checksum", "flows_of", "merge_packets"]

TCP, UDP = 6, 17
_SYN, _ACK = 0x02, 0x10


@dataclass(frozen=True, slots=True)
class Flow:
    """One conversation of the actor: protocol, its own address and port, the peer's.

    ``local_host`` is ``""`` where the actor's socket was bound to any address
    (``0.0.0.0``: the kernel picked the source address per packet); ``local_port``
    0 where the trace does not know it (a connection that never opened).
    """

    protocol: int
    local_host: str
    local_port: int
    peer_host: str
    peer_port: int
    since: float = 0.0


def flows_of(trace: Trace, actors: Collection[str]) -> list[Flow]:
    """The flows the ``actors`` opened in ``trace`` (IPv4 only: what the views read)."""
    flows: list[Flow] = []
    opened: set[tuple[str, int]] = set()
    started: list[TcpConnectStarted] = []
    for event in trace:
        if event.actor not in actors:
            continue
        if isinstance(event, TcpConnectionOpened):
            (local, local_port), (peer, peer_port) = event.local, event.peer
            flows.append(Flow(TCP, _host(local), local_port, peer, peer_port))
            opened.add((peer, peer_port))
        elif isinstance(event, DnsMessageSent):
            (local, local_port), (peer, peer_port) = event.local, event.peer
            protocol = UDP if event.transport == "udp" else TCP
            flows.append(Flow(protocol, _host(local), local_port, peer, peer_port))
        elif isinstance(event, TcpConnectStarted):
            started.append(event)
    for attempt in started:
        if attempt.peer not in opened:
            flows.append(Flow(TCP, "", 0, attempt.peer[0], attempt.peer[1], since=attempt.t))
    return [f for f in dict.fromkeys(flows) if _is_ipv4(f.peer_host)]


def _host(address: str) -> str:
    return "" if address in ("0.0.0.0", "::") else address


def _is_ipv4(address: str) -> bool:
    try:
        return ip_address(address).version == 4
    except ValueError:
        return False


def _ends(data: bytes) -> tuple[int, str, int, str, int, int] | None:
    """(protocol, source, source port, destination, destination port, TCP flags) of an
    IPv4 TCP or UDP datagram; None for anything else."""
    if len(data) < 20 or data[0] >> 4 != 4:
        return None
    length = (data[0] & 0x0F) * 4
    protocol = data[9]
    if protocol not in (TCP, UDP) or len(data) < length + 4:
        return None
    source, destination = str(ip_address(data[12:16])), str(ip_address(data[16:20]))
    sport, dport = struct.unpack_from("!HH", data, length)
    flags = data[length + 13] if protocol == TCP and len(data) > length + 13 else 0
    return protocol, source, sport, destination, dport, flags


def captured_events(
    frames: Iterable[CapturedFrame], trace: Trace, actor: str, flows: Collection[Flow]
) -> list[PacketCaptured]:
    """The ``frames`` of ``flows`` as ``actor``'s PacketCaptured events, on ``trace``'s clock.

    Each keeps its interface's name (``lo``, ``eth0``) and says ``out`` for what the
    actor sent, ``in`` for what it received.
    """
    known = {(f.protocol, f.local_port, f.peer_host, f.peer_port): f for f in flows if f.local_port}
    unopened = {(f.peer_host, f.peer_port): f for f in flows if not f.local_port}
    claimed: set[tuple[str, int]] = set()  # (local host, port) of a SYN to an unopened flow
    events: list[PacketCaptured] = []
    for frame in frames:
        ends = _ends(frame.data)
        if ends is None:
            continue
        protocol, source, sport, destination, dport, flags = ends
        t = frame.timestamp - trace.wall_start
        direction = ""
        for local, lport, peer, pport, way in (
            (source, sport, destination, dport, OUT),
            (destination, dport, source, sport, IN),
        ):
            flow = known.get((protocol, lport, peer, pport))
            if flow is not None and flow.local_host in ("", local):
                direction = way
                break
            attempt = unopened.get((peer, pport)) if protocol == TCP else None
            if attempt is not None and t >= attempt.since - 0.001:
                if way == OUT and flags & (_SYN | _ACK) == _SYN:
                    claimed.add((local, lport))
                if (local, lport) in claimed:
                    direction = way
                    break
        if direction:
            data = completed_checksum(frame.data) if frame.checksum_pending else frame.data
            events.append(PacketCaptured(t, actor, frame.interface, direction, data))
    return events


def completed_checksum(datagram: bytes) -> bytes:
    """``datagram`` (IPv4, TCP or UDP) with its transport checksum computed (RFC 9293
    §3.1, RFC 768: over the pseudo-header, the header and the data; UDP's 0 sent as
    0xFFFF). Anything else comes back unchanged."""
    ends = _ends(datagram)
    if ends is None:
        return datagram
    protocol, source, _sport, destination, _dport, _flags = ends
    start = (datagram[0] & 0x0F) * 4
    end = min(len(datagram), int.from_bytes(datagram[2:4], "big"))
    at = start + (16 if protocol == TCP else 6)
    if at + 2 > end:
        return datagram
    segment = bytearray(datagram[start:end])
    segment[at - start : at - start + 2] = b"\0\0"
    checksum = internet_checksum(
        pseudo_header(source, destination, protocol, len(segment)) + segment
    )
    if protocol == UDP and checksum == 0:
        checksum = 0xFFFF
    return datagram[:at] + checksum.to_bytes(2, "big") + datagram[at + 2 :]


def merge_packets(trace: Trace, packets: Iterable[PacketCaptured]) -> None:
    """Put ``packets`` among ``trace``'s events, in time order (both are in time order)."""

    def when(event: Event) -> float:
        return event.t

    trace.events = list(heapq.merge(trace.events, sorted(packets, key=when), key=when))
