// Differential test: wasmq and OPA's npm SDK (@open-policy-agent/opa-wasm on node's V8) as two hosts of
// the same policies, on the same data and inputs.
//
//   node differential.mjs --wasmq BIN --policy-host BIN --opa-wasm-dir DIR --cases FILE --modules DIR
//
// Every case of DIR/dotnet-opa-wasm/expected.json (OPA-compiled policies) goes through `wasmq policy eval`
// (the command line, end to end) and through the SDK; every case of cases.json (our policy modules, built
// from modules/*.c into the --modules folder, which call custom builtins the command line cannot
// register) through policy_host and the SDK with the same builtins; and a
// list of direct calls of the host builtins (sprintf, regex.split, json.is_valid, yaml.*) through
// policy_host and the SDK's own builtin functions. Results are compared as JSON values (object key
// order aside: OPA emits keys in its own order). An abort must abort on both sides with the same message.
// The last line is "differential: N agree, N differ"; the exit code is 1 when anything differs.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, 'package.json'));

function arg(name) {
  const i = process.argv.indexOf(name);
  if (i < 0 || i + 1 >= process.argv.length) {
    console.error(`differential.mjs: ${name} is required`);
    process.exit(2);
  }
  return process.argv[i + 1];
}
const wasmq = arg('--wasmq');
const policyHost = arg('--policy-host');
const sharedDir = path.join(arg('--opa-wasm-dir'), 'dotnet-opa-wasm');
const casesFile = arg('--cases');
const modulesDir = arg('--modules');

let sdk, sdkBuiltins;
try {
  sdk = require('@open-policy-agent/opa-wasm');
  // The SDK's builtins, called directly (the package's exports do not list them; the file is public).
  sdkBuiltins = require(path.join(path.dirname(require.resolve('@open-policy-agent/opa-wasm')),
                                  'builtins', 'index.js'));
} catch (e) {
  console.error('differential.mjs: OPA npm SDK missing; run scripts/setup (npm ci in tests/policy): ' + e.message);
  process.exit(1);
}

// The custom builtins of modules/README.md, as tests/policy/custom_builtins.h defines them.
function customBuiltins(wasm) {
  return {
    'custom.func': (s) => s + ' Doe',
    'custom.func0': () => 0,
    'custom.func1': (a) => a,
    'custom.func2': wasm.includes('math_builtin') ? (a, b) => a + b : (a, b) => a < b,
    'custom.func3': (a, b, c) => String(a) + String(b) + String(c),
    'custom.func4': (l, b, c, d) => l.join(',') + b + c + d,
  };
}

// Deep equality of JSON values, objects compared by key set.
function same(a, b) {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  const ka = Object.keys(a).sort(), kb = Object.keys(b).sort();
  return same(ka, kb) && ka.every((k) => same(a[k], b[k]));
}

// The cases of `file`; their wasm, data and input files are in `dir`.
function readCases(dir, file) {
  const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  return doc.cases.map((c) => ({
    wasm: path.join(dir, c.wasm),
    data: c.data_file ? JSON.parse(fs.readFileSync(path.join(dir, c.data_file), 'utf8')) : (c.data ?? {}),
    input: c.input_file ? JSON.parse(fs.readFileSync(path.join(dir, c.input_file), 'utf8')) : (c.input ?? {}),
    entrypoint: c.entrypoint ?? 0,
  }));
}

function sdkEval(c, custom) {
  try {
    const policy = sdk.loadPolicySync(fs.readFileSync(c.wasm), undefined, custom ?? {});
    policy.setData(c.data);
    return { result: policy.evaluate(c.input, c.entrypoint) };
  } catch (e) {
    // The SDK throws opa_abort's message as a bare string; anything else is an Error.
    return typeof e === 'string' ? { abort: e } : { error: String(e && e.message ? e.message : e) };
  }
}

function wasmqEval(c) {
  const r = spawnSync(wasmq, ['policy', 'eval', c.wasm, '--input', JSON.stringify(c.input), '--data',
                              JSON.stringify(c.data), '--entrypoint', String(c.entrypoint)], { encoding: 'utf8' });
  if (r.status === 0) return { result: JSON.parse(r.stdout) };
  const m = /policy aborted: (.*)/.exec(r.stderr);
  if (r.status === 1 && m) return { abort: m[1].trim() };
  return { error: `exit ${r.status}: ${r.stderr.trim()}` };
}

// Both hosts must agree on the outcome; an error (not an abort) on either side is a disagreement.
function agree(a, b) {
  if ('result' in a && 'result' in b) return same(a.result, b.result);
  if ('abort' in a && 'abort' in b) return a.abort === b.abort;
  return false;
}

const builtinCalls = [
  ['sprintf', ['%s has %d items costing %.2f', ['cart', 3, 9.5]]],
  ['sprintf', ['%5d|%-5d|%05d|%+d|%+d', [3, 4, 42, 5, -5]]],
  ['sprintf', ['%x %X %o %b %u', [255, 255, 8, -5, -1]]],
  ['sprintf', ['%s %s %s %s %s', [1.5, [1, 2, 'a'], { a: 1 }, null, true]]],
  ['sprintf', ['%e %.3e %g %.3g %f %.0f', [12345.678, 12345.678, 0.0001, 3.14159, -1.5, 7.4]]],
  ['sprintf', ['%2$s %1$s %T %T %t %t', ['a', 'b', 'x', [1], [], '']]],
  ['sprintf', ['%j|%s|%s|%s|%s', [{ a: [1, 2] }, 1e21, 123456789012, 0.000001, 1e-7]]],
  ['sprintf', ["100%% %c %.2s %'*8s %v %-6s|", [65, 'abcdef', 'x', true, 'ab']]],
  ['sprintf', ['%s and %s', ['only one']]],
  ['sprintf', ['%d', ['abc']]],
  ['sprintf', ['%d %i %d', ['42', 3.9, -0.5]]],
  ['regex.split', ['a.b', 'xa1bya2bz']],
  ['regex.split', ['\\s*,\\s*', 'a , b,c ,d']],
  ['regex.split', ['(-)', '1-2-3']],
  ['regex.split', ['', 'abc']],
  ['regex.split', ['x*', 'axbxxc']],
  ['regex.split', ['a', '']],
  ['regex.split', ['(a)|(b)', '1a2b3']],
  ['regex.split', ['[0-9]+', 'no digits']],
  ['json.is_valid', ['{"a": [1, 2]}']],
  ['json.is_valid', ['{a: 1}']],
  ['json.is_valid', ['']],
  ['json.is_valid', [5]],
  ['yaml.is_valid', ['a: 1\nb: [x, y]\n']],
  ['yaml.is_valid', ['a: [1, 2\n']],
  ['yaml.is_valid', [7]],
  ['yaml.marshal', [{ a: 1, b: ['x', 'y'], c: { d: true, e: null }, f: '123', g: 1.5, h: '' }]],
  ['yaml.marshal', [[1, 'two', { three: 3 }]]],
  ['yaml.marshal', ['plain']],
  ['yaml.unmarshal', ['a: 1\nb: [x, \'y\', "2"]\nc: {d: true, e: null, f: 1.5}\ng: ~\nh: 0x1f\n']],
  ['yaml.unmarshal', ['- 1\n- two\n- three: 3\n']],
  ['yaml.unmarshal', ['a: [1, 2\n']],
];

function sdkBuiltin([name, args]) {
  try {
    const r = sdkBuiltins[name](...args);
    // Through JSON, as the SDK hands a builtin's answer to the policy (an undefined array element is null).
    return r === undefined ? { undefined: true } : { result: JSON.parse(JSON.stringify(r)) };
  } catch (e) {
    return { error: String(e) };
  }
}

let agreeCount = 0, differ = 0;
function report(label, ours, theirs, ok) {
  if (ok) {
    agreeCount++;
    console.log(`agree   ${label}`);
  } else {
    differ++;
    console.log(`DIFFER  ${label}\n  wasmq: ${JSON.stringify(ours)}\n  npm:   ${JSON.stringify(theirs)}`);
  }
}

// 1. The shared fixtures through `wasmq policy eval`.
for (const c of readCases(sharedDir, path.join(sharedDir, 'expected.json'))) {
  report(`${path.basename(c.wasm)} ep ${c.entrypoint} input ${JSON.stringify(c.input)}`, wasmqEval(c), sdkEval(c),
         agree(wasmqEval(c), sdkEval(c)));
}

// 2. Our modules (custom builtins) and direct builtin calls through policy_host.
const local = readCases(modulesDir, casesFile);
const hostOut = JSON.parse(execFileSync(policyHost, {
  input: JSON.stringify({ cases: local, builtin_calls: builtinCalls.map(([name, args]) => ({ name, args })) }),
  encoding: 'utf8',
}));
local.forEach((c, i) => {
  const theirs = sdkEval(c, customBuiltins(c.wasm));
  report(`${path.basename(c.wasm)} ep ${c.entrypoint} input ${JSON.stringify(c.input)}`, hostOut.cases[i],
         theirs, agree(hostOut.cases[i], theirs));
});
builtinCalls.forEach((call, i) => {
  const ours = hostOut.builtin_calls[i], theirs = sdkBuiltin(call);
  // Error messages differ by design; both failing is agreement.
  const ok = ('error' in ours && 'error' in theirs) || ('undefined' in ours && 'undefined' in theirs) ||
             ('result' in ours && 'result' in theirs && same(ours.result, theirs.result));
  report(`${call[0]}(${JSON.stringify(call[1]).slice(1, -1)})`, ours, theirs, ok);
});

console.log(`differential: ${agreeCount} agree, ${differ} differ`);
process.exit(differ === 0 ? 0 : 1);
