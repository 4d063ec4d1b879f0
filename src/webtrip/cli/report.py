"""``webtrip report``: the views of a saved trace, as files (HAR, mermaid, HTML).

The trace a run saved with ``--json`` holds everything that happened; this
command writes the same files the run's own ``--har``, ``--mermaid`` and
``--report`` would have (:func:`webtrip.cli.output.write_views`), byte for byte.
"""

from __future__ import annotations

import click

from webtrip.cli.common import Command, UserError, _
from webtrip.cli.options import REPORT_OPTION, view_options
from webtrip.cli.output import write_views
from webtrip.files import LIMIT_VARIABLE, InputFileError, read_input
from webtrip.i18n import LANGUAGES, choose_language, number
from webtrip.outcomes import EXIT_USAGE
from webtrip.trace import Trace, schema
from webtrip.trace.schema import TraceProblem


@click.command(cls=Command)
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
        raise UserError(_("--html is the old name of --report: give one of them"), EXIT_USAGE)
    report_file = report_file or html_file
    if not har_file and not mermaid_file and not report_file:
        raise UserError(
            _("say which files to write: --har FILE, --mermaid FILE, --report FILE.html"),
            EXIT_USAGE,
        )
    trace = load_trace(trace_file, choose_language(lang))
    write_views(
        trace,
        har_file,
        mermaid_file,
        report_file,
        choose_language(lang),
        mermaid_style=mermaid_style,
    )


def load_trace(trace_file: str, language: str) -> Trace:
    """The trace saved in ``trace_file``; UserError (one sentence, exit 2) if it cannot
    be read or breaks the trace's rules."""
    try:
        text = read_input(trace_file).decode("utf-8")
    except InputFileError as exc:
        raise UserError(_unreadable_trace(trace_file, exc), EXIT_USAGE) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        message = _("cannot read {file}: {reason}").format(file=trace_file, reason=reason)
        raise UserError(message, EXIT_USAGE) from None
    try:
        return Trace.from_json(text)
    except TraceProblem as problem:
        message = _("{file} is not a webtrip trace: {problem}").format(
            file=trace_file, problem=_problem_sentence(problem, language)
        )
        raise UserError(message, EXIT_USAGE) from None
    except ValueError as exc:
        message = _("{file} is not a webtrip trace: {reason}").format(file=trace_file, reason=exc)
        raise UserError(message, EXIT_USAGE) from None


def _unreadable_trace(trace_file: str, error: InputFileError) -> str:
    """The sentence for a trace file that is not a regular file or is too big."""
    if error.reason == "kind":
        return _("{file} is not a regular file: give the file a run was saved to "
                 "(webtrip sim --json > run.json)").format(file=trace_file)  # fmt: skip
    if error.reason == "size":
        return _("{file} is larger than {size} MB: set {variable} to a bigger number of "
                 "megabytes to read it").format(file=trace_file, size=error.limit_mb,
                                                variable=LIMIT_VARIABLE)  # fmt: skip
    return _("{variable} must be a whole number of megabytes from 1 to 1048576").format(
        variable=LIMIT_VARIABLE
    )


def _problem_sentence(problem: TraceProblem, language: str) -> str:
    """The first problem of a trace that breaks its rules, with its JSON path:
    ``events[12].t: expected a finite number from 0 to 100,000,000, got NaN``."""

    def shown(value: float) -> str:
        whole = float(value).is_integer()
        return number(value, language, decimals=0 if whole else 2)

    low, high = shown(problem.low), shown(problem.high)
    expected = {
        schema.NUMBER: _("a finite number from {low} to {high}"),
        schema.INTEGER: _("a whole number from {low} to {high}"),
        schema.TEXT: _("text of at most {high} characters"),
        schema.HEX: _("bytes as hexadecimal digits, two per byte"),
        schema.BOOLEAN: _("true or false"),
        schema.LIST: _("a list of at most {high} items"),
        schema.PAIR: _("a list of exactly {high} items"),
        schema.OBJECT: _("an object"),
        schema.EVENT_TYPE: _("the name of an event type"),
        schema.VERSION: _("format version {high}"),
    }.get(problem.expected)
    where = problem.path
    if problem.expected == schema.NESTING:
        return _("its JSON is nested too deeply")
    if problem.expected == schema.JSON:
        return _("it is not JSON: {reason}").format(reason=problem.got)
    if problem.expected == schema.FIELD:
        return _("{path}: missing, and an event of this type needs it").format(path=where)
    if problem.expected == schema.NO_FIELD:
        return _("{path}: the trace's format has no such field").format(path=where)
    assert expected is not None, problem.expected
    if problem.nullable:
        expected = _("{expected} or null").format(expected=expected)
    return _("{path}: expected {expected}, got {value}").format(
        path=where, expected=expected.format(low=low, high=high), value=problem.got
    )
