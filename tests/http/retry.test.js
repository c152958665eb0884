// tests/http/retry.test.js: a request whose transaction meets a serialization failure or a
// deadlock (SQLSTATE 40001 / 40P01: writers on several servers colliding) runs again whole,
// a bounded number of times, and is saved exactly once; one that keeps colliding is a 503
// with Retry-After and changes nothing. The collisions are injected on PostgreSQL by a
// PL/pgSQL trigger on audit_events that fails the next N inserts (a sequence counts them,
// as sequences are not rolled back); SQLite has one writer, so the test runs there only to
// show the same request succeeds at once.
'use strict';
const {test, after} = require('node:test');
const assert = require('node:assert/strict');
const {startServer, assertStatus, ENGINE} = require('./lib.js');

let srv;
after(() => srv && srv.stop());

test('a write meeting serialization failures and deadlocks is retried and saved once; too many are a 503', async () => {
  srv = await startServer({demo: true});
  const learner = await srv.login('learner@demo.test');
  const L = Number(srv.sql("SELECT id FROM users WHERE email = 'learner@demo.test'"));
  const crit = Number(srv.sql(`SELECT c.id FROM criteria c JOIN units u ON u.id = c.unit_id JOIN enrolments e
    ON e.qualification_id = u.qualification_id WHERE e.learner_id = ${L} AND c.retired = 0 ORDER BY c.id LIMIT 1`));
  const up = await learner.upload('/api/v1/evidence', {title: 'Retried', kind: 'product', description: 'x',
    occurred_on: '2026-10-01'}, [{name: 'r.txt', type: 'text/plain', data: 'r\n'}]);
  assertStatus(up, 201);
  const ev = up.json.id;
  const maps = () => Number(srv.sql(`SELECT count(*) FROM audit_events WHERE action = 'evidence.map' AND entity_id = ${ev}`));
  const notes = () => srv.sql(`SELECT note FROM evidence_criteria WHERE evidence_id = ${ev}`);
  if (ENGINE === 'postgresql') {
    srv.sql(`CREATE TABLE fault_budget (n integer NOT NULL); INSERT INTO fault_budget VALUES (2);
      CREATE SEQUENCE fault_seq;
      CREATE FUNCTION fault_inject() RETURNS trigger LANGUAGE plpgsql AS $f$
      DECLARE k bigint;
      BEGIN
        k := nextval('fault_seq');
        IF k <= (SELECT n FROM fault_budget) THEN
          IF k % 2 = 1 THEN
            RAISE EXCEPTION 'injected serialization failure' USING ERRCODE = '40001';
          END IF;
          RAISE EXCEPTION 'injected deadlock' USING ERRCODE = '40P01';
        END IF;
        RETURN NEW;
      END $f$;
      CREATE TRIGGER fault_inject BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION fault_inject();`);
  }
  const before = maps();
  let r = await learner.put(`/api/v1/evidence/${ev}/criteria`, {criteria: [{criterion_id: crit, note: 'third time lucky'}]});
  assertStatus(r, 200);
  assert.equal(maps(), before + 1, 'saved once');
  assert.equal(notes(), 'third time lucky');
  if (ENGINE !== 'postgresql') return;
  assert.equal(srv.sql("SELECT last_value FROM fault_seq"), '3', 'two failed attempts, then the one that held');
  // More collisions than the retries allow: a 503 saying so, nothing changed.
  srv.sql(`UPDATE fault_budget SET n = (SELECT last_value FROM fault_seq) + 100;`);
  r = await learner.put(`/api/v1/evidence/${ev}/criteria`, {criteria: [{criterion_id: crit, note: 'never saved'}]});
  assert.equal(r.status, 503, r.text);
  assert.equal(r.json.error.code, 'busy');
  assert.equal(r.headers['retry-after'], '1');
  assert.equal(srv.sql("SELECT last_value FROM fault_seq"), '7', 'one attempt and three retries');
  assert.equal(maps(), before + 1, 'nothing more saved');
  assert.equal(notes(), 'third time lucky');
  // Once the collisions stop, the change goes through.
  srv.sql('DROP TRIGGER fault_inject ON audit_events;');
  r = await learner.put(`/api/v1/evidence/${ev}/criteria`, {criteria: [{criterion_id: crit, note: 'after the storm'}]});
  assertStatus(r, 200);
  assert.equal(notes(), 'after the storm');
});

test('a server whose database connections were cut (a restart, a failover) reconnects', {skip: ENGINE !== 'postgresql' ?
  'PostgreSQL only' : false}, async () => {
  const s = await startServer({demo: true});
  try {
    const learner = await s.login('learner@demo.test');
    assertStatus(await learner.get('/api/v1/evidence'), 200);
    // every connection of the server (its worker threads' and the audit chainer's) dies at once
    s.sql(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid()`);
    const codes = [];
    for (let i = 0; i < 8; i++) codes.push((await learner.get('/api/v1/evidence')).status);
    // a request that met a dead connection may fail once per worker thread; then all answer
    assert.deepEqual(codes.slice(-4), [200, 200, 200, 200], codes.join(' '));
    // and writes go on, audited into one chain
    const up = await learner.upload('/api/v1/evidence', {title: 'After the cut', kind: 'product', description: 'x',
      occurred_on: '2026-10-01'}, [{name: 'c.txt', type: 'text/plain', data: 'c\n'}]);
    assertStatus(up, 201);
    const v = await s.run(['audit', 'verify']);
    assert.equal(v.code, 0, v.stdout + v.stderr);
  } finally {
    await s.stop();
  }
});
