"""Our DNS server, web server and browser, unchanged, on simulated hosts over simulated TCP."""

from __future__ import annotations

import asyncio
import errno
import json
import random
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from support import demo_page_files, require_program, same_body
from webtrip.browser.loader import Browser, BrowserOptions, PageLoad
from webtrip.browser.stub_resolver import StubResolver
from webtrip.dns.authority import Authority
from webtrip.dns.client import make_query
from webtrip.dns.server import DnsServer
from webtrip.dns.zones import ZoneSet, load_zone
from webtrip.labs import demo_path
from webtrip.net import RealNetwork, Stream
from webtrip.netsim.host import Host
from webtrip.netsim.stream import SimStream
from webtrip.netsim.world import SimWorld
from webtrip.packets.dissect import dissect
from webtrip.report.narration import narrate
from webtrip.web.server import WebServer
from webtrip.web.sites import Site, SiteMap

CLIENT_IP = "10.0.0.1"
SERVER_IP = "10.0.0.2"
BROWSER_IP, DNS_IP, WEB_IP = "10.0.0.1", "10.0.0.2", "10.0.0.3"
SITE = demo_path("site")
DEMO_FILES = demo_page_files()


# --- a raw stream against our web server ----------------------------------------------


async def read_all(stream: Stream) -> bytes:
    received = bytearray()
    while data := await stream.receive_some():
        received += data
    return bytes(received)


def test_a_megabyte_crosses_a_10_mbit_link_byte_exact_in_theoretical_time(world, pair, tmp_path):
    payload = bytes((i * 7 + i // 251) % 256 for i in range(1 << 20))
    (tmp_path / "big.bin").write_bytes(payload)
    client, server, _ = pair(latency=0.020, bandwidth=10e6)
    web = WebServer(world.network(server), SiteMap([Site.from_folder("", tmp_path)]), world.trace)

    async def fetch() -> tuple[bytes, SimStream]:
        await web.start([(SERVER_IP, 80)])
        stream = await world.network(client).open_tcp_stream(SERVER_IP, 80)
        await stream.send_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        reply = await read_all(stream)
        await stream.aclose()
        assert isinstance(stream, SimStream)
        return reply, stream

    reply, stream = world.run(fetch())
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert body == payload
    # Handshake (1 RTT), request (½ RTT), then 1 MB in 1460-byte segments, each
    # carrying 40 bytes of headers, at 10 Mbit/s, plus the last one's ½ RTT.
    wire = len(reply) / 1460 * 1500 * 8 / 10e6
    theory = 0.040 + 0.020 + wire + 0.020
    assert theory <= world.now() < theory * 1.25
    info = stream.tcp_info()
    assert info.bytes_received == len(reply)
    assert info.retransmissions == 0
    assert info.mss_out == info.mss_in == 1460
    assert info.rtt >= 0.040


def test_the_mss_comes_from_the_links_mtu(world, pair):
    client, server, _ = pair(latency=0.001, mtu=576)

    async def handler(stream: Stream) -> None:
        await stream.send_all(bytes(5000))
        await stream.aclose()

    async def main() -> SimStream:
        await world.network(server).start_tcp_server(handler, SERVER_IP, 80)
        stream = await world.network(client).open_tcp_stream(SERVER_IP, 80)
        assert len(await read_all(stream)) == 5000
        assert isinstance(stream, SimStream)
        return stream

    assert world.run(main()).tcp_info().mss_out == 536
    assert not world.packets.drops()


# --- streams behave as RealStream -----------------------------------------------------


def test_a_closed_port_refuses_the_connection_with_a_reset(world, pair):
    client, _, _ = pair(latency=0.010)
    with pytest.raises(ConnectionRefusedError) as caught:
        world.run(world.network(client).open_tcp_stream(SERVER_IP, 81))
    assert caught.value.errno == errno.ECONNREFUSED
    assert world.now() == pytest.approx(0.020)
    flags = [dissect(r.data).tcp.flags for r in world.capture() if dissect(r.data).tcp]
    assert flags == [("SYN",), ("RST", "ACK")]


def test_an_unanswered_syn_times_out(world, pair):
    client, _, _ = pair(loss=1.0)

    async def connect() -> None:
        async with asyncio.timeout(5):
            await world.network(client).open_tcp_stream(SERVER_IP, 80)

    with pytest.raises(TimeoutError):
        world.run(connect())
    assert not client.tcp_connections  # the attempt was aborted, the port freed


def test_abort_resets_and_the_peer_reads_connection_reset(world, pair):
    client, server, _ = pair(latency=0.005)
    seen: list[BaseException | bytes] = []

    async def handler(stream: Stream) -> None:
        try:
            seen.append(await stream.receive_some())
            seen.append(await stream.receive_some())
        except ConnectionError as exc:
            seen.append(exc)

    async def main() -> None:
        await world.network(server).start_tcp_server(handler, SERVER_IP, 80)
        stream = await world.network(client).open_tcp_stream(SERVER_IP, 80)
        await stream.send_all(b"hello")
        await asyncio.sleep(0.1)
        stream.abort()
        await asyncio.sleep(0.1)
        with pytest.raises(ConnectionError):
            await stream.send_all(b"more")

    world.run(main())
    assert seen[0] == b"hello"
    assert isinstance(seen[1], ConnectionResetError)
    assert not client.tcp_connections and not server.tcp_connections


def test_a_slow_reader_holds_the_sender_back_and_loses_nothing(world, pair):
    client, server, _ = pair(latency=0.010, bandwidth=100e6)
    payload = bytes(i % 253 for i in range(2_000_000))
    progress: list[float] = []

    async def handler(stream: Stream) -> None:
        for start in range(0, len(payload), 100_000):
            await stream.send_all(payload[start : start + 100_000])
            progress.append(world.now())
        await stream.aclose()

    async def main() -> bytes:
        await world.network(server).start_tcp_server(handler, SERVER_IP, 80)
        stream = await world.network(client).open_tcp_stream(SERVER_IP, 80)
        await asyncio.sleep(2.0)  # nobody reads: the windows fill up
        stalled = len(progress)
        received = await read_all(stream)
        assert stalled < 5  # 2 MB did not fit in the buffers
        return received

    assert world.run(main()) == payload


def test_a_half_closed_stream_still_receives(world, pair):
    client, server, _ = pair(latency=0.005)

    async def echo_after_eof(stream: Stream) -> None:
        request = await read_all(stream)
        await stream.send_all(request.upper())
        await stream.aclose()

    async def main() -> bytes:
        await world.network(server).start_tcp_server(echo_after_eof, SERVER_IP, 7)
        stream = await world.network(client).open_tcp_stream(SERVER_IP, 7)
        await stream.send_all(b"shout")
        assert isinstance(stream, SimStream)
        stream.connection.close()  # FIN, but keep reading (shutdown(SHUT_WR))
        return await read_all(stream)

    assert world.run(main()) == b"SHOUT"


# --- randomness: the world's in the simulation, the OS's in the real world -------------


def test_dns_query_ids_come_from_the_networks_random_source(world, pair):
    client, _, _ = pair()
    network = world.network(client)
    assert network.random is world.rng
    assert isinstance(RealNetwork.random, random.SystemRandom)
    ids = [make_query("www.example.test", rng=random.Random(5)).id for _ in range(2)]
    assert ids[0] == ids[1] == random.Random(5).getrandbits(16)


# --- the demo lab, each actor on its own host -------------------------------------------


@dataclass
class Lab:
    world: SimWorld
    browser: Host
    dns: Host
    web: Host
    load: PageLoad


def demo_zone() -> ZoneSet:
    """The demo zone: it has the lab's addresses (IPv4 only: the simulated network has none)."""
    return ZoneSet([load_zone(demo_path("zones", "webtrip.test.zone"))])


def build_lab(world: SimWorld, **link_options) -> tuple[Host, Host, Host]:
    """Three hosts on one router, 10 ms a hop (``link_options`` on the browser's link)."""
    router = world.add_router("router")
    hosts = []
    for number, name in ((1, "browser"), (2, "dns"), (3, "web")):
        host = world.add_host(name)
        options = {"latency": 0.010, "bandwidth": 100e6}
        if name == "browser":
            options |= link_options
        world.connect(host, f"10.0.0.{number}/24", router, f"10.0.0.{250 + number}/24", **options)
        router.add_route(f"10.0.0.{number}/32", router.interfaces[-1])
        hosts.append(host)
    return hosts[0], hosts[1], hosts[2]


def run_demo_lab(seed: int, tmp_path: Path, *, dns_attempts: int = 2, **link_options) -> Lab:
    """The demo lab in a world of ``seed``: start the servers, load the page, stop them."""
    world = SimWorld(seed=seed)
    browser_host, dns_host, web_host = build_lab(world, **link_options)
    trace = world.trace

    async def main() -> PageLoad:
        dns_server = DnsServer(world.network(dns_host), Authority(demo_zone()), trace)
        web_server = WebServer(
            world.network(web_host), SiteMap([Site.from_folder("", SITE)]), trace
        )
        await dns_server.start([(DNS_IP, 53)])
        await web_server.start([("0.0.0.0", 80)])
        network = world.network(browser_host)
        resolver = StubResolver(
            network, trace, nameserver=(DNS_IP, 53), hosts={}, attempts=dns_attempts
        )
        browser = Browser(network, resolver, trace, options=BrowserOptions(total_timeout=60))
        try:
            return await browser.load("http://www.webtrip.test/")
        finally:
            await web_server.aclose()
            await dns_server.aclose()

    load = world.run(main())
    world.close()
    return Lab(world, browser_host, dns_host, web_host, load)


def assert_all_files_arrived(load: PageLoad) -> None:
    assert load.error is None
    paths = sorted(f.url.removeprefix("http://www.webtrip.test") for f in load.fetched)
    assert paths == sorted(DEMO_FILES)
    for fetched in load.fetched:
        assert fetched.error is None and fetched.response is not None
        assert fetched.response.status == 200
        name = fetched.url.removeprefix("http://www.webtrip.test/") or "index.html"
        assert same_body(fetched.response, (SITE / name).read_bytes()), fetched.url


def test_the_demo_lab_loads_in_the_simulated_world(tmp_path):
    lab = run_demo_lab(1, tmp_path)
    assert_all_files_arrived(lab.load)
    story = narrate(lab.world.trace)
    text = " ".join(f"{p.heading} {p.text}" for p in story)
    assert WEB_IP in text and "www.webtrip.test" in text
    assert lab.world.packets.drops() == []  # no loss, no RST, no stray packet


@pytest.mark.parametrize("seed", [1, 2, 3, 10])
def test_the_page_arrives_whole_over_a_lossy_reordering_link(tmp_path, seed):
    # TCP recovers every loss by itself; a DNS question over UDP is lost both
    # times in ~7 % of runs at this loss rate (seed 10 is one), so the resolver
    # is allowed more tries here.
    started = time.monotonic()
    lab = run_demo_lab(seed, tmp_path, dns_attempts=5, loss=0.10, reorder=0.10, reorder_delay=0.005)
    assert_all_files_arrived(lab.load)
    assert any(r.reason == "lost on the link" for r in lab.world.packets.drops())
    assert time.monotonic() - started < 10


def test_the_same_seed_gives_the_same_packets_pcap_and_trace(tmp_path, monkeypatch):
    def wall_clock() -> float:
        raise AssertionError("the simulation read the wall clock")

    first = run_demo_lab(7, tmp_path, loss=0.05)
    # The second run must not need the wall clock at all.
    for name in ("time", "monotonic", "perf_counter", "time_ns", "monotonic_ns"):
        monkeypatch.setattr(time, name, wall_clock)
    try:
        second = run_demo_lab(7, tmp_path, loss=0.05)
    finally:
        monkeypatch.undo()
    assert first.world.packets.records == second.world.packets.records
    assert first.world.pcap(at=first.browser) == second.world.pcap(at=second.browser)
    assert first.world.pcap() == second.world.pcap()
    assert first.world.trace.to_json() == second.world.trace.to_json()
    assert json.loads(first.world.trace.to_json())  # and it is a real trace
    other = run_demo_lab(8, tmp_path, loss=0.05)
    assert other.world.pcap() != first.world.pcap()


@pytest.mark.peer("tshark")
def test_tshark_reads_the_simulated_capture(tmp_path):
    tshark = require_program("tshark")
    lab = run_demo_lab(1, tmp_path)
    pcap = tmp_path / "browser.pcap"
    lab.world.write_pcap(pcap, at=lab.browser)

    def fields(display_filter: str, *names: str) -> list[str]:
        command = [tshark, "-n", "-r", str(pcap), "-Y", display_filter, "-T", "fields"]
        for name in names:
            command += ["-e", name]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
        return done.stdout.splitlines()

    assert fields("_ws.malformed || _ws.expert.severity == error", "frame.number") == []
    queries = fields("dns.flags.response == 0", "dns.qry.name")
    answers = fields("dns.flags.response == 1 && dns.a", "dns.a")
    assert "www.webtrip.test" in queries and WEB_IP in answers
    handshake = fields("tcp.port == 80 && tcp.flags.syn == 1", "tcp.flags.ack")
    assert handshake[:2] == ["False", "True"] or handshake[:2] == ["0", "1"]
    requests = fields("http.request", "http.request.uri")
    assert sorted(requests) == sorted(DEMO_FILES)
    assert len(fields("http.response.code == 200", "frame.number")) == len(DEMO_FILES)
    assert fields("tcp.analysis.flags && !tcp.analysis.window_update", "frame.number") == []
