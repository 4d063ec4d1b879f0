"""No half-written outputs: a file a command writes (``--pcap``, ``--har``,
``--mermaid``, ``--report``, a router's per-link captures) is whole or absent, an
older file of that name kept as it was; a standard output that cannot be written
(``> /dev/full``) is one sentence and exit code 1; a closed pipe (``| head -1``) ends
the run quietly. The full disk is a real refusal of the kernel: a limit on the size
of the files the process may write (RLIMIT_FSIZE), so its writes fail with EFBIG."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from support import assert_one_clear_sentence, cli_env

LIMIT = 2048
"""Bytes a command may write to a file: less than any of the views of a simulated run."""


def webtrip(*args: str, cwd: Path, limit: int | None = None, stdout: object = subprocess.PIPE
            ) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """Run the command line, its files no bigger than ``limit`` bytes if given."""

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a refused write is EFBIG, not death
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    done = subprocess.run(
        [sys.executable, "-m", "webtrip", *args],
        stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=60,
        env=cli_env(), cwd=cwd, preexec_fn=limited,
    )  # fmt: skip
    done.stdout = done.stdout or ""  # none read when it went elsewhere
    return done


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("run")
    done = webtrip("sim", "--json", cwd=folder)
    assert done.returncode == 0, done.stderr
    (folder / "run.json").write_text(done.stdout)
    return folder / "run.json"


def assert_refused(done: subprocess.CompletedProcess[str], name: str) -> None:
    line = assert_one_clear_sentence(done, 1)
    assert line == f"webtrip: cannot write {name}: File too large"


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("option", ["--har", "--mermaid", "--report"])
def test_a_view_the_disk_cannot_hold_is_absent_not_truncated(tmp_path, saved_run, option):
    done = webtrip("report", str(saved_run), option, "view", cwd=tmp_path, limit=LIMIT)
    assert_refused(done, "view")
    assert not (tmp_path / "view").exists()
    assert leftovers(tmp_path) == []


def test_an_older_file_is_kept_as_it_was_when_the_new_one_does_not_fit(tmp_path, saved_run):
    (tmp_path / "run.har").write_text("the old HAR\n")
    done = webtrip("report", str(saved_run), "--har", "run.har", cwd=tmp_path, limit=LIMIT)
    assert_refused(done, "run.har")
    assert (tmp_path / "run.har").read_text() == "the old HAR\n"
    assert leftovers(tmp_path) == []


def test_a_rewritten_file_keeps_its_permissions(tmp_path, saved_run):
    (tmp_path / "run.har").write_text("old")
    (tmp_path / "run.har").chmod(0o640)
    done = webtrip("report", str(saved_run), "--har", "run.har", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "run.har").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "run.har").read_text().startswith("{")


@pytest.mark.parametrize(
    ("args", "written"),
    [
        (("--pcap", "lab.pcap"), "lab.pcap"),
        (("--at", "router", "--pcap", "r.pcapng"), "r-eth0.pcapng"),
    ],
)
def test_a_capture_the_disk_cannot_hold_is_absent(tmp_path, args, written):
    done = webtrip("sim", "--no-packets", *args, cwd=tmp_path, limit=LIMIT,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    assert_refused(done, written)
    assert [p.name for p in tmp_path.iterdir()] == []


@pytest.mark.parametrize("args", [(), ("--json",)])
def test_a_full_standard_output_is_one_sentence_and_exit_1(tmp_path, args):
    with open("/dev/full", "w") as full:
        done = webtrip("sim", *args, cwd=tmp_path, stdout=full)
    line = assert_one_clear_sentence(done, 1)
    assert line == "webtrip: cannot write the output: No space left on device"


@pytest.mark.parametrize("args", [(), ("--json",)])
def test_a_closed_pipe_ends_the_run_quietly(tmp_path, args):
    reading, writing = os.pipe()
    os.close(reading)  # `| head -1` that has already gone
    try:
        done = webtrip("sim", *args, cwd=tmp_path, stdout=writing)
    finally:
        os.close(writing)
    assert done.returncode == 1
    assert done.stderr == ""


def test_a_trace_cut_short_by_a_full_disk_is_an_error_not_exit_0(tmp_path):
    # The disk takes the first 100 KiB of the trace's one large write (some 650 KiB);
    # Python's text layer would drop the rest without a word (a truncated run.json, exit 0).
    with open(tmp_path / "run.json", "w") as saved:
        done = webtrip("sim", "--json", cwd=tmp_path, limit=100 * 1024, stdout=saved)
    line = assert_one_clear_sentence(done, 1)
    assert line == "webtrip: cannot write the output: File too large"
