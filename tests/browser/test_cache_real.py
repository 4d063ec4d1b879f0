"""The browser's conditional requests on real sockets: nginx and webtrip's own server both
answer 304 Not Modified, and the browser uses the copy it kept."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from peers.nginx import nginx_server
from webtrip.browser.loader import Browser, PageLoad
from webtrip.browser.stub_resolver import StubResolver
from webtrip.labs import demo_path
from webtrip.net import RealNetwork
from webtrip.trace import HttpRequestSent, Trace
from webtrip.web.server import WebServer
from webtrip.web.sites import Site, SiteMap

SITE = demo_path() / "site"


def reload_twice(url: str) -> tuple[Trace, list[PageLoad]]:
    async def scenario() -> tuple[Trace, list[PageLoad]]:
        network = RealNetwork()
        trace = Trace(network.now)
        browser = Browser(network, StubResolver(network, trace, hosts={}), trace)
        return trace, [await browser.load(url), await browser.load(url, reload=True)]

    return asyncio.run(asyncio.wait_for(scenario(), 30))


def conditional(trace: Trace) -> list[HttpRequestSent]:
    return [e for e in trace.of_type(HttpRequestSent) if dict(e.headers).get("If-None-Match")]


@pytest.mark.peer("nginx")
def test_nginx_answers_the_browsers_conditional_requests_with_304(tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(SITE, site)
    # no-cache: every file is kept, and asked about again before each use.
    with nginx_server(site, extra_server=("add_header Cache-Control no-cache;",)) as nginx:
        trace, (first, again) = reload_twice(f"http://127.0.0.1:{nginx.port}/")
        lines = nginx.access_lines()
    assert first.error is None and again.error is None
    assert [f.cache for f in again.fetched] == ["revalidated"] * len(first.fetched)
    assert len(conditional(trace)) == len(first.fetched)
    statuses = [line.status for line in lines]
    assert statuses == [200] * len(first.fetched) + [304] * len(first.fetched)
    assert again.document is not None and again.document.title == first.document.title


def test_webtrip_server_answers_the_reloaded_page_with_304(tmp_path: Path) -> None:
    async def scenario() -> tuple[Trace, list[PageLoad]]:
        server = WebServer(RealNetwork(), SiteMap([Site.from_folder("127.0.0.1", SITE)]))
        await server.start([("127.0.0.1", 0)])
        try:
            port = server.addresses[0][1]
            return await asyncio.to_thread(reload_twice, f"http://127.0.0.1:{port}/")
        finally:
            await server.aclose()

    trace, (first, again) = asyncio.run(scenario())
    assert first.error is None and again.error is None
    assert again.main is not None and again.main.cache == "revalidated"
    (asked,) = conditional(trace)  # the page itself; its files were still fresh
    assert dict(asked.headers)["If-Modified-Since"].endswith("GMT")
