"""The actors' ceiling: how fast sim_scale's page loads could be if the network cost nothing.

    python bench/sim_ceiling.py [--n 100] [--rounds 5] [--seed 1] [...]

``bench/sim_scale.py`` measures N simulated browsers loading the demo site in one
``SimWorld``: its wall time is the simulator's work (packets, links, the router, TCP)
plus the actors' (the DNS server, the web server, the browsers — h11, dnspython,
selectolax, tinycss2 — and asyncio's task switches). This bench runs the *same* actors,
with the same options, zone and site, on the same virtual-time loop, but on a
:class:`FreeNetwork`: a ``webtrip.net.Network`` whose streams and datagrams go straight
from one actor's buffer to the other's with no packets, headers, checksums, latency or
congestion control. Its wall time is what the actors alone cost, so

    ceiling = packets of the sim_scale run / wall time of the free run

is the most simulated packets per wall second that *any* simulator could reach with
these actors in this Python: the simulator's share of the time would have to be zero.

Each round runs, in alternating order, sim_scale's ``one_run(N)`` and the free run with
the same N; medians over the rounds. Every load must succeed in both (5 files, all
200), else exit status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import statistics
import sys
import time
from collections import deque
from typing import Any

import harness
import sim_scale
from webtrip.net import DatagramEndpoint, DatagramHandler, Network, Stream, StreamHandler
from webtrip.net.base import Address, TcpListener
from webtrip.netsim.clock import VirtualClockLoop
from webtrip.netsim.world import EPOCH, GC_THRESHOLDS
from webtrip.trace import Trace

EPHEMERAL = 49152


class FreeFabric:
    """Who listens where: the whole free network (one per run)."""

    def __init__(self, seed: int, loop: asyncio.AbstractEventLoop, epoch: float) -> None:
        self.loop = loop
        self.epoch = epoch
        self.random = random.Random(seed)
        self.listeners: dict[Address, tuple[StreamHandler, set[asyncio.Task[None]]]] = {}
        self.endpoints: dict[Address, FreeEndpoint] = {}
        self.next_port = EPHEMERAL

    def port(self) -> int:
        self.next_port += 1
        return self.next_port


class FreeStream(Stream):
    """One end of a connection; bytes sent appear at the other end at once."""

    def __init__(self, local: Address, peer: Address) -> None:
        self.local_address, self.peer_address = local, peer
        self.other: FreeStream | None = None
        self.buffer = bytearray()
        self.eof = False
        self.reset = False
        self.waiter: asyncio.Future[None] | None = None

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def receive_some(self, max_bytes: int = 65536) -> bytes:
        while not self.buffer and not self.eof:
            if self.reset:
                raise ConnectionResetError("the peer reset the connection")
            self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter
        if self.reset and not self.buffer:
            raise ConnectionResetError("the peer reset the connection")
        data = bytes(self.buffer[:max_bytes])
        del self.buffer[:max_bytes]
        return data

    async def send_all(self, data: bytes) -> None:
        other = self.other
        if other is None or self.reset:
            raise ConnectionResetError("the connection is gone")
        other.buffer += data
        other._wake()

    async def aclose(self) -> None:
        if self.other is not None:
            self.other.eof = True
            self.other._wake()

    def abort(self) -> None:
        if self.other is not None:
            self.other.reset = True
            self.other._wake()


class FreeListener(TcpListener):
    def __init__(self, fabric: FreeFabric, address: Address) -> None:
        self.fabric, self.addresses = fabric, [address]

    async def aclose(self) -> None:
        self.fabric.listeners.pop(self.addresses[0], None)


class FreeEndpoint(DatagramEndpoint):
    def __init__(self, fabric: FreeFabric, local: Address, handler: DatagramHandler | None):
        self.fabric, self.local_address, self.handler = fabric, local, handler
        self.queue: deque[tuple[bytes, Address]] = deque()
        self.waiter: asyncio.Future[None] | None = None

    def send(self, data: bytes, to: Address) -> None:
        target = self.fabric.endpoints.get(to)
        if target is not None:  # as UDP: no one there, the datagram is lost
            self.fabric.loop.call_soon(target.deliver, data, self.local_address)

    def deliver(self, data: bytes, source: Address) -> None:
        if self.handler is not None:
            self.handler(data, source)
            return
        self.queue.append((data, source))
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def receive(self) -> tuple[bytes, Address]:
        while not self.queue:
            self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter
        return self.queue.popleft()

    def close(self) -> None:
        self.fabric.endpoints.pop(self.local_address, None)


class FreeNetwork(Network):
    """The network as seen from the host with address ``ip``: free and instant."""

    name = "free"

    def __init__(self, fabric: FreeFabric, ip: str) -> None:
        self.fabric, self.ip, self.random = fabric, ip, fabric.random

    def now(self) -> float:
        return self.fabric.loop.time()

    def wall_time(self) -> float:
        return self.fabric.epoch + self.fabric.loop.time()

    async def open_tcp_stream(
        self, host: str, port: int, *, local_host: str | None = None
    ) -> Stream:
        entry = self.fabric.listeners.get((host, port))
        if entry is None:
            raise ConnectionRefusedError(f"nothing listens on {host}:{port}")
        handler, tasks = entry
        local = (local_host or self.ip, self.fabric.port())
        mine, theirs = FreeStream(local, (host, port)), FreeStream((host, port), local)
        mine.other, theirs.other = theirs, mine
        task = self.fabric.loop.create_task(handler(theirs))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return mine

    async def start_tcp_server(
        self, handler: StreamHandler, host: str, port: int, *, backlog: int = 128
    ) -> TcpListener:
        self.fabric.listeners[(host, port)] = (handler, set())
        return FreeListener(self.fabric, (host, port))

    async def open_udp_endpoint(
        self, host: str, port: int = 0, *, on_datagram: DatagramHandler | None = None
    ) -> DatagramEndpoint:
        local = (host, port or self.fabric.port())
        endpoint = FreeEndpoint(self.fabric, local, on_datagram)
        self.fabric.endpoints[local] = endpoint
        return endpoint


def free_run(n: int, seed: int) -> dict[str, Any]:
    """sim_scale's page loads, with the same actors and options, on a FreeNetwork."""
    gc.collect()
    loop = VirtualClockLoop()
    trace = Trace(clock=loop.time, wall_start=EPOCH)
    fabric = FreeFabric(seed, loop, EPOCH)
    zone = sim_scale.demo_zone()
    main = sim_scale.serve_and_load(
        FreeNetwork(fabric, sim_scale.DNS_IP),
        FreeNetwork(fabric, sim_scale.WEB_IP),
        [FreeNetwork(fabric, f"10.1.{i // 250}.{i % 250 + 1}") for i in range(n)],
        trace,
        zone,
    )
    old = gc.get_threshold()
    gc.set_threshold(*(max(a, b) for a, b in zip(GC_THRESHOLDS, old, strict=True)))
    t0 = time.perf_counter()
    try:
        loads = loop.run_until_complete(main)
    finally:
        wall = time.perf_counter() - t0
        gc.set_threshold(*old)
        loop.close()
    failures = [
        f"browser {i + 1}: {e}" for i, load in enumerate(loads) if (e := sim_scale.check_load(load))
    ]
    return {"n": n, "wall_s": wall, "trace_events": len(trace), "failures": failures}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=harness.at_least(1), default=100, help="browsers per run")
    parser.add_argument("--rounds", type=harness.at_least(1), default=5, help="each: both runs")
    parser.add_argument("--seed", type=int, default=1)
    harness.add_options(parser, "sim_ceiling", rev=False, servers=False)
    args = parser.parse_args(argv)
    packages = ("h11", "dnspython", "tinycss2", "selectolax")
    report = harness.start_report("sim_ceiling", args, argv, packages=packages)
    report |= {"runs": [], "discarded_runs": []}
    sim_scale.one_run(10, args.seed)  # imports and warm-up
    free_run(10, args.seed)
    runs = {"sim": sim_scale.one_run, "free": free_run}

    def measure(rnd: int, kind: str) -> harness.Run:
        return harness.metered(lambda: runs[kind](args.n, args.seed))() | {
            "round": rnd,
            "server": kind,
        }

    with harness.saved(report, args.out, markdown):
        harness.run_rounds(report, args, [["sim", "free"]], measure, "{wall_s:.3f} s")
    return 1 if report.get("failures", True) else 0


def markdown(report: dict[str, Any]) -> str:
    args = report["args"]
    sims, frees = ([run for run in report["runs"] if run["server"] == k] for k in ("sim", "free"))
    report["failures"] = failures = [f for run in sims + frees for f in run["failures"]]
    packets = sims[0]["packets"]
    sim_wall = statistics.median(r["wall_s"] for r in sims)
    free_wall = statistics.median(r["wall_s"] for r in frees)
    s = report["summary"] = {
        "n": args["n"],
        "packets": packets,
        "packets_per_browser": packets / args["n"],
        "sim_wall_s_median": sim_wall,
        "free_wall_s_median": free_wall,
        "sim_packets_per_wall_s": packets / sim_wall,
        "ceiling_packets_per_wall_s": packets / free_wall,
        "actors_share_of_sim_wall": free_wall / sim_wall,
        "sim_ms_per_browser": sim_wall * 1000 / args["n"],
        "free_ms_per_browser": free_wall * 1000 / args["n"],
    }
    reach = (
        "reachable"
        if packets / free_wall >= sim_scale.PPS_GOAL
        else "out of reach with these actors"
    )
    lines = [
        f"Run {report['started_at']}, webtrip commit {report['versions']['webtrip_commit']}, "
        f"{harness.machine_text(report['versions'])}; `{report['command']}`; N = {args['n']}, "
        f"{args['rounds']} rounds, medians.",
        "",
        "|  | wall s | ms / browser | packets / wall s |",
        "|---|---:|---:|---:|",
        f"| netsim (sim_scale) | {sim_wall:.3f} | {s['sim_ms_per_browser']:.2f} "
        f"| {s['sim_packets_per_wall_s']:,.0f} |",
        f"| free network (actors alone) | {free_wall:.3f} | {s['free_ms_per_browser']:.2f} "
        f"| ceiling **{s['ceiling_packets_per_wall_s']:,.0f}** |",
        "",
        f"The actors alone take {s['actors_share_of_sim_wall']:.0%} of the simulated run's wall "
        f"time; with a simulator that cost nothing, {packets:,} packets would take "
        f"{free_wall:.3f} s: at most {s['ceiling_packets_per_wall_s']:,.0f} packets per wall "
        f"second (goal {sim_scale.PPS_GOAL:,}: {reach}).",
        "",
        harness.noise_text(sims + frees, report["discarded_runs"], args["max_other_load"]),
    ]
    if failures:
        lines += ["", f"**{len(failures)} failed load(s)**, e.g. {failures[0]}"]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(harness.main(main))
