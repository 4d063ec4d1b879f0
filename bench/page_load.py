"""Whole page loads on loopback: webtrip's Browser (tracing on / off) vs sequential httpx.

    python bench/page_load.py [--loads 200] [--warmup 10] [--delay-ms 20]
                              [--max-seconds 900] [--wait-quiet-minutes 0]
                              [--seed 1] [--no-pin] [--out bench/results/page_load.json]

The demo site (src/webtrip/labs/demo/site: index.html and the four files it needs --
a stylesheet, a script, an icon and an image) is served by ``python -m webtrip web
serve SITE --listen 127.0.0.1:PORT`` in a subprocess, and loaded in this process by

* ``webtrip-trace``: webtrip's Browser, with a real ``Trace`` (every event kept);
* ``webtrip-notrace``: the same with ``NULL_TRACE`` (tracing off);
* ``httpx``: one ``httpx.Client`` per page load fetching the same URLs one after the
  other (document first, then each sub-resource in the browser's order), keep-alive,
  the same request headers as the browser (``Accept-Encoding: gzip, deflate``, Accept,
  User-Agent, Accept-Language), reading and decoding every body.

The browser opens ``http://www.webtrip.test:PORT/`` with ``hosts={"www.webtrip.test":
["127.0.0.1"]}`` (a name, found in its hosts table: no DNS message is sent); httpx opens
``http://127.0.0.1:PORT/...`` with ``Host: www.webtrip.test:PORT``, so the server sees
the same requests. Every load starts without a connection: the Browser closes its
connections at the end of ``load()``, and httpx gets a new Client (its construction,
outside the timing, shares one SSL context). The timing is ``Browser.load(url)``, and for
httpx the fetches plus ``Client.close()``.

Two server configurations:

* ``direct``: the clients talk to the server;
* ``delayed``: through a small asyncio TCP proxy of this script (a subprocess, loopback
  only) that holds the first bytes of every response for ``--delay-ms`` (20 ms) before
  passing them on -- a server that thinks (or a far-away one). Here parallel connections
  matter: the browser needs about two delays (document, then the four sub-resources at
  once), the sequential client five.

Before measuring, each client x configuration loads the page once and every response
must be 200 with the bytes of the file on disk (after decoding); each measured load is
checked again (no error, every status 200, the right number of files). Loads are
interleaved: each round runs every variant once, in an order shuffled for each round
(seeded RNG, ``--seed``), so that no variant always follows the same other one -- a
rotating order would keep the cyclic order, and a load right after one of the same
client finds its code warm in the CPU caches (worth ~20 % here on the direct path).
The server and the proxy run on CPU 0 and this process on CPU 1 (``sched_setaffinity``
and ``taskset``) unless ``--no-pin`` or fewer CPUs.

Output: ``bench/results/page_load.json`` (versions, commands, every load's wall time and
this process's CPU time, summaries, ratios, goals, other busy processes) and ``.md``.

Exit status: 0 if every load succeeded, 1 if any failed, 2 if the bench cannot run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import random
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from _common import (
    CLK_TCK,
    HOST,
    ROOT,
    BenchError,
    busy_pct,
    cmdline,
    command_output,
    cpu_deltas,
    cpu_times,
    free_port,
    package_version,
    pin_prefix,
    proc_stats,
    spawn_group,
    stop_group,
    write_results,
)
from _common import versions as common_versions

DEFAULT_OUT = ROOT / "bench" / "results" / "page_load.json"
NAME = "www.webtrip.test"
SERVER_CPU = 0
CLIENT_CPU = 1
START_TIMEOUT = 20.0
CLIENTS = ("webtrip-trace", "webtrip-notrace", "httpx")
CONFIGS = ("direct", "delayed")
OVERHEAD_GOAL = 0.10  # tracing on costs less than 10 % of a page load's wall time
BUSY_THRESHOLD = 5.0  # % of a CPU: another process busier than this is named in the report


# ---------------------------------------------------------------------------------------
# The delaying proxy (runs as ``page_load.py --proxy LISTEN_PORT UPSTREAM_PORT DELAY_MS``).


async def _pipe_with_delay(
    listen_port: int, upstream_port: int, delay: float, ready: Callable[[], None]
) -> None:
    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(HOST, upstream_port)
        except OSError:
            client_w.close()
            return
        # Set when a request's bytes were passed on and its response has not started.
        awaiting = asyncio.Event()

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
            # Normally the client closes first (its EOF is passed on, then the server closes
            # in turn and to_client ends), or the server does; an error on either side ends
            # the exchange at once.
            done, _ = await asyncio.wait([to_s, to_c], return_when=asyncio.FIRST_COMPLETED)
            if to_c not in done and to_s.exception() is None:
                await asyncio.wait([to_c], timeout=5.0)
        finally:
            for task in (to_s, to_c):
                task.cancel()
            for task in (to_s, to_c):
                with contextlib.suppress(BaseException):
                    await task
            for writer in (client_w, server_w):
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()

    server = await asyncio.start_server(handle, HOST, listen_port, reuse_address=True)
    ready()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with server:
        await stop.wait()


def run_proxy(listen_port: int, upstream_port: int, delay_ms: float) -> int:
    asyncio.run(
        _pipe_with_delay(
            listen_port, upstream_port, delay_ms / 1000, lambda: print("ready", flush=True)
        )
    )
    return 0


# ---------------------------------------------------------------------------------------
# Environment.


def wait_for_tcp(port: int, proc: subprocess.Popen[bytes], timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{proc.args[:4]} exited with status {proc.returncode}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.2)
            if sock.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.05)
    raise BenchError(f"nothing listened on {HOST}:{port} within {timeout} s")


@contextlib.contextmanager
def started(argv: list[str], port: int, log: Path, env: dict[str, str] | None = None) -> Iterator:
    with log.open("wb") as out:
        proc = spawn_group(argv, out, env=env)
    try:
        try:
            wait_for_tcp(port, proc)
        except BenchError as exc:
            raise BenchError(f"{exc}\n{log.read_text(errors='replace')[-1500:]}") from None
        yield proc
    finally:
        stop_group(proc)


def pinning(requested: bool) -> dict[str, Any]:
    state: dict[str, Any] = {"requested": requested, "enabled": False}
    taskset = shutil.which("taskset")
    if not requested:
        state["reason"] = "disabled with --no-pin"
    elif taskset is None:
        state["reason"] = "taskset not found"
    elif not {SERVER_CPU, CLIENT_CPU} <= os.sched_getaffinity(0):
        state["reason"] = f"CPUs {SERVER_CPU},{CLIENT_CPU} not both available"
    else:
        state.update(
            enabled=True,
            reason="taskset + sched_setaffinity",
            server_and_proxy_cpu=SERVER_CPU,
            client_cpu=CLIENT_CPU,
        )
    state["taskset"] = taskset
    return state


def versions() -> dict[str, Any]:
    dirty = command_output(["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"])
    return common_versions(
        {
            "webtrip_src_uncommitted_changes": [line for line in dirty.splitlines() if line],
            "httpx": package_version("httpx"),
            "httpcore": package_version("httpcore"),
            "h11": package_version("h11"),
            "httptools": package_version("httptools"),
        }
    )


QUIET_PATTERN = "dnsperf|wrk|bench/dns_qps.py|bench/http_rps.py"


def others_running(pattern: str = QUIET_PATTERN) -> list[str]:
    """Command lines of other benchmarks now running (``pgrep -f``): the load generators
    and the scripts that start them (between two runs neither dnsperf nor wrk runs)."""
    out = command_output(["pgrep", "-a", "-f", pattern])
    return [
        line for line in out.splitlines() if line.strip() and str(os.getpid()) != line.split()[0]
    ]


def wait_for_quiet(minutes: float, every: float = 30.0) -> dict[str, Any]:
    """Poll ``pgrep -f QUIET_PATTERN`` until it finds nothing, for at most ``minutes``."""
    start = time.monotonic()
    first = others_running()
    seen = list(first)
    while seen and time.monotonic() - start < minutes * 60:
        print(f"# waiting: other benchmarks running: {seen[:3]}", file=sys.stderr, flush=True)
        time.sleep(every)
        seen = others_running()
    return {
        "max_minutes": minutes,
        "waited_s": round(time.monotonic() - start, 1),
        "running_at_start": first,
        "running_when_started": seen,
    }


def process_cpu_ticks() -> dict[int, tuple[str, int]]:
    """pid -> (command, utime+stime in clock ticks) for every process now."""
    return {
        pid: (cmdline(pid, 160) or stat.comm, stat.utime + stat.stime)
        for pid, stat in proc_stats().items()
    }


def busy_others(
    before: dict[int, tuple[str, int]],
    after: dict[int, tuple[str, int]],
    seconds: float,
    ours: set[int],
) -> list[dict[str, Any]]:
    """Processes other than ours that used more than BUSY_THRESHOLD % of a CPU."""
    out = []
    for pid, (command, ticks) in after.items():
        if pid in ours or seconds <= 0:
            continue
        used = ticks - before.get(pid, (command, 0))[1]
        pct = 100.0 * used / CLK_TCK / seconds
        if pct >= BUSY_THRESHOLD:
            out.append({"pid": pid, "command": command, "cpu_pct": round(pct, 1)})
    return sorted(out, key=lambda item: -item["cpu_pct"])


def cpu_busy_pct() -> Callable[[], dict[str, float]]:
    """Start sampling /proc/stat; the returned function gives each CPU's busy %."""

    before = cpu_times()

    def finish() -> dict[str, float]:
        deltas = cpu_deltas(before, cpu_times())
        return {cpu: busy_pct(delta) or 0.0 for cpu, delta in deltas.items()}

    return finish


# ---------------------------------------------------------------------------------------
# The clients.


class Clients:
    """Loads the page with each client; each call returns (wall s, CPU s, check error)."""

    def __init__(self, site: Path) -> None:
        import httpx

        from webtrip.browser.loader import Browser, BrowserOptions
        from webtrip.browser.stub_resolver import StubResolver
        from webtrip.net import RealNetwork
        from webtrip.trace import NULL_TRACE, Trace

        self.httpx = httpx
        self.Browser, self.BrowserOptions = Browser, BrowserOptions
        self.StubResolver, self.RealNetwork = StubResolver, RealNetwork
        self.NULL_TRACE, self.Trace = NULL_TRACE, Trace
        self.site = site
        self.loop = asyncio.new_event_loop()
        self.ssl_context = ssl.create_default_context()
        self.paths: list[str] = []  # the page's files, in the browser's order
        self.kinds: dict[str, str] = {}
        self.headers: dict[str, list[tuple[str, str]]] = {}  # what the browser sent, by path
        self.events: list[int] = []  # events recorded per traced load

    def close(self) -> None:
        self.loop.close()

    # --- webtrip -------------------------------------------------------------------------

    async def _browse(self, port: int, traced: bool) -> tuple[float, float, Any, Any]:
        network = self.RealNetwork()
        trace = self.Trace(network.now) if traced else self.NULL_TRACE
        resolver = self.StubResolver(network, trace, hosts={NAME: [HOST]})
        browser = self.Browser(network, resolver, trace, options=self.BrowserOptions())
        url = f"http://{NAME}:{port}/"
        cpu0, t0 = time.process_time(), time.perf_counter()
        page = await browser.load(url)
        t1, cpu1 = time.perf_counter(), time.process_time()
        return t1 - t0, cpu1 - cpu0, page, trace

    def webtrip(self, port: int, traced: bool) -> tuple[float, float, str | None]:
        wall, cpu, page, trace = self.loop.run_until_complete(self._browse(port, traced))
        if traced:
            self.events.append(len(trace))
        return wall, cpu, self._check_page(page)

    def _check_page(self, page: Any) -> str | None:
        if page.error is not None:
            return f"webtrip: {page.error.kind}: {page.error}"
        bad = [
            f"{f.url}: {f.error or f.response.status}"
            for f in page.fetched
            if f.error is not None or f.response is None or f.response.status != 200
        ]
        if bad:
            return "webtrip: " + "; ".join(bad)
        if self.paths and len(page.fetched) != len(self.paths):
            return f"webtrip: {len(page.fetched)} files fetched, expected {len(self.paths)}"
        return None

    def discover(self, port: int) -> None:
        """Load once with the browser: the page's files, in order, checked against disk."""
        from webtrip.trace import HttpRequestQueued, HttpRequestSent

        _, _, page, trace = self.loop.run_until_complete(self._browse(port, True))
        error = self._check_page(page)
        if error:
            raise BenchError(error)
        urls = {e.request: e.url for e in trace.of_type(HttpRequestQueued)}
        for event in trace.of_type(HttpRequestSent):
            path = urllib.parse.urlsplit(urls[event.request]).path
            self.headers[path] = [(k, v) for k, v in event.headers if k.lower() != "host"]
        self.paths = [urllib.parse.urlsplit(f.url).path for f in page.fetched]
        self.kinds = {urllib.parse.urlsplit(f.url).path: f.kind for f in page.fetched}
        for f in page.fetched:
            path = urllib.parse.urlsplit(f.url).path
            if f.response.body != self.file(path):
                raise BenchError(f"webtrip: {f.url}: the body differs from the file on disk")

    def file(self, path: str) -> bytes:
        target = self.site / path.lstrip("/")
        return (target / "index.html" if path.endswith("/") else target).read_bytes()

    def verify_webtrip(self, port: int) -> None:
        for traced in (True, False):
            _, _, page, _ = self.loop.run_until_complete(self._browse(port, traced))
            error = self._check_page(page)
            if error:
                raise BenchError(error)
            for f in page.fetched:
                if f.response.body != self.file(urllib.parse.urlsplit(f.url).path):
                    raise BenchError(f"webtrip: {f.url}: the body differs from the file on disk")

    # --- httpx ---------------------------------------------------------------------------

    def _headers(self, port: int, path: str) -> list[tuple[str, str]]:
        """The headers the browser sent for this file, Host naming the same site."""
        return [("Host", f"{NAME}:{port}"), *self.headers[path]]

    def sequential(self, port: int, keep: bool = False) -> tuple[float, float, Any]:
        requests = [(f"http://{HOST}:{port}{p}", self._headers(port, p)) for p in self.paths]
        client = self.httpx.Client(verify=self.ssl_context, timeout=10.0, http2=False)
        bodies = []
        problems = []
        cpu0, t0 = time.process_time(), time.perf_counter()
        try:
            for url, headers in requests:
                response = client.get(url, headers=headers)
                if response.status_code != 200:
                    problems.append(f"{url}: {response.status_code}")
                if keep:
                    bodies.append((url, response.content, response.headers.get("content-encoding")))
        except self.httpx.HTTPError as exc:
            problems.append(f"{type(exc).__name__}: {exc}")
        finally:
            client.close()
        t1, cpu1 = time.perf_counter(), time.process_time()
        error = "httpx: " + "; ".join(problems) if problems else None
        return t1 - t0, cpu1 - cpu0, (error, bodies)

    def httpx_load(self, port: int) -> tuple[float, float, str | None]:
        wall, cpu, (error, _) = self.sequential(port)
        return wall, cpu, error

    def verify_httpx(self, port: int) -> dict[str, str | None]:
        _, _, (error, bodies) = self.sequential(port, keep=True)
        if error:
            raise BenchError(error)
        encodings = {}
        for url, body, encoding in bodies:
            path = urllib.parse.urlsplit(url).path
            if body != self.file(path):
                raise BenchError(f"httpx: {url}: the body differs from the file on disk")
            encodings[path] = encoding
        return encodings


# ---------------------------------------------------------------------------------------
# Figures.


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by linear interpolation between order statistics."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary(samples: list[dict[str, float]]) -> dict[str, Any]:
    wall = [s["wall_ms"] for s in samples]
    cpu = [s["cpu_ms"] for s in samples]
    if not wall:
        return {"loads": 0}
    return {
        "loads": len(wall),
        "median_ms": round(statistics.median(wall), 3),
        "p90_ms": round(percentile(wall, 0.9), 3),
        "mean_ms": round(statistics.fmean(wall), 3),
        "min_ms": round(min(wall), 3),
        "max_ms": round(max(wall), 3),
        "cpu_median_ms": round(statistics.median(cpu), 3),
    }


def ratio(
    runs: dict[str, list[dict[str, float]]], top: str, bottom: str, field: str = "wall_ms"
) -> dict[str, Any] | None:
    """top/bottom: ratio of the medians, and the median of the per-round ratios."""
    a, b = runs.get(top, []), runs.get(bottom, [])
    if not a or not b:
        return None
    paired = {s["round"]: s[field] for s in b}
    per_round = [s[field] / paired[s["round"]] for s in a if paired.get(s["round"])]
    return {
        "of_medians": round(
            statistics.median(s[field] for s in a) / statistics.median(paired.values()), 4
        ),
        "median_per_round": round(statistics.median(per_round), 4) if per_round else None,
        "p90_of": round(
            percentile([s[field] for s in a], 0.9) / percentile(list(paired.values()), 0.9), 4
        ),
    }


def markdown(report: dict[str, Any]) -> str:
    ver = report["versions"]
    lines = [
        f"Run {report['started']} ({report['duration_s']} s), webtrip {ver['webtrip']} "
        f"(commit {ver['webtrip_commit']}"
        + (", src/ with uncommitted changes" if ver["webtrip_src_uncommitted_changes"] else "")
        + f"), Python {ver['python']}, httpx {ver['httpx']} (httpcore {ver['httpcore']}, "
        f"h11 {ver['h11']}), {ver['os']}, kernel {ver['kernel']}, "
        f"{ver['cpu_count']} × {ver['cpu_model']}.",
        "",
        f"`{report['command']}` — {report['rounds_done']} rounds"
        f" (of {report['args']['loads']} asked"
        + (", cut by --max-seconds" if report["truncated"] else "")
        + "), each running every variant once in a shuffled order, after "
        f"{report['args']['warmup']} warm-up loads per variant; the page: "
        f"{len(report['page']['paths'])} files ({', '.join(report['page']['paths'])}), "
        f"delay {report['args']['delay_ms']:g} ms per response in `delayed`. "
        f"Pinning: {report['pinning']['reason']}"
        + (
            f" (server and proxy on CPU {SERVER_CPU}, clients on CPU {CLIENT_CPU})"
            if report["pinning"]["enabled"]
            else ""
        )
        + ".",
        "",
        "| configuration | client | loads | median ms | p90 ms | mean ms | min ms "
        "| client CPU ms (median) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for config in CONFIGS:
        for client in CLIENTS:
            s = report["summary"].get(f"{config}/{client}")
            if not s or not s.get("loads"):
                continue
            lines.append(
                f"| {config} | {client} | {s['loads']} | {s['median_ms']:.2f} | {s['p90_ms']:.2f} "
                f"| {s['mean_ms']:.2f} | {s['min_ms']:.2f} | {s['cpu_median_ms']:.2f} |"
            )
    lines += ["", "| ratio | configuration | of medians | median per round | of p90 | goal |"]
    lines += ["| --- | --- | ---: | ---: | ---: | --- |"]
    for item in report["ratios"]:
        r = item["ratio"]
        if r is None:
            continue
        goal = item.get("goal", "")
        met = item.get("met")
        verdict = "" if met is None else (" — **met**" if met else " — **not met**")
        lines.append(
            f"| {item['name']} | {item['config']} | {r['of_medians']:.3f} | "
            f"{r['median_per_round']:.3f} | {r['p90_of']:.3f} | {goal}{verdict} |"
        )
    quiet = report["quiet"]
    busy = report["other_busy_processes"]
    lines += [
        "",
        f"Other load: `pgrep -f '{QUIET_PATTERN}'` found "
        + f"{len(quiet['running_when_started'])} process(es) when the measurement started"
        + (f" (after waiting {quiet['waited_s']:g} s)" if quiet["waited_s"] >= 1 else "")
        + f" and {len(quiet.get('running_at_end', []))} when it ended"
        + "; busy CPUs during the measurement: "
        + ", ".join(f"{cpu} {pct:g} %" for cpu, pct in report["cpu_busy_pct"].items())
        + "; other processes above "
        + f"{BUSY_THRESHOLD:g} % of a CPU: "
        + (
            "; ".join(f"`{p['command'][:70]}` {p['cpu_pct']:g} %" for p in busy[:5])
            if busy
            else "none"
        )
        + ".",
    ]
    if report["traced_events_per_load"]:
        lines += [
            "",
            f"A traced load records {report['traced_events_per_load']} events (median).",
        ]
    if report["failures"]:
        lines += ["", f"**{len(report['failures'])} failed load(s)**, e.g. {report['failures'][0]}"]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------
# Main.


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Page load time: webtrip Browser (trace on/off) vs sequential httpx"
    )
    parser.add_argument("--loads", type=int, default=200, help="measured loads per variant")
    parser.add_argument("--warmup", type=int, default=10, help="unmeasured loads per variant")
    parser.add_argument("--delay-ms", type=float, default=20.0, help="per-response delay")
    parser.add_argument(
        "--max-seconds", type=float, default=900.0, help="stop measuring after this long"
    )
    parser.add_argument(
        "--wait-quiet-minutes",
        type=float,
        default=0.0,
        help="first wait (polling every 30 s) until no other benchmark runs (dnsperf, wrk, "
        "bench/dns_qps.py, bench/http_rps.py), at most this long",
    )
    parser.add_argument("--configs", default=",".join(CONFIGS), help="direct,delayed")
    parser.add_argument("--site", type=Path, default=None, help="default: the demo site")
    parser.add_argument("--seed", type=int, default=1, help="seed of the per-round order")
    parser.add_argument("--no-pin", action="store_true", help="do not pin to CPUs")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--proxy", nargs=3, metavar=("LISTEN", "UPSTREAM", "DELAY_MS"))
    args = parser.parse_args(argv)
    args.config_list = [c for c in args.configs.split(",") if c]
    if not set(args.config_list) <= set(CONFIGS) or not args.config_list:
        parser.error(f"--configs: choose among {', '.join(CONFIGS)}")
    if args.loads < 1 or args.warmup < 0:
        parser.error("--loads must be ≥ 1 and --warmup ≥ 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.proxy:
        listen, upstream, delay = args.proxy
        return run_proxy(int(listen), int(upstream), float(delay))
    try:
        import httpx  # noqa: F401
    except ImportError:
        print("httpx is not installed: .venv/bin/pip install httpx", file=sys.stderr)
        return 2
    from webtrip.labs import demo_path

    site = (args.site or demo_path("site")).resolve()
    command = "python bench/page_load.py " + " ".join(sys.argv[1:] if argv is None else argv)
    quiet = (
        wait_for_quiet(args.wait_quiet_minutes)
        if args.wait_quiet_minutes > 0
        else {
            "max_minutes": 0,
            "waited_s": 0,
            "running_at_start": others_running(),
            "running_when_started": others_running(),
        }
    )
    pin = pinning(not args.no_pin)
    server_prefix = pin_prefix(pin, SERVER_CPU)
    if pin["enabled"]:
        os.sched_setaffinity(0, {CLIENT_CPU})

    started_at = dt.datetime.now(dt.UTC)
    began = time.monotonic()
    workdir = Path(os.environ.get("TMPDIR", "/tmp")) / f"webtrip-page-load-{os.getpid()}"
    workdir.mkdir(parents=True, exist_ok=True)
    server_port, proxy_port = free_port(), free_port()
    env = dict(os.environ, NO_COLOR="1")
    server_argv = [sys.executable, "-m", "webtrip", "web", "serve", str(site)]
    server_argv += ["--listen", f"{HOST}:{server_port}"]
    proxy_argv = [sys.executable, str(Path(__file__).resolve()), "--proxy"]
    proxy_argv += [str(proxy_port), str(server_port), f"{args.delay_ms:g}"]
    clients = Clients(site)
    runs: dict[str, list[dict[str, float]]] = {}
    failures: list[str] = []
    rounds_done = 0
    truncated = False
    report: dict[str, Any] = {}
    try:
        with contextlib.ExitStack() as stack:
            server = stack.enter_context(
                started([*server_prefix, *server_argv], server_port, workdir / "server.log", env)
            )
            ports = {"direct": server_port}
            ours = {os.getpid(), server.pid}
            if "delayed" in args.config_list:
                proxy = stack.enter_context(
                    started([*server_prefix, *proxy_argv], proxy_port, workdir / "proxy.log")
                )
                ports["delayed"] = proxy_port
                ours.add(proxy.pid)
            clients.discover(server_port)
            encodings: dict[str, Any] = {}
            for config in args.config_list:
                clients.verify_webtrip(ports[config])
                encodings[config] = clients.verify_httpx(ports[config])

            variants: list[tuple[str, Callable[[], tuple[float, float, str | None]]]] = []
            for config in args.config_list:
                port = ports[config]
                variants += [
                    (f"{config}/webtrip-trace", lambda p=port: clients.webtrip(p, True)),
                    (f"{config}/webtrip-notrace", lambda p=port: clients.webtrip(p, False)),
                    (f"{config}/httpx", lambda p=port: clients.httpx_load(p)),
                ]
            for _ in range(args.warmup):
                for _, load in variants:
                    load()
            clients.events.clear()
            busy = cpu_busy_pct()
            rng = random.Random(args.seed)
            ticks_before, measure_start = process_cpu_ticks(), time.monotonic()
            for i in range(args.loads):
                if time.monotonic() - measure_start > args.max_seconds:
                    truncated = True
                    break
                order = list(variants)
                rng.shuffle(order)
                for position, (name, load) in enumerate(order):
                    wall, cpu, error = load()
                    if error:
                        failures.append(f"round {i} {name}: {error}")
                        continue
                    runs.setdefault(name, []).append(
                        {
                            "round": i,
                            "position": position,
                            "wall_ms": wall * 1000,
                            "cpu_ms": cpu * 1000,
                        }
                    )
                rounds_done = i + 1
            measured_s = time.monotonic() - measure_start
            quiet["running_at_end"] = others_running()
            others = busy_others(ticks_before, process_cpu_ticks(), measured_s, ours)
            cpu_busy = busy()
    except BenchError as exc:
        print(f"page_load: {exc}", file=sys.stderr)
        return 2
    finally:
        clients.close()
        shutil.rmtree(workdir, ignore_errors=True)

    ratios = []
    for config in args.config_list:
        overhead = ratio(runs, f"{config}/webtrip-trace", f"{config}/webtrip-notrace")
        ratios.append(
            {
                "name": "tracing on / off (webtrip)",
                "config": config,
                "ratio": overhead,
                "goal": f"< {1 + OVERHEAD_GOAL:.2f}",
                "met": None if overhead is None else overhead["of_medians"] < 1 + OVERHEAD_GOAL,
            }
        )
        overhead_cpu = ratio(
            runs, f"{config}/webtrip-trace", f"{config}/webtrip-notrace", field="cpu_ms"
        )
        ratios.append(
            {"name": "tracing on / off, client CPU time", "config": config, "ratio": overhead_cpu}
        )
        for client in ("webtrip-notrace", "webtrip-trace"):
            versus = ratio(runs, f"{config}/{client}", f"{config}/httpx")
            ratios.append(
                {
                    "name": f"{client} / sequential httpx",
                    "config": config,
                    "ratio": versus,
                    "goal": "< 1 (webtrip faster)",
                    "met": None if versus is None else versus["of_medians"] < 1,
                }
            )
    report = {
        "benchmark": "page_load",
        "started": started_at.isoformat(timespec="seconds"),
        "duration_s": round(time.monotonic() - began, 1),
        "command": command,
        "args": {
            "loads": args.loads,
            "warmup": args.warmup,
            "delay_ms": args.delay_ms,
            "max_seconds": args.max_seconds,
            "seed": args.seed,
            "configs": args.config_list,
        },
        "commands": {"server": server_argv, "proxy": proxy_argv},
        "versions": versions(),
        "pinning": {k: v for k, v in pin.items() if k != "taskset"},
        "quiet": quiet,
        "page": {
            "site": str(site),
            "url_webtrip": f"http://{NAME}:PORT/ with hosts={{{NAME!r}: [{HOST!r}]}}",
            "url_httpx": f"http://{HOST}:PORT/PATH with Host: {NAME}:PORT",
            "paths": clients.paths,
            "kinds": clients.kinds,
            "content_encoding_seen_by_httpx": encodings,
        },
        "rounds_done": rounds_done,
        "truncated": truncated,
        "measured_s": round(measured_s, 1),
        "cpu_busy_pct": cpu_busy,
        "other_busy_processes": others,
        "traced_events_per_load": statistics.median(clients.events) if clients.events else None,
        "summary": {name: summary(samples) for name, samples in runs.items()},
        "ratios": ratios,
        "failures": failures,
        "runs": {
            name: [
                {k: round(v, 4) if isinstance(v, float) else v for k, v in s.items()}
                for s in samples
            ]
            for name, samples in runs.items()
        },
    }
    text = markdown(report)
    write_results(args.out, report, text, indent=1, announce=False)
    print(text)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
