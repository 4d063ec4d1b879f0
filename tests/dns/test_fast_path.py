"""The fast path (webtrip.dns.fast_path) against the general path (dnspython end to end).

For a large generated set of queries — every name and type the other DNS
tests ask about, the differential test's raw queries (malformed ones
included), random names under the wildcards, the delegations and nowhere,
each with and without EDNS, with the DO bit, in mixed letter case, over UDP
and TCP — the fast path must either decline (return None) or return a
response that, parsed by dnspython, is the general path's response: same ID,
flags, RCODE, question (byte for byte), EDNS, and sections as sets of RRsets
with TTLs. Where a query is of a shape the fast path is meant to handle, it
must not decline; where it is of a shape it leaves to the general path, it
must decline.
"""

from __future__ import annotations

import importlib.util
import random
import struct
import sys
from pathlib import Path

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rdatatype
import dns.zone
import pytest

from support import ZONES
from webtrip.dns.authority import Authority
from webtrip.dns.protocol import TCP, UDP
from webtrip.dns.zones import Zone, ZoneSet, load_zone

DNAME_ZONE = """\
$ORIGIN dname.test.
$TTL 300
@       IN SOA   ns.dname.test. admin.dname.test. 1 3600 600 86400 60
        IN NS    ns.dname.test.
ns      IN A     192.0.2.1
old     IN DNAME new.dname.test.
new     IN A     192.0.2.2
x.new   IN A     192.0.2.3
"""


def _authority() -> Authority:
    dname = dns.zone.from_text(DNAME_ZONE, relativize=False)
    return Authority(
        ZoneSet(
            [
                load_zone(ZONES / "example.test.zone"),
                load_zone(ZONES / "other.test.zone"),
                load_zone(ZONES / "lab.test.zone"),
                Zone.from_dnspython(dname, "dname.test (inline)"),
            ]
        )
    )


AUTHORITY = _authority()
FAST = AUTHORITY.fast_index()
RNG = random.Random(20261125)


def _label(rng: random.Random) -> str:
    return "".join(
        rng.choice("abcdefghijklmnopqrstuvwxyz0123456789-") for _ in range(rng.randint(1, 20))
    )


def _mixed_case(name: str, rng: random.Random) -> str:
    return "".join(c.upper() if rng.random() < 0.5 else c for c in name)


# Names from tests/dns/test_authority.py and the differential test's lists.
KNOWN_NAMES = [
    "example.test", "www.example.test", "mail.example.test", "ns1.example.test",
    "ns2.example.test", "alias.example.test", "chain1.example.test", "loop1.example.test",
    "outside.example.test", "dangling.example.test", "_http._tcp.example.test",
    "10.example.test", "big.example.test", "anything.wild.example.test", "a.wild.example.test",
    "a.b.wild.example.test", "a.b.c.wild.example.test", "sub.wild.example.test",
    "x.sub.wild.example.test", "wild.example.test", "*.wild.example.test",
    "x.ent.empty.example.test", "ent.empty.example.test", "empty.example.test",
    "foo.empty.example.test", "deep.ent.empty.example.test", "child.example.test",
    "x.child.example.test", "ns1.child.example.test", "host.child.example.test",
    "sibling.example.test", "x.sibling.example.test", "nope.example.test",
    "nonexistent.example.test", "deep.nonexistent.example.test", "nx.example.test",
    "other.test", "www.other.test", "to-example.other.test", "nothere.other.test",
    "lab.test", "dual.lab.test", "alias.lab.test", "noaddr.lab.test", "www.lab.test",
    "dname.test", "old.dname.test", "x.old.dname.test", "new.dname.test", "x.new.dname.test",
    "www.elsewhere.invalid", "test", ".", "example.com",
]  # fmt: skip
RANDOM_PARENTS = [
    "wild.example.test", "b.wild.example.test", "empty.example.test", "example.test",
    "nx.example.test", "child.example.test", "x.child.example.test", "sibling.example.test",
    "other.test", "lab.test", "sub.wild.example.test", "ent.empty.example.test",
    "dname.test", "elsewhere.invalid",
]  # fmt: skip
RANDOM_NAMES = [f"{_label(RNG)}.{parent}" for parent in RANDOM_PARENTS for _ in range(6)]
TYPES = ["A", "AAAA", "TXT", "MX", "NS", "SOA", "CNAME", "SRV", "PTR", "CAA", "DS", "ANY",
         "RRSIG", 0, 65000]  # fmt: skip
EDNS_VARIANTS: list[dict[str, object]] = [
    {"use_edns": False},
    {"use_edns": 0, "payload": 1232},
    {"use_edns": 0, "payload": 4096, "want_dnssec": True},
    {"use_edns": 0, "payload": 100},
]


def _query(name: str, rdtype: str | int, edns: dict[str, object], rng: random.Random) -> bytes:
    query = dns.message.make_query(_mixed_case(name, rng), rdtype, **edns)  # type: ignore[arg-type]
    if rng.random() < 0.3:
        query.flags &= ~dns.flags.RD
    return query.to_wire()


def _generated() -> list[bytes]:
    rng = random.Random(7)
    out = []
    for name in KNOWN_NAMES + RANDOM_NAMES:
        for rdtype in TYPES:
            for edns in EDNS_VARIANTS:
                out.append(_query(name, rdtype, edns, rng))
    return out


def _differential_wires() -> list[bytes]:
    path = Path(__file__).with_name("test_differential_nsd.py")
    spec = importlib.util.spec_from_file_location("_differential_cases", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return [case.wire for case in module.CASES]


def _general(wire: bytes, transport: str) -> bytes | None:
    return AUTHORITY._respond(wire, transport)[0]


def _rrsets(section: list) -> set[tuple]:  # type: ignore[type-arg]
    return {
        (rrset.name, rrset.rdclass, rrset.rdtype, rrset.ttl, frozenset(rrset)) for rrset in section
    }


def _assert_same(fast: bytes, general: bytes | None) -> None:
    assert general is not None
    f, g = dns.message.from_wire(fast), dns.message.from_wire(general)
    assert f.id == g.id
    assert f.flags == g.flags
    assert f.rcode() == g.rcode() and f.opcode() == g.opcode()
    assert len(f.question) == len(g.question)
    if f.question:
        question_end = 12 + len(f.question[0].name.to_wire()) + 4
        assert fast[12:question_end] == general[12:question_end]  # letter case included
    assert (f.edns, f.ednsflags, f.payload, f.options) == (
        g.edns,
        g.ednsflags,
        g.payload,
        g.options,
    )
    for fs, gs in ((f.answer, g.answer), (f.authority, g.authority), (f.additional, g.additional)):
        assert len(fs) == len(gs)
        assert _rrsets(fs) == _rrsets(gs)


def _check(wire: bytes) -> list[bool]:
    """Compare both paths over both transports; whether the fast path answered each."""
    answered = []
    for transport in (UDP, TCP):
        fast = FAST.respond(wire, transport == TCP)
        if fast is not None:
            _assert_same(fast, _general(wire, transport))
        answered.append(fast is not None)
    return answered


def test_generated_queries_give_the_general_paths_response():
    wires = _generated()
    answered = sum(any(_check(wire)) for wire in wires)
    assert len(wires) > 5000
    assert answered > len(wires) // 3  # the fast path is really used


def test_differential_queries_give_the_general_paths_response():
    for wire in _differential_wires():
        _check(wire)


@pytest.mark.parametrize(
    "name",
    [f"{_label(RNG)}.wild.example.test" for _ in range(5)]
    + [f"{_label(RNG)}.{_label(RNG)}.example.test" for _ in range(5)]
    + [f"{_label(RNG)}.child.example.test" for _ in range(5)]
    + ["www.example.test", "x.sibling.example.test", "ent.empty.example.test", "example.com"],
)
@pytest.mark.parametrize("rdtype", ["A", "AAAA", "TXT"])
@pytest.mark.parametrize("edns", EDNS_VARIANTS)
def test_common_shapes_take_the_fast_path(name, rdtype, edns):
    wire = _query(name, rdtype, edns, random.Random(name))
    assert _check(wire) == [True, True]


def _with_question(
    name: bytes, rdtype: int = 1, flags: int = 0x0100, extra: bytes = b"", ar: int = 0
) -> bytes:
    return (
        struct.pack("!HHHHHH", 0x1234, flags, 1, 0, 0, ar)
        + name
        + struct.pack("!HH", rdtype, 1)
        + extra
    )


WILD = b"\x01x\x04wild\x07example\x04test\x00"
OPT = b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)


DECLINED = [
    ("cname", dns.message.make_query("alias.example.test", "A").to_wire(), UDP),
    ("cname-qtype", dns.message.make_query("alias.example.test", "CNAME").to_wire(), UDP),
    ("mx-additional", dns.message.make_query("example.test", "MX").to_wire(), UDP),
    ("ns-additional", dns.message.make_query("example.test", "NS").to_wire(), UDP),
    ("srv-additional", dns.message.make_query("_http._tcp.example.test", "SRV").to_wire(), UDP),
    ("any", dns.message.make_query("x.wild.example.test", "ANY").to_wire(), UDP),
    ("ds", dns.message.make_query("child.example.test", "DS").to_wire(), UDP),
    ("axfr", dns.message.make_query("example.test", "AXFR").to_wire(), TCP),
    ("class-ch", dns.message.make_query("www.example.test", "A", "CH").to_wire(), UDP),
    ("big-udp", dns.message.make_query("big.example.test", "TXT").to_wire(), UDP),
    ("dname-zone", dns.message.make_query("x.old.dname.test", "A").to_wire(), UDP),
    ("dname-zone-plain", dns.message.make_query("new.dname.test", "A").to_wire(), UDP),
    ("edns-version-1", dns.message.make_query("www.example.test", "A", use_edns=1).to_wire(), UDP),
    (
        "edns-option",
        dns.message.make_query(
            "www.example.test", "A", use_edns=0, options=[dns.edns.GenericOption(65001, b"x")]
        ).to_wire(),
        UDP,
    ),
    (
        "edns-z-bit",
        _with_question(WILD, extra=b"\x00" + struct.pack("!HHIH", 41, 1232, 1, 0), ar=1),
        UDP,
    ),
    ("two-opt", _with_question(WILD, extra=OPT + OPT, ar=2), UDP),
    ("trailing-bytes", _with_question(WILD, extra=b"JUNK"), UDP),
    ("opt-and-trailing", _with_question(WILD, extra=OPT + b"J", ar=1), UDP),
    ("not-opt", _with_question(WILD, extra=b"\x00" + struct.pack("!HHIH", 1, 1, 0, 0), ar=1), UDP),
    ("compression-in-question", _with_question(b"\x01x\xc0\x0c"), UDP),
    ("label-too-long", _with_question(b"\x40" + b"a" * 64 + b"\x00"), UDP),
    (
        "name-too-long",
        _with_question(
            b"\x3f"
            + b"a" * 63
            + b"\x3f"
            + b"a" * 63
            + b"\x3f"
            + b"a" * 63
            + b"\x3f"
            + b"a" * 63
            + b"\x00"
        ),
        UDP,
    ),
    ("truncated-question", _with_question(WILD)[:-2], UDP),
    ("qr-set", _with_question(WILD, flags=0x8100), UDP),
    ("tc-set", _with_question(WILD, flags=0x0300), UDP),
    ("opcode-notify", _with_question(WILD, flags=0x2100), UDP),
    ("rcode-set", _with_question(WILD, flags=0x0103), UDP),
]


@pytest.mark.parametrize(
    ("wire", "transport"), [pytest.param(wire, t, id=label) for label, wire, t in DECLINED]
)
def test_other_shapes_are_declined(wire, transport):
    assert FAST.respond(wire, transport == TCP) is None
    response, general = AUTHORITY.respond(wire, transport), _general(wire, transport)
    if general is None:
        assert response is None
    else:
        assert response is not None
        _assert_same(response, general)  # not bytes: dnspython shuffles the records of an RRset


def test_response_too_large_for_the_client_is_declined_then_truncated():
    wire = dns.message.make_query("big.example.test", "TXT", use_edns=0, payload=512).to_wire()
    assert FAST.respond(wire, False) is None
    assert dns.message.from_wire(AUTHORITY.respond(wire, UDP)).flags & dns.flags.TC
    # Over TCP the same question fits: the fast path answers it.
    assert _check(wire) == [False, True]


def test_adding_a_zone_rebuilds_the_index():
    authority = Authority(ZoneSet([load_zone(ZONES / "example.test.zone")]))
    wire = dns.message.make_query("www.other.test", "A").to_wire()
    refused = dns.message.from_wire(authority.respond(wire, UDP))
    assert refused.rcode() == dns.rcode.REFUSED
    authority.zones.add(load_zone(ZONES / "other.test.zone"))
    wire = dns.message.make_query("xyz.other.test", "A").to_wire()
    response = dns.message.from_wire(authority.respond(wire, UDP))
    assert response.rcode() == dns.rcode.NXDOMAIN


def test_question_name_compression_pointers_point_into_the_question():
    wire = dns.message.make_query("AbC.Child.Example.Test", "A").to_wire()
    fast = FAST.respond(wire, False)
    assert fast is not None
    assert fast[12 : len(wire)] == wire[12:]
    # The NS owner "Child.Example.Test" starts 4 bytes into the question name.
    assert struct.pack("!H", 0xC000 | 16) + struct.pack("!H", dns.rdatatype.NS) in fast
