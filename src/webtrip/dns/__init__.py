"""Step 1 of a page load: DNS, the Internet's directory of names.

- :mod:`~webtrip.dns.protocol` — what every DNS actor shares: transports,
  message sizes (RFC 1035, EDNS0), writing a response that fits;
- :mod:`~webtrip.dns.zones` — zones from RFC 1035 master files (dnspython);
- :mod:`~webtrip.dns.authority` — the authoritative answer to one query
  (RFC 1034 §4.3.2), with no I/O, and its packet cache;
- :mod:`~webtrip.dns.fast_path` — the same answers for the commonest queries,
  written straight from bytes (checked against the general path);
- :mod:`~webtrip.dns.server` — the server actor: UDP and TCP around any
  responder (an :class:`~webtrip.dns.authority.Authority` or a resolver);
- :mod:`~webtrip.dns.client` — asking a server one question, as dig does;
- :mod:`~webtrip.dns.recursive_resolver` — walking from the root servers down
  the referrals to an answer, with a cache (and forwarding);
- :mod:`~webtrip.dns.resolver_service` — that resolver as a service the
  browser asks: who may ask, a message cache, limits.
"""

from webtrip.dns.authority import Authority
from webtrip.dns.recursive_resolver import RecursiveResolver, Resolution, Step
from webtrip.dns.resolver_service import ResolverService
from webtrip.dns.server import DnsServer
from webtrip.dns.zones import Zone, ZoneError, ZoneSet, load_zone

__all__ = [
    "Authority",
    "DnsServer",
    "RecursiveResolver",
    "Resolution",
    "ResolverService",
    "Step",
    "Zone",
    "ZoneError",
    "ZoneSet",
    "load_zone",
]
