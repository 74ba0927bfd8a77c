// patches.test.mjs - cropPatches(): the 224x224 patch the extractor sees at a point, as RGB
// bytes. Checked against the decoded pixels (decodeImage, itself checked against Pillow in
// api.test.mjs) cropped here by hand with numpy's 'reflect' rule (mirror without repeating
// the edge pixel), at the centre, at every border and corner, on a photo smaller than a patch.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPolyp } from '../../wasm/polyp.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const fixtures = join(root, 'tests/fixtures/effnet');
const S = 224;

/** numpy.pad(..., mode='reflect') index rule for any offset (the mirror has period 2(n-1)). */
function reflect(i, n) {
  if (n === 1) return 0;
  const p = 2 * (n - 1);
  let k = ((i % p) + p) % p;
  return k > n - 1 ? p - k : k;
}

function referencePatch(px, width, height, row, col) {
  const out = new Uint8Array(S * S * 3);
  for (let y = 0; y < S; y++) {
    const r = reflect(row - 112 + y, height);
    for (let x = 0; x < S; x++) {
      const c = reflect(col - 112 + x, width);
      for (let ch = 0; ch < 3; ch++) out[(y * S + x) * 3 + ch] = px[(r * width + c) * 3 + ch];
    }
  }
  return out;
}

let polyp;
test.before(async () => { polyp = await createPolyp({ threads: 1, log: null }); });
test.after(() => polyp.terminate());

test('reflect() is numpy\'s rule on hand-worked indices', () => {
  // numpy.pad(np.arange(4), 5, mode='reflect') = [1 2 3 2 1 | 0 1 2 3 | 2 1 0 1 2]
  assert.deepEqual([-5, -4, -3, -2, -1].map((i) => reflect(i, 4)), [1, 2, 3, 2, 1]);
  assert.deepEqual([4, 5, 6, 7, 8].map((i) => reflect(i, 4)), [2, 1, 0, 1, 2]);
});

for (const name of ['synth_300x200.png', 'synth_57x41.png']) {
  test(`cropPatches equals the reflect-padded crop of the decoded pixels (${name})`, async () => {
    const bytes = readFileSync(join(fixtures, name));
    const { width, height, pixels } = await polyp.decodeImage(bytes, { pixels: true });
    const points = [[Math.floor(height / 2), Math.floor(width / 2)], [0, 0], [height - 1, width - 1],
      [0, width - 1], [height - 1, 0], [Math.min(5, height - 1), Math.min(150, width - 1)]];
    const r = await polyp.cropPatches(bytes, points);
    assert.equal(r.npoints, points.length);
    assert.equal(r.width, width);
    assert.equal(r.patches.length, points.length * S * S * 3);
    points.forEach(([row, col], i) => {
      const want = referencePatch(pixels, width, height, row, col);
      const got = r.patches.subarray(i * S * S * 3, (i + 1) * S * S * 3);
      let bad = -1;
      for (let k = 0; k < want.length && bad < 0; k++) if (want[k] !== got[k]) bad = k;
      assert.equal(bad, -1, `point ${row},${col}: first differing byte ${bad}`);
      // The point itself is patch pixel (112, 112).
      assert.deepEqual([...got.subarray((112 * S + 112) * 3, (112 * S + 112) * 3 + 3)],
        [...pixels.subarray((row * width + col) * 3, (row * width + col) * 3 + 3)]);
    });
  });
}

test('a point outside the image is refused with the core\'s message', async () => {
  const bytes = readFileSync(join(fixtures, 'synth_57x41.png'));
  await assert.rejects(polyp.cropPatches(bytes, [[41, 0]]), (e) => e.name === 'PolypError' && /41|outside|point/i.test(e.message));
});
