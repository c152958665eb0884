#!/usr/bin/env node
// tests/bench/mail.js: how many messages a second the sender thread delivers, against a
// baseline measured in the same run: Python's smtplib sending the same number of messages
// of the same size over one connection to the same SMTP sink (tests/http/smtp_sink.py,
// python3-aiosmtpd). Also times a 200-line intake import on the command line.
//   node tests/bench/mail.js [--messages N]       (default 1000; build/evitrack, or $EVITRACK_BIN)
// Prints messages/s for both and the ratio; never judges absolute times.
'use strict';
const {spawn, spawnSync} = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {startSmtp, freePort} = require('../http/smtp.js');
const {startServer, runCli, binPath} = require('../http/lib.js');

const N = Number((process.argv.find((a, i) => process.argv[i - 1] === '--messages')) || 1000);
const PY = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

function uln(n) {
  const head = String(100000000 + n).slice(0, 9);
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += Number(head[i]) * (10 - i);
  for (let d = 0; d <= 9; d++) if ((sum + d) % 11 === 10) return head + d;
  return null;
}

function csv(n, qual, prefix, offset = 0) {
  const lines = ['name,email,uln,qualification,assessor_email,iqa_email,start_date,planned_end_date,employer'];
  for (let k = 0; lines.length <= n; k++) {
    const u = uln(k + offset);
    if (!u) continue;
    const i = lines.length - 1;
    lines.push(`Learner ${i},${prefix}${i}@college.test,${u},${qual},assessor@demo.test,iqa@demo.test,2026-09-01,2027-08-31,Employer ${i % 9}`);
  }
  return lines.join('\n') + '\n';
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evitrack-bench-mail-'));
  // a database with N queued messages (N/2 learners: an invitation and an enrolment each)
  const seed = await startServer({demo: true});
  const db = path.join(dir, 'bench.db');
  const qual = seed.sql('SELECT code FROM qualifications ORDER BY id LIMIT 1');
  fs.copyFileSync(seed.dbPath, db);
  await seed.stop();
  const f200 = path.join(dir, 'intake200.csv');
  fs.writeFileSync(f200, csv(200, qual, 'i'));
  const t0 = process.hrtime.bigint();
  let r = await runCli(['import-learners', '--db', db, f200]);
  const intakeMs = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.code !== 0) throw new Error(r.stderr);
  console.log(`intake: 200 lines imported by the command line in ${intakeMs.toFixed(0)} ms (${r.stdout.trim()})`);
  const fN = path.join(dir, 'intakeN.csv');
  fs.writeFileSync(fN, csv(Math.ceil(N / 2), qual, 'b', 100000));
  r = await runCli(['import-learners', '--db', db, fN]);
  if (r.code !== 0) throw new Error(r.stderr);
  spawnSync('sqlite3', [db, "UPDATE outbox SET status = 'sent' WHERE to_addr NOT LIKE 'b%'"]);
  const queued = Number(spawnSync('sqlite3', [db, "SELECT count(*) FROM outbox WHERE status = 'pending'"], {encoding: 'utf8'}).stdout);
  const avg = Number(spawnSync('sqlite3', [db, "SELECT avg(length(body)) FROM outbox WHERE status = 'pending'"], {encoding: 'utf8'}).stdout);

  // baseline: smtplib, one connection, the same number of messages of about the same size
  const smtpA = await startSmtp();
  const py = `
import smtplib, sys, time
from email.message import EmailMessage
n, port, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
t = time.time()
s = smtplib.SMTP('127.0.0.1', port)
for i in range(n):
    m = EmailMessage()
    m['From'] = 'noreply@centre.test'; m['To'] = 'b%d@college.test' % i; m['Subject'] = 'Message %d' % i
    m.set_content('x' * size)
    m.add_alternative('<p>' + 'x' * size + '</p>', subtype='html')
    s.send_message(m)
s.quit()
print(n / (time.time() - t))
`;
  const base = spawnSync(PY, ['-c', py, String(queued), String(smtpA.port), String(Math.round(avg))], {encoding: 'utf8'});
  if (base.status !== 0) throw new Error(base.stderr);
  const baseRate = Number(base.stdout);
  await smtpA.stop();
  smtpA.cleanup();

  // evitrack's sender
  const smtpB = await startSmtp();
  const port = await freePort();
  const start = process.hrtime.bigint();
  const srv = await startServer({args: ['--db', db, '--port', String(port), '--quiet', '--smtp-url',
    `smtp://127.0.0.1:${smtpB.port}`, '--smtp-from', 'evitrack <noreply@centre.test>']});
  await smtpB.waitFor(queued, {timeoutMs: 600000});
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  const rate = queued / secs;
  await srv.stop();
  await smtpB.stop();
  smtpB.cleanup();
  console.log(`sender: ${queued} messages (about ${Math.round(avg)} bytes of text each, plus HTML) in ${secs.toFixed(2)} s: ` +
    `${rate.toFixed(0)} messages/s; smtplib baseline ${baseRate.toFixed(0)} messages/s; ratio ${(rate / baseRate).toFixed(2)}x`);
  fs.rmSync(dir, {recursive: true, force: true});
}

main().catch((e) => { console.error(e); process.exit(1); });
