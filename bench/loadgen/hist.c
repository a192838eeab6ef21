/* hist.c - the log-linear microsecond histogram (see hist.h): bucket
 * arithmetic, recording, merging and percentiles. */
#include "hist.h"

#include <math.h>
#include <string.h>

void lb_hist_init(lb_hist_t *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

uint32_t lb_hist_index(uint64_t us)
{
    if (us < LB_HIST_SUB)
        return (uint32_t)us;
    if (us > LB_HIST_MAX_US)
        us = LB_HIST_MAX_US;
    /* e = how many bits above the 7-bit mantissa; us >> e is in [128, 256). */
    uint32_t e = (uint32_t)(63 - __builtin_clzll(us)) - LB_HIST_SUB_BITS;
    return LB_HIST_SUB * (e + 1u) + (uint32_t)((us >> e) - LB_HIST_SUB);
}

void lb_hist_bucket_range(uint32_t idx, uint64_t *lo, uint64_t *hi)
{
    if (idx < LB_HIST_SUB) {
        *lo = *hi = idx;
        return;
    }
    uint32_t e = idx / LB_HIST_SUB - 1u;
    uint64_t m = LB_HIST_SUB + idx % LB_HIST_SUB;
    *lo = m << e;
    *hi = ((m + 1u) << e) - 1u;
}

void lb_hist_add(lb_hist_t *h, uint64_t us)
{
    h->counts[lb_hist_index(us)]++;
    h->count++;
    h->sum += us;
    if (us < h->min)
        h->min = us;
    if (us > h->max)
        h->max = us;
}

void lb_hist_merge(lb_hist_t *dst, const lb_hist_t *src)
{
    if (src->count == 0)
        return;
    for (uint32_t i = 0; i < LB_HIST_LEN; i++)
        dst->counts[i] += src->counts[i];
    dst->count += src->count;
    dst->sum += src->sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t lb_hist_percentile(const lb_hist_t *h, double p)
{
    if (h->count == 0)
        return 0;
    if (p >= 100.0)
        return h->max;
    if (p < 0.0)
        p = 0.0;
    uint64_t want = (uint64_t)ceil(p / 100.0 * (double)h->count);
    if (want == 0)
        want = 1;
    uint64_t seen = 0;
    for (uint32_t i = 0; i < LB_HIST_LEN; i++) {
        seen += h->counts[i];
        if (seen >= want) {
            uint64_t lo, hi, v;
            lb_hist_bucket_range(i, &lo, &hi);
            v = lo + (hi - lo) / 2u;
            if (v < h->min)
                v = h->min;
            if (v > h->max)
                v = h->max;
            return v;
        }
    }
    return h->max;
}

double lb_hist_mean(const lb_hist_t *h)
{
    return h->count ? (double)h->sum / (double)h->count : 0.0;
}
