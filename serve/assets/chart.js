// chart.js: a small SVG line chart for the explorer, written for it (no
// library): lines, bands, points with error bars, reference lines, a
// legend and a hover read-out. Values are plain numbers; null or a
// non-finite value is a gap.
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";

function svgEl(name, attrs, parent) {
  const e = document.createElementNS(SVGNS, name);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(e);
  return e;
}

function finite(v) {
  return typeof v === "number" && isFinite(v);
}

// niceTicks returns about n round tick values covering [lo, hi].
function niceTicks(lo, hi, n) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  let step = mag;
  for (const m of [1, 2, 2.5, 5, 10]) {
    if (raw <= m * mag) { step = m * mag; break; }
  }
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  }
  return out;
}

// fmtTick writes a tick value without trailing noise.
function fmtTick(v) {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(0).replace("e+", "e");
  return String(Number(v.toPrecision(6)));
}

// drawChart draws into host (an element, emptied first) the chart of spec:
//   {title, xLabel, yLabel, series: [...], refLines: [{y, label, extend}], height, zeroY,
//    integerX: bool, readout: function(x) -> [lines] (optional)}
// A reference line widens the y range to include it only with extend;
// zeroY widens it to include 0.
// Series kinds:
//   {kind: "line", label, color, x: [], y: [], dash, width}
//   {kind: "band", label, color, x: [], lo: [], hi: [], opacity}
//   {kind: "points", label, color, x: [], y: [], lo: [], hi: [], shape: "circle"|"square"|"diamond"}
function drawChart(host, spec) {
  host.textContent = "";
  // Drawn at the host's width in pixels, so that text keeps its size.
  const W = host.clientWidth > 0 ? Math.max(420, Math.floor(host.clientWidth - 20)) : 760;
  const H = spec.height || 340;
  const m = { l: 62, r: 16, t: spec.title ? 30 : 14, b: 48 };
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: "chart", role: "img" }, host);
  if (spec.title) {
    const t = svgEl("text", { x: m.l, y: 18, class: "chart-title" }, svg);
    t.textContent = spec.title;
  }

  // Domains over every finite value.
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  const seeX = (v) => { if (finite(v)) { x0 = Math.min(x0, v); x1 = Math.max(x1, v); } };
  const seeY = (v) => { if (finite(v)) { y0 = Math.min(y0, v); y1 = Math.max(y1, v); } };
  for (const s of spec.series) {
    s.x.forEach(seeX);
    for (const k of ["y", "lo", "hi"]) if (s[k]) s[k].forEach(seeY);
  }
  for (const r of spec.refLines || []) if (r.extend) seeY(r.y);
  if (spec.zeroY) seeY(0);
  if (!finite(x0)) { x0 = 0; x1 = 1; }
  if (!finite(y0)) { y0 = -1; y1 = 1; }
  if (x1 === x0) { x0 -= 1; x1 += 1; }
  if (spec.integerX) { // room for the markers of the first and last layers
    const px = Math.max(0.5, (x1 - x0) * 0.01);
    x0 -= px; x1 += px;
  }
  if (y1 - y0 < 1e-9) { y0 -= 1; y1 += 1; }
  const pad = (y1 - y0) * 0.06;
  y0 -= pad; y1 += pad;
  const plotW = W - m.l - m.r, plotH = H - m.t - m.b;
  const sx = (v) => m.l + (v - x0) / (x1 - x0) * plotW;
  const sy = (v) => m.t + (1 - (v - y0) / (y1 - y0)) * plotH;

  // Grid, axes and ticks.
  const grid = svgEl("g", { class: "grid" }, svg);
  const xt = niceTicks(x0, x1, 8).filter((v) => !spec.integerX || Number.isInteger(v));
  for (const v of xt) {
    svgEl("line", { x1: sx(v), x2: sx(v), y1: m.t, y2: m.t + plotH }, grid);
    const t = svgEl("text", { x: sx(v), y: m.t + plotH + 16, class: "tick", "text-anchor": "middle" }, svg);
    t.textContent = fmtTick(v);
  }
  for (const v of niceTicks(y0, y1, 6)) {
    svgEl("line", { x1: m.l, x2: m.l + plotW, y1: sy(v), y2: sy(v) }, grid);
    const t = svgEl("text", { x: m.l - 6, y: sy(v) + 4, class: "tick", "text-anchor": "end" }, svg);
    t.textContent = fmtTick(v);
  }
  svgEl("rect", { x: m.l, y: m.t, width: plotW, height: plotH, class: "frame" }, svg);
  const xl = svgEl("text", { x: m.l + plotW / 2, y: H - 10, class: "axis-label", "text-anchor": "middle" }, svg);
  xl.textContent = spec.xLabel || "";
  const yl = svgEl("text", { x: 14, y: m.t + plotH / 2, class: "axis-label", "text-anchor": "middle", transform: `rotate(-90 14 ${m.t + plotH / 2})` }, svg);
  yl.textContent = spec.yLabel || "";

  const clipId = "clip" + Math.random().toString(36).slice(2);
  const defs = svgEl("defs", {}, svg);
  const cp = svgEl("clipPath", { id: clipId }, defs);
  svgEl("rect", { x: m.l, y: m.t, width: plotW, height: plotH }, cp);
  const plot = svgEl("g", { "clip-path": `url(#${clipId})` }, svg);

  for (const r of spec.refLines || []) {
    if (!finite(r.y)) continue;
    svgEl("line", { x1: m.l, x2: m.l + plotW, y1: sy(r.y), y2: sy(r.y), class: "refline" }, plot);
    if (r.label) {
      // Above the line, or below it near the top of the plot.
      const y = sy(r.y) - m.t < 16 ? sy(r.y) + 13 : sy(r.y) - 4;
      const t = svgEl("text", { x: m.l + 6, y, class: "ref-label" }, plot);
      t.textContent = r.label;
    }
  }

  // Bands first, then lines, then points.
  const order = { band: 0, line: 1, points: 2 };
  const series = spec.series.slice().sort((a, b) => order[a.kind] - order[b.kind]);
  for (const s of series) {
    if (s.kind === "band") drawBand(plot, s, sx, sy);
    else if (s.kind === "line") drawLine(plot, s, sx, sy);
    else drawPoints(plot, s, sx, sy);
  }

  drawLegend(host, spec.series);
  if (spec.readout) addReadout(svg, spec, { m, plotW, plotH, sx, x0, x1 });
  return svg;
}

// segments splits indices into runs where every listed array is finite.
function segments(n, arrays) {
  const out = [];
  let cur = [];
  for (let i = 0; i < n; i++) {
    if (arrays.every((a) => finite(a[i]))) cur.push(i);
    else if (cur.length) { out.push(cur); cur = []; }
  }
  if (cur.length) out.push(cur);
  return out;
}

function drawLine(g, s, sx, sy) {
  for (const seg of segments(s.x.length, [s.x, s.y])) {
    const d = seg.map((i, k) => (k ? "L" : "M") + sx(s.x[i]).toFixed(1) + " " + sy(s.y[i]).toFixed(1)).join("");
    const attrs = { d, fill: "none", stroke: s.color, "stroke-width": s.width || 2, "stroke-linejoin": "round" };
    if (s.dash) attrs["stroke-dasharray"] = s.dash;
    svgEl("path", attrs, g);
    if (seg.length === 1) svgEl("circle", { cx: sx(s.x[seg[0]]), cy: sy(s.y[seg[0]]), r: 3, fill: s.color }, g);
  }
}

function drawBand(g, s, sx, sy) {
  for (const seg of segments(s.x.length, [s.x, s.lo, s.hi])) {
    let d = seg.map((i, k) => (k ? "L" : "M") + sx(s.x[i]).toFixed(1) + " " + sy(s.hi[i]).toFixed(1)).join("");
    d += seg.slice().reverse().map((i) => "L" + sx(s.x[i]).toFixed(1) + " " + sy(s.lo[i]).toFixed(1)).join("") + "Z";
    if (seg.length === 1) {
      const i = seg[0];
      svgEl("line", { x1: sx(s.x[i]), x2: sx(s.x[i]), y1: sy(s.lo[i]), y2: sy(s.hi[i]), stroke: s.color, "stroke-width": 6, opacity: s.opacity || 0.18 }, g);
      continue;
    }
    svgEl("path", { d, fill: s.color, opacity: s.opacity || 0.18, stroke: "none" }, g);
  }
}

function drawPoints(g, s, sx, sy) {
  const n = s.x.length;
  const r = n > 200 ? 2 : 3.5;
  for (let i = 0; i < n; i++) {
    if (s.lo && s.hi && finite(s.x[i]) && (finite(s.lo[i]) || finite(s.hi[i]))) {
      const lo = finite(s.lo[i]) ? s.lo[i] : s.y[i], hi = finite(s.hi[i]) ? s.hi[i] : s.y[i];
      if (finite(lo) && finite(hi)) {
        svgEl("line", { x1: sx(s.x[i]), x2: sx(s.x[i]), y1: sy(lo), y2: sy(hi), stroke: s.color, "stroke-width": 1.2 }, g);
      }
    }
    if (!finite(s.x[i]) || !finite(s.y[i])) continue;
    const cx = sx(s.x[i]), cy = sy(s.y[i]);
    if (s.shape === "square") {
      svgEl("rect", { x: cx - r, y: cy - r, width: 2 * r, height: 2 * r, fill: s.color }, g);
    } else if (s.shape === "diamond") {
      svgEl("path", { d: `M${cx} ${cy - r - 1}L${cx + r + 1} ${cy}L${cx} ${cy + r + 1}L${cx - r - 1} ${cy}Z`, fill: "white", stroke: s.color, "stroke-width": 1.5 }, g);
    } else {
      svgEl("circle", { cx, cy, r, fill: s.color }, g);
    }
  }
}

// hasData reports whether a series has a point to draw.
function hasData(s) {
  const ys = s.kind === "band" ? [s.lo, s.hi] : [s.y];
  return s.x.some((x, i) => finite(x) && ys.every((a) => finite(a[i])));
}

// drawLegend lists the labelled series under the chart, as HTML so that
// long labels wrap instead of overlapping the plot.
function drawLegend(host, series) {
  const box = document.createElement("div");
  box.className = "legend";
  for (const s of series) {
    if (!s.label || !hasData(s)) continue;
    const item = document.createElement("span");
    item.className = "legend-item";
    const key = svgEl("svg", { width: 26, height: 12, class: "legend-key" }, item);
    if (s.kind === "band") svgEl("rect", { x: 1, y: 1, width: 24, height: 10, fill: s.color, opacity: Math.max(s.opacity || 0.18, 0.25) }, key);
    else if (s.kind === "line") {
      const a = { x1: 1, x2: 25, y1: 6, y2: 6, stroke: s.color, "stroke-width": s.width || 2 };
      if (s.dash) a["stroke-dasharray"] = s.dash;
      svgEl("line", a, key);
    } else if (s.shape === "diamond") svgEl("path", { d: "M13 1L18 6L13 11L8 6Z", fill: "white", stroke: s.color, "stroke-width": 1.5 }, key);
    else if (s.shape === "square") svgEl("rect", { x: 9, y: 2, width: 8, height: 8, fill: s.color }, key);
    else svgEl("circle", { cx: 13, cy: 6, r: 4, fill: s.color }, key);
    item.appendChild(document.createTextNode(s.label));
    box.appendChild(item);
  }
  if (box.childNodes.length) host.appendChild(box);
}

// addReadout shows, under the pointer, a rule at the nearest x and the
// lines spec.readout(x) returns for it.
function addReadout(svg, spec, geo) {
  const { m, plotW, plotH, sx, x0, x1 } = geo;
  const layer = svgEl("g", { class: "readout", visibility: "hidden" }, svg);
  const rule = svgEl("line", { y1: m.t, y2: m.t + plotH, class: "readout-rule" }, layer);
  const box = svgEl("rect", { class: "readout-box", rx: 3 }, layer);
  const text = svgEl("text", { class: "readout-text" }, layer);
  const hit = svgEl("rect", { x: m.l, y: m.t, width: plotW, height: plotH, fill: "transparent" }, svg);
  hit.addEventListener("mouseleave", () => layer.setAttribute("visibility", "hidden"));
  hit.addEventListener("mousemove", (ev) => {
    const pt = svg.createSVGPoint();
    pt.x = ev.clientX; pt.y = ev.clientY;
    const p = pt.matrixTransform(svg.getScreenCTM().inverse());
    let x = x0 + (p.x - m.l) / plotW * (x1 - x0);
    if (spec.integerX) x = Math.round(x);
    const lines = spec.readout(x);
    if (!lines || !lines.length) { layer.setAttribute("visibility", "hidden"); return; }
    layer.setAttribute("visibility", "visible");
    rule.setAttribute("x1", sx(x)); rule.setAttribute("x2", sx(x));
    text.textContent = "";
    lines.forEach((l, i) => {
      const ts = svgEl("tspan", { x: 0, dy: i ? 15 : 0 }, text);
      ts.textContent = l;
    });
    const bb = text.getBBox();
    let bx = sx(x) + 10;
    if (bx + bb.width + 12 > m.l + plotW) bx = sx(x) - bb.width - 22;
    const by = m.t + 8;
    text.setAttribute("transform", `translate(${bx + 6} ${by + 13})`);
    for (const ts of text.childNodes) ts.setAttribute("x", 0);
    box.setAttribute("x", bx); box.setAttribute("y", by);
    box.setAttribute("width", bb.width + 12); box.setAttribute("height", bb.height + 8);
  });
}
