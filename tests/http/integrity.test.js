// tests/http/integrity.test.js: assessment integrity (issue 11): the decision rules hold on
// every path, a decision freezes what it was made on (files with SHA-256, notes, criterion
// wording), evidence under a current "met" decision cannot be changed underneath it, and the
// frozen basis is what the decision page, the history, the API, the audit event and the
// export show. Each test first reproduces the hole it closes.
'use strict';
const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const {spawnSync} = require('node:child_process');
const {startServer, assertStatus} = require('./lib.js');

const VACSR = {valid: true, authentic: true, current: true, sufficient: true, reliable: true};
const sha = (s) => crypto.createHash('sha256').update(s).digest('hex');

let srv, learner, assessor, admin, iqa, L, unit, crits, otherCrit;

before(async () => {
  srv = await startServer({demo: true});
  [learner, assessor, admin, iqa] = await Promise.all([srv.login('learner@demo.test'),
    srv.login('assessor@demo.test'), srv.login('admin@demo.test'), srv.login('iqa@demo.test')]);
  L = Number(srv.sql("SELECT id FROM users WHERE email = 'learner@demo.test'"));
  const A = Number(srv.sql("SELECT id FROM users WHERE email = 'assessor@demo.test'"));
  const q = Number(srv.sql(`SELECT qualification_id FROM enrolments WHERE learner_id = ${L} AND assessor_id = ${A}
    ORDER BY id LIMIT 1`));
  const units = srv.sqlRows(`SELECT u.id, (SELECT count(*) FROM criteria c WHERE c.unit_id = u.id AND c.retired = 0) AS n
    FROM units u WHERE u.qualification_id = ${q} AND u.retired = 0
    AND NOT EXISTS (SELECT 1 FROM decisions d JOIN criteria c ON c.id = d.criterion_id WHERE c.unit_id = u.id
      AND d.learner_id = ${L})
    AND NOT EXISTS (SELECT 1 FROM evidence_criteria ec JOIN criteria c ON c.id = ec.criterion_id
      WHERE c.unit_id = u.id AND ec.learner_id = ${L}) ORDER BY u.position, u.id`).filter((u) => u.n >= 3);
  assert.ok(units.length >= 2, 'two untouched units with 3+ criteria');
  unit = units[0];
  crits = srv.sqlRows(`SELECT id, ref, text FROM criteria WHERE unit_id = ${unit.id} AND retired = 0
    ORDER BY position, id`);
  otherCrit = srv.sqlRows(`SELECT id, ref FROM criteria WHERE unit_id = ${units[1].id} AND retired = 0
    ORDER BY position, id LIMIT 1`)[0];
});
after(() => srv && srv.stop());

const decisions = () => Number(srv.sql(`SELECT count(*) FROM decisions WHERE learner_id = ${L}`));

async function evidence(title, criteria, {kind = 'product', files} = {}) {
  files = files || [{name: `${title}.txt`, type: 'text/plain', data: `${title}: what I did\n`}];
  let r = await learner.upload('/api/v1/evidence', {title, kind, description: `${title} at work`,
    occurred_on: '2026-10-01'}, files);
  assertStatus(r, 201, 'upload');
  const id = r.json.id;
  r = await learner.put(`/api/v1/evidence/${id}/criteria`,
    {criteria: criteria.map((c) => ({criterion_id: c.id, note: `How ${title} shows ${c.ref}`}))});
  assertStatus(r, 200, 'map');
  r = await learner.post(`/api/v1/evidence/${id}/submit`, {});
  assertStatus(r, 200, 'submit');
  return {id, files: r.json.files};
}

test('met needs mapped evidence, all five VACSR checks and an explicit declaration; refusals change nothing', async () => {
  const e = await evidence('Rules check', [crits[2]]);
  const base = {learner_id: L, criterion_id: crits[2].id};
  const n = decisions();
  // The hole: this bare "met" was 201.
  let r = await assessor.post('/api/v1/decisions', {...base, outcome: 'met'});
  assertStatus(r, 400, 'bare met');
  assert.equal(r.json.error.code, 'declaration_required');
  assert.ok(r.json.errors.some((x) => x.field === 'declaration'));
  r = await assessor.post('/api/v1/decisions', {...base, outcome: 'met', declaration: true});
  assertStatus(r, 400, 'no VACSR');
  assert.equal(r.json.error.code, 'vacsr_incomplete');
  r = await assessor.post('/api/v1/decisions', {...base, outcome: 'met', declaration: true, vacsr: VACSR});
  assertStatus(r, 422, 'no evidence');
  assert.equal(r.json.error.code, 'evidence_required');
  assert.ok(r.json.errors.some((x) => x.field === 'evidence_ids'));
  // Evidence that is not mapped to the criterion cannot be cited (it was 201).
  r = await assessor.post('/api/v1/decisions', {...base, criterion_id: crits[1].id, outcome: 'met',
    declaration: true, vacsr: VACSR, evidence_ids: [e.id]});
  assertStatus(r, 422, 'unmapped evidence');
  assert.equal(r.json.error.code, 'evidence_not_mapped');
  r = await assessor.post('/api/v1/decisions', {...base, outcome: 'not_met', declaration: true, evidence_ids: [e.id]});
  assertStatus(r, 400, 'not yet met without feedback');
  assert.equal(r.json.error.code, 'feedback_required');
  r = await assessor.post('/api/v1/decisions', {...base, outcome: 'met', declaration: 'false', vacsr: VACSR,
    evidence_ids: [e.id]});
  assertStatus(r, 400, 'declaration "false"');
  // The review form (page) has the same rules: no VACSR ticked, no met.
  r = await assessor.postForm(`/review/${e.id}`, {[`outcome_${crits[2].id}`]: 'met', declaration: 'on'});
  assertStatus(r, 400, 'review form without VACSR');
  assert.match(r.text, /valid, authentic, current, sufficient and reliable/);
  assert.equal(decisions(), n, 'nothing was recorded');
  // And the complete decision is accepted.
  r = await assessor.post('/api/v1/decisions', {...base, outcome: 'met', declaration: true, vacsr: VACSR,
    evidence_ids: [e.id]});
  assertStatus(r, 201, 'a complete met decision');
  assert.equal(decisions(), n + 1);
});

test('recognition of prior learning: unmapped RPL evidence may be cited only with a recorded reason', async () => {
  // RPL evidence (a certificate) mapped elsewhere, cited for crits[0].
  const e = await evidence('First aid certificate', [otherCrit], {kind: 'recognition_of_prior_learning'});
  const base = {learner_id: L, criterion_id: crits[0].id, outcome: 'met', declaration: true, vacsr: VACSR,
    evidence_ids: [e.id]};
  const n = decisions();
  let r = await assessor.post('/api/v1/decisions', base);
  assertStatus(r, 422, 'RPL without a reason');
  assert.equal(r.json.error.code, 'evidence_not_mapped');
  const plain = await evidence('Unrelated product', [otherCrit]);
  r = await assessor.post('/api/v1/decisions', {...base, evidence_ids: [plain.id], rpl_reason: 'Prior certificate'});
  assertStatus(r, 422, 'a reason with non-RPL evidence');
  assert.equal(decisions(), n);
  r = await assessor.post('/api/v1/decisions', {...base,
    rpl_reason: 'Certificate from 2025 covers this criterion; checked with the issuing body.'});
  assertStatus(r, 201, 'RPL with a reason');
  assert.match(r.json.rpl_reason, /checked with the issuing body/);
  assert.equal(r.json.evidence[0].mapped_at_decision, false);
  assert.equal(r.json.evidence[0].files[0].sha256, e.files[0].sha256);
});

let frozen; // {e, metId, file}
let signedUnit; // {u, uc, e}: a unit signed off in the revision test

test('a current met decision freezes its evidence: files and the met mapping cannot change (409)', async () => {
  const content = 'Complaint log, week 40: every call and what I did.\n'.repeat(10);
  const e = await evidence('Complaint log', [crits[0], crits[1]],
    {files: [{name: 'log.txt', type: 'text/plain', data: content}]});
  const file = e.files[0];
  assert.equal(file.sha256, sha(content));
  let r = await assessor.post('/api/v1/decisions', {learner_id: L, criterion_id: crits[0].id, outcome: 'met',
    declaration: true, vacsr: VACSR, evidence_ids: [e.id], feedback: 'Clear log.'});
  assertStatus(r, 201, 'A met');
  const metId = r.json.id;
  r = await assessor.post('/api/v1/decisions', {learner_id: L, criterion_id: crits[1].id, outcome: 'not_met',
    declaration: true, evidence_ids: [e.id], feedback: 'Say what you learned from the calls.'});
  assertStatus(r, 201, 'B not yet met');
  r = await learner.get(`/api/v1/evidence/${e.id}`);
  assert.equal(r.json.status, 'returned');
  const audits = () => Number(srv.sql('SELECT count(*) FROM audit_events'));
  const a0 = audits();
  // The holes: each of these was 200.
  r = await learner.del(`/api/v1/evidence/${e.id}/files/${file.id}`);
  assertStatus(r, 409, 'delete the file A was met on');
  assert.equal(r.json.error.code, 'evidence_frozen');
  assert.match(r.json.error.message, /add files|new evidence/i);
  r = await learner.upload(`/api/v1/evidence/${e.id}`, {remove_file: String(file.id)},
    [{name: 'other.txt', type: 'text/plain', data: 'swapped content\n'}], {method: 'PATCH'});
  assertStatus(r, 409, 'replace the file');
  r = await learner.postForm(`/evidence/${e.id}/files/${file.id}/delete`, {});
  assertStatus(r, 409, 'the page form too');
  r = await learner.put(`/api/v1/evidence/${e.id}/criteria`, {criteria: [{criterion_id: crits[1].id, note: 'only B'}]});
  assertStatus(r, 409, 'unmap A');
  assert.equal(r.json.error.code, 'criterion_met_frozen');
  assert.equal(audits(), a0, 'nothing changed');
  assert.equal(Number(srv.sql(`SELECT count(*) FROM evidence_files WHERE id = ${file.id}`)), 1);
  // What the returned part needs can still be fixed: add a file, keep A mapped, resubmit.
  r = await learner.upload(`/api/v1/evidence/${e.id}/files`, {},
    [{name: 'learned.txt', type: 'text/plain', data: 'What I learned: listen first.\n'}]);
  assertStatus(r, 200, 'add a file');
  r = await learner.put(`/api/v1/evidence/${e.id}/criteria`, {criteria: [
    {criterion_id: crits[0].id, note: 'How Complaint log shows ' + crits[0].ref},
    {criterion_id: crits[1].id, note: 'Now with what I learned'}]});
  assertStatus(r, 200, 'edit the note on B, A kept');
  frozen = {e, metId, file};
});

test('the decision shows its frozen basis: API, page, history, review page and audit event', async () => {
  const {metId, file, e} = frozen;
  let r = await assessor.get(`/api/v1/decisions/${metId}`);
  assertStatus(r, 200);
  const ev = r.json.evidence.find((x) => x.id === e.id);
  assert.ok(ev.frozen);
  assert.deepEqual(ev.files.map((f) => f.sha256), [file.sha256], 'only the file it was made on');
  assert.equal(ev.files[0].name, 'log.txt');
  assert.equal(ev.files[0].id, file.id);
  assert.match(ev.note_at_decision, /How Complaint log shows/);
  assert.equal(r.json.decided_criterion_text, crits[0].text);
  const page = await assessor.get(`/decisions/${metId}`);
  assertStatus(page, 200);
  assert.ok(page.text.includes(file.sha256), 'decision page shows the SHA-256');
  const hist = await learner.get(`/learners/${L}/decisions`);
  assert.ok(hist.text.includes(file.sha256), 'learner decision history shows it');
  r = await learner.post(`/api/v1/evidence/${e.id}/submit`, {});
  assertStatus(r, 200, 'resubmit');
  const review = await assessor.get(`/review/${e.id}`);
  assertStatus(review, 200);
  assert.ok(review.text.includes(file.sha256), 'review page shows what the current decision was made on');
  const after = JSON.parse(srv.sql(`SELECT after FROM audit_events WHERE action = 'decision.create'
    AND entity_id = ${metId}`));
  assert.equal(after.basis[0].files[0].sha256, file.sha256);
  assert.equal(after.criterion.criterion_text, crits[0].text);
});

test('the export carries each decision\'s frozen files in index.html and the manifest', async () => {
  const {metId, file} = frozen;
  const r = await admin.get(`/api/v1/learners/${L}/export`);
  assertStatus(r, 200);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evitrack-integrity-'));
  const zip = path.join(dir, 'p.zip');
  fs.writeFileSync(zip, r.body);
  const u = spawnSync('unzip', ['-q', '-o', zip, '-d', dir], {encoding: 'utf8'});
  assert.equal(u.status, 0, u.stderr);
  const html = fs.readFileSync(path.join(dir, 'index.html'), 'utf8');
  assert.ok(html.includes(file.sha256), 'index.html shows the SHA-256');
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  const rows = manifest.decision_basis.filter((x) => x.decision_id === metId);
  assert.deepEqual(rows.map((x) => x.sha256), [file.sha256]);
  assert.ok(manifest.files.some((f) => f.path === rows[0].path && f.sha256 === file.sha256), 'the file is in the zip');
  fs.rmSync(dir, {recursive: true, force: true});
});

test('unknown fields are refused by name (400) on JSON and form endpoints, and nothing changes', async () => {
  const ev = () => Number(srv.sql(`SELECT count(*) FROM evidence WHERE learner_id = ${L}`));
  const n = ev();
  // The hole: witness_name was silently dropped (201).
  let r = await learner.upload('/api/v1/evidence', {title: 'Witness', kind: 'witness_testimony',
    description: 'd', witness_name: 'Pat Smith'}, [{name: 'w.txt', type: 'text/plain', data: 'testimony\n'}]);
  assertStatus(r, 400, 'unknown field on upload');
  assert.equal(r.json.error.code, 'unknown_field');
  assert.match(r.json.error.message, /witness_name/);
  r = await learner.upload('/api/v1/evidence', {title: 'Witness', kind: 'witness_testimony', description: 'd'},
    [{name: 'w.txt', type: 'text/plain', data: 'testimony\n', field: 'attachment'}]);
  assertStatus(r, 400, 'unknown file part');
  assert.match(r.json.error.message, /attachment/);
  r = await learner.postForm('/evidence/new', {title: 'Form', kind: 'product', description: 'd', colour: 'red'});
  assertStatus(r, 400, 'unknown field on a page form');
  assert.equal(ev(), n, 'no evidence was created');
  const users = Number(srv.sql('SELECT count(*) FROM users'));
  r = await admin.post('/api/v1/users', {email: 'x@demo.test', name: 'X', role: 'learner', password: 'a-long-password-1',
    is_admin: true});
  assertStatus(r, 400, 'unknown field on users');
  assert.match(r.json.error.message, /is_admin/);
  assert.equal(Number(srv.sql('SELECT count(*) FROM users')), users);
  r = await assessor.post('/api/v1/decisions', {learner_id: L, criterion_id: crits[2].id, outcome: 'not_met',
    feedback: 'x', declaration: true, grade: 'distinction'});
  assertStatus(r, 400, 'unknown field on decisions');
  const e = await evidence('Fields check', [crits[2]]);
  r = await learner.put(`/api/v1/evidence/${e.id}/criteria`, {criteria: [], mode: 'append'});
  assertStatus(r, 400, 'unknown field on mapping');
  assert.equal(Number(srv.sql(`SELECT count(*) FROM evidence_criteria WHERE evidence_id = ${e.id}`)), 1);
  // csrf_token is always accepted (the page forms all carry it).
  r = await learner.postForm(`/evidence/${e.id}/withdraw`, {});
  assert.ok(r.status === 303 || r.status === 200, `withdraw form: ${r.status}`);
});

test('ending an enrolment records status, date and reason; nothing new can be added to it (409)', async () => {
  const l3 = await srv.login('learner3@demo.test');
  const a2 = await srv.login('assessor2@demo.test');
  const L3 = Number(srv.sql("SELECT id FROM users WHERE email = 'learner3@demo.test'"));
  const enr = srv.sqlRows(`SELECT id, qualification_id, start_date FROM enrolments WHERE learner_id = ${L3}
    AND status = 'active' ORDER BY id`);
  assert.ok(enr.length >= 1, 'learner3 has an active enrolment');
  const cr = srv.sqlRows(`SELECT c.id, c.ref FROM criteria c JOIN units u ON u.id = c.unit_id
    WHERE u.qualification_id = ${enr[0].qualification_id} AND c.retired = 0 AND u.retired = 0
    AND NOT EXISTS (SELECT 1 FROM criterion_status s WHERE s.learner_id = ${L3} AND s.criterion_id = c.id
      AND s.status <> 'not_started') ORDER BY c.id LIMIT 2`);
  // Before it ends: a submitted item mapped to cr[0], and a draft.
  let r = await l3.upload('/api/v1/evidence', {title: 'Before withdrawal', kind: 'product', description: 'd'},
    [{name: 'b.txt', type: 'text/plain', data: 'before\n'}]);
  assertStatus(r, 201);
  const sub = r.json.id;
  assertStatus(await l3.put(`/api/v1/evidence/${sub}/criteria`, {criteria: [{criterion_id: cr[0].id, note: 'n'}]}), 200);
  assertStatus(await l3.post(`/api/v1/evidence/${sub}/submit`, {}), 200);
  r = await l3.upload('/api/v1/evidence', {title: 'Draft', kind: 'product', description: 'd'},
    [{name: 'd.txt', type: 'text/plain', data: 'draft\n'}]);
  const draft = r.json.id;
  const id = enr[0].id;
  // Refusals: reason missing, bad and future dates, unknown status.
  r = await admin.post(`/api/v1/enrolments/${id}/end`, {status: 'withdrawn', date: '2026-11-02'});
  assertStatus(r, 400, 'no reason');
  assert.ok(r.json.errors.some((x) => x.field === 'reason'));
  r = await admin.post(`/api/v1/enrolments/${id}/end`, {status: 'withdrawn', date: '2026-13-40', reason: 'x'});
  assertStatus(r, 400, 'bad date');
  r = await admin.post(`/api/v1/enrolments/${id}/end`, {status: 'withdrawn', date: '2999-01-01', reason: 'x'});
  assertStatus(r, 400, 'future date');
  r = await admin.post(`/api/v1/enrolments/${id}/end`, {status: 'expelled', reason: 'x'});
  assertStatus(r, 400, 'unknown status');
  assert.equal(srv.sql(`SELECT status FROM enrolments WHERE id = ${id}`), 'active');
  const today = new Date().toISOString().slice(0, 10);
  r = await admin.post(`/api/v1/enrolments/${id}/end`, {status: 'withdrawn', date: today,
    reason: 'Left the employer; no longer in a relevant job role.'});
  assertStatus(r, 200, 'end');
  assert.equal(r.json.enrolment.status, 'withdrawn');
  assert.equal(r.json.enrolment.end_date, today);
  assert.match(r.json.enrolment.end_reason, /Left the employer/);
  const ev = JSON.parse(srv.sql(`SELECT after FROM audit_events WHERE action = 'enrolment.end' AND entity_id = ${id}
    ORDER BY id DESC LIMIT 1`));
  assert.match(ev.end_reason, /Left the employer/);
  r = await admin.post(`/api/v1/enrolments/${id}/end`, {status: 'completed'});
  assertStatus(r, 409, 'already ended');
  // Nothing new for that qualification: mappings, decisions; and once every enrolment has
  // ended, no new evidence at all.
  for (const other of enr.slice(1)) {
    assertStatus(await admin.post(`/api/v1/enrolments/${other.id}/end`, {status: 'completed'}), 200);
  }
  r = await l3.upload('/api/v1/evidence', {title: 'After', kind: 'product', description: 'd'},
    [{name: 'a.txt', type: 'text/plain', data: 'after\n'}]);
  assertStatus(r, 409, 'new evidence after withdrawal (was 201)');
  assert.equal(r.json.error.code, 'enrolment_ended');
  r = await l3.put(`/api/v1/evidence/${draft}/criteria`, {criteria: [{criterion_id: cr[0].id, note: "n"}]});
  assertStatus(r, 409, 'new mapping');
  r = await a2.post('/api/v1/decisions', {learner_id: L3, criterion_id: cr[0].id, outcome: 'met', declaration: true,
    vacsr: VACSR, evidence_ids: [sub]});
  assertStatus(r, 409, 'decision');
  assert.equal(r.json.error.code, 'enrolment_ended');
  // The admin page shows it.
  const page = await admin.get(`/admin/enrolments/${id}`);
  assert.match(page.text, /Left the employer/);
});

test('a specification revision reports each change, flags the signed-off unit, and an IQA can reopen it', async () => {
  // A third untouched unit, every criterion met and the unit signed off and countersigned.
  const A = Number(srv.sql("SELECT id FROM users WHERE email = 'assessor@demo.test'"));
  const u = srv.sqlRows(`SELECT u.id, u.ref, u.qualification_id FROM units u JOIN enrolments en
    ON en.qualification_id = u.qualification_id AND en.learner_id = ${L} AND en.assessor_id = ${A}
    AND en.status = 'active' WHERE u.retired = 0
    AND u.id NOT IN (${unit.id}, (SELECT unit_id FROM criteria WHERE id = ${otherCrit.id}))
    AND NOT EXISTS (SELECT 1 FROM decisions d JOIN criteria c ON c.id = d.criterion_id WHERE c.unit_id = u.id
      AND d.learner_id = ${L})
    AND NOT EXISTS (SELECT 1 FROM evidence_criteria ec JOIN criteria c ON c.id = ec.criterion_id
      WHERE c.unit_id = u.id AND ec.learner_id = ${L})
    AND (SELECT count(*) FROM criteria c WHERE c.unit_id = u.id AND c.retired = 0) >= 2
    ORDER BY u.position, u.id LIMIT 1`)[0];
  assert.ok(u, 'a third untouched unit');
  const q = u.qualification_id;
  const uc = srv.sqlRows(`SELECT id, ref, text FROM criteria WHERE unit_id = ${u.id} AND retired = 0
    ORDER BY position, id`);
  const e = await evidence('Whole unit', uc);
  let r = await assessor.post(`/api/v1/reviews/${e.id}`, {decisions: uc.map((c) => ({criterion_id: c.id,
    outcome: 'met'})), vacsr: VACSR, declaration: true});
  assertStatus(r, 201, 'all met');
  assertStatus(await assessor.post(`/api/v1/learners/${L}/units/${u.id}/signoff`, {}), 201);
  assertStatus(await learner.post(`/api/v1/learners/${L}/units/${u.id}/countersign`, {}), 201);

  // The revision adds a criterion to the unit and rewords its first one.
  r = await admin.get(`/api/v1/qualifications/${q}/spec`);
  assertStatus(r, 200);
  const spec = r.json;
  const su = spec.units.find((x) => x.ref === u.ref);
  const reworded = `${su.criteria[0].text} (revised wording)`;
  su.criteria[0].text = reworded;
  su.criteria.push({ref: `${su.criteria.length + 1}.9`, outcome: su.criteria[0].outcome,
    text: 'Explain how a new rule added by the awarding body applies at work'});
  r = await admin.post('/api/v1/specs', {content: JSON.stringify(spec), name: 'revision.json'});
  assertStatus(r, 200, 'import');
  const rev = (r.json.files || [r.json]).flatMap((f) => f.revisions || []);
  const added = rev.find((x) => x.change === 'added');
  const rew = rev.find((x) => x.change === 'reworded');
  assert.ok(added && rew, JSON.stringify(rev));
  assert.equal(rew.criterion_id, uc[0].id);
  assert.equal(rew.decisions, 1, 'the met decision on the reworded criterion');
  assert.ok(rew.learners >= 1);
  assert.equal(added.signed_off, 1);
  assert.ok(added.learners >= 1);
  // The CLI prints the same report.
  // Flagged for the assessor and the IQA; decisions on the new criterion still wait.
  r = await assessor.get(`/api/v1/learners/${L}/units/${u.id}/signoff`);
  assert.equal(r.json.needs_review, true);
  assert.match(r.json.signoff.review_note, /added/);
  r = await iqa.get(`/api/v1/learners/${L}/signoffs`);
  assert.equal(r.json.items.find((x) => x.id === u.id).needs_review, true);
  const e2 = await evidence('New rule', [{id: added.criterion_id, ref: added.ref}]);
  r = await assessor.post('/api/v1/decisions', {learner_id: L, criterion_id: added.criterion_id, outcome: 'met',
    declaration: true, vacsr: VACSR, evidence_ids: [e2.id]});
  assertStatus(r, 409, 'the unit is still signed off');
  assert.match(r.json.error.message, /reopen/);
  // Who may reopen: the learner's IQA or an admin, with a reason.
  r = await assessor.post(`/api/v1/learners/${L}/units/${u.id}/signoff/reopen`, {reason: 'x'});
  assertStatus(r, 403, 'the assessor cannot');
  r = await iqa.post(`/api/v1/learners/${L}/units/${u.id}/signoff/reopen`, {});
  assertStatus(r, 400, 'no reason');
  r = await iqa.post(`/api/v1/learners/${L}/units/${u.id}/signoff/reopen`,
    {reason: 'The awarding body added a criterion to this unit.'});
  assertStatus(r, 200, 'reopen');
  assert.equal(r.json.signed_off, false);
  assert.match(r.json.reopenings[0].reason, /added a criterion/);
  assert.ok(srv.sql(`SELECT count(*) FROM audit_events WHERE action = 'unit.signoff_reopen'`) >= 1);
  const page = await learner.get(`/learners/${L}/units/${u.id}/signoff`);
  assert.match(page.text, /added a criterion/, 'the learner sees why');
  // The assessor decides the new criterion, signs off again; the learner countersigns anew.
  r = await assessor.post('/api/v1/decisions', {learner_id: L, criterion_id: added.criterion_id, outcome: 'met',
    declaration: true, vacsr: VACSR, evidence_ids: [e2.id]});
  assertStatus(r, 201, 'decide the new criterion');
  assertStatus(await assessor.post(`/api/v1/learners/${L}/units/${u.id}/signoff`, {}), 201, 'sign off again');
  r = await learner.get(`/api/v1/learners/${L}/units/${u.id}/signoff`);
  assert.equal(r.json.can_countersign, true, 'a new countersign is needed');
  assertStatus(await learner.post(`/api/v1/learners/${L}/units/${u.id}/countersign`, {}), 201);
  signedUnit = {u, uc, e};
});

test('IQA actions: answered by the current assessor, closed or sent back by the IQA, handed over by admin', async () => {
  const {metId} = frozen;
  const a2 = await srv.login('assessor2@demo.test');
  const A2 = Number(srv.sql("SELECT id FROM users WHERE email = 'assessor2@demo.test'"));
  const A = Number(srv.sql("SELECT id FROM users WHERE email = 'assessor@demo.test'"));
  let r = await iqa.post('/api/v1/iqa/samples', {decision_id: metId, outcome: 'action_required',
    feedback: 'Name the complaint log entries that show 1.1.'});
  assertStatus(r, 201, 'raise');
  const sid = r.json.id;
  assert.equal(r.json.open, true);
  r = await assessor.post(`/api/v1/iqa/samples/${sid}/close`, {});
  assertStatus(r, 403, 'the assessor cannot close it');
  r = await iqa.post(`/api/v1/iqa/samples/${sid}/close`, {});
  assertStatus(r, 409, 'nothing to close before an answer');
  r = await assessor.post(`/api/v1/iqa/samples/${sid}/response`, {response: 'Added the entry numbers.'});
  assertStatus(r, 200, 'answer');
  // The hole: any reply closed the action. Now it waits for the IQA.
  assert.equal(r.json.answered, true);
  assert.equal(r.json.closed, false);
  r = await assessor.post(`/api/v1/iqa/samples/${sid}/response`, {response: 'again'});
  assertStatus(r, 409, 'answered twice');
  r = await iqa.post(`/api/v1/iqa/samples/${sid}/send-back`, {});
  assertStatus(r, 400, 'send back needs a comment');
  r = await iqa.post(`/api/v1/iqa/samples/${sid}/send-back`, {comment: 'Also say which entries show 1.2.'});
  assertStatus(r, 200, 'send back');
  assert.equal(r.json.open, true);
  // The learner moves to another assessor: the new one answers; the old one no longer can (the
  // hole: nobody could, and it stayed open forever).
  const enr = srv.sqlRows(`SELECT e.id FROM enrolments e JOIN units u ON u.qualification_id = e.qualification_id
    WHERE e.learner_id = ${L} AND u.id = ${unit.id}`)[0];
  assertStatus(await admin.put(`/api/v1/enrolments/${enr.id}`, {assessor_id: A2}), 200, 'move the learner');
  r = await assessor.post(`/api/v1/iqa/samples/${sid}/response`, {response: 'old assessor'});
  assertStatus(r, 403, 'the former assessor');
  r = await a2.get('/api/v1/iqa/actions?open=1');
  assert.ok(r.json.items.some((x) => x.id === sid && x.can_answer), 'on the new assessor\'s list');
  r = await a2.post(`/api/v1/iqa/samples/${sid}/response`, {response: 'Checked: entries 3 and 7.'});
  assertStatus(r, 200, 'the current assessor answers');
  r = await iqa.post(`/api/v1/iqa/samples/${sid}/close`, {comment: 'Thank you.'});
  assertStatus(r, 200, 'the IQA closes it');
  assert.equal(r.json.closed, true);
  assert.deepEqual(r.json.history.map((h) => h.kind), ['answer', 'send_back', 'answer', 'close']);
  r = await a2.post(`/api/v1/iqa/samples/${sid}/response`, {response: 'late'});
  assertStatus(r, 409, 'closed');
  // An admin hands an open action to another assessor.
  r = await iqa.post('/api/v1/iqa/samples', {decision_id: metId, outcome: 'action_required', feedback: 'Second look.'});
  const sid2 = r.json.id;
  r = await a2.post(`/api/v1/iqa/samples/${sid2}/assign`, {assessor_id: A});
  assertStatus(r, 403, 'only an admin hands over');
  r = await admin.post(`/api/v1/iqa/samples/${sid2}/assign`, {assessor_id: L});
  assertStatus(r, 400, 'not an assessor');
  r = await admin.post(`/api/v1/iqa/samples/${sid2}/assign`, {assessor_id: A, comment: 'Covering for a colleague.'});
  assertStatus(r, 200, 'handed over');
  r = await a2.post(`/api/v1/iqa/samples/${sid2}/response`, {response: 'x'});
  assertStatus(r, 403, 'no longer theirs');
  r = await assessor.post(`/api/v1/iqa/samples/${sid2}/response`, {response: 'Looked again: it stands.'});
  assertStatus(r, 200, 'the assessor it was handed to answers');
  assertStatus(await admin.put(`/api/v1/enrolments/${enr.id}`, {assessor_id: A}), 200, 'move back');
  const page = await iqa.get('/actions');
  assertStatus(page, 200);
  assert.match(page.text, /Close action/);
});

test('an IQA action on a signed-off unit is put right by reopening the unit', async () => {
  const {u, uc, e} = signedUnit;
  const did = Number(srv.sql(`SELECT max(id) FROM decisions WHERE learner_id = ${L} AND criterion_id = ${uc[1].id}`));
  let r = await iqa.post('/api/v1/iqa/samples', {decision_id: did, outcome: 'action_required',
    feedback: 'The feedback does not say why this is met.'});
  assertStatus(r, 201);
  const sid = r.json.id;
  const redo = {learner_id: L, criterion_id: uc[1].id, outcome: 'met', declaration: true, vacsr: VACSR,
    evidence_ids: [e.id], feedback: 'Met: the account shows each step in order.'};
  r = await assessor.post('/api/v1/decisions', redo);
  assertStatus(r, 409, 'signed off');
  r = await iqa.post(`/api/v1/learners/${L}/units/${u.id}/signoff/reopen`, {reason: `IQA action ${sid}: feedback needed.`});
  assertStatus(r, 200, 'reopen');
  r = await assessor.post('/api/v1/decisions', redo);
  assertStatus(r, 201, 'the decision is put right');
  r = await assessor.post(`/api/v1/iqa/samples/${sid}/response`, {response: `Recorded decision ${r.json.id} with feedback.`});
  assertStatus(r, 200);
  r = await iqa.post(`/api/v1/iqa/samples/${sid}/close`, {});
  assertStatus(r, 200);
  assertStatus(await assessor.post(`/api/v1/learners/${L}/units/${u.id}/signoff`, {}), 201, 'signed off again');
});
