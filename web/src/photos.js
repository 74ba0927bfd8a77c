// photos.js - a project's photos: "Add photos" (file picker, folder picker, drag and drop),
// "Generate points", a points CSV import, and the list with CoralNet's statuses.
import { useState } from 'preact/hooks';
import { html, useApp, useStoreValue, onBoot } from './ui.js';
import { registerPage, pathFor } from './router.js';
import { photoStatus, newPoint, uid } from './store.js';
import { generateFor } from './points.js';
import { queueExtraction } from './extract.js';
import { mergeLabels, findLabel } from './labelset.js';
import { TESTNET_WARNING } from './engine.js';

const IMAGE_RE = /\.(jpe?g|png|bmp|gif|tga|psd|pnm|ppm|pgm|hdr|pic)$/i;

/** Adds files to a project through the queue (the engine decodes each to learn its size and
 * whether it was truncated); reports what was added, skipped and refused. The files are
 * logged first (store.startImport), so a tab closed or crashed mid-import leaves a log that
 * says which of them never made it in (InterruptedImport below). */
export async function addPhotos(app, project, files, say) {
  const list = [...files].filter((f) => f.type.startsWith('image/') || IMAGE_RE.test(f.name));
  const ignored = files.length - list.length;
  if (!list.length) { say(`No image among the ${files.length} files.`); return; }
  // Queued at once, in the caller's task (the queue never looks idle while photos are being
  // added), with the log written meanwhile: the job stores nothing before the log is in.
  const id = uid();
  const logged = app.store.startImport(project.id, list, id);
  logged.catch(() => {});   // the job reports it
  await app.queue.add({
    kind: 'add-photos', projectId: project.id, title: `Add ${list.length} photos`, persist: false,
    data: { files: list, ignored, say, importId: id, logged },
  });
}

/** The Web Lock an import holds while it runs, so every tab can tell a live import from one
 * a closed tab left (a lock dies with its tab). */
const importLock = (id) => `polyp-import:${id}`;

/** Runs fn holding the import's lock (or without, where the browser has no Web Locks). */
function withImportLock(id, fn) {
  return globalThis.navigator && navigator.locks ? navigator.locks.request(importLock(id), fn) : fn();
}

async function addPhotosJob(app, job, { signal, progress }) {
  const { files, ignored, say, importId, logged } = job.data;
  await logged;
  const polyp = await app.getPolyp();
  // Run again after a pause: the files already done are skipped, not decoded again.
  const log = importId ? await app.store.getImport(importId) : null;
  const done = (log && log.outcome) || {};
  let added = 0, dup = 0, truncated = 0;
  const refused = [];
  for (let i = 0; i < files.length; i++) {
    if (signal.aborted) throw signal.reason;
    const f = files[i];
    progress(i, files.length, f.name);
    if (done[i] === 'stored') { added++; continue; }
    if (done[i] === 'duplicate') { dup++; continue; }
    const imported = importId ? { id: importId, index: i } : null;
    try {
      const bytes = await f.arrayBuffer();
      const info = await polyp.decodeImage(bytes);
      const r = await app.store.addPhoto(job.projectId, f, info, bytes, imported);
      if (r.duplicate) dup++; else { added++; if (info.truncated) truncated++; }
    } catch (e) {
      if (e && e.name === 'AbortError') throw e;
      refused.push(`${f.name} (${e.message})`);
      if (imported) await app.store.markImport(importId, i, 'refused').catch(() => {});
    }
  }
  if (importId) await app.store.finishImport(importId);
  progress(files.length, files.length, '');
  say([`${added} photos added`, dup && `${dup} already in the project (same bytes)`,
    truncated && `${truncated} truncated (kept, the missing part is grey as CoralNet does)`,
    ignored && `${ignored} files ignored (not images)`, refused.length && `refused: ${refused.join('; ')}`]
    .filter(Boolean).join(', ') + '.');
}

onBoot((app) => {
  app.queue.register('add-photos', (job, ctx) => (job.data.importId
    ? withImportLock(job.data.importId, () => addPhotosJob(app, job, ctx))
    : addPhotosJob(app, job, ctx)));
});

/** The files of an import log that are not in the project: no outcome recorded and no photo
 * of the same name and size (added again since). */
export function missingFiles(log, photos) {
  const have = new Set(photos.map((p) => `${p.size}:${p.name}`));
  return log.files.filter((f, i) => !log.outcome[i] && !have.has(`${f.size}:${f.name}`));
}

/** Import logs of the project that no import is working on: cut off by a closed tab, a
 * crash or a cancel. Resolves to [{log, missing}] with the files still missing. */
async function interruptedImports(app, projectId, photos) {
  const logs = await app.store.listImports(projectId);
  if (!logs.length) return [];
  const held = globalThis.navigator && navigator.locks ? new Set((await navigator.locks.query()).held.map((l) => l.name)) : new Set();
  const queued = new Set(app.queue.jobs.map((j) => j.data && j.data.importId).filter(Boolean));
  return logs.filter((l) => !held.has(importLock(l.id)) && !queued.has(l.id))
    .map((log) => ({ log, missing: missingFiles(log, photos) }));
}

function InterruptedImport({ app, item, onFiles }) {
  const { log, missing } = item;
  const when = new Date(log.started).toLocaleString();
  const shown = missing.slice(0, 20).map((f) => f.name).join(', ') + (missing.length > 20 ? `, and ${missing.length - 20} more` : '');
  return html`
    <section class="warn interrupted" aria-labelledby=${`imp-${log.id}`}>
      <h2 id=${`imp-${log.id}`}>Interrupted import</h2>
      <p>The import of ${log.files.length} photos started ${when} stopped before it ended (the tab was closed, the
        browser crashed or it was cancelled). Every photo stored before that is kept, whole.
        ${' '}<strong>${missing.length} of ${log.files.length} files did not make it in:</strong> ${shown}.
        Add them again (photos already in the project are skipped).</p>
      <div class="row">
        <label class="file primary">Add the missing photos <input type="file" accept="image/*" multiple
          onChange=${(e) => { onFiles(e.currentTarget.files); e.currentTarget.value = ''; }} /></label>
        <button type="button" onClick=${() => app.store.finishImport(log.id)}>Dismiss</button>
      </div>
    </section>`;
}

function PhotosPage({ params }) {
  const app = useApp();
  const { store } = app;
  const pid = params.projectId;
  const [project] = useStoreValue(() => store.getProject(pid), [pid], (ev) => ev.store === 'projects' && ev.id === pid);
  const [data] = useStoreValue(async () => {
    const [photos, anns] = await Promise.all([store.listPhotos(pid), store.listAnnotations(pid)]);
    const byId = new Map(anns.map((a) => [a.photoId, a]));
    return { photos: photos.sort((a, b) => a.name.localeCompare(b.name) || a.added - b.added), byId };
  }, [pid], (ev) => ev.projectId === pid && (ev.store === 'photos' || ev.store === 'annotations'));
  const [featured] = useStoreValue(async () => {
    const p = await store.getProject(pid);
    if (!p || !p.extractor) return new Set();
    const photos = await store.listPhotos(pid);
    const s = new Set();
    for (const ph of photos) if (await store.db.getKey('features', [ph.id, p.extractor.sha256])) s.add(ph.id);
    return s;
  }, [pid], (ev) => ev.projectId === pid && (ev.store === 'features' || ev.store === 'photos' || ev.store === 'projects'));
  const [interrupted] = useStoreValue(async () => {
    const items = await interruptedImports(app, pid, await store.listPhotos(pid));
    // A log whose files are all in by now has nothing left to say.
    for (const it of items) if (!it.missing.length) await store.finishImport(it.log.id);
    return items.filter((it) => it.missing.length);
  }, [pid], (ev) => ev.projectId === pid && (ev.store === 'imports' || ev.store === 'photos'));
  const [message, setMessage] = useState('');
  const [drag, setDrag] = useState(false);
  if (!project || !data) return html`<p>Loading…</p>`;

  const onFiles = (files) => addPhotos(app, project, files, setMessage);
  const generate = async () => {
    const polyp = await app.getPolyp();
    const todo = data.photos.filter((ph) => !(data.byId.get(ph.id) || { points: [] }).points.length);
    if (!todo.length) { setMessage('Every photo has points already.'); return; }
    const changes = [];
    for (const ph of todo) changes.push({ photoId: ph.id, points: await generateFor(polyp, project, ph) });
    await store.changePoints(pid, `Generate points on ${todo.length} photos`, changes);
    const q = await queueExtraction(app, project, todo.map((p) => p.id));
    setMessage(`Points generated on ${todo.length} photos (${changes.reduce((n, c) => n + c.points.length, 0)} points)` +
      (project.extractor ? `; ${q} queued for feature extraction.` : '. Load an extractor (Settings) to get features.'));
  };
  const importPoints = async (e) => {
    const file = e.currentTarget.files[0];
    e.currentTarget.value = '';
    if (!file) return;
    try {
      const polyp = await app.getPolyp();
      const a = await polyp.parseAnnotationsCsv(await file.arrayBuffer());
      const byName = new Map();
      for (const ph of data.photos) if (!byName.has(ph.name)) byName.set(ph.name, ph);
      const per = new Map();
      let outside = 0;
      const unknown = new Set();
      const codes = new Set();
      a.names.forEach((n, i) => {
        const ph = byName.get(n);
        if (!ph) { unknown.add(n); return; }
        if (a.rows[i] >= ph.height || a.cols[i] >= ph.width) { outside++; return; }
        if (!per.has(ph.id)) per.set(ph.id, []);
        const p = newPoint(a.rows[i], a.cols[i]);
        if (a.labels[i]) { codes.add(a.labels[i]); p.label = a.labels[i]; p.state = 'confirmed'; }
        per.get(ph.id).push(p);
      });
      const missing = [...codes].filter((c) => !findLabel(project.labelset, c));
      const merged = mergeLabels(project.labelset, missing.map((c) => ({ code: c, name: c, group: '', color: '' })));
      if (merged.added) await store.updateProject(pid, { labelset: merged.labelset });
      // Imported codes take the labelset's spelling (CSV codes match case-insensitively).
      for (const pts of per.values()) for (const p of pts) if (p.label) p.label = findLabel(merged.labelset, p.label).code;
      const changes = [...per].map(([photoId, points]) => ({ photoId, points }));
      if (changes.length) await store.changePoints(pid, `Import points from ${file.name}`, changes);
      const q = await queueExtraction(app, { ...project, labelset: merged.labelset }, [...per.keys()]);
      setMessage(`${file.name}: ${a.names.length - outside - [...unknown].reduce((n, u) => n + a.names.filter((x) => x === u).length, 0)} points on ${changes.length} photos imported` +
        (merged.added ? `, ${merged.added} new label codes added to the labelset` : '') +
        (unknown.size ? `, rows of ${unknown.size} photos not in the project skipped (${[...unknown].slice(0, 3).join(', ')}${unknown.size > 3 ? '…' : ''})` : '') +
        (outside ? `, ${outside} points outside their photo skipped` : '') + (q ? `; ${q} photos queued for extraction` : '') + '.');
    } catch (err) {
      setMessage(`${file.name}: not imported: ${err.message}`);
    }
  };

  const counts = { Unclassified: 0, Unconfirmed: 0, Confirmed: 0 };
  let changed = 0;
  for (const ph of data.photos) {
    const pts = (data.byId.get(ph.id) || { points: [] }).points;
    counts[photoStatus(pts)]++;
    for (const p of pts) if (p.changed) changed++;
  }
  return html`
    <h1>Photos</h1>
    ${project.extractor && project.extractor.testnet && html`<p class="warn" role="note">Extractor: test network, ${TESTNET_WARNING}.</p>`}
    <div class=${`drop ${drag ? 'over' : ''}`}
      onDragOver=${(e) => { e.preventDefault(); setDrag(true); }} onDragLeave=${() => setDrag(false)}
      onDrop=${(e) => { e.preventDefault(); setDrag(false); onFiles(e.dataTransfer.files); }}>
      <label class="file primary">Add photos <input type="file" accept="image/*" multiple onChange=${(e) => { onFiles(e.currentTarget.files); e.currentTarget.value = ''; }} /></label>
      <label class="file">Add a folder <input type="file" webkitdirectory="" multiple onChange=${(e) => { onFiles(e.currentTarget.files); e.currentTarget.value = ''; }} /></label>
      <span class="muted">or drop photos here. They are stored in this browser, never uploaded.</span>
    </div>
    ${(interrupted || []).map((it) => html`<${InterruptedImport} key=${it.log.id} app=${app} item=${it} onFiles=${onFiles} />`)}
    <div class="row">
      <button type="button" onClick=${generate} disabled=${!data.photos.length}>Generate points</button>
      <label class="file">Import points CSV <input type="file" accept=".csv,text/csv" onChange=${importPoints} /></label>
    </div>
    <p class="status" role="status" aria-live="polite">${message}</p>
    <p aria-label="Summary">${data.photos.length} photos: ${counts.Unclassified} Unclassified, ${counts.Unconfirmed} Unconfirmed, ${counts.Confirmed} Confirmed.${' '}
      <strong>${changed}</strong> points changed since last export.</p>
    ${data.photos.length > 0 && html`
      <table class="photos">
        <caption class="sr-only">Photos of ${project.name}</caption>
        <thead><tr><th scope="col">Photo</th><th scope="col">Size</th><th scope="col">Points</th><th scope="col">Status</th><th scope="col">Features</th></tr></thead>
        <tbody>${data.photos.map((ph) => {
          const pts = (data.byId.get(ph.id) || { points: [] }).points;
          return html`<tr>
            <td><a href=${`#${pathFor('annotate', { projectId: pid, photoId: ph.id })}`}>${ph.name}</a>${ph.truncated ? html` <span class="warn">truncated</span>` : ''}</td>
            <td>${ph.width} × ${ph.height}</td>
            <td>${pts.length}</td>
            <td>${photoStatus(pts)}</td>
            <td>${featured && featured.has(ph.id) ? 'extracted' : pts.length ? (project.extractor ? 'waiting' : 'no extractor') : '—'}</td>
          </tr>`;
        })}</tbody>
      </table>`}`;
}

registerPage({ id: 'photos', path: '/p/:projectId', title: 'Photos', nav: 'project', order: 10, component: PhotosPage });
