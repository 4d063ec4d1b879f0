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

from webtrip.lab.spec import DNS_PORT, WEB_PORT, parse_quantity
from webtrip.packets.dissect import Match

__all__ = ["FILTERS", "FROM_BROWSER", "TO_BROWSER", "FaultSpec", "parse_fault"]

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
