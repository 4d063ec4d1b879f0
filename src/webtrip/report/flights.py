"""Packets in flight and the conversation they make: what the replay moves and draws.

A simulated run records every packet where it was seen: ``out`` when it
entered a link at one node, ``in`` when it came off the link at the next,
``drop`` where it was thrown away (:class:`~webtrip.trace.events.PacketCaptured`).
A *flight* is one packet's hop over one link — its ``out`` paired with the
``in`` at the link's other end (the same bytes, oldest first), or with the
drop that ended it. A router's forwarding is a new flight on its next link,
so a packet from the browser to the web server is two flights through the
demo's router.

A *message* is the same packet end to end, routers folded away: it starts
when an end host (not a router) sends it and ends when it comes off the last
link at the host it was addressed to, or where it was lost. Routers change
only the IP header (TTL, checksum), so a message's flights are found by its
addresses, IP identification and IP payload. Whether a segment was sent again
is TCP's analysis at its sender (:func:`~webtrip.report.mermaid.sent_again`,
the one the mermaid diagram uses), never a guess from another node's copy.

A real run has no packets: its messages are the DNS messages and HTTP
requests and answers the actors recorded, between the actors found in the
trace (``logical``), and it has no flights.
"""

from __future__ import annotations

import base64
import bisect
import functools
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype

from webtrip.i18n import LANGUAGES, number, translation
from webtrip.packets.dissect import Packet, dissect
from webtrip.report.mermaid import forwarders, sent_again
from webtrip.report.timings import request_timings
from webtrip.trace import (
    DnsMessageSent,
    HttpRequestSent,
    HttpResponseCompleted,
    HttpResponseStarted,
    NetworkDescribed,
    PacketCaptured,
    TcpConnectionOpened,
    TcpConnectStarted,
    Trace,
)
from webtrip.trace.events import DROP, IN, INSIDE, LOOPBACK, OUT

__all__ = ["STREAM_CAP", "Text", "both", "flights_and_messages", "streams"]

Text = dict[str, str]
"""A learner-facing text in every language: ``{"en": ..., "es": ...}``."""

STREAM_CAP = 262_144
"""At most this many bytes of each direction of a connection are kept for "follow the
stream"; the rest is counted, not kept (``truncated``)."""

_METHODS = (b"GET ", b"HEAD ", b"POST ", b"PUT ", b"DELETE ", b"OPTIONS ", b"PATCH ")


def N_(text: str) -> str:
    """Marks ``text`` for the catalog; it is translated where it is used."""
    return text


def both(say: Callable[[str], str]) -> Text:
    """``say(language)`` in every language the app switches between."""
    return {language: say(language) for language in LANGUAGES}


def _t(value: float) -> float:
    return round(value, 6)


# --- what a packet is, in a few words -----------------------------------------------------


def _first_line(payload: bytes) -> str:
    return payload.split(b"\r\n", 1)[0][:120].decode("latin-1")


def dns_answer_kind(wire: bytes) -> str:
    """A DNS response's kind: "dns-referral" only when it answers nothing and points to the
    servers of a zone below (NS records in its authority section, not authoritative) —
    a resolver's "no such record" (an SOA there) is an answer, not a referral."""
    try:
        message = dns.message.from_wire(wire, ignore_trailing=True)
    except (dns.exception.DNSException, ValueError):
        return "dns-answer"
    referral = (
        message.rcode() == dns.rcode.NOERROR
        and not message.answer
        and not message.flags & dns.flags.AA
        and any(rrset.rdtype == dns.rdatatype.NS for rrset in message.authority)
    )
    return "dns-referral" if referral else "dns-answer"


def packet_kind(packet: Packet) -> tuple[str, str]:
    """(flight kind: dns|tcp|http|icmp|other, message kind) of a decoded packet."""
    if packet.udp is not None:
        udp = packet.udp
        if 53 not in (udp.source_port, udp.destination_port) or len(udp.payload) < 12:
            return "other", "other"
        if not udp.payload[2] & 0x80:
            return "dns", "dns-query"
        return "dns", dns_answer_kind(udp.payload)
    if packet.icmp is not None:
        return "icmp", "other"
    tcp = packet.tcp
    if tcp is None:
        return "other", "other"
    flags = set(tcp.flags)
    if "RST" in flags:
        return "tcp", "rst"
    if "SYN" in flags:
        return "tcp", "syn-ack" if "ACK" in flags else "syn"
    if tcp.payload_size:
        payload = packet.ip.payload[len(packet.ip.payload) - tcp.payload_size :]
        if payload.startswith(_METHODS):
            return "http", "request"
        if payload.startswith(b"HTTP/"):
            return "http", "response"
        return "http", "data"
    return "tcp", "fin" if "FIN" in flags else "ack"


@functools.lru_cache(maxsize=4096)
def _dns_words(payload: bytes) -> str:
    import dns.message
    import dns.rdatatype

    try:
        message = dns.message.from_wire(payload)
    except Exception:
        return ""
    if not message.question:
        return ""
    question = message.question[0]
    return f"{dns.rdatatype.to_text(question.rdtype)} {question.name.to_text(True)}"


def packet_label(packet: Packet, message_kind: str) -> Text:
    """A few words for a packet: "SYN", "DNS query A www.webtrip.test", "HTTP GET /",
    "HTTP/1.1 200 OK", "data (1,448 bytes)"."""
    fixed = {"syn": "SYN", "syn-ack": "SYN-ACK", "ack": "ACK", "fin": "FIN", "rst": "RST"}
    if message_kind in fixed:
        flags = packet.tcp.flags if packet.tcp is not None else ()
        text = fixed[message_kind] + (", FIN" if message_kind == "rst" and "FIN" in flags else "")
        return both(lambda _language: text)
    if message_kind.startswith("dns") and packet.udp is not None:
        asked = _dns_words(packet.udp.payload)
        words = {"dns-query": N_("DNS query {question}"), "dns-answer": N_("DNS answer {question}"),
                 "dns-referral": N_("DNS referral {question}")}[message_kind]  # fmt: skip
        return both(lambda language: translation(language).gettext(words).format(question=asked))
    if message_kind in ("request", "response"):
        payload = packet.ip.payload[len(packet.ip.payload) - packet.payload_size :]
        line = _first_line(payload)
        if message_kind == "request":
            line = "HTTP " + line.rsplit(" ", 1)[0]
        return both(lambda _language: line)
    if message_kind == "data":
        size = packet.payload_size

        def data(language: str) -> str:
            catalog = translation(language)
            words = catalog.ngettext("data ({size} byte)", "data ({size} bytes)", size)
            return words.format(size=number(size, language))

        return both(data)
    if packet.icmp is not None:
        kind, code = packet.icmp.type, packet.icmp.code
        return both(lambda _language: f"ICMP {kind}/{code}")
    return both(lambda language: translation(language).gettext(N_("a packet of {size} bytes"))
                .format(size=number(packet.size, language)))  # fmt: skip


def loss_reason(event: PacketCaptured) -> Text:
    """Why the simulator threw a packet away, in every language."""

    def say(language: str) -> str:
        _ = translation(language).gettext
        reason = event.reason
        if reason.startswith("targeted fault"):
            return _("dropped on purpose by the --drop fault")
        if reason == "lost on the link":
            return _("lost at random on the link (--loss)")
        if reason.startswith("queue full"):
            return _("the link's queue was full")
        if event.interface == INSIDE:
            return _("thrown away by {node}").format(node=event.actor)
        return _("lost on the link")

    return both(say)


# --- which file a data segment carries ---------------------------------------------------


_Flow = tuple[str, int, str, int]
"""A TCP direction: source address and port, destination address and port."""


def _path(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _response_starts(data: bytes) -> list[int]:
    """Where each HTTP/1.1 response begins in one direction's bytes (head and body
    measured by Content-Length or chunked coding; a response of unknown length runs to
    the end)."""
    starts: list[int] = []
    offset = 0
    while offset < len(data) and data.startswith(b"HTTP/", offset):
        starts.append(offset)
        end = data.find(b"\r\n\r\n", offset)
        if end < 0:
            break
        head = data[offset:end].decode("latin-1").split("\r\n")
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        status = head[0].split(" ")[1:2]
        offset = end + 4
        if status and status[0] in ("100", "204", "304"):
            continue
        if "chunked" in headers.get("transfer-encoding", "").lower():
            while True:
                line_end = data.find(b"\r\n", offset)
                if line_end < 0:
                    return starts
                try:
                    length = int(data[offset:line_end].split(b";")[0] or b"0", 16)
                except ValueError:
                    return starts
                offset = line_end + 2
                if length == 0:
                    trailer = data.find(b"\r\n\r\n", offset - 2)
                    offset = offset + 2 if data[offset : offset + 2] == b"\r\n" else (
                        trailer + 4 if trailer >= 0 else len(data))  # fmt: skip
                    break
                offset += length + 2
        elif "content-length" in headers:
            try:
                offset += int(headers["content-length"])
            except ValueError:
                break
        else:
            break
    return starts


class SegmentNames:
    """Names the data segments of each answer to the browser as their sender sent them:
    "segment 3 of 37 of /img/astronaut.jpg" — the k-th segment (in sequence order) of the
    N its sender sent for that answer, counted once each however often it was sent —,
    and "... again" for a copy sent again."""

    def __init__(self, trace: Trace, captures: list[PacketCaptured], routers: set[str]) -> None:
        opened = {e.connection: e for e in trace.of_type(TcpConnectionOpened)
                  if e.actor == "browser"}  # fmt: skip
        urls = {t.request: t.url for t in request_timings(trace)}
        paths: dict[_Flow, list[str]] = defaultdict(list)
        for sent in trace.of_type(HttpRequestSent):
            if (connection := opened.get(sent.connection)) is not None:
                flow = (connection.peer[0], connection.peer[1], connection.local[0],
                        connection.local[1])  # fmt: skip
                paths[flow].append(_path(urls.get(sent.request, "")))
        first: dict[_Flow, int] = {}
        pieces: dict[_Flow, dict[int, bytes]] = defaultdict(dict)
        for event in captures:
            if event.direction != OUT or event.actor in routers or event.interface == LOOPBACK:
                continue
            try:
                packet = dissect(event.data)
            except ValueError:
                continue
            tcp = packet.tcp
            if tcp is None:
                continue
            flow = (packet.ip.source, tcp.source_port, packet.ip.destination,
                    tcp.destination_port)  # fmt: skip
            if flow not in paths:
                continue
            if "SYN" in tcp.flags:
                first[flow] = tcp.sequence + 1
            if tcp.payload_size:
                payload = packet.ip.payload[len(packet.ip.payload) - tcp.payload_size :]
                pieces[flow].setdefault(tcp.sequence, payload)
        self._named: dict[tuple[_Flow, int], tuple[int, int, str]] = {}
        for flow, sent_pieces in pieces.items():
            isn = first.get(flow, min(sent_pieces))
            ordered = sorted(sent_pieces, key=lambda seq: (seq - isn) % 2**32)
            data = bytearray()
            for seq in ordered:
                offset = (seq - isn) % 2**32
                if offset + len(sent_pieces[seq]) > len(data):
                    data += bytes(max(0, offset - len(data)))
                    data[offset:] = sent_pieces[seq]
            starts = _response_starts(bytes(data))
            answer_of = {seq: bisect.bisect_right(starts, (seq - isn) % 2**32) - 1
                         for seq in ordered}  # fmt: skip
            counts: dict[int, int] = defaultdict(int)
            position: dict[int, int] = {}
            for seq in ordered:
                counts[answer_of[seq]] += 1
                position[seq] = counts[answer_of[seq]]
            for seq in ordered:
                answer = answer_of[seq]
                if 0 <= answer < len(paths[flow]):
                    self._named[(flow, seq)] = (position[seq], counts[answer], paths[flow][answer])

    def label(self, packet: Packet, again: bool) -> Text | None:
        """The segment's name, or None if it is not a data segment of a known answer."""
        tcp = packet.tcp
        if tcp is None or not tcp.payload_size:
            return None
        flow = (packet.ip.source, tcp.source_port, packet.ip.destination, tcp.destination_port)
        named = self._named.get((flow, tcp.sequence))
        if named is None:
            return None
        k, total, path = named

        def say(language: str) -> str:
            _ = translation(language).gettext
            text = _("segment {k} of {total} of {path} again") if again else _(
                "segment {k} of {total} of {path}")  # fmt: skip
            return text.format(k=number(k, language), total=number(total, language), path=path)

        return both(say)


# --- the network's links ------------------------------------------------------------------


@dataclass
class _Links:
    """Which link each (node, interface) is on, and who is at its other end."""

    of: dict[tuple[str, str], tuple[str, str]]  # (node, interface) → (link id, peer node)
    owner: dict[str, str]  # address → node

    @classmethod
    def of_trace(cls, trace: Trace) -> _Links:
        described = trace.of_type(NetworkDescribed)
        of: dict[tuple[str, str], tuple[str, str]] = {}
        owner: dict[str, str] = {}
        if described:
            network = described[0]
            interfaces: dict[str, list[str]] = {}
            for name, _role, addresses in network.nodes:
                interfaces[name] = [a.split(" ")[0] for a in addresses]
                for address in addresses:
                    owner[address.split(" ")[-1]] = name
            used: dict[str, int] = defaultdict(int)
            for link, a, b, *_conditions in network.links:
                for here, there in ((a, b), (b, a)):
                    names = interfaces.get(here, [])
                    index = used[here]
                    used[here] += 1
                    if index < len(names):
                        of[(here, names[index])] = (link, there)
            return cls(of, owner)
        for event in trace.of_type(PacketCaptured):  # an older trace: addresses from packets
            if event.direction == OUT and event.interface != LOOPBACK and len(event.data) >= 20:
                owner.setdefault(".".join(str(b) for b in event.data[12:16]), event.actor)
        return cls(of, owner)


def _key(data: bytes) -> bytes:
    """What a router leaves unchanged in a packet: addresses, identification, IP payload."""
    header = (data[0] & 0x0F) * 4
    return data[12:20] + data[4:6] + data[9:10] + data[header:]


# --- flights and messages -----------------------------------------------------------------


def flights_and_messages(
    trace: Trace, index_of: dict[int, int]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every packet's hops (flights) and the messages they carry end to end; ``index_of``
    maps ``id(event)`` to the event's index in the trace."""
    captures = trace.of_type(PacketCaptured)
    if not captures:
        return [], _logical_messages(trace, index_of)
    links = _Links.of_trace(trace)
    routers = set(forwarders(trace))
    again = sent_again(trace)
    names = SegmentNames(trace, captures, routers)
    flights: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    in_air: dict[tuple[str, str, bytes], deque[int]] = defaultdict(deque)  # on a link
    open_messages: dict[bytes, deque[int]] = defaultdict(deque)  # key → messages on their way
    for event in captures:
        if event.interface == LOOPBACK:
            continue
        i = index_of[id(event)]
        try:
            packet = dissect(event.data)
        except ValueError:
            continue
        kind, message_kind = packet_kind(packet)
        key = _key(event.data)
        label = packet_label(packet, message_kind)
        if message_kind == "data":
            if event.actor not in routers:
                label = names.label(packet, id(event) in again) or label
            elif open_messages.get(key):  # a hop of a message: the sender's name for it
                label = messages[open_messages[key][-1]]["label"]
        where = links.of.get((event.actor, event.interface))
        link = where[0] if where else event.actor + " " + event.interface
        if event.direction == OUT:
            if event.actor not in routers:
                m = len(messages)
                messages.append({
                    "from": event.actor,
                    "to": links.owner.get(packet.ip.destination, packet.ip.destination),
                    "t": _t(event.t), "t_end": None, "kind": message_kind,
                    "label": label, "lost": False,
                    "again": id(event) in again, "events": [i], "flights": [],
                })  # fmt: skip
                open_messages[key].append(m)
            f = len(flights)
            flights.append(_flight(event, where, kind, label, i))
            in_air[(link, event.actor if where else "", event.data)].append(f)
            if open_messages.get(key):
                messages[open_messages[key][-1]]["flights"].append(f)
        elif event.direction == IN:
            queue = (in_air.get((where[0], where[1], event.data)) if where
                     else _undescribed(in_air, event))  # fmt: skip
            if not queue:
                if where is None and event.actor not in routers:
                    # Captured at this node only (a real load): seen as it arrived, from
                    # whoever sent it — when it left, no capture says.
                    _arrived_only(event, packet, kind, label, i, links.owner, flights, messages)
                continue
            f = queue.popleft()
            flights[f].update(arrived=_t(event.t), arrived_event=i, to=event.actor)
            if where is None:
                flights[f]["link"] = "-".join(sorted((flights[f]["from"], event.actor)))
            waiting = open_messages.get(key)
            if waiting and event.actor not in routers:
                m = waiting.popleft()
                messages[m]["t_end"] = _t(event.t)
                messages[m]["events"].append(i)
                messages[m]["to"] = event.actor
        elif event.direction == DROP:
            queue = in_air.get((link, event.actor if where else "", event.data))
            if queue:
                f = queue.popleft()
            else:  # thrown away before it entered a link (a full queue, no route...)
                f = len(flights)
                flights.append(_flight(event, where, kind, label, i))
            flights[f]["lost"] = _t(event.t)
            flights[f]["lost_reason"] = loss_reason(event)
            waiting = open_messages.get(key)
            if waiting:
                m = waiting.popleft()
                messages[m].update(t_end=_t(event.t), lost=True)
                messages[m]["events"].append(i)
                if f not in messages[m]["flights"]:
                    messages[m]["flights"].append(f)
    for message in messages:  # never delivered, never seen lost (the run ended first)
        if message["t_end"] is None:
            message["t_end"] = message["t"]
    return flights, messages


def _flight(
    event: PacketCaptured, where: tuple[str, str] | None, kind: str, label: Text, i: int
) -> dict[str, Any]:
    return {
        "frame": None, "from": event.actor, "to": where[1] if where else None,
        "link": where[0] if where else None, "sent": _t(event.t), "arrived": None,
        "lost": None, "lost_reason": None, "kind": kind, "label": label, "sent_event": i,
        "arrived_event": None,
    }  # fmt: skip


def _arrived_only(
    event: PacketCaptured,
    packet: Packet,
    kind: str,
    label: Text,
    i: int,
    owner: dict[str, str],
    flights: list[dict[str, Any]],
    messages: list[dict[str, Any]],
) -> None:
    """A packet a node received that no capture saw leave: a flight and a message that
    begin and end where it arrived (its sender named by its source address)."""
    sender = owner.get(packet.ip.source, packet.ip.source)
    flight = _flight(event, None, kind, label, i)
    link = "-".join(sorted((sender, event.actor)))
    flight.update({"from": sender, "to": event.actor, "arrived": _t(event.t),
                   "arrived_event": i, "link": link})  # fmt: skip
    flights.append(flight)
    message = _message(sender, event.actor, event.t, "data", label, [i])
    message["kind"] = packet_kind(packet)[1]
    message["flights"].append(len(flights) - 1)
    messages.append(message)


def _undescribed(
    in_air: dict[tuple[str, str, bytes], deque[int]], event: PacketCaptured
) -> deque[int] | None:
    """A trace without :class:`NetworkDescribed`: the oldest flight of the same bytes sent
    by another node (any link)."""
    for (link, sender, data), queue in in_air.items():
        if data == event.data and queue and sender == "" and not link.startswith(event.actor):
            return queue
    return None


def _logical_messages(trace: Trace, index_of: dict[int, int]) -> list[dict[str, Any]]:
    """A run without packets: DNS messages, connections and HTTP exchanges as the actors
    recorded them (who sent, to which address; when it was sent and, if the other actor
    ran in this process, when it arrived)."""
    owner: dict[str, str] = {}
    for event in trace.events:
        local = getattr(event, "local", None)
        if isinstance(local, tuple) and len(local) == 2 and isinstance(local[0], str):
            owner.setdefault(f"{local[0]}:{local[1]}", event.actor)
    messages: list[dict[str, Any]] = []
    opened: dict[int, TcpConnectionOpened] = {
        e.connection: e for e in trace.of_type(TcpConnectionOpened) if e.actor == "browser"
    }
    responses: dict[int, HttpResponseCompleted] = {
        e.request: e for e in trace.of_type(HttpResponseCompleted)
    }
    peers: dict[int, str] = {}
    for event in trace.events:
        i = index_of[id(event)]
        if isinstance(event, DnsMessageSent):
            peer = f"{event.peer[0]}:{event.peer[1]}"
            kind = "dns-query"
            wire = event.wire
            if len(wire) >= 12 and wire[2] & 0x80:
                kind = dns_answer_kind(wire)
            words = {"dns-query": N_("DNS query {question}"),
                     "dns-answer": N_("DNS answer {question}"),
                     "dns-referral": N_("DNS referral {question}")}[kind]  # fmt: skip
            asked = _dns_words(wire)
            messages.append(_message(event.actor, owner.get(peer, event.peer[0]), event.t, kind,
                {language: translation(language).gettext(words).format(question=asked)
                 for language in LANGUAGES}, [i]))  # fmt: skip
        elif isinstance(event, TcpConnectStarted):
            peer = f"{event.peer[0]}:{event.peer[1]}"
            peers[event.connection] = owner.get(peer, event.peer[0])
            done = opened.get(event.connection)
            message = _message(event.actor, peers[event.connection], event.t, "connect",
                both(lambda language: translation(language).gettext(
                    N_("TCP connection (three-way handshake)"))), [i])  # fmt: skip
            if done is not None:
                message["t_end"] = _t(done.t)
                message["events"].append(index_of[id(done)])
            messages.append(message)
        elif isinstance(event, HttpRequestSent):
            to = peers.get(event.connection, "web")
            messages.append(_message(event.actor, to, event.t, "request",
                                     both(lambda _l: "HTTP request"), [i]))  # fmt: skip
            messages[-1]["label"] = {
                language: translation(language).gettext(N_("HTTP request {number}"))
                .format(number=event.request) for language in LANGUAGES}  # fmt: skip
        elif isinstance(event, HttpResponseStarted):
            source = peers.get(event.connection, "web")
            message = _message(source, event.actor, event.t, "response",
                               dict.fromkeys(LANGUAGES, f"HTTP/1.1 {event.status} {event.reason}"),
                               [i])  # fmt: skip
            done_response = responses.get(event.request)
            if done_response is not None:
                message["t_end"] = _t(done_response.t)
                message["events"].append(index_of[id(done_response)])
            messages.append(message)
    return messages


def _message(
    source: str, destination: str, t: float, kind: str, label: Text, events: list[int]
) -> dict[str, Any]:
    return {"from": source, "to": destination, "t": _t(t), "t_end": _t(t), "kind": kind,
            "label": label, "lost": False, "again": False, "events": events,
            "flights": []}  # fmt: skip


# --- follow the stream --------------------------------------------------------------------


def streams(
    trace: Trace, frame_of: dict[bytes, int], node: str = "browser"
) -> list[dict[str, Any]]:
    """Each TCP connection of ``node``, its bytes in each direction put back in order as
    ``node`` received (or sent) them, and where each frame's payload sits in them."""
    flows: dict[tuple[str, int, str, int], dict[int, tuple[bytes, int]]] = {}
    order: list[tuple[str, int, str, int]] = []
    starts: dict[tuple[str, int, str, int], int] = {}
    for event in trace.of_type(PacketCaptured):
        if event.actor != node or event.direction not in (IN, OUT):
            continue
        try:
            packet = dissect(event.data)
        except ValueError:
            continue
        tcp = packet.tcp
        if tcp is None:
            continue
        flow = (packet.ip.source, tcp.source_port, packet.ip.destination, tcp.destination_port)
        if flow not in flows:
            flows[flow] = {}
            order.append(flow)
        if "SYN" in tcp.flags:
            starts[flow] = tcp.sequence + 1
        if tcp.payload_size:
            payload = packet.ip.payload[len(packet.ip.payload) - tcp.payload_size :]
            flows[flow].setdefault(tcp.sequence, (payload, frame_of.get(event.data, -1)))
    connections: list[dict[str, Any]] = []
    seen: set[tuple[str, int, str, int]] = set()
    for flow in order:
        if flow in seen:
            continue
        back = (flow[2], flow[3], flow[0], flow[1])
        seen.update((flow, back))
        connections.append({
            "client": f"{flow[0]}:{flow[1]}", "server": f"{flow[2]}:{flow[3]}",
            "sent": _direction(flows[flow], starts.get(flow)),
            "received": _direction(flows.get(back, {}), starts.get(back)),
        })  # fmt: skip
    return connections


def _direction(pieces: dict[int, tuple[bytes, int]], start: int | None) -> dict[str, Any]:
    """One direction's bytes in sequence order (each byte once: a segment sent again adds
    only what was not there yet), at most :data:`STREAM_CAP` kept."""
    if not pieces:
        return {"bytes": "", "size": 0, "truncated": False, "missing": 0, "frames": []}
    first = start if start is not None else min(pieces)
    data = bytearray()
    frames: list[list[int]] = []
    size = missing = 0
    for seq in sorted(pieces, key=lambda s: (s - first) % 2**32):
        payload, frame = pieces[seq]
        offset = (seq - first) % 2**32
        end = offset + len(payload)
        if frame >= 0:
            frames.append([frame, offset, end])
        if end <= size:
            continue
        missing += max(0, offset - size)  # bytes never captured: zeros in their place
        fresh = bytes(max(0, offset - size)) + payload[max(0, size - offset) :]
        size = end
        room = STREAM_CAP - len(data)
        if room > 0:
            data += fresh[:room]
    return {
        "bytes": base64.b64encode(bytes(data)).decode("ascii"),
        "size": size,
        "truncated": size > len(data),
        "missing": missing,
        "frames": frames,
    }
