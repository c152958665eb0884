// tests/http/spec_schema.test.js: schema/spec.schema.json (JSON Schema 2020-12, checked with
// Ajv) against what evitrack reads and writes: every canonical document the project ships
// or converts (demo specs, seeds, spec examples, test specs: `import --print-json`) and every
// qualification a running server exports (GET /api/v1/qualifications/{id}/spec) is valid;
// and the schema and the importer agree on documents that must be refused (each broken copy
// fails the schema AND `evitrack import --dry-run`, which writes nothing).
'use strict';

const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const Ajv2020 = require('ajv/dist/2020');
const {startServer, assertStatus, ROOT} = require('./lib.js');

const SHARED = process.env.SHARED_DIR || path.join(ROOT, '..', 'shared');
const schema = JSON.parse(fs.readFileSync(path.join(ROOT, 'schema', 'spec.schema.json'), 'utf8'));
const ajv = new Ajv2020({allErrors: true, strict: false});
const validate = ajv.compile(schema);
let srv, admin, tmp;

function check(doc, label) {
  const ok = validate(doc);
  assert.ok(ok, `${label}: ${ajv.errorsText(validate.errors, {separator: '\n'})}`);
}

function files(dir, ext) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((f) => f.endsWith(ext)).sort().map((f) => path.join(dir, f));
}

before(async () => {
  srv = await startServer({demo: true});
  admin = await srv.login('admin@demo.test');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'evitrack-schema-'));
});

after(async () => {
  if (srv) await srv.stop();
  if (tmp) fs.rmSync(tmp, {recursive: true, force: true});
});

test('the canonical documents in the tree are valid', () => {
  const docs = [
    ...files(path.join(ROOT, 'schema', 'demo'), '.json'),
    ...files(path.join(ROOT, 'tests', 'specs'), '.json'),
    ...files(path.join(ROOT, 'tests', 'specs', 'expected'), '.json'),
  ];
  assert.ok(docs.length >= 8, `found ${docs.length} documents`);
  for (const f of docs) check(JSON.parse(fs.readFileSync(f, 'utf8')), path.relative(ROOT, f));
});

test('every text layout converts (import --print-json) to a valid document', async () => {
  const texts = [
    ...files(path.join(SHARED, 'seeds'), '.txt'),
    ...files(path.join(SHARED, 'spec-examples'), '.txt'),
    ...files(path.join(ROOT, 'tests', 'specs'), '.txt'),
  ];
  assert.ok(texts.length >= 6, `found ${texts.length} text files`);
  const formats = new Set();
  for (const f of texts) {
    const r = await srv.run(['import', '--print-json', f], {db: false});
    assert.equal(r.code, 0, `${f}: ${r.stderr}`);
    const doc = JSON.parse(r.stdout);
    formats.add(doc.source && doc.source.format);
    check(doc, path.basename(f));
  }
  assert.ok(formats.size >= 3, `layouts seen: ${[...formats].join(', ')}`);
});

test('every qualification the server exports is valid', async () => {
  const list = (await admin.get('/api/v1/qualifications')).json;
  const items = list.items || list.qualifications || list;
  assert.ok(Array.isArray(items) && items.length >= 1, JSON.stringify(list).slice(0, 200));
  for (const q of items) {
    const r = await admin.get(`/api/v1/qualifications/${q.id}/spec`);
    assertStatus(r, 200);
    check(JSON.parse(r.text), `export of qualification ${q.id}`);
  }
});

test('documents the schema refuses, the importer refuses too (and writes nothing)', async () => {
  const good = JSON.parse(fs.readFileSync(path.join(ROOT, 'tests', 'specs', 'structure.json'), 'utf8'));
  const broken = {
    'an unknown top-level field': (d) => { d.colour = 'blue'; },
    'a unit credit value as text': (d) => { d.units[0].credit_value = 'three'; },
    'a negative guided learning hours': (d) => { d.qualification.glh = -5; },
    'a unit with no criteria': (d) => { delete d.units[0].criteria; },
    'a criterion with no text': (d) => { delete d.units[0].criteria[0].text; },
    'an unknown field in a unit': (d) => { d.units[0].difficulty = 'hard'; },
    'a group that is not a list of unit references': (d) => { d.qualification.groups[0].units = '201'; },
    'no units': (d) => { delete d.units; },
    'an unknown format version': (d) => { d.evitrack_spec = 99; },
  };
  const before = srv.sql('SELECT count(*) FROM units');
  for (const [what, mutate] of Object.entries(broken)) {
    const d = structuredClone(good);
    mutate(d);
    assert.equal(validate(d), false, `the schema accepts ${what}`);
    const f = path.join(tmp, 'broken.json');
    fs.writeFileSync(f, JSON.stringify(d));
    const r = await srv.run(['import', '--dry-run', f]);
    assert.notEqual(r.code, 0, `the importer accepts ${what}: ${r.stdout}`);
  }
  // the unbroken document passes both (so the loop above can fail)
  check(good, 'structure.json');
  const f = path.join(tmp, 'good.json');
  fs.writeFileSync(f, JSON.stringify(good));
  const r = await srv.run(['import', '--dry-run', f]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(srv.sql('SELECT count(*) FROM units'), before);
});

test('an apprenticeship standard: the demo one is valid; broken copies are refused by the schema and the importer', async () => {
  const good = JSON.parse(fs.readFileSync(path.join(ROOT, 'schema', 'demo', '100_standard_customer_service_l3.json'), 'utf8'));
  check(good, 'the demo standard');
  const broken = {
    'a standard with units as well': (d) => { d.units = [{title: 'U', outcomes: [{text: 'O'}], criteria: [{text: 'C'}]}]; },
    'a standard with no behaviours': (d) => { delete d.standard.behaviours; },
    'a KSB code of the wrong form': (d) => { d.standard.knowledge[0].code = 'Knowledge 1'; },
    'a KSB with no text': (d) => { delete d.standard.skills[0].text; },
    'an unknown field in the standard': (d) => { d.standard.sector = 'retail'; },
    'a duration in words': (d) => { d.standard.typical_duration_months = 'fifteen'; },
  };
  const before = srv.sql('SELECT count(*) FROM criteria');
  for (const [what, mutate] of Object.entries(broken)) {
    const d = structuredClone(good);
    mutate(d);
    assert.equal(validate(d), false, `the schema accepts ${what}`);
    const f = path.join(tmp, 'broken-standard.json');
    fs.writeFileSync(f, JSON.stringify(d));
    const r = await srv.run(['import', '--dry-run', f]);
    assert.notEqual(r.code, 0, `the importer accepts ${what}: ${r.stdout}`);
  }
  assert.equal(srv.sql('SELECT count(*) FROM criteria'), before);
});
