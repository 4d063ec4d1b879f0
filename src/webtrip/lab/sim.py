"""A lab in the simulated network: its hosts, routers and links built in a :class:`SimWorld`.

:func:`build` makes the lab's nodes and links in a world — each host on its
one link, a router's end of a link on a free address of the host's network,
and every router a route to every host along the fewest hops. :func:`run`
builds a world, puts the lab's faults on the browser's link, starts the
lab's actors there (:mod:`webtrip.lab.actors`, the same wiring as on real
sockets), loads the page, lets the connections finish closing, and stops —
all in virtual time, so the same seed gives the same packets, byte for byte.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Interface

from webtrip.browser.http1 import Limits
from webtrip.browser.loader import BrowserOptions, PageLoad
from webtrip.browser.media import DEFAULT_SCREEN, Screen
from webtrip.lab.actors import Actors, Placement, run_lab
from webtrip.lab.faults import FROM_BROWSER, TO_BROWSER, FaultSpec, WhatIf
from webtrip.lab.spec import Lab, LabError, LinkSpec
from webtrip.net import Network
from webtrip.netsim.host import Host
from webtrip.netsim.link import Link
from webtrip.netsim.node import Interface, Node
from webtrip.netsim.tcp_state import State
from webtrip.netsim.world import SimWorld
from webtrip.packets.dissect import Match
from webtrip.trace import FaultOutcome, LinkConditionsSet, NetworkDescribed

__all__ = [
    "CLOSING_LIMIT",
    "Branched",
    "LinkConditions",
    "SimLab",
    "branch_runs",
    "build",
    "describe_network",
    "run",
]

CLOSING_LIMIT = 10.0  # virtual seconds the closing handshakes may take after the last load
FILES_AGE = 30 * 86400.0
"""How long before the world's epoch the sites' files were last modified (Last-Modified,
ETag): one fixed instant, so that runs are the same on every machine and every checkout."""


@dataclass(frozen=True)
class LinkConditions:
    """Overrides for the browser's link (None: the lab file's value).

    The same keys as a lab file's link (``loss``, ``duplicate``, ``reorder``:
    shares 0–1), so that a flag and a lab file take one code path: the link's.
    """

    latency: float | None = None
    bandwidth: float | None = None
    loss: float | None = None
    duplicate: float | None = None
    reorder: float | None = None
    mtu: int | None = None

    def options(self) -> dict[str, float | int]:
        return {key: value for key, value in vars(self).items() if value is not None}


@dataclass
class SimLab:
    """A finished run of a lab: its world (trace and packets), nodes and page load."""

    lab: Lab
    world: SimWorld
    nodes: dict[str, Node]
    browser_link: Link
    load: PageLoad  # the first load
    loads: list[PageLoad] = field(default_factory=list)  # every load, in order
    branched_at: tuple[int, float] | None = None
    """With a what-if: how many events the trace held when the change was made, and when."""

    @property
    def browser(self) -> Host:
        return self._host(self.lab.browser_host)

    @property
    def dns(self) -> Host:
        return self._host(self.lab.dns_host)

    @property
    def web(self) -> Host:
        return self._host(self.lab.web_host)

    def _host(self, name: str) -> Host:
        node = self.nodes[name]
        assert isinstance(node, Host)
        return node


def build(
    world: SimWorld, lab: Lab, conditions: LinkConditions = LinkConditions()
) -> tuple[dict[str, Node], Link]:
    """Create the lab's nodes, links and routes in ``world``; the nodes and the browser's link.

    ``conditions`` override the lab's values on the browser's link.
    """
    nodes: dict[str, Node] = {name: world.add_router(name) for name in lab.routers}
    for name in lab.hosts:
        nodes[name] = world.add_host(name)
    taken = {ipaddress.IPv4Interface(a).ip for a in lab.hosts.values()}
    neighbours: dict[str, list[tuple[str, Interface]]] = {name: [] for name in nodes}
    browser_link = None
    for number, spec in enumerate(lab.links, 1):
        addresses = [_free_address(spec, i, number, taken) for i in range(2)]
        options = dict(spec.options)
        if lab.browser_host in spec.ends:
            options.update(conditions.options())
        try:
            link = world.connect(nodes[spec.ends[0]], addresses[0], nodes[spec.ends[1]],
                                 addresses[1], **options)  # fmt: skip
        except ValueError as exc:
            raise LabError(f"{lab.source}: link {number}: {exc}") from None
        a, b = link.ends
        assert isinstance(a, Interface) and isinstance(b, Interface)
        neighbours[spec.ends[0]].append((spec.ends[1], a))
        neighbours[spec.ends[1]].append((spec.ends[0], b))
        if lab.browser_host in spec.ends:
            browser_link = link
    assert browser_link is not None
    _add_routes(lab, nodes, neighbours)
    return nodes, browser_link


def _role(lab: Lab, name: str) -> str:
    """What ``name`` is in ``lab``, for a drawing of the network: browser, router, web,
    resolver, root (serves "."), tld (serves a top-level domain), authoritative (serves
    a zone further down), or other."""
    if name == lab.browser_host:
        return "browser"
    if name in lab.routers:
        return "router"
    if name == lab.web_host:
        return "web"
    if name == lab.resolver_host:
        return "resolver"
    for server in lab.name_servers:
        if server.host == name:
            depth = min(len(zone.origin.labels) for zone in server.zones)
            return {1: "root", 2: "tld"}.get(depth, "authoritative")
    return "other"


def describe_network(lab: Lab, links: Sequence[Link], seed: int | None = None) -> NetworkDescribed:
    """The event that records the network built for ``lab``: its nodes (routers first,
    then hosts, as the lab names them), their roles and addresses, its links, and the
    run's ``seed``."""
    addresses: dict[str, list[str]] = {name: [] for name in [*lab.routers, *lab.hosts]}
    described = []
    for number, link in enumerate(links, 1):
        a, b = link.ends
        assert isinstance(a, Interface) and isinstance(b, Interface)
        for end in (a, b):
            addresses.setdefault(end.node_name, []).append(f"{end.name} {end.ip}")
        described.append((f"link{number}", a.node_name, b.node_name, link.latency,
                          link.bandwidth, link.loss, link.mtu))  # fmt: skip
    nodes = tuple((name, _role(lab, name), tuple(found)) for name, found in addresses.items())
    return NetworkDescribed(0.0, "network", nodes, tuple(described), seed)


def _free_address(
    spec: LinkSpec, index: int, number: int, taken: set[ipaddress.IPv4Address]
) -> str:
    """The address of end ``index`` of a link: given, or a free one of the other end's network."""
    given = spec.addresses[index]
    if given is not None:
        taken.add(ipaddress.IPv4Interface(given).ip)
        return given
    other = spec.addresses[1 - index]
    network = (ipaddress.IPv4Interface(other).network if other is not None
               else ipaddress.IPv4Network(f"172.31.{number % 256}.0/24"))  # fmt: skip
    for candidate in reversed(list(network.hosts())):
        if candidate not in taken:
            taken.add(candidate)
            return f"{candidate}/{network.prefixlen}"
    raise LabError(f"link {number}: the network {network} has no free address left")


def _add_routes(
    lab: Lab, nodes: dict[str, Node], neighbours: dict[str, list[tuple[str, Interface]]]
) -> None:
    """Give each router a route to each host, through the neighbour on a shortest path."""
    for router in lab.routers:
        first_hop: dict[str, Interface] = {}
        seen = {router}
        queue: deque[tuple[str, Interface | None]] = deque([(router, None)])
        while queue:
            name, via = queue.popleft()
            for neighbour, interface in neighbours[name]:
                if neighbour in seen:
                    continue
                seen.add(neighbour)
                hop = via or interface
                first_hop[neighbour] = hop
                if neighbour in lab.routers:
                    queue.append((neighbour, hop))
        for host, interface in first_hop.items():
            if host in lab.hosts:
                nodes[router].add_route(f"{lab.address_of(host)}/32", interface)


def run(
    lab: Lab,
    seed: int,
    conditions: LinkConditions = LinkConditions(),
    *,
    url: str | None = None,
    language: str = "en",
    faults: Sequence[FaultSpec] = (),
    dns_silent: bool = False,
    dns_attempts: int | None = None,
    loads: int = 1,
    page_timeout: float = 300.0,
    silence_timeout: float = 300.0,
    what_if: WhatIf | None = None,
    screen: Screen = DEFAULT_SCREEN,
) -> SimLab:
    """Build ``lab``, start its servers, load ``url`` (the lab's), stop; all in virtual time.

    ``faults`` act on the browser's link. With ``dns_silent`` the DNS server
    the browser asks takes questions on port 53 and never answers.
    ``dns_attempts`` replaces the lab's number of tries the browser's
    resolver makes. ``loads`` > 1 loads the page again, one load after the
    other, in the same browser — a reload: its HTTP cache stays, as do the servers
    and the resolver's cache —: :attr:`SimLab.loads` has them all. The browser gives
    up on a load after ``page_timeout`` virtual seconds, and on a response after
    ``silence_timeout`` seconds without a byte of it (Firefox's 300 s).

    ``what_if`` makes one change from one moment on (:class:`~webtrip.lab.faults.WhatIf`):
    right after the event of that index is recorded, or at that virtual time. Nothing
    before that moment changes — the change is made on the loop, between two steps of
    the run, and draws nothing from the world's random numbers before it — so the trace
    up to it is the same as without it, byte for byte (:func:`branch_runs`).
    """
    world = SimWorld(seed=seed)
    nodes, browser_link = build(world, lab, conditions)
    browser_end = next(end for end in browser_link.ends if end.node_name == lab.browser_host)
    other_end = browser_link.peer_of(browser_end)
    trace = world.trace
    trace.record(LinkConditionsSet(
        0.0, "network", (browser_end.node_name, other_end.node_name), browser_link.latency,
        browser_link.bandwidth, browser_link.loss, browser_link.mtu))  # fmt: skip
    trace.record(describe_network(lab, world.links, seed))
    for fault in faults:
        sender = {FROM_BROWSER: browser_end, TO_BROWSER: other_end}.get(fault.sender or "")
        if fault.action == "drop":
            browser_link.drop(fault.match, fault.nth, sender=sender)
        else:
            browser_link.delay(fault.match, fault.extra, fault.nth, sender=sender)
    hosts = [node for node in nodes.values() if isinstance(node, Host)]
    branched: list[tuple[int, float]] = []
    what_if_faults: list[FaultSpec] = []
    actors = Actors()  # the handle a what-if has on the resolver and the browser
    if what_if is not None:
        if what_if.change == "flush-dns" and (lab.resolver_host is None or dns_silent):
            raise LabError("--what-if: flush-dns empties the resolver's cache, but this run "
                           "has no resolver (the browser asks a DNS server directly)")  # fmt: skip
        _arm(world, lab, nodes, browser_link, what_if, branched, what_if_faults, actors)

    def network(name: str) -> Network:
        node = nodes[name]
        assert isinstance(node, Host)
        return world.network(node)

    placement = Placement(
        networks=network,
        addresses={name: (lab.address_of(name),) for name in lab.hosts},
        zones=[server.zones for server in lab.name_servers],
        resolver_clients=sorted({IPv4Interface(a).network for a in lab.hosts.values()}),
        files_modified=world.epoch - FILES_AGE,
        actors=actors,
    )
    done = world.run(
        run_lab(
            lab,
            placement,
            world.trace,
            BrowserOptions(
                total_timeout=page_timeout,
                language=language,
                limits=Limits(read_timeout=silence_timeout),
                screen=screen,
            ),
            url=url,
            loads=loads,
            dns_silent=dns_silent,
            dns_attempts=dns_attempts,
            settle=lambda: _closing_handshakes(hosts, world.links),
        )
    )
    everyone = [*faults, *what_if_faults]
    for spec, acted in zip(everyone, browser_link.faults[: len(everyone)], strict=True):
        trace.record(FaultOutcome(trace.now(), "network", spec.action, spec.text, spec.nth,
                                  spec.extra, acted.seen, acted.fired))  # fmt: skip
    world.close()
    return SimLab(lab, world, nodes, browser_link, done[0], done,
                  branched[0] if branched else None)  # fmt: skip


def _arm(
    world: SimWorld,
    lab: Lab,
    nodes: dict[str, Node],
    browser_link: Link,
    what_if: WhatIf,
    branched: list[tuple[int, float]],
    what_if_faults: list[FaultSpec],
    actors: Actors,
) -> None:
    """Make ``what_if``'s change at its moment; ``branched`` gets (events so far, time).

    ``actors`` is filled in as the lab's actors start (:class:`~webtrip.lab.actors.Actors`):
    ``flush-dns`` empties their DNS caches through it.

    At an event's index the change waits for that event to be recorded, then for the
    loop's next step (``call_soon``): the event's own work (a packet being sent) is
    finished as in the run without the change. At a time it is a timer of the loop.
    A host named by the change must be one of the lab's (LabError otherwise).
    """
    if what_if.host is not None and what_if.host not in lab.hosts:
        raise LabError(f"--what-if: {what_if.host} is not a host of the lab "
                       f"(it has: {', '.join(lab.hosts)})")  # fmt: skip
    loop = world.loop
    trace = world.trace

    def apply() -> None:
        branched.append((len(trace.events), loop.time()))
        browser_end = next(e for e in browser_link.ends if e.node_name == lab.browser_host)
        senders = {FROM_BROWSER: browser_end, TO_BROWSER: browser_link.peer_of(browser_end)}
        fault = what_if.fault
        if fault is not None:
            sender = senders.get(fault.sender or "")
            if fault.action == "drop":
                browser_link.drop(fault.match, fault.nth, sender=sender)
            else:
                browser_link.delay(fault.match, fault.extra, fault.nth, sender=sender)
            what_if_faults.append(fault)
        elif what_if.change in ("silent", "slow"):
            host = nodes[str(what_if.host)]
            for link in world.links:
                end = next((e for e in link.ends if e.node_name == host.name), None)
                if end is None:
                    continue
                if what_if.change == "silent":
                    link.drop_every(Match(), sender=end)
                else:
                    link.delay_every(Match(), what_if.value, sender=end)
        elif what_if.change == "latency":
            browser_link.latency = what_if.value
        elif what_if.change == "bandwidth":
            browser_link.bandwidth = what_if.value
        elif what_if.change == "loss":
            browser_link.loss = what_if.value
        elif what_if.change == "flush-dns":
            actors.flush_dns()

    if what_if.at_time is not None:
        loop.call_at(what_if.at_time, apply)
        return
    wanted = what_if.at_event
    assert wanted is not None

    armed = [True]

    def watch(_event: object) -> None:
        if armed[0] and len(trace.events) == wanted + 1:
            armed[0] = False  # once only (a listener stays subscribed: removing it from
            loop.call_soon(apply)  # the list being walked would skip the next one)

    trace.subscribe(watch)


@dataclass
class Branched:
    """A run and its what-if branch: run A as asked, run B the same with ``what_if``.

    ``shared_events``: how many events the two traces share, byte for byte, before the
    change; ``at_t``: when the change was made (virtual seconds).
    """

    a: SimLab
    b: SimLab
    what_if: WhatIf
    shared_events: int
    at_t: float


def branch_runs(
    lab: Lab,
    seed: int,
    what_if: WhatIf,
    conditions: LinkConditions = LinkConditions(),
    *,
    url: str | None = None,
    language: str = "en",
    faults: Sequence[FaultSpec] = (),
    dns_silent: bool = False,
    loads: int = 1,
) -> Branched:
    """Run ``lab`` twice with the same seed, the second time with ``what_if`` made at its
    moment; LabError if the moment is past the end of the first run."""
    first = run(lab, seed, conditions, url=url, language=language, faults=faults,
                dns_silent=dns_silent, loads=loads)  # fmt: skip
    events = first.world.trace.events
    if what_if.at_event is not None and what_if.at_event >= len(events):
        raise LabError(f"--what-if: at={what_if.at_event}, but the run has events 0 to "
                       f"{len(events) - 1}")  # fmt: skip
    if what_if.at_time is not None and events and what_if.at_time > events[-1].t:
        raise LabError(f"--what-if: at={what_if.at_time:g}s, but the run ends at "
                       f"{events[-1].t:.3f} s")  # fmt: skip
    second = run(lab, seed, conditions, url=url, language=language, faults=faults,
                 dns_silent=dns_silent, loads=loads, what_if=what_if)  # fmt: skip
    if second.branched_at is None:
        raise LabError("--what-if: the run ended before the moment of the change")
    shared, at_t = second.branched_at
    return Branched(first, second, what_if, shared, at_t)


async def _closing_handshakes(
    hosts: list[Host], links: list[Link], limit: float = CLOSING_LIMIT
) -> None:
    """Let the connections the browser closed finish closing, as they would after a page
    load: its FIN answered by the server's, the last ACK, the browser in TIME-WAIT (whose
    2·MSL is not waited out); and let every packet still on a link arrive (one held back
    by ``--delay`` too). At most ``limit`` virtual seconds (a lossy link may keep
    retransmitting a FIN); checked every millisecond of virtual time."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while loop.time() < deadline and (
        any(
            stream.connection.state is not State.TIME_WAIT
            for host in hosts
            for stream in host.tcp_connections.values()
        )
        or any(link.busy_until > loop.time() for link in links)
    ):
        await asyncio.sleep(0.001)
