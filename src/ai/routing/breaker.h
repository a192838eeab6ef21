/* breaker.h - one circuit breaker per credential, kept in its lx_route_state_t.
 *
 * States: CLOSED (traffic flows; failures are counted), OPEN (no traffic
 * until open_ms have passed), HALF_OPEN (at most half_open_max probe
 * requests at a time; the first probe success closes the breaker, the first
 * probe failure opens it again).
 *
 * CLOSED -> OPEN when failure_threshold consecutive failures arrive, or when
 * the rolling window (window_ms, kept as 6 buckets of window_ms/6) holds at
 * least min_requests results of which at least failure_ratio failed.
 *
 * Every state change increments the breaker's generation. lx_breaker_allow
 * hands the caller the generation it saw, and lx_breaker_record discards a
 * result whose generation is no longer current: a slow failure from before
 * the breaker closed cannot reopen it, and a late success from before it
 * opened cannot close it.
 *
 * The whole state (state, probe count, generation, time of the last change)
 * is one 64-bit word changed by CAS, so no transition is ever half-seen.
 * The generation is 16 bits: a result older than 65536 state changes could
 * in theory be taken for current. Probes that never report (the request was
 * abandoned without lx_breaker_release) are given up after open_ms: the
 * half-open state then restarts with a new generation.
 *
 * All functions are lock-free and safe from any thread; st may be NULL
 * (untracked target: always allowed, results ignored). conf is borrowed for
 * the call and must be the same for every call on one state. */
#ifndef LX_AI_ROUTING_BREAKER_H
#define LX_AI_ROUTING_BREAKER_H

#include "ai/routing/state.h"

typedef struct {
    uint32_t failure_threshold; /* consecutive failures that trip; 0: off (default 5) */
    double failure_ratio;       /* failed/total that trips; 0: off (default 0.5) */
    uint32_t min_requests;      /* results needed before the ratio counts (default 20) */
    int64_t window_ms;          /* rolling window of the ratio (default 30000) */
    int64_t open_ms;            /* time spent open before probing (default 30000) */
    uint32_t half_open_max;     /* concurrent probes, 1..15 (default 1) */
} lx_breaker_conf_t;

typedef enum {
    LX_BRK_CLOSED = 0,
    LX_BRK_OPEN = 1,
    LX_BRK_HALF_OPEN = 2,
} lx_breaker_state_t;

typedef enum {
    LX_BRK_ALLOWED = 0, /* closed: go */
    LX_BRK_DENIED,      /* open, or half-open with every probe slot taken */
    LX_BRK_PROBE,       /* half-open: go, as one of the limited probes */
} lx_breaker_verdict_t;

typedef enum {
    LX_BRK_EV_NONE = 0, /* counted, no state change */
    LX_BRK_EV_STALE,    /* discarded: the generation changed since allow */
    LX_BRK_EV_OPENED,   /* this result tripped closed -> open */
    LX_BRK_EV_CLOSED,   /* this probe success closed the breaker */
    LX_BRK_EV_REOPENED, /* this probe failure opened it again */
} lx_breaker_event_t;

void lx_breaker_conf_default(lx_breaker_conf_t *c);

/* Asks to send one request. On ALLOWED or PROBE, *gen receives the
 * generation to pass back to lx_breaker_record (or lx_breaker_release).
 * A PROBE takes one of the half-open slots; OPEN -> HALF_OPEN happens here,
 * lazily, once open_ms have passed. */
lx_breaker_verdict_t lx_breaker_allow(lx_route_state_t *st, const lx_breaker_conf_t *c,
                                      int64_t now_ms, uint32_t *gen);

/* Would lx_breaker_allow say yes now? Reads only: takes no probe slot and
 * changes no state (used to order candidates before choosing one). */
bool lx_breaker_would_allow(const lx_route_state_t *st, const lx_breaker_conf_t *c, int64_t now_ms);

/* The outcome of a request that lx_breaker_allow let through with gen. */
lx_breaker_event_t lx_breaker_record(lx_route_state_t *st, const lx_breaker_conf_t *c, bool ok,
                                     uint32_t gen, int64_t now_ms);

/* A request let through with gen ended with no verdict on the credential
 * (cancelled, client gone, a 4xx that is the client's fault): gives its
 * probe slot back if it held one. Harmless for non-probes. */
void lx_breaker_release(lx_route_state_t *st, uint32_t gen);

lx_breaker_state_t lx_breaker_state(const lx_route_state_t *st);
uint32_t lx_breaker_generation(const lx_route_state_t *st);
const char *lx_breaker_state_name(lx_breaker_state_t s);
const char *lx_breaker_event_name(lx_breaker_event_t e);

#endif
