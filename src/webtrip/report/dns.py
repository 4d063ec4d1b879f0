"""Views of DNS messages: dig's familiar text, RFC 8427 JSON, and log lines."""

from __future__ import annotations

import datetime
from typing import Any

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from webtrip.dns import Resolution
from webtrip.net import Address, format_address
from webtrip.trace import DnsMessageDropped, DnsMessageSent, ResolverAnswered

_SECTIONS = ("answer", "authority", "additional")


def header_flags(message: dns.message.Message) -> str:
    """dig's flag list: ``qr aa rd`` (lower case, in header order)."""
    return dns.flags.to_text(message.flags).lower()


def rcode_name(message: dns.message.Message) -> str:
    return dns.rcode.to_text(message.rcode())


def dig_text(
    response: dns.message.Message,
    *,
    server: Address,
    transport: str,
    elapsed: float,
    size: int,
    when: datetime.datetime,
    command: str,
) -> str:
    """The response laid out as ``dig`` prints it: header, then each section."""
    counts = (
        f"QUERY: {len(response.question)}, ANSWER: {_count(response.answer)}, "
        f"AUTHORITY: {_count(response.authority)}, ADDITIONAL: "
        f"{_count(response.additional) + (1 if response.edns >= 0 else 0)}"
    )
    lines = [
        f"; <<>> webtrip <<>> {command}",
        ";; Got answer:",
        f";; ->>HEADER<<- opcode: {dns.opcode.to_text(response.opcode())}, "
        f"status: {rcode_name(response)}, id: {response.id}",
        f";; flags: {header_flags(response)}; {counts}",
    ]
    if response.edns >= 0:
        ednsflags = dns.flags.edns_to_text(response.ednsflags).lower()
        lines += [
            "",
            ";; OPT PSEUDOSECTION:",
            f"; EDNS: version: {response.edns}, flags:{' ' + ednsflags if ednsflags else ''}; "
            f"udp: {response.payload}",
        ]
        lines += [f"; {option.otype.name}: {option.to_text()}" for option in response.options]
    lines += ["", ";; QUESTION SECTION:"]
    for question in response.question:
        lines.append(
            f";{question.name}\t\t{dns.rdataclass.to_text(question.rdclass)}\t"
            f"{dns.rdatatype.to_text(question.rdtype)}"
        )
    for title in _SECTIONS:
        rrsets = getattr(response, title)
        if not rrsets:
            continue
        lines += ["", f";; {title.upper()} SECTION:"]
        for rrset in rrsets:
            lines += [_tabbed(line) for line in rrset.to_text().splitlines()]
    lines += [
        "",
        f";; Query time: {elapsed * 1000:.1f} msec",
        f";; SERVER: {server[0]}#{server[1]}({server[0]}) ({transport.upper()})",
        f";; WHEN: {when.strftime('%a %b %d %H:%M:%S %Z %Y')}",
        f";; MSG SIZE  rcvd: {size}",
    ]
    return "\n".join(lines)


def _count(rrsets: list[dns.rrset.RRset]) -> int:
    return sum(len(rrset) for rrset in rrsets)


def _tabbed(line: str) -> str:
    name, ttl, rdclass, rdtype, rdata = line.split(" ", 4)
    return f"{name}\t\t{ttl}\t{rdclass}\t{rdtype}\t{rdata}"


def message_json(message: dns.message.Message, wire: bytes | None = None) -> dict[str, Any]:
    """The message as an RFC 8427 "DNS message in JSON" object."""
    out: dict[str, Any] = {
        "ID": message.id,
        "QR": int(bool(message.flags & dns.flags.QR)),
        "Opcode": message.opcode(),
        "AA": int(bool(message.flags & dns.flags.AA)),
        "TC": int(bool(message.flags & dns.flags.TC)),
        "RD": int(bool(message.flags & dns.flags.RD)),
        "RA": int(bool(message.flags & dns.flags.RA)),
        "AD": int(bool(message.flags & dns.flags.AD)),
        "CD": int(bool(message.flags & dns.flags.CD)),
        "RCODE": message.rcode(),
        "RCODEname": rcode_name(message),
        "QDCOUNT": len(message.question),
        "ANCOUNT": _count(message.answer),
        "NSCOUNT": _count(message.authority),
        "ARCOUNT": _count(message.additional) + (1 if message.edns >= 0 else 0),
    }
    if message.question:
        question = message.question[0]
        out.update(
            QNAME=question.name.to_text(),
            QTYPE=question.rdtype,
            QTYPEname=dns.rdatatype.to_text(question.rdtype),
            QCLASS=question.rdclass,
            QCLASSname=dns.rdataclass.to_text(question.rdclass),
        )
    for title, key in zip(_SECTIONS, ("answerRRs", "authorityRRs", "additionalRRs"), strict=True):
        out[key] = [_rr_json(rrset, rdata) for rrset in getattr(message, title) for rdata in rrset]
    if message.edns >= 0:
        out["EDNS"] = {
            "version": message.edns,
            "udpPayloadSize": message.payload,
            "flags": dns.flags.edns_to_text(message.ednsflags).split(),
        }
    if wire is not None:
        out["messageOctetsHEX"] = wire.hex().upper()
    return out


def _rr_json(rrset: dns.rrset.RRset, rdata: Any) -> dict[str, Any]:
    type_name = dns.rdatatype.to_text(rrset.rdtype)
    return {
        "NAME": rrset.name.to_text(),
        "TYPE": rrset.rdtype,
        "TYPEname": type_name,
        "CLASS": rrset.rdclass,
        "CLASSname": dns.rdataclass.to_text(rrset.rdclass),
        "TTL": rrset.ttl,
        f"rdata{type_name}": rdata.to_text(),
        "RDATAHEX": rdata.to_digestable().hex().upper(),
    }


def query_log_line(event: DnsMessageSent | DnsMessageDropped, wall_start: float) -> str:
    """One log line for a query the server answered or dropped.

    ``2026-11-25T18:20:01.123Z 127.0.0.1:40321 udp www.example.test. A NOERROR 61B 0.08ms``
    """
    when = datetime.datetime.fromtimestamp(wall_start + event.t, tz=datetime.UTC)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    client = format_address(event.peer)
    if isinstance(event, DnsMessageDropped):
        return f"{stamp} {client} {event.transport} - - DROPPED {event.size}B ({event.reason})"
    message = event.message
    if message is None or not message.question:
        name, rdtype = "-", "-"
        code = dns.rcode.Rcode(event.wire[3] & 0xF) if len(event.wire) >= 4 else None
        rcode = "-" if code is None else dns.rcode.to_text(code)
    else:
        question = message.question[0]
        name, rdtype = question.name.to_text(), dns.rdatatype.to_text(question.rdtype)
        rcode = rcode_name(message)
        if message.flags & dns.flags.TC:
            rcode += " TC"
    took = "" if event.responds_to is None else f" {(event.t - event.responds_to) * 1000:.2f}ms"
    return f"{stamp} {client} {event.transport} {name} {rdtype} {rcode} {event.size}B{took}"


def resolver_log_line(event: ResolverAnswered, wall_start: float) -> str:
    """One log line for an answer a resolver gave.

    ``2026-11-25T18:20:01.123Z 127.0.0.1:40321 www.example.test. A NOERROR 3 queries 4.10ms``
    """
    when = datetime.datetime.fromtimestamp(wall_start + event.t, tz=datetime.UTC)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    how = "cache" if event.from_cache else f"{event.queries} queries"
    line = f"{stamp} {format_address(event.client)} {event.question} {event.rcode} {how}"
    line += f" {(event.t - event.started) * 1000:.2f}ms"
    return f"{line} ({event.reason})" if event.reason else line


def walk_text(resolution: Resolution) -> str:
    """A resolution's walk as ``dig +trace`` shows it: each server's records, then who said it."""
    lines = [f"; <<>> webtrip <<>> {resolution.qname} "
             f"{dns.rdatatype.to_text(resolution.qtype)} +trace"]  # fmt: skip
    for step in resolution.walk:
        indent = "  " * step.depth
        if step.depth and step.server is not None:
            lines.append(f"{indent};; (finding the address of a name server: {step.qname})")
        if step.server is None:
            what = {"cache": "from the cache", "skipped": "skipped"}.get(step.outcome, step.outcome)
            lines.append(f"{indent};; {step.qname} {dns.rdatatype.to_text(step.qtype)}: "
                         f"{what}{': ' + step.detail if step.detail else ''}")  # fmt: skip
            continue
        message = _message(step.wire)
        if message is not None:
            for section in (message.answer, message.authority, message.additional):
                for rrset in section:
                    lines.extend(indent + line for line in rrset.to_text().splitlines())
        where = f"{step.server[0]}#{step.server[1]}"
        zone = "the root" if step.zone == dns.name.root else str(step.zone)
        said = f"{step.outcome}: {step.detail}" if step.detail else step.outcome
        if step.wire:
            took = f"{step.elapsed * 1000:.1f} ms"
            lines.append(f"{indent};; Received {len(step.wire)} bytes from {where} "
                         f"(a server of {zone}) in {took} — {said}")  # fmt: skip
        else:
            lines.append(f"{indent};; {where} (a server of {zone}) — {said}")
        lines.append("")
    verdict = dns.rcode.to_text(resolution.rcode)
    summary = f";; {verdict} after {resolution.queries} queries"
    lines.append(f"{summary}: {resolution.reason}" if resolution.reason else summary)
    return "\n".join(lines)


def walk_json(resolution: Resolution) -> dict[str, Any]:
    """A resolution and its walk as JSON; each server's response in RFC 8427's form."""
    steps = []
    for step in resolution.walk:
        message = _message(step.wire)
        steps.append({
            "server": None if step.server is None else format_address(step.server),
            "zone": step.zone.to_text(),
            "qname": step.qname.to_text(),
            "qtype": dns.rdatatype.to_text(step.qtype),
            "outcome": step.outcome,
            "detail": step.detail,
            "depth": step.depth,
            "elapsed_ms": round(step.elapsed * 1000, 3),
            "response": None if message is None else message_json(message, step.wire),
        })  # fmt: skip
    return {
        "qname": resolution.qname.to_text(),
        "qtype": dns.rdatatype.to_text(resolution.qtype),
        "rcode": dns.rcode.to_text(resolution.rcode),
        "reason": resolution.reason,
        "queries": resolution.queries,
        "answer": [line for r in resolution.answer for line in r.to_text().splitlines()],
        "walk": steps,
    }


def _message(wire: bytes) -> dns.message.Message | None:
    if not wire:
        return None
    try:
        return dns.message.from_wire(wire)
    except Exception:
        return None
