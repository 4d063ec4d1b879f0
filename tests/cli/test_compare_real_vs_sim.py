"""``webtrip compare --real-vs-sim``: the demo lab over Linux's TCP and in the simulation.

Root runs these in CI (network namespaces); elsewhere the end-to-end ones are skipped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import assert_one_clear_sentence, cli_env
from support import run_webtrip as webtrip

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")


@pytest.fixture(scope="module")
def document(tmp_path_factory):
    folder = tmp_path_factory.mktemp("real-vs-sim")
    done = webtrip("compare", "--real-vs-sim", "--json", "--trace-a", str(folder / "real.json"),
                   "--trace-b", str(folder / "sim.json"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), folder


@needs_root
def test_real_vs_sim_on_a_clean_link_is_within_the_fidelity_tolerances(document):
    found, folder = document
    part = found["real_vs_sim"]
    assert part["a"] == "linux" and part["b"] == "webtrip" and part["tolerance"] == 0.15
    assert part["made"]["latency_by"] in ("netem", "bridge") and part["made"]["rate_by"] == "tbf"
    steps = {row["measure"]: row for row in part["steps"]}
    assert part["steps"][0]["step"] == "dns" and part["steps"][-1]["step"] == "page"
    assert steps["handshake"]["within"] is True and steps["page_load"]["within"] is True
    segments = [row for row in part["steps"] if row["measure"].startswith("segments:")]
    assert len(segments) == 6 and all(row["within"] for row in segments)
    assert steps["dns_lookup"]["within"] is None  # reported, not held to a tolerance
    # the engine's comparison is there too, and both traces were written
    assert found["webtrip_comparison"] == 1 and found["summary"]
    assert json.loads((folder / "real.json").read_text())["events"]
    assert json.loads((folder / "sim.json").read_text())["events"]


@needs_root
def test_real_vs_sim_explains_only_the_differences_present(document):
    found, _folder = document
    part = found["real_vs_sim"]
    steps = {row["measure"]: row for row in part["steps"]}
    kinds = {cause["kind"]: cause for cause in part["causes"]}
    acks = steps["pure_acks"]
    assert ("delayed_acks" in kinds) == (acks["linux"] < acks["webtrip"])
    if "delayed_acks" in kinds:
        assert f"sent {acks['linux']} pure ACK" in kinds["delayed_acks"]["sentence"]
    # Linux's segments carry the timestamps option: 1,448 bytes against netsim's 1,460
    assert kinds["segment_size"]["values"] == {
        "real": 1448, "sim": 1460, "timestamps": True, "same_segments": True,
    }  # fmt: skip
    assert "min_rto" not in kinds  # a clean link: nothing sent again in either run
    assert "sack" in kinds and kinds["sack"]["values"]["sim"] == 0
    for cause in part["causes"]:
        assert cause["sentence"] and "{" not in cause["sentence"]


@needs_root
def test_real_vs_sim_speaks_spanish_at_a_terminal():
    done = webtrip("compare", "--real-vs-sim", "--runs", "1", "--lang", "es", columns=200)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Dos ejecuciones lado a lado" in out
    assert "Cuánto se parecen: Linux (A) y webtrip (B)" in out
    assert "establecimiento de conexión TCP, SYN → SYN-ACK (mediana)" in out
    assert "Cómo se ha hecho la ejecución real" in out and "Por qué difieren:" in out
    assert "Tamaño de los segmentos: un segmento lleno ha llevado 1448 bytes" in out.replace(
        ".", ""
    )
    assert "Tiempos: en" not in out  # one real run: no spread between runs to name


def test_real_vs_sim_takes_no_trace_files():
    done = webtrip("compare", "--real-vs-sim", "a.json", "b.json")
    assert "no trace files" in assert_one_clear_sentence(done, 1)


def test_compare_without_traces_or_real_vs_sim_says_what_it_needs():
    done = webtrip("compare")
    assert "--real-vs-sim" in assert_one_clear_sentence(done, 1)


def test_real_vs_sim_without_the_rights_to_build_namespaces_is_refused_in_one_sentence():
    if os.geteuid() != 0:
        done = webtrip("compare", "--real-vs-sim")
    else:
        if not Path("/usr/bin/setpriv").exists():
            pytest.skip("setpriv is needed to drop CAP_SYS_ADMIN")
        drop = ["/usr/bin/setpriv", "--bounding-set", "-sys_admin,-net_admin", "--"]
        done = subprocess.run(
            [*drop, sys.executable, "-m", "webtrip", "compare", "--real-vs-sim"],
            capture_output=True, text=True, timeout=60, env=cli_env(),
        )  # fmt: skip
    sentence = assert_one_clear_sentence(done, 1)
    assert "root" in sentence or "real run" in sentence
