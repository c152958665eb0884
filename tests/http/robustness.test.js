// tests/http/robustness.test.js: hostile and random input to every route, signed in as each
// role and as nobody. No answer may be a 5xx or a crash, and the server must still serve
// and its audit chain verify afterwards. Seeded, so a failure repeats: EVITRACK_FUZZ_SEED.
'use strict';
const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const {startServer, runCli} = require('./lib.js');

let srv;
let routes;
const seed = Number(process.env.EVITRACK_FUZZ_SEED || 20261123);
let state = seed >>> 0;
function rnd(n) { /* xorshift32: deterministic for a seed */
  state ^= state << 13; state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5; state >>>= 0;
  return state % n;
}
const pick = (a) => a[rnd(a.length)];

const ids = ['1', '2', '3', '7', '99999', '0', '-1', 'abc', '1e3', '9223372036854775807',
  '99999999999999999999', '%00', '..', '1%2f2', ' 1', '1;DROP TABLE users'];
const strings = ['', ' ', 'x', 'a'.repeat(5000), '<script>alert(1)</script>', "' OR 1=1 --",
  '\u0000', '\ud83d\ude00', 'null', '{"a":', '%', '..%2f..%2fetc%2fpasswd', '2026-02-30', '-5',
  '1.5', 'true'];
const values = [null, true, false, 0, -1, 1.5, 2 ** 62, [], {}, [1, 'x'], {a: {b: []}}, ...strings];

function randomPath(pattern) {
  return pattern.replace(/\{[^}]+\}/g, () => pick(ids));
}
function randomObject() {
  const o = {};
  const keys = ['title', 'kind', 'description', 'occurred_on', 'criteria', 'criterion_id', 'learner_id',
    'outcome', 'feedback', 'evidence_ids', 'decision_id', 'email', 'password', 'name', 'role', 'note',
    'page', 'per_page', 'status', 'declaration', 'vacsr', 'qualification_id', 'assessor_id', 'start_date',
    'planned_end_date', 'text', 'comment', 'response', pick(strings)];
  const n = rnd(6);
  for (let i = 0; i < n; i++) o[pick(keys)] = pick(values);
  if (rnd(3) === 0) o.criteria = [{criterion_id: pick(values), note: pick(values)}];
  return o;
}
function randomBody() {
  switch (rnd(6)) {
    case 0: return {json: randomObject()};
    case 1: return {body: pick(['{', '[]', '"x"', '{"a":1}}', '\u0000\u0001', 'null']), contentType: 'application/json'};
    case 2: return {form: Object.entries(randomObject()).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])};
    case 3: return {multipart: {fields: [['title', pick(strings)], ['kind', pick(strings)]],
      files: rnd(2) ? [{field: 'file', name: pick(['a.txt', '../../x', 'é.pdf', '', 'a\r\nb']), type: 'text/plain', data: pick(strings)}] : []}};
    case 4: return {body: '--B\r\nContent-Disposition: form-data; name="x"\r\n\r\n' + pick(strings), contentType: 'multipart/form-data; boundary=B'};
    default: return {};
  }
}

before(async () => {
  srv = await startServer({demo: true});
  const r = await runCli(['routes']);
  routes = JSON.parse(r.stdout);
  assert.ok(routes.length > 20, 'the route table is listed');
});
after(() => srv && srv.stop());

test(`random requests to every route never get a 5xx (seed ${seed})`, async () => {
  const clients = [srv.client()];
  for (const who of ['learner@demo.test', 'assessor@demo.test', 'iqa@demo.test', 'admin@demo.test', 'eqa@demo.test']) {
    clients.push(await srv.login(who));
  }
  const failures = [];
  const seen = {};
  const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
  const iterations = Number(process.env.EVITRACK_FUZZ_ITERATIONS || 600);
  for (let i = 0; i < iterations; i++) {
    const route = pick(routes);
    if (route.pattern === '/logout' || route.pattern === '/api/v1/session') continue; /* would sign the client out */
    const method = rnd(5) === 0 ? pick(methods) : route.method;
    const path = randomPath(route.pattern) + (rnd(4) === 0 ? '?page=' + pick(ids) + '&per_page=' + pick(ids) : '');
    const c = pick(clients);
    let r;
    try {
      r = await c.request(method, path, method === 'GET' || method === 'HEAD' ? {} : randomBody());
    } catch (e) {
      failures.push(`${method} ${path}: ${e.message.split('\n')[0]}`);
      break;
    }
    seen[r.status] = (seen[r.status] || 0) + 1;
    if (r.status >= 500) failures.push(`${method} ${path} -> ${r.status} ${r.text.slice(0, 200)}`);
  }
  assert.deepEqual(failures, []);
  /* the barrage reached handlers: some requests succeeded and some were refused */
  const count = (lo, hi) => Object.entries(seen).filter(([k]) => k >= lo && k < hi).reduce((a, [, v]) => a + v, 0);
  assert.ok(count(200, 400) > 50, `successes: ${JSON.stringify(seen)}`);
  assert.ok(count(400, 500) > 50, `refusals: ${JSON.stringify(seen)}`);
  const ok = await srv.client().get('/healthz');
  assert.equal(ok.status, 200, 'the server still serves');
});

test('the audit chain still verifies after the barrage', async () => {
  const r = await srv.run(['audit', 'verify']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
});
