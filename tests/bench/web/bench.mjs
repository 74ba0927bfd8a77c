// bench.mjs - the web app's figures in headless Chromium (not a test: it prints numbers).
//
//   npm run build:web && node tests/bench/web/bench.mjs [--runs 5] [--points 40]
//
// 1. A 27 MP photo (5568 x 4872 JPEG from ../shared/testdata): time from clicking its name to
//    the first paint of the annotation tool's viewer, and to full resolution (all tiles).
// 2. Pan/zoom at full resolution: draw time per frame (the viewer's own timer) and the
//    interval between animation frames while panning and zooming every frame.
// 3. Extraction throughput inside the app (the queue's job for one photo, from the store read
//    to the features written) vs. the library call alone on the same photo and points in the
//    same page (the same engine instance), and the longest main-thread task during the app's
//    extraction (PerformanceObserver 'longtask': tasks over 50 ms).
// 4. A project of 200 photos x 50 points (synthetic: 640 x 480 noise JPEGs made in the page,
//    random feature vectors of the real size), storage used, time to reopen its photo list
//    after a reload, and the tab's JS heap.
// Medians of --runs runs where a figure is repeated. The machine is shared: say so when quoting.
import { join } from 'node:path';
import { launch, openApp, profileDir, cleanup, queueIdle, testPhoto, setupProject, haveTestdata, skip } from '../../web/harness.mjs';
import { serve } from '../../../web/serve.mjs';

const args = process.argv.slice(2);
const opt = (name, d) => { const i = args.indexOf(`--${name}`); return i >= 0 ? Number(args[i + 1]) : d; };
const RUNS = opt('runs', 5);
const POINTS = opt('points', 40);
const BIG = 'unlabeled-real-images/seattle_rov_2024_10_08_10-37-22.JPG';

if (skip || !haveTestdata) { console.error(`bench: ${skip || 'needs ../shared/testdata'}`); process.exit(77); }

const median = (a) => { const s = [...a].sort((x, y) => x - y); return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN; };
const pct = (a, p) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]; };
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : String(x));

const server = await serve();
const profile = profileDir();
const s = await launch({ profile, server });
const { page } = s;
const out = {};
try {
  const projectId = await setupProject(page, server.url, { name: 'Bench', labels: [['CCA', 'CCA', 'Algae']], n: POINTS, photos: [testPhoto(BIG)] });
  const photoName = BIG.split('/').pop();

  // 1. first paint and full resolution, from the click on the photo's name.
  const first = [], full = [];
  for (let r = 0; r < RUNS; r++) {
    await page.goto(`${server.url}/#/p/${projectId}`);
    await page.getByRole('link', { name: photoName }).waitFor();
    await page.evaluate(() => { window.__clickAt = performance.now(); });
    await page.getByRole('link', { name: photoName }).click();
    await page.waitForFunction(() => window.polypViewer && window.polypViewer.timings.fullResolution, null, { timeout: 60000 });
    const t = await page.evaluate(() => {
      const v = window.polypViewer;
      return { first: v.timings.firstPaintAt - window.__clickAt, full: v.timings.fullResolutionAt - window.__clickAt };
    });
    first.push(t.first); full.push(t.full);
  }
  out.firstPaintMs = first; out.fullResolutionMs = full;

  // 2. pan/zoom frames at full resolution.
  const frames = await page.evaluate(async () => {
    const v = window.polypViewer;
    v.zoomBy(v.width / v.vw / v.scale);            // about 1 image px per screen px
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    v.frameTimes.length = 0;
    const intervals = [];
    let last = performance.now();
    for (let i = 0; i < 180; i++) {
      if (i % 60 < 30) v.panBy(7, 4); else v.zoomBy(i % 2 ? 1.03 : 1 / 1.03);
      await new Promise((r) => requestAnimationFrame(r));
      const now = performance.now();
      intervals.push(now - last);
      last = now;
    }
    await new Promise((r) => requestAnimationFrame(r));
    return { draw: v.frameTimes.slice(), intervals };
  });
  out.frames = frames;

  // 3. extraction: the app's job vs the library call on the same photo and points.
  const ex = [];
  for (let r = 0; r < Math.min(RUNS, 4); r++) {
    const res = await page.evaluate(async ({ pid, libFirst }) => {
      const { store, queue, getPolyp } = window.polypApp;
      const p = await store.getProject(pid);
      const [ph] = await store.listPhotos(pid);
      const ann = await store.getAnnotations(ph.id);
      const key = [ph.id, p.extractor.sha256];
      const polyp = await getPolyp();
      const blob = await store.getPhotoBlob(ph);
      const lib = async () => {
        const t1 = performance.now();
        await polyp.extract(blob, ann.points.map((q) => [q.row, q.col]));
        return performance.now() - t1;
      };
      // Alternate which runs first: the shared machine's load drifts.
      let tLib = libFirst ? await lib() : 0;
      await store.db.delete('features', key);          // so the app extracts again
      const longest = [];
      const obs = new PerformanceObserver((l) => { for (const e of l.getEntries()) longest.push(e.duration); });
      obs.observe({ type: 'longtask' });
      const t0 = performance.now();
      await queue.add({ kind: 'extract', projectId: pid, photoId: ph.id, title: 'bench' });
      await queue.whenIdle();
      const tApp = performance.now() - t0;
      obs.disconnect();
      if (!libFirst) tLib = await lib();
      const ok = !!(await store.getFeatures(ph.id, p.extractor.sha256));
      return { tApp, tLib, n: ann.points.length, longest: longest.length ? Math.max(...longest) : 0, ok };
    }, { pid: projectId, libFirst: r % 2 === 1 });
    ex.push(res);
  }
  out.extraction = ex;

  // 4. 200 photos x 50 points (synthetic).
  const big = await page.evaluate(async () => {
    const { store } = window.polypApp;
    const p = await store.createProject({ name: 'Two hundred', labelset: [{ code: 'A', name: 'A', group: '', color: '#336699' }, { code: 'B', name: 'B', group: '', color: '#993366' }] });
    const before = await store.storageInfo();
    const c = new OffscreenCanvas(640, 480);
    const ctx = c.getContext('2d');
    const t0 = performance.now();
    for (let i = 0; i < 200; i++) {
      const img = ctx.createImageData(640, 480);
      for (let k = 0; k < img.data.length; k++) img.data[k] = (k * 7 + i * 13 + ((k * i) >> 3)) & 255;
      ctx.putImageData(img, 0, 0);
      const blob = await c.convertToBlob({ type: 'image/jpeg', quality: 0.85 });
      const file = new File([blob], `photo_${String(i).padStart(3, '0')}.jpg`, { type: 'image/jpeg' });
      const { photo } = await store.addPhoto(p.id, file, { width: 640, height: 480, truncated: false });
      const pts = Array.from({ length: 50 }, (_, k) => ({ row: (k * 37) % 480, col: (k * 91) % 640, label: k % 3 ? 'A' : 'B', state: 'confirmed', suggestions: [['A', 0.7], ['B', 0.3]], changed: true }));
      await store.changePoints(p.id, 'bench', [{ photoId: photo.id, points: pts }], { undoable: false });
      const feat = new Float32Array(50 * 1280).map((_, k) => Math.sin(k + i));
      await store.putFeatures({ photoId: photo.id, extractorSha: 'bench', rows: Uint32Array.from(pts, (q) => q.row), cols: Uint32Array.from(pts, (q) => q.col), feat });
    }
    const after = await store.storageInfo();
    return { id: p.id, storedBytes: after.usage - before.usage, fillMs: performance.now() - t0 };
  });
  const reopen = [];
  for (let r = 0; r < Math.min(RUNS, 3); r++) {
    await page.goto(`${server.url}/#/`);
    await page.reload();
    await openApp(page, server.url, `/p/${big.id}`);
    const t0 = Date.now();
    await page.getByText('200 photos: 0 Unclassified, 0 Unconfirmed, 200 Confirmed').waitFor({ timeout: 60000 });
    await page.getByRole('link', { name: 'photo_199.jpg' }).waitFor();
    reopen.push(Date.now() - t0);
  }
  const cdp = await s.context.newCDPSession(page);
  await cdp.send('Performance.enable');
  const metrics = Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
  out.project200 = { storedMB: big.storedBytes / 1e6, reopenMs: reopen, jsHeapMB: metrics.JSHeapUsedSize / 1e6 };
} finally {
  await s.close({ keepServer: true });
  await server.close();
  cleanup(profile);
}

const e = out.extraction;
console.log(`27 MP photo (5568 x 4872), ${RUNS} runs, medians:`);
console.log(`  click -> first paint        ${f1(median(out.firstPaintMs))} ms   (runs: ${out.firstPaintMs.map(f1).join(', ')})`);
console.log(`  click -> full resolution    ${f1(median(out.fullResolutionMs))} ms   (runs: ${out.fullResolutionMs.map(f1).join(', ')})`);
console.log(`  pan/zoom draw per frame     median ${f1(median(out.frames.draw))} ms, p95 ${f1(pct(out.frames.draw, 95))} ms, max ${f1(Math.max(...out.frames.draw))} ms`);
console.log(`  pan/zoom frame interval     median ${f1(median(out.frames.intervals))} ms, p95 ${f1(pct(out.frames.intervals, 95))} ms`);
console.log(`extraction, ${e[0].n} points of that photo, ${e.length} runs:`);
console.log(`  app (queue job)             ${f1(median(e.map((x) => x.tApp)))} ms  = ${f1((1000 * e[0].n) / median(e.map((x) => x.tApp)))} points/s`);
console.log(`  library call alone          ${f1(median(e.map((x) => x.tLib)))} ms  = ${f1((1000 * e[0].n) / median(e.map((x) => x.tLib)))} points/s`);
console.log(`  app overhead                ${f1(100 * (median(e.map((x) => x.tApp)) / median(e.map((x) => x.tLib)) - 1))} %`);
console.log(`  longest main-thread task    ${f1(Math.max(...e.map((x) => x.longest)))} ms (0 = none over 50 ms)`);
console.log(`200 photos x 50 points (synthetic 640 x 480 JPEGs, random features):`);
console.log(`  stored                      ${f1(out.project200.storedMB)} MB`);
console.log(`  reopen photo list           ${f1(median(out.project200.reopenMs))} ms  (runs: ${out.project200.reopenMs.join(', ')})`);
console.log(`  tab JS heap after reopening ${f1(out.project200.jsHeapMB)} MB`);
