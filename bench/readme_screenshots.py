"""The README's pictures of ``webtrip ui``, remade from today's app.

    python bench/readme_screenshots.py [--out docs/images] [--loss 5]

Starts ``webtrip ui --no-open`` on a free port of 127.0.0.1 and opens it in the system's
Chromium (headless, Playwright, no browser download), once at 1280×800 and once at 390×844
(a phone). In each it makes a lossy run of the demo lab (``--loss`` percent, the first seed
from 1 whose run lost a packet on a link; the phone opens the same run from the session
list), steps the timeline to the moment that packet
was sent — the network draws it dropped where it was lost, the conversation marks its
arrow, the story highlights the sentence that tells it — and saves
``webtrip-ui-desktop.png`` and ``webtrip-ui-phone.png`` in ``--out``. Prints what it made
(seed, event, files) as JSON. The same lab, loss and seed make the same run, so the
pictures change only when the app does.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


def lossy_run(page: Any, loss: float, seeds: int = 20) -> tuple[int, int]:
    """Run the demo lab with ``loss`` % lost, seed 1, 2…, until a packet is lost on a link;
    its seed and the event that sent that packet."""
    page.locator("#ui-loss").fill(str(loss))
    for seed in range(1, seeds + 1):
        if page.locator("#ui-make > summary").is_visible() and not page.evaluate(
            "document.getElementById('ui-make').open"
        ):
            page.locator("#ui-make > summary").click()
        page.locator("#ui-seed").fill(str(seed))
        page.locator("#ui-run").click()
        while page.evaluate("window.webtripUi.timings.length") < seed:
            time.sleep(0.05)
        sent = page.evaluate(
            "(() => { const f = S.data.flights.find((f) => f.lost !== null);"
            " return f ? f.sent_event : null; })()"
        )
        if sent is not None:
            return seed, int(sent)
    raise SystemExit(f"no packet was lost in {seeds} runs at {loss} % loss")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--loss", type=float, default=5)
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
    made: dict[str, Any] = {}
    options.out.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium"), args=["--no-sandbox"]
            )
            for name, (width, height) in SIZES.items():
                page = browser.new_page(viewport={"width": width, "height": height})
                page.goto(origin.group(0) + "/")
                page.wait_for_function("document.body.dataset.ready === '1'", timeout=60_000)
                if not made:  # the first page makes the run; the next opens it from the list
                    seed, event = lossy_run(page, options.loss)
                else:
                    page.locator(".ui-open").first.click()
                    while not page.evaluate(f"S.data !== null && S.data.run.seed === {seed}"):
                        time.sleep(0.05)
                page.evaluate("window.webtrip.ready()")
                if name == "phone":
                    page.locator("#tab-network").click()
                page.evaluate(f"goEvent({event})")
                page.wait_for_selector("#network .flight.lost")
                page.wait_for_timeout(800)  # the PDU window and the scrolled rows settle
                page.evaluate("document.getElementById('views').scrollIntoView()")
                page.wait_for_timeout(200)
                path = options.out / f"webtrip-ui-{name}.png"
                page.screenshot(path=str(path))
                made[name] = {"file": str(path.relative_to(ROOT)) if path.is_relative_to(ROOT)
                              else str(path), "seed": seed, "event": event}  # fmt: skip
                page.close()
            browser.close()
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(20)
    print(json.dumps({"loss": options.loss, "pictures": made}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
