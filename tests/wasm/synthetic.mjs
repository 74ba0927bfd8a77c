// synthetic.mjs - a deterministic labelled source for classifier tests, shared by the node
// tests and (served to the page) the headless Chromium test. No node or DOM APIs.
//
// 48 images x 20 points, label codes LABELS; each label has its own mean direction in
// feature space plus uniform noise, so a working classifier separates them well. Point 7 of
// every image is unlabelled.
export const LABELS = ['Acro', 'CCA', 'Sand', 'Turf'];

export function mulberry32(a) {
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** [{ name, labels, features (20 x dim), points }] in stable order. */
export function makeSource(dim = 1280, seed = 12345) {
  const rnd = mulberry32(seed);
  const means = LABELS.map(() => Float32Array.from({ length: dim }, () => rnd() * 2 - 1));
  const images = [];
  for (let i = 0; i < 48; i++) {
    const labels = [], features = new Float32Array(20 * dim);
    for (let k = 0; k < 20; k++) {
      const c = Math.floor(rnd() * LABELS.length);
      labels.push(k === 7 ? null : LABELS[c]);
      for (let d = 0; d < dim; d++) features[k * dim + d] = 0.6 * means[c][d] + (rnd() * 2 - 1) * 1.2;
    }
    images.push({ name: `img${String(i).padStart(2, '0')}.jpg`, labels, features,
      points: labels.map((_, k) => [k * 3, k * 5]) });
  }
  return images;
}

/**
 * A larger source for the cancellation tests: nImages x nPoints points of `dim` values,
 * labels from `labels` (class means plus uniform noise), point 3 of every image unlabelled.
 * [{ name, labels, features, points }] in stable order.
 */
export function makeLargeSource({ dim = 64, nImages = 160, nPoints = 25, labels = ['Acro', 'CCA', 'Macro', 'Sand', 'Turf'], seed = 777 } = {}) {
  const rnd = mulberry32(seed);
  const means = labels.map(() => Float32Array.from({ length: dim }, () => rnd() * 2 - 1));
  const images = [];
  for (let i = 0; i < nImages; i++) {
    const lab = [], features = new Float32Array(nPoints * dim);
    for (let k = 0; k < nPoints; k++) {
      const c = Math.floor(rnd() * labels.length);
      lab.push(k === 3 ? null : labels[c]);
      for (let d = 0; d < dim; d++) features[k * dim + d] = 0.5 * means[c][d] + (rnd() * 2 - 1);
    }
    images.push({ name: `img${String(i).padStart(3, '0')}.jpg`, labels: lab, features, points: lab.map((_, k) => [k, 2 * k]) });
  }
  return images;
}
