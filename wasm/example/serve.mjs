// serve.mjs - a tiny static server for the example page: 127.0.0.1 only, the project folder
// only, with the COOP/COEP headers that make the page cross-origin isolated (so polyp can use
// its threaded module). `?coi=0` on a page's URL serves it without them (single-threaded).
//
//   node wasm/example/serve.mjs [PORT]     then open http://127.0.0.1:PORT/wasm/example/
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.safetensors': 'application/octet-stream',
};

/** Starts the server; resolves to { url, close(), requests } (requests: every path served).
 * `files` maps extra URL paths to files outside the project (tests serve generated data). */
export function serve({ port = 0, root = ROOT, files = {} } = {}) {
  const requests = [];
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    requests.push(url.pathname + url.search);
    let path = Object.hasOwn(files, url.pathname) ? files[url.pathname] : normalize(join(root, decodeURIComponent(url.pathname)));
    if (!Object.hasOwn(files, url.pathname) && !path.startsWith(normalize(root + sep)) && path !== normalize(root)) {
      res.writeHead(403).end();
      return;
    }
    try {
      if ((await stat(path)).isDirectory()) path = join(path, 'index.html');
      const body = await readFile(path);
      const headers = {
        'Content-Type': TYPES[extname(path)] || 'application/octet-stream',
        'Cache-Control': 'no-store',
        'Cross-Origin-Resource-Policy': 'same-origin',
      };
      if (url.searchParams.get('coi') !== '0') {
        headers['Cross-Origin-Opener-Policy'] = 'same-origin';
        headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
      }
      res.writeHead(200, headers).end(body);
    } catch {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
    }
  });
  return new Promise((resolve) => {
    server.listen(port, '127.0.0.1', () => {
      const { port: p } = server.address();
      resolve({
        url: `http://127.0.0.1:${p}`,
        requests,
        close: () => new Promise((r) => server.close(r)),
      });
    });
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const s = await serve({ port: Number(process.argv[2] || 8080) });
  console.log(`polyp example: ${s.url}/wasm/example/  (Ctrl-C to stop)`);
}
