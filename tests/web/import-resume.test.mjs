// import-resume.test.mjs - "Add photos" cut off by a closed browser: the photos stored before
// are there whole (bytes equal to the files, points record, nothing half-stored), and the
// reopened app names exactly the files that did not make it in; adding them again through
// that notice completes the project and the notice goes away.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { skip, haveTestdata, launch, openApp, profileDir, cleanup, testPhoto, screenshot } from './harness.mjs';

const why = skip || (!haveTestdata && 'needs ../shared/testdata');
// The small PNG first, then two 27 MP JPEGs: the close lands while one of those decodes.
const FILES = [
  'unlabeled-real-images/benthoz_PR_20081006_232302_383_LC16.png',
  'unlabeled-real-images/seattle_rov_2024_10_08_10-37-22.JPG',
  'unlabeled-real-images/seattle_rov_2025_01_22_09-53-41.JPG',
  'unlabeled-real-images/coralnet_p82pkvoqn3.JPG',
].map(testPhoto);
const base = (p) => p.split('/').pop();
const sha = (p) => createHash('sha256').update(readFileSync(p)).digest('hex');

/** Every photo of the project with its stored bytes' hash and its points record; and the
 * blobs no photo refers to. */
function stored(page, projectId) {
  return page.evaluate(async (pid) => {
    const { store } = window.polypApp;
    const photos = [];
    for (const ph of await store.listPhotos(pid)) {
      const blob = await store.getPhotoBlob(ph);
      const d = blob ? new Uint8Array(await crypto.subtle.digest('SHA-256', await blob.arrayBuffer())) : null;
      photos.push({ name: ph.name, hash: ph.hash, bytes: d && Array.from(d, (b) => b.toString(16).padStart(2, '0')).join(''),
        size: blob && blob.size, points: !!(await store.getAnnotations(ph.id)) });
    }
    const hashes = new Set(photos.map((p) => p.hash));
    const orphans = (await store.db.getAllKeys('blobs')).filter((h) => !hashes.has(h));
    return { photos, orphans };
  }, projectId);
}

test('browser closed mid-import: stored photos are whole, the reopened app names the missing files, adding them again completes', { skip: why, timeout: 300000 }, async () => {
  const profile = profileDir();
  let s = await launch({ profile });
  const { server } = s;
  try {
    let { page } = s;
    await openApp(page, server.url);
    await page.getByLabel('Project name').fill('Import');
    await page.getByRole('button', { name: 'New project' }).click();
    await page.getByRole('heading', { name: 'Project settings' }).waitFor();
    const projectId = decodeURIComponent(page.url().split('#/p/')[1].split('/')[0]);
    await page.getByRole('link', { name: 'Photos' }).click();
    // Close the whole browser as soon as the first photo is stored (its write committed).
    await page.evaluate(() => {
      window.__photosStored = 0;
      window.polypApp.store.subscribe((ev) => { if (ev.store === 'photos' && ev.type === 'put') window.__photosStored++; });
    });
    await page.getByLabel('Add photos').setInputFiles(FILES);
    await page.waitForFunction(() => window.__photosStored >= 1, null, { timeout: 120000, polling: 20 });
    await s.close({ keepServer: true });

    s = await launch({ profile, server });
    page = s.page;
    await openApp(page, server.url, `/p/${projectId}`);
    const st = await stored(page, projectId);
    assert.ok(st.photos.length >= 1 && st.photos.length < FILES.length, `the close cut the import (${st.photos.length} stored)`);
    for (const p of st.photos) {
      const file = FILES.find((f) => base(f) === p.name);
      assert.equal(p.bytes, sha(file), `${p.name}: stored bytes equal the file`);
      assert.equal(p.hash, p.bytes);
      assert.ok(p.points, `${p.name}: stored with its points record`);
    }
    assert.deepEqual(st.orphans, [], 'no bytes stored without their photo');
    const names = new Set(st.photos.map((p) => p.name));
    const missing = FILES.map(base).filter((n) => !names.has(n));

    const notice = page.getByRole('region', { name: 'Interrupted import' });
    await notice.waitFor({ timeout: 30000 });
    await screenshot(page, '09-interrupted-import');
    const text = await notice.textContent();
    assert.match(text, new RegExp(`${missing.length} of ${FILES.length} files did not make it in`));
    for (const n of FILES.map(base)) {
      assert.equal(text.includes(n), missing.includes(n), `${n} ${missing.includes(n) ? 'is' : 'is not'} named as missing`);
    }

    // The user adds them again from the notice: the project is complete, the notice gone.
    await notice.getByLabel('Add the missing photos').setInputFiles(FILES.filter((f) => missing.includes(base(f))));
    await page.getByText(new RegExp(`${missing.length} photos added`)).waitFor({ timeout: 120000 });
    await notice.waitFor({ state: 'detached', timeout: 30000 });
    const end = await stored(page, projectId);
    assert.deepEqual(end.photos.map((p) => p.name).sort(), FILES.map(base).sort());
    for (const p of end.photos) assert.equal(p.bytes, sha(FILES.find((f) => base(f) === p.name)));
    assert.deepEqual(await page.evaluate((pid) => window.polypApp.store.listImports(pid), projectId), [], 'no import log left');

    // After a reload nothing is reported any more.
    await page.reload();
    await openApp(page, server.url, `/p/${projectId}`);
    await page.getByText(`${FILES.length} photos:`).waitFor();
    assert.equal(await page.getByRole('region', { name: 'Interrupted import' }).count(), 0);
  } finally {
    await s.close({ keepServer: true });
    await s.server.close();
    cleanup(profile);
  }
});
