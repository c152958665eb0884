-- 002_qualifications.sql: qualifications -> units -> learning outcomes -> assessment criteria
CREATE TABLE qualifications (
    id            INTEGER PRIMARY KEY,
    code          TEXT NOT NULL UNIQUE,
    title         TEXT NOT NULL,
    awarding_body TEXT NOT NULL DEFAULT '',
    level         TEXT NOT NULL DEFAULT '',
    framework     TEXT NOT NULL DEFAULT '',   -- RQF, QCF, ...
    subject       TEXT NOT NULL DEFAULT '',   -- sector subject area, e.g. Business Administration
    description   TEXT NOT NULL DEFAULT '',   -- overview paragraphs (set by the first import that has one)
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),
    updated_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
);

CREATE TABLE units (
    id               INTEGER PRIMARY KEY,
    qualification_id INTEGER NOT NULL REFERENCES qualifications(id),
    ref              TEXT NOT NULL,           -- unit reference within the qualification
    title            TEXT NOT NULL,
    synopsis         TEXT NOT NULL DEFAULT '',
    position         INTEGER NOT NULL DEFAULT 0,
    retired          INTEGER NOT NULL DEFAULT 0,
    UNIQUE (qualification_id, ref)
);
CREATE INDEX units_title ON units(title COLLATE NOCASE);

CREATE TABLE outcomes (
    id       INTEGER PRIMARY KEY,
    unit_id  INTEGER NOT NULL REFERENCES units(id),
    number   INTEGER NOT NULL,                -- 1..n
    text     TEXT NOT NULL,
    retired  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outcomes_unit ON outcomes(unit_id, number);
-- Outcome numbers and criterion refs are unique among a unit's current rows
-- only; retired rows keep theirs for history, so no UNIQUE constraint here.

CREATE TABLE criteria (
    id          INTEGER PRIMARY KEY,
    unit_id     INTEGER NOT NULL REFERENCES units(id),
    outcome_id  INTEGER NOT NULL REFERENCES outcomes(id),
    ref         TEXT NOT NULL,                -- "n.m"
    text        TEXT NOT NULL,
    position    INTEGER NOT NULL DEFAULT 0,
    retired     INTEGER NOT NULL DEFAULT 0    -- disappeared from the spec: kept, not deleted
);
CREATE INDEX criteria_unit ON criteria(unit_id, position);
CREATE INDEX criteria_outcome ON criteria(outcome_id);

-- The unit's guidance lists, in order.
CREATE TABLE unit_guidance (
    id        INTEGER PRIMARY KEY,
    unit_id   INTEGER NOT NULL REFERENCES units(id),
    kind      TEXT NOT NULL CHECK (kind IN ('key_concepts','assessment_guidance',
                  'common_mistakes','key_terms','prior_knowledge')),
    position  INTEGER NOT NULL,
    text      TEXT NOT NULL
);
CREATE INDEX unit_guidance_unit ON unit_guidance(unit_id, kind, position);

CREATE TABLE enrolments (
    id               INTEGER PRIMARY KEY,
    learner_id       INTEGER NOT NULL REFERENCES users(id),
    qualification_id INTEGER NOT NULL REFERENCES qualifications(id),
    assessor_id      INTEGER NOT NULL REFERENCES users(id),
    iqa_id           INTEGER REFERENCES users(id),
    start_date       TEXT NOT NULL,           -- YYYY-MM-DD
    planned_end_date TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'active'
                     CHECK (status IN ('active','completed','withdrawn','on_break')),
    ended_at         TEXT,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),
    UNIQUE (learner_id, qualification_id)
);
CREATE INDEX enrolments_assessor ON enrolments(assessor_id, learner_id);
CREATE INDEX enrolments_iqa ON enrolments(iqa_id, learner_id);
CREATE INDEX enrolments_qualification ON enrolments(qualification_id);
