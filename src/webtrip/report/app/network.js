/* 1. The network, drawn: nodes by role, links, packets moving along them by virtual time. */

const ROLE_ORDER = ["resolver", "root", "tld", "authoritative", "web", "other"];
const NET = { pos: {}, links: {}, flights: [], longest: 0, linger: 0.05, pool: [], layer: null, shown: -1 };

function layoutNodes(topology) {
  const nodes = topology.nodes || [];
  const width = 640, left = [], middle = [], right = [];
  for (const node of nodes) {
    if (node.role === "browser") left.push(node);
    else if (node.role === "router") middle.push(node);
    else right.push(node);
  }
  if (!middle.length) {  /* a logical drawing: the resolver in the middle */
    const k = right.findIndex((n) => n.role === "resolver");
    if (k >= 0) middle.push(right.splice(k, 1)[0]);
  }
  right.sort((a, b) => ROLE_ORDER.indexOf(a.role) - ROLE_ORDER.indexOf(b.role));
  const rows = Math.max(left.length, middle.length, right.length, 1);
  const height = Math.max(200, rows * 62 + 20);
  const place = (column, x) => column.forEach((node, k) => {
    NET.pos[node.id] = { x, y: ((k + 0.5) * height) / column.length, node };
  });
  place(left, 70); place(middle, width / 2 - 20); place(right, width - 110);
  return { width, height };
}

function buildNetwork() {
  const box = document.getElementById("network");
  box.replaceChildren();
  NET.pos = {}; NET.links = {}; NET.pool = [];
  const topology = S.data.topology || { nodes: [], links: [] };
  const { width, height } = layoutNodes(topology);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": word("views.network") });
  for (const link of topology.links || []) {
    const a = NET.pos[link.a], b = NET.pos[link.b];
    if (!a || !b) continue;
    NET.links[link.id] = link;
    const line = svg("line", { x1: a.x, y1: a.y, x2: b.x, y2: b.y, class: "link" }, root);
    const about = [word("latency") + " " + ms(link.latency || 0)];
    if (link.bandwidth) about.push(word("bandwidth") + " " + num(link.bandwidth / 1e6, 0) + " Mbit/s");
    if (link.loss) about.push(word("loss") + " " + num(link.loss * 100, 1) + " %");
    svg("title", {}, line).textContent = about.join(" · ");
  }
  for (const { x, y, node } of Object.values(NET.pos)) {
    const g = svg("g", { class: "node role-" + node.role, transform: `translate(${x},${y})` }, root);
    svg("rect", { x: -46, y: -20, width: 92, height: 40, rx: 8 }, g);
    const name = svg("text", { y: -3, "text-anchor": "middle", class: "name" }, g);
    name.textContent = tr(node.name) || node.id;
    const address = svg("text", { y: 13, "text-anchor": "middle", class: "address" }, g);
    address.textContent = node.role === "router" ? "" : (node.addresses || [])[0] || "";
  }
  NET.layer = svg("g", { class: "flights" }, root);
  box.append(root);
  const legend = document.getElementById("network-legend");
  legend.replaceChildren();
  for (const kind of ["dns", "tcp", "http"]) {
    legend.append(el("li", {}, el("span", { cls: "dot", style: "background:" + KIND_COLOURS[kind] }),
      word("filters." + kind, kind.toUpperCase())));
  }
  legend.append(el("li", { cls: "lost-key" }, el("span", { cls: "cross", text: "✕" }), word("lost_here")));
  const note = document.getElementById("network-note");
  note.textContent = topology.logical ? word("logical") : "";
  NET.shown = -1;
}

function prepareFlights() {
  NET.flights = (S.data.flights || []).map((f, k) => ({ ...f, k })).sort((a, b) => a.sent - b.sent || a.k - b.k);
  NET.sentTimes = NET.flights.map((f) => f.sent);
  NET.linger = Math.max(0.05, S.end * 0.03);
  NET.longest = 0;
  for (const f of NET.flights) {
    const stop = f.arrived !== null && f.arrived !== undefined ? f.arrived : (f.lost !== null && f.lost !== undefined ? f.lost + NET.linger : f.sent);
    f.stop = stop;
    NET.longest = Math.max(NET.longest, stop - f.sent);
  }
}

function flightGlyph(k) {
  while (NET.pool.length <= k) {
    const g = svg("g", { class: "flight" }, NET.layer);
    svg("circle", { r: 7 }, g);
    const cross = svg("text", { class: "cross", "text-anchor": "middle", y: 6 }, g);
    cross.textContent = "✕";
    svg("text", { class: "label", "text-anchor": "middle", y: -12 }, g);
    NET.pool.push(g);
  }
  return NET.pool[k];
}

function renderNetwork() {
  if (!NET.layer) return;
  const t = S.t, current = S.data.events[S.i] ? S.data.events[S.i].flight : undefined;
  const first = upper(NET.sentTimes, t - NET.longest - 1e-9);
  const last = upper(NET.sentTimes, t);
  let used = 0;
  for (let k = first; k < last && used < 300; k++) {
    const f = NET.flights[k];
    if (t > f.stop + 1e-9 && f.k !== current) continue;
    if (typeof f.sent_event === "number" && S.i < f.sent_event) continue;  /* not sent yet */
    const a = NET.pos[f.from], b = NET.pos[f.to];
    if (!a || !b) continue;
    const lost = f.lost !== null && f.lost !== undefined;
    let p;
    if (lost) {
      const link = NET.links[f.link] || {};
      const reach = link.latency ? (f.lost - f.sent) / link.latency : 0.5;
      p = Math.min(t >= f.lost ? reach : (t - f.sent) / (link.latency || 1), 0.92);
      p = Math.max(p, 0.12);
    } else {
      p = f.arrived > f.sent ? Math.min(1, (t - f.sent) / (f.arrived - f.sent)) : 1;
    }
    const g = flightGlyph(used++);
    const dropped = lost && t >= f.lost;
    g.setAttribute("transform", `translate(${a.x + (b.x - a.x) * p},${a.y + (b.y - a.y) * p})`);
    /* The rest only when this glyph now shows another flight or another state: a frame
     * moves the packets, and rewrites a glyph's look only when it changed. */
    const look = f.k + (dropped ? "d" : "") + (f.k === current ? "c" : "") + S.lang;
    if (g.look !== look) {
      g.look = look;
      g.setAttribute("class", "flight kind-" + f.kind + (dropped ? " lost" : "") + (f.k === current ? " current" : ""));
      g.dataset.flight = String(f.k);
      g.firstChild.setAttribute("fill", KIND_COLOURS[f.kind] || KIND_COLOURS.other);
      g.lastChild.setAttribute("y", dropped ? "26" : "-12");
      g.lastChild.textContent = f.k === current || dropped ? tr(f.label) + (dropped ? " — " + word("lost_here") : "") : "";
    }
    if (g.off) { g.style.display = ""; g.off = false; }
  }
  for (let k = used; k < NET.shown; k++) if (!NET.pool[k].off) { NET.pool[k].style.display = "none"; NET.pool[k].off = true; }
  NET.shown = used;
}
