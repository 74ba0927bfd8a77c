// store.js - the app's one state module: IndexedDB (through idb) with a versioned schema,
// every user action written at once in one small transaction, and subscribe/notify so pages
// redraw from the store rather than keeping their own copies. The API is documented in
// web/ARCHITECTURE.md; keep it stable and additive (the classifier pages build on it).
//
// Records (plain objects, structured-cloned by IndexedDB):
//   projects    {id, name, created, labelset [{code, name, color, group}], pointMethod
//                {method, n, cellRows, cellCols, perCell, area {top, bottom, left, right} %},
//                extractor {sha256, kind, dim, name, testnet} | null, classifierId | null,
//                lastTrainedCount, alleviate {threshold} | null}
//   photos      {id, projectId, hash, name, width, height, truncated, added, size}
//   blobs       {hash, blob}            photo bytes by SHA-256 (shared by projects)
//   annotations {photoId, projectId, points [{row, col, label, state, suggestions, changed}]}
//   features    {photoId, extractorSha, rows, cols, feat Float32Array}   key [photoId, extractorSha]
//   classifiers {id, projectId, extractorSha, extractorId, bytes, valAccuracy, evaluation,
//                trainedAt, nAnnotatedImages, accepted}   extractorId: the model's binding,
//                '<kind>:<sha256>:<dim>' (absent in records of older versions: bare extractorSha)
//   jobs        {id, kind, projectId, photoId, title, state, added}   the persisted queue
//   undo        {seq, projectId, label, changes [{photoId, before, after}], undone 0|1, at}
//   weights     {sha256, name, kind, bytes, added, record}   extractor files cached for offline
//                use; record: their extractor record (engine.js extractorRecordOf)
//   imports     {id, projectId, started, files [{name, size, lastModified, type}],
//                outcome {index: 'stored'|'duplicate'|'refused'}}   an "Add photos" under way
//                (deleted when it ends; one left at boot was cut off by a closed tab or crash)
import { openDB } from 'idb';

export const DB_NAME = 'polyp';
export const DB_VERSION = 2;
const JOURNAL = 'polyp-journal:';
// Orders this page's journal entries within one millisecond (Date.now() alone ties when
// changes come faster than that, and a later change replayed first would be dropped as
// superseded).
let journalSeq = 0;

/** One function per schema version: MIGRATIONS[v] moves a database from v-1 to v. */
const MIGRATIONS = {
  1(db) {
    db.createObjectStore('projects', { keyPath: 'id' });
    const photos = db.createObjectStore('photos', { keyPath: 'id' });
    photos.createIndex('projectId', 'projectId');
    photos.createIndex('hash', 'hash');
    photos.createIndex('projectHash', ['projectId', 'hash'], { unique: true });
    db.createObjectStore('blobs', { keyPath: 'hash' });
    db.createObjectStore('annotations', { keyPath: 'photoId' }).createIndex('projectId', 'projectId');
    db.createObjectStore('features', { keyPath: ['photoId', 'extractorSha'] }).createIndex('photoId', 'photoId');
    db.createObjectStore('classifiers', { keyPath: 'id' }).createIndex('projectId', 'projectId');
    db.createObjectStore('jobs', { keyPath: 'id', autoIncrement: true });
    const undo = db.createObjectStore('undo', { keyPath: 'seq', autoIncrement: true });
    undo.createIndex('projectId', 'projectId');
    undo.createIndex('projectUndone', ['projectId', 'undone']);   // undone: 0 | 1 (booleans are no keys)
    db.createObjectStore('weights', { keyPath: 'sha256' });
  },
  // v2: the import log, so a closed tab or a crash mid-import can say which files are missing.
  2(db) {
    db.createObjectStore('imports', { keyPath: 'id' }).createIndex('projectId', 'projectId');
  },
};

export const POINT_STATES = ['unannotated', 'unconfirmed', 'confirmed'];

/** CoralNet's photo status from its points: Confirmed when every point is confirmed,
 * Unconfirmed when the machine has labelled some point, Unclassified otherwise. */
export function photoStatus(points) {
  if (!points || points.length === 0) return 'Unclassified';
  if (points.every((p) => p.state === 'confirmed')) return 'Confirmed';
  if (points.some((p) => p.state === 'unconfirmed')) return 'Unconfirmed';
  return 'Unclassified';
}

/** A fresh point (no label) at a pixel. */
export function newPoint(row, col) {
  return { row, col, label: null, state: 'unannotated', suggestions: null, changed: false };
}

/** A copy of `points` where the points at `indices` carry `label` in `state` (default
 * 'confirmed') and are marked changed; the rest are untouched. */
export function withLabel(points, indices, label, state = 'confirmed') {
  const set = new Set(indices);
  return points.map((p, i) => (set.has(i)
    ? { ...p, label, state: label == null ? 'unannotated' : state, changed: true }
    : p));
}

export function uid() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

/** SHA-256 of bytes as lowercase hex. */
export async function sha256Hex(buf) {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', buf));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Why a write failed, in words a user understands (a full disk is the usual one). */
export function describeWriteError(e) {
  const name = e && e.name;
  if (name === 'QuotaExceededError') return 'the browser refused to store more data (disk or quota full)';
  if (name === 'InvalidStateError') return 'the database was closed (another tab upgraded it?)';
  return (e && e.message) || String(e);
}

/** Default project fields (CoralNet's defaults: 30 simple random points over the whole photo). */
export function defaultProject(name = 'Untitled') {
  return {
    id: uid(), name, created: Date.now(), labelset: [],
    pointMethod: { method: 'random', n: 30, cellRows: 5, cellCols: 5, perCell: 1, area: { top: 0, bottom: 100, left: 0, right: 100 } },
    extractor: null, classifierId: null, lastTrainedCount: 0, alleviate: null,
  };
}

export class Store {
  /** Use openStore(). */
  constructor(db, name) {
    this.db = db;
    this.name = name;
    this.listeners = new Set();
    this.channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(`polyp-store:${name}`) : null;
    // Other tabs' writes arrive here too, so every open tab shows the same state.
    if (this.channel) this.channel.onmessage = (e) => this._emit({ ...e.data, remote: true });
  }

  /** fn(event) after every write: {type: 'put'|'delete'|'error', store, id, projectId, message}.
   * Returns the unsubscribe function. */
  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  _emit(ev) {
    for (const fn of [...this.listeners]) {
      try { fn(ev); } catch (e) { console.error('store listener failed', e); }
    }
  }

  _notify(ev) {
    this._emit(ev);
    if (this.channel) { try { this.channel.postMessage(ev); } catch { /* not cloneable: local only */ } }
  }

  /** Runs one read-write transaction over `stores`; a refused write becomes an 'error' event
   * (the shell shows it) and is rethrown, so nothing is lost silently. */
  async write(stores, fn, events = []) {
    try {
      const tx = this.db.transaction(stores, 'readwrite');
      const result = await fn(tx);
      await tx.done;
      for (const ev of typeof events === 'function' ? events(result) : events) this._notify(ev);
      return result;
    } catch (e) {
      const message = `Could not save: ${describeWriteError(e)}`;
      this._emit({ type: 'error', message, error: e });
      throw e;
    }
  }

  // ------------------------------------------------------------------ projects
  listProjects() { return this.db.getAll('projects'); }
  getProject(id) { return this.db.get('projects', id); }

  async createProject(fields = {}) {
    const p = { ...defaultProject(fields.name), ...fields };
    if (!p.id) p.id = uid();
    await this.write(['projects'], (tx) => tx.objectStore('projects').add(p),
      [{ type: 'put', store: 'projects', id: p.id, projectId: p.id }]);
    return p;
  }

  /** Shallow-merges `patch` into the project (read and written in one transaction). */
  async updateProject(id, patch) {
    return this.write(['projects'], async (tx) => {
      const s = tx.objectStore('projects');
      const p = await s.get(id);
      if (!p) throw new Error(`no project ${id}`);
      const next = { ...p, ...patch, id };
      await s.put(next);
      return next;
    }, [{ type: 'put', store: 'projects', id, projectId: id }]);
  }

  /** Deletes a project with its photos, annotations, features, classifiers, undo log and jobs
   * (photo bytes are kept while another project holds the same photo). */
  async deleteProject(id) {
    const photos = await this.listPhotos(id);
    await this.write(['projects', 'photos', 'annotations', 'features', 'classifiers', 'undo', 'blobs', 'jobs', 'imports'], async (tx) => {
      for (const ph of photos) await this._deletePhotoIn(tx, ph);
      for (const k of await tx.objectStore('classifiers').index('projectId').getAllKeys(id)) await tx.objectStore('classifiers').delete(k);
      for (const k of await tx.objectStore('undo').index('projectId').getAllKeys(id)) await tx.objectStore('undo').delete(k);
      for (const j of await tx.objectStore('jobs').getAll()) if (j.projectId === id) await tx.objectStore('jobs').delete(j.id);
      for (const k of await tx.objectStore('imports').index('projectId').getAllKeys(id)) await tx.objectStore('imports').delete(k);
      await tx.objectStore('projects').delete(id);
    }, [{ type: 'delete', store: 'projects', id, projectId: id }]);
  }

  // ------------------------------------------------------------------ photos
  listPhotos(projectId) { return this.db.getAllFromIndex('photos', 'projectId', projectId); }
  getPhoto(id) { return this.db.get('photos', id); }

  /** The photo's bytes as a Blob (stored by content hash), or undefined. */
  async getPhotoBlob(photoOrHash) {
    const hash = typeof photoOrHash === 'string' ? photoOrHash : photoOrHash.hash;
    const r = await this.db.get('blobs', hash);
    return r && r.blob;
  }

  /**
   * Stores a photo file in a project. `info` is {width, height, truncated} (the engine's
   * decodeImage). Returns {photo, duplicate}: a file whose bytes the project already holds is
   * not added twice (duplicate: the existing photo). With `imported` {id, index} (an import
   * from startImport) the photo and its file's outcome in the import log are written in the
   * same transaction as the bytes and the (empty) points: a photo is there whole or not at all.
   */
  async addPhoto(projectId, file, info, bytes = null, imported = null) {
    const buf = bytes || await file.arrayBuffer();
    const hash = await sha256Hex(buf);
    const existing = await this.db.getFromIndex('photos', 'projectHash', [projectId, hash]);
    if (existing) {
      if (imported) await this.markImport(imported.id, imported.index, 'duplicate');
      return { photo: existing, duplicate: true };
    }
    const photo = {
      id: uid(), projectId, hash, name: file.name, width: info.width, height: info.height,
      truncated: !!info.truncated, added: Date.now(), size: buf.byteLength,
    };
    const blob = new Blob([buf], { type: file.type || 'application/octet-stream' });
    await this.write(['photos', 'blobs', 'annotations', 'imports'], async (tx) => {
      if (!(await tx.objectStore('blobs').getKey(hash))) await tx.objectStore('blobs').put({ hash, blob });
      await tx.objectStore('photos').add(photo);
      await tx.objectStore('annotations').put({ photoId: photo.id, projectId, points: [] });
      if (imported) await this._markImportIn(tx, imported.id, imported.index, 'stored');
    }, [{ type: 'put', store: 'photos', id: photo.id, projectId }]);
    return { photo, duplicate: false };
  }

  // ------------------------------------------------------------------ imports
  /** Logs an import of `files` (File objects: only name, size, lastModified, type are kept)
   * before any is stored; resolves to the record. finishImport() deletes it at the end. */
  async startImport(projectId, files, id = uid()) {
    const rec = {
      id, projectId, started: Date.now(), outcome: {},
      files: [...files].map((f) => ({ name: f.name, size: f.size, lastModified: f.lastModified || 0, type: f.type || '' })),
    };
    await this.write(['imports'], (tx) => tx.objectStore('imports').add(rec),
      [{ type: 'put', store: 'imports', id: rec.id, projectId }]);
    return rec;
  }

  async _markImportIn(tx, id, index, outcome) {
    const s = tx.objectStore('imports');
    const rec = await s.get(id);
    if (!rec) return;          // dismissed meanwhile
    rec.outcome[index] = outcome;
    await s.put(rec);
  }

  /** Records what became of file `index` of an import ('duplicate', 'refused'). */
  async markImport(id, index, outcome) {
    const rec = await this.write(['imports'], async (tx) => { await this._markImportIn(tx, id, index, outcome); return tx.objectStore('imports').get(id); });
    if (rec) this._notify({ type: 'put', store: 'imports', id, projectId: rec.projectId });
  }

  getImport(id) { return this.db.get('imports', id); }

  /** The import logs of a project, oldest first (a log left over is an interrupted import). */
  async listImports(projectId) {
    return (await this.db.getAllFromIndex('imports', 'projectId', projectId)).sort((a, b) => a.started - b.started);
  }

  /** Deletes an import's log (it ended, or the user dismissed what it left undone). */
  async finishImport(id) {
    const rec = await this.db.get('imports', id);
    if (!rec) return;
    await this.write(['imports'], (tx) => tx.objectStore('imports').delete(id),
      [{ type: 'delete', store: 'imports', id, projectId: rec.projectId }]);
  }

  async _deletePhotoIn(tx, photo) {
    await tx.objectStore('photos').delete(photo.id);
    await tx.objectStore('annotations').delete(photo.id);
    for (const k of await tx.objectStore('features').index('photoId').getAllKeys(photo.id)) await tx.objectStore('features').delete(k);
    const others = await tx.objectStore('photos').index('hash').getAllKeys(photo.hash);
    if (others.length === 0) await tx.objectStore('blobs').delete(photo.hash);
  }

  async deletePhoto(id) {
    const photo = await this.getPhoto(id);
    if (!photo) return;
    await this.write(['photos', 'annotations', 'features', 'blobs'], (tx) => this._deletePhotoIn(tx, photo),
      [{ type: 'delete', store: 'photos', id, projectId: photo.projectId }]);
  }

  /** Records the decoded size of a photo (first decode in the viewer or the engine). */
  async updatePhoto(id, patch) {
    return this.write(['photos'], async (tx) => {
      const s = tx.objectStore('photos');
      const p = { ...(await s.get(id)), ...patch, id };
      await s.put(p);
      return p;
    }, (p) => [{ type: 'put', store: 'photos', id, projectId: p.projectId }]);
  }

  // ------------------------------------------------------------------ annotations
  /** {photoId, projectId, points} (points [] before "Generate points"). */
  async getAnnotations(photoId) {
    return (await this.db.get('annotations', photoId)) || null;
  }

  /** Every annotation record of a project (one per photo). */
  listAnnotations(projectId) { return this.db.getAllFromIndex('annotations', 'projectId', projectId); }

  /**
   * The one way to change points: `changes` [{photoId, points, before?}] (each photo's whole
   * new point list) written in one transaction with one undo entry named `label` (e.g.
   * 'label 3 points', 'Alleviate at 80%'). Options: {undoable: true, journal: true (false: the replay of an entry already journalled)}. Resolves to the undo
   * entry's seq (or null).
   *
   * The writes are issued synchronously, in the caller's task, when every change carries
   * `before` (the points it replaces, as the caller saw them): IndexedDB then orders
   * transactions as they were made, and one already issued survives an immediate reload.
   */
  async changePoints(projectId, label, changes, { undoable = true, journal = true } = {}) {
    const jid = journal ? this._journal(projectId, label, changes, undoable) : null;
    const done = this.write(['annotations', 'undo'], async (tx) => {
      const ann = tx.objectStore('annotations');
      const undo = tx.objectStore('undo');
      const entry = { projectId, label, changes: [], undone: 0, at: Date.now() };
      const reads = changes.map((c) => (c.before ? null : ann.get(c.photoId)));
      let seq = null;
      // Put first (synchronously when `before` is known), then the undo bookkeeping.
      const puts = [];
      for (let i = 0; i < changes.length; i++) {
        const c = changes[i];
        if (c.before) {
          puts.push(ann.put({ photoId: c.photoId, projectId, points: c.points }));
          entry.changes.push({ photoId: c.photoId, before: c.before, after: c.points });
        }
      }
      if (undoable) seq = undo.add(entry);   // completed below once every change is in
      for (let i = 0; i < changes.length; i++) {
        const c = changes[i];
        if (c.before) continue;
        const rec = (await reads[i]) || { photoId: c.photoId, projectId, points: [] };
        entry.changes.push({ photoId: c.photoId, before: rec.points, after: c.points });
        puts.push(ann.put({ ...rec, points: c.points }));
      }
      await Promise.all(puts);
      if (!undoable) return null;
      const key = await seq;
      await undo.put({ ...entry, seq: key });
      // A new action forgets what was undone (the redo branch), as every editor does.
      for (const k of await undo.index('projectUndone').getAllKeys([projectId, 1])) await undo.delete(k);
      return key;
    }, changes.map((c) => ({ type: 'put', store: 'annotations', id: c.photoId, projectId })));
    try {
      return await done;
    } finally {
      this._unjournal(jid);   // committed, or refused and reported: nothing to replay
    }
  }

  // A reload or a closed tab can abort a transaction that was issued but not yet committed.
  // So every change with `before` is also written synchronously to localStorage first (a
  // journal), removed once committed, and replayed by openStore() when the stored points are
  // still exactly `before` (the write never landed; otherwise it landed or was superseded).
  _journal(projectId, label, changes, undoable) {
    if (!changes.every((c) => c.before) || typeof localStorage === 'undefined') return null;
    const id = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    try {
      localStorage.setItem(`${JOURNAL}${this.name}:${id}`, JSON.stringify({ projectId, label, changes, undoable, at: Date.now(), seq: ++journalSeq }));
      return id;
    } catch {
      return null;   // full: the IndexedDB write still goes ahead and reports its own failure
    }
  }

  _unjournal(id) {
    if (id) localStorage.removeItem(`${JOURNAL}${this.name}:${id}`);
  }

  /** Replays journalled changes that never reached IndexedDB; resolves to how many. */
  async replayJournal() {
    if (typeof localStorage === 'undefined') return 0;
    const prefix = `${JOURNAL}${this.name}:`;
    const keys = [];
    for (let i = 0; i < localStorage.length; i++) {
      const k = localStorage.key(i);
      if (k && k.startsWith(prefix)) keys.push(k);
    }
    const entries = keys.map((k) => { try { return [k, JSON.parse(localStorage.getItem(k))]; } catch { return [k, null]; } })
      .sort((a, b) => ((a[1] && a[1].at) || 0) - ((b[1] && b[1].at) || 0)
        || ((a[1] && a[1].seq) || 0) - ((b[1] && b[1].seq) || 0) || (a[0] < b[0] ? -1 : 1));
    let n = 0;
    // An entry is removed only once its change has committed (or was refused, or needs
    // nothing), and is replayed without a new journal entry: a page closed or reloaded during
    // the replay (a second navigation right after a reload does it) keeps every entry, in its
    // original order, for the next start, where the `before` check drops whatever did land.
    for (const [k, e] of entries) {
      if (!e) { localStorage.removeItem(k); continue; }
      const pending = [];
      for (const c of e.changes) {
        const rec = await this.getAnnotations(c.photoId);
        if (rec && JSON.stringify(rec.points) === JSON.stringify(c.before)) pending.push(c);
      }
      if (!pending.length) { localStorage.removeItem(k); continue; }
      try {
        await this.changePoints(e.projectId, e.label, pending, { undoable: e.undoable, journal: false });
      } finally {
        localStorage.removeItem(k);
      }
      n++;
    }
    return n;
  }

  /** Undoes the project's last action; resolves to its label, or null when nothing to undo. */
  undo(projectId) { return this._undoRedo(projectId, true); }
  /** Redoes the last undone action; resolves to its label or null. */
  redo(projectId) { return this._undoRedo(projectId, false); }

  async _undoRedo(projectId, isUndo) {
    let touched = [];
    const label = await this.write(['annotations', 'undo'], async (tx) => {
      const undo = tx.objectStore('undo');
      const all = await undo.index('projectId').getAll(projectId);   // ascending seq
      const e = isUndo ? all.filter((x) => !x.undone).pop() : all.find((x) => x.undone);
      if (!e) return null;
      const ann = tx.objectStore('annotations');
      for (const c of e.changes) {
        const rec = (await ann.get(c.photoId)) || { photoId: c.photoId, projectId, points: [] };
        await ann.put({ ...rec, points: isUndo ? c.before : c.after });
      }
      touched = e.changes.map((c) => c.photoId);
      await undo.put({ ...e, undone: isUndo ? 1 : 0 });
      return e.label;
    }, () => touched.map((id) => ({ type: 'put', store: 'annotations', id, projectId })));
    return label;
  }

  /** Points changed since the last export, over a project. */
  async changedCount(projectId) {
    let n = 0;
    for (const a of await this.listAnnotations(projectId)) for (const p of a.points) if (p.changed) n++;
    return n;
  }

  /** Clears every "changed" flag of a project (after an export). Not undoable. */
  async markExported(projectId) {
    const recs = await this.listAnnotations(projectId);
    const changes = recs.filter((a) => a.points.some((p) => p.changed))
      .map((a) => ({ photoId: a.photoId, points: a.points.map((p) => ({ ...p, changed: false })) }));
    if (changes.length) await this.changePoints(projectId, 'export', changes, { undoable: false });
    return changes.length;
  }

  // ------------------------------------------------------------------ features
  /** Stored features of a photo for one extractor, or undefined. */
  getFeatures(photoId, extractorSha) { return this.db.get('features', [photoId, extractorSha]); }

  /** rec: {photoId, extractorSha, rows: Uint32Array, cols: Uint32Array, feat: Float32Array}. */
  async putFeatures(rec) {
    const photo = await this.getPhoto(rec.photoId);
    await this.write(['features'], (tx) => tx.objectStore('features').put(rec),
      [{ type: 'put', store: 'features', id: rec.photoId, projectId: photo && photo.projectId, extractorSha: rec.extractorSha }]);
  }

  // ------------------------------------------------------------------ classifiers
  listClassifiers(projectId) { return this.db.getAllFromIndex('classifiers', 'projectId', projectId); }
  getClassifier(id) { return this.db.get('classifiers', id); }

  async putClassifier(rec) {
    const c = { id: rec.id || uid(), trainedAt: Date.now(), ...rec };
    await this.write(['classifiers'], (tx) => tx.objectStore('classifiers').put(c),
      [{ type: 'put', store: 'classifiers', id: c.id, projectId: c.projectId }]);
    return c;
  }

  // ------------------------------------------------------------------ extractor weights
  getWeights(sha256) { return this.db.get('weights', sha256); }
  async listWeights() {
    // Without the bytes: the list is for menus.
    return (await this.db.getAll('weights')).map(({ bytes, ...w }) => ({ ...w, size: bytes ? bytes.byteLength : 0 }));
  }
  async putWeights(rec) {
    await this.write(['weights'], (tx) => tx.objectStore('weights').put({ added: Date.now(), ...rec }),
      [{ type: 'put', store: 'weights', id: rec.sha256 }]);
  }

  // ------------------------------------------------------------------ jobs (queue.js uses these)
  listJobs() { return this.db.getAll('jobs'); }
  async addJob(job) {
    return this.write(['jobs'], (tx) => tx.objectStore('jobs').add({ added: Date.now(), state: 'pending', ...job }),
      [{ type: 'put', store: 'jobs', projectId: job.projectId }]);
  }
  async deleteJob(id) {
    await this.write(['jobs'], (tx) => tx.objectStore('jobs').delete(id), [{ type: 'delete', store: 'jobs', id }]);
  }

  // ------------------------------------------------------------------ storage
  /** {usage, quota, persisted} in bytes (navigator.storage), nulls where unknown. */
  async storageInfo() {
    const s = navigator.storage;
    const est = s && s.estimate ? await s.estimate() : {};
    const persisted = s && s.persisted ? await s.persisted() : false;
    return { usage: est.usage ?? null, quota: est.quota ?? null, persisted };
  }

  close() {
    if (this.channel) this.channel.close();
    this.db.close();
  }
}

/** Opens (creating or migrating) the database. */
export async function openStore(name = DB_NAME) {
  const db = await openDB(name, DB_VERSION, {
    upgrade(db, oldVersion, newVersion, tx) {
      for (let v = oldVersion + 1; v <= newVersion; v++) MIGRATIONS[v](db, tx);
    },
    blocking() { db.close(); },   // a newer tab wants to upgrade: let it (this tab then reloads)
  });
  const store = new Store(db, name);
  await store.replayJournal();
  return store;
}

/** Asks the browser to keep our data under storage pressure; resolves to whether it will. */
export async function requestPersist() {
  const s = navigator.storage;
  if (!s || !s.persist) return false;
  try {
    return (await s.persisted()) || (await s.persist());
  } catch {
    return false;
  }
}
