// detect.js - the one place that decides which polyp artifact runs here, and why.
//
//   polyp-simd-mt   SIMD128 + pthreads: needs SharedArrayBuffer, i.e. a cross-origin-isolated
//                   page (COOP: same-origin + COEP: require-corp) or node
//   polyp-simd      SIMD128, single-threaded: any page
//
// Both artifacts use SIMD128 (every current browser has it); without it polyp refuses to
// start with a clear message instead of running a slow path nobody tests.

// (module (func (result v128) i32.const 0 i8x16.splat i8x16.popcnt)): validates only where
// the final SIMD128 opcodes exist.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253,
  15, 253, 98, 11,
]);

export const isNode =
  typeof process === 'object' && typeof process.versions === 'object' &&
  typeof process.versions.node === 'string' && typeof window === 'undefined' &&
  typeof importScripts !== 'function';

export const MAX_THREADS = 8;

async function hardwareThreads() {
  if (globalThis.navigator && navigator.hardwareConcurrency) return navigator.hardwareConcurrency;
  if (isNode) {
    const os = await import('node:os');
    return os.availableParallelism ? os.availableParallelism() : os.cpus().length;
  }
  return 1;
}

function sharedMemoryWorks() {
  try {
    const mem = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    return mem.buffer instanceof SharedArrayBuffer;
  } catch {
    return false;
  }
}

/**
 * Picks the artifact. `requested` is a thread count or 'auto' (hardware threads, at most
 * MAX_THREADS). Returns { flavor: 'simd' | 'simd-mt', threads, simd: true, reason }.
 */
export async function detectRuntime(requested = 'auto') {
  if (typeof WebAssembly !== 'object' || !WebAssembly.validate(SIMD_PROBE)) {
    throw new Error('polyp needs WebAssembly with SIMD128, which this browser does not offer');
  }
  const hw = await hardwareThreads();
  const want = requested === 'auto' || requested == null
    ? Math.max(1, Math.min(hw, MAX_THREADS))
    : Math.max(1, Math.min(Math.floor(Number(requested)) || 1, 64));
  if (want === 1) {
    return { flavor: 'simd', threads: 1, simd: true,
      reason: requested === 'auto' ? 'single-threaded: one hardware thread' : 'single-threaded as requested' };
  }
  const isolated = isNode || globalThis.crossOriginIsolated === true;
  if (typeof SharedArrayBuffer !== 'function' || !isolated) {
    return { flavor: 'simd', threads: 1, simd: true,
      reason: 'single-threaded: the page is not cross-origin isolated (COOP/COEP headers), so no SharedArrayBuffer' };
  }
  if (!sharedMemoryWorks()) {
    return { flavor: 'simd', threads: 1, simd: true,
      reason: 'single-threaded: shared WebAssembly memory is not available' };
  }
  return { flavor: 'simd-mt', threads: want, simd: true, reason: `SIMD + ${want} threads` };
}
