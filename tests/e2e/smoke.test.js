// tests/e2e/smoke.test.js: the home page in headless Chromium: it loads (200, a title
// naming evitrack, a heading), has no console or CSP errors, passes axe (WCAG 2.2 AA) and
// the HTML checker, fits a 375px phone screen, and is saved as a screenshot.
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

test('home page loads, is accessible and valid', async () => {
  const page = b.page;
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  const resp = await page.goto(srv.url + '/');
  assert.equal(resp.status(), 200, `GET / answered ${resp.status()}`);
  assert.match(resp.headers()['content-type'] || '', /^text\/html/);
  assert.ok(resp.headers()['content-security-policy'], 'no Content-Security-Policy header on /');
  assert.match(await page.title(), /evitrack/i);
  const h1 = (await page.locator('h1').first().innerText()).trim();
  assert.ok(h1.length > 0, 'the home page has no <h1> text');
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  assert.ok(await page.locator('a[href="/login"]').count() > 0, 'the home page links to /login');
  await screenshot(page, 'home');

  const violations = await axeCheck(page);
  assert.deepEqual(violations.map((v) => v.id), [], formatViolations(violations));

  const html = await resp.text();
  const v = htmlValidate({home: html});
  if (v.available) assert.deepEqual(v.errors, [], formatHtmlErrors(v.errors));
  assert.deepEqual(problems, []);
});

test('sign in through the /login form', async () => {
  const s = await launch();
  try {
    const landed = await signIn(s.page, srv.url, 'learner@demo.test', 'evitrack-demo');
    assert.doesNotMatch(new URL(landed).pathname, /^\/login/);
    const cookies = await s.context.cookies(srv.url);
    const session = cookies.find((c) => c.name === 'evitrack_session');
    assert.ok(session && session.httpOnly, 'an HttpOnly session cookie was set');
    const me = await s.context.request.get(srv.url + '/api/v1/me');
    assert.equal(me.status(), 200);
    assert.match(await me.text(), /learner@demo\.test/);
    await screenshot(s.page, 'signed-in-learner');
    await assert.rejects(signIn(s.page, srv.url, 'learner@demo.test', 'not the password'), /stayed on \/login/);
  } finally {
    await s.close();
  }
});

test('home page fits a 375px phone screen', async () => {
  const phone = await launch({width: 375, height: 800});
  try {
    const resp = await phone.page.goto(srv.url + '/');
    assert.equal(resp.status(), 200);
    const overflow = await phone.page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(overflow <= 375, `page is ${overflow}px wide at a 375px viewport`);
    await screenshot(phone.page, 'home-375');
  } finally {
    await phone.close();
  }
});
