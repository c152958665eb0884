// tests/http/audit.test.js: the audit trail is tamper-evident. A row altered behind the
// program's back (after dropping the append-only trigger with the sqlite3 CLI) is named by
// `evitrack audit verify`, which exits non-zero; so is a deleted row.
'use strict';
const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const {startServer, assertStatus, ENGINE} = require('./lib.js');

let srv, admin;

/* Some real activity: sign-ins; and when the evidence endpoints and the demo's enrolments
 * are there, a learner uploads, maps and submits and the assessor decides. Returns the
 * audit event id of the decision, or of the last sign-in. */
async function activity(s) {
  const learner = await s.login('learner@demo.test');
  const assessor = await s.login('assessor@demo.test');
  await s.login('iqa@demo.test');
  const lastLogin = () => Number(s.sql("SELECT max(id) FROM audit_events WHERE action = 'session.login'"));
  const L = Number(s.sql("SELECT id FROM users WHERE email = 'learner@demo.test'"));
  const A = Number(s.sql("SELECT id FROM users WHERE email = 'assessor@demo.test'"));
  if ((await learner.get('/api/v1/evidence')).status === 404) return lastLogin();
  const crit = Number(s.sql(`SELECT c.id FROM criteria c JOIN units u ON u.id = c.unit_id
    JOIN enrolments e ON e.qualification_id = u.qualification_id
    WHERE e.learner_id = ${L} AND e.assessor_id = ${A} AND c.retired = 0
    AND NOT EXISTS (SELECT 1 FROM unit_signoffs s WHERE s.unit_id = u.id AND s.learner_id = ${L})
    ORDER BY c.id DESC LIMIT 1`));
  if (!crit) return lastLogin();
  let r = await learner.upload('/api/v1/evidence', {title: 'Audit test', kind: 'product', description: 'x',
    occurred_on: '2026-10-02'}, [{name: 'a.txt', type: 'text/plain', data: 'some evidence text\n'}]);
  assertStatus(r, 201);
  const id = r.json.id;
  r = await learner.put(`/api/v1/evidence/${id}/criteria`, {criteria: [{criterion_id: crit, note: 'n'}]});
  assert.ok(r.status < 300, r.text);
  r = await learner.post(`/api/v1/evidence/${id}/submit`, {});
  assert.ok(r.status < 300, r.text);
  r = await assessor.post('/api/v1/decisions', {learner_id: L, criterion_id: crit, outcome: 'not_met',
    feedback: 'More detail please', evidence_ids: [id], declaration: true});
  assertStatus(r, 201);
  return Number(s.sql(`SELECT id FROM audit_events WHERE action = 'decision.create' AND entity_id = ${r.json.id}`));
}

before(async () => {
  srv = await startServer({demo: true});
  admin = await srv.login('admin@demo.test');
});
after(() => srv && srv.stop());

let target; // the audit event the test alters
let targetAction;

test('verify passes on an untouched database and prints a summary', async () => {
  target = await activity(srv);
  assert.ok(target > 0);
  targetAction = srv.sql(`SELECT action FROM audit_events WHERE id = ${target}`);
  await srv.login('admin@demo.test'); // an event after the target, so it sits mid-chain
  const n = Number(srv.sql('SELECT count(*) FROM audit_events'));
  assert.ok(n >= 4, `events: ${n}`);
  const v = await srv.run(['audit', 'verify']);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  assert.match(v.stdout, new RegExp(`intact: ${n} events verified`));
});

test('the trigger refuses UPDATE and DELETE', () => {
  assert.throws(() => srv.sql(`UPDATE audit_events SET action = 'x' WHERE id = ${target}`), /append-only/);
  assert.throws(() => srv.sql(`DELETE FROM audit_events WHERE id = ${target}`), /append-only/);
});

test('an altered row is named by verify, which exits non-zero', async () => {
  // Rewrite history: the decision said "met", or the sign-in happened a year earlier.
  srv.sql(`DROP TRIGGER audit_no_update${ENGINE === 'postgresql' ? ' ON audit_events' : ''};
    UPDATE audit_events SET after = replace(after, '"not_met"', '"met"'),
      at = replace(at, substr(at, 1, 4), CAST(CAST(substr(at, 1, 4) AS INTEGER) - 1 AS TEXT)) WHERE id = ${target};`);
  const v = await srv.run(['audit', 'verify']);
  assert.notEqual(v.code, 0, 'verify must fail');
  assert.match(v.stdout, new RegExp(`BROKEN at event ${target}\\b`));
  assert.ok(v.stdout.includes(targetAction), v.stdout);
  assert.match(v.stderr, new RegExp(`event ${target}\\b`));
  // The admin's page and API say so too.
  const r = await admin.get('/api/v1/audit/verify');
  assertStatus(r, 200);
  assert.equal(r.json.ok, false);
  assert.equal(r.json.bad_id, target);
  const p = await admin.get('/audit/verify');
  assert.match(p.text, new RegExp(`broken at event ${target}\\b`));
});

test('a deleted row breaks the link of the event after it', async () => {
  const s2 = await startServer({demo: true});
  try {
    await activity(s2);
    const ids = s2.sql('SELECT id FROM audit_events ORDER BY id').split('\n').map(Number);
    assert.ok(ids.length >= 3);
    const victim = ids[Math.floor(ids.length / 2)];
    const next = ids[ids.indexOf(victim) + 1];
    s2.sql(`DROP TRIGGER audit_no_delete${ENGINE === 'postgresql' ? ' ON audit_events' : ''}; DELETE FROM audit_events WHERE id = ${victim};`);
    const v = await s2.run(['audit', 'verify']);
    assert.notEqual(v.code, 0);
    assert.match(v.stdout, new RegExp(`BROKEN at event ${next}\\b`));
  } finally {
    await s2.stop();
  }
});

test('verify refuses bad arguments and a missing database', async () => {
  let v = await srv.run(['audit', 'verify', '--bogus']);
  assert.equal(v.code, 2);
  assert.match(v.stderr, /unknown argument/);
  v = await srv.run(['audit', 'verify', '--db', '/nonexistent/evitrack.db']);
  assert.notEqual(v.code, 0);
  assert.match(v.stderr, /no database/);
});
