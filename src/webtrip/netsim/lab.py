"""The demo lab in the simulated world: browser, DNS server and web server on three hosts.

The same actors as ``webtrip demo`` — nothing in them knows — on three simulated
hosts joined by a router, so every packet of the page load is real bytes on
record: the DNS question and answer, the TCP handshakes, the HTTP requests and
the segments of each answer. The browser's link carries the conditions the
user asked for (latency, bandwidth, loss, MTU); the servers' links are quick.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import dns.rdata
import dns.rdatatype
import dns.zone

from webtrip.browser.loader import Browser, BrowserOptions, PageLoad
from webtrip.browser.resolver import StubResolver
from webtrip.dns.authority import Authority
from webtrip.dns.server import DnsServer
from webtrip.dns.zones import Zone, ZoneSet
from webtrip.labs import demo_path
from webtrip.netsim.host import Host
from webtrip.netsim.world import SimWorld
from webtrip.web.server import WebServer
from webtrip.web.sites import Site, SiteMap

BROWSER_IP = "10.0.0.1"
DNS_IP = "10.0.0.2"
WEB_IP = "10.0.0.3"
SERVER_LINK = {"latency": 0.001, "bandwidth": 1e9}


@dataclass(frozen=True)
class LinkConditions:
    """The browser's link: one-way latency (s), bandwidth (bit/s), loss (0–1), MTU (bytes)."""

    latency: float = 0.020
    bandwidth: float = 10e6
    loss: float = 0.0
    mtu: int = 1500


@dataclass
class SimLab:
    world: SimWorld
    browser: Host
    dns: Host
    web: Host
    load: PageLoad


def lab_zone() -> ZoneSet:
    """The demo zone, with the lab's IPv4 addresses (the simulated network has no IPv6)."""
    text = demo_path("zones", "webtrip.test.zone").read_text(encoding="utf-8")
    data = dns.zone.from_text(text, relativize=False, check_origin=False)
    for name, node in list(data.nodes.items()):
        for rdataset in list(node.rdatasets):
            if rdataset.rdtype == dns.rdatatype.AAAA:
                node.delete_rdataset(rdataset.rdclass, rdataset.rdtype)
            elif rdataset.rdtype == dns.rdatatype.A:
                address = DNS_IP if name.labels[0] == b"ns" else WEB_IP
                rdata = dns.rdata.from_text("IN", "A", address)
                rdataset.clear()
                rdataset.add(rdata)
        if not node.rdatasets:
            del data.nodes[name]
    return ZoneSet([Zone.from_dnspython(data, "the demo lab (simulated)")])


def build(world: SimWorld, conditions: LinkConditions) -> tuple[Host, Host, Host]:
    """Three hosts on one router; ``conditions`` apply to the browser's link."""
    router = world.add_router("router")
    hosts = []
    for number, name in ((1, "browser"), (2, "dns"), (3, "web")):
        host = world.add_host(name)
        options: dict[str, float | int] = dict(SERVER_LINK)
        if name == "browser":
            options = {
                "latency": conditions.latency,
                "bandwidth": conditions.bandwidth,
                "loss": conditions.loss,
                "mtu": conditions.mtu,
            }
        world.connect(host, f"10.0.0.{number}/24", router, f"10.0.0.{250 + number}/24", **options)
        router.add_route(str(ipaddress.ip_network(f"10.0.0.{number}/32")), router.interfaces[-1])
        hosts.append(host)
    return hosts[0], hosts[1], hosts[2]


def run(seed: int, conditions: LinkConditions, *, path: str = "/", language: str = "en") -> SimLab:
    """Start the servers, load ``http://www.webtrip.test{path}``, stop; all in virtual time."""
    world = SimWorld(seed=seed)
    browser_host, dns_host, web_host = build(world, conditions)
    trace = world.trace

    async def main() -> PageLoad:
        dns_server = DnsServer(world.network(dns_host), Authority(lab_zone()), trace)
        site = SiteMap([Site.from_folder("", demo_path("site"))])
        web_server = WebServer(world.network(web_host), site, trace)
        await dns_server.start([(DNS_IP, 53)])
        await web_server.start([(WEB_IP, 80)])
        network = world.network(browser_host)
        resolver = StubResolver(network, trace, nameserver=(DNS_IP, 53), hosts={}, attempts=5)
        options = BrowserOptions(total_timeout=300, language=language)
        browser = Browser(network, resolver, trace, options=options)
        try:
            return await browser.load(f"http://www.webtrip.test{path}")
        finally:
            await web_server.aclose()
            await dns_server.aclose()

    load = world.run(main())
    world.close()
    return SimLab(world, browser_host, dns_host, web_host, load)
