// annotate.js - the annotation tool (placeholder until the viewer lands).
import { html } from './ui.js';
import { registerPage } from './router.js';

function AnnotatePage() {
  return html`<h1>Annotate</h1><p>Coming next.</p>`;
}

registerPage({ id: 'annotate', path: '/p/:projectId/annotate/:photoId', title: 'Annotate', component: AnnotatePage });
