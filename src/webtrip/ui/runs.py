"""The run manager: runs made on request, one at a time, off the server's event loop.

A run is CPU work in Python (the simulated network, then the app's data), so
it must not run on the event loop that answers the page, nor in a thread
sharing its lock all the time. Each run goes to a **worker process**, started
once and kept warm (its imports done: a new process would spend seconds on
them), fed one job at a time through a pipe. A thread per worker waits for the
answer; when a run passes its wall-time bound the process is killed and a new
one started, so a run can never hold the machine.

Every run is bounded three ways: in virtual time (the browser gives up after
:data:`VIRTUAL_LIMIT` seconds of simulated time), in wall time
(:data:`WALL_LIMIT`) and in events (a trace of more than :data:`MAX_EVENTS`
events is not shown). Runs wait in a small queue (:data:`QUEUE_SIZE`); when it
is full a new one is refused (the app answers 429). The last
:data:`KEEP` runs are kept in memory, with their app data as JSON text.

Listeners (the app's server-sent events) hear ``queued``, ``started``,
``finished`` and ``failed`` as they happen.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import multiprocessing
import queue
import signal
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from multiprocessing.connection import Connection
from typing import Any

from webtrip.i18n import LANGUAGES, number, seconds, translation
from webtrip.ui.params import INTERNET, LabChoice, RunParams, is_public_address

__all__ = [
    "KEEP",
    "MAX_EVENTS",
    "QUEUE_SIZE",
    "VIRTUAL_LIMIT",
    "WALL_LIMIT",
    "QueueFull",
    "Run",
    "RunManager",
]

VIRTUAL_LIMIT = 120.0
"""Seconds of simulated time after which the browser gives up on a page."""
WALL_LIMIT = 30.0
"""Seconds of real time a run may take, its app data included."""
MAX_EVENTS = 200_000
"""The most events a run's trace may hold and still be shown."""
QUEUE_SIZE = 4
"""How many runs may wait for a worker."""
KEEP = 20
"""How many runs the app remembers."""


class QueueFull(Exception):
    """Too many runs are waiting already."""


class NotPublic(Exception):
    """A real-network page whose host is (now) this machine or a private network."""

    def __init__(self, host: str) -> None:
        super().__init__(host)
        self.host = host


@dataclass
class Run:
    """One run: its parameters, where it is, and when done its app data (JSON text)."""

    id: str
    params: RunParams
    parent: str | None
    change: str | None
    status: str = "queued"  # queued, running, done, failed
    posted: float = field(default_factory=time.monotonic)
    started: float | None = None
    ended: float | None = None
    error: dict[str, str] | None = None
    summary: dict[str, str] = field(default_factory=dict)
    data: str | None = None  # app_data's JSON: its first part (all but app_data.LATER)
    rest: str | None = None  # app_data's JSON: the keys in app_data.LATER, made after
    trace: str | None = None  # the trace's JSON (what ``--json`` writes)
    timings: dict[str, float] = field(default_factory=dict)
    complete: threading.Event = field(default_factory=threading.Event, repr=False)
    """Set once nothing more will come: the rest and the trace are in (or the run failed)."""

    def full_data(self) -> str | None:
        """The whole of app_data's document (both parts as one JSON object), once complete."""
        if self.data is None or self.rest is None:
            return self.data
        return self.data[:-1] + "," + self.rest[1:]

    def description(self) -> dict[str, Any]:
        """What the session list shows of the run (no data)."""
        waited = (self.ended or time.monotonic()) - self.posted
        return {
            "id": self.id,
            "status": self.status,
            "parent": self.parent,
            "change": self.change,
            "params": self.params.as_json(),
            "summary": self.summary,
            "error": self.error,
            "seconds": round(waited, 3),
            "timings": self.timings,
        }


Listener = Callable[[dict[str, Any]], None]


class RunManager:
    """Queues runs, hands them to warm worker processes, keeps the last :data:`KEEP`."""

    def __init__(
        self,
        labs: dict[str, LabChoice],
        *,
        workers: int = 1,
        queue_size: int = QUEUE_SIZE,
        wall_limit: float = WALL_LIMIT,
        keep: int = KEEP,
    ) -> None:
        self.labs = labs
        self.wall_limit = wall_limit
        self.keep = keep
        self.runs: OrderedDict[str, Run] = OrderedDict()
        self._lock = threading.Lock()
        self._queue: queue.Queue[Run | None] = queue.Queue(maxsize=queue_size)
        self._ids = itertools.count(1)
        self._listeners: list[Listener] = []
        self._workers = [_Worker() for _ in range(max(1, min(workers, 2)))]
        self._threads = [
            threading.Thread(target=self._serve, args=(worker,), daemon=True, name="webtrip-run")
            for worker in self._workers
        ]

    def start(self) -> None:
        """Start the worker processes (they warm up in the background) and their threads."""
        for worker in self._workers:
            worker.start()
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop taking runs, end the worker processes; runs still waiting are dropped."""
        with contextlib.suppress(queue.Full):
            for _ in self._threads:
                self._queue.put_nowait(None)
        for worker in self._workers:
            worker.stop()

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` for every run event; returns the function that stops it."""
        with self._lock:
            self._listeners.append(listener)

        def stop() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return stop

    def submit(
        self, params: RunParams, parent: str | None = None, change: str | None = None
    ) -> Run:
        """Queue a run of ``params``; QueueFull if too many are waiting."""
        with self._lock:
            run = Run(str(next(self._ids)), params, parent, change)
            run.summary = summary(params, self.labs)
            try:
                self._queue.put_nowait(run)
            except queue.Full:
                raise QueueFull from None
            self.runs[run.id] = run
            while len(self.runs) > self.keep:
                self.runs.popitem(last=False)
        self._tell("queued", run)
        return run

    def get(self, run_id: str) -> Run | None:
        with self._lock:
            return self.runs.get(run_id)

    def listing(self) -> list[dict[str, Any]]:
        """The session list, newest first."""
        with self._lock:
            return [run.description() for run in reversed(self.runs.values())]

    def _tell(self, kind: str, run: Run) -> None:
        event = {"type": kind, "run": run.description()}
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(event)

    def _serve(self, worker: _Worker) -> None:
        """A worker's thread: take the next run, hand it to the process, wait, tell."""
        while True:
            run = self._queue.get()
            if run is None:
                return
            run.status, run.started = "running", time.monotonic()
            self._tell("started", run)
            choice = self.labs[run.params.lab]
            answer = worker.do({"params": run.params.as_json(), "lab": choice}, self.wall_limit)
            run.ended = time.monotonic()
            run.timings["queued"] = round(run.started - run.posted, 4)
            run.timings["total"] = round(run.ended - run.posted, 4)
            if answer is None:
                run.status = "failed"
                run.error = _both(
                    lambda _, language: _(
                        "The run took longer than {seconds} s of real time and was stopped."
                    ).format(seconds=number(self.wall_limit, language))
                )
            elif "error" in answer:
                run.status, run.error = "failed", answer["error"]
            else:
                run.status, run.data = "done", answer["data"]
                run.timings.update(answer["timings"])
                run.summary = summary(run.params, self.labs, answer["outcome"])
            self._tell("finished" if run.status == "done" else "failed", run)
            if run.status == "done":  # the page draws the first part while the rest is made
                more = worker.more(self.wall_limit)
                if more is not None:
                    run.rest, run.trace = more["rest"], more["trace"]
                    run.timings.update(more["timings"])
            run.complete.set()


def summary(
    params: RunParams, labs: dict[str, LabChoice], outcome: dict[str, Any] | None = None
) -> dict[str, str]:
    """One line per language for the session list: the lab, the network, the faults, the
    seed, and once done how the load ended."""
    lines = {}
    for language in LANGUAGES:
        _ = translation(language).gettext
        choice = labs.get(params.lab)
        parts = [params.url or (choice.url if choice else None) or params.lab]
        if params.profile:
            parts.append(params.profile)
        for key, unit in (("latency", " ms"), ("bandwidth", " Mbit/s")):
            value = getattr(params, key)
            if value is not None:
                shown = number(value, language, 2 if value % 1 else 0)
                parts.append(f"{_name_of(key, language)} {shown}{unit}")
        for key in ("loss", "reorder", "duplicate"):
            value = getattr(params, key)
            if value:
                shown = number(value, language, 1 if value % 1 else 0)
                parts.append(f"{_name_of(key, language)} {shown}%")
        if params.mtu:
            parts.append(f"MTU {params.mtu}")
        for fault in params.faults:
            parts.append(_fault_words(fault, language))
        if choice is None or choice.kind != INTERNET:
            parts.append(_("seed {seed}").format(seed=params.seed))
        if outcome is not None:
            parts.append(outcome[language])
        lines[language] = " · ".join(parts)
    return lines


def _name_of(key: str, language: str) -> str:
    _ = translation(language).gettext
    return {
        "latency": _("latency"),
        "bandwidth": _("bandwidth"),
        "loss": _("loss"),
        "reorder": _("reordering"),
        "duplicate": _("duplication"),
    }[key]


def _fault_words(fault: dict[str, Any], language: str) -> str:
    _ = translation(language).gettext
    if fault["action"] == "dns-silent":
        return _("DNS silent")
    if fault["action"] == "drop":
        return _("drop {packet}").format(packet=fault["packet"])
    return _("delay {packet} by {ms} ms").format(
        packet=fault["packet"], ms=number(fault["by"], language)
    )


def _both(sentence: Callable[[Callable[[str], str], str], str]) -> dict[str, str]:
    return {language: sentence(translation(language).gettext, language) for language in LANGUAGES}


# --- the worker process ------------------------------------------------------------------------


class _Worker:
    """One warm process that makes runs, and the pipe to it; replaced when it overruns."""

    def __init__(self) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._process: Any = None
        self._conn: Connection | None = None

    def start(self) -> None:
        mine, theirs = self._context.Pipe()
        self._process = self._context.Process(
            target=_work, args=(theirs,), daemon=True, name="webtrip-ui-worker"
        )
        self._process.start()
        theirs.close()
        self._conn = mine

    def stop(self) -> None:
        if self._process is not None and self._process.is_alive():
            self._process.kill()
            self._process.join(5)
        if self._conn is not None:
            self._conn.close()

    def do(self, job: dict[str, Any], wall_limit: float) -> dict[str, Any] | None:
        """Send ``job``; its answer, or None when it took longer than ``wall_limit`` s (the
        process is then killed and replaced) or the process died."""
        assert self._conn is not None
        try:
            self._conn.send(job)
            if self._conn.poll(wall_limit):
                answer: dict[str, Any] = self._conn.recv()
                return answer
        except (EOFError, OSError):
            pass
        self.stop()
        self.start()
        return None

    def more(self, wall_limit: float) -> dict[str, Any] | None:
        """The second message of a run that succeeded (its rest and trace); None, and the
        process replaced, when it does not come within ``wall_limit`` s."""
        assert self._conn is not None
        try:
            if self._conn.poll(wall_limit):
                answer: dict[str, Any] = self._conn.recv()
                return answer
        except (EOFError, OSError):
            pass
        self.stop()
        self.start()
        return None


def _work(conn: Connection) -> None:
    """The worker process's loop: warm up, then one job at a time until the pipe closes.

    Ctrl-C at the terminal reaches the whole process group: the worker leaves it to the
    server, which ends it. The warm-up (a demo run, thrown away) does the imports and
    first-call work now rather than at the learner's first run."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(Exception):
        answer, later = _make_run(asdict(RunParams()), LabChoice("demo", "demo"))
        if later is not None:
            later()
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        later = None
        try:
            answer, later = _make_run(job["params"], job["lab"])
        except NotPublic as exc:
            answer = {"error": _not_public(exc.host)}
        except Exception as exc:  # told to the visitor; the worker goes on
            answer = {"error": _unexpected(type(exc).__name__)}
        conn.send(answer)
        if later is not None:  # the first part is on its way: now the rest and the trace
            conn.send(later())


def _not_public(host: str) -> dict[str, str]:
    return _both(
        lambda _, language: _(
            "{host} is this machine or a private network: the app loads only pages of "
            "the public Internet."
        ).format(host=host)
    )


def _unexpected(kind: str) -> dict[str, str]:
    return _both(
        lambda _, language: _("The run failed on an error webtrip did not expect ({kind}).").format(
            kind=kind
        )
    )


_LABS: dict[str, Any] = {}


def _make_run(
    params: dict[str, Any], choice: LabChoice
) -> tuple[dict[str, Any], Callable[[], dict[str, Any]] | None]:
    """Run ``params`` (simulated, or on the real network) and build its app data: the
    answer with the first part's JSON (what the first frame draws), and a function that
    makes the second message (the rest of the data and the trace's JSON), or None."""
    from webtrip.report.app_data import app_data_parts

    started = time.perf_counter()
    trace = _real_load(params) if choice.kind == INTERNET else _sim_run(params, choice)
    simulated = time.perf_counter()
    if len(trace.events) > MAX_EVENTS:
        return {
            "error": _both(
                lambda _, language: _(
                    "The run made {count} events, more than the {limit} the app shows."
                ).format(
                    count=number(len(trace.events), language), limit=number(MAX_EVENTS, language)
                )
            )
        }, None
    data, rest = app_data_parts(trace)
    if choice.kind != INTERNET:
        data["run"]["seed"] = params["seed"]
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    built = time.perf_counter()

    def later() -> dict[str, Any]:
        begun = time.perf_counter()
        more = json.dumps(rest(), ensure_ascii=False, separators=(",", ":"))
        return {
            "rest": more,
            "trace": trace.to_json(),
            "timings": {"rest": round(time.perf_counter() - begun, 4)},
        }

    return {
        "data": text,
        "outcome": _outcome(data["run"]),
        "timings": {"run": round(simulated - started, 4), "data": round(built - simulated, 4)},
    }, later


def _outcome(run: dict[str, Any]) -> dict[str, str]:
    """How the load ended, in a few words: ``200 in 0.42 s``, or that it did not load."""
    if run["status"] is None:
        return _both(lambda _, language: _("not loaded"))
    return _both(
        lambda _, language: _("{status} in {time}").format(
            status=run["status"], time=seconds(run["ended"] - run["started"], language)
        )
    )


def _sim_run(params: dict[str, Any], choice: LabChoice) -> Any:
    """The same path as ``webtrip sim``: :func:`webtrip.lab.sim.run` on the chosen lab."""
    from webtrip import lab
    from webtrip.lab import sim
    from webtrip.lab.profiles import PROFILES

    chosen = _LABS.get(choice.name)
    if chosen is None:
        chosen = _LABS[choice.name] = _load_lab(choice)
    profile = PROFILES.get(params["profile"] or "")
    latency, bandwidth, loss = params["latency"], params["bandwidth"], params["loss"]
    conditions = sim.LinkConditions(
        latency=latency / 1000 if latency is not None else profile.latency if profile else None,
        bandwidth=bandwidth * 1e6 if bandwidth is not None
        else profile.bandwidth if profile else None,
        loss=loss / 100 if loss is not None else profile.loss if profile and profile.loss else None,
        reorder=params["reorder"] / 100 if params["reorder"] else None,
        duplicate=params["duplicate"] / 100 if params["duplicate"] else None,
        mtu=params["mtu"],
    )  # fmt: skip
    faults = []
    for fault in params["faults"]:
        if fault["action"] == "drop":
            faults.append(lab.parse_fault("drop", fault["packet"]))
        elif fault["action"] == "delay":
            faults.append(lab.parse_fault("delay", f"{fault['packet']}={fault['by']}ms"))
    run = sim.run(
        chosen,
        params["seed"],
        conditions,
        url=params["url"],
        language=params["lang"],
        faults=faults,
        dns_silent=any(f["action"] == "dns-silent" for f in params["faults"]),
        page_timeout=VIRTUAL_LIMIT,
        silence_timeout=VIRTUAL_LIMIT / 2,
    )
    return run.world.trace


def _load_lab(choice: LabChoice) -> Any:
    from webtrip import lab
    from webtrip.web.sites import Site, SiteMap

    if choice.kind == "file":
        assert choice.path is not None
        return lab.load_lab(choice.path)
    demo = lab.demo_lab()
    if choice.kind == "site":
        assert choice.path is not None
        return replace(demo, sites=SiteMap([Site.from_folder("", choice.path)]))
    return demo


def _real_load(params: dict[str, Any]) -> Any:
    """A page on the real network, as ``webtrip browse`` loads it (its host checked again
    here, just before, so a name that moved to a private address is refused)."""
    import asyncio
    import urllib.parse

    from webtrip.browser.loader import Browser, BrowserOptions
    from webtrip.browser.stub_resolver import StubResolver
    from webtrip.net import RealNetwork
    from webtrip.trace import Trace

    host = urllib.parse.urlsplit(params["url"]).hostname or ""
    addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    if not all(is_public_address(str(a)) for a in addresses):
        raise NotPublic(host)
    options = BrowserOptions(total_timeout=WALL_LIMIT * 0.8, language=params["lang"])

    async def load() -> Trace:
        network = RealNetwork()
        trace = Trace(network.now)
        browser = Browser(network, StubResolver(network, trace), trace, options=options)
        await browser.load(params["url"])
        return trace

    return asyncio.run(load())
