/* trace_export.c - the worker's span exporter (trace_export.h). */
#include "obs/trace_export.h"

#include "core/clock.h"
#include "core/log.h"
#include "obs/otlp.h"

#include <event2/event.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define FLUSH_MS      1000
#define MAX_TRIES     4    /* the first try and 3 retries */
#define CLOSE_WAIT_MS 3000 /* the longest a shutdown waits for the last exports */

static _Atomic uint64_t n_exported, n_dropped, n_failed, n_exports_failed;

struct lx_tracer {
    struct event_base *base;
    lx_upstream_t *up;
    const lx_trace_conf_t *conf;
    lx_span_t *q[LX_TRACE_QUEUE_MAX];
    size_t nq;
    struct event *tick, *retry;
    lx_up_call_t *call;
    bool retry_armed, closing;
    int64_t close_deadline_ms; /* closing: idle from then on, sent or not */
    int status, tries;
    lx_buf_t body;     /* the batch being sent (kept for its retries) */
    size_t body_spans; /* how many spans it holds */
};

static void send_batch(lx_tracer_t *t);

/* The thread's tracer (lx_tracer_current). */
static _Thread_local lx_tracer_t *current;

static void count(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static bool busy(const lx_tracer_t *t)
{
    return t->call != NULL || t->retry_armed;
}

/* Encodes up to a batch from the queue's head and sends it. */
static void export_now(lx_tracer_t *t)
{
    if (busy(t) || t->nq == 0)
        return;
    size_t k = t->nq < LX_TRACE_BATCH_MAX ? t->nq : LX_TRACE_BATCH_MAX;
    lx_buf_reset(&t->body);
    lx_otlp_encode(&t->body, t->conf->service_name, t->q, k);
    for (size_t i = 0; i < k; i++)
        lx_span_free(t->q[i]);
    memmove(t->q, t->q + k, (t->nq - k) * sizeof t->q[0]);
    t->nq -= k;
    t->body_spans = k;
    t->tries = 0;
    send_batch(t);
}

static void batch_failed(lx_tracer_t *t, const char *why, int status)
{
    count(&n_failed, t->body_spans);
    count(&n_exports_failed, 1);
    lx_log_warn("trace export failed; spans dropped", "\"spans\":%zu,\"status\":%d,\"why\":\"%s\"",
                t->body_spans, status, why);
    t->body_spans = 0;
    lx_buf_reset(&t->body);
}

static void on_headers(lx_up_call_t *call, int status, void *arg)
{
    lx_tracer_t *t = arg;
    t->status = status;
}

static int on_data(lx_up_call_t *call, const char *p, size_t n, void *arg)
{
    return LX_OK; /* the receiver's answer (partial success) is not read */
}

static void on_done(lx_up_call_t *call, const lx_up_result_t *res, void *arg)
{
    lx_tracer_t *t = arg;
    t->call = NULL; /* the upstream module frees it after we return */
    int st = res->outcome == LX_UP_OK ? t->status : 0;
    if (st >= 200 && st < 300) {
        count(&n_exported, t->body_spans);
        t->body_spans = 0;
        lx_buf_reset(&t->body);
    } else {
        bool again = st == 0 || st == 429 || st == 502 || st == 503 || st == 504;
        if (again && ++t->tries < MAX_TRIES) {
            int ms = 100 << t->tries; /* 200, 400, 800 ms */
            struct timeval tv = {0, ms * 1000};
            evtimer_add(t->retry, &tv);
            t->retry_armed = true;
            return;
        }
        batch_failed(t, st ? "status" : lx_up_outcome_name(res->outcome), st);
    }
    if (t->nq >= LX_TRACE_BATCH_MAX || (t->closing && t->nq))
        export_now(t);
}

static void send_batch(lx_tracer_t *t)
{
    const char *hdrs[LX_OTLP_MAX_HEADERS + 1];
    int nh = 0;
    hdrs[nh++] = "Content-Type: application/json";
    for (int i = 0; i < t->conf->nheaders; i++)
        hdrs[nh++] = t->conf->headers[i];
    lx_up_request_t rq = {
        .method = "POST",
        .url = t->conf->url,
        .headers = hdrs,
        .nheaders = nh,
        .body = t->body.p ? t->body.p : "",
        .body_len = t->body.n,
        .timeouts = {.connect_ms = 2000, .first_byte_ms = 5000, .idle_ms = 5000, .total_ms = 10000},
    };
    static const lx_up_handlers_t h = {on_headers, on_data, on_done};
    t->status = 0;
    t->call = lx_up_call_start(t->up, &rq, &h, t);
    if (t->call == NULL)
        batch_failed(t, "not started", 0);
}

static void retry_cb(evutil_socket_t fd, short ev, void *arg)
{
    lx_tracer_t *t = arg;
    t->retry_armed = false;
    send_batch(t);
}

static void tick_cb(evutil_socket_t fd, short ev, void *arg)
{
    export_now(arg);
}

lx_tracer_t *lx_tracer_new(struct event_base *base, lx_upstream_t *up, const lx_trace_conf_t *conf)
{
    if (conf == NULL || !conf->enabled)
        return NULL;
    lx_tracer_t *t = lx_calloc(1, sizeof *t);
    t->base = base;
    t->up = up;
    t->conf = conf;
    lx_buf_init(&t->body, 0);
    t->retry = evtimer_new(base, retry_cb, t);
    t->tick = event_new(base, -1, EV_PERSIST, tick_cb, t);
    struct timeval tv = {FLUSH_MS / 1000, (FLUSH_MS % 1000) * 1000};
    event_add(t->tick, &tv);
    return t;
}

void lx_tracer_free(lx_tracer_t *t)
{
    if (t == NULL)
        return;
    if (current == t)
        current = NULL;
    if (t->call)
        lx_up_call_cancel(t->call);
    count(&n_dropped, t->nq + t->body_spans);
    for (size_t i = 0; i < t->nq; i++)
        lx_span_free(t->q[i]);
    event_free(t->retry);
    event_free(t->tick);
    lx_buf_free(&t->body);
    free(t);
}

const lx_trace_conf_t *lx_tracer_conf(const lx_tracer_t *t)
{
    return t->conf;
}

void lx_tracer_submit(lx_tracer_t *t, lx_span_t *s)
{
    if (t->nq == LX_TRACE_QUEUE_MAX) {
        count(&n_dropped, 1);
        lx_span_free(s);
        return;
    }
    t->q[t->nq++] = s;
    if (t->nq >= LX_TRACE_BATCH_MAX)
        export_now(t);
}

void lx_tracer_flush(lx_tracer_t *t)
{
    if (t == NULL)
        return;
    t->closing = true;
    t->close_deadline_ms = lx_wall_ms() + CLOSE_WAIT_MS;
    export_now(t);
}

bool lx_tracer_idle(const lx_tracer_t *t)
{
    return t == NULL || (t->nq == 0 && !busy(t)) ||
           (t->closing && lx_wall_ms() >= t->close_deadline_ms);
}

void lx_tracer_set_current(lx_tracer_t *t)
{
    current = t;
}

lx_tracer_t *lx_tracer_current(void)
{
    return current;
}

lx_span_t *lx_tracer_root_span(lx_tracer_t *t, const char *name, lx_span_kind_t kind,
                               const uint8_t trace_id[16], char tp[LX_TRACEPARENT_LEN + 1])
{
    tp[0] = '\0';
    if (t == NULL)
        return NULL;
    lx_trace_ctx_t hop;
    memcpy(hop.trace_id, trace_id, 16);
    bool sampled = lx_sampler_decide(&t->conf->sampler, NULL, trace_id);
    hop.flags = sampled ? LX_TRACE_FLAG_SAMPLED : 0;
    lx_span_t *s = sampled ? lx_span_new(name, kind, trace_id, NULL, lx_trace_now_ns()) : NULL;
    if (s)
        memcpy(hop.span_id, s->span_id, 8);
    else
        lx_trace_random_id(hop.span_id, 8);
    lx_traceparent_format(&hop, tp);
    return s;
}

void lx_trace_metrics(lx_buf_t *b)
{
    static const struct {
        const char *name, *help;
        _Atomic uint64_t *v;
    } m[] = {
        {"llmux_trace_spans_exported_total", "Spans the OTLP receiver accepted.", &n_exported},
        {"llmux_trace_spans_dropped_total",
         "Spans dropped without an export: the queue was full, or still queued at exit.",
         &n_dropped},
        {"llmux_trace_spans_failed_total", "Spans dropped after their export failed every try.",
         &n_failed},
        {"llmux_trace_exports_failed_total", "Span batches whose export failed every try.",
         &n_exports_failed},
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(m); i++)
        lx_buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", m[i].name, m[i].help,
                      m[i].name, m[i].name,
                      (unsigned long long)atomic_load_explicit(m[i].v, memory_order_relaxed));
}
