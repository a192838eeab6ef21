/* backoff.c - the poll delay curve with jitter (backoff.h). */
#include "task/backoff.h"

int lx_task_backoff_base_ms(const lx_task_conf_t *c, int n, int hint_ms)
{
    int lo = c->poll_min_ms > 0 ? c->poll_min_ms : 1;
    int hi = c->poll_max_ms > lo ? c->poll_max_ms : lo;
    if (hint_ms > 0)
        return hint_ms < lo ? lo : hint_ms > hi ? hi : hint_ms;
    double d = lo;
    for (int i = 0; i < n && d < hi; i++)
        d *= 1.5;
    return d > hi ? hi : (int)d;
}

int lx_task_backoff_ms(const lx_task_conf_t *c, int n, int hint_ms, uint32_t rnd)
{
    int base = lx_task_backoff_base_ms(c, n, hint_ms);
    /* factor in [0.8, 1.2] */
    double f = 0.8 + 0.4 * ((double)rnd / (double)UINT32_MAX);
    int d = (int)(base * f);
    return d < 1 ? 1 : d;
}
