"""The benchmarks' harness: what every bench in bench/ does the same way.

* **A quiet machine** (one policy; bench/README.md, "Noise"): wait_for_quiet() before
  each run, cpu_use()'s ``other_load_pct`` during it, and quiet_run(), which redoes a
  noisy run and keeps the quietest attempt.
* **CPU accounting**: a Snapshot holds /proc/stat, every process's utime and stime and
  this process's rusage; cpu_use() turns two of them into what each CPU, the servers'
  process groups, the load generator, the bench and everyone else used.
* **Processes**: servers in their own process group, pinned with taskset (running());
  the webtrip source at a git revision; free ports and the DNS hierarchy on loopback
  come from tests/loopback.py, which the tests share.
* **Results**: versions and the machine, per-server medians, paired ratios, Markdown
  rows, and saved(), which writes the JSON and its report however the run ends.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import importlib.metadata
import io
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT / "tests"))  # loopback.py: what the tests and the benches share

from loopback import LoopbackHierarchy, free_port, loopback_hierarchy  # noqa: E402, F401

HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")  # unit of utime/stime in /proc/<pid>/stat
CPU_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
START_TIMEOUT = 20.0  # seconds for a server to answer its first request
STOP_TIMEOUT = 5.0  # seconds between SIGTERM and SIGKILL
SERVER_CPU, CLIENT_CPU = 0, 1  # servers on CPU 0, the load generator (or clients) on CPU 1
QUIET_WAIT = 60.0  # --quiet-wait default, seconds
MAX_OTHER_LOAD = 10.0  # --max-other-load default, % of one CPU
RETRIES = 2  # --retries default
QUIET_SAMPLE_S = 1.0
BUSY_PROCESS_PCT = 5.0  # another process using this much of a CPU is named in the report
GENERATOR_BOUND_PCT = 85.0  # a load generator using this much of its CPU may be the limit

Run = dict[str, Any]  # one measured run: "round", "server", "result" or "error", "cpu", ...


class BenchError(Exception):
    """A run failed; the message says why (and includes the server log's tail)."""


def comma_list(choices: Sequence[str]) -> Callable[[str], list[str]]:
    """An argparse type: a comma-separated, non-empty subset of ``choices``."""

    def parse(text: str) -> list[str]:
        items = [item.strip() for item in text.split(",") if item.strip()]
        if not items or not set(items) <= set(choices):
            raise argparse.ArgumentTypeError(f"choose among {','.join(choices)}")
        return items

    return parse


def at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer ≥ ``minimum``."""

    def parse(text: str) -> int:
        if not re.fullmatch(r"-?\d+", text.strip()) or int(text) < minimum:
            raise argparse.ArgumentTypeError(f"an integer ≥ {minimum}")
        return int(text)

    return parse


def add_options(
    parser: argparse.ArgumentParser, name: str, *, rev: bool = True, servers: bool = True
) -> None:
    """The options every bench has: its output and the quiet-machine policy; with
    ``servers``, pinning and the temp dir; with ``rev``, the webtrip source under test."""
    out = BENCH / "results" / f"{name}.json"
    parser.add_argument("--out", type=Path, default=out, help="JSON result (and .md beside it)")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=QUIET_WAIT,
        metavar="S",
        help="before each run, wait up to S s for a quiet machine (60)",
    )
    parser.add_argument(
        "--max-other-load",
        type=float,
        default=MAX_OTHER_LOAD,
        metavar="PCT",
        help="quiet: all CPUs under PCT %% of one; noisy: others over it (10)",
    )
    parser.add_argument(
        "--retries",
        type=at_least(0),
        default=RETRIES,
        metavar="N",
        help="redo a noisy run up to N times, keep the quietest (2)",
    )
    if servers:
        parser.add_argument("--no-pin", action="store_true", help="do not pin to CPUs (taskset)")
        parser.add_argument("--keep-tmp", action="store_true", help="keep the temp dir (logs)")
    if rev:
        parser.add_argument("--webtrip-rev", metavar="REV", help="measure `git archive REV src`")


# ---------------------------------------------------------------------------------------
# CPU accounting.


class ProcStat(NamedTuple):
    """The fields of /proc/<pid>/stat the benches use (times in clock ticks)."""

    comm: str
    pgid: int
    utime: int
    stime: int


def parse_pid_stat(text: str) -> ProcStat:
    """One /proc/<pid>/stat line (proc(5)). The command name may hold spaces and
    parentheses, so it is everything between the first "(" and the *last* ")"."""
    start, close = text.find("("), text.rfind(")")
    fields = text[close + 2 :].split()  # fields[0] is field 3, the state
    if start < 0 or close < start or len(fields) < 13:
        raise ValueError(f"not a /proc/<pid>/stat line: {text[:80]!r}")
    return ProcStat(text[start + 1 : close], int(fields[2]), int(fields[11]), int(fields[12]))


def parse_proc_stat(text: str) -> dict[str, list[int]]:
    """Each CPU's clock ticks by CPU_FIELDS from /proc/stat (the all-CPU line left out)."""
    cpus = {}
    for line in text.splitlines():
        name, *values = line.split()
        if name.startswith("cpu") and name != "cpu":
            cpus[name] = [int(v) for v in values[: len(CPU_FIELDS)]]
    return cpus


def processes() -> dict[int, ProcStat]:
    """pid -> ProcStat of every live process (utime/stime cover all its threads)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError):
                found[int(entry.name)] = parse_pid_stat((entry / "stat").read_text())
    return found


def command_line(pid: int, words: int = 5) -> str:
    """A short name for a process: its program's base name and first arguments."""
    with contextlib.suppress(OSError, IndexError):
        argv = [w for w in Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0") if w]
        return " ".join([os.path.basename(argv[0]), *argv[1:words]])[:80]
    return ""


@dataclass(frozen=True)
class Snapshot:
    """The machine's and this process's CPU counters at one moment."""

    at: float
    cpus: dict[str, list[int]]
    processes: dict[int, ProcStat]
    own: resource.struct_rusage
    children: resource.struct_rusage


def snapshot() -> Snapshot:
    return Snapshot(
        time.monotonic(),
        parse_proc_stat(Path("/proc/stat").read_text()),
        processes(),
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )


def cpu_use(before: Snapshot, after: Snapshot, groups: Collection[int] = ()) -> dict[str, Any]:
    """What the CPUs did between two snapshots; ``groups``: the servers' process groups.

    ``server``: utime+stime of every process of ``groups`` (one born in between counts
    all its time; one that exited is lost: listed in ``exited``). ``children``: the
    children this process waited for in between (the load generator). ``bench``: this
    process. ``other_load_pct``, in % of one CPU: the user time of all CPUs minus those
    three's — everyone else, also processes that began and ended in between (kernel time
    is left out: the loopback's work is charged to whoever happens to be on the CPU) —
    plus the steal time, when the hypervisor ran other machines on our CPUs.
    ``busy_processes``: the others that used at least BUSY_PROCESS_PCT % of a CPU."""
    wall = after.at - before.at

    def pct(seconds: float) -> float | None:
        return round(100.0 * seconds / wall, 1) if wall > 0 else None

    busy, breakdown, all_user, steal = {}, {}, 0, 0
    for cpu, ticks in after.cpus.items():
        delta = [now - then for now, then in zip(ticks, before.cpus.get(cpu, ticks), strict=True)]
        all_user, steal = all_user + delta[0] + delta[1], steal + delta[7]
        if total := sum(delta):
            busy[cpu] = round(100.0 * (total - delta[3] - delta[4]) / total, 1)
            fields = zip(CPU_FIELDS, delta, strict=False)
            breakdown[cpu] = {name: round(100.0 * d / total, 1) for name, d in fields}
    server: dict[str, Any] = {"cpu_s": 0.0, "user_cpu_s": 0.0, "processes": {}}
    others = []
    for pid, now in after.processes.items():
        then = before.processes.get(pid, ProcStat(now.comm, now.pgid, 0, 0))
        seconds = (now.utime + now.stime - then.utime - then.stime) / CLK_TCK
        if now.pgid in groups:
            server["cpu_s"] += seconds
            server["user_cpu_s"] += (now.utime - then.utime) / CLK_TCK
            server["processes"][str(pid)] = {"comm": now.comm, "cpu_s": seconds}
        elif pid != os.getpid() and (share := pct(seconds) or 0) >= BUSY_PROCESS_PCT:
            others.append({"pid": pid, "command": command_line(pid) or now.comm, "cpu_pct": share})
    server["cpu_pct"] = pct(server["cpu_s"])
    server["exited"] = [
        p for p, s in before.processes.items() if s.pgid in groups and p not in after.processes
    ]
    usage = {}
    for key, a, b in (
        ("children", after.children, before.children),
        ("bench", after.own, before.own),
    ):
        user, cpu = a.ru_utime - b.ru_utime, a.ru_utime - b.ru_utime + a.ru_stime - b.ru_stime
        usage[key] = {"cpu_s": round(cpu, 4), "user_cpu_s": round(user, 4), "cpu_pct": pct(cpu)}
    known = server["user_cpu_s"] + usage["children"]["user_cpu_s"] + usage["bench"]["user_cpu_s"]
    other = pct((all_user + steal) / CLK_TCK - known)
    return {
        "wall_s": round(wall, 4),
        "busy_pct": busy,
        "breakdown_pct": breakdown,
        "server": server,
        **usage,
        "other_load_pct": None if other is None else max(0.0, other),
        "busy_processes": sorted(others, key=lambda o: -o["cpu_pct"]),
    }


# ---------------------------------------------------------------------------------------
# The quiet-machine policy.


def wait_for_quiet(max_wait: float, threshold: float) -> dict[str, Any]:
    """Wait (at most ``max_wait`` s) until all CPUs together are less than ``threshold``
    % of one CPU busy over a QUIET_SAMPLE_S sample; how busy the last sample was."""
    start = time.monotonic()
    while True:
        before = snapshot()
        time.sleep(QUIET_SAMPLE_S)
        use = cpu_use(before, snapshot())
        busy = round(sum(use["busy_pct"].values()), 1)
        waited = round(time.monotonic() - start, 1)
        if busy < threshold or waited >= max_wait:
            return {
                "waited_s": waited,
                "busy_pct": busy,
                "quiet": busy < threshold,
                "busy_processes": use["busy_processes"],
            }


def noisy(run: Mapping[str, Any], threshold: float) -> bool:
    """Other processes used more than ``threshold`` % of a CPU during the run."""
    return (run.get("other_load_pct") or 0.0) > threshold


def metered(run: Callable[[], Run]) -> Callable[[], Run]:
    """``run`` (in this process, or in children it waits for) with its cpu_use()."""

    def measure() -> Run:
        before = snapshot()
        result = run()
        cpu = cpu_use(before, snapshot())
        return result | {"cpu": cpu, "other_load_pct": cpu["other_load_pct"]}

    return measure


def quiet_run(
    measure: Callable[[], Run], args: argparse.Namespace, label: str, status: Callable[[Run], str]
) -> tuple[Run, list[Run]]:
    """One run under the quiet-machine policy: (the kept attempt, the discarded ones).

    Before each attempt, wait_for_quiet(); an attempt during which others used more than
    ``--max-other-load`` is redone, at most ``--retries`` times, and the quietest is kept
    (by that figure alone, never by the result). ``measure()`` gives the run with its
    ``other_load_pct`` (None when it failed: a failure is never retried away)."""
    attempts = []
    for attempt in range(1, args.retries + 2):
        quiet = wait_for_quiet(args.quiet_wait, args.max_other_load)
        run = measure() | {"attempt": attempt, "quiet_wait": quiet}
        attempts.append(run)
        other = run.get("other_load_pct")
        tail = "" if other is None else f"  other {other:.0f} %"
        tail += f" (attempt {attempt})" if attempt > 1 else ""
        print(f"{label} {status(run)}{tail}", file=sys.stderr, flush=True)
        if other is None or not noisy(run, args.max_other_load):
            break
    if any(run.get("other_load_pct") is None for run in attempts):
        kept = attempts[-1]
    else:
        kept = min(attempts, key=lambda run: run["other_load_pct"])
    return kept, [run for run in attempts if run is not kept]


def status_line(template: str) -> Callable[[Run], str]:
    """What quiet_run() prints of a run: ``template`` filled with it, or why it failed."""

    def status(run: Run) -> str:
        if "error" not in run:
            return fill(template, run)
        lines = [line for line in run["error"].splitlines() if line.strip()]
        return "FAILED: " + lines[0] + (f" … {lines[-1]}" if len(lines) > 1 else "")

    return status


def run_rounds(
    report: dict[str, Any],
    args: argparse.Namespace,
    orders: Sequence[Sequence[str]],
    measure: Callable[..., Run],
    status: str,
) -> None:
    """Interleaved rounds (rounds()): ``measure(round, item of each order...)`` under the
    quiet-machine policy; the kept runs go to ``report["runs"]``, the other attempts to
    ``report["discarded_runs"]``."""
    for rnd, *items in rounds(args.rounds, *orders):
        label = f"round {rnd} " + " ".join(f"{item:8}" for item in items)
        measured = functools.partial(measure, rnd, *items)
        kept, discarded = quiet_run(measured, args, label, status_line(status))
        report["runs"].append(kept)
        report["discarded_runs"] += discarded


def rounds(count: int, *orders: Sequence[str]) -> Iterator[tuple[Any, ...]]:
    """(round, an item of each order, ...) for interleaved rounds: round n runs every
    combination once, each order rotated left by n - 1 places."""
    for number in range(1, count + 1):
        combos: list[tuple[Any, ...]] = [()]
        for order in orders:
            shift = (number - 1) % (len(order) or 1)
            combos = [(*c, item) for c in combos for item in [*order[shift:], *order[:shift]]]
        yield from ((number, *combo) for combo in combos)


def noise_text(runs: Sequence[Run], discarded: Sequence[Run], threshold: float) -> str:
    """A paragraph for the report: the others' load during the kept runs, the redone
    and still-noisy ones, the waits for a quiet machine, the busy other processes."""
    others = [run["other_load_pct"] for run in runs if run.get("other_load_pct") is not None]
    if not others:
        return ""
    parts = [
        f"Other load during the runs (others' user time and steal, % of one CPU): median "
        f"{statistics.median(others):.0f}, max {max(others):.0f}"
    ]
    if discarded:
        parts.append(f"{len(discarded)} noisy attempt(s) redone (`discarded_runs` in the JSON)")
    if still := sum(noisy(run, threshold) for run in runs):
        parts.append(f"**{still} kept run(s) still above {threshold:g} %** after the retries")
    waits = [run["quiet_wait"] for run in runs if "quiet_wait" in run]
    if gave_up := sum(not wait["quiet"] for wait in waits):
        parts.append(f"{gave_up} wait(s) for a quiet machine gave up")
    busiest: dict[str, float] = {}
    for run in runs:
        for other in run.get("cpu", {}).get("busy_processes", []):
            busiest[other["command"]] = max(busiest.get(other["command"], 0.0), other["cpu_pct"])
    named = sorted(busiest.items(), key=lambda item: -item[1])[:6]
    parts.append(
        "busy: " + ", ".join(f"`{c}` (up to {p:.0f} %)" for c, p in named)
        if named
        else f"no other process used ≥ {BUSY_PROCESS_PCT:g} % of a CPU"
    )
    return "; ".join(parts) + "."


# ---------------------------------------------------------------------------------------
# Servers: pinned, in their own process group.


def pinning(requested: bool) -> dict[str, Any]:
    """Whether servers can run on SERVER_CPU and the load on CLIENT_CPU (``taskset``)."""
    state: dict[str, Any] = {"enabled": False, "server_cpu": SERVER_CPU, "client_cpu": CLIENT_CPU}
    taskset = state["taskset"] = shutil.which("taskset")
    if not requested:
        state["reason"] = "disabled with --no-pin"
    elif taskset is None:
        state["reason"] = "taskset not found"
    elif not {SERVER_CPU, CLIENT_CPU} <= os.sched_getaffinity(0):
        state["reason"] = f"CPUs {SERVER_CPU},{CLIENT_CPU} not both available to this process"
    else:
        works = all(
            subprocess.run([taskset, "-c", str(cpu), "true"], capture_output=True).returncode == 0
            for cpu in (SERVER_CPU, CLIENT_CPU)
        )
        state |= {"enabled": works, "reason": "taskset" if works else "taskset failed"}
    return state


def pin_prefix(pin: Mapping[str, Any], cpu: int) -> list[str]:
    """``taskset -c CPU`` when pinning is enabled, else nothing."""
    return [pin["taskset"], "-c", str(cpu)] if pin["enabled"] else []


@dataclass
class Launch:
    """How to start a server: command, environment, directory, notes for the JSON."""

    argv: list[str]
    env: dict[str, str] | None = None
    cwd: Path | None = None
    notes: dict[str, Any] = field(default_factory=dict)


def log_tail(path: Path, lines: int = 15) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


@contextlib.contextmanager
def running(
    launch: Launch, log: Path, ready: Callable[[], bool], pin: Sequence[str] = ()
) -> Iterator[subprocess.Popen[bytes]]:
    """Start the server (after the ``pin`` prefix) in a new process group, its output to
    ``log``; yield once ``ready()`` is true. On the way out SIGTERM the whole group, then
    SIGKILL what is left of it (NSD's forks, nginx's worker: none outlives the bench)."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [*pin, *launch.argv],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=launch.env,
            cwd=launch.cwd,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not ready():
            if proc.poll() is not None or time.monotonic() > deadline:
                what = (
                    "did not answer in time"
                    if proc.poll() is None
                    else f"exited ({proc.returncode})"
                )
                raise BenchError(f"{launch.argv[0]} {what}; log tail:\n{log_tail(log)}")
            time.sleep(0.05)
        yield proc
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=STOP_TIMEOUT)


def still_running(proc: subprocess.Popen[bytes], log: Path, when: str) -> None:
    if proc.poll() is not None:
        raise BenchError(f"the server died {when}; log tail:\n{log_tail(log)}")


def group_affinity(pgid: int) -> dict[str, list[int] | None]:
    """The CPUs each process of the group may run on (the pinning, checked)."""
    out: dict[str, list[int] | None] = {}
    for pid in (pid for pid, stat in processes().items() if stat.pgid == pgid):
        try:
            out[str(pid)] = sorted(os.sched_getaffinity(pid))
        except OSError:
            out[str(pid)] = None
    return out


@contextlib.contextmanager
def workdir(prefix: str, keep: bool) -> Iterator[Path]:
    """A temporary directory (0755: nginx's worker, "nobody", reads the files in it),
    removed afterwards unless ``keep``."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    try:
        yield path
    finally:
        if keep:
            print(f"# kept {path}", file=sys.stderr)
        else:
            shutil.rmtree(path, ignore_errors=True)


def find_program(name: str) -> str | None:
    """The program's path, looked up in PATH and then in the sbin directories."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/local/sbin")


def run_tool(argv: list[str], seconds: float, parse: Callable[[str], Any]) -> tuple[Any, str]:
    """Run a load generator for ``seconds`` (killed 30 s later); its parsed and raw output."""
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=seconds + 30, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as exc:  # subprocess.run kills it
        raise BenchError(f"{argv[0]} did not finish within {seconds + 30:g} s") from exc
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise BenchError(f"{shlex.join(argv)} exited with {done.returncode}:\n{output[-1500:]}")
    return parse(output), output


# ---------------------------------------------------------------------------------------
# Versions, the machine and the webtrip source.


def command_output(argv: Sequence[str]) -> str:
    """stdout + stderr of a short command, or "" if it cannot run or takes over 10 s."""
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout + done.stderr


# How each peer says its version: (arguments, pattern whose group 1 is the version).
VERSION_COMMANDS = {
    "dnsperf": (["-h"], r"^Version (\S+)"),
    "nsd": (["-v"], r"^NSD version (\S+)"),
    "unbound": (["-V"], r"^Version (\S+)"),
    "nginx": (["-v"], r"nginx/(\S+)"),
    "wrk": (["--version"], r"^wrk (\S+)"),
}


def version_in(text: str, program: str) -> str | None:
    """The version ``program`` printed in ``text`` (its VERSION_COMMANDS output)."""
    match = re.search(VERSION_COMMANDS[program][1], text, re.MULTILINE)
    return match[1] if match else None


def package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def git(*argv: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(ROOT), *argv], capture_output=True, timeout=60)


def versions(programs: Sequence[str] = (), packages: Sequence[str] = ()) -> dict[str, Any]:
    """Python, webtrip, the peers (programs, their Debian packages, Python packages),
    and the machine."""
    out: dict[str, Any] = {
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "webtrip": package_version("webtrip"),
        "webtrip_commit": git("rev-parse", "--short", "HEAD").stdout.decode().strip() or None,
    }
    out |= {name: package_version(name) for name in packages}
    for name in programs:
        path = find_program(name)
        out[name] = path and version_in(command_output([path, *VERSION_COMMANDS[name][0]]), name)
    deb = command_output(["dpkg-query", "-W", "-f", "${Package} ${Version}\n", *programs])
    out["debian_packages"] = dict(
        line.split(" ", 1) for line in deb.splitlines() if line.count(" ") == 1
    )
    cpu = re.search(r"^model name\s*:\s*(.*)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE)
    name = re.search(r'^PRETTY_NAME="?([^"\n]*)', Path("/etc/os-release").read_text(), re.MULTILINE)
    return out | {
        "kernel": platform.release(),
        "os": name and name[1],
        "cpu_model": cpu and cpu[1],
        "cpu_count": os.cpu_count(),
    }


def machine_text(ver: Mapping[str, Any]) -> str:
    cpus = f"{ver['cpu_count']} × {ver['cpu_model']}"
    return f"{cpus}, {ver['os']}, Linux {ver['kernel']}, Python {ver['python']}"


def webtrip_source(rev: str | None, workdir: Path) -> tuple[Path, dict[str, Any]]:
    """The src/ directory webtrip runs from: the working tree's (uncommitted changes to
    it are listed, and said on stderr), or ``git archive REV src`` exported into
    ``workdir`` so that edits made while the bench runs cannot change what it measures.
    An export's files get the working tree's modification times: the demo site's
    Last-Modified headers, and so the simulation's packets, then do not differ."""
    if rev is None:
        status = git("status", "--porcelain", "--", "src")
        dirty = status.stdout.decode().splitlines() if not status.returncode else None
        if dirty:
            print(
                f"# webtrip runs from the working tree, with {len(dirty)} uncommitted "
                "change(s) to src/ (--webtrip-rev HEAD: the last commit)",
                file=sys.stderr,
            )
        head = git("rev-parse", "HEAD").stdout.decode().strip() or None
        return ROOT / "src", {"source": "working tree", "head": head, "src_changes_vs_head": dirty}
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
    for path in (target / "src").rglob("*"):
        twin = ROOT / "src" / path.relative_to(target / "src")
        if path.is_file() and twin.is_file():
            os.utime(path, ns=(twin.stat().st_atime_ns, twin.stat().st_mtime_ns))
    return target / "src", {"source": "git archive", "rev": rev, "commit": commit}


def webtrip_env(src: Path) -> dict[str, str]:
    """This environment with NO_COLOR=1 and ``src`` first on PYTHONPATH."""
    path = os.pathsep.join(p for p in (str(src), os.environ.get("PYTHONPATH", "")) if p)
    return dict(os.environ, NO_COLOR="1", PYTHONPATH=path)


def webtrip_label(ver: Mapping[str, Any], source: Mapping[str, Any]) -> str:
    """ "webtrip 0.1.0 @ 36d6a14" (+ uncommitted src/ changes)."""
    if source.get("commit"):
        return f"webtrip {ver['webtrip']} @ {source['commit'][:7]}"
    dirty = " + uncommitted src/ changes" if source.get("src_changes_vs_head") else ""
    return f"webtrip {ver['webtrip']} @ {(source.get('head') or '?')[:7]}{dirty}"


# ---------------------------------------------------------------------------------------
# Figures: medians, paired ratios, Markdown.

Metric = Callable[[Run], Any]
CPU_METRICS: dict[str, Metric] = {
    "server_cpu_pct": lambda run: run["cpu"]["server"]["cpu_pct"],
    "client_cpu_pct": lambda run: run["cpu"]["children"]["cpu_pct"],  # the load generator
    "busy_server_cpu_pct": lambda run: run["cpu"]["busy_pct"].get(f"cpu{SERVER_CPU}"),
    "busy_client_cpu_pct": lambda run: run["cpu"]["busy_pct"].get(f"cpu{CLIENT_CPU}"),
    "steal_pct": lambda run: max(cpu["steal"] for cpu in run["cpu"]["breakdown_pct"].values()),
    "other_load_pct": lambda run: run.get("other_load_pct"),
}


def summarise(
    runs: Sequence[Run],
    servers: Iterable[str],
    metrics: Mapping[str, Metric],
    threshold: float,
    per_request: str = "",
) -> dict[str, dict[str, Any]]:
    """Per server: how many runs succeeded, failed or stayed noisy (``rounds``: "3/3 (1
    noisy)"), and each metric's median, min, max and every value over the runs that
    succeeded; ``capacity``: 10⁶ ÷ the median of the ``per_request`` metric (CPU µs per
    request), the requests a fully busy CPU could serve, *an estimate*."""
    out = {}
    for server in servers:
        mine = [run for run in runs if run["server"] == server]
        ok = [run for run in mine if run.get("result")]
        noisy_rounds = [run["round"] for run in ok if noisy(run, threshold)]
        entry: dict[str, Any] = {
            "rounds_ok": len(ok),
            "rounds_failed": len(mine) - len(ok),
            "noisy_rounds": noisy_rounds,
            "rounds": f"{len(ok)}/{len(mine)}"
            + (f" ({len(noisy_rounds)} noisy)" if noisy_rounds else ""),
        }
        if errors := [run["error"] for run in mine if not run.get("result")]:
            entry["last_error"] = errors[-1]
        for name, get in metrics.items():
            if values := [value for run in ok if (value := get(run)) is not None]:
                entry[name] = {
                    "median": statistics.median(values),
                    "min": min(values),
                    "max": max(values),
                    "all": values,
                }
        if per_request in entry:
            entry["capacity"] = 1e6 / entry[per_request]["median"]
        out[server] = entry
    return out


def by_round(runs: Iterable[Run], server: str, get: Metric) -> dict[int, Any]:
    """round -> ``get(run)`` for the runs of ``server`` that succeeded."""
    return {run["round"]: get(run) for run in runs if run["server"] == server and run.get("result")}


def paired_ratio(top: Mapping[Any, float], bottom: Mapping[Any, float]) -> dict[str, Any] | None:
    """top ÷ bottom, one value of each per round: the ratio of the medians, and the median
    of the per-round ratios (the two runs of a round are minutes apart at most)."""
    top = {k: v for k, v in top.items() if v}
    bottom = {k: v for k, v in bottom.items() if v}
    if not top or not bottom:
        return None
    paired = [top[k] / bottom[k] for k in top if k in bottom]
    return {
        "ratio_of_medians": statistics.median(top.values()) / statistics.median(bottom.values()),
        "median_of_paired_round_ratios": statistics.median(paired) if paired else None,
    }


def ratios(
    runs: Sequence[Run], pairs: Iterable[tuple[str, str]], metrics: Mapping[str, Metric]
) -> dict[str, dict[str, Any]]:
    """ "a/b" -> metric -> paired_ratio() of a's runs to b's."""
    return {
        f"{a}/{b}": {
            m: paired_ratio(by_round(runs, a, get), by_round(runs, b, get))
            for m, get in metrics.items()
        }
        for a, b in pairs
    }


def ratio_value(value: Mapping[str, Any] | None, invert: bool = False) -> float | None:
    if value is None:
        return None
    return 1 / value["ratio_of_medians"] if invert else value["ratio_of_medians"]


def ratio_text(value: Mapping[str, Any] | None, invert: bool = False) -> str:
    """A paired_ratio() for a Markdown cell: **ratio of medians×** (per-round×)."""
    if value is None:
        return "n/a"
    median, paired = value["ratio_of_medians"], value["median_of_paired_round_ratios"]
    if invert:
        median, paired = 1 / median, (1 / paired if paired else None)
    return f"**{median:.3g}×**" + (f" ({paired:.3g}×)" if paired else "")


class _Missing:
    """What fill() puts for a missing figure: any field of it, in any format, is "n/a"."""

    def __getitem__(self, key: object) -> _Missing:
        return self

    def __format__(self, spec: str) -> str:
        return "n/a"


class _Figures(dict[str, Any]):
    def __missing__(self, key: str) -> _Missing:
        return _Missing()


def fill(template: str, values: Mapping[str, Any]) -> str:
    """``template.format(**values)``, "n/a" for a figure that is missing (a metric no
    run had); "{qps[median]:,.0f}" is the median of a summarise() metric."""
    return template.format_map(_Figures(values))


def server_rows(
    summary: Mapping[str, Mapping[str, Any]], names: Mapping[str, str], row: str
) -> list[str]:
    """A Markdown table's rows, one per server: ``row`` filled with its summary, its
    ``name`` and ``rounds`` (ok/all, noisy); a server whose every run failed says so."""
    return [
        fill(row, s | {"name": names[server]})
        if s["rounds_ok"]
        else f"| {names[server]} | failed | {s['rounds']} |"
        for server, s in summary.items()
    ]


def load_notes(
    summary: Mapping[str, Mapping[str, Any]], labels: Mapping[str, str], tool: str, unit: str
) -> list[str]:
    """Where the load generator itself used at least GENERATOR_BOUND_PCT % of its CPU
    (its own time: a neighbour on that CPU does not count), the figure is a lower bound."""
    lines = []
    for server, s in summary.items():
        used = s.get("client_cpu_pct", {}).get("median")
        if s["rounds_ok"] and used and used >= GENERATOR_BOUND_PCT:
            lines += [
                f"During the {labels[server]} runs {tool} used {used:.0f} % of its CPU while the "
                f"server used {s['server_cpu_pct']['median']:.0f} % of its own: the load generator "
                f"is likely the limit; read the figure as a lower bound, and compare CPU per "
                f"{unit} instead.",
                "",
            ]
    return lines


# ---------------------------------------------------------------------------------------
# Results.


def main(bench: Callable[[], int]) -> int:
    """Run a bench's main(): a BenchError before any run (a missing program, a bad
    revision) is one sentence on stderr and exit status 2, not a traceback."""
    try:
        return bench()
    except BenchError as exc:
        print(f"{Path(sys.argv[0]).stem}: {exc}", file=sys.stderr)
        return 2


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def start_report(
    name: str, args: argparse.Namespace, argv: Sequence[str] | None, **ver: Any
) -> dict[str, Any]:
    """A result's opening: the bench, its command line, its options, the versions."""
    given = sys.argv[1:] if argv is None else list(argv)
    options = {
        k: v if isinstance(v, int | float | str | list | None) else str(v)
        for k, v in vars(args).items()
    }
    return {
        "benchmark": name,
        "started_at": utc_now(),
        "args": options,
        "versions": versions(**ver),
        "command": shlex.join(["python", f"bench/{name}.py", *given]),
    }


@contextlib.contextmanager
def saved(
    report: dict[str, Any], out: Path, render: Callable[[dict[str, Any]], str]
) -> Iterator[None]:
    """Write ``report`` as JSON to ``out`` and ``render(report)`` beside it (.md) however
    the block ends; SIGTERM ends it as Ctrl-C does, and an interrupted run is written to
    NAME.interrupted.json. A complete report also goes to stdout."""

    def terminate(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    except BaseException as exc:
        report["interrupted"] = type(exc).__name__
        out = out.with_name(out.stem + ".interrupted.json")
        raise
    finally:
        report["finished_at"] = utc_now()
        try:
            report["markdown"] = render(report)
        except Exception as exc:  # a partial result still gets its JSON
            report["markdown"] = f"(no report: {type(exc).__name__}: {exc})"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        out.with_suffix(".md").write_text(report["markdown"] + "\n", encoding="utf-8")
        print(f"# wrote {out} and {out.with_suffix('.md')}", file=sys.stderr)
        if "interrupted" not in report:
            print(report["markdown"])
