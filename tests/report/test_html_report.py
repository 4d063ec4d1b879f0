"""The HTML replay page: one self-contained file that steps through the run.

The file must ask the network for nothing (no external reference of any
kind), embed the trace's data as JSON that parses, escape every text, and
speak Spanish when asked. Headless Chromium then opens it from ``file://``
with every host name unresolvable: in ``?selftest`` mode the page steps
through every event with the functions its buttons use and writes what it
visited, any script error, the resources it loaded and how far the page
overflows sideways into ``#selftest``, which ``--dump-dom`` shows.
Screenshots at desktop and phone sizes must be PNGs of those sizes (copies
are left in /tmp/webtrip-report-desktop.png and /tmp/webtrip-report-phone.png
for a person to look at).
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import html
import json
import re
import shutil
import struct
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from peers.chromium import CHROMIUM_FLAGS, run_chromium
from support import require_program
from support import run_webtrip as webtrip
from webtrip import lab
from webtrip.lab import sim as simulated
from webtrip.report.app_data import LATER, app_data_json, merged
from webtrip.report.html import APP_SCRIPTS, app_script, embedded_data, html_report
from webtrip.report.reassembly import SEGMENT_OF_A_MESSAGE as LABEL
from webtrip.trace import HttpRequestQueued, PacketCaptured, PageLoadStarted, Trace

RUN_TIMEOUT = 45.0  # seconds for one Chromium run
HOSTILE = "http://evil.test/</script><script>alert(1)</script><b>&amp;"


@pytest.fixture(scope="module")
def sim_trace() -> Trace:
    return simulated.run(lab.demo_lab(), 1).world.trace


@pytest.fixture(scope="module")
def failed_trace() -> Trace:
    return simulated.run(lab.demo_lab(), 1, dns_silent=True).world.trace


def hostile_trace() -> Trace:
    trace = Trace(clock=lambda: 0.0, wall_start=0.0)
    trace.events.append(PageLoadStarted(0.0, "browser<i>", HOSTILE))
    trace.events.append(HttpRequestQueued(0.001, "browser", 1, "GET", HOSTILE, None, "document"))
    return trace


def embedded(page: str) -> dict[str, Any]:
    data = embedded_data(page)
    assert data is not None, "no embedded trace data"
    return data


def assert_self_contained(page: str) -> None:
    assert "http://" not in page and "https://" not in page
    for match in re.finditer(
        r"""\b(?:src|href|action|srcset|poster)\s*=\s*["']?([^"'\s>]*)""", page
    ):
        assert match.group(1).startswith(("#", "data:")), match.group(0)
    lowered = page.lower()
    for needle in ("<link", "<iframe", "<img", "<object", "<embed", "@import", "fetch(", "xmlhttp"):
        assert needle not in lowered, needle
    for match in re.finditer(r"url\(\s*['\"]?([^'\")]*)", page):
        assert match.group(1).startswith(("#", "data:")), match.group(0)


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_page_is_self_contained_and_its_data_parses(sim_trace, language):
    page = html_report(sim_trace, language)
    assert page.startswith("<!DOCTYPE html>")
    assert_self_contained(page)
    data = embedded(page)
    assert [e["type"] for e in data["events"]] == [type(e).__name__ for e in sim_trace.events]
    assert [e["i"] for e in data["events"]] == list(range(len(sim_trace.events)))
    assert {"browser"} <= {actor["id"] for actor in data["actors"]}
    assert len(data["files"]) == 6  # the page and its five files
    assert data["views"][0]["rows"], "a simulated run shows its packets"
    first = data["frames"][data["views"][0]["rows"][0]["frame"]]
    assert first["fields"] and base64.b64decode(first["bytes"])[0] == 0x45  # IPv4, 20 bytes
    started = next(e for e in data["events"] if e["type"] == "PageLoadStarted")
    assert started["fields"].endswith("http://www.webtrip.test/")  # "\/" in the file
    assert started["text"]["en"].endswith("http://www.webtrip.test/.")  # a sentence
    assert started["text"]["es"].endswith("http://www.webtrip.test/.")  # both languages inside
    # Two parts inside: what the first frame draws, then the rest (unpacked after it);
    # together the whole document, the same as app_data's.
    first, rest = (
        json.loads(gzip.decompress(base64.b64decode(found)))
        for found in re.findall(r'id="trace-data(?:-rest)?">([^<]*)</script>', page)
    )
    assert set(rest) == set(LATER) and not set(LATER) & set(first)
    whole = json.loads(app_data_json(sim_trace))
    assert data == whole == merged(first, rest)
    assert list(data) == list(whole)  # the keys in their order


def test_each_node_has_its_own_list_and_a_clean_run_marks_nothing(sim_trace):
    """The list is one node's capture at a time, the browser's first: a copy of a
    segment seen by another node (or by the router on another link) is not a
    retransmission, so a run without loss shows no "[TCP ..." mark in any list (a piece
    of a longer HTTP message is labelled as such, which is no mark)."""
    data = embedded(html_report(sim_trace))
    nodes = [view["node"] for view in data["views"]]
    assert nodes[0] == "browser" and {"router", "web", "resolver"} <= set(nodes)
    for view in data["views"]:
        assert [r["info"] for r in view["rows"] if r["mark"]] == [], view["node"]
        unlabelled = [r["info"].replace(LABEL, "") for r in view["rows"]]
        assert not [info for info in unlabelled if "[TCP " in info], view["node"]
        captured = [
            e for e in sim_trace.events if isinstance(e, PacketCaptured) and e.actor == view["node"]
        ]
        assert len(view["rows"]) == len(captured), "its own capture: every packet, once"
    browser = data["views"][0]
    assert browser["title"] == "browser (10.0.0.1)" and not browser["interfaces"]
    router = data["views"][nodes.index("router")]
    assert router["interfaces"]
    assert {r["where"]["en"].split()[1] for r in router["rows"]} == {"in", "out"}
    assert {r["where"]["es"].split()[1] for r in router["rows"]} == {"entrada", "salida"}


def test_a_lost_synack_is_one_retransmission_in_the_browsers_list():
    """--drop synack: the browser sends its SYN once more, and that is the only
    retransmission its list shows (the list once merged every node's copies and
    marked five handshake rows)."""
    trace = simulated.run(lab.demo_lab(), 1, faults=[lab.parse_fault("drop", "synack")]).world.trace
    browser = embedded(html_report(trace))["views"][0]
    marked = [r["info"] for r in browser["rows"] if r["mark"]]
    assert len(marked) == 1 and marked[0].startswith("[TCP Retransmission] ")
    assert [r["mark"] for r in browser["rows"] if r["mark"]] == ["[TCP Retransmission]"]
    assert [r for r in browser["rows"] if "[TCP " in r["info"].replace(LABEL, "")] == [
        r for r in browser["rows"] if r["mark"]
    ]
    assert "[SYN]" in marked[0]


def test_failed_runs_and_real_runs_without_packets(failed_trace):
    page = html_report(failed_trace)
    assert_self_contained(page)
    data = embedded(page)
    assert any(f["error"] for f in data["files"])
    without = Trace(clock=lambda: 0.0, wall_start=0.0)
    without.events.extend(e for e in failed_trace.events if type(e).__name__ != "PacketCaptured")
    page = html_report(without)
    assert embedded(page)["views"] == []  # the app hides the packets (Chromium test below)
    empty = html_report(Trace(clock=lambda: 0.0, wall_start=0.0))
    assert embedded(empty)["events"] == []


def test_every_text_is_escaped():
    page = html_report(hostile_trace())
    assert "</script><script>alert" not in page and "alert(1)</script>" not in page
    assert "<i>" not in page and "<b>" not in page
    assert_self_contained(page)
    data = embedded(page)
    assert data["events"][0]["actor"] == "browser<i>"
    assert data["files"][0]["url"] == HOSTILE
    assert [actor["id"] for actor in data["actors"]] == ["browser<i>", "browser"]


@pytest.mark.peer("node")
def test_the_replays_script_is_valid_javascript(tmp_path):
    """The app's files are package data that tools can check: node parses each of its
    scripts and the page's script, which is them concatenated in their order."""
    node = require_program("node")
    folder = resources.files("webtrip.report").joinpath("app")
    for name in APP_SCRIPTS:
        assert folder.joinpath(name).is_file(), name
    script = tmp_path / "app.js"
    script.write_text(app_script(), encoding="utf-8")
    done = subprocess.run([node, "--check", str(script)], capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_spanish_labels(sim_trace):
    page = html_report(sim_trace, "es")
    assert '<html lang="es">' in page
    words = embedded(page)["words"]["es"]
    assert words["controls"]["forward"] == "Un paso adelante"
    assert words["controls"]["back"] == "Un paso atrás"
    assert words["controls"]["play"] == "Reproducir"
    assert (words["waterfall"], words["packets"]) == ("Cascada", "Paquetes")
    assert "evento {k} de {n}" in words["position"]
    assert "<title>webtrip — reproducción" in page or "Step forward" not in page.split("<style>")[0]


def test_demo_writes_the_page(tmp_path):
    done = webtrip("demo", "--lang", "en", "--no-render", "--report", "d.html", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "d.html").read_text(encoding="utf-8")
    assert_self_contained(page)
    assert embedded(page)["events"]


# --- headless Chromium ------------------------------------------------------------------

FLAGS = (
    *CHROMIUM_FLAGS,
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # any request would fail, and be seen
    "--virtual-time-budget=30000",  # the DOM is dumped once the page's data is unpacked
)


def chromium(workdir: Path, url: str, *options: str) -> str:
    """Run headless Chromium once on ``url``; its stdout."""
    return run_chromium(workdir, url, *options, flags=FLAGS, timeout=RUN_TIMEOUT).stdout


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture(scope="module")
def page_file(sim_trace, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("page") / "run.html"
    path.write_text(html_report(sim_trace), encoding="utf-8")
    return path


@pytest.mark.peer("chromium")
@pytest.mark.parametrize("size", ["1280,900", "390,844"])
def test_chromium_steps_through_every_event_without_errors_or_requests(
    page_file, sim_trace, tmp_path, size
):
    dom = chromium(
        tmp_path,
        page_file.as_uri() + "?selftest",
        f"--window-size={size}",
        "--dump-dom",
    )
    match = re.search(r'<pre id="selftest">(.*?)</pre>', dom, re.S)
    assert match and match.group(1), dom[-2000:]
    result = json.loads(html.unescape(match.group(1)))
    n = len(sim_trace.events)
    assert result["events"] == n
    assert result["forward"] == list(range(n)), "stepping forward visits every event in order"
    assert result["backEnd"] == 0, "stepping back returns to the first event"
    # A step answers at once: it took 41 ms when each one laid the page out again (63 s
    # for the 769 events of the demo with its photo, there and back); now about 0.1 ms.
    assert 0 <= result["steppingMs"] < 5000, "stepping through every event is instant"
    assert result["keysAndButtons"] == [1, 0, 1, 0], "→, ←, the forward and back buttons"
    assert result["errors"] == []
    assert result["resources"] == [], "the page made no network request"
    assert result["overflow"] <= 0, "the page does not scroll sideways"
    # The first packet opened: its bytes drawn as Wireshark's hex pane, from the page's data.
    assert result["firstBytes"].startswith("0000  45 00 00 "), result["firstBytes"][:80]
    data = embedded(page_file.read_text(encoding="utf-8"))
    lists = {entry["node"]: entry for entry in result["lists"]}
    assert list(lists) == [view["node"] for view in data["views"]]
    assert next(iter(lists)) == "browser", "the browser's own capture is shown first"
    for view in data["views"]:
        assert lists[view["node"]]["rows"] == len(view["rows"])
        assert lists[view["node"]]["marked"] == 0, "a run without loss marks nothing"
        assert lists[view["node"]]["shownMarks"] == 0
    assert lists["router"]["columns"] == 8, "the router's list says on which interface"
    assert lists["browser"]["columns"] == 7


@pytest.fixture(scope="module")
def spanish_page_file(sim_trace, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("pagina") / "ejecucion.html"
    path.write_text(html_report(sim_trace, "es"), encoding="utf-8")
    return path


@pytest.mark.peer("chromium")
@pytest.mark.parametrize(
    ("size", "keep"),
    [
        ((1280, 900), "/tmp/webtrip-report-desktop-es.png"),
        ((390, 844), "/tmp/webtrip-report-phone-es.png"),
    ],
)
def test_chromium_screenshots_of_the_spanish_replay(spanish_page_file, tmp_path, size, keep):
    """The Spanish replay as a learner sees it, on a desktop and on a phone: drawn (not
    blank), in Spanish, with no error and nothing wider than the screen."""
    shot = tmp_path / "shot.png"
    width, height = size
    chromium(
        tmp_path,
        spanish_page_file.as_uri(),
        f"--window-size={width},{height}",
        f"--screenshot={shot}",
    )
    data = shot.read_bytes()
    assert png_size(data) == size
    # A blank or nearly empty page compresses to a few kilobytes; this one has text.
    assert len(data) > 20_000, f"the screenshot looks empty ({len(data)} bytes)"
    with contextlib.suppress(OSError):
        shutil.copyfile(shot, keep)
    dom = chromium(
        tmp_path,
        spanish_page_file.as_uri() + "?selftest",
        f"--window-size={width},{height}",
        "--dump-dom",
    )
    assert '<html lang="es"' in dom
    shown = dom.split('<script type="application/json"')[0]  # the page drawn, not its data
    for words in ("Paso 1 — DNS", "Un paso adelante", "Paquetes capturados en"):
        assert words in shown, words
    assert "Step forward" not in shown and "Packets captured at" not in shown
    match = re.search(r'<pre id="selftest">(.*?)</pre>', dom, re.S)
    assert match and match.group(1), dom[-2000:]
    result = json.loads(html.unescape(match.group(1)))
    assert result["errors"] == []
    assert result["resources"] == [], "the page made no network request"
    assert result["overflow"] <= 0, "the page does not scroll sideways"


@pytest.mark.peer("chromium")
def test_chromium_replays_a_failed_run_without_packets(failed_trace, tmp_path):
    without = Trace(clock=lambda: 0.0, wall_start=0.0)
    without.events.extend(e for e in failed_trace.events if type(e).__name__ != "PacketCaptured")
    page = tmp_path / "failed.html"
    page.write_text(html_report(without, "es"), encoding="utf-8")
    dom = chromium(tmp_path, page.as_uri() + "?selftest", "--window-size=390,844", "--dump-dom")
    match = re.search(r'<pre id="selftest">(.*?)</pre>', dom, re.S)
    assert match and match.group(1), dom[-2000:]
    result = json.loads(html.unescape(match.group(1)))
    assert result["forward"] == list(range(len(without.events)))
    assert result["errors"] == [] and result["resources"] == [] and result["overflow"] <= 0
    assert re.search(r'<div id="packets" role="table" hidden', dom), "no packets: no list"
