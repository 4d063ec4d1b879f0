"""Start, watch and stop a third-party server run as a test peer (NSD, nginx).

The server runs in a private work directory, in a new session (its own process
group) with its stdout and stderr in a file there; it is stopped with a signal
of its own choosing, then whatever is left of the group is killed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["read_logs", "spawn", "stop", "wait_until"]


def spawn(argv: Sequence[str], workdir: Path, output: str) -> subprocess.Popen[bytes]:
    """Start ``argv`` in ``workdir``, in its own process group, stdin from /dev/null
    and stdout and stderr to ``workdir / output``."""
    with (workdir / output).open("wb") as out:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            cwd=workdir,
            start_new_session=True,
        )


def stop(process: subprocess.Popen[bytes], sig: signal.Signals, grace: float = 5.0) -> None:
    """Send ``sig`` to the server, give it ``grace`` seconds to exit, then SIGKILL
    whatever is left of the process group we started it in.

    The group is signalled while the server's main process is a zombie not yet
    reaped, so its id cannot have been reused by anything else.
    """
    if process.returncode is not None:
        return  # already reaped by poll(): the server exited on its own
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(sig)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        flags = os.WEXITED | os.WNOWAIT | os.WNOHANG
        if os.waitid(os.P_PID, process.pid, flags) is not None:
            break
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def wait_until(
    process: subprocess.Popen[bytes],
    ready: Callable[[], bool],
    *,
    timeout: float,
    interval: float,
    exited: Callable[[int], Exception],
    timed_out: Callable[[], Exception],
) -> None:
    """Poll ``ready()`` every ``interval`` seconds until it is true; raise
    ``exited(status)`` if the server exits first, ``timed_out()`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        code = process.poll()
        if code is not None:
            raise exited(code)
        if ready():
            return
        if time.monotonic() > deadline:
            raise timed_out()
        time.sleep(interval)


def read_logs(workdir: Path, names: Sequence[str], nothing: str) -> str:
    """The non-empty files ``names`` of ``workdir``, each under a ``--- name ---``
    header, or ``nothing`` if there are none."""
    parts = []
    for name in names:
        try:
            text = (workdir / name).read_text(errors="replace").strip()
        except FileNotFoundError:
            continue
        if text:
            parts.append(f"--- {name} ---\n{text}")
    return "\n".join(parts) or nothing
