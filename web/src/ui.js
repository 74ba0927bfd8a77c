// ui.js - what every page shares: htm bound to Preact (no JSX build step), the app context
// (store, queue, engine access) and a hook that re-renders when the store changes.
import { h, createContext } from 'preact';
import { useContext, useEffect, useState, useCallback } from 'preact/hooks';
import htm from 'htm';

export const html = htm.bind(h);

/** {store, queue, getPolyp, engineInfo, navigate, notify(text)} (main.js fills it). */
export const AppContext = createContext(null);
export const useApp = () => useContext(AppContext);

const bootHooks = [];
/** fn(app) runs once at boot, after the store and queue exist and before the first render
 * (e.g. train.js registering the 'train' job kind). Call it when your module is imported. */
export function onBoot(fn) { bootHooks.push(fn); }
export function runBootHooks(app) { for (const fn of bootHooks) fn(app); }

/**
 * Runs `load()` now and again after every store event that `filter(ev)` accepts (default:
 * all); returns [value, reload]. Pages read the store through this, never cache it.
 */
export function useStoreValue(load, deps, filter = () => true) {
  const { store } = useApp();
  const [value, setValue] = useState(undefined);
  const reload = useCallback(() => {
    let live = true;
    Promise.resolve(load()).then((v) => { if (live) setValue(v); }, (e) => console.error(e));
    return () => { live = false; };
  }, deps);
  useEffect(() => {
    let cancel = reload();
    const unsub = store.subscribe((ev) => {
      if (ev.type !== 'error' && filter(ev)) { cancel(); cancel = reload(); }
    });
    return () => { cancel(); unsub(); };
  }, [reload]);
  return [value, reload];
}

/** Bytes in words (storage use). */
export function formatBytes(n) {
  if (n == null) return 'unknown';
  const u = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < u.length - 1) { n /= 1000; i++; }
  return `${n.toFixed(n < 10 && i > 0 ? 1 : 0)} ${u[i]}`;
}

/** Saves bytes as a download (exports). */
export function download(name, data, type = 'application/octet-stream') {
  const url = URL.createObjectURL(data instanceof Blob ? data : new Blob([data], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
