// ort_worker.mjs - onnxruntime-web (wasm execution provider, SIMD; its .wasm served from
// this benchmark's own node_modules) on the ONNX file models/export_onnx.py made from the
// same weights, in its own module worker. Session: graph optimisation 'all', sequential,
// numThreads T (ORT-web's own pthread pool). The NHWC -> NCHW transpose happens once,
// outside the timed runs; timed: session.run on a tensor until its output is readable.
// Message in: { threads, onnx, patches (N x 224 x 224 x 3 HWC), npatch, batch, lat, thr }.
import './timing.js';
import * as ort from '../node_modules/onnxruntime-web/dist/ort.wasm.min.mjs';

const P = 224, PLANE = P * P;

self.onmessage = async ({ data: a }) => {
  try {
    const t0 = performance.now();
    ort.env.wasm.wasmPaths = new URL('../node_modules/onnxruntime-web/dist/', import.meta.url).href;
    ort.env.wasm.numThreads = a.threads;
    ort.env.wasm.proxy = false;
    const hwc = new Float32Array(a.patches);
    const n = a.npatch;
    const nchw = new Float32Array(hwc.length);
    for (let b = 0; b < n; b++)
      for (let p = 0; p < PLANE; p++)
        for (let c = 0; c < 3; c++) nchw[(b * 3 + c) * PLANE + p] = hwc[(b * PLANE + p) * 3 + c];
    const session = await ort.InferenceSession.create(new Uint8Array(a.onnx), {
      executionProviders: ['wasm'], graphOptimizationLevel: 'all', executionMode: 'sequential',
    });
    const inName = session.inputNames[0], outName = session.outputNames[0];
    const initS = (performance.now() - t0) / 1000;
    const run = async (start, count) => {
      const t = new ort.Tensor('float32', nchw.subarray(start * 3 * PLANE, (start + count) * 3 * PLANE), [count, 3, P, P]);
      const r = await session.run({ [inName]: t });
      const d = r[outName].data;
      return d;
    };
    const latency = await benchTime(() => run(0, 1), a.lat);
    const throughput = await benchTime(() => run(0, a.batch), a.thr);
    const features = new Float32Array(n * 1280);
    for (let s = 0; s < n; s += a.batch) features.set(await run(s, Math.min(a.batch, n - s)), s * 1280);
    await session.release();
    self.postMessage({ ok: true, info: { workersSpawned: self.spawnedWorkers, version: ort.env.versions ? ort.env.versions.web : '?', threads: a.threads, init_s: initS },
      latency: { ...latency, out: undefined }, throughput: { ...throughput, out: undefined }, features },
    [features.buffer]);
  } catch (err) {
    self.postMessage({ ok: false, error: `${err && err.name}: ${err && err.message}\n${err && err.stack}` });
  }
};
