// sw.js - the app's service worker (written by the build from web/sw-template.js, with the
// list of every file of that build). It caches the whole app on install, answers from that
// cache first (so the app starts and works with the network off), adds the COOP/COEP headers
// that make the page cross-origin isolated on hosts that cannot send them, and waits for the
// page to say "update" before a new version takes over: it never reloads a page by itself.
const VERSION = '__VERSION__';
const PRECACHE = __PRECACHE__;
const CACHE = `polyp-app-${VERSION}`;

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(PRECACHE)));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const k of await caches.keys()) if (k.startsWith('polyp-app-') && k !== CACHE) await caches.delete(k);
    await self.clients.claim();
  })());
});

self.addEventListener('message', (event) => {
  if (event.data && event.data.type === 'skip-waiting') self.skipWaiting();
});

function isolate(res) {
  if (!res || res.status === 0 || res.type === 'opaque') return res;
  const headers = new Headers(res.headers);
  headers.set('Cross-Origin-Opener-Policy', 'same-origin');
  headers.set('Cross-Origin-Embedder-Policy', 'require-corp');
  headers.set('Cross-Origin-Resource-Policy', 'same-origin');
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
}

self.addEventListener('fetch', (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== self.location.origin) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    // Pages (any path under the scope, with or without a query) are the app's index.html.
    const key = req.mode === 'navigate' ? new URL('./', self.registration.scope).href : url.origin + url.pathname;
    const hit = await cache.match(key);
    if (hit) return isolate(hit);
    try {
      return isolate(await fetch(req));
    } catch (e) {
      return new Response('offline and not cached', { status: 503, headers: { 'Content-Type': 'text/plain' } });
    }
  })());
});
