/* stream.c: responses produced while they are sent: a producer thread writes, libmicrohttpd reads */
#include "stream.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "util.h"

struct http_stream {
    pthread_mutex_t lock;
    pthread_cond_t space;          /* signalled when the reader took bytes or cancelled */
    char *buf;                     /* ring of STREAM_BUFFER bytes */
    size_t head, len;              /* first unread byte, bytes unread */
    int done;                      /* the producer ended (ok says how) */
    int ok;
    int cancelled;                 /* the response is gone or the server stops */
    int suspended;                 /* the connection waits for bytes */
    int refs;                      /* the producer and the response */
    struct MHD_Connection *conn;   /* NULL once the response is gone */
    uint64_t written;
    char *room;                    /* stream_reserve's last room, valid while written == room_at */
    size_t room_len;
    uint64_t room_at;
    stream_producer_fn fn;
    void *arg;
    void (*free_arg)(void *);
    struct http_stream *prev, *next; /* running streams, for stream_shutdown() */
};

static pthread_mutex_t running_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t running_changed = PTHREAD_COND_INITIALIZER;
static http_stream_t *running;
static int running_n;

http_stream_t *stream_new(stream_producer_fn fn, void *arg, void (*free_arg)(void *))
{
    http_stream_t *s = xcalloc(1, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->space, NULL);
    s->buf = xmalloc(STREAM_BUFFER);
    s->fn = fn;
    s->arg = arg;
    s->free_arg = free_arg;
    return s;
}

static void destroy(http_stream_t *s)
{
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->space);
    free(s->buf);
    free(s);
}

void stream_free(http_stream_t *s)
{
    if (!s)
        return;
    if (s->free_arg)
        s->free_arg(s->arg);
    destroy(s);
}

/* Drops one reference (lock not held); the last one frees. */
static void unref(http_stream_t *s)
{
    pthread_mutex_lock(&s->lock);
    int left = --s->refs;
    pthread_mutex_unlock(&s->lock);
    if (left == 0)
        destroy(s);
}

/* Lets libmicrohttpd run the connection again (s->lock held). */
static void wake_reader(http_stream_t *s)
{
    if (s->suspended && s->conn) {
        s->suspended = 0;
        MHD_resume_connection(s->conn);
    }
}

/* Offset of the first free byte of the ring (s->lock held). */
static size_t ring_tail(const http_stream_t *s)
{
    return (s->head + s->len) % STREAM_BUFFER;
}

/* Free bytes from the tail on, without wrapping (s->lock held). */
static size_t ring_room(const http_stream_t *s)
{
    size_t tail = ring_tail(s);
    if (s->len == STREAM_BUFFER)
        return 0;
    return tail >= s->head ? STREAM_BUFFER - tail : s->head - tail;
}

void *stream_reserve(http_stream_t *s, size_t want, size_t *got)
{
    void *p = NULL;
    *got = 0;
    pthread_mutex_lock(&s->lock);
    /* Waits for want bytes, or for all the room up to the ring's end when that is
     * less (it cannot grow: the rest of the room is at the start, for next time). */
    for (;;) {
        if (s->cancelled)
            goto out;
        size_t room = ring_room(s), to_end = STREAM_BUFFER - ring_tail(s);
        if (room && room >= (want < to_end ? want : to_end))
            break;
        pthread_cond_wait(&s->space, &s->lock);
    }
    *got = ring_room(s) < want ? ring_room(s) : want;
    p = s->buf + ring_tail(s);
    s->room = p;
    s->room_len = *got;
    s->room_at = s->written;
out:
    pthread_mutex_unlock(&s->lock);
    return p;
}

int stream_write(http_stream_t *s, const void *data, size_t len)
{
    const char *p = data;
    pthread_mutex_lock(&s->lock);
    if (p >= s->buf && p < s->buf + STREAM_BUFFER && len) {
        /* Bytes filled in place (stream_reserve): still the ring's next bytes unless
         * something else was written since (it went where they were). */
        int in_place = !s->cancelled && p == s->room && len <= s->room_len && s->written == s->room_at;
        if (in_place) {
            s->room = NULL;
            s->len += len;
            s->written += len;
            wake_reader(s);
        } else if (!s->cancelled) {
            ev_log("stream: bytes filled in place were overwritten before they were written; ending the download");
        }
        pthread_mutex_unlock(&s->lock);
        return in_place ? EV_OK : EV_ERR;
    }
    while (len && !s->cancelled) {
        while (s->len == STREAM_BUFFER && !s->cancelled)
            pthread_cond_wait(&s->space, &s->lock);
        if (s->cancelled)
            break;
        size_t tail = (s->head + s->len) % STREAM_BUFFER;
        size_t room = STREAM_BUFFER - s->len;
        size_t n = len < room ? len : room;
        if (n > STREAM_BUFFER - tail)
            n = STREAM_BUFFER - tail; /* up to the end of the ring; the rest next turn */
        memcpy(s->buf + tail, p, n);
        s->len += n;
        s->written += n;
        p += n;
        len -= n;
        wake_reader(s);
    }
    int rc = s->cancelled ? EV_ERR : EV_OK;
    pthread_mutex_unlock(&s->lock);
    return rc;
}

uint64_t stream_written(const http_stream_t *s)
{
    return s->written;
}

/* MHD_ContentReaderCallback: hands over what the buffer holds; with nothing
 * there yet, suspends the connection (the documented way to say "no data now"
 * without busy polling) until the producer writes or ends. */
static ssize_t reader(void *cls, uint64_t pos, char *out, size_t max)
{
    (void)pos;
    http_stream_t *s = cls;
    ssize_t ret;
    pthread_mutex_lock(&s->lock);
    if (s->len) {
        size_t n = s->len < max ? s->len : max;
        if (n > STREAM_BUFFER - s->head)
            n = STREAM_BUFFER - s->head;
        memcpy(out, s->buf + s->head, n);
        s->head = (s->head + n) % STREAM_BUFFER;
        s->len -= n;
        pthread_cond_signal(&s->space);
        ret = (ssize_t)n;
    } else if (s->done || s->cancelled) {
        ret = s->done && s->ok && !s->cancelled ? MHD_CONTENT_READER_END_OF_STREAM
                                                : MHD_CONTENT_READER_END_WITH_ERROR;
    } else {
        s->suspended = 1;
        MHD_suspend_connection(s->conn);
        ret = 0;
    }
    pthread_mutex_unlock(&s->lock);
    return ret;
}

/* MHD_ContentReaderFreeCallback: the response is gone (sent, or the client left). */
static void reader_done(void *cls)
{
    http_stream_t *s = cls;
    pthread_mutex_lock(&s->lock);
    s->cancelled = 1;
    s->conn = NULL;
    pthread_cond_broadcast(&s->space);
    pthread_mutex_unlock(&s->lock);
    unref(s);
}

static void *producer(void *arg)
{
    http_stream_t *s = arg;
    /* Producers give way to requests: at nice 10 this thread (Linux nices
     * threads one by one) gets CPU left over from the request threads, so a
     * big export slows others' pages little; it still runs when they idle. */
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), STREAM_NICE);
    int rc = s->fn(s, s->arg);
    if (s->free_arg)
        s->free_arg(s->arg);
    db_thread_close();
    pthread_mutex_lock(&s->lock);
    s->done = 1;
    s->ok = rc == EV_OK;
    wake_reader(s);
    pthread_mutex_unlock(&s->lock);

    pthread_mutex_lock(&running_lock);
    if (s->prev)
        s->prev->next = s->next;
    else
        running = s->next;
    if (s->next)
        s->next->prev = s->prev;
    running_n--;
    pthread_cond_broadcast(&running_changed);
    pthread_mutex_unlock(&running_lock);
    unref(s);
    return NULL;
}

struct MHD_Response *stream_response(http_stream_t *s, struct MHD_Connection *conn)
{
    /* 64 KiB blocks: few calls per megabyte, and well under the buffer */
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, reader, s, reader_done);
    if (!resp) {
        stream_free(s);
        return NULL;
    }
    s->conn = conn;
    s->refs = 2;
    pthread_mutex_lock(&running_lock);
    s->next = running;
    if (running)
        running->prev = s;
    running = s;
    running_n++;
    pthread_mutex_unlock(&running_lock);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int started = pthread_create(&t, &attr, producer, s) == 0;
    pthread_attr_destroy(&attr);
    if (!started) {
        /* no producer: end the body at once, with an error */
        pthread_mutex_lock(&running_lock);
        running = s->next;
        if (s->next)
            s->next->prev = NULL;
        running_n--;
        pthread_mutex_unlock(&running_lock);
        if (s->free_arg)
            s->free_arg(s->arg);
        s->free_arg = NULL;
        s->done = 1;
        s->ok = 0;
        s->refs = 1;
    }
    return resp;
}

int stream_shutdown(int wait_ms)
{
    pthread_mutex_lock(&running_lock);
    for (http_stream_t *s = running; s; s = s->next) {
        pthread_mutex_lock(&s->lock);
        s->cancelled = 1;
        pthread_cond_broadcast(&s->space);
        wake_reader(s);
        pthread_mutex_unlock(&s->lock);
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += wait_ms / 1000;
    until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    while (running_n > 0)
        if (pthread_cond_timedwait(&running_changed, &running_lock, &until) != 0)
            break;
    int left = running_n;
    pthread_mutex_unlock(&running_lock);
    return left;
}
