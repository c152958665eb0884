// tests/e2e/pages.test.js: issue 13 in a real browser: local times on pages, the
// confirmation banner after an action, the "what to do next" panel, the mapping page
// (a note box only under a ticked criterion, with and without JavaScript, focus kept on
// the box, the count live), the review page on a phone (decisions before guidance, files
// previewed inline with their download beside), deleting evidence asks first, and the
// upload form's own file control giving way to the script's list.
'use strict';
const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const {startServer, launch, signIn, screenshot, axeCheck, formatViolations} = require('./lib.js');

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC', 'base64');

let srv;
let b;
let phone;
before(async () => {
  srv = await startServer({demo: true});
  b = await launch();
  phone = await launch({width: 375, height: 800});
});
after(async () => {
  if (phone) await phone.close();
  if (b) await b.close();
  if (srv) await srv.stop();
});

async function go(page, path) {
  const r = await page.goto(srv.url + path);
  assert.ok(r.status() < 400, `${path}: HTTP ${r.status()}`);
  return r;
}

test('the learner home leads with what to do next; times read as local dates', async () => {
  const page = b.page;
  await signIn(page, srv.url, 'learner@demo.test');
  await go(page, '/portfolio');
  const panel = page.locator('.next-steps');
  assert.equal(await panel.count(), 1);
  assert.match(await panel.innerText(), /What to do next/);
  const items = await panel.locator('li a').allInnerTexts();
  assert.ok(items.length >= 1, 'at least one next step');
  for (const t of items) assert.doesNotMatch(t, /\b1 [a-z]+s\b(?! of)/, `plural slip in "${t}"`);
  await page.context().request.post(srv.url + '/api/v1/evidence', {headers: {'X-CSRF-Token': await csrf(page)},
    multipart: {title: 'Timed', kind: 'product', file: {name: 't.txt', mimeType: 'text/plain', buffer: Buffer.from('t\n')}}});
  await go(page, '/evidence');
  const hrefs = await page.$$eval('main a[href]', (as) => as.map((a) => a.getAttribute('href')));
  const first = hrefs.find((h) => /^\/evidence\/\d+$/.test(h));
  assert.ok(first, 'the learner has evidence');
  await go(page, first);
  const times = await page.locator('main time').allInnerTexts();
  assert.ok(times.length > 0);
  for (const t of times) assert.match(t, /^\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d$/, `time shown as "${t}"`);
});

test('the mapping page: notes only under ticked criteria, focus stays, count live; also without JavaScript', async () => {
  const page = b.page;
  await signIn(page, srv.url, 'learner@demo.test');
  const made = await page.context().request.post(srv.url + '/api/v1/evidence', {
    headers: {'X-CSRF-Token': await csrf(page)},
    multipart: {title: 'Mapping check', kind: 'product', file: {name: 'm.txt', mimeType: 'text/plain', buffer: Buffer.from('m\n')}},
  });
  assert.equal(made.status(), 201, await made.text());
  const id = (await made.json()).id;
  await go(page, `/evidence/${id}/criteria`);
  const boxes = page.locator('[data-criterion] input[type=checkbox]');
  const n = await boxes.count();
  assert.ok(n >= 2);
  assert.equal(await page.locator('.criterion__notebox:visible').count(), 0, 'no note box before a tick');
  const count = page.locator('[data-checked-count]');
  assert.equal(await count.innerText(), '0');
  await boxes.nth(1).check();
  assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.type), 'checkbox',
    'focus stays on the checkbox');
  assert.equal(await count.innerText(), '1', 'the count follows the ticks');
  assert.equal(await page.locator('.criterion__notebox:visible').count(), 1);
  const row = page.locator('[data-criterion]').nth(1);
  assert.ok(await row.locator('textarea').isVisible());
  await boxes.nth(1).uncheck();
  assert.equal(await count.innerText(), '0');
  assert.equal(await page.locator('.criterion__notebox:visible').count(), 0);
  await screenshot(page, 'pages-mapping');

  const nojs = await launch({javaScriptEnabled: false});
  try {
    await signIn(nojs.page, srv.url, 'learner@demo.test');
    await nojs.page.goto(`${srv.url}/evidence/${id}/criteria`);
    const cb = nojs.page.locator('[data-criterion] input[type=checkbox]').first();
    assert.equal(await nojs.page.locator('.criterion__notebox:visible').count(), 0);
    await cb.check();
    assert.equal(await nojs.page.locator('.criterion__notebox:visible').count(), 1, 'CSS alone opens the note');
  } finally {
    await nojs.close();
  }
});

async function csrf(page) {
  const r = await page.context().request.get(srv.url + '/api/v1/session').catch(() => null);
  if (r && r.ok()) {
    const j = await r.json();
    if (j.csrf_token) return j.csrf_token;
  }
  await page.goto(srv.url + '/evidence/new');
  return page.locator('input[name=csrf_token]').first().getAttribute('value');
}

test('submitting through the pages shows a banner; deleting asks first', async () => {
  const page = b.page;
  await signIn(page, srv.url, 'learner@demo.test');
  await go(page, '/evidence/new');
  await page.fill('#title', 'Banner in the browser');
  await page.selectOption('#kind', 'product');
  await page.setInputFiles('#file', {name: 'photo.png', mimeType: 'image/png', buffer: PNG});
  // The script lists the file; the native control no longer says anything of its own.
  assert.equal(await page.locator('.upload-list li').count(), 1);
  const native = await page.locator('#file').evaluate((e) => e.getBoundingClientRect().width);
  assert.ok(native <= 1, 'the native file control is hidden once the script takes the files');
  assert.ok(await page.locator('button.upload-pick').isVisible(), 'a "Choose files" button opens the picker');
  await Promise.all([page.waitForURL(/\/criteria/), page.click('[data-upload-submit]')]);
  const bannerText = await page.locator('.notification-banner').innerText();
  assert.match(bannerText, /evidence has been added/);
  const id = Number(/\/evidence\/(\d+)/.exec(page.url())[1]);
  await go(page, `/evidence/${id}`);
  await Promise.all([page.waitForURL(/\/delete$/), page.click('text=Delete this evidence')]);
  assert.match(await page.locator('h1').innerText(), /Are you sure/);
  assert.equal((await page.context().request.get(`${srv.url}/api/v1/evidence/${id}`)).status(), 200);
  await Promise.all([page.waitForURL(/\/evidence\?done=evidence_deleted$/), page.click('text=Yes, delete this evidence')]);
  assert.match(await page.locator('.notification-banner').innerText(), /has been deleted/);
  const v = await axeCheck(page);
  assert.deepEqual(v, [], formatViolations(v));
});

test('the review page on a phone: decisions before guidance, files previewed with their download beside', async () => {
  const page = phone.page;
  await signIn(page, srv.url, 'learner@demo.test');
  const token = await csrf(page);
  const me = await (await page.context().request.get(srv.url + '/api/v1/me')).json();
  const qid = (me.enrolments || me.user.enrolments)[0].qualification_id;
  const q = await (await page.context().request.get(`${srv.url}/api/v1/qualifications/${qid}`)).json();
  const crit = q.units[0].outcomes[0].criteria[0];
  const made = await page.context().request.post(srv.url + '/api/v1/evidence', {
    headers: {'X-CSRF-Token': token},
    multipart: {title: 'Photo to review', kind: 'observation', file: {name: 'site.png', mimeType: 'image/png', buffer: PNG}},
  });
  const id = (await made.json()).id;
  await page.context().request.put(`${srv.url}/api/v1/evidence/${id}/criteria`,
    {headers: {'X-CSRF-Token': token}, data: {criteria: [{criterion_id: crit.id, note: 'in the photo'}]}});
  const sub = await page.context().request.post(`${srv.url}/api/v1/evidence/${id}/submit`, {headers: {'X-CSRF-Token': token}});
  assert.ok(sub.ok(), await sub.text());

  await signIn(page, srv.url, 'assessor@demo.test');
  await go(page, `/review/${id}`);
  const y = async (sel) => (await page.locator(sel).first().boundingBox()).y;
  const sign = await y('button:has-text("Sign and record decisions")');
  const filesAt = await y('#files');
  assert.ok(sign < filesAt, 'the decision form comes before the files');
  assert.equal(await page.locator('details.guidance[open]').count(), 0, 'guidance is folded');
  assert.ok(await page.locator('details.guidance').count() >= 1);
  const img = page.locator('#files ~ .evidence-file img.evidence-preview, .evidence-file img.evidence-preview').first();
  assert.equal(await img.count(), 1, 'the image is previewed inline');
  assert.ok(await page.locator('.evidence-file a[download]').first().isVisible(), 'download beside the preview');
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 375, `review page is ${width}px wide`);
  await screenshot(page, 'pages-review-375');
  const v = await axeCheck(page);
  assert.deepEqual(v, [], formatViolations(v));
});
