// A form built from a pipeline's config JSON Schema (draft 2020-12, the subset pipelines publish): one
// field per property, by type — string (text; select for an enum; an image picker for "format":
// "wasmq-file-id"), integer and number (number inputs with minimum/maximum, step 1 for integers), boolean
// (a checkbox), arrays and objects (JSON text). Defaults fill the fields, descriptions become help text tied
// to the field (aria-describedby), required properties are required. A schema without properties (a
// module that publishes none) gets a free JSON box. `read()` returns the config object or throws with the
// field's name.
import { el } from "./dom.js";
import { upload, blobUrl } from "./api.js";

let uid = 0;

export function schemaForm(schema, { uploads }) {
  schema = schema && typeof schema === "object" ? schema : { type: "object" };
  const props = schema.properties || {};
  const required = new Set(schema.required || []);
  const fields = [];
  const root = el("div", { class: "schema-form" });

  for (const [name, p] of Object.entries(props)) {
    const f = field(name, p || {}, required.has(name), uploads);
    fields.push(f);
    root.append(f.node);
  }
  // Members the schema does not list, when it allows them (the default), or everything when it lists none.
  let extra = null;
  if (schema.additionalProperties !== false) {
    const id = "cfg-extra-" + ++uid;
    extra = el("textarea", { id, rows: 3, spellcheck: false, class: "mono", placeholder: "{}" });
    const box = el("div", { class: "field wide" }, el("label", { for: id, text: fields.length ? "More config (JSON)" : "Config (JSON)" }),
      extra, el("p", { class: "help", id: id + "-help",
        text: fields.length ? "Members not listed above, merged into the config." : "This pipeline publishes no config schema: any JSON object." }));
    extra.setAttribute("aria-describedby", id + "-help");
    if (fields.length) root.append(el("details", { class: "extra" }, el("summary", { text: "More config as JSON" }), box));
    else root.append(box);
  }
  if (!fields.length && !extra) root.append(el("p", { class: "muted", text: "This pipeline takes no config." }));

  return {
    node: root,
    read() {
      const config = {};
      if (extra && extra.value.trim()) {
        let v;
        try { v = JSON.parse(extra.value); } catch (e) { throw new Error("Config JSON: " + e.message); }
        if (!v || typeof v !== "object" || Array.isArray(v)) throw new Error("Config JSON must be an object");
        Object.assign(config, v);
      }
      for (const f of fields) {
        const v = f.read();
        if (v !== undefined) config[f.name] = v;
      }
      return config;
    },
  };
}

function typeOf(p) {
  const t = Array.isArray(p.type) ? p.type.find((x) => x !== "null") : p.type;
  if (t) return t;
  if (p.enum) return typeof p.enum[0] === "number" ? "number" : "string";
  return "string";
}

function field(name, p, isRequired, uploads) {
  const id = "cfg-" + name.replace(/[^A-Za-z0-9_-]/g, "_") + "-" + ++uid;
  const type = typeOf(p);
  const label = el("label", { for: id, text: (p.title || name) + (isRequired ? " *" : "") });
  const help = p.description ? el("p", { class: "help", id: id + "-help", text: p.description }) : null;
  const describe = (input) => { if (help) input.setAttribute("aria-describedby", id + "-help"); return input; };
  const bad = (msg) => { throw new Error(`${name}: ${msg}`); };
  let input, read;

  if (p.format === "wasmq-file-id") {
    const picker = imagePicker(id, name, uploads, isRequired);
    describe(picker.input);
    return { name, node: el("div", { class: "field wide", "data-field": name }, label, picker.node, help),
      read: () => { const v = picker.value(); if (!v && isRequired) bad("choose an image"); return v || undefined; } };
  }
  if (Array.isArray(p.enum)) {
    input = el("select", { id, name, required: isRequired },
      isRequired || p.default !== undefined ? null : el("option", { value: "", text: "—" }),
      p.enum.map((v, i) => el("option", { value: String(i), text: String(v), selected: p.default === v })));
    read = () => input.value === "" ? undefined : p.enum[Number(input.value)];
  } else if (type === "boolean") {
    input = el("input", { id, name, type: "checkbox", checked: p.default === true });
    return { name, node: el("div", { class: "field check", "data-field": name }, describe(input), label, help),
      read: () => input.checked };
  } else if (type === "integer" || type === "number") {
    input = el("input", { id, name, type: "number", inputmode: type === "integer" ? "numeric" : "decimal",
      step: type === "integer" ? (p.multipleOf || 1) : (p.multipleOf || "any"), required: isRequired,
      min: p.minimum ?? p.exclusiveMinimum, max: p.maximum ?? p.exclusiveMaximum,
      value: p.default !== undefined ? String(p.default) : "" });
    read = () => {
      if (input.value === "") return isRequired ? bad("required") : undefined;
      const v = Number(input.value);
      if (!Number.isFinite(v)) bad("not a number");
      if (type === "integer" && !Number.isInteger(v)) bad("must be a whole number");
      if (p.minimum !== undefined && v < p.minimum) bad(`at least ${p.minimum}`);
      if (p.maximum !== undefined && v > p.maximum) bad(`at most ${p.maximum}`);
      return v;
    };
  } else if (type === "object" || type === "array") {
    input = el("textarea", { id, name, rows: 2, spellcheck: false, class: "mono",
      value: p.default !== undefined ? JSON.stringify(p.default) : "" });
    read = () => {
      if (!input.value.trim()) return isRequired ? bad("required") : undefined;
      try { return JSON.parse(input.value); } catch (e) { return bad("not JSON: " + e.message); }
    };
  } else {
    input = el("input", { id, name, type: "text", required: isRequired, value: p.default ?? "",
      minlength: p.minLength, maxlength: p.maxLength, pattern: p.pattern, spellcheck: false });
    read = () => (input.value === "" ? (isRequired ? bad("required") : undefined) : input.value);
  }
  describe(input);
  const range = p.minimum !== undefined || p.maximum !== undefined
    ? el("span", { class: "range muted", text: `${p.minimum ?? "…"} – ${p.maximum ?? "…"}` }) : null;
  return { name, node: el("div", { class: "field", "data-field": name }, label, el("div", { class: "input-line" }, input, range), help), read };
}

// An image for a wasmq-file-id field: drop or choose a file (uploaded at once), or pick one of the images
// uploaded on this page. `uploads` is the page's shared list ({file_id, name, url}).
function imagePicker(id, name, uploads, isRequired) {
  const select = el("select", { id, name, required: isRequired });
  const preview = el("img", { class: "thumb", alt: "", hidden: true });
  const file = el("input", { type: "file", accept: "image/png,image/jpeg,image/webp,image/gif", class: "sr-only",
    id: id + "-file", tabindex: -1 });
  const status = el("span", { class: "muted", "aria-live": "polite" });
  const fill = () => {
    const current = select.value;
    select.replaceChildren(el("option", { value: "", text: isRequired ? "choose an image…" : "none" }),
      ...uploads.list.map((u) => el("option", { value: u.file_id, text: `${u.name} (${u.file_id})` })));
    select.value = uploads.list.some((u) => u.file_id === current) ? current : "";
  };
  const showPreview = async () => {
    const u = uploads.list.find((x) => x.file_id === select.value);
    preview.hidden = !u;
    if (u) { preview.src = u.url || await blobUrl("/api/v1/files/" + encodeURIComponent(u.file_id)); preview.alt = `${name}: ${u.name}`; }
  };
  select.addEventListener("change", showPreview);
  uploads.listeners.push(fill);
  fill();
  const take = async (f) => {
    if (!f) return;
    status.textContent = "uploading…";
    try {
      const u = await uploads.add(f);
      select.value = u.file_id;
      status.textContent = "uploaded";
      showPreview();
    } catch (e) { status.textContent = e.message; }
  };
  file.addEventListener("change", () => take(file.files[0]));
  const choose = el("label", { for: id + "-file", class: "button secondary small", text: "Upload…", tabindex: 0,
    role: "button", onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); setTimeout(() => file.click(), 0); } } });
  const node = el("div", { class: "picker drop-target", "data-drop": name }, select, choose, file, preview, status);
  node.addEventListener("dragover", (e) => { e.preventDefault(); node.classList.add("over"); });
  node.addEventListener("dragleave", () => node.classList.remove("over"));
  node.addEventListener("drop", (e) => { e.preventDefault(); node.classList.remove("over"); take(e.dataTransfer.files[0]); });
  return { node, input: select, value: () => select.value };
}
