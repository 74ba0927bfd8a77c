// flow.test.mjs - the app as a person uses it, in real Chromium, on real photos read in place
// from ../shared/testdata: create a project with a typed labelset, add a 12 MP JPEG, a 27 MP
// JPEG, the truncated JPEG and a PNG, generate points, use the test network, let extraction
// run, annotate by keyboard alone (codes in any case, Enter, Tab, ".", 1-5, undo/redo, g n),
// reload mid-annotation, kill the browser process mid-annotation and relaunch on the same
// profile: every confirmed label is there. The stored features equal the library's for the
// same photo and points (node, same module family); no request leaves the origin or carries a
// body; axe finds no serious/critical violation on any page; screenshots of every page.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  skip, haveTestdata, launch, openApp, profileDir, screenshot, cleanup, queueIdle, testPhoto,
  browserPids, axeViolations, privacyProblems, readProject, addLabels, ROOT,
} from './harness.mjs';
import { serve } from '../../web/serve.mjs';
import { createPolyp } from '../../wasm/polyp.js';

const PHOTOS = {
  jpeg12: 'mermaid-sample/mermaid_3805.JPG',                          // 4000 x 3000
  jpeg27: 'unlabeled-real-images/seattle_rov_2024_10_08_10-37-22.JPG', // 5568 x 4872
  truncated: 'unlabeled-real-images/coralnet_p82pkvoqn3.JPG',
  png: 'unlabeled-real-images/benthoz_PR_20081006_232302_383_LC16.png',
};
const LABELS = [['CCA', 'Crustose coralline algae', 'Algae'], ['Sand', 'Sand', 'Substrate'], ['Porit', 'Porites', 'Hard coral'], ['Turf', 'Turf algae', 'Algae']];
const why = skip || (!haveTestdata && 'needs ../shared/testdata');

let server, profile, s, projectId;
const requests = [];   // every request of the whole visit, over relaunches
const errors = [];
const expected = new Map();   // photo name -> Map(point index -> label)
const axe = {};

async function relaunch() {
  s = await launch({ profile, server, requests, errors });
  await openApp(s.page, server.url, `/p/${projectId}`);
}

async function gotoAnnotate(name) {
  const { page } = s;
  await page.goto(`${server.url}/#/p/${projectId}`);
  const link = page.getByRole('link', { name, exact: true });
  await link.focus();
  await page.keyboard.press('Enter');
  await page.waitForSelector('.viewport[aria-busy="false"]', { timeout: 60000 });
  await page.waitForFunction(() => document.activeElement && document.activeElement.classList.contains('code'));
}

/** Opens a photo in the annotation tool; returns the map of labels the test expects there. */
async function startPhoto(name) {
  await gotoAnnotate(name);
  const exp = new Map();
  expected.set(name, exp);
  return exp;
}

/** The label the store holds per point of a photo. */
async function storedLabels(name) {
  const st = await readProject(s.page, projectId);
  return st.photos[name].points.map((p) => [p.label, p.state]);
}

function assertExpected(state, name) {
  const pts = state.photos[name].points;
  for (const [i, label] of expected.get(name) || []) {
    assert.equal(pts[i].label, label, `${name} point ${i + 1}`);
    assert.equal(pts[i].state, 'confirmed', `${name} point ${i + 1} state`);
  }
}

test.before(async () => {
  if (why) return;
  server = await serve();
  profile = profileDir();
  s = await launch({ profile, server, requests, errors });
});

test.after(async () => {
  if (s) await s.close({ keepServer: true });
  if (server) await server.close();
  if (profile) cleanup(profile);
});

test('create a project, type a labelset, choose the point method, use the test network', { skip: why }, async () => {
  const { page } = s;
  await openApp(page, server.url);
  axe.projects = await axeViolations(page);
  await screenshot(page, '01-projects');
  await page.getByLabel('Project name').fill('Reef survey');
  await page.getByRole('button', { name: 'New project' }).click();
  await page.getByRole('heading', { name: 'Project settings' }).waitFor();
  projectId = decodeURIComponent(page.url().split('#/p/')[1].split('/')[0]);
  await addLabels(page, LABELS);
  // Simple random, 12 points (fewer than CoralNet's 30 keeps the test on 2 cores short).
  await page.getByLabel('Number of points').fill('12');
  await page.getByLabel('Number of points').press('Tab');
  await page.getByRole('button', { name: 'Use test network' }).click();
  await page.getByText(/Extractor .* loaded/).waitFor({ timeout: 60000 });
  await page.getByText('untrained: suggestions are meaningless').first().waitFor();
  axe.settings = await axeViolations(page);
  await screenshot(page, '02-settings');
  const st = await readProject(page, projectId);
  assert.deepEqual(st.project.labelset.map((l) => [l.code, l.name, l.group]), LABELS);
  assert.equal(st.project.pointMethod.n, 12);
  assert.equal(st.project.extractor.testnet, true);
  assert.match(st.project.extractor.sha256, /^[0-9a-f]{64}$/);
});

test('add photos (12 MP, 27 MP, truncated JPEG, PNG), generate points, extraction runs', { skip: why }, async () => {
  const { page } = s;
  await page.getByRole('link', { name: 'Photos' }).click();
  await page.getByLabel('Add photos').setInputFiles(Object.values(PHOTOS).map(testPhoto));
  await page.getByText(/4 photos added/).waitFor({ timeout: 120000 });
  await page.getByText(/1 truncated/).waitFor();
  // Adding the same file again is refused as a duplicate, said in words.
  await page.getByLabel('Add photos').setInputFiles([testPhoto(PHOTOS.png)]);
  await page.getByText(/0 photos added, 1 already in the project/).waitFor({ timeout: 60000 });
  await page.getByRole('button', { name: 'Generate points' }).click();
  await page.getByText(/Points generated on 4 photos \(48 points\)/).waitFor({ timeout: 60000 });
  // Reload while extraction runs: the persisted queue resumes. Pause stops the running job
  // (it runs again from its start on Resume).
  await page.reload();
  await openApp(page, server.url, `/p/${projectId}`);
  const waiting = await page.evaluate(() => window.polypApp.queue.jobs.filter((j) => j.kind === 'extract').length);
  assert.ok(waiting >= 1, `extraction jobs resumed after the reload (${waiting})`);
  const queue = page.getByRole('region', { name: 'Queue' });
  await queue.getByRole('button', { name: 'Pause' }).click();
  await queue.getByText('Queue paused').waitFor();
  const paused = await page.evaluate(() => window.polypApp.queue.jobs.length);
  await page.waitForTimeout(1500);
  assert.equal(await page.evaluate(() => window.polypApp.queue.jobs.length), paused, 'nothing ran while paused');
  await queue.getByRole('button', { name: 'Resume' }).click();
  await queueIdle(page);
  await page.getByText('4 photos: 4 Unclassified').waitFor();
  await page.waitForFunction(() => [...document.querySelectorAll('table.photos tbody tr td:nth-child(5)')].every((td) => td.textContent === 'extracted'), null, { timeout: 30000 });
  axe.photos = await axeViolations(page);
  await screenshot(page, '03-photos');
  const st = await readProject(page, projectId);
  const sizes = Object.fromEntries(Object.entries(st.photos).map(([n, v]) => [n, [v.photo.width, v.photo.height, v.photo.truncated, v.points.length]]));
  assert.deepEqual(sizes['mermaid_3805.JPG'], [4000, 3000, false, 12]);
  assert.deepEqual(sizes['seattle_rov_2024_10_08_10-37-22.JPG'], [5568, 4872, false, 12]);
  assert.equal(sizes['coralnet_p82pkvoqn3.JPG'][2], true);
  for (const v of Object.values(st.photos)) {
    for (const p of v.points) assert.ok(p.row < v.photo.height && p.col < v.photo.width && p.label === null && p.state === 'unannotated');
  }
});

test('the stored features equal the library\'s for the same photo and points', { skip: why }, async () => {
  const { page } = s;
  const got = await page.evaluate(async (pid) => {
    const { store } = window.polypApp;
    const p = await store.getProject(pid);
    const out = {};
    for (const ph of await store.listPhotos(pid)) {
      const f = await store.getFeatures(ph.id, p.extractor.sha256);
      out[ph.name] = { rows: [...f.rows], cols: [...f.cols], feat: [...f.feat], sha: p.extractor.sha256 };
    }
    return out;
  }, projectId);
  const polyp = await createPolyp({ threads: 2, log: null });
  try {
    const w = await polyp.loadWeights(await polyp.buildTestnet(20261128n, readFileSync(join(ROOT, 'models/testnet-bnstats.safetensors'))));
    for (const [key, rel] of Object.entries(PHOTOS)) {
      const name = rel.split('/').pop();
      const g = got[name];
      assert.equal(g.sha, w.sha256, 'the app used the same test network');
      const pts = g.rows.map((r, i) => [r, g.cols[i]]);
      const ref = await polyp.extract(readFileSync(testPhoto(rel)), pts);
      assert.equal(g.feat.length, ref.features.length, key);
      let d = 0;
      for (let i = 0; i < ref.features.length; i++) d = Math.max(d, Math.abs(ref.features[i] - g.feat[i]));
      assert.ok(d <= 1e-5, `${key}: features differ from the library's by ${d}`);
    }
  } finally {
    polyp.terminate();
  }
});

test('annotate by keyboard alone: codes in any case, Enter, Tab, ".", suggestions 1-5, undo/redo, g n', { skip: why }, async () => {
  const { page } = s;
  const name = 'mermaid_3805.JPG';
  const exp = await startPhoto(name);
  // Point 1 is selected on opening (the first unannotated). Codes match case-insensitively.
  await page.keyboard.type('cca'); await page.keyboard.press('Enter'); exp.set(0, 'CCA');
  await page.keyboard.type('SAND'); await page.keyboard.press('Enter'); exp.set(1, 'Sand');
  // Tab skips point 3; Shift+Tab comes back to it.
  await page.keyboard.press('Tab');
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.type('porit'); await page.keyboard.press('Enter'); exp.set(2, 'Porit');
  // An unknown code is refused with a reason, nothing changes.
  await page.keyboard.type('xyz'); await page.keyboard.press('Enter');
  await page.getByText('No label with code "xyz"').waitFor();
  await page.keyboard.press('Control+a'); await page.keyboard.press('Backspace');
  await page.keyboard.type('Turf'); await page.keyboard.press('Enter'); exp.set(3, 'Turf');
  await page.waitForFunction(() => document.querySelector('[aria-label="Photo status"]'));
  let labels = await storedLabels(name);
  assert.deepEqual(labels.slice(0, 5), [['CCA', 'confirmed'], ['Sand', 'confirmed'], ['Porit', 'confirmed'], ['Turf', 'confirmed'], [null, 'unannotated']]);

  // Undo the last label, redo it.
  await page.keyboard.press('Control+z');
  await page.getByText('Undone: Turf on point 4.').waitFor();
  assert.deepEqual((await storedLabels(name))[3], [null, 'unannotated']);
  await page.keyboard.press('Control+Shift+Z');
  await page.getByText('Redone: Turf on point 4.').waitFor();
  assert.deepEqual((await storedLabels(name))[3], ['Turf', 'confirmed']);

  // Machine suggestions as CoralNet shows them (values set here, by hand, on points 6 and 7):
  // "1".."5" take suggestion N; Enter on an empty field takes the top one.
  await page.evaluate(async ({ pid, n }) => {
    const { store } = window.polypApp;
    const ph = (await store.listPhotos(pid)).find((p) => p.name === n);
    const a = await store.getAnnotations(ph.id);
    const pts = a.points.map((p, i) => (i === 5 ? { ...p, label: 'Sand', state: 'unconfirmed', suggestions: [['Sand', 0.6], ['CCA', 0.25], ['Turf', 0.1], ['Porit', 0.05]] }
      : i === 6 ? { ...p, label: 'CCA', state: 'unconfirmed', suggestions: [['CCA', 0.5], ['Sand', 0.3], ['Porit', 0.2]] } : p));
    await store.changePoints(pid, 'suggestions (test)', [{ photoId: ph.id, points: pts }], { undoable: false });
  }, { pid: projectId, n: name });
  // Point 5 is selected now (next unannotated after 4). Escape leaves the field; "." selects
  // the first unannotated point (5) again; Tab (in the field) moves to 6.
  await page.keyboard.press('Escape');
  await page.keyboard.press('.');
  await page.getByRole('button', { name: 'Point 5: —', pressed: true }).waitFor();
  await page.getByLabel('Label code', { exact: true }).focus();
  await page.keyboard.press('Tab');
  await page.getByRole('button', { name: 'Suggestion 1: Sand [60%]' }).waitFor();
  await page.getByRole('button', { name: 'Suggestion 2: CCA [25%]' }).waitFor();
  await page.getByRole('button', { name: 'Suggestion 4: Porit [5%]' }).waitFor();
  axe.annotate = await axeViolations(page);
  await screenshot(page, '04-annotate');
  await page.keyboard.press('Escape');
  await page.keyboard.press('2');            // CCA on point 6
  exp.set(5, 'CCA');
  await page.getByText('Point 6: CCA (suggestion 2).').waitFor();
  // Selection moved to point 5 (first unannotated after 6 wraps? no: 8 is next) - go to 7.
  await page.getByLabel('Label code', { exact: true }).focus();
  await page.keyboard.press('Shift+Tab');    // from 8 to 7
  await page.getByRole('button', { name: 'Suggestion 1: CCA [50%]' }).waitFor();
  await page.keyboard.press('Enter');        // empty field: the top suggestion
  exp.set(6, 'CCA');
  await page.getByText('Point 7: CCA (top suggestion).').waitFor();
  labels = await storedLabels(name);
  assert.deepEqual(labels[5], ['CCA', 'confirmed']);
  assert.deepEqual(labels[6], ['CCA', 'confirmed']);
  assert.deepEqual(labels[4], [null, 'unannotated']);

  // The help overlay opens with "?" and closes with Escape.
  await page.keyboard.press('Escape');
  await page.keyboard.press('?');
  await page.getByRole('dialog', { name: 'Keyboard shortcuts' }).waitFor();
  await screenshot(page, '05-help');
  axe.help = await axeViolations(page);
  await page.keyboard.press('Escape');
  await page.getByRole('dialog').waitFor({ state: 'detached' });

  // Zoom keys change the view.
  const before = await page.evaluate(() => window.polypViewer.scale);
  await page.keyboard.press('Shift+ArrowUp');
  await page.keyboard.press('Shift+ArrowUp');
  await page.waitForFunction((b) => window.polypViewer.scale > b * 2, before);
  await page.keyboard.press('Shift+ArrowDown');

  // "g n": the next photo, in name order.
  const order = (await page.evaluate(async (pid) => (await window.polypApp.store.listPhotos(pid)).map((p) => p.name), projectId)).sort();
  await page.keyboard.press('g');
  await page.keyboard.press('n');
  const next = order[order.indexOf(name) + 1];
  await page.getByRole('heading', { name: next }).waitFor();
  await page.waitForSelector('.viewport[aria-busy="false"]', { timeout: 60000 });
  // A new photo puts the focus in the label field (type at once); Escape leaves it for "g p".
  await page.waitForFunction(() => document.activeElement && document.activeElement.classList.contains('code'));
  await page.keyboard.press('Escape');
  await page.keyboard.press('g');
  await page.keyboard.press('p');
  await page.getByRole('heading', { name }).waitFor();
});

test('reload mid-annotation: every confirmed label is there', { skip: why }, async () => {
  const { page } = s;
  const name = 'benthoz_PR_20081006_232302_383_LC16.png';
  const exp = await startPhoto(name);
  for (const [i, code] of ['CCA', 'Sand', 'Turf'].entries()) {
    await page.keyboard.type(code.toLowerCase());
    await page.keyboard.press('Enter');
    exp.set(i, code);
  }
  await page.getByText('Point 3: Turf (typed).').waitFor();
  await page.reload();          // at once: the writes were issued in the keys' own tasks
  await openApp(page, server.url);
  let st = await readProject(page, projectId);
  for (const n of expected.keys()) assertExpected(st, n);

  // A write the reload cut off before IndexedDB committed it: its journal entry (what the
  // store writes synchronously before the transaction) is replayed at the next start; an
  // entry whose `before` no longer matches (it landed, or was superseded) is dropped.
  await page.evaluate(({ pid, photo }) => {
    const pts = photo.points;
    const after = pts.map((p, i) => (i === 3 ? { ...p, label: 'Porit', state: 'confirmed', changed: true } : p));
    const stale = pts.map((p, i) => (i === 0 ? { ...p, label: 'Sand' } : p));
    localStorage.setItem('polyp-journal:polyp:t1', JSON.stringify({ projectId: pid, label: 'Porit on point 4', undoable: true, at: 1,
      changes: [{ photoId: photo.photo.id, before: pts, points: after }] }));
    localStorage.setItem('polyp-journal:polyp:t2', JSON.stringify({ projectId: pid, label: 'stale', undoable: true, at: 2,
      changes: [{ photoId: photo.photo.id, before: stale, points: stale.map((p) => ({ ...p, label: 'CCA' })) }] }));
  }, { pid: projectId, photo: st.photos[name] });
  await page.reload();
  await openApp(page, server.url);
  exp.set(3, 'Porit');
  st = await readProject(page, projectId);
  for (const n of expected.keys()) assertExpected(st, n);
  assert.equal(st.photos[name].points[0].label, 'CCA');
  assert.equal(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('polyp-journal:')).length), 0);

  // Two changes within one millisecond, neither committed: they replay in the order they
  // were made (seq), whatever the order of their keys, so the later one is not dropped as
  // superseded.
  await page.evaluate(({ pid, photo }) => {
    const pts = photo.points;
    const first = pts.map((p, i) => (i === 2 ? { ...p, label: 'Porit', state: 'confirmed', changed: true } : p));
    const second = first.map((p, i) => (i === 2 ? { ...p, label: 'CCA' } : p));
    localStorage.setItem('polyp-journal:polyp:z-first', JSON.stringify({ projectId: pid, label: 'Porit on point 3', undoable: true, at: 5, seq: 1,
      changes: [{ photoId: photo.photo.id, before: pts, points: first }] }));
    localStorage.setItem('polyp-journal:polyp:a-second', JSON.stringify({ projectId: pid, label: 'CCA on point 3', undoable: true, at: 5, seq: 2,
      changes: [{ photoId: photo.photo.id, before: first, points: second }] }));
  }, { pid: projectId, photo: st.photos[name] });
  await page.reload();
  await openApp(page, server.url);
  exp.set(2, 'CCA');
  st = await readProject(page, projectId);
  for (const n of expected.keys()) assertExpected(st, n);
});

test('kill the browser process mid-annotation, relaunch on the same profile: every confirmed label is there', { skip: why }, async () => {
  let { page } = s;
  const name = 'coralnet_p82pkvoqn3.JPG';
  const exp = await startPhoto(name);
  for (const [i, code] of ['Porit', 'Porit', 'CCA', 'Sand'].entries()) {
    await page.keyboard.type(code);
    await page.keyboard.press('Enter');
    exp.set(i, code);
  }
  await page.getByText('Point 4: Sand (typed).').waitFor();
  // The page says when the last change is committed; the crash comes right after that.
  await page.getByText('All changes saved').waitFor();
  const pids = await browserPids(profile);
  assert.ok(pids.length >= 1, 'found the browser process');
  for (const pid of pids) process.kill(pid, 'SIGKILL');
  await s.close({ keepServer: true });
  await relaunch();
  page = s.page;
  const st = await readProject(page, projectId);
  for (const n of expected.keys()) assertExpected(st, n);
  // The photo list shows the work: changed-since-export counts every confirmed label.
  const changed = [...expected.values()].reduce((n, m) => n + m.size, 0);
  await page.getByText(`${changed} points changed since last export`).waitFor();
  await screenshot(page, '06-photos-after-crash');
});

test('privacy: no request left the origin or carried a body; axe: no serious or critical violation', { skip: why }, async () => {
  const problems = privacyProblems(requests, server.url);
  assert.deepEqual(problems, []);
  assert.ok(server.requests.length > 5, 'the server saw the app load');
  for (const [page, v] of Object.entries(axe)) assert.deepEqual(v, [], `axe on ${page}`);
  assert.deepEqual(errors.filter((e) => !/Failed to load resource/.test(e)), []);
});
