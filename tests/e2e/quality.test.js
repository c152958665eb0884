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

/* The page at 1280 and 375 px: a screenshot of each (NAME-1280, NAME-375), axe clean at
 * both, and no sideways scroll on the phone. */
async function bothWidths(page, name) {
  for (const width of [1280, 375]) {
    await page.setViewportSize({width, height: width === 375 ? 800 : 900});
    await screenshot(page, `${name}-${width}`);
    await noAxe(page);
    const wide = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(wide <= width, `${name} is ${wide}px wide at ${width}px`);
  }
  await page.setViewportSize({width: 1280, height: 900});
}

/* The texts of every entry of a zip file (unzip -p). */
function unzipText(file) {
  const r = require('node:child_process').spawnSync('unzip', ['-p', file], {encoding: 'latin1', maxBuffer: 1 << 28});
  assert.equal(r.status, 0, 'a whole zip');
  return r.stdout;
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

  // a new visit: learner2 and learner3, on the first of the two qualifications both are
  // enrolled on, from today for three days. First with the last day before the first:
  // refused, and every choice is still there beside the error summary.
  await page.goto(srv.url + '/eqa/visits/new');
  await noAxe(page);
  await page.selectOption('#eqa_id', String(ids['eqa@demo.test']));
  await page.check(`#qualification-${ids.q[0]}`);
  await page.fill('#starts_at', today(2));
  await page.fill('#ends_at', today());
  await page.check('#rule-chosen');
  await page.check(`#learner-${ids['learner2@demo.test']}`);
  await page.check(`#learner-${ids['learner3@demo.test']}`);
  await screenshot(page, 'eqa-visit-new');
  await submit(page, 'form[action="/eqa/visits"]');
  assert.match(await page.locator('.error-summary').innerText(), /The last day must be the same as or after the first day/);
  assert.equal(await page.inputValue('#eqa_id'), String(ids['eqa@demo.test']));
  assert.ok(await page.isChecked(`#qualification-${ids.q[0]}`));
  assert.ok(!(await page.isChecked(`#qualification-${ids.q[1]}`)));
  assert.ok(await page.isChecked(`#learner-${ids['learner2@demo.test']}`));
  assert.ok(await page.isChecked(`#learner-${ids['learner3@demo.test']}`));
  assert.ok(await page.isChecked('#rule-chosen'));
  assert.equal(await page.inputValue('#starts_at'), today(2));
  await bothWidths(page, 'eqa-visit-new-refused');
  await page.fill('#starts_at', today());
  await page.fill('#ends_at', today(2));
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
  // Ben is enrolled on both qualifications; the visit names one: the other is nowhere
  const otherTitle = srv.sql(`SELECT title FROM qualifications WHERE id = ${ids.q[1]}`);
  const visitTitle = srv.sql(`SELECT title FROM qualifications WHERE id = ${ids.q[0]}`);
  for (const p of ['', '/progress', '/matrix', '/decisions', '/evidence', '/signoffs', '/reviews']) {
    const res = await page.goto(`${srv.url}/learners/${ids['learner2@demo.test']}${p}`);
    assert.equal(res.status(), 200, p);
    const text = await page.locator('main').innerText();
    assert.ok(!text.includes(otherTitle), `${p || 'the summary'} shows the other qualification`);
  }
  await page.goto(`${srv.url}/learners/${ids['learner2@demo.test']}/progress`);
  assert.ok((await page.locator('main').innerText()).includes(visitTitle), 'the visit\'s qualification is shown');
  const otherMatrix = await page.goto(`${srv.url}/learners/${ids['learner2@demo.test']}/matrix?qualification_id=${ids.q[1]}`);
  assert.equal(otherMatrix.status(), 404, 'the other qualification\'s matrix is not found');

  // downloads Ben's portfolio from the visit page
  await page.goto(srv.url + visitPath);
  const downloads0 = Number(srv.sql("SELECT count(*) FROM audit_events WHERE action = 'eqa.download'"));
  const [dl] = await Promise.all([page.waitForEvent('download'),
    page.locator(`a[href="/learners/${ids['learner2@demo.test']}/export"]`).click()]);
  const file = await dl.path();
  const head = fs.readFileSync(file).subarray(0, 2).toString('latin1');
  assert.equal(head, 'PK', 'a zip');
  const zipped = unzipText(file);
  assert.ok(zipped.includes(visitTitle), 'the download holds the visit\'s qualification');
  assert.ok(!zipped.includes(otherTitle), 'and nothing of the other');
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
  // refused first (action required with no feedback): every choice stays
  await page.selectOption('#learner_id', String(L2));
  await page.selectOption('#unit_id', String(unit));
  await page.check('#stage-interim');
  await page.check('#outcome-action');
  await submit(page, 'form[action="/iqa/sample-groups"]');
  assert.match(await page.locator('.error-summary').innerText(), /Say what the assessor needs to do/);
  assert.equal(await page.inputValue('#learner_id'), String(L2));
  assert.equal(await page.inputValue('#unit_id'), String(unit));
  assert.ok(await page.isChecked('#stage-interim'));
  assert.ok(await page.isChecked('#outcome-action'));
  await bothWidths(page, 'iqa-plan-refused');
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

test('an IQA sample\'s record shows its stage, method, reach and the SHA-256 of each file, to the IQA and the EQA', async () => {
  const page = b.page;
  // the newest sample of a decision of a learner in the EQA's open visit, with its files
  const row = srv.sqlRows(`SELECT s.decision_id AS decision, s.stage FROM iqa_samples s JOIN decisions d ON d.id = s.decision_id
    WHERE d.learner_id = ${ids['learner2@demo.test']} AND EXISTS (SELECT 1 FROM iqa_sample_files f WHERE f.sample_id = s.id)
    ORDER BY s.id DESC LIMIT 1`)[0];
  assert.ok(row, 'a sample with files (the unit sample above)');
  const sha = srv.sql(`SELECT f.sha256 FROM iqa_sample_files f JOIN iqa_samples s ON s.id = f.sample_id
    WHERE s.decision_id = ${row.decision} ORDER BY f.id DESC LIMIT 1`);
  for (const who of ['iqa@demo.test', 'eqa@demo.test']) {
    await signIn(page, srv.url, who);
    const res = await page.goto(`${srv.url}/decisions/${row.decision}`);
    assert.equal(res.status(), 200, who);
    const samples = page.locator('#samples');
    const text = await samples.innerText();
    assert.match(text, /Stage\s+Interim|Stage\s+Summative/, `${who}: the stage`);
    assert.match(text, /Method\s+\S/, `${who}: the method`);
    assert.match(text, /The whole unit/, `${who}: the reach`);
    assert.ok(text.includes(sha.slice(0, 12) + '…'), `${who}: the abbreviated hash`);
    assert.equal(await samples.locator(`code[title="${sha}"]`).count() > 0, true, `${who}: the full hash in the title`);
    await samples.locator('details summary').first().click();
    assert.ok((await samples.innerText()).includes(sha), `${who}: the full hash on request`);
    await bothWidths(page, `decision-samples-${who.split('@')[0]}`);
  }
});
