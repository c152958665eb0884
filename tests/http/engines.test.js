// tests/http/engines.test.js: the same answers from both engines. Two servers with the demo
// centre, one on SQLite and one on PostgreSQL ($EVITRACK_TEST_DB, which tests/run-all.sh
// starts), are asked the same things as every demo user: the JSON API crawled from its list
// endpoints through every api_url it links to, list filters and searches in mixed case,
// pagination, and the same sequence of changes (evidence, mapping, submission, decisions,
// IQA samples). Bodies must be equal once the clock (timestamps, the hashes over them, CSRF
// tokens) is taken out. Skipped without $EVITRACK_TEST_DB; runs once, from the SQLite run.
'use strict';

const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const {spawnSync} = require('node:child_process');
const crypto = require('node:crypto');
const {startServer} = require('./lib.js');

const PG_URL = process.env.EVITRACK_TEST_DB || '';
const SKIP = !/^postgres(ql)?:\/\//.test(PG_URL) ? 'no $EVITRACK_TEST_DB (a PostgreSQL server)' :
  process.env.EVITRACK_TEST_ENGINE === 'postgresql' ? 'compares both engines: runs once, in the SQLite run' : false;

const USERS = ['admin@demo.test', 'assessor@demo.test', 'assessor2@demo.test', 'iqa@demo.test', 'eqa@demo.test',
  'learner@demo.test', 'learner2@demo.test', 'learner3@demo.test'];
const SEEDS = ['/api/v1/me', '/api/v1/evidence', '/api/v1/qualifications', '/api/v1/learners', '/api/v1/users',
  '/api/v1/enrolments', '/api/v1/decisions', '/api/v1/caseload', '/api/v1/queue', '/api/v1/iqa/decisions',
  '/api/v1/iqa/actions', '/api/v1/iqa/actions?open=1', '/api/v1/audit', '/api/v1/centre/progress',
  '/api/v1/centre/learners', '/api/v1/centre/progress.csv', '/api/v1/audit/verify'];
const MAX_PAGES = 400; // per user and round
// Each round (each user its share) stops asking after this long, so a slow machine or an ASan build compares fewer
// pages instead of running into ctest's timeout (the seeds and their links come first).
const ROUND_BUDGET_MS = Number(process.env.EVITRACK_ENGINES_BUDGET_MS) || 90000;

function freshPgDatabase() {
  const name = `engines_${process.pid}_${crypto.randomBytes(4).toString('hex')}`;
  const r = spawnSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', PG_URL, '-c', `CREATE DATABASE ${name}`],
    {encoding: 'utf8'});
  if (r.status !== 0) throw new Error(`CREATE DATABASE failed: ${r.stderr}`);
  return PG_URL.replace(/\/[^/?]*(\?.*)?$/, (m, q) => `/${name}${q || ''}`);
}

/* The body with what depends on the clock or on chance taken out. */
function normalize(text) {
  return text
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, '<time>')
    .replace(/\b[0-9a-f]{64}\b/g, '<sha256>')
    // an audit event's chain hash: on PostgreSQL one elected server links committed
    // events a moment later (docs/architecture.md), so the newest may still read null
    .replace(/"hash":null/g, '"hash":"<sha256>"')
    .replace(/\/tmp\/evitrack-test-[A-Za-z0-9]+/g, '<dir>')
    .replace(/"csrf_token":"[^"]*"/g, '"csrf_token":"<csrf>"')
    .replace(/"(took_ms|elapsed_ms|ms)":\d+/g, '"$1":0');
}

/* Every /api/v1/ link in a JSON value. */
function links(v, out) {
  if (typeof v === 'string') {
    if (/^\/api\/v1\/[^ ]*$/.test(v) && !/\/(export|files)\b/.test(v)) out.add(v);
  } else if (Array.isArray(v)) {
    for (const x of v) links(x, out);
  } else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      links(x, out);
      // {id} of learners, evidence, decisions, qualifications and units as links
      if (k === 'learner_id' && Number.isInteger(x)) {
        for (const p of ['', '/progress', '/matrix', '/timeline', '/decisions', '/signoffs', '/evidence']) {
          out.add(`/api/v1/learners/${x}${p}`);
        }
      }
      if (k === 'evidence_id' && Number.isInteger(x)) out.add(`/api/v1/evidence/${x}`);
      if (k === 'decision_id' && Number.isInteger(x)) out.add(`/api/v1/decisions/${x}`);
      if (k === 'qualification_id' && Number.isInteger(x)) out.add(`/api/v1/qualifications/${x}`);
      if (k === 'unit_id' && Number.isInteger(x)) out.add(`/api/v1/units/${x}`);
    }
  }
}

/* Words worth searching for, in odd case: the first names and titles in a body. */
function searches(json, out) {
  const walk = (v, k) => {
    if (typeof v === 'string' && (k === 'name' || k === 'title' || k === 'email') && v.length > 3) {
      const w = v.split(/[ @.]/)[0];
      out.add(w.slice(0, 3).toUpperCase() + w.slice(3).toLowerCase());
      out.add(w.toLowerCase());
    } else if (Array.isArray(v)) {
      v.slice(0, 3).forEach((x) => walk(x, k));
    } else if (v && typeof v === 'object') {
      for (const [kk, x] of Object.entries(v)) walk(x, kk);
    }
  };
  walk(json, '');
}

let lite;
let pg;
const clients = {};

before(async () => {
  if (SKIP) return;
  [lite, pg] = await Promise.all([startServer({demo: true}), startServer({demo: true, dbPath: freshPgDatabase()})]);
  for (const email of USERS) {
    clients[email] = [await lite.login(email), await pg.login(email)];
  }
});
after(async () => {
  await Promise.all([lite && lite.stop(), pg && pg.stop()]);
});

/* GETs path on both; returns [status, body, json] after checking both answered the same. */
async function same(email, path, diffs) {
  const [a, b] = clients[email];
  const [ra, rb] = await Promise.all([a.get(path), b.get(path)]);
  const na = normalize(ra.text);
  const nb = normalize(rb.text);
  if (ra.status !== rb.status || na !== nb) {
    let at = 0;
    while (at < na.length && na[at] === nb[at]) at++;
    diffs.push(`${email} GET ${path}: SQLite ${ra.status}, PostgreSQL ${rb.status}; first difference at ${at}:\n` +
      `  SQLite:     ${na.slice(Math.max(0, at - 200), at + 200)}\n  PostgreSQL: ${nb.slice(Math.max(0, at - 200), at + 200)}`);
  }
  if (rb.status >= 500) diffs.push(`${email} GET ${path}: PostgreSQL answered ${rb.status}: ${rb.text.slice(0, 300)}`);
  return ra;
}

/* Crawls the API as every user; returns the differences found. */
async function crawl() {
  const diffs = [];
  let pages = 0;
  for (const email of USERS) {
    const deadline = Date.now() + ROUND_BUDGET_MS / USERS.length; // each user's share
    const todo = [...SEEDS];
    const seen = new Set();
    const words = new Set();
    while (todo.length && seen.size < MAX_PAGES && Date.now() < deadline) {
      const p = todo.shift();
      if (seen.has(p)) continue;
      seen.add(p);
      const r = await same(email, p, diffs);
      pages++;
      if (!r.json) continue;
      const found = new Set();
      links(r.json, found);
      searches(r.json, words);
      for (const l of found) if (!seen.has(l)) todo.push(l);
    }
    // searches, filters and pages of the lists, in mixed case
    const lists = ['/api/v1/learners', '/api/v1/users', '/api/v1/enrolments', '/api/v1/qualifications',
      '/api/v1/caseload', '/api/v1/queue', '/api/v1/audit', '/api/v1/decisions', '/api/v1/evidence',
      '/api/v1/centre/learners', '/api/v1/iqa/decisions'];
    const queries = [...[...words].slice(0, 6).map((w) => `q=${encodeURIComponent(w)}`),
      'page=2&per_page=2', 'page=3&per_page=3', 'status=active', 'status=submitted', 'role=learner',
      'current=1', 'state=behind', 'sampled=no'];
    for (const l of lists) {
      for (const q of queries) {
        if (Date.now() >= deadline) break;
        await same(email, `${l}?${q}`, diffs);
        pages++;
      }
    }
  }
  return {diffs, pages};
}

test('every page of the API answers the same on SQLite and PostgreSQL (demo centre)', {skip: SKIP}, async () => {
  const {diffs, pages} = await crawl();
  console.log(`engines: ${pages} requests compared`);
  assert.ok(pages > 150, `only ${pages} requests were compared`);
  assert.deepEqual(diffs, []);
});

/* The same request as email on both engines; the answers must match. Returns SQLite's. */
async function both(email, method, path, json, diffs) {
  const [a, b] = clients[email];
  const ra = await a.request(method, path, {json});
  const rb = await b.request(method, path, {json});
  const na = normalize(ra.text);
  const nb = normalize(rb.text);
  if (ra.status !== rb.status || na !== nb) {
    let at = 0;
    while (at < na.length && na[at] === nb[at]) at++;
    diffs.push(`${email} ${method} ${path}: SQLite ${ra.status}, PostgreSQL ${rb.status}; first difference at ${at}:\n` +
      `  SQLite:     ${na.slice(Math.max(0, at - 200), at + 200)}\n  PostgreSQL: ${nb.slice(Math.max(0, at - 200), at + 200)}`);
  }
  return ra;
}

test('the same changes give the same answers on both engines', {skip: SKIP}, async () => {
  // Amy records, maps and submits evidence; Tom decides; Gareth samples; Tom answers; Amy
  // countersigns. Every answer is compared, then the whole API is crawled again.
  const diffs = [];
  const L = 'learner@demo.test';
  const ev = await both(L, 'POST', '/api/v1/evidence', {title: 'Engines: a reflective account',
    kind: 'reflective_account', description: 'Same on both', occurred_on: '2026-01-10', body: 'I did the work.'}, diffs);
  assert.equal(ev.status, 201, ev.text);
  const id = ev.json.id;
  const map = await both(L, 'GET', `/api/v1/evidence/${id}/criteria`, undefined, diffs);
  const crit = [];
  for (const q of map.json.qualifications || []) {
    for (const u of q.units || []) for (const o of u.outcomes || []) for (const c of o.criteria || []) crit.push(c.id);
  }
  assert.ok(crit.length >= 3, `criteria to map: ${map.text.slice(0, 300)}`);
  const put = await both(L, 'PUT', `/api/v1/evidence/${id}/criteria`,
    {criteria: crit.slice(0, 3).map((c) => ({criterion_id: c, note: 'covers it'}))}, diffs);
  assert.equal(put.status, 200, put.text);
  const sub = await both(L, 'POST', `/api/v1/evidence/${id}/submit`, {}, diffs);
  assert.equal(sub.status, 200, sub.text);
  const A = 'assessor@demo.test';
  const yes = {valid: true, authentic: true, current: true, sufficient: true, reliable: true};
  const d1 = await both(A, 'POST', '/api/v1/decisions', {learner_id: ev.json.learner_id, criterion_id: crit[0],
    outcome: 'met', feedback: 'Clear account', evidence_ids: [id], vacsr: yes, declaration: true}, diffs);
  assert.equal(d1.status, 201, d1.text);
  const d2 = await both(A, 'POST', '/api/v1/decisions', {learner_id: ev.json.learner_id, criterion_id: crit[1],
    outcome: 'not_met', feedback: 'Say more about 1.2', evidence_ids: [id], declaration: true}, diffs);
  assert.equal(d2.status, 201, d2.text);
  const d3 = await both(A, 'POST', '/api/v1/decisions', {learner_id: ev.json.learner_id, criterion_id: crit[1],
    outcome: 'met', feedback: 'Now covered', evidence_ids: [id], vacsr: yes, declaration: true}, diffs);
  const s1 = await both('iqa@demo.test', 'POST', '/api/v1/iqa/samples',
    {decision_id: d1.json.id, outcome: 'action_required', feedback: 'Check the date'}, diffs);
  assert.equal(s1.status, 201, s1.text);
  await both('iqa@demo.test', 'POST', '/api/v1/iqa/samples', {decision_id: d1.json.id, outcome: 'agree'}, diffs);
  await both(A, 'POST', `/api/v1/iqa/samples/${s1.json.id}/response`, {response: 'Checked: it is right'}, diffs);
  await both(L, 'POST', `/api/v1/decisions/${d1.json.id}/countersign`, {comment: 'Thank you'}, diffs);
  await both(L, 'POST', `/api/v1/decisions/${d3.json.id || 0}/countersign`, {}, diffs);
  // refusals answer the same too
  await both(L, 'POST', `/api/v1/evidence/${id}/submit`, {}, diffs);
  await both(A, 'POST', '/api/v1/decisions', {learner_id: ev.json.learner_id, criterion_id: 999999,
    outcome: 'met', evidence_ids: [id]}, diffs);
  assert.deepEqual(diffs, []);
  const {diffs: after, pages} = await crawl();
  console.log(`engines after changes: ${pages} requests compared`);
  assert.deepEqual(after, []);
});
