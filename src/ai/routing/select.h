/* select.h - model groups: a public model name backed by members (a target
 * on a credential, with weight, priority and cost), and the strategy that
 * picks the first member for a request; the other eligible members follow
 * as the fallback order.
 *
 * Strategies:
 *   round_robin      members in turn (one shared atomic cursor); weights ignored
 *   smooth_weighted  nginx's smooth weighted round robin, exact across all
 *                    workers: the period (sum of weights after dividing by
 *                    their gcd, at most LX_SWRR_MAX_PERIOD, else scaled down)
 *                    is computed once by lx_group_init and the shared cursor
 *                    walks it; weights 5,1,1 give a a b a c a a. While a member
 *                    is ineligible its turns pass to the next eligible member
 *                    of the sequence.
 *   weighted_random  the first drawn in proportion to weight
 *   priority         lowest priority value first; within a tier the first is
 *                    drawn in proportion to weight ("ties by weight"), the
 *                    rest of the tier by weight descending; then the next tier
 *   least_latency    lowest EWMA of time to first byte; members without data
 *                    come first so that they get sampled
 *   least_busy       fewest attempts in flight
 *   lowest_cost      cheapest (USD per 1M tokens, input + output)
 * Fallbacks: round_robin continues the cycle; smooth_weighted and
 * weighted_random list the others by weight descending; the others keep
 * their ranking. Equal keys (latency, in-flight, cost) are broken by a
 * random rotation so that ties share the load. Weight 0 means "fallback
 * only" for the weighted strategies and priority tiers.
 *
 * Eligibility while ordering is read-only (lx_route_check over the
 * member's credential and deployment: holds, cooling, breakers, rate limits); rate-limit tokens and
 * breaker probes are taken per attempt by lx_attempt_begin, so fallbacks that are never tried cost
 * nothing. Ineligible members are left out of the order and counted.
 *
 * Ownership: lx_group_init copies the member array (the target pointers and
 * state pointers inside are borrowed: the snapshot and the state table must
 * outlive the group). A group is built off the request path, then only read
 * (const) by any number of threads. What changes as requests are ordered,
 * the round-robin / smooth-weighted cursor, is not in the group: it is an
 * atomic counter the group points at, the group's entry in the shared state
 * table (lx_group_use_state) so that it survives a new snapshot of the
 * group, else one the group owns. */
#ifndef LX_AI_ROUTING_SELECT_H
#define LX_AI_ROUTING_SELECT_H

#include "ai/routing/attempt.h"
#include "ai/routing/rng.h"

#define LX_GROUP_MAX_MEMBERS 256
#define LX_SWRR_MAX_PERIOD   4096

typedef enum {
    LX_STRAT_ROUND_ROBIN = 0,
    LX_STRAT_SMOOTH_WEIGHTED,
    LX_STRAT_WEIGHTED_RANDOM,
    LX_STRAT_PRIORITY,
    LX_STRAT_LEAST_LATENCY,
    LX_STRAT_LEAST_BUSY,
    LX_STRAT_LOWEST_COST,
    LX_STRAT__COUNT
} lx_strategy_t;

/* The names used by ai_groups.strategy. */
const char *lx_strategy_name(lx_strategy_t s);
/* LX_OK and *out, or LX_ERROR for an unknown name. */
int lx_strategy_parse(lx_str_t name, lx_strategy_t *out);

typedef struct {
    const void *target;      /* the caller's target (opaque, borrowed) */
    int64_t cred_id;         /* for logs; the state pointers below are what counts */
    int32_t weight;          /* >= 0 */
    int32_t priority;        /* lower first */
    double cost;             /* USD per 1M tokens, input + output */
    int32_t rpm, rpd;        /* the credential's limits, 0: none */
    lx_route_state_t *cred;  /* the credential's state (NULL: untracked) */
    lx_route_state_t *dep;   /* the deployment's: credential x upstream model (NULL: cred's) */
    lx_route_state_t *stats; /* this member's own latency / in-flight (NULL: cred's) */
} lx_member_t;

typedef struct {
    _Atomic uint64_t *cursor;     /* round robin / smooth-weighted turns: the group state's
                                     (lx_group_use_state), else own_cursor */
    _Atomic uint64_t *own_cursor; /* owned */
    lx_strategy_t strategy;
    int nmembers;
    lx_member_t *members; /* owned */
    uint8_t *swrr_seq;    /* owned: one period of the smooth-weighted sequence */
    int swrr_len;
} lx_group_t;

/* Builds g (off the request path: allocates). n must be 1..256.
 * LX_OK, or LX_ERROR (bad strategy or n); then g is left empty. */
int lx_group_init(lx_group_t *g, lx_strategy_t strategy, const lx_member_t *members, int n);
void lx_group_free(lx_group_t *g);
/* Makes g take its turns from the cursor of st, the group's entry in the
 * shared state table (lx_group_state_get), so that a new snapshot of the
 * same group goes on where the last one was. st NULL (untracked): g keeps
 * its own cursor. Off the request path; st must outlive g. */
void lx_group_use_state(lx_group_t *g, lx_route_state_t *st);

/* Writes up to max member indexes into out: the first choice, then the
 * fallback order, eligible members only, each once. Returns how many were
 * written (0: none eligible; excl then says why). excl (may be NULL) is
 * incremented, not cleared, for each member left out. rng is the request's.
 * No allocation, no lock: safe from any thread. */
int lx_group_order(const lx_group_t *g, const lx_route_conf_t *c, int64_t now_ms, lx_rng_t *rng,
                   uint16_t *out, int max, lx_route_excl_t *excl);

/* The stats state of member i (its own, else its credential's). */
static inline lx_route_state_t *lx_member_stats(const lx_member_t *m)
{
    return m->stats ? m->stats : m->cred;
}

#endif
