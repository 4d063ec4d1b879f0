"""Hostile clients (issue 14), webtrip beside nginx and NSD under the same attacks.

    python -m bench.hostile [ATTACK ...] [--quick] [--json] [--no-peers] [--rounds N]

Each attack starts each server afresh (webtrip from this tree's src/, and its peer: nginx
for the web server, NSD for the authoritative DNS server; the resolver and the browser have
no peer), attacks it from this process while an honest client measures what it still gets,
and reads the server's memory from /proc: the peak (VmHWM, summed over the server's process
group) and the RSS a few seconds after the attackers have gone. Loopback only; every loop is
bounded in count and in time. Results: bench/results/hostile.json and hostile.md.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gzip
import json
import os
import random
import re
import resource
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dns.message
import dns.query
import dns.rdatatype

# The benchmarks are scripts that import each other by name: bench/ on the path (here, as
# ``python -m bench.hostile`` imports this package before its __main__).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import harness

HOST = harness.HOST
ORIGIN = "example.test"
ZONE = harness.ROOT / "tests" / "data" / "zones" / "example.test.zone"
Row = dict[str, Any]


@dataclass(frozen=True)
class Scale:
    """The sizes of one run: the issue's figures (full) or a few-seconds version (quick)."""

    duration: float  # seconds of attack (and of honest measurement) per server
    pipeliners: int  # 1. DNS TCP clients that pipeline and never read
    pipeline_bytes: int  # 1. bytes of queries each pipeliner tries to send
    gzip_clients: int  # 2. web clients asking for the big file with gzip, never reading
    big_mb: int  # 2, 3. the big text file's size
    idle_web: int  # 4. idle web connections
    idle_dns: int  # 4. idle DNS TCP connections
    fd_flood: int  # 5. connections opened against the 1,024-descriptor server
    flood_pps: int  # 6. junk packets per second
    images: int  # 7. gzip-bomb images on the page
    zone_records: int  # 8. records in the big zone
    after_wait: float  # seconds between the attackers leaving and the "RSS after" reading


FULL = Scale(10.0, 128, 4 << 20, 300, 8, 2500, 3000, 1500, 15000, 10, 300_000, 3.0)
QUICK = Scale(2.0, 16, 1 << 20, 30, 2, 200, 200, 1100, 15000, 2, 10_000, 1.0)


# ---------------------------------------------------------------------------------------
# Memory of a process group, from /proc.


def group_pids(pgid: int) -> list[int]:
    return [pid for pid, stat in harness.processes().items() if stat.pgid == pgid]


def status_kb(pid: int, key: str) -> int:
    with contextlib.suppress(OSError):
        text = Path(f"/proc/{pid}/status").read_text()
        if match := re.search(rf"^{key}:\s+(\d+) kB", text, re.MULTILINE):
            return int(match[1])
    return 0


def memory_mb(pgid: int, key: str) -> float:
    """``key`` (VmRSS, VmHWM) summed over the group's processes, in MB."""
    return round(sum(status_kb(pid, key) for pid in group_pids(pgid)) / 1024, 1)


# ---------------------------------------------------------------------------------------
# Servers.


@dataclass
class Server:
    name: str  # "webtrip", "nginx", "nsd", "webtrip-resolver"
    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pgid(self) -> int:
        return self.proc.pid


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def tcp_ready(port: int) -> Callable[[], bool]:
    def ready() -> bool:
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return True
        except OSError:
            return False

    return ready


def dns_ready(port: int, name: str = f"www.{ORIGIN}") -> Callable[[], bool]:
    def ready() -> bool:
        try:
            dns.query.udp(dns.message.make_query(name, "A"), HOST, port=port, timeout=0.5)
            return True
        except Exception:
            return False

    return ready


def nginx_conf(run_dir: Path, folder: Path, port: int, nofile: int | None = None) -> str:
    """One worker, gzip on for text/plain (and the default text/html), room for the
    idle-connection attack (worker_connections 4096); with ``nofile``, nginx is told its
    descriptor limit and asked for 4000 connections, as webtrip is in attack 5."""
    temp = "\n".join(
        f"    {kind}_temp_path {run_dir}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    rlimit = f"worker_rlimit_nofile {nofile};" if nofile else ""
    return f"""worker_processes 1;
daemon off;
pid {run_dir}/nginx.pid;
error_log {run_dir}/error.log warn;
{rlimit}
events {{
    worker_connections {4000 if nofile else 4096};
}}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    gzip on;
    gzip_types text/plain;
{temp}
    server {{
        listen {HOST}:{port};
        root {folder};
    }}
}}
"""


def nsd_conf(run_dir: Path, zone: Path, port: int) -> str:
    """As bench/dns_qps.py: one server process, RRL off, every path in ``run_dir``; TCP
    left at NSD's defaults (tcp-count 100, tcp-timeout 120)."""
    return f"""server:
    server-count: 1
    ip-address: {HOST}@{port}
    port: {port}
    do-ip4: yes
    do-ip6: no
    username: ""
    chroot: ""
    zonesdir: "{run_dir}"
    database: ""
    zonelistfile: "{run_dir}/zone.list"
    xfrdfile: "{run_dir}/xfrd.state"
    xfrdir: "{run_dir}/xfr"
    pidfile: "{run_dir}/nsd.pid"
    logfile: "{run_dir}/nsd.log"
    verbosity: 1
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: "{ORIGIN}"
    zonefile: "{zone}"
"""


class Lab:
    """The run's temporary folder, the webtrip source and the servers it starts."""

    def __init__(self, work: Path, args: argparse.Namespace) -> None:
        self.work = work
        self.args = args
        self.env = harness.webtrip_env(args.webtrip_src)
        self.site = work / "site"
        self.site.mkdir()
        (self.site / "small.html").write_text("<!doctype html><title>ok</title><p>ok</p>\n")
        self.zone = work / "example.test.zone"
        shutil.copy(ZONE, self.zone)
        self._big: int | None = None

    def big_file(self, megabytes: int) -> str:
        """An ``megabytes`` MB text file of seeded random words (gzip: ~3.5×)."""
        if self._big != megabytes:
            rng = random.Random(1)
            words = [
                "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 9)))
                for _ in range(5000)
            ]
            chunks, size = [], 0
            while size < megabytes * 1_000_000:
                line = " ".join(rng.choices(words, k=12)) + "\n"
                chunks.append(line)
                size += len(line)
            data = "".join(chunks)[: megabytes * 1_000_000]  # 8 MB ≤ webtrip's gzip limit
            (self.site / "big.txt").write_text(data)
            self._big = megabytes
        return "/big.txt"

    def has(self, program: str) -> bool:
        """Whether a peer program may be used: installed, and peers not turned off."""
        return not self.args.no_peers and harness.find_program(program) is not None

    def peers(self, name: str) -> tuple[str, ...]:
        """``(name,)`` when that peer may be used, else ()."""
        return (name,) if self.has(name) else ()

    def webtrip_python(self) -> list[str]:
        return [sys.executable, "-m", "webtrip"]

    @contextlib.contextmanager
    def server(self, name: str, prefix: tuple[str, ...] = (), **opts: Any) -> Iterator[Server]:
        port = free_port()
        log = self.work / f"{name}-{port}.log"
        if name == "webtrip-web":
            argv = [
                *self.webtrip_python(),
                "web",
                "serve",
                str(self.site),
                "--listen",
                f"{HOST}:{port}",
                *opts.get("extra", ()),
            ]
            launch = harness.Launch([*prefix, *argv], self.env, self.work)
            ready = tcp_ready(port)
        elif name == "nginx":
            nginx = harness.find_program("nginx")
            if nginx is None:
                raise harness.BenchError("nginx is not installed")
            run_dir = self.work / f"nginx-{port}"
            run_dir.mkdir()
            conf = run_dir / "nginx.conf"
            conf.write_text(nginx_conf(run_dir, self.site, port, opts.get("nofile")))
            launch = harness.Launch(
                [*prefix, nginx, "-p", f"{run_dir}/", "-c", str(conf)], None, run_dir
            )
            log = run_dir / "error.log"
            ready = tcp_ready(port)
        elif name == "webtrip-dns":
            zone = opts.get("zone", self.zone)
            argv = [
                *self.webtrip_python(),
                "dns",
                "serve",
                "--zone",
                str(zone),
                "--listen",
                f"{HOST}:{port}",
            ]
            launch = harness.Launch(argv, self.env, self.work)
            ready = dns_ready(port, opts.get("probe", f"www.{ORIGIN}"))
        elif name == "nsd":
            nsd = harness.find_program("nsd")
            if nsd is None:
                raise harness.BenchError("nsd is not installed")
            run_dir = self.work / f"nsd-{port}"
            (run_dir / "xfr").mkdir(parents=True)
            conf = run_dir / "nsd.conf"
            conf.write_text(nsd_conf(run_dir, self.zone, port))
            launch = harness.Launch([nsd, "-d", "-c", str(conf)], None, run_dir)
            ready = dns_ready(port)
        elif name == "webtrip-resolver":
            upstream = opts["upstream"]
            argv = [
                *self.webtrip_python(),
                "dns",
                "resolver",
                "--forward",
                f"{HOST}:{upstream}",
                "--listen",
                f"{HOST}:{port}",
            ]
            launch = harness.Launch(argv, self.env, self.work)
            ready = dns_ready(port)
        else:
            raise ValueError(name)
        with harness.running(launch, log, ready) as proc:
            yield Server(name, port, proc, log)


# ---------------------------------------------------------------------------------------
# Honest clients.


def dns_tcp_honest(port: int, seconds: float, name: str = f"www.{ORIGIN}") -> dict[str, Any]:
    """`dig +tcp`'s part: one query per new connection, 2 s timeout, for ``seconds``
    (at most 100,000 queries)."""
    ok = failed = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end and ok + failed < 100_000:
        try:
            answer = dns.query.tcp(dns.message.make_query(name, "A"), HOST, port=port, timeout=2)
            ok += bool(answer.answer)
            failed += not answer.answer
        except Exception:
            failed += 1
    return {
        "honest_ok": ok,
        "honest_failed": failed,
        "honest_per_s": round(ok / seconds, 1),
        "honest_pct": round(100 * ok / max(1, ok + failed), 1),
    }


WRK_COUNTS = {
    "requests": r"(\d+) requests in",
    "non2xx": r"Non-2xx or 3xx responses: (\d+)",
    "connect": r"Socket errors: connect (\d+)",
    "read": r"Socket errors: connect \d+, read (\d+)",
    "write": r"Socket errors: connect \d+, read \d+, write (\d+)",
    "timeout": r"timeout (\d+)",
}


def parse_wrk(text: str) -> dict[str, int]:
    return {k: int(m[1]) if (m := re.search(p, text)) else 0 for k, p in WRK_COUNTS.items()}


def web_honest(port: int, path: str, seconds: float) -> dict[str, Any]:
    """wrk, one thread and 4 connections on ``path``, 2 s timeout, for ``seconds``."""
    wrk = harness.find_program("wrk")
    if wrk is None:
        raise harness.BenchError("wrk is not installed")
    argv = [
        wrk,
        "-t1",
        "-c4",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "2s",
        f"http://{HOST}:{port}{path}",
    ]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 15)
    except subprocess.TimeoutExpired:  # its connections hung: nothing was answered
        return {"honest_ok": 0, "honest_failed": 4, "honest_per_s": 0.0, "honest_pct": 0.0,
                "wrk": {"hung": f"still running {seconds + 15:g} s later, killed"}}  # fmt: skip
    counts: dict[str, Any] = parse_wrk(done.stdout + done.stderr)
    if not counts["requests"]:  # nothing answered: keep what wrk said
        counts["output"] = (done.stdout + done.stderr)[-600:]
    ok = counts["requests"] - counts["non2xx"]
    failed = counts["non2xx"] + counts["connect"] + counts["timeout"] + counts["read"]
    return {
        "honest_ok": ok,
        "honest_failed": failed,
        "honest_per_s": round(ok / seconds, 1),
        "honest_pct": round(100 * ok / max(1, ok + failed), 1),
        "wrk": counts,
    }


def dnsperf_qps(port: int, queries: Path, seconds: float) -> dict[str, Any]:
    """dnsperf -c 4 -q 32 over ``queries`` for ``seconds``: completed qps and % answered."""
    dnsperf = harness.find_program("dnsperf")
    if dnsperf is None:
        raise harness.BenchError("dnsperf is not installed")
    argv = [
        dnsperf,
        "-s",
        HOST,
        "-p",
        str(port),
        "-d",
        str(queries),
        "-c",
        "4",
        "-q",
        "32",
        "-t",
        "2",
        "-l",
        f"{seconds:g}",
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30)
    text = done.stdout
    sent = int(m[1]) if (m := re.search(r"Queries sent:\s+(\d+)", text)) else 0
    completed = int(m[1]) if (m := re.search(r"Queries completed:\s+(\d+)", text)) else 0
    qps = float(m[1]) if (m := re.search(r"Queries per second:\s+([\d.]+)", text)) else 0.0
    return {
        "honest_per_s": round(qps, 1),
        "honest_ok": completed,
        "honest_failed": sent - completed,
        "honest_pct": round(100 * completed / max(1, sent), 1),
    }


# ---------------------------------------------------------------------------------------
# Attackers.


def open_connections(
    port: int, count: int, seconds: float, rcvbuf: int = 0, first: bytes = b""
) -> list[socket.socket]:
    """Up to ``count`` TCP connections (within ``seconds``), each sending ``first``."""
    conns: list[socket.socket] = []
    end = time.monotonic() + seconds
    while len(conns) < count and time.monotonic() < end:
        sock = socket.socket()
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.settimeout(1.0)
        try:
            sock.connect((HOST, port))
            if first:
                sock.sendall(first)
        except OSError:
            sock.close()
            continue
        sock.setblocking(False)
        conns.append(sock)
    return conns


def close_all(conns: list[socket.socket]) -> None:
    for sock in conns:
        sock.close()


def dns_tcp_message(qname: str, rdtype: str, qid: int) -> bytes:
    wire = dns.message.make_query(qname, rdtype, id=qid).to_wire()
    return struct.pack("!H", len(wire)) + wire


def pipeline(conns: list[socket.socket], blob: bytes, limit: int, seconds: float) -> int:
    """Send ``blob`` again and again on every connection, never reading, until each has
    sent ``limit`` bytes, or ``seconds`` pass; the bytes sent in all."""
    sent = dict.fromkeys(range(len(conns)), 0)
    end = time.monotonic() + seconds
    while time.monotonic() < end and any(n < limit for n in sent.values()):
        progress = False
        for i, sock in enumerate(conns):
            if sent[i] >= limit:
                continue
            try:
                n = sock.send(blob)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                sent[i] = limit  # closed by the server
                continue
            sent[i] += n
            progress = progress or n > 0
        if not progress:
            time.sleep(0.01)
    return sum(sent.values())


@contextlib.contextmanager
def background(target: Callable[[threading.Event], Any]) -> Iterator[dict[str, Any]]:
    """Run ``target(stop)`` in a thread for the block's duration; its result in out."""
    stop = threading.Event()
    out: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: out.update(result=target(stop)), daemon=True)
    thread.start()
    try:
        yield out
    finally:
        stop.set()
        thread.join(timeout=30)


def measured(server: Server, attack: Callable[[], dict[str, Any]], wait: float) -> Row:
    """``attack()`` (attackers + honest figures), then memory: base, peak, after."""
    base = memory_mb(server.pgid, "VmRSS")
    row: Row = {"server": server.name, "rss_before_mb": base}
    row |= attack()
    row["peak_mb"] = memory_mb(server.pgid, "VmHWM")
    time.sleep(wait)
    row["rss_after_mb"] = memory_mb(server.pgid, "VmRSS")
    # A server may go on growing after the attackers left (answers to queries it had read):
    # the peak is the high-water mark read last.
    row["peak_mb"] = max(row["peak_mb"], memory_mb(server.pgid, "VmHWM"))
    row["alive"] = server.proc.poll() is None
    return row


# ---------------------------------------------------------------------------------------
# The attacks: each yields one row per server.


def attack_dns_pipeline(lab: Lab, s: Scale) -> Iterator[Row]:
    """1. DNS TCP pipeliners that never read (authoritative: webtrip, NSD; resolver)."""
    blob = b"".join(dns_tcp_message(f"big.{ORIGIN}", "TXT", i) for i in range(64))

    def attack(server: Server) -> Callable[[], dict[str, Any]]:
        def run() -> dict[str, Any]:
            conns = open_connections(server.port, s.pipeliners, 10, rcvbuf=4096)
            with background(lambda _: pipeline(conns, blob, s.pipeline_bytes, s.duration)) as b:
                honest = dns_tcp_honest(server.port, s.duration)
            close_all(conns)
            return {"attackers": len(conns), "attack_bytes": b.get("result")} | honest

        return run

    for name in ("webtrip-dns", *lab.peers("nsd")):
        with lab.server(name) as server:
            yield measured(server, attack(server), s.after_wait)
    with (
        lab.server("nsd" if lab.has("nsd") else "webtrip-dns") as upstream,
        lab.server("webtrip-resolver", upstream=upstream.port) as server,
    ):
        query = dns.message.make_query(f"big.{ORIGIN}", "TXT")
        dns.query.tcp(query, HOST, port=server.port, timeout=5)  # cached first
        yield measured(server, attack(server), s.after_wait)


def attack_gzip_noread(lab: Lab, s: Scale) -> Iterator[Row]:
    """2. Clients asking for the big text file with gzip and never reading."""
    path = lab.big_file(s.big_mb)
    request = (f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nAccept-Encoding: gzip\r\n\r\n").encode()
    for name in ("webtrip-web", *lab.peers("nginx")):
        with lab.server(name) as server:

            def run(server: Server = server) -> dict[str, Any]:
                conns = open_connections(server.port, s.gzip_clients, 20, 4096, request)
                time.sleep(min(3.0, s.duration))  # let the server compress and buffer
                honest = web_honest(server.port, "/small.html", s.duration)
                close_all(conns)
                return {"attackers": len(conns)} | honest

            yield measured(server, run, s.after_wait)


def fetch_all(port: int, request: bytes, stop: threading.Event, limit: int) -> int:
    """Fetch with ``request`` (Connection: close) again and again, reading everything,
    until ``stop`` or ``limit`` fetches; the number done."""
    done = 0
    while not stop.is_set() and done < limit:
        try:
            with socket.create_connection((HOST, port), timeout=5) as sock:
                sock.sendall(request)
                while sock.recv(1 << 20):
                    pass
            done += 1
        except OSError:
            time.sleep(0.05)
    return done


def attack_gzip_loop(lab: Lab, s: Scale) -> Iterator[Row]:
    """3. Two clients looping on the big file with gzip; an honest one fetches a small file."""
    path = lab.big_file(s.big_mb)
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n"
    ).encode()
    for name in ("webtrip-web", *lab.peers("nginx")):
        with lab.server(name) as server:

            def run(server: Server = server) -> dict[str, Any]:
                alone = web_honest(server.port, "/small.html", min(2.0, s.duration))
                with contextlib.ExitStack() as stack:
                    loops = [
                        stack.enter_context(
                            background(lambda stop: fetch_all(server.port, request, stop, 10_000))
                        )
                        for _ in range(2)
                    ]
                    time.sleep(0.5)
                    honest = web_honest(server.port, "/small.html", s.duration)
                return honest | {
                    "honest_alone_per_s": alone["honest_per_s"],
                    "attack_fetches": [b.get("result") for b in loops],
                }

            yield measured(server, run, s.after_wait)


def attack_idle(lab: Lab, s: Scale) -> Iterator[Row]:
    """4. Idle and slowloris connections: web (webtrip, nginx) and DNS TCP (webtrip, NSD)."""
    partial = f"GET /small.html HTTP/1.1\r\nHost: {HOST}\r\n".encode()  # never finished
    for name in ("webtrip-web", *lab.peers("nginx")):
        with lab.server(name) as server:

            def run(server: Server = server) -> dict[str, Any]:
                half = s.idle_web // 2
                conns = open_connections(server.port, half, 20)
                conns += open_connections(server.port, s.idle_web - half, 20, first=partial)
                honest = web_honest(server.port, "/small.html", s.duration)
                close_all(conns)
                return {"attackers": len(conns)} | honest

            yield measured(server, run, s.after_wait) | {"attack": "idle-web"}
    for name in ("webtrip-dns", *lab.peers("nsd")):
        with lab.server(name) as server:

            def run_dns(server: Server = server) -> dict[str, Any]:
                conns = open_connections(server.port, s.idle_dns, 20)
                honest = dns_tcp_honest(server.port, s.duration)
                close_all(conns)
                return {"attackers": len(conns)} | honest

            yield measured(server, run_dns, s.after_wait) | {"attack": "idle-dns"}


def attack_fds(lab: Lab, s: Scale) -> Iterator[Row]:
    """5. The server under ``ulimit -n 1024`` asked for 4,000 connections, flooded."""
    prlimit = harness.find_program("prlimit")
    if prlimit is None:
        raise harness.BenchError("prlimit (util-linux) is not installed")
    prefix = (prlimit, "--nofile=1024:1024", "--")
    for name in ("webtrip-web", *lab.peers("nginx")):
        opts: dict[str, Any] = {"extra": ("--max-connections", "4000"), "nofile": 1024}
        with lab.server(name, prefix, **opts) as server:

            def run(server: Server = server) -> dict[str, Any]:
                size = server.log.stat().st_size if server.log.exists() else 0
                conns = open_connections(server.port, s.fd_flood, 20)
                honest = web_honest(server.port, "/small.html", s.duration)
                close_all(conns)
                time.sleep(0.5)
                with server.log.open("rb") as log:
                    log.seek(size)
                    text = log.read().decode(errors="replace")
                return (
                    {"attackers": len(conns)}
                    | honest
                    | {
                        "log_lines": text.count("\n"),
                        "tracebacks": text.count("Traceback"),
                        "log_bytes": len(text.encode()),
                    }
                )

            yield measured(server, run, s.after_wait)


def random_case(name: str, rng: random.Random) -> str:
    return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in name)


def junk_flood(port: int, pps: int, stop: threading.Event, limit: int) -> dict[str, Any]:
    """Junk UDP packets (random bytes, 12–100 long, from 8 source ports) at ``pps``, at most
    ``limit``; the count sent and the rate reached."""
    rng = random.Random(2)
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(8)]
    junk = [rng.randbytes(rng.randint(12, 100)) for _ in range(997)]
    sent, start = 0, time.monotonic()
    try:
        while not stop.is_set() and sent < limit:
            due = int((time.monotonic() - start) * pps)
            while sent < min(due, limit):
                with contextlib.suppress(OSError):
                    socks[sent % 8].sendto(junk[sent % 997], (HOST, port))
                sent += 1
            time.sleep(0.002)
    finally:
        for sock in socks:
            sock.close()
    return {"junk_sent": sent, "junk_pps": round(sent / max(1e-9, time.monotonic() - start))}


def attack_dns_costly(lab: Lab, s: Scale) -> Iterator[Row]:
    """6. 0x20 queries on a CNAME chain (lowercase beside); honest qps under a junk flood."""
    rng = random.Random(3)
    files = {
        "lower": lab.work / "chain-lower.txt",
        "0x20": lab.work / "chain-0x20.txt",
        "www": lab.work / "www.txt",
    }
    files["lower"].write_text(f"chain1.{ORIGIN} A\n")
    files["0x20"].write_text(
        "".join(f"{random_case('chain1.' + ORIGIN, rng)} A\n" for _ in range(20_000))
    )
    files["www"].write_text(f"www.{ORIGIN} A\n")
    limit = int(s.flood_pps * (s.duration + 5))
    for name in ("webtrip-dns", *lab.peers("nsd")):
        with lab.server(name) as server:
            lower = dnsperf_qps(server.port, files["lower"], s.duration)
            row = measured(
                server,
                lambda server=server: dnsperf_qps(server.port, files["0x20"], s.duration),
                s.after_wait,
            )
            yield row | {"attack": "0x20-chain", "lowercase_per_s": lower["honest_per_s"]}
        with lab.server(name) as server:

            def run(server: Server = server) -> dict[str, Any]:
                flood = lambda stop: junk_flood(server.port, s.flood_pps, stop, limit)  # noqa: E731
                with background(flood) as b:
                    time.sleep(0.5)
                    honest = dnsperf_qps(server.port, files["www"], s.duration)
                return honest | (b.get("result") or {})

            quiet = dnsperf_qps(server.port, files["www"], min(2.0, s.duration))
            yield measured(server, run, s.after_wait) | {
                "attack": "junk-flood",
                "honest_alone_per_s": quiet["honest_per_s"],
            }


def bomb(decoded: int, rng: random.Random) -> bytes:
    """A gzip body of ``decoded`` bytes that compresses ~100× (a random byte in each 400)."""
    block = bytearray(400)
    out = bytearray()
    while len(out) < decoded:
        block[rng.randrange(400)] = rng.randrange(256)
        out += block
    return gzip.compress(bytes(out[:decoded]), compresslevel=9, mtime=0)


def bomb_server(images: int) -> tuple[Any, int, dict[str, Any]]:
    """A small HTTP server (a thread of this process) whose page shows ``images`` PNG
    "images", each sent as ~50 KB of gzip that decodes to ~4.9 MB."""
    import http.server

    rng = random.Random(4)
    bodies = {f"/img{i}.png": bomb(4_900_000, rng) for i in range(images)}
    page = "<!doctype html><title>bombs</title>" + "".join(
        f'<img src="{p}" alt="">' for p in bodies
    )
    bodies["/"] = page.encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            body = bodies.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            if self.path == "/":
                self.send_header("Content-Type", "text/html")
            else:
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer((HOST, 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    sizes = [len(b) for p, b in bodies.items() if p != "/"]
    info = {
        "images": images,
        "gzip_bytes_each": round(statistics.median(sizes)),
        "decoded_bytes_each": 4_900_000,
    }
    return httpd, httpd.server_address[1], info


def attack_browser(lab: Lab, s: Scale) -> Iterator[Row]:
    """7. `webtrip browse --timeout 5` of a page with gzip-bomb images: wall time, peak RSS."""
    httpd, port, info = bomb_server(s.images)
    argv = [
        *lab.webtrip_python(),
        "browse",
        f"http://{HOST}:{port}/",
        "--no-render",
        "--timeout",
        "5",
    ]
    limit = 120.0
    try:
        start = time.monotonic()
        with (lab.work / "browse.out").open("wb") as out:
            proc = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, env=lab.env, stdin=subprocess.DEVNULL
            )
        killed = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - start > limit and not killed:
                proc.kill()
                killed = True
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - start
    finally:
        httpd.shutdown()
        httpd.server_close()
    tail = (lab.work / "browse.out").read_text(errors="replace").splitlines()[-3:]
    yield {
        "server": "webtrip browse",
        "wall_s": round(wall, 2),
        "peak_mb": round(usage.ru_maxrss / 1024, 1),
        "exit": proc.returncode,
        "killed_after_s": limit if killed else None,
        "output_tail": tail,
    } | info


def big_zone(path: Path, records: int) -> None:
    rng = random.Random(5)
    lines = [
        f"$ORIGIN {ORIGIN}.",
        "$TTL 3600",
        f"@ IN SOA ns1.{ORIGIN}. hostmaster.{ORIGIN}. 1 7200 3600 1209600 300",
        f"@ IN NS ns1.{ORIGIN}.",
        "ns1 IN A 192.0.2.53",
    ]
    for i in range(records - 3):
        lines.append(f"h{i} IN A 10.{rng.randrange(256)}.{rng.randrange(256)}.{i % 256}")
    path.write_text("\n".join(lines) + "\n")


def attack_zone_load(lab: Lab, s: Scale) -> Iterator[Row]:
    """8. A big zone: webtrip's time to its first answer and RSS, vs nsd-checkzone."""
    zone = lab.work / "big.zone"
    big_zone(zone, s.zone_records)
    port, limit = free_port(), 300.0
    argv = [*lab.webtrip_python(), "dns", "serve", "--zone", str(zone), "--listen",
            f"{HOST}:{port}"]  # fmt: skip
    ready = dns_ready(port, f"h1.{ORIGIN}")
    start = time.monotonic()
    with (lab.work / "zone-load.log").open("wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=lab.env,
                                stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    try:
        while not (answered := ready()) and proc.poll() is None:
            if time.monotonic() - start > limit:
                break
            time.sleep(0.2)
        loaded = time.monotonic() - start
        yield {"server": "webtrip", "records": s.zone_records,
               "load_s": round(loaded, 2) if answered else None,
               "error": None if answered else f"no answer after {loaded:.0f} s",
               "peak_mb": memory_mb(proc.pid, "VmHWM"),
               "rss_after_mb": memory_mb(proc.pid, "VmRSS")}  # fmt: skip
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
        proc.wait(timeout=10)
    if lab.has("nsd-checkzone"):
        checkzone = harness.find_program("nsd-checkzone")
        assert checkzone
        start = time.monotonic()
        proc = subprocess.Popen(
            [checkzone, ORIGIN, str(zone)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _, status, usage = os.wait4(proc.pid, 0)
        yield {
            "server": "nsd-checkzone",
            "records": s.zone_records,
            "load_s": round(time.monotonic() - start, 2),
            "peak_mb": round(usage.ru_maxrss / 1024, 1),
            "exit": os.waitstatus_to_exitcode(status),
        }


ATTACKS: dict[str, tuple[Callable[[Lab, Scale], Iterator[Row]], str]] = {
    "dns-pipeline": (attack_dns_pipeline, "NSD; resolver: no peer"),
    "gzip-noread": (attack_gzip_noread, "nginx (gzip on)"),
    "gzip-loop": (attack_gzip_loop, "nginx (gzip on)"),
    "idle": (attack_idle, "nginx; NSD"),
    "fds": (attack_fds, "nginx (worker_rlimit_nofile 1024)"),
    "dns-costly": (attack_dns_costly, "NSD (RRL off)"),
    "browser": (attack_browser, "no peer"),
    "zone-load": (attack_zone_load, "nsd-checkzone"),
}

# ---------------------------------------------------------------------------------------
# Report.

COLUMNS = (
    ("attack", "attack"),
    ("server", "server"),
    ("attackers", "attackers"),
    ("honest_per_s", "honest /s"),
    ("honest_alone_per_s", "honest alone /s"),
    ("honest_pct", "honest answered %"),
    ("peak_mb", "peak MB"),
    ("rss_before_mb", "RSS before MB"),
    ("rss_after_mb", "RSS after MB"),
)


def median_rows(rounds: list[list[Row]]) -> list[Row]:
    """Per (attack, server), the median of each number over the rounds."""
    out: list[Row] = []
    for rows in zip(*rounds, strict=True):
        merged = dict(rows[0])
        for key, value in rows[0].items():
            values = [r.get(key) for r in rows]
            if (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and all(isinstance(v, int | float) for v in values)
            ):
                merged[key] = statistics.median(values)  # type: ignore[type-var]
        merged["rounds"] = len(rows)
        out.append(merged)
    return out


def cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def notes(row: Row) -> str:
    keys = (
        "wall_s",
        "exit",
        "killed_after_s",
        "load_s",
        "records",
        "tracebacks",
        "log_lines",
        "log_bytes",
        "lowercase_per_s",
        "junk_pps",
        "gzip_bytes_each",
        "alive",
        "error",
    )
    return ", ".join(f"{k}={cell(row[k])}" for k in keys if k in row and row[k] is not None)


def markdown(report: dict[str, Any]) -> str:
    head = [title for _, title in COLUMNS] + ["notes", "after"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in report["rows"]:
        cells = [cell(row.get(key)) for key, _ in COLUMNS] + [notes(row), "pending"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# Main.


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.hostile",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("attacks", nargs="*", metavar="ATTACK", help=", ".join(ATTACKS))
    parser.add_argument("--quick", action="store_true", help="small sizes, 2 s each (~2 min)")
    parser.add_argument("--json", action="store_true", help="print the JSON, not the table")
    parser.add_argument("--no-peers", action="store_true", help="webtrip only")
    parser.add_argument(
        "--rounds",
        type=harness.at_least(1),
        default=1,
        help="runs of each attack; the medians are shown",
    )
    parser.add_argument("--webtrip-rev", metavar="REV", help="git archive REV's src/")
    parser.add_argument("--out", type=Path, default=harness.BENCH / "results" / "hostile.json")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    if unknown := [a for a in args.attacks if a not in ATTACKS]:
        parser.error(f"unknown attack {', '.join(unknown)}; choose from {', '.join(ATTACKS)}")
    args.attacks = args.attacks or list(ATTACKS)
    return args


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    scale = QUICK if args.quick else FULL
    nofile = raise_nofile()
    sockets = {"dns-pipeline": scale.pipeliners, "gzip-noread": scale.gzip_clients,
               "idle": max(scale.idle_web, scale.idle_dns), "fds": scale.fd_flood}  # fmt: skip
    needed = max(sockets.get(name, 0) for name in args.attacks) + 200
    if nofile < needed:
        raise harness.BenchError(f"RLIMIT_NOFILE is {nofile}; this run needs {needed}")
    programs = ("nginx", "nsd", "wrk", "dnsperf")
    report: dict[str, Any] = {
        "benchmark": "hostile",
        "started_at": harness.utc_now(),
        "command": " ".join(["python -m bench.hostile", *(sys.argv[1:] if argv is None else argv)]),
        "scale": dataclasses.asdict(scale),
        "versions": harness.versions(programs=programs, packages=("dnspython",)),
        "rlimit_nofile": nofile,
        "peers": "none (--no-peers)" if args.no_peers else {k: v[1] for k, v in ATTACKS.items()},
        "rows": [],
        "rounds": [],
    }
    status = 0
    with harness.workdir("webtrip-hostile-", args.keep) as work:
        args.webtrip_src, report["webtrip_source"] = harness.webtrip_source(args.webtrip_rev, work)
        report["versions"]["webtrip_label"] = harness.webtrip_label(
            report["versions"], report["webtrip_source"]
        )
        for name in args.attacks:
            function, _ = ATTACKS[name]
            rounds: list[list[Row]] = []
            for rnd in range(args.rounds):
                rows: list[Row] = []
                lab_dir = work / f"{name}-{rnd}"
                lab_dir.mkdir()
                lab = Lab(lab_dir, args)
                print(f"# {name}, round {rnd + 1}", file=sys.stderr)
                try:
                    for row in function(lab, scale):
                        row = {"attack": name} | row
                        print(f"#   {json.dumps(row)[:300]}", file=sys.stderr)
                        rows.append(row)
                except (harness.BenchError, OSError, subprocess.SubprocessError) as exc:
                    error = f"{type(exc).__name__}: {exc}"[:500]
                    rows.append({"attack": name, "server": "?", "error": error})
                    status = 1
                rounds.append(rows)
            report["rounds"].append({"attack": name, "runs": rounds})
            try:
                report["rows"] += median_rows(rounds)
            except ValueError:  # rounds of different shapes (an error in one): the first
                report["rows"] += rounds[0]
    report["finished_at"] = harness.utc_now()
    report["markdown"] = markdown(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, default=str) + "\n")
    args.out.with_suffix(".md").write_text(report["markdown"] + "\n")
    print(json.dumps(report, indent=1, default=str) if args.json else report["markdown"])
    return status
