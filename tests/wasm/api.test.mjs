// api.test.mjs - the JS API (wasm/polyp.js -> worker -> wasm) under node's test runner.
//
// References are independent of the code under test: PyTorch's features for the fixture
// patches (tests/fixtures/effnet/features.f32, models/make_fixtures.py), hand-written CSV
// values, and, when a native build exists (build/polyp, or POLYP_NATIVE_BUILD), the native
// CLI's test network bytes and extracted features. Both artifacts run: polyp-simd
// (threads 1) and polyp-simd-mt (threads 2).
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPolyp } from '../../wasm/polyp.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const fixtures = join(root, 'tests/fixtures/effnet');
const testdata = process.env.POLYP_TESTDATA || join(root, '../shared/testdata');
const nativeBuild = process.env.POLYP_NATIVE_BUILD || join(root, 'build');
const nativeCli = join(nativeBuild, 'polyp');
const SEED = 20261128n;
const DIM = 1280;

function readCases() {
  const lines = readFileSync(join(fixtures, 'cases.csv'), 'utf8').trim().split(/\r?\n/).slice(1);
  return lines.map((l, index) => {
    const [source, image, row, col] = l.split(',');
    return { index, source, image, row: Number(row), col: Number(col) };
  });
}

const cases = readCases();
const expected = (() => {
  const b = readFileSync(join(fixtures, 'features.f32'));
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
})();
assert.equal(expected.length, cases.length * DIM, 'features.f32 has one row per case');

const haveTestdata = existsSync(testdata);
const imagePath = (c) => join(c.source === 'fixtures' ? fixtures : testdata, c.image);

/** cases grouped by image, in case order within each image */
function byImage(list) {
  const m = new Map();
  for (const c of list) {
    if (!m.has(c.image)) m.set(c.image, []);
    m.get(c.image).push(c);
  }
  return m;
}

function maxAbsDiff(a, aOff, b, bOff, n) {
  let d = 0;
  for (let i = 0; i < n; i++) d = Math.max(d, Math.abs(a[aOff + i] - b[bOff + i]));
  return d;
}

const nativeHas = (cmd) => existsSync(nativeCli) &&
  spawnSync(nativeCli, [cmd, '--help'], { encoding: 'utf8' }).status === 0;

const polyps = {};
let weights = null;
const quiet = { log: null };

test.before(async () => {
  polyps[1] = await createPolyp({ threads: 1, ...quiet });
  polyps[2] = await createPolyp({ threads: 2, ...quiet });
  weights = await polyps[1].buildTestnet(SEED, readFileSync(join(root, 'models/testnet-bnstats.safetensors')));
  for (const p of Object.values(polyps)) await p.loadWeights(weights);
});

test.after(() => {
  for (const p of Object.values(polyps)) p.terminate();
});

test('the loader picks polyp-simd for 1 thread and polyp-simd-mt for 2', () => {
  assert.equal(polyps[1].flavor, 'simd');
  assert.equal(polyps[1].threads, 1);
  assert.equal(polyps[2].flavor, 'simd-mt');
  assert.equal(polyps[2].threads, 2);
  assert.match(polyps[1].version, /^\d+\.\d+\.\d+$/);
});

test('the test network built in wasm equals the native `polyp testnet` file', { skip: !nativeHas('testnet') && 'no native build/polyp' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'polyp-wasm-'));
  try {
    const out = join(dir, 'testnet.safetensors');
    const r = spawnSync(nativeCli, ['testnet', '--out', out], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(new Uint8Array(readFileSync(out)), weights);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const runnable = cases.filter((c) => c.source === 'fixtures' || haveTestdata);
const featuresBy = {};   // threads -> Float32Array(cases.length * DIM), NaN where not run

for (const threads of [1, 2]) {
  test(`features equal PyTorch's within 1e-4 (polyp-${threads === 1 ? 'simd' : 'simd-mt'})`, async (t) => {
    if (!haveTestdata) t.diagnostic(`../shared/testdata missing: ${cases.length - runnable.length} testdata cases not run`);
    const got = new Float32Array(cases.length * DIM).fill(NaN);
    let worst = 0;
    for (const [image, list] of byImage(runnable)) {
      const r = await polyps[threads].extract(readFileSync(imagePath(list[0])), list.map((c) => [c.row, c.col]));
      assert.equal(r.npoints, list.length);
      assert.equal(r.features.length, list.length * DIM);
      list.forEach((c, k) => got.set(r.features.subarray(k * DIM, (k + 1) * DIM), c.index * DIM));
      for (const [k, c] of list.entries()) {
        const d = maxAbsDiff(r.features, k * DIM, expected, c.index * DIM, DIM);
        worst = Math.max(worst, d);
        assert.ok(d <= 1e-4, `${image} (${c.row}, ${c.col}): max |wasm - PyTorch| = ${d}`);
      }
    }
    featuresBy[threads] = got;
    t.diagnostic(`${runnable.length} cases checked, max |wasm - PyTorch| = ${worst.toExponential(2)}`);
  });
}

test('both artifacts give the same features (within 1e-6)', (t) => {
  assert.ok(featuresBy[1] && featuresBy[2], 'the extraction tests ran');
  let d = 0;
  for (const c of runnable) d = Math.max(d, maxAbsDiff(featuresBy[1], c.index * DIM, featuresBy[2], c.index * DIM, DIM));
  t.diagnostic(`max |simd - simd-mt| = ${d}`);
  assert.ok(d <= 1e-6, `max |simd - simd-mt| = ${d}`);
});

test('features equal the native build\'s (same v128 kernels) within 1e-5', { skip: !nativeHas('extract') && 'no native `polyp extract` in build/' }, async (t) => {
  let worst = 0;
  const dir = mkdtempSync(join(tmpdir(), 'polyp-wasm-'));
  try {
    const fixtureCases = cases.filter((c) => c.source === 'fixtures');
    const images = join(dir, 'images');
    spawnSync('mkdir', ['-p', images]);
    for (const image of byImage(fixtureCases).keys()) copyFileSync(join(fixtures, image), join(images, image));
    writeFileSync(join(dir, 'points.csv'),
      'Name,Row,Column\n' + fixtureCases.map((c) => `${c.image},${c.row},${c.col}`).join('\n') + '\n');
    writeFileSync(join(dir, 'w.safetensors'), weights);
    const r = spawnSync(nativeCli, ['extract', '--backend', 'portable', '--kernels', 'v128', '--weights', join(dir, 'w.safetensors'), '--images', images,
      '--points', join(dir, 'points.csv'), '--out', join(dir, 'out')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    for (const [image, list] of byImage(fixtureCases)) {
      const nat = await polyps[1].readNpz(readFileSync(join(dir, 'out', `${image}.featurevector`)));
      assert.equal(nat.npoints, list.length);
      for (const [k, c] of list.entries()) {
        assert.equal(nat.rows[k], c.row);
        assert.equal(nat.cols[k], c.col);
        const d = maxAbsDiff(nat.features, k * DIM, featuresBy[1], c.index * DIM, DIM);
        worst = Math.max(worst, d);
        assert.ok(d <= 1e-5, `${image} (${c.row}, ${c.col}): max |wasm - native| = ${d}`);
      }
    }
    t.diagnostic(`${fixtureCases.length} cases, max |wasm - native| = ${worst.toExponential(2)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('progress is reported per chunk and a cancelled extraction stops and rejects', async () => {
  const png = readFileSync(join(fixtures, 'synth_300x200.png'));
  const points = Array.from({ length: 12 }, (_, i) => [i * 10, i * 20]);
  const seen = [];
  const ac = new AbortController();
  await assert.rejects(
    polyps[1].extract(png, points, {
      chunk: 2,
      signal: ac.signal,
      onProgress: (done, total) => { seen.push([done, total]); ac.abort(); },
    }),
    (e) => e.name === 'AbortError' && e.statusName === 'cancelled');
  assert.ok(seen.length >= 1 && seen.length < 6, `stopped early (progress: ${JSON.stringify(seen)})`);
  assert.deepEqual(seen[0], [2, 12]);
  // The worker is still usable after a cancel.
  const r = await polyps[1].extract(png, points.slice(0, 1));
  assert.equal(r.npoints, 1);
  assert.deepEqual([r.width, r.height], [300, 200]);
});

test('loadWeights names the extractor and reads PyTorch checkpoints as the native build does', async () => {
  const sha = (b) => createHash('sha256').update(b).digest('hex');
  const info = await polyps[1].loadWeights(weights);
  assert.equal(info.kind, 'efficientnet_b0');
  assert.equal(info.featureDim, 1280);
  assert.equal(info.sha256, sha(weights));
  assert.equal(info.extractorId, `efficientnet_b0:${sha(weights)}:1280`);
  // A torch.save file's bytes go through the same loader: a small non-B0 state_dict is read
  // through the restricted unpickler and refused at the layout check.
  await assert.rejects(polyps[1].loadWeights(readFileSync(join(root, 'tests/fixtures/checkpoints/state_dict_zip.pth'))),
    (e) => e.statusName === 'format' && /unexpected tensor view/.test(e.message));
  await assert.rejects(polyps[1].loadWeights(new Uint8Array([0x80, 2, 0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e])),
    (e) => e.statusName === 'format' && /checkpoint/.test(e.message));
  // CoralNet's layout as a real checkpoint (Debian's python3-torch, when present): the same
  // features as the safetensors file, identified by the checkpoint's sha256.
  const tmp = mkdtempSync(join(tmpdir(), 'polyp-pth-'));
  try {
    writeFileSync(join(tmp, 'w.safetensors'), weights);
    const py = spawnSync('/usr/bin/python3', ['-c', [
      'import sys; sys.path[:0] = [sys.argv[3] + "/tests/e2e", sys.argv[3] + "/models"]',
      'import torch, make_checkpoints',
      'sd = make_checkpoints.canonical(sys.argv[1])',
      'torch.save({"net": {"module." + k: v for k, v in sd.items()}}, sys.argv[2])'].join('\n'),
    join(tmp, 'w.safetensors'), join(tmp, 'coralnet.pth'), root], { encoding: 'utf8' });
    if (py.status !== 0) {
      console.log('# skipped the .pth half: no python3-torch (%s)', py.stderr.trim().split('\n').pop());
      return;
    }
    const png = readFileSync(join(fixtures, 'synth_300x200.png'));
    const points = [[10, 20], [100, 150], [199, 299]];
    const want = (await polyps[1].extract(png, points)).features;
    const pth = readFileSync(join(tmp, 'coralnet.pth'));
    const got = await polyps[1].loadWeights(pth);
    assert.equal(got.sha256, sha(pth));
    assert.equal(got.extractorId, `efficientnet_b0:${sha(pth)}:1280`);
    assert.equal(got.variant, 'lukemelas');
    const f = (await polyps[1].extract(png, points)).features;
    assert.deepEqual(Buffer.from(f.buffer, f.byteOffset, f.byteLength), Buffer.from(want.buffer, want.byteOffset, want.byteLength));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    await polyps[1].loadWeights(weights);
  }
});

test('errors carry the core\'s status and reason', async () => {
  // A safetensors header whose JSON is cut short: a format error naming the file's part.
  await assert.rejects(polyps[1].loadWeights(new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x78])),
    (e) => e.name === 'PolypError' && e.statusName === 'format' && /safetensors/.test(e.message));
  // An absurd header length is refused before allocating.
  await assert.rejects(polyps[1].loadWeights(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9])),
    (e) => e.statusName === 'limit' && /header length/.test(e.message));
  // The failed load left the previous weights in place.
  const png = readFileSync(join(fixtures, 'synth_57x41.png'));
  await assert.rejects(polyps[1].extract(png, [[41, 0]]),
    (e) => e.statusName === 'invalid_arg' && /41/.test(e.message));
  await assert.rejects(polyps[1].decodeImage(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0])),
    (e) => e.statusName === 'format');
  assert.throws(() => polyps[1].extract(png, [[-1, 2]]), TypeError);
});

test('decodeImage reports size (gray and RGBA PNGs decode too)', async () => {
  assert.deepEqual(await polyps[1].decodeImage(readFileSync(join(fixtures, 'synth_gray_64x64.png'))),
    { width: 64, height: 64, truncated: false });
  assert.deepEqual(await polyps[2].decodeImage(readFileSync(join(fixtures, 'synth_rgba_80x60.png'))),
    { width: 80, height: 60, truncated: false });
});

test('JPEG pixels equal Pillow\'s (libjpeg-turbo in wasm), 4:2:0 and 4:4:4, and a truncated file', async (t) => {
  const py = '/usr/bin/python3';
  if (!existsSync(py)) return t.skip('no /usr/bin/python3 (Pillow is the reference)');
  const dir = mkdtempSync(join(tmpdir(), 'polyp-wasm-'));
  try {
    // Pillow writes the JPEGs (from a textured image: smooth content would hide IDCT and
    // upsampling differences) and decodes them; its RGB bytes are the reference.
    const r = spawnSync(py, ['-c', `
import io, sys, numpy as np
from PIL import Image
d = sys.argv[1]
y, x = np.mgrid[0:75, 0:97]
rng = np.random.default_rng(7)
a = np.stack([128 + 60 * np.sin(x / 3.0 + y / 5.0), 128 + 60 * np.cos(x / 4.0 - y / 2.0),
              (x * 5 + y * 3) % 256], axis=2) + rng.normal(0, 20, (75, 97, 3))
im = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
for name, sub in (('s420', 2), ('s444', 0)):
    im.save(d + '/' + name + '.jpg', quality=87, subsampling=sub)
    open(d + '/' + name + '.rgb', 'wb').write(Image.open(d + '/' + name + '.jpg').convert('RGB').tobytes())
data = open(d + '/s420.jpg', 'rb').read()
open(d + '/cut.jpg', 'wb').write(data[: len(data) * 2 // 3])
from PIL import ImageFile
ImageFile.LOAD_TRUNCATED_IMAGES = True
open(d + '/cut.rgb', 'wb').write(Image.open(d + '/cut.jpg').convert('RGB').tobytes())
`, dir], { encoding: 'utf8' });
    if (/No module named/.test(r.stderr)) return t.skip('Pillow/numpy missing');
    assert.equal(r.status, 0, r.stderr);
    for (const name of ['s420', 's444', 'cut']) {
      for (const threads of [1, 2]) {
        const got = await polyps[threads].decodeImage(readFileSync(join(dir, `${name}.jpg`)), { pixels: true });
        assert.deepEqual([got.width, got.height], [97, 75]);
        assert.equal(got.truncated, name === 'cut', `${name}: truncated flag`);
        const want = new Uint8Array(readFileSync(join(dir, `${name}.rgb`)));
        let diff = 0;
        for (let i = 0; i < want.length; i++) if (got.pixels[i] !== want[i]) diff++;
        assert.equal(diff, 0, `${name} (threads ${threads}): ${diff} of ${want.length} bytes differ from Pillow`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CoralNet CSV import through the worker', async () => {
  const csv = '\ufeff Name , row,COLUMN,Label code,Extra\nimg 1.jpg,10,20,CCA,x\nimg2.jpg,0,5,,y\n';
  const r = await polyps[2].parseAnnotationsCsv(csv);
  assert.deepEqual(r.names, ['img 1.jpg', 'img2.jpg']);
  assert.deepEqual([...r.rows], [10, 0]);
  assert.deepEqual([...r.cols], [20, 5]);
  assert.equal(r.labels[0], 'CCA');
  assert.ok(r.labels[1] === null || r.labels[1] === '', `no label: ${JSON.stringify(r.labels[1])}`);
  await assert.rejects(polyps[1].parseAnnotationsCsv('Name,Row\na,1\n'), (e) => e.statusName === 'format' || e.statusName === 'invalid_arg');
});

test('.featurevector round trip, readable by numpy', async (t) => {
  const points = [[1, 2], [300, 65535]];
  const feats = Float32Array.from({ length: 2 * DIM }, (_, i) => Math.sin(i) * 3);
  let bytes;
  try {
    bytes = await polyps[1].featuresToNpz(points, feats);
  } catch (e) {
    if (e.statusName === 'unsupported') return t.skip(e.message);
    throw e;
  }
  const back = await polyps[2].readNpz(bytes);
  assert.equal(back.npoints, 2);
  assert.equal(back.dim, DIM);
  assert.deepEqual([...back.rows], [1, 300]);
  assert.deepEqual([...back.cols], [2, 65535]);
  assert.deepEqual(back.features, feats);
  const py = '/usr/bin/python3';
  if (!existsSync(py)) return t.diagnostic('no /usr/bin/python3: numpy check not run');
  const dir = mkdtempSync(join(tmpdir(), 'polyp-wasm-'));
  try {
    writeFileSync(join(dir, 'x.featurevector'), bytes);
    const r = spawnSync(py, ['-c', `
import numpy as np, sys
z = np.load(sys.argv[1])
assert list(z['meta']) == [1, 2, 1280], z['meta']
assert z['rows'].dtype == np.uint16 and list(z['rows']) == [1, 300]
assert list(z['cols']) == [2, 65535]
assert z['feat'].dtype == np.float64 and z['feat'].shape == (2, 1280)
i = np.arange(2 * 1280).reshape(2, 1280)
assert np.array_equal(z['feat'], (np.sin(i) * 3).astype(np.float32).astype(np.float64))
print('ok')`, join(dir, 'x.featurevector')], { encoding: 'utf8' });
    if (/No module named 'numpy'/.test(r.stderr)) return t.diagnostic('numpy missing: check not run');
    assert.equal(r.status, 0, r.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
