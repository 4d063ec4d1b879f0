"""Scrubbing the replay app through a 10,000-event trace: frame times and the report's size.

The demo's ``--drop synack`` sim is run once and its app data (report/app_data.py) laid
end to end until it holds ``--events`` events (each copy's times, events, flights,
messages, packet rows, files and story shifted after the one before: the shapes the
app meets in a long run). The page (report/html.py) is opened from a file in the
system's Chromium (Playwright, no browser download); in the page, every animation frame
seeks the timeline a little further (``webtrip.seek``) until it has crossed the whole
run in ``--frames`` frames. Reported: the time each frame's update took (script work
measured around the seek, then the frame's interval from requestAnimationFrame's own
timestamps, which include style, layout and paint), p50/p95/max, and the page's size.
Smooth means p95 ≤ 16 ms.

    .venv/bin/python bench/replay_scrub.py [--events 10000] [--frames 300] [--repeat 1]
        [--json FILE]

With ``--repeat N`` the page is opened N times and each figure is the median of the N.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SCRUB = """async (frames) => {
  const end = S.end, work = [], gaps = [];
  let last = 0;
  await new Promise((done) => {
    let k = 0;
    const step = (now) => {
      if (last) gaps.push(now - last);
      last = now;
      const t0 = performance.now();
      webtrip.seek((end * k) / frames);
      work.push(performance.now() - t0);
      if (++k > frames) done(); else requestAnimationFrame(step);
    };
    requestAnimationFrame(step);
  });
  return { work, gaps, events: S.times.length };
}"""


def tiled(data: dict[str, Any], events: int) -> dict[str, Any]:
    """``data`` laid end to end until it has at least ``events`` events."""
    copies = max(1, -(-events // max(1, len(data["events"]))))
    span = float(data["run"]["ended"] or data["events"][-1]["t"]) + 0.01
    out = copy.deepcopy(data)
    for key in ("events", "flights", "messages", "files"):
        out[key] = []
    out["views"] = [{**view, "rows": []} for view in data["views"]]
    out["story"] = [{**part, "sentences": []} for part in data["story"]]
    for k in range(copies):
        shift, n_events, n_flights = k * span, k * len(data["events"]), k * len(data["flights"])
        n_rows = [k * len(view["rows"]) for view in data["views"]]
        for event in data["events"]:
            e = {**event, "i": event["i"] + n_events, "t": event["t"] + shift}
            if "flight" in e:
                e["flight"] += n_flights
            if "message" in e:
                e["message"] += k * len(data["messages"])
            if "packet" in e:
                e["packet"] = [e["packet"][0], e["packet"][1] + n_rows[e["packet"][0]]]
            out["events"].append(e)
        for f in data["flights"]:
            moved = {**f, "sent": f["sent"] + shift}
            for name in ("arrived", "lost"):
                if f[name] is not None:
                    moved[name] = f[name] + shift
            for name in ("sent_event", "arrived_event"):
                if f.get(name) is not None:
                    moved[name] = f[name] + n_events
            out["flights"].append(moved)
        for m in data["messages"]:
            out["messages"].append({**m, "t": m["t"] + shift, "t_end": m["t_end"] + shift,
                                    "events": [i + n_events for i in m["events"]],
                                    "flights": [i + n_flights for i in m["flights"]]})  # fmt: skip
        for v, view in enumerate(data["views"]):
            for row in view["rows"]:
                number = row["number"] + n_rows[v] if row["number"] is not None else None
                out["views"][v]["rows"].append({**row, "number": number})
        for f in data["files"]:
            progress = [[t + shift, size] for t, size in f.get("progress", [])]
            out["files"].append({**f, "started": f["started"] + shift, "progress": progress})
        for part, whole in zip(data["story"], out["story"], strict=True):
            for s in part["sentences"]:
                event = s["event"] + n_events if isinstance(s.get("event"), int) else s.get("event")
                whole["sentences"].append({**s, "t": s["t"] + shift, "event": event})
    out["run"] = {**data["run"], "ended": copies * span}
    return out


def page_of(events: int) -> str:
    from webtrip import lab
    from webtrip.lab import sim
    from webtrip.report.app_data import app_data
    from webtrip.report.html import app_page

    trace = sim.run(lab.demo_lab(), 1, faults=[lab.parse_fault("drop", "synack")]).world.trace
    return app_page(tiled(app_data(trace), events), "en")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def measure(path: Path, frames: int, chromium: str) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            started = time.perf_counter()
            page.goto(path.as_uri())
            page.wait_for_selector("#network svg")
            opened = time.perf_counter() - started
            # every view built (the hidden ones wait for the first frame) before measuring
            page.evaluate("window.webtrip.ready ? window.webtrip.ready() : null")
            page.wait_for_timeout(500)
            result: dict[str, Any] = page.evaluate(SCRUB, frames)
        finally:
            browser.close()
    work, gaps = result["work"], result["gaps"]
    return {
        "events": result["events"],
        "frames": len(work),
        "open_seconds": round(opened, 3),
        "work_ms": {"p50": statistics.median(work), "p95": percentile(work, 95), "max": max(work)},
        "frame_ms": {"p50": statistics.median(gaps), "p95": percentile(gaps, 95), "max": max(gaps)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--json", type=Path, help="write the figures here too")
    parser.add_argument(
        "--repeat", type=int, default=1, help="measure this many times; report each and the median"
    )
    options = parser.parse_args(argv)
    chromium = shutil.which("chromium")
    if chromium is None:
        print("chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "replay.html"
        path.write_text(page_of(options.events), encoding="utf-8")
        runs = [measure(path, options.frames, chromium) for _ in range(max(1, options.repeat))]
        figures = dict(runs[0])
        if len(runs) > 1:
            for key in ("work_ms", "frame_ms"):
                figures[key] = {
                    name: statistics.median(run[key][name] for run in runs)
                    for name in ("p50", "p95", "max")
                }
            figures["each"] = [{"work_ms": r["work_ms"], "frame_ms": r["frame_ms"]} for r in runs]
        figures["report_bytes"] = path.stat().st_size
    text = json.dumps(figures, indent=2)
    print(text)
    if options.json:
        options.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
