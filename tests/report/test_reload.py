"""A reload (``--reload``): the same browser loads the page again — each load told on its
own, then what the resolver's DNS cache and the browser's HTTP cache saved."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from webtrip import lab as lab_spec
from webtrip.cli.output import har_text
from webtrip.i18n import number
from webtrip.lab import sim as simulated
from webtrip.report.html import embedded_data, html_report
from webtrip.report.narration import narrate
from webtrip.report.reload import load_parts
from webtrip.report.timings import request_timings
from webtrip.report.waterfall import legend, waterfall
from webtrip.trace import HttpCacheLookup, HttpCacheStored, HttpRequestSent, HttpResponseStarted


@pytest.fixture(scope="module")
def run() -> simulated.SimLab:
    return simulated.run(lab_spec.demo_lab(), 1, loads=2)


def files_of(run: simulated.SimLab) -> int:
    """How many files the demo page is (the page and what it links), as the first load found."""
    first = run.loads[0]
    assert first.error is None and len(first.fetched) > 1
    return len(first.fetched)


def received_first(run: simulated.SimLab) -> int:
    """The bytes the first load's files took on the wire: what the reload saved."""
    return sum(t.wire_size for t in request_timings(load_parts(run.world.trace)[0]))


def test_the_reload_asks_about_the_page_and_uses_the_fresh_files_it_kept(run):
    first, again = run.loads
    files = files_of(run)
    assert [f.cache for f in first.fetched] == [None] * files
    assert again.main is not None and again.main.cache == "revalidated"
    assert again.main.response is not None and again.main.response.status == 200
    assert again.document is not None and again.document.title == first.document.title
    assert sorted(f.cache or "" for f in again.fetched[1:]) == ["fresh"] * (files - 1)
    trace = load_parts(run.world.trace)[1]
    (sent,) = trace.of_type(HttpRequestSent)  # the page only: the rest needed no request
    conditions = {name for name, _ in sent.headers}
    assert {"If-None-Match", "If-Modified-Since"} <= conditions
    assert [h.status for h in trace.of_type(HttpResponseStarted)] == [304]
    lookups = trace.of_type(HttpCacheLookup)
    assert [lookup.outcome for lookup in lookups] == ["validate", *["fresh"] * (files - 1)]
    assert all(lookup.freshness == "heuristic" for lookup in lookups)
    (updated,) = trace.of_type(HttpCacheStored)
    assert updated.outcome == "updated"


def test_the_first_load_stores_every_file_for_next_time(run):
    trace = load_parts(run.world.trace)[0]
    assert {lookup.outcome for lookup in trace.of_type(HttpCacheLookup)} == {"miss"}
    stored = trace.of_type(HttpCacheStored)
    assert [s.outcome for s in stored] == ["stored"] * files_of(run)
    # The simulated files were last modified 30 days before the world's epoch.
    assert {s.lifetime for s in stored} == {3 * 86400.0}


def test_each_load_is_told_on_its_own_then_compared(run):
    files = files_of(run)
    story = narrate(run.world.trace)
    headings = [p.heading for p in story]
    assert headings.count("Step 1 — DNS: the name's address") == 2
    assert headings[0] == "Load 1: the page, the first time"
    second = headings.index("Load 2: the same page again, reloaded in the same browser")
    assert headings[-1] == "What the caches saved"
    later = " ".join(p.text for p in story[second:])
    assert "walking down the DNS tree" not in later  # the resolver's cache answered
    assert "answered from its cache at once" in later
    assert "It was sent elsewhere" not in " ".join(p.text for p in story)
    assert "The server answered 304 Not Modified" in later
    assert "did not ask for them again" in later
    assert f"found {files - 1} more files" in later
    assert later.count("/style.css") == 2  # found, kept
    comparison = story[-1].text
    assert "the first time it asked 6 other servers" in comparison
    assert f"{files - 1} files were still fresh" in comparison
    assert "For 1 file (/) it asked the server whether it had changed" in comparison
    assert f"Files received: 0 bytes instead of {number(received_first(run), 'en')}" in comparison
    assert f"Requests sent: 1 instead of {files}" in comparison


def test_the_comparison_uses_the_runs_own_numbers(run):
    first, _again = load_parts(run.world.trace)
    before = [t.wire_size for t in request_timings(first)]
    comparison = narrate(run.world.trace)[-1].text
    received = number(sum(before), "en")  # English groups thousands: 55,663
    assert f"0 bytes instead of {received}" in comparison
    assert f"the {received} bytes of the kept copies" in comparison


def test_the_reload_is_told_in_spanish(run):
    story = narrate(run.world.trace, "es")
    assert story[0].heading == "Carga 1: la página, la primera vez"
    assert story[-1].heading == "Lo que han ahorrado las cachés"
    text = " ".join(p.text for p in story)
    assert "ni siquiera los ha pedido" in text
    assert "el servidor ha respondido 304 Not Modified" in text
    received = number(received_first(run), "es")  # Spain groups from 10 000 on: 55.663
    assert f"Archivos recibidos: 0 bytes en lugar de {received}" in text


def test_the_har_has_a_304_entry_and_entries_from_the_cache(run):
    har = json.loads(har_text(run.world.trace))
    entries = [e for e in har["log"]["entries"] if e["pageref"] == "page_2"]
    assert [e["response"]["status"] for e in entries] == [304, *[200] * (files_of(run) - 1)]
    page = entries[0]
    assert page["cache"]["beforeRequest"]["eTag"].startswith('"')
    assert "_fromCache" not in page
    for entry in entries[1:]:
        assert entry["_fromCache"] == "disk"
        assert entry["response"]["bodySize"] == 0 and entry["response"]["content"]["size"] > 0
        assert entry["timings"]["connect"] == -1 and entry["time"] == 0


def test_the_waterfall_shows_the_304_row_and_the_files_from_the_cache(run):
    timings = request_timings(load_parts(run.world.trace)[1])
    console = Console(width=120, record=True, color_system=None)
    console.print(waterfall(timings))
    console.print(legend(cache=True))
    text = console.export_text()
    files = files_of(run)  # the rows go on numbering after the first load's
    page_row = next(line for line in text.splitlines() if line.strip().startswith(f"{files + 1} "))
    assert " 304 " in page_row
    assert text.count("(cache)") == files  # a row for each kept file, and the legend


def test_the_html_report_tells_both_loads(run):
    story = embedded_data(html_report(run.world.trace))["story"]
    headings = [part["heading"]["en"] for part in story]
    assert sum(heading.startswith("Step 1 — DNS") for heading in headings) == 2
    assert headings[-1] == "What the caches saved"
    assert [h for h in headings if h.startswith("Load ")] == [
        "Load 1: the page, the first time",
        "Load 2: the same page again, reloaded in the same browser",
    ]


def test_a_reload_is_the_same_bytes_with_the_same_seed(run):
    again = simulated.run(lab_spec.demo_lab(), 1, loads=2)
    assert again.world.trace.to_json() == run.world.trace.to_json()
