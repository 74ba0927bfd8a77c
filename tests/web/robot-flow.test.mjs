// robot-flow.test.mjs - the classifier side of the app in real Chromium (tests/web/harness.mjs):
// 24 real patches from ../shared/testdata/seattle-patches as photos, 6 points each imported
// with labels from a CSV (22 photos fully annotated, 2 left for the machine), the seeded test
// network as extractor. Checked as a user would see it, against independent references:
//   - the first training starts by itself (CoralNet's schedule: 20 annotated photos); "Train
//     now" trains again and the acceptance rule is applied on the same validation points;
//   - Review shows every machine point as `CODE [NN%]`, NN the floored percent of the score
//     the library's predict gives for the stored features, in the test's own reckoning;
//   - Alleviate at a threshold accepts exactly the machine points whose top score rounds to
//     it or more (counted here), says "Alleviate accepted K of N points (P%) at T%", and
//     "Undo Alleviate" brings every point back;
//   - "Export annotations" (all options) is read field by field against the store and the
//     library's scores; "Export percent cover" against counts made here; "Export features"
//     with numpy, every file with the test network's extractor record; "Export model" is the
//     stored model, bound (its metadata, read with Python) to the network's full extractor id;
//   - "Back up project", then "Restore project" in a fresh browser profile: every photo's
//     bytes, point, feature and classifier is there, equal;
//   - no request leaves the page's origin. Screenshots to build/web-screenshots/robot-*.png.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { basename, join } from 'node:path';
import { createHash } from 'node:crypto';
import { createPolyp } from '../../wasm/polyp.js';
import { launch, openApp, screenshot, profileDir, cleanup, queueIdle, skip, haveTestdata, TESTDATA, ROOT } from './harness.mjs';

const why = skip || (!haveTestdata && 'needs ../shared/testdata');
const CODES = ['SU_sand', 'SU_cob', 'SI_kelpBry'];
const PER = 8;             // photos per code
const OFFSETS = [[0, 0], [-40, -40], [40, -40], [-40, 40], [40, 40], [0, -60]];

// Polls an async page function until it returns something truthy (waitForFunction would take
// the promise an async predicate returns for a truthy answer).
async function until(page, fn, arg, timeout = 120000) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await page.evaluate(fn, arg);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${String(fn).slice(0, 120)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

// axe-core (npm) on the page as it is: no serious or critical violation.
async function axeCheck(page, what) {
  await page.addScriptTag({ content: readFileSync(join(ROOT, 'node_modules/axe-core/axe.min.js'), 'utf8') });
  const v = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ['violations'] })).violations
    .filter((x) => x.impact === 'serious' || x.impact === 'critical').map((x) => `${x.id}: ${x.help} (${x.nodes.length}: ${x.nodes[0].target})`));
  assert.deepEqual(v, [], `${what}: axe`);
}

function pickPhotos() {
  const lines = readFileSync(join(TESTDATA, 'seattle-patches/points.csv'), 'utf8').trim().split(/\r?\n/).slice(1);
  const by = new Map(CODES.map((c) => [c, []]));
  for (const l of lines) {
    const [image, row, col, label] = l.split(',');
    if (by.has(label) && by.get(label).length < PER + 1) by.get(label).push({ path: join(TESTDATA, 'seattle-patches', image), row: +row, col: +col });
  }
  // Interleaved, so every split of the stable order holds every label.
  const out = [];
  for (let i = 0; i < PER; i++) for (const c of CODES) out.push(by.get(c)[i]);
  return { photos: out, extra: by.get(CODES[0])[PER] };
}

test('classifier side: schedule, suggestions, Alleviate and undo, exports, backup and restore', { skip: why, timeout: 900000 }, async () => {
  const { photos, extra } = pickPhotos();
  const profile = profileDir(), profile2 = profileDir();
  const csvPath = join(profile2, '..', `robot-points-${process.pid}.csv`);
  // Photos 0..21 fully labelled (point k of photo i gets CODES[(i + k) % 3]); 22 and 23 not.
  const truth = new Map();
  const rows = ['Name,Row,Column,Label code'];
  photos.forEach((p, i) => {
    const name = basename(p.path);
    const pts = OFFSETS.map(([dr, dc], k) => ({ row: p.row + dr, col: p.col + dc, label: i < 22 ? CODES[(i + k) % 3] : '' }));
    truth.set(name, pts);
    for (const q of pts) rows.push(`${name},${q.row},${q.col},${q.label}`);
  });
  writeFileSync(csvPath, rows.join('\n') + '\n');
  const app = await launch({ profile });
  const { page } = app;
  let app2 = null;
  try {
    await openApp(page, app.server.url);
    await page.getByLabel('Project name').fill('Robot flow');
    await page.getByRole('button', { name: 'New project' }).click();
    await page.getByRole('button', { name: 'Use test network' }).click();
    await until(page, async () => {
      const ps = await window.polypApp.store.listProjects();
      return ps.length === 1 && !!ps[0].extractor;
    });
    const pid = await page.evaluate(async () => (await window.polypApp.store.listProjects())[0].id);
    await page.goto(`${app.server.url}/#/p/${pid}`);
    await page.getByLabel('Add photos').setInputFiles(photos.map((p) => p.path));
    await queueIdle(page);
    await page.getByLabel('Import points CSV').setInputFiles(csvPath);

    // The schedule trains by itself once 20 annotated photos have features.
    await until(page, async (id) => (await window.polypApp.store.listClassifiers(id)).length >= 1, pid, 600000);
    await queueIdle(page);
    const first = await page.evaluate(async (id) => {
      const [c] = await window.polypApp.store.listClassifiers(id);
      const p = await window.polypApp.store.getProject(id);
      return { accepted: c.accepted, trigger: c.trigger, n: c.nAnnotatedImages, val: c.valAccuracy, reason: c.reason, active: p.classifierId === c.id, last: p.lastTrainedCount };
    }, pid);
    assert.deepEqual([first.accepted, first.trigger, first.reason, first.active], [true, 'schedule', 'first classifier', true]);
    assert.ok(first.n >= 20 && first.n <= 22, `trained on ${first.n} annotated photos`);
    assert.equal(first.last, first.n);

    // The machine's suggestions, recomputed here from the stored features with the library.
    const state = () => page.evaluate(async (id) => {
      const { store, getPolyp } = window.polypApp;
      const project = await store.getProject(id);
      const rec = await store.getClassifier(project.classifierId);
      const polyp = await getPolyp();
      const clf = await polyp.loadClassifier(rec.bytes);
      const photos = (await store.listPhotos(id)).sort((a, b) => a.added - b.added || a.name.localeCompare(b.name));
      const out = [];
      for (const ph of photos) {
        const ann = await store.getAnnotations(ph.id);
        const f = await store.getFeatures(ph.id, project.extractor.sha256);
        const probs = f ? Array.from(await clf.predict(f.feat)) : null;
        out.push({ id: ph.id, name: ph.name, hash: ph.hash, points: ann.points, probs });
      }
      const labels = clf.labels;
      await clf.dispose();
      return { labels, photos: out, project };
    }, pid);
    let s = await state();
    const L = s.labels, K = L.length;
    const topOf = (probs, i) => L.map((_, j) => j).sort((a, b) => probs[i * K + b] - probs[i * K + a]);
    const machine = [];
    for (const ph of s.photos) {
      ph.points.forEach((p, i) => {
        if (p.state === 'confirmed') return;
        const o = topOf(ph.probs, i);
        assert.equal(p.state, 'unconfirmed', `${ph.name} point ${i}`);
        assert.equal(p.label, L[o[0]]);
        assert.deepEqual(p.suggestions.map((x) => x[0]), o.slice(0, 5).map((j) => L[j]));
        machine.push({ photo: ph.name, index: i, code: L[o[0]], score: ph.probs[i * K + o[0]] });
      });
    }
    assert.equal(machine.length, 12, 'the two unlabelled photos got suggestions');

    // Review: every machine point as CODE [NN%], NN floored.
    await page.goto(`${app.server.url}/#/p/${pid}/review`);
    await page.getByRole('grid', { name: 'Machine points' }).waitFor();
    for (const m of machine) {
      const want = `${m.photo} point ${m.index + 1}: ${m.code} [${Math.floor(100 * m.score)}%]`;
      await page.getByRole('button', { name: want, exact: true }).waitFor({ timeout: 10000 });
    }
    await page.waitForFunction(() => [...document.querySelectorAll('.patch canvas')].every((c) => c.getContext('2d').getImageData(112, 112, 1, 1).data[3] === 255), null, { timeout: 60000 });
    await screenshot(page, 'robot-review');
    await axeCheck(page, 'Review');

    // "Train now": same photos, same seed, so the same accuracy: the rule (>= 1.01x) decides.
    await page.goto(`${app.server.url}/#/p/${pid}/classifier`);
    await page.getByRole('button', { name: 'Train now' }).click();
    await until(page, async (id) => (await window.polypApp.store.listClassifiers(id)).length === 2, pid, 300000);
    await queueIdle(page);
    const second = await page.evaluate(async (id) => (await window.polypApp.store.listClassifiers(id)).find((c) => c.trigger === 'manual'), pid);
    assert.ok(second.previousAccuracy !== null);
    assert.equal(second.accepted, second.valAccuracy >= 1.01 * second.previousAccuracy, second.reason);
    await page.getByRole('table', { name: 'Trainings' }).getByText(second.accepted ? 'Accepted (active)' : 'Not accepted').waitFor();
    s = await state();
    const active = await page.evaluate(async (id) => {
      const p = await window.polypApp.store.getProject(id);
      return (await window.polypApp.store.getClassifier(p.classifierId)).valAccuracy;
    }, pid);
    await page.getByLabel('Validation accuracy').getByText(`${(100 * active).toFixed(1)}%`).waitFor();
    await screenshot(page, 'robot-classifier');
    await axeCheck(page, 'Classifier');

    // Alleviate at the median machine confidence: counted here with the curve's rule.
    const machineNow = [];
    for (const ph of s.photos) ph.points.forEach((p, i) => { if (p.state === 'unconfirmed') machineNow.push({ id: ph.id, i, score: p.suggestions[0][1], code: p.suggestions[0][0] }); });
    const pcts = machineNow.map((m) => Math.floor(100 * m.score + 0.5)).sort((a, b) => a - b);
    const T = pcts[Math.floor(pcts.length / 2)];
    const passing = machineNow.filter((m) => Math.floor(100 * m.score + 0.5) >= T);
    assert.ok(passing.length > 0 && passing.length <= machineNow.length);
    await page.getByLabel('Threshold value (%)').fill(String(T));
    await page.getByRole('button', { name: 'Apply Alleviate' }).click();
    const share = Math.round((100 * passing.length) / machineNow.length);
    const said = `Alleviate accepted ${passing.length} of ${machineNow.length} points (${share}%) at ${T}%`;
    await page.getByRole('status', { name: 'Classifier status' }).getByText(said, { exact: true }).waitFor();
    const after = await page.evaluate(async (id) => Object.fromEntries((await window.polypApp.store.listAnnotations(id)).map((a) => [a.photoId, a.points])), pid);
    for (const m of passing) assert.deepEqual([after[m.id][m.i].state, after[m.id][m.i].label], ['confirmed', m.code]);
    for (const m of machineNow.filter((x) => !passing.includes(x))) assert.equal(after[m.id][m.i].state, 'unconfirmed');
    await screenshot(page, 'robot-alleviate');
    await page.getByRole('button', { name: 'Undo Alleviate' }).click();
    await page.getByRole('status', { name: 'Classifier status' })
      .getByText(`Undid Alleviate at ${T}%: ${passing.length} points back to unconfirmed`, { exact: true }).waitFor();
    const undone = await page.evaluate(async (id) => Object.fromEntries((await window.polypApp.store.listAnnotations(id)).map((a) => [a.photoId, a.points])), pid);
    for (const ph of s.photos) assert.deepEqual(undone[ph.id], ph.points, `${ph.name} back as before Alleviate`);

    // Export annotations with every option, field by field.
    await page.goto(`${app.server.url}/#/p/${pid}/export`);
    await page.getByRole('checkbox', { name: 'Machine suggestions and confidences' }).check();
    await page.getByRole('checkbox', { name: 'Include unannotated points' }).check();
    await page.getByRole('checkbox', { name: 'Point number column' }).check();
    const [dl] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export annotations' }).click()]);
    const csv = readFileSync(await dl.path(), 'utf8');
    const lines = csv.split('\r\n').filter(Boolean).map((l) => l.split(','));
    assert.deepEqual(lines[0], ['Name', 'Row', 'Column', 'Label code',
      ...[1, 2, 3, 4, 5].flatMap((n) => [`Machine suggestion ${n}`, `Machine confidence ${n}`]), 'Point number']);
    let at = 1;
    for (const ph of s.photos) {
      ph.points.forEach((p, i) => {
        const f = lines[at++];
        assert.deepEqual(f.slice(0, 4), [ph.name, String(p.row), String(p.col), p.state === 'confirmed' ? p.label : ''], `${ph.name} point ${i}`);
        const o = topOf(ph.probs, i);
        for (let n = 0; n < 5; n++) {
          const want = n < K ? [L[o[n]], String(Math.floor(100 * ph.probs[i * K + o[n]] + 0.5))] : ['', ''];
          assert.deepEqual(f.slice(4 + 2 * n, 6 + 2 * n), want, `${ph.name} point ${i} suggestion ${n + 1}`);
        }
        assert.equal(f.at(-1), String(i + 1));
        const t = truth.get(ph.name)[i];
        assert.deepEqual([p.row, p.col], [t.row, t.col]);
        if (t.label) assert.equal(p.label, t.label);
      });
    }
    assert.equal(at, lines.length);
    await page.getByRole('status', { name: 'Export status' }).getByText(/^Exported 144 points to annotations\.csv/).waitFor();
    await page.getByRole('status', { name: 'Changed since last export' }).getByText('0 points changed since the last export.').waitFor();

    const [dl2] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export percent cover' }).click()]);
    const cover = readFileSync(await dl2.path(), 'utf8').split('\r\n').filter(Boolean).map((l) => l.split(','));
    const codes = s.project.labelset.map((l) => l.code);
    assert.deepEqual(cover[0], ['Image ID', 'Image name', 'Annotation status', 'Points', ...codes]);
    const ph0 = s.photos[0];
    assert.deepEqual(cover[1].slice(1, 4), [ph0.name, 'Confirmed', '6']);
    assert.deepEqual(cover[1].slice(4), codes.map((c) => (100 * ph0.points.filter((p) => p.label === c).length / 6).toFixed(3)));
    assert.equal(cover.at(-1)[0], 'ALL IMAGES');
    // Features as pyspacer files, read back with numpy, each with the extractor record the
    // native `polyp extract` writes for the test network: worked out here from the network
    // built in node (its sha256; an EfficientNet-B0, 1280-d, CoralNet's lukemelas layout).
    // The model file as stored.
    const exportFeatures = async (message) => {
      const [dl] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export features' }).click()]);
      await page.getByRole('status', { name: 'Export status' }).getByText(message).waitFor();
      const py = spawnSync('/usr/bin/python3', ['-c', `
import sys, io, zipfile, numpy as np, json
z = zipfile.ZipFile(sys.argv[1]); out = {}
for n in z.namelist():
    f = np.load(io.BytesIO(z.read(n)))
    out[n] = [f['meta'].tolist(), f['rows'].tolist(), f['cols'].tolist(), float(f['feat'].sum()), list(f['feat'].shape),
              str(f['extractor']) if 'extractor' in f.files else None]
print(json.dumps(out))`, await dl.path()], { encoding: 'utf8' });
      assert.equal(py.status, 0, py.stderr);
      return JSON.parse(py.stdout);
    };
    const npz = await exportFeatures(/^Exported 24 feature files\.$/);
    const node = await createPolyp({ threads: 1, log: null });
    const testnet = await node.buildTestnet(20261128n, readFileSync(join(ROOT, 'models/testnet-bnstats.safetensors')));
    node.terminate();
    const record = `efficientnet_b0:${createHash('sha256').update(testnet).digest('hex')}:1280 variant=lukemelas`;
    assert.equal(Object.keys(npz).length, 24);
    const sums = await page.evaluate(async (id) => {
      const { store } = window.polypApp;
      const p = await store.getProject(id);
      const out = {};
      for (const ph of await store.listPhotos(id)) out[ph.name] = Array.from((await store.getFeatures(ph.id, p.extractor.sha256)).feat).reduce((a, b) => a + b, 0);
      return out;
    }, pid);
    for (const ph of s.photos) {
      const [meta, r, c, sum, shape, extractor] = npz[`${ph.name}.featurevector`];
      assert.deepEqual(meta, [1, 6, 1280]);
      assert.equal(extractor, record, `${ph.name} extractor record`);
      assert.deepEqual([r, c], [ph.points.map((q) => q.row), ph.points.map((q) => q.col)]);
      assert.deepEqual(shape, [6, 1280]);
      assert.ok(Math.abs(sum - sums[ph.name]) < 1e-3 * (1 + Math.abs(sum)), `${ph.name} features`);
    }
    // Weights stored by an older version have no record in the store: after a reload this
    // browser cannot know it, so the files go without one and the message says so; loading
    // the extractor again (Settings), as the message advises, records it.
    const weightsRecord = (pg, id) => pg.evaluate(async (pid1) => {
      const { store } = window.polypApp;
      return (await store.getWeights((await store.getProject(pid1)).extractor.sha256)).record ?? null;
    }, id);
    const dropWeightsRecord = (pg, id) => pg.evaluate(async (pid1) => {
      const { store } = window.polypApp;
      const { record: _, ...w } = await store.getWeights((await store.getProject(pid1)).extractor.sha256);
      await store.putWeights(w);
    }, id);
    assert.equal(await weightsRecord(page, pid), record);
    await dropWeightsRecord(page, pid);
    await page.reload();
    await openApp(page, app.server.url, `/p/${pid}/export`);
    const bare = await exportFeatures(/^Exported 24 feature files; 24 files without the extractor record \(.*load the extractor again in Settings/);
    assert.deepEqual(Object.values(bare).map((f) => f[5]), Array(24).fill(null));
    await page.goto(`${app.server.url}/#/p/${pid}/settings`);
    await page.getByRole('button', { name: 'Use test network' }).click();
    await until(page, async (id) => {
      const { store } = window.polypApp;
      return !!(await store.getWeights((await store.getProject(id)).extractor.sha256)).record;
    }, pid);
    await queueIdle(page);
    await page.goto(`${app.server.url}/#/p/${pid}/export`);
    const again = await exportFeatures(/^Exported 24 feature files\.$/);
    assert.deepEqual(Object.values(again).map((f) => f[5]), Array(24).fill(record));
    const [dl5] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export model' }).click()]);
    const model = readFileSync(await dl5.path());
    const stored = await page.evaluate(async (id) => {
      const { store } = window.polypApp;
      const c = await store.getClassifier((await store.getProject(id)).classifierId);
      return { bytes: Array.from(c.bytes), extractorId: c.extractorId };
    }, pid);
    assert.deepEqual([...model], stored.bytes);
    // Bound as `polyp train` binds its models: to the full extractor id of the test network
    // (the record above up to its first space), as Python reads the file's metadata.
    const fullId = record.split(' ')[0];
    const meta = spawnSync('/usr/bin/python3', ['-c', `
import json, struct, sys
b = open(sys.argv[1], 'rb').read()
print(json.loads(b[8:8 + struct.unpack('<Q', b[:8])[0]])['__metadata__']['extractor'])`, await dl5.path()], { encoding: 'utf8' });
    assert.equal(meta.status, 0, meta.stderr);
    assert.deepEqual([meta.stdout.trim(), stored.extractorId], [fullId, fullId]);
    await page.getByRole('status', { name: 'Export status' }).getByText(`bound to extractor ${fullId};`, { exact: false }).waitFor();
    await screenshot(page, 'robot-export');
    await axeCheck(page, 'Export');
    await page.goto(`${app.server.url}/#/p/${pid}/stats`);
    await page.getByRole('table', { name: 'Percent cover, all photos' }).waitFor();
    await screenshot(page, 'robot-stats');
    await axeCheck(page, 'Statistics');

    // Back up, then restore in a fresh profile.
    await page.goto(`${app.server.url}/#/p/${pid}/export`);
    const [dl3] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Back up project' }).click()]);
    const backupPath = join(profile2, '..', `robot-backup-${process.pid}.zip`);
    await dl3.saveAs(backupPath);
    const dump = (id) => page2.evaluate(async (pid2) => {
      const { store } = window.polypApp;
      const p = await store.getProject(pid2);
      const photos = (await store.listPhotos(pid2)).sort((a, b) => a.added - b.added || a.name.localeCompare(b.name));
      const out = { name: p.name, labelset: p.labelset, extractor: p.extractor, lastTrainedCount: p.lastTrainedCount, photos: [] };
      for (const ph of photos) {
        const blob = await store.getPhotoBlob(ph);
        const f = await store.getFeatures(ph.id, p.extractor.sha256);
        const sum = f ? Array.from(f.feat).reduce((a, b) => a + b, 0) : null;
        out.photos.push({ name: ph.name, hash: ph.hash, size: blob.size, width: ph.width, points: (await store.getAnnotations(ph.id)).points,
          featLen: f ? f.feat.length : 0, featSum: sum, featHead: f ? Array.from(f.feat.subarray(0, 8)) : null });
      }
      const cs = (await store.listClassifiers(pid2)).sort((a, b) => a.trainedAt - b.trainedAt);
      out.classifiers = cs.map((c) => ({ accepted: c.accepted, valAccuracy: c.valAccuracy, bytes: Array.from(c.bytes).reduce((a, b) => (a * 31 + b) % 1000000007, 0), n: c.bytes.length }));
      out.activeIsSame = !!p.classifierId && cs.findIndex((c) => c.id === p.classifierId);
      return out;
    }, id);
    let page2 = page;
    const before = await dump(pid);
    await app.close({ keepServer: true });

    app2 = await launch({ profile: profile2, server: app.server });
    page2 = app2.page;
    await openApp(page2, app.server.url);
    await page2.getByRole('link', { name: 'Restore project' }).click();
    await page2.getByLabel('Restore project').setInputFiles(backupPath);
    await page2.getByRole('status').getByText(/^Restored "Robot flow": 24 photos, 144 points/).waitFor({ timeout: 120000 });
    const pid2 = await page2.evaluate(async () => (await window.polypApp.store.listProjects())[0].id);
    const restored = await dump(pid2);
    assert.deepEqual(restored, before);
    // The backup carries the weights' extractor record: the restored project's feature files
    // are recorded without loading the weights first.
    assert.equal(await weightsRecord(page2, pid2), record);
    // The restored project works: its classifier scores the restored features.
    await page2.goto(`${app.server.url}/#/p/${pid2}/classifier`);
    await page2.getByLabel('Validation accuracy').getByText(`${(100 * active).toFixed(1)}%`).waitFor();
    await page2.goto(`${app.server.url}/#/p/${pid2}/review`);
    await page2.getByRole('button', { name: `${machine[0].photo} point ${machine[0].index + 1}: ${machine[0].code} [${Math.floor(100 * machine[0].score)}%]`, exact: true }).waitFor();
    await screenshot(page2, 'robot-restored-review');
    // A photo added to the restored project is extracted there (the test network rebuilt) and
    // gets the active classifier's suggestions as soon as its features exist. Its weights
    // record is made an older version's first (no extractor record): loading the weights for
    // the extraction records it again.
    await dropWeightsRecord(page2, pid2);
    assert.equal(await weightsRecord(page2, pid2), null);
    const extraCsv = join(profile2, '..', `robot-extra-${process.pid}.csv`);
    writeFileSync(extraCsv, ['Name,Row,Column', ...OFFSETS.map(([dr, dc]) => `${basename(extra.path)},${extra.row + dr},${extra.col + dc}`)].join('\n') + '\n');
    await page2.goto(`${app.server.url}/#/p/${pid2}`);
    await page2.getByLabel('Add photos').setInputFiles(extra.path);
    await queueIdle(page2);
    await page2.getByLabel('Import points CSV').setInputFiles(extraCsv);
    const extraPoints = await until(page2, async ([id, name]) => {
      const ph = (await window.polypApp.store.listPhotos(id)).find((p) => p.name === name);
      const a = ph && await window.polypApp.store.getAnnotations(ph.id);
      return a && a.points.length === 6 && a.points.every((p) => p.state === 'unconfirmed' && p.suggestions && p.suggestions.length) && a.points;
    }, [pid2, basename(extra.path)], 240000).catch(async (e) => {
      const why = await page2.evaluate(async ([id, name]) => {
        const { store, queue } = window.polypApp;
        const ph = (await store.listPhotos(id)).find((p) => p.name === name);
        const p = await store.getProject(id);
        const a = ph && await store.getAnnotations(ph.id);
        const f = ph && await store.getFeatures(ph.id, p.extractor.sha256);
        return JSON.stringify({ photo: !!ph, points: a && a.points, features: !!f, lastError: queue.lastError, jobs: queue.jobs.length, clf: p.classifierId });
      }, [pid2, basename(extra.path)]);
      throw new Error(`${e.message}: ${why} ${page2.url()} ${app2.errors.join(' | ')}`);
    });
    cleanup(extraCsv);
    await queueIdle(page2);
    assert.equal(await weightsRecord(page2, pid2), record);
    await page2.goto(`${app.server.url}/#/p/${pid2}/review`);
    await page2.getByRole('button', { name: `${basename(extra.path)} point 1: ${extraPoints[0].label} [${Math.floor(100 * extraPoints[0].suggestions[0][1])}%]`, exact: true }).waitFor();

    // Keyboard on the grid: Space selects the focused patch, Enter confirms the selection.
    const grid = page2.getByRole('grid', { name: 'Machine points' });
    await grid.getByRole('button').first().focus();
    await page2.keyboard.press('Space');
    await grid.getByRole('button', { pressed: true }).waitFor();
    await page2.keyboard.press('Enter');
    await page2.getByRole('status', { name: 'Review status' }).getByText('Confirmed 1 point.', { exact: true }).waitFor();
    const confirmedNow = await page2.evaluate(async (id) => (await window.polypApp.store.listAnnotations(id))
      .reduce((n, a) => n + a.points.filter((p) => p.state === 'confirmed').length, 0), pid2);
    assert.equal(confirmedNow, 22 * 6 + 1);
    await page2.goto(`${app.server.url}/#/restore`);
    await page2.getByLabel('Restore project').waitFor();
    await axeCheck(page2, 'Restore');

    await app2.close({ keepServer: true });

    // Touch, on a tablet-sized viewport: tap two patches, then "Relabel selected".
    const seen = [app, app2];
    const app3 = await launch({ profile: profile2, server: app.server, viewport: { width: 820, height: 1180 }, hasTouch: true, isMobile: true });
    app2 = app3;
    seen.push(app3);
    const page3 = app3.page;
    await openApp(page3, app.server.url, `/p/${pid2}/review`);
    const cells = page3.getByRole('grid', { name: 'Machine points' }).getByRole('button');
    await cells.nth(0).tap();
    await cells.nth(1).tap();
    await page3.getByLabel('Relabel as').selectOption('SU_sand');
    await page3.getByRole('button', { name: 'Relabel selected' }).tap();
    await page3.getByRole('status', { name: 'Review status' }).getByText('Relabelled 2 points as SU_sand.', { exact: true }).waitFor();
    await screenshot(page3, 'robot-review-tablet');

    for (const a of seen) {
      for (const r of a.requests) {
        assert.ok(r.url.startsWith(app.server.url) || r.url.startsWith('blob:') || r.url.startsWith('data:'), `request off the origin: ${r.url}`);
      }
      assert.deepEqual(a.errors, []);
    }
    assert.ok(seen.every((a) => a.requests.length > 0));
  } finally {
    if (app2) await app2.close({ keepServer: true });
    await app.close();
    cleanup(profile);
    cleanup(profile2);
    cleanup(csvPath);
  }
});
