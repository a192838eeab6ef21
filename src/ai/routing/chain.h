/* chain.h - the strategy chain for requests that do not name a group: the
 * candidate targets of a model (its credentials, possibly on several
 * providers) go through filters, then rankers, and come out as an ordered
 * list: the first choice, then the fallbacks.
 *
 * Filters (a candidate is counted under the first one that excludes it):
 *   1. user preference: the key's allowed providers (LX_WHY_NOT_ALLOWED),
 *      the explicit provider of "provider/model" and the x-llmux-provider
 *      header (LX_WHY_PROVIDER)
 *   2. capability: every LX_CAP_* the request needs (LX_WHY_CAPABILITY)
 *   3. context window: prompt_tokens + max_tokens must fit (LX_WHY_CONTEXT)
 *   4. health: holds, cooling, breakers of the credential and the
 *      deployment, rate limits (lx_route_check)
 * The static filters run before the health filter. The set that survives is
 * the same in any order; this one is cheaper (no shared-state reads for
 * candidates the request cannot use) and makes the exclusion counts say
 * what the caller must reply: "no target can do this" (400) versus "the
 * targets that could are unhealthy" (503 / 429), see lx_route_error.
 * Rankers:
 *   - optimize_cost: ascending expected cost (input and output prices
 *     weighted by the request's token counts), ties by priority then weight
 *   - otherwise load balancing: priority tiers (lowest first), in each tier
 *     the first drawn in proportion to weight, the rest by weight descending.
 *
 * Everything is read-only on the candidates and the shared state; the caller
 * owns all arrays (no allocation, no lock). */
#ifndef LX_AI_ROUTING_CHAIN_H
#define LX_AI_ROUTING_CHAIN_H

#include "ai/routing/attempt.h"
#include "ai/routing/rng.h"

#define LX_CHAIN_MAX_CANDIDATES 256

typedef struct {
    const void *target;     /* the caller's target (opaque, borrowed) */
    int64_t cred_id;        /* for logs */
    lx_str_t provider;      /* provider name (borrowed, e.g. from the snapshot) */
    unsigned caps;          /* LX_CAP_* this target can do (model and adapter) */
    int32_t context_window; /* tokens; 0: unknown, never excluded */
    double input_per_1m;    /* USD */
    double output_per_1m;
    int32_t priority, weight; /* the credential's; weight 0: fallback only */
    int32_t rpm, rpd;         /* the credential's limits, 0: none */
    lx_route_state_t *cred;   /* the credential's state; NULL: untracked */
    lx_route_state_t *dep;    /* the deployment's (credential x upstream model); NULL: cred's */
} lx_candidate_t;

typedef struct {
    unsigned need_caps;        /* LX_CAP_* the request needs (stream, tools, vision, ...) */
    int64_t prompt_tokens;     /* estimate; 0: unknown */
    int64_t max_tokens;        /* requested output; 0: unspecified */
    lx_str_t provider;         /* explicit provider ("provider/model"); empty: any */
    lx_str_t header_providers; /* x-llmux-provider: a name or a comma list; empty: any */
    const lx_str_t *allowed;   /* the key's allowed providers; NULL: all */
    int nallowed;
    bool optimize_cost;
} lx_route_request_t;

/* Orders cands[0..n) (at most LX_CHAIN_MAX_CANDIDATES are considered) for
 * request rq: writes up to max candidate indexes to out, first choice
 * first, and returns how many. excl (may be NULL) is incremented per
 * excluded candidate; with 0 returned, lx_route_error(excl, n, &why) gives
 * the reply. */
int lx_chain_order(const lx_candidate_t *cands, int n, const lx_route_request_t *rq,
                   const lx_route_conf_t *c, int64_t now_ms, lx_rng_t *rng, uint16_t *out, int max,
                   lx_route_excl_t *excl);

/* The static filters alone for one candidate: LX_WHY_OK or the reason. */
/* True if name is one of the comma-separated names in list (ASCII case
 * insensitive, spaces around names ignored). */
bool lx_chain_in_list(lx_str_t list, lx_str_t name);

lx_route_why_t lx_chain_static_check(const lx_candidate_t *cand, const lx_route_request_t *rq);

#endif
