"""A stub DNS client: ask one server one question, the way dig does.

The query goes over UDP with EDNS0; if the answer comes back truncated (TC=1)
the same question is asked again over TCP (RFC 7766). Over UDP, a reply is
accepted only if it comes from the server's address and port and carries our
query's ID and question — anything else is ignored until the timeout, so a
spoofed or stray datagram cannot become the answer.
"""

from __future__ import annotations

import asyncio
import ipaddress
import struct
from dataclasses import dataclass

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rdatatype

from webtrip.dns.protocol import EDNS_PAYLOAD, TCP, UDP
from webtrip.net import Address, Network, format_address
from webtrip.net.base import RandomSource
from webtrip.trace import NULL_TRACE, DnsMessageReceived, DnsMessageSent, Trace

_LENGTH = struct.Struct("!H")


class DnsQueryError(Exception):
    """The question got no usable answer; the message is one sentence."""


class DnsTimeout(DnsQueryError):
    """The server did not answer in time."""


class DnsConnectionRefused(DnsQueryError):
    """The server refused the TCP connection."""


class DnsBadResponse(DnsQueryError):
    """The server answered with something that is not a valid DNS response."""


@dataclass
class QueryResult:
    """A question, its answer and how the exchange went."""

    query: dns.message.Message
    response: dns.message.Message
    response_wire: bytes
    server: Address
    transport: str
    elapsed: float
    ignored: int = 0  # datagrams ignored while waiting (wrong source, ID or question)
    retried_over_tcp: bool = False


def make_query(
    name: str | dns.name.Name,
    rdtype: str | int = "A",
    *,
    recursion_desired: bool = True,
    rng: RandomSource | None = None,
) -> dns.message.Message:
    """A standard query with a random ID and EDNS0 (payload 1232).

    The ID is drawn from ``rng`` — pass the network's ``random``, so that a
    simulated run repeats exactly — or, without it, from the operating system.

    Raises DnsQueryError if ``name`` is not a valid domain name or ``rdtype``
    not a known type.
    """
    try:
        qname = dns.name.from_text(name) if isinstance(name, str) else name
        qtype = dns.rdatatype.RdataType.make(rdtype)
        query = dns.message.make_query(qname, qtype, use_edns=0, payload=EDNS_PAYLOAD)
    except dns.name.NameTooLong:
        raise DnsQueryError(f"'{name}' is longer than the 255 bytes a DNS name may have") from None
    except dns.name.LabelTooLong:
        raise DnsQueryError(f"'{name}' has a label longer than 63 bytes") from None
    except dns.rdatatype.UnknownRdatatype:
        raise DnsQueryError(f"'{rdtype}' is not a DNS record type") from None
    except dns.exception.DNSException as exc:
        raise DnsQueryError(f"'{name}' is not a valid domain name ({exc})") from None
    if not recursion_desired:
        query.flags &= ~dns.flags.RD
    if rng is not None:
        query.id = rng.getrandbits(16)
    return query


async def query(
    network: Network,
    server: Address,
    message: dns.message.Message,
    *,
    tcp: bool = False,
    timeout: float = 3.0,
    trace: Trace = NULL_TRACE,
    actor: str = "client",
    exact_case: bool = False,
) -> QueryResult:
    """Send ``message`` to ``server`` and return the answer.

    Over UDP unless ``tcp``; a truncated UDP answer is retried over TCP.
    With ``exact_case`` a reply must repeat the question's letter case byte
    for byte (for a question whose case was randomised: "0x20", see
    :func:`randomize_case`). Raises DnsTimeout, DnsConnectionRefused or
    DnsBadResponse.
    """
    started = network.now()
    if tcp:
        result = await _query_tcp(network, server, message, timeout, trace, actor, exact_case)
    else:
        result = await _query_udp(network, server, message, timeout, trace, actor, exact_case)
        if result.response.flags & dns.flags.TC:
            ignored = result.ignored
            result = await _query_tcp(network, server, message, timeout, trace, actor, exact_case)
            result.retried_over_tcp = True
            result.ignored += ignored
    result.elapsed = network.now() - started
    return result


async def _query_udp(
    network: Network,
    server: Address,
    message: dns.message.Message,
    timeout: float,
    trace: Trace,
    actor: str,
    exact_case: bool = False,
) -> QueryResult:
    local_host = "::" if ":" in server[0] else "0.0.0.0"
    endpoint = await network.open_udp_endpoint(local_host, 0)  # a fresh random port per query
    wire = message.to_wire()
    ignored = 0
    try:
        endpoint.send(wire, server)
        trace.record(DnsMessageSent(trace.now(), actor, UDP, endpoint.local_address, server, wire))
        try:
            async with asyncio.timeout(timeout):
                while True:
                    data, source = await endpoint.receive()
                    trace.record(
                        DnsMessageReceived(
                            trace.now(), actor, UDP, endpoint.local_address, source, data
                        )
                    )
                    response = _matching_response(message, data, source, server)
                    if response is not None and exact_case and not _same_question(wire, data):
                        response = None
                    if response is None:
                        ignored += 1
                        continue
                    return QueryResult(message, response, data, server, UDP, 0.0, ignored)
        except TimeoutError:
            raise DnsTimeout(
                f"no answer from {format_address(server)} over UDP within {timeout:g} s"
            ) from None
    finally:
        endpoint.close()


def _matching_response(
    query: dns.message.Message, data: bytes, source: Address, server: Address
) -> dns.message.Message | None:
    """The response if ``data`` really answers ``query`` from ``server``; else None."""
    if source[1] != server[1] or _normal_ip(source[0]) != _normal_ip(server[0]):
        return None
    if len(data) < 12 or int.from_bytes(data[:2], "big") != query.id:
        return None
    try:
        response = dns.message.from_wire(data, ignore_trailing=True)
    except Exception:
        return None
    if not query.is_response(response):
        return None
    return response


async def _query_tcp(
    network: Network,
    server: Address,
    message: dns.message.Message,
    timeout: float,
    trace: Trace,
    actor: str,
    exact_case: bool = False,
) -> QueryResult:
    wire = message.to_wire()
    where = format_address(server)
    try:
        async with asyncio.timeout(timeout):
            try:
                stream = await network.open_tcp_stream(server[0], server[1])
            except ConnectionRefusedError:
                raise DnsConnectionRefused(
                    f"{where} refused the TCP connection (no DNS server listens there)"
                ) from None
            except OSError as exc:
                raise DnsQueryError(f"cannot connect to {where}: {exc.strerror or exc}") from None
            try:
                await stream.send_all(_LENGTH.pack(len(wire)) + wire)
                trace.record(
                    DnsMessageSent(trace.now(), actor, TCP, stream.local_address, server, wire)
                )
                buffer = bytearray()
                while len(buffer) < 2 or len(buffer) < 2 + _LENGTH.unpack_from(buffer)[0]:
                    data = await stream.receive_some()
                    if not data:
                        raise DnsBadResponse(
                            f"{where} closed the TCP connection without a full answer"
                        )
                    buffer += data
                (length,) = _LENGTH.unpack_from(buffer)
                data = bytes(buffer[2 : 2 + length])
                trace.record(
                    DnsMessageReceived(trace.now(), actor, TCP, stream.local_address, server, data)
                )
            except ConnectionError as exc:
                raise DnsBadResponse(f"the TCP connection to {where} failed: {exc}") from None
            finally:
                await stream.aclose()
    except TimeoutError:
        raise DnsTimeout(f"no answer from {where} over TCP within {timeout:g} s") from None
    try:
        response = dns.message.from_wire(data)
    except Exception as exc:
        raise DnsBadResponse(f"{where} sent a malformed DNS message ({exc})") from None
    if not message.is_response(response) or (exact_case and not _same_question(wire, data)):
        raise DnsBadResponse(f"{where} answered a different question or ID")
    return QueryResult(message, response, data, server, TCP, 0.0)


def randomize_case(name: dns.name.Name, rng: RandomSource) -> dns.name.Name:
    """``name`` with each letter's case drawn at random ("0x20", draft-vixie-dnsext-dns0x20).

    A server copies the question into its answer byte for byte, so a reply
    that repeats the random case came from someone who saw the question: one
    more secret, a bit per letter, for a spoofer to guess besides the ID and
    the port.
    """
    labels = []
    for label in name.labels:
        bits = rng.getrandbits(max(len(label), 1))
        labels.append(
            bytes(
                byte ^ 0x20 if (0x41 <= byte <= 0x5A or 0x61 <= byte <= 0x7A) and bits >> i & 1
                else byte
                for i, byte in enumerate(label)
            )
        )  # fmt: skip
    return dns.name.Name(labels)


def _same_question(query_wire: bytes, response_wire: bytes) -> bool:
    """Whether the response repeats the query's question section byte for byte (case too)."""
    end = 12
    while query_wire[end]:
        end += query_wire[end] + 1
    end += 5  # the root label, type and class
    return response_wire[12:end] == query_wire[12:end]


def _normal_ip(text: str) -> str:
    address = ipaddress.ip_address(text.split("%")[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return str(address.ipv4_mapped)
    return str(address)
