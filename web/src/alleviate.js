// alleviate.js - CoralNet's Alleviate, said out loud: the user picks a confidence threshold on
// the classifier's accuracy-vs-threshold curve; every machine suggestion whose top score
// reaches it is accepted (confirmed with its top label); the app says how many were, and the
// acceptance can be undone as one step. The rule itself is the library's (alleviateAccepts,
// the same integer percent as the curve); this module plans the change and its undo.
//
// Plain data (photo = { id, points: [{ label, confirmed, suggestions }] }); the page glue
// writes the planned changes through the store in one transaction.
import { alleviateAccepts } from '../../wasm/polyp.js';

/**
 * What Alleviate at `threshold` would do: { threshold, considered, changes } where
 * `considered` counts machine points (not confirmed, with suggestions) and `changes` lists
 * [{ photoId, index, before: { label, confirmed }, after: { label, confirmed: true } }]
 * for those whose top suggestion passes.
 */
export function planAlleviate(photos, threshold) {
  const changes = [];
  let considered = 0;
  for (const photo of photos) {
    photo.points.forEach((p, index) => {
      if (p.confirmed || !p.suggestions || !p.suggestions.length) return;
      considered++;
      const top = p.suggestions[0];
      if (!alleviateAccepts(top.score, threshold)) return;
      changes.push({ photoId: photo.id, index, before: { label: p.label ?? null, confirmed: false },
        after: { label: top.code, confirmed: true } });
    });
  }
  return { threshold, considered, changes };
}

/** The undo of a plan: the same points back to what they were. */
export function undoPlan(plan) {
  return { ...plan, changes: plan.changes.map((c) => ({ ...c, before: c.after, after: c.before })) };
}

/** Applies changes to plain photos in place (the store does the same in its transaction). */
export function applyChanges(photos, changes) {
  const byId = new Map(photos.map((p) => [p.id, p]));
  for (const c of changes) Object.assign(byId.get(c.photoId).points[c.index], c.after);
}

const int = (n) => n.toLocaleString('en-US');

/** "Alleviate accepted 312 of 1,250 points (25%) at 80%" (CoralNet does this silently). */
export function alleviateMessage(plan) {
  const n = plan.changes.length, of = plan.considered;
  const pct = of ? Math.round((100 * n) / of) : 0;
  return `Alleviate accepted ${int(n)} of ${int(of)} points (${pct}%) at ${plan.threshold}%`;
}

/** "Undid Alleviate: 312 points back to unconfirmed" */
export function undoMessage(plan) {
  return `Undid Alleviate: ${int(plan.changes.length)} points back to unconfirmed`;
}

/**
 * The curve as the classifier page draws it: for thresholds 0..100 the validation accuracy
 * of the points at or above it and the fraction of points kept, from Classifier.evaluate
 * (null accuracy where no point reaches the threshold).
 */
export function curve(evaluation) {
  return evaluation.alleviateAccuracy.map((a, t) => ({ threshold: t, accuracy: a < 0 ? null : a, kept: evaluation.alleviateFraction[t] }));
}
