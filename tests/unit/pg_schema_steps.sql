-- tests/unit/pg_schema_steps.sql: statements pg_schema_test.sh runs on SQLite (schema/) and on
-- PostgreSQL (schema/pg/), one unit at a time; the two transcripts must be identical.
-- A unit is a block of lines ended by a blank line, run as one session (it stops at its
-- first error, and an open transaction is rolled back). Annotations in a unit:
--   -- error: TEXT      the unit must fail with a message containing TEXT, or for the class
--                       words unique / check / foreign key / not null, that kind of
--                       constraint failure (the engines word those differently)
--   -- expect: LINE     the unit's output must be exactly these lines (both engines)
--   -- pg-only          run only on PostgreSQL (its expect lines are still checked)
-- Every query orders its rows; no booleans or floats are printed (engines print them
-- differently); counters are printed by the `state` units.

-- ---- setup: people, qualifications, units, outcomes, criteria
INSERT INTO users (email, name, role, password_hash) VALUES ('learner.one@example.org', 'Lee One', 'learner', 'x');
INSERT INTO users (email, name, role, password_hash) VALUES ('learner.two@example.org', 'Lou Two', 'learner', 'x');
INSERT INTO users (email, name, role, password_hash) VALUES ('Assessor@Example.org', 'Asha Sessor', 'assessor', 'x');
INSERT INTO users (email, name, role, password_hash) VALUES ('iqa@example.org', 'Ira Qa', 'iqa', 'x');
SELECT id, email, role, disabled FROM users ORDER BY id;
-- expect: 1|learner.one@example.org|learner|0
-- expect: 2|learner.two@example.org|learner|0
-- expect: 3|Assessor@Example.org|assessor|0
-- expect: 4|iqa@example.org|iqa|0

-- COLLATE NOCASE UNIQUE (SQLite) / unique index on lower(email) (PostgreSQL)
INSERT INTO users (email, name, role, password_hash) VALUES ('ASSESSOR@example.ORG', 'Dup', 'assessor', 'x');
-- error: unique

INSERT INTO users (email, name, role, password_hash) VALUES ('someone@example.org', 'Bad Role', 'wizard', 'x');
-- error: check

SELECT count(*) FROM users WHERE lower(email) = lower('ASSESSOR@EXAMPLE.ORG');
-- expect: 1

-- the created_at default: ISO 8601 UTC to the second, e.g. 2026-11-29T17:49:00Z
SELECT id, CASE WHEN created_at LIKE '____-__-__T__:__:__Z' AND length(created_at) = 20 THEN 'iso' ELSE created_at END,
       CASE WHEN updated_at = created_at THEN 'same' ELSE 'differs' END FROM users ORDER BY id;
-- expect: 1|iso|same
-- expect: 2|iso|same
-- expect: 3|iso|same
-- expect: 4|iso|same

SELECT version FROM spec_version WHERE id = 1;
SELECT version FROM centre_version WHERE id = 1;
-- expect: 0
-- expect: 0

INSERT INTO qualifications (code, title, awarding_body) VALUES ('Q-ONE', 'Qualification One', 'Body');
INSERT INTO qualifications (code, title, awarding_body) VALUES ('Q-TWO', 'Qualification Two', 'Body');
INSERT INTO units (qualification_id, ref, title, position) VALUES (1, 'U1', 'Unit One', 1);
INSERT INTO units (qualification_id, ref, title, position) VALUES (1, 'U2', 'Unit Two', 2);
INSERT INTO units (qualification_id, ref, title, position) VALUES (2, 'U1', 'Unit Three', 1);
INSERT INTO outcomes (unit_id, number, text) VALUES (1, 1, 'Outcome 1.1');
INSERT INTO outcomes (unit_id, number, text) VALUES (2, 1, 'Outcome 2.1');
INSERT INTO outcomes (unit_id, number, text) VALUES (3, 1, 'Outcome 3.1');
INSERT INTO criteria (unit_id, outcome_id, ref, text, position) VALUES (1, 1, '1.1', 'Criterion 1.1', 1);
INSERT INTO criteria (unit_id, outcome_id, ref, text, position) VALUES (1, 1, '1.2', 'Criterion 1.2', 2);
INSERT INTO criteria (unit_id, outcome_id, ref, text, position) VALUES (2, 2, '1.1', 'Criterion 2-1.1', 1);
INSERT INTO criteria (unit_id, outcome_id, ref, text, position) VALUES (3, 3, '1.1', 'Criterion 3-1.1', 1);
SELECT version FROM spec_version WHERE id = 1;
-- expect: 10

-- spec_version_*: one bump per row changed, whatever the columns
UPDATE units SET synopsis = 'About unit one' WHERE id = 1;
UPDATE units SET position = position WHERE qualification_id = 1;
UPDATE outcomes SET text = 'Outcome one point one' WHERE id = 1;
UPDATE criteria SET position = position + 0;
UPDATE qualifications SET description = 'About' WHERE id = 1;
SELECT version FROM spec_version WHERE id = 1;
-- expect: 19

INSERT INTO units (qualification_id, ref, title) VALUES (2, 'U9', 'Unit to delete');
INSERT INTO outcomes (unit_id, number, text) VALUES (4, 1, 'Outcome to delete');
INSERT INTO criteria (unit_id, outcome_id, ref, text) VALUES (4, 4, '9.1', 'Criterion to delete');
DELETE FROM criteria WHERE id = 5;
DELETE FROM outcomes WHERE id = 4;
DELETE FROM units WHERE id = 4;
SELECT version FROM spec_version WHERE id = 1;
-- expect: 25

-- a unit of a missing qualification: no row, no bump
INSERT INTO units (qualification_id, ref, title) VALUES (99, 'U1', 'Orphan');
-- error: foreign key

SELECT version FROM spec_version WHERE id = 1;
SELECT version FROM centre_version WHERE id = 1;
-- expect: 25
-- expect: 0

-- ---- enrolments -> enrolment_progress (progress_enrolment_ins)
INSERT INTO enrolments (learner_id, qualification_id, assessor_id, iqa_id, start_date, planned_end_date) VALUES (1, 1, 3, 4, '2026-01-05', '2027-01-05');
INSERT INTO enrolments (learner_id, qualification_id, assessor_id, iqa_id, start_date, planned_end_date) VALUES (1, 2, 3, 4, '2026-01-05', '2027-01-05');
INSERT INTO enrolments (learner_id, qualification_id, assessor_id, iqa_id, start_date, planned_end_date) VALUES (2, 1, 3, NULL, '2026-02-01', '2027-02-01');
SELECT * FROM enrolment_progress ORDER BY enrolment_id;
SELECT version FROM centre_version WHERE id = 1;

INSERT INTO enrolments (learner_id, qualification_id, assessor_id, start_date, planned_end_date) VALUES (2, 1, 3, '2026-02-01', '2027-02-01');
-- error: unique

-- criterion_status rows as status_refresh writes them (criterion_status_ins, progress_cs_ins)
INSERT INTO criterion_status (learner_id, criterion_id, unit_id) VALUES (1, 1, 1);
INSERT INTO criterion_status (learner_id, criterion_id, unit_id, status) VALUES (1, 2, 1, 'mapped');
INSERT INTO criterion_status (learner_id, criterion_id, unit_id) VALUES (1, 3, 2);
INSERT INTO criterion_status (learner_id, criterion_id, unit_id, status) VALUES (1, 4, 3, 'submitted');
INSERT INTO criterion_status (learner_id, criterion_id, unit_id) SELECT 2, c.id, c.unit_id FROM criteria c JOIN units u ON u.id = c.unit_id WHERE u.qualification_id = 1 ORDER BY c.id;
SELECT * FROM unit_progress ORDER BY learner_id, unit_id;
SELECT * FROM enrolment_progress ORDER BY enrolment_id;
SELECT version FROM centre_version WHERE id = 1;

SELECT learner_id, criterion_id, CASE WHEN updated_at LIKE '____-__-__T__:__:__Z' THEN 'iso' ELSE updated_at END FROM criterion_status ORDER BY 1, 2;

-- criterion_status_upd / progress_cs_upd: counted moves; an unchanged status moves nothing
UPDATE criterion_status SET status = 'mapped' WHERE learner_id = 1 AND criterion_id = 1;
UPDATE criterion_status SET status = 'mapped' WHERE learner_id = 1 AND criterion_id = 2;
UPDATE criterion_status SET status = 'met', decision_id = NULL WHERE learner_id = 2;
UPDATE criterion_status SET updated_at = '2026-03-01T10:00:00Z' WHERE learner_id = 1;
SELECT * FROM unit_progress ORDER BY learner_id, unit_id;
SELECT * FROM enrolment_progress ORDER BY enrolment_id;
SELECT version FROM centre_version WHERE id = 1;

-- criterion_status_del / progress_cs_del
DELETE FROM criterion_status WHERE learner_id = 2 AND criterion_id = 3;
SELECT * FROM unit_progress ORDER BY learner_id, unit_id;
SELECT * FROM enrolment_progress ORDER BY enrolment_id;
SELECT version FROM centre_version WHERE id = 1;

-- ---- evidence and its mapping -> learner_queue (progress_queue_*), evidence_rounds
INSERT INTO evidence (learner_id, title, kind) VALUES (1, 'Draft one', 'product');
INSERT INTO evidence_criteria (evidence_id, criterion_id, learner_id, note) VALUES (1, 1, 1, 'covers 1.1');
INSERT INTO evidence_criteria (evidence_id, criterion_id, learner_id) VALUES (1, 4, 1);
SELECT * FROM learner_queue ORDER BY learner_id, qualification_id;
SELECT * FROM evidence_rounds ORDER BY evidence_id;
SELECT version FROM centre_version WHERE id = 1;

UPDATE evidence SET status = 'submitted', submitted_at = '2026-03-02T09:00:00Z' WHERE id = 1;
SELECT * FROM learner_queue ORDER BY learner_id, qualification_id;
SELECT * FROM evidence_rounds ORDER BY evidence_id;
SELECT version FROM centre_version WHERE id = 1;

-- evidence_rounds_insert: evidence inserted already submitted
INSERT INTO evidence (learner_id, title, kind, status, submitted_at) VALUES (1, 'Straight in', 'observation', 'submitted', '2026-03-01T08:00:00Z');
INSERT INTO evidence_criteria (evidence_id, criterion_id, learner_id) VALUES (2, 3, 1);
INSERT INTO evidence (learner_id, title, kind, status, submitted_at) VALUES (2, 'Lou''s account', 'reflective_account', 'submitted', '2026-03-03T08:00:00Z');
INSERT INTO evidence_criteria (evidence_id, criterion_id, learner_id) VALUES (3, 1, 2);
INSERT INTO evidence_criteria (evidence_id, criterion_id, learner_id) VALUES (3, 2, 2);
SELECT * FROM learner_queue ORDER BY learner_id, qualification_id;
SELECT * FROM evidence_rounds ORDER BY evidence_id;
SELECT version FROM centre_version WHERE id = 1;

INSERT INTO evidence (learner_id, title, kind) VALUES (1, 'Bad kind', 'essay');
-- error: check

-- ---- decisions: progress_decision_ins, decision_coverage_decision
INSERT INTO decisions (learner_id, criterion_id, assessor_id, outcome, feedback, created_at) VALUES (1, 1, 3, 'not_met', 'More detail please', '2026-03-04T10:00:00Z');
INSERT INTO decision_evidence (decision_id, evidence_id) VALUES (1, 1);
INSERT INTO decisions (learner_id, criterion_id, assessor_id, outcome, created_at) VALUES (1, 4, 3, 'met', '2026-03-04T10:01:00Z');
INSERT INTO decisions (learner_id, criterion_id, assessor_id, outcome, created_at) VALUES (2, 1, 3, 'met', '2026-03-04T10:02:00Z');
SELECT * FROM enrolment_progress ORDER BY enrolment_id;
SELECT * FROM decision_coverage ORDER BY learner_id, unit_id, assessor_id;
SELECT version FROM centre_version WHERE id = 1;

-- returned, then resubmitted: a new round whose mark is the latest decision
UPDATE evidence SET status = 'returned' WHERE id = 1;
UPDATE evidence SET status = 'submitted', submitted_at = '2026-03-05T09:00:00Z' WHERE id = 1;
UPDATE evidence SET status = 'submitted' WHERE id = 1;
SELECT * FROM evidence_rounds ORDER BY evidence_id;
SELECT * FROM learner_queue ORDER BY learner_id, qualification_id;
SELECT version FROM centre_version WHERE id = 1;

-- a decision that supersedes another
INSERT INTO decisions (learner_id, criterion_id, assessor_id, outcome, supersedes_id, created_at) VALUES (1, 1, 3, 'met', 1, '2026-03-06T10:00:00Z');
SELECT id, learner_id, criterion_id, outcome, coalesce(supersedes_id, 0), declaration, vacsr FROM decisions ORDER BY id;
SELECT * FROM decision_coverage ORDER BY learner_id, unit_id, assessor_id;
SELECT * FROM enrolment_progress ORDER BY enrolment_id;

-- decisions_no_update / decisions_no_delete
UPDATE decisions SET feedback = 'changed' WHERE id = 1;
-- error: decisions are never edited: record a new one

DELETE FROM decisions WHERE id = 2;
-- error: decisions are never deleted

-- a row trigger does not fire when no row matches
UPDATE decisions SET feedback = 'changed' WHERE id = 999;
DELETE FROM decisions WHERE id = 999;
SELECT count(*), min(feedback) FROM decisions;
-- expect: 4|

-- a failed statement in a transaction leaves nothing behind, derived rows included. (No
-- row with a generated id is inserted here: a rolled-back PostgreSQL identity value is not
-- reused, where SQLite hands out the largest id + 1 again, so later ids would differ.)
BEGIN;
INSERT INTO evidence_criteria (evidence_id, criterion_id, learner_id) VALUES (3, 3, 2);
INSERT INTO criterion_status (learner_id, criterion_id, unit_id, status) VALUES (2, 4, 3, 'mapped');
UPDATE criterion_status SET status = 'not_met' WHERE learner_id = 2 AND criterion_id = 1;
SELECT * FROM learner_queue WHERE learner_id = 2 ORDER BY qualification_id;
DELETE FROM decisions WHERE id = 3;
COMMIT;
-- error: decisions are never deleted

SELECT count(*) FROM decisions;
SELECT * FROM decision_coverage ORDER BY learner_id, unit_id, assessor_id;
SELECT * FROM learner_queue WHERE learner_id = 2 ORDER BY qualification_id;
SELECT * FROM unit_progress WHERE learner_id = 2 ORDER BY unit_id;
-- expect: 4
-- expect: 1|1|3|2|0
-- expect: 1|3|3|1|0
-- expect: 2|1|3|1|0
-- expect: 2|1|1|2026-03-03T08:00:00Z
-- expect: 2|1|2|0|0|2|0
-- expect: 2|2|0|0|0|0|0

-- ---- IQA samples: progress_sample_ins, decision_coverage_sample (first sample counts)
INSERT INTO iqa_samples (decision_id, iqa_id, outcome, created_at) VALUES (1, 4, 'agree', '2026-03-08T10:00:00Z');
SELECT * FROM enrolment_progress ORDER BY enrolment_id;
SELECT * FROM decision_coverage ORDER BY learner_id, unit_id, assessor_id;

INSERT INTO iqa_samples (decision_id, iqa_id, outcome, feedback, created_at) VALUES (1, 4, 'action_required', 'Check 1.1 again', '2026-03-08T11:00:00Z');
INSERT INTO iqa_samples (decision_id, iqa_id, outcome, created_at) VALUES (4, 4, 'agree', '2026-03-08T12:00:00Z');
SELECT * FROM enrolment_progress ORDER BY enrolment_id;
SELECT * FROM decision_coverage ORDER BY learner_id, unit_id, assessor_id;
SELECT version FROM centre_version WHERE id = 1;

-- two samples of one decision in one statement: counted once, as SQLite's row triggers do
INSERT INTO iqa_samples (decision_id, iqa_id, outcome, created_at) VALUES (3, 4, 'agree', '2026-03-09T10:00:00Z'), (3, 4, 'agree', '2026-03-09T10:01:00Z');
INSERT INTO iqa_samples (decision_id, iqa_id, outcome, created_at) VALUES (2, 4, 'agree', '2026-03-09T10:02:00Z'), (2, 4, 'agree', '2026-03-09T10:03:00Z');
SELECT * FROM enrolment_progress ORDER BY enrolment_id;
SELECT * FROM decision_coverage ORDER BY learner_id, unit_id, assessor_id;
SELECT version FROM centre_version WHERE id = 1;

INSERT INTO iqa_samples (decision_id, iqa_id, outcome, created_at) VALUES (99, 4, 'agree', '2026-03-09T10:00:00Z');
-- error: foreign key

SELECT * FROM enrolment_progress ORDER BY enrolment_id;
SELECT * FROM decision_coverage ORDER BY learner_id, unit_id, assessor_id;

-- ---- the audit trail: audit_no_update / audit_no_delete
INSERT INTO audit_events (id, at, actor_id, action, entity, entity_id, learner_id, before, after, prev_hash, hash) VALUES (1, '2026-03-10T10:00:00Z', 3, 'decision.create', 'decision', 1, 1, NULL, '{"outcome":"met"}', '0000', 'aaaa');
INSERT INTO audit_events (id, at, actor_id, action, entity, prev_hash, hash) VALUES (2, '2026-03-10T10:00:01Z', NULL, 'user.create', 'user', 'aaaa', 'bbbb');
SELECT id, at, coalesce(actor_id, 0), action, coalesce(before, 'null'), after, hash FROM audit_events ORDER BY id;

UPDATE audit_events SET hash = 'forged' WHERE id = 1;
-- error: audit events are append-only

DELETE FROM audit_events WHERE id = 2;
-- error: audit events are append-only

DELETE FROM audit_events;
-- error: audit events are append-only

SELECT count(*), max(hash) FROM audit_events;
-- expect: 2|bbbb

-- ---- names and codes the centre snapshot shows (centre_version_names, centre_version_quals)
UPDATE users SET name = 'Asha Assessor' WHERE id = 3;
UPDATE users SET password_hash = 'y' WHERE id = 3;
UPDATE qualifications SET title = 'Qualification One (2026)' WHERE id = 1;
UPDATE qualifications SET awarding_body = 'Other body' WHERE id = 2;
SELECT version FROM centre_version WHERE id = 1;
SELECT version FROM spec_version WHERE id = 1;

-- ---- enrolment changes (centre_version_en_upd, progress_enrolment_del, centre_version_en_del)
UPDATE enrolments SET status = 'on_break' WHERE id = 2;
SELECT version FROM centre_version WHERE id = 1;

DELETE FROM enrolments WHERE id = 2;
SELECT * FROM enrolment_progress ORDER BY enrolment_id;
SELECT version FROM centre_version WHERE id = 1;

-- ---- evidence deleted: its mapping goes (ON DELETE CASCADE), the queue is recounted
DELETE FROM evidence_criteria WHERE evidence_id = 3 AND criterion_id = 2;
SELECT * FROM learner_queue ORDER BY learner_id, qualification_id;

DELETE FROM decision_evidence WHERE evidence_id = 1;
DELETE FROM evidence WHERE id = 1;
SELECT * FROM learner_queue ORDER BY learner_id, qualification_id;
SELECT * FROM evidence_rounds ORDER BY evidence_id;
SELECT evidence_id, criterion_id FROM evidence_criteria ORDER BY 1, 2;
SELECT version FROM centre_version WHERE id = 1;

UPDATE evidence SET status = 'assessed' WHERE learner_id = 2;
SELECT * FROM learner_queue ORDER BY learner_id, qualification_id;
SELECT * FROM evidence_rounds ORDER BY evidence_id;

-- ---- blobs and files
INSERT INTO blobs (sha256, size) VALUES ('abc123', 10) ON CONFLICT DO NOTHING;
INSERT INTO blobs (sha256, size) VALUES ('abc123', 99) ON CONFLICT DO NOTHING;
INSERT INTO evidence_files (evidence_id, name, size, sha256, mime) VALUES (2, 'photo.jpg', 10, 'abc123', 'image/jpeg');
SELECT sha256, size FROM blobs ORDER BY sha256;
SELECT id, evidence_id, name, download_only, CASE WHEN created_at LIKE '____-__-__T__:__:__Z' THEN 'iso' ELSE created_at END FROM evidence_files ORDER BY id;
-- expect: abc123|10
-- expect: 1|2|photo.jpg|0|iso

INSERT INTO evidence_files (evidence_id, name, size, sha256, mime) VALUES (2, 'lost.pdf', 1, 'nosuchblob', 'application/pdf');
-- error: foreign key

-- ---- countersigns and sign-offs (no triggers; constraints as in SQLite)
INSERT INTO countersigns (decision_id, learner_id, comment, signed_at) VALUES (2, 1, 'Thanks', '2026-03-11T10:00:00Z');
INSERT INTO unit_signoffs (learner_id, unit_id, assessor_id, assessor_signed_at) VALUES (1, 3, 3, '2026-03-11T11:00:00Z');
SELECT decision_id, learner_id, comment FROM countersigns ORDER BY decision_id;
SELECT id, learner_id, unit_id, coalesce(learner_signed_at, '-') FROM unit_signoffs ORDER BY id;

INSERT INTO countersigns (decision_id, learner_id, signed_at) VALUES (2, 1, '2026-03-11T10:00:00Z');
-- error: unique

INSERT INTO unit_signoffs (learner_id, unit_id, assessor_id, assessor_signed_at) VALUES (1, 3, 3, '2026-03-11T11:00:00Z');
-- error: unique

-- ---- sessions and sign-in failures
INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, last_seen, expires_at) VALUES ('h1', 1, 'c1', 1790000000, 1790000000, 1790086400);
INSERT INTO login_failures (email, addr, at) VALUES ('Learner.One@example.org', '127.0.0.1', 1790000001);
INSERT INTO login_failures (email, addr, at) VALUES ('learner.one@EXAMPLE.org', '127.0.0.1', 1790000002);
SELECT token_hash, user_id, expires_at - created_at FROM sessions ORDER BY token_hash;
SELECT count(*) FROM login_failures WHERE lower(email) = lower('LEARNER.ONE@example.org') AND at > 1790000000;
-- expect: h1|1|86400
-- expect: 2

-- ---- guidance and a second evidence round after a decision
INSERT INTO unit_guidance (unit_id, kind, position, text) VALUES (1, 'key_terms', 1, 'Term');
INSERT INTO unit_guidance (unit_id, kind, position, text) VALUES (1, 'glossary', 2, 'Term');
-- error: check

UPDATE evidence SET status = 'returned' WHERE id = 2;
INSERT INTO decisions (learner_id, criterion_id, assessor_id, outcome, created_at) VALUES (1, 3, 3, 'not_met', '2026-03-12T10:00:00Z');
UPDATE evidence SET status = 'submitted', submitted_at = '2026-03-12T11:00:00Z' WHERE id = 2;
SELECT * FROM evidence_rounds ORDER BY evidence_id;
SELECT * FROM learner_queue ORDER BY learner_id, qualification_id;
SELECT * FROM decision_coverage ORDER BY learner_id, unit_id, assessor_id;
SELECT * FROM enrolment_progress ORDER BY enrolment_id;

-- ---- the final state of every derived table
SELECT * FROM unit_progress ORDER BY learner_id, unit_id;
SELECT * FROM enrolment_progress ORDER BY enrolment_id;
SELECT * FROM learner_queue ORDER BY learner_id, qualification_id;
SELECT * FROM evidence_rounds ORDER BY evidence_id;
SELECT * FROM decision_coverage ORDER BY learner_id, unit_id, assessor_id;
SELECT version FROM spec_version WHERE id = 1;
SELECT version FROM centre_version WHERE id = 1;

-- ---- PostgreSQL only: TRUNCATE (which SQLite lacks) cannot empty the append-only tables
TRUNCATE audit_events;
-- pg-only
-- error: audit events are append-only

TRUNCATE decisions CASCADE;
-- pg-only
-- error: decisions are never deleted

-- the database numbers the next row after explicitly numbered ones once identities are synced
-- pg-only
INSERT INTO users (id, email, name, role, password_hash) VALUES (50, 'explicit@example.org', 'Ex Plicit', 'admin', 'x');
SELECT evitrack_sync_identities() > 10;
INSERT INTO users (email, name, role, password_hash) VALUES ('next@example.org', 'Nex T', 'admin', 'x') RETURNING id;
-- expect: t
-- expect: 51

-- ---- a migration in the portable subset (pg_schema_portable.sql), translated for PostgreSQL
INSERT INTO portable_things (owner_id, name) VALUES (1, 'first');
INSERT INTO portable_things (owner_id, name, weight, kind, rank, ratio) VALUES (2, 'second', 2.25, 'fancy', 3, 0.5);
INSERT INTO portable_thing_notes (thing_id, note) VALUES (2, 'noted');
SELECT id, owner_id, name, CAST(weight * 100 AS INTEGER), kind, active, rank, CAST(coalesce(ratio, -1) * 10 AS INTEGER) FROM portable_things ORDER BY id;
SELECT thing_id, note FROM portable_thing_notes ORDER BY thing_id;
-- expect: 1|1|first|150|plain|1|0|-10
-- expect: 2|2|second|225|fancy|1|3|5
-- expect: 2|noted

INSERT INTO portable_things (owner_id, name) VALUES (1, 'first');
-- error: unique

INSERT INTO portable_things (owner_id, name, kind) VALUES (1, 'third', 'odd');
-- error: check

INSERT INTO portable_thing_notes (thing_id) VALUES (7);
-- error: foreign key

DELETE FROM portable_things WHERE id = 2;
SELECT count(*) FROM portable_thing_notes;
-- expect: 0
