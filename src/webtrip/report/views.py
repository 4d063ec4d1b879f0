"""What the replay shows of a trace's events and packets: the page's own words, each
node's packet list with its marks, and the packets' header fields and bytes.

Shared by :mod:`webtrip.report.app_data` (the app's JSON) and :mod:`webtrip.report.html`
(the page around it). A packet list is one node's own capture at a time — the browser's
first — with the marks :mod:`webtrip.report.packets` works out on that capture alone, as
Wireshark would on that node's pcap: a copy of a packet seen by another node is never
taken for a retransmission.
"""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

from webtrip.i18n import translation
from webtrip.packets.dissect import header_fields
from webtrip.report.packets import drop_note, packet_rows
from webtrip.report.pcap import captured_packets, where_captured
from webtrip.trace import Trace
from webtrip.trace.events import DROP, LOOPBACK, Event, PacketCaptured

__all__ = ["PHASE_COLOURS", "event_summary", "labels", "packet_views"]

PHASE_COLOURS = {
    "blocked": "#9aa0a6",
    "dns": "#138d90",
    "connect": "#e8710a",
    "ssl": "#a142f4",
    "send": "#1e8e3e",
    "wait": "#81c995",
    "receive": "#1a73e8",
}

_SKIPPED_FIELDS = {"t", "actor", "wire", "data", "headers"}


def labels(language: str) -> dict[str, Any]:
    """The page's own words in ``language`` (through gettext, as the narration's)."""
    catalog = translation(language)
    _, pgettext = catalog.gettext, catalog.pgettext
    return {
        "title": _("webtrip — replay of a page load"),
        "story": _("What happened"),
        "actors": _("Actors and events"),
        "waterfall": _("Waterfall"),
        "packets": _("Packets"),
        "packet": _("Selected packet"),
        "fields": _("Header fields"),
        "bytes": _("Bytes"),
        "back": _("Step back"),
        "forward": _("Step forward"),
        "play": _("Play"),
        "pause": _("Pause"),
        "position": _("event {k} of {n}"),
        "keys": _("Keys: ← and → step, space plays or pauses."),
        "legend": _("Phases"),
        "request": _("Request"),
        "no_events": _("The trace has no events."),
        "no_packet": _("Choose a packet in the list, or step to a packet event."),
        "columns": [
            _("No."),
            _("Time"),
            _("Source"),
            _("Destination"),
            _("Protocol"),
            _("Length"),
            _("Info"),
        ],
        "lost": _("(lost)"),
        "capture_at": _("Packets captured at"),
        "interface": _("Interface"),
        "directions": {"in": pgettext("direction", "in"), "out": pgettext("direction", "out")},
        "phases": {  # HAR's phases, as the waterfall's legend shows them
            "blocked": pgettext("phase", "blocked"),
            "dns": "DNS",
            "connect": pgettext("phase", "connect"),
            "ssl": "TLS",
            "send": pgettext("phase", "send"),
            "wait": pgettext("phase", "wait"),
            "receive": pgettext("phase", "receive"),
        },
    }


def _value(value: Any) -> str:
    if isinstance(value, tuple):
        if len(value) == 2 and isinstance(value[1], int) and isinstance(value[0], str):
            return f"{value[0]}:{value[1]}"
        return ", ".join(_value(v) for v in value)
    if isinstance(value, float):
        return f"{value:.6f}"
    return str(value)


def event_summary(event: Event) -> str:
    parts = []
    for field in dataclasses.fields(event):
        if field.name in _SKIPPED_FIELDS:
            continue
        value = getattr(event, field.name)
        if value in (None, "", ()):
            continue
        text = _value(value)
        if len(text) > 80:
            text = text[:77] + "…"
        parts.append(f"{field.name}={text}")
    return " ".join(parts)


def _base64(data: bytes) -> str:
    """A packet's bytes for the page, which draws their hex dump when one is opened
    (base64 takes a third of what a dump would: a photo's packets stay light)."""
    return base64.b64encode(data).decode("ascii")


def _capture_nodes(trace: Trace, first: str) -> list[str]:
    """The nodes that captured packets, ``first`` first, the others as they appear."""
    nodes = [first] if any(
        isinstance(e, PacketCaptured) and e.actor == first and e.direction != DROP
        for e in trace.events
    ) else []  # fmt: skip
    for event in trace.events:
        if (
            isinstance(event, PacketCaptured)
            and event.direction != DROP
            and event.actor not in nodes
        ):
            nodes.append(event.actor)
    return nodes


def packet_views(
    trace: Trace, language: str = "en", first: str = "browser"
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[int, tuple[int, int]]]:
    """Each node's own packet list (``first``'s first); the packets' details (header
    fields and bytes, once per datagram however many nodes saw it), which rows point
    at; and where each packet event's row is: ``id(event)`` → (view, row), in its own
    node's view when it has one."""
    views: list[dict[str, Any]] = []
    frames: list[dict[str, Any]] = []
    frame_of: dict[bytes, int] = {}  # the same bytes (sent, then received) shown once
    row_of: dict[int, tuple[int, int]] = {}
    for node in _capture_nodes(trace, first):
        captured = captured_packets(trace, node, drops=True)
        rows = packet_rows(
            (p.t, p.data, drop_note(p.actor, p.reason, language) if p.direction == DROP else None,
             p.interface)
            for p in captured
        )  # fmt: skip
        own = [p for p in captured if p.direction != DROP]
        interfaces = sorted({p.interface for p in own if p.interface != LOOPBACK})
        sent_from = sorted({row.source for row, p in zip(rows, captured, strict=True)
                            if p.direction == "out" and p.interface != LOOPBACK})  # fmt: skip
        title = f"{node} ({sent_from[0]})" if len(sent_from) == 1 else node
        places = where_captured(captured, language)
        listed = []
        for index, (row, event, where) in enumerate(zip(rows, captured, places, strict=True)):
            if event.data not in frame_of:
                frame_of[event.data] = len(frames)
                frames.append({"fields": header_fields(event.data), "bytes": _base64(event.data)})
            if event.actor == node or id(event) not in row_of:
                row_of[id(event)] = (len(views), index)
            listed.append(
                {
                    "number": row.number,
                    "time": f"{row.time:.6f}",
                    "source": row.source,
                    "destination": row.destination,
                    "protocol": row.protocol,
                    "length": row.length,
                    "info": row.info,
                    "mark": row.mark,
                    "piece": row.of_a_message,
                    "dropped": row.dropped,
                    "drop_note": row.drop_note,
                    "where": where,
                    "frame": frame_of[event.data],
                }
            )
        views.append(
            {"node": node, "title": title, "interfaces": len(interfaces) > 1, "rows": listed}
        )
    return views, frames, row_of
