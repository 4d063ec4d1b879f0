"""``webtrip report``: the views of a saved trace, as files (HAR, mermaid, HTML).

The trace a run saved with ``--json`` holds everything that happened; this
command writes the same files the run's own ``--har``, ``--mermaid`` and
``--report`` would have (:func:`webtrip.cli.output.write_views`), byte for byte.
"""

from __future__ import annotations

import click

from webtrip.cli.common import UserError
from webtrip.cli.options import REPORT_OPTION, view_options
from webtrip.cli.output import write_views
from webtrip.i18n import LANGUAGES, choose_language
from webtrip.outcomes import EXIT_USAGE
from webtrip.trace import Trace


@click.command()
@click.argument("trace_file", metavar="TRACE.json", type=click.Path(dir_okay=False))
@view_options
@REPORT_OPTION
@click.option(
    "--html",
    "html_file",
    metavar="FILE.html",
    type=click.Path(dir_okay=False),
    hidden=True,
    help="The old name of --report, still understood.",
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
    mermaid_style: str,
    report_file: str | None,
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
      webtrip report run.json --report run.html --lang es
    """
    if report_file and html_file and report_file != html_file:
        raise UserError("--html is the old name of --report: give one of them", EXIT_USAGE)
    report_file = report_file or html_file
    if not har_file and not mermaid_file and not report_file:
        raise UserError(
            "say which files to write: --har FILE, --mermaid FILE, --report FILE.html", EXIT_USAGE
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
    write_views(
        trace,
        har_file,
        mermaid_file,
        report_file,
        choose_language(lang),
        mermaid_style=mermaid_style,
    )
