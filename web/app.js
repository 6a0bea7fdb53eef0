// wasmq dashboard: plain JavaScript, no build step. Served by `wasmq serve` at /.
//
// Views (hash routes): #/ the task list with the submit form, #/tasks/<id> one task. Live updates come from
// the API's WebSockets: /api/v1/ws for the list (every task of the caller), /api/v1/tasks/<id>/ws for a
// task. With auth on, the token (a JWT) is kept in localStorage and sent as a Bearer header, or as ?token=
// on WebSockets, which cannot carry headers. Content from the API is always inserted as text, never HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const PAGE_SIZE = 20;
const state = { page: 1, status: "", mode: "", tasks: new Map(), order: [], listSocket: null, taskSocket: null, retry: 0,
  loading: 0, buffered: [] };

// ---- API ------------------------------------------------------------------------------------------------

function token() { return localStorage.getItem("wasmq.token") || ""; }

class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

async function api(path, { method = "GET", body, type } = {}) {
  const headers = {};
  if (token()) headers.Authorization = "Bearer " + token();
  if (body !== undefined) headers["Content-Type"] = type || "application/json";
  const res = await fetch(path, { method, headers, body: type || body === undefined ? body : JSON.stringify(body) });
  let json = null;
  try { json = await res.json(); } catch (_) { /* not JSON */ }
  if (!res.ok || !json || !json.success) {
    const err = (json && json.error) || { code: "HTTP_" + res.status, message: res.statusText };
    if (res.status === 401) needToken(err.message);
    throw new ApiError(res.status, err.code, err.message);
  }
  return json.data;
}

async function blobUrl(path) {
  const headers = token() ? { Authorization: "Bearer " + token() } : {};
  const res = await fetch(path, { headers });
  if (!res.ok) throw new ApiError(res.status, "HTTP_" + res.status, "cannot load " + path);
  return URL.createObjectURL(await res.blob());
}

function socketUrl(path) {
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  return scheme + location.host + path + (token() ? "?token=" + encodeURIComponent(token()) : "");
}

// ---- Messages and auth ----------------------------------------------------------------------------------

function show(message) {
  const el = $("message");
  el.textContent = message || "";
  el.hidden = !message;
}

function needToken(reason) {
  $("token-form").hidden = false;
  show("Authentication needed: " + reason);
}

function setupToken() {
  $("forget-token").hidden = !token();
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    localStorage.setItem("wasmq.token", $("token").value.trim());
    $("token").value = "";
    $("token-form").hidden = true;
    $("forget-token").hidden = false;
    show("");
    route();
  });
  $("forget-token").addEventListener("click", () => {
    localStorage.removeItem("wasmq.token");
    location.reload();
  });
}

// ---- Small DOM helpers ----------------------------------------------------------------------------------

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  Object.assign(e, props);
  for (const c of children) e.append(c);
  return e;
}

function when(iso) { return iso ? new Date(iso).toLocaleString() : "—"; }

function paintBar(bar, status, progress) {
  bar.className = "bar" + (bar.classList.contains("big") ? " big" : "") + " " + status;
  bar.firstElementChild.style.width = Math.max(0, Math.min(100, progress || 0)) + "%";
}

function badge(status) { return el("span", { className: "badge " + status, textContent: status }); }

// ---- Stats ----------------------------------------------------------------------------------------------

let statsTimer = null;
function refreshStatsSoon() {
  if (statsTimer) return;
  statsTimer = setTimeout(async () => {
    statsTimer = null;
    try {
      const s = await api("/api/v1/tasks/stats");
      const items = [["queued", s.queue_length], ["processing", s.processing]];
      for (const k of ["done", "failed", "cancelled"]) items.push([k, s.counts[k]]);
      $("stats").replaceChildren(...items.map(([k, v]) => el("div", { className: "stat" }, el("b", { textContent: v }), k)));
    } catch (_) { /* shown by the list */ }
  }, 300);
}

// ---- The list -------------------------------------------------------------------------------------------

function row(t) {
  const bar = el("div", { className: "bar" }, el("div"));
  paintBar(bar, t.status, t.progress);
  const tr = el("tr", {},
    el("td", {}, el("a", { href: "#/tasks/" + encodeURIComponent(t.task_id), textContent: t.task_id })),
    el("td", { textContent: t.mode }),
    el("td", {}, badge(t.status)),
    el("td", {}, bar, el("div", { className: "muted", textContent: t.current_step || "" })),
    el("td", { className: "muted", textContent: when(t.created_at) }));
  tr.dataset.id = t.task_id;
  return tr;
}

function renderList() {
  const rows = state.order.map((id) => row(state.tasks.get(id)));
  $("tasks").replaceChildren(...rows);
  $("empty").hidden = rows.length > 0;
}

// Events that arrive while a page of the list loads are held and applied to the page once it is in: the
// page may have been read before them (then they update it) or after (then they are older and skipped).
let listLoading = null;
async function loadList() {
  const q = new URLSearchParams({ page: state.page, page_size: PAGE_SIZE });
  if (state.status) q.set("status", state.status);
  if (state.mode) q.set("mode", state.mode);
  const mine = listLoading = api("/api/v1/tasks?" + q);
  state.loading++;
  try {
    const data = await mine;
    if (mine !== listLoading) return;  // a newer load started
    state.tasks = new Map(data.tasks.map((t) => [t.task_id, t]));
    state.order = data.tasks.map((t) => t.task_id);
    renderList();
    const held = state.buffered;
    state.buffered = [];
    state.loading = 0;
    for (const e of held) applyListEvent(e);
    const pages = Math.max(1, Math.ceil(data.total / PAGE_SIZE));
    $("page-info").textContent = `page ${data.page} of ${pages} · ${data.total} tasks`;
    $("prev").disabled = state.page <= 1;
    $("next").disabled = !data.has_more;
    show("");
  } catch (e) {
    show(e.message);
  } finally {
    if (mine === listLoading) state.loading = 0;
  }
  refreshStatsSoon();
}

let reloadTimer = null;
function reloadListSoon() {
  clearTimeout(reloadTimer);
  state.loading++;  // hold events from now: the new page may not have their task yet
  reloadTimer = setTimeout(loadList, 200);
}

// An event from /api/v1/ws: update the row in place, or reload the page when the set of rows changes.
function onListEvent(e) {
  refreshStatsSoon();
  if (state.loading) return void state.buffered.push(e);
  applyListEvent(e);
}

function applyListEvent(e) {
  const t = state.tasks.get(e.task_id);
  const matches = (!state.status || state.status === e.status) && (!state.mode || state.mode === e.mode);
  if (!t) {
    if (e.type === "created" && state.page === 1 && matches) reloadListSoon();
    return;
  }
  if (!matches) return reloadListSoon();
  if (t.updated_at && e.at && e.at < t.updated_at) return;  // the page is newer than the event
  Object.assign(t, { status: e.status, progress: e.progress, current_step: e.current_step, updated_at: e.at });
  const old = $("tasks").querySelector(`tr[data-id="${CSS.escape(e.task_id)}"]`);
  if (old) old.replaceWith(row(t));
}

// ---- WebSockets -----------------------------------------------------------------------------------------

function live(on) {
  $("live").className = "live " + (on ? "on" : "off");
  $("live").textContent = on ? "live" : "offline";
}

// Opens `path`, hands every message to `onMessage`, and reconnects with backoff unless `keep()` says stop.
function stream(path, onMessage, keep, onFinished) {
  const ws = new WebSocket(socketUrl(path));
  ws.onopen = () => { state.retry = 0; live(true); };
  ws.onmessage = (m) => {
    let msg;
    try { msg = JSON.parse(m.data); } catch (_) { return; }
    onMessage(msg);
  };
  ws.onclose = (ev) => {
    live(false);
    if (ev.code === 1000 && onFinished) return onFinished();
    if (!keep(ws)) return;
    const delay = Math.min(30000, 500 * 2 ** state.retry++);
    setTimeout(() => { if (keep(ws)) replace(stream(path, onMessage, keep, onFinished)); }, delay);
  };
  const replace = (next) => {
    if (state.listSocket === ws) state.listSocket = next;
    if (state.taskSocket === ws) state.taskSocket = next;
  };
  return ws;
}

function closeSockets() {
  for (const k of ["listSocket", "taskSocket"]) {
    const ws = state[k];
    state[k] = null;
    if (ws) ws.close();
  }
}

// ---- Submitting -----------------------------------------------------------------------------------------

async function submit(e) {
  e.preventDefault();
  const button = $("submit-button");
  button.disabled = true;
  try {
    let config;
    try { config = JSON.parse($("config").value || "{}"); } catch (err) { throw new Error("Config is not JSON: " + err.message); }
    const body = { mode: $("mode").value.trim(), priority: Number($("priority").value || 0), config };
    const file = $("image").files[0];
    if (file) {
      const uploaded = await api("/api/v1/files", { method: "POST", body: file, type: file.type || "application/octet-stream" });
      body.source_image = uploaded.file_id;
    }
    const task = await api("/api/v1/tasks", { method: "POST", body });
    $("image").value = "";
    location.hash = "#/tasks/" + encodeURIComponent(task.task_id);
  } catch (err) {
    show(err.message);
  } finally {
    button.disabled = false;
  }
}

// ---- One task -------------------------------------------------------------------------------------------

let current = null;  // the TaskInfo shown

function renderTask(t) {
  current = t;
  $("d-id").textContent = t.task_id;
  $("d-status").replaceWith(Object.assign(badge(t.status), { id: "d-status" }));
  paintBar($("d-bar").parentElement, t.status, t.progress);
  $("d-pct").textContent = (t.progress || 0) + "%";
  $("d-step").textContent = t.current_step || "";
  const fields = [["mode", t.mode], ["priority", t.priority], ["attempt", `${t.attempt} of ${1 + t.max_retries}`],
    ["created", when(t.created_at)], ["started", when(t.started_at)], ["finished", when(t.finished_at)],
    ["config", JSON.stringify(t.config)]];
  if (t.user_id) fields.unshift(["user", t.user_id]);
  if (t.result && t.result.output !== null && t.result.output !== undefined)
    fields.push(["output", typeof t.result.output === "string" ? t.result.output : JSON.stringify(t.result.output)]);
  $("d-fields").replaceChildren(...fields.flatMap(([k, v]) => [el("dt", { textContent: k }), el("dd", { textContent: String(v) })]));
  $("d-cancel").hidden = !["pending", "processing"].includes(t.status);
  const err = t.error && t.status !== "done" ? `${t.error.code}: ${t.error.message}` + (t.error.stderr ? "\n\n" + t.error.stderr : "") : "";
  $("d-error").textContent = err;
  $("d-error").hidden = !err;
  renderFiles(t);
}

let shownFiles = "";
async function renderFiles(t) {
  const urls = (t.result && t.result.output_urls) || [];
  const key = t.task_id + "|" + (t.source_image || "") + "|" + urls.join(",");
  if (key === shownFiles) return;
  shownFiles = key;
  const figures = [];
  const add = async (label, path, image) => {
    try {
      const url = await blobUrl(path);
      const link = el("a", { href: url, textContent: label, download: label });
      figures.push(image ? el("figure", {}, el("img", { src: url, alt: label }), el("figcaption", {}, link)) : el("div", {}, link));
    } catch (e) { figures.push(el("div", { className: "muted", textContent: `${label}: ${e.message}` })); }
  };
  if (t.source_image) await add("input: " + t.source_image, "/api/v1/files/" + encodeURIComponent(t.source_image), true);
  for (let i = 0; i < urls.length && i < 20; i++) {
    const name = t.result.output_files[i];
    await add(name, urls[i], /\.(png|jpe?g|webp|gif)$/i.test(name));
  }
  if (shownFiles === key) $("d-images").replaceChildren(...figures);
}

function onTaskMessage(m) {
  if (m.type === "snapshot") return renderTask(m.task);
  if (!current || m.task_id !== current.task_id) return;
  Object.assign(current, { status: m.status, progress: m.progress, current_step: m.current_step, attempt: m.attempt, updated_at: m.at });
  renderTask(current);
  // A finished task carries its result and error: read them once.
  if (["done", "failed", "cancelled"].includes(m.status)) api("/api/v1/tasks/" + encodeURIComponent(m.task_id)).then(renderTask, () => {});
}

async function cancelCurrent() {
  if (!current) return;
  try { renderTask(await api(`/api/v1/tasks/${encodeURIComponent(current.task_id)}/cancel`, { method: "POST" })); }
  catch (e) { show(e.message); }
}

// ---- Routing --------------------------------------------------------------------------------------------

function route() {
  closeSockets();
  show("");
  const m = location.hash.match(/^#\/tasks\/([^/]+)$/);
  $("list-view").hidden = !!m;
  $("detail-view").hidden = !m;
  refreshStatsSoon();
  if (m) {
    const id = decodeURIComponent(m[1]);
    current = null;
    shownFiles = "";
    $("d-id").textContent = id;
    api("/api/v1/tasks/" + encodeURIComponent(id)).then(renderTask, (e) => show(e.message));
    const ws = state.taskSocket = stream("/api/v1/tasks/" + encodeURIComponent(id) + "/ws", onTaskMessage,
      (s) => state.taskSocket === s, () => {});
    void ws;
  } else {
    loadList();
    state.listSocket = stream("/api/v1/ws", (msg) => { if (msg.type !== "snapshot") onListEvent(msg); },
      (s) => state.listSocket === s);
  }
}

function setup() {
  setupToken();
  $("submit-form").addEventListener("submit", submit);
  $("d-cancel").addEventListener("click", cancelCurrent);
  $("prev").addEventListener("click", () => { state.page = Math.max(1, state.page - 1); loadList(); });
  $("next").addEventListener("click", () => { state.page += 1; loadList(); });
  $("filter-status").addEventListener("change", (e) => { state.status = e.target.value; state.page = 1; loadList(); });
  $("filter-mode").addEventListener("change", (e) => { state.mode = e.target.value.trim(); state.page = 1; loadList(); });
  window.addEventListener("hashchange", route);
  route();
}

document.addEventListener("DOMContentLoaded", setup);
