/* spectext.c: reads unit pages and unit handbook text (as awarding bodies publish them) into canonical JSON */
#include "spectext.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

/* One non-blank line of the document. */
typedef struct tline {
    char *text;  /* trimmed, bullet removed, spaces collapsed (owned) */
    int no;      /* 1-based line number in the file */
    int bullet;  /* it began with a list bullet (•, -, *, ▪, ◦, o) */
    int drop;    /* page furniture: ignored */
} tline_t;

/* What the lines under the latest heading are. */
enum { SEC_TOP, SEC_SYNOPSIS, SEC_STRUCT, SEC_GUIDANCE, SEC_SKIP };

/* What a continuation line is appended to. */
enum { CUR_NONE, CUR_TITLE, CUR_SYNOPSIS, CUR_OUTCOME, CUR_CRIT, CUR_SUB, CUR_GUIDANCE };

typedef struct tctx {
    tline_t *lines;
    size_t n;
    json_t *warnings;
    specimport_error_t *err;
    json_t *units;      /* parsed units (with "_line" and other private keys) */
    json_t *unit;       /* the current one (borrowed from units) */
    json_t *qual;       /* qualification fields named by labels */
    int sec;
    const char *gkind;  /* guidance kind of SEC_GUIDANCE */
    int cur;            /* CUR_* */
    json_t *cur_obj;    /* what CUR_* appends to */
    int unit_page;      /* saw the unit page's markers */
    int struct_seen;    /* saw an outcome or criteria heading */
} tctx_t;

static void t_err(tctx_t *c, int line, const char *fmt, ...) EV_PRINTF(3, 4);

static void t_err(tctx_t *c, int line, const char *fmt, ...)
{
    c->err->line = line;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err->reason, sizeof c->err->reason, fmt, ap);
    va_end(ap);
}

static void t_warn(tctx_t *c, int line, const char *fmt, ...) EV_PRINTF(3, 4);

static void t_warn(tctx_t *c, int line, const char *fmt, ...)
{
    buf_t b = {0};
    buf_printf(&b, "line %d: ", line);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    json_array_append_new(c->warnings, json_string(b.data));
    buf_free(&b);
}

/* ---- line helpers ---- */

/* Length of a leading bullet ("• ", "- ", "* ", "▪ ", "◦ ", "o ", "– ", "· ") in s, else 0. */
static size_t bullet_len(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = 0;
    if (p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0xA2 || p[2] == 0x93)) /* • – */
        n = 3;
    else if (p[0] == 0xE2 && p[1] == 0x96 && (p[2] == 0xAA || p[2] == 0xA0)) /* ▪ ■ */
        n = 3;
    else if (p[0] == 0xE2 && p[1] == 0x97 && (p[2] == 0xA6 || p[2] == 0x8F)) /* ◦ ● */
        n = 3;
    else if (p[0] == 0xEF && p[1] == 0x82 && p[2] == 0xB7) /* U+F0B7, Symbol-font bullet from PDFs */
        n = 3;
    else if (p[0] == 0xC2 && p[1] == 0xB7) /* · */
        n = 2;
    else if ((p[0] == '-' || p[0] == '*' || p[0] == 'o') && (p[1] == ' ' || p[1] == '\t'))
        n = 1;
    else
        return 0;
    if (p[n] != ' ' && p[n] != '\t' && p[n] != '\0')
        return n == 1 ? 0 : n; /* "-word" is not a bullet; "•word" is */
    while (p[n] == ' ' || p[n] == '\t')
        n++;
    return n;
}

/* A lower-case copy without a trailing colon, for heading comparisons (caller frees). */
static char *heading_key(const char *s)
{
    char *k = xstrdup(s);
    size_t n = strlen(k);
    while (n && (k[n - 1] == ':' || k[n - 1] == ' '))
        k[--n] = '\0';
    for (char *p = k; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return k;
}

static const char *const synopsis_headings[] = {
    "overview", "unit overview", "unit summary", "unit aim", "unit aims", "aim", "aims", "unit purpose",
    "purpose", "unit purpose and aim", "unit aim and purpose", "about this unit", "unit introduction",
    "introduction", "unit description", "summary", NULL,
};
static const char *const assessment_headings[] = {
    "assessment guidance", "guidance on assessment", "evidence requirements", "assessment requirements",
    "assessment", "assessment methods", "assessment method", "assessment strategy", "assessment information", NULL,
};
static const char *const skip_headings[] = {
    "range", "unit content", "indicative content", "content", "delivery guidance", "guidance for delivery",
    "delivery", "additional information", "resources", "suggested resources", "links to nos",
    "relationship to nos", "relationship to national occupational standards",
    "relationship to occupational standards", "amplification", "unit guidance", "supporting information",
    "key skills", "functional skills", "additional guidance", "learning resources", "useful resources",
    "further information", "links to other units", "contents", "table of contents", "appendix",
    "guidance for tutors", "tutor guidance", "unit amplification", "essential content", NULL,
};

static int in_list(const char *key, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(key, list[i]) == 0)
            return 1;
    return 0;
}

/* 1 when s is a learning-outcome / assessment-criteria heading, possibly two
 * run together by a table ("Learning outcomes Assessment criteria",
 * "The learner will: The learner can:"). */
static int struct_heading(const char *s)
{
    static const char *const phrases[] = {
        "unit learning outcomes", "learning outcomes", "learning outcome", "assessment criteria",
        "assessment criterion", "the learner will", "the learner can", "learners will", "learners can",
        "the learner must be able to", "(lo)", "(ac)", NULL,
    };
    char *k = heading_key(s);
    int found = 0;
    for (int again = 1; again;) {
        again = 0;
        for (size_t i = 0; phrases[i]; i++) {
            char *at = strstr(k, phrases[i]);
            if (at) {
                memset(at, ' ', strlen(phrases[i]));
                found = again = 1;
            }
        }
    }
    int rest = 0;
    for (char *tok = strtok(k, " "); tok && !rest; tok = strtok(NULL, " "))
        if (strcmp(tok, "and") != 0 && strspn(tok, ":-|&/") != strlen(tok))
            rest = 1;
    free(k);
    return found && !rest;
}

static const char *const other_headings[] = {
    "key terms", "glossary", "key terminology", "prior knowledge", "before you start", "key concepts", NULL,
};

/* 1 when t is any heading this reader knows. */
static int any_heading(const char *t)
{
    if (struct_heading(t))
        return 1;
    char *k = heading_key(t);
    int r = in_list(k, synopsis_headings) || in_list(k, assessment_headings) || in_list(k, skip_headings) ||
            in_list(k, other_headings);
    free(k);
    return r;
}

/* ---- labels ("Credit value: 3") ---- */

static const struct label {
    const char *name;  /* lower case */
    const char *field; /* unit or qualification field it fills */
    int numeric;       /* may stand without a colon ("GLH 20") */
} labels[] = {
    {"guided learning hours (glh)", "glh", 1},
    {"guided learning hours", "glh", 1},
    {"glh", "glh", 1},
    {"total qualification time (tqt)", "tqt", 1},
    {"total qualification time", "tqt", 1},
    {"total unit time (tut)", "tqt", 1},
    {"total unit time", "tqt", 1},
    {"tqt", "tqt", 1},
    {"unit credit value", "credit_value", 1},
    {"credit value", "credit_value", 1},
    {"credits", "credit_value", 1},
    {"credit", "credit_value", 1},
    {"unit level", "level", 1},
    {"level", "level", 1},
    {"unit reference number", "urn", 1},
    {"unit reference", "urn", 1},
    {"ofqual unit reference number", "urn", 1},
    {"ofqual unit reference", "urn", 1},
    {"ofqual unit number", "urn", 1},
    {"ofqual unit code", "urn", 1},
    {"ofqual reference", "urn", 1},
    {"unit accreditation number", "urn", 1},
    {"urn", "urn", 1},
    {"uan", "urn", 1},
    {"unit code", "unit_no", 1},
    {"unit no.", "unit_no", 1},
    {"unit no", "unit_no", 1},
    {"unit number", "unit_no", 1},
    {"unit title", "title", 0},
    {"title", "title", 0},
    {"qualification accreditation number", "qan", 1},
    {"ofqual qualification number", "qan", 1},
    {"qualification number", "qan", 1},
    {"qualification reference number", "qan", 1},
    {"qan", "qan", 1},
    {"qualification title", "q_title", 0},
    {"qualification", "q_title", 0},
    {"awarding body", "q_awarding_body", 0},
    {"awarding organisation", "q_awarding_body", 0},
    {"framework", "framework", 0},
    {NULL, NULL, 0},
};

/* If s starts with a label, returns it and sets *value_at to where its value
 * starts (may be at the end: the value is on the next line). A label needs a
 * colon after it, except a numeric one followed by a short value ("Level 2",
 * "GLH 20"). */
static const struct label *label_at(const char *s, const char **value_at)
{
    for (size_t i = 0; labels[i].name; i++) {
        size_t n = strlen(labels[i].name);
        if (strncasecmp(s, labels[i].name, n) != 0)
            continue;
        const char *p = s + n;
        while (*p == ' ')
            p++;
        if (*p == ':') {
            p++;
            while (*p == ' ')
                p++;
            *value_at = p;
            return &labels[i];
        }
        if (p == s + n || !labels[i].numeric || !*p)
            continue;
        /* "Level 2", "Credit value 3", "Unit reference number A/601/1234": a short value with a digit */
        int words = 1, digit = 0;
        for (const char *q = p; *q; q++) {
            if (*q == ' ')
                words++;
            if (isdigit((unsigned char)*q))
                digit = 1;
        }
        if (digit && words <= 2) {
            *value_at = p;
            return &labels[i];
        }
    }
    return NULL;
}

/* Where, after from, another label with a colon starts ("Level: 2 Credit value: 3"); NULL if none. */
static const char *next_label(const char *from)
{
    for (const char *p = from; *p; p++) {
        if (p != from && p[-1] != ' ')
            continue;
        const char *v;
        const struct label *l = label_at(p, &v);
        if (l && v > p && memchr(p, ':', (size_t)(v - p)))
            return p;
    }
    return NULL;
}

/* 1 when s is an Ofqual unit or qualification code ("A/601/1234", "603/1234/5"). */
static int ofqual_code(const char *s)
{
    const char *p = s;
    int want = 3; /* 603/1234/5 */
    if (isalpha((unsigned char)p[0]) && p[1] == '/') {
        p += 2;
        want = 2; /* A/601/1234 */
    }
    int parts = 0;
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return 0;
        while (isdigit((unsigned char)*p))
            p++;
        parts++;
        if (*p == '/')
            p++;
        else if (*p)
            return 0;
    }
    return parts == want;
}

/* The first whole number in s, or -1. */
static long first_number(const char *s)
{
    for (const char *p = s; *p; p++)
        if (isdigit((unsigned char)*p)) {
            long v = strtol(p, NULL, 10);
            return v >= 0 && v < 100000 ? v : -1;
        }
    return -1;
}

/* "Level 2" -> "2", "2" -> "2", "Entry Level 3" -> "Entry 3", "Entry" -> "Entry". */
static char *level_value(const char *v)
{
    char *n = specimport_norm(v);
    const char *p = n;
    if (!strncasecmp(p, "Entry", 5)) {
        long e = first_number(p);
        char *out = e >= 0 ? fmtalloc("Entry %ld", e) : xstrdup("Entry");
        free(n);
        return out;
    }
    if (!strncasecmp(p, "Level", 5))
        p += 5;
    while (*p == ' ')
        p++;
    char *out = xstrdup(p);
    free(n);
    return out;
}

/* Sets one labelled field; returns EV_ERR with the error set for a bad value. */
static int set_label(tctx_t *c, const struct label *l, const char *value, int no)
{
    char *v = specimport_norm(value);
    int rc = EV_OK;
    const char *f = l->field;
    if (!*v)
        goto out;
    if (!strcmp(f, "glh") || !strcmp(f, "tqt") || !strcmp(f, "credit_value")) {
        long num = first_number(v);
        if (num < 0) {
            t_err(c, no, "expected a whole number after '%s', found '%s'", l->name, v);
            rc = EV_ERR;
            goto out;
        }
        json_object_set_new(c->unit, f, json_integer(num));
    } else if (!strcmp(f, "level")) {
        char *lv = level_value(v);
        json_object_set_new(c->unit, "level", json_string(lv));
        free(lv);
    } else if (!strcmp(f, "urn") || !strcmp(f, "unit_no")) {
        /* An Ofqual-style code is the unit reference number; anything else the awarding body's number. */
        const char *key = (!strcmp(f, "urn") || ofqual_code(v)) ? "urn" : "number";
        const char *s = v;
        if (!strcmp(key, "number") && !strncasecmp(s, "Unit ", 5))
            s += 5;
        json_object_set_new(c->unit, key, json_string(s));
    } else if (!strcmp(f, "title")) {
        json_object_set_new(c->unit, "title", json_string(v));
    } else if (!strcmp(f, "qan")) {
        json_object_set_new(c->qual, "qan", json_string(v));
    } else if (!strcmp(f, "q_title")) {
        json_object_set_new(c->qual, "title", json_string(v));
    } else if (!strcmp(f, "q_awarding_body")) {
        json_object_set_new(c->qual, "awarding_body", json_string(v));
    } else if (!strcmp(f, "framework")) {
        json_object_set_new(c->qual, "framework", json_string(v));
        json_object_set_new(c->qual, "_quiet_framework", json_true());
    }
out:
    free(v);
    return rc;
}

/* ---- structure lines ---- */

/* A criterion reference at the start of s: "1.1", "1.1.", "AC 1.1", "AC1.1:",
 * followed by a space or the end. Sets *n, *m and returns the length to skip
 * to its text (which may be empty: the text is on the next line); 0 if none. */
static size_t crit_ref(const char *s, long *n, long *m)
{
    const char *p = s;
    if (!strncasecmp(p, "AC", 2)) {
        p += 2;
        while (*p == ' ')
            p++;
    }
    if (!isdigit((unsigned char)*p))
        return 0;
    char *e;
    *n = strtol(p, &e, 10);
    if (*e != '.' || !isdigit((unsigned char)e[1]) || *n < 1 || *n > 99)
        return 0;
    *m = strtol(e + 1, &e, 10);
    if (*m < 1 || *m > 99)
        return 0;
    if (*e == '.' && isdigit((unsigned char)e[1]))
        return 0; /* 1.2.3: a version or a range item */
    if (*e == '.' || *e == ':' || *e == ')')
        e++;
    if (*e && *e != ' ' && *e != '\t')
        return 0;
    while (*e == ' ' || *e == '\t' || *e == '-')
        e++;
    return (size_t)(e - s);
}

/* An outcome line: "1. Understand ...", "1 Understand ...", "LO1 ...",
 * "Learning outcome 1: ...", "Outcome 1 ...". Sets *n and returns the length to
 * skip to its text (at least one character, starting with a letter); 0 if none. */
static size_t outcome_ref(const char *s, long *n)
{
    const char *p = s;
    if (!strncasecmp(p, "Learning outcome", 16))
        p += 16;
    else if (!strncasecmp(p, "Outcome", 7))
        p += 7;
    else if (!strncasecmp(p, "LO", 2))
        p += 2;
    while (*p == ' ')
        p++;
    if (!isdigit((unsigned char)*p))
        return 0;
    char *e;
    *n = strtol(p, &e, 10);
    if (*n < 1 || *n > 99 || e - p > 2)
        return 0;
    if (*e == '.' || *e == ':' || *e == ')')
        e++;
    if (*e != ' ' && *e != '\t')
        return 0;
    while (*e == ' ' || *e == '\t' || *e == '-')
        e++;
    if (!isalpha((unsigned char)*e) || !isupper((unsigned char)*e))
        return 0;
    return (size_t)(e - s);
}

/* A sub-item marker: "a) ", "(a) ", "a. ", "i) ", "(iv) ". Returns its length
 * (the item text follows), else 0. */
static size_t subitem_marker(const char *s)
{
    const char *p = s;
    int paren = *p == '(';
    if (paren)
        p++;
    const char *w = p;
    while (*p >= 'a' && *p <= 'z' && p - w < 4)
        p++;
    size_t wl = (size_t)(p - w);
    if (!wl)
        return 0;
    if (wl > 1) { /* roman numerals only */
        for (const char *q = w; q < p; q++)
            if (!strchr("ivx", *q))
                return 0;
    }
    if (*p == ')' || (*p == '.' && !paren && wl == 1))
        p++;
    else
        return 0;
    if (*p != ' ' && *p != '\t')
        return 0;
    return (size_t)(p - s) + 1;
}

/* 1 when the line is only a number (a page number, or the unit page's outcome number). */
static int bare_number(const char *s, long *n)
{
    const char *p = s;
    if (!isdigit((unsigned char)*p))
        return 0;
    while (isdigit((unsigned char)*p))
        p++;
    if (*p == '.')
        p++;
    if (*p || p - s > 4)
        return 0;
    *n = strtol(s, NULL, 10);
    return 1;
}

/* Length of a dash (-, en dash, em dash) at s, else 0. */
static size_t dash_len(const char *s)
{
    if (*s == '-')
        return 1;
    if (!strncmp(s, "\xE2\x80\x93", 3) || !strncmp(s, "\xE2\x80\x94", 3))
        return 3;
    return 0;
}

/* Page furniture that can be recognised on its own: "Page 3", "Page 3 of 12",
 * "3 of 12", "3/12", "- 3 -", copyright lines. A bare number is decided in
 * context (it may be the unit page's outcome number). */
static int furniture(const char *s)
{
    const char *p = s;
    if (!strncmp(p, "\xC2\xA9", 2) || !strncasecmp(p, "copyright", 9) || !strncasecmp(p, "(c) ", 4))
        return 1;
    int page = 0, dash = 0;
    if (!strncasecmp(p, "page", 4)) {
        p += 4;
        page = 1;
    }
    for (;;) {
        size_t d = dash_len(p);
        if (*p == ' ')
            p++;
        else if (d) {
            p += d;
            dash = 1;
        } else
            break;
    }
    if (!isdigit((unsigned char)*p))
        return 0;
    const char *d0 = p;
    while (isdigit((unsigned char)*p))
        p++;
    if (p - d0 > 4)
        return 0;
    while (*p == ' ')
        p++;
    if (!*p)
        return page;
    if (dash && dash_len(p)) {
        for (size_t d = 1; d;) {
            d = *p == ' ' ? 1 : dash_len(p);
            p += d;
        }
        return !*p;
    }
    if (!strncasecmp(p, "of ", 3) || *p == '/') {
        p += *p == '/' ? 1 : 3;
        while (*p == ' ')
            p++;
        if (!isdigit((unsigned char)*p))
            return 0;
        while (isdigit((unsigned char)*p))
            p++;
        return !*p;
    }
    return 0;
}

/* "Unit 201 Handle customer complaints", "Unit 4: Title", "UNIT 201 – Title":
 * sets *number and *title (new strings, caller frees). */
static int unit_title_line(const char *s, char **number, char **title)
{
    if (strncasecmp(s, "Unit ", 5) != 0)
        return 0;
    const char *p = s + 5;
    while (*p == ' ')
        p++;
    const char *w = p;
    int digit = 0;
    while (*p && (isalnum((unsigned char)*p) || *p == '/' || *p == '-') && p - w < 16) {
        digit |= isdigit((unsigned char)*p);
        p++;
    }
    if (!digit || p == w)
        return 0;
    const char *we = p;
    while (*p == ' ' || *p == ':' || *p == '.' || *p == '-')
        p++;
    if (!strncmp(p, "\xE2\x80\x93", 3) || !strncmp(p, "\xE2\x80\x94", 3)) /* – — */
        p += 3;
    while (*p == ' ')
        p++;
    if (!isalpha((unsigned char)*p) || p == we)
        return 0;
    char *num = xstrndup(w, (size_t)(we - w));
    if (ofqual_code(num)) { /* "Unit A/601/1234 Title": that is a unit reference number */
        free(num);
        return 0;
    }
    *number = num;
    *title = specimport_norm(p);
    return 1;
}

/* ---- building units ---- */

static json_t *new_unit(int line)
{
    return json_pack("{s:i, s:[], s:[], s:{}}", "_line", line, "outcomes", "criteria", "guidance");
}

static int unit_has_structure(json_t *u)
{
    return json_array_size(json_object_get(u, "outcomes")) || json_array_size(json_object_get(u, "criteria"));
}

/* Appends text to obj[key] (a string), joining with a space, or without one
 * after a hyphen that ends a wrapped word ("self-" + "assessment"). */
static void append_text(json_t *obj, const char *key, const char *text)
{
    const char *old = json_string_value(json_object_get(obj, key));
    if (!old || !*old) {
        json_object_set_new(obj, key, json_string(text));
        return;
    }
    size_t ol = strlen(old);
    int glue = ol > 1 && old[ol - 1] == '-' && isalpha((unsigned char)old[ol - 2]) && islower((unsigned char)text[0]);
    char *joined = fmtalloc("%s%s%s", old, glue ? "" : " ", text);
    json_object_set_new(obj, key, json_string(joined));
    free(joined);
}

static void append_last(json_t *arr, const char *text)
{
    size_t n = json_array_size(arr);
    if (!n) {
        json_array_append_new(arr, json_string(text));
        return;
    }
    char *joined = fmtalloc("%s %s", json_string_value(json_array_get(arr, n - 1)), text);
    json_array_set_new(arr, n - 1, json_string(joined));
    free(joined);
}

static json_t *find_numbered(json_t *arr, const char *key, long n)
{
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) if (json_integer_value(json_object_get(o, key)) == n) return o;
    return NULL;
}

/* Starts a new unit (the current one has structure already) or names the current one. */
static void start_unit(tctx_t *c, const char *number, const char *title, int no)
{
    if (unit_has_structure(c->unit)) {
        c->unit = new_unit(no);
        json_array_append_new(c->units, c->unit);
    } else if (json_object_get(c->unit, "title") && json_object_get(c->unit, "_title_guess")) {
        t_warn(c, (int)json_integer_value(json_object_get(c->unit, "_title_guess")),
               "'%s' is not the unit title ('Unit %s %s' is): ignored",
               json_string_value(json_object_get(c->unit, "title")), number, title);
    }
    json_object_del(c->unit, "_title_guess");
    json_object_set_new(c->unit, "number", json_string(number));
    json_object_set_new(c->unit, "title", json_string(title));
    json_object_set_new(c->unit, "_line", json_integer(no));
    c->sec = SEC_TOP;
    c->cur = CUR_TITLE;
    c->cur_obj = c->unit;
}

static int add_criterion(tctx_t *c, long n, long m, const char *text, int no)
{
    json_t *crit = json_object_get(c->unit, "criteria");
    char ref[32];
    snprintf(ref, sizeof ref, "%ld.%ld", n, m);
    size_t i;
    json_t *o;
    json_array_foreach(crit, i, o) {
        if (!strcmp(json_string_value(json_object_get(o, "ref")), ref)) {
            t_err(c, no,
                  "criterion %s appears twice in this unit (first at line %lld); a section that repeats "
                  "criterion numbers (such as 'Range' or 'Unit content') needs its own heading",
                  ref, (long long)json_integer_value(json_object_get(o, "_line")));
            return EV_ERR;
        }
    }
    if (json_array_size(crit) >= SPECIMPORT_MAX_CRITERIA) {
        t_err(c, no, "more than %d assessment criteria in one unit", SPECIMPORT_MAX_CRITERIA);
        return EV_ERR;
    }
    json_t *cr = json_pack("{s:s, s:i, s:s, s:i, s:[]}", "ref", ref, "outcome", (int)n, "text", text, "_line", no,
                           "_items");
    json_array_append_new(crit, cr);
    c->cur = CUR_CRIT;
    c->cur_obj = cr;
    return EV_OK;
}

static int add_outcome(tctx_t *c, long n, const char *text, int no)
{
    json_t *outs = json_object_get(c->unit, "outcomes");
    json_t *prev = find_numbered(outs, "number", n);
    if (prev) {
        t_err(c, no, "learning outcome %ld appears twice in this unit (first at line %lld)", n,
              (long long)json_integer_value(json_object_get(prev, "_line")));
        return EV_ERR;
    }
    json_t *o = json_pack("{s:i, s:s, s:i}", "number", (int)n, "text", text, "_line", no);
    json_array_append_new(outs, o);
    c->cur = CUR_OUTCOME;
    c->cur_obj = o;
    return EV_OK;
}

/* The next outcome number the unit expects. */
static long next_outcome(tctx_t *c)
{
    long max = 0;
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(c->unit, "outcomes"), i, o) {
        long v = (long)json_integer_value(json_object_get(o, "number"));
        if (v > max)
            max = v;
    }
    return max + 1;
}

/* A bare number n at line index i is the unit page's outcome number (and not a
 * page number) when the lines after it lead to criterion n.x before another
 * bare n, an outcome line or a criterion of another outcome. */
static int bare_is_outcome(tctx_t *c, size_t i, long n)
{
    if (n != next_outcome(c) || c->sec != SEC_STRUCT)
        return 0;
    int text = 0;
    for (size_t k = i + 1; k < c->n; k++) {
        if (c->lines[k].drop)
            continue;
        const char *t = c->lines[k].text;
        long a, b;
        if (crit_ref(t, &a, &b))
            return a == n && text;
        if (bare_number(t, &a)) {
            if (a == n)
                return 0; /* the later one is the outcome number */
            continue;
        }
        if (struct_heading(t))
            continue;
        text = 1;
    }
    return 0;
}

/* Marks page furniture: page-number lines, copyright lines, and lines repeated
 * on several pages (running headers and footers), keeping the first line of
 * the document when it is the one repeated (a page title). */
static void mark_furniture(tctx_t *c)
{
    json_t *counts = json_object();
    for (size_t i = 0; i < c->n; i++) {
        tline_t *l = &c->lines[i];
        long a, b;
        const char *v;
        char *num = NULL, *title = NULL;
        if (furniture(l->text)) {
            l->drop = 1;
            continue;
        }
        if (l->bullet || strlen(l->text) < 10 || crit_ref(l->text, &a, &b) || outcome_ref(l->text, &a) ||
            subitem_marker(l->text) || any_heading(l->text) || label_at(l->text, &v))
            continue;
        if (unit_title_line(l->text, &num, &title)) {
            free(num);
            free(title);
            continue; /* a repeated "Unit 201 Title" header is recognised as the same unit */
        }
        json_t *cnt = json_object_get(counts, l->text);
        json_object_set_new(counts, l->text, json_integer(cnt ? json_integer_value(cnt) + 1 : 1));
    }
    for (size_t i = 0; i < c->n; i++) {
        json_t *cnt = json_object_get(counts, c->lines[i].text);
        if (c->lines[i].drop || !cnt || json_integer_value(cnt) < 2)
            continue;
        if (i == 0) { /* the title: later copies dropped */
            t_warn(c, c->lines[i].no, "'%s' appears %lld times: later copies read as a running header and ignored",
                   c->lines[i].text, (long long)json_integer_value(cnt));
            json_object_set_new(counts, c->lines[i].text, json_integer(-1));
            continue;
        }
        if (json_integer_value(cnt) > 1)
            t_warn(c, c->lines[i].no, "'%s' appears %lld times: read as a running header or footer and ignored",
                   c->lines[i].text, (long long)json_integer_value(cnt));
        json_object_set_new(counts, c->lines[i].text, json_integer(-1));
        c->lines[i].drop = 1;
    }
    for (size_t i = 1; i < c->n; i++) {
        json_t *cnt = json_object_get(counts, c->lines[i].text);
        if (cnt && json_integer_value(cnt) == -1)
            c->lines[i].drop = 1;
    }
    json_decref(counts);
}

/* Splits a criterion text that runs its lettered items together on one line
 * ("handling: a) refunds b) replacements c) goodwill") into lead and items.
 * Only when the letters run a), b), ... in order. */
static void split_inline_items(json_t *cr)
{
    json_t *items = json_object_get(cr, "_items");
    if (json_array_size(items))
        return;
    const char *t = json_string_value(json_object_get(cr, "text"));
    const char *at[27];
    int k = 0;
    for (const char *p = t; *p && k < 26; p++) {
        char want = (char)('a' + k);
        if ((p == t || p[-1] == ' ') && p[0] == want && p[1] == ')' && p[2] == ' ')
            at[k++] = p;
        else if ((p == t || p[-1] == ' ') && p[0] == '(' && p[1] == want && p[2] == ')' && p[3] == ' ')
            at[k++] = p;
    }
    if (k < 2)
        return;
    at[k] = t + strlen(t);
    char *lead = xstrndup(t, (size_t)(at[0] - t));
    char *ln = specimport_norm(lead);
    for (int i = 0; i < k; i++) {
        char *it = xstrndup(at[i], (size_t)(at[i + 1] - at[i]));
        char *n = specimport_norm(it);
        json_array_append_new(items, json_string(n));
        free(n);
        free(it);
    }
    json_object_set_new(cr, "text", json_string(ln));
    free(ln);
    free(lead);
}

/* The criterion's final text: its lead, then each sub-item on a line of its own. */
static void join_items(json_t *cr)
{
    split_inline_items(cr);
    json_t *items = json_object_get(cr, "_items");
    if (!json_array_size(items))
        return;
    buf_t b = {0};
    buf_puts(&b, json_string_value(json_object_get(cr, "text")));
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        buf_putc(&b, '\n');
        buf_puts(&b, json_string_value(it));
    }
    json_object_set_new(cr, "text", json_string(b.data));
    buf_free(&b);
}

/* Strips private keys and checks one unit; writes the canonical unit to out. */
static int finish_unit(tctx_t *c, json_t *u, json_t *out)
{
    int line = (int)json_integer_value(json_object_get(u, "_line"));
    json_t *outs = json_object_get(u, "outcomes"), *crit = json_object_get(u, "criteria");
    const char *title = json_string_value(json_object_get(u, "title"));
    if (!title || !*title) {
        t_err(c, line, "no unit title: expected a first line such as 'Handling customer complaints' or "
                       "'Unit 201 Handle customer complaints'");
        return EV_ERR;
    }
    if (!json_array_size(outs)) {
        int at = json_array_size(crit) ? (int)json_integer_value(json_object_get(json_array_get(crit, 0), "_line")) : line;
        t_err(c, at, "no learning outcomes in unit '%s': expected numbered outcomes such as '1. Understand ...' "
                     "under 'Learning outcomes' or 'The learner will:'", title);
        return EV_ERR;
    }
    if (!json_array_size(crit)) {
        t_err(c, (int)json_integer_value(json_object_get(json_array_get(outs, 0), "_line")),
              "no assessment criteria in unit '%s': expected criteria numbered like '1.1 Describe ...' under "
              "'Assessment criteria' or 'The learner can:'", title);
        return EV_ERR;
    }
    size_t i;
    json_t *o;
    json_array_foreach(crit, i, o) {
        long n = (long)json_integer_value(json_object_get(o, "outcome"));
        if (!find_numbered(outs, "number", n)) {
            t_err(c, (int)json_integer_value(json_object_get(o, "_line")),
                  "criterion %s belongs to learning outcome %ld, but unit '%s' has no outcome %ld: expected a "
                  "line such as '%ld. Understand ...' (or '%ld' with the outcome on the next line) before it",
                  json_string_value(json_object_get(o, "ref")), n, title, n, n, n);
            return EV_ERR;
        }
        const char *t = json_string_value(json_object_get(o, "text"));
        if (!t || !*t) {
            t_err(c, (int)json_integer_value(json_object_get(o, "_line")),
                  "criterion %s has no text: expected it after the number or on the next line",
                  json_string_value(json_object_get(o, "ref")));
            return EV_ERR;
        }
        join_items(o);
        json_object_del(o, "_items");
        json_object_del(o, "_line");
    }
    json_array_foreach(outs, i, o) {
        long n = (long)json_integer_value(json_object_get(o, "number"));
        if (!*json_string_value(json_object_get(o, "text"))) {
            t_err(c, (int)json_integer_value(json_object_get(o, "_line")),
                  "learning outcome %ld has no text: expected it after the number or on the next line", n);
            return EV_ERR;
        }
        int has = 0;
        size_t k;
        json_t *cr;
        json_array_foreach(crit, k, cr) has |= json_integer_value(json_object_get(cr, "outcome")) == n;
        if (!has)
            t_warn(c, (int)json_integer_value(json_object_get(o, "_line")),
                   "learning outcome %ld of unit '%s' has no assessment criteria", n, title);
        json_object_del(o, "_line");
    }
    json_t *syn = json_object_get(u, "_synopsis");
    if (json_array_size(syn)) {
        buf_t b = {0};
        json_t *p;
        json_array_foreach(syn, i, p) {
            if (i)
                buf_puts(&b, "\n\n");
            buf_puts(&b, json_string_value(p));
        }
        json_object_set_new(u, "synopsis", json_string(b.data));
        buf_free(&b);
    }
    json_object_del(u, "_synopsis");
    json_object_del(u, "_line");
    json_object_del(u, "_title_guess");
    if (!json_object_size(json_object_get(u, "guidance")))
        json_object_del(u, "guidance");
    /* The unit's ref: the awarding body's number, else its unit reference number. */
    const char *ref = json_string_value(json_object_get(u, "number"));
    if (!ref)
        ref = json_string_value(json_object_get(u, "urn"));
    if (ref)
        json_object_set_new(u, "ref", json_string(ref));
    specimport_assign_outcomes(u);
    json_array_append(out, u);
    return EV_OK;
}

/* ---- the main pass ---- */

static int heading(tctx_t *c, const char *t)
{
    if (struct_heading(t)) {
        c->sec = SEC_STRUCT;
        c->struct_seen = 1;
        char *k = heading_key(t);
        if (!strcmp(k, "unit learning outcomes"))
            c->unit_page = 1;
        free(k);
        if (c->cur == CUR_SUB || c->cur == CUR_CRIT || c->cur == CUR_OUTCOME)
            c->cur = CUR_NONE;
        return 1;
    }
    char *k = heading_key(t);
    int found = 1;
    if (in_list(k, synopsis_headings)) {
        c->sec = SEC_SYNOPSIS;
    } else if (in_list(k, assessment_headings)) {
        c->sec = SEC_GUIDANCE;
        c->gkind = "assessment_guidance";
    } else if (!strcmp(k, "key terms") || !strcmp(k, "glossary") || !strcmp(k, "key terminology")) {
        c->sec = SEC_GUIDANCE;
        c->gkind = "key_terms";
    } else if (!strcmp(k, "prior knowledge") || !strcmp(k, "before you start")) {
        c->sec = SEC_GUIDANCE;
        c->gkind = "prior_knowledge";
    } else if (!strcmp(k, "key concepts")) {
        c->sec = SEC_GUIDANCE;
        c->gkind = "key_concepts";
    } else if (in_list(k, skip_headings)) {
        c->sec = SEC_SKIP;
    } else {
        found = 0;
    }
    free(k);
    if (found)
        c->cur = CUR_NONE;
    return found;
}

/* One structure line (outcome, criterion, sub-item) in SEC_STRUCT; 1 if it was one, -1 on error. */
static int struct_line(tctx_t *c, size_t i)
{
    tline_t *l = &c->lines[i];
    const char *t = l->text;
    long n, m;
    size_t skip;
    if ((skip = crit_ref(t, &n, &m))) {
        if (add_criterion(c, n, m, t + skip, l->no) != EV_OK)
            return -1;
        return 1;
    }
    if ((skip = outcome_ref(t, &n)) && n == next_outcome(c)) {
        /* "1. Understand X 1.1 Describe Y": a table row read across both columns */
        const char *text = t + skip, *split = NULL;
        char pat[24];
        snprintf(pat, sizeof pat, " %ld.1 ", n);
        split = strstr(text, pat);
        char *otext = split ? xstrndup(text, (size_t)(split - text)) : xstrdup(text);
        int rc = add_outcome(c, n, otext, l->no);
        free(otext);
        if (rc != EV_OK)
            return -1;
        if (split) {
            long a, b;
            size_t s2 = crit_ref(split + 1, &a, &b);
            if (s2 && add_criterion(c, a, b, split + 1 + s2, l->no) != EV_OK)
                return -1;
        }
        return 1;
    }
    if (bare_number(t, &n)) {
        if (bare_is_outcome(c, i, n)) {
            if (add_outcome(c, n, "", l->no) != EV_OK)
                return -1;
            c->unit_page = 1;
        }
        /* else: a page number */
        return 1;
    }
    if (c->cur == CUR_CRIT || c->cur == CUR_SUB) {
        size_t mk = subitem_marker(t);
        if (mk || l->bullet) {
            json_t *items = json_object_get(c->cur_obj, "_items");
            char *it = l->bullet ? fmtalloc("\xE2\x80\xA2 %s", t) : specimport_norm(t);
            json_array_append_new(items, json_string(it));
            free(it);
            c->cur = CUR_SUB;
            return 1;
        }
    }
    return 0;
}

/* A line that continues what came before it. */
static void continuation(tctx_t *c, tline_t *l)
{
    switch (c->cur) {
    case CUR_OUTCOME:
    case CUR_CRIT:
        append_text(c->cur_obj, "text", l->text);
        return;
    case CUR_SUB:
        append_last(json_object_get(c->cur_obj, "_items"), l->text);
        return;
    default:
        break;
    }
    if (c->sec == SEC_SYNOPSIS || (c->sec == SEC_TOP && json_object_get(c->unit, "title"))) {
        json_t *syn = json_object_get(c->unit, "_synopsis");
        if (!syn) {
            syn = json_array();
            json_object_set_new(c->unit, "_synopsis", syn);
        }
        if (c->cur == CUR_SYNOPSIS && !l->bullet)
            append_last(syn, l->text);
        else
            json_array_append_new(syn, json_string(l->text));
        c->cur = CUR_SYNOPSIS;
        return;
    }
    if (c->sec == SEC_GUIDANCE) {
        json_t *g = json_object_get(c->unit, "guidance");
        json_t *list = json_object_get(g, c->gkind);
        if (!list) {
            list = json_array();
            json_object_set_new(g, c->gkind, list);
        }
        if (c->cur == CUR_GUIDANCE && !l->bullet)
            append_last(list, l->text);
        else
            json_array_append_new(list, json_string(l->text));
        c->cur = CUR_GUIDANCE;
        return;
    }
    if (c->sec == SEC_SKIP)
        return;
    if (!json_object_get(c->unit, "title") && !unit_has_structure(c->unit)) {
        json_object_set_new(c->unit, "title", json_string(l->text));
        json_object_set_new(c->unit, "_title_guess", json_integer(l->no));
        json_object_set_new(c->unit, "_line", json_integer(l->no));
        c->cur = CUR_TITLE;
        return;
    }
    t_warn(c, l->no, "text ignored (not part of an outcome, a criterion or a known section): '%.60s'", l->text);
}

static int main_pass(tctx_t *c)
{
    const struct label *pending = NULL;
    for (size_t i = 0; i < c->n; i++) {
        tline_t *l = &c->lines[i];
        if (l->drop)
            continue;
        const char *t = l->text;
        char *num = NULL, *title = NULL;
        if (unit_title_line(t, &num, &title)) {
            const char *cn = json_string_value(json_object_get(c->unit, "number"));
            const char *ct = json_string_value(json_object_get(c->unit, "title"));
            /* The current unit's number again is a running header (its title may be cut short). */
            if (!(cn && !strcmp(cn, num) && ct))
                start_unit(c, num, title, l->no);
            free(num);
            free(title);
            pending = NULL;
            continue;
        }
        if (pending) {
            const struct label *p2 = pending;
            pending = NULL;
            const char *v2;
            if (!label_at(t, &v2) && !struct_heading(t)) {
                if (set_label(c, p2, t, l->no) != EV_OK)
                    return EV_ERR;
                continue;
            }
        }
        if (c->sec == SEC_STRUCT || c->struct_seen) {
            long a, b;
            if (c->sec != SEC_STRUCT && c->sec != SEC_SKIP && c->sec != SEC_GUIDANCE && crit_ref(t, &a, &b))
                c->sec = SEC_STRUCT; /* criteria straight after the outcomes of a two-column table */
            if (c->sec == SEC_STRUCT) {
                if (heading(c, t))
                    continue;
                int r = struct_line(c, i);
                if (r < 0)
                    return EV_ERR;
                if (r)
                    continue;
            }
        }
        if (heading(c, t))
            continue;
        const char *v;
        const struct label *lab = label_at(t, &v);
        if (lab && c->cur != CUR_CRIT && c->cur != CUR_SUB && c->cur != CUR_OUTCOME) {
            while (lab) {
                const char *nx = next_label(v);
                char *val = nx ? xstrndup(v, (size_t)(nx - v)) : xstrdup(v);
                int rc = EV_OK;
                if (!*val)
                    pending = lab;
                else
                    rc = set_label(c, lab, val, l->no);
                free(val);
                if (rc != EV_OK)
                    return EV_ERR;
                lab = nx ? label_at(nx, &v) : NULL;
            }
            c->cur = CUR_NONE;
            continue;
        }
        long n;
        if (c->sec != SEC_STRUCT && bare_number(t, &n))
            continue; /* a page number */
        continuation(c, l);
    }
    return EV_OK;
}

/* Splits data into trimmed non-blank lines, bullets removed. */
static void split_lines(tctx_t *c, const char *data, size_t len)
{
    size_t cap = 0;
    const char *p = data, *end = data + len;
    int no = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        no++;
        char *raw = xstrndup(p, (size_t)(e - p));
        /* non-breaking spaces and tabs as spaces */
        for (char *q = raw; *q; q++) {
            if ((unsigned char)q[0] == 0xC2 && (unsigned char)q[1] == 0xA0) {
                q[0] = ' ';
                q[1] = ' ';
            } else if (*q == '\t' || *q == '\r' || *q == '\f') {
                *q = ' ';
            }
        }
        char *t = specimport_norm(raw);
        free(raw);
        size_t bl = bullet_len(t);
        int bullet = bl > 0;
        /* the unit page's "• 1.1": the bullet is decoration on a numbered criterion */
        if (*t && (!bullet || t[bl])) {
            if (c->n == cap) {
                cap = cap ? cap * 2 : 64;
                c->lines = xrealloc(c->lines, cap * sizeof *c->lines);
            }
            c->lines[c->n].text = xstrdup(t + bl);
            c->lines[c->n].no = no;
            c->lines[c->n].bullet = bullet;
            c->lines[c->n].drop = 0;
            c->n++;
        }
        free(t);
        p = nl ? nl + 1 : end;
    }
}

int spectext_detect(const char *data, size_t len)
{
    tctx_t c;
    memset(&c, 0, sizeof c);
    split_lines(&c, data, len);
    int structh = 0, titled = 0, crits = 0;
    for (size_t i = 0; i < c.n; i++) {
        const char *t = c.lines[i].text;
        long a, b;
        char *num = NULL, *title = NULL;
        if (struct_heading(t))
            structh = 1;
        if (crit_ref(t, &a, &b))
            crits++;
        if (unit_title_line(t, &num, &title)) {
            titled = 1;
            free(num);
            free(title);
        }
    }
    for (size_t i = 0; i < c.n; i++)
        free(c.lines[i].text);
    free(c.lines);
    return structh || (titled && crits);
}

void spectext_no_layout(specimport_error_t *err, int line, const char *first)
{
    err->line = line;
    snprintf(err->reason, sizeof err->reason,
             "this file fits none of the layouts evitrack reads. It expected one of: canonical JSON (a file "
             "starting with '{' and \"evitrack_spec\"); a revision page (headings 'Topic Synopsis', 'Learning "
             "Objectives', 'Assessment Criteria' or 'Examiner Marking Points'); a unit page (a title line, then "
             "'Unit Learning Outcomes' with '1', the outcome, 'Assessment Criteria' and '1.1' items); unit "
             "handbook text (a title line 'Unit 201 Handle customer complaints', 'Level', 'Credit value', 'GLH', "
             "'The learner will:' with '1. ...', 'The learner can:' with '1.1 ...'). Found%s%.80s%s",
             first ? " '" : " nothing readable", first ? first : "", first ? "'" : "");
}

json_t *spectext_parse(const char *data, size_t len, json_t *warnings, const char **format, specimport_error_t *err)
{
    tctx_t c;
    memset(&c, 0, sizeof c);
    c.warnings = warnings;
    c.err = err;
    c.units = json_array();
    c.qual = json_object();
    json_t *spec = NULL, *out = json_array();
    split_lines(&c, data, len);
    if (!c.n) {
        t_err(&c, 1, "the file is empty");
        goto out;
    }
    c.unit = new_unit(c.lines[0].no);
    json_array_append_new(c.units, c.unit);
    mark_furniture(&c);
    if (main_pass(&c) != EV_OK)
        goto out;
    if (!c.struct_seen) {
        int first = 0;
        while ((size_t)first < c.n && c.lines[first].drop)
            first++;
        spectext_no_layout(err, (size_t)first < c.n ? c.lines[first].no : 1,
                           (size_t)first < c.n ? c.lines[first].text : NULL);
        goto out;
    }
    if (json_array_size(c.units) > SPECIMPORT_MAX_UNITS) {
        t_err(&c, 1, "more than %d units in one document", SPECIMPORT_MAX_UNITS);
        goto out;
    }
    size_t i;
    json_t *u;
    json_array_foreach(c.units, i, u) {
        if (!unit_has_structure(u) && json_array_size(c.units) > 1)
            continue; /* a stray title before the first real unit */
        int line = (int)json_integer_value(json_object_get(u, "_line"));
        if (finish_unit(&c, u, out) != EV_OK)
            goto out;
        size_t k;
        json_t *prev;
        const char *ref = json_string_value(json_object_get(u, "ref"));
        json_array_foreach(out, k, prev) {
            const char *r2 = json_string_value(json_object_get(prev, "ref"));
            if (prev != u && ref && r2 && !strcmp(ref, r2)) {
                t_err(&c, line, "unit %s appears twice in this file (the first is unit %zu of the file): give each "
                                "unit its own number", ref, k + 1);
                goto out;
            }
        }
    }
    *format = c.unit_page ? "unit-page" : "unit-handbook";
    spec = json_pack("{s:i}", "evitrack_spec", SPECIMPORT_VERSION);
    if (json_object_get(c.qual, "title")) {
        const char *title = json_string_value(json_object_get(c.qual, "title"));
        const char *fw = json_string_value(json_object_get(c.qual, "framework"));
        char *code = specimport_code_for(title, fw);
        json_object_set_new(c.qual, "code", json_string(code));
        /* the level and framework the title names ("Level 2 ... (RQF)") */
        const char *lv = strstr(title, "Level ");
        char *level = lv && isdigit((unsigned char)lv[6]) ? xstrndup(lv + 6, strspn(lv + 6, "0123456789")) : xstrdup("");
        static const char *const fws[] = {"RQF", "QCF", "SCQF", "CQFW", "NQF", NULL};
        const char *found = "";
        for (size_t k = 0; fws[k] && !*found; k++) {
            const char *at = strstr(title, fws[k]);
            size_t fl = strlen(fws[k]);
            if (at && (at == title || !isalnum((unsigned char)at[-1])) && !isalnum((unsigned char)at[fl]))
                found = fws[k];
        }
        if (!json_object_get(c.qual, "framework"))
            json_object_set_new(c.qual, "framework", json_string(found));
        json_object_set_new(c.qual, "level", json_string(level));
        if (!json_object_get(c.qual, "awarding_body"))
            json_object_set_new(c.qual, "awarding_body", json_string(""));
        free(level);
        json_object_del(c.qual, "_quiet_framework");
        free(code);
        json_object_set(spec, "qualification", c.qual);
    } else if (json_object_size(c.qual)) {
        const char *k;
        json_t *v;
        json_object_foreach(c.qual, k, v) if (k[0] != '_' && strcmp(k, "framework"))
            t_warn(&c, 1, "'%s' ignored: the text names no qualification title ('Qualification: ...')", k);
    }
    json_object_set(spec, "units", out);
out:
    for (size_t k = 0; k < c.n; k++)
        free(c.lines[k].text);
    free(c.lines);
    json_decref(c.units);
    json_decref(c.qual);
    json_decref(out);
    return spec;
}
