// bench.mjs - polyp's in-browser extraction benchmark (tests/bench/browser/run.sh runs it).
//
// In ONE run, on the same 224x224 patches and the same seeded test-network weights:
//   polyp-wasm (threaded module with 1 and 2 threads, single-threaded module),
//   onnxruntime-web (wasm EP, SIMD, numThreads 1/2) on models/export_onnx.py's ONNX file,
//   TensorFlow.js's wasm backend (SIMD, setThreadsCount 1/2) running the network built from
//   the same weights (page/tfjs_effnet.js),
// each in a fresh dedicated worker of one headless Chromium (Debian's, via playwright-core)
// on a page served from 127.0.0.1 with COOP/COEP; then polyp native (build-bench's
// bench_extract: portable and xnnpack backends, same threads), sequentially; then in-browser
// classifier training on 20,000 synthetic points through the public JS API's worker.
// Every engine's features are compared with polyp native portable's before any speed is
// printed (max |diff| <= --tol, else MISMATCH and exit status 1).
//
//   node bench.mjs --work DIR --bench-extract PATH [--threads 1,2] [--npatch 8] [--batch 8]
//                  [--lat-iters 15] [--thr-iters 7] [--budget 20] [--train-points 20000]
//                  [--train-runs 2] [--tol 1e-3] [--only polyp,ort,tfjs,native,train] [--quick]
//                  [--json OUT]
// DIR holds weights.safetensors, patches.f32 (npatch x 224 x 224 x 3 float32) and model.onnx.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync, existsSync, appendFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { serve } from '../../../wasm/example/serve.mjs';

const here = fileURLToPath(new URL('./', import.meta.url));
const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');
const CHROMIUM = process.env.POLYP_CHROMIUM || '/usr/bin/chromium';
const DIM = 1280, P = 224, PF = P * P * 3;
const GMAC_PER_PATCH = 0.386;

// ---------------------------------------------------------------- options
const o = { threads: '1,2', npatch: 8, batch: 8, latIters: 15, thrIters: 7, budget: 20,
  trainPoints: 20000, trainRuns: 2, tol: 1e-3, quick: false, json: null, work: null, benchExtract: null,
  only: 'polyp,ort,tfjs,native,train' };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const key = argv[i].replace(/^--/, '').replace(/-(.)/g, (_, c) => c.toUpperCase());
  if (!(key in o)) { console.error(`bench.mjs: unknown option ${argv[i]}`); process.exit(2); }
  if (typeof o[key] === 'boolean') o[key] = true;
  else o[key] = typeof o[key] === 'number' ? Number(argv[++i]) : argv[++i];
}
if (o.quick) Object.assign(o, { latIters: 1, thrIters: 1, budget: 0, trainRuns: 1 });
if (!o.work || !o.benchExtract) { console.error('usage: node bench.mjs --work DIR --bench-extract PATH'); process.exit(2); }
const THREADS = o.threads.split(',').map(Number);
const ONLY = new Set(o.only.split(','));
// The cross-check needs polyp native portable's features.
ONLY.add('native');
const timing = (iters) => ({ iters, budget: o.budget, minRuns: Math.min(3, iters) });
const say = (s) => process.stderr.write(s + '\n');

// ---------------------------------------------------------------- inputs
const f32 = (path) => { const b = readFileSync(path); return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)); };
const patches = f32(join(o.work, 'patches.f32'));
if (patches.length !== o.npatch * PF) throw new Error(`patches.f32 holds ${patches.length / PF} patches, not ${o.npatch}`);
if (o.npatch % o.batch) throw new Error('--npatch must be a multiple of --batch');

/** The patches side by side as one 224 x (224 * npatch) RGB PNG (values k/255, so exact). */
function tiledPng() {
  const w = P * o.npatch, h = P;
  const raw = Buffer.alloc(h * (1 + 3 * w));
  for (let y = 0; y < h; y++) {
    const row = y * (1 + 3 * w);
    raw[row] = 0;   // filter: none
    for (let k = 0; k < o.npatch; k++)
      for (let x = 0; x < P; x++)
        for (let c = 0; c < 3; c++) {
          const v = patches[k * PF + (y * P + x) * 3 + c] * 255;
          const q = Math.round(v);
          if (Math.abs(v - q) > 1e-3) throw new Error('patch values are not k/255');
          raw[row + 1 + 3 * (k * P + x) + c] = q;
        }
  }
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => { let c = 0xffffffff; for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const c = Buffer.alloc(4); c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 2;   // 8-bit RGB
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 1 })), chunk('IEND', Buffer.alloc(0))]);
}
writeFileSync(join(o.work, 'patches.png'), tiledPng());

// ---------------------------------------------------------------- CPU facts
const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
const mhz = Number((cpuinfo.match(/^cpu MHz\s*:\s*([\d.]+)/m) || [])[1]) || cpus()[0].speed;
const model = (cpuinfo.match(/^model name\s*:\s*(.*)$/m) || [])[1] || cpus()[0].model;
/** Busy CPUs (all processes) between two /proc/stat samples: a T-thread run on a quiet
 * machine shows about T; more means something else ran and the row is suspect. */
const cpuSample = () => {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + (f[4] || 0);
  return { total: f.reduce((a, b) => a + b, 0), idle };
};
const busyCpus = (a, b) => (b.total > a.total ? (cpus().length * (1 - (b.idle - a.idle) / (b.total - a.total))) : NaN);
/** Fraction of the 4-wide multiply+add peak: T threads x 4 MAC/cycle x clock. */
const peakFraction = (pps, t) => (pps * GMAC_PER_PATCH * 1e9) / (t * 4 * mhz * 1e6);

// ---------------------------------------------------------------- the browser part
const results = [];   // { engine, label, threads, lat_ms, pps, features, info }
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-default-apps', '--disable-extensions', '--no-default-browser-check',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'];

const dataFiles = Object.fromEntries(['weights.safetensors', 'model.onnx', 'patches.f32', 'patches.png']
  .map((n) => [`/bench-data/${n}`, join(o.work, n)]));
const server = await serve({ files: dataFiles });
const profile = mkdtempSync(join(tmpdir(), 'polyp-bench-chromium-'));
let context = null;
const foreignRequests = [];
let training = [];
let browserVersion = '?';
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: FLAGS, serviceWorkers: 'block',
  });
  browserVersion = context.browser() ? context.browser().version() : (spawnSync(CHROMIUM, ['--version']).stdout || '').toString().trim();
  context.on('request', (r) => { if (!r.url().startsWith(server.url + '/') && !/^(data|blob):/.test(r.url())) foreignRequests.push(r.url()); });
  const page = context.pages()[0] || await context.newPage();
  const consoleLines = [];
  page.on('console', (m) => consoleLines.push(m.text()));
  page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
  await page.goto(`${server.url}/tests/bench/browser/page/`);
  await page.waitForFunction(() => window.polypBench && window.polypBench.ready, null, { timeout: 60_000 });
  const env = await page.evaluate(() => ({ coi: window.polypBench.coi, hw: window.polypBench.hw, ua: window.polypBench.ua }));
  say(`== Chromium ${browserVersion}: crossOriginIsolated=${env.coi}, hardwareConcurrency=${env.hw}`);
  if (!env.coi) throw new Error('the page is not cross-origin isolated: threads would not work');

  const configs = [];
  for (const t of THREADS) configs.push({ engine: 'polyp', flavor: 'simd-mt', threads: t, label: 'polyp-wasm (mt module)' });
  if (THREADS.includes(1)) configs.push({ engine: 'polyp', flavor: 'simd', threads: 1, label: 'polyp-wasm (single-threaded module)' });
  for (const t of THREADS) configs.push({ engine: 'ort', threads: t, label: 'onnxruntime-web (wasm)' });
  for (const t of THREADS) configs.push({ engine: 'tfjs', threads: t, label: 'tfjs-wasm' });
  for (const cfg of configs.filter((c) => ONLY.has(c.engine))) {
    say(`== ${cfg.label}, ${cfg.threads} thread(s)`);
    const c0 = cpuSample();
    const res = await page.evaluate((c) => window.polypBench.extract(c), {
      ...cfg, npatch: o.npatch, batch: o.batch, lat: timing(o.latIters), thr: timing(o.thrIters),
    });
    if (!res.ok) {
      say(`   FAILED: ${res.error}`);
      results.push({ ...cfg, error: res.error.split('\n')[0] });
      continue;
    }
    results.push({ ...cfg, busy: busyCpus(c0, cpuSample()), info: res.info, lat_ms: res.latency.med * 1e3, lat_runs: res.latency.runs,
      batch_s: res.throughput.med, pps: o.batch / res.throughput.med, thr_runs: res.throughput.runs,
      features: Float32Array.from(res.features) });
    say(`   ${JSON.stringify(res.info)}`);
  }
  for (const t of ONLY.has('train') ? THREADS : []) {
    say(`== in-browser training, ${o.trainPoints} points, ${t} thread(s)`);
    const r = await page.evaluate((c) => window.polypBench.train(c), { threads: t, points: o.trainPoints, runs: o.trainRuns });
    if (!r.ok) say(`   FAILED: ${r.error}`);
    else say(`   ${r.flavor}, ${r.threads} thread(s): ${r.times.map((x) => x.toFixed(2)).join(', ')} s; points [train, ref, val] = ${r.report && r.report.points}`);
    training.push({ threads: t, ...r });
  }
  const errors = consoleLines.filter((l) => /error/i.test(l));
  if (errors.length) say(`page console errors: ${errors.slice(0, 5).join(' | ')}`);
} finally {
  if (context) await context.close();
  await server.close();
  rmSync(profile, { recursive: true, force: true });
}

// ---------------------------------------------------------------- polyp native
for (const backend of ['portable', 'xnnpack']) {
  for (const t of THREADS) {
    say(`== polyp native ${backend}, ${t} thread(s)`);
    const featPath = join(o.work, `native-${backend}-${t}.f32`);
    const c0 = cpuSample();
    const r = spawnSync(o.benchExtract, ['--weights', join(o.work, 'weights.safetensors'),
      '--patches', join(o.work, 'patches.f32'), '--npatch', String(o.npatch), '--backend', backend,
      '--threads', String(t), '--lat-iters', String(o.latIters), '--thr-iters', String(o.thrIters),
      '--budget', String(o.budget), '--write-features', featPath], { encoding: 'utf8' });
    if (r.status !== 0) {
      say(`   FAILED: ${r.stderr.trim()}`);
      results.push({ engine: `native-${backend}`, label: `polyp native ${backend}`, threads: t, error: r.stderr.trim() });
      continue;
    }
    const j = JSON.parse(r.stdout.trim().split('\n').pop());
    results.push({ engine: `native-${backend}`, label: `polyp native ${j.engine.replace('polyp-', '')}`, threads: t, busy: busyCpus(c0, cpuSample()),
      lat_ms: j.lat_ms, lat_runs: j.lat_runs, batch_s: j.batch_s, pps: j.pps, thr_runs: j.thr_runs, features: f32(featPath) });
  }
}

// ---------------------------------------------------------------- cross-check, then speeds
const ref = results.find((r) => r.engine === 'native-portable' && r.features);
let mismatch = false;
let refMax = 0;
if (ref) for (const v of ref.features) refMax = Math.max(refMax, Math.abs(v));
console.log(`\npolyp in-browser benchmark: ${o.npatch} patches (224x224) of the seeded test network; ` +
  `latency = batch 1, throughput = batch ${o.batch}; medians of up to ${o.latIters} / ${o.thrIters} runs (budget ${o.budget} s each)`);
console.log(`CPU: ${model}, ${cpus().length} cores, ${mhz} MHz (/proc/cpuinfo); browser: Chromium ${browserVersion}`);
console.log(`\nfeatures vs polyp native portable (largest |feature| ${refMax.toExponential(3)}, tolerance ${o.tol}):`);
for (const r of results) {
  if (!r.features) continue;
  if (!ref) { console.log(`  ${r.label} ${r.threads}T: no reference`); mismatch = true; continue; }
  let d = 0;
  for (let i = 0; i < ref.features.length; i++) d = Math.max(d, Math.abs(r.features[i] - ref.features[i]));
  if (!(d <= o.tol)) mismatch = true;
  r.maxdiff = d;
  console.log(`  ${(r.label + ',').padEnd(38)} ${r.threads}T: max|diff| = ${d.toExponential(2)}${d <= o.tol ? '' : '  MISMATCH'}`);
}
if (mismatch) {
  console.log('\nMISMATCH: some engine computed different features; speeds are not shown.');
  process.exitCode = 1;
} else {
  const find = (engine, t, flavor) => results.find((r) => r.engine === engine && r.threads === t && (!flavor || r.flavor === flavor) && r.pps);
  console.log('');
  console.log(`| engine | threads | latency ms (batch 1) | patches/s (batch ${o.batch}) | of 4-wide mul+add peak | workers started | busy CPUs |`);
  console.log('|---|---|---|---|---|---|---|');
  let noisy = false;
  for (const r of results) {
    if (r.error) { console.log(`| ${r.label} | ${r.threads} | failed: ${r.error.slice(0, 120)} | | | | |`); continue; }
    const pool = r.info ? `${r.info.workersSpawned}${r.info.threadsUsed != null ? ` (tfjs threads ${r.info.threadsUsed})` : ''}` : 'native';
    const flag = r.busy > r.threads + 0.35 ? ' (!)' : '';
    if (flag) noisy = true;
    console.log(`| ${r.label} | ${r.threads} | ${r.lat_ms.toFixed(1)} | ${r.pps.toFixed(2)} | ${(100 * peakFraction(r.pps, r.threads)).toFixed(1)}% | ${pool} | ${r.busy.toFixed(2)}${flag} |`);
  }
  console.log('(busy CPUs: all processes, averaged over the row\'s measurement; (!) = more than its threads: something else ran, the row is suspect)');
  if (noisy) console.log('WARNING: the machine was not quiet during some rows (busy CPUs above); rerun them.');
  console.log(`(peak = threads x 4 MAC/cycle x ${mhz} MHz, ${GMAC_PER_PATCH} GMAC per patch; native rows can exceed it: AVX2/AVX-512 with FMA)`);
  console.log('');
  const ratio = (a, b) => (a && b ? (a.pps / b.pps).toFixed(2) + 'x' : 'n/a');
  const latRatio = (a, b) => (a && b ? (b.lat_ms / a.lat_ms).toFixed(2) + 'x' : 'n/a');
  console.log('| ratio (patches/s; latency speed-up in brackets) | ' + THREADS.map((t) => `${t} thread${t > 1 ? 's' : ''}`).join(' | ') + ' |');
  console.log('|---|' + THREADS.map(() => '---').join('|') + '|');
  const row = (name, f) => console.log(`| ${name} | ${THREADS.map(f).join(' | ')} |`);
  row('polyp-wasm / onnxruntime-web', (t) => `${ratio(find('polyp', t, 'simd-mt'), find('ort', t))} (${latRatio(find('polyp', t, 'simd-mt'), find('ort', t))})`);
  row('polyp-wasm / tfjs-wasm', (t) => `${ratio(find('polyp', t, 'simd-mt'), find('tfjs', t))} (${latRatio(find('polyp', t, 'simd-mt'), find('tfjs', t))})`);
  row('polyp-wasm / polyp native portable', (t) => `${ratio(find('polyp', t, 'simd-mt'), find('native-portable', t))} (${latRatio(find('polyp', t, 'simd-mt'), find('native-portable', t))})`);
  row('polyp-wasm / polyp native xnnpack', (t) => `${ratio(find('polyp', t, 'simd-mt'), find('native-xnnpack', t))} (${latRatio(find('polyp', t, 'simd-mt'), find('native-xnnpack', t))})`);
  if (THREADS.includes(1) && THREADS.includes(2)) {
    for (const [name, e, fl] of [['polyp-wasm', 'polyp', 'simd-mt'], ['onnxruntime-web', 'ort'], ['tfjs-wasm', 'tfjs'], ['polyp native portable', 'native-portable'], ['polyp native xnnpack', 'native-xnnpack']]) {
      console.log(`2-thread / 1-thread scaling, ${name}: ${ratio(find(e, 2, fl), find(e, 1, fl))} patches/s, ${latRatio(find(e, 2, fl), find(e, 1, fl))} latency`);
    }
  }
  const st = find('polyp', 1, 'simd'), mt1 = find('polyp', 1, 'simd-mt');
  if (st && mt1) console.log(`single-threaded module / threaded module at 1 thread: ${ratio(st, mt1)} patches/s`);
}
console.log('');
for (const tr of training) {
  if (!tr.ok) { console.log(`training ${o.trainPoints} points, ${tr.threads} thread(s): FAILED ${tr.error}`); continue; }
  const s = [...tr.times].sort((a, b) => a - b);
  const med = s.length % 2 ? s[(s.length - 1) / 2] : 0.5 * (s[s.length / 2 - 1] + s[s.length / 2]);
  tr.median_s = med;
  console.log(`in-browser MLP training, ${o.trainPoints} points x 1280 (${tr.report ? `train/ref/val ${tr.report.points.join('/')}, hidden ${tr.report.hidden}, ${tr.report.epochsDone} epochs, val acc ${tr.report.valAccuracy.toFixed(3)}` : ''}), ` +
    `${tr.flavor} ${tr.threads} thread(s), via the JS API worker: ${med.toFixed(2)} s (median of ${s.length}: ${s.map((x) => x.toFixed(2)).join(', ')})`);
}
if (foreignRequests.length) {
  console.log(`requests outside 127.0.0.1 (blocked): ${foreignRequests.slice(0, 5).join(', ')}`);
}
if (o.json) {
  const strip = results.map(({ features, ...r }) => r);
  appendFileSync(o.json, JSON.stringify({ date: new Date().toISOString(), cpu: model, mhz, browser: browserVersion,
    npatch: o.npatch, batch: o.batch, results: strip, training }) + '\n');
}
