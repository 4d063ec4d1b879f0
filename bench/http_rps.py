"""Static files on loopback: webtrip vs http.server vs uvicorn+Starlette vs nginx, with wrk.

    python bench/http_rps.py [--duration 8] [--rounds 3] [--files small,large]
                             [--servers webtrip,stdlib,uvicorn,nginx] [--webtrip-rev REV] [...]

Every server serves the same temporary folder (a 478-byte page and 10 MiB of seeded
random bytes) on a free TCP port of 127.0.0.1; every server is checked first (status,
Content-Length, the bytes); then wrk fetches one file over keep-alive connections, and a
Lua ``done()`` prints its totals, latency percentiles and every error counter. Method,
checks and caveats: bench/README.md. Exit status: 0 if every run succeeded without an
error, 1 otherwise (the JSON and the report are written all the same), 2 if the bench
cannot run.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import http.client
import importlib.util
import json
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import harness

HOST = harness.HOST
SERVERS = ("webtrip", "stdlib", "uvicorn", "nginx")
FILES = ("small", "large")
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
ERRORS = ("connect", "read", "write", "timeout", "status")  # wrk's counters (status: HTTP ≥ 400)

# wrk's done() hook: one line of JSON after wrk's own report. Times are in µs.
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


@dataclasses.dataclass(frozen=True)
class ServedFile:
    key: str  # "small" or "large"
    name: str  # its name in the served folder, and URL path
    size: int
    sha256: str


def prepare_folder(folder: Path, page: Path, large_size: int, seed: int) -> dict[str, ServedFile]:
    """Copy the page and write the seeded random file; their descriptions."""
    folder.mkdir(parents=True)
    shutil.copyfile(page, folder / "index.html")
    (folder / "random-10M.bin").write_bytes(random.Random(seed).randbytes(large_size))
    out = {}
    for key, name in (("small", "index.html"), ("large", "random-10M.bin")):
        data = (folder / name).read_bytes()
        out[key] = ServedFile(key, name, len(data), hashlib.sha256(data).hexdigest())
    return out


def fetch(port: int, path: str, timeout: float = 10.0) -> dict[str, Any]:
    """GET ``path`` twice on one connection: status, headers and body digest of the first
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
    """Fetch one file; BenchError unless status, Content-Length and bytes are right."""
    try:
        got = fetch(port, served.name)
    except (OSError, http.client.HTTPException) as exc:
        raise harness.BenchError(f"GET /{served.name} failed: {exc!r}") from exc
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
        raise harness.BenchError(f"GET /{served.name}: " + ", ".join(problems))
    return got


def answers(port: int, probe: ServedFile) -> bool:
    try:
        fetch(port, probe.name, timeout=1.0)
    except (OSError, http.client.HTTPException):
        return False
    return True


# ---------------------------------------------------------------------------------------
# The servers.


def nginx_conf(run_dir: Path, folder: Path, port: int) -> str:
    """One worker, no daemon, no access log, sendfile + tcp_nopush; every other setting
    is nginx's default (keepalive_timeout 75s, keepalive_requests 1000, ...)."""
    temp = "\n".join(
        f"    {kind}_temp_path {run_dir}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""worker_processes 1;
daemon off;
pid {run_dir}/nginx.pid;
error_log {run_dir}/error.log warn;
events {{
    worker_connections 1024;
}}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
{temp}
    server {{
        listen {HOST}:{port};
        root {folder};
    }}
}}
"""


def uvicorn_options() -> tuple[str, str]:
    """(--loop, --http): uvloop and httptools when importable, as uvicorn's ``auto`` does."""
    have = lambda name: importlib.util.find_spec(name) is not None  # noqa: E731
    return "uvloop" if have("uvloop") else "asyncio", "httptools" if have("httptools") else "h11"


def launch_for(
    name: str, work: Path, folder: Path, port: int, args: argparse.Namespace
) -> harness.Launch:
    python = sys.executable
    if name == "webtrip":
        env = harness.webtrip_env(args.webtrip_src)
        argv = [python, "-m", "webtrip", "web", "serve", str(folder), "--listen", f"{HOST}:{port}"]
        return harness.Launch(argv, env, work, {"PYTHONPATH": env["PYTHONPATH"]})
    if name == "stdlib":
        argv = [python, "-m", "http.server", str(port), "--bind", HOST, "--directory", str(folder)]
        argv += ["--protocol", args.stdlib_protocol] if args.stdlib_protocol else []
        return harness.Launch(argv, None, work)
    if name == "uvicorn":
        if missing := [m for m in ("uvicorn", "starlette") if importlib.util.find_spec(m) is None]:
            raise harness.BenchError(
                f"{', '.join(missing)} not installed: pip install -e '.[bench]'"
            )
        loop, http_impl = uvicorn_options()
        env = {k: v for k, v in os.environ.items() if k != "WEB_CONCURRENCY"}
        env["BENCH_STATIC_DIR"] = str(folder)
        argv = [python, "-m", "uvicorn", "--app-dir", str(harness.BENCH), "uvicorn_static:app",
                "--host", HOST, "--port", str(port), "--workers", "1", "--loop", loop,
                "--http", http_impl, "--log-level", "warning", "--no-access-log"]  # fmt: skip
        return harness.Launch(argv, env, work, {"loop": loop, "http": http_impl})
    nginx = harness.find_program("nginx")
    if nginx is None:
        raise harness.BenchError("nginx is not installed")
    run_dir = work / f"nginx-{port}"
    run_dir.mkdir(parents=True)
    conf = run_dir / "nginx.conf"
    conf.write_text(nginx_conf(run_dir, folder, port), encoding="utf-8")
    argv = [nginx, "-p", f"{run_dir}/", "-c", str(conf), "-e", str(run_dir / "error.log")]
    check = subprocess.run([*argv, "-t", "-q"], capture_output=True, text=True, timeout=10)
    if check.returncode != 0:
        raise harness.BenchError(f"nginx -t rejected the config: {check.stderr.strip()}")
    return harness.Launch(argv, None, run_dir, {"config": str(conf)})


# ---------------------------------------------------------------------------------------
# wrk.


def wrk_argv(
    wrk: str, script: Path | str, url: str, seconds: int, args: argparse.Namespace
) -> list[str]:
    return [wrk, "-t", str(args.threads), "-c", str(args.connections), "-d", f"{seconds}s",
            "-s", str(script), url]  # fmt: skip


def parse_wrk(output: str) -> dict[str, Any]:
    """wrk's figures from the WRK_RESULT line that WRK_SCRIPT's done() prints, and wrk's
    own summary lines as a cross-check. BenchError if that line is missing or broken."""
    match = re.search(r"^WRK_RESULT (.*)$", output, re.MULTILINE)
    try:
        raw = json.loads(match[1]) if match else None
        seconds, requests, size = raw["duration_us"] / 1e6, raw["requests"], raw["bytes"]
        errors = {kind: int(count) for kind, count in raw["errors"].items()}
        latency_ms = {key: value / 1000.0 for key, value in raw["latency_us"].items()}
    except (TypeError, KeyError, ValueError, AttributeError) as exc:
        problem = (
            "lacks the WRK_RESULT line" if not match else f"has a broken WRK_RESULT line ({exc!r})"
        )
        raise harness.BenchError(f"wrk output {problem}:\n{output[-1500:]}") from None
    result: dict[str, Any] = {
        "duration_s": seconds,
        "requests": int(requests),
        "bytes": int(size),
        "rps": requests / seconds if seconds > 0 else 0.0,
        "mb_per_s": size / seconds / 1e6 if seconds > 0 else 0.0,
        "bytes_per_response": size / requests if requests else None,
        "errors": errors,
        "error_total": sum(errors.values()),
        "latency_ms": latency_ms,
    }
    for key, pattern in (
        ("wrk_requests_per_sec", r"Requests/sec:\s+([\d.]+)"),
        ("wrk_transfer_per_sec", r"Transfer/sec:\s+(\S+)"),
        ("wrk_non_2xx_3xx", r"Non-2xx or 3xx responses:\s+(\d+)"),
        ("wrk_socket_errors", r"Socket errors:\s+(.*)"),
    ):
        if found := re.search(pattern, output):
            result[key] = found[1].strip()
    return result


def preflight(
    name: str, work: Path, folder: Path, files: dict[str, ServedFile], args: argparse.Namespace
) -> dict[str, Any]:
    """Start the server once; check every file (status, Content-Length, bytes)."""
    out: dict[str, Any] = {"server": name}
    try:
        port = harness.free_port()
        launch = launch_for(name, work, folder, port, args)
        out["command"] = shlex.join(launch.argv)
        log = work / f"{name}-preflight.log"
        pin = harness.pin_prefix(args.pin, harness.SERVER_CPU)
        with harness.running(launch, log, lambda: answers(port, files["small"]), pin):
            out["files"] = {key: check_file(port, served) for key, served in files.items()}
    except harness.BenchError as exc:
        return out | {"ok": False, "error": str(exc)}
    return out | {"ok": True}


def measure(
    name: str, served: ServedFile, rnd: int, work: Path, folder: Path, args: argparse.Namespace
) -> dict[str, Any]:
    """One run: a fresh server, its file checked again, a warm-up, the measured wrk."""
    run: dict[str, Any] = {"round": rnd, "file": served.key, "server": name}
    server_pin = harness.pin_prefix(args.pin, harness.SERVER_CPU)
    client_pin = harness.pin_prefix(args.pin, harness.CLIENT_CPU)
    try:
        port = harness.free_port()
        launch = launch_for(name, work, folder, port, args)
        run |= {"port": port, "server_command": shlex.join(server_pin + launch.argv)}
        log = work / f"{name}-{served.key}-round{rnd}.log"
        with harness.running(launch, log, lambda: answers(port, served), server_pin) as proc:
            run["server_affinity"] = harness.group_affinity(proc.pid)
            check_file(port, served)
            url = f"http://{HOST}:{port}/{served.name}"
            if args.warmup:
                argv = client_pin + wrk_argv(args.wrk, args.script, url, args.warmup, args)
                run["warmup"], _ = harness.run_tool(argv, args.warmup, parse_wrk)
            harness.still_running(proc, log, "during the warm-up")
            argv = client_pin + wrk_argv(args.wrk, args.script, url, args.duration, args)
            before = harness.snapshot()
            result, output = harness.run_tool(argv, args.duration, parse_wrk)
            cpu = harness.cpu_use(before, harness.snapshot(), [proc.pid])
            harness.still_running(proc, log, "during the run")
    except harness.BenchError as exc:
        return run | {"error": str(exc)}
    server_s = cpu["server"]["cpu_s"]
    result["server_us_per_request"] = (
        1e6 * server_s / result["requests"] if result["requests"] and server_s else None
    )
    per_response = result["bytes_per_response"]
    result["short_responses"] = per_response is not None and per_response < served.size
    return run | {
        "wrk_argv": argv,
        "wrk_output": output,
        "result": result,
        "cpu": cpu,
        "other_load_pct": cpu["other_load_pct"],
    }


STATUS = (
    "{result[rps]:>9,.0f} req/s {result[mb_per_s]:>8,.1f} MB/s  p50 {result[latency_ms][p50]:.2f}"
    " p99 {result[latency_ms][p99]:.2f} ms  errors {result[error_total]}  server "
    "{cpu[server][cpu_pct]:.0f}% wrk {cpu[children][cpu_pct]:.0f}% CPU"
)


# ---------------------------------------------------------------------------------------
# Summary and report.

METRICS = harness.CPU_METRICS | {
    "rps": lambda run: run["result"]["rps"],
    "mb_per_s": lambda run: run["result"]["mb_per_s"],
    "p50_ms": lambda run: run["result"]["latency_ms"]["p50"],
    "p99_ms": lambda run: run["result"]["latency_ms"]["p99"],
    "short_responses": lambda run: int(run["result"]["short_responses"]),
    "server_us_per_request": lambda run: run["result"]["server_us_per_request"],
}
METRICS |= {f"errors_{kind}": lambda run, k=kind: run["result"]["errors"][k] for kind in ERRORS}
TABLE = """\
| Server | Median req/s | req/s min–max | Median MB/s | Latency p50 / p99 (ms) | Errors \
| Server CPU % | Server CPU µs/req | wrk CPU % | CPU busy % (srv / wrk CPU) | Rounds ok |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"""
ROW = (
    "| {name} | {rps[median]:,.0f} | {rps[min]:,.0f}–{rps[max]:,.0f} | {mb_per_s[median]:,.1f} "
    "| {p50_ms[median]:.2f} / {p99_ms[median]:.2f} | {errors} | {server_cpu_pct[median]:.0f} "
    "| {us} | {client_cpu_pct[median]:.0f} "
    "| {busy_server_cpu_pct[median]:.0f} / {busy_client_cpu_pct[median]:.0f} | {rounds} |"
)
RATIO_TABLE = """\
| Ratio | req/s | MB/s | Server CPU µs/req | CPU-bound capacity, *estimate* |
|---|---:|---:|---:|---:|"""


def file_markdown(report: dict[str, Any], key: str) -> list[str]:
    args, ver, served = report["args"], report["versions"], report["files"][key]
    runs = [run for run in report["runs"] if run["file"] == key]
    servers = [name for name in args["servers"] if report["preflight"][name]["ok"]]
    threshold = args["max_other_load"]
    summary = report["summary"][key] = harness.summarise(runs, servers, METRICS, threshold)
    peers = [("webtrip", peer) for peer in servers if peer != "webtrip" and "webtrip" in servers]
    metrics = {m: METRICS[m] for m in ("rps", "mb_per_s", "server_us_per_request")}
    ratios = report["ratios"][key] = harness.ratios(runs, peers, metrics)
    notes = []
    for name, s in summary.items():
        errors = {kind: sum(s[f"errors_{kind}"]["all"]) for kind in ERRORS if f"errors_{kind}" in s}
        text = ", ".join(f"{kind} {count:,}" for kind, count in errors.items() if count)
        s["errors"] = f"**{text}**" if text else "0"
        if text:
            notes.append(f"* {LABELS[name]}: wrk counted errors ({text}; `status`: HTTP ≥ 400).")
        if short := sum(s.get("short_responses", {}).get("all", [])):
            notes.append(
                f"* {LABELS[name]}: fewer bytes per response than the file in {short} "
                "round(s): not the file, treat as failed."
            )
        us = s.get("server_us_per_request", {}).get("median") or 0
        s["us"] = f"{us:,.0f}" if us >= 100 else f"{us:.1f}" if us else "n/a"
    uv = report["uvicorn_options"]
    names = {
        "webtrip": harness.webtrip_label(ver, report["webtrip_source"]),
        "stdlib": f"http.server (Python {ver['python']}, {args['stdlib_protocol'] or 'HTTP/1.0'})",
        "uvicorn": f"uvicorn {ver['uvicorn']} + Starlette {ver['starlette']} StaticFiles "
        f"({uv['loop']}, {uv['http']})",
        "nginx": f"nginx {ver['nginx']}",
    }
    lines = [f"### {key} file: `/{served['name']}`, {served['size']:,} bytes", "", TABLE]
    lines += [*harness.server_rows(summary, names, ROW), ""]
    if ratios:
        lines.append(RATIO_TABLE)
        for pair, r in ratios.items():
            cpu = [
                harness.ratio_text(r["server_us_per_request"], invert) for invert in (False, True)
            ]
            rps, mb = harness.ratio_text(r["rps"]), harness.ratio_text(r["mb_per_s"])
            lines.append(
                f"| webtrip/{LABELS[pair.split('/')[1]]} | {rps} | {mb} | {' | '.join(cpu)} |"
            )
        lines += [
            "",
            "Ratios of the medians; in brackets the median of the per-round ratios. "
            "Capacity = inverse of the CPU-per-request ratio (requests one busy CPU could "
            "serve).",
            "",
        ]
    lines += [*notes, ""] if notes else []
    return lines + harness.load_notes(summary, LABELS, "wrk", "request")


def markdown(report: dict[str, Any]) -> str:
    args, ver, pin = report["args"], report["versions"], report["pinning"]
    report |= {"summary": {}, "ratios": {}}
    lines = [
        f"**{LABELS[name]} failed the check, not measured**: {check['error'].splitlines()[0]}\n"
        for name, check in report["preflight"].items()
        if not check["ok"]
    ]
    for key in args["files"]:
        lines += file_markdown(report, key)
    goals = []
    for key, peer, metric, goal in GOALS:
        if value := report["ratios"].get(key, {}).get(f"webtrip/{peer}", {}).get(metric):
            what = "small file" if key == "small" else "10 MiB file"
            met = "met" if value["ratio_of_medians"] >= goal else "NOT met"
            goals.append(
                f"* {what}, {METRIC_LABELS[metric]} ≥ {goal:g}× {LABELS[peer]}: "
                f"{harness.ratio_text(value)}: **{met}**"
            )
    if goals:
        lines += ["Goals (webtrip vs peer):", "", *goals, ""]
    closers = [
        LABELS[name]
        for name, check in report["preflight"].items()
        if check["ok"] and not all(f["keep_alive"] for f in check["files"].values())
    ]
    if closers:
        lines += [
            f"No keep-alive from {', '.join(closers)}: it closes the connection after "
            "every response, so wrk opens a new TCP connection per request.",
            "",
        ]
    lines += [harness.noise_text(report["runs"], report["discarded_runs"], args["max_other_load"])]
    pinned = f"servers pinned to CPU {pin['server_cpu']}, wrk to CPU {pin['client_cpu']}"
    lines.append(
        f"\nwrk {ver['wrk']} over loopback with keep-alive, `{report['wrk_command']}`; "
        f"{args['rounds']} interleaved round(s) of {args['duration']} s after a "
        f"{args['warmup']} s warm-up, each run a fresh server; "
        f"{pinned if pin['enabled'] else 'no CPU pinning (' + pin['reason'] + ')'}; "
        f"{harness.machine_text(ver)}, httptools {ver['httptools']}, uvloop {ver['uvloop']}, "
        f"nginx {ver['nginx']} (`worker_processes 1`, sendfile, tcp_nopush, no access log); "
        f"{report['started_at'][:10]}. MB = 10⁶ bytes, counted by wrk (headers included). "
        "Server CPU % = utime+stime of the server's processes ÷ wall time; CPU busy % = whole "
        "CPU from /proc/stat."
    )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    at_least = harness.at_least
    page = harness.ROOT / "tests/data/sites/www/index.html"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=harness.comma_list(SERVERS), default=",".join(SERVERS))
    parser.add_argument("--files", type=harness.comma_list(FILES), default=",".join(FILES))
    parser.add_argument("--duration", type=at_least(1), default=8, help="seconds per run")
    parser.add_argument("--rounds", type=at_least(1), default=3, help="interleaved rounds")
    parser.add_argument("--warmup", type=at_least(0), default=1, help="seconds of warm-up")
    parser.add_argument("--connections", type=at_least(1), default=10, help="wrk -c")
    parser.add_argument("--threads", type=at_least(1), default=1, help="wrk -t")
    parser.add_argument("--page", type=Path, default=page, help="the small file (copied)")
    parser.add_argument("--large-size", type=at_least(1), default=10 * 2**20, help="bytes")
    parser.add_argument("--seed", type=int, default=1, help="RNG seed of the large file")
    parser.add_argument(
        "--stdlib-protocol", choices=("HTTP/1.0", "HTTP/1.1"), help="its default: 1.0"
    )
    harness.add_options(parser, "http_rps")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    packages = ("httptools", "uvicorn", "starlette", "uvloop", "anyio")
    report = harness.start_report(
        "http_rps", args, argv, programs=("wrk", "nginx"), packages=packages
    )
    args.wrk = harness.find_program("wrk")
    if args.wrk is None or not args.page.is_file():
        raise harness.BenchError("needs wrk (apt-get install wrk) and the page")
    args.pin = harness.pinning(not args.no_pin)
    with harness.workdir("webtrip-http-rps-", args.keep_tmp) as work:
        args.webtrip_src, source = harness.webtrip_source(args.webtrip_rev, work)
        folder = work / "site"
        files = prepare_folder(folder, args.page, args.large_size, args.seed)
        files = {key: files[key] for key in args.files}
        args.script = work / "report.lua"
        args.script.write_text(WRK_SCRIPT, encoding="utf-8")
        command = wrk_argv("wrk", "report.lua", f"http://{HOST}:PORT/FILE", args.duration, args)
        loop, http_impl = uvicorn_options()
        report |= {
            "pinning": args.pin,
            "webtrip_source": source | {"src": str(args.webtrip_src)},
            "files": {key: dataclasses.asdict(served) for key, served in files.items()},
            "uvicorn_options": {"loop": loop, "http": http_impl},
            "wrk_script": WRK_SCRIPT,
            "wrk_command": shlex.join(harness.pin_prefix(args.pin, harness.CLIENT_CPU) + command),
            "preflight": {},
            "runs": [],
            "discarded_runs": [],
        }
        with harness.saved(report, args.out, markdown):
            for name in args.servers:
                check = report["preflight"][name] = preflight(name, work, folder, files, args)
                keep = check["ok"] and all(f["keep_alive"] for f in check["files"].values())
                state = f"ok, keep-alive: {keep}" if check["ok"] else f"FAILED: {check['error']}"
                print(f"check {name:8} {state}", file=sys.stderr)
            measured = [name for name in args.servers if report["preflight"][name]["ok"]]
            harness.run_rounds(
                report,
                args,
                [list(files), measured],
                lambda rnd, key, name: measure(name, files[key], rnd, work, folder, args),
                STATUS,
            )
    errors = [run.get("result", {}).get("error_total", 1) for run in report["runs"]]
    short = [run.get("result", {}).get("short_responses") for run in report["runs"]]
    return 1 if any(errors) or any(short) or len(measured) < len(args.servers) else 0


if __name__ == "__main__":
    sys.exit(harness.main(main))
