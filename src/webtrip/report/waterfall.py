"""The waterfall: one row per request, its phases drawn on a shared time axis.

Like the Network panel of a browser's developer tools: where each request
waited (blocked), looked up a name (dns), connected (connect, ssl), sent,
waited for the first byte (wait) and received. The connection column shows
reuse: a request marked ``↺`` went over a connection that was already open.
A file the browser's HTTP cache held fresh has no bar: its size reads
"(cache)", as "(disk cache)" in Chromium's panel; a 304 row is a file the
server said had not changed — a few bytes of headers instead of the file.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.table import Table
from rich.text import Text

from webtrip.i18n import milliseconds, number, translation
from webtrip.report.timings import RequestTiming

PHASE_STYLE = {
    "blocked": ("·", "grey50"),
    "dns": ("d", "dark_cyan"),
    "connect": ("c", "dark_orange"),
    "ssl": ("s", "magenta"),
    "send": ("↑", "green"),
    "wait": ("░", "bright_green"),
    "receive": ("█", "blue"),
}


def waterfall(
    timings: list[RequestTiming], width: int = 32, title: str = "", language: str = "en"
) -> Table:
    """A rich Table: #, file, status, size, connection, the bar, and the total."""
    _ = translation(language).gettext
    table = Table(title=title or None, box=None, pad_edge=False, show_edge=False)
    for column, justify in (("#", "right"), (_("file"), "left"), (_("status"), "right"),
                            (_("size"), "right"), (_("conn"), "left"), (_("timeline"), "left"),
                            (_("time"), "right")):  # fmt: skip
        table.add_column(
            column,
            justify=justify,  # type: ignore[arg-type]
            no_wrap=True,
            min_width=18 if justify == "left" and column != _("conn") else None,
            max_width=26 if column == _("file") else None,
            overflow="ellipsis",
        )
    if not timings:
        return table
    start = min(t.started for t in timings)
    end = max(t.started + max(t.total, 0) / 1000 for t in timings)
    span = max(end - start, 1e-6)
    for timing in timings:
        bar = Text()
        offset = int((timing.started - start) / span * width)
        bar.append(" " * offset)
        used = offset
        for name, value in timing.phases:
            cells = round(value / 1000 / span * width)
            if cells == 0 and value > 0 and name != "blocked":
                cells = 1
            cells = min(cells, width - used)
            symbol, style = PHASE_STYLE[name]
            bar.append(symbol * cells, style=style)
            used += cells
        status = str(timing.status) if timing.status is not None else "✗"
        connection = "-" if timing.connection is None else str(timing.connection)
        if timing.reused:
            connection += " ↺"
        file = Text(_short(timing.url))
        why = _why(timing, _)
        if why:
            file.append("\n↳ " + why, style="dim")
        table.add_row(
            str(timing.request),
            file,
            status,
            _("(cache)") if timing.cache == "fresh" else _size(timing.wire_size, language),
            connection,
            bar,
            milliseconds(timing.total, language),
        )
    return table


def _why(timing: RequestTiming, gettext: Callable[[str], str]) -> str:
    """What asked for the file and why: "style.css: background-image of div.hero"."""
    reason = timing.reason(gettext)
    if timing.kind in ("css-url", "font", "import") and timing.initiator:
        return f"{_short(timing.initiator, 20)}: {reason}"
    return reason


def legend(language: str = "en", *, cache: bool = False) -> Text:
    """What each symbol means: the phase names are HAR's (as in a browser's devtools);
    in other languages each follows its meaning in that language, in brackets. With
    ``cache``, what "(cache)" in the size column means too."""
    _ = translation(language).gettext
    meanings = {
        "blocked": _("queued"),
        "dns": _("DNS lookup"),
        "connect": _("connecting"),
        "ssl": _("TLS handshake"),
        "send": _("sending"),
        "wait": _("waiting"),
        "receive": _("receiving"),
    }
    text = Text()
    for name, (symbol, style) in PHASE_STYLE.items():
        text.append(f"{symbol} ", style=style)
        text.append(f"{name}   " if language == "en" else f"{meanings[name]} ({name})   ")
    text.append("↺ " + _("reused connection"))
    if cache:
        text.append("   " + _("(cache)") + " " + _("kept by the browser: not asked for again"))
    return text


def _short(url: str, limit: int = 38) -> str:
    parts = url.split("/", 3)
    path = "/" + parts[3] if len(parts) > 3 else url
    return path if len(path) <= limit else "…" + path[-(limit - 1) :]


def _size(size: int, language: str) -> str:
    if size < 1024:
        return f"{number(size, language)} B"
    if size < 1024 * 1024:
        return f"{number(size / 1024, language, 1)} kB"
    return f"{number(size / 1024 / 1024, language, 1)} MB"
