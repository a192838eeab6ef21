/* call_end.c - how an AI call ends: the outcome of its last attempt, and
 * the one finalizer, the only place that cancels the upstream transfer,
 * renders the outcome in the client's wire, emits the usage record and
 * frees the call (nginx's finalize_request). */
#include "ai/call_int.h"

#include <stdio.h>
#include <stdlib.h>

/* Calls with up to CACHED_TARGETS targets (nearly all) come from the
 * worker's cache of blocks of this size; larger ones from malloc. */
#define CACHED_TARGETS 2
#define CALL_SIZE(n)   (offsetof(lx_call_t, targets) + (size_t)(n) * sizeof(lx_target_t))

lx_call_t *lx_call_alloc(lx_ai_t *ai, int ntargets)
{
    if (ntargets > CACHED_TARGETS)
        return lx_calloc(1, CALL_SIZE(ntargets));
    lx_call_t *c = ai->ncall_cache > 0 ? ai->call_cache[--ai->ncall_cache]
                                       : lx_alloc(CALL_SIZE(CACHED_TARGETS));
    memset(c, 0, offsetof(lx_call_t, o)); /* lx_call_run sets o and the targets */
    return c;
}

static void call_release(lx_call_t *c)
{
    lx_ai_t *ai = c->o.ai;
    int max = (int)(sizeof ai->call_cache / sizeof ai->call_cache[0]);
    if (c->ntargets <= CACHED_TARGETS && ai->ncall_cache < max)
        ai->call_cache[ai->ncall_cache++] = c;
    else
        free(c);
}

void lx_ai_fini(lx_ai_t *ai)
{
    while (ai->ncall_cache > 0)
        free(ai->call_cache[--ai->ncall_cache]);
}

/* ---- the one finalizer ---- */

/* A stream that did not end normally (the client left, the upstream broke)
 * is billed for what reached the client: at least one output token per
 * content event forwarded (the upstream's usage, sent at the end, never
 * came or came short), and the prompt estimate when the upstream gave no
 * input count. The record's status (499, 502) and error already say the
 * stream did not end normally (ai_usage has no estimate flag). */
static void bill_delivered(lx_call_t *c, const lx_outcome_t *o)
{
    if (c->state != CALL_STREAMING || o->err == LX_E_NONE || c->tokens.out >= c->sent_events)
        return;
    c->tokens.out = c->sent_events;
    if (c->tokens.in <= 0)
        c->tokens.in = c->shown_input > 0 ? c->shown_input : c->o.input_tokens_estimate;
}

/* Renders the outcome in the client's wire: nothing once the client left;
 * in a started stream an error event (unless the upstream's own error or
 * end already went out) and the stream's end; before it, the error reply
 * (with the route headers when an upstream answered or failed). A success
 * before the stream is the answer finish_whole already sent. */
static void render(lx_call_t *c, const lx_outcome_t *o)
{
    if (o->err == LX_E_CLIENT_GONE)
        return;
    if (c->state == CALL_STREAMING) {
        if (o->err != LX_E_NONE && !c->done && !c->failed_midstream)
            lx_call_stream_error(c, o->message);
        lx_req_stream_end(c->o.req);
    } else if (o->err != LX_E_NONE) {
        if (o->side == LX_SIDE_UPSTREAM)
            lx_call_route_headers(c);
        lx_outcome_reply(c->o.req, o);
    }
}

double lx_call_cost(const lx_call_t *c)
{
    if (c->t == NULL || c->t->model == NULL)
        return 0;
    const lx_model_t *m = c->t->model;
    int64_t fresh = LX_MAX(c->tokens.in - c->tokens.cached, 0);
    return ((double)fresh * m->input_per_1m + (double)c->tokens.cached * m->cached_per_1m +
            (double)c->tokens.out * m->output_per_1m) /
           1e6;
}

void lx_call_settle_spend(lx_call_t *c)
{
    if (c->spend_settled)
        return;
    c->spend_settled = true;
    lx_tokens_sane(&c->tokens); /* whatever the upstream claimed: bounded */
    lx_spend_add(&c->o.spend, lx_call_cost(c));
}

void lx_call_settle_allow(lx_call_t *c)
{
    if (c->allow_settled)
        return;
    c->allow_settled = true;
    lx_tokens_t t = c->tokens;
    lx_tokens_sane(&t);
    lx_allow_settle(&c->o.allow, &c->o.allow_ticket, t.in + t.out);
}

/* Labels are the catalog's names (a model outside it: "other"). */
void lx_call_count_metrics(lx_call_t *c, int status, const char *reason)
{
    if (c->metrics_counted || c->o.ai->metrics == NULL)
        return;
    c->metrics_counted = true;
    lx_tokens_sane(&c->tokens); /* whatever the upstream claimed: bounded */
    const lx_principal_t *team =
        c->o.team_id ? lx_snapshot_team_by_id(c->o.snap, c->o.team_id) : NULL;
    lx_metrics_req_t r = {
        .endpoint = c->o.feature,
        .provider = c->t ? c->t->conf.name : NULL,
        .model = c->t && c->t->model ? c->t->model->public_name : NULL,
        .status = status,
        .reason = reason,
        .team = team ? team->name : NULL,
        .key = c->key_id,
        .total_us = lx_now_us() - lx_req_start_us(c->o.req),
        .upstream_us = c->attempts > 0 && status != 499 ? c->upstream_us : -1,
        .tokens_in = c->tokens.in,
        .tokens_out = c->tokens.out,
        .cost_usd = c->t ? lx_call_cost(c) : 0,
    };
    lx_metrics_request(c->o.ai->metrics, &r);
}

/* The one end of a call: renders the outcome, records the usage row from
 * it (its status is what the client saw: 200 once a stream started) and
 * frees everything. The allowances are settled before the client sees the
 * end, so that its next request finds its place in flight free. */
void lx_call_end(lx_call_t *c, const lx_outcome_t *o)
{
    bill_delivered(c, o);    /* ai_usage has no estimate flag: the status says it */
    lx_call_settle_spend(c); /* before a stream's end goes out (budgets) */
    lx_call_settle_allow(c); /* places in flight free before the end goes out */
    lx_call_count_metrics(c, o->status, o->err == LX_E_NONE ? "ok" : lx_outcome_code(o));
    render(c, o);
    if (c->up) {
        c->o.ai->up_ops->cancel(c->up);
        c->up = NULL;
    }
    if (c->retry_armed)
        event_del(&c->retry_ev);
    if (c->att.active) /* the client left, or an error that says nothing of the target */
        lx_attempt_end(&c->att, &c->o.ai->routing->conf, NULL, -1, NULL, lx_wall_ms());
    lx_req_on_abort(c->o.req, NULL, NULL);
    lx_call_trace_end(c, o);
    /* Built here rather than held by the call: an open stream does not
     * carry a 900-byte record it fills only at its end. */
    lx_usage_t rec = {0}, *u = &rec;
    lx_str_t rid = lx_req_id(c->o.req);
    lx_copy(u->request_id, sizeof u->request_id, rid.p, rid.n);
    lx_copy_cstr(u->key_id, sizeof u->key_id, c->key_id);
    u->api_key_id = c->o.api_key_id;
    u->user_id = c->o.user_id;
    u->team_id = c->o.team_id;
    u->feature = c->o.feature;
    lx_copy_cstr(u->requested_model, sizeof u->requested_model, c->o.requested_model);
    u->ttfb_us = c->ttfb_us;
    u->created_ms = c->created_ms;
    u->status = o->status;
    lx_tokens_sane(&c->tokens);
    u->tokens_in = c->tokens.in;
    u->tokens_out = c->tokens.out;
    u->tokens_cached = c->tokens.cached;
    if (c->t) {
        const lx_target_t *t = c->t;
        lx_copy_cstr(u->provider, sizeof u->provider, t->conf.name);
        lx_copy_cstr(u->model, sizeof u->model, t->upstream_model);
        u->connection_id = t->cred ? t->cred->id : 0;
        u->cost_usd = lx_call_cost(c);
    }
    if (o->err != LX_E_NONE) {
        lx_copy_cstr(u->error, sizeof u->error, o->detail ? o->detail : o->message);
        lx_copy_cstr(u->error_code, sizeof u->error_code, lx_outcome_code(o));
    }
    int64_t now_us = lx_now_us();
    u->total_us = now_us - lx_req_start_us(c->o.req);
    u->overhead_us = c->overhead_us;
    /* a whole answer or an error reply went out just now, in render() */
    u->ttfc_us = c->ttfc_us >= 0 ? c->ttfc_us : o->err == LX_E_CLIENT_GONE ? -1 : u->total_us;
    lx_call_log_render(c, now_us, u->attempts, sizeof u->attempts);
    c->o.ai->usage->push(c->o.ai->usage, u);
    if (c->o.stream)
        atomic_fetch_sub_explicit(&c->o.ai->streams_active, 1, memory_order_relaxed);
    if (c->dec)
        c->adapter->stream_free(c->dec);
    if (c->enc)
        lx_msg_enc_free(c->enc);
    lx_sse_free(&c->sse);
    lx_buf_free(&c->resp);
    lx_buf_free(&c->out);
    json_decref(c->o.in.root);
    json_decref(c->o.in.canon);
    lx_registry_release(c->o.snap); /* last: the targets point into it */
    call_release(c);
}

void lx_call_on_client_abort(lx_req_t *req, void *arg)
{
    lx_call_t *c = arg;
    if (c->up)
        c->ttfb_us = c->o.ai->up_ops->first_byte_us(c->up);
    lx_outcome_t o;
    lx_outcome_fail(&o, LX_SIDE_CLIENT, 499, LX_E_CLIENT_GONE, NULL,
                    "client closed the connection");
    lx_call_end(c, &o);
}

/* Retry-After is passed on only as delta-seconds or an HTTP date. */
static void pass_retry_after(lx_call_t *c, lx_outcome_t *o)
{
    const char *ra = c->up ? c->o.ai->up_ops->header(c->up, "Retry-After") : NULL;
    int64_t delay;
    if (ra && strlen(ra) < sizeof o->retry_after &&
        lx_retry_after_parse(lx_str(ra), lx_wall_ms(), &delay) == LX_OK)
        lx_copy_cstr(o->retry_after, sizeof o->retry_after, ra);
}

/* Upstream answered with an error status: its message, in the client's
 * shape, with its status (and its Retry-After). */
static void upstream_status_error(lx_call_t *c, lx_outcome_t *o)
{
    char m[400] = "";
    if (c->adapter->error_message)
        c->adapter->error_message(c->resp.p ? c->resp.p : "", c->resp.n, m, sizeof m);
    lx_outcome_fail(o, LX_SIDE_UPSTREAM, c->status, lx_err_from_status(c->status), NULL,
                    "upstream %s returned %d%s%s", c->t->conf.name, c->status, m[0] ? ": " : "", m);
    pass_retry_after(c, o);
    o->detail = "upstream error status";
}

void lx_call_bad_upstream(lx_outcome_t *o, const char *why, const char *detail)
{
    lx_outcome_fail(o, LX_SIDE_UPSTREAM, 502, LX_E_UPSTREAM, NULL, "%s", why);
    o->detail = detail;
}

void lx_call_attempt_outcome(lx_call_t *c, const lx_up_result_t *res, lx_outcome_t *o)
{
    bool streaming = c->state == CALL_STREAMING;
    lx_outcome_ok(o);
    if (res->outcome == LX_UP_ABORTED && c->too_big[0]) {
        lx_call_bad_upstream(o, c->too_big, "upstream answer over a size limit");
    } else if (res->outcome == LX_UP_REFUSED) {
        lx_outcome_fail(o, LX_SIDE_UPSTREAM, 502, LX_E_UPSTREAM, NULL,
                        "upstream address %s of provider %s refused by the network policy (%s)",
                        res->refused_addr, c->t->conf.name, res->refused_why);
        o->detail = lx_up_outcome_name(res->outcome);
    } else if (res->outcome == LX_UP_TLS_VERIFY) {
        lx_outcome_fail(o, LX_SIDE_UPSTREAM, 502, LX_E_UPSTREAM, NULL,
                        "TLS certificate verification failed for provider '%s'", c->t->conf.name);
        o->detail = lx_up_outcome_name(res->outcome);
    } else if (res->outcome != LX_UP_OK) {
        const char *name = lx_up_outcome_name(res->outcome);
        if (streaming) {
            lx_outcome_fail(o, LX_SIDE_UPSTREAM, 502, LX_E_UPSTREAM, NULL,
                            "upstream stream failed: %s", name);
        } else {
            bool timeout =
                res->outcome >= LX_UP_TIMEOUT_CONNECT && res->outcome <= LX_UP_TIMEOUT_TOTAL;
            lx_outcome_fail(o, LX_SIDE_UPSTREAM, 0, timeout ? LX_E_UPSTREAM_TIMEOUT : LX_E_UPSTREAM,
                            NULL, "upstream %s failed: %s", c->t->conf.name, name);
        }
        o->detail = name;
    } else if (!lx_call_status_is_answer(c->status)) {
        lx_outcome_fail(o, LX_SIDE_UPSTREAM, 502, LX_E_UPSTREAM, NULL,
                        "upstream %s answered with HTTP status %d, which is not an answer",
                        c->t->conf.name, c->status);
        o->detail = "unexpected upstream status";
    } else if (c->status != 200) {
        upstream_status_error(c, o);
    } else if (!c->o.stream) {
        lx_call_finish_whole(c, o);
    } else if (!streaming && !c->done) {
        lx_call_bad_upstream(o, "upstream ended the stream without data", "empty stream");
    } else if (c->failed_midstream) {
        lx_call_bad_upstream(o, c->fail_msg, c->fail_msg);
    } else if (!c->done) {
        lx_call_bad_upstream(o, "upstream stream ended early",
                             "stream ended before its end marker");
    }
    if (streaming)
        o->status = 200; /* what the client saw: the stream's head went out */
}
