"""bench/replay_scrub.py's pieces: the tiled data stays consistent, and scrubbing a
10,000-event trace in Chromium keeps each frame's script work well under a frame."""

from __future__ import annotations

import pytest

import replay_scrub
from peers.playwright_chromium import DESKTOP, chromium_page
from webtrip import lab
from webtrip.lab import sim
from webtrip.report.app_data import app_data


@pytest.fixture(scope="module")
def data():
    fault = lab.parse_fault("drop", "synack")
    return app_data(sim.run(lab.demo_lab(), 1, faults=[fault]).world.trace)


def test_tiled_data_is_one_long_consistent_run(data):
    long = replay_scrub.tiled(data, 3 * len(data["events"]))
    events = long["events"]
    assert len(events) == 3 * len(data["events"])
    assert [e["i"] for e in events] == list(range(len(events)))
    assert [e["t"] for e in events] == sorted(e["t"] for e in events)
    for e in events:
        if "flight" in e:
            flight = long["flights"][e["flight"]]
            assert e["i"] in (flight["sent_event"], flight["arrived_event"])
        if "packet" in e:
            assert long["views"][e["packet"][0]]["rows"][e["packet"][1]]
    assert sum(f["lost"] is not None for f in long["flights"]) == 3


@pytest.mark.peer("chromium")
def test_scrubbing_ten_thousand_events_stays_under_a_frame(data, tmp_path):
    path = tmp_path / "long.html"
    from webtrip.report.html import app_page

    path.write_text(app_page(replay_scrub.tiled(data, 10_000), "en"), encoding="utf-8")
    with chromium_page(path.as_uri(), size=DESKTOP, timeout=60) as watched:
        watched.page.wait_for_selector("#network svg")
        result = watched.page.evaluate(replay_scrub.SCRUB, 120)
    assert result["events"] >= 10_000
    work = sorted(result["work"])
    assert replay_scrub.percentile(work, 95) <= 16, work[-10:]
    watched.assert_clean()
