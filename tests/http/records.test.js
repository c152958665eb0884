// tests/http/records.test.js: evidence the assessor writes (issue 14): observation records,
// professional discussions and question-and-answer records for a learner of their caseload,
// planned then written up; only the learner's assessor writes them; they show their author,
// are ready for assessment without a learner submit, the learner cannot change them but
// acknowledges them (once, audited), and decisions cite them like any evidence.
'use strict';
const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const {startServer, assertStatus} = require('./lib.js');

const VACSR = {valid: true, authentic: true, current: true, sufficient: true, reliable: true};
let srv, learner, learner3, assessor, assessor2, admin, eqa, L, L3, crits;

before(async () => {
  srv = await startServer({demo: true});
  [learner, learner3, assessor, assessor2, admin, eqa] = await Promise.all(['learner@demo.test', 'learner3@demo.test',
    'assessor@demo.test', 'assessor2@demo.test', 'admin@demo.test', 'eqa@demo.test'].map((e) => srv.login(e)));
  L = Number(srv.sql("SELECT id FROM users WHERE email = 'learner@demo.test'"));
  L3 = Number(srv.sql("SELECT id FROM users WHERE email = 'learner3@demo.test'"));
  const A = Number(srv.sql("SELECT id FROM users WHERE email = 'assessor@demo.test'"));
  const q = Number(srv.sql(`SELECT qualification_id FROM enrolments WHERE learner_id = ${L} AND assessor_id = ${A}
    AND status = 'active' ORDER BY id LIMIT 1`));
  // criteria with no decision yet for this learner
  crits = srv.sqlRows(`SELECT c.id, c.ref FROM criteria c JOIN units u ON u.id = c.unit_id
    WHERE u.qualification_id = ${q} AND c.retired = 0 AND u.retired = 0
    AND NOT EXISTS (SELECT 1 FROM decisions d WHERE d.criterion_id = c.id AND d.learner_id = ${L})
    ORDER BY u.position, c.position, c.id LIMIT 6`);
  assert.equal(crits.length, 6);
});
after(() => srv && srv.stop());

const audit = (action) => Number(srv.sql(`SELECT count(*) FROM audit_events WHERE action = '${action}'`));

test('an assessor writes an observation record: ready for assessment, authored, cited by a decision', async () => {
  const before = audit('evidence.create');
  let r = await assessor.upload(`/api/v1/learners/${L}/records`, {kind: 'observation', title: 'Observed complaint',
    occurred_on: '2026-10-02', place: 'Front desk', activity: 'Handling a complaint',
    body: 'Listened, apologised, offered a refund.', criterion: [String(crits[0].id), String(crits[1].id)],
    [`note_${crits[0].id}`]: 'Listened well', [`note_${crits[1].id}`]: 'Followed policy'},
  [{name: 'photo-notes.txt', type: 'text/plain', data: 'notes from the visit\n'}]);
  assertStatus(r, 201, 'observation');
  const id = r.json.id;
  assert.equal(r.json.status, 'submitted');
  assert.equal(audit('evidence.create'), before + 1);
  r = await assessor.get(`/api/v1/evidence/${id}`);
  assertStatus(r, 200);
  assert.equal(r.json.author.role, 'assessor');
  assert.equal(r.json.author.name, assessor.user.name);
  assert.equal(r.json.place, 'Front desk');
  assert.equal(r.json.activity, 'Handling a complaint');
  assert.equal(r.json.status, 'submitted');
  assert.equal(r.json.criteria.length, 2);
  assert.equal(r.json.files.length, 1);
  assert.equal(r.json.is_owner, false);
  // the learner sees it with its author and must acknowledge it; cannot change it
  r = await learner.get(`/api/v1/evidence/${id}`);
  assertStatus(r, 200);
  assert.equal(r.json.can_acknowledge, true);
  assert.equal(r.json.editable, false);
  const page = await learner.get(`/evidence/${id}`);
  assert.match(page.text, /Written by/);
  assert.match(page.text, /I have read this record/);
  for (const [m, p, body] of [['PATCH', `/api/v1/evidence/${id}`, {title: 'mine'}],
    ['PUT', `/api/v1/evidence/${id}/criteria`, {criteria: []}], ['POST', `/api/v1/evidence/${id}/withdraw`, {}],
    ['DELETE', `/api/v1/evidence/${id}`, {}]]) {
    const x = await learner.request(m, p, {json: body});
    assertStatus(x, 403, `${m} ${p}`);
    assert.equal(x.json.error.code, 'written_by_other');
  }
  // it is in the list with its author
  r = await learner.get('/api/v1/evidence');
  const row = r.json.evidence.find((e) => e.id === id);
  assert.match(row.author_label, /assessor/);
  // a decision cites it like any evidence
  r = await assessor.post('/api/v1/decisions', {learner_id: L, criterion_id: crits[0].id, outcome: 'met',
    declaration: true, vacsr: VACSR, evidence_ids: [id], feedback: 'Seen at the visit'});
  assertStatus(r, 201, 'decision');
  r = await assessor.get(`/api/v1/decisions/${r.json.id}`);
  const cited = r.json.evidence.find((e) => e.id === id);
  assert.equal(cited.author_role, 'assessor');
  assert.equal(cited.author_name, assessor.user.name);
  // not mapped to that criterion: refused as for any evidence
  r = await assessor.post('/api/v1/decisions', {learner_id: L, criterion_id: crits[5].id, outcome: 'met',
    declaration: true, vacsr: VACSR, evidence_ids: [id]});
  assertStatus(r, 422);
  assert.equal(r.json.error.code, 'evidence_not_mapped');
  // acknowledge: once, audited
  const acks = audit('evidence.acknowledge');
  r = await learner.post(`/api/v1/evidence/${id}/acknowledge`);
  assertStatus(r, 200, 'ack');
  assert.ok(r.json.acknowledged_at);
  r = await learner.post(`/api/v1/evidence/${id}/acknowledge`);
  assertStatus(r, 409, 'ack twice');
  assert.equal(audit('evidence.acknowledge'), acks + 1);
  // the EQA sees the author too
  r = await eqa.get(`/evidence/${id}`);
  assertStatus(r, 200);
  assert.ok(r.text.includes(assessor.user.name));
});

test('professional discussion and question-and-answer records keep their questions', async () => {
  let r = await assessor.post(`/api/v1/learners/${L}/records`, {kind: 'professional_discussion',
    title: 'Discussion on safeguarding', occurred_on: '2026-10-03', body: 'We talked through the policy.',
    questions: [{question: 'What would you do if...?', answer: 'Report it to the lead.'}, {question: 'Who is the lead?'}],
    criteria: [{criterion_id: crits[2].id, note: 'Explained the steps'}]});
  assertStatus(r, 201, 'discussion');
  let ev = (await assessor.get(`/api/v1/evidence/${r.json.id}`)).json;
  assert.deepEqual(ev.questions.map((q) => q.question), ['What would you do if...?', 'Who is the lead?']);
  assert.equal(ev.kind, 'professional_discussion');
  r = await assessor.post(`/api/v1/learners/${L}/records`, {kind: 'question_and_answer', title: 'Q&A on data',
    occurred_on: '2026-10-03', questions: [{question: 'What is GDPR?', answer: 'Data protection law.'}],
    criteria: [{criterion_id: crits[3].id, note: ''}]});
  assertStatus(r, 201, 'q&a');
  ev = (await assessor.get(`/api/v1/evidence/${r.json.id}`)).json;
  assert.equal(ev.questions[0].answer, 'Data protection law.');
  assert.equal(ev.status, 'submitted');
  // a question without its answer in a Q&A record is refused, with the field named
  r = await assessor.post(`/api/v1/learners/${L}/records`, {kind: 'question_and_answer', title: 'Q&A',
    occurred_on: '2026-10-03', questions: [{question: 'Unanswered?'}], criteria: [{criterion_id: crits[3].id}]});
  assertStatus(r, 400);
  assert.ok(r.json.errors.some((e) => e.field === 'question_1'));
});

test('planned records wait in the assessor\'s queue, cannot be cited, then are written up', async () => {
  let r = await assessor.post(`/api/v1/learners/${L}/records`, {kind: 'observation', title: 'Visit next week',
    occurred_on: '2026-12-20', plan: true});
  assertStatus(r, 201, 'plan');
  const id = r.json.id;
  assert.equal(r.json.status, 'draft');
  r = await assessor.get('/api/v1/queue');
  assert.ok(r.json.to_write_up.some((x) => x.id === id));
  const page = await assessor.get('/queue');
  assert.match(page.text, /Your records to write up/);
  // the planned date in UK form, as every date on a page
  assert.match(page.text, /Visit next week<\/a>[^<]*planned for 20 Dec 2026/);
  r = await assessor.get('/api/v1/caseload');
  assert.ok(r.json.to_write_up_total >= 1);
  r = await assessor.post('/api/v1/decisions', {learner_id: L, criterion_id: crits[4].id, outcome: 'not_met',
    declaration: true, feedback: 'x', evidence_ids: [id]});
  assertStatus(r, 409);
  assert.equal(r.json.error.code, 'not_written_up');
  // the learner has nothing to acknowledge yet
  r = await learner.post(`/api/v1/evidence/${id}/acknowledge`);
  assertStatus(r, 409);
  // another assessor cannot write it up
  r = await assessor2.post(`/api/v1/evidence/${id}/record`, {title: 'x', occurred_on: '2026-10-01'});
  assert.ok([403, 404].includes(r.status), String(r.status));
  // written up: a future date is refused for a record no longer only planned
  r = await assessor.post(`/api/v1/evidence/${id}/record`, {title: 'Visit', occurred_on: '2026-12-20',
    activity: 'Stock take', body: 'Counted accurately', criteria: [{criterion_id: crits[4].id, note: 'Accurate'}]});
  if (new Date().toISOString().slice(0, 10) < '2026-12-19') assertStatus(r, 400, 'future');
  r = await assessor.post(`/api/v1/evidence/${id}/record`, {title: 'Visit', occurred_on: '2026-10-05',
    activity: 'Stock take', body: 'Counted accurately', criteria: [{criterion_id: crits[4].id, note: 'Accurate'}]});
  assertStatus(r, 200, 'write up');
  assert.equal(r.json.status, 'submitted');
  assert.equal(audit('evidence.write_up'), 1);
  r = await assessor.get('/api/v1/queue');
  assert.ok(!r.json.to_write_up.some((x) => x.id === id));
  r = await assessor.post(`/api/v1/evidence/${id}/record`, {title: 'Again', occurred_on: '2026-10-05'});
  assertStatus(r, 409);
});

test('only the learner\'s assessor writes records; bad input is a 4xx naming the field and changes nothing', async () => {
  const n = Number(srv.sql('SELECT count(*) FROM evidence'));
  const a = audit('evidence.create');
  // assessor2 does not assess learner 1; assessor does not assess learner 3
  let r = await assessor2.post(`/api/v1/learners/${L}/records`, {kind: 'observation', title: 'x',
    occurred_on: '2026-10-01', activity: 'a', body: 'b', criteria: [{criterion_id: crits[0].id, note: 'n'}]});
  assert.ok([403, 404].includes(r.status), String(r.status));
  r = await assessor.post(`/api/v1/learners/${L3}/records`, {kind: 'observation', title: 'x',
    occurred_on: '2026-10-01', activity: 'a', body: 'b', criteria: [{criterion_id: crits[0].id, note: 'n'}]});
  assert.ok([403, 404].includes(r.status), String(r.status));
  // learners, IQA and admin cannot (role gate)
  for (const c of [learner, admin]) {
    r = await c.post(`/api/v1/learners/${L}/records`, {kind: 'observation', title: 'x'});
    assertStatus(r, 403);
  }
  const bad = [
    [{kind: 'product', title: 't', occurred_on: '2026-10-01'}, 'kind'],
    [{kind: 'observation', occurred_on: '2026-10-01', activity: 'a', body: 'b'}, 'title'],
    [{kind: 'observation', title: 't', occurred_on: '2026-02-30'}, 'occurred_on'],
    [{kind: 'observation', title: 't', occurred_on: '2026-10-01', body: 'b', criteria: [{criterion_id: crits[0].id, note: 'n'}]}, 'activity'],
    [{kind: 'observation', title: 't', occurred_on: '2026-10-01', activity: 'a', body: 'b',
      criteria: [{criterion_id: crits[0].id}]}, 'criteria'],
    [{kind: 'observation', title: 't', occurred_on: '2026-10-01', activity: 'a', body: 'b'}, 'criteria'],
    [{kind: 'observation', title: 't', occurred_on: '2026-10-01', activity: 'a', body: 'b',
      criteria: [{criterion_id: 999999, note: 'x'}]}, 'criteria'],
    [{kind: 'observation', title: 5, occurred_on: '2026-10-01'}, 'title'],
    [{kind: 'question_and_answer', title: 't', occurred_on: '2026-10-01', questions: 'nope'}, 'questions'],
    [{kind: 'observation', title: 't', occurred_on: '2026-10-01', criteria: 'x'}, 'criteria'],
  ];
  for (const [body, field] of bad) {
    r = await assessor.post(`/api/v1/learners/${L}/records`, body);
    assert.ok(r.status >= 400 && r.status < 500, `${JSON.stringify(body)}: ${r.status}`);
    assert.ok((r.json.errors || []).some((e) => e.field === field), `${JSON.stringify(body)}: ${JSON.stringify(r.json)}`);
  }
  r = await assessor.post(`/api/v1/learners/${L}/records`, {kind: 'observation', witness: 'x'});
  assertStatus(r, 400);
  assert.equal(r.json.error.code, 'unknown_field');
  assert.equal(Number(srv.sql('SELECT count(*) FROM evidence')), n);
  assert.equal(audit('evidence.create'), a);
});

test('the record pages work without JavaScript', async () => {
  let r = await assessor.get(`/learners/${L}/records/new?kind=professional_discussion`);
  assertStatus(r, 200);
  assert.match(r.text, /name="question_1"/);
  assert.match(r.text, /type="file"/);
  assert.match(r.headers['permissions-policy'] || '', /microphone=\(self\)/);
  assert.match(r.headers['content-security-policy'] || '', /media-src 'self' blob:/);
  assert.match(r.text, /src="\/static\/recorder.js"/);
  r = await assessor.get(`/learners/${L}/records/new?kind=observation`);
  assert.match(r.headers['permissions-policy'] || '', /microphone=\(\)/);
  assert.ok(!/blob:/.test(r.headers['content-security-policy'] || ''));
  for (const p of ['/caseload', `/evidence/new`]) {
    const other = await (p === '/caseload' ? assessor : learner).get(p);
    assert.match(other.headers['permissions-policy'] || '', /microphone=\(\)/, p);
  }
  // a form post with an error re-shows the form (400), a good one redirects to the item
  r = await assessor.postForm(`/learners/${L}/records`, {kind: 'observation', title: '', occurred_on: '2026-10-01'});
  assertStatus(r, 400);
  assert.match(r.text, /There is a problem/);
  r = await assessor.postForm(`/learners/${L}/records`, {kind: 'observation', title: 'Form observation',
    occurred_on: '2026-10-01', activity: 'Till work', body: 'Did it right', criterion: String(crits[5].id),
    [`note_${crits[5].id}`]: 'Correct change', mapping: '1'});
  assertStatus(r, 303);
  assert.match(r.headers.location, /^\/evidence\/\d+\?done=record_saved$/);
  r = await assessor.get(r.headers.location);
  assert.match(r.text, /The record has been saved/);
  r = await assessor.get(`/learners/${L}/evidence`);
  assert.match(r.text, /Write an observation/);
});

test('the OpenAPI document describes the record endpoints', async () => {
  const r = await srv.client().get('/api/v1/openapi.json');
  assertStatus(r, 200);
  for (const p of ['/api/v1/learners/{id}/records', '/api/v1/evidence/{id}/record', '/api/v1/evidence/{id}/acknowledge']) {
    assert.ok(r.json.paths[p], `${p} is documented`);
  }
  assert.ok(r.json.components.schemas.EvidenceAuthor);
});

test('a group observation: recorded once for two learners, each gets their own item, files stored once', async () => {
  const L2 = Number(srv.sql("SELECT id FROM users WHERE email = 'learner2@demo.test'"));
  const A = assessor.user.id;
  const q2 = Number(srv.sql(`SELECT qualification_id FROM enrolments WHERE learner_id = ${L2} AND assessor_id = ${A}
    AND status = 'active' ORDER BY id LIMIT 1`));
  const c2 = srv.sqlRows(`SELECT c.id, c.ref FROM criteria c JOIN units u ON u.id = c.unit_id
    WHERE u.qualification_id = ${q2} AND c.retired = 0 AND u.retired = 0
    AND NOT EXISTS (SELECT 1 FROM decisions d WHERE d.criterion_id = c.id AND d.learner_id = ${L2})
    ORDER BY u.position, c.position, c.id LIMIT 1`)[0];
  const blobs0 = Number(srv.sql('SELECT count(*) FROM blobs'));
  const shared = `team briefing photo ${Date.now()}\n`;
  let r = await assessor.upload('/group-observations', {title: 'Team briefing', occurred_on: '2026-10-06',
    place: 'Staff room', activity: 'Morning briefing', description: 'The team planned the day together.',
    learner: [String(L), String(L2)], [`lb_${L}`]: 'Led the briefing', [`lc_${L}`]: String(crits[5].id),
    [`ln_${L}_${crits[5].id}`]: 'Led clearly', [`lb_${L2}`]: 'Asked good questions', [`lc_${L2}`]: String(c2.id),
    [`ln_${L2}_${c2.id}`]: 'Checked understanding'}, [{name: 'briefing.txt', type: 'text/plain', data: shared}]);
  assertStatus(r, 303, 'group form');
  const gid = Number(/\/group-observations\/(\d+)/.exec(r.headers.location)[1]);
  r = await assessor.get(`/api/v1/group-observations/${gid}`);
  assertStatus(r, 200);
  assert.equal(r.json.items.length, 2);
  const mine = r.json.items.find((i) => i.learner_id === L);
  const theirs = r.json.items.find((i) => i.learner_id === L2);
  // the shared file is stored once: one new blob, two file rows
  assert.equal(Number(srv.sql('SELECT count(*) FROM blobs')), blobs0 + 1);
  assert.equal(Number(srv.sql(`SELECT count(DISTINCT f.sha256) FROM evidence_files f JOIN evidence e ON e.id = f.evidence_id
    WHERE e.group_id = ${gid}`)), 1);
  // each learner's item: theirs only, ready for assessment, shared description and files
  r = await learner.get(`/api/v1/evidence/${mine.evidence_id}`);
  assertStatus(r, 200);
  assert.equal(r.json.group_id, gid);
  assert.equal(r.json.status, 'submitted');
  assert.equal(r.json.body, 'Led the briefing');
  assert.equal(r.json.description, 'The team planned the day together.');
  assert.deepEqual(r.json.criteria.map((c) => c.criterion_id), [crits[5].id]);
  assert.equal(r.json.files.length, 1);
  assert.ok(!r.text.includes('Asked good questions'));
  assert.ok(!r.text.includes('Checked understanding'));
  // no learner sees another learner's part, nor the group record
  r = await learner.get(`/api/v1/evidence/${theirs.evidence_id}`);
  assertStatus(r, 404);
  r = await learner.get(`/api/v1/group-observations/${gid}`);
  assertStatus(r, 403);
  r = await assessor2.get(`/api/v1/group-observations/${gid}`);
  assertStatus(r, 404);
  // the group page for its assessor and the EQA
  r = await assessor.get(`/group-observations/${gid}`);
  assertStatus(r, 200);
  assert.match(r.text, /Each learner's record/);
  r = await eqa.get(`/group-observations/${gid}`);
  assertStatus(r, 200); // the demo's EQA visit samples these learners (src/policy.c: EQA_GROUP)
  // decisions cite each learner's own item
  r = await assessor.post('/api/v1/decisions', {learner_id: L2, criterion_id: c2.id, outcome: 'met', declaration: true,
    vacsr: VACSR, evidence_ids: [theirs.evidence_id]});
  assertStatus(r, 201);
  r = await assessor.post('/api/v1/decisions', {learner_id: L2, criterion_id: c2.id, outcome: 'met', declaration: true,
    vacsr: VACSR, evidence_ids: [mine.evidence_id]});
  assertStatus(r, 400, 'another learner\'s part');
});

test('group observations: refusals name the field and change nothing', async () => {
  const L2 = Number(srv.sql("SELECT id FROM users WHERE email = 'learner2@demo.test'"));
  const n = Number(srv.sql('SELECT count(*) FROM group_observations'));
  const e = Number(srv.sql('SELECT count(*) FROM evidence'));
  const base = {title: 'Shift', occurred_on: '2026-10-06', activity: 'Shift', description: 'd'};
  const part = (id, crit, note = 'n') => ({learner_id: id, criteria: [{criterion_id: crit, note}]});
  const cases = [
    [{...base, learners: [part(L, crits[5].id)]}, 'learners'],                         // one learner is not a group
    [{...base, learners: [part(L, crits[5].id), part(L, crits[5].id)]}, 'learners'],  // twice
    [{...base, learners: [part(L, crits[5].id), part(L3, crits[5].id)]}, 'learners'], // not this assessor's learner
    [{...base, learners: [part(L, crits[5].id, ''), part(L2, crits[5].id)]}, `lc_${L}`],
    [{...base, learners: [part(L, 99999999), part(L2, crits[5].id)]}, `lc_${L}`],
    [{...base, description: '', learners: [part(L, crits[5].id), part(L2, crits[5].id)]}, 'description'],
    [{...base, learners: 'x'}, 'learners'],
  ];
  for (const [body, field] of cases) {
    const r = await assessor.post('/api/v1/group-observations', body);
    assertStatus(r, 400, JSON.stringify(body));
    assert.ok((r.json.errors || []).some((x) => x.field === field), `${field}: ${r.text}`);
  }
  const r = await learner.post('/api/v1/group-observations', {...base});
  assertStatus(r, 403);
  assert.equal(Number(srv.sql('SELECT count(*) FROM group_observations')), n);
  assert.equal(Number(srv.sql('SELECT count(*) FROM evidence')), e);
  const page = await assessor.get(`/group-observations/new?learner=${L}&learner=${L2}`);
  assertStatus(page, 200);
  assert.match(page.text, new RegExp(`name="lc_${L}"`));
});
