/* call.c - the AI call's attempt loop: one lx_call_t per client request.
 * Starts attempts on the targets in order, judges each, retries the same
 * target after a backoff or falls back to the next, only before the first
 * byte reaches the client; after it, a failure ends the stream with an
 * error event, never a fake normal end. Holds upstream while the client is
 * behind (backpressure). The client side is call_client.c; the end,
 * call_end.c. */
#include "ai/call_int.h"
#include "ai/xfer_map.h"

#include <stdio.h>
#include <stdlib.h>

/* ---- upstream callbacks ---- */

static void up_headers(lx_up_call_t *call, int status, void *arg)
{
    lx_call_t *c = arg;
    c->status = status;
}

static void resume_upstream(lx_req_t *req, void *arg)
{
    lx_call_t *c = arg;
    if (c->up)
        c->o.ai->up_ops->resume(c->up);
}

/* A stream's time to its first chunk and the gaps between upstream reads
 * forwarded to the client (obs/metrics.h). */
static void stream_metrics(lx_call_t *c, bool was_streaming, int64_t now_us)
{
    if (c->state != CALL_STREAMING)
        return;
    if (!was_streaming) {
        c->mlat = lx_metrics_stream_series(c->o.ai->metrics, c->o.feature, c->t->conf.name);
        lx_metrics_stream_first(c->mlat, now_us - lx_req_start_us(c->o.req));
    } else {
        lx_metrics_stream_gap(c->mlat, now_us - c->last_chunk_us);
    }
    c->last_chunk_us = now_us;
}

static int up_data(lx_up_call_t *call, const char *p, size_t n, void *arg)
{
    lx_call_t *c = arg;
    if (!c->o.stream || c->status != 200) {
        size_t max = c->o.ai->cfg->upstream_max_response_bytes;
        if (c->resp.n + n > max) {
            snprintf(c->too_big, sizeof c->too_big,
                     "upstream %s sent an answer larger than upstream.max_response_bytes (%zu "
                     "bytes)",
                     c->t->conf.name, max);
            return LX_ERROR;
        }
        lx_buf_append(&c->resp, p, n);
        return LX_OK;
    }
    /* Backpressure: hold upstream while the client is behind. The bytes are
     * not consumed: curl hands them back after resume. */
    size_t high = c->o.ai->cfg->stream_high_water;
    if (lx_req_pending_bytes(c->o.req) > high) {
        lx_req_uncork(c->o.req); /* so what waits is in the socket's queue, whose drain we see */
        if (lx_req_pending_bytes(c->o.req) > high) {
            atomic_fetch_add_explicit(&c->o.ai->upstream_pauses, 1, memory_order_relaxed);
            lx_req_on_drain(c->o.req, high / 2, resume_upstream, c);
            return LX_AGAIN;
        }
    }
    int64_t t0 = lx_now_us();
    bool was_streaming = c->state == CALL_STREAMING;
    /* curl hands over a read one HTTP chunk (usually one event) at a time:
     * the cork lasts until the loop is through them all, so they leave in
     * one send. */
    lx_req_cork(c->o.req);
    int rc = lx_sse_feed(&c->sse, p, n);
    c->overhead_us += lx_now_us() - t0;
    stream_metrics(c, was_streaming, t0);
    if (rc == LX_SSE_TOO_BIG) {
        snprintf(c->too_big, sizeof c->too_big,
                 "upstream %s sent one event larger than limits.max_event_bytes (%zu bytes)",
                 c->t->conf.name, c->sse.max_event);
        return LX_ERROR;
    }
    return LX_OK;
}

static bool start_attempt(lx_call_t *c);

static void retry_cb(evutil_socket_t fd, short ev, void *arg)
{
    lx_call_t *c = arg;
    c->retry_armed = false;
    start_attempt(c); /* replies and finalizes by itself when nothing is left */
}

/* An attempt's end in the metrics: its time to first byte, its time in the
 * call's upstream total, and the retry or fallback that follows, with the
 * failed attempt's reason (a transfer outcome, or the status's reason). */
static void attempt_metrics(lx_call_t *c, const lx_up_result_t *res, lx_step_kind_t next)
{
    c->upstream_us += LX_MAX(res->total_us, 0);
    lx_metrics_next_t nx = next == LX_STEP_RETRY_SAME ? LX_METRICS_RETRY
                           : next == LX_STEP_NEXT     ? LX_METRICS_FALLBACK
                                                      : LX_METRICS_DONE;
    const char *why = res->outcome != LX_UP_OK ? lx_up_outcome_name(res->outcome)
                                               : lx_err_info(lx_err_from_status(c->status))->name;
    lx_metrics_attempt(c->o.ai->metrics, c->o.feature, c->t->conf.name, res->first_byte_us, nx,
                       why);
}

/* Records how the attempt went on its connection and, while nothing has
 * reached the client, decides whether to try again (same target after a
 * backoff, or the next one). True if another attempt is on its way. */
static bool judge_attempt(lx_call_t *c, const lx_up_result_t *res)
{
    bool http_fail = res->outcome == LX_UP_OK && c->status != 200;
    lx_attempt_facts_t f = {
        .status = res->outcome == LX_UP_OK ? c->status : 0,
        .transport = lx_xfer_from_up(res->outcome),
        .request_sent = res->request_sent,
        .client_bytes_sent = c->state == CALL_STREAMING,
        .idempotent = c->o.kind != LX_CALL_IMAGE,
        .quota = http_fail && lx_failure_body_is_quota(lx_buf_str(&c->resp)),
    };
    if (f.transport == LX_XFER_OK && f.status == 200 && c->o.stream &&
        (c->failed_midstream || !c->done))
        f.transport = LX_XFER_BROKEN; /* the stream did not end as it should */
    if (c->too_big[0] || (f.transport == LX_XFER_OK && !lx_call_status_is_answer(f.status))) {
        f.transport = LX_XFER_BROKEN; /* over a size limit, or a status that is no answer */
        f.status = 0;
    }
    lx_verdict_t v = lx_failure_classify(&f);
    int64_t now = lx_wall_ms();
    const char *ra = http_fail && c->up ? c->o.ai->up_ops->header(c->up, "Retry-After") : NULL;
    int64_t ttfb = res->first_byte_us >= 0                    ? res->first_byte_us
                   : res->outcome == LX_UP_TIMEOUT_FIRST_BYTE ? res->total_us
                                                              : -1;
    lx_attempt_end(&c->att, &c->o.ai->routing->conf, &v, ttfb, ra, now);
    lx_call_log_end(c, res, res->outcome == LX_UP_OK ? c->status : 0, (int)v.cls);
    lx_step_t st = {.kind = LX_STEP_DONE};
    if (v.cls != LX_FAIL_SUCCESS && c->state != CALL_STREAMING)
        st = lx_failure_next(&v, c->same_retries, c->ti + 1 < c->ntargets,
                             &c->o.ai->routing->conf.backoff, &c->o.ai->routing->budget, &c->rng,
                             now, c->deadline_ms);
    attempt_metrics(c, res, st.kind);
    if (st.kind == LX_STEP_RETRY_SAME) {
        c->same_retries++;
        lx_call_log_then(c, LX_ATT_THEN_RETRY);
    } else if (st.kind == LX_STEP_NEXT) {
        lx_call_log_then(c, LX_ATT_THEN_FALLBACK);
        c->ti++;
        c->same_retries = 0;
    } else {
        return false;
    }
    if (res->outcome != LX_UP_OK)
        snprintf(c->fallback_reason, sizeof c->fallback_reason, "%s from %s",
                 lx_up_outcome_name(res->outcome), c->t->conf.name);
    else
        snprintf(c->fallback_reason, sizeof c->fallback_reason, "%d from %s", c->status,
                 c->t->conf.name);
    c->up = NULL; /* the upstream module frees it after we return */
    struct timeval tv = {(time_t)(st.delay_ms / 1000), (suseconds_t)(st.delay_ms % 1000) * 1000};
    evtimer_add(&c->retry_ev, &tv);
    c->retry_armed = true;
    return true;
}

static void up_done(lx_up_call_t *call, const lx_up_result_t *res, void *arg)
{
    lx_call_t *c = arg;
    bool again = judge_attempt(c, res);
    lx_call_trace_attempt_end(c, res, again);
    if (again)
        return;
    c->ttfb_us = res->first_byte_us;
    lx_outcome_t o;
    lx_call_attempt_outcome(c, res, &o);
    c->up = NULL; /* the upstream module frees it after we return */
    lx_call_end(c, &o);
}

/* ---- attempts ---- */

/* Forgets what a failed attempt left behind (nothing reached the client). */
static void reset_answer(lx_call_t *c)
{
    c->status = 0;
    c->done = false;
    c->failed_midstream = false;
    c->fail_msg[0] = '\0';
    c->too_big[0] = '\0';
    lx_buf_reset(&c->resp);
    lx_sse_free(&c->sse);
    lx_sse_init(&c->sse, lx_call_on_sse_event, c);
    c->sse.max_event = c->o.ai->cfg->max_event_bytes;
    if (c->dec)
        c->adapter->stream_free(c->dec);
    c->dec = NULL;
    memset(&c->tokens, 0, sizeof c->tokens);
    c->sent_events = 0;
}

/* No target could take the request (breakers open, cooling, limits). */
static void no_target(lx_call_t *c, lx_route_why_t why)
{
    lx_route_excl_t excl;
    memset(&excl, 0, sizeof excl);
    excl.n[why] = 1;
    lx_outcome_t o;
    lx_call_no_target(&o, &excl, 1, c->targets, c->ntargets);
    o.detail = lx_route_why_info(why)->name;
    lx_call_end(c, &o);
}

/* Starts the next attempt from c->ti on. False if it replied instead (the
 * call is then finalized). */
static bool start_attempt(lx_call_t *c)
{
    int64_t now = lx_wall_ms();
    lx_route_why_t last = LX_WHY_BREAKER_OPEN;
    for (; c->ti < c->ntargets; c->ti++, c->same_retries = 0) {
        const lx_target_t *t = &c->targets[c->ti];
        int rpm = t->cred ? t->cred->rate_limit_per_minute : 0;
        int rpd = t->cred ? t->cred->rate_limit_per_day : 0;
        lx_route_why_t why = lx_attempt_begin(&c->att, t->state, t->dep, t->stats, rpm, rpd,
                                              &c->o.ai->routing->conf, now);
        if (why != LX_WHY_OK) {
            last = why;
            continue;
        }
        lx_up_build_t b;
        lx_up_build_init(&b);
        char err[300] = "";
        bool pass = false;
        c->t = t;
        c->adapter = lx_adapter_for(t->conf.kind);
        if (c->o.build(&c->o.in, t, &b, &pass, err, sizeof err) != LX_OK) {
            lx_up_build_free(&b);
            lx_attempt_end(&c->att, &c->o.ai->routing->conf, NULL, -1, NULL, now);
            lx_outcome_t o;
            lx_outcome_fail(&o, LX_SIDE_CLIENT, 0, LX_E_BAD_REQUEST, "model", "%s",
                            err[0] ? err : "this request cannot go to that provider");
            o.detail = "request cannot be translated";
            lx_call_end(c, &o);
            return false;
        }
        reset_answer(c);
        c->passthrough = pass;
        c->up_estimate = LX_MAX((int64_t)(b.body.n / 4), 1);
        if (c->o.stream && !pass)
            c->dec = c->adapter->stream_new(t->upstream_model, c->id,
                                            c->o.client == LX_FMT_OPENAI && c->o.client_usage,
                                            lx_call_emit_chunk, c);
        lx_up_build_header_kv(&b, "X-Request-Id", lx_req_id(c->o.req).p);
        lx_call_trace_attempt(c, &b);
        lx_timeouts_t to = t->conf.timeouts;
        int64_t left = lx_deadline_left_ms(now, c->deadline_ms);
        if (left < to.total_ms)
            to.total_ms = (int)LX_MAX(left, 1);
        lx_up_request_t rq = {.method = "POST",
                              .url = b.url.p,
                              .headers = (const char *const *)b.headers,
                              .nheaders = b.nheaders,
                              .body = b.body.p ? b.body.p : "",
                              .body_len = b.body.n,
                              .timeouts = to,
                              .stream = c->o.stream,
                              .transport = &t->conf.transport};
        static const lx_up_handlers_t handlers = {up_headers, up_data, up_done};
        lx_call_log_start(c, lx_now_us());
        c->up = c->o.ai->up_ops->start(c->o.ai->up, &rq, &handlers, c);
        lx_up_build_free(&b);
        c->attempts++;
        if (c->up == NULL) {
            lx_attempt_end(&c->att, &c->o.ai->routing->conf, NULL, -1, NULL, now);
            lx_outcome_t o;
            lx_outcome_fail(&o, LX_SIDE_LLMUX, 0, LX_E_INTERNAL, NULL,
                            "could not start the upstream call");
            o.detail = "upstream call not started";
            lx_call_end(c, &o);
            return false;
        }
        return true;
    }
    no_target(c, last);
    return false;
}

/* ---- start ---- */

int lx_call_run(const lx_call_opts_t *o, const lx_target_t *targets, int ntargets)
{
    /* A call keeps only the targets it has (each is about 0.5 KB). */
    lx_call_t *c = lx_call_alloc(o->ai, ntargets);
    c->o = *o;
    c->ntargets = ntargets;
    memcpy(c->targets, targets, (size_t)ntargets * sizeof *targets);
    c->state = CALL_UPSTREAM;
    lx_copy_cstr(c->key_id, sizeof c->key_id, o->key_id);
    c->o.key_id = c->key_id;
    lx_sse_init(&c->sse, lx_call_on_sse_event, c);
    c->sse.max_event = o->ai->cfg->max_event_bytes;
    lx_buf_init(&c->resp, 0);
    lx_buf_init(&c->out, 0);
    lx_str_t rid = lx_req_id(o->req);
    size_t pre =
        lx_copy_cstr(c->id, sizeof c->id, o->client == LX_FMT_ANTHROPIC ? "msg_" : "chatcmpl-");
    lx_copy(c->id + pre, sizeof c->id - pre, rid.p, LX_MIN(rid.n, 40));
    c->ttfb_us = -1;
    c->ttfc_us = -1;
    c->created_ms = lx_wall_ms();
    lx_rng_seed(&c->rng, (uint64_t)lx_now_us() ^ lx_hash(rid.p, rid.n));
    c->deadline_ms = lx_wall_ms() + (ntargets ? targets[0].conf.timeouts.total_ms : 0);
    evtimer_assign(&c->retry_ev, lx_req_base(o->req), retry_cb, c);
    lx_retry_budget_deposit(&c->o.ai->routing->budget);
    if (o->stream)
        atomic_fetch_add_explicit(&o->ai->streams_active, 1, memory_order_relaxed);
    c->overhead_us = lx_now_us() - o->t_handler_start;
    lx_call_trace_start(c);
    if (!start_attempt(c))
        return LX_OK;
    lx_req_on_abort(o->req, lx_call_on_client_abort, c);
    return LX_AGAIN;
}
