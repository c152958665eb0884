// tests/e2e/lib.js: the shared helper for browser tests: Debian's Chromium driven by
// playwright-core (no browser download), sign-in through the /login form, screenshots,
// axe-core accessibility checks and the Nu HTML Checker (vnu-jar) when java is there.
//
//   const {test, before, after} = require('node:test');
//   const assert = require('node:assert/strict');
//   const {startServer, launch, signIn, screenshot, axeCheck, formatViolations} = require('./lib.js');
//   let srv, b;
//   before(async () => { srv = await startServer({demo: true}); b = await launch(); });
//   after(async () => { await b.close(); await srv.stop(); });
//   test('dashboard', async () => {
//     await signIn(b.page, srv.url, 'learner@demo.test', 'evitrack-demo');
//     await screenshot(b.page, 'learner-dashboard');
//     const v = await axeCheck(b.page);
//     assert.deepEqual(v, [], formatViolations(v));
//   });
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {spawnSync} = require('node:child_process');
const http = require('../http/lib.js');

const ROOT = http.ROOT;
const SCREENSHOT_DIR = path.join(ROOT, 'tests', 'e2e', 'screenshots');
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'];
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-dev-shm-usage'];

/* Debian's Chromium: $CHROMIUM_PATH, else /usr/lib/chromium/chromium (no wrapper
 * warning), else /usr/bin/chromium. */
function chromiumPath() {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/lib/chromium/chromium', '/usr/bin/chromium']
    .filter(Boolean);
  for (const c of candidates) if (fs.existsSync(c)) return c;
  throw new Error(`no Chromium found (tried ${candidates.join(', ')}): apt-get install chromium`);
}

/*
 * launch({viewport, width, height, javaScriptEnabled, args}) -> {context, page, close()}
 * args: extra Chromium switches (e.g. the fake microphone: --use-fake-device-for-media-stream).
 * A persistent context in a fresh temporary profile; close() shuts the browser and
 * removes the profile. Default viewport 1280x900; pass {width: 375} for a phone.
 */
async function launch(opts = {}) {
  const {chromium} = require('playwright-core');
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'evitrack-chromium-'));
  const viewport = opts.viewport || {width: opts.width || 1280, height: opts.height || 900};
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath(),
      headless: true,
      args: [...CHROMIUM_ARGS, ...(opts.args || [])],
      viewport,
      javaScriptEnabled: opts.javaScriptEnabled !== false,
      acceptDownloads: true,
    });
  } catch (err) {
    fs.rmSync(profile, {recursive: true, force: true});
    throw err;
  }
  context.setDefaultTimeout(opts.timeoutMs || 15000);
  const page = context.pages()[0] || await context.newPage();
  return {
    context,
    page,
    profile,
    async close() {
      try { await context.close(); } finally { fs.rmSync(profile, {recursive: true, force: true}); }
    },
  };
}

/* Signs in through the /login form (fields email and password, a submit button) and
 * waits for the page after it; resolves that page's URL. Any earlier session in the
 * browser is dropped first (cookies cleared), so it also switches users. Throws, with
 * the page's error text, if it stays on /login. */
async function signIn(page, base, email, password = http.DEMO_PASSWORD) {
  await page.context().clearCookies();
  await page.goto(base + '/login');
  const form = page.locator('form:has(input[name="password"])').first();
  await form.locator('input[name="email"]').fill(email);
  await form.locator('input[name="password"]').fill(password);
  // One navigation: POST /login, then either 303 to the user's home or the form again.
  await Promise.all([
    page.waitForNavigation({waitUntil: 'load'}),
    form.locator('button[type="submit"], input[type="submit"], button:not([type])').first().click(),
  ]);
  await page.waitForLoadState('load');
  if (/\/login\/?$/.test(new URL(page.url()).pathname)) {
    const msg = await page.locator('main').innerText().catch(() => '');
    throw new Error(`sign-in as ${email} stayed on /login: ${msg.slice(0, 500)}`);
  }
  return page.url();
}

/* Saves a full-page PNG as tests/e2e/screenshots/NAME.png and returns its path. */
async function screenshot(page, name) {
  fs.mkdirSync(SCREENSHOT_DIR, {recursive: true});
  const file = path.join(SCREENSHOT_DIR, name.replace(/[^A-Za-z0-9._-]/g, '_') + '.png');
  await page.screenshot({path: file, fullPage: true});
  return file;
}

let axeCache = null;
function axeSource() {
  if (!axeCache) axeCache = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  return axeCache;
}

/* Runs axe-core on the page with the WCAG 2.0-2.2 A/AA tags and best practice; resolves
 * the violations (an empty array when clean). opts: {exclude: [selector], disable: [ruleId]}. */
async function axeCheck(page, opts = {}) {
  const has = await page.evaluate(() => typeof window.axe !== 'undefined');
  // Evaluated through the DevTools protocol rather than a <script> tag, which the
  // server's Content-Security-Policy (rightly) refuses.
  if (!has) await page.evaluate(axeSource() + '\n;true');
  const result = await page.evaluate(async ({tags, exclude, disable}) => {
    const context = exclude && exclude.length ? {include: [document], exclude: exclude.map((s) => [s])} : document;
    const rules = {};
    for (const id of disable || []) rules[id] = {enabled: false};
    const r = await window.axe.run(context, {runOnly: {type: 'tag', values: tags}, rules});
    return r.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
      nodes: v.nodes.map((n) => ({target: n.target, html: n.html, summary: n.failureSummary})),
    }));
  }, {tags: AXE_TAGS, exclude: opts.exclude || [], disable: opts.disable || []});
  return result;
}

/* A readable list of axe violations for an assertion message. */
function formatViolations(violations) {
  return violations.map((v) => `${v.impact} ${v.id}: ${v.help}\n` +
    v.nodes.slice(0, 5).map((n) => `    ${n.target.join(' ')}  ${n.html.slice(0, 160)}`).join('\n'))
    .join('\n');
}

function javaPath() {
  const r = spawnSync('sh', ['-c', 'command -v java'], {encoding: 'utf8'});
  return r.status === 0 ? r.stdout.trim() : null;
}

/*
 * Checks HTML with the Nu HTML Checker (vnu-jar, --errors-only).
 * docs: {name: htmlString, ...} or an array of HTML strings. Resolves
 * {available, errors: [{file, line, message, extract}], output}; available is false
 * (and errors empty) when java or vnu.jar is missing, so callers can skip.
 */
function htmlValidate(docs) {
  const java = javaPath();
  let jar;
  try { jar = require.resolve('vnu-jar/build/dist/vnu.jar'); } catch (e) { jar = null; }
  if (!java || !jar) return {available: false, errors: [], output: ''};
  const entries = Array.isArray(docs) ? docs.map((h, i) => [`doc${i}`, h]) : Object.entries(docs);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evitrack-vnu-'));
  try {
    const files = entries.map(([name, html]) => {
      const f = path.join(dir, name.replace(/[^A-Za-z0-9._-]/g, '_') + '.html');
      fs.writeFileSync(f, html);
      return f;
    });
    const r = spawnSync(java, ['-jar', jar, '--errors-only', '--format', 'json', ...files],
      {encoding: 'utf8', timeout: 120000, maxBuffer: 64 * 1024 * 1024});
    const out = (r.stderr || '') + (r.stdout || '');
    let messages = [];
    try { messages = JSON.parse(r.stderr || r.stdout || '{}').messages || []; } catch (e) { messages = []; }
    const errors = messages.filter((m) => m.type === 'error' || m.subType === 'fatal').map((m) => ({
      file: path.basename(decodeURIComponent(String(m.url || '').replace(/^file:/, ''))),
      line: m.lastLine, message: m.message, extract: m.extract,
    }));
    if (r.status !== 0 && errors.length === 0) {
      errors.push({file: '', line: 0, message: `vnu exited ${r.status}: ${out.slice(0, 500)}`, extract: ''});
    }
    return {available: true, errors, output: out};
  } finally {
    fs.rmSync(dir, {recursive: true, force: true});
  }
}

/* A readable list of HTML errors for an assertion message. */
function formatHtmlErrors(errors) {
  return errors.map((e) => `${e.file}:${e.line}: ${e.message}${e.extract ? `\n    ${e.extract.trim()}` : ''}`).join('\n');
}

module.exports = {
  ...http,
  chromiumPath,
  launch,
  signIn,
  screenshot,
  axeCheck,
  formatViolations,
  htmlValidate,
  formatHtmlErrors,
  SCREENSHOT_DIR,
  AXE_TAGS,
};
