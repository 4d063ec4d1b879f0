"""Headless Chromium, a real browser, loads the test site from ``webtrip web serve``.

The page needs a stylesheet, a script and two images. The tests prove, from
the server's access log, that Chromium fetched each part with ``200`` over
HTTP/1.1, and, from the browser's own side, that each part was *applied*: the
script marked the document (``--dump-dom``), the computed styles, image sizes
and pixels are the expected ones (a probe page that reports them), and a
screenshot shows the stylesheet's background, the PNG logo and the SVG
diagram in their colours (decoded here with zlib: no imaging library).

Chromium runs with a fresh profile in ``tmp_path``, no background network
traffic, the site's name mapped to the loopback port
(``--host-resolver-rules``), a time limit, and its whole process group is
killed afterwards.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import struct
import time
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from peers.chromium import CHROMIUM_FLAGS, ChromiumRun, run_chromium
from support import (
    DATA,
    RunningWebServer,
    require_program,
    webtrip_web_server,
)

pytestmark = pytest.mark.peer("chromium")

WWW = DATA / "sites" / "www"
HOST = "www.example.test"
RUN_TIMEOUT = 45.0  # seconds for one Chromium run
PARTS = ["/style.css", "/script.js", "/img/logo.png", "/img/diagram.svg"]
FILES = {"/": "index.html", **{part: part[1:] for part in PARTS}}

# Colours the test site is made of (style.css, img/logo.png, img/diagram.svg).
BACKGROUND = (253, 253, 253)  # body { background: #fdfdfd }
HEADING = (12, 34, 56)  # h1 { color: rgb(12, 34, 56) }
LOGO = (200, 60, 40)  # every pixel of the 32×32 logo.png
DIAGRAM = (204, 221, 238)  # the SVG's rect fill="#cde"

# A page that loads the same parts as index.html and writes down, once
# everything has loaded, what the browser made of them.
PROBE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>probe</title>
  <link rel="stylesheet" href="/style.css">
  <script src="/script.js" defer></script>
</head>
<body>
  <h1>Probe</h1>
  <img id="logo" src="/img/logo.png" alt="">
  <img id="diagram" src="img/diagram.svg" alt="">
  <pre id="report">not loaded</pre>
  <script>
    function pixel(image, x, y) {
      const canvas = document.createElement("canvas");
      canvas.width = image.naturalWidth;
      canvas.height = image.naturalHeight;
      const context = canvas.getContext("2d");
      context.drawImage(image, 0, 0);
      return Array.from(context.getImageData(x, y, 1, 1).data);
    }
    window.addEventListener("load", () => {
      const logo = document.getElementById("logo");
      const diagram = document.getElementById("diagram");
      const resources = performance.getEntriesByType("resource").map((entry) => ({
        path: new URL(entry.name).pathname,
        status: entry.responseStatus,
        protocol: entry.nextHopProtocol,
        encoded: entry.encodedBodySize,
        decoded: entry.decodedBodySize,
      }));
      document.getElementById("report").textContent = JSON.stringify({
        scriptRan: document.documentElement.dataset.scriptRan || "",
        h1Color: getComputedStyle(document.querySelector("h1")).color,
        background: getComputedStyle(document.body).backgroundColor,
        logo: [logo.complete, logo.naturalWidth, logo.naturalHeight, pixel(logo, 5, 5)],
        diagram: [diagram.complete, diagram.naturalWidth, diagram.naturalHeight,
                  pixel(diagram, 2, 2)],
        resources: resources,
      });
    });
  </script>
</body>
</html>
"""


# --- Chromium ------------------------------------------------------------------------


class Chromium:
    """Runs headless Chromium with the site's name mapped to the server's loopback port."""

    FLAGS = (
        *CHROMIUM_FLAGS,
        "--disable-quic",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
    )

    def __init__(self, server: RunningWebServer, workdir: Path) -> None:
        self.server = server
        self.workdir = workdir

    def __call__(self, url: str, *options: str) -> ChromiumRun:
        rules = f"MAP {HOST} {self.server.host}:{self.server.port}"
        return run_chromium(
            self.workdir,
            url,
            f"--host-resolver-rules={rules}",
            *options,
            flags=self.FLAGS,
            timeout=RUN_TIMEOUT,
        )


# --- the access log ------------------------------------------------------------------

LOG_LINE = re.compile(
    r'^(?P<client>\S+) - - \[[^\]]+\] "(?P<method>\S+) (?P<target>\S+) '
    r'HTTP/(?P<version>\d\.\d)" (?P<status>\d{3}) (?P<size>\d+|-)$'
)


@dataclass(frozen=True)
class LogEntry:
    method: str
    target: str
    version: str
    status: int
    size: int


def read_log(server: RunningWebServer) -> list[LogEntry]:
    entries = []
    lines = server.log_lines() if server.access_log.exists() else []
    for line in lines:
        match = LOG_LINE.match(line)
        assert match, f"not a Common Log Format line: {line!r}"
        size = 0 if match["size"] == "-" else int(match["size"])
        entries.append(
            LogEntry(match["method"], match["target"], match["version"], int(match["status"]), size)
        )
    return entries


def logged_since(
    server: RunningWebServer, start: int, targets: Sequence[str], timeout: float = 5.0
) -> list[LogEntry]:
    """The log entries after ``start``, once every one of ``targets`` is among them."""
    deadline = time.monotonic() + timeout
    while True:
        entries = read_log(server)[start:]
        if set(targets) <= {e.target for e in entries} or time.monotonic() > deadline:
            return entries
        time.sleep(0.05)


# --- PNG, the little that is needed --------------------------------------------------


@dataclass
class Image:
    width: int
    height: int
    pixels: list[tuple[int, int, int]]  # row by row, alpha dropped

    def at(self, x: int, y: int) -> tuple[int, int, int]:
        return self.pixels[y * self.width + x]


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def decode_png(data: bytes) -> Image:
    """An 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes), as pixels."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    position, idat = 8, b""
    width = height = channels = 0
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        crc = struct.unpack(">I", data[position + 8 + length : position + 12 + length])[0]
        assert zlib.crc32(kind + body) == crc, f"bad CRC in chunk {kind!r}"
        position += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    raw = zlib.decompress(idat)
    stride = width * channels
    assert len(raw) == height * (stride + 1)
    previous = bytearray(stride)
    pixels: list[tuple[int, int, int]] = []
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                line[i] = (line[i] + _paeth(left, up, corner)) & 0xFF
            else:
                assert kind == 0, f"unknown PNG filter {kind}"
        pixels += [(line[i], line[i + 1], line[i + 2]) for i in range(0, stride, channels)]
        previous = line
    return Image(width, height, pixels)


def test_the_png_decoder_reads_the_logo() -> None:
    image = decode_png((WWW / "img" / "logo.png").read_bytes())
    assert (image.width, image.height) == (32, 32)
    assert set(image.pixels) == {LOGO}


# --- fixtures ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium_program() -> str:
    return require_program("chromium")


@pytest.fixture(scope="module")
def server(
    chromium_program: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningWebServer]:
    """The www site (a copy, with the probe page added) under its name."""
    site = tmp_path_factory.mktemp("site") / "www"
    shutil.copytree(WWW, site)
    (site / "probe.html").write_text(PROBE)
    with webtrip_web_server(sites={HOST: site}, log_dir=tmp_path_factory.mktemp("log")) as running:
        yield running


@pytest.fixture
def chromium(chromium_program: str, server: RunningWebServer, tmp_path: Path) -> Chromium:
    return Chromium(server, tmp_path)


def by_target(entries: Sequence[LogEntry]) -> dict[str, LogEntry]:
    found: dict[str, LogEntry] = {}
    for entry in entries:
        found.setdefault(entry.target, entry)
    return found


# --- the tests -----------------------------------------------------------------------


def test_the_page_and_all_its_parts_load(chromium: Chromium, server: RunningWebServer) -> None:
    start = len(read_log(server))
    run = chromium(f"http://{HOST}/", "--dump-dom")
    assert run.returncode == 0, run.stderr[-3000:]
    html_tag = re.search(r"<html[^>]*>", run.stdout)
    assert html_tag, run.stdout[:500]
    assert 'data-script-ran="yes"' in html_tag.group(0), "the script did not run"

    entries = logged_since(server, start, list(FILES))
    seen = by_target(entries)
    for target in FILES:
        assert target in seen, f"Chromium never asked for {target}: {entries}"
        assert (seen[target].method, seen[target].status) == ("GET", 200), seen[target]
        assert seen[target].version == "1.1"
    assert all(e.status < 500 for e in entries), entries
    # A fresh profile has an empty cache: one request for each part, no more.
    counts = Counter(e.target for e in entries)
    assert all(counts[target] == 1 for target in FILES), counts
    # Chromium accepts gzip: the text files large enough to compress went
    # over the wire compressed, yet the page worked.
    for target in ("/", "/style.css"):
        assert seen[target].size < (WWW / FILES[target]).stat().st_size, seen[target]
    for target in ("/script.js", "/img/logo.png", "/img/diagram.svg"):
        assert seen[target].size == (WWW / FILES[target]).stat().st_size, seen[target]


def test_every_part_is_applied(chromium: Chromium, server: RunningWebServer) -> None:
    start = len(read_log(server))
    run = chromium(f"http://{HOST}/probe.html", "--dump-dom")
    assert run.returncode == 0, run.stderr[-3000:]
    found = re.search(r'<pre id="report">(.*?)</pre>', run.stdout, re.S)
    assert found, run.stdout[-2000:]
    text = html.unescape(found.group(1))
    assert text != "not loaded", "the load event never came"
    report: dict[str, Any] = json.loads(text)

    assert report["scriptRan"] == "yes"
    assert report["h1Color"] == "rgb(12, 34, 56)"
    assert report["background"] == "rgb(253, 253, 253)"
    assert report["logo"] == [True, 32, 32, [*LOGO, 255]]
    assert report["diagram"] == [True, 120, 40, [*DIAGRAM, 255]]

    # The browser's own account of each fetch (Resource Timing).
    resources = {entry["path"]: entry for entry in report["resources"]}
    for part in PARTS:
        entry = resources.get(part)
        assert entry is not None, f"no resource timing for {part}: {resources}"
        assert entry["status"] == 200, entry
        assert entry["protocol"] == "http/1.1", entry
        assert entry["decoded"] == (WWW / FILES[part]).stat().st_size, entry
    assert resources["/style.css"]["encoded"] < resources["/style.css"]["decoded"]

    seen = by_target(logged_since(server, start, ["/probe.html", *PARTS]))
    assert [seen[t].status for t in ["/probe.html", *PARTS]] == [200] * 5


def test_a_screenshot_shows_the_styled_page(
    chromium: Chromium, server: RunningWebServer, tmp_path: Path
) -> None:
    shot = tmp_path / "page.png"
    width, height = 800, 600
    run = chromium(f"http://{HOST}/", f"--screenshot={shot}", f"--window-size={width},{height}")
    assert run.returncode == 0, run.stderr[-3000:]
    data = shot.read_bytes()
    assert len(data) > 1000
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    assert struct.unpack(">II", data[16:24]) == (width, height)

    image = decode_png(data)
    assert (image.width, image.height) == (width, height)
    colours = Counter(image.pixels)
    # The stylesheet: its background in the corners, its heading colour in the text.
    for x, y in [(0, 0), (width - 1, 0), (0, height - 1), (width - 1, height - 1)]:
        assert image.at(x, y) == BACKGROUND, (x, y, image.at(x, y))
    assert colours[BACKGROUND] > width * height // 2
    assert colours[HEADING] > 50, "no pixel has the h1 colour: the stylesheet was not applied"
    # The images: the whole 32×32 logo, and most of the 120×40 diagram (text aside).
    assert colours[LOGO] >= 32 * 32, colours.most_common(8)
    assert colours[DIAGRAM] > 120 * 40 // 2, colours.most_common(8)


def test_chromium_follows_the_folder_redirect(chromium: Chromium, server: RunningWebServer) -> None:
    start = len(read_log(server))
    run = chromium(f"http://{HOST}/docs", "--dump-dom")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "<h1>Docs</h1>" in run.stdout
    entries = logged_since(server, start, ["/docs", "/docs/"])
    seen = by_target(entries)
    assert seen["/docs"].status == 301
    assert seen["/docs/"].status == 200
