"""A lab on this machine's loopback: the same lab, zones and actors as in the simulation."""

from __future__ import annotations

import asyncio

import dns.name
import dns.rdatatype
import pytest

from webtrip.browser.loader import BrowserOptions
from webtrip.dns.zones import load_zone
from webtrip.lab import demo_lab
from webtrip.lab.actors import run_lab
from webtrip.lab.loopback import placement, reduced, relocate_zone, run_on_loopback
from webtrip.labs import demo_path
from webtrip.net import RealNetwork
from webtrip.trace import NameResolved, ResolverStep, Trace


def records(zone, name: str, rdtype: int) -> list[str]:
    found = zone.rdataset(dns.name.from_text(name), rdtype)
    return sorted(r.to_text() for r in found or ())


def test_a_relocated_zone_names_each_hosts_loopback_addresses():
    zone = load_zone(demo_path("zones", "webtrip.test.zone"))
    moved = relocate_zone(zone, {"10.0.0.3": ("127.0.0.1", "::1"), "10.0.0.2": ("127.53.0.3",)})
    assert records(moved, "www.webtrip.test.", dns.rdatatype.A) == ["127.0.0.1"]
    assert records(moved, "www.webtrip.test.", dns.rdatatype.AAAA) == ["::1"]
    assert records(moved, "ns.webtrip.test.", dns.rdatatype.A) == ["127.53.0.3"]
    assert records(moved, "ns.webtrip.test.", dns.rdatatype.AAAA) == []
    # Everything else is kept as it was, TTLs included.
    for name, rdtype in [("webtrip.test.", dns.rdatatype.SOA), ("webtrip.test.", dns.rdatatype.TXT),
                         ("static.webtrip.test.", dns.rdatatype.CNAME)]:  # fmt: skip
        assert records(moved, name, rdtype) == records(zone, name, rdtype)
    www = dns.name.from_text("www.webtrip.test.")
    assert moved.rdataset(www, dns.rdatatype.AAAA).ttl == zone.rdataset(www, dns.rdatatype.A).ttl
    assert zone.rdataset(www, dns.rdatatype.AAAA) is None  # the original is left alone


def test_the_demo_zones_name_the_labs_addresses_and_follow_the_hosts_to_loopback():
    demo = demo_lab()
    where = placement(demo, RealNetwork(), ipv6=True)
    assert where.addresses["web"] == ("127.0.0.1", "::1")
    assert where.address("resolver") == "127.53.0.4" and where.dns_port == 0
    pairs = zip(demo.name_servers, where.zones, strict=True)
    glue = {server.host: zones for server, zones in pairs}
    tld = next(iter(glue["tld"]))
    assert records(tld, "ns.webtrip.test.", dns.rdatatype.A) == ["127.53.0.3"]
    root = next(iter(glue["root"]))
    assert records(root, "ns.test.", dns.rdatatype.A) == ["127.53.0.2"]
    without_ipv6 = placement(demo, RealNetwork(), ipv6=False)
    site = next(iter(without_ipv6.zones[0]))
    assert records(site, "www.webtrip.test.", dns.rdatatype.AAAA) == []


def test_the_demo_lab_on_loopback_walks_from_the_root_as_in_the_simulation():
    options = BrowserOptions(total_timeout=20)
    trace, (load,) = asyncio.run(run_on_loopback(demo_lab(), options))
    assert load.error is None, load.error
    walk = [(e.server[0], e.outcome) for e in trace.of_type(ResolverStep)
            if e.question.endswith(" A") and e.server is not None]  # fmt: skip
    assert walk[:3] == [("127.53.0.1", "referral"), ("127.53.0.2", "referral"),
                        ("127.53.0.3", "answer")]  # fmt: skip
    (resolved,) = trace.of_type(NameResolved)
    assert resolved.server is not None and resolved.server[0] == "127.53.0.4"
    assert "127.0.0.1" in resolved.addresses


@pytest.mark.parametrize("ipv6", [True, False])
def test_the_reduced_lab_asks_the_sites_own_server_on_127_0_0_1(ipv6):
    """Where only 127.0.0.1 is local: no resolver, the browser asks webtrip.test's server."""
    small = reduced(demo_lab())
    assert small.resolver_host is None and [s.host for s in small.name_servers] == ["dns"]

    async def main():
        trace = Trace()
        where = placement(small, RealNetwork(), ipv6=ipv6)
        loads = await run_lab(small, where, trace, BrowserOptions(total_timeout=20))
        return trace, loads

    trace, (load,) = asyncio.run(main())
    assert load.error is None, load.error
    (resolved,) = trace.of_type(NameResolved)
    assert resolved.server is not None and resolved.server[0] == "127.0.0.1"
    assert sorted(resolved.addresses) == (["127.0.0.1", "::1"] if ipv6 else ["127.0.0.1"])
    assert not trace.of_type(ResolverStep)
