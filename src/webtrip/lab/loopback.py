"""A lab on this machine's loopback: real sockets and the kernel's own TCP, with no root.

The same actors as in the simulated network (:mod:`webtrip.lab.actors`), on
real sockets (:class:`~webtrip.net.RealNetwork`): each host of the lab is at
its ``loopback`` addresses (127.53.0.3, say, and ``::1`` for a host that
should have IPv6 too). Without root the servers cannot have ports 53 and 80,
so every DNS server listens on one free port (a resolver asks every server on
the same port) and the web server on another, which the page's URL carries.

The zones are the lab's own: :func:`relocate_zone` rewrites each address
record that names a host's address in the lab to name where that host is on
loopback instead — an A record for each IPv4 address, an AAAA record for
``::1`` — so one zone file serves both worlds.

Some systems make only 127.0.0.1 local, not the whole of 127/8. There
:func:`run_on_loopback` runs the lab :func:`reduced` to what fits one
address: no resolver, the browser asks the first DNS server directly.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping, Sequence
from dataclasses import replace

import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.zone

from webtrip.browser.loader import BrowserOptions, PageLoad
from webtrip.dns.zones import Zone, ZoneSet
from webtrip.lab.actors import Placement, run_lab
from webtrip.lab.spec import Lab
from webtrip.net import Network, RealNetwork
from webtrip.trace import Trace

__all__ = ["has_ipv6_loopback", "placement", "reduced", "relocate_zone", "run_on_loopback"]


def relocate_zone(zone: Zone, moves: Mapping[str, Sequence[str]]) -> Zone:
    """``zone`` with each A record of an address in ``moves`` naming its new addresses.

    ``moves`` maps an IPv4 address to the addresses that replace it: IPv4 ones
    stay A records (same TTL), IPv6 ones become AAAA records beside them.
    """
    data = zone.data
    moved = dns.zone.Zone(data.origin, data.rdclass, relativize=data.relativize)
    for name, node in data.nodes.items():
        target = moved.find_node(name, create=True)
        for rdataset in node.rdatasets:
            if rdataset.rdtype != dns.rdatatype.A:
                target.replace_rdataset(rdataset)
                continue
            found: dict[dns.rdatatype.RdataType, list[str]] = {
                dns.rdatatype.A: [],
                dns.rdatatype.AAAA: [],
            }
            for rdata in rdataset:
                for address in moves.get(rdata.address, (rdata.address,)):
                    version = ipaddress.ip_address(address).version
                    found[dns.rdatatype.A if version == 4 else dns.rdatatype.AAAA].append(address)
            for rdtype, addresses in found.items():
                if not addresses:
                    continue
                existing = target.get_rdataset(dns.rdataclass.IN, rdtype)
                texts = [*(r.to_text() for r in existing or ()), *addresses]
                target.replace_rdataset(
                    dns.rdataset.from_text_list(dns.rdataclass.IN, rdtype, rdataset.ttl, texts)
                )
    return Zone.from_dnspython(moved, zone.source)


def has_ipv6_loopback() -> bool:
    """Can a socket be bound to ``::1`` here?"""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def placement(lab: Lab, network: Network, *, ipv6: bool | None = None) -> Placement:
    """Where ``lab``'s hosts are on loopback: their ``loopback`` addresses, any free ports.

    ``::1`` is left out where IPv6 loopback is missing (``ipv6``: whether it is
    there; None: find out), and so are the AAAA records it would have made.
    """
    if ipv6 is None:
        ipv6 = has_ipv6_loopback()
    addresses = {
        host: tuple(a for a in lab.loopback[host] if ipv6 or ":" not in a) for host in lab.hosts
    }
    moves = {lab.address_of(host): addresses[host] for host in lab.hosts}
    zones = [
        ZoneSet(relocate_zone(zone, moves) for zone in server.zones) for server in lab.name_servers
    ]
    return Placement(
        networks=lambda _host: network,
        addresses=addresses,
        zones=zones,
        dns_port=0,
        web_port=0,
    )


def reduced(lab: Lab) -> Lab:
    """``lab`` on 127.0.0.1 alone: its first DNS server (asked directly) and its web server."""
    everywhere: dict[str, tuple[str, ...]] = {host: ("127.0.0.1", "::1") for host in lab.hosts}
    return replace(lab, name_servers=lab.name_servers[:1], resolver_host=None, loopback=everywhere)


async def run_on_loopback(
    lab: Lab, options: BrowserOptions, *, url: str | None = None, loads: int = 1
) -> tuple[Trace, list[PageLoad]]:
    """Run ``lab`` on loopback: start its servers, load its page (``loads`` times), stop.

    ``url`` replaces the lab's (a path, like ``/es/``, is taken relative to it).
    Where 127/8 is not all local, the lab runs :func:`reduced`. TCP segments are
    no bigger than over the lab's browser link (its MTU). Raises OSError
    if a server cannot listen even then.
    """
    # Segments as big as over the browser's link (its MTU; 1500 by default), not
    # loopback's 64 KiB: a file of tens of kilobytes arrives as many segments.
    network = RealNetwork(mtu=int(lab.browser_link.options.get("mtu", 1500)))
    for chosen in (lab, reduced(lab)):
        trace = Trace(network.now)
        try:
            done = await run_lab(
                chosen, placement(chosen, network), trace, options, url=url, loads=loads
            )
        except OSError:
            if chosen is not lab:
                raise
            continue  # 127.53.0.x, say, is not local here: the lab on 127.0.0.1 alone
        return trace, done
    raise AssertionError("unreachable")
