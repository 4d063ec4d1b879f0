"""Unbound, a production resolver, against our resolver and our authoritative servers.

The test hierarchy runs on loopback (``webtrip dns serve``, one process per
server, on 127.A.B.N port 53: Unbound asks a referral's servers on port 53
only, so this needs root, as CI has). Then:

(a) Unbound walks OUR authoritative servers from the root and gives the
    answers our zone's own server gives;
(b) our resolver, forwarding to that Unbound, gives Unbound's answers;
(c) Unbound and our resolver, each walking the same hierarchy, give the same
    answers to ~17 questions (A, AAAA, CNAME chains within and across zones,
    MX, TXT, NS, SOA, NXDOMAIN, NODATA), compared as RRsets, TTLs aside;
(d) Unbound with a forward-zone pointing at our webtrip.test authoritative
    server answers as that server does.
"""

from __future__ import annotations

import os

import dns.flags
import dns.message
import dns.query
import dns.rcode
import pytest

from peers.unbound import unbound_server
from support import require_program
from support.hierarchy import loopback_hierarchy, rrsets_text, webtrip_resolver

pytestmark = pytest.mark.peer("unbound")

QUESTIONS = [
    ("www.webtrip.test", "A"),
    ("www.webtrip.test", "AAAA"),
    ("mail.webtrip.test", "A"),
    ("alias.webtrip.test", "A"),
    ("alias.webtrip.test", "CNAME"),
    ("far.webtrip.test", "A"),
    ("webtrip.test", "MX"),
    ("webtrip.test", "TXT"),
    ("webtrip.test", "NS"),
    ("webtrip.test", "SOA"),
    ("www.shop.test", "A"),
    ("nothing.webtrip.test", "A"),
    ("nothing.shop.test", "AAAA"),
    ("nothing.test", "A"),
    ("www.webtrip.test", "TXT"),
    ("www.shop.test", "MX"),
    ("mail.webtrip.test", "AAAA"),
]
NODATA = {("www.webtrip.test", "TXT"), ("www.shop.test", "MX"), ("mail.webtrip.test", "AAAA")}
# Answered by the webtrip.test server alone (no CNAME leaving the zone): for (a).
IN_ZONE = [(n, t) for n, t in QUESTIONS if n.endswith("webtrip.test") and n != "far.webtrip.test"]


@pytest.fixture(scope="module")
def lab():
    require_program("unbound")
    if os.geteuid() != 0:
        pytest.skip("Unbound asks name servers on port 53 only, and binding it needs root")
    with loopback_hierarchy(port=53) as running:
        yield running


@pytest.fixture(scope="module")
def unbound(lab):
    with unbound_server(lab.address(12), 53, root_hints=lab.hints) as running:
        yield running


@pytest.fixture(scope="module")
def ours(lab):
    with webtrip_resolver(lab, 10) as running:
        yield running


@pytest.fixture(scope="module")
def forwarding(lab, unbound):
    with webtrip_resolver(lab, 11, ["--forward", f"{unbound.host}:{unbound.port}"]) as running:
        yield running


def ask(host: str, port: int, name: str, rdtype: str, rd: bool = True) -> dns.message.Message:
    message = dns.message.make_query(name, rdtype, use_edns=0, payload=1232)
    if not rd:
        message.flags &= ~dns.flags.RD
    return dns.query.udp(message, host, port=port, timeout=5)


def view(message: dns.message.Message) -> tuple[str, dict]:
    return dns.rcode.to_text(message.rcode()), rrsets_text(message)


@pytest.mark.parametrize(("name", "rdtype"), IN_ZONE, ids=[f"{n}-{t}" for n, t in IN_ZONE])
def test_a_unbound_through_our_authorities_answers_as_our_zone_server(lab, unbound, name, rdtype):
    got = ask(unbound.host, unbound.port, name, rdtype)
    direct = ask(lab.address(3), lab.port, name, rdtype, rd=False)
    assert direct.flags & dns.flags.AA
    assert got.flags & dns.flags.RA and not got.flags & dns.flags.AA
    rcode, sections = view(got)
    assert rcode == dns.rcode.to_text(direct.rcode()), unbound.log()
    assert sections["answer"] == rrsets_text(direct)["answer"]
    if not got.answer:  # a negative answer: the zone's SOA, for negative caching
        assert sections["authority"] == rrsets_text(direct)["authority"]


@pytest.mark.parametrize(("name", "rdtype"), QUESTIONS, ids=[f"{n}-{t}" for n, t in QUESTIONS])
def test_b_our_resolver_forwarding_to_unbound_gives_unbounds_answers(
    unbound, forwarding, name, rdtype
):
    theirs = ask(unbound.host, unbound.port, name, rdtype)
    through = ask(forwarding.host, forwarding.port, name, rdtype)
    assert through.flags & dns.flags.RA and not through.flags & dns.flags.AA
    assert view(through) == view(theirs), forwarding.log_text()


@pytest.mark.parametrize(("name", "rdtype"), QUESTIONS, ids=[f"{n}-{t}" for n, t in QUESTIONS])
def test_c_unbound_and_our_resolver_walking_the_same_tree_agree(unbound, ours, name, rdtype):
    theirs = ask(unbound.host, unbound.port, name, rdtype)
    mine = ask(ours.host, ours.port, name, rdtype)
    assert mine.flags & dns.flags.RA and not mine.flags & dns.flags.AA
    assert view(mine) == view(theirs), ours.log_text()
    # Both really found the answer (not two empty failures that happen to agree):
    rcode, sections = view(mine)
    if name.startswith("nothing."):
        assert rcode == "NXDOMAIN" and [t for _, t, _ in sections["authority"]] == ["SOA"]
    elif (name, rdtype) in NODATA:
        assert rcode == "NOERROR" and not sections["answer"] and sections["authority"]
    else:
        assert rcode == "NOERROR" and sections["answer"]


@pytest.fixture(scope="module")
def unbound_forwarding(lab):
    """Unbound with a forward-zone for "." pointing at OUR webtrip.test authoritative server."""
    with unbound_server(lab.address(13), 53, forward=[(lab.address(3), lab.port)]) as running:
        yield running


@pytest.mark.parametrize(("name", "rdtype"), IN_ZONE, ids=[f"{n}-{t}" for n, t in IN_ZONE])
def test_d_unbound_forwarding_to_our_authoritative_server(lab, unbound_forwarding, name, rdtype):
    got = ask(unbound_forwarding.host, unbound_forwarding.port, name, rdtype)
    direct = ask(lab.address(3), lab.port, name, rdtype, rd=False)
    assert got.flags & dns.flags.RA and not got.flags & dns.flags.AA
    rcode, sections = view(got)
    assert rcode == dns.rcode.to_text(direct.rcode()), unbound_forwarding.log()
    assert sections["answer"] == rrsets_text(direct)["answer"]
