/* test_server.c - unit tests for the HTTP request lifecycle of src/http
 * (server.c, conn_input.c, request.c, closer.c): a real lx_http_server on a
 * private event_base bound to 127.0.0.1:0, driven by client sockets in the
 * same thread. The loop is stepped (EVLOOP_NONBLOCK, or EVLOOP_ONCE bounded
 * by a 10 ms timer when a deadline must pass), always a bounded number of
 * times: no sleeps, no threads.
 *
 * "Every request ends once" is counted at the access log, which runs exactly
 * where a request context is given up (hook_request_fini, lx_conn_reject):
 * this file defines lx_access_log, so the linker does not take access_log.c,
 * and each call is recorded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/config.h"
#include "http/internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- the finalizer count (replaces access_log.c) ---- */

#define MAX_ENDS 32

static struct {
    char id[LX_REQUEST_ID_MAX + 1];
    int status;
    bool finished, client_gone;
} ends[MAX_ENDS];
static int nends;

void lx_access_log(lx_req_t *req)
{
    assert_true(nends < MAX_ENDS);
    snprintf(ends[nends].id, sizeof ends[nends].id, "%s", req->id);
    ends[nends].status = req->status;
    ends[nends].finished = req->finished;
    ends[nends].client_gone = req->client_gone;
    nends++;
}

/* How many times the request with this id ended. */
static int ended(const char *id)
{
    int n = 0;
    for (int i = 0; i < nends; i++)
        n += strcmp(ends[i].id, id) == 0;
    return n;
}

static int end_status(const char *id)
{
    for (int i = 0; i < nends; i++)
        if (strcmp(ends[i].id, id) == 0)
            return ends[i].status;
    return -1;
}

/* ---- handlers ---- */

static struct {
    int handled;          /* handler calls */
    int aborts;           /* abort callbacks */
    int drains;           /* drain callbacks */
    int idle;             /* drain's on_idle */
    size_t drain_pending; /* bytes still queued when the drain callback ran */
    lx_req_t *held;       /* the request a deferred handler holds, until it ends */
} H;

static void on_abort(lx_req_t *req, void *arg)
{
    (void)arg;
    assert_ptr_equal(req, H.held);
    H.aborts++;
    H.held = NULL;
    lx_req_finish(req); /* the handler's part; the server's own finish is then a no-op */
}

static int h_reply(lx_req_t *req, void *arg)
{
    (void)arg;
    H.handled++;
    lx_req_reply(req, 200, "text/plain", "hello", 5);
    return LX_OK;
}

static int h_hold(lx_req_t *req, void *arg)
{
    (void)arg;
    H.handled++;
    assert_null(H.held);
    H.held = req;
    lx_req_on_abort(req, on_abort, NULL);
    return LX_AGAIN;
}

static int h_stream(lx_req_t *req, void *arg)
{
    h_hold(req, arg);
    lx_req_stream_start(req, 200, "text/event-stream");
    lx_req_stream_write(req, "data: 1\n\n", 9);
    return LX_AGAIN;
}

/* Headers replaced by name, case-insensitively, added without a check;
 * names that share a prefix stay apart. */
static int h_headers(lx_req_t *req, void *arg)
{
    (void)arg;
    H.handled++;
    lx_req_add_header(req, "x-a", 3, "1", 1);
    lx_req_set_header(req, "X-B", "2");
    lx_req_set_header(req, "x-b", "3");
    lx_req_set_header(req, "x-ab", "4");
    lx_req_set_header(req, "X-A", "5");
    lx_req_reply(req, 200, "text/plain", "hello", 5);
    return LX_OK;
}

static const lx_route_t routes[] = {
    {"GET", "/reply", h_reply, NULL, 0},    {"GET", "/headers", h_headers, NULL, 0},
    {"POST", "/reply", h_reply, NULL, 0},   {"GET", "/hold", h_hold, NULL, 0},
    {"POST", "/stream", h_stream, NULL, 0},
};

/* ---- fixture: server, loop, clients ---- */

#define MAX_CLIENTS 4

typedef struct {
    int fd;
    lx_buf_t in; /* everything received */
    bool closed; /* EOF or reset seen */
} client_t;

static struct event_base *base;
static lx_config_t cfg;
static lx_http_server_t *srv;
static uint16_t port;
static client_t *clients[MAX_CLIENTS];

static int setup(void **state)
{
    (void)state;
    memset(&H, 0, sizeof H);
    nends = 0;
    struct event_config *ec = event_config_new();
    event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
    base = event_base_new_with_config(ec);
    event_config_free(ec);
    lx_config_defaults(&cfg);
    cfg.listen_port = 0;
    srv = lx_http_server_new(base, &cfg, routes, sizeof routes / sizeof *routes, 0);
    assert_non_null(srv);
    assert_int_equal(lx_http_server_listen(srv), LX_OK);
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    assert_int_equal(
        getsockname(evconnlistener_get_fd(srv->htp->server), (struct sockaddr *)&sa, &len), 0);
    port = ntohs(sa.sin_port);
    return 0;
}

static void client_free(client_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    lx_buf_free(&c->in);
    free(c);
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < MAX_CLIENTS; i++) {
        if (clients[i])
            client_free(clients[i]);
        clients[i] = NULL;
    }
    lx_http_server_free(srv);
    event_base_loop(base, EVLOOP_NONBLOCK); /* as worker.c: deferred callbacks let go */
    event_base_free(base);
    lx_config_free(&cfg);
    return 0;
}

/* Reads what each open client has been sent (never blocks). */
static void clients_read(void)
{
    for (int i = 0; i < MAX_CLIENTS; i++) {
        client_t *c = clients[i];
        if (c == NULL || c->closed)
            continue;
        char b[65536];
        for (;;) {
            ssize_t n = recv(c->fd, b, sizeof b, MSG_DONTWAIT);
            if (n > 0) {
                lx_buf_append(&c->in, b, (size_t)n);
                continue;
            }
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
                c->closed = true;
            break;
        }
    }
}

static void step_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

/* One round of the loop, then the clients read. block: wait for the next
 * event, at most 10 ms (for deadlines to pass). */
static void step(bool block)
{
    if (block) {
        struct timeval tv = {0, 10 * 1000};
        event_base_once(base, -1, EV_TIMEOUT, step_wake, NULL, &tv);
        event_base_loop(base, EVLOOP_ONCE);
    } else {
        event_base_loop(base, EVLOOP_NONBLOCK);
    }
    clients_read();
}

#define STEPS 400 /* bound on rounds waiting for one thing (blocking: 4 s) */

/* Steps until cond holds (a bounded number of rounds); the condition's value. */
#define PUMP_UNTIL(cond, block)                                                                    \
    do {                                                                                           \
        for (int i_ = 0; i_ < STEPS && !(cond); i_++)                                              \
            step(block);                                                                           \
    } while (0)

/* Steps a few rounds whatever happens (to show that something does not). */
static void settle(void)
{
    for (int i = 0; i < 20; i++)
        step(false);
}

static client_t *client_open(int rcvbuf)
{
    client_t *c = lx_calloc(1, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    if (rcvbuf > 0)
        setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof sa), 0); /* loopback: at once */
    lx_buf_init(&c->in, 4096);
    int i = 0;
    while (clients[i])
        i++;
    assert_true(i < MAX_CLIENTS);
    clients[i] = c;
    int before = srv->nconns;
    PUMP_UNTIL(srv->nconns > before, false); /* accepted */
    assert_int_equal(srv->nconns, before + 1);
    return c;
}

static void client_send(client_t *c, const char *s)
{
    size_t n = strlen(s);
    assert_int_equal(send(c->fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* What the client has received, as a string. */
static const char *got(client_t *c)
{
    lx_buf_append_char(&c->in, '\0');
    c->in.n--;
    return c->in.p;
}

static bool has(client_t *c, const char *s)
{
    return strstr(got(c), s) != NULL;
}

/* Responses (status lines) the client has received. */
static int responses(client_t *c)
{
    int n = 0;
    for (const char *p = got(c); (p = strstr(p, "HTTP/1.1 ")) != NULL; p++)
        n++;
    return n;
}

static uint64_t stat_requests(void)
{
    return atomic_load(&srv->stats.requests);
}

static uint64_t stat_active(void)
{
    return atomic_load(&srv->stats.requests_active);
}

/* Every request the server started has ended exactly once. */
static void assert_all_ended(void)
{
    assert_int_equal(stat_active(), 0);
    assert_int_equal(stat_requests(), (uint64_t)nends);
    for (int i = 0; i < nends; i++)
        assert_int_equal(ended(ends[i].id), 1);
}

#define GET(path, id) "GET " path " HTTP/1.1\r\nHost: t\r\nX-Request-Id: " id "\r\n\r\n"

/* ---- one request, one end ---- */

static void test_normal_reply(void **state)
{
    (void)state;
    client_t *c = client_open(0);
    client_send(c, GET("/reply", "n1"));
    PUMP_UNTIL(has(c, "hello"), false);
    assert_true(has(c, "HTTP/1.1 200 OK\r\n"));
    assert_true(has(c, "Content-Length: 5\r\n"));
    assert_true(has(c, "X-Request-Id: n1\r\n"));
    settle();
    assert_int_equal(H.handled, 1);
    assert_int_equal(ended("n1"), 1);
    assert_int_equal(end_status("n1"), 200);
    assert_true(ends[0].finished);
    assert_false(c->closed); /* keep-alive */
    assert_int_equal(srv->conns->phase, CONN_IDLE);
    assert_all_ended();
}

static void test_reply_headers(void **state)
{
    (void)state;
    client_t *c = client_open(0);
    client_send(c, GET("/headers", "h1"));
    PUMP_UNTIL(has(c, "hello"), false);
    assert_true(has(c, "x-a: 5\r\n"));
    assert_true(has(c, "X-B: 3\r\n"));
    assert_true(has(c, "x-ab: 4\r\n"));
    assert_false(has(c, ": 1\r\n"));
    assert_false(has(c, ": 2\r\n"));
    settle();
    assert_all_ended();
}

static void test_deferred_reply(void **state)
{
    (void)state;
    client_t *c = client_open(0);
    client_send(c, GET("/hold", "d1"));
    PUMP_UNTIL(H.held != NULL, false);
    assert_non_null(H.held);
    settle();
    assert_int_equal(nends, 0); /* open while the handler holds it */
    assert_int_equal(stat_active(), 1);
    assert_int_equal(responses(c), 0);
    lx_req_t *req = H.held;
    H.held = NULL;
    lx_req_reply(req, 201, "text/plain", "later", 5);
    lx_req_finish(req); /* idempotent: already finished by the reply */
    PUMP_UNTIL(has(c, "later"), false);
    settle();
    assert_true(has(c, "HTTP/1.1 201 Created\r\n"));
    assert_int_equal(ended("d1"), 1);
    assert_int_equal(H.aborts, 0);
    assert_all_ended();
}

static void test_close_after_deferred_reply(void **state)
{
    (void)state;
    client_t *c = client_open(0);
    client_send(c,
                "GET /hold HTTP/1.1\r\nHost: t\r\nX-Request-Id: c1\r\nConnection: close\r\n\r\n");
    PUMP_UNTIL(H.held != NULL, false);
    lx_req_t *req = H.held;
    H.held = NULL;
    lx_req_reply(req, 200, "text/plain", "later", 5);
    PUMP_UNTIL(c->closed, false);
    assert_true(has(c, "Connection: close\r\n"));
    assert_true(c->closed);
    assert_int_equal(srv->nconns, 0);
    assert_all_ended();
}

static void test_close_after_reply(void **state)
{
    (void)state;
    client_t *c = client_open(0);
    client_send(c,
                "GET /reply HTTP/1.1\r\nHost: t\r\nX-Request-Id: c2\r\nConnection: close\r\n\r\n");
    PUMP_UNTIL(c->closed, false);
    assert_true(has(c, "Connection: close\r\n"));
    assert_true(c->closed);
    assert_int_equal(srv->nconns, 0);
    assert_all_ended();
}

static void test_streamed_reply(void **state)
{
    (void)state;
    client_t *c = client_open(0);
    client_send(c, "POST /stream HTTP/1.1\r\nHost: t\r\nX-Request-Id: s1\r\n"
                   "Content-Length: 2\r\n\r\n{}");
    PUMP_UNTIL(has(c, "data: 1"), false);
    assert_true(has(c, "Transfer-Encoding: chunked\r\n"));
    lx_req_t *req = H.held;
    assert_non_null(req);
    assert_true(lx_req_streaming(req));
    assert_true(lx_req_stream_write(req, "data: 2\n\n", 9));
    PUMP_UNTIL(has(c, "data: 2"), false);
    assert_int_equal(nends, 0);
    H.held = NULL;
    lx_req_stream_end(req);
    PUMP_UNTIL(has(c, "\r\n0\r\n\r\n"), false);
    settle();
    assert_true(has(c, "9\r\ndata: 1\n\n\r\n9\r\ndata: 2\n\n\r\n0\r\n\r\n"));
    assert_int_equal(ended("s1"), 1);
    assert_int_equal(end_status("s1"), 200);
    assert_int_equal(H.aborts, 0);
    assert_false(c->closed);
    assert_all_ended();
}

static void test_client_gone_mid_stream(void **state)
{
    (void)state;
    client_t *c = client_open(0);
    client_send(c, "POST /stream HTTP/1.1\r\nHost: t\r\nX-Request-Id: g1\r\n"
                   "Content-Length: 0\r\n\r\n");
    PUMP_UNTIL(has(c, "data: 1"), false);
    assert_non_null(H.held);
    close(c->fd);
    c->fd = -1;
    c->closed = true;
    PUMP_UNTIL(H.aborts > 0 && nends > 0, false);
    settle();
    assert_int_equal(H.aborts, 1);
    assert_null(H.held);
    assert_int_equal(ended("g1"), 1);
    assert_int_equal(end_status("g1"), 499);
    assert_true(ends[0].client_gone);
    assert_int_equal(srv->nconns, 0);
    assert_all_ended();
}

static void test_client_gone_while_waiting(void **state)
{
    (void)state;
    /* no byte sent yet: the paused request must still notice the EOF */
    client_t *c = client_open(0);
    client_send(c, GET("/hold", "w1"));
    PUMP_UNTIL(H.held != NULL, false);
    shutdown(c->fd, SHUT_WR);
    PUMP_UNTIL(nends > 0, false);
    settle();
    assert_int_equal(H.aborts, 1);
    assert_int_equal(ended("w1"), 1);
    assert_int_equal(end_status("w1"), 499);
    assert_all_ended();
}

static void test_body_timeout(void **state)
{
    (void)state;
    cfg.body_timeout_ms = 30;
    client_t *c = client_open(0);
    client_send(c, "POST /reply HTTP/1.1\r\nHost: t\r\nX-Request-Id: b1\r\n"
                   "Content-Length: 10\r\n\r\nabc");
    PUMP_UNTIL(c->closed, true);
    assert_true(c->closed);
    assert_true(has(c, "HTTP/1.1 408 Request Timeout\r\n"));
    assert_true(has(c, "Connection: close\r\n"));
    assert_true(has(c, "request body not received in time"));
    assert_int_equal(H.handled, 0);
    assert_int_equal(ended("b1"), 1);
    assert_int_equal(end_status("b1"), 408);
    assert_int_equal(responses(c), 1);
    assert_all_ended();
}

static void test_pipelined_pair(void **state)
{
    (void)state;
    client_t *c = client_open(0);
    client_send(c, GET("/hold", "p1") GET("/reply", "p2"));
    PUMP_UNTIL(H.held != NULL, false);
    settle();
    /* the second waits for the first to end */
    assert_int_equal(H.handled, 1);
    assert_int_equal(responses(c), 0);
    lx_req_t *req = H.held;
    H.held = NULL;
    lx_req_reply(req, 200, "text/plain", "first", 5);
    PUMP_UNTIL(responses(c) == 2 && nends == 2, false);
    settle();
    assert_int_equal(H.handled, 2);
    assert_int_equal(responses(c), 2);
    const char *all = got(c);
    const char *first = strstr(all, "first"), *second = strstr(all, "hello");
    assert_non_null(first);
    assert_non_null(second);
    assert_true(first < second); /* in order */
    assert_string_equal(ends[0].id, "p1");
    assert_string_equal(ends[1].id, "p2");
    assert_false(c->closed);
    assert_all_ended();
}

static void test_rejected_framing(void **state)
{
    (void)state;
    client_t *c = client_open(0);
    /* two Content-Lengths: refused before evhtp may read either */
    client_send(c, "POST /reply HTTP/1.1\r\nHost: t\r\nX-Request-Id: f1\r\n"
                   "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd");
    PUMP_UNTIL(c->closed, false);
    assert_true(c->closed);
    assert_true(has(c, "HTTP/1.1 400 Bad Request\r\n"));
    assert_true(has(c, "Connection: close\r\n"));
    assert_int_equal(responses(c), 1);
    assert_int_equal(H.handled, 0);
    assert_int_equal(atomic_load(&srv->stats.rejected), 1);
    assert_true(ended("f1") <= 1);
    assert_all_ended();
}

static void test_rejected_framing_behind_inflight(void **state)
{
    (void)state;
    client_t *c = client_open(0);
    client_send(c, GET("/hold", "q1"));
    PUMP_UNTIL(H.held != NULL, false);
    /* a smuggling attempt pipelined behind a request a handler holds: the
     * first ends normally, then the connection gets its error and closes */
    client_send(c, "GET /reply HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
    settle();
    assert_int_equal(H.handled, 1);
    assert_false(c->closed);
    assert_int_equal(responses(c), 0);
    lx_req_t *req = H.held;
    H.held = NULL;
    lx_req_reply(req, 200, "text/plain", "first", 5);
    PUMP_UNTIL(c->closed, false);
    assert_true(c->closed);
    assert_int_equal(responses(c), 2);
    const char *all = got(c);
    const char *ok = strstr(all, "HTTP/1.1 200 OK\r\n");
    const char *bad = strstr(all, "HTTP/1.1 501 Not Implemented\r\n");
    assert_non_null(ok);
    assert_non_null(bad);
    assert_true(ok < bad);
    assert_int_equal(H.handled, 1); /* the refused one reached no handler */
    assert_int_equal(ended("q1"), 1);
    assert_all_ended();
}

static void test_http10_stream_ends_with_close(void **state)
{
    (void)state;
    /* HTTP/1.0 has no chunked encoding: the body ends when the connection
     * does, even when the client asked for keep-alive */
    client_t *c = client_open(0);
    client_send(c, "POST /stream HTTP/1.0\r\nConnection: keep-alive\r\nX-Request-Id: t10\r\n"
                   "Content-Length: 0\r\n\r\n");
    PUMP_UNTIL(has(c, "data: 1"), false);
    assert_false(has(c, "Transfer-Encoding"));
    assert_true(has(c, "Connection: close\r\n"));
    lx_req_t *req = H.held;
    H.held = NULL;
    lx_req_stream_write(req, "data: 2\n\n", 9);
    lx_req_stream_end(req);
    PUMP_UNTIL(c->closed, false);
    assert_true(has(c, "\r\n\r\ndata: 1\n\ndata: 2\n\n"));
    assert_true(c->closed);
    assert_int_equal(srv->nconns, 0);
    assert_int_equal(ended("t10"), 1);
    assert_all_ended();
}

/* ---- backpressure ---- */

static void on_drain(lx_req_t *req, void *arg)
{
    (void)arg;
    assert_ptr_equal(req, H.held);
    H.drains++;
    H.drain_pending = lx_req_pending_bytes(req); /* what the resumed stream finds */
}

static void test_backpressure_resumes_when_client_reads(void **state)
{
    (void)state;
    client_t *c = client_open(4096);
    client_send(c, "POST /stream HTTP/1.1\r\nHost: t\r\nX-Request-Id: bp1\r\n"
                   "Content-Length: 0\r\n\r\n");
    /* the client does not read: step the loop without clients_read */
    for (int i = 0; i < STEPS && H.held == NULL; i++)
        event_base_loop(base, EVLOOP_NONBLOCK);
    lx_req_t *req = H.held;
    assert_non_null(req);
    static char chunk[64 * 1024];
    memset(chunk, 'x', sizeof chunk);
    size_t written = 0;
    const size_t high = 256 * 1024;
    for (int i = 0; i < 512 && lx_req_pending_bytes(req) <= high; i++) {
        assert_true(lx_req_stream_write(req, chunk, sizeof chunk));
        written += sizeof chunk;
        event_base_loop(base, EVLOOP_NONBLOCK);
    }
    assert_true(lx_req_pending_bytes(req) > high); /* the socket is full: bytes wait */
    lx_req_on_drain(req, high / 4, on_drain, NULL);
    for (int i = 0; i < 50; i++)
        event_base_loop(base, EVLOOP_NONBLOCK);
    assert_int_equal(H.drains, 0); /* nobody reads: no resume */
    assert_true(lx_req_pending_bytes(req) > high / 4);

    /* the client reads: the drain callback runs, once */
    PUMP_UNTIL(H.drains > 0, false);
    assert_int_equal(H.drains, 1);
    assert_true(H.drain_pending <=
                high / 4); /* not before the client's output is below low water */
    assert_true(lx_req_stream_write(req, "data: END\n\n", 11));
    written += 11;
    H.held = NULL;
    lx_req_stream_end(req);
    PUMP_UNTIL(has(c, "data: END\n\n\r\n0\r\n\r\n"), false);
    settle();
    assert_true(has(c, "data: END\n\n\r\n0\r\n\r\n"));
    assert_true(c->in.n > written);
    assert_int_equal(H.drains, 1);
    assert_int_equal(ended("bp1"), 1);
    assert_int_equal(end_status("bp1"), 200);
    assert_all_ended();
}

/* ---- drain ---- */

static void on_idle(void *arg)
{
    (void)arg;
    H.idle++;
}

static void test_drain(void **state)
{
    (void)state;
    client_t *idle = client_open(0);
    client_send(idle, GET("/reply", "i1"));
    PUMP_UNTIL(has(idle, "hello"), false);
    client_t *busy = client_open(0);
    client_send(busy, GET("/hold", "h1"));
    PUMP_UNTIL(H.held != NULL, false);
    client_t *half = client_open(0);
    client_send(half, "GET /reply HTTP/1.1\r\nHo");
    settle();
    assert_int_equal(srv->nconns, 3);

    lx_http_server_drain(srv, on_idle, NULL);
    PUMP_UNTIL(idle->closed && half->closed, false);
    settle();
    assert_true(idle->closed);
    assert_true(half->closed);
    assert_int_equal(responses(half), 0);
    assert_false(busy->closed); /* in flight: goes on */
    assert_int_equal(H.idle, 0);
    assert_int_equal(srv->nconns, 1);
    assert_true(lx_http_server_draining(srv));

    lx_req_t *req = H.held;
    H.held = NULL;
    lx_req_reply(req, 200, "text/plain", "bye", 3);
    PUMP_UNTIL(busy->closed && H.idle > 0, false);
    settle();
    assert_true(has(busy, "bye"));
    assert_true(has(busy, "Connection: close\r\n"));
    assert_true(busy->closed);
    assert_int_equal(H.idle, 1);
    assert_int_equal(srv->nconns, 0);
    assert_int_equal(ended("i1"), 1);
    assert_int_equal(ended("h1"), 1);
    assert_all_ended();
}

static void test_drain_when_idle(void **state)
{
    (void)state;
    client_t *c = client_open(0);
    client_send(c, GET("/reply", "e1"));
    PUMP_UNTIL(has(c, "hello"), false);
    lx_http_server_drain(srv, on_idle, NULL);
    PUMP_UNTIL(c->closed && H.idle > 0, false);
    settle();
    assert_true(c->closed);
    assert_int_equal(H.idle, 1);
    assert_all_ended();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reply_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_normal_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deferred_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_after_deferred_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_after_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_streamed_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_gone_mid_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_gone_while_waiting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipelined_pair, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejected_framing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejected_framing_behind_inflight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http10_stream_ends_with_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backpressure_resumes_when_client_reads, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_drain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drain_when_idle, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
