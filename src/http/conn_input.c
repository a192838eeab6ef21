/* conn_input.c - what a client sends, before evhtp parses it.
 *
 * Every byte goes through the framing check (framing.c) from an evbuffer
 * callback on the connection's input; our read callback then hands evhtp
 * one request at a time and heads only whole, and our write callback hands
 * it the next request once it has recycled the connection (evhtp's own
 * pipelining stalls). The evhtp defects this contains are listed in
 * docs/ARCHITECTURE.md. Owned by server.c's connections: nothing here
 * outlives its lx_conn_t. */
#include "http/internal.h"

#include <stdint.h>

/* Runs on every change of a connection's input buffer, before evhtp's read
 * callback: new bytes go through the framing check. A failure cannot be
 * answered here (we are inside the bufferevent's read); conn_readcb or the
 * next hook answers it, and the timer makes sure someone does. */
static void framing_cb(struct evbuffer *in, const struct evbuffer_cb_info *info, void *arg)
{
    lx_conn_t *c = arg;
    if (info->n_added == 0 || lx_conn_framing_bad(c))
        return;
    struct evbuffer_ptr at;
    if (evbuffer_ptr_set(in, &at, evbuffer_get_length(in) - info->n_added, EVBUFFER_PTR_SET) < 0)
        return;
    size_t left = info->n_added;
    struct evbuffer_iovec v[8];
    while (left > 0) {
        int nv = evbuffer_peek(in, (ev_ssize_t)left, &at, v, 8);
        if (nv <= 0)
            break;
        for (int i = 0; i < nv && i < 8 && left > 0; i++) {
            size_t len = v[i].iov_len < left ? v[i].iov_len : left;
            if (lx_framing_feed(&c->framing, v[i].iov_base, len) != LX_OK) {
                event_active(&c->timer, EV_TIMEOUT, 1);
                return;
            }
            left -= len;
            evbuffer_ptr_set(in, &at, len, EVBUFFER_PTR_ADD);
        }
    }
}

static lx_conn_t *conn_of_ec(evhtp_connection_t *ec)
{
    return ec->hooks ? ec->hooks->on_connection_fini_arg : NULL;
}

/* What a held-back head (with the request ahead of it) may take in the
 * input buffer: the header limit plus room for the request line. */
static size_t head_hold_limit(const lx_config_t *cfg)
{
    return cfg->max_header_bytes + 16 * 1024;
}

/* Moves bytes between a connection's input and a side buffer: keep > 0
 * sets aside what follows the first keep bytes; SIZE_MAX puts it back.
 * Moving is not new input, so the framing check is off meanwhile; and the
 * bufferevent keeps its input's end frozen against anyone but itself. */
static void move_input(lx_conn_t *c, struct evbuffer *in, struct evbuffer *side, size_t keep)
{
    evbuffer_cb_clear_flags(in, c->framing_entry, EVBUFFER_CB_ENABLED);
    evbuffer_unfreeze(in, 0);
    if (keep == SIZE_MAX) {
        evbuffer_add_buffer(in, side);
    } else {
        struct evbuffer *front = evbuffer_new();
        evbuffer_remove_buffer(in, front, keep);
        evbuffer_add_buffer(side, in);
        evbuffer_add_buffer(in, front);
        evbuffer_free(front);
    }
    evbuffer_freeze(in, 0);
    evbuffer_cb_set_flags(in, c->framing_entry, EVBUFFER_CB_ENABLED);
}

/* Between requests (and evhtp only ever sees whole heads, so no request
 * means it is between two), empty lines before a request line are allowed,
 * but evhtp's parser returns after each such byte and waits for a resume
 * that does not come: drop them here. */
static void skip_empty_lines(struct evbuffer *in)
{
    const unsigned char *b;
    while ((b = evbuffer_pullup(in, 1)) != NULL && (*b == '\r' || *b == '\n'))
        evbuffer_drain(in, 1);
}

static void conn_readcb(struct bufferevent *bev, void *arg)
{
    evhtp_connection_t *ec = arg;
    lx_http_server_t *srv = ec->htp->arg;
    lx_conn_t *c = conn_of_ec(ec);
    if (c && lx_conn_framing_bad(c) && c->phase != CONN_ACTIVE) {
        lx_conn_reject(c, c->framing.err, c->framing.why);
        evhtp_connection_free(ec);
        return;
    }
    if (c == NULL) {
        srv->evhtp_readcb(bev, arg);
        return;
    }
    /* evhtp is handed one request at a time, and heads only whole: its
     * parser stops after each request and leaves the rest for a resume that
     * does not happen (llmux's write callback hands it over instead), and
     * it loses bytes of a head split across reads (its issue #128). What
     * follows the first request, or a partial head, waits aside. */
    struct evbuffer *in = bufferevent_get_input(bev);
    if (c->req == NULL)
        skip_empty_lines(in);
    size_t len = evbuffer_get_length(in);
    uint64_t first = lx_framing_fed(&c->framing) - len; /* stream offset of in[0] */
    size_t keep = len;
    uint64_t end = lx_framing_end_after(&c->framing, first);
    if (end - first < len)
        keep = (size_t)(end - first);
    if (lx_framing_in_head(&c->framing)) {
        size_t whole = (size_t)(lx_framing_head_start(&c->framing) - first);
        if (len - whole > head_hold_limit(srv->cfg)) {
            lx_conn_reject(c, LX_E_HEADERS_TOO_LARGE, NULL);
            evhtp_connection_free(ec);
            return;
        }
        if (whole < keep)
            keep = whole;
    }
    if (keep == len) {
        srv->evhtp_readcb(bev, arg);
        return;
    }
    if (keep == 0) { /* only a partial head so far */
        if (c->phase == CONN_IDLE) {
            c->phase = CONN_HEAD;
            lx_conn_arm(c, srv->cfg->header_timeout_ms);
        }
        return;
    }
    struct evbuffer *rest = evbuffer_new();
    move_input(c, in, rest, keep);
    srv->alive_probe = c;
    srv->evhtp_readcb(bev, arg);
    if (srv->alive_probe == c) {
        srv->alive_probe = NULL;
        move_input(c, in, rest, SIZE_MAX);
    }
    evbuffer_free(rest);
}

/* evhtp recycles a keep-alive connection in its write callback but does not
 * look at what the client already sent after that request (pipelining):
 * run its read callback on it, once the connection is ready for it. */
static void conn_writecb(struct bufferevent *bev, void *arg)
{
    evhtp_connection_t *ec = arg;
    lx_http_server_t *srv = ec->htp->arg;
    lx_conn_t *c = conn_of_ec(ec);
    if (c == NULL) {
        srv->evhtp_writecb(bev, arg);
        return;
    }
    srv->alive_probe = c;
    srv->evhtp_writecb(bev, arg);
    if (srv->alive_probe != c)
        return; /* evhtp freed the connection */
    srv->alive_probe = NULL;
    /* (Paused requests end without evhtp's resume, request.c, so no other
     * reader is queued: this one hands over the next request.) */
    if (ec->request == NULL && !(ec->flags & EVHTP_CONN_FLAG_PAUSED) &&
        evbuffer_get_length(bufferevent_get_input(bev)) > 0)
        conn_readcb(bev, arg);
}

void lx_conn_input_start(lx_conn_t *c)
{
    lx_http_server_t *srv = c->srv;
    struct bufferevent *bev = c->ec->bev;
    lx_framing_init(&c->framing);
    c->framing_entry = evbuffer_add_cb(bufferevent_get_input(bev), framing_cb, c);
    if (srv->evhtp_readcb == NULL)
        bufferevent_getcb(bev, &srv->evhtp_readcb, &srv->evhtp_writecb, NULL, NULL);
    bufferevent_event_cb evcb;
    bufferevent_getcb(bev, NULL, NULL, &evcb, NULL);
    bufferevent_setcb(bev, conn_readcb, conn_writecb, evcb, c->ec);
}

/* Stops the framing check on bev's input (bev may be the one taken over
 * from evhtp, which outlives c). */
void lx_conn_input_stop(lx_conn_t *c, struct bufferevent *bev)
{
    if (c->framing_entry && bev)
        evbuffer_remove_cb_entry(bufferevent_get_input(bev), c->framing_entry);
    c->framing_entry = NULL;
}
