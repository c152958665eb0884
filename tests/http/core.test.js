// tests/http/core.test.js: the foundation over real sockets: health, errors as JSON and
// HTML, 405 with Allow, security headers, static files (types, ETag/304, no way out of
// static/), malformed requests, and a clean stop on SIGTERM.
'use strict';
const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const {startServer, assertStatus} = require('./lib.js');

let srv;
before(async () => { srv = await startServer(); });
after(() => srv && srv.stop());

/* Sends bytes exactly as given (fetch would normalise ../ and %2e%2e) and
 * resolves with {status, head, body} of the first response. */
function raw(port, request) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = Buffer.alloc(0);
    sock.setTimeout(5000, () => { sock.destroy(); reject(new Error('raw request timed out')); });
    sock.on('connect', () => sock.write(request));
    sock.on('data', (d) => { data = Buffer.concat([data, d]); });
    sock.on('error', reject);
    sock.on('close', () => {
      const text = data.toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      const split = text.indexOf('\r\n\r\n');
      resolve({status: m ? Number(m[1]) : 0, head: text.slice(0, split), body: text.slice(split + 4)});
    });
  });
}
const get = (p) => `GET ${p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`;

function assertSecurityHeaders(r) {
  const csp = r.headers['content-security-policy'] || '';
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.doesNotMatch(csp, /script-src[^;]*unsafe-inline/);
  assert.equal(r.headers['x-content-type-options'], 'nosniff');
  assert.ok(r.headers['referrer-policy'], 'Referrer-Policy is set');
  assert.equal(r.headers['x-frame-options'], 'DENY');
}

test('healthz checks the database and answers JSON with security headers', async () => {
  const r = await srv.client().get('/healthz');
  assertStatus(r, 200);
  assert.deepEqual(r.json, {status: 'ok'});
  assertSecurityHeaders(r);
  assert.equal(r.headers['cache-control'], 'no-store');
});

test('HEAD is answered like GET, without a body', async () => {
  const r = await srv.client().head('/healthz');
  assertStatus(r, 200);
  assert.equal(r.body.length, 0);
});

test('an unknown page is an HTML 404 page; an unknown API path a JSON 404', async () => {
  const page = await srv.client().get('/no/such/page');
  assertStatus(page, 404);
  assert.match(page.headers['content-type'], /text\/html/);
  assert.match(page.text, /Page not found/);
  assertSecurityHeaders(page);
  const api = await srv.client().get('/api/v1/no/such/thing');
  assertStatus(api, 404);
  assert.deepEqual(Object.keys(api.json), ['error']);
  assert.equal(api.json.error.code, 'not_found');
  assertSecurityHeaders(api);
});

test('a page for something that is not there (or not yours) is the error page, not the page left empty', async () => {
  const demo = await startServer({demo: true});
  const admin = await demo.login('admin@demo.test');
  const learner = await demo.login('learner@demo.test');
  const otherId = demo.sql("SELECT id FROM users WHERE email = 'learner2@demo.test'");
  try {
  for (const [who, c, path] of [['admin', admin, '/learners/999999'], ['admin', admin, '/evidence/999999'],
    ['learner', learner, `/learners/${otherId}/matrix`], ['learner', learner, '/admin/users']]) {
    const page = await c.get(path);
    assert.ok(page.status === 404 || page.status === 403, `${who} GET ${path}: ${page.status}`);
    assert.match(page.text, /<h1 class="heading-xl">(Page not found|You do not have access to this page)[^<]*<\/h1>/,
      `${who} GET ${path} shows the error page:\n${page.text.slice(0, 2000)}`);
    assert.match(page.text, /Go to your home page/);
  }
  } finally {
    await demo.stop();
  }
});

test('a method the path does not take is 405 with Allow', async () => {
  const r = await srv.client().request('DELETE', '/api/v1/openapi.json');
  assertStatus(r, 405);
  assert.equal(r.json.error.code, 'method_not_allowed');
  assert.equal(r.headers.allow, 'GET');
  const h = await srv.client().request('POST', '/healthz', {json: {}});
  assertStatus(h, 405);
  assert.equal(h.json.error.code, 'method_not_allowed');
});

test('the OpenAPI document is served and describes /healthz', async () => {
  const r = await srv.client().get('/api/v1/openapi.json');
  assertStatus(r, 200);
  assert.match(r.json.openapi, /^3\./);
  assert.ok(r.json.paths['/healthz']);
});

test('static files have their content type, an ETag, caching and 304 on If-None-Match', async () => {
  const c = srv.client();
  const css = await c.get('/static/app.css');
  assertStatus(css, 200);
  assert.match(css.headers['content-type'], /^text\/css/);
  assert.match(css.headers['cache-control'], /max-age=\d+/);
  const etag = css.headers.etag;
  assert.ok(etag, 'an ETag is sent');
  assert.equal(css.body.length, fs.statSync(path.join(__dirname, '../../static/app.css')).size);
  const again = await c.get('/static/app.css', {headers: {'If-None-Match': etag}});
  assertStatus(again, 304);
  assert.equal(again.body.length, 0);
  const other = await c.get('/static/app.css', {headers: {'If-None-Match': '"nope"'}});
  assertStatus(other, 200);
  const svg = await c.get('/static/favicon.svg');
  assert.equal(svg.headers['content-type'], 'image/svg+xml');
});

test('there is no way out of static/', async () => {
  const attempts = [
    '/static/../CMakeLists.txt',
    '/static/../../etc/passwd',
    '/static/%2e%2e/CMakeLists.txt',
    '/static/%2E%2E/%2E%2E/etc/passwd',
    '/static/..%2fCMakeLists.txt',
    '/static/..%2F..%2Fetc%2Fpasswd',
    '/static/app.css%00.txt',
    '/static/%00',
    '/static/.%2e/CMakeLists.txt',
    '/static//etc/passwd',
    '/static/.hidden',
    '/static/',
    '/static/..\\CMakeLists.txt',
  ];
  for (const p of attempts) {
    const r = await raw(srv.port, get(p));
    assert.ok(r.status >= 400 && r.status < 500, `${p} -> ${r.status}`);
    assert.doesNotMatch(r.body, /cmake_minimum_required|root:x:0:0/, `${p} leaked a file`);
  }
});

test('a symlink inside static/ that leads out of it is refused', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evitrack-static-'));
  fs.writeFileSync(path.join(dir, 'ok.css'), 'body{}');
  fs.writeFileSync(path.join(dir, '..', path.basename(dir) + '-secret.txt'), 'secret');
  fs.symlinkSync(path.join(dir, '..', path.basename(dir) + '-secret.txt'), path.join(dir, 'leak.css'));
  fs.symlinkSync('/etc', path.join(dir, 'etc'));
  const s2 = await startServer({args: ['--static', dir]});
  try {
    const c = s2.client();
    assertStatus(await c.get('/static/ok.css'), 200);
    const leak = await c.get('/static/leak.css');
    assertStatus(leak, 404);
    assert.doesNotMatch(leak.text, /secret/);
    assertStatus(await c.get('/static/etc/passwd'), 404);
  } finally {
    await s2.stop();
  }
});

test('a malformed request line gets a 400, and the server keeps serving', async () => {
  const r = await raw(srv.port, 'THIS IS NOT HTTP\r\n\r\n');
  assert.ok(r.status === 400 || r.status === 0, `status ${r.status}`);
  const bad = await raw(srv.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n');
  assert.ok(bad.status >= 400 && bad.status < 500, `bad Content-Length -> ${bad.status}`);
  const ok = await srv.client().get('/healthz');
  assertStatus(ok, 200);
});

test('a body of a type the server does not read is refused', async () => {
  const r = await srv.client().request('POST', '/api/v1/openapi.json', {body: 'x', contentType: 'text/plain'});
  assert.ok(r.status === 405 || r.status === 415, `status ${r.status}`);
});

test('each request is logged with method, path, status, bytes and microseconds', async () => {
  await srv.client().get('/healthz?probe=1');
  await new Promise((r) => setTimeout(r, 400)); /* the log is written in batches every 100 ms */
  assert.match(srv._stderr, /GET \/healthz 200 15B \d+us/);
});

test('SIGTERM stops the server cleanly (exit 0) after the requests in flight', async () => {
  const s2 = await startServer();
  const c = s2.client();
  const inflight = Array.from({length: 20}, () => c.get('/healthz').catch((e) => e));
  const results = await Promise.all(inflight);
  assert.ok(results.every((r) => r.status === 200));
  const log = () => s2._stderr;
  await s2.stop(); /* asserts exit code 0 itself */
  assert.equal(s2.exitCode, 0);
  assert.equal(s2.exitSignal, null);
  assert.match(log(), /stopped/);
});

test('a malformed JSON body is a clear 400 and changes nothing', async () => {
  const c = srv.client();
  const before = srv.sql('SELECT count(*) FROM sessions');
  const r = await c.request('POST', '/api/v1/session', {body: '{"email": "a@b", ', contentType: 'application/json'});
  assertStatus(r, 400);
  assert.equal(r.json.error.code, 'bad_json');
  assert.match(r.json.error.message, /line \d+, column \d+/);
  const arr = await c.request('POST', '/api/v1/session', {body: '[1,2]', contentType: 'application/json'});
  assertStatus(arr, 400);
  assert.equal(srv.sql('SELECT count(*) FROM sessions'), before);
});

test('a body over the 1 MiB JSON cap is refused with 413', async () => {
  const big = JSON.stringify({email: 'x'.repeat(1100 * 1024), password: 'y'});
  const r = await srv.client().request('POST', '/api/v1/session', {body: big, contentType: 'application/json'});
  assertStatus(r, 413);
  assert.equal(r.json.error.code, 'request_too_large');
});

test('a malformed multipart body is a 400', async () => {
  const r = await srv.client().request('POST', '/login', {
    body: '--XYZ\r\nContent-Disposition: form-data; name="email"\r\n\r\nabc\r\n--XY',
    contentType: 'multipart/form-data; boundary=XYZ',
  });
  assert.ok(r.status === 400 || r.status === 403, `status ${r.status}`);
});
