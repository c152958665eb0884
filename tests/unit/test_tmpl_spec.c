/* test_tmpl_spec.c: runs the official Mustache spec (every file but ~lambdas) through src/tmpl.c */
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "tmpl.h"

typedef struct partials {
    const char **names;
    tmpl_t **t;
    size_t n;
} partials_t;

static const tmpl_t *lookup(void *ctx, const char *name)
{
    partials_t *p = ctx;
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->names[i], name) == 0)
            return p->t[i];
    return NULL;
}

static void print_escaped(const char *label, const char *s)
{
    fprintf(stderr, "    %s \"", label);
    for (; s && *s; s++) {
        if (*s == '\n')
            fputs("\\n", stderr);
        else if (*s == '\r')
            fputs("\\r", stderr);
        else if (*s == '\t')
            fputs("\\t", stderr);
        else
            fputc(*s, stderr);
    }
    fputs("\"\n", stderr);
}

/* Runs one spec case; 1 when the rendering equals the expectation. */
static int run_case(const char *file, json_t *tc)
{
    const char *name = json_string_value(json_object_get(tc, "name"));
    const char *src = json_string_value(json_object_get(tc, "template"));
    const char *expected = json_string_value(json_object_get(tc, "expected"));
    json_t *data = json_object_get(tc, "data");
    json_t *jp = json_object_get(tc, "partials");
    char err[512] = "", label[512];
    partials_t p = {0};
    buf_t out = {0};
    int ok = 0;

    snprintf(label, sizeof label, "%s: %s", file, name ? name : "?");
    tmpl_t *t = tmpl_compile(label, src, strlen(src), err, sizeof err);
    if (!t) {
        fprintf(stderr, "FAIL %s: compile error: %s\n", label, err);
        goto out;
    }
    if (json_is_object(jp)) {
        size_t cap = json_object_size(jp);
        p.names = calloc(cap + 1, sizeof *p.names);
        p.t = calloc(cap + 1, sizeof *p.t);
        const char *key;
        json_t *val;
        json_object_foreach(jp, key, val) {
            const char *ps = json_string_value(val);
            tmpl_t *pt = tmpl_compile(key, ps, strlen(ps), err, sizeof err);
            if (!pt) {
                fprintf(stderr, "FAIL %s: partial compile error: %s\n", label, err);
                goto out;
            }
            p.names[p.n] = key;
            p.t[p.n++] = pt;
        }
    }
    if (tmpl_render(t, data, lookup, &p, &out, err, sizeof err) != EV_OK) {
        fprintf(stderr, "FAIL %s: render error: %s\n", label, err);
        goto out;
    }
    if (strcmp(out.data, expected) != 0 || out.len != strlen(expected)) {
        fprintf(stderr, "FAIL %s\n", label);
        print_escaped("template:", src);
        print_escaped("expected:", expected);
        print_escaped("got:     ", out.data);
        goto out;
    }
    ok = 1;
out:
    for (size_t i = 0; i < p.n; i++)
        tmpl_free(p.t[i]);
    free(p.names);
    free(p.t);
    buf_free(&out);
    tmpl_free(t);
    return ok;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
    char dir[4096];
    const char *shared = getenv("SHARED_DIR");
    if (shared && *shared)
        snprintf(dir, sizeof dir, "%s/mustache-spec", shared);
    else
        snprintf(dir, sizeof dir, "%s/../shared/mustache-spec", EVITRACK_SOURCE_DIR);

    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "FAIL cannot open %s\n", dir);
        return 1;
    }
    char *files[64];
    size_t nfiles = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && nfiles < 64) {
        size_t n = strlen(de->d_name);
        if (n < 6 || strcmp(de->d_name + n - 5, ".json") != 0)
            continue;
        if (strcmp(de->d_name, "~lambdas.json") == 0) /* C has no closures */
            continue;
        files[nfiles++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(files, nfiles, sizeof *files, cmp_str);

    int total = 0, passed = 0;
    for (size_t f = 0; f < nfiles; f++) {
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, files[f]);
        json_error_t jerr;
        json_t *root = json_load_file(path, 0, &jerr);
        json_t *tests = json_object_get(root, "tests");
        if (!json_is_array(tests)) {
            fprintf(stderr, "FAIL %s: unreadable (%s)\n", files[f], jerr.text);
            test_failed++;
            json_decref(root);
            free(files[f]);
            continue;
        }
        int fp = 0;
        size_t i;
        json_t *tc;
        json_array_foreach(tests, i, tc) {
            total++;
            if (run_case(files[f], tc)) {
                passed++;
                fp++;
                test_passed++;
            } else {
                test_failed++;
            }
        }
        printf("  %-22s %d/%zu\n", files[f], fp, json_array_size(tests));
        json_decref(root);
        free(files[f]);
    }
    printf("mustache spec: %d/%d cases passed in %zu files (~lambdas.json skipped)\n", passed, total, nfiles);
    if (nfiles < 8) {
        fprintf(stderr, "FAIL expected at least 8 spec files in %s, found %zu\n", dir, nfiles);
        test_failed++;
    }
    TEST_DONE();
}
