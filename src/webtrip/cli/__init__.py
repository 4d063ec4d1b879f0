"""The ``webtrip`` command line.

Each command wires actors to a world and a view: it builds the network, the
trace and the actors (a lab's through :mod:`webtrip.lab`), runs them, and
hands the trace (or the result) to a view from :mod:`webtrip.report`.
Mistakes a user can make end in one clear sentence and a non-zero exit code
(:mod:`webtrip.outcomes`), never a traceback.

- :mod:`demo`, :mod:`browse`, :mod:`sim` — load a page: the bundled lab on
  loopback, the real network, a lab in the simulated network;
- :mod:`dns`, :mod:`web` — run or ask the servers on their own;
- :mod:`report` — the files of a saved trace;
- :mod:`ui` — the local web app that makes runs and shows them;
- :mod:`lesson` — lessons: list, show, run a student's world, check, grade;
- :mod:`compare` — two saved runs side by side;
- :mod:`options`, :mod:`output` — the options several commands share, and
  how a run is shown at a terminal and saved;
- :mod:`common` — consoles, the user-error type, serving until stopped.
"""

from __future__ import annotations

import click

from webtrip import __version__
from webtrip.cli.browse import browse
from webtrip.cli.common import Group
from webtrip.cli.compare import compare
from webtrip.cli.demo import demo
from webtrip.cli.dns import dns_group
from webtrip.cli.lesson import lesson_group
from webtrip.cli.real import real
from webtrip.cli.report import report
from webtrip.cli.sim import sim
from webtrip.cli.ui import ui
from webtrip.cli.web import web_group

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(cls=Group, context_settings=CONTEXT)
@click.version_option(__version__, prog_name="webtrip")
def cli() -> None:
    """See, for real, what happens when a browser loads a web page.

    \b
    Examples:
      webtrip demo                                  the bundled lab, step by step
      webtrip demo --lang es                        the same, in Spanish
      webtrip browse http://www.webtrip.test:8080/ --dns 127.0.0.1:5353
      webtrip dns serve --zone example.zone         an authoritative DNS server
      webtrip dns query www.example.test @127.0.0.1:5353
      webtrip web serve ./public                    a static web server on 127.0.0.1:8080
      webtrip sim --latency 80ms --loss 5%          the lab in a simulated network, every packet
      webtrip report run.json --har run.har         HAR and mermaid files from a saved trace
      webtrip ui                                    make runs and watch them in your browser
      webtrip compare a.json b.json                 two runs side by side, and why they differ
      webtrip sim --what-if "at=40, drop synack"    a run and its branch from event 40
    """


cli.add_command(demo)
cli.add_command(browse)
cli.add_command(sim)
cli.add_command(dns_group)
cli.add_command(web_group)
cli.add_command(report)
cli.add_command(ui)
cli.add_command(lesson_group)
cli.add_command(compare)
cli.add_command(real)


def main() -> None:
    """Entry point of the ``webtrip`` command."""
    cli(prog_name="webtrip")
