// tests/http/progress.test.js: learner progress and the matrix, the centre dashboard and
// its CSV, portfolio / cohort / subject-access exports (manifest hashes, links), and who
// may see or export what.
'use strict';

const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {spawnSync} = require('node:child_process');
const {startServer, assertStatus} = require('./lib.js');

let srv, admin, assessor, assessor2, iqa, eqa, amy, ben;
let AMY, BEN, CHLOE, Q1;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'evitrack-progress-test-'));

before(async () => {
  srv = await startServer({demo: true});
  [admin, assessor, assessor2, iqa, eqa, amy, ben] = await Promise.all([
    srv.login('admin@demo.test'), srv.login('assessor@demo.test'), srv.login('assessor2@demo.test'),
    srv.login('iqa@demo.test'), srv.login('eqa@demo.test'), srv.login('learner@demo.test'),
    srv.login('learner2@demo.test'),
  ]);
  const id = (email) => Number(srv.sql(`SELECT id FROM users WHERE email = '${email}'`));
  AMY = id('learner@demo.test');
  BEN = id('learner2@demo.test');
  CHLOE = id('learner3@demo.test');
  Q1 = Number(srv.sql(`SELECT qualification_id FROM enrolments WHERE learner_id = ${BEN} ORDER BY id LIMIT 1`));
});

after(async () => {
  fs.rmSync(tmp, {recursive: true, force: true});
  if (srv) await srv.stop();
});

/* The rule of docs/progress.md, in JS, to check the server's figures. */
function dayNumber(s) { return Math.floor(Date.parse(s.slice(0, 10) + 'T00:00:00Z') / 86400000); }
function pace(status, start, end, percent, today) {
  const s = dayNumber(start), e = dayNumber(end);
  const total = Math.max(e - s, 1);
  const el = Math.min(Math.max(today - s, 0), total);
  const expected = Math.floor(el * 100 / total);
  const gap = expected - percent;
  let state;
  if (status === 'withdrawn') state = 'withdrawn';
  else if (status === 'completed' || percent >= 100) state = 'complete';
  else if (status === 'on_break') state = 'on_break';
  else if (today > e) state = 'at_risk';
  else if (gap > 25) state = 'at_risk';
  else if (gap > 10) state = 'behind';
  else state = 'on_track';
  return {state, expected};
}

test('progress API: figures agree with the stored statuses, per unit and qualification', async () => {
  const r = await admin.get(`/api/v1/learners/${BEN}/progress`);
  assertStatus(r, 200);
  assert.equal(r.json.learner.id, BEN);
  const today = dayNumber(r.json.today);
  assert.ok(r.json.qualifications.length >= 1);
  for (const q of r.json.qualifications) {
    const rows = srv.sqlRows(`SELECT cs.criterion_id, cs.status FROM criterion_status cs JOIN units u ON u.id = cs.unit_id
      WHERE cs.learner_id = ${BEN} AND u.qualification_id = ${q.qualification_id}`);
    const stored = new Map(rows.map((x) => [x.criterion_id, x.status]));
    const count = (st) => rows.filter((x) => x.status === st).length;
    assert.equal(q.total, rows.length, 'one criterion per status row');
    for (const st of ['met', 'submitted', 'mapped', 'not_met', 'not_started']) assert.equal(q[st], count(st), st);
    assert.equal(q.percent, Math.floor(100 * q.met / q.total));
    let sum = 0;
    for (const u of q.units) {
      sum += u.total;
      assert.equal(u.met + u.submitted + u.mapped + u.not_met + u.not_started, u.total);
      assert.equal(u.percent, u.total ? Math.floor(100 * u.met / u.total) : 0);
      for (const c of u.criteria) assert.equal(c.status, stored.get(c.id), `criterion ${c.ref}`);
    }
    assert.equal(sum, q.total);
    const p = pace(q.status, q.start_date, q.planned_end_date, q.percent, today);
    assert.equal(q.pace.state, p.state, JSON.stringify(q.pace));
    assert.equal(q.pace.expected_percent, p.expected);
  }
  // the demo makes Ben on track with most criteria met on his first qualification
  const first = r.json.qualifications.find((q) => q.qualification_id === Q1);
  assert.ok(first.met >= 3, `Ben has met criteria: ${first.met}`);
});

test('progress follows the learner: upload, map, submit (worked through the API)', async () => {
  const before = (await amy.get(`/api/v1/learners/${AMY}/progress`)).json.qualifications
    .find((q) => q.qualification_id === Q1);
  assert.equal(before.met + before.submitted + before.mapped, 0, 'Amy starts fresh');
  const crit = before.units[0].criteria.slice(0, 2);
  let r = await amy.upload('/api/v1/evidence', {title: 'Progress test', kind: 'product',
    description: 'For the progress test', occurred_on: '2026-10-01'},
  [{name: 'notes.txt', type: 'text/plain', data: 'A written record of what I did.\n'.repeat(10)}]);
  assertStatus(r, 201, 'upload');
  const ev = r.json.id;
  r = await amy.put(`/api/v1/evidence/${ev}/criteria`, {criteria: crit.map((c) => ({criterion_id: c.id, note: 'shows it'}))});
  assert.ok(r.status < 300, r.text);
  let q = (await amy.get(`/api/v1/learners/${AMY}/progress`)).json.qualifications.find((x) => x.qualification_id === Q1);
  assert.equal(q.mapped, 2);
  assert.equal(q.units[0].criteria[0].status, 'mapped');
  r = await amy.post(`/api/v1/evidence/${ev}/submit`, {});
  assert.ok(r.status < 300, r.text);
  q = (await amy.get(`/api/v1/learners/${AMY}/progress`)).json.qualifications.find((x) => x.qualification_id === Q1);
  assert.equal(q.submitted, 2);
  assert.equal(q.mapped, 0);
  assert.equal(q.percent, 0);
  // the matrix shows both cells as submitted in that evidence's column
  r = await amy.get(`/api/v1/learners/${AMY}/matrix?qualification_id=${Q1}`);
  assertStatus(r, 200);
  const col = r.json.evidence.findIndex((e) => e.id === ev);
  assert.ok(col >= 0);
  const cells = r.json.units.flatMap((u) => u.outcomes.flatMap((o) => o.criteria))
    .filter((c) => crit.some((x) => x.id === c.id)).map((c) => c.cells[col]);
  assert.deepEqual(cells, ['submitted', 'submitted']);
  // and the centre counts the submission as awaiting assessment
  const c = await admin.get(`/api/v1/centre/progress?qualification_id=${Q1}`);
  const row = c.json.enrolments.find((e) => e.learner_id === AMY);
  assert.ok(row && row.awaiting >= 1, JSON.stringify(row));
});

test('who may read progress: the learner, their assessor and IQA, admin, EQA; nobody else', async () => {
  for (const [who, c] of [['self', ben], ['assessor', assessor], ['iqa', iqa], ['admin', admin], ['eqa', eqa]]) {
    assertStatus(await c.get(`/api/v1/learners/${BEN}/progress`), 200, who);
  }
  assertStatus(await amy.get(`/api/v1/learners/${BEN}/progress`), 404, 'another learner');
  assertStatus(await assessor2.get(`/api/v1/learners/${BEN}/progress`), 404, 'another assessor');
  assertStatus(await amy.get(`/api/v1/learners/${BEN}/matrix`), 404, 'another learner, matrix');
  assertStatus(await admin.get('/api/v1/learners/999999/progress'), 404);
  const anon = await fetch(`${srv.url}/api/v1/learners/${BEN}/progress`);
  assert.equal(anon.status, 401);
  // the pages
  let r = await ben.get('/portfolio');
  assertStatus(r, 200);
  assert.match(r.text, /My progress/);
  assert.match(r.text, /<svg class="pg-donut"/);
  assert.doesNotMatch(r.text, /style="/, 'no inline style (CSP)');
  r = await admin.get(`/learners/${BEN}/progress`);
  assertStatus(r, 200);
  assert.match(r.text, /How expected progress is judged/);
});

test('matrix: a cell for exactly each mapping, decisions shown, columns paginated', async () => {
  const r = await assessor.get(`/api/v1/learners/${BEN}/matrix?qualification_id=${Q1}&per_page=200`);
  assertStatus(r, 200);
  const maps = srv.sqlRows(`SELECT evidence_id, criterion_id FROM evidence_criteria WHERE learner_id = ${BEN}`);
  const mapped = new Set(maps.map((m) => `${m.evidence_id}:${m.criterion_id}`));
  const crits = r.json.units.flatMap((u) => u.outcomes.flatMap((o) => o.criteria));
  let cells = 0, met = 0, notMet = 0;
  for (const c of crits) {
    r.json.evidence.forEach((e, i) => {
      const v = c.cells[i];
      assert.equal(v !== null, mapped.has(`${e.id}:${c.id}`), `cell E${e.id} x ${c.ref}`);
      if (v) cells++;
      if (v === 'met') met++;
      if (v === 'not_met') notMet++;
    });
  }
  assert.equal(cells, maps.length);
  assert.ok(met > 0 && notMet > 0, 'the demo has decisions both ways');
  assert.equal(r.json.evidence_total, Number(srv.sql(`SELECT count(*) FROM evidence WHERE learner_id = ${BEN}`)));
  const p = await assessor.get(`/api/v1/learners/${BEN}/matrix?per_page=2&page=2`);
  assert.equal(p.json.evidence.length, 2);
  assert.equal(p.json.pagination.page, 2);
  assert.equal(p.json.evidence[0].number, 3);
  const page = await assessor.get(`/learners/${BEN}/matrix`);
  assertStatus(page, 200);
  assert.match(page.text, /<table class="mx">/);
  assert.equal((page.text.match(/class="mx-c mx-met"/g) || []).length > 0, true);
});

test('centre dashboard: admin only; groups agree with the enrolments; filters and pages', async () => {
  for (const c of [assessor, iqa, amy]) assertStatus(await c.get('/api/v1/centre/progress'), 403);
  assertStatus(await eqa.get('/api/v1/centre/progress'), 404); // closed to an EQA: as if it did not exist
  const r = await admin.get('/api/v1/centre/progress');
  assertStatus(r, 200);
  const n = Number(srv.sql('SELECT count(*) FROM enrolments'));
  assert.equal(r.json.totals.enrolments, n);
  assert.equal(r.json.enrolments_total, n);
  const q = r.json.by_qualification.find((g) => g.id === Q1);
  assert.equal(q.learners, Number(srv.sql(`SELECT count(*) FROM enrolments WHERE qualification_id = ${Q1} AND status <> 'withdrawn'`)));
  const waiting = Number(srv.sql(`SELECT count(DISTINCT e.id) FROM evidence e JOIN evidence_criteria ec ON ec.evidence_id = e.id
    JOIN criteria c ON c.id = ec.criterion_id JOIN units u ON u.id = c.unit_id
    WHERE e.status = 'submitted' AND u.qualification_id = ${Q1}`));
  assert.equal(q.awaiting, waiting);
  const decisions = Number(srv.sql(`SELECT count(*) FROM decisions d JOIN criteria c ON c.id = d.criterion_id
    JOIN units u ON u.id = c.unit_id WHERE u.qualification_id = ${Q1}`));
  assert.equal(q.decisions, decisions);
  assert.ok(q.sampled >= 1, 'the demo has IQA samples');
  assert.equal(q.coverage_percent, Math.round(100 * q.sampled / q.decisions));
  const states = ['on_track', 'behind', 'at_risk', 'complete', 'on_break', 'withdrawn'];
  assert.equal(states.reduce((s, k) => s + r.json.totals[k], 0), n);
  assert.ok(r.json.totals.behind >= 1 && r.json.totals.at_risk >= 1, 'the demo shows each pace');
  // most urgent first
  const rank = {at_risk: 0, behind: 1, on_track: 2, on_break: 3, complete: 4, withdrawn: 5};
  const ranks = r.json.enrolments.map((e) => rank[e.pace.state]);
  assert.deepEqual(ranks, [...ranks].sort((a, b) => a - b));
  // filter, drill-down and pagination
  const f = await admin.get('/api/v1/centre/progress?state=behind');
  assert.ok(f.json.enrolments.length >= 1 && f.json.enrolments.every((e) => e.pace.state === 'behind'));
  const a = await admin.get(`/api/v1/centre/learners?assessor_id=${Number(srv.sql("SELECT id FROM users WHERE email='assessor2@demo.test'"))}`);
  assert.ok(a.json.enrolments.every((e) => e.assessor_name === 'Hannah Price'));
  const pg = await admin.get('/api/v1/centre/progress?per_page=2&page=2');
  assert.equal(pg.json.enrolments.length, 2);
  assert.equal(pg.json.pagination.total, n);
  assert.ok(pg.json.pagination.prev && pg.json.pagination.next);
  assertStatus(await admin.get('/api/v1/centre/progress?state=sideways'), 400);
  const page = await admin.get('/centre');
  assertStatus(page, 200);
  assert.match(page.text, /By qualification/);
  assert.match(page.text, new RegExp(`/centre/learners\\?qualification_id=${Q1}`));
});

function parseCsv(text) {
  const rows = [];
  for (const line of text.split('\r\n').filter(Boolean)) {
    const out = [];
    let cur = '', q = false;
    for (let i = 0; i < line.length; i++) {
      const ch = line[i];
      if (q) {
        if (ch === '"' && line[i + 1] === '"') { cur += '"'; i++; } else if (ch === '"') q = false; else cur += ch;
      } else if (ch === '"') q = true; else if (ch === ',') { out.push(cur); cur = ''; } else cur += ch;
    }
    out.push(cur);
    rows.push(out);
  }
  return rows;
}

test('CSV download: the same rows as the dashboard', async () => {
  const api = (await admin.get('/api/v1/centre/progress')).json;
  const r = await admin.get('/centre/progress.csv');
  assertStatus(r, 200);
  assert.match(r.headers['content-type'], /^text\/csv/);
  assert.match(r.headers['content-disposition'] || '', /attachment/);
  const rows = parseCsv(r.text);
  assert.deepEqual(rows[0], ['group', 'id', 'name', 'learners', 'average_percent', 'on_track', 'behind', 'at_risk',
    'complete', 'awaiting_assessment', 'oldest_awaiting_days', 'decisions', 'iqa_sampled', 'iqa_coverage_percent',
    'learners_sampled']);
  assert.equal(rows.length - 1, api.by_qualification.length + api.by_assessor.length);
  for (const [kind, groups] of [['qualification', api.by_qualification], ['assessor', api.by_assessor]]) {
    for (const g of groups) {
      const row = rows.find((x) => x[0] === kind && Number(x[1]) === g.id);
      assert.ok(row, `${kind} ${g.id}`);
      assert.deepEqual(row.slice(3).map((v) => (v === '' ? null : Number(v))),
        [g.learners, g.average_percent, g.on_track, g.behind, g.at_risk, g.complete, g.awaiting, g.oldest_days,
          g.decisions, g.sampled, g.coverage_percent, g.learners_sampled], `${kind} ${g.id}`);
    }
  }
  const e = await admin.get('/centre/progress.csv?rows=enrolments');
  const erows = parseCsv(e.text);
  assert.equal(erows.length - 1, api.totals.enrolments);
  assert.equal(erows[0][0], 'enrolment_id');
  assertStatus(await assessor.get('/centre/progress.csv'), 403);
});

/* Unzips buf into a new folder; returns its path. */
function unzip(buf, name) {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, {recursive: true});
  const zip = path.join(tmp, `${name}.zip`);
  fs.writeFileSync(zip, buf);
  const r = spawnSync('unzip', ['-q', '-o', zip, '-d', dir], {encoding: 'utf8'});
  assert.equal(r.status, 0, `unzip: ${r.stderr}`);
  return dir;
}

function walk(dir, base = dir) {
  return fs.readdirSync(dir, {withFileTypes: true}).flatMap((d) => {
    const p = path.join(dir, d.name);
    return d.isDirectory() ? walk(p, base) : [path.relative(base, p)];
  });
}

/* Every file but the manifests is listed with a matching SHA-256; every relative link and
 * #anchor in each index.html resolves. Returns the manifest entries. */
function verifyExport(dir) {
  const lines = fs.readFileSync(path.join(dir, 'manifest.txt'), 'utf8').trim().split('\n');
  const listed = new Map(lines.map((l) => { const m = /^([0-9a-f]{64}) {2}(.+)$/.exec(l); assert.ok(m, l); return [m[2], m[1]]; }));
  const files = walk(dir).filter((f) => f !== 'manifest.txt' && f !== 'manifest.json');
  assert.deepEqual([...listed.keys()].sort(), files.sort(), 'the manifest lists every file');
  for (const [f, h] of listed) {
    const actual = crypto.createHash('sha256').update(fs.readFileSync(path.join(dir, f))).digest('hex');
    assert.equal(actual, h, `hash of ${f}`);
  }
  const mj = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  assert.equal(mj.files.length, listed.size);
  for (const idx of files.filter((f) => f.endsWith('index.html'))) {
    const html = fs.readFileSync(path.join(dir, idx), 'utf8');
    const ids = new Set([...html.matchAll(/ id="([^"]+)"/g)].map((m) => m[1]));
    for (const [, href] of html.matchAll(/href="([^"]+)"/g)) {
      if (href.startsWith('#')) assert.ok(ids.has(href.slice(1)), `${idx}: anchor ${href}`);
      else if (!/^[a-z]+:/.test(href)) {
        const target = path.join(dir, path.dirname(idx), href.replace(/&amp;/g, '&'));
        assert.ok(fs.existsSync(target), `${idx}: link ${href} resolves`);
      }
    }
  }
  return listed;
}

test('portfolio export: manifest hashes match, links resolve, every evidence file is inside', async () => {
  const r = await admin.get(`/api/v1/learners/${BEN}/export`);
  assertStatus(r, 200);
  assert.equal(r.headers['content-type'], 'application/zip');
  const dir = unzip(r.body, 'ben');
  const listed = verifyExport(dir);
  const nfiles = Number(srv.sql(`SELECT count(*) FROM evidence_files f JOIN evidence e ON e.id = f.evidence_id
    WHERE e.learner_id = ${BEN}`));
  assert.ok(nfiles > 0);
  assert.equal([...listed.keys()].filter((f) => f.startsWith('evidence/')).length, nfiles);
  const html = fs.readFileSync(path.join(dir, 'index.html'), 'utf8');
  assert.match(html, /Ben Wright/);
  assert.match(html, /Tom Okafor/, 'decisions name the assessor');
  assert.match(html, /Not yet met/);
  const audit = JSON.parse(fs.readFileSync(path.join(dir, 'audit.json'), 'utf8'));
  assert.ok(audit.length > 0 && audit.every((e) => e.hash && e.prev_hash));
  assert.ok(Number(srv.sql("SELECT count(*) FROM audit_events WHERE action = 'export.portfolio'")) >= 1);
  // the assessor, EQA and IQA may; another assessor and learners may not
  assertStatus(await assessor.get(`/api/v1/learners/${BEN}/export`), 200, 'assessor');
  assertStatus(await eqa.get(`/api/v1/learners/${BEN}/export`), 200, 'eqa');
  assertStatus(await assessor2.get(`/api/v1/learners/${BEN}/export`), 404, 'another assessor');
});

test('a learner cannot export another learner (nor use the staff export for themself)', async () => {
  assertStatus(await amy.get(`/api/v1/learners/${BEN}/export`), 403);
  assertStatus(await amy.get(`/learners/${BEN}/export`), 403);
  assertStatus(await ben.get(`/api/v1/learners/${BEN}/export`), 403);
});

test('subject access: the learner downloads everything held about them', async () => {
  const r = await ben.get('/api/v1/me/export');
  assertStatus(r, 200);
  const dir = unzip(r.body, 'ben-sar');
  verifyExport(dir);
  const data = JSON.parse(fs.readFileSync(path.join(dir, 'data.json'), 'utf8'));
  assert.equal(data.account.email, 'learner2@demo.test');
  assert.ok(data.enrolments.length >= 1);
  assert.ok(data.sessions.length >= 1, 'their sign-in sessions');
  assert.ok(data.audit_events_as_actor.length >= 1);
  assert.doesNotMatch(fs.readFileSync(path.join(dir, 'data.json'), 'utf8'), /argon2|password_hash/);
  assertStatus(await admin.get('/api/v1/me/export'), 403, 'staff have no subject-access route');
});

test('cohort export: every learner of a qualification in one zip', async () => {
  assertStatus(await assessor.get(`/api/v1/qualifications/${Q1}/export`), 403);
  const r = await admin.get(`/api/v1/qualifications/${Q1}/export`);
  assertStatus(r, 200);
  const dir = unzip(r.body, 'cohort');
  verifyExport(dir);
  const folders = fs.readdirSync(path.join(dir, 'learners'));
  assert.equal(folders.length, Number(srv.sql(`SELECT count(*) FROM enrolments WHERE qualification_id = ${Q1}`)));
  assert.ok(folders.some((f) => f.startsWith(`${CHLOE}-`)));
});

test('evitrack export on the command line', async () => {
  const out = path.join(tmp, 'cli.zip');
  let r = await srv.run(['export', '--learner', 'learner3@demo.test', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /wrote .*cli\.zip/);
  verifyExport(unzip(fs.readFileSync(out), 'cli'));
  r = await srv.run(['export', '--learner', 'learner3@demo.test']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /--out/);
  r = await srv.run(['export', '--learner', 'nobody@demo.test', '--out', out]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /no learner/);
});

test('a blob missing from the store leaves a note in its place, not a failed export', async () => {
  const f = srv.sqlRows(`SELECT f.sha256, f.id, f.evidence_id FROM evidence_files f JOIN evidence e ON e.id = f.evidence_id
    WHERE e.learner_id = ${CHLOE} ORDER BY f.id LIMIT 1`)[0];
  const saved = srv.blobRead(f.sha256);
  srv.blobDelete(f.sha256);
  try {
    const r = await admin.get(`/api/v1/learners/${CHLOE}/export`);
    assertStatus(r, 200);
    const dir = unzip(r.body, 'missing');
    verifyExport(dir);
    const m = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    assert.equal(m.missing.length, 1);
    assert.match(m.missing[0], new RegExp(`^evidence/${f.evidence_id}/${f.id}-`));
    assert.match(fs.readFileSync(path.join(dir, m.missing[0]), 'utf8'), /missing from the store/);
    /* the recipient's check says the export is not the whole portfolio, and names the file */
    const zip = path.join(dir, '..', 'missing.zip');
    fs.writeFileSync(zip, r.body);
    const v = await srv.run(['audit', 'verify', '--export', zip], {db: false});
    assert.equal(v.code, 1, v.stdout + v.stderr);
    assert.match(v.stdout, new RegExp(`export INCOMPLETE: 1 evidence file could not go in, and a note stands in its place:\\n` +
      `  evidence/${f.evidence_id}/${f.id}-\\S+: missing from the store when the export was made\\n`));
    assert.match(srv.stderr, new RegExp(`export: evidence file missing from the store: ${f.sha256} \\(evidence/${f.evidence_id}/`));
    /* the command line's export writes the zip too, but says it is incomplete and exits 1 */
    const email = srv.sql(`SELECT email FROM users WHERE id = ${CHLOE}`);
    const c = await srv.run(['export', '--learner', email, '--out', path.join(dir, '..', 'cli-missing.zip')]);
    assert.equal(c.code, 1, c.stdout + c.stderr);
    assert.match(c.stdout, /INCOMPLETE: 1 evidence file was missing from the store or found damaged there; a note stands in its place/);
    assert.ok(fs.existsSync(path.join(dir, '..', 'cli-missing.zip')));
  } finally {
    srv.blobWrite(f.sha256, saved);
  }
});
