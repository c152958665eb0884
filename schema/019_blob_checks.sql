-- 019_blob_checks.sql: what is known of each stored file's integrity beyond its name.
-- crc32: the CRC-32 (ISO-HDLC, as zip uses) of the bytes received at upload, computed beside
--   their SHA-256; NULL when not known (files stored before this version, demo data), until
--   a full SHA-256 check of the store's copy records it. An export checks each file's bytes
--   against it as they stream (the zip needs the CRC anyway), and checks a file with no CRC
--   against its SHA-256 in full.
-- checked_at: when the store's copy was last read whole and checked against its SHA-256
--   (ISO 8601 UTC; NULL: never since upload, or due again). The scheduled scrub re-checks
--   the oldest.
-- damaged_at: when the store's copy was found not to match (NULL: not known to be damaged).
--   An export puts a note in place of a damaged file rather than fail on it again; a check
--   that finds the copy intact again (restored from a backup) clears it.
ALTER TABLE blobs ADD COLUMN crc32 INTEGER;
ALTER TABLE blobs ADD COLUMN checked_at TEXT;
ALTER TABLE blobs ADD COLUMN damaged_at TEXT;
CREATE INDEX blobs_checked ON blobs(checked_at);
