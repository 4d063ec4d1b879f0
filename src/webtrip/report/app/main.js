/* The app: load a run, switch language, tabs on a phone, keys, the public API, ?selftest. */

const VIEWS = ["network", "conversation", "packets", "files", "story"];

function render() {
  if (!S.data) return;
  S.drawn = true;
  renderScrubber();
  for (const v of VIEWS) if (BUILT.has(v)) RENDER[v]();
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
  ensureView(v);
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
  if (S.data && BUILT.has("conversation")) { buildSequence(); SEQ.current = -1; renderSequence(); }
}

/* The views are built as they are needed: the ones on screen at once (the first frame is
 * theirs), the others right after it, one per idle moment, or as soon as something opens
 * them (a tab, a packet selected). Each view, once built, is drawn at the current moment. */
const BUILD = { network: buildNetwork, conversation: buildSequence, packets: buildPackets, files: buildFiles, story: buildStory };
const RENDER = { network: renderNetwork, conversation: renderSequence, packets: renderPackets, files: renderFiles, story: renderStory };
const RESET = {
  network: () => { NET.shown = NET.pool.length; }, conversation: () => { SEQ.current = -1; },
  packets: () => { lastPacketEvent = -1; }, files: () => {}, story: () => { ST.current = []; },
};
const BUILT = new Set();
let buildLater = 0;

function ensureView(v) {
  if (!S.data || BUILT.has(v)) return;
  BUILT.add(v);
  BUILD[v]();
  RESET[v]();
  if (S.drawn) RENDER[v]();  /* built after the load's first render: catch up */
  if (BUILT.size === VIEWS.length) { document.body.dataset.built = "1"; emit("built", true); }
}

/* The views a first frame shows: on a phone, the open tab; on a wider screen, the top row
 * of the grid (the network and the conversation), with the rest below the fold. */
function firstViews() {
  return window.matchMedia("(max-width: 760px)").matches ? [S.view] : ["network", "conversation"];
}

function buildRest() {
  const next = VIEWS.find((v) => !BUILT.has(v));
  if (!next) return;
  const wait = window.requestIdleCallback || ((fn) => setTimeout(fn, 1));
  buildLater = wait(() => { buildLater = 0; ensureView(next); buildRest(); }, { timeout: 250 });
}

function buildAll() {
  applyWords();
  buildScrubber();
  if (buildLater) (window.cancelIdleCallback || clearTimeout)(buildLater);
  buildLater = 0;
  BUILT.clear();
  delete document.body.dataset.built;
  for (const v of firstViews()) ensureView(v);
  requestAnimationFrame(() => setTimeout(buildRest, 0));  /* after the first frame is painted */
}

/* Every view built now (a test, the selftest, a screenshot that wants them all). */
function buildEverything() { for (const v of VIEWS) ensureView(v); }

function setLanguage(code) {
  S.lang = code === "es" ? "es" : "en";
  if (!S.data) {  // nothing loaded yet (webtrip ui before its first run): the words only
    applyWords();
    emit("language", S.lang);
    return;
  }
  const keep = PK.selected;
  const built = Array.from(BUILT);
  buildAll();
  for (const v of built) ensureView(v);
  lastPacketEvent = S.i;
  if (keep) selectPacket(keep[0], keep[1], false);
  render();
  emit("language", S.lang);
}

/* The Performance API's marks of a load: "webtrip:data" (the data in hand, parsed; made by
 * whoever fetched it) and "webtrip:first-frame" (the frame that drew it has been painted:
 * two animation frames later). bench/ui_run.py reads them. */
function markFirstFrame() {
  requestAnimationFrame(() => requestAnimationFrame(() => {
    performance.mark("webtrip:first-frame");
    emit("drawn", true);
  }));
}

/* The data's second part (app_data.LATER: the frames' layers and bytes, the glossary, the
 * streams, the received page), which arrives right after the first frame: merged in, and
 * whatever waited for it drawn. */
function addRest(rest) {
  if (!S.data || !rest) return;
  Object.assign(S.data, rest);
  S.restPending = false;
  if (BUILT.has("files")) buildPage();
  if (PK.waiting) openPdu(PK.waiting[0], PK.waiting[1]);
  emit("rest", true);
}

function load(data, rest) {
  pause();
  S.data = data;
  S.restPending = rest === "later";  /* load(first, "later"), then webtrip.addRest(rest) */
  PK.waiting = null;
  const events = data.events || [];
  S.times = events.map((e) => e.t);
  S.packetEvents = [];
  events.forEach((e, k) => { if (e.flight !== undefined || e.packet !== undefined) S.packetEvents.push(k); });
  S.end = Math.max(0, (data.run && data.run.ended) || 0, S.times.length ? S.times[S.times.length - 1] : 0);
  prepareFlights();
  PK.selected = null; PK.view = 0;
  S.drawn = false;
  buildAll();
  emit("load", data);
  if (S.times.length) readHash(); else { S.i = -1; S.t = 0; render(); }
  markFirstFrame();
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
    buildEverything();
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
  addRest,
  on(event, fn) { (S.listeners[event] = S.listeners[event] || []).push(fn); },
  seek(t, i) { pause(); go(Number(t), Number.isInteger(i) && i >= 0 && i < S.times.length ? i : undefined); },
  language: setLanguage,
  /* Resolves once every view is built (the hidden ones are built after the first frame)
   * and the data's second part is in. */
  ready() {
    buildEverything();
    if (!S.restPending) return Promise.resolve();
    return new Promise((resolve) => {
      const waiting = (S.listeners.rest = S.listeners.rest || []);
      const once = () => { waiting.splice(waiting.indexOf(once), 1); resolve(); };
      waiting.push(once);
    });
  },
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
  const restSource = document.getElementById("trace-data-rest");
  const restText = restSource ? restSource.textContent.trim() : "";
  const selftesting = location.search.includes("selftest");
  if (!text) { if (selftesting) selftest(); return; }
  const failed = (error) => {
    document.getElementById("selftest").textContent = JSON.stringify({ errors: [String(error)] });
    console.error(error);
  };
  /* The first part draws the first frame; the rest is unpacked once that frame is painted. */
  unpack(text).then((data) => {
    performance.mark("webtrip:data");
    load(data, restText ? "later" : undefined);
    if (!restText) { if (selftesting) selftest(); return; }
    const drawn = (S.listeners.drawn = S.listeners.drawn || []);
    const once = () => {
      drawn.splice(drawn.indexOf(once), 1);
      unpack(restText).then((rest) => { addRest(rest); if (selftesting) selftest(); }, failed);
    };
    drawn.push(once);
  }, failed);
})();
