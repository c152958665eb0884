// tests/http/seed.js: fills a test server's store with large portfolios quickly, for the export
// tests and benchmarks: files are written straight into data/blobs/<2 hex>/<sha256> with their
// rows added in one sqlite3 call, as an upload would leave them (no HTTP round trip per file).
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

/* Distinct incompressible bytes of `size`, quickly: one random block repeated, each copy
 * stamped with its index and the seed, so every file has its own SHA-256. */
function makeFile(size, seed) {
  const block = crypto.randomBytes(Math.min(size, 1 << 20));
  const buf = Buffer.allocUnsafe(size);
  for (let off = 0, i = 0; off < size; off += block.length, i++) {
    block.copy(buf, off, 0, Math.min(block.length, size - off));
    buf.write(`${seed}:${i}:`, off, 'latin1');
  }
  return buf;
}

/*
 * seedPortfolio(srv, email, {files, sizeBytes, tag}) -> {evidenceId, bytes, paths}
 * Adds one submitted evidence item with `files` files of sizeBytes each to the learner.
 */
function seedPortfolio(srv, email, {files = 4, sizeBytes = 1 << 20, tag = 'seed'} = {}) {
  const learner = Number(srv.sql(`SELECT id FROM users WHERE email = '${email}'`));
  if (!learner) throw new Error(`no learner ${email}`);
  const evId = Number(srv.sql(`INSERT INTO evidence (learner_id, title, kind, status) VALUES (${learner}, ` +
    `'Seeded ${tag}', 'product', 'submitted') RETURNING id`));
  const sql = ['BEGIN;'];
  const paths = [];
  let bytes = 0;
  for (let i = 0; i < files; i++) {
    const data = makeFile(sizeBytes, `${tag}-${evId}-${i}`);
    const sha = crypto.createHash('sha256').update(data).digest('hex');
    const dir = path.join(srv.dataDir, 'blobs', sha.slice(0, 2));
    fs.mkdirSync(dir, {recursive: true});
    const p = path.join(dir, sha);
    fs.writeFileSync(p, data);
    paths.push(p);
    bytes += data.length;
    sql.push(`INSERT INTO blobs (sha256, size) VALUES ('${sha}', ${data.length}) ON CONFLICT DO NOTHING;`);
    sql.push(`INSERT INTO evidence_files (evidence_id, name, size, sha256, mime, download_only) VALUES ` +
      `(${evId}, 'video-${i}.mp4', ${data.length}, '${sha}', 'video/mp4', 1);`);
  }
  sql.push('COMMIT;');
  srv.sql(sql.join('\n'));
  return {evidenceId: evId, bytes, paths};
}

module.exports = {seedPortfolio, makeFile};
