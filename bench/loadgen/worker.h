/* worker.h - one load thread: its own event_base (precise timers), its share
 * of the connections, the closed-loop or open-loop schedule, the run's end
 * (deadline, --requests, stop order) and its results. Its stats are written
 * only by its thread; a snapshot for the progress line is published under a
 * mutex on a 50 ms tick. */
#ifndef LB_WORKER_H
#define LB_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "conn.h"
#include "run.h"
#include "stats.h"

/* What the progress line reads. */
typedef struct {
    uint64_t started, completed, ok, errors, inflight, backlogged;
    lb_hist_t latency;
} lb_pub_t;

struct lb_worker {
    unsigned id;
    lb_run_t *run;
    struct event_base *base;
    struct event *tick_ev, *deadline_ev, *sched_ev, *ramp_ev;
    const struct timeval *timeout_tv; /* common timeout: --timeout */
    lb_conn_t *conns;
    unsigned nconns;
    lb_conn_t *idle;  /* open loop: free connections with a socket */
    lb_conn_t *spare; /* open loop: free connections without one */
    unsigned active;  /* connections busy or about to retry */
    bool no_more;     /* closed loop: no request may start any more */
    unsigned ramped;  /* closed loop: connections started so far */
    bool stopping;
    /* open loop: this thread's requests are k = 0, 1, ... at
     * t0 + offset + k * period; [sent, due) wait for a connection. */
    double period_us, offset_us;
    uint64_t due, sent, end, first_measured;
    lb_stats_t stats;
    uint64_t end_us; /* when this worker stopped */
    /* --ttfc-log: (start, ttfc) pairs in us, this thread's streams */
    uint64_t *ttfc_rec;
    size_t ttfc_n, ttfc_cap;
    int setup_rc;
    pthread_t thread;
    pthread_mutex_t pub_lock;
    lb_pub_t *pub;
};

/* Sets w up for nconns connections (the threads' share). 0 or -1. */
int lb_worker_init(lb_worker_t *w, lb_run_t *run, unsigned id, unsigned nconns);
/* Starts the thread; it waits at run->start before sending. */
int lb_worker_start(lb_worker_t *w);
void lb_worker_join(lb_worker_t *w);
void lb_worker_free(lb_worker_t *w);
/* --ttfc-log: notes a measured stream's first data event (its thread). */
void lb_worker_ttfc_note(lb_worker_t *w, uint64_t start_us, uint64_t ttfc_us);
/* Copies the published snapshot (any thread). */
void lb_worker_snapshot(lb_worker_t *w, lb_pub_t *out);

/* Called by a connection whose request just ended (any outcome) or whose retry
 * delay expired: start its next request, queue it as free, or finish. */
void lb_worker_next(lb_worker_t *w, lb_conn_t *c, bool connect_failed);

#endif
