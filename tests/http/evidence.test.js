// tests/http/evidence.test.js: evidence uploads (streamed, hashed, content-addressed),
// file serving, mapping to criteria, submission, locking after assessment, access rules,
// limits and bad bodies leaving nothing behind, and `evitrack gc`.
'use strict';
const {test, before, after, describe} = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const {startServer, assertStatus, encodeMultipart, runCli} = require('./lib.js');

const PASSWORD = 'evidence-test-pass-1';
const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

// A 1x1 PNG.
const PNG = Buffer.from(
  '89504e470d0a1a0a0000000d49484452000000010000000108020000009077' +
  '53de0000000c49444154789c63f8cfc000000301010000c9fe92ef0000000049454e44ae426082', 'hex');
const PDF = Buffer.from('%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n');

/* A zip archive of stored (uncompressed) entries [{name, data}]: enough for office files. */
function zip(entries) {
  const zlib = require('node:zlib');
  const locals = [];
  const centrals = [];
  let off = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const data = Buffer.from(e.data);
    const crc = zlib.crc32(data);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0); lh.writeUInt16LE(20, 4); lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(data.length, 18); lh.writeUInt32LE(data.length, 22); lh.writeUInt16LE(name.length, 26);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0); ch.writeUInt16LE(20, 4); ch.writeUInt16LE(20, 6); ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(data.length, 20); ch.writeUInt32LE(data.length, 24); ch.writeUInt16LE(name.length, 28);
    ch.writeUInt32LE(off, 42);
    locals.push(lh, name, data);
    centrals.push(ch, name);
    off += 30 + name.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(entries.length, 8); end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12); end.writeUInt32LE(off, 16);
  return Buffer.concat([...locals, cd, end]);
}

/* Every regular file under dir (relative paths), [] when dir does not exist. */
function filesUnder(dir) {
  const out = [];
  const walk = (d) => {
    if (!fs.existsSync(d)) return;
    for (const e of fs.readdirSync(d, {withFileTypes: true})) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p); else out.push(path.relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

/* Users, a qualification the learners are enrolled on (two units) and one they are not. */
async function setup(srv) {
  const add = async (email, name, role) => {
    const r = await srv.run(['user', 'add', '--email', email, '--name', name, '--role', role],
      {input: PASSWORD + '\n'});
    assert.equal(r.code, 0, `user add ${email}: ${r.stderr}`);
  };
  await add('ann@ev.test', 'Ann Learner', 'learner');
  await add('bob@ev.test', 'Bob Learner', 'learner');
  await add('sam@ev.test', 'Sam Assessor', 'assessor');
  await add('tia@ev.test', 'Tia Assessor', 'assessor');
  await add('ada@ev.test', 'Ada Admin', 'admin');
  srv.sql(`
    INSERT INTO qualifications (code, title, awarding_body, level) VALUES
      ('EVQ-IN', 'Diploma in Evidence', 'Test Body', '2'),
      ('EVQ-OUT', 'Certificate Elsewhere', 'Test Body', '3');
    INSERT INTO units (qualification_id, ref, title, position)
      SELECT id, 'U1', 'Customer service', 1 FROM qualifications WHERE code = 'EVQ-IN';
    INSERT INTO units (qualification_id, ref, title, position)
      SELECT id, 'U2', 'Health and safety', 2 FROM qualifications WHERE code = 'EVQ-IN';
    INSERT INTO units (qualification_id, ref, title, position)
      SELECT id, 'X1', 'Elsewhere', 1 FROM qualifications WHERE code = 'EVQ-OUT';
    INSERT INTO outcomes (unit_id, number, text) SELECT id, 1, 'Understand ' || title FROM units;
    INSERT INTO criteria (unit_id, outcome_id, ref, text, position)
      SELECT u.id, o.id, '1.1', 'Describe ' || u.title, 1 FROM units u JOIN outcomes o ON o.unit_id = u.id;
    INSERT INTO criteria (unit_id, outcome_id, ref, text, position)
      SELECT u.id, o.id, '1.2', 'Explain ' || u.title, 2 FROM units u JOIN outcomes o ON o.unit_id = u.id;
  `);
  for (const [learner, assessor] of [['ann@ev.test', 'sam@ev.test'], ['bob@ev.test', 'tia@ev.test']]) {
    const r = await srv.run(['enrol', '--learner', learner, '--qualification', 'EVQ-IN', '--assessor', assessor]);
    assert.equal(r.code, 0, `enrol ${learner}: ${r.stderr}`);
  }
  const crit = (code) => srv.sqlRows(`SELECT c.id, c.unit_id FROM criteria c JOIN units u ON u.id = c.unit_id
    JOIN qualifications q ON q.id = u.qualification_id WHERE q.code = '${code}' ORDER BY u.position, c.position`);
  return {inside: crit('EVQ-IN'), outside: crit('EVQ-OUT')};
}

let srv, ann, bob, sam, tia, ada, crit;

before(async () => {
  srv = await startServer();
  crit = await setup(srv);
  ann = await srv.login('ann@ev.test', PASSWORD);
  bob = await srv.login('bob@ev.test', PASSWORD);
  sam = await srv.login('sam@ev.test', PASSWORD);
  tia = await srv.login('tia@ev.test', PASSWORD);
  ada = await srv.login('ada@ev.test', PASSWORD);
});
after(() => srv && srv.stop());

/* What is left in data/tmp. The server removes refused uploads' temporary files before
 * it answers, so this is checked at once; with `wait` (a dropped connection, which gets
 * no answer) it polls for up to 2 s. */
async function tmpLeft(dir, wait = false) {
  for (let i = 0; wait && i < 40 && filesUnder(dir).length; i++) await new Promise((r) => setTimeout(r, 50));
  return filesUnder(dir);
}

const tmpDir = () => path.join(srv.dataDir, 'tmp');
const rowCount = (table) => Number(srv.sql(`SELECT count(*) FROM ${table}`));

async function create(c, fields, files) {
  return c.upload('/api/v1/evidence', {title: 'Evidence', kind: 'product', ...fields}, files);
}

describe('uploads', () => {
  test('a small file round-trips byte for byte with its SHA-256', async () => {
    const data = Buffer.from('I greeted the customer, listened, and resolved the complaint.\n');
    const r = await create(ann, {title: 'Complaint handled', occurred_on: '2026-01-15',
      description: 'At the front desk'}, [{name: 'notes.txt', type: 'text/plain', data}]);
    assertStatus(r, 201);
    assert.ok(Number.isInteger(r.json.id));
    assert.equal(r.json.files.length, 1);
    const f = r.json.files[0];
    assert.equal(f.name, 'notes.txt');
    assert.equal(f.size, data.length);
    assert.equal(f.sha256, sha256(data));
    assert.equal(f.mime, 'text/plain');
    assert.equal(r.json.status, 'draft');
    // stored content-addressed
    assert.deepEqual(srv.blobRead(f.sha256), data);
    // served back
    const g = await ann.get(`/api/v1/evidence/${r.json.id}/files/${f.id}`);
    assertStatus(g, 200);
    assert.deepEqual(g.body, data);
    assert.match(g.headers['content-type'], /^text\/plain/);
    assert.equal(g.headers['x-content-type-options'], 'nosniff');
    assert.match(g.headers['content-disposition'], /^attachment;/);
    assert.match(g.headers['content-disposition'], /filename\*=UTF-8''notes\.txt/);
    // the item as the API shows it
    const s = await ann.get(`/api/v1/evidence/${r.json.id}`);
    assertStatus(s, 200);
    assert.equal(s.json.title, 'Complaint handled');
    assert.equal(s.json.occurred_on, '2026-01-15');
    assert.equal(s.json.kind, 'product');
    assert.equal(s.json.files[0].sha256, f.sha256);
    assert.deepEqual(s.json.criteria, []);
  });

  test('a large file (24 MB) round-trips byte for byte', async () => {
    const data = Buffer.concat([Buffer.from('%PDF-1.5\n'), crypto.randomBytes(24 * 1024 * 1024)]);
    const r = await create(ann, {title: 'Big scan'}, [{name: 'scan.pdf', type: 'application/pdf', data}]);
    assertStatus(r, 201);
    const f = r.json.files[0];
    assert.equal(f.size, data.length);
    assert.equal(f.sha256, sha256(data));
    assert.equal(f.mime, 'application/pdf');
    const g = await ann.get(`/api/v1/evidence/${r.json.id}/files/${f.id}`);
    assertStatus(g, 200);
    assert.equal(g.body.length, data.length);
    assert.equal(sha256(g.body), f.sha256);
    assert.match(g.headers['content-disposition'], /^inline;/, 'a PDF may be previewed');
    const d = await ann.get(`/api/v1/evidence/${r.json.id}/files/${f.id}?download=1`);
    assert.match(d.headers['content-disposition'], /^attachment;/);
    // byte ranges, so previews can seek
    const url = `/api/v1/evidence/${r.json.id}/files/${f.id}`;
    assert.equal(g.headers['accept-ranges'], 'bytes');
    const part = await ann.get(url, {headers: {Range: 'bytes=1000-1999'}});
    assertStatus(part, 206);
    assert.equal(part.headers['content-range'], `bytes 1000-1999/${data.length}`);
    assert.deepEqual(part.body, data.subarray(1000, 2000));
    const tailPart = await ann.get(url, {headers: {Range: 'bytes=-16'}});
    assertStatus(tailPart, 206);
    assert.deepEqual(tailPart.body, data.subarray(data.length - 16));
    const open = await ann.get(url, {headers: {Range: `bytes=${data.length - 5}-`}});
    assert.deepEqual(open.body, data.subarray(data.length - 5));
    const beyond = await ann.get(url, {headers: {Range: `bytes=${data.length}-`}});
    assertStatus(beyond, 416);
    assert.equal(beyond.headers['content-range'], `bytes */${data.length}`);
    const multi = await ann.get(url, {headers: {Range: 'bytes=0-1,5-6'}});
    assertStatus(multi, 200); // several ranges: the whole file
    assert.equal(multi.body.length, data.length);
    assert.deepEqual(await tmpLeft(tmpDir()), [], 'no temporary file left');
  });

  test('several files in one request, each sniffed', async () => {
    const txt = Buffer.from('Witness: she handled it well.\n');
    const r = await create(ann, {title: 'Three files'}, [
      {name: 'photo.png', type: 'image/png', data: PNG},
      {name: 'report.pdf', type: 'application/pdf', data: PDF},
      // the declared type and the name do not decide: the bytes do
      {name: 'statement.txt', type: 'image/png', data: txt},
    ]);
    assertStatus(r, 201);
    assert.deepEqual(r.json.files.map((f) => [f.name, f.mime, f.sha256]), [
      ['photo.png', 'image/png', sha256(PNG)],
      ['report.pdf', 'application/pdf', sha256(PDF)],
      ['statement.txt', 'text/plain', sha256(txt)],
    ]);
    const [png, , t] = r.json.files;
    const gp = await ann.get(`/api/v1/evidence/${r.json.id}/files/${png.id}`);
    assert.deepEqual(gp.body, PNG);
    assert.equal(gp.headers['content-type'], 'image/png');
    assert.match(gp.headers['content-disposition'], /^inline;/);
    const gt = await ann.get(`/api/v1/evidence/${r.json.id}/files/${t.id}`);
    assert.match(gt.headers['content-disposition'], /^attachment;/);
    assert.equal(rowCount(`evidence_files WHERE evidence_id = ${r.json.id}`), 3);
  });

  test('office files are accepted as downloads; a plain zip archive is refused', async () => {
    const ct = '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"></Types>';
    const docx = zip([{name: '[Content_Types].xml', data: ct}, {name: '_rels/.rels', data: '<x/>'},
      {name: 'word/document.xml', data: '<w:document/>'}]);
    const r = await create(ann, {title: 'Office file'}, [{name: 'Report.docx', data: docx}]);
    assertStatus(r, 201);
    assert.equal(r.json.files[0].mime, 'application/vnd.openxmlformats-officedocument.wordprocessingml.document');
    assert.equal(r.json.files[0].download_only, true);
    const g = await ann.get(`/api/v1/evidence/${r.json.id}/files/${r.json.files[0].id}`);
    assert.match(g.headers['content-disposition'], /^attachment;/);
    assert.deepEqual(g.body, docx);
    const z = await create(ann, {title: 'Archive'}, [{name: 'stuff.zip', data: zip([{name: 'a.txt', data: 'a'}])}]);
    assertStatus(z, 415);
  });

  test('the original name comes back RFC 5987-encoded', async () => {
    const name = 'Café “menu” ½.txt';
    const r = await create(ann, {title: 'Unicode name'}, [{name, data: 'menu of the day\n'}]);
    assertStatus(r, 201);
    assert.equal(r.json.files[0].name, name);
    const g = await ann.get(`/api/v1/evidence/${r.json.id}/files/${r.json.files[0].id}`);
    const cd = g.headers['content-disposition'];
    assert.match(cd, /filename="[\x20-\x7e]+"/, 'an ASCII fallback');
    const m = /filename\*=UTF-8''([^;]+)/.exec(cd);
    assert.ok(m, cd);
    assert.equal(decodeURIComponent(m[1]), name);
  });

  test('an identical file is stored once', async () => {
    const data = crypto.randomBytes(5000);
    const pdf = Buffer.concat([Buffer.from('%PDF-1.4\n'), data]);
    const a = await create(ann, {title: 'First copy'}, [{name: 'a.pdf', data: pdf}]);
    const b = await create(ann, {title: 'Second copy'}, [{name: 'b.pdf', data: pdf}]);
    const c = await create(bob, {title: 'Bob copy'}, [{name: 'c.pdf', data: pdf}]);
    for (const r of [a, b, c]) assertStatus(r, 201);
    const h = sha256(pdf);
    assert.equal(a.json.files[0].sha256, h);
    assert.equal(b.json.files[0].sha256, h);
    assert.equal(srv.blobs().filter((b) => b === h).length, 1);
    assert.equal(rowCount(`blobs WHERE sha256 = '${h}'`), 1);
    assert.equal(rowCount(`evidence_files WHERE sha256 = '${h}'`), 3);
  });

  test('HTML, SVG and scripts are refused (415) and nothing is kept', async () => {
    const before = srv.blobs();
    const rows = rowCount('evidence');
    for (const [name, data] of [
      ['page.txt', '<!DOCTYPE html><html><body><script>alert(1)</script></body></html>\n'],
      ['pic.png', '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>\n'],
      ['run.txt', '#!/bin/sh\necho hi\n'],
      ['tool.js', 'console.log(1)\n'],
    ]) {
      const r = await create(ann, {title: 'Bad'}, [{name, data}, {name: 'ok.txt', data: 'fine\n'}]);
      assertStatus(r, 415, name);
      assert.equal(r.json.error.code, 'unsupported_type');
      assert.ok(r.json.error.message.includes(name), r.json.error.message);
    }
    assert.deepEqual(srv.blobs(), before);
    assert.deepEqual(await tmpLeft(tmpDir()), []);
    assert.equal(rowCount('evidence'), rows);
  });

  test('a typed reflective account needs no file; a product does', async () => {
    const r = await ann.upload('/api/v1/evidence', {title: 'Reflection', kind: 'reflective_account',
      body: 'Today I learned to keep calm with an angry customer.'}, []);
    assertStatus(r, 201);
    assert.equal(r.json.files.length, 0);
    assert.match(r.json.body, /keep calm/);
    const j = await ann.post('/api/v1/evidence', {title: 'JSON testimony', kind: 'witness_testimony', body: 'Seen it.'});
    assertStatus(j, 201);
    const p = await ann.upload('/api/v1/evidence', {title: 'No file', kind: 'product'}, []);
    assertStatus(p, 400);
    assert.ok(p.json.errors.some((e) => e.field === 'file'));
  });

  test('fields that are not text are 400', async () => {
    for (const body of [{title: 5, kind: 'product'}, {title: 't', kind: 'reflective_account', body: 'b', occurred_on: 20260101},
      {title: 't', kind: 'reflective_account', body: 'b', description: {}}]) {
      const r = await ann.post('/api/v1/evidence', body);
      assertStatus(r, 400, JSON.stringify(body));
    }
  });

  test('bad fields are 400 with per-field errors', async () => {
    const r = await ann.upload('/api/v1/evidence', {title: '', kind: 'essay', occurred_on: '2999-01-01'},
      [{name: 'a.txt', data: 'x\n'}]);
    assertStatus(r, 400);
    const fields = r.json.errors.map((e) => e.field).sort();
    assert.deepEqual(fields, ['kind', 'occurred_on', 'title']);
    assert.deepEqual(await tmpLeft(tmpDir()), []);
  });

  test('only learners add evidence', async () => {
    const r = await create(sam, {title: 'Assessor upload'}, [{name: 'a.txt', data: 'x\n'}]);
    assertStatus(r, 403);
  });
});

describe('limits and bad bodies', () => {
  let small;
  before(async () => {
    small = await startServer({args: ['--max-upload-mb', '1', '--max-request-mb', '3']});
    await setup(small);
  });
  after(() => small && small.stop());

  const nothingKept = async (s, rows, wait = false) => {
    assert.deepEqual(await tmpLeft(path.join(s.dataDir, 'tmp'), wait), []);
    assert.deepEqual(s.blobs(), []);
    assert.deepEqual(filesUnder(path.join(s.dataDir, 'tmp')), []);
    assert.equal(Number(s.sql('SELECT count(*) FROM evidence')), rows);
    assert.equal(Number(s.sql('SELECT count(*) FROM evidence_files')), 0);
  };

  test('a file over --max-upload-mb is 413 and nothing is kept', async () => {
    const c = await small.login('ann@ev.test', PASSWORD);
    const big = Buffer.concat([Buffer.from('%PDF-1.4\n'), crypto.randomBytes(1024 * 1024 + 10)]);
    const r = await c.upload('/api/v1/evidence', {title: 'Too big', kind: 'product'},
      [{name: 'ok.txt', data: 'fine\n'}, {name: 'big.pdf', data: big}]);
    assertStatus(r, 413);
    assert.equal(r.json.error.code, 'file_too_large');
    assert.match(r.json.error.message, /1 MB/);
    await nothingKept(small, 0);
  });

  test('a request over the per-request limit is 413 before its body is read, and nothing is kept', async () => {
    const c = await small.login('ann@ev.test', PASSWORD);
    const mp = encodeMultipart([['title', 'Too much'], ['kind', 'product']], [0, 1, 2, 3].map((i) => ({name: `p${i}.pdf`,
      data: Buffer.concat([Buffer.from('%PDF-1.4\n'), crypto.randomBytes(900 * 1024)])})));
    // The server answers from the headers and closes: a client still sending may see the
    // connection reset instead of the answer, so send the headers alone and read.
    const url = new URL(small.url);
    const answer = await new Promise((resolve, reject) => {
      let got = '';
      const sock = net.connect(Number(url.port), url.hostname, () => {
        sock.write(`POST /api/v1/evidence HTTP/1.1\r\nHost: ${url.host}\r\nCookie: ${c.cookieHeader()}\r\n` +
          `X-CSRF-Token: ${c.csrf}\r\nContent-Type: ${mp.contentType}\r\nContent-Length: ${mp.body.length}\r\n\r\n`);
        sock.write(mp.body.subarray(0, 1000));
      });
      sock.setEncoding('utf8');
      sock.on('data', (d) => { got += d; if (/\r\n\r\n[\s\S]*\}/.test(got)) { sock.destroy(); resolve(got); } });
      sock.on('error', (e) => (got ? resolve(got) : reject(e)));
      sock.on('close', () => resolve(got));
    });
    assert.match(answer, /^HTTP\/1\.1 413 /, answer.slice(0, 200));
    assert.match(answer, /request_too_large/);
    await nothingKept(small, 0);
    // through the client as well: 413, or the connection reset while sending (never a 2xx)
    try {
      const r = await c.upload('/api/v1/evidence', {title: 'Too much', kind: 'product'},
        [{name: 'big.pdf', data: mp.body}]);
      assertStatus(r, 413);
    } catch (e) {
      assert.match(e.message, /EPIPE|ECONNRESET|socket|fetch failed/);
    }
    await nothingKept(small, 0, true);
  });

  test('a multipart body cut short is 400 and nothing is kept', async () => {
    const c = await small.login('ann@ev.test', PASSWORD);
    const mp = encodeMultipart([['title', 'Cut'], ['kind', 'product']],
      [{name: 'a.pdf', data: Buffer.concat([Buffer.from('%PDF-1.4\n'), crypto.randomBytes(200000)])}]);
    const body = mp.body.subarray(0, mp.body.length - 5000); // no closing boundary
    const r = await c.request('POST', '/api/v1/evidence', {body, contentType: mp.contentType});
    assertStatus(r, 400);
    await nothingKept(small, 0);
  });

  test('a connection dropped mid-upload leaves nothing', async () => {
    const c = await small.login('ann@ev.test', PASSWORD);
    const mp = encodeMultipart([['title', 'Dropped'], ['kind', 'product']],
      [{name: 'a.pdf', data: Buffer.concat([Buffer.from('%PDF-1.4\n'), crypto.randomBytes(600000)])}]);
    const url = new URL(small.url);
    await new Promise((resolve) => {
      const sock = net.connect(Number(url.port), url.hostname, () => {
        sock.write(`POST /api/v1/evidence HTTP/1.1\r\nHost: ${url.host}\r\nCookie: ${c.cookieHeader()}\r\n` +
          `X-CSRF-Token: ${c.csrf}\r\nContent-Type: ${mp.contentType}\r\nContent-Length: ${mp.body.length}\r\n\r\n`);
        sock.write(mp.body.subarray(0, 300000), () => setTimeout(() => { sock.destroy(); resolve(); }, 200));
      });
      sock.on('error', resolve);
    });
    await nothingKept(small, 0, true);
    // and the server still works
    const ok = await c.upload('/api/v1/evidence', {title: 'After', kind: 'product'}, [{name: 'a.txt', data: 'x\n'}]);
    assertStatus(ok, 201);
  });

  test('a malformed multipart body (bad boundary) is 400', async () => {
    const c = await small.login('ann@ev.test', PASSWORD);
    const r = await c.request('POST', '/api/v1/evidence', {body: 'this is not multipart at all',
      contentType: 'multipart/form-data; boundary=zzz'});
    assert.ok(r.status === 400, `expected 400, got ${r.status}: ${r.text}`);
  });
});

describe('mapping, submission and locking', () => {
  let ev;
  before(async () => {
    const r = await create(ann, {title: 'Safety walk'}, [{name: 'walk.txt', data: 'I checked the exits.\n'}]);
    assertStatus(r, 201);
    ev = r.json.id;
  });

  test('maps to criteria across units with a note each', async () => {
    const [a, , c] = crit.inside;
    assert.notEqual(a.unit_id, c.unit_id);
    const r = await ann.put(`/api/v1/evidence/${ev}/criteria`, {criteria: [
      {criterion_id: a.id, note: 'I described how I serve customers.'},
      {criterion_id: c.id, note: 'I walked the fire exits.'},
    ]});
    assertStatus(r, 200);
    assert.deepEqual(r.json.criteria.map((x) => [x.criterion_id, x.note]).sort((x, y) => x[0] - y[0]),
      [[a.id, 'I described how I serve customers.'], [c.id, 'I walked the fire exits.']]);
    assert.equal(srv.sql(`SELECT status FROM criterion_status WHERE learner_id = ${ann.user.id} AND criterion_id = ${a.id}`),
      'mapped');
    // replaced, not added to
    const r2 = await ann.put(`/api/v1/evidence/${ev}/criteria`, {criteria: [{criterion_id: c.id, note: 'Exits.'}]});
    assertStatus(r2, 200);
    assert.deepEqual(r2.json.criteria.map((x) => x.criterion_id), [c.id]);
    assert.equal(srv.sql(`SELECT status FROM criterion_status WHERE learner_id = ${ann.user.id} AND criterion_id = ${a.id}`),
      'not_started');
    assert.ok(rowCount(`audit_events WHERE action = 'evidence.map' AND entity_id = ${ev}`) >= 2);
  });

  test('a criterion outside the enrolment is 400 and changes nothing', async () => {
    const before = srv.sql(`SELECT criterion_id FROM evidence_criteria WHERE evidence_id = ${ev} ORDER BY criterion_id`);
    const r = await ann.put(`/api/v1/evidence/${ev}/criteria`, {criteria: [
      {criterion_id: crit.inside[0].id, note: 'ok'}, {criterion_id: crit.outside[0].id, note: 'not mine'}]});
    assertStatus(r, 400);
    assert.equal(r.json.error.code, 'criterion_not_enrolled');
    const r2 = await ann.put(`/api/v1/evidence/${ev}/criteria`, {criteria: [{criterion_id: 999999}]});
    assertStatus(r2, 400);
    const r3 = await ann.put(`/api/v1/evidence/${ev}/criteria`, {criteria: 'all'});
    assertStatus(r3, 400);
    assertStatus(await ann.put(`/api/v1/evidence/${ev}/criteria`, {}), 400, 'no criteria key: not a clear-all');
    assertStatus(await ann.put(`/api/v1/evidence/${ev}/criteria`, {criteria: [{criterion_id: 'x'}]}), 400);
    assert.equal(srv.sql(`SELECT criterion_id FROM evidence_criteria WHERE evidence_id = ${ev} ORDER BY criterion_id`), before);
  });

  test('submit needs a mapping, then puts it in the queue', async () => {
    const bare = await create(ann, {title: 'Unmapped'}, [{name: 'u.txt', data: 'u\n'}]);
    const s0 = await ann.post(`/api/v1/evidence/${bare.json.id}/submit`);
    assertStatus(s0, 400);
    assert.equal(s0.json.error.code, 'no_criteria');

    const s = await ann.post(`/api/v1/evidence/${ev}/submit`);
    assertStatus(s, 200);
    assert.equal(s.json.status, 'submitted');
    assert.match(s.json.submitted_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const c = crit.inside[2];
    assert.equal(srv.sql(`SELECT status FROM criterion_status WHERE learner_id = ${ann.user.id} AND criterion_id = ${c.id}`),
      'submitted');
    const again = await ann.post(`/api/v1/evidence/${ev}/submit`);
    assertStatus(again, 409);
    // while it waits in the queue it cannot change
    const m = await ann.put(`/api/v1/evidence/${ev}/criteria`, {criteria: []});
    assertStatus(m, 409);
    assert.equal(m.json.error.code, 'evidence_submitted');
    // listed as submitted
    const l = await ann.get(`/api/v1/learners/${ann.user.id}/evidence`, {query: {status: 'submitted'}});
    assertStatus(l, 200);
    assert.ok(l.json.evidence.some((x) => x.id === ev && x.status === 'submitted' && x.criteria_count === 1));
    for (const action of ['evidence.create', 'evidence.map', 'evidence.submit']) {
      assert.ok(rowCount(`audit_events WHERE action = '${action}' AND entity_id = ${ev}`) >= 1, action);
    }
    const v = await srv.run(['audit', 'verify']);
    if (!/unknown command/.test(v.stderr)) assert.equal(v.code, 0, v.stdout + v.stderr);
  });

  test('withdraw brings a submission back to draft', async () => {
    const r = await create(ann, {title: 'To withdraw'}, [{name: 'w.txt', data: 'w\n'}]);
    await ann.put(`/api/v1/evidence/${r.json.id}/criteria`, {criteria: [{criterion_id: crit.inside[1].id, note: 'n'}]});
    assertStatus(await ann.post(`/api/v1/evidence/${r.json.id}/submit`), 200);
    const w = await ann.post(`/api/v1/evidence/${r.json.id}/withdraw`);
    assertStatus(w, 200);
    assert.equal(w.json.status, 'draft');
  });

  test('after an assessor has decided, files and mapping are fixed (409)', async () => {
    const r = await create(ann, {title: 'Assessed one'}, [{name: 'a.txt', data: 'assessed\n'}]);
    const id = r.json.id;
    const fid = r.json.files[0].id;
    const c = crit.inside[0];
    await ann.put(`/api/v1/evidence/${id}/criteria`, {criteria: [{criterion_id: c.id, note: 'n'}]});
    assertStatus(await ann.post(`/api/v1/evidence/${id}/submit`), 200);
    srv.sql(`INSERT INTO decisions (learner_id, criterion_id, assessor_id, outcome, feedback, created_at)
               VALUES (${ann.user.id}, ${c.id}, ${sam.user.id}, 'met', 'Good', '2026-02-01T10:00:00Z');
             INSERT INTO decision_evidence (decision_id, evidence_id) VALUES ((SELECT max(id) FROM decisions), ${id});
             UPDATE evidence SET status = 'assessed' WHERE id = ${id};`);
    const tries = [
      ann.put(`/api/v1/evidence/${id}/criteria`, {criteria: [{criterion_id: crit.inside[1].id}]}),
      ann.patch(`/api/v1/evidence/${id}`, {title: 'Changed'}),
      ann.upload(`/api/v1/evidence/${id}/files`, {}, [{name: 'more.txt', data: 'more\n'}]),
      ann.del(`/api/v1/evidence/${id}/files/${fid}`),
      ann.del(`/api/v1/evidence/${id}`),
      ann.post(`/api/v1/evidence/${id}/submit`),
      ann.postForm(`/evidence/${id}/criteria`, {mapping: '1'}),
    ];
    for (const t of await Promise.all(tries)) {
      assertStatus(t, 409);
    }
    const s = await ann.get(`/api/v1/evidence/${id}`);
    assert.equal(s.json.title, 'Assessed one');
    assert.equal(s.json.files.length, 1);
    assert.deepEqual(s.json.criteria.map((x) => x.criterion_id), [c.id]);
    assert.equal(s.json.editable, false);
    assert.deepEqual(await tmpLeft(tmpDir()), []);
  });

  test("with the assessor's decisions: returned is editable and resubmitted, assessed is fixed", async () => {
    const r = await create(ann, {title: 'Round trip'}, [{name: 'rt.txt', data: 'round trip\n'}]);
    const id = r.json.id;
    const [a, b] = crit.inside;
    await ann.put(`/api/v1/evidence/${id}/criteria`, {criteria: [{criterion_id: a.id, note: 'a'}, {criterion_id: b.id, note: 'b'}]});
    assertStatus(await ann.post(`/api/v1/evidence/${id}/submit`), 200);
    const decide = (criterion, outcome) => sam.post('/api/v1/decisions', {learner_id: ann.user.id, criterion_id: criterion,
      outcome, feedback: outcome === 'met' ? 'Good.' : 'Say more about how.', evidence_ids: [id],
      vacsr: {valid: true, authentic: true, current: true, sufficient: true, reliable: true}, declaration: true});
    const d1 = await decide(a.id, 'met');
    const d2 = await decide(b.id, 'not_met');
    if (d1.status === 404 || d2.status === 404) return; // the decisions module is not there
    assertStatus(d1, 201);
    assertStatus(d2, 201);
    let s = (await ann.get(`/api/v1/evidence/${id}`)).json;
    assert.equal(s.status, 'returned');
    assert.equal(s.editable, true);
    assert.equal(s.decisions.length, 2);
    assertStatus(await ann.patch(`/api/v1/evidence/${id}`, {description: 'Now with more detail.'}), 200);
    assertStatus(await ann.post(`/api/v1/evidence/${id}/submit`), 200);
    // a new round: every mapped criterion is decided again
    assertStatus(await decide(a.id, 'met'), 201);
    assertStatus(await decide(b.id, 'met'), 201);
    s = (await ann.get(`/api/v1/evidence/${id}`)).json;
    assert.equal(s.status, 'assessed');
    assertStatus(await ann.patch(`/api/v1/evidence/${id}`, {description: 'too late'}), 409);
    assertStatus(await ann.del(`/api/v1/evidence/${id}`), 409);
  });

  test('a draft can be edited: fields, files added and removed, audited', async () => {
    const r = await create(ann, {title: 'Draft to edit'}, [{name: 'one.txt', data: 'one\n'}]);
    const id = r.json.id;
    const p = await ann.patch(`/api/v1/evidence/${id}`, {title: 'Edited title', occurred_on: '2026-02-02'});
    assertStatus(p, 200);
    assert.equal(p.json.title, 'Edited title');
    assert.equal(p.json.kind, 'product');
    const add = await ann.upload(`/api/v1/evidence/${id}/files`, {remove_file: String(r.json.files[0].id)},
      [{name: 'two.png', data: PNG}]);
    assertStatus(add, 200);
    assert.deepEqual(add.json.files.map((f) => f.name), ['two.png']);
    const mp = await ann.upload(`/api/v1/evidence/${id}`, {description: 'multipart PATCH'},
      [{name: 'three.txt', data: 'three\n'}], {method: 'PATCH'});
    assertStatus(mp, 200);
    assert.equal(mp.json.description, 'multipart PATCH');
    assert.deepEqual(mp.json.files.map((f) => f.name), ['two.png', 'three.txt']);
    assertStatus(await ann.del(`/api/v1/evidence/${id}/files/${mp.json.files[1].id}`), 200);
    const del = await ann.del(`/api/v1/evidence/${id}/files/${add.json.files[0].id}`);
    assertStatus(del, 200);
    assert.equal(del.json.files.length, 0);
    assert.ok(rowCount(`audit_events WHERE action IN ('evidence.update', 'evidence.file_remove') AND entity_id = ${id}`) >= 3);
  });
});

describe('who may do what', () => {
  let ev, fid;
  before(async () => {
    const r = await create(ann, {title: 'Private'}, [{name: 'p.png', data: PNG}]);
    assertStatus(r, 201);
    ev = r.json.id;
    fid = r.json.files[0].id;
    await ann.put(`/api/v1/evidence/${ev}/criteria`, {criteria: [{criterion_id: crit.inside[0].id, note: 'x'}]});
  });

  test('another learner gets 404 on every route, and changes nothing', async () => {
    const attempts = {
      show: await bob.get(`/api/v1/evidence/${ev}`),
      file: await bob.get(`/api/v1/evidence/${ev}/files/${fid}`),
      mapping: await bob.get(`/api/v1/evidence/${ev}/criteria`),
      map: await bob.put(`/api/v1/evidence/${ev}/criteria`, {criteria: []}),
      submit: await bob.post(`/api/v1/evidence/${ev}/submit`),
      withdraw: await bob.post(`/api/v1/evidence/${ev}/withdraw`),
      patch: await bob.patch(`/api/v1/evidence/${ev}`, {title: 'Mine now'}),
      addFile: await bob.upload(`/api/v1/evidence/${ev}/files`, {}, [{name: 'x.txt', data: 'x\n'}]),
      delFile: await bob.del(`/api/v1/evidence/${ev}/files/${fid}`),
      del: await bob.del(`/api/v1/evidence/${ev}`),
      list: await bob.get(`/api/v1/learners/${ann.user.id}/evidence`),
      page: await bob.get(`/evidence/${ev}`),
      pageFile: await bob.get(`/evidence/${ev}/files/${fid}`),
      pageCriteria: await bob.get(`/evidence/${ev}/criteria`),
      pageEdit: await bob.get(`/evidence/${ev}/edit`),
      pageMap: await bob.postForm(`/evidence/${ev}/criteria`, {mapping: '1'}),
      pageDelete: await bob.postForm(`/evidence/${ev}/delete`, {}),
    };
    for (const [what, r] of Object.entries(attempts)) {
      assert.ok(r.status === 404 || r.status === 403, `${what}: expected 403/404, got ${r.status}`);
    }
    assert.equal(attempts.show.status, 404, 'existence is not revealed');
    const s = await ann.get(`/api/v1/evidence/${ev}`);
    assert.equal(s.json.title, 'Private');
    assert.equal(s.json.files.length, 1);
    assert.equal(s.json.criteria.length, 1);
  });

  test("another assessor's learner is out of reach; the own assessor reads but cannot change", async () => {
    assertStatus(await tia.get(`/api/v1/evidence/${ev}`), 404);
    assertStatus(await tia.get(`/api/v1/evidence/${ev}/files/${fid}`), 404);
    assertStatus(await tia.get(`/api/v1/learners/${ann.user.id}/evidence`), 404);
    const s = await sam.get(`/api/v1/evidence/${ev}`);
    assertStatus(s, 200);
    assert.equal(s.json.editable, false);
    const f = await sam.get(`/api/v1/evidence/${ev}/files/${fid}`);
    assertStatus(f, 200);
    assert.deepEqual(f.body, PNG);
    const l = await sam.get(`/api/v1/learners/${ann.user.id}/evidence`);
    assertStatus(l, 200);
    assert.ok(l.json.evidence.some((x) => x.id === ev));
    const m = await sam.put(`/api/v1/evidence/${ev}/criteria`, {criteria: []});
    assert.ok(m.status === 403, `assessor mapping: ${m.status}`);
    assertStatus(await ada.get(`/api/v1/evidence/${ev}`), 200);
  });

  test('signed out: 401', async () => {
    const anon = srv.client();
    assertStatus(await anon.get(`/api/v1/evidence/${ev}`), 401);
    assertStatus(await anon.get(`/api/v1/evidence/${ev}/files/${fid}`), 401);
  });

  test('without the CSRF token an upload is refused and nothing kept', async () => {
    const before = srv.blobs();
    const r = await ann.upload('/api/v1/evidence', {title: 'CSRF', kind: 'product'},
      [{name: 'z.pdf', data: Buffer.concat([Buffer.from('%PDF-1.4\n'), crypto.randomBytes(3000)])}], {csrf: false});
    assertStatus(r, 403);
    assert.deepEqual(srv.blobs(), before);
    assert.deepEqual(await tmpLeft(tmpDir()), []);
  });
});

describe('lists, pages and gc', () => {
  test('the list is paginated, newest first, with counts', async () => {
    const r = await ann.get(`/api/v1/learners/${ann.user.id}/evidence`, {query: {per_page: 2}});
    assertStatus(r, 200);
    assert.equal(r.json.evidence.length, 2);
    assert.ok(r.json.evidence[0].id > r.json.evidence[1].id);
    assert.ok(r.json.pagination.total > 2);
    assert.equal(r.json.pagination.per_page, 2);
    assert.ok(r.json.pagination.next);
    for (const k of ['title', 'kind', 'status', 'file_count', 'criteria_count']) assert.ok(k in r.json.evidence[0], k);
    const mine = await ann.get('/api/v1/evidence');
    assertStatus(mine, 200);
    assert.equal(mine.json.pagination.total, r.json.pagination.total);
  });

  test('the mapping view filters by text, unit and gaps, carrying hidden ticks along', async () => {
    const r = await create(ann, {title: 'Filter me'}, [{name: 'f.txt', data: 'f\n'}]);
    const id = r.json.id;
    const [a, b, c] = crit.inside; // U1 1.1, U1 1.2, U2 1.1
    await ann.put(`/api/v1/evidence/${id}/criteria`, {criteria: [{criterion_id: a.id, note: 'kept'}]});
    const all = (await ann.get(`/api/v1/evidence/${id}/criteria`)).json;
    assert.equal(all.total, 4);
    assert.equal(all.checked_count, 1);
    const ids = (m) => m.qualifications.flatMap((q) => q.units.flatMap((u) => u.outcomes.flatMap((o) => o.criteria.map((x) => x.id))));
    const byUnit = (await ann.get(`/api/v1/evidence/${id}/criteria`, {query: {unit: c.unit_id}})).json;
    assert.deepEqual(ids(byUnit).sort(), crit.inside.filter((x) => x.unit_id === c.unit_id).map((x) => x.id).sort());
    assert.deepEqual(byUnit.hidden, [{id: a.id, note: 'kept'}], 'the ticked one rides along');
    const text = (await ann.get(`/api/v1/evidence/${id}/criteria`, {query: {q: 'explain'}})).json;
    assert.ok(ids(text).includes(b.id) && !ids(text).includes(a.id));
    // gaps: criteria no other evidence covers (a is covered by this one only: it counts as a gap)
    const gaps = (await ann.get(`/api/v1/evidence/${id}/criteria`, {query: {gaps: '1'}})).json;
    for (const q of gaps.qualifications) for (const u of q.units) for (const o of u.outcomes) {
      for (const x of o.criteria) assert.equal(x.other_evidence, 0);
    }
    assert.ok(gaps.shown < gaps.total);
  });

  test('the pages render for the learner', async () => {
    const r = await create(ann, {title: 'Page check <b>bold</b>'}, [{name: 'pic.png', data: PNG}, {name: 'doc.pdf', data: PDF}]);
    const id = r.json.id;
    for (const p of ['/evidence', '/evidence/new', `/evidence/${id}`, `/evidence/${id}/criteria`, `/evidence/${id}/edit`,
      `/evidence/${id}/criteria?q=safety`, `/learners/${ann.user.id}/evidence`]) {
      const g = await ann.get(p);
      assertStatus(g, 200, p);
      assert.match(g.headers['content-type'], /text\/html/, p);
    }
    const show = await ann.get(`/evidence/${id}`);
    assert.ok(show.text.includes('Page check &lt;b&gt;bold&lt;/b&gt;'), 'escaped title');
  });

  test('the plain form (no JavaScript) creates, maps and submits', async () => {
    const r = await ann.upload('/evidence/new', {title: 'Form evidence', kind: 'observation', occurred_on: '2026-03-01',
      description: 'Observed at work'}, [{name: 'obs.txt', data: 'Observed.\n'}, {name: '', data: ''}]);
    assertStatus(r, 303);
    const m = /^\/evidence\/(\d+)\/criteria\?done=evidence_added$/.exec(r.headers.location);
    assert.ok(m, r.headers.location);
    const id = Number(m[1]);
    const [a, b] = crit.inside;
    const f = await ann.postForm(`/evidence/${id}/criteria`, {mapping: '1', criterion: [String(a.id), String(b.id)],
      [`note_${a.id}`]: 'Note A', [`note_${b.id}`]: 'Note B', [`note_${crit.inside[2].id}`]: 'unticked'});
    assertStatus(f, 303);
    const s = await ann.get(`/api/v1/evidence/${id}`);
    assert.deepEqual(s.json.criteria.map((x) => x.note).sort(), ['Note A', 'Note B']);
    const sub = await ann.postForm(`/evidence/${id}/submit`, {});
    assertStatus(sub, 303);
    assert.equal((await ann.get(`/api/v1/evidence/${id}`)).json.status, 'submitted');
    // a form error re-renders the form with the message
    const bad = await ann.upload('/evidence/new', {title: '', kind: 'product'}, [{name: 'x.txt', data: 'x\n'}]);
    assertStatus(bad, 400);
    assert.match(bad.text, /Enter a title/);
    const refused = await ann.upload('/evidence/new', {title: 'x', kind: 'product'}, [{name: 'x.html', data: '<html></html>'}]);
    assertStatus(refused, 400);
    assert.match(refused.text, /not accepted/);
  });

  test('the edit form changes fields, adds and removes files; the delete form deletes', async () => {
    const r = await create(ann, {title: 'Edit by form'}, [{name: 'first.txt', data: 'first\n'}]);
    const id = r.json.id;
    const e = await ann.upload(`/evidence/${id}/edit`, {title: 'Edited by form', kind: 'product', description: 'now described',
      occurred_on: '', body: '', remove_file: String(r.json.files[0].id)}, [{name: 'second.png', data: PNG}]);
    assertStatus(e, 303);
    assert.equal(e.headers.location, `/evidence/${id}?done=evidence_saved`);
    const s = (await ann.get(`/api/v1/evidence/${id}`)).json;
    assert.equal(s.title, 'Edited by form');
    assert.equal(s.description, 'now described');
    assert.deepEqual(s.files.map((f) => f.name), ['second.png']);
    const bad = await ann.upload(`/evidence/${id}/edit`, {title: '', kind: 'product'}, []);
    assertStatus(bad, 400);
    assert.match(bad.text, /Enter a title/);
    const d = await ann.postForm(`/evidence/${id}/delete`, {});
    assertStatus(d, 303);
    assert.equal(d.headers.location, '/evidence?done=evidence_deleted');
    assertStatus(await ann.get(`/api/v1/evidence/${id}`), 404);
    assert.ok(rowCount(`audit_events WHERE action = 'evidence.delete' AND entity_id = ${id}`) === 1);
  });

  test('delete a draft, then gc removes only unreferenced blobs', async () => {
    const unique = Buffer.concat([Buffer.from('%PDF-1.4\n'), crypto.randomBytes(4096)]);
    const keep = Buffer.concat([Buffer.from('%PDF-1.4\n'), crypto.randomBytes(4096)]);
    const a = await create(ann, {title: 'To delete'}, [{name: 'gone.pdf', data: unique}]);
    const b = await create(ann, {title: 'To keep'}, [{name: 'kept.pdf', data: keep}]);
    const d = await ann.del(`/api/v1/evidence/${a.json.id}`);
    assertStatus(d, 200);
    assertStatus(await ann.get(`/api/v1/evidence/${a.json.id}`), 404);
    const goneBlob = sha256(unique);
    const keptBlob = sha256(keep);
    assert.ok(srv.blobExists(goneBlob));
    // a stray temporary file, old enough to be stale
    fs.mkdirSync(tmpDir(), {recursive: true});
    const stray = path.join(tmpDir(), 'stray-upload');
    fs.writeFileSync(stray, 'partial');
    const old = new Date(Date.now() - 3 * 3600 * 1000);
    fs.utimesSync(stray, old, old);
    // within the grace period nothing goes
    const dry = await srv.run(['gc']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.ok(srv.blobExists(goneBlob));
    assert.ok(!fs.existsSync(stray), 'a 3-hour-old temporary file is stale');
    // a dry run counts what the real run then removes (the blob whose row goes first too)
    const dry0 = await srv.run(['gc', '--grace-minutes', '0', '--dry-run']);
    assert.equal(dry0.code, 0, dry0.stderr);
    assert.ok(srv.blobExists(goneBlob), 'a dry run removes nothing');
    const g = await srv.run(['gc', '--grace-minutes', '0']);
    assert.equal(g.code, 0, g.stderr);
    assert.match(g.stdout, /removed [1-9]\d* unreferenced blob/);
    assert.equal(dry0.stdout.match(/would remove (\d+) unreferenced blob/)[1], g.stdout.match(/removed (\d+) unreferenced blob/)[1],
      `${dry0.stdout} / ${g.stdout}`);
    assert.ok(!srv.blobExists(goneBlob), 'the deleted item\'s blob is collected');
    assert.ok(srv.blobExists(keptBlob), 'a referenced blob stays');
    assert.equal(rowCount(`blobs WHERE sha256 = '${sha256(unique)}'`), 0);
    const still = await ann.get(`/api/v1/evidence/${b.json.id}/files/${b.json.files[0].id}`);
    assert.deepEqual(still.body, keep);
    const bad = await srv.run(['gc', '--grace-minutes', 'soon']);
    assert.notEqual(bad.code, 0);
  });

  test('gc pointed at the wrong database removes nothing: a missing file, or one that records no stored files', async () => {
    const before = srv.blobs();
    assert.ok(before.length > 0);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evitrack-gc-'));
    try {
      const missing = await srv.run(['gc', '--db', path.join(dir, 'nothing.db'), '--grace-minutes', '0']);
      assert.equal(missing.code, 1, missing.stdout);
      assert.match(missing.stderr, /there is no database at .*nothing\.db/);
      assert.ok(!fs.existsSync(path.join(dir, 'nothing.db')), 'gc made a database');
      const empty = path.join(dir, 'empty.db');
      const m = await srv.run(['migrate', '--db', empty]);
      assert.equal(m.code, 0, m.stderr);
      const wrong = await srv.run(['gc', '--db', empty, '--grace-minutes', '0']);
      assert.equal(wrong.code, 1, wrong.stdout);
      assert.match(wrong.stderr, /records no stored files, but the store holds \d+: is it the centre's database\? Nothing was removed/);
      assert.deepEqual(srv.blobs(), before, 'gc removed stored files');
      // store copy from a directory that holds no evidence files (a typo in --from) is not "verified"
      const copy = await runCli(['store', 'copy', '--from', path.join(dir, 'typo'), '--to', path.join(dir, 'to'),
        '--data', path.join(dir, 'data')]);
      assert.equal(copy.code, 1, copy.stdout);
      assert.match(copy.stderr, /typo holds no evidence files, so nothing was copied/);
    } finally {
      fs.rmSync(dir, {recursive: true, force: true});
    }
  });
});
