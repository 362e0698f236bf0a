// genzoo studio: line charts drawn as SVG (no library). lineChart(box, series, options) draws one chart of
// series [{name, points: [[x, y], ...]}] with axes, a legend that hides/shows a series, a log-scale switch and a
// hover read-out of every series at the nearest step.
"use strict";
const SVG = "http://www.w3.org/2000/svg";
const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
                 "#7f7f7f", "#bcbd22"];

function svgEl(name, attrs, parent) {
  const el = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  if (parent) parent.appendChild(el);
  return el;
}

function niceTicks(lo, hi, count) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const out = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(+t.toPrecision(12));
  return out;
}

function fmt(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return "-";
  const a = Math.abs(v);
  return a !== 0 && (a >= 1e5 || a < 1e-3) ? v.toExponential(2) : +v.toPrecision(4) + "";
}

// Numeric series of metrics.jsonl rows: nested numbers flattened ("lr.generator"), keyed against "step".
function curveSeries(rows) {
  const series = Object.create(null);         // no prototype: a metric may be called "constructor"
  for (const row of rows) {
    const step = row.step;
    if (typeof step !== "number") continue;
    const walk = (obj, prefix) => {
      for (const [k, v] of Object.entries(obj)) {
        const key = prefix ? `${prefix}.${k}` : k;
        if (k === "step" && !prefix) continue;
        if (typeof v === "number" && Number.isFinite(v)) (series[key] ||= []).push([step, v]);
        else if (v && typeof v === "object" && !Array.isArray(v)) walk(v, key);
      }
    };
    walk(row, "");
  }
  return series;
}

function lineChart(box, series, options = {}) {
  box.replaceChildren();
  const W = options.width || 640, H = options.height || 260, M = { l: 64, r: 12, t: 10, b: 30 };
  const hidden = new Set();
  let logY = !!options.logY;
  const controls = document.createElement("div");
  controls.className = "chart-controls";
  const logBox = document.createElement("label");
  const logInput = document.createElement("input");
  logInput.type = "checkbox"; logInput.checked = logY; logInput.className = "log-scale";
  logBox.append(logInput, " log scale");
  controls.appendChild(logBox);
  const legend = document.createElement("span");
  legend.className = "legend";
  controls.appendChild(legend);
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img",
                             "aria-label": options.label || "chart" });
  const readout = document.createElement("div");
  readout.className = "readout";
  box.append(controls, svg, readout);
  if (!series.length || series.every((s) => !s.points.length)) {
    readout.textContent = "no numbers logged yet";
    return;
  }
  series.forEach((s, i) => {
    s.color = PALETTE[i % PALETTE.length];
    const item = document.createElement("button");
    item.type = "button"; item.className = "legend-item"; item.style.borderColor = s.color;
    item.textContent = s.name;
    item.addEventListener("click", () => {
      if (hidden.has(s.name)) hidden.delete(s.name); else hidden.add(s.name);
      item.classList.toggle("off", hidden.has(s.name));
      draw();
    });
    legend.appendChild(item);
  });
  logInput.addEventListener("change", () => { logY = logInput.checked; draw(); });

  function draw() {
    svg.replaceChildren();
    const shown = series.filter((s) => !hidden.has(s.name));
    const pts = shown.flatMap((s) => s.points).filter(([, y]) => !logY || y > 0);
    if (!pts.length) return;
    const tf = (y) => (logY ? Math.log10(y) : y);
    let x0 = Math.min(...pts.map((p) => p[0])), x1 = Math.max(...pts.map((p) => p[0]));
    let y0 = Math.min(...pts.map((p) => tf(p[1]))), y1 = Math.max(...pts.map((p) => tf(p[1])));
    if (x1 === x0) x1 = x0 + 1;
    if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
    const pad = (y1 - y0) * 0.05; y0 -= pad; y1 += pad;
    const X = (x) => M.l + ((x - x0) / (x1 - x0)) * (W - M.l - M.r);
    const Y = (y) => H - M.b - ((tf(y) - y0) / (y1 - y0)) * (H - M.t - M.b);
    const axis = svgEl("g", { class: "axis" }, svg);
    for (const t of niceTicks(x0, x1, 6)) {
      svgEl("line", { x1: X(t), x2: X(t), y1: H - M.b, y2: M.t, class: "grid" }, axis);
      svgEl("text", { x: X(t), y: H - M.b + 16, "text-anchor": "middle" }, axis).textContent = fmt(t);
    }
    for (const t of niceTicks(y0, y1, 5)) {
      const yy = H - M.b - ((t - y0) / (y1 - y0)) * (H - M.t - M.b);
      svgEl("line", { x1: M.l, x2: W - M.r, y1: yy, y2: yy, class: "grid" }, axis);
      svgEl("text", { x: M.l - 6, y: yy + 4, "text-anchor": "end" }, axis).textContent = fmt(logY ? 10 ** t : t);
    }
    svgEl("text", { x: W - M.r, y: H - 4, "text-anchor": "end", class: "axis-name" }, axis).textContent = "step";
    for (const s of shown) {
      const d = s.points.filter(([, y]) => !logY || y > 0).map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`);
      svgEl("polyline", { points: d.join(" "), fill: "none", stroke: s.color, "stroke-width": 1.5,
                          class: "series", "data-name": s.name }, svg);
      if (d.length <= 30) {                  // few points (a short run): mark each one, so a single point shows
        for (const [x, y] of s.points) if (!logY || y > 0) svgEl("circle", { cx: X(x), cy: Y(y), r: 2.5, fill: s.color, class: "point" }, svg);
      }
    }
    const cursor = svgEl("line", { y1: M.t, y2: H - M.b, class: "cursor", visibility: "hidden" }, svg);
    const hit = svgEl("rect", { x: M.l, y: M.t, width: W - M.l - M.r, height: H - M.t - M.b, fill: "transparent" }, svg);
    hit.addEventListener("mousemove", (ev) => {
      const r = svg.getBoundingClientRect();
      const x = x0 + ((ev.clientX - r.left) * (W / r.width) - M.l) / (W - M.l - M.r) * (x1 - x0);
      const parts = [];
      let at = null;
      for (const s of shown) {
        let best = null;
        for (const p of s.points) if (best === null || Math.abs(p[0] - x) < Math.abs(best[0] - x)) best = p;
        if (best) { at = at ?? best[0]; parts.push(`${s.name} ${fmt(best[1])}`); }
      }
      if (at === null) return;
      cursor.setAttribute("x1", X(at)); cursor.setAttribute("x2", X(at)); cursor.setAttribute("visibility", "visible");
      readout.textContent = `step ${at}: ` + parts.join(" · ");
    });
    hit.addEventListener("mouseleave", () => cursor.setAttribute("visibility", "hidden"));
  }
  draw();
}
