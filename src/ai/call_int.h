/* call_int.h - the inside of one AI call (call.h), private to the files
 * that make it up (nothing outside them includes it):
 *   call.c         the attempt loop: upstream callbacks, retries, fallbacks,
 *                  backpressure, lx_call_run;
 *   call_client.c  writing to the client: stream events in the client's wire
 *                  (pass-through with usage sniffing, or translated), whole
 *                  answers;
 *   call_end.c     how an attempt ended as an lx_outcome_t, and the one
 *                  finalizer (render, usage record, free).
 * The upstream is reached only through c->o.ai->up_ops (lx_up_ops_t), so
 * test/unit/ai/test_call.c can drive all three against a fake.
 * Everything runs on the request's loop thread. */
#ifndef LX_AI_CALL_INT_H
#define LX_AI_CALL_INT_H

#include "ai/call.h"
#include "ai/usage_text.h"
#include "ai/body.h"
#include "ai/messages_fmt.h"
#include "ai/sse.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/strmap.h"
#include "obs/metrics.h"
#include "ai/routing/attempt.h"
#include "ai/routing/chain.h"
#include "ai/routing/failure.h"
#include "ai/routing/limits.h"
#include "ai/routing/state.h"
#include "obs/trace_export.h"
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include <event2/event.h>
#include <event2/event_struct.h>

typedef enum {
    CALL_UPSTREAM,  /* nothing sent to the client yet */
    CALL_STREAMING, /* the first byte went to the client */
} call_state_t;

/* One upstream attempt as the request log shows it (call_log.c). */
#define LX_CALL_LOG_MAX 8
typedef enum { LX_ATT_THEN_END = 0, LX_ATT_THEN_RETRY, LX_ATT_THEN_FALLBACK } lx_att_then_t;
typedef struct {
    int16_t ti;       /* index of its target in targets */
    int16_t status;   /* upstream HTTP status, 0: none arrived */
    uint8_t outcome;  /* lx_up_outcome_t of the transfer */
    uint8_t cls;      /* lx_fail_class_t of its verdict; LX_FAIL__COUNT: none (still open) */
    uint8_t then;     /* lx_att_then_t: what followed it */
    int64_t start_us; /* monotonic */
    int64_t ttfb_us;  /* -1: no byte */
    int64_t dur_us;   /* -1: still open */
} lx_call_att_t;

/* The call's trace (call_trace.c): zero when tracing is off. */
typedef struct {
    bool on;                /* the worker has a tracer */
    bool capture;           /* prompt and answer text go on the request span */
    lx_trace_ctx_t ctx;     /* trace id, this hop's span id, sampled flag */
    const char *tracestate; /* the client's, if valid (borrowed from the request) */
    lx_span_t *req, *att;   /* open spans; NULL when not sampled */
    lx_buf_t text;          /* captured answer text */
} lx_call_trace_t;

typedef struct {
    lx_up_call_t *up;
    call_state_t state;
    /* the attempt in progress */
    const lx_target_t *t;
    const lx_adapter_t *adapter;
    bool passthrough;
    int ti;           /* index of t in targets */
    int attempts;     /* upstream calls started */
    int same_retries; /* retries on the current target */
    lx_attempt_t att;
    lx_rng_t rng;
    int64_t deadline_ms;
    struct event retry_ev;
    bool retry_armed;
    char fallback_reason[96];
    /* the answer */
    int status;         /* upstream HTTP status */
    bool done;          /* the provider said the answer is complete */
    bool allow_settled; /* lx_call_settle_allow ran */
    bool failed_midstream;
    char fail_msg[300];
    char too_big[160]; /* why on_data stopped the transfer: over a size limit */
    lx_sse_parser_t sse;
    lx_stream_dec_t *dec;
    lx_msg_enc_t *enc;
    lx_buf_t resp; /* a non-stream answer (or an error body) */
    lx_buf_t out;  /* scratch for encoded client events */
    lx_tokens_t tokens;
    int64_t sent_events; /* content events forwarded to the client (billing estimate) */
    int64_t up_estimate; /* input tokens estimated from the attempt's upstream body */
    int64_t shown_input; /* the input count an Anthropic message_start showed (0: none) */
    int64_t ttfb_us;     /* from upstream, -1 if none */
    int64_t created_ms;  /* wall clock at the start */
    int64_t overhead_us;
    int64_t ttfc_us; /* request start to the first byte to the client; -1: none yet */
    lx_call_att_t log[LX_CALL_LOG_MAX]; /* the first attempts (c->attempts counts all) */
    int64_t upstream_us;                /* time in upstream attempts, summed (metrics: overhead) */
    int64_t last_chunk_us;   /* a stream: when the last upstream read went to the client */
    struct lx_mseries *mlat; /* a stream: its latency series (obs/metrics.h) */
    bool spend_settled;      /* the cost went to the key's spend (lx_call_settle_spend) */
    bool metrics_counted;    /* lx_call_count_metrics ran */
    char id[64];
    char key_id[64];
    lx_call_trace_t tr;
    lx_call_opts_t o;
    int ntargets;
    lx_target_t targets[]; /* the order to try: allocated for ntargets */
} lx_call_t;

/* What may be passed on as an answer: 200, or an error status. Anything
 * else (1xx, 204, 304, other 2xx and 3xx, 600+) is no answer: it could
 * not even be framed as it came (a 204 or 304 has no body). */
static inline bool lx_call_status_is_answer(int s)
{
    return s == 200 || (s >= 400 && s <= 599);
}

/* call_end.c */
/* A call block for ntargets targets (the worker's cache for most). */
lx_call_t *lx_call_alloc(lx_ai_t *ai, int ntargets);
/* The one end of a call: renders o, records the usage row from it, frees c. */
void lx_call_end(lx_call_t *c, const lx_outcome_t *o);
/* The call's cost in USD from its tokens and its target's prices. */
double lx_call_cost(const lx_call_t *c);
/* Adds the cost to the key's spend (budgets), once per call: before the
 * answer's last byte goes out, so a client's next request already finds
 * it counted. */
void lx_call_settle_spend(lx_call_t *c);
/* Settles the call's allowances (allow.h: tpm with its tokens so far,
 * places in flight released) once; called just before the client can see
 * the answer's end (a whole answer's reply, the finalizer). */
void lx_call_settle_allow(lx_call_t *c);
/* The request in the metrics (once): before its end goes out, so a client
 * that has its answer finds it counted in its next scrape. reason: "ok" or
 * the outcome's code. */
void lx_call_count_metrics(lx_call_t *c, int status, const char *reason);
/* The abort callback: the client left (499). */
void lx_call_on_client_abort(lx_req_t *req, void *arg);
/* How the last attempt ended (nothing more will be tried), as an outcome. */
void lx_call_attempt_outcome(lx_call_t *c, const lx_up_result_t *res, lx_outcome_t *o);
/* A 502 from an answer that is not one: why for the client, detail for usage. */
void lx_call_bad_upstream(lx_outcome_t *o, const char *why, const char *detail);

/* call_log.c */
/* Notes the start of attempt c->attempts (before it is counted) on c->t. */
void lx_call_log_start(lx_call_t *c, int64_t now_us);
/* Notes how the newest attempt ended (cls: its verdict's class). */
void lx_call_log_end(lx_call_t *c, const lx_up_result_t *res, int status, int cls);
/* Notes what followed the newest attempt (a retry or a fallback). */
void lx_call_log_then(lx_call_t *c, lx_att_then_t then);
/* Renders the attempts as a compact JSON array into out (cap bytes, always
 * NUL-terminated; past the room the array ends with {"more": n}). Attempts
 * still open are closed at now_us. */
void lx_call_log_render(const lx_call_t *c, int64_t now_us, char *out, size_t cap);

/* call_client.c */
/* x-llmux-* headers: which target answered, overhead, attempts, fallback. */
void lx_call_route_headers(lx_call_t *c);
/* Ends a started stream with an error event in the client's wire. */
void lx_call_stream_error(lx_call_t *c, const char *message);
/* The SSE parser's callback: one upstream event to the client. */
int lx_call_on_sse_event(const lx_sse_event_t *ev, void *arg);
/* A translating decoder's callback: one canonical chunk to the client. */
void lx_call_emit_chunk(void *arg, const char *json, size_t n);
/* A whole answer (status 200): replied, or a failure in o. */
void lx_call_finish_whole(lx_call_t *c, lx_outcome_t *o);

/* call_trace.c: the spans, one call per event (each does nothing when
 * tracing is off). */
void lx_call_trace_start(lx_call_t *c);
/* Opens the attempt's span and adds traceparent (and tracestate) to b. */
void lx_call_trace_attempt(lx_call_t *c, lx_up_build_t *b);
/* The attempt's transfer ended; again: another attempt follows. */
void lx_call_trace_attempt_end(lx_call_t *c, const lx_up_result_t *res, bool again);
/* Answer text for capture (a chunk or a whole answer, either wire). */
void lx_call_trace_text(lx_call_t *c, const char *json, size_t n);
void lx_call_trace_text_json(lx_call_t *c, json_t *root);
/* Ends and hands over the open spans (from the finalizer). */
void lx_call_trace_end(lx_call_t *c, const lx_outcome_t *o);

#endif
