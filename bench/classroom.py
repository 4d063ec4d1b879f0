"""``webtrip ui --classroom``: N students following a teacher — how soon each step reaches them.

    python bench/classroom.py [--students 300] [--steps 60] [--interval 0.2] [--lesson L]

Starts ``webtrip ui --classroom --no-open --listen 127.0.0.1:0`` (the lesson's run) pinned
to one core (CPU 0; the clients run on the others, so the server's core is its own).
Each student is a device on its own loopback address (127.0.X.Y: the whole 127/8 is this
machine) that joins with the printed code (POST /api/class/join) and follows the class's
server-sent events on a raw asyncio connection (the lightest client, so what is measured is
the server). Once every student has the run's data, the teacher posts ``--steps`` positions,
one every ``--interval`` s; each student notes when each arrives. A step's delay is from
just before the teacher's POST to its arrival at a student: reported as p50/p95/p99/max over
every (step, student), with how many arrived at all. Then a question is opened and every
student answers once (50 at a time): answers per second and the exact count are reported.
The server's CPU (user+system, % of one core) and memory (RSS) come from /proc.
Prints the figures as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def address(k: int) -> str:
    return f"127.0.{1 + k // 250}.{2 + k % 250}"


async def request(
    origin: tuple[str, int], local: str, method: str, path: str, body: Any = None, **headers: str
) -> tuple[int, Any]:
    """One HTTP/1.1 request on its own connection (Connection: close)."""
    reader, writer = await asyncio.open_connection(*origin, local_addr=(local, 0))
    data = json.dumps(body).encode() if body is not None else b""
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {origin[0]}:{origin[1]}\r\n"
        f"Origin: http://{origin[0]}:{origin[1]}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\nConnection: close\r\n"
        + "".join(f"{k.replace('_', '-')}: {v}\r\n" for k, v in headers.items())
        + "\r\n"
    )
    writer.write(head.encode() + data)
    answer = await reader.read()
    writer.close()
    status = int(answer.split(b" ", 2)[1])
    text = answer.split(b"\r\n\r\n", 1)[1]
    if b"transfer-encoding: chunked" in answer.split(b"\r\n\r\n", 1)[0].lower():
        text = text.split(b"\r\n", 1)[1].rsplit(b"\r\n0\r\n", 1)[0]
    return status, json.loads(text) if text.strip() else None


POSITION = re.compile(rb'event: position\ndata: \{"t":[^,]*,"i":[^,]*,"seq":(\d+)\}\n\n')


class Student:
    def __init__(self, k: int) -> None:
        self.k = k
        self.token = ""
        self.data = asyncio.Event()
        self.arrived: dict[int, float] = {}

    async def follow(self, origin: tuple[str, int], stop: asyncio.Event) -> None:
        reader, writer = await asyncio.open_connection(*origin, local_addr=(address(self.k), 0))
        writer.write(
            f"GET /api/class/events?student={self.token} HTTP/1.1\r\n"
            f"Host: {origin[0]}:{origin[1]}\r\n\r\n".encode()
        )
        buffer = b""
        try:
            while not stop.is_set():
                chunk = await reader.read(1 << 16)
                if not chunk:
                    return
                now = time.monotonic()
                buffer += chunk
                if not self.data.is_set():
                    # The data's event is one chunk; the language's chunk comes after it.
                    start = buffer.find(b"event: data\ndata: ")
                    if start >= 0 and buffer.find(b"event: language", start) >= 0:
                        self.data.set()
                        buffer = buffer[buffer.index(b"event: language", start) :]
                    continue
                for match in POSITION.finditer(buffer):
                    self.arrived.setdefault(int(match.group(1)), now)
                cut = buffer.rfind(b"\n\n")
                buffer = buffer[cut + 2 :] if cut >= 0 else buffer
        finally:
            writer.close()


def percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def classroom(options: argparse.Namespace, origin: tuple[str, int], code: str, key: str,
                    pid: int) -> dict[str, Any]:  # fmt: skip
    students = [Student(k) for k in range(options.students)]
    gate = asyncio.Semaphore(50)

    async def join(student: Student) -> None:
        async with gate:
            status, body = await request(
                origin, address(student.k), "POST", "/api/class/join", {"code": code}
            )
            assert status == 201, (status, body)
            student.token = body["student"]

    started = time.monotonic()
    await asyncio.gather(*(join(s) for s in students))
    joined = time.monotonic() - started
    stop = asyncio.Event()
    following = [asyncio.create_task(s.follow(origin, stop)) for s in students]
    await asyncio.wait_for(asyncio.gather(*(s.data.wait() for s in students)), 300)
    connected = time.monotonic() - started
    rss_connected = rss_mb(pid)

    # The teacher steps.
    sent: dict[int, float] = {}
    cpu_before, wall_before = cpu_seconds(pid), time.monotonic()
    for step in range(options.steps):
        when = time.monotonic()
        status, body = await request(
            origin, "127.0.0.1", "POST", "/api/class/position",
            {"t": step / 1000, "i": step}, x_webtrip_key=key,
        )  # fmt: skip
        assert status == 200, body
        sent[body["seq"]] = when
        await asyncio.sleep(options.interval)
    await asyncio.sleep(1.0)
    cpu_stepping = (cpu_seconds(pid) - cpu_before) / (time.monotonic() - wall_before) * 100
    delays = sorted(
        (s.arrived[seq] - when) * 1000 for s in students for seq, when in sent.items()
        if seq in s.arrived
    )  # fmt: skip
    expected = len(sent) * len(students)

    # A question, answered by every student once.
    status, body = await request(
        origin, "127.0.0.1", "POST", "/api/class/question", {"id": options.question},
        x_webtrip_key=key,
    )  # fmt: skip
    assert status == 200, body

    async def answer(student: Student) -> int:
        async with gate:
            status, _ = await request(
                origin, address(student.k), "POST", "/api/class/answer",
                {"student": student.token, "question": options.question, "answer": options.answer},
            )  # fmt: skip
            return status

    answering = time.monotonic()
    statuses = await asyncio.gather(*(answer(s) for s in students))
    answer_seconds = time.monotonic() - answering
    stop.set()
    for task in following:
        task.cancel()
    await asyncio.gather(*following, return_exceptions=True)
    return {
        "students": len(students),
        "join_s": round(joined, 2),
        "all_following_with_data_s": round(connected, 2),
        "steps": len(sent),
        "interval_s": options.interval,
        "updates_expected": expected,
        "updates_arrived": len(delays),
        "delay_ms": {
            "p50": round(statistics.median(delays), 1),
            "p95": round(percentile(delays, 0.95), 1),
            "p99": round(percentile(delays, 0.99), 1),
            "max": round(delays[-1], 1),
        },
        "server_cpu_pct_while_stepping": round(cpu_stepping, 1),
        "server_rss_mb": {"following": round(rss_connected, 1), "end": round(rss_mb(pid), 1)},
        "answers_ok": statuses.count(200),
        "answers_per_s": round(len(students) / answer_seconds, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("--lesson", default="walk-from-root")
    parser.add_argument("--question", default="after_address")
    parser.add_argument("--answer", default="syn")
    options = parser.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    server = subprocess.Popen(
        ["taskset", "-c", str(cpus[0]), sys.executable, "-m", "webtrip", "ui", "--classroom",
         "--no-open", "--listen", "127.0.0.1:0", "--lesson", options.lesson],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    assert server.stdout is not None
    lines = [server.stdout.readline() for _ in range(3)]
    found = re.search(r"http://127\.0\.0\.1:(\d+)/ and type the join code (\d+)", lines[1])
    key = re.search(r"key=(\S+)", lines[2])
    assert found and key, lines
    if len(cpus) > 1:
        os.sched_setaffinity(0, cpus[1:])
    try:
        figures = asyncio.run(
            classroom(options, ("127.0.0.1", int(found.group(1))), found.group(2),
                      key.group(1), server.pid)
        )  # fmt: skip
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(15)
    figures["machine"] = {
        "cpu": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "server_pinned_to_cpu": cpus[0],
        "python": platform.python_version(),
        "load_avg_1m": os.getloadavg()[0],
    }
    print(json.dumps(figures, indent=2))
    ok = figures["updates_arrived"] == figures["updates_expected"]
    return 0 if ok and figures["answers_ok"] == figures["students"] else 1


if __name__ == "__main__":
    sys.exit(main())
