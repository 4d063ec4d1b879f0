"""Static file serving on loopback: webtrip vs http.server vs uvicorn+Starlette vs nginx, wrk.

    python bench/http_rps.py [--duration 8] [--rounds 3] [--warmup 1] [--connections 10]
                             [--servers webtrip,stdlib,uvicorn,nginx] [--files small,large]
                             [--large-size 10485760] [--seed 1] [--webtrip-rev REV]
                             [--out bench/results/http_rps.json]

Every server serves the same temporary folder on a free TCP port on 127.0.0.1:

* ``webtrip``: ``python -m webtrip web serve FOLDER --listen 127.0.0.1:PORT``;
* ``stdlib``: ``python -m http.server PORT --bind 127.0.0.1 --directory FOLDER``
  (HTTP/1.0 by default: it closes the connection after every response);
* ``uvicorn``: uvicorn, one worker, serving ``bench/uvicorn_static.py`` (Starlette's
  ``StaticFiles``), ``--log-level warning --no-access-log``, with uvloop and httptools
  when they are installed (what ``uvicorn[standard]`` installs and ``auto`` picks);
* ``nginx``: ``worker_processes 1``, ``daemon off``, ``access_log off``, ``sendfile on``,
  ``tcp_nopush on``, every path in the temp dir, mime types from /etc/nginx/mime.types.

The folder holds two files: ``index.html`` (a copy of tests/data/sites/www/index.html,
~480 bytes) and ``random-10M.bin`` (10 MiB of seeded random bytes).  wrk fetches one of
them over keep-alive connections (``wrk -t1 -c10 -dNs -s report.lua URL``); the Lua
script's ``done()`` prints the request count, bytes, latency percentiles and every error
counter (connect/read/write/timeout, and HTTP status >= 400) as JSON.  Servers are pinned
to CPU 0 and wrk to CPU 1 with ``taskset`` when possible.

First every server is started once and checked: both files must come back with status
200, the right Content-Length and the right bytes (sha256); a server that fails is not
measured.  Then rounds are interleaved (round 1 runs every file × server once, round 2
again, ...; the order rotates each round).  Each run starts the server afresh, waits
until an HTTP GET succeeds, checks the file again, warms up with a short wrk run,
measures, and kills the server's process group.  Per run it records wrk's figures, the
per-CPU busy % (/proc/stat), the server's own CPU time (utime+stime of its process
group), wrk's CPU time, and any other process that used >= 5 % of a CPU meanwhile.
Medians over the rounds and ratios go to a JSON file and a Markdown report on stdout.

Exit status: 0 if every run of every requested server succeeded, 1 if any failed or
returned errors (the JSON and the report are still written), 2 if the bench itself
cannot run.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import importlib.util
import json
import os
import random
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import (
    BENCH,
    CLK_TCK,
    HOST,
    ROOT,
    BenchError,
    Launch,
    affinity,
    breakdown_pct,
    busy_pct,
    cmdline,
    command_output,
    cpu_deltas,
    cpu_times,
    find_program,
    free_port,
    loadavg,
    log_tail,
    package_version,
    paired_ratios,
    pin_prefix,
    pinning,
    proc_stats,
    ratio_summary,
    ratio_text,
    rotate,
    running_server,
    rusage_s,
    sample_cpu_busy,
    terminate_on_sigterm,
    utc_now,
    warn_uncommitted,
    webtrip_env,
    webtrip_source,
    write_results,
)
from _common import versions as common_versions

DEFAULT_PAGE = ROOT / "tests" / "data" / "sites" / "www" / "index.html"
DEFAULT_OUT = BENCH / "results" / "http_rps.json"
ALL_SERVERS = ("webtrip", "stdlib", "uvicorn", "nginx")
ALL_FILES = ("small", "large")
SERVER_CPU = 0
WRK_CPU = 1
LARGE_SIZE = 10 * 1024 * 1024  # bytes (10 MiB)
DEFAULT_SEED = 1
NGINX_MIME_TYPES = Path("/etc/nginx/mime.types")

HTTP_TIMEOUT = 10.0  # seconds per request of the checks
WRK_GRACE = 30.0  # seconds a wrk run may overrun its -d before it is killed
OTHER_PROCESS_MIN_PCT = 5.0  # report other processes using at least this % of a CPU
NOISY_RUN_PCT = 10.0  # foreign user CPU (% of one CPU) that makes a run "noisy"
QUIET_PCT = 10.0  # --quiet-wait: the machine counts as quiet below this (% of one CPU)
QUIET_SAMPLE_S = 2.0
QUIET_POLL_S = 3.0
WRK_BOUND_PCT = 85.0  # wrk's own CPU use this high: the load generator may be the limit
LABELS = {
    "webtrip": "webtrip",
    "stdlib": "http.server",
    "uvicorn": "uvicorn+StaticFiles",
    "nginx": "nginx",
}
# (file, peer, metric, goal): webtrip's median ≥ goal × the peer's.
GOALS = (
    ("small", "uvicorn", "rps", 1.5),
    ("small", "nginx", "rps", 0.3),
    ("large", "nginx", "mb_per_s", 0.8),
)
METRIC_LABELS = {"rps": "requests/s", "mb_per_s": "throughput"}

# wrk's done() hook: one line of JSON after wrk's own report.  Percentiles are in µs.
WRK_SCRIPT = """\
-- bench/http_rps.py: print wrk's totals, every error counter and latency percentiles.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK_RESULT {\\"duration_us\\": %.0f, \\"requests\\": %.0f, \\"bytes\\": %.0f, " ..
    "\\"errors\\": {\\"connect\\": %.0f, \\"read\\": %.0f, \\"write\\": %.0f, " ..
    "\\"status\\": %.0f, \\"timeout\\": %.0f}, " ..
    "\\"latency_us\\": {\\"min\\": %.0f, \\"mean\\": %.1f, \\"stdev\\": %.1f, " ..
    "\\"max\\": %.0f, \\"p50\\": %.0f, \\"p90\\": %.0f, \\"p99\\": %.0f, " ..
    "\\"p99_9\\": %.0f}}\\n",
    summary.duration, summary.requests, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9)))
end
"""


@dataclass(frozen=True)
class ServedFile:
    key: str  # "small" or "large"
    name: str  # file name in the served folder, and URL path
    size: int
    sha256: str
    label: str


# ---------------------------------------------------------------------------------------
# The served folder.


def prepare_folder(folder: Path, page: Path, large_size: int, seed: int) -> dict[str, ServedFile]:
    """Copy the page and write the seeded random file; their descriptions."""
    folder.mkdir(parents=True)
    small = folder / "index.html"
    shutil.copyfile(page, small)
    large = folder / "random-10M.bin"
    large.write_bytes(random.Random(seed).randbytes(large_size))
    out = {}
    for key, path in (("small", small), ("large", large)):
        data = path.read_bytes()
        size = len(data)
        label = f"{size:,} B" if size < 1024 * 1024 else f"{size / 2**20:g} MiB"
        out[key] = ServedFile(key, path.name, size, hashlib.sha256(data).hexdigest(), label)
    return out


# ---------------------------------------------------------------------------------------
# A tiny HTTP client (http.client): readiness and the correctness checks.


def fetch(port: int, path: str, timeout: float = HTTP_TIMEOUT) -> dict[str, Any]:
    """GET ``path`` twice on one connection: status, headers, body digest of the first
    response, and whether the second request reused the connection (keep-alive)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", "/" + path)
        resp = conn.getresponse()
        body = resp.read()
        first_sock = conn.sock
        out: dict[str, Any] = {
            "status": resp.status,
            "http_version": {10: "HTTP/1.0", 11: "HTTP/1.1"}.get(resp.version, str(resp.version)),
            "content_length": resp.getheader("Content-Length"),
            "content_type": resp.getheader("Content-Type"),
            "server_header": resp.getheader("Server"),
            "body_bytes": len(body),
            "body_sha256": hashlib.sha256(body).hexdigest(),
            "keep_alive": False,
        }
        if not resp.will_close and first_sock is not None:
            conn.request("GET", "/" + path)
            again = conn.getresponse()
            again.read()
            out["keep_alive"] = conn.sock is first_sock and again.status == resp.status
        return out
    finally:
        conn.close()


def check_file(port: int, served: ServedFile) -> dict[str, Any]:
    """Fetch one file; raise BenchError unless status, Content-Length and bytes are right."""
    try:
        got = fetch(port, served.name)
    except (OSError, http.client.HTTPException) as exc:
        raise BenchError(f"GET /{served.name} failed: {exc!r}") from exc
    problems = []
    if got["status"] != 200:
        problems.append(f"status {got['status']}")
    if got["content_length"] != str(served.size):
        problems.append(f"Content-Length {got['content_length']!r} (want {served.size})")
    if got["body_bytes"] != served.size:
        problems.append(f"{got['body_bytes']} body bytes (want {served.size})")
    elif got["body_sha256"] != served.sha256:
        problems.append("body differs from the file (sha256)")
    if problems:
        raise BenchError(f"GET /{served.name}: " + ", ".join(problems))
    return got


# ---------------------------------------------------------------------------------------
# Servers.


def has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def nginx_conf(run_dir: Path, folder: Path, port: int) -> str:
    """One worker, no daemon, no access log, sendfile + tcp_nopush; every other setting
    is nginx's default (keepalive_timeout 75s, keepalive_requests 1000, ...)."""
    return "\n".join(
        [
            "worker_processes 1;",
            "daemon off;",
            f"pid {run_dir}/nginx.pid;",
            f"error_log {run_dir}/error.log warn;",
            "events {",
            "    worker_connections 1024;",
            "}",
            "http {",
            f"    include {NGINX_MIME_TYPES};",
            "    default_type application/octet-stream;",
            "    access_log off;",
            "    sendfile on;",
            "    tcp_nopush on;",
            f"    client_body_temp_path {run_dir}/client_body;",
            f"    proxy_temp_path {run_dir}/proxy;",
            f"    fastcgi_temp_path {run_dir}/fastcgi;",
            f"    uwsgi_temp_path {run_dir}/uwsgi;",
            f"    scgi_temp_path {run_dir}/scgi;",
            "    server {",
            f"        listen {HOST}:{port};",
            f"        root {folder};",
            "    }",
            "}",
            "",
        ]
    )


def uvicorn_options() -> tuple[str, str]:
    """(--loop, --http): uvloop and httptools when importable, as uvicorn's ``auto`` does."""
    return (
        "uvloop" if has_module("uvloop") else "asyncio",
        "httptools" if has_module("httptools") else "h11",
    )


def launch_for(
    name: str, workdir: Path, folder: Path, port: int, args: argparse.Namespace
) -> Launch:
    python = sys.executable
    if name == "webtrip":
        env = webtrip_env(args.webtrip_src)
        argv = [python, "-m", "webtrip", "web", "serve", str(folder)]
        argv += ["--listen", f"{HOST}:{port}"]
        return Launch(argv, env=env, cwd=workdir, notes={"PYTHONPATH": env["PYTHONPATH"]})
    if name == "stdlib":
        argv = [python, "-m", "http.server", str(port), "--bind", HOST, "--directory", str(folder)]
        if args.stdlib_protocol:
            argv += ["--protocol", args.stdlib_protocol]
        return Launch(argv, cwd=workdir)
    if name == "uvicorn":
        missing = [m for m in ("uvicorn", "starlette") if not has_module(m)]
        if missing:
            raise BenchError(
                f"{', '.join(missing)} not installed: pip install 'uvicorn[standard]' starlette"
            )
        loop, http_impl = uvicorn_options()
        env = {k: v for k, v in os.environ.items() if k != "WEB_CONCURRENCY"}
        env["BENCH_STATIC_DIR"] = str(folder)
        argv = [python, "-m", "uvicorn", "--app-dir", str(BENCH), "uvicorn_static:app"]
        argv += ["--host", HOST, "--port", str(port), "--workers", "1"]
        argv += ["--loop", loop, "--http", http_impl]
        argv += ["--log-level", "warning", "--no-access-log"]
        return Launch(
            argv,
            env=env,
            cwd=workdir,
            notes={"BENCH_STATIC_DIR": str(folder), "loop": loop, "http": http_impl},
        )
    if name == "nginx":
        nginx = find_program("nginx")
        if nginx is None:
            raise BenchError("nginx is not installed")
        run_dir = workdir / f"nginx-{port}"
        run_dir.mkdir(parents=True)
        conf = run_dir / "nginx.conf"
        conf.write_text(nginx_conf(run_dir, folder, port), encoding="utf-8")
        argv = [nginx, "-p", f"{run_dir}/", "-c", str(conf), "-e", str(run_dir / "error.log")]
        check = subprocess.run([*argv, "-t", "-q"], capture_output=True, text=True, timeout=10)
        if check.returncode != 0:
            raise BenchError(f"nginx -t rejected the config: {check.stderr.strip()}")
        return Launch(argv, cwd=run_dir, notes={"config": str(conf)})
    raise BenchError(f"unknown server {name!r}")


def answers(port: int, probe: ServedFile) -> Callable[[], bool]:
    """running_server()'s readiness check: a GET of ``probe`` gets a response."""

    def ready() -> bool:
        try:
            fetch(port, probe.name, timeout=1.0)
        except (OSError, http.client.HTTPException):
            return False
        return True

    return ready


# ---------------------------------------------------------------------------------------
# Processes and CPUs.


def process_ticks() -> dict[int, tuple[str, int, int, int]]:
    """pid -> (comm, process group, utime+stime, utime) in clock ticks, of every live
    process.  utime/stime cover all of a process's threads, also those that have exited."""
    return {pid: (p.comm, p.pgid, p.utime + p.stime, p.utime) for pid, p in proc_stats().items()}


def cpu_use(
    before: dict[int, tuple[str, int, int, int]],
    after: dict[int, tuple[str, int, int, int]],
    wall_s: float,
    server_pgid: int,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The server group's CPU between two process_ticks() samples, and the other processes
    (not ours) that used at least OTHER_PROCESS_MIN_PCT % of a CPU meanwhile.  A process
    that exited in between is not counted (wrk itself is measured apart)."""
    server_ticks = server_user_ticks = 0
    processes = {}
    others = []
    me = os.getpid()
    for pid, (comm, pgid, now, user) in after.items():
        delta = now - before[pid][2] if pid in before else now
        if pgid == server_pgid:
            server_ticks += delta
            server_user_ticks += user - before[pid][3] if pid in before else user
            processes[str(pid)] = {"comm": comm, "cpu_s": delta / CLK_TCK}
        elif pid != me and wall_s > 0:
            pct = 100.0 * delta / CLK_TCK / wall_s
            if pct >= OTHER_PROCESS_MIN_PCT:
                others.append(
                    {"pid": pid, "comm": comm, "args": cmdline(pid), "cpu_pct": round(pct, 1)}
                )
    cpu_s = server_ticks / CLK_TCK
    server = {
        "cpu_s": cpu_s,
        "user_cpu_s": server_user_ticks / CLK_TCK,
        "wall_s": round(wall_s, 4),
        "cpu_pct_of_wall": round(100.0 * cpu_s / wall_s, 1) if wall_s > 0 else None,
        "processes": processes,
    }
    return server, sorted(others, key=lambda o: -o["cpu_pct"])


def foreign_user_pct(
    breakdown: dict[str, dict[str, float]], known_user_s: float, wall_s: float
) -> float | None:
    """User-mode CPU (% of one CPU) spent during a run by processes that are neither the
    server, wrk nor this script: all CPUs' user+nice time from /proc/stat minus the user
    time of those three.  Unlike a per-process sample it also catches processes that
    started and ended during the run.  (Kernel time is left out: the loopback TCP work
    is system and softirq time that no process is charged for exactly.)"""
    if wall_s <= 0 or not breakdown:
        return None
    user = sum(cpu.get("user", 0.0) + cpu.get("nice", 0.0) for cpu in breakdown.values())
    return round(max(0.0, user - 100.0 * known_user_s / wall_s), 1)


def cpu_busy(before: dict[str, list[int]], after: dict[str, list[int]]) -> dict:
    """Busy % (all but idle and iowait) of each CPU between two cpu_times() samples, and
    the % per /proc/stat field (steal: time the hypervisor gave to someone else)."""
    busy = {}
    breakdown = {}
    for cpu, delta in cpu_deltas(before, after).items():
        fields = breakdown_pct(delta)
        if fields is not None:
            busy[cpu] = busy_pct(delta)
            breakdown[cpu] = fields
    return {"busy_pct": busy, "breakdown_pct": breakdown}


def versions(wrk: str) -> dict[str, Any]:
    nginx = find_program("nginx")
    nginx_match = re.search(r"nginx/(\S+)", command_output([nginx, "-v"])) if nginx else None
    nginx_deb = command_output(["dpkg-query", "-W", "-f", "${Version}", "nginx"]).strip()
    wrk_match = re.search(r"^wrk (\S+)", command_output([wrk, "--version"]), re.MULTILINE)
    return common_versions(
        {
            "httptools": package_version("httptools"),
            "uvicorn": package_version("uvicorn"),
            "starlette": package_version("starlette"),
            "uvloop": package_version("uvloop"),
            "anyio": package_version("anyio"),
            "nginx": nginx_match.group(1) if nginx_match else None,
            "nginx_deb": nginx_deb if re.fullmatch(r"[\w.:+~-]+", nginx_deb) else None,
            "wrk": wrk_match.group(1) if wrk_match else None,
        }
    )


def busiest_processes(limit: int = 5) -> list[str]:
    """`ps` lines of the busiest processes (lifetime %CPU), to spot a noisy neighbour."""
    text = command_output(["ps", "-eo", "pid,pcpu,etime,args", "--sort=-pcpu"])
    return [line.strip()[:160] for line in text.splitlines()[1 : limit + 1]]


# ---------------------------------------------------------------------------------------
# wrk.


def wrk_argv(wrk: str, script: Path | str, url: str, seconds: int, args: argparse.Namespace):
    return [
        wrk,
        "-t", str(args.threads),
        "-c", str(args.connections),
        "-d", f"{seconds}s",
        "-s", str(script),
        url,
    ]  # fmt: skip


def parse_wrk(output: str) -> dict[str, Any]:
    match = re.search(r"^WRK_RESULT (\{.*\})$", output, re.MULTILINE)
    if not match:
        raise BenchError(f"wrk output lacks the WRK_RESULT line:\n{output[-1500:]}")
    raw = json.loads(match.group(1))
    seconds = raw["duration_us"] / 1e6
    requests = raw["requests"]
    errors = {k: int(v) for k, v in raw["errors"].items()}
    latency_ms = {k: v / 1000.0 for k, v in raw["latency_us"].items()}
    result: dict[str, Any] = {
        "duration_s": seconds,
        "requests": int(requests),
        "bytes": int(raw["bytes"]),
        "rps": requests / seconds if seconds > 0 else 0.0,
        "mb_per_s": raw["bytes"] / seconds / 1e6 if seconds > 0 else 0.0,
        "bytes_per_response": raw["bytes"] / requests if requests else None,
        "errors": errors,
        "error_total": sum(errors.values()),
        "latency_ms": latency_ms,
    }
    # wrk's own summary lines, kept as a cross-check of the Lua figures.
    for key, pattern in (
        ("wrk_requests_per_sec", r"Requests/sec:\s+([\d.]+)"),
        ("wrk_transfer_per_sec", r"Transfer/sec:\s+(\S+)"),
        ("wrk_non_2xx_3xx", r"Non-2xx or 3xx responses:\s+(\d+)"),
        ("wrk_socket_errors", r"Socket errors:\s+(.*)"),
    ):
        found = re.search(pattern, output)
        if found:
            result[key] = found.group(1).strip()
    return result


def run_wrk(argv: list[str], seconds: int) -> tuple[dict[str, Any], str]:
    budget = seconds + WRK_GRACE
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=budget, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as exc:  # subprocess.run kills it
        raise BenchError(f"wrk did not finish within {budget:.0f}s") from exc
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise BenchError(f"wrk exited with status {done.returncode}:\n{output[-1500:]}")
    return parse_wrk(output), output


# ---------------------------------------------------------------------------------------
# One run, and the preflight check.


def preflight(
    name: str,
    workdir: Path,
    folder: Path,
    files: dict[str, ServedFile],
    pin: dict[str, Any],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Start the server once; check every file (status, Content-Length, bytes)."""
    out: dict[str, Any] = {"server": name}
    try:
        port = free_port()
        launch = launch_for(name, workdir, folder, port, args)
        out["command"] = shlex.join(pin_prefix(pin, SERVER_CPU) + launch.argv)
        out.update(launch.notes)
        log = workdir / f"{name}-preflight.log"
        with running_server(
            launch, port, log, pin_prefix(pin, SERVER_CPU), answers(port, files["small"])
        ):
            out["files"] = {key: check_file(port, served) for key, served in files.items()}
        out["ok"] = True
    except BenchError as exc:
        out["ok"] = False
        out["error"] = str(exc)
    return out


def bench_one(
    name: str,
    served: ServedFile,
    rnd: int,
    workdir: Path,
    folder: Path,
    wrk: str,
    script: Path,
    pin: dict[str, Any],
    args: argparse.Namespace,
) -> dict[str, Any]:
    run: dict[str, Any] = {"round": rnd, "file": served.key, "server": name}
    run["started_at"] = utc_now()
    try:
        port = free_port()
        run["port"] = port
        launch = launch_for(name, workdir, folder, port, args)
        run["server_command"] = shlex.join(pin_prefix(pin, SERVER_CPU) + launch.argv)
        log = workdir / f"{name}-{served.key}-round{rnd}.log"
        with running_server(
            launch, port, log, pin_prefix(pin, SERVER_CPU), answers(port, served)
        ) as proc:
            run["server_affinity"] = {
                str(pid): affinity(pid)
                for pid, (_, pgid, _, _) in process_ticks().items()
                if pgid == proc.pid
            }
            check_file(port, served)
            url = f"http://{HOST}:{port}/{served.name}"
            wrk_pin = pin_prefix(pin, WRK_CPU)
            if args.warmup:
                run["warmup"], _ = run_wrk(
                    wrk_pin + wrk_argv(wrk, script, url, args.warmup, args), args.warmup
                )
            if proc.poll() is not None:
                raise BenchError(f"server died during warm-up; log tail:\n{log_tail(log)}")
            measure = wrk_pin + wrk_argv(wrk, script, url, args.duration, args)
            run["wrk_argv"] = measure
            cpus_before = cpu_times()
            procs_before = process_ticks()
            children_before = rusage_s(resource.RUSAGE_CHILDREN)
            self_before = rusage_s(resource.RUSAGE_SELF)
            start = time.monotonic()
            result, output = run_wrk(measure, args.duration)
            wall = time.monotonic() - start
            children_after = rusage_s(resource.RUSAGE_CHILDREN)
            self_after = rusage_s(resource.RUSAGE_SELF)
            wrk_cpu = children_after[0] - children_before[0]
            wrk_user = children_after[1] - children_before[1]
            procs_after = process_ticks()
            cpus_after = cpu_times()
            result.update(cpu_busy(cpus_before, cpus_after))
            result["server_cpu"], run["other_busy_processes"] = cpu_use(
                procs_before, procs_after, wall, proc.pid
            )
            cpu_s = result["server_cpu"]["cpu_s"]
            result["server_cpu"]["us_per_request"] = (
                1e6 * cpu_s / result["requests"] if result["requests"] and cpu_s else None
            )
            result["wrk_cpu"] = {
                "cpu_s": round(wrk_cpu, 4),
                "user_cpu_s": round(wrk_user, 4),
                "cpu_pct_of_wall": round(100.0 * wrk_cpu / wall, 1) if wall > 0 else None,
            }
            known_user = result["server_cpu"]["user_cpu_s"] + wrk_user
            known_user += self_after[1] - self_before[1]
            result["foreign_user_cpu_pct"] = foreign_user_pct(
                result["breakdown_pct"], known_user, wall
            )
            per_response = result["bytes_per_response"]
            result["short_responses"] = per_response is not None and per_response < served.size
            if proc.poll() is not None:
                raise BenchError(f"server died during the run; log tail:\n{log_tail(log)}")
            run["result"] = result
            run["wrk_output"] = output
    except BenchError as exc:
        run["error"] = str(exc)
    return run


# ---------------------------------------------------------------------------------------
# Summary and report.


def summarise(runs: list[dict[str, Any]], servers: list[str], key: str) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for name in servers:
        mine = [run for run in runs if run["server"] == name and run["file"] == key]
        ok = [run["result"] for run in mine if run.get("result")]
        failed = [run for run in mine if run.get("error")]
        entry: dict[str, Any] = {"rounds_ok": len(ok), "rounds_failed": len(failed)}
        entry["noisy_rounds"] = [
            run["round"]
            for run in mine
            if run.get("result") and (run["result"]["foreign_user_cpu_pct"] or 0) >= NOISY_RUN_PCT
        ]
        entry["foreign_user_cpu_pct_all"] = [r["foreign_user_cpu_pct"] for r in ok]
        if ok:
            rps = [r["rps"] for r in ok]
            cpus = sorted(ok[0]["busy_pct"])
            entry.update(
                rps_all=rps,
                median_rps=statistics.median(rps),
                min_rps=min(rps),
                max_rps=max(rps),
                mb_per_s_all=[r["mb_per_s"] for r in ok],
                median_mb_per_s=statistics.median(r["mb_per_s"] for r in ok),
                min_mb_per_s=min(r["mb_per_s"] for r in ok),
                max_mb_per_s=max(r["mb_per_s"] for r in ok),
                median_p50_ms=statistics.median(r["latency_ms"]["p50"] for r in ok),
                median_p99_ms=statistics.median(r["latency_ms"]["p99"] for r in ok),
                errors_total={k: sum(r["errors"][k] for r in ok) for k in ok[0]["errors"]},
                requests_total=sum(r["requests"] for r in ok),
                short_response_rounds=sum(1 for r in ok if r["short_responses"]),
                median_bytes_per_response=statistics.median(
                    r["bytes_per_response"] or 0 for r in ok
                ),
                median_cpu_busy_pct={
                    cpu: statistics.median(r["busy_pct"].get(cpu, 0) for r in ok) for cpu in cpus
                },
                median_cpu_steal_pct={
                    cpu: statistics.median(
                        r["breakdown_pct"].get(cpu, {}).get("steal", 0) for r in ok
                    )
                    for cpu in cpus
                },
                median_server_cpu_pct=statistics.median(
                    r["server_cpu"]["cpu_pct_of_wall"] or 0 for r in ok
                ),
                median_server_us_per_request=statistics.median(
                    r["server_cpu"]["us_per_request"] or 0 for r in ok
                ),
                median_wrk_cpu_pct=statistics.median(
                    r["wrk_cpu"]["cpu_pct_of_wall"] or 0 for r in ok
                ),
            )
            entry["error_total"] = sum(entry["errors_total"].values())
        if failed:
            entry["last_error"] = failed[-1]["error"]
        summary[name] = entry
    return summary


# metric -> (summary key of the median, getter on a run result)
RATIO_METRICS = {
    "rps": ("median_rps", lambda r: r["rps"]),
    "mb_per_s": ("median_mb_per_s", lambda r: r["mb_per_s"]),
    "server_us_per_request": (
        "median_server_us_per_request",
        lambda r: r["server_cpu"]["us_per_request"],
    ),
}


def ratios(
    runs: list[dict[str, Any]], summary: dict[str, Any], key: str, servers: list[str]
) -> dict[str, Any]:
    """webtrip/peer for each peer and metric: the ratio of the medians, and the median of
    the ratios within each round (the runs of one round are a minute or two apart)."""
    out: dict[str, Any] = {}
    if "webtrip" not in servers:
        return out
    for peer in servers:
        if peer == "webtrip":
            continue
        pair = out[f"webtrip/{peer}"] = {}
        for metric, (median_key, get) in RATIO_METRICS.items():
            mine = summary.get("webtrip", {}).get(median_key)
            theirs = summary.get(peer, {}).get(median_key)
            if not mine or not theirs:
                pair[metric] = None
                continue
            by_round: dict[int, dict[str, float]] = {}
            for run in runs:
                if run.get("result") and run["file"] == key:
                    by_round.setdefault(run["round"], {})[run["server"]] = get(run["result"])
            pair[metric] = ratio_summary(mine, theirs, paired_ratios(by_round, "webtrip", peer))
    return out


def goal_results(report: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for key, peer, metric, goal in GOALS:
        value = report["ratios"].get(key, {}).get(f"webtrip/{peer}", {}).get(metric)
        ratio = value["ratio_of_medians"] if value else None
        out.append(
            {
                "file": key,
                "peer": peer,
                "metric": metric,
                "goal": goal,
                "ratio": ratio,
                "paired_ratio": value["median_of_paired_round_ratios"] if value else None,
                "met": None if ratio is None else ratio >= goal,
                "load_generator_bound": [
                    name for name in ("webtrip", peer) if load_generator_bound(report, key, name)
                ],
            }
        )
    return out


def load_generator_bound(report: dict[str, Any], key: str, name: str) -> bool:
    """True if wrk itself used at least WRK_BOUND_PCT % of a CPU (median over rounds):
    one wrk thread cannot go much faster, so the server may have had spare capacity."""
    s = report["summary"].get(key, {}).get(name, {})
    used = s.get("median_wrk_cpu_pct")
    return used is not None and used >= WRK_BOUND_PCT


def server_names(report: dict[str, Any]) -> dict[str, str]:
    ver = report["versions"]
    source = report.get("webtrip_source", {})
    if source.get("commit"):
        rev = f" @ {source['commit'][:7]}"
    elif source.get("head"):
        dirty = " + uncommitted src/ changes" if source.get("src_changes_vs_head") else ""
        rev = f" @ {source['head'][:7]}{dirty}"
    else:
        rev = ""
    uv = report.get("uvicorn_options", {})
    stdlib_protocol = report["config"]["stdlib_protocol"] or "HTTP/1.0"
    return {
        "webtrip": f"webtrip {ver['webtrip'] or ''}{rev}".strip(),
        "stdlib": f"http.server (Python {ver['python']}, {stdlib_protocol})",
        "uvicorn": f"uvicorn {ver['uvicorn']} + Starlette {ver['starlette']} StaticFiles "
        f"({uv.get('loop', '?')}, {uv.get('http', '?')})",
        "nginx": f"nginx {ver['nginx']}",
    }


def _us_text(value: float | None) -> str:
    if not value:
        return "n/a"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _process_label(other: dict[str, Any]) -> str:
    """A short name for another busy process: its command line's first words."""
    words = other.get("args", "").split()
    if not words:
        return other["comm"]
    words[0] = os.path.basename(words[0])
    return " ".join(words[:5])[:60]


def _errors_text(entry: dict[str, Any]) -> str:
    if not entry.get("error_total"):
        return "0"
    parts = [f"{k} {v:,}" for k, v in entry["errors_total"].items() if v]
    return "**" + ", ".join(parts) + "**"


def file_markdown(report: dict[str, Any], key: str) -> list[str]:
    cfg = report["config"]
    served = report["files"][key]
    summary = report["summary"][key]
    names = server_names(report)
    pin = report["pinning"]
    scpu, wcpu = f"cpu{pin['server_cpu']}", f"cpu{pin['wrk_cpu']}"
    title = "small file" if key == "small" else "large file"
    lines = [
        f"### {title}: `/{served['name']}`, {served['size']:,} bytes",
        "",
        "| Server | Median req/s | req/s min–max | Median MB/s | Latency p50 / p99 (ms) "
        "| Errors | Server CPU % | Server CPU µs/req | wrk CPU % | CPU busy % (srv / wrk CPU) "
        "| Rounds ok |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in cfg["servers"]:
        s = summary[name]
        rounds = f"{s['rounds_ok']}/{s['rounds_ok'] + s['rounds_failed']}"
        if s["noisy_rounds"]:
            rounds += f" ({len(s['noisy_rounds'])} noisy)"
        if not s["rounds_ok"]:
            lines.append(f"| {names[name]} | failed | – | – | – | – | – | – | – | – | {rounds} |")
            continue
        busy = s["median_cpu_busy_pct"]
        busy_text = (
            f"{busy.get(scpu, 0):.0f} / {busy.get(wcpu, 0):.0f}" if pin["enabled"] else "n/a"
        )
        lines.append(
            f"| {names[name]} | {s['median_rps']:,.0f} | "
            f"{s['min_rps']:,.0f}–{s['max_rps']:,.0f} | {s['median_mb_per_s']:,.1f} | "
            f"{s['median_p50_ms']:.2f} / {s['median_p99_ms']:.2f} | {_errors_text(s)} | "
            f"{s['median_server_cpu_pct']:.0f} | {_us_text(s['median_server_us_per_request'])} | "
            f"{s['median_wrk_cpu_pct']:.0f} | "
            f"{busy_text} | {rounds} |"
        )
    lines.append("")
    rows = []
    for pair, value in report["ratios"].get(key, {}).items():
        peer = pair.split("/")[1]
        cpu = value["server_us_per_request"]
        rows.append(
            f"| webtrip/{LABELS[peer]} | {ratio_text(value['rps'])} | "
            f"{ratio_text(value['mb_per_s'])} | {ratio_text(cpu)} | "
            f"{ratio_text(cpu, invert=True)} |"
        )
    if rows:
        lines += [
            "| Ratio | req/s | MB/s | Server CPU µs/req | CPU-bound capacity, *estimate* |",
            "|---|---:|---:|---:|---:|",
            *rows,
            "",
            "Ratios of the medians; in brackets the median of the per-round ratios. "
            "Capacity = inverse of the CPU-per-request ratio (requests one busy CPU could "
            "serve).",
            "",
        ]
    notes = []
    for name in cfg["servers"]:
        s = summary[name]
        if not s["rounds_ok"]:
            continue
        if s.get("error_total"):
            notes.append(
                f"{LABELS[name]}: wrk counted errors ({_errors_text(s)}, over "
                f"{s['requests_total']:,} responses; `status` = HTTP status ≥ 400)."
            )
        if s.get("short_response_rounds"):
            notes.append(
                f"{LABELS[name]}: fewer bytes per response than the file in "
                f"{s['short_response_rounds']} round(s) (not the file: treat as failed)."
            )
        if load_generator_bound(report, key, name):
            notes.append(
                f"{LABELS[name]}: wrk used {s['median_wrk_cpu_pct']:.0f} % of its CPU "
                f"({s['median_cpu_busy_pct'].get(wcpu, 0):.0f} % busy in all) while the "
                f"server used {s['median_server_cpu_pct']:.0f} % of its own: the load "
                "generator is the limit, read the figure as a lower bound."
            )
    if notes:
        lines += [f"* {note}" for note in notes] + [""]
    return lines


def markdown(report: dict[str, Any]) -> str:
    cfg = report["config"]
    ver = report["versions"]
    pin = report["pinning"]
    lines: list[str] = []
    failed = [p for p in report["preflight"].values() if not p.get("ok")]
    for check in failed:
        first = check.get("error", "").splitlines()[0] if check.get("error") else "?"
        lines += [f"**{LABELS[check['server']]} failed the check, not measured**: {first}", ""]
    for key in cfg["files"]:
        lines += file_markdown(report, key)
    goals = []
    for g in report["goals"]:
        if g["ratio"] is None:
            continue
        what = "small file" if g["file"] == "small" else "10 MiB file"
        paired = f", per-round {g['paired_ratio']:.3g}×" if g["paired_ratio"] else ""
        bound = g["load_generator_bound"]
        caveat = (
            f" (wrk was the limit for {' and '.join(LABELS[n] for n in bound)}: "
            "see server CPU per request)"
            if bound
            else ""
        )
        goals.append(
            f"* {what}, {METRIC_LABELS[g['metric']]} ≥ {g['goal']:g}× {LABELS[g['peer']]}: "
            f"**{g['ratio']:.3g}×{paired}: {'met' if g['met'] else 'NOT met'}**{caveat}"
        )
    if goals:
        lines += ["Goals (webtrip vs peer, ratio of medians):", "", *goals, ""]
    keep = {
        LABELS[name]: all(f["keep_alive"] for f in p["files"].values())
        for name, p in report["preflight"].items()
        if p.get("ok")
    }
    closers = [label for label, alive in keep.items() if not alive]
    if closers:
        lines += [
            f"No keep-alive from {', '.join(closers)}: it closes the connection after every "
            "response, so wrk opens a new TCP connection per request.",
            "",
        ]
    others: dict[str, float] = {}
    for run in report["runs"]:
        for other in run.get("other_busy_processes", []):
            label = _process_label(other)
            others[label] = max(others.get(label, 0.0), other["cpu_pct"])
    retried = report.get("discarded_noisy_runs", [])
    if retried:
        lines += [
            f"{len(retried)} noisy run(s) were repeated (`--retry-noisy {cfg['retry_noisy']}`);"
            " the tables use the quietest attempt of each, chosen by the noise figure only "
            "(the others are in `discarded_noisy_runs` in the JSON).",
            "",
        ]
    waits = [r["quiet_wait"] for r in report["runs"] if "quiet_wait" in r]
    if waits:
        loud = sum(1 for w in waits if not w["quiet"])
        lines += [
            f"Before each run the bench waited up to {cfg['quiet_wait']:g} s for the machine "
            f"to be < {QUIET_PCT:g} % busy (`--quiet-wait`): "
            f"{max(w['waited_s'] for w in waits):.0f} s at most"
            + (f", and gave up {loud} time(s)" if loud else "")
            + ".",
            "",
        ]
    lines += [
        f"*Noisy* run: other processes used ≥ {NOISY_RUN_PCT:g} % of a CPU in user mode "
        "during it (all CPUs' user time from /proc/stat minus the server's, wrk's and the "
        "bench's own; `foreign_user_cpu_pct` in the JSON).",
        "",
    ]
    if others:
        text = ", ".join(f"`{c}` (up to {p:.0f} %)" for c, p in sorted(others.items()))
        lines += [
            f"Other processes busy during runs (% of one CPU): {text}.",
            "",
        ]
    else:
        lines += [
            f"No other process used ≥ {OTHER_PROCESS_MIN_PCT:g} % of a CPU during any "
            "measured run.",
            "",
        ]
    pin_text = (
        f"servers pinned to CPU {pin['server_cpu']}, wrk to CPU {pin['wrk_cpu']}"
        if pin["enabled"]
        else f"no CPU pinning ({pin['reason']})"
    )
    rounds = f"{cfg['rounds']} interleaved round{'s' if cfg['rounds'] != 1 else ''}"
    lines.append(
        f"wrk {ver['wrk']} over loopback with keep-alive, `{report['wrk_command']}`; "
        f"{rounds} of {cfg['duration']} s after a {cfg['warmup']} s warm-up, each run a fresh "
        f"server; {pin_text}; {ver['cpu_model']} ({ver['cpu_count']} CPUs), "
        f"Linux {ver['kernel']}, Python {ver['python']}, httptools {ver['httptools']}, "
        f"uvloop {ver['uvloop']}, nginx {ver['nginx']} (`worker_processes 1`, sendfile, "
        f"tcp_nopush, no access log); {report['started_at'][:10]}. MB = 10⁶ bytes, counted "
        "by wrk (headers included). Server CPU % = utime+stime of the server's processes "
        "÷ wall time; CPU busy % = whole CPU from /proc/stat."
    )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="wrk requests/s: webtrip vs http.server vs uvicorn+StaticFiles vs nginx"
    )
    parser.add_argument("--duration", type=int, default=8, help="seconds per measured run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of warm-up per run")
    parser.add_argument("--connections", type=int, default=10, help="wrk -c")
    parser.add_argument("--threads", type=int, default=1, help="wrk -t")
    parser.add_argument(
        "--servers",
        default=",".join(ALL_SERVERS),
        help="comma-separated subset of " + ",".join(ALL_SERVERS),
    )
    parser.add_argument(
        "--files", default=",".join(ALL_FILES), help="comma-separated subset of small,large"
    )
    parser.add_argument("--page", type=Path, default=DEFAULT_PAGE, help="the small file (copied)")
    parser.add_argument(
        "--large-size", type=int, default=LARGE_SIZE, help=f"bytes (default {LARGE_SIZE:,})"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="RNG seed of the large file")
    parser.add_argument(
        "--stdlib-protocol",
        choices=("HTTP/1.0", "HTTP/1.1"),
        help="pass --protocol to http.server (default: none, i.e. HTTP/1.0, no keep-alive)",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="JSON result; a .md report goes beside it"
    )
    parser.add_argument(
        "--webtrip-rev",
        metavar="REV",
        help="run webtrip from `git archive REV src` instead of the working tree's src/",
    )
    parser.add_argument("--no-pin", action="store_true", help="do not use taskset")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=0,
        metavar="SECONDS",
        help=f"before each run, wait up to SECONDS until the machine is < {QUIET_PCT:g} %% of "
        "a CPU busy (default 0: do not wait)",
    )
    parser.add_argument(
        "--retry-noisy",
        type=int,
        default=0,
        metavar="N",
        help=f"repeat a run up to N times while other processes used >= {NOISY_RUN_PCT:g} %% "
        "of a CPU during it; the quietest attempt is kept (chosen by that noise figure "
        "only, never by its result); the others stay in the JSON (default 0)",
    )
    parser.add_argument("--keep-tmp", action="store_true", help="keep the temp dir (logs)")
    args = parser.parse_args(argv)
    args.server_list = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = sorted(set(args.server_list) - set(ALL_SERVERS))
    if unknown or not args.server_list:
        parser.error(f"--servers: unknown {unknown}; choose from {','.join(ALL_SERVERS)}")
    args.file_list = [f.strip() for f in args.files.split(",") if f.strip()]
    unknown = sorted(set(args.file_list) - set(ALL_FILES))
    if unknown or not args.file_list:
        parser.error(f"--files: unknown {unknown}; choose from {','.join(ALL_FILES)}")
    for option in ("duration", "rounds", "connections", "threads", "large_size"):
        if getattr(args, option) < 1:
            parser.error(f"--{option.replace('_', '-')} must be at least 1")
    if args.warmup < 0 or args.quiet_wait < 0 or args.retry_noisy < 0:
        parser.error("--warmup, --quiet-wait and --retry-noisy must be >= 0")
    return args


def is_noisy(run: dict[str, Any]) -> bool:
    result = run.get("result")
    return bool(result and (result["foreign_user_cpu_pct"] or 0) >= NOISY_RUN_PCT)


def machine_busy_pct(sample_s: float = QUIET_SAMPLE_S) -> float:
    """Busy time of all CPUs together over ``sample_s`` seconds, in % of one CPU."""
    busy = sample_cpu_busy(sample_s)
    return round(sum(b for b in busy.values() if b is not None), 1)


def wait_for_quiet(max_s: float) -> dict[str, Any]:
    """Before a run (no server of ours is up): wait until the whole machine is less than
    QUIET_PCT % of one CPU busy over a QUIET_SAMPLE_S sample, for at most ``max_s``."""
    start = time.monotonic()
    while True:
        busy = machine_busy_pct()
        waited = time.monotonic() - start
        if busy < QUIET_PCT or waited >= max_s:
            return {"waited_s": round(waited, 1), "busy_pct": busy, "quiet": busy < QUIET_PCT}
        time.sleep(QUIET_POLL_S)


def run_status(run: dict[str, Any]) -> str:
    if run.get("result"):
        r = run["result"]
        lat = r["latency_ms"]
        busy = " / ".join(f"{v:.0f}" for _, v in sorted(r["busy_pct"].items()))
        return (
            f"{r['rps']:>10,.0f} req/s {r['mb_per_s']:>9,.1f} MB/s  "
            f"p50 {lat['p50']:.2f} p99 {lat['p99']:.2f} ms  errors {r['error_total']}  "
            f"server {r['server_cpu']['cpu_pct_of_wall']:.0f}% wrk "
            f"{r['wrk_cpu']['cpu_pct_of_wall']:.0f}% CPU  busy {busy} %  "
            f"foreign {r['foreign_user_cpu_pct']:.0f}%"
        )
    lines = [line for line in run["error"].splitlines() if line.strip()]
    return "FAILED: " + lines[0] + (f" … {lines[-1]}" if len(lines) > 1 else "")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    terminate_on_sigterm()
    wrk = find_program("wrk")
    if wrk is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    if not args.page.is_file():
        print(f"page not found: {args.page}", file=sys.stderr)
        return 2

    pin = pinning(not args.no_pin, SERVER_CPU, WRK_CPU, "wrk_cpu")
    workdir = Path(tempfile.mkdtemp(prefix="webtrip-http-rps-"))
    # mkdtemp makes it 0700: nginx started as root serves files from a worker running as
    # "nobody" (no `user` directive), which must be able to read them.
    workdir.chmod(0o755)
    try:
        args.webtrip_src, webtrip_info = webtrip_source(args.webtrip_rev, workdir)
    except BenchError as exc:
        print(exc, file=sys.stderr)
        shutil.rmtree(workdir, ignore_errors=True)
        return 2
    webtrip_info["src"] = str(args.webtrip_src)
    folder = workdir / "site"
    all_files = prepare_folder(folder, args.page, args.large_size, args.seed)
    files = {key: all_files[key] for key in args.file_list}
    script = workdir / "report.lua"
    script.write_text(WRK_SCRIPT, encoding="utf-8")
    warn_uncommitted(webtrip_info, args.server_list)
    per_run = 3 + args.warmup + args.duration
    estimate = per_run * args.rounds * len(args.server_list) * len(files)
    print(
        f"# {len(files)} files × {len(args.server_list)} servers × {args.rounds} rounds × "
        f"{args.duration} s (≈{estimate // 60} min {estimate % 60} s); pinning: "
        f"{pin['reason']}; workdir {workdir}",
        file=sys.stderr,
    )
    loop, http_impl = uvicorn_options()
    report: dict[str, Any] = {
        "benchmark": "http_rps",
        "started_at": utc_now(),
        "argv": sys.argv[1:] if argv is None else argv,
        "config": {
            "files": args.file_list,
            "duration": args.duration,
            "rounds": args.rounds,
            "warmup": args.warmup,
            "connections": args.connections,
            "threads": args.threads,
            "servers": args.server_list,
            "page_source": str(args.page),
            "large_size": args.large_size,
            "seed": args.seed,
            "stdlib_protocol": args.stdlib_protocol,
            "quiet_wait": args.quiet_wait,
            "retry_noisy": args.retry_noisy,
        },
        "files": {
            key: {"name": f.name, "size": f.size, "sha256": f.sha256} for key, f in files.items()
        },
        "pinning": pin,
        "webtrip_source": webtrip_info,
        "versions": versions(wrk),
        "uvicorn_options": {"loop": loop, "http": http_impl},
        "wrk_script": WRK_SCRIPT,
        "wrk_command": shlex.join(
            pin_prefix(pin, WRK_CPU)
            + wrk_argv("wrk", "report.lua", f"http://{HOST}:PORT/FILE", args.duration, args)
        ),
        "loadavg_start": loadavg(),
        "busiest_processes_at_start": busiest_processes(),
        "preflight": {},
        "runs": [],
        "discarded_noisy_runs": [],
    }
    runs: list[dict[str, Any]] = report["runs"]
    out = args.out
    try:
        for name in args.server_list:
            check = preflight(name, workdir, folder, files, pin, args)
            report["preflight"][name] = check
            status = "ok" if check["ok"] else "FAILED: " + check["error"].splitlines()[0]
            if check["ok"]:
                keep = all(f["keep_alive"] for f in check["files"].values())
                status += f" (keep-alive: {'yes' if keep else 'no'})"
            print(f"check {name:8} {status}", file=sys.stderr)
        measured = [name for name in args.server_list if report["preflight"][name]["ok"]]
        for rnd in range(1, args.rounds + 1):
            for key in rotate(args.file_list, rnd - 1):
                for name in rotate(measured, rnd - 1) if measured else []:
                    attempts = []
                    for attempt in range(1, args.retry_noisy + 2):
                        quiet = wait_for_quiet(args.quiet_wait) if args.quiet_wait else None
                        run = bench_one(
                            name, files[key], rnd, workdir, folder, wrk, script, pin, args
                        )
                        run["attempt"] = attempt
                        if quiet is not None:
                            run["quiet_wait"] = quiet
                        attempts.append(run)
                        print(
                            f"round {rnd} {key:5} {name:8} {run_status(run)}"
                            + (f" (attempt {attempt})" if attempt > 1 else ""),
                            file=sys.stderr,
                        )
                        time.sleep(0.5)
                        if not is_noisy(run):
                            break
                    if all(r.get("result") for r in attempts):
                        kept = min(attempts, key=lambda r: r["result"]["foreign_user_cpu_pct"] or 0)
                    else:
                        kept = attempts[-1]  # a failure is kept, never retried away
                    runs.append(kept)
                    report["discarded_noisy_runs"] += [r for r in attempts if r is not kept]
    except BaseException as exc:  # Ctrl-C or SIGTERM: keep the partial result apart
        report["interrupted"] = type(exc).__name__
        out = args.out.with_name(args.out.stem + ".interrupted.json")
        raise
    finally:
        report["loadavg_end"] = loadavg()
        report["busiest_processes_at_end"] = busiest_processes()
        report["finished_at"] = utc_now()
        report["summary"] = {k: summarise(runs, args.server_list, k) for k in args.file_list}
        report["ratios"] = {
            k: ratios(runs, report["summary"][k], k, args.server_list) for k in args.file_list
        }
        report["goals"] = goal_results(report)
        report["markdown"] = markdown(report)
        write_results(out, report, report["markdown"] + "\n")
        if args.keep_tmp:
            print(f"# kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    print(report["markdown"])
    failed_checks = any(not p["ok"] for p in report["preflight"].values())
    bad_runs = any(
        not run.get("result") or run["result"]["error_total"] or run["result"]["short_responses"]
        for run in runs
    )
    return 1 if failed_checks or bad_runs or not runs else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # servers already stopped, partial result written
        print("# interrupted", file=sys.stderr)
        sys.exit(130)
