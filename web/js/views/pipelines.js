// #/pipelines: every registered pipeline module with where it came from, its digest and size, what it
// imports, who signed it and what trust decided, and the engine's tier for it. Also the shared list the
// other views read modes and config schemas from (GET /api/v1/pipelines, read once per page load).
import { api } from "../api.js";
import { el, bytes } from "../dom.js";
import { toast } from "../app.js";

let cached = null;
export function pipelineList() {
  if (!cached) {
    cached = api("/api/v1/pipelines").then((d) => d.pipelines || []);
    cached.catch(() => { cached = null; });
  }
  return cached;
}
export const pipelineModes = () => pipelineList().then((ps) => ps.map((p) => p.mode)).catch(() => []);

const TRUST_HELP = {
  trusted: "signature verified against a trusted key",
  unsigned: "no signature found; allowed by the trust policy",
  denied: "refused by the trust policy",
  "not-checked": "no trust policy applies (built in or trust off)",
};

export function render(root) {
  const list = el("div", { class: "pipelines", id: "pipelines" }, el("p", { class: "muted", text: "Loading…" }));
  root.append(el("div", { class: "view-head" }, el("h1", { text: "Pipelines and trust" })), list);
  pipelineList().then((ps) => {
    if (!ps.length) return list.replaceChildren(el("p", { class: "empty", text: "No pipelines registered." }));
    list.replaceChildren(...ps.map(card));
  }, (e) => { list.replaceChildren(el("p", { class: "empty", text: "Cannot list the pipelines: " + e.message })); toast(e.message); });
}

function card(p) {
  const props = (p.config_schema && p.config_schema.properties) || {};
  const imports = p.imports || [];
  const byModule = {};
  for (const i of imports) { const [m, ...f] = i.split("."); (byModule[m] = byModule[m] || []).push(f.join(".")); }
  return el("article", { class: "card pipeline", "data-mode": p.mode, "aria-labelledby": "p-" + p.mode },
    el("div", { class: "pipeline-head" },
      el("h2", { id: "p-" + p.mode, class: "mono", text: p.mode }),
      el("span", { class: "badge trust-" + (p.trust || "not-checked"), title: TRUST_HELP[p.trust] || "", text: p.trust || "not-checked" }),
      el("span", { class: "badge tier-" + (p.tier || "interpreted"), text: p.tier || "interpreted" })),
    p.description ? el("p", { text: p.description }) : null,
    el("dl", { class: "facts" },
      el("dt", { text: "source" }), el("dd", { class: "mono", text: p.source || "—" }),
      el("dt", { text: "digest" }), el("dd", { class: "mono digest", text: p.digest || "—" }),
      el("dt", { text: "size" }), el("dd", { text: bytes(p.size) }),
      el("dt", { text: "signer" }), el("dd", { class: "mono", text: p.signer || "none" }),
      el("dt", { text: "trust" }), el("dd", { text: `${p.trust || "not-checked"} — ${TRUST_HELP[p.trust] || ""}` }),
      el("dt", { text: "config" }), el("dd", { text: Object.keys(props).length ? Object.keys(props).join(", ") : "no schema published" })),
    el("details", {}, el("summary", { text: `${imports.length} import${imports.length === 1 ? "" : "s"}` }),
      el("ul", { class: "imports" }, Object.entries(byModule).map(([m, fs]) =>
        el("li", {}, el("b", { class: "mono", text: m }), " ", el("span", { class: "mono muted", text: fs.join(", ") }))))),
    el("details", {}, el("summary", { text: "Config schema" }),
      el("pre", { class: "code", text: JSON.stringify(p.config_schema || { type: "object" }, null, 2) })),
    el("p", {}, el("a", { href: "#/create?mode=" + encodeURIComponent(p.mode), text: "Create a task with " + p.mode + " →" })));
}
