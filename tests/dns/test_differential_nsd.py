"""Differential test: webtrip's authoritative server against NSD, the reference.

The same zone files are served by NSD (``peers.nsd``) and by ``webtrip dns
serve``; every query below is sent, as the same bytes, to both over UDP and over
TCP. The responses must agree on the header (ID echo, opcode, QR, AA, TC, RD, RA,
AD, Z, RCODE including the EDNS extended part), the question section (exactly,
letter case included), the EDNS version and flags, and each of the answer,
authority and additional sections compared as sets of RRsets (owner name
case-insensitively, class, type, TTL and rdata set, order ignored). A query NSD
does not answer must not be answered.

Where the RFCs leave a choice to the server and NSD's choice is one of several
correct ones, the comparison says so explicitly, citing the RFC, and checks the
alternative instead of skipping it:

* the apex NS RRset NSD adds to the authority section of positive answers
  (RFC 1034 §4.3.2, §6.2.1); the additional section must then match what the
  response does carry;
* EDNS payload size and EDNS options in responses (RFC 6891 §6.2.5, RFC 8914,
  RFC 5001, RFC 7873), and a UDP response truncated by NSD because of its own
  1232-byte limit, which a server advertising a larger payload may send whole;
* the contents of sections in a response with TC=1 (RFC 2181 §9);
* the CD bit (RFC 4035 §3.1.6 versus RFC 1035 §4.1.1 for non-DNSSEC servers);
* the question section and RD bit of FORMERR/NOTIMP-style error responses;
* which RRsets answer QTYPE=ANY (RFC 8482 §4.1);
* zone transfers, which a server may refuse (RFC 5936 §5, RFC 1995);
* closing a TCP connection on a message too short to hold a question (RFC 7766).
"""

from __future__ import annotations

import enum
import socket
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.wire
import dns.zone
import pytest
from dns.rdtypes.ANY.MX import MX
from dns.rdtypes.ANY.NS import NS
from dns.rdtypes.IN.SRV import SRV

from peers.nsd import RunningPeer, nsd_server
from support import ZONES, RunningServer, webtrip_dns_server

pytestmark = pytest.mark.peer("nsd")

ZONE_FILES = (ZONES / "example.test.zone", ZONES / "other.test.zone")

# NSD runs with its defaults (``minimal-responses: no``): positive answers carry
# the apex NS RRset in the authority section, and the additional section has the
# in-zone addresses of every NS, MX and SRV target in the answer and authority
# sections. _check_sections relies on that full additional processing.

TIMEOUT = 1.0  # seconds; loopback answers take milliseconds, drops cost this much
XFR_TIMEOUT = 3.0

Z_FLAG = 0x0040  # the reserved header bit (RFC 1035 §4.1.1)
HEADER = struct.Struct("!HHHHHH")


# --------------------------------------------------------------------------- queries


class Policy(enum.Enum):
    """How two responses to a case are compared (see the module docstring)."""

    STRICT = "strict"
    ANY = "any"  # RFC 8482 §4.1: any non-empty subset of the RRsets at the name
    TRANSFER = "transfer"  # RFC 5936 §5 / RFC 1995: refuse, or transfer correctly
    SHORT_TCP = "short-tcp"  # RFC 7766: NSD closes; closing or a FORMERR both do


@dataclass(frozen=True)
class Case:
    id: str
    wire: bytes
    policy: Policy = Policy.STRICT
    transports: tuple[str, ...] = ("udp", "tcp")
    # For ANY: the zone node holding the data (a wildcard), if not the query name.
    any_source: str | None = None


def _query(
    name: str,
    rdtype: str | int,
    *,
    rdclass: str | int = "IN",
    flags: int | None = None,
    id_: int = 0x5EB1,
    rcode: dns.rcode.Rcode | None = None,
    **edns: object,
) -> bytes:
    query = dns.message.make_query(name, rdtype, rdclass=rdclass, **edns)  # type: ignore[arg-type]
    query.id = id_
    if flags is not None:
        query.flags = dns.flags.Flag(flags)
    if rcode is not None:
        query.set_rcode(rcode)
    return query.to_wire()


def _header(id_: int, flags: int, qd: int = 1, an: int = 0, ns: int = 0, ar: int = 0) -> bytes:
    return HEADER.pack(id_, flags, qd, an, ns, ar)


def _question(name: str, rdtype: int = dns.rdatatype.A, rdclass: int = dns.rdataclass.IN) -> bytes:
    return dns.name.from_text(name).to_wire() + struct.pack("!HH", rdtype, rdclass)


RD = int(dns.flags.RD)
OPT_RR = b"\x00" + struct.pack("!HHIH", dns.rdatatype.OPT, 1232, 0, 0)  # root, EDNS0, no options
WWW = "www.example.test"
BIG = "big.example.test"


def _ixfr(serial: int) -> bytes:
    query = dns.message.make_query("example.test", "IXFR")
    query.id = 0x5EB1
    query.authority.append(
        dns.rrset.from_text(
            "example.test.",
            0,
            "IN",
            "SOA",
            f"ns1.example.test. hostmaster.example.test. {serial} 1 1 1 1",
        )
    )
    return query.to_wire()


def _positive() -> Iterator[Case]:
    for qname, rdtype, label in [
        (WWW, "A", "www-A"),
        (WWW, "AAAA", "www-AAAA"),
        ("example.test", "A", "apex-A"),
        ("example.test", "MX", "apex-MX-glue"),
        ("_http._tcp.example.test", "SRV", "SRV-glue"),
        ("example.test", "NS", "apex-NS"),
        ("example.test", "TXT", "apex-TXT"),
        ("example.test", "CAA", "apex-CAA"),
        ("10.example.test", "PTR", "PTR"),
        ("example.test", "SOA", "apex-SOA"),
        ("ns1.example.test", "A", "ns1-A-no-duplicate-additional"),
        ("mail.example.test", "A", "mail-A"),
        ("www.other.test", "A", "other-zone-A"),
        ("other.test", "SOA", "other-zone-SOA"),
    ]:
        yield Case(f"positive-{label}", _query(qname, rdtype))


def _cnames() -> Iterator[Case]:
    for qname, rdtype, label in [
        ("alias.example.test", "A", "single-A"),
        ("alias.example.test", "AAAA", "single-AAAA"),
        ("alias.example.test", "CNAME", "qtype-CNAME"),
        ("alias.example.test", "MX", "target-nodata"),
        ("chain1.example.test", "A", "chain"),
        ("loop1.example.test", "A", "loop"),
        ("outside.example.test", "A", "to-outside-name"),
        ("dangling.example.test", "A", "dangling"),
        ("to-example.other.test", "A", "across-zones"),
    ]:
        yield Case(f"cname-{label}", _query(qname, rdtype))


def _wildcards() -> Iterator[Case]:
    for qname, rdtype, label in [
        ("a.wild.example.test", "A", "a.wild-A"),
        ("a.b.wild.example.test", "A", "a.b.wild-A"),
        ("a.wild.example.test", "TXT", "a.wild-TXT"),
        ("a.wild.example.test", "MX", "a.wild-MX-nodata"),
        ("sub.wild.example.test", "TXT", "sub.wild-TXT-existing-name-nodata"),
        ("sub.wild.example.test", "A", "sub.wild-A"),
        ("x.sub.wild.example.test", "A", "x.sub.wild-nxdomain"),
        ("wild.example.test", "A", "parent-ent-nodata"),
        ("*.wild.example.test", "A", "literal-star"),
        ("x.ent.empty.example.test", "A", "blocked-by-ent"),
        ("ent.empty.example.test", "A", "ent-nodata"),
        ("empty.example.test", "A", "ent-with-wildcard-child-nodata"),
        ("foo.empty.example.test", "A", "foo.empty-A"),
        ("deep.ent.empty.example.test", "A", "deep-A"),
    ]:
        yield Case(f"wildcard-{label}", _query(qname, rdtype))


def _delegations() -> Iterator[Case]:
    for qname, rdtype, label in [
        ("child.example.test", "A", "child-A"),
        ("x.child.example.test", "A", "below-child"),
        ("ns1.child.example.test", "A", "glue-name"),
        ("child.example.test", "NS", "child-NS"),
        ("child.example.test", "DS", "child-DS-parent-side"),
        ("x.child.example.test", "DS", "below-child-DS"),
        ("sibling.example.test", "A", "sibling-glue"),
        ("sibling.example.test", "NS", "sibling-NS"),
        ("x.sibling.example.test", "A", "below-sibling"),
    ]:
        yield Case(f"referral-{label}", _query(qname, rdtype))


def _negatives() -> Iterator[Case]:
    for qname, rdtype, label in [
        ("nonexistent.example.test", "A", "nxdomain"),
        ("deep.nonexistent.example.test", "A", "nxdomain-deep"),
        (WWW, "MX", "nodata"),
        (WWW, "TXT", "nodata-TXT"),
        ("example.test", "DS", "apex-DS-nodata"),
        ("nothere.other.test", "A", "nxdomain-other-zone-soa-ttl"),
        ("www.elsewhere.invalid", "A", "refused-out-of-zone"),
        ("test", "SOA", "refused-parent-of-zone"),
        (".", "NS", "refused-root"),
        ("example.com", "A", "refused-unrelated"),
    ]:
        yield Case(f"negative-{label}", _query(qname, rdtype))


def _any() -> Iterator[Case]:
    for qname, label, source in [
        ("example.test", "apex", None),
        (WWW, "www", None),
        ("alias.example.test", "cname", None),
        ("a.wild.example.test", "wildcard", "*.wild.example.test"),
        ("child.example.test", "referral", None),
        ("nx.example.test", "nxdomain", None),
        ("ent.empty.example.test", "ent-nodata", None),
    ]:
        yield Case(f"qtype-ANY-{label}", _query(qname, "ANY"), Policy.ANY, any_source=source)


def _classes() -> Iterator[Case]:
    yield Case("qclass-CH", _query(WWW, "A", rdclass="CH"))
    yield Case("qclass-CH-SOA", _query("example.test", "SOA", rdclass="CH"))
    yield Case("qclass-ANY", _query(WWW, "A", rdclass="ANY"))
    yield Case("qclass-ANY-nxdomain", _query("nx.example.test", "A", rdclass="ANY"))
    yield Case("qclass-ANY-cname", _query("alias.example.test", "A", rdclass="ANY"))
    yield Case("qclass-ANY-referral", _query("child.example.test", "A", rdclass="ANY"))
    yield Case("qclass-NONE", _query(WWW, "A", rdclass="NONE"))
    yield Case("qclass-HS", _query(WWW, "A", rdclass="HS"))


def _qtypes() -> Iterator[Case]:
    # RFC 5936 §4.2 leaves AXFR over UDP undefined; NSD answers NOTIMP. Compared strictly.
    yield Case("qtype-AXFR", _query("example.test", "AXFR"), transports=("udp",))
    yield Case("qtype-AXFR", _query("example.test", "AXFR"), Policy.TRANSFER, ("tcp",))
    yield Case("qtype-IXFR", _ixfr(1), Policy.TRANSFER)
    yield Case("qtype-0", _query(WWW, 0))
    yield Case("qtype-0-nxdomain", _query("nx.example.test", 0))
    yield Case("qtype-OPT", _query(WWW, dns.rdatatype.OPT))
    yield Case("qtype-RRSIG-unsigned-zone", _query(WWW, "RRSIG"))


def _edns() -> Iterator[Case]:
    yield Case("edns-1232", _query(WWW, "A", use_edns=0, payload=1232))
    yield Case("edns-4096", _query(WWW, "A", use_edns=0, payload=4096))
    yield Case("edns-payload-100", _query(WWW, "A", use_edns=0, payload=100))
    yield Case("edns-DO-echo", _query(WWW, "A", use_edns=0, want_dnssec=True))
    yield Case("edns-DO-nxdomain", _query("nx.example.test", "A", use_edns=0, want_dnssec=True))
    yield Case("edns-refused", _query("example.com", "A", use_edns=0))
    yield Case("edns-version-1-BADVERS", _query(WWW, "A", use_edns=1))
    yield Case("edns-version-1-BADVERS-out-of-zone", _query("example.com", "A", use_edns=1))
    unknown = dns.edns.GenericOption(65001, b"xyz")
    yield Case("edns-unknown-option", _query(WWW, "A", use_edns=0, options=[unknown]))
    zbits = dns.message.make_query(WWW, "A", use_edns=0)
    zbits.id = 0x5EB1
    zbits.ednsflags |= 0x0001
    yield Case("edns-Z-bit-in-query", zbits.to_wire())


def _truncation() -> Iterator[Case]:
    yield Case("big-TXT-no-edns", _query(BIG, "TXT"))
    for size in (512, 1232, 4096):
        yield Case(f"big-TXT-edns-{size}", _query(BIG, "TXT", use_edns=0, payload=size))
    yield Case("big-ANY-no-edns", _query(BIG, "ANY"), Policy.ANY)


def _letter_case() -> Iterator[Case]:
    for qname, rdtype, label in [
        ("WwW.ExAmPlE.TeSt", "A", "www"),
        ("ALIAS.example.TEST", "A", "cname"),
        ("A.WILD.Example.Test", "A", "wildcard"),
        ("X.Child.Example.Test", "A", "referral"),
        ("NX.EXAMPLE.TEST", "A", "nxdomain"),
        ("Example.Com", "A", "refused"),
    ]:
        yield Case(f"qname-case-{label}", _query(qname, rdtype))


def _header_cases() -> Iterator[Case]:
    www = _question(WWW)
    yield Case("header-id-0xBEEF-echo", _header(0xBEEF, RD) + www)
    yield Case("header-id-0-no-flags", _header(0, 0) + www)
    yield Case("header-RD-0", _query(WWW, "A", flags=0))
    yield Case("header-CD", _header(0x5EB1, RD | int(dns.flags.CD)) + www)
    yield Case("header-AD", _header(0x5EB1, RD | int(dns.flags.AD)) + www)
    yield Case("header-Z", _header(0x5EB1, RD | Z_FLAG) + www)
    aa_ra_tc = RD | int(dns.flags.AA | dns.flags.RA | dns.flags.TC)
    yield Case("header-AA-RA-TC-in-query", _header(0x5EB1, aa_ra_tc) + www)
    yield Case("header-rcode-in-query", _query(WWW, "A", rcode=dns.rcode.NXDOMAIN))
    for opcode, label in [
        (1, "IQUERY"),
        (2, "STATUS"),
        (3, "unassigned-3"),
        (5, "UPDATE"),
        (15, "15"),
    ]:
        yield Case(f"opcode-{label}", _header(0x5EB1, (opcode << 11) | RD) + www)


def _malformed() -> Iterator[Case]:
    www = _question(WWW)
    yield Case("qdcount-0", _header(0x5EB1, RD, qd=0), transports=("udp",))
    # RFC 7766 lets a server close a TCP connection on a message it cannot use;
    # NSD closes on one shorter than a header plus a question.
    yield Case("qdcount-0", _header(0x5EB1, RD, qd=0), Policy.SHORT_TCP, ("tcp",))
    yield Case("qdcount-2", _header(0x5EB1, RD, qd=2) + www + _question("mail.example.test"))
    yield Case("qdcount-2-one-present", _header(0x5EB1, RD, qd=2) + www)
    yield Case("QR-set-dropped", _header(0x5EB1, 0x8000 | RD) + www)
    yield Case("trailing-junk", _header(0x5EB1, RD) + www + b"JUNKJUNK")
    yield Case("header-only-5-bytes", _header(0x5EB1, RD)[:5])
    yield Case("truncated-question", _header(0x5EB1, RD) + www[:-3])
    yield Case("ancount-1-missing", _header(0x5EB1, RD, an=1) + www)
    yield Case("two-OPT", _header(0x5EB1, RD, ar=2) + www + OPT_RR + OPT_RR)


CASES: tuple[Case, ...] = (
    *_positive(),
    *_cnames(),
    *_wildcards(),
    *_delegations(),
    *_negatives(),
    *_any(),
    *_classes(),
    *_qtypes(),
    *_edns(),
    *_truncation(),
    *_letter_case(),
    *_header_cases(),
    *_malformed(),
)

PARAMS = [
    pytest.param(case, transport, id=f"{case.id}-{transport}")
    for case in CASES
    for transport in case.transports
]


# ------------------------------------------------------------------------- transport


def _exchange(host: str, port: int, wire: bytes, transport: str) -> bytes | None:
    """Send one message; its response, or None if the server sent none."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if transport == "udp":
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.settimeout(TIMEOUT)
            sock.connect((host, port))
            sock.send(wire)
            try:
                return sock.recv(65535)
            except TimeoutError:
                return None
    with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
        try:
            sock.sendall(struct.pack("!H", len(wire)) + wire)
            return _read_tcp(sock)
        except (TimeoutError, ConnectionResetError, BrokenPipeError):
            return None


def _read_exactly(sock: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _read_tcp(sock: socket.socket) -> bytes | None:
    prefix = _read_exactly(sock, 2)
    if prefix is None:
        return None
    return _read_exactly(sock, struct.unpack("!H", prefix)[0])


def _exchange_transfer(host: str, port: int, wire: bytes) -> list[bytes]:
    """The messages of a TCP zone transfer: until an error, a closing SOA or silence."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    messages: list[bytes] = []
    soas = 0
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(XFR_TIMEOUT)
        sock.connect((host, port))
        sock.sendall(struct.pack("!H", len(wire)) + wire)
        while True:
            try:
                raw = _read_tcp(sock)
            except (TimeoutError, ConnectionResetError):
                raw = None
            if raw is None:
                return messages
            messages.append(raw)
            message = _parse(raw, xfr=True)
            if message.rcode() != dns.rcode.NOERROR:
                return messages
            soas += sum(1 for rrset in message.answer if rrset.rdtype == dns.rdatatype.SOA)
            if soas >= 2:
                return messages


@dataclass
class Servers:
    nsd: RunningPeer
    webtrip: RunningServer

    def ask_nsd(self, wire: bytes, transport: str) -> bytes | None:
        return _exchange(self.nsd.host, self.nsd.port, wire, transport)

    def ask_webtrip(self, wire: bytes, transport: str) -> bytes | None:
        return _exchange(self.webtrip.host, self.webtrip.port, wire, transport)

    def transfer_from_webtrip(self, wire: bytes) -> list[bytes]:
        return _exchange_transfer(self.webtrip.host, self.webtrip.port, wire)


@pytest.fixture(scope="module")
def nsd() -> Iterator[RunningPeer]:
    with nsd_server(ZONE_FILES) as peer:
        yield peer


@pytest.fixture(scope="module")
def webtrip() -> Iterator[RunningServer]:
    with webtrip_dns_server(ZONE_FILES) as server:
        yield server


@pytest.fixture(scope="module")
def servers(nsd: RunningPeer, webtrip: RunningServer) -> Servers:
    return Servers(nsd, webtrip)


@pytest.fixture(scope="module")
def zones() -> dict[dns.name.Name, dns.zone.Zone]:
    loaded = (dns.zone.from_file(str(path), relativize=False) for path in ZONE_FILES)
    return {zone.origin: zone for zone in loaded if zone.origin is not None}


# ------------------------------------------------------------------------ comparison


OPCODE_BITS = 0x7800


def _parse(raw: bytes, *, xfr: bool = False) -> dns.message.Message:
    """Parse a response whatever its opcode: dnspython reads an UPDATE-opcode
    message by RFC 2136 rules, which an echoed query question breaks, so parse
    it as a QUERY and put the real flags back. In a transfer the SOA may appear
    twice in one message: then keep each RR on its own."""
    flags = struct.unpack("!H", raw[2:4])[0] if len(raw) >= 4 else 0
    generic = raw[:2] + struct.pack("!H", flags & ~OPCODE_BITS) + raw[4:]
    message = dns.message.from_wire(generic, one_rr_per_rrset=xfr)
    message.flags = dns.flags.Flag(flags)
    return message


def _query_id(wire: bytes) -> int | None:
    return struct.unpack("!H", wire[:2])[0] if len(wire) >= 2 else None


def _query_flags(wire: bytes) -> int:
    return struct.unpack("!H", wire[2:4])[0] if len(wire) >= 4 else 0


def _query_questions(wire: bytes) -> list[str] | None:
    """The question section of a possibly malformed query, or None if unreadable."""
    try:
        qdcount = HEADER.unpack(wire[:12])[2]
        parser = dns.wire.Parser(wire, 12)
        questions = []
        for _ in range(qdcount):
            name = parser.get_name()
            rdtype, rdclass = parser.get_struct("!HH")
            questions.append(_question_text(name, rdtype, rdclass))
        return questions
    except (struct.error, dns.exception.DNSException):
        return None


def _question_text(name: dns.name.Name, rdtype: int, rdclass: int) -> str:
    # Letter case is kept: a server echoes the question exactly (resolvers that
    # randomise the case of names, draft-vixie-dnsext-dns0x20, rely on it).
    return f"{name.to_text()} {dns.rdataclass.to_text(rdclass)} {dns.rdatatype.to_text(rdtype)}"


def _questions(message: dns.message.Message) -> list[str]:
    return [_question_text(rrset.name, rrset.rdtype, rrset.rdclass) for rrset in message.question]


def _canonical_rdata(rdata: dns.rdata.Rdata) -> str:
    # The DNSSEC canonical form lowercases names inside rdata (RFC 4034 §6.2),
    # so a target name compressed against a mixed-case question still compares equal.
    wire = rdata.to_digestable()
    return dns.rdata.from_wire(rdata.rdclass, rdata.rdtype, wire, 0, len(wire)).to_text()


def _rrset_head(rrset: dns.rrset.RRset) -> str:
    name = rrset.name.to_text().lower()
    rdclass = dns.rdataclass.to_text(rrset.rdclass)
    return f"{name} {rrset.ttl} {rdclass} {dns.rdatatype.to_text(rrset.rdtype)}"


def _rrset_key(rrset: dns.rrset.RRset) -> str:
    rdatas = sorted(_canonical_rdata(rdata) for rdata in rrset)
    return _rrset_head(rrset) + " " + " | ".join(rdatas)


def _rrsets(section: Sequence[dns.rrset.RRset]) -> list[str]:
    return sorted(_rrset_key(rrset) for rrset in section)


def _records(section: Sequence[dns.rrset.RRset]) -> list[str]:
    return sorted(
        f"{_rrset_head(rrset)} {_canonical_rdata(rdata)}" for rrset in section for rdata in rrset
    )


SECTIONS = ("answer", "authority", "additional")


def _sections(message: dns.message.Message) -> dict[str, list[str]]:
    return {name: _rrsets(getattr(message, name)) for name in SECTIONS}


def _udp_limit(query: dns.message.Message | None, response: dns.message.Message) -> int:
    """The largest UDP response allowed: RFC 1035 §4.2.1 and RFC 6891 §6.2.3-6.2.5."""
    if query is None or query.edns < 0 or response.edns < 0:
        return 512
    return max(512, min(query.payload, response.payload))


@dataclass(frozen=True)
class Exchange:
    case: Case
    transport: str
    nsd_raw: bytes | None
    web_raw: bytes | None

    @property
    def query(self) -> dns.message.Message | None:
        try:
            return dns.message.from_wire(self.case.wire)
        except dns.exception.DNSException:
            return None

    def describe(self) -> str:
        def text(raw: bytes | None) -> str:
            if raw is None:
                return "(no response)"
            try:
                return _parse(raw).to_text()
            except dns.exception.DNSException as error:
                return f"(unparsable: {error}) {raw.hex()}"

        return (
            f"\n--- query {self.case.id} over {self.transport}: {self.case.wire.hex()}"
            f"\n--- NSD:\n{text(self.nsd_raw)}\n--- webtrip:\n{text(self.web_raw)}"
        )


def _check_header(
    ex: Exchange,
    nsd: dns.message.Message,
    web: dns.message.Message,
    *,
    compare_tc: bool = True,
) -> None:
    query_id = _query_id(ex.case.wire)
    assert nsd.id == query_id, "NSD did not echo the ID" + ex.describe()
    assert web.id == query_id, "the ID is not echoed (RFC 1035 §4.1.1)" + ex.describe()
    assert web.opcode() == nsd.opcode(), "opcode" + ex.describe()
    assert web.rcode() == nsd.rcode(), "RCODE" + ex.describe()
    compared = dns.flags.QR | dns.flags.AA | dns.flags.RA | dns.flags.AD | Z_FLAG
    if compare_tc:
        compared |= dns.flags.TC
    assert web.flags & compared == nsd.flags & compared, "header flags" + ex.describe()

    query_rd = _query_flags(ex.case.wire) & RD
    if nsd.rcode() == dns.rcode.FORMERR:
        # RFC 1035 §4.1.1 says RD is copied; NSD clears it when QDCOUNT > 1.
        assert web.flags & RD in {nsd.flags & RD, query_rd}, "RD bit" + ex.describe()
    else:
        assert web.flags & RD == nsd.flags & RD, "RD bit" + ex.describe()
    # RFC 4035 §3.1.6 has a DNSSEC-aware server copy CD; NSD clears it, as a
    # server without DNSSEC does for a bit that is reserved to it (RFC 1035 §4.1.1).
    query_cd = _query_flags(ex.case.wire) & dns.flags.CD
    assert web.flags & dns.flags.CD in {0, query_cd}, "CD bit" + ex.describe()


def _check_question(ex: Exchange, nsd: dns.message.Message, web: dns.message.Message) -> None:
    expected = _questions(nsd)
    got = _questions(web)
    if not expected and got:
        # NSD leaves the question out of FORMERR, NOTIMP and some REFUSED answers;
        # echoing the query's question there is just as correct.
        assert got == _query_questions(ex.case.wire), "question section" + ex.describe()
    else:
        assert got == expected, "question section" + ex.describe()


def _check_edns(ex: Exchange, nsd: dns.message.Message, web: dns.message.Message) -> None:
    # No OPT in the query means none in the response (RFC 6891 §7); the version
    # is the server's own (§6.1.3); DO is copied (RFC 3225 §3); other flags are 0.
    assert web.edns == nsd.edns, "EDNS presence/version" + ex.describe()
    assert web.ednsflags & 0xFFFF == nsd.ednsflags & 0xFFFF, "EDNS flags (DO)" + ex.describe()
    if web.edns >= 0:
        # The advertised payload is the server's own choice (RFC 6891 §6.2.5: NSD
        # says 1232) but never below 512. EDNS options are not compared: NSD adds
        # Extended DNS Errors (RFC 8914, optional) to REFUSED, NSID (RFC 5001) only
        # when configured, cookies (RFC 7873) only when enabled.
        assert web.payload >= 512, "EDNS payload below 512" + ex.describe()


def _targets(sections: Sequence[Sequence[dns.rrset.RRset]]) -> set[str]:
    """Names whose addresses additional processing adds (RFC 1035 §3.3.9, §3.3.11,
    RFC 2782): the targets of NS, MX and SRV records."""
    names = set()
    for section in sections:
        for rrset in section:
            for rdata in rrset:
                if isinstance(rdata, NS | SRV):
                    names.add(rdata.target.to_text().lower())
                elif isinstance(rdata, MX):
                    names.add(rdata.exchange.to_text().lower())
    return names


def _check_sections(ex: Exchange, nsd: dns.message.Message, web: dns.message.Message) -> None:
    """Strict, except for the apex NS RRset NSD puts in the authority section of
    every positive authoritative answer. That is NSD's ``minimal-responses: no``
    policy (BIND's ``minimal-responses no-auth`` leaves it out): RFC 1034 §4.3.2
    adds no authority data to an authoritative answer and §6.2.1 shows one with
    an empty authority section. So it may be omitted; the additional section must
    then hold exactly NSD's addresses for the targets the response does carry."""
    positive = (
        nsd.rcode() == dns.rcode.NOERROR
        and nsd.flags & dns.flags.AA
        and nsd.answer
        and all(rrset.rdtype == dns.rdatatype.NS for rrset in nsd.authority)
    )
    if not positive or _sections(web) == _sections(nsd) or web.authority:
        assert _sections(web) == _sections(nsd), "sections" + ex.describe()
        return
    targets = _targets([web.answer, web.authority])
    additional = [rrset for rrset in nsd.additional if rrset.name.to_text().lower() in targets]
    expected = {"answer": _rrsets(nsd.answer), "authority": [], "additional": _rrsets(additional)}
    assert _sections(web) == expected, "sections (no authority NS)" + ex.describe()


def _check_truncated_subset(
    ex: Exchange, web: dns.message.Message, full: dns.message.Message
) -> None:
    """RFC 2181 §9: what a TC=1 response carries is the server's choice (NSD sends
    empty sections); anything it does carry must come from the complete answer."""
    for name in SECTIONS:
        got = _records(getattr(web, name))
        allowed = _records(getattr(full, name))
        extra = [record for record in got if record not in allowed]
        assert not extra, f"TC=1 {name} has records not in the full answer: {extra}" + ex.describe()


def _compare_strict(servers: Servers, ex: Exchange) -> None:
    if ex.nsd_raw is None:
        assert ex.web_raw is None, "NSD sends no response to this message" + ex.describe()
        return
    assert ex.web_raw is not None, "no response" + ex.describe()
    nsd, web = _parse(ex.nsd_raw), _parse(ex.web_raw)
    tc_differs = bool(nsd.flags & dns.flags.TC) != bool(web.flags & dns.flags.TC)
    tc_differs = tc_differs and ex.transport == "udp"
    _check_header(ex, nsd, web, compare_tc=not tc_differs)
    _check_question(ex, nsd, web)
    _check_edns(ex, nsd, web)
    if tc_differs:
        _compare_different_truncation(servers, ex, nsd, web)
    elif nsd.flags & dns.flags.TC:
        full = _parse_required(servers.ask_nsd(ex.case.wire, "tcp"), ex)
        _check_truncated_subset(ex, web, full)
    else:
        _check_sections(ex, nsd, web)


def _parse_required(raw: bytes | None, ex: Exchange) -> dns.message.Message:
    assert raw is not None, "no TCP response for the complete answer" + ex.describe()
    return _parse(raw)


def _compare_different_truncation(
    servers: Servers, ex: Exchange, nsd: dns.message.Message, web: dns.message.Message
) -> None:
    """One server truncated and the other did not. That is only legitimate when
    they advertise different EDNS payload sizes, each a valid choice (RFC 6891
    §6.2.5), and each kept within its own limit."""
    query = ex.query
    nsd_limit, web_limit = _udp_limit(query, nsd), _udp_limit(query, web)
    assert ex.web_raw is not None
    if nsd.flags & dns.flags.TC:
        assert web_limit > nsd_limit, "TC=0 where NSD needs TC=1" + ex.describe()
        assert len(ex.web_raw) <= web_limit, "response exceeds the UDP limit" + ex.describe()
        full = _parse_required(servers.ask_nsd(ex.case.wire, "tcp"), ex)
        _check_untruncated_large(ex, web, full)
    else:
        assert web_limit < nsd_limit, "TC=1 where NSD's answer fits" + ex.describe()
        web_full = servers.ask_webtrip(ex.case.wire, "tcp")
        assert web_full is not None and len(web_full) > web_limit, (
            "TC=1 although the complete answer fits" + ex.describe()
        )
        _check_truncated_subset(ex, web, _parse(web_full))


def _check_untruncated_large(
    ex: Exchange, web: dns.message.Message, full: dns.message.Message
) -> None:
    """A large UDP answer sent whole: the answer section must be NSD's complete
    one. Authority data that only accompanies a positive answer and additional
    data may be left out to save space (RFC 2181 §9, RFC 1034 §4.3.2 step 6; NSD
    allowed 4096 bytes drops both from this 1.5 KB UDP answer), never altered."""
    assert _rrsets(web.answer) == _rrsets(full.answer), "answer vs NSD's TCP one" + ex.describe()
    optional = ("authority", "additional") if full.answer else ("additional",)
    for name in SECTIONS[1:]:
        got, complete = _rrsets(getattr(web, name)), _rrsets(getattr(full, name))
        if name in optional:
            assert set(got) <= set(complete), f"{name} vs NSD's TCP one" + ex.describe()
        else:
            assert got == complete, f"{name} vs NSD's TCP one" + ex.describe()


def _compare_any(servers: Servers, ex: Exchange, zones: dict[dns.name.Name, dns.zone.Zone]) -> None:
    """RFC 8482 §4.1: a responder may answer QTYPE=ANY with one RRset (NSD does,
    over UDP and TCP alike, and adds nothing to authority or additional) or any
    larger subset of the RRsets at the name. Everything but the choice of RRsets
    in the answer is compared strictly."""
    assert ex.nsd_raw is not None and ex.web_raw is not None, "no response" + ex.describe()
    nsd, web = _parse(ex.nsd_raw), _parse(ex.web_raw)
    positive = nsd.rcode() == dns.rcode.NOERROR and nsd.flags & dns.flags.AA and nsd.answer
    if not positive or nsd.flags & dns.flags.TC:
        _compare_strict(servers, ex)
        return
    _check_header(ex, nsd, web)
    _check_question(ex, nsd, web)
    _check_edns(ex, nsd, web)
    for name in ("authority", "additional"):
        assert _rrsets(getattr(web, name)) == _rrsets(getattr(nsd, name)), name + ex.describe()

    qname = nsd.question[0].name
    source = dns.name.from_text(ex.case.any_source) if ex.case.any_source else qname
    zone = next(zone for origin, zone in zones.items() if source.is_subdomain(origin))
    node = zone.get_node(source)
    assert node is not None, f"{source} is not in the zone"
    available = {
        _rrset_key(dns.rrset.from_rdata_list(qname, rdataset.ttl, list(rdataset)))
        for rdataset in node
    }
    got = _rrsets(web.answer)
    assert got, "ANY: empty answer" + ex.describe()
    assert set(got) <= available, f"ANY: not RRsets at the name {sorted(available)}" + ex.describe()
    assert len(set(got)) == len(got), "ANY: an RRset twice" + ex.describe()
    assert set(_rrsets(nsd.answer)) <= available, "NSD's ANY answer is not from the zone"


def _zone_records(zone: dns.zone.Zone) -> list[str]:
    records = []
    for name, ttl, rdata in zone.iterate_rdatas():
        rrset = dns.rrset.from_rdata(name, ttl, rdata)
        records.append(f"{_rrset_head(rrset)} {_canonical_rdata(rdata)}")
    return sorted(records)


def _compare_transfer(
    servers: Servers, ex: Exchange, zones: dict[dns.name.Name, dns.zone.Zone]
) -> None:
    """A server may refuse zone transfers (RFC 5936 §5); NSD does, as nobody is
    allowed by ``provide-xfr``. A server that transfers must send the whole zone
    between two copies of its SOA (RFC 5936 §2.2; RFC 1995 §4 lets IXFR fall back
    to that), or for IXFR over UDP possibly just the SOA (RFC 1995 §2)."""
    if ex.transport == "tcp":
        raws = servers.transfer_from_webtrip(ex.case.wire)
    else:
        raws = [ex.web_raw] if ex.web_raw is not None else []
    assert raws, "no response" + ex.describe()
    messages = [_parse(raw, xfr=True) for raw in raws]
    first = messages[0]
    if first.rcode() != dns.rcode.NOERROR:
        _compare_strict(servers, Exchange(ex.case, ex.transport, ex.nsd_raw, raws[0]))
        return

    query_id = _query_id(ex.case.wire)
    for message in messages:
        assert message.id == query_id, "transfer message ID" + ex.describe()
        assert message.rcode() == dns.rcode.NOERROR, "transfer RCODE" + ex.describe()
        assert message.flags & dns.flags.AA, "transfer without AA (RFC 5936 §2.2.1)" + ex.describe()
    assert _questions(first) == _query_questions(ex.case.wire), "question" + ex.describe()
    records = [
        f"{_rrset_head(rrset)} {_canonical_rdata(rdata)}"
        for message in messages
        for rrset in message.answer
        for rdata in rrset
    ]
    zone = zones[first.question[0].name]
    expected = _zone_records(zone)
    soa = next(record for record in expected if " SOA " in record)
    if ex.transport == "udp" and records == [soa]:
        return  # RFC 1995 §2: "use TCP"
    assert records[:1] == [soa] and records[-1:] == [soa], (
        "transfer not framed by SOA" + ex.describe()
    )
    assert sorted(records[:-1]) == expected, "transfer is not the zone" + ex.describe()


def _compare_short_tcp(servers: Servers, ex: Exchange) -> None:
    """RFC 7766 lets a server close a connection whose message it cannot use;
    NSD does for one shorter than a header and a question. Answering as NSD does
    over UDP (FORMERR) is just as correct; anything else is not."""
    assert ex.nsd_raw is None, "NSD answered; compare strictly instead" + ex.describe()
    if ex.web_raw is None:
        return
    udp = Exchange(ex.case, "udp", servers.ask_nsd(ex.case.wire, "udp"), ex.web_raw)
    _compare_strict(servers, udp)


# ----------------------------------------------------------------------------- test


@pytest.mark.parametrize(("case", "transport"), PARAMS)
def test_same_response_as_nsd(
    servers: Servers,
    zones: dict[dns.name.Name, dns.zone.Zone],
    case: Case,
    transport: str,
) -> None:
    nsd_raw = servers.ask_nsd(case.wire, transport)
    if case.policy is Policy.TRANSFER:
        # A transfer may span several TCP messages: _compare_transfer reads them.
        web_raw = None if transport == "tcp" else servers.ask_webtrip(case.wire, transport)
    else:
        web_raw = servers.ask_webtrip(case.wire, transport)
    ex = Exchange(case, transport, nsd_raw, web_raw)
    try:
        if case.policy is Policy.ANY:
            _compare_any(servers, ex, zones)
        elif case.policy is Policy.TRANSFER:
            _compare_transfer(servers, ex, zones)
        elif case.policy is Policy.SHORT_TCP:
            _compare_short_tcp(servers, ex)
        else:
            _compare_strict(servers, ex)
    except dns.exception.DNSException as error:
        pytest.fail(f"unparsable response ({type(error).__name__}: {error})" + ex.describe())


def test_cases_have_unique_ids() -> None:
    ids = [f"{case.id}-{transport}" for case in CASES for transport in case.transports]
    assert len(ids) == len(set(ids))
