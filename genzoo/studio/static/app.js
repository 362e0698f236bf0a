// genzoo studio page: vanilla JS over the JSON API (no dependencies, no external requests).
"use strict";
const $ = (id) => document.getElementById(id);
let runs = [], sortKey = "name", sortUp = true, current = null;

async function api(path, options) {
  const response = await fetch(path, options);
  const body = await response.json().catch(() => ({ error: "the server's answer was not JSON" }));
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function cell(row, text) { const td = document.createElement("td"); td.textContent = text ?? "-"; row.appendChild(td); }

function drawRuns() {
  const words = $("filter").value.toLowerCase().split(/\s+/).filter(Boolean);
  const shown = runs.filter((r) => words.every((w) => JSON.stringify(r).toLowerCase().includes(w)));
  shown.sort((a, b) => (a[sortKey] > b[sortKey] ? 1 : a[sortKey] < b[sortKey] ? -1 : 0) * (sortUp ? 1 : -1));
  const body = $("runs").tBodies[0];
  body.replaceChildren();
  for (const r of shown) {
    const tr = document.createElement("tr");
    for (const k of ["name", "recipe", "family", "modality", "data", "steps", "wall_s", "cpu_s"]) cell(tr, r[k]);
    cell(tr, Object.entries(r.eval || {}).map(([k, v]) => `${k} ${v}`).join(", ") || r.problem);
    tr.addEventListener("click", () => openRun(r.name));
    body.appendChild(tr);
  }
  $("status").textContent = `${shown.length} of ${runs.length} runs`;
}

async function openRun(name) {
  $("message").textContent = "opening " + name + "…";
  $("message").className = "";
  try {
    current = await api(`/api/runs/${encodeURIComponent(name)}`);
  } catch (e) { return showError(e); }
  $("run-panel").hidden = false;
  $("run-title").textContent = name;
  $("run-summary").textContent = `${current.recipe} · ${current.family} · ${current.data} · step ${current.steps ?? "-"}`;
  const select = $("task");
  select.replaceChildren();
  for (const t of current.tasks) {
    const o = document.createElement("option");
    o.value = t.kind; o.textContent = `${t.kind} (${t.what})`; select.appendChild(o);
  }
  drawOptions();
  $("message").textContent = current.tasks_problem || "";
  const gallery = $("gallery");
  gallery.replaceChildren();
  for (const f of current.files.filter((f) => f.path.endsWith(".png")).slice(-24)) {
    const img = document.createElement("img"); img.src = f.url; img.title = f.path; img.alt = f.path;
    gallery.appendChild(img);
  }
}

function drawOptions() {
  const task = current.tasks.find((t) => t.kind === $("task").value);
  const box = $("options");
  box.replaceChildren();
  for (const opt of task ? task.options : []) {
    const label = document.createElement("label");
    label.textContent = opt + " ";
    const input = document.createElement("input");
    input.name = opt; input.placeholder = "(default)"; input.size = 8;
    label.appendChild(input); box.appendChild(label);
  }
}

function value(text) {
  if (text === "") return null;
  if (text === "true" || text === "false") return text === "true";
  const x = Number(text);
  return Number.isFinite(x) ? x : text;
}

async function runTask(event) {
  event.preventDefault();
  const options = {};
  for (const input of $("options").querySelectorAll("input")) options[input.name] = value(input.value.trim());
  const body = { n: Number($("n").value), seed: Number($("seed").value), options };
  if ($("label").value !== "") body.label = Number($("label").value);
  $("message").textContent = "working…";
  $("message").className = "";
  try {
    const result = await api(`/api/runs/${encodeURIComponent(current.name)}/tasks/${$("task").value}`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    $("result").src = result.png ? `${result.png}?h=${result.png_sha256}` : "";
    $("result").alt = result.png ? `${result.task}, seed ${result.request.seed}` : "";
    $("result-text").textContent = result.samples ? result.samples.join("\n\n") : "";
    $("message").textContent = `${result.task}, seed ${result.request.seed}: done`;
  } catch (e) { showError(e); }
}

function showError(e) { $("message").textContent = e.message; $("message").className = "error"; }

for (const th of document.querySelectorAll("th[data-key]")) {
  th.addEventListener("click", () => {
    sortUp = sortKey === th.dataset.key ? !sortUp : true; sortKey = th.dataset.key; drawRuns();
  });
}
$("filter").addEventListener("input", drawRuns);
$("task").addEventListener("change", drawOptions);
$("sample-form").addEventListener("submit", runTask);
api("/api/runs").then((body) => { runs = body.runs; drawRuns(); }).catch(showError);
