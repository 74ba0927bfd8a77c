// model-export.test.mjs - a model trained by the web app (web/src/train.js, the train job's
// own steps) and exported by its "Export model" path (export.js modelFile) is a model of the
// native CLI: `polyp classify --model` scores native `polyp extract` features of the same
// weights with it, and refuses features of other weights, naming the full extractor id the
// model is bound to. Needs the native build (build/polyp, or POLYP_NATIVE_BUILD) and the
// wasm build; skipped, never passed, without them.
//
// References, none of them the code under test: the extractor id worked out by hand from
// the test network's bytes (node's crypto) and its kind and width; the model file's metadata
// read by Python's json from the safetensors header; the native CLI's scores and messages.
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPolyp, scorePercent } from '../../wasm/polyp.js';
import { trainAndJudge, extractorIdFor } from '../../web/src/train.js';
import { modelFile } from '../../web/src/export.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const nativeCli = join(process.env.POLYP_NATIVE_BUILD || join(root, 'build'), 'polyp');
const haveNative = existsSync(nativeCli) && spawnSync(nativeCli, ['classify', '--help']).status === 0;
const built = existsSync(join(root, 'wasm/dist/polyp-simd.mjs'));
const why = (!built && 'wasm/dist not built') || (!haveNative && 'no native build/polyp');
const IMAGES = ['synth_300x200.png', 'synth_57x41.png'];
const POINTS = [[5, 6], [30, 40], [0, 0], [40, 56], [20, 10], [12, 33]];

/** The `extractor` metadata of a model file, as Python reads the safetensors header. */
function modelExtractor(path) {
  const r = spawnSync('/usr/bin/python3', ['-c', `
import json, struct, sys
b = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
print(json.loads(b[8:8 + n])['__metadata__']['extractor'])`, path], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

test('a model exported by the app is polyp classify\'s for features of its weights, and refused for other weights', { skip: why }, async () => {
  const polyp = await createPolyp({ threads: 1, log: null });
  const dir = mkdtempSync(join(tmpdir(), 'polyp-model-export-'));
  try {
    const weights = await polyp.buildTestnet(20261128n, readFileSync(join(root, 'models/testnet-bnstats.safetensors')));
    const sha = createHash('sha256').update(weights).digest('hex');
    const id = `efficientnet_b0:${sha}:1280`;          // the test network: an EfficientNet-B0, 1280-d
    const info = await polyp.loadWeights(weights.slice());
    writeFileSync(join(dir, 'w.safetensors'), weights);
    mkdirSync(join(dir, 'images'));
    for (const im of IMAGES) copyFileSync(join(root, 'tests/fixtures/effnet', im), join(dir, 'images', im));
    const csv = ['Name,Row,Column'];
    for (const im of IMAGES) for (const [r, c] of POINTS) csv.push(`${im},${r},${c}`);
    writeFileSync(join(dir, 'points.csv'), csv.join('\n') + '\n');
    const extract = (w, out) => {
      const r = spawnSync(nativeCli, ['extract', '--backend', 'portable', '--threads', '1', '--weights', w,
        '--images', join(dir, 'images'), '--points', join(dir, 'points.csv'), '--out', out], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    };
    extract(join(dir, 'w.safetensors'), join(dir, 'feat'));
    const native = await Promise.all(IMAGES.map(async (im) => polyp.readNpz(readFileSync(join(dir, 'feat', `${im}.featurevector`)))));
    assert.equal(native[0].extractor, `${id} variant=lukemelas`);

    // The app's project: 16 annotated photos whose stored features are the native ones (as
    // the extract job stores them: under the weights' sha256), the weights' record stored as
    // createTestnetExtractor stores it, the id derived from it as the train job does.
    const project = { id: 'pr', extractor: { sha256: info.sha256, kind: info.kind, dim: info.featureDim, name: 'Test network', testnet: true } };
    const store = { getWeights: async (s) => (s === info.sha256 ? { sha256: s, name: 'Test network', kind: 'testnet', bytes: null, record: info.extractorRecord } : undefined) };
    const photos = [], feats = new Map();
    for (let i = 0; i < 16; i++) {
      const points = POINTS.map(([row, col], k) => ({ row, col, label: (k + i) % 3 ? 'Sand' : 'Coral', state: 'confirmed', suggestions: null, changed: false }));
      photos.push({ id: `p${i}`, name: `p${i}.png`, points });
      const n = native[i % 2];
      feats.set(`p${i}`, { photoId: `p${i}`, extractorSha: info.sha256, rows: n.rows, cols: n.cols, feat: n.features });
    }
    const extractorId = await extractorIdFor(store, project);
    assert.equal(extractorId, id);
    const { classifier, record } = await trainAndJudge(polyp, { photos, featuresOf: (p) => feats.get(p.id), extractorSha: info.sha256, extractorId });
    const file = modelFile({ ...record, projectId: project.id }, record.extractorId);
    assert.match(file.message, new RegExp(`bound to extractor ${id}; \`polyp classify --model\` reads it`));
    writeFileSync(join(dir, 'model.safetensors'), new Uint8Array(await file.blob.arrayBuffer()));
    assert.equal(modelExtractor(join(dir, 'model.safetensors')), id);

    // Native classify on the native features of the same weights: every point scored; its
    // top suggestion is the label the app's classifier ranks first for that point.
    const classify = (model, features) => spawnSync(nativeCli, ['classify', '--model', model, '--features', features,
      '--points', join(dir, 'points.csv'), '--out', join(dir, 'scores.csv')], { encoding: 'utf8' });
    const ok = classify(join(dir, 'model.safetensors'), join(dir, 'feat'));
    assert.equal(ok.status, 0, ok.stderr);
    const lines = readFileSync(join(dir, 'scores.csv'), 'utf8').trim().split(/\r?\n/);
    assert.equal(lines[0].split(',').slice(0, 6).join(','), 'Name,Row,Column,Label code,Machine suggestion 1,Machine confidence 1');
    assert.equal(lines.length, 1 + IMAGES.length * POINTS.length);
    const K = classifier.labels.length;
    for (const [j, im] of IMAGES.entries()) {
      const probs = await classifier.predict(native[j].features);
      POINTS.forEach(([r, c], q) => {
        const cells = lines[1 + j * POINTS.length + q].split(',');
        assert.deepEqual(cells.slice(0, 3), [im, String(r), String(c)]);
        let best = 0;
        for (let k = 1; k < K; k++) if (probs[q * K + k] > probs[q * K + best]) best = k;
        assert.equal(cells[4], classifier.labels[best], `${im} point ${q}`);
        assert.equal(Number(cells[5]), scorePercent(probs[q * K + best]), `${im} point ${q} confidence`);
      });
    }

    // Other weights (one byte of a tensor flipped: another sha256): their features are refused,
    // and the message names the model's full id.
    const bad = Buffer.from(weights);
    bad[bad.length - 5] ^= 1;
    writeFileSync(join(dir, 'other.safetensors'), bad);
    const otherSha = createHash('sha256').update(bad).digest('hex');
    extract(join(dir, 'other.safetensors'), join(dir, 'other'));
    const refused = classify(join(dir, 'model.safetensors'), join(dir, 'other'));
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, new RegExp(`features come from extractor efficientnet_b0:${otherSha}:1280 but the model was trained for extractor ${id}`));

    // A model an older version of the app stored (bound to the bare sha256) still exports to a
    // file polyp classify accepts for the same weights' features; the message says so.
    const old = await trainAndJudge(polyp, { photos, featuresOf: (p) => feats.get(p.id), extractorSha: info.sha256 });
    const { extractorId: _, ...oldRecord } = old.record;
    const oldFile = modelFile(oldRecord, oldRecord.extractorSha);
    assert.match(oldFile.message, /older version of the app.*the next training binds to the full extractor id/);
    writeFileSync(join(dir, 'old.safetensors'), new Uint8Array(await oldFile.blob.arrayBuffer()));
    assert.equal(modelExtractor(join(dir, 'old.safetensors')), sha);
    const oldOk = classify(join(dir, 'old.safetensors'), join(dir, 'feat'));
    assert.equal(oldOk.status, 0, oldOk.stderr);
    await classifier.dispose();
    await old.classifier.dispose();
  } finally {
    polyp.terminate();
    rmSync(dir, { recursive: true, force: true });
  }
});
