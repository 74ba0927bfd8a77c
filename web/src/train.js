// train.js - the project's classifier, as CoralNet's "robot" runs it: when to train (the
// engine's schedule: first at 20 annotated photos, then at 1.1x), training in the worker
// through the app's queue with per-epoch progress and cancel, CoralNet's acceptance rule
// against the previous classifier on the same validation images, and fresh machine
// suggestions (top 5 per point) for every point not confirmed after an accepted training.
// Every number comes from the engine (trainClassifier / evaluate / predict / shouldTrain /
// acceptClassifier); this module only picks which photos and points go in and records what
// came out. A classifier belongs to the extractor its features came from: features of
// another extractor are never mixed in, and a classifier never scores them. It is bound, as
// `polyp train` binds its models, to that extractor's full id '<kind>:<sha256>:<dim>' (from
// the weights' stored record), so an exported model is the native CLI's too; features are
// stored under the weights' sha256 alone, which the id holds (sameExtractor).
//
// The first half is plain data in and out (node tests drive it with the real engine):
//   photo    = { id, name, points }   points as the store keeps them (store.js)
//   features = the store's record { extractorSha, rows, cols, feat } or null
// The second half is the app glue: the 'train' job kind, the schedule watching the store,
// the active classifier cache, "Train now".
import { onBoot } from './ui.js';
import { featuresMatch } from './extract.js';
import { ensureExtractor, extractorRecordOf } from './engine.js';
import { topSuggestions } from '../../wasm/survey.js';

/** Suggestions stored per point (CoralNet shows the top 5). */
export const TOP = 5;

const isConfirmed = (p) => p.state === 'confirmed' && !!p.label;

/** A photo counts as annotated (CoralNet's "Confirmed") when it has points and every one of
 * them has a confirmed label. */
export function isAnnotated(points) {
  return points.length > 0 && points.every(isConfirmed);
}

/** Annotated photos: the count CoralNet's schedule is asked about. */
export function annotatedCount(photos) {
  return photos.reduce((n, p) => n + (isAnnotated(p.points) ? 1 : 0), 0);
}

/** The weights' sha256 in an extractor id or record: '<kind>:<sha256>:<dim>[ key=value...]'
 * gives its middle field; an id without ':' is a bare sha256 (what models trained by older
 * versions of the app are bound to, and the key features are stored under). */
export function extractorShaOf(id) {
  const parts = String(id).split(' ')[0].split(':');
  return parts.length === 3 ? parts[1] : parts.length === 1 ? parts[0] : null;
}

/** Whether extractor ids (or records) `a` and `b` name the same extractor, by the core's rule
 * (polyp_classifier_check_features): equal ids, or a bare sha256 and an id holding it. A
 * features record's `extractorSha` is such a bare sha256, so sameExtractor(classifier
 * .extractorId, features.extractorSha) is whether the classifier may score them. */
export function sameExtractor(a, b) {
  const ia = String(a).split(' ')[0], ib = String(b).split(' ')[0];
  if (ia === ib) return true;
  if (ia.includes(':') && ib.includes(':')) return false;
  const sa = extractorShaOf(ia);
  return sa !== null && sa === extractorShaOf(ib);
}

/** Values per point of a features record. */
export const featureDim = (rec) => (rec.rows.length ? rec.feat.length / rec.rows.length : 0);

/**
 * The training set: annotated photos in the project's stable order whose stored features
 * come from extractor `extractorSha` and match the current points. Returns { photoIds,
 * images: [{ labels, features }], dim, skipped: { noFeatures, stale } }.
 */
export function trainingSet(photos, featuresOf, extractorSha) {
  const photoIds = [], images = [];
  const skipped = { noFeatures: 0, stale: 0 };
  let dim = 0;
  for (const photo of photos) {
    if (!isAnnotated(photo.points)) continue;
    const f = featuresOf(photo);
    if (!f || f.extractorSha !== extractorSha) { skipped.noFeatures++; continue; }
    if (!featuresMatch(f, photo.points)) { skipped.stale++; continue; }
    dim = featureDim(f);
    photoIds.push(photo.id);
    images.push({ labels: photo.points.map((p) => p.label), features: f.feat });
  }
  return { photoIds, images, dim, skipped };
}

/**
 * The validation points of a training set for a classifier with `labels`: CoralNet's 1/8
 * test is image i with i % 8 == 0 of the stable order (core/split.c), and only points whose
 * label the classifier kept are scored (pyspacer's preprocess_labels). The new and the
 * previous classifier are judged on exactly these points.
 */
export function validationPoints(set, labels) {
  const kept = new Set(labels);
  const picked = [], truth = [];
  const dim = set.dim;
  set.images.forEach((im, i) => {
    if (i % 8 !== 0) return;
    im.labels.forEach((l, k) => { if (kept.has(l)) { picked.push(im.features.subarray(k * dim, (k + 1) * dim)); truth.push(l); } });
  });
  const features = new Float32Array(picked.length * dim);
  picked.forEach((r, i) => features.set(r, i * dim));
  return { features, truth };
}

function plainEvaluation(ev) {
  return {
    accuracy: ev.accuracy, macroF1: ev.macroF1, labels: ev.labels, perLabel: ev.perLabel,
    confusion: Array.from(ev.confusion),
    alleviateAccuracy: Array.from(ev.alleviateAccuracy), alleviateFraction: Array.from(ev.alleviateFraction),
  };
}

const pct = (a) => `${(100 * a).toFixed(1)}%`;

/**
 * Trains on the annotated photos and judges the result against `previous` (a loaded
 * Classifier or null) as CoralNet does: the previous one is re-evaluated on the new
 * validation points, and the new one replaces it only when polyp.acceptClassifier says so
 * (>= 1.01x). A previous classifier of another extractor cannot score these features: it is
 * not compared, and the new one is accepted (said in `reason`); one of an older version,
 * bound to the bare sha256 of the same weights, is the same extractor and is compared.
 * The model is bound to `extractorId`, the full id '<kind>:<sha256>:<dim>' of the weights
 * whose features are stored under `extractorSha` (extractorIdFor); it must name those
 * weights and the features' width. Without it (the id cannot be known: the weights are gone
 * from this browser) the model is bound to the bare sha256, as older versions did, which
 * `polyp classify` accepts for features of those weights.
 * Returns { classifier, record }: record is the `classifiers` store entry (model bytes in
 * record.bytes). Rejects with an AbortError when `signal` fires.
 */
export async function trainAndJudge(polyp, { photos, featuresOf, extractorSha, extractorId = null, previous = null, seed = 0, kind = 'mlp', epochs = 0, signal, onProgress }) {
  const set = trainingSet(photos, featuresOf, extractorSha);
  if (set.images.length === 0) throw new RangeError('no annotated photo has features of this extractor yet');
  if (extractorId != null) {
    const parts = String(extractorId).split(':');
    if (parts.length !== 3 || parts[1] !== extractorSha || Number(parts[2]) !== set.dim) {
      throw new RangeError(`extractor id ${extractorId} is not that of the features (weights ${extractorSha}, ${set.dim} values per point)`);
    }
  }
  const bound = extractorId ?? extractorSha;
  const started = Date.now();
  const classifier = await polyp.trainClassifier({ dim: set.dim, images: set.images },
    { kind, seed, epochs, extractorId: bound, signal, onProgress });
  try {
    const val = validationPoints(set, classifier.labels);
    const ev = await classifier.evaluate(val.features, val.truth);
    let previousAccuracy = null, accepted = true, reason;
    if (!previous) {
      reason = 'first classifier';
    } else if (!sameExtractor(previous.extractorId, bound) || previous.featureDim !== set.dim) {
      reason = 'the previous classifier belongs to another extractor: not compared';
    } else {
      previousAccuracy = (await previous.evaluate(val.features, val.truth)).accuracy;
      accepted = await polyp.acceptClassifier(ev.accuracy, previousAccuracy);
      const same = `on the same ${val.truth.length} validation points`;
      reason = accepted
        ? `${pct(ev.accuracy)} reaches 1.01 x the previous classifier's ${pct(previousAccuracy)} ${same}`
        : `${pct(ev.accuracy)} is below 1.01 x the previous classifier's ${pct(previousAccuracy)} ${same}: kept the previous one`;
    }
    const record = {
      trainedAt: started,
      seconds: (Date.now() - started) / 1000,
      accepted, reason, extractorSha, extractorId: classifier.extractorId, kind: classifier.kind, labels: classifier.labels,
      nAnnotatedImages: set.images.length,
      skipped: set.skipped,
      points: classifier.report ? classifier.report.points : null,
      refAccuracy: classifier.refAccuracy,
      valAccuracy: ev.accuracy,
      previousAccuracy,
      validationPoints: val.truth.length,
      evaluation: plainEvaluation(ev),
      bytes: await classifier.save(),
    };
    return { classifier, record };
  } catch (e) {
    await classifier.dispose();
    throw e;
  }
}

/**
 * A photo's points with fresh machine suggestions: every point not confirmed gets the top
 * TOP labels of the classifier's scores ([[code, prob], ...]) and, as CoralNet's robot does,
 * the top label as an unconfirmed label; confirmed points are left as they are. Returns null
 * when the stored features are missing, stale or of another extractor (a classifier never
 * scores features it was not made for).
 */
export async function suggestedPoints(classifier, points, features) {
  if (!features || !sameExtractor(classifier.extractorId, features.extractorSha) || !featuresMatch(features, points)) return null;
  const dim = featureDim(features);
  if (dim !== classifier.featureDim) return null;
  const todo = [];
  points.forEach((p, k) => { if (!isConfirmed(p)) todo.push(k); });
  if (!todo.length) return points;
  const f = new Float32Array(todo.length * dim);
  todo.forEach((k, i) => f.set(features.feat.subarray(k * dim, (k + 1) * dim), i * dim));
  const probs = await classifier.predict(f);
  const out = points.slice();
  todo.forEach((k, i) => {
    const top = topSuggestions(probs, classifier.labels, TOP, i);
    const p = points[k];
    const label = top.length ? top[0].code : null;
    out[k] = { ...p, suggestions: top.map((s) => [s.code, s.score]), label, state: label ? 'unconfirmed' : 'unannotated',
      changed: p.changed || p.label !== label };
  });
  return out;
}

// ---------------------------------------------------------------------- app glue

const loaded = new Map();   // classifier record id -> Promise<Classifier> in the worker

/** The project's active (accepted) classifier, loaded into the worker once; null if none. */
export async function activeClassifier(app, project) {
  if (!project || !project.classifierId) return null;
  if (!loaded.has(project.classifierId)) {
    const id = project.classifierId;
    const p = (async () => {
      const rec = await app.store.getClassifier(id);
      if (!rec) return null;           // not written yet (a restore in progress): not cached
      const polyp = await app.getPolyp();
      return polyp.loadClassifier(rec.bytes);
    })();
    loaded.set(id, p);
    p.then((c) => { if (!c) loaded.delete(id); }, () => loaded.delete(id));
  }
  return loaded.get(project.classifierId);
}

/** The project's photos (in the order they were added) with their points, and a sync
 * lookup of their stored features of the project's extractor. */
export async function projectData(store, project) {
  const [photos, anns] = await Promise.all([store.listPhotos(project.id), store.listAnnotations(project.id)]);
  const byPhoto = new Map(anns.map((a) => [a.photoId, a.points]));
  // The stable order CoralNet's split needs: the order photos were added (a backup keeps it).
  photos.sort((a, b) => a.added - b.added || a.name.localeCompare(b.name) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const list = photos.map((p) => ({ id: p.id, name: p.name, points: byPhoto.get(p.id) || [] }));
  const feats = new Map();
  if (project.extractor) {
    for (const p of list) {
      const f = p.points.length ? await store.getFeatures(p.id, project.extractor.sha256) : null;
      if (f) feats.set(p.id, f);
    }
  }
  return { photos: list, featuresOf: (p) => feats.get(p.id) || null };
}

const sameSuggestions = (a, b) => a.length === b.length && a.every((p, i) => p === b[i] ||
  (p.label === b[i].label && p.state === b[i].state && JSON.stringify(p.suggestions) === JSON.stringify(b[i].suggestions)));

/** A photo whose features just arrived gets suggestions from the project's active classifier
 * at once (CoralNet classifies a new image as soon as its features exist). */
export async function suggestForPhoto(app, projectId, photoId) {
  const project = await app.store.getProject(projectId);
  if (!project || !project.extractor || !project.classifierId) return false;
  const classifier = await activeClassifier(app, project);
  const [f, ann] = await Promise.all([app.store.getFeatures(photoId, project.extractor.sha256), app.store.getAnnotations(photoId)]);
  if (!classifier || !ann) return false;
  const pts = await suggestedPoints(classifier, ann.points, f);
  const now = await app.store.getAnnotations(photoId);          // the user may have labelled meanwhile
  if (!pts || !now || JSON.stringify(now.points) !== JSON.stringify(ann.points)) return false;
  if (sameSuggestions(pts, ann.points)) return false;
  await app.store.changePoints(projectId, 'machine suggestions', [{ photoId, points: pts }], { undoable: false });
  return true;
}

/** Gives every photo of the project fresh suggestions from `classifier` (one store write
 * per photo whose points changed, not undoable: it is the machine's, not the user's). */
export async function refreshSuggestions(app, project, classifier, { signal, progress } = {}) {
  const { photos, featuresOf } = await projectData(app.store, project);
  let done = 0, scored = 0;
  for (const photo of photos) {
    if (signal && signal.aborted) throw Object.assign(new Error('cancelled'), { name: 'AbortError' });
    const pts = await suggestedPoints(classifier, photo.points, featuresOf(photo));
    if (pts && !sameSuggestions(pts, photo.points)) {
      await app.store.changePoints(project.id, 'machine suggestions', [{ photoId: photo.id, points: pts }], { undoable: false });
      scored++;
    }
    if (progress) progress(++done, photos.length, `Suggestions: ${photo.name}`);
  }
  return scored;
}

/**
 * The full extractor id ('<kind>:<sha256>:<dim>') of the project's weights, read from their
 * stored record (engine.js extractorRecordOf), never guessed. Weights stored before records
 * were kept are loaded once to record it (ensureExtractor). Null when it cannot be known:
 * their bytes are no longer in this browser (the model is then bound to the bare sha256).
 */
export async function extractorIdFor(store, project) {
  const sha = project.extractor.sha256;
  let record = await extractorRecordOf(store, sha);
  if (!record) {
    try {
      await ensureExtractor(store, project);
      record = await extractorRecordOf(store, sha);
    } catch (e) {
      console.warn(`training: the extractor id of weights ${sha.slice(0, 12)} is unknown (${e.message}): the model is bound to their sha256`);
    }
  }
  return record && extractorShaOf(record) === sha ? record.split(' ')[0] : null;
}

/** The 'train' job: train, judge, record, and after an accepted training suggest. */
export function trainHandler(app) {
  return async (job, { signal, progress }) => {
    const project = await app.store.getProject(job.projectId);
    if (!project || !project.extractor) return;
    const polyp = await app.getPolyp();       // training needs the features, not the extractor
    const { photos, featuresOf } = await projectData(app.store, project);
    const previous = await activeClassifier(app, project);
    const extractorId = await extractorIdFor(app.store, project);
    const { classifier, record } = await trainAndJudge(polyp, {
      photos, featuresOf, extractorSha: project.extractor.sha256, extractorId, previous, signal,
      onProgress: (e, n, acc) => progress(e, n, `Training: epoch ${e} of ${n}, reference accuracy ${pct(acc)}`),
    });
    const rec = await app.store.putClassifier({ ...record, projectId: project.id, previousId: project.classifierId || null,
      trigger: job.data && job.data.trigger || 'schedule' });
    // The schedule counts from this training, accepted or not (CoralNet retrains at 1.1x the
    // images of the last training, not of the last accepted one).
    const patch = { lastTrainedCount: record.nAnnotatedImages };
    if (record.accepted) {
      patch.classifierId = rec.id;
      loaded.set(rec.id, Promise.resolve(classifier));
    } else {
      await classifier.dispose();
    }
    await app.store.updateProject(project.id, patch);
    if (record.accepted) await refreshSuggestions(app, { ...project, ...patch }, classifier, { signal, progress });
  };
}

/** Queues a training now ("Train now"), or when CoralNet's schedule says so. */
export async function queueTraining(app, projectId, { trigger = 'schedule' } = {}) {
  return app.queue.add({ kind: 'train', projectId, title: 'Train classifier', persist: false,
    key: `train:${projectId}`, data: { trigger } });
}

/** Asks the engine's schedule whether the project should train now; queues it if so. The
 * count is of annotated photos with features of the project's extractor; the annotations
 * alone are asked first, so the features (megabytes) are read only near a training. */
export async function maybeTrain(app, projectId) {
  const project = await app.store.getProject(projectId);
  if (!project || !project.extractor) return false;
  const polyp = await app.getPolyp();
  const last = project.lastTrainedCount || 0;
  const anns = await app.store.listAnnotations(projectId);
  if (!(await polyp.shouldTrain(anns.filter((a) => isAnnotated(a.points)).length, last))) return false;
  const { photos, featuresOf } = await projectData(app.store, project);
  if (!(await polyp.shouldTrain(trainingSet(photos, featuresOf, project.extractor.sha256).images.length, last))) return false;
  await queueTraining(app, projectId);
  return true;
}

/** Annotated photos, and those of them with features of the project's extractor (by key:
 * cheap, for display; the training itself also checks the features match the points). */
export async function annotatedCounts(store, project) {
  const anns = (await store.listAnnotations(project.id)).filter((a) => isAnnotated(a.points));
  let withFeatures = 0;
  if (project.extractor) {
    for (const a of anns) if (await store.db.getKey('features', [a.photoId, project.extractor.sha256])) withFeatures++;
  }
  return { annotated: anns.length, withFeatures };
}

onBoot((app) => {
  app.queue.register('train', trainHandler(app));
  // Annotations and features both change the count of trainable photos; one check per burst.
  const timers = new Map();
  app.store.subscribe((ev) => {
    if (!ev.projectId || (ev.store !== 'annotations' && ev.store !== 'features')) return;
    if (ev.store === 'features' && ev.type === 'put' && !ev.remote) {
      suggestForPhoto(app, ev.projectId, ev.id).catch((e) => console.error('suggestions', e));
    }
    clearTimeout(timers.get(ev.projectId));
    timers.set(ev.projectId, setTimeout(() => {
      timers.delete(ev.projectId);
      maybeTrain(app, ev.projectId).catch((e) => console.error('training schedule', e));
    }, 1500));
  });
});
