// export.js - what leaves the app as files, all made by the library: CoralNet's annotations
// CSV (polyp.exportAnnotationsCsv; machine suggestion/confidence columns from the active
// classifier's scores of the stored features), CoralNet's percent-cover CSV (percentCoverCsv),
// the features as pyspacer `.featurevector` files in a zip (featuresToNpz + zipFiles, each with
// the extractor record of the weights that made it, as `polyp extract` writes) and the
// model file, and (backup.js) the whole project. Plain data in (photo = { id, name, points }
// with the store's points), text or Blob out; the Export page at the end offers downloads.
import { useState } from 'preact/hooks';
import { percentCoverCsv } from '../../wasm/survey.js';
import { zipFiles } from '../../wasm/zip.js';
import { html, useApp, useStoreValue, download } from './ui.js';
import { registerPage } from './router.js';
import { featuresMatch } from './extract.js';
import { extractorRecordOf } from './engine.js';
import { photoStatus } from './store.js';
import { activeClassifier, projectData, sameExtractor } from './train.js';
import { backupProject } from './backup.js';

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
      if (!f || !sameExtractor(classifier.extractorId, f.extractorSha) || !featuresMatch(f, photo.points)) continue;
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

/** Whether extractor record `record` ("<kind>:<sha256>:<dim>[ key=value...]") names the
 * weights `sha` and features `dim` wide: a record is only written where it is that of the
 * features' own extractor. */
export function recordFits(record, sha, dim) {
  const [, recSha, recDim] = String(record).split(' ')[0].split(':');
  return recSha === sha && Number(recDim) === dim;
}

/**
 * The features as pyspacer `.featurevector` files (`<photo name>.featurevector`) in a zip
 * Blob: { blob, files, missing, unrecorded } (photos without matching features are left out,
 * counted). Each file carries the extractor record of the weights that made its features
 * (`recordOf(extractorSha)`, may return a promise), as `polyp extract` writes it, so
 * `polyp train` binds models to them and refuses to mix them with another network's; where
 * the record is unknown (null, or no recordOf) the file has none, counted in `unrecorded`.
 */
export async function featuresZip(polyp, photos, featuresOf, { recordOf = null } = {}) {
  const entries = [];
  const records = new Map();     // extractorSha -> record or null, asked once each
  let missing = 0, unrecorded = 0;
  for (const photo of photos) {
    const f = featuresOf(photo);
    if (!f || !photo.points.length || !featuresMatch(f, photo.points)) { missing++; continue; }
    const dim = f.feat.length / f.rows.length;
    if (!records.has(f.extractorSha)) records.set(f.extractorSha, recordOf ? (await recordOf(f.extractorSha)) || null : null);
    let extractor = records.get(f.extractorSha);
    if (extractor && !recordFits(extractor, f.extractorSha, dim)) extractor = null;
    if (!extractor) unrecorded++;
    const npz = await polyp.featuresToNpz(photo.points.map((p) => [p.row, p.col]), f.feat, { dim, extractor });
    entries.push({ name: `${photo.name}.featurevector`, data: npz });
  }
  return { blob: await zipFiles(entries), files: entries.length, missing, unrecorded };
}

/**
 * "Export model": the stored model bytes exactly as the engine saved them (a `polyp train`
 * model file) as a Blob, and the line saying what they are bound to. `extractorId` is the
 * model's (Classifier.extractorId): the full '<kind>:<sha256>:<dim>', or, for a model trained
 * by an older version of the app, the weights' bare sha256, which `polyp classify --model`
 * still accepts for features of those weights (polyp_classifier_check_features).
 */
export function modelFile(record, extractorId) {
  const bare = !String(extractorId).includes(':');
  const message = `Exported the classifier (${record.bytes.byteLength.toLocaleString('en-US')} bytes), bound to extractor ` +
    `${extractorId}; \`polyp classify --model\` reads it for features of those weights` +
    (bare ? ' (trained by an older version of the app, it names their sha256 only: the next training binds to the full extractor id)' : '') + '.';
  return { blob: new Blob([record.bytes]), message };
}

// ---------------------------------------------------------------------- the Export page

const plural = (n, one, many = `${one}s`) => `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;

function ExportPage({ params }) {
  const app = useApp();
  const { store } = app;
  const pid = params.projectId;
  const [project] = useStoreValue(() => store.getProject(pid), [pid], (ev) => ev.store === 'projects' && ev.id === pid);
  const [changed] = useStoreValue(() => store.changedCount(pid), [pid], (ev) => ev.projectId === pid && ev.store === 'annotations');
  const [opts, setOpts] = useState({ machine: false, unannotated: false, pointNumbers: false });
  const [msg, setMsg] = useState('');
  const [busy, setBusy] = useState(false);
  if (!project) return html`<p>Loading…</p>`;
  const hasClassifier = !!project.classifierId;
  const run = (what, fn) => async () => {
    setBusy(true);
    setMsg(`${what}…`);
    try { setMsg(await fn()); } catch (e) { setMsg(`${what} failed: ${e.message}`); } finally { setBusy(false); }
  };
  const base = project.name.replace(/[^\w.-]+/g, '_').slice(0, 60) || 'project';
  const exportAnnotations = run('Export annotations', async () => {
    const polyp = await app.getPolyp();
    const { photos, featuresOf } = await projectData(store, project);
    const classifier = opts.machine ? await activeClassifier(app, project) : null;
    if (opts.machine && !classifier) throw new Error('no classifier yet: machine suggestions need one ("Train now" on the Classifier page)');
    const csv = await annotationsCsv(polyp, photos, { ...opts, classifier, featuresOf });
    download('annotations.csv', new Blob([csv], { type: 'text/csv' }));
    const rows = csv.split('\r\n').length - 2;
    const reset = await store.markExported(pid);
    return `Exported ${plural(rows, 'point')} to annotations.csv${reset ? `; the changed-since-export count is reset` : ''}.`;
  });
  const exportCover = run('Export percent cover', async () => {
    const { photos } = await projectData(store, project);
    const csv = coverCsv(photos, project.labelset.map((l) => l.code));
    download('percent_covers.csv', new Blob([csv], { type: 'text/csv' }));
    const n = photos.filter((p) => p.points.some(effectiveLabel)).length;
    return `Exported the percent cover of ${plural(n, 'photo')}${n > 1 ? ' and their mean' : ''} to percent_covers.csv.`;
  });
  const exportFeatures = run('Export features', async () => {
    const polyp = await app.getPolyp();
    const { photos, featuresOf } = await projectData(store, project);
    const z = await featuresZip(polyp, photos, featuresOf, { recordOf: (sha) => extractorRecordOf(store, sha) });
    download(`${base}-features.zip`, z.blob);
    return `Exported ${plural(z.files, 'feature file')}${z.missing ? `; ${plural(z.missing, 'photo')} without features of the current points left out` : ''}` +
      `${z.unrecorded ? `; ${plural(z.unrecorded, 'file')} without the extractor record (their weights were stored by an older version of the app: load the extractor again in Settings to record it)` : ''}.`;
  });
  const exportModel = run('Export model', async () => {
    const rec = await store.getClassifier(project.classifierId);
    // Records of older versions keep no extractorId: those versions bound every model to
    // the record's extractorSha.
    const extractorId = rec.extractorId || rec.extractorSha;
    const file = modelFile(rec, extractorId);
    download(`${base}-classifier.safetensors`, file.blob);
    return file.message;
  });
  const backup = run('Back up project', async () => {
    const b = await backupProject(store, pid);
    download(b.name, b.blob);
    await store.markExported(pid);
    const c = b.counts;
    return `Backed up ${plural(c.photos, 'photo')}, ${plural(c.points, 'point')}, ${plural(c.features, 'feature file')} and ${plural(c.classifiers, 'classifier')} to ${b.name}.`;
  });
  const check = (key, text) => html`<label class="check"><input type="checkbox" checked=${opts[key]}
    onChange=${(e) => setOpts({ ...opts, [key]: e.currentTarget.checked })} /> ${text}</label>`;
  return html`
    <h1>Export</h1>
    <p role="status" aria-label="Changed since last export">${changed == null ? '' : `${plural(changed, 'point')} changed since the last export.`}</p>
    <section aria-labelledby="h-ann">
      <h2 id="h-ann">Annotations (CoralNet CSV)</h2>
      <p class="muted">Name, Row, Column, Label code: one row per confirmed point.</p>
      <div class="row">
        ${check('machine', 'Machine suggestions and confidences')}
        ${check('unannotated', 'Include unannotated points')}
        ${check('pointNumbers', 'Point number column')}
      </div>
      <button type="button" class="primary" onClick=${exportAnnotations} disabled=${busy}>Export annotations</button>
    </section>
    <section aria-labelledby="h-other">
      <h2 id="h-other">Other files</h2>
      <div class="row">
        <button type="button" onClick=${exportCover} disabled=${busy}>Export percent cover</button>
        <button type="button" onClick=${exportFeatures} disabled=${busy || !project.extractor}>Export features</button>
        <button type="button" onClick=${exportModel} disabled=${busy || !hasClassifier}>Export model</button>
      </div>
    </section>
    <section aria-labelledby="h-backup">
      <h2 id="h-backup">Backup</h2>
      <p class="muted">One file with the project, its photos, points, features and classifiers; "Restore project" on the
        projects page brings it back on any machine.</p>
      <button type="button" onClick=${backup} disabled=${busy}>Back up project</button>
    </section>
    <p class="status" role="status" aria-label="Export status">${msg}</p>`;
}

registerPage({ id: 'export', path: '/p/:projectId/export', title: 'Export', nav: 'project', navLabel: 'Export', order: 70, component: ExportPage });
