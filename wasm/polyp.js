// polyp.js - polyp's JavaScript API: a main-thread facade over a dedicated worker that owns
// the wasm module (wasm/worker.js), so the page never blocks. See polyp.d.ts for the types.
//
//   import { createPolyp } from 'polyp';
//   const polyp = await createPolyp();                 // picks SIMD+threads or SIMD, says which
//   await polyp.loadWeights(await (await fetch('efficientnet_b0.safetensors')).arrayBuffer());
//   const { features } = await polyp.extract(file, [[row, col], ...], { onProgress, signal });
//
// Every call returns a promise; buffers passed in are transferred to the worker when the
// call says so (`transfer: true`), copied otherwise; results' buffers are transferred back.

import { FEATURE_DIM, PolypError, STATUS, cancelledError } from './common.js';
import { isNode } from './detect.js';

export { FEATURE_DIM, PolypError, STATUS };

// Pure-JS helpers over the engine's outputs (no worker): CoralNet's score display and
// Alleviate rule, percent cover and its CSV (survey.js); ZIP bundles (zip.js).
export * from './survey.js';
export * from './zip.js';

async function spawnWorker(url) {
  if (isNode) {
    const { Worker } = await import('node:worker_threads');
    const w = new Worker(url);
    w.unref();   // an idle polyp never keeps a node process alive
    return {
      post: (msg, transfer) => w.postMessage(msg, transfer),
      listen: (fn) => {
        w.on('message', fn);
        w.on('error', (e) => fn({ type: 'crash', error: { message: String(e && e.message || e) } }));
      },
      terminate: () => w.terminate(),
    };
  }
  const w = new Worker(url, { type: 'module', name: 'polyp' });
  return {
    post: (msg, transfer) => w.postMessage(msg, transfer),
    listen: (fn) => {
      w.onmessage = (e) => fn(e.data);
      w.onerror = (e) => fn({ type: 'crash', error: { message: e.message || 'worker failed to start' } });
    },
    terminate: () => w.terminate(),
  };
}

function pointsToRowcol(points) {
  if (points instanceof Uint32Array) return points.slice();
  const n = points.length;
  const out = new Uint32Array(n * 2);
  for (let i = 0; i < n; i++) {
    const p = points[i];
    const row = Array.isArray(p) ? p[0] : p.row;
    const col = Array.isArray(p) ? p[1] : p.col;
    if (!Number.isInteger(row) || !Number.isInteger(col) || row < 0 || col < 0 || row > 0xffffffff || col > 0xffffffff) {
      throw new TypeError(`point ${i}: row and column must be non-negative integers`);
    }
    out[2 * i] = row;
    out[2 * i + 1] = col;
  }
  return out;
}

function ownBuffer(data, transfer) {
  // Returns [value to send, transfer list]. Without `transfer` the caller's buffer stays usable.
  if (typeof Blob === 'function' && data instanceof Blob) return [data, []];
  if (typeof data === 'string') {
    const b = new TextEncoder().encode(data);
    return [b.buffer, [b.buffer]];
  }
  if (data instanceof ArrayBuffer) return transfer ? [data, [data]] : [data.slice(0), []];
  if (ArrayBuffer.isView(data)) {
    if (transfer && data.byteOffset === 0 && data.byteLength === data.buffer.byteLength) return [data.buffer, [data.buffer]];
    const copy = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
    return [copy.buffer, [copy.buffer]];
  }
  throw new TypeError('expected a Blob/File, ArrayBuffer, typed array or string');
}

class Client {
  constructor(port) {
    this.port = port;
    this.next = 1;
    this.pending = new Map();
    this.ready = new Promise((resolve, reject) => { this.onReady = resolve; this.onCrash = reject; });
    port.listen((msg) => this.receive(msg));
  }

  receive(msg) {
    if (msg.type === 'ready') return this.onReady();
    if (msg.type === 'crash') {
      const err = PolypError.fromRecord(msg.error);
      this.onCrash(err);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return;
    if (msg.type === 'progress') {
      if (p.onProgress) p.onProgress(msg.done, msg.total, msg.refAccuracy);
      return;
    }
    this.pending.delete(msg.id);
    if (p.signal) p.signal.removeEventListener('abort', p.abort);
    if (msg.type === 'result') p.resolve(msg.result);
    else p.reject(PolypError.fromRecord(msg.error));
  }

  call(type, args = {}, transfer = [], { signal, onProgress } = {}) {
    if (signal && signal.aborted) {
      return Promise.reject(cancelledError());
    }
    const id = this.next++;
    return new Promise((resolve, reject) => {
      const entry = { resolve, reject, onProgress, signal };
      if (signal) {
        entry.abort = () => this.port.post({ type: 'cancel', id });
        signal.addEventListener('abort', entry.abort, { once: true });
      }
      this.pending.set(id, entry);
      this.port.post({ id, type, ...args }, transfer);
    });
  }
}

export class Polyp {
  /** @internal use createPolyp() */
  constructor(client, info, { sharedCancel = true } = {}) {
    this.client = client;
    this.info = info;
    this.sharedCancel = sharedCancel !== false;
  }

  /** 'simd-mt' or 'simd'. */
  get flavor() { return this.info.flavor; }
  get threads() { return this.info.threads; }
  get version() { return this.info.version; }

  /** Loads EfficientNet-B0 safetensors bytes (replacing any loaded before). */
  loadWeights(weights, { transfer = false, batchSize } = {}) {
    const [w, t] = ownBuffer(weights, transfer);
    return this.client.call('loadWeights', { weights: w, batchSize }, t);
  }

  /**
   * Fetches weights once and keeps them in the browser's Cache Storage (`cache` names the
   * cache; null disables it), so later visits and offline sessions load them locally.
   * Same-origin (or CORS) URLs only; nothing else is ever sent anywhere.
   */
  async loadWeightsFromUrl(url, { cache = 'polyp-weights-v1', batchSize } = {}) {
    const key = new URL(url, globalThis.location ? location.href : undefined).href;
    const store = cache && globalThis.caches ? await caches.open(cache) : null;
    let res = store ? await store.match(key) : undefined;
    const cached = !!res;
    if (!res) {
      res = await fetch(key, { credentials: 'same-origin' });
      if (!res.ok) throw new PolypError(STATUS.io, `weights: ${key}: HTTP ${res.status}`);
      if (store) await store.put(key, res.clone());
    }
    const info = await this.loadWeights(await res.arrayBuffer(), { transfer: true, batchSize });
    return { ...info, cached };
  }

  /** The seeded test network (models/testnet.py) as safetensors bytes. */
  async buildTestnet(seed, bnStats) {
    const [b, t] = ownBuffer(bnStats, false);
    return new Uint8Array(await this.client.call('buildTestnet', { seed: BigInt(seed), bnStats: b }, t));
  }

  // `imageKey` (decodeImage, cropPatches, extract): the caller's name for the image's bytes
  // (their SHA-256, say). The worker keeps the last image decoded under a key and the next
  // call with that key uses it instead of decoding again (keyed results say `decoded`); any
  // other image frees it. releaseImage() frees it now.

  /** Size of a decoded image; with { pixels: true } also its RGB bytes (height x width x 3). */
  decodeImage(image, { transfer = false, pixels = false, imageKey } = {}) {
    const [img, t] = ownBuffer(image, transfer);
    return this.client.call('decodeImage', { image: img, pixels, imageKey }, t);
  }

  /** The 224x224 RGB patches the extractor sees at the points (n x 224 x 224 x 3 bytes). */
  cropPatches(image, points, { transfer = false, imageKey } = {}) {
    const [img, t] = ownBuffer(image, transfer);
    const rowcol = pointsToRowcol(points);
    return this.client.call('cropPatches', { image: img, points: rowcol, imageKey }, [...t, rowcol.buffer]);
  }

  /** Features of every point of one image: { features: Float32Array(n*1280), width, height, ... }. */
  extract(image, points, { transfer = false, signal, onProgress, chunk, imageKey } = {}) {
    const [img, t] = ownBuffer(image, transfer);
    const rowcol = pointsToRowcol(points);
    return this.client.call('extract', { image: img, points: rowcol, chunk, imageKey }, [...t, rowcol.buffer],
      { signal, onProgress });
  }

  /** Frees the image the worker keeps for `imageKey` calls (none kept: nothing to do). */
  releaseImage() {
    return this.client.call('releaseImage');
  }

  /**
   * pyspacer .featurevector bytes (npz) for points and their features. options: { dim,
   * extractor } (dim default 1280; extractor: the record of the weights that made the
   * features, WeightsInfo.extractorRecord, stored as `polyp extract` stores it; none by
   * default). The older form featuresToNpz(points, features, dim) still works.
   */
  async featuresToNpz(points, features, options = {}) {
    const { dim = FEATURE_DIM, extractor = null } = typeof options === 'number' ? { dim: options } : options ?? {};
    if (extractor != null && typeof extractor !== 'string') throw new TypeError('featuresToNpz: extractor must be a string (WeightsInfo.extractorRecord) or null');
    const rowcol = pointsToRowcol(points);
    const f = new Float32Array(features);   // a copy we may transfer
    return new Uint8Array(await this.client.call('writeNpz', { points: rowcol.buffer, features: f.buffer, dim, extractor },
      [rowcol.buffer, f.buffer]));
  }

  /** Reads a .featurevector (stored or deflated npz), with its extractor record when it has one. */
  readNpz(bytes) {
    const [b, t] = ownBuffer(bytes, false);
    return this.client.call('readNpz', { bytes: b }, t);
  }

  /** Parses a CoralNet annotation CSV: { names, rows, cols, labels } in file order. */
  parseAnnotationsCsv(csv) {
    const [b, t] = ownBuffer(csv, false);
    return this.client.call('parseCsv', { bytes: b }, t);
  }

  /**
   * Trains a per-source classifier (CoralNet's split, schedule and calibration).
   * data.images: [{ labels: (string|null)[], features: Float32Array(npoints*dim) }] in a
   * stable order (the order fixes the splits). onProgress(epoch, epochs, refAccuracy) after
   * each epoch. `signal` cancels at the next epoch boundary on every page: the worker runs
   * one epoch per wasm call and yields to its event loop between them, so the cancel message
   * stops the training there, frees it, and the promise rejects with an AbortError. (On
   * cross-origin-isolated pages and in node a shared flag is also read at the end of each
   * epoch inside the call.)
   */
  async trainClassifier(data, { kind = 'mlp', seed = 0, epochs = 0, extractorId = null, signal, onProgress } = {}) {
    const dim = data.dim || FEATURE_DIM;
    const npoints = data.images.map((im) => im.labels.length);
    const total = npoints.reduce((a, b) => a + b, 0);
    const features = new Float32Array(total * dim);
    const labels = [];
    let at = 0;
    data.images.forEach((im, i) => {
      if (im.features.length !== npoints[i] * dim) {
        throw new TypeError(`image ${i}: ${im.features.length} feature values for ${npoints[i]} labels x ${dim}`);
      }
      features.set(im.features, at);
      at += im.features.length;
      for (const l of im.labels) labels.push(l ?? null);
    });
    const shared = this.sharedCancel && typeof SharedArrayBuffer === 'function' &&
      (isNode || globalThis.crossOriginIsolated === true);
    const cancelFlag = shared ? new SharedArrayBuffer(4) : null;
    const onAbort = () => cancelFlag && Atomics.store(new Int32Array(cancelFlag), 0, 1);
    if (signal) signal.addEventListener('abort', onAbort, { once: true });
    try {
      const r = await this.client.call('trainClassifier', {
        dim, npoints, labels, features: features.buffer, kind, seed: BigInt(seed), epochs, extractorId, cancelFlag,
      }, [features.buffer], { signal, onProgress: (done, totalEpochs, refAccuracy) => onProgress && onProgress(done, totalEpochs, refAccuracy) });
      return new Classifier(this.client, r);
    } finally {
      if (signal) signal.removeEventListener('abort', onAbort);
    }
  }

  /** Loads a model file written by Classifier.save() or `polyp train`. */
  async loadClassifier(bytes) {
    const [b, t] = ownBuffer(bytes, false);
    return new Classifier(this.client, await this.client.call('loadClassifier', { bytes: b }, t));
  }

  /**
   * CoralNet's annotation export CSV (Name, Row, Column, Label code, and with a classifier
   * "Machine suggestion n" / "Machine confidence n" for n = 1..top, optionally every label's
   * score). rows: { names, rows, cols, labels } (labels: string or null per row); probs:
   * the classifier's probabilities per row (n x classifier.labels.length), rows whose
   * probabilities are all NaN get no suggestions. Returns the CSV text.
   */
  async exportAnnotationsCsv(rows, { classifier = null, probs = null, top = 5, allScores = false } = {}) {
    const n = rows.names.length;
    let p = null, has = null;
    if (classifier && probs) {
      const k = classifier.labels.length;
      p = new Float32Array(probs);
      if (p.length !== n * k) throw new TypeError(`probs: ${p.length} values for ${n} rows x ${k} labels`);
      has = new Uint8Array(n);
      for (let i = 0; i < n; i++) has[i] = Number.isNaN(p[i * k]) ? 0 : 1;
    }
    const bytes = await this.client.call('exportCsv', {
      names: [...rows.names], rows: [...rows.rows], cols: [...rows.cols], labels: [...rows.labels].map((l) => l ?? null),
      handle: classifier ? classifier.handle : 0, probs: p && p.buffer, hasProbs: has && has.buffer, top, allScores,
    }, p ? [p.buffer, has.buffer] : []);
    return new TextDecoder().decode(bytes);
  }

  /** CoralNet's acceptance rule: true when a new classifier whose validation accuracy is
   * newAcc replaces one scoring prevAcc on the same validation set (>= 1.01x). */
  acceptClassifier(newAcc, prevAcc) {
    return this.client.call('acceptClassifier', { newAcc, prevAcc });
  }

  /** CoralNet's retraining schedule: true when a source with nAnnotated annotated images
   * should train now, nLast being the count at its last training (0 = never trained). */
  shouldTrain(nAnnotated, nLast = 0) {
    return this.client.call('shouldTrain', { nAnnotated, nLast });
  }

  /** CoralNet's point generation (random, stratified, grid) inside an inclusive area. */
  generatePoints(params) {
    return this.client.call('generatePoints', { ...params, seed: BigInt(params.seed ?? 0) });
  }

  /** Stops the worker; pending calls reject. */
  terminate() {
    this.client.port.terminate();
    const err = cancelledError('polyp terminated');
    for (const p of this.client.pending.values()) p.reject(err);
    this.client.pending.clear();
  }
}

/** A trained or loaded classifier living in the worker; dispose() frees it. */
export class Classifier {
  /** @internal */
  constructor(client, info) {
    this.client = client;
    this.handle = info.handle;
    this.labels = info.labels;
    this.kind = info.kind;
    this.featureDim = info.featureDim;
    this.extractorId = info.extractorId;
    this.refAccuracy = info.refAccuracy;
    this.valAccuracy = info.valAccuracy;
    this.report = info.report || null;
  }

  /** Calibrated probabilities n x labels.length (rows sum to 1) of features n x featureDim. */
  predict(features) {
    const f = new Float32Array(features);
    return this.client.call('predict', { handle: this.handle, features: f.buffer, dim: this.featureDim }, [f.buffer]);
  }

  /** Scores features and compares with true labels: accuracy, per-label metrics, Alleviate. */
  evaluate(features, truth) {
    const f = new Float32Array(features);
    return this.client.call('evaluate', { handle: this.handle, features: f.buffer, dim: this.featureDim, truth: [...truth] }, [f.buffer]);
  }

  /** The model file's bytes (safetensors, self-describing). */
  async save() {
    return new Uint8Array(await this.client.call('saveClassifier', { handle: this.handle }));
  }

  dispose() {
    return this.client.call('freeClassifier', { handle: this.handle });
  }
}

let announced = false;

/**
 * Starts the worker and the wasm module. options.threads: 'auto' (default) or a count;
 * options.baseUrl: where the polyp-simd*.{mjs,wasm} files live (default ./dist/ next to
 * this file); options.log: called once with the artifact choice (default console.info);
 * options.sharedCancel: false never hands training a SharedArrayBuffer cancel flag, i.e.
 * cancels as on a page that is not cross-origin isolated (for tests; default true).
 */
export async function createPolyp(options = {}) {
  const workerUrl = options.workerUrl || new URL('./worker.js', import.meta.url);
  const baseUrl = String(options.baseUrl || new URL('./dist/', import.meta.url));
  const port = await spawnWorker(workerUrl);
  const client = new Client(port);
  try {
    await client.ready;
    const info = await client.call('init', { threads: options.threads ?? 'auto', baseUrl });
    const log = options.log === undefined ? (m) => console.info(m) : options.log;
    if (log && !announced) {
      announced = true;
      log(`polyp ${info.version}: polyp-${info.flavor} (${info.reason})`);
    }
    return new Polyp(client, info, { sharedCancel: options.sharedCancel });
  } catch (e) {
    port.terminate();
    throw e;
  }
}
