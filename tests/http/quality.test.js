// tests/http/quality.test.js: issue 18 over HTTP: the IQA sampling plan (risk ratings, due
// list, coverage, unit and portfolio samples with file hashes) and EQA visits (setting one
// up, the sample rules, the report and the centre's answers, bad input refused with no change).
'use strict';
const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const {startServer, assertStatus} = require('./lib.js');

let srv, admin, iqa, eqa, assessor;
const ids = {};
const iso = (ms) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

before(async () => {
  srv = await startServer({demo: true});
  [admin, iqa, eqa, assessor] = await Promise.all(['admin@demo.test', 'iqa@demo.test', 'eqa@demo.test',
    'assessor@demo.test'].map((e) => srv.login(e)));
  const id = (email) => Number(srv.sql(`SELECT id FROM users WHERE email = '${email}'`));
  for (const e of ['learner@demo.test', 'learner2@demo.test', 'learner3@demo.test', 'assessor@demo.test',
    'assessor2@demo.test']) ids[e] = id(e);
  ids.q = Number(srv.sql(`SELECT qualification_id FROM enrolments WHERE learner_id = ${ids['learner2@demo.test']} LIMIT 1`));
});
after(() => srv && srv.stop());

function count(table) {
  return Number(srv.sql(`SELECT count(*) FROM ${table}`));
}

test('the plan: shares by risk rating, targets and due counts add up, the due list follows them', async () => {
  let r = await iqa.get('/api/v1/iqa/plan');
  assertStatus(r, 200);
  const plan = r.json;
  assert.deepEqual(plan.rates.map((x) => [x.rating, x.percent]), [['new', 100], ['under_development', 50],
    ['experienced', 20]]);
  let sumDue = 0;
  for (const a of plan.assessors) {
    assert.equal(a.target, Math.ceil(a.decisions * a.percent / 100), a.name);
    assert.equal(a.due, Math.max(0, a.target - a.sampled), a.name);
    sumDue += a.due;
  }
  assert.equal(plan.totals.due, sumDue);
  assert.equal(plan.due.length, Math.min(100, sumDue));
  for (const d of plan.due) assert.ok(d.reason && d.decision_id && d.learner_name);
  // rating Tom (assessor@) experienced shrinks his share to 20%
  const tom = ids['assessor@demo.test'];
  r = await iqa.post(`/api/v1/iqa/assessors/${tom}/risk`, {rating: 'experienced', note: 'five years'});
  assertStatus(r, 200);
  assert.equal(r.json.percent, 20);
  r = await iqa.get('/api/v1/iqa/plan');
  const t = r.json.assessors.find((a) => a.id === tom);
  assert.equal(t.rating, 'experienced');
  assert.equal(t.target, Math.ceil(t.decisions * 0.2));
  assert.equal(r.json.due.filter((d) => d.assessor_id === tom).length, t.due);
  assert.ok(Number(srv.sql("SELECT count(*) FROM audit_events WHERE action = 'iqa.risk'")) >= 1);
  // refusals: unknown rating, unknown assessor, a learner's id, other roles
  const before = srv.sql('SELECT rating FROM iqa_assessor_risk ORDER BY id');
  assertStatus(await iqa.post(`/api/v1/iqa/assessors/${tom}/risk`, {rating: 'expert'}), 400);
  assertStatus(await iqa.post(`/api/v1/iqa/assessors/${ids['learner@demo.test']}/risk`, {rating: 'new'}), 404);
  assertStatus(await iqa.post('/api/v1/iqa/assessors/999999/risk', {rating: 'new'}), 404);
  assertStatus(await iqa.post(`/api/v1/iqa/assessors/${tom}/risk`, {rating: 'new', colour: 'red'}), 400);
  assertStatus(await assessor.post(`/api/v1/iqa/assessors/${tom}/risk`, {rating: 'new'}), 403);
  assertStatus(await eqa.get('/api/v1/iqa/plan'), 404);
  assert.equal(srv.sql('SELECT rating FROM iqa_assessor_risk ORDER BY id'), before);
  // the admin sees the whole centre's plan; the page renders
  assertStatus(await admin.get('/api/v1/iqa/plan'), 200);
  const page = await iqa.get('/iqa/plan');
  assertStatus(page, 200);
  assert.match(page.text, /Due for sampling/);
});

test('a decision sample records its stage and the SHA-256 of the files it looked at', async () => {
  const r0 = await iqa.get('/api/v1/iqa/plan');
  const d = r0.json.due[0];
  assert.ok(d, 'something is due in the demo');
  let r = await iqa.post('/api/v1/iqa/samples', {decision_id: d.decision_id, outcome: 'agree', stage: 'bogus'});
  assertStatus(r, 400);
  r = await iqa.post('/api/v1/iqa/samples', {decision_id: d.decision_id, outcome: 'agree'});
  assertStatus(r, 201);
  assert.ok(['interim', 'summative'].includes(r.json.stage));
  assert.ok(r.json.files.length >= 1);
  for (const f of r.json.files) {
    assert.match(f.sha256, /^[0-9a-f]{64}$/);
    const stored = srv.sql(`SELECT sha256 FROM evidence_files WHERE id = ${f.file_id}`);
    assert.equal(stored, f.sha256, 'the hash of the file as stored');
  }
  const r1 = await iqa.get('/api/v1/iqa/plan');
  assert.equal(r1.json.totals.sampled, r0.json.totals.sampled + 1);
  // the decision's page shows the sample's stage, method, reach and each file's hash
  // (abbreviated, the whole of it in a title and behind "Full SHA-256")
  const page = await iqa.get(`/decisions/${d.decision_id}`);
  assertStatus(page, 200);
  const samples = /<ul class="list list--plain" id="samples">[\s\S]*?<\/ul>\n/.exec(page.text);
  assert.ok(samples, 'the samples list');
  const stageWord = r.json.stage === 'summative' ? 'Summative' : 'Interim';
  assert.match(samples[0], new RegExp(`<dt>Stage</dt><dd>${stageWord}</dd>`));
  assert.match(samples[0], /<dt>Method<\/dt><dd>[A-Z][a-z]/);
  assert.match(samples[0], /<dt>Sampled<\/dt><dd>This decision<\/dd>/);
  for (const f of r.json.files) {
    assert.ok(samples[0].includes(`<code class="code" title="${f.sha256}">${f.sha256.slice(0, 12)}…</code>`), 'abbreviated');
    assert.ok(samples[0].includes(`<code class="code sample-files__hash">${f.sha256}</code>`), 'in full on request');
  }
  // the same in the JSON the EQA reads
  const api = await iqa.get('/api/v1/iqa/samples', {query: {decision_id: d.decision_id}});
  assertStatus(api, 200);
  const mine = (api.json.items || api.json.samples || []).find((x) => x.id === r.json.id);
  assert.ok(mine, JSON.stringify(api.json).slice(0, 300));
  assert.equal(mine.stage_label, stageWord);
  assert.ok(mine.methods.length > 0);
  assert.equal(mine.files[0].sha256_short, mine.files[0].sha256.slice(0, 12));
});

test('unit and portfolio samples: one sample per current decision, each with its files, audited', async () => {
  const L2 = ids['learner2@demo.test'];
  const unit = Number(srv.sql(`SELECT c.unit_id FROM decisions d JOIN criteria c ON c.id = d.criterion_id
    WHERE d.learner_id = ${L2} ORDER BY d.id LIMIT 1`));
  const current = Number(srv.sql(`SELECT count(*) FROM decisions d JOIN criteria c ON c.id = d.criterion_id
    WHERE d.learner_id = ${L2} AND c.unit_id = ${unit} AND NOT EXISTS (SELECT 1 FROM decisions s WHERE s.supersedes_id = d.id)`));
  const samples0 = count('iqa_samples');
  const events0 = Number(srv.sql("SELECT count(*) FROM audit_events WHERE action = 'iqa.sample'"));
  let r = await iqa.post('/api/v1/iqa/sample-groups', {learner_id: L2, unit_id: unit, stage: 'interim', outcome: 'agree',
    feedback: 'The unit is sound'});
  assertStatus(r, 201);
  assert.equal(r.json.scope, 'unit');
  assert.equal(r.json.decisions, current);
  assert.ok(r.json.files >= 1);
  assert.equal(count('iqa_samples'), samples0 + current);
  assert.equal(Number(srv.sql("SELECT count(*) FROM audit_events WHERE action = 'iqa.sample'")), events0 + current);
  // a whole portfolio, summative, action required
  r = await iqa.post('/api/v1/iqa/sample-groups', {learner_id: L2, stage: 'summative', outcome: 'action_required',
    feedback: 'Check the witness statements'});
  assertStatus(r, 201);
  assert.equal(r.json.scope, 'portfolio');
  const plan = (await iqa.get('/api/v1/iqa/plan')).json;
  assert.ok(plan.camera.records.unit_samples >= 1 && plan.camera.records.portfolio_samples >= 1);
  assert.ok(plan.stages.summative >= r.json.decisions);
  assert.ok(plan.camera.evidence.files_checked >= 1);
  // the trail still verifies (every sample matches its event)
  const v = await admin.get('/api/v1/audit/verify');
  assertStatus(v, 200);
  assert.equal(v.json.state_ok, true, v.json.state_reason);
  // refusals change nothing
  const n = count('iqa_samples');
  assertStatus(await iqa.post('/api/v1/iqa/sample-groups', {learner_id: L2, outcome: 'maybe'}), 400);
  assertStatus(await iqa.post('/api/v1/iqa/sample-groups', {learner_id: L2, outcome: 'action_required'}), 400);
  assertStatus(await iqa.post('/api/v1/iqa/sample-groups', {learner_id: L2, unit_id: 999999, outcome: 'agree'}), 400);
  assertStatus(await iqa.post('/api/v1/iqa/sample-groups', {learner_id: 999999, outcome: 'agree'}), 404);
  assertStatus(await iqa.post('/api/v1/iqa/sample-groups', {learner_id: 'x', outcome: 'agree'}), 404);
  assertStatus(await assessor.post('/api/v1/iqa/sample-groups', {learner_id: L2, outcome: 'agree'}), 403);
  assert.equal(count('iqa_samples'), n);
});

test('EQA visits: set-up checks each field and changes nothing when refused', async () => {
  const good = {eqa_id: eqa.user.id, qualification_ids: [ids.q], starts_at: iso(Date.now() - 3600e3),
    ends_at: iso(Date.now() + 86400e3), learner_ids: [ids['learner@demo.test']]};
  const n = count('eqa_visits');
  const bad = [
    [{...good, eqa_id: admin.user.id}, 'eqa_id'],
    [{...good, qualification_ids: []}, 'qualification_ids'],
    [{...good, qualification_ids: [999999]}, 'qualification_ids'],
    [{...good, qualification_ids: ['x']}, 'qualification_ids'],
    [{...good, starts_at: '2026-13-45'}, 'starts_at'],
    [{...good, ends_at: 'tomorrow'}, 'ends_at'],
    [{...good, ends_at: good.starts_at}, 'ends_at'],
    [{...good, starts_at: '2026-01-01', ends_at: '2026-12-31'}, 'ends_at'],
    [{...good, learner_ids: []}, 'learner_ids'],
    [{...good, learner_ids: [ids['assessor@demo.test']]}, 'learner_ids'],
    [{...good, sample_rule: 'random'}, 'sample_size'],
    [{...good, sample_rule: 'random', sample_size: 0}, 'sample_size'],
    [{...good, sample_rule: 'lottery'}, 'sample_rule'],
  ];
  for (const [body, field] of bad) {
    const r = await admin.post('/api/v1/eqa/visits', body);
    assertStatus(r, 400, JSON.stringify(body));
    assert.equal(r.json.errors[0].field, field, JSON.stringify(body));
  }
  assertStatus(await admin.post('/api/v1/eqa/visits', {...good, colour: 'red'}), 400);
  assertStatus(await eqa.post('/api/v1/eqa/visits', good), 404);
  assertStatus(await iqa.post('/api/v1/eqa/visits', good), 403);
  assert.equal(count('eqa_visits'), n);
});

test('EQA visits: random and per-assessor draws state their rule and draw from the enrolled', async () => {
  let r = await admin.post('/api/v1/eqa/visits', {eqa_id: eqa.user.id, qualification_ids: [ids.q], starts_at: '2026-12-01',
    ends_at: '2026-12-03', sample_rule: 'random', sample_size: 2});
  assertStatus(r, 201);
  assert.equal(r.json.learners.length, 2);
  assert.match(r.json.sample_rule, /^Drawn at random: 2 of the \d+ learners/);
  const enrolled = srv.sql(`SELECT learner_id FROM enrolments WHERE qualification_id = ${ids.q}`).split('\n').map(Number);
  for (const l of r.json.learners) assert.ok(enrolled.includes(l.id));
  assert.equal(r.json.starts_at, '2026-12-01T00:00:00Z', 'a local day (GMT in December)');
  assert.equal(r.json.ends_at, '2026-12-04T00:00:00Z', 'to the end of the last day');
  assert.equal(r.json.state, 'upcoming');
  r = await admin.post('/api/v1/eqa/visits', {eqa_id: eqa.user.id, qualification_ids: [ids.q], starts_at: '2026-07-01',
    ends_at: '2026-07-02', sample_rule: 'per_assessor', sample_size: 1});
  assertStatus(r, 201);
  assert.equal(r.json.starts_at, '2026-06-30T23:00:00Z', 'a local day (BST in July)');
  const assessors = Number(srv.sql(`SELECT count(DISTINCT assessor_id) FROM enrolments WHERE qualification_id = ${ids.q}`));
  assert.equal(r.json.learners.length, assessors);
  assert.match(r.json.sample_rule, /of each of the \d+ assessors/);
  assert.equal(r.json.state, 'ended');
  // an EQA sees the ended visit but not its learners
  const v = await eqa.get(`/api/v1/eqa/visits/${r.json.id}`);
  assertStatus(v, 200);
  assert.deepEqual(v.json.learners, []);
  assert.equal(v.json.learners_hidden, true);
});

test('the visit report: the EQA writes, the centre answers once, the admin ends the visit', async () => {
  const L1 = ids['learner@demo.test'];
  let r = await admin.post('/api/v1/eqa/visits', {eqa_id: eqa.user.id, qualification_ids: [ids.q],
    starts_at: iso(Date.now() - 3600e3), ends_at: iso(Date.now() + 86400e3), learner_ids: [L1]});
  assertStatus(r, 201);
  const visit = r.json.id;
  const f0 = count('eqa_findings');
  for (const [body, field] of [[{kind: 'rumour', body: 'x'}, 'kind'], [{kind: 'finding', body: ''}, 'body'],
    [{kind: 'action', body: 'x', due_on: '31/01/2027'}, 'due_on'],
    [{kind: 'finding', body: 'x', learner_id: ids['learner3@demo.test']}, 'learner_id']]) {
    const bad = await eqa.post(`/api/v1/eqa/visits/${visit}/findings`, body);
    assertStatus(bad, 400, JSON.stringify(body));
    assert.equal(bad.json.errors[0].field, field);
  }
  assert.equal(count('eqa_findings'), f0);
  // the form sent with a mistake keeps what was typed and chosen
  const form = await eqa.postForm(`/eqa/visits/${visit}/findings`, {kind: '', body: 'Typed <finding> kept',
    learner_id: String(L1), due_on: '2027-02-28'});
  assertStatus(form, 400);
  assert.match(form.text, /<a href="#kind">/);
  assert.match(form.text, />Typed &lt;finding&gt; kept<\/textarea>/);
  assert.match(form.text, new RegExp(`<option value="${L1}" selected>`));
  assert.match(form.text, /name="due_on" type="date" value="2027-02-28"/);
  const form2 = await eqa.postForm(`/eqa/visits/${visit}/findings`, {kind: 'action', body: ''});
  assertStatus(form2, 400);
  assert.match(form2.text, /name="kind" value="action" checked>/);
  assert.equal(count('eqa_findings'), f0);
  r = await eqa.post(`/api/v1/eqa/visits/${visit}/findings`, {kind: 'action', body: 'Standardise witness testimony',
    learner_id: L1, due_on: '2027-01-31'});
  assertStatus(r, 201);
  const finding = r.json.id;
  r = await eqa.post(`/api/v1/eqa/visits/${visit}/findings`, {kind: 'sanction', body: 'Certification claims paused'});
  assertStatus(r, 201);
  // the EQA cannot answer; the admin answers once
  assertStatus(await eqa.post(`/api/v1/eqa/findings/${finding}/response`, {response: 'mine'}), 404);
  assertStatus(await admin.post(`/api/v1/eqa/findings/${finding}/response`, {response: ''}), 400);
  r = await admin.post(`/api/v1/eqa/findings/${finding}/response`, {response: 'Standardisation meeting held'});
  assertStatus(r, 200);
  assertStatus(await admin.post(`/api/v1/eqa/findings/${finding}/response`, {response: 'again'}), 409);
  assertStatus(await admin.post('/api/v1/eqa/findings/999999/response', {response: 'x'}), 404);
  r = await eqa.get(`/api/v1/eqa/visits/${visit}`);
  assertStatus(r, 200);
  assert.equal(r.json.findings.length, 2);
  assert.equal(r.json.findings[0].response, 'Standardisation meeting held');
  assert.equal(r.json.findings[0].learner_name, 'Amy Clarke');
  for (const a of ['eqa.visit_create', 'eqa.finding', 'eqa.finding_response']) {
    assert.ok(Number(srv.sql(`SELECT count(*) FROM audit_events WHERE action = '${a}'`)) >= 1, a);
  }
  // the admin ends it: the EQA can no longer write or read the learner (through this visit)
  assertStatus(await admin.post(`/api/v1/eqa/visits/${visit}/end`), 200);
  assertStatus(await admin.post(`/api/v1/eqa/visits/${visit}/end`), 409);
  assertStatus(await eqa.post(`/api/v1/eqa/visits/${visit}/findings`, {kind: 'finding', body: 'late'}), 404);
  const still = await eqa.get(`/api/v1/eqa/visits/${visit}`);
  assertStatus(still, 200);
  assert.equal(still.json.state, 'ended');
  // the pages render
  for (const p of ['/eqa', `/eqa/visits/${visit}`]) assertStatus(await admin.get(p), 200, p);
  assertStatus(await admin.get('/eqa/visits/new'), 200);
  assertStatus(await eqa.get('/eqa'), 200);
});

test('the audit trail names quality-assurance events in plain words and keeps the code in the JSON', async () => {
  const L1 = ids['learner@demo.test'];
  const r0 = await admin.post('/api/v1/eqa/visits', {eqa_id: eqa.user.id, qualification_ids: [ids.q],
    starts_at: iso(Date.now() - 3600e3), ends_at: iso(Date.now() + 86400e3), learner_ids: [L1]});
  assertStatus(r0, 201);
  assertStatus(await eqa.get(`/api/v1/learners/${L1}`), 200); // eqa.view
  const want = {'eqa.view': 'Viewed by the EQA', 'eqa.visit_create': 'EQA visit set up'};
  const tl = await admin.get('/api/v1/audit', {query: {per_page: 100}});
  assertStatus(tl, 200);
  for (const [code, label] of Object.entries(want)) {
    const ev = tl.json.items.find((e) => e.action === code);
    assert.ok(ev, `an ${code} event in the trail`);
    assert.equal(ev.action_label, label, code);
  }
  const page = await admin.get('/audit');
  assertStatus(page, 200);
  assert.match(page.text, /Viewed by the EQA/);
  assert.match(page.text, /EQA visit set up/);
  // the learner's timeline shows the words, never the bare code as the event's name
  const t = await admin.get(`/learners/${L1}/timeline`);
  assertStatus(t, 200);
  assert.match(t.text, /<strong>Viewed by the EQA<\/strong>/);
  assert.doesNotMatch(t.text, /<strong>eqa\.view<\/strong>/);
  assertStatus(await admin.post(`/api/v1/eqa/visits/${r0.json.id}/end`), 200);
});

test('a refused visit form keeps every choice and shows the error summary', async () => {
  const L1 = ids['learner@demo.test'];
  const L2 = ids['learner2@demo.test'];
  const q2 = Number(srv.sql(`SELECT qualification_id FROM enrolments WHERE learner_id = ${L1} LIMIT 1`));
  const visits0 = count('eqa_visits');
  const page = await admin.postForm('/eqa/visits', {eqa_id: eqa.user.id, qualification_ids: [ids.q, q2],
    starts_at: '2026-12-01', ends_at: '2026-11-01', sample_rule: 'per_assessor', sample_size: '3',
    learner_ids: [L1, L2]});
  assertStatus(page, 400);
  assert.equal(count('eqa_visits'), visits0, 'nothing saved');
  assert.match(page.text, /class="error-summary"[\s\S]*<a href="#ends_at">The last day must be the same as or after the first day<\/a>/);
  assert.match(page.text, new RegExp(`<option value="${eqa.user.id}" selected>`), 'the EQA account stays chosen');
  for (const q of new Set([ids.q, q2])) {
    assert.match(page.text, new RegExp(`name="qualification_ids" value="${q}" checked>`), `qualification ${q} stays ticked`);
  }
  for (const l of [L1, L2]) assert.match(page.text, new RegExp(`name="learner_ids" value="${l}" checked>`), `learner ${l}`);
  assert.match(page.text, /value="per_assessor" checked>/, 'the rule stays chosen');
  assert.doesNotMatch(page.text, /value="chosen" checked>/);
  assert.match(page.text, /id="starts_at" name="starts_at" type="date" value="2026-12-01"/);
  assert.match(page.text, /id="ends_at" name="ends_at" type="date" value="2026-11-01"/);
  assert.match(page.text, /id="sample_size" name="sample_size" type="text" inputmode="numeric" value="3"/);
  // a fresh form picks nothing and defaults to the centre choosing
  const fresh = await admin.get('/eqa/visits/new');
  assert.doesNotMatch(fresh.text, /name="learner_ids" value="\d+" checked>/);
  assert.match(fresh.text, /value="chosen" checked>/);
});

test('a refused unit or portfolio sample, or risk rating, keeps every choice on the plan page', async () => {
  const L2 = ids['learner2@demo.test'];
  const unit = Number(srv.sql(`SELECT c.unit_id FROM decisions d JOIN criteria c ON c.id = d.criterion_id
    WHERE d.learner_id = ${L2} ORDER BY d.id LIMIT 1`));
  const n = count('iqa_samples');
  let page = await iqa.postForm('/iqa/sample-groups', {learner_id: L2, unit_id: unit, stage: 'summative',
    outcome: 'action_required', feedback: ''});
  assertStatus(page, 400);
  assert.match(page.text, /class="error-summary"[\s\S]*<a href="#feedback">Say what the assessor needs to do<\/a>/);
  assert.match(page.text, new RegExp(`<option value="${L2}" selected>`), 'the learner stays chosen');
  assert.match(page.text, new RegExp(`<option value="${unit}" selected>`), 'the unit stays chosen');
  assert.match(page.text, /name="stage" value="summative" checked>/);
  assert.match(page.text, /name="outcome" value="action_required" checked>/);
  page = await iqa.postForm('/iqa/sample-groups', {learner_id: L2, stage: 'interim', feedback: 'Typed <feedback> kept'});
  assertStatus(page, 400);
  assert.match(page.text, /<a href="#outcome">Choose agree or action required<\/a>/);
  assert.match(page.text, /name="stage" value="interim" checked>/);
  assert.match(page.text, />Typed &lt;feedback&gt; kept<\/textarea>/);
  // no learner chosen: the plan page again with the error at the learner, not "Page not found"
  page = await iqa.postForm('/iqa/sample-groups', {learner_id: '', unit_id: '', stage: 'interim', outcome: 'agree',
    feedback: 'Chosen nothing'});
  assertStatus(page, 400);
  assert.match(page.text, /<a href="#learner_id">Choose a learner<\/a>/);
  assert.match(page.text, /name="stage" value="interim" checked>/);
  assert.match(page.text, />Chosen nothing<\/textarea>/);
  assert.equal(count('iqa_samples'), n, 'nothing saved');
  // a risk rating refused (its note too long): that assessor's select keeps the rating chosen
  const a2 = ids['assessor@demo.test'];
  const before = srv.sql(`SELECT coalesce((SELECT rating FROM iqa_assessor_risk WHERE assessor_id = ${a2}), 'none')`);
  const want = before === 'experienced' ? 'under_development' : 'experienced';
  page = await iqa.postForm(`/iqa/assessors/${a2}/risk`, {rating: want, note: 'x'.repeat(2001)});
  assertStatus(page, 400);
  assert.match(page.text, new RegExp(`<a href="#rating-${a2}">Keep the note under 2000 characters</a>`));
  const row = new RegExp(`<select class="select select--error" id="rating-${a2}" name="rating" aria-describedby="rating-${a2}-error">[\\s\\S]*?</select>`).exec(page.text);
  assert.ok(row, 'the rating control is marked');
  assert.match(row[0], new RegExp(`<option value="${want}" selected>`));
  assert.equal(srv.sql(`SELECT coalesce((SELECT rating FROM iqa_assessor_risk WHERE assessor_id = ${a2}), 'none')`), before);
});
