// The reviewing screen: one keystroke per decision, over the REST API.
// Keys: a approves, 1–9 reject with the queue's reason code of that number, e edits the output
// (Ctrl+Enter saves the edit with the chosen reason, Esc cancels), s skips, ? shows the
// shortcuts. The next item is fetched as soon as a decision is stored.
"use strict";

(() => {
  const root = document.getElementById("reviewer");
  if (!root) return;
  const queue = root.dataset.queue;
  const codes = root.dataset.codes.split(",").filter((c) => c);
  const $ = (id) => document.getElementById(id);
  const token = document.querySelector('meta[name="csrf-token"]').content;

  let item = null;      // the ItemView shown
  let shownAt = performance.now();
  let busy = false;
  let decided = 0;

  async function call(method, path, body) {
    const res = await fetch("/api/v1/review" + path, {
      method,
      headers: { "content-type": "application/json", "x-csrf-token": token },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status === 204) return null;
    const data = await res.json().catch(() => ({}));
    if (!res.ok) {
      const err = new Error((data.error && data.error.message) || res.statusText);
      err.status = res.status;
      throw err;
    }
    return data;
  }

  function status(text, isError) {
    const s = $("status");
    s.textContent = text;
    s.className = isError ? "error" : "hint";
  }

  // What a person reads: a string as it is, anything else as pretty JSON.
  const show = (v) => (typeof v === "string" ? v : JSON.stringify(v, null, 2));

  function render() {
    const empty = !item;
    root.dataset.item = empty ? "" : item.id;
    $("actions").hidden = empty;
    closeEditor();
    if (empty) {
      $("item-input").textContent = "";
      $("item-output").textContent = root.dataset.tDone;
      $("item-meta").textContent = "";
      $("position").textContent = decided ? `(${decided})` : "";
      return;
    }
    $("item-input").textContent = show(item.input);
    $("item-output").textContent = show(item.output);
    const meta = [];
    if (item.model) meta.push(item.model);
    if (item.confidence !== null && item.confidence !== undefined) {
      meta.push(`${root.dataset.tConfidence} ${item.confidence.toFixed(3)}`);
    }
    if (item.gated) meta.push(`gated${item.deadline ? " · " + item.deadline : ""}`);
    $("item-meta").textContent = meta.join(" · ");
    $("position").textContent = decided ? `(${decided})` : "";
    $("item-output").focus();
    shownAt = performance.now();
  }

  async function next() {
    try {
      item = await call("POST", `/queues/${encodeURIComponent(queue)}/next`);
      render();
    } catch (e) {
      status(e.message, true);
    }
  }

  async function decide(body) {
    if (!item || busy) return;
    busy = true;
    body.seconds = (performance.now() - shownAt) / 1000;
    try {
      const out = await call("PUT", `/items/${encodeURIComponent(item.id)}/decision`, body);
      decided += 1;
      const settled = out.item.status !== "pending" ? ` · ${root.dataset.tSettled} ${out.item.status}` : "";
      status(`${body.action}${body.reason ? " (" + body.reason + ")" : ""}${settled}`);
      await next();
    } catch (e) {
      status(e.message, true);
      // Settled by someone else (or by the SLA) meanwhile: move on.
      if (e.status === 409) await next();
    } finally {
      busy = false;
    }
  }

  function openEditor() {
    if (!item) return;
    $("editor").hidden = false;
    $("edited").value = show(item.output);
    $("edited").focus();
  }

  function closeEditor() {
    $("editor").hidden = true;
  }

  function saveEdit() {
    const text = $("edited").value;
    let output = text;
    if (typeof item.output !== "string") {
      try {
        output = JSON.parse(text);
      } catch (e) {
        status(`JSON: ${e.message}`, true);
        return;
      }
    }
    decide({ action: "edit", output, reason: $("edit-reason").value });
  }

  document.addEventListener("keydown", (ev) => {
    const inEditor = ev.target.id === "edited" || ev.target.id === "edit-reason";
    if (inEditor) {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); saveEdit(); }
      else if (ev.key === "Escape") { ev.preventDefault(); closeEditor(); $("item-output").focus(); }
      return;
    }
    if (ev.target instanceof HTMLInputElement || ev.target instanceof HTMLTextAreaElement) return;
    if (ev.ctrlKey || ev.altKey || ev.metaKey) return;
    if (ev.key === "?") { $("help").hidden = !$("help").hidden; ev.preventDefault(); return; }
    if (ev.key === "Escape") { $("help").hidden = true; return; }
    if (!item) return;
    if (ev.key === "a") { ev.preventDefault(); decide({ action: "approve" }); }
    else if (ev.key === "e") { ev.preventDefault(); openEditor(); }
    else if (ev.key === "s") { ev.preventDefault(); decide({ action: "skip" }); }
    else if (/^[1-9]$/.test(ev.key)) {
      const code = codes[Number(ev.key) - 1];
      if (code) { ev.preventDefault(); decide({ action: "reject", reason: code }); }
    }
  });

  // The buttons do what their keys do, for the mouse.
  $("actions").addEventListener("click", (ev) => {
    const b = ev.target.closest("button");
    if (!b) return;
    const key = b.dataset.key;
    if (key === "a") decide({ action: "approve" });
    else if (key === "e") openEditor();
    else if (key === "s") decide({ action: "skip" });
    else if (codes[Number(key) - 1]) decide({ action: "reject", reason: codes[Number(key) - 1] });
  });

  // Let go of the held item when the screen closes, so others need not wait for it to lapse.
  window.addEventListener("pagehide", () => {
    fetch(`/api/v1/review/queues/${encodeURIComponent(queue)}/release`, {
      method: "POST", keepalive: true, headers: { "x-csrf-token": token },
    });
  });

  next();
})();
