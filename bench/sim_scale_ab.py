"""Simulation scale, before and after: two versions of webtrip's src/ in turns.

    python bench/sim_scale_ab.py [--before 653ed43] [--after REV] [--rounds 5]
                                 [--sizes 1,10,100,1000] [--seed 1]
                                 [--out bench/results/sim_scale_ab.json]

On a machine shared with other work, two runs of ``sim_scale.py`` a minute apart
can differ by more than the change being measured. Here each round runs the
"before" and the "after" version one after the other (in alternating order), each in
a fresh process with its src/ first on PYTHONPATH: a warm-up world, then one run of
each N of ``sim_scale.one_run`` and one of ``sim_scale.bulk_run`` (netsim alone). The
report gives the median wall time of each over the rounds, packets per wall second,
the speed-up (ratio of the medians), and whether the pcap and packet-log digests of
both versions are the same in every round — the check that the optimised simulator
simulated the same packets, byte for byte.

``--before`` and ``--after`` are git revisions, exported with ``git archive`` (the
default ``--after`` is the working tree). The demo site's files get the working
tree's modification times, since the web server sends them as Last-Modified: with
git's times the HTTP bytes, and so the digests, would differ for that reason alone.

Exit status: 0 if every load succeeded and the digests agree, 1 if not, 2 if the
bench cannot run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import ROOT, BenchError, webtrip_env, webtrip_source, write_results
from _common import versions as common_versions

DEFAULT_OUT = ROOT / "bench" / "results" / "sim_scale_ab.json"
BULK = "bulk"


def child(sizes: list[str], seed: int) -> dict[str, Any]:
    """In the child process: a warm-up, then one run of each size; the figures as JSON."""
    import sim_scale

    sim_scale.one_run(10, seed)  # lazy imports and first allocations, not measured
    sim_scale.bulk_run(2, 1 << 16, seed)
    out: dict[str, Any] = {}
    for size in sizes:
        if size == BULK:
            run = sim_scale.bulk_run(sim_scale.BULK_CLIENTS, sim_scale.BULK_BYTES, seed)
            ok = run["complete"]
            log = None
            gc_s = None
        else:
            run = sim_scale.one_run(int(size), seed)
            ok = not run["failures"]
            log = run["log_sha256"]
            gc_s = run["gc_s"]
        out[size] = {
            "wall_s": run["wall_s"],
            "gc_s": gc_s,
            "packets": run["packets"],
            "ok": ok,
            "pcap_sha256": run["pcap_sha256"],
            "log_sha256": log,
        }
    return out


def same_mtimes(src: Path, like: Path) -> None:
    """Give the files under ``src`` the modification times of their twins under ``like``."""
    for path in src.rglob("*"):
        twin = like / path.relative_to(src)
        if path.is_file() and twin.is_file():
            stat = twin.stat()
            os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def run_child(src: Path, sizes: list[str], seed: int) -> dict[str, Any]:
    argv = [sys.executable, str(Path(__file__)), "--child", ",".join(sizes), "--seed", str(seed)]
    done = subprocess.run(argv, env=webtrip_env(src), capture_output=True, text=True)
    if done.returncode:
        raise BenchError(f"the run of {src} failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def summary(rounds: list[dict[str, Any]], sizes: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for size in sizes:
        row: dict[str, Any] = {}
        for side in ("before", "after"):
            runs = [r[side][size] for r in rounds]
            wall = statistics.median(r["wall_s"] for r in runs)
            gcs = [r["gc_s"] for r in runs if r["gc_s"] is not None]
            row[side] = {
                "wall_s_median": wall,
                "wall_s_min": min(r["wall_s"] for r in runs),
                "wall_s_max": max(r["wall_s"] for r in runs),
                "gc_s_median": statistics.median(gcs) if gcs else None,
                "packets": runs[0]["packets"],
                "packets_per_wall_s": runs[0]["packets"] / wall,
            }
        digests = {
            (r[side][size]["pcap_sha256"], r[side][size]["log_sha256"])
            for r in rounds
            for side in ("before", "after")
        }
        row["speed_up"] = row["before"]["wall_s_median"] / row["after"]["wall_s_median"]
        row["same_digests"] = len(digests) == 1
        row["all_ok"] = all(r[side][size]["ok"] for r in rounds for side in ("before", "after"))
        if size != BULK:
            for side in ("before", "after"):
                row[side]["wall_ms_per_browser"] = row[side]["wall_s_median"] * 1000 / int(size)
        out[size] = row
    if "10" in out:
        for size, row in out.items():
            if size == BULK:
                continue
            for side in ("before", "after"):
                base = out["10"][side]["wall_ms_per_browser"]
                row[side]["per_browser_vs_n10"] = row[side]["wall_ms_per_browser"] / base
    return out


def markdown(report: dict[str, Any]) -> str:
    ver = report["versions"]
    lines = [
        f"Run {report['started']} ({report['duration_s']} s), Python {ver['python']}, "
        f"{ver['os']}, kernel {ver['kernel']}, {ver['cpu_count']} × {ver['cpu_model']}.",
        "",
        f"`{report['command']}` — before: {report['before']['commit'] or 'working tree'}, "
        f"after: {report['after'].get('commit') or 'working tree'} (HEAD "
        f"{report['after'].get('head')}); {report['args']['rounds']} rounds, each version in "
        "turn in its own process; medians over the rounds.",
        "",
        "| N | wall s before | after | packets | packets / wall s before | after | speed-up "
        "| per browser vs N=10, before | after | GC s before | after | same digests |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for size, row in report["summary"].items():
        b, a = row["before"], row["after"]

        def ratio(side: dict[str, Any]) -> str:
            value = side.get("per_browser_vs_n10")
            return "" if value is None else f"{value:.2f}×"

        def gc(side: dict[str, Any]) -> str:
            return "" if side["gc_s_median"] is None else f"{side['gc_s_median']:.3f}"

        name = "netsim alone" if size == BULK else size
        lines.append(
            f"| {name} | {b['wall_s_median']:.3f} | {a['wall_s_median']:.3f} | {b['packets']:,} "
            f"| {b['packets_per_wall_s']:,.0f} | **{a['packets_per_wall_s']:,.0f}** "
            f"| {row['speed_up']:.2f}× | {ratio(b)} | {ratio(a)} | {gc(b)} | {gc(a)} "
            f"| {'yes' if row['same_digests'] else '**no**'} |"
        )
    bad = [s for s, row in report["summary"].items() if not row["all_ok"]]
    if bad:
        lines += ["", f"**Failed loads or incomplete downloads**: {', '.join(bad)}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="sim_scale, two versions in turns")
    parser.add_argument("--before", default="653ed43", help="git revision (default 653ed43)")
    parser.add_argument("--after", default=None, help="git revision (default: working tree)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sizes", default="1,10,100,1000", help="values of N")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(child(args.child.split(","), args.seed)))
        return 0
    sizes = [s for s in args.sizes.split(",") if s] + [BULK]
    command = "python bench/sim_scale_ab.py " + " ".join(sys.argv[1:] if argv is None else argv)
    started = dt.datetime.now(dt.UTC)
    began = time.monotonic()
    rounds: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="sim-scale-ab-") as tmp:
            before_src, before_info = webtrip_source(args.before, Path(tmp))
            after_src, after_info = webtrip_source(args.after, Path(tmp))
            for src in {before_src, after_src} - {ROOT / "src"}:
                same_mtimes(src, ROOT / "src")
            for number in range(args.rounds):
                order = ("before", "after") if number % 2 == 0 else ("after", "before")
                result: dict[str, Any] = {}
                for side in order:
                    src = before_src if side == "before" else after_src
                    result[side] = run_child(src, sizes, args.seed)
                    walls = ", ".join(f"{s} {r['wall_s']:.3f}" for s, r in result[side].items())
                    print(f"# round {number + 1} {side}: {walls}", file=sys.stderr, flush=True)
                rounds.append(result)
    except BenchError as exc:
        print(f"sim_scale_ab: {exc}", file=sys.stderr)
        return 2
    report: dict[str, Any] = {
        "benchmark": "sim_scale_ab",
        "started": started.isoformat(timespec="seconds"),
        "duration_s": round(time.monotonic() - began, 1),
        "command": command,
        "args": {"sizes": sizes, "rounds": args.rounds, "seed": args.seed},
        "versions": common_versions({}),
        "before": before_info,
        "after": after_info,
        "summary": summary(rounds, sizes),
        "rounds": rounds,
    }
    text = markdown(report)
    write_results(args.out, report, text, indent=1, announce=False)
    print(text)
    good = all(row["same_digests"] and row["all_ok"] for row in report["summary"].values())
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
