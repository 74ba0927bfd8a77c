// points.js - point generation for a photo by the project's method (the engine's CoralNet
// generator, given the annotation area in pixels) and changing a photo's point count while
// keeping the points (and labels) that stay.
import { newPoint } from './store.js';

/** The annotation area in inclusive pixel bounds from percentages (CoralNet's conversion:
 * floor(percent x size / 100), clamped to the last pixel). */
export function areaPixels(area, width, height) {
  const px = (pct, size) => Math.min(size - 1, Math.max(0, Math.floor((pct * size) / 100)));
  const a = { minRow: px(area.top, height), maxRow: px(area.bottom, height), minCol: px(area.left, width), maxCol: px(area.right, width) };
  if (a.minRow > a.maxRow || a.minCol > a.maxCol) throw new Error(`annotation area ${area.top}-${area.bottom}% x ${area.left}-${area.right}% is empty`);
  return a;
}

/** A reproducible seed per photo (its content hash), so regenerating gives the same points. */
export function photoSeed(photo, salt = 0) {
  return BigInt(`0x${photo.hash.slice(0, 12)}`) + BigInt(salt);
}

/** Generates the photo's points ([row, col] pairs) with the engine. */
export async function generateFor(polyp, project, photo, { count, salt = 0 } = {}) {
  const pm = project.pointMethod;
  const a = areaPixels(pm.area, photo.width, photo.height);
  const rc = await polyp.generatePoints({
    method: pm.method, n: count ?? pm.n, cellRows: pm.cellRows, cellCols: pm.cellCols, perCell: pm.perCell,
    ...a, seed: photoSeed(photo, salt),
  });
  const out = [];
  for (let i = 0; i < rc.length; i += 2) out.push(newPoint(rc[i], rc[i + 1]));
  return out;
}

/** The photo's points resized to `n`: the first n stay with their labels, new ones are
 * simple random points in the annotation area. */
export async function resizePoints(polyp, project, photo, points, n) {
  if (n <= points.length) return points.slice(0, n);
  const extra = await generateFor(polyp, { ...project, pointMethod: { ...project.pointMethod, method: 'random' } }, photo,
    { count: n - points.length, salt: points.length + 1 });
  return [...points, ...extra];
}
