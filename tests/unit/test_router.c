/* test_router.c: route patterns, parameters, 404 and 405 with the Allow list */
#include "router.h"
#include "test.h"

static int h(req_t *r) { (void)r; return 200; }

static const route_t table_a[] = {
    {"GET", "/api/v1/evidence/{id}", h, ROLE_ANY, NULL, 0},
    {"PUT", "/api/v1/evidence/{id}/criteria", h, ROLE_LEARNER, NULL, 0},
    {"GET", "/api/v1/evidence/{id}/files/{file_id}", h, ROLE_ANY, NULL, 0},
    {0},
};
static const route_t table_b[] = {
    {"POST", "/api/v1/evidence/{id}", h, ROLE_LEARNER, NULL, 0},
    {"GET", "/", h, 0, "home", 0},
    {0},
};
static const route_t *const tables[] = {table_a, table_b, NULL};

int main(void)
{
    int64_t p[4];
    int n = -1;
    const route_t *r = NULL;
    char allow[64];

    CHECK(router_pattern_match("/api/v1/evidence/{id}", "/api/v1/evidence/42", p, &n));
    CHECK_INT(n, 1);
    CHECK_INT(p[0], 42);
    CHECK(router_pattern_match("/api/v1/evidence/{id}/files/{f}", "/api/v1/evidence/7/files/9", p, &n));
    CHECK_INT(n, 2);
    CHECK_INT(p[1], 9);
    /* ids are positive integers that fit int64 */
    CHECK(!router_pattern_match("/e/{id}", "/e/0", p, &n));
    CHECK(!router_pattern_match("/e/{id}", "/e/-1", p, &n));
    CHECK(!router_pattern_match("/e/{id}", "/e/abc", p, &n));
    CHECK(!router_pattern_match("/e/{id}", "/e/12a", p, &n));
    CHECK(!router_pattern_match("/e/{id}", "/e/", p, &n));
    CHECK(!router_pattern_match("/e/{id}", "/e/1234567890123456789", p, &n));
    CHECK(router_pattern_match("/e/{id}", "/e/123456789012345678", p, &n));
    CHECK(!router_pattern_match("/e/{id}", "/e/1/", p, &n));
    CHECK(!router_pattern_match("/e", "/e/", p, &n));
    CHECK(!router_pattern_match("/e", "/E", p, &n));
    CHECK(router_pattern_match("/", "/", p, &n));
    CHECK_INT(n, 0);

    CHECK_INT(router_match(tables, "GET", "/api/v1/evidence/5", &r, p, &n, allow, sizeof allow), ROUTER_FOUND);
    CHECK(r == &table_a[0]);
    CHECK_INT(router_match(tables, "HEAD", "/api/v1/evidence/5", &r, p, &n, allow, sizeof allow), ROUTER_FOUND);
    CHECK_INT(router_match(tables, "POST", "/api/v1/evidence/5", &r, p, &n, allow, sizeof allow), ROUTER_FOUND);
    CHECK(r == &table_b[0]);
    CHECK_INT(router_match(tables, "DELETE", "/api/v1/evidence/5", &r, p, &n, allow, sizeof allow),
              ROUTER_BAD_METHOD);
    CHECK_STR(allow, "GET, POST");
    CHECK_INT(router_match(tables, "GET", "/api/v1/evidence/5/criteria", &r, p, &n, allow, sizeof allow),
              ROUTER_BAD_METHOD);
    CHECK_STR(allow, "PUT");
    CHECK_INT(router_match(tables, "GET", "/api/v1/nothing", &r, p, &n, allow, sizeof allow), ROUTER_NOT_FOUND);
    CHECK_INT(router_match(tables, "GET", "/api/v1/evidence/x", &r, p, &n, allow, sizeof allow), ROUTER_NOT_FOUND);
    CHECK_INT(router_match(tables, "GET", "/", &r, p, &n, allow, sizeof allow), ROUTER_FOUND);
    CHECK_STR(r->tmpl, "home");

    /* the served tables have no two routes with the same method and pattern */
    int dup = 0;
    for (size_t a = 0; router_tables[a]; a++)
        for (const route_t *x = router_tables[a]; x->method; x++)
            for (size_t b = 0; router_tables[b]; b++)
                for (const route_t *y = router_tables[b]; y->method; y++)
                    if (x != y && !strcmp(x->method, y->method) && !strcmp(x->pattern, y->pattern))
                        dup++;
    CHECK_INT(dup, 0);
    TEST_DONE();
}
