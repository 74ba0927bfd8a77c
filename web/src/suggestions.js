// suggestions.js - machine suggestions as CoralNet shows them: the top 5 as `CODE [NN%]`,
// percent floored; for several selected points, the normalised product of their scores.

/** CoralNet's text for one suggestion. */
export function formatSuggestion([code, prob]) {
  return `${code} [${Math.floor(prob * 100 + 1e-9)}%]`;
}

/**
 * The suggestions for the points at `indices`: one point's own list, or for several the
 * product of each label's score over the points, normalised to sum to 1, best first. A label
 * missing from a point's stored top 5 counts as 0 for that point (so it drops out). Points
 * without suggestions are skipped; none with suggestions: [].
 */
export function combinedSuggestions(points, indices, top = 5) {
  const lists = indices.map((i) => points[i] && points[i].suggestions).filter((s) => s && s.length);
  if (lists.length === 0) return [];
  if (lists.length === 1) return lists[0].slice(0, top);
  const prod = new Map(lists[0].map(([c, p]) => [c, p]));
  for (const l of lists.slice(1)) {
    const m = new Map(l);
    for (const c of [...prod.keys()]) {
      if (m.has(c)) prod.set(c, prod.get(c) * m.get(c)); else prod.delete(c);
    }
  }
  const sum = [...prod.values()].reduce((a, b) => a + b, 0);
  if (!(sum > 0)) return [];
  return [...prod].map(([c, p]) => [c, p / sum]).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, top);
}
