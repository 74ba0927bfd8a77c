// router.js - hash routing (works on any static host, offline, from a sub-folder) and the
// page registry: a page module calls registerPage() when imported; the shell draws the
// current route's page and lists pages with a `nav` in its menus.
//
//   registerPage({ id: 'classifier', path: '/p/:projectId/classifier', title: 'Classifier',
//                  nav: 'project', order: 40, component: ClassifierPage })
//   navigate('/p/' + id + '/classifier')
import { useEffect, useState } from 'preact/hooks';

const pages = [];

/** Registers a page. nav: 'project' (the project's tab bar) or null (reached by links). */
export function registerPage(page) {
  const i = pages.findIndex((p) => p.id === page.id);
  const compiled = { order: 50, nav: null, ...page, ...compile(page.path) };
  if (i >= 0) pages[i] = compiled; else pages.push(compiled);
  pages.sort((a, b) => a.order - b.order);
}

export function listPages() { return pages.slice(); }

function compile(path) {
  const keys = [];
  const src = path.replace(/:([A-Za-z]+)/g, (_, k) => { keys.push(k); return '([^/]+)'; });
  return { re: new RegExp(`^${src}$`), keys };
}

/** The path after '#', '/' when none. */
export function currentPath() {
  const h = location.hash.replace(/^#/, '');
  return h || '/';
}

/** {page, params} for a path, or null. */
export function match(path) {
  const [p] = path.split('?');
  for (const page of pages) {
    const m = page.re.exec(p);
    if (m) {
      const params = {};
      page.keys.forEach((k, i) => { params[k] = decodeURIComponent(m[i + 1]); });
      return { page, params };
    }
  }
  return null;
}

/** Fills a page's path pattern: pathFor('annotate', {projectId, photoId}). */
export function pathFor(id, params = {}) {
  const page = pages.find((p) => p.id === id);
  if (!page) throw new Error(`no page ${id}`);
  return page.path.replace(/:([A-Za-z]+)/g, (_, k) => encodeURIComponent(params[k]));
}

export function navigate(path, { replace = false } = {}) {
  const url = `#${path}`;
  if (replace) history.replaceState(null, '', url); else if (location.hash !== url) location.hash = path;
  window.dispatchEvent(new HashChangeEvent('hashchange'));
}

/** The current path, re-rendering on navigation. */
export function usePath() {
  const [path, setPath] = useState(currentPath());
  useEffect(() => {
    const on = () => setPath(currentPath());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return path;
}
