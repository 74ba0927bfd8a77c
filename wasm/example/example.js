// example.js - the smallest useful page over polyp's JS API: weights + photos + a points CSV
// in, one .featurevector per photo out, all inside this tab (the worker does the work).
// A citizen-science site can copy this file and ../*.js (polyp, worker, engine, bindings,
// common, detect) and ../dist/.
import { createPolyp } from '../polyp.js';

const $ = (id) => document.getElementById(id);
const status = (text) => { $('status').textContent = text; };

const params = new URLSearchParams(location.search);
const threads = params.get('threads') ? Number(params.get('threads')) : 'auto';

// Results stay in the page (and are readable by the browser test as window.polypExample).
const results = new Map();   // photo name -> { width, height, points, features, npz }
window.polypExample = { results, ready: false, done: false, error: null, engine: null, csv: null, polyp: null };

const polyp = await createPolyp({ threads, log: (m) => console.info(m) });
window.polypExample.engine = { flavor: polyp.flavor, threads: polyp.threads, version: polyp.version };
window.polypExample.polyp = polyp;
window.polypExample.ready = true;
status(`Engine ready: polyp ${polyp.version}, ${polyp.flavor === 'simd-mt'
  ? `${polyp.threads} threads` : 'single-threaded'}. Pick files and press Extract.`);

let controller = null;
$('cancel').onclick = () => controller && controller.abort();

$('form').onsubmit = async (ev) => {
  ev.preventDefault();
  const weightsFile = $('weights').files[0];
  const photos = [...$('photos').files];
  const pointsFile = $('points').files[0];
  const modelFile = $('model').files[0];
  if (!weightsFile || !photos.length || !pointsFile) {
    status('Pick a weights file, at least one photo and a points CSV.');
    return;
  }
  controller = new AbortController();
  $('run').disabled = true;
  $('cancel').disabled = false;
  window.polypExample.done = false;
  window.polypExample.error = null;
  results.clear();
  const tbody = $('results').querySelector('tbody');
  tbody.replaceChildren();
  try {
    status('Loading weights…');
    const w = await polyp.loadWeights(weightsFile);
    const csv = await polyp.parseAnnotationsCsv(pointsFile);
    const clf = modelFile ? await polyp.loadClassifier(modelFile) : null;
    const byName = new Map();
    csv.names.forEach((name, i) => {
      if (!byName.has(name)) byName.set(name, []);
      byName.get(name).push([csv.rows[i], csv.cols[i]]);
    });
    const todo = photos.filter((f) => byName.has(f.name));
    const total = todo.reduce((n, f) => n + byName.get(f.name).length, 0);
    let before = 0;
    for (const file of todo) {
      const points = byName.get(file.name);
      status(`${file.name}: ${points.length} points (weights ${w.sha256.slice(0, 12)}…)`);
      const r = await polyp.extract(file, points, {
        signal: controller.signal,
        onProgress: (done) => { $('progress').value = (before + done) / total; },
      });
      before += points.length;
      // The weights' record goes into the file, as `polyp extract` writes it: `polyp train`
      // binds its model to it and refuses features of another network mixed in.
      const npz = await polyp.featuresToNpz(points, r.features, { dim: w.featureDim, extractor: w.extractorRecord });
      const probs = clf ? await clf.predict(r.features) : null;
      results.set(file.name, { width: r.width, height: r.height, points, features: r.features, npz, probs });
      const url = URL.createObjectURL(new Blob([npz], { type: 'application/octet-stream' }));
      const row = tbody.insertRow();
      row.insertCell().textContent = file.name;
      row.insertCell().textContent = `${r.width} × ${r.height}`;
      row.insertCell().textContent = String(points.length);
      const a = document.createElement('a');
      a.href = url;
      a.download = `${file.name}.featurevector`;
      a.textContent = `${file.name}.featurevector`;
      row.insertCell().append(a);
      if (probs) {
        let best = 0;
        for (let c = 1; c < clf.labels.length; c++) if (probs[c] > probs[best]) best = c;
        row.insertCell().textContent = `${clf.labels[best]} (${Math.round(probs[best] * 100)}%)`;
      } else {
        row.insertCell().textContent = '—';
      }
      $('results').hidden = false;
    }
    if (clf) {
      // The CoralNet export: every CSV row, with suggestions where its photo was processed.
      const k = clf.labels.length;
      const probs = new Float32Array(csv.names.length * k).fill(NaN);
      const next = new Map();
      csv.names.forEach((name, i) => {
        const r = results.get(name);
        if (!r) return;
        const j = next.get(name) || 0;
        next.set(name, j + 1);
        probs.set(r.probs.subarray(j * k, (j + 1) * k), i * k);
      });
      const text = await polyp.exportAnnotationsCsv(csv, { classifier: clf, probs });
      window.polypExample.csv = text;
      $('csv').href = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
      $('export').hidden = false;
      await clf.dispose();
    }
    const missing = [...byName.keys()].filter((n) => !photos.some((f) => f.name === n));
    status(`Done: ${results.size} photos, ${total} points.` +
      (missing.length ? ` Not picked: ${missing.join(', ')}.` : ''));
    window.polypExample.done = true;
  } catch (e) {
    window.polypExample.error = `${e.name}: ${e.message}`;
    status(e.name === 'AbortError' ? 'Cancelled.' : `Error: ${e.message}`);
  } finally {
    $('run').disabled = false;
    $('cancel').disabled = true;
    controller = null;
  }
};
