// The labeling and adjudication screens: keyboard first, over the REST API.
// Keys: 1–9 pick a label (toggle for multi, label the selection for spans), Enter submits,
// → / ← next and previous item (in span projects they move the token cursor; ] and [ move
// between items), Shift+→/← extends the selection, s skips, d saves a draft, Backspace clears,
// ? shows the shortcuts.
"use strict";

(() => {
  const root = document.getElementById("labeler");
  if (!root) return;
  const project = root.dataset.project;
  const mode = root.dataset.mode;
  const api = `/api/v1/labeling/projects/${encodeURIComponent(project)}`;
  const $ = (id) => document.getElementById(id);
  const token = document.querySelector('meta[name="csrf-token"]').content;

  let task = null;        // the item shown (a TaskView, or a Disagreement when adjudicating)
  let value = null;       // the answer being built
  let history = [];       // indices visited, for ←
  let ahead = [];         // indices left with ←, for → and after the next submit
  let tokens = [];        // [start, end] character offsets of the text's tokens (spans)
  let cursor = 0, anchor = null;
  let shownAt = performance.now();
  let adjudicateFrom = 0;

  async function call(method, path, body) {
    const res = await fetch(api + path, {
      method,
      headers: { "content-type": "application/json", "x-csrf-token": token },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status === 204) return null;
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error((data.error && data.error.message) || res.statusText);
    return data;
  }

  function status(text, isError) {
    const s = $("status");
    s.textContent = text;
    s.className = isError ? "error" : "hint";
  }

  function choices() {
    const sc = task.schema;
    switch (sc.kind) {
      case "rating": { const out = []; for (let v = sc.min; v <= sc.max; v++) out.push(String(v)); return out; }
      case "pairwise": return sc.allow_tie ? ["a", "b", "tie"] : ["a", "b"];
      case "ranking": return sc.fields;
      case "text": return [];
      default: return sc.labels;
    }
  }

  function chars(text) { return Array.from(text); }

  function tokenize(text) {
    const cs = chars(text), out = [];
    let start = -1;
    cs.forEach((c, i) => {
      if (/\s/.test(c)) { if (start >= 0) { out.push([start, i]); start = -1; } }
      else if (start < 0) start = i;
    });
    if (start >= 0) out.push([start, cs.length]);
    return out;
  }

  function renderText() {
    const box = $("item-text");
    box.textContent = "";
    const text = task.text;
    if (task.schema.kind !== "spans") { box.textContent = text; return; }
    const cs = chars(text);
    const spans = Array.isArray(value) ? value : [];
    const lo = anchor === null ? cursor : Math.min(anchor, cursor);
    const hi = anchor === null ? cursor : Math.max(anchor, cursor);
    let pos = 0;
    tokens.forEach(([a, b], i) => {
      if (a > pos) box.append(cs.slice(pos, a).join(""));
      const el = document.createElement("span");
      el.className = "tok";
      el.dataset.i = i;
      el.textContent = cs.slice(a, b).join("");
      if (i === cursor) el.classList.add("cursor");
      if (i >= lo && i <= hi && anchor !== null) el.classList.add("sel");
      const span = spans.find((s) => a >= s.start && b <= s.end);
      if (span) {
        el.classList.add("span");
        if (b === span.end) { const sup = document.createElement("sup"); sup.textContent = span.label; el.append(sup); }
      }
      box.append(el);
      pos = b;
    });
    if (pos < cs.length) box.append(cs.slice(pos).join(""));
  }

  function isOn(choice) {
    const kind = task.schema.kind;
    if (kind === "multi") return Array.isArray(value) && value.includes(choice);
    if (kind === "ranking") return Array.isArray(value) && value.includes(choice);
    if (kind === "rating") return value !== null && String(value) === choice;
    if (kind === "spans") return false;
    return value === choice;
  }

  function renderChoices() {
    const box = $("choices");
    box.textContent = "";
    const suggested = task.suggestion && task.suggestion.value;
    choices().forEach((c, i) => {
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.choice = c;
      const k = document.createElement("kbd");
      k.textContent = String(i + 1);
      b.append(k, c);
      if (task.schema.kind === "ranking" && Array.isArray(value) && value.includes(c)) b.append(` #${value.indexOf(c) + 1}`);
      if (isOn(c)) b.classList.add("on");
      if (suggested === c) { b.classList.add("suggested"); b.title = `${root.dataset.tSuggested} ${(task.suggestion.score * 100).toFixed(0)}%`; }
      b.addEventListener("click", () => pick(i));
      box.append(b);
    });
    const free = $("free-text");
    free.hidden = task.schema.kind !== "text";
  }

  function renderOthers() {
    const box = $("others");
    box.textContent = "";
    const list = mode === "adjudicate" ? task.answers : task.others || [];
    if (!list.length) return;
    const table = document.createElement("table");
    table.className = "narrow others";
    list.forEach((a, i) => {
      const tr = table.insertRow();
      tr.insertCell().textContent = mode === "adjudicate" ? String(i + 1) : "";
      tr.insertCell().textContent = a.annotator;
      tr.insertCell().textContent = JSON.stringify(a.value);
    });
    box.append(table);
  }

  function render() {
    root.dataset.index = task.index;
    $("position").textContent = root.dataset.tPosition.replace("{index}", task.index).replace("{done}", mode === "adjudicate" ? "—" : task.done_by_me);
    tokens = task.schema && task.schema.kind === "spans" ? tokenize(task.text) : [];
    cursor = 0; anchor = null;
    renderText();
    if (mode === "annotate") renderChoices(); else $("choices").textContent = "";
    renderOthers();
    if (task.schema && task.schema.kind === "text") $("free-text").value = typeof value === "string" ? value : task.text;
    shownAt = performance.now();
    $("item-text").focus();
  }

  function show(t) {
    task = t;
    value = t && t.mine && t.mine.value !== null && t.mine.status !== "reopened" ? t.mine.value : emptyValue();
    if (!t) return;
    render();
    status("");
  }

  function emptyValue() {
    if (!task) return null;
    return ["multi", "spans", "ranking"].includes(task.schema.kind) ? [] : null;
  }

  function done() {
    task = null;
    root.dataset.index = "";
    $("item-text").textContent = root.dataset.tDone;
    $("choices").textContent = "";
    $("others").textContent = "";
    status(root.dataset.tDone);
  }

  async function next(after) {
    try {
      const t = await call("POST", "/next" + (after === undefined ? "" : `?after=${after}`));
      if (!t) return done();
      show(t);
    } catch (e) { status(e.message, true); }
  }

  async function open(index) {
    try { show(await call("GET", `/items/${index}`)); } catch (e) { status(e.message, true); }
  }

  function pick(i) {
    if (!task) return;
    const c = choices()[i];
    if (c === undefined) return;
    const kind = task.schema.kind;
    if (kind === "multi") value = value.includes(c) ? value.filter((x) => x !== c) : value.concat([c]);
    else if (kind === "ranking") value = value.includes(c) ? value.filter((x) => x !== c) : value.concat([c]);
    else if (kind === "rating") value = Number(c);
    else if (kind === "spans") labelSelection(c);
    else value = c;
    renderChoices();
    renderText();
  }

  function labelSelection(label) {
    const lo = anchor === null ? cursor : Math.min(anchor, cursor);
    const hi = anchor === null ? cursor : Math.max(anchor, cursor);
    if (!tokens.length) return;
    const start = tokens[lo][0], end = tokens[hi][1];
    value = value.filter((s) => s.end <= start || s.start >= end).concat([{ start, end, label }]);
    value.sort((a, b) => a.start - b.start);
    anchor = null;
  }

  async function save(statusName) {
    if (!task) return;
    let v = value;
    if (task.schema.kind === "text") v = $("free-text").value;
    if (statusName === "submitted" && (v === null || (Array.isArray(v) && !v.length && task.schema.kind !== "spans" && task.schema.kind !== "multi"))) {
      return status("pick a label first", true);
    }
    const seconds = (performance.now() - shownAt) / 1000;
    const body = { status: statusName, seconds, schema_version: task.schema_version };
    if (statusName !== "skipped") body.value = v;
    try {
      await call("PUT", `/items/${task.index}/answer`, body);
      if (statusName === "draft") return status(root.dataset.tSaved);
      history.push(task.index);
      if (ahead.length) await open(ahead.pop()); else await next();
    } catch (e) { status(e.message, true); }
  }

  async function resolve() {
    if (!task) return;
    const box = $("reason");
    const reason = box.value.trim();
    if (value === null) return status("pick an answer with its number first", true);
    if (!reason) { box.focus(); return status("a resolution needs a reason", true); }
    try {
      await call("PUT", `/items/${task.index}/resolution`, { value, reason });
      box.value = "";
      adjudicateFrom = task.index + 1;
      await nextDisagreement();
    } catch (e) { status(e.message, true); }
  }

  async function nextDisagreement() {
    try {
      const list = await call("GET", `/disagreements?from=${adjudicateFrom}&limit=1`);
      if (!list.length) return done();
      const p = await call("GET", "");
      task = Object.assign(list[0], { schema: p.schema, schema_version: p.schema_version });
      value = task.resolution ? task.resolution.value : null;
      render();
    } catch (e) { status(e.message, true); }
  }

  function moveCursor(delta, extend) {
    if (!tokens.length) return;
    if (extend && anchor === null) anchor = cursor;
    if (!extend) anchor = null;
    cursor = Math.max(0, Math.min(tokens.length - 1, cursor + delta));
    renderText();
  }

  // Mouse selection over the text snaps to whole tokens.
  $("item-text").addEventListener("mouseup", () => {
    if (!task || task.schema.kind !== "spans") return;
    const sel = window.getSelection();
    if (!sel || sel.isCollapsed) return;
    const tokOf = (node) => {
      const el = node.nodeType === 1 ? node : node.parentElement;
      const t = el && el.closest(".tok");
      return t ? Number(t.dataset.i) : null;
    };
    const a = tokOf(sel.anchorNode), b = tokOf(sel.focusNode);
    if (a === null || b === null) return;
    anchor = a; cursor = b;
    sel.removeAllRanges();
    renderText();
  });

  document.addEventListener("keydown", (ev) => {
    const inField = ev.target instanceof HTMLTextAreaElement || ev.target instanceof HTMLInputElement;
    // In the reason box Enter resolves; in the corrected text Ctrl+Enter submits.
    const resolving = mode === "adjudicate" && ev.target.id === "reason" && ev.key === "Enter";
    if (inField && !resolving && !(ev.key === "Enter" && (ev.ctrlKey || ev.metaKey))) return;
    if (ev.key === "?") { $("help").hidden = !$("help").hidden; ev.preventDefault(); return; }
    if (ev.key === "Escape") { $("help").hidden = true; return; }
    if (!task) return;
    const spans = task.schema && task.schema.kind === "spans";
    if (/^[1-9]$/.test(ev.key) && !ev.ctrlKey && !ev.altKey && !ev.metaKey) {
      const i = Number(ev.key) - 1;
      if (mode === "adjudicate") {
        const a = task.answers[i];
        if (a) { value = a.value; status(`${a.annotator}: ${JSON.stringify(a.value)}`); $("reason").focus(); }
      } else pick(i);
      ev.preventDefault();
    } else if (ev.key === "Enter") {
      ev.preventDefault();
      if (mode === "adjudicate") resolve(); else save("submitted");
    } else if (ev.key === "ArrowRight" && spans && mode === "annotate") { moveCursor(1, ev.shiftKey); ev.preventDefault(); }
    else if (ev.key === "ArrowLeft" && spans && mode === "annotate") { moveCursor(-1, ev.shiftKey); ev.preventDefault(); }
    else if (ev.key === "ArrowRight" || ev.key === "]") {
      ev.preventDefault();
      if (mode === "adjudicate") { adjudicateFrom = task.index + 1; nextDisagreement(); }
      else if (ahead.length) { history.push(task.index); open(ahead.pop()); }
      else { history.push(task.index); next(task.index); }
    } else if (ev.key === "ArrowLeft" || ev.key === "[") {
      ev.preventDefault();
      if (mode === "annotate" && history.length) { ahead.push(task.index); open(history.pop()); }
    } else if (ev.key === "s" && mode === "annotate") { ev.preventDefault(); save("skipped"); }
    else if (ev.key === "d" && mode === "annotate") { ev.preventDefault(); save("draft"); }
    else if (ev.key === "Backspace" && mode === "annotate") {
      ev.preventDefault();
      if (spans && value.length) {
        const [a, b] = tokens[cursor] || [0, 0];
        const under = value.findIndex((s) => a >= s.start && b <= s.end);
        value = under >= 0 ? value.filter((_, i) => i !== under) : value.slice(0, -1);
      } else value = emptyValue();
      renderChoices();
      renderText();
    }
  });

  if (mode === "adjudicate") nextDisagreement(); else next();
})();
