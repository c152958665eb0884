-- 005_progress.sql: per-enrolment progress and per-learner-and-qualification queue
-- summaries kept by triggers in the same transaction, so the centre dashboard reads
-- one row per enrolment instead of every criterion of every learner.

-- One row per enrolment: counts of its qualification's criteria by status (from
-- criterion_status), decisions recorded and distinct decisions IQA-sampled.
CREATE TABLE enrolment_progress (
    enrolment_id     INTEGER PRIMARY KEY,
    learner_id       INTEGER NOT NULL,
    qualification_id INTEGER NOT NULL,
    total            INTEGER NOT NULL DEFAULT 0,
    mapped           INTEGER NOT NULL DEFAULT 0,
    submitted        INTEGER NOT NULL DEFAULT 0,
    met              INTEGER NOT NULL DEFAULT 0,
    not_met          INTEGER NOT NULL DEFAULT 0,
    decisions        INTEGER NOT NULL DEFAULT 0,
    sampled          INTEGER NOT NULL DEFAULT 0,
    UNIQUE (learner_id, qualification_id)
);

-- Per learner and qualification: submitted evidence awaiting assessment (mapped to
-- that qualification's criteria) and the oldest submission time.
CREATE TABLE learner_queue (
    learner_id          INTEGER NOT NULL,
    qualification_id    INTEGER NOT NULL,
    awaiting            INTEGER NOT NULL DEFAULT 0,
    oldest_submitted_at TEXT,
    PRIMARY KEY (learner_id, qualification_id)
) WITHOUT ROWID;

-- The per-learner queue recount reads only that learner's submitted evidence.
CREATE INDEX evidence_learner_status ON evidence(learner_id, status, submitted_at);

CREATE TRIGGER progress_enrolment_ins AFTER INSERT ON enrolments
BEGIN
    INSERT OR IGNORE INTO enrolment_progress (enrolment_id, learner_id, qualification_id)
        VALUES (NEW.id, NEW.learner_id, NEW.qualification_id);
END;

CREATE TRIGGER progress_enrolment_del AFTER DELETE ON enrolments
BEGIN
    DELETE FROM enrolment_progress WHERE enrolment_id = OLD.id;
END;

CREATE TRIGGER progress_cs_ins AFTER INSERT ON criterion_status
BEGIN
    UPDATE enrolment_progress SET
        total = total + 1,
        mapped = mapped + (NEW.status = 'mapped'),
        submitted = submitted + (NEW.status = 'submitted'),
        met = met + (NEW.status = 'met'),
        not_met = not_met + (NEW.status = 'not_met')
    WHERE learner_id = NEW.learner_id
      AND qualification_id = (SELECT qualification_id FROM units WHERE id = NEW.unit_id);
END;

CREATE TRIGGER progress_cs_upd AFTER UPDATE OF status ON criterion_status
WHEN OLD.status <> NEW.status
BEGIN
    UPDATE enrolment_progress SET
        mapped = mapped + (NEW.status = 'mapped') - (OLD.status = 'mapped'),
        submitted = submitted + (NEW.status = 'submitted') - (OLD.status = 'submitted'),
        met = met + (NEW.status = 'met') - (OLD.status = 'met'),
        not_met = not_met + (NEW.status = 'not_met') - (OLD.status = 'not_met')
    WHERE learner_id = NEW.learner_id
      AND qualification_id = (SELECT qualification_id FROM units WHERE id = NEW.unit_id);
END;

CREATE TRIGGER progress_cs_del AFTER DELETE ON criterion_status
BEGIN
    UPDATE enrolment_progress SET
        total = total - 1,
        mapped = mapped - (OLD.status = 'mapped'),
        submitted = submitted - (OLD.status = 'submitted'),
        met = met - (OLD.status = 'met'),
        not_met = not_met - (OLD.status = 'not_met')
    WHERE learner_id = OLD.learner_id
      AND qualification_id = (SELECT qualification_id FROM units WHERE id = OLD.unit_id);
END;

CREATE TRIGGER progress_decision_ins AFTER INSERT ON decisions
BEGIN
    UPDATE enrolment_progress SET decisions = decisions + 1
    WHERE learner_id = NEW.learner_id
      AND qualification_id = (SELECT u.qualification_id FROM criteria c
                              JOIN units u ON u.id = c.unit_id WHERE c.id = NEW.criterion_id);
END;

CREATE TRIGGER progress_sample_ins AFTER INSERT ON iqa_samples
WHEN NOT EXISTS (SELECT 1 FROM iqa_samples s WHERE s.decision_id = NEW.decision_id AND s.id <> NEW.id)
BEGIN
    UPDATE enrolment_progress SET sampled = sampled + 1
    WHERE (learner_id, qualification_id) =
          (SELECT d.learner_id, u.qualification_id FROM decisions d
           JOIN criteria c ON c.id = d.criterion_id JOIN units u ON u.id = c.unit_id
           WHERE d.id = NEW.decision_id);
END;

-- The learner's queue rows are recounted on every change to their evidence or its
-- mapping (a learner has few submitted items, and a recount cannot drift).
CREATE TRIGGER progress_queue_ins AFTER INSERT ON evidence
BEGIN
    DELETE FROM learner_queue WHERE learner_id = NEW.learner_id;
    INSERT INTO learner_queue (learner_id, qualification_id, awaiting, oldest_submitted_at)
        SELECT e.learner_id, u.qualification_id, count(DISTINCT e.id), min(e.submitted_at)
        FROM evidence e JOIN evidence_criteria ec ON ec.evidence_id = e.id
        JOIN criteria c ON c.id = ec.criterion_id JOIN units u ON u.id = c.unit_id
        WHERE e.learner_id = NEW.learner_id AND e.status = 'submitted'
        GROUP BY u.qualification_id;
END;

CREATE TRIGGER progress_queue_upd AFTER UPDATE OF status, submitted_at ON evidence
BEGIN
    DELETE FROM learner_queue WHERE learner_id = NEW.learner_id;
    INSERT INTO learner_queue (learner_id, qualification_id, awaiting, oldest_submitted_at)
        SELECT e.learner_id, u.qualification_id, count(DISTINCT e.id), min(e.submitted_at)
        FROM evidence e JOIN evidence_criteria ec ON ec.evidence_id = e.id
        JOIN criteria c ON c.id = ec.criterion_id JOIN units u ON u.id = c.unit_id
        WHERE e.learner_id = NEW.learner_id AND e.status = 'submitted'
        GROUP BY u.qualification_id;
END;

CREATE TRIGGER progress_queue_del AFTER DELETE ON evidence
BEGIN
    DELETE FROM learner_queue WHERE learner_id = OLD.learner_id;
    INSERT INTO learner_queue (learner_id, qualification_id, awaiting, oldest_submitted_at)
        SELECT e.learner_id, u.qualification_id, count(DISTINCT e.id), min(e.submitted_at)
        FROM evidence e JOIN evidence_criteria ec ON ec.evidence_id = e.id
        JOIN criteria c ON c.id = ec.criterion_id JOIN units u ON u.id = c.unit_id
        WHERE e.learner_id = OLD.learner_id AND e.status = 'submitted'
        GROUP BY u.qualification_id;
END;

CREATE TRIGGER progress_queue_map_ins AFTER INSERT ON evidence_criteria
BEGIN
    DELETE FROM learner_queue WHERE learner_id = NEW.learner_id;
    INSERT INTO learner_queue (learner_id, qualification_id, awaiting, oldest_submitted_at)
        SELECT e.learner_id, u.qualification_id, count(DISTINCT e.id), min(e.submitted_at)
        FROM evidence e JOIN evidence_criteria ec ON ec.evidence_id = e.id
        JOIN criteria c ON c.id = ec.criterion_id JOIN units u ON u.id = c.unit_id
        WHERE e.learner_id = NEW.learner_id AND e.status = 'submitted'
        GROUP BY u.qualification_id;
END;

CREATE TRIGGER progress_queue_map_del AFTER DELETE ON evidence_criteria
BEGIN
    DELETE FROM learner_queue WHERE learner_id = OLD.learner_id;
    INSERT INTO learner_queue (learner_id, qualification_id, awaiting, oldest_submitted_at)
        SELECT e.learner_id, u.qualification_id, count(DISTINCT e.id), min(e.submitted_at)
        FROM evidence e JOIN evidence_criteria ec ON ec.evidence_id = e.id
        JOIN criteria c ON c.id = ec.criterion_id JOIN units u ON u.id = c.unit_id
        WHERE e.learner_id = OLD.learner_id AND e.status = 'submitted'
        GROUP BY u.qualification_id;
END;

-- A counter bumped by every change to a qualification's structure, so in-memory
-- copies of a qualification's tree (progress.c) know when they are stale.
CREATE TABLE spec_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO spec_version (id, version) VALUES (1, 0);
CREATE TRIGGER spec_version_units_ins AFTER INSERT ON units BEGIN UPDATE spec_version SET version = version + 1; END;
CREATE TRIGGER spec_version_units_upd AFTER UPDATE ON units BEGIN UPDATE spec_version SET version = version + 1; END;
CREATE TRIGGER spec_version_units_del AFTER DELETE ON units BEGIN UPDATE spec_version SET version = version + 1; END;
CREATE TRIGGER spec_version_outcomes_ins AFTER INSERT ON outcomes BEGIN UPDATE spec_version SET version = version + 1; END;
CREATE TRIGGER spec_version_outcomes_upd AFTER UPDATE ON outcomes BEGIN UPDATE spec_version SET version = version + 1; END;
CREATE TRIGGER spec_version_outcomes_del AFTER DELETE ON outcomes BEGIN UPDATE spec_version SET version = version + 1; END;
CREATE TRIGGER spec_version_criteria_ins AFTER INSERT ON criteria BEGIN UPDATE spec_version SET version = version + 1; END;
CREATE TRIGGER spec_version_criteria_upd AFTER UPDATE ON criteria BEGIN UPDATE spec_version SET version = version + 1; END;
CREATE TRIGGER spec_version_criteria_del AFTER DELETE ON criteria BEGIN UPDATE spec_version SET version = version + 1; END;
CREATE TRIGGER spec_version_quals_upd AFTER UPDATE ON qualifications BEGIN UPDATE spec_version SET version = version + 1; END;

-- A counter bumped by every change the centre dashboard reads (enrolments, their
-- summaries, the queue), so centre.c can reuse its computed snapshot until then.
CREATE TABLE centre_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO centre_version (id, version) VALUES (1, 0);
CREATE TRIGGER centre_version_ep_ins AFTER INSERT ON enrolment_progress BEGIN UPDATE centre_version SET version = version + 1; END;
CREATE TRIGGER centre_version_ep_upd AFTER UPDATE ON enrolment_progress BEGIN UPDATE centre_version SET version = version + 1; END;
CREATE TRIGGER centre_version_ep_del AFTER DELETE ON enrolment_progress BEGIN UPDATE centre_version SET version = version + 1; END;
CREATE TRIGGER centre_version_lq_ins AFTER INSERT ON learner_queue BEGIN UPDATE centre_version SET version = version + 1; END;
CREATE TRIGGER centre_version_lq_upd AFTER UPDATE ON learner_queue BEGIN UPDATE centre_version SET version = version + 1; END;
CREATE TRIGGER centre_version_lq_del AFTER DELETE ON learner_queue BEGIN UPDATE centre_version SET version = version + 1; END;
CREATE TRIGGER centre_version_en_upd AFTER UPDATE ON enrolments BEGIN UPDATE centre_version SET version = version + 1; END;
CREATE TRIGGER centre_version_en_del AFTER DELETE ON enrolments BEGIN UPDATE centre_version SET version = version + 1; END;
-- (the snapshot also holds qualification and assessor names)
CREATE TRIGGER centre_version_names AFTER UPDATE OF name, email ON users BEGIN UPDATE centre_version SET version = version + 1; END;
CREATE TRIGGER centre_version_quals AFTER UPDATE OF code, title ON qualifications BEGIN UPDATE centre_version SET version = version + 1; END;

-- Backfill for databases that already hold enrolments and activity.
INSERT INTO enrolment_progress (enrolment_id, learner_id, qualification_id, total, mapped,
                                submitted, met, not_met, decisions, sampled)
SELECT e.id, e.learner_id, e.qualification_id,
       (SELECT count(*) FROM criterion_status cs JOIN units u ON u.id = cs.unit_id
         WHERE cs.learner_id = e.learner_id AND u.qualification_id = e.qualification_id),
       (SELECT count(*) FROM criterion_status cs JOIN units u ON u.id = cs.unit_id
         WHERE cs.learner_id = e.learner_id AND u.qualification_id = e.qualification_id
           AND cs.status = 'mapped'),
       (SELECT count(*) FROM criterion_status cs JOIN units u ON u.id = cs.unit_id
         WHERE cs.learner_id = e.learner_id AND u.qualification_id = e.qualification_id
           AND cs.status = 'submitted'),
       (SELECT count(*) FROM criterion_status cs JOIN units u ON u.id = cs.unit_id
         WHERE cs.learner_id = e.learner_id AND u.qualification_id = e.qualification_id
           AND cs.status = 'met'),
       (SELECT count(*) FROM criterion_status cs JOIN units u ON u.id = cs.unit_id
         WHERE cs.learner_id = e.learner_id AND u.qualification_id = e.qualification_id
           AND cs.status = 'not_met'),
       (SELECT count(*) FROM decisions d JOIN criteria c ON c.id = d.criterion_id
         JOIN units u ON u.id = c.unit_id
         WHERE d.learner_id = e.learner_id AND u.qualification_id = e.qualification_id),
       (SELECT count(DISTINCT s.decision_id) FROM iqa_samples s JOIN decisions d ON d.id = s.decision_id
         JOIN criteria c ON c.id = d.criterion_id JOIN units u ON u.id = c.unit_id
         WHERE d.learner_id = e.learner_id AND u.qualification_id = e.qualification_id)
FROM enrolments e;

INSERT INTO learner_queue (learner_id, qualification_id, awaiting, oldest_submitted_at)
SELECT e.learner_id, u.qualification_id, count(DISTINCT e.id), min(e.submitted_at)
FROM evidence e JOIN evidence_criteria ec ON ec.evidence_id = e.id
JOIN criteria c ON c.id = ec.criterion_id JOIN units u ON u.id = c.unit_id
WHERE e.status = 'submitted'
GROUP BY e.learner_id, u.qualification_id;
