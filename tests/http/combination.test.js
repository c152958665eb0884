// tests/http/combination.test.js: unit pages and handbook text imported as a centre would
// (dry run, re-import a no-op), a qualification's structure and rules of combination, the
// optional units chosen on an enrolment (API and form, who may), and progress by credits
// against two worked examples: a learner whose chosen units meet the rules, one with too few.
'use strict';

const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const {startServer, assertStatus, ROOT} = require('./lib.js');

const SPECS = path.join(ROOT, 'tests', 'specs');
const SHARED = process.env.SHARED_DIR || path.join(ROOT, '..', 'shared');
const CODE = 'L2-CERTIFICATE-RETAIL-CUSTOMER-SERVICE-RQF';
let srv, admin, assessor, assessor2, learner;
let QID, U, EA, EB, LA, LB;

before(async () => {
  srv = await startServer({demo: true});
  [admin, assessor, assessor2] = await Promise.all([
    srv.login('admin@demo.test'), srv.login('assessor@demo.test'), srv.login('assessor2@demo.test'),
  ]);
});

after(async () => {
  if (srv) await srv.stop();
});

const count = () => srv.sql('SELECT (SELECT count(*) FROM qualifications) || \'/\' || (SELECT count(*) FROM units) || ' +
  '\'/\' || (SELECT count(*) FROM criteria) || \'/\' || (SELECT count(*) FROM unit_groups)');

test('import --dry-run prints what would change and writes nothing', async () => {
  const start = count();
  const r = await srv.run(['import', '--dry-run', path.join(SPECS, 'unit_handbook.txt'), path.join(SPECS, 'structure.json')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /unit_handbook\.txt: unit handbook text \(dry run: nothing saved\): changes below/);
  assert.match(r.stdout, /unit 201 "Handle customer complaints in a retail setting" .*: created: 2 outcomes/);
  assert.match(r.stdout, /1\.2 +-> outcome 1 by document: Describe the limits of own authority when handling: a\) refunds b\)/);
  assert.equal(count(), start);
  assert.equal(srv.sql('SELECT count(*) FROM audit_events WHERE action = \'spec.import\' AND after LIKE \'%unit_handbook%\''), '0');
});

test('handbook text and a structure file import with credits, GLH, groups and rules; again is a no-op', async () => {
  let r = await srv.run(['import', path.join(SPECS, 'unit_handbook.txt'), path.join(SPECS, 'structure.json')]);
  assert.equal(r.code, 0, r.stderr);
  QID = Number(srv.sql(`SELECT id FROM qualifications WHERE code = '${CODE}'`));
  U = Object.fromEntries(srv.sqlRows(`SELECT ref, id FROM units WHERE qualification_id = ${QID}`).map((x) => [x.ref, x.id]));
  assert.deepEqual(Object.keys(U).sort(), ['201', '202', '203', '204']);
  const events = srv.sql('SELECT count(*) FROM audit_events');
  const after = count();
  r = await srv.run(['import', path.join(SPECS, 'unit_handbook.txt'), path.join(SPECS, 'structure.json')]);
  assert.equal(r.code, 0);
  assert.equal((r.stdout.match(/no changes \(already up to date\)/g) || []).length, 2, r.stdout);
  assert.equal(count(), after);
  assert.equal(srv.sql('SELECT count(*) FROM audit_events'), events);

  // the unit page from the shared examples, into this qualification
  r = await srv.run(['import', '--qualification', CODE, path.join(SHARED, 'spec-examples', 'unit_page_per_outcome.txt')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /unit page/);
  r = await srv.run(['import', '--qualification', CODE, path.join(SHARED, 'spec-examples', 'unit_page_per_outcome.txt')]);
  assert.match(r.stdout, /no changes/);
  // it is unit 201 as its unit page publishes it (same URN, X/000/0001): the unit loaded
  // from the handbook is updated and keeps its ref, no second unit appears
  assert.equal(srv.sql(`SELECT count(*) FROM units WHERE qualification_id = ${QID}`), '4');
  assert.equal(srv.sql(`SELECT ref FROM units WHERE qualification_id = ${QID} AND urn = 'X/000/0001'`), '201');
  assert.equal(srv.sql(`SELECT title FROM units WHERE qualification_id = ${QID} AND urn = 'X/000/0001'`),
    'Handling customer complaints in a retail setting');
  // ...and without a qualification named it is found by its URN too
  r = await srv.run(['import', '--dry-run', path.join(SHARED, 'spec-examples', 'unit_page_per_outcome.txt')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /no changes/);

  const q = (await admin.get(`/api/v1/qualifications/${QID}`)).json;
  assert.equal(q.qan, '603/9999/1');
  assert.equal(q.credit_value, 9);
  assert.equal(q.glh, 60);
  assert.equal(q.tqt, 90);
  assert.deepEqual(q.structure.groups.map((g) => [g.name, g.mandatory, g.units.map((u) => u.ref)]),
    [['Mandatory units', true, ['201', '202']], ['Optional group B', false, ['203', '204']]]);
  assert.equal(q.structure.rules.min_credits, 9);
  assert.deepEqual(q.structure.rules.at_or_above_level, [{level: 2, min_credits: 7}]);
  const u201 = q.units.find((u) => u.ref === '201');
  assert.equal(u201.credit_value, 3);
  assert.equal(u201.glh, 24);
  assert.equal(u201.urn, 'X/000/0001');
  const c12 = u201.outcomes[0].criteria[1];
  assert.equal(c12.text, 'Describe the limits of own authority when handling:\na) refunds\nb) replacements & exchanges\nc) "goodwill" gestures.');

  // pages show the sub-items as a list
  const page = await admin.get(`/units/${U['201']}`);
  assertStatus(page, 200);
  assert.match(page.text, /handling:<ul class="list spec-subitems"><li class="spec-subitem--lettered">a\) refunds<\/li>/);
  assert.match(page.text, /Credit value<\/dt><dd>3</);
  const qpage = await admin.get(`/qualifications/${QID}`);
  assert.match(qpage.text, /Structure and rules of combination/);
  assert.match(qpage.text, /At least 4 credits from this group/);

  // the export carries the structure and imports again as a no-op
  const spec = await admin.get(`/api/v1/qualifications/${QID}/spec`);
  const doc = JSON.parse(spec.text);
  assert.equal(doc.qualification.groups.length, 2);
  assert.equal(doc.units.find((u) => u.ref === '203').credit_value, 4);
  const back = await admin.post('/api/v1/specs', {name: 'export.json', content: spec.text});
  assertStatus(back, 200);
  assert.equal(back.json.changes, 0);
});

test('a file that fits no layout says which layouts are known and what it found', async () => {
  const r = await admin.post('/api/v1/specs', {name: 'letter.txt', content: 'Dear centre,\nplease see the unit.\n'});
  assertStatus(r, 400);
  assert.equal(r.json.error.line, 1);
  assert.match(r.json.error.reason, /revision page.*unit page.*unit handbook text.*Found 'Dear centre,'/);
  const r2 = await admin.post('/api/v1/specs', {name: 'lo.txt',
    content: 'Unit 301 Things\nThe learner will:\n1. Know a\nThe learner can:\n1.1 Do a\n2.1 Do b\n'});
  assertStatus(r2, 400);
  assert.equal(r2.json.error.line, 6);
  assert.match(r2.json.error.reason, /no outcome 2: expected a line such as '2\. Understand/);
});

async function enrol(email, name) {
  let r = await srv.run(['user', 'add', '--email', email, '--name', name, '--role', 'learner'], {input: 'a long password 123\n'});
  assert.equal(r.code, 0, r.stderr);
  r = await srv.run(['enrol', '--learner', email, '--qualification', CODE, '--assessor', 'assessor@demo.test']);
  assert.equal(r.code, 0, r.stderr);
  const id = Number(srv.sql(`SELECT id FROM users WHERE email = '${email}'`));
  const e = Number(srv.sql(`SELECT id FROM enrolments WHERE learner_id = ${id} AND qualification_id = ${QID}`));
  return [id, e];
}

function meet(learner, ...refs) {
  for (const ref of refs) {
    srv.sql(`UPDATE criterion_status SET status = 'met' WHERE learner_id = ${learner} AND unit_id = ${U[ref]}`);
  }
}

async function progressOf(learnerId) {
  const r = await admin.get(`/api/v1/learners/${learnerId}/progress`);
  assertStatus(r, 200);
  return r.json.qualifications.find((q) => q.qualification_id === QID);
}

test('optional units: assessor or admin choose them; bad choices change nothing', async () => {
  [LA, EA] = await enrol('ann@demo.test', 'Ann Optional');
  [LB, EB] = await enrol('bob@demo.test', 'Bob Fewcredits');
  learner = await srv.login('ann@demo.test', 'a long password 123');

  let r = await assessor.put(`/api/v1/enrolments/${EA}/units`, {unit_ids: [U['203']]});
  assertStatus(r, 200);
  assert.deepEqual(r.json.chosen_unit_ids, [U['203']]);
  r = await admin.put(`/api/v1/enrolments/${EB}/units`, {unit_ids: [U['204']]});
  assertStatus(r, 200);
  assert.equal(srv.sql(`SELECT count(*) FROM audit_events WHERE action = 'enrolment.units' AND entity_id = ${EB}`), '1');

  const before = srv.sql('SELECT count(*) FROM enrolment_units');
  for (const body of [{unit_ids: [U['201']]}, {unit_ids: ['x']}, {unit_ids: 'nope'}, {}, {unit_ids: [999999]}]) {
    r = await admin.put(`/api/v1/enrolments/${EA}/units`, body);
    assertStatus(r, 400, JSON.stringify(body));
    assert.equal(r.json.error.code, 'invalid_units');
  }
  r = await learner.put(`/api/v1/enrolments/${EA}/units`, {unit_ids: [U['204']]});
  assertStatus(r, 403);
  r = await assessor2.put(`/api/v1/enrolments/${EA}/units`, {unit_ids: [U['204']]});
  assertStatus(r, 403);
  r = await admin.put('/api/v1/enrolments/999999/units', {unit_ids: []});
  assertStatus(r, 404);
  assert.equal(srv.sql('SELECT count(*) FROM enrolment_units'), before);

  // the learner reads their choice; the page form works without JavaScript
  r = await learner.get(`/api/v1/enrolments/${EA}/units`);
  assertStatus(r, 200);
  assert.equal(r.json.can_choose, false);
  const form = await assessor.get(`/enrolments/${EA}/units`);
  assertStatus(form, 200);
  assert.match(form.text, new RegExp(`<input type="checkbox" id="unit-${U['203']}" name="unit_ids" value="${U['203']}" checked>`));
  r = await assessor.postForm(`/enrolments/${EA}/units`, {unit_ids: [String(U['203'])]});
  assert.equal(r.status, 303);
  r = await assessor.postForm(`/enrolments/${EA}/units`, {unit_ids: [String(U['201'])]});
  assertStatus(r, 400);
  assert.match(r.text, /error-summary/);
  assert.deepEqual((await learner.get(`/api/v1/enrolments/${EA}/units`)).json.chosen_unit_ids, [U['203']]);
});

test('progress follows the rules of combination (worked examples)', async () => {
  // Mandatory 201 (3 credits) + 202 (2); optional group B needs 4 credits: 203 (4) or 204 (2); 9 overall.
  let a = await progressOf(LA);
  assert.equal(a.rules.credits_required, 9);
  assert.equal(a.rules.credits_planned, 9);
  assert.deepEqual(a.rules.plan_problems, []);
  assert.equal(a.percent, 0);
  const U204 = a.units.find((u) => u.id === U['204']);
  assert.ok(U204.not_in_plan, 'an optional unit not chosen is outside the plan');

  meet(LA, '201', '202');
  a = await progressOf(LA);
  assert.equal(a.rules.credits_achieved, 5);
  assert.equal(a.percent, Math.floor(100 * 5 / 9)); // 55, not the share of all criteria
  assert.equal(a.achieved, false);
  meet(LA, '203');
  a = await progressOf(LA);
  assert.equal(a.percent, 100);
  assert.equal(a.achieved, true);
  assert.ok(a.rules.checks.every((c) => c.met), JSON.stringify(a.rules.checks));
  assert.equal(a.pace.state, 'complete');
  assert.ok(a.met < a.total, 'achieved though the unit outside the plan is not met');

  // Bob chose 204 only: 7 credits planned of 9, and 2 of the 4 group B needs.
  let b = await progressOf(LB);
  assert.equal(b.rules.credits_planned, 7);
  assert.equal(b.rules.plan_ok, false);
  assert.ok(b.rules.plan_problems.some((p) => /give 7 credits; the qualification needs at least 9/.test(p)), b.rules.plan_problems.join('|'));
  meet(LB, '201', '202', '204');
  b = await progressOf(LB);
  assert.equal(b.rules.credits_achieved, 7);
  assert.equal(b.percent, Math.floor(100 * 7 / 9));
  assert.equal(b.achieved, false);
  const group = b.rules.checks.find((c) => c.label === 'Credits from Optional group B');
  assert.deepEqual([group.required, group.achieved, group.met], [4, 2, false]);
  const page = await admin.get(`/learners/${LB}/progress`);
  assertStatus(page, 200);
  assert.match(page.text, /Rules of combination/);
  assert.match(page.text, /Choose more optional units/);
});

async function dashboardRow(enrolmentId) {
  const r = await admin.get('/api/v1/centre/learners', {query: {qualification_id: String(QID), per_page: '100'}});
  assertStatus(r, 200);
  return r.json.enrolments.find((x) => x.enrolment_id === enrolmentId);
}

async function caseloadRow(enrolmentId) {
  for (let page = 1; page < 50; page++) {
    const r = await assessor.get('/api/v1/caseload', {query: {page: String(page)}});
    assertStatus(r, 200);
    const row = r.json.items.find((x) => x.enrolment_id === enrolmentId);
    if (row || !r.json.items.length) return row;
  }
  return undefined;
}

test('the centre dashboard and the caseload count credits by the rules, as the progress page does', async () => {
  // Ann: achieved by the rules (100%, complete) though a unit outside her plan is unmet;
  // Bob: 7 of 9 credits (77%), never 100% while his plan falls short.
  for (const [learnerId, enrolmentId] of [[LA, EA], [LB, EB]]) {
    const p = await progressOf(learnerId);
    const d = await dashboardRow(enrolmentId);
    assert.ok(d, `enrolment ${enrolmentId} on the dashboard`);
    assert.equal(d.percent, p.percent, `dashboard percent of ${learnerId}`);
    assert.equal(d.pace.state, p.pace.state);
    const c = await caseloadRow(enrolmentId);
    assert.ok(c, `enrolment ${enrolmentId} on the caseload`);
    assert.equal(c.percent, p.percent, `caseload percent of ${learnerId}`);
    assert.equal(c.pace.state, p.pace.state);
  }
  assert.equal((await dashboardRow(EA)).percent, 100);
  assert.equal((await dashboardRow(EB)).percent, Math.floor(100 * 7 / 9));

  // choosing 203 as well puts 11 credits in Bob's plan; 204 is met, 203 is not: the
  // dashboard follows at once (its snapshot is invalidated by the choice)
  const r = await admin.put(`/api/v1/enrolments/${EB}/units`, {unit_ids: [U['203'], U['204']]});
  assertStatus(r, 200);
  const p = await progressOf(LB);
  assert.equal(p.rules.credits_planned, 11);
  assert.equal((await dashboardRow(EB)).percent, p.percent);
});

test('criteria with sub-items show them as a list on every page that shows the criterion', async () => {
  const c12 = Number(srv.sql(`SELECT c.id FROM criteria c JOIN units u ON u.id = c.unit_id WHERE u.id = ${U['201']} AND c.ref = '1.2'`));
  const list = /handling:<span class="spec-subitems"><span class="spec-subitem spec-subitem--lettered">a\) refunds<\/span><span class="spec-subitem spec-subitem--lettered">b\) replacements &amp; exchanges<\/span>/;
  const progress = await admin.get(`/learners/${LA}/progress`);
  assertStatus(progress, 200);
  assert.match(progress.text, list, 'progress page');
  // the learner maps evidence to it: the mapping form's label holds the list
  let r = await learner.post('/api/v1/evidence', {title: 'Refunds log', kind: 'witness_testimony', body: 'Refunds I handled'});
  assertStatus(r, 201);
  const ev = r.json.id;
  const form = await learner.get(`/evidence/${ev}/criteria`);
  assertStatus(form, 200);
  assert.match(form.text, list, 'mapping form');
  assert.ok(!/<label[^>]*>[^<]*<strong>1\.2<\/strong>[^<]*<ul/.test(form.text), 'no block list inside a label');
  r = await learner.put(`/api/v1/evidence/${ev}/criteria`, {criteria: [{criterion_id: c12}]});
  assert.ok(r.status === 200 || r.status === 204, r.text);
  const show = await learner.get(`/evidence/${ev}`);
  assertStatus(show, 200);
  assert.match(show.text, list, 'evidence page');
  // the API keeps the text as it was imported (lines), with no page-only keys
  const api = (await learner.get(`/api/v1/evidence/${ev}`)).json;
  assert.ok(!JSON.stringify(api).includes('text_parts'));
});
