// pwa.js - the service worker's page side: registers sw.js (offline cache + COOP/COEP for
// hosts that cannot send them), reloads once when that is what makes the page
// cross-origin isolated, and offers updates without ever reloading under the user.
export async function startPwa() {
  const listeners = new Set();
  let waiting = null;
  const api = {
    reloading: false,
    onUpdate(fn) { listeners.add(fn); if (waiting) fn(); return () => listeners.delete(fn); },
    applyUpdate() {
      if (!waiting) return;
      navigator.serviceWorker.addEventListener('controllerchange', () => location.reload(), { once: true });
      waiting.postMessage({ type: 'skip-waiting' });
    },
  };
  if (!('serviceWorker' in navigator) || import.meta.env.DEV) return api;
  const announce = (w) => { waiting = w; for (const fn of listeners) fn(); };
  try {
    const reg = await navigator.serviceWorker.register('./sw.js');
    if (reg.waiting && navigator.serviceWorker.controller) announce(reg.waiting);
    reg.addEventListener('updatefound', () => {
      const w = reg.installing;
      w && w.addEventListener('statechange', () => {
        if (w.state === 'installed' && navigator.serviceWorker.controller) announce(w);
      });
    });
    // First visit on a host without COOP/COEP: once the worker controls the page it adds the
    // headers, so one reload (before anything was entered) gives the threaded engine.
    if (!globalThis.crossOriginIsolated && !sessionStorage.getItem('polyp-coi-reload')) {
      if (!navigator.serviceWorker.controller) await navigator.serviceWorker.ready;
      const ctl = navigator.serviceWorker.controller || await new Promise((r) => {
        navigator.serviceWorker.addEventListener('controllerchange', () => r(navigator.serviceWorker.controller), { once: true });
        setTimeout(() => r(null), 3000);
      });
      if (ctl) {
        sessionStorage.setItem('polyp-coi-reload', '1');
        api.reloading = true;
        location.reload();
      }
    }
  } catch (e) {
    console.warn('service worker not registered:', e && e.message);
  }
  return api;
}
