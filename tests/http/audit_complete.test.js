// tests/http/audit_complete.test.js: the audit trail proves its own completeness (issue 11).
// The chain head is appended to a head log outside the database (every N events and at a
// clean stop); `audit verify` reports removed tail events against it, and a decision row
// edited behind the triggers against the event that recorded it; GET /api/v1/audit/verify
// gives the head; a learner's export carries their events with hashes, the chain and the
// head, and `audit verify --export` checks it offline, catching an altered event.
'use strict';
const {test, after} = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {spawnSync} = require('node:child_process');
const {startServer, assertStatus, ENGINE} = require('./lib.js');

const VACSR = {valid: true, authentic: true, current: true, sufficient: true, reliable: true};
const servers = [];
after(async () => { for (const s of servers) await s.stop(); });

async function start(args = []) {
  const s = await startServer({demo: true, args});
  servers.push(s);
  return s;
}

/* A learner's evidence decided "not yet met" through the API; returns the decision id. */
async function decide(s) {
  const learner = await s.login('learner@demo.test');
  const assessor = await s.login('assessor@demo.test');
  const L = Number(s.sql("SELECT id FROM users WHERE email = 'learner@demo.test'"));
  const A = Number(s.sql("SELECT id FROM users WHERE email = 'assessor@demo.test'"));
  const crit = Number(s.sql(`SELECT c.id FROM criteria c JOIN units u ON u.id = c.unit_id JOIN enrolments e
    ON e.qualification_id = u.qualification_id AND e.learner_id = ${L} AND e.assessor_id = ${A}
    WHERE c.retired = 0 AND NOT EXISTS (SELECT 1 FROM decisions d WHERE d.criterion_id = c.id AND d.learner_id = ${L})
    ORDER BY c.id DESC LIMIT 1`));
  let r = await learner.upload('/api/v1/evidence', {title: 'Audit', kind: 'product', description: 'x'},
    [{name: 'a.txt', type: 'text/plain', data: 'evidence text\n'}]);
  assertStatus(r, 201);
  const id = r.json.id;
  assertStatus(await learner.put(`/api/v1/evidence/${id}/criteria`, {criteria: [{criterion_id: crit, note: 'n'}]}), 200);
  assertStatus(await learner.post(`/api/v1/evidence/${id}/submit`, {}), 200);
  r = await assessor.post('/api/v1/decisions', {learner_id: L, criterion_id: crit, outcome: 'not_met',
    feedback: 'More detail please', evidence_ids: [id], declaration: true});
  assertStatus(r, 201);
  return {decision: r.json.id, L};
}

const headLines = (s) => fs.readFileSync(path.join(s.dataDir, 'audit-head.log'), 'utf8').trim().split('\n');

test('the head log records the chain head; verify reports events removed from the tail', async () => {
  const s = await start(['--audit-head-every', '1']);
  await decide(s);
  const admin = await s.login('admin@demo.test');
  let r = await admin.get('/api/v1/audit/verify');
  assertStatus(r, 200);
  assert.equal(r.json.ok, true, JSON.stringify(r.json));
  const max = Number(s.sql('SELECT max(id) FROM audit_events'));
  assert.equal(r.json.head.seq, max);
  assert.equal(r.json.head.hash, s.sql(`SELECT hash FROM audit_events WHERE id = ${max}`));
  assert.equal(r.json.head_log.present, true);
  const last = headLines(s).at(-1).split(' ');
  assert.equal(Number(last[0]), max, 'the last POST wrote the head');
  assert.equal(last[1], s.sql(`SELECT hash FROM audit_events WHERE id = ${max}`));
  let v = await s.run(['audit', 'verify', '--data', s.dataDir]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  assert.match(v.stdout, /head log .*every recorded head is in the trail/);
  // The hole: deleting the last events left a chain that verified "intact".
  s.sql(`DROP TRIGGER audit_no_delete${ENGINE === 'postgresql' ? ' ON audit_events' : ''}; DELETE FROM audit_events WHERE id > ${max - 2};`);
  v = await s.run(['audit', 'verify', '--data', s.dataDir]);
  assert.equal(v.code, 1, v.stdout);
  assert.match(v.stdout, new RegExp(`removed from the end of the trail: the head log recorded event ${max}`));
  r = await admin.get('/api/v1/audit/verify');
  assert.equal(r.json.ok, false);
  assert.match(r.json.reason, /removed from the end/);
  // All events removed: still caught.
  s.sql('DELETE FROM audit_events;');
  v = await s.run(['audit', 'verify', '--data', s.dataDir]);
  assert.equal(v.code, 1, v.stdout);
  assert.match(v.stdout, /trail ends at event 0/);
  v = await s.run(['audit', 'verify', '--audit-head-log', '/nonexistent/head.log']);
  assert.equal(v.code, 2);
});

test('a clean stop appends the head', async () => {
  const s = await start();
  await decide(s);
  const max = Number(s.sql('SELECT max(id) FROM audit_events'));
  const dataDir = s.dataDir;
  const before = fs.readFileSync(path.join(dataDir, 'audit-head.log'), 'utf8').trim().split('\n');
  assert.ok(Number(before.at(-1).split(' ')[0]) < max, 'not yet written (every 100 events)');
  process.env.EVITRACK_KEEP_TMP = '1';
  try {
    await s.stop();
  } finally {
    delete process.env.EVITRACK_KEEP_TMP;
  }
  const lines = fs.readFileSync(path.join(dataDir, 'audit-head.log'), 'utf8').trim().split('\n');
  assert.equal(Number(lines.at(-1).split(' ')[0]), max);
  fs.rmSync(path.dirname(dataDir), {recursive: true, force: true});
});

test('a decision row edited behind the triggers disagrees with its audit event', async () => {
  const s = await start();
  const {decision} = await decide(s);
  let v = await s.run(['audit', 'verify']);
  assert.equal(v.code, 0, 'the demo data and the new decision agree with their events: ' + v.stdout);
  assert.match(v.stdout, /decisions, sign-offs, countersigns and IQA samples match/);
  // The hole: verify did not compare current state with the chain.
  s.sql(`DROP TRIGGER decisions_no_update${ENGINE === 'postgresql' ? ' ON decisions' : ''}; UPDATE decisions SET outcome = 'met' WHERE id = ${decision};`);
  v = await s.run(['audit', 'verify']);
  assert.equal(v.code, 1, v.stdout);
  assert.match(v.stdout, new RegExp(`decision ${decision} disagrees with audit event \\d+ that recorded it \\(outcome`));
  s.sql(`UPDATE decisions SET outcome = 'not_met' WHERE id = ${decision};
    UPDATE iqa_samples SET feedback = 'rewritten' WHERE id = (SELECT min(id) FROM iqa_samples);`);
  v = await s.run(['audit', 'verify']);
  assert.equal(v.code, 1, v.stdout);
  assert.match(v.stdout, /IQA sample \d+ disagrees|IQA sample \d+ has no audit event/);
});

test('an export carries the learner\'s events, chain and head, and verifies offline', async () => {
  const s = await start();
  const {L} = await decide(s);
  const admin = await s.login('admin@demo.test');
  const r = await admin.get(`/api/v1/learners/${L}/export`);
  assertStatus(r, 200);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evitrack-audit-export-'));
  const zip = path.join(dir, 'p.zip');
  fs.writeFileSync(zip, r.body);
  let v = await s.run(['audit', 'verify', '--export', zip], {db: false});
  assert.equal(v.code, 0, v.stdout + v.stderr);
  assert.match(v.stdout, /export intact: \d+ files match the manifest; \d+ audit events of 1 learner verify/);
  // Alter one event's content (and, to pass the manifest, its listed hash too): caught by the chain.
  const py = `
import zipfile, json, hashlib, sys
src, dst = sys.argv[1], sys.argv[2]
zi = zipfile.ZipFile(src)
files = {n: zi.read(n) for n in zi.namelist()}
audit = json.loads(files['audit.json'])
ev = next(e for e in audit if e['action'] == 'decision.create')
ev['after_text'] = ev['after_text'].replace('not_met', 'met')
files['audit.json'] = json.dumps(audit).encode()
m = json.loads(files['manifest.json'])
for f in m['files']:
    if f['path'] == 'audit.json':
        f['sha256'] = hashlib.sha256(files['audit.json']).hexdigest()
files['manifest.json'] = json.dumps(m).encode()
with zipfile.ZipFile(dst, 'w') as zo:
    for n, b in files.items():
        zo.writestr(n, b)
`;
  const bad = path.join(dir, 'bad.zip');
  const p = spawnSync('python3', ['-c', py, zip, bad], {encoding: 'utf8'});
  assert.equal(p.status, 0, p.stderr);
  v = await s.run(['audit', 'verify', '--export', bad], {db: false});
  assert.equal(v.code, 1, v.stdout);
  assert.match(v.stdout, /audit event \d+ was altered/);
  // A file changed without the manifest: caught by the manifest.
  const bad2 = path.join(dir, 'bad2.zip');
  const p2 = spawnSync('python3', ['-c', `
import zipfile, sys
zi = zipfile.ZipFile(sys.argv[1])
with zipfile.ZipFile(sys.argv[2], 'w') as zo:
    for n in zi.namelist():
        b = zi.read(n)
        zo.writestr(n, b.replace(b'Audit', b'Audlt') if n == 'index.html' else b)
`, zip, bad2], {encoding: 'utf8'});
  assert.equal(p2.status, 0, p2.stderr);
  v = await s.run(['audit', 'verify', '--export', bad2], {db: false});
  assert.equal(v.code, 1, v.stdout);
  assert.match(v.stdout, /index.html does not match its SHA-256/);
  fs.rmSync(dir, {recursive: true, force: true});
});
