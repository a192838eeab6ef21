/* hist.h - a latency histogram with fixed buckets from 50 us to 60 s,
 * written by one thread and read by any (the /metrics scrape).
 *
 * Owns nothing beyond its own fields. One writer: lx_hist_observe is called
 * only by the thread that owns the histogram (a worker's loop); it uses
 * relaxed atomic loads and stores, no read-modify-write, no lock. Readers
 * (lx_hist_add_to) may run on any thread at any time and see each field
 * whole; a reading taken during a write may count the sample in its bucket
 * before its sum (never a torn value). */
#ifndef LX_OBS_HIST_H
#define LX_OBS_HIST_H

#include "core/buf.h"

#include <stdatomic.h>
#include <stdint.h>

#define LX_HIST_BOUNDS 19 /* finite bucket bounds; one more bucket for +Inf */

/* The bucket upper bounds in microseconds: 50us .. 60s. */
extern const int64_t lx_hist_bounds_us[LX_HIST_BOUNDS];
/* The same in seconds, as text (the `le` label values). */
extern const char *const lx_hist_bounds_text[LX_HIST_BOUNDS];

typedef struct {
    _Atomic uint64_t n[LX_HIST_BOUNDS + 1]; /* samples per bucket (not cumulative) */
    _Atomic uint64_t sum_us;
} lx_hist_t;

/* A plain (merged) copy, as the scrape sums it. */
typedef struct {
    uint64_t n[LX_HIST_BOUNDS + 1];
    uint64_t sum_us;
} lx_hist_sum_t;

/* The bucket of a sample: the first bound >= us (LX_HIST_BOUNDS: +Inf).
 * Negative samples count as 0. */
int lx_hist_bucket(int64_t us);
/* One sample (owner thread only). h may be NULL. */
void lx_hist_observe(lx_hist_t *h, int64_t us);
/* Adds h's counts into acc (any thread). */
void lx_hist_add_to(const lx_hist_t *h, lx_hist_sum_t *acc);
/* Renders one series as Prometheus text in seconds: name_bucket{labels,le}
 * cumulative, name_sum, name_count. labels: the series' rendered labels
 * (`a="x",b="y"`), "" for none. */
void lx_hist_render(lx_buf_t *b, const char *name, const char *labels, const lx_hist_sum_t *s);

#endif
