"""``webtrip sim``: the demo lab in the simulated network, every packet shown.

The same DNS server, web server and browser as ``webtrip demo``, on three
simulated hosts joined by a router, on a virtual clock: runs take no real
time, the browser's link has the latency, bandwidth, loss and MTU you ask for,
and the same seed gives the same packets, byte for byte.
"""

from __future__ import annotations

import re
import sys
import urllib.parse

import click

from webtrip.cli.browse import JSON_OPTION, LANGUAGE_OPTION, NO_RENDER_OPTION, exit_code, show_load
from webtrip.cli.common import EXIT_USAGE, UserError, out_console
from webtrip.i18n import choose_language, translation
from webtrip.netsim import lab
from webtrip.report.packets import packet_rows, packet_table

_UNITS = {
    "latency": {"": 1e-3, "ms": 1e-3, "s": 1.0, "us": 1e-6},
    "bandwidth": {"": 1e6, "bit": 1, "kbit": 1e3, "mbit": 1e6, "gbit": 1e9},
}


def parse_quantity(kind: str, text: str) -> float:
    """``40ms`` → 0.04, ``10mbit`` → 1e7; raise UserError for anything else."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", text)
    units = _UNITS[kind]
    if match is None or match.group(2).lower() not in units:
        known = ", ".join(unit for unit in units if unit)
        raise UserError(f"--{kind} {text}: give a number with a unit ({known})", EXIT_USAGE)
    return float(match.group(1)) * units[match.group(2).lower()]


def parse_loss(text: str) -> float:
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(%?)\s*", text)
    if match is None:
        raise UserError(f"--loss {text}: give a percentage, like 2%", EXIT_USAGE)
    value = float(match.group(1)) / (100 if match.group(2) else 1)
    if not 0 <= value < 1:
        raise UserError(f"--loss {text}: a loss must be at least 0% and below 100%", EXIT_USAGE)
    return value


@click.command()
@click.argument("url", required=False, default="http://www.webtrip.test/")
@click.option(
    "--latency", default="20ms", show_default=True, help="One-way delay of the browser's link."
)
@click.option("--bandwidth", default="10mbit", show_default=True, help="The browser's link speed.")
@click.option("--loss", default="0%", show_default=True, help="Share of packets lost at random.")
@click.option("--mtu", default=1500, show_default=True, type=click.IntRange(576, 65535))
@click.option("--seed", default=1, show_default=True, type=int, help="Same seed, same packets.")
@click.option(
    "--pcap",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the packets to a pcap file.",
)
@click.option("--no-packets", is_flag=True, help="Do not print the packet list.")
@LANGUAGE_OPTION
@JSON_OPTION
@NO_RENDER_OPTION
def sim(
    url: str,
    latency: str,
    bandwidth: str,
    loss: str,
    mtu: int,
    seed: int,
    pcap: str | None,
    no_packets: bool,
    lang: str | None,
    as_json: bool,
    no_render: bool,
) -> None:
    """Run the demo lab in the simulated network and show every packet.

    The browser (10.0.0.1), the DNS server (10.0.0.2) and the web server
    (10.0.0.3) are webtrip's own actors on simulated hosts; the packets are
    real IPv4/UDP/TCP bytes (open the --pcap file in Wireshark or tshark).

    \b
    Examples:
      webtrip sim
      webtrip sim --latency 100ms --bandwidth 1mbit --loss 5% --seed 7
      webtrip sim http://www.webtrip.test/es/ --lang es --pcap lab.pcap
    """
    parts = urllib.parse.urlsplit(url if "://" in url else "http://" + url)
    if parts.hostname not in ("www.webtrip.test", "webtrip.test", "static.webtrip.test"):
        raise UserError(
            "the simulated lab serves www.webtrip.test only, e.g. http://www.webtrip.test/es/",
            EXIT_USAGE,
        )
    conditions = lab.LinkConditions(
        latency=parse_quantity("latency", latency),
        bandwidth=parse_quantity("bandwidth", bandwidth),
        loss=parse_loss(loss),
        mtu=mtu,
    )
    language = choose_language(lang)
    run = lab.run(seed, conditions, path=parts.path or "/", language=language)
    trace = run.world.trace
    if pcap:
        try:
            run.world.write_pcap(pcap, at=run.browser)
        except OSError as exc:
            raise UserError(f"cannot write {pcap}: {exc.strerror or exc}") from None
    if as_json:
        sys.stdout.write(trace.to_json() + "\n")
        sys.exit(exit_code(run.load))
    console = out_console()
    show_load(console, trace, run.load, language, render=not no_render)
    if not no_packets:
        captured = run.world.capture(run.browser)
        rows = packet_rows((p.t, p.data, p.direction == "drop") for p in captured)
        console.print()
        _ = translation(language).gettext
        console.print(packet_table(rows, title=_("Packets at the browser (10.0.0.1)")))
    sys.exit(exit_code(run.load))
