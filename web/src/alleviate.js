// alleviate.js - CoralNet's Alleviate, said out loud: the user picks a confidence threshold on
// the classifier's accuracy-vs-threshold curve; every machine suggestion whose top score
// reaches it is accepted (confirmed with its top label); the app says how many were
// ("Alleviate accepted 312 of 1,250 points (25%) at 80%"), and one step undoes it. The rule
// itself is the library's (alleviateAccepts: the curve's own integer percent), so the share
// accepted on the validation points is exactly the curve's "points kept" at that threshold.
//
// Plain data first (photo = { id, points } with the store's points), then the store glue.
import { alleviateAccepts } from '../../wasm/survey.js';

/**
 * What Alleviate at `threshold` does: { threshold, considered, changes }. `considered`
 * counts machine points (unconfirmed, with suggestions); `changes` lists [{ photoId, index,
 * before, after }] (each a point) for those whose top suggestion passes.
 */
export function planAlleviate(photos, threshold) {
  const changes = [];
  let considered = 0;
  for (const photo of photos) {
    photo.points.forEach((p, index) => {
      if (p.state === 'confirmed' || !p.suggestions || !p.suggestions.length) return;
      considered++;
      const [code, score] = p.suggestions[0];
      if (!alleviateAccepts(score, threshold)) return;
      changes.push({ photoId: photo.id, index, before: p, after: { ...p, label: code, state: 'confirmed', changed: true } });
    });
  }
  return { threshold, considered, changes };
}

/** The photos' new point lists for a set of point changes ({ photoId, index, point }),
 * as store.changePoints takes them. `pick` chooses 'after' (apply) or 'before' (undo); on
 * undo a point the user has changed since is left alone. */
export function pointLists(photos, changes, pick = 'after') {
  const byId = new Map(photos.map((p) => [p.id, p]));
  const out = new Map();
  for (const c of changes) {
    const photo = byId.get(c.photoId);
    if (!photo || c.index >= photo.points.length) continue;
    const now = photo.points[c.index];
    const from = pick === 'after' ? c.before : c.after;
    if (now.label !== from.label || now.state !== from.state || now.row !== from.row || now.col !== from.col) continue;
    if (!out.has(c.photoId)) out.set(c.photoId, photo.points.slice());
    out.get(c.photoId)[c.index] = c[pick];
  }
  return [...out].map(([photoId, points]) => ({ photoId, points }));
}

const int = (n) => n.toLocaleString('en-US');

/** "Alleviate accepted 312 of 1,250 points (25%) at 80%" (CoralNet does this silently). */
export function alleviateMessage(plan) {
  const n = plan.changes.length, of = plan.considered;
  const share = of ? Math.round((100 * n) / of) : 0;
  return `Alleviate accepted ${int(n)} of ${int(of)} points (${share}%) at ${plan.threshold}%`;
}

/** "Undid Alleviate at 80%: 312 points back to unconfirmed" */
export function undoMessage(threshold, n) {
  return `Undid Alleviate at ${threshold}%: ${int(n)} points back to unconfirmed`;
}

/**
 * The curve as the classifier page draws it, from Classifier.evaluate's arrays: for each
 * threshold 0..100 the validation accuracy of the points whose top score reaches it (null
 * where none does) and the fraction of points kept.
 */
export function curve(evaluation) {
  return evaluation.alleviateAccuracy.map((a, t) => ({ threshold: t, accuracy: a < 0 ? null : a, kept: evaluation.alleviateFraction[t] }));
}

// ---------------------------------------------------------------------- store glue

async function photosOf(store, projectId) {
  return (await store.listAnnotations(projectId)).map((a) => ({ id: a.photoId, points: a.points }));
}

/** Applies Alleviate at `threshold` to the project in one undoable write; remembers it in
 * project.alleviate; resolves to the message said to the user. */
export async function applyAlleviate(store, projectId, threshold) {
  const photos = await photosOf(store, projectId);
  const plan = planAlleviate(photos, threshold);
  const msg = alleviateMessage(plan);
  const lists = pointLists(photos, plan.changes, 'after');
  const seq = lists.length ? await store.changePoints(projectId, msg, lists) : null;
  await store.updateProject(projectId, { alleviate: {
    threshold, accepted: plan.changes.length, considered: plan.considered, seq, at: Date.now(), message: msg,
    changes: plan.changes.map((c) => ({ photoId: c.photoId, index: c.index, before: c.before, after: c.after })),
  } });
  return msg;
}

/** Undoes the project's last Alleviate: through the store's undo when it is still the last
 * action (exactly as Ctrl+Z), else point by point where nothing changed since. */
export async function undoAlleviate(store, projectId) {
  const project = await store.getProject(projectId);
  const a = project && project.alleviate;
  if (!a || a.undone) return null;
  const entries = await store.db.getAllFromIndex('undo', 'projectId', projectId);
  const last = entries.filter((e) => !e.undone).pop();
  let n = a.accepted;
  if (a.seq != null && last && last.seq === a.seq) {
    await store.undo(projectId);
  } else {
    const lists = pointLists(await photosOf(store, projectId), a.changes, 'before');
    n = lists.reduce((s, l) => s + a.changes.filter((c) => c.photoId === l.photoId && l.points[c.index] === c.before).length, 0);
    if (lists.length) await store.changePoints(projectId, undoMessage(a.threshold, n), lists);
  }
  const msg = undoMessage(a.threshold, n);
  await store.updateProject(projectId, { alleviate: { ...a, undone: true, changes: [], message: msg } });
  return msg;
}
