// project.js - a project's settings: name, labelset (typed or imported), point-generation
// method and annotation area, and the feature extractor ("Load extractor" / "Use test network").
import { useState } from 'preact/hooks';
import { html, useApp, useStoreValue } from './ui.js';
import { registerPage, navigate } from './router.js';
import { parseLabelsetCsv, mergeLabels, isAnnotationsCsv, withColors } from './labelset.js';
import { createTestnetExtractor, loadExtractorFile, getPolyp, extractorLabel, TESTNET_WARNING } from './engine.js';
import { queueExtraction } from './extract.js';

function SettingsPage({ params }) {
  const app = useApp();
  const { store } = app;
  const [project] = useStoreValue(() => store.getProject(params.projectId), [params.projectId],
    (ev) => ev.store === 'projects' && ev.id === params.projectId);
  const [message, setMessage] = useState('');
  if (project === undefined) return html`<p>Loading…</p>`;
  if (!project) return html`<h1>No such project</h1><p><a href="#/">All projects</a></p>`;
  const update = (patch) => store.updateProject(project.id, patch);
  const say = (m) => setMessage(m);
  return html`
    <h1>Project settings</h1>
    <p class="status" role="status" aria-live="polite">${message}</p>
    <section aria-labelledby="h-name">
      <h2 id="h-name">Name</h2>
      <label>Project name <input value=${project.name} onChange=${(e) => update({ name: e.currentTarget.value.trim() || project.name })} /></label>
    </section>
    <${LabelsetEditor} project=${project} update=${update} say=${say} />
    <${PointMethod} project=${project} update=${update} />
    <${ExtractorPicker} project=${project} update=${update} say=${say} app=${app} />
    <section aria-labelledby="h-danger">
      <h2 id="h-danger">Delete</h2>
      <button type="button" class="danger" onClick=${async () => {
        if (!confirm(`Delete "${project.name}" with its photos and annotations from this browser?`)) return;
        await app.queue.cancelWhere((j) => j.projectId === project.id);
        await store.deleteProject(project.id);
        navigate('/');
      }}>Delete project</button>
    </section>`;
}

function LabelsetEditor({ project, update, say }) {
  const [code, setCode] = useState('');
  const [name, setName] = useState('');
  const [group, setGroup] = useState('');
  const add = (e) => {
    e.preventDefault();
    const c = code.trim();
    if (!c) return;
    const { labelset, added } = mergeLabels(project.labelset, [{ code: c, name: name.trim() || c, group: group.trim(), color: '' }]);
    if (!added) { say(`A label with code ${c} exists already (codes are compared case-insensitively).`); return; }
    update({ labelset });
    setCode(''); setName('');
  };
  const importCsv = async (e) => {
    const file = e.currentTarget.files[0];
    e.currentTarget.value = '';
    if (!file) return;
    try {
      const text = await file.text();
      let labels, skipped = 0;
      if (isAnnotationsCsv(text)) {
        const polyp = await getPolyp();
        const a = await polyp.parseAnnotationsCsv(text);
        const codes = [...new Set(a.labels.filter((l) => l))];
        labels = withColors(codes.map((c) => ({ code: c, name: c, group: '', color: '' })));
      } else {
        ({ labels, skipped } = parseLabelsetCsv(text));
      }
      const r = mergeLabels(project.labelset, labels);
      await update({ labelset: r.labelset });
      say(`${file.name}: ${r.added} labels added, ${labels.length - r.added} already there${skipped ? `, ${skipped} rows skipped (empty or repeated code)` : ''}.`);
    } catch (err) {
      say(`${file.name}: not imported: ${err.message}`);
    }
  };
  const setField = (i, k, v) => update({ labelset: project.labelset.map((l, j) => (j === i ? { ...l, [k]: v } : l)) });
  return html`
    <section aria-labelledby="h-labels">
      <h2 id="h-labels">Labelset</h2>
      ${project.labelset.length > 0 && html`
        <table class="labels">
          <thead><tr><th scope="col">Code</th><th scope="col">Name</th><th scope="col">Functional group</th><th scope="col">Colour</th><th scope="col"><span class="sr-only">Remove</span></th></tr></thead>
          <tbody>${project.labelset.map((l, i) => html`
            <tr>
              <td><code>${l.code}</code></td>
              <td><input aria-label=${`Name of ${l.code}`} value=${l.name} onChange=${(e) => setField(i, 'name', e.currentTarget.value)} /></td>
              <td><input aria-label=${`Functional group of ${l.code}`} value=${l.group} onChange=${(e) => setField(i, 'group', e.currentTarget.value)} /></td>
              <td><input type="color" aria-label=${`Colour of ${l.code}`} value=${l.color} onChange=${(e) => setField(i, 'color', e.currentTarget.value)} /></td>
              <td><button type="button" aria-label=${`Remove ${l.code}`} onClick=${() => update({ labelset: project.labelset.filter((_, j) => j !== i) })}>Remove</button></td>
            </tr>`)}</tbody>
        </table>`}
      <form class="row" onSubmit=${add} aria-label="Add a label">
        <label>Label code <input value=${code} onInput=${(e) => setCode(e.currentTarget.value)} /></label>
        <label>Label name <input value=${name} onInput=${(e) => setName(e.currentTarget.value)} /></label>
        <label>Functional group <input value=${group} onInput=${(e) => setGroup(e.currentTarget.value)} list="groups" /></label>
        <datalist id="groups"><option value="Hard coral" /><option value="Soft coral" /><option value="Algae" /><option value="Other invertebrates" /><option value="Substrate" /><option value="Other" /></datalist>
        <button type="submit">Add label</button>
      </form>
      <label class="file">Import labelset CSV <input type="file" accept=".csv,text/csv" onChange=${importCsv} /></label>
      <p class="muted">A CoralNet labelset CSV (Short code, Name, Functional group) or an annotations CSV (its label codes).</p>
    </section>`;
}

function PointMethod({ project, update }) {
  const pm = project.pointMethod;
  const set = (patch) => update({ pointMethod: { ...pm, ...patch } });
  const num = (k, min = 1, max = 1000) => (e) => {
    const v = Math.max(min, Math.min(max, Math.round(Number(e.currentTarget.value) || min)));
    set({ [k]: v });
  };
  const area = (k) => (e) => {
    const v = Math.max(0, Math.min(100, Number(e.currentTarget.value) || 0));
    set({ area: { ...pm.area, [k]: v } });
  };
  return html`
    <section aria-labelledby="h-points">
      <h2 id="h-points">Point generation</h2>
      <label>Point generation method
        <select value=${pm.method} onChange=${(e) => set({ method: e.currentTarget.value })}>
          <option value="random">Simple random</option>
          <option value="stratified">Stratified random</option>
          <option value="grid">Uniform grid</option>
        </select></label>
      ${pm.method === 'random' && html`<label>Number of points <input type="number" min="1" max="1000" value=${pm.n} onChange=${num('n')} /></label>`}
      ${pm.method !== 'random' && html`
        <label>Cell rows <input type="number" min="1" max="100" value=${pm.cellRows} onChange=${num('cellRows', 1, 100)} /></label>
        <label>Cell columns <input type="number" min="1" max="100" value=${pm.cellCols} onChange=${num('cellCols', 1, 100)} /></label>`}
      ${pm.method === 'stratified' && html`<label>Points per cell <input type="number" min="1" max="100" value=${pm.perCell} onChange=${num('perCell', 1, 100)} /></label>`}
      <fieldset><legend>Annotation area (percent of the photo)</legend>
        <label>Top <input type="number" min="0" max="100" step="0.1" value=${pm.area.top} onChange=${area('top')} /></label>
        <label>Bottom <input type="number" min="0" max="100" step="0.1" value=${pm.area.bottom} onChange=${area('bottom')} /></label>
        <label>Left <input type="number" min="0" max="100" step="0.1" value=${pm.area.left} onChange=${area('left')} /></label>
        <label>Right <input type="number" min="0" max="100" step="0.1" value=${pm.area.right} onChange=${area('right')} /></label>
      </fieldset>
    </section>`;
}

function ExtractorPicker({ project, update, say, app }) {
  const [busy, setBusy] = useState(false);
  const run = async (fn) => {
    setBusy(true);
    try {
      const ex = await fn();
      await update({ extractor: ex });
      const n = await queueExtraction(app, { ...project, extractor: ex });
      say(`Extractor ${ex.name} (${ex.sha256.slice(0, 12)}…) loaded${n ? `; ${n} photos queued for feature extraction` : ''}.`);
    } catch (e) {
      say(`Extractor not loaded: ${e.message}`);
    } finally {
      setBusy(false);
    }
  };
  const ex = project.extractor;
  return html`
    <section aria-labelledby="h-extractor">
      <h2 id="h-extractor">Feature extractor</h2>
      <p aria-label="Extractor in use">${ex ? html`Using <strong>${ex.name}</strong>: ${extractorLabel(ex)} <span class="muted">(sha256 ${ex.sha256.slice(0, 16)}…)</span>
        ${ex.testnet && html` <span class="warn">${TESTNET_WARNING}</span>`}` : 'None yet: features cannot be extracted.'}</p>
      <label class="file">Load extractor <input type="file" accept=".safetensors,.tflite" disabled=${busy}
        onChange=${(e) => { const f = e.currentTarget.files[0]; e.currentTarget.value = ''; if (f) run(() => loadExtractorFile(app.store, f)); }} /></label>
      <button type="button" disabled=${busy} onClick=${() => run(() => createTestnetExtractor(app.store))}>Use test network</button>
      <p class="muted">The weights file stays in this browser for offline use. A classifier belongs to the extractor its features came from.</p>
    </section>`;
}

registerPage({ id: 'settings', path: '/p/:projectId/settings', title: 'Settings', nav: 'project', order: 90, component: SettingsPage });
