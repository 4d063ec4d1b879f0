/* 5. The story: the narration in four steps, the sentence of the moment highlighted;
 * a click on a sentence moves the timeline to the moment it tells. */

const ST = { sentences: [], times: [], current: [] };

function buildStory() {
  const box = document.getElementById("story");
  box.replaceChildren();
  ST.sentences = []; ST.current = [];
  for (const part of S.data.story || []) {
    const p = el("p", {});
    for (const sentence of part.sentences || []) {
      const t = typeof sentence.t === "number" ? sentence.t : null;
      const button = el("button", { type: "button", cls: "sentence", text: tr(sentence.text),
        onclick: () => {
          pause();
          if (typeof sentence.event === "number") goEvent(sentence.event); else if (t !== null) go(t);
        } });
      if (t !== null) ST.sentences.push({ t, button });
      p.append(button, " ");
    }
    box.append(el("section", { cls: "story-step", "data-step": part.step },
      el("h3", { text: tr(part.heading) }), p));
  }
  ST.sentences.sort((a, b) => a.t - b.t);
  ST.times = ST.sentences.map((s) => s.t);
}

function renderStory() {
  const k = upper(ST.times, S.t + 1e-9) - 1;
  const now = [];
  if (k >= 0) for (let j = k; j >= 0 && ST.times[j] === ST.times[k]; j--) now.push(ST.sentences[j].button);
  if (now.length === ST.current.length && now.every((b, j) => b === ST.current[j])) return;
  for (const b of ST.current) { b.classList.remove("now"); b.removeAttribute("aria-current"); }
  for (const b of now) { b.classList.add("now"); b.setAttribute("aria-current", "true"); }
  ST.current = now;
  if (!now.length) return;
  later("story", () => {
    const box = document.getElementById("story");
    if (box.scrollHeight <= box.clientHeight) return;
    const top = now[now.length - 1].offsetTop - box.offsetTop;
    if (top < box.scrollTop || top > box.scrollTop + box.clientHeight - 30) box.scrollTop = Math.max(0, top - 40);
  });
}
