// check-engine.mjs - `npm run build:web` runs this first: the app ships the engine's wasm
// artifacts, which CMake builds (tests/wasm/run.sh), so say in one line how to get them.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../wasm/dist/', import.meta.url));
const need = ['polyp-simd.mjs', 'polyp-simd.wasm', 'polyp-simd-mt.mjs', 'polyp-simd-mt.wasm', 'polyp-simd-mt.worker.js'];
const missing = need.filter((f) => !existsSync(dist + f));
if (missing.length) {
  console.error(`build:web: wasm/dist/${missing[0]} is missing: build the engine first with \`bash tests/wasm/run.sh\``);
  process.exit(1);
}
