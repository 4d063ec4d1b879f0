"""Our browser in a lab made only of third-party servers: NSD and nginx.

NSD serves a zone written here (``lab.test``: ``www`` has an address,
``static`` is an alias for it), nginx serves a copy of the demo site plus a
page of our own, both on free loopback ports. webtrip's Browser (real sockets)
loads ``http://www.lab.test:PORT/`` asking NSD — not /etc/hosts, not the
system's resolver — for every name. Nothing of webtrip's server side takes part.

Checked for each load: no error; every file fetched with 200 and, once the
content coding nginx chose (gzip, chunked) is undone, byte for byte the file on
disk; the DNS messages in the trace went to NSD's port and asked the right
questions; and connection reuse as the trace tells it matches what nginx's own
access log says (the same client ports, connections and request counts).
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dns.message
import dns.rdatatype
import pytest

from peers.nginx import (
    GZIP_EVERYTHING,
    AccessLogLine,
    NginxStartError,
    RunningNginx,
    nginx_server,
)
from peers.nsd import RunningPeer, nsd_server
from support import DATA, demo_page_files, require_program
from webtrip.browser.loader import Browser, BrowserOptions, PageLoad
from webtrip.browser.stub_resolver import StubResolver
from webtrip.labs import demo_path
from webtrip.net import RealNetwork
from webtrip.trace import (
    DnsMessageReceived,
    DnsMessageSent,
    HttpRequestSent,
    NameResolved,
    TcpConnectionOpened,
    Trace,
)

pytestmark = [pytest.mark.peer("nsd"), pytest.mark.peer("nginx")]

ZONE = """\
$ORIGIN lab.test.
$TTL 300
@       IN SOA   ns.lab.test. admin.lab.test. ( 2026112501 3600 600 86400 60 )
        IN NS    ns.lab.test.
ns      IN A     127.0.0.1
www     IN A     127.0.0.1
static  IN CNAME www.lab.test.
"""

WWW = "www.lab.test"
STATIC = "static.lab.test"
DEMO_SITE = demo_path("site")
DEMO_PATHS = demo_page_files()
LOGO = DATA / "sites" / "www" / "img" / "logo.png"

# A page of ours whose parts come from the alias (CNAME) host as well as from www,
# with a stylesheet that @imports a large one (gzip across many reads) and
# points at an image with url().
LAB_PAGE = """\
<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Third-party lab</title>
  <link rel="stylesheet" href="http://{static}:{port}/lab/lab.css">
  <link rel="icon" href="/img/icon.svg">
  <script src="http://{static}:{port}/script.js" defer></script>
</head>
<body>
  <h1>Served by nginx, named by NSD</h1>
  <img src="http://{static}:{port}/lab/logo.png" alt="a logo">
  <img src="../img/four-steps.svg" alt="the four steps">
</body>
</html>
"""
LAB_CSS = """\
@import url("big.css");
body {{ background: url("http://{static}:{port}/img/icon.svg") no-repeat; }}
"""


@dataclass
class Lab:
    nsd: RunningPeer
    nginx: RunningNginx
    site: Path

    @property
    def nameserver(self) -> tuple[str, int]:
        return (self.nsd.host, self.nsd.port)

    def url(self, host: str, path: str) -> str:
        return f"http://{host}:{self.nginx.port}{path}"


def big_stylesheet() -> str:
    """About 450 kB of CSS that gzip shrinks only to about half: even compressed it is
    larger than one read of the browser (64 KiB), so it must arrive in several."""
    rules = [
        f'.rule-{i}::after {{ content: "{hashlib.sha256(str(i).encode()).hexdigest()}"; }}'
        for i in range(6000)
    ]
    return "/* generated for the third-party lab test */\n" + "\n".join(rules) + "\n"


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    require_program("nsd")
    require_program("nginx")
    zone = tmp_path / "lab.test.zone"
    zone.write_text(ZONE)
    site = tmp_path / "site"
    shutil.copytree(DEMO_SITE, site)
    (site / "lab").mkdir()
    shutil.copyfile(LOGO, site / "lab" / "logo.png")
    (site / "lab" / "big.css").write_text(big_stylesheet())
    with nsd_server([zone]) as nsd, nginx_server(site, extra_http=GZIP_EVERYTHING) as nginx:
        port = nginx.port
        (site / "lab" / "index.html").write_text(LAB_PAGE.format(static=STATIC, port=port))
        (site / "lab" / "lab.css").write_text(LAB_CSS.format(static=STATIC, port=port))
        yield Lab(nsd, nginx, site)


def load(lab: Lab, url: str, options: BrowserOptions | None = None) -> tuple[Trace, PageLoad]:
    async def scenario() -> tuple[Trace, PageLoad]:
        network = RealNetwork()
        trace = Trace(network.now)
        resolver = StubResolver(network, trace, nameserver=lab.nameserver, hosts={})
        browser = Browser(network, resolver, trace, options=options or BrowserOptions())
        return trace, await browser.load(url)

    return asyncio.run(asyncio.wait_for(scenario(), 30))


def file_for(lab: Lab, url: str) -> Path:
    path = urllib.parse.urlsplit(url).path
    target = lab.site / path.lstrip("/")
    return target / "index.html" if path.endswith("/") else target


def assert_all_fetched_exactly(lab: Lab, page: PageLoad, expected: set[str]) -> None:
    """No error; every request 200 with the file's exact bytes; each expected URL once."""
    assert page.error is None, f"{page.error}\n{lab.nginx.log()}"
    assert page.document is not None
    problems = []
    for item in page.fetched:
        if item.error is not None or item.response is None:
            problems.append(f"{item.url}: {item.error}")
            continue
        if item.response.status != 200:
            problems.append(f"{item.url}: status {item.response.status}")
            continue
        on_disk = file_for(lab, item.url).read_bytes()
        response = item.response
        # What the browser parses keeps its bytes; anything else streamed through, its
        # decoded size and SHA-256 kept.
        same = response.body == on_disk if response.kept else (
            response.decoded_size == len(on_disk)
            and response.sha256 == hashlib.sha256(on_disk).hexdigest()
        )  # fmt: skip
        if not same:
            problems.append(
                f"{item.url}: {response.decoded_size} bytes decoded "
                f"({response.encoding}), {len(on_disk)} on disk, not the same"
            )
    assert not problems, "\n".join(problems)
    assert sorted(f.url for f in page.fetched) == sorted(expected)


def dns_questions(trace: Trace, server: tuple[str, int]) -> list[tuple[str, str]]:
    """(name, type) of every DNS query the browser sent; all must have gone to ``server``."""
    sent = trace.of_type(DnsMessageSent)
    received = trace.of_type(DnsMessageReceived)
    assert sent, "the browser sent no DNS message"
    assert {e.peer for e in sent} == {server}, "a DNS query went elsewhere than NSD"
    assert {e.peer for e in received} == {server}, "a DNS answer came from elsewhere than NSD"
    assert {e.transport for e in sent} == {"udp"}
    questions = []
    for event in sent:
        message = dns.message.from_wire(event.wire)
        (question,) = message.question
        questions.append(
            (question.name.to_text(omit_final_dot=True), dns.rdatatype.to_text(question.rdtype))
        )
    # Every query was answered, by NSD, with the same ID.
    answered = {dns.message.from_wire(e.wire).id for e in received}
    assert {dns.message.from_wire(e.wire).id for e in sent} <= answered
    return questions


def nginx_lines_of(lab: Lab, trace: Trace, before: int) -> list[AccessLogLine]:
    """nginx's access log lines for this load (the connections the trace opened).

    nginx writes a line once it has finished with the request, which may be just after
    the browser has read the whole response: wait (briefly) for one line per request.
    """
    requests = len(trace.of_type(HttpRequestSent))
    deadline = time.monotonic() + 5.0
    lines = lab.nginx.access_lines()[before:]
    while len(lines) < requests and time.monotonic() < deadline:
        time.sleep(0.01)
        lines = lab.nginx.access_lines()[before:]
    assert len(lines) == requests, f"nginx logged {len(lines)} requests, the trace {requests}"
    ports = {e.local[1] for e in trace.of_type(TcpConnectionOpened)}
    assert {line.remote_port for line in lines} == ports, (
        "nginx saw requests from other client ports than the trace's connections"
    )
    return lines


# --- the demo page -------------------------------------------------------------------


def test_demo_page_from_nginx_with_names_from_nsd(lab: Lab) -> None:
    before = len(lab.nginx.access_lines())
    trace, page = load(lab, lab.url(WWW, "/"))

    assert_all_fetched_exactly(lab, page, {lab.url(WWW, path) for path in DEMO_PATHS})
    assert page.document.title == "How the web works, in four steps"
    # nginx really did compress (so decoding was exercised): text types came gzipped.
    encodings = {urllib.parse.urlsplit(f.url).path: f.response.encoding for f in page.fetched}
    assert encodings["/"] == "gzip"
    assert encodings["/style.css"] == "gzip"

    # Step 1: one name, asked of NSD (A and AAAA), never of anyone else.
    questions = dns_questions(trace, lab.nameserver)
    assert sorted(questions) == [(WWW, "A"), (WWW, "AAAA")]
    (resolved,) = trace.of_type(NameResolved)
    assert resolved.source == "dns"
    assert resolved.server == lab.nameserver
    assert resolved.addresses == ("127.0.0.1",)
    assert resolved.chain == ()

    # Steps 2-3: connection reuse, as the trace tells it and as nginx logged it.
    sent = trace.of_type(HttpRequestSent)
    opened = trace.of_type(TcpConnectionOpened)
    assert len(sent) == len(DEMO_PATHS)
    assert {e.peer for e in opened} == {("127.0.0.1", lab.nginx.port)}
    assert {e.connection for e in sent} == {e.connection for e in opened}
    reused = [e for e in sent if e.reused]
    assert reused, "no request went over an already open connection"
    assert len(opened) == len(sent) - len(reused) < len(sent)

    lines = nginx_lines_of(lab, trace, before)
    assert len(lines) == len(DEMO_PATHS)
    assert {line.status for line in lines} == {200}
    assert {line.http_host for line in lines} == {f"{WWW}:{lab.nginx.port}"}
    assert len({line.connection for line in lines}) == len(opened)
    assert sum(line.connection_requests > 1 for line in lines) == len(reused)


def test_one_connection_carries_the_whole_page(lab: Lab) -> None:
    """With one connection per origin, every request after the first reuses it."""
    before = len(lab.nginx.access_lines())
    trace, page = load(lab, lab.url(WWW, "/"), BrowserOptions(connections_per_origin=1))

    assert_all_fetched_exactly(lab, page, {lab.url(WWW, path) for path in DEMO_PATHS})
    (opened,) = trace.of_type(TcpConnectionOpened)
    sent = trace.of_type(HttpRequestSent)
    assert [e.reused for e in sent] == [False] + [True] * (len(DEMO_PATHS) - 1)
    assert {e.connection for e in sent} == {opened.connection}

    lines = nginx_lines_of(lab, trace, before)
    assert len({line.connection for line in lines}) == 1
    # nginx's $connection_requests: the 1st, 2nd... request on that one connection
    assert sorted(line.connection_requests for line in lines) == list(range(1, len(DEMO_PATHS) + 1))
    assert lines[0].path == "/"


# --- a page whose parts come from an alias (CNAME) ------------------------------------


def test_subresources_from_an_alias_host(lab: Lab) -> None:
    before = len(lab.nginx.access_lines())
    trace, page = load(lab, lab.url(WWW, "/lab/"))

    expected = {
        lab.url(WWW, "/lab/"),
        lab.url(WWW, "/img/icon.svg"),
        lab.url(WWW, "/img/four-steps.svg"),
        lab.url(STATIC, "/lab/lab.css"),
        lab.url(STATIC, "/lab/big.css"),
        lab.url(STATIC, "/lab/logo.png"),
        lab.url(STATIC, "/script.js"),
        lab.url(STATIC, "/img/icon.svg"),
    }
    assert_all_fetched_exactly(lab, page, expected)
    by_path = {urllib.parse.urlsplit(f.url).path: f for f in page.fetched}
    big = by_path["/lab/big.css"]
    assert big.kind == "import" and big.initiator == lab.url(STATIC, "/lab/lab.css")
    assert big.response.encoding == "gzip"
    assert big.response.wire_size > 65536 and big.response.reads > 1
    assert by_path["/lab/logo.png"].response.encoding is None  # nginx does not gzip PNG
    assert by_path["/lab/logo.png"].response.content_type == "image/png"
    # The icon is wanted twice: by the page (from www) and by the CSS (from static):
    # two URLs, so two requests, one per origin.
    kinds = {f.url: f.kind for f in page.fetched}
    assert kinds[lab.url(WWW, "/img/icon.svg")] == "icon"
    assert kinds[lab.url(STATIC, "/img/icon.svg")] == "css-url"

    # Both names were asked of NSD; the alias was followed within NSD's answer.
    questions = dns_questions(trace, lab.nameserver)
    assert sorted(questions) == [(STATIC, "A"), (STATIC, "AAAA"), (WWW, "A"), (WWW, "AAAA")]
    resolved = {e.name: e for e in trace.of_type(NameResolved)}
    assert set(resolved) == {WWW, STATIC}
    assert resolved[STATIC].chain == (WWW,)
    assert resolved[STATIC].canonical == WWW
    assert resolved[STATIC].addresses == ("127.0.0.1",)
    assert resolved[STATIC].server == lab.nameserver

    # Each origin has its own connections; nginx saw the Host header of each.
    opened = {e.connection for e in trace.of_type(TcpConnectionOpened)}
    sent = trace.of_type(HttpRequestSent)
    assert len(sent) == len(expected)
    assert {e.connection for e in sent} == opened
    lines = nginx_lines_of(lab, trace, before)
    assert {line.status for line in lines} == {200}
    hosts_by_path = {}
    for line in lines:
        hosts_by_path.setdefault(line.path, set()).add(line.http_host.split(":")[0])
    assert hosts_by_path["/lab/"] == {WWW}
    assert hosts_by_path["/lab/big.css"] == {STATIC}
    assert hosts_by_path["/lab/logo.png"] == {STATIC}
    assert hosts_by_path["/img/four-steps.svg"] == {WWW}
    assert hosts_by_path["/img/icon.svg"] == {WWW, STATIC}
    # A connection carries one origin only: no nginx connection saw two Host headers.
    per_connection: dict[int, set[str]] = {}
    for line in lines:
        per_connection.setdefault(line.connection, set()).add(line.http_host)
    assert all(len(names) == 1 for names in per_connection.values())


# --- the peer itself ------------------------------------------------------------------


def test_nginx_peer_says_why_it_did_not_start(tmp_path: Path) -> None:
    require_program("nginx")
    with (
        pytest.raises(NginxStartError, match="no_such_directive"),
        nginx_server(tmp_path, extra_server=["no_such_directive on;"]),
    ):
        pass
