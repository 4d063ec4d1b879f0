"""Classroom mode in headless Chromium: a teacher's page and three phones follow one run.

``webtrip ui --classroom --lesson walk-from-root`` is started as a teacher starts it;
the teacher's page steps with the keyboard and opens the prediction question; each
phone joins with the printed code, shows the same step, answers with a tap, and the
teacher's page shows the distribution; the answer, once shown, reaches the phones.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from peers.playwright_chromium import DESKTOP, PHONE, chromium_page

SOURCE = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="module")
def classroom():
    env = dict(os.environ, PYTHONPATH=str(SOURCE), LANG="C.UTF-8")
    env.pop("LANGUAGE", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "webtrip", "ui", "--classroom", "--no-open",
         "--listen", "127.0.0.1:0", "--lesson", "walk-from-root"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    assert process.stdout is not None
    lines = [process.stdout.readline() for _ in range(3)]
    students = re.search(r"(http://127\.0\.0\.1:\d+/) and type the join code (\d{6})", lines[1])
    teacher = re.search(r"(http://127\.0\.0\.1:\d+/teacher\?key=\S+)", lines[2])
    assert students and teacher, lines
    yield students.group(1), students.group(2), teacher.group(1)
    process.send_signal(signal.SIGINT)
    assert process.wait(15) == 0


@pytest.mark.peer("chromium")
def test_a_teacher_and_three_phones_see_the_same_step_and_the_answers(classroom):
    students_url, code, teacher_url = classroom
    with chromium_page(teacher_url, size=DESKTOP) as watched:
        teacher = watched.page
        teacher.wait_for_selector("body[data-loaded='1']", timeout=30_000)
        assert teacher.locator("#class-code").inner_text().endswith(code)
        browser = teacher.context.browser
        phones = []
        for _ in range(3):
            context = browser.new_context(
                viewport={"width": PHONE[0], "height": PHONE[1]}, is_mobile=True, has_touch=True
            )
            phone = context.new_page()
            errors: list[str] = []
            phone.on("pageerror", lambda error, errors=errors: errors.append(str(error)))
            phone.goto(students_url)
            phone.wait_for_selector("#class-join-code")
            phone.fill("#class-join-code", code)
            phone.get_by_role("button", name="Join", exact=True).tap()
            phone.wait_for_selector("body[data-loaded='1']", timeout=30_000)
            phones.append((phone, errors))
        teacher.wait_for_selector("#class-students:has-text('3')")

        # The teacher steps seven events on; every phone shows the same event.
        before = int(teacher.evaluate("document.body.dataset.i"))
        for _ in range(7):
            teacher.locator("#forward").click()
        teacher.wait_for_function(f"() => document.body.dataset.i === '{before + 7}'")
        shown = teacher.evaluate("[document.body.dataset.t, document.body.dataset.i]")
        for phone, _ in phones:
            phone.wait_for_function(
                "([t, i]) => document.body.dataset.t === t && document.body.dataset.i === i",
                arg=shown,
            )

        # The prediction: the replay jumps to where it is asked; the phones follow.
        question = teacher.locator("li[data-question='after_address']")
        question.get_by_role("button", name="Ask the class").click()
        teacher.wait_for_function("() => document.body.dataset.question === 'after_address'")
        at = teacher.evaluate("document.body.dataset.t")
        picks = ["syn", "syn", "dns-query"]
        for (phone, _), pick in zip(phones, picks, strict=True):
            phone.wait_for_selector(f".class-option-button[data-answer='{pick}']")
            phone.wait_for_function("(t) => document.body.dataset.t === t", arg=at)
            phone.locator(f".class-option-button[data-answer='{pick}']").tap()
            phone.wait_for_function("() => document.body.dataset.answered === 'after_address'")
        teacher.wait_for_function("() => document.body.dataset.answeredCount === '3'")
        counts = teacher.evaluate(
            "Object.fromEntries([...document.querySelectorAll('#class-bars .class-bar')]"
            ".map((b) => [b.dataset.answer, Number(b.dataset.count)]))"
        )
        assert counts["syn"] == 2 and counts["dns-query"] == 1 and sum(counts.values()) == 3
        # Nothing marks the right answer on the projector before it is shown.
        assert teacher.locator("#class-bars .class-bar.right").count() == 0

        teacher.get_by_role("button", name="Show the answer").click()
        for phone, errors in phones:
            phone.wait_for_selector(".class-right")
            # The option in words, not its code.
            assert "SYN: the browser asks to connect" in phone.locator(".class-right").inner_text()
            label = phone.locator(".class-option-button[data-answer='dns-query']")
            assert label.count() == 0 or label.inner_text() == "a DNS question"
            width = phone.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE[0], f"sideways scroll on a phone: {width} px"
            assert errors == []
        assert teacher.locator("#class-bars .class-bar.right").get_attribute("data-answer") == "syn"

        # The teacher switches to Spanish: the phones follow.
        teacher.locator("#language").select_option("es")
        for phone, _ in phones:
            phone.wait_for_function("() => document.documentElement.lang === 'es'")
            assert phone.locator("#class-title").inner_text() == "Clase"
        watched.assert_clean()
