// tests/e2e/witness.test.js: evidence the assessor and the witness write (issue 14), in
// Chromium with a fake microphone (--use-fake-device-for-media-stream
// --use-fake-ui-for-media-stream): an assessor records a professional discussion with audio
// (level meter, timer, stop, play back, upload with a progress bar), a group observation for
// two learners, and a witness completes testimony through the one-time link in a fresh
// browser; the learner acknowledges. Every page is checked with axe and, on a phone, for
// sideways scroll. Prints the audio bytes per minute and page timings it measured.
'use strict';
const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const {startServer, launch, signIn, screenshot, axeCheck, formatViolations} = require('./lib.js');

const MEDIA = ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'];
let srv, b, L, L2, crits;
const timings = {};

before(async () => {
  srv = await startServer({demo: true});
  b = await launch({args: MEDIA});
  L = Number(srv.sql("SELECT id FROM users WHERE email = 'learner@demo.test'"));
  L2 = Number(srv.sql("SELECT id FROM users WHERE email = 'learner2@demo.test'"));
  const A = Number(srv.sql("SELECT id FROM users WHERE email = 'assessor@demo.test'"));
  crits = {};
  for (const id of [L, L2]) {
    crits[id] = srv.sqlRows(`SELECT c.id, c.ref FROM criteria c JOIN units u ON u.id = c.unit_id JOIN enrolments e
      ON e.qualification_id = u.qualification_id WHERE e.learner_id = ${id} AND e.assessor_id = ${A}
      AND e.status = 'active' AND c.retired = 0 AND u.retired = 0
      AND NOT EXISTS (SELECT 1 FROM decisions d WHERE d.criterion_id = c.id AND d.learner_id = ${id})
      ORDER BY u.position, c.position, c.id LIMIT 3`);
  }
});
after(async () => {
  if (b) await b.close();
  if (srv) await srv.stop();
  for (const [k, v] of Object.entries(timings)) console.log(`# measured ${k}: ${v}`);
});

async function checkA11y(page, what) {
  const v = await axeCheck(page);
  assert.deepEqual(v.map((x) => x.id), [], `${what}\n${formatViolations(v)}`);
}

async function loadMs(page) {
  return page.evaluate(() => {
    const n = performance.getEntriesByType('navigation')[0];
    return Math.round(n.loadEventEnd - n.startTime);
  });
}

/* Opens a criterion's unit and ticks it with a note. */
async function tick(page, field, crit, note) {
  const box = page.locator(`input[name="${field}"][value="${crit.id}"]`);
  await box.evaluate((el) => { el.closest('details').open = true; });
  await box.check();
  const noteName = field === 'criterion' ? `note_${crit.id}` : `${field.replace(/^lc_/, 'ln_')}_${crit.id}`;
  await page.fill(`[name="${noteName}"]`, note);
}

test('an assessor records a professional discussion with audio, plays it back and uploads it', async () => {
  const {page} = b;
  await signIn(page, srv.url, 'assessor@demo.test');
  const resp = await page.goto(`${srv.url}/learners/${L}/records/new?kind=professional_discussion`);
  assert.match(resp.headers()['permissions-policy'], /microphone=\(self\)/);
  timings['discussion form load'] = `${await loadMs(page)} ms`;
  await page.waitForSelector('[data-recorder]:not([hidden])');
  await checkA11y(page, 'professional discussion form');
  await page.fill('#title', 'Discussion: handling complaints');
  await page.fill('#occurred_on', '2026-10-02');
  await page.fill('#question_1', 'How do you calm an upset customer?');
  await page.fill('#answer_1', 'Listen first, then apologise and offer options.');
  await page.fill('#body', 'The learner explained the complaints process clearly.');
  await tick(page, 'criterion', crits[L][0], 'Explained the process');
  // record 10 seconds from the fake microphone: the timer runs and the meter moves
  const seconds = 10;
  await page.click('[data-rec-start]');
  await page.waitForFunction(() => document.querySelector('[data-rec-status]').textContent === 'Recording…');
  let maxLevel = 0;
  const t0 = Date.now();
  while (Date.now() - t0 < seconds * 1000) {
    maxLevel = Math.max(maxLevel, await page.$eval('[data-rec-level]', (m) => m.value));
    await page.waitForTimeout(250);
  }
  const timerText = await page.textContent('[data-rec-timer]');
  await screenshot(page, 'witness-recording');
  await page.click('[data-rec-stop]');
  await page.waitForSelector('[data-rec-playback]:not([hidden])');
  assert.ok(maxLevel > 0, `the level meter moved (max ${maxLevel})`);
  assert.match(timerText, /^0:(09|10|11)$/, `timer ${timerText}`);
  // play back: the audio element loads the recording and plays
  const played = await page.$eval('[data-rec-playback]', async (a) => {
    a.muted = true;
    await a.play();
    await new Promise((r) => setTimeout(r, 500));
    return a.currentTime > 0;
  });
  assert.ok(played, 'the recording plays back');
  await checkA11y(page, 'recorder after stopping');
  // save: the recording goes up with the fields, with a progress bar
  const up0 = Date.now();
  await Promise.all([
    page.waitForURL(/\/evidence\/\d+\?done=record_saved$/),
    page.click('button[type=submit]:has-text("Save record")'),
  ]);
  timings['discussion save with the recording'] = `${Date.now() - up0} ms`;
  const id = Number(/\/evidence\/(\d+)/.exec(page.url())[1]);
  const f = srv.sqlRows(`SELECT name, size, mime FROM evidence_files WHERE evidence_id = ${id}`);
  assert.equal(f.length, 1);
  assert.match(f[0].name, /^discussion-\d+\.weba$/);
  assert.equal(f[0].mime, 'audio/webm', 'a sound-only recording is audio');
  assert.ok(f[0].size > 1000, `recording of ${f[0].size} bytes`);
  timings['audio upload size'] = `${f[0].size} bytes for ${seconds} s = ${Math.round(f[0].size * 60 / seconds / 1024)} KB per minute ` +
    `(${Math.round(f[0].size * 8 / seconds / 1000)} kbit/s, Chromium MediaRecorder Opus in WebM, fake device)`;
  const ev = srv.sqlRows(`SELECT kind, status, author_role FROM evidence WHERE id = ${id}`)[0];
  assert.deepEqual(ev, {kind: 'professional_discussion', status: 'submitted', author_role: 'assessor'});
  // libmagic names every WebM container video/webm; the recorder names its file .weba, so it plays as audio
  assert.equal(await page.locator('audio.evidence-preview').count(), 1, 'the evidence page plays the recording as audio');
  assert.match(await page.textContent('main'), /Written by/);
  await checkA11y(page, 'the discussion record');
  await screenshot(page, 'witness-discussion-saved');
});

test('an assessor records a group observation for two learners', async () => {
  const {page} = b;
  await signIn(page, srv.url, 'assessor@demo.test');
  await page.goto(`${srv.url}/group-observations/new`);
  await checkA11y(page, 'group: choose learners');
  await page.check(`#learner_${L}`);
  await page.check(`#learner_${L2}`);
  await Promise.all([page.waitForURL(/learner=/), page.click('button:has-text("Continue")')]);
  timings['group form load (two learners)'] = `${await loadMs(page)} ms`;
  await checkA11y(page, 'group form');
  await page.fill('#title', 'Team briefing');
  await page.fill('#occurred_on', '2026-10-06');
  await page.fill('#activity', 'Morning briefing before opening');
  await page.fill('#description', 'The team planned the day and shared out tasks.');
  await page.setInputFiles('#file', [{name: 'briefing-notes.txt', mimeType: 'text/plain',
    buffer: Buffer.from('Notes from the briefing\n')}]);
  await page.fill(`#lb_${L}`, 'Led the briefing');
  await tick(page, `lc_${L}`, crits[L][1], 'Led clearly');
  await page.fill(`#lb_${L2}`, 'Asked questions');
  await tick(page, `lc_${L2}`, crits[L2][1], 'Checked understanding');
  await screenshot(page, 'witness-group-form');
  await Promise.all([page.waitForURL(/\/group-observations\/\d+\?done=group_saved$/),
    page.click('button:has-text("Save group observation")')]);
  await checkA11y(page, 'group record');
  const gid = Number(/\/group-observations\/(\d+)/.exec(page.url())[1]);
  const items = srv.sqlRows(`SELECT learner_id, status FROM evidence WHERE group_id = ${gid} ORDER BY learner_id`);
  assert.deepEqual(items.map((i) => i.learner_id).sort(), [L, L2].sort());
  assert.ok(items.every((i) => i.status === 'submitted'));
  assert.equal(Number(srv.sql(`SELECT count(DISTINCT f.sha256) FROM evidence_files f JOIN evidence e
    ON e.id = f.evidence_id WHERE e.group_id = ${gid}`)), 1);
});

test('a witness completes testimony through the link in a fresh browser; the learner acknowledges', async () => {
  const {page} = b;
  await signIn(page, srv.url, 'learner@demo.test');
  await page.goto(`${srv.url}/learners/${L}/witness-requests/new`);
  await checkA11y(page, 'witness request form');
  await page.fill('#title', 'Opening the shop');
  await page.fill('#about', 'That I opened the shop on my own and cashed up correctly.');
  await page.fill('#witness_name', 'Pat Manager');
  await page.fill('#witness_job_title', 'Store manager');
  await page.fill('#witness_relationship', 'Line manager');
  await page.fill('#witness_email', 'pat@shop.example');
  const box = page.locator(`input[name="criterion"][value="${crits[L][2].id}"]`);
  await box.evaluate((el) => { el.closest('details').open = true; });
  await box.check();
  await Promise.all([page.waitForLoadState('load'), page.click('button:has-text("Send the request")')]);
  assert.match(await page.textContent('h1'), /Witness request sent/);
  await checkA11y(page, 'witness request sent');
  const link = await page.inputValue('[data-witness-link]');
  assert.match(link, /\/witness\?token=[0-9a-f]{64}$/);
  // the witness: a fresh browser with no session, on a phone
  const w = await launch({width: 375, height: 800});
  try {
    const t0 = Date.now();
    await w.page.goto(link);
    timings['witness page load'] = `${Date.now() - t0} ms (navigation ${await loadMs(w.page)} ms)`;
    assert.match(await w.page.textContent('main'), /That I opened the shop on my own/);
    await checkA11y(w.page, 'witness page');
    const sideways = await w.page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
    assert.equal(sideways, false, 'no sideways scroll at 375 px');
    await w.page.click('button:has-text("Send my testimony")');
    await w.page.waitForSelector('.error-summary');
    await checkA11y(w.page, 'witness page with errors');
    await w.page.fill('#testimony', 'I saw them open up alone and cash up to the penny.');
    await w.page.check('#confirm_competent');
    await w.page.check('#confirm_relationship');
    await Promise.all([w.page.waitForLoadState('load'), w.page.click('button:has-text("Send my testimony")')]);
    assert.match(await w.page.textContent('h1'), /Thank you, Pat Manager/);
    await screenshot(w.page, 'witness-thanks-375');
    // the link is used up
    await w.page.goto(link);
    assert.match(await w.page.textContent('h1'), /no longer works/);
  } finally {
    await w.close();
  }
  const eid = Number(srv.sql("SELECT evidence_id FROM witness_requests WHERE witness_email = 'pat@shop.example'"));
  await page.goto(`${srv.url}/evidence/${eid}`);
  const main = await page.textContent('main');
  assert.match(main, /Pat Manager \(Witness\)/);
  assert.match(main, /Store manager, Line manager/);
  await checkA11y(page, 'witness testimony as the learner sees it');
  await Promise.all([page.waitForURL(/done=acknowledged/), page.click('button:has-text("I have read this record")')]);
  assert.ok(srv.sql(`SELECT acknowledged_at FROM evidence WHERE id = ${eid}`));
});

test('without the microphone the plain file input takes a recording and the form posts as usual', async () => {
  const n = await launch({args: MEDIA});
  try {
    // the microphone refused (as when the user says no)
    await n.context.addInitScript(() => {
      navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('denied', 'NotAllowedError'));
    });
    await signIn(n.page, srv.url, 'assessor@demo.test');
    await n.page.goto(`${srv.url}/learners/${L}/records/new?kind=professional_discussion`);
    await n.page.click('[data-rec-start]');
    await n.page.waitForFunction(() => /not available/.test(document.querySelector('[data-rec-status]').textContent));
    await n.page.fill('#title', 'Discussion recorded on a phone');
    await n.page.fill('#occurred_on', '2026-10-03');
    await n.page.fill('#body', 'Summary of the discussion.');
    await tick(n.page, 'criterion', crits[L][2], 'Discussed');
    const wav = Buffer.alloc(44 + 8000);
    wav.write('RIFF', 0); wav.writeUInt32LE(36 + 8000, 4); wav.write('WAVEfmt ', 8); wav.writeUInt32LE(16, 16);
    wav.writeUInt16LE(1, 20); wav.writeUInt16LE(1, 22); wav.writeUInt32LE(8000, 24); wav.writeUInt32LE(8000, 28);
    wav.writeUInt16LE(1, 32); wav.writeUInt16LE(8, 34); wav.write('data', 36); wav.writeUInt32LE(8000, 40);
    await n.page.setInputFiles('#file', [{name: 'discussion.wav', mimeType: 'audio/wav', buffer: wav}]);
    await Promise.all([n.page.waitForURL(/\/evidence\/\d+\?done=record_saved$/), n.page.click('button:has-text("Save record")')]);
    const id = Number(/\/evidence\/(\d+)/.exec(n.page.url())[1]);
    assert.equal(srv.sql(`SELECT mime FROM evidence_files WHERE evidence_id = ${id}`), 'audio/wav');
    assert.equal(await n.page.locator('audio.evidence-preview').count(), 1);
  } finally {
    await n.close();
  }
});

test('the record, group and witness request forms fit a 375 px phone', async () => {
  const p = await launch({width: 375, height: 800, args: MEDIA});
  try {
    await signIn(p.page, srv.url, 'assessor@demo.test');
    for (const path of [`/learners/${L}/records/new?kind=professional_discussion`,
      `/learners/${L}/records/new?kind=question_and_answer`, `/group-observations/new?learner=${L}&learner=${L2}`,
      `/learners/${L}/witness-requests/new`, '/queue']) {
      await p.page.goto(srv.url + path);
      const wide = await p.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(wide <= 0, `${path} scrolls sideways by ${wide} px at 375 px`);
    }
    await screenshot(p.page, 'witness-queue-375');
  } finally {
    await p.close();
  }
});
