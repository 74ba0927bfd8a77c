// polyp_worker.mjs - polyp-wasm side of the browser benchmark, in its own module worker.
// Uses wasm/engine.js (what wasm/worker.js runs for the public API) directly, so the image
// is decoded once and only extraction is timed: polyp_wasm_extract_points on points of a
// PNG that tiles the benchmark patches side by side (point (112, 224k + 112) crops patch k
// exactly, no padding), i.e. the crop + the network, as the JS API's extract runs them.
// Message in: { flavor: 'simd' | 'simd-mt', threads, weights, png, npatch, batch, lat, thr }
// Message out: { ok, info, latency, throughput, features } or { ok: false, error }.
import './timing.js';
import { Engine } from '../../../../wasm/engine.js';

self.onmessage = async ({ data: a }) => {
  try {
    const t0 = performance.now();
    const baseUrl = new URL('../../../../wasm/dist/', import.meta.url).href;
    const e = await Engine.create({ flavor: a.flavor, threads: a.threads, baseUrl });
    const img = e.decode(new Uint8Array(a.png));
    const rowcol = new Uint32Array(2 * a.npatch);
    for (let k = 0; k < a.npatch; k++) { rowcol[2 * k] = 112; rowcol[2 * k + 1] = 224 * k + 112; }
    const one = rowcol.subarray(0, 2);
    const batch = rowcol.subarray(0, 2 * a.batch);

    let info = e.loadWeights(new Uint8Array(a.weights), { batchSize: 1 });
    const initS = (performance.now() - t0) / 1000;
    const latency = await benchTime(() => e.extractPoints(img, one, { chunk: 1 }), a.lat);
    info = e.loadWeights(new Uint8Array(a.weights), { batchSize: a.batch });
    const throughput = await benchTime(() => e.extractPoints(img, batch, { chunk: a.batch }), a.thr);
    // All patches' features (for the cross-check), in batches as timed.
    const features = await e.extractPoints(img, rowcol, { chunk: a.batch });
    e.freeImage(img);
    self.postMessage({ ok: true, info: { ...info, workersSpawned: self.spawnedWorkers, flavor: e.flavor, engineThreads: e.threads, init_s: initS },
      latency: { ...latency, out: undefined }, throughput: { ...throughput, out: undefined }, features },
    [features.buffer]);
  } catch (err) {
    self.postMessage({ ok: false, error: `${err && err.name}: ${err && err.message}\n${err && err.stack}` });
  }
};
