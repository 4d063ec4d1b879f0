"""Run Debian's headless Chromium once, as a test peer.

Each run has a fresh profile (``--user-data-dir``) and HOME in the test's own
folder, no proxy from the environment, no background traffic
(:data:`CHROMIUM_FLAGS`), a time limit, and afterwards its whole process group
is killed — and the crash reporter too, which starts a session of its own and
is found by the run's paths in its command line.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from support import kill_group, kill_processes_naming, require_program

__all__ = ["CHROMIUM_FLAGS", "ChromiumRun", "run_chromium"]

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",  # without these, Chromium calls home at start
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--no-proxy-server",
    "--mute-audio",
)
"""The flags every test runs Chromium with (plus a fresh --user-data-dir)."""


@dataclass
class ChromiumRun:
    stdout: str
    stderr: str
    returncode: int


def run_chromium(
    workdir: Path,
    url: str,
    *options: str,
    flags: tuple[str, ...] = CHROMIUM_FLAGS,
    timeout: float = 45.0,
) -> ChromiumRun:
    """Run Chromium once on ``url`` with ``flags`` and ``options``; what it printed.

    Skips the test (saying why) without Chromium; fails it if the run takes
    longer than ``timeout`` seconds.
    """
    program = require_program("chromium")
    profile = Path(tempfile.mkdtemp(prefix="profile-", dir=workdir))
    home = workdir / "home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["HOME"] = str(home)
    process = subprocess.Popen(
        [program, *flags, f"--user-data-dir={profile}", *options, url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env,
        start_new_session=True,  # its own process group: the helpers die with it
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(process)
        stdout, stderr = process.communicate()
        pytest.fail(
            f"Chromium did not finish within {timeout:g} s:\n"
            + stderr.decode("utf-8", "replace")[-3000:]
        )
    finally:
        kill_group(process)
        kill_processes_naming(workdir)
    return ChromiumRun(
        stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace"), process.returncode
    )
