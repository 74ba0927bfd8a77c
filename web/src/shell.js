// shell.js - the frame around every page: header, the project's tab bar (pages registered
// with nav: 'project'), the queue panel, the engine and storage lines, write errors and the
// update prompt. Pages are drawn in <main>.
import { useEffect, useState } from 'preact/hooks';
import { html, useApp, useStoreValue, formatBytes } from './ui.js';
import { usePath, match, listPages, pathFor } from './router.js';
import { QueuePanel } from './queue-panel.js';

export function Shell() {
  const app = useApp();
  const path = usePath();
  const route = match(path);
  const projectId = route && route.params.projectId;
  const [project] = useStoreValue(() => (projectId ? app.store.getProject(projectId) : null), [projectId],
    (ev) => ev.store === 'projects');
  const [errors, setErrors] = useState([]);
  useEffect(() => app.store.subscribe((ev) => {
    if (ev.type === 'error') setErrors((e) => [...e.slice(-2), ev.message]);
  }), []);
  useEffect(() => {
    const title = route ? route.page.title : 'Not found';
    document.title = project ? `${title} · ${project.name} · polyp` : `${title} · polyp`;
  }, [route && route.page.id, project && project.name]);

  const Page = route && route.page.component;
  const tabs = listPages().filter((p) => p.nav === 'project');
  return html`
    <a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); document.getElementById('main').focus(); }}>Skip to content</a>
    <header class="top">
      <a class="brand" href="#/">polyp</a>
      ${project && html`<span class="crumb" aria-label="Project">${project.name}</span>`}
      <${EngineLine} />
      <${StorageLine} />
    </header>
    ${project && html`
      <nav class="tabs" aria-label="Project pages">
        ${tabs.map((t) => html`<a href=${`#${pathFor(t.id, { projectId })}`}
          aria-current=${route.page.id === t.id ? 'page' : undefined}>${t.navLabel || t.title}</a>`)}
      </nav>`}
    ${errors.length > 0 && html`
      <div class="banner error" role="alert">
        ${errors.map((m) => html`<p>${m}</p>`)}
        <button type="button" onClick=${() => setErrors([])}>Dismiss</button>
      </div>`}
    <${UpdatePrompt} />
    <main id="main" tabindex="-1">
      ${Page ? html`<${Page} key=${path} params=${route.params} />` : html`<h1>Page not found</h1><p><a href="#/">All projects</a></p>`}
    </main>
    <${QueuePanel} />`;
}

function EngineLine() {
  const { getPolyp, engineInfo } = useApp();
  const [state, setState] = useState(engineInfo() ? 'ready' : 'loading');
  useEffect(() => {
    getPolyp().then(() => setState('ready'), (e) => setState(`failed: ${e.message}`));
  }, []);
  const info = engineInfo();
  const text = state === 'ready' && info ? `Engine: polyp ${info.version}, ${info.note}`
    : state === 'loading' ? 'Engine: starting…' : `Engine ${state}`;
  return html`<span class="engine" role="status" aria-label="Engine">${text}</span>`;
}

function StorageLine() {
  const { store } = useApp();
  const [s] = useStoreValue(() => store.storageInfo(), [], (ev) => ev.store === 'photos' || ev.store === 'features');
  if (!s) return null;
  return html`<span class="storage" aria-label="Storage">Stored: ${formatBytes(s.usage)} of ${formatBytes(s.quota)}${s.persisted ? ' (persistent)' : ' (may be evicted under storage pressure)'}</span>`;
}

function UpdatePrompt() {
  const { pwa } = useApp();
  const [waiting, setWaiting] = useState(false);
  useEffect(() => pwa && pwa.onUpdate(() => setWaiting(true)), []);
  if (!waiting) return null;
  return html`<div class="banner update" role="status">
    A new version of the app is ready. It loads when you choose; nothing you entered is lost.
    <button type="button" onClick=${() => pwa.applyUpdate()}>Update now</button>
    <button type="button" onClick=${() => setWaiting(false)}>Later</button>
  </div>`;
}
