// tests/e2e/qualifications.test.js: the qualification pages in headless Chromium: the list,
// the tree, the unit page a learner reads (desktop and 375px), and the admin import page
// with its summary; each passes axe (WCAG 2.2 AA) and the HTML checker, and is saved as a
// screenshot.
'use strict';
const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const {startServer, launch, signIn, screenshot, axeCheck, formatViolations, htmlValidate,
  formatHtmlErrors} = require('./lib.js');

const SEEDS = path.join(process.env.SHARED_DIR || path.resolve(__dirname, '..', '..', '..', 'shared'), 'seeds');
const EXAMPLES = path.join(process.env.SHARED_DIR || path.resolve(__dirname, '..', '..', '..', 'shared'), 'spec-examples');
const seed = (prefix) => path.join(SEEDS, fs.readdirSync(SEEDS).find((f) => f.startsWith(prefix)));

let srv;
let b;
const pages = {};
before(async () => {
  srv = await startServer({demo: true});
  b = await launch();
});
after(async () => {
  if (b) await b.close();
  if (srv) await srv.stop();
});

async function visit(page, url, name) {
  const resp = await page.goto(srv.url + url);
  assert.equal(resp.status(), 200, `GET ${url} answered ${resp.status()}`);
  await screenshot(page, name);
  const violations = await axeCheck(page);
  assert.deepEqual(violations.map((v) => v.id), [], formatViolations(violations));
  pages[name] = await page.content();
  return resp;
}

test('a learner reads the qualification and a unit', async () => {
  const page = b.page;
  await signIn(page, srv.url, 'learner@demo.test');
  await visit(page, '/qualifications', 'qualifications-list');
  await page.getByRole('link', {name: 'iCQ Level 3 Diploma in Customer Service (RQF)'}).click();
  assert.match(page.url(), /\/qualifications\/\d+$/);
  await visit(page, new URL(page.url()).pathname, 'qualification-tree');
  await page.getByRole('link', {name: /Resolve customers/}).first().click();
  assert.match(page.url(), /\/units\/\d+$/);
  const unitPath = new URL(page.url()).pathname;
  await visit(page, unitPath, 'unit-page');
  assert.equal(await page.locator('h1').innerText(), 'Resolve customers\u2019 problems');
  assert.equal(await page.locator('.spec-outcome-block').count(), 2);
  assert.equal(await page.locator('.spec-criteria-table tbody tr').count(), 4);
  for (const h of ['Key concepts', 'Assessment guidance', 'Common mistakes', 'Key terms', 'Before you start']) {
    assert.equal(await page.getByRole('heading', {name: h, level: 2}).count(), 1, h);
  }

  const phone = await launch({width: 375, height: 800});
  try {
    await signIn(phone.page, srv.url, 'learner@demo.test');
    const resp = await phone.page.goto(srv.url + unitPath);
    assert.equal(resp.status(), 200);
    const width = await phone.page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 375, `the unit page is ${width}px wide at 375px`);
    await screenshot(phone.page, 'unit-page-375');
  } finally {
    await phone.close();
  }
});

test('an admin previews a spec file, then imports it, and reads the summary', async () => {
  const admin = await launch();
  try {
    const page = admin.page;
    await signIn(page, srv.url, 'admin@demo.test');
    await visit(page, '/admin/specs', 'spec-upload');
    assert.ok(await page.isChecked('#dry_run'), 'the form previews first');
    await page.setInputFiles('#file', seed('001'));
    await page.getByRole('button', {name: 'Import', exact: true}).click();
    await page.waitForLoadState();
    assert.match(await page.content(), /How each criterion was placed/);
    assert.match(await page.content(), /preview: nothing was saved/);
    assert.equal(await page.locator('.spec-assignment tbody tr').count(), 4);
    await screenshot(page, 'spec-upload-summary');
    let violations = await axeCheck(page);
    assert.deepEqual(violations.map((v) => v.id), [], formatViolations(violations));
    pages['spec-upload-summary'] = await page.content();

    // the preview of a unit page pasted from an awarding body's site, then the import itself
    await page.setInputFiles('#file', path.join(EXAMPLES, 'unit_page_per_outcome.txt'));
    const qv = await page.locator('#qualification option', {hasText: 'iCQ Level 3 Diploma'}).getAttribute('value');
    await page.selectOption('#qualification', qv);
    await page.getByRole('button', {name: 'Import', exact: true}).click();
    await page.waitForLoadState();
    assert.match(await page.content(), /unit page/);
    await page.getByRole('button', {name: 'Import this file'}).click();
    await page.waitForLoadState();
    assert.doesNotMatch(await page.content(), /preview: nothing was saved/);
    assert.match(await page.content(), /changes saved/);
    violations = await axeCheck(page);
    assert.deepEqual(violations.map((v) => v.id), [], formatViolations(violations));
    pages['spec-upload-imported'] = await page.content();
    await page.getByRole('link', {name: 'Handling customer complaints in a retail setting'}).click();
    await page.waitForLoadState();
    assert.equal(await page.locator('.spec-subitems li').count(), 3);
    await visit(page, new URL(page.url()).pathname, 'unit-page-subitems');

    await page.goto(srv.url + '/admin/specs');
    await page.setInputFiles('#file', {name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('Dear centre\n')});
    await page.getByRole('button', {name: 'Import', exact: true}).click();
    await page.waitForLoadState();
    assert.equal(await page.locator('.error-summary').count(), 1);
    assert.match(await page.locator('.error-summary').innerText(), /notes\.txt, line 1: this file fits none of the layouts/);
    await screenshot(page, 'spec-upload-error');
    pages['spec-upload-error'] = await page.content();
  } finally {
    await admin.close();
  }
});

test('an assessor chooses a learner\'s optional units; progress shows the rules of combination', async () => {
  const SPECS = path.resolve(__dirname, '..', 'specs');
  let r = await srv.run(['import', path.join(SPECS, 'unit_handbook.txt'), path.join(SPECS, 'structure.json')]);
  assert.equal(r.code, 0, r.stderr);
  r = await srv.run(['user', 'add', '--email', 'opt@demo.test', '--name', 'Olive Options', '--role', 'learner'],
    {input: 'a long password 123\n'});
  assert.equal(r.code, 0, r.stderr);
  r = await srv.run(['enrol', '--learner', 'opt@demo.test', '--qualification', 'L2-CERTIFICATE-RETAIL-CUSTOMER-SERVICE-RQF',
    '--assessor', 'assessor@demo.test']);
  assert.equal(r.code, 0, r.stderr);
  const learner = Number(srv.sql("SELECT id FROM users WHERE email = 'opt@demo.test'"));
  const enrolment = Number(srv.sql(`SELECT id FROM enrolments WHERE learner_id = ${learner}`));
  const a = await launch();
  try {
    const page = a.page;
    await signIn(page, srv.url, 'assessor@demo.test');
    await visit(page, `/enrolments/${enrolment}/units`, 'enrolment-units');
    await page.getByLabel(/Unit 204: Handle cash and card payments/).check();
    await page.getByRole('button', {name: 'Save the chosen units'}).click();
    await page.waitForLoadState();
    assert.ok(await page.getByLabel(/Unit 204/).isChecked());
    await visit(page, `/learners/${learner}/progress`, 'progress-rules');
    assert.match(await page.locator('.pg-rules').innerText(), /Choose more optional units/);
  } finally {
    await a.close();
  }
  const phone = await launch({width: 375, height: 800});
  try {
    await signIn(phone.page, srv.url, 'assessor@demo.test');
    await phone.page.goto(`${srv.url}/enrolments/${enrolment}/units`);
    const width = await phone.page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 375, `the optional units page is ${width}px wide at 375px`);
  } finally {
    await phone.close();
  }
});

test('the pages are valid HTML', () => {
  const v = htmlValidate(pages);
  if (v.available) assert.deepEqual(v.errors, [], formatHtmlErrors(v.errors));
});
