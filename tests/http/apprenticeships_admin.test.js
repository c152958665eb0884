// tests/http/apprenticeships_admin.test.js: issue 16's admin pages against the real server,
// as a browser without JavaScript would use them: employers and their contacts, enrolling
// an apprentice (standard, qualifications alongside, employer, dates, planned hours, RPL
// hours and KSBs, review interval) and changing the plan, and recording / ending a break
// in learning. Each form: success, and every validation error answered with the GOV.UK
// error summary, the field's message, the choices kept and nothing written.
'use strict';
const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const {startServer, assertStatus} = require('./lib.js');

let srv, admin, assessor;
let STD, QUAL, LEARNER, ASSESSOR, EMPLOYER, APPR;
const day = (offset) => new Date(Date.now() + offset * 86400000).toISOString().slice(0, 10);

before(async () => {
  srv = await startServer({demo: true});
  admin = await srv.login('admin@demo.test');
  assessor = await srv.login('assessor@demo.test');
  STD = Number(srv.sql("SELECT id FROM qualifications WHERE code = 'ST9901'"));
  QUAL = Number(srv.sql("SELECT min(id) FROM qualifications WHERE kind = 'qualification'"));
  ASSESSOR = Number(srv.sql("SELECT id FROM users WHERE email = 'assessor@demo.test'"));
  const r = await admin.post('/api/v1/users', {email: 'pages16@demo.test', name: 'Pat Pages', role: 'learner',
    password: 'apprentice pages 16'});
  assertStatus(r, 201);
  LEARNER = r.json.user.id;
});
after(() => srv && srv.stop());

/* The error summary links to each field, and the field shows its message. */
function assertErrors(res, fields) {
  assert.match(res.text, /class="error-summary"/);
  assert.match(res.text, /There is a problem/);
  for (const f of fields) {
    assert.ok(res.text.includes(`href="#${f}"`), `summary links #${f}`);
    assert.ok(res.text.includes(`id="${f}-error"`), `message beside ${f}`);
  }
}

const counts = () => srv.sql(`SELECT (SELECT count(*) FROM employers) || '/' || (SELECT count(*) FROM employer_contacts)
  || '/' || (SELECT count(*) FROM apprenticeships) || '/' || (SELECT count(*) FROM enrolments) || '/' ||
  (SELECT count(*) FROM apprenticeship_rpl_ksbs) || '/' || (SELECT count(*) FROM learning_breaks) || '/' ||
  (SELECT count(*) FROM users)`);

test('the admin reaches the pages from the navigation and the learner\'s pages', async () => {
  let r = await admin.get('/centre');
  assert.match(r.text, /href="\/admin\/employers"/);
  r = await admin.get('/admin/employers');
  assertStatus(r, 200);
  assert.match(r.text, /Northgate Retail Ltd/);
  assert.match(r.text, /href="\/admin\/apprenticeships\/new"/);
  r = await admin.get(`/admin/users/${LEARNER}`);
  assert.ok(r.text.includes(`href="/admin/apprenticeships/new?learner_id=${LEARNER}"`));
  r = await admin.get(`/learners/${LEARNER}`);
  assert.ok(r.text.includes(`href="/admin/apprenticeships/new?learner_id=${LEARNER}"`));
  r = await admin.get(`/admin/apprenticeships/new?learner_id=${LEARNER}`);
  assertStatus(r, 200);
  assert.ok(r.text.includes('value="pages16@demo.test"'), 'the learner is filled in');
  assert.ok(r.text.includes(`<option value="${STD}">`), 'the standard is offered');
  assert.ok(r.text.includes(`name="qualification_ids" value="${QUAL}"`), 'qualifications alongside are offered');
  // other roles: refused
  assertStatus(await assessor.get('/admin/employers'), 403);
});

test('employers: add one (refused blank and taken names, the typed name kept), rename, add contacts', async () => {
  const c0 = counts();
  let r = await admin.postForm('/admin/employers', {name: '   '});
  assertStatus(r, 400);
  assertErrors(r, ['name']);
  r = await admin.postForm('/admin/employers', {name: 'Northgate Retail Ltd'});
  assertStatus(r, 409);
  assertErrors(r, ['name']);
  assert.ok(r.text.includes('value="Northgate Retail Ltd"'), 'the name typed is kept');
  assert.equal(counts(), c0, 'nothing written');
  r = await admin.postForm('/admin/employers', {name: 'Harbour Café & Co'});
  assertStatus(r, 303);
  const m = /^\/admin\/employers\/(\d+)\?done=employer_created$/.exec(r.headers.location);
  assert.ok(m, r.headers.location);
  EMPLOYER = Number(m[1]);
  r = await admin.get(r.headers.location);
  assertStatus(r, 200);
  assert.match(r.text, /Harbour Café &amp; Co/);
  assert.match(r.text, /The employer has been added/);
  assert.match(r.text, /No contacts yet/);
  // rename: refused blank / taken, then saved
  const c1 = counts();
  r = await admin.postForm(`/admin/employers/${EMPLOYER}`, {name: ''});
  assertStatus(r, 400);
  assertErrors(r, ['employer_name']);
  r = await admin.postForm(`/admin/employers/${EMPLOYER}`, {name: 'northgate retail ltd'});
  assertStatus(r, 409);
  assertErrors(r, ['employer_name']);
  assert.ok(r.text.includes('value="northgate retail ltd"'));
  assert.equal(srv.sql(`SELECT name FROM employers WHERE id = ${EMPLOYER}`), 'Harbour Café & Co');
  r = await admin.postForm(`/admin/employers/${EMPLOYER}`, {name: 'Harbour Café Ltd'});
  assertStatus(r, 303);
  assert.equal(srv.sql(`SELECT name FROM employers WHERE id = ${EMPLOYER}`), 'Harbour Café Ltd');
  assert.equal(srv.sql(`SELECT count(*) FROM audit_events WHERE action = 'employer.update' AND entity_id = ${EMPLOYER}`), '1');
  // contacts: nothing given, a bad email (the name kept), an email already in use
  r = await admin.postForm(`/admin/employers/${EMPLOYER}/contacts`, {name: '', email: ''});
  assertStatus(r, 400);
  assertErrors(r, ['name', 'email']);
  r = await admin.postForm(`/admin/employers/${EMPLOYER}/contacts`, {name: 'Mo Harbour', email: 'not-an-email'});
  assertStatus(r, 400);
  assertErrors(r, ['email']);
  assert.ok(r.text.includes('value="Mo Harbour"') && r.text.includes('value="not-an-email"'));
  r = await admin.postForm(`/admin/employers/${EMPLOYER}/contacts`, {name: 'Mo Harbour', email: 'assessor@demo.test'});
  assertStatus(r, 409);
  assertErrors(r, ['email']);
  r = await admin.postForm(`/admin/employers/${EMPLOYER}/contacts`, {name: '', email: '', user_id: '999999'});
  assertStatus(r, 400);
  assertErrors(r, ['user_id']);
  assert.equal(counts(), c1.replace(/^(\d+)/, (x) => x), 'nothing written');
  // a new contact: an employer account, invited to choose its password, linked
  r = await admin.postForm(`/admin/employers/${EMPLOYER}/contacts`, {name: 'Mo Harbour', email: 'mo@harbour.test'});
  assertStatus(r, 303);
  assert.equal(r.headers.location, `/admin/employers/${EMPLOYER}?done=contact_added`);
  const mo = srv.sqlRows("SELECT id, role FROM users WHERE email = 'mo@harbour.test'")[0];
  assert.equal(mo.role, 'employer');
  assert.equal(srv.sql(`SELECT employer_id FROM employer_contacts WHERE user_id = ${mo.id}`), String(EMPLOYER));
  // an existing employer account with no employer: offered in the list, then linked
  assertStatus(await admin.post('/api/v1/users', {email: 'kim@harbour.test', name: 'Kim Harbour', role: 'employer',
    password: 'kim harbour password'}), 201);
  const kim = Number(srv.sql("SELECT id FROM users WHERE email = 'kim@harbour.test'"));
  r = await admin.get(`/admin/employers/${EMPLOYER}`);
  assert.ok(r.text.includes(`<option value="${kim}">Kim Harbour`), 'the unlinked account is offered');
  r = await admin.postForm(`/admin/employers/${EMPLOYER}/contacts`, {name: '', email: '', user_id: String(kim)});
  assertStatus(r, 303);
  r = await admin.get(`/admin/employers/${EMPLOYER}`);
  assert.match(r.text, /Mo Harbour/);
  assert.match(r.text, /Kim Harbour/);
  // linked once only
  r = await admin.postForm(`/admin/employers/${EMPLOYER}/contacts`, {user_id: String(kim)});
  assertStatus(r, 409);
  // the API says the same
  r = await admin.put(`/api/v1/employers/${EMPLOYER}`, {name: ''});
  assertStatus(r, 400);
  assert.equal(r.json.errors[0].field, 'name');
});

test('enrol an apprentice: every error at once with the choices kept, then enrolled', async () => {
  const c0 = counts();
  let r = await admin.postForm('/admin/apprenticeships', {learner_email: 'nobody@demo.test', standard_id: '',
    qualification_ids: [String(QUAL)], assessor_id: '', iqa_id: '', employer_id: '', start_date: '2026-02-30',
    planned_end_date: 'soon', weekly_hours: 'lots', planned_otj_hours: '-3', rpl_otj_hours: 'x', rpl_ksbs: 'K1',
    rpl_note: 'Level 2 certificate', review_interval_weeks: '20'});
  assertStatus(r, 400);
  assertErrors(r, ['learner_email', 'standard_id', 'assessor_id', 'employer_id', 'start_date', 'planned_end_date',
    'weekly_hours', 'planned_otj_hours', 'rpl_otj_hours', 'review_interval_weeks']);
  // what was chosen or typed is still there
  assert.ok(r.text.includes('value="nobody@demo.test"'));
  assert.ok(new RegExp(`name="qualification_ids" value="${QUAL}" checked`).test(r.text), 'the qualification stays ticked');
  assert.ok(r.text.includes('value="lots"') && r.text.includes('value="K1"') && r.text.includes('>Level 2 certificate</textarea>'));
  assert.equal(counts(), c0, 'nothing written');
  // a second round: choices made, a KSB that is not the standard's and an end before the start
  r = await admin.postForm('/admin/apprenticeships', {learner_email: 'pages16@demo.test', standard_id: String(STD),
    assessor_id: String(ASSESSOR), iqa_id: '', employer_id: String(EMPLOYER), start_date: day(-100),
    planned_end_date: day(-120), weekly_hours: '30', planned_otj_hours: '', rpl_otj_hours: '', rpl_ksbs: 'K1, Z9',
    rpl_note: '', review_interval_weeks: '8'});
  assertStatus(r, 400);
  assertErrors(r, ['planned_end_date', 'rpl_ksbs']);
  assert.ok(r.text.includes(`<option value="${STD}" selected>`), 'the standard stays chosen');
  assert.ok(r.text.includes(`<option value="${EMPLOYER}" selected>`), 'the employer stays chosen');
  assert.ok(r.text.includes(`<option value="${ASSESSOR}" selected>`), 'the assessor stays chosen');
  assert.ok(r.text.includes('value="K1, Z9"'));
  assert.equal(counts(), c0, 'nothing written');
  // enrolled: the qualification alongside, RPL of 40 hours and two KSBs, reviews every 8 weeks
  r = await admin.postForm('/admin/apprenticeships', {learner_email: 'pages16@demo.test', standard_id: String(STD),
    qualification_ids: [String(QUAL)], assessor_id: String(ASSESSOR), iqa_id: '', employer_id: String(EMPLOYER),
    start_date: day(-100), planned_end_date: day(300), weekly_hours: '30', planned_otj_hours: '', rpl_otj_hours: '40',
    rpl_ksbs: 'k1; B4', rpl_note: 'Level 2 customer service certificate', review_interval_weeks: '8'});
  assertStatus(r, 303);
  const m = /^\/admin\/apprenticeships\/(\d+)\?done=apprenticeship_created$/.exec(r.headers.location);
  assert.ok(m, r.headers.location);
  APPR = Number(m[1]);
  const a = srv.sqlRows(`SELECT a.planned_otj_minutes, a.rpl_otj_minutes, a.employer_id, e.review_interval_weeks,
    e.qualification_id FROM apprenticeships a JOIN enrolments e ON e.id = a.enrolment_id WHERE a.id = ${APPR}`)[0];
  assert.equal(Number(a.planned_otj_minutes), (372 - 40) * 60, 'the standard\'s 372 hours less 40 of prior learning');
  assert.equal(Number(a.review_interval_weeks), 8);
  assert.equal(Number(a.employer_id), EMPLOYER);
  assert.equal(srv.sql(`SELECT count(*) FROM enrolments WHERE learner_id = ${LEARNER}`), '2', 'the standard and the qualification');
  assert.equal(srv.sql(`SELECT count(*) FROM apprenticeship_rpl_ksbs WHERE apprenticeship_id = ${APPR}`), '2');
  r = await admin.get(r.headers.location);
  assertStatus(r, 200);
  assert.match(r.text, /The apprentice has been enrolled/);
  assert.match(r.text, /K1, B4/);
  assert.ok(r.text.includes(`href="/learners/${LEARNER}/otj#breaks"`), 'links to the breaks');
  // the learner's page now links to the hours and the plan
  r = await admin.get(`/learners/${LEARNER}`);
  assert.ok(r.text.includes(`href="/learners/${LEARNER}/otj"`) && r.text.includes(`href="/admin/apprenticeships/${APPR}"`));
  // the same learner and standard again: refused with the reason, nothing written
  const c1 = counts();
  r = await admin.postForm('/admin/apprenticeships', {learner_email: 'pages16@demo.test', standard_id: String(STD),
    assessor_id: String(ASSESSOR), employer_id: String(EMPLOYER), start_date: day(-10), planned_end_date: day(300),
    weekly_hours: '30'});
  assert.ok(r.status === 400 || r.status === 409, String(r.status));
  assert.match(r.text, /There is a problem/);
  assert.equal(counts(), c1);
});

test('change the plan: errors keep what was typed; RPL KSBs replaced leave or rejoin the totals', async () => {
  const total = async () => (await admin.get(`/api/v1/learners/${LEARNER}/progress`)).json.qualifications
    .find((q) => q.qualification_id === STD).total;
  const t0 = await total();
  let r = await admin.get(`/admin/apprenticeships/${APPR}`);
  assertStatus(r, 200);
  assert.ok(r.text.includes('value="372"'), 'planned hours before prior learning');
  assert.ok(r.text.includes('value="40"') && r.text.includes('value="8"') && r.text.includes('value="K1, B4"'));
  const before = srv.sql(`SELECT planned_otj_minutes || '/' || weekly_minutes FROM apprenticeships WHERE id = ${APPR}`);
  r = await admin.postForm(`/admin/apprenticeships/${APPR}`, {employer_id: '424242', weekly_hours: '0.5',
    planned_otj_hours: 'many', rpl_otj_hours: '20', rpl_ksbs: 'K1, Q7', rpl_note: 'x'.repeat(2001),
    review_interval_weeks: '0'});
  assertStatus(r, 400);
  assertErrors(r, ['employer_id', 'weekly_hours', 'planned_otj_hours', 'rpl_ksbs', 'rpl_note', 'review_interval_weeks']);
  assert.ok(r.text.includes('value="many"') && r.text.includes('value="K1, Q7"') && r.text.includes('value="0.5"'));
  assert.equal(srv.sql(`SELECT planned_otj_minutes || '/' || weekly_minutes FROM apprenticeships WHERE id = ${APPR}`), before);
  // saved: 400 hours planned, 20 recognised, only S1 recognised now, reviews every 10 weeks
  r = await admin.postForm(`/admin/apprenticeships/${APPR}`, {employer_id: String(EMPLOYER), weekly_hours: '37.5',
    planned_otj_hours: '400', rpl_otj_hours: '20', rpl_ksbs: 'S1', rpl_note: 'Updated after interview',
    review_interval_weeks: '10'});
  assertStatus(r, 303);
  assert.equal(r.headers.location, `/admin/apprenticeships/${APPR}?done=apprenticeship_saved`);
  const a = srv.sqlRows(`SELECT a.planned_otj_minutes, a.weekly_minutes, a.rpl_otj_minutes, e.review_interval_weeks
    FROM apprenticeships a JOIN enrolments e ON e.id = a.enrolment_id WHERE a.id = ${APPR}`)[0];
  assert.deepEqual([a.planned_otj_minutes, a.weekly_minutes, a.rpl_otj_minutes, a.review_interval_weeks].map(Number),
    [380 * 60, 2250, 20 * 60, 10]);
  assert.equal(await total(), t0 + 1, 'two recognised KSBs rejoin the totals, one leaves');
  assert.equal(srv.sql(`SELECT count(*) FROM audit_events WHERE action = 'apprenticeship.update' AND entity_id = ${APPR}`), '1');
  // the API: a partial change keeps the rest
  r = await admin.put(`/api/v1/apprenticeships/${APPR}`, {review_interval_weeks: 12});
  assertStatus(r, 200);
  assert.equal(srv.sql(`SELECT weekly_minutes FROM apprenticeships WHERE id = ${APPR}`), '2250');
  assert.equal(r.json.apprenticeship.review_interval_weeks, 12);
  assertStatus(await admin.put(`/api/v1/apprenticeships/${APPR}`, {nonsense: 1}), 400);
  assertStatus(await admin.put('/api/v1/apprenticeships/99999999', {review_interval_weeks: 12}), 404);
});

test('a break in learning from the page: errors kept in an open form, then started and ended, history shown', async () => {
  const c0 = counts();
  let r = await admin.postForm(`/learners/${LEARNER}/breaks`, {start_date: day(3), reason: 'Long-term sickness'});
  assertStatus(r, 400);
  assertErrors(r, ['start_date']);
  assert.match(r.text, /<details class="details" open>/);
  assert.ok(r.text.includes('>Long-term sickness</textarea>') && r.text.includes(`value="${day(3)}"`));
  r = await admin.postForm(`/learners/${LEARNER}/breaks`, {start_date: '', reason: ''});
  assertStatus(r, 400);
  assertErrors(r, ['start_date', 'reason']);
  assert.equal(counts(), c0, 'nothing written');
  r = await admin.postForm(`/learners/${LEARNER}/breaks`, {start_date: day(-30), reason: 'Long-term sickness'});
  assertStatus(r, 303);
  r = await admin.get(`/learners/${LEARNER}/otj`);
  assert.match(r.text, /On a break/);
  assert.match(r.text, /Long-term sickness/);
  const b = Number(srv.sql(`SELECT max(id) FROM learning_breaks WHERE apprenticeship_id = ${APPR}`));
  assert.ok(r.text.includes(`action="/breaks/${b}/end"`));
  r = await admin.postForm(`/breaks/${b}/end`, {end_date: day(-40)});
  assertStatus(r, 400);
  assertErrors(r, ['end_date']);
  assert.ok(r.text.includes(`value="${day(-40)}"`));
  const end0 = srv.sql(`SELECT e.planned_end_date FROM enrolments e JOIN apprenticeships a ON a.enrolment_id = e.id WHERE a.id = ${APPR}`);
  r = await admin.postForm(`/breaks/${b}/end`, {end_date: day(-2)});
  assertStatus(r, 303);
  const end1 = srv.sql(`SELECT e.planned_end_date FROM enrolments e JOIN apprenticeships a ON a.enrolment_id = e.id WHERE a.id = ${APPR}`);
  assert.equal((Date.parse(end1) - Date.parse(end0)) / 86400000, 28);
  r = await admin.get(`/learners/${LEARNER}/otj`);
  assert.match(r.text, /\(28 days\): Long-term sickness/);
  r = await admin.get(`/admin/apprenticeships/${APPR}`);
  assert.match(r.text, /moved out 28 days by breaks in learning/);
});
