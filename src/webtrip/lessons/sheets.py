"""A lesson on paper and on a course site: the teacher's sheet, the student's, the page.

A teacher hands out a *student's sheet* (what to do, the questions, room for
the answers), keeps a *teacher's sheet* (each answer for one student's code,
what to discuss after each question, and a plan for a 50-minute class), and
may put the lesson on a course site: :func:`lesson_page` is the lesson with
one run's own pictures — the four steps' flowchart and the sequence of
messages, both drawn by :mod:`webtrip.report.mermaid` — its narration
(:mod:`webtrip.report.narration`) and its questions.

Each is a :class:`Sheet`: a title and a list of :class:`Block` (headings,
paragraphs, lists, tables, diagrams), written out by :func:`to_markdown`
(plain Markdown with fenced ``mermaid`` blocks, or a Hugo page: TOML front
matter and ``{{< mermaid >}}`` shortcodes, as the Hugo Book theme reads them)
or by :func:`to_html` (one printable page, its style inside, nothing fetched
from the network; a local copy of mermaid's browser bundle can be put inside
it to draw the diagrams). Every word goes through gettext; the numbers are the
run's own, written as the language writes them.
"""

from __future__ import annotations

import html
import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field

from webtrip.i18n import number, translation
from webtrip.lessons.engine import StudentRun, explanation, options
from webtrip.lessons.format import Lesson, Question
from webtrip.lessons.vocabulary import RunFacts, Value
from webtrip.report.mermaid import mermaid_flowchart, mermaid_from_trace
from webtrip.report.narration import narrate

__all__ = [
    "CLASS_MINUTES",
    "Block",
    "Sheet",
    "class_plan",
    "lesson_page",
    "student_sheet",
    "teacher_sheet",
    "to_html",
    "to_markdown",
]

CLASS_MINUTES = 50
"""The class a teacher's sheet plans for."""


@dataclass(frozen=True)
class Block:
    """One piece of a sheet.

    ``kind`` is ``heading`` (``level`` 2 or 3), ``paragraph``, ``bullets``,
    ``numbered`` (``items``), ``table`` (``rows``, the first the header),
    ``answer`` (a space to write in, ``lines`` high), ``code`` (a command to
    type) or ``mermaid`` (``text`` the diagram, ``caption`` under it).
    """

    kind: str
    text: str = ""
    items: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    level: int = 2
    lines: int = 1
    caption: str = ""


@dataclass
class Sheet:
    """A titled document in one language: what every writer below writes out."""

    title: str
    language: str
    blocks: list[Block] = field(default_factory=list)
    description: str = ""

    def add(self, kind: str, text: str = "", **fields: object) -> None:
        self.blocks.append(Block(kind, text, **fields))  # type: ignore[arg-type]


def _words(language: str) -> Callable[[str], str]:
    gettext: Callable[[str], str] = translation(language).gettext
    return gettext


def _shown(value: Value, language: str) -> str:
    if isinstance(value, list):
        return " → ".join(value)
    if isinstance(value, float):
        return number(value, language, 0 if value == int(value) else 1)
    if isinstance(value, int):
        return number(value, language)
    return value


def _minutes(value: int, language: str) -> str:
    return _words(language)("{minutes} min").format(minutes=number(value, language))


def _about(sheet: Sheet, lesson: Lesson, language: str) -> None:
    _ = _words(language)
    sheet.add("paragraph", " · ".join([
        f"{lesson.id} v{lesson.version}", lesson.author, _(lesson.level),
        _minutes(lesson.duration, language)]))  # fmt: skip
    sheet.add("heading", _("Goal"))
    sheet.add("paragraph", lesson.text(lesson.goal, language))


def _run_command(lesson: Lesson, student: str | None, language: str) -> str:
    _ = _words(language)
    code = student or _("CODE")
    if not all(c.isalnum() or c in "-_." for c in code):
        code = shlex.quote(code)  # a code with spaces or quotes, typed as the shell needs it
    command = f"webtrip lesson run {lesson.id} --student {code}"
    return command + (" --lang es" if language == "es" else "")


def _question_lines(
    lesson: Lesson, question: Question, run: StudentRun | None, language: str
) -> list[str]:
    """What a student reads under a question: the items to order, the options."""
    _ = _words(language)
    lines = []
    if question.type == "ordering":
        lines.append(_("Put in order: {items}").format(items=", ".join(question.items)))
    elif question.type in ("choice", "prediction"):
        if run is not None:
            choices = options(RunFacts(run.trace), question)
        elif question.options_from:
            choices = [_("the lab's hosts")]
        else:
            choices = list(question.options)
        lines.append(_("One of: {options}").format(options=", ".join(choices)))
    if question.type == "prediction" and run is not None:
        pause = run.pause_at(question) * 1000
        lines.append(_("(the replay pauses at {time} ms, after {moment})").format(
            time=number(pause, language, 1), moment=question.params["after"]))  # fmt: skip
    return lines


# --- the sheets ---------------------------------------------------------------------------


def student_sheet(lesson: Lesson, run: StudentRun | None, language: str) -> Sheet:
    """The sheet a student gets: what to do, the command with their code, the questions.

    With ``run`` (one student's), the options computed from a run are theirs and a
    prediction says where the replay pauses; without, the sheet is for any student."""
    _ = _words(language)
    title = lesson.text(lesson.title, language)
    sheet = Sheet(title, language, description=lesson.text(lesson.goal, language))
    sheet.add("paragraph", _("Name: ________________________    Code: {code}").format(
        code=run.student if run is not None else "____________"))  # fmt: skip
    _about(sheet, lesson, language)
    sheet.add("heading", _("Instructions"))
    sheet.add("paragraph", lesson.text(lesson.instructions, language))
    sheet.add("code", _run_command(lesson, run.student if run else None, language))
    sheet.add("paragraph", _("It writes your answers file: fill it in, then check it with "
                             "webtrip lesson check, or write your answers below."))  # fmt: skip
    sheet.add("heading", _("Questions"))
    for index, question in enumerate(lesson.questions, 1):
        sheet.add("heading", f"{index}. {lesson.text(question.text, language)}", level=3)
        for line in _question_lines(lesson, question, run, language):
            sheet.add("paragraph", line)
        sheet.add("answer", lines=2 if question.type == "ordering" else 1)
    return sheet


def class_plan(lesson: Lesson, language: str) -> list[tuple[str, str]]:
    """A 50-minute class around the lesson: (minutes, what happens), in order.

    The students' own work takes the lesson's duration (at most 25 minutes); the
    teacher first shows one run to everybody, and the rest of the class is the
    discussion of the answers."""
    _ = _words(language)
    work = min(lesson.duration, 25)
    introduce = _("Introduce the goal and the four steps (the flowchart below, with this "
                  "student's run).")  # fmt: skip
    together = _("Run the lesson together with one code (yours) on the projector: read the "
                 "narration aloud and find the packets it names.")  # fmt: skip
    steps = [
        (5, introduce),
        (10, together),
        (work, _("Each student runs the lesson with their own code and answers.")),
    ]
    left = CLASS_MINUTES - sum(minutes for minutes, _text in steps) - 5
    steps.append((max(left, 5), _("Go through the answers: the points to discuss below.")))
    steps.append((5, _("Collect the answers files; grade them with webtrip lesson grade.")))
    plan, start = [], 0
    for minutes, text in steps:
        plan.append((f"{number(start, language)}–{number(start + minutes, language)}", text))
        start += minutes
    return plan


def teacher_sheet(lesson: Lesson, run: StudentRun, language: str) -> Sheet:
    """The teacher's sheet for one student's code: each right answer, what it shows, the plan."""
    _ = _words(language)
    title = _("{title}: teacher's sheet").format(title=lesson.text(lesson.title, language))
    sheet = Sheet(title, language, description=lesson.text(lesson.goal, language))
    _about(sheet, lesson, language)
    sheet.add("heading", _("A {minutes}-minute class").format(
        minutes=number(CLASS_MINUTES, language)))  # fmt: skip
    sheet.add("table", rows=((_("Minutes"), _("What happens")), *class_plan(lesson, language)))
    sheet.add("mermaid", mermaid_flowchart(run.trace, language=language).rstrip("\n"),
              caption=_("The four steps, with this run's own values."))  # fmt: skip
    sheet.add("heading", _("Answers for the student code {code}").format(code=run.student))
    conditions = run.world.conditions
    link = []
    if conditions.latency is not None:
        link.append(_("one-way delay {ms} ms").format(
            ms=number(conditions.latency * 1000, language)))  # fmt: skip
    if conditions.bandwidth is not None:
        link.append(_("{mbit} Mbit/s").format(mbit=number(conditions.bandwidth / 1e6, language, 3)))
    if conditions.loss:
        lost = number(conditions.loss * 100, language, 1)
        link.append(_("{percent} % lost").format(percent=lost))
    if conditions.mtu is not None:
        link.append(_("MTU {bytes} bytes").format(bytes=number(conditions.mtu, language)))
    said = _("Seed {seed}.").format(seed=run.world.seed)
    if link:
        said += " " + _("This student's link: {link}.").format(link=", ".join(link))
    sheet.add("paragraph", said + " " + _("Each code gives its own numbers: make another "
                                          "student's sheet with --student."))  # fmt: skip
    rows: list[tuple[str, ...]] = [(_("Question"), _("Answer"), _("Accepted"))]
    for index, question in enumerate(lesson.questions, 1):
        right = run.answers[question.id]
        rows.append((f"{index}. {question.id}", _shown(right, language),
                     _accepted(question, right, language)))  # fmt: skip
    sheet.add("table", rows=tuple(rows))
    sheet.add("heading", _("What to discuss"))
    for index, question in enumerate(lesson.questions, 1):
        sheet.add("heading", f"{index}. {lesson.text(question.text, language)}", level=3)
        sheet.add("paragraph", explanation(run, question, language))
    sheet.add("heading", _("Make and check the answers"))
    sheet.add("code", _run_command(lesson, run.student, language))
    sheet.add("code", "webtrip lesson grade ANSWERS-FOLDER --out grades.csv")
    return sheet


def _accepted(question: Question, right: Value, language: str) -> str:
    _ = _words(language)
    if question.type == "numeric" and question.tolerance and isinstance(right, int | float):
        allowed = question.tolerance * abs(right) if question.relative else question.tolerance
        return _("{low} to {high}").format(
            low=number(right - allowed, language, 1 if allowed % 1 else 0),
            high=number(right + allowed, language, 1 if allowed % 1 else 0))  # fmt: skip
    if question.type == "ordering":
        return _("this order only")
    return _("exactly")


def lesson_page(lesson: Lesson, run: StudentRun, language: str) -> Sheet:
    """The lesson's page for a course site: the goal, the run's own two diagrams, the
    narration of the run and the questions (the answers stay on the teacher's sheet)."""
    _ = _words(language)
    title = lesson.text(lesson.title, language)
    sheet = Sheet(title, language, description=lesson.text(lesson.goal, language))
    _about(sheet, lesson, language)
    sheet.add("heading", _("The four steps of this run"))
    sheet.add("mermaid", mermaid_flowchart(run.trace, language=language).rstrip("\n"),
              caption=_("The four steps, with this run's own values."))  # fmt: skip
    sheet.add("heading", _("Who said what to whom"))
    sheet.add("mermaid", mermaid_from_trace(run.trace, language=language).rstrip("\n"),
              caption=_("The messages of this run, in the order they were sent."))  # fmt: skip
    sheet.add("heading", _("What happened"))
    sheet.add("paragraph", _("The run of the student code {code} (seed {seed}), told step by "
                             "step.").format(code=run.student, seed=run.world.seed))  # fmt: skip
    for paragraph in narrate(run.trace, language):
        sheet.add("heading", paragraph.heading, level=3)
        if paragraph.text:
            sheet.add("paragraph", paragraph.text)
    sheet.add("heading", _("Instructions"))
    sheet.add("paragraph", lesson.text(lesson.instructions, language))
    sheet.add("code", _run_command(lesson, None, language))
    sheet.add("heading", _("Questions"))
    items = []
    for question in lesson.questions:
        lines = _question_lines(lesson, question, None, language)
        items.append(" ".join([lesson.text(question.text, language), *lines]))
    sheet.add("numbered", items=tuple(items))
    return sheet


# --- writing them out ---------------------------------------------------------------------


def _front_matter(sheet: Sheet, weight: int) -> str:
    lines = [
        "+++",
        f"title = {json.dumps(sheet.title, ensure_ascii=False)}",
        f"description = {json.dumps(sheet.description, ensure_ascii=False)}",
        f"weight = {weight}",
        "bookToc = true",
        "+++",
    ]
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(sheet: Sheet, *, hugo: bool = False, weight: int = 10) -> str:
    """The sheet as Markdown; with ``hugo``, a Hugo page (TOML front matter, the diagrams
    in ``{{< mermaid >}}`` shortcodes) whose title is the front matter's."""
    out = [_front_matter(sheet, weight), ""] if hugo else [f"# {sheet.title}", ""]
    for block in sheet.blocks:
        if block.kind == "heading":
            out += ["#" * block.level + " " + block.text, ""]
        elif block.kind == "paragraph":
            out += [block.text, ""]
        elif block.kind in ("bullets", "numbered"):
            out += [(f"{i}. " if block.kind == "numbered" else "- ") + item
                    for i, item in enumerate(block.items, 1)] + [""]  # fmt: skip
        elif block.kind == "table":
            header, *body = block.rows
            out.append("| " + " | ".join(_cell(c) for c in header) + " |")
            out.append("|" + " --- |" * len(header))
            out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in body]
            out.append("")
        elif block.kind == "answer":
            out += ["> " + "_" * 60 for _line in range(block.lines)] + [""]
        elif block.kind == "code":
            out += ["```sh", block.text, "```", ""]
        elif block.kind == "mermaid":
            opening, closing = ("{{< mermaid >}}", "{{< /mermaid >}}") if hugo else (
                "```mermaid", "```")  # fmt: skip
            out += [opening, block.text, closing, ""]
            if block.caption:
                out += [f"*{block.caption}*", ""]
    return "\n".join(out).rstrip("\n") + "\n"


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 48em; margin: 2em auto; padding: 0 1em;
       line-height: 1.45; color: #111; }
h1 { font-size: 1.6em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ccc; }
h3 { font-size: 1.05em; margin-bottom: .3em; }
table { border-collapse: collapse; margin: .5em 0; } td, th { border: 1px solid #999;
       padding: .25em .6em; text-align: left; vertical-align: top; }
pre { background: #f4f4f4; padding: .5em .8em; overflow-x: auto; white-space: pre-wrap; }
pre.mermaid { background: none; font-size: .8em; }
figure { margin: 1em 0; } figcaption { font-style: italic; font-size: .9em; }
.answer { border-bottom: 1px solid #555; height: 2em; margin: 0 0 .4em; }
@media print { body { margin: 0; max-width: none; } h2, h3 { break-after: avoid; }
       figure, table { break-inside: avoid; } pre { white-space: pre-wrap; } }
"""


def to_html(sheet: Sheet, mermaid_js: str | None = None) -> str:
    """The sheet as one printable HTML page: its style inside, nothing from the network.

    The diagrams are ``<pre class="mermaid">`` blocks: their text, readable as it is,
    which mermaid draws as pictures when ``mermaid_js`` (the text of mermaid's browser
    bundle, ``mermaid.min.js``) is given and put inside the page."""
    e = html.escape
    body = [f"<h1>{e(sheet.title)}</h1>"]
    for block in sheet.blocks:
        if block.kind == "heading":
            body.append(f"<h{block.level}>{e(block.text)}</h{block.level}>")
        elif block.kind == "paragraph":
            body.append(f"<p>{e(block.text)}</p>")
        elif block.kind in ("bullets", "numbered"):
            tag = "ol" if block.kind == "numbered" else "ul"
            body.append(f"<{tag}>" + "".join(f"<li>{e(i)}</li>" for i in block.items) + f"</{tag}>")
        elif block.kind == "table":
            header, *rows = block.rows
            body.append("<table><thead><tr>" + "".join(f"<th>{e(c)}</th>" for c in header)
                        + "</tr></thead><tbody>"
                        + "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>"
                                  for row in rows) + "</tbody></table>")  # fmt: skip
        elif block.kind == "answer":
            body.append('<div class="answer"></div>' * block.lines)
        elif block.kind == "code":
            body.append(f"<pre><code>{e(block.text)}</code></pre>")
        elif block.kind == "mermaid":
            caption = f"<figcaption>{e(block.caption)}</figcaption>" if block.caption else ""
            body.append(f'<figure><pre class="mermaid">{e(block.text)}</pre>{caption}</figure>')
    script = ""
    if mermaid_js is not None:
        bundle = mermaid_js.replace("</script", "<\\/script")
        script = (f"<script>{bundle}</script>\n<script>mermaid.initialize({{startOnLoad: true, "
                  f"securityLevel: 'strict'}});</script>\n")  # fmt: skip
    return (
        f'<!DOCTYPE html>\n<html lang="{e(sheet.language)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{e(sheet.title)}</title>\n"
        f'<meta name="description" content="{e(sheet.description)}">\n'
        f"<style>{_STYLE}</style>\n</head>\n<body>\n" + "\n".join(body) + "\n" + script
        + "</body>\n</html>\n"
    )  # fmt: skip
