"""What if…? A run and its branch: the same world twice, the second changed from a moment.

The simulated world is deterministic: the same lab and seed give the same events,
byte for byte. So a branch is exact: :func:`branch` runs the lab (run A), runs it
again with the same seed and one change made at a moment (run B: the next SYN-ACK
lost, the link slower, a server silent, the resolver's cache emptied —
:class:`~webtrip.lab.faults.WhatIf`), and
compares the two traces by meaning (:mod:`webtrip.report.compare`). Up to the
moment the traces are equal; what differs after it follows from the change.

This is the function ``webtrip sim --what-if`` calls, and the one the app's
"what if" will call::

    from webtrip import branching, lab
    result = branching.branch(lab.demo_lab(), seed=1, at="40", change="drop synack")
    result.trace_a, result.trace_b, result.comparison.to_json("es")

It sits above both the lab (which runs worlds) and the views (which compare
traces), as the command line does.
"""

from __future__ import annotations

from dataclasses import dataclass

from webtrip.lab.faults import FaultSpec, WhatIf, parse_what_if
from webtrip.lab.sim import Branched, LinkConditions, branch_runs
from webtrip.lab.spec import Lab
from webtrip.report.compare import Comparison, compare
from webtrip.trace import Trace

__all__ = ["Branch", "branch", "branch_what_if"]


@dataclass
class Branch:
    """Run A, run B (A changed from a moment on) and their comparison.

    ``shared_events``: how many events both traces hold, equal, before the change;
    ``at_t``: when it was made (virtual seconds); ``runs``: the lab runs themselves.
    """

    trace_a: Trace
    trace_b: Trace
    comparison: Comparison
    what_if: WhatIf
    shared_events: int
    at_t: float
    runs: Branched


def branch(
    lab: Lab,
    seed: int,
    at: str,
    change: str,
    conditions: LinkConditions | None = None,
    *,
    url: str | None = None,
    language: str = "en",
    faults: tuple[FaultSpec, ...] = (),
    loads: int = 1,
) -> Branch:
    """Run ``lab`` with ``seed`` (and ``conditions``, ``faults``...) as run A; run it again
    with ``change`` made ``at`` a moment (an event's index, ``"40"``, or a time,
    ``"1.2s"``) as run B; compare them.

    ``change`` is ``--what-if``'s: ``drop FILTER``, ``delay FILTER=TIME``, ``silent
    HOST``, ``slow HOST=TIME``, ``latency=TIME``, ``bandwidth=RATE``, ``loss=SHARE``,
    ``flush-dns`` (with ``loads=2``: the reload's names walked from the root again).
    Raises ValueError for a change or moment that cannot be read, LabError for one the
    lab cannot make (a host it does not have, a moment after the run's end).
    """
    what_if = parse_what_if(f"at={at}, {change}")
    return branch_what_if(
        lab, seed, what_if, conditions, url=url, language=language, faults=faults, loads=loads
    )


def branch_what_if(
    lab: Lab,
    seed: int,
    what_if: WhatIf,
    conditions: LinkConditions | None = None,
    *,
    url: str | None = None,
    language: str = "en",
    faults: tuple[FaultSpec, ...] = (),
    loads: int = 1,
) -> Branch:
    """:func:`branch` with the what-if already read (``lab.parse_what_if``)."""
    runs = branch_runs(
        lab,
        seed,
        what_if,
        conditions or LinkConditions(),
        url=url,
        language=language,
        faults=faults,
        loads=loads,
    )
    trace_a, trace_b = runs.a.world.trace, runs.b.world.trace
    where: dict[str, str | int | float | None] = {
        "at_t": round(runs.at_t, 6),
        "at_event": runs.shared_events,
        "change": what_if.text.partition(",")[2].strip(),
    }
    comparison = compare(trace_a, trace_b, branch=where)
    return Branch(trace_a, trace_b, comparison, what_if, runs.shared_events, runs.at_t, runs)
