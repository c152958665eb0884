/* jsonout.c: a jansson tree written as compact JSON text, byte for byte as json_dumps(JSON_COMPACT) */
#include "jsonout.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (n bytes left) whose first byte is >= 0x80,
 * or 0 when it is not valid: overlong forms, surrogates and code points above
 * U+10FFFF are refused (RFC 3629 section 4), as jansson's utf8_check_full does. */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* Appends s (n bytes) as a JSON string; EV_ERR when it is not valid UTF-8. Runs of
 * bytes that need no escape are copied whole. */
static int put_string(buf_t *out, const char *str, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *s = (const unsigned char *)str;
    size_t run = 0; /* start of the bytes not yet copied */
    buf_reserve(out, n + 2);
    buf_putc(out, '"');
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        if (c >= 0x80) {
            size_t len = utf8_sequence(s + i, n - i);
            if (!len)
                return EV_ERR;
            i += len;
            continue;
        }
        if (c >= 0x20 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        buf_append(out, str + run, i - run);
        char esc[7] = {'\\', 0, 0, 0, 0, 0, 0};
        size_t elen = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
        }
        buf_append(out, esc, elen);
        run = ++i;
    }
    buf_append(out, str + run, n - run);
    buf_putc(out, '"');
    return EV_OK;
}

int jsonout_append(buf_t *out, const json_t *v)
{
    int rc = EV_OK;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *val;
        int first = 1;
        buf_putc(out, '{');
        /* json_object_foreach walks keys in insertion order, as json_dumps does */
        json_object_foreach((json_t *)v, key, val)
        {
            if (!first)
                buf_putc(out, ',');
            first = 0;
            if (put_string(out, key, strlen(key)) != EV_OK || (buf_putc(out, ':'), jsonout_append(out, val)) != EV_OK) {
                rc = EV_ERR;
                break;
            }
        }
        buf_putc(out, '}');
        break;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        buf_putc(out, '[');
        for (size_t i = 0; i < n && rc == EV_OK; i++) {
            if (i)
                buf_putc(out, ',');
            rc = jsonout_append(out, json_array_get(v, i));
        }
        buf_putc(out, ']');
        break;
    }
    case JSON_STRING:
        rc = put_string(out, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER: {
        char digits[24];
        buf_append(out, digits, (size_t)util_int_text(digits, json_integer_value(v)));
        break;
    }
    case JSON_REAL: {
        /* rare in responses: jansson's own shortest-round-trip text, exactly */
        char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (text)
            buf_puts(out, text);
        else
            rc = EV_ERR;
        free(text);
        break;
    }
    case JSON_TRUE:
        buf_append(out, "true", 4);
        break;
    case JSON_FALSE:
        buf_append(out, "false", 5);
        break;
    case JSON_NULL:
        buf_append(out, "null", 4);
        break;
    }
    return rc;
}

char *jsonout_dumps(const json_t *v)
{
    buf_t b = {0};
    if (!v || jsonout_append(&b, v) != EV_OK) {
        buf_free(&b);
        return NULL;
    }
    return buf_take(&b);
}
