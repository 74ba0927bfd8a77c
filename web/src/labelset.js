// labelset.js - labelsets: typed in, or read from a CoralNet labelset CSV (code, name,
// functional group columns) or the label codes of a CoralNet annotations CSV (parsed by the
// engine), with colours by functional group.

/** Colours per functional group (CoralNet groups by function; a group keeps one hue). */
const GROUP_HUES = { 'hard coral': 12, 'soft coral': 300, algae: 110, 'other invertebrates': 45, substrate: 30, other: 210 };

function hsl(h, s, l) {
  s /= 100; l /= 100;
  const f = (n) => {
    const k = (n + h / 30) % 12;
    const c = l - s * Math.min(l, 1 - l) * Math.max(-1, Math.min(k - 3, 9 - k, 1));
    return Math.round(c * 255).toString(16).padStart(2, '0');
  };
  return `#${f(0)}${f(8)}${f(4)}`;
}

/** A colour for the n-th label of a group (same hue per group, lightness varies). */
export function colorFor(group, n) {
  const key = (group || '').toLowerCase();
  // Labels without a group each get their own hue (golden-angle steps), not one shared hue.
  if (!key) return hsl(Math.round((n * 137.508) % 360), 65, 45);
  let hue = GROUP_HUES[key];
  if (hue === undefined) {
    let x = 0;
    for (const ch of key || 'x') x = (x * 31 + ch.charCodeAt(0)) % 360;
    hue = x;
  }
  return hsl(hue, 65, [42, 55, 33, 62, 48][n % 5]);
}

/** Assigns colours to labels that have none, by group. */
export function withColors(labels) {
  const seen = new Map();
  return labels.map((l) => {
    const n = seen.get(l.group || '') || 0;
    seen.set(l.group || '', n + 1);
    return l.color ? l : { ...l, color: colorFor(l.group, n) };
  });
}

/** RFC 4180 CSV rows (quoted fields, "" escapes, CRLF or LF). */
export function parseCsv(text) {
  const rows = [];
  let row = [], field = '', q = false;
  text = text.replace(/^\uFEFF/, '');
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (q) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; } else if (c === '"') q = false; else field += c;
    } else if (c === '"') q = true;
    else if (c === ',') { row.push(field); field = ''; } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field); rows.push(row); row = []; field = '';
    } else field += c;
  }
  if (field !== '' || row.length) { row.push(field); rows.push(row); }
  return rows.filter((r) => r.some((f) => f.trim() !== ''));
}

/** Whether a CSV's header is an annotations CSV (Name, Row, Column). */
export function isAnnotationsCsv(text) {
  const rows = parseCsv(text.slice(0, 4096));
  const h = (rows[0] || []).map((s) => s.trim().toLowerCase());
  return h.includes('name') && h.includes('row') && h.includes('column');
}

/**
 * A CoralNet labelset CSV: columns named (any case) `Short code`/`Label code`/`Code`/`Label`,
 * optionally `Name`, `Functional group`/`Group`, `Color`. Returns {labels, skipped}.
 */
export function parseLabelsetCsv(text) {
  const rows = parseCsv(text);
  if (rows.length === 0) return { labels: [], skipped: 0 };
  const h = rows[0].map((s) => s.trim().toLowerCase());
  const col = (...names) => h.findIndex((x) => names.includes(x));
  const ci = col('short code', 'label code', 'code', 'label', 'short_code');
  if (ci < 0) throw new Error('the labelset CSV needs a "Short code" (or "Label code") column');
  const ni = col('name', 'label name', 'full name');
  const gi = col('functional group', 'group', 'functional_group');
  const ki = col('color', 'colour');
  const seen = new Set();
  const labels = [];
  let skipped = 0;
  for (const r of rows.slice(1)) {
    const code = (r[ci] || '').trim();
    if (!code || seen.has(code.toLowerCase())) { skipped++; continue; }
    seen.add(code.toLowerCase());
    const color = ki >= 0 && /^#?[0-9a-f]{6}$/i.test((r[ki] || '').trim()) ? `#${r[ki].trim().replace('#', '')}` : '';
    labels.push({ code, name: ni >= 0 ? (r[ni] || '').trim() || code : code, group: gi >= 0 ? (r[gi] || '').trim() : '', color });
  }
  return { labels: withColors(labels), skipped };
}

/** Merges new labels into a labelset (codes compared case-insensitively): {labelset, added}. */
export function mergeLabels(labelset, labels) {
  const have = new Set(labelset.map((l) => l.code.toLowerCase()));
  const add = labels.filter((l) => !have.has(l.code.toLowerCase()));
  return { labelset: withColors([...labelset, ...add]), added: add.length };
}

/** The labelset entry of a code, case-insensitively (CoralNet matches codes that way). */
export function findLabel(labelset, code) {
  if (!code) return null;
  const c = code.trim().toLowerCase();
  return labelset.find((l) => l.code.toLowerCase() === c) || null;
}
