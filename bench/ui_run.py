"""``webtrip ui``: from pressing Run to the run drawn, for the demo lab, in headless Chromium.

    python bench/ui_run.py [--runs 20] [--loss 5] [--no-subprocess]

Starts ``webtrip ui --no-open`` on a free port of 127.0.0.1, opens the page in the system's
Chromium (Playwright, no browser download), and presses Run ``--runs`` times (seeds 1…N,
the demo lab, ``--loss`` percent lost). For each run the page records, from its POST:
``done`` (the run's data fetched) and ``drawn`` (two animation frames after
``webtrip.load``: the first frame with the run on screen), and the page's own Performance
API marks, from the same POST: ``webtrip:data`` (the run's data fetched and parsed) and
``webtrip:first-frame`` (the frame that drew it painted) — their difference is the page's
share (building the views on screen, style, layout, paint). The server's own split — the
simulated run, building the app's data (its first part, and the rest made after it was
sent) — comes from ``GET /api/runs``. For comparison it
also times ``webtrip sim --json`` as a subprocess, the way a server that shelled out would
make each run. Prints the figures (ms: median and p95) as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median": round(statistics.median(ordered), 1), "p95": round(p95, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--loss", type=float, default=5)
    parser.add_argument(
        "--no-subprocess", action="store_true", help="skip timing `webtrip sim --json` alone"
    )
    options = parser.parse_args()
    from playwright.sync_api import sync_playwright

    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    server = subprocess.Popen(
        [sys.executable, "-m", "webtrip", "ui", "--no-open"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    assert server.stdout is not None
    origin = re.search(r"http://[0-9.:]+", server.stdout.readline())
    assert origin is not None
    try:
        time.sleep(6)  # the worker process warms up (imports, a first run)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium"), args=["--no-sandbox"]
            )
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(origin.group(0) + "/")
            while page.evaluate("document.body.dataset.ready") != "1":
                time.sleep(0.05)
            page.locator("#ui-loss").fill(str(options.loss))
            for seed in range(1, options.runs + 1):
                if seed > 1:
                    page.locator("#ui-make > summary").click()
                page.locator("#ui-seed").fill(str(seed))
                page.locator("#ui-run").click()
                while page.evaluate("window.webtripUi.timings.length") < seed:
                    time.sleep(0.01)
            timings = page.evaluate("window.webtripUi.timings")
            browser.close()
        runs = json.loads(
            subprocess.run(["curl", "-s", origin.group(0) + "/api/runs"], capture_output=True,
                           check=True).stdout
        )["runs"]  # fmt: skip
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(20)
    shelled = []
    for seed in range(1, 1 if options.no_subprocess else 4):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "webtrip", "sim", "--json", "--seed", str(seed), "--loss",
             f"{options.loss}%"], env=env, capture_output=True, check=False,
        )  # fmt: skip
        shelled.append((time.perf_counter() - started) * 1000)
    figures: dict[str, object] = {
        "runs": options.runs,
        "post_to_done_ms": percentiles([t["done"] for t in timings]),
        "post_to_first_frame_ms": percentiles([t["drawn"] for t in timings]),
    }
    if all(t.get("frame") is not None for t in timings):  # the page's Performance API marks
        figures |= {
            "mark_data_ms": percentiles([t["data"] for t in timings]),
            "mark_first_frame_ms": percentiles([t["frame"] for t in timings]),
            "page_data_to_first_frame_ms": percentiles([t["frame"] - t["data"] for t in timings]),
        }
    figures |= {
        "server_run_ms": percentiles([r["timings"]["run"] * 1000 for r in runs]),
        "server_app_data_ms": percentiles([r["timings"]["data"] * 1000 for r in runs]),
    }
    if all("rest" in r["timings"] for r in runs):  # the second part, made after the first
        figures["server_rest_ms"] = percentiles([r["timings"]["rest"] * 1000 for r in runs])
    if shelled:
        figures["webtrip_sim_json_subprocess_ms"] = percentiles(shelled)
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
