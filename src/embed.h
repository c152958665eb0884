/* embed.h: files compiled into the binary (cmake/embed_files.cmake) */
#ifndef EVITRACK_EMBED_H
#define EVITRACK_EMBED_H

#include <stddef.h>

typedef struct embedded_file {
    const char *name; /* file name without directory */
    const char *data; /* NUL-terminated too */
    size_t size;
} embedded_file_t;

/* docs/openapi.json, served at /api/v1/openapi.json */
extern const embedded_file_t embedded_docs[];

/* The entry called name in table, or NULL. */
const embedded_file_t *embed_find(const embedded_file_t *table, const char *name);

#endif
