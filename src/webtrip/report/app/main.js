/* The app: load a run, switch language, tabs on a phone, keys, the public API, ?selftest. */

const VIEWS = ["network", "conversation", "packets", "files", "story"];

function render() {
  if (!S.data) return;
  renderScrubber();
  renderNetwork();
  renderSequence();
  renderPackets();
  renderFiles();
  renderStory();
  if (!S.playing) idle("hash", writeHash, 250);
  emit("change", { t: S.t, i: S.i });
}

function applyWords() {
  document.documentElement.lang = S.lang;
  document.title = word("title");
  document.getElementById("title").textContent = word("title");
  for (const node of document.querySelectorAll("[data-w]")) node.textContent = word(node.dataset.w);
  document.getElementById("language").value = S.lang;
  const tabs = document.getElementById("tabs");
  tabs.replaceChildren(...VIEWS.map((v) => el("button", { type: "button", role: "tab", id: "tab-" + v,
    "aria-selected": v === S.view ? "true" : "false", "aria-controls": "v-" + v, text: word("views." + v),
    onclick: () => showView(v) })));
}

function showView(v) {
  S.view = v;
  document.body.dataset.view = v;
  for (const b of document.querySelectorAll("#tabs [role=tab]")) b.setAttribute("aria-selected", b.id === "tab-" + v ? "true" : "false");
  if (v === "conversation" && SEQ.layer) later("sequence-rows", drawSequenceRows);
}

/* The projector's large type: chosen with the header's button, or
 * #big in the address, or by itself on a screen 1600 px wide or more. */
let BIG_CHOSEN = null;
function bigWanted() {
  if (BIG_CHOSEN !== null) return BIG_CHOSEN;
  if (/(^#|&)big\b/.test(location.hash)) return true;
  return window.innerWidth >= 1600;
}

function applyBig() {
  const big = bigWanted();
  const root = document.documentElement;
  document.getElementById("big").setAttribute("aria-pressed", big ? "true" : "false");
  if (root.classList.contains("big") === big) return;
  root.classList.toggle("big", big);
  if (S.data) { buildSequence(); SEQ.current = -1; renderSequence(); }
}

function buildAll() {
  applyWords();
  buildScrubber();
  buildNetwork();
  buildSequence();
  buildPackets();
  buildFiles();
  buildStory();
  SEQ.current = -1; ST.current = []; lastPacketEvent = -1; NET.shown = NET.pool.length;
}

function setLanguage(code) {
  S.lang = code === "es" ? "es" : "en";
  if (!S.data) {  // nothing loaded yet (webtrip ui before its first run): the words only
    applyWords();
    emit("language", S.lang);
    return;
  }
  const keep = PK.selected;
  buildAll();
  lastPacketEvent = S.i;
  if (keep) selectPacket(keep[0], keep[1], false);
  render();
  emit("language", S.lang);
}

function load(data) {
  pause();
  S.data = data;
  const events = data.events || [];
  S.times = events.map((e) => e.t);
  S.packetEvents = [];
  events.forEach((e, k) => { if (e.flight !== undefined || e.packet !== undefined) S.packetEvents.push(k); });
  S.end = Math.max(0, (data.run && data.run.ended) || 0, S.times.length ? S.times[S.times.length - 1] : 0);
  prepareFlights();
  PK.selected = null; PK.view = 0;
  buildAll();
  emit("load", data);
  if (S.times.length) readHash(); else { S.i = -1; S.t = 0; render(); }
}

function onKey(e) {
  const tag = (e.target && e.target.tagName) || "";
  if (/^(INPUT|SELECT|TEXTAREA)$/.test(tag) || e.ctrlKey || e.metaKey || e.altKey) return;
  const keys = {
    ArrowRight: () => (e.shiftKey ? stepPacket(1) : stepEvent(1)),
    ArrowLeft: () => (e.shiftKey ? stepPacket(-1) : stepEvent(-1)),
    " ": () => (S.playing ? pause() : play()),
    "+": () => nudgeSpeed(1), "=": () => nudgeSpeed(1), "-": () => nudgeSpeed(-1),
    1: () => goStep(1), 2: () => goStep(2), 3: () => goStep(3), 4: () => goStep(4),
    Home: () => goEvent(0), End: () => goEvent(S.times.length - 1),
  };
  const handler = keys[e.key];
  if (!handler) return;
  if (tag === "BUTTON" && e.key === " ") return;
  e.preventDefault();
  if (e.key !== " " && S.playing) pause();
  handler();
}

function selftest() {
  const errors = [];
  window.addEventListener("error", (e) => errors.push(String(e.message)));
  const out = { events: S.times.length, forward: [], backEnd: -1, errors };
  try {
    const started = performance.now();
    goEvent(0);
    for (let k = 0; k < S.times.length; k++) { out.forward.push(S.i); stepEvent(1); }
    for (let k = 0; k < S.times.length; k++) stepEvent(-1);
    out.backEnd = S.i;
    out.steppingMs = performance.now() - started;
    const seen = [];
    const press = (key) => document.dispatchEvent(new KeyboardEvent("keydown", { key, bubbles: true }));
    press("ArrowRight"); seen.push(S.i); press("ArrowLeft"); seen.push(S.i);
    document.getElementById("forward").click(); seen.push(S.i);
    document.getElementById("back").click(); seen.push(S.i);
    out.keysAndButtons = seen;
    out.lists = (S.data.views || []).map((view, k) => {
      showHost(k);
      return { node: view.node, rows: view.rows.length, marked: view.rows.filter((r) => r.mark).length,
        shownMarks: view.rows.filter((r) => rowClass(r).includes("marked")).length,
        columns: document.querySelectorAll("#packets .phead [role=columnheader]").length };
    });
    if (S.data.views && S.data.views.length && S.data.views[0].rows.length) selectPacket(0, 0, false);
    const hex = document.querySelector("#pdu .hex");
    out.firstBytes = hex ? hex.firstChild.textContent : "";
    goEvent(0);
  } catch (error) { errors.push(String(error && error.stack || error)); }
  out.resources = performance.getEntriesByType("resource").map((r) => r.name);
  out.overflow = document.documentElement.scrollWidth - window.innerWidth;
  document.getElementById("selftest").textContent = JSON.stringify(out);
}

/* The report's data: its JSON gzip-compressed and base64-encoded (report/html.py), opened
 * by the browser's own gzip (DecompressionStream), with no request made. */
async function unpack(b64) {
  const stream = new Blob([bytesOf(b64)]).stream().pipeThrough(new DecompressionStream("gzip"));
  return JSON.parse(await new Response(stream).text());
}

window.webtrip = {
  load,
  on(event, fn) { (S.listeners[event] = S.listeners[event] || []).push(fn); },
  seek(t, i) { pause(); go(Number(t), Number.isInteger(i) && i >= 0 && i < S.times.length ? i : undefined); },
  language: setLanguage,
};

(function start() {
  document.addEventListener("keydown", onKey);
  document.getElementById("big").addEventListener("click", () => { BIG_CHOSEN = !bigWanted(); applyBig(); });
  window.addEventListener("resize", () => idle("big", applyBig, 150));
  applyBig();
  document.getElementById("language").addEventListener("change", (e) => setLanguage(e.target.value));
  window.addEventListener("hashchange", () => { applyBig(); if (!S.playing) readHash(); });
  showView("network");
  S.lang = document.documentElement.lang === "es" ? "es" : "en";
  applyWords();
  const source = document.getElementById("trace-data");
  const text = source ? source.textContent.trim() : "";
  const selftesting = location.search.includes("selftest");
  if (!text) { if (selftesting) selftest(); return; }
  unpack(text).then((data) => { load(data); if (selftesting) selftest(); }, (error) => {
    document.getElementById("selftest").textContent = JSON.stringify({ errors: [String(error)] });
    console.error(error);
  });
})();
