"""Capture files: the classic pcap format, reproducible runs, and what tshark makes of them."""

from __future__ import annotations

import asyncio
import contextlib
import struct
import subprocess
from pathlib import Path

import pytest

from support import require_program
from support.netsim import connect_pair, dns_exchange
from webtrip.dns.client import DnsTimeout
from webtrip.netsim.world import EPOCH, SimWorld
from webtrip.packets import icmp
from webtrip.packets.ipv4 import PROTOCOL_ICMP
from webtrip.packets.pcap import LINKTYPE_RAW, PcapError, pcap_bytes, read_pcap


def dns_run(seed: int, queries: int = 1, **link_options) -> SimWorld:
    """DNS exchanges over a 20 ms link (plus ``link_options``), in a finished world."""
    with SimWorld(seed=seed) as world:
        client, server, _ = connect_pair(world, latency=0.020, **link_options)
        for number in range(queries):
            # On a lossy link some queries time out: what was lost is in the packet log too.
            with contextlib.suppress(DnsTimeout):
                world.run(dns_exchange(world, client, server, query_id=number, timeout=1.0))
        return world


def test_the_global_header_names_the_format_and_raw_ip():
    data = pcap_bytes([])
    magic, major, minor, _zone, _sigfigs, snaplen, linktype = struct.unpack("<IHHiIII", data)
    assert (magic, major, minor, snaplen, linktype) == (0xA1B2C3D4, 2, 4, 65535, LINKTYPE_RAW)


def test_records_carry_epoch_plus_virtual_time_to_the_microsecond():
    data = pcap_bytes([(0.0400004, b"\x45" + bytes(19))], epoch=1000.0)
    seconds, micros, kept, original = struct.unpack_from("<IIII", data, 24)
    assert (seconds, micros, kept, original) == (1000, 40000, 20, 20)


def test_a_capture_reads_back_as_written():
    packets = [(0.5, b"first"), (1.25, b"second")]
    assert [(p.timestamp, p.data) for p in read_pcap(pcap_bytes(packets))] == packets


def test_a_truncated_capture_is_refused():
    with pytest.raises(PcapError, match="cut short"):
        read_pcap(pcap_bytes([(0.0, bytes(40))])[:-1])


def test_a_hosts_capture_shows_what_it_sent_and_received():
    world = dns_run(seed=1)
    client = world.nodes["client"]
    packets = read_pcap(world.pcap(client))
    assert [round(p.timestamp - EPOCH, 6) for p in packets] == [0.0, 0.04]


def test_the_same_seed_gives_the_same_packets_and_the_same_pcap():
    first = dns_run(seed=42, queries=10, loss=0.3, duplicate=0.2, reorder=0.2)
    second = dns_run(seed=42, queries=10, loss=0.3, duplicate=0.2, reorder=0.2)
    assert first.packets.drops()  # the run did exercise the random faults
    assert first.packets.records == second.packets.records
    assert first.pcap() == second.pcap()
    assert first.pcap(first.nodes["client"]) == second.pcap(second.nodes["client"])


def test_another_seed_gives_another_run():
    # The client's ephemeral port comes from the seed.
    assert dns_run(seed=1).pcap() != dns_run(seed=2).pcap()


# --- tshark, an independent dissector ---------------------------------------------------


def tshark(capture: Path, *args: str) -> list[str]:
    program = require_program("tshark")
    checks = ["-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"]
    done = subprocess.run(
        [program, "-n", "-r", str(capture), *checks, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.splitlines()


@pytest.mark.peer("tshark")
def test_tshark_decodes_the_dns_query_and_response(tmp_path):
    capture = tmp_path / "dns.pcap"
    world = dns_run(seed=1)
    world.write_pcap(capture, at=world.nodes["client"])
    fields = ["-e", "dns.qry.name", "-e", "dns.flags.response"]
    lines = tshark(capture, "-T", "fields", *fields)
    assert lines == ["www.example.test\t0", "www.example.test\t1"]
    assert tshark(capture, "-Y", "_ws.malformed || _ws.expert.severity >= warning") == []
    statuses = tshark(
        capture, "-T", "fields", "-e", "ip.checksum.status", "-e", "udp.checksum.status"
    )
    assert statuses == ["1\t1", "1\t1"]  # 1: Good


@pytest.mark.peer("tshark")
def test_tshark_reads_icmp_errors_without_malformed_packets(tmp_path):
    with SimWorld(seed=1) as world:
        client, server = world.add_host("client"), world.add_host("server")
        router = world.add_router("router")
        world.connect(client, "10.0.1.2/24", router, "10.0.1.1/24")
        world.connect(router, "10.0.2.1/24", server, "10.0.2.2/24", mtu=576)
        sock = client.bind_udp("0.0.0.0", 0)

        async def provoke() -> None:
            sock.send(b"closed port", ("10.0.2.2", 9))  # port unreachable
            sock.send(bytes(1000), ("10.0.2.2", 9))  # fragmentation needed
            ping = icmp.echo_request(1, 1, b"ttl")
            client.send_ip("10.0.1.2", "10.0.2.2", PROTOCOL_ICMP, ping.encode(), ttl=1)
            await asyncio.sleep(1)

        world.run(provoke())
        capture = tmp_path / "icmp.pcap"
        world.write_pcap(capture, at=client)
    outer = ["-E", "occurrence=f", "-e", "icmp.type", "-e", "icmp.code"]  # not the quoted ones
    lines = tshark(capture, "-Y", "icmp", "-T", "fields", *outer)
    assert sorted(lines) == ["11\t0", "3\t3", "3\t4", "8\t0"]
    assert tshark(capture, "-Y", "_ws.malformed") == []
