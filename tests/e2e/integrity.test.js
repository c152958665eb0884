// tests/e2e/integrity.test.js: a decision stands on exactly what the assessor saw (issue 11),
// through the pages in headless Chromium (plain forms, no JavaScript). The assessor records
// "met" on one criterion and "not yet met" on another; the learner cannot remove the file
// the met decision was made on, and fixes the returned part by adding a file; the met
// decision's frozen files (name and SHA-256) are what the decision page, the review page and
// the portfolio export show, and the added file is not among them.
'use strict';
const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {spawnSync} = require('node:child_process');
const {startServer, launch, signIn, screenshot, axeCheck, formatViolations} = require('./lib.js');

let srv, b, L, crits, unit;
const ORIGINAL = 'Complaint log, week 40: each call, what I did and the outcome.\n'.repeat(12);
const ADDED = 'What I learned from the calls: listen first, then check the policy.\n';
const sha = (s) => crypto.createHash('sha256').update(s).digest('hex');

before(async () => {
  srv = await startServer({demo: true});
  b = await launch({javaScriptEnabled: false});
  L = Number(srv.sql("SELECT id FROM users WHERE email = 'learner2@demo.test'"));
  const A = Number(srv.sql("SELECT id FROM users WHERE email = 'assessor@demo.test'"));
  unit = srv.sqlRows(`SELECT u.id FROM units u JOIN enrolments e ON e.qualification_id = u.qualification_id
      WHERE e.learner_id = ${L} AND e.assessor_id = ${A} AND u.retired = 0
      AND NOT EXISTS (SELECT 1 FROM decisions d JOIN criteria c ON c.id = d.criterion_id
        WHERE c.unit_id = u.id AND d.learner_id = ${L})
      AND NOT EXISTS (SELECT 1 FROM evidence_criteria ec JOIN criteria c ON c.id = ec.criterion_id
        WHERE c.unit_id = u.id AND ec.learner_id = ${L})
      AND (SELECT count(*) FROM criteria c WHERE c.unit_id = u.id AND c.retired = 0) >= 2
      ORDER BY u.position, u.id LIMIT 1`)[0];
  assert.ok(unit, 'an untouched unit with 2+ criteria for learner2');
  crits = srv.sqlRows(`SELECT id, ref FROM criteria WHERE unit_id = ${unit.id} AND retired = 0
    ORDER BY position, id LIMIT 2`);
}, {timeout: 60000});

after(async () => {
  if (b) await b.close();
  if (srv) await srv.stop();
});

async function as(email) {
  await b.context.clearCookies();
  await signIn(b.page, srv.url, email);
}

/* Opens a page (this browser runs no JavaScript, so axe runs in its own browser below). */
async function go(p, name) {
  const resp = await b.page.goto(srv.url + p);
  assert.equal(resp.status(), 200, `${p}: HTTP ${resp.status()}`);
  if (name) await screenshot(b.page, `integrity-${name}`);
}

async function submit(button) {
  await Promise.all([b.page.waitForNavigation({waitUntil: 'load'}), button.click()]);
}

let ev, fileId, metId;

test('met on one criterion, not yet met on the other, made on the uploaded file', {timeout: 120000}, async () => {
  const page = b.page;
  await as('learner2@demo.test');
  await page.goto(srv.url + '/evidence/new');
  await page.fill('#title', 'Complaint log');
  await page.selectOption('#kind', 'product');
  await page.fill('#occurred_on', '2026-10-05');
  await page.fill('#description', 'The calls I handled in week 40.');
  await page.setInputFiles('#file', {name: 'complaint-log.txt', mimeType: 'text/plain', buffer: Buffer.from(ORIGINAL)});
  await submit(page.locator('form.evidence-form button[type="submit"]').first());
  ev = Number(/\/evidence\/(\d+)/.exec(page.url())[1]);
  fileId = Number(srv.sql(`SELECT id FROM evidence_files WHERE evidence_id = ${ev}`));
  await page.goto(srv.url + `/evidence/${ev}/criteria?unit=${unit.id}`);
  for (const c of crits) {
    await page.check(`input[type="checkbox"][name="criterion"][value="${c.id}"]`);
    await page.fill(`#note_${c.id}`, `The log shows ${c.ref}.`);
  }
  await submit(page.locator('form.criteria-form button[type="submit"]').first());
  await page.goto(srv.url + `/evidence/${ev}`);
  await submit(page.locator(`form[action="/evidence/${ev}/submit"] button`));

  await as('assessor@demo.test');
  await go(`/review/${ev}`, 'review-before');
  await page.check(`#outcome_${crits[0].id}-met`);
  await page.fill(`#feedback_${crits[0].id}`, 'The log shows each complaint resolved.');
  await page.check(`#outcome_${crits[1].id}-not-met`);
  await page.fill(`#feedback_${crits[1].id}`, 'Add what you learned from these calls.');
  for (const k of ['valid', 'authentic', 'current', 'sufficient', 'reliable']) await page.check(`#vacsr_${k}`);
  await page.check('#declaration');
  await submit(page.locator('button', {hasText: 'Sign and record decisions'}));
  assert.equal(srv.sql(`SELECT status FROM evidence WHERE id = ${ev}`), 'returned');
  metId = Number(srv.sql(`SELECT id FROM decisions WHERE learner_id = ${L} AND criterion_id = ${crits[0].id}
    AND outcome = 'met'`));
  assert.ok(metId > 0);
});

test('the learner cannot remove the met file, and fixes the returned part by adding a file', {timeout: 120000}, async () => {
  const page = b.page;
  await as('learner2@demo.test');
  await go(`/evidence/${ev}/edit`, 'edit-returned');
  await page.check(`#remove_file_${fileId}`);
  await submit(page.locator('form.evidence-form button[type="submit"]').first());
  assert.match(await page.locator('.error-summary').innerText(), /judged criterion .* met on these files|add files/i);
  await screenshot(page, 'integrity-remove-refused');
  assert.equal(Number(srv.sql(`SELECT count(*) FROM evidence_files WHERE id = ${fileId}`)), 1, 'the file stays');
  await page.goto(srv.url + `/evidence/${ev}/edit`);
  await page.setInputFiles('#file', {name: 'what-i-learned.txt', mimeType: 'text/plain', buffer: Buffer.from(ADDED)});
  await submit(page.locator('form.evidence-form button[type="submit"]').first());
  assert.equal(Number(srv.sql(`SELECT count(*) FROM evidence_files WHERE evidence_id = ${ev}`)), 2);
  await page.goto(srv.url + `/evidence/${ev}`);
  await submit(page.locator(`form[action="/evidence/${ev}/submit"] button`));
  assert.equal(srv.sql(`SELECT status FROM evidence WHERE id = ${ev}`), 'submitted');
});

test('the decision page, the review page and the export show the frozen file and its SHA-256', {timeout: 120000}, async () => {
  const page = b.page;
  await as('assessor@demo.test');
  await go(`/decisions/${metId}`, 'decision-frozen');
  const basis = await page.locator('.decision-basis').first().innerText();
  assert.ok(basis.includes(sha(ORIGINAL)), basis);
  assert.ok(basis.includes('complaint-log.txt'));
  assert.ok(!basis.includes(sha(ADDED)) && !basis.includes('what-i-learned.txt'), 'the added file is not the basis');
  await go(`/review/${ev}`, 'review-after');
  assert.ok((await page.content()).includes(sha(ORIGINAL)), 'the review page shows the met decision\'s file');
  // The export: index.html and the manifest carry the decision's frozen file.
  const resp = await page.request.get(srv.url + `/learners/${L}/export`);
  assert.equal(resp.status(), 200);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evitrack-e2e-export-'));
  fs.writeFileSync(path.join(dir, 'p.zip'), await resp.body());
  const u = spawnSync('unzip', ['-q', '-o', path.join(dir, 'p.zip'), '-d', dir], {encoding: 'utf8'});
  assert.equal(u.status, 0, u.stderr);
  assert.ok(fs.readFileSync(path.join(dir, 'index.html'), 'utf8').includes(sha(ORIGINAL)));
  const m = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  assert.deepEqual(m.decision_basis.filter((x) => x.decision_id === metId).map((x) => x.sha256), [sha(ORIGINAL)]);
  await page.goto('file://' + path.join(dir, 'index.html'));
  await screenshot(page, 'integrity-export');
  fs.rmSync(dir, {recursive: true, force: true});
});

test('the pages that show the frozen basis pass axe (WCAG 2.2 AA)', {timeout: 120000}, async () => {
  const jsb = await launch();
  try {
    await signIn(jsb.page, srv.url, 'assessor@demo.test');
    for (const p of [`/decisions/${metId}`, `/review/${ev}`, `/learners/${L}/decisions`]) {
      const resp = await jsb.page.goto(srv.url + p);
      assert.equal(resp.status(), 200, p);
      const v = await axeCheck(jsb.page);
      assert.deepEqual(v.map((x) => x.id), [], `${p}\n${formatViolations(v)}`);
    }
  } finally {
    await jsb.close();
  }
});
