// timing.js - the one timing rule every engine of the browser benchmark follows (classic
// script or side-effect module import; defines globalThis.benchTime):
// one warm-up call, then up to `iters` timed calls, stopping early once `budget` seconds are
// spent (after at least `minRuns`); returns the median, all times and the last result.
// Also wraps Worker to count the nested workers (thread pools) an engine starts.
// `fn` is async and must return only once the result is readable on the calling thread.
(function (g) {
  // Counts the workers an engine starts (its thread pool): proof that threads really ran.
  g.spawnedWorkers = 0;
  if (typeof g.Worker === 'function') {
    const W = g.Worker;
    g.Worker = class extends W {
      constructor(...args) { super(...args); g.spawnedWorkers++; }
    };
  }
  g.benchTime = async function benchTime(fn, { iters, budget, minRuns = 3 }) {
    let out = await fn();
    const times = [];
    let spent = 0;
    while (times.length < iters && (times.length < minRuns || spent < budget)) {
      const t0 = performance.now();
      out = await fn();
      const dt = (performance.now() - t0) / 1000;
      times.push(dt);
      spent += dt;
    }
    const s = [...times].sort((a, b) => a - b);
    const m = s.length;
    const med = m % 2 ? s[(m - 1) / 2] : 0.5 * (s[m / 2 - 1] + s[m / 2]);
    return { med, min: s[0], runs: m, times, out };
  };
})(globalThis);
