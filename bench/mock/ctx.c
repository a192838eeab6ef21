/* ctx.c - lifecycle of the per-request context: pause, timers, resume, free. */
#include "ctx.h"

#include <stdlib.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "stats.h"

static struct bufferevent *ctx_bev(mock_ctx_t *ctx)
{
    return evhtp_connection_get_bev(evhtp_request_get_connection(ctx->req));
}

static void resume(mock_ctx_t *ctx)
{
    if (ctx->paused) {
        ctx->paused = false;
        evhtp_request_resume(ctx->req);
    }
}

static void on_error(evhtp_request_t *req, evhtp_error_flags errtype, void *arg)
{
    mock_ctx_t *ctx = arg;

    (void)req;
    (void)errtype;
    if (ctx->state == MOCK_CTX_ACTIVE || ctx->state == MOCK_CTX_STALLED) {
        mock_stat_add(MOCK_ST_CLIENT_GONE, 1);
        ctx->state = MOCK_CTX_GONE;
    }
    if (ctx->timer != NULL)
        event_del(ctx->timer);
    /* evhtp frees the connection right after this hook once it is not paused. */
    resume(ctx);
}

static evhtp_res on_fini(evhtp_request_t *req, void *arg)
{
    mock_ctx_t *ctx = arg;

    (void)req;
    if (ctx->timer != NULL)
        event_free(ctx->timer);
    if (ctx->data_free != NULL)
        ctx->data_free(ctx->data);
    mock_stat_add(MOCK_ST_IN_FLIGHT, -1);
    free(ctx);
    return EVHTP_RES_OK;
}

mock_ctx_t *mock_ctx_new(evhtp_request_t *req, void *data, void (*data_free)(void *data))
{
    mock_ctx_t *ctx = calloc(1, sizeof(*ctx));

    if (ctx == NULL)
        return NULL;
    ctx->req = req;
    ctx->data = data;
    ctx->data_free = data_free;
    ctx->state = MOCK_CTX_ACTIVE;
    evhtp_request_set_hook(req, evhtp_hook_on_error, (evhtp_hook)(void (*)(void))on_error, ctx);
    evhtp_request_set_hook(req, evhtp_hook_on_request_fini, (evhtp_hook)on_fini, ctx);
    mock_stat_add(MOCK_ST_IN_FLIGHT, 1);
    return ctx;
}

void mock_ctx_pause(mock_ctx_t *ctx)
{
    if (ctx->paused)
        return;
    ctx->paused = true;
    evhtp_request_pause(ctx->req);
    /* Pausing stops reading; read on so that EOF fires on_error at once. */
    bufferevent_enable(ctx_bev(ctx), EV_READ);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    mock_ctx_t *ctx = arg;

    (void)fd;
    (void)what;
    if (ctx->state == MOCK_CTX_ACTIVE && ctx->on_timer != NULL)
        ctx->on_timer(ctx);
}

void mock_ctx_after(mock_ctx_t *ctx, long ms, mock_ctx_fn fn)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

    mock_ctx_pause(ctx);
    if (ctx->timer == NULL)
        ctx->timer = evtimer_new(ctx->req->htp->evbase, timer_cb, ctx);
    if (ctx->timer == NULL) {
        /* Out of memory: run now rather than hang. */
        fn(ctx);
        return;
    }
    ctx->on_timer = fn;
    evtimer_add(ctx->timer, &tv);
}

void mock_ctx_done(mock_ctx_t *ctx)
{
    ctx->state = MOCK_CTX_DONE;
    resume(ctx);
}

void mock_ctx_stall(mock_ctx_t *ctx)
{
    ctx->state = MOCK_CTX_STALLED;
    mock_ctx_pause(ctx);
}

void mock_ctx_drop(mock_ctx_t *ctx)
{
    struct bufferevent *bev = ctx_bev(ctx);
    evutil_socket_t fd = bufferevent_getfd(bev);
    struct evbuffer *out = bufferevent_get_output(bev);

    ctx->state = MOCK_CTX_DROPPED;
    mock_ctx_pause(ctx);
    /* Push what is queued (small) so the client sees the partial reply first.
     * A socket bufferevent freezes the front of its output buffer against
     * outside drains; lift that for this one synchronous write. */
    evbuffer_unfreeze(out, 1);
    while (evbuffer_get_length(out) > 0)
        if (evbuffer_write(out, fd) <= 0)
            break;
    evbuffer_freeze(out, 1);
    shutdown(fd, SHUT_RDWR);
}
