/* storage.h: the evidence store seam: content-addressed blobs behind one table of operations */
#ifndef EVITRACK_STORAGE_H
#define EVITRACK_STORAGE_H

#include <stdint.h>
#include <stddef.h>

/*
 * Evidence files are blobs named by the hex SHA-256 of their bytes. Everything above
 * this header sees one store (storage_t) and the operations below; which backend holds
 * the bytes is chosen once at start from --store (storage_open) and nothing else knows:
 *   storage_fs.c  a directory: DIR/blobs/<2 hex>/<sha256> (the default: --data DIR)
 *   storage_s3.c  an S3 bucket (Ceph RADOS Gateway, AWS, ...): object key <sha256>
 * (the same shape as SQLite's sqlite3_vfs: one table, one file per backend).
 *
 * Uploads are always spooled and hashed on local disk first (storage_begin ... finish,
 * under DATA/tmp), then handed to the store with storage_put, which verifies them on
 * the way (the S3 backend signs the SHA-256 as the payload hash, so the gateway refuses
 * bytes that do not match). Reads stream: storage_open_read + storage_read, or
 * storage_get with a callback; no operation stages a whole object in memory or on disk.
 */

/* Return codes beyond EV_OK (0) and EV_ERR (-1). */
#define STORAGE_NOT_FOUND (-2)   /* no such blob */
#define STORAGE_UNAVAILABLE (-3) /* the store did not answer, or refused (down, slow, 5xx) */
#define STORAGE_CORRUPT (-4)     /* the bytes read do not hash to the blob's name (or come to its recorded CRC-32) */

typedef struct storage storage_t;
typedef struct storage_reader storage_reader_t;

/* What stat and list tell about a blob. mtime: seconds since the epoch (UTC). */
typedef struct storage_stat {
    uint64_t size;
    int64_t mtime;
} storage_stat_t;

/* list's callback: key is the backend's name for the object (pass it to
 * storage_remove); sha is the blob's hash, or NULL when the object's name is not a
 * well-formed blob name (a stray file). Return EV_OK to go on, EV_ERR to stop. */
typedef int (*storage_list_fn)(void *ctx, const char *key, const char *sha, const storage_stat_t *st);
/* get's callback: one piece of the bytes, in order. EV_OK to go on, EV_ERR to stop. */
typedef int (*storage_sink_fn)(void *ctx, const void *data, size_t len);

/* The operations a backend provides (its file's only public symbol is its table). */
typedef struct storage_ops {
    const char *name; /* "fs", "s3" */
    int local;        /* 1: put adds the spool file itself, so it must be durable first */
    /* Stores the finished spool file tmp_path (size bytes, hashing to sha) as blob sha,
     * never overwriting one already there (*created = 0 then). The spool file is left
     * for the caller to remove. EV_OK, STORAGE_UNAVAILABLE or EV_ERR. */
    int (*put)(storage_t *s, const char *tmp_path, const char *sha, uint64_t size, int *created);
    /* Opens bytes [off, off+len) of blob sha for reading; *out set on EV_OK.
     * STORAGE_NOT_FOUND, STORAGE_UNAVAILABLE or EV_ERR otherwise. */
    int (*open_read)(storage_t *s, const char *sha, uint64_t off, uint64_t len, void **out);
    /* Reads up to cap bytes: the count, 0 at the end, or a negative STORAGE_* / EV_ERR. */
    long (*read)(void *rd, void *buf, size_t cap);
    void (*close_read)(void *rd);
    /* Size and time of blob sha. EV_OK, STORAGE_NOT_FOUND, STORAGE_UNAVAILABLE. */
    int (*stat)(storage_t *s, const char *sha, storage_stat_t *st);
    /* Refreshes blob sha's time so gc's grace period starts again. EV_OK or an error. */
    int (*touch)(storage_t *s, const char *sha);
    /* Calls fn for every object in the store. EV_OK, or the first error. */
    int (*list)(storage_t *s, storage_list_fn fn, void *ctx);
    /* Removes the object key (from list, or a blob's SHA-256 name). EV_OK, STORAGE_NOT_FOUND or an error. */
    int (*remove)(storage_t *s, const char *key);
    /* Whether the store answers with these settings (S3: the bucket exists and the
     * credentials are accepted). EV_OK, or an error with a reason in why. Optional. */
    int (*check)(storage_t *s, char *why, size_t whylen);
    /* Aborts unfinished uploads begun before cutoff (epoch seconds), counting them in
     * *count (dry_run: only counts). EV_OK or the first error. Optional. */
    int (*sweep_uploads)(storage_t *s, int64_t cutoff, int dry_run, int64_t *count);
    /* Frees the backend's part of s. */
    void (*close)(storage_t *s);
} storage_ops_t;

/* An open store. Fields are read-only after storage_open; safe to share between
 * threads (each operation makes its own connection). */
struct storage {
    const storage_ops_t *ops;
    char *spool_dir; /* DATA/tmp: uploads are received here first (owned) */
    char *root;      /* fs: the directory holding blobs/ (owned) */
    char *desc;      /* for messages: the directory, or s3://bucket at endpoint (owned) */
    void *backend;   /* the backend's own settings (owned by it) */
};

/*
 * Opens the store named by spec: NULL or a directory path (the fs backend rooted
 * there; NULL means data_dir, the default), or
 *   s3://BUCKET?endpoint=URL&region=R[&part_mb=N][&timeout=S]
 * Credentials for S3 come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or from
 * creds_file when given (lines KEY=VALUE or an AWS credentials file's
 * aws_access_key_id = ...), never from the command line. data_dir holds the spool
 * (tmp/). NULL with a one-line reason in err on failure. Free with storage_close.
 */
storage_t *storage_open(const char *spec, const char *creds_file, const char *data_dir, char *err, size_t errlen);
/* Accepts NULL. */
void storage_close(storage_t *s);
/* "fs" or "s3". */
const char *storage_kind(const storage_t *s);

/* ---- the spool: a file being received, written to DATA/tmp while hashed ---- */

typedef struct blob_writer blob_writer_t;

/* Opens a new spool file under data_dir/tmp (name generated, never the client's).
 * NULL (logged) on failure. Free with storage_finish or storage_abort. */
blob_writer_t *storage_begin(const char *data_dir);
/* The same for an upload to store s: in s's spool, fsync'd on finish only when the
 * store is local (a remote store answers only once it has kept the file durably). */
blob_writer_t *storage_begin_spool(storage_t *s);
/* Appends bytes and feeds the hash. EV_OK or EV_ERR. */
int storage_write(blob_writer_t *w, const void *data, size_t len);
uint64_t storage_written(const blob_writer_t *w);
/* The first bytes written (up to 8 KiB), for type sniffing. */
const unsigned char *storage_head(const blob_writer_t *w, size_t *len);
/* fsyncs (see storage_begin_spool) and closes the spool file; gives its path (caller frees), the hex SHA-256,
 * the size and (when crc32 is not NULL) the CRC-32 of the bytes, as zip uses it (ISO-HDLC; what
 * blobs.crc32 records for the export's check, schema/019). The spool file stays until the caller
 * removes it. Frees the writer either way. EV_OK or EV_ERR. */
int storage_finish(blob_writer_t *w, char **tmp_path, char sha256_hex[65], uint64_t *size, uint32_t *crc32);
/* Closes and removes the spool file; frees the writer. Accepts NULL. */
void storage_abort(blob_writer_t *w);

/* ---- the operations (dispatching to the backend) ---- */

/* Stores the spool file tmp_path (from storage_finish) as blob sha and removes the
 * spool file whatever happens. When the blob was already stored its time is
 * refreshed (so gc spares it) and *created (if non-NULL) is 0. EV_OK,
 * STORAGE_UNAVAILABLE (the store is down or slow: tell the client 503) or EV_ERR. */
int storage_put_file(storage_t *s, const char *tmp_path, const char *sha, uint64_t size, int *created);
/* Replaces the stored copy of blob sha, which a check found damaged (blobs.damaged_at),
 * with the spool file tmp_path (from storage_finish, so its bytes hash to sha): the only
 * case where a stored file is ever overwritten. Removes the spool file whatever happens.
 * EV_OK or as storage_put_file. */
int storage_replace_file(storage_t *s, const char *tmp_path, const char *sha, uint64_t size);
/* Stores a whole buffer (typed text, demo data) through the spool. EV_OK or an error. */
int storage_put(storage_t *s, const void *data, size_t len, char sha256_hex[65]);
/* Streams bytes [off, off+len) of blob sha into fn (len UINT64_MAX: to the end). When
 * the whole blob is read its SHA-256 is checked and a mismatch is STORAGE_CORRUPT
 * (reported before the last piece is handed on). EV_OK or a STORAGE_* / EV_ERR code;
 * a callback's EV_ERR stops the read and is returned. */
int storage_get(storage_t *s, const char *sha, uint64_t off, uint64_t len, storage_sink_fn fn, void *ctx);
/* The pull form of storage_get (what an HTTP response callback wants): opens
 * [off, off+len) of blob sha, whose whole size is `size` (from storage_stat); a read
 * of the whole blob is verified as above. EV_OK with *out set, or an error code. */
int storage_open_read(storage_t *s, const char *sha, uint64_t off, uint64_t len, uint64_t size,
                      storage_reader_t **out);
/* Opens the whole of blob sha (size bytes) without the SHA-256 check, for a caller that
 * checks the bytes itself: the export compares them with the CRC-32 recorded at upload
 * (blobs.crc32) before their last piece is sent (zipout_expect_crc), which costs a tenth
 * of hashing them. EV_OK with *out set, or an error code as storage_open_read. */
int storage_open_read_unhashed(storage_t *s, const char *sha, uint64_t size, storage_reader_t **out);
/* Continues a CRC-32 (ISO-HDLC, zip's; start from 0) over len bytes (libdeflate's,
 * with the CPU's carry-less multiply). */
uint32_t storage_crc32(uint32_t crc, const void *data, size_t len);
/* Reads up to cap bytes: the count, 0 at the end, or a negative STORAGE_* / EV_ERR. */
long storage_read(storage_reader_t *rd, void *buf, size_t cap);
/* Accepts NULL. */
void storage_close_read(storage_reader_t *rd);
int storage_stat(storage_t *s, const char *sha, storage_stat_t *st);
/* Asks the store whether it answers with its settings (for serve's start-up line: a
 * wrong secret or a missing bucket is said at once, not at a learner's first upload).
 * EV_OK; STORAGE_UNAVAILABLE (not reachable) or EV_ERR (refused) with why filled. */
int storage_check(storage_t *s, char *why, size_t whylen);
/* The store's one SHA-256 (libcrypto, as every read and upload is checked with), for
 * the backends: of bytes [off, off+len) of fd (EV_OK, or EV_ERR when they cannot all be
 * read), and of len bytes in memory; as 64 lower-case hex digits into hex. */
int storage_sha256_range(int fd, uint64_t off, uint64_t len, char hex[65]);
void storage_sha256_hex(const void *data, size_t len, char hex[65]);
/* Aborts the store's unfinished uploads begun before cutoff (seconds since the epoch):
 * an S3 multipart upload cut off by a crash or an outage leaves parts the bucket keeps.
 * *count is set to how many (dry_run: would be). EV_OK (also for a store that has no
 * such thing), or an error. */
int storage_sweep_uploads(storage_t *s, int64_t cutoff, int dry_run, int64_t *count);
int storage_touch(storage_t *s, const char *sha);
int storage_list(storage_t *s, storage_list_fn fn, void *ctx);
int storage_remove(storage_t *s, const char *key);

/* Copies every blob of `from` into `to`, verifying each one's SHA-256 as it is read
 * and letting the destination check it again (S3: signed payload hash). Progress
 * lines go to stdout when verbose. Counts into *copied, *present (already there),
 * *failed. EV_OK when nothing failed. */
int storage_copy_all(storage_t *from, storage_t *to, int verbose, int64_t *copied, int64_t *present, int64_t *failed);

/* `evitrack store copy ...`: argv after "store". Returns the exit status (storage_cmd.c). */
int storage_cmd(int argc, char **argv);

/* 1 when s is 64 lower-case hex digits. */
int storage_valid_hash(const char *s);
/* A short phrase for a STORAGE_* / EV_ERR code, for logs. */
const char *storage_strerror(int code);

/* The backends' tables and their openers (storage.c calls them). */
extern const storage_ops_t storage_fs_ops;
extern const storage_ops_t storage_s3_ops;
int storage_fs_init(storage_t *s, const char *dir, char *err, size_t errlen);
int storage_s3_init(storage_t *s, const char *spec, const char *creds_file, char *err, size_t errlen);

#endif
