"""``webtrip compare`` and ``webtrip sim --what-if`` as a user meets them."""

from __future__ import annotations

import json

import pytest

from support import run_webtrip


@pytest.fixture(scope="module")
def traces(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs")
    paths = {}
    for name, args in (("a", ()), ("b", ("--drop", "synack"))):
        done = run_webtrip("sim", "--json", *args)
        assert done.returncode == 0, done.stderr
        paths[name] = folder / f"{name}.json"
        paths[name].write_text(done.stdout)
    return paths


def test_compare_tells_the_steps_the_differences_and_why(traces):
    done = run_webtrip("compare", str(traces["a"]), str(traces["b"]), columns=160)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Two runs side by side" in out and "SYNs the browser sent" in out
    assert "Differences (" in out and "from here on, 1,000 ms later: packets at the browser" in out
    assert "only in B: the browser's SYN to 10.0.0.3:80 (time 2)" in out
    assert "the SYN-ACK from 10.0.0.3:80 was lost on the browser's link" in out
    assert "The page was built at" in out


def test_compare_speaks_spanish(traces):
    done = run_webtrip("compare", str(traces["a"]), str(traces["b"]), "--lang", "es", columns=160)
    assert done.returncode == 0, done.stderr
    assert "Dos ejecuciones lado a lado" in done.stdout
    assert "solo en B: el SYN del navegador a 10.0.0.3:80 (vez 2)" in done.stdout
    assert "La página se ha construido a los" in done.stdout


def test_compare_json_has_every_difference(traces):
    done = run_webtrip("compare", str(traces["a"]), str(traces["b"]), "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["webtrip_comparison"] == 1 and document["identical"] is False
    assert document["first_divergence"]["field"] == "fate"
    assert len(document["differences"]) > 40  # all of them, not the text's first 40


def test_a_run_compared_with_itself_is_the_same(traces):
    done = run_webtrip("compare", str(traces["a"]), str(traces["a"]), "--json")
    assert json.loads(done.stdout)["identical"] is True


@pytest.mark.parametrize("contents", ["not json", '{"webtrip_trace": 99, "events": []}'])
def test_a_file_that_is_not_a_trace_is_one_sentence_and_exit_2(tmp_path, traces, contents):
    bad = tmp_path / "bad.json"
    bad.write_text(contents)
    done = run_webtrip("compare", str(traces["a"]), str(bad))
    assert done.returncode == 2
    assert done.stderr.startswith("webtrip: ") and done.stderr.count("\n") == 1
    assert "is not a webtrip trace" in done.stderr


def test_sim_what_if_writes_both_runs_and_compares_them(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    done = run_webtrip("sim", "--what-if", "at=40, drop synack", "--trace-a", str(a),
                       "--trace-b", str(b), "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["branch"]["change"] == "drop synack"
    assert document["first_divergence"]["field"] == "fate"
    again = run_webtrip("compare", str(a), str(b), "--json")
    assert json.loads(again.stdout)["differences"] == document["differences"]


def test_sim_what_if_prints_the_comparison():
    done = run_webtrip("sim", "--what-if", "at=0.1s, latency=80ms", columns=160)
    assert done.returncode == 0, done.stderr
    assert "Run B is run A branched at 0.100 s: latency=80ms." in done.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--what-if", "at=3, flush dns"), "is not a change a what-if can make"),
        (("--what-if", "at=99999, drop syn"), "the run has events 0 to"),
        (("--what-if", "at=3, silent nowhere"), "nowhere is not a host of the lab"),
        (("--trace-a", "a.json"), "--trace-a and --trace-b go with --what-if"),
    ],
)
def test_a_what_if_mistake_is_one_sentence_and_exit_2(args, words):
    done = run_webtrip("sim", *args)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert words in done.stderr


def test_sim_what_if_flush_dns_on_a_reload_tells_the_walk_from_the_root(tmp_path):
    done = run_webtrip("sim", "--reload", "--what-if", "at=0.3s, flush-dns", "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["branch"]["change"] == "flush-dns"
    nodes = {row["node"]: row for row in document["nodes"]}
    assert nodes["root"]["a"]["received"] == 2 and nodes["root"]["b"]["received"] == 4
    assert nodes["web"]["differences"] > 0
    assert any("the resolver had to find" in s for s in document["story"])
    spanish = run_webtrip("sim", "--reload", "--what-if", "at=0.3s, flush-dns", "--lang", "es",
                          columns=160)  # fmt: skip
    assert spanish.returncode == 0, spanish.stderr
    assert "Paquetes por nodo" in spanish.stdout
    assert "al servidor raíz" in spanish.stdout
