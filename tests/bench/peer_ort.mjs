// ONNX Runtime peer of the extraction benchmark: npm onnxruntime-node (CPU execution
// provider) on the network models/export_onnx.py exported with the same weights.
//
//   node peer_ort.mjs --model NET.onnx --patches P.f32 --npatch N --threads T
//        [--lat-iters K] [--thr-iters K] [--budget SEC] [--write-features OUT.f32]
//
// Session: intra-op threads = T, inter-op 1, sequential execution, all graph optimisations
// (ORT's best CPU setting short of quantisation). The NHWC -> NCHW transpose of the patch
// file happens once, outside the timed runs. Prints one JSON line (same fields and the same
// timing rule as bench_extract.c: median of up to K runs after one warm-up, stopping early
// once the budget is spent, after at least one run).
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');
const ortVersion = require('onnxruntime-node/package.json').version;

const PATCH = 224;
const args = { latIters: 10, thrIters: 5, budget: 30, threads: 1, npatch: 32 };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const key = argv[i].replace(/^--/, '').replace(/-(.)/g, (_, c) => c.toUpperCase());
  const val = argv[i + 1];
  args[key] = ['model', 'patches', 'writeFeatures'].includes(key) ? val : Number(val);
}
if (!args.model || !args.patches) {
  console.error('usage: node peer_ort.mjs --model NET.onnx --patches P.f32 --npatch N --threads T');
  process.exit(2);
}

// N x 224 x 224 x 3 (HWC) float32 -> N x 3 x 224 x 224 (NCHW).
const raw = readFileSync(args.patches);
const hwc = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
const n = args.npatch;
if (hwc.length !== n * PATCH * PATCH * 3) {
  console.error(`peer_ort: ${args.patches} does not hold ${n} patches`);
  process.exit(1);
}
const nchw = new Float32Array(hwc.length);
const plane = PATCH * PATCH;
for (let b = 0; b < n; b++)
  for (let p = 0; p < plane; p++)
    for (let c = 0; c < 3; c++) nchw[(b * 3 + c) * plane + p] = hwc[(b * plane + p) * 3 + c];

const session = await ort.InferenceSession.create(args.model, {
  executionProviders: ['cpu'],
  intraOpNumThreads: args.threads,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
});
const inName = session.inputNames[0];
const outName = session.outputNames[0];

async function timed(tensor) {
  let out = (await session.run({ [inName]: tensor }))[outName];
  const times = [];
  let spent = 0;
  const iters = tensor.dims[0] === 1 ? args.latIters : args.thrIters;
  while (times.length < iters && (times.length === 0 || spent < args.budget)) {
    const t0 = performance.now();
    out = (await session.run({ [inName]: tensor }))[outName];
    const dt = (performance.now() - t0) / 1000;
    times.push(dt);
    spent += dt;
  }
  times.sort((a, b) => a - b);
  const m = times.length;
  const med = m % 2 ? times[(m - 1) / 2] : 0.5 * (times[m / 2 - 1] + times[m / 2]);
  return { med, runs: m, out };
}

const one = new ort.Tensor('float32', nchw.subarray(0, 3 * plane), [1, 3, PATCH, PATCH]);
const all = new ort.Tensor('float32', nchw, [n, 3, PATCH, PATCH]);
const lat = await timed(one);
const thr = await timed(all);
if (args.writeFeatures) {
  const f = thr.out.data;
  writeFileSync(args.writeFeatures, Buffer.from(f.buffer, f.byteOffset, f.byteLength));
}
console.log(JSON.stringify({
  engine: 'onnxruntime', threads: args.threads, lat_ms: lat.med * 1e3, lat_runs: lat.runs,
  batch: n, batch_s: thr.med, pps: n / thr.med, thr_runs: thr.runs,
  setting: `onnxruntime-node ${ortVersion}, CPU EP, graph opt all, intra-op ${args.threads}`,
}));
