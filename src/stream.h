/* stream.h: responses produced while they are sent: a producer thread writes, libmicrohttpd reads */
#ifndef EVITRACK_STREAM_H
#define EVITRACK_STREAM_H

#include <stddef.h>
#include <stdint.h>

struct MHD_Connection;
struct MHD_Response;

/* A body made by a producer on its own thread while the client downloads it,
 * through a fixed buffer (STREAM_BUFFER bytes): memory stays flat whatever the
 * size, the first bytes leave as soon as they are made, and no libmicrohttpd
 * worker ever waits for the producer (an empty buffer suspends the connection;
 * the next write resumes it). STYLE.md, "Work that takes long". */
typedef struct http_stream http_stream_t;

#define STREAM_BUFFER (8 * 1024 * 1024) /* 1 MB before: 8 absorb the disk's pauses (docs/architecture.md) */
#define STREAM_NICE 10 /* the producers' nice value (requests keep 0) */

/* The producer: writes the body with stream_write() and returns EV_OK, or
 * EV_ERR to end the response abruptly (the client sees a cut-off download,
 * never a truncated file that looks whole). Runs on its own thread, which may
 * use db_thread() (closed for it afterwards). */
typedef int (*stream_producer_fn)(http_stream_t *s, void *arg);

/* A stream that will run fn(s, arg) once the response starts; free_arg(arg)
 * (may be NULL) runs on the producer's thread when it ends, whatever happened,
 * or in stream_free() when the stream never started. Never NULL. */
http_stream_t *stream_new(stream_producer_fn fn, void *arg, void (*free_arg)(void *));

/* Appends len bytes to the body, waiting while the buffer is full (the client
 * reads slower than the producer writes). EV_OK, or EV_ERR once the client
 * has gone or the server is stopping: the producer should then give up. */
int stream_write(http_stream_t *s, const void *data, size_t len);

/* Room for the next bytes of the body, to be filled in place (one copy less for
 * bulk bytes such as files read from the store): waits while the buffer is full,
 * then gives the free space at the buffer's end, *got bytes (1..want, want > 0).
 * Fill part of it and pass that same pointer and length to stream_write(), which
 * then only counts the bytes (directly, or through a library that hands bytes on
 * unchanged: libarchive's stored zip entries with no blocking). Bytes in the room
 * are not part of the body, and are never sent, until that stream_write(); any
 * other stream_write() first gives the room back (its bytes are then lost).
 * NULL once the client has gone or the server is stopping. */
void *stream_reserve(http_stream_t *s, size_t want, size_t *got);

/* Bytes the producer has written so far. */
uint64_t stream_written(const http_stream_t *s);

/* The libmicrohttpd response reading from s, for conn; starts the producer
 * thread. Takes s (freed when both the response and the producer are done).
 * NULL when the thread or response cannot be made (s is then freed). The
 * daemon must allow suspend/resume (MHD_ALLOW_SUSPEND_RESUME). */
struct MHD_Response *stream_response(http_stream_t *s, struct MHD_Connection *conn);

/* Frees a stream that was never handed to stream_response(). Accepts NULL. */
void stream_free(http_stream_t *s);

/* Server stop: cancels every running stream (their connections are resumed, so
 * libmicrohttpd holds no suspended connection when it stops) and waits up to
 * wait_ms for their producers to end. Returns how many were still running. */
int stream_shutdown(int wait_ms);

#endif
