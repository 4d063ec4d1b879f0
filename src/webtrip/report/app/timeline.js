/* The one timeline: virtual time S.t and the current event S.i move every view. */

const SPEEDS = ["event", 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10];
let frameRequest = 0, lastFrame = 0, eventTimer = 0;

function eventAt(t) { return upper(S.times, t) - 1; }

/* Go to time t; i (optional) the event that is current (several share a time). */
function go(t, i) {
  S.t = Math.max(0, Math.min(S.end, t));
  S.i = i === undefined ? eventAt(S.t) : i;
  render();
}

function goEvent(i) {
  const n = S.times.length;
  if (!n) return;
  i = Math.max(0, Math.min(n - 1, i));
  go(S.times[i], i);
}

function stepEvent(delta) { goEvent(S.i + delta); }

function stepPacket(delta) {
  const list = S.packetEvents;
  if (!list.length) return;
  let k = upper(list, S.i) - 1;  /* packets at or before the current event */
  if (delta > 0) k = k + 1;
  else k = list[k] === S.i ? k - 1 : k;
  if (k < 0 || k >= list.length) return;
  goEvent(list[k]);
}

function goStep(step) {
  const found = ((S.data && S.data.steps) || []).find((s) => s.step === step);
  if (found) goEvent(found.event !== null && found.event !== undefined ? found.event : eventAt(found.t));
}

function setSpeed(value) {
  S.speed = value;
  const select = document.getElementById("speed");
  if (select) select.value = String(value);
  if (S.playing) { pause(); play(); }
}

function nudgeSpeed(delta) {
  const k = SPEEDS.indexOf(S.speed);
  setSpeed(SPEEDS[Math.max(0, Math.min(SPEEDS.length - 1, k + delta))]);
}

function play() {
  if (S.playing || !S.times.length) return;
  if (S.i >= S.times.length - 1) goEvent(0);
  S.playing = true;
  updatePlayButton();
  if (S.speed === "event") {
    eventTimer = setInterval(() => {
      if (S.i >= S.times.length - 1) pause(); else stepEvent(1);
    }, 250);
  } else {
    lastFrame = performance.now();
    frameRequest = requestAnimationFrame(frame);
  }
}

function pause() {
  if (!S.playing) return;
  S.playing = false;
  cancelAnimationFrame(frameRequest);
  clearInterval(eventTimer);
  updatePlayButton();
  idle("hash", writeHash, 250);
}

function frame(now) {
  if (!S.playing) return;
  const elapsed = Math.min(0.1, (now - lastFrame) / 1000);
  lastFrame = now;
  const t = S.t + elapsed * S.speed;
  if (t >= S.end) { go(S.end); pause(); return; }
  go(t);
  frameRequest = requestAnimationFrame(frame);
}

function writeHash() {
  if (!S.times.length || location.search.includes("selftest")) return;
  const big = /(^#|&)big\b/.test(location.hash) ? "&big" : "";
  const hash = (S.i >= 0 && S.times[S.i] === S.t ? "#e=" + S.i : "#t=" + S.t.toFixed(6)) + big;
  if (location.hash !== hash) history.replaceState(null, "", hash);
}

function readHash() {
  const e = /e=(\d+)/.exec(location.hash), t = /t=([\d.]+)/.exec(location.hash);
  if (e) goEvent(Number(e[1]));
  else if (t) go(Number(t[1]));
  else goEvent(0);
}

function buildScrubber() {
  const bar = document.getElementById("scrubber");
  bar.replaceChildren();
  const button = (id, label, text, fn) =>
    el("button", { type: "button", id, "aria-label": label, title: label, text, onclick: fn });
  const row = el("div", { cls: "buttons" },
    button("start", word("controls.start"), "⇤", () => goEvent(0)),
    button("prev-packet", word("controls.previous_packet"), "«", () => stepPacket(-1)),
    button("back", word("controls.back"), "‹", () => stepEvent(-1)),
    button("play", word("controls.play"), "▶", () => (S.playing ? pause() : play())),
    button("forward", word("controls.forward"), "›", () => stepEvent(1)),
    button("next-packet", word("controls.next_packet"), "»", () => stepPacket(1)),
    button("end", word("controls.end"), "⇥", () => goEvent(S.times.length - 1)));
  const speed = el("select", { id: "speed", "aria-label": word("controls.speed"),
    onchange: (e) => setSpeed(e.target.value === "event" ? "event" : Number(e.target.value)) });
  for (const value of SPEEDS) {
    speed.append(el("option", { value: String(value),
      text: value === "event" ? word("controls.by_event") : "×" + num(value, value < 0.1 ? 2 : value < 1 ? 2 : 0) }));
  }
  speed.value = String(S.speed);
  const steps = el("div", { cls: "steps", role: "group", "aria-label": word("controls.jump_to_step") });
  for (const s of (S.data.steps || [])) {
    const name = word("steps." + s.step, String(s.step));
    steps.append(el("button", { type: "button", cls: "step", "data-step": s.step,
      "aria-label": name, title: name, text: String(s.step), onclick: () => goStep(s.step) }));
  }
  const range = el("input", { type: "range", id: "timeline", min: "0", max: String(S.end || 0),
    step: "any", value: "0", "aria-label": word("controls.timeline"),
    oninput: (e) => { pause(); go(Number(e.target.value)); } });
  bar.append(row,
    el("label", { cls: "speed" }, el("span", { text: word("controls.speed") }), speed),
    steps, range, el("span", { id: "position", role: "status", "aria-live": "polite" }));
  updatePlayButton();
}

function updatePlayButton() {
  const b = document.getElementById("play");
  if (!b) return;
  const label = S.playing ? word("controls.pause") : word("controls.play");
  b.textContent = S.playing ? "❚❚" : "▶";
  b.setAttribute("aria-label", label);
  b.title = label;
  b.setAttribute("aria-pressed", S.playing ? "true" : "false");
}

const SCRUB = { range: null, position: null, steps: [], step: undefined };

function renderScrubber() {
  if (!SCRUB.range || !SCRUB.range.isConnected) {
    SCRUB.range = document.getElementById("timeline");
    SCRUB.position = document.getElementById("position");
    SCRUB.steps = Array.from(document.querySelectorAll("#scrubber .step"));
    SCRUB.step = undefined;
  }
  if (SCRUB.range) SCRUB.range.value = String(S.t);
  if (SCRUB.position) {
    const n = S.times.length;
    const text = fill(word("position", "{k}/{n}"), { k: num(S.i + 1), n: num(n) });
    SCRUB.position.textContent = n ? text + " · " + ms(S.t) : word("no_events");
  }
  const step = S.data.events[S.i] ? S.data.events[S.i].step : null;
  if (step === SCRUB.step) return;
  SCRUB.step = step;
  for (const b of SCRUB.steps) b.classList.toggle("current", Number(b.dataset.step) === step);
}
