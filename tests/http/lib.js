// tests/http/lib.js: the shared helper for HTTP tests: starts the real evitrack binary on a
// free loopback port with a fresh database and data dir, and gives clients with a cookie
// jar and CSRF token. Works on node 18 and later (global fetch; multipart built by hand).
//
//   const {test, before, after} = require('node:test');
//   const assert = require('node:assert/strict');
//   const {startServer} = require('./lib.js');
//   let srv;
//   before(async () => { srv = await startServer({demo: true}); });
//   after(() => srv.stop());
//   test('me', async () => {
//     const c = await srv.login('learner@demo.test', 'evitrack-demo');
//     const r = await c.get('/api/v1/me');
//     assert.equal(r.status, 200, r.text);
//   });
'use strict';

const {spawn, spawnSync} = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const assert = require('node:assert/strict');

const zlib = require('node:zlib');

/* node 18 (Debian 12's own nodejs) lacks zlib.crc32 (node 20.15+), which tests use to
 * build zip files; this fills it in with the same signature so they run on both. */
if (typeof zlib.crc32 !== 'function') {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  zlib.crc32 = function crc32(data, value = 0) {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') :
      Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    let c = (value ^ -1) | 0;
    for (let i = 0; i < buf.length; i++) c = table[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
    return (c ^ -1) >>> 0;
  };
}

const ROOT = path.resolve(__dirname, '..', '..');
const DEMO_PASSWORD = 'evitrack-demo';
const TAIL_BYTES = 16 * 1024;
const LOG_BYTES = 4 * 1024 * 1024;

/* The binary under test: $EVITRACK_BIN (ctest sets it), else build/evitrack. */
function binPath() {
  return process.env.EVITRACK_BIN || path.join(ROOT, 'build', 'evitrack');
}

/* The engine under test: with EVITRACK_TEST_ENGINE=postgresql and EVITRACK_TEST_DB a
 * postgres:// URL (tests/run-all.sh starts a throw-away server), every server gets a fresh
 * database of its own (CREATE DATABASE); otherwise an SQLite file in its temporary dir. */
const ENGINE = process.env.EVITRACK_TEST_ENGINE === 'postgresql' ? 'postgresql' : 'sqlite';
const PG_URL = process.env.EVITRACK_TEST_DB || '';
if (ENGINE === 'postgresql' && !/^postgres(ql)?:\/\//.test(PG_URL)) {
  throw new Error('EVITRACK_TEST_ENGINE=postgresql needs EVITRACK_TEST_DB=postgres://... (tests/run-all.sh sets both)');
}
let pgSerial = 0;

/* psql on url: -At (unaligned, tuples only, '|' between columns as sqlite3 prints). */
function psql(url, query, extra = []) {
  const r = spawnSync('psql', ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', ...extra, '-d', url, '-c', query],
    {encoding: 'utf8', timeout: 30000});
  if (r.error) throw new Error(`psql could not run: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`psql failed (exit ${r.status}) on: ${query}\n${r.stderr}`);
  return r.stdout;
}

/* A new empty database on the test PostgreSQL server; returns its URL. */
function freshPgDatabase() {
  const name = `t_${process.pid}_${++pgSerial}_${crypto.randomBytes(3).toString('hex')}`;
  psql(PG_URL, `CREATE DATABASE ${name}`);
  return PG_URL.replace(/\/[^/?]*(\?.*)?$/, (m, q) => `/${name}${q || ''}`);
}

/* Servers still running; killed if the test process exits without stopping them. */
const live = new Set();
process.on('exit', () => {
  for (const s of live) {
    try { s.child.kill('SIGKILL'); } catch (e) { /* already gone */ }
  }
});

function tail(s, n = 4000) {
  return s.length > n ? '...' + s.slice(s.length - n) : s;
}

/* Keeps the last `max` characters of a growing log. */
function appendCapped(buf, chunk, max) {
  buf += chunk;
  return buf.length > max ? buf.slice(buf.length - max) : buf;
}

/* Commands that take --data besides --db (srv.run adds both, and --store in S3 mode). */
const DATA_COMMANDS = new Set(['export', 'serve', 'gc']);

/*
 * S3 mode: when EVITRACK_TEST_S3_DIR names a running test gateway (tests/s3/ceph.sh start
 * DIR, which tests/run-all.sh does), every server gets its own new bucket there and runs
 * with `--store s3://BUCKET?endpoint=...`; the blob helpers below (srv.blobs(),
 * srv.blobRead() ...) then look in the bucket instead of DATA/blobs. Unset: the default
 * directory store.
 */
const S3_DIR = process.env.EVITRACK_TEST_S3_DIR || '';
const EMPTY_SHA = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/* The gateway's endpoint and test keys, from DIR/env. */
function s3Env() {
  const env = {};
  for (const line of fs.readFileSync(path.join(S3_DIR, 'env'), 'utf8').split('\n')) {
    const m = /^(\w+)=(.*)$/.exec(line.trim());
    if (m) env[m[1]] = m[2];
  }
  return env;
}

/* curl --aws-sigv4 against the test gateway; returns {status, body (Buffer)}. */
function s3Curl(method, urlPath, {body, sha, headers = []} = {}) {
  const e = s3Env();
  const args = ['-s', '-o', '-', '-w', '\n%{http_code}', '--aws-sigv4', 'aws:amz:us-east-1:s3',
    '-u', `${e.AWS_ACCESS_KEY_ID}:${e.AWS_SECRET_ACCESS_KEY}`, ...(method === 'HEAD' ? ['-I'] : ['-X', method]),
    '-H', `x-amz-content-sha256: ${sha || EMPTY_SHA}`];
  for (const h of headers) args.push('-H', h);
  if (body) args.push('--data-binary', '@-', '-H', 'Content-Type: application/octet-stream');
  args.push(`${e.EVITRACK_S3_ENDPOINT}${urlPath}`);
  const r = spawnSync('curl', args, {input: body, maxBuffer: 1 << 30, timeout: 60000});
  if (r.error) throw new Error(`curl could not run: ${r.error.message}`);
  const out = r.stdout;
  const nl = out.lastIndexOf(10);
  return {status: Number(out.subarray(nl + 1).toString()), body: out.subarray(0, nl)};
}

/* A new bucket for one server. */
function s3NewBucket() {
  const name = `evt-${crypto.randomBytes(8).toString('hex')}`;
  const r = s3Curl('PUT', `/${name}`);
  if (r.status !== 200) throw new Error(`creating bucket ${name}: HTTP ${r.status} ${r.body}`);
  return name;
}
/* Commands whose second word is a subcommand ("user add", "audit verify"). */
const TWO_WORD_COMMANDS = new Set(['user', 'audit', 'enrolment', 'db', 'reviews', 'store']);

/*
 * startServer({demo, args, env, cwd, timeoutMs}) -> Promise<Server>
 * Runs `evitrack serve --db TMP/evitrack.db --data TMP/data --listen 127.0.0.1 --port 0
 * [--demo] ...args`, waits for "evitrack listening on http://ADDR:PORT" on stdout, and
 * resolves with a Server. Rejects with the server's output when it exits or times out.
 */
async function startServer(opts = {}) {
  const {demo = false, args = [], env = {}, cwd = ROOT, timeoutMs = 30000} = opts;
  const bin = binPath();
  if (!fs.existsSync(bin)) {
    throw new Error(`evitrack binary not found at ${bin} (build it first, or set EVITRACK_BIN)`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evitrack-test-'));
  const dbPath = opts.dbPath || (ENGINE === 'postgresql' ? freshPgDatabase() : path.join(dir, 'evitrack.db'));
  /* opts.shareStore: another server whose evidence store (its data directory, and its
   * bucket in S3 mode) this one uses too, as several servers of one centre do */
  const shared = opts.shareStore || null;
  const dataDir = shared ? shared.dataDir : path.join(dir, 'data');
  if (!shared) fs.mkdirSync(dataDir);
  const argv = ['serve', '--db', dbPath, '--data', dataDir, '--listen', '127.0.0.1', '--port', '0'];
  let store = null;
  let storeEnv = {};
  if (shared && shared.store && !args.includes('--store')) {
    store = shared.store;
    storeEnv = shared.storeEnv;
    argv.push('--store', store.spec);
  } else if (S3_DIR && !args.includes('--store')) {
    const e = s3Env();
    store = {bucket: s3NewBucket(), endpoint: e.EVITRACK_S3_ENDPOINT};
    store.spec = `s3://${store.bucket}?endpoint=${store.endpoint}&region=us-east-1`;
    storeEnv = {AWS_ACCESS_KEY_ID: e.AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: e.AWS_SECRET_ACCESS_KEY};
    argv.push('--store', store.spec);
  }
  if (demo) argv.push('--demo');
  argv.push(...args);
  const child = spawn(bin, argv, {
    cwd,
    env: {...process.env, ...storeEnv, ...env},
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const srv = new Server({child, dir, dbPath, dataDir, bin, argv});
  srv.store = store;
  srv.storeEnv = storeEnv;
  live.add(srv);
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (d) => { srv._stdout = appendCapped(srv._stdout, d, LOG_BYTES); });
  child.stderr.on('data', (d) => { srv._stderr = appendCapped(srv._stderr, d, LOG_BYTES); });
  srv._exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      srv.exitCode = code;
      srv.exitSignal = signal;
      live.delete(srv);
      resolve({code, signal});
    });
    child.on('error', (err) => {
      srv.spawnError = err;
      srv.exitCode = -1;
      live.delete(srv);
      resolve({code: -1, signal: null});
    });
  });

  await new Promise((resolve, reject) => {
    let done = false;
    const finish = (err) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.stdout.off('data', onData);
      if (err) reject(err); else resolve();
    };
    const onData = () => {
      const m = /evitrack listening on (https?):\/\/(\S+):(\d+)/.exec(srv._stdout);
      if (!m) return;
      let host = m[2];
      if (host === '0.0.0.0' || host === '*') host = '127.0.0.1';
      if (host === '::' || host === '[::]') host = '[::1]';
      srv.port = Number(m[3]);
      srv.url = `${m[1]}://${host}:${srv.port}`;
      finish();
    };
    const timer = setTimeout(() => {
      try { child.kill('SIGKILL'); } catch (e) { /* gone */ }
      finish(new Error(`evitrack did not print "evitrack listening on ..." within ${timeoutMs} ms\n` +
        srv.describe()));
    }, timeoutMs);
    child.stdout.on('data', onData);
    srv._exited.then(({code, signal}) => {
      finish(new Error(`evitrack serve exited before listening (code ${code}, signal ${signal})` +
        (srv.spawnError ? `: ${srv.spawnError.message}` : '') + '\n' + srv.describe()));
    });
    onData();
  });
  return srv;
}

class Server {
  constructor({child, dir, dbPath, dataDir, bin, argv}) {
    this.child = child;
    this.dir = dir;
    this.dbPath = dbPath;
    this.dataDir = dataDir;
    this.bin = bin;
    this.argv = argv;
    this.url = null;
    this.port = null;
    this.exitCode = null;
    this.exitSignal = null;
    this._stdout = '';
    this._stderr = '';
    this._stopped = false;
  }

  /* Everything the server printed so far (stdout then stderr). */
  get stdout() { return this._stdout; }
  get stderr() { return this._stderr; }
  get running() { return this.exitCode === null && this.exitSignal === null; }

  /* A readable account of the server's state and the tail of its output, for errors. */
  describe() {
    const state = this.running ? 'running' :
      `exited (code ${this.exitCode}, signal ${this.exitSignal})`;
    return `  command: ${this.bin} ${this.argv.join(' ')}\n  state: ${state}\n` +
      `  --- stdout tail ---\n${tail(this._stdout, 2000)}\n` +
      `  --- stderr tail ---\n${tail(this._stderr, TAIL_BYTES / 4)}`;
  }

  /* An anonymous client (no session). */
  client() { return new Client(this); }

  /* Signs in through POST /api/v1/session and returns the client holding the session
   * cookie and CSRF token. Throws (with the response) when sign-in fails. */
  async login(email, password = DEMO_PASSWORD) {
    const c = new Client(this);
    await c.login(email, password);
    return c;
  }

  /*
   * Runs `evitrack ARGS` against this server's database: `--db FILE` (and `--data DIR` for
   * commands that take it) is inserted after the command words unless args already has it.
   * opts: {input (string|Buffer for stdin), env, timeoutMs, data (force --data)}.
   * Resolves {code, signal, stdout, stderr}; never rejects on a non-zero exit.
   */
  run(args, opts = {}) {
    const {input, env = {}, timeoutMs = 60000} = opts;
    const argv = [...args];
    const words = argv.length && TWO_WORD_COMMANDS.has(argv[0]) && argv[1] && !argv[1].startsWith('-') ? 2 : 1;
    const extra = [];
    if (opts.db !== false && !argv.includes('--db')) extra.push('--db', this.dbPath);
    if ((opts.data || DATA_COMMANDS.has(argv[0])) && opts.data !== false && !argv.includes('--data')) {
      extra.push('--data', this.dataDir);
      if (this.store && !argv.includes('--store')) extra.push('--store', this.store.spec);
    }
    if (argv.length) argv.splice(Math.min(words, argv.length), 0, ...extra);
    return runBinary(this.bin, argv, {input, env: {...this.storeEnv, ...env}, timeoutMs, cwd: ROOT});
  }

  /* ---- the evidence store, whichever backend the server runs on ---- */

  /* Every stored blob's SHA-256, sorted. */
  blobs() {
    if (!this.store) {
      const root = path.join(this.dataDir, 'blobs');
      const out = [];
      if (!fs.existsSync(root)) return out;
      for (const d of fs.readdirSync(root)) {
        for (const f of fs.readdirSync(path.join(root, d))) out.push(f);
      }
      return out.sort();
    }
    const out = [];
    let marker = '';
    for (;;) {
      const r = s3Curl('GET', `/${this.store.bucket}?${marker ? `marker=${marker}&` : ''}max-keys=1000`);
      if (r.status !== 200) throw new Error(`listing ${this.store.bucket}: HTTP ${r.status}`);
      const text = r.body.toString();
      const keys = [...text.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1]);
      out.push(...keys);
      if (!/<IsTruncated>true</.test(text) || !keys.length) break;
      marker = keys[keys.length - 1];
    }
    return out.sort();
  }

  /* The bytes of blob sha, or null when it is not stored. */
  blobRead(sha) {
    if (!this.store) {
      const p = path.join(this.dataDir, 'blobs', sha.slice(0, 2), sha);
      return fs.existsSync(p) ? fs.readFileSync(p) : null;
    }
    const r = s3Curl('GET', `/${this.store.bucket}/${sha}`);
    if (r.status === 404) return null;
    if (r.status !== 200) throw new Error(`reading ${sha}: HTTP ${r.status}`);
    return r.body;
  }

  blobExists(sha) { return this.blobRead(sha) !== null; }

  /* Removes blob sha from the store (tests of a missing file). */
  blobDelete(sha) {
    if (!this.store) {
      fs.rmSync(path.join(this.dataDir, 'blobs', sha.slice(0, 2), sha), {force: true});
      return;
    }
    const r = s3Curl('DELETE', `/${this.store.bucket}/${sha}`);
    if (r.status !== 204 && r.status !== 200) throw new Error(`deleting ${sha}: HTTP ${r.status}`);
  }

  /* Stores (or overwrites: tests that plant or corrupt files) blob sha with data. */
  blobWrite(sha, data) {
    data = Buffer.from(data);
    if (!this.store) {
      fs.mkdirSync(path.join(this.dataDir, 'blobs', sha.slice(0, 2)), {recursive: true});
      fs.writeFileSync(path.join(this.dataDir, 'blobs', sha.slice(0, 2), sha), data);
      return;
    }
    const h = crypto.createHash('sha256').update(data).digest('hex');
    const r = s3Curl('PUT', `/${this.store.bucket}/${sha}`, {body: data, sha: h});
    if (r.status !== 200) throw new Error(`writing ${sha}: HTTP ${r.status} ${r.body}`);
  }

  /* Runs one SQL statement (or several) with the sqlite3 CLI on this server's database
   * and returns its output, trimmed. Throws on error. For tests that tamper or inspect. */
  sql(query) {
    if (ENGINE === 'postgresql') return psql(this.dbPath, query).trim();
    const r = spawnSync('sqlite3', ['-batch', '-cmd', '.timeout 30000', this.dbPath, query],
      {encoding: 'utf8', timeout: 30000});
    if (r.error) throw new Error(`sqlite3 could not run: ${r.error.message}`);
    if (r.status !== 0) {
      throw new Error(`sqlite3 failed (exit ${r.status}) on: ${query}\n${r.stderr}`);
    }
    return r.stdout.trim();
  }

  /* Like sql() but returns the rows as objects (sqlite3 -json). */
  sqlRows(query) {
    if (ENGINE === 'postgresql') {
      const q = query.trim().replace(/;\s*$/, '');
      const out = psql(this.dbPath, `SELECT coalesce(json_agg(t), '[]'::json) FROM (${q}) t`).trim();
      return JSON.parse(out || '[]');
    }
    const r = spawnSync('sqlite3', ['-batch', '-json', '-cmd', '.timeout 30000', this.dbPath, query],
      {encoding: 'utf8', timeout: 30000});
    if (r.error) throw new Error(`sqlite3 could not run: ${r.error.message}`);
    if (r.status !== 0) {
      throw new Error(`sqlite3 failed (exit ${r.status}) on: ${query}\n${r.stderr}`);
    }
    const out = r.stdout.trim();
    return out ? JSON.parse(out) : [];
  }

  /* Sends SIGTERM and waits for the exit; asserts a clean exit (code 0). Removes the
   * temporary directory unless EVITRACK_KEEP_TMP is set. Safe to call twice. */
  async stop({timeoutMs = 15000, signal = 'SIGTERM'} = {}) {
    if (this._stopped) return;
    this._stopped = true;
    const wasRunning = this.running;
    if (wasRunning) this.child.kill(signal);
    let timer;
    const res = await Promise.race([
      this._exited,
      new Promise((resolve) => { timer = setTimeout(() => resolve(null), timeoutMs); }),
    ]);
    clearTimeout(timer);
    if (res === null) {
      this.child.kill('SIGKILL');
      await this._exited;
      throw new Error(`evitrack did not stop within ${timeoutMs} ms of ${signal}\n${this.describe()}`);
    }
    const clean = this.exitCode === 0 && wasRunning;
    if (clean && !process.env.EVITRACK_KEEP_TMP) {
      fs.rmSync(this.dir, {recursive: true, force: true});
    }
    if (!wasRunning) {
      assert.fail(`evitrack had already exited before stop()\n${this.describe()}`);
    }
    assert.equal(this.exitCode, 0, `evitrack did not exit cleanly on ${signal}\n${this.describe()}`);
  }
}

/* Runs a binary; resolves {code, signal, stdout, stderr}. */
function runBinary(bin, argv, {input, env = {}, timeoutMs = 60000, cwd = ROOT} = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, argv, {cwd, env: {...process.env, ...env}, stdio: ['pipe', 'pipe', 'pipe']});
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d) => { stdout = appendCapped(stdout, d, LOG_BYTES); });
    child.stderr.on('data', (d) => { stderr = appendCapped(stderr, d, LOG_BYTES); });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${bin} ${argv.join(' ')} took over ${timeoutMs} ms\nstdout: ${tail(stdout)}\nstderr: ${tail(stderr)}`));
    }, timeoutMs);
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({code, signal, stdout, stderr});
    });
    child.stdin.on('error', () => { /* the command may not read stdin */ });
    if (input !== undefined) child.stdin.end(input); else child.stdin.end();
  });
}

/* `evitrack ARGS` with no server (e.g. --help, render). Same result shape as srv.run. */
function runCli(args, opts = {}) {
  return runBinary(binPath(), args, opts);
}

/* Splits a combined Set-Cookie header (node 18 before getSetCookie). */
function setCookieList(headers) {
  if (typeof headers.getSetCookie === 'function') return headers.getSetCookie();
  const v = headers.get('set-cookie');
  if (!v) return [];
  return v.split(/,(?=\s*[A-Za-z0-9_!#$%&'*+.^`|~-]+=)/).map((s) => s.trim());
}

/* Response headers as a plain object with lower-case names (set-cookie as an array),
 * plus a non-enumerable get(name) so both r.headers['x'] and r.headers.get('x') work. */
function headerObject(headers) {
  const o = {};
  headers.forEach((v, k) => { o[k] = v; });
  const sc = setCookieList(headers);
  if (sc.length) o['set-cookie'] = sc;
  Object.defineProperty(o, 'get', {
    enumerable: false,
    value: (name) => {
      const v = o[String(name).toLowerCase()];
      return v === undefined ? null : v;
    },
  });
  return o;
}

/* application/x-www-form-urlencoded from {k: v | [v...]} or [[k, v], ...]. */
function encodeForm(fields) {
  const p = new URLSearchParams();
  for (const [k, v] of pairs(fields)) p.append(k, v);
  return p.toString();
}

function pairs(fields) {
  const out = [];
  if (!fields) return out;
  const list = Array.isArray(fields) ? fields : Object.entries(fields);
  for (const [k, v] of list) {
    if (Array.isArray(v)) for (const x of v) out.push([k, String(x)]);
    else if (v !== undefined && v !== null) out.push([k, String(v)]);
  }
  return out;
}

/* multipart/form-data body built by hand: fields as for encodeForm, files as
 * [{field = 'file', name, type = 'application/octet-stream', data (Buffer|string) | path}]. */
function encodeMultipart(fields, files = []) {
  const boundary = '----evitrack' + crypto.randomBytes(12).toString('hex');
  const parts = [];
  const q = (s) => String(s).replace(/["\r\n\\]/g, (ch) => (ch === '"' ? '%22' : ch === '\\' ? '\\\\' : ' '));
  for (const [k, v] of pairs(fields)) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${q(k)}"\r\n\r\n`));
    parts.push(Buffer.from(v, 'utf8'));
    parts.push(Buffer.from('\r\n'));
  }
  for (const f of files) {
    const data = f.path ? fs.readFileSync(f.path) : Buffer.isBuffer(f.data) ? f.data : Buffer.from(f.data ?? '', 'utf8');
    const name = f.name ?? (f.path ? path.basename(f.path) : 'file.bin');
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${q(f.field || 'file')}"; ` +
      `filename="${q(name)}"\r\nContent-Type: ${f.type || 'application/octet-stream'}\r\n\r\n`));
    parts.push(data);
    parts.push(Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return {body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}`};
}

/* One request through node:http with `Expect: 100-continue` when there is a body, so a
 * server that refuses the request from its headers alone answers before the body is
 * sent. Resolves {status, headers (as headerObject), body}. */
function rawRequest(url, method, headers, body, timeoutMs) {
  const http = require('node:http');
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const data = body === undefined ? null : Buffer.isBuffer(body) ? body : Buffer.from(String(body));
    const h = {...headers};
    if (data) {
      h['Content-Length'] = data.length;
      h.Expect = '100-continue';
    }
    const req = http.request({host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: u.port,
      path: u.pathname + u.search, method, headers: h, agent: false});
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('continue', () => req.end(data));
    req.on('response', (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        const hs = new Headers();
        for (const [k, v] of Object.entries(res.headers)) {
          for (const x of Array.isArray(v) ? v : [v]) hs.append(k, x);
        }
        const ho = headerObject(hs);
        if (res.headers['set-cookie']) ho['set-cookie'] = res.headers['set-cookie'];
        resolve({status: res.statusCode, headers: ho, body: Buffer.concat(chunks)});
        req.destroy();
      });
      res.on('error', (e) => { clearTimeout(timer); reject(e); });
    });
    req.on('error', (e) => { clearTimeout(timer); reject(e); });
    if (!data) req.end();
  });
}

/*
 * A client of one server: a cookie jar, the CSRF token from sign-in, and one method per
 * HTTP verb. Every call resolves {status, headers, json, text, body}: json is the parsed
 * body when the response is JSON (else null), text the body as UTF-8, body a Buffer.
 * Redirects are not followed (a 303 comes back as is, with headers.location).
 * Common opts: {headers, csrf: false (leave out X-CSRF-Token), query: {k: v},
 * timeoutMs (default 60000, or $EVITRACK_TEST_REQUEST_TIMEOUT_MS): a request that gets no
 * answer in time fails with the server's state and output}.
 */
class Client {
  constructor(srv) {
    this.srv = srv;
    this.base = srv.url;
    this.cookies = new Map();
    this.csrf = null;
    this.user = null;
    this.timeoutMs = Number(process.env.EVITRACK_TEST_REQUEST_TIMEOUT_MS) || 60000;
  }

  /* Signs in (POST /api/v1/session); keeps the cookie and csrf_token. */
  async login(email, password = DEMO_PASSWORD) {
    const r = await this.post('/api/v1/session', {email, password});
    if (r.status < 200 || r.status > 299 || !r.json || !r.json.csrf_token) {
      throw new Error(`sign-in as ${email} failed: HTTP ${r.status} ${tail(r.text, 500)}`);
    }
    this.csrf = r.json.csrf_token;
    this.user = r.json.user || null;
    return r;
  }

  /* Signs out (DELETE /api/v1/session) and forgets the cookie and token. */
  async logout() {
    const r = await this.del('/api/v1/session');
    this.cookies.clear();
    this.csrf = null;
    this.user = null;
    return r;
  }

  cookieHeader() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  _storeCookies(list) {
    for (const sc of list) {
      const [pair, ...attrs] = sc.split(';');
      const eq = pair.indexOf('=');
      if (eq < 1) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let expired = value === '';
      for (const a of attrs) {
        const [ak, av = ''] = a.split('=').map((s) => s.trim());
        if (/^max-age$/i.test(ak) && Number(av) <= 0) expired = true;
        if (/^expires$/i.test(ak) && Date.parse(av) < Date.now()) expired = true;
      }
      if (expired) this.cookies.delete(name); else this.cookies.set(name, value);
    }
  }

  /* The general request: opts {json, form, multipart: {fields, files}, body, headers,
   * csrf, query, contentType}. */
  async request(method, p, opts = {}) {
    method = method.toUpperCase();
    let url = this.base + p;
    if (opts.query) {
      const qs = encodeForm(opts.query);
      if (qs) url += (url.includes('?') ? '&' : '?') + qs;
    }
    const headers = {...(opts.headers || {})};
    const lower = new Set(Object.keys(headers).map((k) => k.toLowerCase()));
    const cookie = this.cookieHeader();
    if (cookie && !lower.has('cookie')) headers.Cookie = cookie;
    if (this.csrf && opts.csrf !== false && method !== 'GET' && method !== 'HEAD' && !lower.has('x-csrf-token')) {
      headers['X-CSRF-Token'] = this.csrf;
    }
    let body;
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      if (!lower.has('content-type')) headers['Content-Type'] = 'application/json';
    } else if (opts.form !== undefined) {
      body = encodeForm(opts.form);
      if (!lower.has('content-type')) headers['Content-Type'] = 'application/x-www-form-urlencoded';
    } else if (opts.multipart !== undefined) {
      const mp = encodeMultipart(opts.multipart.fields, opts.multipart.files);
      body = mp.body;
      if (!lower.has('content-type')) headers['Content-Type'] = mp.contentType;
    } else if (opts.body !== undefined) {
      body = opts.body;
      if (opts.contentType && !lower.has('content-type')) headers['Content-Type'] = opts.contentType;
    }
    let status;
    let h;
    let buf;
    const timeoutMs = opts.timeoutMs || this.timeoutMs;
    try {
      // A server that stops answering fails the test in timeoutMs with its output,
      // rather than hanging until ctest's own timeout.
      const res = await fetch(url, {method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs)});
      buf = Buffer.from(await res.arrayBuffer());
      status = res.status;
      h = headerObject(res.headers);
    } catch (err) {
      if (err.name === 'TimeoutError' || err.name === 'AbortError') {
        throw new Error(`${method} ${p}: no answer within ${timeoutMs} ms\n${this.srv.describe ? this.srv.describe() : ''}`);
      }
      const code = err.cause && err.cause.code;
      let raw = null;
      if (body !== undefined && (code === 'EPIPE' || code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') &&
          this.srv.running !== false) {
        // The server answered before reading the whole body (413 and the like) and
        // closed; node 18's fetch reports the broken pipe instead of the answer. Ask
        // again with Expect: 100-continue so the answer comes before the body is sent.
        raw = await rawRequest(url, method, headers, body, timeoutMs).catch(() => null);
      }
      if (raw) {
        ({status, headers: h, body: buf} = raw);
      } else {
        const cause = err.cause ? ` (${err.cause.code || err.cause.message})` : '';
        // Give a dying server a moment so the message can say how it ended.
        if (this.srv._exited) {
          await Promise.race([this.srv._exited, new Promise((r) => setTimeout(r, 300).unref())]);
        }
        throw new Error(`${method} ${p} failed: ${err.message}${cause}\n${this.srv.describe ? this.srv.describe() : ''}`);
      }
    }
    this._storeCookies(h['set-cookie'] || []);
    const text = buf.toString('utf8');
    let json = null;
    if (/\bjson\b/i.test(h['content-type'] || '') && text.length) {
      try { json = JSON.parse(text); } catch (e) { json = null; }
    }
    return {status, headers: h, json, text, body: buf};
  }

  get(p, opts = {}) { return this.request('GET', p, opts); }
  head(p, opts = {}) { return this.request('HEAD', p, opts); }
  post(p, json, opts = {}) { return this.request('POST', p, {...opts, json: json === undefined ? {} : json}); }
  put(p, json, opts = {}) { return this.request('PUT', p, {...opts, json: json === undefined ? {} : json}); }
  patch(p, json, opts = {}) { return this.request('PATCH', p, {...opts, json: json === undefined ? {} : json}); }
  del(p, json, opts = {}) {
    return this.request('DELETE', p, json === undefined ? opts : {...opts, json});
  }

  /* A browser-style form post: urlencoded, repeated keys from arrays; adds the hidden
   * csrf_token field as a page form would (unless opts.csrf === false or it is given). */
  postForm(p, fields = {}, opts = {}) {
    const list = pairs(fields);
    if (this.csrf && opts.csrf !== false && !list.some(([k]) => k === 'csrf_token')) {
      list.push(['csrf_token', this.csrf]);
    }
    return this.request('POST', p, {...opts, form: list});
  }

  /* multipart/form-data upload: fields as for postForm, files
   * [{field = 'file', name, type, data (Buffer|string) | path}]. */
  upload(p, fields = {}, files = [], opts = {}) {
    const list = pairs(fields);
    if (this.csrf && opts.csrf !== false && !list.some(([k]) => k === 'csrf_token')) {
      list.push(['csrf_token', this.csrf]);
    }
    return this.request(opts.method || 'POST', p, {...opts, multipart: {fields: list, files}});
  }
}

/* assert.equal on the status with the response body in the message. */
function assertStatus(r, status, what = '') {
  assert.equal(r.status, status, `${what ? what + ': ' : ''}expected HTTP ${status}, got ${r.status}: ${tail(r.text, 1500)}`);
}

module.exports = {
  ENGINE,
  PG_URL,
  freshPgDatabase,
  psql,
  startServer,
  S3_DIR,
  s3Curl,
  runCli,
  binPath,
  assertStatus,
  encodeForm,
  encodeMultipart,
  Client,
  rawRequest,
  Server,
  ROOT,
  DEMO_PASSWORD,
};
