// tests/e2e/progress.test.js: in Chromium: the centre dashboard and its drill-down to a
// learner, the learner's progress and evidence matrix, the assessor's caseload, an export
// download, the learner's own progress page on a phone; axe and the HTML checker on each;
// screenshots into tests/e2e/screenshots/.
'use strict';
const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const {startServer, launch, signIn, screenshot, axeCheck, formatViolations, htmlValidate,
  formatHtmlErrors} = require('./lib.js');

let srv, b;
const pages = {};
const problems = [];

before(async () => {
  srv = await startServer({demo: true});
  b = await launch();
  b.page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  b.page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
});
after(async () => {
  if (b) await b.close();
  if (srv) await srv.stop();
});

async function check(page, name) {
  await screenshot(page, name);
  const v = await axeCheck(page);
  assert.deepEqual(v.map((x) => x.id), [], formatViolations(v));
  pages[name] = await page.content();
  assert.deepEqual(problems, [], problems.join('\n'));
}

test('admin: centre dashboard, drill-down to a learner, their progress, matrix and export', async () => {
  const page = b.page;
  await signIn(page, srv.url, 'admin@demo.test');
  await page.goto(srv.url + '/centre');
  assert.equal(await page.locator('h1').innerText(), 'Centre progress');
  assert.ok(await page.locator('table.ct-table').count() >= 3, 'qualification, assessor and learner tables');
  assert.ok(await page.locator('svg.pg-bar').count() >= 1, 'server-drawn SVG bars');
  await check(page, 'centre-dashboard');
  // the cohort export of the first qualification
  const [cohort] = await Promise.all([
    page.waitForEvent('download'),
    page.locator('a', {hasText: 'Export (zip)'}).first().click(),
  ]);
  assert.match(cohort.suggestedFilename(), /^cohort-.+\.zip$/);
  assert.equal(fs.readFileSync(await cohort.path()).subarray(0, 2).toString('latin1'), 'PK');

  // drill down: the learners behind or at risk, then the first of them
  await page.locator('a.card__value').first().click();
  await page.waitForLoadState('load');
  assert.match(page.url(), /\/centre\/learners\?state=behind_or_at_risk/);
  const tags = await page.locator('tbody .tag').allInnerTexts();
  assert.ok(tags.length >= 1 && tags.every((t) => /Behind|At risk/.test(t)), tags.join(','));
  await check(page, 'centre-learners');
  // the filter form works without JavaScript: choose an assessor
  await page.selectOption('#assessor_id', {label: 'Hannah Price'});
  await page.selectOption('#state', '');
  await Promise.all([page.waitForNavigation(), page.locator('form.filter-bar button').click()]);
  const assessors = await page.locator('tbody tr td:nth-child(3)').allInnerTexts();
  assert.ok(assessors.length >= 1 && assessors.every((a) => a === 'Hannah Price'), assessors.join(','));

  await page.goto(srv.url + '/centre');
  await page.locator('tbody th a[href*="/progress"]').first().click();
  await page.waitForLoadState('load');
  assert.match(page.url(), /\/learners\/\d+\/progress$/);
  assert.ok(await page.locator('svg.pg-donut').count() >= 1);
  assert.match(await page.locator('main').innerText(), /How expected progress is judged/);
  await check(page, 'learner-progress');

  // the evidence matrix of Ben (learner2), who has decisions both ways
  const ben = Number(srv.sql("SELECT id FROM users WHERE email = 'learner2@demo.test'"));
  await page.goto(`${srv.url}/learners/${ben}/progress`);
  await page.locator('a', {hasText: 'Evidence matrix'}).first().click();
  await page.waitForLoadState('load');
  assert.match(page.url(), new RegExp(`/learners/${ben}/matrix`));
  assert.ok(await page.locator('table.mx td.mx-met').count() >= 1, 'met cells');
  assert.ok(await page.locator('table.mx td.mx-not-met').count() >= 1, 'not yet met cells');
  assert.ok(await page.locator('table.mx tr.mx-unit').count() >= 1, 'rows grouped by unit');
  assert.ok(await page.locator('table.mx tr.mx-outcome').count() >= 1, 'and by outcome');
  await check(page, 'learner-matrix');

  // download the portfolio from the progress page
  await page.goto(`${srv.url}/learners/${ben}/progress`);
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.locator('a', {hasText: 'Download the portfolio'}).click(),
  ]);
  assert.match(download.suggestedFilename(), /^portfolio-\d+\.zip$/);
  const file = await download.path();
  const head = fs.readFileSync(file).subarray(0, 4);
  assert.equal(head.toString('latin1'), 'PK\u0003\u0004', 'a zip file');
  assert.ok(fs.statSync(file).size > 1000);
});

test('assessor: the caseload, and a learner\'s matrix from it', async () => {
  const page = b.page;
  await signIn(page, srv.url, 'assessor@demo.test');
  const resp = await page.goto(srv.url + '/caseload');
  assert.equal(resp.status(), 200);
  const text = await page.locator('main').innerText();
  assert.match(text, /Ben Wright/);
  await check(page, 'caseload');
  const ben = Number(srv.sql("SELECT id FROM users WHERE email = 'learner2@demo.test'"));
  await page.goto(`${srv.url}/learners/${ben}/matrix`);
  assert.ok(await page.locator('table.mx').count() === 1);
  // another assessor's learner answers like one that does not exist
  const chloe = Number(srv.sql("SELECT id FROM users WHERE email = 'learner3@demo.test'"));
  const r = await page.goto(`${srv.url}/learners/${chloe}/matrix`);
  assert.equal(r.status(), 404);
});

test('learner: my progress on a phone, and my own data download', async () => {
  const phone = await launch({width: 375, height: 800});
  try {
    const page = phone.page;
    await signIn(page, srv.url, 'learner2@demo.test');
    await page.goto(srv.url + '/portfolio');
    assert.equal(await page.locator('h1').innerText(), 'My progress');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than a 375px screen`);
    await screenshot(page, 'learner-portfolio-phone');
    const v = await axeCheck(page);
    assert.deepEqual(v.map((x) => x.id), [], formatViolations(v));
    pages['learner-portfolio'] = await page.content();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('a', {hasText: 'Download my data'}).click(),
    ]);
    assert.equal(download.suggestedFilename(), 'my-evitrack-data.zip');
  } finally {
    await phone.close();
  }
});

test('the pages are valid HTML', async (t) => {
  const r = htmlValidate(pages);
  if (!r.available) return t.skip('java or vnu.jar is not installed');
  assert.deepEqual(r.errors, [], formatHtmlErrors(r.errors));
});
