// survey.js - pure-JS helpers over the engine's outputs for an annotation app: how CoralNet
// shows and uses machine scores (top suggestions, `CODE [NN%]`, the combined score of several
// selected points, Alleviate's rule) and its survey statistics (percent cover per image and
// overall, the percent-cover CSV). No wasm: these are the few rules that act on probabilities
// the classifier already returned, kept here so that an app never re-derives them.

/** CoralNet's integer percent of a probability, round half up (core: polyp_score_percent,
 * the rule of the export CSV's confidences and of the Alleviate curve). */
export function scorePercent(p) {
  const v = Math.floor(Number(p) * 100 + 0.5);   // double arithmetic, as the C core does
  return Number.isNaN(v) ? 0 : v < 0 ? 0 : v > 100 ? 100 : v;
}

/** The annotation tool's percent: CoralNet floors the score it prints next to a label. */
export function floorPercent(p) {
  const v = Math.floor(Number(p) * 100);
  return Number.isNaN(v) ? 0 : v < 0 ? 0 : v > 100 ? 100 : v;
}

/** `CODE [NN%]`, the annotation tool's text of one suggestion (percent floored). */
export function formatSuggestion(code, score) {
  return `${code} [${floorPercent(score)}%]`;
}

/**
 * The top `k` labels of one row of probabilities: [{ code, score }] by score, highest first
 * (ties in class order, i.e. sorted label codes). `probs` holds rows of labels.length values;
 * `row` picks one. NaN rows (no score) give [].
 */
export function topSuggestions(probs, labels, k = 5, row = 0) {
  const n = labels.length;
  if (!Number.isInteger(row) || row < 0 || (row + 1) * n > probs.length) {
    throw new RangeError(`topSuggestions: row ${row} outside ${probs.length / Math.max(n, 1)} rows of ${n} labels`);
  }
  const base = row * n;
  if (Number.isNaN(probs[base])) return [];
  const idx = Array.from({ length: n }, (_, i) => i);
  idx.sort((a, b) => probs[base + b] - probs[base + a] || a - b);
  return idx.slice(0, Math.max(0, k)).map((i) => ({ code: labels[i], score: probs[base + i] }));
}

/**
 * The score of labelling several selected points at once (the annotation tool with many
 * points selected): the product of their probabilities per label, normalised to sum to 1.
 * Computed in logs so that 50 points of small scores do not underflow to 0/0. `rows` are
 * probability rows of the same class order. A label that one point gives 0 gets 0.
 */
export function combineScores(rows) {
  if (!rows.length) throw new RangeError('combineScores: no points');
  const n = rows[0].length;
  const logs = new Float64Array(n);
  for (const r of rows) {
    if (r.length !== n) throw new RangeError(`combineScores: rows of ${n} and ${r.length} labels`);
    for (let i = 0; i < n; i++) logs[i] += Math.log(r[i]);
  }
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (logs[i] > max) max = logs[i];
  const out = new Float64Array(n);
  if (max === -Infinity) return out.fill(NaN);   // every label ruled out by some point
  let sum = 0;
  for (let i = 0; i < n; i++) sum += (out[i] = Math.exp(logs[i] - max));
  for (let i = 0; i < n; i++) out[i] /= sum;
  return out;
}

/** Alleviate's rule: a machine suggestion whose top score reaches `threshold` (integer
 * percent 0..100, as on the curve Classifier.evaluate returns) is accepted. */
export function alleviateAccepts(topScore, threshold) {
  if (!Number.isInteger(threshold) || threshold < 0 || threshold > 100) {
    throw new RangeError(`alleviate: threshold ${threshold} must be an integer percent 0..100`);
  }
  return !Number.isNaN(Number(topScore)) && scorePercent(topScore) >= threshold;
}

/**
 * Percent cover, as CoralNet's image-covers export computes it: per image, each label's share
 * of its annotated points (confirmed or machine); over images, the mean of those shares and
 * its standard error (sample standard deviation / sqrt(images)). Images with no annotated
 * point are left out of the statistics (CoralNet leaves unclassified images out).
 * images: [{ name, labels: (code|null)[] }]; codes: the labelset's codes (column order).
 * Returns { codes, images: [{ name, points, annotated, cover: Float64Array }], n, mean, se }
 * with covers as fractions 0..1 (se NaN for fewer than 2 images).
 */
export function percentCover(images, codes) {
  const col = new Map(codes.map((c, i) => [c, i]));
  const k = codes.length;
  const out = [];
  for (const im of images) {
    const counts = new Float64Array(k);
    let annotated = 0;
    for (const l of im.labels) {
      if (l === null || l === undefined || l === '') continue;
      const i = col.get(l);
      if (i === undefined) throw new RangeError(`percent cover: ${im.name}: label '${l}' is not in the labelset`);
      counts[i]++;
      annotated++;
    }
    const cover = counts.map((c) => (annotated ? c / annotated : NaN));
    out.push({ name: im.name, points: im.labels.length, annotated, cover });
  }
  const used = out.filter((r) => r.annotated > 0);
  const n = used.length;
  const mean = new Float64Array(k), se = new Float64Array(k);
  for (let j = 0; j < k; j++) {
    let s = 0;
    for (const r of used) s += r.cover[j];
    mean[j] = n ? s / n : NaN;
    let ss = 0;
    for (const r of used) ss += (r.cover[j] - mean[j]) ** 2;
    se[j] = n > 1 ? Math.sqrt(ss / (n - 1)) / Math.sqrt(n) : NaN;
  }
  return { codes: [...codes], images: out, n, mean, se };
}

function csvField(s) {
  const t = String(s);
  return /[",\r\n]/.test(t) ? `"${t.replace(/"/g, '""')}"` : t;
}

function percent3(fraction) {
  const s = (fraction * 100).toFixed(3);
  return s === '-0.000' ? '0.000' : s;
}

/**
 * CoralNet's percent-cover CSV ("percent_covers.csv"): header `Image ID,Image name,Annotation
 * status,Points,<code>...`, one row per image that has annotations (CoralNet skips
 * unclassified images), each label's cover in percent with 3 decimals, and with more than one
 * image a final `ALL IMAGES` row of the mean cover. images: [{ id, name, status, labels }]
 * (status: 'Unconfirmed' | 'Confirmed' ...); codes in the labelset's column order (CoralNet:
 * by functional group, then code). Lines end in CRLF, as Python's csv module writes them.
 */
export function percentCoverCsv(images, codes) {
  const kept = images.filter((im) => im.labels.some((l) => l !== null && l !== undefined && l !== ''));
  const pc = percentCover(kept, codes);
  const lines = [['Image ID', 'Image name', 'Annotation status', 'Points', ...codes].map(csvField).join(',')];
  pc.images.forEach((r, i) => {
    const im = kept[i];
    lines.push([im.id ?? i + 1, im.name, im.status ?? '', r.points, ...Array.from(r.cover, percent3)].map(csvField).join(','));
  });
  if (pc.n > 1) lines.push(['ALL IMAGES', '', '', '', ...Array.from(pc.mean, percent3)].map(csvField).join(','));
  return lines.join('\r\n') + '\r\n';
}
