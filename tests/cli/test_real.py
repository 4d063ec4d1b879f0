"""``webtrip real`` (hidden): a lab over Linux's TCP/IP in namespaces, from the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import assert_one_clear_sentence, cli_env
from support import run_webtrip as webtrip
from webtrip.packets.pcap import read_pcap

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")


@needs_root
def test_real_loads_the_demo_lab_and_writes_the_browsers_real_packets(tmp_path):
    pcap = tmp_path / "real.pcap"
    done = webtrip("real", "--latency", "10ms", "--pcap", str(pcap), "--json")
    assert done.returncode == 0, done.stderr
    events = json.loads(done.stdout)["events"]
    finished = [e for e in events if e["type"] == "PageLoadFinished"]
    assert finished and finished[0]["status"] == 200
    conditions = next(e for e in events if e["type"] == "LinkConditionsSet")
    assert conditions["latency"] == pytest.approx(0.010)
    packets = [e for e in events if e["type"] == "PacketCaptured"]
    assert len(read_pcap(pcap.read_bytes())) == len(packets) > 50
    assert {p["interface"] for p in packets} == {"eth0"}


def test_real_without_the_rights_to_build_namespaces_is_refused_in_one_sentence():
    if os.geteuid() != 0:
        done = webtrip("real")
    else:
        if not Path("/usr/bin/setpriv").exists():
            pytest.skip("setpriv is needed to drop CAP_SYS_ADMIN")
        drop = ["/usr/bin/setpriv", "--bounding-set", "-sys_admin,-net_admin", "--"]
        done = subprocess.run(
            [*drop, sys.executable, "-m", "webtrip", "real"],
            capture_output=True, text=True, timeout=60, env=cli_env(),
        )  # fmt: skip
    sentence = assert_one_clear_sentence(done, 1)
    assert "real run" in sentence
