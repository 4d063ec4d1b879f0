"""The resolver actor: what ``webtrip dns resolver`` answers, in front of a resolver engine.

:class:`ResolverService` is the :class:`~webtrip.dns.server.Responder` of a
:class:`~webtrip.dns.server.DnsServer` that is a *recursive resolver*: the
server a browser's stub asks. The engine behind it finds answers —
:class:`~webtrip.dns.recursive_resolver.RecursiveResolver` by walking from the root,
or :class:`~webtrip.dns.recursive_resolver.Forwarder` by asking other resolvers. The
service adds what a resolver on a network needs:

* **Only its own clients.** A resolver open to the whole Internet is a
  weapon: anyone can make it send large answers to a forged source address
  (reflection), or fill its cache. It answers clients in ``allow`` (by
  default the loopback networks) and REFUSES everyone else (RFC 5358).
* **A message cache.** A repeated question is answered from the bytes of the
  previous answer: the client's ID and letter case copied in, each record's
  TTL counted down by the time it has been kept — microseconds, where
  building the answer again costs a hundred. It expires with the first of
  its records; a failure (SERVFAIL) is remembered for 5 s (RFC 9520), so a
  broken zone is not asked again for every retry.
* **One resolution per question at a time.** Clients asking the same
  question while it is being resolved wait for that resolution instead of
  starting their own (a resolver that sends many identical queries at once
  makes a spoofer's guessing easier: the "birthday attack"). At most
  ``max_pending`` questions are resolved at once and at most
  ``max_waiting`` clients wait for answers (each costs memory, repeats
  included); beyond that it answers SERVFAIL at once rather than queue
  without bound. Closing the server gives up the resolutions behind it.
* **Strict reading.** A message that is a response is dropped; other
  opcodes get NOTIMP, several questions or garbage FORMERR, EDNS versions
  above 0 BADVERS, zone transfers and classes other than IN REFUSED — and so
  does a question with RD=0 ("what do you have cached?"), which would let
  anyone see what the clients asked for (cache snooping; Unbound refuses it
  too). Every answer, errors included, has RA set.

Every answer is recorded as a :class:`~webtrip.trace.ResolverAnswered`
event, and the engine records each step of its walk as a
:class:`~webtrip.trace.ResolverStep`: the material of the narration.
"""

from __future__ import annotations

import asyncio
import ipaddress
import struct
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype

from webtrip.dns.protocol import EDNS_PAYLOAD, TCP, header_only, render
from webtrip.dns.recursive_resolver import RecursiveResolver, Resolution
from webtrip.net import Address
from webtrip.trace import NULL_TRACE, ResolverAnswered, Trace

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

LOOPBACK: tuple[IpNetwork, ...] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
)
"""Who a resolver answers unless told otherwise: this machine only."""

FAILURE_TTL = 5  # seconds a SERVFAIL is remembered (RFC 9520: at least 1, at most 300)

_HEADER = struct.Struct("!HHHHHH")
_RECORD = struct.Struct("!HHIH")  # type, class, TTL, RDLENGTH
_TTL = struct.Struct("!I")
_QR = 0x8000
_OPCODE_MASK = 0x7800
_TC = 0x0200
_RD = 0x0100
_RA = 0x0080
_CD = 0x0010
_RCODE_MASK = 0x000F
_DO = 0x8000  # in the OPT record's TTL field
_OPT = dns.rdatatype.OPT
_CLASSIC_UDP = 512
_REFUSED_TYPES = {dns.rdatatype.AXFR, dns.rdatatype.IXFR}


class Access:
    """Which client addresses may use the resolver."""

    def __init__(self, networks: Iterable[IpNetwork | str] = LOOPBACK) -> None:
        self.networks = tuple(ipaddress.ip_network(n) for n in networks)
        self._verdicts: dict[str, bool] = {}

    def allows(self, host: str) -> bool:
        verdict = self._verdicts.get(host)
        if verdict is None:
            try:
                address = ipaddress.ip_address(host.split("%")[0])
            except ValueError:
                return False
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
                address = address.ipv4_mapped
            verdict = any(address in network for network in self.networks)
            if len(self._verdicts) >= 4096:
                self._verdicts.clear()
            self._verdicts[host] = verdict
        return verdict


# --- reading a query without dnspython ------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Question:
    key: bytes  # lower-cased name, type, class and EDNS flags: the message cache's key
    end: int  # where the question section ends in the query
    limit: int  # the largest UDP response the client takes


def _question(wire: bytes) -> _Question | None:
    """The one question of a plain query, read strictly; None: let dnspython read it."""
    size = len(wire)
    if size < 17:
        return None
    _id, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(wire)
    if flags & (_QR | _OPCODE_MASK | _TC | _RCODE_MASK) or qdcount != 1 or ancount or nscount:
        return None
    if arcount > 1:
        return None
    pos = 12
    try:
        length = wire[pos]
        while length:
            if length > 63:
                return None
            pos += length + 1
            length = wire[pos]
    except IndexError:
        return None
    end = pos + 5
    if pos - 12 >= 255 or end > size:
        return None
    if arcount:
        if size < end + 11 or wire[end] != 0:
            return None
        rtype, payload, ttl, rdlength = _RECORD.unpack_from(wire, end + 1)
        # Options (a client's cookie, say) change nothing in the answer.
        if rtype != _OPT or size != end + 11 + rdlength or ttl & 0xFFFF7FFF:
            return None
        edns = b"\x01" if ttl & _DO else b"\x00"
        limit = max(_CLASSIC_UDP, min(payload, EDNS_PAYLOAD))
    elif size != end:
        return None
    else:
        edns, limit = b"", _CLASSIC_UDP
    # Letter case does not matter in the name, but it does in the type and class bytes
    # after it: 0x41 is HTTPS (65) and 0x61 is type 97.
    return _Question(wire[12 : pos + 1].lower() + wire[pos + 1 : end] + edns, end, limit)


def _ttl_fields(wire: bytes) -> list[tuple[int, int]] | None:
    """Each record's (offset of its TTL, TTL) in a response, OPT excepted; None if unreadable."""
    try:
        _id, _flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(wire)
        pos = 12
        for _ in range(qdcount):
            pos = _skip_name(wire, pos) + 4
        fields = []
        for _ in range(ancount + nscount + arcount):
            pos = _skip_name(wire, pos)
            rtype, _class, ttl, rdlength = _RECORD.unpack_from(wire, pos)
            if rtype != _OPT:
                fields.append((pos + 4, ttl))
            pos += 10 + rdlength
        return fields if pos <= len(wire) else None
    except (IndexError, struct.error):
        return None


def _skip_name(wire: bytes, pos: int) -> int:
    while True:
        length = wire[pos]
        if length == 0:
            return pos + 1
        if length >= 0xC0:
            return pos + 2
        pos += length + 1


# --- the message cache ----------------------------------------------------------------


@dataclass(slots=True)
class _Kept:
    wire: bytes
    stored: float
    expires: float
    ttls: list[tuple[int, int]]


class MessageCache:
    """Whole responses by question, their TTLs counted down when they are served again."""

    def __init__(self, clock: Callable[[], float], size: int = 10000) -> None:
        self.clock = clock
        self.size = size
        self._kept: OrderedDict[bytes, _Kept] = OrderedDict()
        self.hits = 0

    def __len__(self) -> int:
        return len(self._kept)

    def answer(self, wire: bytes, question: _Question, tcp: bool) -> bytes | None:
        """The kept response to ``wire``, made its own; None if none is kept (or too big)."""
        kept = self._kept.get(question.key)
        if kept is None:
            return None
        now = self.clock()
        if now >= kept.expires:
            del self._kept[question.key]
            return None
        if not tcp and len(kept.wire) > question.limit:
            return None  # the general path truncates
        out = bytearray(kept.wire)
        out[0:2] = wire[0:2]  # the client's ID
        out[2] = (out[2] & ~0x01) | (wire[2] & 0x01)  # its RD bit
        out[3] = (out[3] & ~0x10) | (wire[3] & 0x10)  # its CD bit
        out[12 : question.end] = wire[12 : question.end]  # its letter case
        elapsed = int(now - kept.stored)
        if elapsed:
            pack = _TTL.pack_into
            for offset, ttl in kept.ttls:
                pack(out, offset, ttl - elapsed)
        self.hits += 1
        return bytes(out)

    def clear(self) -> int:
        """Forget every kept response; how many there were."""
        count = len(self._kept)
        self._kept.clear()
        return count

    def keep(self, question: _Question, response: bytes, rcode: int) -> None:
        """Remember ``response`` until its first record expires (a failure for 5 s)."""
        ttls = _ttl_fields(response)
        if ttls is None or response[2] & 0x02:  # unreadable or truncated
            return
        if rcode == dns.rcode.SERVFAIL:
            lifetime = FAILURE_TTL
        elif rcode in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN) and ttls:
            lifetime = min(ttl for _, ttl in ttls)
        else:
            return
        if lifetime <= 0:
            return
        now = self.clock()
        self._kept.pop(question.key, None)
        self._kept[question.key] = _Kept(response, now, now + lifetime, ttls)
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)


# --- the service ----------------------------------------------------------------------


class ResolverService:
    """Answers allowed clients' questions through ``engine``; REFUSED for everyone else."""

    def __init__(
        self,
        engine: RecursiveResolver,
        trace: Trace = NULL_TRACE,
        *,
        allow: Iterable[IpNetwork | str] = LOOPBACK,
        cache_size: int = 10000,
        max_pending: int = 1000,
        max_waiting: int = 2000,
        actor: str = "resolver",
    ) -> None:
        self.engine = engine
        self.trace = trace
        self.access = Access(allow)
        self.messages = MessageCache(engine.network.now, cache_size)
        self.max_pending = max_pending  # distinct questions being resolved
        self.max_waiting = max_waiting  # clients waiting for an answer, repeats included
        self._waiting = 0
        self._tasks: set[asyncio.Task[bytes | None]] = set()  # the clients' answers being found
        self.actor = actor
        self._pending: dict[tuple[dns.name.Name, int], asyncio.Future[Resolution]] = {}

    def flush(self) -> int:
        """Empty both caches — the whole responses kept and the engine's records, the
        delegations to the root's and the top-level domains' servers among them — as
        ``rndc flush`` does: the next question is walked from the root again. Questions
        being resolved go on. How many entries were forgotten."""
        return self.messages.clear() + self.engine.cache.clear()

    def respond(
        self, wire: bytes, transport: str, peer: Address
    ) -> bytes | Awaitable[bytes | None] | None:
        """The answer now (refusals, errors, the message cache), or an awaitable of it."""
        if len(wire) < 12 or wire[2] & 0x80:
            return None  # not a DNS header, or a response: answering invites loops
        if not self.access.allows(peer[0]):
            return self._refuse(wire, peer, f"{peer[0]} is not a client this resolver serves")
        if not wire[2] & 0x79:  # OPCODE QUERY (0x78 clear) and RD clear (0x01)
            # RD=0 in a plain query: "do not recurse, tell me what you have" — which
            # tells anyone what this resolver's clients asked for (cache snooping).
            # Refused, as Unbound refuses it to the clients it serves.
            reason = "a question without RD (recursion desired) is refused: cache snooping"
            return self._refuse(wire, peer, reason, _RA)
        question = _question(wire)
        if question is not None:
            answer = self.messages.answer(wire, question, transport == TCP)
            if answer is not None:
                if self.trace.enabled:
                    self._record_cached(answer, peer)
                return answer
        if self._waiting >= self.max_waiting:
            # Every waiting client costs memory, whether or not its question is new:
            # beyond the cap the answer is SERVFAIL at once (Unbound drops instead).
            reason = f"{self.max_waiting} clients are waiting for answers already"
            return self._refuse(wire, peer, reason, _RA, dns.rcode.SERVFAIL)
        # A task at once, counted until it is done (even if it never gets to run).
        task = asyncio.ensure_future(self._answer(wire, transport, peer, question))
        self._waiting += 1
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[bytes | None]) -> None:
        self._waiting -= 1
        self._tasks.discard(task)

    def _refuse(
        self,
        wire: bytes,
        peer: Address,
        reason: str,
        extra_flags: int = 0,
        rcode: int = dns.rcode.REFUSED,
    ) -> bytes:
        """A short answer with ``rcode`` (REFUSED), and the question copied back if readable."""
        query_id, flags = struct.unpack_from("!HH", wire)
        question = _question(wire)
        if question is None:
            response = header_only(query_id, flags, rcode)
        else:
            # The question is copied back (dig and stubs check it); nothing else.
            head_flags = _QR | (flags & _RD) | extra_flags | rcode
            head = _HEADER.pack(query_id, head_flags, 1, 0, 0, 0)
            response = head + wire[12 : question.end]
        trace = self.trace
        if trace.enabled:
            text, said = _question_text(wire), dns.rcode.to_text(dns.rcode.Rcode(rcode))
            trace.record(
                ResolverAnswered(
                    trace.now(), self.actor, peer, text, said, (), False, 0, trace.now(), reason,
                )
            )  # fmt: skip
        return response

    async def aclose(self) -> None:
        """Give up the resolutions still running (the server is closing)."""
        pending: list[asyncio.Future[Any]] = [*self._pending.values(), *self._tasks]
        for future in pending:
            future.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    async def _answer(
        self, wire: bytes, transport: str, peer: Address, question: _Question | None
    ) -> bytes | None:
        trace = self.trace
        started = trace.now()
        query_id, flags = struct.unpack_from("!HH", wire)
        if flags & _OPCODE_MASK != dns.opcode.QUERY << 11:
            opcode = dns.opcode.to_text((flags & _OPCODE_MASK) >> 11)
            reason = f"opcode {opcode} is not supported, only QUERY"
            self._record(peer, _question_text(wire), "NOTIMP", (), False, 0, started, reason)
            return _with_ra(header_only(query_id, flags, dns.rcode.NOTIMP))
        try:
            query = dns.message.from_wire(wire, ignore_trailing=True)
        except Exception as exc:  # any parse failure is the client's malformed message
            reason = f"a malformed query ({exc})"
            self._record(peer, "?", "FORMERR", (), False, 0, started, reason)
            return _with_ra(header_only(query_id, flags, dns.rcode.FORMERR))
        if len(query.question) != 1 or flags & _RCODE_MASK:
            reason = (
                f"{len(query.question)} questions, not one"
                if len(query.question) != 1
                else "a query with an rcode set"
            )
            self._record(peer, _question_text(wire), "FORMERR", (), False, 0, started, reason)
            return _with_ra(header_only(query_id, flags, dns.rcode.FORMERR))
        asked = query.question[0]
        text = f"{asked.name} {dns.rdatatype.to_text(asked.rdtype)}"
        response = dns.message.make_response(query, our_payload=EDNS_PAYLOAD)
        response.flags |= dns.flags.RA
        if query.edns > 0:
            response.use_edns(0, 0, EDNS_PAYLOAD)
            response.set_rcode(dns.rcode.BADVERS)
            reason = f"EDNS version {query.edns}; this resolver speaks version 0"
            self._record(peer, text, "BADVERS", (), False, 0, started, reason)
            return render(query, response, transport)
        refusal = _refusal(asked.rdclass, asked.rdtype)
        if refusal:
            response.set_rcode(dns.rcode.REFUSED)
            self._record(peer, text, "REFUSED", (), False, 0, started, refusal)
            return render(query, response, transport)
        key = (asked.name, asked.rdtype)
        pending = self._pending.get(key)
        if pending is None:
            if len(self._pending) >= self.max_pending:
                response.set_rcode(dns.rcode.SERVFAIL)
                reason = f"{self.max_pending} questions are being resolved already"
                self._record(peer, text, "SERVFAIL", (), False, 0, started, reason)
                return render(query, response, transport)
            pending = asyncio.ensure_future(self.engine.resolve(asked.name, asked.rdtype))
            self._pending[key] = pending
            pending.add_done_callback(lambda _: self._pending.pop(key, None))
        try:
            resolution = await asyncio.shield(pending)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must cost one answer, never the server
            response.set_rcode(dns.rcode.SERVFAIL)
            self._record(peer, text, "SERVFAIL", (), False, 0, started, f"internal error: {exc}")
            return render(query, response, transport)
        answer = resolution.to_response(query)
        answer.flags |= flags & _CD
        answer_wire = render(query, answer, transport)
        if question is not None:
            self.messages.keep(question, answer_wire, resolution.rcode)
        records = tuple(
            line for rrset in resolution.answer for line in rrset.to_text().splitlines()
        )
        self._record(
            peer,
            text,
            dns.rcode.to_text(resolution.rcode),
            records,
            resolution.from_cache,
            resolution.queries,
            started,
            resolution.reason,
        )
        return answer_wire

    def _record(
        self,
        peer: Address,
        text: str,
        rcode: str,
        answer: tuple[str, ...],
        from_cache: bool,
        queries: int,
        started: float,
        reason: str = "",
    ) -> None:
        trace = self.trace
        if trace.enabled:
            trace.record(
                ResolverAnswered(
                    trace.now(), self.actor, peer, text, rcode, answer, from_cache, queries,
                    started, reason,
                )
            )  # fmt: skip

    def _record_cached(self, answer: bytes, peer: Address) -> None:
        try:
            message = dns.message.from_wire(answer)
        except Exception:  # what we built ourselves: cannot happen, but never stop serving
            return
        asked = message.question[0]
        text = f"{asked.name} {dns.rdatatype.to_text(asked.rdtype)}"
        records = tuple(line for rrset in message.answer for line in rrset.to_text().splitlines())
        now = self.trace.now()
        rcode = dns.rcode.to_text(message.rcode())
        self.trace.record(
            ResolverAnswered(now, self.actor, peer, text, rcode, records, True, 0, now)
        )


def _with_ra(header: bytes) -> bytes:
    """A header-only error answer with RA set: this server does offer recursion."""
    return header[:3] + bytes([header[3] | _RA]) + header[4:]


def _refusal(rdclass: dns.rdataclass.RdataClass, rdtype: dns.rdatatype.RdataType) -> str:
    if rdtype == 0:
        return "type 0 is reserved (RFC 6895), not a type one can ask for"
    if rdclass != dns.rdataclass.IN:
        return f"class {dns.rdataclass.to_text(rdclass)} is not resolved, only IN"
    if rdtype in _REFUSED_TYPES:
        return "a resolver does not transfer zones"
    if dns.rdatatype.is_metatype(rdtype) and rdtype != dns.rdatatype.ANY:
        return f"{dns.rdatatype.to_text(rdtype)} is not a type one can ask for"
    return ""


def _question_text(wire: bytes) -> str:
    try:
        message = dns.message.from_wire(wire, ignore_trailing=True)
        asked = message.question[0]
    except Exception:
        return "?"
    return f"{asked.name} {dns.rdatatype.to_text(asked.rdtype)}"
