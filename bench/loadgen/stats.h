/* stats.h - the results one worker thread collects (only that thread writes
 * them) and their merge into the run's totals after the threads end: the
 * three histograms, outcome and error counters, stream and fidelity counters,
 * open-loop backlog. */
#ifndef LB_STATS_H
#define LB_STATS_H

#include <stdint.h>

#include "hist.h"

/* Why a measured request did not succeed; one kind per failed request. */
typedef enum {
    LB_ERR_CONNECT,  /* connect() failed or was refused */
    LB_ERR_TIMEOUT,  /* no complete response within --timeout */
    LB_ERR_STATUS,   /* HTTP status outside 2xx (by code in status[]) */
    LB_ERR_CLOSED,   /* connection closed or reset before a complete non-stream response */
    LB_ERR_BROKEN,   /* SSE body cut before its HTTP end */
    LB_ERR_PROTOCOL, /* unparsable HTTP (or an oversized SSE event) */
    LB_ERR_FIDELITY, /* a stream that ended but lacked [DONE]/message_stop or had wrong text */
    LB_ERR__N
} lb_err_t;

extern const char *const lb_err_names[LB_ERR__N];

typedef struct {
    lb_hist_t latency;  /* successful requests: scheduled/sent -> last byte */
    lb_hist_t ttfc;     /* streams: scheduled/sent -> first data event */
    lb_hist_t gap;      /* streams: between consecutive data events */
    uint64_t started;   /* measured requests sent */
    uint64_t completed; /* full HTTP response received (any status) */
    uint64_t ok;        /* 2xx and (for streams) a good stream */
    uint64_t errors[LB_ERR__N];
    uint64_t status[600]; /* by code, non-2xx only */
    uint64_t streams;     /* complete 2xx SSE responses */
    uint64_t chunks_sum, chunks_min, chunks_max;
    uint64_t events_sum;
    uint64_t fid_ok, fid_missing, fid_reorder, fid_corrupt, fid_no_done, error_events;
    uint64_t fid_not_stream; /* --expect-chunks but a 2xx reply that was not SSE */
    uint64_t backlogged;     /* open loop: found no free connection at their time */
    uint64_t backlog_max;    /* open loop: longest queue of waiting requests */
    uint64_t unsent;         /* open loop: still queued when the run ended */
    uint64_t unfinished;     /* in flight when the run ended (not errors) */
    uint64_t resent;         /* sent again after a stale keep-alive connection closed */
    uint64_t bytes_in;       /* response bytes read for measured requests */
    uint64_t connects;       /* TCP connects attempted */
} lb_stats_t;

void lb_stats_init(lb_stats_t *s);
void lb_stats_merge(lb_stats_t *dst, const lb_stats_t *src);
uint64_t lb_stats_errors(const lb_stats_t *s);

#endif
