// tflite.test.mjs - TFLite MobileNets through the JS API (wasm/polyp.js -> worker -> wasm):
// the same features as the native CLI with the same (v128) kernels, for both artifacts.
// The native CLI's features are themselves checked against an independent numpy reference
// (tests/e2e/test_tflite.py), so this closes the chain for the browser build. Needs
// ../shared/testdata (MobileNet files, Seattle patches) and build/polyp; skipped otherwise.
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPolyp } from '../../wasm/polyp.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const testdata = process.env.POLYP_TESTDATA || join(root, '../shared/testdata');
const nativeCli = join(process.env.POLYP_NATIVE_BUILD || join(root, 'build'), 'polyp');
const seattle = join(testdata, 'seattle-patches');
const MODELS = [
  ['mobilenet_v1_1.0_224_quant_embedding_extractor.tflite', 'mobilenet_v1', 1024],
  ['mobilenet_v2_1.0_224_quant.tflite', 'mobilenet_v2', 1280],
];
const skip = (!existsSync(join(testdata, 'mobilenet-tflite', MODELS[0][0])) && '../shared/testdata missing') ||
  (!existsSync(nativeCli) && 'no native build/polyp');

// Four patches spread over points.csv (some smaller than 224 px: reflect padding).
const points = skip ? [] : (() => {
  const rows = readFileSync(join(seattle, 'points.csv'), 'utf8').trim().split(/\r?\n/).slice(1);
  return [0, 170, 340, 510].map((i) => {
    const [image, row, col] = rows[i].split(',');
    return { image, row: Number(row), col: Number(col) };
  });
})();

function nativeFeatures(model, dim) {
  const dir = mkdtempSync(join(tmpdir(), 'polyp-tflite-wasm-'));
  try {
    writeFileSync(join(dir, 'points.csv'), 'Name,Row,Column\n' + points.map((p) => `${p.image},${p.row},${p.col}`).join('\n') + '\n');
    const r = spawnSync(nativeCli, ['extract', '--backend', 'portable', '--kernels', 'v128', '--threads', '1',
      '--weights', join(testdata, 'mobilenet-tflite', model), '--images', seattle, '--points', join(dir, 'points.csv'),
      '--out', join(dir, 'out')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    // .featurevector: an uncompressed npz (pyspacer's layout: feat is float64)
    return points.map((p) => {
      const b = readFileSync(join(dir, 'out', p.image + '.featurevector'));
      const i = b.indexOf('feat.npy');
      assert.ok(i >= 0, 'feat.npy in the npz');
      const magic = b.indexOf('\x93NUMPY', i, 'latin1'); // .npy v1: magic, version, u16 header length
      const hdr = magic + 10 + b.readUInt16LE(magic + 8);
      return new Float64Array(b.buffer.slice(b.byteOffset + hdr, b.byteOffset + hdr + dim * 8)); // pyspacer's float64
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const threads of [1, 2]) {
  test(`TFLite MobileNets in wasm equal the native v128 features (threads ${threads})`, { skip }, async (t) => {
    const polyp = await createPolyp({ threads, log: null });
    try {
      for (const [model, kind, dim] of MODELS) {
        const info = await polyp.loadWeights(readFileSync(join(testdata, 'mobilenet-tflite', model)));
        assert.equal(info.kind, kind);
        assert.equal(info.featureDim, dim);
        assert.equal(info.variant, 'tflite');
        const want = nativeFeatures(model, dim);
        let worst = 0;
        for (const [k, p] of points.entries()) {
          const r = await polyp.extract(readFileSync(join(seattle, p.image)), [[p.row, p.col]]);
          assert.equal(r.features.length, dim);
          for (let i = 0; i < dim; i++) worst = Math.max(worst, Math.abs(r.features[i] - want[k][i]));
        }
        t.diagnostic(`${kind}: max |wasm - native v128| = ${worst}`);
        assert.ok(worst <= 1e-5, `${kind}: max |wasm - native v128| = ${worst}`);
      }
    } finally {
      polyp.terminate();
    }
  });
}
