// tests/http/exports.test.js: long work off the request threads (issue 12): exports are streamed
// as they are made (first bytes at once, flat memory, no file left behind), bounded per user and
// overall, stop when the client goes away, and do not stall other users; the start-up sweep and
// the scheduled collection of stored files.
'use strict';
const {test, before, after, describe} = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const {spawnSync} = require('node:child_process');
const {startServer, assertStatus} = require('./lib.js');
const {seedPortfolio, crc32, forgeSameCrc} = require('./seed.js');

let srv;
let admin;
let admin2;
let assessor;
let ben;
let q1;
before(async () => {
  srv = await startServer({demo: true, args: ['--max-exports', '2']});
  admin = await srv.login('admin@demo.test');
  // a second admin (an EQA may no longer export a whole cohort: issue 18; one export per user)
  assertStatus(await admin.post('/api/v1/users', {email: 'admin2@demo.test', name: 'Second Admin', role: 'admin',
    password: 'second admin password'}), 201);
  admin2 = await srv.login('admin2@demo.test', 'second admin password');
  assessor = await srv.login('assessor@demo.test');
  ben = Number(srv.sql("SELECT id FROM users WHERE email = 'learner2@demo.test'"));
  q1 = Number(srv.sql(`SELECT qualification_id FROM enrolments WHERE learner_id = ${ben} LIMIT 1`));
  for (const email of ['learner@demo.test', 'learner2@demo.test']) {
    seedPortfolio(srv, email, {files: 6, sizeBytes: 4 << 20, tag: email});
  }
});
after(() => srv && srv.stop());

/* GET with node:http: resolves {status, headers, firstByteMs, ms, body (Buffer unless discard),
 * bytes}; {pause: true} resolves once the headers arrive with {res, req} to read later. */
function download(c, p, {pause = false, discard = false} = {}) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const ms = () => Number(process.hrtime.bigint() - t0) / 1e6;
    const req = http.get(srv.url + p, {headers: {Cookie: c.cookieHeader()}, agent: false}, (res) => {
      if (pause) {
        res.pause();
        resolve({status: res.statusCode, headers: res.headers, res, req});
        return;
      }
      const chunks = [];
      let first = null;
      let bytes = 0;
      res.on('data', (d) => {
        if (first === null) first = ms();
        bytes += d.length;
        if (!discard) chunks.push(d);
      });
      res.on('end', () => resolve({status: res.statusCode, headers: res.headers, firstByteMs: first, ms: ms(),
        body: Buffer.concat(chunks), bytes}));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

function unzipList(buf) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evitrack-zip-'));
  const zip = path.join(dir, 'x.zip');
  fs.writeFileSync(zip, buf);
  const r = spawnSync('unzip', ['-tq', zip], {encoding: 'utf8'});
  const l = spawnSync('unzip', ['-Z1', zip], {encoding: 'utf8'});
  fs.rmSync(dir, {recursive: true, force: true});
  return {ok: r.status === 0, out: r.stdout + r.stderr, names: l.stdout.split('\n').filter(Boolean)};
}

const tmpFiles = () => {
  const d = path.join(srv.dataDir, 'tmp');
  return fs.existsSync(d) ? fs.readdirSync(d) : [];
};

describe('streamed exports', () => {
  test('a portfolio export is streamed: first bytes long before the end, a whole zip, nothing left in data/tmp', async () => {
    /* the first bytes arrive while the export is still being made: read one chunk and hold
     * the rest back; the producer then waits on its full buffer, so it cannot have finished */
    const logBefore = (srv.stderr.match(/export: learner \d+: \d+ bytes/g) || []).length;
    const held = await download(assessor, `/api/v1/learners/${ben}/export`, {pause: true});
    assert.equal(held.status, 200);
    const firstChunk = await new Promise((res) => { held.res.once('data', (d) => { held.res.pause(); res(d); }); held.res.resume(); });
    assert.equal(firstChunk.subarray(0, 4).toString('latin1'), 'PK\x03\x04', 'a zip begins');
    await new Promise((res) => setTimeout(res, 500));
    assert.equal((srv.stderr.match(/export: learner \d+: \d+ bytes/g) || []).length, logBefore,
      'the export was not finished when its first bytes arrived');
    held.req.destroy();
    let r;
    for (let i = 0; i < 50; i++) { /* the abandoned one gives its slot back once the server sees it gone */
      r = await download(assessor, `/api/v1/learners/${ben}/export`);
      if (r.status !== 429) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    assertStatus({...r, text: ''}, 200);
    assert.equal(r.headers['content-type'], 'application/zip');
    assert.equal(r.headers['transfer-encoding'], 'chunked');
    assert.ok(r.body.length > 24 << 20, `${r.body.length} bytes`);
    const z = unzipList(r.body);
    assert.ok(z.ok, z.out);
    assert.ok(z.names.includes('manifest.txt') && z.names.includes('index.html'), z.names.join(' '));
    assert.ok(z.names.filter((n) => /video-\d\.mp4$/.test(n)).length >= 6, z.names.join(' '));
    console.log(`# first byte at ${r.firstByteMs.toFixed(1)} ms of ${r.ms.toFixed(1)} ms (${r.body.length} bytes)`);
    assert.deepEqual(tmpFiles().filter((f) => f.startsWith('export')), [], 'no export file in data/tmp');
    /* recorded once the last byte was made */
    await new Promise((res) => setTimeout(res, 200));
    assert.ok(Number(srv.sql(`SELECT count(*) FROM audit_events WHERE action = 'export.portfolio' AND entity_id = ${ben}`)) >= 1);
  });

  test('an export that meets a corrupt file is cut short and what arrived is not a readable zip', async () => {
    /* a file of learner 1 changed behind evitrack's back: the export must not end as a
     * well-formed zip holding the bad bytes (no central directory, the stream cut) */
    const me = Number(srv.sql("SELECT id FROM users WHERE email = 'learner@demo.test'"));
    const [eid, fid, sha] = srv.sql(`SELECT e.id, f.id, f.sha256 FROM evidence_files f JOIN evidence e ON e.id = f.evidence_id
      WHERE e.learner_id = ${me} ORDER BY f.size DESC LIMIT 1`).split('|');
    const good = await admin2.get(`/api/v1/evidence/${eid}/files/${fid}`);
    assertStatus(good, 200);
    srv.blobWrite(sha, Buffer.alloc(good.body.length, 0x5a));
    try {
      await exportCorrupt(me);
    } finally {
      await restore(sha, good.body); /* the other tests export this learner too */
    }
  });

  /* The export of learner `me` while one of their files is corrupt. */
  async function exportCorrupt(me) {
    const {ended, body: got} = await exportOf(me);
    assert.equal(ended, 'cut', 'the download ended as if complete');
    /* a zip ends with its end-of-central-directory record (22 bytes, plus a comment of at
     * most 64 KB); an evidence file inside may hold one of its own further back */
    const eocd = got.lastIndexOf(Buffer.from('PK\x05\x06', 'latin1'));
    assert.ok(eocd < got.length - 22 - 65535, `the zip was finished: a central directory ends it (at ${eocd} of ${got.length})`);
    assert.ok(!unzipList(got).ok, 'unzip accepts what arrived');
    assert.match(srv.stderr, /export: cannot copy \S+ \(\w+\) from the store into the export/);
  }

  /* The export of learner `me`, whole: {ended: 'complete'|'cut', body}. */
  async function exportOf(me) {
    const chunks = [];
    const ended = await new Promise((resolve) => {
      const req = http.get(`${srv.url}/api/v1/learners/${me}/export`, {headers: {Cookie: admin2.cookieHeader()}, agent: false},
        (res) => {
          res.on('data', (d) => chunks.push(d));
          res.on('end', () => resolve(res.complete ? 'complete' : 'cut'));
          res.on('aborted', () => resolve('cut'));
          res.on('error', () => resolve('cut'));
        });
      req.on('error', () => resolve('cut'));
    });
    return {ended, body: Buffer.concat(chunks)};
  }

  /* Puts a stored file back as a centre restores one from a backup, then runs `store
   * verify` as the docs say, which finds it whole again and clears its damaged mark. */
  async function restore(sha, data) {
    srv.blobWrite(sha, data);
    const v = await srv.run(['store', 'verify'], {data: true});
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.equal(srv.sql(`SELECT coalesce(damaged_at, 'none') FROM blobs WHERE sha256 = '${sha}'`), 'none');
  }

  /* The export zip x (a Buffer) checked as its recipient would: audit verify's result. */
  async function verifyZip(x) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evitrack-verify-'));
    try {
      const zip = path.join(dir, 'p.zip');
      fs.writeFileSync(zip, x);
      return await srv.run(['audit', 'verify', '--export', zip], {db: false});
    } finally {
      fs.rmSync(dir, {recursive: true, force: true});
    }
  }

  /* A learner's new piece of evidence with one text file; {eid, sha, data}. */
  async function uploadNote(learner, title, text) {
    const data = Buffer.from(text.repeat(Math.ceil(6000 / text.length)));
    const r = await learner.upload('/api/v1/evidence', {title, kind: 'product'},
      [{name: 'notes.txt', type: 'text/plain', data}]);
    assertStatus(r, 201);
    const sha = crypto.createHash('sha256').update(data).digest('hex');
    return {eid: r.json.id, sha, data};
  }

  test('an upload records the CRC-32 of its bytes beside their SHA-256; an export checks each file against it', async () => {
    const learner = await srv.login('learner@demo.test');
    const me = Number(srv.sql("SELECT id FROM users WHERE email = 'learner@demo.test'"));
    const {sha, data} = await uploadNote(learner, 'Workshop notes', 'Checked the guards before starting. ');
    const row = srv.sqlRows(`SELECT crc32, checked_at FROM blobs WHERE sha256 = '${sha}'`)[0];
    assert.equal(Number(row.crc32), crc32(data), 'the CRC recorded is not the CRC of the bytes uploaded');
    assert.equal(row.checked_at, null);
    /* the same length, other bytes: the CRC check cuts the export before the file's end */
    const damaged = Buffer.from(data);
    damaged[damaged.length - 3] ^= 0x20;
    srv.blobWrite(sha, damaged);
    try {
      const x = await exportOf(me);
      assert.equal(x.ended, 'cut', 'an export holding a damaged file ended as if complete');
      assert.ok(!x.body.includes(damaged.subarray(damaged.length - 64)), 'the damaged file\'s last bytes were sent');
      assert.ok(!unzipList(x.body).ok, 'unzip accepts what arrived');
      assert.match(srv.stderr, new RegExp(`export: blob ${sha} does not match the CRC-32 recorded when it was uploaded`));
      /* the file is now known to be damaged: the next export goes through with a note in
       * its place, and the recipient's check says the export is incomplete */
      assert.match(srv.sql(`SELECT damaged_at FROM blobs WHERE sha256 = '${sha}'`), /^\d{4}-/);
      /* and opening it says so at once */
      const fid = Number(srv.sql(`SELECT id FROM evidence_files WHERE sha256 = '${sha}' ORDER BY id LIMIT 1`));
      const eid = Number(srv.sql(`SELECT evidence_id FROM evidence_files WHERE id = ${fid}`));
      const open = await learner.get(`/api/v1/evidence/${eid}/files/${fid}`);
      assertStatus(open, 500);
      assert.equal(open.json.error.code, 'blob_damaged');
      assert.match(open.json.error.message, /This file is damaged in the evidence store \(found on \d{1,2} [A-Z][a-z]{2} \d{4}\)/);
      /* the evidence page says so in place of a preview, with no download link */
      const page = await learner.get(`/evidence/${eid}`);
      assertStatus(page, 200);
      assert.match(page.text, /This file is damaged in the evidence store \(found on \d{1,2} [A-Z][a-z]{2} \d{4}\), so it cannot be shown or downloaded/);
      assert.ok(!page.text.includes(`/evidence/${eid}/files/${fid}?download=1`), 'the page still offers the damaged file for download');
      const api = await learner.get(`/api/v1/evidence/${eid}`);
      assert.equal(api.json.files.find((x) => x.id === fid).damaged, true);
      const again = await exportOf(me);
      assert.equal(again.ended, 'complete', 'a file known to be damaged still cuts every export');
      assert.ok(unzipList(again.body).ok);
      const v = await verifyZip(again.body);
      assert.equal(v.code, 1, v.stdout + v.stderr);
      assert.match(v.stdout, /export INCOMPLETE: 1 evidence file could not go in, and a note stands in its place:\n  evidence\/\d+\/\d+-notes\.txt: found damaged in the store\n/);
      assert.match(srv.stderr, new RegExp(`export: evidence file damaged in the store: ${sha} \\(evidence/`));
    } finally {
      await restore(sha, data);
    }
    const x = await exportOf(me);
    assert.equal(x.ended, 'complete');
    assert.equal((await verifyZip(x.body)).code, 0, 'the restored file did not go back into the export');
  });

  test('a file with no CRC recorded (stored before it was kept) is checked against its SHA-256 in full, then its CRC is recorded', async () => {
    const learner = await srv.login('learner@demo.test');
    const me = Number(srv.sql("SELECT id FROM users WHERE email = 'learner@demo.test'"));
    const {sha, data} = await uploadNote(learner, 'Older notes', 'Isolated the supply and proved it dead. ');
    srv.sql(`UPDATE blobs SET crc32 = NULL, checked_at = NULL WHERE sha256 = '${sha}'`);
    let x = await exportOf(me);
    assert.equal(x.ended, 'complete');
    const row = srv.sqlRows(`SELECT crc32, checked_at FROM blobs WHERE sha256 = '${sha}'`)[0];
    assert.equal(Number(row.crc32), crc32(data), 'the export did not record the CRC of the file it checked in full');
    assert.match(String(row.checked_at), /^\d{4}-\d\d-\d\dT/);
    /* forged to keep its CRC, with no CRC recorded: only the SHA-256 check can see it, and it must */
    srv.sql(`UPDATE blobs SET crc32 = NULL WHERE sha256 = '${sha}'`);
    srv.blobWrite(sha, forgeSameCrc(data));
    try {
      x = await exportOf(me);
      assert.equal(x.ended, 'cut', 'a file with no CRC recorded was not checked against its SHA-256');
      assert.match(srv.stderr, new RegExp(`storage: blob ${sha} in .* reads back as`));
      assert.equal(srv.sql(`SELECT coalesce(crc32, -1) FROM blobs WHERE sha256 = '${sha}'`), '-1', 'a CRC was recorded for a damaged file');
    } finally {
      await restore(sha, data);
    }
    assert.equal(Number(srv.sql(`SELECT crc32 FROM blobs WHERE sha256 = '${sha}'`)), crc32(data));
  });

  test('a copy forged to keep its CRC gets past an export, but not `audit verify --export` or `store verify`, and no later export holds it', async () => {
    const learner = await srv.login('learner@demo.test');
    const me = Number(srv.sql("SELECT id FROM users WHERE email = 'learner@demo.test'"));
    const {eid, sha, data} = await uploadNote(learner, 'Risk assessment', 'Wore eye protection at the lathe. ');
    srv.blobWrite(sha, forgeSameCrc(data));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evitrack-forged-'));
    try {
      /* the CRC alone cannot see it (the documented limit: scrub.h) ... */
      const x = await exportOf(me);
      assert.equal(x.ended, 'complete');
      const zip = path.join(dir, 'p.zip');
      fs.writeFileSync(zip, x.body);
      /* ... but the manifest's SHA-256 is the file's name, and the recipient's check sees it */
      let v = await srv.run(['audit', 'verify', '--export', zip], {db: false});
      assert.equal(v.code, 1, v.stdout + v.stderr);
      assert.match(v.stdout + v.stderr, new RegExp(`evidence/${eid}/\\d+-notes\\.txt does not match its SHA-256 in the manifest`));
      /* and so does the store's own check, which names the evidence and clears the CRC */
      v = await srv.run(['store', 'verify'], {data: true});
      assert.equal(v.code, 1, v.stdout + v.stderr);
      assert.match(v.stdout, /store verify: \d+ stored files checked against their SHA-256 .*: \d+ intact, 1 damaged, 0 missing/);
      assert.match(v.stderr, new RegExp(`DAMAGED: the stored copy of ${sha} .*evidence ${eid} \\(notes\\.txt\\) of learner@demo\\.test`));
      assert.equal(srv.sql(`SELECT coalesce(crc32, -1) FROM blobs WHERE sha256 = '${sha}'`), '-1');
      /* so no later export passes it: a note stands in its place, and says why */
      const again = await exportOf(me);
      assert.equal(again.ended, 'complete');
      assert.ok(!again.body.includes(forgeSameCrc(data)), 'the export after the check still holds the forged copy');
      assert.match((await verifyZip(again.body)).stdout, /found damaged in the store/);
    } finally {
      fs.rmSync(dir, {recursive: true, force: true});
      await restore(sha, data);
    }
    /* restored: the check passed and recorded the CRC again */
    assert.equal(Number(srv.sql(`SELECT crc32 FROM blobs WHERE sha256 = '${sha}'`)), crc32(data));
    const x = await exportOf(me);
    assert.equal(x.ended, 'complete');
    assert.equal((await verifyZip(x.body)).code, 0);
  });

  test('store verify refuses a store that is not the centre\'s, and reports a missing file without changing its record', async () => {
    const before = srv.sql('SELECT sha256, coalesce(crc32, -1), coalesce(checked_at, \'\') FROM blobs ORDER BY sha256');
    const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'evitrack-not-the-store-'));
    try {
      const v = await srv.run(['store', 'verify', '--data', elsewhere]);
      assert.equal(v.code, 1, v.stdout + v.stderr);
      assert.match(v.stderr, /holds none of the first files the database .* records, so it is not this centre's store: give the server's --data \(or --store\)\. Nothing was checked or changed\./);
      assert.equal(srv.sql('SELECT sha256, coalesce(crc32, -1), coalesce(checked_at, \'\') FROM blobs ORDER BY sha256'), before);
    } finally {
      fs.rmSync(elsewhere, {recursive: true, force: true});
    }
    const learner = await srv.login('learner@demo.test');
    const {eid, sha, data} = await uploadNote(learner, 'Toolbox talk', 'Discussed manual handling with the team. ');
    srv.blobDelete(sha);
    try {
      const v = await srv.run(['store', 'verify'], {data: true});
      assert.equal(v.code, 1, v.stdout + v.stderr);
      assert.match(v.stdout, / 0 damaged, 1 missing;/);
      assert.match(v.stderr, new RegExp(`store verify: MISSING: ${sha} is not in the store \\(evidence ${eid} \\(notes\\.txt\\) of learner@demo\\.test\\)`));
      assert.equal(Number(srv.sql(`SELECT crc32 FROM blobs WHERE sha256 = '${sha}'`)), crc32(data), 'a missing file lost its CRC record');
    } finally {
      srv.blobWrite(sha, data);
    }
  });

  test('uploading the same file again replaces a stored copy found damaged', async () => {
    const learner = await srv.login('learner@demo.test');
    const text = 'Checked the fire exits before the shift. ';
    const {eid, sha, data} = await uploadNote(learner, 'Fire exits', text);
    const damaged = Buffer.from(data);
    damaged[5] ^= 0x01;
    srv.blobWrite(sha, damaged);
    const v = await srv.run(['store', 'verify'], {data: true});
    assert.equal(v.code, 1, v.stdout + v.stderr);
    assert.match(srv.sql(`SELECT damaged_at FROM blobs WHERE sha256 = '${sha}'`), /^\d{4}-/);
    /* the learner still has the file and uploads it again: its bytes hash to the name */
    const again = await uploadNote(learner, 'Fire exits, again', text);
    assert.equal(again.sha, sha);
    assert.ok(srv.blobRead(sha).equals(data), 'the damaged stored copy was kept');
    assert.equal(srv.sql(`SELECT coalesce(damaged_at, 'none') FROM blobs WHERE sha256 = '${sha}'`), 'none');
    assert.equal(Number(srv.sql(`SELECT crc32 FROM blobs WHERE sha256 = '${sha}'`)), crc32(data));
    assert.match(srv.stderr, new RegExp(`storage: replacing the damaged copy of ${sha} in .* with uploaded bytes that hash to it`));
    /* and the first piece of evidence is whole again too */
    const fid = Number(srv.sql(`SELECT id FROM evidence_files WHERE evidence_id = ${eid}`));
    const r = await learner.get(`/api/v1/evidence/${eid}/files/${fid}`);
    assertStatus(r, 200);
    assert.ok(Buffer.from(r.body).equals(data));
  });

  test('a double click does not start a second export for the same user', async () => {
    const first = await download(assessor, `/api/v1/learners/${ben}/export`, {pause: true});
    assert.equal(first.status, 200);
    const second = await assessor.get(`/api/v1/learners/${ben}/export`);
    assertStatus(second, 429);
    assert.equal(second.json.error.code, 'export_running');
    assert.match(second.headers['retry-after'], /^\d+$/);
    /* the first one still completes */
    const chunks = [];
    await new Promise((res, rej) => {
      first.res.on('data', (d) => chunks.push(d));
      first.res.on('end', res);
      first.res.on('error', rej);
      first.res.resume();
    });
    assert.ok(unzipList(Buffer.concat(chunks)).ok);
    /* and then a new one may start */
    await new Promise((res) => setTimeout(res, 100));
    const third = await download(assessor, `/api/v1/learners/${ben}/export`, {discard: true});
    assert.equal(third.status, 200);
  });

  test('at most --max-exports at once; a client that leaves frees its slot', async () => {
    const a = await download(admin, `/api/v1/qualifications/${q1}/export`, {pause: true});
    const b = await download(admin2, `/api/v1/qualifications/${q1}/export`, {pause: true});
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    const c = await assessor.get(`/api/v1/learners/${ben}/export`);
    assertStatus(c, 503);
    assert.equal(c.json.error.code, 'exports_busy');
    /* the page form of the answer is a page, not a crash */
    const page = await assessor.get(`/learners/${ben}/export`);
    assert.equal(page.status, 503);
    a.req.destroy();
    b.req.destroy();
    let ok = null;
    for (let i = 0; i < 50 && !ok; i++) {
      await new Promise((res) => setTimeout(res, 100));
      const r = await download(assessor, `/api/v1/learners/${ben}/export`, {discard: true});
      if (r.status === 200) ok = r;
    }
    assert.ok(ok, 'the slots of abandoned downloads came back');
    assert.match(srv.stderr, /export: .*(stopped|cannot write)/, 'the abandoned exports stopped');
  });

  test('other users are served while two cohort exports run (the probe)', async () => {
    const learner = await srv.login('learner@demo.test');
    const timeSome = async (n) => {
      const t = [];
      for (let i = 0; i < n; i++) {
        const t0 = process.hrtime.bigint();
        const r = await learner.get(i % 2 ? '/api/v1/me' : `/api/v1/learners/${learner.user.id}/progress`);
        assert.equal(r.status, 200);
        t.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
      return t.sort((x, y) => x - y);
    };
    const p99 = (a) => a[Math.min(a.length - 1, Math.floor(a.length * 0.99))];
    const base = await timeSome(60);
    let running = true;
    const exports = [admin, admin2].map(async (c) => {
      let n = 0;
      while (running && n < 50) {
        const r = await download(c, `/api/v1/qualifications/${q1}/export`, {discard: true});
        assert.equal(r.status, 200);
        n++;
      }
      return n;
    });
    await new Promise((res) => setTimeout(res, 100));
    const during = await timeSome(60);
    running = false;
    const rounds = await Promise.all(exports);
    const ratio = p99(during) / Math.max(p99(base), 1);
    console.log(`# probe: p99 of other users' requests ${p99(base).toFixed(1)} ms alone, ` +
      `${p99(during).toFixed(1)} ms during two cohort exports (${rounds.join('+')} rounds): ratio ${ratio.toFixed(2)} (budget <= 2)`);
    /* before the fix every request waited for a whole export (seconds); the budget itself
     * (<= 2x) is judged by tests/bench/export.sh, not here on a shared machine */
    assert.ok(during[during.length - 1] < 2000, `slowest request during exports: ${during[during.length - 1]} ms`);
  });
});

describe('housekeeping', () => {
  /* Plants files by path and ages them with utimes: the directory store's case (on an S3
   * store gc's listing is tested in tests/s3 and the storage unit test). */
  test('start-up sweeps old temporary uploads and export files, keeps fresh ones, and says so; stored files are collected on a schedule', {skip: process.env.EVITRACK_TEST_S3_DIR ? 'directory store only' : false}, async () => {
    const tmp = path.join(srv.dataDir, 'tmp');
    fs.mkdirSync(tmp, {recursive: true});
    const old = new Date(Date.now() - 2 * 3600 * 1000);
    for (const name of ['upload-crash1', 'upload-crash2', 'export-AbC123', 'x.zip.tmp-1234']) {
      fs.writeFileSync(path.join(tmp, name), 'left by a kill -9');
      fs.utimesSync(path.join(tmp, name), old, old);
    }
    fs.writeFileSync(path.join(tmp, 'upload-inflight'), 'an upload in progress');
    /* an unreferenced blob, as a crash between rename and commit leaves it */
    const sha = 'ab'.repeat(32);
    const orphan = path.join(srv.dataDir, 'blobs', 'ab', sha);
    fs.mkdirSync(path.dirname(orphan), {recursive: true});
    fs.writeFileSync(orphan, 'orphan');
    fs.utimesSync(orphan, old, old);
    const keep = seedPortfolio(srv, 'learner3@demo.test', {files: 1, sizeBytes: 1024, tag: 'keep'}).paths[0];
    fs.utimesSync(keep, old, old);

    /* a file marked damaged and checked a moment ago: not due, but each round reminds */
    const marked = srv.sql(`SELECT sha256 FROM blobs WHERE sha256 <> '${path.basename(keep)}' ORDER BY sha256 LIMIT 1`);
    const markedWas = srv.sql(`SELECT coalesce(checked_at, '') FROM blobs WHERE sha256 = '${marked}'`);
    srv.sql(`UPDATE blobs SET damaged_at = '2026-11-30T00:00:00Z', checked_at = '2999-01-01T00:00:00Z' WHERE sha256 = '${marked}'`);
    const second = await startServer({args: ['--db', srv.dbPath, '--data', srv.dataDir, '--gc-interval', '1']});
    try {
      assert.match(second.stderr, /start-up sweep: removed 2 temporary uploads and 2 export files \(\d+ bytes\)/);
      assert.deepEqual(fs.readdirSync(tmp).sort(), ['upload-inflight']);
      for (let i = 0; i < 200 && fs.existsSync(orphan); i++) await new Promise((res) => setTimeout(res, 100));
      assert.ok(!fs.existsSync(orphan), 'the unreferenced blob was collected');
      assert.ok(fs.existsSync(keep), 'a referenced blob stays');
      assert.match(second.stderr, /gc: removed 1 unreferenced stored file/);
      /* the scrub's round: stored files never checked are read and checked against their
       * SHA-256; one damaged behind evitrack's back is named and loses its CRC record */
      const keepSha = path.basename(keep);
      /* (the housekeeping thread runs at nice 10: on a busy machine a round can take a while) */
      for (let i = 0; i < 200 && !/scrub: \d+ stored files? checked/.test(second.stderr); i++) {
        await new Promise((res) => setTimeout(res, 100));
      }
      assert.match(second.stderr, /scrub: \d+ stored files? checked against (its|their) SHA-256 \([\d.]+ MB in \d+ ms\): \d+ intact, 0 damaged, 0 missing/);
      /* the next rounds have nothing due, and say so */
      for (let i = 0; i < 200 && !/scrub: still marked damaged|scrub: 1 stored file is still marked damaged/.test(
        second.stderr.slice(second.stderr.indexOf('scrub: nothing due'))); i++) {
        await new Promise((res) => setTimeout(res, 100));
      }
      assert.match(second.stderr, /scrub: nothing due: every stored file was checked against its SHA-256 within the last 30 days/);
      assert.match(second.stderr, /scrub: 1 stored file is still marked damaged: restore it from a backup, then run `evitrack store verify`/);
      assert.match(srv.sql(`SELECT checked_at FROM blobs WHERE sha256 = '${keepSha}'`), /^\d{4}-/);
      assertStatus(await second.client().get('/healthz'), 200);
    } finally {
      await second.stop();
      srv.sql(`UPDATE blobs SET damaged_at = NULL, checked_at = ${markedWas ? `'${markedWas}'` : 'NULL'} WHERE sha256 = '${marked}'`);
    }
  });
});
