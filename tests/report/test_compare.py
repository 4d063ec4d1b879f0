"""The trace difference engine on constructed pairs: each difference, and only it."""

from __future__ import annotations

import dataclasses

import pytest

from webtrip import lab
from webtrip.lab import sim
from webtrip.report.compare import compare, story
from webtrip.report.reload import load_parts
from webtrip.trace import HttpResponseCompleted, HttpResponseStarted, Trace


def run(seed: int = 1, **options: object) -> Trace:
    conditions = options.pop("conditions", sim.LinkConditions())
    assert isinstance(conditions, sim.LinkConditions)
    faults = [lab.parse_fault(*fault) for fault in options.pop("faults", ())]  # type: ignore[attr-defined]
    return sim.run(lab.demo_lab(), seed, conditions, faults=faults, **options).world.trace  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def plain() -> Trace:
    return run()


def test_a_run_compared_with_itself_has_no_difference(plain):
    comparison = compare(plain, run())
    assert comparison.identical
    assert comparison.differences == [] and comparison.settings == []
    assert comparison.first is None
    assert all(row.same for row in comparison.summary)
    assert story(comparison) == [
        "The two runs are the same: every DNS question, connection, request and packet "
        "matches, at the same times."
    ]


def test_a_lost_syn_ack_has_exactly_its_consequences(plain):
    lost = run(faults=[("drop", "synack")])
    comparison = compare(plain, lost)
    first = comparison.first
    assert first is not None
    assert (first.kind, first.field, first.a, first.b) == ("packet", "fate", "arrived", "lost")
    assert first.key[2].startswith("SYN,ACK")
    # Only run B has something: the browser's SYN and the server's SYN-ACK, each a 2nd time.
    assert not [d for d in comparison.differences if d.change == "only_a"]
    only_b = [d.key for d in comparison.differences if d.change == "only_b"]
    at_browser = [
        d.key for d in comparison.differences if d.change == "only_b" and d.kind == "packet"
    ]
    assert [(key[1], key[2].split()[0], key[3]) for key in at_browser] == [
        ("browser", "SYN", "#2"),
        ("peer", "SYN,ACK", "#2"),
    ]
    # The servers' and routers' own captures say the same, node by node: the router
    # takes the SYN in and sends it on a 2nd time, the web server answers it a 2nd time.
    at_nodes = sorted(
        (d.key[0], d.key[1], d.key[4].split()[0])
        for d in comparison.differences
        if d.change == "only_b" and d.kind == "node_packet"
    )
    assert at_nodes == [
        ("router", "in", "SYN"),
        ("router", "in", "SYN,ACK"),
        ("router", "out", "SYN"),
        ("router", "out", "SYN,ACK"),
        ("web", "in", "SYN"),
        ("web", "out", "SYN,ACK"),
    ]
    assert len(only_b) == len(at_browser) + len(at_nodes)
    # The first SYN-ACK: sent by the router in run A, lost on its way out in run B.
    lost_at_router = [
        (d.key[0], d.a, d.b)
        for d in comparison.differences
        if d.kind == "node_packet" and d.field == "fate"
    ]
    assert lost_at_router == [("router", "sent", "lost")]
    # Nothing else changes but times, the SYN count and the lost packet's fate.
    changed = {(d.kind, d.field) for d in comparison.differences if d.change == "changed"}
    assert changed == {("packet", "fate"), ("node_packet", "fate"), ("connection", "syns")}
    nodes = {row["node"]: row for row in comparison.per_node()}
    assert nodes["web"]["a"]["received"] + 1 == nodes["web"]["b"]["received"]
    assert nodes["router"]["b"]["dropped"] == nodes["router"]["a"]["dropped"] + 1
    # The page, every file, every packet after it: 1 s later (the SYN's 1 s timer).
    shifts = {
        round(float(d.b) - float(d.a), 6)  # type: ignore[arg-type]
        for d in comparison.differences
        if d.change == "timing" and d.field in ("built_t", "done_t")
    }
    assert shifts == {1.0}
    summary = {(row.step, row.measure): (row.a, row.b) for row in comparison.summary}
    assert summary[("connection", "syns")] == (5, 6)
    assert summary[("request", "lost")] == (0, 1)
    assert summary[("page", "status")] == (200, 200)


def test_the_story_of_a_lost_syn_ack_uses_the_runs_own_values(plain):
    comparison = compare(plain, run(faults=[("drop", "synack")]))
    built_a = next(r.a for r in comparison.summary if r.measure == "built_t")
    built_b = next(r.b for r in comparison.summary if r.measure == "built_t")
    text = " ".join(story(comparison))
    assert "the SYN-ACK from 10.0.0.3:80 was lost on the browser's link" in text
    assert "its retransmission timer ran out, 1,000 ms after the first time" in text
    assert (
        f"The page was built at {built_b:.3f} s instead of {built_a:.3f} s: 1,000 ms later" in text
    )
    spanish = " ".join(story(comparison, "es"))
    assert "se ha perdido el SYN-ACK de 10.0.0.3:80 en el enlace del navegador" in spanish
    assert "al vencer su temporizador de retransmisión, 1000 ms después" in spanish
    assert "La página se ha construido a los" in spanish and "1000 ms más tarde" in spanish


def test_a_server_answer_that_only_arrived_again_is_not_given_a_cause(plain):
    """The browser sees the server's second SYN-ACK arrive; why the server sent it is not
    in the browser's packets, so the story does not say."""
    text = " ".join(story(compare(plain, run(faults=[("drop", "synack")]))))
    assert "In run B, the SYN-ACK from 10.0.0.3:80 arrived again at" in text
    assert "SYN-ACK from 10.0.0.3:80 was sent again" not in text


def test_a_changed_latency_changes_timing_only(plain):
    slower = run(conditions=sim.LinkConditions(latency=0.040))
    comparison = compare(plain, slower)
    assert comparison.settings == [("latency", 0.02, 0.04)]
    assert comparison.differences
    assert {d.change for d in comparison.differences} == {"timing"}
    assert "the browser's link had a one-way latency of 20 ms in run A, 40 ms in run B" in (
        " ".join(story(comparison))
    )


def _with_status(trace: Trace, url_end: str, status: int) -> Trace:
    """``trace`` with the browser's response to the request for ``url_end`` given ``status``."""
    request = next(e.request for e in trace.events
                   if type(e).__name__ == "HttpRequestQueued" and e.url.endswith(url_end))  # type: ignore[attr-defined]  # fmt: skip
    events = [
        dataclasses.replace(e, status=status)
        if isinstance(e, HttpResponseStarted | HttpResponseCompleted) and e.request == request
        else e
        for e in trace.events
    ]
    changed = Trace(wall_start=trace.wall_start)
    changed.events.extend(events)
    return changed


def test_a_404_against_a_200_is_a_status_difference(plain):
    missing = _with_status(plain, "/style.css", 404)
    comparison = compare(plain, missing)
    assert [(d.kind, d.field, d.a, d.b) for d in comparison.differences] == [
        ("request", "status", 200, 404)
    ]
    assert (
        "the request for http://www.webtrip.test/style.css: status 200 in run A, 404 in run B."
        in (" ".join(story(comparison)))
    )


def test_a_cache_hit_against_a_network_fetch_says_where_each_file_came_from():
    first, again = load_parts(run(loads=2))
    comparison = compare(first, again)
    cache = {d.key[1]: (d.a, d.b) for d in comparison.differences if d.field == "cache"}
    assert cache, "the reload answered nothing from the HTTP cache"
    assert all(a == "network" and b in ("fresh", "revalidated") for a, b in cache.values())
    # The second part has no record of the link: nothing is claimed about it. A file
    # from the cache has no body in the trace: its size is not compared.
    assert comparison.settings == []
    assert not [d for d in comparison.differences if d.field == "size" and d.key[1] in cache]
    # The first load's connections, closing during the reload, are not taken for new ones:
    # every connection the reload's packets are aligned on began in it (its SYN is there).
    flows = {i.key[0] for i in comparison.b if i.kind == "packet" and i.key[0].startswith("tcp")}
    syns = {i.key[0] for i in comparison.b if i.kind == "packet" and i.key[2].startswith("SYN ")}
    assert flows and flows == syns


def test_the_json_is_the_documented_shape(plain):
    document = compare(plain, run(faults=[("drop", "synack")])).to_json("es")
    assert set(document) == {
        "webtrip_comparison", "identical", "branch", "settings", "summary",
        "first_divergence", "differences", "story", "nodes",
    }  # fmt: skip
    assert document["identical"] is False
    nodes = {row["node"]: row for row in document["nodes"]}
    assert set(nodes) == {"browser", "router", "resolver", "root", "tld", "dns", "web"}
    assert nodes["root"]["role"] == "root" and nodes["root"]["differences"] == 0
    assert set(nodes["web"]["a"]) == {"sent", "received", "dropped"}
    assert nodes["web"]["differences"] > 0
    assert document["first_divergence"]["change"] == "changed"
    assert document["first_divergence"]["field"] == "fate"
    assert [s["step"] for s in document["summary"]][::3] == [
        "dns",
        "connection",
        "request",
        "request",
        "page",
    ]
    assert document["story"][0].startswith("Las ejecuciones se han preparado")


def test_segments_are_counted_per_file_and_add_up_to_their_connections(plain):
    """A connection carries one file at a time (HTTP/1.1): each file's own segments are
    those that reached the browser while it was being fetched; together they are the
    connection's."""
    requests = [i for i in compare(plain, plain).a if i.kind == "request"]
    assert requests and all(int(i.fields["segments"] or 0) >= 1 for i in requests)
    shared = [i for i in requests if i.fields["reused"] == "yes"]
    assert shared, "the demo page reuses a connection"
    for item in requests:
        assert int(item.fields["segments"] or 0) <= int(item.fields["segments_on_connection"] or 0)
    total = sum(int(i.fields["segments"] or 0) for i in requests)
    arrived = [
        i for i in compare(plain, plain).a
        if i.kind == "packet" and i.key[1] == "peer" and i.fields["fate"] == "arrived"
        and "len=0" not in i.key[2] and i.key[0].startswith("tcp")
    ]  # fmt: skip
    assert total == len(arrived)  # every data segment belongs to exactly one file


def test_a_segment_lost_and_sent_again_arrives_once_for_its_file(plain):
    """A file's segments are those that reached the browser: one lost on the way and
    sent again counts once, so the file has as many as without the loss — the loss and
    the resending show as packets, at the browser and at the router."""
    comparison = compare(plain, run(faults=[("drop", "http-response#20")]))
    assert not [d for d in comparison.differences if d.field in ("segments", "size")]
    assert [(d.kind, d.a, d.b) for d in comparison.differences if d.field == "fate"] == [
        ("packet", "arrived", "lost"),
        ("node_packet", "sent", "lost"),
    ]
    resent = [d for d in comparison.differences if d.change == "only_b" and d.kind == "packet"]
    data = [d for d in resent if d.key[1] == "peer" and "len=0" not in d.key[2]]
    assert len(data) == 1 and data[0].key[-1] == "#2"  # the lost segment, a 2nd time
