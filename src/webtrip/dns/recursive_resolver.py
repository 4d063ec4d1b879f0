"""A recursive resolver: how a name is found, starting from nothing but the root.

A stub client (:mod:`webtrip.dns.client`) asks one server and trusts it. A
*recursive resolver* is that server: it knows no answers, only the addresses
of the root servers (the *root hints*), and finds every answer by itself:

1. **Ask the closest servers it knows** for the full name, with RD=0 ("do
   not recurse for me"). At first these are the root servers.
2. **A referral** comes back when the server does not hold the name but
   knows who does: NS records for a child zone in the authority section
   (``test. NS ns1.test.``), and perhaps their addresses (*glue*) in the
   additional section. The resolver moves one step down and asks again:
   root → ``test.`` → ``webtrip.test.``. Each referral must come closer to
   the name (an upward or sideways one is a misconfiguration, and would make
   the walk loop), and there are at most ``max_referrals`` of them.
3. **Glue is trusted only in bailiwick**: an address for ``ns1.webtrip.test``
   given with the delegation of ``webtrip.test.`` is the only way to reach
   that zone, so it is used; an address for any other name is the server
   speaking about what it does not own — the classic cache-poisoning trick
   (Kashpureff, 1997) — and is thrown away. A name server named outside the
   zone is resolved like any other name, as a small resolution of its own
   (bounded: at most ``max_fanout`` such names per referral, which stops the
   NXNSAttack amplification, and a name server cannot depend on itself).
4. **The answer** comes from a server authoritative for the zone (AA=1). A
   CNAME in it means "the name is really that one": the resolver restarts
   with the target (at most ``max_cname_depth`` times; a loop is an error).
   NXDOMAIN (no such name) and NODATA (no record of that type) are answers
   too; the SOA record that comes with them says how long they may be
   remembered (RFC 2308: the smaller of its TTL and its *minimum* field).
5. Whatever can go wrong — no server answers, every server is lame, a limit
   is reached — ends in **SERVFAIL**, with the reason.

**The cache** makes it fast: every record learnt (answers, delegations,
glue, negative answers) is kept, keyed by (name, type), until its TTL runs
out on the network's clock — virtual time in the simulated world. TTLs are
capped (a day; three hours for negative answers) and the cache holds at most
``cache_size`` entries, the oldest going first. A second question for the
same name is answered without a packet; a question for a sibling name
starts at the closest delegation already known instead of the root.

Every question asked, of which server, and what it said, is kept in the
resolution's *walk* (:class:`Step`), the material of a ``--trace`` view.

The security of the exchange itself is :func:`webtrip.dns.client.query`'s: a
random query ID from ``network.random``, a fresh random source port per
query, and a reply accepted only from the server's address and port, with
our ID and our question.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from webtrip.dns.client import DnsQueryError, QueryResult, make_query, query, randomize_case
from webtrip.dns.protocol import EDNS_PAYLOAD
from webtrip.files import InputFileError, read_input
from webtrip.net import Address, Network
from webtrip.trace import NULL_TRACE, ResolverStep, Trace

MAX_TTL = 86400  # a day: no record is remembered longer
MAX_NEGATIVE_TTL = 10800  # three hours for "does not exist" (RFC 2308 §5)
_CNAME = dns.rdatatype.CNAME
NXDOMAIN_KEY = -1  # where "this name does not exist at all" is cached: no type is -1
_IN = dns.rdataclass.IN

NameLike = str | dns.name.Name


def _name(value: NameLike) -> dns.name.Name:
    return dns.name.from_text(value) if isinstance(value, str) else value


def load_root_hints(path: str) -> list[tuple[dns.name.Name, str]]:
    """The root servers named in a root hints file (named.root's format): (name, address).

    Raises ValueError, one sentence, if the file cannot be read or names no
    root server with an address.
    """
    import dns.zone

    try:
        text = read_input(path).decode("utf-8")
        zone = dns.zone.from_text(text, origin=dns.name.root, relativize=False, check_origin=False)
    except InputFileError as exc:
        raise ValueError(f"{path}: the root hints file {exc}") from None
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the root hints ({exc.strerror or exc})") from None
    except (dns.exception.DNSException, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a root hints file ({exc})") from None
    ns = zone.get_rdataset(dns.name.root, dns.rdatatype.NS)
    hints: list[tuple[dns.name.Name, str]] = []
    for rdata in ns or ():
        for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            addresses = zone.get_rdataset(rdata.target, rdtype)
            hints.extend((rdata.target, a.address) for a in addresses or ())
    if not hints:
        raise ValueError(f'{path}: names no root server (". NS") with an address')
    return hints


# --- the walk -----------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One question of the walk: whom we asked (None: the cache), about what, what it said."""

    server: Address | None
    zone: dns.name.Name  # the zone we asked the server as an authority for
    qname: dns.name.Name
    qtype: dns.rdatatype.RdataType
    outcome: str  # referral, answer, cname, nxdomain, nodata, cache, lame, timeout...
    detail: str = ""
    depth: int = 0  # 0: the question itself; 1+: resolving a name server's address
    wire: bytes = b""  # the server's response, as received
    elapsed: float = 0.0  # seconds the server took to answer


@dataclass
class Resolution:
    """The result of one resolution, ready to become a response message."""

    qname: dns.name.Name
    qtype: dns.rdatatype.RdataType
    rcode: dns.rcode.Rcode
    answer: list[dns.rrset.RRset] = field(default_factory=list)
    authority: list[dns.rrset.RRset] = field(default_factory=list)
    walk: list[Step] = field(default_factory=list)
    reason: str = ""  # why SERVFAIL
    queries: int = 0  # questions sent to servers

    @property
    def from_cache(self) -> bool:
        return all(step.server is None for step in self.walk)

    def to_response(self, query_message: dns.message.Message) -> dns.message.Message:
        """The response a resolver sends its client (RA=1, AA=0)."""
        response = dns.message.make_response(query_message, our_payload=EDNS_PAYLOAD)
        if query_message.edns >= 0 and query_message.ednsflags & dns.flags.DO:
            response.ednsflags |= dns.flags.DO  # RFC 3225: the DO bit is copied
        response.flags |= dns.flags.RA
        response.flags &= ~dns.flags.AA
        response.set_rcode(self.rcode)
        response.answer = [_copy(rrset) for rrset in self.answer]
        response.authority = [_copy(rrset) for rrset in self.authority]
        return response


# --- the cache ----------------------------------------------------------------------


@dataclass
class _Entry:
    expires: float
    rrset: dns.rrset.RRset | None  # None: a negative entry
    rcode: int = dns.rcode.NOERROR
    soa: dns.rrset.RRset | None = None
    rank: int = 2  # ANSWER


# How much a record is trusted, by where it came from (RFC 2181 §5.4.1, simplified):
# data a live cache entry holds is replaced only by data trusted as much or more.
GLUE = 0  # an address in a referral's additional section
REFERRAL = 1  # a delegation's NS records, from the parent (not authoritative)
ANSWER = 2  # the zone's own authoritative answer (or a negative answer)


class Cache:
    """Records by (name, type) until their TTL runs out on ``clock``; at most ``size`` entries."""

    def __init__(self, clock: Callable[[], float], size: int = 10000) -> None:
        self.clock = clock
        self.size = size
        self._entries: OrderedDict[tuple[dns.name.Name, int], _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, rrset: dns.rrset.RRset, rank: int = ANSWER) -> None:
        if rrset.rdclass != _IN:
            return  # only the Internet class is resolved; anything else is not kept
        ttl = min(rrset.ttl, MAX_TTL)
        entry = _Entry(self.clock() + ttl, _with_ttl(rrset, ttl), rank=rank)
        self._store((rrset.name, rrset.rdtype), entry)

    def put_negative(
        self, name: dns.name.Name, rdtype: int, rcode: int, soa: dns.rrset.RRset
    ) -> None:
        """Remember NXDOMAIN (for every type of ``name``) or NODATA (for ``rdtype``)."""
        ttl = min(soa.ttl, soa[0].minimum, MAX_NEGATIVE_TTL)
        key = (name, NXDOMAIN_KEY if rcode == dns.rcode.NXDOMAIN else rdtype)
        self._store(key, _Entry(self.clock() + ttl, None, rcode, _with_ttl(soa, ttl)))

    def get(self, name: dns.name.Name, rdtype: int) -> _Entry | None:
        """The live entry for (name, type), TTLs counted down to what remains; else None."""
        key = (name, rdtype)
        entry = self._entries.get(key)
        if entry is None:
            return None
        remaining = int(entry.expires - self.clock())
        if remaining <= 0:
            del self._entries[key]
            return None
        return _Entry(
            entry.expires,
            None if entry.rrset is None else _with_ttl(entry.rrset, remaining),
            entry.rcode,
            None if entry.soa is None else _with_ttl(entry.soa, remaining),
            entry.rank,
        )

    def clear(self) -> int:
        """Forget every record (``rndc flush``, ``unbound-control flush_zone .``); how many
        entries there were."""
        count = len(self._entries)
        self._entries.clear()
        return count

    def _store(self, key: tuple[dns.name.Name, int], entry: _Entry) -> None:
        kept = self._entries.get(key)
        if kept is not None and kept.rank > entry.rank and kept.expires > self.clock():
            return  # glue does not replace the zone's own answer while it lives
        self._entries.pop(key, None)
        self._entries[key] = entry
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)  # the oldest goes first


def _copy(rrset: dns.rrset.RRset) -> dns.rrset.RRset:
    """A copy of ``rrset`` that can be changed without changing the cached one."""
    copy: dns.rrset.RRset = rrset.copy()  # type: ignore[no-untyped-call]
    return copy


def _with_ttl(rrset: dns.rrset.RRset, ttl: int) -> dns.rrset.RRset:
    copy = _copy(rrset)
    copy.ttl = ttl
    return copy


# --- the resolver -------------------------------------------------------------------


class ResolutionFailed(Exception):
    """SERVFAIL; the message is the reason, one sentence."""


@dataclass
class _Outcome:
    """What one name's walk found: records, a CNAME to follow, or a negative answer."""

    kind: str  # answer, cname, nxdomain, nodata
    rrsets: list[dns.rrset.RRset] = field(default_factory=list)  # CNAMEs first, then data
    target: dns.name.Name | None = None  # for cname: the name to go on with
    soa: dns.rrset.RRset | None = None


@dataclass
class _Context:
    question: str = ""  # the client's question, for the trace
    walk: list[Step] = field(default_factory=list)
    queries: int = 0
    resolving: set[dns.name.Name] = field(default_factory=set)  # name servers being resolved


class RecursiveResolver:
    """Resolves names iteratively from ``root_hints``, a list of (name server name, address)."""

    recursion_desired = False  # the RD bit of the questions it asks: servers, not resolvers

    def __init__(
        self,
        network: Network,
        root_hints: Sequence[tuple[NameLike, str]],
        *,
        trace: Trace = NULL_TRACE,
        cache_size: int = 10000,
        max_referrals: int = 10,
        max_cname_depth: int = 8,
        max_fanout: int = 3,
        max_ns_depth: int = 3,
        max_queries: int = 64,
        timeout: float = 2.0,
        port: int = 53,
        actor: str = "resolver",
        case_randomization: bool = False,
        attempts: int = 5,
        max_time: float = 10.0,
    ) -> None:
        self.network = network
        self.trace = trace
        self.cache = Cache(network.now, cache_size)
        self.max_referrals = max_referrals
        self.max_cname_depth = max_cname_depth
        self.max_fanout = max_fanout
        self.max_ns_depth = max_ns_depth
        self.max_queries = max_queries
        self.timeout = timeout
        self.port = port
        self.actor = actor
        self.case_randomization = case_randomization
        self.attempts = max(1, attempts)  # rounds over a zone's servers when some are silent
        self.max_time = max_time  # seconds one resolution may take, whatever it waits for
        self.root_servers: list[tuple[dns.name.Name, str]] = [
            (_name(name), address) for name, address in root_hints
        ]

    async def resolve(self, qname: NameLike, qtype: str | int = "A") -> Resolution:
        """Find the answer to (qname, qtype); never raises for DNS failures (SERVFAIL)."""
        name = _name(qname)
        rdtype = dns.rdatatype.RdataType.make(qtype)
        ctx = _Context(f"{name} {dns.rdatatype.to_text(rdtype)}")
        result = Resolution(name, rdtype, dns.rcode.NOERROR, walk=ctx.walk)
        try:
            async with asyncio.timeout(self.max_time):
                outcome = await self._chase(name, rdtype, ctx, result)
        except TimeoutError:
            exc = ResolutionFailed(f"no answer within {self.max_time:g} s")
            return self._failed(result, ctx, exc)
        except ResolutionFailed as exc:
            return self._failed(result, ctx, exc)
        result.queries = ctx.queries
        if outcome.kind == "nxdomain":
            result.rcode = dns.rcode.NXDOMAIN
        if outcome.soa is not None:
            result.authority.append(outcome.soa)
        return result

    @staticmethod
    def _failed(result: Resolution, ctx: _Context, exc: ResolutionFailed) -> Resolution:
        result.rcode, result.reason = dns.rcode.SERVFAIL, str(exc)
        result.answer.clear()
        result.queries = ctx.queries
        return result

    async def _chase(
        self,
        name: dns.name.Name,
        rdtype: dns.rdatatype.RdataType,
        ctx: _Context,
        result: Resolution,
    ) -> _Outcome:
        """The name's outcome, following CNAMEs (their records go into ``result.answer``)."""
        current, seen = name, {name}
        while True:
            outcome = await self._lookup(current, rdtype, ctx, 0)
            result.answer.extend(outcome.rrsets)
            cnames = sum(1 for r in result.answer if r.rdtype == dns.rdatatype.CNAME)
            if cnames > self.max_cname_depth:
                raise ResolutionFailed(
                    f"the CNAME chain is longer than {self.max_cname_depth} links"
                )
            if outcome.kind != "cname":
                return outcome
            assert outcome.target is not None
            if outcome.target in seen:
                raise ResolutionFailed(f"the CNAME chain loops back to {outcome.target}")
            seen.add(outcome.target)
            current = outcome.target

    def _step(self, ctx: _Context, step: Step) -> None:
        """Keep ``step`` in the walk, and show it in the trace as it happens."""
        ctx.walk.append(step)
        trace = self.trace
        if trace.enabled:
            trace.record(
                ResolverStep(
                    trace.now(),
                    self.actor,
                    ctx.question,
                    step.server,
                    step.zone.to_text(),
                    step.qname.to_text(),
                    dns.rdatatype.to_text(step.qtype),
                    step.outcome,
                    step.detail,
                    step.depth,
                )
            )

    # --- one name ---------------------------------------------------------------------

    async def _lookup(
        self, name: dns.name.Name, rdtype: dns.rdatatype.RdataType, ctx: _Context, depth: int
    ) -> _Outcome:
        cached = self._from_cache(name, rdtype)
        if cached is not None:
            self._step(ctx, Step(None, name, name, rdtype, "cache", cached.kind, depth))
            return cached
        return await self._iterate(name, rdtype, ctx, depth)

    def _from_cache(self, name: dns.name.Name, rdtype: dns.rdatatype.RdataType) -> _Outcome | None:
        nx = self.cache.get(name, NXDOMAIN_KEY)
        if nx is not None and nx.rcode == dns.rcode.NXDOMAIN:
            return _Outcome("nxdomain", soa=nx.soa)
        entry = self.cache.get(name, rdtype)
        if entry is not None:
            if entry.rrset is None:
                return _Outcome("nodata", soa=entry.soa)
            return _Outcome("answer", [entry.rrset])
        if rdtype != dns.rdatatype.CNAME:
            alias = self.cache.get(name, dns.rdatatype.CNAME)
            if alias is not None and alias.rrset is not None:
                return _Outcome("cname", [alias.rrset], target=alias.rrset[0].target)
        return None

    def _closest_delegation(self, name: dns.name.Name) -> tuple[dns.name.Name, list[dns.name.Name]]:
        """The deepest zone above ``name`` whose name servers we know, and their names."""
        zone = name
        while zone != dns.name.root:
            entry = self.cache.get(zone, dns.rdatatype.NS)
            if entry is not None and entry.rrset is not None:
                return zone, [rdata.target for rdata in entry.rrset]
            zone = zone.parent()
        return dns.name.root, [ns for ns, _ in self.root_servers]

    async def _iterate(
        self, name: dns.name.Name, rdtype: dns.rdatatype.RdataType, ctx: _Context, depth: int
    ) -> _Outcome:
        zone, nameservers = self._closest_delegation(name)
        referrals = 0
        while True:
            outcome: _Outcome | None = None
            referral: dns.message.Message | None = None
            # Each of the zone's servers in turn; if none answered usably and
            # some did not answer at all (a lost datagram), the round again.
            for _round in range(self.attempts):
                silent = False
                async with aclosing(self._servers(zone, nameservers, ctx, depth)) as servers:
                    async for server in servers:
                        result = await self._ask(server, zone, name, rdtype, ctx, depth)
                        if result is None:
                            silent = True
                            continue
                        response = result.response
                        kind, detail, outcome = self._classify(response, zone, name, rdtype)
                        step = Step(server, zone, name, rdtype, kind, detail, depth,
                                    result.response_wire, result.elapsed)  # fmt: skip
                        self._step(ctx, step)
                        if kind == "referral":
                            referral = response
                            break
                        if outcome is not None:
                            break
                if outcome is not None or referral is not None or not silent:
                    break
            if outcome is not None:
                return outcome
            if referral is None:
                raise ResolutionFailed(f"no server of the zone {zone} gave a usable answer")
            referrals += 1
            if referrals > self.max_referrals:
                raise ResolutionFailed(f"more than {self.max_referrals} referrals for {name}")
            zone, nameservers = self._follow(referral, name)

    async def _servers(
        self, zone: dns.name.Name, nameservers: list[dns.name.Name], ctx: _Context, depth: int
    ) -> AsyncGenerator[Address, None]:
        """The addresses to try for ``zone``: known ones first, then a few resolved ones."""
        hints = dict(self.root_servers) if zone == dns.name.root else {}
        unknown: list[dns.name.Name] = []
        for ns in nameservers:
            if ns in hints:
                yield (hints[ns], self.port)
                continue
            entry = self.cache.get(ns, dns.rdatatype.A)
            if entry is not None and entry.rrset is not None:
                for rdata in entry.rrset:
                    yield (rdata.address, self.port)
            else:
                unknown.append(ns)
        # Name servers without glue: each costs a resolution of its own, so
        # only a few are tried (NXNSAttack), never one we are already resolving
        # (A needs B's server, which needs A's...), and never too deep.
        for ns in unknown[: self.max_fanout]:
            if ns in ctx.resolving or depth >= self.max_ns_depth:
                detail = "already being resolved" if ns in ctx.resolving else "too deep"
                self._step(ctx, Step(None, zone, ns, dns.rdatatype.A, "skipped", detail, depth))
                continue
            ctx.resolving.add(ns)
            try:
                outcome = await self._lookup(ns, dns.rdatatype.A, ctx, depth + 1)
            except ResolutionFailed:
                continue
            finally:
                ctx.resolving.discard(ns)
            for rrset in outcome.rrsets:
                if outcome.kind == "answer" and rrset.rdtype == dns.rdatatype.A:
                    for rdata in rrset:
                        yield (rdata.address, self.port)

    async def _ask(
        self,
        server: Address,
        zone: dns.name.Name,
        name: dns.name.Name,
        rdtype: dns.rdatatype.RdataType,
        ctx: _Context,
        depth: int,
    ) -> QueryResult | None:
        ctx.queries += 1
        if ctx.queries > self.max_queries:
            raise ResolutionFailed(f"more than {self.max_queries} queries for one resolution")
        asked = randomize_case(name, self.network.random) if self.case_randomization else name
        message = make_query(
            asked, rdtype, recursion_desired=self.recursion_desired, rng=self.network.random
        )
        try:
            result = await query(
                self.network,
                server,
                message,
                timeout=self.timeout,
                trace=self.trace,
                actor=self.actor,
                exact_case=self.case_randomization,
            )
        except DnsQueryError as exc:
            self._step(ctx, Step(server, zone, name, rdtype, "no answer", str(exc), depth))
            return None
        if self.case_randomization:
            _restore_case(result, name)
        return result

    # --- reading a response -----------------------------------------------------------

    def _classify(
        self,
        response: dns.message.Message,
        zone: dns.name.Name,
        name: dns.name.Name,
        rdtype: dns.rdatatype.RdataType,
    ) -> tuple[str, str, _Outcome | None]:
        """What a response says, trusting only what ``zone``'s server may speak for.

        Returns (kind, detail, outcome): an outcome to return, or None for a
        referral (to follow) or a lame answer (try the next server).
        """
        rcode = response.rcode()
        if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            return "lame", dns.rcode.to_text(rcode), None
        authoritative = bool(response.flags & dns.flags.AA)
        # The answer section: a CNAME chain from the name, then the data, all in bailiwick.
        chain: list[dns.rrset.RRset] = []
        current, seen = name, {name}
        while current.is_subdomain(zone):
            data = _find(response.answer, current, rdtype)
            if data is not None:
                if not authoritative:
                    return "lame", "an answer without AA", None
                for rrset in chain:
                    self.cache.put(rrset)
                self.cache.put(data)
                return "answer", _rdata_text(data), _Outcome("answer", [*chain, data])
            alias = _find(response.answer, current, dns.rdatatype.CNAME)
            if alias is None:
                break
            chain.append(alias)
            current = alias[0].target
            if current in seen:
                break
            seen.add(current)
        if chain:
            if not authoritative:
                return "lame", "a CNAME without AA", None
            for rrset in chain:
                self.cache.put(rrset)
            text = " → ".join(f"{r.name}" for r in chain) + f" → {current}"
            negative = current.is_subdomain(zone) and current not in (r.name for r in chain)
            if negative and rcode == dns.rcode.NXDOMAIN:
                soa = self._negative(response, zone, current, rdtype, rcode)
                return "cname", text, _Outcome("nxdomain", chain, soa=soa)
            return "cname", text, _Outcome("cname", chain, target=current)
        # No data: a referral to a zone closer to the name, or a negative answer.
        ns = next(
            (r for r in response.authority if r.rdtype == dns.rdatatype.NS and r.rdclass == _IN),
            None,
        )
        if rcode == dns.rcode.NOERROR and ns is not None and not authoritative:
            child = ns.name
            if not (child.is_subdomain(zone) and child != zone and name.is_subdomain(child)):
                return "lame", f"a referral to {child}, which is not closer to {name}", None
            return "referral", f"{child} NS {', '.join(str(r.target) for r in ns)}", None
        if not authoritative:
            return "lame", "neither an answer nor a referral", None
        soa = self._negative(response, zone, name, rdtype, rcode)
        kind = "nxdomain" if rcode == dns.rcode.NXDOMAIN else "nodata"
        return kind, "" if soa is None else f"SOA {soa.name}", _Outcome(kind, soa=soa)

    def _negative(
        self,
        response: dns.message.Message,
        zone: dns.name.Name,
        name: dns.name.Name,
        rdtype: dns.rdatatype.RdataType,
        rcode: int,
    ) -> dns.rrset.RRset | None:
        """Cache a negative answer by its SOA (RFC 2308); without one it is not cached."""
        for rrset in response.authority:
            if (
                rrset.rdtype == dns.rdatatype.SOA
                and rrset.rdclass == _IN
                and rrset.name.is_subdomain(zone)
                and name.is_subdomain(rrset.name)
            ):
                self.cache.put_negative(name, rdtype, rcode, rrset)
                entry = self.cache.get(name, NXDOMAIN_KEY if rcode else rdtype)
                return entry.soa if entry is not None else None
        return None

    def _follow(
        self, response: dns.message.Message, name: dns.name.Name
    ) -> tuple[dns.name.Name, list[dns.name.Name]]:
        """Remember a referral's delegation and its in-bailiwick glue; return the new zone."""
        ns = next(
            r for r in response.authority if r.rdtype == dns.rdatatype.NS and r.rdclass == _IN
        )
        child = ns.name
        self.cache.put(ns, REFERRAL)
        targets = {rdata.target for rdata in ns}
        for rrset in response.additional:
            if rrset.rdtype != dns.rdatatype.A or rrset.rdclass != _IN or rrset.name not in targets:
                continue
            if rrset.name.is_subdomain(child):
                self.cache.put(rrset, GLUE)  # in bailiwick: the only way to reach the child
            # Out of bailiwick: the parent has no say over that name. Ignored.
        return child, [rdata.target for rdata in ns]


def _restore_case(result: QueryResult, name: dns.name.Name) -> None:
    """The response read again with the question in ``name``'s own case, after a 0x20 question.

    A server writes the names that end like the question as pointers into it
    (RFC 1035 §4.1.4: owner names, CNAME and NS targets...), so they would all
    keep the random case. The reply was accepted because it repeated that
    case exactly; putting the original bytes in its place and reading the
    message again gives every such name its own case back.
    """
    original = name.to_wire()
    assert original is not None  # without a file, the name's bytes are returned
    wire = result.response_wire
    restored = wire[:12] + original + wire[12 + len(original) :]
    result.response = dns.message.from_wire(restored, ignore_trailing=True)


def _find(
    section: list[dns.rrset.RRset], name: dns.name.Name, rdtype: dns.rdatatype.RdataType
) -> dns.rrset.RRset | None:
    for rrset in section:
        if rrset.name != name or rrset.rdclass != dns.rdataclass.IN:
            continue
        if rrset.rdtype == rdtype or (rdtype == dns.rdatatype.ANY and rrset.rdtype != _CNAME):
            return rrset  # for ANY, one RRset of the name will do (RFC 8482)
    return None


def _rdata_text(rrset: dns.rrset.RRset) -> str:
    return ", ".join(rdata.to_text() for rdata in rrset)


# --- forwarding ---------------------------------------------------------------------


class Forwarder(RecursiveResolver):
    """A resolver that does not walk the tree: it asks ``upstreams`` (other resolvers) to.

    Each question goes, with RD=1 ("recurse for me"), to the first upstream
    that gives a usable answer — NOERROR or NXDOMAIN; SERVFAIL, REFUSED and
    silence send it on to the next. What comes back is cached by the same
    rules as a walk's findings (TTLs capped, RFC 2308 negative caching), but
    only the records that answer the question are kept: a CNAME chain from
    the name, its data, and the SOA of a negative answer — never what an
    upstream adds about other names.
    """

    recursion_desired = True

    def __init__(
        self,
        network: Network,
        upstreams: list[Address],
        **options: Any,
    ) -> None:
        if not upstreams:
            raise ValueError("a forwarder needs at least one upstream resolver")
        super().__init__(network, [], **options)
        self.upstreams = list(upstreams)

    async def _iterate(
        self, name: dns.name.Name, rdtype: dns.rdatatype.RdataType, ctx: _Context, depth: int
    ) -> _Outcome:
        for upstream in self.upstreams * self.attempts:
            result = await self._ask(upstream, dns.name.root, name, rdtype, ctx, depth)
            if result is None:
                continue
            response, root = result.response, dns.name.root
            extra = (result.response_wire, result.elapsed)
            rcode = response.rcode()
            if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                detail = dns.rcode.to_text(rcode)
                self._step(ctx, Step(upstream, root, name, rdtype, "lame", detail, depth, *extra))
                continue
            kind, detail, outcome = self._read_forwarded(response, name, rdtype)
            self._step(ctx, Step(upstream, root, name, rdtype, kind, detail, depth, *extra))
            return outcome
        raise ResolutionFailed(f"no upstream resolver gave a usable answer for {name}")

    def _read_forwarded(
        self, response: dns.message.Message, name: dns.name.Name, rdtype: dns.rdatatype.RdataType
    ) -> tuple[str, str, _Outcome]:
        chain: list[dns.rrset.RRset] = []
        current, seen = name, {name}
        while True:
            data = _find(response.answer, current, rdtype)
            if data is not None:
                for rrset in (*chain, data):
                    self.cache.put(rrset)
                return "answer", _rdata_text(data), _Outcome("answer", [*chain, data])
            alias = _find(response.answer, current, dns.rdatatype.CNAME)
            if alias is None or alias[0].target in seen:
                break
            chain.append(alias)
            current = alias[0].target
            seen.add(current)
        for rrset in chain:
            self.cache.put(rrset)
        rcode = response.rcode()
        soa = next(
            (
                r
                for r in response.authority
                if r.rdtype == dns.rdatatype.SOA
                and r.rdclass == _IN
                and current.is_subdomain(r.name)
            ),
            None,
        )
        if soa is not None:
            self.cache.put_negative(current, rdtype, rcode, soa)
            entry = self.cache.get(current, NXDOMAIN_KEY if rcode else rdtype)
            soa = entry.soa if entry is not None else None
        kind = "nxdomain" if rcode == dns.rcode.NXDOMAIN else "nodata"
        if chain and rcode == dns.rcode.NOERROR and soa is None:
            # The upstream stopped at an alias: ask again for its target.
            return "cname", f"→ {current}", _Outcome("cname", chain, target=current)
        return kind, "" if soa is None else f"SOA {soa.name}", _Outcome(kind, chain, soa=soa)
