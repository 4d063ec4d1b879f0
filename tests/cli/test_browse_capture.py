"""``webtrip browse --capture``: the real packets of a real load, checked against tshark.

The demo lab's servers run on loopback (IPv4) in this test process; tshark
captures loopback with a filter on the lab's ports, started before the load;
then ``webtrip browse --capture`` loads the page. Every frame of our pcap must
be tshark's frame: the same count, the same bytes, in the same order.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from support import assert_one_clear_sentence, cli_env, require_program
from support import run_webtrip as webtrip
from webtrip.lab import demo_lab
from webtrip.lab.actors import start_servers
from webtrip.lab.capture import completed_checksum
from webtrip.lab.loopback import placement
from webtrip.net import RealNetwork
from webtrip.packets.pcap import read_pcap
from webtrip.report.packets import packet_rows
from webtrip.report.pcap import captured_packets
from webtrip.trace import Trace

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="capturing packets needs root")


@contextmanager
def demo_lab_on_loopback() -> Iterator[tuple[tuple[str, int], str]]:
    """The demo lab's servers on loopback, IPv4 only, in a thread: (resolver, page URL)."""
    ready: list[tuple[tuple[str, int], str]] = []
    started = threading.Event()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def serve() -> None:
        lab = demo_lab()
        network = RealNetwork(mtu=1500)
        servers = await start_servers(lab, placement(lab, network, ipv6=False), Trace(network.now))
        ready.append((servers.nameserver, servers.url(lab)))
        started.set()
        try:
            await stop.wait()
        finally:
            await servers.aclose()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert started.wait(20), "the demo lab did not start"
    try:
        yield ready[0]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)


@contextmanager
def tshark_on_loopback(tshark: str, capture_filter: str, pcap: Path) -> Iterator[None]:
    """tshark capturing loopback into ``pcap`` (classic pcap), from before the block to after."""
    process = subprocess.Popen(
        [tshark, "-n", "-q", "-i", "lo", "-f", capture_filter, "-F", "pcap", "-w", str(pcap)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None
    said = ""
    deadline = time.monotonic() + 20
    while "Capturing on" not in said:
        assert process.poll() is None and time.monotonic() < deadline, said
        if select.select([process.stderr], [], [], 0.1)[0]:
            said += os.read(process.stderr.fileno(), 4096).decode(errors="replace")
    try:
        yield
    finally:
        time.sleep(0.3)  # tshark writes what the kernel has handed it
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=20)


def ethernet_pcap_datagrams(data: bytes) -> list[tuple[float, bytes]]:
    """The IPv4 datagrams of a native-order pcap of Ethernet frames (what tshark -i lo writes)."""
    magic = struct.unpack_from("<I", data)[0]
    order = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    scale = 1e-6 if magic in (0xA1B2C3D4, 0xD4C3B2A1) else 1e-9
    assert struct.unpack_from(order + "I", data, 20)[0] == 1  # LINKTYPE_ETHERNET
    found, offset = [], 24
    while offset < len(data):
        seconds, fraction, kept, _length = struct.unpack_from(order + "IIII", data, offset)
        frame = data[offset + 16 : offset + 16 + kept]
        found.append((seconds + fraction * scale, frame[14:]))
        offset += 16 + kept
    return found


def checksum_verdicts(tshark: str, pcap: Path) -> set[str]:
    """tshark's verdicts on the TCP and UDP checksums of ``pcap`` (it checks them when told)."""
    done = subprocess.run(
        [tshark, "-n", "-r", str(pcap), "-o", "tcp.check_checksum:TRUE",
         "-o", "udp.check_checksum:TRUE", "-T", "fields",
         "-e", "tcp.checksum.status", "-e", "udp.checksum.status"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    names = {"0": "bad", "1": "good", "2": "unverified"}
    return {names[field] for line in done.stdout.splitlines() for field in line.split()}


@needs_root
@pytest.mark.peer("tshark")
def test_browse_capture_holds_every_frame_tshark_captured_of_the_load(tmp_path):
    tshark = require_program("tshark")
    ours, theirs = tmp_path / "browse.pcap", tmp_path / "tshark.pcap"
    with demo_lab_on_loopback() as ((dns_host, dns_port), url):
        web_port = int(url.rsplit(":", 1)[1].strip("/"))
        only_the_load = f"(udp port {dns_port} and host {dns_host}) or tcp port {web_port}"
        with tshark_on_loopback(tshark, only_the_load, theirs):
            done = webtrip(
                "browse", url, "--dns", f"{dns_host}:{dns_port}", "--capture", str(ours),
                "--json",
            )  # fmt: skip
    assert done.returncode == 0, done.stderr
    ours_read = read_pcap(ours.read_bytes())
    theirs_read = ethernet_pcap_datagrams(theirs.read_bytes())
    assert len(ours_read) == len(theirs_read) > 20
    for number, (mine, (stamp, datagram)) in enumerate(zip(ours_read, theirs_read, strict=True), 1):
        # Loopback computes no checksum (the kernel leaves only the pseudo-header's sum,
        # and says so): ours holds the one a receiver checks, every other byte is tshark's.
        assert mine.data == completed_checksum(datagram), f"frame {number} differs"
        assert abs(mine.timestamp - stamp) < 0.005, f"frame {number}'s time differs"
    assert checksum_verdicts(tshark, theirs) == {"bad"}  # what tshark read off loopback
    assert checksum_verdicts(tshark, ours) == {"good"}
    # The trace holds the same packets, as the simulation's do: the browser's, in and out.
    events = json.loads(done.stdout)["events"]
    packets = [e for e in events if e["type"] == "PacketCaptured"]
    assert len(packets) == len(ours_read)
    assert {p["actor"] for p in packets} == {"browser"}
    assert {p["interface"] for p in packets} == {"lo"}
    assert {p["direction"] for p in packets} == {"out", "in"}
    assert [bytes.fromhex(p["data"]) for p in packets] == [p.data for p in ours_read]


@needs_root
def test_browse_capture_shows_the_packets_in_the_same_packet_list_as_a_simulation(tmp_path):
    trace_file = tmp_path / "trace.json"
    with demo_lab_on_loopback() as ((dns_host, dns_port), url):
        done = webtrip(
            "browse", url, "--dns", f"{dns_host}:{dns_port}",
            "--capture", str(tmp_path / "load.pcapng"), "--json",
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    trace_file.write_text(done.stdout)
    trace = Trace.from_json(done.stdout)
    packets = captured_packets(trace, "browser")
    rows = packet_rows((p.t, p.data, None, p.interface) for p in packets)
    infos = [row.info for row in rows]
    assert any("[SYN]" in info for info in infos)
    assert any(info.startswith("GET / HTTP/1.1") for info in infos)
    assert not any(row.mark for row in rows)  # a clean loopback load: nothing sent again
    assert [p.t for p in packets] == sorted(p.t for p in packets)
    assert (tmp_path / "load.pcapng").read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"
    replay = webtrip("report", str(trace_file), "--report", str(tmp_path / "load.html"))
    assert replay.returncode == 0, replay.stderr


def test_browse_capture_without_cap_net_raw_is_refused_in_one_sentence(tmp_path):
    setpriv = "/usr/bin/setpriv"
    if os.geteuid() == 0 and not Path(setpriv).exists():
        pytest.skip("setpriv is needed to drop CAP_NET_RAW")
    prefix = [setpriv, "--bounding-set", "-net_raw", "--"] if os.geteuid() == 0 else []
    command = [sys.executable, "-m", "webtrip", "browse", "http://127.0.0.1:9/"]
    done = subprocess.run(
        [*prefix, *command, "--capture", str(tmp_path / "x.pcap")],
        capture_output=True, text=True, timeout=60, env=cli_env(),
    )  # fmt: skip
    sentence = assert_one_clear_sentence(done, 1)
    assert "--capture needs root or the CAP_NET_RAW capability" in sentence
    assert not (tmp_path / "x.pcap").exists()
