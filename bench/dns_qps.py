"""Authoritative DNS queries per second on loopback: webtrip vs dnslib vs NSD, with dnsperf.

    python bench/dns_qps.py [--mix both|repeated|unique] [--duration 10] [--rounds 3]
                            [--servers webtrip,dnslib,nsd] [--webtrip-rev REV] [...]

Every server serves the same zone on a free UDP port of 127.0.0.1 and gets the same
dnsperf command and query file; beside dnsperf's QPS each run records the server's own
CPU time per answered query. Two mixes: ``repeated`` (38 questions: webtrip's packet
cache path) and ``unique`` (mostly fresh random names: the lookup path). Method, checks
and caveats: bench/README.md. Exit status: 0 if every run succeeded, 1 if one failed
(the JSON and the report are written all the same), 2 if the bench cannot run.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import re
import shlex
import shutil
import string
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode

import harness

HOST = harness.HOST
ORIGIN = "example.test."
ZONE = harness.ROOT / "tests/data/zones/example.test.zone"
SERVERS = ("webtrip", "dnslib", "nsd")
LABELS = {"webtrip": "webtrip", "dnslib": "dnslib", "nsd": "NSD"}
PAIRS = (("webtrip", "dnslib"), ("webtrip", "nsd"), ("dnslib", "nsd"))
GOALS = {"webtrip/dnslib": 5.0, "webtrip/nsd": 0.25}  # the issue: webtrip ≥ goal × peer
PACKET_CACHE = 4096  # webtrip's packet cache size if the source under test does not say
RANDOM = "<random>"  # a fresh 12-character label, used once in the file
RANDOM_LABEL = string.ascii_lowercase + string.digits, 12  # longer than the zone's labels
PROFILE_SAMPLE = 4  # unique mix: answers recorded for this many queries per category
REPEATED_LINES = 1000  # dnsperf starts the file again at the top when it reaches the end

# (category, weight per 100 queries, the questions cycled within it), names relative to
# ORIGIN ("@" the apex). No EDNS is sent, so nothing may need more than 512 bytes (the
# zone's "big" TXT set would be truncated: left out).
NXDOMAIN = ", ".join(f"nx{i:02d} {'AAAA' if i % 3 == 0 else 'A'}" for i in range(15))
MIXES = {
    "repeated": (
        ("A www", 20, "www A"),
        ("AAAA www", 12, "www AAAA"),
        ("A mail", 8, "mail A"),
        ("MX apex", 6, "@ MX"),
        ("NS apex", 4, "@ NS"),
        ("SOA apex", 3, "@ SOA"),
        ("A apex", 4, "@ A"),
        ("TXT apex", 2, "@ TXT"),
        ("A ns1", 2, "ns1 A"),
        ("SRV", 2, "_http._tcp SRV"),
        ("CNAME", 6, "alias A, alias AAAA"),
        ("wildcard", 6, "host1.wild A, host2.wild A, host3.wild TXT, x.y.wild A"),
        ("NXDOMAIN", 15, f"{NXDOMAIN}, missing.mail A, www2 A"),
        ("NODATA", 10, "www MX, mail AAAA, @ AAAA, ns1 AAAA, www TXT"),
    ),
    "unique": (
        ("wildcard (random label)", 30, f"{RANDOM}.wild A"),
        ("NXDOMAIN (random)", 30, f"{RANDOM} A"),
        ("referral (random, under child)", 20, f"{RANDOM}.child A"),
        (
            "repeated ordinary names",
            20,
            "www A, www AAAA, mail A, @ MX, @ NS, @ SOA, @ A, "
            "@ TXT, ns1 A, _http._tcp SRV, alias A",
        ),
    ),
}

Query = tuple[str, str, str]  # (category, fqdn, qtype)


def build_queries(mix: str, lines: int, seed: int) -> list[Query]:
    """The query file, deterministic: smooth weighted round-robin over the categories,
    cycling through each one's questions; a RANDOM label is drawn, unused so far in the
    file, from an RNG seeded with ``seed``."""
    categories = MIXES[mix]
    rng = random.Random(seed)
    seen: set[str] = set()
    weights = [weight for _, weight, _ in categories]
    current, used = [0] * len(weights), [0] * len(weights)
    out = []
    for _ in range(lines):
        current = [c + w for c, w in zip(current, weights, strict=True)]
        pick = max(range(len(weights)), key=lambda i: (current[i], -i))
        current[pick] -= sum(weights)
        category, _, text = categories[pick]
        questions = text.split(", ")
        name, qtype = questions[used[pick] % len(questions)].split()
        used[pick] += 1
        if RANDOM in name:
            template, name = name, ""
            while not name or name in seen:
                label = "".join(rng.choices(RANDOM_LABEL[0], k=RANDOM_LABEL[1]))
                name = template.replace(RANDOM, label)
            seen.add(name)
        out.append((category, ORIGIN if name == "@" else f"{name}.{ORIGIN}", qtype))
    return out


def simulate_packet_cache(queries: list[Query], size: int) -> dict[str, float]:
    """Hit rate of webtrip's packet cache (FIFO of ``size`` entries: insertion order,
    oldest evicted, hits do not refresh) while dnsperf reads the file in order: during
    the first pass (cold) and the second (the file looping: the steady state)."""
    cache: dict[tuple[str, str], None] = {}
    hits = [0, 0]
    for lap in (0, 1):
        for _, fqdn, qtype in queries:
            if (fqdn, qtype) in cache:
                hits[lap] += 1
                continue
            if len(cache) >= size:
                del cache[next(iter(cache))]
            cache[(fqdn, qtype)] = None
    return {"first_pass": hits[0] / len(queries), "steady_state": hits[1] / len(queries)}


def packet_cache_size(src: Path) -> int:
    """PACKET_CACHE_SIZE as written in the benchmarked authority.py (not imported)."""
    path = src / "webtrip" / "dns" / "authority.py"
    found = re.search(r"^PACKET_CACHE_SIZE\s*=\s*([\d_]+)", path.read_text(), re.MULTILINE)
    return int(found.group(1)) if found else PACKET_CACHE


@dataclass
class Mix:
    name: str
    path: Path
    queries: list[Query]
    profile: list[Query]  # the questions whose answers are recorded
    info: dict[str, Any]


def prepare_mix(name: str, work: Path, args: argparse.Namespace, cache_size: int) -> Mix:
    """Write the mix's query file; the mix with its description for the report."""
    lines = REPEATED_LINES if name == "repeated" else args.unique_lines
    queries = build_queries(name, lines, args.seed)
    text = "".join(f"{fqdn} {qtype}\n" for _, fqdn, qtype in queries)
    path = work / f"queries-{name}.txt"
    path.write_text(text, encoding="ascii")
    seeded = any(RANDOM in questions for _, _, questions in MIXES[name])
    profile = queries  # every question; with random names, the first few of each category
    if seeded:
        taken: dict[str, int] = {}
        profile = []
        for query in queries:
            taken[query[0]] = taken.get(query[0], 0) + 1
            if taken[query[0]] <= PROFILE_SAMPLE:
                profile.append(query)
    hit = simulate_packet_cache(queries, cache_size)
    if seeded and hit["steady_state"] > hit["first_pass"] + 0.05:
        print(
            f"# warning: {len(queries):,} lines are too few for a {cache_size}-entry cache: "
            "once dnsperf loops over the file, webtrip's cache would answer "
            f"{100 * hit['steady_state']:.0f} % (use more --unique-lines)",
            file=sys.stderr,
        )
    info = {
        "file": path.name,
        "lines": len(queries),
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
        "seed": args.seed if seeded else None,
        "mix_text": ", ".join(f"{weight} % {category}" for category, weight, _ in MIXES[name]),
        "distinct_count": len({(fqdn, qtype) for _, fqdn, qtype in queries}),
        "simulated_webtrip_cache_hit_rate": hit,
        "webtrip_packet_cache_entries": cache_size,
        "profile_is_all_distinct": not seeded,
        "profile_queries": sorted({f"{fqdn} {qtype}" for _, fqdn, qtype in profile}),
        "first_lines": text.splitlines()[:12],
    }
    return Mix(name, path, queries, profile, info)


# ---------------------------------------------------------------------------------------
# A DNS client (readiness and the answer profile), the servers, dnsperf.


def ask(
    host: str, port: int, name: str, rdtype: str, *, rd: bool = False, timeout: float = 1.0
) -> dns.message.Message | None:
    """One UDP query (no EDNS); the response, or None on a timeout or a bad answer."""
    query = dns.message.make_query(name, rdtype)
    if not rd:
        query.flags &= ~dns.flags.RD
    try:
        return dns.query.udp(query, host, port=port, timeout=timeout)
    except (dns.exception.DNSException, OSError):
        return None


def answer_profile(port: int, queries: list[Query]) -> dict[str, str]:
    """'fqdn qtype' -> 'RCODE an/ns/ar [aa] [tc]' (records per section) per question."""
    profile: dict[str, str] = {}
    for _, fqdn, qtype in queries:
        key = f"{fqdn} {qtype}"
        if key in profile:
            continue
        reply = ask(HOST, port, fqdn, qtype)
        if reply is None:
            profile[key] = "timeout"
            continue
        an, ns, ar = (sum(len(rrset) for rrset in section) for section in reply.sections[1:])
        ar += reply.edns >= 0  # the OPT record counts in ARCOUNT
        flags = [
            name for name, bit in (("aa", dns.flags.AA), ("tc", dns.flags.TC)) if reply.flags & bit
        ]
        profile[key] = " ".join([dns.rcode.to_text(reply.rcode()), f"{an}/{ns}/{ar}", *flags])
    return profile


def profile_differences(profiles: dict[str, dict[str, str]]) -> dict[str, list[str]]:
    """Per server, the questions whose rcode or answer count differs from NSD's."""
    reference = profiles.get("nsd", {})

    def gist(text: str) -> tuple[str, str]:  # the rcode and the answer count
        return text.split()[0], text.split("/")[0].split()[-1]

    return {
        name: [
            f"{key}: {profile.get(key, 'missing')} (NSD: {ref})"
            for key, ref in reference.items()
            if gist(profile.get(key, "missing")) != gist(ref)
        ]
        for name, profile in profiles.items()
        if reference and name != "nsd"
    }


def nsd_conf(run_dir: Path, zone: Path, port: int) -> str:
    """One server process, no RRL, no user switch, chroot, database or remote control,
    every path inside ``run_dir``."""
    return f"""server:
    server-count: 1
    ip-address: {HOST}@{port}
    port: {port}
    do-ip4: yes
    do-ip6: no
    username: ""
    chroot: ""
    zonesdir: "{run_dir}"
    database: ""
    zonelistfile: "{run_dir}/zone.list"
    xfrdfile: "{run_dir}/xfrd.state"
    xfrdir: "{run_dir}/xfr"
    pidfile: "{run_dir}/nsd.pid"
    logfile: "{run_dir}/nsd.log"
    verbosity: 1
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: "{ORIGIN}"
    zonefile: "{zone}"
"""


def launch_for(name: str, work: Path, port: int, args: argparse.Namespace) -> harness.Launch:
    zone = work / "example.test.zone"
    if name == "webtrip":
        env = harness.webtrip_env(args.webtrip_src)
        argv = [sys.executable, "-m", "webtrip", "dns", "serve", "--zone", str(zone)]
        argv += ["--listen", f"{HOST}:{port}"]
        return harness.Launch(argv, env, work, {"PYTHONPATH": env["PYTHONPATH"]})
    if name == "dnslib":
        argv = [sys.executable, str(harness.BENCH / "dnslib_server.py"), "--zone", str(zone)]
        argv += ["--port", str(port), "--address", HOST, "--log", args.dnslib_log]
        return harness.Launch(argv, None, work, {"log": args.dnslib_log})
    nsd = harness.find_program("nsd")
    if nsd is None:
        raise harness.BenchError("nsd is not installed")
    run_dir = work / f"nsd-{port}"
    (run_dir / "xfr").mkdir(parents=True)
    conf = run_dir / "nsd.conf"
    conf.write_text(nsd_conf(run_dir, zone, port), encoding="utf-8")
    if checkconf := harness.find_program("nsd-checkconf"):
        check = subprocess.run([checkconf, str(conf)], capture_output=True, text=True, timeout=10)
        if check.returncode != 0:
            raise harness.BenchError(f"nsd-checkconf rejected the config: {check.stderr.strip()}")
    return harness.Launch([nsd, "-d", "-c", str(conf)], None, run_dir, {"config": str(conf)})


# dnsperf's statistics (its "Statistics:" block): key -> pattern of the value.
DNSPERF_FIELDS = {
    "queries_sent": r"Queries sent:\s+(\d+)",
    "queries_completed": r"Queries completed:\s+(\d+)",
    "queries_lost": r"Queries lost:\s+(\d+)",
    "queries_interrupted": r"Queries interrupted:\s+(\d+)",
    "run_time_s": r"Run time \(s\):\s+([\d.]+)",
    "qps": r"Queries per second:\s+([\d.]+)",
    "avg_latency_s": r"Average Latency \(s\):\s+([\d.]+)",
    "min_latency_s": r"Average Latency \(s\):\s+[\d.]+ \(min ([\d.]+)",
    "max_latency_s": r"Average Latency \(s\):\s+[\d.]+ \(min [\d.]+, max ([\d.]+)\)",
    "latency_stddev_s": r"Latency StdDev \(s\):\s+([\d.]+)",
    "avg_request_bytes": r"Average packet size:\s+request (\d+)",
    "avg_response_bytes": r"Average packet size:\s+request \d+, response (\d+)",
}
DNSPERF_REQUIRED = ("queries_sent", "queries_completed", "queries_lost", "qps", "avg_latency_s")


def parse_dnsperf(output: str) -> dict[str, Any]:
    """dnsperf's statistics as numbers, with the loss % and the response codes.

    Raises BenchError naming what is missing when the output has no complete
    statistics (dnsperf killed, or it printed only an error)."""
    result: dict[str, Any] = {}
    for key, pattern in DNSPERF_FIELDS.items():
        if match := re.search(pattern, output):
            result[key] = float(match[1]) if "." in match[1] else int(match[1])
    if missing := [key for key in DNSPERF_REQUIRED if key not in result]:
        raise harness.BenchError(f"dnsperf output lacks {', '.join(missing)}:\n{output[-1500:]}")
    codes = re.search(r"Response codes:[ \t]*(.*)", output)
    result["rcodes"] = {
        c: int(n) for c, n in re.findall(r"([A-Z]+) (\d+)", codes[1] if codes else "")
    }
    sent = result["queries_sent"]
    result["loss_pct"] = 100.0 * result["queries_lost"] / sent if sent else 100.0
    result["avg_latency_ms"] = 1000.0 * result["avg_latency_s"]
    return result


def dnsperf_argv(
    dnsperf: str, port: int | str, queries: Path | str, seconds: int, args: argparse.Namespace
) -> list[str]:
    return [dnsperf, "-s", HOST, "-p", str(port), "-d", str(queries), "-c", str(args.clients),
            "-q", str(args.outstanding), "-t", str(args.timeout), "-l", str(seconds)]  # fmt: skip


def measure(name: str, mix: Mix, rnd: int, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """One run: a fresh server, its answers (round 1), a warm-up, the measured dnsperf."""
    run: dict[str, Any] = {"round": rnd, "mix": mix.name, "server": name}
    server_pin = harness.pin_prefix(args.pin, harness.SERVER_CPU)
    client_pin = harness.pin_prefix(args.pin, harness.CLIENT_CPU)
    try:
        port = harness.free_port()
        launch = launch_for(name, work, port, args)
        run |= {"port": port, "server_command": shlex.join(server_pin + launch.argv)}
        run |= launch.notes
        log = work / f"{name}-{mix.name}-round{rnd}.log"

        def ready() -> bool:
            return ask(HOST, port, ORIGIN, "SOA", timeout=0.2) is not None

        with harness.running(launch, log, ready, server_pin) as proc:
            run["server_affinity"] = harness.group_affinity(proc.pid)
            if rnd == 1:
                run["answer_profile"] = answer_profile(port, mix.profile)
            if args.warmup:
                argv = client_pin + dnsperf_argv(args.dnsperf, port, mix.path, args.warmup, args)
                run["warmup"], _ = harness.run_tool(argv, args.warmup + args.timeout, parse_dnsperf)
            harness.still_running(proc, log, "during the warm-up")
            argv = client_pin + dnsperf_argv(args.dnsperf, port, mix.path, args.duration, args)
            before = harness.snapshot()
            result, output = harness.run_tool(argv, args.duration + args.timeout, parse_dnsperf)
            cpu = harness.cpu_use(before, harness.snapshot(), [proc.pid])
            harness.still_running(proc, log, "during the run")
    except harness.BenchError as exc:
        return run | {"error": str(exc)}
    done, server_s = result["queries_completed"], cpu["server"]["cpu_s"]
    result["server_us_per_query"] = 1e6 * server_s / done if done and server_s else None
    result["dnsperf_us_per_query"] = 1e6 * cpu["children"]["cpu_s"] / done if done else None
    result["file_passes"] = result["queries_sent"] / len(mix.queries)
    run |= {"dnsperf_argv": argv, "dnsperf_output": output, "result": result, "cpu": cpu}
    return run | {"other_load_pct": cpu["other_load_pct"]}


STATUS = (
    "{result[qps]:>9,.0f} qps  loss {result[loss_pct]:.2f}%  avg {result[avg_latency_ms]:.3f} ms"
    "  server {result[server_us_per_query]:6.2f} µs/q ({cpu[server][cpu_pct]:.0f}% CPU)  "
    "dnsperf {cpu[children][cpu_pct]:.0f}% CPU  passes {result[file_passes]:.2f}"
)


# ---------------------------------------------------------------------------------------
# Summary and report.

METRICS = harness.CPU_METRICS | {
    "qps": lambda run: run["result"]["qps"],
    "loss_pct": lambda run: run["result"]["loss_pct"],
    "avg_latency_ms": lambda run: run["result"]["avg_latency_ms"],
    "server_us_per_query": lambda run: run["result"]["server_us_per_query"],
    "dnsperf_us_per_query": lambda run: run["result"]["dnsperf_us_per_query"],
    "file_passes": lambda run: run["result"]["file_passes"],
    "avg_response_bytes": lambda run: run["result"].get("avg_response_bytes"),
}
TABLE = """\
| Server | Median QPS | QPS min–max | Loss % | Avg latency (ms) | Server CPU µs/query (min–max) \
| CPU-bound capacity, *estimate* (QPS) | Server CPU % | dnsperf CPU % | File passes | Rounds ok |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"""
ROW = (
    "| {name} | {qps[median]:,.0f} | {qps[min]:,.0f}–{qps[max]:,.0f} | {loss_pct[median]:.2f} "
    "| {avg_latency_ms[median]:.3f} | {server_us_per_query[median]:.2f} "
    "({server_us_per_query[min]:.2f}–{server_us_per_query[max]:.2f}) | {capacity:,.0f} "
    "| {server_cpu_pct[median]:.0f} | {client_cpu_pct[median]:.0f} | {file_passes[median]:.2f} "
    "| {rounds} |"
)
RATIO_TABLE = """\
| Ratio | QPS | Server CPU µs/query | CPU-bound capacity, *estimate* |
|---|---:|---:|---:|"""


def mix_markdown(report: dict[str, Any], mix: str) -> list[str]:
    args, info, ver = report["args"], report["mixes"][mix], report["versions"]
    runs = [run for run in report["runs"] if run["mix"] == mix]
    summary = report["summary"][mix] = harness.summarise(
        runs, args["servers"], METRICS, args["max_other_load"], "server_us_per_query"
    )
    pairs = [(a, b) for a, b in PAIRS if {a, b} <= set(args["servers"])]
    metrics = {m: METRICS[m] for m in ("qps", "server_us_per_query")}
    ratios = report["ratios"][mix] = harness.ratios(runs, pairs, metrics)
    profiles = {run["server"]: run["answer_profile"] for run in runs if "answer_profile" in run}
    differences = report["answer_differences_vs_nsd"][mix] = profile_differences(profiles)
    logging = "(logging off)" if args["dnslib_log"] == "quiet" else "(default logging)"
    names = {
        "webtrip": harness.webtrip_label(ver, report["webtrip_source"]),
        "dnslib": f"dnslib {ver['dnslib']} {logging}",
        "nsd": f"NSD {ver['nsd']}",
    }
    hit = 100 * info["simulated_webtrip_cache_hit_rate"]["steady_state"]
    lines = [
        f"### Mix `{mix}`",
        "",
        f"{info['lines']:,}-line query file, {info['distinct_count']:,} distinct questions "
        f"({info['mix_text']}); simulated hit rate of webtrip's "
        f"{info['webtrip_packet_cache_entries']}-entry packet cache on it: {hit:.1f} %.",
        "",
        TABLE,
        *harness.server_rows(summary, names, ROW),
        "",
    ]
    sizes = [
        f"{LABELS[name]} {s['avg_response_bytes']['median']:.0f}"
        for name, s in summary.items()
        if "avg_response_bytes" in s
    ]
    lines += [f"Average response size (bytes, from dnsperf): {', '.join(sizes)}.", ""]
    if ratios:
        lines.append(RATIO_TABLE)
        for key, r in ratios.items():
            cpu = r["server_us_per_query"]
            label = "/".join(LABELS[name] for name in key.split("/"))
            qps, per_query = harness.ratio_text(r["qps"]), harness.ratio_text(cpu)
            lines.append(f"| {label} | {qps} | {per_query} | {harness.ratio_text(cpu, True)} |")
        lines += [
            "",
            "Ratios of the medians; in brackets the median of the per-round ratios. "
            "Capacity ratio = inverse of the CPU-per-query ratio.",
            "",
        ]
    goals = []
    for key, goal in GOALS.items():
        r = ratios.get(key, {})
        qps = harness.ratio_value(r.get("qps"))
        capacity = harness.ratio_value(r.get("server_us_per_query"), invert=True)
        parts = [
            f"{label} {value:.3g}× ({'met' if value >= goal else 'NOT met'})"
            for label, value in (("QPS", qps), ("capacity estimate", capacity))
            if value
        ]
        if parts:
            goals.append(f"≥ {goal:g}× {LABELS[key.split('/')[1]]}: " + ", ".join(parts))
    if goals:
        lines += ["Goals (webtrip " + "; ".join(goals) + ").", ""]
    kind = "distinct" if info["profile_is_all_distinct"] else "sampled"
    lines += [
        f"{LABELS[name]} answers {len(diffs)} of the {len(info['profile_queries'])} {kind} "
        "queries with a different rcode or answer count than NSD "
        f"(`answer_differences_vs_nsd.{mix}` in the JSON).\n"
        for name, diffs in differences.items()
        if diffs
    ]
    busy = [
        harness.fill(
            f"{LABELS[name]} {{busy_server_cpu_pct[median]:.0f}} / "
            "{busy_client_cpu_pct[median]:.0f} %"
            + (" (steal up to {steal_pct[max]:.1f} %)" if s["steal_pct"]["max"] >= 0.5 else ""),
            s,
        )
        for name, s in summary.items()
        if s["rounds_ok"]
    ]
    if report["pinning"]["enabled"] and busy:
        lines += [
            f"Median CPU busy (all processes, CPU {harness.SERVER_CPU} servers / CPU "
            f"{harness.CLIENT_CPU} dnsperf): {', '.join(busy)}.",
            "",
        ]
    lines += harness.load_notes(summary, LABELS, "dnsperf", "query")
    discarded = [run for run in report["discarded_runs"] if run["mix"] == mix]
    return [*lines, harness.noise_text(runs, discarded, args["max_other_load"]), ""]


def markdown(report: dict[str, Any]) -> str:
    args, ver, pin = report["args"], report["versions"], report["pinning"]
    report |= {"summary": {}, "ratios": {}, "answer_differences_vs_nsd": {}}
    lines = [line for mix in args["mix"] for line in mix_markdown(report, mix)]
    pinned = f"servers pinned to CPU {pin['server_cpu']}, dnsperf to CPU {pin['client_cpu']}"
    lines.append(
        f"dnsperf {ver['dnsperf']}, UDP over loopback, `{report['dnsperf_command']}`; "
        f"{args['rounds']} interleaved round(s) of {args['duration']} s after a "
        f"{args['warmup']} s warm-up, each run a fresh server; "
        f"{pinned if pin['enabled'] else 'no CPU pinning (' + pin['reason'] + ')'}; "
        f"{harness.machine_text(ver)}, dnspython {ver['dnspython']}, NSD with `server-count: "
        f"1` and RRL off; {report['started_at'][:10]}. Server CPU = utime+stime of all the "
        "server's processes during the measured run (/proc/<pid>/stat) ÷ queries completed; "
        "capacity = 10⁶ ÷ that. dnsperf CPU % = its own process. File passes = queries sent "
        "÷ file lines."
    )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    at_least = harness.at_least
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mix", default="both", choices=("both", *MIXES), help="query mix")
    parser.add_argument("--servers", type=harness.comma_list(SERVERS), default=",".join(SERVERS))
    parser.add_argument("--duration", type=at_least(1), default=10, help="seconds per run")
    parser.add_argument("--rounds", type=at_least(1), default=3, help="interleaved rounds")
    parser.add_argument("--warmup", type=at_least(0), default=1, help="seconds of warm-up")
    parser.add_argument("--clients", type=at_least(1), default=4, help="dnsperf -c")
    parser.add_argument("--outstanding", type=at_least(1), default=32, help="dnsperf -q")
    parser.add_argument("--timeout", type=at_least(1), default=2, help="dnsperf -t (seconds)")
    parser.add_argument("--unique-lines", type=at_least(100), default=200_000, help="its lines")
    parser.add_argument("--seed", type=int, default=1, help="the unique mix's RNG seed")
    parser.add_argument("--zone", type=Path, default=ZONE, help=f"zone file for {ORIGIN}")
    parser.add_argument("--dnslib-log", choices=("quiet", "default"), default="quiet")
    harness.add_options(parser, "dns_qps")
    args = parser.parse_args(argv)
    args.mix = list(MIXES) if args.mix == "both" else [args.mix]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    programs, packages = ("dnsperf", "nsd"), ("dnspython", "dnslib")
    report = harness.start_report("dns_qps", args, argv, programs=programs, packages=packages)
    args.dnsperf = harness.find_program("dnsperf")
    if args.dnsperf is None or not args.zone.is_file():
        raise harness.BenchError("needs dnsperf (apt-get install dnsperf) and the zone file")
    args.pin = harness.pinning(not args.no_pin)
    with harness.workdir("webtrip-dns-qps-", args.keep_tmp) as work:
        shutil.copyfile(args.zone, work / "example.test.zone")
        args.webtrip_src, source = harness.webtrip_source(args.webtrip_rev, work)
        cache_size = packet_cache_size(args.webtrip_src)
        mixes = {name: prepare_mix(name, work, args, cache_size) for name in args.mix}
        command = dnsperf_argv("dnsperf", "PORT", "queries-MIX.txt", args.duration, args)
        report |= {
            "pinning": args.pin,
            "webtrip_source": source | {"src": str(args.webtrip_src)},
            "zone_sha256": hashlib.sha256(args.zone.read_bytes()).hexdigest(),
            "dnsperf_command": shlex.join(
                harness.pin_prefix(args.pin, harness.CLIENT_CPU) + command
            ),
            "mixes": {name: mix.info for name, mix in mixes.items()},
            "runs": [],
            "discarded_runs": [],
        }
        with harness.saved(report, args.out, markdown):
            harness.run_rounds(
                report,
                args,
                [args.mix, args.servers],
                lambda rnd, mix, name: measure(name, mixes[mix], rnd, work, args),
                STATUS,
            )
    return 0 if all("result" in run for run in report["runs"]) else 1


if __name__ == "__main__":
    sys.exit(harness.main(main))
