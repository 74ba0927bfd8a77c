// move.test.mjs - moving a point costs one patch: the app extracts only the moved point (the
// engine's extract is counted in the page), keeps every other point's features and labels,
// the moved point's features equal a fresh extraction of the photo's points, and all of it is
// stored (a reload finds the same record and queues nothing). The engine decodes the photo
// once: the first extraction's decode serves the patches and the move's extraction.
import test from 'node:test';
import assert from 'node:assert/strict';
import { skip, haveTestdata, launch, openApp, profileDir, cleanup, queueIdle, testPhoto, setupProject } from './harness.mjs';

const why = skip || (!haveTestdata && 'needs ../shared/testdata');
const PHOTO = 'unlabeled-real-images/benthoz_PR_20081006_232302_383_LC16.png';

/** The photo's points and stored features (as plain arrays). */
function readState(page, projectId) {
  return page.evaluate(async (pid) => {
    const { store } = window.polypApp;
    const p = await store.getProject(pid);
    const [ph] = await store.listPhotos(pid);
    const ann = await store.getAnnotations(ph.id);
    const f = await store.getFeatures(ph.id, p.extractor.sha256);
    return { photoId: ph.id, points: ann.points, at: f && f.extractedAt, rows: f && [...f.rows], cols: f && [...f.cols], feat: f && [...f.feat] };
  }, projectId);
}

test('moving a point extracts that one patch and keeps the others\' features, stored across a reload', { skip: why, timeout: 300000 }, async () => {
  const profile = profileDir();
  let s = await launch({ profile });
  const { server } = s;
  try {
    const projectId = await setupProject(s.page, server.url, {
      name: 'Move', labels: [['CCA', 'Crustose coralline algae', 'Algae'], ['Sand', 'Sand', 'Substrate']], n: 5, photos: [testPhoto(PHOTO)],
    });
    let page = s.page;
    // Count every engine call on images from now on: points per extraction, and the calls
    // that decoded the photo (the result's `decoded`).
    await page.evaluate(async () => {
      const polyp = await window.polypApp.getPolyp();
      window.__extractCalls = [];
      window.__decodes = [];
      polyp.__origExtract = polyp.extract;
      for (const name of ['extract', 'cropPatches', 'decodeImage']) {
        const orig = polyp[name];
        polyp[name] = async function (img, ...rest) {
          if (name === 'extract') window.__extractCalls.push(rest[0].length);
          const r = await orig.call(this, img, ...rest);
          if (r.decoded !== false) window.__decodes.push(name);
          return r;
        };
      }
    });
    await page.getByRole('link', { name: PHOTO.split('/').pop() }).click();
    await page.waitForSelector('.viewport[aria-busy="false"]', { timeout: 60000 });
    // Label point 1 so the test sees that a person's labels stay.
    await page.getByRole('button', { name: 'Point 1: —' }).click();
    await page.getByLabel('Label code').fill('cca');
    await page.getByLabel('Label code').press('Enter');
    await page.getByRole('button', { name: 'Point 1: CCA' }).waitFor();
    await page.getByText('All changes saved').waitFor();
    const before = await readState(page, projectId);
    assert.equal(before.rows.length, 5);
    const dim = before.feat.length / 5;

    // The point nearest the middle of the view, dragged 30 px right and 20 px down, once the
    // viewer has it selected and is in move mode (its state follows the page's a frame later).
    const pick = () => page.evaluate(() => {
      const v = window.polypViewer;
      const r = v.pointCanvas.getBoundingClientRect();
      let best = null;
      v.points.forEach((p, i) => {
        const [x, y] = v.toScreen(p.col + 0.5, p.row + 0.5);
        const d = Math.hypot(x - v.vw / 2, y - v.vh / 2);
        if (!best || d < best.d) best = { i, d, x: r.left + x, y: r.top + y };
      });
      return best;
    });
    const k = (await pick()).i;
    await page.getByRole('button', { name: new RegExp(`^Point ${k + 1}:`) }).click();
    await page.getByRole('button', { name: 'Move points' }).click();
    await page.waitForFunction((i) => window.polypViewer.mode === 'move' && window.polypViewer.selected.size === 1 &&
      window.polypViewer.selected.has(i), k);
    const target = await pick();
    assert.equal(target.i, k);
    await page.mouse.move(target.x, target.y);
    await page.mouse.down();
    for (let t = 1; t <= 5; t++) await page.mouse.move(target.x + 6 * t, target.y + 4 * t);
    await page.mouse.up();
    await page.getByText(new RegExp(`Point ${k + 1} moved to row`)).waitFor();
    // The message comes once the move is stored and its extraction queued: wait for that job.
    await queueIdle(page);
    const after = await readState(page, projectId);
    assert.deepEqual(await page.evaluate(() => window.__extractCalls), [1], 'one extraction of one point');
    // No engine decode in the whole visit: the photo the first extraction decoded is still
    // kept under its hash, for the patches on opening, after the move, and the extraction.
    assert.deepEqual(await page.evaluate(() => window.__decodes), [], 'the photo was decoded once, by the first extraction');
    assert.notDeepEqual([after.points[k].row, after.points[k].col], [before.points[k].row, before.points[k].col], 'the point moved');

    // Every other point: same pixel, same label and state, the very same features.
    for (let i = 0; i < 5; i++) {
      if (i === k) continue;
      assert.deepEqual(after.points[i], before.points[i], `point ${i + 1} unchanged`);
      assert.deepEqual(after.feat.slice(i * dim, (i + 1) * dim), before.feat.slice(i * dim, (i + 1) * dim), `point ${i + 1} features kept`);
    }
    if (k !== 0) assert.equal(after.points[0].label, 'CCA');
    // The moved point: what a fresh extraction of all the photo's points now gives.
    const ref = await page.evaluate(async ([pid, photoId]) => {
      const { store, getPolyp } = window.polypApp;
      const polyp = await getPolyp();
      const ann = await store.getAnnotations(photoId);
      const blob = await store.getPhotoBlob(await store.getPhoto(photoId));
      const r = await polyp.__origExtract.call(polyp, blob, ann.points.map((p) => [p.row, p.col]));
      return [...r.features];
    }, [projectId, after.photoId]);
    let d = 0;
    for (let j = k * dim; j < (k + 1) * dim; j++) d = Math.max(d, Math.abs(ref[j] - after.feat[j]));
    assert.ok(d <= 1e-5, `moved point's features differ from a fresh extraction by ${d}`);
    assert.ok(before.feat.slice(k * dim, (k + 1) * dim).some((v, j) => v !== after.feat[k * dim + j]), 'the moved point got new features');

    // Stored: a reload finds the same points and features and queues no extraction.
    await s.close({ keepServer: true });
    s = await launch({ profile, server });
    page = s.page;
    await openApp(page, server.url, `/p/${projectId}`);
    await page.waitForFunction(() => window.polypApp.queue.started);
    await queueIdle(page);
    const reloaded = await readState(page, projectId);
    assert.deepEqual(reloaded, after);
  } finally {
    await s.close({ keepServer: true });
    await s.server.close();
    cleanup(profile);
  }
});
