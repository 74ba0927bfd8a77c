// offline.test.mjs - after one visit the app works with the network off: the service worker
// serves the whole app (both wasm modules, the test network's statistics), a reload starts
// it, a stored photo opens, and a point added offline gets its features extracted. A new
// version is offered with a prompt and never reloads the page by itself. Every request of
// the visit stays on the origin.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { skip, haveTestdata, launch, openApp, profileDir, screenshot, cleanup, queueIdle, testPhoto, setupProject, privacyProblems, ROOT } from './harness.mjs';
import { serve } from '../../web/serve.mjs';

const why = skip || (!haveTestdata && 'needs ../shared/testdata');
const PHOTO = 'unlabeled-real-images/benthoz_PR_20081006_232302_383_LC16.png';

test('offline after one visit: reload, open a stored photo, extract a new point; updates wait for the user', { skip: why, timeout: 300000 }, async () => {
  const server = await serve();
  const profile = profileDir();
  const requests = [];
  const s = await launch({ profile, server, requests });
  const { page, context } = s;
  try {
    const projectId = await setupProject(page, server.url, {
      name: 'Offline', labels: [['CCA', 'Crustose coralline algae', 'Algae'], ['Sand', 'Sand', 'Substrate']], n: 5, photos: [testPhoto(PHOTO)],
    });
    // The service worker has cached everything once it is active and controls the page.
    await page.evaluate(async () => { await navigator.serviceWorker.ready; });
    await page.waitForFunction(() => !!navigator.serviceWorker.controller);
    const cached = await page.evaluate(async () => {
      const keys = await caches.keys();
      const c = await caches.open(keys.find((k) => k.startsWith('polyp-app-')));
      return (await c.keys()).map((r) => new URL(r.url).pathname);
    });
    for (const f of ['/engine/polyp.js', '/engine/worker.js', '/engine/dist/polyp-simd.wasm', '/engine/dist/polyp-simd-mt.wasm', '/assets/testnet-bnstats.safetensors', '/manifest.webmanifest', '/icon-192.png']) {
      assert.ok(cached.includes(f), `${f} is precached`);
    }

    // Installable: a manifest with 192 and 512 px PNG icons that decode at their stated size.
    const icons = await page.evaluate(async () => {
      const m = await (await fetch('./manifest.webmanifest')).json();
      const out = [];
      for (const i of m.icons.filter((x) => x.type === 'image/png')) {
        const b = await createImageBitmap(await (await fetch(i.src)).blob());
        out.push([i.sizes, `${b.width}x${b.height}`]);
      }
      return { display: m.display, start: m.start_url, out };
    });
    assert.deepEqual(icons, { display: 'standalone', start: './', out: [['192x192', '192x192'], ['512x512', '512x512']] });

    await context.setOffline(true);
    await page.reload();
    await openApp(page, server.url, `/p/${projectId}`);
    assert.equal(await page.evaluate(() => crossOriginIsolated), true, 'the service worker keeps the page isolated');
    // The network really is off: what is not cached fails (the server would answer 404).
    assert.equal(await page.evaluate(async () => (await fetch('./not-cached.txt')).status), 503);
    await page.getByRole('link', { name: PHOTO.split('/').pop() }).click();
    await page.waitForSelector('.viewport[aria-busy="false"]', { timeout: 60000 });
    // Add a point in the middle of the photo: it is extracted offline.
    await page.getByRole('button', { name: 'Add points' }).click();
    const box = await page.locator('.viewport canvas.points').boundingBox();
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    await page.getByText(/Point 6 added at row/).waitFor();
    await queueIdle(page);
    const f = await page.evaluate(async (pid) => {
      const { store } = window.polypApp;
      const p = await store.getProject(pid);
      const [ph] = await store.listPhotos(pid);
      const rec = await store.getFeatures(ph.id, p.extractor.sha256);
      const ann = await store.getAnnotations(ph.id);
      return { n: rec.rows.length, points: ann.points.length, finite: rec.feat.every(Number.isFinite), dim: rec.feat.length / rec.rows.length };
    }, projectId);
    assert.deepEqual(f, { n: 6, points: 6, finite: true, dim: 1280 });
    await screenshot(page, '07-offline-annotate');

    // A new version: offered, not forced. The page keeps its state until "Update now".
    await context.setOffline(false);
    server.overrides.set('/sw.js', `${readFileSync(join(ROOT, 'web/dist/sw.js'), 'utf8')}\n// next version\n`);
    await page.evaluate(() => { window.__sameDocument = true; });
    await page.evaluate(async () => (await navigator.serviceWorker.getRegistration()).update());
    await page.getByRole('button', { name: 'Update now' }).waitFor({ timeout: 30000 });
    await page.waitForTimeout(500);
    assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no reload under the user');
    await screenshot(page, '08-update-offered');
    await Promise.all([page.waitForEvent('load'), page.getByRole('button', { name: 'Update now' }).click()]);
    assert.equal(await page.evaluate(() => window.__sameDocument), undefined, 'reloaded when asked');
    assert.deepEqual(privacyProblems(requests, server.url), []);
  } finally {
    await s.close({ keepServer: true });
    await server.close();
    cleanup(profile);
  }
});
