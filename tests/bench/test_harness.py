"""The harness's policy and figures: what every benchmark relies on to be read alike."""

from __future__ import annotations

import argparse
import resource

import pytest

import harness

ARGS = argparse.Namespace(retries=2, quiet_wait=0, max_other_load=10.0)


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch):
    """quiet_run() waits for a quiet machine before each attempt: not in these tests."""
    monkeypatch.setattr(harness, "wait_for_quiet", lambda *_: {"quiet": True, "waited_s": 0})


def attempts(*runs):
    """A measure() that returns ``runs`` one after the other."""
    queue = list(runs)
    return lambda: dict(queue.pop(0))


def test_a_quiet_run_is_kept_at_once():
    kept, discarded = harness.quiet_run(attempts({"other_load_pct": 3.0}), ARGS, "", str)
    assert kept["attempt"] == 1 and discarded == []


def test_a_noisy_run_is_redone_and_the_quietest_attempt_kept_whatever_its_result():
    runs = attempts(
        {"other_load_pct": 40.0, "qps": 900},
        {"other_load_pct": 15.0, "qps": 100},
        {"other_load_pct": 25.0, "qps": 1000},
    )
    kept, discarded = harness.quiet_run(runs, ARGS, "", str)
    assert (kept["other_load_pct"], kept["qps"], kept["attempt"]) == (15.0, 100, 2)
    assert [run["attempt"] for run in discarded] == [1, 3]


def test_a_failed_run_is_never_retried_away():
    runs = attempts({"other_load_pct": 40.0}, {"error": "server died"})
    kept, discarded = harness.quiet_run(runs, ARGS, "", str)
    assert kept["error"] == "server died" and len(discarded) == 1


def test_rounds_rotate_each_order_so_no_item_always_comes_first():
    assert list(harness.rounds(2, "ab", "xy")) == [
        (1, "a", "x"), (1, "a", "y"), (1, "b", "x"), (1, "b", "y"),
        (2, "b", "y"), (2, "b", "x"), (2, "a", "y"), (2, "a", "x"),
    ]  # fmt: skip


def test_paired_ratio_gives_the_ratio_of_medians_and_the_median_of_round_ratios():
    ratio = harness.paired_ratio({1: 10.0, 2: 30.0, 3: 20.0}, {1: 5.0, 2: 10.0, 3: 20.0})
    assert ratio == {"ratio_of_medians": 2.0, "median_of_paired_round_ratios": 2.0}
    assert harness.paired_ratio({1: 10.0}, {}) is None


def test_a_figure_no_run_had_reads_n_a_in_a_table():
    row = "| {name} | {qps[median]:,.0f} | {capacity:,.0f} |"
    assert (
        harness.fill(row, {"name": "nsd", "qps": {"median": 146853.2}}) == "| nsd | 146,853 | n/a |"
    )


def usage(user: float, system: float) -> resource.struct_rusage:
    return resource.struct_rusage((user, system, *[0] * 14))


def snapshots(steal: int = 0) -> tuple[harness.Snapshot, harness.Snapshot]:
    """Two CPUs over 2 s (CLK_TCK ticks a second): 3 s of user time in all, ``steal`` ticks
    stolen on CPU 1; the server (process group 40) used 1 s of user time and 0.5 s of
    system time, the load generator 0.5 + 0.1 s, the bench 0.2 s of user time."""
    tick = harness.CLK_TCK
    before = harness.Snapshot(
        0.0,
        {"cpu0": [0] * 8, "cpu1": [0] * 8},
        {40: harness.ProcStat("server", 40, 0, 0)},
        usage(1.0, 0.0),
        usage(0.0, 0.0),
    )
    after = harness.Snapshot(
        2.0,
        {
            "cpu0": [2 * tick, 0, 0, 0, 0, 0, 0, 0],
            "cpu1": [tick, 0, 0, tick - steal, 0, 0, 0, steal],
        },
        {40: harness.ProcStat("server", 40, tick, tick // 2)},
        usage(1.2, 0.0),
        usage(0.5, 0.1),
    )
    return before, after


def test_other_load_is_all_user_time_but_the_servers_the_generators_and_the_benchs():
    use = harness.cpu_use(*snapshots(), [40])
    assert use["server"]["cpu_s"] == pytest.approx(1.5)
    assert use["children"]["cpu_s"] == pytest.approx(0.6)
    assert use["busy_pct"] == {"cpu0": 100.0, "cpu1": 50.0}
    # 3 s of user time, less 1 + 0.5 + 0.2 s known, over 2 s: 65 % of one CPU.
    assert use["other_load_pct"] == pytest.approx(65.0)


def test_time_the_hypervisor_gave_to_other_machines_counts_as_other_load():
    use = harness.cpu_use(*snapshots(steal=harness.CLK_TCK // 2), [40])
    assert use["other_load_pct"] == pytest.approx(65.0 + 25.0)
