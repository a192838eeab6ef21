/* attempt.h - one upstream attempt against a target's shared state: the
 * read-only eligibility check used while ordering candidates, then begin
 * (take what the attempt needs) and end (record what happened).
 *
 * A target has up to three states (state.h): its credential's, its
 * deployment's (credential x upstream model) and, for a group member, the
 * member's own latency / in-flight. Credential-wide signals (quota exhausted
 * or 402, 401, connect failures and TLS errors) act on the credential and so
 * on every model it serves; the others (429, 403, 5xx, malformed answers,
 * timeouts after connect) act on the deployment only (failure.h gives each
 * verdict its scope). A success is recorded on both breakers. A NULL
 * deployment (untracked: the table's request-path share is full, or no
 * credential) makes every signal act on the credential, as it did before
 * deployments existed: over-cooling beats hammering an upstream that said 429.
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

#include "ai/routing/deploy.h"
#include "ai/routing/route.h"

/* Would a request to this target be let through now? Reads only. Checks,
 * in order: the credential's auth hold (401), the deployment's hold (403),
 * cooling of either, the credential being out (its breaker, or most of its
 * deployments failing: deploy.h), the deployment's breaker, the
 * credential's rate limits. cred and dep may be NULL (untracked); dep equal
 * to cred is taken as NULL. */
lx_route_why_t lx_route_check(const lx_route_state_t *cred, const lx_route_state_t *dep,
                              const lx_route_conf_t *c, int64_t now_ms, int rpm, int rpd);

typedef struct {
    lx_route_state_t *cred;  /* the credential: breaker, limits, cooling, 401 hold, counts */
    lx_route_state_t *dep;   /* the deployment: cooling, breaker, 403 hold (NULL: none) */
    lx_route_state_t *stats; /* a group member's own latency / in-flight, or NULL */
    uint32_t gen;            /* credential breaker generation seen at begin */
    uint32_t dep_gen;        /* deployment breaker generation seen at begin */
    bool probe;              /* a half-open probe of the credential's breaker */
    bool dep_probe;          /* a half-open probe of the deployment's breaker */
    bool active;             /* between begin and end */
} lx_attempt_t;

/* Starts an attempt: holds and cooling checked, both breakers asked (a
 * half-open probe slot taken if need be), one rate-limit token taken from
 * the credential, and in-flight incremented on cred and stats.
 * LX_WHY_OK: *a is active and must be ended with lx_attempt_end. Anything
 * else: nothing was taken, *a is inactive, try the next target. dep and
 * stats may be NULL or equal to cred. */
lx_route_why_t lx_attempt_begin(lx_attempt_t *a, lx_route_state_t *cred, lx_route_state_t *dep,
                                lx_route_state_t *stats, int rpm, int rpd, const lx_route_conf_t *c,
                                int64_t now_ms);

/* Ends an active attempt (no-op on an inactive one): in-flight released;
 * the breakers record v's effect under the generations seen at begin: a
 * success on both, a failure on the breaker of v's scope (the other gives
 * its probe slot back, as a neutral verdict or v == NULL, "ended without a
 * verdict", does on both); ttfb_us >= 0 is folded into the EWMA of cred,
 * dep and stats (pass the elapsed time for a first-byte timeout so that a
 * slow target looks slow); ROTATE cools the scope's state for retry_after
 * (Retry-After header value, may be NULL); FLAG_AUTH holds it for
 * auth_hold_ms. The credential's success / error totals count every
 * attempt. The deployment's verdict is noted for the credential's
 * most-failing rule (deploy.h). Call it for a mid-stream failure too, with
 * the verdict of lx_failure_classify: such failures count against the
 * breaker. Returns what the breaker of v's scope did (for a success: the
 * deployment's, unless only the credential's changed). */
lx_breaker_event_t lx_attempt_end(lx_attempt_t *a, const lx_route_conf_t *c, const lx_verdict_t *v,
                                  int64_t ttfb_us, const char *retry_after, int64_t now_ms);

#endif
