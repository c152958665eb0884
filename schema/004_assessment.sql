-- 004_assessment.sql: decisions (append-only), countersigns, unit sign-off, IQA samples,
-- and the derived per-criterion status with its per-unit summary kept by triggers.
CREATE TABLE decisions (
    id            INTEGER PRIMARY KEY,
    learner_id    INTEGER NOT NULL REFERENCES users(id),
    criterion_id  INTEGER NOT NULL REFERENCES criteria(id),
    assessor_id   INTEGER NOT NULL REFERENCES users(id),
    outcome       TEXT NOT NULL CHECK (outcome IN ('met','not_met')),
    feedback      TEXT NOT NULL DEFAULT '',
    vacsr         TEXT NOT NULL DEFAULT '{}',  -- JSON {valid, authentic, current, sufficient, reliable}
    declaration   INTEGER NOT NULL DEFAULT 0,
    supersedes_id INTEGER REFERENCES decisions(id),
    created_at    TEXT NOT NULL
);
CREATE INDEX decisions_learner ON decisions(learner_id, criterion_id, id);
CREATE INDEX decisions_assessor ON decisions(assessor_id, id);
CREATE TRIGGER decisions_no_update BEFORE UPDATE ON decisions
BEGIN SELECT RAISE(ABORT, 'decisions are never edited: record a new one'); END;
CREATE TRIGGER decisions_no_delete BEFORE DELETE ON decisions
BEGIN SELECT RAISE(ABORT, 'decisions are never deleted'); END;

CREATE TABLE decision_evidence (
    decision_id INTEGER NOT NULL REFERENCES decisions(id),
    evidence_id INTEGER NOT NULL REFERENCES evidence(id),
    PRIMARY KEY (decision_id, evidence_id)
) WITHOUT ROWID;
CREATE INDEX decision_evidence_evidence ON decision_evidence(evidence_id);

-- The learner's acknowledgement of a decision.
CREATE TABLE countersigns (
    decision_id INTEGER PRIMARY KEY REFERENCES decisions(id),
    learner_id  INTEGER NOT NULL REFERENCES users(id),
    comment     TEXT NOT NULL DEFAULT '',
    signed_at   TEXT NOT NULL
);

-- A unit signed off by the assessor once every criterion is met, then by the learner.
CREATE TABLE unit_signoffs (
    id                 INTEGER PRIMARY KEY,
    learner_id         INTEGER NOT NULL REFERENCES users(id),
    unit_id            INTEGER NOT NULL REFERENCES units(id),
    assessor_id        INTEGER NOT NULL REFERENCES users(id),
    assessor_signed_at TEXT NOT NULL,
    learner_signed_at  TEXT,
    UNIQUE (learner_id, unit_id)
);

CREATE TABLE iqa_samples (
    id           INTEGER PRIMARY KEY,
    decision_id  INTEGER NOT NULL REFERENCES decisions(id),
    iqa_id       INTEGER NOT NULL REFERENCES users(id),
    outcome      TEXT NOT NULL CHECK (outcome IN ('agree','action_required')),
    feedback     TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    response     TEXT,                      -- the assessor's answer to an action
    responded_at TEXT
);
CREATE INDEX iqa_samples_decision ON iqa_samples(decision_id);
CREATE INDEX iqa_samples_iqa ON iqa_samples(iqa_id, id);

-- Current status of each criterion for each enrolled learner (derived; rebuildable
-- from evidence and decisions by status_refresh). One learner's rows sit together.
CREATE TABLE criterion_status (
    learner_id   INTEGER NOT NULL,
    criterion_id INTEGER NOT NULL,
    unit_id      INTEGER NOT NULL,
    status       TEXT NOT NULL DEFAULT 'not_started'
                 CHECK (status IN ('not_started','mapped','submitted','met','not_met')),
    decision_id  INTEGER,                   -- the latest decision, if any
    updated_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),
    PRIMARY KEY (learner_id, criterion_id)
) WITHOUT ROWID;

-- Per learner, per unit counts, kept by the triggers below in the same transaction.
CREATE TABLE unit_progress (
    learner_id INTEGER NOT NULL,
    unit_id    INTEGER NOT NULL,
    total      INTEGER NOT NULL DEFAULT 0,
    mapped     INTEGER NOT NULL DEFAULT 0,
    submitted  INTEGER NOT NULL DEFAULT 0,
    met        INTEGER NOT NULL DEFAULT 0,
    not_met    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (learner_id, unit_id)
) WITHOUT ROWID;

CREATE TRIGGER criterion_status_ins AFTER INSERT ON criterion_status
BEGIN
    INSERT INTO unit_progress (learner_id, unit_id) VALUES (NEW.learner_id, NEW.unit_id)
        ON CONFLICT DO NOTHING;
    UPDATE unit_progress SET
        total = total + 1,
        mapped = mapped + (NEW.status = 'mapped'),
        submitted = submitted + (NEW.status = 'submitted'),
        met = met + (NEW.status = 'met'),
        not_met = not_met + (NEW.status = 'not_met')
    WHERE learner_id = NEW.learner_id AND unit_id = NEW.unit_id;
END;

CREATE TRIGGER criterion_status_upd AFTER UPDATE OF status ON criterion_status
WHEN OLD.status <> NEW.status
BEGIN
    UPDATE unit_progress SET
        mapped = mapped + (NEW.status = 'mapped') - (OLD.status = 'mapped'),
        submitted = submitted + (NEW.status = 'submitted') - (OLD.status = 'submitted'),
        met = met + (NEW.status = 'met') - (OLD.status = 'met'),
        not_met = not_met + (NEW.status = 'not_met') - (OLD.status = 'not_met')
    WHERE learner_id = NEW.learner_id AND unit_id = NEW.unit_id;
END;

CREATE TRIGGER criterion_status_del AFTER DELETE ON criterion_status
BEGIN
    UPDATE unit_progress SET
        total = total - 1,
        mapped = mapped - (OLD.status = 'mapped'),
        submitted = submitted - (OLD.status = 'submitted'),
        met = met - (OLD.status = 'met'),
        not_met = not_met - (OLD.status = 'not_met')
    WHERE learner_id = OLD.learner_id AND unit_id = OLD.unit_id;
END;
