/* storage.h: the content-addressed evidence store: data/blobs/<2 hex>/<sha256> */
#ifndef EVITRACK_STORAGE_H
#define EVITRACK_STORAGE_H

#include <stdint.h>
#include <stddef.h>

/* A file being received: written to data/tmp/ while hashed with SHA-256. */
typedef struct blob_writer blob_writer_t;

/* Opens a new temporary file under data_dir/tmp (name generated, never the
 * client's). NULL (logged) on failure. Free with storage_finish or storage_abort. */
blob_writer_t *storage_begin(const char *data_dir);
/* Appends bytes and feeds the hash. EV_OK or EV_ERR. */
int storage_write(blob_writer_t *w, const void *data, size_t len);
uint64_t storage_written(const blob_writer_t *w);
/* The first bytes written (up to 8 KiB), for type sniffing. */
const unsigned char *storage_head(const blob_writer_t *w, size_t *len);
/* fsyncs and closes the temporary file; gives its path (caller frees) and the
 * hex SHA-256. The temporary file stays until storage_promote or unlink.
 * Frees the writer either way. EV_OK or EV_ERR. */
int storage_finish(blob_writer_t *w, char **tmp_path, char sha256_hex[65], uint64_t *size);
/* Closes and removes the temporary file; frees the writer. Accepts NULL. */
void storage_abort(blob_writer_t *w);

/* Moves a finished temporary file into data_dir/blobs/<2 hex>/<sha256> (fsyncing
 * the directory). When the blob already exists the temporary file is removed.
 * *created (if non-NULL) is 1 when this call added the blob. EV_OK or EV_ERR. */
int storage_promote(const char *data_dir, const char *tmp_path, const char *sha256_hex, int *created);
/* Path of a blob (caller frees). NULL for a malformed hash. */
char *storage_blob_path(const char *data_dir, const char *sha256_hex);
/* 1 when s is 64 lower-case hex digits. */
int storage_valid_hash(const char *s);
/* Stores a whole buffer as a blob (typed text, tests). EV_OK or EV_ERR. */
int storage_put(const char *data_dir, const void *data, size_t len, char sha256_hex[65]);

#endif
