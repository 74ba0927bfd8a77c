// harness.mjs - what the app's browser tests share: the built app (web/dist) served on
// 127.0.0.1 with COOP/COEP, Debian's Chromium through playwright-core (tests/browser's
// launcher flags), a log of every request and console error, the test photos read in place
// from ../shared/testdata, and screenshots to build/web-screenshots/.
import { mkdirSync, mkdtempSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, CHROMIUM, FLAGS, skip as browserSkip } from '../browser/chromium.mjs';
import { serve } from '../../web/serve.mjs';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const TESTDATA = process.env.POLYP_TESTDATA || join(ROOT, '../shared/testdata');
export const SHOTS = join(ROOT, 'build/web-screenshots');

export const skip = browserSkip || (!existsSync(join(ROOT, 'web/dist/index.html')) ? 'web/dist not built (npm run build:web)' : false);
export const haveTestdata = existsSync(TESTDATA);

export function testPhoto(name) { return join(TESTDATA, name); }

/** A fresh Chromium profile folder (removed by cleanup()). */
export function profileDir() { return mkdtempSync(join(tmpdir(), 'polyp-web-')); }

/**
 * Starts the server and a persistent Chromium context on `profile`.
 * Returns {server, context, page, requests, errors, close()}; requests holds every request
 * the browser made (url, method, post data size), errors every console error and page error.
 */
export async function launch({ profile, server = null, coi = true, requests = [], errors = [], serviceWorkers = 'allow', viewport = { width: 1280, height: 860 }, hasTouch = false, isMobile = false } = {}) {
  const srv = server || await serve({ coi });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, args: FLAGS, headless: true, viewport, hasTouch, isMobile,
    serviceWorkers, acceptDownloads: true,
  });
  const watch = (page) => {
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(String(e && e.stack || e)));
  };
  context.on('request', (r) => requests.push({ url: r.url(), method: r.method(), postSize: (r.postDataBuffer() || Buffer.alloc(0)).length }));
  context.on('page', watch);
  const page = context.pages()[0] || await context.newPage();
  watch(page);
  return {
    server: srv, context, page, requests, errors,
    async close({ keepServer = false } = {}) {
      // A killed browser never answers: do not wait for it.
      await Promise.race([context.close().catch(() => {}), new Promise((r) => setTimeout(r, 10000))]);
      if (!keepServer && !server) await srv.close();
    },
  };
}

/** Opens the app and waits until the engine line says it is ready. */
export async function openApp(page, url, hash = '') {
  await page.goto(`${url}/${hash ? `#${hash}` : ''}`);
  await page.waitForFunction(() => window.polypApp && document.querySelector('[aria-label="Engine"]') &&
    /polyp \d/.test(document.querySelector('[aria-label="Engine"]').textContent), null, { timeout: 60000 });
}

/** A full-page screenshot into build/web-screenshots/NAME.png. */
export async function screenshot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  const path = join(SHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: false });
  return path;
}

export function cleanup(dir) { try { rmSync(dir, { recursive: true, force: true }); } catch { /* best effort */ } }

/** Waits until the app's queue is idle (no pending or running job). */
export async function queueIdle(page, timeout = 240000) {
  await page.waitForFunction(() => window.polypApp && window.polypApp.queue.jobs.length === 0 && !window.polypApp.queue.current,
    null, { timeout, polling: 250 });
}

/** Pids of the Chromium main process using `profile` (the one without --type=), found in
 * /proc: the test started it and kills it by its id to simulate a crash. */
export async function browserPids(profile) {
  const { readdirSync, readFileSync } = await import('node:fs');
  const pids = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let cmd;
    try { cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0'); } catch { continue; }
    if (cmd.some((a) => a === `--user-data-dir=${profile}`) && !cmd.some((a) => a.startsWith('--type='))) pids.push(Number(d));
  }
  return pids;
}

/** Runs axe-core on the page; returns the serious and critical violations as short lines. */
export async function axeViolations(page) {
  await page.addScriptTag({ path: join(ROOT, 'node_modules/axe-core/axe.min.js') });
  const res = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')})`);
  });
  return res;
}

/** Every request that left the page's origin, or carried a body (the app never uploads). */
export function privacyProblems(requests, origin) {
  return requests.filter((r) => !r.url.startsWith(`${origin}/`) || r.postSize > 0 || !['GET', 'HEAD'].includes(r.method))
    .map((r) => `${r.method} ${r.url} (${r.postSize} body bytes)`);
}

/** The app's stored state of a project, read through its store in the page. */
export function readProject(page, projectId) {
  return page.evaluate(async (pid) => {
    const { store } = window.polypApp;
    const photos = await store.listPhotos(pid);
    const out = {};
    for (const ph of photos) out[ph.name] = { photo: ph, points: (await store.getAnnotations(ph.id)).points };
    return { project: await store.getProject(pid), photos: out };
  }, projectId);
}

/** Types labels [[code, name, group]] into the settings page's "Add a label" form. */
export async function addLabels(page, labels) {
  for (const [code, label, group] of labels) {
    await page.getByLabel('Label code', { exact: true }).fill(code);
    await page.getByLabel('Label name', { exact: true }).fill(label);
    await page.getByLabel('Functional group', { exact: true }).fill(group);
    await page.getByRole('button', { name: 'Add label' }).click();
    await page.getByRole('button', { name: `Remove ${code}`, exact: true }).waitFor();
  }
}

/**
 * Sets a project up through the UI: name, typed labels [[code, name, group]], `n` simple
 * random points, the test network, photos (paths), "Generate points", extraction done.
 * Resolves to the project id.
 */
export async function setupProject(page, url, { name = 'Project', labels, n = 10, photos }) {
  await openApp(page, url);
  await page.getByLabel('Project name').fill(name);
  await page.getByRole('button', { name: 'New project' }).click();
  await page.getByRole('heading', { name: 'Project settings' }).waitFor();
  const projectId = decodeURIComponent(page.url().split('#/p/')[1].split('/')[0]);
  await addLabels(page, labels);
  await page.getByLabel('Number of points').fill(String(n));
  await page.getByLabel('Number of points').press('Tab');
  await page.getByRole('button', { name: 'Use test network' }).click();
  await page.getByText(/Extractor .* loaded/).waitFor({ timeout: 60000 });
  await page.getByRole('link', { name: 'Photos' }).click();
  await page.getByLabel('Add photos').setInputFiles(photos);
  await page.getByText(new RegExp(`${photos.length} photos added`)).waitFor({ timeout: 120000 });
  await page.getByRole('button', { name: 'Generate points' }).click();
  await page.getByText(/Points generated on/).waitFor({ timeout: 60000 });
  await queueIdle(page);
  return projectId;
}
