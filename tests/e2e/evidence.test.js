// tests/e2e/evidence.test.js: a learner adds evidence with two files through the file
// input (upload.js: progress bar per file, XMLHttpRequest to the API), maps it to
// criteria with notes, submits it and sees it listed as submitted; drag and drop; the
// same with JavaScript off (plain form); a phone-width check. Screenshots of every page
// go to tests/e2e/screenshots/evidence-*.png; each page is checked with axe.
'use strict';
const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const {startServer, launch, signIn, screenshot, axeCheck, formatViolations, htmlValidate, formatHtmlErrors} =
  require('./lib.js');

const PNG = Buffer.from( // 16x16, blue
  '89504e470d0a1a0a0000000d494844520000001000000010080200000090916836000000164944415478da6390f59f48126218d530aa61f86a00000dbdfd0104aa60bd0000000049454e44ae426082', 'hex');
const PDF = Buffer.from('%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n' +
  '2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n' +
  '3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 300 200]>>endobj\n' +
  'trailer<</Root 1 0 R>>\n%%EOF\n');

let srv, b;

before(async () => {
  srv = await startServer({demo: true});
  b = await launch();
});
after(async () => {
  if (b) await b.close();
  if (srv) await srv.stop();
});

async function checkA11y(page, what) {
  const v = await axeCheck(page);
  assert.deepEqual(v.map((x) => x.id), [], `${what}\n${formatViolations(v)}`);
}

test('a learner adds evidence with two files, maps it with notes, submits, sees it submitted', async () => {
  const {page} = b;
  await signIn(page, srv.url, 'learner@demo.test');
  await page.goto(srv.url + '/evidence/new');
  await checkA11y(page, '/evidence/new');
  await page.fill('#title', 'Calming an upset customer');
  await page.selectOption('#kind', 'observation');
  await page.fill('#occurred_on', '2026-03-02');
  await page.fill('#description', 'My assessor watched me resolve a complaint at the service desk.');
  const notes = Buffer.from('Customer arrived upset about a late delivery.\nI listened and apologised.\n');
  await page.setInputFiles('#file', [
    {name: 'desk-photo.png', mimeType: 'image/png', buffer: PNG},
    {name: 'observation-notes.txt', mimeType: 'text/plain', buffer: notes},
  ]);
  // upload.js lists the files, each with its own progress bar
  await page.waitForSelector('.upload-item >> nth=1');
  assert.equal(await page.locator('.upload-item progress').count(), 2);
  await screenshot(page, 'evidence-new-two-files');
  await Promise.all([
    page.waitForURL(/\/evidence\/\d+\/criteria(\?done=\w+)?$/),
    page.click('[data-upload-submit]'),
  ]);
  const id = Number(/\/evidence\/(\d+)\/criteria/.exec(page.url())[1]);
  const files = srv.sqlRows(`SELECT name, sha256, size, mime FROM evidence_files WHERE evidence_id = ${id} ORDER BY id`);
  assert.deepEqual(files.map((f) => [f.name, f.mime]),
    [['desk-photo.png', 'image/png'], ['observation-notes.txt', 'text/plain']]);
  assert.equal(files[0].sha256, crypto.createHash('sha256').update(PNG).digest('hex'));
  assert.equal(files[1].size, notes.length);

  // the mapping page: units, outcomes, criteria with a checkbox and a note each
  await checkA11y(page, 'mapping page');
  const boxes = page.locator('input[type=checkbox][name=criterion]');
  assert.ok(await boxes.count() >= 2, 'criteria to tick');
  const ids = [await boxes.nth(0).getAttribute('value'), await boxes.nth(1).getAttribute('value')];
  await boxes.nth(0).check();
  await page.fill(`#note_${ids[0]}`, 'I listened actively and summarised the complaint.');
  await boxes.nth(1).check();
  await page.fill(`#note_${ids[1]}`, 'I explained what would happen next and by when.');
  await screenshot(page, 'evidence-criteria');
  // the live filter hides what does not match
  const total = await page.locator('[data-criterion]').count();
  await page.fill('#q', 'zzzz-no-such-criterion');
  assert.equal(await page.locator('[data-criterion]:visible').count(), 0);
  await page.fill('#q', '');
  assert.equal(await page.locator('[data-criterion]:visible').count(), total);
  await Promise.all([
    page.waitForURL(new RegExp(`/evidence/${id}(\\?done=\\w+)?$`)),
    page.click('button:has-text("Save mapping")'),
  ]);
  const mapped = srv.sqlRows(`SELECT criterion_id, note FROM evidence_criteria WHERE evidence_id = ${id} ORDER BY note`);
  assert.deepEqual(mapped.map((m) => [String(m.criterion_id), m.note]).sort(),
    [[ids[0], 'I listened actively and summarised the complaint.'],
      [ids[1], 'I explained what would happen next and by when.']].sort());

  // the evidence page previews the image
  const img = page.locator('img.evidence-preview');
  await img.waitFor();
  assert.ok(await img.evaluate((el) => el.complete && el.naturalWidth > 0), 'the image preview loads');
  await checkA11y(page, 'evidence page');
  await screenshot(page, 'evidence-show-draft');
  await Promise.all([
    page.waitForURL(new RegExp(`/evidence/${id}(\\?done=\\w+)?$`)),
    page.click('button:has-text("Submit for assessment")'),
  ]);
  assert.match(await page.locator('.tag').first().innerText(), /Submitted/);
  await screenshot(page, 'evidence-show-submitted');

  await page.goto(srv.url + '/evidence');
  const row = page.locator('tr', {hasText: 'Calming an upset customer'});
  assert.match(await row.innerText(), /Submitted/);
  assert.match(await row.innerText(), /\b2\b/, 'two files, two criteria');
  await checkA11y(page, '/evidence');
  await screenshot(page, 'evidence-list');
  assert.equal(srv.sql(`SELECT status FROM evidence WHERE id = ${id}`), 'submitted');
});

test("the learner's assessor sees the evidence read-only, with previews", async () => {
  const staff = await launch();
  try {
    const {page} = staff;
    await signIn(page, srv.url, 'assessor@demo.test');
    const learner = srv.sql("SELECT id FROM users WHERE email = 'learner@demo.test'");
    const id = srv.sql(`SELECT max(id) FROM evidence WHERE learner_id = ${learner} AND status = 'submitted'`);
    await page.goto(`${srv.url}/learners/${learner}/evidence`);
    assert.match(await page.locator('h1').innerText(), /Evidence/);
    assert.ok(await page.locator(`a[href="/evidence/${id}"]`).count() >= 1);
    await checkA11y(page, 'staff list');
    await page.goto(`${srv.url}/evidence/${id}`);
    assert.equal(await page.locator('a:has-text("Edit")').count(), 0, 'no edit link for staff');
    assert.equal(await page.locator('button:has-text("Submit for assessment")').count(), 0);
    assert.ok(await page.locator('img.evidence-preview').count() >= 1);
    assert.equal(await page.locator(`a[href="/review/${id}"]`).count(), 1, 'a link to the review page');
    await checkA11y(page, 'staff view');
    await screenshot(page, 'evidence-show-assessor');
  } finally {
    await staff.close();
  }
});

test('drag and drop adds files, and a refused type is reported without leaving the page', async () => {
  const {page} = b;
  await page.goto(srv.url + '/evidence/new');
  await page.fill('#title', 'Dropped files');
  await page.selectOption('#kind', 'product');
  await page.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['%PDF-1.4\n%%EOF\n'], 'dropped.pdf', {type: 'application/pdf'}));
    dt.items.add(new File(['<html><body>hi</body></html>'], 'page.html', {type: 'text/html'}));
    const zone = document.querySelector('[data-dropzone]');
    zone.dispatchEvent(new DragEvent('dragover', {dataTransfer: dt, bubbles: true, cancelable: true}));
    zone.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
  });
  assert.equal(await page.locator('.upload-item').count(), 2);
  // a file over the limit (data-max-bytes, from --max-upload-mb) is refused before sending
  await page.evaluate(() => {
    const form = document.querySelector('[data-upload-form]');
    const limit = form.getAttribute('data-max-bytes');
    form.setAttribute('data-max-bytes', '20');
    const dt = new DataTransfer();
    dt.items.add(new File(['x'.repeat(100)], 'huge.txt', {type: 'text/plain'}));
    document.querySelector('[data-dropzone]').dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
    form.setAttribute('data-max-bytes', limit);
  });
  assert.equal(await page.locator('.upload-item').count(), 2, 'the big file is not listed');
  assert.match(await page.locator('[data-upload-summary]').innerText(), /huge\.txt is 100 bytes: the limit is 20 bytes/);
  await page.click('[data-upload-submit]');
  const summary = page.locator('[data-upload-summary]');
  await page.waitForFunction(() => /page\.html/.test(document.querySelector('[data-upload-summary]').textContent));
  await summary.waitFor({state: 'visible'});
  assert.match(await summary.innerText(), /page\.html.*not accepted/s);
  await screenshot(page, 'evidence-new-refused');
  assert.match(page.url(), /\/evidence\/new$/);
  // remove the bad one and send again
  await page.click('button[aria-label="Remove page.html"]');
  await Promise.all([
    page.waitForURL(/\/evidence\/\d+\/criteria(\?done=\w+)?$/),
    page.click('[data-upload-submit]'),
  ]);
});

test('without JavaScript the plain form uploads several files and maps criteria', async () => {
  const nojs = await launch({javaScriptEnabled: false});
  try {
    const {page} = nojs;
    await signIn(page, srv.url, 'learner2@demo.test');
    await page.goto(srv.url + '/evidence/new');
    await page.fill('#title', 'Witness statement from my manager');
    await page.selectOption('#kind', 'witness_testimony');
    await page.setInputFiles('#file', [
      {name: 'statement.pdf', mimeType: 'application/pdf', buffer: PDF},
      {name: 'photo.png', mimeType: 'image/png', buffer: PNG},
    ]);
    await Promise.all([
      page.waitForURL(/\/evidence\/\d+\/criteria(\?done=\w+)?$/),
      page.click('[data-upload-submit]'),
    ]);
    const id = Number(/\/evidence\/(\d+)\/criteria/.exec(page.url())[1]);
    assert.equal(Number(srv.sql(`SELECT count(*) FROM evidence_files WHERE evidence_id = ${id}`)), 2);
    const box = page.locator('input[type=checkbox][name=criterion]').first();
    const cid = await box.getAttribute('value');
    await box.check();
    await page.fill(`#note_${cid}`, 'My manager saw me do this every day.');
    await Promise.all([
      page.waitForURL(new RegExp(`/evidence/${id}(\\?done=\\w+)?$`)),
      page.click('button:has-text("Save mapping")'),
    ]);
    assert.equal(srv.sql(`SELECT note FROM evidence_criteria WHERE evidence_id = ${id}`),
      'My manager saw me do this every day.');
    await screenshot(page, 'evidence-show-pdf-nojs');
    // a server-side error re-renders the form with the summary
    await page.goto(srv.url + '/evidence/new');
    await page.selectOption('#kind', 'product');
    await page.click('[data-upload-submit]');
    await page.waitForSelector('.error-summary');
    assert.match(await page.locator('.error-summary').innerText(), /Enter a title/);
    await screenshot(page, 'evidence-new-errors');
  } finally {
    await nojs.close();
  }
});

test('the pages fit a 375px phone', async () => {
  const phone = await launch({width: 375, height: 800});
  try {
    const {page} = phone;
    await signIn(page, srv.url, 'learner@demo.test');
    for (const p of ['/evidence', '/evidence/new']) {
      await page.goto(srv.url + p);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${p} scrolls sideways by ${overflow}px`);
    }
    await screenshot(page, 'evidence-new-375');
    const id = srv.sql("SELECT max(e.id) FROM evidence e JOIN users u ON u.id = e.learner_id WHERE u.email = 'learner@demo.test'");
    await page.goto(`${srv.url}/evidence/${id}/criteria`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `mapping page scrolls sideways by ${overflow}px`);
    await screenshot(page, 'evidence-criteria-375');
  } finally {
    await phone.close();
  }
});

test('the evidence pages are valid HTML (Nu HTML Checker)', async (t) => {
  const c = await srv.login('learner@demo.test');
  const r = await c.upload('/api/v1/evidence', {title: 'Valid <HTML> & all', kind: 'product', description: 'line one\nline two'},
    [{name: 'p.png', data: PNG}, {name: 'd.pdf', data: PDF}, {name: 'n.txt', data: 'note\n'}]);
  assert.equal(r.status, 201, r.text);
  const id = r.json.id;
  const ids = srv.sqlRows(`SELECT c.id FROM criteria c JOIN units u ON u.id = c.unit_id JOIN enrolments e
    ON e.qualification_id = u.qualification_id JOIN users l ON l.id = e.learner_id
    WHERE l.email = 'learner@demo.test' ORDER BY c.id LIMIT 2`).map((x) => x.id);
  await c.put(`/api/v1/evidence/${id}/criteria`, {criteria: ids.map((x) => ({criterion_id: x, note: 'how <b>'}))});
  const docs = {};
  for (const p of ['/evidence', '/evidence/new', `/evidence/${id}`, `/evidence/${id}/edit`, `/evidence/${id}/criteria`,
    `/evidence/${id}/criteria?q=customer`]) {
    const g = await c.get(p);
    assert.equal(g.status, 200, p);
    docs[p] = g.text;
  }
  const bad = await c.upload('/evidence/new', {title: '', kind: 'product'}, []);
  assert.equal(bad.status, 400);
  docs['form-errors'] = bad.text;
  const v = htmlValidate(docs);
  if (!v.available) return t.skip('java or vnu-jar is not installed');
  assert.deepEqual(v.errors, [], formatHtmlErrors(v.errors));
});
