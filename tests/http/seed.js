// tests/http/seed.js: fills a test server's store with large portfolios quickly, for the export
// tests and benchmarks: files are written straight into data/blobs/<2 hex>/<sha256> with their
// rows added in one sqlite3 call, as an upload would leave them (no HTTP round trip per file).
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');

/* CRC-32 as zip and blobs.crc32 take it (ISO-HDLC): node's own where it has one (20.15+),
 * else a table (node 18, Debian's). */
let crcTable = null;
function crc32(buf) {
  if (typeof zlib.crc32 === 'function') return zlib.crc32(buf) >>> 0;
  if (!crcTable) {
    crcTable = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c;
    }
  }
  let c = -1;
  for (let i = 0; i < buf.length; i++) c = crcTable[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/* A copy of data, as long, with other bytes but the same CRC-32: its first byte changed and
 * four bytes in the middle solved for (CRC-32 is affine over GF(2)), as someone hiding a
 * change from a CRC check would make it. */
function forgeSameCrc(data) {
  const n = data.length;
  if (n < 8) throw new Error('forgeSameCrc needs at least 8 bytes');
  const zero = crc32(Buffer.alloc(n));
  const f = (e) => (crc32(e) ^ zero) >>> 0; /* linear in the difference e */
  const first = Buffer.alloc(n);
  first[0] = 0xff;
  const at = n >> 1;
  const basis = new Array(32).fill(null); /* by leading bit: {v, m} with m the bits of [at, at+4) used */
  for (let j = 0; j < 32; j++) {
    const e = Buffer.alloc(n);
    e[at + (j >> 3)] = 1 << (j & 7);
    let v = f(e);
    let m = 1 << j;
    for (let b = 31; b >= 0 && v; b--) {
      if (!((v >>> b) & 1)) continue;
      if (!basis[b]) { basis[b] = {v, m}; v = 0; break; }
      v = (v ^ basis[b].v) >>> 0;
      m ^= basis[b].m;
    }
  }
  let t = f(first);
  let mask = 0;
  for (let b = 31; b >= 0; b--) {
    if ((t >>> b) & 1 && basis[b]) { t = (t ^ basis[b].v) >>> 0; mask ^= basis[b].m; }
  }
  if (t !== 0) throw new Error('forgeSameCrc: no solution');
  const out = Buffer.from(data);
  out[0] ^= 0xff;
  for (let j = 0; j < 32; j++) if ((mask >>> j) & 1) out[at + (j >> 3)] ^= 1 << (j & 7);
  if (crc32(out) !== crc32(data) || out.equals(data)) throw new Error('forgeSameCrc: failed');
  return out;
}

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
 * seedPortfolio(srv, email, {files, sizeBytes, tag, crc}) -> {evidenceId, bytes, paths}
 * Adds one submitted evidence item with `files` files of sizeBytes each to the learner.
 */
function seedPortfolio(srv, email, {files = 4, sizeBytes = 1 << 20, tag = 'seed', crc = true} = {}) {
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
    srv.blobWrite(sha, data); /* the directory store, or the bucket in S3 mode */
    if (!srv.store) paths.push(path.join(srv.dataDir, 'blobs', sha.slice(0, 2), sha));
    bytes += data.length;
    /* with its CRC-32 as an upload records it; crc: false as a file stored before schema/019 */
    sql.push(`INSERT INTO blobs (sha256, size, crc32) VALUES ('${sha}', ${data.length}, ${crc ? crc32(data) : 'NULL'}) ` +
      'ON CONFLICT DO NOTHING;');
    sql.push(`INSERT INTO evidence_files (evidence_id, name, size, sha256, mime, download_only) VALUES ` +
      `(${evId}, 'video-${i}.mp4', ${data.length}, '${sha}', 'video/mp4', 1);`);
  }
  sql.push('COMMIT;');
  srv.sql(sql.join('\n'));
  return {evidenceId: evId, bytes, paths};
}

module.exports = {seedPortfolio, makeFile, crc32, forgeSameCrc};
