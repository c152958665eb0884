/* test_tmpl_set.c: template sets: loading a directory, partials and inheritance by name, --dev reload, threads */
#include <jansson.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "tmpl.h"

static char dir[256];
static char err[512];

/* Writes dir/name as an editor would: a hidden temporary file renamed over it. */
static void write_file(const char *name, const char *text)
{
    char path[512], tmp[520];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        perror(tmp);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
    /* a distinct modification time for every write, whatever the clock's grain */
    static time_t bump = 1000000;
    struct timespec ts[2] = {{bump, 0}, {bump, 0}};
    bump += 10;
    utimensat(AT_FDCWD, tmp, ts, 0);
    if (rename(tmp, path) != 0) {
        perror(path);
        exit(1);
    }
}

static void remove_file(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}

/* Renders name from s; a malloc'd string, or NULL with err set. */
static char *render(tmpl_set_t *s, const char *name, const char *json)
{
    json_error_t je;
    json_t *data = json_loads(json, 0, &je);
    buf_t out = {0};
    char *res = NULL;
    if (tmpl_set_render(s, name, data, &out, err, sizeof err) == EV_OK)
        res = buf_take(&out);
    buf_free(&out);
    json_decref(data);
    return res;
}

#define CHECK_RENDER(s, name, json, expected) do { \
    char *got_ = render(s, name, json); \
    if (!got_) fprintf(stderr, "  render error: %s\n", err); \
    CHECK_STR(got_, expected); \
    free(got_); \
} while (0)

static const char LAYOUT[] =
    "<html>\n"
    "<title>{{$title}}evitrack{{/title}}</title>\n"
    "<body>\n"
    "  {{>nav}}\n"
    "  <main>\n"
    "    {{$main}}{{/main}}\n"
    "  </main>\n"
    "</body>\n";
static const char NAV[] = "<nav>{{#me}}{{name}}{{/me}}{{^me}}guest{{/me}}</nav>\n";
static const char PAGE[] =
    "{{<layout}}\n"
    "{{$title}}Evidence {{id}}{{/title}}\n"
    "{{$main}}\n"
    "<h1>{{title}}</h1>\n"
    "{{#items}}\n"
    "<p>{{.}}</p>\n"
    "{{/items}}\n"
    "{{/main}}\n"
    "{{/layout}}\n";

static void test_load_and_render(void)
{
    write_file("layout.mustache", LAYOUT);
    write_file("nav.mustache", NAV);
    write_file("page.mustache", PAGE);
    write_file("notes.txt", "{{#not a template");

    tmpl_set_t *s = tmpl_set_load(dir, 0, err, sizeof err);
    CHECK(s != NULL);
    if (!s) {
        fprintf(stderr, "  load error: %s\n", err);
        return;
    }
    CHECK(tmpl_set_has(s, "layout"));
    CHECK(tmpl_set_has(s, "page"));
    CHECK(tmpl_set_has(s, "nav"));
    CHECK(!tmpl_set_has(s, "notes"));
    CHECK(!tmpl_set_has(s, "missing"));
    CHECK_RENDER(s, "page", "{\"id\":7,\"title\":\"A <b>\",\"items\":[\"x\",\"y\"],\"me\":{\"name\":\"Ann\"}}",
                 "<html>\n"
                 "<title>Evidence 7</title>\n"
                 "<body>\n"
                 "  <nav>Ann</nav>\n"
                 "  <main>\n"
                 "    <h1>A &lt;b&gt;</h1>\n"
                 "    <p>x</p>\n"
                 "    <p>y</p>\n"
                 "\n"
                 "  </main>\n"
                 "</body>\n");
    CHECK_RENDER(s, "layout", "{}",
                 "<html>\n<title>evitrack</title>\n<body>\n  <nav>guest</nav>\n  <main>\n\n  </main>\n</body>\n");
    char *r = render(s, "missing", "{}");
    CHECK(r == NULL);
    CHECK(strstr(err, "no template 'missing'") != NULL);
    free(r);

    /* compiled once: changing a file does not change a non-dev set */
    write_file("nav.mustache", "<nav>changed</nav>\n");
    CHECK_RENDER(s, "nav", "{}", "<nav>guest</nav>\n");
    write_file("nav.mustache", NAV);
    tmpl_set_free(s);
    tmpl_set_free(NULL);
}

static void test_load_errors(void)
{
    write_file("broken.mustache", "ok\n{{#a}}\n  {{/b}}\n");
    tmpl_set_t *s = tmpl_set_load(dir, 0, err, sizeof err);
    CHECK(s == NULL);
    CHECK(strstr(err, "broken.mustache:3:3: closing tag 'b' does not match 'a'") != NULL);
    remove_file("broken.mustache");
    char nodir[300];
    snprintf(nodir, sizeof nodir, "%s/no-such-dir", dir);
    CHECK(tmpl_set_load(nodir, 0, err, sizeof err) == NULL);
    CHECK(strstr(err, "no-such-dir") != NULL);
}

static void test_dev_reload(void)
{
    tmpl_set_t *s = tmpl_set_load(dir, 1, err, sizeof err);
    CHECK(s != NULL);
    if (!s)
        return;
    CHECK_RENDER(s, "nav", "{}", "<nav>guest</nav>\n");
    /* a changed file is recompiled before the next render */
    write_file("nav.mustache", "<nav class=\"v2\">{{#me}}{{name}}{{/me}}</nav>\n");
    CHECK_RENDER(s, "nav", "{\"me\":{\"name\":\"Bo\"}}", "<nav class=\"v2\">Bo</nav>\n");
    /* ...also when it is only used as a partial */
    char *r = render(s, "page", "{\"id\":1,\"title\":\"T\",\"items\":[]}");
    CHECK(r && strstr(r, "<nav class=\"v2\"></nav>") != NULL);
    free(r);
    /* a new file appears */
    CHECK(!tmpl_set_has(s, "fresh"));
    write_file("fresh.mustache", "new {{x}}");
    CHECK(tmpl_set_has(s, "fresh"));
    CHECK_RENDER(s, "fresh", "{\"x\":1}", "new 1");
    /* a broken edit reports file:line:col, and the fix is picked up */
    write_file("fresh.mustache", "new\n {{#x}}");
    r = render(s, "fresh", "{\"x\":1}");
    CHECK(r == NULL);
    CHECK(strstr(err, "fresh.mustache:2:2: section 'x' is never closed") != NULL);
    free(r);
    /* a broken partial makes the page that uses it fail visibly */
    write_file("nav.mustache", "{{/oops}}");
    r = render(s, "page", "{}");
    CHECK(r == NULL);
    CHECK(strstr(err, "nav.mustache:1:1:") != NULL);
    free(r);
    write_file("nav.mustache", NAV);
    write_file("fresh.mustache", "fixed {{x}}");
    CHECK_RENDER(s, "fresh", "{\"x\":2}", "fixed 2");
    /* a removed file disappears */
    remove_file("fresh.mustache");
    CHECK(!tmpl_set_has(s, "fresh"));
    tmpl_set_free(s);
}

/* Several threads render while another rewrites a partial (dev mode). */
typedef struct worker {
    tmpl_set_t *s;
    int bad;
} worker_t;

static void *render_loop(void *arg)
{
    worker_t *w = arg;
    json_t *data = json_pack("{s:i,s:s,s:[s,s],s:{s:s}}", "id", 3, "title", "T", "items", "a", "b", "me", "name", "Cy");
    for (int i = 0; i < 400; i++) {
        buf_t out = {0};
        char e[512];
        if (tmpl_set_render(w->s, "page", data, &out, e, sizeof e) != EV_OK ||
            (!strstr(out.data, "<nav>Cy</nav>") && !strstr(out.data, "<nav>other Cy</nav>")) ||
            !strstr(out.data, "    <p>b</p>\n")) {
            if (!w->bad++)
                fprintf(stderr, "  unexpected rendering: %s\n", out.data ? out.data : e);
        }
        buf_free(&out);
    }
    json_decref(data);
    return NULL;
}

static void test_threads(void)
{
    tmpl_set_t *s = tmpl_set_load(dir, 1, err, sizeof err);
    CHECK(s != NULL);
    if (!s)
        return;
    pthread_t th[4];
    worker_t w[4];
    for (int i = 0; i < 4; i++) {
        w[i].s = s;
        w[i].bad = 0;
        pthread_create(&th[i], NULL, render_loop, &w[i]);
    }
    for (int k = 0; k < 20; k++) {
        write_file("nav.mustache", k % 2 ? NAV : "<nav>other {{#me}}{{name}}{{/me}}</nav>\n");
        usleep(2000);
    }
    int bad = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        bad += w[i].bad;
    }
    CHECK_INT(bad, 0);
    tmpl_set_free(s);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/evitrack-tmpl-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_load_and_render();
    test_load_errors();
    test_dev_reload();
    test_threads();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    TEST_DONE();
}
