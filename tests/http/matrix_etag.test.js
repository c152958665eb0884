// tests/http/matrix_etag.test.js: the matrix page and its JSON carry an ETag built from the
// learner's data version (issue 22): a repeat view of an unchanged matrix is answered 304 with
// no body; every kind of change to the learner's portfolio gives a new tag (and a stale tag is
// never 304); different viewers never share a tag; a tag answers nothing the viewer may not see.
'use strict';

const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const {startServer, assertStatus} = require('./lib.js');

let srv, admin, assessor, assessor2, iqa, amy, ben;
let AMY, BEN, Q1;

before(async () => {
  srv = await startServer({demo: true});
  [admin, assessor, assessor2, iqa, amy, ben] = await Promise.all([
    srv.login('admin@demo.test'), srv.login('assessor@demo.test'), srv.login('assessor2@demo.test'),
    srv.login('iqa@demo.test'), srv.login('learner@demo.test'), srv.login('learner2@demo.test'),
  ]);
  const id = (email) => Number(srv.sql(`SELECT id FROM users WHERE email = '${email}'`));
  AMY = id('learner@demo.test');
  BEN = id('learner2@demo.test');
  Q1 = Number(srv.sql(`SELECT qualification_id FROM enrolments WHERE learner_id = ${AMY} ORDER BY id LIMIT 1`));
});

after(async () => {
  if (srv) await srv.stop();
});

const page = (who) => `/learners/${who}/matrix`;
const api = (who) => `/api/v1/learners/${who}/matrix`;

/* GET with an optional If-None-Match; returns the response. */
function get(client, url, etag, headers = {}) {
  return client.get(url, {headers: etag ? {'If-None-Match': etag, ...headers} : headers});
}

/* The current tag of url for client, checked to be answered 304 when sent back. */
async function tagOf(client, url) {
  const r = await get(client, url);
  assertStatus(r, 200, url);
  const tag = r.headers['etag'];
  assert.match(tag || '', /^W\/"[0-9a-f]+(-gz)?"$/, `${url}: an ETag`);
  assert.equal(r.headers['cache-control'], 'private, no-cache', `${url}: kept but revalidated`);
  const again = await get(client, url, tag);
  assertStatus(again, 304, `${url}: repeat view of an unchanged matrix`);
  assert.equal(again.body.length, 0, 'a 304 has no body');
  assert.equal(again.headers['etag'], tag, 'the 304 names the same tag');
  return tag;
}

test('a repeat view of an unchanged matrix (page and JSON) is 304 with no body', async () => {
  for (const url of [page(AMY), api(AMY), `${page(AMY)}?qualification_id=${Q1}`]) {
    const tag = await tagOf(amy, url);
    // a list of tags, one of them current, is 304 too (RFC 9110 13.1.2)
    assertStatus(await get(amy, url, `W/"0000", ${tag}`), 304, 'tag in a list');
    assertStatus(await get(amy, url, 'W/"0000"'), 200, 'another tag');
  }
  // the page and its JSON, and different query arguments, do not share a tag
  const t1 = await tagOf(amy, page(AMY)), t2 = await tagOf(amy, api(AMY));
  assert.match(t1, /-gz"$/, 'the test client takes gzip');
  const t3 = await tagOf(amy, `${page(AMY)}?qualification_id=${Q1}`);
  assert.equal(new Set([t1, t2, t3]).size, 3);
  assertStatus(await get(amy, api(AMY), t1), 200, 'the page tag does not answer the JSON');
  // nor do the gzip and plain representations
  const plain = await get(amy, api(AMY), null, {'Accept-Encoding': 'identity'});
  assertStatus(plain, 200);
  assert.notEqual(plain.headers['etag'], t2, 'identity and gzip tags differ');
  assertStatus(await get(amy, api(AMY), t2, {'Accept-Encoding': 'identity'}), 200, 'the gzip tag does not answer identity');
  // a 304 never goes out for other pages that carry no tag
  const other = await amy.get(`/learners/${AMY}/progress`);
  assert.equal(other.headers['cache-control'], 'no-store');
});

test('every kind of change to the portfolio gives a new tag; the stale one is never 304', async () => {
  let tags = [await tagOf(amy, api(AMY))];
  let pageTags = [await tagOf(assessor, page(AMY))];
  const changed = async (what) => {
    const stale = tags[tags.length - 1], stalePage = pageTags[pageTags.length - 1];
    const r = await get(amy, api(AMY), stale);
    assertStatus(r, 200, `${what}: the stale JSON tag is answered in full`);
    assert.ok(r.json && r.json.qualification, `${what}: a full body`);
    const p = await get(assessor, page(AMY), stalePage);
    assertStatus(p, 200, `${what}: the stale page tag is answered in full`);
    assert.match(p.text, /<table class="mx">/);
    const fresh = await tagOf(amy, api(AMY)), freshPage = await tagOf(assessor, page(AMY));
    assert.ok(!tags.includes(fresh), `${what}: a new JSON tag`);
    assert.ok(!pageTags.includes(freshPage), `${what}: a new page tag`);
    tags.push(fresh);
    pageTags.push(freshPage);
  };
  const prog = (await amy.get(`/api/v1/learners/${AMY}/progress`)).json.qualifications
    .find((q) => q.qualification_id === Q1);
  const crit = prog.units[0].criteria.slice(0, 2);

  // evidence added
  let r = await amy.upload('/api/v1/evidence', {title: 'ETag test', kind: 'product',
    description: 'For the ETag test', occurred_on: '2026-10-02'},
  [{name: 'notes.txt', type: 'text/plain', data: 'What I did, written up.\n'.repeat(10)}]);
  assertStatus(r, 201, 'upload');
  const ev = r.json.id;
  await changed('evidence added');
  // evidence edited (its title is a column heading)
  r = await amy.patch(`/api/v1/evidence/${ev}`, {title: 'ETag test, renamed'});
  assert.ok(r.status < 300, r.text);
  await changed('evidence edited');
  // repeat requests without If-None-Match may be answered from the server's kept gzip copy
  // (the first builds it): every one is the current page, the same bytes as a fresh build
  const built = await get(assessor, page(AMY), null, {'Accept-Encoding': 'identity'});
  for (let i = 0; i < 3; i++) {
    const again = await get(assessor, page(AMY), null, {'Accept-Encoding': 'gzip'});
    assertStatus(again, 200);
    assert.equal(again.headers['content-encoding'], 'gzip');
    assert.match(again.text, /ETag test, renamed/);
    assert.equal(again.text.replace(/name="form_token" value="[0-9a-f]+"/g, ''),
      built.text.replace(/name="form_token" value="[0-9a-f]+"/g, ''), 'kept copy = fresh build');
  }
  // mapped to criteria
  r = await amy.put(`/api/v1/evidence/${ev}/criteria`, {criteria: crit.map((c) => ({criterion_id: c.id, note: 'shows it'}))});
  assert.ok(r.status < 300, r.text);
  await changed('evidence mapped');
  // submitted
  r = await amy.post(`/api/v1/evidence/${ev}/submit`, {});
  assert.ok(r.status < 300, r.text);
  await changed('evidence submitted');
  // an assessment decision
  r = await assessor.post('/api/v1/decisions', {learner_id: AMY, criterion_id: crit[0].id, outcome: 'met',
    feedback: 'Shown clearly.', evidence_ids: [ev], declaration: true,
    vacsr: {valid: true, authentic: true, current: true, sufficient: true, reliable: true}});
  assertStatus(r, 201, 'decision');
  const decision = r.json.id;
  await changed('decision');
  // an IQA sample of that decision
  r = await iqa.post('/api/v1/iqa/samples', {decision_id: decision, outcome: 'agree'});
  assertStatus(r, 201, 'IQA sample');
  await changed('IQA sample');
  // the enrolment changed by an administrator
  const enrolment = Number(srv.sql(`SELECT id FROM enrolments WHERE learner_id = ${AMY} AND qualification_id = ${Q1}`));
  r = await admin.put(`/api/v1/enrolments/${enrolment}`, {planned_end_date: '2028-03-01'});
  assert.ok(r.status < 300, r.text);
  await changed('enrolment');
  // the structure of the qualification (a criterion's wording), which no learner's trail records
  srv.sql(`UPDATE criteria SET text = text || ' (revised)' WHERE id = ${crit[1].id}`);
  await changed('qualification structure');
  // the page carries the viewer's unread-notifications badge: a new notification moves the page tag
  const seen = await tagOf(assessor, page(AMY));
  const aid = Number(srv.sql("SELECT id FROM users WHERE email = 'assessor@demo.test'"));
  srv.sql(`INSERT INTO notifications (user_id, kind, subject, body, link, created_at)
    VALUES (${aid}, 'test', 'ETag test', 'A notification', '/', '2026-11-01T10:00:00Z')`);
  assertStatus(await get(assessor, page(AMY), seen), 200, 'a new unread notification: the page is sent again');
  assertStatus(await get(amy, api(AMY), tags[tags.length - 1]), 304, 'the JSON carries no badge');
  // and a change to another learner leaves this learner's tag alone
  const still = tags[tags.length - 1];
  r = await ben.upload('/api/v1/evidence', {title: 'Ben elsewhere', kind: 'product', description: 'Not Amy',
    occurred_on: '2026-10-03'}, [{name: 'b.txt', type: 'text/plain', data: 'Ben\'s own work.\n'.repeat(8)}]);
  assertStatus(r, 201);
  assertStatus(await get(amy, api(AMY), still), 304, 'another learner\'s change does not touch this tag');
});

test('viewers never share a tag, and a tag answers nothing the viewer may not see', async () => {
  const tags = new Map();
  for (const [who, c] of [['self', ben], ['assessor', assessor], ['iqa', iqa], ['admin', admin]]) {
    tags.set(who, await tagOf(c, page(BEN)));
  }
  assert.equal(new Set(tags.values()).size, tags.size, 'one tag per viewer');
  // another viewer's tag is answered in full
  assertStatus(await get(admin, page(BEN), tags.get('assessor')), 200, 'admin with the assessor\'s tag');
  assertStatus(await get(ben, page(BEN), tags.get('admin')), 200, 'the learner with the admin\'s tag');
  // someone who may not read the learner gets 404 whatever tag they send
  assertStatus(await get(amy, page(BEN), tags.get('self')), 404, 'another learner');
  assertStatus(await get(assessor2, api(BEN), tags.get('assessor')), 404, 'another assessor');
  // a new session of the same person is another viewer (its forms carry another CSRF token)
  const ben2 = await srv.login('learner2@demo.test');
  assertStatus(await get(ben2, page(BEN), tags.get('self')), 200, 'a new session');
  // signing out tells the browser to drop what it kept
  const out = await ben2.del('/api/v1/session');
  assert.ok(out.status < 400, out.text);
  assert.equal(out.headers['clear-site-data'], '"cache"');
});
