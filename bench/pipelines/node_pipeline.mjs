// bench/pipelines/node_pipeline.mjs — runs a built-in pipeline under node's V8 (node:wasi, preview1) with
// the `wasmq` imports supplied from JS, RUNS times on one compiled module; prints the wall time of each run
// (instantiate + _start, ms) as a JSON array on stdout.
//   node --no-warnings node_pipeline.mjs MODULE.wasm IN_DIR OUT_DIR TASK.json RUNS
import { closeSync, openSync, readFileSync } from 'node:fs';
import { WASI } from 'node:wasi';

const [file, inDir, outDir, taskFile, runsArg] = process.argv.slice(2);
const runs = Number(runsArg || 5);
const module = await WebAssembly.compile(readFileSync(file));
const decoder = new TextDecoder();

class Failed extends Error {}

function wasmqImports(getMemory) {
  const text = (ptr, len) => decoder.decode(new Uint8Array(getMemory().buffer, ptr, len));
  return {
    progress() {},
    log() {},
    fail(codePtr, codeLen, msgPtr, msgLen) {
      throw new Failed(`${text(codePtr, codeLen)}: ${text(msgPtr, msgLen)}`);
    },
    // The benchmark's configs give explicit boxes: no engine is reached.
    engine_call(_n, _nl, _j, _jl, _d, _dl, sizesPtr) {
      const json = new TextEncoder().encode('{"code":"ENGINE_UNAVAILABLE","message":"no engines under node"}');
      lastResponse = json;
      new Uint32Array(getMemory().buffer, sizesPtr, 2).set([json.length, 0]);
      return -5;
    },
    engine_response(jsonBuf, jsonCap) {
      if (jsonCap < lastResponse.length) return -1;
      new Uint8Array(getMemory().buffer, jsonBuf, lastResponse.length).set(lastResponse);
      return 0;
    },
  };
}
let lastResponse = new Uint8Array();

// WASI-NN without models: every load is "not found" (errno 8), so BACKGROUND_CHANGE takes its estimate —
// the same work as its `"matte": "estimate"` config, which is what the benchmark asks for under node.
const noModels = {
  load: () => 8, load_by_name: () => 8, init_execution_context: () => 1, set_input: () => 1,
  compute: () => 1, get_output: () => 1,
};

const times = [];
for (let i = 0; i < runs; ++i) {
  const stdin = openSync(taskFile, 'r');
  const devnull = openSync('/dev/null', 'w');
  const start = process.hrtime.bigint();
  const wasi = new WASI({
    version: 'preview1', args: ['pipeline'], env: {}, returnOnExit: true,
    preopens: { '/in': inDir, '/out': outDir }, stdin, stdout: devnull,
  });
  let instance;
  const imports = { ...wasi.getImportObject(), wasmq: wasmqImports(() => instance.exports.memory),
                    wasi_ephemeral_nn: noModels };
  instance = await WebAssembly.instantiate(module, imports);
  const code = wasi.start(instance);
  times.push(Number(process.hrtime.bigint() - start) / 1e6);
  closeSync(stdin);
  closeSync(devnull);
  if (code !== 0) throw new Error(`exit ${code}`);
}
console.log(JSON.stringify(times));
