// Small DOM helpers. Content from the API is always inserted as text (textContent, attributes), never HTML.

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

// el("a", {href: "#/", class: "x", text: "hi", onclick: f, "aria-label": "..."}, child, ...)
export function el(tag, props = {}, ...children) {
  const e = tag.includes(":") || tag === "svg" ? document.createElementNS("http://www.w3.org/2000/svg", tag.replace("svg:", ""))
    : document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") e.textContent = v;
    else if (k === "class") e.setAttribute("class", v);
    else if (k.startsWith("on") && typeof v === "function") e.addEventListener(k.slice(2), v);
    else if (k in e && !(e instanceof SVGElement) && typeof v !== "string") e[k] = v;
    else if (k === "value" || k === "checked") e[k] = v;
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) e.append(c);
  return e;
}

export const svg = (tag, props = {}, ...children) => el("svg:" + tag, props, ...children);

export function when(iso) { return iso ? new Date(iso).toLocaleString() : "—"; }

export function ago(iso) {
  if (!iso) return "—";
  const s = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  if (s < 60) return `${Math.max(0, s)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(iso).toLocaleDateString();
}

export function duration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
  return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
}

export function bytes(n) {
  if (n === null || n === undefined) return "—";
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

export const TERMINAL = ["done", "failed", "cancelled"];

export function badge(status) { return el("span", { class: "badge " + status, text: status }); }

// A progress bar with its ARIA role; update() repaints it without replacing the node.
export function progressBar(status, progress, label) {
  const fill = el("div", { class: "fill" });
  const bar = el("div", { class: "bar", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100,
    "aria-label": label || "progress" }, fill);
  bar.update = (s, p) => {
    const v = s === "done" ? 100 : Math.max(0, Math.min(100, Math.round(p || 0)));
    bar.setAttribute("class", "bar " + s);
    bar.setAttribute("aria-valuenow", v);
    bar.setAttribute("aria-valuetext", `${v}% ${s}`);
    fill.style.width = v + "%";
  };
  bar.update(status, progress);
  return bar;
}

const IMAGE = /\.(png|jpe?g|webp|gif|bmp)$/i;
export const isImageName = (name) => IMAGE.test(name || "");

// Announces `text` to screen readers through the page's polite live region.
export function announce(text) {
  const r = document.getElementById("announcer");
  if (r) r.textContent = text;
}
