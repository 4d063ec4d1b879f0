/* 4. The files: the waterfall on a time axis with a "now" line, each file's bytes filling
 * up as they arrive; then the page as received, sandboxed, with no script and no network. */

const FL = { rows: [], now: null, span: 1 };

function buildFiles() {
  const box = document.getElementById("waterfall");
  box.replaceChildren();
  FL.rows = [];
  const files = S.data.files || [];
  const legend = document.getElementById("phase-legend");
  legend.replaceChildren();
  const colours = S.data.colours || {};
  for (const [name, colour] of Object.entries(colours)) {
    legend.append(el("li", {}, el("span", { cls: "dot", style: "background:" + colour }), word("phases." + name, name)));
  }
  let span = S.end;
  for (const f of files) span = Math.max(span, f.started + (f.total || 0) / 1000);
  FL.span = span > 0 ? span : 1;
  const pct = (s) => (100 * s) / FL.span + "%";
  const axis = el("div", { cls: "axis", "aria-label": word("time_axis") });
  for (let k = 0; k <= 4; k++) {
    axis.append(el("span", { cls: "tick", style: "left:" + 25 * k + "%", text: num((FL.span * 1000 * k) / 4, 0) }));
  }
  const track = el("div", { cls: "wf-tracks" }, axis);
  for (const f of files) {
    let name = String(f.url || "").replace(/^[a-z]+:\/\/[^/]+/i, "") || f.url;
    const bar = el("div", { cls: "bar", style: `left:${pct(f.started)};width:max(2px,${pct((f.total || 0) / 1000)})` });
    let at = 0;
    for (const [phase, value] of f.phases || []) {
      if (!value) continue;
      bar.append(el("span", { cls: "phase", title: word("phases." + phase, phase) + " " + num(value, 1) + " ms",
        style: `width:${(100 * value) / (f.total || 1)}%;background:${colours[phase] || "#888"}` }));
      at += value;
    }
    const fillBar = el("div", { cls: "fill" });
    const progress = el("div", { cls: "progress", style: `left:${pct(f.started)};width:max(2px,${pct((f.total || 0) / 1000)})` }, fillBar);
    const status = f.error ? "✕" : f.status ? String(f.status) : "";
    const label = el("div", { cls: "wf-label", title: f.url }, el("span", { cls: "wf-name", text: name }),
      el("span", { cls: "wf-status", text: status }));
    const amount = el("span", { cls: "wf-amount" });
    const line = el("div", { cls: "wf-row" + (f.error ? " failed" : "") }, label,
      el("div", { cls: "wf-track" }, bar, progress), amount);
    track.append(line);
    const points = f.progress || [];
    const total = f.size || (points.length ? points[points.length - 1][1] : 0);
    FL.rows.push({ f, fillBar, amount, times: points.map((p) => p[0]), points, total, last: -2 });
  }
  FL.now = el("div", { cls: "wf-now", "aria-hidden": "true" });
  track.append(FL.now);
  box.append(track);
  buildPage();
}

function renderFiles() {
  if (!FL.now) return;
  FL.now.style.left = `calc(var(--label) + (100% - var(--label) - var(--amount)) * ${S.t / FL.span})`;
  for (const row of FL.rows) {
    const k = upper(row.times, S.t) - 1;
    if (k === row.last) continue;
    row.last = k;
    const got = k >= 0 ? row.points[k][1] : 0;
    const whole = row.points.length ? row.points[row.points.length - 1][1] : row.total;
    row.fillBar.style.width = whole ? (100 * got) / whole + "%" : "0";
    row.amount.textContent = row.points.length ? fill(word("file_progress", "{received}/{total}"), { received: num(got), total: num(whole) }) : "";
  }
}

/* The received document with nothing that could ask for anything: no script, no link, no
 * frame, no attribute that loads or navigates; images only as the data: URIs of the trace. */
function safePage(page) {
  const doc = new DOMParser().parseFromString(page.html, "text/html");
  const images = {};
  for (const image of page.images || []) images[image.url] = image.data;
  for (const node of doc.querySelectorAll("script,link,iframe,frame,object,embed,base,meta,video,audio,source,track,form,noscript")) node.remove();
  for (const node of doc.querySelectorAll("*")) {
    for (const attribute of Array.from(node.attributes)) {
      const name = attribute.name.toLowerCase();
      const value = attribute.value;
      if (name.startsWith("on") || name === "srcset" || name === "action" || name === "formaction" ||
          name === "ping" || name === "background" || name === "poster" || name === "href" || name === "xlink:href" ||
          (name === "style" && /url\s*\(/i.test(value))) {
        node.removeAttribute(attribute.name);
      } else if (name === "src") {
        let absolute = value;
        try { absolute = new URL(value, page.url).href; } catch (error) { absolute = value; }
        const data = images[absolute] || images[value];
        if (data && data.startsWith("data:")) node.setAttribute("src", data); else node.removeAttribute("src");
      }
    }
  }
  for (const style of doc.querySelectorAll("style")) style.textContent = style.textContent.replace(/url\s*\([^)]*\)|@[iI]mport[^;]*;/gi, "none");
  const policy = doc.createElement("meta");
  policy.setAttribute("http-equiv", "Content-Security-Policy");
  policy.setAttribute("content", "default-src 'none'; img-src data:; style-src 'unsafe-inline'");
  doc.head.prepend(policy);
  return "<!DOCTYPE html>" + doc.documentElement.outerHTML;
}

function buildPage() {
  const box = document.getElementById("page-box");
  box.replaceChildren();
  const page = S.data.page;
  if (!page || typeof page.html !== "string") {
    box.append(el("p", { cls: "note", text: word("no_page") }));
    return;
  }
  const frame = document.createElement("iframe");
  frame.setAttribute("sandbox", "");
  frame.setAttribute("referrerpolicy", "no-referrer");
  frame.setAttribute("title", word("views.page"));
  frame.srcdoc = safePage(page);
  box.append(frame);
}
