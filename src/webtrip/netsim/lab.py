"""Labs in the simulated world: hosts, routers and links from a TOML file, and a page load.

A *lab file* says everything a run needs, in words a learner can read::

    [browser]                  # the host the browser runs on, and what it loads
    host = "browser"
    url = "http://www.webtrip.test/"

    [[dns]]                    # a host a DNS server runs on, and its zones
    host = "dns"               # (one [[dns]] per server: the root's, a TLD's...)
    zones = ["zones/example.zone", { text = "$ORIGIN example. ..." }]

    [resolver]                 # optional: a recursive resolver, which the browser asks
    host = "resolver"          # (it starts from the lab's root zone "." and its servers)

    [web]                      # the host the web server runs on, and its sites
    host = "web"
    sites = { "" = "site" }    # host name → folder ("" answers any name)

    [[hosts]]
    name = "browser"
    address = "10.0.0.1/24"

    [[routers]]
    name = "router"

    [[links]]
    between = ["browser", "router"]
    latency = "20ms"           # one way
    bandwidth = "10mbit"       # also: loss, duplicate, reorder ("1%"), mtu, queue (packets)

Paths are relative to the lab file. Each host sits on one link, with its
address; a router's end of a link gets a free address of the host's network
(or ``addresses = ["a/24", "b/24"]`` on the link says both). Routers learn a
route to every host along the fewest hops. The DNS servers listen on port 53
of their hosts, the web server on port 80 of its own. With a ``[resolver]``
the browser asks it, and it walks from the lab's root server down (it takes
questions from the lab's hosts only); without one the browser asks the first
``[[dns]]`` server directly. A single ``[dns]`` table is one server.

:func:`load_lab` reads and checks a file (:class:`LabError`: one sentence per
mistake); :func:`run` builds the lab in a :class:`SimWorld`, starts the
servers, loads the page and stops — all in virtual time. The bundled demo
(``labs/demo/lab.toml``, :func:`demo_lab`) is the same as ``webtrip demo``:
nothing in the actors knows it is simulated.

Faults for lessons act on the browser's link: :func:`parse_fault` reads a
small filter language (``syn``, ``synack``, ``dns-response#2``, ``tcp:80``;
see :data:`FILTERS`) into a :class:`~webtrip.netsim.packets.Match`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
import re
import tomllib
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dns.exception
import dns.name
import dns.rdatatype
import dns.zone

from webtrip.browser.loader import Browser, BrowserOptions, PageLoad
from webtrip.browser.resolver import StubResolver
from webtrip.dns.authority import Authority
from webtrip.dns.recursive import RecursiveResolver
from webtrip.dns.resolver import ResolverService
from webtrip.dns.server import DnsServer
from webtrip.dns.zones import Zone, ZoneError, ZoneSet, load_zone
from webtrip.labs import demo_path
from webtrip.net import Address, Network
from webtrip.netsim.host import Host
from webtrip.netsim.link import Link
from webtrip.netsim.node import Interface, Node
from webtrip.netsim.packets import Match
from webtrip.netsim.tcp_state import State
from webtrip.netsim.world import SimWorld
from webtrip.trace import DnsMessageDropped, DnsMessageReceived, Trace
from webtrip.web.server import WebServer
from webtrip.web.sites import Site, SiteError, SiteMap

DNS_PORT = 53
WEB_PORT = 80
CLOSING_LIMIT = 10.0  # virtual seconds the closing handshakes may take after the last load

UNITS = {
    "time": {"": 1.0, "s": 1.0, "ms": 1e-3, "us": 1e-6},
    "rate": {"": 1.0, "bit": 1.0, "kbit": 1e3, "mbit": 1e6, "gbit": 1e9},
}
"""Units of a quantity in a lab file (a bare number is seconds, or bits per second)."""

_LINK_KEYS = ("between", "addresses", "latency", "bandwidth", "loss", "duplicate", "reorder",
              "mtu", "queue")  # fmt: skip


class LabError(ValueError):
    """A lab file that cannot be used; the message is one sentence saying why."""


# --- what a lab is ----------------------------------------------------------------------


@dataclass(frozen=True)
class LinkSpec:
    """A link of a lab: its two ends (node names), their addresses, and :class:`Link`'s options."""

    ends: tuple[str, str]
    addresses: tuple[str | None, str | None]
    options: dict[str, Any]


@dataclass(frozen=True)
class NameServerSpec:
    """A DNS server of a lab: the host it runs on and the zones it serves."""

    host: str
    zones: ZoneSet


@dataclass
class Lab:
    """A lab read from a file: the network, the servers' content and the browser's task."""

    source: str
    hosts: dict[str, str]  # name → address with prefix
    routers: list[str]
    links: list[LinkSpec]
    name_servers: list[NameServerSpec]
    sites: SiteMap
    web_host: str
    browser_host: str
    url: str
    dns_attempts: int = 5
    dns_timeout: float = 2.0
    resolver_host: str | None = None

    @property
    def dns_host(self) -> str:
        """The host of the first DNS server (the site's own, in the demo)."""
        return self.name_servers[0].host

    @property
    def zones(self) -> ZoneSet:
        """The zones of the first DNS server."""
        return self.name_servers[0].zones

    @property
    def asked_host(self) -> str:
        """The host whose DNS server the browser asks: the resolver if there is one."""
        return self.resolver_host or self.dns_host

    def root_hints(self) -> list[tuple[str, str]]:
        """The lab's root servers, (name, address), from the zone "." one of its servers has."""
        for server in self.name_servers:
            for zone in server.zones:
                if zone.origin != dns.name.root:
                    continue
                ns = zone.data.get_rdataset(dns.name.root, dns.rdatatype.NS)
                hints = []
                for rdata in ns or ():
                    addresses = zone.data.get_rdataset(rdata.target, dns.rdatatype.A)
                    hints.extend((rdata.target.to_text(), a.address) for a in addresses or ())
                return hints
        return []

    def address_of(self, host: str) -> str:
        return str(ipaddress.IPv4Interface(self.hosts[host]).ip)

    @property
    def browser_link(self) -> LinkSpec:
        return next(link for link in self.links if self.browser_host in link.ends)

    def zone_origins(self) -> list[str]:
        """The names of the zones the lab's servers serve (the root as ".")."""
        return [zone.origin.to_text(omit_final_dot=True) or "."
                for server in self.name_servers for zone in server.zones]  # fmt: skip


def demo_lab() -> Lab:
    """The bundled demo lab: browser, DNS server and web server on one router."""
    return load_lab(demo_path("lab.toml"))


# --- reading a lab file -----------------------------------------------------------------


def load_lab(path: str | Path) -> Lab:
    """Read and check the lab file at ``path``; raise LabError (one sentence) if it is wrong."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LabError(f"{path}: no such lab file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LabError(f"{path}: the lab file cannot be read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise LabError(f"{path}: not valid TOML ({exc})") from None
    return _Reader(path).lab(doc)


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.folder = path.parent

    def fail(self, sentence: str) -> LabError:
        return LabError(f"{self.path}: {sentence}")

    def table(self, doc: dict[str, Any], key: str, known: Sequence[str]) -> dict[str, Any]:
        value = doc.get(key)
        if not isinstance(value, dict):
            raise self.fail(f"the lab needs a [{key}] table")
        self.known_keys(value, f"[{key}]", known)
        return value

    def known_keys(self, table: dict[str, Any], where: str, known: Sequence[str]) -> None:
        for key in table:
            if key not in known:
                raise self.fail(f"{where} has an unknown key '{key}' (known: {', '.join(known)})")

    def text(self, table: dict[str, Any], key: str, where: str) -> str:
        value = table.get(key)
        if not isinstance(value, str) or not value:
            raise self.fail(f"{where} needs '{key}', a text")
        return value

    def lab(self, doc: dict[str, Any]) -> Lab:
        self.known_keys(doc, "the lab", ("name", "hosts", "routers", "links", "dns", "web",
                                         "browser", "resolver"))  # fmt: skip
        hosts = self.hosts(doc.get("hosts", []))
        routers = self.routers(doc.get("routers", []), hosts)
        links = self.links(doc.get("links", []), hosts, routers)
        browser = self.table(doc, "browser", ("host", "url", "dns_attempts", "dns_timeout"))
        web = self.table(doc, "web", ("host", "sites"))
        roles = {}
        for role, table in (("browser", browser), ("web", web)):
            name = self.text(table, "host", f"[{role}]")
            if name not in hosts:
                raise self.fail(f"[{role}] runs on '{name}', which is not a host of the lab")
            roles[role] = name
        name_servers = self.name_servers(doc.get("dns"), hosts)
        resolver = None
        if "resolver" in doc:
            table = self.table(doc, "resolver", ("host",))
            resolver = self.text(table, "host", "[resolver]")
            if resolver not in hosts:
                raise self.fail(f"[resolver] runs on '{resolver}', which is not a host of the lab")
            if resolver in {server.host for server in name_servers}:
                raise self.fail(f"[resolver] runs on '{resolver}', where a [[dns]] server runs")
        url = self.text(browser, "url", "[browser]")
        if not re.match(r"https?://", url):
            raise self.fail(f"[browser] url '{url}' is not an http:// URL")
        attempts = browser.get("dns_attempts", 5)
        if not isinstance(attempts, int) or attempts < 1:
            raise self.fail(f"[browser] dns_attempts must be 1 or more, not {attempts!r}")
        timeout = self.quantity(browser.get("dns_timeout", 2.0), "time", "[browser] dns_timeout")
        lab = Lab(
            source=str(self.path),
            hosts=hosts,
            routers=routers,
            links=links,
            name_servers=name_servers,
            sites=self.sites(web.get("sites")),
            web_host=roles["web"],
            browser_host=roles["browser"],
            url=url,
            dns_attempts=attempts,
            dns_timeout=timeout,
            resolver_host=resolver,
        )
        if resolver is not None and not lab.root_hints():
            raise self.fail("[resolver] needs a [[dns]] server with the root zone \".\", "
                            "whose NS records have addresses in it")  # fmt: skip
        return lab

    def name_servers(self, value: Any, hosts: dict[str, str]) -> list[NameServerSpec]:
        tables = [value] if isinstance(value, dict) else value
        if not isinstance(tables, list) or not tables:
            raise self.fail("the lab needs a [dns] table, or [[dns]] tables, one per DNS server")
        servers: list[NameServerSpec] = []
        for number, table in enumerate(tables, 1):
            where = "[dns]" if isinstance(value, dict) else f"[[dns]] {number}"
            if not isinstance(table, dict):
                raise self.fail(f"{where} must be a table with 'host' and 'zones'")
            self.known_keys(table, where, ("host", "zones"))
            host = self.text(table, "host", where)
            if host not in hosts:
                raise self.fail(f"{where} runs on '{host}', which is not a host of the lab")
            if host in {server.host for server in servers}:
                raise self.fail(f"two [[dns]] servers run on '{host}'; give one all its zones")
            servers.append(NameServerSpec(host, self.zones(table.get("zones"), where)))
        return servers

    def entries(self, value: Any, key: str) -> list[dict[str, Any]]:
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.fail(f"'{key}' must be a list of tables ([[{key}]])")
        return value

    def hosts(self, value: Any) -> dict[str, str]:
        hosts: dict[str, str] = {}
        for number, entry in enumerate(self.entries(value, "hosts"), 1):
            where = f"host {number}"
            self.known_keys(entry, where, ("name", "address"))
            name = self.text(entry, "name", where)
            if name in hosts:
                raise self.fail(f"there are two hosts named '{name}'")
            hosts[name] = self.address(self.text(entry, "address", f"host '{name}'"),
                                       f"host '{name}'")  # fmt: skip
            ip = ipaddress.IPv4Interface(hosts[name]).ip
            ip_of = {o: ipaddress.IPv4Interface(a).ip for o, a in hosts.items() if o != name}
            same = (other for other, address in ip_of.items() if address == ip)
            if (twin := next(same, None)) is not None:
                raise self.fail(f"hosts '{twin}' and '{name}' have the same address, {ip}")
        if not hosts:
            raise self.fail("the lab has no hosts ([[hosts]] with a name and an address)")
        return hosts

    def address(self, text: str, where: str) -> str:
        try:
            interface = ipaddress.IPv4Interface(text if "/" in text else text + "/24")
        except ValueError:
            raise self.fail(f"{where} has '{text}', which is not an IPv4 address") from None
        if interface.ip in (interface.network.network_address,
                            interface.network.broadcast_address):  # fmt: skip
            raise self.fail(f"{where} has '{text}', which names its network, not an address in it")
        return str(interface)

    def routers(self, value: Any, hosts: dict[str, str]) -> list[str]:
        routers: list[str] = []
        for number, entry in enumerate(self.entries(value, "routers"), 1):
            where = f"router {number}"
            self.known_keys(entry, where, ("name",))
            name = self.text(entry, "name", where)
            if name in hosts or name in routers:
                raise self.fail(f"two nodes are named '{name}'")
            routers.append(name)
        return routers

    def links(self, value: Any, hosts: dict[str, str], routers: list[str]) -> list[LinkSpec]:
        links: list[LinkSpec] = []
        on_links: dict[str, int] = {}
        for number, entry in enumerate(self.entries(value, "links"), 1):
            where = f"link {number}"
            self.known_keys(entry, where, _LINK_KEYS)
            ends = entry.get("between")
            if not (isinstance(ends, list) and len(ends) == 2 and all(map(_is_text, ends))):
                raise self.fail(f"{where} needs 'between', the names of its two ends")
            for end in ends:
                if end not in hosts and end not in routers:
                    raise self.fail(f"{where} joins '{end}', which is not a host or router")
                on_links[end] = on_links.get(end, 0) + 1
            if ends[0] == ends[1]:
                raise self.fail(f"{where} joins '{ends[0]}' to itself")
            addresses: list[str | None] = [hosts.get(end) for end in ends]
            given = entry.get("addresses")
            if given is not None:
                if not (isinstance(given, list) and len(given) == 2):
                    raise self.fail(f"{where}'s 'addresses' must give one address for each end")
                addresses = [self.address(str(a), where) for a in given]
            links.append(LinkSpec((ends[0], ends[1]), (addresses[0], addresses[1]),
                                  self.link_options(entry, where)))  # fmt: skip
        for name in hosts:
            if on_links.get(name, 0) != 1:
                count = on_links.get(name, 0)
                raise self.fail(f"host '{name}' is on {count} links; a lab's host is on one link")
        return links

    def link_options(self, entry: dict[str, Any], where: str) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if "latency" in entry:
            options["latency"] = self.quantity(entry["latency"], "time", f"{where}'s latency")
        if "bandwidth" in entry:
            options["bandwidth"] = self.quantity(entry["bandwidth"], "rate", f"{where}'s bandwidth")
        for key in ("loss", "duplicate", "reorder"):
            if key in entry:
                options[key] = self.share(entry[key], f"{where}'s {key}")
        # An MTU from 576 (RFC 791: every host takes datagrams that big; nothing is
        # fragmented here) to IPv4's largest datagram, as --mtu takes it.
        limits = (("mtu", "mtu", 576, 65535), ("queue", "queue_packets", 1, 1_000_000))
        for key, option, smallest, largest in limits:
            if key in entry:
                value = entry[key]
                if (
                    not isinstance(value, int)
                    or isinstance(value, bool)
                    or not smallest <= value <= largest
                ):
                    raise self.fail(
                        f"{where}'s {key} must be a whole number from {smallest} to {largest}"
                    )
                options[option] = value
        return options

    def quantity(self, value: Any, kind: str, where: str) -> float:
        try:
            return parse_quantity(kind, value)
        except ValueError as exc:
            raise self.fail(f"{where}: {exc}") from None

    def share(self, value: Any, where: str) -> float:
        try:
            return parse_share(value)
        except ValueError as exc:
            raise self.fail(f"{where}: {exc}") from None

    def zones(self, value: Any, where: str = "[dns]") -> ZoneSet:
        if not isinstance(value, list) or not value:
            raise self.fail(f"{where} needs 'zones': zone files, or tables with the zone's 'text'")
        zones = ZoneSet()
        for number, item in enumerate(value, 1):
            try:
                if isinstance(item, str):
                    zone = load_zone(self.folder / item)
                elif isinstance(item, dict) and isinstance(item.get("text"), str):
                    zone = self.inline_zone(item["text"], f"{self.path} (zone {number})")
                else:
                    raise self.fail(f"{where} zone {number} is not a file name or {{ text = ... }}")
                zones.add(zone)
            except ZoneError as exc:
                raise self.fail(str(exc)) from None
        return zones

    def inline_zone(self, text: str, source: str) -> Zone:
        try:
            data = dns.zone.from_text(text, relativize=False, check_origin=False)
        except (dns.exception.DNSException, ValueError) as exc:
            raise ZoneError(f"{source}: {exc}") from None
        return Zone.from_dnspython(data, source)

    def sites(self, value: Any) -> SiteMap:
        if not isinstance(value, dict) or not value:
            raise self.fail('[web] needs \'sites\': host names and folders, like { "" = "site" }')
        sites = []
        for name, folder in value.items():
            if not isinstance(folder, str):
                raise self.fail(f"[web] site '{name}' needs a folder name")
            try:
                sites.append(Site.from_folder(name, self.folder / folder))
            except SiteError as exc:
                raise self.fail(str(exc)) from None
        return SiteMap(sites)


def _is_text(value: Any) -> bool:
    return isinstance(value, str)


def parse_quantity(kind: str, value: Any) -> float:
    """``"40ms"`` → 0.04, ``"10mbit"`` → 1e7, a bare number as it is; ValueError otherwise."""
    units = UNITS[kind]
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    else:
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", str(value))
        if match is None or match.group(2).lower() not in units:
            known = ", ".join(unit for unit in units if unit)
            raise ValueError(f"'{value}' is not a number with a unit ({known})")
        number = float(match.group(1)) * units[match.group(2).lower()]
    if not math.isfinite(number):
        raise ValueError(f"'{value}' is not a finite number")
    if number < 0:
        raise ValueError(f"'{value}' is negative")
    return number


def parse_share(value: Any) -> float:
    """``"2%"`` → 0.02, ``0.02`` → 0.02; ValueError outside 0–100 %."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        share = float(value)
    else:
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(%?)\s*", str(value))
        if match is None:
            raise ValueError(f"'{value}' is not a percentage, like 2%")
        share = float(match.group(1)) / (100 if match.group(2) else 1)
    if not 0 <= share < 1:
        raise ValueError(f"'{value}' must be at least 0% and below 100%")
    return share


# --- faults on the browser's link -------------------------------------------------------

FROM_BROWSER = "from the browser"
TO_BROWSER = "to the browser"

FILTERS: dict[str, tuple[Match, str | None, str]] = {
    "syn": (Match(protocol="tcp", tcp_flags=("SYN",)), FROM_BROWSER,
            "the browser's SYN (opening a connection)"),
    "synack": (Match(protocol="tcp", tcp_flags=("SYN", "ACK")), TO_BROWSER,
               "the server's SYN-ACK"),
    "fin": (Match(protocol="tcp", tcp_flags=("FIN",)), None, "a FIN (closing a connection)"),
    "rst": (Match(protocol="tcp", tcp_flags=("RST",)), None, "a RST (resetting a connection)"),
    "dns": (Match(protocol="udp", port=DNS_PORT), None, "a DNS message, question or answer"),
    "dns-query": (Match(protocol="udp", destination_port=DNS_PORT), FROM_BROWSER,
                  "the browser's DNS question"),
    "dns-response": (Match(protocol="udp", source_port=DNS_PORT), TO_BROWSER,
                     "the DNS server's answer"),
    "http": (Match(protocol="tcp", port=WEB_PORT, with_payload=True), None,
             "a TCP segment carrying HTTP, either way"),
    "http-request": (Match(protocol="tcp", destination_port=WEB_PORT, with_payload=True),
                     FROM_BROWSER, "a segment of the browser's HTTP request"),
    "http-response": (Match(protocol="tcp", source_port=WEB_PORT, with_payload=True),
                      TO_BROWSER, "a segment of the web server's answer"),
    "tcp": (Match(protocol="tcp"), None, "any TCP segment"),
    "udp": (Match(protocol="udp"), None, "any UDP datagram"),
}  # fmt: skip
"""The named packet filters of ``--drop``/``--delay``: a Match, who sends it, what it means.

Besides these, ``tcp:PORT`` and ``udp:PORT`` match either port, and any
filter takes ``#N``: the Nth matching packet on the browser's link (default
the 1st), counted from the start of the run.
"""


@dataclass(frozen=True)
class FaultSpec:
    """``drop`` or ``delay`` (by ``extra`` s) the ``nth`` packet that ``text`` matches."""

    action: str
    text: str
    match: Match
    sender: str | None
    nth: int = 1
    extra: float = 0.0


def parse_fault(action: str, text: str) -> FaultSpec:
    """``("drop", "synack")``, ``("delay", "synack=300ms")``...; ValueError says what is wrong."""
    extra = 0.0
    spec = text.strip().lower()
    if action == "delay":
        spec, equals, amount = spec.partition("=")
        if not equals:
            raise ValueError(f"'{text}' needs the delay after '=', like synack=300ms")
        extra = parse_quantity("time", amount if re.search(r"[a-z]", amount) else amount + "ms")
    name, hash_sign, count = spec.partition("#")
    nth = 1
    if hash_sign:
        if not count.isdigit() or int(count) < 1:
            raise ValueError(f"'{text}': after '#' comes which match, counted from 1 (like #2)")
        nth = int(count)
    name = name.strip()
    if name in FILTERS:
        match, sender, _ = FILTERS[name]
    else:
        port = re.fullmatch(r"(tcp|udp):([0-9]{1,5})", name)
        if port is None or int(port.group(2)) > 65535:
            known = ", ".join(FILTERS)
            known += ", tcp:PORT, udp:PORT"
            raise ValueError(f"'{text}' is not a packet filter (known: {known})")
        match, sender = Match(protocol=port.group(1), port=int(port.group(2))), None
    return FaultSpec(action, text, match, sender, nth, extra)


# --- building and running a lab ---------------------------------------------------------


@dataclass(frozen=True)
class LinkConditions:
    """Overrides for the browser's link (None: the lab file's value)."""

    latency: float | None = None
    bandwidth: float | None = None
    loss: float | None = None
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
) -> SimLab:
    """Build ``lab``, start its servers, load ``url`` (the lab's), stop; all in virtual time.

    ``faults`` act on the browser's link. With ``dns_silent`` the DNS server
    the browser asks takes questions on port 53 and never answers.
    ``dns_attempts`` replaces the lab's number of tries the browser's
    resolver makes. ``loads`` > 1 loads the page again, one load after the
    other, with a fresh browser each time (the servers and the resolver's
    cache stay): :attr:`SimLab.loads` has them all.
    """
    world = SimWorld(seed=seed)
    nodes, browser_link = build(world, lab, conditions)
    trace = world.trace
    browser_end = next(end for end in browser_link.ends if end.node_name == lab.browser_host)
    other_end = browser_link.peer_of(browser_end)
    for fault in faults:
        sender = {FROM_BROWSER: browser_end, TO_BROWSER: other_end}.get(fault.sender or "")
        if fault.action == "drop":
            browser_link.drop(fault.match, fault.nth, sender=sender)
        else:
            browser_link.delay(fault.match, fault.extra, fault.nth, sender=sender)
    asked_address = lab.address_of(lab.asked_host)
    web_address = lab.address_of(lab.web_host)

    def host(name: str) -> Host:
        node = nodes[name]
        assert isinstance(node, Host)
        return node

    async def main() -> list[PageLoad]:
        servers: list[DnsServer | WebServer] = []
        for spec in lab.name_servers:
            if dns_silent and spec.host == lab.asked_host:
                continue
            server = DnsServer(world.network(host(spec.host)), Authority(spec.zones), trace,
                               actor=_dns_actor(lab, spec.host))  # fmt: skip
            await server.start([(lab.address_of(spec.host), DNS_PORT)])
            servers.append(server)
        if lab.resolver_host is not None and not dns_silent:
            servers.append(await _start_resolver(world, lab, host(lab.resolver_host)))
        if dns_silent:
            await _silent_dns(world.network(host(lab.asked_host)),
                              (asked_address, DNS_PORT), trace)  # fmt: skip
        web_server = WebServer(world.network(host(lab.web_host)), lab.sites, trace)
        await web_server.start([(web_address, WEB_PORT)])
        servers.append(web_server)
        network = world.network(host(lab.browser_host))
        options = BrowserOptions(total_timeout=300, language=language)
        done: list[PageLoad] = []
        try:
            for _ in range(loads):
                resolver = StubResolver(
                    network,
                    trace,
                    nameserver=(asked_address, DNS_PORT),
                    hosts={},
                    attempts=dns_attempts or lab.dns_attempts,
                    timeout=lab.dns_timeout,
                )
                browser = Browser(network, resolver, trace, options=options)
                done.append(await browser.load(url or lab.url))
            await _closing_handshakes(
                [n for n in nodes.values() if isinstance(n, Host)], world.links
            )
        finally:
            for server in reversed(servers):
                await server.aclose()
        return done

    done = world.run(main())
    world.close()
    return SimLab(lab, world, nodes, browser_link, done[0], done)


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


def _dns_actor(lab: Lab, host: str) -> str:
    """The trace's name for the DNS server on ``host``: "dns-server" if it is the only one."""
    return "dns-server" if len(lab.name_servers) == 1 else f"dns-server@{host}"


async def _start_resolver(world: SimWorld, lab: Lab, node: Host) -> DnsServer:
    """The lab's recursive resolver on port 53 of ``node``, for the lab's own hosts only."""
    network = world.network(node)
    # It waits less than the browser does, so that it can ask again before the browser gives up.
    engine = RecursiveResolver(
        network, lab.root_hints(), trace=world.trace, timeout=lab.dns_timeout / 2
    )
    clients = {ipaddress.IPv4Interface(address).network for address in lab.hosts.values()}
    service = ResolverService(engine, world.trace, allow=sorted(clients))
    server = DnsServer(network, service, world.trace, actor="resolver")
    await server.start([(lab.address_of(lab.resolver_host or ""), DNS_PORT)])
    return server


async def _silent_dns(network: Network, address: Address, trace: Trace) -> None:
    """A DNS server that takes every question and never answers (``--dns-silent``)."""

    def ignore(wire: bytes, peer: Address) -> None:
        now = trace.now()
        reason = "this DNS server is silent: it never answers (--dns-silent)"
        trace.record(DnsMessageReceived(now, "dns-server", "udp", address, peer, wire))
        trace.record(DnsMessageDropped(now, "dns-server", "udp", address, peer, wire, reason))

    await network.open_udp_endpoint(address[0], address[1], on_datagram=ignore)
