// app.js: the explorer's page. It keeps the whole state in the URL's
// fragment (so a view can be shared), asks the server for predictions as
// the design changes, streams probes, uploads models and polls results.
"use strict";

const COLORS = ["#2456a6", "#c2410c", "#15803d", "#7e22ce"];
const NAMES = ["A", "B", "C", "D"];
const MAX_CONFIGS = 4;
const LN10 = Math.log(10);
const DEBOUNCE_MS = 150;

const emptyDesign = () => ({ arch: "", init: "", bias: "", input: "", m0: "" });

const state = {
  view: "design",
  configs: [{ arch: "fc:784-100x50-10", init: "pytorch-default", bias: "", input: "", m0: "" }],
  active: 0,
  samples: 1000,
  seed: 1,
  method: "auto",
  results: "",
};
// outcome[i] is the last answer for config i: {ok: DesignResult} or {err: apiError}.
const outcome = [];
const seq = [];
let meta = null;
let timer = null;
let probeRun = null; // {controller, view}
let resultsTimer = null;
let resultsKey = ""; // what the results view last drew
let lastAudit = null;

// ---------- small helpers ----------

const $ = (id) => document.getElementById(id);

// h builds an element: attrs may hold class, text, on* handlers and attributes.
function h(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const k in attrs || {}) {
    const v = attrs[k];
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
  return e;
}

const finiteNum = (v) => typeof v === "number" && isFinite(v);

// fmt writes a number with 4 significant digits, "-" when unknown.
function fmt(v, digits) {
  if (!finiteNum(v)) return "-";
  const d = digits || 4;
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-4)) return v.toExponential(d - 1);
  return String(Number(v.toPrecision(d)));
}

// fmtLog writes a logarithm: rounding noise of a product of exact factors
// of 1 (|v| < 1e-12) is 0.
function fmtLog(v, digits) {
  return finiteNum(v) && Math.abs(v) < 1e-12 ? "0" : fmt(v, digits);
}

function slug(s) {
  return String(s).toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
}

function verdictClass(v) {
  if (v === "ok") return "ok";
  if (v === "warning") return "warning";
  return "bad";
}

function showError(el, err, busy) {
  if (!err) { el.hidden = true; el.textContent = ""; return; }
  el.hidden = false;
  el.textContent = err;
  el.classList.toggle("busy", !!busy);
}

async function postJSON(url, body, signal) {
  const resp = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body), signal });
  const data = await resp.json().catch(() => ({ error: `${url}: HTTP ${resp.status}` }));
  return { ok: resp.ok, status: resp.status, data };
}

function designOf(c) {
  const d = { arch: c.arch, init: c.init };
  for (const k of ["bias", "input", "m0"]) if (c[k]) d[k] = c[k];
  return d;
}

// ---------- the URL ----------

const FIELDS = { arch: "a", init: "i", bias: "b", input: "in", m0: "m0" };

function stateParams(configs, active) {
  const p = new URLSearchParams();
  p.set("view", state.view);
  configs.forEach((c, i) => {
    for (const k in FIELDS) if (c[k]) p.set(FIELDS[k] + (i + 1), c[k]);
  });
  if (active) p.set("sel", String(active + 1));
  if (state.samples !== 1000) p.set("samples", String(state.samples));
  if (state.seed !== 1) p.set("seed", String(state.seed));
  if (state.method !== "auto") p.set("method", state.method);
  if (state.results) p.set("dir", state.results);
  return p;
}

function writeURL() {
  history.replaceState(null, "", "#" + stateParams(state.configs, state.active).toString());
}

function readURL() {
  const p = new URLSearchParams(location.hash.slice(1));
  if (![...p.keys()].length) return;
  state.view = ["design", "measure", "audit", "results"].includes(p.get("view")) ? p.get("view") : "design";
  const configs = [];
  for (let i = 1; i <= MAX_CONFIGS; i++) {
    const c = emptyDesign();
    let any = false;
    for (const k in FIELDS) {
      const v = p.get(FIELDS[k] + i);
      if (v !== null) { c[k] = v; any = true; }
    }
    if (any) configs.push(c);
  }
  if (configs.length) state.configs = configs;
  state.active = Math.min(Math.max(0, (parseInt(p.get("sel"), 10) || 1) - 1), state.configs.length - 1);
  const n = parseInt(p.get("samples"), 10);
  if (n > 0) state.samples = n;
  const s = parseInt(p.get("seed"), 10);
  if (s >= 0) state.seed = s;
  if (["auto", "exact", "network"].includes(p.get("method"))) state.method = p.get("method");
  state.results = p.get("dir") || "";
}

// configLink is a link to the page with config i alone.
function configLink(i) {
  const saved = state.view;
  state.view = "design";
  const p = stateParams([state.configs[i]], 0);
  state.view = saved;
  return location.pathname + "#" + p.toString();
}

// ---------- views ----------

function setView(v) {
  state.view = v;
  for (const name of ["design", "measure", "audit", "results"]) {
    $("view-" + name).hidden = name !== v;
    $("tab-" + name).classList.toggle("active", name === v);
  }
  if (v !== "results" && resultsTimer) { clearInterval(resultsTimer); resultsTimer = null; }
  redraw();
  if (v === "results") openResults();
  writeURL();
}

// redraw draws the charts of the view shown, at its width.
function redraw() {
  const v = state.view;
  if (v === "design") renderDesignChart();
  if (v === "measure") renderMeasure();
  if (v === "audit" && lastAudit) renderAudit(lastAudit);
}

// ---------- design ----------

function fillFields() {
  const c = state.configs[state.active];
  for (const k of ["arch", "init", "bias", "input", "m0"]) $(k).value = c[k];
}

function onFieldInput() {
  const c = state.configs[state.active];
  for (const k of ["arch", "init", "bias", "input", "m0"]) c[k] = $(k).value;
  writeURL();
  clearTimeout(timer);
  const i = state.active;
  timer = setTimeout(() => predict(i), DEBOUNCE_MS);
}

async function predict(i) {
  const c = state.configs[i];
  if (!c) return;
  seq[i] = (seq[i] || 0) + 1;
  const mine = seq[i];
  const t0 = performance.now();
  let r;
  try {
    r = await postJSON("/api/predict", designOf(c));
  } catch (e) {
    r = { ok: false, data: { error: "the server did not answer: " + e.message } };
  }
  if (seq[i] !== mine) return; // a later change has been sent
  const before = outcome[i];
  // On an error the last prediction stays, dimmed, so that the chart does
  // not vanish while a spec is being typed.
  outcome[i] = r.ok ? { ok: r.data, ms: performance.now() - t0 } : { err: r.data, ok: before && before.ok, stale: true };
  renderDesign();
  if (state.view === "measure") renderMeasure();
}

function predictAll() {
  state.configs.forEach((_, i) => predict(i));
}

function renderConfigs() {
  const box = $("configs");
  box.textContent = "";
  state.configs.forEach((c, i) => {
    const o = outcome[i];
    const tip = c.arch + " / " + c.init;
    const chip = h("span", { class: "config" + (i === state.active ? " active" : ""), title: tip, id: "config-" + NAMES[i], onclick: () => selectConfig(i) },
      h("span", { class: "swatch" }),
      NAMES[i],
      o && o.err ? h("span", { class: "hint bad", text: "error" }) : null,
      h("a", { href: configLink(i), title: "a link to this design alone", text: "link", onclick: (ev) => ev.stopPropagation() }),
      state.configs.length > 1 ? h("button", { title: "remove", text: "\u00d7", onclick: (ev) => { ev.stopPropagation(); removeConfig(i); } }) : null);
    chip.querySelector(".swatch").style.background = COLORS[i];
    box.appendChild(chip);
  });
  if (state.configs.length < MAX_CONFIGS) {
    box.appendChild(h("button", { class: "add", id: "add-config", text: "+ compare", title: "overlay a copy of this design", onclick: addConfig }));
  }
}

function selectConfig(i) {
  state.active = i;
  fillFields();
  writeURL();
  renderDesign();
}

function addConfig() {
  if (state.configs.length >= MAX_CONFIGS) return;
  state.configs.push(Object.assign({}, state.configs[state.active]));
  outcome.push(undefined);
  state.active = state.configs.length - 1;
  fillFields();
  writeURL();
  predict(state.active);
}

function removeConfig(i) {
  state.configs.splice(i, 1);
  outcome.splice(i, 1);
  seq.splice(i, 1);
  if (state.active >= state.configs.length) state.active = state.configs.length - 1;
  fillFields();
  writeURL();
  renderDesign();
}

function applyDesign(d) {
  const c = state.configs[state.active];
  Object.assign(c, emptyDesign(), d);
  fillFields();
  writeURL();
  predict(state.active);
}

function renderFieldErrors(err) {
  const c = state.configs[state.active];
  for (const k of ["init", "bias", "input", "m0"]) {
    const on = err && err.field === k;
    $(k).classList.toggle("invalid", !!on);
    showError($(k + "-error"), on ? err.error : "");
  }
  const archOn = err && err.field === "arch";
  $("arch").classList.toggle("invalid", !!archOn);
  $("arch-error").hidden = !archOn;
  if (archOn) {
    const m = $("arch-mirror");
    m.textContent = "";
    const text = c.arch;
    if (err.span) {
      const [s, e] = err.span;
      m.append(text.slice(0, s), h("mark", { id: "arch-mark", text: text.slice(s, e) }), text.slice(e));
      m.hidden = false;
    } else {
      m.hidden = true;
    }
    $("arch-msg").textContent = err.error;
  }
  const general = err && !["arch", "init", "bias", "input", "m0"].includes(err.field);
  showError($("design-error"), general ? err.error : "");
}

function renderDesign() {
  renderConfigs();
  const o = outcome[state.active];
  renderFieldErrors(o && o.err);
  const status = $("design-status");
  for (const id of ["cards", "design-chart"]) $(id).classList.toggle("stale", !!(o && o.stale));
  if (o && o.stale && o.ok) {
    status.textContent = "the last valid design is shown, dimmed";
  } else if (o && o.ok) {
    status.textContent = `${o.ok.depth} ReLU layers, beta = ${fmt(o.ok.beta)}; input ${o.ok.input}; answered in ${o.ms.toFixed(0)} ms (server ${o.ok.server_ms.toFixed(1)} ms)`;
  } else if (!o) {
    status.textContent = "predicting...";
  } else {
    status.textContent = "";
  }
  renderCards($("cards"), o && o.ok, true);
  renderDesignChart();
  renderCompare();
  renderLayerTable(o && o.ok);
}

// renderCards draws the FM1 and FM2 verdict cards of a prediction (a
// DesignResult, or an audit report with fm1/fm2), with the fix buttons.
function renderCards(box, p, withFixes) {
  box.textContent = "";
  if (!p) return;
  const fixes = withFixes ? p.fixes || [] : [];
  for (const [key, title] of [["fm1", "FM1, the mean length"], ["fm2", "FM2, the fluctuations"]]) {
    const v = p[key];
    if (!v) continue;
    const advice = v.advice && v.advice.text ? v.advice.text : v.advice || [];
    const card = h("div", { class: "card " + verdictClass(v.verdict), id: withFixes ? "card-" + key : null },
      h("h3", { text: title }),
      h("div", { class: "verdict" }, v.verdict.toUpperCase(), v.certain === false ? h("span", { class: "uncertain", text: "(not certain)" }) : null),
      h("div", { class: "summary", text: v.summary }),
      advice.length ? h("ul", {}, advice.map((t) => h("li", { text: t }))) : null);
    const mine = fixes.map((f, i) => [f, i]).filter(([f]) => f.for === key);
    if (mine.length) {
      card.appendChild(h("div", { class: "fixes" }, h("span", { class: "hint", text: "apply:" }),
        mine.map(([f, i]) => h("button", { class: "fix", id: "fix-" + i, title: fixTitle(f.design), text: f.label, onclick: () => applyDesign(f.design) }))));
    }
    box.appendChild(card);
  }
}

function fixTitle(d) {
  return `net ${d.arch}\ninit ${d.init}` + (d.bias ? `\nbias ${d.bias}` : "");
}

// theorySeries are the chart series of one prediction's layers.
function theorySeries(layers, color, name, opts) {
  const x = layers.map((l) => l.index);
  const out = [];
  const band = {
    kind: "band", color, opacity: opts.bandOpacity || 0.16, x,
    lo: layers.map((l) => finiteNum(l.log_mean) && finiteNum(l.log_sd) ? (l.log_mean - l.log_sd) / LN10 : null),
    hi: layers.map((l) => finiteNum(l.log_mean) && finiteNum(l.log_sd) ? (l.log_mean + l.log_sd) / LN10 : null),
    label: name + "E[ln M\u2c7c/M\u2080] \u00b1 sd (log10)",
  };
  out.push(band);
  out.push({ kind: "line", color, x, y: layers.map((l) => l.log10_mean), label: name + "log10 E[M\u2c7c]/M\u2080", width: opts.width || 2 });
  if (layers.some((l) => finiteNum(l.log10_lower))) {
    out.push({ kind: "line", color, x, dash: "5 4", width: 1.5, y: layers.map((l) => finiteNum(l.log10_mean) ? l.log10_mean : l.log10_lower), label: name + "bounds on log10 E[M\u2c7c]/M\u2080" });
    out.push({ kind: "line", color, x, dash: "5 4", width: 1.5, y: layers.map((l) => finiteNum(l.log10_mean) ? l.log10_mean : l.log10_upper) });
  }
  return out;
}

function renderDesignChart() {
  const series = [];
  const shown = [];
  state.configs.forEach((c, i) => {
    const o = outcome[i];
    if (!o || !o.ok) return;
    const name = state.configs.length > 1 ? NAMES[i] + ": " : "";
    series.push(...theorySeries(o.ok.layers, COLORS[i], name, { width: i === state.active ? 2.5 : 1.8 }));
    shown.push(i);
  });
  const host = $("design-chart");
  host.hidden = !shown.length;
  if (!shown.length) { host.textContent = ""; return; }
  drawChart(host, {
    title: "predicted length per layer, relative to the input",
    xLabel: "layer j",
    yLabel: "log10 of M\u2c7c/M\u2080",
    integerX: true,
    series,
    refLines: [{ y: 0, label: "M\u2080", extend: true }, { y: 2, label: "10\u00b2" }, { y: -2, label: "10\u207b\u00b2" }],
    readout: (x) => shown.flatMap((i) => {
      const l = outcome[i].ok.layers[x - 1];
      if (!l) return [];
      const mean = finiteNum(l.log10_mean) ? fmtLog(l.log10_mean, 3) : `[${fmt(l.log10_lower, 3)}, ${fmt(l.log10_upper, 3)}]`;
      return [`${state.configs.length > 1 ? NAMES[i] + " " : ""}layer ${l.index} ${l.kind} ${l.width || ""}`, `  log10 E[M]/M0 ${mean}  sd[ln M] ${fmt(l.log_sd, 3)}`];
    }),
  });
}

function renderCompare() {
  const box = $("compare");
  box.textContent = "";
  if (state.configs.length < 2) return;
  const rows = state.configs.map((c, i) => {
    const o = outcome[i];
    const p = o && o.ok;
    const last = p ? p.layers[p.layers.length - 1] : null;
    const sw = h("span", { class: "swatch" });
    sw.style.background = COLORS[i];
    return h("tr", {},
      h("td", { class: "l" }, sw, " ", NAMES[i]),
      h("td", { class: "l", title: c.arch, text: c.arch }),
      h("td", { class: "l", text: c.init + (c.bias ? " / " + c.bias : "") }),
      h("td", { class: "l", text: o && o.err ? "error" : p ? p.fm1.verdict : "..." }),
      h("td", { class: "l", text: o && o.err ? "" : p ? p.fm2.verdict : "" }),
      h("td", { text: last ? fmtLog(last.log10_mean, 3) : "" }),
      h("td", { text: last ? fmt(last.log_sd, 3) : "" }),
      h("td", { text: p ? fmt(p.beta) : "" }));
  });
  box.appendChild(h("div", { class: "table-wrap" }, h("table", { id: "compare-table" },
    h("tr", {}, ["", "net", "init", "FM1", "FM2", "output: log10 E[M]/M0", "sd[ln M/M0]", "beta"].map((t, k) => h("th", { class: k < 5 ? "l" : "", text: t }))),
    rows)));
}

// fold groups runs of alike rows as predict's table does: the first 3 and
// the last 2 of a run longer than 6 are shown.
function fold(items, key) {
  const out = [];
  for (let i = 0; i < items.length;) {
    let j = i + 1;
    while (j < items.length && key(items[j]) === key(items[i])) j++;
    if (j - i <= 6) for (let k = i; k < j; k++) out.push(items[k]);
    else {
      for (let k = i; k < i + 3; k++) out.push(items[k]);
      out.push({ folded: j - i - 5 });
      for (let k = j - 2; k < j; k++) out.push(items[k]);
    }
    i = j;
  }
  return out;
}

function layerKey(l) {
  return [l.spec.replace(/:eta=[^:]*/, ""), l.width, l.c, l.kind].join("|");
}

function renderLayerTable(p) {
  const box = $("layers-table");
  box.textContent = "";
  if (!p) return;
  const head = ["layer", "kind", "width", "fan-in", "c", "mean factor", "log10 E[M]/M0", "E[ln M/M0]", "sd[ln M/M0]", "exact"];
  const rows = fold(p.layers, layerKey).map((l) => {
    if (l.folded) return h("tr", { class: "fold" }, h("td", { colspan: head.length, text: `... ${l.folded} more like these` }));
    const mean = finiteNum(l.log10_mean) ? fmtLog(l.log10_mean) : finiteNum(l.log10_lower) ? `[${fmtLog(l.log10_lower)}, ${fmtLog(l.log10_upper)}]` : "-";
    return h("tr", {},
      h("td", { text: l.index }), h("td", { class: "l", text: l.kind }), h("td", { text: l.width || "-" }), h("td", { text: l.fan_in || "-" }),
      h("td", { text: fmt(l.c) }), h("td", { text: fmt(l.mean_factor) }), h("td", { text: mean }), h("td", { text: fmtLog(l.log_mean) }),
      h("td", { text: (l.log_sd_upper && finiteNum(l.log_sd) ? "\u2264" : "") + fmt(l.log_sd) }), h("td", { class: "l", text: l.exact }));
  });
  box.appendChild(h("div", { class: "table-wrap" }, h("table", {}, h("tr", {}, head.map((t) => h("th", { text: t }))), rows)));
  const notes = layerNotes(p.layers);
  if (notes.length) box.appendChild(h("ul", { class: "hint" }, notes.map((n) => h("li", { text: n }))));
}

// layerNotes gathers the layers' notes with the layers they concern.
function layerNotes(layers) {
  const at = new Map();
  for (const l of layers) for (const n of l.notes || []) {
    if (!at.has(n)) at.set(n, []);
    at.get(n).push(l.index);
  }
  return [...at].map(([n, idx]) => spans(idx) + ": " + n);
}

function spans(idx) {
  const parts = [];
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && idx[j + 1] === idx[j] + 1) j++;
    parts.push(j > i ? `${idx[i]}-${idx[j]}` : String(idx[i]));
    i = j + 1;
  }
  return (idx.length === 1 ? "layer " : "layers ") + parts.join(", ");
}

// ---------- measure ----------

function renderMeasure() {
  const c = state.configs[state.active];
  const o = outcome[state.active];
  const box = $("measure-design");
  box.textContent = "";
  const sw = h("span", { class: "swatch" });
  sw.style.background = COLORS[state.active];
  box.append(sw, ` design ${NAMES[state.active]}: net `, h("code", { text: c.arch }), " init ", h("code", { text: c.init }),
    c.bias ? [" bias ", h("code", { text: c.bias })] : "", " input ", h("code", { text: o && o.ok ? o.ok.input : c.input || "default" }),
    " ", h("a", { href: "#", text: "edit", onclick: (ev) => { ev.preventDefault(); setView("design"); } }));
  if (o && o.err) box.append(h("div", { class: "general-error", text: o.err.error }));
  $("samples").value = state.samples;
  $("seed").value = state.seed;
  $("method").value = state.method;
  $("samples").max = meta ? meta.limits.max_samples : "";
  drawMeasureChart();
}

async function runProbe() {
  const c = state.configs[state.active];
  state.samples = parseInt($("samples").value, 10) || 0;
  state.seed = parseInt($("seed").value, 10) || 0;
  state.method = $("method").value;
  writeURL();
  showError($("probe-error"), "");
  const controller = new AbortController();
  probeRun = { controller, view: null, design: designOf(c), config: state.active };
  $("probe-run").disabled = true;
  $("probe-cancel").disabled = false;
  $("probe-progress").hidden = false;
  $("probe-fill").style.width = "0%";
  $("probe-fill").classList.remove("done");
  $("probe-text").textContent = "starting...";
  $("probe-summary").textContent = "";
  drawMeasureChart();
  try {
    const resp = await fetch("/api/probe", {
      method: "POST", headers: { "Content-Type": "application/json" }, signal: controller.signal,
      body: JSON.stringify(Object.assign(designOf(c), { samples: state.samples, seed: state.seed, method: state.method })),
    });
    if (!resp.ok) {
      const e = await resp.json().catch(() => ({ error: `HTTP ${resp.status}` }));
      showError($("probe-error"), e.error, resp.status === 503);
      $("probe-progress").hidden = true;
      return;
    }
    await readEvents(resp.body, (name, data) => onProbeEvent(name, data));
  } catch (e) {
    if (e.name === "AbortError") {
      $("probe-text").textContent = "cancelled" + (probeRun.view ? ` (showing the first ${probeRun.view.samples} samples)` : "");
    } else {
      showError($("probe-error"), "the probe's stream broke: " + e.message);
    }
  } finally {
    $("probe-run").disabled = false;
    $("probe-cancel").disabled = true;
  }
}

// readEvents parses a server-sent-event stream from a fetch body.
async function readEvents(body, onEvent) {
  const reader = body.getReader();
  const dec = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let k;
    while ((k = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, k);
      buf = buf.slice(k + 2);
      let name = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) name = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      onEvent(name, JSON.parse(data));
    }
  }
}

function onProbeEvent(name, d) {
  if (name === "progress") {
    $("probe-fill").style.width = (100 * d.fraction).toFixed(1) + "%";
    const shown = d.summarized ? `; the chart shows the first ${d.summarized}` : "";
    $("probe-text").textContent = `${d.done} samples drawn in this round, ${d.total} in all${shown}; ${d.elapsed_s.toFixed(1)} s`;
  } else if (name === "partial" || name === "done") {
    probeRun.view = d;
    drawMeasureChart();
    renderProbeSummary(d);
    if (name === "done") {
      $("probe-fill").style.width = "100%";
      $("probe-fill").classList.add("done");
      $("probe-text").textContent = `done: ${d.samples} samples in ${d.elapsed_s.toFixed(2)} s (${d.method} sampler, ${d.workers} worker${d.workers > 1 ? "s" : ""}${d.method === "network" ? ", BLAS " + d.backend : ""})`;
    }
  } else if (name === "error") {
    showError($("probe-error"), d.error);
  }
}

function cancelProbe() {
  if (probeRun) probeRun.controller.abort();
}

function drawMeasureChart() {
  const host = $("measure-chart");
  const o = outcome[state.active];
  const view = probeRun && probeRun.config === state.active ? probeRun.view : null;
  if (!o || !o.ok) { host.textContent = ""; return; }
  const layers = o.ok.layers;
  const series = theorySeries(layers, "#2456a6", "theory: ", { bandOpacity: 0.14 });
  if (view) {
    const x = view.layers.map((l) => l.index);
    series.push({ kind: "band", color: "#c2410c", opacity: 0.12, x, lo: view.layers.map((l) => l.log10_p05), hi: view.layers.map((l) => l.log10_p95), label: "measured 5%-95% of M\u2c7c/M\u2080" });
    series.push({ kind: "points", shape: "diamond", color: "#c2410c", x, y: view.layers.map((l) => l.log10_p50), label: "measured median" });
    series.push({ kind: "points", color: "#9a3412", x, y: view.layers.map((l) => l.log10_mean), lo: view.layers.map((l) => l.log10_mean_lo), hi: view.layers.map((l) => l.log10_mean_hi), label: "measured mean \u00b1 2 SE" });
  }
  drawChart(host, {
    title: view ? `theory and Monte Carlo, ${view.samples} of ${view.total} samples${view.final ? "" : " so far"}` : "theory (run a probe to measure)",
    xLabel: "layer j", yLabel: "log10 of M\u2c7c/M\u2080", integerX: true, series,
    refLines: [{ y: 0, label: "M\u2080", extend: true }],
    readout: (xv) => {
      const t = layers[xv - 1];
      if (!t) return [];
      const out = [`layer ${t.index} ${t.kind}`, `theory   log10 E[M]/M0 ${fmtLog(t.log10_mean, 3)}  sd[ln M] ${fmt(t.log_sd, 3)}`];
      const m = view && view.layers[xv - 1];
      if (m) out.push(`measured log10 mean ${fmt(m.log10_mean, 3)}  median ${fmt(m.log10_p50, 3)}  sd[ln M] ${fmt(m.log_sd, 3)}`);
      return out;
    },
  });
}

function renderProbeSummary(v) {
  const box = $("probe-summary");
  box.textContent = "";
  const o = outcome[state.active];
  const theory = o && o.ok ? o.ok.layers : [];
  const flags = h("div", { class: "panel", id: "probe-flags" }, h("h3", { text: `flags (exact predictions missed by more than 4 SE), ${v.samples} samples` }),
    v.flags.length ? h("ul", {}, v.flags.map((f) => h("li", { text: f }))) : h("div", { text: "none" }));
  if (v.heavy_tail.length) flags.appendChild(h("div", { class: "hint", text: `heavy tails at ${spans(v.heavy_tail)}: Var[ln M] > 1, so the sample mean of M is carried by rare large samples; trust the log moments and the quantiles.` }));
  box.appendChild(flags);
  const head = ["layer", "log10 mean M/M0", "theory", "z", "E[ln M/M0]", "theory", "z", "sd[ln M/M0]", "theory", "dead", "log10 5%", "50%", "95%"];
  const items = v.layers.map((m, i) => Object.assign({ t: theory[i] || {} }, m));
  const rows = fold(items, (m) => (m.t.spec ? layerKey(m.t) : m.index)).map((m) => {
    if (m.folded) return h("tr", { class: "fold" }, h("td", { colspan: head.length, text: `... ${m.folded} more like these` }));
    const t = m.t;
    return h("tr", {}, h("td", { text: m.index }), h("td", { text: fmtLog(m.log10_mean) + (m.heavy_tail ? "*" : "") }), h("td", { text: fmtLog(t.log10_mean) }), h("td", { text: fmt(m.z_mean, 2) }),
      h("td", { text: finiteNum(m.log_mean) ? `${fmt(m.log_mean)} \u00b1 ${fmt(m.log_mean_se, 2)}` : "-" }), h("td", { text: fmtLog(t.log_mean) }), h("td", { text: fmt(m.z_log_mean, 2) }),
      h("td", { text: fmt(m.log_sd) }), h("td", { text: fmt(t.log_sd) }), h("td", { text: fmt(m.dead_fraction) }),
      h("td", { text: fmt(m.log10_p05) }), h("td", { text: fmt(m.log10_p50) }), h("td", { text: fmt(m.log10_p95) }));
  });
  box.appendChild(h("details", { open: true }, h("summary", { text: "per-layer measurements beside the theory" }),
    h("div", { class: "table-wrap" }, h("table", { id: "probe-table" }, h("tr", {}, head.map((t) => h("th", { text: t }))), rows))));
}

// ---------- audit ----------

async function runAuditUpload(ev) {
  ev.preventDefault();
  const file = $("audit-file").files[0];
  showError($("audit-error"), "");
  if (!file) { showError($("audit-error"), "choose a .onnx or .safetensors file"); return; }
  const fd = new FormData();
  fd.append("arch", $("audit-arch").value);
  fd.append("input", $("audit-input").value);
  fd.append("samples", $("audit-samples").value);
  fd.append("file", file);
  $("audit-run").disabled = true;
  $("audit-out").textContent = "";
  $("audit-hint").textContent = `auditing ${file.name} (${(file.size / 1048576).toFixed(2)} MiB)...`;
  try {
    const resp = await fetch("/api/audit", { method: "POST", body: fd });
    const data = await resp.json().catch(() => ({ error: `HTTP ${resp.status}` }));
    if (!resp.ok) { showError($("audit-error"), data.error, resp.status === 503); $("audit-hint").textContent = ""; return; }
    $("audit-hint").textContent = "";
    renderAudit(data);
  } catch (e) {
    showError($("audit-error"), "the upload failed: " + e.message);
  } finally {
    $("audit-run").disabled = false;
  }
}

function renderAudit(r) {
  lastAudit = r;
  const out = $("audit-out");
  out.textContent = "";
  const kv = h("dl", { class: "kv" });
  const add = (k, v) => { if (v !== undefined && v !== null && v !== "") kv.append(h("dt", { text: k }), h("dd", { text: String(v) })); };
  add("model", `${r.model} (${r.format}${r.ir_version ? ", IR " + r.ir_version : ""}${r.opset ? ", opset " + r.opset : ""}${r.producer ? ", " + r.producer : ""})`);
  add("net", r.net);
  add("parameters", r.params);
  if (r.layers) add("depth", `${r.depth} ReLU layers, beta = ${fmt(r.beta)}`);
  if (r.measurement) add("input", `${r.measurement.input}${r.measurement.samples ? `, ${r.measurement.samples} redraws` : ""}`);
  out.appendChild(h("div", { class: "panel", id: "audit-model" }, h("h3", { text: "model" }), kv,
    (r.unsupported || []).length ? h("div", {}, h("h3", { text: "not lowered (the graph stops before the first)" }), h("ul", {}, r.unsupported.map((u) => h("li", { text: JSON.stringify(u) })))) : null,
    (r.notes || []).length ? h("ul", { class: "hint" }, r.notes.map((n) => h("li", { text: n }))) : null));
  if (r.fm1) {
    const cards = h("div", { class: "cards" });
    out.appendChild(cards);
    renderCards(cards, r, false);
  }
  if (r.layers && r.layers.length) {
    const layers = r.layers.map((l) => ({ index: l.index, kind: l.kind, width: l.width, log10_mean: l.log10_mean_ratio, log10_lower: l.log10_mean_ratio_lower, log10_upper: l.log10_mean_ratio_upper, log_mean: l.log_mean, log_sd: finiteNum(l.log_var) ? Math.sqrt(l.log_var) : null }));
    const series = theorySeries(layers, "#2456a6", "theory from the fitted laws: ", {});
    const meas = r.measurement ? r.measurement.layers : [];
    if (meas.length) {
      series.push({ kind: "points", color: "#c2410c", x: meas.map((m) => m.index), y: meas.map((m) => m.log10_ratio), label: "this model's weights on the input: log10 M\u2c7c/M\u2080" });
      if (r.measurement.samples) series.push({ kind: "points", shape: "diamond", color: "#15803d", x: meas.map((m) => m.index), y: meas.map((m) => m.log10_mean_ratio), label: `${r.measurement.samples} redraws: log10 E[M\u2c7c]/M\u2080` });
    }
    const names = new Map((r.nodes || []).map((n) => [n.index, n]));
    const charts = h("div", { class: "audit-charts" });
    out.appendChild(charts);
    // Both boxes are placed before either chart is drawn at its width.
    const cs = (r.nodes || []).filter((n) => finiteNum(n.c));
    const lenBox = h("div", { class: "chart-box", id: "audit-chart" });
    const cBox = cs.length ? h("div", { class: "chart-box", id: "audit-c-chart" }) : null;
    charts.append(lenBox, cBox || "");
    drawChart(lenBox, {
      title: "length per layer, relative to the input", xLabel: "layer j", yLabel: "log10 of M\u2c7c/M\u2080", integerX: true, series,
      refLines: [{ y: 0, label: "M\u2080", extend: true }],
      readout: (x) => {
        const l = layers[x - 1];
        if (!l) return [];
        const n = names.get(x);
        const m = meas.find((q) => q.index === x);
        return [`layer ${x} ${n ? n.module || n.name : ""} (${l.kind})`, `theory log10 E[M]/M0 ${fmtLog(l.log10_mean, 3)}`, m ? `measured log10 M/M0 ${fmt(m.log10_ratio, 3)}` : ""].filter(Boolean);
      },
    });
    if (cBox) {
      drawChart(cBox, {
        title: "c = fan_in Var(W) of each layer's weights", xLabel: "layer j", yLabel: "c", integerX: true, zeroY: true,
        series: [{ kind: "points", shape: "square", color: "#7e22ce", x: cs.map((n) => n.index), y: cs.map((n) => n.c), label: "c of the model's weights" }],
        refLines: [{ y: 2, label: "He (before a ReLU): 2", extend: true }, { y: 1 / 3, label: "PyTorch default: 1/3", extend: true }],
        readout: (x) => { const n = cs.find((q) => q.index === x); return n ? [`layer ${x} ${n.module || n.name}`, `c = ${fmt(n.c)} (${n.kind})`] : []; },
      });
    }
    const head = ["#", "node", "module", "kind", "c", "mean factor", "log10 E[M]/M0", "sd[ln M/M0]", "measured log10 M/M0", "redraws log10 E[M]/M0", "quantile"];
    const rows = (r.nodes || []).map((n) => {
      const m = meas.find((q) => q.index === n.index) || {};
      return h("tr", {}, h("td", { text: n.index }), h("td", { class: "l mono", text: n.name }), h("td", { class: "l mono", text: n.module }), h("td", { class: "l", text: n.kind }),
        h("td", { text: fmt(n.c) }), h("td", { text: fmt(n.mean_factor) }), h("td", { text: fmt(n.log10_mean_ratio) }), h("td", { text: finiteNum(n.log_var) ? fmt(Math.sqrt(n.log_var)) : "-" }),
        h("td", { text: fmt(m.log10_ratio) }), h("td", { text: fmt(m.log10_mean_ratio) }), h("td", { text: fmt(m.quantile, 2) }));
    });
    out.appendChild(h("h2", { text: "layers" }));
    out.appendChild(h("div", { class: "table-wrap" }, h("table", { id: "audit-layers" }, h("tr", {}, head.map((t, k) => h("th", { class: k > 0 && k < 4 ? "l" : "", text: t }))), rows)));
  }
  if ((r.pytorch_advice || []).length) {
    out.appendChild(h("div", { class: "panel", id: "audit-advice" }, h("h3", { text: "what to change (PyTorch)" }), h("pre", { text: r.pytorch_advice.join("\n") })));
  }
  const thead = ["name", "role", "shape", "fan-in", "mean", "std", "c [95% CI]", "kurtosis", "law (KS / crit)", "preset"];
  const trows = (r.tensors || []).map((t) => h("tr", {}, h("td", { class: "l mono", text: t.name }), h("td", { class: "l", text: t.role }), h("td", { class: "l", text: (t.shape || []).join("x") }),
    h("td", { text: t.fan_in || "-" }), h("td", { text: fmt(t.mean) }), h("td", { text: fmt(t.std) }),
    h("td", { text: finiteNum(t.c) ? `${fmt(t.c)} [${fmt(t.c_low)}, ${fmt(t.c_high)}]` : "-" }), h("td", { text: fmt(t.kurtosis) }),
    h("td", { class: "l", text: `${t.law} (${fmt(t.ks)} / ${fmt(t.ks_critical)})` }), h("td", { class: "l", text: t.preset || "-" })));
  out.appendChild(h("details", {}, h("summary", { text: `tensors (${trows.length}): the law each matches` }),
    h("div", { class: "table-wrap" }, h("table", {}, h("tr", {}, thead.map((t) => h("th", { text: t }))), trows))));
}

// ---------- results ----------

async function openResults() {
  showError($("results-error"), "");
  if (meta && !meta.results) {
    showError($("results-error"), "no results directory: start the server with --results DIR (a reproduce or sweep results directory, or a folder of them)");
    return;
  }
  const resp = await fetch("/api/results");
  const dirs = await resp.json();
  if (!resp.ok) { showError($("results-error"), dirs.error); return; }
  const sel = $("results-dir");
  sel.textContent = "";
  for (const d of dirs) sel.appendChild(h("option", { value: d.name, text: d.name === "." ? "(the --results directory)" : d.name }));
  if (!dirs.length) { showError($("results-error"), "no results directory found under --results: it holds no sweeps/, shard-*.jsonl or claims.json, nor do its folders"); return; }
  if (!dirs.some((d) => d.name === state.results)) state.results = dirs[0].name;
  sel.value = state.results;
  resultsKey = "";
  await loadResults();
  if (resultsTimer) clearInterval(resultsTimer);
  resultsTimer = setInterval(() => { if ($("results-live").checked) loadResults(); }, 3000);
}

async function loadResults() {
  const name = state.results;
  const resp = await fetch("/api/results/" + encodeURIComponent(name));
  const r = await resp.json().catch(() => ({ error: `HTTP ${resp.status}` }));
  if (!resp.ok) { showError($("results-error"), r.error); return; }
  showError($("results-error"), "");
  renderResults(r);
}

function fileURL(dir, f) {
  return "/results/" + encodeURIComponent(dir) + "/" + encodeURIComponent(f);
}

function renderResults(r) {
  const out = $("results-out");
  if (!out.querySelector("#results-progress")) {
    out.textContent = "";
    out.append(h("div", { id: "results-progress" }), h("div", { id: "results-claims" }), h("div", { id: "results-figures" }));
  }
  $("results-updated").textContent = r.updated ? "results last written " + new Date(r.updated).toLocaleString() : "";
  // Progress: always redrawn.
  const prog = $("results-progress");
  prog.textContent = "";
  if (r.progress.length) {
    let total = 0, done = 0, failed = 0;
    for (const p of r.progress) { total += p.total; done += p.done; failed += p.failed; }
    prog.appendChild(h("h2", { text: `sweeps: ${done} of ${total} tasks done${failed ? `, ${failed} failed` : ""}, ${total - done - failed} not run yet` }));
    prog.appendChild(h("div", { class: "sweeps panel" }, r.progress.map((p) => {
      const fill = h("div", { class: "fill" + (p.done === p.total ? " done" : "") });
      fill.style.width = (p.total ? 100 * p.done / p.total : 0).toFixed(1) + "%";
      return h("div", { class: "sweep", "data-sweep": p.sweep }, h("div", { class: "name" }, h("span", { text: p.sweep }), h("span", { class: "count", text: `${p.done}/${p.total}${p.failed ? `, ${p.failed} failed` : ""}` })), h("div", { class: "bar" }, fill));
    })));
  } else {
    prog.appendChild(h("div", { class: "hint", text: "no sweeps kept in this directory (sweeps/): no progress to show" }));
  }
  if (r.extra) prog.appendChild(h("div", { class: "hint", text: `${r.extra} records belong to no sweep in the directory (an older grid?)` }));
  for (const w of r.warnings) prog.appendChild(h("div", { class: "hint", text: "warning: " + w }));

  // Claims and figures: redrawn only when they change, so that the
  // figures do not flicker at every refresh.
  const key = JSON.stringify([r.claims, r.figures, r.files, r.updated]);
  if (key !== resultsKey) {
    resultsKey = key;
    renderClaims($("results-claims"), r);
    renderFigures($("results-figures"), r);
  }
}

const CLAIM_FIELDS = ["figure", "panel", "title", "claim", "criterion", "verdict", "measured"];
const FINDING_FIELDS = ["kind", "text"];

// renderValue writes any JSON value generically, for fields the page does
// not know; numbers with 4 significant digits.
function renderValue(v) {
  if (v === null || v === undefined) return "null";
  if (typeof v === "number") return fmt(v);
  if (typeof v !== "object") return String(v);
  if (Array.isArray(v)) return "[" + v.map(renderValue).join(", ") + "]";
  return Object.entries(v).map(([k, x]) => `${k}: ${renderValue(x)}`).join(", ");
}

// panelFigures are the figures of a claim's panel: the plots whose names
// start with it (fig1a_length.svg for fig1a).
function panelFigures(r, panel) {
  return panel ? r.figures.filter((f) => f.startsWith(panel + "_")) : [];
}

function figureBox(r, f) {
  return h("div", { class: "figure" },
    h("a", { href: fileURL(r.name, f), target: "_blank", rel: "noopener" }, h("img", { src: fileURL(r.name, f) + "?t=" + encodeURIComponent(r.updated || ""), alt: f })),
    h("a", { href: fileURL(r.name, f), target: "_blank", rel: "noopener", text: f }));
}

function renderClaims(box, r) {
  box.textContent = "";
  if (!r.claims) { box.appendChild(h("div", { class: "hint", text: "no claims.json here yet (it is written when the results are collected: initscope sweep collect DIR)" })); return; }
  const tally = new Map();
  for (const c of r.claims) tally.set(c.verdict, (tally.get(c.verdict) || 0) + 1);
  box.appendChild(h("h2", {}, `claims: `, [...tally].map(([v, n]) => h("span", { class: "badge " + slug(v), text: `${n} ${v}` })).flatMap((b) => [b, " "])));
  box.appendChild(h("div", { class: "claims" }, r.claims.map((c) => {
    const extra = Object.keys(c).filter((k) => !CLAIM_FIELDS.includes(k));
    const kinds = new Map();
    for (const f of c.measured || []) kinds.set(f.kind, (kinds.get(f.kind) || 0) + 1);
    const figs = panelFigures(r, c.panel);
    return h("div", { class: "claim" + (figs.length ? " with-figures" : ""), "data-panel": c.panel || "" },
      h("div", { class: "claim-text" },
        h("div", { class: "head" }, h("span", { class: "badge " + slug(c.verdict), text: c.verdict }), h("span", { class: "title", text: c.title || c.panel })),
        c.claim ? h("div", { class: "statement", text: c.claim }) : null,
        c.criterion ? h("details", {}, h("summary", { text: "criterion" }), h("div", { class: "criterion", text: c.criterion })) : null,
        (c.measured || []).length ? h("details", { class: "findings-box" },
          h("summary", {}, "findings: ", [...kinds].map(([k, n]) => h("span", { class: "badge " + slug(k), text: `${n} ${k}` })).flatMap((b) => [b, " "])),
          h("ul", { class: "findings" }, c.measured.map((f) => {
            const more = Object.keys(f).filter((k) => !FINDING_FIELDS.includes(k));
            return h("li", {}, h("span", {}, h("span", { class: "badge " + slug(f.kind), text: f.kind })), h("span", { text: f.text }),
              more.map((k) => h("span", { class: "extra", text: `${k}: ${renderValue(f[k])}` })));
          }))) : null,
        extra.map((k) => h("div", { class: "criterion", text: `${k}: ${renderValue(c[k])}` }))),
      figs.length ? h("div", { class: "claim-figures" }, figs.map((f) => figureBox(r, f))) : null);
  })));
}

// renderFigures lists the files and the figures no claim shows.
function renderFigures(box, r) {
  box.textContent = "";
  if (r.files.length) box.appendChild(h("div", { class: "files panel" }, h("span", { class: "hint", text: "files: " }), r.files.map((f) => h("a", { href: fileURL(r.name, f), target: "_blank", rel: "noopener", text: f }))));
  const shown = new Set((r.claims || []).flatMap((c) => panelFigures(r, c.panel)));
  const rest = r.figures.filter((f) => !shown.has(f));
  if (rest.length) {
    box.appendChild(h("h2", { text: shown.size ? "other figures" : "figures" }));
    box.appendChild(h("div", { class: "figures" }, rest.map((f) => figureBox(r, f))));
  }
}

// ---------- start ----------

async function start() {
  readURL();
  for (const a of document.querySelectorAll("#tabs a")) a.addEventListener("click", (ev) => { ev.preventDefault(); setView(a.dataset.view); });
  let resizing = null;
  window.addEventListener("resize", () => { clearTimeout(resizing); resizing = setTimeout(redraw, 150); });
  for (const k of ["arch", "init", "bias", "input", "m0"]) $(k).addEventListener("input", onFieldInput);
  $("probe-run").addEventListener("click", runProbe);
  $("probe-cancel").addEventListener("click", cancelProbe);
  $("audit-form").addEventListener("submit", runAuditUpload);
  $("results-dir").addEventListener("change", () => { state.results = $("results-dir").value; resultsKey = ""; writeURL(); loadResults(); });
  for (const k of ["samples", "seed", "method"]) $(k).addEventListener("change", () => {
    state.samples = parseInt($("samples").value, 10) || 0;
    state.seed = parseInt($("seed").value, 10) || 0;
    state.method = $("method").value;
    writeURL();
  });
  fillFields();
  try {
    meta = await (await fetch("/api/meta")).json();
  } catch (e) {
    meta = null;
  }
  if (meta) {
    for (const p of meta.presets) $("init-list").appendChild(h("option", { value: p.name, text: `${p.weights}, biases ${p.biases}` }));
    for (const b of meta.biases) $("bias-list").appendChild(h("option", { value: b }));
    for (const i of meta.inputs) $("input-list").appendChild(h("option", { value: i }));
    $("examples").append(...meta.examples.map((e, i) => h("button", { class: "chip", id: "example-" + i, title: `${e.arch}\n${e.init}`, text: e.label, onclick: () => applyDesign({ arch: e.arch, init: e.init, bias: e.bias || "", input: e.input || "", m0: e.m0 || "" }) })));
    const l = meta.limits;
    $("footer").textContent = `initscope ${meta.version || ""} \u00b7 limits: request bodies ${(l.max_body / 1024).toFixed(0)} KiB, uploads ${(l.max_upload / 1048576).toFixed(0)} MiB, ${l.timeout_s} s a request, ${l.probe_timeout_s} s a probe, ${l.max_probes} probe(s) and ${l.max_audits} audit(s) at once, ${l.max_samples} samples`;
    $("audit-hint").textContent = `an ONNX export (torch.onnx.export) or safetensors weights (give the net for them), up to ${(l.max_upload / 1048576).toFixed(0)} MiB`;
  }
  setView(state.view);
  renderDesign();
  predictAll();
}

document.addEventListener("DOMContentLoaded", start);
