// annotate.js - the annotation tool: the viewer, the label code field with CoralNet's keys,
// machine suggestions, label buttons by functional group, the selected point's patch as the
// engine sees it, points added/moved/deleted, undo/redo. Every change is written at once.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { html, useApp, useStoreValue } from './ui.js';
import { registerPage, navigate, pathFor } from './router.js';
import { Viewer, MARKER_DEFAULTS } from './viewer.js';
import { KEYMAP, createKeymap } from './keymap.js';
import { photoStatus, withLabel, newPoint, describeWriteError } from './store.js';
import { findLabel } from './labelset.js';
import { combinedSuggestions, formatSuggestion } from './suggestions.js';
import { queueExtraction } from './extract.js';
import { resizePoints } from './points.js';
import { TESTNET_WARNING } from './engine.js';

const SETTINGS_KEY = 'polyp-annotation-settings';

function loadSettings() {
  const d = structuredClone(MARKER_DEFAULTS);
  try {
    const saved = JSON.parse(localStorage.getItem(SETTINGS_KEY) || '{}');
    return { ...d, ...saved, colors: { ...d.colors, ...(saved.colors || {}) } };
  } catch {
    return d;
  }
}

/** The next unannotated point after `from` (wrapping), or -1. */
function nextUnannotated(points, from = -1) {
  for (let k = 1; k <= points.length; k++) {
    const i = (from + k) % points.length;
    if (points[i].state === 'unannotated') return i;
  }
  return -1;
}

/**
 * The photo's annotation record, reloaded after every store event for it, with the start
 * order of the read that produced it: {ann, seq, started}. `started.current` is the number of
 * reads started so far. A read's result is dropped when a later-started read already landed,
 * so the page can tell a value read after a commit from an older one (see `write`).
 */
function useAnnotations(store, photoId) {
  const started = useRef(0);
  const [rec, setRec] = useState({ ann: undefined, seq: 0 });
  useEffect(() => {
    let live = true;
    const load = () => {
      const seq = ++started.current;
      store.getAnnotations(photoId).then((ann) => {
        if (live) setRec((r) => (r.seq > seq ? r : { ann, seq }));
      }, (e) => console.error(e));
    };
    load();
    const unsub = store.subscribe((ev) => { if (ev.type !== 'error' && ev.store === 'annotations' && ev.id === photoId) load(); });
    return () => { live = false; unsub(); };
  }, [photoId]);
  return { ...rec, started };
}

function AnnotatePage({ params }) {
  const app = useApp();
  const { store } = app;
  const { projectId, photoId } = params;
  const [project] = useStoreValue(() => store.getProject(projectId), [projectId], (ev) => ev.store === 'projects' && ev.id === projectId);
  const [photo] = useStoreValue(() => store.getPhoto(photoId), [photoId], (ev) => ev.store === 'photos' && ev.id === photoId);
  const { ann, seq: annSeq, started: annReads } = useAnnotations(store, photoId);
  const [order] = useStoreValue(async () => (await store.listPhotos(projectId)).sort((a, b) => a.name.localeCompare(b.name) || a.added - b.added).map((p) => p.id),
    [projectId], (ev) => ev.store === 'photos' && ev.projectId === projectId);
  const [optimistic, setOptimistic] = useState(null);
  const [saving, setSaving] = useState(false);
  const pending = useRef(0);
  const awaiting = useRef(false);
  const committedReads = useRef(0);   // reads started when the last write committed
  const failed = useRef(false);
  const chain = useRef(Promise.resolve());
  const points = optimistic || (ann ? ann.points : []);
  // The first store value read after the last write committed replaces the optimistic points
  // (the commit's own event starts that read). A value read before it (still in flight when
  // the commit landed) would show, and let the next key build on, points without the last
  // label: on a loaded machine a label typed between two others was lost that way.
  useEffect(() => {
    if (awaiting.current && pending.current === 0 && annSeq >= committedReads.current) { awaiting.current = false; setOptimistic(null); }
  }, [ann, annSeq]);
  const [selected, setSelected] = useState(() => new Set());
  const [code, setCode] = useState('');
  const [message, setMessage] = useState('');
  const [help, setHelp] = useState(false);
  const [mode, setMode] = useState('select');
  const [settings, setSettings] = useState(loadSettings);
  const [adjust, setAdjust] = useState({ brightness: 100, contrast: 100 });
  const [patches, setPatches] = useState(null);
  const [loadState, setLoadState] = useState('loading');
  const viewerEl = useRef(null);
  const viewer = useRef(null);
  const field = useRef(null);
  const patchCanvas = useRef(null);
  const state = useRef({});
  state.current = { points, selected, code, project, photo, order, mode, help };

  useEffect(() => { document.body.classList.add('annotating'); return () => document.body.classList.remove('annotating'); }, []);

  // The viewer lives as long as the page (once its element exists); a new photo reopens it.
  const ready = !!(project && photo);
  useEffect(() => {
    if (!ready || !viewerEl.current) return undefined;
    const v = new Viewer(viewerEl.current, {
      label: 'Photo with numbered point markers',
      onSelect: (i, { additive, pointerType }) => {
        if (i < 0) { if (!additive) setSelected(new Set()); return; }
        setSelected((s) => {
          if (!additive) return new Set([i]);
          const n = new Set(s);
          if (n.has(i)) n.delete(i); else n.add(i);
          return n;
        });
        // A mouse user types the code next; a finger does not want the on-screen keyboard.
        if (pointerType !== 'touch' && field.current) field.current.focus({ preventScroll: true });
      },
      onAdd: (row, col) => addPoint(row, col),
      onMove: (i, row, col) => movePoint(i, row, col),
    });
    viewer.current = v;
    window.polypViewer = v;            // the benchmark and tests read its timings
    return () => { v.destroy(); viewer.current = null; };
  }, [ready]);

  useEffect(() => {
    if (!photo || !viewer.current) return;
    let live = true;
    setLoadState('loading');
    (async () => {
      const blob = await store.getPhotoBlob(photo);
      if (!blob) throw new Error('the photo\'s bytes are missing from this browser');
      let rgb = null;
      if (photo.truncated) {
        // Show what the engine decoded (the grey fill CoralNet keeps), not the browser's guess.
        const polyp = await app.getPolyp();
        rgb = (await polyp.decodeImage(blob, { pixels: true, imageKey: photo.hash })).pixels;
      }
      await viewer.current.open(blob, { width: photo.width, height: photo.height, rgb });
      if (live) setLoadState('ready');
    })().catch((e) => { if (live) { setLoadState('error'); setMessage(e.message); } });
    return () => { live = false; };
  }, [photo && photo.id, ready]);

  // First selection on a photo: the first unannotated point (else the first point).
  const firstSelect = useRef(null);
  useEffect(() => {
    if (!ann || firstSelect.current === photoId) return;
    firstSelect.current = photoId;
    const i = nextUnannotated(points);
    setSelected(new Set(points.length ? [i >= 0 ? i : 0] : []));
    setCode('');
    setTimeout(() => field.current && field.current.focus({ preventScroll: true }), 0);
  }, [ann, photoId]);

  useEffect(() => {
    if (!viewer.current) return;
    viewer.current.setPoints(points, selected);
    if (selected.size === 1) viewer.current.centerOn([...selected][0]);
  }, [points, selected, ready]);
  useEffect(() => { viewer.current && viewer.current.setSettings(settings); localStorage.setItem(SETTINGS_KEY, JSON.stringify(settings)); }, [settings, ready]);
  useEffect(() => { viewer.current && viewer.current.setAdjust(adjust); }, [adjust, ready]);
  useEffect(() => { viewer.current && viewer.current.setMode(mode); }, [mode, ready]);

  // The patches the engine sees, for every point of the photo, cropped in the worker once per
  // point layout. The engine keeps the photo decoded under its hash (imageKey), so this, the
  // next layout's crop and the photo's extraction share one decode.
  const layoutKey = points.map((p) => `${p.row},${p.col}`).join(';');
  useEffect(() => {
    if (!photo || !points.length) { setPatches(null); return; }
    let live = true;
    (async () => {
      const polyp = await app.getPolyp();
      const blob = await store.getPhotoBlob(photo);
      const r = await polyp.cropPatches(blob, points.map((p) => [p.row, p.col]), { imageKey: photo.hash });
      if (live) setPatches({ key: layoutKey, data: r.patches });
    })().catch((e) => console.warn('patches:', e.message));
    return () => { live = false; };
  }, [photo && photo.id, layoutKey]);
  const sel = [...selected].sort((a, b) => a - b);
  useEffect(() => {
    const c = patchCanvas.current;
    if (!c) return;
    const ctx = c.getContext('2d');
    if (!patches || patches.key !== layoutKey || sel.length !== 1) { ctx.fillStyle = '#dfe8ec'; ctx.fillRect(0, 0, 224, 224); return; }
    const S = 224, off = sel[0] * S * S * 3;
    const img = ctx.createImageData(S, S);
    for (let k = 0, j = 0; k < S * S * 3; k += 3, j += 4) {
      img.data[j] = patches.data[off + k]; img.data[j + 1] = patches.data[off + k + 1]; img.data[j + 2] = patches.data[off + k + 2]; img.data[j + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
    ctx.strokeStyle = '#00FF00'; ctx.lineWidth = 1;
    ctx.beginPath(); ctx.moveTo(112.5, 104); ctx.lineTo(112.5, 121); ctx.moveTo(104, 112.5); ctx.lineTo(121, 112.5); ctx.stroke();
  }, [patches, sel.join(','), layoutKey]);

  // ---------------------------------------------------------------- actions
  // Each write is issued at once, in the key's own task, with the points it replaces: IndexedDB
  // runs transactions in the order they were made, and one issued before a reload survives it.
  // The page shows the new points at once (optimistic), so keys typed faster than commits
  // always build on the latest points.
  const write = (label, next, { reextract = false } = {}) => {
    const before = state.current.points;
    pending.current++;
    setSaving(true);
    awaiting.current = false;
    state.current.points = next;
    setOptimistic(next);
    const p = store.changePoints(projectId, label, [{ photoId, points: next, before }]).then(async () => {
      if (reextract && state.current.project) await queueExtraction(app, state.current.project, [photoId]);
    }).catch((e) => {
      failed.current = true;
      setMessage(`Not saved: ${describeWriteError(e)}. The photo shows what is stored.`);
    }).finally(() => {
      if (--pending.current === 0) {
        committedReads.current = annReads.current;
        setSaving(false);
        // After a refused write, show the stored points again, not what was not saved.
        if (failed.current) { failed.current = false; setOptimistic(null); } else awaiting.current = true;
      }
    });
    chain.current = p;
    return p;
  };

  const selectOnly = (i) => {
    const n = new Set(i >= 0 ? [i] : []);
    state.current.selected = n;
    setSelected(n);
  };

  /** Labels the selected points and moves on to the next unannotated point. */
  const applyLabel = async (labelCode, how = 'typed') => {
    const { points: pts, selected: s, project: pr } = state.current;
    const idx = [...s].sort((a, b) => a - b);
    if (!idx.length) { setMessage('Select a point first (Tab, ".", or click a marker).'); return; }
    const l = findLabel(pr.labelset, labelCode);
    if (!l) { setMessage(`No label with code "${labelCode}" in this project's labelset.`); return; }
    const next = withLabel(pts, idx, l.code, 'confirmed');
    const done = write(`${l.code} on point${idx.length > 1 ? 's' : ''} ${idx.map((i) => i + 1).join(', ')}`, next);
    setCode('');
    state.current.code = '';
    const n = nextUnannotated(next, idx[idx.length - 1]);
    setMessage(`Point${idx.length > 1 ? 's' : ''} ${idx.map((i) => i + 1).join(', ')}: ${l.code} (${how}).${n < 0 ? ' Every point of this photo is annotated.' : ''}`);
    if (n >= 0) selectOnly(n);
    await done;
  };

  const acceptTop = async () => {
    const { points: pts, selected: s } = state.current;
    const idx = [...s];
    const sug = combinedSuggestions(pts, idx);
    if (sug.length) return applyLabel(sug[0][0], 'top suggestion');
    // No suggestion: confirm machine labels that are there.
    if (idx.length && idx.every((i) => pts[i].label)) {
      const next = pts.map((p, i) => (s.has(i) ? { ...p, state: 'confirmed', changed: true } : p));
      const done = write(`confirm point${idx.length > 1 ? 's' : ''} ${idx.map((i) => i + 1).join(', ')}`, next);
      const n = nextUnannotated(next, Math.max(...idx));
      if (n >= 0) selectOnly(n);
      await done;
      return;
    }
    setMessage('Type a label code: there is no machine suggestion for this point yet.');
  };

  const takeSuggestion = (k) => {
    const sug = combinedSuggestions(state.current.points, [...state.current.selected]);
    if (sug[k - 1]) applyLabel(sug[k - 1][0], `suggestion ${k}`);
    else setMessage(`There is no suggestion ${k}.`);
  };

  const step = (d) => {
    const { points: pts, selected: s } = state.current;
    if (!pts.length) return;
    const cur = s.size ? (d > 0 ? Math.max(...s) : Math.min(...s)) : (d > 0 ? -1 : 0);
    selectOnly((cur + d + pts.length) % pts.length);
  };

  const gotoPhoto = (d) => {
    const { order: o } = state.current;
    if (!o) return;
    const i = o.indexOf(photoId);
    const j = i + d;
    if (j < 0 || j >= o.length) { setMessage(d > 0 ? 'This is the last photo.' : 'This is the first photo.'); return; }
    navigate(pathFor('annotate', { projectId, photoId: o[j] }));
  };

  const undoRedo = async (redo) => {
    await chain.current;
    const label = redo ? await store.redo(projectId) : await store.undo(projectId);
    setMessage(label ? `${redo ? 'Redone' : 'Undone'}: ${label}.` : `Nothing to ${redo ? 'redo' : 'undo'}.`);
  };

  async function addPoint(row, col) {
    const pts = state.current.points;
    await write(`add point ${pts.length + 1}`, [...pts, newPoint(row, col)], { reextract: true });
    selectOnly(pts.length);
    setMessage(`Point ${pts.length + 1} added at row ${row}, column ${col}.`);
  }

  async function movePoint(i, row, col) {
    const pts = state.current.points;
    const p = pts[i];
    // A moved point keeps a person's label but not the machine's (its patch changed).
    const moved = p.state === 'confirmed' ? { ...p, row, col, suggestions: null, changed: true }
      : { ...newPoint(row, col), changed: true };
    await write(`move point ${i + 1}`, pts.map((q, k) => (k === i ? moved : q)), { reextract: true });
    setMessage(`Point ${i + 1} moved to row ${row}, column ${col}.`);
  }

  const deleteSelected = async () => {
    const { points: pts, selected: s } = state.current;
    if (!s.size) return;
    await write(`delete point${s.size > 1 ? 's' : ''} ${[...s].map((i) => i + 1).join(', ')}`, pts.filter((_, i) => !s.has(i)), { reextract: true });
    setMessage(`${s.size} point${s.size > 1 ? 's' : ''} deleted (Ctrl+Z undoes).`);
    setSelected(new Set());
  };

  const setCount = async (n) => {
    const { points: pts, project: pr, photo: ph } = state.current;
    if (!(n >= 1 && n <= 1000) || n === pts.length) return;
    const polyp = await app.getPolyp();
    const next = await resizePoints(polyp, pr, ph, pts, n);
    await write(`${n} points on this photo`, next, { reextract: true });
    setMessage(`This photo now has ${n} points; the first ${Math.min(n, pts.length)} kept their labels.`);
  };

  // ---------------------------------------------------------------- keys
  useEffect(() => {
    const zoom = (f) => viewer.current && viewer.current.zoomBy(f);
    const bindings = [
      { keys: 'Enter', where: 'field', run: () => { const c = state.current.code.trim(); if (c) applyLabel(c); else acceptTop(); } },
      { keys: 'Tab', where: 'field', run: () => step(1) },
      { keys: 'Shift+Tab', where: 'field', run: () => step(-1) },
      { keys: '.', where: 'page', run: () => { const i = nextUnannotated(state.current.points); if (i >= 0) selectOnly(i); else setMessage('Every point of this photo is annotated.'); } },
      { keys: 'g n', where: 'page', run: () => gotoPhoto(1) },
      { keys: 'g p', where: 'page', run: () => gotoPhoto(-1) },
      { keys: 'Shift+ArrowUp', where: 'any', run: () => zoom(1.5) },
      { keys: 'Shift+ArrowDown', where: 'any', run: () => zoom(1 / 1.5) },
      ...[1, 2, 3, 4, 5].map((k) => ({ keys: String(k), where: 'page', run: () => takeSuggestion(k) })),
      { keys: 'Mod+z', where: 'any', run: () => { undoRedo(false); } },
      { keys: 'Mod+Shift+z', where: 'any', run: () => { undoRedo(true); } },
      { keys: 'Mod+y', where: 'any', run: () => { undoRedo(true); } },
      { keys: 'Delete', where: 'page', run: () => { if (state.current.mode === 'delete') deleteSelected(); else return false; } },
      { keys: '?', where: 'page', run: () => setHelp(true) },
      { keys: 'Escape', where: 'any', run: () => {
        if (state.current.help) { setHelp(false); return; }
        if (document.activeElement === field.current) { field.current.blur(); viewerEl.current.querySelector('canvas.points').focus(); return; }
        setSelected(new Set());
      } },
    ];
    const onKey = createKeymap(bindings, {
      isField: (el) => el === field.current,
      // Typing a code anywhere on the page starts it in the label field, as in CoralNet.
      fallback: (e) => {
        if (!field.current || !/^[\w\-/+&()]$/.test(e.key)) return false;
        field.current.focus();
        setCode((c) => c + e.key);
        return true;
      },
    });
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [photoId]);

  // ---------------------------------------------------------------- render
  const groups = useMemo(() => {
    const m = new Map();
    for (const l of (project && project.labelset) || []) {
      const g = l.group || 'Labels';
      if (!m.has(g)) m.set(g, []);
      m.get(g).push(l);
    }
    return [...m];
  }, [project && project.labelset]);

  if (project === undefined || photo === undefined) return html`<p>Loading…</p>`;
  if (!project || !photo) return html`<h1>No such photo</h1><p><a href="#/">All projects</a></p>`;
  const idx = order ? order.indexOf(photoId) : -1;
  const suggestions = combinedSuggestions(points, sel);
  const status = photoStatus(points);
  const confirmed = points.filter((p) => p.state === 'confirmed').length;
  const testnet = project.extractor && project.extractor.testnet;

  return html`
    <div class="annotate">
      <div class="stage">
        <div class="toolbar" role="toolbar" aria-label="View">
          <button type="button" onClick=${() => viewer.current.zoomBy(1.5)} aria-label="Zoom in">+</button>
          <button type="button" onClick=${() => viewer.current.zoomBy(1 / 1.5)} aria-label="Zoom out">−</button>
          <button type="button" onClick=${() => viewer.current.fit()}>Fit</button>
          ${[['zoom', 'Click to zoom'], ['add', 'Add points'], ['move', 'Move points'], ['delete', 'Delete points']].map(([m, name]) => html`
            <button type="button" aria-pressed=${mode === m ? 'true' : 'false'} onClick=${() => setMode(mode === m ? 'select' : m)}>${name}</button>`)}
          ${mode === 'delete' && html`<button type="button" class="danger" disabled=${!sel.length} onClick=${deleteSelected}>Delete selected</button>`}
          <label class="inline">Points shown
            <select value=${settings.display} onChange=${(e) => setSettings({ ...settings, display: e.currentTarget.value })}>
              <option value="all">All points</option><option value="selected">Selected points</option><option value="none">No points</option>
            </select></label>
          <label class="inline">Marker
            <select value=${settings.marker} onChange=${(e) => setSettings({ ...settings, marker: e.currentTarget.value })}>
              <option value="crosshair">Crosshair</option><option value="circle">Circle</option>
              <option value="crosshair and circle">Crosshair and circle</option><option value="box">Box</option>
            </select></label>
          <label class="inline">Brightness <input type="range" min="30" max="250" value=${adjust.brightness} onInput=${(e) => setAdjust({ ...adjust, brightness: Number(e.currentTarget.value) })} /></label>
          <label class="inline">Contrast <input type="range" min="30" max="250" value=${adjust.contrast} onInput=${(e) => setAdjust({ ...adjust, contrast: Number(e.currentTarget.value) })} /></label>
          <button type="button" onClick=${() => setHelp(true)} aria-label="Keyboard shortcuts">?</button>
        </div>
        <div class="viewport" ref=${viewerEl} aria-busy=${loadState === 'loading' ? 'true' : 'false'}></div>
      </div>
      <aside class="side" aria-label="Annotation">
        <h1 class="photo-name">${photo.name}</h1>
        <p class="muted">${photo.width} × ${photo.height}${photo.truncated ? ' · truncated file' : ''} · Photo ${idx + 1} of ${order ? order.length : '…'} ·${' '}
          <span aria-label="Photo status">${status}</span> · ${confirmed}/${points.length} confirmed ·${' '}
          <span aria-label="Save state" role="status">${saving ? 'Saving…' : 'All changes saved'}</span></p>
        <div class="row">
          <button type="button" onClick=${() => gotoPhoto(-1)} disabled=${idx <= 0}>Previous photo</button>
          <button type="button" onClick=${() => gotoPhoto(1)} disabled=${!order || idx >= order.length - 1}>Next photo</button>
        </div>
        <label>Label code
          <input ref=${field} class="code" value=${code} autocomplete="off" autocapitalize="off" spellcheck="false"
            aria-describedby="annotate-status" onInput=${(e) => setCode(e.currentTarget.value)} /></label>
        <p id="annotate-status" class="status" role="status" aria-live="polite">${message}</p>
        <section aria-labelledby="h-sugg">
          <h2 id="h-sugg">Machine suggestions${sel.length > 1 ? ` (${sel.length} points combined)` : ''}</h2>
          ${testnet && suggestions.length > 0 && html`<p class="warn">Test network: ${TESTNET_WARNING}.</p>`}
          ${suggestions.length ? html`<ol class="suggestions">${suggestions.map((s, k) => html`
            <li><button type="button" onClick=${() => takeSuggestion(k + 1)} aria-label=${`Suggestion ${k + 1}: ${formatSuggestion(s)}`}>
              <kbd>${k + 1}</kbd> ${formatSuggestion(s)}</button></li>`)}</ol>`
            : html`<p class="muted">${sel.length ? 'None for the selection yet (they come after training).' : 'Select a point.'}</p>`}
        </section>
        <section aria-labelledby="h-labels">
          <h2 id="h-labels">Labels</h2>
          ${groups.length === 0 && html`<p>No labels yet: add them in <a href=${`#${pathFor('settings', { projectId })}`}>Settings</a>.</p>`}
          ${groups.map(([g, labels]) => html`
            <div class="label-group" role="group" aria-label=${g}>
              ${labels.map((l) => html`<button type="button" class="label-btn" style=${`--c:${l.color}`}
                title=${l.name} aria-label=${`Label ${l.code}${l.name && l.name !== l.code ? ` (${l.name})` : ''}`}
                onClick=${() => applyLabel(l.code, 'button')}>${l.code}</button>`)}
            </div>`)}
        </section>
        <section aria-labelledby="h-patch">
          <h2 id="h-patch">Patch the engine sees</h2>
          <canvas ref=${patchCanvas} class="patch" width="224" height="224" role="img"
            aria-label=${sel.length === 1 ? `224 by 224 pixel patch around point ${sel[0] + 1}` : 'Patch: select one point'}></canvas>
        </section>
        <section aria-labelledby="h-points">
          <h2 id="h-points">Points</h2>
          <ol class="point-list">${points.map((p, i) => html`
            <li><button type="button" aria-pressed=${selected.has(i) ? 'true' : 'false'} data-state=${p.state}
              onClick=${(e) => { setSelected((s) => { if (!(e.ctrlKey || e.metaKey || e.shiftKey)) return new Set([i]); const n = new Set(s); n.has(i) ? n.delete(i) : n.add(i); return n; }); }}>
              Point ${i + 1}: ${p.label || '—'}${p.state === 'unconfirmed' ? ' (unconfirmed)' : ''}</button></li>`)}</ol>
          <label>Points on this photo <input type="number" min="1" max="1000" value=${points.length}
            onChange=${(e) => setCount(Math.round(Number(e.currentTarget.value)))} /></label>
        </section>
        <details class="marker-settings">
          <summary>Marker settings</summary>
          ${[['unannotated', 'Not annotated point colour'], ['unconfirmed', 'Unconfirmed point colour'], ['confirmed', 'Confirmed point colour'], ['selected', 'Selected point colour']].map(([k, name]) => html`
            <label class="inline">${name} <input type="color" value=${settings.colors[k]}
              onChange=${(e) => setSettings({ ...settings, colors: { ...settings.colors, [k]: e.currentTarget.value } })} /></label>`)}
          <label class="inline">Marker size <input type="number" min="1" max="30" value=${settings.markerSize}
            onChange=${(e) => setSettings({ ...settings, markerSize: Math.max(1, Math.min(30, Number(e.currentTarget.value) || 16)) })} /></label>
          <label class="inline">Point number size <input type="number" min="1" max="40" value=${settings.numberSize}
            onChange=${(e) => setSettings({ ...settings, numberSize: Math.max(1, Math.min(40, Number(e.currentTarget.value) || 24)) })} /></label>
          <label class="inline"><input type="checkbox" checked=${settings.numbers} onChange=${(e) => setSettings({ ...settings, numbers: e.currentTarget.checked })} /> Show point numbers</label>
          <button type="button" onClick=${() => setSettings(structuredClone(MARKER_DEFAULTS))}>CoralNet's defaults</button>
        </details>
      </aside>
      ${help && html`<${Help} close=${() => setHelp(false)} />`}
    </div>`;
}

function Help({ close }) {
  const ref = useRef(null);
  useEffect(() => { ref.current && ref.current.focus(); }, []);
  return html`
    <div class="overlay" role="dialog" aria-modal="true" aria-labelledby="help-title" ref=${ref} tabindex="-1">
      <div class="dialog">
        <h2 id="help-title">Keyboard shortcuts</h2>
        <table><tbody>${KEYMAP.map(([k, , d]) => html`<tr><th scope="row"><kbd>${k.replace('Mod', 'Ctrl')}</kbd></th><td>${d}</td></tr>`)}</tbody></table>
        <p class="muted">Label codes match case-insensitively. Typing a code anywhere on the page starts it in the label field.
          Touch: tap a marker to select it, pinch to zoom, drag to pan.</p>
        <button type="button" onClick=${close}>Close</button>
      </div>
    </div>`;
}

/** "Annotate" in the tab bar: the first photo that is not Confirmed (else the first). */
function AnnotateStart({ params }) {
  const { store } = useApp();
  const [msg, setMsg] = useState('Opening…');
  useEffect(() => {
    (async () => {
      const photos = (await store.listPhotos(params.projectId)).sort((a, b) => a.name.localeCompare(b.name) || a.added - b.added);
      if (!photos.length) { setMsg('No photos yet: add some on the Photos page.'); return; }
      let target = photos[0];
      for (const ph of photos) {
        const a = await store.getAnnotations(ph.id);
        if (a && a.points.length && photoStatus(a.points) !== 'Confirmed') { target = ph; break; }
      }
      navigate(pathFor('annotate', { projectId: params.projectId, photoId: target.id }), { replace: true });
    })();
  }, [params.projectId]);
  return html`<h1>Annotate</h1><p>${msg}</p>`;
}

registerPage({ id: 'annotate-start', path: '/p/:projectId/annotate', title: 'Annotate', navLabel: 'Annotate', nav: 'project', order: 20, component: AnnotateStart });
registerPage({ id: 'annotate', path: '/p/:projectId/annotate/:photoId', title: 'Annotate', component: AnnotatePage });
