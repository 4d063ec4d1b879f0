"""Differential test: webtrip's browser fetches exactly what headless Chromium fetches.

Every page of ``tests/data/chromium-corpus`` (a folder each, its files inside it)
is served by ``webtrip web serve``; Debian's Chromium (fresh profile, headless,
the same viewport and device pixel ratio) loads it, and the server's access log
tells which URLs it asked for; webtrip's browser loads it from the same server.
The two sets of paths must be equal; a failure lists, per page, what webtrip
missed and what it fetched that Chromium did not.

Chromium asks for ``/favicon.ico`` on its own when a page names no icon: it is left
out of the comparison (webtrip models a page's files, not the browser's tab icon; a
page's ``<link rel=icon>`` is fetched by both). Every page keeps its files in its own
folder, so only paths under it count.
Images with ``loading=lazy`` are fetched by both when they are near the viewport;
the corpus keeps its lazy images near the top (webtrip does no layout: see
docs/browser-fidelity.md).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from peers.chromium import CHROMIUM_FLAGS, run_chromium
from support import DATA, RunningWebServer, require_program, webtrip_web_server
from webtrip.browser.loader import Browser, BrowserOptions
from webtrip.browser.media import Screen
from webtrip.browser.stub_resolver import StubResolver
from webtrip.net import RealNetwork
from webtrip.trace import Trace

pytestmark = pytest.mark.peer("chromium")

CORPUS = DATA / "chromium-corpus"
PAGES = sorted(p.name for p in CORPUS.iterdir() if (p / "index.html").is_file())
SCREENS = {"": Screen(1280, 800, 1.0)}  # a page named …-dpr2 or …-narrow is seen otherwise
_LOG = re.compile(r'"GET (?P<target>\S+) HTTP/1\.\d" \d{3} ')


def screen_for(page: str) -> Screen:
    width, height, dpr = 1280, 800, 1.0
    if "dpr2" in page:
        dpr = 2.0
    if "narrow" in page:
        width, height = 400, 800
    return Screen(width, height, dpr)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningWebServer]:
    require_program("chromium")
    with webtrip_web_server(CORPUS, log_dir=tmp_path_factory.mktemp("log")) as running:
        yield running


def paths_logged(server: RunningWebServer, start: int) -> tuple[int, set[str]]:
    lines = server.log_lines() if server.access_log.exists() else []
    found = {m["target"] for line in lines[start:] if (m := _LOG.search(line))}
    return len(lines), found


def chromium_fetches(server: RunningWebServer, page: str, workdir: Path) -> set[str]:
    start, _ = paths_logged(server, 0)
    screen = screen_for(page)
    run = run_chromium(
        workdir,
        f"http://{server.host}:{server.port}/{page}/",
        f"--window-size={screen.width},{screen.height}",
        f"--force-device-scale-factor={screen.dpr:g}",
        "--dump-dom",
        "--virtual-time-budget=2000",  # what is in flight at the load event arrives too
        flags=(*CHROMIUM_FLAGS, "--hide-scrollbars", "--disable-quic"),
    )
    assert run.returncode == 0, run.stderr[-2000:]
    # The server writes a log line once the response is sent: wait until no more come.
    count, found = paths_logged(server, start)
    while True:
        time.sleep(0.3)
        again, found = paths_logged(server, start)
        if again == count:
            break
        count = again
    # Each page's files are in its folder: a late log line of the page before is not this
    # page's (and /favicon.ico, asked for by Chromium on its own, is left out).
    return {path for path in found if path.startswith(f"/{page}/")}


def webtrip_fetches(server: RunningWebServer, page: str) -> set[str]:
    async def load() -> set[str]:
        network = RealNetwork()
        trace = Trace(network.now)
        options = BrowserOptions(screen=screen_for(page), total_timeout=20.0)
        browser = Browser(network, StubResolver(network, trace, hosts={}), trace, options=options)
        loaded = await browser.load(f"http://{server.host}:{server.port}/{page}/")
        return {re.sub(r"^https?://[^/]+", "", f.url) for f in loaded.fetched}

    return asyncio.run(load())


@pytest.mark.parametrize("page", PAGES)
def test_webtrip_fetches_what_chromium_fetches(
    page: str, server: RunningWebServer, tmp_path: Path
) -> None:
    chromium = chromium_fetches(server, page, tmp_path)
    webtrip = webtrip_fetches(server, page)
    missing, extra = sorted(chromium - webtrip), sorted(webtrip - chromium)
    assert not missing and not extra, f"{page}: missing {missing}, extra {extra}"


def test_the_corpus_is_large_enough() -> None:
    assert len(PAGES) >= 30, PAGES
