"""``webtrip report`` and the view files every command writes (``--har``, ``--mermaid``):
written, reproduced byte for byte from the saved trace, and their mistakes told in one
sentence. What the views hold is in ``tests/report/``."""

from __future__ import annotations

import json

import pytest

from support import assert_one_clear_sentence
from support import run_webtrip as webtrip


def test_sim_writes_both_files_and_report_reproduces_them(tmp_path):
    done = webtrip("sim", "--json", "--har", "run.har", "--mermaid", "run.mmd", cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    (tmp_path / "run.json").write_text(done.stdout)
    har = json.loads((tmp_path / "run.har").read_text())
    assert har["log"]["version"] == "1.2" and len(har["log"]["entries"]) == 5
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
