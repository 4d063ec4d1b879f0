"""Simulation scale, before and after: two versions of webtrip's src/ in turns.

    python bench/sim_scale_ab.py [--before 653ed43] [--after REV] [--rounds 5]
                                 [--sizes 1,10,100,1000] [--seed 1] [...]

On a shared machine two runs of sim_scale.py a minute apart can differ by more than the
change being measured. Here each round runs both versions, in alternating order, each in
a fresh process with its src/ (``git archive``; ``--after`` defaults to the working tree)
first on PYTHONPATH: a warm-up world, then one run of each N and one of netsim alone.
The report gives medians over the rounds, speed-ups, and whether the pcap and packet-log
digests of both versions are the same in every round. Exit status: 0 if every load
succeeded and the digests agree, 1 if not, 2 if the bench cannot run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import harness

BULK = "bulk"
SIDES = ("before", "after")


def child(sizes: list[str], seed: int) -> dict[str, Any]:
    """In the child process: a warm-up, then one run of each size; the figures."""
    import sim_scale  # here: from the src/ on this child's PYTHONPATH

    sim_scale.one_run(10, seed)  # lazy imports and first allocations, not measured
    sim_scale.bulk_run(2, 1 << 16, seed)
    out: dict[str, Any] = {}
    for size in sizes:
        if size == BULK:
            run = sim_scale.bulk_run(sim_scale.BULK_CLIENTS, sim_scale.BULK_BYTES, seed)
            run |= {"ok": run["complete"], "log_sha256": None, "gc_s": None}
        else:
            run = sim_scale.one_run(int(size), seed)
            run["ok"] = not run["failures"]
        keys = ("wall_s", "gc_s", "packets", "ok", "pcap_sha256", "log_sha256")
        out[size] = {key: run[key] for key in keys}
    return out


def run_child(src: Path, sizes: list[str], seed: int) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--child", ",".join(sizes), "--seed", str(seed)]
    done = subprocess.run(argv, env=harness.webtrip_env(src), capture_output=True, text=True)
    if done.returncode:
        return {"error": f"the run of {src} failed: {done.stderr.strip()[-2000:]}"}
    return {"result": json.loads(done.stdout.strip().splitlines()[-1])}


def summary(rounds: list[dict[str, Any]], sizes: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for size in sizes:
        row: dict[str, Any] = {}
        for side in SIDES:
            runs = [r[side][size] for r in rounds]
            wall = statistics.median(r["wall_s"] for r in runs)
            gcs = [r["gc_s"] for r in runs if r["gc_s"] is not None]
            row[side] = {
                "wall_s_median": wall,
                "gc_s_median": statistics.median(gcs) if gcs else None,
                "packets": runs[0]["packets"],
                "packets_per_wall_s": runs[0]["packets"] / wall,
            }
            if size != BULK:
                row[side]["wall_ms_per_browser"] = wall * 1000 / int(size)
        walls = {side: {i: r[side][size]["wall_s"] for i, r in enumerate(rounds)} for side in SIDES}
        row["speed_up"] = harness.paired_ratio(walls["before"], walls["after"])
        digests = {
            (r[s][size]["pcap_sha256"], r[s][size]["log_sha256"]) for r in rounds for s in SIDES
        }
        row["same_digests"] = len(digests) == 1
        row["all_ok"] = all(r[side][size]["ok"] for r in rounds for side in SIDES)
        out[size] = row
    for size, row in out.items():
        for side in SIDES:
            if size != BULK and "10" in out:
                base = out["10"][side]["wall_ms_per_browser"]
                row[side]["per_browser_vs_n10"] = row[side]["wall_ms_per_browser"] / base
    return out


def markdown(report: dict[str, Any]) -> str:
    by_round: dict[int, dict[str, Any]] = {}
    for run in report["runs"]:
        if "result" in run:
            by_round.setdefault(run["round"], {})[run["server"]] = run["result"]
    rounds = [r for r in by_round.values() if len(r) == len(SIDES)]
    if not rounds:
        return "No complete round."
    report["summary"] = summary(rounds, report["args"]["sizes"])
    rows = []
    for size, row in report["summary"].items():
        b, a = row["before"], row["after"]
        per_browser = [
            f"{s['per_browser_vs_n10']:.2f}×" if "per_browser_vs_n10" in s else "" for s in (b, a)
        ]
        gc = ["" if s["gc_s_median"] is None else f"{s['gc_s_median']:.3f}" for s in (b, a)]
        name = "netsim alone" if size == BULK else size
        walls = [f"{b['wall_s_median']:.3f}", f"{a['wall_s_median']:.3f}", f"{b['packets']:,}"]
        rates = [f"{b['packets_per_wall_s']:,.0f}", f"**{a['packets_per_wall_s']:,.0f}**"]
        speed_up = harness.ratio_text(row["speed_up"])
        same = "yes" if row["same_digests"] else "**no**"
        rows.append([name, *walls, *rates, speed_up, *per_browser, *gc, same])
    before, after = report["before"], report["after"]
    lines = [
        f"Run {report['started_at']}, {harness.machine_text(report['versions'])}.",
        "",
        f"`{report['command']}` — before: {before.get('commit') or 'working tree'}, after: "
        f"{after.get('commit') or 'working tree'} (HEAD {after.get('head')}); {len(rounds)} "
        "rounds, each version in turn in its own process; medians over the rounds; speed-up: "
        "of the medians (median of the per-round ones).",
        "",
        "| N | wall s before | after | packets | packets / wall s before | after | speed-up "
        "| per browser vs N=10, before | after | GC s before | after | same digests |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
        harness.noise_text(
            report["runs"], report["discarded_runs"], report["args"]["max_other_load"]
        ),
    ]
    if bad := [size for size, row in report["summary"].items() if not row["all_ok"]]:
        lines += ["", f"**Failed loads or incomplete downloads**: {', '.join(bad)}."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="653ed43", help="git revision (default 653ed43)")
    parser.add_argument("--after", default=None, help="git revision (default: working tree)")
    parser.add_argument("--rounds", type=harness.at_least(1), default=5)
    parser.add_argument("--sizes", default="1,10,100,1000", help="values of N")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    harness.add_options(parser, "sim_scale_ab", rev=False, servers=False)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(child(args.child.split(","), args.seed)))
        return 0
    args.sizes = [s for s in args.sizes.split(",") if s] + [BULK]
    report = harness.start_report("sim_scale_ab", args, argv)
    report |= {"runs": [], "discarded_runs": []}
    with tempfile.TemporaryDirectory(prefix="sim-scale-ab-") as tmp:
        sources = {side: harness.webtrip_source(getattr(args, side), Path(tmp)) for side in SIDES}
        report |= {side: info for side, (_, info) in sources.items()}

        def measure(rnd: int, side: str) -> harness.Run:
            child = harness.metered(lambda: run_child(sources[side][0], args.sizes, args.seed))
            return child() | {"round": rnd, "server": side}

        with harness.saved(report, args.out, markdown):
            harness.run_rounds(report, args, [SIDES], measure, "{result[bulk][wall_s]:.3f} s bulk")
    good = all(row["same_digests"] and row["all_ok"] for row in report["summary"].values())
    return 0 if good and all("result" in run for run in report["runs"]) else 1


if __name__ == "__main__":
    sys.exit(harness.main(main))
