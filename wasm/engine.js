// engine.js - owns one polyp wasm module and speaks its C API in JS values: the functions of
// wasm/bindings.js's table (this.c), results read from the core's structs by field name.
// Runs inside the dedicated worker (wasm/worker.js); nothing here touches the DOM.
//
// Memory rules: every byte array crosses into wasm by malloc + copy, results are copied out
// (slice) before the wasm buffer is freed; heap views are re-read after every call because
// memory may grow (and, in the threaded artifact, grow from another thread).
import { Api } from './bindings.js';
import { FEATURE_DIM, PolypError, STATUS } from './common.js';
import { isNode } from './detect.js';

export { FEATURE_DIM, PolypError };

const CLASSIFIER_KINDS = { mlp: 'POLYP_CLASSIFIER_MLP', lr: 'POLYP_CLASSIFIER_LR' };
const POINT_METHODS = { random: 'POLYP_POINTS_RANDOM', stratified: 'POLYP_POINTS_STRATIFIED', grid: 'POLYP_POINTS_GRID' };

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
    for (let waited = 0; engine.c.pool_running(engine.pool) < engine.threads && waited < 5000; waited += 2) {
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    return engine;
  }

  constructor(mod, flavor, threads) {
    this.m = mod;
    this.c = new Api(mod);
    this.flavor = flavor;
    this.threads = threads;
    this.weights = 0;
    this.extractor = 0;
    // One pool for the module's life, shared by extraction, training and scoring (0 = the
    // calling thread: threads 1, or the single-threaded module).
    this.pool = this.c.pool_new(threads);
    this.threads = this.c.pool_threads(this.pool);
  }

  // ---- memory helpers
  buffer() { return this.c.buffer(); }

  alloc(size) {
    const p = this.c.malloc(size);
    if (!p) throw new PolypError(STATUS.nomem, `out of wasm memory allocating ${size} bytes`);
    return p;
  }

  free(p) { if (p) this.c.free(p); }

  copyIn(data) {
    const bytes = asBytes(data);
    const p = this.alloc(bytes.byteLength);
    new Uint8Array(this.buffer(), p, bytes.byteLength).set(bytes);
    return p;
  }

  /** Bytes [p, p + n) copied out of wasm memory. */
  bytesAt(p, n) { return new Uint8Array(this.buffer(), p, n).slice(); }

  /** A result buffer of *sizeP bytes that C allocated: copied out, then freed. */
  takeBytes(out, sizeP) {
    try {
      return this.bytesAt(out, this.c.u32(sizeP));
    } finally {
      this.free(out);
    }
  }

  version() { return this.c.version(); }

  // ---- images
  decode(imageBytes) {
    const p = this.copyIn(imageBytes);
    try {
      return this.c.image_decode(p, asBytes(imageBytes).byteLength);
    } finally {
      this.free(p);
    }
  }

  imageInfo(img) {
    const { width, height, truncated } = this.c.read('polyp_image', img);
    return { width, height, truncated: !!truncated };
  }

  /** Copy of the decoded RGB pixels, height x width x 3. */
  imagePixels(img) {
    const { width, height, pixels } = this.c.read('polyp_image', img);
    return this.bytesAt(pixels, width * height * 3);
  }

  freeImage(img) { this.c.image_free(img); }

  /**
   * The 224x224 patches the extractor sees at points [row, col] (Uint32Array of pairs): the
   * core's polyp_patch_crop (reflect padding, [0,1] floats) returned as RGB bytes (value x 255,
   * exact), n x 224 x 224 x 3, for showing a point's patch.
   */
  cropPatches(img, rowcol) {
    const n = rowcol.length / 2;
    const side = 224;
    const out = new Uint8Array(n * side * side * 3);
    const fP = this.alloc(side * side * 3 * 4);
    try {
      for (let i = 0; i < n; i++) {
        this.c.image_crop(img, rowcol[2 * i], rowcol[2 * i + 1], fP);
        const f = new Float32Array(this.buffer(), fP, side * side * 3);
        const o = out.subarray(i * side * side * 3, (i + 1) * side * side * 3);
        for (let k = 0; k < f.length; k++) o[k] = Math.round(f[k] * 255);
      }
    } finally {
      this.free(fP);
    }
    return out;
  }

  // ---- weights and extraction
  /** Replaces the loaded weights (and extractor) with these bytes (safetensors, or a TFLite MobileNet). */
  loadWeights(bytes, { batchSize = 0 } = {}) {
    const b = asBytes(bytes);
    const p = this.copyIn(b);
    let w = 0;
    try {
      w = this.c.weights_load(p, b.byteLength);
    } finally {
      this.free(p);
    }
    let x = 0;
    try {
      x = this.c.extractor_init(w, this.pool, batchSize);
    } catch (e) {
      this.c.weights_free(w);
      throw e;
    }
    this.unloadWeights();
    this.weights = w;
    this.extractor = x;
    this.dim = this.c.weights_feature_dim(w); // 1280 B0 / v2, 1024 MobileNet v1
    const extractorId = this.c.weights_extractor_id(w);
    const variant = this.c.weights_variant(w);
    return {
      sha256: this.c.weights_sha256(w),
      variant,
      kind: this.c.weights_kind(w),
      featureDim: this.dim,
      extractorId,
      // The record `polyp extract` writes into its feature files and `polyp train` checks
      // (native/cli/cmd_extract.c formats it the same way; tests/wasm/npz.test.mjs compares).
      extractorRecord: `${extractorId} variant=${variant}`,
      backend: this.c.extractor_backend(x),
      threads: this.c.extractor_threads(x),
    };
  }

  unloadWeights() {
    if (this.extractor) this.c.extractor_free(this.extractor);
    if (this.weights) this.c.weights_free(this.weights);
    this.extractor = this.weights = 0;
  }

  /** The seeded test network's safetensors bytes (models/testnet.py's network). */
  buildTestnet(seed, bnStats) {
    const b = asBytes(bnStats);
    const p = this.copyIn(b);
    const sizeP = this.alloc(8);
    try {
      return this.takeBytes(this.c.testnet_build(seed, p, b.byteLength, sizeP), sizeP);
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
    if (!this.extractor) throw new PolypError(STATUS.invalid_arg, 'extract: no weights loaded (call loadWeights first)');
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
        this.c.extract_points(this.extractor, img, ptsP, k, featP);
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
  /** `extractor`: the extractor record to store (WeightsInfo.extractorRecord), or null for a
   * file without one (as pyspacer writes). The core checks it (printable ASCII, length). */
  writeNpz(rowcol, features, dim = FEATURE_DIM, extractor = null) {
    const n = rowcol.length / 2;
    if (features.length !== n * dim) throw new PolypError(STATUS.invalid_arg, `npz: ${features.length} feature values for ${n} points x ${dim}`);
    if (extractor != null && typeof extractor !== 'string') {
      throw new PolypError(STATUS.invalid_arg, `npz: the extractor record must be a string, not ${typeof extractor}`);
    }
    const ptsP = this.copyIn(new Uint8Array(rowcol.buffer, rowcol.byteOffset, rowcol.byteLength));
    const featP = this.copyIn(new Uint8Array(features.buffer, features.byteOffset, features.byteLength));
    const sizeP = this.alloc(8);
    let recP = 0;
    try {
      recP = extractor ? this.copyIn(new TextEncoder().encode(extractor + '\0')) : 0;
      return this.takeBytes(this.c.npz_write(ptsP, n, featP, dim, recP, sizeP), sizeP);
    } finally {
      this.free(ptsP);
      this.free(featP);
      this.free(sizeP);
      this.free(recP);
    }
  }

  readNpz(bytes) {
    const b = asBytes(bytes);
    const p = this.copyIn(b);
    try {
      const f = this.c.npz_read(p, b.byteLength);
      try {
        const { npoints: n, dim, valid_rowcol: valid, rows, cols, feat, extractor } = this.c.read('polyp_features', f);
        return {
          npoints: n, dim, validRowcol: !!valid,
          rows: valid ? this.c.copyOut(Uint16Array, rows, n) : null,
          cols: valid ? this.c.copyOut(Uint16Array, cols, n) : null,
          features: this.c.copyOut(Float32Array, feat, n * dim),
          extractor,   // the record, null when the file has none (pyspacer's)
        };
      } finally {
        this.c.npz_free(f);
      }
    } finally {
      this.free(p);
    }
  }

  // ---- CoralNet annotation CSV
  parseCsv(bytes) {
    const b = asBytes(bytes);
    const p = this.copyIn(b);
    try {
      const a = this.c.csv_parse(p, b.byteLength);
      try {
        const { count, items } = this.c.read('polyp_annotations', a);
        const rowsOf = this.c.readArray('polyp_annotation', items, count);
        return {
          names: rowsOf.map((r) => r.name),
          rows: Uint32Array.from(rowsOf, (r) => r.row),
          cols: Uint32Array.from(rowsOf, (r) => r.col),
          labels: rowsOf.map((r) => r.label),
        };
      } finally {
        this.c.csv_free(a);
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
    const n = this.c.classifier_n_labels(clf);
    const labels = Array.from({ length: n }, (_, i) => this.c.classifier_label(clf, i));
    const kindValue = this.c.classifier_get_kind(clf);
    const kind = Object.keys(CLASSIFIER_KINDS)
      .find((k) => this.c.enumValue('polyp_classifier_kind', CLASSIFIER_KINDS[k]) === kindValue);
    const nP = this.alloc(8);
    try {
      const p = this.c.classifier_ref_accuracy(clf, nP);
      const refAccuracy = Array.from(new Float64Array(this.buffer(), p, this.c.u32(nP)));
      return {
        labels,
        kind: kind ?? 'unknown',
        featureDim: this.c.classifier_feature_dim(clf),
        extractorId: this.c.classifier_extractor_id(clf),
        refAccuracy,
        valAccuracy: this.c.classifier_val_accuracy(clf),
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
    if (!CLASSIFIER_KINDS[kind]) throw new PolypError(STATUS.invalid_arg, `train: unknown kind '${kind}' (mlp, lr)`);
    const kindValue = this.c.enumValue('polyp_classifier_kind', CLASSIFIER_KINDS[kind]);
    const total = npoints.reduce((a, b) => a + b, 0);
    if (labels.length !== total || features.length !== total * dim) {
      throw new PolypError(STATUS.invalid_arg, `train: ${labels.length} labels and ${features.length} feature values for ${total} points x ${dim}`);
    }
    const t = this.labelTable(labels);
    // The dataset buffers pass to the session (freed by _train_free, also when begin fails).
    const owned = [];
    let session = 0, xP = 0, rP = 0;
    try {
      owned.push(this.copyIn(new Uint8Array(Uint32Array.from(npoints).buffer)));
      owned.push(this.copyIn(new Uint8Array(features.buffer, features.byteOffset, features.byteLength)));
      owned.push(this.copyIn(new Uint8Array(t.index.buffer)));
      owned.push(this.copyIn(t.blob));
      xP = extractorId ? this.copyIn(new TextEncoder().encode(extractorId + '\0')) : 0;
      rP = this.alloc(this.c.sizeOf('polyp_train_report'));
    } catch (e) {
      owned.forEach((p) => this.free(p));
      this.free(xP);
      throw e;
    }
    try {
      try {
        session = this.c.classifier_train_begin(dim, npoints.length, ...owned, t.n, kindValue, seed,
          epochs, xP, this.pool);
      } finally {
        this.free(xP);
        xP = 0;
      }
      if (between) await between();
      for (let done = 0; done !== 1;) {
        this.m.polypOnEpoch = onEpoch ? (e, n, acc) => (onEpoch(e, n, acc) ? 1 : 0) : null;
        try {
          done = this.c.classifier_train_step(session);
        } finally {
          this.m.polypOnEpoch = null;
        }
        if (between) await between();
      }
      const clf = this.c.classifier_train_finish(session, rP);
      const r = this.c.read('polyp_train_report', rP);
      const report = {
        nClasses: r.n_classes, points: [...r.points], images: [...r.images],
        hidden: [...r.hidden].filter((h) => h > 0), learningRate: r.learning_rate,
        epochsDone: r.epochs_done, refAccuracyLast: r.ref_accuracy_last, valAccuracy: r.val_accuracy,
      };
      return { clf, report, ...this.classifierInfo(clf) };
    } finally {
      this.m.polypOnEpoch = null;
      if (session) this.c.classifier_train_free(session);
      this.free(xP);
      this.free(rP);
    }
  }

  loadClassifier(bytes) {
    const b = asBytes(bytes);
    const p = this.copyIn(b);
    try {
      const clf = this.c.classifier_load(p, b.byteLength);
      return { clf, ...this.classifierInfo(clf) };
    } finally {
      this.free(p);
    }
  }

  saveClassifier(clf) {
    const sizeP = this.alloc(8);
    try {
      return this.takeBytes(this.c.classifier_save(clf, sizeP), sizeP);
    } finally {
      this.free(sizeP);
    }
  }

  freeClassifier(clf) { this.c.classifier_free(clf); }

  /** Calibrated probabilities, n x nLabels (class order), of features n x dim. */
  predict(clf, features, dim) {
    const nl = this.c.classifier_n_labels(clf);
    const n = features.length / dim;
    const fP = this.copyIn(new Uint8Array(features.buffer, features.byteOffset, features.byteLength));
    const pP = this.alloc(Math.max(1, n * nl * 4));
    try {
      this.c.classifier_predict(clf, fP, n, dim, pP, this.pool);
      return this.c.copyOut(Float32Array, pP, n * nl);
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
      const ev = this.c.classifier_evaluate(clf, pP, truth.length, iP, bP, t.n);
      try {
        const e = this.c.read('polyp_evaluation', ev);
        const n = e.n_labels;
        const labelPtrs = this.c.copyOut(Uint32Array, e.labels, n);
        return {
          accuracy: e.accuracy,
          macroF1: e.macro_f1,
          labels: Array.from(labelPtrs, (p) => this.c.cstring(p)),
          perLabel: this.c.readArray('polyp_label_metrics', e.per_label, n)
            .map(({ precision, recall, f1, support }) => ({ precision, recall, f1, support })),
          confusion: this.c.copyOut(Uint32Array, e.confusion, n * n),
          alleviateAccuracy: e.alleviate_accuracy,
          alleviateFraction: e.alleviate_fraction,
        };
      } finally {
        this.c.classifier_evaluation_free(ev);
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
    const n = names.length;
    if (rowcol.length !== 2 * n || labels.length !== n) throw new PolypError(STATUS.invalid_arg, `export: ${n} names, ${rowcol.length / 2} points, ${labels.length} labels`);
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
      return this.takeBytes(this.c.classifier_export_csv(n, nP, rcP, iP, bP, t.n, clf, pP, hP, top, allScores, sizeP), sizeP);
    } finally {
      ptrs.forEach((p) => this.free(p));
    }
  }

  /** CoralNet's acceptance rule: does a classifier with newAcc replace one with prevAcc? */
  acceptClassifier(newAcc, prevAcc) {
    return this.c.classifier_accept(newAcc, prevAcc) === 1;
  }

  /** CoralNet's retraining schedule (first at 20 annotated images, then at 1.1x). */
  shouldTrain(nAnnotated, nLast) {
    for (const [name, v] of [['annotated images', nAnnotated], ['images at last training', nLast]]) {
      if (!Number.isSafeInteger(v) || v < 0 || v > 0xffffffff) throw new PolypError(1, `shouldTrain: ${name} must be an integer 0..2^32-1 (got ${v})`);
    }
    return this.c.classifier_should_train(nAnnotated, nLast) === 1;
  }

  /** CoralNet point generation: returns Uint32Array rowcol pairs. */
  generatePoints({ method = 'random', n = 30, cellRows = 1, cellCols = 1, perCell = 1,
    minRow = 0, maxRow, minCol = 0, maxCol, seed = 0 }) {
    if (!POINT_METHODS[method]) {
      throw new PolypError(STATUS.invalid_arg, `points: unknown method '${method}' (random, stratified, grid)`);
    }
    const m = this.c.enumValue('polyp_points_method', POINT_METHODS[method]);
    const nP = this.alloc(8);
    try {
      const p = this.c.classifier_points_generate(m, n, cellRows, cellCols, perCell,
        minRow, maxRow, minCol, maxCol, seed, nP);
      try {
        return this.c.copyOut(Uint32Array, p, this.c.u32(nP) * 2);
      } finally {
        this.free(p);
      }
    } finally {
      this.free(nP);
    }
  }

  dispose() {
    this.unloadWeights();
    this.c.pool_delete(this.pool);
    this.pool = 0;
    this.free(this.c.err);
    this.c.err = 0;
  }
}
