"""Step 1: find the address of a name, the way a browser's stub resolver does.

In order: an IP literal needs no lookup; a name in /etc/hosts is answered
from there; anything else is asked of a DNS server — the one given, or the
first ``nameserver`` of /etc/resolv.conf — with real DNS messages (A and
AAAA asked at once, each with a random ID from a fresh random port; see
:mod:`webtrip.dns.client` for how replies are checked). CNAME chains are
followed, within the answer and, when the server stops at a name outside its
zones, with a new question for the target.
"""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass
from pathlib import Path

import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.resolver

from webtrip.browser.errors import DnsFailure, NameNotFound, NoAddress
from webtrip.dns.client import (
    DnsConnectionRefused,
    DnsQueryError,
    DnsTimeout,
    QueryResult,
    make_query,
    query,
)
from webtrip.net import Address, Network, format_address
from webtrip.outcomes import N_
from webtrip.trace import NULL_TRACE, Trace

MAX_CNAME_HOPS = 8


@dataclass(frozen=True, slots=True)
class ResolvedName:
    """The addresses of a name and how they were found."""

    name: str
    addresses: tuple[str, ...]  # in the order to try them
    source: str  # "dns", "hosts" or "literal"
    canonical: str
    chain: tuple[str, ...]
    ttl: int | None
    server: Address | None


def read_hosts(path: str | Path = "/etc/hosts") -> dict[str, list[str]]:
    """Names and their addresses from a hosts(5) file (missing file: none)."""
    table: dict[str, list[str]] = {}
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return table
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2:
            continue
        try:
            address = str(ipaddress.ip_address(fields[0].split("%")[0]))
        except ValueError:
            continue
        for name in fields[1:]:
            table.setdefault(name.lower().rstrip("."), []).append(address)
    return table


def system_nameserver(resolv_conf: str = "/etc/resolv.conf") -> Address | None:
    """The first nameserver of resolv.conf, or None if there is none."""
    try:
        resolver = dns.resolver.Resolver(filename=resolv_conf, configure=True)
    except (dns.resolver.NoResolverConfiguration, OSError):
        return None
    if not resolver.nameservers:
        return None
    return str(resolver.nameservers[0]), int(resolver.port)


class StubResolver:
    """Resolves names for the browser, recording every step in the trace."""

    def __init__(
        self,
        network: Network,
        trace: Trace = NULL_TRACE,
        *,
        nameserver: Address | None = None,
        hosts: dict[str, list[str]] | None = None,
        timeout: float = 5.0,  # glibc's resolv.conf defaults (timeout:5 attempts:2),
        attempts: int = 2,  # which Chromium's own resolver reads too
        actor: str = "browser",
    ) -> None:
        self.network = network
        self.trace = trace
        self.nameserver = nameserver
        self.hosts = read_hosts() if hosts is None else hosts
        self.timeout = timeout
        self.attempts = attempts
        self.actor = actor

    async def resolve(self, name: str) -> ResolvedName:
        """The addresses of ``name``.

        Raises NameNotFound (NXDOMAIN), NoAddress (no A/AAAA) or DnsFailure
        (no answer, or an error from the server).
        """
        host = name.strip("[]")
        try:
            literal = ipaddress.ip_address(host.split("%")[0])
        except ValueError:
            pass
        else:
            return ResolvedName(host, (str(literal),), "literal", host, (), None, None)
        key = name.lower().rstrip(".")
        if key in self.hosts:
            return ResolvedName(name, tuple(self.hosts[key]), "hosts", name, (), None, None)
        return await self._ask_dns(name)

    async def _ask_dns(self, name: str) -> ResolvedName:
        server = self.nameserver or system_nameserver()
        if server is None:
            raise DnsFailure(N_("there is no DNS server to ask: /etc/resolv.conf names none"))
        try:
            qname = dns.name.from_text(name)
        except dns.exception.DNSException as exc:
            raise NameNotFound(
                N_("'{name}' is not a valid host name (\"{detail}\")"), name=name, detail=exc
            ) from None
        chain: list[str] = []
        current = qname
        for _ in range(MAX_CNAME_HOPS):
            results = await asyncio.gather(
                self._ask(server, current, dns.rdatatype.AAAA),
                self._ask(server, current, dns.rdatatype.A),
                return_exceptions=True,
            )
            # One family failing (a SERVFAIL or silence for AAAA, say) does not
            # stop the load if the other has addresses, as in browsers' stubs.
            for result in results:
                if isinstance(result, NameNotFound) or (
                    isinstance(result, BaseException) and not isinstance(result, DnsFailure)
                ):
                    raise result
            answers = [r for r in results if not isinstance(r, BaseException)]
            failure = next((r for r in results if isinstance(r, DnsFailure)), None)
            if failure is not None and not answers:
                raise failure
            addresses: list[str] = []
            ttls: list[int] = []
            target = current
            for response in answers:
                found, target, links, ttl = _addresses_in(response, current)
                addresses += [a for a in found if a not in addresses]
                ttls += ttl
                chain += [link for link in links if link not in chain]
            if addresses:
                return ResolvedName(
                    name,
                    tuple(addresses),
                    "dns",
                    target.to_text(omit_final_dot=True),
                    tuple(chain),
                    min(ttls) if ttls else None,
                    server,
                )
            if failure is not None:
                raise failure
            if target == current:
                raise NoAddress(
                    N_("the DNS knows '{name}' but it has no IPv4 or IPv6 address"), name=name
                )
            current = target  # the server stopped at an alias it does not hold: ask for it
        raise DnsFailure(
            N_("'{name}' leads through more than {hops} aliases (CNAME)"),
            name=name,
            hops=MAX_CNAME_HOPS,
        )

    async def _ask(
        self, server: Address, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType
    ) -> dns.message.Message:
        """One question, tried up to ``attempts`` times, ``timeout`` apart.

        A new try (new ID, new port) does not give up on the ones before it:
        their answers are still taken until the last try's time is up, as
        Chromium's resolver keeps earlier attempts open and glibc keeps its
        socket — an answer that was slow (a resolver walking the tree, a
        retransmission on its side) is not thrown away.
        """
        tries: dict[asyncio.Task[QueryResult], int] = {}
        started = 0
        result: QueryResult | None = None
        try:
            while result is None:
                if started < self.attempts:
                    # Each try listens until the end of the whole budget.
                    budget = (self.attempts - started) * self.timeout
                    message = make_query(qname, rdtype, rng=self.network.random)
                    task = asyncio.ensure_future(self._try(server, message, budget))
                    tries[task] = started
                    started += 1
                pending = [task for task in tries if not task.done()]
                if not pending:
                    raise DnsFailure(
                        N_("the DNS server {server} did not answer ({tries} tries of {timeout})"),
                        server=format_address(server),
                        tries=self.attempts,
                        timeout=float(self.timeout),
                    )
                wait = self.timeout if started < self.attempts else None
                await asyncio.wait(pending, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
                for task in sorted((t for t in tries if t.done()), key=tries.__getitem__):
                    error = task.exception()
                    if error is None:
                        result = task.result()
                        break
                    if isinstance(error, DnsTimeout):
                        continue
                    if isinstance(error, DnsQueryError):
                        raise _query_failure(server, error) from None
                    raise error
        finally:
            for task in tries:
                task.cancel()
            await asyncio.gather(*tries, return_exceptions=True)
        response = result.response
        rcode = response.rcode()
        if rcode == dns.rcode.NXDOMAIN:
            raise NameNotFound(
                N_("the DNS says '{name}' does not exist (NXDOMAIN)"), name=qname.to_text(True)
            )
        if rcode != dns.rcode.NOERROR:
            raise DnsFailure(
                N_("the DNS server {server} answered {rcode} for '{name}'"),
                server=format_address(server),
                rcode=dns.rcode.to_text(rcode),
                name=qname.to_text(True),
            )
        return response

    async def _try(
        self, server: Address, message: dns.message.Message, timeout: float
    ) -> QueryResult:
        return await query(
            self.network, server, message, timeout=timeout, trace=self.trace, actor=self.actor
        )


def _addresses_in(
    response: dns.message.Message, qname: dns.name.Name
) -> tuple[list[str], dns.name.Name, list[str], list[int]]:
    """Follow the CNAME chain in the answer from ``qname``: addresses, last name, chain, TTLs."""
    current = qname
    chain: list[str] = []
    ttls: list[int] = []
    for _ in range(MAX_CNAME_HOPS + 1):
        cname = next(
            (r for r in response.answer if r.name == current and r.rdtype == dns.rdatatype.CNAME),
            None,
        )
        if cname is None:
            break
        ttls.append(cname.ttl)
        current = cname[0].target
        chain.append(current.to_text(omit_final_dot=True))
    addresses = []
    for rrset in response.answer:
        if rrset.name == current and rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            ttls.append(rrset.ttl)
            addresses += [rdata.address for rdata in rrset]
    return addresses, current, chain, ttls


def _query_failure(server: Address, error: DnsQueryError) -> DnsFailure:
    """A question to ``server`` that got no usable answer, said as a DnsFailure."""
    if isinstance(error, DnsConnectionRefused):
        template = N_("the DNS server {server} refused the connection")
        return DnsFailure(template, server=format_address(server))
    template = N_('the DNS server {server} gave no usable answer ("{detail}")')
    return DnsFailure(template, server=format_address(server), detail=error)
