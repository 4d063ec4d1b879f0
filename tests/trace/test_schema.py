"""The trace's rules are read from the event dataclasses, and docs/trace.schema.json is
made from the same rules: neither can drift from the events."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import jsonschema
import pytest

from webtrip.trace import LinkConditionsSet, TcpConnectionClosed, Trace, event_types
from webtrip.trace.schema import TraceProblem, check_event, json_schema

SCHEMA_FILE = Path(__file__).parents[2] / "docs" / "trace.schema.json"


def test_the_schema_file_is_made_from_the_rules():
    assert json.loads(SCHEMA_FILE.read_text(encoding="utf-8")) == json_schema(), (
        "docs/trace.schema.json is out of date; remake it with: python -c 'import json; "
        "from webtrip.trace.schema import json_schema; print(json.dumps(json_schema(), "
        "indent=1, ensure_ascii=False))' > docs/trace.schema.json"
    )


def test_every_field_of_every_event_type_is_in_the_schema():
    definitions = json_schema()["$defs"]
    assert set(definitions) == set(event_types())
    for name, cls in event_types().items():
        fields = {f.name for f in dataclasses.fields(cls)}
        assert set(definitions[name]["properties"]) == fields | {"type"}


def test_a_saved_trace_is_valid_by_the_json_schema_and_loads_back():
    trace = Trace(clock=lambda: 0.0, wall_start=1_700_000_000.0)
    trace.record(LinkConditionsSet(0.0, "world", ("a", "b"), 0.01, None, 0.05, 1500))
    trace.record(TcpConnectionClosed(0.3, "srv", ("127.0.0.1", 53), ("::1", 5000), 7, "idle"))
    text = trace.to_json()
    jsonschema.validate(json.loads(text), json_schema())
    assert Trace.from_json(text).events == trace.events


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [("loss", 1.5, "number"), ("loss", math.nan, "number"), ("mtu", True, "integer"),
     ("ends", ["a"], "fixed list"), ("bandwidth", 0, "number"), ("latency", -1, "number")],
)  # fmt: skip
def test_a_wrong_value_is_refused_with_its_path(field, value, expected):
    item = {"type": "LinkConditionsSet", "t": 0, "actor": "w", "ends": ["a", "b"],
            "latency": 0.01, "bandwidth": None, "loss": 0.0, "mtu": 1500}  # fmt: skip
    item[field] = value
    with pytest.raises(TraceProblem) as problem:
        check_event(item, "events[4]")
    assert problem.value.path == f"events[4].{field}"
    assert problem.value.expected == expected
    if value == value:  # NaN is not JSON at all: a JSON Schema has no word for it
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({"webtrip_trace": 1, "events": [item]}, json_schema())
