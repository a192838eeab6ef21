/* attempt.h - one upstream attempt against a target's shared state: the
 * read-only eligibility check used while ordering candidates, then begin
 * (take what the attempt needs) and end (record what happened).
 *
 * Ordering (select.c, chain.c) only reads: no rate-limit token or breaker
 * probe slot is taken for targets that are merely listed as fallbacks.
 * lx_attempt_begin takes them for the target actually being tried, at the
 * moment it is tried; it may still refuse (another worker took the last
 * token or probe in between), and then the caller moves to the next target
 * in the order.
 *
 * lx_attempt_t is owned by the caller (typically inside the request
 * context); it holds borrowed pointers into the state table, valid for the
 * life of the table. Every attempt that began must end exactly once. */
#ifndef LX_AI_ROUTING_ATTEMPT_H
#define LX_AI_ROUTING_ATTEMPT_H

#include "ai/routing/route.h"

/* Would a request to this connection be let through now? Reads only.
 * Checks, in order: auth flag, cooling, breaker, rate limits. st may be NULL
 * (untracked: LX_WHY_OK). */
lx_route_why_t lx_route_check(const lx_conn_state_t *st, const lx_route_conf_t *c, int64_t now_ms,
                              int rpm, int rpd);

typedef struct {
    lx_conn_state_t *conn;  /* breaker, limits, cooling, auth (NULL: untracked) */
    lx_conn_state_t *stats; /* a group member's own latency / in-flight, or NULL */
    uint32_t gen;           /* breaker generation seen at begin */
    bool probe;             /* a half-open probe */
    bool active;            /* between begin and end */
} lx_attempt_t;

/* Starts an attempt: auth flag and cooling checked, breaker asked (a
 * half-open probe slot taken if need be), one rate-limit token taken, and
 * in-flight incremented on conn and stats. LX_WHY_OK: *a is active and must
 * be ended with lx_attempt_end. Anything else: nothing was taken, *a is
 * inactive, try the next target. stats may be NULL or equal to conn. */
lx_route_why_t lx_attempt_begin(lx_attempt_t *a, lx_conn_state_t *conn, lx_conn_state_t *stats,
                                int rpm, int rpd, const lx_route_conf_t *c, int64_t now_ms);

/* Ends an active attempt (no-op on an inactive one): in-flight released;
 * the breaker records v's effect under the generation seen at begin (a
 * neutral verdict, or v == NULL for "ended without a verdict", gives a
 * probe slot back); ttfb_us >= 0 is folded into the EWMA of conn and stats
 * (pass the elapsed time for a first-byte timeout so that a slow target
 * looks slow); ROTATE cools conn for retry_after (Retry-After header value,
 * may be NULL); FLAG_AUTH flags conn for auth_hold_ms. Call it for a
 * mid-stream failure too, with the verdict of lx_failure_classify: such
 * failures count against the breaker. Returns what the breaker did. */
lx_breaker_event_t lx_attempt_end(lx_attempt_t *a, const lx_route_conf_t *c, const lx_verdict_t *v,
                                  int64_t ttfb_us, const char *retry_after, int64_t now_ms);

#endif
