"""``webtrip dns``: the authoritative DNS server and a dig-like client."""

from __future__ import annotations

import asyncio
import datetime
import json
import shlex
import sys
import time

import click
import dns.name
import dns.rdatatype
import dns.resolver

from webtrip.cli.common import (
    EXIT_NO_REPLY,
    UserError,
    listen_option,
    out_console,
    parse_listen,
    serve_until_stopped,
)
from webtrip.dns.authority import Authority
from webtrip.dns.client import DnsQueryError, DnsTimeout, make_query, query
from webtrip.dns.server import DnsServer
from webtrip.dns.zones import ZoneError, ZoneSet, load_zone
from webtrip.net import Address, RealNetwork, format_address, parse_address
from webtrip.report.dns import dig_text, message_json, query_log_line
from webtrip.trace import DnsMessageDropped, DnsMessageSent, Event, Trace

DEFAULT_LISTEN = "127.0.0.1:5353"


@click.group("dns")
def dns_group() -> None:
    """Step 1: DNS — serve zones, or ask a server a question."""


def load_zones(specs: tuple[str, ...]) -> ZoneSet:
    """Load each ``FILE`` or ``NAME=FILE``; raise UserError naming the bad one."""
    zones = ZoneSet()
    for spec in specs:
        origin, path = None, spec
        if "=" in spec:
            origin, path = spec.split("=", 1)
        try:
            zones.add(load_zone(path, origin))
        except ZoneError as exc:
            raise UserError(str(exc)) from None
    return zones


@dns_group.command("serve")
@click.option(
    "--zone",
    "zone_specs",
    multiple=True,
    required=True,
    metavar="[NAME=]FILE",
    help="An RFC 1035 zone file (the zone's name from its $ORIGIN, or NAME=). Repeatable.",
)
@listen_option(DEFAULT_LISTEN, "UDP and TCP")
@click.option("--log", is_flag=True, help="Print one line per query: client, name, type, rcode.")
@click.option(
    "--tcp-idle-timeout",
    default=10.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds an idle TCP connection is kept open.",
)
@click.option(
    "--max-tcp-connections",
    default=128,
    show_default=True,
    type=click.IntRange(min=1),
    help="TCP connections served at once; more are closed at once.",
)
def serve(
    zone_specs: tuple[str, ...],
    listen: tuple[str, ...],
    log: bool,
    tcp_idle_timeout: float,
    max_tcp_connections: int,
) -> None:
    """Serve zones as an authoritative DNS server (UDP and TCP) until Ctrl-C.

    It answers only for its zones (REFUSED for other names: it is not a
    resolver), follows CNAMEs within them, synthesises wildcards, refers
    delegated names to their servers, and speaks EDNS0.

    \b
    Examples:
      webtrip dns serve --zone example.test.zone
      webtrip dns serve --zone example.test=db.example --listen 127.0.0.1:53 --listen [::1]:53
      webtrip dns serve --zone example.test.zone --log
      dig @127.0.0.1 -p 5353 www.example.test
    """
    zones = load_zones(zone_specs)
    addresses = parse_listen(listen, 53)

    network = RealNetwork()
    trace = Trace(time.monotonic, keep=False, enabled=log)
    if log:
        trace.subscribe(_log_printer(trace))
    server = DnsServer(
        network,
        Authority(zones),
        trace,
        tcp_idle_timeout=tcp_idle_timeout,
        max_tcp_connections=max_tcp_connections,
    )
    names = ", ".join(str(zone.origin) for zone in zones)
    serve_until_stopped(
        server,
        addresses,
        lambda where: f"webtrip DNS server: authoritative for {names} — UDP and TCP on {where}.",
    )


def _log_printer(trace: Trace):  # type: ignore[no-untyped-def]
    def on_event(event: Event) -> None:
        if isinstance(event, DnsMessageSent | DnsMessageDropped):
            sys.stdout.write(query_log_line(event, trace.wall_start) + "\n")
            sys.stdout.flush()

    return on_event


@dns_group.command("query")
@click.argument("words", nargs=-1, required=True, metavar="NAME [TYPE] [@SERVER[:PORT]]")
@click.option("--tcp", is_flag=True, help="Ask over TCP instead of UDP.")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as RFC 8427 JSON.")
@click.option(
    "--timeout",
    default=3.0,
    show_default=True,
    type=click.FloatRange(min=0.01),
    help="Seconds to wait for the answer.",
)
@click.option("--no-recurse", is_flag=True, help="Clear the RD bit (like dig +norec).")
def query_command(
    words: tuple[str, ...], tcp: bool, as_json: bool, timeout: float, no_recurse: bool
) -> None:
    """Ask a DNS server one question and print the answer as dig does.

    Without @SERVER the first nameserver of /etc/resolv.conf is asked.

    \b
    Examples:
      webtrip dns query www.example.test @127.0.0.1:5353
      webtrip dns query example.test MX @127.0.0.1:5353 --tcp
      webtrip dns query www.example.test AAAA @[::1]:5353 --json
    """
    name, rdtype, server = _parse_query_words(words)
    message = _make_query(name, rdtype, no_recurse)
    started = datetime.datetime.now().astimezone()

    async def main():  # type: ignore[no-untyped-def]
        return await query(RealNetwork(), server, message, tcp=tcp, timeout=timeout)

    try:
        result = asyncio.run(main())
    except DnsTimeout as exc:
        raise UserError(str(exc), exit_code=EXIT_NO_REPLY) from None
    except DnsQueryError as exc:
        raise UserError(str(exc), exit_code=EXIT_NO_REPLY) from None
    if as_json:
        doc = {
            "server": format_address(result.server),
            "transport": result.transport,
            "retried_over_tcp": result.retried_over_tcp,
            "elapsed_ms": round(result.elapsed * 1000, 3),
            "query": message_json(result.query),
            "response": message_json(result.response, result.response_wire),
        }
        click.echo(json.dumps(doc, indent=2))
        return
    command = " ".join(shlex.quote(word) for word in words)
    if result.retried_over_tcp:
        out_console().print(";; Truncated, retrying in TCP mode.")
    out_console().print(
        dig_text(
            result.response,
            server=result.server,
            transport=result.transport,
            elapsed=result.elapsed,
            size=len(result.response_wire),
            when=started,
            command=command,
        ),
        markup=False,
    )


def _parse_query_words(words: tuple[str, ...]) -> tuple[str, str, Address]:
    name: str | None = None
    rdtype: str | None = None
    server: Address | None = None
    for word in words:
        if word.startswith("@"):
            try:
                server = parse_address(word[1:], 53)
            except ValueError as exc:
                raise UserError(f"{word}: {exc}", exit_code=2) from None
        elif rdtype is None and name is not None and _is_rdtype(word):
            rdtype = word.upper()
        elif name is None:
            name = word
        else:
            raise UserError(f"'{word}' is not understood: give one name, one type, one @server", 2)
    if name is None:
        raise UserError("give the name to look up, e.g. www.example.test", exit_code=2)
    return name, rdtype or "A", server or _system_nameserver()


def _is_rdtype(word: str) -> bool:
    try:
        dns.rdatatype.from_text(word)
    except dns.rdatatype.UnknownRdatatype:
        return False
    return not word.isdigit()


def _make_query(name: str, rdtype: str, no_recurse: bool):  # type: ignore[no-untyped-def]
    try:
        return make_query(name, rdtype, recursion_desired=not no_recurse)
    except DnsQueryError as exc:
        raise UserError(str(exc), exit_code=2) from None


def _system_nameserver() -> Address:
    try:
        resolver = dns.resolver.Resolver(configure=True)
    except dns.resolver.NoResolverConfiguration:
        raise UserError(
            "no nameserver in /etc/resolv.conf; name one with @SERVER", exit_code=2
        ) from None
    return resolver.nameservers[0], resolver.port
