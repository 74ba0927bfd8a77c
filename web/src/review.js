// review.js - the Review page (BIIGLE's Largo, CoralNet-Toolbox's explorer): a grid of the
// 224x224 patches the engine sees around machine-labelled points, filtered by label and
// sorted by confidence, to confirm or relabel many points fast. Keyboard: arrows move, Space
// selects, Enter confirms the selection (or the focused patch), digits 1-5 pick a focused
// patch's suggestion N, `a` selects every patch shown; mouse and touch: tap to select. Patches
// come from the engine (polyp.cropPatches); labels go through store.changePoints (undoable).
import { useEffect, useRef, useState } from 'preact/hooks';
import { formatSuggestion } from '../../wasm/survey.js';
import { html, useApp, useStoreValue } from './ui.js';
import { registerPage } from './router.js';
import { projectData } from './train.js';

export const PAGE = 48;

/** The machine points to review: [{ photoId, photoName, index, label, score, suggestions }]
 * of unconfirmed points, with `label` the filter ('' = all), sorted by top score
 * ('asc': least sure first, the ones worth a look; 'desc': most sure first). */
export function reviewItems(photos, { label = '', order = 'asc' } = {}) {
  const items = [];
  for (const photo of photos) {
    photo.points.forEach((p, index) => {
      if (p.state !== 'unconfirmed' || !p.suggestions || !p.suggestions.length) return;
      if (label && p.label !== label) return;
      items.push({ photoId: photo.id, photoName: photo.name, index, row: p.row, col: p.col, label: p.label, score: p.suggestions[0][1], suggestions: p.suggestions });
    });
  }
  items.sort((a, b) => (order === 'asc' ? a.score - b.score : b.score - a.score) || a.photoName.localeCompare(b.photoName) || a.index - b.index);
  return items;
}

/** The store writes for labelling `items` with `code` (null: each with its own machine
 * label): [{ photoId, points }] from the current point lists. */
export function labelChanges(photos, items, code = null) {
  const byId = new Map(photos.map((p) => [p.id, p]));
  const out = new Map();
  for (const it of items) {
    const photo = byId.get(it.photoId);
    if (!photo) continue;
    if (!out.has(it.photoId)) out.set(it.photoId, photo.points.slice());
    const pts = out.get(it.photoId);
    pts[it.index] = { ...pts[it.index], label: code || it.label, state: 'confirmed', changed: true };
  }
  return [...out].map(([photoId, points]) => ({ photoId, points }));
}

// Patches by photo and pixel, kept across renders and visits (a 27 MP photo takes a second to
// decode, so confirming a few points must not decode every photo again); at most CACHE kept.
const CACHE = 400;
const patchCache = new Map();
const patchKey = (it) => `${it.photoId}:${it.row}:${it.col}`;

function usePatches(app, items) {
  const [, setVersion] = useState(0);
  const key = items.map(patchKey).join(',');
  useEffect(() => {
    let live = true;
    (async () => {
      const polyp = await app.getPolyp();
      const byPhoto = new Map();
      for (const it of items) {
        if (patchCache.has(patchKey(it))) continue;
        if (!byPhoto.has(it.photoId)) byPhoto.set(it.photoId, []);
        byPhoto.get(it.photoId).push(it);
      }
      for (const [photoId, list] of byPhoto) {
        const photo = await app.store.getPhoto(photoId);
        const blob = photo && await app.store.getPhotoBlob(photo);
        if (!blob || !live) continue;
        const r = await polyp.cropPatches(blob, list.map((it) => [it.row, it.col]));
        const n = 224 * 224 * 3;
        list.forEach((it, k) => patchCache.set(patchKey(it), r.patches.slice(k * n, (k + 1) * n)));
        while (patchCache.size > CACHE) patchCache.delete(patchCache.keys().next().value);
        if (live) setVersion((v) => v + 1);
      }
    })().catch((e) => console.error('review patches', e));
    return () => { live = false; };
  }, [key]);
  return patchCache;
}

function Patch({ rgb }) {
  const ref = useRef(null);
  useEffect(() => {
    if (!rgb || !ref.current) return;
    const img = new ImageData(224, 224);
    for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) { img.data[j] = rgb[i]; img.data[j + 1] = rgb[i + 1]; img.data[j + 2] = rgb[i + 2]; img.data[j + 3] = 255; }
    ref.current.getContext('2d').putImageData(img, 0, 0);
  }, [rgb]);
  return html`<canvas ref=${ref} width="224" height="224" aria-hidden="true"></canvas>`;
}

function ReviewPage({ params }) {
  const app = useApp();
  const { store } = app;
  const pid = params.projectId;
  const [filter, setFilter] = useState({ label: '', order: 'asc' });
  const [selected, setSelected] = useState(new Set());
  const [focus, setFocus] = useState(0);
  const [msg, setMsg] = useState('');
  const [relabel, setRelabel] = useState('');
  const grid = useRef(null);
  const [data] = useStoreValue(async () => {
    const project = await store.getProject(pid);
    if (!project) return null;
    const { photos } = await projectData(store, { ...project, extractor: null });
    return { project, photos };
  }, [pid], (ev) => ev.projectId === pid && (ev.store === 'annotations' || ev.store === 'projects'));
  const all = data ? reviewItems(data.photos, filter) : [];
  const shown = all.slice(0, PAGE);
  const at = Math.min(focus, Math.max(0, shown.length - 1));   // the focused patch may have gone
  const patches = usePatches(app, shown);
  useEffect(() => { setSelected(new Set()); setFocus(0); }, [filter.label, filter.order]);
  useEffect(() => {
    const el = grid.current && grid.current.querySelectorAll('[role="gridcell"] button')[at];
    if (el && grid.current.contains(document.activeElement)) el.focus();
  }, [at, shown.length]);
  if (!data) return html`<p>Loading…</p>`;
  const codes = data.project.labelset.map((l) => l.code);
  const keyOf = (it) => `${it.photoId}:${it.index}`;
  const toggle = (it) => setSelected((s) => { const n = new Set(s); if (n.has(keyOf(it))) n.delete(keyOf(it)); else n.add(keyOf(it)); return n; });
  const write = async (items, code, what) => {
    if (!items.length) { setMsg('Select patches first (click or Space; a selects all).'); return; }
    const text = `${what} ${items.length} point${items.length === 1 ? '' : 's'}${code ? ` as ${code}` : ''}`;
    await store.changePoints(pid, text, labelChanges(data.photos, items, code));
    setSelected(new Set());
    setMsg(`${text}.`);
  };
  const chosen = () => shown.filter((it) => selected.has(keyOf(it)));
  const confirmSel = () => write(chosen(), null, 'Confirmed');
  const relabelSel = () => (relabel ? write(chosen(), relabel, 'Relabelled') : setMsg('Pick a label to relabel with.'));
  const cols = () => {
    const cells = grid.current ? [...grid.current.querySelectorAll('[role="gridcell"]')] : [];
    if (cells.length < 2) return 1;
    const top = cells[0].offsetTop;
    const n = cells.findIndex((c) => c.offsetTop !== top);
    return n < 0 ? cells.length : n;
  };
  const onKey = (e) => {
    if (!shown.length || e.target.tagName === 'SELECT' || e.target.tagName === 'INPUT') return;
    const it = shown[at];
    const k = e.key;
    const move = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: cols(), ArrowUp: -cols() }[k];
    if (move) { e.preventDefault(); setFocus((f) => Math.max(0, Math.min(shown.length - 1, f + move))); }
    else if (k === ' ') { e.preventDefault(); toggle(it); }
    else if (k === 'Enter') { e.preventDefault(); write(selected.size ? chosen() : [it], null, 'Confirmed'); }
    else if (k === 'a') { e.preventDefault(); setSelected(new Set(shown.map(keyOf))); }
    else if (/^[1-5]$/.test(k) && it.suggestions[Number(k) - 1]) { e.preventDefault(); write([it], it.suggestions[Number(k) - 1][0], 'Relabelled'); }
  };
  return html`
    <h1>Review</h1>
    <p class="lead">Machine labels not yet confirmed, least sure first. Select patches (click, tap or Space; <kbd>a</kbd> selects all),
      then confirm them or relabel them together. <kbd>Enter</kbd> confirms, <kbd>1</kbd>-<kbd>5</kbd> take a suggestion.</p>
    <div class="row">
      <label>Machine label
        <select value=${filter.label} onChange=${(e) => setFilter({ ...filter, label: e.currentTarget.value })}>
          <option value="">All labels</option>${codes.map((c) => html`<option value=${c}>${c}</option>`)}
        </select></label>
      <label>Sort by confidence
        <select value=${filter.order} onChange=${(e) => setFilter({ ...filter, order: e.currentTarget.value })}>
          <option value="asc">Lowest first</option><option value="desc">Highest first</option>
        </select></label>
      <button type="button" class="primary" onClick=${confirmSel}>Confirm selected</button>
      <label>Relabel as
        <select value=${relabel} onChange=${(e) => setRelabel(e.currentTarget.value)}>
          <option value="">Choose…</option>${codes.map((c) => html`<option value=${c}>${c}</option>`)}
        </select></label>
      <button type="button" onClick=${relabelSel}>Relabel selected</button>
    </div>
    <p class="status" role="status" aria-label="Review status">${msg || `${all.length} machine points${all.length > PAGE ? `, showing the first ${PAGE}` : ''}; ${selected.size} selected.`}</p>
    ${shown.length === 0 ? html`<p>No machine point to review${filter.label ? ` labelled ${filter.label}` : ''}.</p>` : html`
      <div class="patch-grid" role="grid" aria-label="Machine points" ref=${grid} onKeyDown=${onKey}>
        <div role="row" class="patch-row">
        ${shown.map((it, i) => {
          const sel = selected.has(keyOf(it));
          return html`<div role="gridcell" class=${`patch${sel ? ' selected' : ''}`} key=${keyOf(it)}>
            <button type="button" aria-pressed=${sel} tabindex=${i === at ? 0 : -1}
              aria-label=${`${it.photoName} point ${it.index + 1}: ${formatSuggestion(it.label, it.score)}`}
              onClick=${() => { setFocus(i); toggle(it); }}>
              <${Patch} rgb=${patches.get(patchKey(it))} />
              <span class="caption">${formatSuggestion(it.label, it.score)}</span>
            </button></div>`;
        })}
        </div>
      </div>`}`;
}

registerPage({ id: 'review', path: '/p/:projectId/review', title: 'Review', nav: 'project', navLabel: 'Review', order: 50, component: ReviewPage });
