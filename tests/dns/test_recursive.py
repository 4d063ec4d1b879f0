"""The recursive resolver in the simulated world: root → test. → webtrip.test, the cache, limits.

Five hosts on one router: the root server (10.0.0.1), the test. server
(10.0.0.2), the webtrip.test server (10.0.0.3), the elsewhere. and shop.test
server (10.0.0.4) and the resolver (10.0.0.10); zones in data/zones/hierarchy.
"""

from __future__ import annotations

from collections.abc import Iterator

import dns.flags
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from support.hierarchy import ELSEWHERE, ROOT, TLD, WEBTRIP, SimHierarchy
from webtrip.dns.client import make_query
from webtrip.dns.recursive_resolver import Resolution

Hierarchy = SimHierarchy


@pytest.fixture
def lab() -> Iterator[Hierarchy]:
    hierarchy = Hierarchy()
    yield hierarchy
    hierarchy.world.close()


def asked(result: Resolution) -> list[tuple[str, str, str]]:
    """The walk as (server, zone, outcome), the cache's steps left out."""
    return [
        (step.server[0], str(step.zone), step.outcome)
        for step in result.walk
        if step.server is not None
    ]


def addresses(result: Resolution) -> list[str]:
    return sorted(
        rdata.address
        for rrset in result.answer
        if rrset.rdtype == dns.rdatatype.A
        for rdata in rrset
    )


def test_resolution_walks_from_the_root_down(lab):
    result = lab.resolve("www.webtrip.test")
    assert result.rcode == dns.rcode.NOERROR
    assert addresses(result) == ["10.0.0.80"]
    assert result.answer[0].ttl == 300
    assert asked(result) == [
        (ROOT, ".", "referral"),
        (TLD, "test.", "referral"),
        (WEBTRIP, "webtrip.test.", "answer"),
    ]
    assert "test. NS ns1.test." in result.walk[0].detail
    response = result.to_response(make_query("www.webtrip.test", "A"))
    assert response.flags & dns.flags.RA and not response.flags & dns.flags.AA


def test_the_second_resolution_comes_from_the_cache_without_a_packet(lab):
    lab.resolve("www.webtrip.test")
    before = lab.packets()
    lab.sleep(100)
    result = lab.resolve("www.webtrip.test")
    assert lab.packets() == before
    assert result.from_cache and [s.outcome for s in result.walk] == ["cache"]
    assert addresses(result) == ["10.0.0.80"]
    assert result.answer[0].ttl == 200  # counted down in virtual time


def test_after_the_ttl_only_the_zones_server_is_asked_again(lab):
    lab.resolve("www.webtrip.test")
    lab.sleep(301)
    before = lab.packets()
    result = lab.resolve("www.webtrip.test")
    assert lab.packets() > before
    # The delegations (TTL 3600 and 86400) are still cached: no root, no test.
    assert asked(result) == [(WEBTRIP, "webtrip.test.", "answer")]
    assert result.answer[0].ttl == 300


def test_nxdomain_is_cached_for_the_soa_minimum(lab):
    result = lab.resolve("nothing.webtrip.test")
    assert result.rcode == dns.rcode.NXDOMAIN
    assert result.authority[0].rdtype == dns.rdatatype.SOA
    assert result.authority[0].ttl == 60  # the SOA minimum
    before = lab.packets()
    again = lab.resolve("nothing.webtrip.test", "AAAA")  # NXDOMAIN holds for every type
    assert again.rcode == dns.rcode.NXDOMAIN and again.from_cache
    assert lab.packets() == before
    lab.sleep(61)
    third = lab.resolve("nothing.webtrip.test")
    assert third.rcode == dns.rcode.NXDOMAIN
    assert asked(third) == [(WEBTRIP, "webtrip.test.", "nxdomain")]


def test_nodata_is_cached_for_that_type_only(lab):
    result = lab.resolve("www.webtrip.test", "TXT")
    assert result.rcode == dns.rcode.NOERROR and not result.answer
    assert asked(result)[-1] == (WEBTRIP, "webtrip.test.", "nodata")
    assert lab.resolve("www.webtrip.test", "TXT").from_cache
    assert not lab.resolve("www.webtrip.test", "A").from_cache


def test_out_of_bailiwick_glue_is_ignored_and_the_name_server_resolved(lab):
    # test.'s referral for shop.test carries ns.elsewhere. A 10.0.0.66 (from
    # a stale zone the test. server holds): outside shop.test., so not used.
    result = lab.resolve("www.shop.test")
    assert result.rcode == dns.rcode.NOERROR
    assert addresses(result) == ["10.0.0.81"]
    contacted = {step.server[0] for step in result.walk if step.server is not None}
    assert "10.0.0.66" not in contacted
    assert (ROOT, ".", "referral") in asked(result)
    nested = [(str(s.qname), s.server[0]) for s in result.walk if s.depth == 1 and s.server]
    assert ("ns.elsewhere.", ROOT) in nested and ("ns.elsewhere.", ELSEWHERE) in nested
    assert lab.resolver.cache.get(dns.name.from_text("ns.elsewhere."), 1).rrset[0].address == (
        ELSEWHERE
    )


def test_cname_chains_are_followed_within_and_across_zones(lab):
    inside = lab.resolve("alias.webtrip.test")
    assert [r.rdtype for r in inside.answer] == [dns.rdatatype.CNAME, dns.rdatatype.A]
    assert addresses(inside) == ["10.0.0.80"]
    far = lab.resolve("far.webtrip.test")
    assert far.rcode == dns.rcode.NOERROR
    assert [str(r.name) for r in far.answer] == [
        "far.webtrip.test.",
        "alias.shop.test.",
        "www.shop.test.",
    ]
    assert addresses(far) == ["10.0.0.81"]


def test_a_cname_loop_across_two_servers_fails(lab):
    result = lab.resolve("loop.webtrip.test")
    assert result.rcode == dns.rcode.SERVFAIL
    assert "loops" in result.reason
    assert not result.answer


def test_the_cname_depth_is_limited():
    hierarchy = Hierarchy(max_cname_depth=1)
    try:
        result = hierarchy.resolve("far.webtrip.test")
    finally:
        hierarchy.world.close()
    assert result.rcode == dns.rcode.SERVFAIL
    assert "longer than 1" in result.reason


def test_the_number_of_referrals_is_limited():
    hierarchy = Hierarchy(max_referrals=1)
    try:
        result = hierarchy.resolve("www.webtrip.test")
    finally:
        hierarchy.world.close()
    assert result.rcode == dns.rcode.SERVFAIL
    assert "more than 1 referrals" in result.reason


def test_a_referral_back_up_the_tree_is_not_followed(lab):
    # test. delegates loop.test. to the root server, which refers back to test.
    before = lab.packets()
    result = lab.resolve("www.loop.test")
    assert result.rcode == dns.rcode.SERVFAIL
    assert asked(result) == [
        (ROOT, ".", "referral"),
        (TLD, "test.", "referral"),
        (ROOT, "loop.test.", "lame"),
    ]
    assert lab.packets() - before < 40


def test_name_servers_that_depend_on_each_other_end_in_servfail(lab):
    # a.test is served by ns.b.test, b.test by ns.a.test, neither with glue.
    result = lab.resolve("www.a.test")
    assert result.rcode == dns.rcode.SERVFAIL
    assert any(s.outcome == "skipped" for s in result.walk)
    assert len(asked(result)) < 10
    assert lab.world.now() < 5  # no timeouts were needed to find out


def test_only_a_few_name_servers_without_glue_are_resolved_per_referral(lab):
    # fan.test. has six name servers, none with glue, none that exists.
    result = lab.resolve("www.fan.test")
    assert result.rcode == dns.rcode.SERVFAIL
    resolved = {str(s.qname) for s in result.walk if s.depth == 1}
    assert resolved == {f"ns{n}.nowhere.elsewhere." for n in (1, 2, 3)}
    # root, test., then root (elsewhere.) once and the elsewhere. server three times.
    assert len(asked(result)) == 6


def test_the_cache_is_bounded_and_evicts_the_oldest():
    hierarchy = Hierarchy(cache_size=3)
    try:
        first = hierarchy.resolve("www.webtrip.test")
        assert addresses(first) == ["10.0.0.80"]
        # Learnt: test. NS, ns1.test A, webtrip.test NS, ns.webtrip.test A, www A.
        assert len(hierarchy.resolver.cache) == 3
        assert hierarchy.resolve("www.webtrip.test").from_cache  # the newest stays
        # The test. delegation was evicted: a sibling name starts at the root again.
        other = hierarchy.resolve("www.shop.test")
        assert asked(other)[0] == (ROOT, ".", "referral")
    finally:
        hierarchy.world.close()


def test_glue_does_not_replace_a_live_answer_but_an_answer_replaces_glue():
    """RFC 2181 §5.4.1: data is replaced only by data trusted as much or more."""
    from webtrip.dns.recursive_resolver import ANSWER, GLUE, REFERRAL, Cache

    now = [0.0]
    cache = Cache(lambda: now[0])

    def a(address: str, ttl: int = 300) -> dns.rrset.RRset:
        return dns.rrset.from_text("ns.webtrip.test.", ttl, "IN", "A", address)

    def kept() -> str:
        entry = cache.get(dns.name.from_text("ns.webtrip.test."), dns.rdatatype.A)
        assert entry is not None and entry.rrset is not None
        return entry.rrset[0].address

    cache.put(a("10.0.0.2"), ANSWER)
    cache.put(a("6.6.6.6"), GLUE)  # a referral's additional section says otherwise
    assert kept() == "10.0.0.2"
    cache.put(a("6.6.6.6"), REFERRAL)
    assert kept() == "10.0.0.2"
    now[0] = 301.0  # the answer has expired: glue is all there is, and is kept
    cache.put(a("10.0.0.9", ttl=60), GLUE)
    assert kept() == "10.0.0.9"
    cache.put(a("10.0.0.2"), ANSWER)  # the zone's own answer replaces glue at once
    assert kept() == "10.0.0.2"
