-- 007_integrity.sql: what each decision was made on (its frozen basis), recognition of prior
-- learning, how an enrolment ended, unit sign-offs that need review or were reopened, and the
-- IQA action lifecycle. Portable DDL (see the data layer rules): no triggers, the rules live
-- in src/rules.c and run in the same transaction as the change.

-- The decision's own record of the criterion as it was worded when decided, and the reason
-- when it rests on recognition of prior learning (the one exception to "cited evidence is
-- mapped to the criterion"). NULL on decisions made before this version.
ALTER TABLE decisions ADD COLUMN rpl_reason TEXT;
ALTER TABLE decisions ADD COLUMN criterion_ref TEXT;
ALTER TABLE decisions ADD COLUMN criterion_text TEXT;

-- Per cited evidence item: its title, kind and the learner's mapping note at decision time.
CREATE TABLE decision_basis (
    id          INTEGER PRIMARY KEY,
    decision_id INTEGER NOT NULL REFERENCES decisions(id),
    evidence_id INTEGER NOT NULL REFERENCES evidence(id),
    title       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    note        TEXT NOT NULL DEFAULT '',
    mapped      INTEGER NOT NULL DEFAULT 1,   -- 0: cited through recognition of prior learning
    UNIQUE (decision_id, evidence_id)
);
CREATE INDEX decision_basis_evidence ON decision_basis(evidence_id);

-- Per cited evidence item, every file it had at decision time (the file row may since be gone;
-- the blob stays referenced here, so the content stays provable by its SHA-256).
CREATE TABLE decision_basis_files (
    id          INTEGER PRIMARY KEY,
    decision_id INTEGER NOT NULL REFERENCES decisions(id),
    evidence_id INTEGER NOT NULL REFERENCES evidence(id),
    file_id     INTEGER NOT NULL,
    name        TEXT NOT NULL,
    size        INTEGER NOT NULL,
    sha256      TEXT NOT NULL,
    mime        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX decision_basis_files_decision ON decision_basis_files(decision_id, evidence_id);
CREATE INDEX decision_basis_files_sha ON decision_basis_files(sha256);

-- How an enrolment ended: the date it took effect and why.
ALTER TABLE enrolments ADD COLUMN end_date TEXT;
ALTER TABLE enrolments ADD COLUMN end_reason TEXT;

-- A signed-off unit whose criteria a specification revision changed.
ALTER TABLE unit_signoffs ADD COLUMN needs_review INTEGER NOT NULL DEFAULT 0;
ALTER TABLE unit_signoffs ADD COLUMN review_note TEXT;

-- Sign-offs an IQA or admin reopened (the sign-off row is moved here, then removed).
CREATE TABLE unit_signoff_reopenings (
    id                 INTEGER PRIMARY KEY,
    learner_id         INTEGER NOT NULL REFERENCES users(id),
    unit_id            INTEGER NOT NULL REFERENCES units(id),
    assessor_id        INTEGER NOT NULL REFERENCES users(id),
    assessor_signed_at TEXT NOT NULL,
    learner_signed_at  TEXT,
    reopened_by        INTEGER NOT NULL REFERENCES users(id),
    reason             TEXT NOT NULL,
    reopened_at        TEXT NOT NULL
);
CREATE INDEX unit_signoff_reopenings_learner ON unit_signoff_reopenings(learner_id, unit_id, id);

-- IQA actions: open -> answered (by the learner's current assessor) -> closed by the IQA, or
-- sent back (open again) with a comment. assignee_id: an admin handed the action to them.
ALTER TABLE iqa_samples ADD COLUMN action_state TEXT;
ALTER TABLE iqa_samples ADD COLUMN assignee_id INTEGER REFERENCES users(id);
ALTER TABLE iqa_samples ADD COLUMN closed_at TEXT;
UPDATE iqa_samples SET action_state = CASE WHEN responded_at IS NULL THEN 'open' ELSE 'closed' END,
    closed_at = responded_at
    WHERE outcome = 'action_required';

CREATE TABLE iqa_action_events (
    id        INTEGER PRIMARY KEY,
    sample_id INTEGER NOT NULL REFERENCES iqa_samples(id),
    actor_id  INTEGER NOT NULL REFERENCES users(id),
    kind      TEXT NOT NULL CHECK (kind IN ('answer','close','send_back','reassign')),
    comment   TEXT NOT NULL DEFAULT '',
    at        TEXT NOT NULL
);
CREATE INDEX iqa_action_events_sample ON iqa_action_events(sample_id, id);
