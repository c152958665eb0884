/* test_tmpl_errors.c: template syntax errors (name:line:col, never a crash), depth limits, escaping, value formatting */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "tmpl.h"

static char err[512];

/* Compiles src as "t"; returns the error message, or NULL if it compiled. */
static const char *compile_err(const char *src)
{
    tmpl_t *t = tmpl_compile("t", src, strlen(src), err, sizeof err);
    if (t) {
        tmpl_free(t);
        return NULL;
    }
    return err;
}

static int starts_with(const char *s, const char *prefix)
{
    return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Renders src against the JSON text data_json (partials looked up in self). */
static const tmpl_t *self_tmpl;
static const tmpl_t *self_lookup(void *ctx, const char *name)
{
    (void)ctx;
    return strcmp(name, "self") == 0 ? self_tmpl : NULL;
}

static char *render(const char *src, const char *data_json)
{
    json_error_t je;
    json_t *data = data_json ? json_loads(data_json, JSON_DECODE_ANY, &je) : NULL;
    tmpl_t *t = tmpl_compile("t", src, strlen(src), err, sizeof err);
    char *res = NULL;
    if (t) {
        buf_t out = {0};
        self_tmpl = t;
        if (tmpl_render(t, data, self_lookup, NULL, &out, err, sizeof err) == EV_OK)
            res = buf_take(&out);
        buf_free(&out);
    }
    tmpl_free(t);
    json_decref(data);
    return res;
}

static void check_render(const char *src, const char *data, const char *expected, int line)
{
    char *got = render(src, data);
    if (got && strcmp(got, expected) == 0) {
        test_passed++;
    } else {
        test_failed++;
        fprintf(stderr, "FAIL %s:%d: render(\"%s\") = \"%s\", want \"%s\" (%s)\n", __FILE__, line, src,
                got ? got : "(error)", expected, got ? "" : err);
    }
    free(got);
}
#define RENDER(src, data, expected) check_render(src, data, expected, __LINE__)

static void test_syntax_errors(void)
{
    CHECK_STR(compile_err("a\n  {{#items}}\nb"), "t:2:3: section 'items' is never closed");
    CHECK_STR(compile_err("{{#a}}x{{/b}}"), "t:1:8: closing tag 'b' does not match 'a' opened at line 1 column 1");
    CHECK_STR(compile_err("ok\nx {{/a}}"), "t:2:3: closing tag 'a' has no open section");
    CHECK(starts_with(compile_err("ab {{name"), "t:1:4: unclosed tag"));
    CHECK(starts_with(compile_err("{{{name}}"), "t:1:1: unclosed tag"));
    CHECK(starts_with(compile_err("{{=<% %>}}"), "t:1:1: bad delimiter tag"));
    CHECK(starts_with(compile_err("x\n\n   {{=<%=}}"), "t:3:4: bad delimiter tag"));
    CHECK(starts_with(compile_err("{{=a= b=}}"), "t:1:1: bad delimiter tag"));
    CHECK(starts_with(compile_err("{{}}"), "t:1:1: empty tag name"));
    CHECK(starts_with(compile_err("{{#}}{{/}}"), "t:1:1: empty tag name"));
    CHECK(starts_with(compile_err("{{a b}}"), "t:1:1: tag name 'a b' contains whitespace"));
    /* a comment spanning lines moves the position of what follows */
    CHECK_STR(compile_err("{{!\ncomment\n}} {{#a}}"), "t:3:4: section 'a' is never closed");
    /* errors after a delimiter change use the new delimiters */
    CHECK_STR(compile_err("{{=<% %>=}}\n<%#a%>{{/a}}"), "t:2:1: section 'a' is never closed");
    CHECK_STR(compile_err("{{<layout}}{{$main}}{{/layout}}"),
              "t:1:21: closing tag 'layout' does not match 'main' opened at line 1 column 12");
    /* a tiny error buffer truncates, a NULL one is allowed */
    char small[8];
    CHECK(tmpl_compile("t", "{{#a}}", 6, small, sizeof small) == NULL);
    CHECK_STR(small, "t:1:1: ");
    CHECK(tmpl_compile("t", "{{#a}}", 6, NULL, 0) == NULL);
    /* the name appears as given */
    tmpl_t *t = tmpl_compile("templates/page.mustache", "\n\n{{/x}}", 7, err, sizeof err);
    CHECK(t == NULL);
    CHECK(starts_with(err, "templates/page.mustache:3:1: "));
    /* valid odd corners compile */
    CHECK(compile_err("") == NULL);
    CHECK(compile_err("{{") != NULL);
    CHECK(compile_err("}}{{!}}") == NULL);
    CHECK(compile_err("{{=| |=}}|#a||/a|") == NULL);
}

static void test_limits(void)
{
    /* sections nested past the limit are a compile error, not a stack overflow */
    buf_t src = {0};
    for (int i = 0; i < 150; i++)
        buf_puts(&src, "{{#a}}");
    for (int i = 0; i < 150; i++)
        buf_puts(&src, "{{/a}}");
    tmpl_t *t = tmpl_compile("deep", src.data, src.len, err, sizeof err);
    CHECK(t == NULL);
    CHECK(strstr(err, "nested deeper than") != NULL);
    buf_free(&src);

    /* a partial including itself stops with an error */
    char *r = render("x{{>self}}", "{}");
    CHECK(r == NULL);
    CHECK(strstr(err, "partials nested deeper than 64") != NULL);
    CHECK(starts_with(err, "t:1:2: "));
    free(r);

    /* data-driven recursion within the limit works */
    json_t *tree = json_object(), *cur = tree;
    for (int i = 0; i < 30; i++) {
        json_t *kid = json_object();
        json_object_set_new(cur, "v", json_integer(i));
        json_object_set_new(cur, "kid", kid);
        cur = kid;
    }
    /* (the leaf says kid:false, else {{#kid}} would find its parent's kid) */
    json_object_set_new(cur, "kid", json_false());
    json_object_set_new(cur, "v", json_string("!"));
    char *data = json_dumps(tree, 0);
    RENDER("{{v}}{{#kid}}{{>self}}{{/kid}}", data, "01234567891011121314151617181920212223242526272829!");
    /* deeper than the limit: an error, never a crash */
    json_object_set_new(cur, "kid", json_object());
    cur = json_object_get(cur, "kid");
    for (int i = 30; i < 200; i++) {
        json_t *kid = json_object();
        json_object_set_new(cur, "kid", kid);
        cur = kid;
    }
    free(data);
    data = json_dumps(tree, 0);
    r = render("{{#kid}}{{>self}}{{/kid}}", data);
    CHECK(r == NULL);
    free(r);
    free(data);
    json_decref(tree);

    /* a parent including itself too */
    r = render("{{<self}}{{$b}}x{{/b}}{{/self}}", "{}");
    CHECK(r == NULL);
    free(r);
}

static void test_escaping(void)
{
    buf_t b = {0};
    html_escape(&b, "a & b < c > d \" e ' f", 21);
    CHECK_STR(b.data, "a &amp; b &lt; c &gt; d &quot; e &#39; f");
    b.len = 0;
    html_escape(&b, "&<>\"'", 5);
    CHECK_STR(b.data, "&amp;&lt;&gt;&quot;&#39;");
    b.len = 0;
    html_escape(&b, "plain caf\xc3\xa9", 11);
    CHECK_STR(b.data, "plain caf\xc3\xa9");
    b.len = 0;
    html_escape(&b, "a\0<", 3); /* length-driven, not NUL-terminated */
    CHECK_INT(b.len, 6);
    CHECK(memcmp(b.data, "a\0&lt;", 6) == 0);
    buf_free(&b);

    RENDER("<a title=\"{{t}}\">{{t}}</a>", "{\"t\":\"\\\" onclick='x' <b>&amp;\"}",
           "<a title=\"&quot; onclick=&#39;x&#39; &lt;b&gt;&amp;amp;\">&quot; onclick=&#39;x&#39; &lt;b&gt;&amp;amp;</a>");
    RENDER("{{{t}}}|{{&t}}|{{& t }}", "{\"t\":\"<b>'\"}", "<b>'|<b>'|<b>'");
    /* a value can never become a tag */
    RENDER("{{t}}", "{\"t\":\"{{t}}\"}", "{{t}}");
}

static void test_values(void)
{
    RENDER("{{i}} {{n}} {{r}} {{s}} {{t}} {{f}} [{{z}}] [{{o}}] [{{a}}] [{{missing}}]",
           "{\"i\":42,\"n\":-7,\"r\":0.1,\"s\":\"str\",\"t\":true,\"f\":false,\"z\":null,\"o\":{\"k\":1},\"a\":[1]}",
           "42 -7 0.1 str true false [] [] [] []");
    RENDER("{{r}} {{big}}", "{\"r\":1.5,\"big\":1e300}", "1.5 1e+300");
    /* truthiness follows the JavaScript implementations: 0 and "" are false */
    RENDER("{{#z}}Z{{/z}}{{^z}}z{{/z}} {{#e}}E{{/e}}{{^e}}e{{/e}} {{#o}}O{{/o}} {{#l}}L{{/l}}{{^l}}l{{/l}}",
           "{\"z\":0,\"e\":\"\",\"o\":{},\"l\":[]}", "z e O l");
    /* arrays indexed by number, as the error summary uses {{#errors.0}} */
    RENDER("{{#errors.0}}<ul>{{#errors}}<li>{{message}}</li>{{/errors}}</ul>{{/errors.0}}",
           "{\"errors\":[{\"message\":\"A\"},{\"message\":\"B\"}]}", "<ul><li>A</li><li>B</li></ul>");
    RENDER("{{#errors.0}}<ul>{{/errors.0}}", "{\"errors\":[]}", "");
    RENDER("{{list.1.name}}", "{\"list\":[{\"name\":\"a\"},{\"name\":\"b\"}]}", "b");
    /* no data at all */
    RENDER("a{{b}}c{{#d}}x{{/d}}{{^d}}y{{/d}}", NULL, "acy");
    /* output appends to what the buffer already holds */
    buf_t out = {0};
    buf_puts(&out, "pre:");
    tmpl_t *t = tmpl_compile("t", "{{.}}", 5, err, sizeof err);
    json_t *v = json_string("x");
    CHECK(tmpl_render(t, v, NULL, NULL, &out, err, sizeof err) == EV_OK);
    CHECK_STR(out.data, "pre:x");
    /* an empty rendering is still a string */
    buf_t empty = {0};
    tmpl_t *e = tmpl_compile("e", "", 0, err, sizeof err);
    CHECK(tmpl_render(e, v, NULL, NULL, &empty, err, sizeof err) == EV_OK);
    CHECK(empty.data != NULL && empty.len == 0);
    CHECK(tmpl_render(NULL, v, NULL, NULL, &empty, err, sizeof err) == EV_ERR);
    tmpl_free(e);
    tmpl_free(NULL);
    json_decref(v);
    tmpl_free(t);
    buf_free(&out);
    buf_free(&empty);
}

int main(void)
{
    test_syntax_errors();
    test_limits();
    test_escaping();
    test_values();
    TEST_DONE();
}
