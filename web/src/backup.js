// backup.js - a whole project as one file, and back: "Back up project" writes a ZIP (the
// library's zip.js, stored entries) holding `backup.json` (format, app schema version, the
// project's records of every store) and one entry per binary value (photos, features, model
// files) so a 2 GB project is never turned into one giant string; "Restore project" reads it
// on any machine and hands the records back to the store to write.
//
// Records are IndexedDB values (structured-clone data). JSON cannot hold their binary parts,
// so every ArrayBuffer, typed array, Blob/File and Date is replaced by a tagged reference
// ({ [TAG]: kind, ... }) and restored to the same type. That encoding knows no schema; below,
// projectRecords() and restoreProject() read and write one project through the store's API,
// and the Restore page (reached from the projects page) ends the file.
import { useState } from 'preact/hooks';
import { zipFiles, unzipFiles } from '../../wasm/zip.js';
import { html, useApp } from './ui.js';
import { registerPage, navigate, pathFor } from './router.js';
import { DB_VERSION, uid } from './store.js';

export const FORMAT = 'polyp-project-backup';
export const FORMAT_VERSION = 1;
const TAG = '\u0000polyp';          // a key no app record uses
const TYPED = ['Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array',
  'Uint32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array'];

function encodeValue(v, blobs) {
  if (v === null || typeof v !== 'object') {
    if (typeof v === 'bigint') return { [TAG]: 'bigint', v: v.toString() };
    if (typeof v === 'number' && !Number.isFinite(v)) return { [TAG]: 'number', v: String(v) };
    return v;
  }
  if (v instanceof Date) return { [TAG]: 'date', v: v.getTime() };
  if (typeof Blob === 'function' && v instanceof Blob) {
    const path = `data/${blobs.length}`;
    blobs.push({ name: path, data: v });
    const ref = { [TAG]: 'blob', path, type: v.type };
    if (typeof File === 'function' && v instanceof File) Object.assign(ref, { file: v.name, lastModified: v.lastModified });
    return ref;
  }
  if (v instanceof ArrayBuffer) {
    const path = `data/${blobs.length}`;
    blobs.push({ name: path, data: new Uint8Array(v) });
    return { [TAG]: 'buffer', path };
  }
  if (ArrayBuffer.isView(v)) {
    const kind = v.constructor.name;
    if (!TYPED.includes(kind)) throw new TypeError(`backup: cannot store a ${kind}`);
    const path = `data/${blobs.length}`;
    blobs.push({ name: path, data: new Uint8Array(v.buffer, v.byteOffset, v.byteLength) });
    return { [TAG]: 'typed', path, kind };
  }
  if (Array.isArray(v)) return v.map((x) => encodeValue(x, blobs));
  if (v instanceof Map || v instanceof Set) throw new TypeError('backup: Map/Set values are not stored (use plain objects)');
  const out = {};
  for (const [k, x] of Object.entries(v)) out[k] = encodeValue(x, blobs);
  return out;
}

async function decodeValue(v, files) {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return Promise.all(v.map((x) => decodeValue(x, files)));
  const tag = v[TAG];
  if (tag !== undefined) {
    const entry = v.path !== undefined ? files.get(v.path) : null;
    if (v.path !== undefined && !entry) throw new RangeError(`restore: the backup lacks ${v.path} (damaged or cut short)`);
    switch (tag) {
      case 'bigint': return BigInt(v.v);
      case 'number': return Number(v.v);
      case 'date': return new Date(v.v);
      case 'blob': {
        const b = new Blob([entry], { type: v.type });    // copied out of the archive's slice
        return v.file !== undefined && typeof File === 'function' ? new File([b], v.file, { type: v.type, lastModified: v.lastModified }) : b;
      }
      case 'buffer': return entry.arrayBuffer();
      case 'typed': {
        const C = globalThis[v.kind];
        if (!TYPED.includes(v.kind) || !C) throw new RangeError(`restore: unknown array type ${v.kind}`);
        const buf = await entry.arrayBuffer();
        if (buf.byteLength % C.BYTES_PER_ELEMENT) throw new RangeError(`restore: ${v.path}: ${buf.byteLength} bytes is not a whole ${v.kind}`);
        return new C(buf);
      }
      default: throw new RangeError(`restore: unknown value tag '${tag}'`);
    }
  }
  const out = {};
  for (const [k, x] of Object.entries(v)) out[k] = await decodeValue(x, files);
  return out;
}

/**
 * The backup file of a project: `stores` maps each object store's name to the project's
 * records in it; `meta` is kept as given (project name, app schema version...). Returns a
 * ZIP Blob.
 */
export async function writeBackup(stores, meta = {}) {
  const blobs = [];
  const encoded = {};
  for (const [name, records] of Object.entries(stores)) encoded[name] = records.map((r) => encodeValue(r, blobs));
  const manifest = { format: FORMAT, version: FORMAT_VERSION, createdAt: new Date().toISOString(), meta, stores: encoded };
  return zipFiles([{ name: 'backup.json', data: JSON.stringify(manifest) }, ...blobs]);
}

/**
 * Reads a backup file (Blob or bytes): { meta, createdAt, stores } with every record's
 * binary values restored to their types. Throws a RangeError that says what is wrong with
 * a file that is not a polyp backup, is newer than this app, or is damaged.
 */
export async function readBackup(file) {
  let entries;
  try {
    entries = await unzipFiles(file);
  } catch (e) {
    throw new RangeError(`restore: not a polyp project backup (${e.message})`);
  }
  const files = new Map(entries.map((e) => [e.name, e.data]));
  const head = files.get('backup.json');
  if (!head) throw new RangeError('restore: not a polyp project backup (no backup.json inside)');
  let manifest;
  try {
    manifest = JSON.parse(await head.text());
  } catch (e) {
    throw new RangeError(`restore: backup.json is not JSON (${e.message})`);
  }
  if (manifest.format !== FORMAT) throw new RangeError(`restore: not a polyp project backup (format '${manifest.format}')`);
  if (!(manifest.version <= FORMAT_VERSION)) throw new RangeError(`restore: backup format ${manifest.version} is newer than this app reads (${FORMAT_VERSION}): update the app`);
  const stores = {};
  for (const [name, records] of Object.entries(manifest.stores || {})) stores[name] = await decodeValue(records, files);
  return { meta: manifest.meta || {}, createdAt: manifest.createdAt, stores };
}

// ---------------------------------------------------------------------- store glue + page

/** Every record of one project, by store, read through the store's API (weights included,
 * so a restored project extracts offline on the other machine; the test network's are
 * rebuilt, not stored). */
export async function projectRecords(store, projectId) {
  const project = await store.getProject(projectId);
  if (!project) throw new RangeError(`no project ${projectId}`);
  const photos = await store.listPhotos(projectId);
  const blobs = [];
  for (const p of photos) {
    const blob = await store.getPhotoBlob(p);
    if (!blob) throw new RangeError(`${p.name}: the photo's bytes are missing from this browser`);
    blobs.push({ hash: p.hash, blob });
  }
  const features = [];
  for (const p of photos) features.push(...await store.db.getAllFromIndex('features', 'photoId', p.id));
  const shas = new Set([project.extractor && project.extractor.sha256, ...features.map((f) => f.extractorSha)].filter(Boolean));
  const weights = [];
  for (const sha of shas) { const w = await store.getWeights(sha); if (w) weights.push(w); }
  return {
    projects: [project], photos, blobs, features, weights,
    annotations: await store.listAnnotations(projectId),
    classifiers: await store.listClassifiers(projectId),
  };
}

/** "Back up project": the project as one file (a Blob) and its name. */
export async function backupProject(store, projectId) {
  const stores = await projectRecords(store, projectId);
  const p = stores.projects[0];
  const blob = await writeBackup(stores, { app: 'polyp', schema: DB_VERSION, project: p.name });
  const safe = p.name.replace(/[^\w.-]+/g, '_').slice(0, 60) || 'project';
  return { blob, name: `${safe}.polyp-backup.zip`, counts: countsOf(stores) };
}

function countsOf(stores) {
  const points = stores.annotations.reduce((n, a) => n + a.points.length, 0);
  const confirmed = stores.annotations.reduce((n, a) => n + a.points.filter((q) => q.state === 'confirmed').length, 0);
  return { photos: stores.photos.length, points, confirmed, features: stores.features.length, classifiers: stores.classifiers.length };
}

/**
 * "Restore project": writes a backup's project into this browser through the store's API
 * (photos re-hashed and stored by content, points, features, classifiers, weights). A project
 * whose id this browser already holds is restored as a copy with a new id. Resolves to
 * { project, counts, message }.
 */
export async function restoreProject(store, file) {
  const { stores, meta } = await readBackup(file);
  const rec = (stores.projects || [])[0];
  if (!rec) throw new RangeError('restore: the backup holds no project');
  if (meta.schema > DB_VERSION) throw new RangeError(`restore: the backup comes from a newer app (schema ${meta.schema}, this one reads ${DB_VERSION}): update the app`);
  const copy = !!(await store.getProject(rec.id));
  // Alleviate's undo record names photo ids of the other browser: the threshold is kept.
  const alleviate = rec.alleviate ? { ...rec.alleviate, seq: null, changes: [], undone: true } : null;
  const project = await store.createProject({ ...rec, id: copy ? uid() : rec.id, name: copy ? `${rec.name} (restored)` : rec.name, alleviate });
  const blobOf = new Map((stores.blobs || []).map((b) => [b.hash, b.blob]));
  const ids = new Map();
  for (const ph of stores.photos || []) {
    const blob = blobOf.get(ph.hash);
    if (!blob) throw new RangeError(`restore: the backup lacks the bytes of ${ph.name}`);
    const file = new File([blob], ph.name, { type: blob.type });
    const { photo } = await store.addPhoto(project.id, file, { width: ph.width, height: ph.height, truncated: ph.truncated });
    if (photo.hash !== ph.hash) throw new RangeError(`restore: ${ph.name} is damaged (its bytes do not hash to the recorded ${ph.hash.slice(0, 12)})`);
    await store.updatePhoto(photo.id, { added: ph.added });
    ids.set(ph.id, photo.id);
  }
  const changes = (stores.annotations || []).filter((a) => ids.has(a.photoId)).map((a) => ({ photoId: ids.get(a.photoId), points: a.points }));
  if (changes.length) await store.changePoints(project.id, 'restore', changes, { undoable: false });
  // Classifiers and weights before the features: a feature write asks for suggestions at once.
  for (const w of stores.weights || []) if (!(await store.getWeights(w.sha256))) await store.putWeights(w);
  for (const c of stores.classifiers || []) await store.putClassifier({ ...c, projectId: project.id });
  for (const f of stores.features || []) if (ids.has(f.photoId)) await store.putFeatures({ ...f, photoId: ids.get(f.photoId) });
  const counts = countsOf({ ...stores, annotations: changes, photos: stores.photos || [], features: stores.features || [], classifiers: stores.classifiers || [] });
  const message = `Restored "${project.name}": ${counts.photos} photos, ${counts.points} points (${counts.confirmed} confirmed), ` +
    `${counts.features} feature files, ${counts.classifiers} classifiers${copy ? ' (a copy: this browser already had the project)' : ''}.`;
  return { project, counts, message };
}

function RestorePage() {
  const { store } = useApp();
  const [msg, setMsg] = useState('');
  const [busy, setBusy] = useState(false);
  const onFile = async (e) => {
    const f = e.currentTarget.files && e.currentTarget.files[0];
    e.currentTarget.value = '';
    if (!f) return;
    setBusy(true);
    setMsg(`Restoring ${f.name}…`);
    try {
      const r = await restoreProject(store, f);
      setMsg(r.message);
      setTimeout(() => navigate(pathFor('photos', { projectId: r.project.id })), 1200);
    } catch (err) {
      setMsg(`Could not restore ${f.name}: ${err.message}`);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <h1>Restore project</h1>
    <p class="lead">Open a backup file made with "Back up project" (on this machine or another): the project comes back
      with its photos, points, features and classifiers. Nothing is uploaded.</p>
    <label class="file primary">Restore project
      <input type="file" accept=".zip,application/zip" onChange=${onFile} disabled=${busy} /></label>
    <p class="status" role="status">${msg}</p>
    <p><a href="#/">All projects</a></p>`;
}

registerPage({ id: 'restore', path: '/restore', title: 'Restore project', component: RestorePage });
