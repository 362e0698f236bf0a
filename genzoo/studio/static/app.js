// genzoo studio page: vanilla JS over the JSON API (no dependencies, no build step, no external requests).
// Routes: #/ (runs), #/compare/A,B (side by side), #/run/NAME (one run: curves, gallery, eval, sample, explore).
// Every text from the server is set with textContent, never parsed as HTML.
"use strict";
const $ = (id) => document.getElementById(id);
const state = { runs: [], sortKey: "name", sortUp: true, picked: new Set(), run: null };

async function api(path, options) {
  let response;
  try { response = await fetch(path, options); } catch (e) { throw new Error("the studio server does not answer"); }
  const body = await response.json().catch(() => ({ error: `the server's answer was not JSON (${response.status})` }));
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}
const post = (path, body) => api(path, { method: "POST", headers: { "Content-Type": "application/json" },
                                         body: JSON.stringify(body) });

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

function say(box, text, isError) {
  box.textContent = text;
  box.className = "message" + (isError ? " error" : "");
}

// -- runs ---------------------------------------------------------------------------------------------------
const RUN_COLUMNS = [["name", "run"], ["recipe", "recipe"], ["family", "family"], ["modality", "modality"],
                     ["data", "data"], ["steps", "steps"], ["wall_s", "wall s"], ["cpu_s", "CPU s"]];

function sortValue(r, key) {
  if (key === "eval") return Object.values(r.eval || {})[0] ?? null;
  return r[key] ?? null;
}

function drawRuns() {
  const words = $("filter").value.toLowerCase().split(/\s+/).filter(Boolean);
  const shown = state.runs.filter((r) => words.every((w) => JSON.stringify(r).toLowerCase().includes(w)));
  shown.sort((a, b) => {
    const x = sortValue(a, state.sortKey), y = sortValue(b, state.sortKey);
    if (x === y) return 0;
    if (x === null) return 1;
    if (y === null) return -1;
    return (x > y ? 1 : -1) * (state.sortUp ? 1 : -1);
  });
  for (const th of document.querySelectorAll("#runs th[data-key]")) {
    th.setAttribute("aria-sort", th.dataset.key === state.sortKey ? (state.sortUp ? "ascending" : "descending") : "none");
  }
  const body = $("runs").tBodies[0];
  body.replaceChildren();
  for (const r of shown) {
    const pick = el("input", { type: "checkbox", class: "pick", "aria-label": `compare ${r.name}` });
    pick.checked = state.picked.has(r.name);
    pick.addEventListener("change", () => {
      if (pick.checked) state.picked.add(r.name); else state.picked.delete(r.name);
      drawPicked();
    });
    const link = el("a", { href: `#/run/${encodeURIComponent(r.name)}`, text: r.name });
    const tr = el("tr", { "data-run": r.name }, el("td", {}, pick), el("td", {}, link));
    for (const [k] of RUN_COLUMNS.slice(1)) {
      const v = r[k];
      tr.append(el("td", { text: typeof v === "number" && k.endsWith("_s") ? v.toFixed(0) : (v ?? "–") }));
    }
    tr.append(el("td", { class: "eval", text: Object.entries(r.eval || {}).map(([k, v]) => `${k} ${v}`).join(", ")
                                              || r.problem || "" }));
    body.append(tr);
  }
  $("runs-status").textContent = `${shown.length} of ${state.runs.length} runs`;
}

function drawPicked() {
  const names = [...state.picked];
  $("compare-button").disabled = names.length < 2;
  $("compare-button").textContent = names.length ? `compare ${names.length} selected` : "compare selected";
}

async function loadRuns() {
  try {
    state.runs = (await api("/api/runs")).runs;
    drawRuns();
  } catch (e) { say($("runs-status"), e.message, true); }
}

// -- compare ------------------------------------------------------------------------------------------------
async function showCompare(names) {
  const box = $("compare-view");
  say($("compare-message"), "comparing…");
  const here = location.hash;
  let result, details;
  try {
    [result, details] = await Promise.all([
      api(`/api/compare?runs=${names.map(encodeURIComponent).join(",")}`),
      // curves only: a comparison opens no model (one busy run shows no curve instead of failing the page)
      Promise.allSettled(names.map((n) => api(`/api/runs/${encodeURIComponent(n)}/curves`)))]);
  } catch (e) { return say($("compare-message"), e.message, true); }
  if (location.hash !== here) return;                     // the user went elsewhere meanwhile
  details = details.map((d) => (d.status === "fulfilled" ? d.value : { curves: [] }));
  say($("compare-message"), result.note || "");
  const table = el("table", { id: "compare-table" },
                   el("thead", {}, el("tr", {}, ...result.columns.map((c) => el("th", { text: c })))),
                   el("tbody", {}, ...result.table.map((row) => el("tr", {}, ...row.map((c) => el("td", { text: c }))))));
  $("compare-numbers").replaceChildren(table);
  $("compare-samples").replaceChildren(...names.map((n, i) => el("figure", {},
    result.samples[i] ? el("img", { src: result.samples[i], alt: `samples of ${n}` }) : el("p", { text: "no samples" }),
    el("figcaption", { text: n }))));
  const perRun = details.map((d) => curveSeries(d.curves));
  const keys = [...new Set(perRun.flatMap((s) => Object.keys(s)))].sort();
  const select = $("compare-metric");
  select.replaceChildren(...keys.map((k) => el("option", { value: k, text: k })));
  const common = keys.filter((k) => perRun.every((s) => s[k]));
  const lossy = (k) => /loss/.test(k) && !/^lr/.test(k);
  select.value = common.find(lossy) || keys.find(lossy) || common.find((k) => k !== "epoch") || keys[0] || "";
  const draw = () => lineChart($("compare-curves"), names.map((n, i) => ({ name: n, points: perRun[i][select.value] || [] })),
                               { label: `${select.value} of ${names.join(", ")}` });
  select.onchange = draw;
  draw();
  box.hidden = false;
}

// -- one run ------------------------------------------------------------------------------------------------
function stepOf(path) {
  const m = path.match(/(epoch|step)-0*(\d+)/);
  return m ? { kind: m[1], n: Number(m[2]) } : null;
}

function drawGallery(run) {
  const progress = run.files.filter((f) => f.path.startsWith("samples/") && !f.path.startsWith("samples/studio/")
                                     && f.path.endsWith(".png") && stepOf(f.path));
  const finals = run.files.filter((f) => /^samples\/[^/]*final[^/]*\.png$/.test(f.path));
  progress.sort((a, b) => {
    const x = stepOf(a.path), y = stepOf(b.path);
    return x.kind === y.kind ? x.n - y.n : (x.kind === "epoch" ? -1 : 1);
  });
  const frames = [...progress, ...finals];
  const img = $("gallery-image"), slider = $("gallery-slider"), caption = $("gallery-caption");
  $("gallery-section").hidden = !frames.length;
  if (!frames.length) return;
  slider.max = frames.length - 1;
  slider.value = frames.length - 1;
  const show = () => {
    const f = frames[Number(slider.value)];
    img.src = f.url; img.alt = f.path; caption.textContent = `${f.path} (${Number(slider.value) + 1} of ${frames.length})`;
  };
  slider.oninput = show;
  show();
  const analyses = run.files.filter((f) => f.path.startsWith("analysis/") && f.path.endsWith(".png"));
  $("analysis-section").hidden = !analyses.length;
  $("analyses").replaceChildren(...analyses.map((f) => el("figure", {}, el("img", { src: f.url, alt: f.path, loading: "lazy" }),
                                                          el("figcaption", { text: f.path }))));
}

function flatten(obj, prefix, out) {
  for (const [k, v] of Object.entries(obj || {})) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === "object" && !Array.isArray(v)) flatten(v, key, out);
    else out.push([key, Array.isArray(v) ? JSON.stringify(v) : v]);
  }
  return out;
}

function drawEval(run) {
  const box = $("eval");
  if (!run.eval || !run.eval.metrics) {
    box.replaceChildren(el("p", { text: "no eval.json: run `genzoo eval RUN` for FID, likelihoods and the rest" }));
    return;
  }
  // every number of eval.json, metric by metric, under the metric's own name (which names its feature network)
  const rows = [];
  for (const [metric, values] of Object.entries(run.eval.metrics)) {
    const numbers = flatten(values, "", []).filter(([k, v]) => typeof v === "number" && !k.startsWith("features."));
    const name = (values && values.name) || metric;
    numbers.forEach(([k, v], i) => rows.push(el("tr", {}, el("td", { text: i ? "" : name }), el("td", { text: k }),
                                                el("td", { text: fmt(v) }))));
  }
  const about = [run.eval.split && `on the ${run.eval.split} split`, run.eval.seed !== undefined && `seed ${run.eval.seed}`]
    .filter(Boolean).join(", ");
  box.replaceChildren(el("p", { text: about }), el("table", { id: "eval-table" }, el("thead", {}, el("tr", {},
                      el("th", { text: "metric" }), el("th", { text: "field" }), el("th", { text: "value" }))),
                      el("tbody", {}, ...rows)));
}

function drawCurves(run) {
  const series = curveSeries(run.curves);
  const keys = Object.keys(series).sort();
  const box = $("curve-keys");
  const defaults = keys.filter((k) => /loss|bits|nll|elbo/.test(k) && !/^lr/.test(k)).slice(0, 4);
  const chosen = new Set(defaults.length ? defaults : keys.slice(0, 1));
  const draw = () => lineChart($("curves"), [...chosen].map((k) => ({ name: k, points: series[k] })),
                               { label: `training curves of ${run.name}` });
  box.replaceChildren(...keys.map((k) => {
    const input = el("input", { type: "checkbox", value: k });
    input.checked = chosen.has(k);
    input.addEventListener("change", () => { if (input.checked) chosen.add(k); else chosen.delete(k); draw(); });
    return el("label", {}, input, " " + k);
  }));
  draw();
}

async function showRun(name) {
  const view = $("run-view");
  say($("run-message"), `opening ${name}…`);
  view.hidden = false;
  const here = location.hash;
  let run;
  try { run = await api(`/api/runs/${encodeURIComponent(name)}`); } catch (e) { return say($("run-message"), e.message, true); }
  if (location.hash !== here) return;                     // the user went elsewhere meanwhile
  state.run = run;
  $("run-title").textContent = run.name;
  $("run-summary").textContent = [run.recipe, run.family, run.modality, run.data, `step ${run.steps ?? "–"}`,
    run.wall_s ? `${(run.wall_s / 60).toFixed(1)} min` : null, run.throughput].filter(Boolean).join(" · ");
  $("config").textContent = JSON.stringify(run.config, null, 2);
  say($("run-message"), run.tasks_problem || "");
  drawCurves(run);
  drawGallery(run);
  drawEval(run);
  const sampleBox = $("sample-panel"), exploreBox = $("explore-panels");
  sampleBox.replaceChildren();
  exploreBox.replaceChildren();
  const main = run.tasks.find((t) => t.kind === "sample") || run.tasks[0];
  if (main) sampleBox.append(taskPanel(run, main, "sample"));
  for (const t of run.tasks) if (t !== main) exploreBox.append(el("details", { class: "panel", "data-task": t.kind },
    el("summary", { text: `${t.kind}: ${t.what}` }), taskPanel(run, t, t.kind)));
  drawExplore(run, exploreBox);
  $("explore-section").hidden = !exploreBox.children.length;
}

// -- a task panel: typed controls for every option its family declares, run as a job with progress --------------
function control(spec, id) {
  const label = el("label", { for: id, text: spec.name.replace(/_/g, " ") + " " });
  let input;
  if (spec.choices && spec.choices.length) {
    input = el("select", { id, "data-kind": spec.kind },
               el("option", { value: "", text: spec.default != null ? `default (${spec.default})` : "default" }),
               ...spec.choices.map((c) => el("option", { value: String(c), text: String(c) })));
  } else if (spec.kind === "bool") {
    input = el("select", { id, "data-kind": "bool" }, el("option", { value: "", text: `default (${spec.default ?? "-"})` }),
               el("option", { value: "true", text: "true" }), el("option", { value: "false", text: "false" }));
  } else if (spec.kind === "lines" || spec.name === "prompt") {
    input = el("textarea", { id, "data-kind": spec.kind, rows: 2, cols: 40, maxlength: 2000,
                             placeholder: spec.kind === "lines" ? "one prompt a line (empty: the book's)" : "(none)" });
  } else {
    input = el("input", { id, "data-kind": spec.kind, type: spec.kind === "str" ? "text" : "number",
                          step: spec.kind === "int" ? "1" : "any", size: 8,
                          placeholder: spec.default != null ? String(spec.default) : "default" });
  }
  return [label, input];
}

function readControl(input) {
  const text = input.value.trim();
  if (text === "") return undefined;
  switch (input.dataset.kind) {
    case "int": { const v = Number(text); if (!Number.isInteger(v)) throw new Error(`${input.id}: a whole number`); return v; }
    case "float": { const v = Number(text); if (!Number.isFinite(v)) throw new Error(`${input.id}: a number`); return v; }
    case "bool": return text === "true";
    case "lines": return text.split("\n").map((s) => s.trim()).filter(Boolean);
    default: return text;
  }
}

function taskPanel(run, task, prefix) {
  const id = (s) => `${prefix}-${s}`;
  // novalidate: the server checks every value and says why, one set of rules for the page and for scripts
  const form = el("form", { class: "task-form", id: id("form"), "data-task": task.kind, novalidate: true });
  const prompts = task.fields.some((f) => f.name === "prompts");
  const row = el("div", { class: "controls" });
  row.append(el("label", { for: id("seed"), text: "seed " }), el("input", { id: id("seed"), type: "number", min: 0, value: 1, step: 1 }));
  if (!prompts) row.append(el("label", { for: id("n"), text: "n " }),
                           el("input", { id: id("n"), type: "number", min: 1, max: 256, step: 1,
                                         value: task.kind === "interpolate" ? 20 : task.one_picture ? 8 : 16 }));
  if (task.num_classes) {
    const names = run.class_names || [];
    row.append(el("label", { for: id("label"), text: "class " }),
               el("select", { id: id("label") }, el("option", { value: "", text: "each in turn" }),
                  ...Array.from({ length: task.num_classes }, (_, k) => el("option", { value: k, text: names[k] ? `${k} ${names[k]}` : String(k) }))));
  }
  const inputs = [];
  for (const spec of [...task.fields, ...task.options]) {
    const [label, input] = control(spec, id(spec.name));
    input.dataset.name = spec.name;
    input.dataset.field = task.fields.includes(spec) ? "1" : "";
    inputs.push(input);
    row.append(label, input);
  }
  const button = el("button", { type: "submit", id: id("run"), text: task.kind === "sample" ? "sample" : "run" });
  const cancel = el("button", { type: "button", id: id("cancel"), text: "cancel", hidden: true });
  const bar = el("progress", { id: id("progress"), max: 1, value: 0, hidden: true });
  const message = el("p", { id: id("message"), class: "message", role: "status" });
  const image = el("img", { id: id("result"), class: "result", alt: "" });
  image.hidden = true;
  const text = el("pre", { id: id("text"), class: "result-text" });
  form.append(row, el("div", {}, button, cancel, bar), message, image, text);
  let job = null, cancelled = false;
  cancel.addEventListener("click", () => { cancelled = true; if (job) cancelJob(job); });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { seed: Number($(id("seed")).value), options: {} };
    try {
      if (!Number.isInteger(body.seed) || body.seed < 0) throw new Error("seed: a whole number >= 0");
      if (!prompts) body.n = Number($(id("n")).value);
      if (task.num_classes && $(id("label")).value !== "") body.label = Number($(id("label")).value);
      for (const input of inputs) {
        const v = readControl(input);
        if (v === undefined) continue;
        if (input.dataset.field) body[input.dataset.name] = v; else body.options[input.dataset.name] = v;
      }
    } catch (e) { return say(message, e.message, true); }
    const clicked = performance.now();
    button.disabled = true; cancel.hidden = false; bar.hidden = false; bar.value = 0;
    say(message, "queued…");
    cancelled = false;
    try {
      const started = await post(`/api/runs/${encodeURIComponent(run.name)}/jobs/${task.kind}`, body);
      job = started.job;
      form.dataset.job = job;
      if (cancelled) cancelJob(job);                     // cancel was clicked before the job had an id
      const done = await pollJob(job, (view) => {
        const parts = [view.state];
        if (view.step) parts.push(`${view.step.what} ${view.step.done}/${view.step.total}`);
        if (view.items[1] > 1) parts.push(`items ${view.items[0]}/${view.items[1]}`);
        parts.push(`${view.seconds.toFixed(1)} s`);
        say(message, parts.join(" · "));
        // the sampler's steps within the current chunk when it reports them, else the items finished
        bar.value = view.step ? (view.step.done + 1) / Math.max(view.step.total, 1)
                              : view.items[0] / Math.max(view.items[1], 1);
      });
      if (done.state !== "done") throw new Error(done.error || done.state);
      const result = done.result;
      if (result.png) {
        image.src = `${result.png}?h=${result.png_sha256}`;
        image.alt = `${result.task} of ${run.name}, seed ${result.request.seed}`;
        image.dataset.sha = result.png_sha256;
        image.hidden = false;
        await image.decode().catch(() => {});
      } else image.hidden = true;
      text.textContent = result.samples ? result.samples.join("\n\n") : "";
      const total = (performance.now() - clicked) / 1000;
      form.dataset.seconds = total.toFixed(3);
      say(message, `${result.task}, seed ${result.request.seed}: done in ${done.seconds.toFixed(2)} s ` +
                   `(${total.toFixed(2)} s from the click to the result shown)`);
    } catch (e) { say(message, e.message, true); }
    finally { button.disabled = false; cancel.hidden = true; bar.hidden = true; job = null; }
  });
  return form;
}

// Jobs of this page still running: leaving a run's page cancels them (nobody would see their result).
const activeJobs = new Set();
function cancelJob(jobId) { fetch(`/api/jobs/${jobId}`, { method: "DELETE" }).catch(() => {}); }

async function pollJob(jobId, onUpdate) {
  let polls = 0;
  const here = location.hash;
  activeJobs.add(jobId);
  try {
    for (;;) {
      if (location.hash !== here) { cancelJob(jobId); throw new Error("left the page: cancelled"); }
      const view = await api(`/api/jobs/${jobId}`);
      onUpdate(view);
      if (["done", "error", "cancelled"].includes(view.state)) return view;
      await new Promise((r) => setTimeout(r, polls++ < 10 ? 30 : 150));   // quick answers are shown quickly
    }
  } finally { activeJobs.delete(jobId); }
}

// -- routing ------------------------------------------------------------------------------------------------
function decoded(text) {
  try { return decodeURIComponent(text); } catch (e) { return text; }    // a malformed escape: take it as typed
}

function route() {
  const hash = location.hash || "#/";
  for (const id of activeJobs) cancelJob(id);
  for (const v of ["runs-view", "compare-view", "run-view"]) $(v).hidden = true;
  if (hash.startsWith("#/run/")) showRun(decoded(hash.slice(6)));
  else if (hash.startsWith("#/compare/")) showCompare(hash.slice(10).split(",").map(decoded).filter(Boolean));
  else { $("runs-view").hidden = false; loadRuns(); }
}

for (const th of document.querySelectorAll("#runs th[data-key]")) {
  th.addEventListener("click", () => {
    state.sortUp = state.sortKey === th.dataset.key ? !state.sortUp : true;
    state.sortKey = th.dataset.key;
    drawRuns();
  });
}
$("filter").addEventListener("input", drawRuns);
$("compare-button").addEventListener("click", () => {
  location.hash = `#/compare/${[...state.picked].map(encodeURIComponent).join(",")}`;
});
window.addEventListener("hashchange", route);
drawPicked();
route();
