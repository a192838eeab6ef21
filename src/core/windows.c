/* windows.c - window indexes and their test clock (windows.h). */
#include "core/windows.h"

static int64_t fixed_ms = -1; /* -1: windows follow the clock passed in */

void lx_windows_fix_clock(int64_t ms)
{
    fixed_ms = ms < 0 ? -1 : ms;
}

uint32_t lx_window_index(int64_t now_ms, int64_t len_ms)
{
    if (fixed_ms >= 0)
        now_ms = fixed_ms;
    return (uint32_t)((now_ms < 0 ? 0 : now_ms) / len_ms);
}
