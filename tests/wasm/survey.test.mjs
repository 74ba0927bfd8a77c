// survey.test.mjs - the pure-JS helpers of wasm/survey.js and wasm/zip.js. References:
// hand-worked values (CoralNet's own export tests for the percent-cover CSV lines), numpy for
// mean and standard error over random covers, Python's zipfile (testzip = CRC check) for the
// archives written here, and zipfile-written archives read back here. Needs no wasm build.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  scorePercent, floorPercent, formatSuggestion, topSuggestions, combineScores, alleviateAccepts,
  percentCover, percentCoverCsv,
} from '../../wasm/survey.js';
import { crc32, zipFiles, unzipFiles } from '../../wasm/zip.js';

const py = (code, input) => {
  const r = spawnSync('/usr/bin/python3', ['-c', code], { input, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
};

test('percents: the tool floors, the export and Alleviate round half up', () => {
  assert.equal(floorPercent(0.999), 99);
  assert.equal(scorePercent(0.999), 100);
  assert.equal(floorPercent(0.125), 12);
  assert.equal(scorePercent(0.125), 13);
  assert.equal(scorePercent(0.124), 12);
  assert.equal(floorPercent(1), 100);
  assert.equal(scorePercent(-0.1), 0);
  assert.equal(formatSuggestion('Porit', 0.8799), 'Porit [87%]');
  assert.equal(formatSuggestion('CCA', 0.05), 'CCA [5%]');
});

test('top suggestions: highest first, ties in class order, NaN rows give none', () => {
  const labels = ['A', 'B', 'C', 'D', 'E', 'F'];
  const probs = new Float32Array([0.1, 0.3, 0.05, 0.3, 0.2, 0.05, NaN, NaN, NaN, NaN, NaN, NaN]);
  assert.deepEqual(topSuggestions(probs, labels, 5, 0).map((s) => s.code), ['B', 'D', 'E', 'A', 'C']);
  assert.deepEqual(topSuggestions(probs, labels, 2, 0).map((s) => s.code), ['B', 'D']);
  assert.deepEqual(topSuggestions(probs, labels, 5, 1), []);
  assert.throws(() => topSuggestions(probs, labels, 5, 2), /row 2/);
});

test('combined score of several points: normalised product, also for 200 tiny scores', () => {
  // Hand-worked: [0.5,0.3,0.2] x [0.2,0.6,0.2] = [0.1,0.18,0.04] / 0.32
  const c = combineScores([[0.5, 0.3, 0.2], [0.2, 0.6, 0.2]]);
  [0.1 / 0.32, 0.18 / 0.32, 0.04 / 0.32].forEach((v, i) => assert.ok(Math.abs(c[i] - v) < 1e-12));
  // 200 points of 1e-3 vs 2e-3: the direct product underflows to 0/0; the ratio is 2^200.
  const rows = Array.from({ length: 200 }, () => [1e-3, 2e-3]);
  const d = combineScores(rows);
  assert.ok(Math.abs(d[1] - 1) < 1e-12 && d[0] > 0 && d[0] < 1e-59, `${d[0]} ${d[1]}`);
  assert.equal(combineScores([[0, 1], [1, 0]]).every(Number.isNaN), true);
  assert.deepEqual([...combineScores([[0, 0.5, 0.5], [0.5, 0.25, 0.25]])], [0, 0.5, 0.5]);
});

test('Alleviate rule: top score rounded to integer percent reaches the threshold', () => {
  assert.equal(alleviateAccepts(0.795, 80), true);    // 79.5 rounds to 80
  assert.equal(alleviateAccepts(0.7949, 80), false);
  assert.equal(alleviateAccepts(0.2, 0), true);
  assert.equal(alleviateAccepts(NaN, 0), false);
  assert.throws(() => alleviateAccepts(0.5, 101), /0\.\.100/);
  assert.throws(() => alleviateAccepts(0.5, 0.8), /integer percent/);
});

test("percent-cover CSV: CoralNet's own export test lines", () => {
  // project/export/tests/test_covers.py: 5 points, A B A B A / A B B B B / A A A A A
  const images = [
    { id: 1, name: '1.jpg', status: 'Confirmed', labels: ['A', 'B', 'A', 'B', 'A'] },
    { id: 2, name: '2.jpg', status: 'Confirmed', labels: ['A', 'B', 'B', 'B', 'B'] },
    { id: 3, name: '3.jpg', status: 'Confirmed', labels: ['A', 'A', 'A', 'A', 'A'] },
    { id: 4, name: 'empty, "new".jpg', status: 'Unclassified', labels: [null, null] },
  ];
  assert.equal(percentCoverCsv(images, ['A', 'B']), [
    'Image ID,Image name,Annotation status,Points,A,B',
    '1,1.jpg,Confirmed,5,60.000,40.000',
    '2,2.jpg,Confirmed,5,20.000,80.000',
    '3,3.jpg,Confirmed,5,100.000,0.000',
    // mean of 60/20/100 = 60, of 40/80/0 = 40
    'ALL IMAGES,,,,60.000,40.000',
  ].join('\r\n') + '\r\n');
  // One image: no summary row. A name with a comma and quotes is quoted as csv does.
  assert.equal(percentCoverCsv([{ id: 'x', name: 'a,"b".jpg', status: 'Unconfirmed', labels: ['B', null, 'B', 'A'] }], ['A', 'B']),
    'Image ID,Image name,Annotation status,Points,A,B\r\nx,"a,""b"".jpg",Unconfirmed,4,33.333,66.667\r\n');
  assert.throws(() => percentCover([{ name: 'q.jpg', labels: ['Z'] }], ['A']), /q\.jpg: label 'Z'/);
});

test('percent cover mean and standard error equal numpy over random images', () => {
  const codes = ['A', 'B', 'C', 'D'];
  let s = 12345;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  const images = Array.from({ length: 37 }, (_, i) => ({
    name: `im${i}.jpg`,
    labels: Array.from({ length: 5 + (i % 7) }, () => (rnd() < 0.1 ? null : codes[Math.floor(rnd() * rnd() * 4)])),
  }));
  images.push({ name: 'none.jpg', labels: [null, null] });   // left out of the statistics
  const pc = percentCover(images, codes);
  const ref = JSON.parse(py(`
import json, sys, numpy as np
ims = json.load(sys.stdin); codes = ['A','B','C','D']
rows = []
for im in ims:
    l = [x for x in im['labels'] if x is not None]
    if l: rows.append([l.count(c) / len(l) for c in codes])
a = np.array(rows)
print(json.dumps({'n': len(rows), 'mean': a.mean(0).tolist(), 'se': (a.std(0, ddof=1) / np.sqrt(len(rows))).tolist()}))
`, JSON.stringify(images)));
  assert.equal(pc.n, ref.n);
  for (let j = 0; j < 4; j++) {
    assert.ok(Math.abs(pc.mean[j] - ref.mean[j]) < 1e-12, `mean ${codes[j]}`);
    assert.ok(Math.abs(pc.se[j] - ref.se[j]) < 1e-12, `se ${codes[j]}`);
  }
  assert.equal(pc.images.at(-1).annotated, 0);
  assert.ok(Number.isNaN(pc.images.at(-1).cover[0]));
});

test('crc32 of the standard check string', () => {
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
  const b = new TextEncoder().encode('123456789');
  assert.equal(crc32(b.subarray(4), crc32(b.subarray(0, 4))), 0xcbf43926);
});

test('zip: Python zipfile reads what zipFiles writes, unzipFiles reads what zipfile writes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'polyp-zip-'));
  try {
    const big = new Uint8Array(300000).map((_, i) => (i * 7919) & 0xff);
    const zip = await zipFiles([
      { name: 'project.json', data: '{"name":"récif"}' },
      { name: 'features/IMG 1.jpg.featurevector', data: big },
      { name: 'photos/ab/cd', data: new Blob([big.subarray(0, 1000)]) },
      { name: 'empty', data: new Uint8Array(0) },
    ], { date: new Date(2026, 0, 2, 3, 4, 6) });
    const path = join(dir, 'a.zip');
    writeFileSync(path, new Uint8Array(await zip.arrayBuffer()));
    const info = JSON.parse(py(`
import json, sys, zipfile, hashlib
z = zipfile.ZipFile(sys.argv[1] if len(sys.argv) > 1 else ${JSON.stringify(path)})
print(json.dumps({'bad': z.testzip(), 'names': z.namelist(), 'date': list(z.infolist()[0].date_time),
  'sha': {i.filename: hashlib.sha256(z.read(i)).hexdigest() for i in z.infolist()}, 'json': z.read('project.json').decode()}))
`));
    assert.equal(info.bad, null);
    assert.deepEqual(info.names, ['project.json', 'features/IMG 1.jpg.featurevector', 'photos/ab/cd', 'empty']);
    assert.deepEqual(info.date, [2026, 1, 2, 3, 4, 6]);
    assert.equal(info.json, '{"name":"récif"}');
    const back = await unzipFiles(zip);
    assert.deepEqual(back.map((e) => [e.name, e.size]), [['project.json', 17], ['features/IMG 1.jpg.featurevector', 300000], ['photos/ab/cd', 1000], ['empty', 0]]);
    assert.deepEqual(new Uint8Array(await back[1].data.arrayBuffer()), big);
    // An archive Python writes (stored) reads here; a deflated one is refused by name.
    const p2 = join(dir, 'py.zip');
    py(`
import zipfile
with zipfile.ZipFile(${JSON.stringify(p2)}, 'w', zipfile.ZIP_STORED) as z:
    z.writestr('x/y.txt', 'hello')
    z.writestr('b.bin', bytes(range(256)))
with zipfile.ZipFile(${JSON.stringify(p2 + '.d')}, 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr('d.txt', 'hello' * 100)
`);
    const e2 = await unzipFiles(readFileSync(p2));
    assert.deepEqual(e2.map((e) => e.name), ['x/y.txt', 'b.bin']);
    assert.equal(await e2[0].data.text(), 'hello');
    await assert.rejects(unzipFiles(readFileSync(p2 + '.d')), /'d\.txt' is compressed \(method 8\)/);
    // Damage: a flipped data byte fails the CRC; a cut archive has no directory.
    const bytes = new Uint8Array(await zip.arrayBuffer());
    const bad = bytes.slice();
    bad[30 + 'project.json'.length + 2] ^= 1;
    await assert.rejects(unzipFiles(bad), /'project\.json': CRC mismatch/);
    await assert.rejects(unzipFiles(bytes.subarray(0, 5000)), /end-of-central-directory/);
    await assert.rejects(zipFiles([{ name: 'a', data: '1' }, { name: 'a', data: '2' }]), /'a' twice/);
    await assert.rejects(zipFiles([{ name: '../evil', data: '1' }]), /bad entry name/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// The two rules the app asks the engine (through the worker, so they need the wasm build):
// CoralNet's retraining schedule and its acceptance rule, hand-worked from DESIGN.md.
test('shouldTrain and acceptClassifier through the worker', async (t) => {
  const { existsSync } = await import('node:fs');
  if (!existsSync(new URL('../../wasm/dist/polyp-simd.mjs', import.meta.url))) return t.skip('wasm/dist not built');
  const { createPolyp } = await import('../../wasm/polyp.js');
  const polyp = await createPolyp({ threads: 1, log: null });
  try {
    const cases = [[0, 0, false], [19, 0, false], [20, 0, true], [21, 20, false], [22, 20, true],
      [10, 10, false], [11, 10, true], [109, 100, false], [110, 100, true], [1000, 910, false], [1001, 910, true]];
    for (const [n, last, want] of cases) assert.equal(await polyp.shouldTrain(n, last), want, `shouldTrain(${n}, ${last})`);
    await assert.rejects(polyp.shouldTrain(-1, 0), /annotated images must be an integer/);
    assert.equal(await polyp.acceptClassifier(0.606, 0.6), true);     // 1.01 x 0.6 = 0.606
    assert.equal(await polyp.acceptClassifier(0.605, 0.6), false);
    assert.equal(await polyp.acceptClassifier(0.1, 0), true);         // no previous accuracy
  } finally {
    polyp.terminate();
  }
});
