"""``webtrip report`` reads a saved trace only from a regular file, bounded (issue 14, item 12)."""

from __future__ import annotations

import os

from support import assert_one_clear_sentence, run_webtrip


def test_a_fifo_or_a_device_as_the_trace_is_one_sentence_not_a_hang(tmp_path):
    fifo = tmp_path / "run.json"
    os.mkfifo(fifo)
    for path, language in ((str(fifo), "en"), ("/dev/zero", "es")):
        done = run_webtrip("report", path, "--har", str(tmp_path / "run.har"), "--lang", language,
                           timeout=20)  # fmt: skip
        line = assert_one_clear_sentence(done, 2)
        if language == "en":
            assert line == (f"webtrip: {path} is not a regular file: give the file a run was "
                            "saved to (webtrip sim --json > run.json)")  # fmt: skip
        else:
            assert line.startswith(f"webtrip: {path} no es un archivo normal: ")
    assert not (tmp_path / "run.har").exists()


def test_cacert_that_is_not_pem_or_not_a_file_is_one_sentence(tmp_path):
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("hello\n")
    fifo = tmp_path / "ca.fifo"
    os.mkfifo(fifo)
    for path, words in ((not_pem, "holds no PEM certificate"), (fifo, "is not a regular file")):
        done = run_webtrip("browse", "http://127.0.0.1:9/", "--cacert", str(path), timeout=20)
        assert f"--cacert {path} {words}" in assert_one_clear_sentence(done, 2)
