/* hist.c - fixed-bucket latency histograms (hist.h). */
#include "obs/hist.h"

#include <string.h>

const int64_t lx_hist_bounds_us[LX_HIST_BOUNDS] = {
    50,     100,    250,    500,     1000,    2500,    5000,     10000,    25000,    50000,
    100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000, 30000000, 60000000,
};

/* The bounds in seconds as "%g" writes them (test/unit/obs checks they
 * agree), so that a scrape does not format them again for every series. */
const char *const lx_hist_bounds_text[LX_HIST_BOUNDS] = {
    "5e-05", "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
    "0.1",   "0.25",   "0.5",     "1",      "2.5",   "5",      "10",    "30",   "60",
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

/* name_bucket{labels,le="bound"} count, without printf. */
static void bucket(lx_buf_t *b, const char *name, size_t nl, const char *labels, size_t ll,
                   const char *le, uint64_t v)
{
    size_t bl = strlen(le);
    lx_buf_reserve(b, nl + ll + bl + 48);
    char *o = b->p + b->n;
    memcpy(o, name, nl);
    o += nl;
    memcpy(o, "_bucket{", 8);
    o += 8;
    memcpy(o, labels, ll);
    o += ll;
    if (ll)
        *o++ = ',';
    memcpy(o, "le=\"", 4);
    o += 4;
    memcpy(o, le, bl);
    o += bl;
    memcpy(o, "\"} ", 3);
    o += 3;
    b->n = (size_t)(o - b->p);
    lx_buf_append_uint(b, v);
    lx_buf_append_char(b, '\n');
}

void lx_hist_render(lx_buf_t *b, const char *name, const char *labels, const lx_hist_sum_t *s)
{
    size_t nl = strlen(name), ll = strlen(labels);
    uint64_t cum = 0;
    for (int i = 0; i < LX_HIST_BOUNDS; i++) {
        cum += s->n[i];
        bucket(b, name, nl, labels, ll, lx_hist_bounds_text[i], cum);
    }
    cum += s->n[LX_HIST_BOUNDS];
    bucket(b, name, nl, labels, ll, "+Inf", cum);
    if (labels[0]) {
        lx_buf_printf(b, "%s_sum{%s} %.6f\n%s_count{%s} %llu\n", name, labels,
                      (double)s->sum_us / 1e6, name, labels, (unsigned long long)cum);
    } else {
        lx_buf_printf(b, "%s_sum %.6f\n%s_count %llu\n", name, (double)s->sum_us / 1e6, name,
                      (unsigned long long)cum);
    }
}
