"""The lesson file: a TOML document a teacher writes, read and checked here.

A lesson says who wrote it and for whom (``[lesson]``), what the students
should learn (``goal``), the world their run happens in (``[world]``: a
bundled lab or the lesson's own, the network's conditions and faults, the
seed and what may vary per student), what to do (``instructions``) and the
questions (``[[questions]]``), each answered by a fact of
:mod:`webtrip.lessons.vocabulary`. docs/lessons.md describes every key.

:func:`load_lesson` reports the *first* mistake as one sentence with the
file, the line and what was expected ("lesson.toml:14: questions[2].answer:
expected one of handshake_ms, …, got handshake"). tomllib gives values without
their lines, so :class:`_Lines` finds each key's line in the text itself:
it follows ``[table]`` and ``[[array]]`` headers and ``key =`` lines, which is
all a lesson file needs (tomlkit would keep lines too, but is a second TOML
parser for one job the standard library's and forty lines do).
"""

from __future__ import annotations

import re
import string
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn

from webtrip.lab import LabError, demo_lab, load_lab, parse_fault, parse_quantity, parse_share
from webtrip.lab.faults import FaultSpec
from webtrip.lab.profiles import PROFILES
from webtrip.lab.spec import Lab
from webtrip.lessons.vocabulary import FACTS, PACKET_KINDS, check_moment
from webtrip.outcomes import N_

__all__ = [
    "FORMAT",
    "LEVELS",
    "QUESTION_TYPES",
    "Lesson",
    "LessonError",
    "Question",
    "Variation",
    "World",
    "bundled_lessons",
    "find_lesson",
    "load_lesson",
]

FORMAT = 1
"""The version of the lesson format this code reads."""

LEVELS = (N_("beginner"), N_("intermediate"), N_("advanced"))
"""A lesson's levels (marked for the catalog: shown translated)."""
QUESTION_TYPES = ("numeric", "choice", "ordering", "prediction")
LANGUAGE_KEYS = ("en", "es")
VARIABLE = {"latency": "time", "bandwidth": "rate", "loss": "share"}
"""What a world may vary per student, and the kind of quantity each is."""
FEEDBACK_FIELDS = ("answer", "given", "latency_ms", "rtt_ms", "loss_percent", "bandwidth_mbit")
"""The run's values a feedback text may name: ``{answer}``, ``{rtt_ms}``..."""
OPTION_SOURCES = ("hosts", "packet-kinds")
"""Options a choice question may have computed: the lab's hosts, the packet kinds."""


class LessonError(ValueError):
    """A mistake in a lesson file: one sentence, with the file and line."""


Text = dict[str, str]
"""A text in each language: {"en": ..., "es": ...}."""


@dataclass(frozen=True)
class Variation:
    """A quantity that varies per student: uniform between ``low`` and ``high``."""

    key: str
    low: float
    high: float


@dataclass(frozen=True)
class World:
    """Where a student's run happens: the lab, the link, the faults, the seed."""

    lab: Lab
    lab_name: str
    url: str | None
    network: str | None
    latency: float | None
    bandwidth: float | None
    loss: float | None
    mtu: int | None
    faults: tuple[FaultSpec, ...]
    dns_silent: bool
    reload: bool
    seed: int | None  # None: per student
    vary: tuple[Variation, ...]


@dataclass(frozen=True)
class Question:
    """One question: what kind, its text, the fact that answers it, how it is marked."""

    id: str
    type: str
    text: Text
    answer: str
    params: dict[str, str | int]
    points: float
    feedback: Text
    tolerance: float = 0.0
    relative: bool = False
    options: tuple[str, ...] = ()
    options_from: str = ""
    items: tuple[str, ...] = ()
    line: int = 0


@dataclass(frozen=True)
class Lesson:
    """A lesson read from its file."""

    source: Path
    id: str
    title: Text
    author: str
    version: int
    languages: tuple[str, ...]
    level: str
    duration: int
    goal: Text
    instructions: Text
    world: World
    questions: tuple[Question, ...] = field(default_factory=tuple)

    def text(self, value: Text, language: str) -> str:
        return value.get(language) or value["en"]


# --- finding a key's line ---------------------------------------------------------------


_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\" ]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+(?:\s*\.\s*[A-Za-z0-9_\-]+)*)\s*=")


class _Lines:
    """Where each table and key of a TOML text starts: ``questions[2].answer`` → 14."""

    def __init__(self, text: str) -> None:
        self.lines: dict[str, int] = {}
        counts: dict[str, int] = {}
        table = ""
        for number, line in enumerate(text.splitlines(), 1):
            header = _HEADER.match(line)
            if header:
                name = header.group(2).replace('"', "").replace(" ", "")
                if header.group(1) == "[[":
                    counts[name] = counts.get(name, 0) + 1
                    table = f"{name}[{counts[name]}]"
                else:
                    parent, _dot, last = name.rpartition(".")
                    table = f"{parent}[{counts[parent]}].{last}" if parent in counts else name
                self.lines.setdefault(table, number)
                continue
            key = _KEY.match(line)
            if key:
                parts = [part.strip() for part in key.group(1).split(".")]
                for end in range(1, len(parts) + 1):
                    dotted = ".".join(parts[:end])
                    self.lines.setdefault(f"{table}.{dotted}" if table else dotted, number)

    def of(self, path: str) -> int:
        """The line of ``path``, or of the nearest table around it (1 if none)."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path.rpartition(".")[0]
        return 1


# --- reading ----------------------------------------------------------------------------


class _Reader:
    """Reads one lesson document, raising a LessonError at the first mistake."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = _Lines(text)

    def fail(
        self, where: str, expected: str, got: Any = None, *, missing: bool = False
    ) -> NoReturn:
        line = self.lines.of(where)
        said = " (missing)" if missing else f", got {_shown(got)}" if got is not None else ""
        raise LessonError(f"{self.path.name}:{line}: {where}: expected {expected}{said}")

    def get(self, table: dict[str, Any], where: str, key: str, kind: type | tuple[type, ...],
            expected: str,
            default: Any = ...) -> Any:  # fmt: skip
        path = f"{where}.{key}" if where else key
        if key not in table:
            if default is ...:
                self.fail(path, expected, missing=True)
            return default
        value = table[key]
        if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
            self.fail(path, expected, value)
        return value

    def text(self, table: dict[str, Any], where: str, key: str, languages: tuple[str, ...]) -> Text:
        path = f"{where}.{key}" if where else key
        expected = (
            "a text in each language: { " + ", ".join(f'{k} = "..."' for k in languages) + " }"
        )
        value = self.get(table, where, key, dict, expected)
        for language in languages:
            if not isinstance(value.get(language), str) or not value[language].strip():
                self.fail(path, expected + f" ({language} missing or empty)")
        unknown = sorted(set(value) - set(LANGUAGE_KEYS))
        if unknown:
            self.fail(path, "the languages " + ", ".join(LANGUAGE_KEYS), unknown[0])
        return {k: value[k] for k in LANGUAGE_KEYS if k in value}

    def unknown_keys(self, table: dict[str, Any], where: str, known: tuple[str, ...]) -> None:
        for key in table:
            if key not in known:
                path = f"{where}.{key}" if where else key
                self.fail(path, "one of the keys " + ", ".join(known), key)

    def lesson(self, doc: dict[str, Any]) -> Lesson:
        self.unknown_keys(doc, "", ("format", "lesson", "goal", "world", "instructions",
                                    "questions"))  # fmt: skip
        version = self.get(doc, "", "format", int, f"format = {FORMAT}")
        if version != FORMAT:
            self.fail("format", f"{FORMAT} (this webtrip reads lesson format {FORMAT})", version)
        meta = self.get(doc, "", "lesson", dict, "a [lesson] table")
        self.unknown_keys(meta, "lesson", ("id", "title", "author", "version", "languages",
                                           "level", "duration"))  # fmt: skip
        lesson_id = self.get(meta, "lesson", "id", str, "an id of lowercase letters, digits, -")
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,63}", lesson_id):
            self.fail("lesson.id", "an id of lowercase letters, digits and -", lesson_id)
        languages = tuple(self.get(meta, "lesson", "languages", list, 'languages = ["en", "es"]',
                                   ["en", "es"]))  # fmt: skip
        if (
            not languages
            or any(lang not in LANGUAGE_KEYS for lang in languages)
            or ("en" not in languages)
        ):
            self.fail("lesson.languages", 'a list of "en" and "es", with "en"', list(languages))
        level = self.get(meta, "lesson", "level", str, "one of " + ", ".join(LEVELS))
        if level not in LEVELS:
            self.fail("lesson.level", "one of " + ", ".join(LEVELS), level)
        duration = self.get(meta, "lesson", "duration", int, "minutes, a whole number")
        if not 1 <= duration <= 600:
            self.fail("lesson.duration", "minutes between 1 and 600", duration)
        version_number = self.get(meta, "lesson", "version", int, "a version number (1, 2...)")
        if version_number < 1:
            self.fail("lesson.version", "a version number from 1", version_number)
        world = self.world(self.get(doc, "", "world", dict, "a [world] table"))
        raw_questions = self.get(doc, "", "questions", list, "[[questions]] tables")
        if not raw_questions:
            self.fail("questions", "at least one [[questions]] table", missing=True)
        questions = []
        seen: set[str] = set()
        for index, raw in enumerate(raw_questions, 1):
            question = self.question(raw, f"questions[{index}]", languages, world)
            if question.id in seen:
                self.fail(f"questions[{index}].id", "an id no other question has", question.id)
            seen.add(question.id)
            questions.append(question)
        return Lesson(
            source=self.path,
            id=lesson_id,
            title=self.text(meta, "lesson", "title", languages),
            author=self.get(meta, "lesson", "author", str, "the author's name"),
            version=version_number,
            languages=languages,
            level=level,
            duration=duration,
            goal=self.text(doc, "", "goal", languages),
            instructions=self.text(doc, "", "instructions", languages),
            world=world,
            questions=tuple(questions),
        )

    def world(self, table: dict[str, Any]) -> World:
        known = ("lab", "url", "network", "latency", "bandwidth", "loss", "mtu", "drop", "delay",
                 "dns_silent", "reload", "seed", "vary")  # fmt: skip
        self.unknown_keys(table, "world", known)
        name = self.get(table, "world", "lab", str, '"demo" or a lab file relative to the lesson',
                        "demo")  # fmt: skip
        try:
            lab = demo_lab() if name == "demo" else load_lab(self.path.parent / name)
        except LabError as exc:
            self.fail("world.lab", f"a lab that loads ({exc})")
        url = self.get(table, "world", "url", str, "the URL the browser loads", None)
        network = self.get(table, "world", "network", str, "a network profile", None)
        if network is not None and network not in PROFILES:
            self.fail("world.network", "one of " + ", ".join(PROFILES), network)
        values: dict[str, float | None] = {}
        for key, kind in VARIABLE.items():
            values[key] = self.quantity(table, "world", key, kind)
        mtu = self.get(table, "world", "mtu", int, "an MTU from 576 to 65535", None)
        if mtu is not None and not 576 <= mtu <= 65535:
            self.fail("world.mtu", "an MTU from 576 to 65535", mtu)
        faults = []
        for action in ("drop", "delay"):
            texts = self.get(table, "world", action, list, f"a list of {action} filters", [])
            for text in texts:
                try:
                    faults.append(parse_fault(action, str(text)))
                except ValueError as exc:
                    self.fail(f"world.{action}", f"a packet filter: {exc}")
        seed = table.get("seed", "per-student")
        if seed != "per-student" and (isinstance(seed, bool) or not isinstance(seed, int)
                                      or not 0 <= seed < 2**63):  # fmt: skip
            self.fail("world.seed", '"per-student" or a fixed seed (a whole number from 0)', seed)
        vary_table = self.get(table, "world", "vary", dict, "a [world.vary] table", {})
        self.unknown_keys(vary_table, "world.vary", tuple(VARIABLE))
        vary = []
        for key, bounds in vary_table.items():
            where = f"world.vary.{key}"
            expected = (
                f'a range of two values, like ["{"10ms" if key == "latency" else "1%"}", ...]'
            )
            if not isinstance(bounds, list) or len(bounds) != 2:
                self.fail(where, expected, bounds)
            low, high = (self.parsed(where, VARIABLE[key], b) for b in bounds)
            if not low <= high:
                self.fail(where, "a range from the lower value to the higher", bounds)
            vary.append(Variation(key, low, high))
        if vary and seed != "per-student":
            self.fail("world.vary", 'seed = "per-student" (a fixed seed cannot vary per student)')
        return World(lab, name, url, network, values["latency"], values["bandwidth"],
                     values["loss"], mtu, tuple(faults),
                     bool(self.get(table, "world", "dns_silent", bool, "true or false", False)),
                     bool(self.get(table, "world", "reload", bool, "true or false", False)),
                     None if seed == "per-student" else int(seed), tuple(vary))  # fmt: skip

    def quantity(self, table: dict[str, Any], where: str, key: str, kind: str) -> float | None:
        if key not in table:
            return None
        return self.parsed(f"{where}.{key}", kind, table[key])

    def parsed(self, where: str, kind: str, value: Any) -> float:
        try:
            if kind == "share":
                return parse_share(value)
            number = parse_quantity(kind, value)
        except (ValueError, TypeError):
            example = {"time": '"20ms"', "rate": '"10mbit"', "share": '"2%"'}[kind]
            self.fail(where, f"a quantity with its unit, like {example}", value)
        if kind == "rate" and number <= 0:
            self.fail(where, "a speed above 0", value)
        return number

    def question(self, raw: Any, where: str, languages: tuple[str, ...], world: World) -> Question:
        if not isinstance(raw, dict):
            self.fail(where, "a [[questions]] table", raw)
        known = ("id", "type", "text", "answer", "params", "points", "feedback", "tolerance",
                 "options", "items", "after")  # fmt: skip
        self.unknown_keys(raw, where, known)
        question_id = self.get(raw, where, "id", str, "an id (letters, digits, _ or -)")
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", question_id):
            self.fail(f"{where}.id", "an id of letters, digits, _ or -", question_id)
        kind = self.get(raw, where, "type", str, "one of " + ", ".join(QUESTION_TYPES))
        if kind not in QUESTION_TYPES:
            self.fail(f"{where}.type", "one of " + ", ".join(QUESTION_TYPES), kind)
        text = self.text(raw, where, "text", languages)
        feedback = self.text(raw, where, "feedback", languages)
        for language, words in feedback.items():
            for _literal, name, _spec, _conv in string.Formatter().parse(words):
                if name is not None and name not in FEEDBACK_FIELDS:
                    allowed = "{" + "}, {".join(FEEDBACK_FIELDS) + "}"
                    got = f"{{{name}}} ({language})"
                    self.fail(f"{where}.feedback", "only the placeholders " + allowed, got)
        points = self.get(raw, where, "points", (int, float), "points, a number above 0", 1)
        if isinstance(points, bool) or points <= 0:
            self.fail(f"{where}.points", "points, a number above 0", points)
        if kind == "ordering":
            return self.ordering(raw, where, question_id, text, feedback, float(points))
        if kind == "prediction":
            after = self.get(raw, where, "after", str, "the moment the replay pauses after")
            problem = check_moment(after)
            if problem:
                self.fail(f"{where}.after", problem, after)
            return Question(question_id, kind, text, "next_packet", {"after": after},
                            float(points), feedback, options=PACKET_KINDS,
                            line=self.lines.of(where))  # fmt: skip
        answer = self.get(raw, where, "answer", str, "a fact: one of " + ", ".join(FACTS))
        if answer not in FACTS:
            self.fail(f"{where}.answer", "one of " + ", ".join(FACTS), answer)
        known_fact = FACTS[answer]
        params = self.get(raw, where, "params", dict, "a table of the fact's parameters", {})
        names = [p.name for p in known_fact.parameters]
        for key, value in params.items():
            if key not in names:
                self.fail(f"{where}.params", f"{known_fact.signature}'s parameters", key)
            wanted = next(p for p in known_fact.parameters if p.name == key).kind
            if (wanted == "int") != (isinstance(value, int) and not isinstance(value, bool)) or (
                wanted == "text" and not isinstance(value, str)
            ):
                as_what = "a whole number" if wanted == "int" else "a text"
                self.fail(f"{where}.params", f"{key} as {as_what}", value)
        for p in known_fact.parameters:
            if p.default is None and p.name not in params:
                self.fail(f"{where}.params", f"{known_fact.signature}: {p.name} is needed",
                          missing=True)  # fmt: skip
        if "after" in params or "moment" in params:
            moment = str(params.get("after", params.get("moment")))
            problem = check_moment(moment)
            if problem:
                self.fail(f"{where}.params", problem, moment)
        line = self.lines.of(where)
        if kind == "numeric":
            if known_fact.unit in ("host", "zone", "outcome", "kind"):
                self.fail(f"{where}.answer", "a fact with a number (a choice question for "
                          f"{answer})", answer)  # fmt: skip
            tolerance, relative = self.tolerance(raw, where)
            return Question(question_id, kind, text, answer, params, float(points), feedback,
                            tolerance, relative, line=line)  # fmt: skip
        options = raw.get("options")
        if isinstance(options, str) and options in OPTION_SOURCES:
            return Question(question_id, kind, text, answer, params, float(points), feedback,
                            options_from=options, line=line)  # fmt: skip
        if (
            not isinstance(options, list)
            or len(options) < 2
            or not all(isinstance(o, str | int) and not isinstance(o, bool) for o in options)
        ):
            self.fail(f"{where}.options", "a list of at least two options, or one of "
                      + ", ".join(f'"{s}"' for s in OPTION_SOURCES), options)  # fmt: skip
        return Question(question_id, kind, text, answer, params, float(points), feedback,
                        options=tuple(str(o) for o in options), line=line)  # fmt: skip

    def tolerance(self, raw: dict[str, Any], where: str) -> tuple[float, bool]:
        value = raw.get("tolerance", 0)
        expected = 'a tolerance: a number (absolute, in the fact\'s unit) or a share like "10%"'
        if isinstance(value, str):
            match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*%\s*", value)
            if match is None:
                self.fail(f"{where}.tolerance", expected, value)
            return float(match.group(1)) / 100, True
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            self.fail(f"{where}.tolerance", expected, value)
        return float(value), False

    def ordering(self, raw: dict[str, Any], where: str, question_id: str, text: Text,
                 feedback: Text, points: float) -> Question:  # fmt: skip
        items = raw.get("items")
        if (
            not isinstance(items, list)
            or len(items) < 2
            or not all(isinstance(i, str) for i in items)
        ):
            self.fail(f"{where}.items", "a list of at least two moments", items)
        for item in items:
            problem = check_moment(item)
            if problem:
                self.fail(f"{where}.items", problem, item)
        if len(set(items)) != len(items):
            self.fail(f"{where}.items", "each moment once", items)
        return Question(question_id, "ordering", text, "moment_ms", {}, points, feedback,
                        items=tuple(items), line=self.lines.of(where))  # fmt: skip


def _shown(value: Any) -> str:
    text = str(value) if isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def load_lesson(path: str | Path) -> Lesson:
    """Read and check the lesson file at ``path``; LessonError (one sentence) if wrong."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise LessonError(f"{path}: no such lesson file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LessonError(f"{path}: the lesson file cannot be read ({exc})") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise LessonError(f"{path.name}: not valid TOML ({exc})") from None
    return _Reader(path, text).lesson(doc)


def bundled_lessons() -> dict[str, Path]:
    """The lessons that come with webtrip: id (the folder's name) → lesson file."""
    root = Path(str(resources.files("webtrip.lessons").joinpath("bundled")))
    return {p.parent.name: p for p in sorted(root.glob("*/lesson.toml"))}


def find_lesson(name: str) -> Lesson:
    """A bundled lesson by id, or a lesson file by path; LessonError otherwise."""
    bundled = bundled_lessons()
    if name in bundled:
        return load_lesson(bundled[name])
    path = Path(name)
    if path.is_dir():
        path = path / "lesson.toml"
    if not path.exists():
        raise LessonError(f"{name}: not a bundled lesson ({', '.join(bundled)}) nor a lesson file")
    return load_lesson(path)
