/* progress.h - the live one-line progress display on stderr (only when it is
 * a TTY): elapsed time, measured requests, current req/s, errors, p99 so far
 * and connections in flight, redrawn in place with \r about 4 times a second
 * from the workers' published snapshots. */
#ifndef LB_PROGRESS_H
#define LB_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

#include "worker.h"

typedef struct {
    bool on;
    uint64_t last_us, last_completed;
    lb_pub_t *tmp, *sum; /* scratch: one snapshot, the merged view */
} lb_progress_t;

/* on: the user allows it and stderr is a TTY. -1 if out of memory. */
int lb_progress_init(lb_progress_t *p, bool on);
void lb_progress_draw(lb_progress_t *p, lb_worker_t *ws, unsigned n, const lb_run_t *r,
                      uint64_t now);
/* Erases the line (before the summary). */
void lb_progress_clear(lb_progress_t *p);
void lb_progress_free(lb_progress_t *p);

#endif
