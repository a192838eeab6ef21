/* stats.c - per-worker result counters: names, init, merge (see stats.h). */
#include "stats.h"

#include <string.h>

const char *const lb_err_names[LB_ERR__N] = {
    [LB_ERR_CONNECT] = "connect",      [LB_ERR_TIMEOUT] = "timeout",
    [LB_ERR_STATUS] = "http_status",   [LB_ERR_CLOSED] = "closed",
    [LB_ERR_BROKEN] = "broken_stream", [LB_ERR_PROTOCOL] = "protocol",
    [LB_ERR_FIDELITY] = "fidelity",
};

void lb_stats_init(lb_stats_t *s)
{
    memset(s, 0, sizeof(*s));
    lb_hist_init(&s->latency);
    lb_hist_init(&s->ttfc);
    lb_hist_init(&s->gap);
    s->chunks_min = UINT64_MAX;
}

void lb_stats_merge(lb_stats_t *d, const lb_stats_t *s)
{
    lb_hist_merge(&d->latency, &s->latency);
    lb_hist_merge(&d->ttfc, &s->ttfc);
    lb_hist_merge(&d->gap, &s->gap);
    d->started += s->started;
    d->completed += s->completed;
    d->ok += s->ok;
    for (int i = 0; i < LB_ERR__N; i++)
        d->errors[i] += s->errors[i];
    for (int i = 0; i < 600; i++)
        d->status[i] += s->status[i];
    d->streams += s->streams;
    d->chunks_sum += s->chunks_sum;
    if (s->chunks_min < d->chunks_min)
        d->chunks_min = s->chunks_min;
    if (s->chunks_max > d->chunks_max)
        d->chunks_max = s->chunks_max;
    d->events_sum += s->events_sum;
    d->fid_ok += s->fid_ok;
    d->fid_missing += s->fid_missing;
    d->fid_reorder += s->fid_reorder;
    d->fid_corrupt += s->fid_corrupt;
    d->fid_no_done += s->fid_no_done;
    d->error_events += s->error_events;
    d->fid_not_stream += s->fid_not_stream;
    d->backlogged += s->backlogged;
    d->backlog_max += s->backlog_max; /* per-thread queues: the sum bounds the total */
    d->unsent += s->unsent;
    d->unfinished += s->unfinished;
    d->resent += s->resent;
    d->bytes_in += s->bytes_in;
    d->connects += s->connects;
}

uint64_t lb_stats_errors(const lb_stats_t *s)
{
    uint64_t n = 0;

    for (int i = 0; i < LB_ERR__N; i++)
        n += s->errors[i];
    return n;
}
