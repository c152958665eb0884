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
