// npz.test.mjs - feature files written by the JS API carry the extractor record as the
// native `polyp extract` writes it, so `polyp train` binds models to browser-made features
// and refuses to mix them with another network's.
//
// References, none of them the code under test: the record worked out by hand from the
// weights' SHA-256 (node's crypto) and the test network's kind, width and variant; numpy
// reading the files; and, when a native build exists (build/polyp, or POLYP_NATIVE_BUILD),
// the files the native `polyp extract` writes for the same weights and `polyp train` reading
// a folder of JS-written files.
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPolyp } from '../../wasm/polyp.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const nativeCli = join(process.env.POLYP_NATIVE_BUILD || join(root, 'build'), 'polyp');
const haveNative = existsSync(nativeCli) && spawnSync(nativeCli, ['extract', '--help']).status === 0;
const python = '/usr/bin/python3';
const SEED = 20261128n;
const DIM = 1280;

const polyps = {};
let weights, info, record;

test.before(async () => {
  polyps[1] = await createPolyp({ threads: 1, log: null });
  polyps[2] = await createPolyp({ threads: 2, log: null });
  weights = await polyps[1].buildTestnet(SEED, readFileSync(join(root, 'models/testnet-bnstats.safetensors')));
  info = await polyps[1].loadWeights(weights);
  // By hand: the test network is an EfficientNet-B0 of CoralNet's (lukemelas) layout,
  // identified by its file's own bytes (core/polyp.h, polyp_weights_sha256).
  record = `efficientnet_b0:${createHash('sha256').update(weights).digest('hex')}:1280 variant=lukemelas`;
});

test.after(() => {
  for (const p of Object.values(polyps)) p.terminate();
});

const feats = (n, dim = DIM, k = 1) => Float32Array.from({ length: n * dim }, (_, i) => Math.sin(k * i + k));

/** numpy's view of .featurevector files: per file its member names and the record. */
function numpyRead(files) {
  const dir = mkdtempSync(join(tmpdir(), 'polyp-npz-'));
  try {
    const paths = files.map((b, i) => { const p = join(dir, `${i}.featurevector`); writeFileSync(p, b); return p; });
    const r = spawnSync(python, ['-c', `
import json, sys, numpy as np
out = []
for p in sys.argv[1:]:
    z = np.load(p)   # allow_pickle=False: the record must be a plain array
    e = z['extractor'] if 'extractor' in z.files else None
    out.append({'files': sorted(z.files), 'extractor': None if e is None else str(e),
                'dtype': None if e is None else e.dtype.str, 'shape': None if e is None else list(e.shape),
                'meta': z['meta'].tolist()})
print(json.dumps(out))`, ...paths], { encoding: 'utf8' });
    if (/No module named 'numpy'/.test(r.stderr)) return null;
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('loadWeights gives the extractor record polyp extract writes', () => {
  assert.equal(info.extractorRecord, record);
  assert.equal(info.extractorRecord, `${info.extractorId} variant=${info.variant}`);
});

test('a record written by featuresToNpz is read back by the C reader (both modules) and by numpy', async (t) => {
  const points = [[3, 4], [65535, 0]];
  const f = feats(2);
  const bytes = await polyps[1].featuresToNpz(points, f, { extractor: info.extractorRecord });
  for (const p of [polyps[1], polyps[2]]) {
    const back = await p.readNpz(bytes);
    assert.equal(back.extractor, record);
    assert.deepEqual([back.npoints, back.dim, [...back.rows], [...back.cols]], [2, DIM, [3, 65535], [4, 0]]);
    assert.deepEqual(back.features, f);
  }
  // The old call forms write no record, and reading such a file says so (null).
  const old = await polyps[2].featuresToNpz(points, f);
  const oldDim = await polyps[2].featuresToNpz(points, f, DIM);
  const none = await polyps[2].featuresToNpz(points, f, { dim: DIM, extractor: null });
  for (const b of [old, oldDim, none]) assert.equal((await polyps[1].readNpz(b)).extractor, null);
  // Another width through the options form (MobileNet v1's).
  const narrow = await polyps[1].featuresToNpz(points, feats(2, 1024), { dim: 1024, extractor: 'mobilenet_v1:ab:1024 variant=tflite' });
  assert.deepEqual([(await polyps[1].readNpz(narrow)).dim, (await polyps[1].readNpz(narrow)).extractor],
    [1024, 'mobilenet_v1:ab:1024 variant=tflite']);
  if (!existsSync(python)) return t.diagnostic('no /usr/bin/python3: numpy check not run');
  const np = numpyRead([bytes, old]);
  if (!np) return t.diagnostic('numpy missing: check not run');
  assert.deepEqual(np[0], { files: ['cols', 'extractor', 'feat', 'meta', 'rows'], extractor: record,
    dtype: `<U${record.length}`, shape: [], meta: [1, 2, DIM] });
  assert.deepEqual(np[1].files, ['cols', 'feat', 'meta', 'rows']);
});

test('a bad record is refused with a readable reason', async () => {
  const points = [[1, 1]];
  await assert.rejects(polyps[1].featuresToNpz(points, feats(1), { extractor: 'efficientnet_b0:x:1280 variant=é' }),
    (e) => e.name === 'PolypError' && e.statusName === 'invalid_arg' && /extractor record/.test(e.message));
  await assert.rejects(polyps[1].featuresToNpz(points, feats(1), { extractor: 'a'.repeat(1025) }),
    (e) => e.statusName === 'limit' && /extractor record of 1025 characters/.test(e.message));
  await assert.rejects(polyps[1].featuresToNpz(points, feats(1), { extractor: 42 }), TypeError);
});

test('the record equals native `polyp extract`\'s for the same weights; polyp train binds to it and refuses a mix',
  { skip: !haveNative && 'no native build/polyp' }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'polyp-npz-native-'));
    try {
      writeFileSync(join(dir, 'w.safetensors'), weights);
      mkdirSync(join(dir, 'images'));
      copyFileSync(join(root, 'tests/fixtures/effnet/synth_57x41.png'), join(dir, 'images/n.png'));
      const pts = [[5, 6], [30, 40], [0, 0], [40, 56]];
      writeFileSync(join(dir, 'one.csv'), 'Name,Row,Column\n' + pts.map(([r, c]) => `n.png,${r},${c}\n`).join(''));
      const ex = spawnSync(nativeCli, ['extract', '--backend', 'portable', '--threads', '1', '--weights', join(dir, 'w.safetensors'),
        '--images', join(dir, 'images'), '--points', join(dir, 'one.csv'), '--out', join(dir, 'feat')], { encoding: 'utf8' });
      assert.equal(ex.status, 0, ex.stderr);
      const nat = readFileSync(join(dir, 'feat/n.png.featurevector'));
      assert.equal((await polyps[1].readNpz(nat)).extractor, info.extractorRecord);
      // JS-written files of the same features, same record: numpy sees the same member.
      const natBack = await polyps[1].readNpz(nat);
      const mine = await polyps[1].featuresToNpz(pts, natBack.features, { extractor: info.extractorRecord });
      const np = existsSync(python) && numpyRead([nat, mine]);
      if (np) assert.deepEqual(np[1], np[0]);
      else t.diagnostic('numpy missing: numpy comparison not run');

      // A source of 12 images: the native file and 11 written here with the record. polyp
      // train reads them as one extractor and binds the model to it.
      const csv = ['Name,Row,Column,Label code'];
      pts.forEach(([r, c], i) => csv.push(`n.png,${r},${c},${i % 2 ? 'B' : 'A'}`));
      const write = async (name, extractor, k) => {
        const f = feats(pts.length, DIM, k);
        writeFileSync(join(dir, 'feat', `${name}.featurevector`), await polyps[2].featuresToNpz(pts, f, { extractor }));
      };
      for (let i = 1; i < 12; i++) {
        await write(`m${i}.png`, info.extractorRecord, i);
        pts.forEach(([r, c], j) => csv.push(`m${i}.png,${r},${c},${j % 2 ? 'B' : 'A'}`));
      }
      writeFileSync(join(dir, 'labels.csv'), csv.join('\n') + '\n');
      const train = (out) => spawnSync(nativeCli, ['train', '--threads', '1', '--epochs', '2', '--features', join(dir, 'feat'),
        '--annotations', join(dir, 'labels.csv'), '--out', join(dir, out)], { encoding: 'utf8' });
      const ok = train('model.safetensors');
      assert.equal(ok.status, 0, ok.stderr);
      const clf = await polyps[1].loadClassifier(readFileSync(join(dir, 'model.safetensors')));
      assert.equal(clf.extractorId, info.extractorId);
      await clf.dispose();
      // One file from other weights (another sha256) in the folder: refused, naming it.
      await write('m5.png', `efficientnet_b0:${'0'.repeat(64)}:1280 variant=lukemelas`, 5);
      const mixed = train('mixed.safetensors');
      assert.notEqual(mixed.status, 0);
      assert.match(mixed.stderr, /m5\.png\.featurevector comes from extractor efficientnet_b0:0{64}:1280.*cannot be mixed/);
      assert.equal(existsSync(join(dir, 'mixed.safetensors')), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
