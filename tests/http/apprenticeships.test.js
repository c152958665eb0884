// tests/http/apprenticeships.test.js: issue 16 against the real server: an employer and its
// contact, an apprenticeship enrolment on the demo standard (part-time, with RPL), evidence
// mapped to KSBs and decided like criteria, off-the-job hours recorded, verified and queried,
// employer isolation, a break in learning moving the planned end, the CSV exports, the
// caseload and the dashboard showing the hours, and bad input refused with no change.
'use strict';
const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {spawnSync} = require('node:child_process');
const {startServer, assertStatus} = require('./lib.js');

let srv, admin, assessor, apprentice, boss, otherBoss;
let STD, LEARNER, EMPLOYER, APP;
const day = (offset) => new Date(Date.now() + offset * 86400000).toISOString().slice(0, 10);

before(async () => {
  srv = await startServer({demo: true});
  admin = await srv.login('admin@demo.test');
  assessor = await srv.login('assessor@demo.test');
  STD = Number(srv.sql("SELECT id FROM qualifications WHERE code = 'ST9901'"));
  // an apprentice, two employers each with a contact
  let r = await admin.post('/api/v1/users', {email: 'appr16@demo.test', name: 'Sam Apprentice', role: 'learner',
    password: 'apprentice password 16'});
  assertStatus(r, 201);
  LEARNER = r.json.user.id;
  const contacts = {};
  for (const [key, org] of [['boss', 'Brightside Foods Ltd'], ['other', 'Other Employer Ltd']]) {
    r = await admin.post('/api/v1/users', {email: `${key}16@demo.test`, name: `${key} contact`, role: 'employer',
      password: 'employer password 16'});
    assertStatus(r, 201);
    const u = r.json.user.id;
    r = await admin.post('/api/v1/employers', {name: org});
    assertStatus(r, 201);
    assertStatus(await admin.post(`/api/v1/employers/${r.json.employer.id}/contacts`, {user_id: u}), 201);
    contacts[key] = r.json.employer.id;
  }
  EMPLOYER = contacts.boss;
  apprentice = await srv.login('appr16@demo.test', 'apprentice password 16');
  boss = await srv.login('boss16@demo.test', 'employer password 16');
  otherBoss = await srv.login('other16@demo.test', 'employer password 16');
});
after(() => srv && srv.stop());

const ASSESSOR = () => Number(srv.sql("SELECT id FROM users WHERE email = 'assessor@demo.test'"));

test('an apprenticeship enrolment: refused field by field, then created with planned hours from the rules less RPL', async () => {
  const count = () => srv.sql('SELECT (SELECT count(*) FROM apprenticeships) || \'/\' || (SELECT count(*) FROM enrolments)');
  const before = count();
  let r = await admin.post('/api/v1/apprenticeships', {learner_id: 999999, standard_id: 1, assessor_id: 'x',
    employer_id: 424242, start_date: '2026-02-30', planned_end_date: 'soon', weekly_hours: 200, rpl_ksbs: ['K99']});
  assertStatus(r, 400);
  const fields = r.json.errors.map((e) => e.field).sort();
  for (const f of ['learner_id', 'standard_id', 'assessor_id', 'employer_id', 'start_date', 'planned_end_date',
    'weekly_hours', 'rpl_ksbs']) assert.ok(fields.includes(f), `${f} in ${fields}`);
  r = await admin.post('/api/v1/apprenticeships', {learner_id: LEARNER, standard_id: STD, nonsense: 1});
  assert.equal(r.status, 400, 'an undeclared field is refused');
  assert.equal(count(), before, 'nothing written');
  // part-time (20 hours a week): the standard states 372 hours, 40 recognised as prior learning
  r = await admin.post('/api/v1/apprenticeships', {learner_id: LEARNER, standard_id: STD, assessor_id: ASSESSOR(),
    employer_id: EMPLOYER, start_date: day(-200), planned_end_date: day(165), weekly_hours: '20',
    rpl_otj_hours: 40, rpl_note: 'Level 2 customer service certificate', rpl_ksbs: ['k1', 'B4']});
  assertStatus(r, 201);
  APP = r.json.apprenticeship;
  assert.equal(APP.planned_otj_minutes, (372 - 40) * 60);
  assert.equal(APP.rpl_otj_minutes, 40 * 60);
  assert.equal(APP.weekly_minutes, 20 * 60);
  assert.equal(srv.sql(`SELECT count(*) FROM apprenticeship_rpl_ksbs WHERE apprenticeship_id = ${APP.id}`), '2');
  // the same learner and standard again: refused, nothing more written
  const mid = count();
  r = await admin.post('/api/v1/apprenticeships', {learner_id: LEARNER, standard_id: STD, assessor_id: ASSESSOR(),
    employer_id: EMPLOYER, start_date: day(-10), planned_end_date: day(300), weekly_hours: 30});
  assert.ok(r.status === 409 || r.status === 400, r.text);
  assert.equal(count(), mid);
  assert.equal(srv.sql(`SELECT count(*) FROM audit_events WHERE action = 'apprenticeship.create' AND entity_id = ${APP.id}`), '1');
  // planned hours given explicitly are the plan before prior learning: the RPL hours come off them too
  r = await admin.post('/api/v1/users', {email: 'appr16b@demo.test', name: 'Robin Apprentice', role: 'learner',
    password: 'apprentice password 16'});
  r = await admin.post('/api/v1/apprenticeships', {learner_id: r.json.user.id, standard_id: STD, assessor_id: ASSESSOR(),
    employer_id: EMPLOYER, start_date: day(-30), planned_end_date: day(400), weekly_hours: 30,
    planned_otj_hours: '300', rpl_otj_hours: '50.5'});
  assertStatus(r, 201);
  assert.equal(r.json.apprenticeship.planned_otj_minutes, 300 * 60 - 50 * 60 - 30);
});

test('evidence maps to a KSB and is decided exactly as a criterion; progress and the matrix count KSBs', async () => {
  const prog = async () => (await apprentice.get(`/api/v1/learners/${LEARNER}/progress`)).json.qualifications
    .find((q) => q.qualification_id === STD);
  let q = await prog();
  assert.equal(q.total, 20 - 2, 'K1 and B4 are recognised prior learning');
  const k2 = q.units.find((u) => u.ref === 'K').criteria.find((c) => c.ref === 'K2');
  const s1 = q.units.find((u) => u.ref === 'S').criteria.find((c) => c.ref === 'S1');
  let r = await apprentice.upload('/api/v1/evidence', {title: 'Call log', kind: 'product',
    description: 'Calls I handled, adapted to each customer', occurred_on: day(-5)},
  [{name: 'calls.txt', type: 'text/plain', data: 'Call notes.\n'.repeat(20)}]);
  assertStatus(r, 201);
  const ev = r.json.id;
  r = await apprentice.put(`/api/v1/evidence/${ev}/criteria`,
    {criteria: [{criterion_id: k2.id, note: 'channels'}, {criterion_id: s1.id, note: 'questioning'}]});
  assert.ok(r.status < 300, r.text);
  assertStatus(await apprentice.post(`/api/v1/evidence/${ev}/submit`, {}), 200);
  r = await assessor.post('/api/v1/decisions', {learner_id: LEARNER, criterion_id: k2.id, outcome: 'met',
    feedback: 'Clear adaptation to the channel.', evidence_ids: [ev], declaration: true,
    vacsr: {valid: true, authentic: true, current: true, sufficient: true, reliable: true}});
  assertStatus(r, 201);
  q = await prog();
  assert.equal(q.met, 1);
  assert.equal(q.submitted, 1);
  assert.equal(q.units.find((u) => u.ref === 'K').criteria.find((c) => c.ref === 'K2').status, 'met');
  r = await assessor.get(`/api/v1/learners/${LEARNER}/matrix?qualification_id=${STD}`);
  assertStatus(r, 200);
  assert.ok(r.text.includes('"K2"'));
  // the employer sees the apprentice's KSB progress, not their evidence
  r = await boss.get(`/api/v1/learners/${LEARNER}/progress`);
  assertStatus(r, 200);
  assert.equal(r.json.qualifications.find((x) => x.qualification_id === STD).met, 1);
  // (a route the employer role may not use answers about any object as if it did not exist)
  assertStatus(await boss.get(`/api/v1/evidence/${ev}`), 404);
  assertStatus(await boss.get(`/api/v1/learners/${LEARNER}/evidence`), 404);
});

test('KSBs recognised as prior learning leave every total: progress, matrix, caseload, dashboard, employer page', async () => {
  // K1 and B4 were recognised at enrolment (first test): of the standard's KSBs they count nowhere
  const all = Number(srv.sql(`SELECT count(*) FROM criteria c JOIN units u ON u.id = c.unit_id
    WHERE u.qualification_id = ${STD} AND c.retired = 0 AND u.retired = 0`));
  let r = await apprentice.get(`/api/v1/learners/${LEARNER}/progress`);
  const q = r.json.qualifications.find((x) => x.qualification_id === STD);
  assert.equal(q.total, all - 2);
  assert.equal(q.rpl, 2);
  assert.equal(q.percent, Math.floor(100 * q.met / (all - 2)));
  const crits = q.units.flatMap((u) => u.criteria);
  assert.deepEqual(crits.filter((c) => c.status === 'rpl').map((c) => c.ref).sort(), ['B4', 'K1']);
  assert.equal(crits.find((c) => c.ref === 'K1').status_label, 'Recognised prior learning');
  const k = q.units.find((u) => u.ref === 'K');
  assert.equal(k.total, k.criteria.length - 1, 'the unit total leaves K1 out too');
  r = await apprentice.get(`/learners/${LEARNER}/progress`);
  assert.match(r.text, /Recognised prior learning<\/dt><dd>2 /);
  // the matrix: K1 shown as RPL, not counted
  r = await assessor.get(`/api/v1/learners/${LEARNER}/matrix`, {query: {qualification_id: STD}});
  assertStatus(r, 200);
  assert.equal(r.json.total, all - 2);
  const mk1 = r.json.units.flatMap((u) => u.outcomes.flatMap((o) => o.criteria)).find((c) => c.ref === 'K1');
  assert.equal(mk1.status, 'rpl');
  r = await assessor.get(`/learners/${LEARNER}/matrix`, {query: {qualification_id: STD}});
  assert.match(r.text, /class="mx-st st-rpl">Recognised prior learning</);
  // mapping evidence: K1 reads as recognised prior learning and offers no box to tick
  const ev = await apprentice.post('/api/v1/evidence', {title: 'Mapping with RPL', kind: 'reflective_account',
    description: 'x', occurred_on: '2026-06-10', body: 'I did it.'});
  assertStatus(ev, 201);
  const k1 = crits.find((c) => c.ref === 'K1');
  const cid = (c) => c.criterion_id || c.id;
  const b4 = crits.find((c) => c.ref === 'B4');
  const k2 = crits.find((c) => c.ref === 'K2');
  const mapping = await apprentice.get(`/api/v1/evidence/${ev.json.id}/criteria`);
  const mc = mapping.json.qualifications.flatMap((x) => x.units.flatMap((u) => u.outcomes.flatMap((o) => o.criteria)));
  assert.equal(mc.find((c) => c.id === cid(k1)).status, 'rpl');
  assert.equal(mc.find((c) => c.id === cid(k1)).can_tick, false);
  assert.equal(mc.find((c) => c.id === cid(k2)).can_tick, true);
  const mpage = await apprentice.get(`/evidence/${ev.json.id}/criteria`);
  assertStatus(mpage, 200);
  assert.doesNotMatch(mpage.text, new RegExp(`name="criterion" value="${cid(k1)}"`));
  assert.doesNotMatch(mpage.text, new RegExp(`name="criterion" value="${cid(b4)}"`));
  assert.match(mpage.text, new RegExp(`name="criterion" value="${cid(k2)}"`));
  assert.match(mpage.text, /Recognised prior learning: no evidence needed/);
  // the caseload, the dashboard and the employer's page count the same
  r = await assessor.get('/api/v1/caseload', {query: {per_page: 100}});
  const item = r.json.items.find((i) => i.enrolment_id === APP.enrolment_id);
  assert.equal(item.criteria_total, all - 2);
  assert.equal(item.percent, q.percent);
  r = await admin.get('/api/v1/centre/learners', {query: {qualification_id: STD, per_page: 100}});
  const row = r.json.enrolments.find((i) => i.enrolment_id === APP.enrolment_id);
  assert.equal(row.total, all - 2);
  assert.equal(row.percent, q.percent);
  r = await boss.get('/api/v1/employer/apprentices');
  const mine = r.json.apprentices.find((a) => a.learner_id === LEARNER);
  assert.equal(mine.ksb_total, all - 2);
  // the portfolio export for the awarding body: the same totals, K1 and B4 marked as RPL
  r = await admin.get(`/api/v1/learners/${LEARNER}/export`);
  assertStatus(r, 200);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evitrack-appr-zip-'));
  fs.writeFileSync(path.join(dir, 'x.zip'), r.body);
  const index = spawnSync('unzip', ['-p', path.join(dir, 'x.zip'), 'index.html'], {encoding: 'utf8'}).stdout;
  fs.rmSync(dir, {recursive: true, force: true});
  assert.ok(index.includes(`${q.met} of ${all - 2} (${q.percent}%)`), 'the export counts without the RPL KSBs');
  assert.equal((index.match(/<td class="rpl">Recognised prior learning/g) || []).length, 2);
  // a decision on a recognised KSB does not bring it back into the totals
  assert.equal(srv.sql(`SELECT count(*) FROM criterion_status WHERE learner_id = ${LEARNER}
    AND criterion_id IN (SELECT criterion_id FROM apprenticeship_rpl_ksbs WHERE apprenticeship_id = ${APP.id})`), '0');
});

test('off-the-job hours: recorded by the apprentice, refused when wrong, verified or queried by their employer only', async () => {
  const state = () => srv.sql(`SELECT recorded_minutes || '/' || verified_minutes FROM apprenticeships WHERE id = ${APP.id}`);
  const entries = () => srv.sql(`SELECT count(*) FROM otj_entries WHERE apprenticeship_id = ${APP.id}`);
  for (const [body, field] of [
    [{occurred_on: day(3), hours: 2, activity: 'theory', description: 'x'}, 'occurred_on'],
    [{occurred_on: day(-400), hours: 2, activity: 'theory', description: 'x'}, 'occurred_on'],
    [{occurred_on: day(-1), hours: 25, activity: 'theory', description: 'x'}, 'hours'],
    [{occurred_on: day(-1), hours: 0, minutes: 0, activity: 'theory', description: 'x'}, 'hours'],
    [{occurred_on: day(-1), hours: 1, minutes: 75, activity: 'theory', description: 'x'}, 'minutes'],
    [{occurred_on: day(-1), hours: 1, activity: 'sleeping', description: 'x'}, 'activity'],
    [{occurred_on: day(-1), hours: 1, activity: 'theory', description: '   '}, 'description'],
    [{occurred_on: day(-1), hours: 1, activity: 'theory', description: 'x', evidence_id: 1}, 'evidence_id'],
  ]) {
    const r = await apprentice.post(`/api/v1/learners/${LEARNER}/otj`, body);
    assertStatus(r, 400, JSON.stringify(body));
    assert.ok(r.json.errors.some((e) => e.field === field), `${field}: ${r.text}`);
  }
  assert.equal(entries(), '0');
  let r = await apprentice.post(`/api/v1/learners/${LEARNER}/otj`, {occurred_on: day(-2), hours: 3, minutes: 15,
    activity: 'shadowing', description: 'Shadowed the team leader on complaints'});
  assertStatus(r, 201);
  const e1 = r.json.entry.id;
  r = await apprentice.post(`/api/v1/learners/${LEARNER}/otj`, {occurred_on: day(-1), hours: '1', minutes: '45',
    activity: 'online', description: 'Data protection module'});
  assertStatus(r, 201);
  const e2 = r.json.entry.id;
  assert.equal(state(), `${5 * 60}/0`);
  // another learner cannot record for them; another employer cannot see or verify
  const other = await srv.login('learner@demo.test');
  assertStatus(await other.post(`/api/v1/learners/${LEARNER}/otj`, {occurred_on: day(-1), hours: 1, activity: 'theory',
    description: 'x'}), 404);
  assertStatus(await otherBoss.get(`/api/v1/learners/${LEARNER}/otj`), 404);
  assertStatus(await otherBoss.get(`/api/v1/learners/${LEARNER}/progress`), 404);
  assertStatus(await otherBoss.post(`/api/v1/otj/${e1}/verify`, {}), 404);
  assertStatus(await apprentice.post(`/api/v1/otj/${e1}/verify`, {}), 403);
  r = await otherBoss.get('/api/v1/employer/apprentices');
  assertStatus(r, 200);
  assert.ok(!r.text.includes('appr16@demo.test'), 'not listed for another employer');
  assert.equal(state(), `${5 * 60}/0`);
  // the employer verifies one; a second verify is refused; a query needs a note
  assertStatus(await boss.post(`/api/v1/otj/${e1}/verify`, {}), 200);
  assertStatus(await boss.post(`/api/v1/otj/${e1}/verify`, {}), 409);
  assert.equal(state(), `${5 * 60}/${3 * 60 + 15}`);
  r = await boss.post(`/api/v1/otj/${e2}/query`, {note: ''});
  assertStatus(r, 400);
  assert.equal(r.json.errors[0].field, 'note');
  assertStatus(await boss.post(`/api/v1/otj/${e2}/query`, {note: 'Which module was this?'}), 200);
  // the assessor queries the verified one: it leaves the verified total
  assertStatus(await assessor.post(`/api/v1/otj/${e1}/query`, {note: 'Please add who you shadowed'}), 200);
  assert.equal(state(), `${5 * 60}/0`);
  assertStatus(await assessor.post(`/api/v1/otj/${e1}/verify`, {}), 200);
  r = await boss.get(`/api/v1/learners/${LEARNER}/otj`);
  assertStatus(r, 200);
  assert.equal(r.json.recorded_minutes, 300);
  assert.equal(r.json.verified_minutes, 195);
  assert.equal(r.json.planned_minutes, 332 * 60);
  assert.ok(r.json.expected_minutes > 150 * 60, `about 200 of 365 days in: ${r.json.expected_minutes}`);
  assert.equal(r.json.state, 'at_risk', '5 hours against 180 expected');
  const byId = Object.fromEntries(r.json.entries.map((e) => [e.id, e]));
  assert.equal(byId[e1].status, 'verified');
  assert.equal(byId[e2].status, 'queried');
  assert.equal(byId[e2].review_note, 'Which module was this?');
  assert.equal(srv.sql(`SELECT count(*) FROM audit_events WHERE action IN ('otj.record', 'otj.verify', 'otj.query')
    AND learner_id = ${LEARNER}`), '6');
  // the employer's home lists the apprentice with one entry to verify... none now
  r = await boss.get('/api/v1/employer/apprentices');
  const row = r.json.apprentices.find((a) => a.learner_id === LEARNER);
  assert.equal(row.otj.state, 'at_risk');
  assert.equal(row.ksb_met, 1);
  assert.equal(row.to_verify, 0);
});

test('a break in learning pauses the pace and moves the planned end out by its length; history kept', async () => {
  const end0 = srv.sql(`SELECT planned_end_date FROM enrolments WHERE id = ${APP.enrolment_id}`);
  let r = await assessor.post(`/api/v1/learners/${LEARNER}/breaks`, {start_date: day(2), reason: 'Surgery'});
  assertStatus(r, 400);
  assert.equal(r.json.errors[0].field, 'start_date');
  assertStatus(await boss.post(`/api/v1/learners/${LEARNER}/breaks`, {start_date: day(-20), reason: 'x'}), 404);
  r = await assessor.post(`/api/v1/learners/${LEARNER}/breaks`, {start_date: day(-20), reason: 'Surgery and recovery'});
  assertStatus(r, 201);
  const b = r.json.break.id;
  assertStatus(await assessor.post(`/api/v1/learners/${LEARNER}/breaks`, {start_date: day(-10), reason: 'again'}), 409);
  r = await apprentice.get(`/api/v1/learners/${LEARNER}/otj`);
  assert.equal(r.json.state, 'on_break');
  assert.equal(srv.sql(`SELECT status FROM enrolments WHERE id = ${APP.enrolment_id}`), 'on_break');
  r = await assessor.post(`/api/v1/breaks/${b}/end`, {end_date: day(-21)});
  assertStatus(r, 400);
  r = await assessor.post(`/api/v1/breaks/${b}/end`, {end_date: day(-6)});
  assertStatus(r, 200);
  assert.equal(r.json.break.days, 14);
  const end1 = srv.sql(`SELECT planned_end_date FROM enrolments WHERE id = ${APP.enrolment_id}`);
  assert.equal((Date.parse(end1) - Date.parse(end0)) / 86400000, 14);
  assert.equal(srv.sql(`SELECT status FROM enrolments WHERE id = ${APP.enrolment_id}`), 'active');
  assertStatus(await assessor.post(`/api/v1/breaks/${b}/end`, {end_date: day(-5)}), 409);
  r = await apprentice.get(`/api/v1/learners/${LEARNER}/otj`);
  const a = r.json.apprenticeships[0];
  assert.equal(a.pace.break_days, 14);
  assert.equal(a.breaks.length, 1);
  assert.equal(a.breaks[0].reason, 'Surgery and recovery');
  assert.equal(a.pace.plan_days, 365, 'the plan holds the same days of learning');
  // KSB progress pauses for the break exactly as the hours do: the progress page, the
  // caseload and the dashboard count the same days of learning (not the 14 days away)
  const hours = a.pace;
  assert.equal(hours.active_days, 200 - 14);
  r = await apprentice.get(`/api/v1/learners/${LEARNER}/progress`);
  const ksb = r.json.qualifications.find((q) => q.enrolment_id === APP.enrolment_id).pace;
  assert.equal(ksb.days_elapsed, hours.active_days, JSON.stringify(ksb));
  assert.equal(ksb.days_total, hours.plan_days);
  assert.equal(ksb.expected_percent, hours.expected_percent);
  r = await assessor.get('/api/v1/caseload', {query: {per_page: 100}});
  const item = r.json.items.find((i) => i.enrolment_id === APP.enrolment_id);
  assert.equal(item.pace.days_elapsed, hours.active_days);
  assert.equal(item.pace.expected_percent, hours.expected_percent);
  r = await admin.get('/api/v1/centre/learners', {query: {qualification_id: STD, per_page: 100}});
  assertStatus(r, 200);
  const row = (r.json.enrolments || []).find((i) => i.enrolment_id === APP.enrolment_id);
  assert.ok(row, r.text.slice(0, 400));
  assert.equal(row.pace.days_elapsed, hours.active_days);
  assert.equal(row.pace.expected_percent, hours.expected_percent);
  // and a running break freezes the expected share at its first day (then undone here)
  r = await assessor.post(`/api/v1/learners/${LEARNER}/breaks`, {start_date: day(-3), reason: 'Family leave'});
  assertStatus(r, 201);
  r = await apprentice.get(`/api/v1/learners/${LEARNER}/progress`);
  const paused = r.json.qualifications.find((q) => q.enrolment_id === APP.enrolment_id).pace;
  assert.equal(paused.state, 'on_break');
  assert.equal(paused.days_elapsed, 200 - 14 - 3);
  r = await assessor.get('/api/v1/caseload', {query: {per_page: 100}});
  assert.equal(r.json.items.find((i) => i.enrolment_id === APP.enrolment_id).pace.days_elapsed, 200 - 14 - 3);
  r = await admin.get('/api/v1/centre/learners', {query: {qualification_id: STD, per_page: 100}});
  assert.equal(r.json.enrolments.find((i) => i.enrolment_id === APP.enrolment_id).pace.days_elapsed,
    200 - 14 - 3);
  const b2 = Number(srv.sql(`SELECT max(id) FROM learning_breaks WHERE apprenticeship_id = ${APP.id}`));
  srv.sql(`DELETE FROM learning_breaks WHERE id = ${b2}; UPDATE apprenticeships SET break_open_since = NULL WHERE id = ${APP.id};
    UPDATE enrolments SET status = 'active' WHERE id = ${APP.enrolment_id}`);
});

test('CSV for a funding audit: per learner and per cohort', async () => {
  let r = await boss.get(`/learners/${LEARNER}/otj.csv`);
  assertStatus(r, 200);
  assert.match(r.headers['content-type'], /text\/csv/);
  const lines = r.text.trim().split('\r\n');
  assert.equal(lines[0].split(',')[0], 'learner');
  assert.equal(lines.length, 3);
  assert.ok(lines.some((l) => l.includes('Shadowing') && l.includes(',3.25,') && l.includes('verified')), r.text);
  assertStatus(await otherBoss.get(`/learners/${LEARNER}/otj.csv`), 404);
  r = await admin.get('/centre/otj.csv');
  assertStatus(r, 200);
  const row = r.text.split('\r\n').find((l) => l.includes('appr16@demo.test'));
  assert.ok(row, r.text);
  assert.ok(row.includes('Brightside Foods Ltd') && row.includes(',332.00,5.00,3.25,') && row.includes(',at_risk,14,1'), row);
  assertStatus(await assessor.get('/centre/otj.csv'), 403);
});

test('the caseload and the dashboard show the hours; the pages render', async () => {
  let r = await assessor.get('/api/v1/caseload', {query: {per_page: 100}});
  assertStatus(r, 200);
  const item = r.json.items.find((i) => i.id === LEARNER && i.qualification_id === STD);
  assert.ok(item && item.otj, JSON.stringify(item));
  assert.equal(item.otj.state, 'at_risk');
  r = await assessor.get('/caseload');
  assert.match(r.text, /Hours: At risk/);
  r = await admin.get('/api/v1/centre/progress');
  assertStatus(r, 200);
  assert.ok(r.json.totals.otj.apprentices >= 2, JSON.stringify(r.json.totals.otj));
  assert.ok(r.json.totals.otj.behind_or_at_risk >= 1);
  r = await admin.get('/centre');
  assert.match(r.text, /apprentices behind or at risk on off-the-job hours/);
  for (const [c, p] of [[apprentice, `/learners/${LEARNER}/otj`], [boss, `/learners/${LEARNER}/otj`], [boss, '/employer'],
    [assessor, `/learners/${LEARNER}/otj`], [apprentice, `/learners/${LEARNER}/progress`]]) {
    r = await c.get(p);
    assertStatus(r, 200, p);
  }
  r = await boss.get(`/learners/${LEARNER}/otj`);
  assert.match(r.text, /Shadowed the team leader/);
  assert.match(r.text, /action="\/otj\/\d+\/verify"|Verified/);
  r = await apprentice.get(`/learners/${LEARNER}/progress`);
  assert.match(r.text, /Off-the-job training/);
  // a page form with a mistake re-renders with the error summary, nothing written
  const n = srv.sql('SELECT count(*) FROM otj_entries');
  r = await apprentice.postForm(`/learners/${LEARNER}/otj`, {occurred_on: '', hours: '', activity: '', description: ''});
  assertStatus(r, 400);
  assert.match(r.text, /There is a problem/);
  assert.match(r.text, /href="#occurred_on"/);
  assert.equal(srv.sql('SELECT count(*) FROM otj_entries'), n);
  r = await apprentice.postForm(`/learners/${LEARNER}/otj`, {occurred_on: day(0), hours: '1', minutes: '0',
    activity: 'mentoring', description: 'Mentoring session'});
  assert.equal(r.status, 303);
  assert.match(r.headers.location, /\/learners\/\d+\/otj\?done=otj_recorded/);
});

test('an employer contact sees only routes of their role: no evidence, decisions, timeline or admin', async () => {
  for (const p of ['/api/v1/learners', '/api/v1/caseload', '/api/v1/centre/progress', '/admin/users']) {
    const r = await boss.get(p);
    assert.equal(r.status, 403, `${p}: ${r.status}`);
  }
  // about one object (their own apprentice's included): exactly as if it did not exist
  const missing = await boss.get('/api/v1/learners/99999999/decisions');
  for (const p of [`/api/v1/learners/${LEARNER}/decisions`, `/api/v1/learners/${LEARNER}/timeline`,
    `/learners/${LEARNER}/matrix`, `/learners/${LEARNER}/evidence`]) {
    const r = await boss.get(p);
    assert.equal(r.status, 404, `${p}: ${r.status}`);
    if (p.startsWith('/api/')) assert.equal(r.text, missing.text);
  }
  const me = await boss.get('/api/v1/me');
  assertStatus(me, 200);
  assert.equal(me.json.user ? me.json.user.role : me.json.role, 'employer');
});

test('an employer contact is shown no link that answers them 404 (summary, progress, hours, home)', async () => {
  const seen = new Set();
  for (const page of [`/learners/${LEARNER}`, `/learners/${LEARNER}/progress`, `/learners/${LEARNER}/otj`, '/employer']) {
    const r = await boss.get(page);
    assertStatus(r, 200, page);
    for (const m of r.text.matchAll(/href="(\/[^"#]*)/g)) {
      const href = m[1].replace(/&amp;/g, '&');
      if (!href || seen.has(href) || /sign-?out|logout/.test(href)) continue;
      seen.add(href);
      const h = await boss.get(href);
      assert.notEqual(h.status, 404, `${page} links to ${href}, which answers the employer 404`);
    }
  }
  assert.ok(seen.has(`/learners/${LEARNER}/progress`) && seen.has(`/learners/${LEARNER}/otj`), [...seen].join(' '));
});

test('a page query with no note: the summary links to that entry\'s note box, which opens with the message', async () => {
  const e = Number(srv.sql(`SELECT id FROM otj_entries WHERE learner_id = ${LEARNER} AND status = 'pending' ORDER BY id DESC LIMIT 1`));
  assert.ok(e > 0);
  const r = await boss.postForm(`/otj/${e}/query`, {note: '  '});
  assertStatus(r, 400);
  assert.match(r.text, new RegExp(`<a href="#note-${e}">Say what needs checking`));
  assert.ok(!/href="#note"/.test(r.text), 'no link to a missing #note');
  assert.match(r.text, new RegExp(`<details class="details" open><summary>Query`));
  assert.match(r.text, new RegExp(`id="note-${e}-error"><span class="visually-hidden">Error:</span> Say what needs checking`));
  assert.match(r.text, new RegExp(`id="note-${e}"[^>]*aria-describedby="note-${e}-error"`));
  assert.equal(srv.sql(`SELECT status FROM otj_entries WHERE id = ${e}`), 'pending');
});

test('the hours page shows dates as "1 Jun 2026" like every other page, not ISO', async () => {
  const r = await boss.get(`/learners/${LEARNER}/otj`);
  assertStatus(r, 200);
  const iso = /\b\d{4}-\d{2}-\d{2}\b/g;
  // the text a person reads or hears: markup and attribute values (datetime=, href=) removed
  const text = r.text.replace(/<[^>]*>/g, ' ');
  assert.deepEqual(text.match(iso), null, 'no ISO date in the page text');
  const start = srv.sql(`SELECT e.start_date FROM apprenticeships a JOIN enrolments e ON e.id = a.enrolment_id
    WHERE a.learner_id = ${LEARNER} ORDER BY a.id DESC LIMIT 1`);
  const human = new Date(`${start}T12:00:00Z`).toLocaleDateString('en-GB', {day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC'});
  assert.match(text, new RegExp(`Dates\\s+${human} to \\d{1,2} [A-Z][a-z]{2} \\d{4}`));
  assert.match(r.text, /<td data-label="Date"><time datetime="\d{4}-\d{2}-\d{2}">\d{1,2} [A-Z][a-z]{2} \d{4}<\/time><\/td>/);
  assert.match(text, /the entry of \d{1,2} [A-Z][a-z]{2} \d{4}/);
  assert.match(text, /From \d{1,2} [A-Z][a-z]{2} \d{4} to \d{1,2} [A-Z][a-z]{2} \d{4} \(\d+ days\)/, 'a finished break');
  // the form's hint keeps the format a date box takes
  const form = (await apprentice.get(`/learners/${LEARNER}/otj`)).text;
  assert.match(form, /for example 2026-03-27/);
  assert.match(form, /id="occurred_on" name="occurred_on" type="date"/);
});

test('the hours form links an entry to one of the learner\'s evidence items; the entry shows the link', async () => {
  let r = await apprentice.upload('/api/v1/evidence', {title: 'Complaints log 16', kind: 'product',
    description: 'Complaints I handled', occurred_on: day(-3)},
  [{name: 'log.txt', type: 'text/plain', data: 'Complaint notes.\n'.repeat(20)}]);
  assertStatus(r, 201);
  const ev = (r.json.evidence || r.json).id;
  r = await apprentice.get(`/learners/${LEARNER}/otj`);
  assert.match(r.text, /<label class="label" for="evidence_id">Link to evidence \(optional\)<\/label>/);
  assert.match(r.text, new RegExp(`<option value="${ev}">Complaints log 16 \\(\\d{1,2} [A-Z][a-z]{2} \\d{4}\\)</option>`));
  // someone else's evidence is refused at the field and kept out of the list
  const foreign = Number(srv.sql(`SELECT id FROM evidence WHERE learner_id <> ${LEARNER} ORDER BY id LIMIT 1`));
  assert.ok(!r.text.includes(`<option value="${foreign}">`));
  r = await apprentice.postForm(`/learners/${LEARNER}/otj`, {occurred_on: day(-1), hours: '1', minutes: '0',
    activity: 'assignment', description: 'Wrote up complaints', evidence_id: String(foreign)});
  assertStatus(r, 400);
  assert.match(r.text, /href="#evidence_id"/);
  assert.match(r.text, /id="evidence_id-error"/);
  r = await apprentice.postForm(`/learners/${LEARNER}/otj`, {occurred_on: day(-1), hours: '1', minutes: '0',
    activity: 'assignment', description: 'Wrote up complaints', evidence_id: String(ev)});
  assert.equal(r.status, 303, r.text);
  const id = srv.sql(`SELECT id FROM otj_entries WHERE learner_id = ${LEARNER} AND evidence_id = ${ev}`);
  assert.ok(Number(id) > 0, 'the entry records the evidence');
  r = await apprentice.get(`/learners/${LEARNER}/otj`);
  assert.match(r.text, new RegExp(`<tr id="entry-${id}">[\\s\\S]*?Evidence: <a href="/evidence/${ev}">Complaints log 16</a>`));
  assertStatus(await apprentice.get(`/evidence/${ev}`), 200);
  // without evidence the form still records (the field is optional)
  r = await apprentice.postForm(`/learners/${LEARNER}/otj`, {occurred_on: day(-1), hours: '0', minutes: '30',
    activity: 'online', description: 'Short module', evidence_id: ''});
  assert.equal(r.status, 303);
});
