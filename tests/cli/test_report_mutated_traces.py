"""``webtrip report`` on a mutated trace: one sentence and exit 2, or the views — never a
traceback. The mutations (issue 14, item 11) are made from a real trace of a simulated run,
deterministically (one seeded generator), and sized to run in seconds: a trace the rules
refuse stops before any view reads it, so only the accepted ones cost a view's time."""

from __future__ import annotations

import copy
import json
import math
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from support import assert_one_clear_sentence
from support import run_webtrip as webtrip
from webtrip.cli import cli

WRONG: dict[str, Any] = {
    "NaN": math.nan,
    "Infinity": math.inf,
    "-Infinity": -math.inf,
    "1e308": 1e308,
    "-1": -1,
    "null": None,
    "text": "x",
    "whole": 7,
    "true": True,
    "list": [1],
    "object": {"a": 1},
    "2**64": 2**64,
    "huge text": "A" * 1_100_000,
    "huge list": [0] * 100_001,
}
"""The wrong values swapped into a field, by name."""


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    done = webtrip("sim", "--json")
    assert done.returncode == 0, done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    return doc


def mutations(base: dict[str, Any], seed: int = 14) -> Iterator[tuple[str, Any]]:
    """(name, mutated document) pairs: the whole document's shape, then one event of each
    type with a field swapped for a wrong value, deleted, or joined by an unknown one."""
    rng = random.Random(seed)
    yield "events: null", base | {"events": None}
    yield "events: object", base | {"events": {}}
    yield "version 2", base | {"webtrip_trace": 2}
    yield "version true", base | {"webtrip_trace": True}
    yield "no version", {k: v for k, v in base.items() if k != "webtrip_trace"}
    yield "a list, not an object", [base]
    yield "wall_start NaN", base | {"wall_start": math.nan}
    yield "wall_start 1e308", base | {"wall_start": 1e308}
    yield "an unknown key", base | {"extra": 1}
    yield "an event that is null", base | {"events": [None, *base["events"]]}
    yield "an unknown event type", base | {"events": [{"type": "Nope", "t": 0}]}
    yield "an event type that is a list", base | {"events": [{"type": []}]}
    first: dict[str, int] = {}
    for index, event in enumerate(base["events"]):
        first.setdefault(event["type"], index)
    for kind, index in sorted(first.items()):
        fields = sorted(k for k in base["events"][index] if k != "type")
        for field in rng.sample(fields, min(2, len(fields))):
            wrong = rng.choice(sorted(WRONG))
            yield f"{kind}.{field} = {wrong}", _with(base, index, field, WRONG[wrong])
        field = rng.choice(fields)
        yield f"{kind}.{field} deleted", _with(base, index, field, None, delete=True)
        yield f"{kind} with an unknown field", _with(base, index, "extra", 1)


def _with(base: dict[str, Any], index: int, field: str, value: Any, *, delete: bool = False) -> Any:
    events = list(base["events"])
    event = dict(events[index])
    if delete:
        del event[field]
    else:
        event[field] = value
    events[index] = event
    return base | {"events": events}


def report(path: Path, *options: str) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(cli, ["report", str(path), *options], prog_name="webtrip")
    crash = None if isinstance(result.exception, SystemExit) else result.exception
    return result.exit_code, result.stderr, crash


def test_report_never_crashes_on_a_mutated_trace(base, tmp_path):
    outputs = ("--har", str(tmp_path / "x.har"), "--mermaid", str(tmp_path / "x.mmd"),
               "--report", str(tmp_path / "x.html"))  # fmt: skip
    crashed, refused, accepted = [], 0, 0
    path = tmp_path / "mutated.json"
    for name, doc in mutations(base):
        path.write_text(json.dumps(doc))
        code, stderr, crash = report(path, *outputs)
        if crash is not None or code not in (0, 2):
            crashed.append(f"{name}: {type(crash).__name__}: {crash}")
        elif code == 2:
            refused += 1
            assert len(stderr.strip().splitlines()) == 1, (name, stderr)
        else:
            accepted += 1
            chart = ("--mermaid-style", "flowchart", "--mermaid", str(tmp_path / "f.mmd"))
            flowchart = report(path, *chart)
            if flowchart[2] is not None:
                crashed.append(f"{name} (flowchart): {flowchart[2]!r}")
    assert crashed == []
    assert refused > 60 and accepted > 0  # wrong values refused; deleted defaults accepted


def test_the_mutations_are_the_same_every_time(base):
    names = [name for name, _ in mutations(base)]
    assert names == [name for name, _ in mutations(base)] and len(set(names)) == len(names)


@pytest.mark.parametrize(
    ("mutate", "words"),
    [
        (lambda doc: doc["events"][12].update(t=math.nan),
         "events[12].t: expected a finite number from 0 to 10,000,000,000, got NaN"),
        (lambda doc: doc.update(events=None),
         "events: expected a list of at most 10,000,000 items, got null"),
        (lambda doc: doc["events"][0].update(bandwidth=1e308),
         "events[0].bandwidth: expected a finite number from 1 to 1,000,000,000,000 or null, "
         "got 1e+308"),
        (lambda doc: doc.update(webtrip_trace=2),
         "webtrip_trace: expected format version 1, got 2"),
        (lambda doc: doc["events"][3].pop("actor"),
         "events[3].actor: missing, and an event of this type needs it"),
    ],
)  # fmt: skip
def test_the_first_problem_is_named_by_its_json_path(base, tmp_path, mutate, words):
    doc = copy.deepcopy(base)
    mutate(doc)
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    done = webtrip("report", "bad.json", "--har", "x.har", cwd=tmp_path)
    sentence = assert_one_clear_sentence(done, 2)
    assert sentence == f"webtrip: bad.json is not a webtrip trace: {words}"
    assert not (tmp_path / "x.har").exists()


def test_the_problem_is_told_in_spanish(base, tmp_path):
    doc = copy.deepcopy(base)
    doc["events"][12]["t"] = math.nan
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    done = webtrip("--lang", "es", "report", "bad.json", "--har", "x.har", cwd=tmp_path)
    assert assert_one_clear_sentence(done, 2) == (
        "webtrip: bad.json no es una traza de webtrip: events[12].t: se esperaba un número "
        "finito entre 0 y 10.000.000.000, pero hay NaN"
    )


def test_json_nested_deeper_than_the_parser_goes_is_one_sentence(tmp_path):
    (tmp_path / "deep.json").write_text('{"webtrip_trace": 1, "events": ' + "[" * 100_000)
    done = webtrip("report", "deep.json", "--har", "x.har", cwd=tmp_path)
    assert "nested too deeply" in assert_one_clear_sentence(done, 2)
