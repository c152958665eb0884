// tests/http/qualifications.test.js: qualification specs end to end: the demo import,
// the API shapes, unit pages, `evitrack import` idempotence, update in place (criterion
// ids kept, vanished criteria retired), bad files importing nothing, the admin upload page.
'use strict';

const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {startServer, ENGINE} = require('./lib.js');

const SEEDS = path.join(process.env.SHARED_DIR || path.resolve(__dirname, '..', '..', '..', 'shared'), 'seeds');
const seed = (prefix) => path.join(SEEDS, fs.readdirSync(SEEDS).find((f) => f.startsWith(prefix)));
const ALL_SEEDS = ['000', '001', '002', '004'].map(seed);
const ICQ = 'ICQ-L3-DIPLOMA-CUSTOMER-SERVICE-RQF';
const PROQUAL = 'PROQUAL-L3-DIPLOMA-CUSTOMER-SERVICE-QCF';

let srv;
let tmp;
before(async () => {
  srv = await startServer({demo: true});
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'evitrack-specs-'));
});
after(async () => {
  await srv.stop();
  fs.rmSync(tmp, {recursive: true, force: true});
});

function write(name, text) {
  const p = path.join(tmp, name);
  fs.writeFileSync(p, text);
  return p;
}

async function qualByCode(c, code) {
  const r = await c.get('/api/v1/qualifications');
  assert.equal(r.status, 200, r.text);
  const q = r.json.qualifications.find((x) => x.code === code);
  assert.ok(q, `no qualification ${code} in ${r.text}`);
  return q;
}

test('the demo holds two qualifications with three units and one apprenticeship standard (list shape)', async () => {
  const c = await srv.login('learner@demo.test');
  const r = await c.get('/api/v1/qualifications');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.qualifications.length, 3);
  const st = r.json.qualifications.find((q) => q.code === 'ST9901');
  assert.deepEqual({framework: st.framework, unit_count: st.unit_count, criteria_count: st.criteria_count},
    {framework: 'Apprenticeship standard', unit_count: 3, criteria_count: 20});
  const icq = r.json.qualifications.find((q) => q.code === ICQ);
  const pq = r.json.qualifications.find((q) => q.code === PROQUAL);
  assert.deepEqual(
    {title: icq.title, awarding_body: icq.awarding_body, level: icq.level, framework: icq.framework,
      unit_count: icq.unit_count, criteria_count: icq.criteria_count},
    {title: 'iCQ Level 3 Diploma in Customer Service (RQF)', awarding_body: 'iCan Qualifications Limited',
      level: '3', framework: 'RQF', unit_count: 2, criteria_count: 8});
  assert.deepEqual(
    {title: pq.title, awarding_body: pq.awarding_body, level: pq.level, framework: pq.framework,
      unit_count: pq.unit_count, criteria_count: pq.criteria_count},
    {title: 'ProQual Level 3 Diploma in Customer Service', awarding_body: 'ProQual Awarding Body',
      level: '3', framework: 'QCF', unit_count: 1, criteria_count: 4});
  assert.equal(typeof icq.id, 'number');
  assert.equal(r.json.pagination.total, 3);
  assert.equal(srv.sql("SELECT count(*) FROM units WHERE kind = ''"), '3');
});

test('signed-out callers get 401', async () => {
  const r = await fetch(`${srv.url}/api/v1/qualifications`);
  assert.equal(r.status, 401);
});

test('the tree: units -> outcomes -> criteria with ids, refs and texts', async () => {
  const c = await srv.login('learner@demo.test');
  const q = await qualByCode(c, ICQ);
  const r = await c.get(`/api/v1/qualifications/${q.id}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.id, q.id);
  assert.equal(r.json.units.length, 2);
  const [u1, u2] = r.json.units;
  assert.equal(u1.title, 'Understand the customer service environment');
  assert.equal(u2.title, 'Resolve customers\u2019 problems');
  assert.deepEqual(u1.outcomes.map((o) => o.number), [1, 2, 3, 4]);
  assert.equal(u1.outcomes[2].text, 'Understand the structure of customer service');
  assert.deepEqual(u1.outcomes.map((o) => o.criteria.map((c2) => c2.ref)), [['1.1'], ['2.1'], ['3.1'], ['4.1']]);
  assert.match(u1.outcomes[1].criteria[0].text, /brand values/);
  // the split outcomes of 001, and its criteria placed by content then order
  assert.deepEqual(u2.outcomes.map((o) => o.text), [
    'Understand the monitoring and resolution of customers\u2019 problems',
    'Be able to deal with customers\u2019 problems']);
  assert.deepEqual(u2.outcomes.map((o) => o.criteria.map((c2) => c2.ref)), [['1.1', '1.2'], ['2.1', '2.2']]);
  for (const u of r.json.units) {
    for (const o of u.outcomes) {
      for (const cr of o.criteria) {
        assert.equal(typeof cr.id, 'number');
        assert.equal(typeof cr.ref, 'string');
        assert.ok(cr.text.length > 20);
      }
    }
  }
  const missing = await c.get('/api/v1/qualifications/999999');
  assert.equal(missing.status, 404);
  assert.equal(missing.json.error.code, 'not_found');
});

test('a unit: API with guidance lists, and the page a learner reads', async () => {
  const c = await srv.login('learner@demo.test');
  const q = await qualByCode(c, PROQUAL);
  const tree = (await c.get(`/api/v1/qualifications/${q.id}`)).json;
  const uid = tree.units[0].id;
  const r = await c.get(`/api/v1/units/${uid}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.qualification.code, PROQUAL);
  assert.equal(r.json.outcomes.length, 4);
  assert.equal(r.json.criteria_count, 4);
  const g = r.json.guidance;
  assert.deepEqual([g.key_concepts.length, g.assessment_guidance.length, g.common_mistakes.length,
    g.key_terms.length, g.prior_knowledge.length], [5, 7, 7, 1, 3]);
  assert.match(g.key_concepts[1], /^Complaint handling: /);
  const page = await c.get(`/units/${uid}`);
  assert.equal(page.status, 200);
  assert.match(page.headers['content-type'], /text\/html/);
  for (const want of ['Understand the implications of legislation on customer service delivery',
    'Learning outcome 4', '<th scope="row">4.1</th>', 'Key concepts', 'Assessment guidance',
    'Common mistakes', 'Key terms', 'Before you start', 'Team leadership: Skills for leading',
    'Level 2 Diploma in Customer Service or equivalent experience', 'href="/evidence/new"']) {
    assert.ok(page.text.includes(want), `unit page lacks ${want}`);
  }
  assert.equal((await c.get('/units/999999')).status, 404);
  const qp = await c.get(`/qualifications/${q.id}`);
  assert.equal(qp.status, 200);
  assert.ok(qp.text.includes(`href="/units/${uid}"`));
  const lp = await c.get('/qualifications');
  assert.equal(lp.status, 200);
  assert.ok(lp.text.includes('ProQual Level 3 Diploma in Customer Service'));
});

test('importing the seed files again changes nothing', async () => {
  const before = srv.sqlRows('SELECT id, ref, text, outcome_id, retired FROM criteria ORDER BY id');
  const audits = srv.sql("SELECT count(*) FROM audit_events WHERE action = 'spec.import'");
  for (let round = 0; round < 2; round++) {
    const r = await srv.run(['import', ...ALL_SEEDS]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((r.stdout.match(/no changes/g) || []).length, 4, r.stdout);
  }
  assert.deepEqual(srv.sqlRows('SELECT id, ref, text, outcome_id, retired FROM criteria ORDER BY id'), before);
  assert.equal(srv.sql("SELECT count(*) FROM audit_events WHERE action = 'spec.import'"), audits);
  assert.equal(srv.sql("SELECT count(*) FROM qualifications WHERE kind = 'qualification'"), '2');
  assert.equal(srv.sql("SELECT count(*) FROM units WHERE kind = ''"), '3');
  assert.equal(srv.sql('SELECT count(*) FROM unit_guidance'), '70');
  // the short rendering (004) shows the outcome assignment it kept
  const r = await srv.run(['import', '--json', seed('004')]);
  const s = JSON.parse(r.stdout).files[0];
  assert.equal(s.format, 'revision-page-short');
  assert.equal(s.changes, 0);
  assert.deepEqual(s.units[0].assignment.map((a) => [a.ref, a.outcome, a.by]),
    [['1.1', 1, 'existing'], ['2.1', 2, 'existing'], ['3.1', 3, 'existing'], ['4.1', 4, 'existing']]);
});

test('a changed spec updates texts in place: ids kept, vanished criteria retired, then restored', async () => {
  const original = fs.readFileSync(seed('000'), 'utf8');
  const oldText = 'Expect evidence of linking organisational brand values to specific customer service behaviours';
  const newText = 'Expect evidence of linking the organisation\u2019s brand values to specific customer service behaviours';
  assert.ok(original.includes(oldText));
  const dropped = /\n\s*\u2022 Require identification of key legislation[^\n]*/;
  assert.ok(dropped.test(original));
  const changed = write('000_changed.txt', original.replace(oldText, newText).replace(dropped, ''));
  const uid = Number(srv.sql(`SELECT u.id FROM units u JOIN qualifications q ON q.id = u.qualification_id
    WHERE q.code = '${ICQ}' AND u.ref = 'U1'`));
  const ids = Object.fromEntries(srv.sqlRows(`SELECT ref, id FROM criteria WHERE unit_id = ${uid}`).map((x) => [x.ref, x.id]));

  // a learner's evidence mapped to the criterion that will be reworded
  const learner = Number(srv.sql("SELECT id FROM users WHERE email = 'learner@demo.test'"));
  srv.sql(`INSERT INTO evidence (learner_id, title, kind) VALUES (${learner}, 'Complaint log', 'product');
    INSERT INTO evidence_criteria (evidence_id, criterion_id, learner_id, note)
    VALUES ((SELECT max(id) FROM evidence WHERE learner_id = ${learner}), ${ids['2.1']}, ${learner}, 'brand values in my replies')`);
  const statusRows = (cid) => Number(srv.sql(`SELECT count(*) FROM criterion_status WHERE criterion_id = ${cid}`));
  const enrolled = statusRows(ids['4.1']);
  assert.ok(enrolled > 0, 'demo learners have status rows for the unit');

  const r = await srv.run(['import', changed]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /4 criteria \(0 new, 1 updated, 1 retired\)|3 criteria \(0 new, 1 updated, 1 retired\)/);
  const rows = Object.fromEntries(srv.sqlRows(`SELECT ref, id, text, retired FROM criteria WHERE unit_id = ${uid}`)
    .map((x) => [x.ref, x]));
  assert.equal(rows['2.1'].id, ids['2.1']);
  assert.ok(rows['2.1'].text.startsWith(newText));
  assert.equal(rows['4.1'].id, ids['4.1']);
  assert.equal(rows['4.1'].retired, 1);
  assert.equal(srv.sql(`SELECT count(*) FROM criteria WHERE unit_id = ${uid}`), '4'); // nothing deleted
  if (ENGINE === 'sqlite') assert.equal(srv.sql('PRAGMA foreign_key_check'), ''); // PostgreSQL checks every key as it goes
  assert.equal(srv.sql(`SELECT note FROM evidence_criteria WHERE criterion_id = ${ids['2.1']} AND learner_id = ${learner}`), 'brand values in my replies');
  assert.equal(statusRows(ids['4.1']), 0, 'a retired criterion leaves learners\' status');
  assert.equal(statusRows(ids['2.1']), enrolled);
  const c = await srv.login('learner@demo.test');
  const unit = (await c.get(`/api/v1/units/${uid}`)).json;
  const refs = unit.outcomes.flatMap((o) => o.criteria.map((x) => x.ref));
  assert.deepEqual(refs, ['1.1', '2.1', '3.1']);
  assert.equal(unit.criteria_count, 3);
  assert.equal(srv.sql("SELECT count(*) FROM audit_events WHERE action = 'spec.import' AND after LIKE '%000_changed.txt%'"), '1');

  // re-importing the original restores the same rows
  const back = await srv.run(['import', seed('000')]);
  assert.equal(back.code, 0, back.stderr);
  const after2 = srv.sqlRows(`SELECT ref, id, text, retired FROM criteria WHERE unit_id = ${uid} ORDER BY id`);
  assert.deepEqual(after2.map((x) => [x.ref, x.id, x.retired]),
    [['1.1', ids['1.1'], 0], ['2.1', ids['2.1'], 0], ['3.1', ids['3.1'], 0], ['4.1', ids['4.1'], 0]]);
  assert.ok(after2[1].text.startsWith(oldText));
  assert.equal(statusRows(ids['4.1']), enrolled, 'a restored criterion is back in learners\' status');
});

test('a bad file imports nothing and says which file, line and why', async () => {
  const count = () => srv.sql('SELECT (SELECT count(*) FROM qualifications) || \'/\' || (SELECT count(*) FROM units) || \'/\' || (SELECT count(*) FROM criteria)');
  const start = count();
  const garbage = write('notes.txt', 'Dear centre,\nplease find the unit attached.\n');
  let r = await srv.run(['import', garbage]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^notes\.txt:1: this file fits none of the layouts evitrack reads.*unit page.*unit handbook text.*Found .Dear centre,./m);
  assert.match(r.stderr, /nothing imported from this file/);

  const truncated = write('truncated.txt', fs.readFileSync(seed('000'), 'utf8').split('\n').slice(0, 60).join('\n'));
  r = await srv.run(['import', truncated]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^truncated\.txt:\d+: no assessment criteria/m);

  // valid JSON whose second unit cannot be placed: the first unit must not stay behind
  const doc = {
    evitrack_spec: 1,
    qualification: {code: 'TEST-ROLLBACK', title: 'Rollback Certificate', awarding_body: 'Test Body', level: '2'},
    units: [
      {title: 'A perfectly good unit', outcomes: [{text: 'Know things'}], criteria: [{text: 'Explain things'}]},
      {partial: true, criteria: [{text: 'A criterion no loaded unit has'}]},
    ],
  };
  const bad = write('rollback.json', JSON.stringify(doc, null, 2));
  r = await srv.run(['import', bad]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^rollback\.json:\d+: the document names no unit/m);
  assert.equal(srv.sql("SELECT count(*) FROM qualifications WHERE code = 'TEST-ROLLBACK'"), '0');
  assert.equal(srv.sql("SELECT count(*) FROM units WHERE title = 'A perfectly good unit'"), '0');

  const syntax = write('syntax.json', '{\n  "evitrack_spec": 1,\n  "units": [\n    {"title": "x",}\n  ]\n}\n');
  r = await srv.run(['import', syntax]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^syntax\.json:4: not valid JSON/m);
  assert.equal(count(), start);
  // a good file next to a bad one is still imported
  const good = write('good.json', JSON.stringify({...doc, units: [doc.units[0]]}));
  r = await srv.run(['import', garbage, good]);
  assert.equal(r.code, 1);
  assert.equal(srv.sql("SELECT count(*) FROM units WHERE title = 'A perfectly good unit'"), '1');
});

test('a short page alone names nothing: matched to the loaded unit or refused', async () => {
  const fresh = await startServer();
  try {
    let r = await fresh.run(['import', seed('004')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^004_[0-9a-f]+\.txt:1: .*--qualification ID_OR_CODE/m);
    assert.equal(fresh.sql('SELECT count(*) FROM units'), '0');
    r = await fresh.run(['import', seed('000'), seed('004')]);
    assert.equal(r.code, 0, r.stderr);
    r = await fresh.run(['import', '--qualification', ICQ, seed('004')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /no changes/);
    r = await fresh.run(['import', '--qualification', 'NO-SUCH-CODE', seed('004')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no qualification 'NO-SUCH-CODE'/);
    assert.equal(fresh.sql('SELECT count(*) FROM units'), '1');
  } finally {
    await fresh.stop();
  }
});

test('admin upload page: same importer, same summary; others may not use it', async () => {
  const learner = await srv.login('learner@demo.test');
  assert.equal((await learner.get('/admin/specs')).status, 403);
  assert.equal((await learner.post('/api/v1/specs', {name: 'x.json', content: '{}'})).status, 403);

  const admin = await srv.login('admin@demo.test');
  const form = await admin.get('/admin/specs');
  assert.equal(form.status, 200);
  assert.match(form.text, /<input[^>]*type="file"/);
  assert.match(form.text, /enctype="multipart\/form-data"/);

  const spec = {
    evitrack_spec: 1,
    qualification: {code: 'UPLOAD-L2', title: 'Upload Level 2 Award in Testing', awarding_body: 'Test Body', level: 2},
    units: [{title: 'Plan tests', outcomes: [{number: 1, text: 'Know test plans'}, {number: 2, text: 'Be able to run tests'}],
      criteria: [{text: 'Describe a test plan'}, {text: 'Run a test and record results', outcome: 2}],
      guidance: {key_terms: ['Fixture: the known state a test starts from']}}],
  };
  // a preview saves nothing
  let r = await admin.upload('/admin/specs', {dry_run: '1'}, [{name: 'upload.json', type: 'application/json', data: JSON.stringify(spec)}]);
  assert.equal(r.status, 200, r.text);
  assert.match(r.text, /preview: nothing was saved/);
  assert.equal(srv.sql("SELECT count(*) FROM qualifications WHERE code = 'UPLOAD-L2'"), '0');

  r = await admin.upload('/admin/specs', {}, [{name: 'upload.json', type: 'application/json', data: JSON.stringify(spec)}]);
  assert.equal(r.status, 200, r.text);
  assert.match(r.text, /upload\.json/);
  assert.match(r.text, /tag--created/);
  assert.match(r.text, /content match/);
  assert.equal(srv.sql("SELECT count(*) FROM criteria c JOIN units u ON u.id = c.unit_id JOIN qualifications q ON q.id = u.qualification_id WHERE q.code = 'UPLOAD-L2'"), '2');
  const actor = srv.sql("SELECT actor_id FROM audit_events WHERE action = 'spec.import' ORDER BY id DESC LIMIT 1");
  assert.equal(actor, srv.sql("SELECT id FROM users WHERE email = 'admin@demo.test'"));

  // the API: the same importer answers JSON; uploading it again is a no-op
  r = await admin.upload('/api/v1/specs', {}, [{name: 'upload.json', type: 'application/json', data: JSON.stringify(spec)}]);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.changes, 0);
  assert.equal(r.json.files[0].ok, true);
  assert.equal(r.json.files[0].units[0].action, 'unchanged');
  r = await admin.post('/api/v1/specs', {name: 'seed.txt', content: fs.readFileSync(seed('001'), 'utf8')});
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.files[0].format, 'revision-page');
  assert.deepEqual(r.json.files[0].units[0].assignment.map((a) => [a.ref, a.by]),
    [['1.1', 'content'], ['1.2', 'content'], ['2.1', 'order'], ['2.2', 'order']]);

  // a bad upload: 400, where and why, nothing written
  const before = srv.sql('SELECT count(*) FROM criteria');
  r = await admin.upload('/api/v1/specs', {}, [{name: 'broken.json', type: 'application/json',
    data: '{\n "evitrack_spec": 1,\n "units": [\n  {"title": "T", "outcomes": [], "criteria": []}\n ]\n}'}]);
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error.code, 'invalid_spec');
  assert.equal(r.json.error.file, 'broken.json');
  assert.equal(r.json.error.line, 4);
  assert.match(r.json.error.reason, /outcomes/);
  r = await admin.upload('/admin/specs', {}, [{name: 'broken.txt', type: 'text/plain', data: 'not a spec\n'}]);
  assert.equal(r.status, 400);
  assert.match(r.text, /error-summary/);
  assert.match(r.text, /broken\.txt, line 1: this file fits none of the layouts/);
  assert.equal(srv.sql('SELECT count(*) FROM criteria'), before);
  r = await admin.upload('/admin/specs', {}, []);
  assert.equal(r.status, 400);
  assert.match(r.text, /Choose a specification file to import/);
  // a page that names no qualification: the page tells the admin what to do on the page
  // (the Qualification list), not only the command line's option
  r = await admin.upload('/admin/specs', {dry_run: '1'}, [{name: 'nameless.txt', type: 'text/plain',
    data: fs.readFileSync(path.join(__dirname, '..', '..', '..', 'shared', 'spec-examples', 'unit_page_per_outcome.txt'), 'utf8')}]);
  assert.equal(r.status, 400, r.text);
  assert.match(r.text, /nameless\.txt, line 1: the document names no qualification[^<]*the Qualification list on the import page/);
  assert.equal(srv.sql('SELECT count(*) FROM criteria'), before);
});

test('a loaded qualification downloads as canonical JSON that imports as a no-op', async () => {
  const staff = await srv.login('assessor@demo.test');
  const q = await qualByCode(staff, ICQ);
  const r = await staff.get(`/api/v1/qualifications/${q.id}/spec`);
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers['content-disposition'] || '', /ICQ-L3-DIPLOMA-CUSTOMER-SERVICE-RQF\.json/);
  const spec = JSON.parse(r.text);
  assert.equal(spec.evitrack_spec, 1);
  assert.equal(spec.qualification.code, ICQ);
  assert.deepEqual(spec.units.map((u) => [u.ref, u.outcomes.length, u.criteria.length]), [['U1', 4, 4], ['U2', 2, 4]]);
  assert.deepEqual(spec.units[1].criteria.map((c) => [c.ref, c.outcome]), [['1.1', 1], ['1.2', 1], ['2.1', 2], ['2.2', 2]]);
  assert.equal(spec.units[0].guidance.assessment_guidance.length, 7);
  const learner = await srv.login('learner@demo.test');
  assert.equal((await learner.get(`/api/v1/qualifications/${q.id}/spec`)).status, 403);
  const admin = await srv.login('admin@demo.test');
  const back = await admin.post('/api/v1/specs', {name: 'export.json', content: r.text});
  assert.equal(back.status, 200, back.text);
  assert.equal(back.json.changes, 0);
  assert.deepEqual(back.json.files[0].units.map((u) => u.action), ['unchanged', 'unchanged']);
});

test('a learner sees their own status of each criterion on the unit page', async () => {
  const c = await srv.login('learner3@demo.test');
  const q = await qualByCode(c, PROQUAL);
  const uid = (await c.get(`/api/v1/qualifications/${q.id}`)).json.units[0].id;
  const learner = Number(srv.sql("SELECT id FROM users WHERE email = 'learner3@demo.test'"));
  const rows = Number(srv.sql(`SELECT count(*) FROM criterion_status WHERE learner_id = ${learner} AND unit_id = ${uid}`));
  const page = await c.get(`/units/${uid}`);
  assert.equal(page.status, 200);
  assert.equal(rows, 4, 'the demo enrols learner3 on every qualification');
  assert.ok(page.text.includes('Your progress'));
  assert.equal((page.text.match(/<td><span class="tag tag--[a-z_]+">/g) || []).length, 4);
  const staff = await srv.login('assessor@demo.test');
  assert.ok(!(await staff.get(`/units/${uid}`)).text.includes('Your progress'));
});

test('an apprenticeship standard: KSBs as criteria under K, S and B, duties, the page, and its spec back in the standard format', async () => {
  const c = await srv.login('assessor@demo.test');
  const list = await c.get('/api/v1/qualifications');
  const st = list.json.qualifications.find((q) => q.code === 'ST9901');
  const r = await c.get(`/api/v1/qualifications/${st.id}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.kind, 'standard');
  assert.equal(r.json.version, '1.0');
  assert.equal(r.json.min_otj_hours, 372);
  assert.deepEqual(r.json.units.map((u) => [u.ref, u.kind]), [['K', 'knowledge'], ['S', 'skills'], ['B', 'behaviours']]);
  assert.deepEqual(r.json.units[0].outcomes[0].criteria.slice(0, 2).map((x) => x.ref), ['K1', 'K2']);
  assert.equal(r.json.duties.length, 5);
  assert.deepEqual(r.json.duties[0].ksbs, ['K1', 'K2', 'S1', 'S2', 'B1']);
  const page = await c.get(`/qualifications/${st.id}`);
  assert.equal(page.status, 200);
  assert.match(page.text, /<h2 class="heading-l">Duties<\/h2>/);
  assert.match(page.text, /Minimum off-the-job training/);
  const spec = await c.get(`/api/v1/qualifications/${st.id}/spec`);
  assert.equal(spec.status, 200);
  const doc = JSON.parse(spec.text);
  assert.equal(doc.standard.reference, 'ST9901');
  assert.equal(doc.standard.knowledge.length, 8);
  assert.deepEqual(doc.standard.duties[1].ksbs, ['K3', 'K4', 'S3', 'S4', 'B2']);
  // imported again, it changes nothing
  const f = write('ST9901.json', spec.text);
  const out = await srv.run(['import', f]);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /no changes \(already up to date\)/);
});
