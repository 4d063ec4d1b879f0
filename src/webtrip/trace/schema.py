"""What a saved trace may hold: checked before any view reads it.

The rules are not a second, hand-kept copy of the format: they are read from the
event dataclasses themselves (:mod:`webtrip.trace.events`), field by field, from
their type hints. A ``float`` is a finite number of seconds, an ``int`` a whole
number, ``bytes`` an even count of hexadecimal digits, a ``tuple`` a JSON list
(of a fixed length, or of any length up to a bound), ``X | None`` X or null, and
``Annotated[float, Bounds(low, high)]`` a number with its own range (a share, a
bit rate). Every text, list and the trace itself has a size bound, and the
nesting is the types' own, so nothing a view reads can be of a kind it does not
expect, NaN, infinite, negative or absurdly large.

:func:`check_document` raises :class:`TraceProblem` naming the first problem with
its JSON path (``events[12].t``), what was expected and what was there; the
command line says it in the reader's language. :func:`json_schema` writes the
same rules as a JSON Schema (``docs/trace.schema.json`` is made from it).
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Callable
from typing import Any

from webtrip.trace.events import Bounds, Event, event_types

FORMAT_VERSION = 1
"""The trace format this code writes and reads (``"webtrip_trace": 1``)."""

MAX_SECONDS = 1e10
"""The longest time a trace holds (about 317 years): times from the start, and cache
lifetimes (a max-age of 2**31 seconds, a tenth of the time since a 1990 Last-Modified)."""
MAX_WALL_START = 4e9
"""The latest start (Unix seconds, in 2096: a pcap's 32-bit clock ends in 2106)."""
MAX_INTEGER = 2**53
"""The largest whole number (the largest every JSON reader keeps exactly)."""
MAX_TEXT = 1 << 20
"""The most characters in one text (a 64 KiB packet's hex takes 131,072)."""
MAX_ITEMS = 100_000
"""The most items in one field's list (records of an answer, headers...)."""
MAX_EVENTS = 10_000_000
"""The most events in one trace."""
MAX_NESTING = 1000
"""JSON nested deeper than this is refused by the parser itself (RecursionError): the
format needs five levels, and every deeper one is refused by the rules."""

# What was expected, as a key the command line turns into a sentence, and its values.
NUMBER = "number"  # a finite number from {low} to {high}
INTEGER = "integer"  # a whole number from {low} to {high}
TEXT = "text"  # text of at most {high} characters
HEX = "hex"  # hexadecimal digits, two per byte, at most {high}
BOOLEAN = "boolean"  # true or false
LIST = "list"  # a list of at most {high} items
PAIR = "fixed list"  # a list of exactly {high} items
OBJECT = "object"  # an object (of named fields)
EVENT_TYPE = "event type"  # the name of an event type
VERSION = "version"  # the format's version, {high}
FIELD = "field"  # present: this event type's field, not given and with no default
NO_FIELD = "no field"  # absent: not one of this event type's fields (or the trace's)
NESTING = "nesting"  # JSON nested at most {high} deep
JSON = "json"  # JSON text at all


class TraceProblem(ValueError):
    """The first thing wrong in a saved trace: where (``path``), what was ``expected``
    (one of this module's keys, with ``low``/``high`` where it has a range, and
    ``nullable`` when null would do too) and what was there (``got``, short JSON)."""

    def __init__(
        self,
        path: str,
        expected: str,
        got: str,
        *,
        low: float = 0,
        high: float = 0,
        nullable: bool = False,
    ) -> None:
        self.path = path
        self.expected = expected
        self.got = got
        self.low = low
        self.high = high
        self.nullable = nullable
        super().__init__(f"{path or 'the trace'}: expected {expected}, got {got}")


def shown(value: Any, limit: int = 40) -> str:
    """``value`` as short JSON: what a learner sees of a wrong value (NaN stays NaN)."""
    if isinstance(value, str) and len(value) > limit:
        value = value[:limit]
        return json.dumps(value)[:-1] + '…"'
    if isinstance(value, list) and len(value) > 3:
        return "[" + ", ".join(shown(v, 10) for v in value[:3]) + ", …]"
    if isinstance(value, dict) and len(value) > 3:
        return "{" + ", ".join(json.dumps(k)[:20] + ": …" for k in list(value)[:3]) + ", …}"
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- the rules, read from the type hints -------------------------------------------

Check = Callable[[Any, str], Any]
"""A rule: checks a JSON value at a path and returns the event field's value."""


def _number(low: float, high: float) -> Check:
    def check(value: Any, path: str) -> Any:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or not low <= value <= high:
            raise TraceProblem(path, NUMBER, shown(value), low=low, high=high)
        return value  # an int stays one: the views print what the run recorded

    return check


def _integer(value: Any, path: str) -> Any:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_INTEGER:
        raise TraceProblem(path, INTEGER, shown(value), high=MAX_INTEGER)
    return value


def _text(value: Any, path: str) -> Any:
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise TraceProblem(path, TEXT, shown(value), high=MAX_TEXT)
    return value


def _hex(value: Any, path: str) -> Any:
    try:
        if isinstance(value, str) and len(value) <= 2 * MAX_TEXT and value.isascii():
            return bytes.fromhex(value)
    except ValueError:
        pass
    raise TraceProblem(path, HEX, shown(value), high=MAX_TEXT)


def _boolean(value: Any, path: str) -> Any:
    if not isinstance(value, bool):
        raise TraceProblem(path, BOOLEAN, shown(value))
    return value


def _optional(check: Check) -> Check:
    def optional(value: Any, path: str) -> Any:
        if value is None:
            return None
        try:
            return check(value, path)
        except TraceProblem as problem:
            problem.nullable = True
            raise

    return optional


def _items(check: Check) -> Check:
    def items(value: Any, path: str) -> Any:
        if not isinstance(value, list) or len(value) > MAX_ITEMS:
            raise TraceProblem(path, LIST, shown(value), high=MAX_ITEMS)
        return tuple(check(item, f"{path}[{index}]") for index, item in enumerate(value))

    return items


def _fixed(checks: list[Check]) -> Check:
    def fixed(value: Any, path: str) -> Any:
        if not isinstance(value, list) or len(value) != len(checks):
            raise TraceProblem(path, PAIR, shown(value), high=len(checks))
        pairs = enumerate(zip(checks, value, strict=True))
        return tuple(check(item, f"{path}[{index}]") for index, (check, item) in pairs)

    return fixed


def _rule(hint: Any) -> Check:
    """The rule for a field of type ``hint`` (the type as the dataclass declares it)."""
    origin = typing.get_origin(hint)
    arguments = typing.get_args(hint)
    if origin is typing.Annotated:
        bounds = next(a for a in arguments[1:] if isinstance(a, Bounds))
        return _number(bounds.low, bounds.high)
    if origin in (typing.Union, types.UnionType):
        kept = [a for a in arguments if a is not type(None)]
        if len(kept) != 1 or len(kept) == len(arguments):
            raise TypeError(f"no trace rule for {hint!r}")
        return _optional(_rule(kept[0]))
    if origin is tuple:
        if len(arguments) == 2 and arguments[1] is Ellipsis:
            return _items(_rule(arguments[0]))
        return _fixed([_rule(a) for a in arguments])
    simple: dict[Any, Check] = {
        float: _number(0.0, MAX_SECONDS),
        int: _integer,
        str: _text,
        bytes: _hex,
        bool: _boolean,
    }
    if hint in simple:
        return simple[hint]
    raise TypeError(f"no trace rule for {hint!r}")


@dataclasses.dataclass(frozen=True)
class _EventRules:
    cls: type[Event]
    fields: dict[str, Check]
    hints: dict[str, Any]
    required: frozenset[str]


_RULES: dict[str, _EventRules] = {}


def _rules() -> dict[str, _EventRules]:
    """Every event type's rules, read once from its dataclass."""
    if not _RULES:
        for name, cls in sorted(event_types().items()):
            hints = typing.get_type_hints(cls, include_extras=True)
            fields = dataclasses.fields(cls)
            _RULES[name] = _EventRules(
                cls,
                {f.name: _rule(hints[f.name]) for f in fields},
                {f.name: hints[f.name] for f in fields},
                frozenset(
                    f.name
                    for f in fields
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
                ),
            )
    return _RULES


# --- checking a document --------------------------------------------------------------


def parse(text: str) -> Any:
    """The JSON of ``text``, refused when it is not JSON or is nested too deeply."""
    try:
        return json.loads(text)
    except RecursionError:  # the parser's own bound on nesting
        raise TraceProblem("", NESTING, shown(text[:20]), high=MAX_NESTING) from None
    except json.JSONDecodeError as exc:
        raise TraceProblem("", JSON, f"{exc.msg} (line {exc.lineno}, column {exc.colno})") from None


def check_document(doc: Any) -> tuple[float, list[Event]]:
    """The start time and events of a parsed trace, or :class:`TraceProblem`."""
    if not isinstance(doc, dict):
        raise TraceProblem("", OBJECT, shown(doc))
    version = doc.get("webtrip_trace")
    if type(version) is not int or version != FORMAT_VERSION:
        raise TraceProblem("webtrip_trace", VERSION, shown(version), high=FORMAT_VERSION)
    for key in doc:
        if key not in ("webtrip_trace", "wall_start", "events"):
            raise TraceProblem(key, NO_FIELD, shown(doc[key]))
    wall_start = _number(0.0, MAX_WALL_START)(doc.get("wall_start", 0.0), "wall_start")
    items = doc.get("events")
    if not isinstance(items, list) or len(items) > MAX_EVENTS:
        raise TraceProblem("events", LIST, shown(items), high=MAX_EVENTS)
    rules = _rules()
    events = [check_event(item, f"events[{index}]", rules) for index, item in enumerate(items)]
    return wall_start, events


def check_event(item: Any, path: str, rules: dict[str, _EventRules] | None = None) -> Event:
    """The event ``item`` (one JSON object of a trace's events) stands for, or TraceProblem."""
    rules = rules or _rules()
    if not isinstance(item, dict):
        raise TraceProblem(path, OBJECT, shown(item))
    kind = item.get("type")
    if not isinstance(kind, str) or kind not in rules:
        raise TraceProblem(f"{path}.type", EVENT_TYPE, shown(kind))
    rule = rules[kind]
    for key in item:
        if key != "type" and key not in rule.fields:
            raise TraceProblem(f"{path}.{key}", NO_FIELD, shown(item[key]))
    values: dict[str, Any] = {}
    for name, check in rule.fields.items():
        if name in item:
            values[name] = check(item[name], f"{path}.{name}")
        elif name in rule.required:
            raise TraceProblem(f"{path}.{name}", FIELD, "nothing")
    return rule.cls(**values)


# --- the same rules as a JSON Schema ------------------------------------------------------


def _schema_of(hint: Any) -> dict[str, Any]:
    origin = typing.get_origin(hint)
    arguments = typing.get_args(hint)
    if origin is typing.Annotated:
        bounds = next(a for a in arguments[1:] if isinstance(a, Bounds))
        return {"type": "number", "minimum": bounds.low, "maximum": bounds.high}
    if origin in (typing.Union, types.UnionType):
        kept = next(a for a in arguments if a is not type(None))
        return {"anyOf": [_schema_of(kept), {"type": "null"}]}
    if origin is tuple:
        if len(arguments) == 2 and arguments[1] is Ellipsis:
            return {"type": "array", "maxItems": MAX_ITEMS, "items": _schema_of(arguments[0])}
        return {
            "type": "array",
            "prefixItems": [_schema_of(a) for a in arguments],
            "minItems": len(arguments),
            "maxItems": len(arguments),
        }
    simple: dict[Any, dict[str, Any]] = {
        float: {"type": "number", "minimum": 0, "maximum": MAX_SECONDS},
        int: {"type": "integer", "minimum": 0, "maximum": MAX_INTEGER},
        str: {"type": "string", "maxLength": MAX_TEXT},
        bytes: {"type": "string", "maxLength": 2 * MAX_TEXT, "pattern": "^([0-9a-fA-F]{2})*$"},
        bool: {"type": "boolean"},
    }
    return simple[hint]


def json_schema() -> dict[str, Any]:
    """The trace format as a JSON Schema (draft 2020-12), from the same rules."""
    definitions: dict[str, Any] = {}
    for name, rule in _rules().items():
        properties: dict[str, Any] = {"type": {"const": name}}
        properties |= {field: _schema_of(hint) for field, hint in rule.hints.items()}
        definitions[name] = {
            "type": "object",
            "description": " ".join((rule.cls.__doc__ or name).split()),
            "properties": properties,
            "required": ["type", *sorted(rule.required)],
            "additionalProperties": False,
        }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "webtrip trace",
        "description": "One run's timeline of events, as `webtrip ... --json` saves it. "
        "Made from webtrip.trace.schema.json_schema(); the events' dataclasses are its source.",
        "type": "object",
        "properties": {
            "webtrip_trace": {"const": FORMAT_VERSION},
            "wall_start": {"type": "number", "minimum": 0, "maximum": MAX_WALL_START},
            "events": {
                "type": "array",
                "maxItems": MAX_EVENTS,
                "items": {"oneOf": [{"$ref": f"#/$defs/{name}"} for name in definitions]},
            },
        },
        "required": ["webtrip_trace", "events"],
        "additionalProperties": False,
        "$defs": definitions,
    }
