/* webtrip ui --classroom: the teacher leads, the students' screens follow.
 *
 * One file for both pages. At /teacher?key=SECRET the replay app is the teacher's: every
 * position it shows (webtrip.on("change")) and every language switch is sent to the server
 * (POST, the key in the X-Webtrip-Key header, at most ten positions a second, the newest
 * winning), and #controls holds the join code, how many students follow, the questions and
 * the live distribution of answers. At / a student types the join code (POST
 * /api/class/join), then follows the class's server-sent events: the run's data once
 * (gzip, base64), each position (webtrip.seek), the language (webtrip.language) and the
 * question open, answered with a tap (POST /api/class/answer). Every word comes from the
 * server's catalog; none is written here.
 */
"use strict";
(function () {
  const teacher = location.pathname === "/teacher";
  const query = new URLSearchParams(location.search);
  const key = teacher ? query.get("key") || "" : "";
  const room = {
    words: null, lang: document.documentElement.lang === "es" ? "es" : "en",
    student: null, questions: [], question: null, counts: {}, answered: 0, students: 0,
    loaded: false, t: 0, i: -1, target: 0, targetI: null, seq: 0, applying: false, given: null, sent: -1, sending: false,
  };
  window.webtripClass = room;

  function w(name) { return (room.words && room.words[room.lang][name]) || ""; }
  function both(value) { return value ? value[room.lang] || value.en || "" : ""; }
  // An option as a student reads it: a prediction's packet kind in words, else itself.
  function label(question, answer) {
    const words = question && question.labels ? question.labels[answer] : null;
    return words ? both(words) : String(answer);
  }
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (v === null || v === undefined || v === false) return;
      if (k === "text") node.textContent = v;
      else if (k === "onclick") node.addEventListener("click", v);
      else node.setAttribute(k, v === true ? "" : v);
    });
    (children || []).forEach((c) => node.appendChild(c));
    return node;
  }
  async function post(path, body) {
    const headers = { "content-type": "application/json" };
    if (teacher) headers["x-webtrip-key"] = key;
    const response = await fetch(path + "?lang=" + room.lang, { method: "POST", headers, body: JSON.stringify(body) });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(answer.error || String(response.status));
    return answer;
  }
  function say(text, bad) {
    const line = document.getElementById("class-status");
    if (!line) return;
    line.textContent = text || "";
    line.classList.toggle("bad", Boolean(bad));
  }
  async function unpack(text) {
    const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).json();
  }

  // --- the panel (#controls) --------------------------------------------------------------------

  function panel() {
    const box = document.getElementById("controls");
    box.textContent = "";
    box.appendChild(el("section", { id: "class", "aria-labelledby": "class-title" }, [
      el("h2", { id: "class-title", text: w("class") }),
      el("p", { id: "class-status", role: "status", "aria-live": "polite" }),
      el("div", { id: "class-body" }),
    ]));
    draw();
  }

  function draw() {
    const body = document.getElementById("class-body");
    if (!body) return;
    body.textContent = "";
    if (teacher) drawTeacher(body); else drawStudent(body);
  }

  function bars(question) {
    const total = Math.max(1, room.answered);
    const rows = Object.entries(room.counts).map(([answer, count]) => {
      const right = question.revealed ? String(question.right) : null;  // the projector shows it only then
      const share = Math.round((100 * count) / total);
      return el("li", { class: "class-bar" + (right !== null && right === answer ? " right" : ""),
        "data-answer": answer, "data-count": String(count) }, [
        el("span", { class: "class-option", text: label(question, answer) }),
        el("span", { class: "class-meter", "aria-hidden": "true" }, [el("span", { style: "width:" + share + "%" })]),
        el("span", { class: "class-count", text: String(count) }),
      ]);
    });
    return el("ul", { id: "class-bars", class: "class-bars" }, rows);
  }

  function drawTeacher(body) {
    body.appendChild(el("p", { id: "class-code", class: "class-code", text: w("code_is").replace("{code}", room.code || "") }));
    body.appendChild(el("p", { id: "class-students", text: w("students").replace("{count}", String(room.students)) }));
    if (!room.questions.length) { body.appendChild(el("p", { class: "class-note", text: w("none") })); return; }
    const open = room.question;
    const list = el("ol", { class: "class-questions", "aria-label": w("questions") }, room.questions.map((q) => {
      const isOpen = open && open.id === q.id;
      const item = el("li", { "data-question": q.id, class: isOpen ? "open" : null }, [
        el("span", { class: "class-q-text", text: both(q.text) }),
        el("button", { type: "button", class: "class-ask", "data-question": q.id, "aria-pressed": isOpen ? "true" : "false",
          text: isOpen ? w("close") : w("open"), onclick: () => ask(isOpen ? null : q) }),
      ]);
      if (isOpen) {
        item.appendChild(el("p", { id: "class-answered", text: w("answered").replace("{answered}", String(room.answered)).replace("{students}", String(room.students)) }));
        item.appendChild(bars(Object.assign({}, q, { revealed: open.revealed })));
        if (!open.revealed) item.appendChild(el("button", { type: "button", id: "class-reveal", text: w("reveal"), onclick: reveal }));
        else item.appendChild(el("p", { class: "class-right", text: w("right").replace("{answer}", label(q, q.right)) }));
      }
      return item;
    }));
    body.appendChild(list);
  }

  async function ask(question) {
    try {
      if (question && question.pause_at !== null && question.pause_at !== undefined) window.webtrip.seek(question.pause_at);
      await post("/api/class/question", { id: question ? question.id : null });
      say(question && question.pause_at !== null && question.pause_at !== undefined ? w("pause") : "");
    } catch (error) { say(error.message, true); }
  }
  async function reveal() {
    try { await post("/api/class/question", { reveal: true }); } catch (error) { say(error.message, true); }
  }

  function drawStudent(body) {
    if (!room.student) {
      const input = el("input", { id: "class-join-code", type: "text", inputmode: "numeric", autocomplete: "off", maxlength: "12", value: query.get("code") || "" });
      const form = el("form", { id: "class-join", class: "class-join" }, [
        el("label", { for: "class-join-code", text: w("join.code") }), input,
        el("button", { type: "submit", id: "class-join-button", text: w("join.button") }),
        el("p", { class: "class-note", text: w("join.help") }),
      ]);
      form.addEventListener("submit", (e) => { e.preventDefault(); join(input.value); });
      body.appendChild(form);
      return;
    }
    const q = room.question;
    if (!q) { body.appendChild(el("p", { class: "class-note", text: room.loaded ? w("following") : w("waiting") })); return; }
    const box = el("div", { id: "class-question", "data-question": q.id }, [
      el("h3", { text: w("question") }), el("p", { class: "class-q-text", text: both(q.text) })]);
    if (q.revealed) {
      box.appendChild(el("p", { class: "class-right", text: w("right").replace("{answer}", label(q, q.right)) }));
      if (q.counts) { room.counts = q.counts; room.answered = Object.values(q.counts).reduce((a, b) => a + b, 0); box.appendChild(bars(q)); }
    } else if (q.options.length) {
      box.appendChild(el("div", { class: "class-options", role: "group", "aria-label": w("answer") }, q.options.map((option) =>
        el("button", { type: "button", class: "class-option-button", "data-answer": option, "aria-pressed": room.given === option ? "true" : "false",
          text: label(q, option), onclick: () => give(q, option) }))));
    } else {
      const input = el("input", { id: "class-number", type: "text", inputmode: "decimal", autocomplete: "off", maxlength: "20" });
      const form = el("form", { class: "class-join" }, [el("label", { for: "class-number", text: w("number") }), input,
        el("button", { type: "submit", text: w("answer") })]);
      form.addEventListener("submit", (e) => { e.preventDefault(); give(q, input.value); });
      box.appendChild(form);
    }
    if (room.given !== null && !q.revealed) box.appendChild(el("p", { class: "class-note", text: w("your_answer").replace("{answer}", label(q, room.given)) }));
    body.appendChild(box);
  }

  async function join(code) {
    try {
      room.student = (await post("/api/class/join", { code: code.trim() })).student;
      sessionStorage.setItem("webtrip-student", room.student);
      draw();
      follow();
    } catch (error) { say(error.message, true); }
  }
  async function give(question, answer) {
    try {
      await post("/api/class/answer", { student: room.student, question: question.id, answer });
      room.given = String(answer);
      document.body.dataset.answered = question.id;
      say(w("sent"));
      draw();
    } catch (error) { say(error.message, true); }
  }

  // --- the teacher's timeline, sent --------------------------------------------------------------

  function sendPosition() {
    const at = room.t + ":" + room.i;
    if (room.sending || room.applying || !room.loaded || at === room.sent) return;
    room.sending = true;
    post("/api/class/position", { t: room.t, i: room.i }).then(() => { room.sent = at; }, (error) => say(error.message, true))
      .finally(() => { setTimeout(() => { room.sending = false; sendPosition(); }, 100); });
  }

  // --- following the class ---------------------------------------------------------------------

  let source = null;
  function follow() {
    if (source) source.close();
    const url = "/api/class/events?" + (teacher ? "key=" + encodeURIComponent(key) : "student=" + encodeURIComponent(room.student));
    source = new EventSource(url);
    const on = (kind, fn) => source.addEventListener(kind, (e) => fn(e.data));
    on("hello", (text) => {
      const hello = JSON.parse(text);
      room.words = hello.words; room.questions = hello.questions || []; room.code = hello.code;
      panel(); say("");
    });
    on("data", async (text) => {
      const data = await unpack(text);
      room.applying = true;
      window.webtrip.load(data);
      room.loaded = true;
      window.webtrip.seek(room.target, room.targetI);
      room.applying = false;
      room.sent = room.t + ":" + room.i;
      document.body.dataset.loaded = "1";
      draw();
    });
    on("position", (text) => {
      const p = JSON.parse(text);
      room.seq = p.seq;
      document.body.dataset.seq = String(p.seq);
      if (teacher && room.loaded) return;  // the teacher's own page is where positions come from
      room.target = p.t; room.targetI = p.i;
      if (room.loaded) { room.applying = true; window.webtrip.seek(p.t, p.i); room.applying = false; }
    });
    on("language", (text) => {
      const lang = JSON.parse(text).lang;
      if (lang === room.lang) return;
      room.applying = true; window.webtrip.language(lang); room.applying = false;
    });
    on("question", (text) => {
      const q = JSON.parse(text);
      if (!q || !room.question || room.question.id !== q.id) room.given = null;
      room.question = q;
      if (!teacher && q && !q.revealed) { room.counts = {}; room.answered = 0; }
      document.body.dataset.question = q ? q.id + (q.revealed ? ":revealed" : "") : "";
      draw();
    });
    on("students", (text) => { room.students = JSON.parse(text).students; draw(); });
    on("answers", (text) => {
      const a = JSON.parse(text);
      room.counts = a.counts; room.answered = a.answered; room.students = a.students;
      document.body.dataset.answeredCount = String(a.answered);
      draw();
    });
    source.addEventListener("open", () => say(""));
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED && !teacher) {  // refused: join again
        sessionStorage.removeItem("webtrip-student");
        room.student = null;
        draw();
      }
      say(w("lost"), true);
    });
  }

  async function start() {
    window.webtrip.on("change", (state) => {
      room.t = state.t; room.i = state.i;
      document.body.dataset.t = String(state.t);
      document.body.dataset.i = String(state.i);
      if (teacher) sendPosition();
    });
    window.webtrip.on("language", (lang) => {
      room.lang = lang;
      draw();
      const title = document.getElementById("class-title");
      if (title) title.textContent = w("class");
      if (teacher && !room.applying) post("/api/class/language", { lang }).catch((error) => say(error.message, true));
    });
    if (!teacher) {
      const response = await fetch("/api/class/words");
      room.words = await response.json();
      room.student = sessionStorage.getItem("webtrip-student");
      panel();
    }
    document.body.dataset.role = teacher ? "teacher" : "student";
    document.body.dataset.ready = "1";
    if (teacher || room.student) follow();
  }
  start();
})();
