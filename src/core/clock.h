/* clock.h - monotonic and wall clocks in the units llmux uses. Owns
 * nothing: inline reads of clock_gettime, safe from any thread. */
#ifndef LX_CORE_CLOCK_H
#define LX_CORE_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t lx_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline int64_t lx_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
