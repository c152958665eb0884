-- 012_audit_chain.sql (PostgreSQL 15): audit events written unlinked, linked by the chainer.
-- The twin of schema/012_audit_chain.sql (a no-op on SQLite). Writers no longer serialise on
-- one lock: each inserts its event with prev_hash and hash NULL and an id from the identity
-- sequence; one process, elected by a session advisory lock, links committed events in id
-- order (audit.c; the correctness argument is in docs/architecture.md).

-- An unlinked event has neither link; a linked one has both.
ALTER TABLE audit_events ALTER COLUMN prev_hash DROP NOT NULL;
ALTER TABLE audit_events ALTER COLUMN hash DROP NOT NULL;
ALTER TABLE audit_events ADD CONSTRAINT audit_linked_whole CHECK ((prev_hash IS NULL) = (hash IS NULL));
-- One chain: no two events link to the same predecessor (a fork cannot commit).
CREATE UNIQUE INDEX audit_chain_link ON audit_events(prev_hash);

-- Ids were assigned by audit.c until now (tail + 1 under a lock): the identity sequence
-- continues after them.
SELECT setval(pg_get_serial_sequence('audit_events', 'id'),
              COALESCE((SELECT max(id) FROM audit_events), 0) + 1, false);

-- Still append-only, with one exception: the chainer links an unlinked event, setting its
-- prev_hash and hash once and changing nothing else.
CREATE OR REPLACE FUNCTION evitrack_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.hash IS NULL AND OLD.prev_hash IS NULL
       AND NEW.hash IS NOT NULL AND NEW.prev_hash IS NOT NULL
       AND (NEW.id, NEW.at, NEW.actor_id, NEW.action, NEW.entity, NEW.entity_id, NEW.learner_id, NEW.before, NEW.after)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.at, OLD.actor_id, OLD.action, OLD.entity, OLD.entity_id, OLD.learner_id, OLD.before, OLD.after)
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit events are append-only' USING ERRCODE = 'integrity_constraint_violation';
END;
$$;
