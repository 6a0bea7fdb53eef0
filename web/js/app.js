// wasmq dashboard: plain JavaScript modules, no build step, served by `wasmq serve` from its binary.
//
// Hash routes, one module per view: #/tasks (the list), #/tasks/<id> (one task), #/create, #/queue,
// #/pipelines; #/login asks for a token when auth is on. A view is `render(root, params)` returning an
// optional cleanup (closing its sockets and timers) that runs when the route changes.
import { hooks, claims, setToken, token } from "./api.js";
import { $, $$ } from "./dom.js";
import * as tasks from "./views/tasks.js";
import * as task from "./views/task.js";
import * as create from "./views/create.js";
import * as queue from "./views/queue.js";
import * as pipelines from "./views/pipelines.js";
import * as login from "./views/login.js";

const routes = [
  [/^#\/tasks\/([^/?]+)$/, task, "tasks"],
  [/^#\/tasks(?:\?(.*))?$/, tasks, "tasks"],
  [/^#\/create(?:\?(.*))?$/, create, "create"],
  [/^#\/queue$/, queue, "queue"],
  [/^#\/pipelines$/, pipelines, "pipelines"],
  [/^#\/login$/, login, ""],
];

let cleanup = null;
let lastRoute = "";

export function toast(message) {
  if (message && location.hash.startsWith("#/login")) return;  // the sign-in form says why itself
  const t = $("#toast");
  t.textContent = message || "";
  t.hidden = !message;
  clearTimeout(toast.timer);
  if (message) toast.timer = setTimeout(() => { t.hidden = true; }, 8000);
}

// true: a live stream is open; false: it dropped and reconnects; null: the view has none (hidden).
export function setLive(on) {
  const l = $("#live");
  l.hidden = on === null;
  l.className = "live " + (on ? "on" : "off");
  l.textContent = on ? "live" : "offline";
  l.setAttribute("aria-label", "live updates: " + l.textContent);
}

function showUser() {
  const c = claims();
  $("#who").hidden = !c;
  $("#who").textContent = c ? (c.sub || "signed in") : "";
  $("#sign-out").hidden = !token();
}

function route() {
  if (cleanup) { try { cleanup(); } catch (_) { /* a view's cleanup must not block the next */ } }
  cleanup = null;
  setLive(null);
  toast("");
  const hash = location.hash || "#/tasks";
  let match = null;
  for (const [re, view, nav] of routes) {
    const m = hash.match(re);
    if (m) { match = { view, nav, params: m.slice(1).map((p) => p && decodeURIComponent(p)) }; break; }
  }
  if (!match) { location.replace("#/tasks"); return; }
  for (const a of $$("nav a")) {
    if (a.dataset.nav === match.nav) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const root = $("#view");
  root.replaceChildren();
  cleanup = match.view.render(root, ...match.params) || null;
  // Move focus to the new view's heading for keyboard and screen-reader users, but not on first load.
  const viewChanged = lastRoute && lastRoute.split("?")[0] !== hash.split("?")[0];
  lastRoute = hash;
  if (viewChanged) {
    const h = root.querySelector("h1");
    if (h) { h.tabIndex = -1; h.focus({ preventScroll: false }); }
  }
}

hooks.onUnauthorized = (reason) => {
  if (location.hash.startsWith("#/login")) return;
  sessionStorage.setItem("wasmq.after-login", location.hash || "#/tasks");
  sessionStorage.setItem("wasmq.login-reason", reason || "");
  location.hash = "#/login";
};

export function signedIn(t) {
  setToken(t);
  showUser();
  const next = sessionStorage.getItem("wasmq.after-login") || "#/tasks";
  sessionStorage.removeItem("wasmq.after-login");
  const target = next === "#/login" ? "#/tasks" : next;
  if (location.hash === target) route();
  else location.hash = target;
}

$("#sign-out").addEventListener("click", () => {
  setToken("");
  showUser();
  location.hash = "#/login";
  route();
});

window.addEventListener("hashchange", route);
showUser();
route();
