"""Faults for lessons: the small filter language of ``--drop`` and ``--delay``.

A fault names packets on the browser's link in words a learner knows —
``syn``, ``synack``, ``dns-response#2``, ``tcp:80`` (see :data:`FILTERS`) —
and :func:`parse_fault` turns such a text into a
:class:`~webtrip.packets.dissect.Match` and which end of the link sends it.
The simulated world's links carry them out (:mod:`webtrip.lab.sim`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from webtrip.lab.spec import DNS_PORT, WEB_PORT, parse_quantity, parse_share
from webtrip.packets.dissect import Match

__all__ = [
    "FILTERS",
    "FROM_BROWSER",
    "TO_BROWSER",
    "WHAT_IF_CHANGES",
    "FaultSpec",
    "WhatIf",
    "parse_fault",
    "parse_what_if",
]

FROM_BROWSER = "from the browser"
TO_BROWSER = "to the browser"

FILTERS: dict[str, tuple[Match, str | None, str]] = {
    "syn": (Match(protocol="tcp", tcp_flags=("SYN",)), FROM_BROWSER,
            "the browser's SYN (opening a connection)"),
    "synack": (Match(protocol="tcp", tcp_flags=("SYN", "ACK")), TO_BROWSER,
               "the server's SYN-ACK"),
    "fin": (Match(protocol="tcp", tcp_flags=("FIN",)), None, "a FIN (closing a connection)"),
    "rst": (Match(protocol="tcp", tcp_flags=("RST",)), None, "a RST (resetting a connection)"),
    "dns": (Match(protocol="udp", port=DNS_PORT), None, "a DNS message, question or answer"),
    "dns-query": (Match(protocol="udp", destination_port=DNS_PORT), FROM_BROWSER,
                  "the browser's DNS question"),
    "dns-response": (Match(protocol="udp", source_port=DNS_PORT), TO_BROWSER,
                     "the DNS server's answer"),
    "http": (Match(protocol="tcp", port=WEB_PORT, with_payload=True), None,
             "a TCP segment carrying HTTP, either way"),
    "http-request": (Match(protocol="tcp", destination_port=WEB_PORT, with_payload=True),
                     FROM_BROWSER, "a segment of the browser's HTTP request"),
    "http-response": (Match(protocol="tcp", source_port=WEB_PORT, with_payload=True),
                      TO_BROWSER, "a segment of the web server's answer"),
    "tcp": (Match(protocol="tcp"), None, "any TCP segment"),
    "udp": (Match(protocol="udp"), None, "any UDP datagram"),
}  # fmt: skip
"""The named packet filters of ``--drop``/``--delay``: a Match, who sends it, what it means.

Besides these, ``tcp:PORT`` and ``udp:PORT`` match either port, and any
filter takes ``#N``: the Nth matching packet on the browser's link (default
the 1st), counted from the start of the run.
"""


@dataclass(frozen=True)
class FaultSpec:
    """``drop`` or ``delay`` (by ``extra`` s) the ``nth`` packet that ``text`` matches."""

    action: str
    text: str
    match: Match
    sender: str | None
    nth: int = 1
    extra: float = 0.0


def parse_fault(action: str, text: str) -> FaultSpec:
    """``("drop", "synack")``, ``("delay", "synack=300ms")``...; ValueError says what is wrong."""
    extra = 0.0
    spec = text.strip().lower()
    if action == "delay":
        spec, equals, amount = spec.partition("=")
        if not equals:
            raise ValueError(f"'{text}' needs the delay after '=', like synack=300ms")
        extra = parse_quantity("time", amount if re.search(r"[a-z]", amount) else amount + "ms")
    name, hash_sign, count = spec.partition("#")
    nth = 1
    if hash_sign:
        if not count.isdigit() or int(count) < 1:
            raise ValueError(f"'{text}': after '#' comes which match, counted from 1 (like #2)")
        nth = int(count)
    name = name.strip()
    if name in FILTERS:
        match, sender, _ = FILTERS[name]
    else:
        port = re.fullmatch(r"(tcp|udp):([0-9]{1,5})", name)
        if port is None or int(port.group(2)) > 65535:
            known = ", ".join(FILTERS)
            known += ", tcp:PORT, udp:PORT"
            raise ValueError(f"'{text}' is not a packet filter (known: {known})")
        match, sender = Match(protocol=port.group(1), port=int(port.group(2))), None
    return FaultSpec(action, text, match, sender, nth, extra)


WHAT_IF_CHANGES = (
    "drop", "delay", "silent", "slow", "latency", "bandwidth", "loss", "flush-dns"
)  # fmt: skip
"""The changes ``--what-if`` can make from a moment of a run (see :func:`parse_what_if`)."""


@dataclass(frozen=True)
class WhatIf:
    """One change to a run from one moment on: a what-if branch.

    The moment is ``at_event`` (right after the run's event of that index, counted from
    0 as a trace's ``events[N]``) or ``at_time`` (virtual seconds). ``change`` is one
    of :data:`WHAT_IF_CHANGES`: ``drop``/``delay`` the next packet a filter names
    (``fault``, counted from that moment); make ``host`` ``silent`` (every packet it
    sends is lost) or ``slow`` (every packet it sends leaves ``value`` s later); set the
    browser's link's ``latency`` (s), ``bandwidth`` (bit/s) or ``loss`` (share) to
    ``value``; or ``flush-dns``: empty the resolver's cache (and the browser's own DNS
    cache) at that moment.
    """

    text: str
    change: str
    at_event: int | None = None
    at_time: float | None = None
    fault: FaultSpec | None = None
    host: str | None = None
    value: float = 0.0


def parse_what_if(text: str) -> WhatIf:
    """``"at=42, drop synack"``, ``"at=1.5s, latency=100ms"``...; ValueError says what is wrong.

    ``at=N`` (a whole number) is an event's index, ``at=TIME`` (with a unit: ``1.5s``,
    ``300ms``) a moment of virtual time. The changes: ``drop FILTER``, ``delay
    FILTER=TIME``, ``silent HOST``, ``slow HOST=TIME``, ``latency=TIME``,
    ``bandwidth=RATE``, ``loss=SHARE``, ``flush-dns`` (also ``empty-dns-cache``).
    """
    moment, comma, change = text.partition(",")
    moment, change = moment.strip().lower(), change.strip()
    if not comma or not moment.startswith("at=") or not change:
        raise ValueError(f"'{text}' is not a what-if: write at=EVENT or at=TIME, then a "
                         "comma and the change, like \"at=40, drop synack\"")  # fmt: skip
    when = moment[3:].strip()
    at_event = at_time = None
    if when.isdigit():
        at_event = int(when)
    else:
        try:
            at_time = parse_quantity("time", when)
        except ValueError:
            raise ValueError(f"'{when}' is neither an event's number nor a time like 1.5s or "
                             "300ms") from None  # fmt: skip
    verb, _space, rest = change.partition(" ")
    verb = verb.lower()
    name, equals, amount = change.partition("=")
    name = name.strip().lower()
    try:
        if verb in ("drop", "delay"):
            fault = parse_fault(verb, rest)
            return WhatIf(text, verb, at_event, at_time, fault=fault, value=fault.extra)
        if verb == "silent" and rest.strip():
            return WhatIf(text, "silent", at_event, at_time, host=rest.strip())
        if verb == "slow" and "=" in rest:
            host, _equals, delay = rest.partition("=")
            return WhatIf(text, "slow", at_event, at_time, host=host.strip(),
                          value=parse_quantity("time", _unit(delay, "ms")))  # fmt: skip
        if equals and name in ("latency", "bandwidth"):
            kind, unit = ("time", "ms") if name == "latency" else ("rate", "mbit")
            value = parse_quantity(kind, _unit(amount, unit))
            if name == "bandwidth" and value <= 0:
                raise ValueError("a link's speed must be above 0")
            return WhatIf(text, name, at_event, at_time, value=value)
        if equals and name == "loss":
            return WhatIf(text, "loss", at_event, at_time, value=parse_share(amount.strip()))
    except ValueError as exc:
        raise ValueError(f"'{change}': {exc}") from None
    if change.lower() in ("flush-dns", "empty-dns-cache"):
        return WhatIf(text, "flush-dns", at_event, at_time)
    raise ValueError(f"'{change}' is not a change a what-if can make (known: drop FILTER, "
                     "delay FILTER=TIME, silent HOST, slow HOST=TIME, latency=TIME, "
                     "bandwidth=RATE, loss=SHARE, flush-dns)")  # fmt: skip


def _unit(amount: str, unit: str) -> str:
    """``amount`` with ``unit`` added when it has none (``100`` → ``100ms``)."""
    amount = amount.strip()
    return amount if re.search(r"[a-z]", amount, re.IGNORECASE) else amount + unit
