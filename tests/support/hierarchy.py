"""The test DNS hierarchy (data/zones/hierarchy), in the simulated world or on loopback.

Four authoritative servers: the root (.1), the test. server (.2), the
webtrip.test server (.3), the elsewhere. and shop.test server (.4). In the
zone files their addresses are 10.0.0.N.

* :class:`SimHierarchy` runs them on simulated hosts 10.0.0.N around one
  router, with a :class:`RecursiveResolver` on 10.0.0.10 and, on demand, the
  resolver *service* (what ``webtrip dns resolver`` runs) and more hosts.
* :func:`loopback_hierarchy` (from loopback.py, which the benchmarks share)
  runs them as ``webtrip dns serve --log`` processes on 127.A.B.N (a random
  /24 of loopback, the zone files rewritten to it), all on one port, as a
  resolver that walks from the root needs; :func:`webtrip_resolver` runs
  ``webtrip dns resolver`` beside them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import dns.name
import dns.rdatatype
import dns.zone

from loopback import (  # noqa: F401  (the tests import the loopback hierarchy from here)
    ELSEWHERE,
    HIERARCHY,
    ROOT,
    SERVERS,
    TLD,
    WEBTRIP,
    LoopbackHierarchy,
    loopback_hierarchy,
    stop_process,
    wait_for_dns,
)
from webtrip.dns.authority import Authority
from webtrip.dns.recursive_resolver import RecursiveResolver, Resolution
from webtrip.dns.resolver_service import ResolverService
from webtrip.dns.server import DnsServer
from webtrip.dns.zones import ZoneSet, load_zone
from webtrip.netsim.host import Host
from webtrip.netsim.world import SimWorld
from webtrip.trace import DnsMessageReceived

RESOLVER = "10.0.0.10"


# --- the simulated world ---------------------------------------------------------------


class SimHierarchy:
    """The world, its servers started, and a resolver on its own host."""

    def __init__(self, seed: int = 7, **limits) -> None:  # type: ignore[no-untyped-def]
        self.world = SimWorld(seed=seed)
        self.router = self.world.add_router("router")
        self.hosts: dict[str, Host] = {}
        for address in [*SERVERS, RESOLVER]:
            self.add_host(address)
        self.servers: list[DnsServer] = []
        for address, files in SERVERS.items():
            zones = ZoneSet([load_zone(HIERARCHY / name) for name in files])
            self.serve(address, Authority(zones))
        self.resolver = RecursiveResolver(
            self.world.network(self.hosts[RESOLVER]),
            [("ns.root.", ROOT)],
            trace=self.world.trace,
            **limits,
        )

    def add_host(self, address: str, latency: float = 0.005) -> Host:
        """A host with ``address`` on its own link to the router (10.0.0.0/24 or any /24)."""
        host = self.world.add_host(address)
        number = int(address.rsplit(".", 1)[1])
        if address.startswith("10.0.0."):
            router_side = f"10.0.0.{200 + number}/24"
        else:  # another network: the router's side is its .254
            router_side = address.rsplit(".", 1)[0] + ".254/24"
        self.world.connect(host, f"{address}/24", self.router, router_side, latency=latency)
        self.router.add_route(f"{address}/32", self.router.interfaces[-1])
        self.hosts[address] = host
        return host

    def serve(self, address: str, responder) -> DnsServer:  # type: ignore[no-untyped-def]
        """A DNS server on ``address``:53 answering with ``responder``."""
        network = self.world.network(self.hosts[address])
        server = DnsServer(network, responder, self.world.trace, actor=f"dns-{address}")
        self.world.run(server.start([(address, 53)]))
        self.servers.append(server)
        return server

    def start_service(self, **options) -> ResolverService:  # type: ignore[no-untyped-def]
        """The resolver service (``webtrip dns resolver``) on the resolver's host, port 53."""
        options.setdefault("allow", ["10.0.0.0/24"])
        service = ResolverService(self.resolver, self.world.trace, **options)
        network = self.world.network(self.hosts[RESOLVER])
        server = DnsServer(network, service, self.world.trace, actor="resolver")
        self.world.run(server.start([(RESOLVER, 53)]))
        self.servers.append(server)
        return service

    def resolve(self, name: str, rdtype: str = "A") -> Resolution:
        return self.world.run(self.resolver.resolve(name, rdtype))

    def packets(self) -> int:
        return len(self.world.packets.records)

    def authority_queries(self) -> int:
        """Messages the four authoritative servers have received so far."""
        actors = {f"dns-{address}" for address in SERVERS}
        return sum(
            1 for event in self.world.trace.of_type(DnsMessageReceived) if event.actor in actors
        )

    def sleep(self, seconds: float) -> None:
        self.world.run(asyncio.sleep(seconds))

    def close(self) -> None:
        self.world.close()


# --- on loopback (the hierarchy itself: loopback.py) ---------------------------------


@dataclass
class RunningResolver:
    host: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def webtrip_resolver(
    lab: LoopbackHierarchy, number: int, extra: Sequence[str] = ()
) -> Iterator[RunningResolver]:
    """``webtrip dns resolver --log`` on ``lab.prefix``.``number``, walking ``lab``'s tree.

    ``extra`` replaces nothing: give ``--forward`` there to forward instead
    (the root hints are then left out).
    """
    host = lab.address(number)
    args = [sys.executable, "-m", "webtrip", "dns", "resolver", "--log"]
    args += ["--listen", f"{host}:{lab.port}", "--server-port", str(lab.port)]
    if "--forward" not in extra:
        args += ["--root-hints", str(lab.hints)]
    args += list(extra)
    log = lab.workdir / f"resolver-{number}.log"
    env = dict(os.environ, NO_COLOR="1")
    with log.open("wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        wait_for_dns(host, lab.port, ".")
        yield RunningResolver(host, lab.port, process, log)
    finally:
        stop_process(process)


def rrsets_text(message) -> dict[str, set[tuple[str, str, str]]]:  # type: ignore[no-untyped-def]
    """Each section of a dnspython message as a set of (name, type, rdata), TTLs left out."""
    return {
        section: {
            (rrset.name.to_text().lower(), dns.rdatatype.to_text(rrset.rdtype), rdata.to_text())
            for rrset in getattr(message, section)
            for rdata in rrset
        }
        for section in ("answer", "authority")
    }
