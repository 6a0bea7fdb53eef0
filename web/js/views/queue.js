// #/queue: counts per status, throughput and duration per mode over time (GET /api/v1/tasks/stats/history,
// drawn as SVG), the workers with what each is running (GET /api/v1/workers; admins only with auth on), and
// the dead letters — failed tasks, with their last error — and a button that re-queues them all
// (GET /api/v1/dead-letters, POST /api/v1/dead-letters/retry), and
// the cron schedules with their next run, each paused or resumed in place (GET /api/v1/schedules).
// Refreshed every 5 s while open, and the counts at once on a task event.
import { api, enc, stream } from "../api.js";
import { el, progressBar, ago, when, duration } from "../dom.js";
import { setLive } from "../app.js";
import { lineChart, PALETTE } from "../charts.js";

const WINDOWS = [["15m", "15 min", "15s"], ["1h", "1 hour", "1m"], ["6h", "6 hours", "5m"], ["24h", "24 hours", "20m"]];

export function render(root) {
  let closed = false, windowKey = sessionStorage.getItem("wasmq.queue-window") || "1h";
  const counts = el("section", { id: "q-counts", class: "stats", "aria-label": "tasks per status" });
  const modes = el("div", { id: "q-modes", class: "table-wrap" });
  const charts = el("div", { id: "q-charts", class: "charts" });
  const workers = el("div", { id: "q-workers" });
  const dead = el("div", { id: "q-dead", class: "table-wrap" });
  const retryAll = el("button", { id: "q-dead-retry", type: "button", class: "secondary", text: "Retry all", hidden: true,
    onclick: async () => {
      retryAll.disabled = true;
      try { await api("/api/v1/dead-letters/retry", { method: "POST", body: {} }); } catch (_) { /* the list says */ }
      retryAll.disabled = false; loadDead(); loadStats();
    } });
  const schedules = el("div", { id: "q-schedules", class: "table-wrap" });
  const windowSel = el("select", { id: "q-window", onchange: (e) => {
    windowKey = e.target.value; sessionStorage.setItem("wasmq.queue-window", windowKey); loadHistory(); } },
  WINDOWS.map(([k, text]) => el("option", { value: k, text, selected: k === windowKey })));

  root.append(
    el("div", { class: "view-head" }, el("h1", { text: "Queue" })),
    counts,
    el("section", { class: "card" },
      el("div", { class: "card-head" }, el("h2", { text: "Throughput and duration" }),
        el("label", { for: "q-window", text: "Window" }), windowSel),
      charts),
    el("div", { class: "grid-2" },
      el("section", { class: "card" }, el("h2", { text: "Workers" }), workers),
      el("section", { class: "card" }, el("h2", { text: "Per mode" }), modes)),
    el("section", { class: "card" }, el("h2", { text: "Schedules" }), schedules),
    el("section", { class: "card" }, el("div", { class: "card-head" }, el("h2", { text: "Dead letters" }), retryAll), dead));

  async function loadDead() {
    try {
      const d = await api("/api/v1/dead-letters?page_size=20");
      if (closed) return;
      const ts = d.tasks || [];
      retryAll.hidden = !ts.length;
      dead.replaceChildren(ts.length ? el("table", { class: "stack" },
        el("thead", {}, el("tr", {}, ["task", "mode", "error", "attempts", "failed"].map((h) => el("th", { scope: "col", text: h })))),
        el("tbody", {}, ts.map((t) => el("tr", { "data-id": t.task_id },
          el("td", { class: "mono", "data-label": "task" }, el("a", { href: "#/tasks/" + enc(t.task_id), text: t.task_id })),
          el("td", { class: "mono", "data-label": "mode", text: t.mode }),
          el("td", { "data-label": "error", title: t.error?.message || "", text: t.error?.code || "—" }),
          el("td", { "data-label": "attempts", text: String((t.attempts || []).length || t.attempt || 0) }),
          el("td", { "data-label": "failed", text: ago(t.finished_at) }))))) :
        el("p", { class: "muted", text: d.total === 0 ? "No failed task." : "" }));
    } catch (e) {
      dead.replaceChildren(el("p", { class: "muted", text: "No dead letters: " + e.message }));
    }
  }

  async function loadStats() {
    try {
      const s = await api("/api/v1/tasks/stats");
      if (closed) return;
      const c = s.counts || {};
      const items = [["pending", c.pending ?? s.queue_length], ["delayed", s.delayed], ["processing", s.processing ?? c.processing],
        ["done", c.done], ["failed", c.failed], ["cancelled", c.cancelled]];
      counts.replaceChildren(...items.map(([k, v]) => el("a", { class: "stat " + k, href: "#/tasks?status=" + (k === "delayed" ? "pending" : k) },
        el("b", { text: String(v ?? 0) }), el("span", { text: k }))));
      const m = s.modes || {};
      const names = Object.keys(m);
      modes.replaceChildren(names.length ? el("table", {},
        el("thead", {}, el("tr", {}, ["mode", "done", "failed", "mean", "p95"].map((h) => el("th", { scope: "col", text: h })))),
        el("tbody", {}, names.map((n) => {
          const d = m[n] || {};
          const pick = (...ks) => { for (const k of ks) if (d[k] !== undefined) return d[k]; return undefined; };
          return el("tr", {}, el("td", { class: "mono", "data-label": "mode" }, el("a", { href: "#/tasks?mode=" + enc(n), text: n })),
            el("td", { "data-label": "done", text: String(pick("done", "count") ?? "—") }),
            el("td", { "data-label": "failed", text: String(pick("failed") ?? "—") }),
            el("td", { "data-label": "mean", text: duration(pick("mean_ms", "avg_ms", "mean")) }),
            el("td", { "data-label": "p95", text: duration(pick("p95_ms", "p95")) }));
        }))) : el("p", { class: "muted", text: "No finished tasks yet." }));
    } catch (_) { /* shown elsewhere */ }
  }

  async function loadHistory() {
    const [, , step] = WINDOWS.find(([k]) => k === windowKey) || WINDOWS[1];
    try {
      const h = await api(`/api/v1/tasks/stats/history?window=${windowKey}&step=${step}`);
      if (closed) return;
      const from = new Date(h.from).getTime(), to = new Date(h.to).getTime();
      const perMin = 60000 / (h.step_ms || 60000);
      const series = h.series || [];
      const color = (i) => PALETTE[i % PALETTE.length];
      const tp = series.map((s, i) => ({ name: s.mode, color: color(i),
        points: s.points.map((p) => ({ t: new Date(p.at).getTime(), v: ((p.done || 0) + (p.failed || 0)) * perMin })) }));
      const fail = series.filter((s) => s.points.some((p) => p.failed)).map((s) => ({ name: s.mode + " failed", dashed: true,
        color: color(series.indexOf(s)), points: s.points.map((p) => ({ t: new Date(p.at).getTime(), v: (p.failed || 0) * perMin })) }));
      const dur = series.flatMap((s, i) => [
        // A step without a done task has no duration (the API says 0): a gap, not a fall to zero.
        { name: s.mode + " mean", color: color(i), points: s.points.map((p) => ({ t: new Date(p.at).getTime(), v: p.done ? p.mean_ms : null })) },
        { name: s.mode + " p95", color: color(i), dashed: true, points: s.points.map((p) => ({ t: new Date(p.at).getTime(), v: p.done ? p.p95_ms : null })) }]);
      const fmtMs = (v) => (v >= 1000 ? (v / 1000).toFixed(v >= 10000 ? 0 : 1) + " s" : Math.round(v) + " ms");
      const fmtRate = (v) => (v >= 10 ? Math.round(v) : Math.round(v * 10) / 10).toString();
      charts.replaceChildren(
        el("div", {}, el("h3", { text: "Finished per minute" }),
          lineChart({ series: [...tp, ...fail], from, to, label: "Tasks finished per minute, per mode", format: fmtRate, unit: "/min" })),
        el("div", {}, el("h3", { text: "Duration" }),
          lineChart({ series: dur, from, to, label: "Task duration per mode, mean and p95", format: fmtMs })));
    } catch (e) {
      charts.replaceChildren(el("p", { class: "muted", text: "No history: " + e.message }));
    }
  }

  async function loadWorkers() {
    try {
      const d = await api("/api/v1/workers");
      if (closed) return;
      const ws = d.workers || [];
      if (!ws.length) return workers.replaceChildren(el("p", { class: "muted", text: "No worker has reported recently." }));
      workers.replaceChildren(el("ul", { class: "workers" }, ws.map((w) => el("li", { class: "worker", "data-id": w.id },
        el("div", { class: "worker-head" }, el("b", { class: "mono", text: w.id }),
          el("span", { class: "muted", text: ` ${w.running ? w.running.length : 0}/${w.concurrency ?? "?"} busy · heartbeat ${ago(w.last_heartbeat)}` })),
        el("div", { class: "muted small", text: `host ${w.host ?? "?"} · pid ${w.pid ?? "?"} · up since ${when(w.started_at)}` }),
        (w.running || []).length ? el("ul", { class: "running" }, w.running.map((r) => el("li", {},
          el("a", { class: "mono", href: "#/tasks/" + enc(r.task_id), text: r.task_id }), " ",
          el("span", { class: "muted", text: r.mode }), progressBar("processing", r.progress, "progress of " + r.task_id)))) :
          el("p", { class: "muted small", text: "idle" })))));
    } catch (e) {
      workers.replaceChildren(el("p", { class: "muted", text: e.status === 403 ? "Only admins see the workers." : "No worker list: " + e.message }));
    }
  }

  async function loadSchedules() {
    try {
      const d = await api("/api/v1/schedules");
      if (closed) return;
      const list = d.schedules || [];
      if (!list.length) return schedules.replaceChildren(el("p", { class: "muted", text: "No schedules. POST /api/v1/schedules or `wasmq schedule create` makes one." }));
      const toggle = async (s) => {
        try { await api(`/api/v1/schedules/${enc(s.schedule_id)}/${s.paused ? "resume" : "pause"}`, { method: "POST" }); } catch (_) { /* the next load shows the state */ }
        loadSchedules();
      };
      schedules.replaceChildren(el("table", { class: "schedules stack" },
        el("thead", {}, el("tr", {}, ["schedule", "cron", "time zone", "mode", "next run", "last task", ""].map((h) => el("th", { scope: "col", text: h })))),
        el("tbody", {}, list.map((s) => el("tr", { class: "schedule" + (s.paused ? " paused" : ""), "data-id": s.schedule_id },
          el("td", { class: "mono", "data-label": "schedule", text: s.schedule_id }),
          el("td", { class: "mono", "data-label": "cron", text: s.cron }),
          el("td", { "data-label": "time zone", text: s.timezone }),
          el("td", { class: "mono", "data-label": "mode", text: (s.task || {}).mode || "—" }),
          el("td", { class: "next-run", "data-label": "next run", text: s.paused ? "paused" : (s.next_runs || [])[0] || "—" }),
          el("td", { "data-label": "last task" }, s.last_task_id ? el("a", { class: "mono", href: "#/tasks/" + enc(s.last_task_id), text: s.last_task_id }) : el("span", { class: "muted", text: "none yet" })),
          el("td", {}, el("button", { type: "button", class: "small", text: s.paused ? "Resume" : "Pause", onclick: () => toggle(s) })))))));
    } catch (e) {
      schedules.replaceChildren(el("p", { class: "muted", text: "No schedule list: " + e.message }));
    }
  }

  let soon = null;
  const socket = stream("/api/v1/ws", { onState: setLive, onMessage: (m) => {
    if (m.type === "snapshot" || soon) return;
    soon = setTimeout(() => { soon = null; loadStats(); if (m.type === "progress" || m.type === "status") loadWorkers(); }, 500);
  } });
  const tick = setInterval(() => { loadStats(); loadWorkers(); loadHistory(); loadDead(); loadSchedules(); }, 5000);
  loadStats(); loadHistory(); loadWorkers(); loadDead(); loadSchedules();
  return () => { closed = true; socket.close(); clearInterval(tick); clearTimeout(soon); };
}
