// vite.config.js - builds web/ into web/dist/ (relative URLs, so any static host and any
// sub-folder works). The engine (wasm/polyp.js and its worker, both wasm modules) is copied
// unbundled to dist/engine/, the test network's statistics to dist/assets/, and sw.js is
// written last with the list of every file, so one visit caches the whole app for offline use.
import { defineConfig } from 'vite';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { iconPng } from './icons.mjs';

const web = fileURLToPath(new URL('.', import.meta.url));
const root = join(web, '..');
const ENGINE_JS = ['polyp.js', 'worker.js', 'engine.js', 'common.js', 'bindings.js', 'detect.js', 'survey.js', 'zip.js'];
const ENGINE_DIST = ['polyp-simd.mjs', 'polyp-simd.wasm', 'polyp-simd-mt.mjs', 'polyp-simd-mt.wasm', 'polyp-simd-mt.worker.js'];

function walk(dir) {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

function polypAssets() {
  let outDir = null;
  return {
    name: 'polyp-assets',
    configResolved(c) { outDir = join(c.root, c.build.outDir); },
    buildStart() {
      const missing = ENGINE_DIST.filter((f) => !existsSync(join(root, 'wasm/dist', f)));
      if (missing.length) {
        this.error(`wasm/dist/ lacks ${missing[0]}: build the engine first with \`bash tests/wasm/run.sh\` (or the cmake lines in wasm/README.md)`);
      }
    },
    generateBundle() {
      for (const f of ENGINE_JS) this.emitFile({ type: 'asset', fileName: `engine/${f}`, source: readFileSync(join(root, 'wasm', f)) });
      for (const f of ENGINE_DIST) this.emitFile({ type: 'asset', fileName: `engine/dist/${f}`, source: readFileSync(join(root, 'wasm/dist', f)) });
      for (const n of [192, 512]) this.emitFile({ type: 'asset', fileName: `icon-${n}.png`, source: iconPng(n) });
      this.emitFile({ type: 'asset', fileName: 'assets/testnet-bnstats.safetensors', source: readFileSync(join(root, 'models/testnet-bnstats.safetensors')) });
    },
    closeBundle() {
      if (!outDir || !existsSync(outDir)) return;
      const files = walk(outDir).map((p) => relative(outDir, p).split('\\').join('/'))
        .filter((f) => f !== 'sw.js').sort();
      const h = createHash('sha256');
      for (const f of files) h.update(f).update(readFileSync(join(outDir, f)));
      const version = h.digest('hex').slice(0, 16);
      const precache = ['./', ...files.filter((f) => f !== 'index.html').map((f) => `./${f}`)];
      const tpl = readFileSync(join(web, 'sw-template.js'), 'utf8');
      writeFileSync(join(outDir, 'sw.js'),
        tpl.replace('__VERSION__', version).replace('__PRECACHE__', JSON.stringify(precache, null, 0)));
    },
  };
}

export default defineConfig({
  root: web,
  base: './',
  publicDir: 'public',
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 2000, sourcemap: false },
  worker: { format: 'es' },
  plugins: [polypAssets()],
});
