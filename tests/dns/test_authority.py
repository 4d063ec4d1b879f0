"""The authoritative answer logic, one behaviour per test (no sockets)."""

from __future__ import annotations

import struct

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest

from support import ZONES
from webtrip.dns.authority import Authority
from webtrip.dns.protocol import TCP, UDP
from webtrip.dns.zones import ZoneSet, load_zone

AUTHORITY = Authority(
    ZoneSet([load_zone(ZONES / "example.test.zone"), load_zone(ZONES / "other.test.zone")])
)


def ask(
    name: str,
    rdtype: str = "A",
    *,
    transport: str = UDP,
    edns: int = 0,
    payload: int = 1232,
    rdclass: str = "IN",
) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype, rdclass, use_edns=edns, payload=payload)
    wire = AUTHORITY.respond(query.to_wire(), transport)
    assert wire is not None
    response = dns.message.from_wire(wire)
    assert response.id == query.id
    return response


def texts(section: list) -> set[str]:
    return {line for rrset in section for line in rrset.to_text().splitlines()}


def test_answer_is_authoritative_and_echoes_the_question():
    response = ask("www.example.test")
    assert response.rcode() == dns.rcode.NOERROR
    assert response.flags & dns.flags.AA and response.flags & dns.flags.QR
    assert texts(response.answer) == {"www.example.test. 300 IN A 192.0.2.10"}


def test_letter_case_of_the_name_is_echoed_exactly():
    query = dns.message.make_query("WwW.ExAmPlE.TeSt", "A")
    wire = AUTHORITY.respond(query.to_wire(), UDP)
    assert b"\x03WwW\x07ExAmPlE\x04TeSt\x00" in wire
    assert b"\x03www" not in wire


@pytest.mark.parametrize(
    ("name", "rdtype", "expected"),
    [
        ("www.example.test", "AAAA", "www.example.test. 300 IN AAAA 2001:db8::10"),
        ("example.test", "MX", "example.test. 3600 IN MX 10 mail.example.test."),
        ("example.test", "TXT", 'example.test. 3600 IN TXT "v=spf1 mx -all"'),
        ("example.test", "CAA", 'example.test. 3600 IN CAA 0 issue "letsencrypt.org"'),
        ("10.example.test", "PTR", "10.example.test. 3600 IN PTR www.example.test."),
        (
            "_http._tcp.example.test",
            "SRV",
            "_http._tcp.example.test. 3600 IN SRV 10 60 80 www.example.test.",
        ),
    ],
)
def test_every_record_type_is_answered(name, rdtype, expected):
    assert expected in texts(ask(name, rdtype).answer)


def test_mx_answer_carries_the_exchange_address_in_additional():
    assert "mail.example.test. 3600 IN A 192.0.2.25" in texts(ask("example.test", "MX").additional)


def test_cname_is_followed_within_the_zone():
    response = ask("alias.example.test")
    assert [rrset.rdtype for rrset in response.answer] == [dns.rdatatype.CNAME, dns.rdatatype.A]


def test_cname_chain_is_followed_to_the_end():
    response = ask("chain1.example.test")
    assert len(response.answer) == 4
    assert response.answer[-1].to_text() == "www.example.test. 300 IN A 192.0.2.10"


def test_cname_is_followed_into_another_zone_of_the_server():
    response = ask("to-example.other.test")
    assert texts(response.answer) >= {"www.example.test. 300 IN A 192.0.2.10"}


def test_cname_loop_is_stopped():
    response = ask("loop1.example.test")
    assert response.rcode() == dns.rcode.NOERROR
    assert len(response.answer) == 2  # loop1 → loop2, then loop2 → loop1 stops


def test_cname_to_a_name_outside_our_zones_is_left_for_the_resolver():
    response = ask("outside.example.test")
    assert texts(response.answer) == {"outside.example.test. 3600 IN CNAME www.elsewhere.invalid."}
    assert response.rcode() == dns.rcode.NOERROR


def test_cname_to_a_missing_name_gives_nxdomain_with_the_cname():
    response = ask("dangling.example.test")
    assert response.rcode() == dns.rcode.NXDOMAIN  # RFC 6604: the rcode of the last name
    assert len(response.answer) == 1


def test_asking_for_the_cname_itself_returns_it_unfollowed():
    response = ask("alias.example.test", "CNAME")
    assert texts(response.answer) == {"alias.example.test. 3600 IN CNAME www.example.test."}


def test_wildcard_synthesises_the_answer_with_the_query_name():
    response = ask("anything.wild.example.test")
    assert texts(response.answer) == {"anything.wild.example.test. 3600 IN A 192.0.2.99"}
    assert response.flags & dns.flags.AA


def test_wildcard_matches_several_labels_deep():
    assert ask("a.b.c.wild.example.test", "TXT").answer


def test_wildcard_does_not_override_an_existing_name():
    assert texts(ask("sub.wild.example.test").answer) == {
        "sub.wild.example.test. 3600 IN A 192.0.2.98"
    }


def test_existing_name_without_the_type_is_nodata_not_wildcard():
    response = ask("sub.wild.example.test", "TXT")
    assert response.rcode() == dns.rcode.NOERROR and not response.answer


def test_wildcard_below_an_existing_name_is_not_used_for_its_children():
    # x.sub.wild: closest encloser is sub.wild, which has no "*" child (RFC 4592 §2.2.1).
    assert ask("x.sub.wild.example.test").rcode() == dns.rcode.NXDOMAIN


def test_empty_non_terminal_blocks_the_wildcard_above_it():
    # ent.empty exists only as the parent of deep.ent.empty, so *.empty does not apply.
    assert ask("x.ent.empty.example.test").rcode() == dns.rcode.NXDOMAIN


def test_empty_non_terminal_is_nodata():
    response = ask("ent.empty.example.test")
    assert response.rcode() == dns.rcode.NOERROR and not response.answer
    assert response.authority[0].rdtype == dns.rdatatype.SOA


def test_nxdomain_carries_the_soa_with_the_negative_ttl():
    response = ask("nope.example.test")
    assert response.rcode() == dns.rcode.NXDOMAIN
    assert response.flags & dns.flags.AA
    (soa,) = response.authority
    assert soa.rdtype == dns.rdatatype.SOA
    assert soa.ttl == 300  # min(SOA TTL 3600, MINIMUM 300), RFC 2308 §3


def test_nodata_has_noerror_an_empty_answer_and_the_soa():
    response = ask("www.example.test", "MX")
    assert response.rcode() == dns.rcode.NOERROR
    assert not response.answer
    assert [rrset.rdtype for rrset in response.authority] == [dns.rdatatype.SOA]


def test_delegation_gives_a_referral_with_glue_and_no_aa():
    response = ask("host.child.example.test")
    assert response.rcode() == dns.rcode.NOERROR
    assert not response.flags & dns.flags.AA
    assert not response.answer
    assert texts(response.authority) == {
        "child.example.test. 3600 IN NS ns1.child.example.test.",
        "child.example.test. 3600 IN NS ns.outside.invalid.",
    }
    assert texts(response.additional) == {
        "ns1.child.example.test. 3600 IN A 192.0.2.153",
        "ns1.child.example.test. 3600 IN AAAA 2001:db8::153",
    }


def test_glue_below_a_cut_is_never_given_as_an_answer():
    response = ask("ns1.child.example.test")
    assert not response.answer and not response.flags & dns.flags.AA


def test_ds_at_a_delegation_is_answered_by_the_parent():
    response = ask("child.example.test", "DS")
    assert response.flags & dns.flags.AA
    assert response.authority[0].rdtype == dns.rdatatype.SOA


def test_sibling_delegation_carries_the_servers_address():
    response = ask("x.sibling.example.test")
    assert texts(response.additional) == {"ns1.example.test. 3600 IN A 192.0.2.53"}


def test_names_outside_our_zones_are_refused():
    response = ask("www.example.com")
    assert response.rcode() == dns.rcode.REFUSED
    assert not response.flags & dns.flags.AA
    assert not response.answer and not response.authority


def test_other_classes_are_refused():
    assert ask("www.example.test", "TXT", rdclass="CH").rcode() == dns.rcode.REFUSED


def test_zone_transfers_are_refused():
    assert ask("example.test", "AXFR", transport=TCP).rcode() == dns.rcode.REFUSED


def test_axfr_over_udp_is_not_implemented():
    assert ask("example.test", "AXFR").rcode() == dns.rcode.NOTIMP  # RFC 5936 §4.2


def test_class_any_gets_the_in_data_without_aa():
    response = ask("alias.example.test", rdclass="ANY")
    assert response.rcode() == dns.rcode.NOERROR and not response.flags & dns.flags.AA
    assert len(response.answer) == 2


def test_trailing_bytes_after_the_question_are_ignored():
    query = dns.message.make_query("www.example.test", "A", use_edns=False)
    response = dns.message.from_wire(AUTHORITY.respond(query.to_wire() + b"junk", UDP))
    assert response.answer


def test_any_is_answered_minimally_with_one_rrset():
    response = ask("example.test", "ANY")
    assert response.rcode() == dns.rcode.NOERROR
    assert len(response.answer) == 1  # RFC 8482


def test_edns_is_echoed_with_our_payload_size():
    response = ask("www.example.test", payload=4096)
    assert response.edns == 0
    assert response.payload == 1232


def test_no_edns_in_the_answer_without_edns_in_the_query():
    assert ask("www.example.test", edns=-1).edns == -1


def test_do_bit_is_copied():
    query = dns.message.make_query("www.example.test", "A", want_dnssec=True)
    response = dns.message.from_wire(AUTHORITY.respond(query.to_wire(), UDP))
    assert response.ednsflags & dns.flags.DO


def test_unknown_edns_version_gets_badvers():
    response = ask("www.example.test", edns=1)
    assert response.rcode() == dns.rcode.BADVERS


def test_big_answer_without_edns_is_truncated_to_512_bytes():
    query = dns.message.make_query("big.example.test", "TXT", use_edns=False)
    wire = AUTHORITY.respond(query.to_wire(), UDP)
    assert len(wire) <= 512
    response = dns.message.from_wire(wire)
    assert response.flags & dns.flags.TC
    assert response.question == query.question


def test_big_answer_respects_the_edns_payload_size():
    response = ask("big.example.test", "TXT", payload=1232)
    assert response.flags & dns.flags.TC


def test_big_answer_over_tcp_is_complete():
    response = ask("big.example.test", "TXT", transport=TCP)
    assert not response.flags & dns.flags.TC
    assert len(response.answer[0]) == 7


def _header(query_id=0x1234, flags=0x0100, qd=1, an=0, ns=0, ar=0) -> bytes:
    return struct.pack("!HHHHHH", query_id, flags, qd, an, ns, ar)


QUESTION = b"\x03www\x07example\x04test\x00\x00\x01\x00\x01"


def rcode_of(wire: bytes | None) -> int | None:
    if wire is None:
        return None
    assert wire[:2] == b"\x12\x34"
    return wire[3] & 0xF


@pytest.mark.parametrize(
    ("packet", "expected"),
    [
        pytest.param(b"", None, id="empty"),
        pytest.param(b"\x12\x34\x01", None, id="shorter-than-header"),
        pytest.param(_header(flags=0x8000) + QUESTION, None, id="a-response-is-dropped"),
        pytest.param(_header(flags=0x2800) + QUESTION, dns.rcode.NOTIMP, id="opcode-update"),
        pytest.param(_header(flags=0x7800) + QUESTION, dns.rcode.NOTIMP, id="opcode-15"),
        pytest.param(_header(qd=0), dns.rcode.FORMERR, id="qdcount-0"),
        pytest.param(_header(qd=2) + QUESTION * 2, dns.rcode.FORMERR, id="qdcount-2"),
        pytest.param(_header(qd=1), dns.rcode.FORMERR, id="qdcount-larger-than-packet"),
        pytest.param(_header(an=5000) + QUESTION, dns.rcode.FORMERR, id="ancount-5000"),
        pytest.param(
            _header() + b"\xc0\x0c\x00\x01\x00\x01", dns.rcode.FORMERR, id="pointer-to-itself"
        ),
        pytest.param(
            _header() + b"\x01a\xc0\x0e\x00\x01\x00\x01", dns.rcode.FORMERR, id="forward-pointer"
        ),
        pytest.param(
            _header() + b"\xc3\xff\x00\x01\x00\x01", dns.rcode.FORMERR, id="pointer-out-of-range"
        ),
        pytest.param(
            _header() + b"\x40" + b"a" * 64 + b"\x00\x00\x01\x00\x01",
            dns.rcode.FORMERR,
            id="label-over-63",
        ),
        pytest.param(
            _header() + (b"\x3f" + b"a" * 63) * 5 + b"\x00\x00\x01\x00\x01",
            dns.rcode.FORMERR,
            id="name-over-255",
        ),
        pytest.param(_header(flags=0x0103) + QUESTION, dns.rcode.FORMERR, id="rcode-in-query"),
        pytest.param(_header() + QUESTION[:-2], dns.rcode.FORMERR, id="truncated-question"),
        pytest.param(
            _header(ar=2) + QUESTION + (b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00") * 2,
            dns.rcode.FORMERR,
            id="two-opt-records",
        ),
    ],
)
def test_malformed_queries_get_formerr_notimp_or_are_dropped(packet, expected):
    assert rcode_of(AUTHORITY.respond(packet, UDP)) == expected


def test_formerr_echoes_the_id_and_the_rd_bit():
    wire = AUTHORITY.respond(_header(qd=0), UDP)
    assert wire[:2] == b"\x12\x34"
    assert wire[2] & 0x80 and wire[2] & 0x01  # QR and RD


def test_a_normal_query_is_still_answered_after_malformed_ones():
    for packet in (_header(qd=0), _header() + b"\xc0\x0c\x00\x01\x00\x01", b"\x00"):
        AUTHORITY.respond(packet, UDP)
    assert texts(ask("www.example.test").answer) == {"www.example.test. 300 IN A 192.0.2.10"}


def test_identical_queries_with_other_ids_get_their_own_ids():
    query = dns.message.make_query("www.example.test", "A")
    first = AUTHORITY.respond(query.to_wire(), UDP)
    query.id = (query.id + 1) % 65536
    second = AUTHORITY.respond(query.to_wire(), UDP)
    assert first[2:] == second[2:]
    assert dns.message.from_wire(second).id == query.id
