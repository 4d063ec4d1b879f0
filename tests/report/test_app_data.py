"""The replay app's data: one JSON per trace, checked against its schema and the packets.

Every run the app shows — clean, a lost SYN-ACK, a lossy link, a failed lookup, a real
loopback run — must give a document its JSON Schema accepts, whose flights account for
every packet sent (arrived or lost), whose messages are the packets end to end, whose
story moves forward in time, with the same shape in English and Spanish, and the same
bytes for the same seed.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from support import require_program
from webtrip import lab as lab_spec
from webtrip.cli.demo import run_demo
from webtrip.lab import sim as simulated
from webtrip.report.app_data import app_data, app_data_json, packed, schema
from webtrip.report.narration import narrate
from webtrip.report.pcap import pcap_from_trace
from webtrip.trace import NetworkDescribed, PacketCaptured, Trace
from webtrip.trace.events import DROP, LOOPBACK, OUT


def simulate(*drops: str, seed: int = 1, **conditions: float) -> Trace:
    faults = [lab_spec.parse_fault("drop", text) for text in drops]
    link = simulated.LinkConditions(**conditions)  # type: ignore[arg-type]
    return simulated.run(lab_spec.demo_lab(), seed, link, faults=faults).world.trace


@pytest.fixture(scope="module")
def runs() -> dict[str, Trace]:
    trace, _loads = asyncio.run(run_demo("en"))
    return {
        "clean": simulate(),
        "drop-synack": simulate("synack"),
        "loss": simulate(loss=0.05),
        "failed": simulated.run(lab_spec.demo_lab(), 1, dns_silent=True).world.trace,
        "real": trace,
    }


@pytest.fixture(scope="module")
def documents(runs: dict[str, Trace]) -> dict[str, dict[str, Any]]:
    return {name: json.loads(app_data_json(trace)) for name, trace in runs.items()}


NAMES = ["clean", "drop-synack", "loss", "failed", "real"]


@pytest.mark.parametrize("name", NAMES)
def test_the_document_follows_its_json_schema(documents, name):
    jsonschema.validate(documents[name], schema())


@pytest.mark.parametrize("name", ["clean", "drop-synack", "loss", "failed"])
def test_every_packet_sent_on_a_link_arrives_or_is_lost_in_exactly_one_flight(
    runs, documents, name
):
    trace, document = runs[name], documents[name]
    outs = [i for i, e in enumerate(trace.events) if isinstance(e, PacketCaptured)
            and e.direction == OUT and e.interface != LOOPBACK]  # fmt: skip
    drops = [i for i, e in enumerate(trace.events)
             if isinstance(e, PacketCaptured) and e.direction == DROP]  # fmt: skip
    flights = document["flights"]
    assert sorted(f["sent_event"] for f in flights if f["sent_event"] in outs) == outs
    for flight in flights:
        assert (flight["arrived"] is None) != (flight["lost"] is None), flight
        if flight["arrived"] is not None:
            assert flight["arrived"] >= flight["sent"]
            arrived = trace.events[flight["arrived_event"]]
            assert isinstance(arrived, PacketCaptured) and arrived.actor == flight["to"]
            assert arrived.data == trace.events[flight["sent_event"]].data
        assert flight["frame"] is not None
        frame = base64.b64decode(document["frames"][flight["frame"]]["bytes"])
        assert frame == trace.events[flight["sent_event"]].data
    assert sum(1 for f in flights if f["lost"] is not None) == len(drops)


@pytest.mark.parametrize("name", ["clean", "drop-synack", "loss"])
def test_messages_are_the_packets_end_hosts_sent(runs, documents, name):
    trace, document = runs[name], documents[name]
    routers = {n["id"] for n in document["topology"]["nodes"] if n["role"] == "router"}
    sent = [e for e in trace.events if isinstance(e, PacketCaptured) and e.direction == OUT
            and e.interface != LOOPBACK and e.actor not in routers]  # fmt: skip
    assert len(document["messages"]) == len(sent)
    kinds = Counter(m["kind"] for m in document["messages"])
    assert kinds["syn"] == kinds["syn-ack"] >= 1
    assert kinds["request"] == kinds["response"] == len(document["files"])
    for message in document["messages"]:
        assert message["t_end"] >= message["t"]
        assert all(document["flights"][f]["sent"] >= message["t"] for f in message["flights"])


def test_a_lost_syn_ack_is_one_lost_flight_on_the_browsers_link_and_one_lost_message(documents):
    document = documents["drop-synack"]
    lost = [f for f in document["flights"] if f["lost"] is not None]
    assert len(lost) == 1
    (flight,) = lost
    assert (flight["from"], flight["to"], flight["link"]) == ("router", "browser", "link1")
    assert flight["label"] == {"en": "SYN-ACK", "es": "SYN-ACK"}
    assert flight["lost_reason"]["en"] == "dropped on purpose by the --drop fault"
    messages = [m for m in document["messages"] if m["lost"]]
    assert [(m["from"], m["to"], m["kind"]) for m in messages] == [("web", "browser", "syn-ack")]
    again = [(m["from"], m["kind"]) for m in document["messages"] if m["again"]]
    assert again == [("browser", "syn"), ("web", "syn-ack")]  # both sides resent, nothing else


def test_a_clean_run_has_no_lost_flight_and_nothing_sent_again(documents):
    document = documents["clean"]
    assert not any(f["lost"] for f in document["flights"])
    assert not any(m["lost"] or m["again"] for m in document["messages"])


def test_the_network_of_a_simulated_run_is_the_labs_with_its_roles(documents):
    topology = documents["clean"]["topology"]
    roles = {n["id"]: n["role"] for n in topology["nodes"]}
    assert roles == {"router": "router", "browser": "browser", "dns": "authoritative", "web": "web",
                     "resolver": "resolver", "root": "root", "tld": "tld"}  # fmt: skip
    assert topology["logical"] is False
    browser_link = topology["links"][0]
    assert (browser_link["a"], browser_link["b"], browser_link["latency"]) == (
        "browser",
        "router",
        0.02,
    )


def test_a_real_run_is_drawn_logically_without_flights(documents):
    document = documents["real"]
    assert document["run"]["kind"] == "real"
    assert document["topology"]["logical"] is True
    assert document["flights"] == [] and document["page"] is None
    kinds = {m["kind"] for m in document["messages"]}
    assert {"dns-query", "connect", "request", "response"} <= kinds


@pytest.mark.parametrize("name", NAMES)
def test_story_sentences_are_anchored_within_the_run_and_jump_to_an_event(documents, name):
    document = documents[name]
    times = [s["t"] for p in document["story"] for s in p["sentences"]]
    assert all(document["run"]["started"] <= t <= document["run"]["ended"] for t in times)
    for paragraph in document["story"]:
        for sentence in paragraph["sentences"]:
            assert document["events"][sentence["event"]]["t"] <= sentence["t"] + 1e-6
            assert sentence["text"]["en"] and sentence["text"]["es"]


def shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    return type(value).__name__


def english_and_spanish(value: Any) -> list[tuple[Any, Any]]:
    found = []
    if isinstance(value, dict):
        if set(value) == {"en", "es"}:
            found.append((value["en"], value["es"]))
        for item in value.values():
            found.extend(english_and_spanish(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(english_and_spanish(item))
    return found


@pytest.mark.parametrize("name", NAMES)
def test_english_and_spanish_have_the_same_shape(documents, name):
    document = documents[name]
    for english, spanish in english_and_spanish(document):
        assert shape(english) == shape(spanish)
    words = document["words"]
    assert shape(words["en"]) == shape(words["es"])
    assert words["es"]["steps"]["1"] == "1. Encontrar la dirección (DNS)"


def test_the_same_seed_gives_the_same_bytes():
    assert app_data_json(simulate("synack")) == app_data_json(simulate("synack"))


def test_a_frames_layers_point_at_their_own_bytes(documents):
    document = documents["clean"]
    glossary = document["glossary"]
    for frame in document["frames"]:
        data = base64.b64decode(frame["bytes"])
        names = [layer["name"] for layer in frame["layers"]]
        assert names[0] == "IPv4" and names[1] in ("UDP", "TCP")
        for layer in frame["layers"]:
            for key, _value, start, end in layer["fields"]:
                assert key in glossary and 0 <= start <= end <= len(data), key
        ip = {key: (value, start, end) for key, value, start, end in frame["layers"][0]["fields"]}
        assert data[ip["ip.ttl"][1]] == int(ip["ip.ttl"][0])
    dns = [f for f in document["frames"] if any(layer["name"] == "DNS" for layer in f["layers"])]
    http = [f for f in document["frames"] if any(layer["name"] == "HTTP" for layer in f["layers"])]
    assert dns and http
    first_line = http[0]["layers"][-1]["fields"][0]
    assert first_line[0] == "http.request.line" and first_line[1] == "GET / HTTP/1.1"
    data = base64.b64decode(http[0]["bytes"])
    assert data[first_line[2] : first_line[3]] == b"GET / HTTP/1.1"


def test_files_fill_up_to_their_size_and_the_page_is_the_html_received(documents):
    document = documents["clean"]
    for item in document["files"]:
        sizes = [size for _t, size in item["progress"]]
        assert sizes == sorted(sizes) and sizes[-1] >= item["wire_size"]
        assert item["segments"] >= 1
    page = document["page"]
    assert page["html"].lstrip().lower().startswith("<!doctype html>")
    assert page["images"] and all(i["data"].startswith("data:image/") for i in page["images"])


def test_each_stream_holds_the_bytes_its_frames_point_at(documents):
    document = documents["clean"]
    assert document["streams"]
    for stream in document["streams"]:
        received = base64.b64decode(stream["received"]["bytes"])
        assert received.startswith(b"HTTP/1.1 ")
        for frame, start, end in stream["received"]["frames"]:
            data = base64.b64decode(document["frames"][frame]["bytes"])
            assert data.endswith(received[start:end])


def test_the_demo_document_is_built_in_about_a_second(runs):
    import time

    trace = runs["clean"]
    started = time.perf_counter()
    app_data(trace)
    assert time.perf_counter() - started < 3.0  # ~1 s alone here; a shared machine gets slack


def test_the_seed_a_sim_ran_with_is_in_its_trace_and_a_real_run_has_none(runs, documents):
    assert simulate(seed=7).of_type(NetworkDescribed)[0].seed == 7
    assert documents["clean"]["run"]["seed"] == 1
    again = Trace.from_json(runs["loss"].to_json())  # a trace saved with --json keeps it
    assert app_data(again)["run"]["seed"] == 1
    assert documents["real"]["run"]["seed"] is None


LOSS = re.compile(r"\b(was|were) lost\b")


@pytest.mark.parametrize("name", ["loss", "drop-synack"])
def test_each_sentence_tells_a_moment_of_its_own_step_and_a_loss_is_told_when_it_happened(
    runs, documents, name
):
    document = documents[name]
    steps = {step["step"]: step for step in document["steps"]}
    lost = [f["lost"] for f in document["flights"] if f["lost"] is not None]
    told_losses = 0
    for paragraph in document["story"]:
        if paragraph["step"] is None:
            continue
        step = steps[paragraph["step"]]
        for sentence in paragraph["sentences"]:
            text = sentence["text"]["en"]
            assert step["t"] - 1e-6 <= sentence["t"] <= step["end"] + 1e-6, (step, text)
            if LOSS.search(text) and not text.startswith("What was lost"):  # not a summary
                told_losses += 1
                assert any(abs(sentence["t"] - t) <= 1e-6 for t in lost), text
    assert told_losses == {"loss": 3, "drop-synack": 1}[name]  # DNS, the pieces, TCP's resends
    # Spanish tells the same sentences at the same moments, from its own narration.
    for language in ("en", "es"):
        told = narrate(runs[name], language)
        anchors = [t for p in told for _s, t in p.sentences]
        assert anchors == pytest.approx(
            [s["t"] for p in document["story"] for s in p["sentences"]], abs=1e-6
        )


def test_a_lost_syn_ack_and_the_syn_sent_again_are_told_when_they_happened(documents):
    document = documents["drop-synack"]
    (lost,) = [f for f in document["flights"] if f["lost"] is not None]
    resent = next(m for m in document["messages"] if m["kind"] == "syn" and m["again"])
    sentences = {s["text"]["en"].split(":")[0]: s["t"] for p in document["story"]
                 for s in p["sentences"]}  # fmt: skip
    assert sentences["The server's SYN-ACK was lost on the browser's link"] == lost["lost"]
    waited = next(t for text, t in sentences.items() if text.startswith("The browser waited"))
    assert waited == resent["t"]
    built = next(t for text, t in sentences.items() if text.startswith("Then it built"))
    assert built == document["steps"][-1]["end"]


def tshark_counts(pcap: bytes, tmp_path: Path, name: str, address: str) -> Counter[str]:
    """What tshark's dissection of one host's capture counts: SYNs, SYN-ACKs, DNS
    questions and answers, HTTP requests and responses, and the segments the host
    itself sent again (a retransmission by Wireshark's TCP analysis)."""
    tshark = require_program("tshark")
    path = tmp_path / f"{name}.pcap"
    path.write_bytes(pcap)
    fields = ["ip.src", "tcp.flags.syn", "tcp.flags.ack", "dns.flags.response",
              "http.request", "http.response", "tcp.analysis.retransmission",
              "tcp.analysis.fast_retransmission",
              "tcp.analysis.spurious_retransmission"]  # fmt: skip
    out = subprocess.run(
        [tshark, "-r", str(path), "-T", "fields", "-E", "occurrence=f",
         *(arg for field in fields for arg in ("-e", field))],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    counts: Counter[str] = Counter()
    for line in out.splitlines():
        source, syn, ack, response, request, answer, *again = line.split("\t")
        truthy = {"1", "True", "true"}
        if syn in truthy:
            counts["syn-ack" if ack in truthy else "syn"] += 1
        if response:
            counts["dns-answer" if response in truthy else "dns-query"] += 1
        counts["request"] += bool(request)
        counts["response"] += bool(answer)
        counts["again"] += source == address and any(again)
    return +counts


def app_counts(document: dict[str, Any], host: str) -> Counter[str]:
    """The same counts from the app's messages: those ``host`` sent, and those that
    reached it."""
    counts: Counter[str] = Counter()
    for message in document["messages"]:
        sent = message["from"] == host
        received = message["to"] == host and not message["lost"] and len(message["events"]) > 1
        if not (sent or received):
            continue
        kind = {"dns-referral": "dns-answer"}.get(message["kind"], message["kind"])
        handshake_or_dns = kind in ("syn", "syn-ack", "dns-query", "dns-answer")
        if handshake_or_dns or (kind in ("request", "response") and not message["again"]):
            counts[kind] += 1
        counts["again"] += sent and message["again"]
    return +counts


@pytest.mark.peer("tshark")
@pytest.mark.parametrize("name", ["clean", "drop-synack", "loss"])
def test_each_hosts_messages_by_kind_are_what_tshark_dissects_in_its_capture(
    runs, documents, name, tmp_path
):
    trace, document = runs[name], documents[name]
    checked = 0
    for node in document["topology"]["nodes"]:
        if node["role"] == "router":
            continue
        pcap = pcap_from_trace(trace, node["id"])
        counts = tshark_counts(pcap, tmp_path, node["id"], node["addresses"][0])
        assert app_counts(document, node["id"]) == counts, node["id"]
        checked += 1
    assert checked == 6


SEGMENT = re.compile(r"^segment (\d+) of (\d+) of (\S+)( again)?$")


def test_data_segments_are_named_by_file_and_place_as_their_sender_sent_them(documents):
    document = documents["loss"]
    named: dict[str, list[tuple[int, int, bool, bool]]] = {}
    for message in document["messages"]:
        found = SEGMENT.match(message["label"]["en"])
        if message["kind"] != "data" or message["from"] != "web":
            continue
        assert found, message["label"]
        k, total, path, again = found.groups()
        named.setdefault(path, []).append((int(k), int(total), bool(again), message["lost"]))
        assert bool(again) == message["again"]
        spanish = f"segmento {k} de {total} de {path}" + (", otra vez" if again else "")
        assert message["label"]["es"] == spanish
        for f in message["flights"]:  # every hop is called what its sender called it
            assert document["flights"][f]["label"] == message["label"]
    image = named["/img/astronaut.jpg"]
    assert {total for _k, total, _again, _lost in image} == {37}
    # Segment 1 is the one that begins "HTTP/1.1 200 OK"; 2 to 37 each sent once, and
    # each lost one sent again under its own number.
    assert sorted(k for k, _total, again, _lost in image if not again) == list(range(2, 38))
    lost = sorted(k for k, _total, _again, was_lost in image if was_lost)
    assert lost and sorted(k for k, _total, again, _lost in image if again) == lost
    labels = {m["label"]["en"] for m in document["messages"]}
    assert {"DNS query A www.webtrip.test", "HTTP GET /", "HTTP/1.1 200 OK"} <= labels


def test_the_packed_document_is_the_same_text_in_under_a_third_of_its_size(documents):
    import gzip

    text = json.dumps(documents["clean"], ensure_ascii=False, separators=(",", ":"))
    data = packed(text)
    assert gzip.decompress(base64.b64decode(data)).decode("utf-8") == text
    assert len(data) < len(text.encode("utf-8")) / 3
    assert packed(text) == data  # no time stamp inside: the same bytes every time
