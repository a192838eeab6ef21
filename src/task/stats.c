/* stats.c - a runner's counters for /metrics (task.h lx_task_stats_t):
 * written by the runner's loop only, read relaxed by any thread. Owns
 * nothing. */
#include "task/internal.h"

#define RELAXED memory_order_relaxed

const int lx_task_poll_bucket_ms[LX_TASK_POLL_BUCKETS] = {5,    25,   100,   250,
                                                          1000, 2500, 10000, 60000};

void lx_task_stats_held(lx_task_stats_t *s, int ix, lx_task_status_t st, int64_t d)
{
    if (ix >= 0 && ix < LX_TASK_TYPES_MAX && (unsigned)st < LX_TASK__COUNT)
        atomic_fetch_add_explicit(&s->held[ix][st], d, RELAXED);
}

void lx_task_stats_finished(lx_task_stats_t *s, int ix, lx_task_status_t st)
{
    if (ix >= 0 && ix < LX_TASK_TYPES_MAX && (unsigned)st < LX_TASK__COUNT)
        atomic_fetch_add_explicit(&s->finished[ix][st], 1, RELAXED);
}

void lx_task_stats_poll(lx_task_stats_t *s, int ix, int64_t us, bool retry)
{
    if (ix < 0 || ix >= LX_TASK_TYPES_MAX)
        return;
    if (us < 0)
        us = 0;
    atomic_fetch_add_explicit(&s->polls[ix], 1, RELAXED);
    if (retry)
        atomic_fetch_add_explicit(&s->poll_retries[ix], 1, RELAXED);
    atomic_fetch_add_explicit(&s->poll_us_sum[ix], (uint64_t)us, RELAXED);
    for (int b = 0; b < LX_TASK_POLL_BUCKETS; b++)
        if (us <= (int64_t)lx_task_poll_bucket_ms[b] * 1000)
            atomic_fetch_add_explicit(&s->poll_le[ix][b], 1, RELAXED);
}
