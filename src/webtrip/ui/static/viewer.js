/* A plain viewer with the replay app's public API, served by `webtrip ui` only when the
   replay app (report/app) is not installed: window.webtrip = {load, on, seek, language}.
   It shows the run's final sentence and its story, so the run form can be used alone. */
"use strict";
(function () {
  const state = { data: null, lang: document.documentElement.dataset.language || "en", listeners: {} };
  function text(value) { return value && typeof value === "object" ? (value[state.lang] || value.en || "") : String(value || ""); }
  function emit(name, value) { (state.listeners[name] || []).forEach((fn) => fn(value)); }
  function draw() {
    const box = document.getElementById("story");
    box.textContent = "";
    if (!state.data) return;
    const final = document.createElement("p");
    final.className = "final";
    final.textContent = text(state.data.run && state.data.run.final);
    box.appendChild(final);
    (state.data.story || []).forEach((part) => {
      const h = document.createElement("h2");
      h.textContent = text(part.heading);
      box.appendChild(h);
      (part.sentences || []).forEach((s) => {
        const p = document.createElement("p");
        p.textContent = text(s.text);
        box.appendChild(p);
      });
    });
  }
  function language(code) {
    state.lang = code === "es" ? "es" : "en";
    document.documentElement.lang = state.lang;
    document.documentElement.dataset.language = state.lang;
    document.getElementById("language").value = state.lang;
    document.getElementById("language-label").textContent = state.lang === "es" ? "Idioma" : "Language";
    draw();
    emit("language", state.lang);
  }
  window.webtrip = {
    load(data) { state.data = data; draw(); emit("load", data); },
    on(name, fn) { (state.listeners[name] = state.listeners[name] || []).push(fn); },
    seek(t) { emit("seek", Number(t)); },
    language,
  };
  document.getElementById("language").addEventListener("change", (e) => language(e.target.value));
  language(state.lang);
})();
