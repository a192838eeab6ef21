/* windows.h - the indexes of the minute and day windows that rate limits
 * count in (what Postgres keeps: 'm:<index>', 'd:<index>'), and the test
 * clock that pins them (LLMUX_TEST_RATE_CLOCK_MS). Owns one value, written
 * once at start-up before any worker runs and read-only afterwards. */
#ifndef LX_CORE_WINDOWS_H
#define LX_CORE_WINDOWS_H

#include <stdint.h>

#define LX_MINUTE_MS INT64_C(60000)
#define LX_DAY_MS    INT64_C(86400000)

/* Start-up only: every window index is then that of ms, whatever clock a
 * caller passes (tests). A negative ms restores the clock. */
void lx_windows_fix_clock(int64_t ms);
/* The index of the window of length len_ms holding now_ms (or the pinned
 * time); times before the epoch count as 0. */
uint32_t lx_window_index(int64_t now_ms, int64_t len_ms);

#endif
