-- 001_core.sql: accounts, sessions, enrolments and the audit trail
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('learner','assessor','iqa','admin','eqa')),
    password_hash TEXT NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0,1)),
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),
    updated_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
);
CREATE INDEX users_role ON users(role, name);

-- Session tokens are stored only as the hex SHA-256 of the token.
CREATE TABLE sessions (
    token_hash  TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,   -- unix seconds
    last_seen   INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL    -- absolute expiry
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions(user_id);

-- Failed sign-ins, for throttling per account and per client address.
CREATE TABLE login_failures (
    id     INTEGER PRIMARY KEY,
    email  TEXT NOT NULL COLLATE NOCASE,
    addr   TEXT NOT NULL,
    at     INTEGER NOT NULL
);
CREATE INDEX login_failures_email ON login_failures(email, at);
CREATE INDEX login_failures_addr ON login_failures(addr, at);

-- Append-only, hash-chained record of every state change.
-- hash = SHA-256 hex of (prev_hash || canonical JSON of the event's fields).
CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    actor_id   INTEGER,              -- NULL: the system or a command-line tool
    action     TEXT NOT NULL,        -- e.g. 'evidence.create', 'session.login'
    entity     TEXT NOT NULL,        -- e.g. 'evidence'
    entity_id  INTEGER,
    learner_id INTEGER,              -- whose portfolio this concerns, if anyone's
    before     TEXT,                 -- JSON or NULL
    after      TEXT,                 -- JSON or NULL
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE INDEX audit_learner ON audit_events(learner_id, id);
CREATE INDEX audit_actor ON audit_events(actor_id, id);
CREATE INDEX audit_action ON audit_events(action, id);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
