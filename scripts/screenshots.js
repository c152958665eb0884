// scripts/screenshots.js: refreshes docs/screenshots from `serve --demo` in headless Chromium,
// each page at 1280px (NAME.png) and on a 375px phone (NAME-375.png), full page.
//   node scripts/screenshots.js [OUT_DIR]     (after building build/evitrack)
// Uses the browser-test helpers (tests/e2e/lib.js): Debian's Chromium, a fresh demo database
// on a free port. Look at the pictures after refreshing them.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const {startServer, launch, signIn} = require('../tests/e2e/lib.js');

const OUT = path.resolve(process.argv[2] || path.join(__dirname, '..', 'docs', 'screenshots'));

/* [name, email, path or async (page, base) => path] in README order. */
const SHOTS = [
  ['learner-progress', 'learner2@demo.test', '/portfolio'],
  ['learner-matrix', 'learner2@demo.test', async (page) => firstLink(page, '/portfolio', /^\/learners\/\d+\/matrix/)],
  ['evidence-new', 'learner2@demo.test', '/evidence/new'],
  ['evidence-mapping', 'learner2@demo.test', async (page) =>
    (await firstLink(page, '/evidence', /^\/evidence\/\d+$/)) + '/criteria'],
  ['caseload', 'assessor@demo.test', '/caseload'],
  ['assessor-queue', 'assessor@demo.test', '/queue'],
  ['assessor-review', 'assessor@demo.test', async (page) => firstLink(page, '/queue', /^\/review\/\d+$/)],
  ['iqa-sampling', 'iqa@demo.test', '/iqa'],
  ['centre-dashboard', 'admin@demo.test', '/centre'],
  ['centre-learners', 'admin@demo.test', '/centre/learners'],
  ['unit-page', 'learner@demo.test', async (page) => firstLink(page, '/qualifications', /^\/qualifications\/\d+$/)
    .then((q) => firstLink(page, q, /^\/units\/\d+$/))],
];

async function firstLink(page, from, re) {
  await page.goto(page.__base + from);
  const hrefs = await page.$$eval('main a[href]', (as) => as.map((a) => a.getAttribute('href')));
  const h = hrefs.find((x) => re.test(x));
  if (!h) throw new Error(`no link matching ${re} on ${from}`);
  return h;
}

async function main() {
  fs.mkdirSync(OUT, {recursive: true});
  const srv = await startServer({demo: true});
  const wide = await launch({width: 1280, height: 900});
  const phone = await launch({width: 375, height: 800});
  try {
    for (const b of [wide, phone]) b.page.__base = srv.url;
    let signedIn = '';
    for (const [name, email, where] of SHOTS) {
      if (email !== signedIn) {
        await signIn(wide.page, srv.url, email);
        await signIn(phone.page, srv.url, email);
        signedIn = email;
      }
      const p = typeof where === 'function' ? await where(wide.page) : where;
      for (const [b, suffix] of [[wide, ''], [phone, '-375']]) {
        const resp = await b.page.goto(srv.url + p);
        if (!resp || resp.status() >= 400) throw new Error(`${p}: HTTP ${resp && resp.status()}`);
        const file = path.join(OUT, `${name}${suffix}.png`);
        await b.page.screenshot({path: file, fullPage: true});
        console.log(`${file}  (${p})`);
      }
    }
  } finally {
    await wide.close();
    await phone.close();
    await srv.stop();
  }
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
