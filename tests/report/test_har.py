"""The HAR view: HAR 1.2 as its spec says, and as Chrome DevTools' importer expects.

Traces come from real runs: the demo lab on loopback, and ``webtrip sim``
(also with a DNS server that never answers, for a failed request). That
``--har``/``--mermaid`` write the files and that ``webtrip report`` gives the
same bytes from the saved trace is in ``tests/cli/test_report.py``.
"""

from __future__ import annotations

import asyncio
import datetime
import json

import pytest

from support import run_webtrip as webtrip
from webtrip.report.har import _query_string, har_from_trace
from webtrip.report.timings import request_timings
from webtrip.trace import HttpRequestQueued, HttpRequestSent, TcpConnectionOpened, Trace

jsonschema = pytest.importorskip("jsonschema")


# --- HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/), required fields and types ---

_STRING = {"type": "string"}
_INT = {"type": "integer"}
_NAME_VALUE = {
    "type": "object",
    "required": ["name", "value"],
    "properties": {"name": _STRING, "value": _STRING, "comment": _STRING},
}
_COOKIE = {
    "type": "object",
    "required": ["name", "value"],
    "properties": {"name": _STRING, "value": _STRING},
}
_PHASE = {"type": "number", "minimum": -1}
_DURATION = {"type": "number", "minimum": 0}

HAR_SCHEMA = {
    "type": "object",
    "required": ["log"],
    "properties": {
        "log": {
            "type": "object",
            "required": ["version", "creator", "entries"],
            "properties": {
                "version": {"type": "string", "const": "1.2"},
                "creator": {
                    "type": "object",
                    "required": ["name", "version"],
                    "properties": {"name": _STRING, "version": _STRING},
                },
                "browser": {
                    "type": "object",
                    "required": ["name", "version"],
                    "properties": {"name": _STRING, "version": _STRING},
                },
                "pages": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["startedDateTime", "id", "title", "pageTimings"],
                        "properties": {
                            "startedDateTime": {"type": "string", "format": "date-time"},
                            "id": _STRING,
                            "title": _STRING,
                            "pageTimings": {
                                "type": "object",
                                "properties": {"onContentLoad": _PHASE, "onLoad": _PHASE},
                            },
                        },
                    },
                },
                "entries": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": [
                            "startedDateTime",
                            "time",
                            "request",
                            "response",
                            "cache",
                            "timings",
                        ],
                        "properties": {
                            "pageref": _STRING,
                            "startedDateTime": {"type": "string", "format": "date-time"},
                            "time": _DURATION,
                            "request": {
                                "type": "object",
                                "required": [
                                    "method",
                                    "url",
                                    "httpVersion",
                                    "cookies",
                                    "headers",
                                    "queryString",
                                    "headersSize",
                                    "bodySize",
                                ],
                                "properties": {
                                    "method": _STRING,
                                    "url": _STRING,
                                    "httpVersion": _STRING,
                                    "cookies": {"type": "array", "items": _COOKIE},
                                    "headers": {"type": "array", "items": _NAME_VALUE},
                                    "queryString": {"type": "array", "items": _NAME_VALUE},
                                    "headersSize": _INT,
                                    "bodySize": _INT,
                                },
                            },
                            "response": {
                                "type": "object",
                                "required": [
                                    "status",
                                    "statusText",
                                    "httpVersion",
                                    "cookies",
                                    "headers",
                                    "content",
                                    "redirectURL",
                                    "headersSize",
                                    "bodySize",
                                ],
                                "properties": {
                                    "status": _INT,
                                    "statusText": _STRING,
                                    "httpVersion": _STRING,
                                    "cookies": {"type": "array", "items": _COOKIE},
                                    "headers": {"type": "array", "items": _NAME_VALUE},
                                    "content": {
                                        "type": "object",
                                        "required": ["size", "mimeType"],
                                        "properties": {
                                            "size": _INT,
                                            "compression": _INT,
                                            "mimeType": _STRING,
                                            "text": _STRING,
                                        },
                                    },
                                    "redirectURL": _STRING,
                                    "headersSize": _INT,
                                    "bodySize": _INT,
                                },
                            },
                            "cache": {"type": "object"},
                            "timings": {
                                "type": "object",
                                "required": ["send", "wait", "receive"],
                                "properties": {
                                    "blocked": _PHASE,
                                    "dns": _PHASE,
                                    "connect": _PHASE,
                                    "send": _DURATION,
                                    "wait": _DURATION,
                                    "receive": _DURATION,
                                    "ssl": _PHASE,
                                },
                            },
                            "serverIPAddress": _STRING,
                            "connection": _STRING,
                        },
                    },
                },
            },
        }
    },
}


@pytest.fixture(scope="module")
def demo_trace() -> Trace:
    from webtrip.cli.demo import run_demo

    trace, (load,) = asyncio.run(run_demo("en"))
    assert load.error is None
    return trace


@pytest.fixture(scope="module")
def sim_trace() -> Trace:
    done = webtrip("sim", "--json")
    assert done.returncode == 0, done.stderr
    return Trace.from_json(done.stdout)


@pytest.fixture(scope="module")
def failed_trace() -> Trace:
    done = webtrip("sim", "--dns-silent", "--json")
    assert done.returncode != 0
    return Trace.from_json(done.stdout)


@pytest.fixture(params=["demo_trace", "sim_trace", "failed_trace"])
def trace(request: pytest.FixtureRequest) -> Trace:
    return request.getfixturevalue(request.param)


def _iso(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_the_har_validates_against_the_har_1_2_schema(trace):
    har = har_from_trace(trace)
    checker = jsonschema.Draft7Validator(
        HAR_SCHEMA, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in checker.iter_errors(har)]
    assert errors == []
    assert json.loads(json.dumps(har)) == har  # plain JSON types only


def test_what_chrome_devtools_importer_expects(trace):
    log = har_from_trace(trace)["log"]
    page_ids = {page["id"] for page in log["pages"]}
    for page in log["pages"]:
        assert _iso(page["startedDateTime"]).tzinfo is not None
        for value in page["pageTimings"].values():
            assert type(value) in (int, float) and (value >= 0 or value == -1)
    for entry in log["entries"]:
        assert entry["pageref"] in page_ids
        started = _iso(entry["startedDateTime"])
        assert started.tzinfo is not None
        timings = entry["timings"]
        for name in ("blocked", "dns", "connect", "send", "wait", "receive", "ssl"):
            value = timings[name]
            assert type(value) in (int, float), (name, value)  # never a string, never bool
            assert value >= 0 or value == -1, (name, value)
        for name in ("send", "wait", "receive"):
            assert timings[name] >= 0
        if timings["ssl"] >= 0:  # ssl is part of connect (HAR 1.2)
            assert 0 <= timings["ssl"] <= timings["connect"]
        phases = [v for k, v in timings.items() if k != "ssl" and v > 0]
        assert entry["time"] >= 0
        assert entry["time"] == pytest.approx(sum(phases), abs=0.01)
        if "connection" in entry:
            assert isinstance(entry["connection"], str) and entry["connection"].isdigit()
        for part in (entry["request"], entry["response"]):
            assert type(part["headersSize"]) is int and type(part["bodySize"]) is int
        assert type(entry["response"]["content"]["size"]) is int
        assert type(entry["response"]["status"]) is int


def test_entries_match_the_traces_requests(trace):
    log = har_from_trace(trace)["log"]
    queued = [e for e in trace.of_type(HttpRequestQueued) if e.actor == "browser"]
    assert [e["request"]["url"] for e in log["entries"]] == [q.url for q in queued]
    sent = {e.request: e for e in trace.of_type(HttpRequestSent) if e.actor == "browser"}
    peers = {
        e.connection: e.peer[0] for e in trace.of_type(TcpConnectionOpened) if e.actor == "browser"
    }
    for entry, timing in zip(log["entries"], request_timings(trace), strict=True):
        assert entry["request"]["method"] == "GET"
        if timing.request in sent:
            request = sent[timing.request]
            assert entry["connection"] == str(request.connection)
            assert entry["serverIPAddress"] == peers[request.connection]
            assert entry["request"]["headers"] == [
                {"name": n, "value": v} for n, v in request.headers
            ]
            assert entry["request"]["headersSize"] == request.size
        if timing.error is None:
            assert entry["response"]["status"] == timing.status
            assert entry["response"]["bodySize"] == timing.wire_size
            assert entry["response"]["content"]["size"] == timing.size
            assert "_error" not in entry
        else:
            assert entry["_error"] == timing.error


def test_the_demo_page_its_compression_and_a_query_string(demo_trace):
    log = har_from_trace(demo_trace)["log"]
    (page,) = log["pages"]
    assert page["title"] == "How the web works, in four steps"
    assert page["pageTimings"]["onLoad"] > 0
    document = log["entries"][0]
    assert document["response"]["status"] == 200
    assert document["response"]["httpVersion"] == "HTTP/1.1"
    content = document["response"]["content"]
    assert content["mimeType"].startswith("text/html")
    assert content["compression"] == content["size"] - document["response"]["bodySize"] > 0
    assert document["timings"]["ssl"] == -1  # plain HTTP
    reused = [e for e in log["entries"] if e["timings"]["connect"] == -1]
    assert reused, "the stylesheet goes on the page's kept-alive connection"
    url = "http://example.test/search?q=a+b&lang=es&empty="
    expected = [("q", "a b"), ("lang", "es"), ("empty", "")]
    assert _query_string(url) == [{"name": n, "value": v} for n, v in expected]


def test_a_failed_request_has_status_0_and_an_error(failed_trace):
    (entry,) = har_from_trace(failed_trace)["log"]["entries"]
    assert entry["response"]["status"] == 0
    assert "did not answer" in entry["_error"]
    assert entry["timings"]["dns"] > 0 and entry["timings"]["connect"] == -1
