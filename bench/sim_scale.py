"""Simulation scale: N simulated browsers loading the demo site at once, in one world.

    python bench/sim_scale.py [--sizes 1,10,100,1000] [--repeat 3] [--seed 1]
                              [--compare OLD.json] [...]

One SimWorld per run, built from netsim's public API with the demo lab's topology as
the lab built it at commit 8573e90 (the bench keeps its own copy, so that
its figures stay comparable): a router; the DNS host 10.0.0.2 and the web host 10.0.0.3
(1 ms, 1 Gbit/s links); N browsers, each on its own link (20 ms, 10 Mbit/s, MTU 1500),
all loading http://www.webtrip.test/ at virtual time 0 in one ``world.run``. Measured:
the wall time of ``world.run``, the garbage collector's share of it, the packets sent on
links, and SHA-256 digests of the pcap and of the packet log (same seed and code: same
digests). Also netsim alone: 10 clients downloading 1 MiB each over bare SimStreams.
Method and caveats: bench/README.md. Exit status: 0 if every load succeeded (and the
digests match ``--compare``), 1 if not, 2 if the bench cannot run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import ipaddress
import json
import statistics
import struct
import sys
import time
from pathlib import Path
from typing import Any

import harness
from webtrip.browser.loader import Browser, BrowserOptions
from webtrip.browser.stub_resolver import StubResolver
from webtrip.dns.authority import Authority
from webtrip.dns.server import DnsServer
from webtrip.dns.zones import ZoneSet, load_zone
from webtrip.labs import demo_path
from webtrip.netsim.network import SimNetwork
from webtrip.netsim.world import SimWorld
from webtrip.web.server import WebServer, WebServerOptions
from webtrip.web.sites import Site, SiteMap

PPS_GOAL = 100_000
LINEAR_TOLERANCE = 1.5  # wall per browser at the largest N ≤ 1.5 × that at N=10: "linear"
EXPECTED_FILES = 5
BULK_CLIENTS, BULK_BYTES = 10, 1 << 20
EXTRA_BROWSERS = ipaddress.IPv4Network("10.1.0.0/16")
DNS_IP, WEB_IP = "10.0.0.2", "10.0.0.3"
SERVER_LINK: dict[str, Any] = {"latency": 0.001, "bandwidth": 1e9}
BROWSER_LINK: dict[str, Any] = {"latency": 0.020, "bandwidth": 10e6, "loss": 0.0, "mtu": 1500}
BACKLOG = 4096  # Linux's default net.core.somaxconn since 5.4
MAX_CONNECTIONS = 8192  # the web server's (its default, 512, answers 503 beyond)


def server_network(world: SimWorld, host: Any, backlog: int) -> SimNetwork:
    """``world.network(host)``, whose TCP listeners take ``backlog`` half-open connections."""

    class Network(SimNetwork):
        async def start_tcp_server(self, handler: Any, host: str, port: int, *,
                                   backlog: int = backlog) -> Any:  # fmt: skip
            return await super().start_tcp_server(handler, host, port, backlog=backlog)

    return Network(world, host)


def demo_zone() -> ZoneSet:
    """The demo zone, which holds the lab's IPv4 addresses (ns 10.0.0.2, www 10.0.0.3)."""
    return ZoneSet([load_zone(demo_path("zones", "webtrip.test.zone"))])


def build_world(n: int, seed: int) -> tuple[SimWorld, Any, Any, list[Any]]:
    """The demo lab's topology (router; browser, dns, web on 10.0.0.1-3/24, the router's
    ends 10.0.0.251-253, a /32 route to each host), plus n-1 more browsers on /30s."""
    world = SimWorld(seed=seed)
    router = world.add_router("router")
    hosts = []
    for number, name in ((1, "browser"), (2, "dns"), (3, "web")):
        host = world.add_host(name)
        options = BROWSER_LINK if name == "browser" else SERVER_LINK
        world.connect(host, f"10.0.0.{number}/24", router, f"10.0.0.{250 + number}/24", **options)
        router.add_route(f"10.0.0.{number}/32", router.interfaces[-1])
        hosts.append(host)
    first, dns_host, web_host = hosts
    browsers = [first]
    subnets = EXTRA_BROWSERS.subnets(new_prefix=30)
    for i in range(2, n + 1):
        subnet = next(subnets)
        host = world.add_host(f"browser{i}")
        world.connect(host, f"{subnet[1]}/30", router, f"{subnet[2]}/30", **BROWSER_LINK)
        browsers.append(host)
    return world, dns_host, web_host, browsers


def check_load(load: Any) -> str | None:
    """What is wrong with a page load (None: no error, 5 files, all status 200)."""
    if isinstance(load, BaseException):
        return f"{type(load).__name__}: {load}"
    if load.error is not None:
        return f"{load.error.kind}: {load.error}"
    bad = [
        f"{f.url}: {f.error or f.response.status}"
        for f in load.fetched
        if f.error is not None or f.response is None or f.response.status != 200
    ]
    if bad:
        return "; ".join(bad)
    if len(load.fetched) != EXPECTED_FILES:
        return f"{len(load.fetched)} files fetched, expected {EXPECTED_FILES}"
    return None


def log_digest(world: SimWorld) -> str:
    """SHA-256 of the whole packet log: time, node, interface, direction, reason, bytes."""
    digest = hashlib.sha256()
    pack = struct.Struct("<dI").pack
    for r in world.packets:
        head = f"{r.node}\0{r.interface}\0{r.direction}\0{r.reason}\0".encode()
        digest.update(pack(r.t, len(r.data)) + head + r.data)
    return digest.hexdigest()


async def serve_and_load(
    dns_network: Any,
    web_network: Any,
    browser_networks: list[Any],
    trace: Any,
    zone: ZoneSet,
    max_connections: int = MAX_CONNECTIONS,
) -> list[Any]:
    """Start the DNS server (the demo zone) and the web server (the demo site), load
    http://www.webtrip.test/ in a browser on each of ``browser_networks``, all at once,
    and stop the servers: the loads (or their exceptions)."""
    site = SiteMap([Site.from_folder("", demo_path("site"))])
    dns_server = DnsServer(dns_network, Authority(zone), trace)
    options = WebServerOptions(max_connections=max_connections)
    web_server = WebServer(web_network, site, trace, options=options)
    await dns_server.start([(DNS_IP, 53)])
    await web_server.start([(WEB_IP, 80)])
    loaders = []
    for network in browser_networks:
        resolver = StubResolver(network, trace, nameserver=(DNS_IP, 53), hosts={}, attempts=5)
        loaders.append(Browser(network, resolver, trace, options=BrowserOptions(total_timeout=300)))
    try:
        loads = (browser.load("http://www.webtrip.test/") for browser in loaders)
        return await asyncio.gather(*loads, return_exceptions=True)
    finally:
        await web_server.aclose()
        await dns_server.aclose()


class GcClock:
    """Seconds spent in Python's cyclic garbage collector while installed."""

    def __init__(self) -> None:
        self.total = self.started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        else:
            self.total += time.perf_counter() - self.started


def one_run(
    n: int, seed: int, backlog: int = BACKLOG, max_connections: int = MAX_CONNECTIONS
) -> dict[str, Any]:
    """Build the world with n browsers, load the page in all of them, and measure."""
    gc.collect()
    t0 = time.perf_counter()
    world, dns_host, web_host, browsers = build_world(n, seed)
    zone = demo_zone()
    built = time.perf_counter() - t0
    main = serve_and_load(
        world.network(dns_host),
        server_network(world, web_host, backlog),
        [world.network(host) for host in browsers],
        world.trace,
        zone,
        max_connections,
    )
    clock = GcClock()
    gc.callbacks.append(clock)
    t1 = time.perf_counter()
    try:
        loads = world.run(main)
    finally:
        wall = time.perf_counter() - t1
        gc.callbacks.remove(clock)
    virtual = world.now()
    world.close()
    on_links = world.packets.sent_on_links()
    return {
        "n": n,
        "wall_s": wall,
        "build_s": built,
        "gc_s": clock.total,
        "virtual_s": virtual,
        "packets": len(on_links),
        "packet_bytes": sum(len(r.data) for r in on_links),
        "log_records": len(world.packets),
        "drops": len(world.packets.drops()),
        "trace_events": len(world.trace),
        "packets_per_wall_s": len(on_links) / wall,
        "wall_ms_per_browser": wall * 1000 / n,
        "failures": [
            f"browser {i + 1}: {e}" for i, load in enumerate(loads) if (e := check_load(load))
        ],
        "pcap_sha256": hashlib.sha256(world.pcap()).hexdigest(),
        "log_sha256": log_digest(world),
    }


def bulk_run(clients: int, size: int, seed: int) -> dict[str, Any]:
    """netsim alone: ``clients`` hosts each download ``size`` bytes from one server over a
    bare SimStream (no DNS, HTTP or HTML): the simulator's own packets per wall second."""
    gc.collect()
    world = SimWorld(seed=seed)
    router = world.add_router("router")
    server = world.add_host("server")
    world.connect(server, f"{WEB_IP}/24", router, "10.0.0.253/24", **SERVER_LINK)
    router.add_route(f"{WEB_IP}/32", router.interfaces[-1])
    hosts = []
    subnets = EXTRA_BROWSERS.subnets(new_prefix=30)
    for i in range(clients):
        subnet = next(subnets)
        host = world.add_host(f"client{i + 1}")
        world.connect(host, f"{subnet[1]}/30", router, f"{subnet[2]}/30", **BROWSER_LINK)
        hosts.append(host)
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)

    async def handler(stream: Any) -> None:
        await stream.send_all(payload)
        await stream.aclose()

    async def download(host: Any) -> int:
        stream = await world.network(host).open_tcp_stream(WEB_IP, 80)
        received = 0
        while data := await stream.receive_some():
            received += len(data)
        await stream.aclose()
        return received

    async def main() -> list[int]:
        await world.network(server).start_tcp_server(handler, WEB_IP, 80)
        return await asyncio.gather(*(download(h) for h in hosts))

    t0 = time.perf_counter()
    received = world.run(main())
    wall = time.perf_counter() - t0
    world.close()
    packets = len(world.packets.sent_on_links())
    return {
        "clients": clients,
        "bytes_each": size,
        "wall_s": wall,
        "packets": packets,
        "packets_per_wall_s": packets / wall,
        "complete": all(r == size for r in received),
        "pcap_sha256": hashlib.sha256(world.pcap()).hexdigest(),
    }


# ---------------------------------------------------------------------------------------
# Summary and report.


def summarise(runs: list[dict[str, Any]], sizes: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for n in sizes:
        mine = [r for r in runs if r["n"] == n]
        wall = statistics.median(r["wall_s"] for r in mine)
        gc_s = statistics.median(r["gc_s"] for r in mine)
        out[str(n)] = {
            "runs": len(mine),
            "wall_s_median": wall,
            "wall_s_min": min(r["wall_s"] for r in mine),
            "wall_s_max": max(r["wall_s"] for r in mine),
            "build_s_median": statistics.median(r["build_s"] for r in mine),
            "gc_s_median": gc_s,
            "packets": mine[0]["packets"],
            "packets_per_browser": mine[0]["packets"] / n,
            "drops": mine[0]["drops"],
            "virtual_s": mine[0]["virtual_s"],
            "packets_per_wall_s": mine[0]["packets"] / wall,
            "wall_ms_per_browser": wall * 1000 / n,
            "wall_ms_per_browser_without_gc": (wall - gc_s) * 1000 / n,
            "deterministic": len({(r["pcap_sha256"], r["log_sha256"]) for r in mine}) == 1,
            "pcap_sha256": mine[0]["pcap_sha256"],
            "log_sha256": mine[0]["log_sha256"],
        }
    base = out.get("10") or next(iter(out.values()))
    for s in out.values():
        s["per_browser_vs_n10"] = s["wall_ms_per_browser"] / base["wall_ms_per_browser"]
        s["per_browser_without_gc_vs_n10"] = (
            s["wall_ms_per_browser_without_gc"] / base["wall_ms_per_browser_without_gc"]
        )
    return out


def bulk_summary(bulk: list[dict[str, Any]]) -> dict[str, Any]:
    wall = statistics.median(r["wall_s"] for r in bulk)
    return {
        "clients": BULK_CLIENTS,
        "bytes_each": BULK_BYTES,
        "runs": len(bulk),
        "wall_s_median": wall,
        "packets": bulk[0]["packets"],
        "packets_per_wall_s": bulk[0]["packets"] / wall,
        "complete": all(r["complete"] for r in bulk),
        "deterministic": len({r["pcap_sha256"] for r in bulk}) == 1,
        "pcap_sha256": bulk[0]["pcap_sha256"],
    }


TABLE = """\
| N | wall s | min–max s | of which GC s | packets | packets / browser | drops | virtual s \
| packets / wall s | wall ms / browser | per browser vs N=10 | same, without GC |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"""
ROW = (
    "| {n} | {wall_s_median:.3f} | {wall_s_min:.3f}–{wall_s_max:.3f} | {gc_s_median:.3f} "
    "| {packets:,} | {packets_per_browser:.1f} | {drops} | {virtual_s:.3f} "
    "| **{packets_per_wall_s:,.0f}** | {wall_ms_per_browser:.2f} | {per_browser_vs_n10:.2f}× "
    "| {per_browser_without_gc_vs_n10:.2f}× |"
)
GOALS = """\
| goal | result | |
|---|---:|---|
| ≥ {goal:,} simulated packets per wall second | min {pps:,.0f} | **{pps_met}** |
| linear: wall per browser at N ≥ 10 within {tolerance}× of N=10 | worst {worst:.2f}× \
| **{linear_met}** (without the garbage collector's time: worst {worst_without_gc:.2f}×) |
"""
BULK = (
    "netsim alone (no DNS, HTTP or HTML): {clients} clients each download {bytes_each:,} bytes "
    "over a bare SimStream through the router, on the same links: {packets:,} packets in "
    "{wall_s_median:.3f} s, **{packets_per_wall_s:,.0f} packets per wall second**."
)
COMPARE = """\
| N | packets / wall s before | after | speed-up | same pcap and log digests |
|---:|---:|---:|---:|---|"""


def markdown(report: dict[str, Any]) -> str:
    args, ver = report["args"], report["versions"]
    runs = [run for run in report["runs"] if "n" in run]
    summary = report["summary"] = summarise(runs, args["sizes"])
    bulk = report["bulk"] = bulk_summary([run for run in report["runs"] if "clients" in run])
    scaled = [s for n, s in summary.items() if int(n) >= 10]
    goals = report["goals"] = {
        "goal": PPS_GOAL,
        "tolerance": LINEAR_TOLERANCE,
        "pps": min(s["packets_per_wall_s"] for s in summary.values()),
        "worst": max((s["per_browser_vs_n10"] for s in scaled), default=0.0),
        "worst_without_gc": max((s["per_browser_without_gc_vs_n10"] for s in scaled), default=0),
    }
    goals["pps_met"] = "met" if goals["pps"] >= PPS_GOAL else "not met"
    goals["linear_met"] = "met" if goals["worst"] <= LINEAR_TOLERANCE else "not met"
    dirty = (
        ", src/ with uncommitted changes" if report["webtrip_source"]["src_changes_vs_head"] else ""
    )
    lines = [
        f"Run {report['started_at']}, webtrip {ver['webtrip']} (commit {ver['webtrip_commit']}"
        f"{dirty}), {harness.machine_text(ver)}.",
        "",
        f"`{report['command']}` — {args['repeat']} run(s) per N, seed {args['seed']}; one "
        "world: router, DNS host, web host and N browser hosts, each browser on its own "
        "20 ms / 10 Mbit/s link, all loading http://www.webtrip.test/ (5 files) at virtual "
        "time 0. Medians of the runs.",
        "",
        TABLE,
        *(harness.fill(ROW, s | {"n": n}) for n, s in summary.items()),
        "",
        GOALS.format(**goals),
        BULK.format(**bulk) + ("" if bulk["complete"] else " **Incomplete downloads.**"),
        "",
    ]
    if old := report.get("compare"):
        lines += [
            f"Before/after (`--compare`, before: {old['started_at']}, commit "
            f"{old['versions'].get('webtrip_commit')}):",
            "",
            COMPARE,
        ]
        for n, s in [("bulk", bulk), *summary.items()]:
            if b := (old.get("bulk") if n == "bulk" else old.get("summary", {}).get(n)):
                same = all(b.get(k) == s.get(k) for k in ("pcap_sha256", "log_sha256"))
                report["digests_differ"] = report.get("digests_differ", False) or not same
                speed_up = b["wall_s_median"] / s["wall_s_median"]
                lines.append(
                    f"| {n} | {b['packets_per_wall_s']:,.0f} | {s['packets_per_wall_s']:,.0f} "
                    f"| {speed_up:.2f}× | {'yes' if same else '**no**'} |"
                )
        lines.append("")
    if nondet := [n for n, s in summary.items() if not s["deterministic"]]:
        lines += [f"**Runs of the same N gave different packets**: N = {', '.join(nondet)}.", ""]
    failures = [f for r in runs for f in r["failures"]]
    ok = "Every load succeeded (no error, 5 files, all status 200)."
    lines += [f"**{len(failures)} failed load(s)**, e.g. {failures[0]}" if failures else ok, ""]
    noise = harness.noise_text(report["runs"], report["discarded_runs"], args["max_other_load"])
    return "\n".join([*lines, noise])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,100,1000", help="values of N (1 to 16000)")
    parser.add_argument("--repeat", type=harness.at_least(1), default=3, help="runs per N")
    parser.add_argument("--seed", type=int, default=1, help="the world's seed")
    parser.add_argument(
        "--backlog", type=int, default=BACKLOG, help="the web server's listen backlog"
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        default=MAX_CONNECTIONS,
        help="the web server's connection limit",
    )
    parser.add_argument("--compare", type=Path, help="an earlier result of this bench (JSON)")
    harness.add_options(parser, "sim_scale", rev=False, servers=False)
    args = parser.parse_args(argv)
    try:
        args.sizes = [int(s) for s in args.sizes.split(",") if s]
    except ValueError:
        parser.error("--sizes: comma-separated integers")
    if not args.sizes or min(args.sizes) < 1 or max(args.sizes) > 16000:
        parser.error("--sizes: between 1 and 16000")
    return args


def measure(rnd: int, size: str, args: argparse.Namespace) -> harness.Run:
    """One world of ``size`` browsers, or ("bulk") netsim alone."""
    if size == "bulk":
        run = harness.metered(lambda: bulk_run(BULK_CLIENTS, BULK_BYTES, args.seed))
    else:
        run = harness.metered(
            lambda: one_run(int(size), args.seed, args.backlog, args.max_connections)
        )
    return run() | {"round": rnd}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = harness.start_report("sim_scale", args, argv)
    report |= {"webtrip_source": harness.webtrip_source(None, harness.ROOT)[1]}
    if args.compare is not None:
        try:
            old = json.loads(args.compare.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise harness.BenchError(f"--compare: {exc}") from exc
        report["compare"] = {k: old.get(k) for k in ("command", "versions", "summary", "bulk")}
        report["compare"] |= {"file": str(args.compare), "started_at": old.get("started_at")}
    report |= {"runs": [], "discarded_runs": []}
    args.rounds = args.repeat
    status = "{wall_s:.3f} s, {packets:,} packets, {packets_per_wall_s:,.0f} packets/s"
    with harness.saved(report, args.out, markdown):
        sizes = [*map(str, args.sizes), "bulk"]
        harness.run_rounds(
            report, args, [sizes], lambda rnd, size: measure(rnd, size, args), status
        )
    summary, bulk = report["summary"], report["bulk"]
    bad = any(r.get("failures") for r in report["runs"]) or report.get("digests_differ")
    bad = bad or not all(s["deterministic"] for s in summary.values())
    return 1 if bad or not bulk["complete"] or not bulk["deterministic"] else 0


if __name__ == "__main__":
    sys.exit(harness.main(main))
