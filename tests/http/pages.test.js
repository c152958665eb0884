// tests/http/pages.test.js: what people read on pages (issue 13): local times (Europe/London by
// default, serve --timezone), ages as whole phrases, confirmation banners after actions, a
// one-time form token against double posts, deleting evidence asks first, the "what to do
// next" panels, counts per enrolment, plurals, the enrolment form's start date, and files as
// learners really have them (../shared/evidence-examples): emails accepted, long names keep
// their extension, refusals say what to do.
'use strict';
const {test, before, after, describe} = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const {spawnSync} = require('node:child_process');
const path = require('node:path');
const {startServer, assertStatus} = require('./lib.js');

const EXAMPLES = path.join(process.env.SHARED_DIR || path.join(__dirname, '..', '..', '..', 'shared'),
  'evidence-examples');

let srv;
let learner;
let learnerId;
before(async () => {
  srv = await startServer({demo: true});
  learner = await srv.login('learner@demo.test');
  learnerId = (await learner.get('/api/v1/me')).json.user.id;
});
after(async () => { if (srv) await srv.stop(); });

/* The learner's first enrolled qualification's first n criteria. */
async function criteriaOf(c, n = 1, which = 0) {
  const me = (await c.get('/api/v1/me')).json;
  const enrolments = me.enrolments || me.user.enrolments;
  const qid = enrolments[which].qualification_id || enrolments[which].qualification.id;
  const q = (await c.get(`/api/v1/qualifications/${qid}`)).json;
  const out = [];
  for (const u of q.units) for (const o of u.outcomes) for (const cr of o.criteria) out.push(cr);
  return out.slice(0, n);
}

/* Fresh evidence for the learner, mapped and submitted; its id. */
async function submitted(c, title, crits) {
  const r = await c.upload('/api/v1/evidence', {title, kind: 'product'}, [{name: 'note.txt', data: `${title}\n`}]);
  assertStatus(r, 201, 'create');
  const id = r.json.id;
  assertStatus(await c.put(`/api/v1/evidence/${id}/criteria`,
    {criteria: crits.map((x) => ({criterion_id: x.id, note: 'shown at work'}))}), 200, 'map');
  const s = await c.post(`/api/v1/evidence/${id}/submit`, {});
  assert.ok(s.status < 300, s.text);
  return id;
}

function banner(html) {
  const m = /<div class="notification-banner[^"]*" role="alert"[\s\S]*?<p class="notification-banner__heading">([^<]*)<\/p>/.exec(html);
  return m ? m[1] : null;
}

describe('times', () => {
  test('pages show UK local time (BST in summer, GMT in winter); the API keeps ISO 8601 UTC', async () => {
    const r = await learner.upload('/api/v1/evidence', {title: 'Summer time', kind: 'product'},
      [{name: 'a.txt', data: 'a\n'}]);
    assertStatus(r, 201);
    const id = r.json.id;
    srv.sql(`UPDATE evidence SET created_at = '2026-07-01T23:30:00Z' WHERE id = ${id}`);
    const page = await learner.get(`/evidence/${id}`);
    assertStatus(page, 200);
    assert.match(page.text, /<time datetime="2026-07-01T23:30:00Z">2 Jul 2026, 00:30<\/time>/);
    assert.doesNotMatch(page.text, />2026-07-01T23:30:00Z</);
    const api = await learner.get(`/api/v1/evidence/${id}`);
    assert.equal(api.json.created_at, '2026-07-01T23:30:00Z');
    assert.equal(api.json.created_at_text, undefined, 'the API has no page-only text');
    srv.sql(`UPDATE evidence SET created_at = '2026-12-01T23:30:00Z' WHERE id = ${id}`);
    assert.match((await learner.get(`/evidence/${id}`)).text, />1 Dec 2026, 23:30<\/time>/);
  });

  test('an exported portfolio shows local times, keeping the ISO value in datetime', async () => {
    const out = path.join(srv.dir, 'portfolio-times.zip');
    const r = await srv.run(['export', '--learner', 'learner2@demo.test', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    const html = spawnSync('unzip', ['-p', out, 'index.html'], {encoding: 'utf8', maxBuffer: 64 << 20}).stdout;
    assert.match(html, /<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ">\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d<\/time>/);
    assert.doesNotMatch(html, />\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ</, 'no bare ISO time shown');
  });

  test('serve --timezone changes the zone; a zone that does not exist is refused', async () => {
    const utc = await startServer({demo: true, args: ['--timezone', 'America/New_York']});
    try {
      const c = await utc.login('learner@demo.test');
      const r = await c.upload('/api/v1/evidence', {title: 'Zone', kind: 'product'}, [{name: 'a.txt', data: 'a\n'}]);
      utc.sql(`UPDATE evidence SET created_at = '2026-11-29T14:05:00Z' WHERE id = ${r.json.id}`);
      assert.match((await c.get(`/evidence/${r.json.id}`)).text, />29 Nov 2026, 09:05<\/time>/);
    } finally {
      await utc.stop();
    }
    const bad = await srv.run(['serve', '--timezone', 'Mars/Olympus_Mons', '--port', '0']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /timezone/);
  });

  test('ages read as whole phrases: "just now", "N days ago", never "just now ago"', async () => {
    const crits = await criteriaOf(learner, 1);
    const id = await submitted(learner, 'Fresh for the queue', crits);
    const assessor = await srv.login('assessor@demo.test');
    const q = await assessor.get('/queue');
    assertStatus(q, 200);
    assert.doesNotMatch(q.text, /just now ago|ago ago/);
    assert.match(q.text, />just now<\/time>/);
    srv.sql(`UPDATE evidence SET submitted_at = '2020-01-01T00:00:00Z' WHERE id = ${id}`);
    const review = await assessor.get(`/review/${id}`);
    assert.match(review.text, /\(\d+ days ago\)/);
    assert.doesNotMatch(review.text, /ago ago|just now ago/);
  });
});

describe('confirmations', () => {
  test('every finished action shows a banner; unknown codes show nothing', async () => {
    const crits = await criteriaOf(learner, 1);
    const made = await learner.upload('/evidence/new', {title: 'Banner evidence', kind: 'product',
      form_token: 'a'.repeat(32)}, [{name: 'n.txt', data: 'n\n'}]);
    assertStatus(made, 303);
    assert.match(made.headers.location, /\?done=evidence_added$/);
    assert.match(banner((await learner.get(made.headers.location)).text), /evidence has been added/);
    const id = Number(/\/evidence\/(\d+)/.exec(made.headers.location)[1]);
    const mapped = await learner.postForm(`/evidence/${id}/criteria`, {mapping: '1', criterion: String(crits[0].id),
      [`note_${crits[0].id}`]: 'how'});
    assertStatus(mapped, 303);
    assert.match(banner((await learner.get(mapped.headers.location)).text), /criteria .* have been saved/);
    const sub = await learner.postForm(`/evidence/${id}/submit`, {});
    assertStatus(sub, 303);
    assert.match(banner((await learner.get(sub.headers.location)).text), /sent to your assessor/);
    const assessor = await srv.login('assessor@demo.test');
    const rev = await assessor.postForm(`/review/${id}`, {[`outcome_${crits[0].id}`]: 'met',
      vacsr_valid: 'on', vacsr_authentic: 'on', vacsr_current: 'on', vacsr_sufficient: 'on', vacsr_reliable: 'on',
      declaration: 'on'});
    assertStatus(rev, 303);
    assert.match(banner((await assessor.get(rev.headers.location)).text), /decisions have been recorded/);
    const dec = srv.sql(`SELECT max(id) FROM decisions WHERE learner_id = ${learnerId}`);
    const cs = await learner.postForm(`/decisions/${dec}/countersign`, {comment: 'Thanks'});
    assertStatus(cs, 303);
    assert.match(banner((await learner.get(cs.headers.location)).text), /countersigned/);
    const iqa = await srv.login('iqa@demo.test');
    const sm = await iqa.postForm('/iqa/samples', {decision_id: dec, outcome: 'agree', feedback: 'Sound.'});
    assertStatus(sm, 303);
    assert.match(banner((await iqa.get(sm.headers.location)).text), /sample has been recorded/);
    assert.equal(banner((await learner.get('/evidence?done=%3Cscript%3E')).text), null);
    assert.equal(banner((await learner.get('/evidence')).text), null);
  });

  test('deleting evidence asks first on its own page; the answer deletes and confirms', async () => {
    const r = await learner.upload('/api/v1/evidence', {title: 'To delete', kind: 'product'}, [{name: 'd.txt', data: 'd\n'}]);
    const id = r.json.id;
    const show = await learner.get(`/evidence/${id}`);
    assert.match(show.text, new RegExp(`<a class="link-warning" href="/evidence/${id}/delete">`));
    assert.doesNotMatch(show.text, new RegExp(`<form method="post" action="/evidence/${id}/delete"`));
    const ask = await learner.get(`/evidence/${id}/delete`);
    assertStatus(ask, 200);
    assert.match(ask.text, /Are you sure you want to delete this evidence\?/);
    assert.match(ask.text, /1 file/);
    assertStatus(await learner.get(`/api/v1/evidence/${id}`), 200, 'still there after asking');
    const del = await learner.postForm(`/evidence/${id}/delete`, {});
    assertStatus(del, 303);
    assert.match(banner((await learner.get(del.headers.location)).text), /has been deleted/);
    assertStatus(await learner.get(`/api/v1/evidence/${id}`), 404);
    const other = await srv.login('learner2@demo.test');
    assert.ok([403, 404].includes((await other.get(`/evidence/${srv.sql(
      `SELECT min(id) FROM evidence WHERE learner_id = ${learnerId}`)}/delete`)).status));
  });

  test('a form posted twice with its one-time token creates one piece of evidence', async () => {
    const token = 'b'.repeat(32);
    const n0 = Number(srv.sql(`SELECT count(*) FROM evidence WHERE learner_id = ${learnerId}`));
    const fields = {title: 'Double click', kind: 'observation', form_token: token};
    const [a, b] = await Promise.all([
      learner.upload('/evidence/new', fields, [{name: 'x.txt', data: 'x\n'}]),
      learner.upload('/evidence/new', fields, [{name: 'x.txt', data: 'x\n'}]),
    ]);
    assertStatus(a, 303);
    assertStatus(b, 303);
    assert.equal(a.headers.location, b.headers.location, 'the repeat goes where the first went');
    const c = await learner.upload('/evidence/new', fields, [{name: 'x.txt', data: 'x\n'}]);
    assertStatus(c, 303);
    assert.equal(c.headers.location, a.headers.location);
    assert.equal(Number(srv.sql(`SELECT count(*) FROM evidence WHERE learner_id = ${learnerId}`)), n0 + 1);
    // A new token (a new page load) creates again; a form with an error frees its token.
    const bad = await learner.upload('/evidence/new', {title: '', kind: 'observation', form_token: 'c'.repeat(32)},
      [{name: 'x.txt', data: 'x\n'}]);
    assertStatus(bad, 400);
    const good = await learner.upload('/evidence/new', {title: 'Fixed', kind: 'observation', form_token: 'c'.repeat(32)},
      [{name: 'x.txt', data: 'x\n'}]);
    assertStatus(good, 303);
    assert.equal(Number(srv.sql(`SELECT count(*) FROM evidence WHERE learner_id = ${learnerId}`)), n0 + 2);
    // Another user's copy of the token is a different form.
    const other = await srv.login('learner2@demo.test');
    assertStatus(await other.upload('/evidence/new', fields, [{name: 'x.txt', data: 'x\n'}]), 303);
    // The page carries a fresh token each time.
    const t1 = /name="form_token" value="([0-9a-f]{32})"/.exec((await learner.get('/evidence/new')).text);
    const t2 = /name="form_token" value="([0-9a-f]{32})"/.exec((await learner.get('/evidence/new')).text);
    assert.ok(t1 && t2 && t1[1] !== t2[1]);
  });
});

describe('next steps and counts', () => {
  test('each role home leads with what to do next', async () => {
    const home = await learner.get('/portfolio');
    assert.match(home.text, /What to do next/);
    assert.match(home.text, /decisions? from your assessor to read and countersign|criteri(on|a) with no evidence yet/);
    const assessor = await srv.login('assessor@demo.test');
    assert.match((await assessor.get('/caseload')).text, /What to do next[\s\S]*to assess/);
    const iqa = await srv.login('iqa@demo.test');
    assert.match((await iqa.get('/iqa')).text, /What to do next[\s\S]*not yet sampled/);
    const admin = await srv.login('admin@demo.test');
    const centre = await admin.get('/centre');
    assert.match(centre.text, /What to do next/);
    // the demo employer has an apprentice's off-the-job entries waiting to be verified
    const employer = await srv.login('employer@demo.test');
    // an entry queried by the employer is on the apprentice's list
    const apprentice = await srv.login('apprentice@demo.test');
    const aid = (await apprentice.get('/api/v1/me')).json.user.id;
    // the demo's one apprentice: the step leads straight to their hours
    assert.match((await employer.get('/employer')).text,
      new RegExp(`What to do next[\\s\\S]*<a href="/learners/${aid}/otj">\\d+ off-the-job (entry|entries) of your apprentices to verify`));
    // the apprentice's menu leads to their hours; other learners' menus do not
    assert.match((await apprentice.get('/portfolio')).text, new RegExp(`<a href="/learners/${aid}/otj">Off-the-job hours</a>`));
    assert.doesNotMatch((await learner.get('/portfolio')).text, /Off-the-job hours<\/a>/);
    assert.doesNotMatch((await apprentice.get('/portfolio')).text, /queried: read the question/);
    srv.sql(`UPDATE otj_entries SET status = 'queried' WHERE id = (SELECT min(id) FROM otj_entries WHERE learner_id = ${aid} AND status = 'pending')`);
    assert.match((await apprentice.get('/portfolio')).text, /What to do next[\s\S]*1 off-the-job entry queried: read the question/);
    // Only on the home page, and never in the API.
    assert.doesNotMatch((await learner.get('/evidence')).text, /What to do next/);
    assert.equal((await assessor.get('/api/v1/caseload')).json.next_steps, undefined);
  });

  test('the admin\'s counts (kept between requests) move as soon as something changes', async () => {
    const admin = await srv.login('admin@demo.test');
    const count = async () => {
      const m = /(\d+) learners? with no active enrolment/.exec((await admin.get('/centre')).text);
      return m ? Number(m[1]) : 0;
    };
    const before = await count();
    assert.equal(await count(), before, 'the same answer twice');
    const r = await admin.post('/api/v1/users', {email: `unenrolled${Date.now()}@demo.test`, name: 'Una Enrolled',
      role: 'learner', password: 'una learner password'});
    assertStatus(r, 201);
    assert.equal(await count(), before + 1, 'a new learner with no enrolment is counted at once');
  });

  test('a learner on two qualifications: awaiting evidence counted per enrolment, as the queue counts it', async () => {
    const l3 = await srv.login('learner3@demo.test');
    const l3id = (await l3.get('/api/v1/me')).json.user.id;
    const enrolled = srv.sql(`SELECT qualification_id FROM enrolments WHERE learner_id = ${l3id} ORDER BY id`)
      .split('\n').map(Number);
    if (enrolled.length < 2) {
      const other = Number(srv.sql(`SELECT min(id) FROM qualifications WHERE id <> ${enrolled[0]}`));
      const run = await srv.run(['enrol', '--learner', 'learner3@demo.test', '--qualification', String(other),
        '--assessor', 'assessor2@demo.test']);
      assert.equal(run.code, 0, run.stderr);
      enrolled.push(other);
    }
    const crits = await criteriaOf(l3, 1, 0);
    await submitted(l3, 'Only the first qualification', crits);
    const a2 = await srv.login('assessor2@demo.test');
    const rows = (await a2.get('/api/v1/caseload?per_page=100')).json.items.filter((i) => i.id === l3id);
    assert.equal(rows.length, enrolled.length);
    const count = (qid) => Number(srv.sql(`SELECT count(DISTINCT e.id) FROM evidence e JOIN evidence_criteria ec ON
      ec.evidence_id = e.id JOIN criteria c ON c.id = ec.criterion_id JOIN units u ON u.id = c.unit_id
      WHERE e.learner_id = ${l3id} AND e.status = 'submitted' AND u.qualification_id = ${qid}`));
    const all = Number(srv.sql(`SELECT count(*) FROM evidence WHERE learner_id = ${l3id} AND status = 'submitted'`));
    for (const row of rows) assert.equal(row.awaiting, count(row.qualification_id), `qualification ${row.qualification_id}`);
    assert.ok(rows.some((row) => row.awaiting < all), 'not every row counts all the learner\'s evidence');
    const sum = rows.reduce((n, row) => n + row.awaiting, 0);
    const queue = (await a2.get('/api/v1/queue?per_page=100')).json.items.filter((i) => i.learner_id === l3id).length;
    assert.ok(sum >= queue && rows.every((row) => row.awaiting <= queue));
  });

  test('plurals read right: "1 learner enrolment", "N files", "N items"', async () => {
    const a2 = await srv.login('assessor2@demo.test');
    const page = (await a2.get('/caseload')).text;
    const total = Number(srv.sql(`SELECT count(*) FROM enrolments WHERE assessor_id =
      (SELECT id FROM users WHERE email = 'assessor2@demo.test')`));
    assert.match(page, new RegExp(`${total}</span><span class="card__label">learner enrolment${total === 1 ? '' : 's'}<`));
    const q = (await (await srv.login('assessor@demo.test')).get('/queue')).text;
    assert.doesNotMatch(q, /file\(s\)|\(1 items\)/);
    assert.match(q, /\d+ files?</);
  });

  test('the enrolment form starts today, also on the 29th to the 31st', async () => {
    const admin = await srv.login('admin@demo.test');
    const page = (await admin.get('/admin/enrolments/new')).text;
    const m = /id="start_date"[^>]*value="(\d{4}-\d\d-\d\d)"|value="(\d{4}-\d\d-\d\d)"[^>]*id="start_date"/.exec(page);
    assert.ok(m, 'a start date field with a value');
    const today = new Intl.DateTimeFormat('en-CA', {timeZone: 'Europe/London'}).format(new Date());
    assert.equal(m[1] || m[2], today);
  });
});

describe('files learners really have', () => {
  const ex = (name) => fs.readFileSync(path.join(EXAMPLES, name));

  test('a saved email (.eml) and an Outlook message (.msg) are accepted as attachments', async () => {
    for (const [name, mime] of [['witness_email.eml', 'message/rfc822'],
      ['witness_email_outlook.msg', 'application/vnd.ms-outlook']]) {
      const r = await learner.upload('/api/v1/evidence', {title: name, kind: 'witness_testimony'},
        [{name, data: ex(name)}]);
      assertStatus(r, 201, name);
      assert.equal(r.json.files[0].mime, mime);
      const f = await learner.get(`/api/v1/evidence/${r.json.id}/files/${r.json.files[0].id}`);
      assertStatus(f, 200);
      assert.match(f.headers['content-disposition'], /^attachment/);
    }
  });

  test('a 230-character name is shortened to 200 bytes and keeps .docx', async () => {
    const long = 'Witness statement from my line manager about the customer complaint '.repeat(4).slice(0, 225) + '.docx';
    assert.equal(long.length, 230);
    const r = await learner.upload('/api/v1/evidence', {title: 'Long name', kind: 'witness_testimony'},
      [{name: long, data: ex('witness_statement.docx')}]);
    assertStatus(r, 201);
    const name = r.json.files[0].name;
    assert.ok(Buffer.byteLength(name) <= 200, name);
    assert.match(name, /\.docx$/);
    assert.ok(long.startsWith(name.slice(0, -5)));
  });

  test('a zip and an Apple Pages file are refused naming the file, why and what to do', async () => {
    for (const [name, advice] of [['site_photos.zip', /unzip it and upload the photos or documents inside/],
      ['Reflective account.pages', /Export To (>|&gt;) PDF/]]) {
      const r = await learner.upload('/evidence/new', {title: name, kind: 'product'}, [{name, data: ex(name)}]);
      assert.ok([400, 415].includes(r.status), `${name}: ${r.status}`);
      assert.ok(r.text.includes(`${name} was not added`), `${name} named`);
      assert.match(r.text, advice);
      const api = await learner.upload('/api/v1/evidence', {title: name, kind: 'product'}, [{name, data: ex(name)}]);
      assertStatus(api, 415);
      assert.match(api.json.error.message, new RegExp(name.replace(/[.]/g, '\\.')));
    }
  });
});
