"""The simulated packets of a trace, as a capture tool would show them: a pcap file.

A simulated run records every packet in its trace (a
:class:`~webtrip.trace.events.PacketCaptured` event with the datagram's
bytes, at each interface it crosses). A capture is a choice among them:

- at one node (``node="browser"``): what ``tcpdump`` on that machine would
  see — the packets it sent and received, on every interface;
- on the wire (``node=None``): each hop of each packet once, as it entered
  a link.

:func:`pcap_from_trace` writes such a capture as a pcap file with
:mod:`webtrip.packets.pcap`'s writer, stamped with the trace's calendar start,
so a trace saved with ``--json`` gives back the very same file.

A router forwards each packet from one link to another: its capture holds it
twice, in on one interface and out on the other. Wireshark keeps a TCP
connection's analysis per addresses and ports, not per interface, so in one
file the second copy would look like a retransmission. :func:`capture_files`
therefore writes a node with several links one file per link (``r-eth0.pcap``,
``r-eth1.pcap``...); as pcapng (a name ending ``.pcapng``) each file also
names its interface and says of each packet whether it came in or went out.
"""

from __future__ import annotations

from pathlib import PurePath

from webtrip.i18n import translation
from webtrip.packets.ipv4 import addresses
from webtrip.packets.pcap import (
    PCAPNG_INBOUND,
    PCAPNG_OUTBOUND,
    InterfacePacket,
    pcap_bytes,
    pcapng_bytes,
)
from webtrip.trace import Trace
from webtrip.trace.events import DROP, IN, LOOPBACK, OUT, PacketCaptured


def captured_packets(
    trace: Trace, node: str | None = None, *, drops: bool = False
) -> list[PacketCaptured]:
    """The packets a capture at ``node`` (or on every link, for None) would show, in order.

    With ``drops``, packets thrown away (lost on a link, a full queue, no
    route...) are listed too, where they happened: on every link, all of them;
    at a node, those from or to one of its addresses (the ones it sent or was
    sent) — what its own capture cannot show but its conversation lost.
    """
    events = trace.of_type(PacketCaptured)
    mine: set[str] = set()  # the node's addresses: what it sent from, what it was sent to
    if drops and node is not None:
        for event in events:
            if event.actor == node and event.direction in (OUT, IN):
                ends = addresses(event.data)
                if ends is not None:
                    mine.add(ends[0] if event.direction == OUT else ends[1])
    chosen = []
    for event in events:
        if event.direction == DROP:
            if drops and (node is None or not mine.isdisjoint(addresses(event.data) or ())):
                chosen.append(event)
        elif node is None:
            if event.direction == OUT and event.interface != LOOPBACK:
                chosen.append(event)
        elif event.actor == node:
            chosen.append(event)
    return chosen


def where_captured(captured: list[PacketCaptured], language: str = "en") -> list[str]:
    """For a node with several links (a router), where it captured each packet: its
    interface and direction, ``eth0 in`` (``eth0 entrada``); for a node with one link,
    or a dropped packet, ``""``. A packet list numbers a router's frames across its
    links: this says on which one each was, and whether it came in or went out."""
    pgettext = translation(language).pgettext
    words = {IN: pgettext("direction", "in"), OUT: pgettext("direction", "out")}
    links = {p.interface for p in captured if p.direction != DROP and p.interface != LOOPBACK}
    if len(links) < 2:
        return [""] * len(captured)
    return [
        "" if p.direction == DROP else f"{p.interface} {words.get(p.direction, p.direction)}"
        for p in captured
    ]


def pcap_from_trace(trace: Trace, node: str | None = None) -> bytes:
    """A pcap file of :func:`captured_packets` ``(trace, node)`` (dropped packets left out)."""
    packets = captured_packets(trace, node)
    return pcap_bytes(((p.t, p.data) for p in packets), epoch=trace.wall_start)


def _capture_bytes(trace: Trace, packets: list[PacketCaptured], pcapng: bool) -> bytes:
    if not pcapng:
        return pcap_bytes(((p.t, p.data) for p in packets), epoch=trace.wall_start)
    directions = {IN: PCAPNG_INBOUND, OUT: PCAPNG_OUTBOUND}
    return pcapng_bytes(
        (InterfacePacket(p.t, p.data, p.interface, directions.get(p.direction, 0))
         for p in packets),
        epoch=trace.wall_start,
    )  # fmt: skip


def capture_files(trace: Trace, node: str, path: str) -> dict[str, bytes]:
    """The capture files of ``node`` for a capture asked for at ``path``: that one
    file, or for a node on several links (a router) one per link, named after it
    (``r.pcapng`` → ``r-eth0.pcapng``...), so that no forwarded copy looks like a
    retransmission to Wireshark. pcapng if ``path`` ends ``.pcapng``, else pcap."""
    packets = captured_packets(trace, node)
    pcapng = path.lower().endswith(".pcapng")
    links: list[str] = []
    for packet in packets:
        if packet.interface != LOOPBACK and packet.interface not in links:
            links.append(packet.interface)
    if len(links) <= 1:
        return {path: _capture_bytes(trace, packets, pcapng)}
    chosen = PurePath(path)
    return {
        str(chosen.with_name(f"{chosen.stem}-{link}{chosen.suffix}")): _capture_bytes(
            trace, [p for p in packets if p.interface == link], pcapng
        )
        for link in sorted(links)
    }
