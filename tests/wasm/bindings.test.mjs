// bindings.test.mjs - wasm/bindings.js against the built module (polyp-simd, through
// wasm/engine.js as the worker uses it). References: the wasm32 C layout of the structs JS
// reads, worked out by hand from polyp.h (size_t and pointers 4 bytes, double 8 and 8-aligned),
// and the export list, which must be exactly the table (wasm/gen-exports.mjs's output).
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine } from '../../wasm/engine.js';
import { SIGNATURES, exportNames } from '../../wasm/bindings.js';
import { PolypError, STATUS } from '../../wasm/common.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const build = process.env.POLYP_WASM_BUILD || join(root, 'build-wasm');
let engine;

test.before(async () => {
  engine = await Engine.create({ flavor: 'simd', threads: 1, baseUrl: new URL('wasm/dist/', `file://${root}`) });
});
test.after(() => engine && engine.dispose());

test('the module is linked with exactly the table as its export list', () => {
  const list = readFileSync(join(build, 'wasm/exports.txt'), 'utf8').trim().split('\n');
  assert.deepEqual(list, exportNames());
  assert.equal(new Set(list).size, SIGNATURES.length, 'no name twice');
  for (const name of list) assert.equal(typeof engine.m[name], 'function', `${name} exported`);
});

test('struct layouts equal the wasm32 C layout worked out by hand', () => {
  const f = (s) => Object.fromEntries(Object.entries(engine.c.structs[s].fields).map(([k, v]) => [k, [v.offset, v.count]]));
  assert.deepEqual(f('polyp_train_report'), {
    n_classes: [0, 1], points: [4, 3], images: [16, 3], hidden: [28, 2],
    learning_rate: [40, 1], epochs_done: [48, 1], ref_accuracy_last: [56, 1], val_accuracy: [64, 1],
  });
  assert.equal(engine.c.sizeOf('polyp_train_report'), 72);
  assert.deepEqual(f('polyp_image'), { width: [0, 1], height: [4, 1], pixels: [8, 1], truncated: [12, 1] });
  assert.deepEqual(f('polyp_annotation'), { name: [0, 1], row: [4, 1], col: [8, 1], label: [12, 1] });
  assert.deepEqual(f('polyp_features'), { npoints: [0, 1], dim: [4, 1], valid_rowcol: [8, 1], rows: [12, 1], cols: [16, 1],
    feat: [20, 1], extractor: [24, 1] });
  assert.equal(engine.c.structs.polyp_features.fields.extractor.type, 'str');   // char *, read as a string
  assert.equal(engine.c.sizeOf('polyp_features'), 28);
  assert.deepEqual(f('polyp_label_metrics'), { precision: [0, 1], recall: [8, 1], f1: [16, 1], support: [24, 1] });
  assert.equal(engine.c.sizeOf('polyp_label_metrics'), 32);
  const ev = f('polyp_evaluation');
  assert.deepEqual([ev.accuracy, ev.macro_f1, ev.alleviate_accuracy, ev.alleviate_fraction],
    [[16, 1], [24, 1], [40, 101], [40 + 101 * 8, 101]]);
});

test('enums come from the C side; STATUS is polyp_status', () => {
  assert.equal(engine.c.enums.polyp_status.POLYP_ERR_CANCELLED, STATUS.cancelled);
  assert.equal(engine.c.enums.polyp_status.POLYP_ERR_FORMAT, STATUS.format);
  assert.deepEqual(engine.c.enums.polyp_classifier_kind, { POLYP_CLASSIFIER_MLP: 0, POLYP_CLASSIFIER_LR: 1 });
  assert.throws(() => engine.c.enumValue('polyp_points_method', 'POLYP_POINTS_SPIRAL'), PolypError);
});

test('wrappers check their arguments and throw the core\'s error', () => {
  assert.throws(() => engine.c.image_decode(0), /1 arguments for 2/);
  assert.throws(() => engine.c.malloc(-1), (e) => e instanceof PolypError && e.status === STATUS.invalid_arg);
  const p = engine.copyIn(new Uint8Array([1, 2, 3, 4]));
  try {
    assert.throws(() => engine.c.image_decode(p, 4),
      (e) => e instanceof PolypError && e.statusName === 'format' && e.message.length > 0);
    // The error record is cleared before each call: a later call that succeeds does not throw.
    assert.equal(typeof engine.version(), 'string');
  } finally {
    engine.free(p);
  }
});

test('u64 arguments pass both halves (seeds 2^32 apart give other points)', () => {
  const points = (seed) => [...engine.generatePoints({ method: 'random', n: 20, maxRow: 999, maxCol: 999, seed })];
  const lo = points(5n);
  assert.deepEqual(points(5n), lo);
  assert.notDeepEqual(points(5n + (1n << 32n)), lo);
});

test('a classifier kind outside the C enum is refused by name (JS) and by value (C)', async () => {
  await assert.rejects(engine.trainClassifier({ dim: 2, npoints: [1], labels: ['a'], features: new Float32Array(2), kind: 'svm' }),
    (e) => e.status === STATUS.invalid_arg && /unknown kind 'svm'/.test(e.message));
  // Straight to C: the four buffers pass to the call, which frees them when it refuses.
  const bufs = [4, 8, 4, 2].map((n) => engine.alloc(n));
  assert.throws(() => engine.c.classifier_train_begin(2, 1, ...bufs, 1, 7, 0n, 1, 0, 0),
    (e) => e.status === STATUS.invalid_arg && /unknown classifier kind 7/.test(e.message));
});
