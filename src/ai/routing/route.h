/* route.h - what every routing module shares: the tunables (lx_route_conf_t)
 * and the reasons a target is not eligible (lx_route_why_t), with one
 * designated-initializer table of names and messages for logs, metrics and
 * error replies.
 *
 * A conf is plain data: the caller owns it (one per process, built at
 * start-up, read-only afterwards) and passes it by pointer. */
#ifndef LX_AI_ROUTING_ROUTE_H
#define LX_AI_ROUTING_ROUTE_H

#include "ai/routing/breaker.h"
#include "ai/routing/failure.h"

typedef struct {
    lx_breaker_conf_t breaker;
    lx_backoff_conf_t backoff;
    int64_t cooling_default_ms; /* 429 without a usable Retry-After (default 5000) */
    int64_t cooling_cap_ms;     /* longest cooling (default 60000) */
    int64_t auth_hold_ms;       /* a 401 keeps the credential out, a 403 the deployment,
                                 * this long (300000) */
} lx_route_conf_t;

void lx_route_conf_default(lx_route_conf_t *c);

typedef enum {
    LX_WHY_OK = 0,
    /* runtime health (the health filter) */
    LX_WHY_BREAKER_OPEN, /* breaker open, or half-open with every probe taken */
    LX_WHY_COOLING,      /* after a 429 / quota error */
    LX_WHY_RATE_LIMITED, /* rate_limit_per_minute / per_day reached */
    LX_WHY_AUTH_FAILED,  /* the credential is held after a 401 */
    LX_WHY_MODEL_DENIED, /* the deployment is held after a 403 */
    /* static filters (the strategy chain) */
    LX_WHY_NOT_ALLOWED, /* the API key may not use this provider */
    LX_WHY_PROVIDER,    /* not the provider the request asked for */
    LX_WHY_CAPABILITY,  /* lacks a capability the request needs */
    LX_WHY_CONTEXT,     /* prompt + max_tokens do not fit its context window */
    LX_WHY__COUNT
} lx_route_why_t;

typedef struct {
    const char *name;    /* stable machine name: logs, metrics */
    const char *message; /* human text for an error reply */
} lx_route_why_info_t;

const lx_route_why_info_t *lx_route_why_info(lx_route_why_t w);

/* Counts of excluded targets per reason (each target counted once, under the
 * first filter that excluded it). */
typedef struct {
    uint16_t n[LX_WHY__COUNT];
} lx_route_excl_t;

/* The error a caller should reply when no target is left, from the
 * exclusion counts (ncand: how many candidates there were). The static
 * filters run before the health filter, so:
 *   no candidates at all                      -> LX_E_MODEL_NOT_FOUND
 *   some passed the static filters, health
 *     took them: breaker / auth or 403 hold   -> LX_E_UNAVAILABLE
 *     only rate limits / cooling              -> LX_E_RATE_LIMITED
 *   none passed: capability or context        -> LX_E_BAD_REQUEST (no target can
 *                                                serve this request: do not retry)
 *     only the requested provider             -> LX_E_MODEL_NOT_FOUND
 *     only the key's allowed providers        -> LX_E_FORBIDDEN
 * *why (may be NULL) receives the dominant reason, for the message. */
lx_err_t lx_route_error(const lx_route_excl_t *x, int ncand, lx_route_why_t *why);

#endif
