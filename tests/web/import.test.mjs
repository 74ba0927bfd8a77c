// import.test.mjs - continuing work begun in CoralNet: a labelset from a real CoralNet
// annotations export (its label codes), and points with labels from a CoralNet annotations
// CSV onto a stored photo (MERMAID's 25 labelled points of its 4000 x 3000 quadrat, written
// here in CoralNet's columns). Expected values come from the CSV files, parsed here by hand.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { skip, haveTestdata, launch, openApp, profileDir, cleanup, testPhoto, readProject, screenshot } from './harness.mjs';
import { serve } from '../../web/serve.mjs';
import { parseCsv } from '../../web/src/labelset.js';

const why = skip || (!haveTestdata && 'needs ../shared/testdata');
const EXPORT = 'coralnet-export-sample-patagonia/annotations_golfonuevo_5images.csv';
const MERMAID = 'mermaid-sample/mermaid_3805.JPG';

test('labelset from a CoralNet export, points with labels from a CoralNet annotations CSV', { skip: why, timeout: 300000 }, async () => {
  const rows = parseCsv(readFileSync(testPhoto(EXPORT), 'utf8'));
  const li = rows[0].indexOf('Label');
  const codes = [...new Set(rows.slice(1).map((r) => r[li]))].sort();
  const pts = parseCsv(readFileSync(testPhoto('mermaid-sample/points.csv'), 'utf8')).slice(1)
    .map(([, row, col, label]) => ({ row: Number(row), col: Number(col), label }));
  const tmp = mkdtempSync(join(tmpdir(), 'polyp-import-'));
  const csv = join(tmp, 'annotations.csv');
  // CoralNet's columns, in another order and case, plus a row for a photo not in the project.
  writeFileSync(csv, `Row,column,NAME,Label code\n${pts.map((p) => `${p.row},${p.col},mermaid_3805.JPG,"${p.label}"`).join('\n')}\n5,5,elsewhere.jpg,Sand\n`);

  const server = await serve();
  const profile = profileDir();
  const s = await launch({ profile, server });
  const { page } = s;
  try {
    await openApp(page, server.url);
    await page.getByLabel('Project name').fill('Continued from CoralNet');
    await page.getByRole('button', { name: 'New project' }).click();
    await page.getByRole('heading', { name: 'Project settings' }).waitFor();
    const projectId = decodeURIComponent(page.url().split('#/p/')[1].split('/')[0]);
    await page.getByLabel('Import labelset CSV').setInputFiles(testPhoto(EXPORT));
    await page.getByText(new RegExp(`${codes.length} labels added`)).waitFor({ timeout: 30000 });
    let st = await readProject(page, projectId);
    assert.deepEqual(st.project.labelset.map((l) => l.code).sort(), codes);

    await page.getByRole('link', { name: 'Photos' }).click();
    await page.getByLabel('Add photos').setInputFiles([testPhoto(MERMAID)]);
    await page.getByText('1 photos added').waitFor({ timeout: 60000 });
    await page.getByLabel('Import points CSV').setInputFiles(csv);
    await page.getByText(/25 points on 1 photos imported/).waitFor({ timeout: 30000 });
    await page.getByText(/rows of 1 photos not in the project skipped \(elsewhere\.jpg\)/).waitFor();
    const newCodes = [...new Set(pts.map((p) => p.label))].filter((c) => !codes.some((k) => k.toLowerCase() === c.toLowerCase()));
    await page.getByText(`${newCodes.length} new label codes added to the labelset`).waitFor();
    await page.getByText('1 photos: 0 Unclassified, 0 Unconfirmed, 1 Confirmed').waitFor();
    await screenshot(page, '10-imported');
    st = await readProject(page, projectId);
    const got = st.photos['mermaid_3805.JPG'].points;
    assert.deepEqual(got.map((p) => [p.row, p.col, p.label, p.state]), pts.map((p) => [p.row, p.col, p.label, 'confirmed']));
    assert.equal(st.project.labelset.length, codes.length + newCodes.length);

    // A refused write (a full disk: QuotaExceededError) is said on the page, the label it
    // carried is not shown as saved, and the next write goes through.
    await page.getByRole('link', { name: 'mermaid_3805.JPG' }).click();
    await page.waitForSelector('.viewport[aria-busy="false"]', { timeout: 60000 });
    await page.evaluate(() => {
      const db = window.polypApp.store.db;
      const real = db.transaction.bind(db);
      db.transaction = (...a) => { db.transaction = real; throw new DOMException('quota', 'QuotaExceededError'); };
    });
    await page.getByRole('button', { name: 'Point 1: Bare substrate', exact: true }).click();
    await page.getByLabel('Label code', { exact: true }).fill('Rubble');
    await page.getByLabel('Label code', { exact: true }).press('Enter');
    await page.getByRole('alert').getByText('Could not save: the browser refused to store more data (disk or quota full)').waitFor();
    await page.getByText(/Not saved: the browser refused to store more data/).waitFor();
    await page.getByRole('button', { name: 'Point 1: Bare substrate', exact: true }).waitFor();
    await screenshot(page, '11-write-refused');
    st = await readProject(page, projectId);
    assert.equal(st.photos['mermaid_3805.JPG'].points[0].label, 'Bare substrate');
    await page.getByRole('button', { name: 'Point 1: Bare substrate', exact: true }).click();
    await page.getByLabel('Label code', { exact: true }).fill('Rubble');
    await page.getByLabel('Label code', { exact: true }).press('Enter');
    await page.getByText('All changes saved').waitFor();
    st = await readProject(page, projectId);
    assert.equal(st.photos['mermaid_3805.JPG'].points[0].label, 'Rubble');
  } finally {
    await s.close({ keepServer: true });
    await server.close();
    cleanup(profile);
    cleanup(tmp);
  }
});
