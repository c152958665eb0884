// tests/http/intake.test.js: onboarding an intake from a CSV: the preview shows every line's
// problems and nothing is saved; an import is all lines or none (checked again inside the
// transaction, and rolled back whole when a line fails part-way); a 200-line intake
// imports in one step with invitations queued in the outbox; the upload form and the
// `evitrack import-learners` command do the same.
'use strict';
const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {startServer, assertStatus, ENGINE} = require('./lib.js');

let srv, admin, QUAL, QUAL2;
before(async () => {
  srv = await startServer({demo: true});
  admin = await srv.login('admin@demo.test');
  [QUAL, QUAL2] = srv.sql('SELECT code FROM qualifications ORDER BY id LIMIT 2').split('\n');
});
after(() => srv.stop());

/* A valid ULN from a number: 9 digits (first not 0) and the check digit that makes
 * the weighted sum (10..1) 10 modulo 11; null when no digit can. */
function uln(n) {
  const head = String(100000000 + n).slice(0, 9);
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += Number(head[i]) * (10 - i);
  for (let d = 0; d <= 9; d++) if ((sum + d) % 11 === 10) return head + d;
  return null;
}

function intakeCsv(n, {prefix = 'intake', qual = QUAL} = {}) {
  const lines = ['name,email,uln,qualification,assessor_email,iqa_email,start_date,planned_end_date,employer'];
  for (let i = 0, k = 0; lines.length <= n; k++) {
    const u = uln(k + n * 7);
    if (!u) continue;
    lines.push(`"Learner ${i}, ${prefix}",${prefix}${i}@college.test,${u},${qual},assessor@demo.test,iqa@demo.test,` +
      `2026-09-01,31/08/2027,"Employer ""${i % 7}"" Ltd"`);
    i++;
  }
  return lines.join('\r\n') + '\r\n';
}

const counts = () => ({
  users: Number(srv.sql('SELECT count(*) FROM users')),
  enrolments: Number(srv.sql('SELECT count(*) FROM enrolments')),
  outbox: Number(srv.sql('SELECT count(*) FROM outbox')),
  notifications: Number(srv.sql('SELECT count(*) FROM notifications')),
});

test('the preview lists every line\'s problems and saves nothing; confirming such a file imports nothing', async () => {
  const csv = [
    'Name,Email,ULN,Qualification code,Assessor email,IQA email,Start date,Planned end date,Employer',
    `Good One,good.one@college.test,9276308686,${QUAL},assessor@demo.test,,2026-09-01,2027-08-31,`,
    `,no-name@college.test,,${QUAL},assessor@demo.test,,2026-09-01,2027-08-31,`,
    `Bad Email,not-an-email,,${QUAL},assessor@demo.test,,2026-09-01,2027-08-31,`,
    `Bad ULN,bad.uln@college.test,9276308687,${QUAL},assessor@demo.test,,2026-09-01,2027-08-31,`,
    `No Qual,no.qual@college.test,,NO-SUCH-CODE,assessor@demo.test,,2026-09-01,2027-08-31,`,
    `No Assessor,no.assessor@college.test,,${QUAL},learner@demo.test,,2026-09-01,2027-08-31,`,
    `Wrong IQA,wrong.iqa@college.test,,${QUAL},assessor@demo.test,assessor@demo.test,2026-09-01,2027-08-31,`,
    `Backwards,backwards@college.test,,${QUAL},assessor@demo.test,,2027-09-01,2026-08-31,`,
    `Bad Date,bad.date@college.test,,${QUAL},assessor@demo.test,,31/02/2026,2027-08-31,`,
    `Staff,assessor2@demo.test,,${QUAL},assessor@demo.test,,2026-09-01,2027-08-31,`,
    `Good One Again,good.one@college.test,,${QUAL},assessor@demo.test,,2026-09-01,2027-08-31,`,
    `Enrolled,learner@demo.test,,${QUAL},assessor@demo.test,,2026-09-01,2027-08-31,`,
    `Same ULN,same.uln@college.test,9276308686,${QUAL2},assessor@demo.test,,2026-09-01,2027-08-31,`,
  ].join('\n');
  const before = counts();
  let r = await admin.post('/api/v1/intake', {csv});
  assertStatus(r, 200, 'preview');
  assert.equal(r.json.ready, false);
  assert.equal(r.json.total, 13);
  assert.equal(r.json.with_problems, 12);
  const byLine = Object.fromEntries(r.json.rows.map((x) => [x.line, x]));
  const fields = (line) => byLine[line].problems.map((p) => p.field).sort().join(',');
  assert.equal(byLine[2].ok, true);
  assert.equal(fields(3), 'name');
  assert.equal(fields(4), 'email');
  assert.equal(fields(5), 'uln');
  assert.equal(fields(6), 'qualification');
  assert.equal(fields(7), 'assessor_email');
  assert.equal(fields(8), 'iqa_email');
  assert.equal(fields(9), 'planned_end_date');
  assert.equal(fields(10), 'start_date');
  assert.equal(fields(11), 'email');
  assert.match(byLine[12].problems[0].message, /line 2 too/);
  assert.match(byLine[13].problems[0].message, /already enrolled/);
  assert.equal(byLine[13].existing_learner, true);
  assert.match(byLine[14].problems[0].message, /Line 2 has the same ULN/);
  assert.ok(r.json.errors.length >= 12, 'an error summary entry per problem');
  assert.deepEqual(counts(), before, 'a preview saves nothing');
  r = await admin.post('/api/v1/intake', {csv, confirm: true});
  assertStatus(r, 400, 'confirm with problems');
  assert.equal(r.json.error.code, 'intake_problems');
  assert.deepEqual(counts(), before, 'nothing imported');
});

test('problems with the file itself: columns, quotes, emptiness, size', async () => {
  const cases = [
    ['', /empty/],
    ['name,email\r\n', /no "qualification" column/],
    ['name,email,qualification,assessor_email,start_date,planned_end_date,colour\nA,a@b.test,X,a@b.test,2026-01-01,2027-01-01,red\n', /Unknown column "colour"/],
    ['name,email,qualification,assessor_email,start_date,planned_end_date,email\n', /appears twice/],
    [`name,email,qualification,assessor_email,start_date,planned_end_date\n"Unclosed,a@b.test,${QUAL}\n`, /not closed/],
    ['name,email,qualification,assessor_email,start_date,planned_end_date\n', /no learners/],
  ];
  for (const [csv, re] of cases) {
    const r = await admin.post('/api/v1/intake', {csv: csv || ' '});
    assertStatus(r, 200, JSON.stringify(csv).slice(0, 40));
    assert.equal(r.json.ready, false);
    assert.match(r.json.file_problems.join(' | '), re, JSON.stringify(csv).slice(0, 60));
  }
  assertStatus(await admin.post('/api/v1/intake', {}), 400, 'no file');
  assertStatus(await admin.post('/api/v1/intake', {csv: ['a']}), 200, 'an array is read as its one value');
  assertStatus(await admin.post('/api/v1/intake', {csv: {a: 1}}), 400);
  const learner = await srv.login('learner@demo.test');
  assertStatus(await learner.post('/api/v1/intake', {csv: intakeCsv(1)}), 403, 'admins only');
});

test('all or nothing: a line that fails part-way rolls back every account, enrolment and email', async () => {
  const csv = intakeCsv(20, {prefix: 'rollback'});
  const ok = await admin.post('/api/v1/intake', {csv});
  assert.equal(ok.json.ready, true);
  const before = counts();
  // the 11th enrolment of this import fails inside the transaction
  if (ENGINE === 'postgresql') {
    srv.sql(`CREATE FUNCTION test_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
      IF (SELECT count(*) FROM enrolments) >= ${before.enrolments + 10} THEN
        RAISE EXCEPTION 'test: the 11th enrolment fails'; END IF;
      RETURN NEW; END $$`);
    srv.sql('CREATE TRIGGER test_fail BEFORE INSERT ON enrolments FOR EACH ROW EXECUTE FUNCTION test_fail()');
  } else {
    srv.sql(`CREATE TRIGGER test_fail BEFORE INSERT ON enrolments
      WHEN (SELECT count(*) FROM enrolments) >= ${before.enrolments + 10}
      BEGIN SELECT RAISE(ABORT, 'test: the 11th enrolment fails'); END;`);
  }
  const r = await admin.post('/api/v1/intake', {csv, confirm: true});
  srv.sql(ENGINE === 'postgresql' ? 'DROP TRIGGER test_fail ON enrolments' : 'DROP TRIGGER test_fail');
  assertStatus(r, 400);
  assert.deepEqual(counts(), before, 'nothing is left of the first 10 lines');
  assert.equal(srv.sql("SELECT count(*) FROM users WHERE email LIKE 'rollback%'"), '0');
  // checked again at import time: a line that became a problem since the preview
  srv.sql("INSERT INTO users (email, name, role, password_hash) VALUES ('rollback3@college.test', 'Taken', 'assessor', '!')");
  const r2 = await admin.post('/api/v1/intake', {csv, confirm: true});
  assertStatus(r2, 400);
  assert.deepEqual(r2.json.errors.map((e) => e.message), ['Line 5: This email address belongs to a staff account, not a learner']);
  assert.equal(srv.sql("SELECT count(*) FROM users WHERE email LIKE 'rollback%'"), '1');
});

test('a 200-line intake imports in one step: accounts, ULNs, enrolments, employers, invitations in the outbox', async () => {
  const csv = intakeCsv(200, {prefix: 'big'});
  const before = counts();
  const t0 = process.hrtime.bigint();
  const r = await admin.post('/api/v1/intake', {csv, confirm: true});
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  assertStatus(r, 201, 'import');
  assert.equal(r.json.accounts_created, 200);
  assert.equal(r.json.enrolments_created, 200);
  assert.equal(r.json.invitations_queued, 200);
  console.log(`# intake: 200 lines imported in ${ms.toFixed(0)} ms over HTTP (${r.json.elapsed_ms.toFixed(0)} ms in the server)`);
  const after = counts();
  assert.equal(after.users - before.users, 200);
  assert.equal(after.enrolments - before.enrolments, 200);
  assert.equal(Number(srv.sql("SELECT count(*) FROM outbox WHERE kind = 'invitation' AND to_addr LIKE 'big%'")), 200);
  assert.equal(Number(srv.sql("SELECT count(*) FROM outbox WHERE kind = 'enrolment' AND to_addr LIKE 'big%'")), 200);
  assert.equal(srv.sql("SELECT count(*) FROM users WHERE email LIKE 'big%' AND uln IS NOT NULL AND length(uln) = 10"), '200');
  assert.equal(srv.sql("SELECT employer_name FROM enrolments e JOIN users u ON u.id = e.learner_id WHERE u.email = 'big3@college.test'"),
    'Employer "3" Ltd');
  assert.equal(srv.sql("SELECT planned_end_date FROM enrolments e JOIN users u ON u.id = e.learner_id WHERE u.email = 'big3@college.test'"),
    '2027-08-31');
  assert.equal(srv.sql("SELECT name FROM users WHERE email = 'big0@college.test'"), 'Learner 0, big');
  assert.equal(srv.sql("SELECT count(*) FROM audit_events WHERE action = 'intake.import'"), '1');
  // the invitation works: set a password from its link and sign in
  const body = srv.sql("SELECT body FROM outbox WHERE kind = 'invitation' AND to_addr = 'big7@college.test'");
  const token = /set-password\?token=([0-9a-f]{64})/.exec(body)[1];
  assertStatus(await srv.client().post('/api/v1/password-resets/confirm', {token, new_password: 'big seven password'}), 200);
  await srv.login('big7@college.test', 'big seven password');
  // the same file again: every line already enrolled
  const again = await admin.post('/api/v1/intake', {csv});
  assert.equal(again.json.with_problems, 200);
});

test('the upload form previews a file, and its confirm button imports it', async () => {
  const csv = intakeCsv(3, {prefix: 'form', qual: QUAL2});
  let r = await admin.upload('/admin/intake', {}, [{name: 'intake.csv', type: 'text/csv', data: csv}]);
  assertStatus(r, 200, 'preview page');
  assert.match(r.text, /no problems found/);
  assert.match(r.text, /Import 3 learner\(s\)/);
  const sent = /<textarea name="csv" hidden>\n([\s\S]*?)<\/textarea>/.exec(r.text)[1]
    .replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  r = await admin.postForm('/admin/intake', {confirm: '1', csv: sent});
  assert.equal(r.status, 303, r.text.slice(0, 300));
  assert.equal(r.headers.location, '/admin/intake?done=3');
  assert.match((await admin.get('/admin/intake?done=3')).text, /3 learners imported/);
  assert.equal(srv.sql("SELECT count(*) FROM users WHERE email LIKE 'form%'"), '3');
  // a file with problems: the error summary and the table
  r = await admin.upload('/admin/intake', {}, [{name: 'bad.csv', type: 'text/csv',
    data: `name,email,qualification,assessor_email,start_date,planned_end_date\nX,bad,${QUAL},assessor@demo.test,2026-01-01,2027-01-01\n`}]);
  assertStatus(r, 200);
  assert.match(r.text, /There is a problem|error-summary/);
  assert.match(r.text, /Line 2: Enter the email address in the correct format/);
  assert.doesNotMatch(r.text, /name="confirm"/);
  assertStatus(await admin.get('/admin/intake'), 200);
});

test('evitrack import-learners does the same from the command line', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evitrack-intake-'));
  try {
    const good = path.join(dir, 'good.csv');
    fs.writeFileSync(good, intakeCsv(50, {prefix: 'cli'}));
    let r = await srv.run(['import-learners', '--dry-run', good]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /50 rows checked: ready to import/);
    assert.equal(srv.sql("SELECT count(*) FROM users WHERE email LIKE 'cli%'"), '0');
    r = await srv.run(['import-learners', '--base-url', 'https://evitrack.college.test', good]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /imported 50 rows: 50 accounts created, 50 enrolments, 50 invitations queued in [\d.]+ ms/);
    console.log(`# intake (command line): ${/in ([\d.]+ ms)/.exec(r.stdout)[1]} for 50 lines`);
    assert.match(srv.sql("SELECT body FROM outbox WHERE kind = 'invitation' AND to_addr = 'cli1@college.test'"),
      /https:\/\/evitrack\.college\.test\/set-password\?token=/);
    const bad = path.join(dir, 'bad.csv');
    fs.writeFileSync(bad, `name,email,qualification,assessor_email,start_date,planned_end_date\nA,a@college.test,NOPE,assessor@demo.test,2026-01-01,2027-01-01\n`);
    r = await srv.run(['import-learners', bad]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /line 2: qualification: There is no qualification with this code/);
    assert.match(r.stderr, /nothing was imported/);
    r = await srv.run(['import-learners']);
    assert.equal(r.code, 2);
    r = await srv.run(['import-learners', '--bogus', good]);
    assert.equal(r.code, 2);
    r = await srv.run(['import-learners', path.join(dir, 'missing.csv')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot read/);
  } finally {
    fs.rmSync(dir, {recursive: true, force: true});
  }
});
