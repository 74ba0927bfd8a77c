// example.test.mjs - the example page (wasm/example/) in real headless Chromium (Debian's,
// driven by playwright-core), served from 127.0.0.1 with COOP/COEP by wasm/example/serve.mjs:
// picks weights, photos and a points CSV through the page's own file inputs, runs extraction
// in the worker with the threaded module, and checks
//   - the features against PyTorch's (features.f32, 1e-4) and the native CLI's (1e-5, when
//     build/polyp exists);
//   - the page's CoralNet export CSV with machine suggestions against `polyp classify`'s;
//   - a classifier trained in the page's worker (tests/wasm/synthetic.mjs, seed 7): the same
//     bytes as node's wasm, and the same scores (1e-5) as `polyp train`'s for that source;
//   - the .featurevector bytes the page offers for download (read back in node), with the
//     weights' extractor record;
//   - that without cross-origin isolation the page falls back to the single-threaded module;
//   - that no request left the page's origin (every request seen by the browser and by a
//     catch-all route that blocks anything else).
// Skipped (not passed) when /usr/bin/chromium or playwright-core is missing.
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync, mkdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPolyp } from '../../wasm/polyp.js';
import { serve } from '../../wasm/example/serve.mjs';
import { LABELS, makeSource } from '../wasm/synthetic.mjs';
import { createHash } from 'node:crypto';
import { CHROMIUM, chromium, skip, FLAGS } from './chromium.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const fixtures = join(root, 'tests/fixtures/effnet');
const nativeCli = join(process.env.POLYP_NATIVE_BUILD || join(root, 'build'), 'polyp');
const DIM = 1280;


const cases = readFileSync(join(fixtures, 'cases.csv'), 'utf8').trim().split(/\r?\n/).slice(1)
  .map((l, index) => {
    const [source, image, row, col] = l.split(',');
    return { index, source, image, row: Number(row), col: Number(col) };
  })
  .filter((c) => c.source === 'fixtures');
const expected = (() => {
  const b = readFileSync(join(fixtures, 'features.f32'));
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
})();
const images = [...new Set(cases.map((c) => c.image))];

function maxAbsDiff(a, aOff, b, bOff, n) {
  let d = 0;
  for (let i = 0; i < n; i++) d = Math.max(d, Math.abs(a[aOff + i] - b[bOff + i]));
  return d;
}

test('example page in headless Chromium: extraction in the worker, nothing leaves the origin', { skip, timeout: 900_000 }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'polyp-browser-'));
  const server = await serve({ files: { '/generated/testnet.safetensors': join(work, 'testnet.safetensors') } });
  const origin = server.url;
  let context = null;
  const node = await createPolyp({ threads: 1, log: null });
  try {
    // Inputs the page's file pickers get: the test network, the fixture photos, a points CSV.
    const weights = await node.buildTestnet(20261128n, readFileSync(join(root, 'models/testnet-bnstats.safetensors')));
    writeFileSync(join(work, 'testnet.safetensors'), weights);
    // The record polyp extract writes for it, by hand: an EfficientNet-B0 (CoralNet's layout)
    // named by the file's own sha256.
    const record = `efficientnet_b0:${createHash('sha256').update(weights).digest('hex')}:1280 variant=lukemelas`;
    const photoDir = join(work, 'photos');
    mkdirSync(photoDir);
    for (const im of images) copyFileSync(join(fixtures, im), join(photoDir, im));
    writeFileSync(join(work, 'points.csv'),
      'Name,Row,Column\n' + cases.map((c) => `${c.image},${c.row},${c.col}`).join('\n') + '\n');
    // A classifier for the page's suggestions (trained in node's wasm on the synthetic source).
    const source = makeSource(DIM);
    const nodeClf = await node.trainClassifier({ images: source }, { seed: 7 });
    const modelBytes = await nodeClf.save();
    writeFileSync(join(work, 'model.safetensors'), modelBytes);

    context = await chromium.launchPersistentContext(join(work, 'profile'), {
      executablePath: CHROMIUM, headless: true, args: FLAGS, serviceWorkers: 'block',
    });
    const seen = [];
    const blocked = [];
    const foreign = (u) => !(u.startsWith(origin + '/') || u.startsWith('data:') || u.startsWith('blob:'));
    context.on('request', (r) => seen.push(r.url()));
    await context.route((u) => foreign(u.href), (route) => {
      blocked.push(route.request().url());
      return route.abort();
    });
    const page = context.pages()[0] || await context.newPage();
    const logs = [];
    page.on('console', (m) => logs.push(m.text()));
    page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));

    // 1. Cross-origin isolated: the threaded module.
    await page.goto(`${origin}/wasm/example/`);
    await page.waitForFunction(() => window.polypExample && (window.polypExample.ready || window.polypExample.error), null, { timeout: 120_000 });
    const engine = await page.evaluate(() => ({ ...window.polypExample.engine, coi: crossOriginIsolated }));
    t.diagnostic(`isolated page: ${JSON.stringify(engine)}; console: ${logs.filter((l) => l.startsWith('polyp')).join(' | ')}`);
    assert.equal(engine.coi, true, 'the page is cross-origin isolated');
    assert.equal(engine.flavor, 'simd-mt');
    assert.ok(engine.threads >= 2, `threads: ${engine.threads}`);

    await page.setInputFiles('#weights', join(work, 'testnet.safetensors'));
    await page.setInputFiles('#photos', images.map((im) => join(photoDir, im)));
    await page.setInputFiles('#points', join(work, 'points.csv'));
    await page.setInputFiles('#model', join(work, 'model.safetensors'));
    await page.click('#run');
    await page.waitForFunction(() => window.polypExample.done || window.polypExample.error, null, { timeout: 800_000 });
    const error = await page.evaluate(() => window.polypExample.error);
    assert.equal(error, null, `page error: ${error}; console: ${logs.join(' | ')}`);

    const results = await page.evaluate(() => [...window.polypExample.results].map(([name, r]) => ({
      name, width: r.width, height: r.height, points: r.points,
      features: Array.from(r.features), npz: Array.from(r.npz),
    })));
    assert.deepEqual(results.map((r) => r.name).sort(), [...images].sort());
    const links = await page.$$eval('#results a[download]', (as) => as.map((a) => a.download));
    assert.deepEqual(links.sort(), images.map((im) => `${im}.featurevector`).sort());

    // Features vs PyTorch, and the offered .featurevector bytes read back in node.
    let worst = 0;
    const browserFeat = new Map();
    for (const r of results) {
      const list = cases.filter((c) => c.image === r.name);
      const f = Float32Array.from(r.features);
      browserFeat.set(r.name, f);
      assert.equal(f.length, list.length * DIM);
      list.forEach((c, k) => {
        assert.deepEqual(r.points[k], [c.row, c.col]);
        const d = maxAbsDiff(f, k * DIM, expected, c.index * DIM, DIM);
        worst = Math.max(worst, d);
        assert.ok(d <= 1e-4, `${r.name} (${c.row}, ${c.col}): max |browser - PyTorch| = ${d}`);
      });
      const back = await node.readNpz(Uint8Array.from(r.npz));
      assert.deepEqual([...back.rows], list.map((c) => c.row));
      assert.deepEqual([...back.cols], list.map((c) => c.col));
      assert.deepEqual(back.features, f);
      assert.equal(back.extractor, record, `${r.name}: the extractor record of the weights`);
    }
    t.diagnostic(`${cases.length} points, max |browser - PyTorch| = ${worst.toExponential(2)}`);

    const pageCsv = await page.evaluate(() => window.polypExample.csv);
    assert.ok(pageCsv && pageCsv.startsWith('Name,Row,Column,Label code,Machine suggestion 1'), `page CSV: ${pageCsv && pageCsv.slice(0, 80)}`);

    // Weights from a URL: fetched once, then served from Cache Storage.
    const viaUrl = await page.evaluate(async () => {
      const a = await window.polypExample.polyp.loadWeightsFromUrl('/generated/testnet.safetensors');
      const b = await window.polypExample.polyp.loadWeightsFromUrl('/generated/testnet.safetensors');
      return [a, b];
    });
    assert.deepEqual(viaUrl.map((w) => w.cached), [false, true]);
    assert.equal(viaUrl[0].sha256, createHash('sha256').update(weights).digest('hex'));
    assert.equal(viaUrl[1].sha256, viaUrl[0].sha256);
    assert.equal(server.requests.filter((r) => r === '/generated/testnet.safetensors').length, 1, 'fetched once');

    // Training in the page's worker: same source and seed as the node-trained model.
    const trainedInPage = await page.evaluate(async () => {
      const { makeSource: make } = await import('/tests/wasm/synthetic.mjs');
      const progress = [];
      const clf = await window.polypExample.polyp.trainClassifier({ images: make(1280) },
        { seed: 7, onProgress: (e) => progress.push(e) });
      const bytes = await clf.save();
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
      await clf.dispose();
      return { sha256: [...digest].map((b) => b.toString(16).padStart(2, '0')).join(''),
        labels: clf.labels, valAccuracy: clf.valAccuracy, progress };
    });
    assert.deepEqual(trainedInPage.labels, LABELS);
    assert.deepEqual(trainedInPage.progress, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const sha = (b) => createHash('sha256').update(b).digest('hex');
    assert.equal(trainedInPage.sha256, sha(modelBytes), 'model trained in Chromium = model trained in node (wasm)');
    t.diagnostic(`trained in the page: validation accuracy ${trainedInPage.valAccuracy}, model sha256 ${trainedInPage.sha256.slice(0, 16)}…`);

    // Against the native build's features, suggestions and training, when there is one.
    if (existsSync(nativeCli) && spawnSync(nativeCli, ['extract', '--help']).status === 0) {
      const out = join(work, 'native');
      const r = spawnSync(nativeCli, ['extract', '--backend', 'portable', '--kernels', 'v128', '--weights', join(work, 'testnet.safetensors'),
        '--images', photoDir, '--points', join(work, 'points.csv'), '--out', out], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      let nworst = 0;
      for (const im of images) {
        const nat = await node.readNpz(readFileSync(join(out, `${im}.featurevector`)));
        const f = browserFeat.get(im);
        nworst = Math.max(nworst, maxAbsDiff(nat.features, 0, f, 0, f.length));
      }
      t.diagnostic(`max |browser - native| = ${nworst.toExponential(2)}`);
      assert.ok(nworst <= 1e-5, `max |browser - native| = ${nworst}`);

      const c = spawnSync(nativeCli, ['classify', '--model', join(work, 'model.safetensors'), '--features', out,
        '--points', join(work, 'points.csv'), '--out', join(work, 'scores.csv')], { encoding: 'utf8' });
      assert.equal(c.status, 0, c.stderr);
      const norm = (x) => x.replace(/\r\n/g, '\n').trimEnd();
      assert.equal(norm(pageCsv), norm(readFileSync(join(work, 'scores.csv'), 'utf8')), 'page CSV = polyp classify CSV');

      const fdir = join(work, 'clf-features');
      mkdirSync(fdir);
      const rows = ['Name,Row,Column,Label code'];
      for (const im of source) {
        writeFileSync(join(fdir, `${im.name}.featurevector`), await node.featuresToNpz(im.points, im.features));
        im.points.forEach(([r0, c0], k) => rows.push(`${im.name},${r0},${c0},${im.labels[k] ?? ''}`));
      }
      writeFileSync(join(work, 'annotations.csv'), rows.join('\n') + '\n');
      const tr = spawnSync(nativeCli, ['train', '--features', fdir, '--annotations', join(work, 'annotations.csv'),
        '--seed', '7', '--out', join(work, 'native-model')], { encoding: 'utf8' });
      assert.equal(tr.status, 0, tr.stderr);
      // The page's model is byte-identical to node's wasm one (checked above); it must score
      // every point like the native model (float rounding may differ in the last bits).
      const nativeModel = readFileSync(join(work, 'native-model'));
      const nat = await node.loadClassifier(nativeModel);
      const all = new Float32Array(source.length * 20 * DIM);
      source.forEach((im, i) => all.set(im.features, i * 20 * DIM));
      const [pn, pw] = [await nat.predict(all), await nodeClf.predict(all)];
      let pd = 0;
      for (let i = 0; i < pn.length; i++) pd = Math.max(pd, Math.abs(pn[i] - pw[i]));
      assert.ok(pd <= 1e-5, `max |native - page-trained| probability = ${pd}`);
      assert.equal(nat.valAccuracy, trainedInPage.valAccuracy);
      t.diagnostic(`page CSV = polyp classify CSV; page-trained model vs polyp train: max probability difference ${pd}` +
        (sha(nativeModel) === trainedInPage.sha256 ? ' (identical bytes)' : ''));
    } else {
      t.diagnostic('no native build/polyp extract: native comparison not run');
    }

    // 2. Not isolated: the page must fall back to the single-threaded module and say so.
    const logsBefore = logs.length;
    await page.goto(`${origin}/wasm/example/?coi=0&threads=4`);
    await page.waitForFunction(() => window.polypExample && (window.polypExample.ready || window.polypExample.error), null, { timeout: 120_000 });
    const fallback = await page.evaluate(() => ({ ...window.polypExample.engine, coi: crossOriginIsolated }));
    assert.equal(fallback.coi, false);
    assert.equal(fallback.flavor, 'simd');
    assert.equal(fallback.threads, 1);
    const said = logs.slice(logsBefore).filter((l) => l.startsWith('polyp'));
    t.diagnostic(`non-isolated page says: ${said.join(' | ')}`);
    assert.ok(said.some((l) => /not cross-origin isolated/.test(l)), `fallback reason logged: ${said.join(' | ')}`);

    // 3. Nothing outside the origin, and the requests we did see include the worker's.
    assert.deepEqual(blocked, [], 'requests blocked outside the origin');
    assert.deepEqual(seen.filter(foreign), [], 'requests outside the origin');
    for (const f of ['/wasm/worker.js', '/wasm/dist/polyp-simd-mt.wasm', '/wasm/dist/polyp-simd.wasm']) {
      assert.ok(server.requests.some((p) => p.startsWith(f)), `server saw ${f}`);
    }
    t.diagnostic(`${seen.length} requests seen by the browser, ${server.requests.length} served, 0 elsewhere`);
  } finally {
    node.terminate();
    if (context) await context.close();
    await server.close();
    rmSync(work, { recursive: true, force: true });
  }
});
