/* test_jsonout.c: jsonout writes exactly what json_dumps(JSON_COMPACT) writes, for
 * hand-picked values and for thousands of random trees; and refuses what it refuses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonout.h"
#include "test.h"

/* Both texts of v must be the same bytes (or both NULL). */
static void same(const json_t *v, const char *what)
{
    char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    char *got = jsonout_dumps(v);
    if ((want == NULL) != (got == NULL) || (want && strcmp(want, got) != 0)) {
        printf("# %s: json_dumps %s\n#   jsonout   %s\n", what, want ? want : "(NULL)", got ? got : "(NULL)");
        CHECK(0);
    } else {
        CHECK(1);
    }
    free(want);
    free(got);
}

static unsigned rnd_state = 12345;
static unsigned rnd(unsigned n)
{
    rnd_state = rnd_state * 1103515245u + 12345u;
    return (rnd_state >> 8) % n;
}

/* A random string of printable ASCII, controls, quotes, backslashes and multi-byte
 * UTF-8 (all valid, so json_string accepts it). */
static json_t *random_string(void)
{
    static const char *const pieces[] = {"a", "Z", " ", "\"", "\\", "/", "\n", "\t", "\r", "\b", "\f", "\x01",
                                         "\x1f", "\x7f", "é", "€", "😀", "<", "&", "\u2028", "0", "}"};
    char s[256] = "";
    size_t n = rnd(12);
    for (size_t i = 0; i < n; i++)
        strcat(s, pieces[rnd(sizeof pieces / sizeof *pieces)]);
    return json_string(s);
}

static json_t *random_tree(int depth)
{
    switch (rnd(depth > 3 ? 6 : 8)) {
    case 0: return json_integer((json_int_t)rnd(2000000) - 1000000);
    case 1: return random_string();
    case 2: return json_real((double)rnd(100000) / 7.0 - 5000);
    case 3: return json_true();
    case 4: return json_false();
    case 5: return json_null();
    case 6: {
        json_t *a = json_array();
        for (unsigned i = rnd(5); i > 0; i--)
            json_array_append_new(a, random_tree(depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        for (unsigned i = rnd(6); i > 0; i--) {
            char key[32];
            snprintf(key, sizeof key, "k%u%s", rnd(20), rnd(4) ? "" : "\"\n\xc3\xa9");
            json_object_set_new(o, key, random_tree(depth + 1));
        }
        return o;
    }
    }
}

int main(void)
{
    json_t *v;
    /* scalars and edges */
    same(v = json_integer(0), "zero"), json_decref(v);
    same(v = json_integer(-9223372036854775807LL - 1), "INT64_MIN"), json_decref(v);
    same(v = json_integer(9223372036854775807LL), "INT64_MAX"), json_decref(v);
    same(v = json_real(0.1), "0.1"), json_decref(v);
    same(v = json_real(1e300), "1e300"), json_decref(v);
    same(v = json_real(3.0), "3.0"), json_decref(v);
    same(v = json_string(""), "empty string"), json_decref(v);
    same(v = json_string("quote \" backslash \\ slash / nl \n tab \t cr \r bs \b ff \f us \x1f del \x7f"), "escapes"),
        json_decref(v);
    same(v = json_stringn("nul\0inside", 10), "NUL inside"), json_decref(v);
    same(v = json_string("Café – 😀 \u2028"), "UTF-8"), json_decref(v);
    same(v = json_object(), "{}"), json_decref(v);
    same(v = json_array(), "[]"), json_decref(v);
    same(v = json_pack("{s:i,s:[i,s,n,b,b],s:{s:{}}}", "b", 1, "a", 2, "x", 0, 1, "c", "d"), "nested, insertion order"),
        json_decref(v);

    /* not valid UTF-8: both refuse */
    v = json_stringn_nocheck("bad \xc3\x28", 6);
    CHECK(jsonout_dumps(v) == NULL);
    json_decref(v);
    const char *bad[] = {"\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82", "\x80", "\xf8\x88\x80\x80\x80"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *o = json_pack("{s:o}", "k", json_stringn_nocheck(bad[i], strlen(bad[i])));
        char *want = json_dumps(o, JSON_COMPACT), *got = jsonout_dumps(o);
        CHECK(want == NULL && got == NULL);
        free(want);
        free(got);
        json_decref(o);
    }

    /* random trees */
    for (int i = 0; i < 3000; i++) {
        char what[32];
        snprintf(what, sizeof what, "random tree %d", i);
        v = random_tree(0);
        same(v, what);
        json_decref(v);
    }
    TEST_DONE();
}
