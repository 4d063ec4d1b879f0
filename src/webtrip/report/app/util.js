/* webtrip's visual replay: one app for the --report page and for `webtrip ui`.
 *
 * Public API (kept stable for `webtrip ui`, which fills #controls and nav#runs):
 *   window.webtrip.load(data)      show another run (the JSON of report/app_data.py)
 *   window.webtrip.on(event, fn)   "load" (data), "change" ({t, i}), "language" (code)
 *   window.webtrip.seek(t)         move every view to virtual time t (seconds)
 *   window.webtrip.language(code)  switch between "en" and "es" without reloading
 * The files are concatenated in a fixed order (util, timeline, network, sequence,
 * packets, files, story, main) and inlined by report/html.py: no build, no network.
 */
"use strict";

const SVGNS = "http:" + "//www.w3.org/2000/svg";
const S = {
  data: null, lang: "en", t: 0, i: -1, end: 0, times: [], packetEvents: [],
  playing: false, speed: 0.1, listeners: {}, view: "network", drawn: false,
};

function tr(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "string" || typeof value === "number") return String(value);
  if (value[S.lang] !== undefined) return value[S.lang];
  return value.en !== undefined ? value.en : "";
}

let BOOT_WORDS = null;  // the page's own words (#app-words), for before any run is loaded

function word(path, fallback) {
  if (BOOT_WORDS === null) {
    const block = document.getElementById("app-words");
    BOOT_WORDS = block && block.textContent.trim() ? JSON.parse(block.textContent) : {};
  }
  const words = (S.data && S.data.words) || BOOT_WORDS;
  for (const lang of [S.lang, "en"]) {
    let node = words[lang];
    for (const part of path.split(".")) node = node === undefined || node === null ? undefined : node[part];
    if (node !== undefined && node !== null) return node;
  }
  return fallback === undefined ? "" : fallback;
}

function fill(template, values) {
  return String(template).replace(/\{(\w+)\}/g, (m, k) => (k in values ? values[k] : m));
}

const FORMATS = new Map();
function num(value, decimals) {
  const key = S.lang + (decimals || 0) + (S.lang === "es" && Math.abs(value) >= 10000 ? "g" : "");
  let format = FORMATS.get(key);
  if (!format) {
    format = new Intl.NumberFormat(S.lang === "es" ? "es-ES" : "en-GB", {
      minimumFractionDigits: decimals || 0, maximumFractionDigits: decimals || 0,
      useGrouping: S.lang === "es" ? Math.abs(value) >= 10000 : true,
    });
    FORMATS.set(key, format);
  }
  return format.format(value);
}

function ms(seconds) { return num(seconds * 1000, seconds * 1000 < 10 ? 2 : 1) + " ms"; }

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") node.textContent = v;
    else if (k === "cls") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function svg(tag, attrs, parent) {
  const node = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (parent) parent.append(node);
  return node;
}

/* The number of items whose key is <= t (items sorted by key). */
function upper(array, t, key) {
  let lo = 0, hi = array.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((key ? key(array[mid]) : array[mid]) <= t) lo = mid + 1; else hi = mid;
  }
  return lo;
}

function bytesOf(b64) {
  const text = atob(b64 || "");
  const out = new Uint8Array(text.length);
  for (let k = 0; k < text.length; k++) out[k] = text.charCodeAt(k);
  return out;
}

function hex2(b) { return (b < 16 ? "0" : "") + b.toString(16); }

function emit(name, value) {
  for (const fn of S.listeners[name] || []) {
    try { fn(value); } catch (error) { console.warn(error); }
  }
}

function kindOf(protocol) {
  const p = String(protocol || "").toUpperCase();
  if (p.startsWith("DNS")) return "dns";
  if (p.startsWith("HTTP")) return "http";
  if (p.startsWith("TCP")) return "tcp";
  return "other";
}

const KIND_COLOURS = { dns: "#0b7a75", tcp: "#b35900", http: "#1a5fb4", icmp: "#6b4fa0", other: "#555" };

/* Work that can wait until the timeline stands still (the PDU window, the address). */
const IDLE = new Map();
function idle(key, fn, delay) {
  clearTimeout(IDLE.get(key));
  IDLE.set(key, setTimeout(() => { IDLE.delete(key); fn(); }, delay));
}

/* Work that reads the layout (scrolling a row into view) waits for the next frame, once
 * per key: a step never forces the browser to lay the page out again. */
const LATER = new Map();
let laterFrame = 0;
function later(key, fn) {
  LATER.set(key, fn);
  if (!laterFrame) {
    laterFrame = requestAnimationFrame(() => {
      laterFrame = 0;
      const jobs = Array.from(LATER.values());
      LATER.clear();
      for (const job of jobs) job();
    });
  }
}

/* A box's height, told whenever it changes (ResizeObserver: measured by the browser after
 * its own layout, never forced by a read of ours); one observer per box. */
const SIZES = new WeakMap();
function watchSize(box, told) {
  SIZES.set(box, told);
  if (!watchSize.observer) {
    watchSize.observer = new ResizeObserver((entries) => {
      for (const entry of entries) {
        const fn = SIZES.get(entry.target);
        if (fn) fn(entry.target.clientHeight);  /* the layout is fresh here: nothing forced */
      }
    });
  }
  watchSize.observer.observe(box);
}
