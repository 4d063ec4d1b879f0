"""The connection pool: at most six persistent connections per origin, idle ones reused first.

Opening a TCP connection costs a round trip (and TLS more), so a browser keeps
connections open after an answer (HTTP/1.1's persistent connections, RFC 9112
§9.3) and sends the next request to the same origin over one that is idle.
Over HTTP/1.1 a connection carries one request at a time, so to fetch several
files at once a browser opens several connections — but at most six per
origin (Chromium's and Firefox's limit), and a request that finds all six
busy waits for one to come back. That wait is the *blocked* phase of HAR.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable

from webtrip.browser.http1 import HttpConnection
from webtrip.browser.urls import Origin

__all__ = ["ConnectionPool"]


class ConnectionPool:
    """Connections by origin: ``acquire`` one, use it for one request, ``release`` it.

    ``connect(origin, request)`` opens a new connection when one is needed (and
    should :meth:`track` it at once, so that :meth:`close` closes it even if
    the rest of its setup fails).
    """

    def __init__(
        self,
        per_origin: int,
        connect: Callable[[Origin, int], Awaitable[HttpConnection]],
    ) -> None:
        self.per_origin = per_origin
        self._connect = connect
        self._idle: dict[Origin, list[HttpConnection]] = defaultdict(list)
        self._open: dict[Origin, int] = defaultdict(int)
        self._slots: dict[Origin, asyncio.Condition] = {}
        self._all: list[HttpConnection] = []

    def track(self, connection: HttpConnection) -> None:
        """Remember ``connection`` so that :meth:`close` closes it."""
        self._all.append(connection)

    async def acquire(self, origin: Origin, request: int, *, fresh: bool = False) -> HttpConnection:
        """An idle connection to ``origin``, a new one, or wait: at most N per origin.

        With ``fresh``, never an idle one: a new connection (closing an idle one
        if that is what it takes to stay within N).
        """
        slots = self._slots.setdefault(origin, asyncio.Condition())
        async with slots:
            while True:
                idle = self._idle[origin]
                if idle and not fresh:
                    return idle.pop()
                if self._open[origin] < self.per_origin:
                    self._open[origin] += 1
                    break
                if idle:  # fresh, and every slot is taken: an idle connection makes room
                    stale = idle.pop(0)
                    self._open[origin] -= 1
                    if stale in self._all:
                        self._all.remove(stale)
                    await stale.close()
                    continue
                await slots.wait()
        try:
            return await self._connect(origin, request)
        except BaseException:
            async with slots:
                self._open[origin] -= 1
                slots.notify()
            raise

    async def release(self, origin: Origin, connection: HttpConnection, *, reusable: bool) -> None:
        """Give ``connection`` back: kept idle for the next request, or closed."""
        slots = self._slots[origin]
        async with slots:
            if reusable:
                self._idle[origin].append(connection)
            else:
                self._open[origin] -= 1
                if connection in self._all:
                    self._all.remove(connection)
                await connection.close()
            slots.notify()

    async def close(self) -> None:
        """Close every connection still open (each records its kernel counters)."""
        connections, self._all = self._all, []
        self._idle.clear()
        self._open.clear()
        for connection in connections:
            await connection.close()
