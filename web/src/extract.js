// extract.js - the 'extract' job: features of one photo's points with the project's
// extractor, persisted in the store's `features` (so no point is extracted twice), and the
// helper that queues every photo of a project that still lacks them.
import { ensureExtractor } from './engine.js';

/** Whether stored features match the photo's current points (same rows and cols, in order). */
export function featuresMatch(rec, points) {
  if (!rec || rec.rows.length !== points.length) return false;
  for (let i = 0; i < points.length; i++) if (rec.rows[i] !== points[i].row || rec.cols[i] !== points[i].col) return false;
  return true;
}

/**
 * What a stored record already holds for `points`: {dim, from, missing}, where from[i] is
 * the record's index of a point at point i's pixel (-1 if none) and missing lists the
 * indices to extract. A patch's features depend only on the photo and the pixel (the network
 * scores each patch on its own), so after a move, add or delete only the new pixels cost an
 * extraction; the rest are copied.
 */
export function reusable(rec, points) {
  const from = new Int32Array(points.length).fill(-1);
  const dim = rec && rec.rows.length ? rec.feat.length / rec.rows.length : 0;
  if (dim) {
    const at = new Map();
    for (let k = 0; k < rec.rows.length; k++) {
      const key = `${rec.rows[k]},${rec.cols[k]}`;
      if (!at.has(key)) at.set(key, k);
    }
    points.forEach((p, i) => { const k = at.get(`${p.row},${p.col}`); if (k !== undefined) from[i] = k; });
  }
  const missing = [];
  from.forEach((k, i) => { if (k < 0) missing.push(i); });
  return { dim, from, missing };
}

/** The features of `points`: rows copied from `rec` where reuse.from says so, the rest
 * (reuse.missing, in order) from `fresh` (dim values each). */
export function assembleFeatures(rec, reuse, fresh, dim) {
  const out = new Float32Array(reuse.from.length * dim);
  let m = 0;
  reuse.from.forEach((k, i) => {
    const src = k >= 0 ? rec.feat.subarray(k * dim, (k + 1) * dim) : fresh.subarray(m * dim, (++m) * dim);
    out.set(src, i * dim);
  });
  return out;
}

export function registerExtraction(app) {
  const { store, queue } = app;
  queue.register('extract', async (job, { signal, progress }) => {
    const [photo, project] = await Promise.all([store.getPhoto(job.photoId), store.getProject(job.projectId)]);
    if (!photo || !project || !project.extractor) return;      // deleted meanwhile: nothing to do
    const sha = project.extractor.sha256;
    let stored = await store.getFeatures(photo.id, sha);
    let known = stored;            // features this job holds, stored or not yet
    // Rounds until the stored record matches the points: a point moved while this job runs
    // is caught here (queueExtraction finds this running job and adds none), and each round
    // extracts only the pixels no record has.
    for (;;) {
      if (signal.aborted) throw signal.reason;
      const ann = await store.getAnnotations(photo.id);
      const points = ann ? ann.points : [];
      if (points.length === 0 || featuresMatch(stored, points)) return;
      const rows = Uint32Array.from(points, (p) => p.row);
      const cols = Uint32Array.from(points, (p) => p.col);
      const reuse = reusable(known, points);
      let fresh = new Float32Array(0);
      let { dim } = reuse;
      if (reuse.missing.length) {
        progress(0, reuse.missing.length, `${photo.name}: loading the extractor`);
        const polyp = await ensureExtractor(store, project);
        const blob = await store.getPhotoBlob(photo);
        if (!blob) throw new Error(`${photo.name}: the photo's bytes are missing from this browser`);
        const r = await polyp.extract(blob, reuse.missing.map((i) => [points[i].row, points[i].col]), {
          signal, onProgress: (done, total) => progress(done, total, photo.name), imageKey: photo.hash,
        });
        fresh = r.features;
        dim = r.features.length / reuse.missing.length;
      }
      known = { rows, cols, feat: assembleFeatures(known, reuse, fresh, dim) };
      // The points may have moved while extracting: store only features of the points now.
      const now = await store.getAnnotations(photo.id);
      if (!now || !featuresMatch(known, now.points)) continue;
      stored = { photoId: photo.id, extractorSha: sha, ...known, extractedAt: Date.now() };
      await store.putFeatures(stored);
    }
  });
}

/** Queues extraction for the given photos (default: every photo of the project with points). */
export async function queueExtraction(app, project, photoIds = null) {
  if (!project.extractor) return 0;
  const ids = photoIds || (await app.store.listPhotos(project.id)).map((p) => p.id);
  const photos = new Map((await app.store.listPhotos(project.id)).map((p) => [p.id, p]));
  let n = 0;
  for (const id of ids) {
    const photo = photos.get(id);
    if (!photo) continue;
    const ann = await app.store.getAnnotations(id);
    if (!ann || ann.points.length === 0) continue;
    if (featuresMatch(await app.store.getFeatures(id, project.extractor.sha256), ann.points)) continue;
    await app.queue.add({ kind: 'extract', projectId: project.id, photoId: id, title: `Extract features: ${photo.name}`,
      key: `extract:${id}:${project.extractor.sha256}` });
    n++;
  }
  return n;
}
