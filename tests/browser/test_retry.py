"""A request on a kept-alive connection the server had closed goes out once more, fresh.

Specification (RFC 9110 §9.2.2, RFC 9112 §9.3.1; what Chromium and Firefox
do): when a *reused* connection closes or is reset before any byte of the
answer, an idempotent request is sent again, once, on a new connection, and
the trace says so (``HttpRequestRetried``); a safe one (GET) also when the
closed connection was new (as Firefox). A second such close is a failure,
"closed the connection before answering" (kind ``connection-failed``) — not a
broken HTTP answer.

Against our web server on loopback (a keep-alive timeout of 0.2 s, waited
out between two requests) and in the simulated world (the same server with
a 1 s keep-alive timeout; the demo lab over a lossy link).
"""

from __future__ import annotations

import asyncio

from support import DATA, webtrip_web_server
from webtrip import lab
from webtrip.browser.errors import ConnectionFailed
from webtrip.browser.loader import Browser, BrowserOptions
from webtrip.browser.stub_resolver import StubResolver
from webtrip.lab import sim as simulated
from webtrip.net import Network, RealNetwork
from webtrip.netsim.world import SimWorld
from webtrip.trace import HttpRequestRetried, HttpRequestSent, Trace
from webtrip.web.server import WebServer, WebServerOptions
from webtrip.web.sites import Site, SiteMap

SITE = DATA / "sites" / "www"


async def two_requests_with_a_pause(
    network: Network, trace: Trace, host: str, port: int, pause: float
) -> list:
    """ "/" then, after ``pause`` (the connection idle in the pool), "/style.css"."""
    resolver = StubResolver(network, trace, hosts={"www.example.test": [host]})
    browser = Browser(network, resolver, trace, options=BrowserOptions())
    base = f"http://www.example.test:{port}"
    try:
        first = await browser._fetch(f"{base}/", "document", None)
        await asyncio.sleep(pause)
        second = await browser._fetch(f"{base}/style.css", "stylesheet", base)
    finally:
        await browser.close()
    return [first, second]


def assert_retried_once_on_a_new_connection(trace: Trace, fetched: list) -> None:
    first, second = fetched
    assert first.error is None and second.error is None, second.error
    assert second.response.status == 200
    assert second.response.body == (SITE / "style.css").read_bytes()
    (retried,) = trace.of_type(HttpRequestRetried)
    assert retried.request == second.request and retried.connection == 1
    assert "before" in retried.message
    sends = [e for e in trace.of_type(HttpRequestSent) if e.request == second.request]
    assert [(s.connection, s.reused) for s in sends] == [(1, True), (2, False)]


def test_a_reused_connection_closed_by_the_servers_keepalive_timeout_is_retried(tmp_path):
    with webtrip_web_server(SITE, extra=["--keepalive-timeout", "0.2"], log_dir=tmp_path) as server:

        async def main():
            network = RealNetwork()
            trace = Trace(network.now)
            fetched = await two_requests_with_a_pause(network, trace, server.host, server.port, 0.6)
            return trace, fetched

        trace, fetched = asyncio.run(main())
    log = server.log_lines()  # complete once the server has stopped

    assert_retried_once_on_a_new_connection(trace, fetched)
    assert len(log) == 2, "the server saw each request once: the first try never reached it"


def test_the_same_retry_in_the_simulated_world():
    demo = lab.demo_lab()
    world = SimWorld(seed=7)
    nodes, _ = simulated.build(world, demo)
    web_address = demo.address_of(demo.web_host)

    async def main():
        options = WebServerOptions(keepalive_timeout=1.0)
        sites = SiteMap([Site.from_folder("", SITE)])
        server = WebServer(world.network(nodes[demo.web_host]), sites, world.trace, options=options)
        await server.start([(web_address, 80)])
        try:
            network = world.network(nodes[demo.browser_host])
            return await two_requests_with_a_pause(network, world.trace, web_address, 80, 2)
        finally:
            await server.aclose()

    fetched = world.run(main())
    world.close()
    assert_retried_once_on_a_new_connection(world.trace, fetched)


def test_a_new_connection_closed_before_answering_is_retried_once_then_a_failure():
    # The request's first six transmissions on a connection are lost (0, 1, 3, 7, 15 and
    # 31 s after the first): the web server closes the new, silent connection after 60 s
    # (its wait for a first request), before the seventh. GET is safe: it goes out once
    # more on a new connection (as Firefox) — and fails if that one fares the same.
    per_connection = [lab.parse_fault("drop", "http-request")] * 6  # each drops the next
    once = simulated.run(lab.demo_lab(), 1, faults=per_connection)
    assert once.load.error is None and once.load.fetched[0].response.status == 200
    (retried,) = once.world.trace.of_type(HttpRequestRetried)
    assert "before" in retried.message

    # Enough for both connections (the first keeps retransmitting its request after the
    # server's FIN, as Linux would: those copies are dropped too).
    twice = simulated.run(lab.demo_lab(), 1, faults=per_connection * 3)
    error = twice.load.error
    assert isinstance(error, ConnectionFailed)
    assert "closed the connection before answering" in str(error)
    assert "broke HTTP" not in str(error)
    assert len(twice.world.trace.of_type(HttpRequestRetried)) == 1
