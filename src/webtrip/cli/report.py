"""``webtrip report``: the views of a saved trace, as files (HAR, mermaid, HTML).

Also the ``--har FILE``, ``--mermaid FILE`` and ``--report FILE.html``
options that ``webtrip browse``, ``demo`` and ``sim`` share, and the one
function that writes them,
so a run and ``webtrip report`` of its saved trace give the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import click

from webtrip.cli.common import EXIT_USAGE, UserError
from webtrip.i18n import LANGUAGES, choose_language
from webtrip.report.har import har_from_trace
from webtrip.report.html import html_report
from webtrip.report.mermaid import mermaid_from_trace
from webtrip.trace import Trace

F = TypeVar("F", bound=Callable[..., Any])

HAR_OPTION = click.option(
    "--har",
    "har_file",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Write the requests as a HAR 1.2 file (opens in a browser's Network panel).",
)
MERMAID_OPTION = click.option(
    "--mermaid",
    "mermaid_file",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Write a mermaid sequence diagram of the page load.",
)

REPORT_OPTION = click.option(
    "--report",
    "report_file",
    metavar="FILE.html",
    type=click.Path(dir_okay=False),
    help="Write a self-contained HTML page that replays the run, event by event.",
)


def view_options(function: F) -> F:
    """Both ``--har`` and ``--mermaid``."""
    return HAR_OPTION(MERMAID_OPTION(function))


def har_text(trace: Trace) -> str:
    return json.dumps(har_from_trace(trace), indent=2, ensure_ascii=False) + "\n"


def write_views(
    trace: Trace,
    har_file: str | None,
    mermaid_file: str | None,
    report_file: str | None = None,
    language: str = "en",
) -> None:
    """Write the asked-for views of ``trace``; a file that cannot be written is a UserError."""

    def page(trace: Trace) -> str:
        return html_report(trace, language)

    views = ((har_file, har_text), (mermaid_file, mermaid_from_trace), (report_file, page))
    for path, make in views:
        if not path:
            continue
        try:
            with open(path, "w", encoding="utf-8", newline="\n") as file:
                file.write(make(trace))
        except OSError as exc:
            raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None


@click.command()
@click.argument("trace_file", metavar="TRACE.json", type=click.Path(dir_okay=False))
@view_options
@click.option(
    "--html",
    "html_file",
    metavar="FILE.html",
    type=click.Path(dir_okay=False),
    help="Write a self-contained HTML page that replays the run, event by event.",
)
@click.option(
    "--lang",
    type=click.Choice(LANGUAGES),
    default=None,
    help="Language of the HTML page (default: from LANG).",
)
def report(
    trace_file: str,
    har_file: str | None,
    mermaid_file: str | None,
    html_file: str | None,
    lang: str | None,
) -> None:
    """Turn a trace saved with --json into files: HAR, mermaid and HTML.

    The trace of `webtrip demo --json`, `webtrip browse URL --json` or
    `webtrip sim --json` holds everything that happened; these views are
    made from it alone, so they are the same as the ones the run wrote.

    \b
    Examples:
      webtrip sim --json > run.json
      webtrip report run.json --har run.har --mermaid run.mmd
      webtrip demo --json > demo.json && webtrip report demo.json --har demo.har
      webtrip report run.json --html run.html --lang es
    """
    if not har_file and not mermaid_file and not html_file:
        raise UserError(
            "say which files to write: --har FILE, --mermaid FILE, --html FILE", EXIT_USAGE
        )
    try:
        with open(trace_file, encoding="utf-8") as file:
            text = file.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UserError(f"cannot read {trace_file}: {reason}", EXIT_USAGE) from None
    try:
        trace = Trace.from_json(text)
    except ValueError as exc:
        raise UserError(f"{trace_file} is not a webtrip trace: {exc}", EXIT_USAGE) from None
    write_views(trace, har_file, mermaid_file, html_file, choose_language(lang))
