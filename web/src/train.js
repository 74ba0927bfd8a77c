// train.js - the project's classifier, as CoralNet's "robot" runs it: when to train (the
// engine's schedule), training in the worker with per-epoch progress and cancel, CoralNet's
// acceptance rule against the previous classifier on the same validation images, and fresh
// machine suggestions (top 5 per point) after an accepted training. Every number comes from
// the engine (polyp.trainClassifier / evaluate / predict / shouldTrain / acceptClassifier);
// this module only chooses which photos and points go in and records what came out.
//
// Plain data in and out (no store, no DOM), so node tests drive it with the real engine:
//   photo  = { id, name, points: [{ row, col, label, confirmed, suggestions }] }
//   features(photo) -> { extractorId, dim, data: Float32Array(points x dim) } | null
// The page glue (web/src/classifier-page.js) reads these from the store and writes back.
import { topSuggestions } from '../../wasm/polyp.js';

/** Suggestions stored per point (CoralNet shows the top 5). */
export const TOP = 5;

/** A photo counts as annotated (CoralNet's "Confirmed") when it has points and every one of
 * them has a confirmed label. */
export function isAnnotated(photo) {
  return photo.points.length > 0 && photo.points.every((p) => p.confirmed && p.label);
}

/**
 * The training set: annotated photos in the project's stable order whose features come
 * from `extractorId` (a classifier belongs to one extractor: features of another one are
 * never mixed in, they are counted in `skipped`). Returns { photoIds, images: [{ labels,
 * features }], dim, skipped: { noFeatures, otherExtractor } }.
 */
export function trainingSet(photos, featuresOf, extractorId) {
  const photoIds = [], images = [];
  const skipped = { noFeatures: 0, otherExtractor: 0 };
  let dim = 0;
  for (const photo of photos) {
    if (!isAnnotated(photo)) continue;
    const f = featuresOf(photo);
    if (!f) { skipped.noFeatures++; continue; }
    if (f.extractorId !== extractorId) { skipped.otherExtractor++; continue; }
    if (f.data.length !== photo.points.length * f.dim) {
      throw new RangeError(`${photo.name}: ${f.data.length / f.dim} feature rows for ${photo.points.length} points (extract it again)`);
    }
    dim = f.dim;
    photoIds.push(photo.id);
    images.push({ labels: photo.points.map((p) => p.label), features: f.data });
  }
  return { photoIds, images, dim, skipped };
}

/**
 * The validation points of a training set for a classifier with `labels`: CoralNet's 1/8
 * test is image i with i % 8 == 0 of the stable order (core/split.c), and only points whose
 * label the classifier kept are scored (pyspacer's preprocess_labels). Both the new and the
 * previous classifier are judged on exactly these points.
 */
export function validationPoints(set, labels) {
  const kept = new Set(labels);
  const rows = [], truth = [];
  const dim = set.dim;
  set.images.forEach((im, i) => {
    if (i % 8 !== 0) return;
    im.labels.forEach((l, k) => {
      if (l && kept.has(l)) { rows.push(im.features.subarray(k * dim, (k + 1) * dim)); truth.push(l); }
    });
  });
  const features = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => features.set(r, i * dim));
  return { features, truth };
}

function plainEvaluation(ev) {
  return {
    accuracy: ev.accuracy, macroF1: ev.macroF1, labels: ev.labels, perLabel: ev.perLabel,
    confusion: Array.from(ev.confusion),
    alleviateAccuracy: Array.from(ev.alleviateAccuracy), alleviateFraction: Array.from(ev.alleviateFraction),
  };
}

/**
 * Trains a classifier on the project's annotated photos and judges it against `previous`
 * (a loaded Classifier or null) as CoralNet does: the previous one is re-evaluated on the
 * new validation points and the new one replaces it only when polyp.acceptClassifier says
 * so (>= 1.01x). A previous classifier of another extractor cannot score these features:
 * it is not compared and the new one is accepted (said in `reason`).
 * Returns { classifier, record } where record is the history entry (plain data, the model
 * file's bytes in record.model). Rejects with an AbortError when `signal` fires.
 */
export async function trainAndJudge(polyp, { photos, featuresOf, extractorId, previous = null, seed = 0, kind = 'mlp', epochs = 0, signal, onProgress }) {
  const set = trainingSet(photos, featuresOf, extractorId);
  if (set.images.length === 0) throw new RangeError('no annotated photo has features of this extractor yet');
  const started = Date.now();
  const classifier = await polyp.trainClassifier({ dim: set.dim, images: set.images },
    { kind, seed, epochs, extractorId, signal, onProgress });
  try {
    const val = validationPoints(set, classifier.labels);
    const ev = await classifier.evaluate(val.features, val.truth);
    let previousAccuracy = null, accepted = true, reason;
    if (!previous) {
      reason = 'first classifier';
    } else if (previous.extractorId !== extractorId || previous.featureDim !== set.dim) {
      reason = 'the previous classifier belongs to another extractor: not compared';
    } else {
      previousAccuracy = (await previous.evaluate(val.features, val.truth)).accuracy;
      accepted = await polyp.acceptClassifier(ev.accuracy, previousAccuracy);
      const pct = (a) => `${(100 * a).toFixed(1)}%`;
      reason = accepted
        ? `${pct(ev.accuracy)} reaches 1.01 x the previous classifier's ${pct(previousAccuracy)} on the same ${val.truth.length} validation points`
        : `${pct(ev.accuracy)} is below 1.01 x the previous classifier's ${pct(previousAccuracy)} on the same ${val.truth.length} validation points: kept the previous one`;
    }
    const record = {
      id: `clf-${started}`,
      createdAt: new Date(started).toISOString(),
      seconds: (Date.now() - started) / 1000,
      accepted, reason, extractorId, kind: classifier.kind,
      labels: classifier.labels,
      annotatedPhotos: set.images.length,
      skipped: set.skipped,
      points: classifier.report ? classifier.report.points : null,
      refAccuracy: classifier.refAccuracy,
      valAccuracy: ev.accuracy,
      previousAccuracy,
      validationPoints: val.truth.length,
      evaluation: plainEvaluation(ev),
      model: await classifier.save(),
    };
    return { classifier, record };
  } catch (e) {
    await classifier.dispose();
    throw e;
  }
}

/**
 * Fresh machine suggestions for one photo: for every point that is not confirmed, the top
 * TOP labels of the classifier's scores ([{ code, score }]); confirmed points get null (they
 * keep what the person chose). Returns null when the photo's features are missing or come
 * from another extractor (never scored with the wrong classifier).
 */
export async function suggestionsFor(classifier, photo, features) {
  if (!features || features.extractorId !== classifier.extractorId || features.dim !== classifier.featureDim) return null;
  const todo = [];
  photo.points.forEach((p, k) => { if (!p.confirmed) todo.push(k); });
  const out = photo.points.map(() => null);
  if (!todo.length) return out;
  const dim = features.dim;
  const f = new Float32Array(todo.length * dim);
  todo.forEach((k, i) => f.set(features.data.subarray(k * dim, (k + 1) * dim), i * dim));
  const probs = await classifier.predict(f);
  todo.forEach((k, i) => { out[k] = topSuggestions(probs, classifier.labels, TOP, i); });
  return out;
}

/** Number of annotated photos: the count CoralNet's schedule is asked about. */
export function annotatedCount(photos) {
  return photos.reduce((n, p) => n + (isAnnotated(p) ? 1 : 0), 0);
}
