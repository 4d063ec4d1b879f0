"""``webtrip ui`` started as the user starts it: a subprocess on 127.0.0.1, --no-open."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")

SOURCE = Path(__file__).resolve().parents[2] / "src"


@dataclass
class UiServer:
    process: subprocess.Popen[str]
    origin: str
    port: int
    lines: list[str] = field(default_factory=list)

    def client(self, **headers: str) -> httpx.Client:
        return httpx.Client(base_url=self.origin, headers=headers, timeout=60)

    def post_run(self, body: object, **headers: str) -> httpx.Response:
        with self.client(**({"Origin": self.origin} | headers)) as client:
            return client.post("/api/runs", json=body)

    def wait(self, run_id: str, timeout: float = 90.0) -> dict[str, object]:
        """The run once it is done or failed (polled)."""
        deadline = time.monotonic() + timeout
        with self.client() as client:
            while time.monotonic() < deadline:
                run: dict[str, object] = client.get(f"/api/runs/{run_id}").json()
                if run["status"] in ("done", "failed"):
                    return run
                time.sleep(0.1)
        raise AssertionError(f"run {run_id} did not end in {timeout} s")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self.process.wait(15)


def start_ui(*arguments: str) -> UiServer:
    env = dict(os.environ, PYTHONPATH=str(SOURCE), LANG="C.UTF-8")
    env.pop("LANGUAGE", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "webtrip", "ui", "--no-open", "--listen", "127.0.0.1:0",
         *arguments],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    assert process.stdout is not None
    first = process.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:(\d+)/", first)
    assert match, first
    server = UiServer(process, f"http://127.0.0.1:{match.group(1)}", int(match.group(1)), [first])

    def drain() -> None:
        assert process.stdout is not None
        server.lines.extend(process.stdout)

    threading.Thread(target=drain, daemon=True).start()
    return server


@pytest.fixture(scope="session")
def ui_server() -> Iterator[UiServer]:
    server = start_ui()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def network_ui() -> Iterator[UiServer]:
    server = start_ui("--allow-network")
    yield server
    server.stop()
