"""Differential tests: the marks a learner sees on each packet are tshark's, frame by frame.

For several simulated runs (a clean one, a lost SYN-ACK, random loss that
hits data segments, a small MTU that cuts answers into several segments, a
link that reorders, and a router forwarding), ``webtrip sim`` writes the
capture of one node and the HTML replay; tshark reads that capture. For
every frame, the terminal list and the replay's list of that node say the
same as tshark's Info column: the same ``[TCP ...]`` marks of TCP's analysis
(retransmissions, out-of-order, duplicate ACKs...), the same label on a segment
that carries part of an HTTP message (``[TCP segment of a reassembled PDU]``, not
a mark: nothing went wrong) and the same protocol (an HTTP row only where tshark
shows HTTP, ``Continuation`` included).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from support import require_program, run_webtrip
from webtrip.labs import demo_path
from webtrip.report.html import embedded_data

LABEL = "[TCP segment of a reassembled PDU]"
"""Wireshark's label for a piece of a longer message: in the Info column, but not a mark."""

MARK = re.compile(r"\[TCP (?!segment of a reassembled PDU\])[^\]]*\]")
"""Wireshark's expert marks in an Info column: ``[TCP Retransmission]``, ``[TCP Dup ACK 7#1]``."""

DUP_OF = re.compile(r"(\[TCP Dup ACK )(\d+)#")

Row = tuple[str, list[str], bool]  # protocol, marks, and whether it has the label
Marks = dict[int, Row]  # frame number → its row


def row_of(protocol: str, info: str) -> Row:
    return protocol, MARK.findall(info), LABEL in info


pytestmark = pytest.mark.peer("tshark")


def reordering_lab(folder: Path) -> Path:
    """The demo lab with 40% of the packets on the browser's link held back a while."""
    shutil.copytree(demo_path(), folder)
    lab_file = folder / "lab.toml"
    text = lab_file.read_text()
    assert text.count("mtu = 1500\n") == 1
    lab_file.write_text(text.replace("mtu = 1500\n", 'mtu = 1500\nreorder = "40%"\n'))
    return lab_file


def tshark_marks(pcap: Path) -> Marks:
    """What tshark says of each frame of ``pcap``: its protocol and its marks."""
    tshark = require_program("tshark")
    out = subprocess.run(
        [tshark, "-r", str(pcap), "-T", "fields", "-e", "frame.number",
         "-e", "_ws.col.Protocol", "-e", "_ws.col.Info"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    marks: Marks = {}
    for line in out.splitlines():
        number, protocol, info = line.split("\t", 2)
        marks[int(number)] = row_of(protocol.split("/")[0], info)  # HTTP/XML: HTTP
    return marks


def terminal_marks(stdout: str, heading: str) -> Marks:
    """The numbered rows of ``webtrip sim``'s packet list: protocol and marks."""
    marks: Marks = {}
    for row in stdout.split(heading)[1].strip().splitlines()[1:]:
        cells = row.split()
        if cells and cells[0].isdigit():
            marks[int(cells[0])] = row_of(cells[4], row)
    return marks


def replay_rows(page: Path, node: str) -> list[dict[str, object]]:
    """The rows of ``node``'s list in the replay's embedded data."""
    text = page.read_text(encoding="utf-8")
    data = embedded_data(text)
    assert data is not None
    views = {view["node"]: view for view in data["views"]}
    return list(views[node]["rows"])


def replay_marks(rows: list[dict[str, object]]) -> Marks:
    return {
        int(str(row["number"])): row_of(str(row["protocol"]), str(row["info"]))
        for row in rows
        if row["number"] is not None
    }


SCENARIOS = {
    "clean": (),
    "lost synack": ("--drop", "synack"),
    "random loss": ("--loss", "5%", "--seed", "5"),
    "mtu 576": ("--mtu", "576"),
    "reordering": ("--mtu", "576", "--seed", "2", "--lab", "{reordering}"),
    "reordering, seed 6": ("--mtu", "576", "--seed", "6", "--lab", "{reordering}"),
    # The photo's 37 segments: holes in it, spurious and fast retransmissions...
    "loss 10%, seed 3": ("--loss", "10%", "--seed", "3"),
    # ... its first segment out of order: what follows is HTTP Continuation
    "loss 5%, seed 8": ("--loss", "5%", "--seed", "8"),
    # ... and a keep-alive that a later duplicate ACK points at
    "reordering full packets, seed 14": ("--seed", "14", "--lab", "{reordering}"),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_the_browsers_marks_are_tsharks_on_its_capture(tmp_path, scenario):
    args = [
        str(reordering_lab(tmp_path / "lab")) if arg == "{reordering}" else arg
        for arg in SCENARIOS[scenario]
    ]
    pcap, page = tmp_path / "browser.pcap", tmp_path / "run.html"
    done = run_webtrip(
        "sim", *args, "--no-render", "--pcap", str(pcap), "--report", str(page), columns=200
    )
    assert done.returncode == 0, done.stderr
    theirs = tshark_marks(pcap)
    assert terminal_marks(done.stdout, "Packets at browser (10.0.0.1)") == theirs
    assert replay_marks(replay_rows(page, "browser")) == theirs


def test_the_scenarios_show_what_they_are_for(tmp_path):
    """The runs above are worth comparing: each has the marks it is chosen for."""
    wanted = {
        "lost synack": "[TCP Retransmission]",
        "random loss": "[TCP Retransmission]",  # of data: an HTTP request sent again
        "mtu 576": LABEL,
        "reordering": "[TCP Out-Of-Order]",
    }
    for scenario, mark in wanted.items():
        args = [
            str(reordering_lab(tmp_path / scenario)) if arg == "{reordering}" else arg
            for arg in SCENARIOS[scenario]
        ]
        pcap = tmp_path / f"{scenario}.pcap"
        done = run_webtrip("sim", *args, "--no-render", "--no-packets", "--pcap", str(pcap))
        assert done.returncode == 0, done.stderr
        rows = tshark_marks(pcap).values()
        if mark == LABEL:
            assert any(label for _, _, label in rows), scenario
        else:
            assert any(mark in marks for _, marks, _ in rows), scenario


@pytest.mark.parametrize(
    "args", [(), ("--loss", "5%", "--seed", "5"), ("--loss", "10%", "--seed", "3")]
)
def test_a_routers_capture_is_one_file_per_link_that_tshark_marks_as_the_replay(tmp_path, args):
    """The router's capture is one pcapng file per link, naming its interface and each
    packet's direction: tshark marks no forwarded copy as a retransmission, and the
    replay's router list, link by link, has tshark's marks on that link's file."""
    page = tmp_path / "run.html"
    done = run_webtrip(
        "sim", *args, "--at", "router", "--no-render", "--no-packets",
        "--pcap", str(tmp_path / "r.pcapng"), "--report", str(page),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    files = sorted(tmp_path.glob("r-eth*.pcapng"))
    assert len(files) == 6 and not (tmp_path / "r.pcapng").exists()
    assert "one file per link" in done.stderr
    rows = replay_rows(page, "router")
    tshark = require_program("tshark")
    for file in files:
        link = file.stem.removeprefix("r-")
        named = subprocess.run(
            [tshark, "-r", str(file), "-T", "fields", "-e", "frame.interface_name",
             "-e", "frame.packet_flags_direction"],
            capture_output=True, text=True, timeout=60, check=True,
        ).stdout.split("\n")  # fmt: skip
        ours = [row for row in rows if str(row["where"]["en"]).split(" ")[0] == link]
        directions = {"0x00000001": "in", "0x00000002": "out"}
        assert [f"{link} {directions[line.split()[1]]}" for line in filter(None, named)] == [
            row["where"]["en"] for row in ours
        ]
        # The list numbers the router's frames across its links; a link's file, its own.
        # A duplicate ACK names the frame it repeats: on that link, the same packet.
        numbers = {k: str(row["number"]) for k, row in enumerate(ours, 1)}
        theirs = [
            (protocol, [DUP_OF.sub(lambda m, n=numbers: f"{m[1]}{n[int(m[2])]}#", mark)
                        for mark in marks], label)
            for protocol, marks, label in tshark_marks(file).values()
        ]  # fmt: skip
        assert [row_of(str(row["protocol"]), str(row["info"])) for row in ours] == theirs
        if not args:
            assert not any(marks for _, marks, _ in theirs), f"a clean run: nothing on {link}"
