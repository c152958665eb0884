// tests/http/notifications.test.js: notifications against a real SMTP server on loopback
// (python3-aiosmtpd): the outbox is written with the change and delivered by the sender
// thread as multipart/alternative with the absolute link; in-app list, unread count and
// mark read; preferences (at once, digest, off) with digest grouping and List-Unsubscribe;
// retry after the SMTP server was down; nothing sent for a change that rolled back; no
// message lost or sent twice across a kill -9 while the SMTP server is down; AUTH over
// STARTTLS; two servers on one database never send a message twice; the demo (no
// --smtp-url) keeps messages in the outbox for the admin page.
'use strict';
const {test, after} = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {spawnSync} = require('node:child_process');
const {startServer, assertStatus, ENGINE} = require('./lib.js');
const {startSmtp, smtpDown, freePort} = require('./smtp.js');
// The demo's enrolment emails: three learners on two qualifications, and the apprentice
// on the demo standard (issue 16).
const DEMO_MESSAGES = 7;

const FROM = 'evitrack <noreply@centre.test>';
const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

function smtpArgs(port, extra = []) {
  return ['--smtp-url', `smtp://127.0.0.1:${port}`, '--smtp-from', FROM, '--smtp-retry-seconds', '1', ...extra];
}

/* A server on a port chosen up front, so links in emails name it. */
async function serve(smtpPort, {extra = [], demo = true, db} = {}) {
  const port = await freePort();
  const args = ['--port', String(port), ...(smtpPort ? smtpArgs(smtpPort) : []), ...extra];
  if (db) args.push('--db', db);
  const srv = await startServer({demo, args});
  return srv;
}

async function waitUntil(fn, what, timeoutMs = 20000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/* A learner's evidence: uploaded, mapped to the first criterion of a unit, optionally submitted. */
async function evidence(srv, learner, title, submit = true) {
  const L = Number(srv.sql("SELECT id FROM users WHERE email = 'learner@demo.test'"));
  const crit = srv.sqlRows(`SELECT c.id FROM criteria c JOIN units u ON u.id = c.unit_id JOIN enrolments e
    ON e.qualification_id = u.qualification_id WHERE e.learner_id = ${L} AND c.retired = 0
    ORDER BY c.id LIMIT 1`)[0];
  let r = await learner.upload('/api/v1/evidence', {title, kind: 'product', description: 'what I did',
    occurred_on: '2026-10-01'}, [{name: 'report.txt', type: 'text/plain', data: 'A written report\n'.repeat(5)}]);
  assertStatus(r, 201, 'upload');
  const id = r.json.id;
  r = await learner.put(`/api/v1/evidence/${id}/criteria`, {criteria: [{criterion_id: crit.id, note: 'shows it'}]});
  assert.ok(r.status < 300, r.text);
  if (submit) {
    r = await learner.post(`/api/v1/evidence/${id}/submit`, {});
    assert.ok(r.status < 300, `submit: ${r.status} ${r.text}`);
  }
  return id;
}

test('delivery: the assessor hears of submitted evidence by email (text + HTML, absolute link) and in-app', async () => {
  const smtp = await startSmtp();
  cleanups.push(async () => { await smtp.stop(); smtp.cleanup(); });
  const srv = await serve(smtp.port);
  cleanups.push(() => srv.stop());
  // the demo's enrolments reach the learners first
  const enrol = await smtp.waitFor(1, {filter: (m) => /enrolled/.test(m.subject)});
  assert.match(enrol[0].text, new RegExp(`${srv.url.replace(/[.]/g, '\\.')}/portfolio`));

  const learner = await srv.login('learner@demo.test');
  const assessor = await srv.login('assessor@demo.test');
  const before = (await assessor.get('/api/v1/notifications')).json.unread;
  const id = await evidence(srv, learner, 'Complaint log with ümlauts');
  const [m] = await smtp.waitFor(1, {filter: (x) => x.to.includes('assessor@demo.test') && /submitted/.test(x.subject)});
  assert.equal(m.subject, 'Amy Clarke submitted evidence: Complaint log with ümlauts');
  assert.match(m.contentType, /^multipart\/alternative; boundary=/);
  assert.match(m.messageId, /^<outbox-\d+-\d+@centre\.test>$/);
  assert.equal(m.from, 'noreply@centre.test');
  assert.match(m.headers.to, /"Tom Okafor" <assessor@demo\.test>/);
  const link = `${srv.url}/review/${id}`;
  assert.ok(m.text.includes(link), m.text);
  assert.ok(m.html.includes(`href="${link}"`), m.html);
  assert.ok(m.html.includes('Complaint log with ümlauts'));
  assert.ok(!m.headers['list-unsubscribe'], 'only digests carry List-Unsubscribe');

  // in-app: newest first, unread count, mark read (own only)
  let r = await assessor.get('/api/v1/notifications');
  assertStatus(r, 200);
  assert.equal(r.json.unread, before + 1);
  assert.equal(r.json.notifications[0].link, `/review/${id}`);
  assert.equal(r.json.notifications[0].kind, 'evidence_submitted');
  assert.equal(r.json.notifications[0].read, false);
  const nid = r.json.notifications[0].id;
  const page = await assessor.get('/caseload');
  assert.match(page.text, new RegExp(`Notifications <span class="badge">${before + 1}<`));
  assertStatus(await learner.post(`/api/v1/notifications/${nid}/read`, {}), 404, 'another user\'s notification');
  r = await assessor.post(`/api/v1/notifications/${nid}/read`, {});
  assertStatus(r, 200);
  assert.equal(r.json.unread, before);
  r = await assessor.post('/api/v1/notifications/read-all', {});
  assertStatus(r, 200);
  assert.equal((await assessor.get('/api/v1/notifications')).json.unread, 0);
  assertStatus(await assessor.get('/notifications'), 200, 'the page');

  // the decision reaches the learner, with what to do next
  const crit = Number(srv.sql(`SELECT criterion_id FROM evidence_criteria WHERE evidence_id = ${id}`));
  const L = Number(srv.sql("SELECT id FROM users WHERE email = 'learner@demo.test'"));
  r = await assessor.post('/api/v1/decisions', {learner_id: L, criterion_id: crit, outcome: 'not_met',
    feedback: 'Add a witness statement', evidence_ids: [id], declaration: true});
  assertStatus(r, 201, 'decision');
  const [d] = await smtp.waitFor(1, {filter: (x) => x.to.includes('learner@demo.test') && /decision/.test(x.subject)});
  assert.match(d.subject, /not yet met/);
  assert.match(d.text, /Add a witness statement/);
  assert.match(d.text, /add or improve your evidence/);
  assert.ok(d.text.includes(`${srv.url}/decisions/${r.json.id}`));

  // every message went exactly once
  const ids = smtp.messages().map((x) => x.messageId);
  assert.equal(new Set(ids).size, ids.length, 'no Message-ID twice');
  assert.equal(Number(srv.sql("SELECT count(*) FROM outbox WHERE status <> 'sent'")), 0);
});

test('nothing is sent or shown for a change that rolled back', async () => {
  const smtp = await startSmtp();
  cleanups.push(async () => { await smtp.stop(); smtp.cleanup(); });
  const srv = await serve(smtp.port);
  cleanups.push(() => srv.stop());
  await smtp.waitFor(DEMO_MESSAGES); // the demo's enrolments
  const learner = await srv.login('learner@demo.test');
  const id = await evidence(srv, learner, 'Will roll back', false);
  // make the submit's transaction fail after its notification was written
  if (ENGINE === 'postgresql') {
    srv.sql(`CREATE FUNCTION test_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
      IF NEW.kind = 'evidence_submitted' THEN RAISE EXCEPTION 'test: fail after the outbox row'; END IF;
      RETURN NEW; END $$`);
    srv.sql('CREATE TRIGGER test_fail AFTER INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION test_fail()');
  } else {
    srv.sql(`CREATE TRIGGER test_fail AFTER INSERT ON outbox WHEN NEW.kind = 'evidence_submitted'
      BEGIN SELECT RAISE(ABORT, 'test: fail after the outbox row'); END;`);
  }
  const n0 = Number(srv.sql('SELECT count(*) FROM notifications'));
  const r = await learner.post(`/api/v1/evidence/${id}/submit`, {});
  assert.ok(r.status >= 500, `the submit fails: ${r.status}`);
  assert.equal(srv.sql(`SELECT status FROM evidence WHERE id = ${id}`), 'draft');
  assert.equal(Number(srv.sql('SELECT count(*) FROM notifications')), n0, 'no in-app notification');
  assert.equal(Number(srv.sql("SELECT count(*) FROM outbox WHERE kind = 'evidence_submitted'")), 0);
  await new Promise((res) => setTimeout(res, 1500)); // a sender pass or more
  assert.equal(smtp.messages().filter((m) => /submitted/.test(m.subject)).length, 0, 'no email');
  // and once the fault is gone, exactly one goes
  srv.sql(ENGINE === 'postgresql' ? 'DROP TRIGGER test_fail ON outbox' : 'DROP TRIGGER test_fail');
  assertStatus(await learner.post(`/api/v1/evidence/${id}/submit`, {}), 200, 'submit again');
  await smtp.waitFor(1, {filter: (m) => /submitted evidence: Will roll back/.test(m.subject)});
  await new Promise((res) => setTimeout(res, 1200));
  assert.equal(smtp.messages().filter((m) => /Will roll back/.test(m.subject)).length, 1);
});

test('retry: messages queued while the SMTP server is down go once it is up, each once', async () => {
  const smtp = await smtpDown();
  cleanups.push(async () => { await smtp.stop(); smtp.cleanup(); });
  const srv = await serve(smtp.port);
  cleanups.push(() => srv.stop());
  await waitUntil(() => Number(srv.sql("SELECT count(*) FROM outbox WHERE attempts >= 1 AND last_error IS NOT NULL")) >= 1,
    'a failed attempt');
  assert.match(srv.sql('SELECT last_error FROM outbox WHERE last_error IS NOT NULL LIMIT 1'), /connect|Couldn't/i);
  assert.equal(Number(srv.sql("SELECT count(*) FROM outbox WHERE status = 'sent'")), 0);
  await smtp.start();
  const got = await smtp.waitFor(DEMO_MESSAGES);
  await new Promise((res) => setTimeout(res, 1500));
  assert.equal(smtp.messages().length, DEMO_MESSAGES, 'each message once');
  assert.equal(new Set(got.map((m) => m.messageId)).size, DEMO_MESSAGES);
  assert.equal(Number(srv.sql("SELECT count(*) FROM outbox WHERE status = 'sent'")), DEMO_MESSAGES);
});

test('gives up after --smtp-max-attempts and shows the failure to admins, who can try again', async () => {
  const smtp = await smtpDown();
  cleanups.push(async () => { await smtp.stop(); smtp.cleanup(); });
  const srv = await serve(smtp.port, {extra: ['--smtp-max-attempts', '2']});
  cleanups.push(() => srv.stop());
  await waitUntil(() => Number(srv.sql("SELECT count(*) FROM outbox WHERE status = 'failed'")) === DEMO_MESSAGES, 'every demo message failed');
  const admin = await srv.login('admin@demo.test');
  let r = await admin.get('/admin/outbox');
  assertStatus(r, 200);
  assert.match(r.text, new RegExp(`${DEMO_MESSAGES} message\\(s\\) could not be sent`));
  r = await admin.get('/api/v1/outbox?status=failed');
  assert.equal(r.json.counts.failed, DEMO_MESSAGES);
  assert.equal(r.json.messages[0].attempts, 2);
  assertStatus(await admin.get('/api/v1/outbox?status=bogus'), 400, 'unknown status');
  const learner = await srv.login('learner@demo.test');
  assertStatus(await learner.get('/api/v1/outbox'), 403, 'not for learners');
  await smtp.start();
  const id = r.json.messages[0].id;
  assertStatus(await admin.post(`/api/v1/outbox/${id}/retry`, {}), 200, 'retry');
  assertStatus(await admin.post(`/api/v1/outbox/${id}/retry`, {}), 409, 'not failed any more');
  assertStatus(await admin.post('/api/v1/outbox/999999/retry', {}), 404);
  await smtp.waitFor(1);
  await new Promise((res) => setTimeout(res, 1200));
  assert.equal(smtp.messages().length, 1);
});

test('kill -9 while the SMTP server is down loses no message; after restart each goes once', async () => {
  const smtp = await smtpDown();
  cleanups.push(async () => { await smtp.stop(); smtp.cleanup(); });
  const srv = await serve(smtp.port);
  await waitUntil(() => Number(srv.sql('SELECT count(*) FROM outbox WHERE attempts >= 1')) >= 1, 'an attempt');
  const learner = await srv.login('learner@demo.test');
  await evidence(srv, learner, 'Queued before the crash');
  const queued = Number(srv.sql('SELECT count(*) FROM outbox'));
  assert.equal(queued, DEMO_MESSAGES + 1);
  srv.child.kill('SIGKILL');
  await srv._exited;
  await smtp.start();
  const again = await serve(smtp.port, {demo: false, db: srv.dbPath});
  cleanups.push(() => again.stop());
  const got = await smtp.waitFor(DEMO_MESSAGES + 1, {timeoutMs: 30000});
  await new Promise((res) => setTimeout(res, 1500));
  assert.equal(smtp.messages().length, DEMO_MESSAGES + 1, 'every message, once');
  assert.equal(new Set(got.map((m) => m.messageId)).size, DEMO_MESSAGES + 1);
  assert.ok(got.some((m) => /Queued before the crash/.test(m.subject)));
  fs.rmSync(srv.dir, {recursive: true, force: true});
});

test('preferences: digest groups a day\'s items into one email with List-Unsubscribe; off sends none', async () => {
  const smtp = await startSmtp();
  cleanups.push(async () => { await smtp.stop(); smtp.cleanup(); });
  const srv = await serve(smtp.port, {extra: ['--digest-interval', '6']});
  cleanups.push(() => srv.stop());
  await smtp.waitFor(DEMO_MESSAGES);
  const learner = await srv.login('learner@demo.test');
  const assessor = await srv.login('assessor@demo.test');
  let r = await assessor.put('/api/v1/me/notification-preferences', {evidence_submitted: 'digest'});
  assertStatus(r, 200);
  assert.equal(r.json.preferences.find((p) => p.kind === 'evidence_submitted').delivery, 'digest');
  // bad input: a field-level message and nothing saved
  r = await assessor.put('/api/v1/me/notification-preferences', {decision_recorded: 'hourly', evidence_submitted: 'off'});
  assertStatus(r, 400);
  assert.ok(r.json.errors.some((e) => e.field === 'decision_recorded'));
  assertStatus(await assessor.put('/api/v1/me/notification-preferences', {password_changed: 'off'}), 400,
    'security emails cannot be turned off');
  assertStatus(await assessor.put('/api/v1/me/notification-preferences', {nonsense: 'now'}), 400);
  assertStatus(await assessor.put('/api/v1/me/notification-preferences', {evidence_submitted: 5}), 400);
  assert.equal(srv.sql("SELECT delivery FROM notification_prefs WHERE kind = 'evidence_submitted'"), 'digest');

  await evidence(srv, learner, 'First for the digest');
  await evidence(srv, learner, 'Second for the digest');
  const [dg] = await smtp.waitFor(1, {filter: (m) => /digest/.test(m.subject)});
  assert.equal(dg.subject, 'Your evitrack digest: 2 updates');
  assert.ok(dg.to.includes('assessor@demo.test'));
  assert.match(dg.text, /First for the digest[\s\S]*Second for the digest/);
  assert.equal(dg.headers['list-unsubscribe'], `<${srv.url}/account/notifications>`);
  assert.ok(dg.html.includes(`${srv.url}/account/notifications`));
  await new Promise((res) => setTimeout(res, 1500));
  assert.equal(smtp.messages().filter((m) => /submitted evidence/.test(m.subject)).length, 0, 'no single emails');
  assert.equal(Number(srv.sql("SELECT count(*) FROM outbox WHERE status = 'digested'")), 2);
  // both are still in-app
  assert.ok((await assessor.get('/api/v1/notifications')).json.unread >= 2);

  // off: in-app only (the form, as a browser posts it)
  r = await assessor.postForm('/account/notifications', {evidence_submitted: 'off'});
  assert.equal(r.status, 303);
  const before = smtp.messages().length;
  await evidence(srv, learner, 'Nobody emailed');
  await new Promise((res) => setTimeout(res, 3500));
  assert.equal(smtp.messages().length, before);
  r = await assessor.get('/api/v1/notifications');
  assert.match(r.json.notifications[0].subject, /Nobody emailed/);
  assertStatus(await assessor.get('/account/notifications'), 200, 'the page');
});

test('AUTH over STARTTLS with credentials from a file (never the command line)', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evitrack-tls-'));
  cleanups.push(() => fs.rmSync(dir, {recursive: true, force: true}));
  const cert = path.join(dir, 'cert.pem'), key = path.join(dir, 'key.pem');
  const ssl = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert,
    '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], {encoding: 'utf8'});
  if (ssl.status !== 0) return t.skip(`openssl: ${ssl.stderr}`);
  const smtp = await startSmtp({auth: 'mailer:s3cret pass', tls: {cert, key}});
  cleanups.push(async () => { await smtp.stop(); smtp.cleanup(); });
  const creds = path.join(dir, 'smtp-credentials');
  fs.writeFileSync(creds, 'mailer\ns3cret pass\n', {mode: 0o600});
  const srv = await serve(smtp.port, {extra: ['--smtp-credentials', creds, '--smtp-ca', cert]});
  cleanups.push(() => srv.stop());
  const got = await smtp.waitFor(DEMO_MESSAGES);
  assert.ok(got.every((m) => m.auth_user === 'mailer' && m.tls), 'authenticated, over TLS: ' + JSON.stringify(got.map((m) => [m.auth_user, m.tls])));
  assert.ok(!srv.argv.join(' ').includes('s3cret'));

  // wrong password: refused (aiosmtpd answers a bad LOGIN by waiting), the reason kept for admins
  const bad = path.join(dir, 'bad');
  fs.writeFileSync(bad, 'mailer\nwrong\n', {mode: 0o600});
  const srv2 = await serve(smtp.port, {extra: ['--smtp-credentials', bad, '--smtp-ca', cert]});
  cleanups.push(() => srv2.stop());
  const why = await waitUntil(() => srv2.sql("SELECT last_error FROM outbox WHERE last_error <> '' LIMIT 1"), 'a refusal');
  assert.ok(why.length > 0);
  assert.equal(Number(srv2.sql("SELECT count(*) FROM outbox WHERE status = 'sent'")), 0, 'nothing sent without AUTH');
  assert.equal(smtp.messages().length, DEMO_MESSAGES, 'the sink accepted nothing more');
});

test('serve refuses bad SMTP options with a one-line message', async () => {
  const {runCli} = require('./lib.js');
  for (const [args, re] of [
    [['--smtp-url', 'http://x'], /smtp:\/\/ or smtps:\/\//],
    [['--smtp-url', 'smtp://127.0.0.1:1'], /needs --smtp-from/],
    [['--smtp-url', 'smtp://127.0.0.1:1', '--smtp-from', 'no address'], /needs --smtp-from/],
    [['--smtp-from', 'a@b.test'], /need --smtp-url/],
    [['--smtp-url', 'smtp://127.0.0.1:1', '--smtp-from', 'a@b.test', '--smtp-credentials', '/nonexistent/x'], /cannot read/],
    [['--base-url', 'ftp://x'], /--base-url/],
    [['--smtp-retry-seconds', '0'], /--smtp-retry-seconds/],
  ]) {
    const r = await runCli(['serve', '--db', path.join(os.tmpdir(), 'never-created.db'), ...args]);
    assert.notEqual(r.code, 0, args.join(' '));
    assert.match(r.stderr, re, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test('demo without --smtp-url: messages wait in the outbox and the admin page shows them', async () => {
  const srv = await serve(0);
  cleanups.push(() => srv.stop());
  const admin = await srv.login('admin@demo.test');
  const r = await admin.get('/admin/outbox');
  assertStatus(r, 200);
  assert.match(r.text, /No mail server is set up/);
  assert.match(r.text, /You are enrolled on/);
  const api = await admin.get('/api/v1/outbox');
  assert.equal(api.json.counts.pending, DEMO_MESSAGES);
  assert.equal(api.json.smtp, false);
  await new Promise((res) => setTimeout(res, 1200));
  assert.equal(Number(srv.sql("SELECT count(*) FROM outbox WHERE status = 'pending'")), DEMO_MESSAGES, 'nothing is tried');
});

test('two servers on one database share the outbox: each message goes exactly once', async () => {
  const smtp = await smtpDown();
  cleanups.push(async () => { await smtp.stop(); smtp.cleanup(); });
  // queue while the SMTP server is down, then start both senders together
  const a = await serve(smtp.port);
  cleanups.push(() => a.stop());
  const qual = a.sql('SELECT code FROM qualifications ORDER BY id LIMIT 1');
  const lines = ['name,email,qualification,assessor_email,start_date,planned_end_date'];
  for (let i = 0; i < 60; i++) lines.push(`Two ${i},two${i}@college.test,${qual},assessor@demo.test,2026-09-01,2027-08-31`);
  const csvFile = path.join(a.dir, 'two.csv');
  fs.writeFileSync(csvFile, lines.join('\n') + '\n');
  const r = await a.run(['import-learners', csvFile]);
  assert.equal(r.code, 0, r.stderr);
  const b = await serve(smtp.port, {demo: false, db: a.dbPath});
  cleanups.push(() => b.stop());
  const total = Number(a.sql('SELECT count(*) FROM outbox'));
  assert.equal(total, DEMO_MESSAGES + 120); // the demo's, and an invitation and an enrolment email for each of 60
  // the senders are retrying meanwhile: a deadlock or busy answer to this bulk update is retried
  for (let tries = 0; ; tries++) {
    try {
      a.sql("UPDATE outbox SET next_attempt_at = '2000-01-01T00:00:00Z' WHERE status = 'pending'");
      break;
    } catch (e) {
      if (tries >= 10 || !/deadlock|locked|busy/i.test(e.message)) throw e;
      await new Promise((res) => setTimeout(res, 200));
    }
  }
  await smtp.start();
  const got = await smtp.waitFor(total, {timeoutMs: 60000});
  await new Promise((res) => setTimeout(res, 2000));
  const ids = smtp.messages().map((m) => m.messageId);
  assert.equal(ids.length, total, 'no message twice');
  assert.equal(new Set(ids).size, total);
  const by = a.sqlRows("SELECT claimed_by, count(*) AS n FROM outbox WHERE status = 'sent' GROUP BY claimed_by");
  assert.equal(by.reduce((s, x) => s + x.n, 0), total);
  assert.ok(got.length === total);
});
