// engine.js - owns one polyp wasm module and speaks its flat C API (wasm/api.h) in JS
// values. Runs inside the dedicated worker (wasm/worker.js); nothing here touches the DOM.
//
// Memory rules: every byte array crosses into wasm by malloc + copy, results are copied out
// (slice) before the wasm buffer is freed; heap views are re-read after every call because
// memory may grow (and, in the threaded artifact, grow from another thread).
import { isNode } from './detect.js';

export const FEATURE_DIM = 1280;

const STATUS_NAMES = ['ok', 'invalid_arg', 'nomem', 'io', 'format', 'unsupported', 'limit',
  'cancelled', 'backend'];

/** An error from the C core: status (number), statusName, and the core's one-line reason. */
export class PolypError extends Error {
  constructor(status, message) {
    super(message);
    this.name = 'PolypError';
    this.status = status;
    this.statusName = STATUS_NAMES[status] || 'unknown';
  }
}

async function loadFactory(flavor, baseUrl, threads) {
  const base = new URL(baseUrl);
  const name = `polyp-${flavor}`;
  const opts = { polypThreads: threads };
  if (isNode) {
    // Emscripten 3.1.6's ES-module output still reads __dirname and require in node.
    const { createRequire } = await import('node:module');
    const { fileURLToPath } = await import('node:url');
    const fs = await import('node:fs');
    const dir = fileURLToPath(base);
    globalThis.__dirname ??= dir;
    globalThis.require ??= createRequire(new URL('./', base));
    opts.wasmBinary = fs.readFileSync(fileURLToPath(new URL(`${name}.wasm`, base)));
    opts.locateFile = (p) => fileURLToPath(new URL(p, base));
  } else {
    opts.locateFile = (p) => new URL(p, base).href;
  }
  const { default: factory } = await import(new URL(`${name}.mjs`, base).href);
  return factory(opts);
}

const asBytes = (data) => {
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer || (typeof SharedArrayBuffer === 'function' && data instanceof SharedArrayBuffer)) {
    return new Uint8Array(data);
  }
  if (typeof data === 'string') return new TextEncoder().encode(data);
  throw new TypeError('expected bytes (ArrayBuffer, typed array or string)');
};

export class Engine {
  static async create({ flavor, threads, baseUrl }) {
    const mod = await loadFactory(flavor, baseUrl, threads);
    const engine = new Engine(mod, flavor, threads);
    // The pool's pthreads start only after this worker's event loop has had turns: until
    // then every job runs on this thread alone (measured: no 2-thread speed-up at all when
    // extraction follows creation synchronously). Wait for them (bounded), yielding.
    if (typeof mod._polyp_wasm_pool_running === 'function') {
      for (let waited = 0; mod._polyp_wasm_pool_running(engine.pool) < engine.threads && waited < 5000; waited += 2) {
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    }
    return engine;
  }

  constructor(mod, flavor, threads) {
    this.m = mod;
    this.flavor = flavor;
    this.threads = threads;
    this.err = mod._polyp_wasm_error_new();
    this.weights = 0;
    this.extractor = 0;
    // One pool for the module's life, shared by extraction, training and scoring (0 = the
    // calling thread: threads 1, or the single-threaded module).
    this.pool = mod._polyp_wasm_pool_new(threads, this.err);
    if (!this.pool && mod._polyp_wasm_error_status(this.err)) this.fail();
    this.threads = mod._polyp_wasm_pool_threads(this.pool);
  }

  // ---- memory helpers
  buffer() { return this.m.wasmMemory ? this.m.wasmMemory.buffer : this.m.HEAPU8.buffer; }

  alloc(size) {
    const p = this.m._polyp_wasm_malloc(size);
    if (!p) throw new PolypError(2, `out of wasm memory allocating ${size} bytes`);
    return p;
  }

  free(p) { if (p) this.m._polyp_wasm_free(p); }

  copyIn(data) {
    const bytes = asBytes(data);
    const p = this.alloc(bytes.byteLength);
    new Uint8Array(this.buffer(), p, bytes.byteLength).set(bytes);
    return p;
  }

  cstring(p) {
    if (!p) return null;
    const heap = new Uint8Array(this.buffer());
    let end = p;
    while (heap[end]) end++;
    // Copy first: TextDecoder refuses views of shared memory (threaded artifact).
    return new TextDecoder().decode(heap.slice(p, end));
  }

  u32(p) { return new DataView(this.buffer()).getUint32(p, true); }

  fail() {
    const status = this.m._polyp_wasm_error_status(this.err);
    throw new PolypError(status || 8, this.cstring(this.m._polyp_wasm_error_message(this.err)));
  }

  check(ok) { if (!ok) this.fail(); }

  /** Parts of the C API arrive as the core grows (wasm/CMakeLists.txt): say which is missing. */
  need(part, fn) {
    if (typeof this.m[fn] !== 'function') {
      throw new PolypError(5, `this polyp build has no ${part} support (${fn.slice(1)} not exported)`);
    }
  }

  version() { return this.cstring(this.m._polyp_wasm_version()); }

  // ---- images
  decode(imageBytes) {
    this.need('image', '_polyp_wasm_image_decode');
    const p = this.copyIn(imageBytes);
    try {
      const img = this.m._polyp_wasm_image_decode(p, asBytes(imageBytes).byteLength, this.err);
      this.check(img);
      return img;
    } finally {
      this.free(p);
    }
  }

  imageInfo(img) {
    return {
      width: this.m._polyp_wasm_image_width(img) >>> 0,
      height: this.m._polyp_wasm_image_height(img) >>> 0,
      truncated: !!this.m._polyp_wasm_image_truncated(img),
    };
  }

  /** Copy of the decoded RGB pixels, height x width x 3. */
  imagePixels(img) {
    const { width, height } = this.imageInfo(img);
    return new Uint8Array(this.buffer(), this.m._polyp_wasm_image_pixels(img), width * height * 3).slice();
  }

  freeImage(img) { this.m._polyp_wasm_image_free(img); }

  // ---- weights and extraction
  /** Replaces the loaded weights (and extractor) with these bytes (safetensors, or a TFLite MobileNet). */
  loadWeights(bytes, { batchSize = 0 } = {}) {
    this.need('extraction', '_polyp_wasm_weights_load');
    const b = asBytes(bytes);
    const p = this.copyIn(b);
    let w = 0;
    try {
      w = this.m._polyp_wasm_weights_load(p, b.byteLength, this.err);
      this.check(w);
    } finally {
      this.free(p);
    }
    const x = this.m._polyp_wasm_extractor_init(w, this.pool, batchSize, this.err);
    if (!x) {
      this.m._polyp_wasm_weights_free(w);
      this.fail();
    }
    this.unloadWeights();
    this.weights = w;
    this.extractor = x;
    this.dim = this.m._polyp_wasm_weights_feature_dim(w) >>> 0; // 1280 B0 / v2, 1024 MobileNet v1
    return {
      sha256: this.cstring(this.m._polyp_wasm_weights_sha256(w)),
      variant: this.cstring(this.m._polyp_wasm_weights_variant(w)),
      kind: this.cstring(this.m._polyp_wasm_weights_kind(w)),
      featureDim: this.dim,
      extractorId: this.cstring(this.m._polyp_wasm_weights_extractor_id(w)),
      backend: this.cstring(this.m._polyp_wasm_extractor_backend(x)),
      threads: this.m._polyp_wasm_extractor_threads(x),
    };
  }

  unloadWeights() {
    if (this.extractor) this.m._polyp_wasm_extractor_free(this.extractor);
    if (this.weights) this.m._polyp_wasm_weights_free(this.weights);
    this.extractor = this.weights = 0;
  }

  /** The seeded test network's safetensors bytes (models/testnet.py's network). */
  buildTestnet(seed, bnStats) {
    this.need('test network', '_polyp_wasm_testnet_build');
    const s = BigInt(seed);
    const b = asBytes(bnStats);
    const p = this.copyIn(b);
    const sizeP = this.alloc(8);
    try {
      const out = this.m._polyp_wasm_testnet_build(Number(s & 0xffffffffn), Number((s >> 32n) & 0xffffffffn),
        p, b.byteLength, sizeP, this.err);
      this.check(out);
      const n = this.u32(sizeP);
      const bytes = new Uint8Array(this.buffer(), out, n).slice();
      this.free(out);
      return bytes;
    } finally {
      this.free(p);
      this.free(sizeP);
    }
  }

  /**
   * Features of points [row, col] (Uint32Array of pairs) of one decoded image, `chunk` points
   * per call; between chunks `between(done, total)` runs and may return a promise (the worker
   * yields there so a cancel message can arrive) or throw to stop. Returns Float32Array n x dim
   * (the weights' feature width: 1280 for EfficientNet-B0 and MobileNet v2, 1024 for v1).
   */
  async extractPoints(img, rowcol, { chunk = 8, between } = {}) {
    if (!this.extractor) throw new PolypError(1, 'extract: no weights loaded (call loadWeights first)');
    const n = rowcol.length / 2;
    const dim = this.dim;
    const out = new Float32Array(n * dim);
    const cn = Math.max(1, Math.min(chunk, n || 1));
    const ptsP = this.alloc(cn * 8);
    const featP = this.alloc(cn * dim * 4);
    try {
      for (let start = 0; start < n; start += cn) {
        const k = Math.min(cn, n - start);
        new Uint32Array(this.buffer(), ptsP, k * 2).set(rowcol.subarray(start * 2, (start + k) * 2));
        const st = this.m._polyp_wasm_extract_points(this.extractor, img, ptsP, k, featP, this.err);
        if (st !== 0) this.fail();
        out.set(new Float32Array(this.buffer(), featP, k * dim), start * dim);
        if (between) await between(start + k, n);
      }
    } finally {
      this.free(ptsP);
      this.free(featP);
    }
    return out;
  }

  // ---- .featurevector (npz)
  writeNpz(rowcol, features, dim = FEATURE_DIM) {
    this.need('npz', '_polyp_wasm_npz_write');
    const n = rowcol.length / 2;
    if (features.length !== n * dim) throw new PolypError(1, `npz: ${features.length} feature values for ${n} points x ${dim}`);
    const ptsP = this.copyIn(new Uint8Array(rowcol.buffer, rowcol.byteOffset, rowcol.byteLength));
    const featP = this.copyIn(new Uint8Array(features.buffer, features.byteOffset, features.byteLength));
    const sizeP = this.alloc(8);
    try {
      const out = this.m._polyp_wasm_npz_write(ptsP, n, featP, dim, sizeP, this.err);
      this.check(out);
      const bytes = new Uint8Array(this.buffer(), out, this.u32(sizeP)).slice();
      this.free(out);
      return bytes;
    } finally {
      this.free(ptsP);
      this.free(featP);
      this.free(sizeP);
    }
  }

  readNpz(bytes) {
    this.need('npz', '_polyp_wasm_npz_read');
    const b = asBytes(bytes);
    const p = this.copyIn(b);
    try {
      const f = this.m._polyp_wasm_npz_read(p, b.byteLength, this.err);
      this.check(f);
      try {
        const n = this.m._polyp_wasm_npz_npoints(f) >>> 0;
        const dim = this.m._polyp_wasm_npz_dim(f) >>> 0;
        const valid = !!this.m._polyp_wasm_npz_valid_rowcol(f);
        const buf = this.buffer();
        const rows = valid ? new Uint16Array(buf, this.m._polyp_wasm_npz_rows(f), n).slice() : null;
        const cols = valid ? new Uint16Array(buf, this.m._polyp_wasm_npz_cols(f), n).slice() : null;
        const features = new Float32Array(buf, this.m._polyp_wasm_npz_feat(f), n * dim).slice();
        return { npoints: n, dim, validRowcol: valid, rows, cols, features };
      } finally {
        this.m._polyp_wasm_npz_free(f);
      }
    } finally {
      this.free(p);
    }
  }

  // ---- CoralNet annotation CSV
  parseCsv(bytes) {
    this.need('CSV', '_polyp_wasm_csv_parse');
    const b = asBytes(bytes);
    const p = this.copyIn(b);
    try {
      const a = this.m._polyp_wasm_csv_parse(p, b.byteLength, this.err);
      this.check(a);
      try {
        const n = this.m._polyp_wasm_csv_count(a) >>> 0;
        const names = new Array(n), labels = new Array(n);
        const rows = new Uint32Array(n), cols = new Uint32Array(n);
        for (let i = 0; i < n; i++) {
          names[i] = this.cstring(this.m._polyp_wasm_csv_name(a, i));
          rows[i] = this.m._polyp_wasm_csv_row(a, i);
          cols[i] = this.m._polyp_wasm_csv_col(a, i);
          labels[i] = this.cstring(this.m._polyp_wasm_csv_label(a, i));
        }
        return { names, rows, cols, labels };
      } finally {
        this.m._polyp_wasm_csv_free(a);
      }
    } finally {
      this.free(p);
    }
  }

  // ---- classifier
  /** NUL-separated label blob + per-point indices (-1 = unlabelled) for the C side. */
  labelTable(labels) {
    const index = new Int32Array(labels.length);
    const codes = new Map();
    labels.forEach((l, i) => {
      if (l === null || l === undefined || l === '') { index[i] = -1; return; }
      if (!codes.has(l)) codes.set(l, codes.size);
      index[i] = codes.get(l);
    });
    const blob = new TextEncoder().encode([...codes.keys()].map((c) => c + '\0').join(''));
    return { index, blob: blob.length ? blob : new Uint8Array(1), n: codes.size };
  }

  classifierInfo(clf) {
    const n = this.m._polyp_wasm_classifier_n_labels(clf) >>> 0;
    const labels = [];
    for (let i = 0; i < n; i++) labels.push(this.cstring(this.m._polyp_wasm_classifier_label(clf, i)));
    const nP = this.alloc(8);
    try {
      const p = this.m._polyp_wasm_classifier_ref_accuracy(clf, nP);
      const refAccuracy = Array.from(new Float64Array(this.buffer(), p, this.u32(nP)));
      return {
        labels,
        kind: this.m._polyp_wasm_classifier_kind(clf) === 1 ? 'lr' : 'mlp',
        featureDim: this.m._polyp_wasm_classifier_feature_dim(clf) >>> 0,
        extractorId: this.cstring(this.m._polyp_wasm_classifier_extractor_id(clf)),
        refAccuracy,
        valAccuracy: this.m._polyp_wasm_classifier_val_accuracy(clf),
      };
    } finally {
      this.free(nP);
    }
  }

  /**
   * Trains on images in stable order: npoints[i] points each, labels per point (null =
   * unlabelled), features total x dim. Runs one epoch per wasm call: onEpoch(epoch, nEpochs,
   * refAccuracy) after each (return true to cancel from inside the call: the shared-flag
   * path), and `between()` after begin and after every step (the last one included, so a
   * cancel that arrives during calibration still counts): it may return a promise (the
   * worker yields to its event loop there) and throw to cancel, which frees the session.
   * Returns { clf (handle), report, ...classifierInfo }.
   */
  async trainClassifier({ dim, npoints, labels, features, kind = 'mlp', seed = 0, epochs = 0, extractorId = null, onEpoch, between }) {
    this.need('classifier', '_polyp_wasm_classifier_train_begin');
    const total = npoints.reduce((a, b) => a + b, 0);
    if (labels.length !== total || features.length !== total * dim) {
      throw new PolypError(1, `train: ${labels.length} labels and ${features.length} feature values for ${total} points x ${dim}`);
    }
    const t = this.labelTable(labels);
    const s = BigInt(seed);
    // The dataset buffers pass to the session (freed by _train_free, also when begin fails).
    const owned = [];
    let session = 0, xP = 0, rP = 0;
    try {
      owned.push(this.copyIn(new Uint8Array(Uint32Array.from(npoints).buffer)));
      owned.push(this.copyIn(new Uint8Array(features.buffer, features.byteOffset, features.byteLength)));
      owned.push(this.copyIn(new Uint8Array(t.index.buffer)));
      owned.push(this.copyIn(t.blob));
      xP = extractorId ? this.copyIn(new TextEncoder().encode(extractorId + '\0')) : 0;
      rP = this.alloc(13 * 8);
    } catch (e) {
      owned.forEach((p) => this.free(p));
      this.free(xP);
      throw e;
    }
    try {
      session = this.m._polyp_wasm_classifier_train_begin(dim, npoints.length, ...owned, t.n,
        kind === 'lr' ? 1 : 0, Number(s & 0xffffffffn), Number((s >> 32n) & 0xffffffffn), epochs, xP, this.pool, this.err);
      this.free(xP);
      xP = 0;
      this.check(session);
      if (between) await between();
      for (let done = 0; done !== 1;) {
        this.m.polypOnEpoch = onEpoch ? (e, n, acc) => (onEpoch(e, n, acc) ? 1 : 0) : null;
        done = this.m._polyp_wasm_classifier_train_step(session, this.err);
        this.m.polypOnEpoch = null;
        if (done < 0) this.fail();
        if (between) await between();
      }
      const clf = this.m._polyp_wasm_classifier_train_finish(session, rP, this.err);
      this.check(clf);
      const r = new Float64Array(this.buffer(), rP, 13);
      const report = {
        nClasses: r[0], points: [r[1], r[2], r[3]], images: [r[4], r[5], r[6]],
        hidden: [r[7], r[8]].filter((h) => h > 0), learningRate: r[9], epochsDone: r[10],
        refAccuracyLast: r[11], valAccuracy: r[12],
      };
      return { clf, report, ...this.classifierInfo(clf) };
    } finally {
      this.m.polypOnEpoch = null;
      if (session) this.m._polyp_wasm_classifier_train_free(session);
      this.free(xP);
      this.free(rP);
    }
  }

  loadClassifier(bytes) {
    this.need('classifier', '_polyp_wasm_classifier_load');
    const b = asBytes(bytes);
    const p = this.copyIn(b);
    try {
      const clf = this.m._polyp_wasm_classifier_load(p, b.byteLength, this.err);
      this.check(clf);
      return { clf, ...this.classifierInfo(clf) };
    } finally {
      this.free(p);
    }
  }

  saveClassifier(clf) {
    const sizeP = this.alloc(8);
    try {
      const out = this.m._polyp_wasm_classifier_save(clf, sizeP, this.err);
      this.check(out);
      const bytes = new Uint8Array(this.buffer(), out, this.u32(sizeP)).slice();
      this.free(out);
      return bytes;
    } finally {
      this.free(sizeP);
    }
  }

  freeClassifier(clf) { this.m._polyp_wasm_classifier_free(clf); }

  /** Calibrated probabilities, n x nLabels (class order), of features n x dim. */
  predict(clf, features, dim) {
    const nl = this.m._polyp_wasm_classifier_n_labels(clf) >>> 0;
    const n = features.length / dim;
    const fP = this.copyIn(new Uint8Array(features.buffer, features.byteOffset, features.byteLength));
    const pP = this.alloc(Math.max(1, n * nl * 4));
    try {
      const st = this.m._polyp_wasm_classifier_predict(clf, fP, n, dim, pP, this.pool, this.err);
      if (st !== 0) this.fail();
      return new Float32Array(this.buffer(), pP, n * nl).slice();
    } finally {
      this.free(fP);
      this.free(pP);
    }
  }

  /** Accuracy, macro F1, per-label metrics, confusion and the Alleviate curve. */
  evaluate(clf, probs, truth) {
    const t = this.labelTable(truth);
    const pP = this.copyIn(new Uint8Array(probs.buffer, probs.byteOffset, probs.byteLength));
    const iP = this.copyIn(new Uint8Array(t.index.buffer));
    const bP = this.copyIn(t.blob);
    try {
      const ev = this.m._polyp_wasm_classifier_evaluate(clf, pP, truth.length, iP, bP, t.n, this.err);
      this.check(ev);
      try {
        const m = this.m;
        const n = m._polyp_wasm_classifier_evaluation_n_labels(ev) >>> 0;
        const labels = [], perLabel = [];
        for (let i = 0; i < n; i++) {
          labels.push(this.cstring(m._polyp_wasm_classifier_evaluation_label(ev, i)));
          perLabel.push({
            precision: m._polyp_wasm_classifier_evaluation_metric(ev, i, 0),
            recall: m._polyp_wasm_classifier_evaluation_metric(ev, i, 1),
            f1: m._polyp_wasm_classifier_evaluation_metric(ev, i, 2),
            support: m._polyp_wasm_classifier_evaluation_metric(ev, i, 3),
          });
        }
        const buf = this.buffer();
        return {
          accuracy: m._polyp_wasm_classifier_evaluation_accuracy(ev),
          macroF1: m._polyp_wasm_classifier_evaluation_macro_f1(ev),
          labels, perLabel,
          confusion: new Uint32Array(buf, m._polyp_wasm_classifier_evaluation_confusion(ev), n * n).slice(),
          alleviateAccuracy: new Float64Array(buf, m._polyp_wasm_classifier_evaluation_alleviate_accuracy(ev), 101).slice(),
          alleviateFraction: new Float64Array(buf, m._polyp_wasm_classifier_evaluation_alleviate_fraction(ev), 101).slice(),
        };
      } finally {
        this.m._polyp_wasm_classifier_evaluation_free(ev);
      }
    } finally {
      this.free(pP);
      this.free(iP);
      this.free(bP);
    }
  }

  /**
   * CoralNet export CSV bytes. rows: { names, rowcol (Uint32Array pairs), labels (string|null)[] };
   * with clf: probs (n x clf labels) and hasProbs (Uint8Array n, 0 = no suggestions for the row).
   */
  exportCsv({ names, rowcol, labels }, { clf = 0, probs = null, hasProbs = null, top = 5, allScores = false } = {}) {
    this.need('CSV export', '_polyp_wasm_classifier_export_csv');
    const n = names.length;
    if (rowcol.length !== 2 * n || labels.length !== n) throw new PolypError(1, `export: ${n} names, ${rowcol.length / 2} points, ${labels.length} labels`);
    const t = this.labelTable(labels);
    const nameBlob = new TextEncoder().encode(names.map((s) => s + '\0').join('') || '\0');
    const ptrs = [];
    const keep = (p) => { ptrs.push(p); return p; };
    try {
      const nP = keep(this.copyIn(nameBlob));
      const rcP = keep(this.copyIn(new Uint8Array(rowcol.buffer, rowcol.byteOffset, rowcol.byteLength)));
      const iP = keep(this.copyIn(new Uint8Array(t.index.buffer)));
      const bP = keep(this.copyIn(t.blob));
      const pP = clf && probs ? keep(this.copyIn(new Uint8Array(probs.buffer, probs.byteOffset, probs.byteLength))) : 0;
      const hP = clf && hasProbs ? keep(this.copyIn(hasProbs)) : 0;
      const sizeP = keep(this.alloc(8));
      const out = this.m._polyp_wasm_classifier_export_csv(n, nP, rcP, iP, bP, t.n, clf, pP, hP, top, allScores ? 1 : 0, sizeP, this.err);
      this.check(out);
      const bytes = new Uint8Array(this.buffer(), out, this.u32(sizeP)).slice();
      this.free(out);
      return bytes;
    } finally {
      ptrs.forEach((p) => this.free(p));
    }
  }

  /** CoralNet point generation: returns Uint32Array rowcol pairs. */
  generatePoints({ method = 'random', n = 30, cellRows = 1, cellCols = 1, perCell = 1,
    minRow = 0, maxRow, minCol = 0, maxCol, seed = 0 }) {
    this.need('point generation', '_polyp_wasm_classifier_points_generate');
    const m = { random: 0, stratified: 1, grid: 2 }[method];
    if (m === undefined) throw new PolypError(1, `points: unknown method '${method}' (random, stratified, grid)`);
    const s = BigInt(seed);
    const nP = this.alloc(8);
    try {
      const p = this.m._polyp_wasm_classifier_points_generate(m, n, cellRows, cellCols, perCell,
        minRow, maxRow, minCol, maxCol, Number(s & 0xffffffffn), Number((s >> 32n) & 0xffffffffn), nP, this.err);
      this.check(p);
      const out = new Uint32Array(this.buffer(), p, this.u32(nP) * 2).slice();
      this.free(p);
      return out;
    } finally {
      this.free(nP);
    }
  }

  dispose() {
    this.unloadWeights();
    this.m._polyp_wasm_pool_delete(this.pool);
    this.pool = 0;
    this.free(this.err);
    this.err = 0;
  }
}
