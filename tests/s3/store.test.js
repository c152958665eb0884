// tests/s3/store.test.js: evitrack on an S3 store against a real Ceph RADOS Gateway: multipart
// uploads, the gateway stopped mid-upload (503, nothing recorded, spool cleaned) and
// restarted (uploads work again), a frozen gateway (503 after the store timeout), a corrupted
// object (never served as good), and `store copy` of the demo centre's files.
// Needs EVITRACK_TEST_S3_DIR (a gateway from tests/s3/ceph.sh, as tests/run-all.sh starts);
// without it every test here is skipped. Each fault test runs its own extra gateway on the
// same cluster, so stopping it disturbs no other test.
'use strict';

const {test, before, after, describe} = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const {spawnSync} = require('node:child_process');
const {startServer, assertStatus, encodeMultipart, s3Curl, S3_DIR, ROOT} = require('../http/lib.js');

const CEPH = path.join(ROOT, 'tests', 's3', 'ceph.sh');
const skip = S3_DIR ? false : 'EVITRACK_TEST_S3_DIR is not set (no test gateway)';
const sha256 = (b) => crypto.createHash('sha256').update(b).digest('hex');
const pdf = (n) => Buffer.concat([Buffer.from('%PDF-1.4\n'), crypto.randomBytes(n)]);

function ceph(...args) {
  const r = spawnSync('bash', [CEPH, ...args], {encoding: 'utf8', timeout: 120000});
  assert.equal(r.status, 0, `ceph.sh ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

/* A new bucket, made through the shared gateway. */
function newBucket() {
  const name = `evt-${crypto.randomBytes(8).toString('hex')}`;
  assert.equal(s3Curl('PUT', `/${name}`).status, 200);
  return name;
}

const filesIn = (dir) => (fs.existsSync(dir) ? fs.readdirSync(dir) : []);

/* POST /api/v1/evidence with one file whose body is sent in two halves; between them
 * `between()` runs (stopping the gateway mid-upload). Resolves {status, json}. */
function uploadInHalves(srv, c, data, between) {
  const {body, contentType} = encodeMultipart({title: 'Half and half', kind: 'product', csrf_token: c.csrf},
    [{name: 'big.pdf', type: 'application/pdf', data}]);
  return new Promise((resolve, reject) => {
    const req = http.request(`${srv.url}/api/v1/evidence`, {
      method: 'POST',
      headers: {'Content-Type': contentType, 'Content-Length': body.length, Cookie: c.cookieHeader(),
        'X-CSRF-Token': c.csrf},
    }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json = null;
        try { json = JSON.parse(text); } catch (e) { /* not JSON */ }
        resolve({status: res.statusCode, json, text});
      });
    });
    req.on('error', reject);
    const half = Math.floor(body.length / 2);
    req.write(body.subarray(0, half), async () => {
      try {
        await between();
      } catch (e) {
        reject(e);
        return;
      }
      req.end(body.subarray(half));
    });
  });
}

describe('S3 store faults', {skip}, () => {
  const id = `f${crypto.randomBytes(4).toString('hex')}`;
  let port, srv, c, bucket;
  const counts = () => ({evidence: Number(srv.sql('SELECT count(*) FROM evidence')),
    files: Number(srv.sql('SELECT count(*) FROM evidence_files')),
    blobs: Number(srv.sql('SELECT count(*) FROM blobs'))});

  before(async () => {
    port = ceph('rgw-start', S3_DIR, id);
    bucket = newBucket();
    const spec = `s3://${bucket}?endpoint=http://127.0.0.1:${port}&region=us-east-1&part_mb=5&timeout=5`;
    srv = await startServer({demo: true, args: ['--store', spec], env: srv0Env()});
    c = await srv.login('learner@demo.test');
  });
  after(async () => {
    ceph('rgw-stop', S3_DIR, id, 'CONT');
    ceph('rgw-stop', S3_DIR, id);
    if (srv) await srv.stop();
  });

  test('a file above the part size goes up in parts, each part hash-checked, and reads back', async () => {
    const data = pdf(12 * 1024 * 1024);
    const r = await c.upload('/api/v1/evidence', {title: 'Video', kind: 'product'}, [{name: 'v.pdf', data}]);
    assertStatus(r, 201);
    const f = r.json.files[0];
    assert.equal(f.sha256, sha256(data));
    const head = s3Curl('HEAD', `/${bucket}/${f.sha256}`, {headers: []});
    assert.equal(head.status, 200);
    const list = s3Curl('GET', `/${bucket}?max-keys=1000`).body.toString();
    assert.match(list, new RegExp(`<Key>${f.sha256}</Key>.*?<ETag>&quot;[0-9a-f]+-3&quot;`), 'three parts');
    const g = await c.get(`/api/v1/evidence/${r.json.id}/files/${f.id}`);
    assertStatus(g, 200);
    assert.equal(sha256(g.body), f.sha256);
    const part = await c.get(`/api/v1/evidence/${r.json.id}/files/${f.id}`, {headers: {Range: 'bytes=5242870-5242889'}});
    assertStatus(part, 206);
    assert.deepEqual(part.body, data.subarray(5242870, 5242890));
    // the same bytes again: already stored, not uploaded twice, still 201
    const again = await c.upload('/api/v1/evidence', {title: 'Video again', kind: 'product'}, [{name: 'v2.pdf', data}]);
    assertStatus(again, 201);
  });

  test('the gateway stopped mid-upload: 503, nothing recorded, the spool cleaned', async () => {
    const before = counts();
    const data = pdf(3 * 1024 * 1024);
    const r = await uploadInHalves(srv, c, data, async () => { ceph('rgw-stop', S3_DIR, id); });
    assert.equal(r.status, 503, r.text);
    assert.equal(r.json.error.code, 'store_unavailable');
    assert.match(r.json.error.message, /not answering/);
    assert.deepEqual(counts(), before);
    assert.deepEqual(filesIn(path.join(srv.dataDir, 'tmp')), []);
    // a page form gets the same answer as a page
    const p = await c.upload('/evidence/new', {title: 'Page upload', kind: 'product'}, [{name: 'p.pdf', data: pdf(1000)}]);
    assert.equal(p.status, 503);
    assert.match(p.text, /not answering/);
    // downloads say so too, rather than "missing"
    const row = srv.sqlRows(`SELECT f.id, f.evidence_id FROM evidence_files f JOIN evidence e ON e.id = f.evidence_id
      JOIN users u ON u.id = e.learner_id WHERE u.email = 'learner@demo.test' ORDER BY f.id LIMIT 1`)[0];
    const d = await c.get(`/api/v1/evidence/${row.evidence_id}/files/${row.id}`);
    assert.equal(d.status, 503);
    assert.deepEqual(counts(), before);
  });

  test('a multipart upload cut off by the gateway stopping leaves nothing recorded', async () => {
    const before = counts();
    const data = pdf(16 * 1024 * 1024);
    ceph('rgw-start', S3_DIR, id);
    const pending = c.upload('/api/v1/evidence', {title: 'Cut off', kind: 'product'}, [{name: 'cut.pdf', data}]);
    // stop the gateway once the spool has the whole file (the parts are then on their way)
    const tmp = path.join(srv.dataDir, 'tmp');
    for (let i = 0; i < 400; i++) {
      const f = filesIn(tmp);
      if (f.length && fs.statSync(path.join(tmp, f[0]), {throwIfNoEntry: false})?.size >= data.length) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    ceph('rgw-stop', S3_DIR, id);
    const r = await pending;
    if (r.status === 201) {
      // the store finished before it stopped: then it must be complete and recorded
      assert.equal(s3Curl('HEAD', `/${bucket}/${sha256(data)}`).status, 200);
    } else {
      assert.equal(r.status, 503, r.text);
      assert.deepEqual(counts(), before);
    }
    assert.deepEqual(filesIn(tmp), []);
  });

  test('restarted: uploads work again', async () => {
    ceph('rgw-start', S3_DIR, id);
    const data = pdf(100000);
    const r = await c.upload('/api/v1/evidence', {title: 'After restart', kind: 'product'}, [{name: 'a.pdf', data}]);
    assertStatus(r, 201);
    const g = await c.get(`/api/v1/evidence/${r.json.id}/files/${r.json.files[0].id}`);
    assert.deepEqual(g.body, data);
  });

  test('a download the gateway drops half-way (restarted) carries on where it stopped', async () => {
    const data = pdf(24 * 1024 * 1024);
    const r = await c.upload('/api/v1/evidence', {title: 'Long read', kind: 'product'}, [{name: 'l.pdf', data}]);
    assertStatus(r, 201);
    const url = `${srv.url}/api/v1/evidence/${r.json.id}/files/${r.json.files[0].id}`;
    const body = await new Promise((resolve, reject) => {
      http.get(url, {headers: {Cookie: c.cookieHeader()}}, (res) => {
        const chunks = [];
        let paused = false;
        res.on('data', (d) => {
          chunks.push(d);
          if (!paused) {
            // hold the response after its first bytes and restart the gateway under it
            paused = true;
            res.pause();
            setTimeout(() => {
              try {
                ceph('rgw-stop', S3_DIR, id);
                ceph('rgw-start', S3_DIR, id);
              } catch (e) {
                reject(e);
              }
              res.resume();
            }, 300);
          }
        });
        res.on('end', () => resolve(Buffer.concat(chunks)));
        res.on('error', reject);
      }).on('error', reject);
    });
    assert.equal(body.length, data.length);
    assert.equal(sha256(body), sha256(data));
    assert.match(srv.stderr, /resumed reading/);
  });

  test('a frozen gateway: 503 after the store timeout, nothing recorded', async () => {
    const before = counts();
    ceph('rgw-stop', S3_DIR, id, 'STOP');
    const t0 = Date.now();
    let r;
    try {
      r = await c.upload('/api/v1/evidence', {title: 'Frozen', kind: 'product'}, [{name: 'z.pdf', data: pdf(50000)}]);
    } finally {
      ceph('rgw-stop', S3_DIR, id, 'CONT');
    }
    assert.equal(r.status, 503, r.text);
    assert.ok(Date.now() - t0 < 30000, 'answered within the timeout, not hung');
    assert.deepEqual(counts(), before);
    assert.deepEqual(filesIn(path.join(srv.dataDir, 'tmp')), []);
  });

  test('a corrupted object is never served as good', async () => {
    const data = pdf(300000);
    const r = await c.upload('/api/v1/evidence', {title: 'To corrupt', kind: 'product'}, [{name: 'c.pdf', data}]);
    assertStatus(r, 201);
    const f = r.json.files[0];
    const bad = Buffer.from(data);
    bad[bad.length - 10] ^= 0xff;
    // overwrite the object behind evitrack's back (no If-None-Match)
    assert.equal(s3Curl('PUT', `/${bucket}/${f.sha256}`, {body: bad, sha: sha256(bad)}).status, 200);
    let got = null;
    let failed = false;
    try {
      got = await c.get(`/api/v1/evidence/${r.json.id}/files/${f.id}`);
    } catch (e) {
      failed = true; // the connection was cut before the end
    }
    if (!failed) assert.ok(got.status !== 200 || got.body.length < data.length, 'a corrupt file arrived complete');
    assert.ok(srv.stderr.includes(`blob ${f.sha256}`) && /refusing it/.test(srv.stderr), 'logged as a mismatch');
    // a byte range away from the damage is still served (ranges are not whole-file checks,
    // and a cut download does not mark the file: only an export or a check does)
    const part0 = await c.get(`/api/v1/evidence/${r.json.id}/files/${f.id}`, {headers: {Range: 'bytes=0-99'}});
    assertStatus(part0, 206);
    assert.deepEqual(part0.body, data.subarray(0, 100));
    // an export containing it fails rather than hand it over: exports are streamed, so
    // the download (already 200) is cut short and the zip never arrives complete
    const learner = Number(srv.sql("SELECT id FROM users WHERE email = 'learner@demo.test'"));
    const admin = await srv.login('admin@demo.test');
    let cut = false;
    try {
      const e = await admin.get(`/api/v1/learners/${learner}/export`);
      cut = e.status !== 200;
    } catch (err) {
      cut = true;
    }
    assert.ok(cut, 'an export holding a corrupt file was delivered complete');
    assert.match(srv.stderr, /export: cannot copy \S+ \(\w+\) from the store into the export/);
    // the export marked the object damaged: from now on every read of it, a byte range
    // too, says so rather than serve any of it, and the next export holds a note instead
    const part = await c.get(`/api/v1/evidence/${r.json.id}/files/${f.id}`, {headers: {Range: 'bytes=0-99'}});
    assertStatus(part, 500);
    assert.equal(part.json.error.code, 'blob_damaged');
    const again = await admin.get(`/api/v1/learners/${learner}/export`);
    assertStatus(again, 200);
  });
});

describe('gc and unfinished uploads', {skip}, () => {
  test('gc aborts a multipart upload left unfinished (a crash or an outage between its parts)', async () => {
    const bucket = newBucket();
    const endpoint = fs.readFileSync(path.join(S3_DIR, 'env'), 'utf8').match(/EVITRACK_S3_ENDPOINT=(\S+)/)[1];
    const spec = `s3://${bucket}?endpoint=${endpoint}&region=us-east-1`;
    const srv = await startServer({demo: true, args: ['--store', spec], env: srv0Env()});
    const gc = (...more) => srv.run(['gc', '--store', spec, ...more], {env: srv0Env()});
    try {
      const key = 'a'.repeat(64);
      const made = s3Curl('POST', `/${bucket}/${key}?uploads=`);
      assert.equal(made.status, 200, made.body.toString());
      const pending = () => (s3Curl('GET', `/${bucket}?uploads=`).body.toString().match(/<Upload>/g) || []).length;
      assert.equal(pending(), 1);
      // within the grace period it stays (it may be an upload still on its way)
      let g = await gc();
      assert.equal(g.code, 0, g.stderr);
      assert.equal(pending(), 1);
      await new Promise((res) => setTimeout(res, 1100)); // Initiated has whole seconds
      g = await gc('--grace-minutes', '0', '--dry-run');
      assert.match(g.stdout, /would abort 1 unfinished upload to the store/);
      assert.equal(pending(), 1);
      g = await gc('--grace-minutes', '0');
      assert.equal(g.code, 0, g.stderr);
      assert.match(g.stdout, /aborted 1 unfinished upload to the store/);
      assert.equal(pending(), 0);
    } finally {
      await srv.stop();
    }
  });
});

describe('serve says at start whether the store answers', {skip}, () => {
  const endpoint = () => fs.readFileSync(path.join(S3_DIR, 'env'), 'utf8').match(/EVITRACK_S3_ENDPOINT=(\S+)/)[1];
  const startWith = async (bucket, env) => {
    const srv = await startServer({args: ['--store', `s3://${bucket}?endpoint=${endpoint()}&region=us-east-1`], env});
    await new Promise((res) => setTimeout(res, 100));
    const err = srv.stderr;
    await srv.stop();
    return err;
  };
  test('a good bucket: answering; a missing bucket and a wrong secret: named at once', async () => {
    const good = newBucket();
    assert.match(await startWith(good, srv0Env()), new RegExp(`store: s3://${good} .*answering`));
    assert.match(await startWith(`evt-missing-${crypto.randomBytes(4).toString('hex')}`, srv0Env()),
      /is NOT usable: there is no bucket evt-missing-/);
    assert.match(await startWith(good, {...srv0Env(), AWS_SECRET_ACCESS_KEY: 'not-the-secret'}),
      /is NOT usable: .*refused the credentials for bucket/);
  });
});

describe('store copy', {skip}, () => {
  let srv;
  before(async () => {
    // the demo centre on the default directory store
    srv = await startServer({demo: true});
  });
  after(() => srv && srv.stop());

  test('moves the demo centre\'s files into a bucket and verifies every hash', async () => {
    // lib.js started the demo on a bucket of its own: first copy its files out to a
    // directory store (the way back, and a backup), then from there into a new bucket
    const env = srv.storeEnv;
    const run = (args, opts = {}) => srv.run(args, {...opts, db: false});
    const e = fs.readFileSync(path.join(S3_DIR, 'env'), 'utf8');
    const endpoint = /EVITRACK_S3_ENDPOINT=(\S+)/.exec(e)[1];
    const dirStore = path.join(srv.dir, 'disk-store');
    const from = srv.store ? srv.store.spec : srv.dataDir;
    let r = await run(['store', 'copy', '--from', from, '--to', dirStore, '--data', srv.dataDir], {env});
    assert.equal(r.code, 0, r.stderr);
    const shas = srv.sqlRows('SELECT sha256 FROM blobs ORDER BY sha256').map((x) => x.sha256);
    assert.ok(shas.length >= 3, 'the demo has files');
    assert.match(r.stdout, new RegExp(`${shas.length} copied, 0 already there, 0 failed; every hash verified`));

    const bucket = newBucket();
    const to = `s3://${bucket}?endpoint=${endpoint}&region=us-east-1`;
    r = await run(['store', 'copy', '--from', dirStore, '--to', to, '--data', srv.dataDir], {env});
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`${shas.length} copied, 0 already there, 0 failed; every hash verified`));
    for (const sha of shas) {
      const g = s3Curl('GET', `/${bucket}/${sha}`);
      assert.equal(g.status, 200);
      assert.equal(sha256(g.body), sha);
    }
    // again: everything is there already and is read back and checked
    r = await run(['store', 'copy', '--from', dirStore, '--to', to, '--data', srv.dataDir], {env});
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`0 copied, ${shas.length} already there, 0 failed`));

    // a file damaged on disk is refused, not copied, and the command says so
    const victim = shas[0];
    const p = path.join(dirStore, 'blobs', victim.slice(0, 2), victim);
    const bytes = fs.readFileSync(p);
    bytes[0] ^= 1;
    fs.writeFileSync(p, bytes);
    const bucket2 = newBucket();
    r = await run(['store', 'copy', '--from', dirStore, '--to', `s3://${bucket2}?endpoint=${endpoint}`,
      '--data', srv.dataDir], {env});
    assert.equal(r.code, 1);
    assert.match(r.stdout, /1 failed; every hash NOT verified/);
    assert.match(r.stderr, new RegExp(`${victim}: the stored copy is damaged: its bytes do not match the hash recorded for them`));
    assert.equal(s3Curl('HEAD', `/${bucket2}/${victim}`).status, 404);

    // credentials from a file, never the command line
    const creds = path.join(srv.dir, 'creds');
    fs.writeFileSync(creds, e, {mode: 0o600});
    r = await run(['store', 'copy', '--from', to, '--to', path.join(srv.dir, 'back'), '--data', srv.dataDir,
      '--store-credentials', creds], {env: {AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: ''}});
    assert.equal(r.code, 0, r.stderr);
    r = await run(['store', 'copy', '--from', to, '--to', path.join(srv.dir, 'back2'), '--data', srv.dataDir],
      {env: {AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: ''}});
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no S3 credentials/);
  });
});

function srv0Env() {
  const env = {};
  for (const line of fs.readFileSync(path.join(S3_DIR, 'env'), 'utf8').split('\n')) {
    const m = /^(AWS_\w+)=(.*)$/.exec(line.trim());
    if (m) env[m[1]] = m[2];
  }
  return env;
}
