"""Real against simulated: the demo lab over Linux's TCP in namespaces, and in netsim.

The real run (``webtrip.lab.namespaces.real_run``) builds the lab as network
namespaces, shapes the browser's link as the lab says (20 ms one way, 10
Mbit/s) and loads the page with the same actors; the simulated run is
``webtrip sim``'s. Both traces are read the same way, and the fidelity table
of docs/fidelity.md is this test's: set WEBTRIP_WRITE_FIDELITY=1 to write the
figures it measured into the page.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from webtrip.lab import demo_lab
from webtrip.lab import namespaces as real
from webtrip.lab.sim import run as simulated_run
from webtrip.packets.dissect import dissect
from webtrip.trace import (
    HttpRequestQueued,
    HttpRequestSent,
    NameLookupStarted,
    NameResolved,
    PacketCaptured,
    PageLoadFinished,
    PageLoadStarted,
    TcpConnectionOpened,
    Trace,
)

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")
DOC = Path(__file__).resolve().parents[2] / "docs" / "fidelity.md"
TIME_TOLERANCE = 0.15
"""How far a real time may be from the simulated one, as a share of the real one."""


@dataclass(frozen=True)
class Figures:
    """What the fidelity table compares, read off one trace."""

    dns: float  # the browser's lookup: asked → answered (s)
    handshake: float  # the median of the browser's connections: SYN → SYN-ACK (s)
    page: float  # the page load: started → finished (s)
    segments: dict[str, int]  # per file: the TCP segments with data the server sent for it
    packets: int  # every packet the browser sent or received
    acks: int  # the browser's segments with no data and no SYN/FIN: pure ACKs


def figures(trace: Trace) -> Figures:
    def first(kind):
        return next(e for e in trace if isinstance(e, kind) and e.actor == "browser")

    dns = first(NameResolved).t - first(NameLookupStarted).t
    opened = [e for e in trace.of_type(TcpConnectionOpened) if e.actor == "browser"]
    # The handshake as the browser's capture saw it (the kernel's timestamps): its SYN
    # out → the SYN-ACK in, per connection; the median.
    syn: dict[int, float] = {}
    handshakes = []
    for packet in trace.of_type(PacketCaptured):
        tcp = dissect(packet.data).tcp if packet.actor == "browser" else None
        if tcp is None or "SYN" not in tcp.flags:
            continue
        if "ACK" not in tcp.flags:
            syn.setdefault(tcp.source_port, packet.t)
        elif tcp.destination_port in syn:
            handshakes.append(packet.t - syn.pop(tcp.destination_port))
    handshake = statistics.median(handshakes)
    page = first(PageLoadFinished).t - first(PageLoadStarted).t
    # Each data segment the server sent belongs to the last request sent on its
    # connection before it arrived (HTTP/1.1, one request at a time), in trace order.
    port_of = {e.connection: e.local[1] for e in opened}
    url_of = {e.request: e.url.split("/", 3)[-1] or "/" for e in trace.of_type(HttpRequestQueued)}
    asking: dict[int, str] = {}  # the browser's port → the file being asked for on it
    segments: dict[str, int] = {}
    packets = acks = 0
    for event in trace:
        if isinstance(event, HttpRequestSent) and event.actor == "browser":
            asking[port_of[event.connection]] = url_of[event.request]
            segments.setdefault(url_of[event.request], 0)
        elif isinstance(event, PacketCaptured) and event.actor == "browser":
            packets += 1
            tcp = dissect(event.data).tcp
            if (tcp is not None and event.direction == "out" and not tcp.payload_size
                    and not {"SYN", "FIN", "RST"} & set(tcp.flags)):  # fmt: skip
                acks += 1
            if tcp is not None and tcp.payload_size and tcp.destination_port in asking:
                segments[asking[tcp.destination_port]] += 1
    return Figures(dns, handshake, page, segments, packets, acks)


REAL_RUNS = 3
"""The real runs the table takes the median of: a machine's other work moves one run's times."""


@needs_root
def test_the_real_run_and_the_simulation_agree_within_the_fidelity_tables_tolerances():
    lab = demo_lab()
    simulated = figures(simulated_run(lab, seed=1).world.trace)
    runs = []
    for _ in range(REAL_RUNS):
        trace, run = real.real_run(lab)
        assert not run.created  # every namespace it made is gone
        runs.append(figures(trace))
        assert runs[-1].segments == simulated.segments  # the same data segments per file

    def median(name: str) -> float:
        return statistics.median(getattr(r, name) for r in runs)

    rows = [
        ("DNS lookup (browser)", simulated.dns, median("dns")),
        ("TCP handshake, SYN → SYN-ACK (median)", simulated.handshake, median("handshake")),
        ("page load", simulated.page, median("page")),
    ]
    if os.environ.get("WEBTRIP_WRITE_FIDELITY"):
        write_table(rows, simulated, runs[0], run.latency_by)
    for name, sim_value, real_value in rows[1:]:
        assert abs(sim_value - real_value) <= TIME_TOLERANCE * real_value, (name, rows)


def write_table(rows, ours: Figures, theirs: Figures, latency_by: str) -> None:
    lines = [
        "<!-- fidelity:begin (written by tests/lab/test_real_vs_sim.py) -->",
        f"Latency made by: `{latency_by}`. Times in milliseconds; Linux's are the median of "
        f"{REAL_RUNS} runs, its packet counts those of the first.",
        "",
        "| step | netsim | Linux | difference | tolerance |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, sim_value, real_value in rows:
        share = (sim_value - real_value) / real_value
        tolerance = "±15 %" if name != rows[0][0] else "(reported)"
        lines.append(f"| {name} | {sim_value * 1000:.1f} | {real_value * 1000:.1f} | "
                     f"{share:+.1%} | {tolerance} |")  # fmt: skip
    for path, count in ours.segments.items():
        lines.append(f"| data segments of {path} | {count} | {theirs.segments.get(path)} | "
                     f"{theirs.segments.get(path, 0) - count:+d} | equal |")  # fmt: skip
    lines.append(f"| packets at the browser (all) | {ours.packets} | {theirs.packets} | "
                 f"{theirs.packets - ours.packets:+d} | (reported) |")  # fmt: skip
    lines.append(f"| pure ACKs the browser sent | {ours.acks} | {theirs.acks} | "
                 f"{theirs.acks - ours.acks:+d} | (reported) |")  # fmt: skip
    lines.append("<!-- fidelity:end -->")
    text = DOC.read_text()
    text = re.sub(r"<!-- fidelity:begin.*?<!-- fidelity:end -->", "\n".join(lines), text,
                  flags=re.S)  # fmt: skip
    DOC.write_text(text)


def our_namespaces() -> set[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    prefix = f"wtr{os.getpid() % 100000}"
    return {line.split()[0] for line in listed.stdout.splitlines() if line.startswith(prefix)}


@needs_root
def test_a_real_run_that_fails_still_removes_every_namespace_it_made(monkeypatch):
    async def broken(*args, **kwargs):
        assert len(our_namespaces()) >= 7  # six hosts, the router (and the delay bridge's)
        raise RuntimeError("the load broke")

    monkeypatch.setattr(real, "run_lab", broken)
    with pytest.raises(RuntimeError, match="the load broke"):
        real.real_run(demo_lab())
    assert our_namespaces() == set()


def test_a_real_run_is_refused_in_one_sentence_without_root(monkeypatch):
    monkeypatch.setattr(real.os, "geteuid", lambda: 1000)
    with pytest.raises(real.NamespacesUnavailable) as refused:
        real.real_run(demo_lab())
    assert refused.value.reason == "root"
