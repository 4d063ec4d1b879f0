"""``webtrip report`` and the view files every command writes (``--har``, ``--mermaid``,
``--report``):
written, reproduced byte for byte from the saved trace, and their mistakes told in one
sentence. What the views hold is in ``tests/report/``."""

from __future__ import annotations

import json

import pytest

from support import assert_one_clear_sentence
from support import run_webtrip as webtrip
from webtrip.trace import HttpRequestSent, Trace


def test_sim_writes_both_files_and_report_reproduces_them(tmp_path):
    done = webtrip("sim", "--json", "--har", "run.har", "--mermaid", "run.mmd", cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    (tmp_path / "run.json").write_text(done.stdout)
    har = json.loads((tmp_path / "run.har").read_text())
    requests = Trace.from_json(done.stdout).of_type(HttpRequestSent)  # one HAR entry each
    assert har["log"]["version"] == "1.2" and len(har["log"]["entries"]) == len(requests) > 1
    assert (tmp_path / "run.mmd").read_text().startswith("sequenceDiagram\n")
    again = webtrip(
        "report", "run.json", "--har", "again.har", "--mermaid", "again.mmd", cwd=str(tmp_path)
    )
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "again.har").read_bytes() == (tmp_path / "run.har").read_bytes()
    assert (tmp_path / "again.mmd").read_bytes() == (tmp_path / "run.mmd").read_bytes()


def test_demo_writes_both_files_and_report_reproduces_them(tmp_path):
    done = webtrip("demo", "--json", "--har", "d.har", "--mermaid", "d.mmd", cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    (tmp_path / "d.json").write_text(done.stdout)
    again = webtrip("report", "d.json", "--har", "e.har", "--mermaid", "e.mmd", cwd=str(tmp_path))
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "e.har").read_bytes() == (tmp_path / "d.har").read_bytes()
    assert (tmp_path / "e.mmd").read_bytes() == (tmp_path / "d.mmd").read_bytes()


@pytest.mark.parametrize(
    ("content", "words"),
    [(None, "cannot read"), ("{not json", "not a webtrip trace"), ('{"a": 1}', "not a webtrip")],
)
def test_report_of_a_bad_trace_file_is_one_sentence_and_exit_2(tmp_path, content, words):
    path = tmp_path / "trace.json"
    if content is not None:
        path.write_text(content)
    done = webtrip("report", str(path), "--har", str(tmp_path / "x.har"))
    assert words in assert_one_clear_sentence(done, 2)


def test_a_view_file_that_cannot_be_written_is_one_sentence(tmp_path):
    done = webtrip("sim", "--no-packets", "--har", str(tmp_path / "no" / "such" / "x.har"))
    assert "cannot write" in assert_one_clear_sentence(done, 1)


@pytest.mark.parametrize("command", ["report", "demo", "sim", "browse"])
def test_help_shows_the_view_options_and_examples(command):
    done = webtrip(command, "--help")
    assert done.returncode == 0
    assert "--har" in done.stdout and "--mermaid" in done.stdout and "Examples" in done.stdout
    # One flag name for the HTML page on every command (report's old --html is hidden).
    assert "--report FILE.html" in done.stdout and "--html" not in done.stdout


def test_sim_writes_the_page_and_report_reproduces_it(tmp_path):
    done = webtrip("sim", "--json", "--lang", "es", "--report", "run.html", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (tmp_path / "run.json").write_text(done.stdout)
    page = (tmp_path / "run.html").read_text(encoding="utf-8")
    assert '<html lang="es">' in page
    again = webtrip("report", "run.json", "--report", "again.html", "--lang", "es", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "again.html").read_bytes() == (tmp_path / "run.html").read_bytes()


def test_report_writes_the_page_with_report_and_still_understands_html(tmp_path):
    """--report FILE.html, as on browse, demo and sim; its old name --html still works."""
    (tmp_path / "run.json").write_text(Trace(clock=lambda: 0.0, wall_start=0.0).to_json())
    old = webtrip("report", "run.json", "--html", "old.html", cwd=tmp_path)
    assert old.returncode == 0, old.stderr
    new = webtrip("report", "run.json", "--report", "new.html", cwd=tmp_path)
    assert new.returncode == 0, new.stderr
    assert (tmp_path / "old.html").read_bytes() == (tmp_path / "new.html").read_bytes()
    both = webtrip("report", "run.json", "--html", "a.html", "--report", "b.html", cwd=tmp_path)
    assert both.returncode == 2 and "old name of --report" in both.stderr


def test_report_needs_a_file_to_write(tmp_path):
    (tmp_path / "t.json").write_text(Trace(clock=lambda: 0.0, wall_start=0.0).to_json())
    done = webtrip("report", "t.json", cwd=tmp_path)
    assert done.returncode == 2 and "--report FILE.html" in done.stderr
