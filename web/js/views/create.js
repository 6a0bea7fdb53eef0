// #/create: drop (or choose) an image, pick a pipeline, fill the form its config schema generates, submit,
// and watch the task run right here: progress live, then its output image.
import { api, enc, upload, stream, blobUrl } from "../api.js";
import { el, badge, progressBar, announce, isImageName, TERMINAL, bytes } from "../dom.js";
import { setLive, toast } from "../app.js";
import { pipelineList } from "./pipelines.js";
import { schemaForm } from "../schema_form.js";

const ACCEPT = "image/png,image/jpeg,image/webp,image/gif";

export function render(root, query) {
  const wanted = new URLSearchParams(query || "").get("mode") || "";
  let closed = false, source = null, form = null, pipelines = [], watch = null;

  // Images uploaded on this page: the main one and any a wasmq-file-id field took; every picker lists them.
  const uploads = {
    list: [], listeners: [],
    async add(file) {
      const info = await upload(file);
      const u = { file_id: info.file_id, name: file.name || info.file_id, url: URL.createObjectURL(file), size: info.size };
      this.list.push(u);
      for (const l of this.listeners) l();
      return u;
    },
  };

  // ---- the drop zone ----
  const fileInput = el("input", { type: "file", id: "image", accept: ACCEPT, class: "sr-only" });
  const preview = el("img", { id: "preview", alt: "", hidden: true });
  const dropText = el("p", { class: "drop-text" }, el("b", { text: "Drop an image here" }), el("br"),
    el("span", { class: "muted", text: "or " }), el("label", { for: "image", class: "link", text: "choose a file" }),
    el("span", { class: "muted", text: " (PNG, JPEG, WebP, GIF)" }));
  const dropInfo = el("p", { id: "drop-info", class: "muted", "aria-live": "polite" });
  const clear = el("button", { type: "button", class: "quiet small", text: "Remove image", hidden: true,
    onclick: () => { source = null; preview.hidden = true; clear.hidden = true; dropInfo.textContent = ""; fileInput.value = ""; } });
  const drop = el("div", { id: "dropzone", class: "dropzone drop-target", tabindex: 0, role: "group",
    "aria-label": "input image: drop a file or press Enter to choose one",
    // Opened after the key event, not inside it: Chromium drops a file chooser asked for during the keydown.
    onkeydown: (e) => { if ((e.key === "Enter" || e.key === " ") && e.target === drop) { e.preventDefault(); setTimeout(() => fileInput.click(), 0); } } },
  preview, dropText, dropInfo, clear, fileInput);
  async function take(file) {
    if (!file) return;
    if (!/^image\//.test(file.type)) { dropInfo.textContent = `${file.name} is not an image.`; return; }
    preview.src = URL.createObjectURL(file);
    preview.alt = "preview of " + file.name;
    preview.hidden = false;
    dropInfo.textContent = `Uploading ${file.name}…`;
    try {
      source = await uploads.add(file);
      dropInfo.textContent = `${file.name} · ${bytes(file.size)} · uploaded as ${source.file_id}`;
      clear.hidden = false;
    } catch (e) { source = null; dropInfo.textContent = "Upload failed: " + e.message; }
  }
  fileInput.addEventListener("change", () => take(fileInput.files[0]));
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); take(e.dataTransfer.files[0]); });

  // ---- mode and its generated config form ----
  const modeSel = el("select", { id: "mode", required: true }, el("option", { value: "", text: "Loading pipelines…" }));
  const modeText = el("input", { id: "mode-text", hidden: true, pattern: "[A-Za-z][A-Za-z0-9_.\\-]{0,63}",
    placeholder: "MODE" });
  const modeHelp = el("p", { id: "mode-help", class: "help" });
  const configBox = el("fieldset", { class: "config" }, el("legend", { text: "Config" }));
  const mode = () => (modeText.hidden ? modeSel.value : modeText.value.trim());
  function showForm() {
    const p = pipelines.find((x) => x.mode === mode());
    modeHelp.textContent = p ? (p.description || "") : "";
    form = schemaForm(p ? p.config_schema : { type: "object" }, { uploads });
    configBox.replaceChildren(el("legend", { text: "Config" }), form.node);
  }
  modeSel.addEventListener("change", showForm);
  pipelineList().then((ps) => {
    if (closed) return;
    pipelines = ps;
    modeSel.replaceChildren(...ps.map((p) => el("option", { value: p.mode, text: p.mode, selected: p.mode === wanted })));
    if (!ps.length) throw new Error("no pipelines");
    showForm();
  }).catch(() => {  // a server without the pipelines route: a mode typed by hand, config as JSON
    modeSel.hidden = true; modeSel.required = false; modeText.hidden = false; modeText.required = true; modeText.id = "mode"; modeSel.id = "mode-select";
    modeText.value = wanted;
    showForm();
  });

  // ---- options ----
  const priority = el("input", { id: "priority", type: "number", min: -100, max: 100, step: 1, value: "0" });
  const retries = el("input", { id: "max-retries", type: "number", min: 0, max: 20, step: 1, placeholder: "default" });
  const timeout = el("input", { id: "timeout", type: "number", min: 1, step: 1, placeholder: "default", inputmode: "numeric" });

  const submit = el("button", { type: "submit", id: "submit-button", text: "Create task" });
  const watchBox = el("section", { id: "watch", class: "card watch", hidden: true, "aria-label": "the new task" });

  const formEl = el("form", { id: "create-form", class: "create", onsubmit: onSubmit, novalidate: false },
    el("section", { class: "card" }, el("h2", { text: "Input image" }), drop),
    el("section", { class: "card" }, el("h2", { text: "Pipeline" }),
      el("div", { class: "field" }, el("label", { for: "mode", text: "Mode" }), modeSel, modeText, modeHelp),
      configBox,
      el("details", { class: "options" }, el("summary", { text: "Options" }),
        el("div", { class: "options-grid" },
          el("div", { class: "field" }, el("label", { for: "priority", text: "Priority" }), priority,
            el("p", { class: "help", text: "-100 … 100; higher runs first." })),
          el("div", { class: "field" }, el("label", { for: "max-retries", text: "Max retries" }), retries),
          el("div", { class: "field" }, el("label", { for: "timeout", text: "Timeout (ms)" }), timeout))),
      el("div", { class: "actions" }, submit)));
  root.append(el("div", { class: "view-head" }, el("h1", { text: "Create a task" })), watchBox, formEl);

  async function onSubmit(e) {
    e.preventDefault();
    if (!formEl.reportValidity()) return;
    submit.disabled = true;
    try {
      const body = { mode: mode(), priority: Number(priority.value || 0), config: form ? form.read() : {} };
      if (source) body.source_image = source.file_id;
      if (retries.value !== "") body.max_retries = Number(retries.value);
      if (timeout.value !== "") body.timeout_ms = Number(timeout.value);
      const t = await api("/api/v1/tasks", { method: "POST", body });
      announce(`task ${t.task_id} created`);
      watchTask(t);
    } catch (err) {
      toast(err.message);
    } finally { submit.disabled = false; }
  }

  // The new task, live: status, progress, step; when done, its first output image (or its files).
  function watchTask(t) {
    if (watch) watch.close();
    const bar = progressBar(t.status, t.progress, "progress of the new task");
    const status = el("span", { id: "w-status" }, badge(t.status));
    const pct = el("span", { id: "w-pct", class: "pct", text: "0%" });
    const step = el("p", { id: "w-step", class: "muted step", "aria-live": "polite" });
    const result = el("div", { id: "w-result", class: "side-by-side" });
    watchBox.hidden = false;
    watchBox.replaceChildren(
      el("div", { class: "view-head" }, el("h2", {}, "Task ", el("a", { id: "w-link", class: "mono", href: "#/tasks/" + enc(t.task_id), text: t.task_id })), status),
      el("div", { class: "progress-line" }, bar, pct), step, result);
    watchBox.scrollIntoView({ block: "nearest" });
    const paint = (s, p, st) => {
      status.replaceChildren(badge(s));
      bar.update(s, p);
      pct.textContent = `${Math.round(p || 0)}%`;
      step.textContent = st || "";
    };
    let cur = { ...t }, finished = false;
    const finish = async () => {
      if (finished) return;
      finished = true;
      try {
        const full = await api("/api/v1/tasks/" + enc(t.task_id));
        if (closed) return;
        cur = full;
        paint(full.status, full.progress, full.status === "failed" && full.error ? `${full.error.code}: ${full.error.message}` : full.current_step);
        announce(`task ${full.status}`);
        const r = full.result || {};
        const names = r.output_files || [], urls = r.output_urls || [];
        const figs = [];
        if (source) figs.push(el("figure", {}, el("img", { src: source.url, alt: "input image" }), el("figcaption", { text: "input" })));
        for (let i = 0; i < names.length && figs.length < 4; i++) {
          if (!isImageName(names[i]) || !urls[i]) continue;
          const url = await blobUrl(urls[i]).catch(() => null);
          if (url) figs.push(el("figure", {}, el("img", { src: url, alt: "output " + names[i], class: "output" }), el("figcaption", { text: names[i] })));
        }
        result.replaceChildren(...figs, el("p", {}, el("a", { href: "#/tasks/" + enc(t.task_id), text: "Open the task page →" })));
      } catch (e) { toast(e.message); }
    };
    watch = stream("/api/v1/tasks/" + enc(t.task_id) + "/ws", {
      onState: setLive,
      onFinished: finish,
      onMessage: (m) => {
        if (m.type === "snapshot") cur = { ...cur, ...m.task };
        else for (const k of ["status", "progress", "current_step"]) if (m[k] !== undefined) cur[k] = m[k];
        paint(cur.status, cur.progress, cur.current_step);
        if (TERMINAL.includes(cur.status) && m.type === "snapshot") finish();
      },
    });
  }

  return () => { closed = true; if (watch) watch.close(); };
}
