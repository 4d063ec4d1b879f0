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
from collections import Counter
from typing import Any

import jsonschema
import pytest

from webtrip import lab as lab_spec
from webtrip.cli.demo import run_demo
from webtrip.lab import sim as simulated
from webtrip.report.app_data import app_data, app_data_json, schema
from webtrip.trace import PacketCaptured, Trace
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
def test_story_sentences_move_forward_within_each_step_and_the_run(documents, name):
    document = documents[name]
    times = [s["t"] for p in document["story"] for s in p["sentences"]]
    assert times == sorted(times)
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
