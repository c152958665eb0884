-- 008_serving.sql: serving under pressure (issue 12): the addresses each account has
-- signed in from, so that failures elsewhere never lock the owner out of a known one.

CREATE TABLE login_known (
    id       INTEGER PRIMARY KEY,
    user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    addr     TEXT NOT NULL,
    last_ok  INTEGER NOT NULL,
    UNIQUE (user_id, addr)
);
