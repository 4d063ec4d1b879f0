"""``webtrip lesson``: list, show, run, check and grade, end to end through the command line."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import webtrip

SOURCE = Path(webtrip.__file__).parents[1]


def webtrip_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(SOURCE), "NO_COLOR": "1", "LANG": "C.UTF-8", "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "webtrip", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=120)  # fmt: skip


def fill(path: Path, answers: dict[str, str]) -> None:
    text = path.read_text(encoding="utf-8")
    for key, value in answers.items():
        text = re.sub(rf"(?m)^{key} = .*$", f"{key} = {value}", text)
    path.write_text(text, encoding="utf-8")


RIGHT_WALK = {
    "referral": '"root"',
    "root_questions": '"2"',
    "walk_order": '["lookup-start", "asked:root", "asked:tld", "asked:dns", "name-resolved", '
    '"syn"]',
    "after_address": '"syn"',
}


def test_list_shows_the_bundled_lessons_as_json(tmp_path):
    done = webtrip_cli("lesson", "list", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    ids = [row["id"] for row in json.loads(done.stdout)]
    assert {"walk-from-root", "lossy-cafe"} <= set(ids)


def test_show_speaks_spanish(tmp_path):
    done = webtrip_cli("lesson", "show", "walk-from-root", "--lang", "es", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "El paseo desde la raíz" in done.stdout and "Objetivo" in done.stdout
    assert "Preguntas" in done.stdout and "inicial" in done.stdout


def test_run_then_check_marks_each_answer_with_the_runs_values(tmp_path):
    done = webtrip_cli("lesson", "run", "walk-from-root", "--student", "ana-3b", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    answers = tmp_path / "walk-from-root-ana-3b.toml"
    assert "Step 1" in done.stdout and str(answers.name) in done.stdout
    fill(answers, {**RIGHT_WALK, "handshake": '"1"'})
    checked = webtrip_cli("lesson", "check", str(answers), "--json", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    marks = json.loads(checked.stdout)
    right = {q["question"]: q["right"] for q in marks["questions"]}
    assert right == {"referral": True, "root_questions": True, "walk_order": True,
                     "after_address": True, "handshake": False}  # fmt: skip
    handshake = marks["questions"][-1]["feedback"]
    assert handshake.startswith("Not quite: you answered 1.")
    assert re.search(r"took \d+(\.\d)? ms: .* 2 × \d+ ms = \d+ ms", handshake)
    assert marks["score"] == 4 and marks["total"] == 5


def test_check_in_spanish_writes_decimal_commas(tmp_path):
    webtrip_cli("lesson", "run", "walk-from-root", "--student", "luis", "--json", cwd=tmp_path)
    answers = tmp_path / "walk-from-root-luis.toml"
    fill(answers, RIGHT_WALK)
    done = webtrip_cli("lesson", "check", str(answers), "--lang", "es", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Correcto." in done.stdout and "Sin responder." in done.stdout
    assert "Puntuación: 4 de 5" in done.stdout
    assert re.search(r"El establecimiento de conexión ha tardado \d+,\d ms", done.stdout)


def test_run_json_has_the_questions_and_the_prediction_pause_but_no_answers(tmp_path):
    done = webtrip_cli("lesson", "run", "lossy-cafe", "--student", "t1", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    prediction = next(q for q in data["questions"] if q["type"] == "prediction")
    assert prediction["after"] == "request:/" and prediction["pause_at"] > 0
    assert "syn" in prediction["options"]
    assert all(set(q) <= {"id", "type", "text", "points", "items", "options", "pause_at", "after"}
               for q in data["questions"])  # fmt: skip


def test_grade_writes_one_row_per_student_and_reports_bad_files_in_one_sentence(tmp_path):
    folder = tmp_path / "answers"
    folder.mkdir()
    for student in ("ana", "bob"):
        target = str(folder / f"{student}.toml")
        webtrip_cli("lesson", "run", "walk-from-root", "--student", student,
                    "--answers", target, "--json", cwd=tmp_path)  # fmt: skip
    fill(folder / "ana.toml", RIGHT_WALK)
    (folder / "broken.toml").write_text("lesson = [\n", encoding="utf-8")
    (folder / "other.json").write_text('{"lesson": "nope", "student": "x", "answers": {"a": 1}}')
    out = tmp_path / "grades.csv"
    done = webtrip_cli("lesson", "grade", str(folder), "--out", str(out), cwd=tmp_path)
    assert done.returncode == 1
    problems = [line for line in done.stderr.splitlines() if "graded" not in line]
    assert len(problems) == 2 and "Traceback" not in done.stderr
    assert problems[0].startswith("webtrip: broken.toml: not valid TOML")
    assert problems[1].startswith("webtrip: other.json: nope: not a bundled lesson")
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert rows[0] == ["student", "lesson", "referral", "root_questions", "walk_order",
                       "after_address", "handshake", "total", "out of"]  # fmt: skip
    assert rows[1][:2] == ["ana", "walk-from-root"] and rows[1][-2:] == ["4", "5"]
    assert rows[2][:2] == ["bob", "walk-from-root"] and rows[2][-2:] == ["0", "5"]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("lesson", "show", "no-such-lesson"), "webtrip: no-such-lesson: not a bundled lesson"),
        (("lesson", "check", "missing.toml"), "webtrip: missing.toml: no such answers file"),
        (("lesson", "grade", "no-folder"), "webtrip: no-folder: no such folder"),
        (("lesson", "run", "walk-from-root", "--student", "  "),
         "webtrip: --student: give the student's name or code"),
    ],
)  # fmt: skip
def test_a_users_mistake_is_one_sentence_and_exit_2(tmp_path, args, said):
    done = webtrip_cli(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == said or done.stderr.startswith(said)
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_a_mistake_in_a_lesson_file_is_reported_with_its_line(tmp_path):
    (tmp_path / "lesson.toml").write_text("format = 1\n[lesson]\nid = 'Bad Id'\n")
    done = webtrip_cli("lesson", "run", "lesson.toml", "--student", "a", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "webtrip: lesson.toml:3: lesson.id: expected an id of lowercase letters, digits and -, "
        "got Bad Id"
    )


def test_running_again_keeps_the_answers_the_student_wrote(tmp_path):
    webtrip_cli("lesson", "run", "walk-from-root", "--student", "eva", "--json", cwd=tmp_path)
    answers = tmp_path / "walk-from-root-eva.toml"
    fill(answers, {"referral": '"root"'})
    before = answers.read_text(encoding="utf-8")
    done = webtrip_cli("lesson", "run", "walk-from-root", "--student", "eva", cwd=tmp_path)
    assert done.returncode == 0 and "kept as it is" in done.stdout
    assert answers.read_text(encoding="utf-8") == before


def test_the_lesson_commands_help_speaks_spanish(tmp_path):
    done = webtrip_cli("lesson", "--help", "--lang", "es", cwd=tmp_path)
    assert done.returncode == 0
    assert "Lecciones: preguntas sobre una ejecución" in done.stdout and "Ejemplos:" in done.stdout


def test_with_the_teachers_lesson_an_answers_file_for_another_is_refused(tmp_path):
    folder = tmp_path / "answers"
    folder.mkdir()
    for lesson, student in (("walk-from-root", "ana"), ("lossy-cafe", "bob")):
        target = str(folder / f"{student}.toml")
        webtrip_cli("lesson", "run", lesson, "--student", student, "--answers", target,
                    "--json", cwd=tmp_path)  # fmt: skip
    done = webtrip_cli("lesson", "grade", str(folder), "--lesson", "walk-from-root", cwd=tmp_path)
    assert done.returncode == 1
    assert (
        done.stderr.strip() == "webtrip: bob.toml: answers for lossy-cafe, not for walk-from-root"
    )
    rows = done.stdout.lstrip("\ufeff").splitlines()
    assert len(rows) == 2 and rows[1].startswith("ana,walk-from-root,")


def test_a_lesson_of_ones_own_is_checked_from_its_file(tmp_path):
    source = SOURCE / "webtrip" / "lessons" / "bundled" / "walk-from-root" / "lesson.toml"
    mine = tmp_path / "mine"
    mine.mkdir()
    text = source.read_text(encoding="utf-8").replace('id = "walk-from-root"', 'id = "my-walk"')
    (mine / "lesson.toml").write_text(text, encoding="utf-8")
    done = webtrip_cli("lesson", "run", "mine/lesson.toml", "--student", "z", "--json",
                       cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    answers = tmp_path / "my-walk-z.toml"
    assert 'lesson_file = "mine/lesson.toml"' in answers.read_text(encoding="utf-8")
    checked = webtrip_cli("lesson", "check", str(answers), cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "Score: 0 of 5" in checked.stdout
