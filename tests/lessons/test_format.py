"""The lesson file: every bundled lesson reads, and each mistake is one sentence with file:line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from webtrip.lessons import FORMAT, LessonError, bundled_lessons, load_lesson
from webtrip.lessons.engine import student_run

DOCS = Path(__file__).parents[2] / "docs"
WALK = bundled_lessons()["walk-from-root"]


def docs_example(page: str) -> str:
    """The lesson a teacher can copy: the first ```toml block of the page."""
    text = (DOCS / page).read_text(encoding="utf-8")
    return re.search(r"```toml\n(.*?)```", text, re.S).group(1)  # type: ignore[union-attr]


def test_the_bundled_lessons_read_in_both_languages():
    assert {"walk-from-root", "lossy-cafe"} <= set(bundled_lessons())
    for path in bundled_lessons().values():
        lesson = load_lesson(path)
        assert lesson.languages == ("en", "es")
        for question in lesson.questions:
            assert question.text["en"] and question.text["es"]
            assert question.feedback["en"] and question.feedback["es"]
    kinds = {q.type for p in bundled_lessons().values() for q in load_lesson(p).questions}
    assert kinds == {"numeric", "choice", "ordering", "prediction"}


@pytest.mark.parametrize("page", ["lessons.md", "lessons-es.md"])
def test_the_docs_example_is_a_lesson_that_runs(page, tmp_path):
    path = tmp_path / "lesson.toml"
    path.write_text(docs_example(page), encoding="utf-8")
    lesson = load_lesson(path)
    run = student_run(lesson, "test")
    assert set(run.answers) == {q.id for q in lesson.questions}


def mistake(tmp_path: Path, old: str, new: str, text: str | None = None) -> str:
    """The one sentence a lesson with ``old`` replaced by ``new`` is refused with."""
    source = text if text is not None else WALK.read_text(encoding="utf-8")
    assert old in source
    path = tmp_path / "lesson.toml"
    path.write_text(source.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(LessonError) as caught:
        load_lesson(path)
    return str(caught.value)


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_an_unknown_fact_names_the_line_and_the_facts_known(tmp_path):
    source = WALK.read_text(encoding="utf-8")
    message = mistake(tmp_path, 'answer = "handshake_ms"', 'answer = "handshake"')
    line = line_of(source, 'answer = "handshake_ms"')
    assert message.startswith(f"lesson.toml:{line}: questions[5].answer: expected one of ")
    assert "handshake_ms" in message and message.endswith("got handshake")


@pytest.mark.parametrize(
    ("old", "new", "where", "expected"),
    [
        ("format = 1", "format = 2", "format", f"expected {FORMAT}"),
        ('level = "beginner"', 'level = "easy"', "lesson.level", "expected one of beginner"),
        ("duration = 25", 'duration = "25"', "lesson.duration", "expected minutes"),
        ('type = "ordering"', 'type = "order"', "questions[3].type", "expected one of numeric"),
        ('tolerance = "10%"', 'tolerance = "ten"', "questions[5].tolerance", "a tolerance"),
        ('"asked:tld"]', '"asked"]', "questions[3].items", "asked:HOST"),
        ('after = "name-resolved"', 'after = "resolved"', "questions[4].after", "a moment"),
        ('params = { zone = "test." }', "params = { zone = 1 }", "questions[1].params",
         "zone as a text"),
        ('params = { connection = 1 }', 'params = { conn = 1 }', "questions[5].params",
         "handshake_ms(connection=1)'s parameters"),
        ('latency = ["10ms", "60ms"]', 'latency = ["10ms"]', "world.vary.latency",
         "a range of two values"),
        ('latency = ["10ms", "60ms"]', 'latency = ["10 parsecs", "60ms"]', "world.vary.latency",
         "a quantity with its unit"),
        ('seed = "per-student"', "seed = 7", "world.vary", 'seed = "per-student"'),
        ('lab = "demo"', 'lab = "missing/lab.toml"', "world.lab", "a lab that loads"),
        ('author = "webtrip"', 'autor = "webtrip"', "lesson.autor", "one of the keys"),
        ("{answer} server knows", "{answr} server knows", "questions[1].feedback",
         "only the placeholders"),
        ('id = "handshake"', 'id = "referral"', "questions[5].id", "an id no other question"),
    ],
)  # fmt: skip
def test_each_mistake_is_one_sentence_with_its_line(tmp_path, old, new, where, expected):
    source = WALK.read_text(encoding="utf-8")
    message = mistake(tmp_path, old, new)
    # The mistake's own line; for a rule between keys, the table the rule is about.
    line = line_of(source, "[world.vary]" if where == "world.vary" else old)
    assert message.startswith(f"lesson.toml:{line}: {where}: "), message
    assert expected in message
    assert "\n" not in message and "Traceback" not in message


def test_a_text_missing_its_spanish_says_which_language(tmp_path):
    message = mistake(
        tmp_path,
        'title = { en = "The walk from the root", es = "El paseo desde la raíz" }',
        'title = { en = "The walk from the root" }',
    )
    assert message.startswith("lesson.toml:")
    assert "lesson.title: expected a text in each language" in message and "(es missing" in message


def test_a_missing_key_points_at_its_table(tmp_path):
    source = WALK.read_text(encoding="utf-8")
    message = mistake(tmp_path, 'author = "webtrip"\n', "")
    assert message == (
        f"lesson.toml:{line_of(source, '[lesson]')}: lesson.author: expected the author's name "
        "(missing)"
    )


def test_a_file_that_is_not_toml_says_so(tmp_path):
    path = tmp_path / "lesson.toml"
    path.write_text("format = = 1\n", encoding="utf-8")
    with pytest.raises(LessonError, match=r"^lesson\.toml: not valid TOML"):
        load_lesson(path)
