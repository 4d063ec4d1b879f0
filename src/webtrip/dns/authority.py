"""The authoritative answer to one DNS query — the logic, with no I/O.

:class:`Authority` turns the bytes of a query into the bytes of a response
(or ``None``: drop it). It follows the lookup algorithm of RFC 1034 §4.3.2:

1. find the zone that contains the name; none → REFUSED (we are not a
   resolver and do not answer for the rest of the world);
2. walk down from the zone's apex: a zone cut on the way means the name is
   delegated → a *referral* (NS records in authority, their addresses
   — glue — in additional, AA clear);
3. the name exists → its records (AA set); a CNAME instead → add it and
   restart at the target while the target is in our zones (loops stopped);
   a DNAME above the name → synthesise the CNAME (RFC 6672);
4. the name does not exist → a wildcard at the closest encloser answers for
   it (RFC 4592), else NXDOMAIN; a name that exists without the asked type
   → NODATA. Both carry the zone's SOA for negative caching (RFC 2308).

Around that: malformed queries get FORMERR, other opcodes NOTIMP, EDNS0
(RFC 6891) is echoed with our payload size, and an answer larger than the
client can receive over UDP is truncated (TC=1) so that it retries over TCP.

Two shortcuts sit in front of this general path, which uses dnspython's
message objects throughout: a *packet cache* answers a query seen before
(the same question in any letter case, with the same flags and EDNS
settings) with the bytes answered then, and the *fast path*
of :mod:`webtrip.dns.fast_path` answers the common fresh queries (wildcard
answers, NXDOMAIN, referrals, plain answers) from tables precomputed per
zone, writing the response bytes directly. The fast path declines whatever
it does not handle exactly as the general path would; the general path
remains the definition of the behaviour.
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from dataclasses import dataclass

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset

from webtrip.dns.fast_path import FastIndex
from webtrip.dns.protocol import (
    CLASSIC_UDP_PAYLOAD,
    EDNS_PAYLOAD,
    TCP,
    UDP,
    header_only,
    question_end,
    render,
)
from webtrip.dns.zones import Zone, ZoneSet, rrset_of

# A CNAME chain longer than this is cut short (loops are stopped earlier).
MAX_CNAME_CHAIN = 12
# How many answers to remember for identical queries (a "packet cache"),
# and how many bytes they may hold together (keys and answers).
PACKET_CACHE_SIZE = 4096
PACKET_CACHE_BYTES = 4 * 1024 * 1024
# A query with more EDNS options than this is answered but not cached.
_CACHED_OPTIONS = 8
_OPT = 41
_ECS = 8  # EDNS Client Subnet: its contents are checked when parsed, so never cached

_HEADER = struct.Struct("!HHHHHH")
_QR = 0x8000
_OPCODE_MASK = 0x7800
_RD = 0x0100
_ADDRESS_TYPES = (dns.rdatatype.A, dns.rdatatype.AAAA)
_RCODE_MASK = 0x000F
# Types never answered from zone data: zone transfers are not offered here.
_TRANSFER_TYPES = {dns.rdatatype.AXFR, dns.rdatatype.IXFR}


@dataclass(frozen=True, slots=True)
class _Answer:
    rrsets: list[dns.rrset.RRset]


@dataclass(frozen=True, slots=True)
class _Alias:
    rrsets: list[dns.rrset.RRset]  # the CNAME (after a DNAME: the DNAME and its CNAME)
    target: dns.name.Name


@dataclass(frozen=True, slots=True)
class _Referral:
    ns: dns.rrset.RRset


class _NoData:
    pass


class _NxDomain:
    pass


@dataclass(slots=True)
class AuthorityStats:
    """How the queries were answered: what shows which path each one took."""

    cached: int = 0  # from the packet cache (any letter case of a question seen before)
    fast: int = 0  # by the fast path's precomputed tables
    general: int = 0  # by the general path (dnspython's message objects)
    malformed: int = 0  # FORMERR from the header checks, before any parsing
    dropped: int = 0  # no header, or a response: not answered


def _malformed(wire: bytes) -> bytes:
    """FORMERR for a query whose question cannot be read (or NOTIMP for another opcode)."""
    query_id, flags = struct.unpack_from("!HH", wire)
    if flags & _OPCODE_MASK:
        return header_only(query_id, flags, dns.rcode.NOTIMP)
    return header_only(query_id, flags, dns.rcode.FORMERR)


_NODATA = _NoData()
_NXDOMAIN = _NxDomain()
_Outcome = _Answer | _Alias | _Referral | _NoData | _NxDomain


class Authority:
    """Answers queries for a set of zones; pure computation, safe to share."""

    def __init__(self, zones: ZoneSet, *, edns_payload: int = EDNS_PAYLOAD) -> None:
        self.zones = zones
        self.edns_payload = edns_payload
        # Insertion-ordered, oldest first; OrderedDict drops its oldest entry
        # in O(1), where a plain dict's first entry is found by skipping over
        # the slots of the entries deleted before it.
        self._cache: OrderedDict[tuple[str, bytes], bytes | None] = OrderedDict()
        self._cache_bytes = 0  # keys and answers held, bounded by PACKET_CACHE_BYTES
        self._fast: FastIndex | None = None
        self.stats = AuthorityStats()

    # --- bytes in, bytes out ---------------------------------------------------

    def respond(
        self, wire: bytes, transport: str = UDP, peer: tuple[str, int] | None = None
    ) -> bytes | None:
        """The response to the query ``wire`` received over ``transport`` (from any ``peer``).

        Returns None when the message must be dropped: too short to carry a
        header, or itself a response (answering responses invites loops).
        Never raises for any input.

        The packet cache is keyed on what decides the answer, never on the
        query's raw bytes: the header's flags and counts, the question with
        its name in lower case — so that the letter-case variations resolvers
        add to their questions (DNS 0x20) find the answer given before — and
        the EDNS record's version, flags, payload size (as the limit it
        sets) and the codes of its options, not their contents. The question
        section, copied from this query, carries the case back — and with it
        every compression pointer into the question name. A query with
        anything else after its question (trailing bytes, other records) is
        answered but never cached, so a key is at most a few hundred bytes.
        """
        stats = self.stats
        # Cheap checks first: a flood of junk must cost as little as possible.
        size = len(wire)
        if size < _HEADER.size or wire[2] & 0x80:
            stats.dropped += 1
            return None  # no header, or a response: never answered
        name_end = question_end(wire) - 5  # the question name's final zero byte
        if name_end < 0:
            stats.malformed += 1
            return _malformed(wire)
        tail = self._tail_key(wire, name_end + 5)
        key: tuple[str, bytes] | None = None
        cached: bytes | None = b""
        if tail is not None:
            question = wire[12:name_end].lower() + wire[name_end : name_end + 5]
            key = (transport, wire[2:12] + question + tail)
            cached = self._cache.get(key, b"")
        if cached != b"":
            stats.cached += 1
            if cached is None:
                return None
            return wire[:2] + cached[:10] + wire[12:name_end] + cached[name_end - 2 :]
        response = self.fast_index().respond(wire, transport == TCP)
        if response is not None:
            stats.fast += 1
            cacheable = True
        else:
            stats.general += 1
            response, cacheable = self._respond(wire, transport)
        # Only a response whose question is the query's own may be replayed
        # with another query's question copied in.
        if (
            cacheable
            and key is not None
            and (response is None or response[12:name_end] == wire[12:name_end])
        ):
            self._remember(key, None if response is None else response[2:])
        return response

    def _remember(self, key: tuple[str, bytes], answer: bytes | None) -> None:
        """Keep ``answer`` for ``key``, dropping the oldest entries past either bound."""
        cache = self._cache
        size = len(key[1]) + (len(answer) if answer else 0)
        if size > PACKET_CACHE_BYTES // 16:
            return  # one huge answer (a long TCP one) would push out hundreds of others
        old = cache.pop(key, b"")
        if old != b"":
            self._cache_bytes -= len(key[1]) + (len(old) if old else 0)
        while cache and (
            len(cache) >= PACKET_CACHE_SIZE or self._cache_bytes + size > PACKET_CACHE_BYTES
        ):
            dropped_key, dropped = cache.popitem(last=False)
            self._cache_bytes -= len(dropped_key[1]) + (len(dropped) if dropped else 0)
        cache[key] = answer
        self._cache_bytes += size

    def _tail_key(self, wire: bytes, question_end: int) -> bytes | None:
        """What the rest of the query after its question adds to the cache key; None: not cached.

        Only a query that ends with its question, or with one OPT record
        (RFC 6891) and nothing after it, is cached. From the OPT record the
        key keeps what the answer depends on: the EDNS version and flags
        (the DO bit), the payload size as the limit it sets on a UDP answer,
        and which options were present (a Padding option pads the answer).
        """
        size = len(wire)
        if question_end > size:
            return None
        _qd, an, ns, ar = struct.unpack_from("!HHHH", wire, 4)
        if an or ns or ar > 1:
            return None
        if not ar:
            return b"" if size == question_end else None
        if size < question_end + 11 or wire[question_end] != 0:
            return None
        rtype, payload, ttl, rdlength = struct.unpack_from("!HHIH", wire, question_end + 1)
        if rtype != _OPT or size != question_end + 11 + rdlength:
            return None
        limit = max(CLASSIC_UDP_PAYLOAD, min(payload, self.edns_payload))
        codes: list[int] = []
        pos = question_end + 11
        while pos < size:
            if pos + 4 > size or len(codes) >= _CACHED_OPTIONS:
                return None
            code, length = struct.unpack_from("!HH", wire, pos)
            if code == _ECS:
                return None
            codes.append(code)
            pos += 4 + length
        if pos != size:
            return None
        return struct.pack(f"!HI{len(codes)}H", limit, ttl, *codes)

    def fast_index(self) -> FastIndex:
        """The fast path's tables, built on first use (again if zones were added)."""
        fast = self._fast
        if fast is None or fast.source is not self.zones or fast.count != len(self.zones):
            fast = self._fast = FastIndex.build(self.zones, self.edns_payload, self._glue, rrset_of)
        return fast

    def _respond(self, wire: bytes, transport: str) -> tuple[bytes | None, bool]:
        """The general path: the response and whether the packet cache may keep it."""
        if len(wire) < _HEADER.size:
            return None, False
        query_id, flags, qdcount, _an, _ns, _ar = _HEADER.unpack_from(wire)
        if flags & _QR:
            return None, False
        opcode = (flags & _OPCODE_MASK) >> 11
        if opcode != dns.opcode.QUERY:
            return header_only(query_id, flags, dns.rcode.NOTIMP), False
        if qdcount != 1 or flags & _RCODE_MASK:
            # One question per query (RFC 9619); a query carries no RCODE.
            return header_only(query_id, flags, dns.rcode.FORMERR), False
        try:
            # Bytes after the last record are ignored, as NSD and BIND do.
            query = dns.message.from_wire(wire, ignore_trailing=True)
        except Exception:  # any parse failure is the client's malformed message
            return header_only(query_id, flags, dns.rcode.FORMERR), False
        try:
            response = self.answer(query, transport)
            # A name synthesised from a DNAME (RFC 6672) repeats the query's
            # letters in the answer: such a response is only right for this
            # very case, so it is not replayed for other case variants.
            cacheable = not any(rrset.rdtype == dns.rdatatype.DNAME for rrset in response.answer)
            return self._render(query, response, transport), cacheable
        except Exception:  # a query we cannot answer must never stop the server
            return header_only(query_id, flags, dns.rcode.SERVFAIL), False

    def _render(
        self, query: dns.message.Message, response: dns.message.Message, transport: str
    ) -> bytes:
        return render(query, response, transport, self.edns_payload)

    # --- the lookup algorithm ---------------------------------------------------

    def answer(self, query: dns.message.Message, transport: str = UDP) -> dns.message.Message:
        """The response message for a well-formed ``query`` with one question."""
        response = dns.message.make_response(query, our_payload=self.edns_payload)
        if query.edns >= 0 and query.ednsflags & dns.flags.DO:
            response.ednsflags |= dns.flags.DO  # RFC 3225: the DO bit is copied
        if query.edns > 0:
            response.set_rcode(dns.rcode.BADVERS)  # we speak EDNS version 0 only
            return response
        question = query.question[0]
        qname, qtype, qclass = question.name, question.rdtype, question.rdclass
        if qtype == dns.rdatatype.AXFR and transport == UDP:
            response.set_rcode(dns.rcode.NOTIMP)  # RFC 5936 §4.2: AXFR is TCP-only
            return response
        if qclass not in (dns.rdataclass.IN, dns.rdataclass.ANY) or qtype in _TRANSFER_TYPES:
            response.set_rcode(dns.rcode.REFUSED)  # no zones of that class; no transfers
            return response
        zone = self.zones.find(qname)
        if zone is None:
            response.set_rcode(dns.rcode.REFUSED)
            return response

        response.flags |= dns.flags.AA
        name, seen = qname, {qname}
        for _ in range(MAX_CNAME_CHAIN + 1):
            outcome = self._lookup(zone, name, qtype)
            if isinstance(outcome, _Answer):
                response.answer.extend(outcome.rrsets)
                self._add_additional(zone, outcome.rrsets, response)
                break
            if isinstance(outcome, _Alias):
                response.answer.extend(outcome.rrsets)
                target = outcome.target
                next_zone = self.zones.find(target)
                if target in seen or next_zone is None:
                    break  # a loop, or a name outside our zones: the resolver goes on
                seen.add(target)
                name, zone = target, next_zone
                continue
            if isinstance(outcome, _Referral):
                if not response.answer:
                    response.flags &= ~dns.flags.AA
                response.authority.append(outcome.ns)
                response.additional.extend(self._glue(zone, outcome.ns))
                break
            if outcome is _NXDOMAIN:
                response.set_rcode(dns.rcode.NXDOMAIN)
            if qclass == dns.rdataclass.IN:
                response.authority.append(zone.negative_soa())
            break
        if qclass == dns.rdataclass.ANY:
            # QCLASS * (RFC 1035 §3.2.5): we hold only class IN, so the answer
            # is not the complete authoritative answer for every class.
            response.flags &= ~dns.flags.AA
        return response

    def _lookup(self, zone: Zone, name: dns.name.Name, qtype: dns.rdatatype.RdataType) -> _Outcome:
        """One step of RFC 1034 §4.3.2 for ``name`` inside ``zone``."""
        # Walk down from just below the apex: a zone cut or a DNAME above the
        # name takes precedence over anything the name itself may have.
        depth = len(zone.origin)
        while depth < len(name):
            depth += 1
            ancestor = name if depth == len(name) else dns.name.Name(name.labels[-depth:])
            if ancestor in zone.cuts and not (ancestor == name and qtype == dns.rdatatype.DS):
                ns = zone.rdataset(ancestor, dns.rdatatype.NS)
                assert ns is not None
                return _Referral(rrset_of(ancestor, ns))
            if ancestor != name and ancestor in zone.dnames:
                return self._dname(zone, ancestor, name)

        node = zone.data.nodes.get(name)
        if node is not None:
            return self._from_node(node, name, qtype)
        if name in zone.names:
            return _NODATA  # an empty non-terminal exists but owns nothing
        # Wildcards (RFC 4592): the source of synthesis is "*" under the
        # closest encloser, the deepest existing ancestor of the name.
        encloser = name.parent()
        while encloser not in zone.names:
            encloser = encloser.parent()
        wildcard = zone.data.nodes.get(dns.name.Name((b"*", *encloser.labels)))
        if wildcard is not None:
            return self._from_node(wildcard, name, qtype)
        return _NXDOMAIN

    @staticmethod
    def _from_node(
        node: dns.node.Node, owner: dns.name.Name, qtype: dns.rdatatype.RdataType
    ) -> _Outcome:
        """What a node answers for ``qtype``, with ``owner`` as the answer's name."""
        cname = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.CNAME)
        if qtype == dns.rdatatype.ANY:
            # RFC 8482: answer ANY with one RRset rather than everything.
            if cname is not None:
                return _Answer([rrset_of(owner, cname)])
            first = min(node.rdatasets, key=lambda rds: rds.rdtype, default=None)
            return _Answer([rrset_of(owner, first)]) if first is not None else _NODATA
        rdataset = node.get_rdataset(dns.rdataclass.IN, qtype)
        if rdataset is not None:
            return _Answer([rrset_of(owner, rdataset)])
        if cname is not None:
            return _Alias([rrset_of(owner, cname)], cname[0].target)
        return _NODATA

    @staticmethod
    def _dname(zone: Zone, owner: dns.name.Name, name: dns.name.Name) -> _Outcome:
        """RFC 6672: a DNAME at ``owner`` maps ``name`` into another subtree."""
        dname = zone.rdataset(owner, dns.rdatatype.DNAME)
        assert dname is not None
        try:
            target = name.relativize(owner).concatenate(dname[0].target)
        except dns.name.NameTooLong:
            return _Answer([rrset_of(owner, dname)])  # YXDOMAIN territory: the DNAME alone
        cname = dns.rrset.from_text_list(name, dname.ttl, "IN", "CNAME", [target.to_text()])
        return _Alias([rrset_of(owner, dname), cname], target)

    def _add_additional(
        self, zone: Zone, rrsets: list[dns.rrset.RRset], response: dns.message.Message
    ) -> None:
        """Addresses of the hosts an MX, NS or SRV answer names (RFC 1034 §3.3.11)."""
        for rrset in rrsets:
            if rrset.rdtype == dns.rdatatype.MX:
                targets = [rdata.exchange for rdata in rrset]
            elif rrset.rdtype in (dns.rdatatype.NS, dns.rdatatype.SRV):
                targets = [rdata.target for rdata in rrset]
            else:
                continue
            for target in targets:
                response.additional.extend(self._addresses(target))

    def _addresses(self, host: dns.name.Name) -> list[dns.rrset.RRset]:
        """A and AAAA records of ``host`` that our zones hold with authority."""
        zone = self.zones.find(host)
        if zone is None or self._below_cut(zone, host):
            return []
        return [
            rrset_of(host, rds)
            for rdtype in _ADDRESS_TYPES
            if (rds := zone.rdataset(host, rdtype)) is not None
        ]

    def _glue(self, zone: Zone, ns: dns.rrset.RRset) -> list[dns.rrset.RRset]:
        """Addresses for a referral's name servers (RFC 9471).

        In-domain glue (name servers below the cut) is the only way to reach
        the child, so it comes from the occluded data below the cut;
        addresses of other servers in our zones are added when we have them.
        """
        out: list[dns.rrset.RRset] = []
        for rdata in ns:
            host = rdata.target
            if host.is_subdomain(ns.name):
                out.extend(
                    rrset_of(host, rds)
                    for rdtype in _ADDRESS_TYPES
                    if (rds := zone.rdataset(host, rdtype)) is not None
                )
            else:
                out.extend(self._addresses(host))
        return out

    @staticmethod
    def _below_cut(zone: Zone, name: dns.name.Name) -> bool:
        return any(name.is_subdomain(cut) for cut in zone.cuts)
