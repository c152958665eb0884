-- 005_progress.sql (PostgreSQL 15): per-enrolment progress and per-learner-and-qualification
-- queue summaries kept by triggers in the same transaction, so the centre dashboard reads
-- one row per enrolment instead of every criterion of every learner. The twin of
-- schema/005_progress.sql (rules in 001_core.sql). Where SQLite's one-writer lock made a
-- trigger safe and PostgreSQL's concurrent writers would not, the function takes a
-- transaction-scoped advisory lock first (see each one); the results are the same.

-- One row per enrolment: counts of its qualification's criteria by status (from
-- criterion_status), decisions recorded and distinct decisions IQA-sampled.
CREATE TABLE enrolment_progress (
    enrolment_id     BIGINT PRIMARY KEY,
    learner_id       BIGINT NOT NULL,
    qualification_id BIGINT NOT NULL,
    total            BIGINT NOT NULL DEFAULT 0,
    mapped           BIGINT NOT NULL DEFAULT 0,
    submitted        BIGINT NOT NULL DEFAULT 0,
    met              BIGINT NOT NULL DEFAULT 0,
    not_met          BIGINT NOT NULL DEFAULT 0,
    decisions        BIGINT NOT NULL DEFAULT 0,
    sampled          BIGINT NOT NULL DEFAULT 0,
    UNIQUE (learner_id, qualification_id)
);

-- Per learner and qualification: submitted evidence awaiting assessment (mapped to
-- that qualification's criteria) and the oldest submission time.
CREATE TABLE learner_queue (
    learner_id          BIGINT NOT NULL,
    qualification_id    BIGINT NOT NULL,
    awaiting            BIGINT NOT NULL DEFAULT 0,
    oldest_submitted_at TEXT,
    PRIMARY KEY (learner_id, qualification_id)
);

-- The per-learner queue recount reads only that learner's submitted evidence.
CREATE INDEX evidence_learner_status ON evidence(learner_id, status, submitted_at);

-- Advisory lock classes (first key of pg_advisory_xact_lock(int, int)); the second key is
-- the id, folded into int range (a collision only makes two writers wait for each other).
--   19001: one learner's learner_queue recount      19002: one decision's IQA samples
CREATE FUNCTION evitrack_lock(class int, id bigint) RETURNS void LANGUAGE sql AS $$
    SELECT pg_advisory_xact_lock(class, (id % 2147483647)::int)
$$;

CREATE FUNCTION evitrack_progress_enrolment_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- INSERT OR IGNORE
    INSERT INTO enrolment_progress (enrolment_id, learner_id, qualification_id)
        VALUES (NEW.id, NEW.learner_id, NEW.qualification_id)
        ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$;
CREATE TRIGGER progress_enrolment_ins AFTER INSERT ON enrolments
    FOR EACH ROW EXECUTE FUNCTION evitrack_progress_enrolment_ins();

CREATE FUNCTION evitrack_progress_enrolment_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM enrolment_progress WHERE enrolment_id = OLD.id;
    RETURN NULL;
END;
$$;
CREATE TRIGGER progress_enrolment_del AFTER DELETE ON enrolments
    FOR EACH ROW EXECUTE FUNCTION evitrack_progress_enrolment_del();

CREATE FUNCTION evitrack_progress_cs_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE enrolment_progress SET
        total = total + 1,
        mapped = mapped + (NEW.status = 'mapped')::int,
        submitted = submitted + (NEW.status = 'submitted')::int,
        met = met + (NEW.status = 'met')::int,
        not_met = not_met + (NEW.status = 'not_met')::int
    WHERE learner_id = NEW.learner_id
      AND qualification_id = (SELECT qualification_id FROM units WHERE id = NEW.unit_id);
    RETURN NULL;
END;
$$;
CREATE TRIGGER progress_cs_ins AFTER INSERT ON criterion_status
    FOR EACH ROW EXECUTE FUNCTION evitrack_progress_cs_ins();

CREATE FUNCTION evitrack_progress_cs_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE enrolment_progress SET
        mapped = mapped + (NEW.status = 'mapped')::int - (OLD.status = 'mapped')::int,
        submitted = submitted + (NEW.status = 'submitted')::int - (OLD.status = 'submitted')::int,
        met = met + (NEW.status = 'met')::int - (OLD.status = 'met')::int,
        not_met = not_met + (NEW.status = 'not_met')::int - (OLD.status = 'not_met')::int
    WHERE learner_id = NEW.learner_id
      AND qualification_id = (SELECT qualification_id FROM units WHERE id = NEW.unit_id);
    RETURN NULL;
END;
$$;
CREATE TRIGGER progress_cs_upd AFTER UPDATE OF status ON criterion_status
    FOR EACH ROW WHEN (OLD.status <> NEW.status) EXECUTE FUNCTION evitrack_progress_cs_upd();

CREATE FUNCTION evitrack_progress_cs_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE enrolment_progress SET
        total = total - 1,
        mapped = mapped - (OLD.status = 'mapped')::int,
        submitted = submitted - (OLD.status = 'submitted')::int,
        met = met - (OLD.status = 'met')::int,
        not_met = not_met - (OLD.status = 'not_met')::int
    WHERE learner_id = OLD.learner_id
      AND qualification_id = (SELECT qualification_id FROM units WHERE id = OLD.unit_id);
    RETURN NULL;
END;
$$;
CREATE TRIGGER progress_cs_del AFTER DELETE ON criterion_status
    FOR EACH ROW EXECUTE FUNCTION evitrack_progress_cs_del();

CREATE FUNCTION evitrack_progress_decision_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE enrolment_progress SET decisions = decisions + 1
    WHERE learner_id = NEW.learner_id
      AND qualification_id = (SELECT u.qualification_id FROM criteria c
                              JOIN units u ON u.id = c.unit_id WHERE c.id = NEW.criterion_id);
    RETURN NULL;
END;
$$;
CREATE TRIGGER progress_decision_ins AFTER INSERT ON decisions
    FOR EACH ROW EXECUTE FUNCTION evitrack_progress_decision_ins();

-- SQLite: AFTER INSERT ... WHEN NOT EXISTS (another sample of the same decision). SQLite
-- runs a row trigger as each row is inserted, so within one multi-row INSERT the first
-- sample of a decision counts; PostgreSQL runs AFTER row triggers at the end of the
-- statement, when every row is visible. A BEFORE row trigger sees exactly what SQLite's
-- saw (the rows inserted before this one, not this one), so the count is kept there; the
-- advisory lock makes a concurrent first sample of the same decision wait and then see
-- this one, so a decision is counted once however many servers sample it.
CREATE FUNCTION evitrack_progress_sample_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM evitrack_lock(19002, NEW.decision_id);
    IF NOT EXISTS (SELECT 1 FROM iqa_samples s WHERE s.decision_id = NEW.decision_id AND s.id <> NEW.id) THEN
        UPDATE enrolment_progress SET sampled = sampled + 1
        WHERE (learner_id, qualification_id) =
              (SELECT d.learner_id, u.qualification_id FROM decisions d
               JOIN criteria c ON c.id = d.criterion_id JOIN units u ON u.id = c.unit_id
               WHERE d.id = NEW.decision_id);
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER progress_sample_ins BEFORE INSERT ON iqa_samples
    FOR EACH ROW EXECUTE FUNCTION evitrack_progress_sample_ins();

-- The learner's queue rows are recounted on every change to their evidence or its
-- mapping (a learner has few submitted items, and a recount cannot drift). The advisory
-- lock serialises recounts of one learner: without it two transactions could each delete
-- the rows they see and insert their own count (a duplicate key, or a count missing the
-- other's change); with it the second waits and then counts what the first committed.
CREATE FUNCTION evitrack_learner_queue_recount(learner bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM evitrack_lock(19001, learner);
    DELETE FROM learner_queue WHERE learner_id = learner;
    INSERT INTO learner_queue (learner_id, qualification_id, awaiting, oldest_submitted_at)
        SELECT learner, u.qualification_id, count(DISTINCT e.id), min(e.submitted_at)
        FROM evidence e JOIN evidence_criteria ec ON ec.evidence_id = e.id
        JOIN criteria c ON c.id = ec.criterion_id JOIN units u ON u.id = c.unit_id
        WHERE e.learner_id = learner AND e.status = 'submitted'
        GROUP BY u.qualification_id;
END;
$$;
CREATE FUNCTION evitrack_progress_queue_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM evitrack_learner_queue_recount(NEW.learner_id);
    RETURN NULL;
END;
$$;
CREATE FUNCTION evitrack_progress_queue_old() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM evitrack_learner_queue_recount(OLD.learner_id);
    RETURN NULL;
END;
$$;
CREATE TRIGGER progress_queue_ins AFTER INSERT ON evidence
    FOR EACH ROW EXECUTE FUNCTION evitrack_progress_queue_new();
CREATE TRIGGER progress_queue_upd AFTER UPDATE OF status, submitted_at ON evidence
    FOR EACH ROW EXECUTE FUNCTION evitrack_progress_queue_new();
CREATE TRIGGER progress_queue_del AFTER DELETE ON evidence
    FOR EACH ROW EXECUTE FUNCTION evitrack_progress_queue_old();
CREATE TRIGGER progress_queue_map_ins AFTER INSERT ON evidence_criteria
    FOR EACH ROW EXECUTE FUNCTION evitrack_progress_queue_new();
CREATE TRIGGER progress_queue_map_del AFTER DELETE ON evidence_criteria
    FOR EACH ROW EXECUTE FUNCTION evitrack_progress_queue_old();

-- A counter bumped by every change to a qualification's structure, so in-memory
-- copies of a qualification's tree (progress.c) know when they are stale.
-- The bumps are deferred to commit (constraint triggers, INITIALLY DEFERRED): the same
-- number of bumps as SQLite's row triggers, visible together with the change, but the
-- counter row is locked only while committing, so a long import does not hold it.
CREATE TABLE spec_version (
    id      BIGINT PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO spec_version (id, version) VALUES (1, 0);
CREATE FUNCTION evitrack_spec_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE spec_version SET version = version + 1;
    RETURN NULL;
END;
$$;
CREATE CONSTRAINT TRIGGER spec_version_units_ins AFTER INSERT ON units DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION evitrack_spec_version_bump();
CREATE CONSTRAINT TRIGGER spec_version_units_upd AFTER UPDATE ON units DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION evitrack_spec_version_bump();
CREATE CONSTRAINT TRIGGER spec_version_units_del AFTER DELETE ON units DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION evitrack_spec_version_bump();
CREATE CONSTRAINT TRIGGER spec_version_outcomes_ins AFTER INSERT ON outcomes DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION evitrack_spec_version_bump();
CREATE CONSTRAINT TRIGGER spec_version_outcomes_upd AFTER UPDATE ON outcomes DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION evitrack_spec_version_bump();
CREATE CONSTRAINT TRIGGER spec_version_outcomes_del AFTER DELETE ON outcomes DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION evitrack_spec_version_bump();
CREATE CONSTRAINT TRIGGER spec_version_criteria_ins AFTER INSERT ON criteria DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION evitrack_spec_version_bump();
CREATE CONSTRAINT TRIGGER spec_version_criteria_upd AFTER UPDATE ON criteria DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION evitrack_spec_version_bump();
CREATE CONSTRAINT TRIGGER spec_version_criteria_del AFTER DELETE ON criteria DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION evitrack_spec_version_bump();
CREATE CONSTRAINT TRIGGER spec_version_quals_upd AFTER UPDATE ON qualifications DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION evitrack_spec_version_bump();

-- A counter bumped by every change the centre dashboard reads (enrolments, their
-- summaries, the queue), so centre.c can reuse its computed snapshot until then.
-- In SQLite one row; here every decision, status change and submission bumps it, so one
-- row would make every writer on every server wait for the others' commits. So the
-- counter is split into 16 slots (a connection bumps the slot of its backend pid) and
-- centre_version is a view of their sum: the same `SELECT version FROM centre_version
-- WHERE id = 1`, a value that changes whenever a counted change commits. The bumps are
-- deferred to commit (constraint triggers), so no slot is held while a transaction waits
-- on anything else, and the number of bumps is SQLite's (one per row).
CREATE TABLE centre_version_slots (
    slot    BIGINT PRIMARY KEY CHECK (slot BETWEEN 0 AND 15),
    version BIGINT NOT NULL
);
INSERT INTO centre_version_slots (slot, version) SELECT g, 0 FROM generate_series(0, 15) g;
CREATE VIEW centre_version AS
    SELECT 1::bigint AS id, sum(version)::bigint AS version FROM centre_version_slots;
CREATE FUNCTION evitrack_centre_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE centre_version_slots SET version = version + 1 WHERE slot = pg_backend_pid() % 16;
    RETURN NULL;
END;
$$;
CREATE CONSTRAINT TRIGGER centre_version_ep_ins AFTER INSERT ON enrolment_progress DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION evitrack_centre_version_bump();
CREATE CONSTRAINT TRIGGER centre_version_ep_upd AFTER UPDATE ON enrolment_progress DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION evitrack_centre_version_bump();
CREATE CONSTRAINT TRIGGER centre_version_ep_del AFTER DELETE ON enrolment_progress DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION evitrack_centre_version_bump();
CREATE CONSTRAINT TRIGGER centre_version_lq_ins AFTER INSERT ON learner_queue DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION evitrack_centre_version_bump();
CREATE CONSTRAINT TRIGGER centre_version_lq_upd AFTER UPDATE ON learner_queue DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION evitrack_centre_version_bump();
CREATE CONSTRAINT TRIGGER centre_version_lq_del AFTER DELETE ON learner_queue DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION evitrack_centre_version_bump();
CREATE CONSTRAINT TRIGGER centre_version_en_upd AFTER UPDATE ON enrolments DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION evitrack_centre_version_bump();
CREATE CONSTRAINT TRIGGER centre_version_en_del AFTER DELETE ON enrolments DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION evitrack_centre_version_bump();
-- (the snapshot also holds qualification and assessor names)
CREATE CONSTRAINT TRIGGER centre_version_names AFTER UPDATE OF name, email ON users DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION evitrack_centre_version_bump();
CREATE CONSTRAINT TRIGGER centre_version_quals AFTER UPDATE OF code, title ON qualifications DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION evitrack_centre_version_bump();

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
