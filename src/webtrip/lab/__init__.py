"""Labs: a small network, its servers and a page to load, run in either world.

- :mod:`spec` — what a lab is, and reading and checking a lab file (TOML);
- :mod:`faults` — the filter language of ``--drop`` and ``--delay``, and ``--what-if``'s changes;
- :mod:`actors` — starting a lab's actors on any :class:`~webtrip.net.Network`
  (the one wiring both worlds use) and loading its page;
- :mod:`sim` — the lab in the simulated network (``webtrip sim``);
- :mod:`loopback` — the lab on this machine's loopback (``webtrip demo``).

The lab is where actors meet worlds, so it sits above both: it knows
:mod:`webtrip.dns`, :mod:`webtrip.web`, :mod:`webtrip.browser`, :mod:`webtrip.net`
and (in :mod:`sim` only) :mod:`webtrip.netsim`; only :mod:`webtrip.cli` knows it.
"""

from webtrip.lab.faults import FILTERS, FaultSpec, WhatIf, parse_fault, parse_what_if
from webtrip.lab.spec import (
    UNITS,
    Lab,
    LabError,
    LinkSpec,
    NameServerSpec,
    demo_lab,
    load_lab,
    parse_quantity,
    parse_share,
)

__all__ = [
    "FILTERS",
    "UNITS",
    "FaultSpec",
    "Lab",
    "LabError",
    "LinkSpec",
    "NameServerSpec",
    "WhatIf",
    "demo_lab",
    "load_lab",
    "parse_fault",
    "parse_quantity",
    "parse_share",
    "parse_what_if",
]
