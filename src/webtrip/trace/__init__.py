"""The trace: one timeline of typed, timestamped events per run.

Every actor (DNS server, web server, browser) and every world (real sockets,
simulated network) records what it does as small frozen dataclasses in a
:class:`Trace`. Every view of a run — narration, log lines, waterfall, HAR,
pcap — is a pure function of a trace; actors never format output.
"""

from webtrip.trace.events import *  # noqa: F403 - the event types are this package's API
from webtrip.trace.events import Event, event_types
from webtrip.trace.recorder import NULL_TRACE, Trace

__all__ = ["NULL_TRACE", "Event", "Trace", "event_types", *event_types()]
