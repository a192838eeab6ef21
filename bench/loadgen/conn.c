/* conn.c - one client connection: socket set-up, sending the pre-built
 * request, response parsing (HTTP/1.1 + SSE), timeouts, stale keep-alive
 * resend, and recording each measured request's outcome (see conn.h). */
#include "conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include "clock.h"
#include "worker.h"

/* What ended a request. */
typedef enum {
    END_OK, /* complete response; status and stream verdict decide */
    END_CONNECT,
    END_TIMEOUT,
    END_CLOSED,
    END_BROKEN,
    END_PROTOCOL,
} end_t;

static void on_read(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);
static void on_timer(evutil_socket_t fd, short what, void *arg);

int lb_conn_init(lb_conn_t *c, lb_worker_t *w)
{
    memset(c, 0, sizeof(*c));
    c->w = w;
    c->timer = evtimer_new(w->base, on_timer, c);
    if (c->timer == NULL)
        return -1;
    lb_h1_init(&c->h1);
    lb_sse_init(&c->sse);
    return 0;
}

static void close_sock(lb_conn_t *c)
{
    if (c->bev != NULL) {
        SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
        if (ssl != NULL && c->connected) {
            SSL_SESSION *s = SSL_get1_session(ssl);
            if (s != NULL) {
                SSL_SESSION_free(c->sess);
                c->sess = s;
            }
            /* No close_notify is sent (the socket is just closed), but an SSL
             * freed without SSL_SENT_SHUTDOWN marks its session not
             * resumable, the one kept above included. */
            SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
        }
        bufferevent_free(c->bev);
        c->bev = NULL;
    }
    c->connected = false;
    c->reqs = 0;
}

void lb_conn_free(lb_conn_t *c)
{
    close_sock(c);
    if (c->timer != NULL) {
        event_free(c->timer);
        c->timer = NULL;
    }
    lb_h1_free(&c->h1);
    lb_sse_free(&c->sse);
    SSL_SESSION_free(c->sess);
    c->sess = NULL;
}

/* https: a TLS bufferevent (libevent's OpenSSL filter on its own socket,
 * connected by bufferevent_socket_connect); the server's certificate must
 * name the URL's host (an IP address or a DNS name). */
static struct bufferevent *tls_bev(lb_conn_t *c)
{
    const lb_target_t *t = c->w->run->target;
    SSL *ssl = SSL_new(t->ssl_ctx);
    struct bufferevent *bev;
    X509_VERIFY_PARAM *vp;

    if (ssl == NULL)
        return NULL;
    vp = SSL_get0_param(ssl);
    if (X509_VERIFY_PARAM_set1_ip_asc(vp, t->host) != 1) {
        if (X509_VERIFY_PARAM_set1_host(vp, t->host, 0) != 1 ||
            SSL_set_tlsext_host_name(ssl, t->host) != 1) {
            SSL_free(ssl);
            return NULL;
        }
    }
    if (c->sess != NULL)
        SSL_set_session(ssl, c->sess);
    bev = bufferevent_openssl_socket_new(c->w->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                         BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        SSL_free(ssl);
        return NULL;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}

static int open_sock(lb_conn_t *c)
{
    const lb_target_t *t = c->w->run->target;
    int one = 1;
    int fd;

    if (t->tls) {
        if ((c->bev = tls_bev(c)) == NULL)
            return -1;
    } else {
        fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -1;
        c->bev = bufferevent_socket_new(c->w->base, fd, BEV_OPT_CLOSE_ON_FREE);
        if (c->bev == NULL) {
            close(fd);
            return -1;
        }
    }
    bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
    if (bufferevent_enable(c->bev, EV_READ) < 0 ||
        bufferevent_socket_connect(c->bev, (const struct sockaddr *)&t->addr, (int)t->addr_len) <
            0) {
        close_sock(c);
        return -1;
    }
    fd = bufferevent_getfd(c->bev);
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->w->stats.connects++;
    c->connected = false;
    c->reqs = 0;
    return 0;
}

/* Writes the request straight to the socket when it is connected and idle
 * (saving the bufferevent's write-event round trip); whatever does not fit
 * goes through the bufferevent, by reference (the bytes are the run's). */
static void write_request(lb_conn_t *c)
{
    const lb_target_t *t = c->w->run->target;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    size_t off = 0;

    if (!t->tls && c->connected && evbuffer_get_length(out) == 0) {
        ssize_t k =
            send(bufferevent_getfd(c->bev), t->req, t->req_len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (k == (ssize_t)t->req_len)
            return;
        if (k > 0)
            off = (size_t)k;
    }
    evbuffer_add_reference(out, t->req + off, t->req_len - off, NULL, NULL);
}

static void start(lb_conn_t *c)
{
    c->reqs++;
    write_request(c);
    event_add(c->timer, c->w->timeout_tv);
}

void lb_conn_send(lb_conn_t *c, uint64_t sched_us, bool measured)
{
    c->busy = true;
    c->measured = measured;
    c->resent = false;
    c->is_stream = false;
    c->got_event = false;
    c->sched_us = sched_us;
    lb_h1_reset(&c->h1);
    if (measured)
        c->w->stats.started++;
    if (c->bev == NULL && open_sock(c) < 0) {
        /* Report it from the loop, not from inside the caller. */
        static const struct timeval now = {0, 0};
        c->fail_pending = true;
        event_add(c->timer, &now);
        return;
    }
    start(c);
}

void lb_conn_retry_later(lb_conn_t *c, uint64_t delay_us)
{
    struct timeval tv = {(time_t)(delay_us / 1000000u), (suseconds_t)(delay_us % 1000000u)};

    c->retry_pending = true;
    event_add(c->timer, &tv);
}

void lb_conn_abandon(lb_conn_t *c)
{
    if (c->busy && c->measured)
        c->w->stats.unfinished++;
    c->busy = false;
    c->retry_pending = c->fail_pending = false;
    event_del(c->timer);
    close_sock(c);
}

/* Records a measured request's outcome. */
static void record(lb_conn_t *c, end_t how)
{
    lb_stats_t *s = &c->w->stats;
    int status = c->h1.status;

    switch (how) {
    case END_CONNECT:
        s->errors[LB_ERR_CONNECT]++;
        return;
    case END_TIMEOUT:
        s->errors[LB_ERR_TIMEOUT]++;
        return;
    case END_CLOSED:
        s->errors[LB_ERR_CLOSED]++;
        return;
    case END_BROKEN:
        s->errors[LB_ERR_BROKEN]++;
        return;
    case END_PROTOCOL:
        s->errors[LB_ERR_PROTOCOL]++;
        return;
    case END_OK:
        break;
    }
    s->completed++;
    if (status < 200 || status > 299) {
        s->errors[LB_ERR_STATUS]++;
        if (status > 0 && status < 600)
            s->status[status]++;
        return;
    }
    if (c->is_stream) {
        lb_stream_verdict_t v = lb_stream_verdict(&c->st);
        s->streams++;
        s->chunks_sum += c->st.chunks;
        s->events_sum += c->st.events;
        if (c->st.chunks < s->chunks_min)
            s->chunks_min = c->st.chunks;
        if (c->st.chunks > s->chunks_max)
            s->chunks_max = c->st.chunks;
        if (c->st.error_event)
            s->error_events++;
        if (v.no_done)
            s->fid_no_done++;
        switch (v.problem) {
        case LB_FID_MISSING:
            s->fid_missing++;
            break;
        case LB_FID_REORDER:
            s->fid_reorder++;
            break;
        case LB_FID_CORRUPT:
            s->fid_corrupt++;
            break;
        case LB_FID_NONE:
            break;
        }
        if (!v.ok) {
            s->errors[LB_ERR_FIDELITY]++;
            return;
        }
        s->fid_ok++;
    } else if (c->w->run->expect != NULL) {
        s->fid_not_stream++;
        s->errors[LB_ERR_FIDELITY]++;
        return;
    }
    s->ok++;
    lb_hist_add(&s->latency, c->now_us - c->sched_us);
}

/* The request ended: record it, keep or close the socket, hand c back. */
static void finish(lb_conn_t *c, end_t how, bool keep)
{
    event_del(c->timer);
    c->busy = false;
    if (c->measured) {
        if (how != END_OK && how != END_CONNECT)
            c->now_us = lb_now_us();
        record(c, how);
    }
    if (!keep)
        close_sock(c);
    lb_worker_next(c->w, c, how == END_CONNECT);
}

static void on_sse_event(void *arg, const char *name, size_t name_len, const char *data, size_t n)
{
    lb_conn_t *c = arg;

    if (c->measured) {
        if (!c->got_event) {
            lb_hist_add(&c->w->stats.ttfc, c->now_us - c->sched_us);
            if (c->w->run->opts->ttfc_log != NULL)
                lb_worker_ttfc_note(c->w, c->sched_us, c->now_us - c->sched_us);
        } else
            lb_hist_add(&c->w->stats.gap, c->now_us - c->last_ev_us);
    }
    c->got_event = true;
    c->last_ev_us = c->now_us;
    lb_stream_event(&c->st, name, name_len, data, n);
}

static void on_head(void *arg)
{
    lb_conn_t *c = arg;

    if (c->h1.event_stream && c->h1.status >= 200 && c->h1.status <= 299) {
        c->is_stream = true;
        lb_sse_reset(&c->sse);
        lb_stream_start(&c->st, c->w->run->expect);
    }
}

static int on_body(void *arg, const char *p, size_t n)
{
    lb_conn_t *c = arg;

    if (!c->is_stream)
        return 0;
    return lb_sse_feed(&c->sse, p, n, on_sse_event, c);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    lb_conn_t *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t total = evbuffer_get_length(in);

    if (c->busy && c->measured)
        c->w->stats.bytes_in += total;
    if (!c->busy) { /* bytes nobody asked for: this socket is unusable */
        evbuffer_drain(in, total);
        close_sock(c);
        return;
    }
    c->now_us = lb_now_us();
    while (evbuffer_get_length(in) > 0 && c->h1.state != LB_H1_DONE && c->h1.state != LB_H1_ERROR) {
        struct evbuffer_iovec v[16];
        int nv = evbuffer_peek(in, -1, NULL, v, 16);
        size_t used = 0;
        if (nv > 16)
            nv = 16;
        for (int i = 0; i < nv; i++) {
            size_t k = lb_h1_feed(&c->h1, v[i].iov_base, v[i].iov_len, on_head, on_body, c);
            used += k;
            if (k < v[i].iov_len || c->h1.state == LB_H1_DONE || c->h1.state == LB_H1_ERROR)
                break;
        }
        evbuffer_drain(in, used);
    }
    if (c->h1.state == LB_H1_ERROR) {
        finish(c, END_PROTOCOL, false);
    } else if (c->h1.state == LB_H1_DONE) {
        /* Leftover bytes answer no request of ours: do not reuse the socket. */
        bool keep = c->h1.keep_alive && evbuffer_get_length(in) == 0;
        finish(c, END_OK, keep);
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    lb_conn_t *c = arg;

    (void)bev;
    if (what & BEV_EVENT_CONNECTED) {
        c->connected = true;
        return;
    }
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
        return;
    if (!c->busy) { /* the server closed an idle keep-alive connection */
        close_sock(c);
        return;
    }
    if (!c->connected) {
        finish(c, END_CONNECT, false);
    } else if (lb_h1_eof(&c->h1)) {
        c->now_us = lb_now_us();
        finish(c, END_OK, false);
    } else if (!lb_h1_started(&c->h1) && c->reqs > 1 && !c->resent) {
        /* A reused connection the server had already closed: send again on a
         * new one, once, keeping the request's start time. */
        c->resent = true;
        c->w->stats.resent++;
        close_sock(c);
        event_del(c->timer);
        if (open_sock(c) < 0) {
            finish(c, END_CONNECT, false);
            return;
        }
        start(c);
    } else if (c->is_stream) {
        finish(c, END_BROKEN, false);
    } else {
        finish(c, END_CLOSED, false);
    }
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    lb_conn_t *c = arg;

    (void)fd;
    (void)what;
    if (c->fail_pending) {
        c->fail_pending = false;
        finish(c, END_CONNECT, false);
    } else if (c->retry_pending) {
        c->retry_pending = false;
        lb_worker_next(c->w, c, false);
    } else if (c->busy) {
        finish(c, END_TIMEOUT, false);
    }
}
