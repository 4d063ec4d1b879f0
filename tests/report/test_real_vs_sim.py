"""The real-against-simulated explanations, on constructed figures: a cause only where shown."""

from __future__ import annotations

from webtrip.report.real_vs_sim import Figures, RunMade, causes, closeness


def figures(**values):
    base = dict(dns=0.09, handshakes=[0.043], page=0.357, segments={"/": 2}, packets=137,
                acks=53, largest=1460)  # fmt: skip
    return Figures(**{**base, **values})


def test_equal_figures_have_no_cause_and_are_within_tolerance():
    same = figures()
    assert causes(same, figures(), RunMade("bridge")) == []
    assert all(row.within in (True, None) for row in closeness(same, figures()))


def test_a_delayed_ack_sentence_only_when_linux_sent_fewer_pure_acks():
    found = causes(figures(acks=44), figures(), RunMade("bridge"))
    assert [c.kind for c in found] == ["delayed_acks"]
    assert "sent 44 pure ACKs where webtrip's sent 53" in found[0].sentence("en")
    assert "ha enviado 44 ACK puros" in found[0].sentence("es")
    assert causes(figures(acks=60), figures(), RunMade("bridge")) == []  # no known cause


def test_the_spread_between_real_runs_is_named_and_a_page_out_of_tolerance_is_said():
    found = causes(figures(page=0.45), figures(), RunMade("bridge", (), (0.33, 0.45, 0.36)))
    assert [c.kind for c in found] == ["jitter"]
    assert "from 330 ms to 450 ms, a spread of 120 ms" in found[0].sentence("en")
    page = next(r for r in closeness(figures(page=0.45), figures()) if r.measure == "page_load")
    assert page.within is False


def test_unshaped_dns_links_are_told_only_when_the_real_lookup_was_quicker():
    made = RunMade("bridge", (("resolver", "router", 0.001), ("root", "router", 0.001)))
    found = causes(figures(dns=0.06), figures(), made)
    assert [c.kind for c in found] == ["dns_unshaped"]
    assert "other 2 links (up to 1.00 ms each way" in found[0].sentence("en")
    assert causes(figures(dns=0.09), figures(), made) == []
