// Juru's small page scripts: dataset import with progress, live job lists, the back link of
// the language switch. No framework, no build step.
"use strict";

function csrf() {
  const m = document.querySelector('meta[name="csrf-token"]');
  return m ? m.content : "";
}

document.addEventListener("DOMContentLoaded", () => {
  // The language switch returns to the page it was used on.
  for (const input of document.querySelectorAll("input.back-here")) {
    input.value = location.pathname + location.search;
  }

  const form = document.getElementById("import-form");
  if (form) {
    const file = document.getElementById("import-file");
    const name = document.getElementById("import-name");
    file.addEventListener("change", () => {
      if (!name.value && file.files[0]) name.value = file.files[0].name.replace(/\.[^.]+$/, "");
    });
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      importFile(form, file.files[0], name.value, document.getElementById("import-description").value);
    });
  }

  const jobs = document.getElementById("jobs");
  if (jobs && jobs.dataset.refresh) setTimeout(() => location.reload(), Number(jobs.dataset.refresh));
  for (const b of document.querySelectorAll("button.job-cancel")) {
    b.addEventListener("click", async () => {
      await fetch(`/api/v1/jobs/${b.dataset.job}/cancel`, { method: "POST", headers: { "X-CSRF-Token": csrf() } });
      location.reload();
    });
  }
});

function importFile(form, file, name, description) {
  const status = document.getElementById("import-status");
  const bar = document.getElementById("import-progress");
  const msg = document.getElementById("import-message");
  const errors = document.getElementById("import-errors");
  const submit = document.getElementById("import-submit");
  status.hidden = false;
  errors.replaceChildren();
  submit.disabled = true;
  msg.textContent = form.dataset.uploading;
  const ext = file.name.toLowerCase().endsWith(".csv") ? "csv" : "jsonl";
  const params = new URLSearchParams({ name, description, filename: file.name, format: ext, wait: "false" });
  const xhr = new XMLHttpRequest();
  xhr.open("POST", `/api/v1/datasets/import?${params}`);
  xhr.setRequestHeader("X-CSRF-Token", csrf());
  xhr.setRequestHeader("Content-Type", ext === "csv" ? "text/csv" : "application/x-ndjson");
  // The upload is the first fifth of the bar, the import job the rest.
  xhr.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = (e.loaded / e.total) * 20; };
  xhr.onload = () => {
    let body = {};
    try { body = JSON.parse(xhr.responseText); } catch (_) {}
    if (xhr.status === 202) { msg.textContent = form.dataset.checking; pollJob(body.id, form, name); }
    else fail(form, body);
  };
  xhr.onerror = () => fail(form, { error: { message: "network error" } });
  xhr.send(file);
}

async function pollJob(id, form, name) {
  const bar = document.getElementById("import-progress");
  const msg = document.getElementById("import-message");
  for (;;) {
    const res = await fetch(`/api/v1/jobs/${id}`);
    const job = await res.json();
    bar.value = 20 + job.progress * 80;
    if (job.message) msg.textContent = `${form.dataset.checking} ${job.message}`;
    if (job.status === "succeeded") {
      msg.textContent = form.dataset.done;
      location.href = `/datasets/${encodeURIComponent(name)}`;
      return;
    }
    if (job.status === "failed" || job.status === "cancelled") {
      fail(form, { error: { message: job.error || job.status } });
      return;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}

function fail(form, body) {
  const msg = document.getElementById("import-message");
  const errors = document.getElementById("import-errors");
  document.getElementById("import-submit").disabled = false;
  const err = body.error || {};
  msg.textContent = `${form.dataset.failed}: ${err.message || ""}`;
  msg.className = "error";
  for (const row of err.rows || []) {
    const li = document.createElement("li");
    li.textContent = `line ${row.line}: ${row.reason}`;
    errors.append(li);
  }
}

// The chat playground on a local LLM's page: streams replies from the OpenAI-compatible
// endpoint (server-sent events over fetch), with the session's CSRF token.
document.addEventListener("DOMContentLoaded", () => {
  const panel = document.getElementById("chat");
  if (!panel) return;
  const log = document.getElementById("chat-log");
  const input = document.getElementById("chat-input");
  const history = [];
  const bubble = (role, text) => {
    const div = document.createElement("div");
    div.className = `msg ${role}`;
    div.textContent = text;
    log.append(div);
    log.scrollTop = log.scrollHeight;
    return div;
  };
  document.getElementById("chat-clear").addEventListener("click", () => { history.length = 0; log.replaceChildren(); });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); document.getElementById("chat-form").requestSubmit(); }
  });
  document.getElementById("chat-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    history.push({ role: "user", content: text });
    bubble("user", text);
    const reply = bubble("assistant", "");
    const system = document.getElementById("chat-system").value.trim();
    const messages = system ? [{ role: "system", content: system }, ...history] : [...history];
    const send = document.getElementById("chat-send");
    send.disabled = true;
    try {
      const res = await fetch("/v1/chat/completions", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
        body: JSON.stringify({
          model: panel.dataset.model, messages, stream: true,
          temperature: Number(document.getElementById("chat-temperature").value),
          max_tokens: Number(document.getElementById("chat-max-tokens").value),
        }),
      });
      if (!res.ok) {
        const body = await res.json().catch(() => ({}));
        reply.textContent = (body.error && body.error.message) || res.statusText;
        reply.classList.add("error");
        return;
      }
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      let usage = null;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const event = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const data = event.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("");
          if (!data || data === "[DONE]") continue;
          const chunk = JSON.parse(data);
          if (chunk.error) { reply.textContent += ` [${chunk.error.message}]`; continue; }
          const delta = chunk.choices && chunk.choices[0].delta;
          if (delta && delta.content) reply.textContent += delta.content;
          if (chunk.usage) usage = chunk.usage;
          log.scrollTop = log.scrollHeight;
        }
      }
      history.push({ role: "assistant", content: reply.textContent });
      if (usage) {
        const s = document.createElement("div");
        s.className = "stats";
        s.textContent = panel.dataset.stats.replace("{tokens}", usage.completion_tokens);
        log.append(s);
      }
    } finally {
      send.disabled = false;
      input.focus();
    }
  });
});
