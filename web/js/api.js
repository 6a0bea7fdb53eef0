// The API client: the envelope, the token, WebSockets. Every view talks to wasmq through this module.
//
// With auth on, the token (a JWT from `wasmq token --sub NAME`) is kept in localStorage and sent as a Bearer
// header, or as ?token= on WebSockets, which cannot carry headers. A 401 anywhere asks for a token (the
// `onUnauthorized` hook, set by the app).

const KEY = "wasmq.token";
export const hooks = { onUnauthorized: () => {} };

export function token() { return localStorage.getItem(KEY) || ""; }
export function setToken(t) { t ? localStorage.setItem(KEY, t) : localStorage.removeItem(KEY); }

// The token's claims, read for display only (the server verifies; a forged token gets 401 there).
export function claims() {
  const t = token();
  if (!t) return null;
  try {
    const part = t.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part + "=".repeat((4 - part.length % 4) % 4)));
  } catch (_) { return null; }
}

// Whether the page offers admin controls (the user filter): the token says admin. The server decides what
// an admin may see; a filter it ignores shows the same list.
export function isAdmin() {
  const c = claims();
  if (!c) return false;
  const roles = [].concat(c.roles || [], c.role || []);
  return c.admin === true || roles.includes("admin");
}

export class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

function headers(extra = {}) {
  return token() ? { ...extra, Authorization: "Bearer " + token() } : extra;
}

// `api(path)` → the envelope's data; throws ApiError with the envelope's code and message.
export async function api(path, { method = "GET", body, type, signal } = {}) {
  const h = headers(body !== undefined ? { "Content-Type": type || "application/json" } : {});
  const res = await fetch(path, { method, headers: h, signal,
    body: type || body === undefined ? body : JSON.stringify(body) });
  let json = null;
  try { json = await res.json(); } catch (_) { /* not JSON */ }
  if (!res.ok || !json || !json.success) {
    const err = (json && json.error) || { code: "HTTP_" + res.status, message: res.statusText || "request failed" };
    if (res.status === 401) hooks.onUnauthorized(err.message);
    throw new ApiError(res.status, err.code, err.message);
  }
  return json.data;
}

export const enc = encodeURIComponent;

// Uploads an image (raw body); resolves to the file's metadata ({file_id, size, content_type, ...}).
export function upload(file) {
  return api("/api/v1/files", { method: "POST", body: file, type: file.type || "application/octet-stream" });
}

// A blob: URL for an authenticated download (an <img src> cannot send the Bearer header). Cached per path:
// files and outputs never change once written.
const blobs = new Map();
export function blobUrl(path) {
  if (!blobs.has(path)) {
    const p = fetch(path, { headers: headers() }).then(async (res) => {
      if (!res.ok) throw new ApiError(res.status, "HTTP_" + res.status, `cannot load ${path} (${res.status})`);
      return URL.createObjectURL(await res.blob());
    });
    p.catch(() => blobs.delete(path));
    blobs.set(path, p);
  }
  return blobs.get(path);
}

function socketUrl(path) {
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  return scheme + location.host + path + (token() ? "?token=" + enc(token()) : "");
}

// A WebSocket that reconnects with backoff until closed by close(). `onMessage` gets each parsed frame
// (the first after every (re)connect is a snapshot), `onState(true|false|null)` the connection state (null once it ended on purpose), and
// `onFinished` a normal close (1000: a task's stream ends after its terminal frame).
export function stream(path, { onMessage, onState = () => {}, onFinished = null }) {
  let ws = null, closed = false, retry = 0, timer = null;
  const open = () => {
    ws = new WebSocket(socketUrl(path));
    ws.onopen = () => { if (!closed) { retry = 0; onState(true); } };
    ws.onmessage = (m) => {
      if (closed) return;  // frames already queued when the view went away
      let msg;
      try { msg = JSON.parse(m.data); } catch (_) { return; }
      onMessage(msg);
    };
    ws.onclose = (ev) => {
      // Closed by close(): silent, as the close event comes late, when the next view's stream may be live.
      if (closed) return;
      if (ev.code === 1000 && onFinished) { onState(null); return onFinished(); }  // null: nothing live any more
      onState(false);
      timer = setTimeout(open, Math.min(30000, 500 * 2 ** retry++));
    };
  };
  open();
  return { close() { closed = true; clearTimeout(timer); if (ws) ws.close(); } };
}
