"""Recursive resolver cache hits on loopback: webtrip vs Unbound, with dnsperf.

    sudo python bench/resolver_qps.py [--duration 10] [--rounds 3] [--servers webtrip,unbound]
                                      [--webtrip-rev REV] [...]

Both resolvers walk the tests' DNS hierarchy (tests/loopback.py: four ``webtrip dns
serve --log`` processes on 127.A.B.1-4 port 53, the only port Unbound asks a referral's
servers on: run as root). Each run starts a fresh resolver, asks it every question once
(answers recorded and compared), warms it up with dnsperf, then measures: every question
is a cache hit, and the authorities' logs prove it. Method, checks and caveats:
bench/README.md. Exit status: 0 if every run succeeded, 1 if one failed, 2 if the bench
cannot run.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path
from typing import Any

import dns.rcode
import dns.rdatatype

import harness
from dns_qps import ask, dnsperf_argv, parse_dnsperf

HOST = harness.HOST
SERVERS = ("webtrip", "unbound")
LABELS = {"webtrip": "webtrip", "unbound": "Unbound"}
GOAL = 0.2  # the issue: webtrip's cache-hit QPS ≥ 0.2 × Unbound's
# The query file cycles through these (www A twice as often as the others).
QUESTIONS = [
    "www.webtrip.test. A",
    "www.webtrip.test. A",
    "www.webtrip.test. AAAA",
    "mail.webtrip.test. A",
    "alias.webtrip.test. A",
    "far.webtrip.test. A",
    "webtrip.test. MX",
    "webtrip.test. TXT",
    "webtrip.test. NS",
    "www.shop.test. A",
    "alias.shop.test. A",
    "nothing.webtrip.test. A",
    "nothing.shop.test. AAAA",
    "www.webtrip.test. TXT",
    "www.shop.test. MX",
    "mail.webtrip.test. AAAA",
]
QUERY_LINES = 1000


def profile(port: int) -> dict[str, str]:
    """One line per distinct question: rcode and the answer's records, TTLs left out."""
    out = {}
    for question in dict.fromkeys(QUESTIONS):
        response = ask(HOST, port, *question.split(), rd=True, timeout=2)
        records = sorted(
            f"{rrset.name} {dns.rdatatype.to_text(rrset.rdtype)} {rdata}"
            for rrset in (response.answer if response else [])
            for rdata in rrset
        )
        rcode = dns.rcode.to_text(response.rcode()) if response else "no answer"
        out[question] = " ".join([rcode, "; ".join(records)]).strip()
    return out


def unbound_conf(work: Path, port: int, hints: Path) -> Path:
    """One thread, the iterator module only (no DNSSEC), loopback name servers allowed,
    .test not answered locally, no prefetch or stale answers; otherwise its defaults."""
    path = work / f"unbound-{port}.conf"
    path.write_text(f"""server:
    interface: {HOST}
    port: {port}
    do-ip6: no
    username: ""
    chroot: ""
    directory: "{work}"
    pidfile: "{work}/unbound-{port}.pid"
    use-syslog: no
    do-daemonize: no
    verbosity: 0
    num-threads: 1
    so-reuseport: no
    module-config: iterator
    do-not-query-localhost: no
    access-control: 127.0.0.0/8 allow
    prefetch: no
    serve-expired: no
    local-zone: "test." nodefault
    root-hints: "{hints}"
remote-control:
    control-enable: no
""")
    return path


def launch_for(
    name: str, work: Path, port: int, hints: Path, args: argparse.Namespace
) -> harness.Launch:
    if name == "webtrip":
        argv = [sys.executable, "-m", "webtrip", "dns", "resolver", "--root-hints", str(hints)]
        argv += ["--listen", f"{HOST}:{port}"]
        return harness.Launch(argv, harness.webtrip_env(args.webtrip_src), work)
    unbound = harness.find_program("unbound")
    if unbound is None:
        raise harness.BenchError("unbound is not installed")
    return harness.Launch([unbound, "-d", "-c", str(unbound_conf(work, port, hints))], None, work)


def measure(
    name: str, rnd: int, lab: harness.LoopbackHierarchy, work: Path, args: argparse.Namespace
) -> dict[str, Any]:
    """One run: a fresh resolver, every question once (its profile, and a warm cache), a
    1 s dnsperf warm-up, the measured dnsperf, the queries the authorities saw meanwhile."""
    run: dict[str, Any] = {"round": rnd, "server": name}
    server_pin = harness.pin_prefix(args.pin, harness.SERVER_CPU)
    client_pin = harness.pin_prefix(args.pin, harness.CLIENT_CPU)
    try:
        port = harness.free_port()
        launch = launch_for(name, work, port, lab.hints, args)
        run["server_command"] = shlex.join(server_pin + launch.argv)
        log = work / f"{name}-round{rnd}.log"
        ready = lambda: ask(HOST, port, ".", "SOA", rd=True, timeout=2) is not None  # noqa: E731
        with harness.running(launch, log, ready, server_pin) as proc:
            run["answer_profile"] = profile(port)
            harness.run_tool(
                client_pin + dnsperf_argv(args.dnsperf, port, args.queries, 1, args),
                3,
                parse_dnsperf,
            )
            argv = client_pin + dnsperf_argv(args.dnsperf, port, args.queries, args.duration, args)
            asked = lab.wait_quiet()
            before = harness.snapshot()
            result, output = harness.run_tool(argv, args.duration + args.timeout, parse_dnsperf)
            cpu = harness.cpu_use(before, harness.snapshot(), [proc.pid])
            result["authority_queries_during_run"] = lab.wait_quiet() - asked
            harness.still_running(proc, log, "during the run")
    except harness.BenchError as exc:
        return run | {"error": str(exc)}
    done, server_s = result["queries_completed"], cpu["server"]["cpu_s"]
    result["server_us_per_query"] = 1e6 * server_s / done if done and server_s else None
    run |= {"dnsperf_argv": argv, "dnsperf_output": output, "result": result, "cpu": cpu}
    return run | {"other_load_pct": cpu["other_load_pct"]}


STATUS = "{result[qps]:>9,.0f} QPS  {result[server_us_per_query]:.1f} µs/query"


METRICS = harness.CPU_METRICS | {
    "qps": lambda run: run["result"]["qps"],
    "server_us_per_query": lambda run: run["result"]["server_us_per_query"],
    "loss_pct": lambda run: run["result"]["loss_pct"],
    "avg_latency_ms": lambda run: run["result"]["avg_latency_ms"],
    "authority_queries": lambda run: run["result"]["authority_queries_during_run"],
}
TABLE = """\
| resolver | QPS (median) | per round | server CPU µs/query | CPU-bound capacity | server CPU % \
| dnsperf CPU % | avg latency | lost | other load (max) | Rounds ok |
|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"""
ROW = (
    "| {name} | **{qps[median]:,.0f}** | {per_round} | {server_us_per_query[median]:.1f} "
    "| {capacity:,.0f} | {server_cpu_pct[median]:.0f} % | {client_cpu_pct[median]:.0f} % "
    "| {avg_latency_ms[median]:.2f} ms | {loss_pct[max]:.2f} % | {other_load_pct[max]:.0f} % "
    "| {rounds} |"
)


def markdown(report: dict[str, Any]) -> str:
    args, ver, runs = report["args"], report["versions"], report["runs"]
    threshold = args["max_other_load"]
    summary = harness.summarise(runs, args["servers"], METRICS, threshold, "server_us_per_query")
    report["summary"] = summary
    for s in summary.values():
        s["per_round"] = ", ".join(f"{q:,.0f}" for q in s.get("qps", {}).get("all", []))
    names = {"webtrip": harness.webtrip_label(ver, report["webtrip_source"])}
    names["unbound"] = f"Unbound {ver['unbound']}"
    lines = [TABLE, *harness.server_rows(summary, names, ROW), ""]
    if set(SERVERS) <= set(args["servers"]):
        metrics = {m: METRICS[m] for m in ("qps", "server_us_per_query")}
        ratio = report["ratios"] = harness.ratios(runs, [SERVERS], metrics)["webtrip/unbound"]
        qps = harness.ratio_value(ratio["qps"])
        capacity = harness.ratio_value(ratio["server_us_per_query"], invert=True)
        parts = [
            f"**{value:.2f}×** {label} (≥ {GOAL:g}×: {'met' if value >= GOAL else '**not met**'})"
            for label, value in (("in QPS", qps), ("as CPU-bound capacity", capacity))
            if value
        ]
        paired = ratio["qps"] and ratio["qps"]["median_of_paired_round_ratios"]
        per_round = f"; per round, QPS: {paired:.2f}×" if paired else ""
        lines += [f"webtrip ÷ Unbound: {', '.join(parts)} (ratios of the medians{per_round}).", ""]
    asked = sum(sum(s.get("authority_queries", {}).get("all", [])) for s in summary.values())
    profiles = [run["answer_profile"] for run in runs if "answer_profile" in run]
    report["answer_differences"] = differences = sorted(
        q for q in dict.fromkeys(QUESTIONS) if len({profile.get(q) for profile in profiles}) > 1
    )
    same = "identical between the resolvers" if not differences else "different for "
    lines += [
        f"Queries reaching the authorities during measured runs: {asked}. Answers (rcode and "
        f"records, TTLs aside) {same}{', '.join(differences)}.",
        "",
        *harness.load_notes(summary, LABELS, "dnsperf", "query"),
        harness.noise_text(runs, report["discarded_runs"], threshold),
        "",
        f"dnsperf {ver['dnsperf']}, `{report['dnsperf_command']}`; {args['rounds']} interleaved "
        f"round(s) of {args['duration']} s; {harness.machine_text(ver)}, dnspython "
        f"{ver['dnspython']}; {report['started_at'][:10]}.",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    at_least = harness.at_least
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=harness.comma_list(SERVERS), default=",".join(SERVERS))
    parser.add_argument("--duration", type=at_least(1), default=10, help="seconds per run")
    parser.add_argument("--rounds", type=at_least(1), default=3, help="interleaved rounds")
    parser.add_argument("--clients", type=at_least(1), default=4, help="dnsperf -c")
    parser.add_argument("--outstanding", type=at_least(1), default=32, help="dnsperf -q")
    harness.add_options(parser, "resolver_qps")
    args = parser.parse_args(argv)
    args.timeout = 2  # dnsperf -t
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    programs, packages = ("dnsperf", "unbound"), ("dnspython",)
    report = harness.start_report("resolver_qps", args, argv, programs=programs, packages=packages)
    args.dnsperf = harness.find_program("dnsperf")
    if args.dnsperf is None or os.geteuid() != 0:
        raise harness.BenchError("needs dnsperf, and root (the authorities listen on port 53)")
    args.pin = harness.pinning(not args.no_pin)
    with harness.workdir("webtrip-resolver-qps-", args.keep_tmp) as work:
        args.webtrip_src, source = harness.webtrip_source(args.webtrip_rev, work)
        args.queries = work / "queries.txt"
        args.queries.write_text("".join(f"{q}\n" for q in (QUESTIONS * QUERY_LINES)[:QUERY_LINES]))
        command = dnsperf_argv("dnsperf", "PORT", "queries.txt", args.duration, args)
        report |= {
            "pinning": args.pin,
            "webtrip_source": source | {"src": str(args.webtrip_src)},
            "questions": QUESTIONS,
            "dnsperf_command": shlex.join(
                harness.pin_prefix(args.pin, harness.CLIENT_CPU) + command
            ),
            "runs": [],
            "discarded_runs": [],
        }
        # The authorities run from the source under test, on the load generator's CPU:
        # idle once the resolver's cache is warm.
        env = harness.webtrip_env(args.webtrip_src)
        launcher = harness.pin_prefix(args.pin, harness.CLIENT_CPU)
        try:
            hierarchy = harness.loopback_hierarchy(53, env=env, launcher=launcher)
            with hierarchy as lab, harness.saved(report, args.out, markdown):
                report["hierarchy_prefix"] = lab.prefix
                harness.run_rounds(
                    report,
                    args,
                    [args.servers],
                    lambda rnd, name: measure(name, rnd, lab, work, args),
                    STATUS,
                )
        except (RuntimeError, TimeoutError) as exc:  # the hierarchy did not start
            raise harness.BenchError(f"the test hierarchy did not start: {exc}") from exc
    return 1 if any("error" in run for run in report["runs"]) else 0


if __name__ == "__main__":
    sys.exit(harness.main(main))
