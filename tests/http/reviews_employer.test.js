// tests/http/reviews_employer.test.js: three-way progress reviews for an apprentice (issues
// 16 and 17): the employer's contact is a required signer (any order, once), sees only their
// own apprentices' reviews, and the review shows off-the-job hours recorded against expected;
// a break in learning moves the schedule.
'use strict';

const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const {startServer, assertStatus} = require('./lib.js');

const TODAY = '2026-05-01';
let srv, admin, assessor, emp, emp2, ash, other;
let ASH, OTHER, Q, ENR, ENR_OTHER, ENR_PLAIN, EMP_A, EMP_B, R;

before(async () => {
  srv = await startServer({demo: true, env: {EVITRACK_TODAY: TODAY}});
  [admin, assessor, other] = await Promise.all([srv.login('admin@demo.test'), srv.login('assessor@demo.test'),
    srv.login('learner2@demo.test')]);
  const mk = async (email, name, role, password) => {
    const r = await admin.post('/api/v1/users', {email, name, role, password});
    assertStatus(r, 201, email);
    return r.json.user ? r.json.user.id : Number(srv.sql(`SELECT id FROM users WHERE email = '${email}'`));
  };
  ASH = await mk('ash-apprentice@demo.test', 'Ash Apprentice', 'learner', 'ash apprentice password');
  const e1 = await mk('contact-a@demo.test', 'Alex Employer', 'employer', 'employer a password');
  const e2 = await mk('contact-b@demo.test', 'Bo Employer', 'employer', 'employer b password');
  OTHER = Number(srv.sql("SELECT id FROM users WHERE email = 'learner2@demo.test'"));
  for (const [name, user] of [['Reviews Employer A', e1], ['Reviews Employer B', e2]]) {
    const r = await admin.post('/api/v1/employers', {name});
    assertStatus(r, 201, name);
    assertStatus(await admin.post(`/api/v1/employers/${r.json.employer.id}/contacts`, {user_id: user}), 201);
  }
  EMP_A = Number(srv.sql("SELECT id FROM employers WHERE name = 'Reviews Employer A'"));
  EMP_B = Number(srv.sql("SELECT id FROM employers WHERE name = 'Reviews Employer B'"));
  ash = await srv.login('ash-apprentice@demo.test', 'ash apprentice password');
  emp = await srv.login('contact-a@demo.test', 'employer a password');
  emp2 = await srv.login('contact-b@demo.test', 'employer b password');
  srv.sql(`INSERT INTO qualifications (code, title) VALUES ('REV-APP', 'Reviewing apprenticeship');
    INSERT INTO units (qualification_id, ref, title, position) SELECT id, 'K', 'Knowledge', 1 FROM qualifications WHERE code = 'REV-APP';
    INSERT INTO outcomes (unit_id, number, text) SELECT id, 1, 'Knowledge' FROM units WHERE title = 'Knowledge';
    INSERT INTO criteria (unit_id, outcome_id, ref, text, position) SELECT u.id, o.id, 'K1', 'Knows', 1
      FROM units u JOIN outcomes o ON o.unit_id = u.id WHERE u.title = 'Knowledge';`);
  Q = Number(srv.sql("SELECT id FROM qualifications WHERE code = 'REV-APP'"));
  for (const learner of [ASH, OTHER]) {
    assertStatus(await admin.post('/api/v1/enrolments', {learner_id: learner, qualification_id: Q,
      assessor_id: assessor.user.id, start_date: '2026-01-31', planned_end_date: '2027-01-31'}), 201);
  }
  ENR = Number(srv.sql(`SELECT id FROM enrolments WHERE learner_id = ${ASH} AND qualification_id = ${Q}`));
  srv.sql(`INSERT INTO qualifications (code, title) VALUES ('REV-PLAIN', 'A plain qualification')`);
  const QP = Number(srv.sql("SELECT id FROM qualifications WHERE code = 'REV-PLAIN'"));
  assertStatus(await admin.post('/api/v1/enrolments', {learner_id: ASH, qualification_id: QP,
    assessor_id: assessor.user.id, start_date: '2026-01-31', planned_end_date: '2027-01-31'}), 201);
  ENR_PLAIN = Number(srv.sql(`SELECT id FROM enrolments WHERE learner_id = ${ASH} AND qualification_id = ${QP}`));
  ENR_OTHER = Number(srv.sql(`SELECT id FROM enrolments WHERE learner_id = ${OTHER} AND qualification_id = ${Q}`));
  // Ash is Employer A's apprentice: 300 hours planned; the other learner is Employer B's.
  srv.sql(`INSERT INTO apprenticeships (enrolment_id, learner_id, employer_id, weekly_minutes, planned_otj_minutes, created_at)
      VALUES (${ENR}, ${ASH}, ${EMP_A}, 1800, 18000, '2026-01-31T09:00:00Z'),
             (${ENR_OTHER}, ${OTHER}, ${EMP_B}, 1800, 18000, '2026-01-31T09:00:00Z');
    INSERT INTO otj_entries (apprenticeship_id, learner_id, occurred_on, minutes, activity, description, recorded_by, recorded_at)
      SELECT a.id, ${ASH}, v.d, v.m, 'theory', 'Training', ${ASH}, '2026-04-30T09:00:00Z'
      FROM apprenticeships a, (SELECT '2026-02-10' AS d, 600 AS m UNION ALL SELECT '2026-04-20', 300
        UNION ALL SELECT '2026-04-30', 120) v WHERE a.enrolment_id = ${ENR};`);
});

after(async () => {
  if (srv) await srv.stop();
});

test('an apprentice\'s review is three-way, with off-the-job hours recorded against expected', async () => {
  // with two enrolments on the caseload, the review names which one
  const which = await assessor.post(`/api/v1/learners/${ASH}/reviews`, {held_on: '2026-04-25'});
  assertStatus(which, 400);
  assert.ok(which.json.errors.some((e) => e.field === 'enrolment_id'));
  const r = await assessor.post(`/api/v1/learners/${ASH}/reviews`, {enrolment_id: ENR, held_on: '2026-04-25', assessor_summary: 'On track',
    employer_comments: 'Doing well'});
  assertStatus(r, 201);
  R = r.json.id;
  assert.deepEqual(r.json.signers_required, ['learner', 'employer', 'assessor']);
  assert.equal(r.json.three_way, true);
  // recorded by 25 Apr: 600 + 300 minutes; expected: 18000 x 84 / 365 days = 4142 minutes
  assert.equal(r.json.figures.otj.recorded_minutes, 900);
  assert.equal(r.json.figures.otj.expected_minutes, 4142);
  assert.equal(r.json.figures.otj.behind, true);
});

test('employer isolation: a contact sees only their own apprentices\' reviews', async () => {
  // Ash's other enrolment is not an apprenticeship: a two-way review the employer never sees
  const plain = await assessor.post(`/api/v1/learners/${ASH}/reviews`, {enrolment_id: ENR_PLAIN, held_on: '2026-04-25'});
  assertStatus(plain, 201);
  assert.deepEqual(plain.json.signers_required, ['learner', 'assessor']);
  assertStatus(await emp.get(`/api/v1/progress-reviews/${plain.json.id}`), 404);
  assertStatus(await emp.post(`/api/v1/progress-reviews/${plain.json.id}/sign`, {}), 404);
  assertStatus(await emp.get(`/api/v1/progress-reviews/${R}`), 200);
  const list = await emp.get(`/api/v1/learners/${ASH}/reviews`);
  assertStatus(list, 200);
  assert.equal(list.json.reviews.length, 1);
  assert.ok(list.json.enrolments.every((e) => e.enrolment_id === ENR), 'only the apprenticeship enrolment');
  assertStatus(await emp2.get(`/api/v1/progress-reviews/${R}`), 404);
  assertStatus(await emp2.get(`/api/v1/learners/${ASH}/reviews`), 404);
  assertStatus(await emp2.post(`/api/v1/progress-reviews/${R}/sign`, {}), 404);
  assertStatus(await emp.get(`/api/v1/learners/${OTHER}/reviews`), 404);
  // an employer never prepares, edits or corrects (routes their role may not use answer
  // as if the object did not exist: src/http.c)
  assertStatus(await emp.post(`/api/v1/learners/${ASH}/reviews`, {}), 404);
  assertStatus(await emp.put(`/api/v1/progress-reviews/${R}`, {}), 404);
  assertStatus(await emp.post(`/api/v1/progress-reviews/${R}/revise`), 404);
  // the page too
  const page = await emp.get(`/progress-reviews/${R}`);
  assertStatus(page, 200);
  assert.match(page.text, /Three-way review/);
});

test('three signers in any order, each once; complete only when all three have signed', async () => {
  let s = await emp.post(`/api/v1/progress-reviews/${R}/sign`, {comment: 'Agreed by the employer'});
  assertStatus(s, 201);
  assert.equal(s.json.status, 'signing');
  assertStatus(await emp.post(`/api/v1/progress-reviews/${R}/sign`, {}), 409);
  s = await assessor.post(`/api/v1/progress-reviews/${R}/sign`, {});
  assertStatus(s, 201);
  assert.equal(s.json.status, 'signing', 'the learner has not signed yet');
  const mail = srv.sqlRows(`SELECT user_id FROM notifications WHERE kind = 'review_signature' AND link = '/progress-reviews/${R}'`)
    .map((x) => Number(x.user_id));
  assert.ok(mail.includes(ASH), 'the learner is asked to sign');
  s = await ash.post(`/api/v1/progress-reviews/${R}/sign`, {});
  assertStatus(s, 201);
  assert.equal(s.json.status, 'complete');
  const sig = s.json.signatures.find((x) => x.role === 'employer');
  assert.equal(sig.name, 'Alex Employer');
  assert.equal(sig.comment, 'Agreed by the employer');
});

test('a break in learning moves the schedule', async () => {
  let l = await ash.get(`/api/v1/learners/${ASH}/reviews`);
  const before = l.json.enrolments[0].schedule.map((x) => x.due_on);
  assert.deepEqual(before.slice(0, 2), ['2026-04-25', '2026-07-18']);
  srv.sql(`INSERT INTO learning_breaks (apprenticeship_id, start_date, end_date, reason, recorded_at)
    SELECT id, '2026-05-04', '2026-06-01', 'Illness', '2026-06-01T09:00:00Z' FROM apprenticeships WHERE enrolment_id = ${ENR}`);
  l = await ash.get(`/api/v1/learners/${ASH}/reviews`);
  const moved = l.json.enrolments[0].schedule.map((x) => x.due_on);
  assert.equal(moved[0], '2026-04-25', 'before the break: unchanged');
  assert.equal(moved[1], '2026-08-15', 'after it: 28 days later');
});
