/* run.h - the state of one run shared by the main thread and the workers:
 * read-only configuration (set before the threads start) and the few atomics
 * they coordinate through (measured-request claims, the stop order, how many
 * workers have finished). */
#ifndef LB_RUN_H
#define LB_RUN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "opts.h"
#include "stream.h"
#include "target.h"

typedef struct {
    const lb_opts_t *opts;
    const lb_target_t *target;
    const lb_expect_t *expect; /* NULL: no --expect-chunks */
    bool open_loop;
    bool publish; /* workers publish progress snapshots */
    unsigned nthreads;
    /* Set by the main thread before the start barrier, read-only after. */
    uint64_t t0_us;       /* run start */
    uint64_t measure_us;  /* t0 + warm-up: requests started from here count */
    uint64_t deadline_us; /* measure + duration: the run ends */
    pthread_barrier_t start;
    atomic_uint_fast64_t claimed; /* closed loop with --requests: measured claims */
    atomic_bool stop;             /* end now (SIGINT) */
    atomic_uint done_workers;
} lb_run_t;

#endif
