/* bench_bare_hello.c: the benchmark baseline: a bare libmicrohttpd server answering every
 * request with a fixed 2 KB HTML page, in a thread model chosen on the command line.
 *
 *   bench_bare_hello [--port N] [--listen ADDR] [--model NAME] [--threads N] [--no-trick]
 *
 * Models: pool-epoll (default: MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL with a pool
 * of one thread per core, as evitrack serves), pool-poll, pool-select, single-epoll (one
 * internal thread), per-connection (a thread per connection, poll), auto.
 * --no-trick queues the response on the handler's first call, which on libmicrohttpd
 * 0.9.75 costs keep-alive (the server answers "Connection: close").
 * Prints "bare listening on http://ADDR:PORT" once it accepts connections; stops
 * cleanly on SIGINT/SIGTERM. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PAGE_BYTES 2048

static char page[PAGE_BYTES + 1];
static int use_trick = 1;
static int seen_marker; /* its address marks "first call seen" in *con_cls */

/* Fills page with a plausible 2048-byte HTML document. */
static void make_page(void)
{
    const char *head = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                       "<title>hello</title></head><body><main><h1>Hello</h1><p>";
    const char *foot = "</p></main></body></html>\n";
    size_t hl = strlen(head), fl = strlen(foot);
    memcpy(page, head, hl);
    for (size_t i = hl; i < PAGE_BYTES - fl; i++)
        page[i] = "lorem ipsum dolor sit amet "[(i - hl) % 27];
    memcpy(page + PAGE_BYTES - fl, foot, fl);
    page[PAGE_BYTES] = '\0';
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    if (use_trick && *con_cls == NULL) {
        /* First call for this request: answer on the next one to keep keep-alive. */
        *con_cls = &seen_marker;
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    resp = MHD_create_response_from_buffer(PAGE_BYTES, page, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "text/html; charset=utf-8");
    ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_bare_hello [--port N] [--listen ADDR] [--model pool-epoll|pool-poll|"
               "pool-select|single-epoll|per-connection|auto] [--threads N] [--no-trick]\n");
}

int main(int argc, char **argv)
{
    const char *listen_addr = "127.0.0.1", *model = "pool-epoll";
    int port = 0, threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    unsigned flags;
    struct sockaddr_in sa;
    struct MHD_Daemon *d;
    const union MHD_DaemonInfo *info;
    sigset_t set;
    int sig;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--port") && v) port = atoi(argv[++i]);
        else if (!strcmp(a, "--listen") && v) listen_addr = argv[++i];
        else if (!strcmp(a, "--model") && v) model = argv[++i];
        else if (!strcmp(a, "--threads") && v) threads = atoi(argv[++i]);
        else if (!strcmp(a, "--no-trick")) use_trick = 0;
        else if (!strcmp(a, "--help")) { usage(stdout); return 0; }
        else { usage(stderr); return 2; }
    }
    if (threads < 1) threads = 1;
    if (port < 0 || port > 65535) { fprintf(stderr, "bad --port\n"); return 2; }

    if (!strcmp(model, "pool-epoll")) flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
    else if (!strcmp(model, "pool-poll")) flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
    else if (!strcmp(model, "pool-select")) flags = MHD_USE_INTERNAL_POLLING_THREAD;
    else if (!strcmp(model, "single-epoll")) { flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL; threads = 1; }
    else if (!strcmp(model, "per-connection"))
        flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
    else if (!strcmp(model, "auto")) flags = MHD_USE_AUTO_INTERNAL_THREAD;
    else { fprintf(stderr, "unknown --model %s\n", model); return 2; }
    if (!strcmp(model, "per-connection") || !strcmp(model, "single-epoll"))
        threads = 1; /* no pool: the option would be refused */

    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, listen_addr, &sa.sin_addr) != 1) {
        fprintf(stderr, "bad --listen %s (IPv4 only)\n", listen_addr);
        return 2;
    }
    make_page();

    /* Signals are taken by sigwait below; block them before MHD starts its threads. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL,
                         MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                         MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(threads > 1 ? threads : 0),
                         MHD_OPTION_CONNECTION_TIMEOUT, 30u,
                         MHD_OPTION_CONNECTION_LIMIT, 1024u,
                         MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "bench_bare_hello: MHD_start_daemon failed (model %s, port %d)\n", model, port);
        return 1;
    }
    info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("bare listening on http://%s:%u (model %s, threads %d, keep-alive trick %s)\n",
           listen_addr, info ? (unsigned)info->port : (unsigned)port, model, threads,
           use_trick ? "on" : "off");
    fflush(stdout);

    sigwait(&set, &sig);
    MHD_stop_daemon(d);
    return 0;
}
