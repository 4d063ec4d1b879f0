"""The trace: one timeline of typed, timestamped events per run.

Every actor (DNS server, web server, browser) and every world (real sockets,
simulated network) records what it does as small frozen dataclasses in a
:class:`Trace`. Every view of a run — narration, log lines, waterfall, HAR,
pcap — is a pure function of a trace; actors never format output.
"""

from webtrip.trace.events import (
    DnsMessageDropped,
    DnsMessageReceived,
    DnsMessageSent,
    Event,
    HttpBodySent,
    HttpExchangeCompleted,
    HttpRequestReceived,
    HttpResponseHeadSent,
    TcpConnectionClosed,
    TcpConnectionOpened,
    event_types,
)
from webtrip.trace.recorder import NULL_TRACE, Trace

__all__ = [
    "NULL_TRACE",
    "DnsMessageDropped",
    "DnsMessageReceived",
    "DnsMessageSent",
    "Event",
    "HttpBodySent",
    "HttpExchangeCompleted",
    "HttpRequestReceived",
    "HttpResponseHeadSent",
    "TcpConnectionClosed",
    "TcpConnectionOpened",
    "Trace",
    "event_types",
]
