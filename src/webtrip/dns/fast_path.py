"""The fast path: answering the commonest queries straight from bytes.

:class:`~webtrip.dns.authority.Authority` answers every query correctly with
dnspython — it parses the query into objects, builds a response message of
RRset objects and encodes it again. That costs 115–250 µs a query, most of it
in creating and encoding objects. The packet cache hides the cost for repeated
questions, but not for fresh names: random labels under a wildcard, random
NXDOMAIN names, names under a delegation. This module answers those shapes in
a few microseconds, and *declines* (returns None) everything else, which then
takes the general path.

How it works:

* At build time (:meth:`FastIndex.build`), each zone is turned into plain
  dicts keyed by **lower-cased wire names** (``b"\\x03www\\x07example\\x04test\\x00"``):
  the names that exist (empty non-terminals included), the zone cuts, the
  wildcards by closest encloser, and for every (owner, type) the answer
  records already encoded — type, class, TTL, rdata — behind a compression
  pointer to the question name. The referral sections, the glue and the
  negative SOA are encoded once too. Everything is taken from the general
  path's own methods, so both paths answer from the same facts.
* At query time (:meth:`FastIndex.respond`) the header and the one question
  are checked and parsed by hand, strictly (RFC 1035 §4.1): labels of at most
  63 bytes, a name of at most 255, no compression pointer, an optional single
  OPT record of EDNS version 0 without options (RFC 6891). The name's
  suffixes at label boundaries *are* the wire forms of its ancestors, so the
  zone, the cuts and the closest encloser are found with byte slices and dict
  look-ups — RFC 1034 §4.3.2 in the same order as the general path.
* The response is the header, the question copied byte for byte (the
  client's letter case preserved), and the precomputed records. A name in the
  response that is the question name or one of its ancestors is written as a
  compression pointer into the question (RFC 1035 §4.1.4): the question
  starts at offset 12, so the ancestor at offset ``k`` of the name is
  ``0xC000 | (12 + k)``. Other names are written uncompressed.

Declined: anything that is not a plain QUERY with one question of class IN
and at most an OPT record; meta types (ANY, AXFR, IXFR, OPT...), DS (answered
by the parent at a cut); zones with DNAME records; CNAMEs (chains may cross
zones); answers needing additional-section processing (MX, NS, SRV); and any
response larger than the client can receive (truncation is left to the
general path). ``tests/dns/test_fast_path.py`` checks that every response the
fast path gives is the one the general path gives.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset

from webtrip.dns.zones import Zone

_HEADER = struct.Struct("!HHHHHH")
_RECORD = struct.Struct("!HHIH")  # type, class, TTL, RDLENGTH: what follows a record's owner
_QUESTION_TAIL = struct.Struct("!HH")
# Header bits that send a query to the general path: QR, OPCODE, TC and RCODE.
_DECLINE_FLAGS = 0x8000 | 0x7800 | 0x0200 | 0x000F
_RD = 0x0100
_RESPONSE = 0x8000  # QR
_AA = 0x0400
_DO = 0x8000  # in the OPT record's TTL field
_POINTER_TO_QNAME = b"\xc0\x0c"
_NXDOMAIN = 3
_REFUSED = 5
_TCP_LIMIT = 65535
_CLASSIC_UDP = 512
_IN = dns.rdataclass.IN
_OPT = dns.rdatatype.OPT
# Answers these types would need additional-section processing: declined.
_WITH_ADDITIONAL = {dns.rdatatype.MX, dns.rdatatype.NS, dns.rdatatype.SRV}
_CNAME = dns.rdatatype.CNAME
_A = dns.rdatatype.A
_AAAA = dns.rdatatype.AAAA


def _declined_qtype(qtype: int) -> bool:
    """Question types the fast path leaves to the general one."""
    return qtype in (0, _OPT, dns.rdatatype.DS) or 128 <= qtype <= 255


def _rdata_wire(rdata: dns.rdata.Rdata) -> bytes:
    """``rdata`` in wire form, names uncompressed.

    Addresses are packed by the C library: dnspython's own packing is pure
    Python, and an A or AAAA record is what most of a large zone is (its
    text was already checked when the zone was read).
    """
    rdtype = rdata.rdtype
    if rdtype == _A:
        return socket.inet_pton(socket.AF_INET, rdata.address)  # type: ignore[attr-defined]
    if rdtype == _AAAA:
        return socket.inet_pton(socket.AF_INET6, rdata.address)  # type: ignore[attr-defined]
    wire = rdata.to_wire()
    assert wire is not None  # without a file, the bytes are returned
    return wire


def _tails(rrset: dns.rdataset.Rdataset) -> list[bytes]:
    """Each record of ``rrset`` encoded without its owner name, names uncompressed."""
    out = []
    for rdata in rrset:
        rdata_wire = _rdata_wire(rdata)
        out.append(
            _RECORD.pack(rrset.rdtype, rrset.rdclass, rrset.ttl, len(rdata_wire)) + rdata_wire
        )
    return out


def _full(rrsets: Iterable[dns.rrset.RRset]) -> tuple[int, bytes]:
    """RRsets encoded whole (owner uncompressed): their record count and bytes."""
    count, parts = 0, []
    for rrset in rrsets:
        owner = rrset.name.to_wire()
        assert owner is not None  # without a file, the name's bytes are returned
        for tail in _tails(rrset):
            parts.append(owner + tail)
            count += 1
    return count, b"".join(parts)


def _key(name: dns.name.Name) -> bytes:
    wire = name.to_wire()
    assert wire is not None  # without a file, the name's bytes are returned
    return wire.lower()


# A node's answers: qtype → (record count, records behind a pointer to the
# question name), or None where the type is declined; _CNAME_HERE marks a node
# owning a CNAME (any other type there is an alias: declined).
_Node = dict[int, tuple[int, bytes] | None]
_CNAME_HERE = -1


@dataclass(slots=True)
class _FastZone:
    apex: bytes
    names: set[bytes] = field(default_factory=set)
    nodes: dict[bytes, _Node] = field(default_factory=dict)
    wildcards: dict[bytes, _Node] = field(default_factory=dict)  # by closest encloser
    # cut → (NS record tails, joined with the owner pointer at query time; glue count, glue)
    cuts: dict[bytes, tuple[list[bytes], int, bytes]] = field(default_factory=dict)
    soa_tail: bytes = b""  # the negative SOA record after its owner (the apex)


def _node(node: object, rrset_of: Callable[..., dns.rrset.RRset]) -> _Node:
    out: _Node = {}
    for rdataset in node.rdatasets:  # type: ignore[attr-defined]
        if rdataset.rdclass != _IN:
            continue
        if rdataset.rdtype == _CNAME:
            out[_CNAME_HERE] = None
            out[_CNAME] = None  # asking for the CNAME itself: simple, but left to the general path
            continue
        if rdataset.rdtype in _WITH_ADDITIONAL:
            out[rdataset.rdtype] = None
            continue
        tails = _tails(rdataset)  # the same records and TTL as rrset_of would give
        out[rdataset.rdtype] = (len(tails), b"".join(_POINTER_TO_QNAME + t for t in tails))
    return out


class FastIndex:
    """The precomputed zones and the fast answer; built by :meth:`build`."""

    def __init__(
        self, zones: dict[bytes, _FastZone | None], edns_payload: int, source: object
    ) -> None:
        self.zones = zones
        self.edns_payload = edns_payload
        self.source = source  # the ZoneSet it was built from
        self.count = len(zones)

    @classmethod
    def build(
        cls,
        zone_set: Iterable[Zone],
        edns_payload: int,
        glue: Callable[..., list[dns.rrset.RRset]],
        rrset_of: Callable[..., dns.rrset.RRset],
    ) -> FastIndex:
        """Index every zone of ``zone_set``; ``glue(zone, ns_rrset)`` and
        ``rrset_of(owner, rdataset)`` are the general path's own helpers."""
        zones: dict[bytes, _FastZone | None] = {}
        for zone in zone_set:
            if zone.dnames:
                zones[_key(zone.origin)] = None  # not indexed: its names take the general path
                continue
            fast = _FastZone(apex=_key(zone.origin))
            fast.names = {_key(name) for name in zone.names}
            for name, node in zone.data.nodes.items():
                key = _key(name)
                if name.labels[0] == b"*":
                    fast.wildcards[key[2:]] = _node(node, rrset_of)
                fast.nodes[key] = _node(node, rrset_of)
            for cut in zone.cuts:
                ns = rrset_of(cut, zone.rdataset(cut, dns.rdatatype.NS))
                glue_count, glue_wire = _full(glue(zone, ns))
                fast.cuts[_key(cut)] = (_tails(ns), glue_count, glue_wire)
            (fast.soa_tail,) = _tails(zone.negative_soa())
            zones[fast.apex] = fast
        return cls(zones, edns_payload, zone_set)

    def respond(self, wire: bytes, tcp: bool) -> bytes | None:
        """The response to ``wire``, or None: declined, ask the general path."""
        size = len(wire)
        if size < 17:
            return None
        query_id, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(wire)
        if flags & _DECLINE_FLAGS or qdcount != 1 or ancount or nscount or arcount > 1:
            return None
        # The question name: label offsets relative to the name's first byte.
        offsets = []
        pos = 12
        try:
            length = wire[pos]
            while length:
                if length > 63:
                    return None  # a compression pointer or an extended label type
                offsets.append(pos - 12)
                pos += length + 1
                length = wire[pos]
        except IndexError:
            return None
        root = pos - 12  # offset of the name's final zero byte
        question_end = pos + 5
        if root >= 255 or question_end > size:
            return None
        qtype, qclass = _QUESTION_TAIL.unpack_from(wire, pos + 1)
        if qclass != _IN or _declined_qtype(qtype):
            return None
        # EDNS (RFC 6891): at most one OPT record, version 0, no options.
        if arcount:
            if size != question_end + 11 or wire[question_end] != 0:
                return None
            rtype, payload, ttl, rdlength = _RECORD.unpack_from(wire, question_end + 1)
            if rtype != _OPT or rdlength or ttl & 0xFFFF7FFF:
                return None  # extended RCODE, version ≠ 0 or unknown flags: general path
            opt = b"\x00" + _RECORD.pack(_OPT, self.edns_payload, ttl & _DO, 0)
            limit = max(_CLASSIC_UDP, min(payload, self.edns_payload))
        elif size != question_end:
            return None  # trailing bytes
        else:
            opt = b""
            limit = _CLASSIC_UDP
        if tcp:
            limit = _TCP_LIMIT

        key = wire[12 : pos + 1].lower()
        offsets.append(root)
        zones = self.zones
        rd = flags & _RD  # the only query flag a response copies
        for depth in range(len(offsets)):  # the deepest zone first (longest match)
            suffix = key[offsets[depth] :]
            if suffix in zones:
                zone = zones[suffix]
                if zone is None:
                    return None  # a zone with DNAMEs: general path
                break
        else:
            return self._pack(query_id, rd, _REFUSED, wire, question_end, opt, limit)

        # RFC 1034 §4.3.2 step 3.b: a cut at or above the name gives a referral.
        cuts = zone.cuts
        if cuts:
            for i in range(depth - 1, -1, -1):
                cut = cuts.get(key[offsets[i] :])
                if cut is not None:
                    ns_tails, glue_count, glue = cut
                    pointer = (0xC000 | (12 + offsets[i])).to_bytes(2, "big")
                    authority = pointer + pointer.join(ns_tails)
                    return self._pack(
                        query_id, rd, 0, wire, question_end, opt, limit,
                        authority=(len(ns_tails), authority), additional=(glue_count, glue),
                    )  # fmt: skip
        node = zone.nodes.get(key)
        if node is None and key not in zone.names:
            # RFC 4592: a wildcard at the closest encloser answers for the name.
            for i in range(1, depth + 1):
                encloser = key[offsets[i] :]
                if encloser in zone.names:
                    break
            node = zone.wildcards.get(encloser)
            if node is None:
                return self._negative(zone, _NXDOMAIN, query_id, rd, wire, question_end,
                                      opt, limit, offsets[depth])  # fmt: skip
        if node is not None:
            if qtype in node:
                records = node[qtype]
                if records is None:
                    return None
                return self._pack(query_id, rd | _AA, 0, wire, question_end, opt, limit,
                                  answer=records)  # fmt: skip
            if _CNAME_HERE in node:
                return None  # an alias: the general path follows it
        return self._negative(zone, 0, query_id, rd, wire, question_end, opt, limit,
                              offsets[depth])  # fmt: skip

    def _negative(
        self, zone: _FastZone, rcode: int, query_id: int, rd: int, wire: bytes,
        question_end: int, opt: bytes, limit: int, apex_offset: int,
    ) -> bytes | None:  # fmt: skip
        """NXDOMAIN or NODATA: the zone's SOA in authority (RFC 2308)."""
        soa = (0xC000 | (12 + apex_offset)).to_bytes(2, "big") + zone.soa_tail
        return self._pack(query_id, rd | _AA, rcode, wire, question_end, opt, limit,
                          authority=(1, soa))  # fmt: skip

    @staticmethod
    def _pack(
        query_id: int, bits: int, rcode: int, wire: bytes, question_end: int, opt: bytes,
        limit: int, answer: tuple[int, bytes] = (0, b""), authority: tuple[int, bytes] = (0, b""),
        additional: tuple[int, bytes] = (0, b""),
    ) -> bytes | None:  # fmt: skip
        response_flags = _RESPONSE | bits | rcode
        header = _HEADER.pack(
            query_id, response_flags, 1, answer[0], authority[0], additional[0] + (opt != b"")
        )
        response = b"".join(
            (header, wire[12:question_end], answer[1], authority[1], additional[1], opt)
        )
        if len(response) > limit:
            return None  # truncation is the general path's business
        return response
