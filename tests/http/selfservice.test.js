// tests/http/selfservice.test.js: self-service accounts over HTTP with a real SMTP server
// (python3-aiosmtpd): "Forgotten your password?" sends a one-time link (stored hashed, 1
// hour, single use, the same answer whether or not the address exists, throttled);
// invitations instead of admin-typed passwords (the typed path still works); password
// changes and resets are emailed to the account.
'use strict';
const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const {startServer, assertStatus, DEMO_PASSWORD} = require('./lib.js');
const {startSmtp, freePort} = require('./smtp.js');

let srv, smtp;
before(async () => {
  smtp = await startSmtp();
  const port = await freePort();
  srv = await startServer({demo: true, args: ['--port', String(port), '--smtp-url', `smtp://127.0.0.1:${smtp.port}`,
    '--smtp-from', 'evitrack <noreply@centre.test>', '--smtp-retry-seconds', '1']});
});
after(async () => { await srv.stop(); await smtp.stop(); smtp.cleanup(); });

const linkIn = (m) => {
  const x = /(https?:\/\/\S+\/set-password\?token=([0-9a-f]{64}))/.exec(m.text);
  assert.ok(x, `a link in: ${m.text}`);
  return {url: x[1], token: x[2], path: new URL(x[1]).pathname + new URL(x[1]).search};
};
const to = (addr, re) => (m) => m.to.includes(addr) && re.test(m.subject);

test('reset: same answer for a known and an unknown address; a one-time link, stored hashed, that works once', async () => {
  const c = srv.client();
  const known = await c.post('/api/v1/password-resets', {email: ' Learner2@Demo.test '});
  const unknown = await c.post('/api/v1/password-resets', {email: 'nobody@demo.test'});
  assertStatus(known, 202);
  assert.equal(unknown.status, known.status);
  assert.equal(unknown.text.replace(/nobody@demo\.test/, 'X'), known.text.replace(/learner2@demo\.test/, 'X'));
  const [m] = await smtp.waitFor(1, {filter: to('learner2@demo.test', /Reset your evitrack password/)});
  assert.equal(smtp.messages().filter((x) => x.to.includes('nobody@demo.test')).length, 0);
  const {url, token, path} = linkIn(m);
  assert.ok(url.startsWith(srv.url + '/set-password?token='));
  assert.ok(m.html.includes(`href="${url}"`));
  // stored only as its SHA-256; the sent email's body no longer holds it
  const sha = crypto.createHash('sha256').update(token).digest('hex');
  assert.equal(srv.sql(`SELECT count(*) FROM account_tokens WHERE token_hash = '${sha}' AND purpose = 'reset'`), '1');
  assert.equal(srv.sql(`SELECT count(*) FROM account_tokens WHERE token_hash = '${token}'`), '0');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(srv.sql(`SELECT count(*) FROM outbox WHERE body LIKE '%${token}%'`), '0', 'blanked once sent');
  const expiry = Number(srv.sql(`SELECT expires_at - ${Math.floor(Date.now() / 1000)} FROM account_tokens WHERE token_hash = '${sha}'`));
  assert.ok(expiry > 3500 && expiry <= 3600, `1 hour (${expiry})`);

  let r = await c.get(path);
  assertStatus(r, 200, 'the page');
  assert.match(r.text, /Choose a new password/);
  assert.match(r.text, /learner2@demo\.test/);
  r = await c.post('/api/v1/password-resets/confirm', {token, new_password: 'short'});
  assertStatus(r, 400);
  assert.equal(r.json.errors[0].field, 'new_password');
  r = await c.post('/api/v1/password-resets/confirm', {token, new_password: 'a brand new password', confirm_password: 'different one here'});
  assertStatus(r, 400);
  assert.equal(r.json.errors[0].field, 'confirm_password');
  const other = await srv.login('learner2@demo.test');
  r = await c.postForm('/set-password', {token, new_password: 'a brand new password', confirm_password: 'a brand new password'});
  assert.equal(r.status, 303);
  assert.equal(r.headers.location, '/login?password_set=1');
  assert.match((await c.get('/login?password_set=1')).text, /Your password has been set/);
  // single use; the old password and the old sessions are gone
  assertStatus(await c.post('/api/v1/password-resets/confirm', {token, new_password: 'another new password'}), 410);
  assertStatus(await c.get(path), 410);
  assertStatus(await other.get('/api/v1/me'), 401, 'signed out everywhere');
  assertStatus(await srv.client().post('/api/v1/session', {email: 'learner2@demo.test', password: DEMO_PASSWORD}), 401);
  await srv.login('learner2@demo.test', 'a brand new password');
  // and the account hears of it
  const [n] = await smtp.waitFor(1, {filter: to('learner2@demo.test', /password was changed/)});
  assert.match(n.text, /was reset on \d+ \w+ \d{4} at \d\d:\d\d (GMT|BST)/);
  assert.equal(srv.sql("SELECT count(*) FROM audit_events WHERE action = 'user.password_reset_link'"), '1');
});

test('reset links expire after an hour, and garbage tokens are refused without a crash', async () => {
  const c = srv.client();
  assertStatus(await c.post('/api/v1/password-resets', {email: 'learner3@demo.test'}), 202);
  const [m] = await smtp.waitFor(1, {filter: to('learner3@demo.test', /Reset/)});
  const {token} = linkIn(m);
  const sha = crypto.createHash('sha256').update(token).digest('hex');
  srv.sql(`UPDATE account_tokens SET expires_at = ${Math.floor(Date.now() / 1000)} - 1 WHERE token_hash = '${sha}'`);
  assertStatus(await c.post('/api/v1/password-resets/confirm', {token, new_password: 'a brand new password'}), 410);
  const r = await c.get(`/set-password?token=${token}`);
  assertStatus(r, 410);
  assert.match(r.text, /This link has expired/);
  for (const bad of [{}, {token: ''}, {token: 'x'.repeat(64)}, {token: ['a']}, {token: 'a'.repeat(10000)},
    {token: 5, new_password: 'a brand new password'}]) {
    const res = await c.post('/api/v1/password-resets/confirm', bad);
    assert.ok(res.status === 410 || res.status === 400, `${JSON.stringify(bad).slice(0, 40)}: ${res.status}`);
  }
  for (const bad of [{}, {email: ''}, {email: 'not an address'}, {email: {a: 1}}, {email: 'a@'.repeat(300)}]) {
    assertStatus(await c.post('/api/v1/password-resets', bad), 400, JSON.stringify(bad).slice(0, 40));
  }
});

test('reset requests are throttled: 3 links per address an hour, then the same answer and no email; 429 per client', async () => {
  const c = srv.client();
  const before = smtp.messages().filter(to('iqa@demo.test', /Reset/)).length;
  for (let i = 0; i < 5; i++) assertStatus(await c.post('/api/v1/password-resets', {email: 'iqa@demo.test'}), 202);
  await smtp.waitFor(before + 3, {filter: to('iqa@demo.test', /Reset/)});
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(smtp.messages().filter(to('iqa@demo.test', /Reset/)).length, before + 3);
  // this client has now asked 9 times in 15 minutes (tests above): the 11th is refused
  let r;
  for (let i = 0; i < 3; i++) r = await c.post('/api/v1/password-resets', {email: `someone${i}@demo.test`});
  assertStatus(r, 429);
  assert.ok(Number(r.headers['retry-after']) > 0);
  srv.sql('DELETE FROM reset_requests'); // let the later tests ask again
});

test('an admin invites instead of typing a password; the invitation link sets it, once', async () => {
  const admin = await srv.login('admin@demo.test');
  let r = await admin.post('/api/v1/users', {email: 'ivy@demo.test', name: 'Ivy Invited', role: 'learner', invite: true});
  assertStatus(r, 201);
  assert.equal(r.json.invited, true);
  assertStatus(await srv.client().post('/api/v1/session', {email: 'ivy@demo.test', password: 'anything at all'}), 401);
  const [m] = await smtp.waitFor(1, {filter: to('ivy@demo.test', /set your password/)});
  assert.match(m.text, /Priya Shah has made you an evitrack account as Learner/);
  assert.match(m.text, /expires in 7 days/);
  const {token, path} = linkIn(m);
  const page = await srv.client().get(path);
  assertStatus(page, 200);
  assert.match(page.text, /Set your password/);
  assert.match(page.text, /Welcome to evitrack, Ivy Invited/);
  r = await srv.client().post('/api/v1/password-resets/confirm', {token, new_password: 'ivy chose this one'});
  assertStatus(r, 200);
  await srv.login('ivy@demo.test', 'ivy chose this one');
  assertStatus(await srv.client().post('/api/v1/password-resets/confirm', {token, new_password: 'and again please'}), 410);
  assert.equal(srv.sql("SELECT count(*) FROM audit_events WHERE action = 'user.invitation_accept'"), '1');

  // the form: a blank password means an invitation
  r = await admin.postForm('/admin/users', {email: 'form.invite@demo.test', name: 'Form Invite', role: 'assessor',
    password: '', invite: '1'});
  assert.equal(r.status, 303);
  assert.match(r.headers.location, /done=invited/);
  await smtp.waitFor(1, {filter: to('form.invite@demo.test', /set your password/)});
  // the typed password still works, and no password without invite is still refused
  r = await admin.post('/api/v1/users', {email: 'typed@demo.test', name: 'Typed', role: 'learner', password: 'typed by the admin'});
  assertStatus(r, 201);
  assert.equal(r.json.invited, false);
  await srv.login('typed@demo.test', 'typed by the admin');
  r = await admin.post('/api/v1/users', {email: 'nopw@demo.test', name: 'No Password', role: 'learner'});
  assertStatus(r, 400);
  assert.ok(r.json.errors.some((e) => e.field === 'password'));
  assert.equal(srv.sql("SELECT count(*) FROM users WHERE email = 'nopw@demo.test'"), '0');
});

test('changing one\'s own password, or an admin resetting it, is emailed to the account', async () => {
  const c = await srv.login('eqa@demo.test');
  assertStatus(await c.post('/api/v1/me/password', {current_password: DEMO_PASSWORD, new_password: 'eqa new password 1'}), 200);
  const [m] = await smtp.waitFor(1, {filter: to('eqa@demo.test', /password was changed/)});
  assert.match(m.text, /was changed on/);
  const admin = await srv.login('admin@demo.test');
  const id = Number(srv.sql("SELECT id FROM users WHERE email = 'assessor2@demo.test'"));
  assertStatus(await admin.post(`/api/v1/users/${id}/password`, {password: 'set by the admin 1'}), 200);
  await smtp.waitFor(1, {filter: to('assessor2@demo.test', /password was changed/)});
  // security emails cannot be turned off, and show in-app
  const r = await c.get('/api/v1/notifications');
  assert.equal(r.json.notifications[0].kind, 'password_changed');
});
