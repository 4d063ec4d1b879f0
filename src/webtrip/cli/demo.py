"""``webtrip demo``: the bundled lab on loopback, browsed and narrated.

With no configuration it runs the demo lab (``labs/demo/lab.toml``, the same
lab ``webtrip sim`` runs in the simulated network) on this machine's
loopback, in this one process: the DNS as it really is — a root server
(127.53.0.1), the server of ``.test`` (127.53.0.2), ``webtrip.test``'s own
server (127.53.0.3), all on one port, and a recursive resolver (127.53.0.4)
that walks down from the root — and the web server (the demo site, a page
about the four steps in English and Spanish with a stylesheet, an image and a
script) on 127.0.0.1 and ::1; then it points the browser at
``http://www.webtrip.test:PORT/`` with the resolver as its DNS server and tells
what happened. Where 127.53.0.x cannot be used (only 127.0.0.1 is local on
some systems), the browser asks ``webtrip.test``'s server directly.
"""

from __future__ import annotations

import asyncio
import sys

import click

from webtrip.browser.loader import BrowserOptions, PageLoad
from webtrip.cli.common import Command, UserError, out_console, write_stdout
from webtrip.cli.options import (
    JSON_OPTION,
    LANGUAGE_OPTION,
    NO_RENDER_OPTION,
    RELOAD_OPTION,
    REPORT_OPTION,
    view_options,
)
from webtrip.cli.output import load_exit_code, show_loads, write_views
from webtrip.i18n import choose_language
from webtrip.lab import LabError, demo_lab
from webtrip.lab.loopback import run_on_loopback
from webtrip.trace import Trace


@click.command(cls=Command)
@LANGUAGE_OPTION
@JSON_OPTION
@view_options
@REPORT_OPTION
@NO_RENDER_OPTION
@RELOAD_OPTION
def demo(
    lang: str | None,
    as_json: bool,
    har_file: str | None,
    mermaid_file: str | None,
    mermaid_style: str,
    report_file: str | None,
    no_render: bool,
    reload: bool,
) -> None:
    """Run the bundled lab on loopback and show the four steps of a page load.

    Starts the lab's DNS — a root server, the server of .test, webtrip.test's
    own server and a recursive resolver, on 127.53.0.1–4 — and a web server
    for the demo site on 127.0.0.1 (and ::1), browses
    http://www.webtrip.test:PORT/ and narrates what really happened: DNS (the
    resolver's walk from the root), TCP and HTTP, packets, the page.

    \b
    Examples:
      webtrip demo
      webtrip demo --lang es
      webtrip demo --reload            # reloaded: the caches answer, 304 Not Modified
      webtrip demo --json > demo-trace.json
      webtrip demo --har demo.har --mermaid demo.mmd --report demo.html
    """
    language = choose_language(lang)
    try:
        trace, loads = asyncio.run(run_demo(language, loads=2 if reload else 1))
    except OSError as exc:
        raise UserError(f"the demo lab could not start: {exc.strerror or exc}") from None
    write_views(trace, har_file, mermaid_file, report_file, language, mermaid_style=mermaid_style)
    if as_json:
        write_stdout(trace.to_json() + "\n")
    else:
        show_loads(out_console(), trace, loads, language, render=not no_render)
    sys.exit(load_exit_code(loads))


async def run_demo(language: str, loads: int = 1) -> tuple[Trace, list[PageLoad]]:
    """Run the demo lab on loopback: its page in ``language``, loaded ``loads`` times."""
    try:
        lab = demo_lab()
    except LabError as exc:  # only if the installed package is damaged
        raise UserError(str(exc)) from None
    # The browser's Accept-Language says which language it wants; the web server
    # picks the page's language from it (content negotiation): one URL for both.
    options = BrowserOptions(language=language, total_timeout=20)
    return await run_on_loopback(lab, options, loads=loads)
