// tests/http/reviews.test.js: progress reviews (issue 17): the schedule and the overdue flag,
// a review prepared with its figures filled in, the signing rules (order-free, each signer
// once, a reason to decline, locked when complete, a correction supersedes and keeps the
// history), who may read and sign, bad input refused with nothing changed, the JSON, the
// page, the export and the emails.
'use strict';

const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {spawnSync} = require('node:child_process');
const {startServer, assertStatus} = require('./lib.js');

// "Today" for the server's schedule (EVITRACK_TODAY): the enrolment began on 31 Jan 2026,
// so review 1 fell due on 25 Apr 2026 and is overdue on 1 May.
const TODAY = '2026-05-01';
let srv, admin, assessor, assessor2, iqa, eqa, rae, other;
let RAE, OTHER, Q, ENR, C = [];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'evitrack-reviews-test-'));

// The assessor's overdue reviews as the centre dashboard counts them (from its snapshot,
// centre.c) and as their caseload counts them (afresh, every request): the same figure.
async function overdueCounts() {
  const centre = await admin.get(`/api/v1/centre/progress?assessor_id=${assessor.user.id}`);
  assertStatus(centre, 200);
  const cl = await assessor.get('/api/v1/caseload');
  assertStatus(cl, 200);
  assert.equal(centre.json.reviews_overdue, cl.json.reviews_overdue, 'dashboard and caseload agree');
  return centre.json.reviews_overdue;
}

function auditCount() {
  return Number(srv.sql('SELECT count(*) FROM audit_events'));
}

before(async () => {
  srv = await startServer({demo: true, env: {EVITRACK_TODAY: TODAY}});
  [admin, assessor, assessor2, iqa, eqa, other] = await Promise.all([
    srv.login('admin@demo.test'), srv.login('assessor@demo.test'), srv.login('assessor2@demo.test'),
    srv.login('iqa@demo.test'), srv.login('eqa@demo.test'), srv.login('learner2@demo.test'),
  ]);
  assertStatus(await admin.post('/api/v1/users', {email: 'rae@demo.test', name: 'Rae Reviewed', role: 'learner',
    password: 'rae learner password'}), 201);
  rae = await srv.login('rae@demo.test', 'rae learner password');
  const id = (email) => Number(srv.sql(`SELECT id FROM users WHERE email = '${email}'`));
  RAE = id('rae@demo.test');
  OTHER = id('learner2@demo.test');
  srv.sql(`INSERT INTO qualifications (code, title) VALUES ('REV-Q', 'Certificate in Reviewing');
    INSERT INTO units (qualification_id, ref, title, position) SELECT id, 'U1', 'Reviewing', 1 FROM qualifications WHERE code = 'REV-Q';
    INSERT INTO outcomes (unit_id, number, text) SELECT id, 1, 'Know reviews' FROM units WHERE title = 'Reviewing';`);
  for (let i = 1; i <= 3; i++) {
    srv.sql(`INSERT INTO criteria (unit_id, outcome_id, ref, text, position) SELECT u.id, o.id, '1.${i}', 'Describe ${i}', ${i}
      FROM units u JOIN outcomes o ON o.unit_id = u.id WHERE u.title = 'Reviewing'`);
  }
  Q = Number(srv.sql(`SELECT id FROM qualifications WHERE code = 'REV-Q'`));
  C = srv.sqlRows(`SELECT c.id FROM criteria c JOIN units u ON u.id = c.unit_id WHERE u.qualification_id = ${Q} ORDER BY c.position`)
    .map((r) => Number(r.id));
  const r = await admin.post('/api/v1/enrolments', {learner_id: RAE, qualification_id: Q, assessor_id: assessor.user.id,
    iqa_id: iqa.user.id, start_date: '2026-01-31', planned_end_date: '2027-01-31'});
  assertStatus(r, 201, 'enrol');
  ENR = Number(srv.sql(`SELECT id FROM enrolments WHERE learner_id = ${RAE}`));
  // the EQA reads Rae's reviews during a visit that samples Rae (issue 18)
  const iso = (ms) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
  assertStatus(await admin.post('/api/v1/eqa/visits', {eqa_id: eqa.user.id, qualification_ids: [Q],
    starts_at: iso(Date.now() - 3600e3), ends_at: iso(Date.now() + 86400e3), learner_ids: [RAE]}), 201, 'EQA visit');
  // The worked example: 1.1 met on 10 Feb, 1.2 met at 23:30 BST on 24 Apr (22:30 UTC), 1.3
  // not met; one piece of evidence mapped and submitted in the period, one still a draft.
  const A = assessor.user.id;
  srv.sql(`INSERT INTO decisions (learner_id, criterion_id, assessor_id, outcome, created_at) VALUES
      (${RAE}, ${C[0]}, ${A}, 'met', '2026-02-10T10:00:00Z'), (${RAE}, ${C[1]}, ${A}, 'met', '2026-04-24T22:30:00Z'),
      (${RAE}, ${C[2]}, ${A}, 'not_met', '2026-03-01T10:00:00Z');
    INSERT INTO evidence (learner_id, title, kind, status, submitted_at) VALUES (${RAE}, 'Review evidence', 'product', 'submitted', '2026-02-01T09:00:00Z');
    INSERT INTO evidence (learner_id, title, kind, status) VALUES (${RAE}, 'Draft evidence', 'product', 'draft');
    INSERT INTO evidence_criteria (evidence_id, criterion_id, learner_id) SELECT id, ${C[0]}, ${RAE} FROM evidence WHERE learner_id = ${RAE};
    UPDATE criterion_status SET status = 'met' WHERE learner_id = ${RAE} AND criterion_id IN (${C[0]}, ${C[1]});
    UPDATE criterion_status SET status = 'not_met' WHERE learner_id = ${RAE} AND criterion_id = ${C[2]};`);
});

after(async () => {
  fs.rmSync(tmp, {recursive: true, force: true});
  if (srv) await srv.stop();
});

test('the schedule: a later review whose date has passed is overdue too, not upcoming', async () => {
  assertStatus(await admin.post('/api/v1/users', {email: 'sam.late@demo.test', name: 'Sam Late', role: 'learner',
    password: 'sam learner password'}), 201);
  const sam = Number(srv.sql(`SELECT id FROM users WHERE email = 'sam.late@demo.test'`));
  assertStatus(await admin.post('/api/v1/enrolments', {learner_id: sam, qualification_id: Q, assessor_id: assessor.user.id,
    iqa_id: iqa.user.id, start_date: '2025-10-01', planned_end_date: '2026-12-31'}), 201, 'enrol');
  const r = await assessor.get(`/api/v1/learners/${sam}/reviews`);
  assertStatus(r, 200);
  const e = r.json.enrolments[0];
  assert.deepEqual(e.schedule.slice(0, 3).map((x) => [x.due_on, x.state]),
    [['2025-12-24', 'overdue'], ['2026-03-18', 'overdue'], ['2026-06-10', 'upcoming']]);
  const page = await assessor.get(`/learners/${sam}/reviews`);
  assertStatus(page, 200);
  assert.ok((page.text.match(/>Overdue</g) || []).length >= 2, 'both passed reviews read Overdue on the page');
});

test('the schedule: every 12 weeks from the start, the first review overdue on the list, caseload and dashboard', async () => {
  const r = await rae.get(`/api/v1/learners/${RAE}/reviews`);
  assertStatus(r, 200);
  const e = r.json.enrolments.find((x) => x.enrolment_id === ENR);
  assert.equal(e.interval_weeks, 12);
  assert.deepEqual(e.schedule.slice(0, 4).map((s) => s.due_on), ['2026-04-25', '2026-07-18', '2026-10-10', '2027-01-02']);
  assert.equal(e.schedule.length, 4, 'no review listed after the planned end');
  assert.equal(e.next_due_on, '2026-04-25');
  assert.equal(e.overdue, true);
  assert.equal(e.schedule[0].state, 'overdue');
  assert.equal(e.schedule[1].state, 'upcoming');
  assert.deepEqual(r.json.reviews, []);
  // a new review of a two-way enrolment (no employer) does not ask for the employer's comments
  const newForm = await assessor.get(`/learners/${RAE}/reviews/new?enrolment_id=${ENR}`);
  assertStatus(newForm, 200);
  assert.match(newForm.text, /name="learner_comments"/);
  assert.doesNotMatch(newForm.text, /name="employer_comments"/);
  // the caseload and the centre dashboard flag it
  const cl = await assessor.get('/api/v1/caseload?per_page=200');
  assertStatus(cl, 200);
  const item = cl.json.items.find((x) => x.enrolment_id === ENR);
  assert.equal(item.review_overdue, true);
  assert.equal(item.review_due_on, '2026-04-25');
  assert.ok(cl.json.reviews_overdue >= 1);
  const page = await assessor.get('/caseload?per_page=200');
  assert.match(page.text, /Review overdue/);
  assert.match(page.text, /What to do next[\s\S]*progress reviews? overdue on your caseload/);
  const centre = await admin.get('/api/v1/centre/progress');
  assertStatus(centre, 200);
  assert.ok(centre.json.reviews_overdue >= 1, JSON.stringify(centre.json.reviews_overdue));
  const cpage = await admin.get('/centre');
  assert.match(cpage.text, /progress reviews? overdue/i);
});

let R1;
test('the assessor prepares review 1: the figures fill themselves in from the worked example', async () => {
  const before = auditCount();
  // bad input first: nothing is created
  for (const [body, field] of [
    [{held_on: '2026-02-30'}, 'held_on'], [{held_on: '2026-05-02'}, 'held_on'], [{held_on: '2026-01-01'}, 'held_on'],
    [{next_review_on: '2026-12-01'}, 'next_review_on'], [{targets: 'x'}, 'targets'], [{targets: [{due_on: '2026-06-01'}]}, 'targets'],
    [{english_maths: 5}, 'english_maths'], [{wellbeing: 'x'.repeat(9000)}, 'wellbeing'], [{enrolment_id: 'abc'}, 'enrolment_id'],
  ]) {
    const r = await assessor.post(`/api/v1/learners/${RAE}/reviews`, body);
    assertStatus(r, 400, JSON.stringify(body));
    assert.ok(r.json.errors.some((x) => x.field === field), `${JSON.stringify(body)}: ${JSON.stringify(r.json)}`);
  }
  const unknown = await assessor.post(`/api/v1/learners/${RAE}/reviews`, {nonsense: 1});
  assertStatus(unknown, 400);
  // another assessor, the IQA, the learner: refused
  assert.ok([403, 404].includes((await assessor2.post(`/api/v1/learners/${RAE}/reviews`, {})).status));
  assertStatus(await iqa.post(`/api/v1/learners/${RAE}/reviews`, {}), 403);
  assertStatus(await rae.post(`/api/v1/learners/${RAE}/reviews`, {}), 403);
  assert.equal(auditCount(), before, 'refused requests changed something');

  const r = await assessor.post(`/api/v1/learners/${RAE}/reviews`, {
    held_on: '2026-04-27', english_maths: 'Level 2 maths booked', wellbeing: 'Settled', safeguarding: 'Feels safe',
    learner_comments: 'Enjoying the <b>course</b>', assessor_summary: 'Good progress', next_review_on: '2026-07-10',
    targets: [{text: 'Finish unit 1', due_on: '2026-06-30', support: 'Line manager'}, {text: 'Read the handbook'}],
  });
  assertStatus(r, 201);
  R1 = r.json.id;
  assert.equal(r.json.number, 1);
  assert.equal(r.json.status, 'draft');
  assert.equal(r.json.due_on, '2026-04-25');
  assert.equal(r.json.period_from, '2026-01-31');
  assert.equal(r.json.figures.criteria_met, 2);
  assert.equal(r.json.figures.criteria_met_refs, 'U1 1.1, U1 1.2');
  assert.equal(r.json.figures.evidence_submitted, 1);
  assert.equal(r.json.figures.otj, null);
  assert.deepEqual(r.json.signers_required, ['learner', 'assessor'], 'no employer: a two-way review');
  assert.equal(r.json.targets.length, 2);
  assert.equal(r.json.targets[0].support, 'Line manager');
  // one open review at a time
  assertStatus(await assessor.post(`/api/v1/learners/${RAE}/reviews`, {}), 409);
  // ...so the list offers the open review, not a "Prepare" button that could only fail
  const listed = await assessor.get(`/api/v1/learners/${RAE}/reviews`);
  assertStatus(listed, 200);
  const enr = listed.json.enrolments.find((x) => x.enrolment_id === ENR);
  assert.equal(enr.can_prepare, false);
  assert.equal(enr.open_review_id, R1);
  const listPage = await assessor.get(`/learners/${RAE}/reviews`);
  assert.doesNotMatch(listPage.text, new RegExp(`reviews/new\\?enrolment_id=${ENR}"`));
  assert.match(listPage.text, new RegExp(`href="/progress-reviews/${R1}">Open the review in progress`));
  // a bookmarked "new review" form leads to the open review too
  const form = await assessor.get(`/learners/${RAE}/reviews/new`, {query: {enrolment_id: String(ENR)}});
  assert.equal(form.status, 303, form.text);
  assert.equal(form.headers.location, `/progress-reviews/${R1}`);
  // the draft is edited freely
  const e = await assessor.put(`/api/v1/progress-reviews/${R1}`, {employer_comments: 'n/a', safeguarding_concern: false});
  assertStatus(e, 200);
  assert.equal(e.json.employer_comments, 'n/a');
  assert.equal(e.json.learner_comments, 'Enjoying the <b>course</b>');
  // the page escapes what was typed
  const page = await rae.get(`/progress-reviews/${R1}`);
  assertStatus(page, 200);
  assert.match(page.text, /Enjoying the &lt;b&gt;course&lt;\/b&gt;/);
  assert.match(page.text, /reviews\.css/);
  assert.match(page.text, /U1 1\.1, U1 1\.2/);
});

test('who reads a review: the learner, their assessor, IQA, admin, EQA; not another learner or assessor', async () => {
  for (const c of [rae, assessor, iqa, admin, eqa]) assertStatus(await c.get(`/api/v1/progress-reviews/${R1}`), 200);
  for (const c of [other, assessor2]) {
    assertStatus(await c.get(`/api/v1/progress-reviews/${R1}`), 404);
    assertStatus(await c.get(`/api/v1/learners/${RAE}/reviews`), 404);
  }
  assertStatus(await other.get('/api/v1/progress-reviews/999999'), 404);
});

test('signing: order-free, each signer once, a reason to decline, no edits once signed, complete when all have signed', async () => {
  let before = auditCount();
  // not a signer
  assertStatus(await iqa.post(`/api/v1/progress-reviews/${R1}/sign`, {}), 403);
  assertStatus(await assessor2.post(`/api/v1/progress-reviews/${R1}/sign`, {}), 404);
  assertStatus(await other.post(`/api/v1/progress-reviews/${R1}/sign`, {}), 404);
  // bad input
  assertStatus(await rae.post(`/api/v1/progress-reviews/${R1}/sign`, {decision: 'maybe'}), 400);
  const noReason = await rae.post(`/api/v1/progress-reviews/${R1}/sign`, {decision: 'decline'});
  assertStatus(noReason, 400);
  assert.ok(noReason.json.errors.some((x) => x.field === 'reason'));
  assertStatus(await rae.post(`/api/v1/progress-reviews/${R1}/sign`, {comment: 'x'.repeat(5000)}), 400);
  assert.equal(auditCount(), before);
  // the learner signs first (order-free), with a comment
  const s1 = await rae.post(`/api/v1/progress-reviews/${R1}/sign`, {comment: 'Agreed'});
  assertStatus(s1, 201);
  assert.equal(s1.json.status, 'signing');
  assert.equal(s1.json.signatures.find((s) => s.role === 'learner').comment, 'Agreed');
  // once only
  const again = await rae.post(`/api/v1/progress-reviews/${R1}/sign`, {});
  assertStatus(again, 409);
  assert.equal(again.json.error.code, 'already_signed');
  // no edits once anyone has signed
  before = auditCount();
  const locked = await assessor.put(`/api/v1/progress-reviews/${R1}`, {assessor_summary: 'changed'});
  assertStatus(locked, 409);
  assert.equal(locked.json.error.code, 'locked');
  assert.equal(auditCount(), before);
  // the assessor's "What to do next" asks for their signature until they sign
  assert.match((await assessor.get('/caseload')).text, /What to do next[\s\S]*progress reviews? to finish and sign/);
  // the assessor signs: complete and locked
  const overdueBefore = await overdueCounts();
  assert.ok(overdueBefore >= 1);
  const s2 = await assessor.post(`/api/v1/progress-reviews/${R1}/sign`, {});
  assertStatus(s2, 201);
  assert.equal(s2.json.status, 'complete');
  // the dashboard's snapshot is read afresh: one overdue review fewer (issue 22)
  assert.equal(await overdueCounts(), overdueBefore - 1, 'completing the review left the dashboard stale');
  assert.ok(s2.json.completed_at);
  assertStatus(await assessor.post(`/api/v1/progress-reviews/${R1}/sign`, {}), 409);
  assert.doesNotMatch((await assessor.get('/caseload')).text, /What to do next[\s\S]*progress reviews? to finish and sign/);
  assertStatus(await assessor.put(`/api/v1/progress-reviews/${R1}`, {assessor_summary: 'changed'}), 409);
  const actions = srv.sqlRows(`SELECT action FROM audit_events WHERE entity = 'progress_review' AND entity_id = ${R1} ORDER BY id`)
    .map((x) => x.action);
  assert.deepEqual(actions, ['review.create', 'review.update', 'review.sign', 'review.sign', 'review.complete']);
  // the schedule moves on: review 2 due on 10 Jul (the earlier date review 1 set)
  const l = await rae.get(`/api/v1/learners/${RAE}/reviews`);
  const e = l.json.enrolments.find((x) => x.enrolment_id === ENR);
  assert.equal(e.overdue, false);
  assert.equal(e.next_due_on, '2026-07-10');
  assert.equal(e.schedule[0].state, 'complete');
  assert.equal(e.schedule[0].review_id, R1);
});

let R2;
test('a correction is a new version that supersedes the completed review; the history stays', async () => {
  assertStatus(await rae.post(`/api/v1/progress-reviews/${R1}/revise`), 403);
  const overdueBefore = await overdueCounts();
  const r = await assessor.post(`/api/v1/progress-reviews/${R1}/revise`);
  assertStatus(r, 201);
  // review 1 superseded by a draft: due (and overdue) again, on the dashboard too (issue 22)
  assert.equal(await overdueCounts(), overdueBefore + 1, 'superseding the review left the dashboard stale');
  R2 = r.json.id;
  assert.equal(r.json.version, 2);
  assert.equal(r.json.supersedes_id, R1);
  assert.equal(r.json.status, 'draft');
  assert.equal(r.json.targets.length, 2, 'targets copied');
  assert.equal(r.json.signatures.every((s) => !s.outcome), true, 'signed again from nothing');
  const old = await rae.get(`/api/v1/progress-reviews/${R1}`);
  assert.equal(old.json.superseded, true);
  assert.equal(old.json.superseded_by, R2);
  assert.equal(old.json.status, 'complete');
  assert.equal(old.json.signatures.filter((s) => s.signed).length, 2, 'the old signatures stay');
  assert.equal(old.json.history.length, 2);
  // the old version can be neither signed nor corrected again
  assertStatus(await assessor.post(`/api/v1/progress-reviews/${R1}/revise`), 409);
  assertStatus(await rae.post(`/api/v1/progress-reviews/${R1}/sign`, {}), 409);
  // a draft is edited, not corrected
  assertStatus(await assessor.post(`/api/v1/progress-reviews/${R2}/revise`), 409);
  assertStatus(await assessor.put(`/api/v1/progress-reviews/${R2}`, {assessor_summary: 'Good progress; maths date fixed'}), 200);
  // the learner declines with a reason; the assessor corrects again and both sign
  const d = await rae.post(`/api/v1/progress-reviews/${R2}/sign`, {decision: 'decline', reason: 'The maths date is wrong'});
  assertStatus(d, 201);
  assert.equal(d.json.status, 'declined');
  assertStatus(await assessor.post(`/api/v1/progress-reviews/${R2}/sign`, {}), 201);
  assert.equal((await rae.get(`/api/v1/progress-reviews/${R2}`)).json.status, 'declined');
  const r3 = await assessor.post(`/api/v1/progress-reviews/${R2}/revise`);
  assertStatus(r3, 201);
  const R3 = r3.json.id;
  assert.equal(r3.json.version, 3);
  // the assessor signing asks the learner for theirs (an email through the outbox)
  assertStatus(await assessor.post(`/api/v1/progress-reviews/${R3}/sign`, {}), 201);
  const mail = srv.sqlRows(`SELECT kind, link FROM notifications WHERE user_id = ${RAE} AND kind = 'review_signature' ORDER BY id`);
  assert.ok(mail.some((m) => m.link === `/progress-reviews/${R3}`), JSON.stringify(mail));
  const done = await rae.post(`/api/v1/progress-reviews/${R3}/sign`, {});
  assertStatus(done, 201);
  assert.equal(done.json.status, 'complete');
  const list = await rae.get(`/api/v1/learners/${RAE}/reviews`);
  assert.deepEqual(list.json.reviews.map((x) => [x.version, x.status, x.superseded]),
    [[3, 'complete', false], [2, 'declined', true], [1, 'complete', true]]);
});

test('review 2 carries review 1\'s targets to be marked met or not met', async () => {
  const bad = await assessor.post(`/api/v1/learners/${RAE}/reviews`, {held_on: '2026-05-01',
    previous_targets: [{target_id: 999999, outcome: 'met'}]});
  assertStatus(bad, 400);
  const cur = srv.sqlRows(`SELECT t.id FROM progress_review_targets t JOIN progress_reviews r ON r.id = t.review_id
    WHERE r.enrolment_id = ${ENR} AND r.number = 1 AND r.superseded = 0 ORDER BY t.position`).map((x) => Number(x.id));
  assert.equal(cur.length, 2);
  const r = await assessor.post(`/api/v1/learners/${RAE}/reviews`, {held_on: '2026-05-01',
    previous_targets: [{target_id: cur[0], outcome: 'met'}, {target_id: cur[1], outcome: 'not_met', note: 'Next time'}]});
  assertStatus(r, 201);
  assert.equal(r.json.number, 2);
  assert.equal(r.json.period_from, '2026-04-28', 'the day after review 1');
  assert.equal(r.json.figures.criteria_met, 0);
  assert.deepEqual(r.json.previous_targets.map((t) => t.outcome), ['met', 'not_met']);
  // the form page renders them as radios
  const page = await assessor.get(`/progress-reviews/${r.json.id}/edit`);
  assertStatus(page, 200);
  assert.match(page.text, new RegExp(`name="result_${cur[0]}" value="met" checked`));
});

test('pages: the list, a form post with errors re-rendered, and the sign form', async () => {
  const list = await rae.get(`/learners/${RAE}/reviews`);
  assertStatus(list, 200);
  assert.match(list.text, /Progress reviews/);
  assert.match(list.text, /25 Apr 2026/);
  const open = (await assessor.get(`/api/v1/learners/${RAE}/reviews`)).json.enrolments
    .find((x) => x.enrolment_id === ENR).open_review_id;
  const form = await assessor.get(`/learners/${RAE}/reviews/new?enrolment_id=${ENR}`);
  if (open) assert.equal(form.headers.location, `/progress-reviews/${open}`, String(form.status));
  else assertStatus(form, 200);
  const bad = await assessor.postForm(`/learners/${RAE}/reviews`, {enrolment_id: String(ENR), held_on: '2026-13-01'});
  assert.ok(bad.status === 400 || bad.status === 409, String(bad.status));
  const show = await rae.get(`/progress-reviews/${R1}`);
  assert.match(show.text, /Replaced by a correction/);
});

test('the reminder command queues one "review due" email per review to the learner and assessor', async () => {
  // review 2 (open) is due on 10 Jul: within 80 days of 1 May
  const r = await srv.run(['reviews', 'remind', '--days', '80'], {env: {EVITRACK_TODAY: TODAY}});
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /reminders queued/);
  const n = Number(srv.sql(`SELECT count(*) FROM notifications WHERE kind = 'review_due' AND link = '/learners/${RAE}/reviews'`));
  assert.equal(n, 2);
  const again = await srv.run(['reviews', 'remind', '--days', '80'], {env: {EVITRACK_TODAY: TODAY}});
  assert.equal(again.code, 0);
  assert.equal(Number(srv.sql(`SELECT count(*) FROM notifications WHERE kind = 'review_due' AND link = '/learners/${RAE}/reviews'`)), 2,
    'told once');
  const badArgs = await srv.run(['reviews', 'remind', '--days', 'lots']);
  assert.notEqual(badArgs.code, 0);
});

test('the completed review is in the learner\'s export (JSON and index.html)', async () => {
  const r = await assessor.get(`/api/v1/learners/${RAE}/export`);
  assertStatus(r, 200);
  const zip = path.join(tmp, 'rae.zip');
  fs.writeFileSync(zip, r.body);
  const dir = path.join(tmp, 'rae');
  const u = spawnSync('unzip', ['-q', '-o', zip, '-d', dir], {encoding: 'utf8'});
  assert.equal(u.status, 0, u.stderr);
  const html = fs.readFileSync(path.join(dir, 'index.html'), 'utf8');
  assert.match(html, /id="reviews"/);
  assert.match(html, /Review 1 \(version 3\)/);
  assert.match(html, /Enjoying the &lt;b&gt;course&lt;\/b&gt;/);
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'portfolio.json'), 'utf8'));
  const reviews = json.progress_reviews;
  assert.ok(reviews.some((x) => x.id === R1 && x.superseded === true));
  assert.ok(reviews.some((x) => x.version === 3 && x.status === 'complete'));
});
