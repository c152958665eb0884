// tests/http/iqa_coverage.test.js: issue 22: the IQA decisions page's coverage for the whole
// centre comes from summaries kept in C with the writes (iqa.h, schema/018). Each step below
// changes them (a decision, a first and a second sample of one decision, a unit sample, a
// returned item whose kind the learner changes) and the page must still say exactly what the
// live computation over every decision says (the same page with a date filter that keeps
// every decision, which does not use the summaries), unfiltered and filtered by assessor and
// by unit.
'use strict';
const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const {startServer, assertStatus} = require('./lib.js');

let srv, admin, iqa, assessor;
const KEYS = ['coverage_assessors', 'coverage_units', 'coverage_methods', 'coverage_learners'];

before(async () => {
  srv = await startServer({demo: true});
  [admin, iqa, assessor] = await Promise.all(['admin@demo.test', 'iqa@demo.test', 'assessor@demo.test']
    .map((e) => srv.login(e)));
});
after(() => srv && srv.stop());

/* The summary's answer and the live one, compared; returns the summary's page. */
async function same(label) {
  const a0 = await admin.get('/api/v1/iqa/decisions');
  assertStatus(a0, 200, label);
  const queries = [''];
  const firstAssessor = a0.json.coverage_assessors[0];
  const firstUnit = a0.json.coverage_units[0];
  if (firstAssessor) queries.push(`?assessor_id=${firstAssessor.id}`);
  if (firstUnit) queries.push(`?unit_id=${firstUnit.id}`);
  for (const q of queries) {
    const a = q ? await admin.get(`/api/v1/iqa/decisions${q}`) : a0;
    const b = await admin.get(`/api/v1/iqa/decisions${q ? `${q}&` : '?'}from=1900-01-01`);
    assertStatus(a, 200, `${label} ${q}`);
    assertStatus(b, 200, `${label} ${q} (live)`);
    for (const k of KEYS) assert.deepEqual(a.json[k], b.json[k], `${label} ${q || '(unfiltered)'}: ${k}`);
    assert.equal(a.json.pagination.total, b.json.pagination.total, `${label} ${q}: total`);
  }
  return a0.json;
}

const sampled = (page) => page.coverage_assessors.reduce((n, a) => n + a.sampled, 0);
const decided = (page) => page.coverage_assessors.reduce((n, a) => n + a.decisions, 0);

test('coverage from the summaries equals the live count through decisions, samples and a change of kind', async () => {
  let page = await same('the demo as seeded');
  assert.ok(decided(page) > 0, 'the demo has decisions');
  assert.equal(decided(page), Number(srv.sql('SELECT count(*) FROM decisions')));

  // a first sample of a decision counts it as sampled; a second sample of it does not
  const plan = await iqa.get('/api/v1/iqa/plan');
  assertStatus(plan, 200);
  const due = plan.json.due[0];
  assert.ok(due, 'something is due for sampling in the demo');
  const s0 = sampled(page);
  let r = await iqa.post('/api/v1/iqa/samples', {decision_id: due.decision_id, outcome: 'agree', feedback: 'Fine.'});
  assertStatus(r, 201);
  page = await same('after a first sample');
  assert.equal(sampled(page), s0 + 1);
  r = await iqa.post('/api/v1/iqa/samples', {decision_id: due.decision_id, outcome: 'agree', feedback: 'Again.'});
  assertStatus(r, 201);
  page = await same('after a second sample of the same decision');
  assert.equal(sampled(page), s0 + 1);

  // a unit sample: every current decision of one learner's unit, sampled at once
  const unitRow = srv.sqlRows(`SELECT d.learner_id, c.unit_id FROM decisions d JOIN criteria c ON c.id = d.criterion_id
    JOIN enrolments en ON en.learner_id = d.learner_id JOIN users iu ON iu.id = en.iqa_id
    WHERE iu.email = 'iqa@demo.test' AND NOT EXISTS (SELECT 1 FROM iqa_samples s WHERE s.decision_id = d.id)
    ORDER BY d.id LIMIT 1`)[0];
  assert.ok(unitRow, 'the demo has an unsampled decision of a learner of iqa@demo.test');
  const s1 = sampled(page);
  r = await iqa.post('/api/v1/iqa/sample-groups', {learner_id: unitRow.learner_id, unit_id: unitRow.unit_id,
    stage: 'interim', outcome: 'agree', feedback: 'The unit holds together.'});
  assert.ok(r.status === 200 || r.status === 201, `unit sample: ${r.status} ${r.text}`);
  page = await same('after a unit sample');
  assert.ok(sampled(page) > s1, 'the unit sample counted its decisions');

  // a decision on a submitted item: counted at once, in its kinds too
  const item = srv.sqlRows(`SELECT ev.id, ev.learner_id, ec.criterion_id, lu.email FROM evidence ev
    JOIN evidence_criteria ec ON ec.evidence_id = ev.id JOIN users lu ON lu.id = ev.learner_id
    JOIN enrolments en ON en.learner_id = ev.learner_id JOIN users au ON au.id = en.assessor_id
    JOIN criteria c ON c.id = ec.criterion_id JOIN units un ON un.id = c.unit_id
    WHERE ev.status = 'submitted' AND au.email = 'assessor@demo.test' AND un.qualification_id = en.qualification_id
    ORDER BY ev.id LIMIT 1`)[0];
  assert.ok(item, 'the demo has an item awaiting assessor@demo.test');
  const d0 = decided(page);
  r = await assessor.post('/api/v1/decisions', {learner_id: item.learner_id, criterion_id: item.criterion_id,
    outcome: 'not_met', feedback: 'Say more about how you did it.', evidence_ids: [item.id], declaration: true});
  assertStatus(r, 201, 'decision');
  page = await same('after a decision');
  assert.equal(decided(page), d0 + 1);

  // the learner changes the kind of the returned item: its decisions move to the new kind
  const status = srv.sql(`SELECT status FROM evidence WHERE id = ${item.id}`);
  assert.equal(status, 'returned');
  const kind = srv.sql(`SELECT kind FROM evidence WHERE id = ${item.id}`);
  const next = kind === 'observation' ? 'reflective_account' : 'observation';
  const learner = await srv.login(item.email);
  r = await learner.upload(`/api/v1/evidence/${item.id}`, {kind: next}, [], {method: 'PATCH'});
  assert.ok(r.status >= 200 && r.status < 300, `edit the returned item: ${r.status} ${r.text}`);
  assert.equal(srv.sql(`SELECT kind FROM evidence WHERE id = ${item.id}`), next);
  page = await same('after the kind of a returned item changed');
  assert.ok(page.coverage_methods.some((m) => m.id === next), 'the new kind is listed');
});
