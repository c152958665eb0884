-- 010_notifications.sql: in-app notifications, the email outbox, delivery preferences,
-- one-time account links (password reset, invitation) and the intake's extra fields.

-- What a user sees in the app: one row per event that concerns them.
CREATE TABLE notifications (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    kind        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    body        TEXT NOT NULL,
    link        TEXT NOT NULL,          -- a path on this server, e.g. /evidence/12
    created_at  TEXT NOT NULL,          -- ISO 8601 UTC
    read_at     TEXT                    -- NULL while unread
);
CREATE INDEX notifications_user ON notifications(user_id, id);
CREATE INDEX notifications_unread ON notifications(user_id, read_at);

-- Email waiting to go, written in the same transaction as the change that caused it.
-- status: pending (to send at next_attempt_at), sending (claimed by claimed_by at
-- claimed_at), sent, failed (gave up), digest (waits for the user's daily digest),
-- digested (sent inside the digest row digest_id).
CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY,
    user_id          INTEGER REFERENCES users(id),
    notification_id  INTEGER REFERENCES notifications(id),
    kind             TEXT NOT NULL,
    to_addr          TEXT NOT NULL,
    to_name          TEXT NOT NULL,
    subject          TEXT NOT NULL,
    body             TEXT NOT NULL,
    link             TEXT NOT NULL,
    secret           INTEGER NOT NULL DEFAULT 0 CHECK (secret IN (0,1)),  -- body holds a one-time link
    status           TEXT NOT NULL CHECK (status IN ('pending','sending','sent','failed','digest','digested')),
    digest_id        INTEGER REFERENCES outbox(id),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    claimed_by       TEXT,
    claimed_at       TEXT,
    last_error       TEXT,
    created_at       TEXT NOT NULL,
    sent_at          TEXT
);
CREATE INDEX outbox_due ON outbox(status, next_attempt_at, id);
CREATE INDEX outbox_user ON outbox(user_id, status, id);

-- Per user and kind: deliver by email at once ('now'), in a daily digest, or not by
-- email at all ('off'). No row means 'now'. Security emails ignore this.
CREATE TABLE notification_prefs (
    user_id   INTEGER NOT NULL REFERENCES users(id),
    kind      TEXT NOT NULL,
    delivery  TEXT NOT NULL CHECK (delivery IN ('now','digest','off')),
    PRIMARY KEY (user_id, kind)
);

-- One-time links: only the SHA-256 of the token is kept.
CREATE TABLE account_tokens (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    purpose     TEXT NOT NULL CHECK (purpose IN ('reset','invite')),
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,       -- unix seconds
    used_at     TEXT
);
CREATE INDEX account_tokens_user ON account_tokens(user_id, purpose);

-- "Forgotten your password?" requests, for throttling by address and by client.
CREATE TABLE reset_requests (
    id     INTEGER PRIMARY KEY,
    email  TEXT NOT NULL,
    addr   TEXT NOT NULL,
    at     INTEGER NOT NULL             -- unix seconds
);
CREATE INDEX reset_requests_email ON reset_requests(email, at);
CREATE INDEX reset_requests_addr ON reset_requests(addr, at);

-- What an intake brings besides the account and enrolment.
ALTER TABLE users ADD COLUMN uln TEXT;
ALTER TABLE enrolments ADD COLUMN employer_name TEXT;
