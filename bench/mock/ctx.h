/* ctx.h - the context of a delayed, faulted or streaming request.
 *
 * Immediate replies have no context. Anything that must wait (a timer, a stall,
 * a mid-stream fault) allocates one with mock_ctx_new, which installs two evhtp
 * request hooks:
 *   on_error        the client left (or we shut the socket): cancel the timer and
 *                   resume the paused request so that evhtp frees the connection;
 *   on_request_fini the one place that frees the context and its data.
 * A timer callback never frees anything; it only sends and calls mock_ctx_done,
 * mock_ctx_stall or mock_ctx_drop. */
#ifndef MOCK_CTX_H
#define MOCK_CTX_H

#include <stdbool.h>

#include <evhtp.h>

typedef struct mock_ctx mock_ctx_t;
typedef void (*mock_ctx_fn)(mock_ctx_t *ctx);

typedef enum {
    MOCK_CTX_ACTIVE = 0, /* waiting for a timer or sending */
    MOCK_CTX_STALLED,    /* deliberately silent until the client leaves */
    MOCK_CTX_DONE,       /* whole reply queued; evhtp finishes it */
    MOCK_CTX_DROPPED,    /* we shut the socket down; evhtp reports the error */
    MOCK_CTX_GONE,       /* the client left first */
} mock_ctx_state_t;

struct mock_ctx {
    evhtp_request_t *req;
    struct event *timer;  /* created on first use, freed in on_request_fini */
    mock_ctx_fn on_timer; /* what the timer runs next */
    void *data;           /* handler state, owned by the context */
    void (*data_free)(void *data);
    mock_ctx_state_t state;
    bool paused; /* we paused the request and have not resumed it yet */
};

/* Creates the context for req and installs the hooks. Counts the request in
 * the in_flight gauge until on_request_fini. Returns NULL on allocation failure
 * (the caller then replies at once). data/data_free may be NULL. */
mock_ctx_t *mock_ctx_new(evhtp_request_t *req, void *data, void (*data_free)(void *data));

/* Pauses the request (once) and keeps reading so that a leaving client is seen. */
void mock_ctx_pause(mock_ctx_t *ctx);

/* Pauses and runs fn(ctx) after ms milliseconds (0: on the next loop turn). */
void mock_ctx_after(mock_ctx_t *ctx, long ms, mock_ctx_fn fn);

/* The reply is fully queued on the connection: resume if paused. */
void mock_ctx_done(mock_ctx_t *ctx);

/* Say nothing more; wait until the client leaves (counted as client_gone). */
void mock_ctx_stall(mock_ctx_t *ctx);

/* Sends what is queued, then shuts the socket down; evhtp sees the error on the
 * next loop turn and frees the connection through on_error + resume. */
void mock_ctx_drop(mock_ctx_t *ctx);

#endif
