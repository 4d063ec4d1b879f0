"""A DNS response is a referral only when it points at a zone's servers (NS records, not
authoritative): a resolver's "no such record" (SOA in authority) was drawn as a referral."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.rrset

from webtrip.report.flights import dns_answer_kind


def response(name: str, rdtype: str, text: str, *, authoritative: bool = False) -> bytes:
    """A response to www.webtrip.test AAAA with no answer and one authority record."""
    query = dns.message.make_query("www.webtrip.test", "AAAA")
    answer = dns.message.make_response(query)
    if authoritative:
        answer.flags |= dns.flags.AA
    answer.authority.append(dns.rrset.from_text(name, 60, "IN", rdtype, text))
    return answer.to_wire()


def test_a_resolvers_no_such_record_is_an_answer() -> None:
    soa = "ns.webtrip.test. admin.webtrip.test. 1 3600 600 86400 60"
    assert dns_answer_kind(response("webtrip.test.", "SOA", soa)) == "dns-answer"


def test_a_delegation_is_a_referral_and_an_authoritative_one_is_not() -> None:
    assert dns_answer_kind(response("test.", "NS", "ns.test.")) == "dns-referral"
    assert dns_answer_kind(response("test.", "NS", "ns.test.", authoritative=True)) == "dns-answer"
