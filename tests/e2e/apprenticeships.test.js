// tests/e2e/apprenticeships.test.js: issue 16 in Chromium: the demo apprentice logs
// off-the-job hours on their page (a mistake first: the error summary), their employer
// verifies the entry from the employer's home, and the assessor sees the learner behind on
// hours on the caseload; axe and the HTML checker on each page, the hours page at 375 px.
'use strict';
const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const {startServer, launch, signIn, screenshot, axeCheck, formatViolations, htmlValidate,
  formatHtmlErrors} = require('./lib.js');

let srv, b;
const pages = {};
const problems = [];
const today = new Date().toISOString().slice(0, 10);

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

test('the apprentice logs hours, the employer verifies them, the assessor sees the learner behind on hours', async () => {
  const page = b.page;
  const learnerId = Number(srv.sql("SELECT id FROM users WHERE email = 'apprentice@demo.test'"));
  const recorded0 = Number(srv.sql(`SELECT recorded_minutes FROM apprenticeships WHERE learner_id = ${learnerId}`));

  // the apprentice: from their progress page to their hours
  await signIn(page, srv.url, 'apprentice@demo.test');
  await page.goto(`${srv.url}/learners/${learnerId}/progress`);
  assert.match(await page.locator('main').innerText(), /Off-the-job training/);
  await page.locator('a', {hasText: 'Off-the-job hours'}).first().click();
  await page.waitForLoadState('load');
  assert.equal(new URL(page.url()).pathname, `/learners/${learnerId}/otj`);
  assert.equal(await page.locator('h1').innerText(), 'My off-the-job training');
  await check(page, 'otj-apprentice');

  // a mistake: nothing chosen or described
  await page.fill('#occurred_on', today);
  await page.fill('#hours', '30');
  await Promise.all([page.waitForNavigation({waitUntil: 'load'}), page.click('button:has-text("Record the training")')]);
  problems.splice(0, problems.length, ...problems.filter((m) => !/status of 400/.test(m))); // the refused form's 400
  assert.match(await page.locator('.error-summary').innerText(), /There is a problem/);
  assert.ok(await page.locator('.error-summary a[href="#activity"]').count() === 1);
  await check(page, 'otj-apprentice-error');
  assert.equal(Number(srv.sql(`SELECT recorded_minutes FROM apprenticeships WHERE learner_id = ${learnerId}`)), recorded0);

  // then right
  await page.fill('#occurred_on', today);
  await page.fill('#hours', '2');
  await page.fill('#minutes', '30');
  await page.selectOption('#activity', 'practical');
  await page.fill('#description', 'Practised the returns process on the new till system');
  await Promise.all([page.waitForNavigation({waitUntil: 'load'}), page.click('button:has-text("Record the training")')]);
  assert.match(page.url(), /done=otj_recorded/);
  assert.match(await page.locator('main').innerText(), /has been recorded/);
  const row = page.locator('#otj-entries tbody tr', {hasText: 'Practised the returns process'});
  assert.equal(await row.count(), 1);
  assert.match(await row.innerText(), /2h 30m/);
  assert.match(await row.innerText(), /Waiting to be verified/);
  assert.equal(Number(srv.sql(`SELECT recorded_minutes FROM apprenticeships WHERE learner_id = ${learnerId}`)),
    recorded0 + 150);

  // the hours page fits a phone
  const phone = await launch({width: 375});
  try {
    await signIn(phone.page, srv.url, 'apprentice@demo.test');
    await phone.page.goto(`${srv.url}/learners/${learnerId}/otj`);
    const overflow = await phone.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `sideways scroll of ${overflow}px at 375px`);
    await screenshot(phone.page, 'otj-apprentice-phone');
  } finally {
    await phone.close();
  }

  // the employer: their apprentices, then the hours, then verify
  await signIn(page, srv.url, 'employer@demo.test');
  assert.equal(new URL(page.url()).pathname, '/employer');
  assert.equal(await page.locator('h1').innerText(), 'My apprentices');
  const appRow = page.locator('#apprentices tbody tr', {hasText: 'Jess Morgan'});
  assert.match(await appRow.innerText(), /Behind|At risk/);
  await check(page, 'employer-home');
  await appRow.locator('a', {hasText: 'Hours'}).click();
  await page.waitForLoadState('load');
  const entry = page.locator('#otj-entries tbody tr', {hasText: 'Practised the returns process'});
  await Promise.all([page.waitForNavigation({waitUntil: 'load'}), entry.locator('button', {hasText: 'Verify'}).click()]);
  assert.match(page.url(), /done=otj_verified/);
  assert.match(await page.locator('#otj-entries tbody tr', {hasText: 'Practised the returns process'}).innerText(),
    /Verified[\s\S]*Dev Patel/);
  await check(page, 'otj-employer');
  assert.equal(srv.sql(`SELECT status FROM otj_entries WHERE description = 'Practised the returns process on the new till system'`),
    'verified');
  // and they cannot open another learner's hours
  const other = Number(srv.sql("SELECT id FROM users WHERE email = 'learner@demo.test'"));
  const resp = await page.goto(`${srv.url}/learners/${other}/otj`);
  assert.equal(resp.status(), 404);
  problems.splice(0, problems.length, ...problems.filter((m) => !/status of 404/.test(m)));

  // the assessor: the caseload shows the apprentice behind on hours
  await signIn(page, srv.url, 'assessor@demo.test');
  await page.goto(srv.url + '/caseload');
  const cl = page.locator('#caseload tbody tr', {hasText: 'Jess Morgan'});
  assert.equal(await cl.count(), 1);
  assert.match(await cl.locator('.otj-hours').innerText(), /Hours: (Behind|At risk)/);
  await check(page, 'caseload-hours');
});

test('the pages are valid HTML', () => {
  const r = htmlValidate(pages);
  if (!r.available) return;
  assert.deepEqual(r.errors, [], formatHtmlErrors(r.errors));
});
