"""A trace as one self-contained HTML page that replays the run, event by event.

A pure function of a trace: the narration, a lane view of the actors with the
current event highlighted, the waterfall of the requests and, for simulated
runs, the packet list with the chosen packet's header fields and bytes. The
page's CSS and script are inline and its data is embedded as JSON, so it opens
offline and asks the network for nothing. Step with ← and →, play or pause
with the space bar; ``#e=K`` in the address opens it at the K-th event.
Opened with ``?selftest``, the page steps through every event with the same
functions the buttons use and writes what it visited (and any script error)
into ``#selftest``.
"""

from __future__ import annotations

import dataclasses
import html
import json
from typing import Any

from webtrip.report.narration import narrate
from webtrip.report.packets import drop_note, packet_rows
from webtrip.report.pcap import captured_packets
from webtrip.report.timings import request_timings
from webtrip.trace import Trace
from webtrip.trace.events import DROP, Event, PacketCaptured

LABELS = {
    "en": {
        "title": "webtrip — replay of a page load",
        "story": "What happened",
        "actors": "Actors and events",
        "waterfall": "Waterfall",
        "packets": "Packets",
        "packet": "Selected packet",
        "fields": "Header fields",
        "bytes": "Bytes",
        "back": "Step back",
        "forward": "Step forward",
        "play": "Play",
        "pause": "Pause",
        "position": "event {k} of {n}",
        "keys": "Keys: ← and → step, space plays or pauses.",
        "legend": "Phases",
        "request": "Request",
        "no_events": "The trace has no events.",
        "no_packet": "Choose a packet in the list, or step to a packet event.",
        "columns": ["No.", "Time", "Source", "Destination", "Protocol", "Length", "Info"],
        "lost": "(lost)",
        "phases": {
            "blocked": "blocked",
            "dns": "DNS",
            "connect": "connect",
            "ssl": "TLS",
            "send": "send",
            "wait": "wait",
            "receive": "receive",
        },
    },
    "es": {
        "title": "webtrip — repetición de la carga de una página",
        "story": "Qué pasó",
        "actors": "Actores y eventos",
        "waterfall": "Cascada",
        "packets": "Paquetes",
        "packet": "Paquete elegido",
        "fields": "Campos de cabecera",
        "bytes": "Bytes",
        "back": "Paso atrás",
        "forward": "Paso adelante",
        "play": "Reproducir",
        "pause": "Pausa",
        "position": "evento {k} de {n}",
        "keys": "Teclas: ← y → avanzan o retroceden, espacio reproduce o pausa.",
        "legend": "Fases",
        "request": "Petición",
        "no_events": "La traza no tiene eventos.",
        "no_packet": "Elige un paquete de la lista, o avanza hasta un evento de paquete.",
        "columns": ["N.º", "Tiempo", "Origen", "Destino", "Protocolo", "Longitud", "Info"],
        "lost": "(perdido)",
        "phases": {
            "blocked": "bloqueada",
            "dns": "DNS",
            "connect": "conexión",
            "ssl": "TLS",
            "send": "envío",
            "wait": "espera",
            "receive": "recepción",
        },
    },
}

PHASE_COLOURS = {
    "blocked": "#9aa0a6",
    "dns": "#138d90",
    "connect": "#e8710a",
    "ssl": "#a142f4",
    "send": "#1e8e3e",
    "wait": "#81c995",
    "receive": "#1a73e8",
}

_SKIPPED_FIELDS = {"t", "actor", "wire", "data", "headers"}


def _value(value: Any) -> str:
    if isinstance(value, tuple):
        if len(value) == 2 and isinstance(value[1], int) and isinstance(value[0], str):
            return f"{value[0]}:{value[1]}"
        return ", ".join(_value(v) for v in value)
    if isinstance(value, float):
        return f"{value:.6f}"
    return str(value)


def _summary(event: Event) -> str:
    parts = []
    for field in dataclasses.fields(event):
        if field.name in _SKIPPED_FIELDS:
            continue
        value = getattr(event, field.name)
        if value in (None, "", ()):
            continue
        text = _value(value)
        if len(text) > 80:
            text = text[:77] + "…"
        parts.append(f"{field.name}={text}")
    return " ".join(parts)


def _packet_fields(data: bytes) -> list[list[str]]:
    from webtrip.packets.dissect import dissect
    from webtrip.packets.tcp_segment import TcpSegment

    try:
        packet = dissect(data)
    except ValueError as exc:
        return [["error", str(exc)]]
    ip = packet.ip
    fields = [
        ["IP version", "4"],
        ["IP header length", str(ip.header_size)],
        ["IP total length", str(len(data))],
        ["IP identification", f"0x{ip.identification:04x}"],
        ["IP don't fragment", str(ip.dont_fragment)],
        ["IP TTL", str(ip.ttl)],
        ["IP protocol", f"{ip.protocol} ({packet.protocol})"],
        ["IP source", ip.source],
        ["IP destination", ip.destination],
    ]
    if packet.udp is not None:
        udp = packet.udp
        fields += [
            ["UDP source port", str(udp.source_port)],
            ["UDP destination port", str(udp.destination_port)],
            ["UDP length", str(8 + len(udp.payload))],
        ]
    elif packet.tcp is not None:
        try:
            segment = TcpSegment.decode(ip.payload, ip.source, ip.destination)
        except ValueError as exc:
            return [*fields, ["TCP error", str(exc)]]
        fields += [
            ["TCP source port", str(segment.src_port)],
            ["TCP destination port", str(segment.dst_port)],
            ["TCP sequence number", str(segment.seq)],
            ["TCP acknowledgment number", str(segment.ack)],
            ["TCP flags", ", ".join(packet.tcp.flags) or "-"],
            ["TCP window", str(segment.window)],
            ["TCP payload length", str(len(segment.payload))],
        ]
        if segment.mss:
            fields.append(["TCP MSS option", str(segment.mss)])
    elif packet.icmp is not None:
        fields += [["ICMP type", str(packet.icmp.type)], ["ICMP code", str(packet.icmp.code)]]
    return fields


def _hex(data: bytes) -> str:
    lines = []
    for offset in range(0, len(data), 16):
        chunk = data[offset : offset + 16]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{offset:04x}  {hexes:<47}  {text}")
    return "\n".join(lines)


def report_data(trace: Trace, language: str = "en") -> dict[str, Any]:
    """Everything the page shows, as JSON-ready data."""
    labels = LABELS.get(language, LABELS["en"])
    captured = captured_packets(trace, None, drops=True)
    rows = packet_rows(
        (p.t, p.data, drop_note(p.actor, p.reason) if p.direction == DROP else None)
        for p in captured
    )
    packet_of = {id(event): index for index, event in enumerate(captured)}
    actors: list[str] = []
    events = []
    for index, event in enumerate(trace.events):
        if event.actor not in actors:
            actors.append(event.actor)
        item: dict[str, Any] = {
            "i": index,
            "t": round(event.t, 6),
            "actor": event.actor,
            "type": type(event).__name__,
            "text": _summary(event),
        }
        request = getattr(event, "request", None)
        if isinstance(request, int):
            item["request"] = request
        if isinstance(event, PacketCaptured) and id(event) in packet_of:
            item["packet"] = packet_of[id(event)]
            item["text"] = f"{event.interface} {event.direction}: {rows[packet_of[id(event)]].info}"
        events.append(item)
    timings = [
        {
            "request": t.request,
            "url": t.url,
            "started": t.started,
            "total": t.total,
            "status": t.status,
            "error": t.error,
            "phases": [[name, value] for name, value in t.phases],
        }
        for t in request_timings(trace)
    ]
    packets = [
        {
            "number": row.number,
            "time": f"{row.time:.6f}",
            "source": row.source,
            "destination": row.destination,
            "protocol": row.protocol,
            "length": row.length,
            "info": row.info,
            "dropped": row.dropped,
            "drop_note": row.drop_note,
            "fields": _packet_fields(event.data),
            "hex": _hex(event.data),
        }
        for row, event in zip(rows, captured, strict=True)
    ]
    return {
        "language": language,
        "labels": labels,
        "colours": PHASE_COLOURS,
        "actors": actors,
        "events": events,
        "timings": timings,
        "packets": packets,
    }


def _script_json(data: Any) -> str:
    """JSON that is safe inside a <script> element (no "</script>", no "<!--").

    "/" is written "\\/" too, so no "http://" appears in the file's bytes.
    """
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("/", "\\/")):
        text = text.replace(raw, escaped)
    return text


def _text(value: str) -> str:
    """HTML-escaped text in which no URL can be mistaken for a reference ("://" → "&#58;//")."""
    return html.escape(value).replace("://", "&#58;//")


def html_report(trace: Trace, language: str = "en") -> str:
    """The run in ``trace`` as one self-contained HTML page, in ``language``."""
    data = report_data(trace, language)
    labels = data["labels"]
    e = _text
    story = "\n".join(
        f"<h3>{e(p.heading)}</h3>\n<p>{e(p.text)}</p>" for p in narrate(trace, language)
    )
    legend = "".join(
        f'<li><span class="sw" style="background:{colour}"></span>{e(labels["phases"][name])}</li>'
        for name, colour in PHASE_COLOURS.items()
    )
    head_cells = "".join(f"<th scope=col>{e(c)}</th>" for c in labels["columns"])
    packets_section = ""
    if data["packets"]:
        packets_section = f"""
<section id="packets-section" aria-labelledby="h-packets">
<h2 id="h-packets">{e(labels["packets"])}</h2>
<div class="scroll"><table id="packets"><thead><tr>{head_cells}</tr></thead>
<tbody></tbody></table></div>
<h3>{e(labels["packet"])}</h3>
<div id="packet-detail"><p>{e(labels["no_packet"])}</p></div>
</section>"""
    return _PAGE.format(
        lang=e(language if language in LABELS else "en"),
        title=e(labels["title"]),
        h_story=e(labels["story"]),
        story=story,
        h_actors=e(labels["actors"]),
        h_waterfall=e(labels["waterfall"]),
        h_legend=e(labels["legend"]),
        legend=legend,
        back=e(labels["back"]),
        forward=e(labels["forward"]),
        play=e(labels["play"]),
        keys=e(labels["keys"]),
        packets_section=packets_section,
        data=_script_json(data),
        css=_CSS,
        js=_JS,
    )


_CSS = """
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;font:15px/1.45 system-ui,sans-serif;color:#202124;background:#fafafa;
overflow-x:hidden}
header{position:sticky;top:0;z-index:2;background:#fff;border-bottom:1px solid #ddd;
padding:.5rem 1rem;display:flex;flex-wrap:wrap;gap:.5rem;align-items:center}
header h1{font-size:1.05rem;margin:0 1rem 0 0;flex:1 1 12rem}
button{font:inherit;padding:.35rem .8rem;border:1px solid #888;border-radius:4px;
background:#f1f3f4;cursor:pointer;min-height:2.2rem}
button:focus-visible{outline:3px solid #1a73e8;outline-offset:2px}
button[aria-pressed=true]{background:#d2e3fc}
#position{font-variant-numeric:tabular-nums;min-width:9rem}
.keys{font-size:.85rem;color:#555;width:100%;margin:0}
main{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:1rem;padding:1rem;
max-width:1400px;margin:0 auto}
section{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.5rem 1rem;
min-width:0}
#packets-section,#waterfall-section{grid-column:1/-1}
h2{font-size:1.1rem;margin:.4rem 0}
h3{font-size:.95rem;margin:.6rem 0 .2rem}
p{margin:.2rem 0 .6rem;overflow-wrap:anywhere}
.scroll{overflow:auto;max-width:100%;max-height:24rem}
#current{font-family:ui-monospace,monospace;font-size:.85rem;background:#fef7e0;
padding:.4rem;border-radius:4px;overflow-wrap:anywhere;min-height:3rem}
table{border-collapse:collapse;font-size:.85rem;width:100%}
th,td{text-align:left;padding:.15rem .4rem;border-bottom:1px solid #eee;white-space:nowrap}
#lanes td.lane{text-align:center;min-width:5rem}
#lanes th{position:sticky;top:0;background:#fff}
.dot{display:inline-block;width:.8rem;height:.8rem;border-radius:50%;background:#5f6368}
tr.now{background:#fde293}
tr.now .dot{background:#d93025;width:1rem;height:1rem}
tr.lost td{text-decoration:line-through;color:#888}
tr.sel{background:#d2e3fc}
.wf{display:grid;grid-template-columns:minmax(6rem,14rem) minmax(0,1fr);gap:.2rem .5rem;
align-items:center;font-size:.8rem}
.wf .url{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.wf .track{position:relative;height:1rem;background:#f1f3f4}
.wf .bar{position:absolute;top:0;bottom:0;display:flex;min-width:2px}
.wf .bar span{display:block;height:100%}
.wf .on{outline:2px solid #d93025}
ul.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.3rem 1rem;
font-size:.8rem}
.sw{display:inline-block;width:.9rem;height:.9rem;margin-right:.3rem;vertical-align:middle}
pre{font:12px/1.35 ui-monospace,monospace;overflow:auto;max-width:100%;background:#f8f9fa;
padding:.4rem;margin:0}
#selftest{display:none}
@media (max-width:760px){main{grid-template-columns:minmax(0,1fr);padding:.5rem}
section{padding:.4rem .6rem}.wf{grid-template-columns:minmax(0,7rem) minmax(0,1fr)}
header{padding:.4rem .5rem}header h1{font-size:.95rem;flex-basis:100%}.keys{display:none}
#position{min-width:0}}
"""

_JS = r"""
"use strict";
const errors = [];
window.addEventListener("error", (ev) => errors.push(String(ev.message)));
const DATA = JSON.parse(document.getElementById("trace-data").textContent);
const L = DATA.labels;
const N = DATA.events.length;
let position = 0;
let timer = null;
let chosenPacket = null;
const visited = [];

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function buildLanes() {
  const table = document.getElementById("lanes");
  const head = table.querySelector("thead tr");
  head.append(el("th", "t (s)"));
  for (const actor of DATA.actors) {
    const th = el("th", actor);
    th.scope = "col";
    head.append(th);
  }
  head.append(el("th", "event"));
  const body = table.querySelector("tbody");
  DATA.events.forEach((ev) => {
    const tr = el("tr");
    tr.id = "ev-" + ev.i;
    tr.append(el("td", ev.t.toFixed(6)));
    for (const actor of DATA.actors) {
      const td = el("td", null, "lane");
      if (actor === ev.actor) td.append(el("span", null, "dot"));
      tr.append(td);
    }
    tr.append(el("td", ev.type));
    body.append(tr);
  });
}

function buildWaterfall() {
  const box = document.getElementById("waterfall");
  const timings = DATA.timings;
  if (!timings.length) return;
  const start = Math.min(...timings.map((t) => t.started));
  const end = Math.max(...timings.map((t) => t.started + Math.max(t.total, 0) / 1000));
  const span = Math.max(end - start, 1e-6);
  for (const t of timings) {
    const label = el("div", t.url, "url");
    label.title = t.url;
    const track = el("div", null, "track");
    track.id = "req-" + t.request;
    const bar = el("div", null, "bar");
    bar.style.left = ((t.started - start) / span) * 100 + "%";
    bar.style.width = (Math.max(t.total, 0) / 1000 / span) * 100 + "%";
    const total = t.phases.reduce((sum, p) => sum + p[1], 0) || 1;
    for (const [name, ms] of t.phases) {
      const part = el("span");
      part.style.width = (ms / total) * 100 + "%";
      part.style.background = DATA.colours[name];
      part.title = (L.phases[name] || name) + " " + ms.toFixed(1) + " ms";
      bar.append(part);
    }
    track.title = t.url + " — " + t.total.toFixed(1) + " ms" +
      (t.status !== null ? " — " + t.status : "") + (t.error ? " — " + t.error : "");
    track.append(bar);
    box.append(label, track);
  }
}

function buildPackets() {
  const table = document.getElementById("packets");
  if (!table) return;
  const body = table.querySelector("tbody");
  DATA.packets.forEach((p, index) => {
    const tr = el("tr");
    tr.id = "pk-" + index;
    if (p.dropped) tr.className = "lost";
    const cell = el("td");
    const button = el("button", p.number ?? "–");
    button.type = "button";
    button.setAttribute("aria-label", L.packet + " " + (p.number ?? L.lost));
    button.addEventListener("click", () => choosePacket(index));
    cell.append(button);
    tr.append(cell);
    for (const value of [p.time, p.source, p.destination, p.protocol, p.length,
                         p.info + (p.dropped ? " " + L.lost + " " + p.drop_note : "")]) {
      tr.append(el("td", value));
    }
    body.append(tr);
  });
}

function choosePacket(index) {
  const detail = document.getElementById("packet-detail");
  if (!detail) return;
  if (chosenPacket !== null) {
    const old = document.getElementById("pk-" + chosenPacket);
    if (old) old.classList.remove("sel");
  }
  chosenPacket = index;
  const row = document.getElementById("pk-" + index);
  row.classList.add("sel");
  centre(row.closest(".scroll"), row);
  const p = DATA.packets[index];
  detail.replaceChildren();
  detail.append(el("h4", L.fields));
  const box = el("div", null, "scroll");
  const table = el("table");
  for (const [name, value] of p.fields) {
    const tr = el("tr");
    const th = el("th", name);
    th.scope = "row";
    tr.append(th, el("td", value));
    table.append(tr);
  }
  box.append(table);
  detail.append(box, el("h4", L.bytes), el("pre", p.hex));
}

function centre(box, row) {
  // Scroll only inside the table's own box, never the page.
  if (!box) return;
  const delta = row.getBoundingClientRect().top - box.getBoundingClientRect().top;
  box.scrollTop = Math.max(0, box.scrollTop + delta - box.clientHeight / 2);
}

function show(k) {
  if (!N) return;
  position = Math.max(0, Math.min(N - 1, k));
  visited.push(position);
  const ev = DATA.events[position];
  document.querySelectorAll("#lanes tr.now").forEach((tr) => tr.classList.remove("now"));
  const row = document.getElementById("ev-" + position);
  row.classList.add("now");
  centre(document.getElementById("lanes-box"), row);
  document.getElementById("position").textContent =
    L.position.replace("{k}", position + 1).replace("{n}", N);
  document.getElementById("current").textContent =
    ev.t.toFixed(6) + " s · " + ev.actor + " · " + ev.type + (ev.text ? " · " + ev.text : "");
  document.querySelectorAll(".wf .on").forEach((node) => node.classList.remove("on"));
  if (ev.request !== undefined) {
    const track = document.getElementById("req-" + ev.request);
    if (track) track.classList.add("on");
  }
  if (ev.packet !== undefined) choosePacket(ev.packet);
}

function step(delta) { show(position + delta); }

function setPlaying(on) {
  const button = document.getElementById("play");
  if (timer !== null) { clearInterval(timer); timer = null; }
  if (on) {
    if (position >= N - 1) show(0);
    timer = setInterval(() => {
      if (position >= N - 1) { setPlaying(false); return; }
      step(1);
    }, 700);
  }
  button.textContent = on ? L.pause : L.play;
  button.setAttribute("aria-pressed", on ? "true" : "false");
}

function togglePlay() { setPlaying(timer === null); }

document.getElementById("back").addEventListener("click", () => step(-1));
document.getElementById("forward").addEventListener("click", () => step(1));
document.getElementById("play").addEventListener("click", togglePlay);
document.addEventListener("keydown", (ev) => {
  if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
  if (ev.key === "ArrowRight") { step(1); ev.preventDefault(); }
  else if (ev.key === "ArrowLeft") { step(-1); ev.preventDefault(); }
  else if (ev.key === " " || ev.key === "Spacebar") {
    if (ev.target instanceof HTMLButtonElement && ev.target.id !== "play") return;
    if (ev.target instanceof HTMLButtonElement) { ev.preventDefault(); togglePlay(); return; }
    togglePlay();
    ev.preventDefault();
  }
});

try {
  buildLanes();
  buildWaterfall();
  buildPackets();
  if (!N) document.getElementById("position").textContent = "0 / 0";
  const start = /^#e=(\d+)$/.exec(location.hash);  // "#e=12": open at the 12th event
  show(start ? Number(start[1]) - 1 : 0);
} catch (err) {
  errors.push(String(err && err.stack || err));
}

if (/[?&]selftest\b/.test(location.search)) {
  let backEnd = -1;
  const keys = [];
  try {
    visited.length = 0;
    show(0);
    for (let k = 1; k < N; k += 1) step(1);
    step(1);
    for (let k = 1; k < N; k += 1) step(-1);
    backEnd = position;
    const key = (name) => document.dispatchEvent(new KeyboardEvent("keydown", {key: name}));
    key("ArrowRight");
    keys.push(position);
    key("ArrowLeft");
    keys.push(position);
    document.getElementById("forward").click();
    keys.push(position);
    document.getElementById("back").click();
    keys.push(position);
  } catch (err) {
    errors.push(String(err && err.stack || err));
  }
  const forward = visited.slice(0, N);
  document.getElementById("selftest").textContent = JSON.stringify({
    events: N,
    forward: forward,
    backEnd: backEnd,
    keysAndButtons: keys,
    errors: errors,
    resources: performance.getEntriesByType("resource").map((entry) => entry.name),
    overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
  });
}
"""

_PAGE = """<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; \
style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
<header>
<h1>{title}</h1>
<button type="button" id="back" aria-label="{back}">← {back}</button>
<button type="button" id="play" aria-pressed="false">{play}</button>
<button type="button" id="forward" aria-label="{forward}">{forward} →</button>
<span id="position" role="status" aria-live="polite"></span>
<p class="keys">{keys}</p>
</header>
<main>
<section aria-labelledby="h-story">
<h2 id="h-story">{h_story}</h2>
{story}
</section>
<section aria-labelledby="h-actors">
<h2 id="h-actors">{h_actors}</h2>
<div id="current"></div>
<div class="scroll" id="lanes-box"><table id="lanes"><thead><tr></tr></thead>
<tbody></tbody></table></div>
</section>
<section id="waterfall-section" aria-labelledby="h-waterfall">
<h2 id="h-waterfall">{h_waterfall}</h2>
<ul class="legend" aria-label="{h_legend}">{legend}</ul>
<div class="wf" id="waterfall"></div>
</section>
{packets_section}
</main>
<pre id="selftest"></pre>
<script type="application/json" id="trace-data">{data}</script>
<script>{js}</script>
</body>
</html>
"""
