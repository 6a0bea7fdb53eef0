// The dashboard in a real headless Chromium against a real `wasmq serve`: submit a task from the form,
// watch its progress arrive live over the WebSocket, upload an image and see it and the outputs on the
// task's page, then find both tasks done in the list.
//
//   node dashboard_test.mjs --wasmq BUILD/src/cli/wasmq --modules BUILD/tests/worker/modules [--chromium PATH]
//
// Chromium is driven over the DevTools protocol on a pipe (--remote-debugging-pipe: fds 3 and 4, JSON
// messages ending in NUL), so the test needs nothing but node and Debian's chromium. Both processes run on
// 127.0.0.1 with a free port and are killed by pid at the end. Exit code 0 when every check held.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith("--")) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const WASMQ = args.wasmq;
const MODULES = args.modules;
const CHROMIUM = args.chromium || "/usr/bin/chromium";
const TIMEOUT_MS = 30_000;

const children = [];
let failures = 0;
function check(ok, what) {
  console.log((ok ? "ok     " : "FAILED ") + what);
  if (!ok) failures++;
}
function finish(code) {
  for (const c of children) { try { process.kill(c.pid, "SIGKILL"); } catch (_) { /* gone */ } }
  process.exit(code);
}
process.on("uncaughtException", (e) => { console.error("FAILED " + (e.stack || e)); finish(1); });
process.on("unhandledRejection", (e) => { console.error("FAILED " + (e.stack || e)); finish(1); });
setTimeout(() => { console.error("FAILED the test did not finish within 120 s"); finish(1); }, 120_000).unref();

for (const [name, value] of [["--wasmq", WASMQ], ["--modules", MODULES]])
  if (!value) { console.error(`usage: missing ${name}`); process.exit(2); }
if (!fs.existsSync(CHROMIUM)) {
  console.error(`FAILED ${CHROMIUM} not found: scripts/setup installs Debian's chromium`);
  process.exit(1);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wasmq-dashboard-"));

// ---- wasmq serve on a free port ---------------------------------------------------------------------------

async function startServe() {
  const serve = spawn(WASMQ, ["serve", "--addr", "127.0.0.1:0", "--workers", "2", "--data-dir", path.join(dir, "data"),
    "--pipelines", `slow=${MODULES}/slow.wasm,progress=${MODULES}/progress.wasm`], { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  children.push(serve);
  let log = "";
  return new Promise((resolve, reject) => {
    serve.stderr.on("data", (d) => {
      log += d;
      const m = log.match(/on (http:\/\/127\.0\.0\.1:\d+)\//);
      if (m && log.includes("ready (pid")) resolve(m[1]);
    });
    serve.on("exit", (code) => reject(new Error(`wasmq serve exited with ${code}:\n${log}`)));
  });
}

// ---- Chromium over the DevTools pipe ------------------------------------------------------------------------

class Browser {
  constructor() {
    this.proc = spawn(CHROMIUM, ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
      "--disable-dev-shm-usage", "--remote-debugging-pipe", `--user-data-dir=${path.join(dir, "profile")}`, "about:blank"],
      { stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"] });
    children.push(this.proc);
    this.proc.stderr.on("data", () => {});  // chromium is chatty; keep the pipe drained
    this.next = 1;
    this.pending = new Map();
    this.listeners = [];
    let buffer = "";
    this.proc.stdio[4].on("data", (chunk) => {
      buffer += chunk;
      let end;
      while ((end = buffer.indexOf("\0")) >= 0) {
        const msg = JSON.parse(buffer.slice(0, end));
        buffer = buffer.slice(end + 1);
        if (msg.id && this.pending.has(msg.id)) {
          const { resolve, reject } = this.pending.get(msg.id);
          this.pending.delete(msg.id);
          msg.error ? reject(new Error(JSON.stringify(msg.error))) : resolve(msg.result);
        } else {
          for (const l of this.listeners) l(msg);
        }
      }
    });
  }
  send(method, params = {}, sessionId = undefined) {
    const id = this.next++;
    this.proc.stdio[3].write(JSON.stringify({ id, method, params, sessionId }) + "\0");
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
  }
  async open(url) {
    const { targetId } = await this.send("Target.createTarget", { url: "about:blank" });
    const { sessionId } = await this.send("Target.attachToTarget", { targetId, flatten: true });
    const page = new Page(this, sessionId);
    await page.send("Page.enable");
    await page.send("Runtime.enable");
    await page.send("Page.navigate", { url });
    return page;
  }
}

class Page {
  constructor(browser, sessionId) { this.browser = browser; this.sessionId = sessionId; }
  send(method, params = {}) { return this.browser.send(method, params, this.sessionId); }
  async eval(expression) {
    const r = await this.send("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true });
    if (r.exceptionDetails) throw new Error("in the page: " + JSON.stringify(r.exceptionDetails));
    return r.result.value;
  }
  // Evaluates `expression` until it is truthy; returns its value. Polls the page's state every 25 ms: the
  // page's own WebSocket does the waiting, this only looks.
  async waitFor(expression, what) {
    const deadline = Date.now() + TIMEOUT_MS;
    for (;;) {
      const v = await this.eval(expression).catch(() => undefined);
      if (v) return v;
      if (Date.now() > deadline) {
        const body = await this.eval("document.body ? document.body.innerText : ''").catch(() => "");
        throw new Error(`timed out waiting for ${what}; the page shows:\n${body}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

// ---- The checks ---------------------------------------------------------------------------------------------

const base = await startServe();
const browser = new Browser();
const page = await browser.open(base + "/");

await page.waitFor(`document.getElementById("live")?.textContent === "live"`, "the list's WebSocket");
check(true, "the dashboard loads and its list WebSocket is live");
check(await page.eval(`!document.getElementById("empty").hidden`), "an empty store shows 'No tasks yet'");

// 1. Submit from the form; the task page follows it live.
await page.eval(`(() => {
  document.getElementById("mode").value = "slow";
  document.getElementById("config").value = JSON.stringify({ sleep_ms: 1000 });
  // Record every percentage the page shows, to see progress arrive while the task runs.
  window.__seen = [];
  new MutationObserver(() => window.__seen.push(document.getElementById("d-pct").textContent))
    .observe(document.getElementById("d-pct"), { childList: true, characterData: true, subtree: true });
  document.getElementById("submit-button").click();
})()`);
const slowId = await page.waitFor(`location.hash.startsWith("#/tasks/task_") && location.hash.slice(8)`, "the task page");
check(/^task_\d{8}_/.test(slowId), `submitting the form opens the task's page (${slowId})`);
await page.waitFor(`document.getElementById("d-status").textContent === "done"`, "the task to be done");
const seen = await page.eval("window.__seen");
const middle = seen.filter((p) => p !== "0%" && p !== "100%" && p !== "");
check(middle.length >= 2, `progress arrived live while the task ran (${[...new Set(seen)].join(" ")})`);
check(await page.eval(`document.getElementById("d-pct").textContent`) === "100%", "the finished task shows 100%");
check(await page.waitFor(`[...document.querySelectorAll("#d-images a")].some((a) => a.textContent === "done.txt")`,
  "the output link"), "the task's output file is linked");

// 2. Upload an image through the form's file input; the task page shows the input and the outputs.
const png = path.join(dir, "photo.png");
fs.writeFileSync(png, Buffer.from("89504e470d0a1a0a0000000d4948445200000001000000010806000000" +
  "1f15c4890000000d49444154789c63f8ffff3f0005fe02fea7d6a4a80000000049454e44ae426082", "hex"));
await page.eval(`location.hash = "#/"`);
await page.waitFor(`!document.getElementById("list-view").hidden && document.getElementById("live").textContent === "live"`, "the list");
const { root } = await page.send("DOM.getDocument");
const { nodeId } = await page.send("DOM.querySelector", { nodeId: root.nodeId, selector: "#image" });
await page.send("DOM.setFileInputFiles", { nodeId, files: [png] });
await page.eval(`document.getElementById("mode").value = "progress"; document.getElementById("config").value = "{}";
  document.getElementById("submit-button").click()`);
const progressId = await page.waitFor(`location.hash.startsWith("#/tasks/") && location.hash.slice(8) !== ${JSON.stringify(slowId)}
  && location.hash.slice(8)`, "the second task's page");
await page.waitFor(`document.getElementById("d-status").textContent === "done"`, "the upload task to be done");
const links = await page.waitFor(`(() => { const l = [...document.querySelectorAll("#d-images a")].map((a) => a.textContent);
  return l.includes("result.txt") && l; })()`, "the upload task's files");
check(links.some((l) => l.startsWith("input: img_")), `the uploaded input is shown (${links.join(", ")})`);
check(links.includes("copy-source.png"), "the pipeline's copy of the input (staged as /in/source.png) is an output");
check(await page.eval(`[...document.querySelectorAll("#d-images img")].every((i) => i.complete && i.naturalWidth === 1)`),
  "the images render (a 1×1 PNG)");

// 3. Back to the list: both tasks, done, newest first; the stats count them.
await page.eval(`location.hash = "#/"`);
const rows = await page.waitFor(`(() => { const r = [...document.querySelectorAll("#tasks tr")].map((tr) =>
  [tr.dataset.id, tr.querySelector(".badge").textContent]); return r.length === 2 && r; })()`, "two rows");
check(rows[0][0] === progressId && rows[1][0] === slowId, "the list shows both tasks, newest first");
check(rows.every(([, s]) => s === "done"), "both are done in the list");
await page.waitFor(`[...document.querySelectorAll("#stats .stat")].some((s) => s.textContent === "2done")`, "the stats to count 2 done");
check(true, "the stats count them");

// 4. A task submitted elsewhere (the REST API) appears in the open list by itself.
const res = await fetch(base + "/api/v1/tasks", { method: "POST", headers: { "Content-Type": "application/json" },
  body: JSON.stringify({ mode: "slow", config: { sleep_ms: 200 } }) });
const third = (await res.json()).data.task_id;
await page.waitFor(`document.querySelector('#tasks tr[data-id="${third}"]')`, "the task posted through the API");
check(true, "a task posted through the API shows up in the open list live");
await page.waitFor(`document.querySelector('#tasks tr[data-id="${third}"] .badge')?.textContent === "done"`, "it to finish");
check(true, "and its row turns done without a reload");

console.log(failures ? `dashboard: ${failures} check(s) failed` : "dashboard: every check passed");
finish(failures ? 1 : 0);
