/* stubs_pending.c: TEMPORARY stand-ins so the server links while the template
 * engine (src/tmpl.c, issue 3) and sessions (src/session.c, issue 5) are being
 * written in parallel. When your real module lands, DELETE its stubs from this
 * file (and delete the file once it is empty). Nothing here is a real feature. */
#include <stdlib.h>
#include <string.h>

#include "session.h"
#include "tmpl.h"

/* --- tmpl.c stand-ins: pages render their data as escaped JSON --- */
struct tmpl_set {
    int unused;
};
tmpl_set_t *tmpl_set_load(const char *dir, int dev, char *err, size_t errlen)
{
    (void)dir, (void)dev, (void)err, (void)errlen;
    return calloc(1, sizeof(struct tmpl_set));
}
void tmpl_set_free(tmpl_set_t *s)
{
    free(s);
}
int tmpl_set_has(tmpl_set_t *s, const char *name)
{
    (void)s, (void)name;
    return 1;
}
int tmpl_set_render(tmpl_set_t *s, const char *name, json_t *data, buf_t *out, char *err, size_t errlen)
{
    (void)s, (void)err, (void)errlen;
    char *j = json_dumps(data, JSON_INDENT(1));
    buf_printf(out, "<!doctype html><html lang=\"en\"><title>%s</title><pre>", name);
    for (const char *p = j; p && *p; p++)
        buf_puts(out, *p == '<' ? "&lt;" : *p == '&' ? "&amp;" : (char[2]){*p, 0});
    buf_puts(out, "</pre></html>");
    free(j);
    return EV_OK;
}

/* --- session.c stand-ins: nobody is ever signed in --- */
int session_load(req_t *r)
{
    (void)r;
    return EV_OK;
}
int session_csrf_ok(req_t *r)
{
    (void)r;
    return 0;
}
