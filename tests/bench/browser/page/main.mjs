// main.mjs - the benchmark page: fetches the shared inputs once (served by bench.mjs under
// /bench-data/), then runs one engine per call in a fresh dedicated worker, so engines never
// share a heap or a thread pool, and terminates it afterwards. bench.mjs drives it:
//   window.polypBench.extract({ engine: 'polyp' | 'ort' | 'tfjs', flavor, threads, npatch,
//                               batch, lat: {iters, budget}, thr: {iters, budget} })
//   window.polypBench.train({ threads, points, runs })
import { createPolyp } from '../../../../wasm/polyp.js';
import { mulberry32 } from '../../../wasm/synthetic.mjs';

let inputs = null;
async function loadInputs() {
  if (inputs) return inputs;
  const get = async (name) => {
    const r = await fetch(`/bench-data/${name}`);
    if (!r.ok) throw new Error(`/bench-data/${name}: HTTP ${r.status}`);
    return r.arrayBuffer();
  };
  const [weights, onnx, patches, png] = await Promise.all(
    ['weights.safetensors', 'model.onnx', 'patches.f32', 'patches.png'].map(get));
  inputs = { weights, onnx, patches, png };
  return inputs;
}

const WORKERS = {
  polyp: () => new Worker(new URL('./polyp_worker.mjs', import.meta.url), { type: 'module' }),
  ort: () => new Worker(new URL('./ort_worker.mjs', import.meta.url), { type: 'module' }),
  tfjs: () => new Worker(new URL('./tfjs_worker.js', import.meta.url)),
};

async function extract(cfg) {
  const inp = await loadInputs();
  const worker = WORKERS[cfg.engine]();
  try {
    const done = new Promise((resolve) => {
      worker.onmessage = (e) => resolve(e.data);
      worker.onerror = (e) => resolve({ ok: false, error: `${cfg.engine} worker: ${e.message || 'failed to load'}` });
    });
    worker.postMessage({ ...cfg, weights: inp.weights.slice(0), onnx: inp.onnx.slice(0),
      patches: inp.patches.slice(0), png: inp.png.slice(0) });
    const res = await done;
    if (res.ok) res.features = Array.from(res.features);   // plain JSON back to node
    return res;
  } finally {
    worker.terminate();
  }
}

/** A synthetic labelled source of `points` 1280-d features: 20 points per image, 10 labels,
 * each label a random mean direction plus uniform noise (tests/wasm/synthetic.mjs's recipe,
 * scaled up). Seeded, so every run trains on the same data. */
function makeSource(points, dim = 1280, nLabels = 10, seed = 2026) {
  const rnd = mulberry32(seed);
  const labels = Array.from({ length: nLabels }, (_, i) => `L${i}`);
  const means = labels.map(() => Float32Array.from({ length: dim }, () => rnd() * 2 - 1));
  const images = [];
  for (let done = 0; done < points; done += 20) {
    const k = Math.min(20, points - done);
    const lab = [], features = new Float32Array(k * dim);
    for (let p = 0; p < k; p++) {
      const c = Math.floor(rnd() * nLabels);
      lab.push(labels[c]);
      for (let d = 0; d < dim; d++) features[p * dim + d] = 0.5 * means[c][d] + (rnd() * 2 - 1) * 1.5;
    }
    images.push({ labels: lab, features });
  }
  return images;
}

async function train({ threads, points = 20000, runs = 1 }) {
  const images = makeSource(points);
  const polyp = await createPolyp({ threads, log: null });
  try {
    const times = [];
    let report = null;
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now();
      const clf = await polyp.trainClassifier({ images }, { seed: 1 });
      times.push((performance.now() - t0) / 1000);
      report = clf.report;
      await clf.dispose();
    }
    return { ok: true, flavor: polyp.flavor, threads: polyp.threads, times, report };
  } catch (err) {
    return { ok: false, error: `${err.name}: ${err.message}` };
  } finally {
    polyp.terminate();
  }
}

window.polypBench = { extract, train, ready: true, coi: self.crossOriginIsolated,
  hw: navigator.hardwareConcurrency, ua: navigator.userAgent };
