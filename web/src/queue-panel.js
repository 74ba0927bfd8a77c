// queue-panel.js - the one place long work is shown: the running job with its progress,
// the count waiting, Pause/Resume and Cancel.
import { useEffect, useState } from 'preact/hooks';
import { html, useApp } from './ui.js';

export function QueuePanel() {
  const { queue } = useApp();
  const [s, setS] = useState(queue.snapshot());
  useEffect(() => queue.subscribe(setS), []);
  const c = s.current;
  const waiting = s.jobs.length - (c ? 1 : 0);
  if (!c && waiting === 0 && !s.lastError) return html`<section class="queue idle" aria-label="Queue"><span>Queue: idle</span></section>`;
  return html`
    <section class="queue" aria-label="Queue">
      ${c ? html`<span class="job">${c.title || c.kind}${c.text ? `: ${c.text}` : ''}</span>
        <progress aria-label="Progress of the running job" max=${c.total || 1} value=${c.done}></progress>
        <span>${c.total ? `${c.done}/${c.total}` : ''}</span>`
        : html`<span>${s.paused ? 'Queue paused' : 'Queue'}</span>`}
      <span>${waiting > 0 ? `${waiting} waiting` : ''}</span>
      ${s.paused
        ? html`<button type="button" onClick=${() => queue.resume()}>Resume</button>`
        : html`<button type="button" onClick=${() => queue.pause()} disabled=${!c && waiting === 0}>Pause</button>`}
      <button type="button" onClick=${() => queue.cancelWhere(() => true)} disabled=${s.jobs.length === 0}>Cancel all</button>
      ${s.lastError && html`<span class="error" role="alert">Last error: ${s.lastError}</span>`}
    </section>`;
}
