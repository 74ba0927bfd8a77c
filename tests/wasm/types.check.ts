// types.check.ts - compile-only check that wasm/polyp.d.ts describes the API the way the
// example page and the tests use it (tsc --noEmit, run by tests/wasm/run.sh). Never executed.
import { createPolyp, FEATURE_DIM, PolypError, STATUS, type Polyp, type ExtractResult, type Suggestion, type PercentCover,
  topSuggestions, formatSuggestion, scorePercent, floorPercent, combineScores, alleviateAccepts, percentCover,
  percentCoverCsv, zipFiles, unzipFiles, crc32 } from '../../wasm/polyp.js';

async function example(file: Blob, weights: ArrayBuffer): Promise<Float32Array> {
  const polyp: Polyp = await createPolyp({ threads: 'auto', log: (m: string) => console.log(m) });
  const flavor: 'simd' | 'simd-mt' = polyp.flavor;
  const info = await polyp.loadWeights(weights, { transfer: true });
  const sha: string = info.sha256;
  const ac = new AbortController();
  const r: ExtractResult = await polyp.extract(file, [[10, 20], { row: 5, col: 6 }], {
    signal: ac.signal,
    onProgress: (done: number, total: number) => console.log(done / total),
  });
  const n: number = r.npoints * FEATURE_DIM;
  const npz: Uint8Array = await polyp.featuresToNpz(new Uint32Array([10, 20]), r.features);
  const back = await polyp.readNpz(npz);
  const rows: Uint16Array | null = back.rows;
  const recorded: Uint8Array = await polyp.featuresToNpz([[10, 20]], r.features, { dim: FEATURE_DIM, extractor: info.extractorRecord });
  const record: string | null = (await polyp.readNpz(recorded)).extractor;
  void record;
  const csv = await polyp.parseAnnotationsCsv('Name,Row,Column\na.jpg,1,2\n');
  const label: string | null = csv.labels[0];
  try {
    await polyp.decodeImage(new Uint8Array(4));
    const crop = await polyp.cropPatches(new Uint8Array(4), [[0, 0]]);
    const patchBytes: Uint8Array = crop.patches;
    void patchBytes;
  } catch (e) {
    if (e instanceof PolypError && e.statusName === 'format' && e.status === STATUS.format) console.log(e.status);
  }
  const clf = await polyp.trainClassifier({ images: [{ labels: ['CCA', null], features: new Float32Array(2 * FEATURE_DIM) }] },
    { seed: 3n, onProgress: (e: number, n: number, acc: number) => console.log(e, n, acc) });
  const single: Polyp = await createPolyp({ threads: 1, sharedCancel: false, log: null });
  const shared: boolean = single.sharedCancel;
  await single.trainClassifier({ dim: 4, images: [{ labels: ['CCA'], features: new Float32Array(4) }] },
    { kind: 'lr', epochs: 3, signal: ac.signal }).catch((e: unknown) => e instanceof PolypError && e.name === 'AbortError');
  void shared;
  const probs: Float32Array = await clf.predict(r.features);
  const ev = await clf.evaluate(r.features, ['CCA']);
  const acc: number = ev.alleviateAccuracy[50] + ev.accuracy + clf.valAccuracy;
  const model: Uint8Array = await clf.save();
  const again = await polyp.loadClassifier(model);
  const pts: Uint32Array = await polyp.generatePoints({ method: 'grid', cellRows: 2, cellCols: 2, maxRow: 99, maxCol: 99 });
  const train: boolean = await polyp.shouldTrain(20, 0) && await polyp.acceptClassifier(0.9, 0.8);
  const top: Suggestion[] = topSuggestions(probs, clf.labels, 5, 0);
  const text: string = formatSuggestion(top[0].code, top[0].score) + scorePercent(0.5) + floorPercent(0.5);
  const both: Float64Array = combineScores([probs, probs]);
  const ok: boolean = alleviateAccepts(top[0].score, 80);
  const pc: PercentCover = percentCover([{ name: 'a.jpg', labels: ['CCA', null] }], ['CCA']);
  const coverCsv: string = percentCoverCsv([{ id: 1, name: 'a.jpg', status: 'Confirmed', labels: ['CCA'] }], ['CCA']);
  const zip: Blob = await zipFiles([{ name: 'a.featurevector', data: model }]);
  const entries = await unzipFiles(zip);
  const crc: number = crc32(model) + entries[0].crc;
  void probs; void acc; void again; void pts; void train; void text; void both; void ok; void pc; void coverCsv; void crc;
  polyp.terminate();
  void flavor; void sha; void n; void rows; void label;
  return r.features;
}
void example;
