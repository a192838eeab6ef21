/* tls.c - the TLS listener: SSL_CTX (TLS 1.2/1.3, ALPN, session cache and
 * tickets), per-worker accept, handshake counters, the HTTP/1.1 pipe to the
 * plain listener, and the connection list freed at shutdown. */
#include "tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "h2.h"
#include "stats.h"
#include "tconn.h"

#define PIPE_HIGH (256 * 1024) /* stop reading one side while the other holds this much */
#define IDLE_MAX  4096         /* idle keep-alive connections to the plain listener, per worker */

mock_tls_conf_t mock_tls_conf = {.offer_h2 = true, .max_streams = 100};

static SSL_CTX *ctx;

struct mock_tls_worker {
    struct event_base *base;
    struct evconnlistener *lis;
    mock_tconn_t *conns;
    struct bufferevent *idle[IDLE_MAX]; /* keep-alive inner connections, newest last */
    unsigned nidle;
};

static const unsigned char alpn_both[] = "\x02h2\x08http/1.1";
static const unsigned char alpn_h1[] = "\x08http/1.1";

static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned int inlen, void *arg)
{
    const unsigned char *srv = mock_tls_conf.offer_h2 ? alpn_both : alpn_h1;
    unsigned srvlen = mock_tls_conf.offer_h2 ? sizeof(alpn_both) - 1 : sizeof(alpn_h1) - 1;
    unsigned char *sel = NULL;

    (void)ssl;
    (void)arg;
    if (SSL_select_next_proto(&sel, outlen, srv, srvlen, in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK; /* no common protocol: go on without ALPN */
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

int mock_tls_init(void)
{
    static const unsigned char sid_ctx[] = "llmux-mock";

    ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL)
        goto fail;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(ctx, mock_tls_conf.cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, mock_tls_conf.key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1)
        goto fail;
    /* Resumption: a server-side session cache (TLS 1.2 session ids) and
     * stateless tickets (both versions), shared by every worker. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(ctx, 20000);
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
    SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_alpn_select_cb(ctx, on_alpn, NULL);
    return 0;
fail:
    fprintf(stderr, "llmux-mock: TLS setup failed (cert %s, key %s): ", mock_tls_conf.cert,
            mock_tls_conf.key);
    ERR_print_errors_fp(stderr);
    fprintf(stderr, "\n");
    mock_tls_cleanup();
    return -1;
}

void mock_tls_cleanup(void)
{
    if (ctx != NULL) {
        SSL_CTX_free(ctx);
        ctx = NULL;
    }
}

struct bufferevent *mock_inner_connect(struct event_base *base)
{
    struct bufferevent *b = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);

    if (b == NULL)
        return NULL;
    mock_stat_add(MOCK_ST_TLS_INNER_CONNECTS, 1);
    if (bufferevent_socket_connect(b, (struct sockaddr *)&mock_tls_conf.inner,
                                   (int)mock_tls_conf.inner_len) != 0) {
        bufferevent_free(b);
        return NULL;
    }
    {
        int one = 1;
        evutil_socket_t fd = bufferevent_getfd(b);
        if (fd >= 0)
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    return b;
}

static void idle_drop(mock_tls_worker_t *w, struct bufferevent *b)
{
    for (unsigned i = 0; i < w->nidle; i++) {
        if (w->idle[i] == b) {
            w->idle[i] = w->idle[--w->nidle];
            break;
        }
    }
    bufferevent_free(b);
}

/* An idle connection that closes, or says something unasked, is dropped. */
static void idle_read(struct bufferevent *b, void *arg)
{
    idle_drop(arg, b);
}

static void idle_event(struct bufferevent *b, short what, void *arg)
{
    (void)what;
    idle_drop(arg, b);
}

struct bufferevent *mock_inner_get(mock_tls_worker_t *w)
{
    if (w->nidle > 0)
        return w->idle[--w->nidle];
    return mock_inner_connect(w->base);
}

void mock_inner_put(mock_tls_worker_t *w, struct bufferevent *b)
{
    if (w->nidle == IDLE_MAX || evbuffer_get_length(bufferevent_get_input(b)) > 0) {
        bufferevent_free(b);
        return;
    }
    bufferevent_setcb(b, idle_read, NULL, idle_event, w);
    bufferevent_enable(b, EV_READ);
    w->idle[w->nidle++] = b;
}

void mock_tconn_close(mock_tconn_t *c)
{
    mock_tls_worker_t *w = c->w;

    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    if (c->h2 != NULL)
        mock_h2_free(c->h2);
    if (c->inner != NULL)
        bufferevent_free(c->inner);
    bufferevent_free(c->bev); /* frees the SSL and closes the socket */
    mock_stat_add(MOCK_ST_TLS_OPEN, -1);
    free(c);
}

static void on_flushed(struct bufferevent *bev, void *arg)
{
    mock_tconn_t *c = arg;

    if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
        SSL_shutdown(bufferevent_openssl_get_ssl(bev)); /* close_notify, best effort */
        mock_tconn_close(c);
    }
}

static void on_gone(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    (void)what;
    mock_tconn_close(arg);
}

void mock_tconn_close_flushed(mock_tconn_t *c)
{
    c->closing = true;
    bufferevent_disable(c->bev, EV_READ);
    bufferevent_setcb(c->bev, NULL, on_flushed, on_gone, c);
    bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
    on_flushed(c->bev, c);
}

/* --- HTTP/1.1: the TLS side piped to a plain connection ---------------- */

static void pipe_move(struct bufferevent *from, struct bufferevent *to)
{
    struct evbuffer *out = bufferevent_get_output(to);

    evbuffer_add_buffer(out, bufferevent_get_input(from));
    if (evbuffer_get_length(out) > PIPE_HIGH)
        bufferevent_disable(from, EV_READ); /* until `to` drained (its write cb) */
}

static void h1_outer_read(struct bufferevent *bev, void *arg)
{
    mock_tconn_t *c = arg;

    if (c->inner != NULL)
        pipe_move(bev, c->inner);
}

static void h1_inner_read(struct bufferevent *bev, void *arg)
{
    pipe_move(bev, ((mock_tconn_t *)arg)->bev);
}

static void h1_outer_write(struct bufferevent *bev, void *arg)
{
    mock_tconn_t *c = arg;

    (void)bev;
    if (c->inner != NULL)
        bufferevent_enable(c->inner, EV_READ);
}

static void h1_inner_write(struct bufferevent *bev, void *arg)
{
    mock_tconn_t *c = arg;

    (void)bev;
    bufferevent_enable(c->bev, EV_READ);
}

static void h1_inner_event(struct bufferevent *bev, short what, void *arg)
{
    mock_tconn_t *c = arg;

    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
        return;
    /* The plain side closed (end of a Connection: close reply, a drop fault):
     * hand on what it sent, then close the TLS side too. */
    evbuffer_add_buffer(bufferevent_get_output(c->bev), bufferevent_get_input(bev));
    bufferevent_free(bev);
    c->inner = NULL;
    mock_tconn_close_flushed(c);
}

static void h1_outer_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        mock_tconn_close(arg); /* the client left: the plain side sees it close */
}

static int h1_start(mock_tconn_t *c)
{
    c->inner = mock_inner_connect(c->base);
    if (c->inner == NULL)
        return -1;
    bufferevent_setcb(c->inner, h1_inner_read, h1_inner_write, h1_inner_event, c);
    bufferevent_setcb(c->bev, h1_outer_read, h1_outer_write, h1_outer_event, c);
    bufferevent_enable(c->inner, EV_READ | EV_WRITE);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
        pipe_move(c->bev, c->inner);
    return 0;
}

/* --- accept and handshake ---------------------------------------------- */

static void on_handshake(struct bufferevent *bev, short what, void *arg)
{
    mock_tconn_t *c = arg;
    SSL *ssl = bufferevent_openssl_get_ssl(bev);
    const unsigned char *proto = NULL;
    unsigned plen = 0;
    int rc;

    if (!(what & BEV_EVENT_CONNECTED)) {
        mock_stat_add(MOCK_ST_TLS_FAILED, 1);
        mock_tconn_close(c);
        return;
    }
    mock_stat_add(SSL_session_reused(ssl) ? MOCK_ST_TLS_RESUMED : MOCK_ST_TLS_FULL, 1);
    SSL_get0_alpn_selected(ssl, &proto, &plen);
    if (plen == 2 && memcmp(proto, "h2", 2) == 0) {
        mock_stat_add(MOCK_ST_ALPN_H2, 1);
        rc = mock_h2_start(c, mock_tls_conf.max_streams, mock_tls_conf.max_requests);
    } else {
        mock_stat_add(MOCK_ST_ALPN_HTTP1, 1);
        rc = h1_start(c);
    }
    if (rc != 0)
        mock_tconn_close(c);
}

static void on_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    mock_tls_worker_t *w = arg;
    mock_tconn_t *c = calloc(1, sizeof(*c));
    SSL *ssl = SSL_new(ctx);
    int one = 1;

    (void)lis;
    (void)sa;
    (void)salen;
    if (c == NULL || ssl == NULL) {
        free(c);
        SSL_free(ssl);
        evutil_closesocket(fd);
        return;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->bev = bufferevent_openssl_socket_new(w->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                            BEV_OPT_CLOSE_ON_FREE);
    if (c->bev == NULL) {
        free(c);
        SSL_free(ssl);
        evutil_closesocket(fd);
        return;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
    c->w = w;
    c->base = w->base;
    c->next = w->conns;
    if (w->conns != NULL)
        w->conns->prev = c;
    w->conns = c;
    mock_stat_add(MOCK_ST_TLS_ACCEPTED, 1);
    mock_stat_add(MOCK_ST_TLS_OPEN, 1);
    bufferevent_setcb(c->bev, NULL, NULL, on_handshake, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

mock_tls_worker_t *mock_tls_worker_new(struct event_base *base, unsigned index)
{
    mock_tls_worker_t *w = calloc(1, sizeof(*w));

    if (w == NULL)
        return NULL;
    w->base = base;
    w->lis = evconnlistener_new_bind(
        base, on_accept, w, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT,
        1024, (struct sockaddr *)&mock_tls_conf.addr, (int)mock_tls_conf.addr_len);
    if (w->lis == NULL) {
        fprintf(stderr, "llmux-mock: worker %u cannot bind the TLS port\n", index);
        free(w);
        return NULL;
    }
    return w;
}

void mock_tls_worker_free(mock_tls_worker_t *w)
{
    if (w == NULL)
        return;
    evconnlistener_free(w->lis);
    while (w->conns != NULL)
        mock_tconn_close(w->conns);
    while (w->nidle > 0)
        bufferevent_free(w->idle[--w->nidle]);
    free(w);
}
