// engine.js - the app's one Polyp instance (wasm/polyp.js, copied unbundled into
// web/dist/engine/ by the build) and the extractor it has loaded. Every number the app shows
// comes from this instance: the app adds no numeric path of its own.
//
//   const polyp = await getPolyp();            // started once, shared by every page
//   await ensureExtractor(store, project);     // loads the project's weights if not loaded
//   await extractorRecordOf(store, sha256)     // the extractor record features of those weights carry
//   engineInfo()                               // {flavor, threads, isolated, version, note}

export const TESTNET_SEED = 20261128n;   // the seed models/testnet-bnstats.safetensors holds
export const TESTNET_NAME = 'Test network';
export const TESTNET_WARNING = 'untrained: suggestions are meaningless';

let polypPromise = null;
let info = null;
let loadedSha = null;      // sha256 of the weights in the worker now
let loadedRecord = null;   // and their extractor record (WeightsInfo.extractorRecord)
let loading = null;        // the pending load, so two pages never load twice

function assetUrl(path) {
  return new URL(path, document.baseURI).href;
}

/** The shared Polyp instance (created on first call). */
export function getPolyp() {
  if (!polypPromise) {
    polypPromise = (async () => {
      const mod = await import(/* @vite-ignore */ assetUrl('engine/polyp.js'));
      const polyp = await mod.createPolyp({ threads: 'auto', log: (m) => console.info(m) });
      const isolated = !!globalThis.crossOriginIsolated;
      info = {
        flavor: polyp.flavor, threads: polyp.threads, version: polyp.version, isolated,
        note: polyp.flavor === 'simd-mt'
          ? `${polyp.threads} threads`
          : 'single-threaded (this page is not cross-origin isolated, so the threaded module cannot run)',
      };
      return polyp;
    })();
    polypPromise.catch(() => { polypPromise = null; });
  }
  return polypPromise;
}

/** What runs, once getPolyp() resolved (null before). */
export function engineInfo() { return info; }

/** The committed BN statistics the test network needs, shipped as an app asset. */
async function testnetBytes(polyp) {
  const res = await fetch(assetUrl('assets/testnet-bnstats.safetensors'));
  if (!res.ok) throw new Error(`test network statistics: HTTP ${res.status}`);
  return polyp.buildTestnet(TESTNET_SEED, await res.arrayBuffer());
}

/** Builds the seeded test network, stores it like any weights file and returns the
 * project's `extractor` record {sha256, kind, dim, name, testnet: true}. */
export async function createTestnetExtractor(store) {
  const polyp = await getPolyp();
  const bytes = await testnetBytes(polyp);
  const w = await loadBytes(polyp, bytes);
  await store.putWeights({ sha256: w.sha256, name: TESTNET_NAME, kind: 'testnet', bytes: null, record: w.extractorRecord });
  return { sha256: w.sha256, kind: w.kind, dim: w.featureDim, name: TESTNET_NAME, testnet: true };
}

/** Loads a weights file the user picked, caches its bytes in IndexedDB (offline use) and
 * returns the project's `extractor` record. */
export async function loadExtractorFile(store, file) {
  const polyp = await getPolyp();
  const bytes = new Uint8Array(await file.arrayBuffer());
  const w = await loadBytes(polyp, bytes.slice());
  await store.putWeights({ sha256: w.sha256, name: file.name, kind: w.kind || 'efficientnet-b0', bytes, record: w.extractorRecord });
  return { sha256: w.sha256, kind: w.kind, dim: w.featureDim, name: file.name, testnet: false };
}

/** The network's readable name and feature width, as the settings page shows it:
 * "MobileNet v1 (1024-d)". The width is the engine's (1280 for EfficientNet-B0 and
 * MobileNet v2, 1024 for MobileNet v1), never assumed. */
export function extractorLabel(ex) {
  // 'efficientnet-b0': how records stored before the engine named the kind spelled it.
  const names = { efficientnet_b0: 'EfficientNet-B0', 'efficientnet-b0': 'EfficientNet-B0', mobilenet_v1: 'MobileNet v1', mobilenet_v2: 'MobileNet v2' };
  const name = names[ex.kind] || ex.kind || 'unknown network';
  return ex.dim ? `${name} (${ex.dim}-d)` : name;
}

async function loadBytes(polyp, bytes) {
  const w = await polyp.loadWeights(bytes, { transfer: true });
  // Every record stores the engine's kind and width: a file it cannot tell is refused here.
  if (!w.kind || !(w.featureDim > 0)) throw new Error(`the engine reported no kind or feature width for these weights`);
  loadedSha = w.sha256;
  loadedRecord = w.extractorRecord;
  return w;
}

/**
 * The extractor record ("<kind>:<sha256>:<dim> variant=<variant>", as `polyp extract` writes
 * it into feature files) of the weights whose sha256 is `sha`, i.e. of the weights that made
 * the features stored under that extractorSha: the store's `weights` record keeps it from the
 * load on (and backups carry it); weights stored before it did are recorded the next time
 * they are loaded. Null when this browser cannot know (never loaded since): the caller writes
 * no record rather than a guessed one.
 */
export async function extractorRecordOf(store, sha) {
  const rec = await store.getWeights(sha);
  if (rec && rec.record) return rec.record;
  return loadedSha === sha ? loadedRecord : null;
}

/** Makes sure the worker holds the project's extractor; resolves to the Polyp instance.
 * Throws when the project has none or its weights are no longer stored. */
export async function ensureExtractor(store, project) {
  const polyp = await getPolyp();
  const ex = project && project.extractor;
  if (!ex) throw new Error('this project has no extractor yet: "Load extractor" or "Use test network"');
  if (loadedSha === ex.sha256) return polyp;
  if (loading && loading.sha === ex.sha256) { await loading.promise; return polyp; }
  const promise = (async () => {
    let bytes;
    const rec = await store.getWeights(ex.sha256);
    if (ex.testnet) {
      bytes = await testnetBytes(polyp);
    } else {
      if (!rec || !rec.bytes) throw new Error(`the weights ${ex.name} are not stored in this browser: load them again`);
      bytes = rec.bytes.slice();
    }
    const w = await loadBytes(polyp, bytes);
    if (w.sha256 !== ex.sha256) throw new Error(`weights changed: expected ${ex.sha256.slice(0, 12)}, got ${w.sha256.slice(0, 12)}`);
    // Weights stored before records were kept get theirs now (see extractorRecordOf).
    if (rec && !rec.record) await store.putWeights({ ...rec, record: w.extractorRecord });
  })();
  loading = { sha: ex.sha256, promise };
  try { await promise; } finally { loading = null; }
  return polyp;
}
