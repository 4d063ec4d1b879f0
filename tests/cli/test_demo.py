"""``webtrip demo`` as a user meets it: the demo lab on loopback, told in four steps."""

from __future__ import annotations

import re

from support import run_webtrip as webtrip


def test_demo_runs_the_lab_and_tells_the_four_steps():
    done = webtrip("demo")
    assert done.returncode == 0, done.stderr
    for step in ("Step 1 — DNS", "Step 2 — TCP/IP and HTTP", "Step 3 — Packets", "Step 4"):
        assert step in done.stdout
    assert "www.webtrip.test" in done.stdout and "200 OK" in done.stdout
    assert "How the web works, in four steps" in done.stdout  # the page, rendered
    # A and AAAA leave microseconds apart on real sockets: two questions, not a retry.
    assert "2 questions at once" in done.stdout and "more time" not in done.stdout


def test_demo_json_is_a_loadable_trace():
    from webtrip.trace import PageLoadFinished, Trace

    done = webtrip("demo", "--json")
    assert done.returncode == 0, done.stderr
    trace = Trace.from_json(done.stdout)
    (finished,) = trace.of_type(PageLoadFinished)
    assert finished.failed is None and finished.status == 200


def test_demo_reload_tells_each_load_and_what_the_caches_saved():
    done = webtrip("demo", "--reload", "--no-render")
    assert done.returncode == 0, done.stderr
    first, _, again = done.stdout.partition("Load 2: the same page again")
    assert "Step 1 — DNS" in first and "Step 1 — DNS" in again
    assert "304 Not Modified" in again and "304 Not Modified" not in first
    # Only the page was asked for again; the first time, every file was: a row each in Step 2.
    files = len(re.findall(r"^ *\d+ +/\S* +200 ", first, re.M))
    assert "What the caches saved" in again and f"Requests sent: 1 instead of {files}" in again


def test_reload_help_says_it_is_the_same_browser():
    done = webtrip("demo", "--help")
    assert "in the same browser" in " ".join(done.stdout.split())  # however the help wraps
