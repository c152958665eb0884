// tests/http/proxy.test.js: the nginx set-up of docs/operations.md ("Behind a proxy") holds under
// the slow-client probe and streams exports through: a real nginx in front of a real evitrack,
// both on loopback. Skipped when nginx is not installed (scripts/install-deps.sh installs it).
'use strict';
const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const {spawn, spawnSync} = require('node:child_process');
const {startServer, assertStatus} = require('./lib.js');
const {seedPortfolio} = require('./seed.js');

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => fs.existsSync(p));
let srv;
let nginx;
let dir;
let port;

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

/* The server block of docs/operations.md, over plain HTTP on a free port. */
function config(upstreamPort) {
  const proxied = `proxy_pass http://evitrack; proxy_http_version 1.1; proxy_set_header Connection "";
        proxy_set_header Host $host; proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;`;
  return `daemon off;
worker_processes 1;
${process.getuid && process.getuid() === 0 ? 'user root;' : ''}
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi;
    uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
    limit_conn_zone $binary_remote_addr zone=evitrack_addr:10m;
    upstream evitrack { server 127.0.0.1:${upstreamPort}; keepalive 32; }
    server {
        listen 127.0.0.1:${port};
        client_header_timeout 2s;
        client_body_timeout 60s;
        send_timeout 60s;
        keepalive_timeout 30s;
        large_client_header_buffers 4 16k;
        client_max_body_size 2g;
        limit_conn evitrack_addr 32;
        location / { ${proxied} proxy_request_buffering off; proxy_read_timeout 60s; }
        location ~ ^/(api/v1/(learners|qualifications)/\\d+|learners/\\d+|qualifications/\\d+)/export$ {
            ${proxied} proxy_buffering off; proxy_read_timeout 300s;
        }
    }
}
`;
}

before(async () => {
  if (!NGINX) return;
  srv = await startServer({demo: true, args: ['--per-address-connections', '1024'],
    env: {EVITRACK_TRUSTED_PROXY: '127.0.0.1'}});
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evitrack-nginx-'));
  port = await freePort();
  fs.writeFileSync(path.join(dir, 'nginx.conf'), config(srv.port));
  const t = spawnSync(NGINX, ['-t', '-c', path.join(dir, 'nginx.conf'), '-p', dir], {encoding: 'utf8'});
  assert.equal(t.status, 0, t.stderr);
  nginx = spawn(NGINX, ['-c', path.join(dir, 'nginx.conf'), '-p', dir], {stdio: 'ignore'});
  for (let i = 0; i < 50; i++) {
    const ok = await new Promise((res) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); res(true); });
      s.on('error', () => res(false));
    });
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
});
after(async () => {
  if (nginx) {
    nginx.kill('SIGQUIT');
    await new Promise((r) => { nginx.on('exit', r); setTimeout(r, 3000); });
  }
  if (dir) fs.rmSync(dir, {recursive: true, force: true});
  if (srv) await srv.stop();
});

test('through nginx: trickling clients from two addresses neither starve a third nor stay', {skip: !NGINX && 'nginx is not installed'}, async () => {
  const socks = [];
  let closed = 0;
  for (const localAddress of ['127.0.0.2', '127.0.0.3']) {
    for (let i = 0; i < 200; i++) {
      const s = net.connect({port, host: '127.0.0.1', localAddress});
      s.on('error', () => {});
      s.on('close', () => { closed++; });
      s.on('connect', () => s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'));
      socks.push(s);
    }
  }
  const drip = setInterval(() => { for (const s of socks) if (!s.destroyed) s.write(`X-Drip: ${Date.now()}\r\n`); }, 300);
  try {
    await new Promise((r) => setTimeout(r, 500));
    const times = [];
    for (let i = 0; i < 10; i++) {
      const t0 = Date.now();
      const r = await fetch(`http://127.0.0.1:${port}/healthz`, {signal: AbortSignal.timeout(5000)});
      assert.equal(r.status, 200);
      await r.arrayBuffer();
      times.push(Date.now() - t0);
    }
    assert.ok(Math.max(...times) < 1000, `a third client waited ${Math.max(...times)} ms`);
    await new Promise((r) => setTimeout(r, 4000));
    assert.equal(closed, socks.length, `${socks.length - closed} trickling connections still open`);
  } finally {
    clearInterval(drip);
    for (const s of socks) s.destroy();
  }
});

test('through nginx: an export streams (first bytes at once) and arrives whole', {skip: !NGINX && 'nginx is not installed'}, async () => {
  const c = await srv.login('assessor@demo.test');
  seedPortfolio(srv, 'learner2@demo.test', {files: 8, sizeBytes: 8 << 20, tag: 'proxy'});
  const ben = Number(srv.sql("SELECT id FROM users WHERE email = 'learner2@demo.test'"));
  const r = await new Promise((resolve, reject) => {
    const t0 = Date.now();
    http.get(`http://127.0.0.1:${port}/api/v1/learners/${ben}/export`, {headers: {Cookie: c.cookieHeader()}, agent: false}, (res) => {
      let first = null;
      const chunks = [];
      res.on('data', (d) => { if (first === null) first = Date.now() - t0; chunks.push(d); });
      res.on('end', () => resolve({status: res.statusCode, first, ms: Date.now() - t0, body: Buffer.concat(chunks)}));
      res.on('error', reject);
    }).on('error', reject);
  });
  assertStatus({...r, text: ''}, 200);
  assert.ok(r.body.length > 64 << 20, `${r.body.length} bytes`);
  assert.ok(r.first < 1000, `first byte after ${r.first} ms`);
  const zip = path.join(dir, 'p.zip');
  fs.writeFileSync(zip, r.body);
  const t = spawnSync('unzip', ['-tq', zip], {encoding: 'utf8'});
  assert.equal(t.status, 0, t.stdout + t.stderr);
  /* sign-in throttling sees the client's address, not nginx's */
  await fetch(`http://127.0.0.1:${port}/api/v1/session`, {method: 'POST', headers: {'Content-Type': 'application/json',
    'X-Forwarded-For': '203.0.113.9'}, body: JSON.stringify({email: 'iqa@demo.test', password: 'wrong password'})});
  assert.equal(srv.sql("SELECT addr FROM login_failures WHERE email = 'iqa@demo.test'"), '127.0.0.1');
});
