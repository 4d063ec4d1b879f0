"""The teacher's and the student's sheets, and the lesson's page for a course site."""

from __future__ import annotations

import html
import itertools
import json
import re
import tomllib
from functools import cache

import pytest

from report.test_mermaid_render import PAGE, dump_dom, mermaid_bundle
from support import require_program, run_webtrip
from webtrip.lessons import find_lesson
from webtrip.lessons.engine import StudentRun, student_run
from webtrip.lessons.sheets import (
    CLASS_MINUTES,
    class_plan,
    lesson_page,
    student_sheet,
    teacher_sheet,
    to_html,
    to_markdown,
)


@cache
def run_of(lesson: str, student: str, language: str = "en") -> StudentRun:
    return student_run(find_lesson(lesson), student, language)


def test_the_teachers_sheet_gives_this_students_answers_and_what_each_shows():
    run = run_of("tcp-handshake", "ana-3b")
    text = to_markdown(teacher_sheet(run.lesson, run, "en"))
    assert "Answers for the student code ana-3b" in text
    handshake = run.answers["handshake"]
    assert isinstance(handshake, float)
    assert f"| 1. handshake | {handshake:.1f} |" in text
    assert "name-resolved → syn → connection-open → request:/ → response:/" in text
    # The discussion is each question's feedback with this run's own values.
    latency = run.world.conditions.latency
    assert latency is not None
    assert f"the SYN crossed your link ({round(latency * 1000)} ms)" in text
    assert "```mermaid\nflowchart LR" in text


def test_another_code_gives_another_teachers_sheet():
    ana, luis = run_of("slow-mobile", "ana-3b"), run_of("slow-mobile", "Luis G.")
    assert to_markdown(teacher_sheet(ana.lesson, ana, "en")) != to_markdown(
        teacher_sheet(luis.lesson, luis, "en")
    )


@pytest.mark.parametrize("lesson", ["walk-from-root", "dns-down", "second-visit", "http-status"])
def test_the_class_plan_fills_fifty_minutes_from_the_start(lesson):
    plan = class_plan(find_lesson(lesson), "en")
    bounds = [tuple(int(x) for x in minutes.split("–")) for minutes, _text in plan]
    assert bounds[0][0] == 0 and bounds[-1][1] == CLASS_MINUTES
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))


def test_the_students_sheet_asks_every_question_and_gives_no_answer():
    run = run_of("http-status", "t07")
    text = to_markdown(student_sheet(run.lesson, run, "en"))
    for question in run.lesson.questions:
        assert question.text["en"] in text
    assert "webtrip lesson run http-status --student t07" in text
    assert "Answers for" not in text and "Moved Permanently" not in text
    assert "One of: 200, 301, 403, 404" in text


def test_a_students_sheet_without_a_code_is_for_any_student():
    lesson = find_lesson("walk-from-root")
    text = to_markdown(student_sheet(lesson, None, "es"))
    assert "--student CÓDIGO --lang es" in text
    assert "One of" not in text and "los equipos del laboratorio" in text
    assert "¿Qué servidor le ha enviado al resolutor la remisión" in text


def test_the_hugo_page_has_toml_front_matter_and_both_diagrams_in_shortcodes():
    run = run_of("page-as-packets", "ana-3b", "es")
    text = to_markdown(lesson_page(run.lesson, run, "es"), hugo=True)
    front = re.match(r"\+\+\+\n(.*?)\n\+\+\+\n", text, re.S)
    assert front is not None
    meta = tomllib.loads(front.group(1))
    assert meta["title"] == "La página en paquetes, y vuelta a juntar"
    assert meta["weight"] == 10 and meta["description"].startswith("Ver cómo viaja")
    blocks = re.findall(r"\{\{< mermaid >\}\}\n(.*?)\n\{\{< /mermaid >\}\}", text, re.S)
    assert [b.split("\n")[0] for b in blocks] == ["flowchart LR", "sequenceDiagram"]
    assert "```mermaid" not in text
    # The run's own narration, and the questions without their answers.
    assert "Paso 1" in text and "¿Cuántos bytes tiene la foto" in text


def test_the_printable_page_fetches_nothing_from_the_network():
    run = run_of("dns-down", "ana-3b")
    page = to_html(lesson_page(run.lesson, run, "en"))
    assert page.startswith("<!DOCTYPE html>") and '<html lang="en">' in page
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', page)
    assert "<script" not in page
    assert page.count('<pre class="mermaid">') == 2
    assert "@media print" in page


def test_export_writes_the_page_named_for_the_lesson_and_language(tmp_path):
    done = run_webtrip("lesson", "export", "second-visit", "--lang", "es", "-o", str(tmp_path))
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "second-visit.es.md").read_text(encoding="utf-8")
    assert page.startswith("+++\n") and page.count("{{< mermaid >}}") == 2
    # Both loads are told: the reload, and what the caches saved.
    assert "Carga 2" in page
    done = run_webtrip("lesson", "export", "small-mtu", "--format", "markdown", "-o",
                       str(tmp_path))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "small-mtu.md").read_text(encoding="utf-8").count("```mermaid") == 2


@pytest.mark.parametrize(
    "args, said",
    [
        (["export", "nope", "-o", "x"], "nope: not a bundled lesson"),
        (["export", "dns-down", "-o", "x", "--mermaid-js", "pyproject.toml"], "goes with"),
        (["sheet", "dns-down", "--student", " "], "--student"),
        (["sheet", "dns-down", "--for", "parent"], "'parent' is not one of"),
    ],
)
def test_a_mistake_in_sheet_or_export_is_one_sentence_and_exit_code_2(args, said):
    done = run_webtrip("lesson", *args)
    assert done.returncode == 2
    assert said in done.stderr and "Traceback" not in done.stderr


def test_the_sheet_command_writes_html_for_the_teacher(tmp_path):
    out = tmp_path / "t.html"
    done = run_webtrip("lesson", "sheet", "lossy-cafe", "--for", "teacher", "--student", "t07",
                       "--lang", "es", "--format", "html", "-o", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    page = out.read_text(encoding="utf-8")
    assert '<html lang="es">' in page and "Respuestas para el código de alumno t07" in page
    assert "Una clase de 50 minutos" in page


@pytest.mark.peer("chromium")
@pytest.mark.peer("mermaid")
def test_the_exported_diagrams_render_with_mermaid_in_chromium(tmp_path):
    require_program("chromium")
    bundle = mermaid_bundle()
    texts = []
    for lesson, language in (("http-status", "en"), ("lossy-cafe", "es"), ("dns-down", "en")):
        run = run_of(lesson, "ana-3b", language)
        page = to_markdown(lesson_page(run.lesson, run, language), hugo=True)
        texts += re.findall(r"\{\{< mermaid >\}\}\n(.*?)\n\{\{< /mermaid >\}\}", page, re.S)
    assert len(texts) == 6
    data = json.dumps(texts).replace("</", "<\\/")
    render = tmp_path / "render.html"
    render.write_text(PAGE.format(diagrams=data, bundle=bundle.as_uri()), encoding="utf-8")
    dom = dump_dom(tmp_path, render.as_uri())
    match = re.search(r'<pre id="result">(.*?)</pre>', dom, re.S)
    assert match and match.group(1), dom[-2000:]
    results = json.loads(html.unescape(match.group(1)))
    assert [r["result"].split()[0] for r in results] == ["OK"] * 6, results


@pytest.mark.peer("chromium")
@pytest.mark.peer("mermaid")
def test_the_printable_page_with_mermaid_inside_draws_its_diagrams_offline(tmp_path):
    require_program("chromium")
    bundle = mermaid_bundle()
    out = tmp_path / "out"
    done = run_webtrip("lesson", "export", "tcp-handshake", "--format", "html", "--mermaid-js",
                       str(bundle), "-o", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    dom = dump_dom(tmp_path, (out / "tcp-handshake.html").as_uri())
    drawn = re.findall(r'<pre class="mermaid"[^>]*data-processed="true"[^>]*>\s*<svg', dom)
    assert len(drawn) == 2, dom[-3000:]


def test_run_with_ui_writes_the_replay_page_and_opens_it(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from webtrip.cli import cli

    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", lambda url, *a, **k: opened.append(url) or True)
    monkeypatch.chdir(tmp_path)
    done = CliRunner().invoke(cli, ["lesson", "run", "dns-down", "--student", "t07", "--ui"])
    assert done.exit_code == 0, done.output
    page = tmp_path / "dns-down-t07.html"
    assert page.is_file() and (tmp_path / "dns-down-t07.toml").is_file()
    assert opened == [page.resolve().as_uri()]
