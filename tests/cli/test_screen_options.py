"""``--viewport`` and ``--dpr`` on the command line: they decide which image a srcset
fetches (the same rule Chromium follows, tests/browser/test_chromium_corpus.py), and a
bad value is one clear sentence."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from support import run_webtrip
from support.school_lab import write_lab

PAGE = b"""<!doctype html><title>Screens</title>
<img src="small.png" srcset="small.png 1x, big.png 2x" alt="a photo">
<picture><source media="(max-width: 600px)" srcset="narrow.png">
<img src="wide.png" alt=""></picture>
"""


def fetched(tmp_path: Path, *options: str) -> set[str]:
    (tmp_path / "lab").mkdir()
    lab = write_lab(tmp_path / "lab", page=PAGE)
    for name in ("small.png", "big.png", "narrow.png", "wide.png"):
        (lab.parent / "site" / name).write_bytes(b"\x89PNG\r\n\x1a\n" + name.encode())
    done = run_webtrip("sim", "--lab", str(lab), "--json", *options, timeout=120)
    assert done.returncode == 0, done.stderr
    trace = json.loads(done.stdout)
    return {
        event["url"].rsplit("/", 1)[-1]
        for event in trace["events"]
        if event["type"] == "HttpRequestQueued"
    } - {""}


def test_the_default_screen_is_chromiums_headless_one(tmp_path: Path) -> None:
    assert fetched(tmp_path) == {"small.png", "wide.png"}


def test_a_retina_phone_fetches_the_2x_image_and_the_narrow_source(tmp_path: Path) -> None:
    assert fetched(tmp_path, "--viewport", "390x844", "--dpr", "2") == {"big.png", "narrow.png"}


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--viewport", "1280", "WIDTHxHEIGHT"),
        ("--viewport", "50x50", "100 to 10000"),
        ("--dpr", "9", "--dpr"),
    ],
)
def test_a_bad_screen_is_one_clear_sentence(option: str, value: str, words: str) -> None:
    line = usage_error(run_webtrip("sim", option, value))
    assert option in line and words in line


def test_the_viewport_mistake_in_spanish() -> None:
    line = usage_error(run_webtrip("sim", "--viewport", "grande", "--lang", "es"))
    assert "grande" in line and "WIDTHxHEIGHT" not in line


def usage_error(done: subprocess.CompletedProcess[str]) -> str:
    """click's usage error: exit 2, no traceback, its one "Error:" sentence."""
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, done.stderr
    return errors[0]
