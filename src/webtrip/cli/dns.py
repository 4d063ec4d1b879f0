"""``webtrip dns``: the authoritative DNS server and a dig-like client."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import shlex
import sys
import time
from collections.abc import Callable

import click
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.resolver

from webtrip.cli.common import (
    Group,
    UserError,
    listen_option,
    out_console,
    parse_listen,
    serve_until_stopped,
    sized_connection_cap,
    told_when_out_of_descriptors,
)
from webtrip.cli.options import Seconds, count
from webtrip.dns.authority import Authority
from webtrip.dns.client import DnsQueryError, DnsTimeout, QueryResult, make_query, query
from webtrip.dns.recursive_resolver import Forwarder, RecursiveResolver, Resolution, load_root_hints
from webtrip.dns.resolver_service import LOOPBACK, ResolverService
from webtrip.dns.rrl import DEFAULT_RATE, DEFAULT_SLIP, RateLimiter
from webtrip.dns.server import MAX_TCP_PENDING, DnsServer
from webtrip.dns.zones import ZoneError, ZoneSet, load_zone
from webtrip.labs import internet_root_hints
from webtrip.net import Address, RealNetwork, format_address, parse_address
from webtrip.outcomes import EXIT_NO_REPLY, EXIT_USAGE, N_
from webtrip.report.dns import (
    dig_text,
    message_json,
    query_log_line,
    resolver_log_line,
    walk_json,
    walk_text,
)
from webtrip.trace import DnsMessageDropped, DnsMessageSent, Event, ResolverAnswered, Trace

DEFAULT_LISTEN = "127.0.0.1:5353"
DEFAULT_RESOLVER_LISTEN = "127.0.0.1:5300"


@click.group("dns", cls=Group)
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
        except ZoneError as exc:  # a file given on the command line: a mistake in the command
            raise UserError(str(exc), EXIT_USAGE) from None
    return zones


def tcp_options(command: Callable[..., None]) -> Callable[..., None]:
    """The TCP limits ``dns serve`` and ``dns resolver`` share."""
    for option in reversed(
        [
            click.option(
                "--tcp-idle-timeout",
                default=10.0,
                show_default=True,
                type=Seconds(0.1),
                help="Seconds an idle TCP connection is kept open.",
            ),
            click.option(
                "--tcp-send-timeout",
                default=5.0,
                show_default=True,
                type=Seconds(0.1),
                help="Seconds a TCP client may leave its answers unread before the connection "
                "is reset.",
            ),
            click.option(
                "--max-tcp-connections",
                default=128,
                show_default=True,
                type=count(1, 65_535),
                help="TCP connections served at once. When all are open, one is closed to "
                "make room: the one idle longest, else the one sending a query slowest (its "
                "message started longest ago), else the one whose answers wait longest "
                "unread; if all are busy, new clients wait until one ends.",
            ),
        ]
    ):
        command = option(command)
    return command


@dns_group.command("serve")
@click.option(
    "--zone",
    "zone_specs",
    multiple=True,
    required=True,
    metavar="[NAME=]FILE",
    help="An RFC 1035 zone file (the zone's name from its $ORIGIN, or NAME=). Repeatable. "
    "Read up to 64 MB; set WEBTRIP_MAX_FILE_MB to raise that.",
)
@listen_option(DEFAULT_LISTEN, "UDP and TCP")
@click.option("--log", is_flag=True, help="Print one line per query: client, name, type, rcode.")
@tcp_options
@click.option(
    "--rrl",
    "rrl",
    default=None,
    type=count(0, 1_000_000),
    metavar="N",
    help="Response-rate limiting: at most N UDP answers a second of one kind (answer, "
    f"NODATA, NXDOMAIN, referral, error) to one /24 (IPv4) or /56 (IPv6). Default: "
    f"{DEFAULT_RATE} on listeners other than loopback, off on loopback (local clients all "
    "share 127.0.0.0/24, and no forged source can reach it from outside). N applies to "
    "every listener, loopback included; 0 turns it off. As with NSD's RRL, answers are "
    "limited after they are computed: it bounds what a forged source can make the server "
    "send, not the server's work.",
)
@click.option(
    "--rrl-slip",
    default=DEFAULT_SLIP,
    show_default=True,
    type=count(0, 100),
    metavar="N",
    help="Of the answers held back by --rrl, every N-th is sent truncated (TC=1) so that "
    "a real client retries over TCP; 0 sends none.",
)
@click.option(
    "--rrl-ipv4-prefix",
    default=24,
    show_default=True,
    type=count(8, 32),
    metavar="BITS",
    help="The IPv4 prefix whose clients share a --rrl budget.",
)
@click.option(
    "--rrl-ipv6-prefix",
    default=56,
    show_default=True,
    type=count(16, 128),
    metavar="BITS",
    help="The IPv6 prefix whose clients share a --rrl budget.",
)
def serve(
    zone_specs: tuple[str, ...],
    listen: tuple[str, ...],
    log: bool,
    tcp_idle_timeout: float,
    tcp_send_timeout: float,
    max_tcp_connections: int,
    rrl: int | None,
    rrl_slip: int,
    rrl_ipv4_prefix: int,
    rrl_ipv6_prefix: int,
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
      webtrip dns serve --zone example.test.zone --listen 192.0.2.53 --rrl 50
      dig @127.0.0.1 -p 5353 www.example.test
    """
    zones = load_zones(zone_specs)
    addresses = parse_listen(listen, 53)
    max_tcp_connections = sized_connection_cap(max_tcp_connections, N_("TCP connections"))

    network = RealNetwork(on_exhausted=told_when_out_of_descriptors)
    trace = Trace(time.monotonic, keep=False, enabled=log)
    if log:
        trace.subscribe(_log_printer(trace))
    limiter = None
    if rrl != 0:
        limiter = RateLimiter(
            rrl or DEFAULT_RATE,
            slip=rrl_slip,
            ipv4_prefix=rrl_ipv4_prefix,
            ipv6_prefix=rrl_ipv6_prefix,
        )
    server = DnsServer(
        network,
        Authority(zones),
        trace,
        tcp_idle_timeout=tcp_idle_timeout,
        tcp_send_timeout=tcp_send_timeout,
        max_tcp_connections=max_tcp_connections,
        rate_limiter=limiter,
        limit_loopback=rrl is not None,
    )
    names = ", ".join(str(zone.origin) for zone in zones)
    serve_until_stopped(
        server,
        addresses,
        lambda where: f"webtrip DNS server: authoritative for {names} — UDP and TCP on {where}.",
    )


def _log_printer(trace: Trace) -> Callable[[Event], None]:
    def on_event(event: Event) -> None:
        if isinstance(event, DnsMessageSent | DnsMessageDropped):
            sys.stdout.write(query_log_line(event, trace.wall_start) + "\n")
            sys.stdout.flush()

    return on_event


ROOT_HINTS_OPTION = click.option(
    "--root-hints",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Where the walk starts: a root hints file (named.root's format). "
    "Default: the Internet's root servers.",
)
SERVER_PORT_OPTION = click.option(
    "--server-port",
    default=53,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="The port name servers are asked on (labs on loopback use another).",
)


def read_root_hints(path: str | None) -> list[tuple[dns.name.Name, str]]:
    """The root servers of ``path``, or the Internet's; UserError naming the problem."""
    try:
        return load_root_hints(path or str(internet_root_hints()))
    except ValueError as exc:
        raise UserError(str(exc), exit_code=EXIT_USAGE) from None


@dns_group.command("resolver")
@listen_option(DEFAULT_RESOLVER_LISTEN, "UDP and TCP")
@ROOT_HINTS_OPTION
@click.option(
    "--forward",
    "upstreams",
    multiple=True,
    metavar="ADDR[:PORT]",
    help="Do not walk the tree: ask this resolver instead (in order, if repeated).",
)
@click.option(
    "--allow",
    "allowed",
    multiple=True,
    metavar="NETWORK",
    help="Clients to answer, like 10.0.0.0/8 (repeatable); others get REFUSED. "
    "Default: loopback only.",
)
@SERVER_PORT_OPTION
@click.option(
    "--0x20",
    "case_randomization",
    is_flag=True,
    help="Randomise the letter case of each question sent, and accept only "
    "answers that repeat it (harder to spoof).",
)
@click.option(
    "--cache-size",
    default=10000,
    show_default=True,
    type=count(1, 10_000_000),
    help="Records (and whole answers) kept at most.",
)
@click.option(
    "--timeout",
    default=2.0,
    show_default=True,
    type=Seconds(0.01),
    help="Seconds to wait for each server's answer.",
)
@click.option("--log", is_flag=True, help="Print one line per answer: client, question, rcode.")
@tcp_options
def resolver_command(
    listen: tuple[str, ...],
    root_hints: str | None,
    upstreams: tuple[str, ...],
    allowed: tuple[str, ...],
    server_port: int,
    case_randomization: bool,
    cache_size: int,
    timeout: float,
    log: bool,
    tcp_idle_timeout: float,
    tcp_send_timeout: float,
    max_tcp_connections: int,
) -> None:
    """Run a recursive resolver (UDP and TCP) until Ctrl-C.

    It finds each answer itself: it asks a root server, follows the referrals
    down to the zone's own servers, and caches what it learns for as long as
    the records' TTLs allow. With --forward it asks another resolver instead.
    It answers only the clients of --allow (loopback by default) and REFUSES
    the rest: never an open resolver.

    \b
    Examples:
      webtrip dns resolver
      webtrip dns resolver --root-hints lab.hints --server-port 5353 --log
      webtrip dns resolver --forward 127.0.0.1:53 --listen 127.0.0.1:5300
      webtrip dns resolver --listen 10.0.0.1:53 --allow 10.0.0.0/24 --0x20
      dig @127.0.0.1 -p 5300 www.example.org
    """
    if upstreams and root_hints:
        raise UserError("give --root-hints or --forward, not both", exit_code=EXIT_USAGE)
    addresses = parse_listen(listen, 53)
    networks = _networks(allowed) if allowed else LOOPBACK
    # A connection holds its socket and, while its answers are being found,
    # one socket towards a name server for each of them.
    max_tcp_connections = sized_connection_cap(
        max_tcp_connections, N_("TCP connections"), per_connection=1 + MAX_TCP_PENDING
    )
    network = RealNetwork(on_exhausted=told_when_out_of_descriptors)
    trace = Trace(time.monotonic, keep=False, enabled=log)
    options = dict(
        trace=trace,
        cache_size=cache_size,
        timeout=timeout,
        port=server_port,
        case_randomization=case_randomization,
    )
    engine: RecursiveResolver
    if upstreams:
        forward_to = [_server_address(word, 53) for word in upstreams]
        engine = Forwarder(network, forward_to, **options)
        what = "forwarding to " + ", ".join(format_address(a) for a in forward_to)
    else:
        engine = RecursiveResolver(network, read_root_hints(root_hints), **options)  # type: ignore[arg-type]
        what = f"walking from the root ({root_hints or 'the Internet'}'s root servers)"
    if log:
        trace.subscribe(_resolver_log_printer(trace))
    service = ResolverService(engine, trace, allow=networks, cache_size=cache_size)
    server = DnsServer(
        network,
        service,
        trace,
        actor="resolver",
        tcp_idle_timeout=tcp_idle_timeout,
        tcp_send_timeout=tcp_send_timeout,
        max_tcp_connections=max_tcp_connections,
    )
    clients = ", ".join(str(n) for n in networks)
    serve_until_stopped(
        server,
        addresses,
        lambda where: f"webtrip resolver: {what}; answers {clients} — UDP and TCP on {where}.",
    )


def _networks(values: tuple[str, ...]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise UserError(f"--allow {value}: not a network like 10.0.0.0/8", 2) from None
    return networks


def _server_address(word: str, default_port: int) -> Address:
    try:
        return parse_address(word, default_port)
    except ValueError as exc:
        raise UserError(f"{word}: {exc}", exit_code=EXIT_USAGE) from None


def _resolver_log_printer(trace: Trace) -> Callable[[Event], None]:
    def on_event(event: Event) -> None:
        if isinstance(event, ResolverAnswered):
            sys.stdout.write(resolver_log_line(event, trace.wall_start) + "\n")
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
    type=Seconds(0.01),
    help="Seconds to wait for the answer.",
)
@click.option("--no-recurse", is_flag=True, help="Clear the RD bit (like dig +norec).")
@click.option(
    "--trace",
    "walk",
    is_flag=True,
    help="Walk from the root servers down to the answer, showing every step (like dig +trace).",
)
@ROOT_HINTS_OPTION
@SERVER_PORT_OPTION
def query_command(
    words: tuple[str, ...],
    tcp: bool,
    as_json: bool,
    timeout: float,
    no_recurse: bool,
    walk: bool,
    root_hints: str | None,
    server_port: int,
) -> None:
    """Ask a DNS server one question and print the answer as dig does.

    Without @SERVER the first nameserver of /etc/resolv.conf is asked. With
    --trace no single server is asked: the question goes to a root server,
    then to each server it refers to, as a recursive resolver does it.

    \b
    Examples:
      webtrip dns query www.example.test @127.0.0.1:5353
      webtrip dns query example.test MX @127.0.0.1:5353 --tcp
      webtrip dns query www.example.test AAAA @[::1]:5353 --json
      webtrip dns query www.example.org --trace
      webtrip dns query www.webtrip.test --trace --root-hints lab.hints --server-port 5353
    """
    if walk:
        _trace_walk(words, timeout, as_json, root_hints, server_port)
        return
    name, rdtype, server = _parse_query_words(words)
    message = _make_query(name, rdtype, no_recurse)
    started = datetime.datetime.now().astimezone()

    async def main() -> QueryResult:
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


def _trace_walk(
    words: tuple[str, ...], timeout: float, as_json: bool, hints: str | None, server_port: int
) -> None:
    if any(word.startswith("@") for word in words):
        raise UserError("--trace starts at the root servers (--root-hints), not at @SERVER", 2)
    name, rdtype, _ = _parse_query_words((*words, "@127.0.0.1"))
    _make_query(name, rdtype, False)  # the name and type are valid, or one sentence says why
    servers = read_root_hints(hints)

    async def main() -> Resolution:
        network = RealNetwork()
        engine = RecursiveResolver(network, servers, timeout=timeout, port=server_port)
        return await engine.resolve(name, rdtype)

    resolution = asyncio.run(main())
    if as_json:
        click.echo(json.dumps(walk_json(resolution), indent=2))
    else:
        out_console().print(walk_text(resolution), markup=False, highlight=False)
    if resolution.rcode == dns.rcode.SERVFAIL:
        raise UserError(f"the walk failed: {resolution.reason}", exit_code=EXIT_NO_REPLY)


def _parse_query_words(words: tuple[str, ...]) -> tuple[str, str, Address]:
    name: str | None = None
    rdtype: str | None = None
    server: Address | None = None
    for word in words:
        if word.startswith("@"):
            try:
                server = parse_address(word[1:], 53)
            except ValueError as exc:
                raise UserError(f"{word}: {exc}", exit_code=EXIT_USAGE) from None
        elif rdtype is None and name is not None and _is_rdtype(word):
            rdtype = word.upper()
        elif name is None:
            name = word
        else:
            raise UserError(f"'{word}' is not understood: give one name, one type, one @server", 2)
    if name is None:
        raise UserError("give the name to look up, e.g. www.example.test", exit_code=EXIT_USAGE)
    return name, rdtype or "A", server or _system_nameserver()


def _is_rdtype(word: str) -> bool:
    try:
        dns.rdatatype.from_text(word)
    except dns.rdatatype.UnknownRdatatype:
        return False
    return not word.isdigit()


def _make_query(name: str, rdtype: str, no_recurse: bool) -> dns.message.Message:
    try:
        return make_query(name, rdtype, recursion_desired=not no_recurse)
    except DnsQueryError as exc:
        raise UserError(str(exc), exit_code=EXIT_USAGE) from None


def _system_nameserver() -> Address:
    try:
        resolver = dns.resolver.Resolver(configure=True)
    except dns.resolver.NoResolverConfiguration:
        raise UserError(
            "no nameserver in /etc/resolv.conf; name one with @SERVER", exit_code=EXIT_USAGE
        ) from None
    first = resolver.nameservers[0]
    return (first if isinstance(first, str) else first.answer_nameserver()), resolver.port
