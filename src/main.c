/* main.c: the evitrack command line: dispatches to serve and the other subcommands */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "audit.h"
#include "auditlog.h"
#include "cli.h"
#include "reviews.h"
#include "dbcopy.h"
#include "demo.h"
#include "evidence.h"
#include "export.h"
#include "http.h"
#include "intake.h"
#include "mailer.h"
#include "notify.h"
#include "pages.h"
#include "qualifications.h"
#include "storage.h"
#include "tmpl.h"
#include "users.h"

static const char USAGE[] =
    "evitrack " EVITRACK_VERSION ": an e-portfolio evidence tracker for vocational qualifications\n"
    "\n"
    "Usage: evitrack COMMAND [OPTIONS]\n"
    "\n"
    "Commands:\n"
    "  serve [--db FILE] [--data DIR] [--store DIR|s3://BUCKET?endpoint=URL&region=R]\n"
    "        [--store-credentials FILE] [--listen ADDR] [--port N] [--demo]\n"
    "        [--max-upload-mb N] [--max-request-mb N] [--threads N] [--dev]\n"
    "        [--templates DIR] [--static DIR] [--tls-cert FILE --tls-key FILE]\n"
    "        [--secure-cookies] [--quiet] [--timeout SECONDS] [--max-connections N]\n"
    "        [--connection-memory-kb N] [--timezone ZONE] [--per-address-connections N]\n"
    "        [--header-timeout SECONDS] [--max-exports N] [--gc-interval SECONDS] [--base-url URL]\n"
    "        [--audit-head-log FILE] [--audit-head-every N]\n"
    "        [--smtp-url smtp://HOST:PORT|smtps://HOST:PORT --smtp-from ADDRESS\n"
    "         [--smtp-credentials FILE] [--smtp-ca FILE] [--smtp-retry-seconds N]\n"
    "         [--smtp-max-attempts N] [--digest-interval SECONDS]]\n"
    "                      run the web server (defaults: --db evitrack.db --data data\n"
    "                      --listen 127.0.0.1 --port 8080 --max-upload-mb 512\n"
    "                      --timezone Europe/London, the zone pages show times in)\n"
    "  import [--db FILE] [--qualification ID_OR_CODE] FILE...\n"
    "                      import qualification specifications (JSON or revision pages)\n"
    "  user add [--db FILE] --email E --name N --role learner|assessor|iqa|admin|eqa\n"
    "                      add an account; the password is read as one line on stdin\n"
    "  user passwd|disable|enable [--db FILE] --email E\n"
    "                      set a password (stdin), or disable/enable an account\n"
    "  enrol [--db FILE] --learner EMAIL --qualification ID_OR_CODE --assessor EMAIL\n"
    "        [--iqa EMAIL] [--start YYYY-MM-DD] [--end YYYY-MM-DD]\n"
    "  import-learners [--db FILE] [--base-url URL] [--dry-run] FILE.csv\n"
    "                      onboard an intake: accounts (invited by email) and enrolments,\n"
    "                      every line checked first, all imported or none\n"
    "  audit verify [--db FILE] [--data DIR] [--audit-head-log FILE]\n"
    "                      check the hash chain, the head log (removed tail events) and that\n"
    "                      decisions, sign-offs, countersigns and IQA samples match their events\n"
    "  audit verify --export FILE.zip  check a portfolio export offline\n"
    "  backup [--db FILE] [--data DIR] [--store ...] OUT\n"
    "                      consistent online copy of the database (PostgreSQL: pg_dump)\n"
    "                      and how to copy the files\n"
    "  copy --from DB --to postgres://...\n"
    "                      move a centre into an empty PostgreSQL database and verify it\n"
    "  render [--partials DIR] TEMPLATE_FILE DATA_JSON_FILE\n"
    "                      print a Mustache rendering (a developer's preview tool)\n"
    "  export [--db FILE] [--data DIR] [--store ...] --learner EMAIL --out FILE.zip\n"
    "                      a learner's portfolio as a zip with a SHA-256 manifest\n"
    "        [--subject-access] (adds data.json) or --qualification ID_OR_CODE (a cohort)\n"
    "  gc [--db FILE] [--data DIR] [--store ...] [--grace-minutes N] [--dry-run] [--force]\n"
    "                      remove stored files nothing refers to\n"
    "  store copy --from DIR|s3://... --to DIR|s3://... [--data DIR]\n"
    "                      copy every evidence file to another store, verifying each SHA-256\n"
    "  store verify [--db FILE] [--data DIR] [--store ...]\n"
    "                      check every stored evidence file against its SHA-256 now\n"
    "  (--store-credentials FILE: S3 keys; otherwise AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)\n"
    "  reviews remind [--db FILE] [--days N]\n"
    "                      queue \"progress review due\" reminders (the server does this itself)\n"
    "  migrate [--db FILE]        create or upgrade the database schema\n"
    "  routes                     every route as JSON (method, pattern, roles)\n"
    "  --help, --version\n";

static int cmd_serve(int argc, char **argv)
{
    app_t app = {
        .db_path = "evitrack.db",
        .data_dir = "data",
        .templates_dir = EVITRACK_SOURCE_DIR "/templates",
        .static_dir = EVITRACK_SOURCE_DIR "/static",
        .listen_addr = "127.0.0.1",
        .port = 8080,
        .max_upload_bytes = 512LL * 1024 * 1024,
        .max_request_bytes = 0,
        .connection_limit = 1024,
        .timeout_s = 60,
        .connection_memory_kb = 32,
        .per_ip_limit = 64,
        .header_timeout_s = 10,
        .max_exports = 2,
        .gc_interval_s = 6 * 3600,
    };
    int demo = 0, rc = 1, zone_set = 0;
    const char *v = NULL, *tls_cert = NULL, *tls_key = NULL, *base_url = NULL, *smtp_creds = NULL, *head_log = NULL;
    const char *store_spec = NULL, *store_creds = NULL;
    int64_t head_every = 100;
    char *head_default = NULL;
    mailer_config_t mail = {0};
    char *smtp_user = NULL, *smtp_password = NULL;
    long threads = sysconf(_SC_NPROCESSORS_ONLN);
    int64_t num;
    db_t *db = NULL;
    char err[512];

    for (int i = 0; i < argc;) {
        int got;
        if ((got = cli_opt(argc, argv, &i, "db", &app.db_path)) ||
            (got = cli_opt(argc, argv, &i, "data", &app.data_dir)) ||
            (got = cli_opt(argc, argv, &i, "store", &store_spec)) ||
            (got = cli_opt(argc, argv, &i, "store-credentials", &store_creds)) ||
            (got = cli_opt(argc, argv, &i, "listen", &app.listen_addr)) ||
            (got = cli_opt(argc, argv, &i, "templates", &app.templates_dir)) ||
            (got = cli_opt(argc, argv, &i, "static", &app.static_dir)) ||
            (got = cli_opt(argc, argv, &i, "tls-cert", &tls_cert)) ||
            (got = cli_opt(argc, argv, &i, "tls-key", &tls_key)) ||
            (got = cli_opt(argc, argv, &i, "base-url", &base_url)) ||
            (got = cli_opt(argc, argv, &i, "smtp-url", &mail.url)) ||
            (got = cli_opt(argc, argv, &i, "smtp-from", &mail.from)) ||
            (got = cli_opt(argc, argv, &i, "smtp-credentials", &smtp_creds)) ||
            (got = cli_opt(argc, argv, &i, "smtp-ca", &mail.ca_file)) ||
            (got = cli_opt(argc, argv, &i, "audit-head-log", &head_log))) {
            if (got < 0)
                return 2;
        } else if ((got = cli_opt(argc, argv, &i, "timezone", &v))) {
            if (got < 0 || pages_set_timezone(v) != EV_OK)
                return cli_usage_error("--timezone takes a zone of the tz database, e.g. Europe/London or UTC");
            zone_set = 1;
        } else if ((got = cli_opt(argc, argv, &i, "port", &v))) {
            if (got < 0 || util_parse_i64(v, &num) != EV_OK || num < 0 || num > 65535)
                return cli_usage_error("--port takes a number from 0 to 65535");
            app.port = (int)num;
        } else if ((got = cli_opt(argc, argv, &i, "max-upload-mb", &v))) {
            if (got < 0 || util_parse_i64(v, &num) != EV_OK || num < 1 || num > 1024 * 1024)
                return cli_usage_error("--max-upload-mb takes a whole number of megabytes (1 or more)");
            app.max_upload_bytes = num * 1024 * 1024;
        } else if ((got = cli_opt(argc, argv, &i, "max-request-mb", &v))) {
            if (got < 0 || util_parse_i64(v, &num) != EV_OK || num < 1 || num > 1024 * 1024)
                return cli_usage_error("--max-request-mb takes a whole number of megabytes (1 or more)");
            app.max_request_bytes = num * 1024 * 1024;
        } else if ((got = cli_opt(argc, argv, &i, "connection-memory-kb", &v))) {
            if (got < 0 || util_parse_i64(v, &num) != EV_OK || num < 16 || num > 16384)
                return cli_usage_error("--connection-memory-kb takes a number from 16 to 16384");
            app.connection_memory_kb = (int)num;
        } else if ((got = cli_opt(argc, argv, &i, "timeout", &v))) {
            if (got < 0 || util_parse_i64(v, &num) != EV_OK || num < 1 || num > 3600)
                return cli_usage_error("--timeout takes a number of seconds from 1 to 3600");
            app.timeout_s = (int)num;
        } else if ((got = cli_opt(argc, argv, &i, "max-connections", &v))) {
            if (got < 0 || util_parse_i64(v, &num) != EV_OK || num < 4 || num > 65536)
                return cli_usage_error("--max-connections takes a number from 4 to 65536");
            app.connection_limit = (int)num;
        } else if ((got = cli_opt(argc, argv, &i, "per-address-connections", &v))) {
            if (got < 0 || util_parse_i64(v, &num) != EV_OK || num < 1 || num > 65536)
                return cli_usage_error("--per-address-connections takes a number from 1 to 65536");
            app.per_ip_limit = (int)num;
        } else if ((got = cli_opt(argc, argv, &i, "max-exports", &v))) {
            if (got < 0 || util_parse_i64(v, &num) != EV_OK || num < 1 || num > 64)
                return cli_usage_error("--max-exports takes a number from 1 to 64");
            app.max_exports = (int)num;
        } else if ((got = cli_opt(argc, argv, &i, "gc-interval", &v))) {
            if (got < 0 || util_parse_i64(v, &num) != EV_OK || num < 0 || num > 30 * 86400)
                return cli_usage_error("--gc-interval takes a number of seconds from 0 (never) to 2592000");
            app.gc_interval_s = (int)num;
        } else if ((got = cli_opt(argc, argv, &i, "header-timeout", &v))) {
            if (got < 0 || util_parse_i64(v, &num) != EV_OK || num < 1 || num > 3600)
                return cli_usage_error("--header-timeout takes a number of seconds from 1 to 3600");
            app.header_timeout_s = (int)num;
        } else if ((got = cli_opt(argc, argv, &i, "audit-head-every", &v))) {
            if (got < 0 || util_parse_i64(v, &num) != EV_OK || num < 1 || num > 1000000)
                return cli_usage_error("--audit-head-every takes a number of events from 1 to 1000000");
            head_every = num;
        } else if ((got = cli_opt(argc, argv, &i, "threads", &v))) {
            if (got < 0 || util_parse_i64(v, &num) != EV_OK || num < 1 || num > 256)
                return cli_usage_error("--threads takes a number from 1 to 256");
            threads = (long)num;
        } else if ((got = cli_opt(argc, argv, &i, "smtp-retry-seconds", &v))) {
            if (got < 0 || util_parse_i64(v, &num) != EV_OK || num < 1 || num > 86400)
                return cli_usage_error("--smtp-retry-seconds takes a number of seconds from 1 to 86400");
            mail.retry_base_s = (int)num;
        } else if ((got = cli_opt(argc, argv, &i, "smtp-max-attempts", &v))) {
            if (got < 0 || util_parse_i64(v, &num) != EV_OK || num < 1 || num > 100)
                return cli_usage_error("--smtp-max-attempts takes a number from 1 to 100");
            mail.max_attempts = (int)num;
        } else if ((got = cli_opt(argc, argv, &i, "digest-interval", &v))) {
            if (got < 0 || util_parse_i64(v, &num) != EV_OK || num < 1 || num > 7 * 86400)
                return cli_usage_error("--digest-interval takes a number of seconds from 1 to 604800");
            mail.digest_interval_s = (int)num;
        } else if (cli_flag(argv, &i, "demo")) {
            demo = 1;
        } else if (cli_flag(argv, &i, "dev")) {
            app.dev = 1;
        } else if (cli_flag(argv, &i, "secure-cookies")) {
            app.secure_cookies = 1;
        } else if (cli_flag(argv, &i, "quiet")) {
            app.quiet = 1;
        } else {
            return cli_usage_error("serve: unknown option %s (see evitrack --help)", argv[i]);
        }
    }
    /* Page times in UK local time unless --timezone says otherwise; set here,
     * before any worker thread starts (pages.h). */
    if (!zone_set && pages_set_timezone("Europe/London") != EV_OK)
        return cli_usage_error("cannot set the time zone Europe/London");
    if (!!tls_cert != !!tls_key)
        return cli_usage_error("--tls-cert and --tls-key go together");
    if (mail.url && strncmp(mail.url, "smtp://", 7) != 0 && strncmp(mail.url, "smtps://", 8) != 0)
        return cli_usage_error("--smtp-url must start with smtp:// or smtps://");
    char from_addr[320];
    if (mail.url && (!mail.from || mailer_bare_address(mail.from, from_addr, sizeof from_addr) != EV_OK))
        return cli_usage_error("--smtp-url needs --smtp-from with an email address");
    if ((smtp_creds || mail.ca_file || mail.from) && !mail.url)
        return cli_usage_error("the --smtp-* options need --smtp-url");
    if (base_url && strncmp(base_url, "http://", 7) != 0 && strncmp(base_url, "https://", 8) != 0)
        return cli_usage_error("--base-url must start with http:// or https://");
    app.threads = threads > 0 ? (int)threads : 2;
    if (!app.max_request_bytes)
        app.max_request_bytes = app.max_upload_bytes * 4 + 1024 * 1024;
    if (tls_cert) {
        app.tls_cert_pem = util_read_file(tls_cert, NULL);
        app.tls_key_pem = util_read_file(tls_key, NULL);
        if (!app.tls_cert_pem || !app.tls_key_pem) {
            fprintf(stderr, "evitrack: cannot read the TLS certificate or key\n");
            goto out;
        }
        app.tls = 1;
    }

    app.store = cli_open_store(store_spec, store_creds, app.data_dir);
    if (!app.store)
        goto out;
    if (mail.url) {
        if (mailer_read_credentials(smtp_creds, &smtp_user, &smtp_password, err, sizeof err) != EV_OK) {
            fprintf(stderr, "evitrack: %s\n", err);
            goto out;
        }
        mail.user = smtp_user;
        mail.password = smtp_password;
        app.mailer = &mail;
    }
    /* Links in emails: --base-url, else the address served (http_serve
     * corrects the port once bound when --port 0). */
    if (base_url) {
        notify_configure(base_url, app.templates_dir);
        app.base_url_given = 1;
    } else {
        char *guess = fmtalloc("%s://%s%s%s:%d", tls_cert ? "https" : "http", strchr(app.listen_addr, ':') ? "[" : "",
                               app.listen_addr, strchr(app.listen_addr, ':') ? "]" : "", app.port);
        notify_configure(guess, app.templates_dir);
        free(guess);
    }

    db = cli_open_db(app.db_path);
    if (!db)
        goto out;
    if (demo && demo_seed(db, &app) != EV_OK) {
        fprintf(stderr, "evitrack: the demo data could not be created\n");
        goto out;
    }
    app.templates = tmpl_set_load(app.templates_dir, app.dev, err, sizeof err);
    if (!app.templates) {
        fprintf(stderr, "evitrack: templates: %s\n", err);
        goto out;
    }
    /* The audit head log (audit.c): every N events, and at a clean stop. */
    head_default = fmtalloc("%s/audit-head.log", app.data_dir);
    audit_head_configure(head_log ? head_log : head_default, head_every);
    audit_chain_sync(db, 5000); /* PostgreSQL: events written by commands since the last server ran */
    audit_head_write(db, 1);
    db_close(db);
    db = NULL;
    db_set_thread_path(app.db_path);
    /* PostgreSQL: this server takes its turn at linking audit events (audit.h). */
    if (audit_chainer_start(app.db_path) != EV_OK) {
        fprintf(stderr, "evitrack: cannot start the audit chainer\n");
        goto out;
    }
    rc = http_serve(&app) == EV_OK ? 0 : 1;
    audit_chainer_stop();
    if (rc == 0 && (db = cli_open_db(app.db_path)) != NULL && audit_head_write(db, 1) != EV_OK)
        rc = 1;
out:
    db_close(db);
    storage_close(app.store);
    free(head_default);
    audit_head_configure(NULL, 0);
    tmpl_set_free(app.templates);
    free(app.tls_cert_pem);
    free(app.tls_key_pem);
    if (smtp_password)
        sodium_memzero(smtp_password, strlen(smtp_password));
    free(smtp_user);
    free(smtp_password);
    return rc;
}

static int cmd_migrate(int argc, char **argv)
{
    const char *path = "evitrack.db";
    for (int i = 0; i < argc;) {
        int got = cli_opt(argc, argv, &i, "db", &path);
        if (got < 0)
            return 2;
        if (!got)
            return cli_usage_error("migrate: unknown argument %s", argv[i]);
    }
    db_t *db = cli_open_db(path);
    if (!db)
        return 1;
    printf("%s is at schema version %d\n", path, db_version(db));
    db_close(db);
    return 0;
}

static int cmd_backup(int argc, char **argv)
{
    const char *path = "evitrack.db", *out = NULL, *data = "data", *store_spec = NULL;
    for (int i = 0; i < argc;) {
        int got = cli_opt(argc, argv, &i, "db", &path);
        if (!got)
            got = cli_opt(argc, argv, &i, "data", &data);
        if (!got)
            got = cli_opt(argc, argv, &i, "store", &store_spec);
        if (got < 0)
            return 2;
        if (got)
            continue;
        if (argv[i][0] == '-' || out)
            return cli_usage_error("backup: unexpected argument %s (usage: backup [--db FILE] [--data DIR] "
                                   "[--store DIR|s3://...] OUT)", argv[i]);
        out = argv[i++];
    }
    if (!out)
        return cli_usage_error("backup: name the file to write (usage: backup [--db FILE] OUT)");
    if (access(out, F_OK) == 0)
        return cli_usage_error("backup: %s already exists; choose a new file name", out);
    db_t *db = cli_open_db(path);
    if (!db)
        return 1;
    char err[300];
    int rc = db_backup(db, out, err, sizeof err);
    db_close(db);
    if (rc != EV_OK) {
        fprintf(stderr, "evitrack: %s\n", err);
        unlink(out);
        return 1;
    }
    printf("backed up %s to %s\n", path, out);
    /* The evidence files are not in the database: say how to copy them to match
     * (after the database: blobs never change, so a later copy holds every file
     * the backup refers to). */
    if (store_spec && strncmp(store_spec, "s3://", 5) == 0)
        printf("evidence files stay in %s: copy them after this with\n"
               "  evitrack store copy --from '%s' --to BACKUP_DIR\n"
               "or rely on the bucket's own replication and versioning\n",
               store_spec, store_spec);
    else
        printf("evidence files are in %s/blobs/: copy them after this (rsync -a --ignore-existing %s/blobs/ "
               "BACKUP_DIR/blobs/, or evitrack store copy --from %s --to BACKUP_DIR)\n",
               store_spec ? store_spec : data, store_spec ? store_spec : data, store_spec ? store_spec : data);
    return 0;
}

/* The subcommands; each gets the arguments after its name. */
static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
} commands[] = {
    {"serve", cmd_serve},
    {"migrate", cmd_migrate},
    {"backup", cmd_backup},
    {"copy", dbcopy_cli},
    {"gc", evidence_cmd_gc},
    {"store", storage_cmd},
    {"audit", auditlog_cli},
    {"export", export_cli},
    {"render", tmpl_cli_render},
    {"import", qualifications_cli_import},
    {"user", users_cmd_user},
    {"enrol", users_cmd_enrol},
    {"import-learners", intake_cli},
    {"routes", users_cmd_routes},
    {"reviews", reviews_cli},
    {0},
};

int main(int argc, char **argv)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || sodium_init() < 0) {
        fprintf(stderr, "evitrack: libsodium could not start\n");
        return 1;
    }
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("evitrack %s\n", EVITRACK_VERSION);
        return 0;
    }
    /* Times written for people (pages, exported portfolios) are UK local time
     * unless serve --timezone says otherwise (pages.h); set before any thread. */
    if (pages_set_timezone("Europe/London") != EV_OK)
        fprintf(stderr, "evitrack: warning: cannot use the time zone Europe/London\n");
    for (const struct command *c = commands; c->name; c++)
        if (!strcmp(argv[1], c->name))
            return c->run(argc - 2, argv + 2);
    fprintf(stderr, "evitrack: unknown command '%s' (see evitrack --help)\n", argv[1]);
    return 2;
}
