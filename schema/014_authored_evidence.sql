-- 014_authored_evidence.sql: evidence the learner's assessor writes (observation records,
-- professional discussions, question-and-answer records, group observations) or a witness
-- gives through a one-time link, and the learner's acknowledgement of it. Portable DDL: the
-- rules (who may write, single use of a link) live in src/records.c and src/witness.c.

-- One observation recorded once for several learners of the same assessor: the shared part.
-- Each learner's portfolio gets its own evidence item (evidence.group_id) with its own
-- criteria and notes; shared files are attached to each item (the blob is stored once).
CREATE TABLE group_observations (
    id          INTEGER PRIMARY KEY,
    assessor_id INTEGER NOT NULL REFERENCES users(id),
    title       TEXT NOT NULL,
    occurred_on TEXT NOT NULL,
    place       TEXT NOT NULL DEFAULT '',
    activity    TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
);
CREATE INDEX group_observations_assessor ON group_observations(assessor_id, id);

-- Who wrote an item: the learner (every item before this version), the learner's assessor
-- (author_id), or a witness (the witness_requests row naming it). place / activity: where
-- and what an observation saw. An assessor's item in status 'draft' is planned, not yet
-- written up. acknowledged_at: the learner confirmed they have read it.
ALTER TABLE evidence ADD COLUMN author_role TEXT NOT NULL DEFAULT 'learner'
    CHECK (author_role IN ('learner','assessor','witness'));
ALTER TABLE evidence ADD COLUMN author_id INTEGER REFERENCES users(id);
ALTER TABLE evidence ADD COLUMN place TEXT NOT NULL DEFAULT '';
ALTER TABLE evidence ADD COLUMN activity TEXT NOT NULL DEFAULT '';
ALTER TABLE evidence ADD COLUMN group_id INTEGER REFERENCES group_observations(id);
ALTER TABLE evidence ADD COLUMN acknowledged_at TEXT;
CREATE INDEX evidence_author ON evidence(author_id, status);
CREATE INDEX evidence_group ON evidence(group_id);

-- Questions of a question-and-answer record (each with the learner's answer) or the
-- questions a professional discussion covered (answer: what the learner said, may be '').
CREATE TABLE evidence_questions (
    id          INTEGER PRIMARY KEY,
    evidence_id INTEGER NOT NULL REFERENCES evidence(id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    question    TEXT NOT NULL,
    answer      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX evidence_questions_evidence ON evidence_questions(evidence_id, position);

-- A witness nominated for a piece of work. The link's token is random; only its SHA-256
-- is kept. pending -> completed (once, evidence_id set) or revoked; expires_at (ISO UTC)
-- ends it too. witness_address: where the testimony was sent from.
CREATE TABLE witness_requests (
    id                   INTEGER PRIMARY KEY,
    learner_id           INTEGER NOT NULL REFERENCES users(id),
    requested_by         INTEGER NOT NULL REFERENCES users(id),
    title                TEXT NOT NULL,
    about                TEXT NOT NULL,
    occurred_on          TEXT,
    witness_name         TEXT NOT NULL,
    witness_job_title    TEXT NOT NULL,
    witness_relationship TEXT NOT NULL,
    witness_email        TEXT NOT NULL,
    token_hash           TEXT NOT NULL UNIQUE,
    status               TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','completed','revoked')),
    created_at           TEXT NOT NULL,
    expires_at           TEXT NOT NULL,
    completed_at         TEXT,
    revoked_at           TEXT,
    evidence_id          INTEGER REFERENCES evidence(id),
    witness_address      TEXT
);
CREATE INDEX witness_requests_learner ON witness_requests(learner_id, id);
CREATE INDEX witness_requests_evidence ON witness_requests(evidence_id);

-- The criteria the witness's testimony is for (the nominator chooses them).
CREATE TABLE witness_request_criteria (
    request_id   INTEGER NOT NULL REFERENCES witness_requests(id),
    criterion_id INTEGER NOT NULL REFERENCES criteria(id),
    PRIMARY KEY (request_id, criterion_id)
);

-- A decision's frozen basis also keeps who wrote each cited item (NULL before this version).
ALTER TABLE decision_basis ADD COLUMN author_role TEXT;
ALTER TABLE decision_basis ADD COLUMN author_name TEXT;
