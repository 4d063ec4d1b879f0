"""The page's own status is what the load reports, whatever its sub-resources got."""

from __future__ import annotations

import asyncio
import shutil

from support import DATA, webtrip_web_server
from webtrip.browser.loader import Browser
from webtrip.browser.stub_resolver import StubResolver
from webtrip.net import RealNetwork
from webtrip.trace import PageLoadFinished, Trace


def test_a_missing_image_does_not_change_the_pages_status(tmp_path):
    site = tmp_path / "site"
    shutil.copytree(DATA / "sites" / "www", site)
    page = site / "index.html"
    page.write_text(
        page.read_text().replace("</body>", '<img src="/missing.png" alt="gone"></body>')
    )

    with webtrip_web_server(site, log_dir=tmp_path) as server:

        async def load():
            network = RealNetwork()
            trace = Trace(network.now)
            resolver = StubResolver(network, trace, hosts={"www.example.test": [server.host]})
            browser = Browser(network, resolver, trace)
            return trace, await browser.load(f"http://www.example.test:{server.port}/")

        trace, result = asyncio.run(load())

    assert result.error is None
    statuses = {f.url.rsplit("/", 1)[-1]: f.response.status for f in result.fetched}
    assert statuses["missing.png"] == 404 and statuses[""] == 200
    (finished,) = trace.of_type(PageLoadFinished)
    assert finished.status == 200
