// classifier.test.mjs - classifier training, scoring, model files, evaluation and point
// generation through the JS API, on a synthetic labelled source made here. References:
// the native build's `polyp train` on the same features and seed (its model is loaded in
// wasm and must score every point like the wasm-trained one), answers computed in JS from
// the returned probabilities, and the DESIGN's point-generation rules.
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPolyp } from '../../wasm/polyp.js';
import { LABELS, makeSource } from './synthetic.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const nativeCli = join(process.env.POLYP_NATIVE_BUILD || join(root, 'build'), 'polyp');
const DIM = 1280;
// Deterministic synthetic source (tests/wasm/synthetic.mjs): 48 images x 20 points.
const source = makeSource(DIM);
const allFeatures = (() => {
  const f = new Float32Array(source.length * 20 * DIM);
  source.forEach((im, i) => f.set(im.features, i * 20 * DIM));
  return f;
})();
const allLabels = source.flatMap((im) => im.labels);

const polyps = {};
const trained = {};
test.before(async () => {
  polyps[1] = await createPolyp({ threads: 1, log: null });
  polyps[2] = await createPolyp({ threads: 2, log: null });
});
test.after(() => Object.values(polyps).forEach((p) => p.terminate()));

for (const threads of [1, 2]) {
  test(`MLP training with per-epoch progress (threads ${threads})`, async () => {
    const progress = [];
    const clf = await polyps[threads].trainClassifier({ dim: DIM, images: source }, {
      seed: 7, onProgress: (done, total, acc) => progress.push([done, total, acc]),
    });
    trained[threads] = clf;
    assert.deepEqual(clf.labels, LABELS, 'labels in sorted order');
    assert.equal(clf.kind, 'mlp');
    assert.equal(clf.featureDim, DIM);
    assert.deepEqual(progress.map((p) => p[0]), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.ok(progress.every((p) => p[1] === 10 && p[2] >= 0 && p[2] <= 1));
    assert.deepEqual(clf.refAccuracy, progress.map((p) => p[2]));
    // CoralNet's split of 48 images: 6 validation (i % 8 == 0), 42 others of which every
    // 10th (j = 0, 10, 20, 30, 40) is reference: 5 images, 37 train; 19 labelled points each.
    assert.deepEqual(clf.report.images, [37, 5, 6]);
    assert.deepEqual(clf.report.points, [37 * 19, 5 * 19, 6 * 19]);
    assert.deepEqual(clf.report.hidden, [100]);
    assert.equal(clf.report.learningRate, 1e-3);
    // Every field of the report is read by name from the C struct (not a positional array).
    assert.equal(clf.report.nClasses, LABELS.length);
    assert.equal(clf.report.epochsDone, 10);
    assert.equal(clf.report.refAccuracyLast, progress[progress.length - 1][2]);
    assert.equal(clf.report.valAccuracy, clf.valAccuracy);
    assert.ok(clf.valAccuracy > 0.9, `validation accuracy ${clf.valAccuracy}`);
  });
}

test('both artifacts train the same model (same seed)', async () => {
  const a = await trained[1].save();
  const b = await trained[2].save();
  assert.deepEqual(a, b);
});

test('predict: calibrated rows sum to 1; evaluate agrees with an argmax computed here', async () => {
  const probs = await trained[1].predict(allFeatures);
  const n = allLabels.length;
  assert.equal(probs.length, n * LABELS.length);
  let correct = 0, labelled = 0;
  const support = [0, 0, 0, 0], hits = [0, 0, 0, 0], predicted = [0, 0, 0, 0];
  const confusion = new Array(16).fill(0);
  for (let i = 0; i < n; i++) {
    const row = probs.subarray(i * 4, i * 4 + 4);
    assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5, `row ${i} sums to 1`);
    if (allLabels[i] === null) continue;
    labelled++;
    let best = 0;
    for (let c = 1; c < 4; c++) if (row[c] > row[best]) best = c;
    if (LABELS[best] === allLabels[i]) correct++;
    const truth = LABELS.indexOf(allLabels[i]);
    support[truth]++;
    predicted[best]++;
    confusion[truth * 4 + best]++;
    if (best === truth) hits[truth]++;
  }
  const ev = await trained[1].evaluate(allFeatures, allLabels);
  assert.equal(ev.accuracy, correct / labelled);
  assert.deepEqual(ev.labels, LABELS);
  assert.equal(ev.perLabel.reduce((a, m) => a + m.support, 0), labelled);
  // Each label's fields by name, against counts of the argmax above.
  ev.perLabel.forEach((m, c) => {
    assert.equal(m.support, support[c], `${LABELS[c]} support`);
    assert.ok(Math.abs(m.recall - hits[c] / support[c]) < 1e-12, `${LABELS[c]} recall`);
    assert.ok(Math.abs(m.precision - (predicted[c] ? hits[c] / predicted[c] : 0)) < 1e-12, `${LABELS[c]} precision`);
  });
  assert.deepEqual([...ev.confusion], confusion);
  assert.equal(ev.alleviateFraction[0], 1);
  assert.ok(Math.abs(ev.alleviateAccuracy[0] - ev.accuracy) < 1e-12);
});

test('model files round-trip through save/load', async () => {
  const bytes = await trained[1].save();
  const back = await polyps[2].loadClassifier(bytes);
  assert.deepEqual(back.labels, LABELS);
  assert.equal(back.valAccuracy, trained[1].valAccuracy);
  assert.deepEqual(await back.predict(allFeatures), await trained[1].predict(allFeatures));
  await assert.rejects(polyps[1].loadClassifier(bytes.slice(0, 100)), (e) => e.name === 'PolypError' && e.message.length > 0);
  await back.dispose();
});

test('training equals the native `polyp train` (same features, same seed)', { skip: !(existsSync(nativeCli) && spawnSync(nativeCli, ['train', '--help']).status === 0) && 'no native build/polyp train' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'polyp-clf-'));
  try {
    mkdirSync(join(dir, 'features'));
    const rows = ['Name,Row,Column,Label code'];
    for (const im of source) {
      writeFileSync(join(dir, 'features', `${im.name}.featurevector`), await polyps[1].featuresToNpz(im.points, im.features));
      im.points.forEach(([r, c], k) => rows.push(`${im.name},${r},${c},${im.labels[k] ?? ''}`));
    }
    writeFileSync(join(dir, 'annotations.csv'), rows.join('\n') + '\n');
    const r = spawnSync(nativeCli, ['train', '--features', join(dir, 'features'), '--annotations', join(dir, 'annotations.csv'),
      '--seed', '7', '--out', join(dir, 'model')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const nativeBytes = new Uint8Array(readFileSync(join(dir, 'model')));
    const wasmBytes = await trained[1].save();
    t.diagnostic(`model files: native ${nativeBytes.length} bytes, wasm ${wasmBytes.length} bytes, identical: ${Buffer.compare(nativeBytes, wasmBytes) === 0}`);
    const native = await polyps[1].loadClassifier(nativeBytes);
    assert.deepEqual(native.labels, LABELS);
    const np = await native.predict(allFeatures);
    const wp = await trained[1].predict(allFeatures);
    let d = 0;
    for (let i = 0; i < np.length; i++) d = Math.max(d, Math.abs(np[i] - wp[i]));
    t.diagnostic(`max |native - wasm| probability = ${d}; validation accuracy native ${native.valAccuracy}, wasm ${trained[1].valAccuracy}`);
    assert.ok(d <= 1e-5, `max |native - wasm| probability = ${d}`);
    assert.ok(Math.abs(native.valAccuracy - trained[1].valAccuracy) < 1e-12);
    await native.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a cancelled training stops at the next epoch and rejects', async () => {
  const ac = new AbortController();
  const seen = [];
  await assert.rejects(polyps[1].trainClassifier({ dim: DIM, images: source }, {
    seed: 1, signal: ac.signal, onProgress: (done) => { seen.push(done); if (done === 2) ac.abort(); },
  }), (e) => e.name === 'AbortError' && e.statusName === 'cancelled');
  assert.ok(seen.length <= 3, `epochs run after the cancel: ${seen}`);
});

test('training refuses a source with a single shared label, naming the problem', async () => {
  const one = source.map((im) => ({ labels: im.labels.map((l) => (l ? 'CCA' : null)), features: im.features }));
  await assert.rejects(polyps[1].trainClassifier({ dim: DIM, images: one }), (e) => e.name === 'PolypError' && /label/i.test(e.message));
});

test('point generation follows CoralNet\'s rules', async () => {
  const area = { minRow: 10, maxRow: 109, minCol: 0, maxCol: 149 };
  const grid = await polyps[1].generatePoints({ method: 'grid', cellRows: 2, cellCols: 3, ...area });
  assert.equal(grid.length, 12);
  // cell r spans rows [r*H//R + min, (r+1)*H//R + min - 1] (H = 100, R = 2; W = 150, C = 3)
  for (let i = 0; i < 6; i++) {
    const r = Math.floor(i / 3), c = i % 3;
    const r0 = r * 50 + 10, r1 = (r + 1) * 50 + 9, c0 = c * 50, c1 = (c + 1) * 50 - 1;
    assert.ok(grid[2 * i] >= r0 && grid[2 * i] <= r1 && grid[2 * i + 1] >= c0 && grid[2 * i + 1] <= c1,
      `grid point ${i} (${grid[2 * i]}, ${grid[2 * i + 1]}) in cell ${r},${c}`);
  }
  const strat = await polyps[1].generatePoints({ method: 'stratified', cellRows: 2, cellCols: 2, perCell: 3, seed: 5, ...area });
  assert.equal(strat.length, 2 * 12);
  const a = await polyps[1].generatePoints({ method: 'random', n: 30, seed: 9, ...area });
  const b = await polyps[2].generatePoints({ method: 'random', n: 30, seed: 9, ...area });
  assert.deepEqual(a, b, 'same seed, same points');
  for (let i = 0; i < 30; i++) assert.ok(a[2 * i] >= 10 && a[2 * i] <= 109 && a[2 * i + 1] <= 149);
  await assert.rejects(polyps[1].generatePoints({ method: 'spiral', ...area }), /unknown method/);
});

test('CoralNet export CSV with machine suggestions', async () => {
  const clf = trained[1];
  const feats = source[0].features.subarray(0, 3 * DIM);
  const probs = await clf.predict(feats);
  const rows = { names: ['a, b.jpg', 'x.jpg', 'x.jpg'], rows: [1, 2, 3], cols: [4, 5, 6], labels: ['CCA', null, 'Sand'] };
  const plain = await polyps[1].exportAnnotationsCsv(rows);
  assert.deepEqual(plain.trim().split(/\r?\n/), ['Name,Row,Column,Label code', '"a, b.jpg",1,4,CCA', 'x.jpg,2,5,', 'x.jpg,3,6,Sand']);
  const p2 = Float32Array.from(probs);
  p2.fill(NaN, 2 * 4, 3 * 4);   // third row: no suggestions
  const csv = await polyps[2].exportAnnotationsCsv(rows, { classifier: clf, probs: p2, top: 2 });
  const lines = csv.trim().split(/\r?\n/);
  assert.equal(lines[0], 'Name,Row,Column,Label code,Machine suggestion 1,Machine confidence 1,Machine suggestion 2,Machine confidence 2');
  // Expected suggestions computed here: labels by descending probability, round-half-up percent.
  const first = [...probs.subarray(0, 4)].map((p, c) => [p, LABELS[c]]).sort((a, b) => b[0] - a[0]);
  const pct = (p) => Math.floor(p * 100 + 0.5);
  assert.equal(lines[1], `"a, b.jpg",1,4,CCA,${first[0][1]},${pct(first[0][0])},${first[1][1]},${pct(first[1][0])}`);
  assert.equal(lines[3], 'x.jpg,3,6,Sand,,,,');
});
