// tests/e2e/reviews.test.js: progress reviews in Chromium (issue 17): the assessor sees the
// overdue review, prepares it through the form (figures filled in), signs it; the learner,
// signed in in their own browser, reads and signs it, so it completes and locks; the pages
// pass axe-core, fit 375 px, print without the site's chrome; the completed review is in the
// learner's export.
'use strict';
const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {spawnSync} = require('node:child_process');
const {startServer, launch, signIn, screenshot, axeCheck, formatViolations, htmlValidate, formatHtmlErrors} = require('./lib.js');

let srv, admin, assessorB, learnerB, employerB, L, ENR;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'evitrack-reviews-e2e-'));
const PASSWORD = 'review learner password';

before(async () => {
  srv = await startServer({demo: true});
  admin = await srv.login('admin@demo.test');
  const assessor = await srv.login('assessor@demo.test');
  const u = await admin.post('/api/v1/users', {email: 'rev-e2e@demo.test', name: 'Robin Review', role: 'learner',
    password: PASSWORD});
  assert.equal(u.status, 201, u.text);
  L = Number(srv.sql("SELECT id FROM users WHERE email = 'rev-e2e@demo.test'"));
  const Q = Number(srv.sql('SELECT min(id) FROM qualifications'));
  const e = await admin.post('/api/v1/enrolments', {learner_id: L, qualification_id: Q, assessor_id: assessor.user.id,
    start_date: '2026-01-31', planned_end_date: '2027-06-30'});
  assert.equal(e.status, 201, e.text);
  ENR = Number(srv.sql(`SELECT id FROM enrolments WHERE learner_id = ${L}`));
  const C = Number(srv.sql(`SELECT min(c.id) FROM criteria c JOIN units u ON u.id = c.unit_id WHERE u.qualification_id = ${Q}`));
  srv.sql(`INSERT INTO decisions (learner_id, criterion_id, assessor_id, outcome, created_at)
      VALUES (${L}, ${C}, ${assessor.user.id}, 'met', '2026-03-01T10:00:00Z');
    UPDATE criterion_status SET status = 'met' WHERE learner_id = ${L} AND criterion_id = ${C};`);
  // an apprenticeship (issue 16): the employer's contact is the third signer
  const eu = await admin.post('/api/v1/users', {email: 'rev-employer@demo.test', name: 'Kim Employer', role: 'employer',
    password: PASSWORD});
  assert.equal(eu.status, 201, eu.text);
  const em = await admin.post('/api/v1/employers', {name: 'Review Test Employer Ltd'});
  assert.equal(em.status, 201, em.text);
  assert.equal((await admin.post(`/api/v1/employers/${em.json.employer.id}/contacts`, {user_id: eu.json.user.id})).status, 201);
  srv.sql(`INSERT INTO apprenticeships (enrolment_id, learner_id, employer_id, weekly_minutes, planned_otj_minutes, created_at)
    VALUES (${ENR}, ${L}, ${em.json.employer.id}, 1800, 18000, '2026-01-31T09:00:00Z')`);
  assessorB = await launch();
  employerB = await launch();
  await signIn(employerB.page, srv.url, 'rev-employer@demo.test', PASSWORD);
  learnerB = await launch({width: 375, height: 800});
  await signIn(assessorB.page, srv.url, 'assessor@demo.test');
  await signIn(learnerB.page, srv.url, 'rev-e2e@demo.test', PASSWORD);
}, {timeout: 90000});

after(async () => {
  if (assessorB) await assessorB.close();
  if (learnerB) await learnerB.close();
  if (employerB) await employerB.close();
  if (srv) await srv.stop();
  fs.rmSync(tmp, {recursive: true, force: true});
});

const pages = {}; // what was rendered, for the Nu HTML Checker at the end

async function noAxe(page, what) {
  pages[what] = await page.content();
  const v = await axeCheck(page);
  assert.deepEqual(v, [], `${what}: ${formatViolations(v)}`);
}

async function fits(page, what) {
  const w = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(w <= 375, `${what}: ${w}px wide at 375`);
}

test('an assessor prepares a review, both sign in their own sessions, it locks and is exported', {timeout: 180000}, async () => {
  const a = assessorB.page;
  // the caseload flags the overdue review
  await a.goto(srv.url + '/caseload?per_page=200');
  const row = a.locator('#caseload tr', {hasText: 'Robin Review'});
  await assert.doesNotReject(row.getByText('Review overdue').waitFor());
  await row.getByRole('link', {name: 'Progress reviews'}).click();
  await a.waitForLoadState('load');
  assert.match(await a.locator('main').innerText(), /Overdue/);
  await noAxe(a, 'review list');
  await a.getByRole('link', {name: 'Prepare review 1'}).click();
  await a.waitForLoadState('load');
  await noAxe(a, 'review form');
  await screenshot(a, 'reviews-form');
  // a mistake first: the form comes back with the error summary and keeps what was typed
  await a.fill('#held_on', '2025-01-01');
  await a.fill('#wellbeing', 'Settled in well');
  await a.getByRole('button', {name: 'Save the review'}).click();
  await a.waitForLoadState('load');
  assert.match(await a.locator('.error-summary').innerText(), /after the last review/);
  assert.equal(await a.inputValue('#wellbeing'), 'Settled in well');
  await noAxe(a, 'review form with errors');
  await a.fill('#held_on', '2026-05-01');
  await a.fill('#english_maths', 'Functional skills maths level 2 booked for June');
  await a.fill('#safeguarding', 'Feels safe at work');
  await a.fill('#learner_comments', 'I want more customer calls');
  await a.fill('#assessor_summary', 'Good start; one criterion met');
  await a.fill('#target_1_text', 'Write up three complaint calls');
  await a.fill('#target_1_due_on', '2026-06-30');
  await a.fill('#target_1_support', 'Team leader');
  await a.getByRole('button', {name: 'Save the review'}).click();
  await a.waitForLoadState('load');
  assert.match(new URL(a.url()).pathname, /^\/progress-reviews\/\d+$/);
  const reviewPath = new URL(a.url()).pathname;
  assert.equal(await a.locator('#criteria-met').innerText(), '1');
  assert.match(await a.locator('#targets').innerText(), /Write up three complaint calls/);
  await noAxe(a, 'review page (draft)');
  // the assessor signs
  await a.getByRole('button', {name: 'Send'}).click();
  await a.waitForLoadState('load');
  assert.match(await a.locator('#signatures').innerText(), /Assessor\s+Signed/);
  assert.equal(await a.getByRole('link', {name: 'Edit the review'}).count(), 0, 'no edits once signed');

  // the employer's contact, in their own browser, finds the apprentice's review from their page and signs
  const m = employerB.page;
  await m.goto(srv.url + '/employer');
  await m.getByRole('link', {name: 'Reviews of Robin Review'}).click();
  await m.waitForLoadState('load');
  await noAxe(m, 'review list for the employer');
  await m.getByRole('link', {name: 'Review 1'}).first().click();
  await m.waitForLoadState('load');
  assert.equal(new URL(m.url()).pathname, reviewPath);
  assert.match(await m.locator('#review-status').innerText(), /Three-way review/);
  await m.fill('#comment', 'Robin is a great help on the tills');
  await m.getByRole('button', {name: 'Send'}).click();
  await m.waitForLoadState('load');
  assert.match(await m.locator('#signatures').innerText(), /Employer\s+Signed by Kim Employer/);
  assert.match(await m.locator('#review-status').innerText(), /Awaiting signatures/);

  // the learner, in their own browser (a phone), signs with a comment
  const p = learnerB.page;
  await p.goto(srv.url + `/learners/${L}/reviews`);
  await fits(p, 'learner review list');
  await p.getByRole('link', {name: 'Review 1'}).first().click();
  await p.waitForLoadState('load');
  assert.equal(new URL(p.url()).pathname, reviewPath);
  await fits(p, 'learner review page');
  await noAxe(p, 'review page for the learner');
  await p.fill('#comment', 'A fair record');
  await p.getByRole('button', {name: 'Send'}).click();
  await p.waitForLoadState('load');
  assert.match(await p.locator('main').innerText(), /review is complete and locked/);
  assert.match(await p.locator('#review-status').innerText(), /Complete/);
  assert.match(await p.locator('#signatures').innerText(), /A fair record/);
  await screenshot(p, 'reviews-complete-phone');

  // printed: no header, forms or buttons; the record and the signatures remain
  await a.goto(srv.url + reviewPath);
  await a.emulateMedia({media: 'print'});
  assert.equal(await a.locator('.site-header').isVisible(), false);
  assert.equal(await a.locator('form').first().isVisible(), false, 'the correction form is not printed');
  assert.equal(await a.locator('#signatures').isVisible(), true);
  await a.pdf({path: path.join(tmp, 'review.pdf')}).catch(() => {}); // headless Chromium prints; the file is not checked
  await a.emulateMedia({media: 'screen'});

  // the completed review is in the learner's export
  const assessor = await srv.login('assessor@demo.test');
  const r = await assessor.get(`/api/v1/learners/${L}/export`);
  assert.equal(r.status, 200);
  fs.writeFileSync(path.join(tmp, 'x.zip'), r.body);
  const u = spawnSync('unzip', ['-q', '-o', path.join(tmp, 'x.zip'), '-d', path.join(tmp, 'x')], {encoding: 'utf8'});
  assert.equal(u.status, 0, u.stderr);
  const html = fs.readFileSync(path.join(tmp, 'x', 'index.html'), 'utf8');
  assert.match(html, /<h2 id="reviews">Progress reviews<\/h2>/);
  assert.match(html, /Review 1: /);
  assert.match(html, /Learner: Robin Review signed/);
  assert.match(html, /A fair record/);
  assert.match(html, /Employer: Kim Employer signed/);
  // every page seen is valid HTML (when java and vnu-jar are there)
  const vnu = htmlValidate(pages);
  if (vnu.available) assert.deepEqual(vnu.errors, [], formatHtmlErrors(vnu.errors));
  // and reads well in the browser too
  await a.goto('file://' + path.join(tmp, 'x', 'index.html'));
  assert.match(await a.locator('#reviews').innerText(), /Progress reviews/);
});
