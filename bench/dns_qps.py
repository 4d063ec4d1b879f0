"""Authoritative DNS query throughput on loopback: webtrip vs dnslib vs NSD, with dnsperf.

    python bench/dns_qps.py [--mix both|repeated|unique] [--duration 10] [--rounds 3]
                            [--clients 4] [--outstanding 32] [--servers webtrip,dnslib,nsd]
                            [--unique-lines 200000] [--seed 1]
                            [--out bench/results/dns_qps.json]

Every server serves the same zone (tests/data/zones/example.test.zone, copied into a
temporary directory) on a free UDP port on 127.0.0.1, and is hit by the same dnsperf
command with the same query file (written by this script, deterministic).  Each server
is pinned to CPU 0 and dnsperf to CPU 1 with ``taskset`` when possible.

Two query mixes (``--mix both``, the default, runs both in one run):

* ``repeated``: a 1000-line file of 38 distinct questions.  A server with a packet cache
  (webtrip has one) answers almost every query from it: this measures the cache path.
* ``unique``: a long file (200,000 lines by default, seeded RNG) of mostly distinct names:
  random labels under the wildcard (synthesised answers), random NXDOMAIN names, random
  names under the ``child`` delegation (referrals), and 20 % repeated ordinary names.
  No packet cache helps with the random 80 %: this measures the lookup path.

Besides dnsperf's QPS, every run records the server's own CPU time (utime+stime of every
process of its process group, from /proc/<pid>/stat, sampled just before and after the
measured dnsperf run) per answered query, which does not depend on how fast the load
generator is; ``1e6 / (CPU µs per query)`` is reported as an *estimate* of the QPS the
server could sustain on one fully busy CPU.

Rounds are interleaved (round 1 runs every mix × server once, round 2 again, ...; the
order rotates each round).  Each run starts the server afresh, waits until it answers a
UDP query, records one answer per distinct (or sampled) query (rcode/counts), warms up
with a short dnsperf run, measures, and kills the server (its whole process group).  The
medians over the rounds, loss %, CPU per query and ratios go to a JSON file and a Markdown
report on stdout.

Exit status: 0 if every run of every requested server succeeded, 1 if any failed (the
JSON and the report are still written), 2 if the bench itself cannot run.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import re
import resource
import shlex
import shutil
import socket
import statistics
import string
import struct
import subprocess
import sys
import tempfile
import time
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
from _common import (
    versions as common_versions,
)

DEFAULT_ZONE = ROOT / "tests" / "data" / "zones" / "example.test.zone"
DEFAULT_OUT = BENCH / "results" / "dns_qps.json"
ORIGIN = "example.test."
ALL_SERVERS = ("webtrip", "dnslib", "nsd")
ALL_MIXES = ("repeated", "unique")
SERVER_CPU = 0
DNSPERF_CPU = 1

PROBE_TIMEOUT = 1.0  # seconds per query when recording the answer profile
# webtrip's packet cache size (entries), used only to *simulate* its hit rate on each
# query file: read from the benchmarked source (webtrip_packet_cache()), else this value.
WEBTRIP_PACKET_CACHE = 4096


@dataclass(frozen=True)
class RandomNames:
    """A category of fresh names: ``<random label>.<parent>`` (``parent`` relative to
    ORIGIN, "@" for the apex), each name used once in the file."""

    parent: str
    qtype: str


Category = tuple[str, int, tuple[tuple[str, str], ...] | RandomNames]

# ---------------------------------------------------------------------------------------
# The query mixes: (category, weight per 100 queries, queries cycled inside the category,
# or RandomNames).  Names are relative to ORIGIN ("@" is the apex).  No EDNS is sent, so
# nothing here may need more than 512 bytes (the zone's "big" TXT set would be truncated:
# left out).
REPEATED_MIX: tuple[Category, ...] = (
    ("A www", 20, (("www", "A"),)),
    ("AAAA www", 12, (("www", "AAAA"),)),
    ("A mail", 8, (("mail", "A"),)),
    ("MX apex", 6, (("@", "MX"),)),
    ("NS apex", 4, (("@", "NS"),)),
    ("SOA apex", 3, (("@", "SOA"),)),
    ("A apex", 4, (("@", "A"),)),
    ("TXT apex", 2, (("@", "TXT"),)),
    ("A ns1", 2, (("ns1", "A"),)),
    ("SRV", 2, (("_http._tcp", "SRV"),)),
    ("CNAME", 6, (("alias", "A"), ("alias", "AAAA"))),
    (
        "wildcard",
        6,
        (("host1.wild", "A"), ("host2.wild", "A"), ("host3.wild", "TXT"), ("x.y.wild", "A")),
    ),
    (
        "NXDOMAIN",
        15,
        (
            *((f"nx{i:02d}", "AAAA" if i % 3 == 0 else "A") for i in range(15)),
            ("missing.mail", "A"),
            ("www2", "A"),
        ),
    ),
    (
        "NODATA",
        10,
        (("www", "MX"), ("mail", "AAAA"), ("@", "AAAA"), ("ns1", "AAAA"), ("www", "TXT")),
    ),
)
QUERY_MIX = REPEATED_MIX  # the name this table had before the unique mix existed

# Mostly names no packet cache can have seen: every random name occurs once per file.
UNIQUE_MIX: tuple[Category, ...] = (
    ("wildcard (random label)", 30, RandomNames("wild", "A")),
    ("NXDOMAIN (random)", 30, RandomNames("@", "A")),
    ("referral (random, under child)", 20, RandomNames("child", "A")),
    (
        "repeated ordinary names",
        20,
        (
            ("www", "A"),
            ("www", "AAAA"),
            ("mail", "A"),
            ("@", "MX"),
            ("@", "NS"),
            ("@", "SOA"),
            ("@", "A"),
            ("@", "TXT"),
            ("ns1", "A"),
            ("_http._tcp", "SRV"),
            ("alias", "A"),
        ),
    ),
)
MIXES: dict[str, tuple[Category, ...]] = {"repeated": REPEATED_MIX, "unique": UNIQUE_MIX}
QUERY_LINES = 1000  # repeated mix; dnsperf loops over the file when run with -l
UNIQUE_LINES = 200_000  # unique mix default (--unique-lines)
DEFAULT_SEED = 1  # unique mix RNG seed (--seed)
RANDOM_LABEL_LENGTH = 12  # longer than any label in the zone: never an existing name
PROFILE_SAMPLE = 4  # unique mix: answers recorded for this many queries per category

QTYPE_CODES = {"A": 1, "NS": 2, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28, "SRV": 33}
RCODE_NAMES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


def absolute(name: str) -> str:
    return ORIGIN if name == "@" else f"{name}.{ORIGIN}"


def build_queries(
    mix: tuple[Category, ...] = REPEATED_MIX, lines: int = QUERY_LINES, seed: int = DEFAULT_SEED
) -> list[tuple[str, str, str]]:
    """(category, fqdn, qtype) in a fixed order: smooth weighted round-robin over the
    categories (well mixed, fully deterministic), cycling through each category's queries;
    RandomNames categories draw a fresh label (distinct within the file) from an RNG
    seeded with ``seed``."""
    rng = random.Random(seed)
    alphabet = string.ascii_lowercase + string.digits
    seen: set[str] = set()
    weights = [weight for _, weight, _ in mix]
    total = sum(weights)
    current = [0] * len(mix)
    used = [0] * len(mix)
    out = []
    for _ in range(lines):
        for i, weight in enumerate(weights):
            current[i] += weight
        pick = max(range(len(current)), key=lambda i: (current[i], -i))
        current[pick] -= total
        category, _, queries = mix[pick]
        if isinstance(queries, RandomNames):
            while True:
                label = "".join(rng.choices(alphabet, k=RANDOM_LABEL_LENGTH))
                name = label if queries.parent == "@" else f"{label}.{queries.parent}"
                if name not in seen:
                    seen.add(name)
                    break
            qtype = queries.qtype
        else:
            name, qtype = queries[used[pick] % len(queries)]
        used[pick] += 1
        out.append((category, absolute(name), qtype))
    return out


def simulate_packet_cache(queries: list[tuple[str, str, str]], size: int) -> dict[str, float]:
    """Hit rate of a FIFO cache of ``size`` entries keyed by (name, type) -- webtrip's
    packet cache: insertion order, oldest evicted when full, hits do not refresh -- while
    dnsperf reads the file in order: during the first pass (cold) and the second (the
    file looping, the steady state).  Ignores the reordering that 32 queries in flight
    allow, which is tiny next to 4096 entries."""
    cache: dict[tuple[str, str], None] = {}
    hits = [0, 0]
    for lap in (0, 1):
        for _, fqdn, qtype in queries:
            key = (fqdn, qtype)
            if key in cache:
                hits[lap] += 1
                continue
            if len(cache) >= size:
                del cache[next(iter(cache))]
            cache[key] = None
    n = len(queries) or 1
    return {"first_pass": hits[0] / n, "steady_state": hits[1] / n}


def profile_sample(
    mix: tuple[Category, ...], queries: list[tuple[str, str, str]]
) -> list[tuple[str, str, str]]:
    """The queries whose answers each server's profile records: every distinct query of a
    mix without random names; else the first PROFILE_SAMPLE queries of each category."""
    if not any(isinstance(q, RandomNames) for _, _, q in mix):
        return queries
    taken: dict[str, int] = {}
    sample = []
    for query in queries:
        if taken.get(query[0], 0) < PROFILE_SAMPLE:
            taken[query[0]] = taken.get(query[0], 0) + 1
            sample.append(query)
    return sample


# ---------------------------------------------------------------------------------------
# A tiny stdlib DNS client: readiness checks and the per-server answer profile.


def encode_query(qid: int, fqdn: str, qtype: str) -> bytes:
    labels = [label for label in fqdn.rstrip(".").split(".") if label]
    qname = b"".join(bytes([len(label)]) + label.encode("ascii") for label in labels) + b"\0"
    header = struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0)  # standard query, RD=0
    return header + qname + struct.pack("!HH", QTYPE_CODES[qtype], 1)


def ask(port: int, fqdn: str, qtype: str, timeout: float) -> dict[str, Any] | None:
    """One UDP query; the response header summary, or None on timeout/error."""
    qid = random.randrange(1, 0xFFFF)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.sendto(encode_query(qid, fqdn, qtype), (HOST, port))
            deadline = time.monotonic() + timeout
            while True:
                sock.settimeout(max(0.001, deadline - time.monotonic()))
                data, _ = sock.recvfrom(65535)
                if len(data) >= 12:
                    rid, flags, _, an, ns, ar = struct.unpack("!HHHHHH", data[:12])
                    if rid == qid and flags & 0x8000:
                        return {
                            "rcode": RCODE_NAMES.get(flags & 0xF, str(flags & 0xF)),
                            "aa": bool(flags & 0x0400),
                            "tc": bool(flags & 0x0200),
                            "an": an,
                            "ns": ns,
                            "ar": ar,
                        }
        except OSError:  # includes socket.timeout
            return None


def answer_profile(port: int, queries: list[tuple[str, str, str]]) -> dict[str, str]:
    """'fqdn qtype' -> 'RCODE an/ns/ar [aa]' for every distinct query of the file."""
    profile: dict[str, str] = {}
    for _, fqdn, qtype in queries:
        key = f"{fqdn} {qtype}"
        if key in profile:
            continue
        reply = ask(port, fqdn, qtype, PROBE_TIMEOUT)
        if reply is None:
            profile[key] = "timeout"
        else:
            flags = " aa" if reply["aa"] else ""
            flags += " tc" if reply["tc"] else ""
            profile[key] = f"{reply['rcode']} {reply['an']}/{reply['ns']}/{reply['ar']}{flags}"
    return profile


# ---------------------------------------------------------------------------------------
# Servers.


def nsd_conf(workdir: Path, zone: Path, port: int) -> str:
    """A self-contained NSD config: one server process, no RRL, no user switch, no chroot,
    no database, no remote control, every path inside workdir."""
    return "\n".join(
        [
            "server:",
            "    server-count: 1",
            f"    ip-address: {HOST}@{port}",
            f"    port: {port}",
            "    do-ip4: yes",
            "    do-ip6: no",
            '    username: ""',
            '    chroot: ""',
            f'    zonesdir: "{workdir}"',
            '    database: ""',
            f'    zonelistfile: "{workdir}/zone.list"',
            f'    xfrdfile: "{workdir}/xfrd.state"',
            f'    xfrdir: "{workdir}/xfr"',
            f'    pidfile: "{workdir}/nsd.pid"',
            f'    logfile: "{workdir}/nsd.log"',
            "    verbosity: 1",
            "    rrl-ratelimit: 0",
            "    rrl-whitelist-ratelimit: 0",
            "remote-control:",
            "    control-enable: no",
            "zone:",
            f'    name: "{ORIGIN}"',
            f'    zonefile: "{zone}"',
            "",
        ]
    )


def launch_for(name: str, workdir: Path, zone: Path, port: int, args: argparse.Namespace) -> Launch:
    python = sys.executable
    if name == "webtrip":
        env = webtrip_env(args.webtrip_src)
        argv = [python, "-m", "webtrip", "dns", "serve"]
        argv += ["--zone", str(zone), "--listen", f"{HOST}:{port}"]
        return Launch(argv, env=env, cwd=workdir, notes={"PYTHONPATH": env["PYTHONPATH"]})
    if name == "dnslib":
        argv = [python, str(BENCH / "dnslib_server.py"), "--zone", str(zone)]
        argv += ["--port", str(port), "--address", HOST, "--log", args.dnslib_log]
        return Launch(argv, cwd=workdir, notes={"log": args.dnslib_log})
    if name == "nsd":
        nsd = find_program("nsd")
        if nsd is None:
            raise BenchError("nsd is not installed")
        run_dir = workdir / f"nsd-{port}"
        (run_dir / "xfr").mkdir(parents=True)
        conf = run_dir / "nsd.conf"
        conf.write_text(nsd_conf(run_dir, zone, port), encoding="utf-8")
        checkconf = find_program("nsd-checkconf")
        if checkconf is not None:
            check = subprocess.run(
                [checkconf, str(conf)], capture_output=True, text=True, timeout=10
            )
            if check.returncode != 0:
                raise BenchError(f"nsd-checkconf rejected the config: {check.stderr.strip()}")
        return Launch([nsd, "-d", "-c", str(conf)], cwd=run_dir, notes={"config": str(conf)})
    raise BenchError(f"unknown server {name!r}")


def webtrip_packet_cache(src: Path) -> int:
    """PACKET_CACHE_SIZE as written in the benchmarked authority.py (not imported)."""
    with contextlib.suppress(OSError):
        text = (src / "webtrip" / "dns" / "authority.py").read_text(encoding="utf-8")
        match = re.search(r"^PACKET_CACHE_SIZE\s*=\s*([\d_]+)", text, re.MULTILINE)
        if match:
            return int(match.group(1))
    return WEBTRIP_PACKET_CACHE


def group_processes(pgid: int) -> dict[int, tuple[str, int]]:
    """pid -> (comm, utime+stime in clock ticks) of every live process in process group
    ``pgid`` (the server and, for NSD, its forks).  A process's utime/stime in
    /proc/<pid>/stat cover all its threads, including threads that have already exited."""
    return {
        pid: (stat.comm, stat.utime + stat.stime)
        for pid, stat in proc_stats().items()
        if stat.pgid == pgid
    }


def group_affinities(pgid: int) -> dict[str, list[int] | None]:
    """CPU affinity of every live process in the server's process group (NSD forks)."""
    return {str(pid): affinity(pid) for pid in group_processes(pgid)}


def server_cpu(
    before: dict[int, tuple[str, int]],
    after: dict[int, tuple[str, int]],
    wall_s: float,
    completed: int,
) -> dict[str, Any]:
    """The server's CPU use between two group_processes() samples, per answered query.

    Processes alive at both samples count their difference, processes born in between
    count all their time; a process that exited in between is lost (its time went to its
    parent's cutime, not counted) and is listed in ``exited_during_run``."""
    processes = {}
    ticks = 0
    for pid, (comm, now) in sorted(after.items()):
        delta = now - before[pid][1] if pid in before else now
        processes[str(pid)] = {"comm": comm, "cpu_s": delta / CLK_TCK, "new": pid not in before}
        ticks += delta
    cpu_s = ticks / CLK_TCK
    return {
        "cpu_s": cpu_s,
        "wall_s": round(wall_s, 4),
        "cpu_pct_of_wall": round(100.0 * cpu_s / wall_s, 1) if wall_s > 0 else None,
        "us_per_query": 1e6 * cpu_s / completed if completed and cpu_s else None,
        "capacity_qps_estimate": completed / cpu_s if completed and cpu_s else None,
        "clk_tck": CLK_TCK,
        "processes": processes,
        "exited_during_run": [str(pid) for pid in sorted(set(before) - set(after))],
    }


# ---------------------------------------------------------------------------------------
# dnsperf.

_PATTERNS = {
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
_REQUIRED = ("queries_sent", "queries_lost", "qps", "avg_latency_s")


def parse_dnsperf(output: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, pattern in _PATTERNS.items():
        match = re.search(pattern, output)
        if match:
            text = match.group(1)
            result[key] = float(text) if "." in text else int(text)
    missing = [key for key in _REQUIRED if key not in result]
    if missing:
        raise BenchError(f"dnsperf output lacks {missing}:\n{output[-1500:]}")
    codes = re.search(r"Response codes:\s+(.*)", output)
    result["rcodes"] = (
        {m.group(1): int(m.group(2)) for m in re.finditer(r"([A-Z]+) (\d+)", codes.group(1))}
        if codes
        else {}
    )
    sent = result["queries_sent"]
    result["loss_pct"] = 100.0 * result["queries_lost"] / sent if sent else 100.0
    result["avg_latency_ms"] = 1000.0 * result["avg_latency_s"]
    return result


def dnsperf_argv(
    dnsperf: str, port: int | str, queries: Path | str, seconds: int, args: argparse.Namespace
) -> list[str]:
    return [
        dnsperf,
        "-s", HOST,
        "-p", str(port),
        "-d", str(queries),
        "-c", str(args.clients),
        "-q", str(args.outstanding),
        "-t", str(args.timeout),
        "-l", str(seconds),
    ]  # fmt: skip


def run_dnsperf(argv: list[str], seconds: int, timeout: float) -> tuple[dict[str, Any], str]:
    budget = seconds + timeout + 30
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=budget, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as exc:  # subprocess.run kills it
        raise BenchError(f"dnsperf did not finish within {budget:.0f}s") from exc
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise BenchError(f"dnsperf exited with status {done.returncode}:\n{output[-1500:]}")
    return parse_dnsperf(output), output


# ---------------------------------------------------------------------------------------
# Environment: pinning and versions.


def versions(dnsperf: str) -> dict[str, Any]:
    nsd = find_program("nsd")
    nsd_match = re.search(r"NSD version (\S+)", command_output([nsd, "-v"])) if nsd else None
    perf_match = re.search(r"Version (\S+)", command_output([dnsperf, "-h"]))
    return common_versions(
        {
            "dnspython": package_version("dnspython"),
            "dnslib": package_version("dnslib"),
            "nsd": nsd_match.group(1) if nsd_match else None,
            "dnsperf": perf_match.group(1) if perf_match else None,
        }
    )


def cpu_busy(before: dict[str, list[int]], after: dict[str, list[int]]) -> dict:
    """Busy % (everything but idle and iowait) of each CPU between two cpu_times()
    samples: whole machine, all processes, interrupts and steal included."""
    return {cpu: busy_pct(delta) for cpu, delta in cpu_deltas(before, after).items()}


def cpu_breakdown(before: dict[str, list[int]], after: dict[str, list[int]]) -> dict:
    """% of each CPU's time per /proc/stat field between two cpu_times() samples (steal:
    time the hypervisor gave to someone else; softirq: mostly loopback packet work)."""
    out = {}
    for cpu, delta in cpu_deltas(before, after).items():
        fields = breakdown_pct(delta)
        if fields is not None:
            out[cpu] = fields
    return out


def other_load_pct(
    before: dict[str, list[int]],
    after: dict[str, list[int]],
    server_s: float,
    dnsperf_s: float,
    wall_s: float,
) -> float | None:
    """CPU used by anything but the server and dnsperf during the run, in % of one CPU:
    all CPUs' busy time (/proc/stat) minus the two processes' own CPU time.  About 2-4 %
    here when the machine is otherwise idle (interrupts, kernel threads, this script);
    more means a neighbour competed for the CPUs."""
    if wall_s <= 0:
        return None
    busy = 0
    for delta in cpu_deltas(before, after).values():
        busy += sum(delta) - delta[3] - delta[4]
    return round(100.0 * (busy / CLK_TCK - server_s - dnsperf_s) / wall_s, 1)


def wait_for_quiet(max_wait: float, threshold: float) -> dict[str, Any]:
    """Before a run: wait (up to max_wait s) until no CPU is more than threshold % busy
    over one second, so that a neighbour's burst of work does not land in the run."""
    start = time.monotonic()
    while True:
        busy = sample_cpu_busy(1.0)
        waited = round(time.monotonic() - start, 1)
        if max((b or 0) for b in busy.values()) <= threshold:
            return {"waited_s": waited, "busy_pct": busy, "quiet": True}
        if waited >= max_wait:
            return {"waited_s": waited, "busy_pct": busy, "quiet": False}


# ---------------------------------------------------------------------------------------
# Summary and report.


def profile_differences(profiles: dict[str, dict[str, str]]) -> dict[str, list[str]]:
    """For each server, the distinct queries whose rcode or answer count differs from NSD's
    (NSD is the reference implementation here)."""
    reference = profiles.get("nsd")
    if not reference:
        return {}
    out = {}
    for name, profile in profiles.items():
        if name == "nsd":
            continue
        diffs = []
        for key, ref in reference.items():
            got = profile.get(key, "missing")
            if (
                got.split()[:2]
                and ref.split()[:2]
                and (
                    got.split()[0] != ref.split()[0]
                    or got.split("/")[0].split()[-1] != ref.split("/")[0].split()[-1]
                )
            ):
                diffs.append(f"{key}: {got} (NSD: {ref})")
        out[name] = diffs
    return out


def summarise(
    runs: list[dict[str, Any]], servers: list[str], mix: str, max_other_load: float
) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for name in servers:
        mine = [run for run in runs if run["server"] == name and run["mix"] == mix]
        ok = [run["result"] for run in mine if run.get("result")]
        failed = [run for run in mine if run.get("error")]
        entry: dict[str, Any] = {"rounds_ok": len(ok), "rounds_failed": len(failed)}
        if ok:
            qps = [r["qps"] for r in ok]
            entry.update(
                qps_all=qps,
                median_qps=statistics.median(qps),
                min_qps=min(qps),
                max_qps=max(qps),
                median_loss_pct=statistics.median(r["loss_pct"] for r in ok),
                max_loss_pct=max(r["loss_pct"] for r in ok),
                median_avg_latency_ms=statistics.median(r["avg_latency_ms"] for r in ok),
                median_file_passes=statistics.median(r["file_passes"] for r in ok),
                median_other_cpu_pct=statistics.median(r["other_cpu_pct"] or 0 for r in ok),
                max_other_cpu_pct=max(r["other_cpu_pct"] or 0 for r in ok),
                redone_runs=sum(1 for run in mine if run.get("attempt", 1) > 1),
                noisy_rounds=[
                    run["round"]
                    for run in mine
                    if run.get("result")
                    and (run["result"].get("other_cpu_pct") or 0) > max_other_load
                ],
                median_avg_response_bytes=statistics.median(
                    r.get("avg_response_bytes", 0) for r in ok
                ),
                median_cpu_busy_pct={
                    cpu: statistics.median(r["cpu_busy_pct"][cpu] or 0 for r in ok)
                    for cpu in ok[0].get("cpu_busy_pct", {})
                },
                median_cpu_steal_pct={
                    cpu: statistics.median(
                        r.get("cpu_breakdown_pct", {}).get(cpu, {}).get("steal", 0) for r in ok
                    )
                    for cpu in ok[0].get("cpu_busy_pct", {})
                },
            )
            per_query = [r["server_cpu"]["us_per_query"] for r in ok]
            if all(per_query):
                entry.update(
                    server_us_per_query_all=per_query,
                    median_server_us_per_query=statistics.median(per_query),
                    min_server_us_per_query=min(per_query),
                    max_server_us_per_query=max(per_query),
                    capacity_qps_estimate=1e6 / statistics.median(per_query),
                    median_server_cpu_pct=statistics.median(
                        r["server_cpu"]["cpu_pct_of_wall"] for r in ok
                    ),
                )
            perf = [r["dnsperf_cpu"] for r in ok]
            entry.update(
                median_dnsperf_cpu_pct=statistics.median(p["cpu_pct_of_wall"] for p in perf),
                median_dnsperf_us_per_query=statistics.median(p["us_per_query"] or 0 for p in perf),
            )
        if failed:
            entry["last_error"] = failed[-1]["error"]
        summary[name] = entry
    return summary


PAIRS = (("webtrip", "dnslib"), ("webtrip", "nsd"), ("dnslib", "nsd"))
# metric -> (summary key of the median, getter on a run result)
RATIO_METRICS = {
    "qps": ("median_qps", lambda r: r["qps"]),
    "server_us_per_query": (
        "median_server_us_per_query",
        lambda r: r["server_cpu"]["us_per_query"],
    ),
}


def ratios(runs: list[dict[str, Any]], summary: dict[str, Any], mix: str) -> dict[str, Any]:
    """a/b for each pair and metric: the ratio of the medians, and the median of the ratios
    within each round (the two runs of a round are minutes apart at most)."""
    out: dict[str, Any] = {}
    for a, b in PAIRS:
        key = f"{a}/{b}"
        out[key] = {}
        for metric, (median_key, get) in RATIO_METRICS.items():
            ma = summary.get(a, {}).get(median_key)
            mb = summary.get(b, {}).get(median_key)
            if not ma or not mb:
                out[key][metric] = None
                continue
            by_round: dict[int, dict[str, float]] = {}
            for run in runs:
                if run.get("result") and run["mix"] == mix:
                    value = get(run["result"])
                    if value:
                        by_round.setdefault(run["round"], {})[run["server"]] = value
            out[key][metric] = ratio_summary(ma, mb, paired_ratios(by_round, a, b))
    return out


LABELS = {"webtrip": "webtrip", "dnslib": "dnslib", "nsd": "NSD"}
GOALS = {"webtrip/dnslib": 5.0, "webtrip/nsd": 0.25}  # the issue: webtrip QPS ≥ goal × peer


def mix_markdown(report: dict[str, Any], mix: str) -> list[str]:
    ver = report["versions"]
    cfg = report["config"]
    info = report["mixes"][mix]
    summary = report["summary"][mix]
    source = report.get("webtrip_source", {})
    if source.get("commit"):
        webtrip_rev = f" @ {source['commit'][:7]}"
    elif source.get("head"):
        dirty = " + uncommitted src/ changes" if source.get("src_changes_vs_head") else ""
        webtrip_rev = f" @ {source['head'][:7]}{dirty}"
    else:
        webtrip_rev = ""
    names = {
        "webtrip": f"webtrip {ver['webtrip'] or ''}{webtrip_rev}".strip(),
        "dnslib": f"dnslib {ver['dnslib']}"
        + (" (logging off)" if cfg["dnslib_log"] == "quiet" else " (default logging)"),
        "nsd": f"NSD {ver['nsd']}",
    }
    hit = info["simulated_webtrip_cache_hit_rate"]
    lines = [
        f"### Mix `{mix}`",
        "",
        f"{info['lines']:,}-line query file, {info['distinct_count']:,} distinct questions "
        f"({info['mix_text']}); simulated hit rate of webtrip's "
        f"{info['webtrip_packet_cache_entries']}-entry "
        f"packet cache on it: {100 * hit['steady_state']:.1f} %.",
        "",
        "| Server | Median QPS | QPS min–max | Loss % | Avg latency (ms) "
        "| Server CPU µs/query (min–max) | CPU-bound capacity, *estimate* (QPS) "
        "| Server CPU % | dnsperf CPU % | File passes | Rounds ok |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in cfg["servers"]:
        s = summary[name]
        rounds = f"{s['rounds_ok']}/{s['rounds_ok'] + s['rounds_failed']}"
        if s.get("noisy_rounds"):
            rounds += f" ({len(s['noisy_rounds'])} noisy)"
        if not s["rounds_ok"]:
            lines.append(f"| {names[name]} | failed | – | – | – | – | – | – | – | – | {rounds} |")
            continue
        if "median_server_us_per_query" in s:
            cpu = (
                f"{s['median_server_us_per_query']:.2f} "
                f"({s['min_server_us_per_query']:.2f}–{s['max_server_us_per_query']:.2f})"
            )
            capacity = f"{s['capacity_qps_estimate']:,.0f}"
            server_pct = f"{s['median_server_cpu_pct']:.0f}"
        else:
            cpu = capacity = server_pct = "n/a"
        lines.append(
            f"| {names[name]} | {s['median_qps']:,.0f} | "
            f"{s['min_qps']:,.0f}–{s['max_qps']:,.0f} | {s['median_loss_pct']:.2f} | "
            f"{s['median_avg_latency_ms']:.3f} | {cpu} | {capacity} | {server_pct} | "
            f"{s['median_dnsperf_cpu_pct']:.0f} | {s['median_file_passes']:.2f} | {rounds} |"
        )
    lines.append("")
    sizes = [
        f"{LABELS[name]} {summary[name]['median_avg_response_bytes']:.0f}"
        for name in cfg["servers"]
        if summary[name].get("median_avg_response_bytes")
    ]
    if sizes:
        lines += [
            "Average response size (bytes, from dnsperf): " + ", ".join(sizes) + ".",
            "",
        ]
    ratio_rows = []
    for key, value in report["ratios"][mix].items():
        a, b = key.split("/")
        if a in cfg["servers"] and b in cfg["servers"]:
            ratio_rows.append(
                f"| {LABELS[a]}/{LABELS[b]} | {ratio_text(value['qps'])} | "
                f"{ratio_text(value['server_us_per_query'])} | "
                f"{ratio_text(value['server_us_per_query'], invert=True)} |"
            )
    if ratio_rows:
        lines += [
            "| Ratio | QPS | Server CPU µs/query | CPU-bound capacity, *estimate* |",
            "|---|---:|---:|---:|",
            *ratio_rows,
            "",
            "Ratios of the medians; in brackets the median of the per-round ratios. "
            "Capacity ratio = inverse of the CPU-per-query ratio.",
            "",
        ]
    goals = []
    for key, goal in GOALS.items():
        value = report["ratios"][mix].get(key)
        a, b = key.split("/")
        if not value or a not in cfg["servers"] or b not in cfg["servers"]:
            continue
        parts = []
        for label, ratio in (
            ("QPS", value["qps"] and value["qps"]["ratio_of_medians"]),
            (
                "capacity estimate",
                value["server_us_per_query"]
                and 1 / value["server_us_per_query"]["ratio_of_medians"],
            ),
        ):
            if ratio:
                parts.append(f"{label} {ratio:.3g}× ({'met' if ratio >= goal else 'NOT met'})")
        if parts:
            goals.append(f"≥ {goal:g}× {LABELS[b]}: " + ", ".join(parts))
    if goals:
        lines += ["Goals (webtrip " + "; ".join(goals) + ").", ""]
    checked = len(info["profile_queries"])
    for name, diffs in report["answer_differences_vs_nsd"].get(mix, {}).items():
        if diffs:
            lines += [
                f"{LABELS[name]} answers {len(diffs)} of the {checked} "
                f"{'distinct' if info['profile_is_all_distinct'] else 'sampled'} queries with "
                "a different rcode or answer count than NSD "
                f"(`answer_differences_vs_nsd.{mix}` in the JSON).",
                "",
            ]
    pin = report["pinning"]
    server_cpu_id, perf_cpu = f"cpu{pin['server_cpu']}", f"cpu{pin['dnsperf_cpu']}"
    if pin["enabled"]:
        busy_parts = []
        for name in cfg["servers"]:
            busy = summary[name].get("median_cpu_busy_pct", {})
            if server_cpu_id in busy and perf_cpu in busy:
                part = f"{LABELS[name]} {busy[server_cpu_id]:.0f} / {busy[perf_cpu]:.0f} %"
                steal = summary[name].get("median_cpu_steal_pct", {})
                if max(steal.values(), default=0) >= 0.5:
                    part += (
                        f" (steal {steal.get(server_cpu_id, 0):.1f} / "
                        f"{steal.get(perf_cpu, 0):.1f} %)"
                    )
                busy_parts.append(part)
        if busy_parts:
            lines += [
                f"Median CPU busy (all processes, CPU {pin['server_cpu']} servers / "
                f"CPU {pin['dnsperf_cpu']} dnsperf): " + ", ".join(busy_parts) + ".",
                "",
            ]
        noise = [
            f"{LABELS[name]} {summary[name]['median_other_cpu_pct']:.0f} / "
            f"{summary[name]['max_other_cpu_pct']:.0f} %"
            for name in cfg["servers"]
            if "median_other_cpu_pct" in summary[name]
        ]
        redone = sum(summary[name].get("redone_runs", 0) for name in cfg["servers"])
        if noise:
            lines += [
                "CPU used by other processes during the runs (median / max, % of one CPU): "
                + ", ".join(noise)
                + (
                    f"; {redone} run{'s' if redone != 1 else ''} redone because of other "
                    "load (`discarded_runs` in the JSON)"
                    if redone
                    else ""
                )
                + ".",
                "",
            ]
        for name in cfg["servers"]:
            noisy = summary[name].get("noisy_rounds")
            if noisy:
                rounds_text = ", ".join(str(r) for r in noisy)
                lines += [
                    f"**Noisy**: in round{'s' if len(noisy) > 1 else ''} {rounds_text} the "
                    f"{LABELS[name]} run kept other processes above "
                    f"{cfg.get('max_other_load', 10):g} % of a CPU even after "
                    f"{cfg.get('retries', 0)} retries: its QPS there is depressed (the CPU per "
                    "query much less so).",
                    "",
                ]
        for name in cfg["servers"]:
            busy = summary[name].get("median_cpu_busy_pct", {}).get(perf_cpu)
            if busy is not None and busy >= 85:
                own = summary[name].get("median_server_cpu_pct")
                own_text = f" while the server used {own:.0f} % of a CPU" if own else ""
                lines += [
                    f"During the {LABELS[name]} runs dnsperf's CPU was {busy:.0f} % busy"
                    f"{own_text}: that QPS is likely limited by the load generator; read it "
                    "as a lower bound, and compare CPU per query instead.",
                    "",
                ]
    return lines


def markdown(report: dict[str, Any]) -> str:
    ver = report["versions"]
    cfg = report["config"]
    lines: list[str] = []
    for mix in cfg["mixes"]:
        lines += mix_markdown(report, mix)
    pin = report["pinning"]
    pin_text = (
        f"servers pinned to CPU {pin['server_cpu']}, dnsperf to CPU {pin['dnsperf_cpu']}"
        if pin["enabled"]
        else f"no CPU pinning ({pin['reason']})"
    )
    lines.append(
        f"dnsperf {ver['dnsperf']}, UDP over loopback, `{report['dnsperf_command']}`; "
        f"{cfg['rounds']} interleaved round{'s' if cfg['rounds'] != 1 else ''} "
        f"of {cfg['duration']} s after a {cfg['warmup']} s warm-up, each run a fresh server; "
        f"{pin_text}; {ver['cpu_model']} ({ver['cpu_count']} CPUs), "
        f"Linux {ver['kernel']}, Python {ver['python']}, dnspython {ver['dnspython']}, "
        f"NSD with `server-count: 1` and RRL off; {report['started_at'][:10]}. "
        "Server CPU = utime+stime of all the server's processes during the measured run "
        "(/proc/<pid>/stat) ÷ queries completed; capacity = 10⁶ ÷ that. "
        "dnsperf CPU % = its own process. File passes = queries sent ÷ file lines."
    )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="dnsperf throughput: webtrip vs dnslib vs NSD on loopback"
    )
    parser.add_argument(
        "--mix",
        choices=("both", *ALL_MIXES),
        default="both",
        help="query mix: repeated (38 questions, cache path), unique (mostly fresh names), "
        "or both in one run (default)",
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of warm-up per run")
    parser.add_argument("--clients", type=int, default=4, help="dnsperf -c")
    parser.add_argument("--outstanding", type=int, default=32, help="dnsperf -q")
    parser.add_argument("--timeout", type=int, default=2, help="dnsperf -t (seconds)")
    parser.add_argument(
        "--unique-lines",
        type=int,
        default=UNIQUE_LINES,
        help=f"lines of the unique mix's query file (default {UNIQUE_LINES:,})",
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="RNG seed of the unique mix's names"
    )
    parser.add_argument(
        "--servers",
        default=",".join(ALL_SERVERS),
        help="comma-separated subset of " + ",".join(ALL_SERVERS),
    )
    parser.add_argument(
        "--zone", type=Path, default=DEFAULT_ZONE, help=f"zone file for {ORIGIN} (copied)"
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="JSON result; a .md report goes beside it"
    )
    parser.add_argument(
        "--dnslib-log",
        choices=("quiet", "default"),
        default="quiet",
        help="dnslib per-query logging: quiet (errors only, default) or dnslib's default",
    )
    parser.add_argument(
        "--webtrip-rev",
        metavar="REV",
        help="run webtrip from `git archive REV src` instead of the working tree's src/",
    )
    parser.add_argument(
        "--max-other-load",
        type=float,
        default=10.0,
        metavar="PCT",
        help="a run during which other processes used more than PCT %% of a CPU is redone "
        "(up to --retries times; every attempt is kept in the JSON); also the idle "
        "threshold of the check before each run (default 10)",
    )
    parser.add_argument(
        "--retries", type=int, default=2, help="redo a noisy run at most this often (default 2)"
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=60.0,
        metavar="S",
        help="before each run, wait up to S seconds for the CPUs to be idle (default 60)",
    )
    parser.add_argument(
        "--rerender",
        type=Path,
        metavar="JSON",
        help="run nothing: recompute the summary and report of an earlier result file "
        "(rewrites it and its .md)",
    )
    parser.add_argument("--no-pin", action="store_true", help="do not use taskset")
    parser.add_argument("--keep-tmp", action="store_true", help="keep the temp dir (logs)")
    args = parser.parse_args(argv)
    args.server_list = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = sorted(set(args.server_list) - set(ALL_SERVERS))
    if unknown or not args.server_list:
        parser.error(f"--servers: unknown {unknown}; choose from {','.join(ALL_SERVERS)}")
    args.mix_list = list(ALL_MIXES) if args.mix == "both" else [args.mix]
    for option in ("duration", "rounds", "clients", "outstanding", "timeout"):
        if getattr(args, option) < 1:
            parser.error(f"--{option} must be at least 1")
    if args.unique_lines < 100:
        parser.error("--unique-lines must be at least 100")
    if args.warmup < 0 or args.retries < 0 or args.quiet_wait < 0:
        parser.error("--warmup, --retries and --quiet-wait must be >= 0")
    return args


@dataclass
class MixFiles:
    name: str
    path: Path
    queries: list[tuple[str, str, str]]
    profile: list[tuple[str, str, str]]


def prepare_mix(
    name: str, workdir: Path, args: argparse.Namespace, cache_size: int
) -> tuple[MixFiles, dict]:
    """Write the mix's query file; its description for the report."""
    mix = MIXES[name]
    lines = QUERY_LINES if name == "repeated" else args.unique_lines
    queries = build_queries(mix, lines, args.seed)
    path = workdir / f"queries-{name}.txt"
    text = "".join(f"{fqdn} {qtype}\n" for _, fqdn, qtype in queries)
    path.write_text(text, encoding="ascii")
    distinct = sorted({f"{fqdn} {qtype}" for _, fqdn, qtype in queries})
    percent = {category: weight for category, weight, _ in mix}
    profile = profile_sample(mix, queries)
    info: dict[str, Any] = {
        "file": path.name,
        "lines": len(queries),
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
        "seed": args.seed if any(isinstance(q, RandomNames) for _, _, q in mix) else None,
        "mix_percent": percent,
        "mix_text": ", ".join(f"{pct} % {cat}" for cat, pct in percent.items()),
        "distinct_count": len(distinct),
        "simulated_webtrip_cache_hit_rate": simulate_packet_cache(queries, cache_size),
        "webtrip_packet_cache_entries": cache_size,
        "profile_is_all_distinct": profile is queries,
        "profile_queries": sorted({f"{fqdn} {qtype}" for _, fqdn, qtype in profile}),
        "first_lines": [f"{fqdn} {qtype}" for _, fqdn, qtype in queries[:12]],
    }
    if len(distinct) <= 200:
        info["distinct"] = distinct
    hit = info["simulated_webtrip_cache_hit_rate"]
    if info["seed"] is not None and hit["steady_state"] > hit["first_pass"] + 0.05:
        print(
            f"# warning: the {name} mix's {len(queries):,} lines are too few for a "
            f"{cache_size}-entry cache: once dnsperf loops over the file, webtrip's cache "
            f"would answer {100 * hit['steady_state']:.0f} % (use more --unique-lines)",
            file=sys.stderr,
        )
    return MixFiles(name, path, queries, profile), info


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.rerender:
        return rerender(args.rerender)
    terminate_on_sigterm()
    dnsperf = find_program("dnsperf")
    if dnsperf is None:
        print("dnsperf is not installed", file=sys.stderr)
        return 2
    if not args.zone.is_file():
        print(f"zone file not found: {args.zone}", file=sys.stderr)
        return 2

    pin = pinning(not args.no_pin, SERVER_CPU, DNSPERF_CPU, "dnsperf_cpu")
    workdir = Path(tempfile.mkdtemp(prefix="webtrip-dns-qps-"))
    zone = workdir / "example.test.zone"
    shutil.copyfile(args.zone, zone)
    try:
        args.webtrip_src, webtrip_info = webtrip_source(args.webtrip_rev, workdir)
    except BenchError as exc:
        print(exc, file=sys.stderr)
        shutil.rmtree(workdir, ignore_errors=True)
        return 2
    webtrip_info["src"] = str(args.webtrip_src)
    cache_size = webtrip_packet_cache(args.webtrip_src)
    mixes: dict[str, MixFiles] = {}
    mix_info: dict[str, Any] = {}
    for name in args.mix_list:
        mixes[name], mix_info[name] = prepare_mix(name, workdir, args, cache_size)
    warn_uncommitted(webtrip_info, args.server_list)

    per_run = 2 + args.warmup + args.duration + args.timeout + 2
    estimate = per_run * args.rounds * len(args.server_list) * len(args.mix_list)
    print(
        f"# {len(args.mix_list)} mixes × {len(args.server_list)} servers × {args.rounds} "
        f"rounds × {args.duration} s (≈{estimate // 60} min {estimate % 60} s); "
        f"pinning: {pin['reason']}; workdir {workdir}",
        file=sys.stderr,
    )

    report: dict[str, Any] = {
        "benchmark": "dns_qps",
        "started_at": utc_now(),
        "argv": sys.argv[1:] if argv is None else argv,
        "config": {
            "mixes": args.mix_list,
            "duration": args.duration,
            "rounds": args.rounds,
            "warmup": args.warmup,
            "clients": args.clients,
            "outstanding": args.outstanding,
            "timeout": args.timeout,
            "servers": args.server_list,
            "dnslib_log": args.dnslib_log,
            "max_other_load": args.max_other_load,
            "retries": args.retries,
            "quiet_wait": args.quiet_wait,
            "unique_lines": args.unique_lines,
            "seed": args.seed,
            "zone_source": str(args.zone),
            "zone_sha256": hashlib.sha256(zone.read_bytes()).hexdigest(),
        },
        "pinning": pin,
        "webtrip_source": webtrip_info,
        "versions": versions(dnsperf),
        "dnsperf_command": shlex.join(
            pin_prefix(pin, DNSPERF_CPU)
            + dnsperf_argv("dnsperf", "PORT", "queries-MIX.txt", args.duration, args)
        ),
        "mixes": mix_info,
        "loadavg_start": loadavg(),
        "busiest_processes_at_start": busiest_processes(),
        "runs": [],
        "answer_profiles": {mix: {} for mix in args.mix_list},
        "discarded_runs": [],
    }
    runs: list[dict[str, Any]] = report["runs"]
    out = args.out
    try:
        for rnd in range(1, args.rounds + 1):
            servers = rotate(args.server_list, rnd - 1)
            mix_order = rotate(args.mix_list, rnd - 1)
            for mix in mix_order:
                for name in servers:
                    for attempt in range(1, args.retries + 2):
                        quiet = wait_for_quiet(args.quiet_wait, args.max_other_load)
                        run = bench_one(name, mixes[mix], rnd, workdir, zone, dnsperf, pin, args)
                        run["attempt"] = attempt
                        run["quiet_check"] = quiet
                        if "answer_profile" in run:
                            profile = run.pop("answer_profile")
                            report["answer_profiles"][mix].setdefault(name, profile)
                        label = f"round {rnd} {mix:8} {name:8}"
                        print(f"{label} {run_status(run)}", file=sys.stderr)
                        other = run.get("result", {}).get("other_cpu_pct")
                        if other is None or other <= args.max_other_load or attempt > args.retries:
                            break
                        run["discarded"] = (
                            f"other processes used {other:.0f} % of a CPU "
                            f"(> --max-other-load {args.max_other_load:g})"
                        )
                        report["discarded_runs"].append(run)
                        print(f"{label} ↑ discarded ({run['discarded']}); again", file=sys.stderr)
                    runs.append(run)
                    time.sleep(0.5)
    except BaseException as exc:  # Ctrl-C or SIGTERM: keep the partial result apart
        report["interrupted"] = type(exc).__name__
        out = args.out.with_name(args.out.stem + ".interrupted.json")
        raise
    finally:
        report["loadavg_end"] = loadavg()
        report["finished_at"] = utc_now()
        write_report(report, out)
        if args.keep_tmp:
            print(f"# kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    print(report["markdown"])
    return 0 if all(run.get("result") for run in runs) else 1


def write_report(report: dict[str, Any], out: Path) -> None:
    """(Re)compute summaries, ratios and the Markdown from the runs; write JSON and .md."""
    cfg = report["config"]
    runs = report["runs"]
    threshold = cfg.get("max_other_load", float("inf"))
    report["summary"] = {m: summarise(runs, cfg["servers"], m, threshold) for m in cfg["mixes"]}
    report["ratios"] = {m: ratios(runs, report["summary"][m], m) for m in cfg["mixes"]}
    report["answer_differences_vs_nsd"] = {
        m: profile_differences(report["answer_profiles"][m]) for m in cfg["mixes"]
    }
    report["markdown"] = markdown(report)
    write_results(out, report, report["markdown"] + "\n")


def rerender(path: Path) -> int:
    """--rerender: rebuild summary, ratios and report of an existing result file."""
    report = json.loads(path.read_text(encoding="utf-8"))
    write_report(report, path)
    print(report["markdown"])
    return 0


def run_status(run: dict[str, Any]) -> str:
    if run.get("result"):
        r = run["result"]
        per_query = r["server_cpu"]["us_per_query"]
        cpu = f"{per_query:6.2f} µs/q" if per_query else "   n/a µs/q"
        return (
            f"{r['qps']:>10,.0f} qps  loss {r['loss_pct']:5.2f}%  "
            f"avg {r['avg_latency_ms']:.3f} ms  server {cpu} "
            f"({r['server_cpu']['cpu_pct_of_wall']:.0f}% CPU)  "
            f"dnsperf {r['dnsperf_cpu']['cpu_pct_of_wall']:.0f}% CPU  "
            f"passes {r['file_passes']:.2f}  other {r['other_cpu_pct']:.0f}% CPU"
        )
    lines = [line for line in run["error"].splitlines() if line.strip()]
    return "FAILED: " + lines[0] + (f" … {lines[-1]}" if len(lines) > 1 else "")


def busiest_processes(limit: int = 5) -> list[str]:
    """`ps` lines of the busiest processes (lifetime %CPU), to spot a noisy neighbour."""
    text = command_output(["ps", "-eo", "pid,pcpu,etime,comm", "--sort=-pcpu"])
    lines = [line.strip() for line in text.splitlines()[1:]]
    return [line for line in lines if line.split()[0] != str(os.getpid())][:limit]


def bench_one(
    name: str,
    mix: MixFiles,
    rnd: int,
    workdir: Path,
    zone: Path,
    dnsperf: str,
    pin: dict[str, Any],
    args: argparse.Namespace,
) -> dict[str, Any]:
    run: dict[str, Any] = {"round": rnd, "mix": mix.name, "server": name}
    run["started_at"] = utc_now()
    try:
        port = free_port(udp=True)
        run["port"] = port
        launch = launch_for(name, workdir, zone, port, args)
        run["server_command"] = shlex.join(pin_prefix(pin, SERVER_CPU) + launch.argv)
        run.update(launch.notes)
        log = workdir / f"{name}-{mix.name}-round{rnd}.log"

        def ready() -> bool:
            return ask(port, ORIGIN, "SOA", 0.2) is not None

        with running_server(launch, port, log, pin_prefix(pin, SERVER_CPU), ready) as proc:
            run["server_affinity"] = group_affinities(proc.pid)
            if rnd == 1:
                run["answer_profile"] = answer_profile(port, mix.profile)
            perf_pin = pin_prefix(pin, DNSPERF_CPU)
            if args.warmup:
                warm = perf_pin + dnsperf_argv(dnsperf, port, mix.path, args.warmup, args)
                run["warmup"], _ = run_dnsperf(warm, args.warmup, args.timeout)
            if proc.poll() is not None:
                raise BenchError(f"server died during warm-up; log tail:\n{log_tail(log)}")
            measure = perf_pin + dnsperf_argv(dnsperf, port, mix.path, args.duration, args)
            run["dnsperf_argv"] = measure
            before = cpu_times()
            group_before = group_processes(proc.pid)
            children_before = rusage_s(resource.RUSAGE_CHILDREN)[0]
            start = time.monotonic()
            result, output = run_dnsperf(measure, args.duration, args.timeout)
            wall = time.monotonic() - start
            perf_cpu = rusage_s(resource.RUSAGE_CHILDREN)[0] - children_before
            group_after = group_processes(proc.pid)
            after = cpu_times()
            result["cpu_busy_pct"] = cpu_busy(before, after)
            result["cpu_breakdown_pct"] = cpu_breakdown(before, after)
            completed = result.get("queries_completed", 0)
            result["server_cpu"] = server_cpu(group_before, group_after, wall, completed)
            result["dnsperf_cpu"] = {
                "cpu_s": round(perf_cpu, 4),
                "cpu_pct_of_wall": round(100.0 * perf_cpu / wall, 1) if wall > 0 else None,
                "us_per_query": 1e6 * perf_cpu / completed if completed else None,
            }
            result["file_passes"] = result["queries_sent"] / len(mix.queries)
            result["other_cpu_pct"] = other_load_pct(
                before, after, result["server_cpu"]["cpu_s"], perf_cpu, wall
            )
            if proc.poll() is not None:
                raise BenchError(f"server died during the run; log tail:\n{log_tail(log)}")
            run["result"] = result
            run["dnsperf_output"] = output
    except BenchError as exc:
        run["error"] = str(exc)
    return run


if __name__ == "__main__":
    sys.exit(main())
