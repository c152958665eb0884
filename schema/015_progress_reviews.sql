-- 015_progress_reviews.sql: progress reviews: the schedule's interval per enrolment, the
-- review record (versions: a correction supersedes, history kept), its targets and the
-- previous targets' outcomes, signatures, and the reminders already sent.
-- Derived fields (status, superseded, the figures) are kept in C (src/reviews.c) in the
-- transaction that changes what they derive from.

-- Reviews fall due every N weeks from the enrolment's start (12 unless set otherwise).
ALTER TABLE enrolments ADD COLUMN review_interval_weeks INTEGER NOT NULL DEFAULT 12;

CREATE TABLE progress_reviews (
    id                   INTEGER PRIMARY KEY,
    enrolment_id         INTEGER NOT NULL REFERENCES enrolments(id),
    learner_id           INTEGER NOT NULL REFERENCES users(id),
    assessor_id          INTEGER NOT NULL REFERENCES users(id),   -- who prepared this version
    number               INTEGER NOT NULL CHECK (number >= 1),     -- the n-th review of the enrolment
    version              INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    supersedes_id        INTEGER REFERENCES progress_reviews(id),
    superseded           INTEGER NOT NULL DEFAULT 0 CHECK (superseded IN (0,1)),
    status               TEXT NOT NULL DEFAULT 'draft'
                         CHECK (status IN ('draft','signing','declined','complete')),
    due_on               TEXT NOT NULL,          -- YYYY-MM-DD from the schedule
    held_on              TEXT NOT NULL,          -- YYYY-MM-DD the review took place
    period_from          TEXT NOT NULL,          -- first day the figures cover
    criteria_met         INTEGER NOT NULL DEFAULT 0,
    criteria_met_refs    TEXT NOT NULL DEFAULT '',   -- "U1 1.1, U1 1.2": which ones
    evidence_submitted   INTEGER NOT NULL DEFAULT 0,
    otj_recorded_minutes INTEGER,                -- apprenticeships only
    otj_expected_minutes INTEGER,
    english_maths        TEXT NOT NULL DEFAULT '',
    wellbeing            TEXT NOT NULL DEFAULT '',
    safeguarding         TEXT NOT NULL DEFAULT '',
    safeguarding_concern INTEGER NOT NULL DEFAULT 0 CHECK (safeguarding_concern IN (0,1)),
    learner_comments     TEXT NOT NULL DEFAULT '',
    employer_comments    TEXT NOT NULL DEFAULT '',
    assessor_summary     TEXT NOT NULL DEFAULT '',
    next_review_on       TEXT,
    signers              TEXT NOT NULL,          -- required: "learner assessor" or "learner employer assessor"
    employer_id          INTEGER,                -- the employer whose contact signs (apprenticeships)
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL,
    completed_at         TEXT,
    UNIQUE (enrolment_id, number, version)
);
CREATE INDEX progress_reviews_learner ON progress_reviews(learner_id, id);
CREATE INDEX progress_reviews_enrolment ON progress_reviews(enrolment_id, number, version);
CREATE INDEX progress_reviews_open ON progress_reviews(status, superseded);

-- New targets set at a review: what, by when, who supports.
CREATE TABLE progress_review_targets (
    id        INTEGER PRIMARY KEY,
    review_id INTEGER NOT NULL REFERENCES progress_reviews(id),
    position  INTEGER NOT NULL,
    text      TEXT NOT NULL,
    due_on    TEXT,
    support   TEXT NOT NULL DEFAULT '',
    UNIQUE (review_id, position)
);

-- At the next review, whether each of the previous review's targets was met.
CREATE TABLE progress_review_target_results (
    review_id INTEGER NOT NULL REFERENCES progress_reviews(id),
    target_id INTEGER NOT NULL REFERENCES progress_review_targets(id),
    outcome   TEXT NOT NULL CHECK (outcome IN ('met','not_met')),
    note      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (review_id, target_id)
);

-- One signature (or refusal) per signer role per review version; never changed.
CREATE TABLE progress_review_signatures (
    id        INTEGER PRIMARY KEY,
    review_id INTEGER NOT NULL REFERENCES progress_reviews(id),
    role      TEXT NOT NULL CHECK (role IN ('learner','employer','assessor')),
    user_id   INTEGER NOT NULL REFERENCES users(id),
    outcome   TEXT NOT NULL CHECK (outcome IN ('signed','declined')),
    comment   TEXT NOT NULL DEFAULT '',
    reason    TEXT NOT NULL DEFAULT '',
    signed_at TEXT NOT NULL,
    UNIQUE (review_id, role)
);

-- Reminder emails already queued: one per enrolment, review number and kind.
CREATE TABLE progress_review_reminders (
    enrolment_id INTEGER NOT NULL REFERENCES enrolments(id),
    number       INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    sent_at      TEXT NOT NULL,
    PRIMARY KEY (enrolment_id, number, kind)
);
