// Prompt desk: the playground (render strictly, then stream each chosen model's answer side by
// side; save as a new version or as a test case) and a run page that follows its progress.
(() => {
  "use strict";

  const csrf = () => document.querySelector("[data-csrf]")?.dataset.csrf
    || document.querySelector("input[name=csrf]")?.value || "";

  async function api(method, path, body) {
    const res = await fetch(path, {
      method,
      headers: { "content-type": "application/json", "x-csrf-token": csrf() },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = text; }
    if (!res.ok) throw new Error(data?.error?.message || `${res.status} ${text}`);
    return data;
  }

  // --- Playground -------------------------------------------------------------------------
  const play = document.getElementById("playground");
  if (play) {
    const name = play.dataset.prompt;
    const form = document.getElementById("play-form");
    const outputs = document.getElementById("play-outputs");
    const error = document.getElementById("play-error");
    const saved = document.getElementById("play-saved");
    let last = { vars: null, outputs: {} };

    const variables = () => {
      const vars = {};
      for (const el of form.querySelectorAll("[data-var]")) {
        const v = el.value;
        if (v === "") continue;
        if (el.dataset.type === "string") vars[el.dataset.var] = v;
        else {
          try { vars[el.dataset.var] = JSON.parse(v); }
          catch (_) { throw new Error(`${el.dataset.var}: not JSON (${el.dataset.type} expected)`); }
        }
      }
      return vars;
    };

    // Streams one model's answer into its column; resolves with the full text.
    async function stream(model, rendered, config) {
      const col = document.createElement("div");
      col.className = "column";
      col.innerHTML = `<h3></h3><pre class="output"></pre><p class="muted"></p>`;
      col.querySelector("h3").textContent = model;
      outputs.appendChild(col);
      const out = col.querySelector("pre"), meta = col.querySelector("p");
      const chat = Array.isArray(rendered);
      const body = { model, stream: true, max_tokens: config.max_tokens || 256 };
      if (config.temperature !== undefined) body.temperature = config.temperature;
      if (config.top_p !== undefined) body.top_p = config.top_p;
      if (config.stop) body.stop = config.stop;
      if (chat) body.messages = rendered; else body.prompt = rendered;
      const started = performance.now();
      const res = await fetch(chat ? "/v1/chat/completions" : "/v1/completions", {
        method: "POST",
        headers: { "content-type": "application/json", "x-csrf-token": csrf() },
        body: JSON.stringify(body),
      });
      if (!res.ok) {
        const e = await res.json().catch(() => ({}));
        out.textContent = "";
        meta.textContent = e?.error?.message || `${res.status}`;
        meta.className = "error";
        return "";
      }
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "", text = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let nl;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, nl).trim();
          buffer = buffer.slice(nl + 1);
          if (!line.startsWith("data:")) continue;
          const data = line.slice(5).trim();
          if (data === "[DONE]") continue;
          try {
            const chunk = JSON.parse(data);
            const c = chunk.choices?.[0];
            const piece = c?.delta?.content ?? c?.text ?? "";
            text += piece;
            out.textContent = text;
          } catch (_) { /* a partial line: wait for the rest */ }
        }
      }
      meta.textContent = `${Math.round(performance.now() - started)} ms`;
      return text;
    }

    async function run(ev) {
      ev?.preventDefault();
      error.hidden = true;
      outputs.textContent = "";
      try {
        const vars = variables();
        const version = Number(document.getElementById("play-version").value);
        const r = await api("POST", `/api/v1/prompts/${encodeURIComponent(name)}/render`, { version, variables: vars });
        const models = [...form.querySelectorAll("input[name=model]:checked")].map((m) => m.value);
        if (!models.length) throw new Error("choose at least one model");
        last = { vars, outputs: {} };
        const texts = await Promise.all(models.map((m) => stream(m, r.rendered, r.config || {})));
        models.forEach((m, i) => { last.outputs[m] = texts[i]; });
      } catch (e) {
        error.textContent = e.message;
        error.hidden = false;
      }
    }

    form.addEventListener("submit", run);
    form.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) run(e);
    });

    document.getElementById("save-version")?.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        const template = JSON.parse(document.getElementById("save-template").value);
        const message = document.getElementById("save-message").value;
        const v = await api("POST", `/api/v1/prompts/${encodeURIComponent(name)}/versions`, { template, message });
        saved.textContent = `saved as v${v.version}`;
        saved.hidden = false;
      } catch (err) {
        error.textContent = err.message;
        error.hidden = false;
      }
    });

    document.getElementById("save-case")?.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        if (!last.vars) throw new Error("run the playground first");
        const suite = document.getElementById("case-suite").value;
        const expected = Object.values(last.outputs)[0] || null;
        const s = await api("POST", `/api/v1/evals/suites/${encodeURIComponent(suite)}/cases`,
          { vars: last.vars, expected, description: "from the playground" });
        saved.textContent = `${suite}: ${s.cases} cases`;
        saved.hidden = false;
      } catch (err) {
        error.textContent = err.message;
        error.hidden = false;
      }
    });
  }

  // --- Run page: follow a running run ---------------------------------------------------------
  const runEl = document.getElementById("run");
  if (runEl && runEl.dataset.finished !== "true") {
    const id = runEl.dataset.run;
    const tick = async () => {
      try {
        const r = await api("GET", `/api/v1/evals/runs/${encodeURIComponent(id)}`);
        document.getElementById("run-status").textContent = r.status;
        document.getElementById("run-status").className = `status ${r.status}`;
        document.getElementById("run-message").textContent = r.message;
        document.getElementById("run-progress").value = r.done;
        document.getElementById("run-done").textContent = `${r.done}/${r.cells}`;
        for (const k of ["passed", "failed", "errors"]) document.getElementById(`run-${k}`).textContent = r[k];
        if (["passed", "failed", "error", "cancelled"].includes(r.status)) {
          location.reload();
          return;
        }
      } catch (_) { /* try again */ }
      setTimeout(tick, 1000);
    };
    setTimeout(tick, 1000);
  }
})();
