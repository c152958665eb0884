// tests/e2e/notifications.test.js: in headless Chromium with a real SMTP server on loopback:
// "Forgotten your password?" from the sign-in page to the emailed link and a new password;
// an admin's invitation from the create-account form to the invitee's first sign-in; the
// notifications list, email choices and outbox pages (axe, Nu checker, 375px); an intake CSV
// uploaded, previewed with its problems, fixed and imported through the pages.
'use strict';
const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const {startServer, launch, signIn, screenshot, axeCheck, formatViolations, htmlValidate,
  formatHtmlErrors, Client} = require('./lib.js');
const {startSmtp, freePort} = require('../http/smtp.js');

let srv, smtp, b;
before(async () => {
  smtp = await startSmtp();
  const port = await freePort();
  srv = await startServer({demo: true, args: ['--port', String(port), '--smtp-url', `smtp://127.0.0.1:${smtp.port}`,
    '--smtp-from', 'evitrack <noreply@centre.test>', '--smtp-retry-seconds', '1']});
  b = await launch();
});
after(async () => {
  if (b) await b.close();
  if (srv) await srv.stop();
  if (smtp) { await smtp.stop(); smtp.cleanup(); }
});

async function noAxeViolations(page) {
  const v = await axeCheck(page);
  assert.deepEqual(v, [], `${page.url()}\n${formatViolations(v)}`);
}

function linkFrom(m) {
  const x = /(https?:\/\/\S+\/set-password\?token=[0-9a-f]{64})/.exec(m.text);
  assert.ok(x, m.text);
  return x[1];
}

test('forgotten password: from the sign-in page to the emailed link, a new password and signing in', async () => {
  const page = b.page;
  await page.context().clearCookies();
  await page.goto(srv.url + '/login');
  await Promise.all([page.waitForURL(/\/password-reset$/), page.click('text=Forgotten your password?')]);
  await noAxeViolations(page);
  await page.fill('#email', 'learner3@demo.test');
  await Promise.all([page.waitForLoadState('load'), page.click('main form button[type="submit"]')]);
  assert.match(await page.locator('main').innerText(), /Check your email/);
  await noAxeViolations(page);
  await screenshot(page, 'reset-sent');
  const [m] = await smtp.waitFor(1, {filter: (x) => x.to.includes('learner3@demo.test') && /Reset/.test(x.subject)});
  await page.goto(linkFrom(m));
  assert.match(await page.locator('h1').innerText(), /Choose a new password/);
  await noAxeViolations(page);
  // a mismatch first: the error summary, then the real thing
  await page.fill('#new_password', 'chloe picked this');
  await page.fill('#confirm_password', 'chloe picked that');
  await Promise.all([page.waitForLoadState('load'), page.click('main form button[type="submit"]')]);
  assert.match(await page.locator('.error-summary').innerText(), /do not match/);
  await noAxeViolations(page);
  await page.fill('#new_password', 'chloe picked this');
  await page.fill('#confirm_password', 'chloe picked this');
  await Promise.all([page.waitForURL(/\/login\?password_set=1$/), page.click('main form button[type="submit"]')]);
  assert.match(await page.locator('.notification-banner, .notice').first().innerText(), /Your password has been set/);
  await screenshot(page, 'reset-done');
  const url = await signIn(page, srv.url, 'learner3@demo.test', 'chloe picked this');
  assert.equal(new URL(url).pathname, '/portfolio');
  // the link is spent
  const again = await page.goto(linkFrom(m));
  assert.equal(again.status(), 410);
  assert.match(await page.locator('h1').innerText(), /expired/);
  await noAxeViolations(page);
});

test('invitation: the admin leaves the password blank; the invitee sets it from the email and signs in', async () => {
  const page = b.page;
  await signIn(page, srv.url, 'admin@demo.test');
  await page.goto(srv.url + '/admin/users/new');
  await page.fill('#name', 'Ina Invitee');
  await page.fill('#email', 'ina@demo.test');
  await page.check('#role-learner');
  await Promise.all([page.waitForURL(/\/admin\/users\/\d+\?done=invited/), page.click('main form button[type="submit"]')]);
  assert.match(await page.locator('.notification-banner, .notice').first().innerText(), /emailed an invitation/);
  await page.context().clearCookies();
  const [m] = await smtp.waitFor(1, {filter: (x) => x.to.includes('ina@demo.test')});
  assert.match(m.subject, /set your password/);
  await page.goto(linkFrom(m));
  assert.match(await page.locator('h1').innerText(), /Set your password/);
  await noAxeViolations(page);
  await screenshot(page, 'invite-set-password');
  await page.fill('#new_password', 'ina chose a password');
  await page.fill('#confirm_password', 'ina chose a password');
  await Promise.all([page.waitForURL(/\/login\?password_set=1$/), page.click('main form button[type="submit"]')]);
  const url = await signIn(page, srv.url, 'ina@demo.test', 'ina chose a password');
  assert.equal(new URL(url).pathname, '/portfolio');
});

test('the header shows unread notifications; the list, choices and outbox pages pass axe, the Nu checker and fit 375px', async () => {
  // something for the assessor to read: the admin resets their password (a security notification)
  const admin = new Client(srv);
  await admin.login('admin@demo.test');
  const id = srv.sql("SELECT id FROM users WHERE email = 'assessor2@demo.test'");
  assert.equal((await admin.post(`/api/v1/users/${id}/password`, {password: 'assessor2 new pass'})).status, 200);
  const phone = await launch({width: 375, height: 800});
  try {
    const page = phone.page;
    await signIn(page, srv.url, 'assessor2@demo.test', 'assessor2 new pass');
    const badge = await page.locator('.site-header__notifications').innerText();
    assert.match(badge, /Notifications\s*1/);
    await page.click('.site-header__notifications');
    await page.waitForURL(/\/notifications$/);
    assert.match(await page.locator('main').innerText(), /Your evitrack password was changed/);
    for (const p of ['/notifications', '/account/notifications']) {
      await page.goto(srv.url + p);
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 375, `${p} is ${width}px wide at 375px`);
      await noAxeViolations(page);
      await screenshot(page, `notifications-phone${p.replace(/\//g, '-')}`);
    }
    await page.goto(srv.url + '/notifications');
    await Promise.all([page.waitForLoadState('load'), page.click('main form[action$="/read"] button')]);
    assert.doesNotMatch(await page.locator('.site-header__notifications').innerText(), /\d/);
    // choices: digest for decisions, saved
    await page.goto(srv.url + '/account/notifications');
    await page.check('#decision_recorded-digest');
    await Promise.all([page.waitForURL(/done=1/), page.click('main form button[type="submit"]')]);
    assert.match(await page.locator('.notification-banner, .notice').first().innerText(), /saved/);
    assert.ok(await page.isChecked('#decision_recorded-digest'));
    await signIn(page, srv.url, 'admin@demo.test');
    await page.goto(srv.url + '/admin/outbox');
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 375, `/admin/outbox is ${width}px wide at 375px`);
    await noAxeViolations(page);
    await screenshot(page, 'notifications-phone-admin-outbox');
  } finally {
    await phone.close();
  }
  const learner = new Client(srv);
  await learner.login('learner@demo.test');
  const docs = {
    notifications: (await learner.get('/notifications')).text,
    prefs: (await learner.get('/account/notifications')).text,
    'prefs-error': (await learner.postForm('/account/notifications', {decision_recorded: 'hourly'})).text,
    outbox: (await admin.get('/admin/outbox')).text,
    'outbox-failed': (await admin.get('/admin/outbox?status=failed')).text,
    reset: (await new Client(srv).get('/password-reset')).text,
    'reset-error': (await new Client(srv).postForm('/password-reset', {email: ''})).text,
    'set-expired': (await new Client(srv).get('/set-password?token=nope')).text,
  };
  const v = htmlValidate(docs);
  if (v.available) assert.deepEqual(v.errors, [], formatHtmlErrors(v.errors));
});

test('intake: upload a CSV, see each line\'s problems, fix the file, import every line', async () => {
  const page = b.page;
  await signIn(page, srv.url, 'admin@demo.test');
  await page.goto(srv.url + '/admin/users');
  await Promise.all([page.waitForURL(/\/admin\/intake$/), page.click('text=Import an intake (CSV)')]);
  await noAxeViolations(page);
  const qual = srv.sql('SELECT code FROM qualifications ORDER BY id LIMIT 1');
  const head = 'name,email,uln,qualification,assessor_email,iqa_email,start_date,planned_end_date,employer\n';
  const bad = head + `Pat Page,pat@college.test,9276308686,${qual},assessor@demo.test,,2026-09-01,2027-08-31,Acme\n` +
    `Sam Page,not-an-email,,${qual},nobody@demo.test,,2026-09-01,2027-08-31,\n`;
  await page.setInputFiles('#file', {name: 'intake.csv', mimeType: 'text/csv', buffer: Buffer.from(bad)});
  await Promise.all([page.waitForLoadState('load'), page.click('main form button[type="submit"]')]);
  const summary = await page.locator('.error-summary').innerText();
  assert.match(summary, /Line 3: Enter the email address in the correct format/);
  assert.match(summary, /Line 3: There is no assessor account/);
  assert.equal(await page.locator('button:has-text("Import")').count(), 0, 'no import while there are problems');
  await noAxeViolations(page);
  await screenshot(page, 'intake-problems');
  const good = head + `Pat Page,pat@college.test,9276308686,${qual},assessor@demo.test,,2026-09-01,2027-08-31,Acme\n` +
    `Sam Page,sam@college.test,,${qual},assessor@demo.test,iqa@demo.test,01/09/2026,31/08/2027,\n`;
  await page.setInputFiles('#file', {name: 'intake.csv', mimeType: 'text/csv', buffer: Buffer.from(good)});
  await Promise.all([page.waitForLoadState('load'), page.click('main form button[type="submit"]')]);
  assert.match(await page.locator('main').innerText(), /no problems found/);
  await noAxeViolations(page);
  await screenshot(page, 'intake-preview');
  await Promise.all([page.waitForURL(/\/admin\/intake\?done=2$/), page.click('button:has-text("Import 2 learner(s)")')]);
  assert.match(await page.locator('.notification-banner, .notice').first().innerText(), /2 learners imported/);
  assert.equal(srv.sql("SELECT count(*) FROM users WHERE email IN ('pat@college.test', 'sam@college.test')"), '2');
  await smtp.waitFor(2, {filter: (m) => /set your password/.test(m.subject) && /(pat|sam)@college/.test(m.to.join())});
  const v = htmlValidate({intake: await page.content()});
  if (v.available) assert.deepEqual(v.errors, [], formatHtmlErrors(v.errors));
});
