-- 018_list_scale.sql: the list and caseload pages at 100,000 learners (issue 22). Each
-- list is read a page at a time in the order of an index, instead of sorting every row.
-- users_name: the users list, the enrolments list and the admin's caseload walk users by
-- name (users_role covers one role only).
CREATE INDEX users_name ON users(name, id);
-- enrolments_learner_id: a learner's enrolments in id order, as the lists show them.
CREATE INDEX enrolments_learner_id ON enrolments(learner_id, id);
