"""``webtrip demo``: the bundled lab on loopback, browsed and narrated.

With no configuration it starts, in this one process, the lab's DNS server
(zone ``webtrip.test``) and web server (the demo site, a page about the four
steps in English and Spanish with a stylesheet, an image and a script), then
points the browser at ``http://www.webtrip.test:PORT/`` with that DNS server
and tells what happened.
"""

from __future__ import annotations

import asyncio
import socket
import sys

import click

from webtrip.browser.loader import BrowserOptions, PageLoad
from webtrip.cli.browse import (
    JSON_OPTION,
    LANGUAGE_OPTION,
    NO_RENDER_OPTION,
    exit_code,
    run_browser,
    show_load,
)
from webtrip.cli.common import UserError, out_console
from webtrip.cli.report import REPORT_OPTION, view_options, write_views
from webtrip.dns.authority import Authority
from webtrip.dns.server import DnsServer
from webtrip.dns.zones import ZoneSet, load_zone
from webtrip.i18n import choose_language
from webtrip.labs import demo_path
from webtrip.net import RealNetwork
from webtrip.trace import Trace
from webtrip.web.server import WebServer
from webtrip.web.sites import Site, SiteMap

DEMO_HOST = "www.webtrip.test"


@click.command()
@LANGUAGE_OPTION
@JSON_OPTION
@view_options
@REPORT_OPTION
@NO_RENDER_OPTION
def demo(
    lang: str | None,
    as_json: bool,
    har_file: str | None,
    mermaid_file: str | None,
    report_file: str | None,
    no_render: bool,
) -> None:
    """Run the bundled lab on loopback and show the four steps of a page load.

    Starts a DNS server for webtrip.test and a web server for the demo site on
    127.0.0.1 (and ::1), browses http://www.webtrip.test:PORT/ and narrates
    what really happened: DNS, TCP and HTTP, packets, the page.

    \b
    Examples:
      webtrip demo
      webtrip demo --lang es
      webtrip demo --json > demo-trace.json
      webtrip demo --har demo.har --mermaid demo.mmd --report demo.html
    """
    language = choose_language(lang)
    try:
        trace, load = asyncio.run(run_lab(language))
    except OSError as exc:
        raise UserError(f"the demo lab could not start: {exc.strerror or exc}") from None
    write_views(trace, har_file, mermaid_file, report_file, language)
    if as_json:
        sys.stdout.write(trace.to_json() + "\n")
    else:
        show_load(out_console(), trace, load, language, render=not no_render)
    sys.exit(exit_code(load))


async def run_lab(language: str) -> tuple[Trace, PageLoad]:
    """Start the lab's servers, load the demo page, stop the servers."""
    network = RealNetwork()
    trace = Trace(network.now)
    zones = ZoneSet([load_zone(demo_path("zones", "webtrip.test.zone"))])
    dns_server = DnsServer(network, Authority(zones), trace)
    web_server = WebServer(network, SiteMap([Site.from_folder("", demo_path("site"))]), trace)
    await dns_server.start([("127.0.0.1", 0)])
    addresses = [("127.0.0.1", 0)]
    if _has_ipv6_loopback():
        addresses.append(("::1", 0))
    await web_server.start(addresses)
    try:
        port = web_server.addresses[0][1]
        path = "/es/" if language == "es" else "/"
        return trace, await run_browser(
            network,
            trace,
            f"http://{DEMO_HOST}:{port}{path}",
            nameserver=dns_server.addresses[0],
            options=BrowserOptions(language=language, total_timeout=20),
            hosts={},
        )
    finally:
        await web_server.aclose()
        await dns_server.aclose()


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True
