-- 009_pages.sql: one-time form tokens, so a form posted twice (a double click
-- without JavaScript, a resend after "back") creates its thing once.
-- `token` is the form's random token joined with the path it posts to; the
-- first request claims it, and the row keeps where that request went
-- (`location`) so a repeat is sent to the same place. Rows older than a day
-- are removed when a new one is claimed (pages.c).
CREATE TABLE form_tokens (
    id INTEGER PRIMARY KEY,
    token TEXT NOT NULL UNIQUE,
    user_id INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    location TEXT
);
CREATE INDEX form_tokens_created ON form_tokens(created_at);
