// projects.js - the start page: every project (a CoralNet "source") and "New project".
import { useState } from 'preact/hooks';
import { html, useApp, useStoreValue } from './ui.js';
import { registerPage, navigate, pathFor } from './router.js';

function ProjectsPage() {
  const { store } = useApp();
  const [projects] = useStoreValue(() => store.listProjects(), [], (ev) => ev.store === 'projects');
  const [name, setName] = useState('');
  const create = async (e) => {
    e.preventDefault();
    const p = await store.createProject({ name: name.trim() || 'Untitled project' });
    navigate(pathFor('settings', { projectId: p.id }));
  };
  return html`
    <h1>Projects</h1>
    <p class="lead">Annotate survey photos point by point, with machine suggestions, in this browser.
      Photos are stored here and never uploaded.</p>
    <form class="row" onSubmit=${create} aria-label="New project">
      <label>Project name <input name="name" value=${name} onInput=${(e) => setName(e.currentTarget.value)} placeholder="e.g. Reef survey 2026" /></label>
      <button type="submit" class="primary">New project</button>
    </form>
    <p><a href="#/restore">Restore project</a> from a backup file.</p>
    ${projects && projects.length === 0 && html`<p>No project yet.</p>`}
    ${projects && projects.length > 0 && html`
      <ul class="cards" aria-label="Your projects">
        ${projects.sort((a, b) => b.created - a.created).map((p) => html`
          <li><a href=${`#${pathFor('photos', { projectId: p.id })}`}>${p.name}</a>
            <span class="muted">${p.labelset.length} labels · created ${new Date(p.created).toLocaleDateString()}</span></li>`)}
      </ul>`}`;
}

registerPage({ id: 'projects', path: '/', title: 'Projects', component: ProjectsPage, order: 0 });
