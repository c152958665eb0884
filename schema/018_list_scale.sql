-- 018_list_scale.sql: the list and caseload pages at 100,000 learners (issue 22). Each
-- list is read a page at a time in the order of an index, instead of sorting every row.
-- users_name: the users list, the enrolments list and the admin's caseload walk users by
-- name (users_role covers one role only).
CREATE INDEX users_name ON users(name, id);
-- enrolments_learner_id: a learner's enrolments in id order, as the lists show them.
CREATE INDEX enrolments_learner_id ON enrolments(learner_id, id);

-- The IQA page's coverage for the whole centre (issue 22), kept in C in the transactions
-- that add a decision, sample one for the first time or change the kind of evidence a
-- decision cites (iqa.h: iqa_coverage_*), instead of joining every decision to its
-- samples and evidence on each view. A decision counts once in its assessor's row for
-- its criterion's unit, and once for each distinct kind of evidence it cites; sampled:
-- it has at least one IQA sample.
CREATE TABLE iqa_cover_au (
    assessor_id INTEGER NOT NULL,
    unit_id     INTEGER NOT NULL,
    decisions   INTEGER NOT NULL DEFAULT 0,
    sampled     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (assessor_id, unit_id)
);
CREATE TABLE iqa_cover_kind (
    assessor_id INTEGER NOT NULL,
    unit_id     INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    decisions   INTEGER NOT NULL DEFAULT 0,
    sampled     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (assessor_id, unit_id, kind)
);
-- Per learner, with sampled_ppb = sampled * 10^9 / decisions (truncated), so the page's
-- fifty least-sampled learners are the first fifty of iqa_cover_learner_rank.
CREATE TABLE iqa_cover_learner (
    learner_id  INTEGER NOT NULL,
    decisions   INTEGER NOT NULL DEFAULT 0,
    sampled     INTEGER NOT NULL DEFAULT 0,
    sampled_ppb INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (learner_id)
);
CREATE INDEX iqa_cover_learner_rank ON iqa_cover_learner(sampled_ppb, learner_id);

-- Backfill from the decisions already recorded.
INSERT INTO iqa_cover_au (assessor_id, unit_id, decisions, sampled)
    SELECT d.assessor_id, c.unit_id, COUNT(*),
           SUM(CASE WHEN EXISTS (SELECT 1 FROM iqa_samples s WHERE s.decision_id = d.id) THEN 1 ELSE 0 END)
    FROM decisions d JOIN criteria c ON c.id = d.criterion_id GROUP BY d.assessor_id, c.unit_id;
INSERT INTO iqa_cover_kind (assessor_id, unit_id, kind, decisions, sampled)
    SELECT d.assessor_id, c.unit_id, k.kind, COUNT(*),
           SUM(CASE WHEN EXISTS (SELECT 1 FROM iqa_samples s WHERE s.decision_id = d.id) THEN 1 ELSE 0 END)
    FROM (SELECT DISTINCT de.decision_id, ev.kind FROM decision_evidence de JOIN evidence ev ON ev.id = de.evidence_id) k
    JOIN decisions d ON d.id = k.decision_id JOIN criteria c ON c.id = d.criterion_id
    GROUP BY d.assessor_id, c.unit_id, k.kind;
-- (integer operands: both engines truncate the division alike)
INSERT INTO iqa_cover_learner (learner_id, decisions, sampled, sampled_ppb)
    SELECT g.learner_id, g.decisions, g.sampled, g.sampled * 1000000000 / g.decisions
    FROM (SELECT d.learner_id, COUNT(*) AS decisions,
                 SUM(CASE WHEN EXISTS (SELECT 1 FROM iqa_samples s WHERE s.decision_id = d.id) THEN 1 ELSE 0 END) AS sampled
          FROM decisions d GROUP BY d.learner_id) g;
