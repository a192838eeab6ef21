/* call_fakes.c - the fake client request, upstream and usage sink of
 * test_call.c (call_fakes.h). The request functions keep the contract of
 * http/request.h that the call relies on: a reply or a stream end finishes
 * the request; lx_req_finish is idempotent; after the client left, the
 * abort callback runs once and the request is finished by the server. */
#include "call_fakes.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- the client request (http/request.h) ---- */

void fake_req_init(lx_req_t *req, struct event_base *base, bool anthropic)
{
    memset(req, 0, sizeof *req);
    snprintf(req->id, sizeof req->id, "req-test-1");
    req->anthropic = anthropic;
    req->base = base;
    req->start_us = lx_now_us();
    lx_buf_init(&req->body, 0);
}

void fake_req_free(lx_req_t *req)
{
    for (int i = 0; i < req->nheaders; i++) {
        free(req->hname[i]);
        free(req->hvalue[i]);
    }
    lx_buf_free(&req->body);
}

const char *fake_req_header(const lx_req_t *req, const char *name)
{
    for (int i = 0; i < req->nheaders; i++)
        if (strcasecmp(req->hname[i], name) == 0)
            return req->hvalue[i];
    return NULL;
}

void fake_req_abort(lx_req_t *req)
{
    if (req->client_gone || req->finished)
        return;
    req->client_gone = true;
    lx_req_cb cb = req->on_abort;
    req->on_abort = NULL;
    if (cb)
        cb(req, req->abort_arg);
    lx_req_finish(req);
}

void fake_req_drain(lx_req_t *req, size_t pending)
{
    req->pending = pending;
    if (req->on_drain == NULL || pending > req->low_water)
        return;
    lx_req_cb cb = req->on_drain;
    req->on_drain = NULL;
    cb(req, req->drain_arg);
}

lx_str_t lx_req_id(const lx_req_t *req)
{
    return lx_str(req->id);
}

struct event_base *lx_req_base(const lx_req_t *req)
{
    return req->base;
}

int64_t lx_req_start_us(const lx_req_t *req)
{
    return req->start_us;
}

const char *lx_req_hdr(const lx_req_t *req, lx_hdr_t h)
{
    (void)req;
    (void)h;
    return NULL;
}

bool lx_req_anthropic_errors(const lx_req_t *req)
{
    return req->anthropic;
}

void lx_req_cork(lx_req_t *req)
{
    req->corked = true;
}

void lx_req_uncork(lx_req_t *req)
{
    req->corked = false;
}

size_t lx_req_pending_bytes(const lx_req_t *req)
{
    return req->pending;
}

void lx_req_on_drain(lx_req_t *req, size_t low_water, lx_req_cb cb, void *arg)
{
    if (req->finished)
        req->late++;
    req->on_drain = cb;
    req->drain_arg = arg;
    req->low_water = low_water;
    req->drains_armed += cb != NULL;
}

void lx_req_on_abort(lx_req_t *req, lx_req_cb cb, void *arg)
{
    req->on_abort = cb;
    req->abort_arg = arg;
}

int lx_req_set_header(lx_req_t *req, const char *name, const char *value)
{
    if (req->finished || req->streaming)
        req->late++; /* after the head went out: lost */
    for (int i = 0; i < req->nheaders; i++) {
        if (strcasecmp(req->hname[i], name) == 0) {
            free(req->hvalue[i]);
            req->hvalue[i] = strdup(value);
            return LX_OK;
        }
    }
    assert_true(req->nheaders < FAKE_MAX_HEADERS);
    req->hname[req->nheaders] = strdup(name);
    req->hvalue[req->nheaders++] = strdup(value);
    return LX_OK;
}

/* A reply or a stream end: counted once, anything after the end is late. */
static bool ending(lx_req_t *req)
{
    if (req->finished) {
        req->late++;
        return false;
    }
    req->ends++;
    return true;
}

void lx_req_reply(lx_req_t *req, int status, const char *content_type, const char *body, size_t len)
{
    if (!ending(req))
        return;
    req->status = status;
    snprintf(req->ctype, sizeof req->ctype, "%s", content_type);
    lx_buf_reset(&req->body);
    lx_buf_append(&req->body, body, len);
    lx_req_finish(req);
}

void lx_req_reply_json(lx_req_t *req, int status, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    lx_req_reply(req, status, "application/json", text, strlen(text));
    free(text);
}

void lx_req_reply_error_status(lx_req_t *req, int status, lx_err_t err, const char *message,
                               const char *param)
{
    if (!req->finished) {
        req->error_replied = true;
        req->err = err;
        snprintf(req->err_message, sizeof req->err_message, "%s",
                 message ? message : lx_err_info(err)->message);
        snprintf(req->err_param, sizeof req->err_param, "%s", param ? param : "");
    }
    /* The body's shape (OpenAI or Anthropic, from req->anthropic) is
     * src/http's; the test reads the fields above. */
    lx_req_reply(req, status, "application/json", "{}", 2);
}

void lx_req_stream_start(lx_req_t *req, int status, const char *content_type)
{
    if (req->finished) {
        req->late++;
        return;
    }
    if (req->streaming)
        return;
    req->streaming = true;
    req->status = status;
    snprintf(req->ctype, sizeof req->ctype, "%s", content_type);
}

bool lx_req_stream_write(lx_req_t *req, const void *p, size_t n)
{
    if (req->finished) {
        req->late++;
        return false;
    }
    if (req->client_gone)
        return false;
    assert_true(req->streaming);
    lx_buf_append(&req->body, p, n);
    return true;
}

void lx_req_stream_end(lx_req_t *req)
{
    if (!ending(req))
        return;
    req->stream_ends++;
    lx_req_finish(req);
}

void lx_req_finish(lx_req_t *req)
{
    if (req->finished)
        return;
    if (!req->client_gone && req->status == 0)
        req->gave_up++; /* the real one replies 500 here */
    if (req->client_gone)
        req->status = 499;
    req->finished = true;
    req->on_abort = NULL;
    req->on_drain = NULL;
}

/* ---- the upstream (upstream/upstream.h, through lx_up_ops_t) ---- */

static fake_call_t *fc_of(const lx_up_call_t *call)
{
    return (fake_call_t *)(uintptr_t)call;
}

static void check_usable(fake_call_t *fc)
{
    if (fc->cancelled || fc->over)
        fc->misuse++;
}

static lx_up_call_t *fake_start(lx_upstream_t *u, const lx_up_request_t *rq,
                                const lx_up_handlers_t *h, void *arg)
{
    fake_up_t *up = (fake_up_t *)(uintptr_t)u;
    if (up->refuse_start)
        return NULL;
    assert_true(up->ncalls < FAKE_MAX_CALLS);
    fake_call_t *fc = calloc(1, sizeof *fc);
    snprintf(fc->url, sizeof fc->url, "%s", rq->url);
    lx_buf_init(&fc->body, 0);
    lx_buf_append(&fc->body, rq->body, rq->body_len);
    for (int i = 0; i < rq->nheaders; i++)
        if (strncasecmp(rq->headers[i], "X-Request-Id: ", 14) == 0)
            snprintf(fc->request_id, sizeof fc->request_id, "%s", rq->headers[i] + 14);
    fc->stream = rq->stream;
    fc->timeouts = rq->timeouts;
    fc->h = h;
    fc->arg = arg;
    up->calls[up->ncalls++] = fc;
    return (lx_up_call_t *)(uintptr_t)fc;
}

static void fake_pause(lx_up_call_t *call)
{
    fake_call_t *fc = fc_of(call);
    check_usable(fc);
    fc->pauses++;
}

static void fake_resume(lx_up_call_t *call)
{
    fake_call_t *fc = fc_of(call);
    check_usable(fc);
    fc->resumes++;
}

static void fake_cancel(lx_up_call_t *call)
{
    fake_call_t *fc = fc_of(call);
    check_usable(fc);
    fc->cancelled = true;
}

static int64_t fake_first_byte_us(const lx_up_call_t *call)
{
    fake_call_t *fc = fc_of(call);
    check_usable(fc);
    return fc->status ? 1000 : -1;
}

static const char *fake_header(const lx_up_call_t *call, const char *name)
{
    fake_call_t *fc = fc_of(call);
    check_usable(fc);
    for (int i = 0; i < fc->nheaders; i++)
        if (strcasecmp(fc->hname[i], name) == 0)
            return fc->hvalue[i];
    return NULL;
}

const lx_up_ops_t fake_up_ops = {
    .start = fake_start,
    .pause = fake_pause,
    .resume = fake_resume,
    .cancel = fake_cancel,
    .first_byte_us = fake_first_byte_us,
    .header = fake_header,
};

void fake_up_reset(fake_up_t *u)
{
    for (int i = 0; i < u->ncalls; i++) {
        fake_call_t *fc = u->calls[i];
        for (int k = 0; k < fc->nheaders; k++) {
            free(fc->hname[k]);
            free(fc->hvalue[k]);
        }
        lx_buf_free(&fc->body);
        free(fc);
    }
    memset(u, 0, sizeof *u);
}

/* A callback into the call: only while the transfer is the call's. */
static bool deliverable(fake_call_t *fc)
{
    if (fc->cancelled) {
        fc->callbacks_after_cancel++;
        return false;
    }
    assert_false(fc->over);
    return true;
}

void fake_up_head(fake_call_t *fc, int status, ...)
{
    fc->status = status;
    va_list ap;
    va_start(ap, status);
    const char *name;
    while ((name = va_arg(ap, const char *)) != NULL && fc->nheaders < 8) {
        fc->hname[fc->nheaders] = strdup(name);
        fc->hvalue[fc->nheaders++] = strdup(va_arg(ap, const char *));
    }
    va_end(ap);
    if (deliverable(fc))
        fc->h->on_headers((lx_up_call_t *)(uintptr_t)fc, status, fc->arg);
}

int fake_up_data(fake_call_t *fc, const char *text)
{
    if (!deliverable(fc))
        return LX_ERROR;
    int rc = fc->h->on_data((lx_up_call_t *)(uintptr_t)fc, text, strlen(text), fc->arg);
    if (rc == LX_AGAIN)
        fc->pauses++;
    else if (rc == LX_ERROR && !fc->cancelled)
        fake_up_done(fc, LX_UP_ABORTED);
    return rc;
}

void fake_up_done(fake_call_t *fc, lx_up_outcome_t outcome)
{
    if (!deliverable(fc))
        return;
    lx_up_result_t res = {
        .outcome = outcome,
        .status = fc->status,
        .request_sent = outcome != LX_UP_CONNECT_FAILED && outcome != LX_UP_TIMEOUT_CONNECT,
        .first_byte_us = fc->status ? 1000 : -1,
        .total_us = 2000,
    };
    fc->h->on_done((lx_up_call_t *)(uintptr_t)fc, &res, fc->arg);
    fc->over = true;
}

/* ---- the usage sink ---- */

static void sink_push(lx_usage_sink_t *sink, const lx_usage_t *u)
{
    fake_sink_t *s = (fake_sink_t *)sink;
    assert_true(s->n < FAKE_MAX_RECORDS);
    s->recs[s->n++] = *u;
}

void fake_sink_reset(fake_sink_t *s)
{
    memset(s, 0, sizeof *s);
    s->sink.push = sink_push;
}
