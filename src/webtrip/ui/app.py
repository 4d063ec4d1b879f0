"""The ``webtrip ui`` application: the page, its files, and a small JSON API.

Routes (all behind :class:`webtrip.ui.security.Guard`):

- ``GET /`` — the replay app (``report/app``) with the run form and the
  session list (``static/ui.js``) filling its ``#controls`` and ``#runs``;
  scripts and styles are files of our own origin, never inline;
- ``GET /api/options`` — what the form offers: labs, network profiles, the
  packet filters for faults, the limits, the languages, the form's words;
- ``POST /api/runs`` — make a run (→ 202 ``{"id"}``); ``{"base": ID, "change":
  {KEY: VALUE}}`` runs ID again with one parameter changed (its seed kept);
- ``GET /api/runs`` — the session list; ``GET /api/runs/ID`` — one run, with
  the app's data when done (the whole document); ``?part=first`` — with only what the
  first frame draws (all but ``app_data.LATER``), sent as soon as it is made;
  ``GET /api/runs/ID/rest`` — the rest (the keys in ``LATER``); ``GET
  /api/runs/ID/trace`` — its trace (JSON); both wait until the worker has made them;
- ``GET /api/events`` — server-sent events: run queued, started, finished, failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from webtrip.i18n import LANGUAGES, translation
from webtrip.lab import FILTERS
from webtrip.lab.profiles import PROFILES
from webtrip.outcomes import N_
from webtrip.report.html import app_page, app_script
from webtrip.ui.params import KEYS, LIMITS, BadParameter, LabChoice, check
from webtrip.ui.runs import QueueFull, Run, RunManager
from webtrip.ui.security import Guard, language_of

__all__ = ["Settings", "create_app"]

MAX_LISTENERS = 32
"""How many pages may follow the server-sent events at once."""


@dataclass
class Settings:
    """How the app was started: its address, its labs, whether it may use the real network."""

    host: str
    port: int
    labs: dict[str, LabChoice]
    allow_network: bool = False
    language: str = "en"

    @property
    def origin(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def hosts(self) -> set[str]:
        """The Host header values answered: the bound address, and localhost on loopback."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        names = {f"{host}:{self.port}"}
        if self.host == "127.0.0.1":
            names.add(f"localhost:{self.port}")
        return names


def create_app(
    settings: Settings, manager: RunManager, stopping: threading.Event | None = None
) -> Guard:
    """The ASGI application (guarded). ``stopping`` set: event streams end at once."""
    stopping = stopping or threading.Event()
    listeners = [0]

    def error(request: Request, status: int, sentence: str) -> JSONResponse:
        return JSONResponse({"error": sentence}, status_code=status)

    async def page(request: Request) -> Response:
        return Response(_page(language_of(request.scope)), media_type="text/html")

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        found = _asset(name)
        if found is None:
            _ = translation(language_of(request.scope)).gettext
            return error(request, 404, _("There is no such file."))
        text, kind = found
        return Response(text, media_type=kind, headers={"cache-control": "no-cache"})

    async def options(request: Request) -> Response:
        return JSONResponse(_options(settings))

    async def make_run(request: Request) -> Response:
        language = language_of(request.scope)
        _ = translation(language).gettext
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            return error(request, 400, _("The request's body is not a JSON object."))
        asked = body.get("lang")
        language = asked if isinstance(asked, str) and asked in LANGUAGES else language
        _ = translation(language).gettext
        parent = change = None
        if "base" in body:
            base = manager.get(str(body["base"]))
            if base is None:
                return error(request, 404, _("There is no such run (the app keeps the last 20)."))
            changed = body.get("change")
            if (
                set(body) != {"base", "change"}
                or not isinstance(changed, dict)
                or len(changed) != 1
            ):
                return error(
                    request,
                    400,
                    _('Run again with one change: {"base": ID, "change": {KEY: VALUE}}.'),
                )
            parent, change = base.id, next(iter(changed))
            body = base.params.as_json() | changed
            body = {key: value for key, value in body.items() if value is not None}
        try:
            params = await asyncio.to_thread(
                check, body, settings.labs, language, settings.allow_network, _resolve
            )
        except BadParameter as exc:
            return error(request, exc.status, str(exc))
        try:
            run = manager.submit(params, parent, change)
        except QueueFull:
            return error(
                request, 429, _("Too many runs are waiting: try again when one has finished.")
            )
        return JSONResponse({"id": run.id}, status_code=202)

    async def list_runs(request: Request) -> Response:
        return JSONResponse({"runs": manager.listing()})

    async def completed(run: Run) -> None:
        """Wait (off the event loop's back) until ``run``'s rest and trace are in."""
        if run.status == "done" and not run.complete.is_set():
            await asyncio.to_thread(run.complete.wait, manager.wall_limit + 5)

    async def one_run(request: Request) -> Response:
        run = manager.get(request.path_params["id"])
        if run is None:
            _ = translation(language_of(request.scope)).gettext
            return error(request, 404, _("There is no such run (the app keeps the last 20)."))
        if request.query_params.get("part") == "first":  # what the page's first frame draws
            data = run.data
        else:
            await completed(run)
            data = run.full_data()
        head = json.dumps(run.description(), ensure_ascii=False)
        body = head[:-1] + ',"data":' + (data if data is not None else "null") + "}"
        return Response(body, media_type="application/json")

    async def run_rest(request: Request) -> Response:
        run = manager.get(request.path_params["id"])
        if run is not None:
            await completed(run)
        if run is None or run.rest is None:
            _ = translation(language_of(request.scope)).gettext
            return error(request, 404, _("There is no such run (the app keeps the last 20)."))
        return Response(run.rest, media_type="application/json")

    async def run_trace(request: Request) -> Response:
        run = manager.get(request.path_params["id"])
        if run is not None:
            await completed(run)
        if run is None or run.trace is None:
            _ = translation(language_of(request.scope)).gettext
            return error(request, 404, _("There is no such run (the app keeps the last 20)."))
        return Response(run.trace, media_type="application/json")

    async def events(request: Request) -> Response:
        if listeners[0] >= MAX_LISTENERS:
            _ = translation(language_of(request.scope)).gettext
            return error(request, 429, _("Too many pages are following this app's runs."))
        loop = asyncio.get_running_loop()
        waiting: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=256)

        def hear(event: dict[str, Any]) -> None:
            def put() -> None:
                with contextlib.suppress(asyncio.QueueFull):
                    waiting.put_nowait(event)

            with contextlib.suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(put)

        async def stream() -> AsyncIterator[str]:
            listeners[0] += 1
            stop = manager.listen(hear)
            try:
                yield "retry: 2000\n\n"
                quiet = 0.0
                while not stopping.is_set():
                    try:
                        event = await asyncio.wait_for(waiting.get(), 0.25)
                    except TimeoutError:
                        quiet += 0.25
                        if quiet >= 15:
                            quiet = 0.0
                            yield ": still here\n\n"
                        continue
                    quiet = 0.0
                    text = json.dumps(event, ensure_ascii=False)
                    yield f"event: {event['type']}\ndata: {text}\n\n"
            finally:
                stop()
                listeners[0] -= 1

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )

    routes = [
        Route("/", page),
        Route("/assets/{name}", asset),
        Route("/api/options", options),
        Route("/api/runs", make_run, methods=["POST"]),
        Route("/api/runs", list_runs, methods=["GET"]),
        Route("/api/runs/{id}", one_run),
        Route("/api/runs/{id}/rest", run_rest),
        Route("/api/runs/{id}/trace", run_trace),
        Route("/api/events", events),
    ]
    return Guard(Starlette(routes=routes), settings.hosts(), settings.origin)


def _resolve(host: str) -> list[str]:
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, None)})


# --- what the form offers ----------------------------------------------------------------------


def _options(settings: Settings) -> dict[str, Any]:
    labs = [
        {"name": choice.name, "kind": choice.kind, "url": choice.url}
        for choice in settings.labs.values()
    ]
    return {
        "labs": labs,
        "allow_network": settings.allow_network,
        "language": settings.language,
        "languages": list(LANGUAGES),
        "profiles": [
            {
                "name": profile.name,
                "rtt_ms": round(profile.rtt * 1000, 3),
                "bandwidth_mbit": profile.bandwidth / 1e6 if profile.bandwidth else None,
                "loss_percent": profile.loss * 100,
                "title": {lang: translation(lang).gettext(profile.title) for lang in LANGUAGES},
            }
            for profile in PROFILES.values()
        ],
        "packets": [
            {"name": name, "title": {lang: translation(lang).gettext(text) for lang in LANGUAGES}}
            for name, (_match, _sender, text) in FILTERS.items()
        ],
        "limits": {key: list(value) for key, value in LIMITS.items()},
        "parameters": list(KEYS),
        "words": {language: _words(language) for language in LANGUAGES},
    }


def _words(language: str) -> dict[str, str]:
    """Every word the run form and the session list show, in ``language``."""
    _ = translation(language).gettext
    return {
        "form": _("Make a run"),
        "lab": _("What to load"),
        "lab.demo": _("The demo lab"),
        "lab.file": _("Lab file: {name}"),
        "lab.site": _("Site folder: {name}"),
        "lab.internet": _("A page on the real network"),
        "url": _("Address (URL)"),
        "network": _("Network"),
        "profile": _("Profile"),
        "profile.none": _("The lab's own network"),
        "latency": _("Latency, one way (ms)"),
        "bandwidth": _("Bandwidth (Mbit/s)"),
        "loss": _("Loss (%)"),
        "reorder": _("Reordering (%)"),
        "duplicate": _("Duplication (%)"),
        "mtu": _("MTU (bytes)"),
        "faults": _("Faults"),
        "fault": _("Fault"),
        "packet": _("Packet"),
        "fault.drop": _("Drop a packet"),
        "fault.delay": _("Delay a packet"),
        "fault.silent": _("The DNS server never answers"),
        "fault.none": _("none"),
        "fault.by": _("by (ms)"),
        "seed": _("Seed"),
        "language": _("Language"),
        "run": _("Run"),
        "runs": _("Runs"),
        "no_runs": _("No runs yet: choose and press Run."),
        "again": _("Run again with one change"),
        "again.key": _("Change"),
        "again.value": _("to"),
        "status.queued": _("waiting its turn"),
        "status.running": _("running…"),
        "status.done": _("done"),
        "status.failed": _("failed"),
        "network_off": _("Off: start webtrip ui with --allow-network to load real pages."),
        "lost_connection": _("The connection to webtrip ui was lost; it will try again."),
    }


# --- the page and its files --------------------------------------------------------------------

TITLE = N_("webtrip: watch a page load")

STATIC = ("ui.js", "ui.css")
"""Our own files (``ui/static``): the run form and the session list."""


def _static(name: str) -> str:
    return resources.files("webtrip.ui").joinpath("static", name).read_text("utf-8")


@cache
def _asset(name: str) -> tuple[str, str] | None:
    """``/assets/NAME``: the replay app's script and style, and ours."""
    if name == "app.js":
        return app_script(), "text/javascript; charset=utf-8"
    if name == "app.css":
        return (
            resources.files("webtrip.report").joinpath("app", "app.css").read_text("utf-8"),
            "text/css; charset=utf-8",
        )
    if name in STATIC:
        kind = "text/javascript" if name.endswith(".js") else "text/css"
        return _static(name), kind + "; charset=utf-8"
    return None


def _page(language: str) -> str:
    """The replay app's page with its files linked from our origin (no inline script or
    style element, so the CSP needs no 'unsafe-inline'), the runs loaded by ui.js."""
    return app_page(
        None,
        language,
        title=translation(language).gettext(TITLE),
        linked=(["/assets/app.css", "/assets/ui.css"], ["/assets/app.js", "/assets/ui.js"]),
    )
