"""Runs made on request: made, fetched, run again with one change, followed by events."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import jsonschema

from ui.conftest import start_ui
from webtrip.report.app_data import LATER, merged, schema


def test_a_run_is_made_and_its_app_data_fetched(ui_server):
    answer = ui_server.post_run({"loss": 5, "seed": 3, "lang": "en"})
    assert answer.status_code == 202
    run = ui_server.wait(answer.json()["id"])
    assert run["status"] == "done", run
    assert run["params"]["seed"] == 3 and run["params"]["loss"] == 5
    data = run["data"]
    jsonschema.validate(data, schema())
    assert data["run"]["kind"] == "sim" and data["run"]["seed"] == 3
    assert data["run"]["status"] == 200
    assert run["summary"]["en"].startswith("http://www.webtrip.test/ · loss 5% · seed 3 · 200 in")
    assert run["summary"]["es"].startswith("http://www.webtrip.test/ · pérdida 5% · semilla 3")
    with ui_server.client() as client:
        listed = client.get("/api/runs").json()["runs"]
    assert any(r["id"] == run["id"] and "data" not in r for r in listed)


def test_a_dropped_syn_ack_is_in_the_run(ui_server):
    body = {"faults": [{"action": "drop", "packet": "synack"}], "seed": 1}
    run = ui_server.wait(ui_server.post_run(body).json()["id"])
    lost = [f for f in run["data"]["flights"] if f["lost"] is not None]
    assert len(lost) == 1


def test_run_again_with_no_change_is_byte_identical(ui_server):
    first = ui_server.wait(ui_server.post_run({"loss": 5, "seed": 11}).json()["id"])
    again = ui_server.post_run({"base": first["id"], "change": {"seed": 11}})
    assert again.status_code == 202
    second = ui_server.wait(again.json()["id"])
    assert second["parent"] == first["id"] and second["change"] == "seed"
    with ui_server.client() as client:
        one = client.get(f"/api/runs/{first['id']}/trace").content
        two = client.get(f"/api/runs/{second['id']}/trace").content
    assert one == two
    assert first["data"] == second["data"]


def test_run_again_keeps_the_seed_and_changes_only_the_one_value(ui_server):
    first = ui_server.wait(ui_server.post_run({"latency": 20, "seed": 5}).json()["id"])
    second = ui_server.wait(
        ui_server.post_run({"base": first["id"], "change": {"latency": 80}}).json()["id"]
    )
    assert second["params"] == first["params"] | {"latency": 80.0}
    assert second["data"]["run"]["seed"] == 5
    # The same world, slower: the page took longer, and the SYN still left at once.
    assert second["data"]["run"]["ended"] > first["data"]["run"]["ended"]


def test_run_again_with_two_changes_is_refused(ui_server):
    first = ui_server.wait(ui_server.post_run({"seed": 2}).json()["id"])
    answer = ui_server.post_run({"base": first["id"], "change": {"loss": 1, "seed": 3}})
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("Run again with one change")


def test_the_event_stream_tells_the_run_finished(ui_server):
    heard: list[dict[str, object]] = []
    ready = threading.Event()

    def listen() -> None:
        with ui_server.client() as client, client.stream("GET", "/api/events") as stream:
            kind = None
            for line in stream.iter_lines():
                ready.set()
                if line.startswith("event: "):
                    kind = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    heard.append({"type": kind, **json.loads(line.removeprefix("data: "))})
                    if kind in ("finished", "failed"):
                        return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert ready.wait(10)
    run_id = ui_server.post_run({"seed": 4}).json()["id"]
    thread.join(90)
    kinds = [(e["type"], e["run"]["id"]) for e in heard]  # type: ignore[index]
    assert ("queued", run_id) in kinds and ("started", run_id) in kinds
    assert kinds[-1] == ("finished", run_id)
    assert heard[-1]["run"]["status"] == "done"  # type: ignore[index]


def test_a_full_queue_refuses_with_429_and_one_sentence():
    server = start_ui()
    try:
        bodies = [{"seed": n, "loss": 10, "lang": "en" if n <= 7 else "es"} for n in range(1, 9)]
        answers = [server.post_run(body) for body in bodies]
        codes = [a.status_code for a in answers]
        # One run taken by the worker's thread and four waiting, then refusals.
        assert codes[:5] == [202] * 5 and codes[6:] == [429, 429], codes
        english, spanish = answers[6].json()["error"], answers[7].json()["error"]
        assert english == "Too many runs are waiting: try again when one has finished."
        assert spanish.startswith("Hay demasiadas ejecuciones esperando: vuelve a intentarlo")
    finally:
        assert server.stop() == 0


def test_ctrl_c_stops_the_app_cleanly_with_one_line():
    server = start_ui()
    with server.client() as client:
        assert client.get("/api/options").status_code == 200
    started = time.monotonic()
    assert server.stop() == 0
    assert time.monotonic() - started < 10
    time.sleep(0.2)
    assert [line.strip() for line in server.lines[1:]] == ["webtrip ui: stopped."]


def test_a_site_folder_named_at_start_is_served_in_the_demo_lab():
    site = Path(__file__).resolve().parents[1] / "data" / "sites" / "www"
    server = start_ui("--site", str(site))
    try:
        with server.client() as client:
            labs = client.get("/api/options").json()["labs"]
        assert {"name": "www", "kind": "site", "url": "http://www.webtrip.test/"} in labs
        run = server.wait(server.post_run({"lab": "www", "seed": 1}).json()["id"])
        assert run["status"] == "done", run
        assert run["data"]["run"]["status"] == 200
        assert all(f["url"].startswith("http://www.webtrip.test/") for f in run["data"]["files"])
    finally:
        assert server.stop() == 0


def test_the_first_part_comes_first_and_the_rest_completes_it(ui_server):
    """``?part=first`` is what the first frame draws (no frames, streams, page, glossary);
    ``/rest`` is those keys; together they are the whole document ``GET /api/runs/ID``
    gives, which follows the schema."""
    run = ui_server.wait(ui_server.post_run({"loss": 5, "seed": 4}).json()["id"])
    with ui_server.client() as client:
        first = client.get(f"/api/runs/{run['id']}?part=first").json()["data"]
        rest = client.get(f"/api/runs/{run['id']}/rest").json()
        whole = client.get(f"/api/runs/{run['id']}").json()["data"]
        assert client.get("/api/runs/nothing/rest").status_code == 404
    assert not set(LATER) & set(first)
    assert set(rest) == set(LATER)
    assert rest["frames"] and all("layers" in frame for frame in rest["frames"])
    assert first | rest == whole
    jsonschema.validate(merged(first, rest), schema())
