/* hist.c - fixed-bucket latency histograms (hist.h). */
#include "obs/hist.h"

const int64_t lx_hist_bounds_us[LX_HIST_BOUNDS] = {
    50,     100,    250,    500,     1000,    2500,    5000,     10000,    25000,    50000,
    100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000, 30000000, 60000000,
};

int lx_hist_bucket(int64_t us)
{
    int lo = 0, hi = LX_HIST_BOUNDS; /* the first bound >= us, in [lo, hi] */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (lx_hist_bounds_us[mid] >= us)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* One writer: a load and a store, no locked instruction. */
static inline void bump(_Atomic uint64_t *v, uint64_t d)
{
    atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) + d,
                          memory_order_relaxed);
}

void lx_hist_observe(lx_hist_t *h, int64_t us)
{
    if (h == NULL)
        return;
    if (us < 0)
        us = 0;
    bump(&h->n[lx_hist_bucket(us)], 1);
    bump(&h->sum_us, (uint64_t)us);
}

void lx_hist_add_to(const lx_hist_t *h, lx_hist_sum_t *acc)
{
    for (int i = 0; i <= LX_HIST_BOUNDS; i++)
        acc->n[i] += atomic_load_explicit(&h->n[i], memory_order_relaxed);
    acc->sum_us += atomic_load_explicit(&h->sum_us, memory_order_relaxed);
}

void lx_hist_render(lx_buf_t *b, const char *name, const char *labels, const lx_hist_sum_t *s)
{
    const char *sep = labels[0] ? "," : "";
    uint64_t cum = 0;
    for (int i = 0; i < LX_HIST_BOUNDS; i++) {
        cum += s->n[i];
        lx_buf_printf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep,
                      (double)lx_hist_bounds_us[i] / 1e6, (unsigned long long)cum);
    }
    cum += s->n[LX_HIST_BOUNDS];
    lx_buf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
                  (unsigned long long)cum);
    if (labels[0]) {
        lx_buf_printf(b, "%s_sum{%s} %.6f\n%s_count{%s} %llu\n", name, labels,
                      (double)s->sum_us / 1e6, name, labels, (unsigned long long)cum);
    } else {
        lx_buf_printf(b, "%s_sum %.6f\n%s_count %llu\n", name, (double)s->sum_us / 1e6, name,
                      (unsigned long long)cum);
    }
}
