/* test_fields.c: every state-changing route declares the fields it accepts (fields.c), every
 * declaration names a real route, and the check refuses an unknown field by name. */
#include <stdio.h>
#include <string.h>

#include "fields.h"
#include "router.h"
#include "test.h"

static void every_route_declared(void)
{
    for (size_t t = 0; router_tables[t]; t++) {
        for (const route_t *r = router_tables[t]; r->method; r++) {
            if (strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0)
                continue;
            int ok = fields_find(r) != NULL;
            if (!ok)
                fprintf(stderr, "no field declaration in src/fields.c for %s %s\n", r->method, r->pattern);
            CHECK(ok);
        }
    }
    for (const fields_decl_t *d = fields_table; d->method; d++) {
        int found = 0;
        for (size_t t = 0; router_tables[t]; t++)
            for (const route_t *r = router_tables[t]; r->method; r++)
                found |= strcmp(r->method, d->method) == 0 && strcmp(r->pattern, d->pattern) == 0;
        if (!found)
            fprintf(stderr, "src/fields.c declares %s %s, which is no route\n", d->method, d->pattern);
        CHECK(found);
    }
}

static void check(void)
{
    CHECK(fields_listed("a b outcome_* c", "outcome_12"));
    CHECK(fields_listed("a b outcome_* c", "c"));
    CHECK(!fields_listed("a b outcome_* c", "outcome"));
    CHECK(!fields_listed("a b outcome_* c", "ab"));
    CHECK(!fields_listed("", "a"));
    route_t ev = {"POST", "/api/v1/evidence", NULL, 0, NULL, 0};
    char bad[64];
    json_t *body = json_pack("{s:s, s:s, s:s}", "title", "t", "csrf_token", "x", "kind", "product");
    CHECK(fields_check(&ev, body, NULL, bad, sizeof bad));
    json_object_set_new(body, "witness_name", json_string("Pat"));
    CHECK(!fields_check(&ev, body, NULL, bad, sizeof bad));
    CHECK_STR(bad, "witness_name");
    json_object_del(body, "witness_name");
    json_t *up = json_pack("[{s:s}, {s:s}]", "field", "file", "field", "attachment");
    CHECK(!fields_check(&ev, body, up, bad, sizeof bad));
    CHECK_STR(bad, "attachment");
    route_t none = {"POST", "/no/such/route", NULL, 0, NULL, 0};
    CHECK(fields_check(&none, body, up, bad, sizeof bad));
    json_decref(up);
    json_decref(body);
}

int main(void)
{
    every_route_declared();
    check();
    TEST_DONE();
}
