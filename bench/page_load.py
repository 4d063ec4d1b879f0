"""Whole page loads on loopback: webtrip's Browser (tracing on / off) vs sequential httpx.

    python bench/page_load.py [--loads 200] [--warmup 10] [--delay-ms 20] [--seed 1] [...]

The demo site is served by ``python -m webtrip web serve`` (CPU 0) and loaded in this
process (CPU 1) by the Browser with a real Trace, with NULL_TRACE, and by one
``httpx.Client`` per load fetching the same files one after the other with the browser's
own request headers; ``delayed`` puts an asyncio proxy that holds each response's first
bytes for ``--delay-ms`` in front of the server (``page_load.py --proxy`` runs it). Each
round runs the six variants once in a shuffled order. Method, checks and caveats:
bench/README.md. Exit status: 0 if every load succeeded, 1 if one failed, 2 if the
bench cannot run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import random
import signal
import socket
import ssl
import statistics
import sys
import time
import urllib.parse
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import harness
from webtrip.browser.loader import Browser, BrowserOptions
from webtrip.browser.stub_resolver import StubResolver
from webtrip.labs import demo_path
from webtrip.net import RealNetwork
from webtrip.trace import NULL_TRACE, HttpRequestQueued, HttpRequestSent, Trace

HOST = harness.HOST
NAME = "www.webtrip.test"
CLIENTS = ("webtrip-trace", "webtrip-notrace", "httpx")
CONFIGS = ("direct", "delayed")
OVERHEAD_GOAL = 1.10  # tracing on ÷ off, page load wall time
Result = tuple[float, float, str | None]  # a load's wall time and CPU time (s), its error
Load = Callable[[], Result]
Run = dict[str, Any]


async def delaying_proxy(listen: int, upstream: int, delay: float) -> None:
    """Relay 127.0.0.1:``listen`` to ``upstream``, holding the first bytes of each response
    (the first bytes from the server after a request was passed on) for ``delay`` s."""

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(HOST, upstream)
        except OSError:
            client_w.close()
            return
        awaiting = asyncio.Event()  # a request was passed on, its response not yet started

        async def to_server() -> None:
            while data := await client_r.read(65536):
                awaiting.set()
                server_w.write(data)
                await server_w.drain()
            if server_w.can_write_eof():
                server_w.write_eof()

        async def to_client() -> None:
            while data := await server_r.read(65536):
                if awaiting.is_set():
                    awaiting.clear()
                    await asyncio.sleep(delay)  # the first byte of this response, late
                client_w.write(data)
                await client_w.drain()

        to_s, to_c = asyncio.ensure_future(to_server()), asyncio.ensure_future(to_client())
        try:
            # Normally the client closes first (its EOF is passed on, then the server
            # closes and to_client ends), or the server does; an error ends it at once.
            done, _ = await asyncio.wait([to_s, to_c], return_when=asyncio.FIRST_COMPLETED)
            if to_c not in done and to_s.exception() is None:
                await asyncio.wait([to_c], timeout=5.0)
        finally:
            for task in (to_s, to_c):
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
            for writer in (client_w, server_w):
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()

    server = await asyncio.start_server(handle, HOST, listen, reuse_address=True)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    async with server:
        await stop.wait()


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((HOST, port)) == 0


def _same_body(response: Any, expected: bytes) -> bool:
    """The bytes for what the browser keeps (HTML, CSS, scripts), the decoded size and
    SHA-256 for what it streams through (images, fonts)."""
    if response.kept:
        return bool(response.body == expected)
    digest = hashlib.sha256(expected).hexdigest()
    return bool(response.decoded_size == len(expected) and response.sha256 == digest)


class Clients:
    """Loads the page with each client; each load returns (wall s, CPU s, error or None)."""

    def __init__(self, site: Path) -> None:
        import httpx  # the bench extra: main() says so if it is missing

        self.httpx = httpx
        self.site = site
        self.loop = asyncio.new_event_loop()
        self.ssl_context = ssl.create_default_context()
        self.paths: list[str] = []  # the page's files, in the browser's order
        self.headers: dict[str, list[tuple[str, str]]] = {}  # what the browser sent, by path
        self.events: list[int] = []  # events recorded per traced load

    def file(self, path: str) -> bytes:
        target = self.site / path.lstrip("/")
        return (target / "index.html" if path.endswith("/") else target).read_bytes()

    async def _browse(self, port: int, traced: bool) -> tuple[float, float, Any, Any]:
        network = RealNetwork()
        trace = Trace(network.now) if traced else NULL_TRACE
        resolver = StubResolver(network, trace, hosts={NAME: [HOST]})
        browser = Browser(network, resolver, trace, options=BrowserOptions())
        cpu0, t0 = time.process_time(), time.perf_counter()
        page = await browser.load(f"http://{NAME}:{port}/")
        return time.perf_counter() - t0, time.process_time() - cpu0, page, trace

    def webtrip(self, port: int, traced: bool = True, check_bytes: bool = False) -> Result:
        wall, cpu, page, trace = self.loop.run_until_complete(self._browse(port, traced))
        if traced:
            self.events.append(len(trace))
        if page.error is not None:
            return wall, cpu, f"webtrip: {page.error.kind}: {page.error}"
        bad = [
            f"{f.url}: {f.error or f.response.status}"
            for f in page.fetched
            if f.error is not None or f.response is None or f.response.status != 200
        ]
        if not bad and self.paths and len(page.fetched) != len(self.paths):
            bad = [f"{len(page.fetched)} files fetched, expected {len(self.paths)}"]
        if not bad and check_bytes:
            paths = [urllib.parse.urlsplit(f.url).path for f in page.fetched]
            bad = [
                f"{p}: not the file"
                for f, p in zip(page.fetched, paths, strict=True)
                if not _same_body(f.response, self.file(p))
            ]
        return wall, cpu, "webtrip: " + "; ".join(bad) if bad else None

    def discover(self, port: int) -> None:
        """Load once with the browser: the page's files in its order, and its headers."""
        _, _, page, trace = self.loop.run_until_complete(self._browse(port, True))
        self.paths = [urllib.parse.urlsplit(f.url).path for f in page.fetched]
        urls = {event.request: event.url for event in trace.of_type(HttpRequestQueued)}
        for event in trace.of_type(HttpRequestSent):
            path = urllib.parse.urlsplit(urls[event.request]).path
            self.headers[path] = [(k, v) for k, v in event.headers if k.lower() != "host"]

    def httpx_load(self, port: int, check_bytes: bool = False) -> Result:
        """The same files one after the other on one keep-alive Client (its construction
        not timed, its closing timed), with the browser's headers and Host."""
        gets = [(path, [("Host", f"{NAME}:{port}"), *self.headers[path]]) for path in self.paths]
        client = self.httpx.Client(verify=self.ssl_context, timeout=10.0, http2=False)
        problems = []
        cpu0, t0 = time.process_time(), time.perf_counter()
        try:
            for path, headers in gets:
                response = client.get(f"http://{HOST}:{port}{path}", headers=headers)
                if response.status_code != 200:
                    problems.append(f"{path}: {response.status_code}")
                elif check_bytes and response.content != self.file(path):
                    problems.append(f"{path}: not the file")
        except self.httpx.HTTPError as exc:
            problems.append(f"{type(exc).__name__}: {exc}")
        finally:
            client.close()
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        return wall, cpu, "httpx: " + "; ".join(problems) if problems else None


def measure(variants: list[tuple[str, Load]], groups: list[int], args: argparse.Namespace) -> Run:
    """Warm-up loads, then rounds of every variant once in a shuffled order."""
    for _ in range(args.warmup):
        for _, load in variants:
            load()
    loads: dict[str, list[dict[str, float]]] = {name: [] for name, _ in variants}
    failures = []
    rng = random.Random(args.seed)
    before = harness.snapshot()
    for number in range(args.loads):
        if time.monotonic() - before.at > args.max_seconds:
            break
        order = list(variants)
        rng.shuffle(order)
        for position, (name, load) in enumerate(order):
            wall, cpu, error = load()
            if error:
                failures.append(f"round {number} {name}: {error}")
                continue
            sample = {"round": number, "position": position, "wall_ms": wall * 1000}
            loads[name].append(sample | {"cpu_ms": cpu * 1000})
    cpu = harness.cpu_use(before, harness.snapshot(), groups)
    rounds = 1 + max((s["round"] for samples in loads.values() for s in samples), default=-1)
    result = {"rounds_done": rounds, "loads": loads}
    run = {"round": 1, "server": "all", "result": result, "failures": failures, "cpu": cpu}
    return run | {"other_load_pct": cpu["other_load_pct"]}


def status(run: Run) -> str:
    loads = run["result"]["loads"].items()
    medians = [f"{name} {statistics.median(s['wall_ms'] for s in x):.2f}" for name, x in loads if x]
    return f"{run['result']['rounds_done']} rounds; median ms: {', '.join(medians)}"


def p90(values: list[float]) -> float:
    """The 0.9 quantile, interpolated between order statistics."""
    return (
        statistics.quantiles(values, n=10, method="inclusive")[8] if len(values) > 1 else values[0]
    )


def ratio(
    loads: dict[str, list[dict[str, float]]], top: str, bottom: str, field: str
) -> Run | None:
    """top ÷ bottom: of the medians, the median of the per-round ratios, of the p90s."""
    a, b = ({s["round"]: s[field] for s in loads.get(v, [])} for v in (top, bottom))
    value = harness.paired_ratio(a, b)
    return value and value | {"ratio_of_p90": p90(list(a.values())) / p90(list(b.values()))}


# (name, top variant, bottom variant, field, goal: the ratio of the medians is below it)
RATIOS = (
    ("tracing on / off", "webtrip-trace", "webtrip-notrace", "wall_ms", OVERHEAD_GOAL),
    ("tracing on / off, client CPU time", "webtrip-trace", "webtrip-notrace", "cpu_ms", None),
    ("webtrip (tracing off) / httpx", "webtrip-notrace", "httpx", "wall_ms", 1.0),
    ("webtrip (tracing on) / httpx", "webtrip-trace", "httpx", "wall_ms", 1.0),
)
TABLE = """\
| configuration | client | loads | median ms | p90 ms | mean ms | min ms | client CPU ms (median) |
|---|---|---:|---:|---:|---:|---:|---:|"""
ROW = (
    "| {config} | {client} | {loads} | {median_ms:.2f} | {p90_ms:.2f} | {mean_ms:.2f} "
    "| {min_ms:.2f} | {cpu_median_ms:.2f} |"
)
RATIO_TABLE = """\
| ratio (wall time) | configuration | of medians | median of per-round ratios | of p90 | goal |
|---|---|---:|---:|---:|---|"""
RATIO_ROW = (
    "| {name} | {config} | {ratio[ratio_of_medians]:.3f} "
    "| {ratio[median_of_paired_round_ratios]:.3f} | {ratio[ratio_of_p90]:.3f} | {verdict} |"
)


def markdown(report: dict[str, Any]) -> str:
    ver, args, pin = report["versions"], report["args"], report["pinning"]
    run = report["runs"][-1] if report["runs"] else {"result": {"loads": {}, "rounds_done": 0}}
    loads = run["result"]["loads"]
    report["summary"] = {}
    lines = [TABLE]
    for name, samples in loads.items():
        wall = [s["wall_ms"] for s in samples]
        config, client = name.split("/")
        if not wall:
            continue
        s = report["summary"][name] = {
            "loads": len(wall),
            "median_ms": statistics.median(wall),
            "p90_ms": p90(wall),
            "mean_ms": statistics.fmean(wall),
            "min_ms": min(wall),
            "max_ms": max(wall),
            "cpu_median_ms": statistics.median(s["cpu_ms"] for s in samples),
        }
        lines.append(harness.fill(ROW, s | {"config": config, "client": client}))
    lines += ["", RATIO_TABLE]
    report["ratios"] = []
    for config in args["configs"]:
        for name, top, bottom, field, goal in RATIOS:
            r = ratio(loads, f"{config}/{top}", f"{config}/{bottom}", field)
            item = {"name": name, "config": config, "ratio": r, "goal": goal}
            report["ratios"].append(item)
            if r is not None:
                met = "met" if goal and r["ratio_of_medians"] < goal else "not met"
                lines.append(
                    harness.fill(
                        RATIO_ROW, item | {"verdict": f"< {goal:g}: **{met}**" if goal else ""}
                    )
                )
    dirty = (
        ", src/ with uncommitted changes" if report["webtrip_source"]["src_changes_vs_head"] else ""
    )
    pinned = f"Server and proxy on CPU {pin['server_cpu']}, clients on CPU {pin['client_cpu']}."
    paths = report["page"]["paths"]
    busy = ", ".join(
        f"{cpu} {pct:g} %" for cpu, pct in run.get("cpu", {}).get("busy_pct", {}).items()
    )
    lines[:0] = [
        f"Run {report['started_at']}, webtrip {ver['webtrip']} (commit {ver['webtrip_commit']}"
        f"{dirty}), httpx {ver['httpx']} (httpcore {ver['httpcore']}, h11 {ver['h11']}), "
        f"{harness.machine_text(ver)}.",
        "",
        f"`{report['command']}`: {run['result']['rounds_done']} rounds (of {args['loads']}), each "
        f"running every variant once in a shuffled order, after {args['warmup']} warm-up loads "
        f"per variant; the page: {len(paths)} files ({', '.join(paths)}); delay "
        f"{args['delay_ms']:g} ms per response in `delayed`. "
        + (pinned if pin["enabled"] else f"No CPU pinning ({pin['reason']})."),
        "",
    ]
    lines += [
        "",
        f"Busy CPUs during the measurement: {busy}. "
        + harness.noise_text(report["runs"], report["discarded_runs"], args["max_other_load"]),
    ]
    if events := report.get("traced_events_per_load"):
        lines += ["", f"A traced load records {events:g} events (median)."]
    if failures := run.get("failures"):
        lines += ["", f"**{len(failures)} failed load(s)**, e.g. {failures[0]}"]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    at_least = harness.at_least
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=at_least(1), default=200, help="measured loads each")
    parser.add_argument("--warmup", type=at_least(0), default=10, help="unmeasured loads each")
    parser.add_argument("--delay-ms", type=float, default=20.0, help="the proxy's delay")
    parser.add_argument("--max-seconds", type=float, default=900.0, help="measure at most this")
    parser.add_argument("--configs", type=harness.comma_list(CONFIGS), default=",".join(CONFIGS))
    parser.add_argument("--site", type=Path, default=None, help="default: the demo site")
    parser.add_argument("--seed", type=int, default=1, help="seed of the per-round order")
    parser.add_argument("--proxy", nargs=3, type=float, help=argparse.SUPPRESS)
    harness.add_options(parser, "page_load", rev=False)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.proxy:
        listen, upstream, delay_ms = args.proxy
        asyncio.run(delaying_proxy(int(listen), int(upstream), delay_ms / 1000))
        return 0
    try:
        clients = Clients((args.site or demo_path("site")).resolve())
    except ImportError:
        print("page_load needs httpx: pip install -e '.[bench]'", file=sys.stderr)
        return 2
    packages = ("httpx", "httpcore", "h11", "httptools")
    report = harness.start_report("page_load", args, argv, packages=packages)
    pin = harness.pinning(not args.no_pin)
    if pin["enabled"]:
        os.sched_setaffinity(0, {harness.CLIENT_CPU})
    ports = {"direct": harness.free_port(), "delayed": harness.free_port()}
    server = [sys.executable, "-m", "webtrip", "web", "serve", str(clients.site)]
    server += ["--listen", f"{HOST}:{ports['direct']}"]
    proxy = [sys.executable, str(Path(__file__).resolve()), "--proxy", str(ports["delayed"])]
    proxy += [str(ports["direct"]), f"{args.delay_ms:g}"]
    commands = {"direct": server, "delayed": proxy}
    report |= {"pinning": pin, "webtrip_source": harness.webtrip_source(None, harness.ROOT)[1]}
    report |= {"commands": commands, "runs": [], "discarded_runs": []}
    env = dict(os.environ, NO_COLOR="1")
    with (
        harness.workdir("webtrip-page-load-", args.keep_tmp) as work,
        contextlib.ExitStack() as stack,
    ):
        try:
            groups = []
            for config in args.configs:  # the server, then the proxy in front of it
                port, launch = ports[config], harness.Launch(commands[config], env)
                ready = lambda port=port: listening(port)  # noqa: E731
                pin_server = harness.pin_prefix(pin, harness.SERVER_CPU)
                proc = stack.enter_context(
                    harness.running(launch, work / f"{config}.log", ready, pin_server)
                )
                groups.append(proc.pid)
            clients.discover(ports["direct"])
            for config in args.configs:  # every client gets every file, the bytes of the file
                for load in (
                    clients.webtrip,
                    partial(clients.webtrip, traced=False),
                    clients.httpx_load,
                ):
                    if error := load(ports[config], check_bytes=True)[2]:
                        raise harness.BenchError(error)
        except harness.BenchError as exc:
            print(f"page_load: {exc}", file=sys.stderr)
            return 2
        report["page"] = {
            "site": str(clients.site),
            "paths": clients.paths,
            "url_webtrip": f"http://{NAME}:PORT/ with hosts={{{NAME!r}: [{HOST!r}]}}",
            "url_httpx": f"http://{HOST}:PORT/PATH with Host: {NAME}:PORT",
        }
        variants: list[tuple[str, Load]] = []
        for config in args.configs:
            port = ports[config]
            variants += [
                (f"{config}/webtrip-trace", partial(clients.webtrip, port)),
                (f"{config}/webtrip-notrace", partial(clients.webtrip, port, traced=False)),
                (f"{config}/httpx", partial(clients.httpx_load, port)),
            ]
        with harness.saved(report, args.out, markdown):
            clients.events.clear()
            measured = partial(measure, variants, groups, args)
            kept, discarded = harness.quiet_run(measured, args, "page loads", status)
            report["runs"].append(kept)
            report["discarded_runs"] += discarded
            events = statistics.median(clients.events) if clients.events else None
            report["traced_events_per_load"] = events
    clients.loop.close()
    return 1 if report["runs"][0]["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
