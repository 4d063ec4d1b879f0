/* webtrip ui: the run form (#controls) and the session list (#runs) around the replay app.
 *
 * The replay app (report/app) draws a run; it exposes window.webtrip = {load(data),
 * on(event, fn), seek(t), language(code)}. This file asks the server for what the form
 * offers (GET /api/options), posts runs (POST /api/runs, JSON, from this origin only),
 * follows them with server-sent events (GET /api/events) and, when one is done, fetches
 * its data (GET /api/runs/ID) and hands it to webtrip.load. Every word comes from the
 * server's catalog (options.words.en / .es); no word is written here.
 */
"use strict";
(function () {
  const ui = {
    options: null,
    runs: [],
    open: null,        // the id of the run shown
    waiting: null,     // the id of the run this page posted and will open when done
    posted: 0,         // performance.now() when it was posted
    timings: [],       // [{id, done, drawn, data, frame}] ms from POST: done (data fetched), drawn
                       // (first frame); data, frame: the page's marks webtrip:data, :first-frame
  };
  window.webtripUi = ui;

  // The page's language: the app's at start, then whatever its language switch chooses.
  ui.lang = document.documentElement.lang === "es" ? "es" : "en";
  function lang() { return ui.lang; }
  function w(key) { return ui.options ? (ui.options.words[lang()][key] || key) : ""; }
  function both(value) { return value && typeof value === "object" ? (value[lang()] || value.en || "") : ""; }
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (v === null || v === undefined || v === false) return;
      if (k === "text") node.textContent = v; else node.setAttribute(k, v === true ? "" : v);
    });
    (children || []).forEach((c) => node.appendChild(c));
    return node;
  }
  function api(path) { return path + (path.includes("?") ? "&" : "?") + "lang=" + lang(); }
  async function answer(response) {
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error || String(response.status));
    return body;
  }
  function say(text, bad) {
    const line = document.getElementById("ui-status");
    if (!line) return;
    line.textContent = text;
    line.classList.toggle("bad", Boolean(bad));
  }

  // --- the form -------------------------------------------------------------------------------

  function field(id, labelKey, input) {
    return el("div", { class: "ui-field" }, [el("label", { for: id, "data-uw": labelKey, text: w(labelKey) }), input]);
  }
  function numberInput(id, key) {
    const [low, high] = ui.options.limits[key];
    return el("input", { id, type: "number", min: low, max: high, step: "any", inputmode: "decimal" });
  }
  function option(value, text, key) { return el("option", { value, text, "data-uw": key || null }); }
  function labText(lab) {
    const name = lab.name;
    if (lab.kind === "demo") return [w("lab.demo"), "lab.demo"];
    if (lab.kind === "internet") return [w("lab.internet"), "lab.internet"];
    return [w("lab." + lab.kind).replace("{name}", name), null];
  }

  function buildForm() {
    const box = document.getElementById("controls");
    box.textContent = "";
    const o = ui.options;
    const labSelect = el("select", { id: "ui-lab" }, o.labs.map((lab) => {
      const [text, key] = labText(lab);
      const item = option(lab.name, text, key);
      if (lab.kind === "internet" && !o.allow_network) item.disabled = true;
      return item;
    }));
    const url = el("input", { id: "ui-url", type: "text", inputmode: "url", autocomplete: "off", spellcheck: "false" });
    const profile = el("select", { id: "ui-profile" }, [option("", w("profile.none"), "profile.none"),
      ...o.profiles.map((p) => el("option", { value: p.name, text: p.name, title: both(p.title) }))]);
    const action = el("select", { id: "ui-fault" }, [option("", w("fault.none"), "fault.none"),
      option("drop", w("fault.drop"), "fault.drop"), option("delay", w("fault.delay"), "fault.delay")]);
    const packet = el("select", { id: "ui-packet" }, o.packets.map((p) => el("option", { value: p.name, text: p.name, title: both(p.title) })));
    const by = el("input", { id: "ui-by", type: "number", min: 1, max: 60000, value: 300 });
    const silent = el("input", { id: "ui-silent", type: "checkbox" });
    const seed = el("input", { id: "ui-seed", type: "number", min: 0, step: 1, value: 1 });
    const runLang = el("select", { id: "ui-lang" }, [option("en", "English"), option("es", "Español")]);
    runLang.value = lang();
    const form = el("form", { id: "ui-form", "aria-label": w("form") }, [
      el("div", { class: "ui-row" }, [field("ui-lab", "lab", labSelect), field("ui-url", "url", url)]),
      el("fieldset", { class: "ui-row" }, [
        el("legend", { "data-uw": "network", text: w("network") }),
        field("ui-profile", "profile", profile),
        field("ui-latency", "latency", numberInput("ui-latency", "latency")),
        field("ui-bandwidth", "bandwidth", numberInput("ui-bandwidth", "bandwidth")),
        field("ui-loss", "loss", numberInput("ui-loss", "loss")),
        field("ui-reorder", "reorder", numberInput("ui-reorder", "reorder")),
        field("ui-duplicate", "duplicate", numberInput("ui-duplicate", "duplicate")),
        field("ui-mtu", "mtu", numberInput("ui-mtu", "mtu")),
      ]),
      el("fieldset", { class: "ui-row" }, [
        el("legend", { "data-uw": "faults", text: w("faults") }),
        field("ui-fault", "fault", action), field("ui-packet", "packet", packet),
        field("ui-by", "fault.by", by),
        el("div", { class: "ui-field ui-check" }, [silent, el("label", { for: "ui-silent", "data-uw": "fault.silent", text: w("fault.silent") })]),
      ]),
      el("div", { class: "ui-row" }, [field("ui-seed", "seed", seed), field("ui-lang", "language", runLang),
        el("button", { id: "ui-run", type: "submit", "data-uw": "run", text: w("run") })]),
      el("p", { id: "ui-status", role: "status", "aria-live": "polite" }),
    ]);
    if (!o.allow_network) form.appendChild(el("p", { class: "ui-note", "data-uw": "network_off", text: w("network_off") }));
    form.addEventListener("submit", (e) => { e.preventDefault(); post(formParams()); });
    labSelect.addEventListener("change", showUrlHint);
    // Folded once a run is shown, so that the run has the screen; a click opens it again.
    const fold = el("details", { id: "ui-make", open: true }, [
      el("summary", { id: "ui-form-title", "data-uw": "form", text: w("form") }), form]);
    box.appendChild(fold);
    showUrlHint();
  }

  function showUrlHint() {
    const lab = ui.options.labs.find((l) => l.name === document.getElementById("ui-lab").value);
    document.getElementById("ui-url").placeholder = lab && lab.url ? lab.url : "https://";
  }

  function formParams() {
    const value = (id) => document.getElementById(id).value.trim();
    const params = { lab: value("ui-lab"), seed: Number(value("ui-seed") || 1), lang: value("ui-lang"), faults: [] };
    if (value("ui-url")) params.url = value("ui-url");
    if (value("ui-profile")) params.profile = value("ui-profile");
    ["latency", "bandwidth", "loss", "reorder", "duplicate", "mtu"].forEach((key) => {
      const text = value("ui-" + key);
      if (text !== "") params[key] = Number(text);
    });
    const action = value("ui-fault");
    if (action === "drop") params.faults.push({ action, packet: value("ui-packet") });
    if (action === "delay") params.faults.push({ action, packet: value("ui-packet"), by: Number(value("ui-by") || 0) });
    if (document.getElementById("ui-silent").checked) params.faults.push({ action: "dns-silent" });
    return params;
  }

  async function post(body) {
    say(w("status.queued"));
    ui.posted = performance.now();
    try {
      const made = await answer(await fetch(api("/api/runs"), {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      }));
      ui.waiting = made.id;
      await refresh();
    } catch (error) {
      say(error.message, true);
    }
  }

  // --- the session list -----------------------------------------------------------------------

  async function refresh() {
    ui.runs = (await answer(await fetch(api("/api/runs")))).runs;
    drawRuns();
  }

  function drawRuns() {
    const nav = document.getElementById("runs");
    nav.textContent = "";
    nav.setAttribute("aria-labelledby", "ui-runs-title");
    nav.appendChild(el("h2", { id: "ui-runs-title", text: w("runs") }));
    if (!ui.runs.length) { nav.appendChild(el("p", { class: "ui-note", text: w("no_runs") })); return; }
    const list = el("ol", { class: "ui-runs", reversed: true });
    ui.runs.forEach((run) => {
      const label = "#" + run.id + " " + both(run.summary);
      const button = el("button", { type: "button", class: "ui-open", "data-run": run.id, "aria-current": run.id === ui.open ? "true" : null,
        disabled: run.status !== "done" ? true : null }, [
        el("span", { class: "ui-run-name", text: label }),
        el("span", { class: "ui-run-status s-" + run.status, text: w("status." + run.status) }),
      ]);
      button.addEventListener("click", () => openRun(run.id));
      const item = el("li", { "data-status": run.status }, [button]);
      if (run.error) item.appendChild(el("p", { class: "ui-error", text: both(run.error) }));
      list.appendChild(item);
    });
    nav.appendChild(list);
    const shown = ui.runs.find((run) => run.id === ui.open);
    if (shown) nav.appendChild(againForm(shown));
  }

  const CHANGES = ["loss", "latency", "bandwidth", "reorder", "duplicate", "mtu", "seed", "profile", "drop"];

  function againForm(run) {
    const key = el("select", { id: "ui-again-key" }, CHANGES.map((k) => option(k, k === "drop" ? w("fault.drop") : w(k === "profile" ? "network" : k))));
    const value = el("input", { id: "ui-again-value", type: "text", autocomplete: "off" });
    const form = el("form", { class: "ui-again", "aria-label": w("again") }, [
      field("ui-again-key", "again.key", key), field("ui-again-value", "again.value", value),
      el("button", { type: "submit", id: "ui-again", text: w("again") }),
    ]);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const k = key.value, text = value.value.trim();
      const change = {};
      if (k === "drop") change.faults = [{ action: "drop", packet: text }];
      else if (k === "profile") change.profile = text || null;
      else change[k] = text === "" ? null : Number(text);
      post({ base: run.id, change });
    });
    return form;
  }

  async function openRun(id) {
    try {
      const path = "/api/runs/" + encodeURIComponent(id);
      const run = await answer(await fetch(api(path + "?part=first")));
      if (!run.data) return;
      const fetched = performance.now();
      performance.mark("webtrip:data");
      window.webtrip.load(run.data, "later");
      /* The rest (the frames' layers, the streams, the page) once the first frame is drawn. */
      requestAnimationFrame(() => requestAnimationFrame(async () => {
        try {
          const rest = await answer(await fetch(api(path + "/rest")));
          if (ui.open === id) window.webtrip.addRest(rest);
        } catch (error) {
          say(error.message, true);
        }
      }));
      ui.open = id;
      document.body.dataset.run = id;
      document.getElementById("ui-make").open = false;
      drawRuns();
      say(both(run.summary));
      if (id === ui.waiting) {
        const start = ui.posted;
        ui.waiting = null;
        requestAnimationFrame(() => requestAnimationFrame(() => {
          const mark = (name) => {
            const entries = performance.getEntriesByName(name);
            return entries.length ? entries[entries.length - 1].startTime - start : null;
          };
          ui.timings.push({ id, done: fetched - start, drawn: performance.now() - start,
            data: mark("webtrip:data"), frame: mark("webtrip:first-frame") });
          document.body.dataset.drawn = id;
        }));
      }
    } catch (error) {
      say(error.message, true);
    }
  }

  // --- following the runs ---------------------------------------------------------------------

  function follow() {
    const events = new EventSource(api("/api/events"));
    const update = (message) => {
      const event = JSON.parse(message.data);
      const run = event.run;
      const i = ui.runs.findIndex((r) => r.id === run.id);
      if (i >= 0) ui.runs[i] = run; else ui.runs.unshift(run);
      drawRuns();
      if (run.id === ui.waiting) {
        if (event.type === "finished") openRun(run.id);
        else if (event.type === "failed") { ui.waiting = null; say(both(run.error), true); }
        else say(w("status." + run.status));
      }
    };
    ["queued", "started", "finished", "failed"].forEach((type) => events.addEventListener(type, update));
    events.addEventListener("open", () => { if (ui.options) refresh().catch(() => {}); });
    events.addEventListener("error", () => say(w("lost_connection"), true));
  }

  function relabel() {
    document.querySelectorAll("[data-uw]").forEach((node) => { node.textContent = w(node.dataset.uw); });
    document.getElementById("ui-form").setAttribute("aria-label", w("form"));
    document.getElementById("ui-lang").value = lang();
    drawRuns();
  }

  async function start() {
    ui.options = await answer(await fetch(api("/api/options")));
    buildForm();
    await refresh();
    follow();
    const switched = (code) => { if (code !== ui.lang) { ui.lang = code === "es" ? "es" : "en"; relabel(); } };
    document.getElementById("language").addEventListener("change", (e) => switched(e.target.value));
    if (window.webtrip && window.webtrip.on) window.webtrip.on("language", switched);
    document.body.dataset.ready = "1";
  }
  start().catch((error) => say(error.message, true));
})();
