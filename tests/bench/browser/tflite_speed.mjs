// tflite_speed.mjs - MobileNet v1 / v2 (TFLite) extraction speed in headless Chromium through
// the public JS API (wasm/polyp.js: worker + polyp-simd / polyp-simd-mt), on Seattle patches
// (one point per image, as `polyp extract` gets them: decode + crop + network per call).
// Not a test: numbers mean something only on a quiet machine.
//
//   node tests/bench/browser/tflite_speed.mjs [--patches 40] [--runs 3]
// Needs wasm/dist (the wasm build), /usr/bin/chromium, playwright-core, ../shared/testdata.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM, FLAGS, chromium, skip } from '../../browser/chromium.mjs';
import { serve } from '../../../wasm/example/serve.mjs';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const testdata = process.env.POLYP_TESTDATA || join(root, '../shared/testdata');
const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const NPATCH = arg('--patches', 40);
const RUNS = arg('--runs', 3);
if (skip) {
  console.log(`skip: ${skip}`);
  process.exit(0);
}
const rows = readFileSync(join(testdata, 'seattle-patches/points.csv'), 'utf8').trim().split(/\r?\n/).slice(1);
const pts = Array.from({ length: NPATCH }, (_, k) => rows[Math.floor((k * rows.length) / NPATCH)].split(','));
const files = {
  '/t/mobilenet_v1.tflite': join(testdata, 'mobilenet-tflite/mobilenet_v1_1.0_224_quant_embedding_extractor.tflite'),
  '/t/mobilenet_v2.tflite': join(testdata, 'mobilenet-tflite/mobilenet_v2_1.0_224_quant.tflite'),
};
pts.forEach((p, k) => { files[`/t/img${k}.jpg`] = join(testdata, 'seattle-patches', p[0]); });
const server = await serve({ files });
const work = mkdtempSync(join(tmpdir(), 'polyp-tflite-speed-'));
const context = await chromium.launchPersistentContext(join(work, 'profile'), {
  executablePath: CHROMIUM, headless: true, args: FLAGS, serviceWorkers: 'block',
});
try {
  const page = context.pages()[0] || await context.newPage();
  await page.goto(`${server.url}/wasm/example/?noauto=1`);
  const out = await page.evaluate(async ({ pts, runs }) => {
    const { createPolyp } = await import('/wasm/polyp.js');
    const imgs = await Promise.all(pts.map((_, k) => fetch(`/t/img${k}.jpg`).then((r) => r.arrayBuffer())));
    const res = [];
    for (const threads of [1, 2]) {
      const polyp = await createPolyp({ threads, log: null });
      for (const kind of ['mobilenet_v1', 'mobilenet_v2']) {
        const w = await fetch(`/t/${kind}.tflite`).then((r) => r.arrayBuffer());
        await polyp.loadWeights(new Uint8Array(w));
        await polyp.extract(new Uint8Array(imgs[0]), [[Number(pts[0][1]), Number(pts[0][2])]]); // warm-up
        const rates = [];
        for (let r = 0; r < runs; r++) {
          const t0 = performance.now();
          for (const [k, p] of pts.entries()) await polyp.extract(new Uint8Array(imgs[k]), [[Number(p[1]), Number(p[2])]]);
          rates.push(pts.length / ((performance.now() - t0) / 1000));
        }
        rates.sort((a, b) => a - b);
        res.push({ kind, threads, flavor: polyp.flavor, coi: crossOriginIsolated, rates, median: rates[Math.floor(rates.length / 2)] });
      }
      polyp.terminate();
    }
    return res;
  }, { pts, runs: RUNS });
  for (const r of out) {
    console.log(`${r.kind} threads ${r.threads} (polyp-${r.flavor}, isolated ${r.coi}): median ${r.median.toFixed(1)} patches/s ` +
      `over ${RUNS} runs of ${NPATCH} (${r.rates.map((x) => x.toFixed(1)).join(', ')})`);
  }
} finally {
  await context.close();
  server.close();
  rmSync(work, { recursive: true, force: true });
}
