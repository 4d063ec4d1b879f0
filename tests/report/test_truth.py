"""The learner-facing truth suite: the narration says what each fault or condition did,
with the run's own values, in English and Spanish, and claims nothing the trace lacks."""

from __future__ import annotations

import asyncio

import pytest

from webtrip import lab as lab_spec
from webtrip.cli.demo import run_demo
from webtrip.lab import sim as simulated
from webtrip.report.facts import packet_kind, page_load_facts
from webtrip.report.narration import narrate
from webtrip.trace import FaultOutcome, PacketCaptured, TcpConnectionClosed, Trace
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
    assert (outcome.matched, outcome.fired) == (4, False)
    assert "--drop synack#9 matched no packet: the run had 4 SYN-ACKs, so nothing was " \
        "dropped." in story(trace)  # fmt: skip
    assert "no se ha descartado nada" in story(trace, "es")
    assert not [e for e in trace.of_type(PacketCaptured) if e.direction == DROP]


def test_a_lost_syn_ack_is_told_with_the_timeout_it_cost():
    trace = simulate("synack")
    english, spanish = story(trace), story(trace, "es")
    assert "The server's SYN-ACK was lost on the browser's link" in english
    assert "waited its retransmission timeout (1 s) and sent its SYN again; so the handshake " \
        "took 1,042 ms instead of 42 ms." in english  # fmt: skip
    assert "ha tardado 1042 ms en lugar de 42 ms" in spanish


def test_the_link_conditions_are_told_with_the_round_trip_they_make():
    english = story(simulate(latency=0.05, loss=0.02))
    assert "delays every packet by 50 ms each way" in english
    assert "(a round trip) take at least 100 ms" in english
    assert "It loses 2 % of the packets at random." in english


def test_a_small_mtu_cuts_the_answer_into_segments_of_the_mss_it_allows():
    trace = simulate(mtu=576)
    english = story(trace)
    assert "TCP segments, of at most 536 bytes each" in english
    assert "at most 576 bytes (its MTU)" in english and "536 bytes of data" in english
    assert "536 bytes" in story(trace, "es")


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
    assert kinds.count("syn") == 1
    english = story(trace)
    assert "1 of its questions was lost on the browser's link." in english
    assert "1 answer was lost on the browser's link on its way back." in english
    assert "On 1 other connection a SYN or its SYN-ACK was lost: the browser waited 1 s" in (
        english
    )
    assert "1 de sus preguntas se ha perdido en el enlace del navegador." in story(trace, "es")
