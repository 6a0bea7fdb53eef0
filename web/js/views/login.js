// #/login: with auth on, the API wants a JWT. The page keeps it in this browser's localStorage and sends it
// with every request; `wasmq token --sub NAME` signs one.
import { api, setToken, token, ApiError } from "../api.js";
import { el } from "../dom.js";
import { signedIn } from "../app.js";

export function render(root) {
  const reason = sessionStorage.getItem("wasmq.login-reason") || "";
  const input = el("textarea", { id: "token", rows: 4, spellcheck: false, autocomplete: "off", class: "mono",
    required: true, "aria-describedby": "token-help" });
  const err = el("p", { id: "login-error", class: "error-text", role: "alert" });
  const button = el("button", { type: "submit", id: "sign-in", text: "Sign in" });
  const form = el("form", { class: "card login", onsubmit: async (e) => {
    e.preventDefault();
    const t = input.value.trim().replace(/^Bearer\s+/i, "");
    if (!t) return;
    button.disabled = true;
    const old = token();
    setToken(t);
    try {
      await api("/api/v1/tasks?page_size=1");  // does the server take it?
      sessionStorage.removeItem("wasmq.login-reason");
      signedIn(t);
    } catch (x) {
      setToken(old);
      err.textContent = x instanceof ApiError && x.status === 401 ? "The server refused this token: " + x.message : x.message;
    } finally { button.disabled = false; }
  } },
  el("h1", { text: "Sign in" }),
  reason ? el("p", { class: "muted", text: "The server said: " + reason }) : null,
  el("label", { for: "token", text: "API token (JWT)" }), input,
  el("p", { id: "token-help", class: "help" }, "Ask your operator for a token, or sign one with ",
    el("code", { text: "wasmq token --sub NAME" }), ". It stays in this browser until you sign out."),
  err, button);
  root.append(form);
  setTimeout(() => input.focus(), 0);
}
