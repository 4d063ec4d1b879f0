"""Redirects hop by hop, and the trace saved as JSON and loaded back.

Specification, against ``webtrip dns serve`` (lab.test) and ``webtrip web
serve`` (the www test site) on loopback:

* **Redirects are followed.** ``/docs`` answers 301 to ``/docs/``, which
  answers 200: the load ends at ``/docs/`` without error, and each hop is in
  the trace — two document requests, the second one's initiator being the
  first URL, with statuses 301 then 200 — as in the server's access log. The
  narration says where the browser was sent.
* **The trace survives JSON.** ``webtrip browse --json`` prints a trace that
  :meth:`~webtrip.trace.Trace.from_json` loads back, with the same hops; a
  trace saved and loaded again has equal events, field for field.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from support import DATA, ZONES, RunningWebServer, webtrip_dns_server, webtrip_web_server
from webtrip.browser.loader import Browser, PageLoad
from webtrip.browser.stub_resolver import StubResolver
from webtrip.net import Address, RealNetwork
from webtrip.trace import (
    HttpRequestQueued,
    HttpResponseStarted,
    NameResolved,
    PageLoadFinished,
    Trace,
)


@pytest.fixture(scope="module")
def dns_server() -> Iterator[Address]:
    with webtrip_dns_server([ZONES / "lab.test.zone"]) as running:
        yield (running.host, running.port)


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningWebServer]:
    logs = tmp_path_factory.mktemp("logs")
    with webtrip_web_server(DATA / "sites" / "www", log_dir=logs) as running:
        yield running


def docs_url(web: RunningWebServer, path: str = "/docs") -> str:
    return f"http://www.lab.test:{web.port}{path}"


def load(url: str, dns: Address) -> tuple[PageLoad, Trace]:
    async def main() -> tuple[PageLoad, Trace]:
        network = RealNetwork()
        trace = Trace(network.now)
        resolver = StubResolver(network, trace, nameserver=dns, hosts={})
        page = await Browser(network, resolver, trace).load(url)
        return page, trace

    return asyncio.run(main())


def browse(url: str, dns: Address, *options: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "webtrip", "browse", url, "--dns", f"{dns[0]}:{dns[1]}"]
    env = dict(os.environ, NO_COLOR="1", COLUMNS="160")
    return subprocess.run(
        [*command, "--lang", "en", *options], capture_output=True, text=True, timeout=30, env=env
    )


def document_hops(trace: Trace) -> list[tuple[str, str | None, int | None]]:
    """(url, initiator, status) of each document request, in order."""
    statuses = {e.request: e.status for e in trace.of_type(HttpResponseStarted)}
    return [
        (e.url, e.initiator, statuses.get(e.request))
        for e in trace.of_type(HttpRequestQueued)
        if e.kind == "document"
    ]


def test_a_301_is_followed_and_each_hop_is_in_the_trace(dns_server, web):
    first, second = docs_url(web, "/docs"), docs_url(web, "/docs/")
    page, trace = load(first, dns_server)

    assert page.error is None
    assert page.final_url == second
    assert page.document is not None and page.document.title == "Docs"
    assert document_hops(trace) == [(first, None, 301), (second, first, 200)]
    assert len(trace.of_type(NameResolved)) == 1, "one lookup for both hops"
    (finished,) = trace.of_type(PageLoadFinished)
    assert (finished.url, finished.final_url, finished.status) == (first, second, 200)
    # The server writes its log line just after the response leaves: allow it a moment.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        requests = [line.split('"')[1] for line in web.log_lines()[-2:]]
        if requests == ["GET /docs HTTP/1.1", "GET /docs/ HTTP/1.1"]:
            break
        time.sleep(0.02)
    assert requests == ["GET /docs HTTP/1.1", "GET /docs/ HTTP/1.1"]


def test_the_narration_tells_the_redirect(dns_server, web):
    done = browse(docs_url(web), dns_server)

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""
    expected = f"It was sent elsewhere (301): the browser followed to {docs_url(web, '/docs/')}."
    assert expected in done.stdout
    assert "What went wrong" not in done.stdout


def test_the_json_output_loads_back_with_every_hop(dns_server, web):
    done = browse(docs_url(web), dns_server, "--json")

    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    trace = Trace.from_json(done.stdout)
    first = docs_url(web, "/docs")
    assert document_hops(trace) == [(first, None, 301), (docs_url(web, "/docs/"), first, 200)]
    again = Trace.from_json(trace.to_json())
    assert again.events == trace.events
    assert again.to_json() == done.stdout.rstrip("\n")


def test_a_saved_trace_loads_back_with_equal_events(dns_server, web):
    _, trace = load(docs_url(web), dns_server)
    loaded = Trace.from_json(trace.to_json())

    assert len(loaded.events) == len(trace.events) > 10
    for original, copy in zip(trace.events, loaded.events, strict=True):
        assert copy == original, type(original).__name__
    assert loaded.wall_start == trace.wall_start
