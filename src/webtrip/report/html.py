"""A trace as one self-contained HTML page: the visual replay app with the run inside.

The app (package data in ``report/app/``: page.html, app.css and its scripts, one per
view, concatenated in :data:`APP_SCRIPTS`' order) draws the network with its packets in
flight, the conversation as a sequence diagram, each node's own packet list (the
browser's first; the marks :mod:`webtrip.report.packets` works out on that capture
alone, as Wireshark would on that node's pcap) with the chosen packet's layers and
bytes, the waterfall filling up and the page as received (sandboxed), and the story in
four steps — all on one timeline. It reads only the JSON of
:func:`webtrip.report.app_data.app_data`, inlined into the page gzip-compressed and
base64-encoded (a third of its size; the page opens it with ``DecompressionStream``, so
it opens offline from a file and asks the network for nothing); both languages are
inside, switched without reloading. ← and → step by event (with Shift by packet),
space plays or pauses, 1–4 jump to a step, + and − change the speed; ``#e=K`` opens it
at the K-th event, ``#t=S`` at S seconds, ``#big`` in large type for a projector.
Opened with ``?selftest``, the page steps through every event with the same functions
the buttons use and writes what it visited (and any script error) into ``#selftest``.
:func:`app_page` without data is the empty app ``webtrip ui`` loads runs
into (``window.webtrip.load(data)``).
"""

from __future__ import annotations

import base64
import gzip
import html
import json
import re
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

from webtrip.i18n import LANGUAGES
from webtrip.report.app_data import LATER, app_data, merged, packed, words
from webtrip.report.views import PHASE_COLOURS, labels
from webtrip.trace import Trace

__all__ = [
    "APP_SCRIPTS",
    "CSP",
    "PHASE_COLOURS",
    "app_page",
    "app_script",
    "embedded_data",
    "html_report",
    "labels",
]


@cache
def _asset(name: str) -> str:
    """One of the app's files (``page.html``, ``app.css``, the scripts): package data."""
    return resources.files("webtrip.report").joinpath("app", name).read_text("utf-8")


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


CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
"""The report file's policy: it may run its own inline script and nothing may be fetched."""


def app_page(
    data: dict[str, Any] | None,
    language: str = "en",
    *,
    title: str | None = None,
    linked: tuple[Sequence[str], Sequence[str]] | None = None,
) -> str:
    """The replay app as one page, opened in ``language``, with ``data`` (the JSON of
    :func:`webtrip.report.app_data.app_data`) inside. Without data the page waits for
    ``window.webtrip.load(data)``, its words already there in both languages (as
    ``webtrip ui`` serves it). By default the CSS and script are inlined under
    :data:`CSP`; ``linked=(stylesheets, scripts)`` links them by URL instead (a server
    that sends its own policy, with no inline script)."""
    language = language if language in LANGUAGES else "en"
    text = title or str(labels(language)["title"])
    if linked is None:
        head = (
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
            f"<style>\n{_asset('app.css')}</style>"
        )
        scripts = f"<script>\n{app_script()}</script>"
    else:
        styles, sources = linked
        head = "\n".join(f'<link rel="stylesheet" href="{html.escape(u)}">' for u in styles)
        scripts = "\n".join(f'<script src="{html.escape(u)}"></script>' for u in sources)
    return _asset("page.html").format(
        lang=_text(language),
        title=_text(text),
        head=head,
        words=_script_json(words()),
        data=_packed_data(_part(data, first=True)) if data is not None else "",
        rest=_packed_data(_part(data, first=False)) if data is not None else "",
        scripts=scripts,
    )


def _packed_data(data: dict[str, Any]) -> str:
    """``data`` as the report carries it: its compact JSON gzip-compressed and base64-encoded
    (:func:`webtrip.report.app_data.packed`, a third of the size, the same bytes every
    time), opened by the page with ``DecompressionStream("gzip")``. Base64 has no "<" and
    no ":", so it cannot end the script element or read as a URL."""
    return packed(json.dumps(data, ensure_ascii=False, separators=(",", ":")))


def _part(data: dict[str, Any], *, first: bool) -> dict[str, Any]:
    """The first frame's part of ``data`` (every key but :data:`~webtrip.report.app_data.LATER`),
    or the rest: the page unpacks the second once the first frame is drawn."""
    return {key: value for key, value in data.items() if (key in LATER) != first}


def embedded_data(page: str) -> dict[str, Any] | None:
    """The app's data inside a page made by :func:`app_page`, both parts as one document
    (None in an empty app)."""
    parts = []
    for name in ("trace-data", "trace-data-rest"):
        found = re.search(rf'<script type="[^"]*" id="{name}"[^>]*>(.*?)</script>', page, re.S)
        if found is not None and found.group(1).strip():
            parts.append(json.loads(gzip.decompress(base64.b64decode(found.group(1)))))
    if not parts:
        return None
    return merged(parts[0], parts[1]) if len(parts) == 2 else dict(parts[0])


def html_report(trace: Trace, language: str = "en") -> str:
    """The run in ``trace`` as one self-contained HTML page (the replay app), in ``language``."""
    return app_page(app_data(trace), language)
