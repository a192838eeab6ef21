/* server.c - worker threads: event_base + evhtp per thread, connection
 * tracking (evhtp keeps none) so that shutdown can free every connection. */
#include "server.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <evhtp.h>

#include "control.h"
#include "stats.h"
#include "tls.h"

typedef struct worker worker_t;

typedef struct conn_node {
    evhtp_connection_t *conn;
    worker_t *w;
    struct conn_node *prev, *next;
} conn_node_t;

struct worker {
    mock_server_t *srv;
    unsigned index;
    pthread_t thread;
    bool started; /* thread created */
    bool ok;      /* bound and about to loop (published through report()) */
    struct event_base *base;
    evhtp_t *htp;
    struct event *stop_ev;
    conn_node_t *conns;     /* open connections, owned by this worker's loop */
    mock_tls_worker_t *tls; /* the TLS listener and its connections (NULL: off) */
};

struct mock_server {
    const char *host;
    uint16_t port;
    unsigned n;
    worker_t *workers;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned reported; /* workers that finished setting up (bound or failed) */
    unsigned failed;
};

static evhtp_res on_conn_fini(evhtp_connection_t *conn, void *arg)
{
    conn_node_t *node = arg;
    worker_t *w = node->w;

    (void)conn;
    if (node->prev != NULL)
        node->prev->next = node->next;
    else
        w->conns = node->next;
    if (node->next != NULL)
        node->next->prev = node->prev;
    free(node);
    return EVHTP_RES_OK;
}

static evhtp_res on_accept(evhtp_connection_t *conn, void *arg)
{
    worker_t *w = arg;
    conn_node_t *node = malloc(sizeof(*node));

    if (node == NULL)
        return EVHTP_RES_OK; /* untracked: only matters at shutdown */
    node->conn = conn;
    node->w = w;
    node->prev = NULL;
    node->next = w->conns;
    if (w->conns != NULL)
        w->conns->prev = node;
    w->conns = node;
    evhtp_connection_set_hook(conn, evhtp_hook_on_connection_fini, (evhtp_hook)on_conn_fini, node);
    return EVHTP_RES_OK;
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;

    (void)fd;
    (void)what;
    event_base_loopbreak(w->base);
}

static void report(mock_server_t *s, bool ok)
{
    pthread_mutex_lock(&s->lock);
    s->reported++;
    if (!ok)
        s->failed++;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static bool setup(worker_t *w)
{
    mock_server_t *s = w->srv;
    struct event_config *cfg = event_config_new();

    if (cfg == NULL)
        return false;
    event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
    w->base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (w->base == NULL)
        return false;
    w->stop_ev = event_new(w->base, -1, 0, on_stop, w);
    if (w->stop_ev == NULL)
        return false;
    if (s->host == NULL) /* the TLS front (tls.h) */
        return (w->tls = mock_tls_worker_new(w->base, w->index)) != NULL;
    w->htp = evhtp_new(w->base, w);
    if (w->htp == NULL)
        return false;
    evhtp_enable_flag(w->htp, EVHTP_FLAG_ENABLE_REUSEPORT | EVHTP_FLAG_ENABLE_NODELAY);
    evhtp_set_gencb(w->htp, mock_route, NULL);
    evhtp_set_post_accept_cb(w->htp, on_accept, w);
    if (evhtp_bind_socket(w->htp, s->host, s->port, 1024) != 0) {
        fprintf(stderr, "llmux-mock: worker %u cannot bind %s:%u\n", w->index, s->host,
                (unsigned)s->port);
        return false;
    }
    return true;
}

static void free_conns(worker_t *w)
{
    while (w->conns != NULL) {
        conn_node_t *head = w->conns;
        evhtp_connection_free(head->conn); /* on_conn_fini unlinks and frees head */
        if (w->conns == head) {            /* hook did not run: unlink ourselves */
            w->conns = head->next;
            free(head);
        }
    }
}

static void teardown(worker_t *w)
{
    /* No new connection from here on. */
    if (w->htp != NULL)
        evhtp_unbind_socket(w->htp);
    mock_tls_worker_free(w->tls);
    w->tls = NULL;
    free_conns(w);
    /* A freed bufferevent finishes on the loop (its deferred callbacks hold a
     * reference): without this turn, a connection closed just before the stop
     * leaked its bufferevent and buffers (LeakSanitizer, about 1 stop in 3). */
    if (w->base != NULL) {
        event_base_loop(w->base, EVLOOP_NONBLOCK);
        free_conns(w);
    }
    if (w->htp != NULL) {
        evhtp_free(w->htp);
        w->htp = NULL;
    }
    if (w->stop_ev != NULL) {
        event_free(w->stop_ev);
        w->stop_ev = NULL;
    }
    if (w->base != NULL) {
        event_base_free(w->base);
        w->base = NULL;
    }
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    bool ok;

    mock_stats_bind(w->srv->host != NULL ? w->index : MOCK_MAX_WORKERS + w->index);
    ok = setup(w);
    w->ok = ok;
    report(w->srv, ok);
    if (ok)
        event_base_dispatch(w->base);
    teardown(w);
    return NULL;
}

static void stop_all(mock_server_t *s)
{
    for (unsigned i = 0; i < s->n; i++) {
        worker_t *w = &s->workers[i];
        /* Only bound workers loop; event_active is thread-safe
         * (evthread_use_pthreads) and stays queued until the loop runs. */
        if (w->started && w->ok)
            event_active(w->stop_ev, EV_READ, 0);
    }
    for (unsigned i = 0; i < s->n; i++)
        if (s->workers[i].started)
            pthread_join(s->workers[i].thread, NULL);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    free(s->workers);
    free(s);
}

mock_server_t *mock_server_start(unsigned n, const char *host, uint16_t port)
{
    mock_server_t *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->host = host;
    s->port = port;
    s->n = n;
    s->workers = calloc(n, sizeof(*s->workers));
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    if (s->workers == NULL) {
        s->n = 0;
        stop_all(s);
        return NULL;
    }
    for (unsigned i = 0; i < n; i++) {
        worker_t *w = &s->workers[i];
        w->srv = s;
        w->index = i;
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            fprintf(stderr, "llmux-mock: cannot start worker %u\n", i);
            report(s, false);
            continue;
        }
        w->started = true;
    }
    pthread_mutex_lock(&s->lock);
    while (s->reported < n)
        pthread_cond_wait(&s->cond, &s->lock);
    unsigned failed = s->failed;
    pthread_mutex_unlock(&s->lock);
    if (failed > 0) {
        stop_all(s);
        return NULL;
    }
    return s;
}

void mock_server_stop(mock_server_t *s)
{
    if (s != NULL)
        stop_all(s);
}
