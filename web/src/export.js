// export.js - what leaves the app as files, all made by the library: CoralNet's annotations
// CSV (polyp.exportAnnotationsCsv; machine suggestion/confidence columns from the active
// classifier's scores of the stored features), CoralNet's percent-cover CSV (percentCoverCsv),
// the features as pyspacer `.featurevector` files in a zip (featuresToNpz + zipFiles) and the
// model file. Plain data in (photo = { id, name, points } with the store's points), text or
// Blob out; the Export page (export-page.js) offers them as downloads.
import { percentCoverCsv } from '../../wasm/survey.js';
import { zipFiles } from '../../wasm/zip.js';
import { featuresMatch } from './extract.js';
import { photoStatus } from './store.js';

const confirmedLabel = (p) => (p.state === 'confirmed' && p.label ? p.label : null);

/** A point's label as the statistics count it: confirmed, or the machine's unconfirmed label
 * (CoralNet counts unconfirmed robot annotations in its covers); null when unannotated. */
export function effectiveLabel(p) {
  return p.state === 'unannotated' ? null : p.label || null;
}

/**
 * The rows of the annotations CSV: every confirmed point, and with `unannotated` every other
 * point too (blank "Label code"). Returns { names, rows, cols, labels, refs } with refs
 * [{ photoId, index }] (index = 0-based point number) in photo order, then point order.
 */
export function annotationRows(photos, { unannotated = false } = {}) {
  const names = [], rows = [], cols = [], labels = [], refs = [];
  for (const photo of photos) {
    photo.points.forEach((p, index) => {
      const label = confirmedLabel(p);
      if (!label && !unannotated) return;
      names.push(photo.name); rows.push(p.row); cols.push(p.col); labels.push(label);
      refs.push({ photoId: photo.id, index });
    });
  }
  return { names, rows, cols, labels, refs };
}

/**
 * CoralNet's annotations CSV text: `Name,Row,Column,Label code`; with `machine` the
 * `Machine suggestion n` / `Machine confidence n` columns (n = 1..5) from `classifier`'s
 * scores of each photo's stored features (blank where a photo has none that match its points
 * and extractor); with `unannotated` also the points without a confirmed label; with
 * `pointNumbers` a last `Point number` column (1-based, the annotation tool's marker number).
 */
export async function annotationsCsv(polyp, photos, { classifier = null, featuresOf = null, machine = false, unannotated = false, pointNumbers = false } = {}) {
  const r = annotationRows(photos, { unannotated });
  let probs = null;
  if (machine) {
    if (!classifier || !featuresOf) throw new RangeError('machine suggestions need a trained classifier');
    const k = classifier.labels.length;
    probs = new Float32Array(r.names.length * k).fill(NaN);
    const byPhoto = new Map();
    r.refs.forEach((ref, i) => { if (!byPhoto.has(ref.photoId)) byPhoto.set(ref.photoId, []); byPhoto.get(ref.photoId).push(i); });
    for (const photo of photos) {
      const idx = byPhoto.get(photo.id);
      const f = idx && featuresOf(photo);
      if (!f || f.extractorSha !== classifier.extractorId || !featuresMatch(f, photo.points)) continue;
      const dim = f.feat.length / f.rows.length;
      if (dim !== classifier.featureDim) continue;
      const sel = new Float32Array(idx.length * dim);
      idx.forEach((i, j) => { const q = r.refs[i].index; sel.set(f.feat.subarray(q * dim, (q + 1) * dim), j * dim); });
      const p = await classifier.predict(sel);
      idx.forEach((i, j) => probs.set(p.subarray(j * k, (j + 1) * k), i * k));
    }
  }
  let csv = await polyp.exportAnnotationsCsv(r, machine ? { classifier, probs } : {});
  if (pointNumbers) {
    // The library writes one CRLF-terminated line per row (photo names come from file names,
    // which hold no line break), so the column is appended line by line.
    const lines = csv.split('\r\n');
    if (lines.at(-1) === '') lines.pop();
    if (lines.length !== r.names.length + 1) throw new Error(`export: ${lines.length - 1} CSV lines for ${r.names.length} points`);
    csv = lines.map((l, i) => `${l},${i === 0 ? 'Point number' : r.refs[i - 1].index + 1}`).join('\r\n') + '\r\n';
  }
  return csv;
}

/** CoralNet's percent-cover CSV of the photos (labelset codes in column order). */
export function coverCsv(photos, codes) {
  return percentCoverCsv(photos.map((p, i) => ({
    id: i + 1, name: p.name, status: photoStatus(p.points), labels: p.points.map(effectiveLabel),
  })), codes);
}

/** The features as pyspacer `.featurevector` files (`<photo name>.featurevector`) in a zip
 * Blob: { blob, files, missing } (photos without matching features are left out, counted). */
export async function featuresZip(polyp, photos, featuresOf) {
  const entries = [];
  let missing = 0;
  for (const photo of photos) {
    const f = featuresOf(photo);
    if (!f || !photo.points.length || !featuresMatch(f, photo.points)) { missing++; continue; }
    const npz = await polyp.featuresToNpz(photo.points.map((p) => [p.row, p.col]), f.feat, f.feat.length / f.rows.length);
    entries.push({ name: `${photo.name}.featurevector`, data: npz });
  }
  return { blob: await zipFiles(entries), files: entries.length, missing };
}
