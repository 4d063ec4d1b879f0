"""The virtual-time loop: asyncio code runs unchanged, and time jumps instead of passing."""

from __future__ import annotations

import asyncio
import time

import pytest

from webtrip.netsim.clock import SimulationStalled, VirtualClockLoop, run


def test_an_hour_of_sleep_takes_no_wall_time():
    async def sleep_an_hour() -> float:
        await asyncio.sleep(3600)
        return asyncio.get_running_loop().time()

    started = time.monotonic()
    assert run(sleep_an_hour()) == 3600.0
    assert time.monotonic() - started < 1.0


def test_the_clock_starts_where_asked():
    async def now() -> float:
        return asyncio.get_running_loop().time()

    assert run(now(), start=100.0) == 100.0


def test_timers_for_the_same_instant_run_in_the_order_they_were_set():
    async def schedule() -> list[int]:
        loop = asyncio.get_running_loop()
        order: list[int] = []
        for n in range(50):
            loop.call_later(1.0, order.append, n)
        await asyncio.sleep(2)
        return order

    assert run(schedule()) == list(range(50))


def test_timers_run_in_time_order_at_their_exact_times():
    async def schedule() -> list[tuple[str, float]]:
        loop = asyncio.get_running_loop()
        fired: list[tuple[str, float]] = []
        for name, delay in (("c", 0.3), ("a", 0.1), ("b", 0.2)):
            loop.call_later(delay, lambda n=name: fired.append((n, loop.time())))
        await asyncio.sleep(1)
        return fired

    assert run(schedule()) == [("a", 0.1), ("b", 0.2), ("c", 0.3)]


def test_tasks_interleave_deterministically():
    async def worker(name: str, period: float, log: list[str]) -> None:
        for _ in range(3):
            await asyncio.sleep(period)
            log.append(name)

    async def both() -> list[str]:
        log: list[str] = []
        await asyncio.gather(worker("fast", 0.1, log), worker("slow", 0.25, log))
        return log

    assert run(both()) == ["fast", "fast", "slow", "fast", "slow", "slow"]


def test_asyncio_timeout_expires_in_virtual_time():
    async def wait_forever_with_a_timeout() -> float:
        loop = asyncio.get_running_loop()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(5):
                await loop.create_future()
        return loop.time()

    assert run(wait_forever_with_a_timeout()) == 5.0


def test_a_wait_that_nothing_can_end_raises_simulation_stalled():
    async def wait_for_nothing() -> None:
        await asyncio.get_running_loop().create_future()

    with pytest.raises(SimulationStalled, match=r"stalled at t=2\.000000"):
        run(_after(2.0, wait_for_nothing()))


async def _after(delay: float, coro) -> None:
    await asyncio.sleep(delay)
    await coro


def test_threads_are_refused():
    async def use_a_thread() -> None:
        await asyncio.get_running_loop().run_in_executor(None, time.sleep, 1)

    with pytest.raises(RuntimeError, match="runs no threads"):
        run(use_a_thread())


def test_the_loop_is_an_ordinary_asyncio_loop():
    loop = VirtualClockLoop()
    try:
        future = loop.create_future()
        loop.call_later(10, future.set_result, "done")
        assert loop.run_until_complete(future) == "done"
        assert loop.time() == 10.0
    finally:
        loop.close()
