"""Helpers the tests share: free loopback ports, starting webtrip's servers as
real processes, running the command line, and waiting until a DNS server answers.

The package ``support`` holds what test modules import (pytest's ``pythonpath``
puts ``tests/`` on the path, so it is ``support`` everywhere): this module, and
:mod:`support.hierarchy` (the test DNS hierarchy), :mod:`support.netsim` (two
simulated hosts and a DNS exchange), :mod:`support.tcp_world` (a tiny world for
the TCP state machine) and :mod:`support.fidelity` (Linux's TCP in network
namespaces). Free ports, waiting for a DNS answer, stopping a process and the
loopback DNS hierarchy come from ``tests/loopback.py``, which the benchmarks
share (it imports neither pytest nor the simulator). The third-party programs
the tests talk to are started by the package ``peers`` beside it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.zone
import pytest
from hypothesis import strategies as st

import webtrip
from loopback import free_port, stop_process, wait_for_dns

DATA = Path(__file__).parent.parent / "data"
SRC = Path(webtrip.__file__).resolve().parents[1]  # this checkout's code, not an installed copy
ZONES = DATA / "zones"


def same_body(response: Any, expected: bytes) -> bool:
    """Whether the browser got ``expected``: the bytes themselves for what it keeps (HTML
    and CSS it parses), the decoded size and SHA-256 for what it streams through."""
    if response.kept:
        return bool(response.body == expected)
    return bool(
        response.decoded_size == len(expected)
        and response.sha256 == hashlib.sha256(expected).hexdigest()
    )


def demo_page_files() -> list[str]:
    """The demo page's path and the files it needs (stylesheet, scripts, images: not the
    pages it links), in the page's order, read from the demo site's own HTML."""
    from webtrip.labs import demo_path

    html = (demo_path("site") / "index.html").read_text()
    return ["/", *re.findall(r'<(?:link|script|img)\b[^>]*\b(?:href|src)="(/[^"]+)"', html)]


def cli_env(columns: int = 120) -> dict[str, str]:
    """The environment the tests run ``python -m webtrip`` in: this checkout's code,
    plain text (NO_COLOR), English (no LANG from the developer's shell), a fixed width."""
    return {"NO_COLOR": "1", "PATH": "/usr/bin:/bin", "COLUMNS": str(columns),
            "PYTHONPATH": str(SRC)}  # fmt: skip


def run_webtrip(
    *args: str, cwd: Path | str | None = None, timeout: float = 60.0, columns: int = 120
) -> subprocess.CompletedProcess[str]:
    """Run the command line once (``python -m webtrip ARGS``) and wait for it."""
    return subprocess.run(
        [sys.executable, "-m", "webtrip", *args],
        capture_output=True, text=True, timeout=timeout, env=cli_env(columns), cwd=cwd,
    )  # fmt: skip


def assert_one_clear_sentence(done: subprocess.CompletedProcess[str], exit_code: int) -> str:
    """Check that a command failed as the house rules say: ``exit_code``, no traceback, and
    one line on standard error (returned)."""
    assert done.returncode == exit_code, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


SENTENCE_AND_DETAILS = re.compile(r"(?P<sentence>[^.\n]+\.) \((?P<details>[^\n]+)\)")
"""A failed load as the narration tells it: one sentence, then the error's own words in
parentheses."""


# --- third-party programs: the peer marker -------------------------------------------
#
# A test that talks to a third-party program says so with @pytest.mark.peer("name"),
# so that `pytest -m "not peer"` leaves out exactly the tests that need one. The
# tests reach every program through require_program (or require_peer, for a peer
# that is not a program on PATH), and that checks the mark: a test that forgets
# it fails, on every machine, whether the program is installed or not.

_running: pytest.Item | None = None  # the test being set up, run or torn down


@contextlib.contextmanager
def running_test(item: pytest.Item) -> Iterator[None]:
    """Make ``item`` the test :func:`require_peer` checks (tests/conftest.py's hook)."""
    global _running
    _running = item
    try:
        yield
    finally:
        _running = None


def peers_marked(item: pytest.Item) -> set[str]:
    """The names of a test's ``peer`` marks (its own, its class's and its module's)."""
    return {name for mark in item.iter_markers("peer") for name in mark.args}


def require_peer(name: str) -> None:
    """Fail the running test unless it is marked ``@pytest.mark.peer(name)``."""
    if _running is None:
        raise RuntimeError(f"the peer {name} was asked for outside a test")
    if name not in peers_marked(_running):
        pytest.fail(
            f"{_running.nodeid} talks to {name} but is not marked @pytest.mark.peer({name!r})",
            pytrace=False,
        )


def require_program(name: str) -> str:
    """The path of a third-party program, or skip the test saying which is missing.

    Fails the test if it is not marked ``@pytest.mark.peer(name)``.
    """
    require_peer(name)
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        pytest.skip(f"{name} is not installed (run the test command as root to install it)")
    return path


@dataclass
class RunningServer:
    host: str
    port: int
    process: subprocess.Popen[str]


@contextlib.contextmanager
def webtrip_dns_server(
    zones: Sequence[Path], *, host: str = "127.0.0.1", extra: Sequence[str] = ()
) -> Iterator[RunningServer]:
    """Run ``webtrip dns serve`` as a separate process on a free loopback port."""
    port = free_port(host)
    listen = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    args = [sys.executable, "-m", "webtrip", "dns", "serve", "--listen", listen]
    for zone in zones:
        args += ["--zone", str(zone)]
    args += list(extra)
    env = dict(os.environ, NO_COLOR="1")
    process = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        origin = dns.zone.from_file(str(zones[0]), relativize=False).origin
        wait_for_dns(host, port, origin.to_text())
        wait_for_tcp(host, port)  # UDP answers before the TCP listener is up
        yield RunningServer(host, port, process)
    finally:
        stop_process(process)


def wait_for_tcp(host: str, port: int, timeout: float = 10.0) -> None:
    """Block until something accepts TCP connections on host:port."""
    deadline = time.monotonic() + timeout
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    while time.monotonic() < deadline:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.2)
            if sock.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing accepted TCP connections on {host}:{port} within {timeout}s")


@dataclass
class RunningWebServer:
    host: str
    port: int
    process: subprocess.Popen[str]
    access_log: Path

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def log_lines(self) -> list[str]:
        return self.access_log.read_text().splitlines()


@contextlib.contextmanager
def webtrip_web_server(
    root: Path | None = None,
    *,
    sites: dict[str, Path] | None = None,
    host: str = "127.0.0.1",
    extra: Sequence[str] = (),
    log_dir: Path,
) -> Iterator[RunningWebServer]:
    """Run ``webtrip web serve`` as a separate process on a free loopback port."""
    port = free_port(host)
    listen = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    access_log = log_dir / f"access-{port}.log"
    args = [sys.executable, "-m", "webtrip", "web", "serve", "--listen", listen]
    args += ["--access-log", str(access_log)]
    if root is not None:
        args.append(str(root))
    for name, folder in (sites or {}).items():
        args += ["--site", f"{name}={folder}"]
    args += list(extra)
    env = dict(os.environ, NO_COLOR="1")
    process = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        wait_for_tcp(host, port)
        yield RunningWebServer(host, port, process, access_log)
    finally:
        stop_process(process)


# --- headless Chromium ---------------------------------------------------------------


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill what is left of the process group a test started (renderers, zygotes...)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def kill_processes_naming(path: Path) -> None:
    """Kill the processes whose command line names ``path`` (a directory of the test).

    Chromium's crash reporter starts its own session, outside the process group.
    """
    marker = str(path).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker in cmdline:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(entry.name), signal.SIGKILL)


def mutate_dns_message(
    draw: st.DrawFn, wire: bytes, *, steps: tuple[int, int], max_insert: int
) -> bytes:
    """``wire`` with a few bytes flipped, cut or inserted, a header count or a pointer set:
    the hostile messages the DNS fuzz tests send (``draw`` from ``st.composite``)."""
    data = bytearray(wire)
    for _ in range(draw(st.integers(*steps))):
        action = draw(st.sampled_from(["flip", "cut", "insert", "count", "pointer"]))
        if action == "flip" and data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[draw(st.integers(0, len(data))) :]
        elif action == "insert":
            at = draw(st.integers(0, len(data)))
            data[at:at] = draw(st.binary(min_size=1, max_size=max_insert))
        elif action == "count" and len(data) >= 12:
            at = draw(st.sampled_from([4, 6, 8, 10]))
            data[at : at + 2] = draw(st.integers(0, 65535)).to_bytes(2, "big")
        elif action == "pointer" and len(data) > 14:
            at = draw(st.integers(12, len(data) - 2))
            data[at : at + 2] = (0xC000 | draw(st.integers(0, 0x3FFF))).to_bytes(2, "big")
    return bytes(data)
