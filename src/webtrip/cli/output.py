"""How a run is shown and saved: the same for ``browse``, ``demo``, ``sim`` and ``report``.

At a terminal, each page load is its narration, the waterfall of its requests
and the page's text (:func:`show_loads`), and a simulated run its packet list
(:func:`show_packets`); as files, a run is its HAR, its
mermaid diagram and its HTML replay (:func:`write_views`), made from the
trace alone, so that ``webtrip report`` of a saved trace gives the same bytes.
A load's exit code comes from :mod:`webtrip.outcomes`.
"""

from __future__ import annotations

import json

from rich.console import Console
from rich.measure import Measurement
from rich.text import Text

from webtrip.browser.loader import PageLoad
from webtrip.cli.common import write_whole
from webtrip.i18n import number as in_words
from webtrip.i18n import translation
from webtrip.outcomes import EXIT_INCOMPLETE, EXIT_LOADED
from webtrip.report.har import har_from_trace
from webtrip.report.html import html_report
from webtrip.report.mermaid import mermaid_flowchart, mermaid_from_trace
from webtrip.report.narration import narrate
from webtrip.report.packets import drop_note, packet_rows, packet_table
from webtrip.report.page import render_page
from webtrip.report.pcap import captured_packets, where_captured
from webtrip.report.reload import load_parts, reload_comparison
from webtrip.report.timings import request_timings
from webtrip.report.waterfall import legend, waterfall
from webtrip.trace import PacketCaptured, Trace
from webtrip.trace.events import DROP

__all__ = [
    "exit_code",
    "har_text",
    "load_exit_code",
    "load_parts",
    "show_load",
    "show_loads",
    "show_packets",
    "write_views",
]


def scripts_note(load: PageLoad, language: str) -> str:
    """What webtrip leaves out because it runs no JavaScript (empty if the page has none)."""
    document = load.document
    if document is None or not document.scripts:
        return ""
    text = translation(language).ngettext(
        "The page has {count} script; webtrip does not run JavaScript, so the files a "
        "script would ask for (with fetch(), by adding images or styles, or with "
        "import()) are not fetched here.",
        "The page has {count} scripts; webtrip does not run JavaScript, so the files a "
        "script would ask for (with fetch(), by adding images or styles, or with "
        "import()) are not fetched here.",
        document.scripts,
    )
    return text.format(count=in_words(document.scripts, language))


def limits_notes(load: PageLoad, language: str) -> list[str]:
    """What the browser's parsing limits left out of the page, one sentence each."""
    document = load.document
    if document is None:
        return []
    gettext = translation(language).gettext
    sentences = []
    for template, values in document.notes:
        shown = {
            key: in_words(value, language) if isinstance(value, int) else value
            for key, value in values
        }
        sentences.append(gettext(template).format(**shown))
    return sentences


def show_load(
    console: Console, trace: Trace, load: PageLoad, language: str, *, render: bool = True
) -> None:
    """Narration, waterfall and the page's text, for a person at a terminal."""
    _ = translation(language).gettext
    console.print(Text.assemble(("webtrip", "bold"), f" → {load.url}\n"))
    for paragraph in narrate(trace, language):
        console.print(Text(paragraph.heading, style="bold"))
        console.print(paragraph.text + "\n")
    timings = request_timings(trace)
    if timings:
        bar_width = max(12, min(48, console.width - 64))
        title = _("Timeline of every request")
        console.print(waterfall(timings, bar_width, title=title, language=language))
        console.print(legend(language, cache=any(t.cache == "fresh" for t in timings)))
    note = scripts_note(load, language)
    if note:
        console.print(Text(note, style="dim"))
    for sentence in limits_notes(load, language):
        console.print(Text(sentence, style="dim"))
    if render and load.document is not None:
        console.print()
        console.print(render_page(load.document, language))


def show_loads(
    console: Console,
    trace: Trace,
    loads: list[PageLoad],
    language: str,
    *,
    render: bool = True,
) -> None:
    """:func:`show_load` for each load of a run that loaded the page more than once."""
    if len(loads) == 1:
        show_load(console, trace, loads[0], language, render=render)
        return
    _ = translation(language).gettext
    parts = load_parts(trace)
    for number, (part, load) in enumerate(zip(parts, loads, strict=False), 1):
        if number > 1:
            console.rule(
                _("Load {number}: the same page again, reloaded in the same browser").format(
                    number=number
                )
            )
            console.print()
        show_load(console, part, load, language, render=render and number == 1)
        if number > 1:
            heading, text = reload_comparison(parts[0], part, language)
            console.print(Text(heading, style="bold"))
            console.print(text + "\n")


def show_packets(
    console: Console, trace: Trace, node: str, title: str, language: str = "en"
) -> None:
    """The Wireshark-style list of the packets ``node`` captured, and those of its
    conversations dropped on the way (struck through, with where and why); a router's
    says on which interface each packet was, coming in or going out."""
    captured = captured_packets(trace, node, drops=True)
    rows = packet_rows(
        (
            p.t,
            p.data,
            drop_note(p.actor, p.reason, language) if p.direction == DROP else None,
            p.interface,
        )
        for p in captured
    )
    table = packet_table(rows, title, where_captured(captured, language), language)
    if not console.is_terminal:  # into a pipe or a file a row is one line, as tshark
        wide = console.options.update(width=10_000)  # prints them: `| grep SYN` finds rows
        console.width = max(console.width, Measurement.get(console, wide, table).maximum)
    console.print(table)


def exit_code(load: PageLoad) -> int:
    """The load's failure's code, :data:`~webtrip.outcomes.EXIT_INCOMPLETE` if some of its
    files did not load, else 0."""
    if load.error is not None:
        return load.error.exit_code
    failed = any(
        f.error is not None or f.response is None or f.response.status >= 400
        for f in load.fetched
        if f.kind != "document"
    )
    return EXIT_INCOMPLETE if failed else EXIT_LOADED


def load_exit_code(loads: list[PageLoad]) -> int:
    """The first failing load's exit code, or 0."""
    return next((code for code in map(exit_code, loads) if code), EXIT_LOADED)


def har_text(trace: Trace) -> str:
    return json.dumps(har_from_trace(trace), indent=2, ensure_ascii=False) + "\n"


def write_views(
    trace: Trace,
    har_file: str | None,
    mermaid_file: str | None,
    report_file: str | None = None,
    language: str = "en",
    mermaid_style: str = "sequence",
) -> None:
    """Write the asked-for views of ``trace``, in ``language``; a file that cannot be
    written is a UserError, and is left as it was (see :func:`~webtrip.cli.common.write_whole`).
    ``mermaid_style``: the sequence diagram or the flowchart."""

    def page(trace: Trace) -> str:
        return html_report(trace, language)

    def diagram(trace: Trace) -> str:
        if mermaid_style == "flowchart":
            return mermaid_flowchart(trace, language=language)
        return mermaid_from_trace(trace, language=language)

    views = ((har_file, har_text), (mermaid_file, diagram), (report_file, page))
    for path, make in views:
        if path:
            write_whole(path, make(trace))


def _note(packet: PacketCaptured, language: str) -> str | None:
    """Where and why a dropped packet was dropped (None for a captured one)."""
    return drop_note(packet.actor, packet.reason, language) if packet.direction == DROP else None
