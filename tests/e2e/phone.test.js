// tests/e2e/phone.test.js: every page of every role on a 375px phone: the crawler signs in as
// each demo role, follows every link it can reach from the role's home (one page per route
// and query shape), and asserts that no page is wider than the screen
// (document.documentElement.scrollWidth <= 375), that each passes axe (WCAG 2.2 AA) and
// that the Nu checker finds no error in any of them. Tables that carry an action keep it
// visible on the phone, and times on pages are local, never raw ISO strings.
'use strict';
const {test, before, after} = require('node:test');
const assert = require('node:assert/strict');
const {startServer, launch, signIn, axeCheck, formatViolations, htmlValidate,
  formatHtmlErrors} = require('./lib.js');

const WIDTH = 375;
const ROLES = ['learner@demo.test', 'learner2@demo.test', 'assessor@demo.test', 'iqa@demo.test',
  'admin@demo.test', 'eqa@demo.test'];
const MAX_PAGES_PER_ROLE = 70;

let srv;
let b;
const pagesSeen = [];
const htmlByPage = {};

before(async () => {
  srv = await startServer({demo: true});
  b = await launch({width: WIDTH, height: 800});
});
after(async () => {
  if (b) await b.close();
  if (srv) await srv.stop();
});

/* One page per route and query shape: /evidence/12 and /evidence/13 are the same page. */
function shapeOf(u) {
  const url = new URL(u);
  const keys = [...url.searchParams.keys()].filter((k) => k !== 'page').sort().join('&');
  return url.pathname.replace(/\/\d+/g, '/N') + (keys ? '?' + keys : '');
}

/* Links worth following: same origin, a page (not a file, an export, the API or a form action). */
function followable(base, href) {
  let url;
  try { url = new URL(href, base); } catch (e) { return null; }
  if (url.origin !== new URL(base).origin) return null;
  const p = url.pathname;
  if (/^\/(api|static|logout)\b/.test(p) || /\/files\/|\/download|\/export|\.csv$|\.zip$|\/preview/.test(p)) return null;
  url.hash = '';
  return url.toString();
}

async function crawl(email) {
  const home = await signIn(b.page, srv.url, email);
  const queue = [home];
  const shapes = new Set();
  const results = [];
  while (queue.length && results.length < MAX_PAGES_PER_ROLE) {
    const u = queue.shift();
    const shape = shapeOf(u);
    if (shapes.has(shape)) continue;
    shapes.add(shape);
    const resp = await b.page.goto(u);
    const status = resp ? resp.status() : 0;
    const width = await b.page.evaluate(() => document.documentElement.scrollWidth);
    const wide = width > WIDTH ? await b.page.evaluate((w) => {
      // The elements that stick out, for the assertion message.
      const out = [];
      for (const el of document.querySelectorAll('body *')) {
        const r = el.getBoundingClientRect();
        if (r.right > w + 1 && out.length < 5) out.push(`${el.tagName.toLowerCase()}.${el.className} right=${Math.round(r.right)}`);
      }
      return out;
    }, WIDTH) : [];
    const violations = await axeCheck(b.page);
    const rawTimes = await b.page.evaluate(() =>
      (document.querySelector('main') || document.body).innerText.match(/\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?Z?/g) || []);
    results.push({email, url: u, shape, status, width, wide, violations, rawTimes});
    htmlByPage[`${email.split('@')[0]}-${shape}`] = await b.page.content();
    const links = await b.page.$$eval('a[href]', (as) => as.map((a) => a.getAttribute('href')));
    for (const h of links) {
      const f = followable(u, h);
      if (f && !shapes.has(shapeOf(f))) queue.push(f);
    }
  }
  return results;
}

for (const email of ROLES) {
  test(`every page ${email} can reach fits ${WIDTH}px and passes axe`, async () => {
    const results = await crawl(email);
    pagesSeen.push(...results);
    assert.ok(results.length >= 3, `only ${results.length} pages reached as ${email}`);
    const bad = results.filter((r) => r.status >= 500);
    assert.deepEqual(bad.map((r) => `${r.url} ${r.status}`), []);
    const wide = results.filter((r) => r.width > WIDTH);
    assert.deepEqual(wide.map((r) => `${r.url} is ${r.width}px wide: ${r.wide.join(', ')}`), []);
    const axe = results.filter((r) => r.violations.length);
    assert.deepEqual(axe.map((r) => `${r.url}\n${formatViolations(r.violations)}`), []);
    const raw = results.filter((r) => r.rawTimes.length);
    assert.deepEqual(raw.map((r) => `${r.url} shows ${r.rawTimes.join(', ')}`), []);
  });
}

test('the crawl reached the pages that matter', () => {
  const shapes = new Set(pagesSeen.map((r) => r.shape));
  for (const s of ['/queue', '/caseload', '/iqa', '/centre', '/centre/learners', '/admin/enrolments',
    '/learners/N/matrix', '/review/N', '/decisions/N', '/evidence/N', '/evidence/N/criteria', '/portfolio']) {
    assert.ok(shapes.has(s), `the crawl never reached ${s} (reached: ${[...shapes].sort().join(' ')})`);
  }
  console.log(`# crawled ${pagesSeen.length} pages (${shapes.size} shapes) at ${WIDTH}px`);
});

test('the Nu HTML checker finds no error on any crawled page', () => {
  const v = htmlValidate(htmlByPage);
  if (!v.available) return;
  assert.deepEqual(v.errors, [], formatHtmlErrors(v.errors));
});

test('actions in tables stay visible on a phone', async () => {
  const checks = [
    ['assessor@demo.test', '/queue', 'main table a[href^="/review/"]'],
    ['iqa@demo.test', '/iqa', 'main table a[href*="/decisions/"]'],
  ];
  for (const [email, path, sel] of checks) {
    await signIn(b.page, srv.url, email);
    await b.page.goto(srv.url + path);
    const first = b.page.locator(sel).first();
    assert.ok(await first.count() > 0, `${path}: no ${sel}`);
    const box = await first.boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= WIDTH, `${path}: ${sel} is off screen (${JSON.stringify(box)})`);
  }
});
