-- 006_assessment_rounds.sql: assessment rounds of evidence, and indexes for the decision history,
-- the caseload and IQA sampling.

-- Each time evidence is (re)submitted a new assessment round starts; decisions with a
-- larger id than decision_mark belong to this round. Kept by the triggers below so it
-- holds whichever code path submits the evidence.
CREATE TABLE evidence_rounds (
    evidence_id   INTEGER PRIMARY KEY REFERENCES evidence(id) ON DELETE CASCADE,
    round         INTEGER NOT NULL DEFAULT 1,
    decision_mark INTEGER NOT NULL DEFAULT 0
);

CREATE TRIGGER evidence_rounds_submit AFTER UPDATE OF status ON evidence
WHEN NEW.status = 'submitted' AND OLD.status <> 'submitted'
BEGIN
    INSERT INTO evidence_rounds (evidence_id, round, decision_mark)
        VALUES (NEW.id, 1, (SELECT COALESCE(MAX(id), 0) FROM decisions))
        ON CONFLICT (evidence_id) DO UPDATE SET
            round = round + 1,
            decision_mark = excluded.decision_mark;
END;

CREATE TRIGGER evidence_rounds_insert AFTER INSERT ON evidence
WHEN NEW.status = 'submitted'
BEGIN
    INSERT INTO evidence_rounds (evidence_id, round, decision_mark)
        VALUES (NEW.id, 1, (SELECT COALESCE(MAX(id), 0) FROM decisions))
        ON CONFLICT (evidence_id) DO NOTHING;
END;

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
    learner_id  INTEGER NOT NULL,
    unit_id     INTEGER NOT NULL,
    assessor_id INTEGER NOT NULL,
    decisions   INTEGER NOT NULL DEFAULT 0,
    sampled     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (learner_id, unit_id, assessor_id)
) WITHOUT ROWID;

CREATE TRIGGER decision_coverage_decision AFTER INSERT ON decisions
BEGIN
    INSERT INTO decision_coverage (learner_id, unit_id, assessor_id, decisions)
        VALUES (NEW.learner_id, (SELECT unit_id FROM criteria WHERE id = NEW.criterion_id), NEW.assessor_id, 1)
        ON CONFLICT (learner_id, unit_id, assessor_id) DO UPDATE SET decisions = decisions + 1;
END;

CREATE TRIGGER decision_coverage_sample AFTER INSERT ON iqa_samples
WHEN NOT EXISTS (SELECT 1 FROM iqa_samples s WHERE s.decision_id = NEW.decision_id AND s.id <> NEW.id)
BEGIN
    UPDATE decision_coverage SET sampled = sampled + 1
    WHERE (learner_id, unit_id, assessor_id) =
          (SELECT d.learner_id, c.unit_id, d.assessor_id FROM decisions d
           JOIN criteria c ON c.id = d.criterion_id WHERE d.id = NEW.decision_id);
END;

INSERT INTO decision_coverage (learner_id, unit_id, assessor_id, decisions, sampled)
    SELECT d.learner_id, c.unit_id, d.assessor_id, COUNT(*),
           SUM(EXISTS (SELECT 1 FROM iqa_samples s WHERE s.decision_id = d.id))
    FROM decisions d JOIN criteria c ON c.id = d.criterion_id
    GROUP BY d.learner_id, c.unit_id, d.assessor_id;
