/* call_fakes.h - the fakes the AI call's unit tests (test_call.c) drive it
 * with, each behind a seam the call already has:
 *   - the client request: this file defines struct lx_req and
 *     call_fakes.c implements the lx_req_* functions the call uses
 *     (http/request.h), so the test executable links them instead of
 *     src/http's request.c (a link seam: nothing changes in production).
 *     The fake records what the client would have seen (status, headers,
 *     the reply or the streamed bytes, the error reply's fields) and counts
 *     every way the request can end, so that a test sees "ended exactly
 *     once" and "nothing after the end";
 *   - the upstream: a fake lx_up_ops_t table (upstream/upstream.h), set in
 *     lx_ai_t.up_ops. A test scripts each transfer the call starts: its
 *     status and headers, body pieces, and how it ends, when it chooses;
 *   - the usage sink: keeps every record pushed.
 * Everything runs on the test's one thread and its event_base, which only
 * the call's retry timer uses: the test runs the loop when it wants that
 * timer to fire. */
#ifndef LX_TEST_CALL_FAKES_H
#define LX_TEST_CALL_FAKES_H

#include "ai/ai.h"
#include "ai/usage.h"
#include "core/buf.h"
#include "http/request.h"
#include "upstream/upstream.h"

#include <event2/event.h>

#define FAKE_MAX_HEADERS 24

/* ---- the client request ---- */
struct lx_req {
    /* set by the test */
    char id[64];
    bool anthropic; /* an Anthropic route: errors in Anthropic's shape */
    size_t pending; /* bytes queued for the client (lx_req_pending_bytes) */
    struct event_base *base;
    int64_t start_us;
    /* what the client saw */
    int status;
    char ctype[64];
    lx_buf_t body; /* the reply's body, or every byte streamed */
    int nheaders;
    char *hname[FAKE_MAX_HEADERS], *hvalue[FAKE_MAX_HEADERS];
    bool streaming;
    bool error_replied; /* through lx_req_reply_error_status */
    lx_err_t err;
    char err_message[512];
    char err_param[64];
    /* how it ended */
    int ends;        /* replies and stream ends while not yet finished */
    int late;        /* replies, stream starts, ends or writes after it finished */
    int gave_up;     /* lx_req_finish with no reply and the client still there */
    int stream_ends; /* lx_req_stream_end while not finished */
    bool finished;
    bool client_gone;
    bool corked;
    int drains_armed; /* lx_req_on_drain with a callback */
    lx_req_cb on_abort, on_drain;
    void *abort_arg, *drain_arg;
    size_t low_water;
};

void fake_req_init(lx_req_t *req, struct event_base *base, bool anthropic);
void fake_req_free(lx_req_t *req);
/* A response header the call set, or NULL. */
const char *fake_req_header(const lx_req_t *req, const char *name);
/* The client goes away, as src/http reports it: the abort callback once,
 * then the request is finished (499). */
void fake_req_abort(lx_req_t *req);
/* The client's output drained to `pending`: the drain callback runs if it
 * was armed and pending is at or below its low water mark. */
void fake_req_drain(lx_req_t *req, size_t pending);

/* ---- the upstream ---- */
typedef struct fake_call {
    /* the request the call started */
    char url[256];
    lx_buf_t body;
    char request_id[128]; /* the X-Request-Id header sent */
    bool stream;
    lx_timeouts_t timeouts;
    /* its callbacks */
    const lx_up_handlers_t *h;
    void *arg;
    /* what the test scripted */
    int status;
    int nheaders;
    char *hname[8], *hvalue[8];
    /* what the call did with it */
    int pauses; /* on_data returned LX_AGAIN */
    int resumes;
    bool cancelled;
    bool over;  /* on_done returned: the upstream module freed it */
    int misuse; /* calls through the table after cancel or after on_done */
    int callbacks_after_cancel;
} fake_call_t;

#define FAKE_MAX_CALLS 16

typedef struct {
    fake_call_t *calls[FAKE_MAX_CALLS];
    int ncalls;
    bool refuse_start; /* start returns NULL (could not start a transfer) */
} fake_up_t;

extern const lx_up_ops_t fake_up_ops;
void fake_up_reset(fake_up_t *u);
/* The status line and headers arrive: name, value pairs, NULL-terminated. */
void fake_up_head(fake_call_t *fc, int status, ...);
/* A piece of the body; returns what on_data returned. LX_ERROR ends the
 * transfer with LX_UP_ABORTED at once, as the real module does. */
int fake_up_data(fake_call_t *fc, const char *text);
/* The transfer ends (LX_UP_OK: a whole response). */
void fake_up_done(fake_call_t *fc, lx_up_outcome_t outcome);

/* ---- the usage sink ---- */
#define FAKE_MAX_RECORDS 8
typedef struct {
    lx_usage_sink_t sink; /* first: the call pushes through it */
    lx_usage_t recs[FAKE_MAX_RECORDS];
    int n;
} fake_sink_t;

void fake_sink_reset(fake_sink_t *s);

#endif
