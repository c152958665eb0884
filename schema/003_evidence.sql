-- 003_evidence.sql: evidence items, their files (content-addressed blobs) and criteria mapping
CREATE TABLE evidence (
    id           INTEGER PRIMARY KEY,
    learner_id   INTEGER NOT NULL REFERENCES users(id),
    title        TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('observation','witness_testimony',
                     'professional_discussion','product','reflective_account',
                     'question_and_answer','recognition_of_prior_learning')),
    description  TEXT NOT NULL DEFAULT '',
    body         TEXT NOT NULL DEFAULT '',     -- typed text (reflective account, testimony)
    occurred_on  TEXT,                         -- YYYY-MM-DD of the activity
    status       TEXT NOT NULL DEFAULT 'draft'
                 CHECK (status IN ('draft','submitted','assessed','returned')),
    submitted_at TEXT,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),
    updated_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
);
CREATE INDEX evidence_learner ON evidence(learner_id, id);
CREATE INDEX evidence_queue ON evidence(status, submitted_at);

-- One row per stored content; files refer to it by hash.
CREATE TABLE blobs (
    sha256     TEXT PRIMARY KEY,
    size       INTEGER NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
) WITHOUT ROWID;

CREATE TABLE evidence_files (
    id            INTEGER PRIMARY KEY,
    evidence_id   INTEGER NOT NULL REFERENCES evidence(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,               -- the uploader's file name (display only)
    size          INTEGER NOT NULL,
    sha256        TEXT NOT NULL REFERENCES blobs(sha256),
    mime          TEXT NOT NULL,               -- sniffed with libmagic
    download_only INTEGER NOT NULL DEFAULT 0,  -- never previewed inline
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
);
CREATE INDEX evidence_files_evidence ON evidence_files(evidence_id);
CREATE INDEX evidence_files_sha ON evidence_files(sha256);

-- Which criteria a piece of evidence covers, with the learner's note of how.
-- learner_id is carried so one learner's links sit together (learner, criterion).
CREATE TABLE evidence_criteria (
    evidence_id  INTEGER NOT NULL REFERENCES evidence(id) ON DELETE CASCADE,
    criterion_id INTEGER NOT NULL REFERENCES criteria(id),
    learner_id   INTEGER NOT NULL REFERENCES users(id),
    note         TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (evidence_id, criterion_id)
) WITHOUT ROWID;
CREATE INDEX evidence_criteria_learner ON evidence_criteria(learner_id, criterion_id);
