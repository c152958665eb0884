-- 013_apprenticeships.sql: apprenticeship standards (KSBs grouped by duties), employers and
-- their contact accounts (the 'employer' role), apprenticeship enrolments, off-the-job
-- training hours and breaks in learning. (schema/pg/013_apprenticeships.sql is the
-- PostgreSQL form: there the role check is replaced with ALTER TABLE ... CONSTRAINT.)

-- The 'employer' role. SQLite cannot change a CHECK in place, so users is rebuilt with
-- the same columns in the same order. Foreign keys stay on (a migration runs inside a
-- transaction, where PRAGMA foreign_keys cannot change): they are deferred to the
-- commit, the rows are copied out and back in after the rename (which settles the
-- deferred count), and the rows the drop cascades to are put back.
PRAGMA defer_foreign_keys = ON;
CREATE TEMP TABLE m013_users AS SELECT * FROM users;
CREATE TEMP TABLE m013_sessions AS SELECT * FROM sessions;
CREATE TEMP TABLE m013_login_known AS SELECT * FROM login_known;
CREATE TABLE users_m013 (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('learner','assessor','iqa','admin','eqa','employer')),
    password_hash TEXT NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0,1)),
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),
    updated_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),
    uln           TEXT
);
DROP TABLE users;
ALTER TABLE users_m013 RENAME TO users;
INSERT INTO users (id, email, name, role, password_hash, disabled, created_at, updated_at, uln)
    SELECT id, email, name, role, password_hash, disabled, created_at, updated_at, uln FROM m013_users;
CREATE INDEX users_role ON users(role, name);
CREATE TRIGGER centre_version_names AFTER UPDATE OF name, email ON users BEGIN UPDATE centre_version SET version = version + 1; END;
INSERT INTO sessions SELECT * FROM m013_sessions;
INSERT INTO login_known SELECT * FROM m013_login_known;
DROP TABLE m013_users;
DROP TABLE m013_sessions;
DROP TABLE m013_login_known;

-- A standard is a qualification of kind 'standard' whose units are its knowledge,
-- skills and behaviours (units.kind) and whose criteria are the KSBs (K1, S1, B1 ...).
ALTER TABLE qualifications ADD COLUMN kind TEXT NOT NULL DEFAULT 'qualification';
ALTER TABLE qualifications ADD COLUMN version TEXT NOT NULL DEFAULT '';
ALTER TABLE qualifications ADD COLUMN typical_duration_months INTEGER;
ALTER TABLE qualifications ADD COLUMN min_otj_hours INTEGER;
ALTER TABLE units ADD COLUMN kind TEXT NOT NULL DEFAULT '';

-- A standard's duties, in order, each naming the KSB codes it covers (space-separated).
CREATE TABLE standard_duties (
    id               INTEGER PRIMARY KEY,
    qualification_id INTEGER NOT NULL REFERENCES qualifications(id),
    position         INTEGER NOT NULL,
    ref              TEXT NOT NULL,
    text             TEXT NOT NULL,
    ksbs             TEXT NOT NULL DEFAULT '',
    UNIQUE (qualification_id, position)
);

CREATE TABLE employers (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);

-- An employer contact account (role 'employer') belongs to one employer.
CREATE TABLE employer_contacts (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL UNIQUE REFERENCES users(id),
    employer_id INTEGER NOT NULL REFERENCES employers(id)
);
CREATE INDEX employer_contacts_employer ON employer_contacts(employer_id);

-- An apprenticeship: the enrolment on a standard, with its employer, the learner's
-- contracted weekly hours, the planned off-the-job minutes (after the RPL reduction)
-- and running totals kept in C in the same transaction as the entries and breaks.
CREATE TABLE apprenticeships (
    id                  INTEGER PRIMARY KEY,
    enrolment_id        INTEGER NOT NULL UNIQUE REFERENCES enrolments(id),
    learner_id          INTEGER NOT NULL REFERENCES users(id),
    employer_id         INTEGER NOT NULL REFERENCES employers(id),
    weekly_minutes      INTEGER NOT NULL CHECK (weekly_minutes > 0),
    planned_otj_minutes INTEGER NOT NULL CHECK (planned_otj_minutes >= 0),
    rpl_otj_minutes     INTEGER NOT NULL DEFAULT 0 CHECK (rpl_otj_minutes >= 0),
    rpl_note            TEXT NOT NULL DEFAULT '',
    recorded_minutes    INTEGER NOT NULL DEFAULT 0,
    verified_minutes    INTEGER NOT NULL DEFAULT 0,
    break_days          INTEGER NOT NULL DEFAULT 0,   -- days of ended breaks
    break_open_since    TEXT,                         -- YYYY-MM-DD of a break still running
    created_at          TEXT NOT NULL
);
CREATE INDEX apprenticeships_employer ON apprenticeships(employer_id, learner_id);
CREATE INDEX apprenticeships_learner ON apprenticeships(learner_id);

-- KSBs the learner is exempt from through recognition of prior learning.
CREATE TABLE apprenticeship_rpl_ksbs (
    apprenticeship_id INTEGER NOT NULL REFERENCES apprenticeships(id),
    criterion_id      INTEGER NOT NULL REFERENCES criteria(id),
    PRIMARY KEY (apprenticeship_id, criterion_id)
);

CREATE TABLE otj_entries (
    id                INTEGER PRIMARY KEY,
    apprenticeship_id INTEGER NOT NULL REFERENCES apprenticeships(id),
    learner_id        INTEGER NOT NULL REFERENCES users(id),
    occurred_on       TEXT NOT NULL,
    minutes           INTEGER NOT NULL CHECK (minutes > 0 AND minutes <= 1440),
    activity          TEXT NOT NULL CHECK (activity IN ('theory','practical','shadowing','mentoring',
                          'industry_visit','online','assignment','other')),
    description       TEXT NOT NULL,
    evidence_id       INTEGER REFERENCES evidence(id),
    recorded_by       INTEGER NOT NULL REFERENCES users(id),
    recorded_at       TEXT NOT NULL,
    status            TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','verified','queried')),
    reviewed_by       INTEGER REFERENCES users(id),
    reviewed_at       TEXT,
    review_note       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX otj_entries_apprenticeship ON otj_entries(apprenticeship_id, occurred_on);
CREATE INDEX otj_entries_learner ON otj_entries(learner_id, occurred_on);

-- Breaks in learning: the first day away and the day learning resumed (NULL while it
-- runs). Rows are never deleted: the history stays.
CREATE TABLE learning_breaks (
    id                INTEGER PRIMARY KEY,
    apprenticeship_id INTEGER NOT NULL REFERENCES apprenticeships(id),
    start_date        TEXT NOT NULL,
    end_date          TEXT,
    reason            TEXT NOT NULL,
    recorded_by       INTEGER REFERENCES users(id),
    recorded_at       TEXT NOT NULL,
    ended_by          INTEGER REFERENCES users(id),
    ended_at          TEXT
);
CREATE INDEX learning_breaks_apprenticeship ON learning_breaks(apprenticeship_id, start_date);
