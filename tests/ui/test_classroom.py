"""``webtrip ui --classroom``: 60 students follow a teacher, answer, and a flood harms no one.

The server is the real one (uvicorn on h11, the classroom app with its Guard) on a
loopback port, in the test's own event loop; each simulated student is an httpx
client on its own loopback address (127.0.0.N: the whole 127/8 is this machine), so
the per-address limits see 60 devices, as on a school's Wi-Fi.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import gzip
import json
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from webtrip.cli.classroom import class_run
from webtrip.ui.classroom import Classroom, ClassRun, Limits, _Stream, classroom_app

httpx = pytest.importorskip("httpx")
uvicorn = pytest.importorskip("uvicorn")

SOURCE = Path(__file__).resolve().parents[2] / "src"
STUDENTS = 60


@pytest.fixture(scope="module")
def lesson_run() -> ClassRun:
    return class_run("walk-from-root", "en")


@dataclass
class Served:
    room: Classroom
    origin: str
    port: int


@contextlib.asynccontextmanager
async def serving(room: Classroom, host: str = "127.0.0.1") -> AsyncIterator[Served]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sock.listen(1024)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        classroom_app(room, host, port),
        http="h11",
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_keep_alive=60,  # no idle connection closed while a client reuses it
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield Served(room, f"http://127.0.0.1:{port}", port)
    finally:
        server.should_exit = True
        server.force_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 5)
        sock.close()


def device(number: int, origin: str) -> httpx.AsyncClient:
    """A client on its own loopback address, sending our Origin (as the page does)."""
    transport = httpx.AsyncHTTPTransport(local_address=f"127.0.0.{number}")
    return httpx.AsyncClient(
        transport=transport, base_url=origin, headers={"Origin": origin}, timeout=20
    )


@dataclass
class Follower:
    """One page's server-sent events, as they came: (kind, body, when)."""

    events: list[tuple[str, object, float]] = field(default_factory=list)
    data: dict[str, object] | None = None
    positions: list[tuple[int, float, float]] = field(default_factory=list)  # seq, t, when

    def last(self, kind: str) -> object:
        return next(body for k, body, _ in reversed(self.events) if k == kind)


async def follow(
    client: httpx.AsyncClient, query: str, into: Follower, stop: asyncio.Event, decode: bool = False
) -> int:
    """Read a page's event stream until ``stop``; the run's data decoded only if ``decode``."""
    async with client.stream("GET", "/api/class/events?" + query, timeout=None) as response:
        if response.status_code != 200:
            await response.aread()
            return response.status_code
        buffer = b""
        async for chunk in response.aiter_raw():
            buffer += chunk
            while b"\n\n" in buffer:
                block, buffer = buffer.split(b"\n\n", 1)
                fields = dict(line.split(b": ", 1) for line in block.split(b"\n") if b": " in line)
                kind = fields.get(b"event", b"").decode()
                if not kind:
                    continue
                text = fields[b"data"]
                body: object = None
                if kind == "data":
                    into.data = (
                        json.loads(gzip.decompress(base64.b64decode(text))) if decode else {}
                    )
                else:
                    body = json.loads(text)
                now = time.monotonic()
                into.events.append((kind, body, now))
                if kind == "position":
                    assert isinstance(body, dict)
                    into.positions.append((body["seq"], body["t"], now))
            if stop.is_set():
                break
    return 200


async def join(client: httpx.AsyncClient, code: str) -> str:
    response = await client.post("/api/class/join", json={"code": code})
    assert response.status_code == 201, response.text
    return str(response.json()["student"])


async def until(check, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def test_sixty_students_follow_every_step_and_their_answers_are_counted_exactly(lesson_run):
    asyncio.run(_sixty_students(lesson_run))


async def _sixty_students(run: ClassRun) -> None:
    room = Classroom(run, code="314159", secret="s3cret-teacher-key")
    async with serving(room) as served:
        stop = asyncio.Event()
        students = [device(10 + k, served.origin) for k in range(STUDENTS)]
        teacher = device(2, served.origin)
        teacher.headers["x-webtrip-key"] = room.secret
        tokens = await asyncio.gather(*(join(c, " 314159 ") for c in students))
        assert len(set(tokens)) == STUDENTS and len(room.students) == STUDENTS
        pages = [Follower() for _ in students]
        board = Follower()
        tasks = [
            asyncio.create_task(follow(c, f"student={t}", p, stop, decode=k == 0))
            for k, (c, t, p) in enumerate(zip(students, tokens, pages, strict=True))
        ]
        tasks.append(asyncio.create_task(follow(teacher, "key=" + room.secret, board, stop)))
        await until(lambda: all(p.data is not None for p in pages) and board.data is not None, 60)
        # Every page has the run's data, the very document the app draws.
        assert pages[0].data == json.loads(run.data)
        hello = board.events[0][1]
        assert isinstance(hello, dict) and hello["role"] == "teacher" and hello["code"] == "314159"
        assert pages[0].events[0][1]["role"] == "student"  # type: ignore[index]
        assert "questions" not in pages[0].events[0][1]  # type: ignore[operator]

        # The teacher steps through the run: 25 positions, one after the other.
        steps = [round(run.end * k / 24, 6) for k in range(25)]
        sent: dict[int, float] = {}
        for t in steps:
            answer = await teacher.post("/api/class/position", json={"t": t})
            assert answer.status_code == 200
            sent[answer.json()["seq"]] = time.monotonic()
            await asyncio.sleep(0.01)
        last = max(sent)
        await until(lambda: all(p.positions and p.positions[-1][0] == last for p in pages))
        for page in pages:
            got = [(seq, t) for seq, t, _ in page.positions if seq in sent]
            assert got == list(zip(sorted(sent), steps, strict=True)), "a step was missed"
        delays = sorted(
            when - sent[seq] for p in pages for seq, _, when in p.positions if seq in sent
        )
        assert delays[int(len(delays) * 0.95)] < 0.5, f"p95 {delays[int(len(delays) * 0.95)]:.3f} s"

        # The teacher switches language: every page hears it.
        assert (await teacher.post("/api/class/language", json={"lang": "es"})).status_code == 200
        await until(lambda: all(p.last("language") == {"lang": "es"} for p in pages))

        # A prediction question: opened, answered by all 60 (some change their mind).
        question = next(q for q in run.questions if q.type == "prediction")
        opened = await teacher.post("/api/class/question", json={"id": question.id})
        assert opened.status_code == 200
        await until(lambda: all(p.last("question") is not None for p in pages))
        seen = pages[5].last("question")
        assert isinstance(seen, dict) and seen["options"] == list(question.options)
        assert "right" not in seen  # students never see the answer before it is shown
        chosen = [question.options[k % 3] for k in range(STUDENTS)]
        chosen[0:4] = [question.options[5]] * 4
        results = await asyncio.gather(
            *(
                c.post(
                    "/api/class/answer", json={"student": t, "question": question.id, "answer": a}
                )
                for c, t, a in zip(students, tokens, chosen, strict=True)
            )
        )
        assert [r.status_code for r in results] == [200] * STUDENTS
        # Four change their minds: the count is of each student's last answer.
        for k in range(4):
            again = await students[k].post(
                "/api/class/answer",
                json={"student": tokens[k], "question": question.id, "answer": question.options[0]},
            )
            assert again.status_code == 200
            chosen[k] = question.options[0]
        expected = {option: chosen.count(option) for option in question.options}
        assert room.counts() == expected
        await until(lambda: board.last("answers")["counts"] == expected)  # type: ignore[index]
        shown = board.last("answers")
        assert shown == {
            "question": question.id,
            "counts": expected,
            "answered": 60,
            "students": 60,
        }

        # Shown: the right answer reaches every student; answers close.
        assert (await teacher.post("/api/class/question", json={"reveal": True})).status_code == 200
        await until(lambda: all(p.last("question")["revealed"] for p in pages))  # type: ignore[index]
        assert pages[7].last("question")["right"] == question.right  # type: ignore[index]
        late = await students[0].post(
            "/api/class/answer",
            json={"student": tokens[0], "question": question.id, "answer": "syn"},
        )
        assert late.status_code == 409
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for client in [*students, teacher]:
            await client.aclose()


def test_a_flood_from_one_address_is_refused_and_delays_no_one_else(lesson_run):
    asyncio.run(_flood(lesson_run))


async def _flood(run: ClassRun) -> None:
    run = dataclasses.replace(run, data='{"events":[]}')  # small: the flood is the point
    room = Classroom(run, code="271828", secret="teacher")
    async with serving(room) as served:
        stop = asyncio.Event()
        students = [device(20 + k, served.origin) for k in range(20)]
        teacher = device(2, served.origin)
        teacher.headers["x-webtrip-key"] = "teacher"
        tokens = await asyncio.gather(*(join(c, "271828") for c in students))
        pages = [Follower() for _ in students]
        tasks = [
            asyncio.create_task(follow(c, f"student={t}", p, stop))
            for c, t, p in zip(students, tokens, pages, strict=True)
        ]
        await until(lambda: all(p.data is not None for p in pages), 60)
        question = next(q for q in run.questions if q.type == "choice")
        await teacher.post("/api/class/question", json={"id": question.id})

        flooder = device(250, served.origin)
        # Joins: the burst is taken, then refused; the device's student cap holds too.
        joins = await asyncio.gather(
            *(flooder.post("/api/class/join", json={"code": "271828"}) for _ in range(150))
        )
        codes = [r.status_code for r in joins]
        assert codes.count(201) == Limits().per_address and codes.count(429) == 150 - 8
        wrong = await flooder.post("/api/class/join", json={"code": "000000"})
        assert wrong.status_code == 429  # guessing the code is rate-limited too
        flood_token = joins[codes.index(201)].json()["student"]
        # Streams: at most 8 from one address.
        flood_pages = [Follower() for _ in range(12)]
        streams = [
            asyncio.create_task(follow(flooder, f"student={flood_token}", p, stop))
            for p in flood_pages
        ]
        await until(lambda: sum(t.done() for t in streams) == 4)
        assert sorted(t.result() for t in streams if t.done()) == [429] * 4
        # Answers: a burst of 400 at once, while the teacher steps.
        flood = asyncio.gather(
            *(
                flooder.post(
                    "/api/class/answer",
                    json={
                        "student": flood_token,
                        "question": question.id,
                        "answer": question.right,
                    },
                )
                for _ in range(400)
            )
        )
        flooding = time.monotonic()
        sent = {}
        for k in range(10):
            answer = await teacher.post("/api/class/position", json={"t": run.end * k / 10})
            assert answer.status_code == 200
            sent[answer.json()["seq"]] = time.monotonic()
        answered = await flood
        refill = (time.monotonic() - flooding) * Limits().answers_per_minute / 60
        codes = [r.status_code for r in answered]
        assert codes.count(200) <= Limits().burst + refill + 1, codes.count(200)
        assert codes.count(429) == 400 - codes.count(200)
        await until(lambda: all(p.positions and p.positions[-1][0] == max(sent) for p in pages))
        for page in pages:
            assert [seq for seq, _, _ in page.positions if seq in sent] == sorted(sent)
        worst = max(when - sent[seq] for p in pages for seq, _, when in p.positions if seq in sent)
        assert worst < 1.0, f"a student waited {worst:.3f} s"
        # The others still answer, and are counted exactly: the flooder counts once.
        results = await asyncio.gather(
            *(
                c.post(
                    "/api/class/answer",
                    json={"student": t, "question": question.id, "answer": question.options[0]},
                )
                for c, t in zip(students, tokens, strict=True)
            )
        )
        assert {r.status_code for r in results} == {200}
        counts = room.counts()
        assert sum(counts.values()) == 21 and counts[question.options[0]] >= 20
        # Too big an answer: refused before it is read into memory.
        big = await students[0].post(
            "/api/class/answer",
            json={"student": tokens[0], "question": question.id, "answer": "x" * 4000},
        )
        assert big.status_code == 413
        stop.set()
        for task in [*tasks, *streams]:
            task.cancel()
        await asyncio.gather(*tasks, *streams, return_exceptions=True)
        for client in [*students, teacher, flooder]:
            await client.aclose()


def test_only_the_teachers_secret_controls_and_only_our_origin_writes(lesson_run):
    asyncio.run(_secret(lesson_run))


async def _secret(run: ClassRun) -> None:
    run = dataclasses.replace(run, data='{"events":[]}')
    room = Classroom(run, code="123456", secret="the-real-key")
    async with serving(room) as served:
        student = device(30, served.origin)
        token = await join(student, "123456")
        for path, body in [
            ("/api/class/position", {"t": 0.1}),
            ("/api/class/language", {"lang": "es"}),
            ("/api/class/question", {"id": run.questions[0].id}),
        ]:
            assert (await student.post(path, json=body)).status_code == 403
            wrong = await student.post(path, json=body, headers={"x-webtrip-key": "the-real-kez"})
            assert wrong.status_code == 403
            # The student's own token is no key.
            assert (
                await student.post(path, json=body, headers={"x-webtrip-key": token})
            ).status_code == 403
        assert room.seq == 0 and room.language == "en" and room.question is None
        assert (await student.get("/teacher")).status_code == 403
        assert (await student.get("/teacher?key=nope")).status_code == 403
        assert (await student.get("/teacher?key=the-real-key")).status_code == 200
        forbidden = await student.get("/api/class/events?key=guess")
        assert forbidden.status_code == 403
        assert (await student.get("/api/class/events?student=made-up")).status_code == 403
        # Cross-origin writes, and other Host names (DNS rebinding), are refused.
        evil = await student.post(
            "/api/class/join", json={"code": "123456"}, headers={"Origin": "http://evil.example"}
        )
        assert evil.status_code == 403
        rebound = await student.get("/", headers={"Host": f"evil.example:{served.port}"})
        assert rebound.status_code == 421
        # In Spanish, one sentence.
        refused = await student.post("/api/class/position?lang=es", json={"t": 1})
        assert refused.json() == {
            "error": "Solo la página del profesor puede hacer eso (su dirección lleva la clave)."
        }
        ok = await student.post(
            "/api/class/position", json={"t": 0.05}, headers={"x-webtrip-key": "the-real-key"}
        )
        assert ok.status_code == 200 and room.t == 0.05
        await student.aclose()


def test_a_slow_page_loses_its_oldest_updates_never_the_teachers_time():
    async def check() -> None:
        room = Classroom(ClassRun("{}", {"en": "x", "es": "x"}, (), 10.0), limits=Limits(queue=8))
        stream = room.follow(False, "10.0.0.1")
        started = time.perf_counter()
        for k in range(1000):
            room.seek(k / 100)
        assert time.perf_counter() - started < 0.5
        assert len(stream.queue) == 8 and stream.dropped == 992
        assert json.loads(stream.queue[-1].decode().split("data: ")[1]) == {
            "t": 9.99,
            "i": None,
            "seq": 1000,
        }

    asyncio.run(check())
    assert _Stream(4).queue.maxlen == 4


def test_the_command_needs_an_address_and_refuses_the_real_network():
    def run(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "webtrip", "ui", "--no-open", *arguments],
            capture_output=True, text=True, timeout=60,
            env={"PYTHONPATH": str(SOURCE), "LANG": "C.UTF-8", "PATH": "/usr/bin:/bin"},
        )  # fmt: skip

    missing = run("--classroom")
    assert missing.returncode == 2 and "--listen" in missing.stderr
    assert "Traceback" not in missing.stderr
    network = run("--classroom", "--listen", "127.0.0.1:0", "--allow-network")
    assert network.returncode == 2 and "--allow-network" in network.stderr
    lesson = run("--lesson", "walk-from-root")
    assert lesson.returncode == 2 and "--classroom" in lesson.stderr
    spanish = run("--classroom", "--lang", "es")
    assert spanish.returncode == 2 and "red del centro" in spanish.stderr
