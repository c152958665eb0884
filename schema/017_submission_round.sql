-- 017_submission_round.sql: which decisions belong to an item's current round of assessment.
-- A returned item that is resubmitted starts a new round; decisions of the earlier round
-- must not stop the learner withdrawing it. Timestamps have whole seconds, so a decision
-- and a resubmission within one second could not be told apart by time: the item keeps
-- the highest decision id that cited it when it was last submitted (set in C by the
-- submit, in the same transaction), and a decision with a higher id is of this round.
ALTER TABLE evidence ADD COLUMN round_decision_floor INTEGER NOT NULL DEFAULT 0;

-- Items already submitted: the decisions made before their last submission are of an
-- earlier round (the rule the timestamps gave until now).
UPDATE evidence SET round_decision_floor = (
    SELECT coalesce(max(d.id), 0) FROM decision_evidence de JOIN decisions d ON d.id = de.decision_id
    WHERE de.evidence_id = evidence.id AND d.created_at < coalesce(evidence.submitted_at, ''));
