"""``webtrip demo``: the bundled lab on loopback, browsed and narrated.

With no configuration it starts, in this one process, the lab's DNS as it
really is — a root server (127.53.0.1), the server of ``.test``
(127.53.0.2), ``webtrip.test``'s own server (127.53.0.3), all on one port,
and a recursive resolver (127.53.0.4) that walks down from the root — and
the web server (the demo site, a page about the four steps in English and
Spanish with a stylesheet, an image and a script), then points the browser
at ``http://www.webtrip.test:PORT/`` with the resolver as its DNS server and
tells what happened. Where 127.53.0.x cannot be used (only 127.0.0.1 is
local on some systems), the browser asks ``webtrip.test``'s server directly.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import sys

import click

from webtrip.browser.loader import BrowserOptions, PageLoad
from webtrip.cli.browse import (
    JSON_OPTION,
    LANGUAGE_OPTION,
    NO_RENDER_OPTION,
    RELOAD_OPTION,
    load_exit_code,
    run_browser,
    show_loads,
)
from webtrip.cli.common import UserError, out_console
from webtrip.cli.report import REPORT_OPTION, view_options, write_views
from webtrip.dns.authority import Authority
from webtrip.dns.recursive import RecursiveResolver, load_root_hints
from webtrip.dns.resolver import ResolverService
from webtrip.dns.server import DnsServer
from webtrip.dns.zones import ZoneSet, load_zone
from webtrip.i18n import choose_language
from webtrip.labs import demo_path
from webtrip.net import Address, RealNetwork
from webtrip.trace import Trace
from webtrip.web.server import WebServer
from webtrip.web.sites import Site, SiteMap

DEMO_HOST = "www.webtrip.test"
HIERARCHY = (
    ("root", "root.zone", "127.53.0.1"),
    ("test", "test.zone", "127.53.0.2"),
    ("webtrip.test", "webtrip.test.zone", "127.53.0.3"),
)
"""The demo's name servers, top down: (name, zone file, address); the zones' glue agrees."""
RESOLVER_ADDRESS = "127.53.0.4"


@click.command()
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
      webtrip demo --reload            # twice: the second time DNS is a cache hit
      webtrip demo --json > demo-trace.json
      webtrip demo --har demo.har --mermaid demo.mmd --report demo.html
    """
    language = choose_language(lang)
    try:
        trace, loads = asyncio.run(run_lab(language, loads=2 if reload else 1))
    except OSError as exc:
        raise UserError(f"the demo lab could not start: {exc.strerror or exc}") from None
    write_views(trace, har_file, mermaid_file, report_file, language)
    if as_json:
        sys.stdout.write(trace.to_json() + "\n")
    else:
        show_loads(out_console(), trace, loads, language, render=not no_render)
    sys.exit(load_exit_code(loads))


async def run_lab(language: str, loads: int = 1) -> tuple[Trace, list[PageLoad]]:
    """Start the lab's servers, load the demo page (``loads`` times), stop the servers."""
    network = RealNetwork()
    trace = Trace(network.now)
    servers: list[DnsServer | WebServer] = []
    try:
        nameserver = await start_dns(network, trace, servers)
        web_server = WebServer(network, SiteMap([Site.from_folder("", demo_path("site"))]), trace)
        servers.append(web_server)
        addresses = [("127.0.0.1", 0)]
        if _has_ipv6_loopback():
            addresses.append(("::1", 0))
        await web_server.start(addresses)
        port = web_server.addresses[0][1]
        path = "/es/" if language == "es" else "/"
        done = []
        for _ in range(loads):
            done.append(
                await run_browser(
                    network,
                    trace,
                    f"http://{DEMO_HOST}:{port}{path}",
                    nameserver=nameserver,
                    options=BrowserOptions(language=language, total_timeout=20),
                    hosts={},
                )
            )
        return trace, done
    finally:
        for server in reversed(servers):
            await server.aclose()


async def start_dns(
    network: RealNetwork, trace: Trace, servers: list[DnsServer | WebServer]
) -> Address:
    """Start the demo's DNS; the address the browser should ask.

    The hierarchy with its resolver where 127.53.0.x is local, else
    webtrip.test's server alone on 127.0.0.1.
    """
    try:
        return await _start_hierarchy(network, trace, servers)
    except OSError:
        for server in servers:
            await server.aclose()
        servers.clear()
    zones = ZoneSet([load_zone(demo_path("zones", "webtrip.test.zone"))])
    server = DnsServer(network, Authority(zones), trace)
    servers.append(server)
    await server.start([("127.0.0.1", 0)])
    return server.addresses[0]


async def _start_hierarchy(
    network: RealNetwork, trace: Trace, servers: list[DnsServer | WebServer]
) -> Address:
    """The name servers on one free port (a resolver asks every server on the same port)."""
    for _ in range(20):
        port = 0
        started: list[DnsServer] = []
        try:
            for name, zone_file, address in HIERARCHY:
                zones = ZoneSet([load_zone(demo_path("zones", zone_file))])
                server = DnsServer(network, Authority(zones), trace, actor=f"dns-server@{name}")
                started.append(server)
                await server.start([(address, port)])
                port = server.addresses[0][1]
        except OSError as exc:
            for server in started:
                await server.aclose()
            if exc.errno == errno.EADDRINUSE:
                continue  # the port was free on one address but not another: try another
            raise
        servers.extend(started)
        break
    else:
        raise OSError(errno.EADDRINUSE, "no port was free on every name server's address")
    hints = load_root_hints(str(demo_path("zones", "root.hints")))
    engine = RecursiveResolver(network, hints, trace=trace, port=port, timeout=2.0)
    resolver = DnsServer(network, ResolverService(engine, trace), trace, actor="resolver")
    servers.append(resolver)
    await resolver.start([(RESOLVER_ADDRESS, 0)])
    return resolver.addresses[0]


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True
