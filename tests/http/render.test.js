// tests/http/render.test.js: `evitrack render` (no server): exact output, partials and
// parents from --partials DIR, and one-line file:line:col errors with a non-zero exit.
'use strict';
const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {spawnSync} = require('node:child_process');

const BIN = path.resolve(process.env.EVITRACK_BIN || path.join(__dirname, '../../build/evitrack'));
let dir;

function write(name, text) {
  const p = path.join(dir, name);
  fs.mkdirSync(path.dirname(p), {recursive: true});
  fs.writeFileSync(p, text);
  return p;
}

function render(...args) {
  const r = spawnSync(BIN, ['render', ...args], {encoding: 'utf8', cwd: dir});
  return {code: r.status, out: r.stdout, err: r.stderr};
}

before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evitrack-render-')); });
after(() => fs.rmSync(dir, {recursive: true, force: true}));

test('prints exactly the rendering, escaped, with no newline added', () => {
  const t = write('hello.mustache', 'Hello {{name}}{{#list}} [{{.}}]{{/list}}!');
  const d = write('hello.json', JSON.stringify({name: '<Ann & "Bo">', list: [1, 2]}));
  const r = render(t, d);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, 'Hello &lt;Ann &amp; &quot;Bo&quot;&gt; [1] [2]!');
  assert.equal(r.err, '');
});

test('partials and parents load from --partials DIR; a missing partial is empty', () => {
  write('parts/layout.mustache', '<main>\n  {{$main}}\n  default\n  {{/main}}\n</main>\n');
  write('parts/item.mustache', '<li>{{.}}</li>\n');
  const t = write('page.mustache',
    '{{<layout}}{{$main}}\n<ul>\n{{#items}}\n  {{>item}}\n{{/items}}\n</ul>\n{{/main}}{{/layout}}{{>nope}}');
  const d = write('page.json', '{"items": ["a", "b<"]}');
  const r = render('--partials', path.join(dir, 'parts'), t, d);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, '<main>\n  <ul>\n    <li>a</li>\n    <li>b&lt;</li>\n  </ul>\n</main>\n');
  // --partials=DIR works too, and without it partials come from the template's directory
  assert.equal(render(`--partials=${path.join(dir, 'parts')}`, t, d).out, r.out);
  write('item.mustache', '* {{.}}\n');
  const t2 = write('list.mustache', '{{#items}}{{>item}}{{/items}}');
  assert.equal(render(t2, d).out, '* a\n* b&lt;\n');
});

test('a syntax error exits non-zero with file:line:col on one line', () => {
  const t = write('bad.mustache', 'ok\n  {{#section}}\nnever closed\n');
  const d = write('empty.json', '{}');
  const r = render(t, d);
  assert.notEqual(r.code, 0);
  assert.equal(r.out, '');
  assert.equal(r.err.trim().split('\n').length, 1);
  assert.match(r.err, /bad\.mustache:2:3: section 'section' is never closed/);
  const t2 = write('mismatch.mustache', '{{#a}}\n{{/b}}');
  assert.match(render(t2, d).err, /mismatch\.mustache:2:1: closing tag 'b' does not match 'a'/);
  const t3 = write('delim.mustache', 'x {{=<% =}}');
  assert.match(render(t3, d).err, /delim\.mustache:1:3: bad delimiter/);
});

test('an error in a partial is reported with the partial file and position', () => {
  write('parts2/broken.mustache', 'fine\n{{/x}}');
  const t = write('uses.mustache', 'a{{>broken}}b');
  const d = write('e.json', '{}');
  const r = render('--partials', path.join(dir, 'parts2'), t, d);
  assert.notEqual(r.code, 0);
  assert.match(r.err, /broken\.mustache:2:1: closing tag 'x' has no open section/);
});

test('missing files, bad JSON and bad usage exit non-zero with a message', () => {
  const d = write('ok.json', '{}');
  let r = render(path.join(dir, 'absent.mustache'), d);
  assert.notEqual(r.code, 0);
  assert.match(r.err, /absent\.mustache: No such file or directory/);
  const t = write('t.mustache', '{{x}}');
  r = render(t, path.join(dir, 'absent.json'));
  assert.notEqual(r.code, 0);
  assert.match(r.err, /absent\.json/);
  const bad = write('bad.json', '{\n  "x": 1,\n}');
  r = render(t, bad);
  assert.notEqual(r.code, 0);
  assert.match(r.err, /bad\.json:3:1: /);
  r = render(t);
  assert.equal(r.code, 2);
  assert.match(r.err, /usage: evitrack render/);
});

test('self-recursive partials stop with an error instead of crashing', () => {
  const t = write('loop.mustache', 'x{{>loop}}');
  const d = write('l.json', '{}');
  const r = render(t, d);
  assert.notEqual(r.code, 0);
  assert.equal(r.code, 1);
  assert.match(r.err, /loop\.mustache:1:2: partials nested deeper than 64/);
});
