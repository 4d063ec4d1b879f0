"""The web server's waits in virtual time: a first request may be slow to come, as on a
lossy path, and is still answered; between requests the keep-alive timeout applies."""

from __future__ import annotations

import asyncio

from webtrip.labs import demo_path
from webtrip.netsim.world import SimWorld
from webtrip.web.server import WebServer, WebServerOptions
from webtrip.web.sites import Site, SiteMap

CLIENT, SERVER = "10.9.0.1", "10.9.0.2"
REQUEST = b"GET / HTTP/1.1\r\nHost: www.webtrip.test\r\n\r\n"


async def _exchange(world: SimWorld, client, server, wait: float, again: float) -> list[bytes]:
    """Connect, wait ``wait`` s, GET /, wait ``again`` s, GET / again; what came back."""
    site = SiteMap([Site.from_folder("", demo_path("site"))])
    web = WebServer(world.network(server), site, world.trace, options=WebServerOptions())
    await web.start([(SERVER, 80)])
    stream = await world.network(client).open_tcp_stream(SERVER, 80)
    answers = []
    try:
        for pause in (wait, again):
            await asyncio.sleep(pause)
            try:
                await stream.send_all(REQUEST)
                answers.append(await stream.receive_some())
            except ConnectionError:
                answers.append(b"")
    finally:
        stream.abort()
        await web.aclose()
    return answers


def _world() -> tuple[SimWorld, object, object]:
    world = SimWorld(seed=1)
    client, server = world.add_host("client"), world.add_host("server")
    world.connect(client, f"{CLIENT}/24", server, f"{SERVER}/24", latency=0.01)
    return world, client, server


def test_a_first_request_after_40_s_is_answered_as_nginx_would():
    world, client, server = _world()
    with world:
        first, _ = world.run(_exchange(world, client, server, wait=40.0, again=1.0))
    assert first.startswith(b"HTTP/1.1 200 OK")


def test_a_connection_idle_past_the_keepalive_timeout_after_a_request_is_closed():
    world, client, server = _world()
    with world:
        first, second = world.run(_exchange(world, client, server, wait=0.0, again=20.0))
    assert first.startswith(b"HTTP/1.1 200 OK")
    assert second == b""  # closed after 15 s idle: end of stream (or reset)
