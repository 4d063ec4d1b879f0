"""How long the browser waits, as browsers do: a lossy path is slow, not broken.

Specification. Chromium gives a connection attempt 4 minutes over all of a
name's addresses (the kernel gives up on one address sooner) and a page no
time limit of its own; Firefox waits 300 s for a response to start. So a
handshake whose SYNs are lost for 15 s, or an answer whose segments are lost
for half a minute, still loads — in the simulated world, with exact drops.
"""

from __future__ import annotations

from webtrip import lab
from webtrip.browser.http1 import Limits
from webtrip.browser.loader import BrowserOptions
from webtrip.lab import sim as simulated
from webtrip.packets.dissect import dissect
from webtrip.trace import (
    HttpRequestSent,
    HttpResponseCompleted,
    HttpResponseStarted,
    PacketCaptured,
    TcpConnectionOpened,
    TcpConnectStarted,
)
from webtrip.trace.events import IN


def test_the_defaults_are_a_browsers():
    options = BrowserOptions()
    assert options.connect_timeout == 240 and options.total_timeout is None
    assert options.tls_timeout == 30 and Limits().read_timeout == 300


def test_four_lost_syns_in_a_row_cost_time_not_the_page():
    run = simulated.run(lab.demo_lab(), 1, faults=[lab.parse_fault("drop", "syn")] * 4)

    assert run.load.error is None
    started = run.world.trace.of_type(TcpConnectStarted)[0]
    opened = run.world.trace.of_type(TcpConnectionOpened)[0]
    assert opened.t - started.t > 15, "SYNs at 0, 1, 3 and 7 s lost; the one at 15 s answered"


def _segments_of_the_pages_answer() -> int:
    """How many segments the server's answer to the page takes, in a run without faults."""
    trace = simulated.run(lab.demo_lab(), 1).world.trace
    opened = next(e for e in trace.of_type(TcpConnectionOpened)
                  if e.actor == "browser" and e.connection == 1)  # fmt: skip
    done = next(e for e in trace.of_type(HttpResponseCompleted) if e.request == 1)
    arrived = [dissect(e.data) for e in trace.of_type(PacketCaptured)
               if e.actor == "browser" and e.direction == IN and e.t <= done.t]  # fmt: skip
    return sum(1 for p in arrived if p.source_port == opened.peer[1]
               and p.destination_port == opened.local[1] and p.payload_size > 0)  # fmt: skip


def test_an_answer_lost_for_half_a_minute_still_arrives():
    # The page's whole answer is lost, then its first segment, sent again after 1, 3, 7 and
    # 15 s, is lost each time: the one sent again after 31 s arrives.
    drops = _segments_of_the_pages_answer() + 4
    faults = [lab.parse_fault("drop", "http-response")] * drops
    run = simulated.run(lab.demo_lab(), 1, faults=faults)

    assert run.load.error is None
    assert all(f.error is None for f in run.load.fetched)
    trace = run.world.trace
    sent = next(e for e in trace.of_type(HttpRequestSent) if e.request == 1)
    head = next(e for e in trace.of_type(HttpResponseStarted) if e.request == 1)
    assert head.t - sent.t > 30
