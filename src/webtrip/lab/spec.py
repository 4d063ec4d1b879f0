"""What a lab is, and reading it from a TOML file: hosts, routers, links, servers, the task.

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
    loopback = ["127.53.0.9"]  # optional: where it is on this machine's loopback

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

The same lab runs in two worlds (:mod:`webtrip.lab.actors`): in the simulated
network (:mod:`webtrip.lab.sim`) on the addresses above, and on this
machine's loopback (:mod:`webtrip.lab.loopback`, ``webtrip demo``), where each
host has its ``loopback`` addresses (127.x.y.z first, then ``::1`` if it
should have IPv6 too; a free 127.53.1.x when not given) and the zones'
address records follow them.

:func:`load_lab` reads and checks a file (:class:`LabError`: one sentence per
mistake). The bundled demo (``labs/demo/lab.toml``, :func:`demo_lab`) is what
both ``webtrip demo`` and ``webtrip sim`` run.
"""

from __future__ import annotations

import ipaddress
import math
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dns.exception
import dns.name
import dns.rdatatype
import dns.zone

from webtrip.dns.zones import Zone, ZoneError, ZoneSet, load_zone
from webtrip.files import InputFileError, read_input
from webtrip.labs import demo_path
from webtrip.web.sites import Site, SiteError, SiteMap

__all__ = [
    "DNS_PORT",
    "UNITS",
    "WEB_PORT",
    "Lab",
    "LabError",
    "LinkSpec",
    "NameServerSpec",
    "demo_lab",
    "load_lab",
    "parse_quantity",
    "parse_share",
    "root_hints",
]

DNS_PORT = 53
WEB_PORT = 80
CLOSING_LIMIT = 10.0  # virtual seconds the closing handshakes may take after the last load

UNITS = {
    "time": {"": 1.0, "s": 1.0, "ms": 1e-3, "us": 1e-6},
    "rate": {"": 1.0, "bit": 1.0, "kbit": 1e3, "mbit": 1e6, "gbit": 1e9},
}
"""Units of a quantity in a lab file (a bare number is seconds, or bits per second)."""

LOOPBACK_POOL = ipaddress.IPv4Network("127.53.1.0/24")
"""Where a host with no ``loopback`` addresses of its own is put on this machine's loopback."""

_LINK_KEYS = ("between", "addresses", "latency", "bandwidth", "loss", "duplicate", "reorder",
              "mtu", "queue")  # fmt: skip


_NOT_FOR_HOSTS = (
    ("a loopback address (127.0.0.0/8), which never leaves its own machine",
     ipaddress.IPv4Network("127.0.0.0/8")),
    ("a multicast address (224.0.0.0/4), which names a group of receivers, not one host",
     ipaddress.IPv4Network("224.0.0.0/4")),
    ("an address of \"this network\" (0.0.0.0/8), which no host can have",
     ipaddress.IPv4Network("0.0.0.0/8")),
    ("a reserved address (240.0.0.0/4), which hosts do not use",
     ipaddress.IPv4Network("240.0.0.0/4")),
)  # fmt: skip
"""Addresses no host or router interface of a lab can have, and why."""


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
    loopback: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Each host's addresses on this machine's loopback: an IPv4 one first, maybe ``::1``."""

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
        return root_hints(server.zones for server in self.name_servers)

    def address_of(self, host: str) -> str:
        return str(ipaddress.IPv4Interface(self.hosts[host]).ip)

    @property
    def browser_link(self) -> LinkSpec:
        return next(link for link in self.links if self.browser_host in link.ends)

    def zone_origins(self) -> list[str]:
        """The names of the zones the lab's servers serve (the root as ".")."""
        return [zone.origin.to_text(omit_final_dot=True) or "."
                for server in self.name_servers for zone in server.zones]  # fmt: skip


def root_hints(zone_sets: Iterable[ZoneSet]) -> list[tuple[str, str]]:
    """The root servers, (name, address), of the first root zone "." among ``zone_sets``.

    Where a recursive resolver starts its walks: each NS record of the root
    zone with the addresses (A records) the zone gives its name.
    """
    for zones in zone_sets:
        for zone in zones:
            if zone.origin != dns.name.root:
                continue
            ns = zone.data.get_rdataset(dns.name.root, dns.rdatatype.NS)
            hints: list[tuple[str, str]] = []
            for rdata in ns or ():
                addresses = zone.data.get_rdataset(rdata.target, dns.rdatatype.A)
                hints.extend((rdata.target.to_text(), a.address) for a in addresses or ())
            return hints
    return []


def demo_lab() -> Lab:
    """The bundled demo lab: browser, DNS server and web server on one router."""
    return load_lab(demo_path("lab.toml"))


# --- reading a lab file -----------------------------------------------------------------


def load_lab(path: str | Path) -> Lab:
    """Read and check the lab file at ``path``; raise LabError (one sentence) if it is wrong."""
    path = Path(path)
    try:
        doc = tomllib.loads(read_input(path).decode("utf-8"))
    except FileNotFoundError:
        raise LabError(f"{path}: no such lab file") from None
    except InputFileError as exc:
        raise LabError(f"{path}: the lab file {exc}") from None
    except RecursionError:
        raise LabError(f"{path}: the lab file nests tables or lists too deeply") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LabError(f"{path}: the lab file cannot be read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise LabError(f"{path}: not valid TOML ({exc})") from None
    return _Reader(path).lab(doc)


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.folder = path.parent
        self.loopback: dict[str, tuple[str, ...]] = {}

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
        if "name" in doc and (not isinstance(doc["name"], str) or not doc["name"].strip()):
            raise self.fail(f"the lab's 'name' must be a text, not {doc['name']!r}")
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
        if not isinstance(attempts, int) or isinstance(attempts, bool) or not 1 <= attempts <= 100:
            raise self.fail(f"[browser] dns_attempts must be a whole number from 1 to 100, "
                            f"not {attempts!r}")  # fmt: skip
        timeout = self.quantity(browser.get("dns_timeout", 2.0), "time", "[browser] dns_timeout")
        if timeout <= 0:
            raise self.fail("[browser] dns_timeout must be more than 0 s: the browser would "
                            "give up on each question before any answer could come")  # fmt: skip
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
            loopback=self.loopback_plan(hosts),
        )
        if resolver is not None and not lab.root_hints():
            raise self.fail("[resolver] needs a [[dns]] server with the root zone \".\", "
                            "whose NS records have addresses in it")  # fmt: skip
        return lab

    def loopback_plan(self, hosts: dict[str, str]) -> dict[str, tuple[str, ...]]:
        """Every host's loopback addresses: its own, or the next free one of LOOPBACK_POOL."""
        taken = {address for addresses in self.loopback.values() for address in addresses}
        free = (str(a) for a in LOOPBACK_POOL.hosts() if str(a) not in taken)
        plan = {}
        for name in hosts:
            given = self.loopback.get(name)
            if given is None:
                given = (next(free, None) or "",)
                if not given[0]:
                    raise self.fail(f"no free loopback address is left in {LOOPBACK_POOL}")
            plan[name] = given
        return plan

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
        owners: dict[ipaddress.IPv4Address, str] = {}  # each address's host, to find twins at once
        for number, entry in enumerate(self.entries(value, "hosts"), 1):
            where = f"host {number}"
            self.known_keys(entry, where, ("name", "address", "loopback"))
            name = self.text(entry, "name", where)
            if name in hosts:
                raise self.fail(f"there are two hosts named '{name}'")
            if "loopback" in entry:
                self.loopback[name] = self.loopback_addresses(entry["loopback"], f"host '{name}'")
            hosts[name] = self.address(self.text(entry, "address", f"host '{name}'"),
                                       f"host '{name}'")  # fmt: skip
            ip = ipaddress.IPv4Interface(hosts[name]).ip
            if (twin := owners.setdefault(ip, name)) != name:
                raise self.fail(f"hosts '{twin}' and '{name}' have the same address, {ip}")
        if not hosts:
            raise self.fail("the lab has no hosts ([[hosts]] with a name and an address)")
        return hosts

    def loopback_addresses(self, value: Any, where: str) -> tuple[str, ...]:
        texts = [value] if isinstance(value, str) else value
        if not isinstance(texts, list) or not texts or not all(map(_is_text, texts)):
            raise self.fail(
                f"{where}'s 'loopback' must be a list of addresses, like [\"127.53.0.9\"]"
            )
        addresses = []
        for text in texts:
            try:
                address = ipaddress.ip_address(text)
            except ValueError:
                raise self.fail(f"{where}'s loopback '{text}' is not an IP address") from None
            if not address.is_loopback:
                raise self.fail(f"{where}'s loopback '{text}' is not a loopback address "
                                "(127.0.0.0/8 or ::1)")  # fmt: skip
            addresses.append(str(address))
        if ipaddress.ip_address(addresses[0]).version != 4:
            raise self.fail(f"{where}'s loopback addresses must start with an IPv4 one (127.x.y.z)")
        return tuple(addresses)

    def address(self, text: str, where: str) -> str:
        try:
            interface = ipaddress.IPv4Interface(text if "/" in text else text + "/24")
        except ValueError:
            raise self.fail(f"{where} has '{text}', which is not an IPv4 address") from None
        if interface.ip in (interface.network.network_address,
                            interface.network.broadcast_address):  # fmt: skip
            raise self.fail(f"{where} has '{text}', which names its network, not an address in it")
        ip = interface.ip
        kind = next((kind for kind, range_ in _NOT_FOR_HOSTS if ip in range_), None)
        if kind is not None:
            raise self.fail(f"{where} has '{text}', {kind}; give it one like 192.168.1.10/24")
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
