"""The test DNS hierarchy (data/zones/hierarchy), in the simulated world or on loopback.

Four authoritative servers: the root (.1), the test. server (.2), the
webtrip.test server (.3), the elsewhere. and shop.test server (.4). In the
zone files their addresses are 10.0.0.N.

* :class:`SimHierarchy` runs them on simulated hosts 10.0.0.N around one
  router, with a :class:`RecursiveResolver` on 10.0.0.10 and, on demand, the
  resolver *service* (what ``webtrip dns resolver`` runs) and more hosts.
* :func:`loopback_hierarchy` runs them as ``webtrip dns serve --log``
  processes on 127.A.B.N (a random /24 of loopback, the zone files rewritten
  to it), all on one port, as a resolver that walks from the root needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import dns.name
import dns.rdatatype
import dns.zone

from support import ZONES, free_port, stop_process, wait_for_dns
from webtrip.dns.authority import Authority
from webtrip.dns.recursive_resolver import RecursiveResolver, Resolution
from webtrip.dns.resolver_service import ResolverService
from webtrip.dns.server import DnsServer
from webtrip.dns.zones import ZoneSet, load_zone
from webtrip.netsim.host import Host
from webtrip.netsim.world import SimWorld
from webtrip.trace import DnsMessageReceived

HIERARCHY = ZONES / "hierarchy"
ROOT, TLD, WEBTRIP, ELSEWHERE, RESOLVER = (
    "10.0.0.1",
    "10.0.0.2",
    "10.0.0.3",
    "10.0.0.4",
    "10.0.0.10",
)
SERVERS = {
    ROOT: ["root.zone"],
    TLD: ["test.zone", "elsewhere.stale.zone"],
    WEBTRIP: ["webtrip.test.zone"],
    ELSEWHERE: ["elsewhere.zone", "shop.test.zone"],
}


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


# --- on loopback -----------------------------------------------------------------------


@dataclass
class LoopbackHierarchy:
    """The four servers running on ``prefix``.N:``port``, and where their files are."""

    prefix: str  # "127.A.B"
    port: int
    workdir: Path
    hints: Path  # a root hints file naming ns.root. at prefix.1
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def address(self, number: int) -> str:
        return f"{self.prefix}.{number}"

    def log_lines(self) -> int:
        """Queries the four servers have answered or dropped (lines of their --log)."""
        total = 0
        for number in self.processes:
            text = (self.workdir / f"auth-{number}.log").read_text(errors="replace")
            total += sum(1 for line in text.splitlines() if re.search(r" (udp|tcp) ", line))
        return total

    def wait_quiet(self, settle: float = 0.2) -> int:
        """The log-line count once it has stopped changing for ``settle`` seconds (≤ 3 s)."""
        deadline = time.monotonic() + 3
        last = self.log_lines()
        while time.monotonic() < deadline:
            time.sleep(settle)
            now = self.log_lines()
            if now == last:
                return now
            last = now
        return last


def rewrite_zone(text: str, prefix: str) -> str:
    """A hierarchy zone file with every 10.0.0.N address moved to ``prefix``.N."""
    return re.sub(r"\b10\.0\.0\.(\d+)\b", rf"{prefix}.\1", text)


def _bindable(addresses: Sequence[str], port: int) -> bool:
    for address in addresses:
        for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
            with socket.socket(socket.AF_INET, kind) as sock:
                try:
                    sock.bind((address, port))
                except OSError:
                    return False
    return True


def pick_prefix(numbers: Sequence[int], port: int | None) -> tuple[str, int]:
    """A loopback /24 whose addresses ``numbers`` are all free on ``port`` (None: any port)."""
    rng = random.Random()
    for _ in range(50):
        prefix = f"127.{rng.randrange(100, 250)}.{rng.randrange(1, 250)}"
        addresses = [f"{prefix}.{n}" for n in numbers]
        chosen = port if port is not None else free_port(addresses[0])
        if _bindable(addresses, chosen):
            return prefix, chosen
    raise RuntimeError("no free loopback /24 found for the hierarchy")


@contextlib.contextmanager
def loopback_hierarchy(port: int | None = None) -> Iterator[LoopbackHierarchy]:
    """Run the four servers of the hierarchy on loopback (``webtrip dns serve --log``).

    ``port`` None: a free port; a resolver that must ask port 53 (Unbound) needs 53.
    """
    numbers = [int(address.rsplit(".", 1)[1]) for address in SERVERS]
    prefix, port = pick_prefix([*numbers, 10, 11, 12], port)
    with tempfile.TemporaryDirectory(prefix="webtrip-hierarchy-") as tmp:
        workdir = Path(tmp)
        for path in HIERARCHY.glob("*.zone"):
            (workdir / path.name).write_text(rewrite_zone(path.read_text(), prefix))
        hints = workdir / "root.hints"
        hints.write_text(f".  3600000  NS  ns.root.\nns.root.  3600000  A  {prefix}.1\n")
        lab = LoopbackHierarchy(prefix, port, workdir, hints)
        env = dict(os.environ, NO_COLOR="1")
        try:
            for address, files in SERVERS.items():
                number = int(address.rsplit(".", 1)[1])
                args = [sys.executable, "-m", "webtrip", "dns", "serve", "--log"]
                args += ["--listen", f"{prefix}.{number}:{port}"]
                for name in files:
                    args += ["--zone", str(workdir / name)]
                with (workdir / f"auth-{number}.log").open("wb") as out:
                    lab.processes[str(number)] = subprocess.Popen(
                        args, stdout=out, stderr=subprocess.STDOUT, env=env
                    )
            for address, files in SERVERS.items():
                number = int(address.rsplit(".", 1)[1])
                origin = dns.zone.from_file(str(HIERARCHY / files[0]), relativize=False).origin
                wait_for_dns(f"{prefix}.{number}", port, origin.to_text())
            yield lab
        finally:
            for process in lab.processes.values():
                process.terminate()  # all at once, then each is waited for
            for process in lab.processes.values():
                stop_process(process)


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
