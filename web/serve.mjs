// serve.mjs - `npm run web`: serves web/dist at 127.0.0.1:$PORT (default 8080) with the
// COOP/COEP headers that make the page cross-origin isolated (the threaded engine).
// `?coi=0` on a URL leaves them out (the single-threaded fallback). 127.0.0.1 only.
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const DIST = fileURLToPath(new URL('./dist/', import.meta.url));
const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm', '.json': 'application/json', '.webmanifest': 'application/manifest+json',
  '.css': 'text/css; charset=utf-8', '.png': 'image/png', '.svg': 'image/svg+xml', '.safetensors': 'application/octet-stream',
};

/** Starts the server: {url, requests (every path served), overrides, close()}. coi: false
 * never sends COOP/COEP (a host that cannot; the service worker then supplies them).
 * `overrides` maps a URL path to a body served instead of the file (tests: a new version). */
export function serve({ port = 0, root = DIST, coi = true } = {}) {
  const requests = [];
  const overrides = new Map();
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    requests.push({ method: req.method, path: url.pathname + url.search });
    let path = normalize(join(root, decodeURIComponent(url.pathname)));
    if (!path.startsWith(normalize(root.endsWith(sep) ? root : root + sep)) && path !== normalize(root)) {
      res.writeHead(403).end();
      return;
    }
    try {
      if (!overrides.has(url.pathname) && (await stat(path)).isDirectory()) path = join(path, 'index.html');
      const body = overrides.has(url.pathname) ? Buffer.from(overrides.get(url.pathname)) : await readFile(path);
      const headers = { 'Content-Type': TYPES[extname(path)] || 'application/octet-stream', 'Cache-Control': 'no-cache',
        'Cross-Origin-Resource-Policy': 'same-origin' };
      if (coi && url.searchParams.get('coi') !== '0') {
        headers['Cross-Origin-Opener-Policy'] = 'same-origin';
        headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
      }
      res.writeHead(200, headers).end(req.method === 'HEAD' ? undefined : body);
    } catch {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      resolve({ url: `http://127.0.0.1:${server.address().port}`, requests, overrides, close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }) });
    });
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (!existsSync(join(DIST, 'index.html'))) {
    console.error('web/dist/ is missing: run `npm run build:web` first');
    process.exit(1);
  }
  const s = await serve({ port: Number(process.env.PORT || 8080) });
  console.log(`polyp app: ${s.url}/  (Ctrl-C to stop)`);
}
