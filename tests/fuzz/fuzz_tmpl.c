/* fuzz_tmpl.c: libFuzzer target for src/tmpl.c: template text (and, after a NUL byte, JSON data)
 * through compile and render, with partials, a parent, and an escaping oracle. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tmpl.h"

static const char DEFAULT_DATA[] =
    "{\"a\":[1,2,{\"b\":\"<x>\"}],\"s\":\"str'\\\"&\",\"t\":true,\"f\":false,\"n\":null,\"z\":0,"
    "\"r\":1.5,\"o\":{\"p\":{\"q\":\"deep\"}},\"name\":\"self\",\"list\":[\"x\",\"y\",[]],"
    "\"errors\":[{\"message\":\"m\"}],\"me\":{\"name\":\"Ann\",\"is_learner\":true}}";

static const char LAYOUT[] =
    "<title>{{$title}}T{{/title}}</title>\n"
    "  {{$main}}\n"
    "  default {{s}}\n"
    "  {{/main}}\n"
    "{{#list}}{{>self}}{{/list}}\n";

static tmpl_t *layout, *echo;

typedef struct fctx {
    const tmpl_t *self;
    int calls;
} fctx_t;

/* "layout" is a fixed parent; any name starting with 's' is the input itself
 * (recursion); a bounded number of lookups keeps fan-out from exploding. */
static const tmpl_t *lookup(void *ctx, const char *name)
{
    fctx_t *f = ctx;
    if (++f->calls > 200)
        return NULL;
    if (strcmp(name, "layout") == 0)
        return layout;
    if (name[0] == 's')
        return f->self;
    return NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    char err[256];
    layout = tmpl_compile("layout", LAYOUT, sizeof LAYOUT - 1, err, sizeof err);
    echo = tmpl_compile("echo", "{{.}}|{{{.}}}", 13, err, sizeof err);
    if (!layout || !echo)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *src = (const char *)data;
    size_t tlen = size;
    json_t *root = NULL;
    json_error_t je;
    const uint8_t *nul = memchr(data, 0, size);
    if (nul) {
        tlen = (size_t)(nul - data);
        root = json_loadb((const char *)nul + 1, size - tlen - 1, JSON_DECODE_ANY, &je);
    }
    if (!root)
        root = json_loads(DEFAULT_DATA, 0, &je);

    char err[256];
    tmpl_t *t = tmpl_compile("fuzz", src, tlen, err, sizeof err);
    if (!t) {
        /* every syntax error names the template, a line and a column */
        int line = 0, col = 0;
        if (sscanf(err, "fuzz:%d:%d: ", &line, &col) != 2 || line < 1 || col < 1)
            abort();
    } else {
        buf_t out = {0};
        fctx_t f = {t, 0};
        int rc = tmpl_render(t, root, lookup, &f, &out, err, sizeof err);
        if (rc != EV_OK && !err[0])
            abort();
        if (rc == EV_OK && !out.data)
            abort();
        buf_free(&out);
        tmpl_free(t);
    }

    /* escaping oracle: an escaped value never contains < > " ' */
    json_t *s = json_stringn_nocheck(src, tlen);
    buf_t out = {0};
    if (tmpl_render(echo, s, NULL, NULL, &out, err, sizeof err) != EV_OK)
        abort();
    const char *bar = memchr(out.data, '|', out.len);
    for (const char *p = out.data; bar && p < bar; p++)
        if (*p == '<' || *p == '>' || *p == '"' || *p == '\'')
            abort();
    buf_free(&out);
    json_decref(s);
    json_decref(root);
    return 0;
}
