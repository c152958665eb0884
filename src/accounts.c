/* accounts.c: self-service accounts: forgotten-password links, invitations, one-time tokens, password-change emails */
#include "accounts.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "auth.h"
#include "notify.h"
#include "session.h"
#include "users.h"

#define RESET_TTL_S 3600            /* a reset link works for 1 hour */
#define INVITE_TTL_S (7 * 86400)    /* an invitation for 7 days */
#define RESET_PER_EMAIL 3           /* emails per address per hour (more are not sent) */
#define RESET_PER_ADDR 10           /* requests per client address per 15 minutes (more: 429) */
#define RESET_ADDR_WINDOW_S 900

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* 01:00 UTC on the last Sunday of month m of year y, as unix seconds. */
static int64_t last_sunday_1am(int64_t y, unsigned m)
{
    int64_t last = days_from_civil(y, m, 31); /* March and October have 31 days */
    int64_t wd = (last + 4) % 7;              /* 1970-01-01 was a Thursday (4); 0 = Sunday */
    return (last - wd) * 86400 + 3600;
}

void accounts_uk_time(int64_t t, char *out, size_t outlen)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    int64_t y = tm.tm_year + 1900;
    /* UK summer time (BST, UTC+1) runs from 01:00 UTC on the last Sunday of March
     * to 01:00 UTC on the last Sunday of October (The Summer Time Order 2002). */
    int bst = t >= last_sunday_1am(y, 3) && t < last_sunday_1am(y, 10);
    tt = (time_t)(t + (bst ? 3600 : 0));
    gmtime_r(&tt, &tm);
    static const char *const months[] = {"January", "February", "March", "April", "May", "June", "July",
                                         "August", "September", "October", "November", "December"};
    snprintf(out, outlen, "%d %s %d at %02d:%02d %s", tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
             tm.tm_min, bst ? "BST" : "GMT");
}

void accounts_uk_time_iso(const char *iso, char *out, size_t outlen)
{
    int y, mo, d, h, mi, se, n = 0;
    if (!iso || sscanf(iso, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &se, &n) != 6 || iso[n] ||
        mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) {
        snprintf(out, outlen, "%s", iso ? iso : "");
        return;
    }
    accounts_uk_time(days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se, out, outlen);
}

/* ------------------------------------------------------------------ */
/* Tokens                                                               */
/* ------------------------------------------------------------------ */

/* Makes a one-time token for user_id (256 random bits as hex into token[65]);
 * only its SHA-256 is stored. EV_OK or EV_ERR. Inside the caller's transaction. */
static int issue_token(db_t *db, int64_t user_id, const char *purpose, int64_t ttl_s, char token[65])
{
    unsigned char raw[32];
    char hash[65], now[21];
    randombytes_buf(raw, sizeof raw);
    util_hex(raw, sizeof raw, token);
    sodium_memzero(raw, sizeof raw);
    session_hash_token(token, hash);
    util_now_iso(now);
    return db_run(db, "INSERT INTO account_tokens (user_id, purpose, token_hash, created_at, expires_at)"
                      " VALUES (?, ?, ?, ?, ?)", "ittti", user_id, purpose, hash, now, util_now_s() + ttl_s);
}

/* The live token's row {id, user_id, purpose, name, email}, or NULL (unknown,
 * used, expired, or the account disabled). */
static json_t *find_token(db_t *db, const char *token)
{
    if (!token || strlen(token) != 64 || strspn(token, "0123456789abcdef") != 64)
        return NULL;
    char hash[65];
    session_hash_token(token, hash);
    return db_one(db, "SELECT t.id, t.user_id, t.purpose, u.name, u.email, u.role FROM account_tokens t"
                      " JOIN users u ON u.id = t.user_id WHERE t.token_hash = ? AND t.used_at IS NULL"
                      " AND t.expires_at > ? AND u.disabled = 0", "ti", hash, util_now_s());
}

int accounts_invite(db_t *db, int64_t user_id, const char *inviter, const char *role_label)
{
    char token[65];
    if (issue_token(db, user_id, "invite", INVITE_TTL_S, token) != EV_OK)
        return EV_ERR;
    char link[96];
    snprintf(link, sizeof link, "/set-password?token=%s", token);
    sodium_memzero(token, sizeof token);
    int rc = notify_queue_secret(db, user_id, "invitation", link,
                                 json_pack("{s:s, s:s?, s:i}", "inviter", inviter && *inviter ? inviter : "Your centre",
                                           "role_label", role_label, "valid_days", INVITE_TTL_S / 86400));
    sodium_memzero(link, sizeof link);
    return rc;
}

int accounts_password_changed(db_t *db, int64_t user_id, int reset)
{
    char when[64];
    accounts_uk_time(util_now_s(), when, sizeof when);
    return notify_queue(db, user_id, "password_changed", "/password-reset",
                        json_pack("{s:s, s:b}", "when", when, "reset", reset));
}

/* ------------------------------------------------------------------ */
/* "Forgotten your password?"                                           */
/* ------------------------------------------------------------------ */

static const char SENT[] = "If an account uses that email address, we have sent it a link to choose a new password. "
                           "The link works once, for 1 hour. Check your spam folder if nothing arrives.";

/* GET /password-reset */
static int request_page_h(req_t *r)
{
    json_object_set_new(http_out(r), "form", json_object());
    return 200;
}

/* POST /password-reset, POST /api/v1/password-resets: {email}. The same answer
 * whether or not an account uses the address (nothing to learn from it); at
 * most RESET_PER_EMAIL links per address an hour, RESET_PER_ADDR requests per
 * client address in 15 minutes (then 429 with Retry-After). */
static int request_h(req_t *r)
{
    const char *email_in = in_str(r, "email");
    char email[256] = "", addr[80] = "";
    snprintf(email, sizeof email, "%s", email_in ? email_in : "");
    char *s = email;
    while (*s == ' ')
        s++;
    memmove(email, s, strlen(s) + 1);
    for (size_t n = strlen(email); n > 0 && email[n - 1] == ' ';)
        email[--n] = '\0';
    for (char *p = email; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    json_object_set_new(http_out(r), "form", json_pack("{s:s}", "email", email));
    if (!*email || !strchr(email, '@') || strlen(email) > 254) {
        http_field_error(r, "email", *email ? "Enter an email address in the correct format, like name@example.com"
                                            : "Enter your email address");
        return http_fail(r, 400, "invalid_input", "Enter the email address you sign in with.");
    }
    users_client_addr(r, addr, sizeof addr);
    int64_t now = util_now_s();
    int64_t recent = db_int(r->db, "SELECT count(*) FROM reset_requests WHERE addr = ? AND at > ?", 0, "ti", addr,
                            now - RESET_ADDR_WINDOW_S);
    if (recent >= RESET_PER_ADDR) {
        int64_t oldest = db_int(r->db, "SELECT min(at) FROM reset_requests WHERE addr = ? AND at > ?", now, "ti",
                                addr, now - RESET_ADDR_WINDOW_S);
        int64_t wait = oldest + RESET_ADDR_WINDOW_S - now;
        free(r->extra_header_name);
        free(r->extra_header_value);
        r->extra_header_name = xstrdup("Retry-After");
        r->extra_header_value = fmtalloc("%lld", (long long)(wait > 0 ? wait : 1));
        return http_fail(r, 429, "too_many_attempts", "Too many requests. Try again in %lld minutes.",
                         (long long)((wait + 59) / 60 > 0 ? (wait + 59) / 60 : 1));
    }
    int rc = db_begin(r->db);
    int64_t per_email = db_int(r->db, "SELECT count(*) FROM reset_requests WHERE email = ? AND at > ?", 0, "ti",
                               email, now - 3600);
    if (rc == EV_OK)
        rc = db_run(r->db, "INSERT INTO reset_requests (email, addr, at) VALUES (?, ?, ?)", "tti", email, addr, now);
    json_t *u = rc == EV_OK ? db_one(r->db, "SELECT id, name FROM users WHERE lower(email) = lower(?) AND disabled = 0",
                                     "t", email)
                            : NULL;
    if (rc == EV_OK && u && per_email < RESET_PER_EMAIL) {
        char token[65], link[96];
        int64_t uid = json_integer_value(json_object_get(u, "id"));
        rc = issue_token(r->db, uid, "reset", RESET_TTL_S, token);
        snprintf(link, sizeof link, "/set-password?token=%s", token);
        if (rc == EV_OK)
            rc = notify_queue_secret(r->db, uid, "password_reset", link, NULL);
        if (rc == EV_OK)
            rc = audit_record(r->db, 0, "user.password_reset_request", "user", uid, 0, NULL, NULL);
        sodium_memzero(token, sizeof token);
        sodium_memzero(link, sizeof link);
    }
    json_decref(u);
    if (rc == EV_OK)
        rc = db_commit(r->db);
    else
        db_rollback(r->db);
    if (rc != EV_OK)
        return http_fail(r, 503, "busy", "Could not send the link just now. Try again.");
    http_set_out(r, json_pack("{s:b, s:s, s:o}", "sent", 1, "message", SENT, "form", json_pack("{s:s}", "email", email)));
    return 202;
}

/* ------------------------------------------------------------------ */
/* Choosing a password with a link (reset or invitation)                */
/* ------------------------------------------------------------------ */

static void link_context(req_t *r, json_t *t)
{
    json_t *out = http_out(r);
    int invite = t && !strcmp(json_string_value(json_object_get(t, "purpose")), "invite");
    json_object_set_new(out, "invite", json_boolean(invite));
    json_object_set_new(out, "valid", json_boolean(t != NULL));
    if (t) {
        json_object_set(out, "name", json_object_get(t, "name"));
        json_object_set(out, "email", json_object_get(t, "email"));
    }
    const char *token = in_str(r, "token");
    json_object_set_new(out, "token", json_string(t && token ? token : ""));
}

/* GET /set-password?token= */
static int set_page_h(req_t *r)
{
    json_t *t = find_token(r->db, in_str(r, "token"));
    link_context(r, t);
    json_decref(t);
    if (!t)
        return http_fail(r, 410, "link_expired", "This link has expired or has already been used.");
    return 200;
}

/* POST /set-password, POST /api/v1/password-resets/confirm:
 * {token, new_password[, confirm_password]}. Sets the password, uses up every
 * open link of the account, ends its sessions and emails the account, in one
 * transaction; the token is taken with a conditional UPDATE, so it works once
 * even when two requests race. */
static int set_h(req_t *r)
{
    const char *token = in_str(r, "token"), *pw = in_str(r, "new_password"), *confirm = in_str(r, "confirm_password");
    json_t *t = find_token(r->db, token);
    link_context(r, t);
    if (!t)
        return http_fail(r, 410, "link_expired", "This link has expired or has already been used.");
    const char *problem = auth_password_problem(pw);
    if (problem)
        http_field_error(r, "new_password", problem);
    else if (confirm && strcmp(confirm, pw) != 0)
        http_field_error(r, "confirm_password", "The passwords do not match");
    if (http_field_error_count(r)) {
        json_decref(t);
        return http_fail(r, 400, "invalid_input", "Check the password you entered.");
    }
    int64_t tid = json_integer_value(json_object_get(t, "id"));
    int64_t uid = json_integer_value(json_object_get(t, "user_id"));
    int invite = !strcmp(json_string_value(json_object_get(t, "purpose")), "invite");
    int learner = !strcmp(json_string_value(json_object_get(t, "role")), "learner");
    json_decref(t);
    char hash[AUTH_HASH_MAX], now[21];
    if (auth_hash_password(pw, hash) != EV_OK)
        return http_fail(r, 500, "internal", "Could not set the password.");
    util_now_iso(now);
    int rc = db_begin(r->db);
    if (rc == EV_OK && db_int(r->db, "UPDATE account_tokens SET used_at = ? WHERE id = ? AND used_at IS NULL"
                                     " AND expires_at > ? RETURNING id", 0, "tii", now, tid, util_now_s()) != tid) {
        db_rollback(r->db);
        sodium_memzero(hash, sizeof hash);
        return http_fail(r, 410, "link_expired", "This link has expired or has already been used.");
    }
    if (rc == EV_OK)
        rc = db_run(r->db, "UPDATE account_tokens SET used_at = ? WHERE user_id = ? AND used_at IS NULL", "ti", now, uid);
    if (rc == EV_OK)
        rc = db_run(r->db, "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?", "tti", hash, now, uid);
    if (rc == EV_OK)
        rc = session_end_user(r->db, uid, NULL);
    if (rc == EV_OK)
        rc = audit_record(r->db, uid, invite ? "user.invitation_accept" : "user.password_reset_link", "user", uid,
                          learner ? uid : 0, NULL, NULL);
    if (rc == EV_OK && !invite)
        rc = accounts_password_changed(r->db, uid, 1);
    if (rc == EV_OK)
        rc = db_commit(r->db);
    else
        db_rollback(r->db);
    sodium_memzero(hash, sizeof hash);
    if (rc != EV_OK)
        return http_fail(r, 500, "internal", "Could not set the password.");
    http_set_out(r, json_pack("{s:b}", "password_set", 1));
    http_redirect(r, "/login?password_set=1");
    return 200;
}

const route_t accounts_routes[] = {
    {"GET", "/password-reset", request_page_h, 0, "password_reset", ROUTE_OPTIONAL_AUTH},
    {"POST", "/password-reset", request_h, 0, "password_reset", ROUTE_NO_CSRF | ROUTE_OPTIONAL_AUTH},
    {"POST", "/api/v1/password-resets", request_h, 0, NULL, ROUTE_NO_CSRF | ROUTE_OPTIONAL_AUTH},
    {"GET", "/set-password", set_page_h, 0, "set_password", ROUTE_OPTIONAL_AUTH},
    {"POST", "/set-password", set_h, 0, "set_password", ROUTE_NO_CSRF | ROUTE_OPTIONAL_AUTH},
    {"POST", "/api/v1/password-resets/confirm", set_h, 0, NULL, ROUTE_NO_CSRF | ROUTE_OPTIONAL_AUTH},
    {0},
};
