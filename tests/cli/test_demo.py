"""``webtrip demo`` as a user meets it: the demo lab on loopback, told in four steps."""

from __future__ import annotations

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
