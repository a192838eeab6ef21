/* exec.c - the media executors (exec.h): each call into an executor is one
 * provider request (an op_t), built by the task's adapter, sent through the
 * worker's upstream client, read back by the adapter and reported on the
 * job. The op is the job's data slot until it reports; abandon cancels its
 * transfer and frees it. Everything runs on the runner's loop.
 *
 * The rule against submitting twice (adapter.h): a submit that may have
 * reached the provider without an answer is retried only when the adapter
 * honours the idempotency key; otherwise the task is uncertain. Reconcile
 * resubmits with the same key for such an adapter, else it is uncertain.
 *
 * Images (OpenAI's API is synchronous): the submit's answer is the result.
 * It is kept in this thread's table under the task's id until the first
 * poll (on the same runner) reports it; a task taken over by another
 * process finds nothing there and fails with `result_lost`. */
#include "media/exec.h"
#include "media/generic.h"
#include "media/input.h"
#include "obs/trace_export.h"
#include "core/crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ANSWER (1u << 20) /* a job API's answer; images may carry base64 */

static lx_media_resolve_fn resolver;

typedef enum { K_SUBMIT, K_POLL, K_CANCEL, K_RECONCILE } kind_t;

typedef struct {
    lx_task_job_t *job;
    lx_up_call_t *call;
    kind_t kind;
    lx_job_op_t op;
    lx_media_kind_t media;
    lx_media_target_t target;
    lx_buf_t body;
    bool too_big;
    int progress; /* as last stored */
    char task_id[LX_TASK_ID_MAX];
    char idem[64];
    lx_span_t *span; /* this provider call's span (NULL: not traced) */
} op_t;

/* ---- images' results, per thread ---- */
typedef struct stash {
    struct stash *next;
    char task_id[LX_TASK_ID_MAX];
    json_t *output;
} stash_t;
static _Thread_local stash_t *stashed;

static void stash_put(const char *task_id, json_t *output)
{
    stash_t *s = calloc(1, sizeof *s);
    if (s == NULL) {
        json_decref(output);
        return;
    }
    snprintf(s->task_id, sizeof s->task_id, "%s", task_id);
    s->output = output;
    s->next = stashed;
    stashed = s;
}

static json_t *stash_take(const char *task_id)
{
    for (stash_t **p = &stashed; *p; p = &(*p)->next) {
        if (strcmp((*p)->task_id, task_id) == 0) {
            stash_t *s = *p;
            json_t *o = s->output;
            *p = s->next;
            free(s);
            return o;
        }
    }
    return NULL;
}

void lx_media_target_free(lx_media_target_t *t)
{
    if (t->key) {
        explicit_bzero(t->key, strlen(t->key));
        free(t->key);
    }
    free(t->base_url);
    free(t->upstream_model);
    free(t->public_model);
    lx_transport_free(&t->transport);
    if (t->owned_adapter)
        lx_media_generic_free(t->owned_adapter);
    memset(t, 0, sizeof *t);
}

/* ---- spans (obs/trace.h) ---- */

/* A client span for the task's provider call ("video.generate poll"),
 * every call of one task in one trace (its id derived from the task's
 * public id); tp gets the traceparent to send ("" with tracing off). */
static lx_span_t *op_span(op_t *o, const lx_task_view_t *t, char tp[LX_TRACEPARENT_LEN + 1])
{
    static const char *const names[] = {[K_SUBMIT] = "submit",
                                        [K_POLL] = "poll",
                                        [K_CANCEL] = "cancel",
                                        [K_RECONCILE] = "reconcile"};
    unsigned char h[32];
    lx_sha256(t->public_id, strlen(t->public_id), h);
    char name[96];
    snprintf(name, sizeof name, "%s %s", t->type ? t->type : "task", names[o->kind]);
    lx_span_t *s = lx_tracer_root_span(lx_tracer_current(), name, LX_SPAN_CLIENT, h, tp);
    if (s) {
        lx_span_cstr(s, "llmux.task.id", t->public_id);
        lx_span_cstr(s, "llmux.task.operation", names[o->kind]);
        lx_span_cstr(s, "llmux.provider", o->target.provider);
        lx_span_cstr(s, "gen_ai.request.model", o->target.upstream_model);
    }
    return s;
}

/* Ends the call's span (res NULL: the call was abandoned) and hands it over. */
static void op_span_end(op_t *o, const lx_up_result_t *res, const lx_job_result_t *r)
{
    lx_span_t *s = o->span;
    lx_tracer_t *tracer = lx_tracer_current();
    if (s == NULL || tracer == NULL)
        return;
    o->span = NULL;
    s->end_ns = lx_trace_now_ns();
    const char *err = res == NULL                    ? "abandoned"
                      : res->outcome != LX_UP_OK     ? lx_up_outcome_name(res->outcome)
                      : r && r->error_code[0]        ? r->error_code
                      : r && r->state == LX_JOB_NONE ? "no_state"
                                                     : NULL;
    if (res && res->status)
        lx_span_int(s, "http.response.status_code", res->status);
    if (r && r->state != LX_JOB_NONE) {
        lx_span_cstr(s, "llmux.task.state", lx_job_state_name(r->state));
        lx_span_int(s, "llmux.task.progress", r->progress);
    }
    if (err) {
        lx_span_cstr(s, "error.type", err);
        s->status = LX_SPAN_ERROR;
    }
    lx_tracer_submit(tracer, s);
}

static void op_free(op_t *o)
{
    op_span_end(o, NULL, NULL); /* still open: the call was given up */
    lx_media_target_free(&o->target);
    lx_buf_free(&o->body);
    free(o);
}

/* Takes the job from o (reports go through the returned pointer). */
static lx_task_job_t *take_job(op_t *o)
{
    lx_task_job_t *job = o->job;
    *lx_task_job_data(job) = NULL;
    o->job = NULL;
    return job;
}

static void on_headers(lx_up_call_t *call, int status, void *arg) {}

static int on_data(lx_up_call_t *call, const char *p, size_t n, void *arg)
{
    op_t *o = arg;
    if (o->body.n + n > MAX_ANSWER) {
        o->too_big = true;
        return LX_ERROR;
    }
    lx_buf_append(&o->body, p, n);
    return LX_OK;
}

static int hint_ms(const lx_job_result_t *r)
{
    return r->retry_after_ms > 0 && r->retry_after_ms < 3600 * 1000 ? (int)r->retry_after_ms : 0;
}

static const char *code_or(const lx_job_result_t *r, const char *dflt)
{
    return r->error_code[0] ? r->error_code : dflt;
}

static void report_submit(op_t *o, lx_task_job_t *job, const lx_job_result_t *r, bool sent)
{
    if (r->state == LX_JOB_NONE) {
        if (r->permanent)
            lx_task_report_failed(job, code_or(r, "provider_refused"),
                                  r->error_message ? r->error_message : "the provider refused it");
        else if (!sent || o->target.adapter->idempotent_submit)
            lx_task_report_retry(
                job, code_or(r, "provider_unreachable"),
                r->error_message ? r->error_message : "no answer from the provider", hint_ms(r));
        else
            lx_task_report_uncertain(job, "the provider did not answer the submission, and it "
                                          "takes no idempotency key");
        return;
    }
    if (r->state == LX_JOB_FAILED || r->state == LX_JOB_CANCELLED) {
        lx_task_report_failed(job, code_or(r, "generation_failed"),
                              r->error_message ? r->error_message : "the provider refused it");
        return;
    }
    if (r->job_id) {
        lx_task_report_submitted(job, r->job_id);
        return;
    }
    if (r->state == LX_JOB_SUCCEEDED && r->output) { /* synchronous (images) */
        char id[96];
        snprintf(id, sizeof id, "sync-%s", o->idem);
        stash_put(o->task_id, json_incref(r->output));
        lx_task_report_submitted(job, id);
        return;
    }
    lx_task_report_failed(job, "bad_answer", "the provider's answer carried no job id");
}

static void report_poll(op_t *o, lx_task_job_t *job, const lx_job_result_t *r)
{
    switch (r->state) {
    case LX_JOB_NONE:
        if (r->permanent)
            lx_task_report_failed(job, code_or(r, "provider_refused"),
                                  r->error_message ? r->error_message : "the provider refused it");
        else
            lx_task_report_retry(
                job, code_or(r, "provider_unreachable"),
                r->error_message ? r->error_message : "no answer from the provider", hint_ms(r));
        break;
    case LX_JOB_QUEUED:
    case LX_JOB_RUNNING:
        lx_task_report_progress(job, r->progress >= 0 ? r->progress : o->progress, hint_ms(r));
        break;
    case LX_JOB_SUCCEEDED:
        lx_task_report_succeeded(job, r->output ? json_incref(r->output) : json_object());
        break;
    case LX_JOB_FAILED:
        lx_task_report_failed(job, code_or(r, "generation_failed"),
                              r->error_message ? r->error_message : "the provider failed the job");
        break;
    default:
        lx_task_report_failed(job, "cancelled_by_provider", "the provider cancelled the job");
    }
}

static void on_done(lx_up_call_t *call, const lx_up_result_t *res, void *arg)
{
    op_t *o = arg;
    lx_task_job_t *job = take_job(o);
    lx_job_answer_t ans = {
        .status = res->outcome == LX_UP_OK && !o->too_big ? res->status : 0,
        .body = o->body.p,
        .body_len = o->body.n,
        .retry_after = lx_up_call_header(call, "retry-after"),
    };
    lx_job_result_t r;
    lx_job_result_init(&r);
    o->target.adapter->parse(o->target.adapter, o->op, &ans, &r);
    if (o->too_big)
        lx_job_result_fail(&r, LX_JOB_NONE, "bad_answer", "the provider's answer is too large",
                           false);
    op_span_end(o, res, &r);
    switch (o->kind) {
    case K_SUBMIT:
    case K_RECONCILE:
        report_submit(o, job, &r, res->request_sent || res->status != 0);
        break;
    case K_POLL:
        report_poll(o, job, &r);
        break;
    case K_CANCEL:
        lx_task_report_progress(job, o->progress, 0); /* anything: it ended */
        break;
    }
    lx_job_result_free(&r);
    op_free(o);
}

/* A job that cannot even start: what it reports. */
static void fail_early(kind_t kind, lx_task_job_t *job, const char *code, const char *msg,
                       int progress)
{
    switch (kind) {
    case K_SUBMIT:
        lx_task_report_failed(job, code, msg);
        break;
    case K_POLL:
        lx_task_report_retry(job, code, msg, 0);
        break;
    case K_CANCEL:
        lx_task_report_progress(job, progress, 0);
        break;
    case K_RECONCILE:
        lx_task_report_uncertain(job, msg);
        break;
    }
}

static void start(const lx_task_view_t *t, lx_task_job_t *job, kind_t kind, lx_media_kind_t media)
{
    char err[256] = "";
    const char *model = json_string_value(json_object_get(t->input, "model"));
    op_t *o = calloc(1, sizeof *o);
    if (o == NULL) {
        fail_early(kind, job, "internal", "out of memory", t->progress);
        return;
    }
    o->kind = kind;
    o->media = media;
    o->progress = t->progress;
    snprintf(o->task_id, sizeof o->task_id, "%s", t->public_id);
    snprintf(o->idem, sizeof o->idem, "%s", t->idempotency_key ? t->idempotency_key : "");
    lx_buf_init(&o->body, 0);
    if (model == NULL || resolver == NULL ||
        resolver(model, media, t->credential_id, &o->target, err, sizeof err) != LX_OK) {
        fail_early(kind, job, kind == K_SUBMIT ? "model_not_found" : "provider_unavailable",
                   err[0] ? err : "no provider serves this model", t->progress);
        op_free(o);
        return;
    }
    const lx_media_adapter_t *a = o->target.adapter;
    o->op = kind == K_POLL     ? LX_JOB_OP_POLL
            : kind == K_CANCEL ? LX_JOB_OP_CANCEL
                               : LX_JOB_OP_SUBMIT;
    if (kind == K_RECONCILE && !a->idempotent_submit) {
        lx_task_report_uncertain(job, "the submission may have reached the provider, which takes "
                                      "no idempotency key: not resubmitted");
        op_free(o);
        return;
    }
    if (kind == K_POLL && t->external_id && strncmp(t->external_id, "sync-", 5) == 0) {
        json_t *out = stash_take(t->public_id);
        if (out)
            lx_task_report_succeeded(job, out);
        else
            lx_task_report_failed(job, "result_lost",
                                  "the result was held by a process that stopped");
        op_free(o);
        return;
    }
    if (!lx_media_adapter_can(a, o->op)) {
        fail_early(kind, job, "not_supported", "the provider has no such call", t->progress);
        op_free(o);
        return;
    }
    json_t *input = json_deep_copy(t->input);
    json_object_set_new(input, "model", json_string(o->target.upstream_model));
    lx_job_ctx_t ctx = {
        .base_url = o->target.base_url,
        .key = o->target.key,
        .idempotency_key = t->idempotency_key,
        .input = input,
        .job_id = t->external_id,
    };
    lx_job_req_t rq;
    int rc = a->build(a, o->op, &ctx, &rq, err, sizeof err);
    json_decref(input);
    if (rc != LX_OK) {
        fail_early(kind == K_RECONCILE ? K_RECONCILE : kind, job, "bad_input", err, t->progress);
        op_free(o);
        return;
    }
    char *lines[LX_JOB_MAX_HEADERS + 2];
    int nl = 0;
    for (int i = 0; i < rq.n_headers; i++) {
        size_t n = strlen(rq.headers[i].name) + strlen(rq.headers[i].value) + 3;
        lines[nl] = malloc(n);
        if (lines[nl])
            snprintf(lines[nl++], n, "%s: %s", rq.headers[i].name, rq.headers[i].value);
    }
    char ct[128];
    if (rq.content_type && nl < LX_JOB_MAX_HEADERS + 1) {
        snprintf(ct, sizeof ct, "Content-Type: %s", rq.content_type);
        lines[nl++] = strdup(ct);
    }
    char tp[LX_TRACEPARENT_LEN + 1];
    o->span = op_span(o, t, tp);
    if (tp[0]) {
        size_t n = sizeof "traceparent: " + LX_TRACEPARENT_LEN;
        lines[nl] = malloc(n);
        if (lines[nl])
            snprintf(lines[nl++], n, "traceparent: %s", tp);
    }
    lx_timeouts_t to = o->target.timeouts;
    if (to.total_ms <= 0)
        to = (lx_timeouts_t){
            .connect_ms = 5000, .first_byte_ms = 60000, .idle_ms = 30000, .total_ms = 120000};
    lx_up_request_t ur = {
        .method = rq.method,
        .url = rq.url,
        .headers = (const char *const *)lines,
        .nheaders = nl,
        .body = rq.body,
        .body_len = rq.body_len,
        .timeouts = to,
        .transport = &o->target.transport,
    };
    static const lx_up_handlers_t handlers = {on_headers, on_data, on_done};
    o->job = job;
    *lx_task_job_data(job) = o;
    o->call = lx_up_call_start(t->ctx, &ur, &handlers, o);
    for (int i = 0; i < nl; i++) {
        if (lines[i]) {
            explicit_bzero(lines[i], strlen(lines[i]));
            free(lines[i]);
        }
    }
    lx_job_req_free(&rq);
    if (o->call == NULL) {
        take_job(o);
        fail_early(kind == K_SUBMIT ? K_POLL : kind, job, "provider_unreachable",
                   "could not start the call", t->progress);
        op_free(o);
    }
}

static void abandon(lx_task_job_t *job, void *arg)
{
    op_t *o = *lx_task_job_data(job);
    if (o == NULL)
        return;
    *lx_task_job_data(job) = NULL;
    if (o->call)
        lx_up_call_cancel(o->call);
    op_free(o);
}

#define EXEC_FNS(name, media)                                                                      \
    static void name##_submit(const lx_task_view_t *t, lx_task_job_t *job, void *arg)              \
    {                                                                                              \
        start(t, job, K_SUBMIT, media);                                                            \
    }                                                                                              \
    static void name##_poll(const lx_task_view_t *t, lx_task_job_t *job, void *arg)                \
    {                                                                                              \
        start(t, job, K_POLL, media);                                                              \
    }                                                                                              \
    static void name##_cancel(const lx_task_view_t *t, lx_task_job_t *job, void *arg)              \
    {                                                                                              \
        start(t, job, K_CANCEL, media);                                                            \
    }                                                                                              \
    static void name##_reconcile(const lx_task_view_t *t, lx_task_job_t *job, void *arg)           \
    {                                                                                              \
        start(t, job, K_RECONCILE, media);                                                         \
    }

EXEC_FNS(video, LX_MEDIA_VIDEO)
EXEC_FNS(image, LX_MEDIA_IMAGE)

/* The generic route (POST /api/v1/tasks): the same checks as the media
 * routes, and the pool key of the model's credential. */
static int prepare(lx_media_kind_t media, const json_t *input, char *provider, char *cred,
                   char *msg)
{
    lx_media_problem_t p;
    json_t *in =
        media == LX_MEDIA_VIDEO ? lx_media_video_input(input, &p) : lx_media_image_input(input, &p);
    if (in == NULL) {
        snprintf(msg, 256, "%s", p.message);
        return LX_ERROR;
    }
    lx_media_target_t t = {0};
    char err[256] = "";
    int rc = resolver ? resolver(json_string_value(json_object_get(in, "model")), media, NULL, &t,
                                 err, sizeof err)
                      : LX_ERROR;
    json_decref(in);
    if (rc != LX_OK) {
        snprintf(msg, 256, "%s", err[0] ? err : "no provider serves this model");
        return LX_ERROR;
    }
    snprintf(provider, 128, "%s", t.provider);
    snprintf(cred, 128, "%s", t.credential_id);
    lx_media_target_free(&t);
    return LX_OK;
}

static int video_prepare(const json_t *input, char *provider, char *cred, char *msg)
{
    return prepare(LX_MEDIA_VIDEO, input, provider, cred, msg);
}

static int image_prepare(const json_t *input, char *provider, char *cred, char *msg)
{
    return prepare(LX_MEDIA_IMAGE, input, provider, cred, msg);
}

static const lx_task_executor_t video_exec = {
    .type = "video.generate",
    .submit = video_submit,
    .poll = video_poll,
    .cancel = video_cancel,
    .reconcile = video_reconcile,
    .abandon = abandon,
    .prepare = video_prepare,
};

static const lx_task_executor_t image_exec = {
    .type = "image.generate",
    .submit = image_submit,
    .poll = image_poll,
    .cancel = image_cancel,
    .reconcile = image_reconcile,
    .abandon = abandon,
    .prepare = image_prepare,
};

int lx_media_exec_register(lx_media_resolve_fn resolve)
{
    resolver = resolve;
    if (lx_task_register(&video_exec) != LX_OK || lx_task_register(&image_exec) != LX_OK)
        return LX_ERROR;
    return LX_OK;
}

lx_media_resolve_fn lx_media_resolver(void)
{
    return resolver;
}
