// tests/e2e/accounts.test.js: in headless Chromium, each role signs in through the /login
// form, lands on its home page, and signs out with the header's button; a wrong password
// shows the error summary; the admin creates an account and enrols it through the pages;
// everyone can reach the change-password page. Pages pass axe and fit a 375px screen.
'use strict';
const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const {startServer, launch, signIn, screenshot, axeCheck, formatViolations, htmlValidate,
  formatHtmlErrors} = require('./lib.js');

let srv;
let b;
before(async () => {
  srv = await startServer({demo: true});
  b = await launch();
});
after(async () => {
  if (b) await b.close();
  if (srv) await srv.stop();
});

const HOMES = [
  ['learner@demo.test', '/portfolio'],
  ['assessor@demo.test', '/caseload'],
  ['iqa@demo.test', '/iqa'],
  ['admin@demo.test', '/centre'],
  ['eqa@demo.test', '/eqa'],
];

async function signOut(page) {
  // (a home page of a module not built in yet has no header: use one of ours)
  if (!(await page.locator('form[action="/logout"] button').count())) await page.goto(srv.url + '/account/password');
  await Promise.all([
    page.waitForURL((u) => /\/login/.test(new URL(u).pathname), {timeout: 15000}),
    page.locator('form[action="/logout"] button').click(),
  ]);
}

async function noAxeViolations(page) {
  const v = await axeCheck(page);
  assert.deepEqual(v.map((x) => x.id), [], formatViolations(v));
}

test('the sign-in page is accessible and valid', async () => {
  const page = b.page;
  const resp = await page.goto(srv.url + '/login');
  assert.equal(resp.status(), 200);
  await screenshot(page, 'accounts-login');
  await noAxeViolations(page);
  const v = htmlValidate({login: await resp.text()});
  if (v.available) assert.deepEqual(v.errors, [], formatHtmlErrors(v.errors));
});

test('a wrong password shows the error summary and keeps the email', async () => {
  const page = b.page;
  await page.goto(srv.url + '/login');
  await page.fill('#email', 'learner@demo.test');
  await page.fill('#password', 'not my password');
  await Promise.all([page.waitForLoadState('load'), page.click('form[action="/login"] button[type="submit"]')]);
  await page.waitForSelector('.error-summary');
  const summary = await page.locator('.error-summary').innerText();
  assert.match(summary, /email address or password is incorrect/);
  assert.equal(await page.inputValue('#email'), 'learner@demo.test');
  assert.equal(await page.inputValue('#password'), '');
  await screenshot(page, 'accounts-login-error');
  await noAxeViolations(page);
});

for (const [email, home] of HOMES) {
  test(`${email} signs in, lands on ${home}, and signs out`, async () => {
    const page = b.page;
    const url = await signIn(page, srv.url, email);
    assert.equal(new URL(url).pathname, home);
    // GET / goes home as well
    const resp = await page.goto(srv.url + '/');
    assert.equal(new URL(page.url()).pathname, home);
    if (resp.status() === 200) {
      await screenshot(page, `accounts-home-${email.split('@')[0]}`);
    } else {
      // that home page belongs to another module not built in yet: sign out from ours
      await page.goto(srv.url + '/account/password');
    }
    // the header names the user and offers sign-out
    const header = await page.locator('header').innerText();
    assert.match(header, /Sign out/);
    await signOut(page);
    assert.match(await page.locator('main').innerText(), /You have signed out/);
    // the home page now needs signing in again
    if (resp.status() === 200) {
      await page.goto(srv.url + home);
      assert.match(new URL(page.url()).pathname, /^\/login/);
    }
  });
}

test('the admin creates an account and enrols it through the pages', async () => {
  const page = b.page;
  await signIn(page, srv.url, 'admin@demo.test');
  await page.goto(srv.url + '/admin/users');
  await noAxeViolations(page);
  await screenshot(page, 'accounts-admin-users');
  await page.click('a[href="/admin/users/new"]');
  await page.fill('#name', 'Dana Browser');
  await page.fill('#email', 'dana@demo.test');
  await page.check('#role-learner');
  await page.fill('#password', 'dana browser password');
  await screenshot(page, 'accounts-admin-user-new');
  await noAxeViolations(page);
  await Promise.all([page.waitForURL(/\/admin\/users\/\d+/), page.click('main form button[type="submit"]')]);
  assert.match(await page.locator('.notification-banner').innerText(), /created/);
  // the admin's own menu, not the shown learner's
  assert.doesNotMatch(await page.locator('header nav').innerText(), /My evidence/);
  await noAxeViolations(page);
  await screenshot(page, 'accounts-admin-user');
  await page.click('a[href^="/admin/enrolments/new?learner_id="]');
  assert.equal(await page.inputValue('#learner'), 'dana@demo.test');
  const quals = await page.locator('#qualification_id option').count();
  assert.ok(quals >= 2, 'a qualification to choose');
  await page.selectOption('#qualification_id', {index: 1});
  const optionFor = (sel, text) => page.$eval(sel, (el, t) =>
    [...el.options].find((o) => o.textContent.includes(t)).value, text);
  await page.selectOption('#assessor', await optionFor('#assessor', 'assessor2@demo.test'));
  await page.selectOption('#iqa', await optionFor('#iqa', 'iqa@demo.test'));
  await noAxeViolations(page);
  await screenshot(page, 'accounts-admin-enrol');
  await Promise.all([page.waitForURL(/\/admin\/enrolments\/\d+/), page.click('main form button[type="submit"]')]);
  assert.match(await page.locator('main').innerText(), /Dana Browser/);
  await noAxeViolations(page);
  await screenshot(page, 'accounts-admin-enrolment');
  await signOut(page);
  // the new learner signs in and lands on their portfolio
  const url = await signIn(page, srv.url, 'dana@demo.test', 'dana browser password');
  assert.equal(new URL(url).pathname, '/portfolio');
  await signOut(page);
});

test('the change-password page and the learners list work on a phone', async () => {
  const phone = await launch({width: 375, height: 800});
  try {
    await signIn(phone.page, srv.url, 'assessor@demo.test');
    for (const p of ['/account/password', '/learners']) {
      const resp = await phone.page.goto(srv.url + p);
      assert.equal(resp.status(), 200, p);
      const width = await phone.page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 375, `${p} is ${width}px wide at 375px`);
      await screenshot(phone.page, `accounts-phone${p.replace(/\//g, '-')}`);
      await noAxeViolations(phone.page);
    }
  } finally {
    await phone.close();
  }
});

test('every accounts page is valid HTML (Nu checker) and passes axe', async () => {
  const {Client} = require('./lib.js');
  const admin = new Client(srv);
  await admin.login('admin@demo.test');
  const learnerId = srv.sql("SELECT id FROM users WHERE email = 'learner@demo.test'");
  const enrolmentId = srv.sql(`SELECT min(id) FROM enrolments WHERE learner_id = ${learnerId}`);
  const pages = ['/admin/users', '/admin/users/new', `/admin/users/${learnerId}`, '/admin/enrolments',
    '/admin/enrolments/new', `/admin/enrolments/${enrolmentId}`, '/learners', `/learners/${learnerId}`,
    '/account/password'];
  const docs = {};
  for (const p of pages) {
    const r = await admin.get(p);
    assert.equal(r.status, 200, p);
    docs[p] = r.text;
  }
  // error re-renders too
  docs['admin-user-new-error'] = (await admin.postForm('/admin/users', {email: 'bad', name: '', role: ''})).text;
  docs['account-password-error'] = (await admin.postForm('/account/password', {current_password: ''})).text;
  docs['landing'] = (await srv.client().get('/')).text;
  const v = htmlValidate(docs);
  if (v.available) assert.deepEqual(v.errors, [], formatHtmlErrors(v.errors));
  // axe on the pages with the most structure
  const page = b.page;
  await signIn(page, srv.url, 'admin@demo.test');
  for (const p of [`/admin/users/${learnerId}`, `/admin/enrolments/${enrolmentId}`, '/admin/enrolments', `/learners/${learnerId}`]) {
    await page.goto(srv.url + p);
    await noAxeViolations(page);
  }
  await page.goto(srv.url + '/admin/users/new');
  await page.click('main form button[type="submit"]');
  await page.waitForSelector('.error-summary');
  await noAxeViolations(page);
  await screenshot(page, 'accounts-admin-user-new-errors');
  await signOut(page);
});

test('signing in as someone else without signing out replaces the session', async () => {
  const page = b.page;
  await signIn(page, srv.url, 'learner@demo.test');
  const url = await signIn(page, srv.url, 'assessor@demo.test');
  assert.equal(new URL(url).pathname, '/caseload');
  const me = await page.evaluate(async () => (await fetch('/api/v1/me')).json());
  assert.equal(me.email, 'assessor@demo.test');
  await signOut(page);
});
