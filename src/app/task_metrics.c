/* task_metrics.c - the task system's part of /metrics: every worker's
 * runner counters (task.h lx_task_stats_t, read relaxed), by type. Owns
 * nothing; writes into the caller's buffer. */
#include "app/app.h"
#include "core/buf.h"
#include "task/task.h"

static uint64_t ld(const _Atomic uint64_t *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

void lx_app_task_metrics(lx_app_t *app, lx_buf_t *b)
{
    int ntypes = lx_task_type_count();
    if (ntypes > LX_TASK_TYPES_MAX)
        ntypes = LX_TASK_TYPES_MAX;
    lx_buf_printf(b, "# HELP llmux_tasks_active Tasks this instance holds (leased, in memory), "
                     "by type and status.\n# TYPE llmux_tasks_active gauge\n");
    for (int ty = 0; ty < ntypes; ty++)
        for (int st = 0; st < LX_TASK__COUNT; st++) {
            if (lx_task_status_terminal((lx_task_status_t)st) || st == LX_TASK_QUEUED)
                continue;
            long long n = 0;
            for (int i = 0; i < app->nworkers; i++) {
                const lx_task_stats_t *s = lx_task_runner_stats(app->workers[i].tasks);
                if (s)
                    n += atomic_load_explicit(&s->held[ty][st], memory_order_relaxed);
            }
            lx_buf_printf(b, "llmux_tasks_active{type=\"%s\",status=\"%s\"} %lld\n",
                          lx_task_type_at(ty), lx_task_status_name((lx_task_status_t)st), n);
        }
    lx_buf_printf(b, "# HELP llmux_tasks_finished_total Tasks this instance brought to a "
                     "terminal status, by type and status.\n"
                     "# TYPE llmux_tasks_finished_total counter\n");
    for (int ty = 0; ty < ntypes; ty++)
        for (int st = 0; st < LX_TASK__COUNT; st++) {
            if (!lx_task_status_terminal((lx_task_status_t)st))
                continue;
            uint64_t n = 0;
            for (int i = 0; i < app->nworkers; i++) {
                const lx_task_stats_t *s = lx_task_runner_stats(app->workers[i].tasks);
                if (s)
                    n += ld(&s->finished[ty][st]);
            }
            lx_buf_printf(b, "llmux_tasks_finished_total{type=\"%s\",status=\"%s\"} %llu\n",
                          lx_task_type_at(ty), lx_task_status_name((lx_task_status_t)st),
                          (unsigned long long)n);
        }
    lx_buf_printf(b, "# HELP llmux_task_polls_total Provider polls answered, by type (result: "
                     "answered, or retry when the provider did not answer).\n"
                     "# TYPE llmux_task_polls_total counter\n");
    for (int ty = 0; ty < ntypes; ty++) {
        uint64_t n = 0, r = 0;
        for (int i = 0; i < app->nworkers; i++) {
            const lx_task_stats_t *s = lx_task_runner_stats(app->workers[i].tasks);
            if (s) {
                n += ld(&s->polls[ty]);
                r += ld(&s->poll_retries[ty]);
            }
        }
        lx_buf_printf(b, "llmux_task_polls_total{type=\"%s\",result=\"answered\"} %llu\n",
                      lx_task_type_at(ty), (unsigned long long)(n - r));
        lx_buf_printf(b, "llmux_task_polls_total{type=\"%s\",result=\"retry\"} %llu\n",
                      lx_task_type_at(ty), (unsigned long long)r);
    }
    lx_buf_printf(b, "# HELP llmux_task_poll_seconds Time from starting a provider poll to its "
                     "answer, by type.\n# TYPE llmux_task_poll_seconds histogram\n");
    for (int ty = 0; ty < ntypes; ty++) {
        uint64_t le[LX_TASK_POLL_BUCKETS] = {0}, n = 0, us = 0;
        for (int i = 0; i < app->nworkers; i++) {
            const lx_task_stats_t *s = lx_task_runner_stats(app->workers[i].tasks);
            if (s == NULL)
                continue;
            for (int k = 0; k < LX_TASK_POLL_BUCKETS; k++)
                le[k] += ld(&s->poll_le[ty][k]);
            n += ld(&s->polls[ty]);
            us += ld(&s->poll_us_sum[ty]);
        }
        const char *t = lx_task_type_at(ty);
        for (int k = 0; k < LX_TASK_POLL_BUCKETS; k++)
            lx_buf_printf(b, "llmux_task_poll_seconds_bucket{type=\"%s\",le=\"%g\"} %llu\n", t,
                          lx_task_poll_bucket_ms[k] / 1000.0, (unsigned long long)le[k]);
        lx_buf_printf(b, "llmux_task_poll_seconds_bucket{type=\"%s\",le=\"+Inf\"} %llu\n", t,
                      (unsigned long long)n);
        lx_buf_printf(b, "llmux_task_poll_seconds_sum{type=\"%s\"} %.6f\n", t, us / 1e6);
        lx_buf_printf(b, "llmux_task_poll_seconds_count{type=\"%s\"} %llu\n", t,
                      (unsigned long long)n);
    }
}
