"""This checkout's servers as real processes on loopback: what the tests and bench/ share.

No pytest and no simulator here, so that the benchmarks import it too: a free
port, waiting until a DNS server answers, stopping a process, and the test DNS
hierarchy (data/zones/hierarchy) as four ``webtrip dns serve --log`` processes.

The hierarchy's four authoritative servers: the root (.1), the test. server
(.2), the webtrip.test server (.3), the elsewhere. and shop.test server (.4).
In the zone files their addresses are 10.0.0.N; :func:`loopback_hierarchy`
runs them on 127.A.B.N (a random /24 of loopback, the zone files rewritten to
it), all on one port, as a resolver that walks from the root needs.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rdatatype
import dns.zone

HIERARCHY = Path(__file__).parent / "data" / "zones" / "hierarchy"
ROOT, TLD, WEBTRIP, ELSEWHERE = "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"
SERVERS = {
    ROOT: ["root.zone"],
    TLD: ["test.zone", "elsewhere.stale.zone"],
    WEBTRIP: ["webtrip.test.zone"],
    ELSEWHERE: ["elsewhere.zone", "shop.test.zone"],
}


def free_port(host: str = "127.0.0.1") -> int:
    """A port that is free for both UDP and TCP on ``host`` right now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(50):
        with socket.socket(family, socket.SOCK_STREAM) as tcp:
            tcp.bind((host, 0))
            port = tcp.getsockname()[1]
            with socket.socket(family, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((host, port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port found on " + host)


def wait_for_dns(host: str, port: int, name: str, timeout: float = 10.0) -> None:
    """Block until a DNS server at host:port answers a query for ``name``."""
    deadline = time.monotonic() + timeout
    query = dns.message.make_query(name, dns.rdatatype.SOA)
    while time.monotonic() < deadline:
        try:
            dns.query.udp(query, host, port=port, timeout=0.2)
            return
        except (dns.exception.Timeout, OSError):
            time.sleep(0.05)
    raise TimeoutError(f"no DNS server answered on {host}:{port} within {timeout}s")


def stop_process(process: subprocess.Popen) -> None:  # type: ignore[type-arg]
    """SIGTERM, up to 5 s to exit, then SIGKILL: how the tests stop a server they started."""
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class LoopbackHierarchy:
    """The four servers running on ``prefix``.N:``port``, and where their files are."""

    prefix: str  # "127.A.B"
    port: int
    workdir: Path
    hints: Path  # a root hints file naming ns.root. at prefix.1
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def address(self, number: int) -> str:
        return f"{self.prefix}.{number}"

    def log_lines(self) -> int:
        """Queries the four servers have answered or dropped (lines of their --log)."""
        total = 0
        for number in self.processes:
            text = (self.workdir / f"auth-{number}.log").read_text(errors="replace")
            total += sum(1 for line in text.splitlines() if re.search(r" (udp|tcp) ", line))
        return total

    def wait_quiet(self, settle: float = 0.2) -> int:
        """The log-line count once it has stopped changing for ``settle`` seconds (≤ 3 s)."""
        deadline = time.monotonic() + 3
        last = self.log_lines()
        while time.monotonic() < deadline:
            time.sleep(settle)
            now = self.log_lines()
            if now == last:
                return now
            last = now
        return last


def rewrite_zone(text: str, prefix: str) -> str:
    """A hierarchy zone file with every 10.0.0.N address moved to ``prefix``.N."""
    return re.sub(r"\b10\.0\.0\.(\d+)\b", rf"{prefix}.\1", text)


def _bindable(addresses: Sequence[str], port: int) -> bool:
    for address in addresses:
        for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
            with socket.socket(socket.AF_INET, kind) as sock:
                try:
                    sock.bind((address, port))
                except OSError:
                    return False
    return True


def pick_prefix(numbers: Sequence[int], port: int | None) -> tuple[str, int]:
    """A loopback /24 whose addresses ``numbers`` are all free on ``port`` (None: any port)."""
    rng = random.Random()
    for _ in range(50):
        prefix = f"127.{rng.randrange(100, 250)}.{rng.randrange(1, 250)}"
        addresses = [f"{prefix}.{n}" for n in numbers]
        chosen = port if port is not None else free_port(addresses[0])
        if _bindable(addresses, chosen):
            return prefix, chosen
    raise RuntimeError("no free loopback /24 found for the hierarchy")


@contextlib.contextmanager
def loopback_hierarchy(
    port: int | None = None,
    *,
    env: Mapping[str, str] | None = None,
    launcher: Sequence[str] = (),
) -> Iterator[LoopbackHierarchy]:
    """Run the four servers of the hierarchy on loopback (``webtrip dns serve --log``).

    ``port`` None: a free port; a resolver that must ask port 53 (Unbound) needs 53.
    ``env``: the servers' environment (default: this one, with NO_COLOR=1); a benchmark
    gives the PYTHONPATH of the webtrip it measures. ``launcher``: a command prefix
    the servers run under (a benchmark pins them to a CPU with ``taskset -c N``).
    """
    numbers = [int(address.rsplit(".", 1)[1]) for address in SERVERS]
    prefix, port = pick_prefix([*numbers, 10, 11, 12], port)
    with tempfile.TemporaryDirectory(prefix="webtrip-hierarchy-") as tmp:
        workdir = Path(tmp)
        for path in HIERARCHY.glob("*.zone"):
            (workdir / path.name).write_text(rewrite_zone(path.read_text(), prefix))
        hints = workdir / "root.hints"
        hints.write_text(f".  3600000  NS  ns.root.\nns.root.  3600000  A  {prefix}.1\n")
        lab = LoopbackHierarchy(prefix, port, workdir, hints)
        environment = dict(env) if env is not None else dict(os.environ, NO_COLOR="1")
        try:
            for address, files in SERVERS.items():
                number = int(address.rsplit(".", 1)[1])
                args = [*launcher, sys.executable, "-m", "webtrip", "dns", "serve", "--log"]
                args += ["--listen", f"{prefix}.{number}:{port}"]
                for name in files:
                    args += ["--zone", str(workdir / name)]
                with (workdir / f"auth-{number}.log").open("wb") as out:
                    lab.processes[str(number)] = subprocess.Popen(
                        args, stdout=out, stderr=subprocess.STDOUT, env=environment
                    )
            for address, files in SERVERS.items():
                number = int(address.rsplit(".", 1)[1])
                origin = dns.zone.from_file(str(HIERARCHY / files[0]), relativize=False).origin
                process = lab.processes[str(number)]
                try:  # four Pythons starting at once on a busy machine can take a while
                    wait_for_dns(f"{prefix}.{number}", port, origin.to_text(), timeout=30.0)
                except TimeoutError as error:
                    log = (workdir / f"auth-{number}.log").read_text(errors="replace")
                    state = "exited" if process.poll() is not None else "still running"
                    raise TimeoutError(f"{error} (the server {state}; its log: {log!r})") from None
            yield lab
        finally:
            for process in lab.processes.values():
                process.terminate()  # all at once, then each is waited for
            for process in lab.processes.values():
                stop_process(process)
