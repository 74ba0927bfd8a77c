// tfjs_worker.js - TensorFlow.js's wasm backend (XNNPACK compiled to wasm, SIMD; threaded
// when T > 1 and the page is cross-origin isolated) running EfficientNet-B0 built from the
// same safetensors weights (tfjs_effnet.js), in its own classic worker (tfjs ships UMD
// bundles). Timed: forward() on a [B, 224, 224, 3] tensor until its data is read back.
// Message in: { threads, weights, patches, npatch, batch, lat, thr }.
importScripts('./timing.js', '../node_modules/@tensorflow/tfjs/dist/tf.min.js',
  '../node_modules/@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.min.js',
  './safetensors.js', './tfjs_effnet.js');

self.onmessage = async ({ data: a }) => {
  try {
    const t0 = performance.now();
    tf.wasm.setWasmPaths(new URL('../node_modules/@tensorflow/tfjs-backend-wasm/dist/', self.location.href).href);
    // tfjs-backend-wasm caps its XNNPACK pool at navigator.hardwareConcurrency / 2 (it assumes
    // two hyperthreads per core), which is 1 on this 2-vCPU machine whatever setThreadsCount
    // asks. Report 2 x T logical cores to this worker only, so the pool gets T threads like
    // every other engine; tf.wasm.getThreadsCount() below proves it did.
    Object.defineProperty(self.navigator, 'hardwareConcurrency', { value: 2 * a.threads, configurable: true });
    tf.wasm.setThreadsCount(a.threads);
    if (!(await tf.setBackend('wasm'))) throw new Error('tfjs: the wasm backend did not initialise');
    await tf.ready();
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    const mt = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
    const threadsUsed = tf.wasm.getThreadsCount();
    if (threadsUsed !== a.threads) throw new Error(`tfjs runs ${threadsUsed} thread(s), asked for ${a.threads}`);
    const net = buildEffnetTf(tf, readSafetensors(a.weights));
    const patches = new Float32Array(a.patches);
    const n = a.npatch, PF = 224 * 224 * 3;
    const inputs = new Map();
    const input = (start, count) => {
      const key = `${start}:${count}`;
      if (!inputs.has(key)) inputs.set(key, tf.tensor4d(patches.subarray(start * PF, (start + count) * PF), [count, 224, 224, 3]));
      return inputs.get(key);
    };
    const run = async (start, count) => {
      const y = net.forward(input(start, count));
      const d = await y.data();
      y.dispose();
      return d;
    };
    const initS = (performance.now() - t0) / 1000;
    const latency = await benchTime(() => run(0, 1), a.lat);
    const throughput = await benchTime(() => run(0, a.batch), a.thr);
    const features = new Float32Array(n * 1280);
    for (let s = 0; s < n; s += a.batch) features.set(await run(s, Math.min(a.batch, n - s)), s * 1280);
    self.postMessage({ ok: true, info: { workersSpawned: self.spawnedWorkers, version: tf.version.tfjs, backend: tf.getBackend(), simd, multithread: mt, threadsUsed, threads: a.threads, init_s: initS },
      latency: { ...latency, out: undefined }, throughput: { ...throughput, out: undefined }, features },
    [features.buffer]);
  } catch (err) {
    self.postMessage({ ok: false, error: `${err && err.name}: ${err && err.message}\n${err && err.stack}` });
  }
};
