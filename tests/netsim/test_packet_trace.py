"""Every simulated packet is in the trace, with its bytes; the pcap file is a view of it."""

from __future__ import annotations

import json

from support import run_webtrip
from webtrip import lab
from webtrip.lab import sim as simulated
from webtrip.packets.pcap import read_pcap
from webtrip.report.pcap import captured_packets, pcap_from_trace
from webtrip.trace import PacketCaptured, Trace


def test_each_record_of_the_packet_log_is_an_event_of_the_trace():
    run = simulated.run(lab.demo_lab(), 3, simulated.LinkConditions(loss=0.05))
    events = run.world.trace.of_type(PacketCaptured)
    records = list(run.world.packets)
    assert len(events) == len(records) > 40
    for event, record in zip(events, records, strict=True):
        assert (event.t, event.actor, event.interface, event.direction, event.data) == (
            record.t, record.node, record.interface, record.direction, record.data,
        )  # fmt: skip
        assert event.reason == record.reason
    assert any(e.direction == "drop" and e.reason == "lost on the link" for e in events)


def test_the_pcap_from_the_trace_is_the_worlds_and_survives_json():
    run = simulated.run(lab.demo_lab(), 4, simulated.LinkConditions(loss=0.03))
    trace = run.world.trace
    for node in ("browser", "web", None):
        at = run.nodes[node] if node else None
        assert pcap_from_trace(trace, node) == run.world.pcap(at)
    loaded = Trace.from_json(trace.to_json())
    assert pcap_from_trace(loaded, "browser") == run.world.pcap(run.browser)
    assert loaded.of_type(PacketCaptured) == trace.of_type(PacketCaptured)


def test_a_capture_at_a_node_holds_its_packets_and_drops_only_when_asked():
    run = simulated.run(lab.demo_lab(), 1, faults=[lab.parse_fault("drop", "synack")])
    trace = run.world.trace
    at_browser = captured_packets(trace, "browser")
    assert all(p.actor == "browser" and p.direction != "drop" for p in at_browser)
    with_drops = captured_packets(trace, "browser", drops=True)
    dropped = [p for p in with_drops if p.direction == "drop"]
    assert len(dropped) == 1 and dropped[0].actor == "router"
    assert "targeted fault" in dropped[0].reason
    assert len(read_pcap(pcap_from_trace(trace, "browser"))) == len(at_browser)


def test_the_saved_json_trace_gives_back_the_pcap_byte_for_byte(tmp_path):
    pcap = tmp_path / "run.pcap"
    done = run_webtrip("sim", "--seed", "9", "--loss", "4%", "--pcap", str(pcap), "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert any(event["type"] == "PacketCaptured" for event in doc["events"])
    trace = Trace.from_json(done.stdout)
    assert pcap_from_trace(trace, "browser") == pcap.read_bytes()
