"""Helpers shared by the benchmarks in bench/ (dns_qps.py, http_rps.py, page_load.py).

Servers in their own process group, CPU pinning with ``taskset``, CPU time from
/proc/stat and /proc/<pid>/stat, version capture, the webtrip source under test,
ratios of medians, and writing the JSON result with its Markdown report.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.metadata
import io
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
HOST = "127.0.0.1"
START_TIMEOUT = 20.0  # seconds for a server to answer its first request
STOP_TIMEOUT = 5.0  # seconds between SIGTERM and SIGKILL
CLK_TCK = os.sysconf("SC_CLK_TCK")  # unit of utime/stime in /proc/<pid>/stat
CPU_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


class BenchError(Exception):
    """A run failed; the message says why (and includes the server log tail)."""


# ---------------------------------------------------------------------------------------
# Small utilities.


def utc_now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def loadavg() -> list[str]:
    """The 1, 5 and 15 minute load averages, as /proc/loadavg writes them."""
    return Path("/proc/loadavg").read_text().split()[:3]


def rotate(items: list[str], shift: int) -> list[str]:
    """``items`` rotated left by ``shift`` places (round ``n`` starts with item ``n``)."""
    shift %= len(items)
    return items[shift:] + items[:shift]


def terminate_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, which unwinds through the blocks that stop servers."""

    def _terminate(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _terminate)


def free_port(host: str = HOST, *, udp: bool = False) -> int:
    """A TCP port free on ``host`` right now; with ``udp``, free for UDP too."""
    if not udp:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            return sock.getsockname()[1]
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((host, 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp_sock:
                try:
                    udp_sock.bind((host, port))
                except OSError:
                    continue
                return port
    raise BenchError("no free port found")


def find_program(name: str) -> str | None:
    """The program's path, looked up in PATH and then in the sbin directories."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/local/sbin")


def command_output(argv: list[str]) -> str:
    """stdout + stderr of a short command, or "" if it cannot run or takes over 10 s."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout + done.stderr


def package_version(name: str) -> str | None:
    """The installed version of a Python distribution, or None."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


# ---------------------------------------------------------------------------------------
# Versions and the webtrip source under test.


def cpu_model() -> str | None:
    """The first "model name" of /proc/cpuinfo."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return None


def versions(extra: dict[str, Any]) -> dict[str, Any]:
    """Python, webtrip and its commit, then ``extra`` (the peers' versions), then the
    kernel, OS, CPU model and CPU count."""
    commit = command_output(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]).strip()
    return {
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "webtrip": package_version("webtrip"),
        "webtrip_commit": commit if re.fullmatch(r"[0-9a-f]{4,40}", commit) else None,
        **extra,
        "kernel": platform.release(),
        "os": command_output(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]).strip(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
    }


def git(*argv: str) -> subprocess.CompletedProcess[bytes]:
    """``git -C ROOT ARGV...``, output captured."""
    return subprocess.run(["git", "-C", str(ROOT), *argv], capture_output=True, timeout=60)


def webtrip_source(rev: str | None, workdir: Path) -> tuple[Path, dict[str, Any]]:
    """The src/ directory webtrip is run from, and how it relates to git: the working tree
    (default; uncommitted changes to src/ are listed), or ``git archive REV src`` exported
    into workdir, so a benchmark of a commit is not disturbed by edits in progress."""
    if rev is None:
        status = git("status", "--porcelain", "--", "src")
        dirty = (
            status.stdout.decode(errors="replace").splitlines() if not status.returncode else None
        )
        head = git("rev-parse", "HEAD")
        return ROOT / "src", {
            "source": "working tree",
            "head": head.stdout.decode().strip() if not head.returncode else None,
            "src_changes_vs_head": dirty,
        }
    resolved = git("rev-parse", "--verify", f"{rev}^{{commit}}")
    if resolved.returncode:
        raise BenchError(f"--webtrip-rev {rev!r}: {resolved.stderr.decode().strip()}")
    commit = resolved.stdout.decode().strip()
    archive = git("archive", "--format=tar", commit, "src")
    if archive.returncode:
        raise BenchError(f"git archive {commit} src: {archive.stderr.decode().strip()}")
    target = workdir / f"webtrip-{commit[:12]}"
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(target, filter="data")
    return target / "src", {"source": "git archive", "rev": rev, "commit": commit}


def warn_uncommitted(webtrip_info: dict[str, Any], servers: list[str]) -> None:
    """Say on stderr when webtrip runs from a working tree with uncommitted src/ changes."""
    if webtrip_info.get("src_changes_vs_head") and "webtrip" in servers:
        print(
            f"# webtrip runs from the working tree, with uncommitted changes to src/: "
            f"{len(webtrip_info['src_changes_vs_head'])} file(s) (--webtrip-rev HEAD to "
            "benchmark the last commit)",
            file=sys.stderr,
        )


def webtrip_env(src: Path) -> dict[str, str]:
    """This environment with NO_COLOR=1 and ``src`` first on PYTHONPATH."""
    env = dict(os.environ, NO_COLOR="1")
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(src), os.environ.get("PYTHONPATH", "")) if p
    )
    return env


# ---------------------------------------------------------------------------------------
# Servers in their own process group.


@dataclass
class Launch:
    """How to start a server: its command, environment, directory, and notes for the JSON."""

    argv: list[str]
    env: dict[str, str] | None = None
    cwd: Path | None = None
    notes: dict[str, Any] = field(default_factory=dict)


def spawn_group(
    argv: list[str], out: IO[bytes], env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a new session (its own process group: stop_group() gets its
    children too), stdin from /dev/null, stdout and stderr to ``out``."""
    return subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group created for this server, then SIGKILL what is left
    (NSD's forks, nginx's worker: none of the group outlives the leader)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=STOP_TIMEOUT)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=STOP_TIMEOUT)


def log_tail(path: Path, lines: int = 15) -> str:
    """The last ``lines`` lines of a log file ("" if it cannot be read)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def running_server(
    launch: Launch, port: int, log: Path, pin: list[str], ready: Callable[[], bool]
) -> Iterator[subprocess.Popen[bytes]]:
    """Start the server (after the ``pin`` prefix) in its own process group, logging to
    ``log``; yield once ``ready()`` is true; always stop the whole group on the way out."""
    with log.open("ab") as out:
        proc = spawn_group(pin + launch.argv, out, env=launch.env, cwd=launch.cwd)
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                if proc.poll() is not None:
                    raise BenchError(
                        f"server exited with status {proc.returncode} before answering; "
                        f"log tail:\n{log_tail(log)}"
                    )
                if ready():
                    break
                if time.monotonic() > deadline:
                    raise BenchError(
                        f"server did not answer on {HOST}:{port} within {START_TIMEOUT:.0f}s; "
                        f"log tail:\n{log_tail(log)}"
                    )
                time.sleep(0.05)
            yield proc
        finally:
            stop_group(proc)


# ---------------------------------------------------------------------------------------
# CPU pinning.


def pinning(requested: bool, server_cpu: int, client_cpu: int, client_key: str) -> dict[str, Any]:
    """Whether servers can be pinned to ``server_cpu`` and the load generator to
    ``client_cpu`` with taskset; ``client_key`` names the latter's CPU in the result."""
    state: dict[str, Any] = {
        "requested": requested,
        "enabled": False,
        "server_cpu": server_cpu,
        client_key: client_cpu,
    }
    taskset = shutil.which("taskset")
    if not requested:
        state["reason"] = "disabled with --no-pin"
    elif taskset is None:
        state["reason"] = "taskset not found"
    elif not {server_cpu, client_cpu} <= set(os.sched_getaffinity(0)):
        state["reason"] = f"CPUs {server_cpu},{client_cpu} not both available to this process"
    else:
        ok = all(
            subprocess.run([taskset, "-c", str(cpu), "true"], capture_output=True).returncode == 0
            for cpu in (server_cpu, client_cpu)
        )
        state["enabled"] = ok
        state["reason"] = "taskset" if ok else "taskset failed"
    state["taskset"] = taskset
    return state


def pin_prefix(state: dict[str, Any], cpu: int) -> list[str]:
    """``taskset -c CPU`` when pinning is enabled, else nothing."""
    return [state["taskset"], "-c", str(cpu)] if state["enabled"] else []


def affinity(pid: int) -> list[int] | None:
    """The CPUs process ``pid`` may run on, or None if it is gone."""
    try:
        return sorted(os.sched_getaffinity(pid))
    except OSError:
        return None


# ---------------------------------------------------------------------------------------
# CPU time: whole CPUs (/proc/stat) and processes (/proc/<pid>/stat).


def cpu_times() -> dict[str, list[int]]:
    """Per-CPU jiffies from /proc/stat, in CPU_FIELDS order."""
    times: dict[str, list[int]] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/stat").read_text().splitlines():
            name, *values = line.split()
            if name.startswith("cpu") and name != "cpu":
                times[name] = [int(v) for v in values[: len(CPU_FIELDS)]]
    return times


def cpu_deltas(before: dict[str, list[int]], after: dict[str, list[int]]) -> dict[str, list[int]]:
    """Each CPU's jiffies per CPU_FIELDS field between two cpu_times() samples."""
    return {
        cpu: [t1 - t0 for t1, t0 in zip(ticks, before.get(cpu, [0] * len(ticks)), strict=True)]
        for cpu, ticks in after.items()
    }


def busy_pct(delta: list[int]) -> float | None:
    """Busy % (everything but idle and iowait) of one CPU's cpu_deltas() entry, or None
    if no time passed."""
    total = sum(delta)
    return round(100.0 * (total - delta[3] - delta[4]) / total, 1) if total > 0 else None


def breakdown_pct(delta: list[int]) -> dict[str, float] | None:
    """% of one CPU's time per /proc/stat field (steal: time the hypervisor gave to someone
    else; softirq: mostly loopback packet work), or None if no time passed."""
    total = sum(delta)
    if total <= 0:
        return None
    return {f: round(100.0 * d / total, 1) for f, d in zip(CPU_FIELDS, delta, strict=False)}


def sample_cpu_busy(seconds: float) -> dict[str, float | None]:
    """Each CPU's busy % over the next ``seconds`` (None for a CPU that did not tick)."""
    before = cpu_times()
    time.sleep(seconds)
    return {cpu: busy_pct(delta) for cpu, delta in cpu_deltas(before, cpu_times()).items()}


class ProcStat(NamedTuple):
    """The fields of /proc/<pid>/stat the benchmarks use (times in clock ticks)."""

    comm: str
    pgid: int
    utime: int
    stime: int


def proc_stats() -> dict[int, ProcStat]:
    """pid -> ProcStat of every live process.  A process's utime/stime cover all its
    threads, including threads that have already exited."""
    found: dict[int, ProcStat] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        close = stat.rfind(")")
        fields = stat[close + 2 :].split()  # fields[0] is field 3 (state) of proc(5)
        if len(fields) > 12:
            comm = stat[stat.find("(") + 1 : close]
            found[int(entry.name)] = ProcStat(
                comm, int(fields[2]), int(fields[11]), int(fields[12])
            )
    return found


def cmdline(pid: int, limit: int = 120) -> str:
    """The process's command line, arguments joined by spaces, at most ``limit`` chars."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()[:limit]


def rusage_s(who: int) -> tuple[float, float]:
    """(user + system, user) CPU seconds so far of this process (RUSAGE_SELF) or of its
    waited-for children (RUSAGE_CHILDREN)."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime, usage.ru_utime


# ---------------------------------------------------------------------------------------
# Ratios and results.


def paired_ratios(by_round: dict[int, dict[str, Any]], top: str, bottom: str) -> list[float]:
    """top/bottom within each round where both have a (non-zero) value."""
    return [r[top] / r[bottom] for r in by_round.values() if r.get(top) and r.get(bottom)]


def ratio_summary(top: float, bottom: float, paired: list[float]) -> dict[str, float | None]:
    """The ratio of two medians, and the median of the per-round ratios."""
    return {
        "ratio_of_medians": top / bottom,
        "median_of_paired_round_ratios": statistics.median(paired) if paired else None,
    }


def ratio_text(value: dict[str, Any] | None, invert: bool = False) -> str:
    """A ratio_summary() for a Markdown cell: **median×** (per-round×)."""
    if value is None:
        return "n/a"
    median = value["ratio_of_medians"]
    paired = value["median_of_paired_round_ratios"]
    if invert:
        median, paired = 1 / median, (1 / paired if paired else None)
    return f"**{median:.3g}×**" + (f" ({paired:.3g}×)" if paired else "")


def write_results(
    out: Path, report: dict[str, Any], markdown: str, *, indent: int = 2, announce: bool = True
) -> None:
    """Write the report as JSON to ``out`` and ``markdown`` beside it (.md)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=indent) + "\n", encoding="utf-8")
    out.with_suffix(".md").write_text(markdown, encoding="utf-8")
    if announce:
        print(f"# wrote {out} and {out.with_suffix('.md')}", file=sys.stderr)
