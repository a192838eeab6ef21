/* clock.h - the one clock of llmux-bench: CLOCK_MONOTONIC in microseconds.
 * Every timestamp (scheduled, sent, first event, done) uses it, so any two
 * can be subtracted. */
#ifndef LB_CLOCK_H
#define LB_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t lb_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

#endif
