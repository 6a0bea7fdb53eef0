// Line charts drawn as SVG by the page itself (no library, nothing from a CDN). One chart: several series
// over the same time axis, a y axis from 0 with round ticks, a legend, and a <title> per point for hover.
// The SVG carries role="img" and a text summary in aria-label, and a table fallback follows for screen
// readers (the caller's).
import { svg, el } from "./dom.js";

export const PALETTE = ["#3b5bdb", "#e8590c", "#2b8a3e", "#ae3ec9", "#1098ad", "#c92a2a", "#5c940d", "#862e9c"];

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

// series: [{name, color, dashed, points: [{t: ms, v: number|null}]}]; from/to: ms.
export function lineChart({ series, from, to, unit = "", label, format = (v) => String(v) }) {
  // L leaves room for the widest tick ("500 ms") at the phone layout's larger tick font.
  const W = 640, H = 220, L = 84, R = 12, T = 12, B = 28;
  const all = series.flatMap((s) => s.points.map((p) => p.v)).filter((v) => v !== null && v !== undefined);
  const max = niceMax(Math.max(0, ...all));
  const x = (t) => L + ((t - from) / Math.max(1, to - from)) * (W - L - R);
  const y = (v) => T + (1 - v / max) * (H - T - B);
  const g = [];
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    g.push(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }),
      svg("text", { x: L - 6, y: y(v) + 4, class: "tick", "text-anchor": "end" }, format(v)));
  }
  for (let i = 0; i <= 4; i++) {
    const t = from + ((to - from) * i) / 4;
    const d = new Date(t);
    // The 2nd and 4th labels are "minor": the phone layout's larger font has room for three only.
    g.push(svg("text", { x: x(t), y: H - 8, class: i % 2 ? "tick minor" : "tick", "text-anchor": i === 0 ? "start" : i === 4 ? "end" : "middle" },
      d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })));
  }
  const lines = series.map((s) => {
    const pts = s.points.filter((p) => p.v !== null && p.v !== undefined);
    const d = pts.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join("");
    return svg("g", { class: "series" },
      svg("path", { d, fill: "none", stroke: s.color, "stroke-width": 2, "stroke-dasharray": s.dashed ? "5 4" : null,
        "stroke-linejoin": "round" }),
      pts.filter((p) => p.v > 0).map((p) => svg("circle", { cx: x(p.t), cy: y(p.v), r: 3.5, fill: s.color },
        svg("title", {}, `${s.name}: ${format(p.v)}${unit} at ${new Date(p.t).toLocaleTimeString()}`))));
  });
  const summary = series.map((s) => {
    const vs = s.points.map((p) => p.v).filter((v) => v !== null && v !== undefined);
    return vs.length ? `${s.name}: last ${format(vs[vs.length - 1])}${unit}, max ${format(Math.max(...vs))}${unit}` : `${s.name}: no data`;
  }).join("; ");
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img",
    "aria-label": `${label}. ${summary || "no data"}` },
  g, lines, !all.length ? svg("text", { x: W / 2, y: H / 2, class: "nodata", "text-anchor": "middle" }, "no finished tasks in this window") : null);
  const legend = el("ul", { class: "legend" }, series.map((s) =>
    el("li", {}, el("span", { class: "swatch" + (s.dashed ? " dashed" : ""), "data-color": s.color }), s.name)));
  for (const [i, li] of [...legend.children].entries()) li.firstChild.style.borderColor = series[i].color;
  return el("figure", { class: "chart-box" }, chart, legend);
}
