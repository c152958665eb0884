-- 016_quality.sql: quality assurance as centres run it (issue 18): IQA sampling plans
-- (risk rating per assessor, unit and whole-portfolio samples, interim and summative,
-- the files a sample looked at) and EQA visits (a granted sample of learners for a
-- window, and the visit report the centre answers).

-- An assessor's risk rating sets the share of their decisions the IQA samples
-- (src/iqaplan.c holds the shares). No row: treated as 'new'.
CREATE TABLE iqa_assessor_risk (
    id          INTEGER PRIMARY KEY,
    assessor_id INTEGER NOT NULL UNIQUE REFERENCES users(id),
    rating      TEXT NOT NULL CHECK (rating IN ('new', 'under_development', 'experienced')),
    note        TEXT NOT NULL DEFAULT '',
    set_by      INTEGER REFERENCES users(id),
    set_at      TEXT NOT NULL
);

-- The site an enrolment is delivered at (CAMERA's S); '' when the centre has one site.
ALTER TABLE enrolments ADD COLUMN site TEXT NOT NULL DEFAULT '';

-- A sample wider than one decision: a whole unit of a learner, or a learner's whole
-- portfolio. It is recorded as one iqa_samples row per decision it covered (so
-- coverage, actions and audit stay per decision) joined to this row.
CREATE TABLE iqa_sample_groups (
    id         INTEGER PRIMARY KEY,
    iqa_id     INTEGER NOT NULL REFERENCES users(id),
    scope      TEXT NOT NULL CHECK (scope IN ('unit', 'portfolio')),
    learner_id INTEGER NOT NULL REFERENCES users(id),
    unit_id    INTEGER REFERENCES units(id),
    stage      TEXT NOT NULL CHECK (stage IN ('interim', 'summative')),
    outcome    TEXT NOT NULL CHECK (outcome IN ('agree', 'action_required')),
    feedback   TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE INDEX iqa_sample_groups_learner ON iqa_sample_groups(learner_id, id);

-- Interim (during the programme) or summative (at its end); NULL for samples made
-- before this migration. group_id: the unit or portfolio sample it belongs to.
ALTER TABLE iqa_samples ADD COLUMN stage TEXT;
ALTER TABLE iqa_samples ADD COLUMN group_id INTEGER REFERENCES iqa_sample_groups(id);

-- The evidence files a sample looked at, with their SHA-256 as they were then.
CREATE TABLE iqa_sample_files (
    id          INTEGER PRIMARY KEY,
    sample_id   INTEGER NOT NULL REFERENCES iqa_samples(id),
    evidence_id INTEGER NOT NULL REFERENCES evidence(id),
    file_id     INTEGER NOT NULL,
    name        TEXT NOT NULL,
    sha256      TEXT NOT NULL
);
CREATE INDEX iqa_sample_files_sample ON iqa_sample_files(sample_id);

-- An EQA visit: what an awarding body's external quality assurer may see, and when.
CREATE TABLE eqa_visits (
    id            INTEGER PRIMARY KEY,
    eqa_id        INTEGER NOT NULL REFERENCES users(id),
    awarding_body TEXT NOT NULL DEFAULT '',
    starts_at     TEXT NOT NULL,          -- ISO 8601 UTC, inclusive
    ends_at       TEXT NOT NULL,          -- ISO 8601 UTC, exclusive
    sample_rule   TEXT NOT NULL,          -- how the learners were chosen, in words
    created_by    INTEGER NOT NULL REFERENCES users(id),
    created_at    TEXT NOT NULL,
    ended_at      TEXT,                   -- ended early by an admin
    CHECK (ends_at > starts_at)
);
CREATE INDEX eqa_visits_eqa ON eqa_visits(eqa_id, ends_at);

CREATE TABLE eqa_visit_qualifications (
    id               INTEGER PRIMARY KEY,
    visit_id         INTEGER NOT NULL REFERENCES eqa_visits(id),
    qualification_id INTEGER NOT NULL REFERENCES qualifications(id),
    UNIQUE (visit_id, qualification_id)
);

CREATE TABLE eqa_visit_learners (
    id         INTEGER PRIMARY KEY,
    visit_id   INTEGER NOT NULL REFERENCES eqa_visits(id),
    learner_id INTEGER NOT NULL REFERENCES users(id),
    UNIQUE (visit_id, learner_id)
);
CREATE INDEX eqa_visit_learners_learner ON eqa_visit_learners(learner_id, visit_id);

-- The EQA's visit report: findings, actions for the centre and sanctions, each of
-- which the centre answers.
CREATE TABLE eqa_findings (
    id           INTEGER PRIMARY KEY,
    visit_id     INTEGER NOT NULL REFERENCES eqa_visits(id),
    kind         TEXT NOT NULL CHECK (kind IN ('finding', 'action', 'sanction')),
    body         TEXT NOT NULL,
    learner_id   INTEGER REFERENCES users(id),
    due_on       TEXT,
    created_by   INTEGER NOT NULL REFERENCES users(id),
    created_at   TEXT NOT NULL,
    response     TEXT,
    responded_by INTEGER REFERENCES users(id),
    responded_at TEXT
);
CREATE INDEX eqa_findings_visit ON eqa_findings(visit_id, id);
