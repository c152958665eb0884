// tests/http/witness.test.js: remote witness testimony (issue 14). A learner or their assessor
// nominates a witness for a piece of work; the witness gets a one-time link by email (real
// SMTP on loopback) and the nominator sees it once; the link needs no account, works once,
// for one request, expires after 14 days, can be revoked and cannot be guessed; the form
// refuses cross-site posts; the testimony becomes witness-authored evidence, ready for
// assessment and cited by a decision, with the witness's name, job title, email, time and
// address in the audit trail.
'use strict';
const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const {startServer, assertStatus} = require('./lib.js');
const {startSmtp, freePort} = require('./smtp.js');

const VACSR = {valid: true, authentic: true, current: true, sufficient: true, reliable: true};
let srv, smtp, learner, learner2, assessor, assessor2, eqa, L, L2, crits;

before(async () => {
  smtp = await startSmtp();
  const port = await freePort();
  srv = await startServer({demo: true, args: ['--port', String(port), '--smtp-url', `smtp://127.0.0.1:${smtp.port}`,
    '--smtp-from', 'evitrack <noreply@centre.test>', '--smtp-retry-seconds', '1']});
  [learner, learner2, assessor, assessor2, eqa] = await Promise.all(['learner@demo.test', 'learner2@demo.test',
    'assessor@demo.test', 'assessor2@demo.test', 'eqa@demo.test'].map((e) => srv.login(e)));
  L = Number(srv.sql("SELECT id FROM users WHERE email = 'learner@demo.test'"));
  L2 = Number(srv.sql("SELECT id FROM users WHERE email = 'learner2@demo.test'"));
  const A = Number(srv.sql("SELECT id FROM users WHERE email = 'assessor@demo.test'"));
  const q = Number(srv.sql(`SELECT qualification_id FROM enrolments WHERE learner_id = ${L} AND assessor_id = ${A}
    AND status = 'active' ORDER BY id LIMIT 1`));
  crits = srv.sqlRows(`SELECT c.id, c.ref FROM criteria c JOIN units u ON u.id = c.unit_id
    WHERE u.qualification_id = ${q} AND c.retired = 0 AND u.retired = 0
    AND NOT EXISTS (SELECT 1 FROM decisions d WHERE d.criterion_id = c.id AND d.learner_id = ${L})
    ORDER BY u.position, c.position, c.id LIMIT 3`);
});
after(async () => { if (srv) await srv.stop(); if (smtp) { await smtp.stop(); smtp.cleanup(); } });

const NOMINATION = () => ({title: 'Opening the shop', about: 'That I opened the shop alone and cashed up correctly.',
  occurred_on: '2026-10-01', witness_name: 'Pat Manager', witness_job_title: 'Store manager',
  witness_relationship: 'Line manager', witness_email: `pat.${crypto.randomBytes(3).toString('hex')}@shop.example`,
  criteria: [{criterion_id: crits[0].id}]});

async function nominate(client, learnerId, extra = {}) {
  const body = {...NOMINATION(), ...extra};
  const r = await client.post(`/api/v1/learners/${learnerId}/witness-requests`, body);
  assertStatus(r, 201, 'nominate');
  return {...r.json, body};
}

function tokenOf(link) { return new URL(link).searchParams.get('token'); }

test('a learner nominates a witness: emailed link, shown once; the witness gives testimony without an account', async () => {
  const n = await nominate(learner, L);
  assert.match(n.link, /\/witness\?token=[0-9a-f]{64}$/);
  assert.ok(n.expires_at > new Date(Date.now() + 13.9 * 86400e3).toISOString());
  assert.ok(n.expires_at < new Date(Date.now() + 14.1 * 86400e3).toISOString());
  // the database holds only the hash of the token
  const token = tokenOf(n.link);
  assert.equal(Number(srv.sql(`SELECT count(*) FROM witness_requests WHERE token_hash = '${token}'`)), 0);
  assert.equal(Number(srv.sql(`SELECT count(*) FROM witness_requests WHERE token_hash =
    '${crypto.createHash('sha256').update(token).digest('hex')}'`)), 1);
  // emailed to the witness with the same link
  const [mail] = await smtp.waitFor(1, {filter: (m) => m.to.includes(n.body.witness_email)});
  assert.ok(mail.text.includes(n.link), mail.text);
  // the learner asked for their own work: the email says "their work", not the learner's name twice
  assert.match(mail.text, /asked you to give a witness testimony about their work/);
  assert.doesNotMatch(mail.subject || '', /witness .+'s work/);
  // the list shows the request but never the link
  let r = await learner.get(`/api/v1/learners/${L}/witness-requests`);
  assertStatus(r, 200);
  assert.equal(r.json.requests[0].state, 'pending');
  assert.ok(!r.text.includes(token));
  // the witness: a fresh client with no session
  const w = srv.client();
  r = await w.get(`/witness?token=${token}`);
  assertStatus(r, 200);
  assert.match(r.text, /That I opened the shop alone/);
  assert.match(r.text, /The work took place on 1 Oct 2026\./);
  assert.match(r.text, new RegExp(crits[0].ref.replace('.', '\\.')));
  assert.match(r.headers['cache-control'] || '', /no-store/);
  // incomplete: field errors, nothing taken
  r = await w.postForm('/witness', {token, testimony: ''});
  assertStatus(r, 400);
  assert.match(r.text, /Write your testimony/);
  assert.match(r.text, /Confirm that you are competent/);
  r = await w.postForm('/witness', {token, testimony: 'I saw Alex open up and cash up to the penny.',
    confirm_competent: '1', confirm_relationship: '1'});
  assertStatus(r, 201);
  assert.match(r.text, /Thank you, Pat Manager/);
  const req = srv.sqlRows(`SELECT * FROM witness_requests WHERE id = ${n.id}`)[0];
  assert.equal(req.status, 'completed');
  assert.ok(req.evidence_id);
  assert.match(req.witness_address, /127\.0\.0\.1|::1|::ffff/);
  // the testimony is the witness's evidence, mapped and ready for assessment
  r = await assessor.get(`/api/v1/evidence/${req.evidence_id}`);
  assertStatus(r, 200);
  assert.equal(r.json.kind, 'witness_testimony');
  assert.equal(r.json.status, 'submitted');
  assert.equal(r.json.author.role, 'witness');
  assert.equal(r.json.author.name, 'Pat Manager');
  assert.equal(r.json.author.job_title, 'Store manager');
  assert.equal(r.json.author.relationship, 'Line manager');
  assert.equal(r.json.author.email, n.body.witness_email);
  assert.equal(r.json.criteria[0].criterion_id, crits[0].id);
  assert.match(r.json.body, /cash up to the penny/);
  // the audit trail records who, when, from where
  const ev = srv.sqlRows(`SELECT actor_id, after AS after_json FROM audit_events WHERE action = 'witness.testimony'
    AND entity_id = ${n.id}`)[0];
  const a = JSON.parse(ev.after_json);
  assert.equal(a.witness_name, 'Pat Manager');
  assert.equal(a.witness_job_title, 'Store manager');
  assert.equal(a.witness_email, n.body.witness_email);
  assert.ok(a.given_at && a.address);
  // the learner cannot change it, acknowledges it; a decision cites it
  r = await learner.patch(`/api/v1/evidence/${req.evidence_id}`, {body: 'changed'});
  assertStatus(r, 403);
  r = await learner.post(`/api/v1/evidence/${req.evidence_id}/acknowledge`);
  assertStatus(r, 200);
  r = await assessor.post('/api/v1/decisions', {learner_id: L, criterion_id: crits[0].id, outcome: 'met',
    declaration: true, vacsr: VACSR, evidence_ids: [req.evidence_id]});
  assertStatus(r, 201, 'decision cites witness testimony');
  // the EQA sees the witness's details
  r = await eqa.get(`/evidence/${req.evidence_id}`);
  assert.ok(r.text.includes('Pat Manager') && r.text.includes('Store manager') && r.text.includes(n.body.witness_email));
  // once only
  r = await w.postForm('/witness', {token, testimony: 'again', confirm_competent: '1', confirm_relationship: '1'});
  assertStatus(r, 410);
  r = await w.get(`/witness?token=${token}`);
  assertStatus(r, 410);
  assert.equal(Number(srv.sql(`SELECT count(*) FROM witness_requests WHERE evidence_id IS NOT NULL AND id = ${n.id}`)), 1);
});

test('an assessor nominates; the link is for one request only; two racing submissions take it once', async () => {
  const a = await nominate(assessor, L, {criteria: [{criterion_id: crits[1].id}]});
  const b = await nominate(assessor, L, {criteria: [{criterion_id: crits[2].id}]});
  // the assessor asked: the email names the learner whose work it is
  const [mailA] = await smtp.waitFor(1, {filter: (m) => m.to.includes(a.body.witness_email)});
  assert.match(mailA.text, /about [^\n]+'s work/);
  assert.doesNotMatch(mailA.text, /about their work/);
  const w = srv.client();
  const before = Number(srv.sql(`SELECT count(*) FROM evidence WHERE learner_id = ${L}`));
  const send = () => w.postForm('/witness', {token: tokenOf(a.link), testimony: 'Seen it.', confirm_competent: '1',
    confirm_relationship: '1'});
  const rs = await Promise.all([send(), send(), send()]);
  assert.deepEqual(rs.map((r) => r.status).sort(), [201, 410, 410]);
  assert.equal(Number(srv.sql(`SELECT count(*) FROM evidence WHERE learner_id = ${L}`)), before + 1);
  // a's token did not complete b
  assert.equal(srv.sql(`SELECT status FROM witness_requests WHERE id = ${b.id}`), 'pending');
  const eid = Number(srv.sql(`SELECT evidence_id FROM witness_requests WHERE id = ${a.id}`));
  assert.equal(Number(srv.sql(`SELECT criterion_id FROM evidence_criteria WHERE evidence_id = ${eid}`)), crits[1].id);
});

test('a link expires, can be revoked, cannot be guessed; only the right people nominate and revoke', async () => {
  const w = srv.client();
  // expired (14 days passed): set its expiry in the past
  const e = await nominate(learner, L);
  srv.sql(`UPDATE witness_requests SET expires_at = '2026-01-01T00:00:00Z' WHERE id = ${e.id}`);
  let r = await w.get(`/witness?token=${tokenOf(e.link)}`);
  assertStatus(r, 410);
  r = await w.postForm('/witness', {token: tokenOf(e.link), testimony: 'x', confirm_competent: '1', confirm_relationship: '1'});
  assertStatus(r, 410);
  r = await learner.get(`/api/v1/learners/${L}/witness-requests`);
  assert.equal(r.json.requests.find((x) => x.id === e.id).state, 'expired');
  // revoked
  const v = await nominate(learner, L);
  r = await assessor2.post(`/api/v1/witness-requests/${v.id}/revoke`);
  assert.ok([403, 404].includes(r.status), String(r.status));
  r = await learner2.post(`/api/v1/witness-requests/${v.id}/revoke`);
  assert.ok([403, 404].includes(r.status), String(r.status));
  r = await assessor.post(`/api/v1/witness-requests/${v.id}/revoke`);
  assertStatus(r, 200);
  r = await learner.post(`/api/v1/witness-requests/${v.id}/revoke`);
  assertStatus(r, 409);
  r = await w.get(`/witness?token=${tokenOf(v.link)}`);
  assertStatus(r, 410);
  assert.equal(Number(srv.sql(`SELECT count(*) FROM audit_events WHERE action = 'witness.revoke' AND entity_id = ${v.id}`)), 1);
  // guessing: wrong, short, non-hex and one-character-off tokens all fail alike
  const real = await nominate(learner, L);
  const t = tokenOf(real.link);
  const off = t.slice(0, 63) + (t[63] === '0' ? '1' : '0');
  for (const g of [off, crypto.randomBytes(32).toString('hex'), 'abc', 'x'.repeat(64), t.toUpperCase(), '']) {
    r = await w.postForm('/witness', {token: g, testimony: 'x', confirm_competent: '1', confirm_relationship: '1'});
    assertStatus(r, 410, `token ${g}`);
  }
  assert.equal(srv.sql(`SELECT status FROM witness_requests WHERE id = ${real.id}`), 'pending');
  // a cross-site post is refused even with the token
  r = await w.request('POST', '/witness', {form: {token: t, testimony: 'x', confirm_competent: '1',
    confirm_relationship: '1'}, headers: {Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site'}});
  assertStatus(r, 403);
  assert.equal(srv.sql(`SELECT status FROM witness_requests WHERE id = ${real.id}`), 'pending');
  // who nominates: another learner, another assessor, the EQA cannot
  const nReq = Number(srv.sql('SELECT count(*) FROM witness_requests'));
  for (const c of [learner2, assessor2]) {
    r = await c.post(`/api/v1/learners/${L}/witness-requests`, NOMINATION());
    assert.ok([403, 404].includes(r.status), String(r.status));
  }
  // a route closed to the EQA answers as if nothing were there (issue 18)
  r = await eqa.post(`/api/v1/learners/${L}/witness-requests`, NOMINATION());
  assertStatus(r, 404); // a route closed to an EQA: as if it did not exist (issue 18)
  assert.equal(Number(srv.sql('SELECT count(*) FROM witness_requests')), nReq);
});

test('bad nominations are 400s naming the field; nothing is saved or sent', async () => {
  const n0 = Number(srv.sql('SELECT count(*) FROM witness_requests'));
  const o0 = Number(srv.sql('SELECT count(*) FROM outbox'));
  const cases = [
    [{witness_email: 'not an email'}, 'witness_email'],
    [{witness_email: 'learner@demo.test'}, 'witness_email'],
    [{witness_name: ''}, 'witness_name'],
    [{witness_job_title: '  '}, 'witness_job_title'],
    [{witness_relationship: ''}, 'witness_relationship'],
    [{about: ''}, 'about'],
    [{title: 'x'.repeat(201)}, 'title'],
    [{occurred_on: '2099-01-01'}, 'occurred_on'],
    [{occurred_on: 7}, 'occurred_on'],
    [{criteria: []}, 'criteria'],
    [{criteria: [{criterion_id: 99999999}]}, 'criteria'],
    [{criteria: 'x'}, 'criteria'],
    [{witness_name: {a: 1}}, 'witness_name'],
  ];
  for (const [patch, field] of cases) {
    const r = await learner.post(`/api/v1/learners/${L}/witness-requests`, {...NOMINATION(), ...patch});
    assertStatus(r, 400, JSON.stringify(patch));
    assert.ok((r.json.errors || []).some((e) => e.field === field), `${JSON.stringify(patch)}: ${r.text}`);
  }
  const r = await learner.post(`/api/v1/learners/${L}/witness-requests`, {...NOMINATION(), token: 'x'});
  assertStatus(r, 400);
  assert.equal(r.json.error.code, 'unknown_field');
  assert.equal(Number(srv.sql('SELECT count(*) FROM witness_requests')), n0);
  assert.equal(Number(srv.sql('SELECT count(*) FROM outbox')), o0);
});

test('the pages work without JavaScript and the nominator sees the link once', async () => {
  let r = await learner.get(`/learners/${L}/witness-requests/new`);
  assertStatus(r, 200);
  assert.match(r.text, /Work email address/);
  const body = NOMINATION();
  r = await learner.postForm(`/learners/${L}/witness-requests`, {title: body.title, about: body.about,
    witness_name: body.witness_name, witness_job_title: body.witness_job_title,
    witness_relationship: body.witness_relationship, witness_email: body.witness_email, criterion: String(crits[0].id),
    mapping: '1'});
  assertStatus(r, 201);
  assert.match(r.text, /Witness request sent/);
  const m = /value="(http[^"]+\/witness\?token=[0-9a-f]{64})"/.exec(r.text);
  assert.ok(m, 'the link is shown');
  r = await learner.get(`/learners/${L}/witness-requests`);
  assertStatus(r, 200);
  assert.match(r.text, /Waiting for the witness/);
  assert.ok(!r.text.includes(m[1]));
  r = await srv.client().get('/witness');
  assertStatus(r, 200);
  assert.match(r.text, /Open the link from the email/);
});

test('the export shows who wrote each item, with the witness\'s details', async () => {
  const fs = require('node:fs');
  const os = require('node:os');
  const path = require('node:path');
  const {spawnSync} = require('node:child_process');
  const r = await assessor.get(`/api/v1/learners/${L}/export`, {timeoutMs: 60000});
  assertStatus(r, 200);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evitrack-witness-export-'));
  try {
    fs.writeFileSync(path.join(dir, 'p.zip'), r.body);
    const u = spawnSync('unzip', ['-p', path.join(dir, 'p.zip'), 'index.html'], {encoding: 'utf8'});
    assert.equal(u.status, 0, u.stderr);
    const html = u.stdout;
    assert.match(html, /Written by:<\/strong> Pat Manager \(witness\), Store manager, Line manager, pat\.[0-9a-f]+@shop\.example/);
  } finally {
    fs.rmSync(dir, {recursive: true, force: true});
  }
});
