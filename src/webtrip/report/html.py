"""A trace as one self-contained HTML page: the visual replay app with the run inside.

The app (package data in ``report/app/``: page.html, app.css and its scripts, one per
view, concatenated in :data:`APP_SCRIPTS`' order) draws the network with its packets in
flight, the conversation as a sequence diagram, each node's own packet list (the
browser's first; the marks :mod:`webtrip.report.packets` works out on that capture
alone, as Wireshark would on that node's pcap) with the chosen packet's layers and
bytes, the waterfall filling up and the page as received (sandboxed), and the story in
four steps — all on one timeline. It reads only the JSON of
:func:`webtrip.report.app_data.app_data`, inlined into the page (so it opens offline from
a file and asks the network for nothing); both languages are inside, switched without
reloading. ← and → step by event (with Shift by packet), space plays or pauses, 1–4 jump
to a step, + and − change the speed; ``#e=K`` opens it at the K-th event, ``#t=S`` at S
seconds. Opened with ``?selftest``, the page steps through every event with the same
functions the buttons use and writes what it visited (and any script error) into
``#selftest``. :func:`app_page` without data is the empty app ``webtrip ui`` loads runs
into (``window.webtrip.load(data)``).
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
from functools import cache
from importlib import resources
from typing import Any

from webtrip.i18n import LANGUAGES, actor_name, translation
from webtrip.packets.dissect import header_fields
from webtrip.report.event_text import describe
from webtrip.report.packets import drop_note, packet_rows
from webtrip.report.pcap import captured_packets, where_captured
from webtrip.report.timings import request_timings
from webtrip.trace import Trace
from webtrip.trace.events import DROP, LOOPBACK, Event, PacketCaptured

__all__ = [
    "PHASE_COLOURS",
    "app_data_of",
    "app_page",
    "app_script",
    "html_report",
    "labels",
    "report_data",
]

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


@cache
def _asset(name: str) -> str:
    """One of the app's files (``page.html``, ``app.css``, the scripts): package data."""
    return resources.files("webtrip.report").joinpath("app", name).read_text("utf-8")


def _value(value: Any) -> str:
    if isinstance(value, tuple):
        if len(value) == 2 and isinstance(value[1], int) and isinstance(value[0], str):
            return f"{value[0]}:{value[1]}"
        return ", ".join(_value(v) for v in value)
    if isinstance(value, float):
        return f"{value:.6f}"
    return str(value)


def _summary(event: Event) -> str:
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


def report_data(trace: Trace, language: str = "en") -> dict[str, Any]:
    """Everything the page shows, as JSON-ready data."""
    language = language if language in LANGUAGES else "en"
    views, frames, row_of = packet_views(trace, language)
    actors: list[str] = []
    events = []
    for index, event in enumerate(trace.events):
        if event.actor not in actors:
            actors.append(event.actor)
        item: dict[str, Any] = {
            "i": index,
            "t": round(event.t, 6),
            "actor": event.actor,
            "type": type(event).__name__,
            "text": describe(event, language),  # the event as a learner reads it
            "fields": _summary(event),  # its fields, for developers
        }
        request = getattr(event, "request", None)
        if isinstance(request, int):
            item["request"] = request
        if isinstance(event, PacketCaptured) and id(event) in row_of:
            view, row = row_of[id(event)]
            item["packet"] = [view, row]
            info = views[view]["rows"][row]["info"]
            item["fields"] = f"{event.interface} {event.direction}: {info}"
        events.append(item)
    timings = [
        {
            "request": t.request,
            "url": t.url,
            "started": t.started,
            "total": t.total,
            "status": t.status,
            "error": t.error,
            "phases": [[name, value] for name, value in t.phases],
        }
        for t in request_timings(trace)
    ]
    return {
        "language": language,
        "labels": labels(language),
        "colours": PHASE_COLOURS,
        "actors": actors,
        "actor_names": [actor_name(actor, language) for actor in actors],
        "events": events,
        "timings": timings,
        "views": views,
        "frames": frames,
    }


def _script_json(data: Any) -> str:
    """JSON that is safe inside a <script> element (no "</script>", no "<!--").

    "/" is written "\\/" too, so no "http://" appears in the file's bytes; "=" and "("
    are escaped as well, so the received page inside (its ``href="…"``, a stylesheet's
    ``url(…)``) reads as no reference of the report's own.
    """
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for raw, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("/", "\\/"),
        ("=", "\\u003d"),
        ("(", "\\u0028"),
    ):
        text = text.replace(raw, escaped)
    return text


def _text(value: str) -> str:
    """HTML-escaped text in which no URL can be mistaken for a reference ("://" → "&#58;//")."""
    return html.escape(value).replace("://", "&#58;//")


APP_SCRIPTS = (
    "util.js",
    "timeline.js",
    "network.js",
    "sequence.js",
    "packets.js",
    "files.js",
    "story.js",
    "main.js",
)


def app_script() -> str:
    """The app's script: its files (package data, ``report/app/``) in their fixed order."""
    return "\n".join(_asset(name) for name in APP_SCRIPTS)


def app_page(data: dict[str, Any] | None, language: str = "en") -> str:
    """The replay app as one page: its template, CSS and script inlined, ``data`` (the JSON
    of :func:`webtrip.report.app_data.app_data`) inside, opened in ``language``. Without
    data the page waits for ``window.webtrip.load(data)`` (as ``webtrip ui`` does)."""
    language = language if language in LANGUAGES else "en"
    words = (data or {}).get("words", {}).get(language, {}) if data else {}
    title_text = str(words.get("title") or labels(language)["title"])
    return _asset("page.html").format(
        lang=_text(language),
        title=_text(title_text),
        data=_script_json(data) if data is not None else "",
        css=_asset("app.css"),
        js=app_script(),
    )


def app_data_of(trace: Trace) -> dict[str, Any]:
    """The app's data for ``trace`` (imported when asked: :mod:`webtrip.report.app_data`
    builds on this module's packet lists and words)."""
    from webtrip.report.app_data import app_data

    return app_data(trace)


def html_report(trace: Trace, language: str = "en") -> str:
    """The run in ``trace`` as one self-contained HTML page (the replay app), in ``language``."""
    return app_page(app_data_of(trace), language)
