"""``webtrip lesson``: lessons a teacher hands out, run, checked and graded from the trace.

``list`` and ``show`` present the lessons; ``run`` makes a student's own run
of one (its seed from the student's code), shows it as ``webtrip sim`` does,
asks the questions and writes the answers file the student fills in;
``check`` runs the student's world again and marks each answer with feedback;
``grade`` does that for a folder of answers files and writes a gradebook;
``sheet`` writes the teacher's or the student's sheet, and ``export`` the
lesson's page for a course site (Hugo, Markdown or printable HTML), both made
by :mod:`webtrip.lessons.sheets`.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import webbrowser
from pathlib import Path
from typing import Any

import click
from rich.text import Text

from webtrip.cli.common import (
    Group,
    UserError,
    _,
    err_console,
    ngettext,
    out_console,
    write_stdout,
    write_whole,
)
from webtrip.cli.options import LANGUAGE_OPTION, REPORT_OPTION
from webtrip.cli.output import show_loads, write_views
from webtrip.i18n import choose_language, number
from webtrip.lab import LabError
from webtrip.lessons import Lesson, LessonError, bundled_lessons, find_lesson, load_lesson
from webtrip.lessons.engine import (
    AnswersError,
    Mark,
    StudentRun,
    answers_template,
    mark,
    options,
    read_answers,
    student_run,
)
from webtrip.lessons.sheets import (
    Sheet,
    lesson_page,
    student_sheet,
    teacher_sheet,
    to_html,
    to_markdown,
)
from webtrip.lessons.vocabulary import RunFacts, packet_kind_words
from webtrip.outcomes import EXIT_USAGE

LESSON_OPTION = click.option(
    "--lesson",
    "lesson_name",
    metavar="LESSON",
    help="Mark against this lesson (a bundled lesson's id, or your lesson file), not the one "
    "an answers file names: a file for another lesson is refused.",
)


@click.group("lesson", cls=Group)
def lesson_group() -> None:
    """Lessons: questions about a run, answered from each student's own trace.

    \b
    Examples:
      webtrip lesson list
      webtrip lesson show walk-from-root --lang es
      webtrip lesson run walk-from-root --student ana-3b --answers ana.toml
      webtrip lesson check ana.toml
      webtrip lesson grade answers/ --out grades.csv
      webtrip lesson sheet tcp-handshake --for teacher --student ana-3b --lang es
      webtrip lesson export http-status --format hugo -o course/content/lessons
    """


def _lesson(name: str) -> Lesson:
    try:
        return find_lesson(name)
    except LessonError as exc:
        raise UserError(str(exc), EXIT_USAGE) from None


def _run(lesson: Lesson, student: str, language: str) -> StudentRun:
    try:
        return student_run(lesson, student, language)
    except (LessonError, LabError) as exc:
        raise UserError(str(exc), EXIT_USAGE) from None


@lesson_group.command("list")
@LANGUAGE_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the lessons as JSON.")
def list_lessons(lang: str | None, as_json: bool) -> None:
    """List the lessons that come with webtrip.

    \b
    Examples:
      webtrip lesson list
      webtrip lesson list --json
    """
    language = choose_language(lang)
    lessons = []
    for path in bundled_lessons().values():
        try:
            lessons.append(load_lesson(path))
        except LessonError as exc:
            raise UserError(str(exc)) from None
    if as_json:
        rows = [{"id": item.id, "title": item.title, "level": item.level,
                 "duration": item.duration, "version": item.version,
                 "languages": list(item.languages), "questions": len(item.questions)}
                for item in lessons]  # fmt: skip
        write_stdout(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    console = out_console()
    for item in lessons:
        minutes = _("{minutes} min").format(minutes=number(item.duration, language))
        title = item.text(item.title, language)
        console.print(Text.assemble((f"{item.id:<16}", "bold"), " ", title,
                                    f"  ({_(item.level)}, {minutes})"))  # fmt: skip


@lesson_group.command("show")
@click.argument("lesson_name", metavar="LESSON")
@LANGUAGE_OPTION
def show(lesson_name: str, lang: str | None) -> None:
    """Show a lesson: its goal, instructions and questions (a bundled lesson's id, or a file).

    \b
    Examples:
      webtrip lesson show lossy-cafe
      webtrip lesson show my-lesson/lesson.toml --lang es
    """
    language = choose_language(lang)
    lesson = _lesson(lesson_name)
    console = out_console()
    console.print(Text(lesson.text(lesson.title, language), style="bold"))
    minutes = _("{minutes} min").format(minutes=number(lesson.duration, language))
    console.print(
        f"{lesson.id} v{lesson.version} · {lesson.author} · {_(lesson.level)} · {minutes}"
    )
    console.print()
    console.print(Text(_("Goal"), style="bold"))
    console.print(lesson.text(lesson.goal, language) + "\n")
    console.print(Text(_("Instructions"), style="bold"))
    console.print(lesson.text(lesson.instructions, language) + "\n")
    _show_questions(console, lesson, None, language)


def _show_questions(console: Any, lesson: Lesson, run: StudentRun | None, language: str) -> None:
    console.print(Text(_("Questions"), style="bold"))
    facts = RunFacts(run.trace) if run is not None else None
    for index, question in enumerate(lesson.questions, 1):
        console.print(f"{index}. [{question.id}] {lesson.text(question.text, language)}")
        if question.type == "ordering":
            console.print(
                "   " + _("Put in order: {items}").format(items=", ".join(question.items))
            )
        elif question.type in ("choice", "prediction"):
            if facts is not None:
                choices = options(facts, question)
            elif question.options_from:
                choices = [_("the lab's hosts")]
            else:
                choices = list(question.options)
            if question.type == "prediction":  # the codes, each with what it means
                words = packet_kind_words(language)
                choices = [f"{c} ({words[c]})" if c in words else c for c in choices]
            console.print("   " + _("One of: {options}").format(options=", ".join(choices)))
        if question.type == "prediction" and run is not None:
            pause = run.pause_at(question) * 1000
            console.print("   " + _("(the replay pauses at {time} ms, after {moment})").format(
                time=number(pause, language, 1), moment=question.params["after"]))  # fmt: skip


@lesson_group.command("run")
@click.argument("lesson_name", metavar="LESSON|FILE")
@click.option("--student", required=True, help="The student's name or code: it sets their numbers.")
@click.option(
    "--answers",
    "answers_file",
    type=click.Path(dir_okay=False),
    help="Where to write the answers file to fill in (default: LESSON-STUDENT.toml).",
)
@LANGUAGE_OPTION
@REPORT_OPTION
@click.option(
    "--json", "as_json", is_flag=True, help="Print the run and its questions as JSON (no answers)."
)
@click.option(
    "--ui",
    "in_app",
    is_flag=True,
    help="Also open the run in the replay app, in this computer's browser (the --report "
    "page, or LESSON-STUDENT.html).",
)
def run_lesson(
    lesson_name: str,
    student: str,
    answers_file: str | None,
    lang: str | None,
    report_file: str | None,
    as_json: bool,
    in_app: bool,
) -> None:
    """Run a student's world of a lesson, show it, ask the questions, write the answers file.

    The same student code gives the same run, packet for packet, every time; another
    code gives other numbers. The answers file is TOML: fill in each answer, then
    give it to webtrip lesson check.

    \b
    Examples:
      webtrip lesson run walk-from-root --student ana-3b
      webtrip lesson run lossy-cafe --student "Luis G." --lang es --report luis.html
      webtrip lesson run my-lesson/lesson.toml --student t01 --json
      webtrip lesson run second-visit --student t02 --ui
    """
    language = choose_language(lang)
    lesson = _lesson(lesson_name)
    if not student.strip():
        raise UserError(_("--student: give the student's name or code"), EXIT_USAGE)
    run = _run(lesson, student, language)
    if in_app and not report_file:
        report_file = f"{lesson.id}-{_file_safe(student)}.html"
    write_views(run.trace, None, None, report_file, language)
    target = answers_file or f"{lesson.id}-{_file_safe(student)}.toml"
    kept = Path(target).exists()  # a student's answers are never written over
    if not kept:
        write_whole(target, answers_template(run, language, target) + "\n")
    if as_json:
        facts = RunFacts(run.trace)
        questions = []
        for question in lesson.questions:
            entry: dict[str, Any] = {"id": question.id, "type": question.type,
                                     "text": lesson.text(question.text, language),
                                     "points": question.points}  # fmt: skip
            if question.type == "ordering":
                entry["items"] = list(question.items)
            elif question.type in ("choice", "prediction"):
                entry["options"] = options(facts, question)
            if question.type == "prediction":
                entry["pause_at"] = run.pause_at(question)
                entry["after"] = question.params["after"]
            questions.append(entry)
        data = {"lesson": lesson.id, "version": lesson.version, "student": student,
                "seed": run.world.seed, "answers_file": target, "answers_file_kept": kept,
                "questions": questions,
                "trace": json.loads(run.trace.to_json())}  # fmt: skip
        write_stdout(json.dumps(data, ensure_ascii=False) + "\n")
        return
    console = out_console()
    console.print(Text(lesson.text(lesson.title, language), style="bold"))
    console.print(lesson.text(lesson.instructions, language) + "\n")
    show_loads(console, run.trace, run.run.loads, language, render=False)
    _show_questions(console, lesson, run, language)
    console.print()
    if kept:
        told = _("Your answers file {file} is already there, kept as it is "
                 "(when it is filled in: webtrip lesson check {file})")  # fmt: skip
    else:
        told = _("Your answers file: {file} (fill it in, then: webtrip lesson check {file})")
    console.print(told.format(file=target))
    if in_app and report_file:
        console.print(_("The replay app: {file}").format(file=report_file))
        webbrowser.open(Path(report_file).resolve().as_uri())


def _file_safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text.strip()) or "student"


@lesson_group.command("check")
@click.argument("answers_file", metavar="ANSWERS", type=click.Path(dir_okay=False))
@LESSON_OPTION
@LANGUAGE_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the marks as JSON.")
def check(answers_file: str, lesson_name: str | None, lang: str | None, as_json: bool) -> None:
    """Mark a student's answers file: feedback for each question, and the score.

    The student's run is made again from their code, so the answers are checked
    against their own trace.

    \b
    Examples:
      webtrip lesson check walk-from-root-ana-3b.toml
      webtrip lesson check answers.json --lang es --json
    """
    language = choose_language(lang)
    try:
        chosen = _lesson(lesson_name) if lesson_name else None
        lesson, student, answers = read_answers(Path(answers_file), chosen)
    except AnswersError as exc:
        raise UserError(str(exc), EXIT_USAGE) from None
    run = _run(lesson, student, language)
    marks = [mark(run, q, answers.get(q.id), language) for q in lesson.questions]
    score, total = sum(m.score for m in marks), sum(m.points for m in marks)
    if as_json:
        data = {"lesson": lesson.id, "version": lesson.version, "student": student,
                "score": score, "total": total,
                "questions": [vars(m) for m in marks]}  # fmt: skip
        write_stdout(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return
    console = out_console()
    console.print(Text(f"{lesson.text(lesson.title, language)} · {student}", style="bold"))
    for index, item in enumerate(marks, 1):
        sign, style = ("✓", "green") if item.right else ("✗", "red")
        console.print(Text.assemble((f"{sign} ", style), (f"{index}. {item.question}: ", "bold"),
                                    item.feedback))  # fmt: skip
    console.print()
    console.print(Text(_("Score: {score} of {total}").format(
        score=number(score, language, 0 if score == int(score) else 1),
        total=number(total, language, 0 if total == int(total) else 1)), style="bold"))  # fmt: skip


@lesson_group.command("grade")
@click.argument("folder", type=click.Path(file_okay=False))
@LESSON_OPTION
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False),
    help="The gradebook (CSV, UTF-8 with a BOM; default: standard output).",
)
@LANGUAGE_OPTION
def grade(folder: str, lesson_name: str | None, out_file: str | None, lang: str | None) -> None:
    """Grade a folder of answers files into a CSV gradebook, one row per student.

    Columns: student, lesson, one per question (its points), total, out of. The
    file is UTF-8 with a byte-order mark and commas, which Moodle's and Google
    Classroom's imports and spreadsheets read with accents intact. A file that
    cannot be graded is said on stderr in one sentence, the others are graded,
    and the command exits 1.

    \b
    Examples:
      webtrip lesson grade answers/ --out grades.csv
      webtrip lesson grade answers/ --lesson my-lesson/lesson.toml --out grades.csv
    """
    language = choose_language(lang)
    root = Path(folder)
    if not root.is_dir():
        raise UserError(_("{folder}: no such folder").format(folder=folder), EXIT_USAGE)
    chosen = _lesson(lesson_name) if lesson_name else None
    files = sorted(p for p in root.iterdir() if p.suffix.lower() in (".toml", ".json"))
    rows: list[tuple[Lesson, str, list[Mark]]] = []
    problems = 0
    for path in files:
        try:
            lesson, student, answers = read_answers(path, chosen)
            run = student_run(lesson, student, language)
        except (AnswersError, LessonError, LabError) as exc:
            err_console().print(f"webtrip: {exc}", highlight=False)
            problems += 1
            continue
        rows.append((lesson, student, [mark(run, q, answers.get(q.id), language)
                                       for q in lesson.questions]))  # fmt: skip
    if not rows:
        raise UserError(_("{folder}: no answers file could be graded").format(folder=folder))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    ids: list[str] = []
    for lesson, _student, _marks in rows:
        ids += [q.id for q in lesson.questions if q.id not in ids]
    writer.writerow([_("student"), _("lesson"), *ids, _("total"), _("out of")])
    for lesson, student, marks in rows:
        by_id = {m.question: m for m in marks}
        writer.writerow([student, lesson.id,
                         *[_points(by_id[i].score) if i in by_id else "" for i in ids],
                         _points(sum(m.score for m in marks)),
                         _points(sum(m.points for m in marks))])  # fmt: skip
    text = "\ufeff" + buffer.getvalue()
    if out_file:
        write_whole(out_file, text.encode("utf-8"))
        graded = ngettext(
            "webtrip: graded {count} student into {file}",
            "webtrip: graded {count} students into {file}",
            len(rows),
        )
        err_console().print(graded.format(count=number(len(rows), language), file=out_file),
                            highlight=False)  # fmt: skip
    else:
        write_stdout(text)
    if problems:
        sys.exit(1)


def _points(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.2f}"


FORMATS = {"markdown": ".md", "html": ".html", "hugo": ".md"}


def _written(sheet: Sheet, form: str, mermaid_js: str | None = None) -> str:
    if form == "html":
        return to_html(sheet, mermaid_js)
    return to_markdown(sheet, hugo=form == "hugo")


def _out(path: str | None, text: str, language: str) -> None:
    if path is None:
        write_stdout(text)
        return
    write_whole(path, text)
    err_console().print(_("webtrip: wrote {file}").format(file=path), highlight=False)


@lesson_group.command("sheet")
@click.argument("lesson_name", metavar="LESSON|FILE")
@click.option(
    "--for",
    "reader",
    type=click.Choice(["teacher", "student"]),
    default="student",
    show_default=True,
    help="Whose sheet: the teacher's (the answers for one code, what to discuss, a plan for a "
    "50-minute class) or the student's (instructions and questions).",
)
@click.option(
    "--student",
    help="The student's code: the teacher's sheet gives their answers (default: the code "
    "example); a student's sheet names it and shows their own options.",
)
@LANGUAGE_OPTION
@click.option(
    "--format",
    "form",
    type=click.Choice(["markdown", "html"]),
    default="markdown",
    show_default=True,
    help="Markdown, or one printable HTML page.",
)
@click.option(
    "-o",
    "--out",
    "out_file",
    type=click.Path(dir_okay=False),
    help="Write the sheet to this file (default: standard output).",
)
def sheet(
    lesson_name: str,
    reader: str,
    student: str | None,
    lang: str | None,
    form: str,
    out_file: str | None,
) -> None:
    """Write a lesson's sheet: the teacher's (with the answers) or the student's.

    \b
    Examples:
      webtrip lesson sheet walk-from-root
      webtrip lesson sheet tcp-handshake --for teacher --student ana-3b --lang es
      webtrip lesson sheet dns-down --for student --format html -o dns-down.html
    """
    language = choose_language(lang)
    lesson = _lesson(lesson_name)
    if student is not None and not student.strip():
        raise UserError(_("--student: give the student's name or code"), EXIT_USAGE)
    if reader == "teacher":
        made = teacher_sheet(lesson, _run(lesson, student or "example", language), language)
    else:
        run = _run(lesson, student, language) if student else None
        made = student_sheet(lesson, run, language)
    _out(out_file, _written(made, form), language)


@lesson_group.command("export")
@click.argument("lesson_name", metavar="LESSON|FILE")
@click.option(
    "--format",
    "form",
    type=click.Choice(list(FORMATS)),
    default="hugo",
    show_default=True,
    help="hugo: a page of a Hugo book, its diagrams in {{< mermaid >}} shortcodes; markdown: "
    "fenced mermaid blocks; html: one printable page.",
)
@click.option(
    "--student",
    default="example",
    show_default=True,
    help="Whose run the page shows: its diagrams and narration.",
)
@LANGUAGE_OPTION
@click.option(
    "-o",
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="The folder to write the page into (made if missing).",
)
@click.option(
    "--mermaid-js",
    "mermaid_js",
    type=click.Path(dir_okay=False, exists=True),
    help="With --format html: put this copy of mermaid.min.js inside the page, so it draws "
    "the diagrams with no network.",
)
def export(
    lesson_name: str,
    form: str,
    student: str,
    lang: str | None,
    out_dir: str,
    mermaid_js: str | None,
) -> None:
    """Export a lesson's page for a course site: a run's own diagrams, its narration, the
    questions.

    The page is named after the lesson (and its language): LESSON.md, or
    LESSON.es.md as a multilingual Hugo site expects; LESSON.html for html.

    \b
    Examples:
      webtrip lesson export walk-from-root -o course/content/docs
      webtrip lesson export http-status --format html --lang es -o printed
      webtrip lesson export small-mtu --format markdown --student ana-3b -o pages
    """
    language = choose_language(lang)
    lesson = _lesson(lesson_name)
    if not student.strip():
        raise UserError(_("--student: give the student's name or code"), EXIT_USAGE)
    if mermaid_js and form != "html":
        raise UserError(_("--mermaid-js goes with --format html"), EXIT_USAGE)
    bundle = None
    if mermaid_js:
        try:
            bundle = Path(mermaid_js).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(_("{file}: cannot be read ({error})").format(
                file=mermaid_js, error=exc), EXIT_USAGE) from None  # fmt: skip
    page = lesson_page(lesson, _run(lesson, student, language), language)
    folder = Path(out_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(_("{folder}: cannot make the folder ({error})").format(
            folder=out_dir, error=exc.strerror or exc)) from None  # fmt: skip
    suffix = (f".{language}" if language != "en" else "") + FORMATS[form]
    _out(str(folder / f"{lesson.id}{suffix}"), _written(page, form, bundle), language)
