"""The learner-facing truth suite: the narration says what each fault or condition did,
with the run's own values, in English and Spanish, and claims nothing the trace lacks."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from support.school_lab import TWO_ROUTERS, write_lab
from webtrip import lab as lab_spec
from webtrip.cli.demo import run_demo
from webtrip.i18n import milliseconds, seconds
from webtrip.lab import sim as simulated
from webtrip.packets.dissect import dissect
from webtrip.report.facts import packet_kind, page_load_facts
from webtrip.report.narration import narrate
from webtrip.report.timings import RequestTiming
from webtrip.trace import (
    FaultOutcome,
    HttpRequestFailed,
    PacketCaptured,
    PageLoadFinished,
    TcpConnectionClosed,
    Trace,
)
from webtrip.trace.events import DROP


def story(trace: Trace, language: str = "en") -> str:
    return " ".join(p.text for p in narrate(trace, language))


def simulate(*drops: str, **conditions: float) -> Trace:
    faults = [lab_spec.parse_fault("drop", text) for text in drops]
    link = simulated.LinkConditions(**conditions)  # type: ignore[arg-type]
    return simulated.run(lab_spec.demo_lab(), 1, link, faults=faults).world.trace


@pytest.fixture(scope="module")
def demo() -> Trace:
    trace, _loads = asyncio.run(run_demo("en"))
    return trace


def test_a_lookup_that_gave_up_while_the_resolver_walked_says_the_answer_came_too_late():
    trace = simulate(latency=5.0)
    english, spanish = story(trace), story(trace, "es")
    assert "The lookup failed" not in english
    assert "5 times, waiting 2 s for an answer each time; none came, so after 10 s" in english
    assert "Yet the resolver did find the answer: the first question reached it 5 s after" in (
        english
    )
    assert "had not reached the browser when it stopped waiting" in english
    assert "se ha rendido" in spanish and "sí ha encontrado la respuesta" in spanish


def test_a_silent_dns_server_is_explained_once_by_who_gave_up_after_how_many_tries():
    trace = simulated.run(lab_spec.demo_lab(), 1, dns_silent=True).world.trace
    english = story(trace)
    assert english.count("5 tries of 2 s") == 1
    assert "5 times, waiting 2 s for an answer each time; none came, so after 10 s its stub " \
        "resolver gave up." in english  # fmt: skip
    assert "walking down the DNS tree" not in english


def test_connections_the_demo_servers_close_at_shutdown_are_not_called_server_errors(demo):
    reasons = {e.reason for e in demo.of_type(TcpConnectionClosed)}
    assert reasons and not any(r.startswith("server error") for r in reasons)


def test_a_fault_that_matched_nothing_is_told_in_the_narration_with_the_runs_count():
    trace = simulate("synack#9")
    (outcome,) = trace.of_type(FaultOutcome)
    # One SYN-ACK per connection the browser opened (the page's files took 5).
    synacks = len(page_load_facts(trace).connections)
    assert (outcome.matched, outcome.fired) == (synacks, False) and synacks < 9
    assert f"--drop synack#9 matched no packet: the run had {synacks} SYN-ACKs, so nothing was " \
        "dropped." in story(trace)  # fmt: skip
    assert "no se ha descartado nada" in story(trace, "es")
    assert not [e for e in trace.of_type(PacketCaptured) if e.direction == DROP]


def test_a_lost_syn_ack_is_told_with_the_timeout_it_cost():
    trace = simulate("synack")
    english, spanish = story(trace), story(trace, "es")
    assert "The server's SYN-ACK was lost on the browser's link" in english
    assert "waited its retransmission timeout (1 s) and sent its SYN again; so the handshake " \
        "took 1,042 ms instead of 42 ms." in english  # fmt: skip
    assert english.count("1,042 ms") == 1  # said once
    assert "ha tardado 1042 ms en lugar de 42 ms" in spanish
    # Both resends in one sentence, with the loss that caused them.
    assert "TCP sent 2 segments again: 1 from the browser and 1 from the server. What was " \
        "lost on the browser's link: 1 SYN-ACK." in english  # fmt: skip
    assert "The server had to send" not in english and "The browser had to send" not in english
    assert "TCP ha reenviado 2 segmentos: 1 del navegador y 1 del servidor." in spanish


def test_the_link_conditions_are_told_with_the_round_trip_they_make():
    english = story(simulate(latency=0.05, loss=0.02))
    assert "delays every packet by 50 ms each way" in english
    assert "(a round trip) take at least 100 ms" in english
    assert "It loses 2 % of the packets at random." in english


def test_a_small_mtu_cuts_the_largest_file_into_segments_of_the_mss_it_allows():
    trace = simulate(mtu=576)
    english, spanish = story(trace), story(trace, "es")
    photo = largest_file(trace)
    sizes = arrived_sizes(trace, photo)
    assert max(sizes) == 536 and len(sizes) == -(-sum(sizes) // 536)  # all full but the last
    assert f"The largest file, /img/astronaut.jpg ({photo.wire_size:,} bytes and its headers), " \
        f"came in {len(sizes)} TCP segments of up to 536 bytes (the MSS: the link's MTU of 576 " \
        "bytes less 40 bytes of IPv4 and TCP headers)." in english  # fmt: skip
    assert "TCP put them back in order by their sequence numbers" in english
    assert f"ha llegado en {len(sizes)} segmentos TCP de hasta 536 bytes" in spanish
    assert "la MTU del enlace, 576 bytes" in spanish
    # Nothing was lost, duplicated or reordered: nothing of the kind is claimed.
    for claim in ("twice", "arrived after", "lost", "sent again", "sent it again"):
        assert claim not in english, claim


def test_a_slow_link_puts_the_files_time_on_the_wire_in_its_receive_phase():
    trace = simulate(bandwidth=256_000, mtu=576)
    photo = largest_file(trace)
    english, spanish = story(trace), story(trace, "es")
    # The photo's packets (payload + 40 bytes of headers each) at 256 kbit/s.
    packets = [size + 40 for size in arrived_sizes(trace, photo)]
    wire, rest = sum(packets) * 8 / 256, sum(packets[1:]) * 8 / 256
    assert "It carries 256 kbit/s: a full packet of 576 bytes takes 18 ms" in english
    assert f"At 256 kbit/s, its {sum(packets):,} bytes of packets took about {wire:,.0f} ms to " \
        "cross the link (bytes × 8 ÷ speed)." in english  # fmt: skip
    assert f"the rest, about {rest:,.0f} ms, is the receive time (█) in the timeline" in english
    assert abs(photo.receive - rest) < 0.25 * rest  # what the waterfall draws as █
    spanish_bytes = f"{sum(packets):,}".replace(",", ".")
    assert f"A 256 kbit/s, sus {spanish_bytes} bytes de paquetes han tardado unos" in spanish
    assert "0.3 Mbit/s" not in english


def test_a_file_that_fits_one_packet_spends_its_wire_time_in_the_wait():
    link = simulated.LinkConditions(bandwidth=256_000)
    url = "http://www.webtrip.test/script.js"  # a page of one small file
    trace = simulated.run(lab_spec.demo_lab(), 1, link, url=url).world.trace
    (size,) = arrived_sizes(trace, largest_file(trace))
    english = story(trace)
    assert "It carries 256 kbit/s" in english
    wire = milliseconds((size + 40) * 8 / 256, "en")
    assert f"took about {wire} to cross the link (bytes × 8 ÷ speed); they came in one go, so " \
        "that time is part of the wait for the first byte (░)." in english  # fmt: skip


def test_latency_is_told_as_the_round_trips_the_page_had_to_wait_for():
    trace = simulate(latency=0.2)
    english, spanish = story(trace), story(trace, "es")
    # The page: its lookup, handshake and request; the photo (the last file): its handshake
    # and request, then a round trip per later burst of slow start — 10 segments first
    # (RFC 6928), twice as many each round trip, until its segments are all sent.
    segments, window, bursts = len(arrived_sizes(trace, largest_file(trace))), 10, 1
    while window * (2**bursts - 1) < segments:
        bursts += 1
    count = 3 + 2 + bursts - 1
    assert f"The page needed {count} round trips over the browser's link that could not " \
        "overlap" in english  # fmt: skip
    assert f"They came in {bursts} bursts, one round trip apart (10, 20 and" in english
    total = f"{count * 0.4:.1f}".rstrip("0").rstrip(".")
    assert f"at 400 ms each, {total} s of that time went on the link's delay alone." in english
    assert f"La página ha necesitado {count} viajes de ida y vuelta" in spanish
    assert f"a 400 ms cada uno, {total.replace('.', ',')} s de ese tiempo" in spanish
    assert "Han llegado en 3 ráfagas" in spanish
    # The claim explains the load: the round trips fit in it, and one more would not.
    timings = page_load_facts(trace).timings
    span = max(t.started + t.total / 1000 for t in timings) - min(t.started for t in timings)
    assert count * 0.4 <= span < (count + 1) * 0.4


def test_real_runs_claim_no_round_trips_of_a_link_they_do_not_know(demo):
    english = story(demo)
    assert "round trips over the browser's link" not in english
    assert "kbit/s" not in english and "Mbit/s" not in english


def test_lost_data_segments_are_told_with_the_timeout_that_resent_them():
    trace = simulated.run(lab_spec.demo_lab(), 7, simulated.LinkConditions(loss=0.1, mtu=576)
                          ).world.trace  # fmt: skip
    facts = page_load_facts(trace)
    losses = [loss for loss in facts.segment_losses if loss.resent is not None]
    # A resend no ACK set off was the timer's: the retransmission timeout, 1 s here.
    timeouts = [loss for loss in losses if loss.to_browser and loss.timeout and loss.times == 1]
    assert len(timeouts) > 1
    assert {seconds(loss.cost, "en") for loss in timeouts} == {"1 s"}
    # Every other resend left at the moment an ACK reached the server.
    assert all(loss.by_ack for loss in losses if not loss.timeout)
    english, spanish = story(trace), story(trace, "es")
    lost = len(facts.dropped("data"))
    assert f"What was lost on the browser's link: {lost} data segments." in english
    assert f"{len(timeouts)} data segments from the server were lost; too few duplicate ACKs " \
        "came back to tell, so the server waited for its retransmission timeout and sent " \
        "each again 1 s later." in english  # fmt: skip
    # The photo's share of them: lost on the way, so they came late.
    photo = largest_file(trace)
    assert photo.connection is not None
    sequences = {row[2] for row in facts.browser_packets(photo.connection) if row[3]}
    mine = {e for e in facts.dropped("data") if dissect(e.data).tcp.sequence in sequences}
    assert f"{len(mine)} of them were lost on the way: they came only when the server sent " \
        "them again." in english  # fmt: skip
    assert f"{len(mine)} de ellos se han perdido por el camino" in spanish


def largest_file(trace: Trace) -> RequestTiming:
    """The page's largest file (the demo's: its photo)."""
    return max(page_load_facts(trace).timings, key=lambda t: t.wire_size)


def arrived_sizes(trace: Trace, timing: RequestTiming) -> list[int]:
    """The payload sizes of ``timing``'s answer's segments as they reached the browser
    (each sequence number once), from the browser's own capture."""
    facts = page_load_facts(trace)
    sent, done = facts.sent(timing.request), facts.done(timing.request)
    assert timing.connection is not None and sent is not None and done is not None
    sizes: dict[int, int] = {}
    for t, direction, sequence, size, _flags in facts.browser_packets(timing.connection):
        if direction == "in" and size and sent.t <= t <= done.t:
            sizes.setdefault(sequence, size)
    return list(sizes.values())


def test_a_delay_that_fired_says_what_it_held_and_for_how_long():
    faults = [lab_spec.parse_fault("delay", "synack=300ms")]
    trace = simulated.run(lab_spec.demo_lab(), 1, faults=faults).world.trace
    english, spanish = story(trace), story(trace, "es")
    assert "--delay synack=300ms held back the server's SYN-ACK (the first that matched) for " \
        "300 ms on the browser's link." in english  # fmt: skip
    assert "the three-way handshake (SYN, SYN-ACK, ACK) took 342 ms. 300 ms of it was the " \
        "--delay holding a packet of the handshake back." in english  # fmt: skip
    assert "ha retenido el SYN-ACK del servidor (el primero que encajaba) durante 300 ms" in (
        spanish
    )
    assert "lost" not in english


def test_a_clean_run_claims_no_loss_retransmission_failure_or_redirect():
    trace = simulate()
    assert not page_load_facts(trace).drops
    english = story(trace)
    for claim in ("lost", "had to send", "failed", "sent elsewhere", "more time", "matched no"):
        assert claim not in english, claim
    assert "The browser did not have to send any segment again." in english
    assert "El navegador no ha tenido que reenviar ningún segmento." in story(trace, "es")


def test_the_same_seed_tells_the_same_story():
    assert story(simulate("synack")) == story(simulate("synack"))


def test_loopback_is_told_as_one_computer_talking_to_itself(demo):
    english = story(demo)
    assert "a round trip is one computer talking to itself" in english
    assert "un ordenador hablando consigo mismo" in story(demo, "es")


def test_the_address_used_is_explained_when_the_name_has_ipv6_and_ipv4(demo):
    facts = page_load_facts(demo)
    resolved = facts.lookups[0].resolved
    assert resolved is not None
    opened = next(c.opened for c in facts.connections.values() if c.opened is not None)
    english = story(demo)
    if len(resolved.addresses) > 1 and ":" in opened.peer[0]:
        assert f"IPv6 first as browsers prefer (RFC 6724, RFC 8305), and {opened.peer[0]}" in (
            english
        )
    else:
        pytest.skip("this machine has no ::1: the name has its IPv4 address only")


def test_random_losses_are_told_by_what_was_lost_and_what_it_cost():
    trace = simulate(loss=0.1)
    kinds = sorted(packet_kind(e.data) for e in page_load_facts(trace).drops)
    assert kinds.count("dns-query") == 1 and kinds.count("dns-response") == 1
    assert kinds.count("syn") + kinds.count("synack") == 1  # one handshake's
    english = story(trace)
    assert "1 of its questions was lost on the browser's link." in english
    assert "1 answer was lost on the browser's link on its way back." in english
    assert "On 1 other connection a SYN or its SYN-ACK was lost: the browser waited 1 s" in (
        english
    )
    assert "1 de sus preguntas se ha perdido en el enlace del navegador." in story(trace, "es")


# The school lab with a narrower link between its two routers.
NARROW_PATH = TWO_ROUTERS.replace(
    'between = ["home", "isp"]\nlatency = "30ms"\nbandwidth = "100mbit"',
    'between = ["home", "isp"]\nlatency = "10ms"\nmtu = {mtu}',
)
assert "mtu = {mtu}" in NARROW_PATH


def narrow_path(folder: Path, mtu: int) -> Trace:
    """A page of 2,335 bytes (gzip cannot shrink hex much) behind two routers whose link
    between them carries ``mtu`` bytes, less than the 1,500 of the links at both ends."""
    body = random.Random(1).randbytes(2000).hex()[:4000].encode()
    page = b"<title>School</title><p>" + body
    write_lab(folder, NARROW_PATH.replace("{mtu}", str(mtu)), page)
    return simulated.run(lab_spec.load_lab(folder / "lab.toml"), 1).world.trace


def test_fragmentation_needed_is_told_as_path_mtu_discovery(tmp_path):
    trace = narrow_path(tmp_path, 576)
    errors = page_load_facts(trace).path_mtu_errors
    assert [(e.router, e.to, e.mtu) for e in errors] == [("192.168.2.253", "192.168.2.80", 576)] * 2
    english, spanish = story(trace), story(trace, "es")
    assert "came in 5 TCP segments of up to 536 bytes." in english
    assert "On the way, the router at 192.168.2.253 could not pass on 2 packets of the server's " \
        "(up to 1,500 bytes, marked “don't fragment”): its next link carries at most 576 " \
        "bytes. It told the server with ICMP “fragmentation needed” (type 3, code 4) for each, " \
        "and the server sent the data again in segments of 536 bytes (path MTU discovery)." in (
        english
    )  # fmt: skip
    assert "el router de 192.168.2.253 no ha podido dejar pasar 2 paquetes del servidor (de " \
        "hasta 1500 bytes" in spanish  # fmt: skip


def test_no_fragmentation_needed_is_claimed_when_every_link_carries_the_packets(tmp_path):
    trace = narrow_path(tmp_path, 1500)
    assert not page_load_facts(trace).path_mtu_errors
    assert "fragmentation needed" not in story(trace)


def test_the_page_and_its_photo_are_told_as_the_segments_they_came_in():
    trace = simulate()
    facts = page_load_facts(trace)
    page, photo = facts.timings[0], largest_file(trace)
    pieces = len(arrived_sizes(trace, page))
    english, spanish = story(trace), story(trace, "es")
    assert f"The page itself, / ({page.wire_size:,} bytes and its headers), came in {pieces} " \
        "TCP segments." in english  # fmt: skip
    assert f"La propia página, / ({page.wire_size} bytes más sus cabeceras), ha llegado en " \
        f"{pieces} segmentos TCP." in spanish  # fmt: skip
    assert f"/img/astronaut.jpg ({photo.wire_size:,} bytes and its headers), came in " \
        f"{len(arrived_sizes(trace, photo))} TCP segments" in english  # fmt: skip
    # A clean run: no loss, copy or reordering is claimed for the photo.
    for claim in ("lost on the way", "arrived twice", "arrived after"):
        assert claim not in english, claim


def test_on_loopback_the_photos_pieces_are_told_from_the_kernels_counters(demo):
    facts = page_load_facts(demo)
    photo = largest_file(demo)
    info = next(i for i in facts.tcp_infos if i.connection == photo.connection)
    assert info.data_segments_in > 1 and info.mss_in > 0
    english, spanish = story(demo), story(demo, "es")
    assert f"the kernel counted {info.data_segments_in} segments with data coming in on it, of " \
        f"about {info.mss_in:,} bytes each" in english  # fmt: skip
    assert f"el núcleo del sistema ha contado {info.data_segments_in} segmentos con datos" in (
        spanish
    )
    # No capture on loopback: nothing said of bursts, losses or the link's MTU.
    for claim in ("bursts", "lost", "the link's MTU", "round trips over"):
        assert claim not in english, claim


def test_a_segment_lost_mid_flight_is_a_fast_retransmit_and_the_last_one_a_timeout():
    """One of the photo's segments lost with others behind it: their duplicate ACKs make
    the server send it again within a round trip or so. The page's last segment lost:
    nothing comes behind it, so only the timer can."""
    middle = simulated.run(
        lab_spec.demo_lab(), 1, faults=[lab_spec.parse_fault("drop", "http-response#20")]
    ).world.trace
    (loss,) = page_load_facts(middle).segment_losses
    assert loss.fast and loss.duplicate_acks >= 3 and loss.cost < 0.2
    cost = milliseconds(loss.cost * 1000, "en")
    assert (
        "1 data segment from the server was lost; the browser's duplicate ACKs told the "
        f"server, which sent it again {cost} later (a fast retransmit)."
    ) in story(middle)
    assert "retransmission timeout" not in story(middle)
    assert "(una retransmisión rápida)" in story(middle, "es")

    last = simulated.run(
        lab_spec.demo_lab(), 1, faults=[lab_spec.parse_fault("drop", "http-response#2")]
    ).world.trace
    (loss,) = page_load_facts(last).segment_losses  # the page's second and last segment
    assert loss.timeout and loss.duplicate_acks < 3 and loss.cost >= 1
    assert (
        "1 data segment from the server was lost; too few duplicate ACKs came back to "
        "tell, so the server waited for its retransmission timeout"
    ) in story(last)


def test_when_the_pages_time_runs_out_the_browser_gave_up_not_the_server():
    """A file still arriving when the page's time runs out is told as the browser giving
    up on it — never as the server breaking HTTP when the browser closes the connection."""
    trace = simulated.run(
        lab_spec.demo_lab(), 1, simulated.LinkConditions(bandwidth=200_000), page_timeout=1.0
    ).world.trace
    failures = list(trace.of_type(HttpRequestFailed))
    finished = next(iter(trace.of_type(PageLoadFinished)))
    assert failures and all(f.kind == "timeout" and f.t <= finished.t for f in failures)
    assert finished.failed == "timeout"
    english = story(trace)
    assert "broke HTTP" not in english and "broke HTTP" not in trace.to_json()
    assert "1 file could not be loaded: /img/astronaut.jpg." in english
    assert "the browser gave up on it" in failures[0].message


def test_resends_of_segments_that_had_arrived_are_told_as_such():
    """After a gap, the browser's cumulative ACKs cannot say what came after it: when the
    server's timer fires it sends that again too. The narration counts those resends
    apart from the losses, and each of them really had reached the browser before."""
    trace = simulated.run(lab_spec.demo_lab(), 2, simulated.LinkConditions(loss=0.05)).world.trace
    sent: dict[tuple[int, int], list[float]] = {}
    arrived: dict[tuple[int, int], list[float]] = {}
    for event in trace.of_type(PacketCaptured):
        packet = dissect(event.data)
        if packet.tcp is None or not packet.tcp.payload_size or packet.tcp.source_port != 80:
            continue
        key = (packet.tcp.destination_port, packet.tcp.sequence)
        if event.actor == "web" and event.direction == "out":
            sent.setdefault(key, []).append(event.t)
        elif event.actor == "browser" and event.direction == "in":
            arrived.setdefault(key, []).append(event.t)
    had_arrived = sum(
        1
        for key, times in sent.items()
        for t in times[1:]
        if any(a < t for a in arrived.get(key, []))
    )
    assert had_arrived == 3
    assert (
        "3 of the server's resends were of segments that had not been lost: the browser's ACKs "
        "only say how far everything has arrived in order"
    ) in story(trace)
    assert "3 de los reenvíos del servidor han sido de segmentos que no se habían perdido" in (
        story(trace, "es")
    )
    clean = simulated.run(lab_spec.demo_lab(), 1, faults=[lab_spec.parse_fault("drop", "synack")])
    assert "resends were of segments that had not been lost" not in story(clean.world.trace)


def test_reordering_alone_is_told_as_resends_of_nothing_lost():
    """Reordering loses nothing, yet duplicate ACKs make the server send segments again:
    every resend is counted (at the server's own host) and told as not lost."""
    trace = simulated.run(lab_spec.demo_lab(), 3, simulated.LinkConditions(reorder=0.2)).world.trace
    resent = 0
    seen: set[tuple[int, int]] = set()
    for event in trace.of_type(PacketCaptured):
        packet = dissect(event.data)
        if event.actor != "web" or event.direction != "out" or packet.tcp is None:
            continue
        if packet.tcp.payload_size:
            key = (packet.tcp.destination_port, packet.tcp.sequence)
            resent += key in seen
            seen.add(key)
    assert resent > 2 and not [e for e in trace.of_type(PacketCaptured) if e.direction == DROP]
    english = story(trace)
    assert f"The server had to send {resent} segments again. None of them had been lost" in english
    assert "(spurious retransmissions)" in english
    assert "Ninguno se había perdido" in story(trace, "es")
