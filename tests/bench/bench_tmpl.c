/* bench_tmpl.c: the template engine on a realistic page: a learner's 120-criteria progress
 * matrix inside the site layout. Prints microseconds per render for the engine and for a
 * hand-written snprintf/escape rendering of the same bytes (checked identical), and their ratio.
 *
 *   bench_tmpl [ITERATIONS]      (default 3000) */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tmpl.h"
#include "util.h"

#define UNITS 8
#define CRITERIA_PER_UNIT 15

/* A copy of templates/layout.mustache (kept here so the hand-written twin stays exact). */
static const char LAYOUT[] =
    "<!doctype html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>{{$title}}evitrack{{/title}} – evitrack</title>\n"
    "<link rel=\"stylesheet\" href=\"/static/app.css\">\n"
    "{{$head}}{{/head}}\n"
    "</head>\n"
    "<body>\n"
    "<a class=\"skip-link\" href=\"#main\">Skip to main content</a>\n"
    "<header class=\"site-header\">\n"
    "  <div class=\"container site-header__inner\">\n"
    "    <a class=\"site-header__name\" href=\"/\">evitrack</a>\n"
    "    {{#me}}\n"
    "    <nav class=\"site-nav\" aria-label=\"Main\">\n"
    "      <ul>\n"
    "        {{#is_learner}}\n"
    "        <li><a href=\"/portfolio\">My progress</a></li>\n"
    "        <li><a href=\"/evidence\">My evidence</a></li>\n"
    "        <li><a href=\"/evidence/new\">Add evidence</a></li>\n"
    "        {{/is_learner}}\n"
    "        {{#is_assessor}}\n"
    "        <li><a href=\"/caseload\">Caseload</a></li>\n"
    "        {{/is_assessor}}\n"
    "      </ul>\n"
    "    </nav>\n"
    "    <div class=\"site-header__account\">\n"
    "      <a href=\"/account/password\" class=\"site-header__user\">{{name}}</a>\n"
    "      <form method=\"post\" action=\"/logout\" class=\"inline-form\">\n"
    "        <input type=\"hidden\" name=\"csrf_token\" value=\"{{csrf_token}}\">\n"
    "        <button type=\"submit\" class=\"link-button\">Sign out</button>\n"
    "      </form>\n"
    "    </div>\n"
    "    {{/me}}\n"
    "  </div>\n"
    "</header>\n"
    "<div class=\"container\">\n"
    "<main id=\"main\" class=\"main\" tabindex=\"-1\">\n"
    "{{$main}}{{/main}}\n"
    "</main>\n"
    "</div>\n"
    "<footer class=\"site-footer\"><p>evitrack</p></footer>\n"
    "</body>\n"
    "</html>\n";

static const char PAGE[] =
    "{{<layout}}\n"
    "{{$title}}{{learner.name}}: progress{{/title}}\n"
    "{{$main}}\n"
    "<h1 class=\"heading-xl\">{{learner.name}}</h1>\n"
    "<p class=\"lead\">{{qualification.code}} {{qualification.title}}: {{progress.met}} of "
    "{{progress.total}} criteria met ({{progress.percent}}%)</p>\n"
    "{{#units}}\n"
    "<section class=\"unit\" id=\"unit-{{ref}}\">\n"
    "  <h2 class=\"heading-m\">Unit {{ref}}: {{title}} <span class=\"count\">{{met}}/{{total}}</span></h2>\n"
    "  <table class=\"matrix\">\n"
    "    <thead><tr><th scope=\"col\">Criterion</th><th scope=\"col\">Description</th>"
    "<th scope=\"col\">Evidence</th><th scope=\"col\">Status</th></tr></thead>\n"
    "    <tbody>\n"
    "      {{#criteria}}\n"
    "      <tr class=\"status-{{status}}\">\n"
    "        <th scope=\"row\"><a href=\"/criteria/{{id}}\">{{ref}}</a></th>\n"
    "        <td>{{title}}</td>\n"
    "        <td>{{#evidence}}<a href=\"/evidence/{{id}}\">{{title}}</a> {{/evidence}}"
    "{{^evidence}}None yet{{/evidence}}</td>\n"
    "        <td><span class=\"tag tag--{{status}}\">{{status_label}}</span></td>\n"
    "      </tr>\n"
    "      {{/criteria}}\n"
    "    </tbody>\n"
    "  </table>\n"
    "</section>\n"
    "{{/units}}\n"
    "{{/main}}\n"
    "{{/layout}}\n";

static json_t *make_data(void)
{
    static const char *const status[] = {"met", "submitted", "in-progress", "not-started"};
    static const char *const label[] = {"Met", "Submitted", "In progress", "Not started"};
    json_t *units = json_array();
    int met_all = 0, id = 1000, ev = 5000;
    for (int u = 0; u < UNITS; u++) {
        json_t *crit = json_array();
        int met = 0;
        for (int c = 0; c < CRITERIA_PER_UNIT; c++) {
            int s = (u * 7 + c * 3) % 4;
            char ref[16], title[160];
            snprintf(ref, sizeof ref, "%d.%d", u + 1, c + 1);
            snprintf(title, sizeof title,
                     "Explain how to apply safe working practices & follow \"procedures\" in task %d of unit %d",
                     c + 1, u + 1);
            json_t *evs = json_array();
            for (int e = 0; e < (s == 3 ? 0 : 1 + (c % 3)); e++)
                json_array_append_new(evs, json_pack("{s:i,s:s}", "id", ev++, "title",
                                                     e % 2 ? "Witness statement <site visit>" : "Observation record"));
            json_array_append_new(crit, json_pack("{s:i,s:s,s:s,s:s,s:s,s:o}", "id", id++, "ref", ref, "title", title,
                                                  "status", status[s], "status_label", label[s], "evidence", evs));
            met += s == 0;
        }
        char ref[8], title[64];
        snprintf(ref, sizeof ref, "%d", 201 + u);
        snprintf(title, sizeof title, "Health, safety & welfare in construction %d", u + 1);
        json_array_append_new(units, json_pack("{s:s,s:s,s:i,s:i,s:o}", "ref", ref, "title", title, "met", met,
                                               "total", CRITERIA_PER_UNIT, "criteria", crit));
        met_all += met;
    }
    int total = UNITS * CRITERIA_PER_UNIT;
    return json_pack("{s:{s:i,s:s,s:s,s:b,s:b},s:s,s:s,s:{s:s,s:s},s:{s:s,s:s},s:{s:i,s:i,s:i},s:o}",
                     "me", "id", 3, "name", "Lee O'Brien", "email", "learner@demo.test", "is_learner", 1,
                     "is_assessor", 0, "csrf_token", "3f9a1c0e7b2d4a6f8e1c3b5d7f9a0c2e", "path", "/portfolio",
                     "learner", "name", "Lee O'Brien", "email", "learner@demo.test", "qualification", "code",
                     "603/2766/9", "title", "Level 2 Diploma in Site Carpentry", "progress", "met", met_all,
                     "total", total, "percent", met_all * 100 / total, "units", units);
}

/* ---- the same page written by hand: literals, snprintf for numbers, html_escape for text ---- */

static void esc(buf_t *b, json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    html_escape(b, json_string_value(v), json_string_length(v));
}

static void lit(buf_t *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

static void num(buf_t *b, json_t *o, const char *key)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%lld", (long long)json_integer_value(json_object_get(o, key)));
    buf_append(b, tmp, (size_t)n);
}

static void by_hand(json_t *d, buf_t *b)
{
    json_t *me = json_object_get(d, "me"), *learner = json_object_get(d, "learner");
    json_t *q = json_object_get(d, "qualification"), *p = json_object_get(d, "progress");
    lit(b, "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
    esc(b, learner, "name");
    lit(b, ": progress – evitrack</title>\n<link rel=\"stylesheet\" href=\"/static/app.css\">\n\n</head>\n<body>\n"
           "<a class=\"skip-link\" href=\"#main\">Skip to main content</a>\n<header class=\"site-header\">\n"
           "  <div class=\"container site-header__inner\">\n"
           "    <a class=\"site-header__name\" href=\"/\">evitrack</a>\n");
    if (me) {
        lit(b, "    <nav class=\"site-nav\" aria-label=\"Main\">\n      <ul>\n");
        if (json_is_true(json_object_get(me, "is_learner")))
            lit(b, "        <li><a href=\"/portfolio\">My progress</a></li>\n"
                   "        <li><a href=\"/evidence\">My evidence</a></li>\n"
                   "        <li><a href=\"/evidence/new\">Add evidence</a></li>\n");
        if (json_is_true(json_object_get(me, "is_assessor")))
            lit(b, "        <li><a href=\"/caseload\">Caseload</a></li>\n");
        lit(b, "      </ul>\n    </nav>\n    <div class=\"site-header__account\">\n"
               "      <a href=\"/account/password\" class=\"site-header__user\">");
        esc(b, me, "name");
        lit(b, "</a>\n      <form method=\"post\" action=\"/logout\" class=\"inline-form\">\n"
               "        <input type=\"hidden\" name=\"csrf_token\" value=\"");
        esc(b, d, "csrf_token");
        lit(b, "\">\n        <button type=\"submit\" class=\"link-button\">Sign out</button>\n"
               "      </form>\n    </div>\n");
    }
    lit(b, "  </div>\n</header>\n<div class=\"container\">\n<main id=\"main\" class=\"main\" tabindex=\"-1\">\n"
           "<h1 class=\"heading-xl\">");
    esc(b, learner, "name");
    lit(b, "</h1>\n<p class=\"lead\">");
    esc(b, q, "code");
    lit(b, " ");
    esc(b, q, "title");
    buf_printf(b, ": %lld of %lld criteria met (%lld%%)</p>\n", (long long)json_integer_value(json_object_get(p, "met")),
               (long long)json_integer_value(json_object_get(p, "total")),
               (long long)json_integer_value(json_object_get(p, "percent")));
    size_t i, j, k;
    json_t *u, *c, *e;
    json_array_foreach(json_object_get(d, "units"), i, u) {
        lit(b, "<section class=\"unit\" id=\"unit-");
        esc(b, u, "ref");
        lit(b, "\">\n  <h2 class=\"heading-m\">Unit ");
        esc(b, u, "ref");
        lit(b, ": ");
        esc(b, u, "title");
        lit(b, " <span class=\"count\">");
        num(b, u, "met");
        lit(b, "/");
        num(b, u, "total");
        lit(b, "</span></h2>\n  <table class=\"matrix\">\n    <thead><tr><th scope=\"col\">Criterion</th>"
               "<th scope=\"col\">Description</th><th scope=\"col\">Evidence</th><th scope=\"col\">Status</th>"
               "</tr></thead>\n    <tbody>\n");
        json_array_foreach(json_object_get(u, "criteria"), j, c) {
            lit(b, "      <tr class=\"status-");
            esc(b, c, "status");
            lit(b, "\">\n        <th scope=\"row\"><a href=\"/criteria/");
            num(b, c, "id");
            lit(b, "\">");
            esc(b, c, "ref");
            lit(b, "</a></th>\n        <td>");
            esc(b, c, "title");
            lit(b, "</td>\n        <td>");
            json_t *evs = json_object_get(c, "evidence");
            json_array_foreach(evs, k, e) {
                lit(b, "<a href=\"/evidence/");
                num(b, e, "id");
                lit(b, "\">");
                esc(b, e, "title");
                lit(b, "</a> ");
            }
            if (json_array_size(evs) == 0)
                lit(b, "None yet");
            lit(b, "</td>\n        <td><span class=\"tag tag--");
            esc(b, c, "status");
            lit(b, "\">");
            esc(b, c, "status_label");
            lit(b, "</span></td>\n      </tr>\n");
        }
        lit(b, "    </tbody>\n  </table>\n</section>\n");
    }
    lit(b, "\n</main>\n</div>\n<footer class=\"site-footer\"><p>evitrack</p></footer>\n</body>\n</html>\n");
}

static const tmpl_t *layout_t;
static const tmpl_t *lookup(void *ctx, const char *name)
{
    (void)ctx;
    return strcmp(name, "layout") == 0 ? layout_t : NULL;
}

int main(int argc, char **argv)
{
    int iters = argc > 1 ? atoi(argv[1]) : 3000;
    if (iters < 1)
        iters = 1;
    char err[512];
    json_t *data = make_data();

    uint64_t t0 = util_now_us();
    tmpl_t *layout = tmpl_compile("layout", LAYOUT, sizeof LAYOUT - 1, err, sizeof err);
    tmpl_t *page = tmpl_compile("page", PAGE, sizeof PAGE - 1, err, sizeof err);
    uint64_t compile_us = util_now_us() - t0;
    if (!layout || !page) {
        fprintf(stderr, "bench_tmpl: %s\n", err);
        return 1;
    }
    layout_t = layout;

    buf_t a = {0}, b = {0};
    if (tmpl_render(page, data, lookup, NULL, &a, err, sizeof err) != EV_OK) {
        fprintf(stderr, "bench_tmpl: %s\n", err);
        return 1;
    }
    by_hand(data, &b);
    if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0) {
        size_t i = 0;
        while (i < a.len && i < b.len && a.data[i] == b.data[i])
            i++;
        fprintf(stderr, "bench_tmpl: the two renderings differ at byte %zu:\n--- template:\n%.200s\n--- by hand:\n%.200s\n",
                i, a.data + (i > 80 ? i - 80 : 0), b.data + (i > 80 ? i - 80 : 0));
        return 1;
    }
    size_t bytes = a.len;

    /* interleave rounds so that frequency changes affect both alike; keep the best round */
    double best_t = 1e18, best_h = 1e18;
    for (int round = 0; round < 5; round++) {
        uint64_t s = util_now_us();
        for (int i = 0; i < iters / 5 + 1; i++) {
            a.len = 0;
            tmpl_render(page, data, lookup, NULL, &a, err, sizeof err);
        }
        double tt = (double)(util_now_us() - s) / (iters / 5 + 1);
        s = util_now_us();
        for (int i = 0; i < iters / 5 + 1; i++) {
            b.len = 0;
            by_hand(data, &b);
        }
        double th = (double)(util_now_us() - s) / (iters / 5 + 1);
        if (tt < best_t)
            best_t = tt;
        if (th < best_h)
            best_h = th;
    }
    printf("bench_tmpl: learner matrix page (%d units x %d criteria = %d) in the layout, %zu bytes\n", UNITS,
           CRITERIA_PER_UNIT, UNITS * CRITERIA_PER_UNIT, bytes);
    printf("compile (layout + page): %llu us\n", (unsigned long long)compile_us);
    printf("template render:  %8.1f us/render\n", best_t);
    printf("snprintf by hand: %8.1f us/render\n", best_h);
    printf("ratio template/by-hand: %.2f\n", best_t / best_h);
    buf_free(&a);
    buf_free(&b);
    tmpl_free(page);
    tmpl_free(layout);
    json_decref(data);
    return 0;
}
