"""Response-rate limiting (RRL), in the spirit of NSD's and BIND's.

A UDP query's source address can be forged, so a server that answers every
query at full speed can be used to flood a victim with answers (reflection)
and can be kept busy by one noisy client. RRL bounds how many responses one
*source prefix* gets per second for one *kind* of answer:

* the source prefix is the client's /24 for IPv4 and /56 for IPv6 (one home
  or one small network; the lengths can be changed), because an attacker
  usually holds more than one address of a network;
* the kind is what the answer is: a positive answer, NODATA, NXDOMAIN, a
  referral or an error — so a flood of random names (NXDOMAIN) does not use
  up the budget of the real names asked from the same network;
* each (prefix, kind) has a *token bucket* that refills at ``rate`` tokens a
  second and holds at most ``rate`` (one second of burst); a response spends
  one token;
* a response with no token left is not sent, except every ``slip``-th one,
  which is replaced by a truncated, empty answer (TC=1): a real client that
  was unlucky to share the prefix retries over TCP, whose source cannot be
  forged, and still gets its answer. ``slip`` 0 never slips.

Only UDP is limited. The buckets live in a bounded table (the least recently
used one is forgotten first), so a flood from many prefixes cannot grow it.
"""

from __future__ import annotations

import ipaddress
import struct
from collections import OrderedDict
from dataclasses import dataclass

from webtrip.dns.protocol import question_end

__all__ = ["DEFAULT_RATE", "DEFAULT_SLIP", "RateLimiter", "answer_kind"]

DEFAULT_RATE = 200  # responses per second per (prefix, kind): NSD's rrl-ratelimit
DEFAULT_SLIP = 2  # every 2nd limited response goes out truncated: NSD's rrl-slip
MAX_BUCKETS = 65_536

_HEADER = struct.Struct("!HHHHHH")
_AA = 0x0400
_TC = 0x0200


def answer_kind(response: bytes) -> str:
    """What ``response`` is, for rate limiting: answer, nodata, nxdomain, referral or error."""
    if len(response) < _HEADER.size:
        return "error"
    _id, flags, _qd, ancount, nscount, _ar = _HEADER.unpack_from(response)
    rcode = flags & 0x000F
    if rcode == 3:
        return "nxdomain"
    if rcode:
        return "error"
    if ancount:
        return "answer"
    if nscount and not flags & _AA:
        return "referral"
    return "nodata"


def truncated(response: bytes) -> bytes:
    """``response`` cut to its header and question, with TC=1: "ask me again over TCP"."""
    end = question_end(response)
    question = response[12:end] if end > 0 else b""
    query_id, flags = struct.unpack_from("!HH", response)
    return _HEADER.pack(query_id, flags | _TC, 1 if question else 0, 0, 0, 0) + question


@dataclass(slots=True)
class _Bucket:
    tokens: float
    last: float
    limited: int = 0  # responses refused since the bucket ran dry (for the slip)


class RateLimiter:
    """Token buckets per (source prefix, answer kind); see the module docstring."""

    def __init__(
        self,
        rate: int = DEFAULT_RATE,
        *,
        slip: int = DEFAULT_SLIP,
        ipv4_prefix: int = 24,
        ipv6_prefix: int = 56,
        max_buckets: int = MAX_BUCKETS,
    ) -> None:
        if rate < 1:
            raise ValueError("the rate must be at least 1 response a second")
        self.rate = rate
        self.slip = slip
        self.ipv4_prefix = ipv4_prefix
        self.ipv6_prefix = ipv6_prefix
        self.max_buckets = max_buckets
        self._buckets: OrderedDict[tuple[int, int, str], _Bucket] = OrderedDict()
        self._prefixes: dict[str, tuple[int, int]] = {}
        self.limited = 0  # responses not sent
        self.slipped = 0  # responses sent truncated instead

    def _prefix(self, host: str) -> tuple[int, int]:
        prefix = self._prefixes.get(host)
        if prefix is None:
            address = ipaddress.ip_address(host.split("%", 1)[0])
            bits = self.ipv4_prefix if address.version == 4 else self.ipv6_prefix
            prefix = (address.version, int(address) >> (address.max_prefixlen - bits))
            if len(self._prefixes) >= self.max_buckets:
                self._prefixes.clear()  # a cache of parsed addresses, nothing more
            self._prefixes[host] = prefix
        return prefix

    def check(self, response: bytes, host: str, now: float) -> bytes | None:
        """``response`` if it may be sent to ``host`` at ``now``, its truncated slip, or None."""
        version, prefix = self._prefix(host)
        key = (version, prefix, answer_kind(response))
        buckets = self._buckets
        bucket = buckets.get(key)
        if bucket is None:
            if len(buckets) >= self.max_buckets:
                buckets.popitem(last=False)
            bucket = buckets[key] = _Bucket(float(self.rate), now)
        else:
            buckets.move_to_end(key)
            bucket.tokens = min(float(self.rate), bucket.tokens + (now - bucket.last) * self.rate)
            bucket.last = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            bucket.limited = 0
            return response
        bucket.limited += 1
        if self.slip and bucket.limited % self.slip == 0:
            self.slipped += 1
            return truncated(response)
        self.limited += 1
        return None
