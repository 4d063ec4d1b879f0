/* 3. The packets: one node's capture at a time, virtualised; the PDU window and the stream. */

const PK = { top: 0, viewHeight: 320, view: 0, shown: [], filters: { dns: true, tcp: true, http: true }, height: 26,
  selected: null, highlighted: null, frame: -1 };

function packetColumns(view) {
  const columns = word("columns", []).slice();
  if (view && view.interfaces) columns.splice(2, 0, word("interface"));
  return columns;
}

function rowClass(row) {
  return "prow kind-" + kindOf(row.protocol) + (row.mark ? " marked" : "") + (row.dropped ? " dropped" : "");
}

function rowCells(view, row) {
  const cells = [String(row.number), row.time];
  if (view.interfaces) cells.push(tr(row.where));
  cells.push(row.source, row.destination, row.protocol, String(row.length));
  let info = row.info;
  if (row.dropped) info = "✕ " + info + " " + tr(row.drop_note);
  cells.push(info);
  return cells;
}

function buildPackets() {
  const views = S.data.views || [];
  const section = document.getElementById("v-packets");
  document.getElementById("no-packets").hidden = views.length > 0;
  section.classList.toggle("empty", !views.length);
  const host = document.getElementById("packet-host");
  host.replaceChildren(...views.map((v, k) => el("option", { value: String(k), text: v.title })));
  host.onchange = () => { showHost(Number(host.value)); };
  const filters = document.getElementById("filters");
  filters.querySelectorAll("label").forEach((n) => n.remove());
  for (const kind of ["dns", "tcp", "http"]) {
    const box = el("input", { type: "checkbox", value: kind, checked: PK.filters[kind],
      onchange: (e) => { PK.filters[kind] = e.target.checked; showHost(PK.view); } });
    filters.append(el("label", {}, box, " " + word("filters." + kind, kind.toUpperCase())));
  }
  const table = document.getElementById("packets");
  table.replaceChildren(el("div", { cls: "phead", role: "row" }),
    el("div", { cls: "pscroll", role: "rowgroup", tabindex: "0", "aria-label": word("views.packets"),
      onscroll: (e) => { PK.top = e.target.scrollTop; PK.viewHeight = e.target.clientHeight || PK.viewHeight; drawRows(); } }, el("div", { cls: "pspace" })));
  table.hidden = !views.length;
  if (views.length) showHost(Math.min(PK.view, views.length - 1));
}

function showHost(k) {
  ensureView("packets");
  const view = S.data.views[k];
  if (!view) return;
  PK.view = k;
  document.getElementById("packet-host").value = String(k);
  PK.shown = [];
  view.rows.forEach((row, r) => {
    const kind = kindOf(row.protocol);
    if (kind === "other" || PK.filters[kind]) PK.shown.push(r);
  });
  const columns = packetColumns(view);
  const head = document.querySelector("#packets .phead");
  head.replaceChildren(...columns.map((c) => el("span", { role: "columnheader", text: c })));
  head.className = "phead cols-" + columns.length;
  document.querySelector("#packets .pspace").style.height = PK.shown.length * PK.height + "px";
  PK.top = 0;
  later("packets", () => {
    const scroll = document.querySelector("#packets .pscroll");
    if (scroll) { scroll.scrollTop = PK.top; PK.viewHeight = scroll.clientHeight || PK.viewHeight; }
  });
  drawRows();
}

function drawRows() {
  const view = S.data.views[PK.view];
  const scroll = document.querySelector("#packets .pscroll"), space = document.querySelector("#packets .pspace");
  if (!view || !scroll) return;
  const first = Math.max(0, Math.floor(PK.top / PK.height) - 5);
  const last = Math.min(PK.shown.length, first + Math.ceil(PK.viewHeight / PK.height) + 10);
  const columns = packetColumns(view).length;
  const nodes = [];
  for (let k = first; k < last; k++) {
    const r = PK.shown[k], row = view.rows[r];
    const cls = rowClass(row) + " cols-" + columns + (PK.selected && PK.selected[0] === PK.view && PK.selected[1] === r ? " selected" : "");
    const line = el("div", { cls, role: "row", tabindex: "-1", "data-row": r, style: `top:${k * PK.height}px`,
      onclick: () => selectPacket(PK.view, r, true) },
      ...rowCells(view, row).map((c) => el("span", { role: "cell", text: c })));
    nodes.push(line);
  }
  space.replaceChildren(...nodes);
}

function selectPacket(v, r, fromUser) {
  ensureView("packets");
  const view = S.data.views[v];
  if (!view || !view.rows[r]) return;
  if (v !== PK.view) showHost(v);
  PK.selected = [v, r];
  const at = upper(PK.shown, r) - 1;
  const y = at * PK.height;
  if (at >= 0 && PK.shown[at] === r && (y < PK.top || y > PK.top + PK.viewHeight - PK.height)) {
    PK.top = Math.max(0, y - PK.viewHeight / 2);
    later("packets", () => {
      const scroll = document.querySelector("#packets .pscroll");
      if (scroll) scroll.scrollTop = PK.top;
    });
  }
  drawRows();
  openPdu(view.rows[r].frame, view.rows[r]);
  if (fromUser) {
    const i = S.data.events.findIndex((e) => e.packet && e.packet[0] === v && e.packet[1] === r);
    if (i >= 0) { pause(); goEvent(i); }
  }
}

function fieldParts(field) {
  if (Array.isArray(field)) {
    if (field.length >= 4) return { key: field[0], value: field[1], start: field[2], end: field[3] };
    return { key: null, name: field[0], value: field[1] };
  }
  return field;
}

function openPdu(f, row) {
  const pdu = document.getElementById("pdu");
  if (!S.data.frames && S.restPending) { PK.waiting = [f, row]; return; }  /* opened when the rest arrives */
  PK.waiting = null;
  const frame = (S.data.frames || [])[f];
  if (!frame) { pdu.hidden = true; return; }
  PK.frame = f;
  const bytes = bytesOf(frame.bytes);
  const glossary = S.data.glossary || {};
  const layers = el("div", { cls: "layers" });
  const hex = el("div", { cls: "hex", role: "group", tabindex: "0", "aria-label": word("hex", word("bytes")) });
  const spans = [];
  for (let o = 0; o < bytes.length; o += 16) {
    const line = el("div", { cls: "hexline" }, el("span", { cls: "off", text: o.toString(16).padStart(4, "0") }), "  ");
    const ascii = el("span", { cls: "ascii" });
    for (let k = o; k < Math.min(o + 16, bytes.length); k++) {
      const b = el("span", { cls: "b", text: hex2(bytes[k]) });
      const c = el("span", { cls: "c", text: bytes[k] >= 32 && bytes[k] < 127 ? String.fromCharCode(bytes[k]) : "." });
      spans[k] = [b, c];
      line.append(b, k < o + 15 && k < bytes.length - 1 ? " " : "");
      ascii.append(c);
    }
    line.append("  ", ascii);
    hex.append(line);
  }
  const mark = (start, end, on) => {
    for (let k = start; k < end && k < spans.length; k++) if (spans[k]) { spans[k][0].classList.toggle("hl", on); spans[k][1].classList.toggle("hl", on); }
  };
  let pinned = null;
  const source = frame.layers && frame.layers.length ? frame.layers :
    [{ name: "", fields: (frame.fields || []).map((p) => ({ name: p[0], value: p[1] })) }];
  for (const layer of source) {
    const details = el("details", { open: true, cls: "layer" },
      el("summary", { text: word("layers." + layer.name, layer.name) || word("fields") }));
    const list = el("ul", { cls: "fields" });
    for (const raw of layer.fields || []) {
      const field = fieldParts(raw);
      const about = field.key && glossary[field.key] ? glossary[field.key] : {};
      const name = tr(about.name) || field.name || field.key || "";
      const explain = tr(about.explain);
      const has = typeof field.start === "number" && typeof field.end === "number";
      const button = el("button", { type: "button", cls: "field", "data-key": field.key || "",
        "data-start": has ? field.start : null, "data-end": has ? field.end : null },
        el("span", { cls: "fname", text: name }), ": ",
        el("span", { cls: "fvalue", text: String(field.value) }),
        explain ? el("small", { cls: "explain", text: explain }) : null);
      if (has) {
        button.addEventListener("mouseenter", () => mark(field.start, field.end, true));
        button.addEventListener("mouseleave", () => { mark(field.start, field.end, false); if (pinned) mark(pinned[0], pinned[1], true); });
        button.addEventListener("focus", () => mark(field.start, field.end, true));
        button.addEventListener("blur", () => { mark(field.start, field.end, false); if (pinned) mark(pinned[0], pinned[1], true); });
        button.addEventListener("click", () => {
          if (pinned) mark(pinned[0], pinned[1], false);
          pinned = [field.start, field.end];
          for (const b of layers.querySelectorAll(".field.pinned")) b.classList.remove("pinned");
          button.classList.add("pinned");
          mark(field.start, field.end, true);
        });
      }
      list.append(el("li", {}, button));
    }
    details.append(list);
    layers.append(details);
  }
  const title = row ? row.number + " · " + row.info : "";
  const stream = findStream(f);
  const streamBox = el("div", { cls: "stream", hidden: true });
  const follow = stream ? el("button", { type: "button", cls: "follow", text: word("follow_stream"),
    onclick: () => showStream(stream, streamBox) }) : null;
  const close = el("button", { type: "button", cls: "close", "aria-label": word("controls.close"), text: "✕",
    onclick: () => { pdu.hidden = true; } });
  pdu.replaceChildren(el("div", { cls: "pdu-head" }, el("h3", { text: word("layers_title") + " — " + title }), close),
    el("div", { cls: "pdu-body" }, layers, el("div", {}, el("h4", { text: word("hex", word("bytes")) }), hex)),
    follow, streamBox);
  pdu.dataset.frame = String(f);
  pdu.hidden = false;
}

function findStream(f) {
  for (const stream of S.data.streams || []) {
    for (const side of ["sent", "received"]) {
      const part = stream[side];
      if (!part || !part.frames) continue;
      const hit = part.frames.find((p) => p[0] === f);
      if (hit) return { stream, side, start: hit[1], end: hit[2] };
    }
  }
  return null;
}

function showStream(found, box) {
  const part = found.stream[found.side];
  const bytes = bytesOf(part.bytes);
  const text = (a, b) => {
    let out = "";
    for (let k = a; k < b; k++) {
      const c = bytes[k];
      out += c === 10 || c === 13 || c === 9 || (c >= 32 && c < 127) ? String.fromCharCode(c) : c >= 160 ? String.fromCharCode(c) : ".";
    }
    return out;
  };
  const marked = el("mark", { text: text(found.start, found.end) });
  const pre = el("pre", { cls: "stream-text" }, text(0, found.start), marked, text(found.end, bytes.length));
  const head = found.stream.client + " → " + found.stream.server + " · " + word(found.side);
  box.replaceChildren(el("h4", { text: word("follow_stream") + ": " + head }), pre,
    part.truncated ? el("p", { cls: "note", text: fill(word("stream_truncated"), { size: num(part.size || bytes.length) }) }) : null);
  box.hidden = false;
  pre.scrollTop = Math.max(0, marked.offsetTop - pre.offsetTop - 40);
}

let lastPacketEvent = -1;
function renderPackets() {
  const event = S.data.events[S.i];
  if (!event || !event.packet || S.playing || S.i === lastPacketEvent) return;
  lastPacketEvent = S.i;
  const [v, r] = event.packet;
  idle("pdu", () => selectPacket(v, r, false), 120);  /* once the timeline stands still */
}
