// chromium.mjs - what the headless-Chromium tests share: Debian's browser driven by
// playwright-core, the flags that keep it from reaching anything (no network, no background
// services, no other host resolvable: a safety net, each test still checks its requests),
// and the reason to skip (not pass) when the browser or playwright-core is missing.
import { existsSync } from 'node:fs';

export const CHROMIUM = process.env.POLYP_CHROMIUM || '/usr/bin/chromium';

export let chromium = null;
try {
  ({ chromium } = await import('playwright-core'));
} catch {
  chromium = null;
}

export const skip = !existsSync(CHROMIUM) ? `no ${CHROMIUM}` : !chromium ? 'playwright-core not installed (npm ci)' : false;

export const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-default-apps', '--disable-extensions', '--no-default-browser-check',
  '--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'];
