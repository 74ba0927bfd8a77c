// main.js - boots the app: the store, the queue with its job kinds, the pages (ours, and
// robot's classifier pages where their modules exist), the service worker, then the shell.
import { render } from 'preact';
import { html, AppContext, runBootHooks } from './ui.js';
import { openStore, requestPersist } from './store.js';
import { Queue } from './queue.js';
import { getPolyp, engineInfo } from './engine.js';
import { navigate } from './router.js';
import { registerExtraction } from './extract.js';
import { startPwa } from './pwa.js';
import { Shell } from './shell.js';
import './projects.js';
import './project.js';
import './photos.js';
import './annotate.js';
import './styles.css';

// Every other page module registers itself on import (registerPage); a missing one is
// simply absent, so the classifier side can land in its own files.
import.meta.glob(['./train.js', './classifier-page.js', './alleviate.js', './review.js', './stats.js', './export.js', './backup.js'], { eager: true });

async function boot() {
  const pwa = await startPwa();
  if (pwa.reloading) return;          // the service worker now supplies COOP/COEP: one reload
  const store = await openStore();
  const persisted = await requestPersist();
  const queue = new Queue(store);
  const app = { store, queue, getPolyp, engineInfo, navigate, pwa, persisted };
  registerExtraction(app);
  runBootHooks(app);                  // modules' onBoot hooks (train.js registers its job)
  window.polypApp = app;              // for the browser tests and the console
  const root = document.getElementById('app');
  root.textContent = '';              // the "Loading" line
  render(html`<${AppContext.Provider} value=${app}><${Shell} /></${AppContext.Provider}>`, root);
  getPolyp().catch((e) => console.error('engine failed to start', e));
  await queue.start();
}

boot().catch((e) => {
  document.getElementById('app').textContent = `The app could not start: ${e && e.message || e}`;
  console.error(e);
});
