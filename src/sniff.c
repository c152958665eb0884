/* sniff.c: file types of uploads: libmagic sniffing, the allowlist, and how a file is served */
#include "sniff.h"

#include <magic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

/* One libmagic handle for the process. Handles are not thread-safe, so every
 * use holds sniff_lock; a sniff reads at most a few MB of the file's head and
 * takes about a millisecond, so workers seldom wait. One handle (rather than
 * one per thread) keeps the 8 MB compiled database mapped once. */
#define SNIFF_BYTES_MAX (1024 * 1024)

static pthread_mutex_t sniff_lock = PTHREAD_MUTEX_INITIALIZER;
static magic_t sniff_magic;
static int sniff_failed;

/* Opens the handle; call with sniff_lock held. */
static int sniff_open_locked(void)
{
    if (sniff_magic)
        return EV_OK;
    if (sniff_failed)
        return EV_ERR;
    magic_t m = magic_open(MAGIC_MIME_TYPE | MAGIC_NO_CHECK_COMPRESS | MAGIC_ERROR);
    if (!m) {
        ev_log("sniff: magic_open failed");
        sniff_failed = 1;
        return EV_ERR;
    }
    /* libmagic 5.44 reads up to 7 MB of each file into a buffer; 1 MB finds
     * every type on the allowlist and keeps a big upload's memory small. */
    size_t bytes_max = SNIFF_BYTES_MAX;
    if (magic_setparam(m, MAGIC_PARAM_BYTES_MAX, &bytes_max) != 0)
        ev_log("sniff: magic_setparam: %s", magic_error(m));
    if (magic_load(m, NULL) != 0) {
        ev_log("sniff: magic_load: %s", magic_error(m));
        magic_close(m);
        sniff_failed = 1;
        return EV_ERR;
    }
    sniff_magic = m;
    return EV_OK;
}

int sniff_init(void)
{
    pthread_mutex_lock(&sniff_lock);
    int rc = sniff_open_locked();
    pthread_mutex_unlock(&sniff_lock);
    return rc;
}

void sniff_cleanup(void)
{
    pthread_mutex_lock(&sniff_lock);
    if (sniff_magic)
        magic_close(sniff_magic);
    sniff_magic = NULL;
    sniff_failed = 0;
    pthread_mutex_unlock(&sniff_lock);
}

/* ---- the allowlist ---- */

typedef struct type_rule {
    const char *magic;      /* libmagic's answer */
    const char *mime;       /* stored and served as */
    sniff_verdict_t verdict;
    const char *preview;
} type_rule_t;

static const type_rule_t rules[] = {
    /* images the browser shows */
    {"image/png", "image/png", SNIFF_INLINE, "image"},
    {"image/jpeg", "image/jpeg", SNIFF_INLINE, "image"},
    {"image/gif", "image/gif", SNIFF_INLINE, "image"},
    {"image/webp", "image/webp", SNIFF_INLINE, "image"},
    {"image/avif", "image/avif", SNIFF_INLINE, "image"},
    {"image/bmp", "image/bmp", SNIFF_INLINE, "image"},
    {"image/x-ms-bmp", "image/bmp", SNIFF_INLINE, "image"},
    /* images kept as downloads (phones' HEIC, scans' TIFF) */
    {"image/heic", "image/heic", SNIFF_DOWNLOAD, NULL},
    {"image/heif", "image/heif", SNIFF_DOWNLOAD, NULL},
    {"image/tiff", "image/tiff", SNIFF_DOWNLOAD, NULL},
    /* PDF */
    {"application/pdf", "application/pdf", SNIFF_INLINE, "pdf"},
    /* audio */
    {"audio/mpeg", "audio/mpeg", SNIFF_INLINE, "audio"},
    {"audio/x-wav", "audio/wav", SNIFF_INLINE, "audio"},
    {"audio/wav", "audio/wav", SNIFF_INLINE, "audio"},
    {"audio/ogg", "audio/ogg", SNIFF_INLINE, "audio"},
    {"audio/x-m4a", "audio/mp4", SNIFF_INLINE, "audio"},
    {"audio/mp4", "audio/mp4", SNIFF_INLINE, "audio"},
    {"audio/aac", "audio/aac", SNIFF_INLINE, "audio"},
    {"audio/x-hx-aac-adts", "audio/aac", SNIFF_INLINE, "audio"},
    {"audio/flac", "audio/flac", SNIFF_INLINE, "audio"},
    {"audio/x-flac", "audio/flac", SNIFF_INLINE, "audio"},
    {"audio/webm", "audio/webm", SNIFF_INLINE, "audio"},
    {"audio/amr", "audio/amr", SNIFF_DOWNLOAD, NULL},
    {"audio/x-ms-wma", "audio/x-ms-wma", SNIFF_DOWNLOAD, NULL},
    /* video */
    {"video/mp4", "video/mp4", SNIFF_INLINE, "video"},
    {"video/x-m4v", "video/mp4", SNIFF_INLINE, "video"},
    {"video/webm", "video/webm", SNIFF_INLINE, "video"},
    {"video/ogg", "video/ogg", SNIFF_INLINE, "video"},
    {"video/quicktime", "video/quicktime", SNIFF_INLINE, "video"},
    {"video/3gpp", "video/3gpp", SNIFF_DOWNLOAD, NULL},
    {"video/x-msvideo", "video/x-msvideo", SNIFF_DOWNLOAD, NULL},
    {"video/x-matroska", "video/x-matroska", SNIFF_DOWNLOAD, NULL},
    {"video/x-ms-asf", "video/x-ms-asf", SNIFF_DOWNLOAD, NULL},
    {"video/mpeg", "video/mpeg", SNIFF_DOWNLOAD, NULL},
    /* office files and documents */
    {"application/msword", "application/msword", SNIFF_DOWNLOAD, NULL},
    {"application/vnd.ms-excel", "application/vnd.ms-excel", SNIFF_DOWNLOAD, NULL},
    {"application/vnd.ms-powerpoint", "application/vnd.ms-powerpoint", SNIFF_DOWNLOAD, NULL},
    {"application/vnd.openxmlformats-officedocument.wordprocessingml.document",
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document", SNIFF_DOWNLOAD, NULL},
    {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", SNIFF_DOWNLOAD, NULL},
    {"application/vnd.openxmlformats-officedocument.presentationml.presentation",
     "application/vnd.openxmlformats-officedocument.presentationml.presentation", SNIFF_DOWNLOAD, NULL},
    {"application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.text", SNIFF_DOWNLOAD, NULL},
    {"application/vnd.oasis.opendocument.spreadsheet", "application/vnd.oasis.opendocument.spreadsheet",
     SNIFF_DOWNLOAD, NULL},
    {"application/vnd.oasis.opendocument.presentation", "application/vnd.oasis.opendocument.presentation",
     SNIFF_DOWNLOAD, NULL},
    {"application/vnd.oasis.opendocument.graphics", "application/vnd.oasis.opendocument.graphics",
     SNIFF_DOWNLOAD, NULL},
    {"application/rtf", "application/rtf", SNIFF_DOWNLOAD, NULL},
    {"text/rtf", "application/rtf", SNIFF_DOWNLOAD, NULL},
    {"application/epub+zip", "application/epub+zip", SNIFF_DOWNLOAD, NULL},
    /* plain text */
    {"text/plain", "text/plain", SNIFF_DOWNLOAD, NULL},
    {"text/csv", "text/csv", SNIFF_DOWNLOAD, NULL},
    {"text/markdown", "text/plain", SNIFF_DOWNLOAD, NULL},
    /* saved emails (a manager's email is common witness evidence): served as
     * attachments only, so the mail client opens them, never the browser */
    {"message/rfc822", "message/rfc822", SNIFF_DOWNLOAD, NULL},
    {"application/vnd.ms-outlook", "application/vnd.ms-outlook", SNIFF_DOWNLOAD, NULL},
    {NULL, NULL, SNIFF_REFUSED, NULL},
};

/* Why a file is refused and what to do instead, as the learner reads it after
 * the file's name ("site_photos.zip: ..."). */
#define SCRIPT_REASON "scripts are not accepted: upload a PDF, a document or a screenshot of what it shows instead"
#define ARCHIVE_REASON "zip and other archive files are not accepted, because an assessor needs to open each file: " \
                       "unzip it and upload the photos or documents inside it themselves"
#define PROGRAM_REASON "scripts, programs and web pages are not accepted: upload a PDF, a document or a " \
                       "screenshot of what it shows instead"
#define IWORK_REASON "Apple Pages, Numbers and Keynote files cannot be opened by every assessor: in Pages, " \
                     "Numbers or Keynote choose File > Export To > PDF (or Word, Excel, PowerPoint) and upload that"
#define UNKNOWN_REASON "this type of file is not accepted: save or export it as a PDF, Word, Excel, " \
                       "PowerPoint, image, audio, video or plain text file and upload that"

/* Types refused whatever their name, with the reason given to the user. */
static const struct {
    const char *magic;
    const char *reason;
} refused[] = {
    {"text/html", "web pages (HTML) are not accepted: print or save the page as PDF and upload that"},
    {"application/xhtml+xml", "web pages (HTML) are not accepted: print or save the page as PDF and upload that"},
    {"image/svg+xml", "SVG images are not accepted: export it as PNG or PDF and upload that"},
    {"text/xml", "XML files are not accepted: save it as PDF or plain text and upload that"},
    {"application/xml", "XML files are not accepted: save it as PDF or plain text and upload that"},
    {"text/javascript", SCRIPT_REASON},
    {"application/javascript", SCRIPT_REASON},
    {"text/x-shellscript", SCRIPT_REASON},
    {"text/x-python", SCRIPT_REASON},
    {"text/x-script.python", SCRIPT_REASON},
    {"text/x-perl", SCRIPT_REASON},
    {"text/x-php", SCRIPT_REASON},
    {"text/x-ruby", SCRIPT_REASON},
    {"text/x-lua", SCRIPT_REASON},
    {"text/x-tcl", SCRIPT_REASON},
    {"text/x-awk", SCRIPT_REASON},
    {"text/x-msdos-batch", SCRIPT_REASON},
    {"inode/x-empty", "the file is empty: check you chose the right file, or save it again and upload the saved copy"},
    {"application/x-empty", "the file is empty: check you chose the right file, or save it again and upload the saved copy"},
    {NULL, NULL},
};

/* File name endings refused whatever the content says: a script that
 * libmagic calls text/plain is still a script. */
static const char *const refused_ext[] = {
    "html", "htm", "xhtml", "shtml", "svg", "svgz", "xml", "xsl", "js", "mjs", "cjs",
    "sh", "bash", "zsh", "csh", "bat", "cmd", "ps1", "psm1", "vbs", "vbe", "wsf", "hta",
    "exe", "dll", "msi", "scr", "com", "cpl", "jar", "php", "phtml", "py", "pyc", "pl",
    "rb", "lua", "tcl", "jsp", "asp", "aspx", "swf", "lnk", "reg", "appimage", "deb",
    "rpm", "apk", NULL,
};

/* Office formats that libmagic may report only as their container. */
static const struct {
    const char *container;
    const char *ext;
    const char *mime;
} by_container[] = {
    {"application/zip", "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
    {"application/zip", "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    {"application/zip", "pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
    {"application/zip", "odt", "application/vnd.oasis.opendocument.text"},
    {"application/zip", "ods", "application/vnd.oasis.opendocument.spreadsheet"},
    {"application/zip", "odp", "application/vnd.oasis.opendocument.presentation"},
    {"application/CDFV2", "doc", "application/msword"},
    {"application/CDFV2", "xls", "application/vnd.ms-excel"},
    {"application/CDFV2", "ppt", "application/vnd.ms-powerpoint"},
    {"application/vnd.ms-office", "doc", "application/msword"},
    {"application/vnd.ms-office", "xls", "application/vnd.ms-excel"},
    {"application/vnd.ms-office", "ppt", "application/vnd.ms-powerpoint"},
    {"application/x-ole-storage", "doc", "application/msword"},
    {"application/x-ole-storage", "xls", "application/vnd.ms-excel"},
    {"application/CDFV2", "msg", "application/vnd.ms-outlook"},
    {"application/x-ole-storage", "msg", "application/vnd.ms-outlook"},
    {"text/plain", "eml", "message/rfc822"},
    {NULL, NULL, NULL},
};

/* The lower-cased extension of name (after the last dot of its last part)
 * into out; "" when none. */
static void name_ext(const char *name, char *out, size_t outlen)
{
    out[0] = '\0';
    if (!name)
        return;
    const char *base = name;
    for (const char *p = name; *p; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    const char *dot = strrchr(base, '.');
    if (!dot || !dot[1])
        return;
    size_t i = 0;
    for (const char *p = dot + 1; *p && i + 1 < outlen; p++, i++)
        out[i] = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
    out[i] = '\0';
}

static void set_str(char *dst, size_t dstlen, const char *src)
{
    snprintf(dst, dstlen, "%s", src ? src : "");
}

void sniff_classify(const char *magic_mime, const char *name, sniff_result_t *out)
{
    char ext[16];
    memset(out, 0, sizeof *out);
    out->verdict = SNIFF_REFUSED;
    set_str(out->detected, sizeof out->detected, magic_mime);
    out->reason = UNKNOWN_REASON;
    if (!magic_mime || !*magic_mime)
        return;

    name_ext(name, ext, sizeof ext);
    /* Apple iWork files are zip archives underneath: name them for what they are. */
    if (strcmp(ext, "pages") == 0 || strcmp(ext, "numbers") == 0 || strcmp(ext, "key") == 0 ||
        strncasecmp(magic_mime, "application/x-iwork", 19) == 0 ||
        strncasecmp(magic_mime, "application/vnd.apple.", 22) == 0) {
        out->reason = IWORK_REASON;
        return;
    }

    for (size_t i = 0; refused[i].magic; i++)
        if (strcasecmp(magic_mime, refused[i].magic) == 0) {
            out->reason = refused[i].reason;
            return;
        }

    for (size_t i = 0; refused_ext[i]; i++)
        if (strcmp(ext, refused_ext[i]) == 0) {
            out->reason = PROGRAM_REASON;
            return;
        }

    const char *mime = NULL;
    /* A WebM file with sound only (a browser's MediaRecorder recording, named .weba by
     * static/recorder.js) is audio: libmagic names every WebM container video. */
    if (strcasecmp(magic_mime, "video/webm") == 0 && strcmp(ext, "weba") == 0)
        magic_mime = "audio/webm";
    for (size_t i = 0; rules[i].magic; i++)
        if (strcasecmp(magic_mime, rules[i].magic) == 0) {
            mime = rules[i].mime;
            out->verdict = rules[i].verdict;
            out->preview = rules[i].preview;
            break;
        }
    if (!mime)
        for (size_t i = 0; by_container[i].container; i++)
            if (strcasecmp(magic_mime, by_container[i].container) == 0 &&
                strcmp(ext, by_container[i].ext) == 0) {
                mime = by_container[i].mime;
                out->verdict = SNIFF_DOWNLOAD;
                break;
            }
    /* Other text (libmagic's guesses at source code and the like, e.g.
     * text/x-c for a note with braces) is kept as plain text: the scripts
     * that matter are refused above by type and by name. */
    if (!mime && strncasecmp(magic_mime, "text/", 5) == 0) {
        mime = "text/plain";
        out->verdict = SNIFF_DOWNLOAD;
    }
    if (!mime) {
        static const char *const archives[] = {"application/zip", "application/x-7z-compressed", "application/x-rar",
            "application/vnd.rar", "application/x-tar", "application/gzip", "application/x-gzip",
            "application/x-bzip2", "application/x-xz", "application/java-archive", NULL};
        for (size_t i = 0; archives[i]; i++)
            if (strcasecmp(magic_mime, archives[i]) == 0)
                out->reason = ARCHIVE_REASON;
        out->verdict = SNIFF_REFUSED;
        return;
    }
    set_str(out->mime, sizeof out->mime, mime);
    out->reason = NULL;
}

const char *sniff_preview_kind(const char *mime)
{
    if (!mime)
        return NULL;
    for (size_t i = 0; rules[i].magic; i++)
        if (strcasecmp(mime, rules[i].mime) == 0 && rules[i].verdict == SNIFF_INLINE)
            return rules[i].preview;
    return NULL;
}

/* Runs libmagic on a file (buf NULL) or a buffer, then classifies. */
static int sniff_run(const char *path, const void *buf, size_t len, const char *name,
                     sniff_result_t *out)
{
    char detected[128];
    int rc = EV_ERR;
    pthread_mutex_lock(&sniff_lock);
    if (sniff_open_locked() == EV_OK) {
        const char *m = path ? magic_file(sniff_magic, path) : magic_buffer(sniff_magic, buf, len);
        if (m) {
            set_str(detected, sizeof detected, m);
            rc = EV_OK;
        } else {
            ev_log("sniff: %s: %s", path ? path : "(buffer)", magic_error(sniff_magic));
        }
    }
    pthread_mutex_unlock(&sniff_lock);
    if (rc == EV_OK)
        sniff_classify(detected, name, out);
    return rc;
}

int sniff_file(const char *path, const char *name, sniff_result_t *out)
{
    return sniff_run(path, NULL, 0, name, out);
}

int sniff_buffer(const void *data, size_t len, const char *name, sniff_result_t *out)
{
    if (len == 0) {
        sniff_classify("inode/x-empty", name, out);
        return EV_OK;
    }
    return sniff_run(NULL, data, len, name, out);
}

/* ---- names and Content-Disposition ---- */

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when invalid. */
static size_t utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    size_t n;
    unsigned cp;
    if ((s[0] & 0xE0) == 0xC0) { n = 2; cp = s[0] & 0x1F; }
    else if ((s[0] & 0xF0) == 0xE0) { n = 3; cp = s[0] & 0x0F; }
    else if ((s[0] & 0xF8) == 0xF0) { n = 4; cp = s[0] & 0x07; }
    else return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* Bytes of s that fit in max without cutting a UTF-8 sequence. */
static size_t utf8_fit(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    size_t n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--; /* s[n] continues a sequence: cut before its lead byte */
    return n;
}

char *sniff_shorten_name(const char *name, size_t max)
{
    const char *s = name ? name : "";
    size_t len = strlen(s);
    if (len <= max || max < 8)
        return xstrndup(s, utf8_fit(s, len, max));
    /* The extension: the last dot's part, kept when short (".docx", ".jpeg"). */
    const char *dot = strrchr(s, '.');
    size_t ext = dot && dot != s && strlen(dot) <= 16 && !strpbrk(dot, " ") ? strlen(dot) : 0;
    size_t stem = utf8_fit(s, len - ext, max - ext);
    while (stem > 0 && (s[stem - 1] == ' ' || s[stem - 1] == '.'))
        stem--; /* no "report .docx" or "a..docx" where the cut fell */
    buf_t b = {0};
    buf_append(&b, s, stem);
    buf_append(&b, s + len - ext, ext);
    return buf_take(&b);
}

char *sniff_clean_name(const char *name)
{
    buf_t b = {0};
    const char *base = name ? name : "";
    for (const char *p = base; *p; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    const unsigned char *s = (const unsigned char *)base;
    while (*s == ' ' || *s == '.')
        s++; /* no hidden files, no "..", no leading blanks */
    while (*s && b.len < 4096) {
        size_t n = utf8_len(s);
        if (n == 0) { /* invalid byte: replace */
            buf_putc(&b, '_');
            s++;
            continue;
        }
        if (n == 1 && (*s < 0x20 || *s == 0x7F || *s == '"'))
            buf_putc(&b, *s == '"' ? '\'' : '_');
        else
            buf_append(&b, (const char *)s, n);
        s += n;
    }
    while (b.len && b.data[b.len - 1] == ' ')
        b.data[--b.len] = '\0';
    if (b.len == 0) {
        buf_free(&b);
        return xstrdup("file");
    }
    char *short_name = sniff_shorten_name(b.data, 200);
    buf_free(&b);
    return short_name;
}

char *sniff_content_disposition(const char *name, int inline_disposition)
{
    static const char hex[] = "0123456789ABCDEF";
    buf_t b = {0};
    char *clean = sniff_clean_name(name);
    buf_puts(&b, inline_disposition ? "inline" : "attachment");
    /* RFC 6266 fallback: printable ASCII only, no quote or backslash. */
    buf_puts(&b, "; filename=\"");
    for (const unsigned char *p = (const unsigned char *)clean; *p; p++) {
        if (*p >= 0x80) {
            /* one '_' per character, not per byte */
            if ((*p & 0xC0) != 0x80)
                buf_putc(&b, '_');
        } else if (*p < 0x20 || *p == '"' || *p == '\\' || *p == 0x7F || *p == '%') {
            buf_putc(&b, '_');
        } else {
            buf_putc(&b, (char)*p);
        }
    }
    buf_puts(&b, "\"; filename*=UTF-8''");
    /* RFC 5987 attr-char is ALPHA / DIGIT / "!#$&+-.^_`|~"; everything else %XX. */
    for (const unsigned char *p = (const unsigned char *)clean; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("!#$&+-.^_`|~", *p)) {
            buf_putc(&b, (char)*p);
        } else {
            buf_putc(&b, '%');
            buf_putc(&b, hex[*p >> 4]);
            buf_putc(&b, hex[*p & 15]);
        }
    }
    free(clean);
    return buf_take(&b);
}
