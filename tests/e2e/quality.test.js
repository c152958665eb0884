// tests/e2e/quality.test.js: an EQA visit through the pages in headless Chromium (issue 18):
// the admin ends the demo's visit and sets up one for two learners; the EQA sees exactly
// those two (and a third learner's page answers "not found"), downloads one portfolio and
// writes a finding; the admin answers it and the EQA reads the answer. Every page passes axe.
'use strict';
const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const {startServer, launch, signIn, screenshot, axeCheck, formatViolations} = require('./lib.js');

let srv, b;
const ids = {};
const today = (days = 0) => new Date(Date.now() + days * 86400e3).toLocaleDateString('en-CA', {timeZone: 'Europe/London'});

before(async () => {
  srv = await startServer({demo: true});
  b = await launch();
  for (const e of ['learner@demo.test', 'learner2@demo.test', 'learner3@demo.test', 'eqa@demo.test']) {
    ids[e] = Number(srv.sql(`SELECT id FROM users WHERE email = '${e}'`));
  }
  ids.q = srv.sql(`SELECT DISTINCT qualification_id FROM enrolments WHERE learner_id IN
    (${ids['learner2@demo.test']}, ${ids['learner3@demo.test']}) ORDER BY 1`).split('\n').map(Number);
});
after(async () => {
  if (b) await b.close();
  if (srv) srv.stop();
});

async function noAxe(page) {
  const v = await axeCheck(page);
  assert.deepEqual(v.map((x) => x.id), [], formatViolations(v));
}

async function submit(page, formSelector) {
  await Promise.all([page.waitForNavigation({waitUntil: 'load'}),
    page.locator(`${formSelector} button[type="submit"]`).first().click()]);
}

test('an admin sets up a visit for two learners; the EQA sees those two only, downloads a portfolio, writes a finding; the admin answers', async () => {
  const page = b.page;
  // the admin ends the demo's visit from its page
  await signIn(page, srv.url, 'admin@demo.test');
  await page.goto(srv.url + '/eqa');
  await noAxe(page);
  await page.locator('table a[href^="/eqa/visits/"]').first().click();
  await page.waitForLoadState('load');
  await submit(page, 'form[action$="/end"]');
  assert.match(await page.locator('main').innerText(), /The visit has ended/);

  // a new visit: learner2 and learner3, from today for three days
  await page.goto(srv.url + '/eqa/visits/new');
  await noAxe(page);
  await page.selectOption('#eqa_id', String(ids['eqa@demo.test']));
  for (const q of ids.q) await page.check(`#qualification-${q}`);
  await page.fill('#starts_at', today());
  await page.fill('#ends_at', today(2));
  await page.check('#rule-chosen');
  await page.check(`#learner-${ids['learner2@demo.test']}`);
  await page.check(`#learner-${ids['learner3@demo.test']}`);
  await screenshot(page, 'eqa-visit-new');
  await submit(page, 'form[action="/eqa/visits"]');
  assert.match(new URL(page.url()).pathname, /^\/eqa\/visits\/\d+$/);
  const visitPath = new URL(page.url()).pathname;
  let main = await page.locator('main').innerText();
  assert.match(main, /The visit has been set up/);
  assert.match(main, /Ben Wright/);
  assert.match(main, /Chloe Evans/);
  await noAxe(page);

  // the EQA: lands on the visits, sees exactly the two learners
  await signIn(page, srv.url, 'eqa@demo.test');
  assert.equal(new URL(page.url()).pathname, '/eqa');
  await noAxe(page);
  await page.goto(srv.url + visitPath);
  main = await page.locator('main').innerText();
  assert.match(main, /Ben Wright/);
  assert.match(main, /Chloe Evans/);
  assert.doesNotMatch(main, /Amy Clarke/);
  await screenshot(page, 'eqa-visit-eqa');
  await noAxe(page);
  await page.goto(srv.url + '/learners');
  const names = await page.locator('main table tbody tr, main .learner-list li').allInnerTexts();
  const listed = (await page.locator('main').innerText());
  assert.match(listed, /Ben Wright/);
  assert.match(listed, /Chloe Evans/);
  assert.doesNotMatch(listed, /Amy Clarke/, 'only the visit\'s learners');
  assert.ok(names.length >= 0);
  const other = await page.goto(`${srv.url}/learners/${ids['learner@demo.test']}`);
  assert.equal(other.status(), 404, 'a learner outside the visit is not found');
  const inside = await page.goto(`${srv.url}/learners/${ids['learner2@demo.test']}/decisions`);
  assert.equal(inside.status(), 200);
  await noAxe(page);

  // downloads Ben's portfolio from the visit page
  await page.goto(srv.url + visitPath);
  const downloads0 = Number(srv.sql("SELECT count(*) FROM audit_events WHERE action = 'eqa.download'"));
  const [dl] = await Promise.all([page.waitForEvent('download'),
    page.locator(`a[href="/learners/${ids['learner2@demo.test']}/export"]`).click()]);
  const file = await dl.path();
  const head = fs.readFileSync(file).subarray(0, 2).toString('latin1');
  assert.equal(head, 'PK', 'a zip');
  assert.equal(Number(srv.sql("SELECT count(*) FROM audit_events WHERE action = 'eqa.download'")), downloads0 + 1);

  // writes a finding about Ben
  await page.goto(srv.url + visitPath);
  await page.check('#kind-action');
  await page.selectOption('#learner_id', String(ids['learner2@demo.test']));
  await page.fill('#body', 'Witness testimonies need the witness\'s role and contact details.');
  await page.fill('#due_on', today(30));
  await submit(page, 'form[action$="/findings"]');
  main = await page.locator('main').innerText();
  assert.match(main, /Your finding has been added/);
  assert.match(main, /Waiting for the centre's response/);
  await noAxe(page);

  // the admin answers it
  await signIn(page, srv.url, 'admin@demo.test');
  await page.goto(srv.url + visitPath);
  await page.locator('textarea[name="response"]').first().fill('Witness template updated and assessors briefed.');
  await submit(page, 'form[action$="/response"]');
  main = await page.locator('main').innerText();
  assert.match(main, /The centre's response has been saved/);
  assert.match(main, /Witness template updated/);
  await screenshot(page, 'eqa-visit-answered');
  await noAxe(page);

  // and the EQA reads the answer
  await signIn(page, srv.url, 'eqa@demo.test');
  await page.goto(srv.url + visitPath);
  assert.match(await page.locator('main').innerText(), /Witness template updated/);
});

test('the IQA\'s sampling plan page passes axe and records a unit sample through its form', async () => {
  const page = b.page;
  await signIn(page, srv.url, 'iqa@demo.test');
  await page.goto(srv.url + '/iqa/plan');
  await noAxe(page);
  await screenshot(page, 'iqa-plan');
  const L2 = ids['learner2@demo.test'];
  const unit = Number(srv.sql(`SELECT c.unit_id FROM decisions d JOIN criteria c ON c.id = d.criterion_id
    WHERE d.learner_id = ${L2} ORDER BY d.id LIMIT 1`));
  await page.selectOption('#learner_id', String(L2));
  await page.selectOption('#unit_id', String(unit));
  await page.check('#outcome-agree');
  await page.fill('#feedback', 'Sound judgements across the unit.');
  const before = Number(srv.sql('SELECT count(*) FROM iqa_sample_groups'));
  await submit(page, 'form[action="/iqa/sample-groups"]');
  assert.match(await page.locator('main').innerText(), /The sample has been recorded/);
  assert.equal(Number(srv.sql('SELECT count(*) FROM iqa_sample_groups')), before + 1);
  await noAxe(page);
  // on a phone the plan fits 375 px
  await page.setViewportSize({width: 375, height: 800});
  await page.goto(srv.url + '/iqa/plan');
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(wide <= 375, `the plan is ${wide}px wide on a phone`);
  await page.setViewportSize({width: 1280, height: 900});
});
