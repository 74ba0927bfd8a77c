// robot-modules.test.mjs - node tests of the classifier side's pure modules (web/src/train.js,
// alleviate.js, export.js) with the real engine (wasm/dist, single-threaded module) on a
// synthetic labelled project. References: the core's own validation accuracy (our choice of
// validation points must reproduce it), argmax/argsort of the engine's probabilities worked
// here, the engine's Alleviate curve (the app's acceptance at threshold t must keep exactly
// the curve's fraction of validation points, at the curve's accuracy), the library's CSV
// parser reading back the export, numpy-free hand counts.
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createPolyp, scorePercent, unzipFiles } from '../../wasm/polyp.js';
import { mulberry32 } from '../wasm/synthetic.mjs';
import { trainingSet, trainAndJudge, suggestedPoints, annotatedCount, isAnnotated, extractorIdFor, sameExtractor } from '../../web/src/train.js';
import { planAlleviate, pointLists, alleviateMessage, undoMessage, curve } from '../../web/src/alleviate.js';
import { annotationsCsv, annotationRows, coverCsv, featuresZip } from '../../web/src/export.js';
import { photoStatus } from '../../web/src/store.js';

const built = existsSync(new URL('../../wasm/dist/polyp-simd.mjs', import.meta.url));
const DIM = 32;
const CODES = ['Acro', 'CCA', 'Macro', 'Sand', 'Turf'];
// The full extractor ids ('<kind>:<sha256>:<dim>', as polyp_weights_extractor_id writes them)
// of the synthetic extractors' weights, written out by hand.
const ID_A = `efficientnet_b0:ext-A:${DIM}`, ID_B = `efficientnet_b0:ext-B:${DIM}`;

// nPhotos photos x 12 points; every point has a true label (class mean + noise); all points
// are confirmed with it. Features are the store's records of extractor `extractorSha`.
function makeProject(nPhotos, { seed = 99, noise = 1.3, extractorSha = 'ext-A' } = {}) {
  const rnd = mulberry32(seed);
  const means = CODES.map(() => Float32Array.from({ length: DIM }, () => rnd() * 2 - 1));
  const photos = [], feats = new Map(), truth = new Map();
  for (let i = 0; i < nPhotos; i++) {
    const points = [], t = [], data = new Float32Array(12 * DIM);
    for (let k = 0; k < 12; k++) {
      const c = Math.floor(rnd() * CODES.length);
      for (let d = 0; d < DIM; d++) data[k * DIM + d] = 0.5 * means[c][d] + (rnd() * 2 - 1) * noise;
      points.push({ row: 10 + k * 7, col: 20 + k * 11, label: CODES[c], state: 'confirmed', suggestions: null, changed: true });
      t.push(CODES[c]);
    }
    const id = `p${i}`;
    photos.push({ id, name: `IMG_${String(i).padStart(3, '0')}.jpg`, points });
    feats.set(id, { extractorSha, rows: Uint32Array.from(points, (p) => p.row), cols: Uint32Array.from(points, (p) => p.col), feat: data });
    truth.set(id, t);
  }
  return { photos, featuresOf: (p) => feats.get(p.id) || null, feats, truth };
}

const argmax = (p, k, i) => { let b = 0; for (let j = 1; j < k; j++) if (p[i * k + j] > p[i * k + b]) b = j; return b; };

let polyp;
test.before(async () => { if (built) polyp = await createPolyp({ threads: 1, log: null }); });
test.after(() => polyp && polyp.terminate());

const unconfirm = (p) => Object.assign(p, { state: 'unannotated', label: null, suggestions: null });

test('training set: annotated photos only, never features of another extractor or stale ones', { skip: !built && 'wasm/dist not built' }, () => {
  const pr = makeProject(10);
  pr.photos[2].points[3].state = 'unconfirmed';                  // not annotated
  pr.feats.set('p4', { ...pr.feats.get('p4'), extractorSha: 'ext-B' });
  pr.feats.delete('p5');
  pr.photos[6].points[0] = { ...pr.photos[6].points[0], row: 999 };   // moved after extraction
  const set = trainingSet(pr.photos, pr.featuresOf, 'ext-A');
  assert.deepEqual(set.photoIds, ['p0', 'p1', 'p3', 'p7', 'p8', 'p9']);
  assert.deepEqual(set.skipped, { noFeatures: 2, stale: 1 });
  assert.equal(annotatedCount(pr.photos), 9);
  assert.equal(isAnnotated([]), false);
});

test('train, judge against the previous classifier on the same validation points, suggest', { skip: !built && 'wasm/dist not built' }, async () => {
  const pr = makeProject(40);
  // First training on 20 annotated photos (the schedule's first step).
  assert.equal(await polyp.shouldTrain(annotatedCount(pr.photos.slice(0, 20)), 0), true);
  assert.equal(await polyp.shouldTrain(annotatedCount(pr.photos.slice(0, 19)), 0), false);
  const progress = [];
  const first = await trainAndJudge(polyp, { photos: pr.photos.slice(0, 20), featuresOf: pr.featuresOf, extractorSha: 'ext-A', extractorId: ID_A,
    onProgress: (e, n) => progress.push([e, n]) });
  assert.equal(first.record.accepted, true);
  assert.equal(first.record.reason, 'first classifier');
  assert.deepEqual(progress.map((p) => p[0]), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  // Our validation points are the core's: the accuracy we measure on them is its valAccuracy.
  assert.ok(Math.abs(first.record.valAccuracy - first.classifier.valAccuracy) < 1e-9,
    `${first.record.valAccuracy} vs core ${first.classifier.valAccuracy}`);
  assert.equal(first.classifier.extractorId, ID_A);
  assert.deepEqual([first.record.extractorId, first.record.extractorSha], [ID_A, 'ext-A']);
  assert.equal(first.record.validationPoints, 3 * 12);           // photos 0, 8, 16
  assert.equal(first.record.nAnnotatedImages, 20);

  // Second training on all 40: the previous one is re-scored on the new validation points
  // (photos 0, 8, 16, 24, 32); its accuracy checked by hand from its probabilities.
  const second = await trainAndJudge(polyp, { photos: pr.photos, featuresOf: pr.featuresOf, extractorSha: 'ext-A', extractorId: ID_A, previous: first.classifier });
  const valIds = ['p0', 'p8', 'p16', 'p24', 'p32'];
  const vf = new Float32Array(valIds.length * 12 * DIM);
  valIds.forEach((id, i) => vf.set(pr.feats.get(id).feat, i * 12 * DIM));
  const vt = valIds.flatMap((id) => pr.truth.get(id));
  const pp = await first.classifier.predict(vf);
  const k = first.classifier.labels.length;
  const handAcc = vt.filter((t, i) => first.classifier.labels[argmax(pp, k, i)] === t).length / vt.length;
  assert.ok(Math.abs(second.record.previousAccuracy - handAcc) < 1e-12, `${second.record.previousAccuracy} vs ${handAcc}`);
  assert.equal(second.record.accepted, second.record.valAccuracy >= 1.01 * handAcc);
  assert.match(second.record.reason, /on the same 60 validation points/);

  // The same data and seed again: equal accuracy, below 1.01x, so it is refused.
  const third = await trainAndJudge(polyp, { photos: pr.photos, featuresOf: pr.featuresOf, extractorSha: 'ext-A', extractorId: ID_A, previous: second.classifier });
  assert.equal(third.record.valAccuracy, second.record.valAccuracy);
  assert.equal(third.record.accepted, false);
  assert.match(third.record.reason, /below 1\.01 x .*kept the previous one/);

  // Suggestions: top 5 in score order of the engine's probabilities, the top one as an
  // unconfirmed label; confirmed points untouched; features of another extractor never scored.
  const points = structuredClone(pr.photos[39].points);
  points.forEach((p, i) => { if (i % 3) unconfirm(p); });
  const out = await suggestedPoints(second.classifier, points, pr.feats.get('p39'));
  const probs = await second.classifier.predict(pr.feats.get('p39').feat);
  const labels = second.classifier.labels;
  out.forEach((p, i) => {
    if (i % 3 === 0) return assert.equal(p, points[i]);
    const order = labels.map((_, j) => j).sort((a, b) => probs[i * labels.length + b] - probs[i * labels.length + a]);
    assert.deepEqual(p.suggestions.map((x) => x[0]), order.slice(0, 5).map((j) => labels[j]));
    assert.ok(Math.abs(p.suggestions[0][1] - probs[i * labels.length + order[0]]) < 1e-7);
    assert.equal(p.label, labels[order[0]]);
    assert.equal(p.state, 'unconfirmed');
  });
  assert.equal(await suggestedPoints(second.classifier, points, { ...pr.feats.get('p39'), extractorSha: 'ext-B' }), null);

  // A previous classifier of another extractor is not compared.
  const other = makeProject(20, { extractorSha: 'ext-B', seed: 5 });
  const fresh = await trainAndJudge(polyp, { photos: other.photos, featuresOf: other.featuresOf, extractorSha: 'ext-B', extractorId: ID_B, previous: second.classifier });
  assert.equal(fresh.record.accepted, true);
  assert.match(fresh.record.reason, /another extractor/);
  for (const c of [first, second, third, fresh]) await c.classifier.dispose();
});

test('a model is bound to the full extractor id of the stored weights; one of an older version (bare sha256) keeps working', { skip: !built && 'wasm/dist not built' }, async () => {
  // The app derives the id from the weights' stored record (as createTestnetExtractor and
  // loadExtractorFile store it), never from a guess.
  const weights = new Map([['ext-A', { sha256: 'ext-A', name: 'w', kind: 'efficientnet_b0', bytes: null, record: `${ID_A} variant=lukemelas` }],
    ['ext-C', { sha256: 'ext-C', name: 'c', kind: 'efficientnet_b0', bytes: null, record: `efficientnet_b0:ext-D:${DIM} variant=lukemelas` }],
    ['ext-E', { sha256: 'ext-E', name: 'e', kind: 'efficientnet_b0', bytes: null }]]);
  const store = { getWeights: async (sha) => weights.get(sha) };
  assert.equal(await extractorIdFor(store, { extractor: { sha256: 'ext-A' } }), ID_A);
  assert.equal(await extractorIdFor(store, { extractor: { sha256: 'ext-C' } }), null);    // a record of other weights
  // No record and the weights cannot be loaded here (no page, no bytes): unknown, not guessed.
  assert.equal(await extractorIdFor(store, { extractor: { sha256: 'ext-E', name: 'e', testnet: false } }), null);

  const pr = makeProject(24);
  const full = await trainAndJudge(polyp, { photos: pr.photos, featuresOf: pr.featuresOf, extractorSha: 'ext-A', extractorId: ID_A });
  assert.equal(full.classifier.extractorId, ID_A);
  const back = await polyp.loadClassifier(full.record.bytes);    // the stored (and exported) bytes
  assert.equal(back.extractorId, ID_A);
  await back.dispose();
  // An id that does not name the features' weights or width is refused.
  for (const bad of [ID_B, 'efficientnet_b0:ext-A:1280', `${ID_A} variant=lukemelas`, 'ext-A:32']) {
    await assert.rejects(trainAndJudge(polyp, { photos: pr.photos, featuresOf: pr.featuresOf, extractorSha: 'ext-A', extractorId: bad }),
      (e) => e instanceof RangeError && e.message.includes(bad), bad);
  }

  // A model of an older version of the app, bound to the bare sha256 (what it passed), as it
  // is still stored: it scores the features of its weights, and the next training (full id)
  // compares itself with it on the same validation points rather than calling it foreign.
  const old = await trainAndJudge(polyp, { photos: pr.photos, featuresOf: pr.featuresOf, extractorSha: 'ext-A' });
  assert.equal(old.classifier.extractorId, 'ext-A');
  const points = structuredClone(pr.photos[3].points).map(unconfirm);
  assert.equal((await suggestedPoints(old.classifier, points, pr.feats.get('p3'))).length, 12);
  assert.equal(await suggestedPoints(old.classifier, points, { ...pr.feats.get('p3'), extractorSha: 'ext-B' }), null);
  const next = await trainAndJudge(polyp, { photos: pr.photos, featuresOf: pr.featuresOf, extractorSha: 'ext-A', extractorId: ID_A, previous: old.classifier });
  assert.match(next.record.reason, /on the same \d+ validation points/);
  assert.notEqual(next.record.previousAccuracy, null);
  assert.equal(await suggestedPoints(full.classifier, points, { ...pr.feats.get('p3'), extractorSha: 'ext-B' }), null);

  // The core's matching rule, case by case.
  assert.equal(sameExtractor(ID_A, 'ext-A'), true);
  assert.equal(sameExtractor('ext-A', `${ID_A} variant=lukemelas`), true);
  assert.equal(sameExtractor(ID_A, `${ID_A} variant=torchvision`), true);    // a record's id ends at its first space
  assert.equal(sameExtractor(ID_A, ID_B), false);
  assert.equal(sameExtractor(ID_A, `mobilenet_v2:ext-A:${DIM}`), false);
  assert.equal(sameExtractor(ID_A, 'efficientnet_b0:ext-A:1280'), false);
  assert.equal(sameExtractor('ext-A', 'ext-B'), false);
  for (const c of [full, old, next]) await c.classifier.dispose();
});

test('training is cancellable at an epoch boundary', { skip: !built && 'wasm/dist not built' }, async () => {
  const pr = makeProject(80);
  const ac = new AbortController();
  let last = 0;
  await assert.rejects(trainAndJudge(polyp, { photos: pr.photos, featuresOf: pr.featuresOf, extractorSha: 'ext-A', epochs: 400, signal: ac.signal,
    onProgress: (e) => { last = e; if (e === 1) ac.abort(); } }), (e) => e.name === 'AbortError');
  assert.ok(last < 400, `stopped after epoch ${last} of 400`);
});

test("Alleviate keeps the engine curve's fraction at its accuracy, says the count, undoes", { skip: !built && 'wasm/dist not built' }, async () => {
  const pr = makeProject(48, { noise: 2.2 });                    // noisy: confidences spread out
  const { classifier, record } = await trainAndJudge(polyp, { photos: pr.photos, featuresOf: pr.featuresOf, extractorSha: 'ext-A' });
  // The validation photos as machine-annotated photos (nothing confirmed), suggestions from the model.
  const val = [];
  for (let i = 0; i < 48; i += 8) {
    const p = structuredClone(pr.photos[i]);
    p.points.forEach(unconfirm);
    p.points = await suggestedPoints(classifier, p.points, pr.feats.get(p.id));
    val.push(p);
  }
  const c = curve(record.evaluation);
  let tested = 0;
  for (const t of [0, 30, 50, 60, 70, 80, 90, 99]) {
    const plan = planAlleviate(val, t);
    assert.equal(plan.considered, 72);
    assert.ok(Math.abs(plan.changes.length / plan.considered - c[t].kept) < 1e-12, `t=${t}: ${plan.changes.length}/72 vs ${c[t].kept}`);
    if (plan.changes.length) {
      const right = plan.changes.filter((ch) => pr.truth.get(ch.photoId)[ch.index] === ch.after.label).length;
      assert.ok(Math.abs(right / plan.changes.length - c[t].accuracy) < 1e-12, `t=${t} accuracy`);
      tested++;
    } else {
      assert.equal(c[t].accuracy, null);
    }
  }
  assert.ok(tested >= 4, 'the thresholds cover the curve');
  const before = structuredClone(val);
  const plan = planAlleviate(val, 60);
  const apply = (lists) => lists.forEach((l) => { val.find((p) => p.id === l.photoId).points = l.points; });
  apply(pointLists(val, plan.changes, 'after'));
  assert.ok(plan.changes.every((ch) => val.find((p) => p.id === ch.photoId).points[ch.index].state === 'confirmed'));
  assert.match(alleviateMessage(plan), new RegExp(`^Alleviate accepted ${plan.changes.length} of 72 points \\(\\d+%\\) at 60%$`));
  // Undo leaves alone a point the user relabelled since.
  const touched = plan.changes[0];
  const photo = val.find((p) => p.id === touched.photoId);
  photo.points = photo.points.slice();
  photo.points[touched.index] = { ...photo.points[touched.index], label: 'Turf' };
  apply(pointLists(val, plan.changes, 'before'));
  assert.equal(photo.points[touched.index].label, 'Turf');
  photo.points[touched.index] = before.find((p) => p.id === touched.photoId).points[touched.index];
  assert.deepEqual(val, before);
  assert.equal(undoMessage(80, 312), 'Undid Alleviate at 80%: 312 points back to unconfirmed');
  assert.equal(alleviateMessage({ threshold: 80, considered: 1250, changes: { length: 312 } }),
    'Alleviate accepted 312 of 1,250 points (25%) at 80%');
  await classifier.dispose();
});

test('exports: annotations CSV read back field by field, machine columns, covers, features zip', { skip: !built && 'wasm/dist not built' }, async () => {
  const pr = makeProject(24);
  const { classifier } = await trainAndJudge(polyp, { photos: pr.photos, featuresOf: pr.featuresOf, extractorSha: 'ext-A' });
  const photos = structuredClone(pr.photos.slice(0, 3));
  photos[1].name = 'reef, "north".jpg';
  photos[1].points[2] = { ...photos[1].points[2], state: 'unconfirmed', label: 'Sand', suggestions: [['Sand', 0.7]] };
  photos[2].points.forEach(unconfirm);
  assert.deepEqual(photos.map((p) => photoStatus(p.points)), ['Confirmed', 'Unconfirmed', 'Unclassified']);

  const plain = await annotationsCsv(polyp, photos);
  assert.equal(plain.split('\r\n')[0], 'Name,Row,Column,Label code');
  const back = await polyp.parseAnnotationsCsv(plain);
  const want = annotationRows(photos);
  assert.equal(back.names.length, 23);                           // 12 + 11 confirmed points
  assert.deepEqual(back.names, want.names);
  assert.deepEqual([...back.rows], want.rows);
  assert.deepEqual([...back.cols], want.cols);
  assert.deepEqual(back.labels, want.labels);
  assert.equal(back.names[12], 'reef, "north".jpg');
  assert.deepEqual(back.labels.slice(0, 12), pr.truth.get('p0'));

  const full = await annotationsCsv(polyp, photos, { classifier, featuresOf: pr.featuresOf, machine: true, unannotated: true, pointNumbers: true });
  const lines = full.trim().split('\r\n');
  const head = lines[0].split(',');
  assert.deepEqual(head.slice(0, 4), ['Name', 'Row', 'Column', 'Label code']);
  assert.deepEqual(head.slice(4, 14), [1, 2, 3, 4, 5].flatMap((n) => [`Machine suggestion ${n}`, `Machine confidence ${n}`]));
  assert.equal(head.at(-1), 'Point number');
  assert.equal(lines.length, 1 + 36);
  const probs = await classifier.predict(pr.feats.get('p0').feat);
  const L = classifier.labels;
  const cells = lines[5].split(',');                              // photo 0, point 4
  assert.equal(cells.at(-1), '5');
  const order = L.map((_, j) => j).sort((a, b) => probs[4 * L.length + b] - probs[4 * L.length + a]);
  assert.equal(cells[4], L[order[0]]);
  assert.equal(Number(cells[5]), scorePercent(probs[4 * L.length + order[0]]));
  const last = lines.at(-1).split(',');                           // photo 2, point 12: unannotated
  assert.equal(last[3], '');
  assert.equal(last.at(-1), '12');

  const cover = coverCsv(photos, CODES).trim().split('\r\n');
  assert.equal(cover[0], 'Image ID,Image name,Annotation status,Points,Acro,CCA,Macro,Sand,Turf');
  assert.equal(cover.length, 1 + 2 + 1);                          // photo 2 has no labels: left out
  const count = (code) => photos[0].points.filter((p) => p.label === code).length;
  assert.deepEqual(cover[1].split(',').slice(4), CODES.map((c) => (100 * count(c) / 12).toFixed(3)));

  const z = await featuresZip(polyp, [...photos, { id: 'nofeat', name: 'x.jpg', points: [] }], pr.featuresOf);
  assert.deepEqual([z.files, z.missing, z.unrecorded], [3, 1, 3]);     // no recordOf: no records
  const entries = await unzipFiles(z.blob);
  assert.deepEqual(entries.map((e) => e.name), photos.map((p) => `${p.name}.featurevector`));
  const npz = await polyp.readNpz(entries[1].data);
  assert.deepEqual([...npz.rows], photos[1].points.map((p) => p.row));
  assert.deepEqual([...npz.cols], photos[1].points.map((p) => p.col));
  assert.deepEqual(npz.features, pr.feats.get('p1').feat);
  assert.equal(npz.extractor, null);

  // Each file carries the record of the extractor its features came from (asked once per
  // extractor); none where that record is unknown or names other weights or another width.
  const recA = `efficientnet_b0:ext-A:${DIM} variant=lukemelas`;
  const records = { 'ext-A': recA, 'ext-B': `efficientnet_b0:ext-C:${DIM} variant=lukemelas`, 'ext-D': `efficientnet_b0:ext-D:1280 variant=lukemelas` };
  const asked = [];
  const recordOf = async (sha) => { asked.push(sha); return records[sha] ?? null; };
  const featuresOf = (p) => ({ p2: { ...pr.feats.get('p2'), extractorSha: 'ext-B' } })[p.id] || pr.featuresOf(p);
  const zr = await featuresZip(polyp, photos, featuresOf, { recordOf });
  assert.deepEqual([zr.files, zr.missing, zr.unrecorded], [3, 0, 1]);
  assert.deepEqual(asked, ['ext-A', 'ext-B']);
  const got = await Promise.all((await unzipFiles(zr.blob)).map(async (e) => (await polyp.readNpz(e.data)).extractor));
  assert.deepEqual(got, [recA, recA, null]);
  const wide = await featuresZip(polyp, photos.slice(0, 1), () => ({ ...pr.feats.get('p0'), extractorSha: 'ext-D' }), { recordOf });
  assert.equal(wide.unrecorded, 1);                               // the record says 1280, the features are 32 wide
  const unknown = await featuresZip(polyp, photos.slice(0, 1), () => ({ ...pr.feats.get('p0'), extractorSha: 'ext-E' }), { recordOf });
  assert.equal((await polyp.readNpz((await unzipFiles(unknown.blob))[0].data)).extractor, null);
  await classifier.dispose();
});

test('backup: every record type comes back equal; damaged or foreign files are refused by name', async () => {
  const { writeBackup, readBackup } = await import('../../web/src/backup.js');
  const { zipFiles } = await import('../../wasm/polyp.js');
  const photo = new File([new Uint8Array([0xff, 0xd8, 1, 2, 3])], 'IMG_1.jpg', { type: 'image/jpeg', lastModified: 1700000000000 });
  const stores = {
    projects: [{ id: 'pr1', name: 'Récif nord', labelset: [{ code: 'CCA', color: '#ff0000' }], created: new Date(1700000000123), nan: NaN, inf: -Infinity, big: 2n ** 70n }],
    photos: [{ id: 'sha-1', projectId: 'pr1', file: photo, raw: photo.slice(1, 3), points: [{ row: 1, col: 2, label: null, suggestions: [{ code: 'CCA', score: 0.25 }] }] }],
    features: [{ photoId: 'sha-1', data: new Float32Array([1.5, -2, 3e-8]), rows: new Uint16Array([7, 8]).subarray(1), model: new Uint8Array([1, 2, 3]).buffer }],
    empty: [],
  };
  const blob = await writeBackup(stores, { schema: 3 });
  const back = await readBackup(blob);
  assert.deepEqual(back.meta, { schema: 3 });
  const p = back.stores.photos[0];
  assert.ok(p.file instanceof File);
  assert.deepEqual([p.file.name, p.file.type, p.file.lastModified], ['IMG_1.jpg', 'image/jpeg', 1700000000000]);
  assert.deepEqual(new Uint8Array(await p.file.arrayBuffer()), new Uint8Array([0xff, 0xd8, 1, 2, 3]));
  assert.deepEqual(new Uint8Array(await p.raw.arrayBuffer()), new Uint8Array([0xd8, 1]));
  assert.deepEqual(p.points, stores.photos[0].points);
  assert.deepEqual(back.stores.projects, stores.projects);
  assert.deepEqual(back.stores.features[0].data, new Float32Array([1.5, -2, 3e-8]));
  assert.deepEqual(back.stores.features[0].rows, new Uint16Array([8]));
  assert.deepEqual(new Uint8Array(back.stores.features[0].model), new Uint8Array([1, 2, 3]));
  assert.deepEqual(back.stores.empty, []);
  await assert.rejects(readBackup(new Uint8Array(100)), /not a polyp project backup/);
  await assert.rejects(readBackup(await zipFiles([{ name: 'backup.json', data: '{"format":"other"}' }])), /format 'other'/);
  await assert.rejects(readBackup(await zipFiles([{ name: 'backup.json', data: '{"format":"polyp-project-backup","version":99}' }])), /newer than this app/);
  const cut = await zipFiles([{ name: 'backup.json', data: JSON.stringify({ format: 'polyp-project-backup', version: 1, stores: { a: [{ x: { '\u0000polyp': 'buffer', path: 'data/9' } }] } }) }]);
  await assert.rejects(readBackup(cut), /lacks data\/9/);
});
