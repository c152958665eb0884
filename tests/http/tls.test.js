// tests/http/tls.test.js: HTTPS served directly (--tls-cert/--tls-key) with a self-signed
// certificate made here by openssl: sign in over TLS, the cookie is Secure, the session
// works; and --secure-cookies for a TLS-terminating proxy in front of plain HTTP.
'use strict';
const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const {spawnSync} = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const https = require('node:https');
const http = require('node:http');
const {startServer, assertStatus, DEMO_PASSWORD} = require('./lib.js');

let dir, cert, key, srv;

/* One request with node's https (or http), trusting only our certificate. */
function request(url, {method = 'GET', headers = {}, body, ca} = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.request(u, {method, headers, ca, rejectUnauthorized: true, timeout: 10000}, (res) => {
      const chunks = [];
      const protocol = res.socket && res.socket.getProtocol ? res.socket.getProtocol() : null;
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json = null;
        try { json = JSON.parse(text); } catch (e) { /* not JSON */ }
        resolve({status: res.statusCode, headers: res.headers, text, json, protocol});
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    if (body !== undefined) req.end(body); else req.end();
  });
}

before(async () => {
  const which = spawnSync('openssl', ['version'], {encoding: 'utf8'});
  assert.equal(which.status, 0, 'openssl is needed for this test (apt-get install openssl)');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evitrack-tls-'));
  cert = path.join(dir, 'cert.pem');
  key = path.join(dir, 'key.pem');
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert,
    '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
  {encoding: 'utf8'});
  assert.equal(r.status, 0, r.stderr);
  srv = await startServer({demo: true, args: ['--tls-cert', cert, '--tls-key', key]});
});

after(async () => {
  if (srv) await srv.stop();
  if (dir) fs.rmSync(dir, {recursive: true, force: true});
});

test('serves HTTPS with the given certificate', async () => {
  assert.match(srv.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const ca = fs.readFileSync(cert);
  const r = await request(srv.url + '/healthz', {ca});
  assertStatus(r, 200);
  assert.deepEqual(r.json, {status: 'ok'});
  assert.match(r.protocol || '', /^TLSv1\.[23]$/);
  // a client that does not trust the certificate is refused by TLS itself
  await assert.rejects(request(srv.url + '/healthz'), /self[- ]signed|certificate/i);
  // plain HTTP on the TLS port gets no page
  const plain = await request(srv.url.replace('https:', 'http:') + '/healthz').catch((e) => e);
  assert.ok(plain instanceof Error || plain.status !== 200, 'plain HTTP is not served');
});

test('sign in over HTTPS: a Secure cookie that works', async () => {
  const ca = fs.readFileSync(cert);
  const body = JSON.stringify({email: 'learner@demo.test', password: DEMO_PASSWORD});
  const r = await request(srv.url + '/api/v1/session', {method: 'POST', ca, body,
    headers: {'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body)}});
  assertStatus(r, 200);
  const ck = (r.headers['set-cookie'] || []).find((c) => c.startsWith('evitrack_session='));
  assert.ok(ck, 'a session cookie');
  assert.match(ck, /; Secure/);
  assert.match(ck, /HttpOnly/);
  assert.match(ck, /SameSite=Lax/);
  const cookie = ck.split(';')[0];
  const me = await request(srv.url + '/api/v1/me', {ca, headers: {Cookie: cookie}});
  assertStatus(me, 200);
  assert.equal(me.json.email, 'learner@demo.test');
  // and the sign-in page form, too
  const form = 'email=assessor%40demo.test&password=' + encodeURIComponent(DEMO_PASSWORD);
  const page = await request(srv.url + '/login', {method: 'POST', ca, body: form,
    headers: {'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': Buffer.byteLength(form)}});
  assert.equal(page.status, 303);
  assert.equal(page.headers.location, '/caseload');
  assert.match(page.headers['set-cookie'].join('\n'), /; Secure/);
  // sign out over HTTPS: the cookie is cleared with the same attributes
  const out = await request(srv.url + '/api/v1/session', {method: 'DELETE', ca,
    headers: {Cookie: cookie, 'X-CSRF-Token': r.json.csrf_token}});
  assertStatus(out, 200);
  assert.match(out.headers['set-cookie'].join('\n'), /Max-Age=0; Secure/);
  assertStatus(await request(srv.url + '/api/v1/me', {ca, headers: {Cookie: cookie}}), 401);
});

test('--secure-cookies marks cookies Secure behind a TLS-terminating proxy', async () => {
  const plain = await startServer({demo: true, args: ['--secure-cookies'], env: {EVITRACK_TRUSTED_PROXY: '127.0.0.1'}});
  try {
    assert.match(plain.url, /^http:/);
    const c = plain.client();
    const r = await c.post('/api/v1/session', {email: 'admin@demo.test', password: DEMO_PASSWORD});
    assertStatus(r, 200);
    const ck = (r.headers['set-cookie'] || []).find((x) => x.startsWith('evitrack_session='));
    assert.match(ck, /; Secure/);
    // throttling counts the address the trusted proxy saw, not the proxy's own
    const bad = await c.post('/api/v1/session', {email: 'admin@demo.test', password: 'wrong password'},
      {headers: {'X-Forwarded-For': '198.51.100.7, 203.0.113.5'}});
    assertStatus(bad, 401);
    assert.equal(plain.sql("SELECT addr FROM login_failures"), '203.0.113.5');
  } finally {
    await plain.stop();
  }
});
