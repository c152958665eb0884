-- 019_blob_checks.sql: what is known of each stored file's integrity beyond its name.
-- crc32: the CRC-32 (ISO-HDLC, as zip uses) of the bytes received at upload, computed beside
--   their SHA-256; NULL when not known (files stored before this version, demo data), until
--   a full SHA-256 check of the store's copy records it. An export checks each file's bytes
--   against it as they stream (the zip needs the CRC anyway), and checks a file with no CRC
--   against its SHA-256 in full.
-- checked_at: when the store's copy was last read whole and found to match its SHA-256
--   (ISO 8601 UTC; NULL: never since upload). The scheduled scrub re-checks the oldest.
ALTER TABLE blobs ADD COLUMN crc32 INTEGER;
ALTER TABLE blobs ADD COLUMN checked_at TEXT;
CREATE INDEX blobs_checked ON blobs(checked_at);
