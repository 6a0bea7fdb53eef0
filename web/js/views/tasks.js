// #/tasks: the caller's tasks, newest first, with live status and progress from /api/v1/ws. Filters (status,
// mode, user for admins) and the page live in the hash (#/tasks?status=failed&page=2) so a filtered list
// can be bookmarked and Back works. "Go to task" opens a task by id.
import { api, enc, isAdmin, stream, ApiError } from "../api.js";
import { el, badge, progressBar, ago, when, announce, TERMINAL } from "../dom.js";
import { setLive, toast } from "../app.js";
import { pipelineModes } from "./pipelines.js";

const PAGE_SIZE = 20;
const STATUSES = ["pending", "processing", "done", "failed", "cancelled"];

function readQuery(q) {
  const p = new URLSearchParams(q || "");
  return { status: p.get("status") || "", mode: p.get("mode") || "", user: p.get("user") || "",
    page: Math.max(1, Number(p.get("page")) || 1) };
}

function writeQuery(f) {
  const p = new URLSearchParams();
  for (const k of ["status", "mode", "user"]) if (f[k]) p.set(k, f[k]);
  if (f.page > 1) p.set("page", f.page);
  const s = p.toString();
  location.hash = "#/tasks" + (s ? "?" + s : "");
}

export function render(root, query) {
  const f = readQuery(query);
  const admin = isAdmin();
  const rows = new Map();  // task_id → {summary, tr, bar, badgeCell, step}
  let loading = true, held = [], reloadTimer = null, closed = false;

  const statusSel = el("select", { id: "filter-status", onchange: (e) => writeQuery({ ...f, status: e.target.value, page: 1 }) },
    el("option", { value: "", text: "any status" }),
    STATUSES.map((s) => el("option", { value: s, text: s, selected: f.status === s })));
  const modeSel = el("select", { id: "filter-mode", onchange: (e) => writeQuery({ ...f, mode: e.target.value, page: 1 }) },
    el("option", { value: "", text: "any mode" }), f.mode ? el("option", { value: f.mode, text: f.mode, selected: true }) : null);
  pipelineModes().then((modes) => {
    for (const m of modes) if (m !== f.mode) modeSel.append(el("option", { value: m, text: m }));
  });
  const userInput = admin ? el("input", { id: "filter-user", value: f.user, placeholder: "any user", size: 10,
    onchange: (e) => writeQuery({ ...f, user: e.target.value.trim(), page: 1 }) }) : null;
  const search = el("input", { id: "search-id", type: "search", placeholder: "task_…", autocomplete: "off",
    spellcheck: false });
  const searchForm = el("form", { class: "search", role: "search", onsubmit: async (e) => {
    e.preventDefault();
    const id = search.value.trim();
    if (!id) return;
    try {
      await api("/api/v1/tasks/" + enc(id));
      location.hash = "#/tasks/" + enc(id);
    } catch (err) {
      toast(err instanceof ApiError && err.status === 404 ? `No task ${id} (or not yours).` : err.message);
    }
  } }, el("label", { for: "search-id", text: "Task id" }), search, el("button", { type: "submit", text: "Go" }));

  const tbody = el("tbody", { id: "tasks" });
  const empty = el("p", { id: "empty", class: "empty", hidden: true });
  const info = el("span", { id: "page-info", class: "muted" });
  const prev = el("button", { id: "prev", type: "button", class: "secondary", text: "← Newer", disabled: f.page <= 1,
    onclick: () => writeQuery({ ...f, page: f.page - 1 }) });
  const next = el("button", { id: "next", type: "button", class: "secondary", text: "Older →", disabled: true,
    onclick: () => writeQuery({ ...f, page: f.page + 1 }) });
  const stats = el("section", { id: "stats", class: "stats", "aria-label": "task counts" });

  root.append(
    el("div", { class: "view-head" }, el("h1", { text: "Tasks" }),
      el("a", { href: "#/create", class: "button", text: "New task" })),
    stats,
    el("section", { class: "card" },
      el("div", { class: "filters" },
        el("label", { for: "filter-status", text: "Status" }), statusSel,
        el("label", { for: "filter-mode", text: "Mode" }), modeSel,
        admin ? [el("label", { for: "filter-user", text: "User" }), userInput] : null,
        el("span", { class: "spacer" }), searchForm),
      el("div", { class: "table-wrap" },
        el("table", { class: "tasks" },
          el("caption", { class: "sr-only", text: "Tasks, newest first" }),
          el("thead", {}, el("tr", {},
            el("th", { scope: "col", text: "Task" }), el("th", { scope: "col", text: "Mode" }),
            el("th", { scope: "col", text: "Status" }), el("th", { scope: "col", class: "progress-col", text: "Progress" }),
            el("th", { scope: "col", text: "Created" }))),
          tbody)),
      empty,
      el("nav", { class: "pager", "aria-label": "pages" }, prev, info, next)));

  function row(t) {
    const bar = progressBar(t.status, t.progress, `progress of ${t.task_id}`);
    const step = el("div", { class: "step muted", text: t.current_step || "" });
    const badgeCell = el("td", { "data-label": "Status" }, badge(t.status));
    const tr = el("tr", { "data-id": t.task_id },
      el("td", { "data-label": "Task" }, el("a", { href: "#/tasks/" + enc(t.task_id), class: "mono", text: t.task_id })),
      el("td", { "data-label": "Mode", text: t.mode }),
      badgeCell,
      el("td", { "data-label": "Progress" }, bar, step),
      el("td", { "data-label": "Created", class: "muted", title: when(t.created_at), text: ago(t.created_at) }));
    return { summary: t, tr, bar, badgeCell, step };
  }

  async function load() {
    const q = new URLSearchParams({ page: f.page, page_size: PAGE_SIZE });
    for (const k of ["status", "mode"]) if (f[k]) q.set(k, f[k]);
    if (admin && f.user) q.set("user", f.user);
    loading = true;
    try {
      const data = await api("/api/v1/tasks?" + q);
      if (closed) return;
      rows.clear();
      tbody.replaceChildren(...data.tasks.map((t) => { const r = row(t); rows.set(t.task_id, r); return r.tr; }));
      const filtered = f.status || f.mode || f.user;
      empty.hidden = data.tasks.length > 0;
      empty.replaceChildren(filtered ? "No task matches these filters." : "No tasks yet. ",
        filtered ? "" : el("a", { href: "#/create", text: "Create one." }));
      const pages = Math.max(1, Math.ceil(data.total / PAGE_SIZE));
      info.textContent = `page ${data.page} of ${pages} · ${data.total} task${data.total === 1 ? "" : "s"}`;
      prev.disabled = f.page <= 1;
      next.disabled = !data.has_more;
    } catch (e) {
      toast(e.message);
    } finally {
      loading = false;
      const h = held; held = [];
      for (const e of h) apply(e);
    }
  }

  async function loadStats() {
    try {
      const s = await api("/api/v1/tasks/stats");
      if (closed) return;
      const items = [["pending", s.counts.pending ?? s.queue_length], ["processing", s.processing]];
      for (const k of ["done", "failed", "cancelled"]) items.push([k, s.counts[k] ?? 0]);
      stats.replaceChildren(...items.map(([k, v]) => el("a", { class: "stat " + k, href: "#/tasks?status=" + k,
        "aria-label": `${v} ${k}` }, el("b", { text: String(v ?? 0) }), el("span", { text: k }))));
    } catch (_) { /* the list shows the error */ }
  }

  let statsTimer = null;
  const statsSoon = () => { if (!statsTimer) statsTimer = setTimeout(() => { statsTimer = null; loadStats(); }, 400); };
  const reloadSoon = () => { clearTimeout(reloadTimer); loading = true; reloadTimer = setTimeout(load, 250); };

  // One event of /api/v1/ws: repaint the row in place, or reload when the page's set of rows changes.
  function apply(e) {
    const r = rows.get(e.task_id);
    const matches = (!f.status || f.status === e.status) && (!f.mode || !e.mode || f.mode === e.mode);
    if (!r) {
      if (e.type === "created" && f.page === 1 && matches && !f.user) reloadSoon();
      return;
    }
    if (!matches) return reloadSoon();
    const t = r.summary;
    if (t.updated_at && e.at && e.at < t.updated_at) return;  // the page was read after this event
    const was = t.status;
    for (const k of ["status", "progress", "current_step"]) if (e[k] !== undefined) t[k] = e[k];
    if (e.at) t.updated_at = e.at;
    r.bar.update(t.status, t.progress);
    r.step.textContent = t.current_step || "";
    if (was !== t.status) {
      r.badgeCell.replaceChildren(badge(t.status));
      if (TERMINAL.includes(t.status) || t.status === "processing") announce(`${t.task_id} ${t.status}`);
    }
  }

  const socket = stream("/api/v1/ws", {
    onState: setLive,
    onMessage: (m) => {
      if (m.type === "snapshot") return;
      statsSoon();
      if (loading) held.push(m); else apply(m);
    },
  });
  load();
  loadStats();
  return () => { closed = true; socket.close(); clearTimeout(reloadTimer); clearTimeout(statsTimer); };
}


