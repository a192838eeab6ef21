/* hist.h - an HdrHistogram-style log-linear histogram of microsecond values.
 *
 * Range 1 us .. 60 s (larger values are clamped to 60 s, smaller to 1 us but
 * min/max keep the exact extremes). Values below 128 are exact; above, each
 * power of two is cut into 128 linear buckets, so a bucket is at most 1/128 of
 * its value wide and a reported percentile (the bucket's midpoint) is within
 * 0.4% of a recorded value. Fixed size (about 20 KiB), no allocation, and
 * histograms merge by adding counts. Not thread-safe: one owner at a time. */
#ifndef LB_HIST_H
#define LB_HIST_H

#include <stdint.h>

#define LB_HIST_SUB_BITS 7
#define LB_HIST_SUB      128u /* 1 << LB_HIST_SUB_BITS */
#define LB_HIST_MAX_US   60000000u
#define LB_HIST_BUCKETS  19u /* exact range + 18 halvings cover 2^26 > 60e6 */
#define LB_HIST_LEN      (LB_HIST_SUB * (LB_HIST_BUCKETS + 1u))

typedef struct {
    uint64_t count;
    uint64_t sum; /* of the recorded (unclamped) values, for the mean */
    uint64_t min; /* exact; UINT64_MAX when empty */
    uint64_t max; /* exact */
    uint64_t counts[LB_HIST_LEN];
} lb_hist_t;

/* Empties h. */
void lb_hist_init(lb_hist_t *h);
/* Records one value in microseconds. */
void lb_hist_add(lb_hist_t *h, uint64_t us);
/* Adds every count of src into dst. */
void lb_hist_merge(lb_hist_t *dst, const lb_hist_t *src);
/* The value at percentile p (0..100): the smallest recorded bucket whose
 * cumulative count reaches ceil(p% of count), reported as its midpoint and
 * kept within [min, max]. 0 when empty. p >= 100 gives the exact max. */
uint64_t lb_hist_percentile(const lb_hist_t *h, double p);
/* Mean of the recorded values, 0 when empty. */
double lb_hist_mean(const lb_hist_t *h);

/* Bucket index of a value and the range [lo, hi] a bucket covers (exposed
 * for the self-test). */
uint32_t lb_hist_index(uint64_t us);
void lb_hist_bucket_range(uint32_t idx, uint64_t *lo, uint64_t *hi);

#endif
