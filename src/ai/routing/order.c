/* order.c - ordering helpers for routing decisions. */
#include "ai/routing/order.h"

void lx_order_sort(lx_order_item_t *it, int n)
{
    for (int i = 1; i < n; i++) {
        lx_order_item_t x = it[i];
        int j = i - 1;
        while (j >= 0 && (it[j].k1 > x.k1 || (it[j].k1 == x.k1 && it[j].k2 > x.k2))) {
            it[j + 1] = it[j];
            j--;
        }
        it[j + 1] = x;
    }
}

uint64_t lx_order_key_cost(double v)
{
    if (v != v)
        return UINT64_MAX;
    if (!(v > 0))
        return 0;
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits); /* positive doubles order like their bits */
    return bits;
}

void lx_order_weighted_head(lx_order_item_t *it, int n, lx_rng_t *rng)
{
    if (n < 2)
        return;
    uint64_t total = 0;
    for (int i = 0; i < n; i++)
        total += it[i].w;
    if (total == 0)
        return;
    uint64_t r =
        total <= UINT32_MAX ? lx_rng_below(rng, (uint32_t)total) : lx_rng_next(rng) % total;
    int pick = 0;
    for (int i = 0; i < n; i++) {
        if (r < it[i].w) {
            pick = i;
            break;
        }
        r -= it[i].w;
    }
    if (pick == 0)
        return;
    lx_order_item_t x = it[pick];
    memmove(&it[1], &it[0], (size_t)pick * sizeof *it);
    it[0] = x;
}

void lx_order_priority(lx_order_item_t *it, int n, lx_rng_t *rng)
{
    for (int i = 0; i < n; i++)
        it[i].k2 = (uint64_t)(UINT32_MAX - it[i].w) << 16 | it[i].idx;
    lx_order_sort(it, n);
    for (int a = 0; a < n;) {
        int b = a + 1;
        while (b < n && it[b].k1 == it[a].k1)
            b++;
        lx_order_weighted_head(it + a, b - a, rng);
        a = b;
    }
}
