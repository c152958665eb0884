// tests/e2e/apprenticeships_admin.test.js: issue 16's admin pages in Chromium with
// JavaScript off (the forms must work without it), at 1280 and 375 px: add an employer and
// a contact, enrol an apprentice (a mistake first: the error summary), change the plan,
// record a break in learning. Each page: a screenshot, axe-core with no violations, no
// sideways scroll at 375 px, and the Nu HTML Checker when java is there.
'use strict';
const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const {startServer, launch, signIn, screenshot, axeCheck, formatViolations, htmlValidate,
  formatHtmlErrors} = require('./lib.js');

let srv;
const pages = {};
const day = (offset) => new Date(Date.now() + offset * 86400000).toISOString().slice(0, 10);

before(async () => {
  srv = await startServer({demo: true});
  const admin = await srv.login('admin@demo.test');
  for (const w of [1280, 375, 'nojs']) {
    await admin.post('/api/v1/users', {email: `e2e-appr-${w}@demo.test`, name: `Alex Apprentice ${w}`, role: 'learner',
      password: 'apprentice e2e password'});
  }
});
after(() => srv && srv.stop());

async function check(page, name, width, js) {
  if (!js) { // the same flow without JavaScript: the forms work; axe needs a script, so it runs in the passes with it
    pages[name] = await page.content();
    return;
  }
  await screenshot(page, name);
  const v = await axeCheck(page);
  assert.deepEqual(v.map((x) => x.id), [], `${name}: ${formatViolations(v)}`);
  if (width < 400) {
    const over = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(over <= 0, `${name}: ${over}px of sideways scroll at ${width} px`);
  }
  pages[name] = await page.content();
}

async function submit(page, button) {
  await Promise.all([page.waitForNavigation({waitUntil: 'load'}), page.click(button)]);
}

for (const [width, js] of [[1280, true], [375, true], [375, false]]) {
  test(`the admin's apprenticeship pages at ${width} px, ${js ? 'with' : 'without'} JavaScript`, async () => {
    const b = await launch({width, javaScriptEnabled: js});
    try {
      const page = b.page;
      const w = js ? width : 'nojs';
      await signIn(page, srv.url, 'admin@demo.test');
      // employers, from the navigation
      await page.goto(`${srv.url}/admin/employers`);
      assert.equal(await page.locator('h1').innerText(), 'Employers');
      await check(page, `admin-employers-${w}`, width, js);
      await submit(page, 'button:has-text("Add employer")');
      assert.match(await page.locator('.error-summary').innerText(), /Enter the employer's name/);
      await check(page, `admin-employers-error-${w}`, width, js);
      await page.fill('#name', `Seaview Hotels ${w}`);
      await submit(page, 'button:has-text("Add employer")');
      assert.match(await page.locator('h1').innerText(), new RegExp(`Seaview Hotels ${w}`));
      await page.fill('#name', 'Sam Seaview');
      await page.fill('#email', `sam-${w}@seaview.test`);
      await submit(page, 'button:has-text("Add contact")');
      assert.match(await page.locator('main').innerText(), /Sam Seaview/);
      await check(page, `admin-employer-${w}`, width, js);
      const employerId = new URL(page.url()).pathname.split('/').pop();

      // enrol an apprentice: a mistake first, then right
      await page.goto(`${srv.url}/admin/apprenticeships/new`);
      await page.fill('#learner_email', `e2e-appr-${w}@demo.test`);
      await page.selectOption('#employer_id', employerId);
      await page.fill('#weekly_hours', 'full time');
      await submit(page, 'button:has-text("Enrol apprentice")');
      const summary = await page.locator('.error-summary').innerText();
      assert.match(summary, /Choose an apprenticeship standard/);
      assert.match(summary, /contracted hours/);
      assert.equal(await page.inputValue('#learner_email'), `e2e-appr-${w}@demo.test`, 'the email is kept');
      assert.equal(await page.inputValue('#employer_id'), employerId, 'the employer stays chosen');
      await check(page, `admin-apprenticeship-new-error-${w}`, width, js);
      await page.selectOption('#standard_id', {label: 'Customer Service Specialist (ST9901)'}).catch(async () => {
        const v = await page.locator('#standard_id option').nth(1).getAttribute('value');
        await page.selectOption('#standard_id', v);
      });
      await page.selectOption('#assessor_id', {index: 1});
      await page.fill('#start_date', day(-60));
      await page.fill('#planned_end_date', day(400));
      await page.fill('#weekly_hours', '30');
      await page.fill('#rpl_otj_hours', '20');
      await page.fill('#rpl_ksbs', 'K1, B4');
      await page.fill('#rpl_note', 'Level 2 certificate in customer service');
      await submit(page, 'button:has-text("Enrol apprentice")');
      assert.match(new URL(page.url()).pathname, /^\/admin\/apprenticeships\/\d+$/);
      assert.match(await page.locator('main').innerText(), /The apprentice has been enrolled/);
      await check(page, `admin-apprenticeship-${w}`, width, js);
      // change the plan
      await page.fill('#review_interval_weeks', '8');
      await submit(page, 'button:has-text("Save the plan")');
      assert.match(await page.locator('main').innerText(), /plan has been saved/);
      // a break in learning from the hours page
      await page.click('a:has-text("Record or end a break")');
      await page.waitForLoadState('load');
      await page.click('summary:has-text("Record a break in learning")');
      await page.fill('#start_date', day(-5));
      await submit(page, 'button:has-text("Start the break")');
      assert.match(await page.locator('.error-summary').innerText(), /reason/);
      await check(page, `otj-break-error-${w}`, width, js);
      await page.fill('#reason', 'Family emergency');
      await submit(page, 'button:has-text("Start the break")');
      assert.match(await page.locator('main').innerText(), /Family emergency/);
      await check(page, `otj-break-${w}`, width, js);
    } finally {
      await b.close();
    }
  });
}

test('the pages are valid HTML', () => {
  const r = htmlValidate(pages);
  if (!r.available) return;
  assert.deepEqual(r.errors, [], formatHtmlErrors(r.errors));
});
