"""The trace: one timeline of typed, timestamped events per run.

Every actor (DNS server, web server, browser) and every world (real sockets,
simulated network) records what it does as small frozen dataclasses in a
:class:`Trace`. Every view of a run — narration, log lines, waterfall, HAR,
pcap — is a pure function of a trace; actors never format output.

- :mod:`events` — the event types, one frozen dataclass per thing that happens;
- :mod:`recorder` — :class:`Trace`: records events, tells listeners, saves and
  loads a whole trace as JSON.
"""

from webtrip.trace.events import (
    Address,
    DnsMessageDropped,
    DnsMessageReceived,
    DnsMessageSent,
    Event,
    Headers,
    HttpBodySent,
    HttpExchangeCompleted,
    HttpRequestFailed,
    HttpRequestQueued,
    HttpRequestReceived,
    HttpRequestRetried,
    HttpRequestSent,
    HttpResponseCompleted,
    HttpResponseHeadSent,
    HttpResponseStarted,
    NameLookupFailed,
    NameLookupStarted,
    NameResolved,
    PacketCaptured,
    PageLoadFinished,
    PageLoadStarted,
    ResolverAnswered,
    ResolverStep,
    StreamRead,
    TcpConnectFailed,
    TcpConnectionClosed,
    TcpConnectionOpened,
    TcpConnectStarted,
    TcpInfoRead,
    TlsHandshakeCompleted,
    event_types,
)
from webtrip.trace.recorder import NULL_TRACE, Trace

__all__ = [
    "NULL_TRACE",
    "Address",
    "DnsMessageDropped",
    "DnsMessageReceived",
    "DnsMessageSent",
    "Event",
    "Headers",
    "HttpBodySent",
    "HttpExchangeCompleted",
    "HttpRequestFailed",
    "HttpRequestQueued",
    "HttpRequestReceived",
    "HttpRequestRetried",
    "HttpRequestSent",
    "HttpResponseCompleted",
    "HttpResponseHeadSent",
    "HttpResponseStarted",
    "NameLookupFailed",
    "NameLookupStarted",
    "NameResolved",
    "PacketCaptured",
    "PageLoadFinished",
    "PageLoadStarted",
    "ResolverAnswered",
    "ResolverStep",
    "StreamRead",
    "TcpConnectFailed",
    "TcpConnectStarted",
    "TcpConnectionClosed",
    "TcpConnectionOpened",
    "TcpInfoRead",
    "TlsHandshakeCompleted",
    "Trace",
    "event_types",
]
