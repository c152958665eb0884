-- 006_assessment_rounds.sql (PostgreSQL 15): assessment rounds of evidence, and indexes for
-- the decision history, the caseload and IQA sampling. The twin of
-- schema/006_assessment_rounds.sql (rules in 001_core.sql).

-- Each time evidence is (re)submitted a new assessment round starts; decisions with a
-- larger id than decision_mark belong to this round. Kept by the triggers below so it
-- holds whichever code path submits the evidence.
CREATE TABLE evidence_rounds (
    evidence_id   BIGINT PRIMARY KEY REFERENCES evidence(id) ON DELETE CASCADE,
    round         BIGINT NOT NULL DEFAULT 1,
    decision_mark BIGINT NOT NULL DEFAULT 0
);

CREATE FUNCTION evitrack_evidence_rounds_submit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO evidence_rounds (evidence_id, round, decision_mark)
        VALUES (NEW.id, 1, (SELECT COALESCE(MAX(id), 0) FROM decisions))
        ON CONFLICT (evidence_id) DO UPDATE SET
            round = evidence_rounds.round + 1,
            decision_mark = excluded.decision_mark;
    RETURN NULL;
END;
$$;
CREATE TRIGGER evidence_rounds_submit AFTER UPDATE OF status ON evidence
    FOR EACH ROW WHEN (NEW.status = 'submitted' AND OLD.status <> 'submitted')
    EXECUTE FUNCTION evitrack_evidence_rounds_submit();

CREATE FUNCTION evitrack_evidence_rounds_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO evidence_rounds (evidence_id, round, decision_mark)
        VALUES (NEW.id, 1, (SELECT COALESCE(MAX(id), 0) FROM decisions))
        ON CONFLICT (evidence_id) DO NOTHING;
    RETURN NULL;
END;
$$;
CREATE TRIGGER evidence_rounds_insert AFTER INSERT ON evidence
    FOR EACH ROW WHEN (NEW.status = 'submitted')
    EXECUTE FUNCTION evitrack_evidence_rounds_insert();

-- "Which decision superseded this one" and per-criterion history.
CREATE INDEX decisions_supersedes ON decisions(supersedes_id);
CREATE INDEX decisions_created ON decisions(created_at, id);
CREATE INDEX decisions_criterion ON decisions(criterion_id, id);
-- Open IQA actions per sample outcome.
CREATE INDEX iqa_samples_outcome ON iqa_samples(outcome, responded_at);

-- Sampling coverage per (learner, unit, assessor): decisions made and decisions sampled at
-- least once, kept by triggers, so the IQA page's unfiltered coverage reads a few rows per
-- learner instead of every decision. (Filtered views compute coverage live.)
CREATE TABLE decision_coverage (
    learner_id  BIGINT NOT NULL,
    unit_id     BIGINT NOT NULL,
    assessor_id BIGINT NOT NULL,
    decisions   BIGINT NOT NULL DEFAULT 0,
    sampled     BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (learner_id, unit_id, assessor_id)
);

CREATE FUNCTION evitrack_decision_coverage_decision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO decision_coverage (learner_id, unit_id, assessor_id, decisions)
        VALUES (NEW.learner_id, (SELECT unit_id FROM criteria WHERE id = NEW.criterion_id), NEW.assessor_id, 1)
        ON CONFLICT (learner_id, unit_id, assessor_id) DO UPDATE SET
            decisions = decision_coverage.decisions + 1;
    RETURN NULL;
END;
$$;
CREATE TRIGGER decision_coverage_decision AFTER INSERT ON decisions
    FOR EACH ROW EXECUTE FUNCTION evitrack_decision_coverage_decision();

-- SQLite: AFTER INSERT ... WHEN NOT EXISTS (another sample of the same decision); a BEFORE
-- row trigger with the decision's advisory lock, for the reasons given at
-- progress_sample_ins in 005_progress.sql.
CREATE FUNCTION evitrack_decision_coverage_sample() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM evitrack_lock(19002, NEW.decision_id);
    IF NOT EXISTS (SELECT 1 FROM iqa_samples s WHERE s.decision_id = NEW.decision_id AND s.id <> NEW.id) THEN
        UPDATE decision_coverage SET sampled = sampled + 1
        WHERE (learner_id, unit_id, assessor_id) =
              (SELECT d.learner_id, c.unit_id, d.assessor_id FROM decisions d
               JOIN criteria c ON c.id = d.criterion_id WHERE d.id = NEW.decision_id);
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER decision_coverage_sample BEFORE INSERT ON iqa_samples
    FOR EACH ROW EXECUTE FUNCTION evitrack_decision_coverage_sample();

INSERT INTO decision_coverage (learner_id, unit_id, assessor_id, decisions, sampled)
    SELECT d.learner_id, c.unit_id, d.assessor_id, COUNT(*),
           SUM(CASE WHEN EXISTS (SELECT 1 FROM iqa_samples s WHERE s.decision_id = d.id) THEN 1 ELSE 0 END)
    FROM decisions d JOIN criteria c ON c.id = d.criterion_id
    GROUP BY d.learner_id, c.unit_id, d.assessor_id;
