// image-key.test.mjs - `imageKey`: the worker keeps the last image decoded under a key, so
// patches then extraction of one photo decode it once. The kept image gives exactly what a
// fresh decode gives (patches byte for byte, features value for value), `decoded` says when a
// call decoded, another image or releaseImage() frees it.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPolyp } from '../../wasm/polyp.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const A = readFileSync(join(root, 'tests/fixtures/effnet/synth_300x200.png'));
const B = readFileSync(join(root, 'tests/fixtures/effnet/synth_57x41.png'));
const PTS = [[10, 20], [100, 150], [199, 299]];

let polyp;
test.before(async () => {
  polyp = await createPolyp({ threads: 1, log: null });
  await polyp.loadWeights(await polyp.buildTestnet(20261128n, readFileSync(join(root, 'models/testnet-bnstats.safetensors'))));
});
test.after(() => polyp.terminate());

test('one decode for patches then features of the same key; the results equal fresh decodes', async () => {
  const refPatches = await polyp.cropPatches(A, PTS);
  const refFeat = await polyp.extract(A, PTS);
  assert.equal('decoded' in refPatches, false, 'a call without a key keeps the result\'s old shape');
  const p = await polyp.cropPatches(A, PTS, { imageKey: 'a' });
  assert.equal(p.decoded, true, 'first call with the key decodes');
  const f = await polyp.extract(A, PTS, { imageKey: 'a' });
  assert.equal(f.decoded, false, 'the next call with the key does not');
  const info = await polyp.decodeImage(A, { imageKey: 'a', pixels: true });
  assert.equal(info.decoded, false);
  assert.deepEqual([info.width, info.height], [300, 200]);
  assert.deepEqual(Buffer.from(p.patches), Buffer.from(refPatches.patches));
  assert.deepEqual([...f.features], [...refFeat.features]);
  const one = await polyp.extract(A, [PTS[1]], { imageKey: 'a' });
  assert.deepEqual([...one.features], [...refFeat.features.subarray(1280, 2560)], 'one point alone: the same features');
});

test('another image frees the kept one; releaseImage() frees it; no key never keeps', async () => {
  await polyp.decodeImage(A, { imageKey: 'a' });
  assert.equal((await polyp.decodeImage(B, { imageKey: 'b' })).decoded, true);
  assert.equal((await polyp.decodeImage(A, { imageKey: 'a' })).decoded, true, 'a was freed by b');
  await polyp.decodeImage(B);
  assert.equal((await polyp.decodeImage(A, { imageKey: 'a' })).decoded, true, 'a keyless decode frees the kept image too');
  assert.equal(await polyp.releaseImage(), true);
  assert.equal((await polyp.decodeImage(A, { imageKey: 'a' })).decoded, true, 'released');
  assert.equal((await polyp.cropPatches(B, [[5, 5]], { imageKey: 'a' })).width, 300, 'a key names its bytes: the caller\'s promise');
});
