// worker.js - the dedicated worker that owns the polyp wasm module (browser Worker with
// {type: 'module'}, or node worker_threads). The page talks to it only through wasm/polyp.js.
//
// Protocol (all messages are plain objects; ArrayBuffers are transferred, never copied):
//   page -> worker  { id, type, ...args }        a request (types: see `handlers`)
//                   { type: 'cancel', id }       stop request `id` at its next checkpoint
//   worker -> page  { id, type: 'progress', done, total }
//                   { id, type: 'result', result }
//                   { id, type: 'error', error: { name, message, status } } (PolypError.toRecord)
// Requests run one at a time in arrival order (one module, one extractor); cancel messages
// are handled at once, and long requests yield between chunks (extraction) or epochs
// (training) so that they can arrive.
import { detectRuntime, isNode } from './detect.js';
import { PolypError, STATUS, cancelledError } from './common.js';
import { Engine } from './engine.js';

const port = await (async () => {
  if (isNode) {
    const { parentPort } = await import('node:worker_threads');
    return {
      post: (msg, transfer) => parentPort.postMessage(msg, transfer),
      listen: (fn) => parentPort.on('message', fn),
    };
  }
  return {
    post: (msg, transfer) => self.postMessage(msg, transfer),
    listen: (fn) => { self.onmessage = (e) => fn(e.data); },
  };
})();

let engine = null;
const classifiers = new Map();   // handle -> wasm polyp_classifier *
let nextClassifier = 1;

function classifierOf(handle) {
  const clf = classifiers.get(handle);
  if (!clf) throw new PolypError(STATUS.invalid_arg, `classifier ${handle}: not loaded (freed?)`);
  return clf;
}
const cancelled = new Set();
let queue = Promise.resolve();

const yieldToEvents = () => new Promise((resolve) => setTimeout(resolve, 0));

// One macrotask, after which messages already queued for this worker (a 'cancel') have run.
// Browsers: a MessageChannel round trip (setTimeout(0) is clamped to 4 ms once timers nest,
// i.e. on every epoch after the fifth). Node: setImmediate, because node delivers a port's
// messages posted from inside its own message handler in the same turn, so a channel there
// would never let the parent's 'cancel' in (seen: a 40-epoch training ran to its end).
const nextMacrotask = (() => {
  if (typeof setImmediate === 'function') return () => new Promise((resolve) => setImmediate(resolve));
  if (typeof MessageChannel !== 'function') return yieldToEvents;
  const channel = new MessageChannel();
  const waiting = [];
  channel.port1.onmessage = () => waiting.shift()();
  return () => new Promise((resolve) => {
    waiting.push(resolve);
    channel.port2.postMessage(0);
  });
})();

async function bytesOf(x) {
  if (typeof Blob === 'function' && x instanceof Blob) return new Uint8Array(await x.arrayBuffer());
  if (x instanceof ArrayBuffer) return new Uint8Array(x);
  if (ArrayBuffer.isView(x)) return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  throw new TypeError('expected a Blob, ArrayBuffer or typed array');
}

// The last image decoded under an `imageKey` (the caller's name for its bytes, e.g. their
// SHA-256), kept so the next call naming it (the patches of a photo, then its extraction)
// does not decode the photo again (a 27 MP JPEG: 0.25-0.5 s on the 2-core machine,
// tests/bench/web/decodes.mjs). One image at most: any other decode frees it first, so
// memory peaks at one decoded image, as without keys.
let kept = null;   // { key, img }: img is the engine's, freed by dropKept()

function dropKept() {
  if (kept) { needEngine().freeImage(kept.img); kept = null; }
}

/** fn(img, decoded) over the decoded image: the kept one when `imageKey` names it, else a
 * fresh decode (kept under `imageKey` when given, freed after fn otherwise). `decoded` is
 * {decoded: boolean} for a keyed call and {} otherwise (results without a key keep their
 * shape). */
async function withImage(image, imageKey, fn) {
  const e = needEngine();
  const key = typeof imageKey === 'string' && imageKey ? imageKey : null;
  if (key && kept && kept.key === key) return fn(kept.img, { decoded: false });
  const bytes = await bytesOf(image);
  dropKept();
  const img = e.decode(bytes);
  if (key) {
    kept = { key, img };
    return fn(img, { decoded: true });
  }
  try {
    return await fn(img, {});
  } finally {
    e.freeImage(img);
  }
}

function needEngine() {
  if (!engine) throw new PolypError(STATUS.invalid_arg, 'polyp worker: not initialised');
  return engine;
}

const handlers = {
  async init({ threads, baseUrl }) {
    if (engine) throw new PolypError(STATUS.invalid_arg, 'polyp worker: already initialised');
    const rt = await detectRuntime(threads);
    engine = await Engine.create({ flavor: rt.flavor, threads: rt.threads, baseUrl });
    return { result: { ...rt, threads: engine.threads, version: engine.version() } };
  },

  async loadWeights({ weights, batchSize }) {
    const info = needEngine().loadWeights(await bytesOf(weights), { batchSize });
    return { result: info };
  },

  async buildTestnet({ seed, bnStats }) {
    const bytes = needEngine().buildTestnet(seed, await bytesOf(bnStats));
    return { result: bytes.buffer, transfer: [bytes.buffer] };
  },

  async decodeImage({ image, pixels, imageKey }) {
    const e = needEngine();
    return withImage(image, imageKey, (img, decoded) => {
      if (pixels) {
        const px = e.imagePixels(img);
        return { result: { ...e.imageInfo(img), ...decoded, pixels: px }, transfer: [px.buffer] };
      }
      return { result: { ...e.imageInfo(img), ...decoded } };
    });
  },

  async cropPatches({ image, points, imageKey }) {
    const e = needEngine();
    return withImage(image, imageKey, (img, decoded) => {
      const rowcol = points instanceof Uint32Array ? points : new Uint32Array(points);
      const patches = e.cropPatches(img, rowcol);
      return { result: { ...e.imageInfo(img), ...decoded, npoints: rowcol.length / 2, size: 224, patches }, transfer: [patches.buffer] };
    });
  },

  async extract({ id, image, points, chunk, imageKey }) {
    const e = needEngine();
    return withImage(image, imageKey, async (img, decoded) => {
      const info = e.imageInfo(img);
      const rowcol = points instanceof Uint32Array ? points : new Uint32Array(points);
      const features = await e.extractPoints(img, rowcol, {
        chunk: chunk || 8,
        between: async (done, total) => {
          port.post({ id, type: 'progress', done, total });
          await yieldToEvents();
          if (cancelled.has(id)) throw cancelledError();
        },
      });
      return {
        result: { ...info, ...decoded, npoints: rowcol.length / 2, dim: e.dim, features },
        transfer: [features.buffer],
      };
    });
  },

  async releaseImage() {
    dropKept();
    return { result: true };
  },

  async writeNpz({ points, features, dim, extractor }) {
    const bytes = needEngine().writeNpz(new Uint32Array(points), new Float32Array(features), dim, extractor);
    return { result: bytes.buffer, transfer: [bytes.buffer] };
  },

  async readNpz({ bytes }) {
    const r = needEngine().readNpz(await bytesOf(bytes));
    const transfer = [r.features.buffer];
    if (r.rows) transfer.push(r.rows.buffer, r.cols.buffer);
    return { result: r, transfer };
  },

  async parseCsv({ bytes }) {
    const r = needEngine().parseCsv(await bytesOf(bytes));
    return { result: r, transfer: [r.rows.buffer, r.cols.buffer] };
  },

  async trainClassifier({ id, dim, npoints, labels, features, kind, seed, epochs, extractorId, cancelFlag }) {
    const e = needEngine();
    const flag = cancelFlag ? new Int32Array(cancelFlag) : null;
    // One wasm call per epoch, and a macrotask between them so a 'cancel' message for this
    // request is seen at the next epoch boundary on every page; the session is freed then.
    // Where the page can share memory the flag is read inside the call too, at the end of
    // each epoch, so the cancel needs no message round trip there.
    const r = await e.trainClassifier({
      dim, npoints, labels, features: new Float32Array(features), kind, seed, epochs, extractorId,
      onEpoch: (epoch, n, acc) => {
        port.post({ id, type: 'progress', done: epoch + 1, total: n, refAccuracy: acc });
        return flag ? Atomics.load(flag, 0) !== 0 : false;
      },
      between: async () => {
        await nextMacrotask();
        if (cancelled.has(id)) throw cancelledError();
      },
    });
    const handle = nextClassifier++;
    classifiers.set(handle, r.clf);
    const { clf, ...info } = r;
    return { result: { handle, ...info } };
  },

  async loadClassifier({ bytes }) {
    const r = needEngine().loadClassifier(await bytesOf(bytes));
    const handle = nextClassifier++;
    classifiers.set(handle, r.clf);
    const { clf, ...info } = r;
    return { result: { handle, ...info } };
  },

  async saveClassifier({ handle }) {
    const bytes = needEngine().saveClassifier(classifierOf(handle));
    return { result: bytes.buffer, transfer: [bytes.buffer] };
  },

  async predict({ handle, features, dim }) {
    const probs = needEngine().predict(classifierOf(handle), new Float32Array(features), dim);
    return { result: probs, transfer: [probs.buffer] };
  },

  async evaluate({ handle, features, dim, truth }) {
    const e = needEngine();
    const clf = classifierOf(handle);
    const probs = e.predict(clf, new Float32Array(features), dim);
    const r = e.evaluate(clf, probs, truth);
    return { result: { ...r, probs }, transfer: [probs.buffer, r.confusion.buffer] };
  },

  async freeClassifier({ handle }) {
    needEngine().freeClassifier(classifierOf(handle));
    classifiers.delete(handle);
    return { result: true };
  },

  async exportCsv({ names, rows, cols, labels, handle, probs, hasProbs, top, allScores }) {
    const rowcol = new Uint32Array(names.length * 2);
    for (let i = 0; i < names.length; i++) {
      rowcol[2 * i] = rows[i];
      rowcol[2 * i + 1] = cols[i];
    }
    const bytes = needEngine().exportCsv({ names, rowcol, labels }, {
      clf: handle ? classifierOf(handle) : 0,
      probs: probs ? new Float32Array(probs) : null,
      hasProbs: hasProbs ? new Uint8Array(hasProbs) : null,
      top, allScores,
    });
    return { result: bytes.buffer, transfer: [bytes.buffer] };
  },

  async acceptClassifier({ newAcc, prevAcc }) {
    return { result: needEngine().acceptClassifier(newAcc, prevAcc) };
  },

  async shouldTrain({ nAnnotated, nLast }) {
    return { result: needEngine().shouldTrain(nAnnotated, nLast) };
  },

  async generatePoints(params) {
    const pts = needEngine().generatePoints(params);
    return { result: pts, transfer: [pts.buffer] };
  },

  async dispose() {
    dropKept();
    for (const clf of classifiers.values()) engine.freeClassifier(clf);
    classifiers.clear();
    if (engine) engine.dispose();
    engine = null;
    return { result: true };
  },
};

port.listen((msg) => {
  if (!msg || typeof msg !== 'object') return;
  if (msg.type === 'cancel') {
    cancelled.add(msg.id);
    return;
  }
  const { id, type } = msg;
  queue = queue.then(async () => {
    try {
      if (cancelled.has(id)) throw cancelledError();
      const h = Object.prototype.hasOwnProperty.call(handlers, type) ? handlers[type] : null;
      if (!h) throw new PolypError(STATUS.invalid_arg, `polyp worker: unknown request type '${type}'`);
      const { result, transfer = [] } = await h(msg);
      port.post({ id, type: 'result', result }, transfer);
    } catch (e) {
      port.post({ id, type: 'error', error: PolypError.toRecord(e) });
    } finally {
      cancelled.delete(id);
    }
  });
});
port.post({ type: 'ready' });
