"""The real half of the fidelity test: two network namespaces, a shaped veth, Linux's TCP.

Imported by the fidelity tests (``tests/netsim/test_fidelity*.py``) for
:class:`VethLab`, and run as a script inside a namespace (``ip netns exec NS
python fidelity.py ...``) for the two ends of the transfer:

- ``serve ADDRESS PORT SIZE``: listen, print ``ready``, accept one
  connection, send ``SIZE`` bytes, close;
- ``fetch ADDRESS PORT SIZE``: connect, read until ``SIZE`` bytes have
  arrived, then until the end of the stream, close; print a JSON line with the
  seconds from just before ``connect`` to the last byte.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve()

# What both fidelity tests transfer, and how close netsim must come to Linux.
SIZE = 1 << 20
RATE = 10e6  # bit/s, as tc's "10mbit"
DELAY = 0.010  # one way, seconds: added with netem where the kernel has it
TOLERANCE = 0.15


# --- the two ends, run inside the namespaces ------------------------------------------


def serve(address: str, port: int, size: int) -> None:
    with socket.create_server((address, port)) as listener:
        print("ready", flush=True)
        listener.settimeout(20)
        connection, _ = listener.accept()
        with connection:
            connection.sendall(bytes(size))
            # close(): the FIN goes after the queued data. Wait for the peer's FIN
            # first, so the whole teardown is in the capture before we exit.
            connection.shutdown(socket.SHUT_WR)
            connection.settimeout(20)
            while connection.recv(65536):
                pass


def fetch(address: str, port: int, size: int) -> None:
    received = 0
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as client:
        client.settimeout(20)
        started = time.perf_counter()
        client.connect((address, port))
        while received < size:
            data = client.recv(1 << 20)
            if not data:
                break
            received += len(data)
        seconds = time.perf_counter() - started
        while client.recv(65536):  # then the FIN: the end of the stream
            pass
    print(json.dumps({"seconds": seconds, "bytes": received}), flush=True)


# --- the lab, built and removed by the test -------------------------------------------


class LabUnavailable(Exception):
    """The machine cannot build the lab (no CAP_NET_ADMIN, a qdisc missing...)."""


@dataclass
class VethLab:
    """Namespaces ``<prefix>-a`` (client) and ``<prefix>-b`` (server) joined by a veth pair.

    The pair is created directly inside the namespaces (it never exists in the
    caller's), with ``CLIENT_IP``/``SERVER_IP`` from a private /30.
    """

    ip: str
    tc: str
    prefix: str = field(default_factory=lambda: f"wt-{os.getpid()}-{secrets.token_hex(2)}")
    delay: float = 0.0
    created: list[str] = field(default_factory=list)
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    CLIENT_IP = "10.231.7.1"
    SERVER_IP = "10.231.7.2"

    @property
    def client_ns(self) -> str:
        return f"{self.prefix}-a"

    @property
    def server_ns(self) -> str:
        return f"{self.prefix}-b"

    @property
    def client_if(self) -> str:
        return "wtveth-a"  # names are per namespace: no clash with other runs

    @property
    def server_if(self) -> str:
        return "wtveth-b"

    def _run(self, *args: str) -> None:
        done = subprocess.run(args, capture_output=True, text=True, timeout=10)
        if done.returncode != 0:
            raise LabUnavailable(f"`{' '.join(args)}` failed: {done.stderr.strip()}")

    def build(self, *, rate: str, burst: int, limit: int, delay: float = 0.0) -> None:
        """The namespaces, the veth pair and, on each end's egress, ``tbf``.

        With ``delay`` (seconds, one way), ``netem`` delays each end's packets
        before ``tbf`` shapes them; a kernel without ``sch_netem`` gets no
        delay, and :attr:`delay` says 0.
        """
        self.delay = delay
        for namespace in (self.client_ns, self.server_ns):
            self._run(self.ip, "netns", "add", namespace)
            self.created.append(namespace)
        self._run(
            self.ip, "link", "add", self.client_if, "netns", self.client_ns,
            "type", "veth", "peer", "name", self.server_if, "netns", self.server_ns,
        )  # fmt: skip
        for namespace, interface, address in (
            (self.client_ns, self.client_if, self.CLIENT_IP),
            (self.server_ns, self.server_if, self.SERVER_IP),
        ):
            self._run(self.ip, "-n", namespace, "addr", "add", f"{address}/30", "dev", interface)
            self._run(self.ip, "-n", namespace, "link", "set", "lo", "up")
            self._run(self.ip, "-n", namespace, "link", "set", interface, "up")
            tbf = ["tbf", "rate", rate, "burst", str(burst), "limit", str(limit)]
            qdisc = [self.tc, "-n", namespace, "qdisc", "add", "dev", interface]
            if self.delay:
                netem = ["netem", "delay", f"{self.delay * 1000:g}ms", "limit", "100000"]
                try:
                    self._run(*qdisc, "root", "handle", "1:", *netem)
                except LabUnavailable:
                    if namespace != self.client_ns:
                        raise
                    self.delay = 0.0  # no sch_netem in this kernel: no added latency
            if self.delay:
                self._run(*qdisc, "parent", "1:1", "handle", "10:", *tbf)
            else:
                self._run(*qdisc, "root", *tbf)

    def netns_python(self, namespace: str, *args: str) -> list[str]:
        return [self.ip, "netns", "exec", namespace, sys.executable, str(SCRIPT), *args]

    def start(self, command: list[str], **options) -> subprocess.Popen[str]:
        process = subprocess.Popen(command, text=True, **options)
        self.processes.append(process)
        return process

    def capture(self, tshark: str, pcap: Path, timeout: float = 10.0) -> subprocess.Popen[str]:
        """Start tshark on the client's end of the veth; return once it is capturing."""
        command = [self.ip, "netns", "exec", self.client_ns, tshark, "-n", "-q"]
        command += ["-i", self.client_if, "-f", "tcp", "-w", str(pcap)]
        process = self.start(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert process.stderr is not None
        said = ""
        deadline = time.monotonic() + timeout
        while "Capturing on" not in said:
            if process.poll() is not None or time.monotonic() > deadline:
                raise LabUnavailable(f"tshark did not start capturing: {said.strip()}")
            ready, _, _ = select.select([process.stderr], [], [], 0.1)
            if ready:
                said += os.read(process.stderr.fileno(), 4096).decode(errors="replace")
        return process

    def stop_capture(self, process: subprocess.Popen[str]) -> None:
        """Stop tshark as Ctrl-C does: it writes out what it has and exits."""
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=10)

    def qdisc_drops(self) -> int:
        """The packets the two ends' qdiscs dropped (none, for a bandwidth-limited path)."""
        dropped = 0
        for namespace in (self.client_ns, self.server_ns):
            done = subprocess.run(
                [self.tc, "-n", namespace, "-s", "qdisc", "show"],
                capture_output=True, text=True, timeout=10, check=True,
            )  # fmt: skip
            dropped += sum(int(n) for n in re.findall(r"dropped (\d+)", done.stdout))
        return dropped

    def remove(self) -> None:
        """Stop what we started, delete the namespaces (and with them the veth pair)."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        for namespace in reversed(self.created):
            subprocess.run([self.ip, "netns", "delete", namespace], capture_output=True, timeout=10)
        self.created.clear()


if __name__ == "__main__":
    role, address, port, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    {"serve": serve, "fetch": fetch}[role](address, port, size)


# --- the simulated half ---------------------------------------------------------------


def simulated_transfer(
    delay: float,
    rate: float,
    size: int,
    port: int,
    pcap: Path,
    *,
    configure: Callable[[Any], object] | None = None,
) -> tuple[float, list[Any]]:
    """The same transfer between two simulated hosts with the veth's addresses, on one
    link of ``rate`` bit/s and ``delay`` s one way (``configure(link)`` may add a fault):
    the virtual seconds from just before ``connect`` to the last byte, and the world's
    drops. The client's capture is written to ``pcap``."""
    import asyncio

    from webtrip.netsim.world import SimWorld

    with SimWorld(seed=1) as world:
        client = world.add_host("client")
        server = world.add_host("server")
        link = world.connect(
            client, f"{VethLab.CLIENT_IP}/30", server, f"{VethLab.SERVER_IP}/30",
            latency=delay, bandwidth=rate,
        )  # fmt: skip
        if configure is not None:
            configure(link)

        async def serve(stream: Any) -> None:
            await stream.send_all(bytes(size))
            await stream.aclose()

        async def fetch() -> float:
            await world.network(server).start_tcp_server(serve, VethLab.SERVER_IP, port)
            started = world.now()
            stream = await world.network(client).open_tcp_stream(VethLab.SERVER_IP, port)
            received = 0
            while received < size and (data := await stream.receive_some()):
                received += len(data)
            seconds = world.now() - started
            while await stream.receive_some():  # then the FIN
                pass
            await stream.aclose()
            await asyncio.sleep(1.0)  # the teardown's last ACK
            assert received == size
            return seconds

        seconds = world.run(fetch())
        drops = world.packets.drops()
        world.write_pcap(pcap, at=client)
    return seconds, drops
