"""Recursive resolver cache-hit throughput on loopback: webtrip vs Unbound, with dnsperf.

    python bench/resolver_qps.py [--duration 10] [--rounds 3] [--clients 4] [--outstanding 32]
                                 [--servers webtrip,unbound] [--webtrip-rev REV]
                                 [--out bench/results/resolver_qps.json]

The test hierarchy (tests/data/zones/hierarchy: root, test., webtrip.test, shop.test and
elsewhere.) is served by four ``webtrip dns serve`` processes on 127.A.B.1-4 port 53
(Unbound asks name servers on port 53 only: run as root). Each resolver walks it from
a root hints file naming 127.A.B.1:

* ``webtrip``: ``python -m webtrip dns resolver --root-hints HINTS --listen 127.0.0.1:PORT``
  (defaults: message cache 10,000, loopback clients only, no --log);
* ``unbound``: Unbound with ``num-threads: 1``, the iterator module only (no DNSSEC),
  ``do-not-query-localhost: no``, ``local-zone: "test." nodefault``, no prefetch.

Each run starts the resolver afresh, pinned to CPU 0 (``taskset``), and warms it with
every question of the mix once (the answers are recorded and compared between the two);
then a 1 s dnsperf warm-up, then the measured dnsperf run on CPU 1. The mix is 15
distinct questions (A, AAAA, MX, TXT, NS, CNAME chains, NXDOMAIN, NODATA), all answered
from the cache once warm: **this measures the cache-hit path**, and the authorities'
--log lines prove it (queries they received during the measured run: expected 0).

Server CPU per query is utime+stime of the resolver's process group from /proc/<pid>/stat
around the measured run, ÷ answered queries. Rounds are interleaved (the order rotates).
Medians go to a JSON file and a Markdown report on stdout.

Exit status: 0 if every run succeeded, 1 if one failed, 2 if the bench cannot run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import resource
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.version

from _common import (
    BENCH,
    ROOT,
    BenchError,
    Launch,
    command_output,
    cpu_times,
    find_program,
    free_port,
    loadavg,
    paired_ratios,
    pin_prefix,
    pinning,
    ratio_summary,
    ratio_text,
    rotate,
    running_server,
    rusage_s,
    terminate_on_sigterm,
    utc_now,
    warn_uncommitted,
    webtrip_env,
    webtrip_source,
    write_results,
)
from _common import versions as common_versions
from dns_qps import (
    cpu_breakdown,
    cpu_busy,
    group_processes,
    other_load_pct,
    run_dnsperf,
    server_cpu,
    wait_for_quiet,
)

HIERARCHY = ROOT / "tests" / "data" / "zones" / "hierarchy"
SERVERS = {1: ["root.zone"], 2: ["test.zone", "elsewhere.stale.zone"], 3: ["webtrip.test.zone"]}
SERVERS[4] = ["elsewhere.zone", "shop.test.zone"]
DEFAULT_OUT = BENCH / "results" / "resolver_qps.json"
ALL_SERVERS = ("webtrip", "unbound")
SERVER_CPU, DNSPERF_CPU = 0, 1
HOST = "127.0.0.1"

QUESTIONS = [
    ("www.webtrip.test.", "A"),
    ("www.webtrip.test.", "A"),
    ("www.webtrip.test.", "AAAA"),
    ("mail.webtrip.test.", "A"),
    ("alias.webtrip.test.", "A"),
    ("far.webtrip.test.", "A"),
    ("webtrip.test.", "MX"),
    ("webtrip.test.", "TXT"),
    ("webtrip.test.", "NS"),
    ("www.shop.test.", "A"),
    ("alias.shop.test.", "A"),
    ("nothing.webtrip.test.", "A"),
    ("nothing.shop.test.", "AAAA"),
    ("www.webtrip.test.", "TXT"),
    ("www.shop.test.", "MX"),
    ("mail.webtrip.test.", "AAAA"),
]
QUERY_LINES = 1000


# ---------------------------------------------------------------------------------------
# The hierarchy.


def _bindable(addresses: list[str], port: int) -> bool:
    for address in addresses:
        for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
            with socket.socket(socket.AF_INET, kind) as sock:
                try:
                    sock.bind((address, port))
                except OSError:
                    return False
    return True


@contextlib.contextmanager
def hierarchy(workdir: Path, env: dict[str, str], pin: list[str]) -> Iterator[tuple[str, Path]]:
    """The four authoritative servers on 127.A.B.1-4:53; yields (prefix, root hints file)."""
    rng = random.Random()
    for _ in range(50):
        prefix = f"127.{rng.randrange(100, 250)}.{rng.randrange(1, 250)}"
        if _bindable([f"{prefix}.{n}" for n in SERVERS], 53):
            break
    else:
        raise BenchError("no loopback /24 free on port 53 (run as root)")
    for path in HIERARCHY.glob("*.zone"):
        text = re.sub(r"\b10\.0\.0\.(\d+)\b", rf"{prefix}.\1", path.read_text())
        (workdir / path.name).write_text(text)
    hints = workdir / "root.hints"
    hints.write_text(f".  3600000  NS  ns.root.\nns.root.  3600000  A  {prefix}.1\n")
    processes = []
    try:
        for number, files in SERVERS.items():
            argv = [sys.executable, "-m", "webtrip", "dns", "serve", "--log"]
            argv += ["--listen", f"{prefix}.{number}:53"]
            for name in files:
                argv += ["--zone", str(workdir / name)]
            with (workdir / f"auth-{number}.log").open("wb") as out:
                processes.append(
                    subprocess.Popen(
                        pin + argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=workdir
                    )
                )
        for number in SERVERS:
            deadline = time.monotonic() + 20
            while ask(f"{prefix}.{number}", 53, ".", "SOA", rd=False) is None:
                if time.monotonic() > deadline:
                    raise BenchError(f"the authority on {prefix}.{number}:53 did not start")
                time.sleep(0.05)
        yield prefix, hints
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def authority_queries(workdir: Path) -> int:
    """Queries the authorities have logged so far."""
    return sum(
        sum(1 for line in (workdir / f"auth-{n}.log").read_text().splitlines() if " udp " in line)
        for n in SERVERS
    )


def ask(
    host: str, port: int, name: str, rdtype: str, rd: bool = True
) -> dns.message.Message | None:
    query = dns.message.make_query(name, rdtype)
    if not rd:
        query.flags &= ~dns.flags.RD
    try:
        return dns.query.udp(query, host, port=port, timeout=2)
    except (dns.exception.DNSException, OSError):
        return None


def profile(port: int) -> dict[str, str]:
    """One line per distinct question: rcode and the answer's records, TTLs left out."""
    out = {}
    for name, rdtype in dict.fromkeys(QUESTIONS):
        response = ask(HOST, port, name, rdtype)
        if response is None:
            out[f"{name} {rdtype}"] = "no answer"
            continue
        records = sorted(
            f"{rrset.name} {dns.rdatatype.to_text(rrset.rdtype)} {rdata}"
            for rrset in response.answer
            for rdata in rrset
        )
        out[f"{name} {rdtype}"] = dns.rcode.to_text(response.rcode()) + " " + "; ".join(records)
    return out


# ---------------------------------------------------------------------------------------
# The resolvers.


def unbound_conf(workdir: Path, port: int, hints: Path) -> Path:
    lines = [
        "server:",
        f"    interface: {HOST}",
        f"    port: {port}",
        "    do-ip6: no",
        '    username: ""',
        '    chroot: ""',
        f'    directory: "{workdir}"',
        f'    pidfile: "{workdir}/unbound.pid"',
        "    use-syslog: no",
        "    do-daemonize: no",
        "    verbosity: 0",
        "    num-threads: 1",
        "    so-reuseport: no",
        "    module-config: iterator",
        "    do-not-query-localhost: no",
        "    access-control: 127.0.0.0/8 allow",
        "    prefetch: no",
        "    serve-expired: no",
        '    local-zone: "test." nodefault',
        f'    root-hints: "{hints}"',
        "remote-control:",
        "    control-enable: no",
        "",
    ]
    path = workdir / f"unbound-{port}.conf"
    path.write_text("\n".join(lines))
    return path


def launch_for(name: str, workdir: Path, port: int, hints: Path, env: dict[str, str]) -> Launch:
    if name == "webtrip":
        argv = [sys.executable, "-m", "webtrip", "dns", "resolver", "--root-hints", str(hints)]
        argv += ["--listen", f"{HOST}:{port}"]
        return Launch(argv, env=env, cwd=workdir)
    unbound = find_program("unbound")
    if unbound is None:
        raise BenchError("unbound is not installed")
    return Launch([unbound, "-d", "-c", str(unbound_conf(workdir, port, hints))], cwd=workdir)


def dnsperf_argv(dnsperf: str, port: int, queries: Path, seconds: int, args) -> list[str]:  # type: ignore[no-untyped-def]
    return [
        dnsperf, "-s", HOST, "-p", str(port), "-d", str(queries),
        "-c", str(args.clients), "-q", str(args.outstanding), "-t", "2", "-l", str(seconds),
    ]  # fmt: skip


def bench_one(
    name: str, rnd: int, workdir: Path, hints: Path, queries: Path, dnsperf: str, pin, args, env
) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    run: dict[str, Any] = {"round": rnd, "server": name}
    # Wait (at most 60 s) until no CPU is over 10 % busy: a neighbour's work skews a run.
    run["quiet_before"] = wait_for_quiet(60, 10)
    run["started_at"] = utc_now()
    try:
        port = free_port(udp=True)
        launch = launch_for(name, workdir, port, hints, env)
        run["server_command"] = shlex.join(pin_prefix(pin, SERVER_CPU) + launch.argv)
        log = workdir / f"{name}-round{rnd}.log"

        def ready() -> bool:
            return ask(HOST, port, ".", "SOA") is not None

        with running_server(launch, port, log, pin_prefix(pin, SERVER_CPU), ready) as proc:
            run["answer_profile"] = profile(port)  # also warms the cache: every question once
            perf_pin = pin_prefix(pin, DNSPERF_CPU)
            run_dnsperf(perf_pin + dnsperf_argv(dnsperf, port, queries, 1, args), 1, 2)
            measure = perf_pin + dnsperf_argv(dnsperf, port, queries, args.duration, args)
            run["dnsperf_argv"] = measure
            asked_before = authority_queries(workdir)
            before, group_before = cpu_times(), group_processes(proc.pid)
            children_before = rusage_s(resource.RUSAGE_CHILDREN)[0]
            start = time.monotonic()
            result, output = run_dnsperf(measure, args.duration, 2)
            wall = time.monotonic() - start
            perf_cpu = rusage_s(resource.RUSAGE_CHILDREN)[0] - children_before
            group_after, after = group_processes(proc.pid), cpu_times()
            time.sleep(0.2)
            result["authority_queries_during_run"] = authority_queries(workdir) - asked_before
            result["cpu_busy_pct"] = cpu_busy(before, after)
            result["cpu_breakdown_pct"] = cpu_breakdown(before, after)
            completed = result.get("queries_completed", 0)
            result["server_cpu"] = server_cpu(group_before, group_after, wall, completed)
            result["dnsperf_cpu_s"] = round(perf_cpu, 4)
            # CPU used by anything but the resolver and dnsperf, in % of one CPU (~2-4 % idle).
            result["other_cpu_pct"] = other_load_pct(
                before, after, result["server_cpu"]["cpu_s"], perf_cpu, wall
            )
            if proc.poll() is not None:
                raise BenchError(f"{name} died during the run")
            run["result"] = result
            run["dnsperf_output"] = output
    except BenchError as exc:
        run["error"] = str(exc)
    return run


# ---------------------------------------------------------------------------------------
# Summary.


def summarise(runs: list[dict[str, Any]], servers: list[str]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for name in servers:
        good = [r["result"] for r in runs if r["server"] == name and "result" in r]
        if not good:
            continue
        summary[name] = {
            "rounds": len(good),
            "qps_median": statistics.median(r["qps"] for r in good),
            "qps_all": [round(r["qps"], 1) for r in good],
            "us_per_query_median": statistics.median(r["server_cpu"]["us_per_query"] for r in good),
            "capacity_qps_estimate_median": statistics.median(
                r["server_cpu"]["capacity_qps_estimate"] for r in good
            ),
            "server_cpu_pct_median": statistics.median(
                r["server_cpu"]["cpu_pct_of_wall"] for r in good
            ),
            "loss_pct_max": max(r["loss_pct"] for r in good),
            "latency_ms_median": statistics.median(r["avg_latency_ms"] for r in good),
            "authority_queries_during_runs": sum(r["authority_queries_during_run"] for r in good),
            "other_cpu_pct_max": max(r["other_cpu_pct"] or 0 for r in good),
        }
    if {"webtrip", "unbound"} <= summary.keys():
        by_round: dict[int, dict[str, Any]] = {}
        for run in runs:
            if "result" in run:
                by_round.setdefault(run["round"], {})[run["server"]] = run["result"]["qps"]
        paired = paired_ratios(by_round, "webtrip", "unbound")
        ratio = ratio_summary(
            summary["webtrip"]["qps_median"], summary["unbound"]["qps_median"], paired
        )
        summary["webtrip_vs_unbound_qps"] = ratio
        summary["goal"] = {
            "target_ratio": 0.2,
            "met": ratio["ratio_of_medians"] >= 0.2,
        }
    return summary


def markdown(report: dict[str, Any]) -> str:
    summary = report["summary"]
    lines = [
        "| resolver | QPS (median) | per round | server CPU µs/query | CPU-bound capacity "
        "| server CPU % | avg latency | lost | other load (max) |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in report["servers"]:
        s = summary.get(name)
        if s is None:
            lines.append(f"| {name} | failed | | | | | | | |")
            continue
        per_round = ", ".join(f"{q:,.0f}" for q in s["qps_all"])
        lines.append(
            f"| {name} | **{s['qps_median']:,.0f}** | {per_round} "
            f"| {s['us_per_query_median']:.1f} | {s['capacity_qps_estimate_median']:,.0f} "
            f"| {s['server_cpu_pct_median']:.0f} % | {s['latency_ms_median']:.2f} ms "
            f"| {s['loss_pct_max']:.2f} % | {s['other_cpu_pct_max']:.0f} % |"
        )
    if "goal" in summary:
        ratio = summary["webtrip_vs_unbound_qps"]
        met = "met" if summary["goal"]["met"] else "**missed**"
        lines += [
            "",
            f"webtrip ÷ Unbound, QPS: {ratio_text(ratio)} (median of medians, then of the "
            f"per-round ratios); goal ≥ 0.2×: {met}.",
        ]
    asked = [summary[n]["authority_queries_during_runs"] for n in report["servers"] if n in summary]
    lines.append(f"Queries reaching the authorities during measured runs: {sum(asked)}.")
    differences = report.get("answer_differences")
    lines.append(
        "Answers (rcode and records, TTLs aside) identical between the resolvers."
        if not differences
        else f"Answers differ for: {', '.join(differences)}."
    )
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="measured seconds per run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--outstanding", type=int, default=32)
    parser.add_argument("--servers", default=",".join(ALL_SERVERS))
    parser.add_argument("--webtrip-rev", help="benchmark `git archive REV src`")
    parser.add_argument("--no-pin", action="store_true")
    parser.add_argument(
        "--max-other-load",
        type=float,
        default=10,
        help="redo a run in which other processes used more than this %% of a CPU",
    )
    parser.add_argument(
        "--retries", type=int, default=2, help="redo a noisy run at most this often"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    terminate_on_sigterm()
    servers = [s for s in args.servers.split(",") if s]
    if unknown := set(servers) - set(ALL_SERVERS):
        print(f"unknown servers: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    dnsperf = find_program("dnsperf")
    if dnsperf is None or os.geteuid() != 0:
        print("needs dnsperf, and root (the authorities listen on port 53)", file=sys.stderr)
        return 2
    unbound = find_program("unbound")
    pin = pinning(not args.no_pin, SERVER_CPU, DNSPERF_CPU, "dnsperf_cpu")
    with tempfile.TemporaryDirectory(prefix="webtrip-resolver-qps-") as tmp:
        workdir = Path(tmp)
        src, webtrip_info = webtrip_source(args.webtrip_rev, workdir)
        warn_uncommitted(webtrip_info, servers)
        env = webtrip_env(src)
        queries = workdir / "queries.txt"
        queries.write_text(
            "".join(f"{n} {t}\n" for n, t in (QUESTIONS * QUERY_LINES)[:QUERY_LINES])
        )
        perf_version = re.search(r"Version (\S+)", command_output([dnsperf, "-h"]))
        unbound_version = re.search(r"Version (\S+)", command_output([unbound or "true", "-V"]))
        report: dict[str, Any] = {
            "bench": "resolver_qps",
            "started_at": utc_now(),
            "servers": servers,
            "args": {k: str(v) for k, v in vars(args).items()},
            "versions": common_versions(
                {
                    "dnspython": dns.version.version,
                    "unbound": unbound_version.group(1) if unbound_version else None,
                    "dnsperf": perf_version.group(1) if perf_version else None,
                }
            ),
            "webtrip_source": webtrip_info,
            "pinning": pin,
            "loadavg_before": loadavg(),
            "questions": [f"{n} {t}" for n, t in QUESTIONS],
        }
        runs = []
        # The authorities run on CPU 1 with dnsperf: idle once the resolvers are warm.
        with hierarchy(workdir, env, pin_prefix(pin, DNSPERF_CPU)) as (prefix, hints):
            report["hierarchy_prefix"] = prefix
            for rnd in range(1, args.rounds + 1):
                for name in rotate(servers, rnd - 1):
                    discarded = []
                    for attempt in range(args.retries + 1):
                        run = bench_one(name, rnd, workdir, hints, queries, dnsperf, pin, args, env)
                        other = run.get("result", {}).get("other_cpu_pct")
                        if other is None or other <= args.max_other_load:
                            break
                        if attempt == args.retries:  # kept, noisy (its other load is reported)
                            break
                        print(
                            f"# round {rnd} {name}: others used {other} % of a CPU, again",
                            file=sys.stderr,
                        )
                        discarded.append(run)
                    run["discarded_noisy_attempts"] = discarded
                    runs.append(run)
                    if "error" in run:
                        print(f"# round {rnd} {name}: {run['error']}", file=sys.stderr)
                    else:
                        r = run["result"]
                        print(
                            f"# round {rnd} {name}: {r['qps']:,.0f} QPS, "
                            f"{r['server_cpu']['us_per_query']:.1f} µs/query",
                            file=sys.stderr,
                        )
        report["finished_at"] = utc_now()
        report["runs"] = runs
        report["summary"] = summarise(runs, servers)
        profiles = {r["server"]: r["answer_profile"] for r in runs if "answer_profile" in r}
        report["answer_profiles"] = profiles
        if len(profiles) == 2:
            a, b = profiles.values()
            report["answer_differences"] = [q for q in a if a[q] != b.get(q)]
        text = markdown(report)
        write_results(args.out, report, text)
        print(text)
    return 1 if any("error" in r for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
