// backup.js - a whole project as one file, and back: "Back up project" writes a ZIP (the
// library's zip.js, stored entries) holding `backup.json` (format, app schema version, the
// project's records of every store) and one entry per binary value (photos, features, model
// files) so a 2 GB project is never turned into one giant string; "Restore project" reads it
// on any machine and hands the records back to the store to write.
//
// Records are IndexedDB values (structured-clone data). JSON cannot hold their binary parts,
// so every ArrayBuffer, typed array, Blob/File and Date is replaced by a tagged reference
// ({ [TAG]: kind, ... }) and restored to the same type. Nothing here knows the app's schema:
// the store says which records belong to a project (web/src/backup-page.js).
import { zipFiles, unzipFiles } from '../../wasm/zip.js';

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
