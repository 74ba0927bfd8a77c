// wasm_memory.mjs - peak wasm memory of polyp-wasm for one large photo (issue 4 asks that a
// 12-megapixel photo with 100 points never needs more than 256 MB of wasm memory).
//
//   node --no-experimental-fetch tests/bench/wasm_memory.mjs [photo.jpg] [--points 100]
//
// Without a photo it writes a 4000 x 3000 JPEG (12 MP, seeded noise over gradients, quality
// 90) with Debian's python3-pil into a temporary folder. Runs the single-threaded module
// (wasm/dist/polyp-simd, built by tests/wasm/run.sh or tests/bench/browser/run.sh) through
// wasm/engine.js as the worker does: test network weights, decode, extract the points
// (random, seeded, inside the photo) in the worker's default chunks. wasm memory only grows,
// so its size after the run is the peak. Not a test: CI never runs it.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine } from '../../wasm/engine.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const args = process.argv.slice(2);
let photo = null, npoints = 100;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--points') npoints = Number(args[++i]);
  else if (args[i] === '-h' || args[i] === '--help') {
    console.log('usage: node --no-experimental-fetch tests/bench/wasm_memory.mjs [photo.jpg] [--points N]');
    process.exit(0);
  } else photo = args[i];
}
const work = mkdtempSync(join(tmpdir(), 'polyp-wasm-memory-'));
try {
  if (!photo) {
    photo = join(work, 'photo-12mp.jpg');
    const py = `
import numpy as np
from PIL import Image
rng = np.random.default_rng(4)
h, w = 3000, 4000
y, x = np.mgrid[0:h, 0:w]
img = np.stack([(x * 255 // w), (y * 255 // h), ((x + y) * 127 // (w + h))], -1).astype(np.int16)
img += rng.integers(-40, 40, size=img.shape, dtype=np.int16)
Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(${JSON.stringify(photo)}, quality=90)
`;
    const r = spawnSync('/usr/bin/python3', ['-c', py], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`writing the 12 MP JPEG failed: ${r.stderr}`);
  }
  const e = await Engine.create({ flavor: 'simd', threads: 1, baseUrl: new URL('wasm/dist/', `file://${root}`) });
  const mb = () => e.buffer().byteLength / 1048576;
  const start = mb();
  const weights = e.buildTestnet(20261128n, readFileSync(join(root, 'models/testnet-bnstats.safetensors')));
  e.loadWeights(weights);
  const afterWeights = mb();
  const img = e.decode(readFileSync(photo));
  const { width, height } = e.imageInfo(img);
  const afterDecode = mb();
  let s = 12345;
  const rand = (n) => { s = (s * 1103515245 + 12345) >>> 0; return s % n; };
  const rowcol = new Uint32Array(npoints * 2);
  for (let i = 0; i < npoints; i++) { rowcol[2 * i] = rand(height); rowcol[2 * i + 1] = rand(width); }
  const t0 = performance.now();
  const feats = await e.extractPoints(img, rowcol);
  const secs = (performance.now() - t0) / 1000;
  e.freeImage(img);
  let finite = true;
  for (const v of feats) if (!Number.isFinite(v)) { finite = false; break; }
  console.log(`photo ${width} x ${height} (${((width * height) / 1e6).toFixed(1)} MP), ${npoints} points in ${secs.toFixed(1)} s, features finite: ${finite}`);
  console.log(`wasm memory (MiB): at start ${start.toFixed(1)}, weights loaded ${afterWeights.toFixed(1)}, ` +
    `photo decoded ${afterDecode.toFixed(1)}, peak after extraction ${mb().toFixed(1)} (bound: 256 MB = 244.1 MiB)`);
  if (!finite || mb() > 244.140625) process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
