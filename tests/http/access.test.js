// tests/http/access.test.js: the route-by-role access test. It reads every route the
// program serves (`evitrack routes`), so routes added later are covered without editing
// this file, and for every role (and nobody) asserts allow or deny:
//   1. role gate: a role the route does not name gets 403 (nobody: 401 / a redirect to
//      sign-in), and nothing changes;
//   2. ownership: every route whose {ids} name a learner's resources (learners, evidence,
//      files, decisions, samples, enrolments, ...) is called with the resources of four
//      learners; reads follow the one policy (a learner: only themself; an assessor: their
//      caseload; an IQA: the learners they quality-assure; admin and EQA: all), and a
//      state change on someone else's learner is refused and changes nothing;
//   3. leaks: no page or API answer shows a marker planted in the portfolio of a learner
//      the reader may not read (lists and dashboards included);
//   4. invariants of the table itself: EQA writes nothing but its own sign-in and
//      password and its visit report, IQA and EQA never decide, admin pages and APIs are
//      admin-only, and every route open to an EQA names its visit scope;
//   5. EQA visits (issue 18): the EQA sees exactly the learners of an open visit of theirs.
//      Every route an EQA can call is tried on a learner inside the visit and outside it,
//      inside the window and outside it (before and after); outside answers exactly as
//      a nonexistent object does, and every view or download is in the audit trail.
'use strict';
const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const {startServer, runCli, assertStatus} = require('./lib.js');

let srv;
let routes = [];
const users = {};   // role key -> {client, id, role}
const fx = {};      // learner key -> fixture ids
const ROLE_USERS = {
  learner: 'learner@demo.test',
  assessor: 'assessor@demo.test',
  assessor2: 'assessor2@demo.test',
  iqa: 'iqa@demo.test',
  admin: 'admin@demo.test',
  eqa: 'eqa@demo.test',
  employer: 'access-employer@demo.test',
};
// Who each learner is enrolled with (set up in before()).
// Each is also an apprentice of one of two employers (issue 16), whose contacts see
// only their own apprentices.
const LEARNERS = {
  l1: {email: 'learner@demo.test', assessor: 'assessor', iqa: 'iqa', employer: 'employer'},
  l2: {email: 'learner2@demo.test', assessor: 'assessor', iqa: 'iqa', employer: 'employer2'},
  l3: {email: 'learner3@demo.test', assessor: 'assessor2', iqa: 'iqa', employer: 'employer'},
  l4: {email: 'access-l4@demo.test', assessor: 'assessor2', iqa: 'iqa2', employer: 'employer2'},
};
// Non-GET routes any signed-in user may call about their own account.
// The one part of an enrolment a learner's assessor records too (issue 21: the learner's
// optional units); the handler checks it is their own learner's enrolment (tests/http/combination.test.js).
const ASSESSOR_ENROLMENT_ROUTES = new Set(['GET /api/v1/enrolments/{id}/units', 'PUT /api/v1/enrolments/{id}/units']);
const OWN_ACCOUNT_WRITES = new Set([
  'DELETE /api/v1/session', 'POST /logout', 'POST /account/password', 'POST /api/v1/me/password',
  // one's own notifications: mark read, choose which arrive by email (src/notify.c)
  'POST /api/v1/notifications/read-all', 'POST /notifications/read-all', 'POST /api/v1/notifications/{id}/read',
  'POST /notifications/{id}/read', 'PUT /api/v1/me/notification-preferences', 'POST /account/notifications',
]);
/* Public state changes by design: signing in, and self-service password links
 * (src/accounts.c: asking for a link only queues an email, throttled; using one needs
 * the emailed token). */
const PUBLIC_WRITES = ['POST /login', 'POST /api/v1/session', 'POST /password-reset', 'POST /api/v1/password-resets',
  'POST /set-password', 'POST /api/v1/password-resets/confirm',
  // a witness's testimony through their one-time link: no account; the token is the credential (src/witness.c)
  'POST /witness'];

function roleOf(key) {
  return users[key].role;
}

/* The policy, restated: may the user `key` read learner `lk`'s portfolio? */
function canRead(key, lk) {
  const role = roleOf(key);
  const l = LEARNERS[lk];
  if (role === 'learner') return users[key].email === l.email;
  if (role === 'assessor') return l.assessor === key;
  if (role === 'iqa') return l.iqa === key;
  if (role === 'employer') return l.employer === key;
  if (role === 'eqa') return EQA_VISIT_LEARNERS.includes(lk);
  return role === 'admin';
}
// The EQA's open visit samples these learners (before()); l3 is in a visit that has ended,
// l4 in none.
const EQA_VISIT_LEARNERS = ['l1', 'l2'];
// The EQA's one kind of write: its visit report (src/eqa.c).
const EQA_REPORT_WRITES = new Set(['POST /api/v1/eqa/visits/{id}/findings', 'POST /eqa/visits/{id}/findings']);
const visits = {};

/* What an {id} in a pattern refers to: from the parameter's name ({unit_id}) or else the
 * path segment before it (/evidence/{id}). Owned kinds belong to one learner. */
const OWNED = {
  learners: 'learner', learner: 'learner', users: 'learner', user: 'learner',
  evidence: 'evidence', review: 'evidence', reviews: 'evidence', files: 'file', file: 'file',
  decisions: 'decision', decision: 'decision', samples: 'sample', sample: 'sample',
  actions: 'sample', enrolments: 'enrolment', enrolment: 'enrolment',
  signoffs: 'signoff', signoff: 'signoff',
  'progress-reviews': 'progress_review', // progress reviews (src/reviews.c)
  'witness-requests': 'witness',
  otj: 'otj', breaks: 'break', break: 'break', // off-the-job entries and breaks in learning (src/apprenticeships.c)
};
const SHARED = {
  units: 'unit', unit: 'unit', qualifications: 'qualification', qualification: 'qualification',
  criteria: 'criterion', criterion: 'criterion', outcomes: 'outcome', outcome: 'outcome',
};

function paramKinds(pattern) {
  const segs = pattern.split('/');
  const kinds = [];
  segs.forEach((s, i) => {
    const m = /^\{(\w+)\}$/.exec(s);
    if (!m) return;
    const byName = m[1] !== 'id' ? m[1].replace(/_id$/, '') : null;
    const prev = segs[i - 1] || '';
    const key = byName && (OWNED[byName] || SHARED[byName]) ? byName : prev;
    kinds.push(OWNED[key] ? {owned: true, kind: OWNED[key]} : SHARED[key] ? {owned: false, kind: SHARED[key]} :
      {owned: false, kind: null});
  });
  return kinds;
}

/* The pattern with its {ids} filled from learner lk's fixture (shared ids from the
 * common qualification); null when a parameter's kind is unknown. */
function fill(pattern, lk) {
  const kinds = paramKinds(pattern);
  let i = 0;
  let unknown = false;
  const p = pattern.replace(/\{\w+\}/g, () => {
    const k = kinds[i++];
    if (!k.kind) { unknown = true; return '1'; }
    const v = k.owned ? fx[lk][k.kind] : fx.shared[k.kind];
    if (v === undefined || v === null) { unknown = true; return '1'; }
    return String(v);
  });
  return unknown ? null : p;
}

function isOwned(pattern) {
  return paramKinds(pattern).some((k) => k.owned);
}

function isApi(pattern) {
  return pattern.startsWith('/api/v1/') || pattern === '/healthz';
}

/* Sends the route's method to path as client c, with an empty body for state changes. */
function call(c, route, p) {
  const m = route.method;
  if (m === 'GET' || m === 'HEAD') return c.request(m, p);
  if (isApi(route.pattern)) return c.request(m, p, {json: {}});
  return c.postForm(p, {});
}

function auditCount() {
  return Number(srv.sql('SELECT count(*) FROM audit_events'));
}

function label(route) {
  return `${route.method} ${route.pattern}`;
}

function marker(lk) {
  return `zq-secret-${lk}-${fx.salt}`;
}
/* Everything of l1's second qualification (not in the EQA's visit) carries this. */
function otherMarker() {
  return `zq-otherqual-${fx.salt}`;
}

before(async () => {
  const r = await runCli(['routes']);
  assert.equal(r.code, 0, r.stderr);
  routes = JSON.parse(r.stdout);
  srv = await startServer({demo: true});
  fx.salt = crypto.randomBytes(4).toString('hex');
  const admin = await srv.login('admin@demo.test');

  // Two more accounts: a second IQA and a learner quality-assured only by them.
  assertStatus(await admin.post('/api/v1/users', {email: 'iqa2@demo.test', name: 'Second IQA', role: 'iqa',
    password: 'second iqa password'}), 201);
  assertStatus(await admin.post('/api/v1/users', {email: 'access-l4@demo.test', name: 'Fourth Learner',
    role: 'learner', password: 'fourth learner password'}), 201);
  // Two employers, each with a contact account (the employer role). Only the first contact
  // signs in here (each role costs a pass over every route): the second employer's
  // apprentices are the ones it must not see (a second contact's view is in
  // tests/http/apprenticeships.test.js).
  for (const [key, org] of [['employer', 'Access Employer A'], ['employer2', 'Access Employer B']]) {
    const email = key === 'employer' ? ROLE_USERS.employer : 'access-employer2@demo.test';
    const u = await admin.post('/api/v1/users', {email, name: org + ' contact', role: 'employer',
      password: 'employer contact password'});
    assertStatus(u, 201);
    const e = await admin.post('/api/v1/employers', {name: org});
    assertStatus(e, 201);
    assertStatus(await admin.post(`/api/v1/employers/${e.json.employer.id}/contacts`, {user_id: u.json.user.id}), 201);
    fx[key] = e.json.employer.id;
  }
  for (const [key, email] of Object.entries(ROLE_USERS)) {
    const c = await srv.login(email, key.startsWith('employer') ? 'employer contact password' : undefined);
    users[key] = {client: c, id: c.user.id, role: c.user.role, email};
  }
  {
    const c = await srv.login('iqa2@demo.test', 'second iqa password');
    users.iqa2 = {client: c, id: c.user.id, role: 'iqa', email: 'iqa2@demo.test'};
  }

  // A qualification of our own, so the test does not depend on what --demo imports.
  srv.sql(`INSERT INTO qualifications (code, title) VALUES ('ACCESS-Q', 'Access test qualification');
    INSERT INTO units (qualification_id, ref, title, position) SELECT id, 'U1', 'Access unit', 1 FROM qualifications WHERE code = 'ACCESS-Q';
    INSERT INTO units (qualification_id, ref, title, position) SELECT id, 'U2', 'Open unit', 2 FROM qualifications WHERE code = 'ACCESS-Q';
    INSERT INTO outcomes (unit_id, number, text) SELECT id, 1, 'Understand access' FROM units WHERE title = 'Access unit';
    INSERT INTO outcomes (unit_id, number, text) SELECT id, 1, 'Understand openness' FROM units WHERE title = 'Open unit';
    INSERT INTO criteria (unit_id, outcome_id, ref, text, position) SELECT u.id, o.id, '1.1', 'Describe access', 1
      FROM units u JOIN outcomes o ON o.unit_id = u.id WHERE u.title = 'Access unit';
    INSERT INTO criteria (unit_id, outcome_id, ref, text, position) SELECT u.id, o.id, '1.1', 'Describe openness', 1
      FROM units u JOIN outcomes o ON o.unit_id = u.id WHERE u.title = 'Open unit';`);
  // U1 (signed off in each portfolio) fills {unit_id}s; U2's criterion stays open, so a
  // decision on it is possible for the right assessor and must be refused to the others.
  const q = srv.sqlRows(`SELECT q.id AS qualification, u.id AS unit, o.id AS outcome, c.id AS criterion,
    (SELECT c2.id FROM criteria c2 JOIN units u2 ON u2.id = c2.unit_id WHERE u2.title = 'Open unit') AS open_criterion
    FROM qualifications q JOIN units u ON u.qualification_id = q.id JOIN outcomes o ON o.unit_id = u.id
    JOIN criteria c ON c.unit_id = u.id WHERE q.code = 'ACCESS-Q' AND u.title = 'Access unit'`)[0];
  fx.shared = q;

  // Each learner: an enrolment (through the API), and a portfolio planted by SQL with a
  // marker: submitted evidence with a file, its mapping, a decision, an IQA sample and a
  // unit sign-off.
  const content = Buffer.from('access test evidence file\n');
  const sha = crypto.createHash('sha256').update(content).digest('hex');
  srv.blobWrite(sha, content);
  srv.sql(`INSERT INTO blobs (sha256, size) VALUES ('${sha}', ${content.length}) ON CONFLICT DO NOTHING`);
  for (const [lk, l] of Object.entries(LEARNERS)) {
    const learnerId = Number(srv.sql(`SELECT id FROM users WHERE email = '${l.email}'`));
    const r2 = await admin.post('/api/v1/enrolments', {learner_id: learnerId, qualification_id: q.qualification,
      assessor_id: users[l.assessor].id, iqa_id: users[l.iqa].id});
    assertStatus(r2, 201, `enrol ${lk}`);
    const m = marker(lk);
    const a = users[l.assessor].id;
    const i = users[l.iqa].id;
    srv.sql(`INSERT INTO evidence (learner_id, title, kind, description, occurred_on, status, submitted_at)
        VALUES (${learnerId}, '${m} evidence', 'product', '${m} description', '2026-01-10', 'submitted', '2026-01-11T10:00:00Z');
      INSERT INTO evidence_files (evidence_id, name, size, sha256, mime)
        VALUES ((SELECT max(id) FROM evidence WHERE learner_id = ${learnerId}), 'file.txt', ${content.length}, '${sha}', 'text/plain');
      INSERT INTO evidence_criteria (evidence_id, criterion_id, learner_id, note)
        SELECT max(id), ${q.criterion}, ${learnerId}, '${m} note' FROM evidence WHERE learner_id = ${learnerId};
      INSERT INTO evidence_criteria (evidence_id, criterion_id, learner_id, note)
        SELECT max(id), ${q.open_criterion}, ${learnerId}, '${m} open note' FROM evidence WHERE learner_id = ${learnerId};
      INSERT INTO decisions (learner_id, criterion_id, assessor_id, outcome, feedback, declaration, created_at)
        VALUES (${learnerId}, ${q.criterion}, ${a}, 'met', '${m} feedback', 1, '2026-01-12T10:00:00Z');
      INSERT INTO decision_evidence (decision_id, evidence_id)
        SELECT (SELECT max(id) FROM decisions), max(id) FROM evidence WHERE learner_id = ${learnerId};
      INSERT INTO iqa_samples (decision_id, iqa_id, outcome, feedback, created_at)
        SELECT max(id), ${i}, 'action_required', '${m} sample', '2026-01-13T10:00:00Z' FROM decisions WHERE learner_id = ${learnerId};
      INSERT INTO unit_signoffs (learner_id, unit_id, assessor_id, assessor_signed_at)
        VALUES (${learnerId}, ${q.unit}, ${a}, '2026-01-14T10:00:00Z');
      INSERT INTO progress_reviews (enrolment_id, learner_id, assessor_id, number, due_on, held_on, period_from,
          assessor_summary, signers, created_at, updated_at)
        SELECT max(id), ${learnerId}, ${a}, 1, '2026-03-01', '2026-03-01', '2026-01-01', '${m} review', 'learner assessor',
          '2026-03-01T10:00:00Z', '2026-03-01T10:00:00Z' FROM enrolments WHERE learner_id = ${learnerId};`);
    // an apprenticeship on that enrolment, with an off-the-job entry and a break (markers in both)
    srv.sql(`INSERT INTO apprenticeships (enrolment_id, learner_id, employer_id, weekly_minutes, planned_otj_minutes, created_at)
        VALUES ((SELECT max(id) FROM enrolments WHERE learner_id = ${learnerId}), ${learnerId}, ${fx[l.employer]}, 1800, 18000, '2026-01-01T00:00:00Z');
      INSERT INTO otj_entries (apprenticeship_id, learner_id, occurred_on, minutes, activity, description, recorded_by, recorded_at)
        SELECT max(id), ${learnerId}, '2026-01-15', 90, 'theory', '${m} otj', ${learnerId}, '2026-01-15T10:00:00Z' FROM apprenticeships WHERE learner_id = ${learnerId};
      INSERT INTO learning_breaks (apprenticeship_id, start_date, end_date, reason, recorded_at)
        SELECT max(id), '2026-01-20', '2026-01-22', '${m} break', '2026-01-20T10:00:00Z' FROM apprenticeships WHERE learner_id = ${learnerId};`);
    fx[lk] = srv.sqlRows(`SELECT ${learnerId} AS learner,
        (SELECT max(id) FROM otj_entries WHERE learner_id = ${learnerId}) AS otj,
        (SELECT max(b.id) FROM learning_breaks b JOIN apprenticeships a ON a.id = b.apprenticeship_id WHERE a.learner_id = ${learnerId}) AS break,
        (SELECT max(id) FROM evidence WHERE learner_id = ${learnerId}) AS evidence,
        (SELECT max(f.id) FROM evidence_files f JOIN evidence e ON e.id = f.evidence_id WHERE e.learner_id = ${learnerId}) AS file,
        (SELECT max(id) FROM decisions WHERE learner_id = ${learnerId}) AS decision,
        (SELECT max(s.id) FROM iqa_samples s JOIN decisions d ON d.id = s.decision_id WHERE d.learner_id = ${learnerId}) AS sample,
        (SELECT max(id) FROM enrolments WHERE learner_id = ${learnerId}) AS enrolment,
        (SELECT max(id) FROM unit_signoffs WHERE learner_id = ${learnerId}) AS signoff,
        (SELECT max(id) FROM progress_reviews WHERE learner_id = ${learnerId}) AS progress_review`)[0];
    // a pending witness request (src/witness.c), nominated by the learner
    srv.sql(`INSERT INTO witness_requests (learner_id, requested_by, title, about, witness_name, witness_job_title,
        witness_relationship, witness_email, token_hash, status, created_at, expires_at)
      VALUES (${learnerId}, ${learnerId}, '${m} work', '${m} about', 'Witness ${lk}', 'Manager', 'Line manager',
        'w-${lk}@example.test', '${crypto.randomBytes(32).toString('hex')}', 'pending', '2026-01-15T10:00:00Z',
        '2099-01-01T00:00:00Z')`);
    fx[lk].witness = Number(srv.sql(`SELECT max(id) FROM witness_requests WHERE learner_id = ${learnerId}`));
  }
  // l1 is also enrolled on a second qualification that the EQA's visit does not name, with a
  // portfolio of its own (evidence mapped only to it, with a file; a decision, an IQA sample,
  // a unit sign-off, a progress review), every piece carrying otherMarker(): an EQA must see
  // none of it (issue 18).
  srv.sql(`INSERT INTO qualifications (code, title) VALUES ('ACCESS-Q2', 'Other qualification ${otherMarker()}');
    INSERT INTO units (qualification_id, ref, title, position) SELECT id, 'OU1', 'Other unit ${otherMarker()}', 1 FROM qualifications WHERE code = 'ACCESS-Q2';
    INSERT INTO outcomes (unit_id, number, text) SELECT id, 1, 'Other outcome ${otherMarker()}' FROM units WHERE ref = 'OU1';
    INSERT INTO criteria (unit_id, outcome_id, ref, text, position) SELECT u.id, o.id, '9.1', 'Other criterion ${otherMarker()}', 1
      FROM units u JOIN outcomes o ON o.unit_id = u.id WHERE u.ref = 'OU1';`);
  {
    const q2 = srv.sqlRows(`SELECT q.id AS qualification, u.id AS unit, c.id AS criterion FROM qualifications q
      JOIN units u ON u.qualification_id = q.id JOIN criteria c ON c.unit_id = u.id WHERE q.code = 'ACCESS-Q2'`)[0];
    const L = fx.l1.learner;
    const m = otherMarker();
    assertStatus(await admin.post('/api/v1/enrolments', {learner_id: L, qualification_id: q2.qualification,
      assessor_id: users.assessor.id, iqa_id: users.iqa.id}), 201, 'enrol l1 on ACCESS-Q2');
    const other = Buffer.from(`other qualification file ${m}\n`);
    const osha = crypto.createHash('sha256').update(other).digest('hex');
    srv.blobWrite(osha, other);
    srv.sql(`INSERT INTO blobs (sha256, size) VALUES ('${osha}', ${other.length}) ON CONFLICT DO NOTHING;
      INSERT INTO evidence (learner_id, title, kind, description, occurred_on, status, submitted_at)
        VALUES (${L}, '${m} evidence', 'product', '${m} description', '2026-01-10', 'submitted', '2026-01-11T10:00:00Z');
      INSERT INTO evidence_files (evidence_id, name, size, sha256, mime)
        VALUES ((SELECT max(id) FROM evidence WHERE learner_id = ${L}), '${m}.txt', ${other.length}, '${osha}', 'text/plain');
      INSERT INTO evidence_criteria (evidence_id, criterion_id, learner_id, note)
        SELECT max(id), ${q2.criterion}, ${L}, '${m} note' FROM evidence WHERE learner_id = ${L};
      INSERT INTO decisions (learner_id, criterion_id, assessor_id, outcome, feedback, declaration, created_at)
        VALUES (${L}, ${q2.criterion}, ${users.assessor.id}, 'met', '${m} feedback', 1, '2026-01-12T10:00:00Z');
      INSERT INTO decision_evidence (decision_id, evidence_id)
        SELECT (SELECT max(id) FROM decisions), max(id) FROM evidence WHERE learner_id = ${L};
      INSERT INTO iqa_samples (decision_id, iqa_id, outcome, feedback, created_at)
        SELECT max(id), ${users.iqa.id}, 'agree', '${m} sample', '2026-01-13T10:00:00Z' FROM decisions WHERE learner_id = ${L};
      INSERT INTO unit_signoffs (learner_id, unit_id, assessor_id, assessor_signed_at)
        VALUES (${L}, ${q2.unit}, ${users.assessor.id}, '2026-01-14T10:00:00Z');
      INSERT INTO progress_reviews (enrolment_id, learner_id, assessor_id, number, due_on, held_on, period_from,
          assessor_summary, signers, created_at, updated_at)
        SELECT max(id), ${L}, ${users.assessor.id}, 1, '2026-03-01', '2026-03-01', '2026-01-01', '${m} review', 'learner assessor',
          '2026-03-01T10:00:00Z', '2026-03-01T10:00:00Z' FROM enrolments WHERE learner_id = ${L};
      INSERT INTO apprenticeships (enrolment_id, learner_id, employer_id, weekly_minutes, planned_otj_minutes, created_at)
        VALUES ((SELECT max(id) FROM enrolments WHERE learner_id = ${L}), ${L}, ${fx.employer}, 1800, 18000, '2026-01-01T00:00:00Z');
      INSERT INTO otj_entries (apprenticeship_id, learner_id, occurred_on, minutes, activity, description, recorded_by, recorded_at)
        SELECT max(id), ${L}, '2026-01-16', 60, 'theory', '${m} otj', ${L}, '2026-01-16T10:00:00Z' FROM apprenticeships WHERE learner_id = ${L};
      INSERT INTO witness_requests (learner_id, requested_by, title, about, witness_name, witness_job_title,
          witness_relationship, witness_email, token_hash, status, created_at, expires_at)
        VALUES (${L}, ${L}, '${m} witnessed work', '${m} about', 'Other witness', 'Manager', 'Line manager',
          'w-other@example.test', '${crypto.randomBytes(32).toString('hex')}', 'pending', '2026-01-15T10:00:00Z',
          '2099-01-01T00:00:00Z');
      INSERT INTO witness_request_criteria (request_id, criterion_id)
        SELECT max(id), ${q2.criterion} FROM witness_requests WHERE learner_id = ${L};`);
    fx.other = {...srv.sqlRows(`SELECT ${L} AS learner,
        (SELECT max(id) FROM evidence WHERE learner_id = ${L}) AS evidence,
        (SELECT max(f.id) FROM evidence_files f JOIN evidence e ON e.id = f.evidence_id WHERE e.learner_id = ${L}) AS file,
        (SELECT max(id) FROM decisions WHERE learner_id = ${L}) AS decision,
        (SELECT max(s.id) FROM iqa_samples s JOIN decisions d ON d.id = s.decision_id WHERE d.learner_id = ${L}) AS sample,
        (SELECT max(id) FROM enrolments WHERE learner_id = ${L}) AS enrolment,
        (SELECT max(id) FROM unit_signoffs WHERE learner_id = ${L}) AS signoff,
        (SELECT max(id) FROM progress_reviews WHERE learner_id = ${L}) AS progress_review`)[0], witness: fx.l1.witness,
      otj: fx.l1.otj, break: fx.l1.break};
    fx.otherShared = q2;
  }
  // EQA visits: the demo's visit is ended; one open now for l1 and l2 on ACCESS-Q, and one
  // that ended in January for l3.
  srv.sql(`UPDATE eqa_visits SET ended_at = '2026-01-01T00:00:00Z'`);
  const iso = (ms) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
  const open = await admin.post('/api/v1/eqa/visits', {eqa_id: users.eqa.id, qualification_ids: [q.qualification],
    starts_at: iso(Date.now() - 3600e3), ends_at: iso(Date.now() + 86400e3), sample_rule: 'chosen',
    learner_ids: EQA_VISIT_LEARNERS.map((lk) => fx[lk].learner)});
  assertStatus(open, 201, 'open visit');
  visits.open = open.json;
  const past = await admin.post('/api/v1/eqa/visits', {eqa_id: users.eqa.id, qualification_ids: [q.qualification],
    starts_at: '2026-01-05', ends_at: '2026-01-09', learner_ids: [fx.l3.learner]});
  assertStatus(past, 201, 'past visit');
  visits.past = past.json;
  // the derived status, as the application would have it
  srv.sql(`UPDATE criterion_status SET status = 'met' WHERE criterion_id = ${q.criterion};
    UPDATE criterion_status SET status = 'submitted' WHERE criterion_id = ${q.open_criterion}`);
});

after(() => srv && srv.stop());

test('the route table is readable and complete', () => {
  assert.ok(routes.length >= 30, `only ${routes.length} routes`);
  for (const r of routes) {
    assert.match(r.method, /^(GET|POST|PUT|PATCH|DELETE)$/, label(r));
    assert.ok(r.pattern.startsWith('/'), label(r));
    assert.ok(Array.isArray(r.roles), label(r));
    assert.equal(r.public, r.roles.length === 0, label(r));
  }
  const names = new Set(routes.map(label));
  for (const must of ['POST /api/v1/session', 'DELETE /api/v1/session', 'GET /api/v1/me', 'GET /api/v1/learners/{id}',
    'GET /healthz']) {
    assert.ok(names.has(must), must);
  }
  // no route is listed twice (the first would shadow the second)
  assert.equal(names.size, routes.length, 'duplicate method + pattern');
});

test('invariants: EQA writes nothing, IQA and EQA never decide, admin areas are admin-only, few public routes', () => {
  const problems = [];
  for (const r of routes) {
    const write = r.method !== 'GET' && r.method !== 'HEAD';
    if (r.roles.includes('eqa') && !r.eqa_scope) problems.push(`${label(r)} is open to EQA without a visit scope`);
    if (write && r.roles.includes('eqa') && !OWN_ACCOUNT_WRITES.has(label(r)) && !EQA_REPORT_WRITES.has(label(r))) {
      problems.push(`${label(r)} lets an EQA change something`);
    }
    if (write && /decision|signoff|\/assess(?!ors\/)/.test(r.pattern) && (r.roles.includes('iqa') || r.roles.includes('eqa')) &&
        !/countersign|respon|reopen/.test(r.pattern)) { // reopening a sign-off is the IQA's (issue 11), not a decision
      problems.push(`${label(r)} lets an IQA or EQA decide`);
    }
    if ((r.pattern.startsWith('/admin/') || /^\/api\/v1\/(users|enrolments)(\/|$)/.test(r.pattern)) &&
        !ASSESSOR_ENROLMENT_ROUTES.has(label(r)) && (r.roles.length !== 1 || r.roles[0] !== 'admin')) {
      problems.push(`${label(r)} is not admin-only`);
    }
    if (r.public && write && !r.no_csrf) problems.push(`${label(r)} is a public state change`);
  }
  const publicRoutes = routes.filter((r) => r.public).map(label);
  for (const p of publicRoutes) {
    if (!/^(GET|HEAD) /.test(p) && !PUBLIC_WRITES.includes(p)) {
      problems.push(`${p} is a public state change`);
    }
  }
  assert.deepEqual(problems, []);
});

test('role gate: nobody and every role a route does not name are refused, and nothing changes', async (t) => {
  const anon = srv.client();
  const failures = [];
  let checked = 0;
  const eqaMissing = {api: (await users.eqa.client.get('/api/v1/learners/99999999')).text,
    page: (await users.eqa.client.get('/learners/99999999')).text};
  const audit0 = auditCount();
  for (const r of routes) {
    const p = fill(r.pattern, 'l1') || r.pattern.replace(/\{\w+\}/g, '1');
    if (!r.public) {
      const res = await call(anon, r, p);
      if (isApi(r.pattern)) {
        if (res.status !== 401) failures.push(`nobody ${r.method} ${p}: ${res.status} (want 401)`);
      } else if (!(res.status === 303 && /^\/login/.test(res.headers.location || '')) && res.status !== 401) {
        failures.push(`nobody ${r.method} ${p}: ${res.status} ${res.headers.location || ''} (want 303 to /login)`);
      }
    }
    for (const key of Object.keys(users)) {
      if (r.public || r.roles.includes(roleOf(key))) continue;
      const res = await call(users[key].client, r, p);
      checked++;
      if (roleOf(key) === 'eqa') {
        // an EQA is told nothing outside its visits: a closed route answers as a missing object (issue 18)
        if (res.status !== 404) failures.push(`eqa ${r.method} ${p}: ${res.status} (want 404)`);
        else if (res.text !== eqaMissing[isApi(r.pattern) ? 'api' : 'page']) {
          failures.push(`eqa ${r.method} ${p}: its 404 differs from a nonexistent object's`);
        }
        continue;
      }
      // an employer contact (outside the centre) is answered about any particular object
      // as if it did not exist (src/http.c), the same for their own apprentice's as for others'
      if (roleOf(key) === 'employer' && r.pattern.includes('{')) {
        if (res.status !== 404) failures.push(`${key} ${r.method} ${p}: ${res.status} (want 404)`);
        continue;
      }
      if (res.status !== 403) failures.push(`${key} ${r.method} ${p}: ${res.status} (want 403)`);
    }
  }
  t.diagnostic(`${routes.length} routes, ${checked} role-gate refusals checked`);
  assert.deepEqual(failures, []);
  assert.equal(auditCount(), audit0, 'refused requests changed something');
});

test('public routes answer without a session', async () => {
  const anon = srv.client();
  for (const r of routes.filter((x) => x.public && x.method === 'GET')) {
    const p = fill(r.pattern, 'l1') || r.pattern.replace(/\{\w+\}/g, '1');
    const res = await anon.get(p);
    // /set-password without a live token answers 410 (the link has expired)
    assert.ok(res.status < 400 || res.status === 404 || (p === '/set-password' && res.status === 410),
      `${label(r)}: ${res.status}`);
  }
});

test('ownership: reads of a learner\'s resources follow the policy', async (t) => {
  const failures = [];
  let checked = 0;
  for (const r of routes.filter((x) => x.method === 'GET' && !x.public && isOwned(x.pattern))) {
    for (const key of Object.keys(users)) {
      if (!r.roles.includes(roleOf(key))) continue;
      for (const lk of Object.keys(LEARNERS)) {
        const p = fill(r.pattern, lk);
        if (!p) continue;
        const res = await users[key].client.get(p);
        checked++;
        const allowed = canRead(key, lk);
        if (allowed && (res.status >= 400)) {
          failures.push(`${key} may read ${lk}: GET ${p} answered ${res.status}`);
        } else if (!allowed && res.status !== 403 && res.status !== 404) {
          failures.push(`${key} may not read ${lk}: GET ${p} answered ${res.status} (want 403 or 404)`);
        } else if (!allowed && roleOf(key) === 'employer' && res.status !== 404) {
          failures.push(`${key} may not read ${lk}: GET ${p} answered ${res.status} (want 404, as if it did not exist)`);
        }
      }
    }
  }
  t.diagnostic(`${checked} ownership reads checked`);
  assert.ok(checked >= 24, `only ${checked} ownership reads checked`);
  assert.deepEqual(failures, []);
});

test('ownership: state changes on someone else\'s learner are refused and change nothing', async (t) => {
  const failures = [];
  let writes = 0;
  for (const r of routes.filter((x) => x.method !== 'GET' && !x.public && isOwned(x.pattern))) {
    for (const key of Object.keys(users)) {
      const role = roleOf(key);
      if (!r.roles.includes(role) || role === 'admin') continue;
      for (const lk of Object.keys(LEARNERS)) {
        if (canRead(key, lk)) continue; // only foreign learners here
        const p = fill(r.pattern, lk);
        if (!p) continue;
        const before = auditCount();
        const res = await call(users[key].client, r, p);
        writes++;
        if (res.status < 400) failures.push(`${key} on ${lk}: ${r.method} ${p} answered ${res.status}`);
        if (auditCount() !== before) failures.push(`${key} on ${lk}: ${r.method} ${p} changed something`);
      }
    }
  }
  // and the known writes by explicit case, when those routes exist
  const has = (m, p) => routes.some((x) => x.method === m && x.pattern === p);
  const before = auditCount();
  if (has('POST', '/api/v1/decisions')) {
    // another assessor's learner
    const res = await users.assessor2.client.post('/api/v1/decisions', {learner_id: fx.l1.learner,
      criterion_id: fx.shared.open_criterion, outcome: 'met', feedback: 'x', evidence_ids: [fx.l1.evidence],
      declaration: true, vacsr: {valid: true, authentic: true, current: true, sufficient: true, reliable: true}});
    if (![400, 403, 404].includes(res.status)) failures.push(`assessor2 decided for l1: ${res.status}`);
  }
  if (has('POST', '/api/v1/iqa/samples')) {
    const res = await users.iqa.client.post('/api/v1/iqa/samples', {decision_id: fx.l4.decision, outcome: 'agree',
      feedback: 'x'});
    if (![400, 403, 404].includes(res.status)) failures.push(`iqa sampled l4 (not theirs): ${res.status}`);
  }
  if (has('PUT', '/api/v1/evidence/{id}/criteria')) {
    const res = await users.learner.client.put(`/api/v1/evidence/${fx.l2.evidence}/criteria`,
      {criteria: [{criterion_id: fx.shared.criterion, note: 'mine now'}]});
    if (![400, 403, 404, 409].includes(res.status)) failures.push(`learner remapped l2's evidence: ${res.status}`);
  }
  if (has('POST', '/api/v1/evidence/{id}/submit')) {
    const res = await users.learner.client.post(`/api/v1/evidence/${fx.l2.evidence}/submit`);
    if (![400, 403, 404, 409].includes(res.status)) failures.push(`learner submitted l2's evidence: ${res.status}`);
  }
  t.diagnostic(`${writes} foreign writes checked`);
  assert.equal(auditCount(), before, 'a refused write changed something');
  assert.deepEqual(failures, []);
});

/* Everything recorded about learner lk, as one comparable string. */
function learnerState(lk) {
  const id = fx[lk].learner;
  return srv.sql(`SELECT (SELECT count(*) FROM audit_events WHERE learner_id = ${id}) || '/' ||
    (SELECT count(*) FROM evidence WHERE learner_id = ${id}) || '/' ||
    (SELECT count(*) || ':' || coalesce(max(updated_at), '') FROM evidence WHERE learner_id = ${id}) || '/' ||
    (SELECT count(*) FROM evidence_criteria WHERE learner_id = ${id}) || '/' ||
    (SELECT count(*) FROM decisions WHERE learner_id = ${id}) || '/' ||
    (SELECT count(*) FROM iqa_samples s JOIN decisions d ON d.id = s.decision_id WHERE d.learner_id = ${id}) || '/' ||
    (SELECT count(*) FROM countersigns WHERE learner_id = ${id}) || '/' ||
    (SELECT count(*) || ':' || coalesce(max(learner_signed_at), '') FROM unit_signoffs WHERE learner_id = ${id}) || '/' ||
    (SELECT count(*) FROM progress_reviews WHERE learner_id = ${id}) || '/' ||
    (SELECT count(*) FROM progress_review_signatures s JOIN progress_reviews r ON r.id = s.review_id WHERE r.learner_id = ${id}) || '/'`) +
    JSON.stringify(srv.sqlRows(`SELECT assessor_id, iqa_id, status FROM enrolments WHERE learner_id = ${id} ORDER BY id`));
}

test('body ids: a state change naming someone else\'s learner in its body changes nothing of theirs', async (t) => {
  const failures = [];
  let writes = 0;
  for (const r of routes.filter((x) => x.method !== 'GET' && !x.public && !x.pattern.includes('{') &&
      !OWN_ACCOUNT_WRITES.has(label(x)))) {
    for (const key of Object.keys(users)) {
      const role = roleOf(key);
      if (!r.roles.includes(role) || role === 'admin') continue;
      const lk = Object.keys(LEARNERS).find((l) => !canRead(key, l));
      if (!lk) continue;
      const f = fx[lk];
      const body = {learner_id: f.learner, learner: f.learner, evidence_id: f.evidence, decision_id: f.decision,
        sample_id: f.sample, enrolment_id: f.enrolment, unit_id: fx.shared.unit, criterion_id: fx.shared.open_criterion,
        vacsr: {valid: true, authentic: true, current: true, sufficient: true, reliable: true},
        evidence_ids: [f.evidence], outcome: role === 'iqa' ? 'agree' : 'met', feedback: 'body id probe',
        declaration: true, title: 'body id probe', kind: 'product', description: 'x', occurred_on: '2026-01-01',
        criteria: [{criterion_id: fx.shared.criterion, note: 'x'}]};
      const before = learnerState(lk);
      const res = isApi(r.pattern) ? await users[key].client.request(r.method, r.pattern, {json: body})
        : await users[key].client.postForm(r.pattern, {...body, criteria: undefined});
      writes++;
      if (learnerState(lk) !== before) {
        failures.push(`${key} ${r.method} ${r.pattern} naming ${lk} changed their record (${res.status})`);
      }
    }
  }
  t.diagnostic(`${writes} body-id writes checked`);
  assert.ok(writes > 0);
  assert.deepEqual(failures, []);
});

test('leaks: no answer shows a portfolio the reader may not read', async (t) => {
  const failures = [];
  let checked = 0;
  for (const r of routes.filter((x) => x.method === 'GET' && !x.public)) {
    for (const key of Object.keys(users)) {
      if (!r.roles.includes(roleOf(key))) continue;
      const readable = Object.keys(LEARNERS).filter((lk) => canRead(key, lk));
      const foreign = Object.keys(LEARNERS).filter((lk) => !canRead(key, lk));
      if (!foreign.length) continue;
      // Lists and dashboards, also asked about a foreign learner by query parameter;
      // owned routes with the reader's own (or a readable) learner's ids.
      const paths = [];
      if (!r.pattern.includes('{')) {
        paths.push(r.pattern);
        for (const lk of foreign) paths.push(`${r.pattern}?learner_id=${fx[lk].learner}&learner=${fx[lk].learner}`);
      } else if (readable.length) {
        const p = fill(r.pattern, readable[0]);
        if (p) paths.push(p);
      }
      for (const p of paths) {
        const res = await users[key].client.get(p);
        checked++;
        for (const lk of foreign) {
          if (res.text.includes(marker(lk))) failures.push(`${key} GET ${p} shows ${lk}'s portfolio (${res.status})`);
        }
      }
    }
  }
  t.diagnostic(`${checked} answers searched for other learners' markers`);
  assert.ok(checked > 20, `only ${checked} answers checked`);
  assert.deepEqual(failures, []);
});

test('the markers are visible where they should be (the leak test can fail)', async () => {
  // The learner's own record, the admin's view and the assessor's view of their learner
  // show the planted data whenever such routes exist.
  const has = (p) => routes.some((x) => x.method === 'GET' && x.pattern === p);
  if (has('/api/v1/evidence/{id}')) {
    const own = await users.learner.client.get(`/api/v1/evidence/${fx.l1.evidence}`);
    assertStatus(own, 200);
    assert.ok(own.text.includes(marker('l1')));
    const asr = await users.assessor.client.get(`/api/v1/evidence/${fx.l1.evidence}`);
    assertStatus(asr, 200);
    assert.ok(asr.text.includes(marker('l1')));
  }
  const learner = await users.admin.client.get(`/api/v1/learners/${fx.l3.learner}`);
  assertStatus(learner, 200);
  assert.equal(learner.json.email, 'learner3@demo.test');
  const access = learner.json.enrolments.filter((e) => e.qualification.code === 'ACCESS-Q');
  assert.equal(access.length, 1);
  assert.equal(access[0].assessor.email, 'assessor2@demo.test');
  assert.equal(access[0].iqa.email, 'iqa@demo.test');
  // and the enrolment-backed policy shows in the learner list
  const list = await users.assessor.client.get('/api/v1/learners', {query: {per_page: 200}});
  assertStatus(list, 200);
  // (among this test's four learners: the demo's apprentice is also on this assessor's caseload)
  const mine = new Set(Object.keys(LEARNERS).map((lk) => fx[lk].learner));
  const ids = list.json.learners.map((l) => l.id).filter((id) => mine.has(id)).sort();
  assert.deepEqual(ids, [fx.l1.learner, fx.l2.learner].sort());
  // an employer contact reads their own apprentices' hours, and the markers in them
  const own = await users.employer.client.get(`/api/v1/learners/${fx.l1.learner}/otj`);
  assertStatus(own, 200);
  assert.ok(own.text.includes(marker('l1')));
  const foreign = await users.employer.client.get(`/api/v1/learners/${fx.l2.learner}/otj`);
  assert.equal(foreign.status, 404);
  assert.ok(!foreign.text.includes(marker('l2')));
});

test('employer: on every route, another employer\'s apprentice\'s objects answer exactly as missing ones', async (t) => {
  // Issue 16: whatever the route (open to the employer role or not, read or write), an
  // object of an apprentice who is not theirs answers 404 with the very body of an id
  // that does not exist, and changes nothing.
  const emp = users.employer.client;
  const failures = [];
  let checked = 0;
  const before = auditCount();
  for (const r of routes.filter((x) => !x.public && x.pattern.includes('{') && isOwned(x.pattern))) {
    const missing = await call(emp, r, r.pattern.replace(/\{\w+\}/g, '99999999'));
    for (const lk of Object.keys(LEARNERS).filter((l) => !canRead('employer', l))) {
      const p = fill(r.pattern, lk);
      if (!p) continue;
      const res = await call(emp, r, p);
      checked++;
      if (res.status !== 404) failures.push(`employer ${r.method} ${p} (${lk}): ${res.status} (want 404)`);
      else if (res.text !== missing.text) failures.push(`employer ${r.method} ${p} (${lk}): differs from a missing object's 404`);
      if (Object.keys(LEARNERS).some((m) => res.text.includes(marker(m)))) failures.push(`employer ${r.method} ${p} shows a marker`);
    }
  }
  t.diagnostic(`${checked} employer answers about other employers' apprentices compared with missing objects`);
  assert.ok(checked >= 40, `only ${checked} checked`);
  assert.equal(auditCount(), before, 'a refused request changed something');
  assert.deepEqual(failures, []);
});

/* The path of an EQA-reachable route for learner lk (or for ids that do not exist). */
function eqaPath(r, lk) {
  if (r.eqa_scope === 'decision_arg') return `${r.pattern}?decision_id=${lk ? fx[lk].decision : 99999999}`;
  if (!lk) return r.pattern.replace(/\{\w+\}/g, '99999999');
  return fill(r.pattern, lk);
}
const EQA_LEARNER_SCOPES = new Set(['learner', 'learner_unit', 'evidence', 'decision', 'decision_arg', 'enrolment', 'review', 'group']);
const EQA_SHARED_SCOPES = new Set(['qualification', 'unit']);

function eqaAudit() {
  return Number(srv.sql("SELECT count(*) FROM audit_events WHERE action IN ('eqa.view', 'eqa.download')"));
}

test('EQA visits: every EQA route, inside and outside the visit, inside and outside its window', async (t) => {
  const eqa = users.eqa.client;
  const eqaRoutes = routes.filter((r) => r.method === 'GET' && r.roles.includes('eqa') &&
    (EQA_LEARNER_SCOPES.has(r.eqa_scope) || EQA_SHARED_SCOPES.has(r.eqa_scope)));
  assert.ok(eqaRoutes.length >= 25, `only ${eqaRoutes.length} EQA routes`);
  const failures = [];
  let checked = 0;
  const visitId = visits.open.id;
  const setWindow = (from, to) => srv.sql(`UPDATE eqa_visits SET starts_at = '${from}', ends_at = '${to}' WHERE id = ${visitId}`);
  const iso = (ms) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
  const windows = {
    inside: [iso(Date.now() - 3600e3), iso(Date.now() + 86400e3)],
    before: [iso(Date.now() + 3600e3), iso(Date.now() + 86400e3)],
    after: [iso(Date.now() - 86400e3), iso(Date.now() - 60e3)],
  };
  for (const [when, [from, to]] of Object.entries(windows)) {
    setWindow(from, to);
    // Outside the window every learner is closed: l1 (in the visit) stands for them all.
    const learners = when === 'inside' ? Object.keys(LEARNERS) : ['l1'];
    const a0 = eqaAudit();
    let audited = 0;
    for (const r of eqaRoutes) {
      const missing = await eqa.get(eqaPath(r, null));
      if (missing.status !== 404) failures.push(`${when}: ${label(r)} on ids that do not exist: ${missing.status}`);
      for (const lk of learners) {
        const p = eqaPath(r, lk);
        if (!p) continue;
        const res = await eqa.get(p);
        checked++;
        const shared = EQA_SHARED_SCOPES.has(r.eqa_scope);
        const allowed = when === 'inside' && (shared || EQA_VISIT_LEARNERS.includes(lk));
        if (allowed) {
          if (res.status >= 400) failures.push(`${when}: EQA may read ${lk}: GET ${p} answered ${res.status}`);
          if (!shared) audited++;
        } else {
          if (res.status !== 404) failures.push(`${when}: EQA may not read ${lk}: GET ${p} answered ${res.status}`);
          else if (res.text !== missing.text) failures.push(`${when}: GET ${p} differs from a nonexistent object's 404`);
          for (const m of Object.keys(LEARNERS)) {
            if (res.text.includes(marker(m))) failures.push(`${when}: GET ${p} shows ${m}'s portfolio`);
          }
        }
      }
    }
    // each view or download inside the visit is one audit event; nothing refused is one
    if (eqaAudit() !== a0 + audited) failures.push(`${when}: ${eqaAudit() - a0} EQA views audited (want ${audited})`);
    // the learner list follows the window too
    const list = await eqa.get('/api/v1/learners', {query: {per_page: 200}});
    assertStatus(list, 200);
    const ids = list.json.learners.map((l) => l.id).sort();
    const want = when === 'inside' ? EQA_VISIT_LEARNERS.map((lk) => fx[lk].learner).sort() : [];
    if (JSON.stringify(ids) !== JSON.stringify(want)) failures.push(`${when}: learner list ${ids} (want ${want})`);
  }
  setWindow(...windows.inside);
  // ended early by an admin: closed at once
  assertStatus(await eqa.get(`/api/v1/learners/${fx.l1.learner}`), 200);
  srv.sql(`UPDATE eqa_visits SET ended_at = '${iso(Date.now() - 1000)}' WHERE id = ${visitId}`);
  const ended = await eqa.get(`/api/v1/learners/${fx.l1.learner}`);
  if (ended.status !== 404) failures.push(`a visit ended early still shows l1: ${ended.status}`);
  srv.sql(`UPDATE eqa_visits SET ended_at = NULL WHERE id = ${visitId}`);
  // another EQA account sees nothing of this visit
  t.diagnostic(`${eqaRoutes.length} EQA routes, ${checked} scoped reads checked`);
  assert.deepEqual(failures, []);
});

test('EQA visits: an apprentice in the sample: their off-the-job hours, read only and audited; out of the sample: nothing', async () => {
  const eqa = users.eqa.client;
  const a0 = eqaAudit();
  const own = await eqa.get(`/api/v1/learners/${fx.l1.learner}/otj`);
  assertStatus(own, 200);
  assert.ok(own.text.includes(marker('l1')), 'the sampled apprentice\'s entries are shown');
  assert.equal(own.json.can_record, false);
  assert.equal(own.json.can_verify, false);
  assert.equal(own.json.can_manage_breaks, false);
  const page = await eqa.get(`/learners/${fx.l1.learner}/otj`);
  assertStatus(page, 200);
  assert.ok(page.text.includes(marker('l1')));
  assert.ok(!/action="\/otj\/\d+\/(verify|query)"|action="\/learners\/\d+\/(otj|breaks)"/.test(page.text), 'no forms for an EQA');
  const csv = await eqa.get(`/learners/${fx.l1.learner}/otj.csv`);
  assertStatus(csv, 200);
  assert.equal(eqaAudit(), a0 + 3, 'each view and the download are in the audit trail');
  const rows = srv.sqlRows(`SELECT action, learner_id FROM audit_events WHERE action IN ('eqa.view', 'eqa.download')
    ORDER BY id DESC LIMIT 3`);
  assert.deepEqual(rows.map((x) => [x.action, Number(x.learner_id)]),
    [['eqa.download', fx.l1.learner], ['eqa.view', fx.l1.learner], ['eqa.view', fx.l1.learner]]);
  // l3 (a visit that has ended) and l4 (no visit): as if they did not exist, and not audited
  const missing = await eqa.get('/api/v1/learners/99999999/otj');
  for (const lk of ['l3', 'l4']) {
    const res = await eqa.get(`/api/v1/learners/${fx[lk].learner}/otj`);
    assert.equal(res.status, 404);
    assert.equal(res.text, missing.text);
    assertStatus(await eqa.get(`/learners/${fx[lk].learner}/otj.csv`), 404);
  }
  assert.equal(eqaAudit(), a0 + 3);
  // an EQA records and verifies nothing (closed routes: as if they did not exist, issue 18)
  assertStatus(await eqa.post(`/api/v1/learners/${fx.l1.learner}/otj`, {}), 404);
  assertStatus(await eqa.post(`/api/v1/otj/${fx.l1.otj}/verify`, {}), 404);
});

test('EQA visits: a second EQA sees nothing of another\'s visit; audit shown to an EQA has no addresses', async () => {
  const admin = users.admin.client;
  assertStatus(await admin.post('/api/v1/users', {email: 'eqa2@demo.test', name: 'Second EQA', role: 'eqa',
    password: 'second eqa password'}), 201);
  const other = await srv.login('eqa2@demo.test', 'second eqa password');
  assertStatus(await other.get(`/api/v1/learners/${fx.l1.learner}`), 404);
  assertStatus(await other.get(`/api/v1/eqa/visits/${visits.open.id}`), 404);
  const mine = await other.get('/api/v1/eqa/visits');
  assertStatus(mine, 200);
  assert.deepEqual(mine.json.items, []);
  assertStatus(await other.post(`/api/v1/eqa/visits/${visits.open.id}/findings`, {kind: 'finding', body: 'x'}), 404);
  // the past visit's report stays readable to its EQA, its learners do not
  const past = await users.eqa.client.get(`/api/v1/eqa/visits/${visits.past.id}`);
  assertStatus(past, 200);
  assert.equal(past.json.state, 'ended');
  assert.deepEqual(past.json.learners, []);
  assertStatus(await users.eqa.client.post(`/api/v1/eqa/visits/${visits.past.id}/findings`,
    {kind: 'finding', body: 'too late'}), 404);
  // sign-in addresses: a failed sign-in records the address; the EQA's view of the trail has none
  await srv.client().post('/api/v1/session', {email: 'learner@demo.test', password: 'wrong password'});
  const tl = await users.eqa.client.get(`/api/v1/learners/${fx.l1.learner}/timeline`, {query: {per_page: 200}});
  assertStatus(tl, 200);
  assert.ok(!/"addr"|127\.0\.0\.1/.test(tl.text), 'no client address in the timeline shown to an EQA');
  assertStatus(await users.eqa.client.get('/api/v1/audit'), 404);
});

/* The pattern filled with the objects of l1's second qualification (not in the visit). */
function fillOther(r) {
  if (r.eqa_scope === 'decision_arg') return `${r.pattern}?decision_id=${fx.other.decision}`;
  if (r.eqa_scope === 'visit' || r.eqa_scope === 'visit_open') return r.pattern.replace('{id}', String(visits.open.id));
  const kinds = paramKinds(r.pattern);
  let i = 0;
  let unknown = false;
  const p = r.pattern.replace(/\{\w+\}/g, () => {
    const k = kinds[i++];
    const v = !k.kind ? undefined : k.owned ? fx.other[k.kind] : fx.otherShared[k.kind];
    if (v === undefined || v === null) { unknown = true; return '1'; }
    return String(v);
  });
  return unknown ? null : p;
}

/* Every text in a zip, one after another (unzip -p). */
function unzipText(buf) {
  const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'evitrack-access-zip-'));
  const zip = path.join(dir, 'x.zip');
  fs.writeFileSync(zip, buf);
  const r = require('node:child_process').spawnSync('unzip', ['-p', zip], {encoding: 'latin1', maxBuffer: 1 << 28});
  const names = require('node:child_process').spawnSync('unzip', ['-Z1', zip], {encoding: 'utf8'}).stdout;
  fs.rmSync(dir, {recursive: true, force: true});
  assert.equal(r.status, 0, 'a whole zip');
  return names + '\n' + r.stdout;
}

/* Where a JSON answer names an object of the other qualification: [path, key, value]. */
function otherIds(doc) {
  const bad = {qualification_id: fx.otherShared.qualification, unit_id: fx.otherShared.unit,
    criterion_id: fx.otherShared.criterion, decision_id: fx.other.decision, evidence_id: fx.other.evidence,
    enrolment_id: fx.other.enrolment, file_id: fx.other.file, sample_id: fx.other.sample,
    review_id: fx.other.progress_review};
  const found = [];
  const walk = (v, where) => {
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${where}[${i}]`));
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k in bad && Number(x) === bad[k]) found.push(`${where}.${k}=${x}`);
        walk(x, `${where}.${k}`);
      }
      if (v.entity === 'enrolment' && Number(v.entity_id) === fx.other.enrolment) found.push(`${where} (enrolment event)`);
      if (v.entity === 'decision' && Number(v.entity_id) === fx.other.decision) found.push(`${where} (decision event)`);
    }
  };
  walk(doc, '$');
  return found;
}

test('EQA visits: a sampled learner\'s qualification outside the visit is hidden on every EQA route', async (t) => {
  const eqa = users.eqa.client;
  const failures = [];
  let checked = 0;
  let probed = 0;
  const missing = {api: (await eqa.get('/api/v1/learners/99999999')).text, page: (await eqa.get('/learners/99999999')).text};
  // the other qualification's objects are there, and an admin sees them
  const adm = await users.admin.client.get(`/api/v1/learners/${fx.l1.learner}/progress`);
  assert.ok(adm.text.includes(otherMarker()), 'the admin sees l1\'s second qualification (the check can fail)');
  assert.ok(otherIds(adm.json).length > 0, 'ids of the second qualification in the admin\'s view');
  for (const r of routes.filter((x) => x.method === 'GET' && x.roles.includes('eqa'))) {
    // the route as the EQA uses it: l1 (sampled) and l1's objects of the visit's qualification
    const p = !r.pattern.includes('{') ? r.pattern
      : (r.eqa_scope === 'visit' || r.eqa_scope === 'visit_open') ? fillOther(r) : eqaPath(r, 'l1');
    if (p) {
      const res = await eqa.get(p);
      checked++;
      const zip = (res.headers['content-type'] || '').startsWith('application/zip');
      const text = zip ? unzipText(res.body) : res.text;
      if (text.includes(otherMarker()) || text.includes('ACCESS-Q2')) failures.push(`GET ${p} (${res.status}) shows the other qualification`);
      if (res.json) {
        const ids = otherIds(res.json);
        if (ids.length) failures.push(`GET ${p} names the other qualification's objects: ${ids.slice(0, 3).join(' ')}`);
      }
    }
    // the other qualification's objects named directly: exactly as missing
    if (EQA_LEARNER_SCOPES.has(r.eqa_scope) || EQA_SHARED_SCOPES.has(r.eqa_scope)) {
      const q = fillOther(r);
      if (q && q !== p) {
        const res = await eqa.get(q);
        probed++;
        if (res.status !== 404) failures.push(`GET ${q} (the other qualification) answered ${res.status} (want 404)`);
        else if (res.text !== missing[isApi(r.pattern) ? 'api' : 'page']) failures.push(`GET ${q}: its 404 differs from a missing id's`);
      }
    }
  }
  for (const p of [`/api/v1/learners/${fx.l1.learner}/matrix?qualification_id=${fx.otherShared.qualification}`,
    `/learners/${fx.l1.learner}/matrix?qualification_id=${fx.otherShared.qualification}`]) {
    const res = await eqa.get(p);
    probed++;
    if (res.status !== 404) failures.push(`GET ${p} answered ${res.status} (want 404)`);
    else if (res.text !== missing[isApi(p) ? 'api' : 'page']) failures.push(`GET ${p}: its 404 differs from a missing id's`);
  }
  t.diagnostic(`${checked} EQA answers searched, ${probed} direct URLs to the other qualification tried`);
  assert.ok(probed >= 10, `only ${probed} direct URLs tried`);
  assert.deepEqual(failures, []);
});
