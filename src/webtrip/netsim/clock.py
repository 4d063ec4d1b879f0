"""Virtual time: an asyncio event loop whose clock only moves when nothing else can.

A simulation must not wait for real time to pass. An asyncio loop spends its
life in one place: asking its *selector* "wait until a socket is ready, or
until this many seconds have passed" — the seconds being the time left before
the earliest timer (``asyncio.sleep``, ``asyncio.timeout``, ``call_later``).
:class:`VirtualClockLoop` gives it a selector that never waits: asked to wait
``t`` seconds, it moves the virtual clock forward by ``t`` and returns at once.
So when every task is blocked, time *jumps* to the next timer, and an hour of
``asyncio.sleep`` takes no wall time at all.

Everything else is ordinary asyncio: tasks, futures, ``asyncio.timeout`` and
``asyncio.sleep`` work unchanged, and ``loop.time()`` is the virtual clock.
Nothing here reads the wall clock, and timers due at the same virtual instant
run in the order they were set, so a run is a pure function of its inputs.

If every task waits and no timer is left, nothing can ever happen again: the
loop raises :class:`SimulationStalled` instead of hanging. The simulated
network sits on top of this loop (links deliver packets with ``call_at``);
actors never know that the seconds they wait are virtual.
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import itertools
import weakref
from collections.abc import Callable, Coroutine
from concurrent.futures import Executor
from contextvars import Context
from typing import Any, TypeVar, TypeVarTuple

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

# asyncio's (base_events): when more than half of more than 100 timers are cancelled,
# the heap is rebuilt without them; a wait lasts a day at most.
_MIN_SCHEDULED = 100
_MAX_CANCELLED = 0.5
_MAXIMUM_WAIT = 24 * 3600


class SimulationStalled(RuntimeError):
    """Every task waits for something, and no timer or packet is on its way."""


class _SequencedTimer(asyncio.TimerHandle):
    """The timer :meth:`VirtualClockLoop.call_at` returns (asyncio's sleeps and timeouts).

    asyncio orders timers by time only, so two timers for the same instant may
    run in either order. A simulation wants first-set, first-run (FIFO), so
    each timer also carries the number of the ``call_at`` that made it; the
    loop's heap holds ``(when, number, ...)`` tuples, which sort that way.
    """

    __slots__ = ("_sequence",)

    def __init__(
        self,
        when: float,
        callback: Callable[..., object],
        args: tuple[Any, ...],
        loop: asyncio.AbstractEventLoop,
        context: Context | None,
        sequence: int,
    ) -> None:
        self._sequence = sequence
        if loop.get_debug():
            super().__init__(when, callback, args, loop, context)
            return
        # What TimerHandle.__init__ and Handle.__init__ do outside debug mode, in one call.
        self._context = contextvars.copy_context() if context is None else context
        self._loop = loop
        self._callback = callback
        self._args = args
        self._cancelled = False
        self._repr = None
        self._source_traceback = None
        self._when = when
        self._scheduled = False


class _Handle(asyncio.Handle):
    """The handle :meth:`VirtualClockLoop.call_soon` returns: asyncio's, made in one call.

    What ``Handle.__init__`` does outside debug mode (no source traceback): every
    task step and every future's callback is one of these.
    """

    __slots__ = ()

    def __init__(
        self,
        callback: Callable[..., object],
        args: tuple[Any, ...],
        loop: asyncio.AbstractEventLoop,
        context: Context | None = None,
    ) -> None:
        self._context = contextvars.copy_context() if context is None else context
        self._loop = loop
        self._callback = callback
        self._args = args
        self._cancelled = False
        self._repr = None
        self._source_traceback = None


class _Timer:
    """A cancellable timer of the simulation's own (:meth:`VirtualClockLoop.call_later_fast`).

    It goes through the loop as asyncio's timers do — a cancelled one is dropped
    from the heap's head before the clock moves, and skipped if already due — but is
    made without a context or a TimerHandle: TCP re-arms its retransmission timer at
    almost every acknowledgment.
    """

    __slots__ = ("_argument", "_callback", "_cancelled", "_loop", "_scheduled")

    def __init__(
        self, loop: VirtualClockLoop, callback: Callable[[Any], object], argument: Any
    ) -> None:
        self._loop = loop
        self._callback = callback
        self._argument = argument
        self._cancelled = False
        self._scheduled = True

    def cancel(self) -> None:
        if not self._cancelled:
            self._cancelled = True
            if self._scheduled:
                self._loop._timer_cancelled_count += 1

    def cancelled(self) -> bool:
        return self._cancelled

    def _run(self) -> None:
        try:
            self._callback(self._argument)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._loop.call_exception_handler(
                {"message": f"Exception in callback {self._callback!r}", "exception": exc}
            )


class _VirtualSelector:
    """The selector the loop "waits" on: it advances the clock instead of blocking."""

    def __init__(self, loop: VirtualClockLoop) -> None:
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[Any]:
        if timeout is None:
            raise self._loop._stalled()
        self._loop._advance(timeout)
        return []  # no real I/O ever happens in a simulation


# An entry of the loop's timer heap: (when, number, callback, argument). For a timer of
# asyncio's (call_at), callback is None and argument the _SequencedTimer; for one of the
# simulation's own (call_at_fast: a packet arriving, a TCP timer), callback(argument)
# is called as it is, without a handle or a context. Numbers are unique, so tuples
# compare on (when, number) alone: FIFO among equal times, as the timers were set.
_Entry = tuple[float, int, Any, Any]


class VirtualClockLoop(asyncio.BaseEventLoop):
    """An asyncio event loop on a virtual clock that starts at ``start`` seconds.

    It runs callbacks, tasks and timers like any asyncio loop, but has no
    sockets, threads or subprocesses: everything that happens is simulated.
    """

    def __init__(self, start: float = 0.0) -> None:
        super().__init__()
        self._now = float(start)
        self._selector = _VirtualSelector(self)
        self._timer_numbers = itertools.count()
        self._task_numbers = itertools.count()
        self._task_order: weakref.WeakKeyDictionary[asyncio.Task[Any], int] = (
            weakref.WeakKeyDictionary()
        )

    def create_task(self, coro: Any, *, name: object = None, context: Any = None) -> Any:
        """A task, numbered in the order of creation (see :meth:`unfinished_tasks`)."""
        task = super().create_task(coro, name=name, context=context)
        self._task_order[task] = next(self._task_numbers)
        return task

    def unfinished_tasks(self) -> list[asyncio.Task[Any]]:
        """The tasks not done yet, oldest first.

        ``asyncio.all_tasks`` gives a set, whose order changes from one run to
        the next; cancelling in that order would make runs differ.
        """
        tasks = asyncio.all_tasks(self)
        return sorted(tasks, key=lambda task: self._task_order.get(task, -1))

    def time(self) -> float:
        """The virtual clock, in seconds."""
        return self._now

    def _stalled(self) -> SimulationStalled:
        return SimulationStalled(
            f"the simulation stalled at t={self._now:.6f} s: every task is "
            "waiting and no timer is scheduled, so nothing can ever happen again "
            "(a wait without a timeout for a packet that never comes?)"
        )

    def _advance(self, timeout: float) -> None:
        """Move the clock forward by ``timeout``, landing exactly on the next timer.

        asyncio asks to wait ``when - now`` for the earliest timer; adding that
        back could miss ``when`` by a rounding error, so the clock is set to
        the timer's own time whenever it is within reach.
        """
        if timeout <= 0:
            return
        target = self._now + timeout
        scheduled: list[_Entry] = self._scheduled
        if scheduled:
            when = scheduled[0][0]
            if when - self._now <= timeout:
                target = when
        self._now = max(self._now, target)

    def call_at(
        self,
        when: float,
        callback: Callable[[*Ts], object],
        *args: *Ts,
        context: Context | None = None,
    ) -> asyncio.TimerHandle:
        """Schedule ``callback(*args)`` at virtual time ``when`` (FIFO among equal times)."""
        if when is None:
            raise TypeError("when cannot be None")
        self._check_closed()  # type: ignore[attr-defined]
        number = next(self._timer_numbers)
        timer = _SequencedTimer(when, callback, args, self, context, number)
        heapq.heappush(self._scheduled, (when, number, None, timer))
        timer._scheduled = True
        return timer

    def call_soon(
        self, callback: Callable[[*Ts], object], *args: *Ts, context: Context | None = None
    ) -> asyncio.Handle:
        """Schedule ``callback(*args)`` next: asyncio's ``call_soon``, outside debug mode in
        fewer calls (the same handle, at the end of the same ready queue)."""
        if self._debug:  # type: ignore[attr-defined]
            return super().call_soon(callback, *args, context=context)
        if self._closed:  # type: ignore[attr-defined]
            raise RuntimeError("Event loop is closed")
        handle = _Handle(callback, args, self, context)
        self._ready.append(handle)  # type: ignore[attr-defined]
        return handle

    def call_at_fast(self, when: float, callback: Callable[[Any], object], argument: Any) -> int:
        """Schedule ``callback(argument)`` at ``when``, in the same order as :meth:`call_at`.

        The simulation's own timers (a packet reaching the end of a link, a TCP
        timer): no handle, no copy of the context, and it cannot be cancelled —
        the callback decides whether it still has work to do. Returns the
        timer's number (its place among timers set for the same instant).
        """
        if self._closed:  # type: ignore[attr-defined]
            raise RuntimeError("Event loop is closed")  # as call_at says
        number = next(self._timer_numbers)
        heapq.heappush(self._scheduled, (when, number, callback, argument))
        return number

    def call_later_fast(
        self, delay: float, callback: Callable[[Any], object], argument: Any
    ) -> _Timer:
        """``call_later(delay, callback, argument)``, cheaper, for the simulation's own
        timers: the same time and place among timers, a handle with ``cancel()``."""
        if self._closed:  # type: ignore[attr-defined]
            raise RuntimeError("Event loop is closed")  # as call_later says
        number = next(self._timer_numbers)
        timer = _Timer(self, callback, argument)
        heapq.heappush(self._scheduled, (self._now + delay, number, None, timer))
        return timer

    def _timer_handle_cancelled(self, handle: asyncio.TimerHandle) -> None:
        if handle._scheduled:  # type: ignore[attr-defined]
            self._timer_cancelled_count += 1

    def _run_once(self) -> None:
        """Iterations of the loop, until it is asked to stop: asyncio's
        ``BaseEventLoop._run_once`` on timer entries, in a loop of its own.

        Each iteration takes the same steps in the same order as asyncio's — drop
        cancelled timers, "wait" (move the clock) if nothing is ready, move the
        timers that are due to the ready queue in (time, number) order, then run
        what was ready — so callbacks run exactly as they would with asyncio's own
        loop. ``run_forever`` calls this once per iteration and stops when
        ``_stopping`` is set after one; here the iterations go on in one call (one
        Python call less for each timer), and return at that same point.
        """
        ready = self._ready  # type: ignore[attr-defined]
        heappop = heapq.heappop
        append = ready.append
        popleft = ready.popleft
        resolution = self._clock_resolution  # type: ignore[attr-defined]
        while True:
            scheduled: list[_Entry] = self._scheduled  # type: ignore[has-type]
            count = len(scheduled)
            if count > _MIN_SCHEDULED and self._timer_cancelled_count / count > _MAX_CANCELLED:  # type: ignore[has-type]
                kept = []
                for entry in scheduled:
                    timer = entry[3]
                    if entry[2] is None and timer._cancelled:
                        timer._scheduled = False
                    else:
                        kept.append(entry)
                heapq.heapify(kept)
                self._scheduled = scheduled = kept
                self._timer_cancelled_count = 0
            else:
                while scheduled and scheduled[0][2] is None and scheduled[0][3]._cancelled:
                    self._timer_cancelled_count -= 1
                    heappop(scheduled)[3]._scheduled = False

            if not (ready or self._stopping):  # type: ignore[attr-defined]
                if not scheduled:
                    raise self._stalled()
                # The clock jumps to the earliest timer (by a day at most, as asyncio waits).
                when = scheduled[0][0]
                if when - self._now > _MAXIMUM_WAIT:
                    self._now += _MAXIMUM_WAIT
                elif when > self._now:
                    self._now = when

            end_time = self._now + resolution
            if not ready and scheduled and scheduled[0][0] < end_time:
                entry = heappop(scheduled)
                if entry[2] is not None and not (scheduled and scheduled[0][0] < end_time):
                    # The one thing to run in this iteration (a packet arriving, most
                    # often): run it now instead of through the ready queue.
                    try:
                        entry[2](entry[3])
                    except (SystemExit, KeyboardInterrupt):
                        raise
                    except BaseException as exc:
                        self.call_exception_handler(
                            {"message": f"Exception in callback {entry[2]!r}", "exception": exc}
                        )
                    if self._stopping:  # type: ignore[attr-defined]
                        return
                    continue
                if entry[2] is None:
                    entry[3]._scheduled = False
                    append(entry[3])
                else:
                    append(entry)
            while scheduled and scheduled[0][0] < end_time:
                entry = heappop(scheduled)
                if entry[2] is None:
                    timer = entry[3]
                    timer._scheduled = False
                    append(timer)
                else:
                    append(entry)

            debug = self._debug  # type: ignore[attr-defined]
            for _ in range(len(ready)):
                handle = popleft()
                if type(handle) is tuple:
                    try:
                        handle[2](handle[3])
                    except (SystemExit, KeyboardInterrupt):
                        raise
                    except BaseException as exc:
                        self.call_exception_handler(
                            {
                                "message": f"Exception in callback {handle[2]!r}",
                                "exception": exc,
                            }
                        )
                    continue
                if handle._cancelled:
                    continue
                if debug:
                    self._current_handle = handle
                    try:
                        handle._run()
                    finally:
                        self._current_handle = None
                else:
                    handle._run()
            handle = None  # break cycles when an exception occurs
            if self._stopping:  # type: ignore[attr-defined]
                return

    def run_in_executor(
        self, executor: Executor | None, func: Callable[[*Ts], T], *args: *Ts
    ) -> asyncio.Future[T]:
        """Refused: a thread's work takes real time, which a simulation cannot account for."""
        raise RuntimeError(
            "the virtual-time loop runs no threads: blocking work (files, DNS lookups "
            "through the OS) has no place in a simulation"
        )

    def _process_events(self, event_list: list[Any]) -> None:
        """No I/O events: packets are delivered by timers, not by sockets."""

    def _write_to_self(self) -> None:
        """Nothing to wake: the loop never sleeps in real time."""


def run(coro: Coroutine[Any, Any, T], *, start: float = 0.0) -> T:
    """Run ``coro`` on a new virtual-time loop and return its result, like ``asyncio.run``.

    Raises whatever ``coro`` raises, or :class:`SimulationStalled` if it waits
    for something that can never happen.
    """
    with asyncio.Runner(loop_factory=lambda: VirtualClockLoop(start)) as runner:
        return runner.run(coro)
