/* jsonout.h: a jansson tree written as compact JSON text, byte for byte as json_dumps(JSON_COMPACT) */
#ifndef EVITRACK_JSONOUT_H
#define EVITRACK_JSONOUT_H

#include <jansson.h>

#include "util.h"

/* Appends v as compact JSON to out: the same bytes json_dumps(v, JSON_COMPACT |
 * JSON_ENCODE_ANY) gives (object keys in insertion order, "," and ":" with no spaces,
 * strings escaped as RFC 8259 section 7 requires and jansson does: quote, backslash
 * and the control characters below U+0020, nothing else), without jansson's dumper's
 * per-container loop check and per-token callback, which cost about ten times the
 * writing itself on a large response (docs/architecture.md, "JSON responses").
 * The trees handlers build cannot contain loops (each value is appended once).
 * Returns EV_OK; EV_ERR (out holding a partial text the caller discards) for a string
 * that is not valid UTF-8 or a real that is not finite, as json_dumps refuses both.
 * out is the caller's (buf_free). */
int jsonout_append(buf_t *out, const json_t *v);

/* v as compact JSON in a new string (the caller frees), or NULL as json_dumps. */
char *jsonout_dumps(const json_t *v);

#endif
