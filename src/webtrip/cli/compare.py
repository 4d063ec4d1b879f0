"""``webtrip compare``: two saved runs side by side, aligned by what they mean.

The traces of two runs (``webtrip sim --json``, ``demo --json``, ``browse --json``)
are aligned by DNS questions, connections, requests and packets by flow and
sequence — not by line — and every difference is listed, summed up per step of the
four, and the first divergence told with what followed from it
(:mod:`webtrip.report.compare`).
"""

from __future__ import annotations

import json

import click

from webtrip.cli.common import Command, out_console, write_stdout
from webtrip.cli.options import LANGUAGE_OPTION
from webtrip.cli.report import load_trace
from webtrip.i18n import choose_language
from webtrip.report.compare import compare as compare_traces
from webtrip.report.compare import show


@click.command(cls=Command)
@click.argument("trace_a", metavar="A.json", type=click.Path(dir_okay=False))
@click.argument("trace_b", metavar="B.json", type=click.Path(dir_okay=False))
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the comparison as JSON (its fields: docs/compare.md).",
)
@click.option(
    "--limit",
    default=40,
    show_default=True,
    type=click.IntRange(0, 100000),
    help="How many differences in kind (only in one run, changed) the text lists; the "
    "moments that only moved are summed up (--json has every difference).",
)
@LANGUAGE_OPTION
def compare(trace_a: str, trace_b: str, as_json: bool, limit: int, lang: str | None) -> None:
    """Compare two runs: what only one has, what changed, and why.

    Both traces are aligned by meaning: DNS questions (who asked, name, type,
    server) and their answers, connections (peer, the file they were opened for),
    requests (method, URL: status, size, segments, times) and the browser's
    packets by flow and relative sequence number — so a retransmission is the
    same segment a second time, and random ports and IDs do not count. Times are
    from each run's first page load. Exit code 0 whether or not they differ; 2
    for a file that is not a trace.

    \b
    Examples:
      webtrip sim --json > a.json
      webtrip sim --drop synack --json > b.json
      webtrip compare a.json b.json             # the SYN-ACK lost: 1 s later
      webtrip sim --latency 80ms --json > slow.json
      webtrip compare a.json slow.json --lang es
      webtrip compare a.json b.json --json > diff.json
    """
    language = choose_language(lang)
    first = load_trace(trace_a, language)
    second = load_trace(trace_b, language)
    comparison = compare_traces(first, second)
    if as_json:
        write_stdout(json.dumps(comparison.to_json(language), ensure_ascii=False, indent=1) + "\n")
        return
    show(out_console(), comparison, language, limit=limit)
