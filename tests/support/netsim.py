"""Helpers the simulated-network tests share: two hosts on a link, a DNS exchange."""

from __future__ import annotations

from support import ZONES
from webtrip.dns.authority import Authority
from webtrip.dns.client import QueryResult, make_query, query
from webtrip.dns.server import DnsServer
from webtrip.dns.zones import ZoneSet, load_zone
from webtrip.netsim.host import Host
from webtrip.netsim.link import Link
from webtrip.netsim.world import SimWorld

CLIENT_IP = "10.0.0.1"
SERVER_IP = "10.0.0.2"
ZONESET = ZoneSet([load_zone(ZONES / "example.test.zone")])


def connect_pair(world: SimWorld, **link_options) -> tuple[Host, Host, Link]:
    """A client and a server host joined by one link with ``link_options``."""
    client, server = world.add_host("client"), world.add_host("server")
    link = world.connect(client, f"{CLIENT_IP}/24", server, f"{SERVER_IP}/24", **link_options)
    return client, server, link


async def dns_exchange(
    world: SimWorld, client: Host, server: Host, *, query_id: int | None = None, timeout=3.0
) -> QueryResult:
    """Our DNS server on ``server`` (port 53) and our client asking it for www.example.test."""
    dns_server = DnsServer(world.network(server), Authority(ZONESET), world.trace)
    await dns_server.start([(SERVER_IP, 53)])
    try:
        message = make_query("www.example.test", "A")
        if query_id is not None:
            message.id = query_id  # dnspython draws IDs from the OS: fix it for byte-identical runs
        return await query(
            world.network(client), (SERVER_IP, 53), message, timeout=timeout, trace=world.trace
        )
    finally:
        await dns_server.aclose()
