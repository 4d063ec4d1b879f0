/* 5. The story: the narration in four steps, the sentence of the moment highlighted;
 * a click on a sentence moves the timeline to the moment it tells. */

const ST = { sentences: [], times: [], current: [], tops: null, top: 0, height: 0, scrollHeight: 0 };

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
  ST.tops = null; ST.top = 0; box.scrollTop = 0;
  box.onscroll = () => { ST.top = box.scrollTop; };
  watchSize(box, (height) => { ST.height = height; ST.tops = null; });
}

/* Where each sentence is in the box: measured once (and again when the box's size
 * changes), so that following the story while the timeline moves reads no layout. */
function storyTops(box) {
  if (!ST.tops) {
    const origin = box.offsetTop;
    ST.tops = ST.sentences.map((s) => s.button.offsetTop - origin);
    ST.scrollHeight = box.scrollHeight;
  }
  return ST.tops;
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
    const tops = storyTops(box), height = ST.height || 0;
    if (ST.scrollHeight <= height) return;
    const top = tops[k - now.length + 1];  /* the first of the sentences told now */
    if (top < ST.top || top > ST.top + height - 30) { ST.top = Math.max(0, top - 40); box.scrollTop = ST.top; }
  });
}
