"""``webtrip ui --classroom``: the run made, then served to the class.

The server side is :mod:`webtrip.ui.classroom`.

The run is made here, before serving, in the simulated network: a lesson's
(``--lesson``: its world and its questions, with the class's own code) or the
demo lab's. Nothing is loaded from the real network in this mode.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import webbrowser
from typing import Any

from webtrip import lab
from webtrip.cli.common import UserError, _, err_console
from webtrip.i18n import LANGUAGES, translation
from webtrip.outcomes import EXIT_USAGE
from webtrip.report.app_data import app_data
from webtrip.ui.classroom import ClassQuestion, Classroom, ClassRun, classroom_app

__all__ = ["CLASS_CODE", "check_listen", "class_run", "serve_classroom"]

CLASS_CODE = "class"
"""The student code the teacher's run of a lesson is made with (the same run every time)."""

ASKED_IN_CLASS = ("choice", "prediction", "numeric")
"""The question types a class answers on phones (an ordering is for the answers file)."""


def class_run(lesson_name: str | None, language: str) -> ClassRun:
    """The run the class follows: ``lesson_name``'s with its questions, or the demo lab's."""
    if lesson_name is None:
        trace = lab.sim.run(lab.demo_lab(), 1, language=language).world.trace
        title = {code: translation(code).gettext("The demo lab") for code in LANGUAGES}
        return _class_run(trace, title, ())
    from webtrip.cli.lesson import _lesson, _run
    from webtrip.lessons.engine import options
    from webtrip.lessons.vocabulary import RunFacts, packet_kind_words

    lesson = _lesson(lesson_name)
    run = _run(lesson, CLASS_CODE, language)
    facts = RunFacts(run.trace)
    words = {code: packet_kind_words(code) for code in LANGUAGES}
    labels = {kind: {code: words[code][kind] for code in LANGUAGES} for kind in words["en"]}
    questions = []
    for question in lesson.questions:
        if question.type not in ASKED_IN_CLASS:
            continue
        right = run.answers[question.id]
        shown = f"{right:g}" if isinstance(right, int | float) else str(right)
        questions.append(
            ClassQuestion(
                question.id,
                question.type,
                {code: lesson.text(question.text, code) for code in LANGUAGES},
                tuple(options(facts, question)) if question.type != "numeric" else (),
                shown,
                run.pause_at(question) if question.type == "prediction" else None,
                labels if question.type == "prediction" else {},
            )
        )
    title = {code: lesson.text(lesson.title, code) for code in LANGUAGES}
    return _class_run(run.trace, title, tuple(questions))


def _class_run(trace: Any, title: dict[str, str], questions: tuple[ClassQuestion, ...]) -> ClassRun:
    import json

    data = app_data(trace)
    last = trace.events[-1].t if trace.events else 0.0
    end = max(float(data.get("run", {}).get("ended") or 0.0), last)  # as the app's S.end
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return ClassRun(text, title, questions, end)


def _school_address() -> str | None:
    """This computer's address on its network (the one its default route leaves from);
    a UDP socket's connect sends nothing."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 9))
            found = str(probe.getsockname()[0])
        except OSError:
            return None
    return None if ipaddress.ip_address(found).is_loopback else found


def serve_classroom(
    sock: socket.socket,
    host: str,
    lesson_name: str | None,
    language: str,
    no_open: bool,
    serve: Any,
) -> None:
    """Make the run, print the addresses and the join code, serve until Ctrl-C."""
    run = class_run(lesson_name, language)
    port = sock.getsockname()[1]
    room = Classroom(run, language=language)
    stopping = threading.Event()
    app = classroom_app(room, host, port, stopping)
    wildcard = host in ("0.0.0.0", "::")
    shown = (_school_address() or _("THIS-COMPUTER")) if wildcard else host
    shown = f"[{shown}]" if ":" in shown else shown
    students = f"http://{shown}:{port}/"
    teacher = f"http://{shown}:{port}/teacher?key={room.secret}"
    local_teacher = f"http://127.0.0.1:{port}/teacher?key={room.secret}" if wildcard else teacher
    console = err_console()
    console.print(_("webtrip ui --classroom: {title}").format(title=run.title[language]))
    console.print(_("Students open {address} and type the join code {code}").format(
        address=students, code=room.code))  # fmt: skip
    console.print(_("Teacher (keep this address to yourself): {address}").format(address=teacher))
    console.print(_("Ctrl-C stops it."))
    if not no_open:
        threading.Thread(target=webbrowser.open, args=(local_teacher,), daemon=True).start()
    try:
        serve(app, sock, stopping)
    except KeyboardInterrupt:
        pass
    finally:
        stopping.set()
        sock.close()
    console.print(_("webtrip ui: stopped."))


def check_listen(listen_given: bool) -> None:
    """The classroom serves the school network: its address must be named."""
    if not listen_given:
        found = _school_address()
        example = f"{found}:8000" if found else "192.168.1.20:8000"
        raise UserError(
            _(
                "--classroom needs --listen with this computer's address on the school "
                "network, for example --listen {example} (or 0.0.0.0:8000 for every network)"
            ).format(example=example),
            EXIT_USAGE,
        )
