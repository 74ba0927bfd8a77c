// touch.test.mjs - the annotation flow on a tablet (820 x 1180, touch events, no keyboard):
// tap a marker to select its point, tap a label button to label it, pinch to zoom (two touch
// points through the DevTools protocol), and every button a finger needs is at least 44 px.
import test from 'node:test';
import assert from 'node:assert/strict';
import { skip, haveTestdata, launch, profileDir, screenshot, cleanup, testPhoto, setupProject, axeViolations } from './harness.mjs';
import { serve } from '../../web/serve.mjs';

const why = skip || (!haveTestdata && 'needs ../shared/testdata');
const PHOTO = 'mermaid-sample/mermaid_3805.JPG';

/** Screen position (page px) of point i's marker. */
function markerAt(page, i) {
  return page.evaluate((k) => {
    const v = window.polypViewer;
    const p = v.points[k];
    const [x, y] = v.toScreen(p.col + 0.5, p.row + 0.5);
    const r = v.pointCanvas.getBoundingClientRect();
    return { x: r.left + x, y: r.top + y };
  }, i);
}

test('tablet: tap selects, tap labels, pinch zooms, 44 px targets', { skip: why, timeout: 300000 }, async () => {
  const server = await serve();
  const profile = profileDir();
  const s = await launch({ profile, server, viewport: { width: 820, height: 1180 }, hasTouch: true, isMobile: true });
  const { page, context } = s;
  try {
    const projectId = await setupProject(page, server.url, {
      name: 'Field tablet', labels: [['CCA', 'Crustose coralline algae', 'Algae'], ['Sand', 'Sand', 'Substrate'], ['Porit', 'Porites', 'Hard coral']], n: 8, photos: [testPhoto(PHOTO)],
    });
    await page.getByRole('link', { name: 'Annotate' }).tap();
    await page.waitForSelector('.viewport[aria-busy="false"]', { timeout: 60000 });
    await page.evaluate(() => document.activeElement && document.activeElement.blur());   // no keyboard on a tablet

    const labelled = [];
    for (const [i, code] of [[4, 'Sand'], [1, 'CCA'], [6, 'Porit']]) {
      await page.locator('.viewport').scrollIntoViewIfNeeded();
      const m = await markerAt(page, i);
      await page.touchscreen.tap(m.x, m.y);
      await page.getByRole('button', { name: new RegExp(`^Point ${i + 1}: `), pressed: true }).waitFor();
      await page.getByRole('button', { name: new RegExp(`^Label ${code}\\b`) }).tap();
      await page.getByText(`Point ${i + 1}: ${code} (button).`).waitFor();
      labelled.push([i, code]);
    }
    const pts = await page.evaluate(async (pid) => {
      const { store } = window.polypApp;
      const [ph] = await store.listPhotos(pid);
      return (await store.getAnnotations(ph.id)).points.map((p) => [p.label, p.state]);
    }, projectId);
    for (const [i, code] of labelled) assert.deepEqual(pts[i], [code, 'confirmed'], `point ${i + 1}`);
    assert.equal(pts.filter((p) => p[0]).length, 3);

    // Pinch: two fingers moving apart over the photo zoom in.
    await page.locator('.viewport').scrollIntoViewIfNeeded();
    const box = await page.locator('.viewport canvas.points').boundingBox();
    const cx = box.x + box.width / 2, cy = box.y + box.height / 2;
    const before = await page.evaluate(() => window.polypViewer.scale);
    const cdp = await context.newCDPSession(page);
    const touch = (type, d) => cdp.send('Input.dispatchTouchEvent', {
      type, touchPoints: type === 'touchEnd' ? [] : [{ x: cx - d, y: cy, id: 1 }, { x: cx + d, y: cy, id: 2 }],
    });
    await touch('touchStart', 40);
    for (let d = 50; d <= 160; d += 10) await touch('touchMove', d);
    await touch('touchEnd', 0);
    const after = await page.evaluate(() => window.polypViewer.scale);
    assert.ok(after > before * 2.5, `pinch zoomed ${before} -> ${after}`);

    // Finger-sized targets: every visible button of the tool is at least 44 px each way.
    const small = await page.evaluate(() => [...document.querySelectorAll('.annotate button')]
      .filter((b) => b.offsetParent !== null)
      .map((b) => ({ name: b.getAttribute('aria-label') || b.textContent.trim(), w: b.getBoundingClientRect().width, h: b.getBoundingClientRect().height }))
      .filter((b) => b.w < 44 || b.h < 44));
    assert.deepEqual(small, []);
    assert.deepEqual(await axeViolations(page), []);
    await screenshot(page, '09-tablet-annotate');
  } finally {
    await s.close({ keepServer: true });
    await server.close();
    cleanup(profile);
  }
});
