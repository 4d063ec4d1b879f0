"""``webtrip real`` (hidden, for trying it out): a lab over Linux's TCP/IP in namespaces.

The same lab as ``webtrip sim``, built of network namespaces and veth pairs
with the browser's link shaped as asked (:mod:`webtrip.lab.namespaces`), its
actors on real sockets, the browser's packets captured for real. Root only.
``webtrip compare --real-vs-sim`` calls the same ``real_run`` and is the command
users meet; this one stays hidden, the real run alone for trying it out.
"""

from __future__ import annotations

import sys

import click

from webtrip import lab
from webtrip.cli.common import Command, UserError, _, out_console, write_stdout, write_whole
from webtrip.cli.options import JSON_OPTION, LANGUAGE_OPTION, NO_RENDER_OPTION
from webtrip.cli.output import load_exit_code, show_loads
from webtrip.cli.sim import parse_quantity
from webtrip.i18n import choose_language
from webtrip.lab.namespaces import NamespacesUnavailable, real_run
from webtrip.lab.sim import LinkConditions
from webtrip.report.pcap import capture_files


@click.command(cls=Command, hidden=True)
@click.option("--lab", "lab_file", metavar="LAB.toml", help="A lab file (default: the demo lab).")
@click.option("--latency", help="One-way delay of the browser's link (demo lab: 20ms).")
@click.option("--bandwidth", help="The browser's link speed (demo lab: 10mbit).")
@click.option("--mtu", type=click.IntRange(576, 9000), help="The browser's link MTU (1500).")
@click.option("--pcap", "pcap_file", metavar="FILE.pcap", help="Write the browser's capture.")
@LANGUAGE_OPTION
@JSON_OPTION
@NO_RENDER_OPTION
def real(
    lab_file: str | None,
    latency: str | None,
    bandwidth: str | None,
    mtu: int | None,
    pcap_file: str | None,
    lang: str | None,
    as_json: bool,
    no_render: bool,
) -> None:
    """Run a lab over Linux's own TCP/IP, in network namespaces (root only).

    \b
    Examples:
      sudo webtrip real
      sudo webtrip real --latency 40ms --bandwidth 2mbit --pcap real.pcap
      sudo webtrip real --json > real.json
    """
    language = choose_language(lang)
    try:
        chosen = lab.load_lab(lab_file) if lab_file else lab.demo_lab()
    except lab.LabError as exc:
        raise UserError(str(exc)) from None
    conditions = LinkConditions(
        latency=parse_quantity("latency", latency) if latency else None,
        bandwidth=parse_quantity("bandwidth", bandwidth) if bandwidth else None,
        mtu=mtu,
    )
    try:
        trace, run = real_run(chosen, conditions, language=language)
    except NamespacesUnavailable as exc:
        if exc.reason == "root":
            message = _("a real run builds network namespaces, which needs root: run it as "
                        "root (sudo)")  # fmt: skip
        elif exc.reason == "tools":
            message = _("a real run needs iproute2's ip and tc commands: install iproute2")
        else:
            message = _("the real run's network could not be built: {detail}").format(detail=exc)
        raise UserError(message) from None
    if pcap_file:
        for name, data in capture_files(trace, chosen.browser_host, pcap_file).items():
            write_whole(name, data)
    if as_json:
        write_stdout(trace.to_json() + "\n")
    else:
        show_loads(out_console(), trace, run.loads, language, render=not no_render)
    sys.exit(load_exit_code(run.loads))
