/* select.c - group member ordering for the seven strategies. */
#include "ai/routing/select.h"

#include "ai/routing/order.h"

#include <stdlib.h>

static const char *const strat_names[LX_STRAT__COUNT] = {
    [LX_STRAT_ROUND_ROBIN] = "round_robin",         [LX_STRAT_SMOOTH_WEIGHTED] = "smooth_weighted",
    [LX_STRAT_WEIGHTED_RANDOM] = "weighted_random", [LX_STRAT_PRIORITY] = "priority",
    [LX_STRAT_LEAST_LATENCY] = "least_latency",     [LX_STRAT_LEAST_BUSY] = "least_busy",
    [LX_STRAT_LOWEST_COST] = "lowest_cost",
};

const char *lx_strategy_name(lx_strategy_t s)
{
    return (unsigned)s < LX_STRAT__COUNT ? strat_names[s] : "unknown";
}

int lx_strategy_parse(lx_str_t name, lx_strategy_t *out)
{
    for (int i = 0; i < LX_STRAT__COUNT; i++) {
        if (lx_str_eq_cstr(name, strat_names[i])) {
            *out = (lx_strategy_t)i;
            return LX_OK;
        }
    }
    return LX_ERROR;
}

/* --- build --------------------------------------------------------------- */

static uint64_t gcd64(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* One period of nginx's smooth weighted round robin over w[0..n). Weights are
 * reduced by their gcd and, if the period is still longer than
 * LX_SWRR_MAX_PERIOD, scaled down (every positive weight stays >= 1). */
static void swrr_build(lx_group_t *g)
{
    int n = g->nmembers;
    uint64_t w[LX_GROUP_MAX_MEMBERS], g0 = 0, sum = 0;
    for (int i = 0; i < n; i++) {
        w[i] = g->members[i].weight > 0 ? (uint64_t)g->members[i].weight : 0;
        g0 = gcd64(g0, w[i]);
    }
    if (g0 == 0) /* every weight is 0 */
        return;
    for (int i = 0; i < n; i++) {
        w[i] /= g0;
        sum += w[i];
    }
    while (sum > LX_SWRR_MAX_PERIOD) {
        uint64_t s2 = 0;
        for (int i = 0; i < n; i++) {
            if (w[i]) {
                uint64_t v = w[i] * LX_SWRR_MAX_PERIOD / sum;
                w[i] = v ? v : 1;
            }
            s2 += w[i];
        }
        if (s2 >= sum) /* cannot shrink further (many members of weight 1) */
            break;
        sum = s2;
    }
    g->swrr_seq = lx_alloc((size_t)sum);
    g->swrr_len = (int)sum;
    int64_t cur[LX_GROUP_MAX_MEMBERS] = {0};
    for (uint64_t step = 0; step < sum; step++) {
        int best = -1;
        for (int i = 0; i < n; i++) {
            if (!w[i])
                continue;
            cur[i] += (int64_t)w[i];
            if (best < 0 || cur[i] > cur[best])
                best = i;
        }
        cur[best] -= (int64_t)sum;
        g->swrr_seq[step] = (uint8_t)best;
    }
}

void lx_group_use_state(lx_group_t *g, lx_route_state_t *st)
{
    g->cursor = st ? &st->cursor : g->own_cursor;
}

int lx_group_init(lx_group_t *g, lx_strategy_t strategy, const lx_member_t *members, int n)
{
    memset(g, 0, sizeof *g);
    if ((unsigned)strategy >= LX_STRAT__COUNT || n < 1 || n > LX_GROUP_MAX_MEMBERS)
        return LX_ERROR;
    g->own_cursor = lx_alloc(sizeof *g->own_cursor);
    atomic_init(g->own_cursor, 0);
    g->cursor = g->own_cursor;
    g->strategy = strategy;
    g->nmembers = n;
    g->members = lx_alloc((size_t)n * sizeof *members);
    memcpy(g->members, members, (size_t)n * sizeof *members);
    if (strategy == LX_STRAT_SMOOTH_WEIGHTED)
        swrr_build(g);
    return LX_OK;
}

void lx_group_free(lx_group_t *g)
{
    free(g->members);
    free(g->swrr_seq);
    free(g->own_cursor);
    g->members = NULL;
    g->swrr_seq = NULL;
    g->cursor = g->own_cursor = NULL;
    g->nmembers = g->swrr_len = 0;
}

/* --- order --------------------------------------------------------------- */

static int emit(const lx_order_item_t *it, int n, uint16_t *out, int max)
{
    int k = n < max ? n : max;
    for (int i = 0; i < k; i++)
        out[i] = it[i].idx;
    return k;
}

/* Others by weight descending, then index; `first` (an index, or -1) first. */
static int weighted_rest(lx_order_item_t *it, int ne, int first, uint16_t *out, int max)
{
    for (int i = 0; i < ne; i++) {
        it[i].k1 = it[i].idx == first ? 0 : 1;
        it[i].k2 = (uint64_t)(UINT32_MAX - it[i].w) << 16 | it[i].idx;
    }
    lx_order_sort(it, ne);
    return emit(it, ne, out, max);
}

int lx_group_order(const lx_group_t *g, const lx_route_conf_t *c, int64_t now_ms, lx_rng_t *rng,
                   uint16_t *out, int max, lx_route_excl_t *excl)
{
    int n = g->nmembers;
    if (n <= 0 || max <= 0)
        return 0;
    lx_order_item_t it[LX_GROUP_MAX_MEMBERS];
    uint8_t ok[LX_GROUP_MAX_MEMBERS];
    int ne = 0;
    for (int i = 0; i < n; i++) {
        const lx_member_t *m = &g->members[i];
        lx_route_why_t why = lx_route_check(m->cred, m->dep, c, now_ms, m->rpm, m->rpd);
        ok[i] = why == LX_WHY_OK;
        if (!ok[i]) {
            if (excl)
                excl->n[why]++;
            continue;
        }
        it[ne++] = (lx_order_item_t){
            .w = m->weight > 0 ? (uint32_t)m->weight : 0,
            .idx = (uint16_t)i,
        };
    }
    if (ne == 0)
        return 0;

    switch (g->strategy) {
    case LX_STRAT_ROUND_ROBIN: {
        uint64_t cur = atomic_fetch_add_explicit(g->cursor, 1, memory_order_relaxed);
        int start = (int)(cur % (uint64_t)n), k = 0;
        for (int s = 0; s < n && k < max; s++) {
            int i = (start + s) % n;
            if (ok[i])
                out[k++] = (uint16_t)i;
        }
        return k;
    }
    case LX_STRAT_SMOOTH_WEIGHTED: {
        int first = -1;
        if (g->swrr_len > 0) {
            uint64_t cur = atomic_fetch_add_explicit(g->cursor, 1, memory_order_relaxed);
            int p = (int)(cur % (uint64_t)g->swrr_len);
            for (int s = 0; s < g->swrr_len; s++) {
                int i = g->swrr_seq[p];
                if (ok[i]) {
                    first = i;
                    break;
                }
                if (++p == g->swrr_len)
                    p = 0;
            }
        }
        return weighted_rest(it, ne, first, out, max);
    }
    case LX_STRAT_WEIGHTED_RANDOM:
        lx_order_weighted_head(it, ne, rng);
        return weighted_rest(it, ne, it[0].w ? it[0].idx : -1, out, max);
    case LX_STRAT_PRIORITY:
        for (int i = 0; i < ne; i++)
            it[i].k1 = lx_order_key_i32(g->members[it[i].idx].priority);
        lx_order_priority(it, ne, rng);
        return emit(it, ne, out, max);
    case LX_STRAT_LEAST_LATENCY:
    case LX_STRAT_LEAST_BUSY:
    case LX_STRAT_LOWEST_COST: {
        uint32_t rot = lx_rng_below(rng, (uint32_t)n);
        for (int i = 0; i < ne; i++) {
            const lx_member_t *m = &g->members[it[i].idx];
            const lx_route_state_t *st = lx_member_stats(m);
            uint64_t k;
            if (g->strategy == LX_STRAT_LEAST_LATENCY) /* 0: no data, sorts first */
                k = st ? atomic_load_explicit(&st->ttfb_ewma, memory_order_relaxed) : 0;
            else if (g->strategy == LX_STRAT_LEAST_BUSY)
                k = lx_order_key_i32(lx_state_inflight(st));
            else
                k = lx_order_key_cost(m->cost);
            it[i].k1 = k;
            it[i].k2 = (it[i].idx + (uint32_t)n - rot) % (uint32_t)n; /* random tie rotation */
        }
        lx_order_sort(it, ne);
        return emit(it, ne, out, max);
    }
    case LX_STRAT__COUNT:
        break;
    }
    return 0;
}
