"""A student's run of a lesson, its questions answered from the trace, and the marking.

Each student gets their own world. The seed and any variation the lesson allows
come from a keyed hash: HMAC-SHA256 with the key ``webtrip-lesson:ID:VERSION``
over the student's code (trimmed, Unicode NFC, case-folded). Its first 8 bytes
(big-endian, the top bit cleared) are the simulation's seed; the next 8 seed a
separate ``random.Random`` that draws each varied quantity, in the order the
lesson names them. So two students' numbers differ, a student's code gives the
same run — byte for byte — every time, and a new version of a lesson deals new
numbers. A fixed seed (``seed = 7``) gives every student the same world.

:func:`student_run` makes the run; :func:`expected` works out each question's
answer with the vocabulary; :func:`mark` compares a student's answer with it
and gives the feedback, in English or Spanish, with the run's values.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import tomllib
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from webtrip.i18n import number, translation
from webtrip.lab import sim
from webtrip.lab.profiles import PROFILES
from webtrip.lessons.format import Lesson, LessonError, Question, bundled_lessons, find_lesson
from webtrip.lessons.vocabulary import FACTS, FactError, RunFacts, Value, moment_index
from webtrip.trace import Trace

__all__ = [
    "AnswersError",
    "Mark",
    "StudentRun",
    "StudentWorld",
    "answers_template",
    "expected",
    "explanation",
    "mark",
    "read_answers",
    "student_run",
    "student_world",
]


@dataclass(frozen=True)
class StudentWorld:
    """The seed and link a student's run uses."""

    seed: int
    conditions: sim.LinkConditions


@dataclass
class StudentRun:
    """A student's run: the world, the trace, and each question's right answer."""

    lesson: Lesson
    student: str
    world: StudentWorld
    trace: Trace
    run: sim.SimLab
    answers: dict[str, Value]

    def pause_at(self, question: Question) -> float:
        """For a prediction: the trace's time the replay pauses at (seconds)."""
        index = moment_index(RunFacts(self.trace), str(question.params["after"]))
        return self.trace.events[index].t


def normalized_code(student: str) -> str:
    return unicodedata.normalize("NFC", student.strip()).casefold()


def _digest(lesson: Lesson, student: str) -> bytes:
    key = f"webtrip-lesson:{lesson.id}:{lesson.version}".encode()
    return hmac.new(key, normalized_code(student).encode(), hashlib.sha256).digest()


def student_world(lesson: Lesson, student: str) -> StudentWorld:
    """The seed and the browser's link for ``student`` (see the module's docstring)."""
    world = lesson.world
    digest = _digest(lesson, student)
    seed = world.seed if world.seed is not None else int.from_bytes(digest[:8]) >> 1
    draw = random.Random(int.from_bytes(digest[8:16]))
    profile = PROFILES[world.network] if world.network else None
    values: dict[str, float | None] = {
        "latency": world.latency if world.latency is not None
        else profile.latency if profile is not None else None,
        "bandwidth": world.bandwidth if world.bandwidth is not None
        else profile.bandwidth if profile is not None else None,
        "loss": world.loss if world.loss is not None
        else profile.loss or None if profile is not None else None,
    }  # fmt: skip
    for variation in world.vary:
        value = draw.uniform(variation.low, variation.high)
        # Rounded as a teacher would set it: whole milliseconds, tenths of a percent, kbit/s.
        step = {"latency": 0.001, "loss": 0.001, "bandwidth": 1000.0}[variation.key]
        values[variation.key] = round(round(value / step) * step, 6)
    conditions = sim.LinkConditions(
        latency=values["latency"], bandwidth=values["bandwidth"], loss=values["loss"],
        mtu=world.mtu,
    )  # fmt: skip
    return StudentWorld(seed, conditions)


def student_run(lesson: Lesson, student: str, language: str = "en") -> StudentRun:
    """Run ``student``'s world of ``lesson`` and work out every question's answer.

    A question whose fact the run cannot give (say, a file the page never asked
    for) is the lesson's mistake: LessonError with the question's line."""
    world = student_world(lesson, student)
    done = sim.run(
        lesson.world.lab,
        world.seed,
        world.conditions,
        url=lesson.world.url,
        language=language,
        faults=lesson.world.faults,
        dns_silent=lesson.world.dns_silent,
        loads=2 if lesson.world.reload else 1,
    )
    trace = done.world.trace
    facts = RunFacts(trace)
    answers = {}
    for question in lesson.questions:
        try:
            answers[question.id] = expected(facts, question)
        except FactError as exc:
            raise LessonError(
                f"{lesson.source.name}:{question.line}: question {question.id}: "
                f"the run cannot answer it ({exc})"
            ) from None
    return StudentRun(lesson, student, world, trace, done, answers)


def expected(facts: RunFacts, question: Question) -> Value:
    """The right answer to ``question`` in the run ``facts`` describes."""
    if question.type == "ordering":
        order = sorted(question.items, key=lambda item: moment_index(facts, item))
        return list(order)
    value = FACTS[question.answer](facts, **question.params)
    if question.type == "choice":
        value = str(value)
        if value not in options(facts, question):
            raise FactError(f"the right answer {value!r} is not among the options")
    return value


def options(facts: RunFacts, question: Question) -> list[str]:
    """A choice question's options: its own, or computed from the run."""
    if question.options_from == "hosts":
        return sorted({name for name in facts.hosts.values()})
    return list(question.options)


# --- marking ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mark:
    """One question marked: points out of ``points``, and the feedback sentence."""

    question: str
    score: float
    points: float
    right: bool
    answered: bool
    feedback: str


def _shown(value: Value, language: str) -> str:
    if isinstance(value, list):
        return " → ".join(value)
    if isinstance(value, float):
        return number(value, language, 0 if value == int(value) else 1)
    if isinstance(value, int):
        return number(value, language)
    return value


def mark(run: StudentRun, question: Question, given: Any, language: str) -> Mark:
    """Compare ``given`` with the run's answer to ``question``; the feedback in ``language``."""
    _ = translation(language).gettext
    right_answer = run.answers[question.id]
    answered = given not in (None, "", [])
    right = answered and _is_right(question, right_answer, given)
    fields = _feedback_fields(run, question, given if answered else None, language)
    explanation = run.lesson.text(question.feedback, language).format(**fields)
    if not answered:
        verdict = _("Not answered.")
    elif right:
        verdict = _("Right.")
    else:
        verdict = _("Not quite: you answered {given}.").format(given=fields["given"])
    score = question.points if right else 0.0
    return Mark(question.id, score, question.points, right, answered, f"{verdict} {explanation}")


def explanation(run: StudentRun, question: Question, language: str) -> str:
    """The feedback of ``question`` with ``run``'s values: what the right answer shows."""
    fields = _feedback_fields(run, question, None, language)
    return run.lesson.text(question.feedback, language).format(**fields)


def _feedback_fields(
    run: StudentRun, question: Question, given: Any, language: str
) -> dict[str, str]:
    conditions = run.world.conditions
    latency = conditions.latency if conditions.latency is not None else _lab_latency(run)
    return {
        "answer": _shown(run.answers[question.id], language),
        "given": _shown(given if isinstance(given, list | int | float) else str(given), language)
        if given is not None else "—",
        "latency_ms": number(latency * 1000, language),
        "rtt_ms": number(latency * 2000, language),
        "loss_percent": number((conditions.loss or 0) * 100, language, 1),
        "bandwidth_mbit": number((conditions.bandwidth or _lab_bandwidth(run)) / 1e6, language, 1),
    }  # fmt: skip


def _lab_latency(run: StudentRun) -> float:
    return float(run.lesson.world.lab.browser_link.options.get("latency", 0.0))


def _lab_bandwidth(run: StudentRun) -> float:
    return float(run.lesson.world.lab.browser_link.options.get("bandwidth", 0.0))


def _is_right(question: Question, right: Value, given: Any) -> bool:
    if question.type == "numeric":
        try:
            value = float(str(given).replace(",", ".").strip())
        except ValueError:
            return False
        assert isinstance(right, int | float)
        allowed = question.tolerance * abs(right) if question.relative else question.tolerance
        return abs(value - right) <= allowed + 1e-9
    if question.type == "ordering":
        return isinstance(given, list) and [str(g).strip() for g in given] == right
    return str(given).strip().lower() == str(right).lower()


# --- the answers file ---------------------------------------------------------------------


class AnswersError(ValueError):
    """An answers file that cannot be read or checked: one sentence."""


def answers_template(run: StudentRun, language: str, file_name: str = "THIS-FILE") -> str:
    """The answers file a student fills in (TOML: it keeps the comments, and a student can
    edit it in any text editor)."""
    _ = translation(language).gettext
    lesson = run.lesson
    facts = RunFacts(run.trace)
    lines = [
        "# " + _("webtrip lesson: {title}").format(title=lesson.text(lesson.title, language)),
        "# " + _("Fill in each answer between the quotes, save, then run:"),
        f"#   webtrip lesson check {file_name}",
        "",
        f"lesson = {json.dumps(lesson.id)}",
        *([] if _is_bundled(lesson) else [f"lesson_file = {json.dumps(str(lesson.source))}"]),
        f"version = {lesson.version}",
        f"student = {json.dumps(run.student)}",
        "",
        "[answers]",
    ]
    for number_, question in enumerate(lesson.questions, 1):
        lines.append(f"# {number_}. {lesson.text(question.text, language)}")
        if question.type == "ordering":
            lines.append("#    " + _("Put these in order, first to last:"))
            lines.append(f"{question.id} = {json.dumps(list(question.items))}")
        else:
            if question.type in ("choice", "prediction"):
                choices = options(facts, question)
                lines.append("#    " + _("One of: {options}").format(options=", ".join(choices)))
            lines.append(f'{question.id} = ""')
        lines.append("")
    return "\n".join(lines)


def _is_bundled(lesson: Lesson) -> bool:
    return lesson.source.parent.parent.name == "bundled"


def read_answers(path: Path, lesson: Lesson | None = None) -> tuple[Lesson, str, dict[str, Any]]:
    """The lesson, the student's code and the answers of an answers file (TOML or JSON).

    With ``lesson`` (the teacher's), the file must be for that lesson, and the
    lesson is the teacher's copy, never one the file points to."""
    try:
        raw = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise AnswersError(f"{path}: no such answers file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AnswersError(f"{path}: the answers file cannot be read ({exc})") from None
    try:
        doc = json.loads(raw) if path.suffix.lower() == ".json" else tomllib.loads(raw)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        kind = "JSON" if path.suffix.lower() == ".json" else "TOML"
        raise AnswersError(f"{path.name}: not valid {kind} ({exc})") from None
    if not isinstance(doc, dict):
        raise AnswersError(f"{path.name}: expected a table with lesson, student and answers")
    wanted: tuple[tuple[str, type], ...] = (("lesson", str), ("student", str), ("answers", dict))
    for key, of_type in wanted:
        if not isinstance(doc.get(key), of_type) or not doc[key]:
            raise AnswersError(f"{path.name}: {key}: missing or empty")
    if lesson is None:
        lesson = _lesson_named(path, doc["lesson"], doc.get("lesson_file"))
    elif doc["lesson"] != lesson.id:
        raise AnswersError(f"{path.name}: answers for {doc['lesson']}, not for {lesson.id}")
    version = doc.get("version", lesson.version)
    if version != lesson.version:
        raise AnswersError(
            f"{path.name}: written for version {version} of {lesson.id}, "
            f"but this is version {lesson.version}: run the lesson again"
        )
    known = {q.id for q in lesson.questions}
    unknown = sorted(set(doc["answers"]) - known)
    if unknown:
        raise AnswersError(f"{path.name}: answers.{unknown[0]}: no such question in {lesson.id}")
    return lesson, doc["student"], doc["answers"]


def _lesson_named(answers: Path, lesson_id: str, lesson_file: Any) -> Lesson:
    """The lesson an answers file names: a bundled lesson by its id, or else its
    ``lesson_file`` (relative to the answers file, or else to the current folder)."""
    if lesson_id in bundled_lessons() or not isinstance(lesson_file, str):
        name = lesson_id
    else:
        beside = answers.parent / lesson_file
        name = (
            str(beside) if not Path(lesson_file).is_absolute() and beside.exists() else lesson_file
        )
    try:
        lesson = find_lesson(name)
    except LessonError as exc:
        raise AnswersError(f"{answers.name}: {exc}") from None
    if lesson.id != lesson_id:
        raise AnswersError(f"{answers.name}: {name} is the lesson {lesson.id}, not {lesson_id}")
    return lesson
