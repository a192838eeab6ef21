/* health_policy.h - the health monitor's decisions (health.c), without its
 * timer, database or network: which credential to probe, what a probe's
 * answer does to the breaker, and what a counter write adds.
 *
 * Pure over what the caller passes, except that the probe functions read and
 * change the credential's shared routing state (its breaker and rate-limit
 * window, lock-free). Nothing is kept after return; every struct passed in
 * stays the caller's. Run on worker 0's loop (health.c) and in unit tests. */
#ifndef LX_AI_HEALTH_POLICY_H
#define LX_AI_HEALTH_POLICY_H

#include "ai/routing/breaker.h"
#include "ai/routing/failure.h"

/* A credential's counters: successes, errors, last use and last error (ms). */
typedef struct {
    uint64_t ok, fail;
    int64_t used_ms;
    uint64_t err_ms;
} lx_health_totals_t;

/* What the monitor remembers of one credential (health.c keeps one per id
 * for its whole life). */
typedef struct {
    int64_t id;                 /* 0: empty slot */
    lx_health_totals_t written; /* totals already written to Postgres */
    int64_t next_probe_ms;      /* no probe before this (after an inconclusive one) */
    uint32_t failed_probes;     /* in a row since the breaker last closed */
    bool seen_open;             /* breaker not closed at the last look (for the log) */
    bool probing;               /* a probe is in flight */
    bool no_models;             /* GET /models is not served: probe with a chat */
} lx_health_conn_t;

/* ---- when to probe ---- */

/* Whether a probe of this credential is due now: provider and credential
 * active, none in flight for it, fewer than max_probes in flight, past
 * next_probe_ms, its breaker not closed and past its open period, and it
 * neither cooling (429) nor held for an auth failure. Reads only. */
bool lx_health_probe_due(const lx_health_conn_t *c, bool active, int nprobes, int max_probes,
                         const lx_route_state_t *st, const lx_breaker_conf_t *brk, int64_t now_ms);

/* Takes what a due probe needs: the breaker's half-open slot (*gen) and,
 * when the credential has a rate limit (rpm/rpd > 0), one token. False
 * (nothing held) when traffic took the slot, the breaker closed meanwhile or
 * the limit is spent. Undo with lx_health_probe_unclaim if the probe does
 * not start. */
bool lx_health_probe_claim(lx_route_state_t *st, const lx_breaker_conf_t *brk, int rpm, int rpd,
                           int64_t now_ms, uint32_t *gen);
void lx_health_probe_unclaim(lx_route_state_t *st, int rpm, int rpd, int64_t now_ms, uint32_t gen);

/* ---- what a probe's answer does ---- */

typedef enum {
    LX_PROBE_CLOSE,        /* healthy: recorded as a success (closes the breaker) */
    LX_PROBE_REOPEN,       /* 5xx, timeout, connect failure, 401/403: recorded as a failure */
    LX_PROBE_TRY_CHAT,     /* GET /models not served (404, 405, ...): slot given back,
                            * the next probe is a chat */
    LX_PROBE_INCONCLUSIVE, /* 429 or another 4xx: slot given back, no probe for open_ms */
} lx_probe_verdict_t;

/* The verdict on a probe's answer (facts as for lx_failure_classify; status
 * 0 when no whole response came). models: the probe was GET /models. */
lx_probe_verdict_t lx_health_probe_verdict(bool models, const lx_attempt_facts_t *facts);

/* Applies the verdict: to the breaker (record with gen, or release gen) and
 * to c (no_models, next_probe_ms, failed_probes, seen_open; c may be NULL
 * for a credential the monitor has forgotten). Returns the breaker's event
 * (LX_BRK_EV_NONE when nothing was recorded). */
lx_breaker_event_t lx_health_probe_apply(lx_probe_verdict_t v, lx_health_conn_t *c,
                                         lx_route_state_t *st, const lx_breaker_conf_t *brk,
                                         uint32_t gen, int64_t now_ms);

/* ---- what a counter write adds ---- */

/* One credential's row in a counter write: what to add and what to set. */
typedef struct {
    uint64_t add_ok, add_fail;
    int64_t used_ms; /* > 0: the new last use; 0: unchanged */
    int64_t err_ms;  /* > 0: a new last error (its code goes with it); 0: unchanged */
} lx_health_delta_t;

/* The row that brings Postgres from written to now; false when nothing moved
 * (no row). written only moves (to now) once the write succeeded, so what a
 * failed write carried is in the next delta. */
bool lx_health_delta(const lx_health_totals_t *written, const lx_health_totals_t *now,
                     lx_health_delta_t *d);

#endif
