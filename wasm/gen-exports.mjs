// gen-exports.mjs - writes emcc's export list (one `_name` a line) from wasm/bindings.js, the
// one table of the functions JS calls. Run by wasm/CMakeLists.txt at build time:
//   node wasm/gen-exports.mjs OUT
import { writeFileSync } from 'node:fs';
import { exportNames } from './bindings.js';

const out = process.argv[2];
if (!out) {
  console.error('usage: node wasm/gen-exports.mjs OUT');
  process.exit(2);
}
writeFileSync(out, `${exportNames().join('\n')}\n`);
