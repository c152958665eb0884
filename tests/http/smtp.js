// tests/http/smtp.js: a real SMTP server on loopback for the tests (tests/http/smtp_sink.py,
// Debian's python3-aiosmtpd), and a reader for the MIME messages it saved.
//   const smtp = await startSmtp();            // any free port
//   ... serve --smtp-url smtp://127.0.0.1:${smtp.port}
//   const msgs = await smtp.waitFor(3);        // at least 3 messages, parsed
//   await smtp.stop(); await smtp.restart();   // down, then up again on the same port
'use strict';
const {spawn} = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const SINK = path.join(__dirname, 'smtp_sink.py');
/* Debian's python, where python3-aiosmtpd is installed (a pyenv shim may come first on PATH). */
const PYTHON = process.env.EVITRACK_PYTHON || (fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
/* Sinks still running; killed if the test process exits without stopping them. */
const live = new Set();
process.on('exit', () => { for (const c of live) { try { c.kill('SIGKILL'); } catch (e) { /* gone */ } } });

/* A port nobody listens on (the OS's choice, released at once). */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const {port} = s.address();
      s.close(() => resolve(port));
    });
  });
}

/* Decodes one MIME entity: {headers (lower-case names, unfolded), body (decoded text),
 * parts (for multipart)}. */
function parseEntity(raw) {
  const sep = raw.indexOf('\r\n\r\n');
  const head = sep < 0 ? raw : raw.slice(0, sep);
  let body = sep < 0 ? '' : raw.slice(sep + 4);
  const headers = {};
  for (const line of head.replace(/\r\n[ \t]/g, ' ').split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  const type = headers['content-type'] || 'text/plain';
  const m = /boundary="?([^";]+)"?/.exec(type);
  if (type.startsWith('multipart/') && m) {
    const parts = body.split('--' + m[1]).slice(1)
      .filter((p) => !p.startsWith('--'))
      .map((p) => parseEntity(p.replace(/^\r\n/, '').replace(/\r\n$/, '')));
    return {headers, body: '', parts};
  }
  if (/base64/i.test(headers['content-transfer-encoding'] || '')) {
    body = Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  }
  return {headers, body, parts: []};
}

/* RFC 2047 encoded words back to text. */
function decodeWords(s) {
  return (s || '').replace(/=\?UTF-8\?B\?([^?]+)\?=\s*/gi, (_, b) => Buffer.from(b, 'base64').toString('utf8'));
}

function parseMessage(rec) {
  const e = parseEntity(rec.data.replace(/\r?\n/g, '\r\n'));
  const text = e.parts.find((p) => (p.headers['content-type'] || '').startsWith('text/plain'));
  const html = e.parts.find((p) => (p.headers['content-type'] || '').startsWith('text/html'));
  return {
    ...rec,
    headers: e.headers,
    subject: decodeWords(e.headers.subject),
    messageId: e.headers['message-id'],
    contentType: e.headers['content-type'],
    text: text ? text.body : e.body,
    html: html ? html.body : '',
  };
}

class Smtp {
  constructor(opts) {
    this.opts = opts;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evitrack-smtp-'));
    this.port = opts.port || 0;
    this.child = null;
  }

  async start() {
    const args = [SINK, '--port', String(this.port), '--dir', this.dir];
    if (this.opts.auth) args.push('--auth', this.opts.auth);
    if (this.opts.tls) args.push('--tls', this.opts.tls.cert, this.opts.tls.key);
    const child = spawn(PYTHON, args, {stdio: ['ignore', 'pipe', 'pipe']});
    this.child = child;
    live.add(child);
    child.on('exit', () => live.delete(child));
    let out = '', err = '';
    child.stderr.on('data', (d) => { err += d; });
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`smtp sink did not start: ${err}`)), 15000);
      child.stdout.on('data', (d) => {
        out += d;
        const m = /smtp listening on (\d+)/.exec(out);
        if (m) { clearTimeout(timer); this.port = Number(m[1]); resolve(); }
      });
      child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`smtp sink exited (${code}): ${err}`)); });
    });
    this.exited = new Promise((resolve) => child.on('exit', resolve));
    return this;
  }

  /* Stops the server (the port is then closed: connections are refused). */
  async stop() {
    if (!this.child) return;
    this.child.kill('SIGKILL');
    await this.exited;
    this.child = null;
  }

  /* Starts again on the same port. */
  restart() { return this.start(); }

  /* Every message saved so far, oldest first, parsed. */
  messages() {
    return fs.readdirSync(this.dir).filter((f) => f.endsWith('.json')).sort()
      .map((f) => parseMessage(JSON.parse(fs.readFileSync(path.join(this.dir, f), 'utf8'))));
  }

  /* Waits until at least n messages (matching filter, if given) have arrived. */
  async waitFor(n, {timeoutMs = 20000, filter = () => true} = {}) {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const got = this.messages().filter(filter);
      if (got.length >= n) return got;
      if (Date.now() > until) {
        throw new Error(`expected ${n} messages, got ${got.length}: ` +
          JSON.stringify(this.messages().map((m) => [m.to, m.subject])));
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  cleanup() { fs.rmSync(this.dir, {recursive: true, force: true}); }
}

async function startSmtp(opts = {}) {
  return new Smtp(opts).start();
}

/* A Smtp that is not running yet, on a free port (start() it later). */
async function smtpDown(opts = {}) {
  return new Smtp({...opts, port: await freePort()});
}

module.exports = {startSmtp, smtpDown, freePort, parseMessage};
