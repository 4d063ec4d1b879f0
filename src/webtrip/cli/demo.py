"""``webtrip demo``: the bundled lab, run on loopback with no configuration.

Today the lab covers step 1 — a real authoritative DNS server for the demo
zone answers a real client's questions — and shows both sides: what the
client asked and got, and what the server saw and sent, from one trace.
"""

from __future__ import annotations

import asyncio

import click
import dns.flags

from webtrip.cli.common import out_console
from webtrip.dns.authority import Authority
from webtrip.dns.client import make_query, query
from webtrip.dns.server import DnsServer
from webtrip.dns.zones import ZoneSet, load_zone
from webtrip.labs import demo_path
from webtrip.net import RealNetwork, format_address
from webtrip.report.dns import rcode_name
from webtrip.trace import DnsMessageReceived, DnsMessageSent, Trace

QUESTIONS = (
    ("www.webtrip.test", "A"),
    ("www.webtrip.test", "AAAA"),
    ("static.webtrip.test", "A"),
    ("missing.webtrip.test", "A"),
)


@click.command()
def demo() -> None:
    """Run the bundled lab on loopback and show what happens, step by step.

    Starts a DNS server for the demo zone webtrip.test on 127.0.0.1 (a free
    port), asks it the questions a browser would ask, and shows each message
    as the client and the server saw it.

    \b
    Example:
      webtrip demo
    """
    trace = asyncio.run(_run_lab())
    console = out_console()
    console.print("[bold]Step 1 — DNS: the browser asks a DNS server for the address of a name[/]")
    for event in trace:
        if isinstance(event, DnsMessageSent | DnsMessageReceived):
            console.print(_describe(event))


def _describe(event: DnsMessageSent | DnsMessageReceived) -> str:
    """One line for one DNS message as one actor saw it."""
    message = event.message
    arrow = "→" if isinstance(event, DnsMessageSent) else "←"
    head = (
        f"{event.t * 1000:8.2f} ms  {event.actor:<10} {arrow} {format_address(event.peer):<21}"
        f" {event.transport.upper()} {event.size:>4} B  "
    )
    if message is None or not message.question:
        return head + "(not a valid DNS message)"
    question = message.question[0]
    asked = f"{question.name} {question.rdtype.name}"
    if not message.flags & dns.flags.QR:
        return head + f"question: {asked}?"
    answers = [rdata.to_text() for rrset in message.answer for rdata in rrset]
    return head + f"answer:   {asked} → {rcode_name(message)} {' '.join(answers)}".rstrip()


async def _run_lab() -> Trace:
    network = RealNetwork()
    trace = Trace(network.now)
    zones = ZoneSet([load_zone(demo_path("zones", "webtrip.test.zone"))])
    server = DnsServer(network, Authority(zones), trace, actor="dns-server")
    await server.start([("127.0.0.1", 0)])
    try:
        for name, rdtype in QUESTIONS:
            await query(
                network, server.addresses[0], make_query(name, rdtype), trace=trace, actor="browser"
            )
    finally:
        await server.aclose()
    return trace
