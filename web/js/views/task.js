// #/tasks/<id>: one task, live over /api/v1/tasks/<id>/ws. Status and progress (an aria-live region says
// each step), cancel and retry, the input and output images side by side with a comparison slider, the
// output files to download, the timeline, the attempts, the config and the error with its stderr.
import { api, enc, stream, blobUrl } from "../api.js";
import { el, badge, progressBar, when, duration, announce, isImageName, TERMINAL } from "../dom.js";
import { setLive, toast } from "../app.js";

export function render(root, id) {
  let task = null, closed = false, shownFiles = "";
  const bar = progressBar("pending", 0, "task progress");
  const pct = el("span", { id: "d-pct", class: "pct", text: "0%" });
  const status = el("span", { id: "d-status" });
  const step = el("p", { id: "d-step", class: "muted step", "aria-live": "polite" });
  const cancel = el("button", { id: "d-cancel", type: "button", class: "danger", text: "Cancel", hidden: true, onclick: onCancel });
  const retry = el("button", { id: "d-retry", type: "button", text: "Retry", hidden: true, onclick: onRetry });
  const facts = el("dl", { id: "d-fields", class: "facts" });
  const media = el("section", { id: "d-images", class: "card media", "aria-label": "images", hidden: true });
  const files = el("section", { id: "d-outputs", class: "card", hidden: true });
  const errorBox = el("section", { id: "d-error", class: "card error-card", hidden: true });
  const timeline = el("ol", { id: "d-timeline", class: "timeline" });
  // Focusable, so a keyboard can scroll it when a wide table overflows.
  const attempts = el("div", { id: "d-attempts", class: "table-wrap", tabindex: 0, role: "region", "aria-label": "attempts" });
  const config = el("pre", { id: "d-config", class: "code" });
  const output = el("pre", { id: "d-output", class: "code", hidden: true });

  root.append(
    el("p", { class: "crumbs" }, el("a", { href: "#/tasks", text: "← Tasks" })),
    el("div", { class: "view-head" }, el("h1", { id: "d-id", class: "mono task-id", text: id }), status),
    el("section", { class: "card" },
      el("div", { class: "progress-line" }, bar, pct),
      step,
      el("div", { class: "actions" }, cancel, retry),
      facts),
    errorBox,
    media,
    files,
    el("div", { class: "grid-2" },
      el("section", { class: "card" }, el("h2", { text: "Timeline" }), timeline),
      el("section", { class: "card" }, el("h2", { text: "Attempts" }), attempts,
        el("h2", { text: "Config" }), config, output)));

  function paint(t) {
    const before = task ? task.status : null;
    task = t;
    status.replaceChildren(badge(t.status));
    bar.update(t.status, t.progress);
    pct.textContent = `${Math.round(t.progress || 0)}%`;
    step.textContent = t.status === "failed" && t.error ? `failed: ${t.error.message}`
      : t.current_step || (t.status === "pending" ? "waiting for a worker" : "");
    cancel.hidden = !["pending", "processing"].includes(t.status);
    retry.hidden = t.status !== "failed";
    if (before && before !== t.status) announce(`task ${t.status}`);
    const f = [["mode", t.mode], ["priority", t.priority],
      ["attempt", `${t.attempt || 0} of ${1 + (t.max_retries ?? 0)}`],
      ["created", when(t.created_at)], ["started", when(t.started_at)], ["finished", when(t.finished_at)]];
    if (t.result && t.result.duration_ms !== undefined) f.push(["pipeline ran", duration(t.result.duration_ms)]);  // the module alone; an attempt's "took" adds staging and publishing
    if (t.user_id) f.unshift(["user", t.user_id]);
    if (t.timeout_ms) f.push(["timeout", duration(t.timeout_ms)]);
    facts.replaceChildren(...f.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: String(v ?? "—") })]));
    config.textContent = JSON.stringify(t.config ?? {}, null, 2);
    const out = t.result && t.result.output;
    output.hidden = out === null || out === undefined;
    if (!output.hidden) output.textContent = "output: " + (typeof out === "string" ? out : JSON.stringify(out, null, 2));
    paintError(t);
    paintTimeline(t);
    paintAttempts(t);
    paintFiles(t);
  }

  function paintError(t) {
    const e = t.error;
    errorBox.hidden = !e || t.status === "done";
    if (errorBox.hidden) return;
    errorBox.replaceChildren(el("h2", { text: "Error" }),
      el("p", {}, el("code", { class: "err-code", text: e.code || "ERROR" }), " ", e.message || ""),
      el("p", { class: "muted", text: `attempt ${e.attempt ?? "?"}${e.retryable ? " · retryable" : ""}${e.at ? " · " + when(e.at) : ""}` }),
      ...(e.stderr ? [el("h3", { text: "stderr" }), el("pre", { class: "code stderr", text: e.stderr })] : []));
  }

  // The task's own timeline when the server keeps one; otherwise the milestones its fields tell.
  function paintTimeline(t) {
    let items = t.timeline;
    if (!Array.isArray(items) || !items.length) {
      items = [{ at: t.created_at, kind: "created" }];
      if (t.started_at) items.push({ at: t.started_at, kind: "started", attempt: t.attempt });
      if (t.finished_at) items.push({ at: t.finished_at, kind: t.status });
    }
    const start = new Date(items[0].at).getTime();
    // Attempts are numbered in the order they ran: a user's retry starts the server's count again from 1,
    // which would show two "attempt 1"s; the attempts table numbers them the same way.
    let ran = 0;
    timeline.replaceChildren(...items.map((e) => {
      const rel = e.at ? "+" + duration(new Date(e.at).getTime() - start) : "";
      const seq = e.kind === "started" ? ++ran : ran;
      const what = e.kind === "progress" ? `${e.progress ?? 0}%${e.step ? " · " + e.step : ""}`
        : e.kind.replace(/_/g, " ") + (e.attempt ? ` (attempt ${seq || e.attempt})` : "");
      return el("li", { class: "tl " + e.kind },
        el("span", { class: "tl-what", text: what }),
        el("time", { datetime: e.at || "", title: when(e.at), class: "muted", text: rel }));
    }));
  }

  function paintAttempts(t) {
    const list = Array.isArray(t.attempts) ? t.attempts : [];
    if (!list.length) {
      attempts.replaceChildren(el("p", { class: "muted", text: t.attempt ? `${t.attempt} attempt(s); no details kept.` : "Not started yet." }));
      return;
    }
    attempts.replaceChildren(el("table", { class: "attempts stack" },
      el("thead", {}, el("tr", {}, ["#", "outcome", "worker", "started", "attempt took", "error"].map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, list.map((a, i) => el("tr", {},
        el("td", { "data-label": "#", text: String(i + 1) }),
        el("td", { "data-label": "outcome" }, badge(a.outcome === "running" ? "processing" : a.outcome)),
        el("td", { "data-label": "worker", class: "mono", text: a.worker || "—" }),
        el("td", { "data-label": "started", text: when(a.started_at) }),
        el("td", { "data-label": "attempt took", class: "nowrap", text: a.finished_at ? duration(new Date(a.finished_at) - new Date(a.started_at)) : "—" }),
        el("td", { "data-label": "error", text: a.error ? `${a.error.code}: ${a.error.message}` : "" }))))));
  }

  // Input and outputs: images shown (side by side, and one over the other behind a slider), every output
  // file linked for download. Loaded as blob: URLs, so they work with a Bearer token too.
  async function paintFiles(t) {
    const names = (t.result && t.result.output_files) || [];
    const urls = (t.result && t.result.output_urls) || [];
    const key = [t.source_image || "", ...urls].join("|");
    if (key === shownFiles) return;
    shownFiles = key;
    const input = t.source_image ? { label: "input", name: t.source_image, path: "/api/v1/files/" + enc(t.source_image) } : null;
    const outs = names.map((n, i) => ({ label: n, name: n, path: urls[i] })).filter((o) => o.path);
    const images = outs.filter((o) => isImageName(o.name));
    const load = async (f) => ({ ...f, url: await blobUrl(f.path).catch(() => null) });
    const [inL, ...imgL] = await Promise.all([input ? load(input) : null, ...images.slice(0, 12).map(load)]);
    if (closed || key !== shownFiles) return;
    const figs = [];
    if (inL && inL.url) figs.push(figure(inL.url, "input", "input image"));
    for (const o of imgL) if (o.url) figs.push(figure(o.url, o.name, "output " + o.name));
    media.hidden = figs.length === 0;
    media.replaceChildren(el("h2", { text: "Images" }), el("div", { class: "side-by-side" }, figs));
    if (inL && inL.url && imgL.some((o) => o.url)) media.append(compare(inL.url, imgL.filter((o) => o.url)));
    files.hidden = !outs.length && !input;
    files.replaceChildren(el("h2", { text: "Downloads" }), el("ul", { class: "downloads" },
      input ? el("li", {}, downloadLink(input.path, input.name, "input " + input.name)) : null,
      outs.map((o) => el("li", {}, downloadLink(o.path, o.name, o.name)))));
  }

  function figure(url, caption, alt) {
    return el("figure", {}, el("img", { src: url, alt, loading: "lazy" }), el("figcaption", { text: caption }));
  }

  // A link that downloads through fetch (so the Bearer header goes along) rather than by navigation.
  function downloadLink(path, name, label) {
    return el("a", { href: path, download: name.split("/").pop(), class: "download", text: label,
      onclick: async (e) => {
        e.preventDefault();
        try {
          const url = await blobUrl(path);
          const a = el("a", { href: url, download: name.split("/").pop() });
          document.body.append(a); a.click(); a.remove();
        } catch (err) { toast(err.message); }
      } });
  }

  // The output over the input; the slider uncovers the input from the left.
  function compare(inputUrl, outputs) {
    const over = el("img", { src: outputs[0].url, alt: "output " + outputs[0].name, class: "over" });
    const under = el("img", { src: inputUrl, alt: "input image", class: "under" });
    const frame = el("div", { class: "compare-frame" }, under, over, el("div", { class: "compare-line" }));
    const slider = el("input", { type: "range", min: 0, max: 100, value: 50, id: "compare-slider",
      "aria-label": "compare input and output: percent of input shown" });
    const set = () => {
      over.style.clipPath = `inset(0 0 0 ${slider.value}%)`;
      frame.lastChild.style.left = slider.value + "%";
    };
    slider.addEventListener("input", set);
    set();
    const pick = outputs.length > 1 ? el("select", { "aria-label": "output image to compare",
      onchange: (e) => { const o = outputs[Number(e.target.value)]; over.src = o.url; over.alt = "output " + o.name; } },
      outputs.map((o, i) => el("option", { value: i, text: o.name }))) : null;
    return el("div", { class: "compare" }, el("h3", { text: "Compare" }),
      el("div", { class: "compare-labels muted" }, el("span", { text: "← input" }), pick, el("span", { text: "output →" })),
      frame, slider);
  }

  async function refresh() {
    try { paint(await api("/api/v1/tasks/" + enc(id))); }
    catch (e) {
      if (closed) return;
      toast(e.status === 404 ? `No task ${id} (or not yours).` : e.message);
      if (e.status === 404 && !task) notFound();
    }
  }

  // Another user's task and an unknown id look the same, as in the API.
  function notFound() {
    if (socket) socket.close();
    setLive(null);
    root.replaceChildren(el("p", { class: "crumbs" }, el("a", { href: "#/tasks", text: "← Tasks" })),
      el("section", { class: "card empty-state" }, el("h1", { text: "No such task" }),
        el("p", {}, "There is no task ", el("code", { text: id }), " among yours."),
        el("p", {}, el("a", { href: "#/tasks", text: "Back to your tasks" }))));
  }

  async function onCancel() {
    cancel.disabled = true;
    try { paint(await api(`/api/v1/tasks/${enc(id)}/cancel`, { method: "POST" })); announce("task cancelled"); }
    catch (e) { toast(e.message); }
    finally { cancel.disabled = false; }
  }

  async function onRetry() {
    retry.disabled = true;
    try {
      paint(await api(`/api/v1/tasks/${enc(id)}/retry`, { method: "POST" }));
      announce("task queued again");
      openSocket();  // the old stream ended with the failure
    } catch (e) { toast(e.code === "NOT_FAILED" ? "Only a failed task can be retried." : e.message); }
    finally { retry.disabled = false; }
  }

  let socket = null;
  function openSocket() {
    if (socket) socket.close();
    socket = stream("/api/v1/tasks/" + enc(id) + "/ws", {
      onState: setLive,
      onFinished: () => { refresh(); },
      onMessage: (m) => {
        if (m.type === "snapshot") return paint({ ...(task || {}), ...m.task });
        if (!task || m.task_id !== id) return;
        const t = { ...task };
        for (const k of ["status", "progress", "current_step", "attempt"]) if (m[k] !== undefined) t[k] = m[k];
        if (m.type === "progress" && Array.isArray(t.timeline)) {
          t.timeline = [...t.timeline, { at: m.at, kind: "progress", progress: m.progress, step: m.current_step, attempt: t.attempt }];
        }
        paint(t);
        // A finished task carries its result, error and history: read them once.
        if (TERMINAL.includes(m.status) || m.status === "processing") refresh();
      },
    });
  }

  refresh();
  openSocket();
  return () => { closed = true; if (socket) socket.close(); };
}
