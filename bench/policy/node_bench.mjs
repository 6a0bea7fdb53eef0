// The npm SDK's side of bench/policy: OPA's @open-policy-agent/opa-wasm on node's V8, one LoadedPolicy per
// case, `evaluate(input, entrypoint)` timed one decision at a time with process.hrtime.bigint().
//
//   node node_bench.mjs CASES.json ITERATIONS      (CASES: what policy_bench writes: wasm paths resolved)
// Prints one JSON line per case: {"name", "p50_us", "p99_us", "mean_us", "n"}.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
// The SDK is installed once, for the tests, in tests/policy/node_modules (scripts/setup: npm ci).
const require = createRequire(path.join(here, '..', '..', 'tests', 'policy', 'package.json'));
const { loadPolicySync } = require('@open-policy-agent/opa-wasm');

const [, , casesFile, iterArg] = process.argv;
const cases = JSON.parse(fs.readFileSync(casesFile, 'utf8'));
const iterations = Number(iterArg || 20000);

for (const c of cases) {
  const policy = loadPolicySync(fs.readFileSync(c.wasm));
  policy.setData(c.data);
  const warm = Math.min(2000, iterations);
  for (let i = 0; i < warm; i++) policy.evaluate(c.input, c.entrypoint);
  const ns = new Float64Array(iterations);
  for (let i = 0; i < iterations; i++) {
    const t0 = process.hrtime.bigint();
    policy.evaluate(c.input, c.entrypoint);
    ns[i] = Number(process.hrtime.bigint() - t0);
  }
  const sorted = Array.from(ns).sort((a, b) => a - b);
  const pct = (p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] / 1000;
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length / 1000;
  console.log(JSON.stringify({ name: c.name, p50_us: pct(0.5), p99_us: pct(0.99), mean_us: mean, n: iterations }));
}
