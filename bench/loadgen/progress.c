/* progress.c - the live progress line (see progress.h). */
#include "progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

int lb_progress_init(lb_progress_t *p, bool on)
{
    p->on = on;
    p->last_us = 0;
    p->last_completed = 0;
    p->tmp = p->sum = NULL;
    if (!on)
        return 0;
    p->tmp = malloc(sizeof(*p->tmp));
    p->sum = malloc(sizeof(*p->sum));
    return p->tmp && p->sum ? 0 : -1;
}

void lb_progress_free(lb_progress_t *p)
{
    free(p->tmp);
    free(p->sum);
    p->tmp = p->sum = NULL;
}

void lb_progress_draw(lb_progress_t *p, lb_worker_t *ws, unsigned n, const lb_run_t *r,
                      uint64_t now)
{
    lb_pub_t *s = p->sum;
    char p99[32];
    double rps = 0, el;

    if (!p->on)
        return;
    memset(s, 0, sizeof(*s));
    lb_hist_init(&s->latency);
    for (unsigned i = 0; i < n; i++) {
        lb_worker_snapshot(&ws[i], p->tmp);
        s->started += p->tmp->started;
        s->completed += p->tmp->completed;
        s->ok += p->tmp->ok;
        s->errors += p->tmp->errors;
        s->inflight += p->tmp->inflight;
        s->backlogged += p->tmp->backlogged;
        lb_hist_merge(&s->latency, &p->tmp->latency);
    }
    if (p->last_us != 0 && now > p->last_us && s->completed >= p->last_completed)
        rps = (double)(s->completed - p->last_completed) * 1e6 / (double)(now - p->last_us);
    p->last_us = now;
    p->last_completed = s->completed;
    lb_fmt_us(p99, sizeof(p99), lb_hist_percentile(&s->latency, 99.0));
    el = (double)(now - r->t0_us) / 1e6;
    fprintf(stderr, "\r%s %6.1fs  requests %-9llu rps %-9.0f errors %-7llu p99 %-9s in flight %llu",
            now < r->measure_us ? "warm-up" : "running", el, (unsigned long long)s->completed, rps,
            (unsigned long long)s->errors, s->latency.count ? p99 : "-",
            (unsigned long long)s->inflight);
    if (r->open_loop)
        fprintf(stderr, "  backlogged %llu", (unsigned long long)s->backlogged);
    fputs("\033[K", stderr);
    fflush(stderr);
}

void lb_progress_clear(lb_progress_t *p)
{
    if (p->on && p->last_us != 0) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
}
