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

const isNode =
  typeof process === 'object' && typeof process.versions === 'object' &&
  typeof process.versions.node === 'string' && typeof window === 'undefined';

export const FEATURE_DIM = 1280;

/** Error from the engine: `status`/`statusName` are the C core's polyp_status. */
export class PolypError extends Error {
  constructor(record) {
    super(record.message);
    this.name = record.name === 'AbortError' ? 'AbortError' : 'PolypError';
    this.status = record.status;
    this.statusName = record.statusName;
  }
}

async function spawnWorker(url) {
  if (isNode) {
    const { Worker } = await import('node:worker_threads');
    const w = new Worker(url);
    w.unref();   // an idle polyp never keeps a node process alive
    return {
      post: (msg, transfer) => w.postMessage(msg, transfer),
      listen: (fn) => {
        w.on('message', fn);
        w.on('error', (e) => fn({ type: 'crash', error: { name: 'Error', message: String(e && e.message || e) } }));
      },
      terminate: () => w.terminate(),
    };
  }
  const w = new Worker(url, { type: 'module', name: 'polyp' });
  return {
    post: (msg, transfer) => w.postMessage(msg, transfer),
    listen: (fn) => {
      w.onmessage = (e) => fn(e.data);
      w.onerror = (e) => fn({ type: 'crash', error: { name: 'Error', message: e.message || 'worker failed to start' } });
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
      const err = new PolypError(msg.error);
      this.onCrash(err);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return;
    if (msg.type === 'progress') {
      if (p.onProgress) p.onProgress(msg.done, msg.total);
      return;
    }
    this.pending.delete(msg.id);
    if (p.signal) p.signal.removeEventListener('abort', p.abort);
    if (msg.type === 'result') p.resolve(msg.result);
    else p.reject(new PolypError(msg.error));
  }

  call(type, args = {}, transfer = [], { signal, onProgress } = {}) {
    if (signal && signal.aborted) {
      return Promise.reject(new PolypError({ name: 'AbortError', message: 'cancelled', status: 7, statusName: 'cancelled' }));
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
  constructor(client, info) {
    this.client = client;
    this.info = info;
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

  /** The seeded test network (models/testnet.py) as safetensors bytes. */
  async buildTestnet(seed, bnStats) {
    const [b, t] = ownBuffer(bnStats, false);
    return new Uint8Array(await this.client.call('buildTestnet', { seed: BigInt(seed), bnStats: b }, t));
  }

  /** Size of a decoded image; with { pixels: true } also its RGB bytes (height x width x 3). */
  decodeImage(image, { transfer = false, pixels = false } = {}) {
    const [img, t] = ownBuffer(image, transfer);
    return this.client.call('decodeImage', { image: img, pixels }, t);
  }

  /** Features of every point of one image: { features: Float32Array(n*1280), width, height, ... }. */
  extract(image, points, { transfer = false, signal, onProgress, chunk } = {}) {
    const [img, t] = ownBuffer(image, transfer);
    const rowcol = pointsToRowcol(points);
    return this.client.call('extract', { image: img, points: rowcol, chunk }, [...t, rowcol.buffer],
      { signal, onProgress });
  }

  /** pyspacer .featurevector bytes (npz) for points and their features. */
  async featuresToNpz(points, features, dim = FEATURE_DIM) {
    const rowcol = pointsToRowcol(points);
    const f = new Float32Array(features);   // a copy we may transfer
    return new Uint8Array(await this.client.call('writeNpz', { points: rowcol.buffer, features: f.buffer, dim },
      [rowcol.buffer, f.buffer]));
  }

  /** Reads a .featurevector (stored or deflated npz). */
  readNpz(bytes) {
    const [b, t] = ownBuffer(bytes, false);
    return this.client.call('readNpz', { bytes: b }, t);
  }

  /** Parses a CoralNet annotation CSV: { names, rows, cols, labels } in file order. */
  parseAnnotationsCsv(csv) {
    const [b, t] = ownBuffer(csv, false);
    return this.client.call('parseCsv', { bytes: b }, t);
  }

  /** Stops the worker; pending calls reject. */
  terminate() {
    this.client.port.terminate();
    const err = new PolypError({ name: 'AbortError', message: 'polyp terminated', status: 7, statusName: 'cancelled' });
    for (const p of this.client.pending.values()) p.reject(err);
    this.client.pending.clear();
  }
}

let announced = false;

/**
 * Starts the worker and the wasm module. options.threads: 'auto' (default) or a count;
 * options.baseUrl: where the polyp-simd*.{mjs,wasm} files live (default ./dist/ next to
 * this file); options.log: called once with the artifact choice (default console.info).
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
    return new Polyp(client, info);
  } catch (e) {
    port.terminate();
    throw e;
  }
}
