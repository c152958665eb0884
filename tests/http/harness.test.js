// tests/http/harness.test.js: the test helper (lib.js) against the real binary: start on
// a free port, requests and headers, a CLI command and sqlite3 on the same database,
// readable failures, and a clean SIGTERM stop.
'use strict';
const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const {startServer, runCli, assertStatus, ENGINE} = require('./lib.js');

let srv;
before(async () => { srv = await startServer({demo: true}); });
after(() => srv && srv.stop());

test('starts on a free loopback port with a fresh database', () => {
  assert.match(srv.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.ok(srv.port > 0 && srv.port < 65536);
  if (ENGINE === 'postgresql') assert.ok(Number(srv.sql('SELECT count(*) FROM schema_version')) > 0, 'the database was migrated');
  else assert.ok(fs.existsSync(srv.dbPath), 'the database file was created');
  assert.ok(fs.statSync(srv.dataDir).isDirectory());
});

test('GET /healthz answers {"status":"ok"} as JSON', async () => {
  const r = await srv.client().get('/healthz');
  assertStatus(r, 200);
  assert.deepEqual(r.json, {status: 'ok'});
  assert.match(r.headers['content-type'], /application\/json/);
  assert.equal(r.headers.get('Content-Type'), r.headers['content-type']);
  assert.equal(r.body.toString('utf8'), r.text);
});

test('keep-alive is kept on GET (libmicrohttpd 0.9.75 trap)', async () => {
  const r = await srv.client().get('/healthz');
  assert.notEqual((r.headers.connection || '').toLowerCase(), 'close');
});

test('an unknown API path is a JSON 404 error', async () => {
  const r = await srv.client().get('/api/v1/no-such-thing');
  assertStatus(r, 404);
  assert.equal(typeof r.json.error.code, 'string');
  assert.equal(typeof r.json.error.message, 'string');
  assert.throws(() => assertStatus(r, 200), /expected HTTP 200, got 404/);
});

test('srv.run runs a command on the same database; srv.sql reads it', async () => {
  const v = await srv.run(['migrate']);
  assert.equal(v.code, 0, v.stderr);
  const copy = path.join(srv.dir, 'backup.copy');
  const b = await srv.run(['backup', copy]);
  assert.equal(b.code, 0, b.stderr);
  assert.ok(fs.statSync(copy).size > 0, 'backup wrote the copy of this server\'s database');
  const tables = srv.sql(ENGINE === 'postgresql'
    ? "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1"
    : "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").split('\n');
  assert.ok(tables.length > 3, `tables: ${tables}`);
  const rows = srv.sqlRows("SELECT 1 AS one, 'x' AS s");
  assert.deepEqual(rows, [{one: 1, s: 'x'}]);
  assert.throws(() => srv.sql('SELECT * FROM no_such_table'), /no such table|does not exist/);
});

test('bad CLI arguments exit non-zero with a message', async () => {
  const r = await runCli(['serve', '--port', 'not-a-port']);
  assert.notEqual(r.code, 0);
  assert.ok((r.stderr + r.stdout).trim().length > 0);
});

test('a second server is independent and stops cleanly on SIGTERM', async () => {
  const other = await startServer();
  assert.notEqual(other.port, srv.port);
  assert.notEqual(other.dbPath, srv.dbPath);
  const r = await other.client().get('/healthz');
  assertStatus(r, 200);
  await other.stop();
  assert.equal(other.exitCode, 0);
  assert.equal(fs.existsSync(other.dir), false, 'temporary directory removed');
  await assert.rejects(other.client().get('/healthz'), /GET \/healthz failed/);
});

test('login keeps the session cookie and CSRF token; CSRF is sent and required', async () => {
  const c = await srv.login('learner@demo.test', 'evitrack-demo');
  assert.match(c.csrf, /^[0-9a-f]{32,}$/);
  assert.equal(c.user.email, 'learner@demo.test');
  assert.ok(c.cookies.has('evitrack_session'), 'session cookie kept');
  const me = await c.get('/api/v1/me');
  assertStatus(me, 200);
  assert.match(me.text, /learner@demo\.test/);
  const noToken = await c.del('/api/v1/session', undefined, {csrf: false});
  assertStatus(noToken, 403, 'a cookie-authenticated DELETE without X-CSRF-Token');
  const out = await c.logout();
  assert.ok(out.status >= 200 && out.status < 300, `logout: ${out.status} ${out.text}`);
  const after = await c.get('/api/v1/me');
  assertStatus(after, 401);
  const anon = await srv.client().get('/api/v1/me');
  assertStatus(anon, 401);
});

test('a failed login is reported with the server\'s answer', async () => {
  await assert.rejects(srv.login('learner@demo.test', 'wrong password'), /sign-in as learner@demo\.test failed: HTTP 4\d\d/);
});

test('a request with no answer in time fails readably instead of hanging', async () => {
  // A listening socket that never answers stands in for a stuck server.
  const net = require('node:net');
  const silent = net.createServer(() => {});
  await new Promise((r) => silent.listen(0, '127.0.0.1', r));
  try {
    const c = srv.client();
    c.base = `http://127.0.0.1:${silent.address().port}`;
    const t0 = Date.now();
    await assert.rejects(c.get('/healthz', {timeoutMs: 300}), /GET \/healthz: no answer within 300 ms/);
    assert.ok(Date.now() - t0 < 5000);
  } finally {
    silent.close();
  }
});

test('rawRequest gets an early refusal (413) before sending the body', async () => {
  const {rawRequest} = require('./lib.js');
  const big = JSON.stringify({email: 'x'.repeat(1100 * 1024), password: 'y'});
  const r = await rawRequest(srv.url + '/api/v1/session', 'POST', {'Content-Type': 'application/json'}, big, 10000);
  assert.equal(r.status, 413);
  assert.equal(JSON.parse(r.body.toString()).error.code, 'request_too_large');
  assert.match(r.headers['content-type'], /json/);
  const ok = await rawRequest(srv.url + '/healthz', 'GET', {}, undefined, 10000);
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get('Content-Type'), ok.headers['content-type']);
});
