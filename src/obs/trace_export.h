/* trace_export.h - a worker's span exporter: a bounded queue of finished
 * spans, sent as OTLP/HTTP JSON (otlp.h) through the worker's upstream
 * client (curl multi on its loop), never on a request's path.
 *
 * Batches go out every second, or as soon as 512 spans wait; one export is
 * in flight at a time; a failed one (no answer, 429, 502, 503, 504) is tried
 * again up to 3 times with a backoff, then dropped and counted. A full queue
 * (2,048 spans) drops the new span and counts it: a request never waits.
 *
 * Ownership: a tracer belongs to its worker's loop thread and borrows the
 * event base, the upstream client and the settings (all outlive it). Free
 * it before the upstream client. Spans handed to lx_tracer_submit are the
 * tracer's. The counters are process-wide relaxed atomics, read by
 * lx_trace_metrics on any thread. */
#ifndef LX_OBS_TRACE_EXPORT_H
#define LX_OBS_TRACE_EXPORT_H

#include "core/buf.h"
#include "obs/trace.h"
#include "obs/trace_conf.h"
#include "upstream/upstream.h"

struct event_base;
typedef struct lx_tracer lx_tracer_t;

#define LX_TRACE_QUEUE_MAX 2048
#define LX_TRACE_BATCH_MAX 512

/* NULL when conf is not enabled (tracing off: callers test for NULL). */
lx_tracer_t *lx_tracer_new(struct event_base *base, lx_upstream_t *up, const lx_trace_conf_t *conf);
/* Cancels an export in flight; what is still queued is dropped (counted). */
void lx_tracer_free(lx_tracer_t *t);
const lx_trace_conf_t *lx_tracer_conf(const lx_tracer_t *t);
/* Takes s (ended): queued, or dropped and counted when the queue is full. */
void lx_tracer_submit(lx_tracer_t *t, lx_span_t *s);
/* Shutdown: sends what is queued now, batch after batch; lx_tracer_idle
 * turns true at the latest 3 s later (the rest is then dropped, counted). */
void lx_tracer_flush(lx_tracer_t *t);
/* True when nothing is queued or being sent, or the shutdown's wait is
 * over (NULL: true). */
bool lx_tracer_idle(const lx_tracer_t *t);

/* The calling thread's tracer (a worker sets its own at start-up), for
 * code that has no other way to it (media task calls); NULL: none. */
void lx_tracer_set_current(lx_tracer_t *t);
lx_tracer_t *lx_tracer_current(void);

/* A root span of trace_id, decided by the root sampler: the span (the
 * caller's until submitted) or NULL when not sampled (or t is NULL). Either
 * way, with t set, tp gets the traceparent to send on (this span's id, or a
 * fresh one with the sampled flag off); tp[0] is '\0' when t is NULL. */
lx_span_t *lx_tracer_root_span(lx_tracer_t *t, const char *name, lx_span_kind_t kind,
                               const uint8_t trace_id[16], char tp[LX_TRACEPARENT_LEN + 1]);

/* The exporter's counters in the Prometheus text format (for /metrics):
 * llmux_trace_spans_exported_total, llmux_trace_spans_dropped_total,
 * llmux_trace_spans_failed_total, llmux_trace_exports_failed_total. */
void lx_trace_metrics(lx_buf_t *b);

#endif
