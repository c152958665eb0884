/* html.c: HTML escaping of values at the point of output (& < > " ') */
#include "tmpl.h"

#include <string.h>

/*
 * Appends s[0..len) to out with & < > " ' replaced by entities, so that an
 * escaped value can never end an attribute, open a tag or start an entity.
 * ' becomes &#39; (not &apos;, which HTML 4 lacks). Runs of safe bytes are
 * copied in one append; the table lookup keeps the loop branch-light.
 */
void html_escape(buf_t *out, const char *s, size_t len)
{
    static const unsigned char special[256] = {
        ['&'] = 1, ['<'] = 2, ['>'] = 3, ['"'] = 4, ['\''] = 5,
    };
    static const char *const ent[] = {"", "&amp;", "&lt;", "&gt;", "&quot;", "&#39;"};
    static const unsigned char extra[] = {0, 4, 3, 3, 5, 4};

    /* one pass to size the result, one to write it into the reserved space */
    size_t need = len;
    for (size_t i = 0; i < len; i++)
        need += extra[special[(unsigned char)s[i]]];
    buf_reserve(out, need);
    char *d = out->data + out->len;
    if (need == len) {
        memcpy(d, s, len);
    } else {
        for (size_t i = 0; i < len; i++) {
            unsigned char k = special[(unsigned char)s[i]];
            if (!k) {
                *d++ = s[i];
            } else {
                memcpy(d, ent[k], (size_t)extra[k] + 1);
                d += extra[k] + 1;
            }
        }
    }
    out->len += need;
    out->data[out->len] = '\0';
}
