-- pg_schema_portable.sql: a migration in the portable subset schema/007+ files are written in
-- (docs/architecture.md), loaded as it is into SQLite and through db_pg_translate_ddl into
-- PostgreSQL by pg_schema_test.sh; pg_schema_steps.sql then uses both tables.
CREATE TABLE portable_things (
    id          INTEGER PRIMARY KEY,          -- surrogate key: numbered by the database
    owner_id    INTEGER NOT NULL REFERENCES users(id),
    name        TEXT NOT NULL,
    weight      REAL NOT NULL DEFAULT 1.5,
    kind        TEXT NOT NULL DEFAULT 'plain' CHECK (kind IN ('plain', 'fancy')),
    active      INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    UNIQUE (owner_id, name)
);
CREATE INDEX portable_things_owner ON portable_things(owner_id, id);

/* A one-to-one extension row: its key is the thing's, never generated. */
CREATE TABLE portable_thing_notes (
    thing_id INTEGER PRIMARY KEY REFERENCES portable_things(id) ON DELETE CASCADE,
    note     TEXT NOT NULL DEFAULT ''
);

ALTER TABLE portable_things ADD COLUMN rank INTEGER NOT NULL DEFAULT 0;
ALTER TABLE portable_things ADD COLUMN ratio REAL;
