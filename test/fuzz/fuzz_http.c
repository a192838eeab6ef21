/* fuzz_http.c - the HTTP head and body through llmux's real server path.
 *
 * One lx_http_server_t (src/http, with all its evhtp hooks) on a private
 * event_base serves a small route table. Each input is written by a client
 * socket into a listening unix socket (abstract name) that evhtp accepts
 * from, exactly as it accepts TCP clients; the client then shuts down its
 * write side, reads whatever comes back, and the loop runs until the server
 * closes the connection or a wall-clock bound passes. What is left open is
 * closed through lx_http_server_close_all, so nothing carries over from one
 * input to the next. */
#include "http/internal.h"

#include <errno.h>
#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BOUND_MS 2000 /* one input never takes longer than this */

static struct event_base *g_base;
static lx_config_t g_cfg;
static lx_http_server_t *g_srv;
static struct sockaddr_un g_addr;
static socklen_t g_addrlen;
static struct event *g_tick; /* wakes the loop so that the bound is checked */

/* ---- handlers: each of the ways llmux's real handlers use a request ---- */

static int h_health(lx_req_t *req, void *arg)
{
    lx_req_reply(req, 200, "text/plain", "ok\n", 3);
    return LX_OK;
}

/* Reads the headers, the query and the body as JSON, like the API handlers. */
static int h_json(lx_req_t *req, void *arg)
{
    (void)lx_req_api_key(req);
    (void)lx_req_hdr(req, LX_HDR_ANTHROPIC_VERSION);
    (void)lx_req_header(req, "content-type");
    (void)lx_req_query(req, "beta");
    (void)lx_req_query_raw(req);
    json_t *body = lx_req_json_body(req);
    if (body == NULL)
        return LX_OK; /* replied 400 */
    lx_req_set_header(req, "x-fuzz", "1");
    lx_req_reply_json(req, 200, body);
    return LX_OK;
}

/* Streams the body back as SSE events. */
static int h_stream(lx_req_t *req, void *arg)
{
    lx_str_t body = lx_req_body(req);
    lx_req_stream_start(req, 200, "text/event-stream");
    lx_req_cork(req);
    for (size_t i = 0; i < body.n; i += 64) {
        size_t n = body.n - i < 64 ? body.n - i : 64;
        lx_req_stream_write(req, "data: ", 6);
        lx_req_stream_write(req, body.p + i, n);
        lx_req_stream_write(req, "\n\n", 2);
    }
    lx_req_uncork(req);
    lx_req_stream_end(req);
    return LX_OK;
}

/* Answers later from the loop (LX_AGAIN), as upstream calls do; the client
 * may leave first. */
typedef struct {
    lx_req_t *req;
    struct event *ev;
} later_t;

static void later_abort(lx_req_t *req, void *arg)
{
    later_t *l = arg;
    event_free(l->ev);
    free(l);
    lx_req_finish(req);
}

static void later_cb(evutil_socket_t fd, short what, void *arg)
{
    later_t *l = arg;
    lx_req_t *req = l->req;
    event_free(l->ev);
    free(l);
    lx_req_on_abort(req, NULL, NULL);
    lx_req_reply_error(req, LX_E_BAD_REQUEST, "later", NULL);
}

static int h_later(lx_req_t *req, void *arg)
{
    later_t *l = calloc(1, sizeof *l);
    l->req = req;
    l->ev = evtimer_new(lx_req_base(req), later_cb, l);
    struct timeval tv = {0, 1000};
    evtimer_add(l->ev, &tv);
    lx_req_on_abort(req, later_abort, l);
    return LX_AGAIN;
}

static const lx_route_t g_routes[] = {
    {"GET", "/healthz", h_health, NULL, 0},
    {"POST", "/v1/chat/completions", h_json, NULL, 0},
    {"POST", "/v1/messages", h_stream, NULL, LX_ROUTE_ANTHROPIC_ERRORS},
    {NULL, "/v1/later/", h_later, NULL, LX_ROUTE_PREFIX},
};

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    event_base_loopbreak(g_base);
}

static void setup(void)
{
    lx_log_min_level = LX_LOG_FATAL; /* the server logs parse errors; not useful here */
    lx_config_defaults(&g_cfg);
    g_cfg.access_log = false;
    g_cfg.max_body_bytes = 16u << 20;
    g_cfg.header_timeout_ms = BOUND_MS * 2; /* the bound below comes first */
    g_base = event_base_new();
    g_tick = evtimer_new(g_base, tick_cb, NULL);
    g_srv = lx_http_server_new(g_base, &g_cfg, g_routes, sizeof g_routes / sizeof g_routes[0], 0);
    if (g_srv == NULL)
        abort();

    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    memset(&g_addr, 0, sizeof g_addr);
    g_addr.sun_family = AF_UNIX;
    /* Abstract name: nothing on disk, gone with the process. */
    int len = snprintf(g_addr.sun_path + 1, sizeof g_addr.sun_path - 1, "llmux-fuzz-http-%d",
                       (int)getpid());
    g_addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)len);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&g_addr, g_addrlen) != 0 || listen(lfd, 16) != 0 ||
        evhtp_accept_socket(g_srv->htp, lfd, 16) != 0) {
        perror("fuzz_http: listen");
        abort();
    }
}

typedef struct {
    int fd;
    const uint8_t *p;
    size_t n, off;
    bool done;
} client_t;

static void client_cb(evutil_socket_t fd, short what, void *arg)
{
    client_t *cl = arg;
    if ((what & EV_WRITE) && cl->off < cl->n) {
        ssize_t w = send(fd, cl->p + cl->off, cl->n - cl->off, MSG_NOSIGNAL);
        if (w > 0)
            cl->off += (size_t)w;
        else if (w < 0 && errno != EAGAIN)
            cl->off = cl->n; /* the server closed on us: stop writing */
        if (cl->off == cl->n)
            shutdown(fd, SHUT_WR);
    }
    if (what & EV_READ) {
        char buf[16384];
        ssize_t r;
        while ((r = recv(fd, buf, sizeof buf, 0)) > 0) {
        }
        if (r == 0 || (r < 0 && errno != EAGAIN)) {
            cl->done = true;
            event_base_loopbreak(g_base);
        }
    }
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (g_base == NULL)
        setup();
    client_t cl = {.p = data, .n = size};
    cl.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (cl.fd < 0 || connect(cl.fd, (struct sockaddr *)&g_addr, g_addrlen) != 0)
        abort();
    if (size == 0)
        shutdown(cl.fd, SHUT_WR);
    struct event *ev = event_new(g_base, cl.fd, EV_READ | EV_WRITE | EV_PERSIST, client_cb, &cl);
    event_add(ev, NULL);
    int64_t deadline = now_ms() + BOUND_MS;
    while (!cl.done && now_ms() < deadline) {
        /* Our own timer, not event_base_loopexit: that allocates an event
         * that outlives this input when the client finishes first, and
         * libFuzzer runs a full leak scan after every input whose mallocs
         * and frees do not balance. */
        struct timeval tv = {0, 50 * 1000};
        evtimer_add(g_tick, &tv);
        event_base_dispatch(g_base);
        evtimer_del(g_tick);
    }
    event_free(ev);
    close(cl.fd);
    /* Whatever the server still holds (a connection it has not noticed is
     * gone yet, a closer still writing) goes now. */
    lx_http_server_close_all(g_srv);
    event_base_loop(g_base, EVLOOP_NONBLOCK);
    return 0;
}
