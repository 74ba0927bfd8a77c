// stats.js - the Statistics page: percent cover per photo and over all photos (mean and its
// standard error), as a table and a bar chart. The numbers are the library's percentCover
// (wasm/survey.js) of the labels CoralNet counts in its covers (confirmed and unconfirmed
// machine labels; unannotated points are left out); this page only lays them out.
import { useState } from 'preact/hooks';
import { percentCover } from '../../wasm/survey.js';
import { html, useApp, useStoreValue } from './ui.js';
import { registerPage } from './router.js';
import { effectiveLabel } from './export.js';
import { projectData } from './train.js';

const fmt = (f) => (Number.isNaN(f) ? '–' : (100 * f).toFixed(1));

/** Mean cover per label with SE bars, labelled so a screen reader gets the same numbers. */
function CoverChart({ pc, colors }) {
  const W = 640, rowH = 26, left = 90, right = 20, top = 24;
  const H = top + pc.codes.length * rowH + 24;
  // The axis ends at the next 10% above the longest bar with its error bar.
  const max = Math.min(1, Math.ceil(10 * Math.max(0.05, ...pc.codes.map((_, j) => (pc.mean[j] || 0) + (pc.se[j] || 0)))) / 10);
  const x = (f) => left + (f / max) * (W - left - right);
  const ticks = Array.from({ length: Math.round(max * 10) + 1 }, (_, i) => i / 10).filter((t, i, all) => all.length <= 6 || i % 2 === 0);
  return html`
    <svg viewBox=${`0 0 ${W} ${H}`} width="100%" style="max-width:${W}px" role="img"
      aria-label=${`Mean percent cover per label over ${pc.n} photos, with standard error bars`}>
      ${ticks.map((t) => html`<g>
        <line x1=${x(t)} x2=${x(t)} y1=${top - 6} y2=${H - 24} stroke="#c6d5dc" />
        <text x=${x(t)} y=${H - 8} font-size="12" text-anchor="middle" fill="#4d6570">${(100 * t).toFixed(0)}%</text></g>`)}
      ${pc.codes.map((code, j) => {
        const y = top + j * rowH;
        const m = pc.mean[j] || 0, se = pc.se[j];
        return html`<g>
          <text x=${left - 8} y=${y + 16} font-size="13" text-anchor="end" fill="#102a35">${code}</text>
          <rect x=${left} y=${y + 4} width=${x(m) - left} height=${rowH - 10} fill=${colors[j] || '#0b4f6c'} stroke="#102a35" stroke-width="0.5" />
          ${!Number.isNaN(se) && se > 0 && html`<line x1=${x(Math.max(0, m - se))} x2=${x(m + se)} y1=${y + 12} y2=${y + 12} stroke="#102a35" stroke-width="2" />`}
        </g>`;
      })}
    </svg>`;
}

function StatsPage({ params }) {
  const { store } = useApp();
  const pid = params.projectId;
  const [showPhotos, setShowPhotos] = useState(true);
  const [data] = useStoreValue(async () => {
    const project = await store.getProject(pid);
    if (!project) return null;
    const { photos } = await projectData(store, { ...project, extractor: null });
    const codes = project.labelset.map((l) => l.code);
    const pc = percentCover(photos.map((p) => ({ name: p.name, labels: p.points.map(effectiveLabel) })), codes);
    return { project, pc, colors: project.labelset.map((l) => l.color) };
  }, [pid], (ev) => ev.projectId === pid && (ev.store === 'annotations' || ev.store === 'projects' || ev.store === 'photos'));
  if (!data) return html`<p>Loading…</p>`;
  const { pc, colors } = data;
  return html`
    <h1>Statistics</h1>
    <p class="lead">Percent cover: each label's share of a photo's annotated points (confirmed and machine labels, as
      CoralNet counts them), and over ${pc.n} photos with annotations the mean and its standard error (SE).</p>
    ${pc.n === 0 ? html`<p>No photo has annotated points yet.</p>` : html`
      <${CoverChart} pc=${pc} colors=${colors} />
      <table aria-label="Percent cover, all photos">
        <thead><tr><th scope="col">Label</th><th scope="col">Mean cover (%)</th><th scope="col">SE (%)</th></tr></thead>
        <tbody>${pc.codes.map((c, j) => html`<tr><th scope="row">${c}</th><td>${fmt(pc.mean[j])}</td><td>${fmt(pc.se[j])}</td></tr>`)}</tbody>
      </table>
      <label class="check"><input type="checkbox" checked=${showPhotos} onChange=${(e) => setShowPhotos(e.currentTarget.checked)} /> Show every photo</label>
      ${showPhotos && html`
        <div class="scroll-x">
        <table aria-label="Percent cover per photo">
          <thead><tr><th scope="col">Photo</th><th scope="col">Annotated points</th>${pc.codes.map((c) => html`<th scope="col">${c} (%)</th>`)}</tr></thead>
          <tbody>${pc.images.map((im) => html`<tr><th scope="row">${im.name}</th><td>${im.annotated} of ${im.points}</td>
            ${Array.from(im.cover, (f) => html`<td>${fmt(f)}</td>`)}</tr>`)}</tbody>
        </table></div>`}`}`;
}

registerPage({ id: 'stats', path: '/p/:projectId/stats', title: 'Statistics', nav: 'project', navLabel: 'Statistics', order: 60, component: StatsPage });
