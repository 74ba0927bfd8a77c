// units.test.mjs - the app's pure modules under node, against hand-worked values: CoralNet's
// suggestion text and the multi-point product, labelset CSV parsing, case-insensitive codes,
// the annotation area in pixels, key names, photo status.
import test from 'node:test';
import assert from 'node:assert/strict';
import { combinedSuggestions, formatSuggestion } from '../../web/src/suggestions.js';
import { parseLabelsetCsv, parseCsv, mergeLabels, findLabel, isAnnotationsCsv } from '../../web/src/labelset.js';
import { areaPixels } from '../../web/src/points.js';
import { keyName } from '../../web/src/keymap.js';
import { photoStatus, withLabel, newPoint } from '../../web/src/store.js';

test('suggestion text is CODE [NN%] with the percent floored', () => {
  assert.equal(formatSuggestion(['CCA', 0.999]), 'CCA [99%]');
  assert.equal(formatSuggestion(['Sand', 0.5]), 'Sand [50%]');
  assert.equal(formatSuggestion(['Porit', 0.0999]), 'Porit [9%]');
  assert.equal(formatSuggestion(['X', 0.29]), 'X [29%]');   // 0.29 * 100 = 28.999999999999996 in binary
});

test('several points: the normalised product of their scores, labels missing from a top 5 drop out', () => {
  const pts = [
    { suggestions: [['A', 0.6], ['B', 0.3], ['C', 0.1]] },
    { suggestions: [['B', 0.5], ['A', 0.25], ['D', 0.25]] },
    { suggestions: null },
  ];
  // A: .6 * .25 = .15, B: .3 * .5 = .15, C and D missing in one list: out. Sum .3.
  const s = combinedSuggestions(pts, [0, 1, 2]);
  assert.equal(s.length, 2);
  assert.deepEqual(s.map((x) => x[0]), ['A', 'B']);        // tie: by code
  assert.ok(Math.abs(s[0][1] - 0.5) < 1e-12 && Math.abs(s[1][1] - 0.5) < 1e-12);
  assert.deepEqual(combinedSuggestions(pts, [0]), pts[0].suggestions);
  assert.deepEqual(combinedSuggestions(pts, [2]), []);
});

test('labelset CSV: CoralNet columns in any case and order, quoted fields, repeated codes skipped', () => {
  const csv = '\uFEFFName,Short Code,Functional Group\r\n"Crustose coralline algae",CCA,Algae\r\n"Sand, fine",Sand,Substrate\r\nAgain,cca,Algae\r\n,,\r\n';
  const { labels, skipped } = parseLabelsetCsv(csv);
  assert.deepEqual(labels.map((l) => [l.code, l.name, l.group]), [['CCA', 'Crustose coralline algae', 'Algae'], ['Sand', 'Sand, fine', 'Substrate']]);
  assert.equal(skipped, 1);
  assert.match(labels[0].color, /^#[0-9a-f]{6}$/);
  assert.throws(() => parseLabelsetCsv('Foo,Bar\n1,2\n'), /Short code/);
  assert.deepEqual(parseCsv('a,"b ""q""",c\n'), [['a', 'b "q"', 'c']]);
  assert.equal(isAnnotationsCsv('Name,Row,Column,Label code\n'), true);
  assert.equal(isAnnotationsCsv('Short code,Name\n'), false);
});

test('label codes match case-insensitively; merging keeps the first spelling', () => {
  const set = [{ code: 'CCA', name: 'CCA', group: '', color: '#000000' }];
  assert.equal(findLabel(set, ' cca ').code, 'CCA');
  assert.equal(findLabel(set, 'Sand'), null);
  const m = mergeLabels(set, [{ code: 'cca' }, { code: 'Sand', group: '' }]);
  assert.equal(m.added, 1);
  assert.deepEqual(m.labelset.map((l) => l.code), ['CCA', 'Sand']);
});

test('annotation area: percent to inclusive pixels, floor, clamped to the last pixel', () => {
  // 4000 x 3000: 10% of 3000 = 300, 90% = 2700; 100% clamps to 3999 / 2999.
  assert.deepEqual(areaPixels({ top: 10, bottom: 90, left: 0, right: 100 }, 4000, 3000), { minRow: 300, maxRow: 2700, minCol: 0, maxCol: 3999 });
  assert.deepEqual(areaPixels({ top: 0, bottom: 100, left: 12.5, right: 50 }, 57, 41), { minRow: 0, maxRow: 40, minCol: 7, maxCol: 28 });
  assert.throws(() => areaPixels({ top: 60, bottom: 40, left: 0, right: 100 }, 100, 100), /empty/);
});

test('key names: Mod for Ctrl/Cmd, letters lowercase, Shift dropped for symbols', () => {
  assert.equal(keyName({ key: 'Z', ctrlKey: true, shiftKey: true }), 'Mod+Shift+z');
  assert.equal(keyName({ key: 'z', metaKey: true }), 'Mod+z');
  assert.equal(keyName({ key: '?', shiftKey: true }), '?');
  assert.equal(keyName({ key: 'ArrowUp', shiftKey: true }), 'Shift+ArrowUp');
  assert.equal(keyName({ key: 'Tab', shiftKey: true }), 'Shift+Tab');
});

test('photo status from points, as CoralNet derives it', () => {
  const p = (state, label = null) => ({ ...newPoint(1, 1), state, label });
  assert.equal(photoStatus([]), 'Unclassified');
  assert.equal(photoStatus([p('unannotated'), p('confirmed', 'A')]), 'Unclassified');
  assert.equal(photoStatus([p('unconfirmed', 'A'), p('confirmed', 'A')]), 'Unconfirmed');
  assert.equal(photoStatus([p('confirmed', 'A'), p('confirmed', 'B')]), 'Confirmed');
  const w = withLabel([p('unannotated'), p('unconfirmed', 'A')], [1], 'B');
  assert.deepEqual(w.map((x) => [x.label, x.state, x.changed]), [[null, 'unannotated', false], ['B', 'confirmed', true]]);
});
