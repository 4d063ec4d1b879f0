"""The replay app's data: one JSON document, computed once from a trace.

The visual replay (the ``--report`` page and ``webtrip ui``) draws the network,
the conversation, the packets, the files and the story on one timeline. It reads
only this document, never the simulator: :func:`app_data` is a pure function of
a trace, and every learner-facing text in it is in both languages
(``{"en": ..., "es": ...}``) so the app switches language without reloading.
Times are seconds from the trace's start, rounded to the microsecond. Every key,
its meaning and its units are in docs/replay-data.md; its JSON Schema is
``report/app_data.schema.json`` (package data).

Where each part comes from:

- the network drawn: :class:`~webtrip.trace.events.NetworkDescribed` (a simulated
  run), else the actors found in the trace joined logically;
- packets moving on links and the conversation: :mod:`webtrip.report.flights`;
- packet rows and their marks: :func:`webtrip.report.views.packet_views` (one
  node's own capture at a time, as Wireshark); each frame's layers with byte
  offsets: :func:`webtrip.packets.dissect.field_layers` and :mod:`.glossary`;
- files: :func:`~webtrip.report.timings.request_timings` and the browser's reads;
- the story: :func:`~webtrip.report.narration.narrate`'s anchored sentences.
"""

from __future__ import annotations

import base64
import functools
import gzip
import json
import zlib
from collections.abc import Callable
from importlib import resources
from typing import Any

from webtrip.i18n import LANGUAGES, actor_name, translation
from webtrip.packets.dissect import dissect, field_layers
from webtrip.report.event_text import describe
from webtrip.report.flights import Text, both, flights_and_messages, streams
from webtrip.report.glossary import glossary
from webtrip.report.narration import narrate
from webtrip.report.packets import drop_note
from webtrip.report.pcap import captured_packets, where_captured
from webtrip.report.timings import request_timings
from webtrip.report.views import PHASE_COLOURS, event_summary, labels, packet_views
from webtrip.trace import (
    DnsMessageReceived,
    DnsMessageSent,
    HttpRequestReceived,
    HttpRequestSent,
    HttpResponseCompleted,
    HttpResponseStarted,
    NameLookupStarted,
    NetworkDescribed,
    PacketCaptured,
    PageLoadFinished,
    PageLoadStarted,
    StreamRead,
    TcpConnectionOpened,
    TcpConnectStarted,
    Trace,
)

__all__ = [
    "LATER",
    "PAGE_CAP",
    "VERSION",
    "app_data",
    "app_data_json",
    "app_data_parts",
    "merged",
    "packed",
    "schema",
    "words",
]

VERSION = 1
PAGE_CAP = 1_048_576
"""The page's HTML and its images are kept up to this many bytes in all (else null)."""

_IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/svg+xml", "image/webp",
                "image/x-icon", "image/vnd.microsoft.icon")  # fmt: skip


def _t(value: float) -> float:
    return round(value, 6)


def _named(actor: str) -> Text:
    """An actor's or a node's name in every language."""
    return {language: actor_name(actor, language) for language in LANGUAGES}


def app_data(trace: Trace) -> dict[str, Any]:
    """Everything the replay app shows of ``trace``, as JSON-ready data (see the module)."""
    first, rest = app_data_parts(trace)
    return merged(first, rest())


LATER = ("frames", "glossary", "streams", "page")
"""The keys a first frame does not need — each frame's fields, bytes and layers (the PDU
window), the glossary, the streams ("follow the stream") and the received page — sent
or unpacked right after it: :func:`app_data_parts`' second part."""

_ORDER = ("version", "run", "words", "colours", "topology", "actors", "events", "flights",
          "messages", "views", "frames", "glossary", "streams", "files", "page", "story",
          "steps")  # fmt: skip


def app_data_parts(trace: Trace) -> tuple[dict[str, Any], Callable[[], dict[str, Any]]]:
    """:func:`app_data` in two parts: what the first frame draws (every key but
    :data:`LATER`), computed now, and a function that computes the rest (the keys in
    :data:`LATER`) — ``webtrip ui`` sends the first part before it works out the second.
    :func:`merged` of the two is :func:`app_data`'s document."""
    index_of = {id(event): i for i, event in enumerate(trace.events)}
    views, frames, row_of = packet_views(trace, "en")
    views = _views_in_both(trace, views)
    frame_of = {base64.b64decode(frame["bytes"]): n for n, frame in enumerate(frames)}
    flights, messages = flights_and_messages(trace, index_of)
    for flight in flights:
        data = captures_by_index(trace, flight["sent_event"])
        flight["frame"] = frame_of.get(data) if data is not None else None
    steps = _steps(trace, index_of)
    events = _events(trace, steps, row_of, views, flights, messages)
    first = {
        "version": VERSION,
        "run": _run(trace),
        "words": words(),
        "colours": PHASE_COLOURS,
        "topology": _topology(trace),
        "actors": _actors(trace),
        "events": events,
        "flights": flights,
        "messages": messages,
        "views": views,
        "files": _files(trace),
        "story": _story(trace, steps, index_of),
        "steps": steps,
    }

    def rest() -> dict[str, Any]:
        for frame in frames:
            frame["layers"] = _layers(base64.b64decode(frame["bytes"]))
        return {
            "frames": frames,
            "glossary": glossary(),
            "streams": streams(trace, frame_of),
            "page": _page(trace),
        }

    return first, rest


def merged(first: dict[str, Any], rest: dict[str, Any]) -> dict[str, Any]:
    """The two parts of :func:`app_data_parts` as one document, its keys in their order."""
    return {key: first[key] if key in first else rest[key] for key in _ORDER}


def app_data_json(trace: Trace) -> str:
    """:func:`app_data` as compact JSON text (UTF-8, keys in a fixed order)."""
    return json.dumps(app_data(trace), ensure_ascii=False, separators=(",", ":"))


def packed(text: str) -> str:
    """``text`` (:func:`app_data_json`'s) gzip-compressed and base64-encoded, the same
    bytes for the same text: about a third of its size (the demo's 1.3 MB is 0.4 MB), for
    a page to embed and open with ``DecompressionStream("gzip")``."""
    return base64.b64encode(gzip.compress(text.encode("utf-8"), 9, mtime=0)).decode("ascii")


def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) that :func:`app_data`'s document follows."""
    text = resources.files("webtrip.report").joinpath("app_data.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def captures_by_index(trace: Trace, index: int) -> bytes | None:
    event = trace.events[index]
    return event.data if isinstance(event, PacketCaptured) else None


# --- the run and its words ---------------------------------------------------------------------


def _run(trace: Trace) -> dict[str, Any]:
    started = next(iter(trace.of_type(PageLoadStarted)), None)
    finished = next(iter(trace.of_type(PageLoadFinished)), None)
    described = trace.of_type(NetworkDescribed)
    simulated = bool(described or trace.of_type(PacketCaptured))
    return {
        "kind": "sim" if simulated else "real",
        "url": started.url if started else None,
        "seed": described[0].seed if described else None,
        "started": _t(trace.events[0].t) if trace.events else 0.0,
        "ended": _t(max((e.t for e in trace.events), default=0.0)),
        "status": finished.status if finished else None,
        "failed": finished.failed if finished else None,
        "final": both(lambda language: describe(finished, language)) if finished else None,
        "loads": len(trace.of_type(PageLoadStarted)),
    }


def words() -> dict[str, dict[str, Any]]:
    """Every label the app shows, per language (the old replay's :func:`labels` and more)."""
    found = {}
    for language in LANGUAGES:
        catalog = translation(language)
        _, pgettext = catalog.gettext, catalog.pgettext
        words = labels(language)
        words.update({
            "steps": {
                "1": _("1. Find the address (DNS)"),
                "2": _("2. Connect and ask (TCP/IP, HTTP)"),
                "3": _("3. The answer in packets"),
                "4": _("4. Put together and show the page"),
            },
            "controls": {
                "play": _("Play"), "pause": _("Pause"), "back": _("Step back"),
                "forward": _("Step forward"), "previous_packet": _("Previous packet"),
                "next_packet": _("Next packet"), "speed": _("Speed"),
                "by_event": _("One event at a time"), "jump_to_step": _("Jump to step"),
                "start": _("Go to the start"), "end": _("Go to the end"),
                "timeline": _("Timeline"), "language": _("Language"),
                "filters": _("Show"), "close": _("Close"),
                "large": _("Large (projector)"),
            },
            "filters": {"dns": "DNS", "tcp": "TCP", "http": "HTTP", "all": _("Everything")},
            "views": {
                "network": _("The network"), "conversation": _("The conversation"),
                "packets": _("The packets"), "files": _("The files"), "story": _("The story"),
                "page": _("The page as received"), "events": _("Events"),
            },
            "layers": {"IPv4": _("Internet Protocol (IPv4)"),
                       "UDP": _("User Datagram Protocol (UDP)"),
                       "TCP": _("Transmission Control Protocol (TCP)"),
                       "ICMP": _("Internet Control Message Protocol (ICMP)"),
                       "DNS": _("Domain Name System (DNS)"),
                       "HTTP": _("Hypertext Transfer Protocol (HTTP)")},
            "roles": {
                "browser": _("browser"), "router": _("router"), "resolver": _("resolver"),
                "root": _("root DNS server"), "tld": _("top-level domain's DNS server"),
                "authoritative": _("the site's DNS server"), "web": _("web server"),
                "other": pgettext("node", "other"),
            },
            "follow_stream": _("Follow the stream"),
            "stream_truncated": _("Only the first {size} bytes are kept here."),
            "sent": pgettext("stream", "sent"), "received": pgettext("stream", "received"),
            "lost_here": _("lost here"), "sent_again": _("sent again"),
            "in_flight": _("on its way"), "arrived": _("arrived"),
            "layers_title": _("Layers"), "hex": _("Bytes (hex)"),
            "field": _("Field"), "value": _("Value"),
            "file_progress": _("{received} of {total} bytes received"),
            "segments": _("Segments"), "time_axis": _("Time (ms)"),
            "no_page": _("The page's bytes are not in this trace."),
            "no_packets": _("This run was on real sockets: its packets were not captured."),
            "logical": _("Drawn from who talked to whom: the real network between them is "
                         "not known."),
            "latency": _("Latency"), "bandwidth": _("Bandwidth"), "loss": _("Loss"),
            "mtu": "MTU", "unlimited": _("no limit"),
        })  # fmt: skip
        found[language] = words
    return found


# --- the network --------------------------------------------------------------------------


def _topology(trace: Trace) -> dict[str, Any]:
    described = trace.of_type(NetworkDescribed)
    if described:
        network = described[0]
        return {
            "logical": False,
            "nodes": [
                {"id": name, "role": role, "name": _named(name),
                 "addresses": [a.split(" ")[-1] for a in addresses],
                 "interfaces": [a.split(" ")[0] for a in addresses]}
                for name, role, addresses in network.nodes
            ],
            "links": [
                {"id": link, "a": a, "b": b, "latency": latency, "bandwidth": bandwidth,
                 "loss": loss, "mtu": mtu}
                for link, a, b, latency, bandwidth, loss, mtu in network.links
            ],
        }  # fmt: skip
    return _logical_topology(trace)


def _logical_topology(trace: Trace) -> dict[str, Any]:
    """A run without a described network: the actors found in the trace, joined as they
    talked — browser to the DNS servers it asked and the web servers it connected to,
    resolvers to the servers they asked."""
    roles: dict[str, str] = {}
    addresses: dict[str, list[str]] = {}
    owner: dict[str, str] = {}
    for event in trace.events:
        local = getattr(event, "local", None)
        if isinstance(local, tuple) and len(local) == 2 and isinstance(local[0], str):
            owner.setdefault(f"{local[0]}:{local[1]}", event.actor)
            if local[0] not in addresses.setdefault(event.actor, []):
                addresses[event.actor].append(local[0])
        if isinstance(event, PageLoadStarted | NameLookupStarted):
            roles.setdefault(event.actor, "browser")
        elif isinstance(event, HttpRequestReceived):
            roles.setdefault(event.actor, "web")
        elif isinstance(event, DnsMessageReceived) and event.wire[2:3] < b"\x80":
            roles.setdefault(event.actor, "resolver" if "resolver" in event.actor
                             else "authoritative")  # fmt: skip
    links: list[tuple[str, str]] = []
    for event in trace.events:
        if isinstance(event, DnsMessageSent) and event.wire[2:3] and not event.wire[2] & 0x80:
            peer = owner.get(f"{event.peer[0]}:{event.peer[1]}", event.peer[0])
        elif isinstance(event, TcpConnectStarted):
            peer = owner.get(f"{event.peer[0]}:{event.peer[1]}", event.peer[0])
            roles.setdefault(peer, "web")
        else:
            continue
        roles.setdefault(peer, "authoritative" if isinstance(event, DnsMessageSent) else "web")
        addresses.setdefault(peer, [])
        if event.peer[0] not in addresses[peer]:
            addresses[peer].append(event.peer[0])
        pair = (event.actor, peer)
        if pair not in links and pair[::-1] not in links:
            links.append(pair)
    for actor in addresses:
        roles.setdefault(actor, "other")
    return {
        "logical": True,
        "nodes": [{"id": actor, "role": roles[actor],
                   "name": _named(actor),
                   "addresses": addresses[actor], "interfaces": []}
                  for actor in addresses if (actor in roles and
                  any(actor in pair for pair in links)) or roles.get(actor) == "browser"],
        "links": [{"id": f"{a}-{b}", "a": a, "b": b, "latency": None, "bandwidth": None,
                   "loss": None, "mtu": None} for a, b in links],
    }  # fmt: skip


def _actors(trace: Trace) -> list[dict[str, Any]]:
    """Every actor that recorded events, with the node it ran on when that is known
    (an actor's own address on a described network)."""
    owner: dict[str, str] = {}
    for network in trace.of_type(NetworkDescribed)[:1]:
        for name, _role, addresses in network.nodes:
            for address in addresses:
                owner[address.split(" ")[-1]] = name
    found: dict[str, str | None] = {}
    for event in trace.events:
        local = getattr(event, "local", None)
        node = None
        if isinstance(local, tuple) and len(local) == 2 and isinstance(local[0], str):
            node = owner.get(local[0])
        elif isinstance(event, PacketCaptured):
            node = event.actor
        if event.actor not in found or found[event.actor] is None:
            found[event.actor] = node
    return [{"id": actor, "name": _named(actor), "node": node}
            for actor, node in found.items()]  # fmt: skip


# --- events and steps ---------------------------------------------------------------------


_STEP_OF_EVENT = (
    (NameLookupStarted, 1),
    (TcpConnectStarted, 2),
    (HttpResponseStarted, 3),
)


def _steps(trace: Trace, index_of: dict[int, int]) -> list[dict[str, Any]]:
    """Where each of the four steps begins and ends in the (first) page load: step 1 at the
    first name lookup, step 2 at the first connection attempt, step 3 when the first
    answer begins to arrive, step 4 when the page's document has arrived whole; each ends
    where the next begins, but step 3 goes on until the load's last answer has arrived
    whole (the page's other files arrive while step 4 puts the page together), and the
    last ends when the load finishes. A step the load never reached is left out."""
    starts: list[tuple[int, Any]] = []
    for kind, step in _STEP_OF_EVENT:
        first = next(iter(trace.of_type(kind)), None)
        if first is not None:
            starts.append((step, first))
    document = next(iter(trace.of_type(HttpResponseCompleted)), None)
    if document is not None and starts and starts[-1][0] == 3:
        starts.append((4, document))
    finished = next(iter(trace.of_type(PageLoadFinished)), None)
    end = finished.t if finished else max((e.t for e in trace.events), default=0.0)
    answered = max((e.t for e in trace.of_type(HttpResponseCompleted) if e.t <= end),
                   default=0.0)  # fmt: skip
    steps = []
    for position, (step, event) in enumerate(starts):
        following = starts[position + 1][1].t if position + 1 < len(starts) else end
        if step == 3 and position + 1 < len(starts):  # the page's files go on arriving
            following = max(following, answered)
        steps.append({"step": step, "t": _t(event.t), "end": _t(max(following, event.t)),
                      "event": index_of[id(event)]})  # fmt: skip
    return steps


def _step_at(steps: list[dict[str, Any]], t: float) -> int | None:
    chosen = None
    for step in steps:
        if step["t"] <= round(t, 6) <= step["end"]:
            chosen = step["step"]
    return chosen


def _events(
    trace: Trace,
    steps: list[dict[str, Any]],
    row_of: dict[int, tuple[int, int]],
    views: list[dict[str, Any]],
    flights: list[dict[str, Any]],
    messages: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    flight_of = {f["sent_event"]: n for n, f in enumerate(flights)}
    for n, f in enumerate(flights):
        if f["arrived_event"] is not None:
            flight_of[f["arrived_event"]] = n
    message_of: dict[int, int] = {}
    for n, m in enumerate(messages):
        for i in m["events"]:
            message_of.setdefault(i, n)
    events = []
    for index, event in enumerate(trace.events):
        item: dict[str, Any] = {
            "i": index,
            "t": _t(event.t),
            "actor": event.actor,
            "type": type(event).__name__,
            "step": _step_at(steps, event.t),
            "text": {language: describe(event, language) for language in LANGUAGES},
            "fields": event_summary(event),
        }
        request = getattr(event, "request", None)
        if isinstance(request, int):
            item["request"] = request
        if isinstance(event, PacketCaptured) and id(event) in row_of:
            view, row = row_of[id(event)]
            item["packet"] = [view, row]
            item["fields"] = (
                f"{event.interface} {event.direction}: {views[view]['rows'][row]['info']}"
            )
        if index in flight_of:
            item["flight"] = flight_of[index]
        if index in message_of:
            item["message"] = message_of[index]
        events.append(item)
    return events


def _views_in_both(trace: Trace, views: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The packet rows with their two language-dependent columns (where a router captured
    it, why it was dropped) in every language."""
    for view in views:
        captured = captured_packets(trace, view["node"], drops=True)
        for language in LANGUAGES:
            places = where_captured(captured, language)
            for row, event, place in zip(view["rows"], captured, places, strict=True):
                if language == LANGUAGES[0]:
                    row["drop_note"], row["where"] = {}, {}
                row["where"][language] = place
                row["drop_note"][language] = (drop_note(event.actor, event.reason, language)
                                              if event.direction == "drop" else "")  # fmt: skip
    return views


# --- a frame's layers ---------------------------------------------------------------------


def _layers(data: bytes) -> list[dict[str, Any]]:
    """The layers of one frame with each field's byte offsets; DNS and HTTP after the
    transport header when the payload is (or begins) one of their messages."""
    found = [
        {"name": layer.name, "start": layer.start, "end": layer.end,
         "fields": [[f.key, f.value, f.start, f.end] for f in layer.fields]}
        for layer in field_layers(data)
    ]  # fmt: skip
    if not found:
        return []
    try:
        packet = dissect(data)
    except ValueError:
        return found
    start = int(str(found[-1]["end"]))
    payload = data[start:]
    if packet.udp is not None and 53 in (packet.udp.source_port, packet.udp.destination_port):
        found.append(_dns_layer(payload, start))
    elif (packet.tcp is not None and payload[:16].split(b" ", 1)[0] in (
        b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"PATCH"
    )) or (packet.tcp is not None and payload.startswith(b"HTTP/")):  # fmt: skip
        found.append(_http_layer(payload, start))
    return found


def _dns_layer(payload: bytes, start: int) -> dict[str, Any]:
    import dns.message
    import dns.rdatatype

    fields: list[list[Any]] = []
    if len(payload) >= 12:
        words = [int.from_bytes(payload[i : i + 2]) for i in range(0, 12, 2)]
        keys = ("dns.id", "dns.flags", "dns.count.queries", "dns.count.answers",
                "dns.count.auth_rr", "dns.count.add_rr")  # fmt: skip
        for n, (key, value) in enumerate(zip(keys, words, strict=True)):
            shown = f"0x{value:04x}" if n < 2 else str(value)
            fields.append([key, shown, start + 2 * n, start + 2 * n + 2])
        offset = 12
        labels: list[str] = []
        while offset < len(payload) and payload[offset] and payload[offset] < 64:
            length = payload[offset]
            labels.append(payload[offset + 1 : offset + 1 + length].decode("latin-1"))
            offset += 1 + length
        if words[2] and offset + 5 <= len(payload):
            fields.append(["dns.qry.name", ".".join(labels) or ".", start + 12,
                           start + offset + 1])  # fmt: skip
            qtype = dns.rdatatype.RdataType.make(int.from_bytes(payload[offset + 1 : offset + 3]))
            fields.append(["dns.qry.type", dns.rdatatype.to_text(qtype), start + offset + 1,
                           start + offset + 3])  # fmt: skip
            offset += 5
            if offset < len(payload):
                records = _dns_records(payload)
                if records:
                    fields.append(["dns.answers", "\n".join(records), start + offset,
                                   start + len(payload)])  # fmt: skip
    return {"name": "DNS", "start": start, "end": start + len(payload), "fields": fields}


@functools.lru_cache(maxsize=4096)
def _dns_records(payload: bytes) -> tuple[str, ...]:
    """A DNS message's records as text (answer, authority, additional), parsed once."""
    import dns.message

    try:
        message = dns.message.from_wire(payload)
        return tuple(str(r) for section in (message.answer, message.authority,
                     message.additional) for r in section)  # fmt: skip
    except Exception:
        return ()


def _http_layer(payload: bytes, start: int) -> dict[str, Any]:
    """The HTTP head that begins ``payload``: its first line and each header (as much of
    them as this segment carries), then the body's bytes in it."""
    fields: list[list[Any]] = []
    offset = 0
    first = True
    while offset < len(payload):
        end = payload.find(b"\r\n", offset)
        if end < 0:
            end = len(payload)
        line = payload[offset:end].decode("latin-1")
        if not line:  # the blank line: the body follows
            offset = end + 2
            break
        key = ("http.response.line" if line.startswith("HTTP/") else "http.request.line") \
            if first else "http.header"  # fmt: skip
        fields.append([key, line, start + offset, start + end])
        first = False
        offset = end + 2
    if offset < len(payload):
        fields.append(["http.body", f"{len(payload) - offset}", start + offset,
                       start + len(payload)])  # fmt: skip
    return {"name": "HTTP", "start": start, "end": start + len(payload), "fields": fields}


# --- files and the page ---------------------------------------------------------------------


def _files(trace: Trace) -> list[dict[str, Any]]:
    """Each request as the waterfall shows it, with its bytes arriving over time: the
    browser's reads on its connection between the request and the end of its answer."""
    sent = {e.request: e for e in trace.of_type(HttpRequestSent)}
    done = {e.request: e for e in trace.of_type(HttpResponseCompleted)}
    opened = {e.connection: e for e in trace.of_type(TcpConnectionOpened) if e.actor == "browser"}
    reads = trace.of_type(StreamRead)
    captures = [
        e for e in trace.of_type(PacketCaptured) if e.actor == "browser" and e.direction == "in"
    ]
    files = []
    for timing in request_timings(trace):
        request = sent.get(timing.request)
        finished = done.get(timing.request)
        progress: list[list[float]] = []
        segments = 0
        if request is not None:
            until = finished.t if finished is not None else float("inf")
            total = 0
            for read in reads:
                if read.connection == request.connection and request.t <= read.t <= until:
                    total += read.size
                    progress.append([_t(read.t), total])
            connection = opened.get(request.connection)
            if connection is not None:
                segments = _segments(captures, connection, request.t, until)
        files.append({
            "request": timing.request, "url": timing.url, "kind": timing.kind,
            "status": timing.status, "size": timing.size, "wire_size": timing.wire_size,
            "content_type": timing.content_type, "started": _t(timing.started),
            "total": timing.total, "cache": timing.cache, "error": timing.error,
            "connection": timing.connection,
            "phases": [[name, value] for name, value in timing.phases],
            "progress": progress, "segments": segments,
        })  # fmt: skip
    return files


def _segments(
    captures: list[PacketCaptured], connection: TcpConnectionOpened, start: float, end: float
) -> int:
    """The data segments the browser received on ``connection`` between two times."""
    count = 0
    for event in captures:
        if not start <= event.t <= end:
            continue
        try:
            packet = dissect(event.data)
        except ValueError:
            continue
        tcp = packet.tcp
        if (tcp is not None and tcp.payload_size and tcp.destination_port == connection.local[1]
                and packet.ip.source == connection.peer[0]):  # fmt: skip
            count += 1
    return count


def _page(trace: Trace) -> dict[str, Any] | None:
    """The document as received and its images as data: URIs, put back together from the
    browser's captured segments (a simulated run); None when the bytes are not in the
    trace (a real run) or the page is larger than :data:`PAGE_CAP`."""
    data = streams(trace, {})
    if not data:
        return None
    by_client = {item["client"]: item for item in data}
    bodies: dict[int, tuple[str, bytes]] = {}
    sent = trace.of_type(HttpRequestSent)
    opened = {e.connection: e for e in trace.of_type(TcpConnectionOpened) if e.actor == "browser"}
    per_connection: dict[int, list[int]] = {}
    for sent_event in sent:
        per_connection.setdefault(sent_event.connection, []).append(sent_event.request)
    for connection, requests in per_connection.items():
        event = opened.get(connection)
        if event is None:
            continue
        stream = by_client.get(f"{event.local[0]}:{event.local[1]}")
        if stream is None or stream["received"]["truncated"]:
            continue
        answers = _responses(base64.b64decode(stream["received"]["bytes"]))
        for request, answer in zip(requests, answers, strict=False):
            bodies[request] = answer
    timings = request_timings(trace)
    document = next((t for t in timings if t.kind == "document" and t.request in bodies), None)
    if document is None:
        return None
    kind, body = bodies[document.request]
    images = []
    size = len(body)
    for timing in timings:
        if timing.request not in bodies or timing.kind != "image":
            continue
        media, image = bodies[timing.request]
        media = media.split(";")[0].strip().lower()
        if media not in _IMAGE_TYPES or size + len(image) > PAGE_CAP:
            continue
        size += len(image)
        encoded = base64.b64encode(image).decode("ascii")
        images.append({"url": timing.url, "data": f"data:{media};base64,{encoded}"})
    if size > PAGE_CAP:
        return None
    return {"url": document.url, "content_type": kind,
            "html": body.decode("utf-8", "replace"), "images": images}  # fmt: skip


def _responses(data: bytes) -> list[tuple[str, bytes]]:
    """The HTTP/1.1 responses one after the other in a connection's received bytes: each
    one's Content-Type and its body (chunked coding and gzip/deflate undone)."""
    found: list[tuple[str, bytes]] = []
    offset = 0
    while offset < len(data):
        end = data.find(b"\r\n\r\n", offset)
        if end < 0:
            break
        head = data[offset:end].decode("latin-1").split("\r\n")
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        status = head[0].split(" ")
        offset = end + 4
        body = b""
        if (len(status) > 1 and status[1] in ("204", "304")) or status[1:2] == ["100"]:
            pass
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            while True:
                line_end = data.find(b"\r\n", offset)
                if line_end < 0:
                    return found
                length = int(data[offset:line_end].split(b";")[0] or b"0", 16)
                offset = line_end + 2
                if length == 0:
                    offset = data.find(b"\r\n\r\n", offset - 2) + 4 if data[offset:offset + 2] \
                        != b"\r\n" else offset + 2  # fmt: skip
                    break
                body += data[offset : offset + length]
                offset += length + 2
        else:
            length = int(headers.get("content-length", "0") or 0)
            body = data[offset : offset + length]
            offset += length
        coding = headers.get("content-encoding", "").lower()
        try:
            if coding == "gzip":
                body = zlib.decompress(body, 16 + zlib.MAX_WBITS)
            elif coding == "deflate":
                body = zlib.decompress(body)
        except zlib.error:
            body = b""
        found.append((headers.get("content-type", ""), body))
    return found


# --- the story ------------------------------------------------------------------------------


def _story(
    trace: Trace, steps: list[dict[str, Any]], index_of: dict[int, int]
) -> list[dict[str, Any]]:
    """The narration's paragraphs in both languages, each sentence with the moment it
    tells (and the event at or just before that moment, which the app jumps to)."""
    told = {language: narrate(trace, language) for language in LANGUAGES}
    times = [e.t for e in trace.events]
    story = []
    english = told["en"]
    for n, paragraph in enumerate(english):
        others = {language: paragraphs[n] for language, paragraphs in told.items()}
        step = _heading_step(n, english)
        sentences = []
        for k, (_text, t) in enumerate(paragraph.sentences):
            sentences.append({
                "text": {language: p.sentences[k][0] if k < len(p.sentences) else ""
                         for language, p in others.items()},
                "t": _t(t),
                "event": _event_at(times, t),
            })  # fmt: skip
        heading: Text = {language: p.heading for language, p in others.items()}
        story.append({"step": step, "heading": heading, "sentences": sentences})
    del steps, index_of
    return story


def _heading_step(n: int, paragraphs: list[Any]) -> int | None:
    heading = paragraphs[n].heading
    for step in (1, 2, 3, 4):
        if heading.startswith(f"Step {step} "):
            return step
    return None


def _event_at(times: list[float], t: float) -> int:
    """The last event at or before ``t`` (the first event if none)."""
    import bisect

    return max(0, bisect.bisect_right(times, t + 1e-9) - 1)
