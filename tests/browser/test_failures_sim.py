"""The slow ways a page load fails, in virtual time: a DNS server that never answers, a web
server that accepts and never answers, one that drips a byte a second.

The same failures as in ``test_failures.py`` — the same exit codes, the same "What went
wrong" sentence, the same bounds on time, in virtual seconds — with the browser as
``webtrip browse`` sets it up (its stub resolver with glibc's patience, the whole load's
``--timeout``), in the simulated world, where waiting costs nothing: the browser on
10.0.0.1, the broken servers on 10.0.0.2, which is also its DNS server. Over real
loopback sockets, ``test_failures.py`` keeps a silent DNS server that the resolver gives
up on (with a short timeout) and a server that never answers (``--timeout 0.5``).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import dns.zone

from support import SENTENCE_AND_DETAILS
from webtrip.browser.errors import DnsFailure, LoadError
from webtrip.browser.loader import Browser, BrowserOptions, PageLoad
from webtrip.browser.stub_resolver import StubResolver
from webtrip.dns.authority import Authority
from webtrip.dns.server import DnsServer
from webtrip.dns.zones import Zone, ZoneSet
from webtrip.net import Address, Network, Stream
from webtrip.netsim.world import SimWorld
from webtrip.report.narration import narrate
from webtrip.trace import Trace

BROWSER, SERVER = "10.0.0.1", "10.0.0.2"
DNS: Address = (SERVER, 53)
WEB_PORT = 80

LAB_ZONE = Zone.from_dnspython(
    dns.zone.from_text(
        f"""\
$TTL 300
@       IN SOA  ns hostmaster 1 3600 600 86400 60
        IN NS   ns
ns      IN A    {SERVER}
www     IN A    {SERVER}
broken  IN A    {SERVER}
""",
        origin="lab.test.",
        relativize=False,
    ),
    "lab.test (simulated)",
)


# --- the broken servers, on 10.0.0.2 -------------------------------------------------------


class SilentDns:
    """A UDP socket on port 53 that reads every DNS query and never answers."""

    def __init__(self) -> None:
        self.received = 0

    async def start(self, network: Network) -> None:
        def ignore(wire: bytes, peer: Address) -> None:
            self.received += 1

        await network.open_udp_endpoint(*DNS, on_datagram=ignore)


Handler = Callable[["BrokenWeb", Stream], Awaitable[None]]


class BrokenWeb:
    """Our DNS server with the lab.test zone, and an HTTP "server" on port 80 that reads a
    request head and then misbehaves as ``handler`` does, counting the body bytes it sends."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.sent: Counter[str] = Counter()

    async def start(self, network: Network) -> None:
        trace = Trace(network.now)  # the servers' own events: not the browser's story
        await DnsServer(network, Authority(ZoneSet([LAB_ZONE])), trace).start([DNS])
        await network.start_tcp_server(self._serve, SERVER, WEB_PORT)

    async def _serve(self, stream: Stream) -> None:
        head = b""
        while b"\r\n\r\n" not in head and (data := await stream.receive_some()):
            head += data
        try:
            await self.handler(self, stream)
        except ConnectionError:
            pass  # the browser left
        finally:
            stream.abort()


async def hang(server: BrokenWeb, stream: Stream) -> None:
    """Accept the request and never answer: wait (at most 30 s) for the client to leave."""
    await asyncio.wait_for(stream.receive_some(1), timeout=30)


SLOW_BODY = (
    b"<!DOCTYPE html><html><head><title>Slowly</title></head>"
    b"<body><h1>Slowly</h1><p>One byte a second.</p></body></html>"
)
SLOW_PAGE = (
    b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n\r\n" % len(SLOW_BODY)
) + SLOW_BODY


async def drip(server: BrokenWeb, stream: Stream) -> None:
    """Send a page one byte per second — each byte keeps the connection alive."""
    for byte in SLOW_PAGE:
        await stream.send_all(bytes([byte]))
        server.sent["/drip"] += 1
        await asyncio.sleep(1)


# --- the browser, as webtrip browse runs it, on 10.0.0.1 ------------------------------------


@dataclass
class Loaded:
    load: PageLoad
    trace: Trace
    seconds: float  # virtual: from the start of the load to its end


def browse(url: str, server: SilentDns | BrokenWeb, *, timeout: float = 60.0) -> Loaded:
    """Load ``url`` as ``webtrip browse URL --dns 10.0.0.2 --timeout TIMEOUT`` does (the
    stub resolver's own defaults: 2 tries of 5 s), after ``server`` started on 10.0.0.2."""
    with SimWorld(seed=1) as world:
        client, host = world.add_host("browser"), world.add_host("server")
        world.connect(client, f"{BROWSER}/24", host, f"{SERVER}/24", latency=0.01)

        async def main() -> tuple[PageLoad, float]:
            await server.start(world.network(host))
            network = world.network(client)
            resolver = StubResolver(network, world.trace, nameserver=DNS, hosts={})
            options = BrowserOptions(total_timeout=timeout)
            started = network.now()
            load = await Browser(network, resolver, world.trace, options=options).load(url)
            return load, network.now() - started

        load, seconds = world.run(main())
    return Loaded(load, world.trace, seconds)


def what_went_wrong(loaded: Loaded) -> str:
    """The error's own message, after checking the narration tells the failure as the
    command line prints it: a "What went wrong" paragraph that is one sentence followed
    by the details in parentheses."""
    (told,) = [p for p in narrate(loaded.trace, "en") if p.heading == "What went wrong"]
    match = SENTENCE_AND_DETAILS.fullmatch(told.text)
    assert match, f"not one sentence and its details: {told.text!r}"
    return match.group("details")


def exit_code(load: PageLoad) -> int:
    error: LoadError | None = load.error
    assert error is not None, "the page loaded"
    return error.exit_code


# --- step 1: DNS -----------------------------------------------------------------------------


def test_a_dns_server_that_never_answers_exits_12_after_its_tries():
    silent = SilentDns()
    loaded = browse("http://www.lab.test/", silent)

    assert isinstance(loaded.load.error, DnsFailure)
    assert exit_code(loaded.load) == 12
    assert "did not answer" in what_went_wrong(loaded)
    assert silent.received == 4, "A and AAAA, two tries each"
    assert 9.5 <= loaded.seconds < 15, "two tries of 5 s (glibc's defaults), then a clear failure"


# --- step 2: the connection --------------------------------------------------------------------


def test_a_server_that_accepts_and_never_answers_exits_14():
    loaded = browse(f"http://broken.lab.test:{WEB_PORT}/hang", BrokenWeb(hang), timeout=2)

    assert exit_code(loaded.load) == 14
    assert "2 s" in what_went_wrong(loaded)
    assert 2 <= loaded.seconds < 6


def test_a_server_that_drips_one_byte_a_second_exits_14_in_bounded_time():
    web = BrokenWeb(drip)
    loaded = browse(f"http://broken.lab.test:{WEB_PORT}/drip", web, timeout=2)

    assert exit_code(loaded.load) == 14
    what_went_wrong(loaded)
    assert 2 <= loaded.seconds < 6, "the whole load's timeout, not the per-read one"
    assert web.sent["/drip"] <= 4
