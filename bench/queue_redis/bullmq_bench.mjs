// File: bench/queue_redis/bullmq_bench.mjs
//
// BullMQ measured the way wasmq_redis_bench.cc measures wasmq (same tests, same counts, same redis-server):
//   enqueue   N jobs added one after another by one client (each add awaited): jobs/s
//   drain C   N no-op jobs queued (addBulk), then a Worker of concurrency C started: jobs/s until the last
//             is completed (`drainC`, any C; the run script does 1, 10 and 50), with the CPU both sides
//             spent per job meanwhile (this process: process.cpuUsage; redis-server: INFO cpu)
//   latency   jobs added at a fixed rate while a Worker of concurrency 8 runs them: p50/p99 add-to-completed
// Defaults are BullMQ's: completed jobs are kept, locks are renewed and stalled jobs re-run (at-least-once).
// Output: one JSON object per line.
//
//   node bullmq_bench.mjs HOST PORT TEST [TASKS] [RATE] [LATENCY_TASKS]      (bullmq installed next to it)
import { Queue, Worker } from 'bullmq';

const [host, port, test, tasksArg, rateArg, latencyArg] = process.argv.slice(2);
const tasks = Number(tasksArg || 20000), rate = Number(rateArg || 500), latencyTasks = Number(latencyArg || 2500);
const connection = { host, port: Number(port), maxRetriesPerRequest: null };
const print = (o) => console.log(JSON.stringify({ system: 'bullmq', ...o }));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (v, p) => {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.max(1, Math.ceil((p / 100) * s.length)) - 1];
};

async function enqueue(n) {
  const q = new Queue('bench_enqueue', { connection });
  await q.waitUntilReady();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await q.add('noop', { i });
  print({ test: 'enqueue', tasks: n, per_s: Math.round(n / ((performance.now() - t0) / 1000)) });
  await q.close();
}

// redis-server's CPU time so far (used_cpu_user + used_cpu_sys, s).
async function serverCpu(q) {
  const info = await (await q.client).info('cpu');
  let total = 0;
  for (const f of ['used_cpu_user:', 'used_cpu_sys:']) {
    const m = info.match(new RegExp(f + '([0-9.]+)'));
    if (m) total += Number(m[1]);
  }
  return total;
}

async function drain(n, concurrency) {
  const name = 'bench_drain' + concurrency;
  const q = new Queue(name, { connection });
  for (let i = 0; i < n; i += 1000) {
    const chunk = [];
    for (let k = i; k < Math.min(n, i + 1000); k++) chunk.push({ name: 'noop', data: { i: k } });
    await q.addBulk(chunk);
  }
  let done = 0, last = 0;
  const server0 = await serverCpu(q), usage0 = process.cpuUsage();
  const t0 = performance.now();
  const worker = new Worker(name, async () => {}, { connection, concurrency });
  await new Promise((resolve) =>
    worker.on('completed', () => {
      last = performance.now();
      if (++done === n) resolve();
    }),
  );
  const usage = process.cpuUsage(usage0), server = await serverCpu(q);
  await worker.close();
  print({ test: 'drain', concurrency, tasks: n, per_s: Math.round(n / ((last - t0) / 1000)),
          client_cpu_us: +((usage.user + usage.system) / n).toFixed(1),
          server_cpu_us: +(((server - server0) * 1e6) / n).toFixed(1) });
  await q.close();
}

async function latency(n, perSecond) {
  const name = 'bench_latency';
  const q = new Queue(name, { connection });
  const lat = [];
  let finished;
  const all = new Promise((r) => (finished = r));
  const worker = new Worker(name, async () => {}, { connection, concurrency: 8 });
  worker.on('completed', (job) => {
    lat.push(performance.now() - job.data.t);
    if (lat.length === n) finished();
  });
  await worker.waitUntilReady();
  const interval = 1000 / perSecond;
  let next = performance.now();
  for (let i = 0; i < n; i++) {
    const wait = next - performance.now();
    if (wait > 0) await sleep(wait); // the fixed arrival rate under test
    next += interval;
    await q.add('noop', { t: performance.now() });
  }
  await all;
  await worker.close();
  print({ test: 'latency', rate: perSecond, tasks: n, p50_ms: +pct(lat, 50).toFixed(2), p99_ms: +pct(lat, 99).toFixed(2) });
  await q.close();
}

if (test === 'enqueue') await enqueue(tasks);
else if (test === 'drain1') await drain(Math.floor(tasks / 4), 1);
else if (test.startsWith('drain')) await drain(tasks, Number(test.slice(5)));
else if (test === 'latency') await latency(latencyTasks, rate);
else throw new Error('unknown test ' + test);
process.exit(0);
