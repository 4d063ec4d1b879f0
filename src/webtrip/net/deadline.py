"""A deadline that is cheap to move later: one timer per connection.

Servers re-arm a timeout for every request (idle time between requests, time
to send a response). ``asyncio.timeout`` creates and cancels a timer each time;
:class:`Deadline` instead keeps one timer and, when it fires early because the
deadline has moved later since, simply sets it again. Moving a deadline later
is then an assignment; only moving it earlier touches the timer.

It works on any asyncio event loop — the real one or the simulated world's
virtual-time loop — because it only uses ``loop.time()`` and ``loop.call_at``.
"""

from __future__ import annotations

import asyncio


class Deadline:
    """Cancel ``task`` when the loop's clock reaches the deadline.

    Use it around awaits::

        deadline = Deadline(seconds=10)
        try:
            data = await stream.receive_some()
        except asyncio.CancelledError:
            if deadline.expired():
                ...  # the deadline passed: handle the timeout
            raise
        deadline.cancel()
    """

    def __init__(self, seconds: float) -> None:
        self._loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("Deadline must be created inside a task")
        self._task = task
        self._when = self._loop.time() + seconds
        self._handle: asyncio.TimerHandle | None = self._loop.call_at(self._when, self._fire)
        self._fired = False

    def extend(self, seconds: float) -> None:
        """Set the deadline to ``seconds`` from now (later or earlier)."""
        self._when = self._loop.time() + seconds
        if self._handle is None or self._when < self._handle.when():
            if self._handle is not None:
                self._handle.cancel()
            self._handle = self._loop.call_at(self._when, self._fire)

    def expired(self) -> bool:
        """True if the deadline cancelled the task; the cancellation is then taken back."""
        if self._fired:
            self._fired = False
            self._task.uncancel()
            return True
        return False

    def cancel(self) -> None:
        """Stop watching (the connection is done)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        self._handle = None
        if self._loop.time() < self._when:
            self._handle = self._loop.call_at(self._when, self._fire)  # moved later meanwhile
            return
        self._fired = True
        self._task.cancel()
