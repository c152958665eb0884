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
    static const unsigned char entlen[] = {0, 5, 4, 4, 6, 5};

    buf_reserve(out, len + len / 8);
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char k = special[(unsigned char)s[i]];
        if (!k)
            continue;
        if (i > run)
            buf_append(out, s + run, i - run);
        buf_append(out, ent[k], entlen[k]);
        run = i + 1;
    }
    if (len > run)
        buf_append(out, s + run, len - run);
}
