"""bench/hostile runs: one attack, --quick, against webtrip only (no peer), in seconds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_dns_pipeline_attack_runs_quick_against_webtrip_and_reports_memory(tmp_path):
    out = tmp_path / "hostile.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    argv = [sys.executable, "-m", "bench.hostile", "dns-pipeline", "--quick", "--no-peers"]
    done = subprocess.run(
        [*argv, "--json", "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report == json.loads(out.read_text())  # --json prints what it saves
    assert report["peers"] == "none (--no-peers)"
    rows = {row["server"]: row for row in report["rows"]}
    assert set(rows) == {"webtrip-dns", "webtrip-resolver"}  # the authoritative and the resolver
    for row in rows.values():
        assert row["attack"] == "dns-pipeline" and row["alive"]
        assert row["attackers"] == 16 and row["attack_bytes"] > 0
        assert row["honest_ok"] + row["honest_failed"] > 0
        assert 0 <= row["honest_pct"] <= 100
        # Memory read from /proc: a Python server holds tens of MB; the peak is a peak.
        assert 10 < row["rss_before_mb"] <= row["peak_mb"]
        assert 10 < row["rss_after_mb"] <= row["peak_mb"]
    assert "| dns-pipeline | webtrip-dns |" in out.with_suffix(".md").read_text()


def test_an_unknown_attack_is_one_sentence_and_exit_status_2():
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    done = subprocess.run(
        [sys.executable, "-m", "bench.hostile", "teardrop"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 2
    assert "unknown attack teardrop" in done.stderr and "Traceback" not in done.stderr
