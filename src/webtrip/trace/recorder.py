"""The :class:`Trace` recorder: an append-only, timestamped list of events.

The clock is given by the world the run happens in — the event loop's clock
for real sockets, virtual time for the simulated network — so the same actor
code produces comparable traces in both. A trace can be saved as JSON and
loaded back; listeners see each event as it is recorded (that is how a live
log is printed without the actor formatting anything).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from webtrip.trace.events import Event
from webtrip.trace.schema import FORMAT_VERSION, check_document, parse

E = TypeVar("E", bound=Event)
Listener = Callable[[Event], None]


class Trace:
    """One run's timeline of events.

    ``clock`` returns seconds (any origin); ``now()`` is relative to the
    moment the trace was created. ``wall_start`` is the wall-clock time (Unix
    seconds) of that moment, used only to print absolute times. With
    ``keep=False`` events are passed to listeners but not stored, so a
    long-running server's memory stays flat.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        *,
        wall_start: float | None = None,
        keep: bool = True,
        enabled: bool = True,
    ) -> None:
        self.enabled = enabled
        self.keep = keep
        self.events: list[Event] = []
        self.wall_start = time.time() if wall_start is None else wall_start
        self._clock = clock
        self._origin = clock()
        self._listeners: list[Listener] = []

    def now(self) -> float:
        """Seconds since the start of the run, on the run's clock."""
        return self._clock() - self._origin

    def record(self, event: Event) -> None:
        """Append ``event`` and show it to every listener."""
        if not self.enabled:
            return
        if self.keep:
            self.events.append(event)
        for listener in self._listeners:
            listener(event)

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener(event)`` for every event recorded from now on."""
        self._listeners.append(listener)

    def of_type(self, kind: type[E]) -> list[E]:
        """The recorded events that are instances of ``kind``, in order."""
        return [e for e in self.events if isinstance(e, kind)]

    def part(self, start: int, stop: int | None = None) -> Trace:
        """A trace of ``events[start:stop]`` with the same clock origin (one load of several)."""
        part = Trace(lambda: 0.0, wall_start=self.wall_start)
        part.events = self.events[start:stop]
        return part

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)

    # --- saving and loading -------------------------------------------------

    def to_json(self) -> str:
        """The whole trace as a JSON document that :meth:`from_json` reads back."""
        doc = {
            "webtrip_trace": FORMAT_VERSION,
            "wall_start": self.wall_start,
            "events": [_event_to_dict(e) for e in self.events],
        }
        return json.dumps(doc, indent=1)

    @classmethod
    def from_json(cls, text: str) -> Trace:
        """Load a trace saved by :meth:`to_json`.

        The whole document is checked against the events' own types first
        (:mod:`webtrip.trace.schema`): anything else raises
        :class:`~webtrip.trace.schema.TraceProblem` (a ValueError) naming the
        first problem's JSON path, so no view ever reads a wrong value.
        """
        wall_start, events = check_document(parse(text))
        trace = cls(clock=lambda: 0.0, wall_start=wall_start)
        trace.events = events
        return trace


NULL_TRACE = Trace(clock=lambda: 0.0, wall_start=0.0, keep=False, enabled=False)
"""A trace that records nothing: for actors run with tracing off."""


def _event_to_dict(event: Event) -> dict[str, Any]:
    out: dict[str, Any] = {"type": type(event).__name__}
    for field in dataclasses.fields(event):
        value = getattr(event, field.name)
        if isinstance(value, bytes):
            value = value.hex()
        elif isinstance(value, tuple):
            value = list(value)
        out[field.name] = value
    return out
