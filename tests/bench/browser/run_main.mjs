// run_main.mjs - runs an emscripten program (built with -sENVIRONMENT=web -sEXIT_RUNTIME=1) on
// a page in headless Chromium and prints its stdout: for kernel_profile (profile.sh), because
// Chromium's V8 compiles wasm differently from node's. Served from 127.0.0.1; the browser is
// Debian's, with the same no-network flags as the tests.
//   node tests/bench/browser/run_main.mjs program.js [arguments...]
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CHROMIUM, chromium, skip, FLAGS } from '../../browser/chromium.mjs';

const [file, ...args] = process.argv.slice(2);
if (!file) {
  console.error('usage: node run_main.mjs program.js [arguments...]');
  process.exit(2);
}
if (skip) {
  console.error(`run_main: ${skip}`);
  process.exit(1);
}
const dir = path.dirname(path.resolve(file));
const types = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.data': 'application/octet-stream' };
const page = `<!doctype html><script>var Module = { arguments: ${JSON.stringify(args)},
  print: (t) => console.log(t), printErr: (t) => console.log(t), onExit: (c) => console.log('__EXIT__ ' + c) };</script>
<script src="${path.basename(file)}"></script>`;
const server = http.createServer((req, res) => {
  const name = decodeURIComponent(new URL(req.url, 'http://127.0.0.1').pathname);
  if (name === '/') {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(page);
    return;
  }
  const p = path.join(dir, path.basename(name));
  if (!fs.existsSync(p)) {
    res.writeHead(404);
    res.end();
    return;
  }
  res.writeHead(200, { 'content-type': types[path.extname(p)] || 'application/octet-stream' });
  res.end(fs.readFileSync(p));
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'polyp-run-main-'));
let code = 1;
try {
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS });
  const tab = context.pages()[0] || await context.newPage();
  const exited = new Promise((resolve) => tab.on('console', (m) => {
    const t = m.text();
    if (t.startsWith('__EXIT__ ')) resolve(Number(t.slice(9)));
    else if (m.type() === 'log') console.log(t);
  }));
  await tab.goto(`http://127.0.0.1:${server.address().port}/`);
  code = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve(124), 600_000))]);
  await context.close();
} finally {
  server.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
process.exit(code);
