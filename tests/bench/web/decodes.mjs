// decodes.mjs - what a photo's decodes cost in the annotation tool, in headless Chromium on
// the 27 MP JPEG (5568 x 4872) from ../shared/testdata (not a test: it prints medians).
//
//   npm run build:web && node tests/bench/web/decodes.mjs [--runs 5] [--points 40]
//
// Browser (the viewer's display decodes, decode-worker.js): the reduced preview decode
// straight from the file, the full decode, and a preview scaled from the full bitmap (what
// "decode once" for display would paint first). Engine (wasm libjpeg-turbo, the pixels the
// features need): a decode, a call that finds the photo kept under its imageKey, and the
// extraction of 1 point vs --points points (a moved point before and after this change).
// Viewer: click on the photo's name -> first paint, -> full resolution (viewer.timings).
import { launch, openApp, profileDir, cleanup, testPhoto, haveTestdata, skip, setupProject } from '../../web/harness.mjs';
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const opt = (name, d) => { const i = args.indexOf(`--${name}`); return i >= 0 ? Number(args[i + 1]) : d; };
const RUNS = opt('runs', 5);
const POINTS = opt('points', 40);
const BIG = 'unlabeled-real-images/seattle_rov_2024_10_08_10-37-22.JPG';
if (skip || !haveTestdata) { console.error(`decodes: ${skip || 'needs ../shared/testdata'}`); process.exit(77); }
const median = (a) => { const s = [...a].sort((x, y) => x - y); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };

const profile = profileDir();
const s = await launch({ profile });
try {
  await openApp(s.page, s.server.url);
  const bytes = [...readFileSync(testPhoto(BIG))];
  const r = await s.page.evaluate(async ({ bytes, RUNS, POINTS }) => {
    const blob = new Blob([new Uint8Array(bytes)], { type: 'image/jpeg' });
    const polyp = await window.polypApp.getPolyp();
    const w = await polyp.loadWeights(await polyp.buildTestnet(20261128n, await (await fetch('assets/testnet-bnstats.safetensors')).arrayBuffer()));
    const out = { preview: [], full: [], previewFromFull: [], engineDecode: [], engineKept: [], extract1: [], extractN: [] };
    const W = 5568, H = 4872, k = 2048 / Math.max(W, H);
    const size = { resizeWidth: Math.round(W * k), resizeHeight: Math.round(H * k), resizeQuality: 'medium' };
    const pts = Array.from({ length: POINTS }, (_, i) => [200 + ((i * 997) % (H - 400)), 200 + ((i * 613) % (W - 400))]);
    for (let i = 0; i < RUNS; i++) {
      let t = performance.now();
      (await createImageBitmap(blob, { imageOrientation: 'none', ...size })).close();
      out.preview.push(performance.now() - t);
      t = performance.now();
      const full = await createImageBitmap(blob, { imageOrientation: 'none' });
      out.full.push(performance.now() - t);
      t = performance.now();
      (await createImageBitmap(full, size)).close();
      out.previewFromFull.push(performance.now() - t);
      full.close();
      await polyp.releaseImage();
      t = performance.now();
      await polyp.decodeImage(blob, { imageKey: `k${i}` });
      out.engineDecode.push(performance.now() - t);
      t = performance.now();
      await polyp.decodeImage(blob, { imageKey: `k${i}` });
      out.engineKept.push(performance.now() - t);
      t = performance.now();
      await polyp.extract(blob, pts.slice(0, 1), { imageKey: `k${i}` });
      out.extract1.push(performance.now() - t);
      t = performance.now();
      await polyp.extract(blob, pts, { imageKey: `k${i}` });
      out.extractN.push(performance.now() - t);
    }
    return { out, flavor: polyp.flavor, threads: polyp.threads, sha: w.sha256.slice(0, 8) };
  }, { bytes, RUNS, POINTS });
  const projectId = await setupProject(s.page, s.server.url, { name: 'Decodes', labels: [['CCA', 'CCA', 'Algae']], n: 5, photos: [testPhoto(BIG)] });
  const first = [], full = [];
  for (let i = 0; i < RUNS; i++) {
    await s.page.goto(`${s.server.url}/#/p/${projectId}`);
    const link = s.page.getByRole('link', { name: BIG.split('/').pop() });
    await link.waitFor();
    await s.page.evaluate(() => { window.__clickAt = performance.now(); });
    await link.click();
    await s.page.waitForFunction(() => window.polypViewer && window.polypViewer.timings.fullResolution, null, { timeout: 60000 });
    const t = await s.page.evaluate(() => ({ first: window.polypViewer.timings.firstPaintAt - window.__clickAt, full: window.polypViewer.timings.fullResolutionAt - window.__clickAt }));
    first.push(t.first); full.push(t.full);
  }
  r.out.viewerFirstPaint = first; r.out.viewerFullRes = full;
  console.log(`engine ${r.flavor}, ${r.threads} threads; medians of ${RUNS} runs, ms:`);
  for (const [k, v] of Object.entries(r.out)) console.log(`  ${k.padEnd(16)} ${median(v).toFixed(0).padStart(6)}   (${v.map((x) => x.toFixed(0)).join(', ')})`);
} finally {
  await s.close();
  cleanup(profile);
}
