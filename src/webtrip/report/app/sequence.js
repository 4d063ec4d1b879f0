/* 2. The conversation: a sequence diagram of the messages, the current one highlighted. */

const SEQ = { width: 300, starts: [], rows: [], current: -1, svg: null, x: {}, messages: [], layer: null, drawn: [0, 0], scale: 1,
  top: 0, height: 0 };
const ROW = 26, TOP = 44;
/* On a projector (html.big) the diagram is drawn 1.6 times larger: its text and arrows. */
function seqScale() { return document.documentElement.classList.contains("big") ? 1.6 : 1; }

function buildSequence() {
  const box = document.getElementById("sequence");
  box.replaceChildren();
  SEQ.rows = []; SEQ.current = -1; SEQ.layer = null;
  const messages = S.data.messages || [];
  SEQ.messages = messages;
  SEQ.starts = messages.map((m) => m.t);
  if (!messages.length) { box.hidden = true; return; }
  box.hidden = false;
  const seen = new Set();
  for (const m of messages) { seen.add(m.from); seen.add(m.to); }
  const order = [];
  for (const node of (S.data.topology || {}).nodes || []) if (seen.has(node.id)) order.push(node);
  const rank = (n) => (n.role === "browser" ? -1 : ROLE_ORDER.indexOf(n.role));
  order.sort((a, b) => rank(a) - rank(b));
  for (const id of seen) if (!order.find((n) => n.id === id)) order.push({ id, name: id, role: "other" });
  const gap = 120, width = Math.max(order.length * gap, 300), height = TOP + messages.length * ROW + 20;
  const x = {};
  order.forEach((n, k) => { x[n.id] = gap / 2 + k * gap; });
  const scale = seqScale();
  SEQ.scale = scale;
  const root = svg("svg", { width: width * scale, height: height * scale, viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": word("views.conversation") });
  svg("defs", {}, root).innerHTML =
    '<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker>';
  for (const n of order) {
    svg("line", { x1: x[n.id], y1: 30, x2: x[n.id], y2: height, class: "lifeline" }, root);
    const head = svg("text", { x: x[n.id], y: 18, "text-anchor": "middle", class: "actor" }, root);
    head.textContent = tr(n.name) || n.id;
  }
  SEQ.x = x; SEQ.messages = messages; SEQ.width = width;
  SEQ.layer = svg("g", { class: "messages" }, root);
  SEQ.drawn = [0, 0];
  SEQ.svg = root;
  box.append(root);
  box.onscroll = () => { SEQ.top = box.scrollTop; later("sequence-rows", drawSequenceRows); };
  SEQ.top = 0; box.scrollTop = 0;  /* a new diagram starts at its top (written, not read) */
  watchSize(box, (height) => { SEQ.height = height; later("sequence-rows", drawSequenceRows); });
  drawSequenceRows();
}

/* Only the rows in view (and a screenful either side) are in the SVG: a run of thousands
 * of messages costs what one screen of them does, drawn again as the box scrolls. */
function drawSequenceRows() {
  const messages = SEQ.messages || [];
  if (!SEQ.layer) return;
  const height = SEQ.height || 420;  /* known from a ResizeObserver and the scroll events: */
  const top = SEQ.top / SEQ.scale;   /* drawing rows never reads the layout */
  const first = Math.max(0, Math.floor((top - TOP - height) / ROW));
  const last = Math.min(messages.length, Math.ceil((top - TOP + 2 * height) / ROW) + 1);
  if (first === SEQ.drawn[0] && last === SEQ.drawn[1] && SEQ.layer.childNodes.length) return;
  SEQ.drawn = [first, last];
  SEQ.rows = [];
  const rows = [];
  for (let k = first; k < last; k++) rows.push(sequenceRow(messages[k], k));
  SEQ.layer.replaceChildren(...rows);
}

function sequenceRow(m, k) {
  const x = SEQ.x, y = TOP + k * ROW, x1 = x[m.from], x2 = x[m.to];
  const g = svg("g", { class: "message kind-" + m.kind + (m.lost ? " lost" : "") + (m.again ? " again" : "") +
    (k === SEQ.current ? " current" : ""), tabindex: "-1", "data-m": k });
  svg("rect", { x: Math.min(x1, x2) - 4, y: y - 15, width: Math.abs(x2 - x1) + 8, height: ROW - 2, class: "hit" }, g);
  const end = m.lost ? x1 + (x2 - x1) * 0.6 : x2;
  svg("line", { x1, y1: y + 4, x2: end, y2: y + 4, class: "arrow",
    "marker-end": m.lost ? "" : "url(#arrow)" }, g);
  if (m.lost) {
    const cross = svg("text", { x: end, y: y + 9, "text-anchor": "middle", class: "cross" }, g);
    cross.textContent = "✕";
  }
  const text = (m.again ? "↻ " : "") + tr(m.label) + (m.again ? " (" + word("sent_again") + ")" : "") +
    (m.lost ? " — " + word("lost_here") : "");
  // Centred over its arrow, but kept inside the drawing: a long label near an edge starts
  // (or ends) at that edge. Its width is estimated (11 px type: about 6.2 px a character),
  // so drawing rows while scrolling reads no layout.
  const half = text.length * 3.1;
  let lx = (x1 + x2) / 2, anchor = "middle";
  if (lx - half < 4) { lx = 4; anchor = "start"; } else if (lx + half > SEQ.width - 4) { lx = SEQ.width - 4; anchor = "end"; }
  const label = svg("text", { x: lx, y: y - 1, "text-anchor": anchor, class: "label" }, g);
  label.textContent = text;
  g.addEventListener("click", () => { pause(); goEvent(m.events && m.events.length ? m.events[0] : eventAt(m.t)); });
  SEQ.rows[k] = g;
  return g;
}

function renderSequence() {
  if (!SEQ.messages || !SEQ.messages.length) return;
  const event = S.data.events[S.i];
  let k = event && event.message !== undefined && event.message !== null ? event.message : upper(SEQ.starts, S.t) - 1;
  if (k === SEQ.current) return;
  if (SEQ.current >= 0 && SEQ.rows[SEQ.current]) SEQ.rows[SEQ.current].classList.remove("current");
  SEQ.current = k;
  if (k < 0) return;
  if (SEQ.rows[k]) SEQ.rows[k].classList.add("current");
  later("sequence", () => {
    const box = document.getElementById("sequence"), y = (TOP + k * ROW) * SEQ.scale;
    const height = SEQ.height || 420;
    if (y < SEQ.top + 20 || y > SEQ.top + height - 20) {
      SEQ.top = Math.max(0, y - height / 2);
      box.scrollTop = SEQ.top;
    }
    drawSequenceRows();
  });
}
