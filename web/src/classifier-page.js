// classifier-page.js - the Classifier page (CoralNet's "robot" pages in one): "Train now",
// the active classifier's validation accuracy and macro-F1, the Alleviate plot (accuracy vs
// confidence threshold with the fraction of points kept) with the threshold picker, "Apply
// Alleviate" and its undo, the confusion-matrix heatmap, per-label precision/recall and the
// history of trainings (accepted or not, and why). Every number is one the engine returned
// (Classifier.evaluate, stored with the classifier by train.js).
import { useState } from 'preact/hooks';
import { html, useApp, useStoreValue } from './ui.js';
import { registerPage } from './router.js';
import { TESTNET_WARNING } from './engine.js';
import { queueTraining, annotatedCounts } from './train.js';
import { applyAlleviate, undoAlleviate, curve } from './alleviate.js';
import './classifier-page.css';

const pct = (a, d = 1) => (a == null || Number.isNaN(a) ? '–' : `${(100 * a).toFixed(d)}%`);

/** CoralNet's Alleviate plot: validation accuracy of the points at or above each threshold
 * and the fraction of points kept, 0..100 on x; the picked threshold as a vertical line. */
function AlleviatePlot({ points, threshold }) {
  const W = 640, H = 300, l = 52, r = 16, t = 16, b = 44;
  const x = (v) => l + (v / 100) * (W - l - r);
  const y = (f) => t + (1 - f) * (H - t - b);
  const line = (key) => points.filter((p) => p[key] != null).map((p) => `${x(p.threshold).toFixed(1)},${y(p[key]).toFixed(1)}`).join(' ');
  const at = points[threshold];
  return html`
    <svg viewBox=${`0 0 ${W} ${H}`} width="100%" style="max-width:${W}px" role="img"
      aria-label=${`Alleviate plot: at ${threshold}% confidence, ${pct(at.kept)} of validation points kept at ${pct(at.accuracy)} accuracy`}>
      ${[0, 0.25, 0.5, 0.75, 1].map((f) => html`<g>
        <line x1=${l} x2=${W - r} y1=${y(f)} y2=${y(f)} stroke="#dde7ec" />
        <text x=${l - 6} y=${y(f) + 4} font-size="12" text-anchor="end" fill="#4d6570">${100 * f}%</text></g>`)}
      ${[0, 20, 40, 60, 80, 100].map((v) => html`<text x=${x(v)} y=${H - b + 18} font-size="12" text-anchor="middle" fill="#4d6570">${v}%</text>`)}
      <text x=${(l + W - r) / 2} y=${H - 6} font-size="12" text-anchor="middle" fill="#102a35">Confidence threshold</text>
      <polyline points=${line('accuracy')} fill="none" stroke="#0b4f6c" stroke-width="2.5" />
      <polyline points=${line('kept')} fill="none" stroke="#c05800" stroke-width="2.5" stroke-dasharray="6 4" />
      <line x1=${x(threshold)} x2=${x(threshold)} y1=${t} y2=${H - b} stroke="#102a35" stroke-width="1.5" />
      <g font-size="13"><rect x=${l + 10} y=${t + 6} width="14" height="4" fill="#0b4f6c" /><text x=${l + 30} y=${t + 12}>Accuracy of the points kept</text>
        <rect x=${l + 10} y=${t + 24} width="14" height="4" fill="#c05800" /><text x=${l + 30} y=${t + 30}>Fraction of points kept</text></g>
    </svg>`;
}

/** Confusion matrix as a heatmap table: rows true labels, columns predictions, each cell
 * shaded by its share of the row (recall per label on the diagonal). */
function Confusion({ ev }) {
  const n = ev.labels.length;
  const rowSum = ev.labels.map((_, i) => ev.confusion.slice(i * n, (i + 1) * n).reduce((a, b) => a + b, 0));
  return html`
    <div class="scroll-x"><table class="heatmap" aria-label="Confusion matrix (rows: true label, columns: predicted)">
      <thead><tr><th scope="col">True \\ predicted</th>${ev.labels.map((c) => html`<th scope="col">${c}</th>`)}</tr></thead>
      <tbody>${ev.labels.map((c, i) => html`<tr><th scope="row">${c}</th>${ev.labels.map((_, j) => {
        const v = ev.confusion[i * n + j];
        const f = rowSum[i] ? v / rowSum[i] : 0;
        return html`<td style=${`background: rgba(11, 79, 108, ${(0.08 + 0.92 * f).toFixed(3)}); color: ${f > 0.5 ? '#fff' : '#102a35'}`}
          title=${`${c} predicted as ${ev.labels[j]}: ${v}`}>${v}</td>`;
      })}</tr>`)}</tbody>
    </table></div>`;
}

function History({ list, activeId }) {
  return html`
    <div class="scroll-x"><table aria-label="Trainings">
      <thead><tr><th scope="col">Trained</th><th scope="col">Annotated photos</th><th scope="col">Validation accuracy</th>
        <th scope="col">Previous, same points</th><th scope="col">Result</th><th scope="col">Why</th></tr></thead>
      <tbody>${list.map((c) => html`<tr>
        <td>${new Date(c.trainedAt).toLocaleString()}</td><td>${c.nAnnotatedImages}</td><td>${pct(c.valAccuracy)}</td>
        <td>${pct(c.previousAccuracy)}</td>
        <td>${c.accepted ? (c.id === activeId ? 'Accepted (active)' : 'Accepted') : 'Not accepted'}</td><td>${c.reason}</td></tr>`)}</tbody>
    </table></div>`;
}

function ClassifierPage({ params }) {
  const app = useApp();
  const { store } = app;
  const pid = params.projectId;
  const [data] = useStoreValue(async () => {
    const project = await store.getProject(pid);
    if (!project) return null;
    const list = (await store.listClassifiers(pid)).sort((a, b) => b.trainedAt - a.trainedAt);
    const counts = await annotatedCounts(store, project);
    return { project, list, active: list.find((c) => c.id === project.classifierId) || null, annotated: counts.annotated, trainable: counts.withFeatures };
  }, [pid], (ev) => ev.projectId === pid && ['projects', 'classifiers', 'annotations', 'features'].includes(ev.store));
  const [threshold, setThreshold] = useState(null);
  const [msg, setMsg] = useState('');
  const [busy, setBusy] = useState(false);
  if (!data) return html`<p>Loading…</p>`;
  const { project, list, active } = data;
  const testnet = project.extractor && project.extractor.testnet;
  const t = threshold ?? (project.alleviate && project.alleviate.threshold) ?? 80;
  const ev = active && active.evaluation;
  const pts = ev && curve(ev);
  const act = (fn) => async () => {
    setBusy(true);
    try { setMsg(await fn()); } catch (e) { setMsg(`Failed: ${e.message}`); } finally { setBusy(false); }
  };
  const train = act(async () => { await queueTraining(app, pid, { trigger: 'manual' }); return 'Training queued: progress shows in the queue bar below.'; });
  const alleviate = act(() => applyAlleviate(store, pid, t));
  const undo = act(async () => (await undoAlleviate(store, pid)) || 'Nothing to undo.');
  const canUndo = project.alleviate && !project.alleviate.undone && project.alleviate.accepted > 0;
  return html`
    <h1>Classifier</h1>
    ${testnet && html`<p class="warn" role="note">Extractor: test network, ${TESTNET_WARNING}.</p>`}
    <p>${data.annotated} annotated photos, ${data.trainable} of them with features of this project's extractor.
      ${project.lastTrainedCount ? ` Last training used ${project.lastTrainedCount}.` : ' The first training starts by itself at 20 annotated photos.'}</p>
    <div class="row">
      <button type="button" class="primary" onClick=${train} disabled=${busy || !project.extractor || data.trainable === 0}>Train now</button>
    </div>
    <p class="status" role="status" aria-label="Classifier status">${msg}</p>
    ${active && project.extractor && active.extractorSha !== project.extractor.sha256 && html`<p class="warn" role="note">
      The active classifier belongs to another extractor (its features came from weights ${active.extractorSha.slice(0, 12)}…):
      it scores none of this extractor's features. "Train now" trains one for the current extractor.</p>`}
    ${!active ? html`<p>No classifier yet.</p>` : html`
      <section aria-labelledby="h-active">
        <h2 id="h-active">Active classifier</h2>
        <dl class="facts">
          <div><dt>Validation accuracy</dt><dd aria-label="Validation accuracy">${pct(ev.accuracy)}</dd></div>
          <div><dt>Macro-F1</dt><dd aria-label="Macro-F1">${ev.macroF1.toFixed(3)}</dd></div>
          <div><dt>Validation points</dt><dd>${active.validationPoints}</dd></div>
          <div><dt>Labels</dt><dd>${active.labels.length}</dd></div>
          <div><dt>Trained on</dt><dd>${active.nAnnotatedImages} annotated photos</dd></div>
        </dl>
      </section>
      <section aria-labelledby="h-alleviate">
        <h2 id="h-alleviate">Alleviate</h2>
        <p class="muted">Machine suggestions whose top score reaches the threshold are accepted as confirmed labels.</p>
        <${AlleviatePlot} points=${pts} threshold=${t} />
        <div class="row">
          <label>Confidence threshold (%)
            <input type="range" min="0" max="100" step="1" value=${t} onInput=${(e) => setThreshold(Number(e.currentTarget.value))} /></label>
          <label>Threshold value (%)
            <input type="number" min="0" max="100" step="1" value=${t}
              onInput=${(e) => { const v = Math.round(Number(e.currentTarget.value)); if (v >= 0 && v <= 100) setThreshold(v); }} /></label>
          <button type="button" class="primary" onClick=${alleviate} disabled=${busy}>Apply Alleviate</button>
          <button type="button" onClick=${undo} disabled=${busy || !canUndo}>Undo Alleviate</button>
        </div>
        <p aria-live="polite">At ${t}%: ${pct(pts[t].kept)} of validation points kept, ${pct(pts[t].accuracy)} of them correct.</p>
        ${project.alleviate && html`<p class="muted">Last: ${project.alleviate.message}</p>`}
      </section>
      <section aria-labelledby="h-confusion">
        <h2 id="h-confusion">Confusion matrix (validation points)</h2>
        <${Confusion} ev=${ev} />
      </section>
      <section aria-labelledby="h-labels">
        <h2 id="h-labels">Per label</h2>
        <div class="scroll-x"><table aria-label="Per-label precision and recall">
          <thead><tr><th scope="col">Label</th><th scope="col">Precision</th><th scope="col">Recall</th><th scope="col">F1</th><th scope="col">Support</th></tr></thead>
          <tbody>${ev.labels.map((c, i) => html`<tr><th scope="row">${c}</th><td>${pct(ev.perLabel[i].precision)}</td>
            <td>${pct(ev.perLabel[i].recall)}</td><td>${ev.perLabel[i].f1.toFixed(3)}</td><td>${ev.perLabel[i].support}</td></tr>`)}</tbody>
        </table></div>
      </section>`}
    ${list.length > 0 && html`<section aria-labelledby="h-history"><h2 id="h-history">Trainings</h2><${History} list=${list} activeId=${project.classifierId} /></section>`}`;
}

registerPage({ id: 'classifier', path: '/p/:projectId/classifier', title: 'Classifier', nav: 'project', navLabel: 'Classifier', order: 40, component: ClassifierPage });
