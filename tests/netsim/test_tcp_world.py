"""The TCP tests' own world (:mod:`support.tcp_world`): its clock, its pipes, its seed."""

from __future__ import annotations

from support.tcp_world import Conditions, Scheduler, Sender, World, flag_names


def test_scheduler_runs_events_in_time_order_and_skips_cancelled_ones():
    scheduler = Scheduler()
    ran: list[str] = []
    scheduler.call_later(2.0, lambda: ran.append("late"))
    scheduler.call_later(1.0, lambda: ran.append("early"))
    scheduler.call_later(1.0, lambda: ran.append("early, set second"))
    scheduler.call_later(1.5, lambda: ran.append("cancelled")).cancel()
    scheduler.run()
    assert ran == ["early", "early, set second", "late"]
    assert scheduler.now == 2.0


def test_pipe_loses_the_segments_named_by_index():
    world = World(a_to_b=Conditions(drop=[0]))
    world.connect()
    world.run(until=0.5)
    assert world.a.pipe_out is not None
    assert [flag_names(s) for s in world.a.pipe_out.lost] == ["SYN"]
    assert not [r for r in world.b.log if r.direction == "in"]


def test_same_seed_same_run():
    def run(seed: int) -> list[tuple[float, str]]:
        conditions = Conditions(loss=0.2, duplicate=0.1, reorder=0.3)
        world = World(a_to_b=conditions, b_to_a=conditions, seed=seed)
        world.connect(client=Sender(bytes(20_000)))
        world.run()
        return [(r.time, r.segment.summary()) for r in world.a.log]

    assert run(7) == run(7)
    assert run(7) != run(8)
