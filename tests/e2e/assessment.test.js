// tests/e2e/assessment.test.js: a portfolio from first upload to a fully signed-off unit
// with IQA sampling, entirely through the pages in headless Chromium (the assessment pages
// carry no script: plain forms; tests/http/assessment.test.js posts them as a browser
// without JavaScript would). Screenshots of every page
// of the assessment module go to tests/e2e/screenshots/assessment-*.png; each is checked
// with axe (WCAG 2.2 AA).
'use strict';
const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const {startServer, launch, signIn, screenshot, axeCheck, formatViolations} = require('./lib.js');

let srv, b;
let L, unit, crits;
/* Why the workflow cannot run yet (other modules' pages or demo data missing), or null. */
let notReady = null;

before(async () => {
  srv = await startServer({demo: true});
  b = await launch();
  L = Number(srv.sql("SELECT id FROM users WHERE email = 'learner2@demo.test'"));
  const A = Number(srv.sql("SELECT id FROM users WHERE email = 'assessor@demo.test'"));
  const q = Number(srv.sql(`SELECT count(*) FROM enrolments WHERE learner_id = ${L} AND assessor_id = ${A}`));
  if (!q) { notReady = 'the demo has no enrolment of learner2 with assessor yet'; return; }
  const probe = await srv.client().get('/evidence/new');
  if (probe.status === 404) { notReady = 'no evidence pages yet'; return; }
  const units = srv.sqlRows(`SELECT u.id, u.ref, (SELECT count(*) FROM criteria c WHERE c.unit_id = u.id
      AND c.retired = 0) AS n FROM units u JOIN enrolments e ON e.qualification_id = u.qualification_id
      WHERE e.learner_id = ${L} AND e.assessor_id = ${A} AND u.retired = 0
      AND NOT EXISTS (SELECT 1 FROM decisions d JOIN criteria c ON c.id = d.criterion_id
        WHERE c.unit_id = u.id AND d.learner_id = ${L})
      AND NOT EXISTS (SELECT 1 FROM evidence_criteria ec JOIN criteria c ON c.id = ec.criterion_id
        WHERE c.unit_id = u.id AND ec.learner_id = ${L})
      ORDER BY n, u.position, u.id`).filter((u) => u.n >= 2);
  assert.ok(units.length, 'the demo needs an untouched unit with 2+ criteria for learner2');
  unit = units[0];
  crits = srv.sqlRows(`SELECT id, ref FROM criteria WHERE unit_id = ${unit.id} AND retired = 0 ORDER BY position, id`);
});

after(async () => {
  if (b) await b.close();
  if (srv) await srv.stop();
});

async function as(email) {
  await b.context.clearCookies();
  await signIn(b.page, srv.url, email);
}

async function go(path, name, {axe = true} = {}) {
  const resp = await b.page.goto(srv.url + path);
  assert.equal(resp.status(), 200, `${path}: HTTP ${resp.status()}`);
  if (name) await screenshot(b.page, `assessment-${name}`);
  if (axe) {
    const v = await axeCheck(b.page);
    assert.deepEqual(v.map((x) => x.id), [], `${path}\n${formatViolations(v)}`);
  }
  return resp;
}

/* Submits the form holding `button` and waits for the next page. */
async function submit(button) {
  await Promise.all([b.page.waitForNavigation({waitUntil: 'load'}), button.click()]);
}

/* The learner uploads a piece of evidence, maps it to criteria with notes and submits it. */
async function learnerSubmits(title, criteria) {
  await go('/evidence/new', null, {axe: false});
  const page = b.page;
  await page.fill('#title', title);
  await page.selectOption('#kind', 'product');
  await page.fill('#occurred_on', '2026-10-05');
  await page.fill('#description', `${title}: what I did and why it shows the criteria.`);
  await page.setInputFiles('#file', {name: 'account.txt', mimeType: 'text/plain',
    buffer: Buffer.from(`${title}\nA written account of the work.\n`.repeat(10))});
  await submit(page.locator('form.evidence-form button[type="submit"]').first());
  const m = /\/evidence\/(\d+)/.exec(page.url());
  assert.ok(m, `after upload: ${page.url()}`);
  const id = Number(m[1]);
  await go(`/evidence/${id}/criteria?unit=${unit.id}`, null, {axe: false});
  for (const c of criteria) {
    await page.check(`input[type="checkbox"][name="criterion"][value="${c.id}"]`);
    await page.fill(`#note_${c.id}`, `This shows ${c.ref}: see the second paragraph.`);
  }
  await submit(page.locator('form.criteria-form button[type="submit"]').first());
  await go(`/evidence/${id}`, null, {axe: false});
  await submit(page.locator(`form[action="/evidence/${id}/submit"] button`));
  assert.equal(srv.sql(`SELECT status FROM evidence WHERE id = ${id}`), 'submitted');
  return id;
}

let e1, e2;

test('learner uploads, maps and submits evidence', async (t) => {
  if (notReady) return t.skip(notReady);
  await as('learner2@demo.test');
  e1 = await learnerSubmits('Handling a difficult customer', crits);
});

test('assessor: caseload, queue, and a review with one criterion not yet met', async (t) => {
  if (notReady) return t.skip(notReady);
  await as('assessor@demo.test');
  await go('/caseload', 'caseload');
  assert.match(await b.page.locator('#caseload').innerText(), /Learner/);
  await go('/queue', 'queue');
  await b.page.locator(`a[href="/review/${e1}"]`).first().waitFor();
  await go(`/review/${e1}`, 'review');
  const page = b.page;
  const d0 = Number(srv.sql(`SELECT count(*) FROM decisions WHERE learner_id = ${L}`));
  // Without the declaration the form comes back with an error summary and nothing is saved.
  await page.check(`#outcome_${crits[0].id}-not-met`);
  await submit(page.locator('button', {hasText: 'Sign and record decisions'}));
  assert.match(await page.locator('.error-summary').innerText(), /declaration/i);
  await screenshot(page, 'assessment-review-errors');
  assert.equal(Number(srv.sql(`SELECT count(*) FROM decisions WHERE learner_id = ${L}`)), d0);
  assert.ok(await page.isChecked(`#outcome_${crits[0].id}-not-met`), 'the choice is kept');

  await page.fill(`#feedback_${crits[0].id}`, 'Explain how you calmed the customer down, step by step.');
  for (const c of crits.slice(1)) {
    await page.check(`#outcome_${c.id}-met`);
    await page.fill(`#feedback_${c.id}`, `Well evidenced for ${c.ref}.`);
  }
  for (const k of ['valid', 'authentic', 'current', 'sufficient', 'reliable']) await page.check(`#vacsr_${k}`);
  await page.check('#declaration');
  await submit(page.locator('button', {hasText: 'Sign and record decisions'}));
  assert.match(new URL(page.url()).pathname, /^\/queue$/);
  assert.equal(srv.sql(`SELECT status FROM evidence WHERE id = ${e1}`), 'returned');
  assert.equal(Number(srv.sql(`SELECT count(*) FROM decisions WHERE learner_id = ${L}`)), d0 + crits.length);
});

test('learner reads the feedback and countersigns', async (t) => {
  if (notReady) return t.skip(notReady);
  await as('learner2@demo.test');
  await go(`/learners/${L}/decisions`, 'learner-feedback');
  const page = b.page;
  assert.match(await page.locator('main').innerText(), /calmed the customer down/);
  const forms = page.locator('form.countersign-form');
  const n = await forms.count();
  assert.ok(n >= crits.length, `${n} countersign forms`);
  const c0 = Number(srv.sql(`SELECT count(*) FROM countersigns WHERE learner_id = ${L}`));
  await page.fill(`form.countersign-form >> nth=0 >> input[name="comment"]`, 'Understood, thank you');
  await submit(forms.first().locator('button'));
  assert.equal(await page.locator('form.countersign-form').count(), n - 1);
  assert.equal(Number(srv.sql(`SELECT count(*) FROM countersigns WHERE learner_id = ${L}`)), c0 + 1);
  // New evidence for the criterion not yet met.
  e2 = await learnerSubmits('How I calmed the customer', [crits[0]]);
});

test('assessor judges the new evidence met and signs the unit off', async (t) => {
  if (notReady) return t.skip(notReady);
  await as('assessor@demo.test');
  await go(`/review/${e2}`, null);
  const page = b.page;
  await page.check(`#outcome_${crits[0].id}-met`);
  for (const k of ['valid', 'authentic', 'current', 'sufficient', 'reliable']) await page.check(`#vacsr_${k}`);
  await page.check('#declaration');
  await submit(page.locator('button', {hasText: 'Sign and record decisions'}));
  assert.equal(srv.sql(`SELECT status FROM evidence WHERE id = ${e2}`), 'assessed');
  // The unit is now complete: the form leads straight to its sign-off.
  assert.equal(new URL(page.url()).pathname, `/learners/${L}/units/${unit.id}/signoff`);
  // History keeps both decisions on the first criterion.
  const latest = Number(srv.sql(`SELECT max(id) FROM decisions WHERE learner_id = ${L} AND criterion_id = ${crits[0].id}`));
  await go(`/decisions/${latest}`, 'decision');
  assert.equal(await page.locator('#history tbody tr').count(), 2);
  assert.match(await page.locator('#history').innerText(), /Superseded/);

  await go(`/learners/${L}/units/${unit.id}/signoff`, 'unit-signoff');
  await submit(page.locator('button', {hasText: `Sign off unit`}));
  assert.match(await page.locator('#signoff').innerText(), /Signed/);
});

test('learner countersigns the unit sign-off', async (t) => {
  if (notReady) return t.skip(notReady);
  await as('learner2@demo.test');
  await go(`/learners/${L}/units/${unit.id}/signoff`, null);
  await submit(b.page.locator('button', {hasText: 'Countersign unit'}));
  assert.match(await b.page.locator('#signoff').innerText(), /Countersigned/);
  await screenshot(b.page, 'assessment-unit-countersigned');
  await go(`/learners/${L}/signoffs`, 'signoffs');
  await go(`/learners/${L}/timeline`, 'timeline');
});

test('IQA samples a decision with an action; the assessor answers it', async (t) => {
  if (notReady) return t.skip(notReady);
  await as('iqa@demo.test');
  await go(`/iqa?learner_id=${L}`, 'iqa');
  const decision = Number(srv.sql(`SELECT max(id) FROM decisions WHERE learner_id = ${L}`));
  await go(`/decisions/${decision}`, null);
  const page = b.page;
  await page.check('#outcome-action');
  await page.fill('#feedback', 'Please note which policy the learner followed.');
  await submit(page.locator('button', {hasText: 'Record sample'}));
  assert.match(await page.locator('#samples').innerText(), /Action required/);
  await screenshot(page, 'assessment-iqa-sampled');

  await as('assessor@demo.test');
  await go('/actions', 'actions');
  await page.locator('textarea[name="response"]').first().fill('Added the policy reference to the feedback.');
  await submit(page.locator('button', {hasText: 'Send response'}).first());
  assert.match(await page.locator('main').innerText(), /Added the policy reference/);
  assert.equal(srv.sql(`SELECT outcome FROM decisions WHERE id = ${decision}`), 'met', 'the IQA changed nothing');
});

test('admin reads the audit log and verifies the chain', async (t) => {
  if (notReady) return t.skip(notReady);
  await as('admin@demo.test');
  await go(`/audit?learner_id=${L}`, 'audit');
  assert.match(await b.page.locator('#events').innerText(), /Unit signed off/);
  await go('/audit/verify', 'audit-verify');
  assert.match(await b.page.locator('#verify-result').innerText(), /intact/);
  const v = await srv.run(['audit', 'verify']);
  assert.equal(v.code, 0, v.stdout + v.stderr);
});

test('the review page fits a 375px phone screen', async (t) => {
  if (notReady) return t.skip(notReady);
  const phone = await launch({width: 375, height: 800});
  try {
    await phone.context.clearCookies();
    await signIn(phone.page, srv.url, 'assessor@demo.test');
    const resp = await phone.page.goto(`${srv.url}/review/${e2}`);
    assert.equal(resp.status(), 200);
    const width = await phone.page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 375, `page is ${width}px wide`);
    await screenshot(phone.page, 'assessment-review-phone');
  } finally {
    await phone.close();
  }
});
