// tests/http/pressure.test.js: serving under pressure (issue 12): slow and hostile clients,
// over-long request heads, chunked bodies, byte ranges and unreadable multipart bodies.
// Each test reproduces one finding: it failed before the fix.
'use strict';
const {test, before, after, describe} = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const zlib = require('node:zlib');
const {startServer, assertStatus, rawRequest} = require('./lib.js');

let srv;
before(async () => {
  srv = await startServer({demo: true, args: ['--connection-memory-kb', '1024', '--header-timeout', '2',
    '--per-address-connections', '16']});
});
after(() => srv && srv.stop());

/* Sends raw bytes on a new connection (from localAddress when given) and resolves
 * {ms, status, text} once the server closes or answers and closes, or {ms: 'timeout'}. */
function raw(payload, {ms = 8000, localAddress} = {}) {
  return new Promise((resolve) => {
    const s = net.connect({port: srv.port, host: '127.0.0.1', localAddress});
    let buf = '';
    const t0 = Date.now();
    let done = false;
    const finish = (v) => { if (!done) { done = true; clearTimeout(timer); s.destroy(); resolve(v); } };
    s.on('data', (d) => { buf += d; });
    s.on('close', () => finish({ms: Date.now() - t0, status: Number((/^HTTP\/1\.1 (\d+)/.exec(buf) || [])[1]) || 0, text: buf}));
    s.on('error', () => { /* close follows */ });
    s.write(payload);
    const timer = setTimeout(() => finish({ms: 'timeout', status: 0, text: buf}), ms);
  });
}

describe('request heads', () => {
  test('a 32 KB request line is answered 414 at once', async () => {
    const r = await raw(`GET /healthz?x=${'a'.repeat(32 * 1024)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.equal(r.status, 414, r.text.slice(0, 200));
    assert.ok(r.ms < 2000, `answered in ${r.ms} ms`);
  });

  test('500 query arguments are answered 414 at once (not after the idle timeout)', async () => {
    const q = Array.from({length: 500}, (_, i) => `a${i}=b`).join('&');
    const r = await raw(`GET /api/v1/me?${q} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.equal(r.status, 414, r.text.slice(0, 200));
    assert.ok(r.ms < 2000, `answered in ${r.ms} ms`);
    assert.match(r.text, /uri_too_long/);
  });

  test('too many header fields, or one huge one, are answered 431 at once', async () => {
    let h = '';
    for (let i = 0; i < 150; i++) h += `X-H${i}: v\r\n`;
    const many = await raw(`GET /healthz HTTP/1.1\r\nHost: x\r\n${h}Connection: close\r\n\r\n`);
    assert.equal(many.status, 431, many.text.slice(0, 200));
    const big = await raw(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(70000)}\r\nConnection: close\r\n\r\n`);
    assert.equal(big.status, 431, big.text.slice(0, 200));
    assert.ok(many.ms < 2000 && big.ms < 2000);
  });

  test('a chunked body with a 100 KB chunk extension gets a 4xx, not a 500', async () => {
    const r = await raw('POST /api/v1/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
      'Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n2;' + 'e'.repeat(100000) + '\r\n{}\r\n0\r\n\r\n');
    assert.ok(r.status >= 400 && r.status < 500, `got ${r.status}: ${r.text.slice(0, 200)}`);
  });

  test('the server still answers after all that', async () => {
    assertStatus(await srv.client().get('/healthz'), 200);
  });
});

describe('slow clients', () => {
  test('clients trickling header lines from two addresses neither starve a third nor keep their connections', async () => {
    const socks = [];
    let closed = 0;
    const opened = Date.now();
    for (const localAddress of ['127.0.0.2', '127.0.0.3']) {
      for (let i = 0; i < 60; i++) { /* far above the per-address cap of 16 */
        const s = net.connect({port: srv.port, host: '127.0.0.1', localAddress});
        s.on('error', () => {});
        s.on('close', () => { closed++; s.closedAt = Date.now(); });
        s.on('connect', () => s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'));
        socks.push(s);
      }
    }
    /* one header line every 300 ms: an idle timeout would never fire */
    const drip = setInterval(() => { for (const s of socks) if (!s.destroyed) s.write(`X-Drip: ${Date.now()}\r\n`); }, 300);
    try {
      await new Promise((r) => setTimeout(r, 500));
      const times = [];
      for (let i = 0; i < 10; i++) {
        const t0 = Date.now();
        const r = await srv.client().get('/healthz', {timeoutMs: 5000});
        assertStatus(r, 200);
        times.push(Date.now() - t0);
      }
      assert.ok(Math.max(...times) < 1000, `a third client waited ${Math.max(...times)} ms`);
      /* the head deadline (2 s here) ends every trickler, however often it sends */
      await new Promise((r) => setTimeout(r, 4000));
      assert.equal(closed, socks.length, `${socks.length - closed} trickling connections still open after 4.5 s`);
      const held = socks.filter((s) => s.closedAt - opened > 1500).length;
      assert.ok(held <= 2 * 16, `${held} connections were held past 1.5 s (the cap is 16 per address)`);
    } finally {
      clearInterval(drip);
      for (const s of socks) s.destroy();
    }
    assertStatus(await srv.client().get('/healthz'), 200);
  });

  test('an idle kept-alive connection is closed after the head deadline, a busy one is not', async () => {
    const r = await new Promise((resolve) => {
      const s = net.connect({port: srv.port, host: '127.0.0.1'});
      let buf = '';
      const t0 = Date.now();
      s.on('data', (d) => { buf += d; });
      s.on('close', () => resolve({ms: Date.now() - t0, buf}));
      s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      setTimeout(() => s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'), 1000);
      setTimeout(() => s.destroy(), 8000);
    });
    assert.equal((r.buf.match(/HTTP\/1\.1 200/g) || []).length, 2, r.buf);
    assert.ok(r.ms > 2500 && r.ms < 6000, `closed after ${r.ms} ms`);
  });
});

describe('byte ranges (RFC 9110 14.2)', () => {
  let url;
  let data;
  before(async () => {
    const c = await srv.login('learner@demo.test');
    data = Buffer.from('0123456789abcdefghij');
    const r = await c.upload('/api/v1/evidence', {title: 'Ranges', kind: 'product'},
      [{name: 'r.txt', type: 'text/plain', data}]);
    assertStatus(r, 201);
    url = `/api/v1/evidence/${r.json.id}/files/${r.json.files[0].id}`;
    srv.learner = c;
  });

  test('an invalid range (last before first) is ignored: the whole file', async () => {
    for (const range of ['bytes=3-2', 'bytes=5-1', 'bytes=x-1', 'bytes=1-y', 'bytes=-', 'items=0-1']) {
      const r = await srv.learner.get(url, {headers: {Range: range}});
      assertStatus(r, 200, range);
      assert.deepEqual(r.body, data, range);
    }
  });

  test('an unsatisfiable range is 416 with the size', async () => {
    for (const range of ['bytes=20-', 'bytes=25-30', 'bytes=-0']) {
      const r = await srv.learner.get(url, {headers: {Range: range}});
      assertStatus(r, 416, range);
      assert.equal(r.headers['content-range'], `bytes */${data.length}`);
    }
  });

  test('a range past the end is cut to the end', async () => {
    const r = await srv.learner.get(url, {headers: {Range: 'bytes=15-99'}});
    assertStatus(r, 206);
    assert.deepEqual(r.body, data.subarray(15));
  });
});

describe('unreadable multipart bodies', () => {
  test('every upload route answers 400 and stores nothing', async () => {
    const learner = await srv.login('learner@demo.test');
    const admin = await srv.login('admin@demo.test');
    const made = await learner.upload('/api/v1/evidence', {title: 'Target', kind: 'product'},
      [{name: 'a.txt', type: 'text/plain', data: 'Notes from the observation.\n'}]);
    assertStatus(made, 201);
    const id = made.json.id;
    const before = Number(srv.sql('SELECT COUNT(*) FROM evidence_files'));
    const bodies = [
      {body: 'this is not multipart at all', contentType: 'multipart/form-data; boundary=XYZ'},
      {body: '--WRONG\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nabc\r\n--WRONG--\r\n',
        contentType: 'multipart/form-data; boundary=RIGHT'},
    ];
    const routes = [[learner, 'POST', '/api/v1/evidence'], [learner, 'PATCH', `/api/v1/evidence/${id}`],
      [learner, 'POST', `/api/v1/evidence/${id}/files`], [learner, 'POST', '/evidence/new'],
      [learner, 'POST', `/evidence/${id}/edit`], [admin, 'POST', '/api/v1/specs'], [admin, 'POST', '/admin/specs']];
    for (const [c, method, p] of routes) {
      for (const b of bodies) {
        const r = await c.request(method, p, b);
        assertStatus(r, 400, `${method} ${p}`);
      }
    }
    assert.equal(Number(srv.sql('SELECT COUNT(*) FROM evidence_files')), before, 'nothing stored');
  });
});

describe('not yours answers like not there', () => {
  test("another learner's decision, progress, matrix, timeline, sign-offs, samples: 404 with the body of a missing id", async () => {
    const learner = await srv.login('learner@demo.test'); /* learner2 (id 7) is someone else */
    const l2 = Number(srv.sql("SELECT id FROM users WHERE email = 'learner2@demo.test'"));
    const dec = Number(srv.sql(`SELECT id FROM decisions WHERE learner_id = ${l2} LIMIT 1`));
    const unit = Number(srv.sql(`SELECT un.id FROM units un JOIN enrolments e ON e.qualification_id = un.qualification_id WHERE e.learner_id = ${l2} LIMIT 1`));
    const pairs = [
      [`/api/v1/decisions/${dec}`, '/api/v1/decisions/999999'],
      [`/api/v1/learners/${l2}/progress`, '/api/v1/learners/999999/progress'],
      [`/api/v1/learners/${l2}/matrix`, '/api/v1/learners/999999/matrix'],
      [`/api/v1/learners/${l2}/timeline`, '/api/v1/learners/999999/timeline'],
      [`/api/v1/learners/${l2}/signoffs`, '/api/v1/learners/999999/signoffs'],
      [`/api/v1/learners/${l2}/decisions`, '/api/v1/learners/999999/decisions'],
      [`/api/v1/learners/${l2}/units/${unit}/signoff`, `/api/v1/learners/999999/units/${unit}/signoff`],
      [`/api/v1/iqa/samples?decision_id=${dec}`, '/api/v1/iqa/samples?decision_id=999999'],
    ];
    for (const [mine, none] of pairs) {
      const a = await learner.get(mine);
      const b = await learner.get(none);
      assertStatus(a, 404, mine);
      assert.equal(b.status, 404, none);
      assert.deepEqual(a.json, b.json, `${mine} and ${none} answer alike`);
    }
    const a = await learner.post(`/api/v1/decisions/${dec}/countersign`, {comment: 'x'});
    const b = await learner.post('/api/v1/decisions/999999/countersign', {comment: 'x'});
    assertStatus(a, 404);
    assert.deepEqual(a.json, b.json);
    /* the pages too */
    const pa = await learner.get(`/learners/${l2}/progress`);
    const pb = await learner.get('/learners/999999/progress');
    assert.equal(pa.status, 404);
    assert.equal(pb.status, 404);
  });

  test("a review, an export, a sample's response of a learner who is not yours: 404 like a missing id", async () => {
    const other = await srv.login('assessor2@demo.test'); /* not learner2's assessor */
    const l2 = Number(srv.sql("SELECT id FROM users WHERE email = 'learner2@demo.test'"));
    const ev = Number(srv.sql(`SELECT id FROM evidence WHERE learner_id = ${l2} AND status <> 'draft' LIMIT 1`));
    const sample = Number(srv.sql(`SELECT s.id FROM iqa_samples s JOIN decisions d ON d.id = s.decision_id WHERE d.learner_id = ${l2} LIMIT 1`));
    for (const [mine, none] of [[`/api/v1/reviews/${ev}`, '/api/v1/reviews/999999'],
      [`/api/v1/learners/${l2}/export`, '/api/v1/learners/999999/export'],
      [`/api/v1/evidence/${ev}`, '/api/v1/evidence/999999']]) {
      const a = await other.get(mine);
      const b = await other.get(none);
      assertStatus(a, 404, mine);
      assert.equal(b.status, 404);
      assert.deepEqual(a.json.error.code, b.json.error.code);
      assert.deepEqual(a.json.error.message.replace(/\d+/g, 'N'), b.json.error.message.replace(/\d+/g, 'N'), mine);
    }
    if (sample) {
      const a = await other.post(`/api/v1/iqa/samples/${sample}/response`, {response: 'x'});
      const b = await other.post('/api/v1/iqa/samples/999999/response', {response: 'x'});
      assertStatus(a, 404);
      assert.deepEqual(a.json, b.json);
    }
  });
});

describe('CSRF and passwords', () => {
  test('the CSRF token is never taken from the query string', async () => {
    const admin = await srv.login('admin@demo.test');
    const fields = {email: 'csrfq@demo.test', name: 'Q', role: 'learner', password: 'a long password'};
    let r = await admin.request('POST', `/admin/users?csrf_token=${admin.csrf}`, {form: fields, csrf: false});
    assertStatus(r, 403);
    r = await admin.request('POST', `/api/v1/users?csrf_token=${admin.csrf}`, {json: fields, csrf: false});
    assertStatus(r, 403);
    assert.equal(r.json.error.code, 'csrf_failed');
    assert.equal(srv.sql("SELECT count(*) FROM users WHERE email = 'csrfq@demo.test'"), '0');
    /* a form body field still works */
    r = await admin.postForm('/admin/users', fields);
    assert.equal(r.status, 303, r.text.slice(0, 300));
  });

  test('passwords of only spaces are refused on create, reset and change', async () => {
    const admin = await srv.login('admin@demo.test');
    const spaces = ' '.repeat(16);
    let r = await admin.post('/api/v1/users', {email: 'spaces@demo.test', name: 'S', role: 'learner', password: spaces});
    assertStatus(r, 400);
    assert.match(r.text, /other than spaces/);
    assert.equal(srv.sql("SELECT count(*) FROM users WHERE email = 'spaces@demo.test'"), '0');
    const id = Number(srv.sql("SELECT id FROM users WHERE email = 'learner3@demo.test'"));
    r = await admin.post(`/api/v1/users/${id}/password`, {password: '\t \t \t \t \t \t '});
    assertStatus(r, 400);
    assert.match(r.text, /other than spaces/);
    const me = await srv.login('learner3@demo.test');
    r = await me.post('/api/v1/me/password', {current_password: 'evitrack-demo', new_password: spaces,
      confirm_password: spaces});
    assertStatus(r, 400);
    assert.match(r.text, /other than spaces/);
    await srv.login('learner3@demo.test'); /* the old password still works */
  });

  test('a learner cannot lock their assessor out, and admins see throttling in the audit log', async () => {
    const assessor = await srv.login('assessor@demo.test'); /* 127.0.0.1 is now a known address */
    assert.ok(assessor.csrf);
    /* 40 failures for the assessor from other addresses (a learner's phone, a botnet) */
    srv.sql("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40) " +
      `INSERT INTO login_failures (email, addr, at) SELECT 'assessor@demo.test', '198.51.100.' || i, ${Math.floor(Date.now() / 1000)} FROM n`);
    const c = srv.client();
    const r = await c.post('/api/v1/session', {email: 'assessor@demo.test', password: 'evitrack-demo'});
    assertStatus(r, 200, 'the owner at a known address gets in');
    /* a learner guessing from here is slowed down, then the owner's address still works */
    for (let i = 0; i < 4; i++) await c.post('/api/v1/session', {email: 'iqa@demo.test', password: 'guess ' + i});
    srv.sql(`UPDATE login_failures SET at = ${Math.floor(Date.now() / 1000)} WHERE email = 'iqa@demo.test'`);
    const t = await c.post('/api/v1/session', {email: 'iqa@demo.test', password: 'guess 5'});
    assertStatus(t, 429);
    const admin = await srv.login('admin@demo.test');
    const a = await admin.get('/api/v1/audit?action=session.login_throttled');
    assertStatus(a, 200);
    const items = a.json.items || a.json.events || [];
    assert.ok(items.length >= 1, JSON.stringify(a.json).slice(0, 300));
    srv.sql('DELETE FROM login_failures');
  });
});

describe('compression', () => {
  const withText = (r) => ({...r, text: r.headers['content-encoding'] ? '(gzip)' : r.body.toString('utf8')});
  const get = async (c, p, ae) => withText(await rawRequest(srv.url + p, 'GET',
    {...(ae ? {'Accept-Encoding': ae} : {}), ...(c ? {Cookie: c.cookieHeader()} : {})}, undefined, 10000));

  test('pages and JSON over 1 KB are gzip\'d when the client takes it, with Vary', async () => {
    const c = await srv.login('assessor@demo.test');
    const l = Number(srv.sql("SELECT id FROM users WHERE email = 'learner2@demo.test'"));
    for (const p of [`/learners/${l}/matrix`, `/api/v1/learners/${l}/matrix`]) {
      const plain = await get(c, p, null);
      const gz = await get(c, p, 'gzip, deflate, br');
      assertStatus(plain, 200, p);
      assertStatus(gz, 200, p);
      assert.ok(plain.body.length > 1024, `${p} is ${plain.body.length} bytes`);
      assert.equal(plain.headers['content-encoding'], undefined);
      assert.equal(gz.headers['content-encoding'], 'gzip', p);
      assert.match(gz.headers.vary || '', /Accept-Encoding/);
      assert.match(plain.headers.vary || '', /Accept-Encoding/);
      const text = zlib.gunzipSync(gz.body).toString('utf8');
      /* the same document (the page's CSRF token is the same within a session) */
      assert.equal(text, plain.body.toString('utf8'));
      assert.ok(gz.body.length * 3 < plain.body.length, `${p}: ${plain.body.length} -> ${gz.body.length} bytes`);
      const refused = await get(c, p, 'gzip;q=0, identity');
      assert.equal(refused.headers['content-encoding'], undefined, 'q=0 refuses gzip');
    }
    const small = await get(c, '/healthz', 'gzip');
    assert.equal(small.headers['content-encoding'], undefined, 'short answers go plain');
  });

  test('static files are served precompressed, with their own ETag', async () => {
    const plain = await get(null, '/static/app.css', null);
    const gz = await get(null, '/static/app.css', 'gzip');
    assertStatus(plain, 200);
    assertStatus(gz, 200);
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.deepEqual(zlib.gunzipSync(gz.body), plain.body);
    assert.notEqual(gz.headers.etag, plain.headers.etag);
    const again = await rawRequest(srv.url + '/static/app.css', 'GET', {'Accept-Encoding': 'gzip', 'If-None-Match': gz.headers.etag}, undefined, 10000);
    assert.equal(again.status, 304);
    assert.match(srv.stderr, /static: \d+ files? precompressed/);
  });
});
