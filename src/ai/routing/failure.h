/* failure.h - what to do after one upstream attempt: classify its outcome,
 * then decide the next step (done, give up, retry the same target after a
 * backoff, or move to the next target) under one overall deadline and the
 * global retry budget.
 *
 * Pure functions over the facts the caller passes; no state of their own.
 * The caller owns every struct passed in; nothing is kept after return. */
#ifndef LX_AI_ROUTING_FAILURE_H
#define LX_AI_ROUTING_FAILURE_H

#include "ai/routing/limits.h"
#include "ai/routing/rng.h"
#include "core/err.h"

/* How the transfer of one attempt ended, as routing needs to know it.
 * Routing is pure policy and includes no transport header: the caller maps
 * its transport's own outcome to this (src/ai/xfer_map.c for upstream/). */
typedef enum {
    LX_XFER_OK = 0,         /* a complete HTTP response arrived (any status) */
    LX_XFER_CONNECT_FAILED, /* could not connect / resolve / TLS */
    LX_XFER_TIMEOUT_CONNECT,
    LX_XFER_TIMEOUT_FIRST_BYTE,
    LX_XFER_TIMEOUT_IDLE,
    LX_XFER_TIMEOUT_TOTAL,
    LX_XFER_BROKEN,     /* the connection broke mid-response, or the answer is unusable */
    LX_XFER_ABORTED,    /* we stopped it ourselves */
    LX_XFER_REFUSED,    /* the network policy refused every address of the host */
    LX_XFER_TLS_VERIFY, /* the host's TLS certificate did not verify */
    LX_XFER__COUNT
} lx_xfer_t;

typedef enum {
    LX_FAIL_SUCCESS = 0,
    LX_FAIL_RETRY,     /* transient: back off, retry the same target, then fall back */
    LX_FAIL_ROTATE,    /* 429 / quota: cool the credential, next target at once */
    LX_FAIL_FATAL,     /* no retry: pass the error on */
    LX_FAIL_FLAG_AUTH, /* 401 / 403: fatal, and flag the credential */
    LX_FAIL_NEXT,      /* this target cannot work (its certificate): next target at once */
    LX_FAIL__COUNT
} lx_fail_class_t;

typedef struct {
    int status;             /* HTTP status from upstream, 0 when none arrived */
    lx_xfer_t transport;    /* how the transfer ended (LX_XFER_OK: a whole response) */
    bool request_sent;      /* the whole request reached the upstream */
    bool client_bytes_sent; /* some of the answer already reached the client */
    bool idempotent;        /* repeating cannot do harm (chat, embeddings: yes;
                             * image / video generation: no) */
    bool quota;             /* the error body says quota / credit exhausted
                             * (lx_failure_body_is_quota) */
} lx_attempt_facts_t;

typedef enum {
    LX_BRK_NEUTRAL = 0, /* says nothing about the credential's health */
    LX_BRK_SUCCESS,
    LX_BRK_FAILURE,
} lx_brk_effect_t;

/* Where a failure lands: on the deployment (credential x upstream model)
 * or on the whole credential. A success lands on both. */
typedef enum {
    LX_SCOPE_DEPLOYMENT = 0, /* 429, 403, 5xx, malformed answers, timeouts after connect */
    LX_SCOPE_CREDENTIAL,     /* quota exhausted / 402, 401, connect failure / timeout, TLS */
} lx_fail_scope_t;

typedef struct {
    lx_fail_class_t cls;
    lx_brk_effect_t breaker; /* what to record on the breaker of `scope` */
    lx_err_t err;            /* the reason to report if the error reaches the client */
    lx_fail_scope_t scope;   /* which state cooling, the auth hold and a failure go to */
} lx_verdict_t;

/* The table:
 *  - any byte already sent to the client: SUCCESS if the response completed,
 *    else FATAL (the stream ends with an error event); mid-stream transport
 *    failures and 5xx still count as breaker failures.
 *  - LX_XFER_ABORTED (we stopped it ourselves): FATAL, breaker neutral.
 *  - LX_XFER_REFUSED (the network policy refused the address): FATAL, neutral.
 *  - LX_XFER_TLS_VERIFY (the certificate did not verify): NEXT (another
 *    target may verify; the same one will not), breaker failure, scope:
 *    the credential.
 *  - status < 400: SUCCESS.
 *  - 429, 402, or quota set: ROTATE (breaker neutral: cooling handles it);
 *    scope: the deployment for a plain 429 (providers limit per model), the
 *    credential for 402 or a quota body (the account is out of credit).
 *  - 401, 403: FLAG_AUTH (err: upstream, since the client's own key is fine);
 *    scope: the credential for 401 (the key itself is refused), the
 *    deployment for 403 (often one model or project the key may not use).
 *  - 500, 502, 504, other 5xx but 501/505: RETRY, breaker failure; when not
 *    idempotent: FATAL (the upstream may have done the work).
 *  - 503, 529: RETRY, breaker failure (rejected before doing any work, so
 *    even non-idempotent calls retry). 408: likewise RETRY.
 *  - 400, 404, 413, 422, 501, 505, any other 4xx: FATAL, breaker neutral.
 *  - connect failed / connect timeout (TLS errors included): RETRY, breaker
 *    failure (nothing sent), scope: the credential.
 *  - every other failure's scope is the deployment.
 *  - first-byte / idle / total timeout, broken: RETRY, breaker failure; when
 *    not idempotent and the request was fully sent: FATAL. */
lx_verdict_t lx_failure_classify(const lx_attempt_facts_t *f);

/* Does an error body say "the account's quota or credit is exhausted"
 * (OpenAI insufficient_quota, Anthropic "credit balance is too low",
 * OpenRouter "insufficient credits", ...)? A Gemini RESOURCE_EXHAUSTED body
 * is not: Gemini's quotas are per model and minute or day, so it is that
 * model's rate limit. ASCII, case-insensitive; reads only the first 4 KiB. */
bool lx_failure_body_is_quota(lx_str_t body);

const char *lx_fail_class_name(lx_fail_class_t c);

/* --- backoff and the next step ------------------------------------------- */

typedef struct {
    int64_t base_ms; /* first retry waits up to base_ms (default 100) */
    int64_t cap_ms;  /* no wait longer than this (default 2000) */
    int max_same;    /* retries on one target before falling back (default 1) */
} lx_backoff_conf_t;

void lx_backoff_conf_default(lx_backoff_conf_t *c);

/* Exponential backoff with full jitter: uniform in [0, min(cap, base * 2^n)]
 * for the n-th retry (n from 0). */
int64_t lx_backoff_ms(const lx_backoff_conf_t *c, int n, lx_rng_t *rng);

typedef enum {
    LX_STEP_DONE = 0,   /* success: nothing more to do */
    LX_STEP_GIVE_UP,    /* reply with the error (or end the stream with it) */
    LX_STEP_RETRY_SAME, /* wait delay_ms, then the same target again */
    LX_STEP_NEXT,       /* the next target in the order, after delay_ms (0 today) */
} lx_step_kind_t;

typedef struct {
    lx_step_kind_t kind;
    int64_t delay_ms;
} lx_step_t;

/* Decides what follows an attempt classified as v.
 *   retries_on_target: retries already made on the current target.
 *   have_next: another eligible target remains in the order.
 *   budget: the global retry budget (NULL: unlimited). A retry or a fallback
 *   after RETRY spends one token; a rotation after 429/quota spends none
 *   (nothing reached a model, and the next target has its own quota).
 *   deadline_ms: the request's overall deadline (same clock as now_ms): no
 *   step is returned whose wait would reach it. */
lx_step_t lx_failure_next(const lx_verdict_t *v, int retries_on_target, bool have_next,
                          const lx_backoff_conf_t *c, lx_retry_budget_t *budget, lx_rng_t *rng,
                          int64_t now_ms, int64_t deadline_ms);

const char *lx_step_name(lx_step_kind_t k);

/* Time left before the deadline, never negative: the upper bound for the
 * next attempt's own timeouts. */
static inline int64_t lx_deadline_left_ms(int64_t now_ms, int64_t deadline_ms)
{
    return deadline_ms > now_ms ? deadline_ms - now_ms : 0;
}

#endif
