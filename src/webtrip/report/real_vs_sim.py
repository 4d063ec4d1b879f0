"""Real against simulated: how close a real run (Linux's TCP) and a simulated one are.

``webtrip compare --real-vs-sim`` loads the same lab twice — over Linux's
TCP/IP in network namespaces and in webtrip's simulated network — and compares
the traces with :mod:`webtrip.report.compare`. This module adds what only that
pair needs:

- :func:`measure` reads the fidelity figures off one trace, as
  tests/lab/test_real_vs_sim.py and docs/fidelity.md define them: the browser's
  DNS lookup, each handshake (SYN out → SYN-ACK in, by the capture's
  timestamps), the page time, the data segments per file, the packets and pure
  ACKs at the browser, and what the TCP headers carry (segment payloads, the
  timestamps and SACK options, FINs riding on data, segments sent again);
- :func:`closeness` says, per step of the four, how close the two are against
  docs/fidelity.md's tolerances;
- :func:`causes` explains each kind of difference by its known cause, and only
  where the two traces show it (no "delayed ACK" sentence when the counts of
  pure ACKs are equal).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from webtrip.i18n import milliseconds, number, translation
from webtrip.packets.dissect import PacketError, dissect
from webtrip.trace import (
    HttpRequestQueued,
    HttpRequestSent,
    NameLookupStarted,
    NameResolved,
    PacketCaptured,
    PageLoadFinished,
    PageLoadStarted,
    TcpConnectionOpened,
    Trace,
)

__all__ = [
    "TIME_TOLERANCE",
    "Cause",
    "Figures",
    "Row",
    "RunMade",
    "causes",
    "closeness",
    "measure",
    "show",
    "to_json",
]

TIME_TOLERANCE = 0.15
"""docs/fidelity.md: a handshake or page time within 15 % of Linux's (on a clean link)."""
LINUX_MIN_RTO = 0.2
WEBTRIP_MIN_RTO = 1.0
TIMESTAMPS_OPTION = 8
SACK_PERMITTED_OPTION = 4
SACK_OPTION = 5


def N_(text: str) -> str:
    """Mark ``text`` for translation where it is written; it is translated where shown."""
    return text


@dataclass(frozen=True)
class RunMade:
    """How the real run was made (from :class:`webtrip.lab.namespaces.RealRun`)."""

    latency_by: str  # "netem", "bridge" (user space) or "none"
    unshaped: tuple[tuple[str, str, float], ...] = ()
    """The lab's other links (ends, one-way latency in the lab): veths with no delay."""
    pages: tuple[float | None, ...] = ()
    """Each real run's page time (s), in the order they ran."""


@dataclass
class Figures:
    """What the fidelity table compares, read off one trace."""

    dns: float | None = None  # the browser's first lookup: asked → answered (s)
    handshakes: list[float] = field(default_factory=list)  # each SYN → SYN-ACK (s)
    page: float | None = None  # the first page load: started → finished (s)
    segments: dict[str, int] = field(default_factory=dict)  # file → data segments received
    packets: int = 0  # every packet at the browser
    acks: int = 0  # pure ACKs the browser sent (no data, no SYN, FIN or RST)
    largest: int = 0  # the largest payload of a data segment the browser received
    timestamps: int = 0  # segments at the browser with the timestamps option
    sack_permitted: int = 0  # SYNs offering SACK
    sack_blocks: int = 0  # segments carrying SACK blocks
    fin_on_data: int = 0  # FINs that rode on a segment with data
    fin_alone: int = 0  # FINs sent in a segment of their own
    resent: int = 0  # data segments seen a second time (same flow, direction, sequence)

    @property
    def handshake(self) -> float | None:
        return statistics.median(self.handshakes) if self.handshakes else None

    @property
    def spread(self) -> float:
        return max(self.handshakes) - min(self.handshakes) if self.handshakes else 0.0


def _options(data: bytes) -> set[int]:
    """The kinds of TCP option a captured IPv4/TCP packet carries."""
    ihl = (data[0] & 0x0F) * 4
    offset = (data[ihl + 12] >> 4) * 4
    raw, kinds, i = data[ihl + 20 : ihl + offset], set(), 0
    while i < len(raw):
        kind = raw[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        kinds.add(kind)
        i += max(raw[i + 1], 2) if i + 1 < len(raw) else 2
    return kinds


def measure(trace: Trace) -> Figures:
    """The fidelity figures of ``trace`` (the browser's side of it)."""
    figures = Figures()
    browser = [e for e in trace if e.actor == "browser"]
    started = next((e for e in browser if isinstance(e, NameLookupStarted)), None)
    resolved = next((e for e in browser if isinstance(e, NameResolved)), None)
    if started is not None and resolved is not None:
        figures.dns = resolved.t - started.t
    load = next((e for e in browser if isinstance(e, PageLoadStarted)), None)
    done = next((e for e in browser if isinstance(e, PageLoadFinished)), None)
    if load is not None and done is not None:
        figures.page = done.t - load.t
    port_of = {
        e.connection: e.local[1]
        for e in trace.of_type(TcpConnectionOpened)
        if e.actor == "browser" and e.local
    }
    url_of = {e.request: e.url.split("/", 3)[-1] or "/" for e in trace.of_type(HttpRequestQueued)}
    asking: dict[int, str] = {}  # the browser's port → the file being asked for on it
    syn: dict[int, float] = {}
    seen: set[tuple[str, int, int, int]] = set()
    for event in browser:
        if isinstance(event, HttpRequestSent) and event.connection in port_of:
            name = url_of.get(event.request, "?")
            asking[port_of[event.connection]] = name
            figures.segments.setdefault(name, 0)
            continue
        if not isinstance(event, PacketCaptured):
            continue
        figures.packets += 1
        try:
            tcp = dissect(event.data).tcp
        except PacketError:
            continue
        if tcp is None:
            continue
        flags = set(tcp.flags)
        kinds = _options(event.data)
        figures.timestamps += TIMESTAMPS_OPTION in kinds
        figures.sack_blocks += SACK_OPTION in kinds
        if "SYN" in flags:
            figures.sack_permitted += SACK_PERMITTED_OPTION in kinds
            if "ACK" not in flags:
                syn.setdefault(tcp.source_port, event.t)
            elif tcp.destination_port in syn:
                figures.handshakes.append(event.t - syn.pop(tcp.destination_port))
        if "FIN" in flags:
            if tcp.payload_size:
                figures.fin_on_data += 1
            else:
                figures.fin_alone += 1
        if event.direction == "out" and not tcp.payload_size and not {"SYN", "FIN", "RST"} & flags:
            figures.acks += 1
        if tcp.payload_size:
            segment = (event.direction, tcp.source_port, tcp.destination_port, tcp.sequence)
            if segment in seen:
                figures.resent += 1
            seen.add(segment)
            if event.direction == "in":
                figures.largest = max(figures.largest, tcp.payload_size)
                if tcp.destination_port in asking:
                    figures.segments[asking[tcp.destination_port]] += 1
    return figures


@dataclass(frozen=True)
class Row:
    """One line of the fidelity table: a measure of a step, Linux's and webtrip's."""

    step: str  # one of webtrip.report.compare.STEPS
    measure: str
    real: float | int | None
    sim: float | int | None
    tolerance: str  # "15%", "equal" or "reported"
    within: bool | None  # None: reported, no tolerance

    @property
    def share(self) -> float | None:
        """(webtrip − Linux) / Linux, for a time."""
        if isinstance(self.real, float) and isinstance(self.sim, float) and self.real > 0:
            return (self.sim - self.real) / self.real
        return None


def _timed(step: str, name: str, real: float | None, sim: float | None, asserted: bool) -> Row:
    if not asserted:
        return Row(step, name, real, sim, "reported", None)
    within = None
    if real is not None and sim is not None:
        within = abs(sim - real) <= TIME_TOLERANCE * real
    return Row(step, name, real, sim, "15%", within if real is not None else False)


def closeness(real: Figures, sim: Figures) -> list[Row]:
    """Per step of the four, how close the two runs are against docs/fidelity.md."""
    rows = [
        _timed("dns", "dns_lookup", real.dns, sim.dns, asserted=False),
        _timed("connection", "handshake", real.handshake, sim.handshake, asserted=True),
    ]
    for path in dict.fromkeys([*sim.segments, *real.segments]):
        ours, theirs = real.segments.get(path), sim.segments.get(path)
        rows.append(Row("request", f"segments:{path}", ours, theirs, "equal", ours == theirs))
    rows.append(Row("request", "packets", real.packets, sim.packets, "reported", None))
    rows.append(Row("request", "pure_acks", real.acks, sim.acks, "reported", None))
    rows.append(_timed("page", "page_load", real.page, sim.page, asserted=True))
    return rows


@dataclass(frozen=True)
class Cause:
    """A kind of difference the traces show, and its known cause, with the runs' values."""

    kind: str
    values: dict[str, Any]

    def sentence(self, language: str) -> str:
        return _sentence(self, language)


def causes(real: Figures, sim: Figures, made: RunMade) -> list[Cause]:
    """Each kind of difference between the two runs that has a known cause, where shown."""
    found = []
    if real.acks < sim.acks:
        found.append(Cause("delayed_acks", {"real": real.acks, "sim": sim.acks}))
    if real.largest and sim.largest and real.largest != sim.largest:
        same = real.segments == sim.segments
        found.append(
            Cause(
                "segment_size",
                {
                    "real": real.largest,
                    "sim": sim.largest,
                    "timestamps": real.timestamps > 0 and sim.timestamps == 0,
                    "same_segments": same,
                },
            )
        )
    if real.resent or sim.resent:
        found.append(Cause("min_rto", {"real": real.resent, "sim": sim.resent}))
    if real.fin_on_data != sim.fin_on_data:
        found.append(
            Cause(
                "fin_on_data",
                {
                    "real": real.fin_on_data,
                    "sim": sim.fin_on_data,
                    "real_alone": real.fin_alone,
                    "sim_alone": sim.fin_alone,
                },
            )
        )
    if (real.sack_permitted, real.sack_blocks) != (sim.sack_permitted, sim.sack_blocks):
        found.append(
            Cause(
                "sack",
                {
                    "real": real.sack_permitted,
                    "sim": sim.sack_permitted,
                    "real_blocks": real.sack_blocks,
                    "sim_blocks": sim.sack_blocks,
                },
            )
        )
    slow_links = [link for link in made.unshaped if link[2] > 0]
    if slow_links and real.dns is not None and sim.dns is not None and real.dns < sim.dns:
        found.append(
            Cause(
                "dns_unshaped",
                {
                    "real": real.dns,
                    "sim": sim.dns,
                    "links": len(slow_links),
                    "latency": max(link[2] for link in slow_links),
                },
            )
        )
    pages = [p for p in made.pages if p is not None]
    if len(pages) > 1 and max(pages) > min(pages):
        found.append(
            Cause(
                "jitter",
                {
                    "runs": len(pages),
                    "fastest": min(pages),
                    "slowest": max(pages),
                    "spread": max(pages) - min(pages),
                    "latency_by": made.latency_by,
                },
            )
        )
    return found


def _ms(value: float, language: str) -> str:
    return milliseconds(value * 1000, language)


def _sentence(cause: Cause, language: str) -> str:
    _ = translation(language).gettext
    ngettext = translation(language).ngettext
    v = cause.values

    def n(value: int) -> str:
        return number(value, language)

    if cause.kind == "delayed_acks":
        return ngettext(
            "Delayed ACKs: Linux's browser sent {real} pure ACK where webtrip's sent {sim}. "
            "Linux acknowledges every second full segment and holds a lone ACK back for a "
            "moment (RFC 9293 §3.8.6.3); webtrip's TCP acknowledges at once.",
            "Delayed ACKs: Linux's browser sent {real} pure ACKs where webtrip's sent {sim}. "
            "Linux acknowledges every second full segment and holds a lone ACK back for a "
            "moment (RFC 9293 §3.8.6.3); webtrip's TCP acknowledges at once.",
            int(v["real"]),
        ).format(real=n(v["real"]), sim=n(v["sim"]))
    if cause.kind == "segment_size":
        text = _("Segment sizes: a full segment carried {real} bytes in Linux and {sim} in "
                 "webtrip.").format(real=n(v["real"]), sim=n(v["sim"]))  # fmt: skip
        if v["timestamps"]:
            text += " " + _("Linux puts the 12-byte timestamps option (RFC 7323) in every "
                            "segment; webtrip's TCP does not use it.")  # fmt: skip
        if v["same_segments"]:
            text += " " + _("Every file still took the same number of segments.")
        else:
            text += " " + _("So some files took a different number of segments (the table).")
        return text
    if cause.kind == "min_rto":
        return _("Segments sent again: {real} in Linux, {sim} in webtrip. Linux waits at least "
                 "{linux} before resending; webtrip, as RFC 6298 says, at least {ours}.").format(
            real=n(v["real"]), sim=n(v["sim"]),
            linux=_ms(LINUX_MIN_RTO, language), ours=_ms(WEBTRIP_MIN_RTO, language),
        )  # fmt: skip
    if cause.kind == "fin_on_data":
        return _("FIN on the last segment: {real} FINs rode on data in Linux ({real_alone} "
                 "alone), {sim} in webtrip ({sim_alone} alone). Both TCPs put the FIN on the "
                 "last data segment when the program has closed before that segment leaves, "
                 "and send it alone otherwise: the programs closed at other moments, against "
                 "their last data, in the two runs.").format(
            real=n(v["real"]), sim=n(v["sim"]),
            real_alone=n(v["real_alone"]), sim_alone=n(v["sim_alone"]),
        )  # fmt: skip
    if cause.kind == "sack":
        text = _("SACK: {real} SYN and SYN-ACK segments offered selective acknowledgments in "
                 "Linux and {sim} in webtrip: Linux uses SACK (RFC 2018), webtrip's TCP does "
                 "not.").format(real=n(v["real"]), sim=n(v["sim"]))  # fmt: skip
        if v["real_blocks"] or v["sim_blocks"]:
            blocks = _("Segments with SACK blocks: {real} in Linux, {sim} in webtrip.")
            text += " " + blocks.format(real=n(v["real_blocks"]), sim=n(v["sim_blocks"]))
        return text
    if cause.kind == "dns_unshaped":
        return ngettext(
            "DNS: the browser's lookup took {real} in Linux and {sim} in webtrip. The real run "
            "shaped only the browser's link: the lab's other link ({latency} each way in the "
            "simulation) was a veth with no delay, so whatever the resolver's walk crossed of "
            "it took no time in Linux.",
            "DNS: the browser's lookup took {real} in Linux and {sim} in webtrip. The real run "
            "shaped only the browser's link: the lab's other {count} links (up to {latency} "
            "each way in the simulation) were veths with no delay, so whatever the resolver's "
            "walk crossed of them took no time in Linux.",
            int(v["links"]),
        ).format(
            real=_ms(v["real"], language), sim=_ms(v["sim"], language), count=n(v["links"]),
            latency=_ms(v["latency"], language),
        )  # fmt: skip
    # jitter
    text = _("Timing: over {runs} real runs the page took from {fastest} to {slowest}, a "
             "spread of {spread}; the simulation takes the same time on every run with the "
             "same seed. The kernel schedules the actors, the capture{bridge} among the "
             "machine's other work, so a real run's times move from run to run (the table "
             "shows the run with the median page time).")  # fmt: skip
    bridge = _(" and the delay bridge") if v["latency_by"] == "bridge" else ""
    return text.format(
        runs=n(v["runs"]), fastest=_ms(v["fastest"], language),
        slowest=_ms(v["slowest"], language), spread=_ms(v["spread"], language), bridge=bridge,
    )  # fmt: skip


_STEP_TITLES = {
    "dns": N_("1 DNS"),
    "connection": N_("2 Connection"),
    "request": N_("3 Request and packets"),
    "page": N_("4 Page built"),
}
_ROW_NAMES = {
    "dns_lookup": N_("the browser's DNS lookup"),
    "handshake": N_("TCP handshake, SYN → SYN-ACK (median)"),
    "packets": N_("packets at the browser"),
    "pure_acks": N_("pure ACKs the browser sent"),
    "page_load": N_("page load"),
}
_LATENCY_BY = {
    "netem": N_("the latency was made by netem in the kernel"),
    "bridge": N_("the latency was made by a delay bridge in user space (this kernel has no netem)"),
    "none": N_("no latency was asked for"),
}


def _row_name(row: Row, language: str) -> str:
    _ = translation(language).gettext
    if row.measure.startswith("segments:"):
        return _("data segments of {file}").format(file=row.measure.split(":", 1)[1])
    return _(_ROW_NAMES[row.measure])


def _value(row: Row, value: float | int | None, language: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return _ms(value, language)
    return number(value, language)


def _verdict(row: Row, language: str) -> tuple[str, str]:
    _ = translation(language).gettext
    tolerance = {"15%": _("±15 %"), "equal": _("equal"), "reported": _("(reported)")}
    if row.within is None:
        return tolerance[row.tolerance], ""
    return tolerance[row.tolerance], _("yes") if row.within else _("no")


def how_made(made: RunMade, language: str) -> str:
    """One sentence: how the real run made the link's conditions."""
    _ = translation(language).gettext
    text = _("How the real run was made: network namespaces and veths; the browser's link "
             "rate by tbf; {latency}.").format(latency=_(_LATENCY_BY[made.latency_by]))  # fmt: skip
    if made.unshaped:
        text += " " + _("The lab's other links were not shaped.")
    return text


def show(
    console: Console, rows: list[Row], found: list[Cause], made: RunMade, language: str
) -> None:
    """The fidelity table and the explained differences, at a terminal."""
    _ = translation(language).gettext
    table = Table(title=_("How close: Linux (A) and webtrip (B)"), title_justify="left")
    for heading, right in (
        (_("step"), False),
        (_("measure"), False),
        (_("Linux"), True),
        (_("webtrip"), True),
        (_("difference"), True),
        (_("tolerance"), True),
        (_("within"), False),
    ):
        table.add_column(heading, justify="right" if right else "left")
    for row in rows:
        share = row.share
        if share is not None:
            difference = number(share * 100, language, 1) + " %"
            if share > 0:
                difference = "+" + difference
        elif isinstance(row.real, int) and isinstance(row.sim, int):
            difference = f"{row.sim - row.real:+d}"
        else:
            difference = ""
        tolerance, within = _verdict(row, language)
        table.add_row(
            _(_STEP_TITLES[row.step]),
            _row_name(row, language),
            _value(row, row.real, language),
            _value(row, row.sim, language),
            difference,
            tolerance,
            within,
        )
    console.print(table)
    console.print(how_made(made, language), highlight=False, markup=False)
    console.print()
    if found:
        console.print(_("Why they differ:"), highlight=False)
        for cause in found:
            console.print("  • " + cause.sentence(language), highlight=False, markup=False)
    else:
        console.print(_("No difference with a known cause showed."), highlight=False)


def to_json(rows: list[Row], found: list[Cause], made: RunMade, language: str) -> dict[str, Any]:
    """The ``real_vs_sim`` part of ``compare --real-vs-sim --json`` (docs/compare.md)."""
    return {
        "a": "linux",
        "b": "webtrip",
        "made": {
            "latency_by": made.latency_by,
            "rate_by": "tbf",
            "unshaped": [{"ends": [a, b], "latency": latency} for a, b, latency in made.unshaped],
        },
        "tolerance": TIME_TOLERANCE,
        "steps": [
            {
                "step": row.step,
                "measure": row.measure,
                "linux": round(row.real, 6) if isinstance(row.real, float) else row.real,
                "webtrip": round(row.sim, 6) if isinstance(row.sim, float) else row.sim,
                "share": round(row.share, 4) if row.share is not None else None,
                "tolerance": row.tolerance,
                "within": row.within,
            }
            for row in rows
        ],
        "causes": [
            {
                "kind": cause.kind,
                "values": {
                    k: round(v, 6) if isinstance(v, float) else v for k, v in cause.values.items()
                },
                "sentence": cause.sentence(language),
            }
            for cause in found
        ],
    }
