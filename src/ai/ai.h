/* ai.h - the LLM side of llmux: per-worker context and its HTTP handlers.
 *
 * lx_ai_t is created by a worker and lives as long as the worker's loop; it
 * borrows the config, the worker's upstream client and the usage sink. */
#ifndef LX_AI_AI_H
#define LX_AI_AI_H

#include "ai/routing/limits.h"
#include "ai/routing/route.h"
#include "ai/usage.h"
#include "core/config.h"
#include "http/server.h"
#include "upstream/upstream.h"

/* The routing settings every worker reads and the retry budget they all
 * draw from: one per process, made by the main thread before the workers
 * start (lx_routing_init) and owned by it; conf is read-only from then on,
 * budget is atomics. */
typedef struct {
    lx_route_conf_t conf;
    lx_retry_budget_t budget;
} lx_routing_t;

#define LX_AI_MAX_ENDPOINTS 8

struct lx_endpoint;
typedef struct lx_ai lx_ai_t;

/* A route's argument: the worker's context and the endpoint it runs. */
typedef struct {
    lx_ai_t *ai;
    const struct lx_endpoint *ep;
} lx_ai_binding_t;

struct lx_ai {
    const lx_config_t *cfg;
    lx_routing_t *routing;
    lx_upstream_t *up;
    /* How the AI call reaches up: &lx_up_ops (lx_ai_init); a unit test
     * sets a fake table and a fake up. */
    const lx_up_ops_t *up_ops;
    lx_usage_sink_t *usage;
    struct lx_metrics *metrics;   /* the worker's request metrics (obs/metrics.h); NULL: none */
    struct lx_tracer *tracer;     /* the worker's span exporter (NULL: tracing off) */
    struct lx_allow_lease *lease; /* the worker's allowance leases (NULL: no database) */
    bool has_admin;
    unsigned char admin_hash[32]; /* SHA-256 of the admin key, computed once */
    _Atomic uint64_t streams_active;
    _Atomic uint64_t upstream_pauses; /* backpressure: a slow client held upstream */
    _Atomic uint64_t unauthenticated; /* 401s: no, unknown, disabled or expired key */
    /* requests refused by a key's, user's or team's limit (index: key, user,
     * team) by window (lx_allow_per_t: minute, day, tokens, parallel) */
    _Atomic uint64_t limit_refusals[3][4];
    /* requests refused by a key's, user's or team's budget (budget.h) */
    _Atomic uint64_t budget_refusals[3];
    /* Freed call contexts (call.c) kept for the next requests: a call is a
     * few KB, and a fresh large malloc per request costs more than its use. */
    void *call_cache[32];
    int ncall_cache;
    lx_ai_binding_t bindings[LX_AI_MAX_ENDPOINTS]; /* lx_ai_routes' arguments */
};

/* Fills the fields derived from cfg (call once, before serving). */
void lx_ai_init(lx_ai_t *ai, const lx_config_t *cfg, lx_routing_t *routing, lx_upstream_t *up,
                lx_usage_sink_t *usage);
/* Releases what the worker's calls left cached (after its loop ended). */
void lx_ai_fini(lx_ai_t *ai);

/* The routes of every AI endpoint (a row of the endpoint table,
 * endpoint.c), each bound to ai: written to out (up to cap); returns how
 * many. The model listings are routes of their own (handlers.h). */
size_t lx_ai_routes(lx_ai_t *ai, lx_route_t *out, size_t cap);

/* A model name safe to route, log and forward: 1..200 bytes of
 * [A-Za-z0-9._:/+=@-]. */
bool lx_ai_model_name_valid(lx_str_t model);

#endif
