// cancel.test.mjs - cancelling classifier training on the single-threaded module WITHOUT the
// shared cancel flag, i.e. as on a page that is not cross-origin isolated (no
// SharedArrayBuffer): the only way in is the worker's 'cancel' message, which the worker
// sees because it runs one epoch per wasm call and yields between epochs.
//
// References: an uncancelled training of the same source is the native `polyp train` (the
// one-shot polyp_classifier_train, same seed) within 1e-5 in every probability; an earlier
// implementation that trained in one wasm call reported every epoch before rejecting, which
// the epoch counts here would catch.
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPolyp } from '../../wasm/polyp.js';
import { makeLargeSource } from './synthetic.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const nativeCli = join(process.env.POLYP_NATIVE_BUILD || join(root, 'build'), 'polyp');
const haveNativeTrain = existsSync(nativeCli) && spawnSync(nativeCli, ['train', '--help']).status === 0;

// 160 images x 25 points = 4,000 points of 64 values, 5 labels (point 3 of every image
// unlabelled); 40 epochs take a few seconds in wasm, one epoch a small fraction of that.
const DIM = 128;
const EPOCHS = 40;
const SEED = 3;
const LABELS = ['Acro', 'CCA', 'Macro', 'Sand', 'Turf'];
const source = makeLargeSource({ dim: DIM, nImages: 160, nPoints: 25, labels: LABELS, seed: 777 });
const allFeatures = (() => {
  const f = new Float32Array(source.length * 25 * DIM);
  source.forEach((im, i) => f.set(im.features, i * 25 * DIM));
  return f;
})();
const data = { dim: DIM, images: source };

let polyp = null;
let reference = null;   // { bytes, probs, progress } of the uncancelled training
test.before(async () => {
  polyp = await createPolyp({ threads: 1, log: null, sharedCancel: false });
});
test.after(() => polyp && polyp.terminate());

async function trainAll() {
  const progress = [];
  const clf = await polyp.trainClassifier(data, { seed: SEED, epochs: EPOCHS, onProgress: (done, total) => progress.push([done, total]) });
  const r = { bytes: await clf.save(), probs: await clf.predict(allFeatures), progress, valAccuracy: clf.valAccuracy, refAccuracy: clf.refAccuracy };
  await clf.dispose();
  return r;
}

test('the single-threaded module, no shared flag: an uncancelled training reports every epoch', async () => {
  assert.equal(polyp.flavor, 'simd');
  assert.equal(polyp.sharedCancel, false);
  reference = await trainAll();
  assert.deepEqual(reference.progress, Array.from({ length: EPOCHS }, (_, e) => [e + 1, EPOCHS]));
  assert.equal(reference.refAccuracy.length, EPOCHS);
  assert.ok(reference.valAccuracy > 0.8, `validation accuracy ${reference.valAccuracy}`);
});

test('without a cancel the model is the native one-shot `polyp train` model (same seed)', { skip: !haveNativeTrain && 'no native build/polyp train' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'polyp-cancel-'));
  try {
    mkdirSync(join(dir, 'features'));
    const rows = ['Name,Row,Column,Label code'];
    for (const im of source) {
      writeFileSync(join(dir, 'features', `${im.name}.featurevector`), await polyp.featuresToNpz(im.points, im.features, DIM));
      im.points.forEach(([r, c], k) => rows.push(`${im.name},${r},${c},${im.labels[k] ?? ''}`));
    }
    writeFileSync(join(dir, 'annotations.csv'), rows.join('\n') + '\n');
    const r = spawnSync(nativeCli, ['train', '--features', join(dir, 'features'), '--annotations', join(dir, 'annotations.csv'),
      '--seed', String(SEED), '--epochs', String(EPOCHS), '--threads', '1', '--out', join(dir, 'model')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const native = await polyp.loadClassifier(new Uint8Array(readFileSync(join(dir, 'model'))));
    assert.deepEqual(native.labels, LABELS);
    assert.equal(native.refAccuracy.length, EPOCHS);
    const np = await native.predict(allFeatures);
    let d = 0;
    for (let i = 0; i < np.length; i++) d = Math.max(d, Math.abs(np[i] - reference.probs[i]));
    t.diagnostic(`max |native - wasm| probability = ${d}`);
    assert.ok(d <= 1e-5, `max |native - wasm| probability = ${d}`);
    assert.ok(Math.abs(native.valAccuracy - reference.valAccuracy) < 1e-12);
    await native.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('abort after the first epoch: rejects with AbortError at the next epoch boundary, long before the end', async (t) => {
  const ac = new AbortController();
  const seen = [];
  const t0 = performance.now();
  await assert.rejects(polyp.trainClassifier(data, {
    seed: SEED, epochs: EPOCHS, signal: ac.signal,
    onProgress: (done) => { seen.push(done); if (done === 1) ac.abort(); },
  }), (e) => e.name === 'AbortError' && e.statusName === 'cancelled');
  const ms = performance.now() - t0;
  // Epoch 1 reported, the cancel crosses while epoch 2 runs, the worker sees it when it
  // yields after epoch 2; a little slack for a busy machine, far below the 40 epochs a
  // training that cannot be interrupted reports.
  assert.ok(seen.length >= 1 && seen.length <= 8, `epochs reported before the rejection: ${seen}`);
  assert.ok(seen.length < EPOCHS);
  assert.deepEqual(seen, seen.map((_, i) => i + 1));
  // No progress event arrives after the rejection.
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.ok(seen.length <= 8, `epochs reported after the rejection: ${seen}`);
  t.diagnostic(`cancelled after ${seen.length} epochs in ${ms.toFixed(0)} ms`);
});

test('abort right after the call: rejects before (or at the end of) the first epoch', async () => {
  const ac = new AbortController();
  const seen = [];
  const p = polyp.trainClassifier(data, { seed: SEED, epochs: EPOCHS, signal: ac.signal, onProgress: (done) => seen.push(done) });
  ac.abort();
  await assert.rejects(p, (e) => e.name === 'AbortError');
  assert.ok(seen.length <= 1, `epochs reported: ${seen}`);
});

test('after the cancels the same instance trains the uncancelled model again, bit for bit', async () => {
  const again = await trainAll();
  assert.deepEqual(again.progress, reference.progress);
  assert.deepEqual(again.bytes, reference.bytes);
  assert.deepEqual(again.probs, reference.probs);
});

test('an LR training is cancellable the same way', async () => {
  const ac = new AbortController();
  const seen = [];
  await assert.rejects(polyp.trainClassifier(data, {
    kind: 'lr', seed: SEED, epochs: EPOCHS, signal: ac.signal,
    onProgress: (done) => { seen.push(done); if (done === 1) ac.abort(); },
  }), (e) => e.name === 'AbortError');
  assert.ok(seen.length <= 8 && seen.length < EPOCHS, `epochs reported: ${seen}`);
  // and an uncancelled LR training still works on the instance
  const clf = await polyp.trainClassifier(data, { kind: 'lr', seed: SEED, epochs: 3 });
  assert.equal(clf.kind, 'lr');
  assert.deepEqual(clf.labels, LABELS);
  assert.equal(clf.refAccuracy.length, 3);
  await clf.dispose();
});
