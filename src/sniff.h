/* sniff.h: file types of uploads: libmagic sniffing, the allowlist, and how a file is served */
#ifndef EVITRACK_SNIFF_H
#define EVITRACK_SNIFF_H

#include <stddef.h>

/* What the allowlist makes of a file. */
typedef enum sniff_verdict {
    SNIFF_REFUSED = 0,  /* not accepted (HTML, SVG, scripts, programs, archives, unknown) */
    SNIFF_DOWNLOAD = 1, /* accepted, served only as an attachment (office files, text) */
    SNIFF_INLINE = 2,   /* accepted and previewable in the page (images, PDF, audio, video) */
} sniff_verdict_t;

typedef struct sniff_result {
    sniff_verdict_t verdict;
    char mime[128];      /* the type stored and served (canonical; "" when refused) */
    char detected[128];  /* what libmagic said, for messages and logs */
    const char *preview; /* "image", "pdf", "audio", "video" or NULL (static string) */
    const char *reason;  /* when refused: a sentence for the user (static string) */
} sniff_result_t;

/* Sniffs the file at path with libmagic and classifies it (name is the
 * uploader's file name, used only to refuse dangerous extensions and to tell
 * office files from plain zip archives). EV_OK with *out filled (refusals
 * included), EV_ERR when libmagic itself fails. Thread-safe: one libmagic
 * handle shared under a mutex (libmagic handles are not thread-safe). */
int sniff_file(const char *path, const char *name, sniff_result_t *out);
/* The same for bytes in memory (typed text, tests, the demo). */
int sniff_buffer(const void *data, size_t len, const char *name, sniff_result_t *out);
/* The pure allowlist: libmagic's MIME type + file name -> verdict. */
void sniff_classify(const char *magic_mime, const char *name, sniff_result_t *out);
/* Preview kind of a stored MIME type ("image", "pdf", "audio", "video"), or NULL. */
const char *sniff_preview_kind(const char *mime);
/* Loads the libmagic database now (serve calls it at start so the first
 * upload does not pay for it). EV_OK or EV_ERR. */
int sniff_init(void);
/* Closes the shared handle (tests, shutdown). */
void sniff_cleanup(void);

/* A Content-Disposition value for a file name (RFC 6266 with the RFC 5987
 * filename* parameter): `attachment; filename="ascii"; filename*=UTF-8''pct`.
 * Caller frees. */
char *sniff_content_disposition(const char *name, int inline_disposition);
/* A safe display name from an uploaded one: no directories, no control
 * characters, valid UTF-8, at most 200 bytes (shortened by
 * sniff_shorten_name, so it keeps its extension), never empty. Caller frees. */
char *sniff_clean_name(const char *name);
/* name (UTF-8) in at most max bytes: when it is longer, the stem is cut (at a
 * character boundary, without a trailing space or dot) and the extension
 * (".docx", up to 16 bytes) kept, so the file still opens in the right
 * program. Every place that shortens a file name uses this. Caller frees. */
char *sniff_shorten_name(const char *name, size_t max);

#endif
