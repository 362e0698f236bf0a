// genzoo studio: the Explore panels a run's capabilities allow (run.explore from /api/runs/NAME):
// the latent map (click to decode), sliders on latent dimensions, interpolation between two images or seeds,
// attribute arithmetic, and Foster ch. 6's human-in-the-loop writer. The page does the vector arithmetic; the
// server encodes and decodes (/latent, /latent/code, /latent/decode, /latent/attribute, /writer).
"use strict";
const CLASS_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                       "#bcbd22", "#17becf"];

function panel(title, id, ...children) {
  return el("details", { class: "panel", id, open: true }, el("summary", { text: title }), ...children);
}

function debounce(fn, ms) {
  let timer = null, running = false, again = false;
  const go = async () => {
    if (running) { again = true; return; }
    running = true;
    try { await fn(); } finally { running = false; if (again) { again = false; go(); } }
  };
  return () => { clearTimeout(timer); timer = setTimeout(go, ms); };
}

function drawExplore(run, box) {
  const ex = run.explore || {};
  const base = `/api/runs/${encodeURIComponent(run.name)}`;
  const shared = { code: null, setCode: null, map: null, onMap: [] };
  const label = () => (ex.num_classes ? Number($("explore-class")?.value || 0) : undefined);
  shared.label = label;
  const round = (c) => c.map((v) => Math.round(v * 1e4) / 1e4);      // 4 decimals: a small request body
  const decode = async (codes) => (await post(`${base}/latent/decode`, { codes: codes.map(round), label: label() })).images;
  if (ex.latent && ex.num_classes) {
    const names = run.class_names || [];
    box.prepend(el("p", {}, el("label", { for: "explore-class", text: "decode as class " }),
                   el("select", { id: "explore-class" }, ...Array.from({ length: ex.num_classes },
                      (_, k) => el("option", { value: k, text: names[k] ? `${k} ${names[k]}` : String(k) })))));
  }
  if (ex.map) box.append(latentMapPanel(run, base, shared, decode));
  if (ex.latent) box.append(slidersPanel(run, base, shared, decode, ex));
  if (ex.latent) box.append(interpolationPanel(run, base, ex, decode));
  if (ex.map) box.append(attributePanel(run, base, decode, shared));
  if (ex.writer) box.append(writerPanel(run, base));
}

function latentMapPanel(run, base, shared, decode) {
  const canvas = el("canvas", { id: "latent-map", width: 420, height: 420, "aria-label": "latent map of test images" });
  const image = el("img", { id: "map-decoded", class: "decoded", alt: "" });
  const info = el("p", { id: "map-info", class: "message" });
  const legend = el("div", { class: "map-legend" });
  const p = panel("Latent map: click to decode", "map-panel",
                  el("div", { class: "map-row" }, canvas, el("div", {}, image, info)), legend);
  say(info, "encoding held-out images…");
  let layout = null;
  api(`${base}/latent`).then((m) => {
    shared.map = m;
    const xs = m.points.map((q) => q[0]), ys = m.points.map((q) => q[1]);
    const pad = (a, b) => (b > a ? [a - (b - a) * 0.05, b + (b - a) * 0.05] : [a - 0.5, b + 0.5]);   // z = 1: flat
    const [x0, x1] = pad(Math.min(...xs), Math.max(...xs)), [y0, y1] = pad(Math.min(...ys), Math.max(...ys));
    layout = { x0, x1, y0, y1 };
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, canvas.width, canvas.height);
    for (const [x, y, lab] of m.points) {
      ctx.fillStyle = lab === null ? "#555" : CLASS_COLOURS[lab % CLASS_COLOURS.length];
      ctx.globalAlpha = 0.6;
      ctx.fillRect(((x - x0) / (x1 - x0)) * canvas.width - 1.5, (1 - (y - y0) / (y1 - y0)) * canvas.height - 1.5, 3, 3);
    }
    ctx.globalAlpha = 1;
    const names = m.class_names || [];
    const seen = [...new Set(m.points.map((q) => q[2]).filter((v) => v !== null))].sort((a, b) => a - b);
    legend.replaceChildren(...seen.map((k) => {
      const swatch = el("span", { class: "swatch", text: names[k] ? `${k} ${names[k]}` : String(k) });
      swatch.style.borderColor = CLASS_COLOURS[k % CLASS_COLOURS.length];   // CSSOM, allowed by the page's CSP
      return swatch;
    }));
    canvas.dataset.ready = "1";
    for (const hook of shared.onMap) hook(m);
    say(info, `${m.points.length} test images on ${m.plane}. Click anywhere to decode that point.`);
  }).catch((e) => say(info, e.message, true));
  canvas.addEventListener("click", async (ev) => {
    if (!layout) return;
    const r = canvas.getBoundingClientRect();
    const x = layout.x0 + ((ev.clientX - r.left) / r.width) * (layout.x1 - layout.x0);
    const y = layout.y0 + (1 - (ev.clientY - r.top) / r.height) * (layout.y1 - layout.y0);
    const ctx = canvas.getContext("2d");
    if (layout.saved) ctx.putImageData(layout.saved, 0, 0); else layout.saved = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const cx = (ev.clientX - r.left) * (canvas.width / r.width), cy = (ev.clientY - r.top) * (canvas.height / r.height);
    ctx.strokeStyle = "#000"; ctx.lineWidth = 2;
    ctx.beginPath(); ctx.moveTo(cx - 7, cy); ctx.lineTo(cx + 7, cy); ctx.moveTo(cx, cy - 7); ctx.lineTo(cx, cy + 7); ctx.stroke();
    try {
      const out = await post(`${base}/latent/decode`, { points: [[x, y]], label: shared.label?.() });
      image.src = out.images[0];
      image.alt = `decoded at (${x.toFixed(2)}, ${y.toFixed(2)})`;
      image.dataset.point = `${x.toFixed(3)},${y.toFixed(3)}`;
      let near = null, best = Infinity;
      for (const q of shared.map.points) {
        const d = (q[0] - x) ** 2 + (q[1] - y) ** 2;
        if (d < best) { best = d; near = q; }
      }
      const names = shared.map.class_names || [];
      const what = near && near[2] !== null ? ` (${names[near[2]] || "class " + near[2]})` : "";
      say(info, `decoded (${x.toFixed(2)}, ${y.toFixed(2)}); nearest test image #${near[3]}${what}; ` +
                "the sliders now start from this code");
      if (shared.setCode) shared.setCode(out.codes[0]);
    } catch (e) { say(info, e.message, true); }
  });
  return p;
}

function slidersPanel(run, base, shared, decode, ex) {
  const box = el("div", { id: "sliders", class: "sliders" });
  const image = el("img", { id: "slider-image", class: "decoded", alt: "" });
  const seed = el("input", { id: "slider-seed", type: "number", min: 0, value: 0, step: 1 });
  const info = el("p", { class: "message", id: "slider-info" });
  const draw = el("button", { type: "button", id: "slider-draw", text: "draw a code" });
  const p = panel("Latent sliders", "sliders-panel",
                  el("p", {}, el("label", { for: "slider-seed", text: "seed " }), seed, " ", draw,
                     " (or click the map)"), el("div", { class: "map-row" }, box, image), info);
  let code = null;
  const refresh = debounce(async () => {
    try { image.src = (await decode([code]))[0]; image.alt = "decoded slider code"; } catch (e) { say(info, e.message, true); }
  }, 60);
  const setCode = (c) => {
    code = c.slice();
    const dims = ((shared.map && shared.map.slider_dims) || [...Array(Math.min(8, code.length)).keys()])
      .slice().sort((x, y) => x - y);
    const reach = Math.max(4, ...((shared.map && shared.map.code_range) || []).map(Math.abs));
    box.replaceChildren(...dims.map((d) => {
      const input = el("input", { type: "range", min: -reach, max: reach, step: reach / 100, value: code[d], "data-dim": d,
                                  "aria-label": `z${d}` });
      const out = el("output", { text: code[d].toFixed(2) });
      input.addEventListener("input", () => { code[d] = Number(input.value); out.textContent = code[d].toFixed(2); refresh(); });
      return el("label", { class: "slider" }, `z${d} `, input, out);
    }));
    say(info, `${code.length}-dimensional code; sliders on ${dims.length} dimensions` +
              (shared.map ? " (those the held-out codes vary most along)" : ""));
    refresh();
  };
  shared.setCode = setCode;
  draw.addEventListener("click", async () => {
    try { setCode((await post(`${base}/latent/code`, { seed: Number(seed.value) })).code); } catch (e) { say(info, e.message, true); }
  });
  if (!(ex.prior === "box")) draw.click();
  return p;
}

function endpointControl(prefix, ex, initial) {
  const mode = el("select", { id: `${prefix}-mode` }, el("option", { value: "seed", text: "seed" }),
                  ex.map ? el("option", { value: "index", text: "test image #" }) : null);
  const value = el("input", { id: `${prefix}-value`, type: "number", min: 0, step: 1, value: initial });
  if (ex.map) mode.value = "index";
  return { nodes: [mode, value], read: () => ({ [mode.value]: Number(value.value) }) };
}

function lerp(a, b, t) { return a.map((v, i) => (1 - t) * v + t * b[i]); }

// Spherical interpolation (White 2016, "Sampling generative networks"): for Gaussian priors it keeps the norm of
// the codes typical, where a straight line passes through the improbable middle.
function slerp(a, b, t) {
  const na = Math.hypot(...a), nb = Math.hypot(...b);
  const cos = Math.min(1, Math.max(-1, a.reduce((s, v, i) => s + v * b[i], 0) / (na * nb || 1)));
  const omega = Math.acos(cos);
  if (omega < 1e-6) return lerp(a, b, t);
  const wa = Math.sin((1 - t) * omega) / Math.sin(omega), wb = Math.sin(t * omega) / Math.sin(omega);
  return a.map((v, i) => wa * v + wb * b[i]);
}

function interpolationPanel(run, base, ex, decode) {
  const a = endpointControl("interp-a", ex, 0), b = endpointControl("interp-b", ex, 1);
  const steps = el("input", { id: "interp-steps", type: "number", min: 2, max: 32, value: 10, step: 1 });
  const how = el("select", { id: "interp-how" }, el("option", { value: "lerp", text: "straight line" }),
                 el("option", { value: "slerp", text: "great circle (slerp)" }));
  if (ex.prior === "normal" && !ex.map) how.value = "slerp";
  const strip = el("div", { id: "interp-strip", class: "strip" });
  const info = el("p", { class: "message" });
  const go = el("button", { type: "button", id: "interp-go", text: "interpolate" });
  go.addEventListener("click", async () => {
    try {
      const [za, zb] = await Promise.all([post(`${base}/latent/code`, a.read()), post(`${base}/latent/code`, b.read())]);
      const k = Math.max(2, Math.min(32, Number(steps.value)));
      const path = how.value === "slerp" ? slerp : lerp;
      const codes = Array.from({ length: k }, (_, i) => path(za.code, zb.code, i / (k - 1)));
      const images = await decode(codes);
      strip.replaceChildren(...images.map((src, i) => el("img", { src, alt: `step ${i}`, title: (i / (k - 1)).toFixed(2) })));
      say(info, how.value === "slerp"
        ? `decode(slerp(z_A, z_B, t)) for ${k} values of t from 0 to 1 (White 2016)`
        : `decode((1 − t)·z_A + t·z_B) for ${k} values of t from 0 to 1 (Foster ch. 3, Fig. 3-23)`);
    } catch (e) { say(info, e.message, true); }
  });
  return panel("Interpolation", "interp-panel", el("p", {}, "A ", ...a.nodes, "  B ", ...b.nodes, "  steps ", steps, " ", how,
                                                  " ", go),
               strip, info);
}

function attributePanel(run, base, decode, shared) {
  const select = el("select", { id: "attribute" });
  const index = el("input", { id: "attribute-index", type: "number", min: 0, value: 0, step: 1 });
  const factor = el("input", { id: "attribute-factor", type: "range", min: -4, max: 4, step: 0.25, value: 0 });
  const shown = el("output", { text: "0" });
  const image = el("img", { id: "attribute-image", class: "decoded", alt: "" });
  const info = el("p", { class: "message" });
  let vector = null, code = null, key = "", names = [];
  const refresh = debounce(async () => {
    try {
      const want = `${select.value}/${index.value}`;
      if (want !== key) {
        const [v, c] = await Promise.all([post(`${base}/latent/attribute`, { attribute: Number(select.value) }),
                                          post(`${base}/latent/code`, { index: Number(index.value) })]);
        vector = v.vector; code = c.code; key = want;
        say(info, `v = unit(mean code of "${v.attribute}" − mean code of the rest); showing decode(z + f·v) ` +
                  `(Foster ch. 3, Fig. 3-22)`);
      }
      const f = Number(factor.value);
      image.src = (await decode([code.map((z, i) => z + f * vector[i])]))[0];
      image.alt = `test image ${index.value} + ${f}·v(${names[Number(select.value)]})`;
    } catch (e) { say(info, e.message, true); }
  }, 60);
  for (const c of [select, index]) c.addEventListener("change", refresh);
  factor.addEventListener("input", () => { shown.textContent = factor.value; refresh(); });
  const p = panel("Attribute arithmetic", "attribute-panel",
                  el("p", {}, "attribute ", select, "  test image # ", index, "  factor ", factor, shown), image, info);
  p.hidden = true;
  // the choices come with the latent map: CelebA-format attribute columns (Smiling first, as the book), or classes
  shared.onMap.push((m) => {
    names = m.attributes.names;
    if (!names.length) return;
    select.replaceChildren(...names.map((n, k) => el("option", { value: k, text: m.attributes.kind === "class" ? `${k} ${n}` : n })));
    if (names.includes("Smiling")) select.value = String(names.indexOf("Smiling"));
    p.hidden = false;
    refresh();
  });
  return p;
}

function writerPanel(run, base) {
  const prompt = el("input", { id: "writer-prompt", type: "text", size: 50, maxlength: 2000, placeholder: "a prompt (or empty)" });
  const start = el("button", { type: "button", id: "writer-start", text: "start" });
  const text = el("p", { id: "writer-text", class: "writer-text" });
  const choices = el("div", { id: "writer-choices", class: "choices" });
  const info = el("p", { class: "message" });
  let raw = "", asked = 0;
  const step = async (pick, soFar) => {
    const mine = ++asked;                        // answers to older clicks are dropped
    for (const b of choices.querySelectorAll("button")) b.disabled = true;
    try {
      const out = await post(`${base}/writer`, { text: soFar, pick, top: 10 });
      if (mine !== asked) return;
      raw = out.text;
      text.textContent = out.shown || "(start)";
      choices.replaceChildren(...out.choices.map((c) => {
        const b = el("button", { type: "button", class: "choice", disabled: c.id === null,
                                 text: `${c.token === "" ? "(end)" : c.token} ${(100 * c.p).toFixed(1)}%` });
        b.addEventListener("click", () => step(c.id, raw));
        return b;
      }));
      say(info, `${out.tokens} tokens; click one of the model's 10 likeliest next tokens (Foster ch. 6)`);
    } catch (e) { if (mine === asked) say(info, e.message, true); }
  };
  start.addEventListener("click", () => step(null, prompt.value));
  return panel("Writer: choose the next token", "writer-panel", el("p", {}, prompt, " ", start), text, choices, info);
}
