// The dashboard end to end: playwright-core drives Debian's headless Chromium through a real `wasmq serve`.
//
//   node dashboard_test.mjs --wasmq BUILD/src/cli/wasmq --modules BUILD/tests/worker/modules \
//        --npm BUILD/tests/web/npm --out BUILD/tests/web/artifacts [--photo PHOTO.jpg] [--chromium PATH]
//
// Two servers on 127.0.0.1 with free ports and temporary data folders: one with auth off and the worker
// tests' modules (slow, progress, exit3) registered under schema-carrying copies — each copy gets a
// "wasmq.config_schema" custom section, so the Create page has a real form to generate — and one with
// WASMQ_AUTH=jwt for two users. Checked as a person would use it: an image dropped on the drop zone, tasks
// created through the generated form and watched to done, the output image loaded, a slow task
// cancelled, a failed one retried, the list filtered and searched, two users who never see each other's
// tasks, and every page at desktop and phone width (390 px), each saved as a screenshot under --out.
//
// A route of the dashboard's API contract that this server does not have yet (docs/dashboard.md) is
// answered in the browser by a stand-in built from the same facts (the modules' digests and schemas), and
// the test says so; a check that needs the server's own behaviour (retry) is then reported as skipped.
// Exit code 0 when every check held.
import { spawn, execFileSync } from "node:child_process";
import { createHash, createHmac } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith("--")) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
for (const k of ["wasmq", "modules", "npm", "out"]) if (!args[k]) { console.error(`usage: missing --${k}`); process.exit(2); }
for (const k of ["wasmq", "modules", "npm", "out", "photo"]) if (args[k]) args[k] = path.resolve(args[k]);
const CHROMIUM = args.chromium || "/usr/bin/chromium";
const { chromium } = await import(pathToFileURL(path.join(args.npm, "node_modules/playwright-core/index.mjs")).href);

const started = Date.now();
const SECRET = "a-test-secret-of-at-least-thirty-two-bytes";  // the auth server's HS256 key
const children = [];
let passed = 0, failed = 0, skipped = 0;
function check(ok, what) {
  console.log((ok ? "ok      " : "FAILED  ") + what);
  ok ? passed++ : failed++;
}
function skip(what) { console.log("skipped " + what); skipped++; }
let browser = null;
async function finish(code) {
  if (browser) await browser.close().catch(() => {});
  for (const c of children) { try { process.kill(c.pid, "SIGKILL"); } catch (_) { /* gone */ } }
  console.log(`dashboard: ${((Date.now() - started) / 1000).toFixed(1)} s; screenshots in ${args.out}`);
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
  process.exit(code);
}
process.on("uncaughtException", (e) => { console.error("FAILED  " + (e.stack || e)); failed++; finish(1); });
process.on("unhandledRejection", (e) => { console.error("FAILED  " + (e.stack || e)); failed++; finish(1); });
setTimeout(() => { console.error("FAILED  the test did not finish within 150 s"); failed++; finish(1); }, 150_000).unref();

if (!fs.existsSync(CHROMIUM)) { console.error(`FAILED  ${CHROMIUM} not found: scripts/setup installs Debian's chromium`); process.exit(1); }
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wasmq-dashboard-"));
fs.rmSync(args.out, { recursive: true, force: true });
fs.mkdirSync(args.out, { recursive: true });

// ---- modules that publish a config schema ------------------------------------------------------------------

const SCHEMAS = {
  slow: { type: "object", properties: {
    sleep_ms: { type: "integer", minimum: 50, maximum: 60000, default: 1000, description: "How long the task runs, in milliseconds." },
    tone: { type: "string", enum: ["calm", "busy"], default: "calm", description: "Ignored by the module; an enum for the form." },
  } },
  progress: { type: "object", properties: {
    background_image: { type: "string", format: "wasmq-file-id", description: "A second image, staged beside the source." },
    label: { type: "string", default: "hello", description: "Free text." },
    strength: { type: "number", minimum: 0, maximum: 1, default: 0.5, description: "A fraction." },
    mirror: { type: "boolean", default: false, description: "A switch." },
    regions: { type: "array", items: { type: "integer" }, description: "A list, as JSON." },
  } },
  exit3: { type: "object" },
};

function leb(n) { const out = []; do { let b = n & 0x7f; n >>>= 7; if (n) b |= 0x80; out.push(b); } while (n); return Buffer.from(out); }
function withSchema(src, schema) {
  const name = Buffer.from("wasmq.config_schema");
  const body = Buffer.concat([leb(name.length), name, Buffer.from(JSON.stringify(schema))]);
  return Buffer.concat([fs.readFileSync(src), Buffer.from([0]), leb(body.length), body]);
}
const modules = {};
for (const m of Object.keys(SCHEMAS)) {
  const bytes = m === "exit3" ? fs.readFileSync(path.join(args.modules, "exit3.wasm")) : withSchema(path.join(args.modules, m + ".wasm"), SCHEMAS[m]);
  const file = path.join(dir, m + ".wasm");
  fs.writeFileSync(file, bytes);
  modules[m] = { file, size: bytes.length, digest: "sha256:" + createHash("sha256").update(bytes).digest("hex") };
}
const pipelinesFlag = Object.entries(modules).map(([m, { file }]) => `${m}=${file}`).join(",");

// ---- wasmq serve --------------------------------------------------------------------------------------------

async function startServe(name, env = {}) {
  const serve = spawn(args.wasmq, ["serve", "--addr", "127.0.0.1:0", "--workers", "2", "--data-dir", path.join(dir, name),
    "--pipelines", pipelinesFlag], { cwd: dir, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...env } });
  children.push(serve);
  let log = "";
  return new Promise((resolve, reject) => {
    serve.stderr.on("data", (d) => {
      log += d;
      const m = log.match(/on (http:\/\/127\.0\.0\.1:\d+)\//);
      if (m && log.includes("ready (pid")) resolve(m[1]);
    });
    serve.on("exit", (code) => reject(new Error(`wasmq serve (${name}) exited with ${code}:\n${log}`)));
  });
}

async function rest(base, p, { method = "GET", body, tok } = {}) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (tok) headers.Authorization = "Bearer " + tok;
  const res = await fetch(base + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await res.json().catch(() => null);
  return { status: res.status, json };
}

// ---- stand-ins for contract routes the server lacks ---------------------------------------------------------

async function missingRoutes(base) {
  const probe = async (p, method = "GET") => {
    const r = await rest(base, p, { method });
    return r.status === 404 && /no route/.test(r.json?.error?.message || "");
  };
  return { pipelines: await probe("/api/v1/pipelines"), workers: await probe("/api/v1/workers"),
    history: await probe("/api/v1/tasks/stats/history?window=1h&step=1m"),
    retry: await probe("/api/v1/tasks/task_00000000_none/retry", "POST") };
}

async function standIns(context, base, missing) {
  const ok = (data) => ({ status: 200, contentType: "application/json", body: JSON.stringify({ success: true, data }) });
  if (missing.pipelines) await context.route("**/api/v1/pipelines", (r) => r.fulfill(ok({ pipelines: Object.entries(modules).map(([mode, m]) => ({
    mode, source: "file:" + m.file, digest: m.digest, size: m.size, imports: ["wasi_snapshot_preview1.fd_write", "wasmq.progress"],
    signer: null, trust: "not-checked", tier: "interpreted", description: `the worker tests' ${mode} module`, config_schema: SCHEMAS[mode] })) })));
  if (missing.workers) await context.route("**/api/v1/workers", async (r) => {
    const list = (await rest(base, "/api/v1/tasks?status=processing&page_size=10")).json.data.tasks;
    r.fulfill(ok({ workers: [{ id: "127.0.0.1:1:w0", host: "127.0.0.1", pid: 1, started_at: new Date(started).toISOString(),
      last_heartbeat: new Date().toISOString(), concurrency: 2,
      running: list.map((t) => ({ task_id: t.task_id, mode: t.mode, started_at: t.updated_at, progress: t.progress })) }] }));
  });
  if (missing.history) await context.route("**/api/v1/tasks/stats/history*", async (r) => {
    const done = (await rest(base, "/api/v1/tasks?page_size=100")).json.data.tasks.filter((t) => t.finished_at);
    const step = 60000, to = Math.ceil(Date.now() / step) * step, from = to - 3600000;
    const series = [...new Set(done.map((t) => t.mode))].map((mode) => ({ mode, points: Array.from({ length: 60 }, (_, i) => {
      const at = from + i * step, inStep = done.filter((t) => t.mode === mode && +new Date(t.finished_at) >= at && +new Date(t.finished_at) < at + step);
      const ms = inStep.map((t) => +new Date(t.finished_at) - +new Date(t.created_at));
      return { at: new Date(at).toISOString(), done: inStep.filter((t) => t.status === "done").length,
        failed: inStep.filter((t) => t.status === "failed").length, mean_ms: ms.length ? ms.reduce((a, b) => a + b) / ms.length : null,
        p95_ms: ms.length ? Math.max(...ms) : null };
    }) }));
    r.fulfill(ok({ step_ms: step, from: new Date(from).toISOString(), to: new Date(to).toISOString(), series }));
  });
}

// ---- helpers in the browser ---------------------------------------------------------------------------------

const photoBytes = args.photo && fs.existsSync(args.photo) ? fs.readFileSync(args.photo) : null;
const photoType = !photoBytes || /\.png$/i.test(args.photo) ? "image/png" : "image/jpeg";

// Drops an image on `selector` the way a file dragged from the desktop arrives: a DataTransfer holding a File.
// The photo when given, otherwise a PNG the page paints.
async function dropImage(page, selector, name) {
  const dt = await page.evaluateHandle(async ({ b64, type, name }) => {
    let blob;
    if (b64) blob = new Blob([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], { type });
    else {
      const c = new OffscreenCanvas(320, 200), g = c.getContext("2d");
      const grad = g.createLinearGradient(0, 0, 320, 200);
      grad.addColorStop(0, "#4c6ef5"); grad.addColorStop(1, "#f783ac");
      g.fillStyle = grad; g.fillRect(0, 0, 320, 200);
      g.fillStyle = "#fff"; g.beginPath(); g.arc(160, 100, 50, 0, Math.PI * 2); g.fill();
      blob = await c.convertToBlob({ type: "image/png" });
    }
    const dt = new DataTransfer();
    dt.items.add(new File([blob], name, { type: blob.type }));
    return dt;
  }, { b64: photoBytes ? photoBytes.toString("base64") : null, type: photoType, name });
  await page.dispatchEvent(selector, "dragenter", { dataTransfer: dt });
  await page.dispatchEvent(selector, "dragover", { dataTransfer: dt });
  await page.dispatchEvent(selector, "drop", { dataTransfer: dt });
}

const loadedImage = (page, selector) => page.waitForFunction((sel) => {
  const imgs = [...document.querySelectorAll(sel)];
  return imgs.length > 0 && imgs.every((i) => i.complete && i.naturalWidth > 0) && imgs.map((i) => `${i.naturalWidth}×${i.naturalHeight}`);
}, selector, { timeout: 20000 }).then((h) => h.jsonValue());

// Saves a screenshot of the page and has axe-core check it against WCAG 2 A and AA (labels, names, contrast,
// ARIA, landmarks). axe is evaluated over the DevTools protocol, so the page's own CSP stays in force.
const AXE = fs.readFileSync(path.join(args.npm, "node_modules/axe-core/axe.min.js"), "utf8");
async function shot(page, name) {
  await page.evaluate(() => window.scrollTo(0, 0));  // the sticky header belongs at the top of a full-page shot
  await page.waitForTimeout(400);  // let the progress bars' transition (0.3 s) settle
  await page.screenshot({ path: path.join(args.out, name + ".png"), fullPage: true });
  if (await page.evaluate(() => typeof window.axe) === "undefined") await page.evaluate(AXE);
  const found = await page.evaluate(async () => (await window.axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "wcag21aa"] }))
    .violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`));
  check(found.length === 0, `${name}: no WCAG 2 A/AA violation found by axe` + (found.length ? "\n        " + found.join("\n        ") : ""));
}

const statusOf = (page) => page.locator("#d-status .badge").textContent();

// ---- the checks ---------------------------------------------------------------------------------------------

const [base, authBase] = await Promise.all([startServe("open"),
  startServe("auth", { WASMQ_AUTH: "jwt", WASMQ_JWT_SECRET: SECRET })]);
const missing = await missingRoutes(base);
const stood = Object.entries(missing).filter(([, v]) => v).map(([k]) => k);
if (stood.length) console.log(`note    this server lacks ${stood.join(", ")}: stand-ins answer those in the browser`);

browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
const desk = await browser.newContext({ viewport: { width: 1280, height: 860 } });
await standIns(desk, base, missing);
const page = await desk.newPage();
const pageErrors = [];
page.on("pageerror", (e) => pageErrors.push(e.message));
page.setDefaultTimeout(20000);

await page.goto(base + "/");
await page.waitForSelector("#live.on");
check(await page.locator("#empty").isVisible(), "the dashboard loads, its list WebSocket is live, and an empty store says so");

// 1. Create: drop an image, pick "slow" and fill its generated form; watch it run to done.
await page.click('nav a[data-nav="create"]');
await page.waitForSelector("#dropzone");
await dropImage(page, "#dropzone", "photo" + (photoType === "image/png" ? ".png" : ".jpg"));
await page.waitForFunction(() => /uploaded as img_/.test(document.querySelector("#drop-info").textContent));
const preview = await loadedImage(page, "#preview");
check(true, `an image dropped on the drop zone is uploaded and previewed (${preview})`);
await page.selectOption("#mode", "slow");
const sleep = page.locator('[data-field="sleep_ms"] input');
check(await sleep.getAttribute("type") === "number" && await sleep.getAttribute("min") === "50" && await sleep.getAttribute("max") === "60000"
  && await sleep.inputValue() === "1000", "the schema's integer field is a number input with its minimum, maximum and default");
check(await page.locator('[data-field="tone"] select option').allTextContents().then((o) => o.join() === "calm,busy"),
  "an enum is a select of its values");
check(await page.locator('[data-field="sleep_ms"] .help').textContent() === SCHEMAS.slow.properties.sleep_ms.description
  && await sleep.getAttribute("aria-describedby") !== null, "a description is help text tied to its field");
await sleep.fill("1200");
await page.selectOption('[data-field="tone"] select', { label: "busy" });
await page.evaluate(() => {
  window.__seen = [];
  new MutationObserver(() => { const p = document.querySelector("#w-pct"); if (p) window.__seen.push(p.textContent); })
    .observe(document.querySelector("#watch"), { childList: true, characterData: true, subtree: true });
});
await page.click("#submit-button");
const slowId = await page.locator("#w-link").textContent();
await page.waitForFunction(() => document.querySelector("#w-status .badge")?.textContent === "done", null, { timeout: 30000 });
const seen = await page.evaluate(() => window.__seen);
const middle = [...new Set(seen.filter((p) => p !== "0%" && p !== "100%"))];
check(middle.length >= 2, `the new task's progress arrived live on the Create page (${middle.slice(0, 6).join(" ")} …)`);
const slowTask = (await rest(base, "/api/v1/tasks/" + slowId)).json.data;
check(slowTask.config.sleep_ms === 1200 && slowTask.config.tone === "busy" && slowTask.source_image?.startsWith("img_"),
  `the generated form sent {sleep_ms: 1200, tone: "busy"} and the dropped image (${JSON.stringify(slowTask.config)})`);

// 2. "progress" with the dropped image as source and as its wasmq-file-id field; the output image shows.
await page.selectOption("#mode", "progress");
const picker = page.locator('[data-field="background_image"] select');
check(await picker.count() === 1, "a wasmq-file-id field is an image picker");
check(await page.locator('[data-field="strength"] input').getAttribute("step") === "any"
  && await page.locator('[data-field="mirror"] input').getAttribute("type") === "checkbox"
  && await page.locator('[data-field="regions"] textarea').count() === 1,
  "a number is a decimal input, a boolean a checkbox, an array a JSON box");
await page.check('[data-field="mirror"] input');
await page.fill('[data-field="regions"] textarea', "[1, 2]");
const fileId = slowTask.source_image;
await picker.selectOption(fileId);
await loadedImage(page, '[data-field="background_image"] img.thumb');
await page.click("#submit-button");
await page.waitForFunction((old) => document.querySelector("#w-link")?.textContent !== old, slowId);
const progressId = await page.locator("#w-link").textContent();
await page.waitForFunction(() => document.querySelector("#w-status .badge")?.textContent === "done", null, { timeout: 30000 });
const outSize = await loadedImage(page, "#w-result img.output");
check(true, `the finished task's output image is shown on the Create page (${outSize})`);
const progressTask = (await rest(base, "/api/v1/tasks/" + progressId)).json.data;
const pc = progressTask.config;
check(pc.background_image === fileId && pc.label === "hello" && pc.strength === 0.5 && pc.mirror === true
  && JSON.stringify(pc.regions) === "[1,2]", `the picker's file id, the defaults and the edits went into the config (${JSON.stringify(pc)})`);
await page.selectOption("#mode", "exit3");
check(await page.locator(".schema-form > .field textarea").count() === 1, "a module without a schema gets one JSON box");
await page.selectOption("#mode", "progress");
await shot(page, "create-desktop");

// 3. The task page: images side by side, the slider, downloads, timeline.
await page.click("#w-link");
await page.waitForSelector("#d-images figure img");
const sizes = await loadedImage(page, "#d-images .side-by-side img");
check(sizes.length >= 2, `the task page shows the input and output images, loaded (${sizes.join(", ")})`);
check(await page.locator("#compare-slider").count() === 1, "and a slider to compare them");
await page.locator("#compare-slider").fill("25");
check(await page.locator(".compare-frame img.over").evaluate((i) => i.style.clipPath) === "inset(0px 0px 0px 25%)",
  "moving the slider uncovers the input");
const downloads = await page.locator(".downloads a").allTextContents();
check(downloads.some((d) => /^copy-source/.test(d)) && downloads.includes("result.txt"), `the outputs are linked for download (${downloads.join(", ")})`);
const dl = page.waitForEvent("download");
await page.click('.downloads a:text-is("result.txt")');
const download = await dl;
const got = fs.readFileSync(await download.path(), "utf8").trim();
check(got === progressId, "a download link saves the output file");
check(await page.locator("#d-timeline li").count() >= 3, "the timeline lists the task's events");
await shot(page, "task-desktop");

// 4. Cancel a slow task from its page.
const longId = (await rest(base, "/api/v1/tasks", { method: "POST", body: { mode: "slow", config: { sleep_ms: 30000 } } })).json.data.task_id;
await page.goto(base + "/#/tasks/" + longId);
await page.waitForFunction(() => document.querySelector("#d-status .badge")?.textContent === "processing" &&
  parseInt(document.querySelector("#d-pct").textContent) > 0);
await page.click("#d-cancel");
await page.waitForFunction(() => document.querySelector("#d-status .badge")?.textContent === "cancelled");
check((await rest(base, "/api/v1/tasks/" + longId)).json.data.status === "cancelled", "Cancel stops a running slow task");

// 5. A failed task: its error and stderr; Retry queues it again.
const failId = (await rest(base, "/api/v1/tasks", { method: "POST", body: { mode: "exit3", max_retries: 0 } })).json.data.task_id;
await page.goto(base + "/#/tasks/" + failId);
await page.waitForFunction(() => document.querySelector("#d-status .badge")?.textContent === "failed", null, { timeout: 30000 });
await page.waitForSelector("#d-error pre.stderr");
check(/giving up/.test(await page.locator("#d-error").textContent()), "a failed task shows its error and stderr");
check(await page.locator("#d-retry").isVisible() && !(await page.locator("#d-cancel").isVisible()), "it offers Retry, not Cancel");
await shot(page, "task-failed-desktop");
if (missing.retry) skip("Retry (this server has no POST /api/v1/tasks/{id}/retry yet)");
else {
  await page.evaluate(() => {
    window.__statuses = [];
    new MutationObserver(() => window.__statuses.push(document.querySelector("#d-status").textContent))
      .observe(document.querySelector("#d-status"), { childList: true, subtree: true, characterData: true });
  });
  await page.click("#d-retry");
  await page.waitForFunction(() => window.__statuses.some((s) => s !== "failed"));
  await page.waitForFunction(() => document.querySelector("#d-status .badge")?.textContent === "failed", null, { timeout: 30000 });
  const after = (await rest(base, "/api/v1/tasks/" + failId)).json.data;
  check(Array.isArray(after.attempts) ? after.attempts.length >= 2 : true,
    `Retry runs the failed task again (${await page.evaluate(() => [...new Set(window.__statuses)].join(" → "))})`);
}

// 6. The list: filters, search by id, paging info; a task posted elsewhere appears live.
await page.goto(base + "/#/tasks");
await page.waitForSelector("#tasks tr");
await page.selectOption("#filter-status", "failed");
await page.waitForFunction(() => location.hash.includes("status=failed"));
await page.waitForFunction(() => document.querySelectorAll("#tasks tr").length > 0 &&
  [...document.querySelectorAll("#tasks .badge")].every((b) => b.textContent === "failed"));
check((await page.locator("#tasks tr").count()) === 1, "the status filter shows the failed task only");
await page.selectOption("#filter-status", "");
await page.selectOption("#filter-mode", "slow");
await page.waitForFunction(() => [...document.querySelectorAll("#tasks tr")].length === 2 &&
  [...document.querySelectorAll("#tasks td[data-label=Mode]")].every((t) => t.textContent === "slow"));
check(true, "the mode filter shows the slow tasks only");
await page.selectOption("#filter-mode", "");
await page.waitForFunction(() => document.querySelectorAll("#tasks tr").length === 4);
await page.waitForSelector("#live.on");
const third = (await rest(base, "/api/v1/tasks", { method: "POST", body: { mode: "slow", config: { sleep_ms: 600 } } })).json.data.task_id;
await page.waitForSelector(`#tasks tr[data-id="${third}"]`);
await page.waitForFunction((id) => document.querySelector(`#tasks tr[data-id="${id}"] .badge`)?.textContent === "done", third);
check(true, "a task posted through the API appears in the open list and turns done live");
await shot(page, "tasks-desktop");
await page.fill("#search-id", progressId);
await page.press("#search-id", "Enter");
await page.waitForFunction((id) => location.hash === "#/tasks/" + id, progressId);
check(true, "searching a task id opens its page");

// 7. Queue and Pipelines. A cron schedule made through the API is listed on the Queue page, paused there
// (yearly, so that it cannot fire during the test and change the counts below).
const sched = await rest(base, "/api/v1/schedules", { method: "POST",
  body: { cron: "0 3 1 jan *", timezone: "Europe/Paris", task: { mode: "slow", config: { sleep_ms: 50 } }, paused: false } });
check(sched.status === 201 && sched.json.data.next_runs.length === 5, "a cron schedule is created with its next 5 runs");
const schedId = sched.json.data.schedule_id;
await page.click('nav a[data-nav="queue"]');
await page.waitForSelector(`#q-schedules tr.schedule[data-id="${schedId}"]`);
check((await page.locator(`#q-schedules tr[data-id="${schedId}"] .next-run`).textContent()).match(/^\d{4}-01-01T03:00:00\+01:00$/) !== null,
  "the Queue page lists the schedule with its next run in Paris time");
await page.click(`#q-schedules tr[data-id="${schedId}"] button`);
await page.waitForSelector(`#q-schedules tr.schedule.paused[data-id="${schedId}"]`);
check((await rest(base, "/api/v1/schedules/" + schedId)).json.data.paused === true, "its Pause button pauses it");
await page.waitForSelector("#q-counts .stat.done");
check(await page.locator("#q-counts .stat.done b").textContent() === "3", "the Queue page counts the tasks per status");
await page.waitForSelector("#q-charts svg.chart");
check(await page.locator("#q-charts svg.chart").count() === 2 && await page.locator("#q-charts svg circle").count() > 0,
  "it draws throughput and duration charts" + (missing.history ? " (history from the stand-in)" : ""));
await page.waitForSelector("#q-workers .worker", { timeout: 15000 }).catch(() => {});  // the page polls every 5 s
check(await page.locator("#q-workers .worker").count() >= 1, "it lists the workers" + (missing.workers ? " (from the stand-in)" : ""));
await page.waitForSelector(`#q-dead tr[data-id="${failId}"]`, { timeout: 15000 }).catch(() => {});
check(await page.locator(`#q-dead tr[data-id="${failId}"]`).count() === 1 &&
  (await page.locator(`#q-dead tr[data-id="${failId}"] td[data-label=error]`).textContent()) === "EXIT",
  "it lists the dead letters with their last error");
await page.locator("#q-dead").scrollIntoViewIfNeeded();
await shot(page, "queue-desktop");
await page.click('nav a[data-nav="pipelines"]');
await page.waitForSelector(".pipeline");
const cards = await page.locator(".pipeline h2").allTextContents();
check(["exit3", "progress", "slow"].every((m) => cards.includes(m)), `the Pipelines page lists every module (${cards.join(", ")})`);
check(await page.locator('.pipeline[data-mode="slow"] .digest').textContent() === modules.slow.digest,
  "with its digest" + (missing.pipelines ? " (from the stand-in)" : ""));
await shot(page, "pipelines-desktop");

// 8. Keyboard: the navigation and the main controls are reachable by Tab, with a visible focus ring.
await page.goto(base + "/#/tasks");
await page.reload();
await page.waitForSelector("#tasks tr");
await page.keyboard.press("Tab");
check(await page.evaluate(() => document.activeElement.classList.contains("skip")), "Tab reaches the skip link first");
await page.keyboard.press("Tab"); await page.keyboard.press("Tab");
check(await page.evaluate(() => document.activeElement.dataset.nav === "tasks" && getComputedStyle(document.activeElement).outlineStyle !== "none"),
  "then the navigation, with a visible focus ring");
await page.goto(base + "/#/create");
await page.waitForSelector("#mode option", { state: "attached" });
await page.focus("#dropzone");
const chooser = page.waitForEvent("filechooser");
await page.keyboard.press("Enter");
const tiny = path.join(dir, "tiny.png");
fs.writeFileSync(tiny, Buffer.from("89504e470d0a1a0a0000000d4948445200000001000000010806000000" +
  "1f15c4890000000d49444154789c63f8ffff3f0005fe02fea7d6a4a80000000049454e44ae426082", "hex"));
await (await chooser).setFiles(args.photo && fs.existsSync(args.photo) ? args.photo : tiny);
await page.waitForFunction(() => /uploaded as img_/.test(document.querySelector("#drop-info").textContent));
check(true, "Enter on the focused drop zone opens the file chooser, and the chosen image is uploaded");
check(pageErrors.length === 0, "no script error on the desktop pages" + (pageErrors.length ? ": " + pageErrors.join("; ") : ""));

// 9. Phone width: every page fits 390 px without sideways scrolling.
const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
await standIns(phone, base, missing);
const mobile = await phone.newPage();
for (const [name, hash, ready] of [["tasks", "#/tasks", "#tasks tr"], ["task", "#/tasks/" + progressId, "#d-images img"],
  ["create", "#/create", ".schema-form"], ["queue", "#/queue", "#q-charts svg"], ["pipelines", "#/pipelines", ".pipeline"],
  ["task-failed", "#/tasks/" + failId, "#d-error"]]) {
  await mobile.goto(base + "/" + hash);
  await mobile.waitForSelector(ready);
  await mobile.waitForTimeout(300);
  const wide = await mobile.evaluate(() => document.documentElement.scrollWidth);
  check(wide <= 390, `the ${name} page fits a 390 px phone (scroll width ${wide})`);
  await shot(mobile, name + "-phone");
}

// 10. Auth: two users; B never sees A's tasks, in the list, by id, or live.
const token = (sub) => execFileSync(args.wasmq, ["token", "--sub", sub, "--ttl", "1h"],
  { env: { ...process.env, WASMQ_JWT_SECRET: SECRET }, cwd: dir }).toString().trim();
const [alice, bob] = [token("alice"), token("bob")];
const signIn = async (ctxPage, tok) => {
  await ctxPage.goto(authBase + "/");
  await ctxPage.waitForFunction(() => location.hash === "#/login");
  await ctxPage.fill("#token", tok);
  await ctxPage.click("#sign-in");
  await ctxPage.waitForFunction(() => location.hash.startsWith("#/tasks"));
  await ctxPage.waitForSelector("#live.on");
};
const aCtx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
const bCtx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
await standIns(aCtx, authBase, missing); await standIns(bCtx, authBase, missing);
const aPage = await aCtx.newPage(), bPage = await bCtx.newPage();
await aPage.goto(authBase + "/");
await aPage.waitForFunction(() => location.hash === "#/login");
await shot(aPage, "login-desktop");
check(true, "with auth on, the page asks for a token");
await signIn(aPage, alice);
check(await aPage.locator("#who").textContent() === "alice", "alice signs in with her token");
const aTask = (await rest(authBase, "/api/v1/tasks", { method: "POST", tok: alice, body: { mode: "slow", config: { sleep_ms: 300 } } })).json.data.task_id;
await aPage.waitForSelector(`#tasks tr[data-id="${aTask}"]`);
check(true, "alice sees her task appear live");
await aPage.setViewportSize({ width: 390, height: 844 });
await aPage.waitForTimeout(300);
const aWide = await aPage.evaluate(() => document.documentElement.scrollWidth);
check(aWide <= 390, `signed in, the header still fits a 390 px phone (scroll width ${aWide})`);
await shot(aPage, "tasks-signed-in-phone");
await signIn(bPage, bob);
await bPage.waitForSelector("#empty:not([hidden])");
check(await bPage.locator("#tasks tr").count() === 0, "bob's list is empty");
await rest(authBase, "/api/v1/tasks", { method: "POST", tok: alice, body: { mode: "slow", config: { sleep_ms: 100 } } });
await bPage.waitForTimeout(1200);
check(await bPage.locator("#tasks tr").count() === 0, "alice's new task never reaches bob's open list");
await bPage.goto(authBase + "/#/tasks/" + aTask);
await bPage.waitForSelector("#toast:not([hidden])");
check(/No task/.test(await bPage.locator("#toast").textContent()), "bob opening alice's task is told there is no such task");
await shot(bPage, "auth-other-user-desktop");
// An admin (a token with "admin": true, signed here as the server's secret would) sees everyone's tasks and
// filters them by user; a server without admins lists the admin's own (none), and the check is skipped.
const b64url = (x) => Buffer.from(x).toString("base64url");
const now = Math.floor(Date.now() / 1000);
const unsigned = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" })) + "." + b64url(JSON.stringify({ sub: "root", admin: true, iat: now, exp: now + 3600 }));
const root = unsigned + "." + createHmac("sha256", SECRET).update(unsigned).digest("base64url");
const bTask = (await rest(authBase, "/api/v1/tasks", { method: "POST", tok: bob, body: { mode: "slow", config: { sleep_ms: 100 } } })).json.data.task_id;
const asRoot = (await rest(authBase, "/api/v1/tasks?page_size=50", { tok: root })).json.data.tasks.map((t) => t.task_id);
if (!asRoot.includes(aTask)) skip("an admin's view (this server has no admins yet)");
else {
  const rCtx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  await standIns(rCtx, authBase, missing);
  const rPage = await rCtx.newPage();
  await signIn(rPage, root);
  await rPage.waitForSelector(`#tasks tr[data-id="${aTask}"]`);
  await rPage.waitForSelector(`#tasks tr[data-id="${bTask}"]`);
  check(true, "an admin sees both users' tasks");
  await rPage.fill("#filter-user", "bob");
  await rPage.press("#filter-user", "Tab");
  await rPage.waitForFunction(() => location.hash.includes("user=bob"));
  await rPage.waitForFunction((id) => { const r = [...document.querySelectorAll("#tasks tr")]; return r.length === 1 && r[0].dataset.id === id; }, bTask);
  check(true, "and filters them by user");
  await shot(rPage, "tasks-admin-desktop");
  if (!missing.workers) {
    await aPage.setViewportSize({ width: 1280, height: 860 });
    await aPage.goto(authBase + "/#/queue");
    await aPage.waitForSelector("#q-workers p");
    check(/Only admins/.test(await aPage.locator("#q-workers").textContent()), "a user who is not an admin is told the workers are for admins");
    await rPage.goto(authBase + "/#/queue");
    await rPage.waitForSelector("#q-workers .worker");
    check(true, "the admin sees the workers");
  }
}

await bPage.click("#sign-out");
await bPage.waitForFunction(() => location.hash === "#/login" && !localStorage.getItem("wasmq.token"));
check(true, "Sign out forgets the token");

finish(failed ? 1 : 0);
