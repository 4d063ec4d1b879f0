"""``webtrip ui --classroom``: a class follows the teacher's run on their own screens.

The teacher's machine serves one run (a lesson's, or the demo lab's) on the
school network. The teacher opens ``/teacher?key=SECRET`` and steps through
the run in the replay app; students open ``/``, type the join code, and their
screens follow: the server sends every student, over server-sent events, the
run's data once, then each new position and language. At a prediction point
the teacher opens a question; students answer on their phones and the
teacher sees the distribution of answers, live.

Who may do what:

- only the teacher controls (position, language, questions): the secret is a
  random token in the teacher's URL, compared in constant time
  (:func:`hmac.compare_digest`); a student can only watch and answer;
- students join with the short code shown to the class (checked in constant
  time too, and joins are rate-limited per address, so it cannot be guessed);
- everything is bounded: the number of students, students and open streams
  per address, an answer's size, answers and joins per address per minute
  (token buckets), and each stream's queue — a slow phone loses its oldest
  updates (a newer position replaces them anyway), never delaying the
  teacher or the other students;
- the :class:`~webtrip.ui.security.Guard` checks every request's Host (the
  address the server is bound to; bound to every interface, the address the
  connection arrived at) and refuses writes from any other origin.

Nothing here loads from the real network: the run is made before serving.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import math
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from webtrip.i18n import LANGUAGES, number, translation
from webtrip.outcomes import N_
from webtrip.report.app_data import packed
from webtrip.report.html import app_page, app_script
from webtrip.ui.security import Guard, Scope, language_of

__all__ = [
    "ClassQuestion",
    "ClassRun",
    "Classroom",
    "Limits",
    "classroom_app",
    "join_code",
]

KEY_HEADER = "x-webtrip-key"
"""The header the teacher's page sends its secret in (the URL's ``key``)."""

CODE_ALPHABET = "0123456789"


def join_code(length: int = 6) -> str:
    """A short code to type on a phone: digits only."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


@dataclass(frozen=True)
class Limits:
    """What one classroom takes: every figure bounds memory, connections or work."""

    students: int = 400
    per_address: int = 8
    """Students joined from one address, and event streams open from one address."""
    teacher_streams: int = 4
    answer_bytes: int = 512
    answers_per_minute: int = 30
    """Per address (a burst of :attr:`burst` first)."""
    joins_per_minute: int = 12
    burst: int = 10
    queue: int = 32
    """Updates kept for a stream that reads slowly: the oldest go first."""
    addresses: int = 4096
    """Addresses whose rates are remembered (the least recently seen forgotten)."""


@dataclass(frozen=True)
class ClassQuestion:
    """A question the teacher may open: its words in each language, the options (none:
    a number is answered), the right answer, and where the replay pauses for it."""

    id: str
    type: str
    text: dict[str, str]
    options: tuple[str, ...] = ()
    right: str = ""
    pause_at: float | None = None
    labels: dict[str, dict[str, str]] = field(default_factory=dict)
    """What an option means, per language (a prediction's packet kinds): option → {en, es}."""

    def public(self) -> dict[str, Any]:
        """What students see: never the right answer."""
        return {
            "id": self.id,
            "type": self.type,
            "text": self.text,
            "options": list(self.options),
            "labels": self.labels,
        }

    def teacher(self) -> dict[str, Any]:
        return self.public() | {"right": self.right, "pause_at": self.pause_at}


@dataclass(frozen=True)
class ClassRun:
    """The run the class follows: the app's data (JSON text) and the questions."""

    data: str
    title: dict[str, str]
    questions: tuple[ClassQuestion, ...] = ()
    end: float = 0.0


class _Bucket:
    """A token bucket: ``burst`` at once, then ``per_minute``."""

    __slots__ = ("tokens", "when")

    def __init__(self, burst: float, now: float) -> None:
        self.tokens = burst
        self.when = now

    def take(self, burst: float, per_minute: float, now: float) -> bool:
        self.tokens = min(burst, self.tokens + (now - self.when) * per_minute / 60)
        self.when = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


@dataclass
class _Address:
    joins: _Bucket
    answers: _Bucket
    students: int = 0
    streams: int = 0


@dataclass
class _Student:
    address: str
    answers: dict[str, str] = field(default_factory=dict)


class _Stream:
    """One page following the class: a bounded queue of encoded events (drop-oldest)."""

    __slots__ = ("dropped", "queue", "ready")

    def __init__(self, size: int) -> None:
        self.queue: deque[bytes] = deque(maxlen=size)
        self.ready = asyncio.Event()
        self.dropped = 0

    def put(self, event: bytes) -> None:
        if len(self.queue) == self.queue.maxlen:
            self.dropped += 1
        self.queue.append(event)
        self.ready.set()


def _event(kind: str, body: Any) -> bytes:
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return f"event: {kind}\ndata: {text}\n\n".encode()


class Refused(Exception):
    """A request refused: its HTTP status and the sentence (not yet translated)."""

    def __init__(self, status: int, sentence: str, **fields: Any) -> None:
        super().__init__(sentence)
        self.status = status
        self.sentence = sentence
        self.fields = fields


class Classroom:
    """The class's state: the run, the position, the language, the open question, the
    students and their answers, and the streams following it. All methods run on the
    server's event loop; none of them waits."""

    def __init__(
        self,
        run: ClassRun,
        *,
        code: str | None = None,
        secret: str | None = None,
        language: str = "en",
        limits: Limits = Limits(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.run = run
        self.code = code or join_code()
        self.secret = secret or secrets.token_urlsafe(24)
        self.language = language if language in LANGUAGES else "en"
        self.limits = limits
        self.clock = clock
        self.t = 0.0
        self.i: int | None = None
        self.seq = 0
        self.question: ClassQuestion | None = None
        self.revealed = False
        self.questions = {q.id: q for q in run.questions}
        self.students: dict[str, _Student] = {}
        self.addresses: OrderedDict[str, _Address] = OrderedDict()
        self.streams: set[_Stream] = set()
        self.teachers: set[_Stream] = set()
        # The data once per stream, gzip+base64 (a third of its size): 300 phones on one Wi-Fi.
        self.data_event = f"event: data\ndata: {packed(run.data)}\n\n".encode()

    # --- who is asking ----------------------------------------------------------------------

    def is_teacher(self, key: str | None) -> bool:
        return key is not None and hmac.compare_digest(key.encode(), self.secret.encode())

    def _address(self, address: str) -> _Address:
        found = self.addresses.get(address)
        now = self.clock()
        if found is None:
            burst = self.limits.burst
            found = _Address(_Bucket(burst, now), _Bucket(burst, now))
            self.addresses[address] = found
            while len(self.addresses) > self.limits.addresses:
                oldest = next(iter(self.addresses))
                if self.addresses[oldest].streams or self.addresses[oldest].students:
                    self.addresses.move_to_end(oldest)
                    break
                del self.addresses[oldest]
        else:
            self.addresses.move_to_end(address)
        return found

    # --- students ---------------------------------------------------------------------------

    def join(self, code: str, address: str) -> str:
        """A new student's token, or Refused."""
        where = self._address(address)
        if not where.joins.take(self.limits.burst, self.limits.joins_per_minute, self.clock()):
            raise Refused(429, N_("Too many tries to join from this device: wait a minute."))
        if not hmac.compare_digest(code.strip().encode(), self.code.encode()):
            raise Refused(403, N_("That is not the class's join code."))
        if len(self.students) >= self.limits.students:
            raise Refused(
                429, N_("The class is full ({count} students)."), count=self.limits.students
            )
        if where.students >= self.limits.per_address:
            raise Refused(429, N_("Too many students have joined from this device."))
        token = secrets.token_urlsafe(16)
        self.students[token] = _Student(address)
        where.students += 1
        self._to_teachers(self._students_event())
        return token

    def answer(self, token: str, question: str, given: Any, address: str) -> None:
        """Record a student's answer (a new one replaces theirs), or Refused."""
        student = self.students.get(token)
        if student is None:
            raise Refused(403, N_("Join the class first (with its code)."))
        where = self._address(address)
        if not where.answers.take(self.limits.burst, self.limits.answers_per_minute, self.clock()):
            raise Refused(429, N_("Too many answers from this device: wait a moment."))
        open_question = self.question
        if open_question is None or open_question.id != question or self.revealed:
            raise Refused(409, N_("That question is not open."))
        text = _given(open_question, given)
        if text is None:
            raise Refused(400, N_("That answer is not one of the question's."))
        student.answers[question] = text
        self._to_teachers(self._answers_event())

    def counts(self) -> dict[str, int]:
        """How many students gave each answer to the open question (options first, in order)."""
        if self.question is None:
            return {}
        found = {option: 0 for option in self.question.options}
        for student in self.students.values():
            given = student.answers.get(self.question.id)
            if given is not None:
                found[given] = found.get(given, 0) + 1
        return found

    # --- the teacher ------------------------------------------------------------------------

    def seek(self, t: float, i: int | None = None) -> None:
        """The teacher's position: a time, and the event shown (several may share a time)."""
        self.t = min(max(t, 0.0), max(self.run.end, 0.0)) if self.run.end else max(t, 0.0)
        self.i = i
        self.seq += 1
        self._to_all(self._position_event())

    def _position_event(self) -> bytes:
        return _event("position", {"t": self.t, "i": self.i, "seq": self.seq})

    def set_language(self, language: str) -> None:
        self.language = language
        self._to_all(_event("language", {"lang": language}))

    def open_question(self, question_id: str | None) -> None:
        """Open a question (None: close the one open)."""
        if question_id is not None and question_id not in self.questions:
            raise Refused(404, N_("There is no such question."))
        self.question = self.questions[question_id] if question_id is not None else None
        self.revealed = False
        self._to_all(self._question_event())
        self._to_teachers(self._answers_event())

    def reveal(self) -> None:
        """Show the open question's answer to everyone; answers close."""
        if self.question is None:
            raise Refused(409, N_("That question is not open."))
        self.revealed = True
        self._to_all(self._question_event())

    # --- events -----------------------------------------------------------------------------

    def _question_event(self) -> bytes:
        question = self.question
        if question is None:
            return _event("question", None)
        body = question.public() | {"revealed": self.revealed}
        if self.revealed:
            body["right"] = question.right
            body["counts"] = self.counts()
        return _event("question", body)

    def _answers_event(self) -> bytes:
        question = self.question
        counts = self.counts()
        return _event(
            "answers",
            {
                "question": question.id if question else None,
                "counts": counts,
                "answered": sum(counts.values()),
                "students": len(self.students),
            },
        )

    def _students_event(self) -> bytes:
        return _event("students", {"students": len(self.students)})

    def _to_all(self, event: bytes) -> None:
        for stream in self.streams:
            stream.put(event)
        self._to_teachers(event)

    def _to_teachers(self, event: bytes) -> None:
        for stream in self.teachers:
            stream.put(event)

    def opening(self, teacher: bool) -> list[bytes]:
        """What a stream gets first: who it is, the run's data, the state now."""
        hello: dict[str, Any] = {
            "role": "teacher" if teacher else "student",
            "title": self.run.title,
            "words": {language: words(language) for language in LANGUAGES},
        }
        if teacher:
            hello["questions"] = [q.teacher() for q in self.run.questions]
            hello["code"] = self.code
        events = [
            b"retry: 2000\n\n",
            _event("hello", hello),
            self.data_event,
            _event("language", {"lang": self.language}),
            self._position_event(),
            self._question_event(),
        ]
        if teacher:
            events += [self._students_event(), self._answers_event()]
        return events

    def follow(self, teacher: bool, address: str) -> _Stream:
        """A new stream, counted against the address's (or the teacher's) limit."""
        if teacher:
            if len(self.teachers) >= self.limits.teacher_streams:
                raise Refused(429, N_("Too many teacher pages are open."))
        else:
            where = self._address(address)
            if where.streams >= self.limits.per_address:
                raise Refused(429, N_("Too many pages follow the class from this device."))
            where.streams += 1
        stream = _Stream(self.limits.queue)
        (self.teachers if teacher else self.streams).add(stream)
        return stream

    def unfollow(self, stream: _Stream, teacher: bool, address: str) -> None:
        if teacher:
            self.teachers.discard(stream)
            return
        self.streams.discard(stream)
        where = self.addresses.get(address)
        if where is not None:
            where.streams = max(0, where.streams - 1)


def _given(question: ClassQuestion, given: Any) -> str | None:
    """The answer as counted: one of the options, or a number (as its shortest text)."""
    if question.options:
        return given if isinstance(given, str) and given in question.options else None
    if isinstance(given, bool) or not isinstance(given, int | float | str):
        return None
    try:
        value = float(str(given).replace(",", ".").strip())
    except ValueError:
        return None
    if not math.isfinite(value) or abs(value) > 1e9:
        return None
    return f"{value:g}"


# --- words ---------------------------------------------------------------------------------


def words(language: str) -> dict[str, str]:
    """Every word the classroom's pages show, in ``language``."""
    _ = translation(language).gettext
    return {
        "join.title": _("Join the class"),
        "join.code": _("Join code"),
        "join.button": _("Join"),
        "join.help": _("Type the code your teacher shows."),
        "following": _("Following the teacher's screen."),
        "waiting": _("Waiting for the teacher…"),
        "lost": _("The connection to the class was lost; it will try again."),
        "question": _("Question"),
        "answer": _("Answer"),
        "your_answer": _("Your answer: {answer}"),
        "sent": _("Answer sent. You can change it until the teacher shows the answer."),
        "right": _("The answer: {answer}"),
        "number": _("A number"),
        "class": _("Classroom"),
        "students": _("Students connected: {count}"),
        "answered": _("{answered} of {students} have answered"),
        "open": _("Ask the class"),
        "close": _("Close the question"),
        "reveal": _("Show the answer"),
        "questions": _("Questions"),
        "none": _("This run has no questions: step through it and the class follows."),
        "code_is": _("Join code: {code}"),
        "pause": _("The replay pauses where the question is asked."),
    }


def _error(request: Request, status: int, sentence: str, **fields: Any) -> JSONResponse:
    language = language_of(request.scope)
    _ = translation(language).gettext
    shown = {k: number(v, language) if isinstance(v, int) else v for k, v in fields.items()}
    return JSONResponse({"error": _(sentence).format(**shown)}, status_code=status)


# --- the application -----------------------------------------------------------------------

STATIC = ("classroom.js", "classroom.css")
TITLE = N_("webtrip: the class follows along")


@cache
def _asset(name: str) -> tuple[str, str] | None:
    if name == "app.js":
        return app_script(), "text/javascript; charset=utf-8"
    if name == "app.css":
        return (
            resources.files("webtrip.report").joinpath("app", "app.css").read_text("utf-8"),
            "text/css; charset=utf-8",
        )
    if name in STATIC:
        kind = "text/javascript" if name.endswith(".js") else "text/css"
        text = resources.files("webtrip.ui").joinpath("static", name).read_text("utf-8")
        return text, kind + "; charset=utf-8"
    return None


def _page(language: str) -> str:
    return app_page(
        None,
        language,
        title=translation(language).gettext(TITLE),
        linked=(
            ["/assets/app.css", "/assets/classroom.css"],
            ["/assets/app.js", "/assets/classroom.js"],
        ),
    )


def classroom_app(
    room: Classroom,
    host: str,
    port: int,
    stopping: threading.Event | None = None,
) -> Callable[..., Any]:
    """The ASGI application for ``room``, served at ``host``:``port`` (guarded)."""
    stopping = stopping or threading.Event()

    def client_address(request: Request) -> str:
        return request.client.host if request.client else "?"

    async def body_of(request: Request, limit: int) -> dict[str, Any]:
        raw = await request.body()
        if len(raw) > limit:
            raise Refused(413, N_("The request is larger than {size} bytes."), size=limit)
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            raise Refused(400, N_("The request's body is not a JSON object."))
        return body

    def handled(
        handler: Callable[[Request], Any],
    ) -> Callable[[Request], Any]:
        async def run(request: Request) -> Response:
            try:
                result: Response = await handler(request)
            except Refused as exc:
                return _error(request, exc.status, exc.sentence, **exc.fields)
            return result

        return run

    def teacher_only(request: Request) -> None:
        key = request.headers.get(KEY_HEADER) or request.query_params.get("key")
        if not room.is_teacher(key):
            raise Refused(403, N_("Only the teacher's page may do that (its address has the key)."))

    async def student_page(request: Request) -> Response:
        return Response(_page(language_of(request.scope)), media_type="text/html")

    async def teacher_page(request: Request) -> Response:
        teacher_only(request)
        return Response(_page(language_of(request.scope)), media_type="text/html")

    async def asset(request: Request) -> Response:
        found = _asset(request.path_params["name"])
        if found is None:
            raise Refused(404, N_("There is no such file."))
        text, kind = found
        return Response(text, media_type=kind, headers={"cache-control": "no-cache"})

    async def word_list(request: Request) -> Response:
        return JSONResponse({language: words(language) for language in LANGUAGES})

    async def join(request: Request) -> Response:
        body = await body_of(request, room.limits.answer_bytes)
        code = body.get("code")
        if not isinstance(code, str):
            raise Refused(400, N_("Send the join code."))
        token = room.join(code, client_address(request))
        return JSONResponse({"student": token}, status_code=201)

    async def answer(request: Request) -> Response:
        body = await body_of(request, room.limits.answer_bytes)
        student, question = body.get("student"), body.get("question")
        if not isinstance(student, str) or not isinstance(question, str):
            raise Refused(400, N_("Send the student and the question."))
        room.answer(student, question, body.get("answer"), client_address(request))
        return JSONResponse({"ok": True})

    async def position(request: Request) -> Response:
        teacher_only(request)
        body = await body_of(request, 1024)
        t, i = body.get("t"), body.get("i")
        if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
            raise Refused(400, N_("Send the position as a number of seconds."))
        shown = i if isinstance(i, int) and not isinstance(i, bool) and 0 <= i < 10**7 else None
        room.seek(float(t), shown)
        return JSONResponse({"t": room.t, "seq": room.seq})

    async def language(request: Request) -> Response:
        teacher_only(request)
        lang = (await body_of(request, 1024)).get("lang")
        if lang not in LANGUAGES:
            raise Refused(400, N_("There is no such language."))
        room.set_language(str(lang))
        return JSONResponse({"lang": room.language})

    async def question(request: Request) -> Response:
        teacher_only(request)
        body = await body_of(request, 1024)
        if body.get("reveal") is True:
            room.reveal()
        else:
            chosen = body.get("id")
            if chosen is not None and not isinstance(chosen, str):
                raise Refused(404, N_("There is no such question."))
            room.open_question(chosen)
        return JSONResponse({"id": room.question.id if room.question else None})

    async def events(request: Request) -> Response:
        key = request.query_params.get("key")
        teacher = key is not None
        if teacher:
            teacher_only(request)
        elif request.query_params.get("student", "") not in room.students:
            raise Refused(403, N_("Join the class first (with its code)."))
        address = client_address(request)
        stream = room.follow(teacher, address)
        for event in room.opening(teacher):
            stream.queue.append(event)  # the opening is never dropped
        stream.ready.set()

        async def send() -> AsyncIterator[bytes]:
            try:
                while not stopping.is_set():
                    try:
                        await asyncio.wait_for(stream.ready.wait(), 15)
                    except TimeoutError:
                        yield b": still here\n\n"
                        continue
                    stream.ready.clear()
                    while stream.queue:
                        yield stream.queue.popleft()
            finally:
                room.unfollow(stream, teacher, address)

        return StreamingResponse(
            send(),
            media_type="text/event-stream",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )

    routes = [
        Route("/", handled(student_page)),
        Route("/teacher", handled(teacher_page)),
        Route("/assets/{name}", handled(asset)),
        Route("/api/class/words", handled(word_list)),
        Route("/api/class/join", handled(join), methods=["POST"]),
        Route("/api/class/answer", handled(answer), methods=["POST"]),
        Route("/api/class/position", handled(position), methods=["POST"]),
        Route("/api/class/language", handled(language), methods=["POST"]),
        Route("/api/class/question", handled(question), methods=["POST"]),
        Route("/api/class/events", handled(events)),
    ]
    inner = Starlette(routes=routes)
    if host not in ("0.0.0.0", "::"):
        shown = f"[{host}]" if ":" in host else host
        return Guard(inner, {f"{shown}:{port}"}, f"http://{shown}:{port}")

    async def every_interface(scope: Scope, receive: Any, send: Any) -> None:
        """Bound to every interface: the Host must be the address this connection reached."""
        server = scope.get("server") or ("", port)
        shown = f"[{server[0]}]" if ":" in str(server[0]) else str(server[0])
        at = f"{shown}:{server[1]}"
        await Guard(inner, {at}, f"http://{at}")(scope, receive, send)

    return every_interface
