"use strict";
const errors = [];
window.addEventListener("error", (ev) => errors.push(String(ev.message)));
const DATA = JSON.parse(document.getElementById("trace-data").textContent);
const L = DATA.labels;
const N = DATA.events.length;
let position = 0;
let timer = null;
let chosenPacket = null;  // the row's index in the chosen view
let view = 0;  // whose packets the list shows: an index into DATA.views (the browser's first)
const visited = [];
let nowRow = null;  // the events' row shown as now
let onTrack = null;  // the waterfall's bar of the request the event is about

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
  DATA.actors.forEach((actor, index) => {
    const th = el("th", DATA.actor_names[index]);
    th.scope = "col";
    head.append(th);
  });
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

function buildHostChoice() {
  const select = document.getElementById("packet-host");
  if (!select) return;
  DATA.views.forEach((v, index) => {
    const option = el("option", v.title);
    option.value = String(index);
    select.append(option);
  });
  select.addEventListener("change", () => chooseView(Number(select.value)));
}

function chooseView(index) {
  view = index;
  const select = document.getElementById("packet-host");
  if (select) select.value = String(index);
  buildPackets();
  const detail = document.getElementById("packet-detail");
  if (detail) detail.replaceChildren(el("p", L.no_packet));
}

function buildPackets() {
  // The chosen node's own capture: its rows, numbered as its pcap's frames.
  const table = document.getElementById("packets");
  if (!table) return;
  const shown = DATA.views[view];
  chosenPacket = null;
  const head = table.querySelector("thead tr");
  head.replaceChildren();
  const columns = L.columns.slice();
  if (shown.interfaces) columns.splice(2, 0, L.interface);
  for (const name of columns) {
    const th = el("th", name);
    th.scope = "col";
    head.append(th);
  }
  const body = table.querySelector("tbody");
  body.replaceChildren();
  shown.rows.forEach((p, index) => {
    const tr = el("tr");
    tr.id = "pk-" + index;
    if (p.dropped) tr.className = "lost";
    if (p.mark) tr.classList.add("marked");  // TCP's analysis found something (not a label)
    const cell = el("td");
    const button = el("button", p.number ?? "–");
    button.type = "button";
    button.setAttribute("aria-label", L.packet + " " + (p.number ?? L.lost));
    button.addEventListener("click", () => choosePacket(index));
    cell.append(button);
    tr.append(cell);
    const values = [p.time, p.source, p.destination, p.protocol, p.length,
                    p.info + (p.dropped ? " " + L.lost + " " + p.drop_note : "")];
    if (shown.interfaces) values.splice(1, 0, p.where);
    for (const value of values) tr.append(el("td", value));
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
  const p = DATA.frames[DATA.views[view].rows[index].frame];
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
  detail.append(box, el("h4", L.bytes), el("pre", hexDump(p.bytes)));
}

// Wireshark's bytes pane: offset, 16 bytes in hex, the printable ones as text.
function hexDump(b64) {
  const raw = atob(b64);
  const lines = [];
  for (let offset = 0; offset < raw.length; offset += 16) {
    const hexes = [];
    let text = "";
    for (const ch of raw.slice(offset, offset + 16)) {
      const b = ch.charCodeAt(0);
      hexes.push(b.toString(16).padStart(2, "0"));
      text += b >= 32 && b < 127 ? ch : ".";
    }
    lines.push(offset.toString(16).padStart(4, "0") + "  " + hexes.join(" ").padEnd(47) + "  " + text);
  }
  return lines.join("\n");
}

// Scrolling a row into the middle of its box needs the page's layout: asking for it at
// every step (a table of hundreds of rows laid out again each time) made a step take
// tens of milliseconds. A step only notes which row to centre; the scrolling happens
// once, just before the browser next paints, whatever the number of steps in between.
const toCentre = new Map();  // scrolling box → the row to show in its middle
let centring = null;

function centre(box, row) {
  // Scroll only inside the table's own box, never the page.
  if (!box) return;
  toCentre.set(box, row);
  if (centring === null) centring = requestAnimationFrame(centreNow);
}

function centreNow() {
  centring = null;
  for (const [box, row] of toCentre) {
    const delta = row.getBoundingClientRect().top - box.getBoundingClientRect().top;
    box.scrollTop = Math.max(0, box.scrollTop + delta - box.clientHeight / 2);
  }
  toCentre.clear();
}

function show(k) {
  if (!N) return;
  position = Math.max(0, Math.min(N - 1, k));
  visited.push(position);
  const ev = DATA.events[position];
  if (nowRow) nowRow.classList.remove("now");
  const row = document.getElementById("ev-" + position);
  row.classList.add("now");
  nowRow = row;
  centre(document.getElementById("lanes-box"), row);
  document.getElementById("position").textContent =
    L.position.replace("{k}", position + 1).replace("{n}", N);
  const current = document.getElementById("current");
  current.textContent = ev.t.toFixed(6) + " s · " + ev.text;
  current.title = ev.type + (ev.fields ? " · " + ev.fields : "");
  if (onTrack) onTrack.classList.remove("on");
  onTrack = null;
  if (ev.request !== undefined) {
    onTrack = document.getElementById("req-" + ev.request);
    if (onTrack) onTrack.classList.add("on");
  }
  // A packet of the node shown: its row. Another node's packets stay in its own list.
  if (ev.packet !== undefined && ev.packet[0] === view) choosePacket(ev.packet[1]);
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
  if (DATA.views.length) {
    buildHostChoice();
    chooseView(0);
  }
  if (!N) document.getElementById("position").textContent = "0 / 0";
  const start = /^#e=(\d+)$/.exec(location.hash);  // "#e=12": open at the 12th event
  show(start ? Number(start[1]) - 1 : 0);
} catch (err) {
  errors.push(String(err && err.stack || err));
}

if (/[?&]selftest\b/.test(location.search)) {
  let backEnd = -1;
  let stepping = -1;  // ms to step through every event and back
  const keys = [];
  const lists = [];
  const started = performance.now();
  try {
    visited.length = 0;
    show(0);
    for (let k = 1; k < N; k += 1) step(1);
    step(1);
    for (let k = 1; k < N; k += 1) step(-1);
    backEnd = position;
    stepping = performance.now() - started;
    const key = (name) => document.dispatchEvent(new KeyboardEvent("keydown", {key: name}));
    key("ArrowRight");
    keys.push(position);
    key("ArrowLeft");
    keys.push(position);
    document.getElementById("forward").click();
    keys.push(position);
    document.getElementById("back").click();
    keys.push(position);
    // Each node's list through the selector, as a reader would choose it; then the first.
    DATA.views.forEach((v, k) => {
      const select = document.getElementById("packet-host");
      select.value = String(k);
      select.dispatchEvent(new Event("change"));
      const rows = Array.from(document.querySelectorAll("#packets tbody tr"));
      const cells = document.querySelectorAll("#packets thead th").length;
      lists.push({node: v.node, rows: rows.length, columns: cells,
                  marked: v.rows.filter((p) => p.mark).length,
                  shownMarks: rows.filter((tr) => tr.classList.contains("marked")).length});
    });
    if (DATA.views.length) {
      chooseView(0);
      if (DATA.views[0].rows.length) choosePacket(0);
    }
  } catch (err) {
    errors.push(String(err && err.stack || err));
  }
  const forward = visited.slice(0, N);
  document.getElementById("selftest").textContent = JSON.stringify({
    events: N,
    forward: forward,
    backEnd: backEnd,
    steppingMs: Math.round(stepping),
    firstBytes: (document.querySelector("#packet-detail pre") || {}).textContent || "",
    keysAndButtons: keys,
    lists: lists,
    errors: errors,
    resources: performance.getEntriesByType("resource").map((entry) => entry.name),
    overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
  });
}
