// pack_check.mjs - run by tests/wasm/pack.sh inside a scratch project that installed the
// packed tarball: `polyp` here is node_modules/polyp, the in-repo API is argv[2]/wasm/polyp.js.
// Both modules (polyp-simd: threads 1, polyp-simd-mt: threads 2) must give the in-repo
// build's features bit for bit, and PyTorch's (features.f32) within 1e-4.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createPolyp, FEATURE_DIM, STATUS } from 'polyp';

const root = process.argv[2];
const fixtures = join(root, 'tests/fixtures/effnet');
const repo = await import(pathToFileURL(join(root, 'wasm/polyp.js')).href);
const bnStats = readFileSync(join(root, 'models/testnet-bnstats.safetensors'));
const image = 'synth_300x200.png';
const cases = readFileSync(join(fixtures, 'cases.csv'), 'utf8').trim().split(/\r?\n/).slice(1)
  .map((l, index) => { const [, img, row, col] = l.split(','); return { index, img, row: +row, col: +col }; })
  .filter((c) => c.img === image);
const torch = (() => {
  const b = readFileSync(join(fixtures, 'features.f32'));
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
})();
assert.ok(cases.length >= 4, `${image} has ${cases.length} cases in cases.csv`);
assert.equal(typeof STATUS.cancelled, 'number');

async function features(api, threads) {
  const polyp = await api.createPolyp({ threads, log: null });
  try {
    const weights = await polyp.buildTestnet(20261128n, bnStats);
    await polyp.loadWeights(weights);
    const info = await polyp.decodeImage(readFileSync(join(fixtures, image)));
    assert.deepEqual([info.width, info.height], [300, 200]);
    const r = await polyp.extract(readFileSync(join(fixtures, image)), cases.map((c) => [c.row, c.col]));
    return { flavor: polyp.flavor, features: r.features };
  } finally {
    polyp.terminate();
  }
}

for (const threads of [1, 2]) {
  const got = await features({ createPolyp }, threads);
  const ref = await features(repo, threads);
  assert.equal(got.flavor, threads === 1 ? 'simd' : 'simd-mt');
  assert.deepEqual(got.features, ref.features, `polyp-${got.flavor}: installed package = in-repo build`);
  let worst = 0;
  cases.forEach((c, k) => {
    for (let d = 0; d < FEATURE_DIM; d++) {
      worst = Math.max(worst, Math.abs(got.features[k * FEATURE_DIM + d] - torch[c.index * FEATURE_DIM + d]));
    }
  });
  assert.ok(worst <= 1e-4, `polyp-${got.flavor}: max |installed - PyTorch| = ${worst}`);
  console.log(`installed polyp-${got.flavor}: ${cases.length} points = in-repo build, max |d| vs PyTorch ${worst.toExponential(2)}`);
}
