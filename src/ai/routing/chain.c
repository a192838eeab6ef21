/* chain.c - filters then rankers for non-group candidates. */
#include "ai/routing/chain.h"

#include "ai/routing/order.h"

/* Is name one of the comma-separated items of list (blanks trimmed,
 * ASCII case-insensitive)? */
bool lx_chain_in_list(lx_str_t list, lx_str_t name)
{
    const char *p = list.p, *end = list.p + list.n;
    while (p < end) {
        const char *q = p;
        while (q < end && *q != ',')
            q++;
        const char *a = p, *b = q;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (lx_str_ieq((lx_str_t){a, (size_t)(b - a)}, name))
            return true;
        p = q + 1;
    }
    return false;
}

lx_route_why_t lx_chain_static_check(const lx_candidate_t *cand, const lx_route_request_t *rq)
{
    if (rq->allowed) {
        bool found = false;
        for (int i = 0; i < rq->nallowed && !found; i++)
            found = lx_str_ieq(rq->allowed[i], cand->provider);
        if (!found)
            return LX_WHY_NOT_ALLOWED;
    }
    if (rq->provider.n && !lx_str_ieq(rq->provider, cand->provider))
        return LX_WHY_PROVIDER;
    if (rq->header_providers.n && !lx_chain_in_list(rq->header_providers, cand->provider))
        return LX_WHY_PROVIDER;
    if ((cand->caps & rq->need_caps) != rq->need_caps)
        return LX_WHY_CAPABILITY;
    if (cand->context_window > 0) {
        /* Compared without adding: a client's counts may be anything up to
         * INT64_MAX, and a sum that wrapped would fit every window. */
        int64_t prompt = rq->prompt_tokens > 0 ? rq->prompt_tokens : 0;
        int64_t out = rq->max_tokens > 0 ? rq->max_tokens : 0;
        if (prompt > cand->context_window || out > cand->context_window - prompt)
            return LX_WHY_CONTEXT;
    }
    return LX_WHY_OK;
}

/* Expected cost for ranking: prices weighted by the request's token counts.
 * An unknown count takes the known one (1:1), both unknown count 1 each,
 * i.e. input + output per 1M tokens. */
static double expected_cost(const lx_candidate_t *c, const lx_route_request_t *rq)
{
    double in = rq->prompt_tokens > 0 ? (double)rq->prompt_tokens : 0;
    double out = rq->max_tokens > 0 ? (double)rq->max_tokens : 0;
    if (in == 0 && out == 0)
        in = out = 1;
    else if (in == 0)
        in = out;
    else if (out == 0)
        out = in;
    return c->input_per_1m * in + c->output_per_1m * out;
}

int lx_chain_order(const lx_candidate_t *cands, int n, const lx_route_request_t *rq,
                   const lx_route_conf_t *c, int64_t now_ms, lx_rng_t *rng, uint16_t *out, int max,
                   lx_route_excl_t *excl)
{
    if (n > LX_CHAIN_MAX_CANDIDATES)
        n = LX_CHAIN_MAX_CANDIDATES;
    if (n <= 0 || max <= 0)
        return 0;
    lx_order_item_t it[LX_CHAIN_MAX_CANDIDATES];
    int ne = 0;
    for (int i = 0; i < n; i++) {
        const lx_candidate_t *cd = &cands[i];
        lx_route_why_t why = lx_chain_static_check(cd, rq);
        if (why == LX_WHY_OK)
            why = lx_route_check(cd->cred, cd->dep, c, now_ms, cd->rpm, cd->rpd);
        if (why != LX_WHY_OK) {
            if (excl)
                excl->n[why]++;
            continue;
        }
        it[ne++] = (lx_order_item_t){
            .k1 = lx_order_key_i32(cd->priority),
            .w = cd->weight > 0 ? (uint32_t)cd->weight : 0,
            .idx = (uint16_t)i,
        };
    }
    if (ne == 0)
        return 0;

    if (rq->optimize_cost) {
        for (int i = 0; i < ne; i++) {
            const lx_candidate_t *cd = &cands[it[i].idx];
            it[i].k2 = it[i].k1 << 32 | (UINT32_MAX - it[i].w);
            it[i].k1 = lx_order_key_cost(expected_cost(cd, rq));
        }
        lx_order_sort(it, ne);
    } else {
        lx_order_priority(it, ne, rng);
    }
    int k = ne < max ? ne : max;
    for (int i = 0; i < k; i++)
        out[i] = it[i].idx;
    return k;
}
