// extract.js - the 'extract' job: features of one photo's points with the project's
// extractor, persisted in the store's `features` (so no photo is extracted twice), and the
// helper that queues every photo of a project that still lacks them.
import { ensureExtractor } from './engine.js';

/** Whether stored features match the photo's current points (same rows and cols, in order). */
export function featuresMatch(rec, points) {
  if (!rec || rec.rows.length !== points.length) return false;
  for (let i = 0; i < points.length; i++) if (rec.rows[i] !== points[i].row || rec.cols[i] !== points[i].col) return false;
  return true;
}

export function registerExtraction(app) {
  const { store, queue } = app;
  queue.register('extract', async (job, { signal, progress }) => {
    const [photo, project] = await Promise.all([store.getPhoto(job.photoId), store.getProject(job.projectId)]);
    if (!photo || !project || !project.extractor) return;      // deleted meanwhile: nothing to do
    const ann = await store.getAnnotations(photo.id);
    const points = ann ? ann.points : [];
    if (points.length === 0) return;
    const sha = project.extractor.sha256;
    if (featuresMatch(await store.getFeatures(photo.id, sha), points)) return;
    progress(0, points.length, `${photo.name}: loading the extractor`);
    const polyp = await ensureExtractor(store, project);
    const blob = await store.getPhotoBlob(photo);
    if (!blob) throw new Error(`${photo.name}: the photo's bytes are missing from this browser`);
    const rows = Uint32Array.from(points, (p) => p.row);
    const cols = Uint32Array.from(points, (p) => p.col);
    const r = await polyp.extract(blob, points.map((p) => [p.row, p.col]), {
      signal, onProgress: (done, total) => progress(done, total, photo.name),
    });
    // The points may have moved while extracting: store only features of these points.
    const now = await store.getAnnotations(photo.id);
    if (!now || !featuresMatch({ rows, cols }, now.points)) {
      await queueExtraction(app, project, [photo.id]);
      return;
    }
    await store.putFeatures({ photoId: photo.id, extractorSha: sha, rows, cols, feat: r.features, extractedAt: Date.now() });
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
