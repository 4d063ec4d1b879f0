"""A lab's actors, started on any :class:`~webtrip.net.Network`: one wiring for every world.

A lab says which host runs which actor — DNS servers with their zones, maybe a
recursive resolver, a web server with its sites, a browser with a page to
load. This module starts them, knowing nothing of the world they run in: a
:class:`Placement` says, for one world, which :class:`~webtrip.net.Network`
each host's actors use, at which addresses, on which ports, and with which
zones (their address records must name the hosts where they are in that
world). The simulated network (:mod:`webtrip.lab.sim`) and this machine's
loopback (:mod:`webtrip.lab.loopback`) each make a placement; the same code
below then starts the same actors in the same order, so ``webtrip sim`` and
``webtrip demo`` differ only by their world.
"""

from __future__ import annotations

import errno
import urllib.parse
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network

from webtrip.browser.loader import Browser, BrowserOptions, PageLoad
from webtrip.browser.stub_resolver import StubResolver
from webtrip.dns.authority import Authority
from webtrip.dns.recursive_resolver import RecursiveResolver
from webtrip.dns.resolver_service import ResolverService
from webtrip.dns.server import DnsServer
from webtrip.dns.zones import ZoneSet
from webtrip.lab.spec import DNS_PORT, WEB_PORT, Lab, root_hints
from webtrip.net import Address, Network
from webtrip.trace import DnsMessageDropped, DnsMessageReceived, Trace
from webtrip.web.server import WebServer, WebServerOptions

__all__ = ["Actors", "LabServers", "Placement", "load_pages", "run_lab", "start_servers"]

PORT_TRIES = 20
"""How many free ports to try when the lab's DNS servers must share one (port 0)."""


@dataclass
class Actors:
    """The running actors a change made in the middle of a run can act on (a what-if,
    :mod:`webtrip.lab.sim`), filled in by :func:`run_lab` as it starts them.

    A world that wants a handle on them gives an empty one in :attr:`Placement.actors`;
    ``resolvers`` are the recursive resolvers started (a lab has at most one),
    ``browsers`` the browsers loading the page. :meth:`flush_dns` empties their DNS
    caches.
    """

    resolvers: list[ResolverService] = field(default_factory=list)
    browsers: list[Browser] = field(default_factory=list)

    def flush_dns(self) -> tuple[int, int]:
        """Empty every resolver's cache and every browser's DNS cache, now; how many
        entries each kind held (resolvers', browsers'). The browser's stub resolver
        keeps nothing, so it has nothing to empty."""
        kept = sum(resolver.flush() for resolver in self.resolvers)
        names = sum(browser.forget_names() for browser in self.browsers)
        return kept, names


@dataclass(frozen=True)
class Placement:
    """Where a lab's hosts are in one world.

    ``networks`` gives the Network each host's actors use; ``addresses`` each
    host's addresses there (the first is the one others reach it at); ``zones``
    each of the lab's name servers' zones, in ``lab.name_servers`` order, as
    they read in this world. Port 0 means "any free port": then every DNS server
    (and the resolver) shares the first one chosen, as a resolver asks every
    server on one port. ``resolver_clients`` are the networks the resolver
    answers (None: its default, loopback only).
    """

    networks: Callable[[str], Network]
    addresses: dict[str, tuple[str, ...]]
    zones: Sequence[ZoneSet]
    dns_port: int = DNS_PORT
    web_port: int = WEB_PORT
    resolver_clients: Sequence[IPv4Network | IPv6Network] | None = None
    files_modified: float | None = None
    """When the sites' files were last modified, in this world (None: their mtimes)."""
    actors: Actors | None = None
    """Filled in with the actors started, when given: a handle for a what-if."""

    def address(self, host: str) -> str:
        """The address at which the others reach ``host``."""
        return self.addresses[host][0]


@dataclass
class LabServers:
    """A lab's servers, running: the DNS servers, the resolver, the web server."""

    nameserver: Address
    """What the browser's stub resolver asks: the resolver, else the first DNS server."""
    web: WebServer
    servers: list[DnsServer | WebServer] = field(default_factory=list)

    def url(self, lab: Lab, url: str | None = None) -> str:
        """``url`` (or the lab's own), on the port the web server listens on.

        A path (``/es/``) is taken relative to the lab's URL; a whole URL is kept.
        """
        base = urllib.parse.urlsplit(lab.url)
        port = self.web.addresses[0][1]
        if port != (base.port or WEB_PORT):
            host = base.hostname or ""
            base = base._replace(netloc=f"{host}:{port}")
        return urllib.parse.urljoin(urllib.parse.urlunsplit(base), url or "")

    async def aclose(self) -> None:
        """Stop every server, the last started first."""
        for server in reversed(self.servers):
            await server.aclose()
        self.servers.clear()


def dns_actor(lab: Lab, host: str) -> str:
    """The trace's name for the DNS server on ``host``: "dns-server" if it is the only one."""
    return "dns-server" if len(lab.name_servers) == 1 else f"dns-server@{host}"


async def start_servers(
    lab: Lab, placement: Placement, trace: Trace, *, dns_silent: bool = False
) -> LabServers:
    """Start the lab's DNS servers, its resolver and its web server, in that order.

    With ``dns_silent`` the DNS server the browser asks takes questions and
    never answers. Raises OSError (naming the address) if a server cannot
    listen; nothing is left running then.
    """
    for attempt in range(PORT_TRIES if placement.dns_port == 0 else 1):
        servers: list[DnsServer | WebServer] = []
        try:
            nameserver = await _start_dns(lab, placement, trace, servers, dns_silent)
            options = WebServerOptions(files_modified=placement.files_modified)
            web = WebServer(placement.networks(lab.web_host), lab.sites, trace, options=options)
            await web.start([(a, placement.web_port) for a in placement.addresses[lab.web_host]])
            servers.append(web)
            return LabServers(nameserver, web, servers)
        except OSError as exc:
            for server in reversed(servers):
                await server.aclose()
            if exc.errno != errno.EADDRINUSE or attempt == PORT_TRIES - 1:
                raise
            # The DNS port was free on one address but not on another: try another.
    raise AssertionError("unreachable")


async def _start_dns(
    lab: Lab,
    placement: Placement,
    trace: Trace,
    servers: list[DnsServer | WebServer],
    dns_silent: bool,
) -> Address:
    """The lab's name servers and resolver, all on one port; what the browser asks."""
    port = placement.dns_port
    asked = lab.asked_host
    for spec, zones in zip(lab.name_servers, placement.zones, strict=True):
        if dns_silent and spec.host == asked:
            continue
        network = placement.networks(spec.host)
        server = DnsServer(network, Authority(zones), trace, actor=dns_actor(lab, spec.host))
        await server.start([(a, port) for a in placement.addresses[spec.host]])
        servers.append(server)
        port = port or server.addresses[0][1]
    if lab.resolver_host is not None and not dns_silent:
        network = placement.networks(lab.resolver_host)
        # It waits less than the browser does, so that it can ask again before the
        # browser gives up.
        engine = RecursiveResolver(
            network,
            root_hints(placement.zones),
            trace=trace,
            timeout=lab.dns_timeout / 2,
            port=port or DNS_PORT,
        )
        clients = placement.resolver_clients
        if clients is None:
            service = ResolverService(engine, trace)  # loopback's clients only
        else:
            service = ResolverService(engine, trace, allow=clients)
        if placement.actors is not None:
            placement.actors.resolvers.append(service)
        server = DnsServer(network, service, trace, actor="resolver")
        await server.start([(a, port) for a in placement.addresses[lab.resolver_host]])
        servers.append(server)
        port = port or server.addresses[0][1]
    if dns_silent:
        return await _silent_dns(placement.networks(asked), (placement.address(asked), port), trace)
    return placement.address(asked), port


async def _silent_dns(network: Network, address: Address, trace: Trace) -> Address:
    """A DNS server that takes every question and never answers (``--dns-silent``)."""
    reason = "this DNS server is silent: it never answers (--dns-silent)"
    listening: list[Address] = []  # where it listens, once the endpoint is open

    def ignore(wire: bytes, peer: Address) -> None:
        now, here = trace.now(), listening[0]
        trace.record(DnsMessageReceived(now, "dns-server", "udp", here, peer, wire))
        trace.record(DnsMessageDropped(now, "dns-server", "udp", here, peer, wire, reason))

    endpoint = await network.open_udp_endpoint(address[0], address[1], on_datagram=ignore)
    listening.append(endpoint.local_address)
    return endpoint.local_address


async def load_pages(
    lab: Lab,
    network: Network,
    trace: Trace,
    nameserver: Address,
    url: str,
    options: BrowserOptions,
    *,
    loads: int = 1,
    dns_attempts: int | None = None,
    actors: Actors | None = None,
) -> list[PageLoad]:
    """Load ``url`` ``loads`` times, one after the other, in the same browser.

    Every load after the first is a reload, as a person pressing the reload
    button makes: the same browser, so the same HTTP cache (the page is asked
    about again with a conditional request, fresh files are used as kept),
    but no connection left open — each load closes its own. The browser asks
    ``nameserver`` (never /etc/hosts), as many times and as patiently as the
    lab says (``dns_attempts`` replaces the lab's tries); it keeps no DNS
    answer from one load to the next, so a reload asks again. The browser is added to
    ``actors`` when given.
    """
    resolver = StubResolver(
        network,
        trace,
        nameserver=nameserver,
        hosts={},
        attempts=dns_attempts or lab.dns_attempts,
        timeout=lab.dns_timeout,
    )
    browser = Browser(network, resolver, trace, options=options)
    if actors is not None:
        actors.browsers.append(browser)
    return [await browser.load(url, reload=number > 0) for number in range(loads)]


async def run_lab(
    lab: Lab,
    placement: Placement,
    trace: Trace,
    options: BrowserOptions,
    *,
    url: str | None = None,
    loads: int = 1,
    dns_silent: bool = False,
    dns_attempts: int | None = None,
    settle: Callable[[], Awaitable[None]] | None = None,
) -> list[PageLoad]:
    """Start the lab's servers, load its page (``loads`` times), stop the servers.

    ``url`` replaces the lab's (a path is taken relative to it). ``settle``, if
    given, runs after the last load while the servers still run (the simulated
    world lets the connections finish closing there).
    """
    servers = await start_servers(lab, placement, trace, dns_silent=dns_silent)
    try:
        done = await load_pages(
            lab,
            placement.networks(lab.browser_host),
            trace,
            servers.nameserver,
            servers.url(lab, url),
            options,
            loads=loads,
            dns_attempts=dns_attempts,
            actors=placement.actors,
        )
        if settle is not None:
            await settle()
    finally:
        await servers.aclose()
    return done
