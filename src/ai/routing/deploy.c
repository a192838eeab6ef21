/* deploy.c - per-window counts of a credential's deployments and failing ones. */
#include "ai/routing/deploy.h"

#define F_SEEN  1u
#define F_FAIL  2u
#define CNT_MAX 0xffffu

static inline uint32_t win_of(int64_t now_ms, int64_t window_ms)
{
    if (window_ms <= 0)
        window_ms = 1;
    return (uint32_t)((uint64_t)(now_ms < 0 ? 0 : now_ms) / (uint64_t)window_ms);
}

void lx_deploy_note(lx_route_state_t *cred, lx_route_state_t *dep, bool failing, int64_t now_ms,
                    int64_t window_ms)
{
    if (!cred || !dep || cred == dep)
        return;
    uint32_t w = win_of(now_ms, window_ms);
    unsigned want = F_SEEN | (failing ? F_FAIL : 0), had;
    /* mark the deployment: which columns are new for it in this window */
    uint64_t old = atomic_load_explicit(&dep->dep_win, memory_order_relaxed);
    for (;;) {
        had = (uint32_t)(old >> 32) == w ? (unsigned)(old & 3) : 0;
        if ((had | want) == had)
            return; /* counted already */
        uint64_t nv = (uint64_t)w << 32 | (had | want);
        if (atomic_compare_exchange_weak_explicit(&dep->dep_win, &old, nv, memory_order_relaxed,
                                                  memory_order_relaxed))
            break;
    }
    uint64_t add_seen = (want & ~had & F_SEEN) ? 1 : 0, add_fail = (want & ~had & F_FAIL) ? 1 : 0;
    /* add them to the credential's counts of the same window */
    old = atomic_load_explicit(&cred->dep_win, memory_order_relaxed);
    for (;;) {
        uint32_t ow = (uint32_t)(old >> 32);
        if (ow == w + 1)
            return; /* another thread's clock is already in the next window */
        uint64_t seen = ow == w ? (old >> 16) & CNT_MAX : 0, fail = ow == w ? old & CNT_MAX : 0;
        if (seen + add_seen <= CNT_MAX)
            seen += add_seen;
        if (fail + add_fail <= CNT_MAX)
            fail += add_fail;
        uint64_t nv = (uint64_t)w << 32 | seen << 16 | fail;
        if (atomic_compare_exchange_weak_explicit(&cred->dep_win, &old, nv, memory_order_relaxed,
                                                  memory_order_relaxed))
            return;
    }
}

void lx_deploy_counts(const lx_route_state_t *cred, int64_t now_ms, int64_t window_ms,
                      uint32_t *seen, uint32_t *failing)
{
    *seen = *failing = 0;
    if (!cred)
        return;
    uint64_t v = atomic_load_explicit(&cred->dep_win, memory_order_relaxed);
    if ((uint32_t)(v >> 32) != win_of(now_ms, window_ms))
        return;
    *seen = (uint32_t)((v >> 16) & CNT_MAX);
    *failing = (uint32_t)(v & CNT_MAX);
}

bool lx_deploy_most_failing(const lx_route_state_t *cred, int64_t now_ms, int64_t window_ms)
{
    uint32_t seen, failing;
    lx_deploy_counts(cred, now_ms, window_ms, &seen, &failing);
    return failing >= LX_DEPLOY_MIN_FAILING && 2 * failing > seen;
}
