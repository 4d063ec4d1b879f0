"""``webtrip compare``: two saved runs side by side, aligned by what they mean.

The traces of two runs (``webtrip sim --json``, ``demo --json``, ``browse --json``)
are aligned by DNS questions, connections, requests and packets by flow and
sequence — not by line — and every difference is listed, summed up per step of the
four, and the first divergence told with what followed from it
(:mod:`webtrip.report.compare`).

``--real-vs-sim`` makes the two runs itself: the lab over Linux's TCP/IP in
network namespaces (:func:`webtrip.lab.namespaces.real_run`, root only) and in
the simulated network with the same conditions, then says per step how close
they are and explains each kind of difference by its known cause
(:mod:`webtrip.report.real_vs_sim`).
"""

from __future__ import annotations

import json

import click

from webtrip import lab
from webtrip.cli.common import Command, UserError, _, out_console, write_stdout, write_whole
from webtrip.cli.options import LANGUAGE_OPTION
from webtrip.cli.report import load_trace
from webtrip.cli.sim import parse_quantity
from webtrip.i18n import choose_language, number
from webtrip.lab.namespaces import NamespacesUnavailable, real_run
from webtrip.lab.sim import LinkConditions
from webtrip.lab.sim import run as simulated_run
from webtrip.report import real_vs_sim
from webtrip.report.compare import compare as compare_traces
from webtrip.report.compare import show
from webtrip.trace import Trace


@click.command(cls=Command)
@click.argument("trace_a", metavar="A.json", required=False, type=click.Path(dir_okay=False))
@click.argument("trace_b", metavar="B.json", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--real-vs-sim",
    is_flag=True,
    help="Run the lab twice, over Linux's TCP/IP in network namespaces (A; root only) and "
    "in the simulation (B), and compare them: how close per step, and why they differ.",
)
@click.option("--lab", "lab_file", metavar="LAB.toml", help="With --real-vs-sim: a lab file "
              "(default: the demo lab).")  # fmt: skip
@click.option("--latency", help="With --real-vs-sim: the browser link's one-way delay.")
@click.option("--bandwidth", help="With --real-vs-sim: the browser link's speed.")
@click.option("--mtu", type=click.IntRange(576, 9000), help="With --real-vs-sim: its MTU.")
@click.option(
    "--seed",
    default=1,
    show_default=True,
    type=click.IntRange(0, 2**63 - 1),
    help="With --real-vs-sim: the simulated run's seed.",
)
@click.option(
    "--runs",
    default=3,
    show_default=True,
    type=click.IntRange(1, 20),
    help="With --real-vs-sim: real runs to make; the one with the median page time is "
    "compared (a machine's other work moves one run's times).",
)
@click.option("--trace-a", "save_a", metavar="REAL.json", help="With --real-vs-sim: write "
              "the real run's trace.")  # fmt: skip
@click.option("--trace-b", "save_b", metavar="SIM.json", help="With --real-vs-sim: write "
              "the simulated run's trace.")  # fmt: skip
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
def compare(
    trace_a: str | None,
    trace_b: str | None,
    real_vs_sim: bool,
    lab_file: str | None,
    latency: str | None,
    bandwidth: str | None,
    mtu: int | None,
    seed: int,
    runs: int,
    save_a: str | None,
    save_b: str | None,
    as_json: bool,
    limit: int,
    lang: str | None,
) -> None:
    """Compare two runs: what only one has, what changed, and why.

    Both traces are aligned by meaning: DNS questions (who asked, name, type,
    server) and their answers, connections (peer, the file they were opened for),
    requests (method, URL: status, size, segments, times) and the browser's
    packets by flow and relative sequence number — so a retransmission is the
    same segment a second time, and random ports and IDs do not count. Times are
    from each run's first page load. Exit code 0 whether or not they differ; 2
    for a file that is not a trace.

    With --real-vs-sim it makes the two runs itself, from the same lab and link
    conditions: A over Linux's own TCP/IP in network namespaces (root only; the
    browser's link shaped by tbf, its latency by netem or a delay bridge), B in
    the simulation. Then, per step, how close they are against
    docs/fidelity.md's tolerances (handshake and page times within 15 %, the
    same data segments per file), and each kind of difference with its known
    cause (delayed ACKs, segment sizes, the minimum RTO, FIN on the last
    segment, SACK, links left unshaped, the kernel's scheduling) — only those
    the two runs show.

    \b
    Examples:
      webtrip sim --json > a.json
      webtrip sim --drop synack --json > b.json
      webtrip compare a.json b.json             # the SYN-ACK lost: 1 s later
      webtrip sim --latency 80ms --json > slow.json
      webtrip compare a.json slow.json --lang es
      webtrip compare a.json b.json --json > diff.json
      sudo webtrip compare --real-vs-sim
      sudo webtrip compare --real-vs-sim --latency 40ms --bandwidth 2mbit --lang es
      sudo webtrip compare --real-vs-sim --json --trace-a real.json --trace-b sim.json
    """
    language = choose_language(lang)
    if real_vs_sim:
        if trace_a or trace_b:
            raise UserError(_("--real-vs-sim makes its own two runs: give it no trace files "
                              "(--trace-a and --trace-b write them)"))  # fmt: skip
        _real_vs_sim(lab_file, latency, bandwidth, mtu, seed, runs, save_a, save_b, as_json,
                     limit, language)  # fmt: skip
        return
    if trace_a is None or trace_b is None:
        raise UserError(_("compare needs two traces, A.json and B.json, or --real-vs-sim"))
    first = load_trace(trace_a, language)
    second = load_trace(trace_b, language)
    comparison = compare_traces(first, second)
    if as_json:
        write_stdout(json.dumps(comparison.to_json(language), ensure_ascii=False, indent=1) + "\n")
        return
    show(out_console(), comparison, language, limit=limit)


def _real_vs_sim(
    lab_file: str | None,
    latency: str | None,
    bandwidth: str | None,
    mtu: int | None,
    seed: int,
    runs: int,
    save_a: str | None,
    save_b: str | None,
    as_json: bool,
    limit: int,
    language: str,
) -> None:
    try:
        chosen = lab.load_lab(lab_file) if lab_file else lab.demo_lab()
    except lab.LabError as exc:
        raise UserError(str(exc)) from None
    conditions = LinkConditions(
        latency=parse_quantity("latency", latency) if latency else None,
        bandwidth=parse_quantity("bandwidth", bandwidth) if bandwidth else None,
        mtu=mtu,
    )
    made_runs = []
    try:
        for _number in range(runs):
            trace, run = real_run(chosen, conditions, language=language)
            made_runs.append((real_vs_sim.measure(trace), trace, run))
    except NamespacesUnavailable as exc:
        if exc.reason == "root":
            message = _("--real-vs-sim builds network namespaces, which needs root: run it as "
                        "root (sudo)")  # fmt: skip
        elif exc.reason == "tools":
            message = _("a real run needs iproute2's ip and tc commands: install iproute2")
        else:
            message = _("the real run's network could not be built: {detail}").format(detail=exc)
        raise UserError(message) from None
    by_page = sorted(made_runs, key=lambda r: r[0].page if r[0].page is not None else 1e9)
    ours, real, run = by_page[(len(by_page) - 1) // 2]
    simulated: Trace = simulated_run(chosen, seed, conditions, language=language).world.trace
    for path, trace in ((save_a, real), (save_b, simulated)):
        if path:
            write_whole(path, trace.to_json() + "\n")
    made = real_vs_sim.RunMade(
        run.latency_by,
        tuple(
            (spec.ends[0], spec.ends[1], float(spec.options.get("latency", 0.0)))
            for spec in chosen.links
            if chosen.browser_host not in spec.ends
        ),
        tuple(r[0].page for r in made_runs),
    )
    theirs = real_vs_sim.measure(simulated)
    rows = real_vs_sim.closeness(ours, theirs)
    causes = real_vs_sim.causes(ours, theirs, made)
    comparison = compare_traces(real, simulated)
    if as_json:
        document = comparison.to_json(language)
        document["real_vs_sim"] = real_vs_sim.to_json(rows, causes, made, language)
        write_stdout(json.dumps(document, ensure_ascii=False, indent=1) + "\n")
        return
    console = out_console()
    console.print(_("A: Linux's TCP/IP in network namespaces (the run with the median page "
                    "time of {runs}); B: webtrip's simulation (seed {seed}).").format(
        runs=number(runs, language), seed=seed), highlight=False)  # fmt: skip
    show(console, comparison, language, limit=limit)
    console.print()
    real_vs_sim.show(console, rows, causes, made, language)
