/* specimport.c: parses awarding-body revision pages and canonical JSON specs into canonical JSON */
#include "specimport.h"
#include "spectext.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const specimport_guidance_kinds[] = {
    "key_concepts", "assessment_guidance", "common_mistakes", "key_terms", "prior_knowledge", NULL,
};

/* Lists a revision page holds: the five guidance kinds (same order as
 * specimport_guidance_kinds), then outcomes and criteria. */
enum { L_KEY_CONCEPTS, L_GUIDANCE, L_MISTAKES, L_KEY_TERMS, L_PRIOR, L_OUTCOMES, L_CRITERIA, L_COUNT };

static void set_err(specimport_error_t *err, int line, const char *fmt, ...) EV_PRINTF(3, 4);

static void set_err(specimport_error_t *err, int line, const char *fmt, ...)
{
    err->line = line;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->reason, sizeof err->reason, fmt, ap);
    va_end(ap);
}

static void warn(json_t *warnings, int line, const char *fmt, ...) EV_PRINTF(3, 4);

static void warn(json_t *warnings, int line, const char *fmt, ...)
{
    buf_t b = {0};
    if (line > 0)
        buf_printf(&b, "line %d: ", line);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    json_array_append_new(warnings, json_string(b.data ? b.data : ""));
    buf_free(&b);
}

static int outcome_index(json_t *outcomes, json_int_t number);

/* ---- small text helpers ---- */

char *specimport_norm(const char *s)
{
    buf_t b = {0};
    int space = 0;
    for (; s && *s; s++) {
        if (isspace((unsigned char)*s)) {
            space = 1;
            continue;
        }
        if (space && b.len)
            buf_putc(&b, ' ');
        space = 0;
        buf_putc(&b, *s);
    }
    return buf_take(&b);
}

/* Length of a sub-item marker at the start of s ("a) ", "(b) ", "a. ", "iv) ", "• "), else 0. */
static size_t item_marker(const char *s)
{
    if (!strncmp(s, "\xE2\x80\xA2 ", 4))
        return 4;
    const char *p = s;
    int paren = *p == '(';
    if (paren)
        p++;
    const char *w = p;
    while (*p >= 'a' && *p <= 'z' && p - w < 4)
        p++;
    size_t wl = (size_t)(p - w);
    if (!wl || (wl > 1 && strspn(w, "ivx") < wl))
        return 0;
    if ((*p != ')' && !(*p == '.' && wl == 1 && !paren)) || p[1] != ' ')
        return 0;
    return (size_t)(p - s) + 2;
}

char *specimport_norm_items(const char *s)
{
    buf_t b = {0};
    const char *p = s ? s : "";
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        char *line = xstrndup(p, n);
        char *t = specimport_norm(line);
        if (*t) {
            if (b.len)
                buf_putc(&b, item_marker(t) ? '\n' : ' ');
            buf_puts(&b, t);
        }
        free(t);
        free(line);
        p += n;
        if (*p)
            p++;
    }
    if (!b.data)
        buf_puts(&b, "");
    return buf_take(&b);
}

json_t *specimport_text_items(const char *text)
{
    const char *t = text ? text : "";
    const char *nl = strchr(t, '\n');
    json_t *items = json_array();
    json_t *out = json_pack("{s:s%, s:o}", "lead", t, nl ? (size_t)(nl - t) : strlen(t), "items", items);
    while (nl) {
        const char *p = nl + 1;
        nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        size_t mk = strncmp(p, "\xE2\x80\xA2 ", 4) == 0 ? 4 : 0; /* a bullet is the list's own */
        json_array_append_new(items, json_pack("{s:s%, s:b}", "text", p + mk, n - mk, "bullet", mk > 0));
    }
    return out;
}

/* Offset of the first byte that is not valid UTF-8 (overlongs, surrogates and
 * code points past U+10FFFF are invalid), or len when all of it is valid. */
static size_t utf8_invalid_at(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        unsigned cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return i;
        }
        if (i + n >= len)
            return i;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += n + 1;
    }
    return len;
}

static int line_of_offset(const char *data, size_t off)
{
    int line = 1;
    for (size_t i = 0; i < off; i++)
        if (data[i] == '\n')
            line++;
    return line;
}

/* 1 when s is only ASCII digits. */
static int all_digits(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* ---- revision pages ---- */

typedef struct line {
    char *text; /* trimmed, owned */
    int no;     /* 1-based line number in the file */
} line_t;

typedef struct item {
    char *text; /* owned */
    int no;
} item_t;

typedef struct list {
    item_t *items;
    size_t n, cap;
    int heading_line;    /* of the section that filled it */
    const char *heading; /* its heading text */
} list_t;

enum { SEC_PREAMBLE, SEC_SYNOPSIS, SEC_OVERVIEW, SEC_LIST, SEC_IGNORED, SEC_END, SEC_HEADER };

static const struct heading {
    const char *text;
    int sec;
    int list;
} headings[] = {
    {"Topic Synopsis", SEC_SYNOPSIS, 0},
    {"Topic Overview", SEC_OVERVIEW, 0},
    {"Key Concepts & Core Principles", SEC_LIST, L_KEY_CONCEPTS},
    {"Key Concepts", SEC_LIST, L_KEY_CONCEPTS},
    {"Exam Tips & Revision Strategies", SEC_LIST, L_GUIDANCE},
    {"Assessment Guidance", SEC_LIST, L_GUIDANCE},
    {"Common Misconceptions & Mistakes to Avoid", SEC_LIST, L_MISTAKES},
    {"Common Mistakes", SEC_LIST, L_MISTAKES},
    {"Examiner Marking Points", SEC_LIST, L_CRITERIA},
    {"Assessment Criteria", SEC_LIST, L_CRITERIA},
    {"Learning Objectives", SEC_LIST, L_OUTCOMES},
    {"Learning Outcomes", SEC_LIST, L_OUTCOMES},
    {"Key Terminology", SEC_LIST, L_KEY_TERMS},
    {"Key Terms", SEC_LIST, L_KEY_TERMS},
    {"Before You Start", SEC_LIST, L_PRIOR},
    {"Prior Knowledge", SEC_LIST, L_PRIOR},
    {"Revision Plan", SEC_IGNORED, 0},
    {"Exam Question Types", SEC_IGNORED, 0},
    {"Frequently Asked Questions", SEC_IGNORED, 0},
    {"Ready to learn?", SEC_END, 0},
};

static const struct heading *heading_of(const char *s)
{
    for (size_t i = 0; i < sizeof headings / sizeof headings[0]; i++)
        if (strcmp(s, headings[i].text) == 0)
            return &headings[i];
    return NULL;
}

/* If s starts with a list-item marker ("• ", "- ", "* ", "– ", "1. "),
 * returns the text after it with leading decoration (emoji, variation
 * selectors, spaces) removed; otherwise NULL. */
static const char *bullet_text(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    if (p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0xA2 || p[2] == 0x93)) /* • – */
        p += 3;
    else if ((p[0] == '-' || p[0] == '*') && (p[1] == ' ' || p[1] == '\t' || p[1] == '\0'))
        p += 1;
    else if (isdigit(p[0])) {
        while (isdigit(*p))
            p++;
        if ((*p != '.' && *p != ')') || (p[1] != ' ' && p[1] != '\t'))
            return NULL;
        p++;
    } else
        return NULL;
    for (;;) {
        if (*p == ' ' || *p == '\t')
            p++;
        else if (*p >= 0xF0 && *p <= 0xF4 && p[1] && p[2] && p[3])
            p += 4; /* emoji and other astral symbols */
        else if (p[0] == 0xEF && p[1] == 0xB8 && p[2] == 0x8F)
            p += 3; /* U+FE0F variation selector */
        else if (p[0] == 0xE2 && (p[1] == 0x98 || p[1] == 0x9C || p[1] == 0x9D) && p[2])
            p += 3; /* U+2600..U+27BF dingbats and symbols */
        else
            break;
    }
    return (const char *)p;
}

static void list_add(list_t *l, const char *text, int no)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->items = xrealloc(l->items, l->cap * sizeof *l->items);
    }
    l->items[l->n].text = specimport_norm(text);
    l->items[l->n].no = no;
    l->n++;
}

static void list_free(list_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i].text);
    free(l->items);
    memset(l, 0, sizeof *l);
}

/* Outcome verbs: a ", " followed by one of these (capitalised) starts a new outcome. */
static const char *const outcome_verbs[] = {
    "Understand", "Know", "Be", "Demonstrate", "Explain", "Describe", "Identify", "Apply", "Use",
    "Plan", "Carry", "Review", "Evaluate", "Analyse", "Analyze", "Develop", "Manage", "Maintain",
    "Prepare", "Produce", "Deal", "Resolve", "Support", "Work", "Contribute", "Promote",
    "Implement", "Monitor", "Communicate", "Recognise", "Provide", "Deliver", "Assess", "Lead",
    "Operate", "Follow", "Handle", "Establish", "Improve", "Agree", "Make", "Select",
    "Investigate", "Create", "Design", "Investigate", "Reflect", "Respond", "Summarise", NULL,
};

static int starts_outcome(const char *p)
{
    for (size_t i = 0; outcome_verbs[i]; i++) {
        size_t n = strlen(outcome_verbs[i]);
        if (strncmp(p, outcome_verbs[i], n) == 0 && (p[n] == ' ' || p[n] == '\0'))
            return 1;
    }
    return 0;
}

json_t *specimport_split_outcomes(const char *text)
{
    json_t *out = json_array();
    const char *start = text;
    for (const char *p = text; *p; p++) {
        if (p[0] == ',' && p[1] == ' ' && starts_outcome(p + 2)) {
            char *part = xstrndup(start, (size_t)(p - start));
            char *n = specimport_norm(part);
            if (*n)
                json_array_append_new(out, json_string(n));
            free(n);
            free(part);
            start = p + 2;
        }
    }
    char *n = specimport_norm(start);
    if (*n)
        json_array_append_new(out, json_string(n));
    free(n);
    return out;
}

static int is_word_char(unsigned char c)
{
    return isalnum(c);
}

char *specimport_code_for(const char *title, const char *framework)
{
    static const char *const skip[] = {"IN", "OF", "AND", "THE", "FOR", "TO", "A", "AN", "ON", NULL};
    char words[32][48];
    size_t nw = 0;
    const char *p = title ? title : "";
    while (*p && nw < 32) {
        while (*p && !is_word_char((unsigned char)*p))
            p++;
        const char *w = p;
        while (*p && is_word_char((unsigned char)*p))
            p++;
        size_t n = (size_t)(p - w);
        if (!n)
            break;
        if (n >= sizeof words[0])
            n = sizeof words[0] - 1;
        for (size_t i = 0; i < n; i++)
            words[nw][i] = (char)toupper((unsigned char)w[i]);
        words[nw][n] = '\0';
        nw++;
    }
    buf_t b = {0};
    int have_fw = 0;
    for (size_t i = 0; i < nw; i++) {
        int skipped = 0;
        for (size_t k = 0; skip[k] && !skipped; k++)
            skipped = strcmp(words[i], skip[k]) == 0;
        if (skipped)
            continue;
        if (b.len)
            buf_putc(&b, '-');
        if (strcmp(words[i], "LEVEL") == 0 && i + 1 < nw && all_digits(words[i + 1])) {
            buf_printf(&b, "L%s", words[i + 1]);
            i++;
            continue;
        }
        if (framework && *framework && strcasecmp(words[i], framework) == 0)
            have_fw = 1;
        buf_puts(&b, words[i]);
    }
    if (framework && *framework && !have_fw) {
        if (b.len)
            buf_putc(&b, '-');
        for (const char *f = framework; *f; f++)
            buf_putc(&b, (char)toupper((unsigned char)*f));
    }
    if (b.len > 64) {
        b.len = 64;
        b.data[64] = '\0';
        while (b.len && b.data[b.len - 1] == '-')
            b.data[--b.len] = '\0';
    }
    if (!b.len)
        buf_puts(&b, "QUALIFICATION");
    return buf_take(&b);
}

static const char *const frameworks[] = {"RQF", "QCF", "NQF", "SCQF", "CQFW", "FHEQ", NULL};

/* The framework named as a whole word in s (e.g. "(RQF)"), or NULL. */
static const char *framework_in(const char *s)
{
    for (const char *p = s; *p; p++) {
        if (p != s && is_word_char((unsigned char)p[-1]))
            continue;
        for (size_t i = 0; frameworks[i]; i++) {
            size_t n = strlen(frameworks[i]);
            if (strncmp(p, frameworks[i], n) == 0 && !is_word_char((unsigned char)p[n]))
                return frameworks[i];
        }
    }
    return NULL;
}

/* The level named in a qualification title: "Level 3" -> "3", "Entry Level" -> "Entry". */
static char *level_in(const char *s)
{
    const char *p = strstr(s, "Level ");
    if (!p)
        p = strstr(s, "level ");
    if (p && isdigit((unsigned char)p[6])) {
        const char *q = p + 6;
        while (isdigit((unsigned char)*q))
            q++;
        return xstrndup(p + 6, (size_t)(q - p - 6));
    }
    if (strstr(s, "Entry Level") || strstr(s, "Entry level"))
        return xstrdup("Entry");
    return xstrdup("");
}

static json_t *items_json(const list_t *l)
{
    json_t *a = json_array();
    for (size_t i = 0; i < l->n; i++)
        json_array_append_new(a, json_string(l->items[i].text));
    return a;
}

/* Joins paragraphs with blank lines. */
static char *paras_join(const list_t *l)
{
    buf_t b = {0};
    for (size_t i = 0; i < l->n; i++) {
        if (i)
            buf_puts(&b, "\n\n");
        buf_puts(&b, l->items[i].text);
    }
    return buf_take(&b);
}

/* If text starts with a criterion reference such as "1.2 ", "1.2: " or "AC 1.2 -",
 * sets *n, *m and returns the length to skip (to the criterion's own text); else 0. */
static size_t criterion_ref_prefix(const char *text, long *n, long *m)
{
    const char *p = text;
    if (!strncmp(p, "AC", 2)) {
        p += 2;
        while (*p == ' ')
            p++;
    }
    if (!isdigit((unsigned char)*p))
        return 0;
    char *e;
    *n = strtol(p, &e, 10);
    if (*e != '.' || !isdigit((unsigned char)e[1]) || *n < 1 || *n > 999)
        return 0;
    *m = strtol(e + 1, &e, 10);
    if (*m < 1 || *m > 999)
        return 0;
    if (*e != ' ' && *e != ':' && *e != ')' && *e != '\t')
        return 0;
    while (*e == ' ' || *e == ':' || *e == ')' || *e == '-' || *e == '\t')
        e++;
    if (!*e)
        return 0;
    return (size_t)(e - text);
}

/* Reads the revision-page layout. See docs/spec-format.md for what each part
 * of the page becomes. Returns the canonical spec or NULL with *err. */
static json_t *parse_revision_page(const char *data, size_t len, json_t *warnings,
                                   const char **format, specimport_error_t *err)
{
    line_t *lines = NULL;
    size_t nlines = 0, cap = 0;
    list_t lists[L_COUNT];
    list_t synopsis = {0}, overview = {0}, header = {0};
    memset(lists, 0, sizeof lists);
    json_t *spec = NULL;
    char *synopsis_text = NULL, *unit_title = NULL;
    int header_line = 0;
    int stats[L_COUNT], seen_at[L_COUNT]; /* summary-box counts; line of each list's heading */
    for (int i = 0; i < L_COUNT; i++) {
        stats[i] = -1;
        seen_at[i] = 0;
    }

    /* Split into trimmed non-blank lines. */
    const char *p = data, *end = data + len;
    int no = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        no++;
        const char *a = p, *b = e;
        while (a < b && (isspace((unsigned char)*a) || (b - a >= 2 && (unsigned char)a[0] == 0xC2 &&
                                                        (unsigned char)a[1] == 0xA0))) {
            a += isspace((unsigned char)*a) ? 1 : 2;
        }
        while (b > a && isspace((unsigned char)b[-1]))
            b--;
        if (b > a) {
            if (nlines == cap) {
                cap = cap ? cap * 2 : 64;
                lines = xrealloc(lines, cap * sizeof *lines);
            }
            lines[nlines].text = xstrndup(a, (size_t)(b - a));
            lines[nlines].no = no;
            nlines++;
        }
        p = nl ? nl + 1 : end;
    }
    if (!nlines) {
        set_err(err, 1, "the file is empty");
        goto out;
    }

    /* Pass 0: the synopsis (so the teaser line and the title line can be told apart). */
    int nheadings = 0;
    for (size_t i = 0; i < nlines; i++) {
        const struct heading *h = heading_of(lines[i].text);
        if (h)
            nheadings++;
        if (h && h->sec == SEC_SYNOPSIS && !synopsis.n) {
            for (size_t k = i + 1; k < nlines && !heading_of(lines[k].text); k++)
                list_add(&synopsis, lines[k].text, lines[k].no);
        }
    }
    if (!nheadings) {
        spectext_no_layout(err, lines[0].no, lines[0].text);
        goto out;
    }
    synopsis_text = paras_join(&synopsis);

    /* The title line: the first line, unless it is a heading or the teaser
     * (a truncated copy of the synopsis). */
    const char *title_line = NULL;
    size_t first = 0;
    if (!heading_of(lines[0].text) &&
        !(synopsis.n && strncmp(lines[0].text, synopsis_text, strlen(lines[0].text)) == 0)) {
        title_line = lines[0].text;
        first = 1;
    }

    /* Main pass: sections. */
    int sec = SEC_PREAMBLE, cur = -1, subtitle_seen = 0, section_items = 0;
    int prev_digits = 0;
    const char *cur_heading = NULL;
    int cur_heading_line = 0;
    for (size_t i = first; i < nlines; i++) {
        const char *t = lines[i].text;
        int ln = lines[i].no;
        if (sec == SEC_HEADER && prev_digits) {
            /* "4" then "Assessment Criteria": a count in the page's summary box. */
            const struct heading *h = heading_of(t);
            if (h && h->sec == SEC_LIST)
                stats[h->list] = prev_digits - 1;
            prev_digits = 0;
            continue;
        }
        prev_digits = 0;
        const struct heading *h = heading_of(t);
        if (h) {
            if (h->sec == SEC_END)
                break;
            sec = h->sec;
            cur = h->sec == SEC_LIST ? h->list : -1;
            if (cur >= 0)
                seen_at[cur] = ln;
            cur_heading = h->text;
            cur_heading_line = ln;
            subtitle_seen = 0;
            section_items = 0;
            continue;
        }
        if (title_line && !unit_title && strlen(t) >= 3 && strlen(t) < strlen(title_line) &&
            strncmp(title_line, t, strlen(t)) == 0) {
            sec = SEC_HEADER;
            unit_title = xstrdup(t);
            header_line = ln;
            continue;
        }
        switch (sec) {
        case SEC_PREAMBLE:
            if (!(synopsis.n && strncmp(t, synopsis_text, strlen(t)) == 0))
                warn(warnings, ln, "text before the first section ignored");
            break;
        case SEC_SYNOPSIS:
            break; /* taken in pass 0 */
        case SEC_OVERVIEW:
            list_add(&overview, t, ln);
            break;
        case SEC_HEADER:
            if (all_digits(t) && strlen(t) < 6)
                prev_digits = atoi(t) + 1;
            else
                list_add(&header, t, ln);
            break;
        case SEC_IGNORED:
            break;
        case SEC_LIST: {
            list_t *l = &lists[cur];
            const char *bt = bullet_text(t);
            if (bt) {
                if (!section_items && l->n) {
                    set_err(err, ln, "a second '%s' list: the first began at line %d", cur_heading,
                            l->heading_line);
                    goto out;
                }
                if (!*bt) {
                    set_err(err, ln, "empty list item in '%s'", cur_heading);
                    goto out;
                }
                if (!section_items) {
                    l->heading_line = cur_heading_line;
                    l->heading = cur_heading;
                }
                list_add(l, bt, ln);
                section_items++;
            } else if (section_items) {
                /* A wrapped line continues the item before it. */
                char *joined = fmtalloc("%s %s", l->items[l->n - 1].text, t);
                free(l->items[l->n - 1].text);
                l->items[l->n - 1].text = joined;
            } else if (!subtitle_seen) {
                subtitle_seen = 1; /* "Key criteria assessors look for in your portfolio" */
            } else {
                warn(warnings, ln, "text ignored in '%s' (not a list item)", cur_heading);
            }
            break;
        }
        }
    }

    int full = unit_title != NULL;
    if (title_line && !full) {
        if (ends_with(title_line, "Revision")) {
            set_err(err, lines[0].no,
                    "cannot read the title line: the unit title it starts with is not repeated "
                    "on a line of its own");
            goto out;
        }
        warn(warnings, lines[0].no, "text before the first section ignored");
    }
    *format = full ? "revision-page" : "revision-page-short";

    spec = json_pack("{s:i}", "evitrack_spec", SPECIMPORT_VERSION);
    json_t *unit = json_object();

    if (full) {
        /* "<unit title><awarding body> <type and subject> Revision" */
        const char *rest = title_line + strlen(unit_title);
        if (!header.n) {
            set_err(err, header_line, "the unit title is not followed by the awarding body");
            goto out_unit;
        }
        const char *ab_upper = header.items[0].text;
        size_t abl = strlen(ab_upper);
        if (strlen(rest) < abl || strncasecmp(rest, ab_upper, abl) != 0) {
            set_err(err, header.items[0].no,
                    "expected the awarding body named in the title line after the unit title, "
                    "found '%s'", ab_upper);
            goto out_unit;
        }
        char *awarding_body = xstrndup(rest, abl);
        char *tail = specimport_norm(rest + abl);
        /* The qualification title: the last line of the unit's header box that
         * is not the awarding body, the kind ("vocational"), the synopsis or a label. */
        const char *qual_title = NULL;
        for (size_t i = 1; i < header.n; i++) {
            const char *t = header.items[i].text;
            int lower_word = 1;
            for (const char *c = t; *c; c++)
                if (!islower((unsigned char)*c))
                    lower_word = 0;
            if (lower_word || strcasecmp(t, "Assessment criteria") == 0 ||
                strcmp(t, synopsis_text) == 0)
                continue;
            qual_title = t;
        }
        if (!qual_title) {
            set_err(err, header_line,
                    "no qualification title in the unit's header (expected a line such as "
                    "'iCQ Level 3 Diploma in Customer Service (RQF)' before 'Topic Overview')");
            free(awarding_body);
            free(tail);
            goto out_unit;
        }
        const char *fw = framework_in(qual_title);
        if (!fw)
            fw = framework_in(tail);
        char *level = level_in(qual_title);
        if (!*level) {
            free(level);
            level = level_in(tail);
        }
        /* The subject: the tail without the framework, the qualification type and "Revision". */
        char *subject = xstrdup(tail);
        static const char *const drop[] = {"Revision", "Occupational Qualification",
                                           "Vocational Qualification", "Technical Qualification", NULL};
        for (size_t i = 0; drop[i]; i++) {
            char *at = strstr(subject, drop[i]);
            if (at)
                memmove(at, at + strlen(drop[i]), strlen(at + strlen(drop[i])) + 1);
        }
        if (fw) {
            char *at = strstr(subject, fw);
            if (at)
                memmove(at, at + strlen(fw), strlen(at + strlen(fw)) + 1);
        }
        char *subj = specimport_norm(subject);
        char *desc = paras_join(&overview);
        char *code = specimport_code_for(qual_title, fw);
        json_t *q = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "code", code, "title",
                              qual_title, "awarding_body", awarding_body, "level", level,
                              "framework", fw ? fw : "", "subject", subj, "description", desc);
        json_object_set_new(spec, "qualification", q);
        free(code);
        free(desc);
        free(subj);
        free(subject);
        free(level);
        free(awarding_body);
        free(tail);
        json_object_set_new(unit, "title", json_string(unit_title));
    } else {
        json_object_set_new(unit, "partial", json_true());
    }
    if (!lists[L_CRITERIA].n) {
        int at = seen_at[L_CRITERIA] ? seen_at[L_CRITERIA] : lines[nlines - 1].no;
        set_err(err, at, "no assessment criteria: expected an 'Assessment Criteria' or "
                         "'Examiner Marking Points' section with list items");
        goto out_unit;
    }
    if (full && !lists[L_OUTCOMES].n) {
        int at = seen_at[L_OUTCOMES] ? seen_at[L_OUTCOMES] : header_line;
        set_err(err, at, "no learning outcomes: expected a 'Learning Objectives' section with "
                         "list items");
        goto out_unit;
    }

    if (lists[L_CRITERIA].n > SPECIMPORT_MAX_CRITERIA || lists[L_OUTCOMES].n > SPECIMPORT_MAX_OUTCOMES) {
        set_err(err, lists[L_CRITERIA].n > SPECIMPORT_MAX_CRITERIA ? lists[L_CRITERIA].items[SPECIMPORT_MAX_CRITERIA].no
                                                                   : lists[L_OUTCOMES].items[SPECIMPORT_MAX_OUTCOMES].no,
                "more than %d assessment criteria or %d learning outcomes in one unit", SPECIMPORT_MAX_CRITERIA,
                SPECIMPORT_MAX_OUTCOMES);
        goto out_unit;
    }
    if (*synopsis_text)
        json_object_set_new(unit, "synopsis", json_string(synopsis_text));

    if (lists[L_OUTCOMES].n) {
        json_t *outcomes = json_array();
        for (size_t i = 0; i < lists[L_OUTCOMES].n; i++) {
            json_t *parts = specimport_split_outcomes(lists[L_OUTCOMES].items[i].text);
            size_t k;
            json_t *s;
            json_array_foreach(parts, k, s)
                json_array_append_new(outcomes, json_pack("{s:i, s:O}", "number",
                                                          (int)json_array_size(outcomes) + 1,
                                                          "text", s));
            json_decref(parts);
        }
        json_object_set_new(unit, "outcomes", outcomes);
        if (stats[L_OUTCOMES] >= 0 && (size_t)stats[L_OUTCOMES] != lists[L_OUTCOMES].n)
            warn(warnings, lists[L_OUTCOMES].heading_line,
                 "the page's summary counts %d learning outcome item(s); the list has %zu",
                 stats[L_OUTCOMES], lists[L_OUTCOMES].n);
        if (json_array_size(outcomes) > lists[L_OUTCOMES].n)
            warn(warnings, lists[L_OUTCOMES].heading_line,
                 "%zu learning outcome item(s) split at commas into %zu outcomes",
                 lists[L_OUTCOMES].n, json_array_size(outcomes));
    }
    json_t *criteria = json_array();
    json_object_set_new(unit, "criteria", criteria);
    for (size_t i = 0; i < lists[L_CRITERIA].n; i++) {
        const char *t = lists[L_CRITERIA].items[i].text;
        long n = 0, m = 0;
        size_t used = criterion_ref_prefix(t, &n, &m);
        if (!used) {
            json_array_append_new(criteria, json_pack("{s:s}", "text", t));
            continue;
        }
        /* "1.2 Describe ...": the page says which outcome it belongs to */
        char ref[48];
        snprintf(ref, sizeof ref, "%ld.%ld", n, m);
        json_t *outs = json_object_get(unit, "outcomes");
        if (outs && outcome_index(outs, n) < 0) {
            set_err(err, lists[L_CRITERIA].items[i].no,
                    "criterion %s names learning outcome %ld, but the page lists %zu outcome(s)", ref, n,
                    json_array_size(outs));
            goto out_unit;
        }
        size_t k;
        json_t *prev;
        json_array_foreach(criteria, k, prev) {
            if (!strcmp(json_string_value(json_object_get(prev, "ref")) ? json_string_value(json_object_get(prev, "ref")) : "", ref)) {
                set_err(err, lists[L_CRITERIA].items[i].no, "criterion %s appears twice", ref);
                goto out_unit;
            }
        }
        json_t *c = json_pack("{s:s, s:s}", "ref", ref, "text", t + used);
        if (outs)
            json_object_set_new(c, "outcome", json_integer(n));
        json_array_append_new(criteria, c);
    }
    if (stats[L_CRITERIA] >= 0 && (size_t)stats[L_CRITERIA] != lists[L_CRITERIA].n)
        warn(warnings, lists[L_CRITERIA].heading_line,
             "the page's summary counts %d assessment criteria; the list has %zu",
             stats[L_CRITERIA], lists[L_CRITERIA].n);

    json_t *guidance = json_object();
    for (int k = 0; specimport_guidance_kinds[k]; k++)
        if (lists[k].n)
            json_object_set_new(guidance, specimport_guidance_kinds[k], items_json(&lists[k]));
    json_object_set_new(unit, "guidance", guidance);
    if (lists[L_KEY_TERMS].n && lists[L_OUTCOMES].n) {
        int same = lists[L_KEY_TERMS].n == lists[L_OUTCOMES].n;
        for (size_t i = 0; same && i < lists[L_KEY_TERMS].n; i++)
            same = strcmp(lists[L_KEY_TERMS].items[i].text, lists[L_OUTCOMES].items[i].text) == 0;
        if (same)
            warn(warnings, lists[L_KEY_TERMS].heading_line,
                 "the key terms list repeats the learning outcomes (kept as the page gives it)");
    }

    specimport_assign_outcomes(unit);
    json_object_set_new(spec, "units", json_pack("[O]", unit));
    json_decref(unit);
    goto out;

out_unit:
    json_decref(unit);
    json_decref(spec);
    spec = NULL;
out:
    for (size_t i = 0; i < nlines; i++)
        free(lines[i].text);
    free(lines);
    for (int i = 0; i < L_COUNT; i++)
        list_free(&lists[i]);
    list_free(&synopsis);
    list_free(&overview);
    list_free(&header);
    free(synopsis_text);
    free(unit_title);
    return spec;
}

/* ---- outcome assignment ---- */

/* Words that say nothing about which outcome a criterion belongs to:
 * function words and the vocabulary of assessment itself. */
static const char *const stop_words[] = {
    "that", "this", "with", "from", "into", "within", "between", "their", "your", "they", "them",
    "have", "been", "such", "also", "other", "which", "what", "when", "where", "while", "about",
    "including", "these", "those", "there", "each", "more", "most", "some", "will", "would",
    "could", "should", "must", "does", "than", "then", "only", "both", "over", "under", "through",
    "award", "credit", "given", "evidence", "demonstrate", "demonstrating", "demonstrates",
    "demonstrated", "demonstration", "understand", "understanding", "understands", "able",
    "know", "knowing", "knowledge", "learner", "learners", "assessor", "assessors", "assess",
    "assessment", "look", "looks", "expect", "expected", "require", "requires", "required",
    "marking", "point", "points", "clear", "clearly", "accurate", "accurately", "show", "showing",
    "shows", "specific", "using", "effective", "effectively", "explain", "explaining",
    "explanation", "describe", "describing", "description", "identify", "identifying",
    "identification", "analysis", "analyse", "analysing", "example", "examples", "relevant",
    "appropriate", "ways", "range", "different", "key", NULL,
};

#define STEM_MAX 6

/* The distinct stems of a text's words (ASCII letters and digits, 4+ long, not
 * stop words; a plural 's' dropped; first STEM_MAX letters), as an object
 * stem -> the first word it came from. */
static json_t *stems_of(const char *text)
{
    json_t *stems = json_object();
    const char *p = text;
    while (*p) {
        while (*p && !isalnum((unsigned char)*p))
            p++;
        const char *w = p;
        while (*p && isalnum((unsigned char)*p))
            p++;
        size_t n = (size_t)(p - w);
        if (n < 4 || n > 40)
            continue;
        char word[48];
        for (size_t i = 0; i < n; i++)
            word[i] = (char)tolower((unsigned char)w[i]);
        word[n] = '\0';
        int stop = 0;
        for (size_t i = 0; stop_words[i] && !stop; i++)
            stop = strcmp(word, stop_words[i]) == 0;
        if (stop)
            continue;
        char stem[STEM_MAX + 1];
        size_t sl = n;
        if (sl > 4 && word[sl - 1] == 's' && word[sl - 2] != 's')
            sl--;
        if (sl > STEM_MAX)
            sl = STEM_MAX;
        memcpy(stem, word, sl);
        stem[sl] = '\0';
        if (!json_object_get(stems, stem))
            json_object_set_new(stems, stem, json_string(word));
    }
    return stems;
}

static int outcome_index(json_t *outcomes, json_int_t number)
{
    size_t i;
    json_t *o;
    json_array_foreach(outcomes, i, o)
        if (json_integer_value(json_object_get(o, "number")) == number)
            return (int)i;
    return -1;
}

/* The outcome number a ref such as "2.3" names, or 0. */
static json_int_t ref_outcome(const char *ref)
{
    if (!ref || !isdigit((unsigned char)*ref))
        return 0;
    return strtoll(ref, NULL, 10);
}

void specimport_assign_outcomes(json_t *unit)
{
    json_t *outcomes = json_object_get(unit, "outcomes");
    json_t *criteria = json_object_get(unit, "criteria");
    size_t k = json_array_size(outcomes), n = json_array_size(criteria);
    if (!k || !n)
        return;
    int *placed = xcalloc(n, sizeof *placed); /* outcome index + 1; 0 = not yet */
    json_t **ostems = xcalloc(k, sizeof *ostems);
    json_t *df = json_object();

    for (size_t j = 0; j < k; j++) {
        ostems[j] = stems_of(json_string_value(json_object_get(json_array_get(outcomes, j), "text")));
        const char *s;
        json_t *v;
        json_object_foreach(ostems[j], s, v) {
            json_t *c = json_object_get(df, s);
            json_object_set_new(df, s, json_integer(c ? json_integer_value(c) + 1 : 1));
        }
    }

    /* 1. document, 2. content */
    for (size_t i = 0; i < n; i++) {
        json_t *c = json_array_get(criteria, i);
        json_t *on = json_object_get(c, "outcome");
        int idx = -1;
        if (json_is_integer(on))
            idx = outcome_index(outcomes, json_integer_value(on));
        if (idx < 0)
            idx = outcome_index(outcomes,
                                ref_outcome(json_string_value(json_object_get(c, "ref"))));
        if (idx >= 0) {
            placed[i] = idx + 1;
            if (!json_object_get(c, "assigned_by"))
                json_object_set_new(c, "assigned_by", json_string("document"));
            continue;
        }
        json_t *cs = stems_of(json_string_value(json_object_get(c, "text")));
        double best = 0, second = 0;
        int besti = -1;
        for (size_t j = 0; j < k; j++) {
            double score = 0;
            const char *s;
            json_t *v;
            json_object_foreach(cs, s, v) {
                if (json_object_get(ostems[j], s))
                    score += log((double)k / (double)json_integer_value(json_object_get(df, s)));
            }
            if (score > best + 1e-9) {
                second = best;
                best = score;
                besti = (int)j;
            } else if (score > second) {
                second = score;
            }
        }
        if (besti >= 0 && best > 1e-9 && best > second + 1e-9) {
            placed[i] = besti + 1;
            json_t *words = json_array();
            const char *s;
            json_t *v;
            json_object_foreach(cs, s, v) {
                json_t *d = json_object_get(df, s);
                if (json_object_get(ostems[besti], s) && json_integer_value(d) < (json_int_t)k)
                    json_array_append(words, v);
            }
            json_object_set_new(c, "assigned_by", json_string("content"));
            json_object_set_new(c, "matched", words);
        }
        json_decref(cs);
    }

    /* 3. order: runs of unplaced criteria between placed ones. */
    int *has = xcalloc(k + 2, sizeof *has); /* outcome number -> has a placed criterion */
    for (size_t i = 0; i < n; i++)
        if (placed[i])
            has[placed[i]] = 1;
    for (size_t i = 0; i < n;) {
        if (placed[i]) {
            i++;
            continue;
        }
        size_t r0 = i;
        while (i < n && !placed[i])
            i++;
        size_t r = i - r0;
        int lo = r0 ? placed[r0 - 1] : 0;         /* outcome number before the run, 0 = none */
        int hi = i < n ? placed[i] : (int)k + 1;  /* after it, k+1 = none */
        int gaps[512], g = 0;
        int from = lo + 1, to = hi - 1;
        if (from > to) { /* placed criteria out of order: nothing between them */
            from = 1;
            to = 0;
        }
        for (int o = from; o <= to && g < 512; o++)
            if (!has[o])
                gaps[g++] = o;
        for (size_t j = 0; j < r; j++) {
            int o;
            if (g)
                o = r >= (size_t)g ? gaps[j * (size_t)g / r] : gaps[j];
            else if (lo)
                o = lo;
            else if (hi <= (int)k)
                o = hi;
            else
                o = 1;
            placed[r0 + j] = o;
            json_object_set_new(json_array_get(criteria, r0 + j), "assigned_by", json_string("order"));
        }
        for (int j = 0; j < g; j++)
            has[gaps[j]] = 1;
    }

    /* Outcome numbers and refs n.m in document order. */
    int *count = xcalloc(k + 1, sizeof *count);
    for (size_t i = 0; i < n; i++) {
        json_t *c = json_array_get(criteria, i);
        json_t *o = json_array_get(outcomes, (size_t)placed[i] - 1);
        json_int_t num = json_integer_value(json_object_get(o, "number"));
        json_object_set_new(c, "outcome", json_integer(num));
        count[placed[i] - 1]++;
        if (!json_is_string(json_object_get(c, "ref"))) {
            int m = count[placed[i] - 1];
            char ref[48];
            for (;;) {
                snprintf(ref, sizeof ref, "%lld.%d", (long long)num, m);
                int taken = 0;
                size_t q;
                json_t *other;
                json_array_foreach(criteria, q, other) {
                    const char *r2 = json_string_value(json_object_get(other, "ref"));
                    if (q != i && r2 && strcmp(r2, ref) == 0)
                        taken = 1;
                }
                if (!taken)
                    break;
                m++;
            }
            json_object_set_new(c, "ref", json_string(ref));
        }
    }
    free(count);
    free(has);
    for (size_t j = 0; j < k; j++)
        json_decref(ostems[j]);
    free(ostems);
    json_decref(df);
    free(placed);
}

/* ---- canonical JSON ---- */

/* Finds the line where the value at a JSON-pointer-like path ("/units/0/title")
 * starts in already-valid JSON text, so errors can name a line. 0 if not found. */
typedef struct jscan {
    const char *s;
    size_t len, pos;
    int line;
    const char *target;
    int found;
    int depth;
} jscan_t;

static void js_ws(jscan_t *j)
{
    while (j->pos < j->len && isspace((unsigned char)j->s[j->pos])) {
        if (j->s[j->pos] == '\n')
            j->line++;
        j->pos++;
    }
}

static void js_string(jscan_t *j, buf_t *out)
{
    j->pos++; /* opening quote */
    while (j->pos < j->len && j->s[j->pos] != '"') {
        if (j->s[j->pos] == '\\' && j->pos + 1 < j->len) {
            if (out)
                buf_putc(out, j->s[j->pos + 1]);
            j->pos += 2;
            continue;
        }
        if (out)
            buf_putc(out, j->s[j->pos]);
        j->pos++;
    }
    j->pos++;
}

static void js_value(jscan_t *j, buf_t *path)
{
    js_ws(j);
    if (j->found || j->pos >= j->len || ++j->depth > 64)
        return;
    if (strcmp(path->data ? path->data : "", j->target) == 0) {
        j->found = j->line;
        return;
    }
    char c = j->s[j->pos];
    size_t keep = path->len;
    if (c == '{' || c == '[') {
        int obj = c == '{';
        j->pos++;
        for (int idx = 0; !j->found; idx++) {
            js_ws(j);
            if (j->pos >= j->len)
                return;
            if (j->s[j->pos] == (obj ? '}' : ']')) {
                j->pos++;
                break;
            }
            buf_putc(path, '/');
            if (obj) {
                js_string(j, path);
                js_ws(j);
                j->pos++; /* ':' */
            } else {
                buf_printf(path, "%d", idx);
            }
            js_value(j, path);
            path->len = keep;
            path->data[keep] = '\0';
            js_ws(j);
            if (j->pos < j->len && j->s[j->pos] == ',')
                j->pos++;
        }
    } else if (c == '"') {
        js_string(j, NULL);
    } else {
        while (j->pos < j->len && !strchr(",}] \t\r\n", j->s[j->pos]))
            j->pos++;
    }
    j->depth--;
}

int specimport_json_line(const char *text, size_t len, const char *path)
{
    jscan_t j = {text, len, 0, 1, path, 0, 0};
    buf_t p = {0};
    buf_puts(&p, "");
    js_value(&j, &p);
    buf_free(&p);
    return j.found;
}

typedef struct jctx {
    const char *text;
    size_t len;
    specimport_error_t *err;
} jctx_t;

static int jfail(jctx_t *c, const char *path, const char *fmt, ...) EV_PRINTF(3, 4);

static int jfail(jctx_t *c, const char *path, const char *fmt, ...)
{
    buf_t b = {0};
    buf_printf(&b, "%s: ", *path ? path : "/");
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    set_err(c->err, specimport_json_line(c->text, c->len, path), "%s", b.data);
    buf_free(&b);
    return EV_ERR;
}

/* Checks obj has only the allowed keys. */
static int only_keys(jctx_t *c, const char *path, json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        int ok = 0;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = strcmp(key, allowed[i]) == 0;
        if (!ok) {
            char *p = fmtalloc("%s/%s", path, key);
            jfail(c, p, "unknown field \"%s\"", key);
            free(p);
            return EV_ERR;
        }
    }
    return EV_OK;
}

/* A string field: required (non-empty) or optional. Sets *out to a new
 * normalised string or NULL when absent. */
static int str_field(jctx_t *c, const char *path, json_t *obj, const char *key, int required,
                     char **out)
{
    *out = NULL;
    json_t *v = json_object_get(obj, key);
    char *p = fmtalloc("%s/%s", path, key);
    int rc = EV_OK;
    if (!v || json_is_null(v)) {
        if (required)
            rc = jfail(c, path, "missing \"%s\"", key);
    } else if (!json_is_string(v)) {
        rc = jfail(c, p, "expected a string");
    } else {
        *out = specimport_norm(json_string_value(v));
        if (required && !**out) {
            rc = jfail(c, p, "must not be empty");
            free(*out);
            *out = NULL;
        }
    }
    free(p);
    return rc;
}

static json_t *canon_string_list(jctx_t *c, const char *path, json_t *a);

/* Optional whole-number fields of obj (keys ending with NULL), 0..100000:
 * each one given is copied to out. EV_ERR with the error set on a bad one. */
static int copy_ints(jctx_t *c, const char *path, json_t *obj, const char *const *keys, json_t *out)
{
    for (size_t i = 0; keys[i]; i++) {
        json_t *v = json_object_get(obj, keys[i]);
        if (!v || json_is_null(v))
            continue;
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 100000) {
            char *p = fmtalloc("%s/%s", path, keys[i]);
            jfail(c, p, "expected a whole number from 0 to 100000");
            free(p);
            return EV_ERR;
        }
        json_object_set(out, keys[i], v);
    }
    return EV_OK;
}

/* A level given as "2", 2, "Level 2", "Entry 3" or "Entry": its number for
 * comparisons (Entry = 0); -1 when it names none. */
int specimport_level_number(const char *level)
{
    const char *p = level ? level : "";
    while (*p == ' ')
        p++;
    if (!strncasecmp(p, "Entry", 5))
        return 0;
    if (!strncasecmp(p, "Level", 5))
        p += 5;
    while (*p == ' ')
        p++;
    if (!isdigit((unsigned char)*p))
        return -1;
    long v = strtol(p, NULL, 10);
    return v >= 0 && v <= 8 ? (int)v : -1;
}

/* An optional level field (string or integer) copied to out as a string, "Level 2" as "2". */
static int copy_level(jctx_t *c, const char *path, json_t *obj, json_t *out)
{
    json_t *v = json_object_get(obj, "level");
    if (!v || json_is_null(v))
        return EV_OK;
    char *s = NULL;
    if (json_is_integer(v)) {
        s = fmtalloc("%lld", (long long)json_integer_value(v));
    } else if (json_is_string(v)) {
        s = specimport_norm(json_string_value(v));
        if (!strncasecmp(s, "Level ", 6) && isdigit((unsigned char)s[6])) {
            char *t = xstrdup(s + 6);
            free(s);
            s = t;
        }
    } else {
        char *p = fmtalloc("%s/level", path);
        jfail(c, p, "expected a level such as \"3\", 3 or \"Entry 3\"");
        free(p);
        return EV_ERR;
    }
    json_object_set_new(out, "level", json_string(s));
    free(s);
    return EV_OK;
}

/* The qualification's unit groups: [{name, mandatory?, units[], min_credits?, min_units?}]. */
static json_t *canon_groups(jctx_t *c, json_t *g)
{
    static const char *const keys[] = {"name", "mandatory", "units", "min_credits", "min_units", NULL};
    static const char *const ints[] = {"min_credits", "min_units", NULL};
    if (!json_is_array(g)) {
        jfail(c, "/qualification/groups", "expected an array of unit groups");
        return NULL;
    }
    json_t *out = json_array(), *seen = json_object();
    size_t i;
    json_t *v;
    json_array_foreach(g, i, v) {
        char p[96];
        snprintf(p, sizeof p, "/qualification/groups/%zu", i);
        if (!json_is_object(v)) {
            jfail(c, p, "expected an object with \"name\" and \"units\"");
            goto fail;
        }
        if (only_keys(c, p, v, keys) != EV_OK)
            goto fail;
        char *name = NULL;
        if (str_field(c, p, v, "name", 1, &name) != EV_OK)
            goto fail;
        json_t *grp = json_pack("{s:s}", "name", name);
        free(name);
        json_array_append_new(out, grp);
        json_t *m = json_object_get(v, "mandatory");
        if (m && !json_is_boolean(m)) {
            char mp[128];
            snprintf(mp, sizeof mp, "%s/mandatory", p);
            jfail(c, mp, "expected true or false");
            goto fail;
        }
        json_object_set_new(grp, "mandatory", json_boolean(json_is_true(m)));
        json_t *units = json_object_get(v, "units");
        char up[128];
        snprintf(up, sizeof up, "%s/units", p);
        if (!units) {
            jfail(c, p, "missing \"units\" (the refs of the units in the group)");
            goto fail;
        }
        if (!json_is_array(units) || !json_array_size(units)) {
            jfail(c, up, "expected a non-empty array of unit refs");
            goto fail;
        }
        json_t *refs = canon_string_list(c, up, units);
        if (!refs)
            goto fail;
        json_object_set_new(grp, "units", refs);
        size_t k;
        json_t *r;
        json_array_foreach(refs, k, r) {
            json_t *prev = json_object_get(seen, json_string_value(r));
            if (prev) {
                char rp[160];
                snprintf(rp, sizeof rp, "%s/%zu", up, k);
                jfail(c, rp, "unit \"%s\" is already in group %lld", json_string_value(r),
                      (long long)json_integer_value(prev));
                goto fail;
            }
            json_object_set_new(seen, json_string_value(r), json_integer((json_int_t)i));
        }
        if (copy_ints(c, p, v, ints, grp) != EV_OK)
            goto fail;
    }
    json_decref(seen);
    return out;
fail:
    json_decref(seen);
    json_decref(out);
    return NULL;
}

/* The rules of combination: {min_credits?, at_or_above_level?: [{level, min_credits}]}. */
static json_t *canon_rules(jctx_t *c, json_t *r)
{
    static const char *const keys[] = {"min_credits", "at_or_above_level", NULL};
    static const char *const ints[] = {"min_credits", NULL};
    static const char *const lkeys[] = {"level", "min_credits", NULL};
    const char *path = "/qualification/rules";
    if (!json_is_object(r)) {
        jfail(c, path, "expected an object");
        return NULL;
    }
    if (only_keys(c, path, r, keys) != EV_OK)
        return NULL;
    json_t *out = json_object();
    if (copy_ints(c, path, r, ints, out) != EV_OK)
        goto fail;
    json_t *al = json_object_get(r, "at_or_above_level");
    if (al) {
        if (!json_is_array(al)) {
            jfail(c, "/qualification/rules/at_or_above_level", "expected an array of {level, min_credits}");
            goto fail;
        }
        json_t *arr = json_array();
        json_object_set_new(out, "at_or_above_level", arr);
        size_t i;
        json_t *v;
        json_array_foreach(al, i, v) {
            char p[96];
            snprintf(p, sizeof p, "%s/at_or_above_level/%zu", path, i);
            if (!json_is_object(v)) {
                jfail(c, p, "expected an object with \"level\" and \"min_credits\"");
                goto fail;
            }
            if (only_keys(c, p, v, lkeys) != EV_OK)
                goto fail;
            json_t *lv = json_object_get(v, "level");
            int level = json_is_integer(lv) ? (int)json_integer_value(lv)
                        : json_is_string(lv) ? specimport_level_number(json_string_value(lv)) : -1;
            if (level < 0 || level > 8) {
                char lp[128];
                snprintf(lp, sizeof lp, "%s/level", p);
                jfail(c, lp, "expected a level from 0 (Entry) to 8");
                goto fail;
            }
            json_t *mc = json_object_get(v, "min_credits");
            if (!json_is_integer(mc) || json_integer_value(mc) < 0 || json_integer_value(mc) > 100000) {
                char lp[128];
                snprintf(lp, sizeof lp, "%s/min_credits", p);
                jfail(c, mc ? lp : p, mc ? "expected a whole number from 0 to 100000" : "missing \"min_credits\"");
                goto fail;
            }
            json_array_append_new(arr, json_pack("{s:i, s:O}", "level", level, "min_credits", mc));
        }
    }
    return out;
fail:
    json_decref(out);
    return NULL;
}

static json_t *canon_qualification(jctx_t *c, json_t *q)
{
    static const char *const keys[] = {"code", "title", "qan", "awarding_body", "level", "framework",
                                       "subject", "glh", "tqt", "credit_value", "description", "groups",
                                       "rules", NULL};
    static const char *const ints[] = {"glh", "tqt", "credit_value", NULL};
    const char *path = "/qualification";
    if (!json_is_object(q)) {
        jfail(c, path, "expected an object");
        return NULL;
    }
    if (only_keys(c, path, q, keys) != EV_OK)
        return NULL;
    json_t *out = NULL;
    char *code = NULL, *title = NULL, *ab = NULL, *level = NULL, *fw = NULL, *subj = NULL,
         *desc = NULL;
    json_t *lv = json_object_get(q, "level");
    if (json_is_integer(lv)) {
        level = fmtalloc("%lld", (long long)json_integer_value(lv));
    } else if (str_field(c, path, q, "level", 0, &level) != EV_OK) {
        goto out;
    }
    if (str_field(c, path, q, "code", 0, &code) != EV_OK ||
        str_field(c, path, q, "title", 1, &title) != EV_OK ||
        str_field(c, path, q, "awarding_body", 0, &ab) != EV_OK ||
        str_field(c, path, q, "framework", 0, &fw) != EV_OK ||
        str_field(c, path, q, "subject", 0, &subj) != EV_OK)
        goto out;
    json_t *dv = json_object_get(q, "description");
    if (dv && !json_is_null(dv)) {
        if (!json_is_string(dv)) {
            jfail(c, "/qualification/description", "expected a string");
            goto out;
        }
        desc = xstrdup(json_string_value(dv)); /* paragraphs kept */
    }
    if (code && strlen(code) > 64) {
        jfail(c, "/qualification/code", "longer than 64 characters");
        goto out;
    }
    if (!code || !*code) {
        free(code);
        code = specimport_code_for(title, fw);
    }
    out = json_pack("{s:s, s:s, s:s, s:s, s:s}", "code", code, "title", title, "awarding_body",
                    ab ? ab : "", "level", level ? level : "", "framework", fw ? fw : "");
    if (subj)
        json_object_set_new(out, "subject", json_string(subj));
    if (desc)
        json_object_set_new(out, "description", json_string(desc));
    char *qan = NULL;
    if (str_field(c, path, q, "qan", 0, &qan) != EV_OK)
        goto fail;
    if (qan && *qan)
        json_object_set_new(out, "qan", json_string(qan));
    free(qan);
    if (copy_ints(c, path, q, ints, out) != EV_OK)
        goto fail;
    json_t *gv = json_object_get(q, "groups");
    if (gv) {
        json_t *g = canon_groups(c, gv);
        if (!g)
            goto fail;
        json_object_set_new(out, "groups", g);
    }
    json_t *rv = json_object_get(q, "rules");
    if (rv) {
        json_t *r = canon_rules(c, rv);
        if (!r)
            goto fail;
        json_object_set_new(out, "rules", r);
    }
    goto out;
fail:
    json_decref(out);
    out = NULL;
out:
    free(code);
    free(title);
    free(ab);
    free(level);
    free(fw);
    free(subj);
    free(desc);
    return out;
}

static json_t *canon_string_list(jctx_t *c, const char *path, json_t *a)
{
    if (!json_is_array(a)) {
        jfail(c, path, "expected an array of strings");
        return NULL;
    }
    json_t *out = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        char *p = fmtalloc("%s/%zu", path, i);
        if (!json_is_string(v) || !*json_string_value(v)) {
            jfail(c, p, "expected a non-empty string");
            free(p);
            json_decref(out);
            return NULL;
        }
        free(p);
        char *n = specimport_norm(json_string_value(v));
        json_array_append_new(out, json_string(n));
        free(n);
    }
    return out;
}

static json_t *canon_unit(jctx_t *c, size_t ui, json_t *u)
{
    static const char *const keys[] = {"ref", "number", "urn", "title", "partial", "level", "credit_value",
                                       "glh", "tqt", "synopsis", "outcomes", "criteria", "guidance", NULL};
    static const char *const ints[] = {"credit_value", "glh", "tqt", NULL};
    static const char *const okeys[] = {"number", "text", NULL};
    static const char *const ckeys[] = {"ref", "outcome", "text", "assigned_by", "matched", NULL};
    char path[64];
    snprintf(path, sizeof path, "/units/%zu", ui);
    if (!json_is_object(u)) {
        jfail(c, path, "expected an object");
        return NULL;
    }
    if (only_keys(c, path, u, keys) != EV_OK)
        return NULL;
    json_t *out = json_object(), *result = NULL;
    char *ref = NULL, *title = NULL, *synopsis = NULL;
    json_t *pv = json_object_get(u, "partial");
    if (pv && !json_is_boolean(pv)) {
        char p[96];
        snprintf(p, sizeof p, "%s/partial", path);
        jfail(c, p, "expected true or false");
        goto out;
    }
    int partial = json_is_true(pv);
    if (str_field(c, path, u, "ref", 0, &ref) != EV_OK ||
        str_field(c, path, u, "title", !partial, &title) != EV_OK)
        goto out;
    json_t *sv = json_object_get(u, "synopsis");
    if (sv && !json_is_null(sv)) {
        if (!json_is_string(sv)) {
            char p[96];
            snprintf(p, sizeof p, "%s/synopsis", path);
            jfail(c, p, "expected a string");
            goto out;
        }
        synopsis = xstrdup(json_string_value(sv));
    }
    if (ref && *ref)
        json_object_set_new(out, "ref", json_string(ref));
    if (title && *title)
        json_object_set_new(out, "title", json_string(title));
    if (partial)
        json_object_set_new(out, "partial", json_true());
    if (synopsis)
        json_object_set_new(out, "synopsis", json_string(synopsis));
    {
        static const char *const strs[] = {"number", "urn", NULL};
        for (size_t k = 0; strs[k]; k++) {
            char *sv2 = NULL;
            if (str_field(c, path, u, strs[k], 0, &sv2) != EV_OK)
                goto out;
            if (sv2 && *sv2)
                json_object_set_new(out, strs[k], json_string(sv2));
            free(sv2);
        }
        if (copy_level(c, path, u, out) != EV_OK || copy_ints(c, path, u, ints, out) != EV_OK)
            goto out;
    }

    json_t *os = json_object_get(u, "outcomes");
    if (os) {
        char p[96];
        snprintf(p, sizeof p, "%s/outcomes", path);
        if (!json_is_array(os) || !json_array_size(os)) {
            jfail(c, p, "expected a non-empty array of outcomes");
            goto out;
        }
        if (json_array_size(os) > SPECIMPORT_MAX_OUTCOMES) {
            jfail(c, p, "more than %d outcomes in one unit", SPECIMPORT_MAX_OUTCOMES);
            goto out;
        }
        json_t *outs = json_array();
        json_object_set_new(out, "outcomes", outs);
        size_t i;
        json_t *o;
        json_array_foreach(os, i, o) {
            char op[160];
            snprintf(op, sizeof op, "%s/%zu", p, i);
            if (!json_is_object(o)) {
                jfail(c, op, "expected an object with \"number\" and \"text\"");
                goto out;
            }
            if (only_keys(c, op, o, okeys) != EV_OK)
                goto out;
            json_t *nv = json_object_get(o, "number");
            json_int_t num = (json_int_t)i + 1;
            if (nv) {
                if (!json_is_integer(nv) || json_integer_value(nv) < 1 ||
                    json_integer_value(nv) > 999) {
                    char np[224];
                    snprintf(np, sizeof np, "%s/number", op);
                    jfail(c, np, "expected a whole number from 1 to 999");
                    goto out;
                }
                num = json_integer_value(nv);
            }
            if (outcome_index(outs, num) >= 0) {
                jfail(c, op, "outcome number %lld appears twice", (long long)num);
                goto out;
            }
            char *text = NULL;
            if (str_field(c, op, o, "text", 1, &text) != EV_OK)
                goto out;
            json_array_append_new(outs, json_pack("{s:I, s:s}", "number", num, "text", text));
            free(text);
        }
    } else if (!partial) {
        jfail(c, path, "missing \"outcomes\" (only a unit marked \"partial\" may leave them out)");
        goto out;
    }

    json_t *cs = json_object_get(u, "criteria");
    {
        char p[96];
        snprintf(p, sizeof p, "%s/criteria", path);
        if (!cs) {
            jfail(c, path, "missing \"criteria\"");
            goto out;
        }
        if (!json_is_array(cs) || !json_array_size(cs)) {
            jfail(c, p, "expected a non-empty array of criteria");
            goto out;
        }
        if (json_array_size(cs) > SPECIMPORT_MAX_CRITERIA) {
            jfail(c, p, "more than %d criteria in one unit", SPECIMPORT_MAX_CRITERIA);
            goto out;
        }
        json_t *crit = json_array();
        json_object_set_new(out, "criteria", crit);
        json_t *outs = json_object_get(out, "outcomes");
        size_t i;
        json_t *cr;
        json_array_foreach(cs, i, cr) {
            char cp[160];
            snprintf(cp, sizeof cp, "%s/%zu", p, i);
            if (!json_is_object(cr)) {
                jfail(c, cp, "expected an object with \"text\"");
                goto out;
            }
            if (only_keys(c, cp, cr, ckeys) != EV_OK)
                goto out;
            char *text = NULL, *cref = NULL;
            if (str_field(c, cp, cr, "text", 1, &text) != EV_OK)
                goto out;
            if (str_field(c, cp, cr, "ref", 0, &cref) != EV_OK) {
                free(text);
                goto out;
            }
            free(text); /* the text again, keeping its sub-items on lines of their own */
            text = specimport_norm_items(json_string_value(json_object_get(cr, "text")));
            json_t *item = json_pack("{s:s}", "text", text);
            free(text);
            json_array_append_new(crit, item);
            if (cref && *cref) {
                size_t q;
                json_t *other;
                json_array_foreach(crit, q, other) {
                    const char *r2 = json_string_value(json_object_get(other, "ref"));
                    if (r2 && strcmp(r2, cref) == 0) {
                        char rp[224];
                        snprintf(rp, sizeof rp, "%s/ref", cp);
                        jfail(c, rp, "criterion ref \"%s\" appears twice", cref);
                        free(cref);
                        goto out;
                    }
                }
                json_object_set_new(item, "ref", json_string(cref));
            }
            free(cref);
            json_t *on = json_object_get(cr, "outcome");
            if (on && !json_is_null(on)) {
                char np[224];
                snprintf(np, sizeof np, "%s/outcome", cp);
                if (!json_is_integer(on)) {
                    jfail(c, np, "expected an outcome number");
                    goto out;
                }
                if (outcome_index(outs, json_integer_value(on)) < 0) {
                    jfail(c, np, "no outcome numbered %lld in this unit",
                          (long long)json_integer_value(on));
                    goto out;
                }
                json_object_set(item, "outcome", on);
            }
            json_t *ab = json_object_get(cr, "assigned_by");
            if (ab) {
                const char *s = json_string_value(ab);
                if (!s || (strcmp(s, "document") && strcmp(s, "content") && strcmp(s, "order") &&
                           strcmp(s, "existing"))) {
                    char np[224];
                    snprintf(np, sizeof np, "%s/assigned_by", cp);
                    jfail(c, np, "expected \"document\", \"content\", \"order\" or \"existing\"");
                    goto out;
                }
                json_object_set(item, "assigned_by", ab);
            }
            json_t *mv = json_object_get(cr, "matched");
            if (mv) {
                char np[224];
                snprintf(np, sizeof np, "%s/matched", cp);
                json_t *m = canon_string_list(c, np, mv);
                if (!m)
                    goto out;
                json_object_set_new(item, "matched", m);
            }
        }
    }

    json_t *gv = json_object_get(u, "guidance");
    if (gv) {
        char p[96];
        snprintf(p, sizeof p, "%s/guidance", path);
        if (!json_is_object(gv)) {
            jfail(c, p, "expected an object of lists");
            goto out;
        }
        if (only_keys(c, p, gv, specimport_guidance_kinds) != EV_OK)
            goto out;
        json_t *g = json_object();
        json_object_set_new(out, "guidance", g);
        for (size_t k = 0; specimport_guidance_kinds[k]; k++) {
            json_t *lv = json_object_get(gv, specimport_guidance_kinds[k]);
            if (!lv)
                continue;
            char lp[224];
            snprintf(lp, sizeof lp, "%s/%s", p, specimport_guidance_kinds[k]);
            json_t *l = canon_string_list(c, lp, lv);
            if (!l)
                goto out;
            json_object_set_new(g, specimport_guidance_kinds[k], l);
        }
    }
    specimport_assign_outcomes(out);
    result = out;
    out = NULL;
out:
    json_decref(out);
    free(ref);
    free(title);
    free(synopsis);
    return result;
}

/* ---- apprenticeship standards ---- */

/* The three KSB kinds: the key of their list in a standard document, the
 * letter their codes start with, and the unit they import as. */
static const struct {
    const char *key, *letter, *title, *outcome;
} ksb_kinds[] = {
    {"knowledge", "K", "Knowledge", "What the apprentice knows and understands"},
    {"skills", "S", "Skills", "What the apprentice can do"},
    {"behaviours", "B", "Behaviours", "How the apprentice approaches their work"},
};

/* A KSB code: its kind's letter followed by 1 to 4 digits (K1, S12, B3). */
static int ksb_code_ok(const char *code, const char *letter)
{
    if (!code || toupper((unsigned char)code[0]) != letter[0])
        return 0;
    size_t n = strlen(code + 1);
    return n >= 1 && n <= 4 && all_digits(code + 1);
}

/* One KSB list (/standard/knowledge ...): [{code, text}], codes unique in the
 * document (seen collects them, upper-cased). NULL with the error set. */
static json_t *canon_ksb_list(jctx_t *c, size_t kind, json_t *a, json_t *seen)
{
    static const char *const keys[] = {"code", "text", NULL};
    char *path = fmtalloc("/standard/%s", ksb_kinds[kind].key);
    json_t *out = NULL;
    if (!json_is_array(a) || !json_array_size(a)) {
        jfail(c, path, "expected a non-empty array of {\"code\", \"text\"}");
        goto out;
    }
    if (json_array_size(a) > SPECIMPORT_MAX_CRITERIA) {
        jfail(c, path, "more than %d entries", SPECIMPORT_MAX_CRITERIA);
        goto out;
    }
    out = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        char *p = fmtalloc("%s/%zu", path, i);
        char *code = NULL, *text = NULL;
        int ok = 0;
        if (!json_is_object(v))
            jfail(c, p, "expected an object {\"code\", \"text\"}");
        else if (only_keys(c, p, v, keys) == EV_OK && str_field(c, p, v, "code", 1, &code) == EV_OK &&
                 str_field(c, p, v, "text", 1, &text) == EV_OK) {
            char *cp = fmtalloc("%s/code", p);
            for (char *q = code; *q; q++)
                *q = (char)toupper((unsigned char)*q);
            if (!ksb_code_ok(code, ksb_kinds[kind].letter))
                jfail(c, cp, "\"%s\" is not a %s code (%s followed by a number, as %s1)", code,
                      ksb_kinds[kind].key, ksb_kinds[kind].letter, ksb_kinds[kind].letter);
            else if (json_object_get(seen, code))
                jfail(c, cp, "%s appears twice", code);
            else
                ok = 1;
            free(cp);
        }
        if (ok) {
            json_object_set_new(seen, code, json_true());
            char *t = specimport_norm_items(json_string_value(json_object_get(v, "text")));
            json_array_append_new(out, json_pack("{s:s, s:s}", "code", code, "text", t));
            free(t);
        }
        free(p);
        free(code);
        free(text);
        if (!ok) {
            json_decref(out);
            out = NULL;
            goto out;
        }
    }
out:
    free(path);
    return out;
}

/* /standard/duties: [{ref?, text, ksbs[]}], every KSB code named in the document. */
static json_t *canon_duties(jctx_t *c, json_t *a, json_t *seen)
{
    static const char *const keys[] = {"ref", "text", "ksbs", NULL};
    if (!json_is_array(a)) {
        jfail(c, "/standard/duties", "expected an array of duties");
        return NULL;
    }
    json_t *out = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        char *p = fmtalloc("/standard/duties/%zu", i);
        char *ref = NULL, *text = NULL;
        json_t *ksbs = NULL;
        int ok = 0;
        if (!json_is_object(v)) {
            jfail(c, p, "expected an object {\"ref\", \"text\", \"ksbs\"}");
        } else if (only_keys(c, p, v, keys) == EV_OK && str_field(c, p, v, "ref", 0, &ref) == EV_OK &&
                   str_field(c, p, v, "text", 1, &text) == EV_OK) {
            json_t *kv = json_object_get(v, "ksbs");
            char *kp = fmtalloc("%s/ksbs", p);
            ksbs = kv ? canon_string_list(c, kp, kv) : json_array();
            ok = ksbs != NULL;
            size_t k;
            json_t *s;
            json_array_foreach(ksbs, k, s) {
                if (!ok)
                    break;
                char *code = xstrdup(json_string_value(s));
                for (char *q = code; *q; q++)
                    *q = (char)toupper((unsigned char)*q);
                if (!json_object_get(seen, code)) {
                    char *sp = fmtalloc("%s/%zu", kp, k);
                    jfail(c, sp, "%s is not one of the standard's knowledge, skills or behaviours", code);
                    free(sp);
                    ok = 0;
                } else {
                    json_array_set_new(ksbs, k, json_string(code));
                }
                free(code);
            }
            free(kp);
        }
        if (ok) {
            char *r = ref && *ref ? xstrdup(ref) : fmtalloc("D%zu", i + 1);
            json_array_append_new(out, json_pack("{s:s, s:s, s:O}", "ref", r, "text", text, "ksbs", ksbs));
            free(r);
        }
        json_decref(ksbs);
        free(p);
        free(ref);
        free(text);
        if (!ok) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

/* The "standard" object of a document: validated and normalised (codes upper-cased,
 * level as a string, duty refs D1, D2 ... where absent). NULL with the error set. */
static json_t *canon_standard(jctx_t *c, json_t *st)
{
    static const char *const keys[] = {"reference", "title", "level", "version", "route", "description",
                                       "typical_duration_months", "min_off_the_job_hours", "duties",
                                       "knowledge", "skills", "behaviours", NULL};
    static const char *const ints[] = {"typical_duration_months", "min_off_the_job_hours", NULL};
    const char *path = "/standard";
    json_t *out = NULL, *seen = json_object();
    char *ref = NULL, *title = NULL, *version = NULL, *route = NULL;
    if (!json_is_object(st)) {
        jfail(c, path, "expected an object");
        goto out;
    }
    if (only_keys(c, path, st, keys) != EV_OK || str_field(c, path, st, "reference", 1, &ref) != EV_OK ||
        str_field(c, path, st, "title", 1, &title) != EV_OK ||
        str_field(c, path, st, "version", 0, &version) != EV_OK ||
        str_field(c, path, st, "route", 0, &route) != EV_OK)
        goto out;
    if (strlen(ref) > 64) {
        jfail(c, "/standard/reference", "longer than 64 characters");
        goto out;
    }
    out = json_pack("{s:s, s:s}", "reference", ref, "title", title);
    if (copy_level(c, path, st, out) != EV_OK || copy_ints(c, path, st, ints, out) != EV_OK)
        goto fail;
    json_t *mo = json_object_get(out, "typical_duration_months");
    if (mo && (json_integer_value(mo) < 1 || json_integer_value(mo) > 120)) {
        jfail(c, "/standard/typical_duration_months", "expected a whole number of months from 1 to 120");
        goto fail;
    }
    if (version && *version)
        json_object_set_new(out, "version", json_string(version));
    if (route && *route)
        json_object_set_new(out, "route", json_string(route));
    json_t *dv = json_object_get(st, "description");
    if (dv && !json_is_null(dv)) {
        if (!json_is_string(dv)) {
            jfail(c, "/standard/description", "expected a string");
            goto fail;
        }
        json_object_set(out, "description", dv);
    }
    for (size_t k = 0; k < 3; k++) {
        json_t *list = canon_ksb_list(c, k, json_object_get(st, ksb_kinds[k].key), seen);
        if (!list)
            goto fail;
        json_object_set_new(out, ksb_kinds[k].key, list);
    }
    json_t *none = json_array();
    json_t *duties = canon_duties(c, json_object_get(st, "duties") ? json_object_get(st, "duties") : none, seen);
    json_decref(none);
    if (!duties)
        goto fail;
    json_object_set_new(out, "duties", duties);
    goto out;
fail:
    json_decref(out);
    out = NULL;
out:
    json_decref(seen);
    free(ref);
    free(title);
    free(version);
    free(route);
    return out;
}

json_t *specimport_standard_units(json_t *standard)
{
    json_t *q = json_pack("{s:s, s:s, s:s, s:s, s:s}", "code",
                          json_string_value(json_object_get(standard, "reference")), "title",
                          json_string_value(json_object_get(standard, "title")), "awarding_body", "", "level",
                          json_string_value(json_object_get(standard, "level")) ?
                              json_string_value(json_object_get(standard, "level")) : "",
                          "framework", "Apprenticeship standard");
    if (json_object_get(standard, "route"))
        json_object_set(q, "subject", json_object_get(standard, "route"));
    if (json_object_get(standard, "description"))
        json_object_set(q, "description", json_object_get(standard, "description"));
    json_t *units = json_array();
    for (size_t k = 0; k < 3; k++) {
        json_t *crit = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(standard, ksb_kinds[k].key), i, v)
            json_array_append_new(crit, json_pack("{s:O, s:i, s:O}", "ref", json_object_get(v, "code"),
                                                  "outcome", 1, "text", json_object_get(v, "text")));
        json_array_append_new(units, json_pack("{s:s, s:s, s:s, s:[{s:i, s:s}], s:o}", "ref", ksb_kinds[k].letter,
                                               "kind", ksb_kinds[k].key, "title", ksb_kinds[k].title, "outcomes",
                                               "number", 1, "text", ksb_kinds[k].outcome, "criteria", crit));
    }
    return json_pack("{s:i, s:o, s:o}", "evitrack_spec", SPECIMPORT_VERSION, "qualification", q, "units", units);
}

static json_t *parse_canonical(const char *data, size_t len, specimport_error_t *err)
{
    json_error_t je;
    json_t *doc = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
    json_t *spec = NULL;
    jctx_t c = {data, len, err};
    if (!doc) {
        set_err(err, je.line > 0 ? je.line : 1, "not valid JSON: %s", je.text);
        return NULL;
    }
    static const char *const keys[] = {"evitrack_spec", "source", "qualification", "units", NULL};
    static const char *const std_keys[] = {"evitrack_spec", "source", "standard", NULL};
    if (!json_is_object(doc)) {
        jfail(&c, "", "expected an object");
        goto out;
    }
    json_t *ver = json_object_get(doc, "evitrack_spec");
    if (!ver) {
        jfail(&c, "", "not an evitrack spec: missing \"evitrack_spec\": %d", SPECIMPORT_VERSION);
        goto out;
    }
    if (!json_is_integer(ver) || json_integer_value(ver) != SPECIMPORT_VERSION) {
        jfail(&c, "/evitrack_spec", "unsupported format version (this program reads %d)",
              SPECIMPORT_VERSION);
        goto out;
    }
    if (only_keys(&c, "", doc, json_object_get(doc, "standard") ? std_keys : keys) != EV_OK)
        goto out;
    spec = json_pack("{s:i}", "evitrack_spec", SPECIMPORT_VERSION);
    if (json_object_get(doc, "standard")) {
        json_t *st = canon_standard(&c, json_object_get(doc, "standard"));
        if (!st)
            goto fail;
        json_object_set_new(spec, "standard", st);
        goto out;
    }
    json_t *src = json_object_get(doc, "source");
    if (src) {
        if (!json_is_object(src)) {
            jfail(&c, "/source", "expected an object");
            goto fail;
        }
        json_object_set(spec, "source", src);
    }
    json_t *q = json_object_get(doc, "qualification");
    if (q && !json_is_null(q)) {
        json_t *cq = canon_qualification(&c, q);
        if (!cq)
            goto fail;
        json_object_set_new(spec, "qualification", cq);
    }
    json_t *units = json_object_get(doc, "units");
    if (!units) {
        jfail(&c, "", "missing \"units\"");
        goto fail;
    }
    if (!json_is_array(units) || !json_array_size(units)) {
        jfail(&c, "/units", "expected a non-empty array of units");
        goto fail;
    }
    if (json_array_size(units) > SPECIMPORT_MAX_UNITS) {
        jfail(&c, "/units", "more than %d units in one document", SPECIMPORT_MAX_UNITS);
        goto fail;
    }
    json_t *cu = json_array();
    json_object_set_new(spec, "units", cu);
    size_t i;
    json_t *u;
    json_array_foreach(units, i, u) {
        json_t *unit = canon_unit(&c, i, u);
        if (!unit)
            goto fail;
        const char *t = json_string_value(json_object_get(unit, "title"));
        const char *r = json_string_value(json_object_get(unit, "ref"));
        size_t k;
        json_t *prev;
        json_array_foreach(cu, k, prev) {
            const char *t2 = json_string_value(json_object_get(prev, "title"));
            const char *r2 = json_string_value(json_object_get(prev, "ref"));
            if ((r && r2 && strcmp(r, r2) == 0) || (!r && !r2 && t && t2 && strcasecmp(t, t2) == 0)) {
                char p[64];
                snprintf(p, sizeof p, "/units/%zu", i);
                jfail(&c, p, "the same unit as /units/%zu", k);
                json_decref(unit);
                goto fail;
            }
        }
        json_array_append_new(cu, unit);
    }
    goto out;
fail:
    json_decref(spec);
    spec = NULL;
out:
    json_decref(doc);
    return spec;
}

/* ---- canonical key order ---- */

/* A new object with keys in the given order first, then any others. */
static json_t *reorder(json_t *obj, const char *const *keys)
{
    json_t *out = json_object();
    for (size_t i = 0; keys[i]; i++) {
        json_t *v = json_object_get(obj, keys[i]);
        if (v)
            json_object_set(out, keys[i], v);
    }
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) if (!json_object_get(out, k)) json_object_set(out, k, v);
    return out;
}

json_t *specimport_ordered(json_t *spec)
{
    static const char *const top[] = {"evitrack_spec", "source", "qualification", "units", NULL};
    static const char *const qk[] = {"code", "title", "qan", "awarding_body", "level", "framework", "subject",
                                     "glh", "tqt", "credit_value", "description", "groups", "rules", NULL};
    static const char *const uk[] = {"ref", "number", "urn", "title", "partial", "level", "credit_value", "glh",
                                     "tqt", "synopsis", "outcomes", "criteria", "guidance", NULL};
    static const char *const ok[] = {"number", "text", NULL};
    static const char *const ck[] = {"ref", "outcome", "text", "assigned_by", "matched", NULL};
    json_t *out = reorder(spec, top);
    json_t *st = json_object_get(spec, "standard");
    if (st) {
        static const char *const sk[] = {"reference", "title", "level", "version", "route", "typical_duration_months",
                                         "min_off_the_job_hours", "description", "duties", "knowledge", "skills",
                                         "behaviours", NULL};
        json_object_set_new(out, "standard", reorder(st, sk));
        return out;
    }
    json_t *q = json_object_get(out, "qualification");
    if (json_is_object(q))
        json_object_set_new(out, "qualification", reorder(q, qk));
    json_t *units = json_array();
    size_t i;
    json_t *u;
    json_array_foreach(json_object_get(spec, "units"), i, u) {
        json_t *nu = reorder(u, uk);
        json_t *a = json_array();
        size_t k;
        json_t *v;
        json_array_foreach(json_object_get(u, "outcomes"), k, v) json_array_append_new(a, reorder(v, ok));
        if (json_object_get(u, "outcomes"))
            json_object_set(nu, "outcomes", a);
        json_decref(a);
        a = json_array();
        json_array_foreach(json_object_get(u, "criteria"), k, v) json_array_append_new(a, reorder(v, ck));
        json_object_set_new(nu, "criteria", a);
        if (json_object_get(u, "guidance"))
            json_object_set_new(nu, "guidance", reorder(json_object_get(u, "guidance"),
                                                        (const char *const *)specimport_guidance_kinds));
        json_array_append_new(units, nu);
    }
    json_object_set_new(out, "units", units);
    return out;
}

/* ---- entry points ---- */

/* 1 when a line of the text is a heading only revision pages have ("Topic
 * Synopsis", "Learning Objectives", "Examiner Marking Points", ...). */
static int revision_page_headings(const char *data, size_t len)
{
    static const char *const only[] = {
        "Topic Synopsis", "Topic Overview", "Learning Objectives", "Examiner Marking Points",
        "Key Concepts & Core Principles", "Exam Tips & Revision Strategies",
        "Common Misconceptions & Mistakes to Avoid", "Key Terminology", "Ready to learn?", "Revision Plan", NULL,
    };
    const char *p = data, *end = data + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        while (p < e && isspace((unsigned char)*p))
            p++;
        const char *b = e;
        while (b > p && isspace((unsigned char)b[-1]))
            b--;
        for (size_t k = 0; only[k]; k++)
            if ((size_t)(b - p) == strlen(only[k]) && !memcmp(p, only[k], (size_t)(b - p)))
                return 1;
        p = nl ? nl + 1 : end;
    }
    return 0;
}

json_t *specimport_parse(const char *name, const char *data, size_t len, specimport_error_t *err)
{
    memset(err, 0, sizeof *err);
    snprintf(err->file, sizeof err->file, "%s", name ? name : "(input)");
    if (len > SPECIMPORT_MAX_BYTES) {
        set_err(err, 0, "larger than %d MB", SPECIMPORT_MAX_BYTES / (1024 * 1024));
        return NULL;
    }
    const char *nul = memchr(data, '\0', len);
    if (nul) {
        set_err(err, line_of_offset(data, (size_t)(nul - data)),
                "not a text file (it contains a NUL byte)");
        return NULL;
    }
    size_t bad = utf8_invalid_at((const unsigned char *)data, len);
    if (bad < len) {
        set_err(err, line_of_offset(data, bad), "not UTF-8 text (invalid byte 0x%02X)",
                (unsigned char)data[bad]);
        return NULL;
    }
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) { /* byte order mark */
        data += 3;
        len -= 3;
    }
    size_t i = 0;
    while (i < len && isspace((unsigned char)data[i]))
        i++;
    json_t *warnings = json_array();
    const char *format = "json";
    json_t *spec;
    if (i < len && data[i] == '{') {
        spec = parse_canonical(data, len, err);
        if (spec && json_object_get(spec, "standard"))
            format = "standard";
    }
    else if (!revision_page_headings(data, len) && spectext_detect(data, len))
        spec = spectext_parse(data, len, warnings, &format, err);
    else
        spec = parse_revision_page(data, len, warnings, &format, err);
    if (!spec) {
        json_decref(warnings);
        return NULL;
    }
    return json_pack("{s:s, s:o, s:o}", "format", format, "spec", spec, "warnings", warnings);
}

json_t *specimport_parse_file(const char *path, specimport_error_t *err)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    memset(err, 0, sizeof *err);
    snprintf(err->file, sizeof err->file, "%s", base);
    FILE *f = fopen(path, "rb");
    if (!f) {
        set_err(err, 0, "cannot open: %s", strerror(errno));
        return NULL;
    }
    buf_t b = {0};
    char chunk[65536];
    size_t n;
    json_t *res = NULL;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        buf_append(&b, chunk, n);
        if (b.len > SPECIMPORT_MAX_BYTES) {
            set_err(err, 0, "larger than %d MB", SPECIMPORT_MAX_BYTES / (1024 * 1024));
            goto out;
        }
    }
    if (ferror(f)) {
        set_err(err, 0, "cannot read: %s", strerror(errno));
        goto out;
    }
    res = specimport_parse(base, b.data ? b.data : "", b.len, err);
out:
    fclose(f);
    buf_free(&b);
    return res;
}
