"""Simulation scale: N concurrent simulated browsers loading the demo site in one world.

    python bench/sim_scale.py [--sizes 1,10,100,1000] [--repeat 3] [--seed 1]
                              [--compare OLD.json] [--out bench/results/sim_scale.json]

One :class:`~webtrip.netsim.world.SimWorld` per run, built from netsim's public API
(``add_router``, ``add_host``, ``connect``, ``add_route``): the demo lab's topology as
``webtrip.netsim.lab`` built it at commit 8573e90 — a router; the first browser
(10.0.0.1), the DNS host (10.0.0.2) and the web host (10.0.0.3) on /24 links with a /32
route each; the browser's link 20 ms one way, 10 Mbit/s, MTU 1500 (the lab's
``LinkConditions()``), the servers' 1 ms, 1 Gbit/s — plus browsers 2..N, each on a link of
its own with the browser's conditions (``10.1.x.y/30``). (``lab.py`` is being rewritten
around lab files; the bench keeps its own copy of the topology and of the demo zone
conversion, so that its figures stay comparable.) The DNS server serves the demo zone
with those addresses, the web server the demo site, with the actors of ``lab.run``; every
browser has its own stub resolver and loads ``http://www.webtrip.test/`` (the page and its
four sub-resources) at virtual time 0, all at once, in one ``world.run``. So that 1000
browsers at once are not turned away, the web server listens with a backlog of 4096
(``--backlog``; Linux's default ``somaxconn``) and takes up to 8192 connections
(``--max-connections``; its default, 512, answers 503 beyond).

Measured per run (``time.perf_counter``): the wall time of ``world.run`` — starting the
servers, the N loads, stopping the servers — and, separately, building the world.
*Packets* are every packet sent on a link (``world.packets.sent_on_links()``: each hop of
each packet once), so packets per wall second = packets / run wall time. Every load must
succeed: no error, 5 files, each status 200, else the run is a failure (exit status 1).

Linearity: wall time per browser for each N (median of the repeats), and its ratio to the
N=10 figure (N=1 carries the servers' start-up alone); also without the time spent in
Python's cyclic garbage collector (``gc.callbacks``), which grows faster than N here: a
full collection walks every live object, and the world keeps every packet (the packet
log, the trace). The goal from the issue: at least 100,000 simulated packets per wall
second, and wall time growing linearly with N.

netsim alone: 10 clients each download 1 MiB from one server over a bare SimStream (no
DNS, HTTP or HTML; the same links and router), to show the simulator's own packet rate.

Each run also records a SHA-256 of the world's pcap (all links) and of the packet log
(every record: time, node, interface, direction, bytes, reason): the same seed and code
give the same digests, so two versions of netsim that print the same digests simulated the
same packets, byte for byte — how an optimisation shows that it changed no behaviour.
``--compare OLD.json`` (an earlier result of this bench) puts the old figures beside the new
ones, checks the digests match, and keeps the old run's summary in the JSON.

Output: ``bench/results/sim_scale.json`` (versions, command, every run) and ``.md``.
Exit status: 0 if every load succeeded, 1 if any failed (or digests differ from
``--compare``), 2 if the bench cannot run.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
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

from _common import ROOT, command_output, write_results
from _common import versions as common_versions

DEFAULT_OUT = ROOT / "bench" / "results" / "sim_scale.json"
DEFAULT_SIZES = (1, 10, 100, 1000)
PPS_GOAL = 100_000
LINEAR_TOLERANCE = 1.5  # wall per browser at the largest N ≤ 1.5 × that at N=10: "linear"
EXPECTED_FILES = 5
BULK_CLIENTS = 10
BULK_BYTES = 1 << 20
EXTRA_BROWSERS = ipaddress.IPv4Network("10.1.0.0/16")
DNS_IP, WEB_IP = "10.0.0.2", "10.0.0.3"
SERVER_LINK: dict[str, Any] = {"latency": 0.001, "bandwidth": 1e9}
BROWSER_LINK: dict[str, Any] = {"latency": 0.020, "bandwidth": 10e6, "loss": 0.0, "mtu": 1500}
BACKLOG = 4096  # Linux's default net.core.somaxconn since 5.4
MAX_CONNECTIONS = 8192  # the web server's (its default, 512, answers 503 beyond)


def server_network(world: Any, host: Any, backlog: int) -> Any:
    """``world.network(host)``, whose TCP listeners take ``backlog`` half-open connections."""
    from webtrip.netsim.network import SimNetwork

    class Network(SimNetwork):
        async def start_tcp_server(
            self, handler: Any, host: str, port: int, *, backlog: int = backlog
        ) -> Any:
            return await super().start_tcp_server(handler, host, port, backlog=backlog)

    return Network(world, host)


def versions() -> dict[str, Any]:
    dirty = command_output(["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"])
    return common_versions(
        {"webtrip_src_uncommitted_changes": [line for line in dirty.splitlines() if line]}
    )


def demo_zone() -> Any:
    """The demo zone with the lab's IPv4 addresses (as ``webtrip.netsim.lab`` did at
    commit 8573e90): A records point at the DNS host (``ns``) or the web host, no AAAA."""
    import dns.rdata
    import dns.rdatatype
    import dns.zone

    from webtrip.dns.zones import Zone, ZoneSet
    from webtrip.labs import demo_path

    text = demo_path("zones", "webtrip.test.zone").read_text(encoding="utf-8")
    data = dns.zone.from_text(text, relativize=False, check_origin=False)
    for name, node in list(data.nodes.items()):
        for rdataset in list(node.rdatasets):
            if rdataset.rdtype == dns.rdatatype.AAAA:
                node.delete_rdataset(rdataset.rdclass, rdataset.rdtype)
            elif rdataset.rdtype == dns.rdatatype.A:
                address = DNS_IP if name.labels[0] == b"ns" else WEB_IP
                rdataset.clear()
                rdataset.add(dns.rdata.from_text("IN", "A", address))
        if not node.rdatasets:
            del data.nodes[name]
    return ZoneSet([Zone.from_dnspython(data, "the demo lab (simulated)")])


def build_world(n: int, seed: int) -> tuple[Any, Any, Any, list[Any]]:
    """The demo lab's topology (router; browser, dns, web on 10.0.0.1-3/24, the router's
    ends 10.0.0.251-253, a /32 route to each host), plus n-1 more browsers on /30s."""
    from webtrip.netsim.world import SimWorld

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


def log_digest(world: Any) -> str:
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
    zone: Any,
    max_connections: int = MAX_CONNECTIONS,
) -> list[Any]:
    """Start the DNS server (the demo zone) and the web server (the demo site) on their
    networks, load http://www.webtrip.test/ in a browser on each of ``browser_networks``,
    all at once, and stop the servers: the loads (or their exceptions)."""
    from webtrip.browser.loader import Browser, BrowserOptions
    from webtrip.browser.stub_resolver import StubResolver
    from webtrip.dns.authority import Authority
    from webtrip.dns.server import DnsServer
    from webtrip.labs import demo_path
    from webtrip.web.server import WebServer, WebServerOptions
    from webtrip.web.sites import Site, SiteMap

    site = SiteMap([Site.from_folder("", demo_path("site"))])
    dns_server = DnsServer(dns_network, Authority(zone), trace)
    options = WebServerOptions(max_connections=max_connections)
    web_server = WebServer(web_network, site, trace, options=options)
    await dns_server.start([(DNS_IP, 53)])
    await web_server.start([(WEB_IP, 80)])
    loaders = []
    for network in browser_networks:
        resolver = StubResolver(network, trace, nameserver=(DNS_IP, 53), hosts={}, attempts=5)
        options = BrowserOptions(total_timeout=300)
        loaders.append(Browser(network, resolver, trace, options=options))
    try:
        return await asyncio.gather(
            *(b.load("http://www.webtrip.test/") for b in loaders), return_exceptions=True
        )
    finally:
        await web_server.aclose()
        await dns_server.aclose()


def one_run(
    n: int, seed: int, backlog: int = BACKLOG, max_connections: int = MAX_CONNECTIONS
) -> dict[str, Any]:
    """Build the world with n browsers, load the page in all of them, and measure."""
    gc.collect()
    t0 = time.perf_counter()
    world, dns_host, web_host, browsers = build_world(n, seed)
    trace = world.trace
    zone = demo_zone()
    built = time.perf_counter() - t0

    async def main() -> list[Any]:
        return await serve_and_load(
            world.network(dns_host),
            server_network(world, web_host, backlog),
            [world.network(host) for host in browsers],
            trace,
            zone,
            max_connections,
        )

    gc_time = [0.0, 0.0]  # seconds in the cyclic garbage collector, start of the current pass

    def gc_clock(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_time[1] = time.perf_counter()
        else:
            gc_time[0] += time.perf_counter() - gc_time[1]

    gc.callbacks.append(gc_clock)
    t1 = time.perf_counter()
    try:
        loads = world.run(main())
    finally:
        wall = time.perf_counter() - t1
        gc.callbacks.remove(gc_clock)
    virtual = world.now()
    world.close()
    failures = [f"browser {i + 1}: {e}" for i, load in enumerate(loads) if (e := check_load(load))]
    on_links = world.packets.sent_on_links()
    drops = world.packets.drops()
    return {
        "n": n,
        "wall_s": wall,
        "build_s": built,
        "gc_s": gc_time[0],
        "virtual_s": virtual,
        "packets": len(on_links),
        "packet_bytes": sum(len(r.data) for r in on_links),
        "log_records": len(world.packets),
        "drops": len(drops),
        "trace_events": len(trace),
        "packets_per_wall_s": len(on_links) / wall,
        "wall_ms_per_browser": wall * 1000 / n,
        "failures": failures,
        "pcap_sha256": hashlib.sha256(world.pcap()).hexdigest(),
        "log_sha256": log_digest(world),
    }


def bulk_run(clients: int, size: int, seed: int) -> dict[str, Any]:
    """netsim alone: ``clients`` hosts each download ``size`` bytes from one server over a
    bare SimStream (no DNS, HTTP or HTML): the simulator's own packets per wall second."""
    from webtrip.netsim.world import SimWorld

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


def summarise(runs: list[dict[str, Any]], sizes: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for n in sizes:
        mine = [r for r in runs if r["n"] == n]
        if not mine:
            continue
        wall = statistics.median(r["wall_s"] for r in mine)
        out[str(n)] = {
            "runs": len(mine),
            "wall_s_median": wall,
            "wall_s_min": min(r["wall_s"] for r in mine),
            "wall_s_max": max(r["wall_s"] for r in mine),
            "build_s_median": statistics.median(r["build_s"] for r in mine),
            "gc_s_median": statistics.median(r["gc_s"] for r in mine),
            "packets": mine[0]["packets"],
            "packets_per_browser": mine[0]["packets"] / n,
            "drops": mine[0]["drops"],
            "virtual_s": mine[0]["virtual_s"],
            "packets_per_wall_s": mine[0]["packets"] / wall,
            "wall_ms_per_browser": wall * 1000 / n,
            "deterministic": len({(r["pcap_sha256"], r["log_sha256"]) for r in mine}) == 1,
            "pcap_sha256": mine[0]["pcap_sha256"],
            "log_sha256": mine[0]["log_sha256"],
        }
    for n, s in out.items():
        s["wall_ms_per_browser_without_gc"] = (
            (s["wall_s_median"] - s["gc_s_median"]) * 1000 / int(n)
        )
    base = out.get("10") or next(iter(out.values()), None)
    for s in out.values():
        s["per_browser_vs_n10"] = s["wall_ms_per_browser"] / base["wall_ms_per_browser"]
        s["per_browser_without_gc_vs_n10"] = (
            s["wall_ms_per_browser_without_gc"] / base["wall_ms_per_browser_without_gc"]
        )
    return out


def goals(summary: dict[str, Any]) -> dict[str, Any]:
    pps = {n: s["packets_per_wall_s"] for n, s in summary.items()}
    largest = max(summary, key=int)
    scaled = [n for n in summary if int(n) >= 10]
    worst = max((summary[n]["per_browser_vs_n10"] for n in scaled), default=None)
    worst_without_gc = max(
        (summary[n]["per_browser_without_gc_vs_n10"] for n in scaled), default=None
    )
    return {
        "packets_per_wall_s": {
            "goal": f">= {PPS_GOAL:,} at every N",
            "min": min(pps.values()),
            "met": min(pps.values()) >= PPS_GOAL,
        },
        "linear": {
            "goal": f"wall per browser at N >= 10 within {LINEAR_TOLERANCE}x of N=10",
            "largest_n": int(largest),
            "worst_per_browser_vs_n10": worst,
            "worst_per_browser_without_gc_vs_n10": worst_without_gc,
            "met": worst is not None and worst <= LINEAR_TOLERANCE,
        },
    }


def markdown(report: dict[str, Any]) -> str:
    ver = report["versions"]
    summary = report["summary"]
    lines = [
        f"Run {report['started']} ({report['duration_s']} s), webtrip {ver['webtrip']} "
        f"(commit {ver['webtrip_commit']}"
        + (", src/ with uncommitted changes" if ver["webtrip_src_uncommitted_changes"] else "")
        + f"), Python {ver['python']}, {ver['os']}, kernel {ver['kernel']}, "
        f"{ver['cpu_count']} × {ver['cpu_model']}.",
        "",
        f"`{report['command']}` — {report['args']['repeat']} run(s) per N, seed "
        f"{report['args']['seed']}; one world: router, DNS host, web host and N browser hosts, "
        "each browser on its own 20 ms / 10 Mbit/s link, all loading http://www.webtrip.test/ "
        "(5 files) at virtual time 0. Medians of the runs.",
        "",
        "| N | wall s | min–max s | of which GC s | packets | packets / browser | drops "
        "| virtual s | packets / wall s | wall ms / browser | per browser vs N=10 "
        "| same, without GC |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for n, s in summary.items():
        lines.append(
            f"| {n} | {s['wall_s_median']:.3f} | {s['wall_s_min']:.3f}–{s['wall_s_max']:.3f} "
            f"| {s['gc_s_median']:.3f} | {s['packets']:,} | {s['packets_per_browser']:.1f} "
            f"| {s['drops']} | {s['virtual_s']:.3f} | **{s['packets_per_wall_s']:,.0f}** "
            f"| {s['wall_ms_per_browser']:.2f} | {s['per_browser_vs_n10']:.2f}× "
            f"| {s['per_browser_without_gc_vs_n10']:.2f}× |"
        )
    g = report["goals"]
    pps, lin = g["packets_per_wall_s"], g["linear"]
    lines += [
        "",
        "| goal | result | |",
        "| --- | ---: | --- |",
        f"| ≥ {PPS_GOAL:,} simulated packets per wall second | min {pps['min']:,.0f} "
        f"| **{'met' if pps['met'] else 'not met'}** |",
        f"| linear: wall per browser at N ≥ 10 within {LINEAR_TOLERANCE}× of N=10 "
        f"| worst {lin['worst_per_browser_vs_n10']:.2f}× "
        f"| **{'met' if lin['met'] else 'not met'}** (without the garbage collector's time: "
        f"worst {lin['worst_per_browser_without_gc_vs_n10']:.2f}×) |",
    ]
    bulk = report["bulk"]
    lines += [
        "",
        f"netsim alone (no DNS, HTTP or HTML): {bulk['clients']} clients each download "
        f"{bulk['bytes_each']:,} bytes over a bare SimStream through the router, on the same "
        f"links: {bulk['packets']:,} packets in {bulk['wall_s_median']:.3f} s, "
        f"**{bulk['packets_per_wall_s']:,.0f} packets per wall second**"
        + ("" if bulk["complete"] else " (**incomplete downloads**)")
        + ".",
    ]
    old = report.get("compare")
    if old:
        lines += [
            "",
            f"Before/after (`--compare`, before: {old['started']}, commit "
            f"{old['versions'].get('webtrip_commit')}):",
            "",
            "| N | packets / wall s before | after | speed-up | same pcap and log digests |",
            "| ---: | ---: | ---: | ---: | --- |",
        ]
        b_bulk = old.get("bulk")
        if b_bulk:
            same = b_bulk["pcap_sha256"] == bulk["pcap_sha256"]
            speedup = b_bulk["wall_s_median"] / bulk["wall_s_median"]
            lines.append(
                f"| bulk | {b_bulk['packets_per_wall_s']:,.0f} | {bulk['packets_per_wall_s']:,.0f} "
                f"| {speedup:.2f}× | {'yes' if same else '**no**'} |"
            )
        for n, s in summary.items():
            b = old["summary"].get(n)
            if not b:
                continue
            same = b["pcap_sha256"] == s["pcap_sha256"] and b["log_sha256"] == s["log_sha256"]
            speedup = b["wall_s_median"] / s["wall_s_median"]
            lines.append(
                f"| {n} | {b['packets_per_wall_s']:,.0f} | {s['packets_per_wall_s']:,.0f} "
                f"| {speedup:.2f}× | {'yes' if same else '**no**'} |"
            )
    nondet = [n for n, s in summary.items() if not s["deterministic"]]
    if nondet:
        lines += ["", f"**Runs of the same N gave different packets**: N = {', '.join(nondet)}."]
    if report["failures"]:
        lines += ["", f"**{len(report['failures'])} failed load(s)**, e.g. {report['failures'][0]}"]
    else:
        lines += ["", "Every load succeeded (no error, 5 files, all status 200)."]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="N simulated browsers in one netsim world")
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="values of N")
    parser.add_argument("--repeat", type=int, default=3, help="runs per N")
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
    parser.add_argument("--compare", type=Path, default=None, help="an earlier result (JSON)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    try:
        args.size_list = [int(s) for s in args.sizes.split(",") if s]
    except ValueError:
        parser.error("--sizes: comma-separated integers")
    if not args.size_list or min(args.size_list) < 1 or max(args.size_list) > 16000:
        parser.error("--sizes: between 1 and 16000")
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = "python bench/sim_scale.py " + " ".join(sys.argv[1:] if argv is None else argv)
    old = None
    if args.compare is not None:
        try:
            old = json.loads(args.compare.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            print(f"sim_scale: --compare: {exc}", file=sys.stderr)
            return 2
    started_at = dt.datetime.now(dt.UTC)
    began = time.monotonic()
    runs: list[dict[str, Any]] = []
    for repeat in range(args.repeat):
        for n in args.size_list:
            run = one_run(n, args.seed, args.backlog, args.max_connections)
            run["repeat"] = repeat
            runs.append(run)
            print(
                f"# N={n:5d} run {repeat + 1}: {run['wall_s']:.3f} s, {run['packets']:,} packets, "
                f"{run['packets_per_wall_s']:,.0f} packets/s, {len(run['failures'])} failed",
                file=sys.stderr,
                flush=True,
            )
    bulk = []
    for repeat in range(args.repeat):
        run = bulk_run(BULK_CLIENTS, BULK_BYTES, args.seed)
        run["repeat"] = repeat
        bulk.append(run)
        print(
            f"# bulk {BULK_CLIENTS} x {BULK_BYTES:,} B run {repeat + 1}: {run['wall_s']:.3f} s, "
            f"{run['packets']:,} packets, {run['packets_per_wall_s']:,.0f} packets/s",
            file=sys.stderr,
            flush=True,
        )
    summary = summarise(runs, args.size_list)
    bulk_wall = statistics.median(r["wall_s"] for r in bulk)
    bulk_summary = {
        "clients": BULK_CLIENTS,
        "bytes_each": BULK_BYTES,
        "runs": len(bulk),
        "wall_s_median": bulk_wall,
        "packets": bulk[0]["packets"],
        "packets_per_wall_s": bulk[0]["packets"] / bulk_wall,
        "complete": all(r["complete"] for r in bulk),
        "deterministic": len({r["pcap_sha256"] for r in bulk}) == 1,
        "pcap_sha256": bulk[0]["pcap_sha256"],
    }
    failures = [f for r in runs for f in r["failures"]]
    report: dict[str, Any] = {
        "benchmark": "sim_scale",
        "started": started_at.isoformat(timespec="seconds"),
        "duration_s": round(time.monotonic() - began, 1),
        "command": command,
        "args": {
            "sizes": args.size_list,
            "repeat": args.repeat,
            "seed": args.seed,
            "backlog": args.backlog,
            "max_connections": args.max_connections,
        },
        "versions": versions(),
        "world": {
            "servers": "router; dns 10.0.0.2, web 10.0.0.3 (1 ms, 1 Gbit/s links)",
            "browsers": "10.0.0.1 and 10.1.0.0/16 in /30s, LinkConditions() each "
            "(20 ms, 10 Mbit/s, MTU 1500, no loss)",
            "url": "http://www.webtrip.test/",
            "packets": "world.packets.sent_on_links(): each hop of each packet once",
        },
        "summary": summary,
        "goals": goals(summary),
        "bulk": bulk_summary,
        "bulk_runs": [
            {k: round(v, 6) if isinstance(v, float) else v for k, v in r.items()} for r in bulk
        ],
        "failures": failures,
        "runs": [
            {k: round(v, 6) if isinstance(v, float) else v for k, v in r.items()} for r in runs
        ],
    }
    mismatch = False
    if old is not None:
        report["compare"] = {
            "file": str(args.compare),
            "started": old.get("started"),
            "command": old.get("command"),
            "versions": old.get("versions", {}),
            "summary": old.get("summary", {}),
            "bulk": old.get("bulk"),
        }
        for n, s in summary.items():
            b = old.get("summary", {}).get(n)
            if b and (b["pcap_sha256"], b["log_sha256"]) != (s["pcap_sha256"], s["log_sha256"]):
                mismatch = True
    text = markdown(report)
    write_results(args.out, report, text, indent=1, announce=False)
    print(text)
    if old is not None and old.get("bulk"):
        mismatch = mismatch or old["bulk"]["pcap_sha256"] != bulk_summary["pcap_sha256"]
    nondet = any(not s["deterministic"] for s in summary.values())
    nondet = nondet or not bulk_summary["deterministic"]
    bad_bulk = not bulk_summary["complete"]
    return 1 if failures or mismatch or nondet or bad_bulk else 0


if __name__ == "__main__":
    sys.exit(main())
