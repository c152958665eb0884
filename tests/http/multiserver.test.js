// tests/http/multiserver.test.js: several `evitrack serve` processes on one PostgreSQL
// database (the load-balanced set-up in docs/operations.md), and `evitrack copy`.
// 1. copy: a demo centre in SQLite is copied to an empty PostgreSQL database, verifies, and
//    serves (new rows get new ids after the copied ones).
// 2. crash: three servers, 64 concurrent writers spread over them (evidence uploads, and
//    assessor decisions all on one criterion), the third server killed with SIGKILL mid-run;
//    then every acknowledged write is in the database, `audit verify` is intact and no two
//    decisions supersede the same one.
// Runs only with a PostgreSQL server to use ($EVITRACK_TEST_DB, set by tests/run-all.sh).
'use strict';

const {test, after} = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {startServer, runCli, assertStatus, PG_URL, freshPgDatabase, psql, ENGINE} = require('./lib.js');

const skip = !PG_URL ? 'no PostgreSQL for the tests ($EVITRACK_TEST_DB)' :
  ENGINE !== 'postgresql' ? 'runs once, in the postgresql pass' : false;
const servers = [];
after(async () => {
  for (const s of servers) if (s.running) await s.stop().catch(() => {});
});

const VACSR = {valid: true, authentic: true, current: true, sufficient: false, reliable: true};

test('evitrack copy moves the demo centre from SQLite to PostgreSQL and it verifies and serves', {skip}, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evitrack-copy-'));
  const file = path.join(dir, 'centre.db');
  const lite = await startServer({demo: true, dbPath: file});
  const learner = await lite.login('learner@demo.test');
  const up = await learner.upload('/api/v1/evidence', {title: 'Before the move', kind: 'product',
    description: 'made on SQLite', occurred_on: '2026-10-01'}, [{name: 'a.txt', type: 'text/plain', data: 'a\n'}]);
  assertStatus(up, 201);
  await lite.stop();
  const url = freshPgDatabase();
  const r = await runCli(['copy', '--from', file, '--to', url]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /verified: \d+ rows in every table match; audit trail intact: \d+ events/);
  // a second copy into the same database is refused
  const again = await runCli(['copy', '--from', file, '--to', url]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /copy only into a new database/);
  const v = await runCli(['audit', 'verify', '--db', url]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  // the copied centre serves: sign-in, the copied evidence, and a new row after the copied ids
  const pg = await startServer({dbPath: url});
  servers.push(pg);
  const l2 = await pg.login('learner@demo.test');
  const list = await l2.get('/api/v1/evidence');
  assertStatus(list, 200);
  assert.ok(JSON.stringify(list.json).includes('Before the move'));
  const up2 = await l2.upload('/api/v1/evidence', {title: 'After the move', kind: 'product',
    description: 'made on PostgreSQL', occurred_on: '2026-10-02'}, [{name: 'b.txt', type: 'text/plain', data: 'b\n'}]);
  assertStatus(up2, 201);
  assert.ok(up2.json.id > up.json.id, `new id ${up2.json.id} after the copied ${up.json.id}`);
  await pg.stop();
  fs.rmSync(dir, {recursive: true, force: true});
});

test('three servers, 64 writers, one killed with SIGKILL: no acknowledged write lost, one audit chain, no duplicate decisions',
  {skip, timeout: 240000}, async () => {
    const url = freshPgDatabase();
    const a = await startServer({demo: true, dbPath: url});
    // one evidence store for the three (a directory, or one bucket in the S3 pass)
    const b = await startServer({dbPath: url, shareStore: a});
    const c = await startServer({dbPath: url, shareStore: a});
    servers.push(a, b, c);
    const all = [a, b, c];
    // One submitted piece of evidence mapped to a criterion: every decision writer decides on it.
    const learnerA = await a.login('learner@demo.test');
    const L = learnerA.user.id;
    const crit = psql(url, `SELECT c.id FROM criteria c JOIN units u ON u.id = c.unit_id JOIN enrolments e
      ON e.qualification_id = u.qualification_id JOIN users s ON s.id = e.assessor_id
      WHERE e.learner_id = ${L} AND s.email = 'assessor@demo.test' AND c.retired = 0 AND u.retired = 0
      AND NOT EXISTS (SELECT 1 FROM unit_signoffs so WHERE so.unit_id = u.id AND so.learner_id = ${L})
      ORDER BY c.id LIMIT 1`).trim();
    assert.ok(crit, 'a criterion to decide on');
    let r = await learnerA.upload('/api/v1/evidence', {title: 'Decided many times', kind: 'product',
      description: 'x', occurred_on: '2026-10-01'}, [{name: 'd.txt', type: 'text/plain', data: 'd\n'}]);
    assertStatus(r, 201);
    const ev = r.json.id;
    assertStatus(await learnerA.put(`/api/v1/evidence/${ev}/criteria`, {criteria: [{criterion_id: Number(crit), note: 'n'}]}), 200);
    r = await learnerA.post(`/api/v1/evidence/${ev}/submit`, {});
    assert.ok(r.status < 300, r.text);

    const WRITERS = 64;
    const PER_WRITER = 12;
    const acked = {evidence: [], decisions: []};
    let refused = 0;
    // one signed-in client per server and role (sign-in is deliberately slow: argon2id)
    const learners = await Promise.all(all.map((x) => x.login('learner@demo.test')));
    const assessors = await Promise.all(all.map((x) => x.login('assessor@demo.test')));
    const t0 = Date.now();
    let killed = false;
    const killer = new Promise((resolve) => setTimeout(() => {
      killed = true;
      c.child.kill('SIGKILL');
      resolve();
    }, 1500));
    async function writer(w) {
      const decides = w % 4 === 0;
      for (let i = 0; i < PER_WRITER; i++) {
        // round robin over the servers, like a load balancer; a dead one is skipped after a refusal
        let s = (w + i) % 3;
        if (s === 2 && killed) s = w % 2;
        try {
          const cl = (decides ? assessors : learners)[s];
          if (decides) {
            const res = await cl.post('/api/v1/decisions', {learner_id: L, criterion_id: Number(crit), outcome: 'not_met',
              feedback: `Try again (${w}.${i})`, evidence_ids: [ev], vacsr: VACSR, declaration: true});
            if (res.status === 201) acked.decisions.push(res.json.id); else refused++;
          } else {
            const title = `w${w} i${i}`;
            const res = await cl.upload('/api/v1/evidence', {title, kind: 'product', description: 'load',
              occurred_on: '2026-10-01'}, [{name: `${title}.txt`, type: 'text/plain', data: `${title}\n`}]);
            if (res.status === 201) acked.evidence.push([res.json.id, title]); else refused++;
          }
        } catch (e) {
          refused++; // the killed server: no answer, nothing acknowledged
        }
      }
    }
    await Promise.all([...Array(WRITERS).keys()].map(writer));
    await killer;
    const secs = (Date.now() - t0) / 1000;
    const writes = acked.evidence.length + acked.decisions.length;
    console.log(`multiserver: ${writes} acknowledged writes (${acked.evidence.length} evidence, ` +
      `${acked.decisions.length} decisions), ${refused} refused or lost with the killed server, ` +
      `${(writes / secs).toFixed(0)} writes/s over ${secs.toFixed(1)} s with 64 writers on 3 servers`);
    assert.ok(writes > WRITERS * PER_WRITER / 2, `most writes succeed (${writes})`);
    assert.ok(acked.decisions.length > 0);

    // 0 acknowledged writes lost
    const ids = acked.evidence.map(([id]) => id);
    const rows = JSON.parse(psql(url, `SELECT coalesce(json_agg(json_build_array(id, title)), '[]') FROM evidence
      WHERE id IN (${ids.join(',')})`));
    const stored = new Map(rows.map(([id, title]) => [id, title]));
    const lost = acked.evidence.filter(([id, title]) => stored.get(id) !== title);
    assert.deepEqual(lost, [], 'every acknowledged evidence row is stored');
    const dec = Number(psql(url, `SELECT count(*) FROM decisions WHERE id IN (${acked.decisions.join(',')})`));
    assert.equal(dec, acked.decisions.length, 'every acknowledged decision is stored');
    // 0 duplicate decisions: each decision supersedes a different one (one chain per criterion)
    const forks = psql(url, `SELECT coalesce(supersedes_id, 0), count(*) FROM decisions
      WHERE learner_id = ${L} AND criterion_id = ${crit} GROUP BY supersedes_id HAVING count(*) > 1`).trim();
    assert.equal(forks, '', 'no two decisions supersede the same one');
    // one unbroken audit chain
    const v = await runCli(['audit', 'verify', '--db', url]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.match(v.stdout, /intact/);
    // the servers share one evidence store: a file uploaded through one is served by the other
    const bytes = Buffer.from(`shared store ${Date.now()}\n`);
    r = await learners[1].upload('/api/v1/evidence', {title: 'Through b', kind: 'product', description: 'x',
      occurred_on: '2026-10-03'}, [{name: 's.txt', type: 'text/plain', data: bytes}]);
    assertStatus(r, 201);
    const got = await learners[0].get(`/api/v1/evidence/${r.json.id}/files/${r.json.files[0].id}`);
    assertStatus(got, 200);
    assert.deepEqual(got.body, bytes);
    for (const s of [b, a]) await s.stop(); // b uses a's data directory: a (which removes it) last
    c._stopped = true; // killed on purpose
  });
