// cancel_chromium.test.mjs - the case cancellation was broken for: a page that is NOT
// cross-origin isolated (no SharedArrayBuffer, the single-threaded module), in real headless
// Chromium (Debian's, driven by playwright-core), where the worker yields between epochs
// through a MessageChannel (node's tests run the setImmediate path instead). The example
// page (wasm/example/, served by its serve.mjs with `?coi=0`) trains a 4,000-point synthetic
// source (tests/wasm/synthetic.mjs) and aborts after the first progress event: the promise
// must reject with an AbortError after a few epochs, not after all of them, and a following
// training in the same page must give the uncancelled model's bytes (an uncancelled training
// done first). Skipped (not passed) when /usr/bin/chromium or playwright-core is missing.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '../../wasm/example/serve.mjs';
import { CHROMIUM, chromium, skip, FLAGS } from '../browser/chromium.mjs';

const EPOCHS = 40;

test('non-isolated page in Chromium: an aborted training stops at the next epoch boundary', { skip, timeout: 300_000 }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'polyp-cancel-chromium-'));
  const server = await serve();
  let context = null;
  try {
    context = await chromium.launchPersistentContext(join(work, 'profile'), {
      executablePath: CHROMIUM, headless: true, args: FLAGS, serviceWorkers: 'block',
    });
    const page = context.pages()[0] || await context.newPage();
    const logs = [];
    page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
    await page.goto(`${server.url}/wasm/example/?coi=0&threads=4`);
    await page.waitForFunction(() => window.polypExample && (window.polypExample.ready || window.polypExample.error), null, { timeout: 120_000 });
    const r = await page.evaluate(async (epochs) => {
      const { makeLargeSource } = await import('/tests/wasm/synthetic.mjs');
      const polyp = window.polypExample.polyp;
      const data = { dim: 128, images: makeLargeSource({ dim: 128 }) };
      const sha = async (bytes) => [...new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))]
        .map((b) => b.toString(16).padStart(2, '0')).join('');
      const train = async (signal, onProgress) => {
        const clf = await polyp.trainClassifier(data, { seed: 3, epochs, signal, onProgress });
        const digest = await sha(await clf.save());
        await clf.dispose();
        return digest;
      };
      let t0 = performance.now();
      const full = [];
      const reference = await train(undefined, (e) => full.push(e));
      const fullMs = performance.now() - t0;
      const ac = new AbortController();
      const seen = [];
      let error = null;
      t0 = performance.now();
      try {
        await train(ac.signal, (e) => { seen.push(e); if (e === 1) ac.abort(); });
      } catch (e) {
        error = { name: e.name, statusName: e.statusName, message: e.message };
      }
      const cancelMs = performance.now() - t0;
      const again = await train(undefined, () => {});
      return { coi: crossOriginIsolated, sab: typeof SharedArrayBuffer, flavor: polyp.flavor, full, fullMs, seen, error, cancelMs, reference, again };
    }, EPOCHS);
    t.diagnostic(`page: coi ${r.coi}, ${r.flavor}; full training ${r.fullMs.toFixed(0)} ms; cancelled after ${r.seen.length} epochs in ${r.cancelMs.toFixed(0)} ms`);
    assert.deepEqual(logs, []);
    assert.equal(r.coi, false, 'the page is not cross-origin isolated');
    assert.equal(r.flavor, 'simd');
    assert.deepEqual(r.full, Array.from({ length: EPOCHS }, (_, e) => e + 1));
    assert.ok(r.error, 'the aborted training rejected');
    assert.equal(r.error.name, 'AbortError');
    assert.equal(r.error.statusName, 'cancelled');
    assert.ok(r.seen.length >= 1 && r.seen.length <= 8, `epochs reported before the rejection: ${r.seen}`);
    assert.equal(r.again, r.reference, 'the training after the cancel gives the uncancelled model');
  } finally {
    if (context) await context.close();
    await server.close();
    rmSync(work, { recursive: true, force: true });
  }
});
