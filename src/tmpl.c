/* tmpl.c: Mustache templates: compiling source to a node tree, rendering it against jansson values */
#include "tmpl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sys/stat.h>

/* Limits that keep hostile or broken templates from exhausting the stack. */
#define TMPL_MAX_NEST 100   /* sections/blocks/parents open at once in one template */
#define TMPL_MAX_PARTIAL 64 /* partials and parents nested while rendering */
#define TMPL_MAX_DEPTH 512  /* render recursion overall (sections x partials) */
#define TMPL_MAX_DELIM 15   /* longest custom delimiter */
/* Node visits per render: a page is ~10^4; this stops templates whose work
 * grows exponentially ({{>a}}{{>a}} in a, sections nested over long lists). */
#ifndef TMPL_MAX_STEPS
#define TMPL_MAX_STEPS 50000000L
#endif

enum ntype { N_TEXT, N_VAR, N_RAW, N_SECTION, N_INVERTED, N_PARTIAL, N_PARENT, N_BLOCK };

/* One step of a dotted name: the key, and its value as an array index (or -1). */
typedef struct seg {
    char *key;
    long idx;
} seg_t;

typedef struct node node_t;
struct node {
    unsigned char type;
    unsigned char dynamic;    /* partial/parent whose name is looked up: {{>*name}} */
    unsigned char standalone; /* partial/parent/block alone on its line: indent its lines */
    char *str;                /* N_TEXT: the text; others: the tag name as written */
    size_t len;
    seg_t *path;              /* variables, sections, dynamic names; npath 0 is "." */
    int npath;
    char *indent;             /* standalone: prepended to every line rendered inside */
    size_t indent_len;
    node_t *kids;             /* sections, blocks; parents keep only their blocks */
    size_t nkids;
    int line, col;
};

struct tmpl {
    char *name;
    node_t *nodes;
    size_t n;
};

/* ------------------------------------------------------------------ */
/* Compiling: source -> tokens -> standalone lines -> dedent -> tree   */
/* ------------------------------------------------------------------ */

enum tkind { K_TEXT, K_VAR, K_RAW, K_SECTION, K_INVERTED, K_CLOSE, K_COMMENT, K_PARTIAL,
             K_PARENT, K_BLOCK, K_DELIM };

typedef struct tok {
    unsigned char kind;
    unsigned char drop;       /* text removed because its line is standalone */
    unsigned char standalone; /* tag on a standalone line */
    unsigned char first_ind;  /* the first partial/parent/block on its standalone line */
    unsigned char has_margin; /* block: indentation taken from its (dedented) content */
    size_t a, b;              /* text: bytes [a,b); tag: trimmed content after the sigil */
    size_t tag_start, tag_end;
    size_t margin_a, margin_b;
    size_t lineno;            /* logical line: newlines inside tags do not count */
    size_t match;             /* index of the matching open/close tag */
    int line, col;
} tok_t;

typedef struct lineinfo {
    size_t first, end;  /* token range */
    size_t ws_a, ws_len;/* leading spaces/tabs of the line */
    size_t strip;       /* how many of them block dedenting removed */
    unsigned char standalone, blank;
} lineinfo_t;

typedef struct comp {
    const char *name;
    const char *src;
    size_t len;
    tok_t *toks;
    size_t ntoks, captoks;
    lineinfo_t *lines;
    size_t nlines;
    char *err;
    size_t errlen;
} comp_t;

static int comp_error(comp_t *c, int line, int col, const char *fmt, ...) EV_PRINTF(4, 5);

static int comp_error(comp_t *c, int line, int col, const char *fmt, ...)
{
    if (c->err && c->errlen) {
        int n = snprintf(c->err, c->errlen, "%s:%d:%d: ", c->name, line, col);
        if (n >= 0 && (size_t)n < c->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return EV_ERR;
}

static tok_t *push_tok(comp_t *c)
{
    if (c->ntoks == c->captoks) {
        c->captoks = c->captoks ? c->captoks * 2 : 64;
        c->toks = xrealloc(c->toks, c->captoks * sizeof *c->toks);
    }
    tok_t *t = &c->toks[c->ntoks++];
    memset(t, 0, sizeof *t);
    return t;
}

static int is_ws(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

static const char *find_str(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
    if (nlen == 0 || hlen < nlen)
        return NULL;
    const char *end = hay + hlen - nlen + 1;
    const char *p = hay;
    while (p < end) {
        p = memchr(p, needle[0], (size_t)(end - p));
        if (!p)
            return NULL;
        if (memcmp(p, needle, nlen) == 0)
            return p;
        p++;
    }
    return NULL;
}

/* Trims [*a,*b) of surrounding whitespace in src. */
static void trim(const char *src, size_t *a, size_t *b)
{
    while (*a < *b && is_ws(src[*a]))
        (*a)++;
    while (*b > *a && is_ws(src[*b - 1]))
        (*b)--;
}

/* A name is non-empty and has no whitespace inside. */
static int valid_name(const char *src, size_t a, size_t b)
{
    if (a >= b)
        return 0;
    for (size_t i = a; i < b; i++)
        if (is_ws(src[i]))
            return 0;
    return 1;
}

/* Parses "{{=<% %>=}}" content [a,b) (between the two '=') into new delimiters. */
static int parse_delims(comp_t *c, size_t a, size_t b, char *otag, size_t *olen, char *ctag,
                        size_t *clen, int line, int col)
{
    trim(c->src, &a, &b);
    size_t m = a;
    while (m < b && !is_ws(c->src[m]))
        m++;
    size_t o_a = a, o_b = m;
    while (m < b && is_ws(c->src[m]))
        m++;
    size_t c_a = m, c_b = b;
    if (o_a == o_b || c_a == c_b || !valid_name(c->src, c_a, c_b))
        return comp_error(c, line, col, "bad delimiter tag: expected two delimiters separated by a space");
    if (o_b - o_a > TMPL_MAX_DELIM || c_b - c_a > TMPL_MAX_DELIM)
        return comp_error(c, line, col, "bad delimiter tag: delimiters longer than %d characters", TMPL_MAX_DELIM);
    if (memchr(c->src + o_a, '=', o_b - o_a) || memchr(c->src + c_a, '=', c_b - c_a))
        return comp_error(c, line, col, "bad delimiter tag: delimiters may not contain '='");
    memcpy(otag, c->src + o_a, o_b - o_a);
    *olen = o_b - o_a;
    memcpy(ctag, c->src + c_a, c_b - c_a);
    *clen = c_b - c_a;
    return EV_OK;
}

/*
 * Pass 1: splits the source into text tokens (each ending at the latest at a
 * newline) and tag tokens, applying set-delimiter tags as they come.
 */
static int tokenize(comp_t *c)
{
    const char *src = c->src;
    size_t len = c->len;
    char otag[TMPL_MAX_DELIM + 1] = "{{", ctag[TMPL_MAX_DELIM + 2] = "}}";
    size_t olen = 2, clen = 2;
    size_t p = 0, line_start = 0, lineno = 0;
    int line = 1;

    while (p < len) {
        const char *hit = find_str(src + p, len - p, otag, olen);
        size_t text_end = hit ? (size_t)(hit - src) : len;
        while (p < text_end) {
            const char *nl = memchr(src + p, '\n', text_end - p);
            size_t e = nl ? (size_t)(nl - src) + 1 : text_end;
            tok_t *t = push_tok(c);
            t->kind = K_TEXT;
            t->a = p;
            t->b = e;
            t->line = line;
            t->col = (int)(p - line_start) + 1;
            t->lineno = lineno;
            if (nl) {
                line++;
                line_start = e;
                lineno++;
            }
            p = e;
        }
        if (!hit)
            break;

        int tline = line, tcol = (int)(p - line_start) + 1;
        size_t q = p + olen;
        int triple = q < len && src[q] == '{';
        char close[TMPL_MAX_DELIM + 2];
        size_t close_len = 0;
        if (triple)
            close[close_len++] = '}';
        memcpy(close + close_len, ctag, clen);
        close_len += clen;
        const char *ce = find_str(src + q, len - q, close, close_len);
        if (!ce)
            return comp_error(c, tline, tcol, "unclosed tag: no '%.*s' after '%.*s'",
                              (int)close_len, close, (int)olen, otag);
        size_t cend = (size_t)(ce - src), tag_end = cend + close_len;

        tok_t *t = push_tok(c);
        t->tag_start = p;
        t->tag_end = tag_end;
        t->line = tline;
        t->col = tcol;
        t->lineno = lineno;
        size_t a = q, b = cend;
        char sig = a < b ? src[a] : '\0';
        switch (sig) {
        case '{': t->kind = K_RAW; a++; break;
        case '&': t->kind = K_RAW; a++; break;
        case '#': t->kind = K_SECTION; a++; break;
        case '^': t->kind = K_INVERTED; a++; break;
        case '/': t->kind = K_CLOSE; a++; break;
        case '!': t->kind = K_COMMENT; a++; break;
        case '>': t->kind = K_PARTIAL; a++; break;
        case '<': t->kind = K_PARENT; a++; break;
        case '$': t->kind = K_BLOCK; a++; break;
        case '=': t->kind = K_DELIM; a++; break;
        default: t->kind = K_VAR; break;
        }
        if (t->kind == K_DELIM) {
            size_t e = b;
            while (e > a && is_ws(src[e - 1]))
                e--;
            if (e <= a || src[e - 1] != '=')
                return comp_error(c, tline, tcol, "bad delimiter tag: must end with '='");
            if (parse_delims(c, a, e - 1, otag, &olen, ctag, &clen, tline, tcol) != EV_OK)
                return EV_ERR;
        } else if (t->kind != K_COMMENT) {
            trim(src, &a, &b);
            size_t na = a;
            if ((t->kind == K_PARTIAL || t->kind == K_PARENT) && na < b && src[na] == '*') {
                na++;
                while (na < b && is_ws(src[na]))
                    na++;
            }
            if (!valid_name(src, na, b))
                return comp_error(c, tline, tcol, a >= b ? "empty tag name" : "tag name '%.*s' contains whitespace",
                                  (int)(b - a), src + a);
        }
        t->a = a;
        t->b = b;
        /* advance the physical line counter over newlines inside the tag */
        for (size_t i = p; i < tag_end; i++)
            if (src[i] == '\n') {
                line++;
                line_start = i + 1;
            }
        p = tag_end;
    }
    return EV_OK;
}

static int text_is_blank(const char *src, size_t a, size_t b)
{
    for (size_t i = a; i < b; i++) {
        char ch = src[i];
        if (ch == ' ' || ch == '\t')
            continue;
        if (ch == '\n' && i == b - 1)
            continue;
        if (ch == '\r' && i == b - 2 && src[b - 1] == '\n')
            continue;
        return 0;
    }
    return 1;
}

static int tok_name_eq(const comp_t *c, const tok_t *x, const tok_t *y)
{
    return x->b - x->a == y->b - y->a && memcmp(c->src + x->a, c->src + y->a, x->b - x->a) == 0;
}

/*
 * Pass 2: a line holding only whitespace and tags that print nothing
 * (sections, closes, comments, partials, parents, blocks, set delimiters) is
 * "standalone": its whitespace and line ending vanish, and a partial, parent
 * or block on it indents what it renders by that whitespace. One exception,
 * from the inheritance spec: a block opened and closed on its own line keeps
 * the line ending (it stands for content that may itself end mid-line).
 */
static void mark_standalone(comp_t *c)
{
    size_t nlines = c->ntoks ? c->toks[c->ntoks - 1].lineno + 1 : 0;
    c->lines = xcalloc(nlines ? nlines : 1, sizeof *c->lines);
    c->nlines = nlines;
    for (size_t i = 0; i < c->ntoks; i++) {
        lineinfo_t *l = &c->lines[c->toks[i].lineno];
        if (l->end == 0)
            l->first = i;
        l->end = i + 1;
    }
    for (size_t li = 0; li < nlines; li++) {
        lineinfo_t *l = &c->lines[li];
        if (l->end == 0)
            continue;
        int tags = 0, ok = 1;
        for (size_t i = l->first; i < l->end; i++) {
            tok_t *t = &c->toks[i];
            if (t->kind == K_TEXT) {
                if (!text_is_blank(c->src, t->a, t->b))
                    ok = 0;
            } else {
                tags++;
                if (t->kind == K_VAR || t->kind == K_RAW)
                    ok = 0;
            }
        }
        tok_t *f = &c->toks[l->first];
        l->ws_a = f->kind == K_TEXT ? f->a : f->tag_start;
        if (f->kind == K_TEXT)
            while (l->ws_a + l->ws_len < f->b &&
                   (c->src[l->ws_a + l->ws_len] == ' ' || c->src[l->ws_a + l->ws_len] == '\t'))
                l->ws_len++;
        l->blank = ok && !tags;
        if (!ok || !tags)
            continue;
        l->standalone = 1;
        int keep_nl = 0, seen_ind = 0;
        for (size_t i = l->first; i < l->end; i++) {
            tok_t *t = &c->toks[i];
            if (t->kind == K_TEXT) {
                t->drop = 1;
                continue;
            }
            t->standalone = 1;
            if (!seen_ind && (t->kind == K_PARTIAL || t->kind == K_PARENT || t->kind == K_BLOCK)) {
                t->first_ind = 1;
                seen_ind = 1;
            }
            if (t->kind == K_BLOCK && i + 1 < l->end && c->toks[i + 1].kind == K_CLOSE &&
                c->toks[i + 1].tag_start == t->tag_end && tok_name_eq(c, t, &c->toks[i + 1]))
                keep_nl = 1;
        }
        tok_t *last = &c->toks[l->end - 1];
        if (keep_nl && last->kind == K_TEXT && c->src[last->b - 1] == '\n') {
            size_t a = last->b - 1;
            if (a > last->a && c->src[a - 1] == '\r')
                a--;
            last->a = a;
            last->drop = 0;
        }
    }
}

/* Pass 3: pairs opening and closing tags, reporting any mismatch. */
static int match_sections(comp_t *c)
{
    size_t stack[TMPL_MAX_NEST];
    size_t depth = 0;
    for (size_t i = 0; i < c->ntoks; i++) {
        tok_t *t = &c->toks[i];
        switch (t->kind) {
        case K_SECTION:
        case K_INVERTED:
        case K_PARENT:
        case K_BLOCK:
            if (depth == TMPL_MAX_NEST)
                return comp_error(c, t->line, t->col, "sections nested deeper than %d", TMPL_MAX_NEST);
            stack[depth++] = i;
            break;
        case K_CLOSE: {
            if (depth == 0)
                return comp_error(c, t->line, t->col, "closing tag '%.*s' has no open section",
                                  (int)(t->b - t->a), c->src + t->a);
            tok_t *o = &c->toks[stack[depth - 1]];
            if (!tok_name_eq(c, o, t))
                return comp_error(c, t->line, t->col,
                                  "closing tag '%.*s' does not match '%.*s' opened at line %d column %d",
                                  (int)(t->b - t->a), c->src + t->a, (int)(o->b - o->a), c->src + o->a,
                                  o->line, o->col);
            o->match = i;
            t->match = stack[--depth];
            break;
        }
        default:
            break;
        }
    }
    if (depth) {
        tok_t *o = &c->toks[stack[depth - 1]];
        return comp_error(c, o->line, o->col, "section '%.*s' is never closed", (int)(o->b - o->a),
                          c->src + o->a);
    }
    return EV_OK;
}

/*
 * Pass 4: a block whose opening tag stands alone on its line has its content
 * dedented (the whitespace common to its lines is removed where it is
 * defined); where the block is expanded, the content is re-indented by the
 * block's own indentation: that of its default content, else that of its tag.
 * Outer blocks are processed first, as they come first in the source.
 */
static void dedent_blocks(comp_t *c)
{
    for (size_t i = 0; i < c->ntoks; i++) {
        tok_t *t = &c->toks[i];
        if (t->kind != K_BLOCK || !t->standalone)
            continue;
        tok_t *cl = &c->toks[t->match];
        size_t lo = t->lineno + 1, hi = cl->lineno + (cl->standalone ? 0 : 1);
        if (cl->lineno == t->lineno || lo >= hi)
            continue;
        size_t m_a = 0, m_len = 0;
        int have = 0;
        for (size_t li = lo; li < hi; li++) {
            lineinfo_t *l = &c->lines[li];
            if (l->blank || l->end == 0)
                continue;
            size_t a = l->ws_a + l->strip, n = l->ws_len - l->strip;
            if (!have) {
                m_a = a;
                m_len = n;
                have = 1;
            } else {
                size_t k = 0;
                while (k < m_len && k < n && c->src[m_a + k] == c->src[a + k])
                    k++;
                m_len = k;
            }
        }
        for (size_t li = lo; li < hi; li++) {
            lineinfo_t *l = &c->lines[li];
            if (l->blank)
                l->strip = l->ws_len;
            else if (!(l->end == 0))
                l->strip += m_len < l->ws_len - l->strip ? m_len : l->ws_len - l->strip;
        }
        if (have && m_len) {
            t->has_margin = 1;
            t->margin_a = m_a;
            t->margin_b = m_a + m_len;
        }
    }
}

static void free_nodes(node_t *n, size_t count);

static void free_node(node_t *n)
{
    free(n->str);
    for (int i = 0; i < n->npath; i++)
        free(n->path[i].key);
    free(n->path);
    free(n->indent);
    free_nodes(n->kids, n->nkids);
}

static void free_nodes(node_t *n, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free_node(&n[i]);
    free(n);
}

typedef struct nvec {
    node_t *v;
    size_t n, cap;
    size_t open; /* token that opened this level */
} nvec_t;

static node_t *nvec_push(nvec_t *v)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 8;
        v->v = xrealloc(v->v, v->cap * sizeof *v->v);
    }
    node_t *n = &v->v[v->n++];
    memset(n, 0, sizeof *n);
    return n;
}

/* Splits a dotted name into steps; "." is the empty path. */
static void set_path(node_t *n, const char *s, size_t len)
{
    if (len == 1 && s[0] == '.')
        return;
    int parts = 1;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '.')
            parts++;
    n->path = xcalloc((size_t)parts, sizeof *n->path);
    size_t a = 0;
    for (int k = 0; k < parts; k++) {
        size_t b = a;
        while (b < len && s[b] != '.')
            b++;
        seg_t *sg = &n->path[k];
        sg->key = xstrndup(s + a, b - a);
        sg->idx = -1;
        if (b > a && b - a < 10) {
            long v = 0;
            size_t i;
            for (i = a; i < b && s[i] >= '0' && s[i] <= '9'; i++)
                v = v * 10 + (s[i] - '0');
            if (i == b)
                sg->idx = v;
        }
        a = b + 1;
    }
    n->npath = parts;
}

static void flush_text(nvec_t *lvl, buf_t *text)
{
    if (!text->len)
        return;
    node_t *n = nvec_push(lvl);
    n->type = N_TEXT;
    n->len = text->len;
    n->str = buf_take(text);
}

/* Pass 5: builds the node tree from the tokens. */
static int build_tree(comp_t *c, tmpl_t *t)
{
    nvec_t levels[TMPL_MAX_NEST + 1];
    size_t depth = 0;
    buf_t text = {0};
    memset(&levels[0], 0, sizeof levels[0]);

    for (size_t i = 0; i < c->ntoks; i++) {
        tok_t *k = &c->toks[i];
        nvec_t *lvl = &levels[depth];
        lineinfo_t *l = &c->lines[k->lineno];
        if (k->kind == K_TEXT) {
            if (k->drop)
                continue;
            size_t a = k->a;
            if (i == l->first)
                a += l->strip;
            buf_append(&text, c->src + a, k->b - a);
            continue;
        }
        if (k->kind == K_COMMENT || k->kind == K_DELIM)
            continue;
        flush_text(lvl, &text);
        if (k->kind == K_SECTION || k->kind == K_INVERTED || k->kind == K_PARENT || k->kind == K_BLOCK) {
            depth++;
            memset(&levels[depth], 0, sizeof levels[depth]);
            levels[depth].open = i;
            continue;
        }
        if (k->kind == K_CLOSE) {
            nvec_t done = levels[depth--];
            tok_t *o = &c->toks[done.open];
            lvl = &levels[depth];
            node_t *n = nvec_push(lvl);
            n->type = o->kind == K_SECTION ? N_SECTION : o->kind == K_INVERTED ? N_INVERTED
                    : o->kind == K_PARENT ? N_PARENT : N_BLOCK;
            k = o; /* the node takes the opening tag's name and place */
            if (n->type == N_PARENT) {
                /* only blocks matter inside a parent; drop the rest */
                size_t w = 0;
                for (size_t r = 0; r < done.n; r++) {
                    if (done.v[r].type == N_BLOCK)
                        done.v[w++] = done.v[r];
                    else
                        free_node(&done.v[r]);
                }
                done.n = w;
            }
            n->kids = done.v;
            n->nkids = done.n;
        } else {
            node_t *n = nvec_push(lvl);
            n->type = k->kind == K_VAR ? N_VAR : k->kind == K_RAW ? N_RAW : N_PARTIAL;
        }
        node_t *n = &lvl->v[lvl->n - 1];
        l = &c->lines[k->lineno];
        n->line = k->line;
        n->col = k->col;
        size_t na = k->a;
        if ((n->type == N_PARTIAL || n->type == N_PARENT) && c->src[na] == '*') {
            n->dynamic = 1;
            na++;
            while (na < k->b && is_ws(c->src[na]))
                na++;
        }
        n->str = xstrndup(c->src + k->a, k->b - k->a);
        n->len = k->b - k->a;
        if (n->type == N_VAR || n->type == N_RAW || n->type == N_SECTION || n->type == N_INVERTED ||
            n->dynamic)
            set_path(n, c->src + na, k->b - na);
        if ((n->type == N_PARTIAL || n->type == N_PARENT || n->type == N_BLOCK) && k->standalone) {
            n->standalone = 1;
            size_t ia = 0, ib = 0;
            if (n->type == N_BLOCK && k->has_margin) {
                ia = k->margin_a;
                ib = k->margin_b;
            } else if (k->first_ind) {
                ia = l->ws_a + l->strip;
                ib = l->ws_a + l->ws_len;
            }
            n->indent = xstrndup(c->src + ia, ib - ia);
            n->indent_len = ib - ia;
        }
    }
    flush_text(&levels[0], &text);
    t->nodes = levels[0].v;
    t->n = levels[0].n;
    return EV_OK;
}

tmpl_t *tmpl_compile(const char *name, const char *src, size_t len, char *err, size_t errlen)
{
    comp_t c = {0};
    tmpl_t *t = NULL;
    c.name = name ? name : "template";
    c.src = src ? src : "";
    c.len = src ? len : 0;
    c.err = err;
    c.errlen = errlen;
    if (err && errlen)
        err[0] = '\0';

    if (tokenize(&c) != EV_OK)
        goto out;
    mark_standalone(&c);
    if (match_sections(&c) != EV_OK)
        goto out;
    dedent_blocks(&c);
    t = xcalloc(1, sizeof *t);
    t->name = xstrdup(c.name);
    build_tree(&c, t);
out:
    free(c.toks);
    free(c.lines);
    return t;
}

void tmpl_free(tmpl_t *t)
{
    if (!t)
        return;
    free_nodes(t->nodes, t->n);
    free(t->name);
    free(t);
}

/* ------------------------------------------------------------------ */
/* Rendering                                                           */
/* ------------------------------------------------------------------ */

typedef struct frame {
    const node_t *kids; /* a parent tag's blocks: the overrides it passes down */
    size_t n;
} frame_t;

typedef struct rstate {
    tmpl_lookup_fn lookup;
    void *lctx;
    buf_t *out;
    json_t **ctx; /* the context stack; ctx[nctx-1] is the top */
    size_t nctx, capctx;
    frame_t *frames;
    size_t nframes, capframes;
    buf_t indent;   /* current indentation for template lines */
    int pending;    /* at the start of a template line: indent before the next output */
    int depth, pdepth;
    long steps;
    const char *tname;
    char *err;
    size_t errlen;
} rstate_t;

static int render_error(rstate_t *r, const node_t *n, const char *fmt, ...) EV_PRINTF(3, 4);

static int render_error(rstate_t *r, const node_t *n, const char *fmt, ...)
{
    if (r->err && r->errlen && !r->err[0]) {
        int k = n ? snprintf(r->err, r->errlen, "%s:%d:%d: ", r->tname, n->line, n->col)
                  : snprintf(r->err, r->errlen, "%s: ", r->tname);
        if (k >= 0 && (size_t)k < r->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(r->err + k, r->errlen - (size_t)k, fmt, ap);
            va_end(ap);
        }
    }
    return EV_ERR;
}

static void ctx_push(rstate_t *r, json_t *v)
{
    if (r->nctx == r->capctx) {
        r->capctx = r->capctx ? r->capctx * 2 : 16;
        r->ctx = xrealloc(r->ctx, r->capctx * sizeof *r->ctx);
    }
    r->ctx[r->nctx++] = v;
}

static json_t *step(json_t *v, const seg_t *s)
{
    if (json_is_object(v))
        return json_object_get(v, s->key);
    if (json_is_array(v) && s->idx >= 0)
        return json_array_get(v, (size_t)s->idx);
    return NULL;
}

/* Resolves a (dotted) name against the context stack; NULL when missing. */
static json_t *resolve(rstate_t *r, const node_t *n)
{
    if (r->nctx == 0)
        return NULL;
    if (n->npath == 0)
        return r->ctx[r->nctx - 1];
    json_t *v = NULL;
    for (size_t i = r->nctx; i-- > 0;) {
        v = step(r->ctx[i], &n->path[0]);
        if (v)
            break;
    }
    for (int k = 1; v && k < n->npath; k++)
        v = step(v, &n->path[k]);
    return v;
}

/* Mustache truthiness, as in JavaScript implementations: false, null, missing,
 * empty lists, empty strings and zero are false. */
static int truthy(json_t *v)
{
    if (!v)
        return 0;
    switch (json_typeof(v)) {
    case JSON_FALSE:
    case JSON_NULL: return 0;
    case JSON_ARRAY: return json_array_size(v) > 0;
    case JSON_STRING: return json_string_length(v) > 0;
    case JSON_INTEGER: return json_integer_value(v) != 0;
    case JSON_REAL: return json_real_value(v) != 0.0;
    default: return 1;
    }
}

/* Before any output at the start of a template line, the indentation. */
static inline void put_indent(rstate_t *r)
{
    if (r->pending) {
        r->pending = 0;
        buf_append(r->out, r->indent.data, r->indent.len);
    }
}

static void put_text(rstate_t *r, const char *s, size_t len)
{
    if (r->indent.len == 0) {
        buf_append(r->out, s, len);
        return;
    }
    while (len) {
        const char *nl = memchr(s, '\n', len);
        size_t seg = nl ? (size_t)(nl - s) + 1 : len;
        int empty_line = s[0] == '\n' || (seg == 2 && s[0] == '\r');
        if (r->pending && !empty_line)
            put_indent(r);
        r->pending = 0;
        buf_append(r->out, s, seg);
        if (nl)
            r->pending = 1;
        s += seg;
        len -= seg;
    }
}

/* Shortest "%g" form that reads back as the same double. */
static int fmt_real(char *buf, size_t size, double d)
{
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(buf, size, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    return n;
}

static void put_value(rstate_t *r, json_t *v, int escape)
{
    char num[40];
    const char *s;
    size_t len;
    switch (json_typeof(v)) {
    case JSON_STRING:
        s = json_string_value(v);
        len = json_string_length(v);
        break;
    case JSON_INTEGER:
        len = (size_t)snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        s = num;
        break;
    case JSON_REAL:
        len = (size_t)fmt_real(num, sizeof num, json_real_value(v));
        s = num;
        break;
    case JSON_TRUE: s = "true"; len = 4; break;
    case JSON_FALSE: s = "false"; len = 5; break;
    default: return; /* null, objects and arrays print nothing */
    }
    if (!len)
        return;
    if (r->indent.len)
        put_indent(r);
    if (escape)
        html_escape(r->out, s, len);
    else
        buf_append(r->out, s, len);
}

static int render_nodes(rstate_t *r, const node_t *nodes, size_t count);

/* Renders t's nodes as a partial or parent: indented when standalone. */
static int render_included(rstate_t *r, const node_t *n, const tmpl_t *t)
{
    if (r->pdepth >= TMPL_MAX_PARTIAL)
        return render_error(r, n, "partials nested deeper than %d (recursive '%s'?)", TMPL_MAX_PARTIAL,
                            t->name);
    size_t saved = r->indent.len;
    const char *saved_name = r->tname;
    if (n->standalone) {
        buf_append(&r->indent, n->indent, n->indent_len);
        r->pending = 1;
    }
    r->pdepth++;
    r->tname = t->name;
    int rc = render_nodes(r, t->nodes, t->n);
    r->tname = saved_name;
    r->pdepth--;
    r->indent.len = saved;
    return rc;
}

static const tmpl_t *find_included(rstate_t *r, const node_t *n)
{
    const char *name = n->str;
    if (n->dynamic) {
        json_t *v = resolve(r, n);
        if (!json_is_string(v))
            return NULL;
        name = json_string_value(v);
    }
    return r->lookup ? r->lookup(r->lctx, name) : NULL;
}

static int render_node(rstate_t *r, const node_t *n)
{
    json_t *v;
    if (++r->steps > TMPL_MAX_STEPS)
        return render_error(r, n, "rendering takes more than %ld steps", (long)TMPL_MAX_STEPS);
    switch (n->type) {
    case N_TEXT:
        put_text(r, n->str, n->len);
        return EV_OK;
    case N_VAR:
    case N_RAW:
        v = resolve(r, n);
        if (v)
            put_value(r, v, n->type == N_VAR);
        return EV_OK;
    case N_SECTION:
        v = resolve(r, n);
        if (json_is_array(v)) {
            size_t count = json_array_size(v);
            for (size_t i = 0; i < count; i++) {
                ctx_push(r, json_array_get(v, i));
                int rc = render_nodes(r, n->kids, n->nkids);
                r->nctx--;
                if (rc != EV_OK)
                    return rc;
            }
            return EV_OK;
        }
        if (truthy(v)) {
            ctx_push(r, v);
            int rc = render_nodes(r, n->kids, n->nkids);
            r->nctx--;
            return rc;
        }
        return EV_OK;
    case N_INVERTED:
        v = resolve(r, n);
        return truthy(v) ? EV_OK : render_nodes(r, n->kids, n->nkids);
    case N_PARTIAL: {
        const tmpl_t *t = find_included(r, n);
        return t ? render_included(r, n, t) : EV_OK;
    }
    case N_PARENT: {
        const tmpl_t *t = find_included(r, n);
        if (!t)
            return EV_OK;
        if (r->nframes == r->capframes) {
            r->capframes = r->capframes ? r->capframes * 2 : 8;
            r->frames = xrealloc(r->frames, r->capframes * sizeof *r->frames);
        }
        r->frames[r->nframes].kids = n->kids;
        r->frames[r->nframes].n = n->nkids;
        r->nframes++;
        int rc = render_included(r, n, t);
        r->nframes--;
        return rc;
    }
    case N_BLOCK: {
        /* The outermost override wins: the page over its layout's own parent. */
        const node_t *body = n->kids;
        size_t count = n->nkids;
        for (size_t f = 0; f < r->nframes; f++) {
            const frame_t *fr = &r->frames[f];
            for (size_t k = 0; k < fr->n; k++)
                if (fr->kids[k].len == n->len && memcmp(fr->kids[k].str, n->str, n->len) == 0) {
                    body = fr->kids[k].kids;
                    count = fr->kids[k].nkids;
                    goto found;
                }
        }
    found:;
        size_t saved = r->indent.len;
        if (n->standalone) {
            buf_append(&r->indent, n->indent, n->indent_len);
            r->pending = 1;
        }
        int rc = render_nodes(r, body, count);
        r->indent.len = saved;
        return rc;
    }
    }
    return EV_OK;
}

static int render_nodes(rstate_t *r, const node_t *nodes, size_t count)
{
    if (r->depth >= TMPL_MAX_DEPTH)
        return render_error(r, count ? &nodes[0] : NULL, "template nesting deeper than %d", TMPL_MAX_DEPTH);
    r->depth++;
    int rc = EV_OK;
    for (size_t i = 0; i < count && rc == EV_OK; i++)
        rc = render_node(r, &nodes[i]);
    r->depth--;
    return rc;
}

int tmpl_render(const tmpl_t *t, json_t *data, tmpl_lookup_fn lookup, void *ctx, buf_t *out, char *err,
                size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!t || !out) {
        if (err && errlen)
            snprintf(err, errlen, "no template to render");
        return EV_ERR;
    }
    rstate_t r = {0};
    r.lookup = lookup;
    r.lctx = ctx;
    r.out = out;
    r.tname = t->name;
    r.err = err;
    r.errlen = errlen;
    if (data)
        ctx_push(&r, data);
    if (!out->data)
        buf_append(out, "", 0); /* the output is a string even when empty */
    int rc = render_nodes(&r, t->nodes, t->n);
    free(r.ctx);
    free(r.frames);
    buf_free(&r.indent);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Template sets: every NAME.mustache of a directory                    */
/* ------------------------------------------------------------------ */

#define TMPL_EXT ".mustache"
#define TMPL_MAX_FILE (4u << 20) /* templates larger than 4 MB are refused */

typedef struct entry {
    char *name;       /* file name without .mustache */
    tmpl_t *t;        /* NULL when the file failed to compile (dev mode) */
    char *err;        /* that failure */
    struct timespec mtime;
    off_t size;
    ino_t ino;
} entry_t;

struct tmpl_set {
    char *dir;
    int dev;
    pthread_rwlock_t lock; /* dev mode: reloads write, renders read */
    entry_t *e;            /* sorted by name */
    size_t n;
};

/* Reads a whole file into a malloc'd NUL-terminated buffer; NULL with a message. */
static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    char *data = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    buf_t b = {0};
    char chunk[16384];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b.len + n > TMPL_MAX_FILE) {
            snprintf(err, errlen, "%s: larger than %u bytes", path, TMPL_MAX_FILE);
            goto out;
        }
        buf_append(&b, chunk, n);
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    *len = b.len;
    data = buf_take(&b);
out:
    buf_free(&b);
    fclose(f);
    return data;
}

/* Compiles one file; the template is named after the file for messages. */
static tmpl_t *compile_file(const char *path, char *err, size_t errlen)
{
    size_t len = 0;
    char *src = read_file(path, &len, err, errlen);
    if (!src)
        return NULL;
    tmpl_t *t = tmpl_compile(path, src, len, err, errlen);
    free(src);
    return t;
}

static void entry_clear(entry_t *e)
{
    free(e->name);
    tmpl_free(e->t);
    free(e->err);
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const entry_t *)a)->name, ((const entry_t *)b)->name);
}

static entry_t *set_find(const tmpl_set_t *s, const char *name)
{
    entry_t key = {.name = (char *)name};
    if (!s->n)
        return NULL;
    return bsearch(&key, s->e, s->n, sizeof *s->e, entry_cmp);
}

static int same_file(const entry_t *e, const struct stat *st)
{
    return e->size == st->st_size && e->ino == st->st_ino && e->mtime.tv_sec == st->st_mtim.tv_sec &&
           e->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/*
 * Scans s->dir and (re)compiles what is new or changed, reusing unchanged
 * entries. keep_errors: a file that fails to compile stays in the set with
 * its message (dev mode); otherwise the first failure is returned.
 * Call with the write lock held (or before the set is shared).
 */
static int set_scan(tmpl_set_t *s, int keep_errors, char *err, size_t errlen)
{
    int rc = EV_ERR;
    entry_t *ne = NULL;
    size_t nn = 0, cap = 0;
    DIR *d = opendir(s->dir);
    if (!d) {
        snprintf(err, errlen, "%s: %s", s->dir, strerror(errno));
        return EV_ERR;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t nl = strlen(de->d_name), el = strlen(TMPL_EXT);
        if (nl <= el || de->d_name[0] == '.' || strcmp(de->d_name + nl - el, TMPL_EXT) != 0)
            continue;
        char *path = fmtalloc("%s/%s", s->dir, de->d_name);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(path);
            continue;
        }
        if (nn == cap) {
            cap = cap ? cap * 2 : 32;
            ne = xrealloc(ne, cap * sizeof *ne);
        }
        entry_t *e = &ne[nn];
        memset(e, 0, sizeof *e);
        e->name = xstrndup(de->d_name, nl - el);
        entry_t *old = set_find(s, e->name);
        if (old && same_file(old, &st)) {
            free(e->name);
            *e = *old;
            memset(old, 0, sizeof *old); /* moved */
            old->name = xstrdup(e->name); /* keep the old array sorted and freeable */
        } else {
            char msg[512];
            e->t = compile_file(path, msg, sizeof msg);
            e->mtime = st.st_mtim;
            e->size = st.st_size;
            e->ino = st.st_ino;
            if (!e->t) {
                if (!keep_errors) {
                    snprintf(err, errlen, "%s", msg);
                    free(path);
                    nn++;
                    goto out;
                }
                e->err = xstrdup(msg);
            }
        }
        free(path);
        nn++;
    }
    if (nn)
        qsort(ne, nn, sizeof *ne, entry_cmp);
    for (size_t i = 0; i < s->n; i++)
        entry_clear(&s->e[i]);
    free(s->e);
    s->e = ne;
    s->n = nn;
    ne = NULL;
    nn = 0;
    rc = EV_OK;
out:
    for (size_t i = 0; i < nn; i++)
        entry_clear(&ne[i]);
    free(ne);
    closedir(d);
    return rc;
}

/* Dev mode: has anything in the directory changed since the last scan? */
static int set_stale(tmpl_set_t *s)
{
    DIR *d = opendir(s->dir);
    if (!d)
        return 1;
    size_t seen = 0;
    int stale = 0;
    struct dirent *de;
    while (!stale && (de = readdir(d)) != NULL) {
        size_t nl = strlen(de->d_name), el = strlen(TMPL_EXT);
        if (nl <= el || de->d_name[0] == '.' || strcmp(de->d_name + nl - el, TMPL_EXT) != 0)
            continue;
        char *path = fmtalloc("%s/%s", s->dir, de->d_name);
        char *name = xstrndup(de->d_name, nl - el);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            entry_t *e = set_find(s, name);
            if (!e || !same_file(e, &st))
                stale = 1;
            seen++;
        }
        free(name);
        free(path);
    }
    closedir(d);
    return stale || seen != s->n;
}

tmpl_set_t *tmpl_set_load(const char *dir, int dev, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    char dummy[8];
    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof dummy;
    }
    tmpl_set_t *s = xcalloc(1, sizeof *s);
    s->dir = xstrdup(dir);
    s->dev = dev;
    pthread_rwlock_init(&s->lock, NULL);
    if (set_scan(s, 0, err, errlen) != EV_OK) {
        tmpl_set_free(s);
        return NULL;
    }
    return s;
}

void tmpl_set_free(tmpl_set_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        entry_clear(&s->e[i]);
    free(s->e);
    free(s->dir);
    pthread_rwlock_destroy(&s->lock);
    free(s);
}

/* In dev mode, reloads changed files; then takes the read lock. */
static void set_enter(tmpl_set_t *s)
{
    if (!s->dev)
        return;
    pthread_rwlock_rdlock(&s->lock);
    int stale = set_stale(s);
    pthread_rwlock_unlock(&s->lock);
    if (stale) {
        char msg[512];
        pthread_rwlock_wrlock(&s->lock);
        if (set_stale(s) && set_scan(s, 1, msg, sizeof msg) != EV_OK)
            ev_log("templates: %s", msg);
        pthread_rwlock_unlock(&s->lock);
    }
    pthread_rwlock_rdlock(&s->lock);
}

static void set_leave(tmpl_set_t *s)
{
    if (s->dev)
        pthread_rwlock_unlock(&s->lock);
}

typedef struct set_lookup {
    tmpl_set_t *s;
    const char *bad; /* a partial that failed to compile (dev mode) */
} set_lookup_t;

static const tmpl_t *set_lookup_fn(void *ctx, const char *name)
{
    set_lookup_t *l = ctx;
    entry_t *e = set_find(l->s, name);
    if (!e)
        return NULL;
    if (!e->t && !l->bad)
        l->bad = e->err;
    return e->t;
}

int tmpl_set_render(tmpl_set_t *s, const char *name, json_t *data, buf_t *out, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!s || !name) {
        if (err && errlen)
            snprintf(err, errlen, "no template set");
        return EV_ERR;
    }
    set_enter(s);
    int rc = EV_ERR;
    entry_t *e = set_find(s, name);
    if (!e) {
        if (err && errlen)
            snprintf(err, errlen, "no template '%s' in %s", name, s->dir);
    } else if (!e->t) {
        if (err && errlen)
            snprintf(err, errlen, "%s", e->err);
    } else {
        set_lookup_t l = {s, NULL};
        rc = tmpl_render(e->t, data, set_lookup_fn, &l, out, err, errlen);
        if (rc == EV_OK && l.bad) {
            if (err && errlen)
                snprintf(err, errlen, "%s", l.bad);
            rc = EV_ERR;
        }
    }
    set_leave(s);
    return rc;
}

int tmpl_set_has(tmpl_set_t *s, const char *name)
{
    if (!s || !name)
        return 0;
    set_enter(s);
    int has = set_find(s, name) != NULL;
    set_leave(s);
    return has;
}

/* ------------------------------------------------------------------ */
/* evitrack render [--partials DIR] TEMPLATE_FILE DATA_JSON_FILE        */
/* ------------------------------------------------------------------ */

typedef struct cli_partials {
    const char *dir;
    char **names;
    tmpl_t **t;
    size_t n;
    char err[512]; /* first partial that failed to load or compile */
} cli_partials_t;

static const tmpl_t *cli_lookup(void *ctx, const char *name)
{
    cli_partials_t *p = ctx;
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->names[i], name) == 0)
            return p->t[i];
    /* names stay inside DIR: no absolute paths, no "..", no hidden files */
    if (!p->dir || !*name || name[0] == '/' || name[0] == '.' || strstr(name, ".."))
        return NULL;
    char *path = fmtalloc("%s/%s" TMPL_EXT, p->dir, name);
    tmpl_t *t = NULL;
    struct stat st;
    if (stat(path, &st) == 0) {
        char msg[512];
        t = compile_file(path, msg, sizeof msg);
        if (!t && !p->err[0])
            snprintf(p->err, sizeof p->err, "%s", msg);
    }
    free(path);
    p->names = xrealloc(p->names, (p->n + 1) * sizeof *p->names);
    p->t = xrealloc(p->t, (p->n + 1) * sizeof *p->t);
    p->names[p->n] = xstrdup(name);
    p->t[p->n] = t;
    p->n++;
    return t;
}

int tmpl_cli_render(int argc, char **argv)
{
    static const char usage[] = "usage: evitrack render [--partials DIR] TEMPLATE_FILE DATA_JSON_FILE\n";
    const char *dir = NULL, *files[2] = {NULL, NULL};
    int nfiles = 0, code = 1;
    char err[1024] = "";
    tmpl_t *t = NULL;
    json_t *data = NULL;
    char *tdir = NULL;
    buf_t out = {0};
    cli_partials_t parts = {0};

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--partials") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else if (strncmp(argv[i], "--partials=", 11) == 0) {
            dir = argv[i] + 11;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "evitrack render: unknown option %s\n%s", argv[i], usage);
            return 2;
        } else if (nfiles < 2) {
            files[nfiles++] = argv[i];
        } else {
            fputs(usage, stderr);
            return 2;
        }
    }
    if (nfiles != 2) {
        fputs(usage, stderr);
        return 2;
    }
    t = compile_file(files[0], err, sizeof err);
    if (!t) {
        fprintf(stderr, "evitrack render: %s\n", err);
        goto out;
    }
    json_error_t jerr;
    data = json_load_file(files[1], JSON_DECODE_ANY, &jerr);
    if (!data) {
        if (jerr.line > 0)
            fprintf(stderr, "evitrack render: %s:%d:%d: %s\n", files[1], jerr.line, jerr.column, jerr.text);
        else
            fprintf(stderr, "evitrack render: %s: %s\n", files[1], jerr.text);
        goto out;
    }
    if (!dir) {
        /* partials default to the template's own directory */
        tdir = xstrdup(files[0]);
        char *slash = strrchr(tdir, '/');
        if (slash)
            *slash = '\0';
        else {
            free(tdir);
            tdir = xstrdup(".");
        }
        dir = tdir;
    }
    parts.dir = dir;
    if (tmpl_render(t, data, cli_lookup, &parts, &out, err, sizeof err) != EV_OK) {
        fprintf(stderr, "evitrack render: %s\n", err);
        goto out;
    }
    if (parts.err[0]) {
        fprintf(stderr, "evitrack render: %s\n", parts.err);
        goto out;
    }
    if (out.len && fwrite(out.data, 1, out.len, stdout) != out.len) {
        fprintf(stderr, "evitrack render: writing output: %s\n", strerror(errno));
        goto out;
    }
    if (fflush(stdout) != 0)
        goto out;
    code = 0;
out:
    for (size_t i = 0; i < parts.n; i++) {
        free(parts.names[i]);
        tmpl_free(parts.t[i]);
    }
    free(parts.names);
    free(parts.t);
    free(tdir);
    buf_free(&out);
    json_decref(data);
    tmpl_free(t);
    return code;
}
