"""The packet list's TCP analysis on a bulk transfer: one data segment lost in the middle
is repaired by a fast retransmit after duplicate ACKs, and the list says so frame by
frame as tshark's ``tcp.analysis`` does on the same capture."""

from __future__ import annotations

import subprocess

import pytest

from support import require_program
from webtrip.netsim.world import SimWorld
from webtrip.packets.dissect import Match
from webtrip.report.packets import packet_rows
from webtrip.report.pcap import captured_packets

SERVER = "10.7.0.2"


@pytest.mark.peer("tshark")
def test_a_fast_retransmission_is_marked_as_tshark_marks_it(tmp_path):
    tshark = require_program("tshark")
    payload = bytes(i % 251 for i in range(200_000))
    with SimWorld(seed=1) as world:
        client, server = world.add_host("client"), world.add_host("server")
        link = world.connect(client, "10.7.0.1/24", server, f"{SERVER}/24", latency=0.01)
        link.drop(Match(protocol="tcp", source=SERVER, with_payload=True), nth=20)

        async def handler(stream) -> None:
            await stream.send_all(payload)
            await stream.aclose()

        async def main() -> int:
            await world.network(server).start_tcp_server(handler, SERVER, 80)
            stream = await world.network(client).open_tcp_stream(SERVER, 80)
            received = 0
            while data := await stream.receive_some():
                received += len(data)
            return received

        assert world.run(main()) == len(payload)
        pcap = tmp_path / "client.pcap"
        world.write_pcap(pcap, client)
        rows = packet_rows((p.t, p.data, None) for p in captured_packets(world.trace, "client"))
    marked = {
        words: [r.number for r in rows if words in r.info]
        for words in ("[TCP Fast Retransmission]", "[TCP Dup ACK ", "[TCP Previous segment")
    }
    assert len(marked["[TCP Fast Retransmission]"]) == 1 and len(marked["[TCP Dup ACK "]) >= 3
    for words, field in (
        ("[TCP Fast Retransmission]", "tcp.analysis.fast_retransmission"),
        ("[TCP Dup ACK ", "tcp.analysis.duplicate_ack"),
        ("[TCP Previous segment", "tcp.analysis.lost_segment"),
    ):
        theirs = subprocess.run(
            [tshark, "-r", str(pcap), "-Y", field, "-T", "fields", "-e", "frame.number"],
            capture_output=True, text=True, timeout=60,
        ).stdout.split()  # fmt: skip
        assert marked[words] == [int(n) for n in theirs], words
