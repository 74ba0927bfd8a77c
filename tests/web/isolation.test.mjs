// isolation.test.mjs - a static host that sends no COOP/COEP headers: the service worker
// supplies them, so after one automatic reload on the first visit the page is cross-origin
// isolated and the engine runs threaded; where no service worker may run, the app uses the
// single-threaded module and says so in its header.
import test from 'node:test';
import assert from 'node:assert/strict';
import { skip, launch, openApp, profileDir, cleanup, screenshot } from './harness.mjs';
import { serve } from '../../web/serve.mjs';

test('no COOP/COEP from the host: the service worker isolates the page after one reload', { skip, timeout: 120000 }, async () => {
  const server = await serve({ coi: false });
  const profile = profileDir();
  const s = await launch({ profile, server });
  try {
    await openApp(s.page, server.url);
    const r = await s.page.evaluate(() => ({ coi: crossOriginIsolated, sw: !!navigator.serviceWorker.controller, engine: document.querySelector('[aria-label="Engine"]').textContent }));
    assert.deepEqual(r, { coi: true, sw: true, engine: r.engine });
    assert.match(r.engine, /polyp \d+\.\d+\.\d+, \d+ threads/);
    const navs = server.requests.filter((q) => q.path === '/' || q.path.startsWith('/?'));
    assert.ok(navs.length >= 1, 'the page itself was fetched');
  } finally {
    await s.close({ keepServer: true });
    await server.close();
    cleanup(profile);
  }
});

test('no isolation and no service worker: the single-threaded module, said in the header', { skip, timeout: 120000 }, async () => {
  const server = await serve({ coi: false });
  const profile = profileDir();
  const s = await launch({ profile, server, serviceWorkers: 'block' });
  try {
    await openApp(s.page, server.url);
    assert.equal(await s.page.evaluate(() => crossOriginIsolated), false);
    await s.page.getByText(/Engine: polyp \S+, single-threaded \(this page is not cross-origin isolated/).waitFor();
    await screenshot(s.page, '12-not-isolated');
  } finally {
    await s.close({ keepServer: true });
    await server.close();
    cleanup(profile);
  }
});
