"""``webtrip web``: the static web server."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

import click

from webtrip.cli.common import (
    Group,
    UserError,
    listen_option,
    parse_listen,
    serve_until_stopped,
    sized_connection_cap,
    told_when_out_of_descriptors,
)
from webtrip.cli.options import Seconds, count
from webtrip.net import RealNetwork
from webtrip.outcomes import EXIT_USAGE, N_
from webtrip.report.http import common_log_line
from webtrip.trace import Event, HttpExchangeCompleted, Trace
from webtrip.web.server import WebServer, WebServerOptions
from webtrip.web.sites import Site, SiteError, SiteMap

DEFAULT_LISTEN = "127.0.0.1:8080"


@click.group("web", cls=Group)
def web_group() -> None:
    """Steps 2 and 3: the web server that sends a page's files."""


def build_sites(root: str | None, site_specs: tuple[str, ...]) -> SiteMap:
    """The default site (ROOT) and the named ones; raise UserError for a bad folder."""
    sites = []
    try:
        if root is not None:
            sites.append(Site.from_folder("", root))
        for spec in site_specs:
            name, sep, folder = spec.partition("=")
            if not sep or not name or not folder:
                raise UserError(f"--site {spec}: give it as NAME=FOLDER", exit_code=EXIT_USAGE)
            sites.append(Site.from_folder(name, folder))
    except SiteError as exc:
        raise UserError(str(exc)) from None
    if not sites:
        raise UserError(
            "give a folder to serve (ROOT) or one --site NAME=FOLDER", exit_code=EXIT_USAGE
        )
    return SiteMap(sites)


@web_group.command("serve")
@click.argument("root", required=False, type=click.Path(file_okay=False))
@click.option(
    "--site",
    "site_specs",
    multiple=True,
    metavar="NAME=FOLDER",
    help="Serve FOLDER for requests with Host: NAME. Repeatable.",
)
@listen_option(DEFAULT_LISTEN, "HTTP")
@click.option(
    "--access-log",
    type=click.File("a", lazy=False),
    metavar="FILE",
    help="Write one Common Log Format line per request to FILE ('-' for the terminal).",
)
@click.option("--list-folders", is_flag=True, help="List folders that have no index.html.")
@click.option(
    "--keepalive-timeout",
    default=15.0,
    show_default=True,
    type=Seconds(0.1),
    help="Seconds an idle connection is kept open between requests.",
)
@click.option(
    "--first-request-timeout",
    default=60.0,
    show_default=True,
    type=Seconds(0.1),
    help="Seconds a new connection may wait for its first request (nginx's default).",
)
@click.option(
    "--header-timeout",
    default=10.0,
    show_default=True,
    type=Seconds(0.1),
    help="Seconds a client has to send a whole request head.",
)
@click.option(
    "--max-connections",
    default=512,
    show_default=True,
    type=count(1, 65_535),
    help="Connections served at once (lowered to what ulimit -n allows); when full, an idle "
    "or slow one makes room, else a new one gets 503.",
)
def serve(
    root: str | None,
    site_specs: tuple[str, ...],
    listen: tuple[str, ...],
    access_log: TextIO | None,
    list_folders: bool,
    keepalive_timeout: float,
    first_request_timeout: float,
    header_timeout: float,
    max_connections: int,
) -> None:
    """Serve folders over HTTP/1.1 until Ctrl-C.

    ROOT answers for every host name; --site NAME=FOLDER answers for one name
    (the Host header). Only GET, HEAD and OPTIONS: this server reads, never
    writes. Paths never leave their folder; hidden files are not served.

    \b
    Examples:
      webtrip web serve ./public
      webtrip web serve --site www.example.test=./www --site static.example.test=./static
      webtrip web serve ./public --listen 127.0.0.1:8080 --listen [::1]:8080 --access-log -
      curl -v http://127.0.0.1:8080/
    """
    sites = build_sites(root, site_specs)
    addresses = parse_listen(listen, 80)
    # A connection sending a file holds two descriptors: its socket and the file.
    max_connections = sized_connection_cap(max_connections, N_("connections"), per_connection=2)
    options = WebServerOptions(
        keepalive_timeout=keepalive_timeout,
        first_request_timeout=first_request_timeout,
        header_timeout=header_timeout,
        max_connections=max_connections,
        list_folders=list_folders,
    )

    network = RealNetwork(on_exhausted=told_when_out_of_descriptors)
    trace = Trace(time.monotonic, keep=False, enabled=access_log is not None)
    if access_log is not None:
        trace.subscribe(_access_logger(trace, access_log))
    server = WebServer(network, sites, trace, options=options)
    names = [site.name for site in sites.by_name.values()]
    if sites.default is not None:
        names.append(f"any other name → {sites.default.root}")
    serve_until_stopped(
        server,
        addresses,
        lambda where: f"webtrip web server: {'; '.join(names)} — HTTP/1.1 on {where}.",
    )


def _access_logger(trace: Trace, out: TextIO) -> Callable[[Event], None]:
    def on_event(event: Event) -> None:
        if isinstance(event, HttpExchangeCompleted):
            out.write(common_log_line(event, trace.wall_start) + "\n")
            out.flush()

    return on_event
