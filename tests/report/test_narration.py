"""Views of a real page load (the demo lab, in process): timings, narration, saved traces."""

from __future__ import annotations

import asyncio
import random
import shutil

import pytest

from webtrip import lab as lab_spec
from webtrip.cli.demo import run_demo
from webtrip.cli.output import load_parts
from webtrip.lab import sim as simulated
from webtrip.labs import demo_path
from webtrip.net import format_address
from webtrip.packets.dissect import dissect
from webtrip.packets.tcp_analysis import Mark, TcpAnalysis
from webtrip.report.narration import narrate
from webtrip.report.pcap import captured_packets
from webtrip.report.timings import request_timings
from webtrip.trace import (
    DnsMessageSent,
    HttpRequestSent,
    NameResolved,
    ResolverAnswered,
    ResolverStep,
    TcpConnectionOpened,
    Trace,
)


@pytest.fixture(scope="module")
def lab():
    trace, (load,) = asyncio.run(run_demo("en"))
    return trace, load


def test_the_demo_loads_the_page_and_every_file(lab):
    _trace, load = lab
    assert load.error is None
    assert [f.response.status for f in load.fetched] == [200] * len(load.fetched)
    kinds = sorted(f.kind for f in load.fetched)
    # The page, its stylesheet, script and icon, and two pictures: the diagram and the photo.
    assert kinds == ["document", "icon", "image", "image", "script", "stylesheet"]


def test_first_request_has_dns_and_connect_and_reused_ones_do_not(lab):
    trace, _load = lab
    timings = request_timings(trace)
    first = timings[0]
    assert first.dns > 0 and first.connect > 0 and first.ssl == -1
    assert first.send >= 0 and first.wait > 0 and first.receive >= 0
    reused = [t for t in timings if t.reused]
    assert reused, "the stylesheet goes over the page's connection"
    assert all(t.dns == -1 and t.connect == -1 for t in reused)
    for timing in timings:
        assert sum(value for _name, value in timing.phases) <= timing.total + 0.01


def test_narration_tells_the_real_values(lab):
    trace, _load = lab
    text = " ".join(p.text for p in narrate(trace, "en"))
    resolved = trace.of_type(NameResolved)[0]
    dns_query = next(e for e in trace.of_type(DnsMessageSent) if e.actor == "browser")
    opened = next(e for e in trace.of_type(TcpConnectionOpened) if e.actor == "browser")
    sent = trace.of_type(HttpRequestSent)[0]
    assert format_address(resolved.server) in text
    assert "www.webtrip.test" in text and f"{dns_query.size} bytes" in text
    assert format_address(opened.peer) in text
    assert f"request of {sent.size} bytes" in text
    assert "200 OK" in text and "How the web works, in four steps" in text


def test_narration_has_the_four_steps_in_both_languages(lab):
    trace, _load = lab
    english = [p.heading for p in narrate(trace, "en")]
    spanish = [p.heading for p in narrate(trace, "es")]
    assert [h.split(" —")[0] for h in english] == ["Step 1", "Step 2", "Step 3", "Step 4"]
    assert [h.split(" —")[0] for h in spanish] == ["Paso 1", "Paso 2", "Paso 3", "Paso 4"]


def test_a_saved_trace_gives_the_same_views_when_loaded(lab):
    trace, _load = lab
    loaded = Trace.from_json(trace.to_json())
    assert loaded.events == trace.events
    assert request_timings(loaded) == request_timings(trace)
    assert narrate(loaded, "es") == narrate(trace, "es")


def test_the_demo_tells_the_resolvers_walk_then_its_cache_on_a_second_load():
    """The demo's resolver walks root → .test → webtrip.test; the second load is a cache hit."""
    trace, loads = asyncio.run(run_demo("en", loads=2))
    assert [load.error for load in loads] == [None, None]
    first, second = load_parts(trace)
    walk = [e for e in first.of_type(ResolverStep) if e.question == "www.webtrip.test. A"]
    assert [(e.server[0], e.zone, e.outcome) for e in walk] == [
        ("127.53.0.1", ".", "referral"),
        ("127.53.0.2", "test.", "referral"),
        ("127.53.0.3", "webtrip.test.", "answer"),
    ]
    story = narrate(first)[0].text
    assert "recursive resolver" in story and "walking down the DNS tree, with 3 questions" in story
    assert "127.53.0.1, a root server" in story and "servers of .test" in story
    assert "127.53.0.3, a server of webtrip.test, which answered: 127.0.0.1" in story
    # The second load: the resolver answered both questions from its cache, sent nothing.
    assert not second.of_type(ResolverStep)
    answered = second.of_type(ResolverAnswered)
    assert len(answered) == 2 and all(e.from_cache and e.queries == 0 for e in answered)
    resolver_sent = [e for e in second.of_type(DnsMessageSent) if e.actor == "resolver"]
    assert resolver_sent and not any(e.peer[0].startswith("127.53.0.") for e in resolver_sent)
    assert "answered from its cache at once" in narrate(second)[0].text
    spanish = narrate(second, "es")[0].text
    assert "ha respondido al instante con lo que tenía en su caché" in spanish


def test_each_lookup_of_a_reloaded_page_is_told_from_its_own_questions_and_answers():
    """A trace of two loads, told whole (as the HTML report does): the second lookup is a
    cache hit with no retries, not a second walk, and nothing of the first load's DNS."""
    run = simulated.run(lab_spec.demo_lab(), 1, loads=2)
    story = " ".join(paragraph.text for paragraph in narrate(run.world.trace))
    assert story.count("walking down the DNS tree") == 1
    assert story.count("answered from its cache at once") == 1
    assert "more time" not in story


def test_a_fast_retransmission_by_the_server_is_told_as_a_segment_sent_again(tmp_path):
    """A segment of a large answer lost on the way: the browser's duplicate ACKs make the
    server resend it at once (a fast retransmission, not after a timeout), and the
    narration counts it among the segments the server sent again."""
    folder = tmp_path / "lab"
    shutil.copytree(demo_path(), folder)
    # gzip cannot shrink it (the server compresses HTML whatever the gain, as nginx does:
    # 80,061 bytes on the wire)
    noise = random.Random(1).randbytes(80_000)
    (folder / "site" / "big.html").write_bytes(b"<title>Big</title>" + noise)
    chosen = lab_spec.load_lab(folder / "lab.toml")
    drop = lab_spec.parse_fault("drop", "http-response#3")
    run = simulated.run(chosen, 1, url="http://www.webtrip.test/big.html", faults=[drop])
    assert run.load.error is None
    analysis, fast = TcpAnalysis(), 0  # the server's own capture, as Wireshark reads it
    for number, packet in enumerate(captured_packets(run.world.trace, "web"), 1):
        parsed = dissect(packet.data)
        if parsed.tcp is not None:
            ip = parsed.ip
            seen = analysis.segment(ip.source, ip.destination, ip.payload, number, packet.t)
            fast += seen.mark is Mark.FAST_RETRANSMISSION
    assert fast == 1
    story = narrate(run.world.trace)[2].text
    assert "The server had to send 1 segment again." in story
    # Why, and how: the lost segment, the duplicate ACKs, and what the resend cost.
    assert "What was lost on the browser's link: 1 data segment." in story
    assert "1 data segment from the server was lost; the browser's duplicate ACKs told the " \
        "server, which sent it again 49 ms later (a fast retransmit)." in story  # fmt: skip
    assert "/big.html (80,061 bytes and its headers), came in 56 TCP segments of up to 1,460 " \
        "bytes (the MSS: the link's MTU of 1,500 bytes less 40 bytes of IPv4 and TCP " \
        "headers)" in story  # fmt: skip
    # The resent copy comes late, but the link reordered nothing.
    assert "arrived after" not in story
    spanish = narrate(run.world.trace, "es")[2].text
    assert "que lo ha reenviado 49 ms después (una retransmisión rápida)" in spanish
