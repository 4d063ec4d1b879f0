"""The story of a what-if, for every change the command line accepts: every number it
tells is in (or follows from) the two traces, in English and in Spanish, and nothing is
claimed that the traces lack.

Each moment ("1.132 s") must be a moment of run A's or run B's trace (seconds from its
first page load) or the branch's own moment; each duration ("1,000 ms") the distance
between two such moments, or a value the change itself names (``slow web=200ms``);
each count of questions the resolver's own count in the trace. And the causes: a
retransmission timer only when nothing reached the browser at that instant, "no answer
had come" only when none did, a packet "lost" only when the trace has it dropped on
the browser's link, "from its cache" only when the resolver's answer says so.
"""

from __future__ import annotations

import re

import pytest

from webtrip import branching, lab
from webtrip.lab import sim
from webtrip.lab.faults import WHAT_IF_CHANGES
from webtrip.report.compare import _start
from webtrip.report.facts import LINK_DROPS
from webtrip.trace import PacketCaptured, ResolverAnswered, Trace
from webtrip.trace.events import DROP, IN

KINDS = {
    "drop": ("40", "drop synack", {}),
    "delay": ("40", "delay synack=300ms", {}),
    "silent": ("100", "silent web", {}),
    "slow": ("100", "slow web=200ms", {}),
    "latency": ("0.1s", "latency=60ms", {}),
    "bandwidth": ("0.1s", "bandwidth=1mbit", {}),
    "loss": ("0.1s", "loss=20%", {"seed": 2}),
    "flush-dns": ("0.3s", "flush-dns", {"loads": 2}),
}


def test_every_change_the_command_line_accepts_has_a_story_test():
    assert set(KINDS) == set(WHAT_IF_CHANGES)


@pytest.fixture(scope="module", params=sorted(KINDS))
def branch(request: pytest.FixtureRequest) -> branching.Branch:
    at, change, options = KINDS[request.param]
    seed = int(options.get("seed", 1))
    loads = int(options.get("loads", 1))
    return branching.branch(lab.demo_lab(), seed, at, change, loads=loads)


def moments(trace: Trace) -> list[float]:
    start = _start(trace)
    return [e.t - start for e in trace.events]


def read_number(text: str, language: str) -> float:
    if language == "en":
        return float(text.replace(",", ""))
    return float(text.replace(".", "").replace(",", "."))


NUMBER = r"\d[\d.,]*\d|\d"


def told_moments(sentence: str, language: str) -> list[tuple[float, int]]:
    """The moments a sentence tells, with their decimals (3, or 6 for close ones)."""
    found = []
    for match in re.finditer(rf"({NUMBER}) s\b", sentence):
        text = match.group(1)
        decimals = len(re.split(r"[.,]", text)[-1]) if re.search(r"[.,]\d{3,6}$", text) else 0
        found.append((read_number(text, language), decimals))
    return found


def told_durations(sentence: str, language: str) -> list[float]:
    return [read_number(m.group(1), language) for m in re.finditer(rf"({NUMBER}) ms\b", sentence)]


@pytest.mark.parametrize("language", ["en", "es"])
def test_every_number_of_the_story_comes_from_the_two_traces(branch, language):
    times = moments(branch.trace_a) + moments(branch.trace_b) + [branch.at_t]
    change = str(branch.comparison.branch["change"])  # type: ignore[index]
    named = [float(v) for v in re.findall(r"=(\d+)ms", change)]
    sentences = branch.comparison.to_json(language)["story"]
    assert len(sentences) >= 2
    for sentence in sentences:
        told = told_moments(sentence, language)
        for value, decimals in told:
            assert decimals in (3, 6), sentence
            tolerance = 0.5 * 10**-decimals + 1e-9
            assert any(abs(t - value) <= tolerance for t in times), (value, sentence)
        for duration in told_durations(sentence, language):
            if duration in named:
                continue
            # Two moments of the runs, that far apart (rounded as told: whole ms).
            pairs = [a for a, _d in told]
            near = any(abs(abs(x - y) * 1000 - duration) <= 1.0 for x in pairs for y in pairs)
            apart = near or any(
                abs(abs(x - y) * 1000 - duration) <= 0.5 for x in times for y in times if x < y
            )
            assert apart, (duration, sentence)


def test_the_story_claims_only_what_the_traces_show(branch):
    text = " ".join(branch.comparison.to_json("en")["story"])
    b = branch.trace_b
    start_b = _start(b)
    arrived = [e.t - start_b for e in b.of_type(PacketCaptured)
               if e.actor == "browser" and e.direction == IN]  # fmt: skip
    for match in re.finditer(r"at (\d+\.\d{3}) s (?:the browser's SYN|a segment|an ACK|a FIN)"
                             r"[^.]*? was sent again when its retransmission timer ran out",
                             text):  # fmt: skip
        when = float(match.group(1))
        assert not any(abs(t - when) < 0.0005 for t in arrived), match.group(0)
    if "was lost on the browser's link" in text:
        lost = [e for e in [*branch.trace_a.events, *b.events]
                if isinstance(e, PacketCaptured) and e.direction == DROP
                and e.reason.startswith(LINK_DROPS)]  # fmt: skip
        assert lost
    if "from its cache, asking no one" in text:
        answers = [
            e for e in [*branch.trace_a.events, *b.events] if isinstance(e, ResolverAnswered)
        ]
        assert [e for e in answers if e.from_cache and e.queries == 0]
    for match in re.finditer(r"\((\d+) questions\)", text):
        counts = {e.queries for e in [*branch.trace_a.events, *b.events]
                  if isinstance(e, ResolverAnswered)}  # fmt: skip
        assert int(match.group(1)) in counts
    for match in re.finditer(r"no answer had come, so at (\d+\.\d{3}) s", text):
        when = float(match.group(1))
        answers = [t for t in arrived if t < when - 0.0005]
        asked = [e.t - start_b for e in b.of_type(PacketCaptured)
                 if e.actor == "browser" and e.direction != IN]  # fmt: skip
        assert asked and (not answers or max(answers) < max(t for t in asked if t < when))
    spanish = " ".join(branch.comparison.to_json("es")["story"])
    assert "ms" not in text or "ms" in spanish
    assert ("vencer su temporizador" in spanish) == (
        "timer ran out" in text
    )  # the same claims in both


def test_emptying_the_resolvers_cache_before_a_reload_makes_it_ask_the_root_again():
    demo = lab.demo_lab()
    result = branching.branch(demo, 1, "0.3s", "flush-dns", loads=2)
    a, b = result.trace_a, result.trace_b
    shared = result.shared_events
    assert shared > 0 and [e.t for e in a.events[:shared]] == [e.t for e in b.events[:shared]]
    answers_a = [e for e in a.of_type(ResolverAnswered)]
    answers_b = [e for e in b.of_type(ResolverAnswered)]
    # The reload's questions: from the cache in run A, a walk from the root in run B.
    assert [e.from_cache for e in answers_a] == [False, False, True, True]
    assert [e.from_cache for e in answers_b] == [False, False, False, False]
    comparison = result.comparison
    walked = {(d.key[1], d.a, d.b) for d in comparison.differences
              if d.kind == "resolution" and d.field == "from_cache"}  # fmt: skip
    assert walked == {("www.webtrip.test. A", "yes", "no"), ("www.webtrip.test. AAAA", "yes", "no")}
    asked = {
        d.key[3]
        for d in comparison.differences
        if d.kind == "question" and d.change == "only_b" and d.key[0] == "resolver"
    }
    servers = {demo.address_of(name).split("/")[0] + ":53" for name in ("root", "tld", "dns")}
    assert asked == servers
    root = demo.address_of("root").split("/")[0]
    story = " ".join(comparison.to_json("en")["story"])
    assert "the resolver's cache and the browser's DNS cache were emptied (flush-dns)" in story
    assert (
        f"the resolver had to find www.webtrip.test. A itself: it asked the root server {root}:53"
        in story
    )
    assert "from its cache, asking no one" in story
    spanish = " ".join(comparison.to_json("es")["story"])
    assert "se han vaciado la caché del resolutor y la caché DNS del navegador" in spanish
    assert (
        "el resolutor ha tenido que buscar www.webtrip.test. A por sí mismo: "
        f"ha preguntado al servidor raíz {root}:53" in spanish
    )
    # Every node on the walk saw it: the root, the TLD's and the zone's servers answer twice.
    nodes = {row["node"]: row for row in comparison.per_node()}
    for name in ("root", "tld", "dns"):
        assert nodes[name]["b"]["received"] == 2 * nodes[name]["a"]["received"]
    summary = {(r.step, r.measure): (r.a, r.b) for r in comparison.summary}
    built_a, built_b = summary[("page", "built_t")]
    assert isinstance(built_a, float) and isinstance(built_b, float) and built_b > built_a


def test_emptying_the_browsers_dns_cache_in_a_load_makes_it_look_the_name_up_again():
    result = branching.branch(lab.demo_lab(), 1, "0.1s", "flush-dns")
    lookups = [d for d in result.comparison.differences if d.kind == "lookup"]
    assert [d.change for d in lookups if d.change in ("only_a", "only_b")] == ["only_b"]
    summary = {(r.step, r.measure): (r.a, r.b) for r in result.comparison.summary}
    assert summary[("dns", "lookups")] == (1, 2)


def test_a_flush_before_anything_is_cached_changes_nothing_and_says_so():
    result = branching.branch(lab.demo_lab(), 1, "3", "flush-dns")
    assert result.comparison.identical
    story = result.comparison.to_json("en")["story"]
    assert story[0].startswith("Run B is run A branched at ")
    assert story[1].startswith("The change made no difference")


def test_a_lab_without_a_resolver_cannot_empty_its_cache():
    with pytest.raises(lab.LabError, match="has no resolver"):
        sim.branch_runs(lab.demo_lab(), 1, lab.parse_what_if("at=3, flush-dns"), dns_silent=True)
